//! The bridge to CEL: compiling an expression with positions that point into
//! the control file, checking what it refers to, and converting values.

use crate::error::{line_col, CatalogError};
use cel_interpreter::objects::{Key, Map};
use cel_interpreter::{Program, Value};
use cel_parser::ast::{EntryExpr, Expr, IdedExpr};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// The variables an expression may read.
pub const VARIABLES: &[&str] = &["resource", "meta", "params", "now"];

/// The functions an expression may call, beyond operators and macros.
pub(crate) const FUNCTIONS: &[&str] = &[
    "contains",
    "size",
    "max",
    "min",
    "startsWith",
    "endsWith",
    "string",
    "bytes",
    "double",
    "int",
    "uint",
    "matches",
    "duration",
    "timestamp",
    "getFullYear",
    "getMonth",
    "getDayOfYear",
    "getDayOfMonth",
    "getDate",
    "getDayOfWeek",
    "getHours",
    "getMinutes",
    "getSeconds",
    "getMilliseconds",
];

/// Where an expression's text starts in its file, so that positions CEL
/// reports inside the expression can be shown as file positions.
#[derive(Debug, Clone)]
pub struct ExprSource<'a> {
    pub file: &'a str,
    pub line: usize,
    pub column: usize,
    pub key: &'a str,
}

impl<'a> ExprSource<'a> {
    /// Locates the string value that starts at byte `offset` of `text` (a TOML
    /// span), skipping its quotes and the newline TOML drops after `'''`.
    pub fn in_toml(file: &'a str, key: &'a str, text: &str, offset: usize) -> Self {
        let rest = &text[offset.min(text.len())..];
        let mut start = offset;
        if rest.starts_with("'''") || rest.starts_with("\"\"\"") {
            start += 3;
            let after = &text[start.min(text.len())..];
            if after.starts_with("\r\n") {
                start += 2;
            } else if after.starts_with('\n') {
                start += 1;
            }
        } else if rest.starts_with('\'') || rest.starts_with('"') {
            start += 1;
        }
        let (line, column) = line_col(text, start);
        ExprSource {
            file,
            line,
            column,
            key,
        }
    }

    fn error(&self, expr_line: usize, expr_column: usize, reason: String) -> CatalogError {
        let line = self.line + expr_line.saturating_sub(1);
        let column = if expr_line <= 1 {
            self.column + expr_column.saturating_sub(1)
        } else {
            expr_column
        };
        CatalogError::at(
            self.file,
            line,
            column,
            format!("in `{}`: {reason}", self.key),
        )
    }
}

/// Compiles one expression and checks that it reads only known variables,
/// declared parameters and known functions. Returns the interpreter's program
/// and the parsed expression (for the fast evaluator).
pub fn compile(
    source: &str,
    at: &ExprSource<'_>,
    params: &HashSet<&str>,
) -> Result<(Program, IdedExpr), CatalogError> {
    // The CEL parser panics on some malformed input instead of returning an
    // error; such a panic is turned into a syntax error at the expression's end.
    let parsed = quietly(|| cel_parser::Parser::new().parse(source).map_err(first_error));
    let ast = match parsed {
        Some(result) => result,
        None => {
            let (line, column) = line_col(source, source.trim_end().len());
            return Err(at.error(
                line,
                column,
                "syntax error: the expression is incomplete or malformed (check operators, quotes and parentheses)".into(),
            ));
        }
    }
    .map_err(|(line, column, msg)| at.error(line, column, format!("syntax error: {msg}")))?;
    let mut problems = Vec::new();
    check_refs(&ast, &mut Vec::new(), params, &mut problems);
    if let Some((needle, reason)) = problems.into_iter().next() {
        let (line, column) = find(source, &needle);
        return Err(at.error(line, column, reason));
    }
    match quietly(|| Program::compile(source).map_err(|e| e.to_string())) {
        Some(Ok(p)) => Ok((p, ast)),
        Some(Err(e)) => Err(at.error(1, 1, format!("syntax error: {e}"))),
        None => Err(at.error(1, 1, "syntax error: the expression is malformed".into())),
    }
}

fn first_error(errors: cel_parser::ParseErrors) -> (usize, usize, String) {
    let first = errors.errors.first();
    let (line, column) = first.map_or((1, 1), |e| {
        (e.pos.0.max(1) as usize, e.pos.1.max(1) as usize)
    });
    let msg = first.map_or_else(|| "syntax error".to_string(), |e| e.msg.clone());
    (line, column, msg)
}

thread_local! {
    static SILENT: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f`, turning a panic into `None` without printing it. The panic hook
/// is wrapped once, and stays quiet only on the thread that asked.
pub fn quietly<T>(f: impl FnOnce() -> T) -> Option<T> {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !SILENT.with(|s| s.get()) {
                previous(info);
            }
        }));
    });
    SILENT.with(|s| s.set(true));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    SILENT.with(|s| s.set(false));
    result.ok()
}

/// Finds the first whole-word occurrence of `needle` in `source`.
fn find(source: &str, needle: &str) -> (usize, usize) {
    let mut from = 0;
    while let Some(i) = source[from..].find(needle) {
        let at = from + i;
        let before_ok = source[..at]
            .chars()
            .next_back()
            .is_none_or(|c| !(c.is_alphanumeric() || c == '_'));
        if before_ok {
            return line_col(source, at);
        }
        from = at + needle.len();
    }
    (1, 1)
}

fn check_refs(
    e: &IdedExpr,
    bound: &mut Vec<String>,
    params: &HashSet<&str>,
    problems: &mut Vec<(String, String)>,
) {
    match &e.expr {
        Expr::Unspecified | Expr::Literal(_) => {}
        Expr::Ident(name) => {
            if !name.starts_with('@')
                && !VARIABLES.contains(&name.as_str())
                && !bound.iter().any(|b| b == name)
            {
                problems.push((
                    name.clone(),
                    format!(
                        "unknown variable `{name}`; expressions read {}",
                        VARIABLES.join(", ")
                    ),
                ));
            }
        }
        Expr::Select(sel) => {
            if let Expr::Ident(root) = &sel.operand.expr {
                if root == "params" && !bound.iter().any(|b| b == "params") {
                    if !params.contains(sel.field.as_str()) {
                        let mut declared: Vec<_> = params.iter().copied().collect();
                        declared.sort_unstable();
                        problems.push((
                            format!("params.{}", sel.field),
                            format!(
                                "parameter `{}` is not declared; declared: {}",
                                sel.field,
                                if declared.is_empty() {
                                    "none".to_string()
                                } else {
                                    declared.join(", ")
                                }
                            ),
                        ));
                    }
                    return;
                }
            }
            check_refs(&sel.operand, bound, params, problems);
        }
        Expr::Call(call) => {
            let name = call.func_name.as_str();
            let operator = name.starts_with(['_', '@', '!', '-']);
            if !operator && !FUNCTIONS.contains(&name) {
                problems.push((
                    name.to_string(),
                    format!(
                        "unknown function `{name}`; available: {}",
                        FUNCTIONS.join(", ")
                    ),
                ));
            }
            if let Some(t) = &call.target {
                check_refs(t, bound, params, problems);
            }
            for a in &call.args {
                check_refs(a, bound, params, problems);
            }
        }
        Expr::Comprehension(c) => {
            check_refs(&c.iter_range, bound, params, problems);
            check_refs(&c.accu_init, bound, params, problems);
            let depth = bound.len();
            bound.push(c.iter_var.clone());
            if let Some(v) = &c.iter_var2 {
                bound.push(v.clone());
            }
            bound.push(c.accu_var.clone());
            check_refs(&c.loop_cond, bound, params, problems);
            check_refs(&c.loop_step, bound, params, problems);
            check_refs(&c.result, bound, params, problems);
            bound.truncate(depth);
        }
        Expr::List(l) => {
            for x in &l.elements {
                check_refs(x, bound, params, problems);
            }
        }
        Expr::Map(m) => {
            for entry in &m.entries {
                match &entry.expr {
                    EntryExpr::MapEntry(me) => {
                        check_refs(&me.key, bound, params, problems);
                        check_refs(&me.value, bound, params, problems);
                    }
                    EntryExpr::StructField(f) => check_refs(&f.value, bound, params, problems),
                }
            }
        }
        Expr::Struct(s) => {
            for entry in &s.entries {
                if let EntryExpr::StructField(f) = &entry.expr {
                    check_refs(&f.value, bound, params, problems);
                }
            }
        }
    }
}

/// Converts a JSON value into a CEL value. Integers stay integers, so that
/// `resource.port == 22` compares as users expect.
pub fn from_json(v: &serde_json::Value) -> Value {
    match v {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => Value::Int(i),
            None => match n.as_u64() {
                Some(u) => Value::UInt(u),
                None => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
        },
        serde_json::Value::String(s) => Value::String(Arc::new(s.clone())),
        serde_json::Value::Array(items) => {
            Value::List(Arc::new(items.iter().map(from_json).collect()))
        }
        serde_json::Value::Object(map) => {
            map_value(map.iter().map(|(k, v)| (k.as_str(), from_json(v))))
        }
    }
}

/// Builds a CEL map with string keys.
pub fn map_value<'a>(entries: impl Iterator<Item = (&'a str, Value)>) -> Value {
    let map: HashMap<Key, Value> = entries
        .map(|(k, v)| (Key::String(Arc::new(k.to_string())), v))
        .collect();
    Value::Map(Map { map: Arc::new(map) })
}

/// Renders a CEL value for evidence: strings as they are, everything else as
/// compact JSON.
pub fn render(v: &Value) -> String {
    match v {
        Value::String(s) => s.to_string(),
        other => to_json(other).to_string(),
    }
}

fn to_json(v: &Value) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
        Value::Null => J::Null,
        Value::Bool(b) => J::Bool(*b),
        Value::Int(i) => J::from(*i),
        Value::UInt(u) => J::from(*u),
        Value::Float(f) => J::from(*f),
        Value::String(s) => J::String(s.to_string()),
        Value::Bytes(b) => J::String(String::from_utf8_lossy(b).into_owned()),
        Value::List(items) => J::Array(items.iter().map(to_json).collect()),
        Value::Map(m) => {
            let mut entries: Vec<(String, J)> = m
                .map
                .iter()
                .map(|(k, v)| {
                    let key = match k {
                        Key::String(s) => s.to_string(),
                        Key::Int(i) => i.to_string(),
                        Key::Uint(u) => u.to_string(),
                        Key::Bool(b) => b.to_string(),
                    };
                    (key, to_json(v))
                })
                .collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            J::Object(entries.into_iter().collect())
        }
        Value::Timestamp(t) => J::String(t.to_rfc3339()),
        Value::Duration(d) => J::String(format!("{}s", d.num_seconds())),
        Value::Function(name, _) => J::String(format!("<function {name}>")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src() -> ExprSource<'static> {
        ExprSource {
            file: "c.toml",
            line: 10,
            column: 8,
            key: "logic.pass",
        }
    }

    #[test]
    fn syntax_errors_point_into_the_file() {
        let err = compile("resource.a ==", &src(), &HashSet::new()).unwrap_err();
        assert_eq!(err.file, "c.toml");
        assert_eq!(err.line, 10);
        assert!(err.reason.contains("syntax error"), "{err}");
    }

    #[test]
    fn errors_on_later_lines_keep_their_own_column() {
        let err = compile("resource.a &&\n  bogus.b", &src(), &HashSet::new()).unwrap_err();
        assert_eq!((err.line, err.column), (11, 3), "{err}");
        assert!(err.reason.contains("unknown variable `bogus`"), "{err}");
    }

    #[test]
    fn undeclared_parameters_are_named_with_the_declared_ones() {
        let params: HashSet<&str> = ["minimum_length"].into_iter().collect();
        let err = compile("resource.len >= params.min_len", &src(), &params).unwrap_err();
        assert!(
            err.reason
                .contains("`min_len` is not declared; declared: minimum_length"),
            "{err}"
        );
        assert_eq!(err.column, 8 + 16);
    }

    #[test]
    fn unknown_functions_are_rejected_and_macros_bind_their_variables() {
        let err = compile("frobnicate(resource.a)", &src(), &HashSet::new()).unwrap_err();
        assert!(
            err.reason.contains("unknown function `frobnicate`"),
            "{err}"
        );
        compile(
            "resource.rules.all(r, r.port != 22) && has(resource.x) && resource.tags.exists(k, k == 'a')",
            &src(),
            &HashSet::new(),
        )
        .unwrap();
    }

    #[test]
    fn toml_sources_skip_quotes_and_the_first_newline() {
        let text = "a = 1\npass = '''\n  resource.x\n'''\n";
        let offset = text.find("'''").unwrap();
        let at = ExprSource::in_toml("f", "pass", text, offset);
        assert_eq!((at.line, at.column), (3, 1));
        let text = "pass = \"resource.x\"";
        let at = ExprSource::in_toml("f", "pass", text, 7);
        assert_eq!((at.line, at.column), (1, 9));
    }

    #[test]
    fn json_round_trips_through_render() {
        let v: serde_json::Value = serde_json::json!({"b": [1, "x", true], "a": null});
        assert_eq!(render(&from_json(&v)), r#"{"a":null,"b":[1,"x",true]}"#);
        assert_eq!(render(&from_json(&serde_json::json!("Enabled"))), "Enabled");
    }
}
