//! Terraform's expression language over [`Val`]: literals, references,
//! operators, conditionals, `for` expressions, splats, templates (with
//! directives and strip markers), function calls and `dynamic` blocks.
//!
//! Two kinds of "not a value": an [`Err`] is an evaluation error Terraform
//! would report (a missing attribute, a type error); `try` and `can` catch
//! it, and an argument that errors becomes unknown. A [`Val::Unknown`] is a
//! value only known after `apply`; it propagates: an operation on it gives an
//! unknown carrying the operation's source text, while a plain reference
//! passes the referenced unknown through unchanged.

use super::{label, Ctx, Key, ResInst};
use crate::functions::{self, Files};
use crate::value::{number_text, Val};
use hcl::edit::expr::{
    BinaryOperator, Expression, ForExpr, FuncCall, ObjectKey, Traversal, TraversalOperator,
    UnaryOperator,
};
use hcl::edit::structure::{Block, Body, Structure};
use hcl::edit::template::{Directive, Element, Template};
use hcl::edit::Span;
use std::collections::BTreeMap;

/// A value, or the reason Terraform would reject the expression.
pub(crate) type EvalResult = Result<Val, String>;

/// Where an expression is evaluated: the module instance, the source text
/// its spans point into, and the names bound around it (`each`, `count`,
/// `for` variables, `dynamic` iterators), innermost last.
pub(crate) struct Env<'e, 'a> {
    ctx: &'e Ctx<'a>,
    inst: usize,
    src: &'e str,
    binds: Vec<(String, Val)>,
    parent: Option<&'e Env<'e, 'a>>,
}

impl<'e, 'a> Env<'e, 'a> {
    /// The top-level environment of module instance `inst`, for
    /// expressions of file `file`.
    pub(crate) fn new(ctx: &'e Ctx<'a>, inst: usize, file: usize) -> Self {
        Self::with_src(ctx, inst, &ctx.files[file].text)
    }

    /// The top-level environment for expressions parsed from `src`.
    pub(crate) fn with_src(ctx: &'e Ctx<'a>, inst: usize, src: &'e str) -> Self {
        Env {
            ctx,
            inst,
            src,
            binds: Vec::new(),
            parent: None,
        }
    }

    /// This environment with `binds` added.
    pub(crate) fn with(&self, binds: Vec<(String, Val)>) -> Env<'_, 'a> {
        Env {
            ctx: self.ctx,
            inst: self.inst,
            src: self.src,
            binds,
            parent: Some(self),
        }
    }

    fn bound(&self, name: &str) -> Option<&Val> {
        self.binds
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v)
            .or_else(|| self.parent.and_then(|p| p.bound(name)))
    }

    /// The source text of `e` (trimmed). hcl-edit leaves some inner
    /// expressions (the left operand of an operator) without a span: those
    /// are printed back.
    pub(crate) fn text(&self, e: &Expression) -> String {
        e.span()
            .and_then(|s| self.src.get(s))
            .map_or_else(|| e.to_string(), str::to_string)
            .trim()
            .to_string()
    }

    fn unknown(&self, e: &Expression) -> Val {
        Val::unknown(self.text(e))
    }

    /// The value of `e`; an error makes it unknown (with `e`'s text).
    pub(crate) fn eval_or_unknown(&self, e: &Expression) -> Val {
        self.eval(e).unwrap_or_else(|_| self.unknown(e))
    }

    /// The value of `e`.
    pub(crate) fn eval(&self, e: &Expression) -> EvalResult {
        match e {
            Expression::Null(_) => Ok(Val::Null),
            Expression::Bool(b) => Ok(Val::Bool(*b.value())),
            Expression::Number(n) => n
                .value()
                .as_f64()
                .map(Val::Number)
                .ok_or_else(|| format!("number out of range: {}", self.text(e))),
            Expression::String(s) => Ok(Val::String(s.value().clone())),
            Expression::Array(items) => items
                .iter()
                .map(|i| self.eval(i))
                .collect::<Result<Vec<_>, _>>()
                .map(Val::List),
            Expression::Object(obj) => {
                let mut m = BTreeMap::new();
                for (k, v) in obj.iter() {
                    let key = match k {
                        ObjectKey::Ident(i) => i.as_str().to_string(),
                        ObjectKey::Expression(ke) => match self.eval(ke)? {
                            Val::Unknown(_) => return Ok(self.unknown(e)),
                            other => other.to_display().ok_or_else(|| {
                                format!(
                                    "object key {} is a {}, not a string",
                                    self.text(ke),
                                    other.type_name()
                                )
                            })?,
                        },
                    };
                    m.insert(key, self.eval(v.expr())?);
                }
                Ok(Val::Map(m))
            }
            Expression::StringTemplate(t) => self.template(t, e),
            Expression::HeredocTemplate(h) => self.template(&h.template, e),
            Expression::Parenthesis(p) => self.eval(p.inner()),
            Expression::Variable(v) => match self.bound(v.as_str()) {
                Some(val) => Ok(val.clone()),
                None => Err(format!("unknown variable `{}`", v.as_str())),
            },
            Expression::Conditional(c) => match self.eval(&c.cond_expr)? {
                Val::Unknown(_) => Ok(self.unknown(e)),
                cond => {
                    if to_bool(&cond, &self.text(&c.cond_expr))? {
                        self.eval(&c.true_expr)
                    } else {
                        self.eval(&c.false_expr)
                    }
                }
            },
            Expression::FuncCall(f) => self.call(f, e),
            Expression::Traversal(t) => self.traversal(t, e),
            Expression::UnaryOp(op) => match self.eval(&op.expr)? {
                Val::Unknown(_) => Ok(self.unknown(e)),
                v => match op.operator.value() {
                    UnaryOperator::Neg => Ok(Val::Number(-to_number(&v)?)),
                    UnaryOperator::Not => Ok(Val::Bool(!to_bool(&v, &self.text(&op.expr))?)),
                },
            },
            Expression::BinaryOp(_) => {
                // hcl-edit nests operator chains to the right whatever the
                // operators; re-associate them by Terraform's precedence.
                let mut operands = Vec::new();
                let mut operators = Vec::new();
                flatten(e, &mut operands, &mut operators);
                let mut pos = 0;
                let tree = climb(&operands, &operators, &mut pos, 0);
                self.eval_op(&tree, e)
            }
            Expression::ForExpr(f) => self.for_expr(f, e),
        }
    }

    /// Evaluates an operator tree of the chain `whole`. An unknown
    /// operand makes the chain unknown (named by its text): no operator
    /// turns an unknown back into a known value except the short-circuits.
    fn eval_op(&self, node: &OpTree<'_>, whole: &Expression) -> EvalResult {
        let (op, lhs, rhs) = match node {
            OpTree::Leaf(e) => return self.eval(e),
            OpTree::Op(op, lhs, rhs) => (*op, lhs, rhs),
        };
        let l = self.eval_op(lhs, whole)?;
        // Short-circuit, as Terraform does: a known `false &&` or `true ||`
        // decides whatever the other side is.
        match (op, &l) {
            (BinaryOperator::And, Val::Bool(false)) => return Ok(Val::Bool(false)),
            (BinaryOperator::Or, Val::Bool(true)) => return Ok(Val::Bool(true)),
            _ => {}
        }
        let r = self.eval_op(rhs, whole)?;
        let text = || self.text(whole);
        binary(op, &l, &r, text).map(|v| v.unwrap_or_else(|| Val::unknown(text())))
    }

    fn for_expr(&self, f: &ForExpr, whole: &Expression) -> EvalResult {
        let coll = self.eval(&f.intro.collection_expr)?;
        let items = match iter_items(&coll) {
            Ok(Some(items)) => items,
            Ok(None) => return Ok(self.unknown(whole)),
            Err(t) => {
                return Err(format!(
                    "a for expression needs a list, set or map, not a {t}: {}",
                    self.text(&f.intro.collection_expr)
                ))
            }
        };
        let mut list = Vec::new();
        let mut map: BTreeMap<String, Val> = BTreeMap::new();
        for (k, v) in items {
            let mut binds = vec![(f.intro.value_var.as_str().to_string(), v)];
            if let Some(kv) = &f.intro.key_var {
                binds.push((kv.as_str().to_string(), k));
            }
            let env = self.with(binds);
            if let Some(cond) = &f.cond {
                match env.eval(&cond.expr)? {
                    Val::Unknown(_) => return Ok(self.unknown(whole)),
                    c => {
                        if !to_bool(&c, &self.text(&cond.expr))? {
                            continue;
                        }
                    }
                }
            }
            let value = env.eval(&f.value_expr)?;
            match &f.key_expr {
                None => list.push(value),
                Some(ke) => {
                    let key = match env.eval(ke)? {
                        Val::Unknown(_) => return Ok(self.unknown(whole)),
                        k => k.to_display().ok_or_else(|| {
                            format!(
                                "for expression key must be a string, not a {}",
                                k.type_name()
                            )
                        })?,
                    };
                    if f.grouping {
                        if let Val::List(group) =
                            map.entry(key).or_insert_with(|| Val::List(Vec::new()))
                        {
                            group.push(value);
                        }
                    } else if map.insert(key.clone(), value).is_some() {
                        return Err(format!(
                            "duplicate key {key:?} in for expression (use `...` to group)"
                        ));
                    }
                }
            }
        }
        Ok(if f.key_expr.is_some() {
            Val::Map(map)
        } else {
            Val::List(list)
        })
    }

    fn call(&self, f: &FuncCall, whole: &Expression) -> EvalResult {
        if !f.name.namespace.is_empty() {
            return Ok(self.unknown(whole));
        }
        let name = f.name.name.as_str();
        match name {
            "try" => {
                for arg in f.args.iter() {
                    match self.eval(arg) {
                        Ok(Val::Unknown(_)) => return Ok(self.unknown(whole)),
                        Ok(v) => return Ok(v),
                        Err(_) => {}
                    }
                }
                return Err(format!(
                    "no argument of {} could be evaluated",
                    self.text(whole)
                ));
            }
            "can" => {
                return match f.args.iter().next().map(|a| self.eval(a)) {
                    Some(Ok(Val::Unknown(_))) => Ok(self.unknown(whole)),
                    Some(Ok(_)) => Ok(Val::Bool(true)),
                    Some(Err(_)) => Ok(Val::Bool(false)),
                    None => Err("can() needs one argument".into()),
                }
            }
            _ => {}
        }
        let mut args = f
            .args
            .iter()
            .map(|a| self.eval(a))
            .collect::<Result<Vec<_>, _>>()?;
        if f.args.expand_final() {
            match args.pop() {
                Some(Val::List(items)) => args.extend(items),
                Some(Val::Unknown(_)) => return Ok(self.unknown(whole)),
                Some(other) => {
                    return Err(format!(
                        "the final argument expanded with `...` must be a list, not a {}",
                        other.type_name()
                    ))
                }
                None => {}
            }
        }
        let files = ModuleFiles { env: self };
        Ok(match functions::call(name, &args, &files) {
            Ok(Val::Unknown(u)) if u.expr.is_empty() => self.unknown(whole),
            Ok(v) => v,
            Err(_) => self.unknown(whole),
        })
    }

    fn template(&self, t: &Template, whole: &Expression) -> EvalResult {
        let elements: Vec<&Element> = t.iter().collect();
        if let [Element::Interpolation(i)] = elements.as_slice() {
            return self.eval(&i.expr);
        }
        let mut out = String::new();
        Ok(if self.render(t, false, false, &mut out)? {
            Val::String(out)
        } else {
            self.unknown(whole)
        })
    }

    /// Renders a template into `out`; `Ok(false)` when a part is unknown.
    /// `lead`/`trail`: strip markers of the directive around it.
    fn render(
        &self,
        t: &Template,
        lead: bool,
        trail: bool,
        out: &mut String,
    ) -> Result<bool, String> {
        let elements: Vec<&Element> = t.iter().collect();
        for (i, el) in elements.iter().enumerate() {
            match el {
                Element::Literal(lit) => {
                    let mut s: &str = lit.value();
                    let strip_start = if i == 0 {
                        lead
                    } else {
                        strip_of(elements[i - 1]).1
                    };
                    let strip_end = match elements.get(i + 1) {
                        None => trail,
                        Some(next) => strip_of(next).0,
                    };
                    if strip_start {
                        s = trim_start_line(s);
                    }
                    if strip_end {
                        s = trim_end_line(s);
                    }
                    out.push_str(s);
                }
                Element::Interpolation(interp) => match self.eval(&interp.expr)? {
                    Val::Unknown(_) => return Ok(false),
                    v => match v.to_display() {
                        Some(s) => out.push_str(&s),
                        None if v.is_known() && !v.is_null() => {
                            return Err(format!(
                                "cannot include a {} in a template: {}",
                                v.type_name(),
                                self.text(&interp.expr)
                            ))
                        }
                        None if v.is_null() => {
                            return Err(format!(
                                "cannot include null in a template: {}",
                                self.text(&interp.expr)
                            ))
                        }
                        None => return Ok(false),
                    },
                },
                Element::Directive(Directive::If(d)) => {
                    let cond = match self.eval(&d.if_expr.cond_expr)? {
                        Val::Unknown(_) => return Ok(false),
                        c => to_bool(&c, &self.text(&d.if_expr.cond_expr))?,
                    };
                    let known = if cond {
                        let trail = match &d.else_expr {
                            Some(e) => e.strip.strip_start(),
                            None => d.endif_expr.strip.strip_start(),
                        };
                        self.render(&d.if_expr.template, d.if_expr.strip.strip_end(), trail, out)?
                    } else if let Some(e) = &d.else_expr {
                        self.render(
                            &e.template,
                            e.strip.strip_end(),
                            d.endif_expr.strip.strip_start(),
                            out,
                        )?
                    } else {
                        true
                    };
                    if !known {
                        return Ok(false);
                    }
                }
                Element::Directive(Directive::For(d)) => {
                    let f = &d.for_expr;
                    let coll = self.eval(&f.collection_expr)?;
                    let items = match iter_items(&coll) {
                        Ok(Some(items)) => items,
                        Ok(None) => return Ok(false),
                        Err(t) => {
                            return Err(format!(
                                "a template for directive needs a collection, not a {t}"
                            ))
                        }
                    };
                    for (k, v) in items {
                        let mut binds = vec![(f.value_var.as_str().to_string(), v)];
                        if let Some(kv) = &f.key_var {
                            binds.push((kv.as_str().to_string(), k));
                        }
                        let env = self.with(binds);
                        if !env.render(
                            &f.template,
                            f.strip.strip_end(),
                            d.endfor_expr.strip.strip_start(),
                            out,
                        )? {
                            return Ok(false);
                        }
                    }
                }
            }
        }
        Ok(true)
    }

    fn traversal(&self, t: &Traversal, whole: &Expression) -> EvalResult {
        let ops: Vec<&TraversalOperator> = t.operators.iter().map(|o| o.value()).collect();
        if let Expression::Variable(v) = &t.expr {
            if self.bound(v.as_str()).is_none() {
                return self.reference(v.as_str(), &ops, whole);
            }
        }
        let base = self.eval(&t.expr)?;
        self.apply(base, &ops, None, whole)
    }

    /// A reference rooted at a name that is not a bound variable: `var.`,
    /// `local.`, `module.`, `data.`, `path.`, `terraform.` or a resource.
    fn reference(&self, root: &str, ops: &[&TraversalOperator], whole: &Expression) -> EvalResult {
        let attr = |i: usize| match ops.get(i) {
            Some(TraversalOperator::GetAttr(a)) => Some(a.as_str()),
            _ => None,
        };
        let ctx = self.ctx;
        let first = attr(0);
        let Some(name) = first else {
            return Err(format!("invalid reference: {}", self.text(whole)));
        };
        let rest = &ops[1..];
        match root {
            "var" => self.apply_shared(&ctx.var(self.inst, name), rest, whole),
            "local" => self.apply_shared(&ctx.local(self.inst, name), rest, whole),
            "path" => {
                let insts = ctx.insts.borrow();
                let inst = &insts[self.inst];
                let dir = match name {
                    "module" => &ctx.modules[inst.module].dir,
                    "root" | "cwd" => inst.chain.first().unwrap_or(&ctx.modules[inst.module].dir),
                    other => return Err(format!("path.{other} does not exist")),
                };
                let v = Val::string(if dir.is_empty() { "." } else { dir.as_str() });
                drop(insts);
                self.apply(v, rest, None, whole)
            }
            "terraform" if name == "workspace" => {
                self.apply(Val::string("default"), rest, None, whole)
            }
            "data" | "self" | "terraform" => Ok(self.unknown(whole)),
            "module" => self.module_ref(name, rest, whole),
            kind => self.resource_ref(kind, name, rest, whole),
        }
    }

    /// `module.NAME…`: an output of a local module's instance, or unknown.
    fn module_ref(&self, name: &str, ops: &[&TraversalOperator], whole: &Expression) -> EvalResult {
        let ctx = self.ctx;
        let Some(&ci) = ctx.module_of(self.inst).call_index.get(name) else {
            return Err(format!(
                "reference to undeclared module {}",
                self.text(whole)
            ));
        };
        let base = format!("{}module.{name}", ctx.prefix(self.inst));
        let calls = ctx.call(self.inst, ci);
        let (_, call_block) = ctx.module_of(self.inst).calls[ci];
        let selected = match self.select(&calls, call_block, ops)? {
            Selected::Unknown => return Ok(Val::unknown(self.norm(&base, ops))),
            Selected::Whole => {
                let all = calls.iter().map(|(k, c)| {
                    (
                        k,
                        c.map_or_else(
                            || Val::unknown(format!("{base}{}", k.suffix())),
                            |c| ctx.outputs(c),
                        ),
                    )
                });
                let v = collection(all);
                return self.apply(v, ops, Some(base), whole);
            }
            Selected::One(i, used) => (i, used),
        };
        let (idx, used) = selected;
        let (key, child) = &calls[idx];
        let base = format!("{base}{}", key.suffix());
        let ops = &ops[used..];
        let Some(child) = child else {
            return Ok(Val::unknown(self.norm(&base, ops)));
        };
        match ops.first() {
            Some(TraversalOperator::GetAttr(out)) => {
                let v = ctx.output(*child, out.as_str())?;
                let base = format!("{base}.{}", out.as_str());
                self.apply(v, &ops[1..], Some(base), whole)
            }
            _ => self.apply(ctx.outputs(*child), ops, Some(base), whole),
        }
    }

    /// `TYPE.NAME…`: a resource instance's argument if set and known,
    /// otherwise unknown named by the normalized reference.
    fn resource_ref(
        &self,
        kind: &str,
        name: &str,
        ops: &[&TraversalOperator],
        whole: &Expression,
    ) -> EvalResult {
        let ctx = self.ctx;
        let base = format!("{}{kind}.{name}", ctx.prefix(self.inst));
        let Some(&ri) = ctx.module_of(self.inst).resource_index.get(&(kind, name)) else {
            // Declared in a file that is not part of this scan (a partial
            // scan of a module): unknown, named by the reference, so that
            // satellites still fold into the resources they name.
            return Ok(Val::unknown(self.norm(&base, ops)));
        };
        let (_, block) = ctx.module_of(self.inst).resources[ri];
        let insts = ctx.resource(self.inst, ri);
        let keyed: Vec<(Key, Option<usize>)> = insts
            .iter()
            .enumerate()
            .map(|(i, r)| (r.key.clone(), Some(i)))
            .collect();
        let attr_of = |r: &ResInst, base: &str, a: &str| match r.attrs.get(a) {
            Some(v) if v.is_known() => v.clone(),
            _ => Val::unknown(format!("{base}{}.{a}", r.key.suffix())),
        };
        match self.select(&keyed, block, ops)? {
            Selected::Unknown => Ok(Val::unknown(self.norm(&base, ops))),
            Selected::One(i, used) => {
                let r = &insts[i];
                let ops = &ops[used..];
                match ops.first() {
                    Some(TraversalOperator::GetAttr(a)) => {
                        let v = attr_of(r, &base, a.as_str());
                        let text = format!("{base}{}.{}", r.key.suffix(), a.as_str());
                        self.apply(v, &ops[1..], Some(text), whole)
                    }
                    _ => self.apply(
                        r.attrs.clone(),
                        ops,
                        Some(format!("{base}{}", r.key.suffix())),
                        whole,
                    ),
                }
            }
            Selected::Whole => {
                // `TYPE.NAME[*].attr` over the instances.
                if let (
                    Some(TraversalOperator::FullSplat(_) | TraversalOperator::AttrSplat(_)),
                    Some(TraversalOperator::GetAttr(a)),
                ) = (ops.first(), ops.get(1))
                {
                    let list = Val::List(
                        insts
                            .iter()
                            .map(|r| attr_of(r, &base, a.as_str()))
                            .collect(),
                    );
                    let text = format!("{base}[*].{}", a.as_str());
                    return self.apply(list, &ops[2..], Some(text), whole);
                }
                let v = collection(insts.iter().map(|r| (&r.key, r.attrs.clone())));
                self.apply(v, ops, Some(base), whole)
            }
        }
    }

    /// Which instance of a `count`/`for_each` block the leading index of
    /// `ops` selects.
    fn select<T>(
        &self,
        instances: &[(Key, T)],
        block: &Block,
        ops: &[&TraversalOperator],
    ) -> Result<Selected, String> {
        let expanded = block.body.has_attribute("count") || block.body.has_attribute("for_each");
        if !expanded {
            return Ok(if instances.is_empty() {
                Selected::Unknown
            } else {
                Selected::One(0, 0)
            });
        }
        let key = match ops.first() {
            Some(TraversalOperator::Index(e)) => self.eval(e)?,
            Some(TraversalOperator::LegacyIndex(n)) => Val::Number(*n.value() as f64),
            _ => {
                return Ok(if matches!(instances, [(Key::None, _)]) {
                    Selected::Unknown
                } else {
                    Selected::Whole
                })
            }
        };
        if matches!(instances, [(Key::None, _)]) || !key.is_known() {
            // count/for_each (or the key) not known at build time
            return Ok(Selected::Unknown);
        }
        let found = instances.iter().position(|(k, _)| match (k, &key) {
            (Key::Int(i), Val::Number(n)) => *i as f64 == *n,
            (Key::Str(s), v) => v.to_display().as_deref() == Some(s.as_str()),
            _ => false,
        });
        match found {
            Some(i) => Ok(Selected::One(i, 1)),
            None => Err(format!(
                "{} has no instance with key {}",
                label(block, 1),
                key.to_display().unwrap_or_default()
            )),
        }
    }

    /// `base` followed by the normalized text of `ops` (known index keys
    /// resolved).
    fn norm(&self, base: &str, ops: &[&TraversalOperator]) -> String {
        let mut s = base.to_string();
        for op in ops {
            match op {
                TraversalOperator::GetAttr(a) => {
                    s.push('.');
                    s.push_str(a.as_str());
                }
                TraversalOperator::Index(e) => match self.eval(e) {
                    Ok(Val::Number(n)) => s.push_str(&format!("[{}]", number_text(n))),
                    Ok(Val::String(k)) => s.push_str(&format!("[{k:?}]")),
                    _ => s.push_str(&format!("[{}]", self.text(e))),
                },
                TraversalOperator::LegacyIndex(n) => s.push_str(&format!("[{}]", n.value())),
                TraversalOperator::AttrSplat(_) => s.push_str(".*"),
                TraversalOperator::FullSplat(_) => s.push_str("[*]"),
            }
        }
        s
    }

    /// Applies traversal operators to a memoized value: the leading
    /// attribute and index steps are followed by reference, so that only
    /// the part reached is copied.
    fn apply_shared(
        &self,
        v: &EvalResult,
        ops: &[&TraversalOperator],
        whole: &Expression,
    ) -> EvalResult {
        let mut cur = v.as_ref().map_err(String::clone)?;
        let mut i = 0;
        while let Some(op) = ops.get(i) {
            let next = match op {
                TraversalOperator::GetAttr(a) => cur.get(a.as_str()),
                TraversalOperator::LegacyIndex(n) => {
                    cur.as_list().and_then(|l| l.get(*n.value() as usize))
                }
                TraversalOperator::Index(e) => match (cur, self.eval(e)?) {
                    (Val::List(l), Val::Number(n)) if n >= 0.0 && n.fract() == 0.0 => {
                        l.get(n as usize)
                    }
                    (Val::Map(m), Val::String(k)) => m.get(&k),
                    _ => None,
                },
                _ => None,
            };
            match next {
                Some(n) => cur = n,
                None => break,
            }
            i += 1;
        }
        self.apply(cur.clone(), &ops[i..], None, whole)
    }

    /// Applies traversal operators to a value. An unknown met before the
    /// end gives an unknown named by `text` (the normalized reference so
    /// far) plus the rest, or by the whole traversal's source text.
    fn apply(
        &self,
        mut v: Val,
        ops: &[&TraversalOperator],
        text: Option<String>,
        whole: &Expression,
    ) -> EvalResult {
        let unknown = |i: usize| match &text {
            Some(t) => Val::unknown(self.norm(t, &ops[i..])),
            None => self.unknown(whole),
        };
        let mut i = 0;
        while i < ops.len() {
            if let Val::Unknown(_) = v {
                return Ok(unknown(i));
            }
            match ops[i] {
                TraversalOperator::GetAttr(a) => v = get_attr(v, a.as_str())?,
                TraversalOperator::Index(e) => match self.eval(e)? {
                    Val::Unknown(_) => return Ok(unknown(i)),
                    k => v = index(v, &k)?,
                },
                TraversalOperator::LegacyIndex(n) => v = index(v, &Val::Number(*n.value() as f64))?,
                TraversalOperator::FullSplat(_) | TraversalOperator::AttrSplat(_) => {
                    let full = matches!(ops[i], TraversalOperator::FullSplat(_));
                    let end = if full {
                        ops.len()
                    } else {
                        ops[i + 1..]
                            .iter()
                            .position(|o| !matches!(o, TraversalOperator::GetAttr(_)))
                            .map_or(ops.len(), |p| i + 1 + p)
                    };
                    let items = match v {
                        Val::List(items) => items,
                        Val::Null => Vec::new(),
                        other => vec![other],
                    };
                    let sub = &ops[i + 1..end];
                    v = Val::List(
                        items
                            .into_iter()
                            .map(|item| self.apply(item, sub, None, whole))
                            .collect::<Result<Vec<_>, _>>()?,
                    );
                    i = end;
                    continue;
                }
            }
            i += 1;
        }
        Ok(v)
    }
}

/// A chain of binary operations, associated by precedence.
enum OpTree<'x> {
    Leaf(&'x Expression),
    Op(BinaryOperator, Box<OpTree<'x>>, Box<OpTree<'x>>),
}

/// The operands and operators of a (right-nested) chain of binary operations.
fn flatten<'x>(
    e: &'x Expression,
    operands: &mut Vec<&'x Expression>,
    ops: &mut Vec<BinaryOperator>,
) {
    match e {
        Expression::BinaryOp(b) => {
            flatten(&b.lhs_expr, operands, ops);
            ops.push(*b.operator.value());
            flatten(&b.rhs_expr, operands, ops);
        }
        other => operands.push(other),
    }
}

/// Precedence climbing over `operands[pos..]` (all operators are
/// left-associative).
fn climb<'x>(
    operands: &[&'x Expression],
    ops: &[BinaryOperator],
    pos: &mut usize,
    min: u8,
) -> OpTree<'x> {
    let mut lhs = OpTree::Leaf(operands[*pos]);
    while let Some(&op) = ops.get(*pos) {
        let prec = op.precedence();
        if prec < min {
            break;
        }
        *pos += 1;
        let rhs = climb(operands, ops, pos, prec + 1);
        lhs = OpTree::Op(op, Box::new(lhs), Box::new(rhs));
    }
    lhs
}

/// What the leading index of a reference to an expanded block selects.
enum Selected {
    /// The instance at this position, having used this many operators.
    One(usize, usize),
    /// All instances (no index given).
    Whole,
    /// The instances or the key are not known at build time.
    Unknown,
}

/// The instances of an expanded block as Terraform exposes them: a list
/// for `count`, a map for `for_each`.
fn collection<'k>(items: impl Iterator<Item = (&'k Key, Val)>) -> Val {
    let items: Vec<(&Key, Val)> = items.collect();
    if items.iter().all(|(k, _)| matches!(k, Key::Str(_))) && !items.is_empty() {
        Val::Map(
            items
                .into_iter()
                .filter_map(|(k, v)| match k {
                    Key::Str(s) => Some((s.clone(), v)),
                    _ => None,
                })
                .collect(),
        )
    } else {
        Val::List(items.into_iter().map(|(_, v)| v).collect())
    }
}

fn get_attr(v: Val, a: &str) -> EvalResult {
    match v {
        Val::Map(mut m) => m
            .remove(a)
            .ok_or_else(|| format!("this object does not have an attribute named \"{a}\"")),
        Val::Null => Err(format!(
            "attempt to get attribute \"{a}\" from a null value"
        )),
        Val::List(_) => Err(format!(
            "cannot access attribute \"{a}\" on a list; use a splat ([*]) or an index"
        )),
        other => Err(format!(
            "cannot access attribute \"{a}\" on a {}",
            other.type_name()
        )),
    }
}

fn index(v: Val, k: &Val) -> EvalResult {
    match v {
        Val::List(mut items) => {
            let n = to_number(k)?;
            if n < 0.0 || n.fract() != 0.0 || n as usize >= items.len() {
                return Err(format!(
                    "index {} out of range for a list of {} elements",
                    number_text(n),
                    items.len()
                ));
            }
            Ok(items.swap_remove(n as usize))
        }
        Val::Map(mut m) => {
            let key = k
                .to_display()
                .ok_or_else(|| format!("a map key must be a string, not a {}", k.type_name()))?;
            m.remove(&key)
                .ok_or_else(|| format!("the map has no element for the key {key:?}"))
        }
        Val::Null => Err("cannot index a null value".into()),
        other => Err(format!("cannot index a {}", other.type_name())),
    }
}

/// The `(key, value)` pairs a `for` iterates over; `Ok(None)` when the
/// collection is unknown, `Err(type)` when it is not a collection.
fn iter_items(coll: &Val) -> Result<Option<Vec<(Val, Val)>>, &'static str> {
    match coll {
        Val::List(items) => Ok(Some(
            items
                .iter()
                .enumerate()
                .map(|(i, v)| (Val::Number(i as f64), v.clone()))
                .collect(),
        )),
        Val::Map(m) => Ok(Some(
            m.iter()
                .map(|(k, v)| (Val::String(k.clone()), v.clone()))
                .collect(),
        )),
        Val::Unknown(_) => Ok(None),
        other => Err(other.type_name()),
    }
}

fn to_bool(v: &Val, text: &str) -> Result<bool, String> {
    match v {
        Val::Bool(b) => Ok(*b),
        Val::String(s) if s == "true" => Ok(true),
        Val::String(s) if s == "false" => Ok(false),
        other => Err(format!("{text} is a {}, not a bool", other.type_name())),
    }
}

fn to_number(v: &Val) -> Result<f64, String> {
    match v {
        Val::Number(n) => Ok(*n),
        Val::String(s) => s
            .trim()
            .parse::<f64>()
            .map_err(|_| format!("{s:?} is not a number")),
        other => Err(format!("a {} is not a number", other.type_name())),
    }
}

/// A binary operation; `Ok(None)` when the result is unknown.
fn binary(
    op: BinaryOperator,
    l: &Val,
    r: &Val,
    text: impl Fn() -> String,
) -> Result<Option<Val>, String> {
    use BinaryOperator as B;
    match op {
        B::Eq | B::NotEq => {
            if !l.is_known() || !r.is_known() {
                return Ok(None);
            }
            let eq = l == r;
            Ok(Some(Val::Bool(if op == B::Eq { eq } else { !eq })))
        }
        B::And | B::Or => {
            if matches!(l, Val::Unknown(_)) || matches!(r, Val::Unknown(_)) {
                // `unknown && false` is still false, `unknown || true` true.
                return Ok(match (op, r) {
                    (B::And, Val::Bool(false)) => Some(Val::Bool(false)),
                    (B::Or, Val::Bool(true)) => Some(Val::Bool(true)),
                    _ => None,
                });
            }
            let (a, b) = (to_bool(l, &text())?, to_bool(r, "the right operand")?);
            Ok(Some(Val::Bool(if op == B::And { a && b } else { a || b })))
        }
        _ => {
            if matches!(l, Val::Unknown(_)) || matches!(r, Val::Unknown(_)) {
                return Ok(None);
            }
            let (a, b) = (to_number(l)?, to_number(r)?);
            Ok(Some(match op {
                B::Plus => Val::Number(a + b),
                B::Minus => Val::Number(a - b),
                B::Mul => Val::Number(a * b),
                B::Div if b == 0.0 => return Err("division by zero".into()),
                B::Div => Val::Number(a / b),
                B::Mod if b == 0.0 => return Err("modulo by zero".into()),
                B::Mod => Val::Number(a % b),
                B::Less => Val::Bool(a < b),
                B::LessEq => Val::Bool(a <= b),
                B::Greater => Val::Bool(a > b),
                _ => Val::Bool(a >= b),
            }))
        }
    }
}

/// (strips the literal before it, strips the literal after it).
fn strip_of(el: &Element) -> (bool, bool) {
    match el {
        Element::Literal(_) => (false, false),
        Element::Interpolation(i) => (i.strip.strip_start(), i.strip.strip_end()),
        Element::Directive(Directive::If(d)) => (
            d.if_expr.strip.strip_start(),
            d.endif_expr.strip.strip_end(),
        ),
        Element::Directive(Directive::For(d)) => (
            d.for_expr.strip.strip_start(),
            d.endfor_expr.strip.strip_end(),
        ),
    }
}

fn is_space(c: char) -> bool {
    c.is_whitespace() && c != '\n' && c != '\r'
}

/// Strips leading spaces and one line break (a `~` marker before).
fn trim_start_line(s: &str) -> &str {
    let s = s.trim_start_matches(is_space);
    s.strip_prefix("\r\n")
        .or_else(|| s.strip_prefix('\n'))
        .unwrap_or(s)
}

/// Strips trailing spaces and one line break (a `~` marker after).
fn trim_end_line(s: &str) -> &str {
    let s = s.trim_end_matches(is_space);
    s.strip_suffix("\r\n")
        .or_else(|| s.strip_suffix('\n'))
        .unwrap_or(s)
}

/// `file()` and friends: the scanned files, relative to the current
/// directory or to the module's directory.
struct ModuleFiles<'f, 'e, 'a> {
    env: &'f Env<'e, 'a>,
}

impl Files for ModuleFiles<'_, '_, '_> {
    fn read(&self, path: &str) -> Option<String> {
        let ctx = self.env.ctx;
        let dir = ctx.module_of(self.env.inst).dir.clone();
        ctx.read(&dir, path)
    }
}

impl Env<'_, '_> {
    /// The arguments and nested blocks of a block body, evaluated; the
    /// arguments and blocks named in `skip` are left out. `dynamic` blocks
    /// become ordinary nested blocks.
    pub(crate) fn body(&self, body: &Body, skip: &[&str]) -> Val {
        let mut m = BTreeMap::new();
        for s in body.iter() {
            match s {
                Structure::Attribute(a) => {
                    if !skip.contains(&a.key.as_str()) {
                        m.insert(a.key.as_str().to_string(), self.eval_or_unknown(&a.value));
                    }
                }
                Structure::Block(b) => {
                    let ident = b.ident.as_str();
                    if skip.contains(&ident) {
                        continue;
                    }
                    if ident == "dynamic" {
                        self.dynamic(b, &mut m);
                    } else {
                        push_block(&mut m, ident, self.body(&b.body, &[]));
                    }
                }
            }
        }
        Val::Map(m)
    }

    fn dynamic(&self, b: &Block, m: &mut BTreeMap<String, Val>) {
        let name = label(b, 0);
        let Some(content) = b.body.blocks().find(|c| c.ident.as_str() == "content") else {
            return;
        };
        let iterator = b
            .body
            .get_attribute("iterator")
            .and_then(|a| a.value.as_variable().map(|v| v.as_str().to_string()))
            .unwrap_or_else(|| name.to_string());
        let Some(for_each) = b.body.get_attribute("for_each") else {
            return;
        };
        let items = match self.eval(&for_each.value) {
            Ok(c) => iter_items(&c).ok().flatten(),
            Err(_) => None,
        };
        let Some(items) = items else {
            push_block(m, name, self.unknown(&for_each.value));
            return;
        };
        for (k, v) in items {
            let mut it = BTreeMap::new();
            it.insert("key".to_string(), k);
            it.insert("value".to_string(), v);
            let env = self.with(vec![(iterator.clone(), Val::Map(it))]);
            push_block(m, name, env.body(&content.body, &[]));
        }
    }
}

fn push_block(m: &mut BTreeMap<String, Val>, name: &str, block: Val) {
    if let Val::List(items) = m
        .entry(name.to_string())
        .or_insert_with(|| Val::List(Vec::new()))
    {
        items.push(block);
    }
}
