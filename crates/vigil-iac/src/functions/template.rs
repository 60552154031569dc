//! Rendering of `templatefile` templates: interpolations, `%{ if }` and
//! `%{ for }` directives with strip markers, over the template's `vars`.
//!
//! Template expressions may use literals, variables, attribute and index
//! access, function calls, conditionals and operators. A `for` expression
//! or a splat inside a template, or any unknown value, makes the whole
//! result unknown rather than guessed.

use super::{call, unknown, Files};
use crate::value::{number_text, Val};
use hcl::expr::{BinaryOperator, Expression, ObjectKey, TraversalOperator, UnaryOperator};
use hcl::template::{Directive, Element, Strip, Template};
use std::collections::BTreeMap;
use std::str::FromStr;

type Scope = BTreeMap<String, Val>;

/// Signals that rendering hit an unknown value: the result is unknown.
enum Stop {
    Unknown,
    Error(String),
}

impl From<String> for Stop {
    fn from(e: String) -> Self {
        Stop::Error(e)
    }
}

/// Renders `text` with `vars`: a string, an unknown, or an error.
pub(super) fn render(text: &str, vars: &Scope, files: &dyn Files) -> Result<Val, String> {
    let template = Template::from_str(text).map_err(|e| format!("invalid template: {e}"))?;
    let mut out = String::new();
    let r = Renderer { files };
    match r.template(&mut out, &template, vars, Strip::None, Strip::None) {
        Ok(()) => Ok(Val::String(out)),
        Err(Stop::Unknown) => Ok(unknown()),
        Err(Stop::Error(e)) => Err(e),
    }
}

struct Renderer<'a> {
    files: &'a dyn Files,
}

fn element_strip(e: &Element) -> Strip {
    match e {
        Element::Literal(_) => Strip::None,
        Element::Interpolation(i) => i.strip,
        Element::Directive(Directive::If(d)) => {
            Strip::from((d.if_strip.strip_start(), d.endif_strip.strip_end()))
        }
        Element::Directive(Directive::For(d)) => {
            Strip::from((d.for_strip.strip_start(), d.endfor_strip.strip_end()))
        }
    }
}

/// Removes spaces and one line break next to a stripping marker.
fn strip_literal(mut s: &str, prev: Strip, next: Strip) -> &str {
    let space = |c: char| c.is_whitespace() && c != '\r' && c != '\n';
    if prev.strip_end() {
        s = s.trim_start_matches(space);
        s = s
            .strip_prefix("\r\n")
            .or_else(|| s.strip_prefix('\n'))
            .unwrap_or(s);
    }
    if next.strip_start() {
        s = s.trim_end_matches(space);
        s = s
            .strip_suffix("\r\n")
            .or_else(|| s.strip_suffix('\n'))
            .unwrap_or(s);
    }
    s
}

impl Renderer<'_> {
    fn template(
        &self,
        out: &mut String,
        t: &Template,
        scope: &Scope,
        first_prev: Strip,
        last_next: Strip,
    ) -> Result<(), Stop> {
        let elems = t.elements();
        for (i, elem) in elems.iter().enumerate() {
            let prev = if i == 0 {
                first_prev
            } else {
                element_strip(&elems[i - 1])
            };
            let next = elems.get(i + 1).map_or(last_next, element_strip);
            match elem {
                Element::Literal(s) => out.push_str(strip_literal(s, prev, next)),
                Element::Interpolation(interp) => {
                    let v = self.expr(&interp.expr, scope)?;
                    out.push_str(&display(&v)?);
                }
                Element::Directive(Directive::If(d)) => {
                    let cond = self.expr(&d.cond_expr, scope)?;
                    match cond {
                        Val::Bool(true) => {
                            let next = if d.false_template.is_some() {
                                d.else_strip
                            } else {
                                d.endif_strip
                            };
                            self.template(out, &d.true_template, scope, d.if_strip, next)?;
                        }
                        Val::Bool(false) => {
                            if let Some(f) = &d.false_template {
                                self.template(out, f, scope, d.else_strip, d.endif_strip)?;
                            }
                        }
                        other => {
                            return Err(Stop::Error(format!(
                                "the condition of an if directive must be a bool, got {}",
                                other.type_name()
                            )))
                        }
                    }
                }
                Element::Directive(Directive::For(d)) => {
                    let items: Vec<(Val, Val)> = match self.expr(&d.collection_expr, scope)? {
                        Val::List(items) => items
                            .into_iter()
                            .enumerate()
                            .map(|(i, v)| (Val::Number(i as f64), v))
                            .collect(),
                        Val::Map(m) => m.into_iter().map(|(k, v)| (Val::String(k), v)).collect(),
                        other => {
                            return Err(Stop::Error(format!(
                                "a for directive needs a list or map, got {}",
                                other.type_name()
                            )))
                        }
                    };
                    for (k, v) in items {
                        let mut inner = scope.clone();
                        if let Some(key_var) = &d.key_var {
                            inner.insert(key_var.to_string(), k);
                        }
                        inner.insert(d.value_var.to_string(), v);
                        self.template(out, &d.template, &inner, d.for_strip, d.endfor_strip)?;
                    }
                }
            }
        }
        Ok(())
    }

    fn expr(&self, e: &Expression, scope: &Scope) -> Result<Val, Stop> {
        let v = match e {
            Expression::Null => Val::Null,
            Expression::Bool(b) => Val::Bool(*b),
            Expression::Number(n) => Val::Number(n.as_f64().unwrap_or(f64::NAN)),
            Expression::String(s) => Val::String(s.clone()),
            Expression::Array(items) => Val::List(
                items
                    .iter()
                    .map(|i| self.expr(i, scope))
                    .collect::<Result<_, _>>()?,
            ),
            Expression::Object(obj) => {
                let mut m = BTreeMap::new();
                for (k, v) in obj.iter() {
                    let key = match k {
                        ObjectKey::Identifier(id) => id.to_string(),
                        ObjectKey::Expression(e) => display(&self.expr(e, scope)?)?,
                        _ => return Err(Stop::Unknown),
                    };
                    m.insert(key, self.expr(v, scope)?);
                }
                Val::Map(m)
            }
            Expression::TemplateExpr(t) => {
                let t = Template::from_expr(t).map_err(|e| Stop::Error(e.to_string()))?;
                let mut out = String::new();
                self.template(&mut out, &t, scope, Strip::None, Strip::None)?;
                Val::String(out)
            }
            Expression::Variable(v) => scope.get(v.as_str()).cloned().ok_or_else(|| {
                Stop::Error(format!("vars map does not contain key {:?}", v.as_str()))
            })?,
            Expression::Traversal(t) => {
                let mut v = self.expr(&t.expr, scope)?;
                for op in &t.operators {
                    v = match op {
                        TraversalOperator::GetAttr(id) => get(&v, id.as_str())?,
                        TraversalOperator::Index(i) => {
                            let key = self.expr(i, scope)?;
                            index(&v, &key)?
                        }
                        TraversalOperator::LegacyIndex(i) => index(&v, &Val::Number(*i as f64))?,
                        _ => return Err(Stop::Unknown),
                    };
                }
                v
            }
            Expression::FuncCall(f) => {
                let mut args: Vec<Val> = f
                    .args
                    .iter()
                    .map(|a| self.expr(a, scope))
                    .collect::<Result<_, _>>()?;
                if f.expand_final {
                    match args.pop() {
                        Some(Val::List(items)) => args.extend(items),
                        _ => {
                            return Err(Stop::Error(
                                "the final argument of an expanding call must be a list".into(),
                            ))
                        }
                    }
                }
                call(f.name.name.as_str(), &args, self.files)?
            }
            Expression::Parenthesis(inner) => self.expr(inner, scope)?,
            Expression::Conditional(c) => match self.expr(&c.cond_expr, scope)? {
                Val::Bool(true) => self.expr(&c.true_expr, scope)?,
                Val::Bool(false) => self.expr(&c.false_expr, scope)?,
                other => {
                    return Err(Stop::Error(format!(
                        "a condition must be a bool, got {}",
                        other.type_name()
                    )))
                }
            },
            Expression::Operation(op) => match op.as_ref() {
                hcl::expr::Operation::Unary(u) => {
                    let v = self.expr(&u.expr, scope)?;
                    match (u.operator, v) {
                        (UnaryOperator::Not, Val::Bool(b)) => Val::Bool(!b),
                        (UnaryOperator::Neg, Val::Number(n)) => Val::Number(-n),
                        (_, Val::Unknown(_)) => return Err(Stop::Unknown),
                        (op, v) => {
                            return Err(Stop::Error(format!(
                                "operator {op:?} cannot apply to {}",
                                v.type_name()
                            )))
                        }
                    }
                }
                hcl::expr::Operation::Binary(b) => {
                    let l = self.expr(&b.lhs_expr, scope)?;
                    let r = self.expr(&b.rhs_expr, scope)?;
                    binary(b.operator, &l, &r)?
                }
            },
            _ => return Err(Stop::Unknown),
        };
        if matches!(v, Val::Unknown(_)) {
            return Err(Stop::Unknown);
        }
        Ok(v)
    }
}

/// The text an interpolation inserts.
fn display(v: &Val) -> Result<String, Stop> {
    if !v.is_known() {
        return Err(Stop::Unknown);
    }
    v.to_display().ok_or_else(|| {
        Stop::Error(format!(
            "cannot include a {} value in a string template: a string is required",
            v.type_name()
        ))
    })
}

fn get(v: &Val, key: &str) -> Result<Val, Stop> {
    match v {
        Val::Map(m) => m
            .get(key)
            .cloned()
            .ok_or_else(|| Stop::Error(format!("the object has no attribute {key:?}"))),
        other => Err(Stop::Error(format!(
            "cannot access attribute {key:?} of a {} value",
            other.type_name()
        ))),
    }
}

fn index(v: &Val, key: &Val) -> Result<Val, Stop> {
    match (v, key) {
        (Val::List(items), Val::Number(n)) if *n >= 0.0 && n.fract() == 0.0 => {
            items.get(*n as usize).cloned().ok_or_else(|| {
                Stop::Error(format!(
                    "index {} out of range for a list of {}",
                    number_text(*n),
                    items.len()
                ))
            })
        }
        (Val::Map(_), k) => match k.to_display() {
            Some(k) => get(v, &k),
            None => Err(Stop::Error(format!(
                "a map key must be a string, got {}",
                k.type_name()
            ))),
        },
        (other, k) => Err(Stop::Error(format!(
            "cannot index a {} value with a {}",
            other.type_name(),
            k.type_name()
        ))),
    }
}

fn binary(op: BinaryOperator, l: &Val, r: &Val) -> Result<Val, Stop> {
    use BinaryOperator as B;
    if !l.is_known() || !r.is_known() {
        return Err(Stop::Unknown);
    }
    let num = |v: &Val| {
        super::to_number(v)
            .ok_or_else(|| Stop::Error(format!("a number is required, got {}", v.type_name())))
    };
    let boolean = |v: &Val| {
        super::to_bool(v)
            .ok_or_else(|| Stop::Error(format!("a bool is required, got {}", v.type_name())))
    };
    Ok(match op {
        B::Eq => Val::Bool(l == r),
        B::NotEq => Val::Bool(l != r),
        B::And => Val::Bool(boolean(l)? && boolean(r)?),
        B::Or => Val::Bool(boolean(l)? || boolean(r)?),
        B::Less => Val::Bool(num(l)? < num(r)?),
        B::LessEq => Val::Bool(num(l)? <= num(r)?),
        B::Greater => Val::Bool(num(l)? > num(r)?),
        B::GreaterEq => Val::Bool(num(l)? >= num(r)?),
        B::Plus => Val::Number(num(l)? + num(r)?),
        B::Minus => Val::Number(num(l)? - num(r)?),
        B::Mul => Val::Number(num(l)? * num(r)?),
        B::Div => Val::Number(num(l)? / num(r)?),
        B::Mod => Val::Number(num(l)? % num(r)?),
    })
}

#[cfg(test)]
mod tests {
    use super::super::files::tests::mem;
    use super::super::test_support::*;
    use super::super::{call, unknown};

    #[test]
    fn templatefile_renders_interpolations_and_directives() {
        let fs = mem(&[
            (
                "backends.tpl",
                "%{ for addr in ip_addrs ~}\nbackend ${addr}:${port}\n%{ endfor ~}\n",
            ),
            (
                "policy.tpl",
                "{\"b\": \"${upper(bucket.name)}\"%{ if public }, \"p\": true%{ endif }}",
            ),
            ("bad.tpl", "${nope}"),
        ]);
        let vars = m(&[
            ("port", n(8080.0)),
            ("ip_addrs", sl(&["10.0.0.1", "10.0.0.2"])),
        ]);
        assert_eq!(
            call("templatefile", &[s("backends.tpl"), vars], &fs),
            Ok(s("backend 10.0.0.1:8080\nbackend 10.0.0.2:8080\n"))
        );
        let vars = m(&[
            ("bucket", m(&[("name", s("logs"))])),
            ("public", crate::value::Val::Bool(false)),
        ]);
        assert_eq!(
            call("templatefile", &[s("policy.tpl"), vars], &fs),
            Ok(s("{\"b\": \"LOGS\"}"))
        );
        let vars = m(&[
            ("bucket", m(&[("name", unk())])),
            ("public", crate::value::Val::Bool(false)),
        ]);
        assert_eq!(
            call("templatefile", &[s("policy.tpl"), vars], &fs),
            Ok(unknown())
        );
        assert!(
            call("templatefile", &[s("bad.tpl"), m(&[])], &fs).is_err_and(
                |e| e.contains("templatefile: bad.tpl: vars map does not contain key \"nope\"")
            )
        );
        assert_eq!(t("templatefile", vec![s("x.tpl"), m(&[])]), Ok(unknown()));
        assert_eq!(
            t(
                "templatestring",
                vec![
                    s("%{ for k, v in m }${k}=${v};%{ endfor }"),
                    m(&[("m", m(&[("a", n(1.0)), ("b", s("x"))]))])
                ]
            ),
            Ok(s("a=1;b=x;"))
        );
        assert!(err("templatestring", vec![s("${"), m(&[])])
            .contains("templatestring: invalid template"));
        // An unknown variable the template does not use leaves it known;
        // one it compares makes it unknown.
        let fs = mem(&[("eq.tpl", "a%{ if x == y }b%{ endif }")]);
        let known = m(&[("x", n(1.0)), ("y", n(1.0)), ("unused", unk())]);
        assert_eq!(
            call("templatefile", &[s("eq.tpl"), known], &fs),
            Ok(s("ab"))
        );
        let compared = m(&[("x", l(vec![unk()])), ("y", l(vec![n(1.0)]))]);
        assert_eq!(
            call("templatefile", &[s("eq.tpl"), compared], &fs),
            Ok(unknown())
        );
    }
}
