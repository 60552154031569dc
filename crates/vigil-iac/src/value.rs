//! Values of IaC expressions: JSON-like data plus "not known at build time".
//!
//! Terraform and CloudFormation evaluate to the same [`Val`]: the adapters
//! turn a resource's arguments into a [`Val::Map`], then map it onto the
//! normalized attributes. A value that depends on something only known after
//! `apply` (another resource's computed id, a variable without a default, a
//! function of those) is [`Val::Unknown`], carrying the source text of the
//! expression that produced it; an attribute whose value is, or contains, an
//! unknown is never guessed: it goes to `Resource::uncollected`.

use serde_json::{Map, Number, Value};
use std::collections::BTreeMap;

/// A value produced by evaluating an IaC expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    Null,
    Bool(bool),
    Number(f64),
    String(String),
    /// Terraform lists, tuples and sets; CloudFormation lists.
    List(Vec<Val>),
    /// Terraform maps and objects; CloudFormation mappings. Nested blocks of
    /// a resource appear as `name → List(Map, …)`, one map per block.
    Map(BTreeMap<String, Val>),
    /// Not known at build time.
    Unknown(Unknown),
}

/// Why a value is not known: the source text of the expression (e.g.
/// `aws_s3_bucket.logs.id`, `var.name`, `uuid()`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Unknown {
    pub expr: String,
}

impl Unknown {
    /// The reason recorded in `Resource::uncollected`.
    pub fn reason(&self) -> String {
        format!("value not known at build time: {}", self.expr)
    }
}

impl Val {
    /// An unknown value produced by the expression `expr`.
    pub fn unknown(expr: impl Into<String>) -> Val {
        Val::Unknown(Unknown { expr: expr.into() })
    }

    pub fn string(s: impl Into<String>) -> Val {
        Val::String(s.into())
    }

    /// The first unknown inside this value (itself, an element or an entry),
    /// if any.
    pub fn first_unknown(&self) -> Option<&Unknown> {
        match self {
            Val::Unknown(u) => Some(u),
            Val::List(items) => items.iter().find_map(Val::first_unknown),
            Val::Map(m) => m.values().find_map(Val::first_unknown),
            _ => None,
        }
    }

    /// True when neither this value nor anything inside it is unknown.
    pub fn is_known(&self) -> bool {
        self.first_unknown().is_none()
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Val::Null)
    }

    /// The Terraform type name, for error messages (`string`, `number`, …).
    pub fn type_name(&self) -> &'static str {
        match self {
            Val::Null => "null",
            Val::Bool(_) => "bool",
            Val::Number(_) => "number",
            Val::String(_) => "string",
            Val::List(_) => "list",
            Val::Map(_) => "object",
            Val::Unknown(_) => "unknown",
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Val::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Val::Bool(b) => Some(*b),
            _ => None,
        }
    }

    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Val::Number(n) => Some(*n),
            _ => None,
        }
    }

    pub fn as_list(&self) -> Option<&[Val]> {
        match self {
            Val::List(items) => Some(items),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&BTreeMap<String, Val>> {
        match self {
            Val::Map(m) => Some(m),
            _ => None,
        }
    }

    /// The entry `key` of a map; `None` for other values.
    pub fn get(&self, key: &str) -> Option<&Val> {
        self.as_map().and_then(|m| m.get(key))
    }

    /// The value at a dotted path of map keys (`versioning_configuration.status`
    /// does not descend into block lists; use [`Val::blocks`] for those).
    pub fn path(&self, path: &str) -> Option<&Val> {
        path.split('.').try_fold(self, |v, k| v.get(k))
    }

    /// The nested blocks `name` of a resource or block value (each a map);
    /// empty when there are none. A single map is returned as one block.
    pub fn blocks(&self, name: &str) -> Vec<&Val> {
        match self.get(name) {
            Some(Val::List(items)) => items.iter().filter(|v| v.as_map().is_some()).collect(),
            Some(v @ Val::Map(_)) => vec![v],
            _ => Vec::new(),
        }
    }

    /// The string form Terraform's `tostring` and template interpolation
    /// use for primitives; `None` for collections, null and unknowns.
    pub fn to_display(&self) -> Option<String> {
        match self {
            Val::String(s) => Some(s.clone()),
            Val::Bool(b) => Some(b.to_string()),
            Val::Number(n) => Some(number_text(*n)),
            _ => None,
        }
    }

    /// The JSON form, or the first unknown inside.
    pub fn to_json(&self) -> Result<Value, &Unknown> {
        Ok(match self {
            Val::Null => Value::Null,
            Val::Bool(b) => Value::Bool(*b),
            Val::Number(n) => number_json(*n),
            Val::String(s) => Value::String(s.clone()),
            Val::List(items) => Value::Array(
                items
                    .iter()
                    .map(Val::to_json)
                    .collect::<Result<Vec<_>, _>>()?,
            ),
            Val::Map(m) => {
                let mut out = Map::new();
                for (k, v) in m {
                    out.insert(k.clone(), v.to_json()?);
                }
                Value::Object(out)
            }
            Val::Unknown(u) => return Err(u),
        })
    }

    /// The value of a JSON document (plan JSON, CloudFormation JSON).
    pub fn from_json(v: &Value) -> Val {
        match v {
            Value::Null => Val::Null,
            Value::Bool(b) => Val::Bool(*b),
            Value::Number(n) => Val::Number(n.as_f64().unwrap_or(0.0)),
            Value::String(s) => Val::String(s.clone()),
            Value::Array(items) => Val::List(items.iter().map(Val::from_json).collect()),
            Value::Object(m) => Val::Map(
                m.iter()
                    .map(|(k, v)| (k.clone(), Val::from_json(v)))
                    .collect(),
            ),
        }
    }
}

/// Integral numbers print without a fraction, as Terraform prints them.
pub fn number_text(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    }
}

/// Integral numbers become JSON integers, so that controls compare
/// `from_port == 22` with the live collectors' integers.
pub fn number_json(n: f64) -> Value {
    if n.fract() == 0.0 && n.abs() < 9.0e15 {
        Value::Number(Number::from(n as i64))
    } else {
        Number::from_f64(n).map_or(Value::Null, Value::Number)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_round_trip_keeps_integers_integral() {
        let j = json!({"a": [1, 2.5, "x", true, null], "b": {"c": 3}});
        assert_eq!(Val::from_json(&j).to_json().ok(), Some(j));
    }

    #[test]
    fn an_unknown_inside_is_found_and_blocks_json() {
        let v = Val::List(vec![Val::Number(1.0), Val::unknown("var.x")]);
        assert!(!v.is_known());
        assert_eq!(
            v.to_json().err().map(|u| u.expr.clone()),
            Some("var.x".into())
        );
        assert_eq!(
            Unknown {
                expr: "var.x".into()
            }
            .reason(),
            "value not known at build time: var.x"
        );
    }
}
