//! Evaluating a template's values: parameters (defaults, typed), pseudo
//! parameters, `Mappings`, `Conditions` and the intrinsic functions.
//!
//! What cannot be known before the stack is created (a parameter without a
//! default, `AWS::Region`, another resource's `Ref`/`Fn::GetAtt`, a function
//! of those) is [`Val::Unknown`]; its expr is the short-form text of the
//! expression: `!Ref LogicalId`, `!GetAtt LogicalId.Attr`,
//! `!Sub arn:${AWS::Partition}:s3:::${Bucket}/*`, `!Select [0, !GetAZs ""]`.

use super::yaml::{Entry, Kind, Node};
use crate::value::{number_text, Val};
use std::collections::{BTreeMap, HashMap};

/// The evaluation scope of one template.
pub(crate) struct Ctx<'a> {
    params: HashMap<String, Val>,
    mappings: Option<&'a Node>,
    conditions: HashMap<&'a str, &'a Node>,
    /// Conditions evaluated so far (`None`: unknown, or being evaluated).
    truths: HashMap<String, Option<bool>>,
}

impl<'a> Ctx<'a> {
    /// The scope of the template `root` (its `Parameters`, `Mappings` and
    /// `Conditions`).
    pub fn new(root: &'a Node) -> Ctx<'a> {
        let mut ctx = Ctx {
            params: HashMap::new(),
            mappings: root.get("Mappings"),
            conditions: root
                .get("Conditions")
                .map(|c| {
                    c.entries()
                        .iter()
                        .map(|e| (e.key.as_str(), &e.value))
                        .collect()
                })
                .unwrap_or_default(),
            truths: HashMap::new(),
        };
        if let Some(params) = root.get("Parameters") {
            for e in params.entries() {
                let v = ctx.parameter(&e.key, &e.value);
                ctx.params.insert(e.key.clone(), v);
            }
        }
        ctx
    }

    /// A parameter's value: its `Default` as its `Type` reads it, or unknown.
    fn parameter(&mut self, name: &str, decl: &Node) -> Val {
        let unknown = || Val::unknown(format!("!Ref {name}"));
        let ty = decl.get("Type").and_then(Node::as_str).unwrap_or("String");
        let Some(default) = decl.get("Default") else {
            return unknown();
        };
        // SSM parameter types: the default names the SSM parameter, the
        // value is read from SSM when the stack is deployed.
        if ty.starts_with("AWS::SSM::") {
            return unknown();
        }
        let Some(value) = self.eval(default) else {
            return unknown();
        };
        let Some(text) = value.to_display() else {
            return value;
        };
        let number = |s: &str| s.trim().parse().map_or(Val::string(s), Val::Number);
        if ty == "Number" {
            number(&text)
        } else if ty == "CommaDelimitedList" || ty.starts_with("List<") {
            let numbers = ty == "List<Number>";
            Val::List(
                text.split(',')
                    .map(|s| {
                        let s = s.trim();
                        if numbers {
                            number(s)
                        } else {
                            Val::string(s)
                        }
                    })
                    .collect(),
            )
        } else {
            Val::String(text)
        }
    }

    /// Whether the condition `name` holds; `None` when it depends on an
    /// unknown value or is not defined.
    pub fn condition(&mut self, name: &str) -> Option<bool> {
        if let Some(t) = self.truths.get(name) {
            return *t;
        }
        // Marked unknown while evaluated, so that a cycle ends.
        self.truths.insert(name.to_string(), None);
        let truth = self
            .conditions
            .get(name)
            .copied()
            .and_then(|n| self.truth(n));
        self.truths.insert(name.to_string(), truth);
        truth
    }

    /// A condition expression (`Fn::Equals`, `Fn::And`, `Fn::Or`, `Fn::Not`,
    /// `Condition`, or a value that is a boolean), three-valued.
    fn truth(&mut self, n: &Node) -> Option<bool> {
        if let Some((name, arg)) = intrinsic(n) {
            let args = args(arg);
            match name {
                "Fn::Equals" => {
                    let [a, b] = args else { return None };
                    let (a, b) = (self.eval(a)?, self.eval(b)?);
                    return (a.is_known() && b.is_known()).then(|| same(&a, &b));
                }
                "Fn::And" | "Fn::Or" => {
                    let decisive = name == "Fn::Or";
                    let mut all = Some(!decisive);
                    for a in args {
                        match self.truth(a) {
                            Some(t) if t == decisive => return Some(decisive),
                            Some(_) => {}
                            None => all = None,
                        }
                    }
                    return all;
                }
                "Fn::Not" => return args.first().and_then(|a| self.truth(a)).map(|t| !t),
                "Condition" => return arg.as_str().and_then(|c| self.condition(c)),
                _ => {}
            }
        }
        match self.eval(n)? {
            Val::Bool(b) => Some(b),
            Val::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
            Val::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
            _ => None,
        }
    }

    /// The value of a node; `None` for `!Ref AWS::NoValue` (the property or
    /// list item is left out).
    pub fn eval(&mut self, n: &Node) -> Option<Val> {
        if let Some((name, arg)) = intrinsic(n) {
            return self.call(name, arg, n);
        }
        Some(match &n.kind {
            Kind::Null => Val::Null,
            Kind::Bool(b) => Val::Bool(*b),
            Kind::Number(x) => Val::Number(*x),
            Kind::Str(s) => Val::String(s.clone()),
            Kind::Seq(items) => Val::List(items.iter().filter_map(|i| self.eval(i)).collect()),
            Kind::Map(entries) => Val::Map(
                entries
                    .iter()
                    .filter_map(|e| Some((e.key.clone(), self.eval(&e.value)?)))
                    .collect(),
            ),
        })
    }

    /// The value a `Ref` names.
    fn reference(&self, name: &str) -> Option<Val> {
        if let Some(v) = self.params.get(name) {
            return Some(v.clone());
        }
        Some(match name {
            "AWS::NoValue" => return None,
            "AWS::Partition" => Val::string("aws"),
            "AWS::URLSuffix" => Val::string("amazonaws.com"),
            // Other pseudo parameters, resources, and undeclared names.
            _ => Val::unknown(format!("!Ref {name}")),
        })
    }

    /// An intrinsic function `name` applied to `arg`; `whole` is the
    /// `{name: arg}` node (rendered as the expr of unknown results).
    fn call(&mut self, name: &str, arg: &Node, whole: &Node) -> Option<Val> {
        let unknown = || Some(Val::unknown(render(whole)));
        let args = args(arg);
        match name {
            "Ref" => match arg.as_str() {
                Some(r) => self.reference(r),
                None => unknown(),
            },
            "Fn::GetAtt" => Some(match self.get_att(arg) {
                Some(target) => Val::unknown(format!("!GetAtt {target}")),
                None => Val::unknown(render(whole)),
            }),
            "Fn::Sub" => self.sub(arg),
            "Fn::If" => {
                let [cond, then, otherwise] = args else {
                    return unknown();
                };
                match cond.as_str().and_then(|c| self.condition(c)) {
                    Some(true) => self.eval(then),
                    Some(false) => self.eval(otherwise),
                    None => {
                        // Both branches alike: the condition does not matter.
                        let (a, b) = (self.eval(then), self.eval(otherwise));
                        match (a, b) {
                            (Some(a), Some(b)) if a == b && a.is_known() => Some(a),
                            _ => unknown(),
                        }
                    }
                }
            }
            "Fn::Equals" | "Fn::And" | "Fn::Or" | "Fn::Not" | "Condition" => {
                match self.truth(whole) {
                    Some(t) => Some(Val::Bool(t)),
                    None => unknown(),
                }
            }
            _ => {
                let mut vals = Vec::with_capacity(args.len());
                for a in args {
                    vals.push(self.eval(a).unwrap_or(Val::Null));
                }
                match self.function(name, &vals) {
                    Some(v) => Some(v),
                    None => unknown(),
                }
            }
        }
    }

    /// The functions of evaluated arguments; `None` when the result is not
    /// known (an argument unknown, a function only the deployment resolves,
    /// or arguments CloudFormation would reject).
    fn function(&self, name: &str, args: &[Val]) -> Option<Val> {
        let text = |i: usize| args.get(i).and_then(Val::to_display);
        match name {
            "Fn::Join" => {
                let delim = text(0)?;
                let parts = args.get(1)?.as_list()?;
                let parts: Option<Vec<String>> = parts.iter().map(Val::to_display).collect();
                Some(Val::String(parts?.join(&delim)))
            }
            "Fn::Select" => {
                let index = text(0)?.trim().parse::<usize>().ok()?;
                args.get(1)?.as_list()?.get(index).cloned()
            }
            "Fn::Split" => {
                let (delim, s) = (text(0)?, text(1)?);
                if delim.is_empty() {
                    return None;
                }
                Some(Val::List(
                    s.split(delim.as_str()).map(Val::string).collect(),
                ))
            }
            "Fn::FindInMap" => {
                let keys = [text(0)?, text(1)?, text(2)?];
                let found = keys
                    .iter()
                    .try_fold(self.mappings?, |n, k| n.get(k))
                    .map(plain);
                found.or_else(|| args.get(3)?.get("DefaultValue").cloned())
            }
            "Fn::Base64" => Some(Val::String(base64(text(0)?.as_bytes()))),
            "Fn::Cidr" => {
                let count = text(1)?.trim().parse::<u32>().ok()?;
                let bits = text(2)?.trim().parse::<u32>().ok()?;
                cidr(&text(0)?, count, bits)
                    .map(|l| Val::List(l.into_iter().map(Val::String).collect()))
            }
            "Fn::Length" => {
                let n = args.first()?.as_list()?.len();
                Some(Val::Number(n as f64))
            }
            "Fn::ToJsonString" => {
                let json = args.first()?.to_json().ok()?;
                Some(Val::String(json.to_string()))
            }
            // Fn::GetAZs, Fn::ImportValue, Fn::Transform, and anything else.
            _ => None,
        }
    }

    /// `LogicalId.Attr` of a `Fn::GetAtt` (`"A.B"` or `[A, B]`).
    fn get_att(&mut self, arg: &Node) -> Option<String> {
        if let Some(s) = arg.as_str() {
            return s.contains('.').then(|| s.to_string());
        }
        let [id, attr] = args(arg) else { return None };
        let attr = self.eval(attr)?.to_display()?;
        Some(format!("{}.{attr}", id.as_str()?))
    }

    /// `Fn::Sub`: `"text"` or `["text", {var: value}]`.
    fn sub(&mut self, arg: &Node) -> Option<Val> {
        let (template, vars) = match &arg.kind {
            Kind::Str(s) => (s.as_str(), None),
            Kind::Seq(items) => match items.as_slice() {
                [t, v] => (t.as_str()?, Some(v)),
                [t] => (t.as_str()?, None),
                _ => return Some(Val::unknown(format!("!Sub {}", render(arg)))),
            },
            _ => return Some(Val::unknown(format!("!Sub {}", render(arg)))),
        };
        let mut vars_val = BTreeMap::new();
        for e in vars.map(Node::entries).unwrap_or_default() {
            vars_val.insert(e.key.as_str(), self.eval(&e.value).unwrap_or(Val::Null));
        }
        let mut out = String::new();
        let mut values = Vec::new();
        let mut rest = template;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let Some(close) = after.find('}') else {
                out.push_str(&rest[start..]);
                rest = "";
                break;
            };
            let name = &after[..close];
            rest = &after[close + 1..];
            if let Some(literal) = name.strip_prefix('!') {
                out.push_str("${");
                out.push_str(literal);
                out.push('}');
                continue;
            }
            let name = name.trim();
            let value = match vars_val.get(name) {
                Some(v) => v.clone(),
                None if name.contains('.') => Val::unknown(format!("!GetAtt {name}")),
                None => self.reference(name).unwrap_or(Val::string("")),
            };
            match value.to_display() {
                Some(s) => out.push_str(&s),
                None => values.push(value),
            }
        }
        out.push_str(rest);
        match values.as_slice() {
            [] => Some(Val::String(out)),
            // Exactly one variable and nothing else: its value as it is.
            [only] if out.is_empty() && template.matches("${").count() == 1 => Some(only.clone()),
            _ => Some(Val::unknown(format!("!Sub {template}"))),
        }
    }
}

/// `{name: arg}` when the node is an intrinsic function call (`Ref`,
/// `Fn::…`, or `Condition` naming a condition).
fn intrinsic(n: &Node) -> Option<(&str, &Node)> {
    match n.entries() {
        [Entry { key, value, .. }]
            if key == "Ref"
                || key.starts_with("Fn::")
                || (key == "Condition" && value.as_str().is_some()) =>
        {
            Some((key, value))
        }
        _ => None,
    }
}

/// The arguments of a function: the items of a list, else the value itself.
fn args(arg: &Node) -> &[Node] {
    match &arg.kind {
        Kind::Seq(items) => items,
        _ => std::slice::from_ref(arg),
    }
}

/// A value of `Mappings` (plain data).
fn plain(n: &Node) -> Val {
    match &n.kind {
        Kind::Null => Val::Null,
        Kind::Bool(b) => Val::Bool(*b),
        Kind::Number(x) => Val::Number(*x),
        Kind::Str(s) => Val::String(s.clone()),
        Kind::Seq(items) => Val::List(items.iter().map(plain).collect()),
        Kind::Map(entries) => Val::Map(
            entries
                .iter()
                .map(|e| (e.key.clone(), plain(&e.value)))
                .collect(),
        ),
    }
}

/// Equality as `Fn::Equals` sees it: scalars compare as strings.
fn same(a: &Val, b: &Val) -> bool {
    match (a.to_display(), b.to_display()) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

/// The short-form text of an expression, for the expr of unknowns.
pub(crate) fn render(n: &Node) -> String {
    if let Some((name, arg)) = intrinsic(n) {
        let short = name.strip_prefix("Fn::").unwrap_or(name);
        if name == "Fn::GetAtt" {
            if let Kind::Seq(items) = &arg.kind {
                let parts: Vec<String> = items.iter().map(render).collect();
                return format!("!GetAtt {}", parts.join("."));
            }
        }
        return format!("!{short} {}", render(arg));
    }
    match &n.kind {
        Kind::Null => "null".into(),
        Kind::Bool(b) => b.to_string(),
        Kind::Number(x) => number_text(*x),
        Kind::Str(s) => {
            let plain = !s.is_empty()
                && !s.starts_with([' ', '!', '&', '*', '"', '\''])
                && !s.ends_with(' ')
                && !s.contains([',', '[', ']', '{', '}', '\n', '#'])
                && !s.contains(": ");
            if plain {
                s.clone()
            } else {
                serde_json::Value::String(s.clone()).to_string()
            }
        }
        Kind::Seq(items) => {
            let items: Vec<String> = items.iter().map(render).collect();
            format!("[{}]", items.join(", "))
        }
        Kind::Map(entries) => {
            let entries: Vec<String> = entries
                .iter()
                .map(|e| format!("{}: {}", e.key, render(&e.value)))
                .collect();
            format!("{{{}}}", entries.join(", "))
        }
    }
}

/// Standard base64 with padding.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// `Fn::Cidr` for IPv4: `count` consecutive blocks with `bits` host bits
/// each, from the start of `block`. `None` for IPv6 or impossible requests.
fn cidr(block: &str, count: u32, bits: u32) -> Option<Vec<String>> {
    let (addr, prefix) = block.trim().split_once('/')?;
    let prefix: u32 = prefix.parse().ok()?;
    let addr: std::net::Ipv4Addr = addr.parse().ok()?;
    if prefix > 32 || bits > 32 - prefix || count == 0 || count > 256 {
        return None;
    }
    let size = 1u64 << bits;
    let base = u64::from(u32::from(addr)) & !((1u64 << (32 - prefix)) - 1);
    if u64::from(count) * size > 1u64 << (32 - prefix) {
        return None;
    }
    Some(
        (0..u64::from(count))
            .map(|i| {
                let start = u32::try_from(base + i * size).unwrap_or(0);
                format!("{}/{}", std::net::Ipv4Addr::from(start), 32 - bits)
            })
            .collect(),
    )
}
