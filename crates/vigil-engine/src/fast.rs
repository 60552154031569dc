//! A compiled evaluator for control expressions, for throughput.
//!
//! `cel-interpreter` is the reference semantics of Vigil's controls, but it is
//! slow for the engine's workload: every resource's JSON attributes have to be
//! converted into CEL maps before a single expression runs, every function call
//! clones its argument ASTs, every variable insert allocates a string, every
//! comprehension builds a `HashMap` scope and `has()` scans a map's keys.
//!
//! This module compiles the `cel_parser` AST once per control into a tree that
//! evaluates directly over the resource's borrowed `serde_json` attributes:
//! values are a small enum that borrows strings, lists and objects from the
//! resource ([`V`]), comprehension variables live in a small vector of slots
//! resolved at compile time, parameters are constants, constant
//! sub-expressions (e.g. `duration(string(params.days * 24) + 'h')`) are folded,
//! and constant regular expressions are compiled once.
//!
//! The interpreter stays the reference and the fallback:
//! - it defines the semantics mirrored here, quirks included (truthiness of
//!   `!`, `&&`, `||` and `?:`, left-to-right short-circuits that let a left
//!   error through, `null` from out-of-range indexes and missing map keys, the
//!   `Missing argument or target` error when the argument of `size(x)` fails,
//!   error messages with the values in them, …);
//! - a construct this compiler does not support makes [`compile`] return
//!   `None`, and the engine runs the interpreter for that expression;
//! - rare shapes met at run time (a function value from selecting a missing
//!   field named like a function, bytes) end the fast evaluation with
//!   [`Fail::Deopt`], and the engine runs the interpreter for that expression
//!   on that resource;
//! - unusual operand types of functions (e.g. `string(duration)`, `int('x')`,
//!   `max(...)`, the time getters) are handed to the interpreter's own
//!   functions with the already evaluated values ("delegation"), so their
//!   results and error messages are the reference's.
//!
//! A differential test (`src/differential.rs`) runs every shipped control over
//! every fixture and many mutated variants with both evaluators and requires
//! identical evaluations.

use crate::cel;
use crate::control::ParamValue;
use cel_interpreter::objects::{Key, Map as CelMap};
use cel_interpreter::{Context, ExecutionError, Program as CelProgram, Value};
use cel_parser::ast::{operators as op, CallExpr, ComprehensionExpr, EntryExpr, Expr, IdedExpr};
use cel_parser::reference::Val;
use chrono::{DateTime, FixedOffset, TimeDelta};
use serde_json::Value as J;
use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use vigil_model::Resource;

type JMap = serde_json::Map<String, J>;
type Ts = DateTime<FixedOffset>;

/// A value during evaluation. Strings, lists and objects of the resource are
/// borrowed; constants of the program are borrowed through [`V::Ref`].
#[derive(Clone, Debug)]
pub enum V<'a> {
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    /// A borrowed string (from the resource or the program).
    Str(&'a str),
    /// A string computed during evaluation, or a constant's string.
    OStr(Arc<str>),
    /// A JSON array of the resource.
    JList(&'a [J]),
    /// A JSON object of the resource.
    JMap(&'a JMap),
    /// The resource's tags (`meta.tags`).
    Tags(&'a BTreeMap<String, String>),
    /// A computed list, or a constant's.
    List(Arc<Vec<V<'a>>>),
    /// A computed map, or a constant's: keys are `Int`, `UInt`, `Bool` or
    /// strings, each at most once (compared exactly, as CEL map keys are).
    Map(Arc<Vec<(V<'a>, V<'a>)>>),
    Ts(Ts),
    Dur(TimeDelta),
    /// A constant of the program, borrowed without touching its reference
    /// counts (which threads share).
    Ref(&'a V<'static>),
}

/// Why a fast evaluation stopped without a value.
#[derive(Debug)]
pub enum Fail {
    /// The error the interpreter gives for the same expression and data.
    Exec(Box<ExecutionError>),
    /// The interpreter panics on this data (e.g. a comprehension over null);
    /// the engine reports that as it reports the interpreter's panics.
    Panic,
    /// A shape this evaluator does not mirror: run the interpreter instead.
    Deopt,
}

type R<'a> = Result<V<'a>, Fail>;

fn exec(e: ExecutionError) -> Fail {
    Fail::Exec(Box::new(e))
}

fn no_such_key(field: &str) -> Fail {
    exec(ExecutionError::NoSuchKey(Arc::new(field.to_string())))
}

/// The fields of `meta`, as the engine binds it for the interpreter.
const META_FIELDS: &[&str] = &[
    "id", "name", "type", "account", "region", "provider", "service", "tags",
];

/// A field of a JSON object. Resources' objects are small, and comparing a
/// few keys is cheaper than hashing one with SipHash.
#[inline]
fn get_field<'a>(m: &'a JMap, name: &str) -> Option<&'a J> {
    if m.len() <= 16 {
        m.iter().find(|(k, _)| k.as_str() == name).map(|(_, v)| v)
    } else {
        m.get(name)
    }
}

/// Converts a JSON value the way the engine converts attributes for the
/// interpreter (`cel::from_json`), but borrowing.
#[inline]
fn from_json(j: &J) -> V<'_> {
    match j {
        J::Null => V::Null,
        J::Bool(b) => V::Bool(*b),
        J::Number(n) => match n.as_i64() {
            Some(i) => V::Int(i),
            None => match n.as_u64() {
                Some(u) => V::UInt(u),
                None => V::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
        },
        J::String(s) => V::Str(s),
        J::Array(a) => V::JList(a),
        J::Object(m) => V::JMap(m),
    }
}

/// A constant of the program as a value: scalars by copy, the rest by
/// reference.
#[inline]
fn borrow_const<'a>(c: &'a V<'static>) -> V<'a> {
    match c {
        V::Null => V::Null,
        V::Bool(b) => V::Bool(*b),
        V::Int(i) => V::Int(*i),
        V::UInt(u) => V::UInt(*u),
        V::Float(f) => V::Float(*f),
        V::Ts(t) => V::Ts(*t),
        V::Dur(d) => V::Dur(*d),
        V::Str(s) => V::Str(s),
        V::Ref(r) => V::Ref(r),
        _ => V::Ref(c),
    }
}

impl<'a> V<'a> {
    /// The value itself, with a constant reference resolved.
    #[inline]
    fn view(&self) -> &V<'a> {
        match self {
            V::Ref(c) => c,
            v => v,
        }
    }

    /// A string that lives as long as the data or the program.
    fn str_a(&self) -> Option<&'a str> {
        match self {
            V::Str(s) => Some(*s),
            V::Ref(c) => {
                let c: &'a V<'static> = c;
                match c {
                    V::OStr(s) => Some(&**s),
                    V::Str(s) => Some(*s),
                    _ => None,
                }
            }
            _ => None,
        }
    }

    #[inline]
    fn as_str(&self) -> Option<&str> {
        match self {
            V::Str(s) => Some(s),
            V::OStr(s) => Some(s),
            V::Ref(c) => c.as_str(),
            _ => None,
        }
    }

    /// The interpreter's `to_bool`: the truthiness that `!`, `&&`, `||`, `?:`
    /// and comprehension conditions use.
    fn truthy(&self) -> bool {
        match self.view() {
            V::Null => false,
            V::Bool(b) => *b,
            V::Int(i) => *i != 0,
            V::UInt(u) => *u != 0,
            V::Float(f) => *f != 0.0,
            V::Str(s) => !s.is_empty(),
            V::OStr(s) => !s.is_empty(),
            V::JList(l) => !l.is_empty(),
            V::JMap(m) => !m.is_empty(),
            V::Tags(t) => !t.is_empty(),
            V::List(l) => !l.is_empty(),
            V::Map(m) => !m.is_empty(),
            V::Dur(d) => d.num_nanoseconds().map(|n| n != 0).unwrap_or(false),
            V::Ts(t) => t.timestamp_nanos_opt().unwrap_or_default() > 0,
            V::Ref(_) => false,
        }
    }

    fn list_len(&self) -> Option<usize> {
        match self.view() {
            V::JList(l) => Some(l.len()),
            V::List(l) => Some(l.len()),
            _ => None,
        }
    }

    fn item(&self, i: usize) -> Option<V<'a>> {
        match self {
            V::JList(l) => {
                let l: &'a [J] = l;
                l.get(i).map(from_json)
            }
            V::List(l) => l.get(i).cloned(),
            V::Ref(c) => {
                let c: &'a V<'static> = c;
                match c {
                    V::List(l) => l.get(i).map(borrow_const),
                    _ => None,
                }
            }
            _ => None,
        }
    }

    fn is_map(&self) -> bool {
        matches!(self.view(), V::JMap(_) | V::Tags(_) | V::Map(_))
    }

    fn map_len(&self) -> Option<usize> {
        match self.view() {
            V::JMap(m) => Some(m.len()),
            V::Tags(t) => Some(t.len()),
            V::Map(m) => Some(m.len()),
            _ => None,
        }
    }

    /// A map's value for `key`: exactly (as `HashMap::get` and `contains_key`
    /// in the interpreter) or, with `cross`, also trying the int/uint key of
    /// the same number (as its `Map::get`, which indexing uses).
    fn lookup(&self, key: &V<'_>, cross: bool) -> Option<V<'a>> {
        match self {
            V::JMap(m) => {
                let m: &'a JMap = m;
                key.as_str().and_then(|k| get_field(m, k)).map(from_json)
            }
            V::Tags(t) => {
                let t: &'a BTreeMap<String, String> = t;
                key.as_str().and_then(|k| t.get(k)).map(|s| V::Str(s))
            }
            V::Map(m) => find_key(m, key, cross).cloned(),
            V::Ref(c) => {
                let c: &'a V<'static> = c;
                match c {
                    V::Map(m) => find_key(m, key, cross).map(borrow_const),
                    _ => None,
                }
            }
            _ => None,
        }
    }

    /// A field of a map, for `a.b` (`None` when `self` is no map or lacks it).
    #[inline]
    fn field(&self, name: &str) -> Option<V<'a>> {
        match self {
            V::JMap(m) => {
                let m: &'a JMap = m;
                get_field(m, name).map(from_json)
            }
            V::Tags(t) => {
                let t: &'a BTreeMap<String, String> = t;
                t.get(name).map(|s| V::Str(s))
            }
            _ => self.lookup(&V::Str(name), false),
        }
    }

    /// The keys of a map, in its order.
    fn map_keys(&self) -> Option<Vec<V<'a>>> {
        match self {
            V::JMap(m) => {
                let m: &'a JMap = m;
                Some(m.keys().map(|k| V::Str(k)).collect())
            }
            V::Tags(t) => {
                let t: &'a BTreeMap<String, String> = t;
                Some(t.keys().map(|k| V::Str(k)).collect())
            }
            V::Map(m) => Some(m.iter().map(|(k, _)| k.clone()).collect()),
            V::Ref(c) => {
                let c: &'a V<'static> = c;
                match c {
                    V::Map(m) => Some(m.iter().map(|(k, _)| borrow_const(k)).collect()),
                    _ => None,
                }
            }
            _ => None,
        }
    }

    fn map_entries(&self) -> Option<Vec<(V<'a>, V<'a>)>> {
        let keys = self.map_keys()?;
        Some(
            keys.into_iter()
                .filter_map(|k| self.lookup(&k, false).map(|v| (k, v)))
                .collect(),
        )
    }

    /// Whether `has(self.<name>)` holds: the interpreter compares each key's
    /// display form with the name.
    fn has_field(&self, name: &str) -> bool {
        match self.view() {
            V::JMap(m) => m.contains_key(name),
            V::Tags(t) => t.contains_key(name),
            V::Map(m) => m.iter().any(|(k, _)| key_display(k) == name),
            _ => false,
        }
    }
}

/// Whether a value may be a map key (the interpreter's `Key`).
fn is_key(v: &V<'_>) -> bool {
    matches!(
        v.view(),
        V::Int(_) | V::UInt(_) | V::Bool(_) | V::Str(_) | V::OStr(_)
    )
}

/// Key equality as the interpreter's `Key`: by kind, then value.
fn key_eq(a: &V<'_>, b: &V<'_>) -> bool {
    match (a.view(), b.view()) {
        (V::Int(x), V::Int(y)) => x == y,
        (V::UInt(x), V::UInt(y)) => x == y,
        (V::Bool(x), V::Bool(y)) => x == y,
        (x, y) => matches!((x.as_str(), y.as_str()), (Some(p), Some(q)) if p == q),
    }
}

fn find_key<'m, 'v>(m: &'m [(V<'v>, V<'v>)], key: &V<'_>, cross: bool) -> Option<&'m V<'v>> {
    if let Some((_, v)) = m.iter().find(|(k, _)| key_eq(k, key)) {
        return Some(v);
    }
    if !cross {
        return None;
    }
    let other = match key.view() {
        V::Int(i) => V::UInt(u64::try_from(*i).ok()?),
        V::UInt(u) => V::Int(i64::try_from(*u).ok()?),
        _ => return None,
    };
    m.iter().find(|(k, _)| key_eq(k, &other)).map(|(_, v)| v)
}

fn key_display(k: &V<'_>) -> String {
    match k.view() {
        V::Int(i) => i.to_string(),
        V::UInt(u) => u.to_string(),
        V::Bool(b) => b.to_string(),
        other => other.as_str().unwrap_or_default().to_string(),
    }
}

/// Equality as the interpreter's `PartialEq for Value`: numbers compare across
/// kinds, lists element-wise, maps by exact keys, anything else of different
/// kinds is unequal (never an error).
fn veq(a: &V<'_>, b: &V<'_>) -> bool {
    let (a, b) = (a.view(), b.view());
    match (a, b) {
        (V::Null, V::Null) => true,
        (V::Bool(x), V::Bool(y)) => x == y,
        (V::Int(x), V::Int(y)) => x == y,
        (V::UInt(x), V::UInt(y)) => x == y,
        (V::Float(x), V::Float(y)) => x == y,
        (V::Int(x), V::UInt(y)) => u64::try_from(*x).map(|x| x == *y).unwrap_or(false),
        (V::UInt(x), V::Int(y)) => i64::try_from(*x).map(|x| x == *y).unwrap_or(false),
        (V::Int(x), V::Float(y)) => (*x as f64) == *y,
        (V::Float(x), V::Int(y)) => *x == (*y as f64),
        (V::UInt(x), V::Float(y)) => (*x as f64) == *y,
        (V::Float(x), V::UInt(y)) => *x == (*y as f64),
        (V::Ts(x), V::Ts(y)) => x == y,
        (V::Dur(x), V::Dur(y)) => x == y,
        _ => {
            if let (Some(x), Some(y)) = (a.as_str(), b.as_str()) {
                return x == y;
            }
            if let (Some(n), Some(m)) = (a.list_len(), b.list_len()) {
                return n == m
                    && (0..n).all(|i| match (a.item(i), b.item(i)) {
                        (Some(x), Some(y)) => veq(&x, &y),
                        _ => false,
                    });
            }
            if a.is_map() && b.is_map() {
                return a.map_len() == b.map_len()
                    && a.map_entries().is_some_and(|entries| {
                        entries
                            .iter()
                            .all(|(k, v)| b.lookup(k, false).is_some_and(|w| veq(v, &w)))
                    });
            }
            false
        }
    }
}

/// Ordering as the interpreter's `PartialOrd for Value`; `None` is an error.
fn vcmp(a: &V<'_>, b: &V<'_>) -> Option<Ordering> {
    let (a, b) = (a.view(), b.view());
    match (a, b) {
        (V::Int(x), V::Int(y)) => Some(x.cmp(y)),
        (V::UInt(x), V::UInt(y)) => Some(x.cmp(y)),
        (V::Float(x), V::Float(y)) => x.partial_cmp(y),
        (V::Bool(x), V::Bool(y)) => Some(x.cmp(y)),
        (V::Null, V::Null) => Some(Ordering::Equal),
        (V::Dur(x), V::Dur(y)) => Some(x.cmp(y)),
        (V::Ts(x), V::Ts(y)) => Some(x.cmp(y)),
        (V::Int(x), V::UInt(y)) => Some(
            u64::try_from(*x)
                .map(|x| x.cmp(y))
                .unwrap_or(Ordering::Less),
        ),
        (V::UInt(x), V::Int(y)) => Some(
            i64::try_from(*x)
                .map(|x| x.cmp(y))
                .unwrap_or(Ordering::Greater),
        ),
        (V::Int(x), V::Float(y)) => (*x as f64).partial_cmp(y),
        (V::UInt(x), V::Float(y)) => (*x as f64).partial_cmp(y),
        (V::Float(x), V::Int(y)) => x.partial_cmp(&(*y as f64)),
        (V::Float(x), V::UInt(y)) => x.partial_cmp(&(*y as f64)),
        _ => match (a.as_str(), b.as_str()) {
            (Some(x), Some(y)) => Some(x.cmp(y)),
            _ => None,
        },
    }
}

/// Converts to the interpreter's value (for errors, delegation and tests).
pub fn to_cel(v: &V<'_>) -> Value {
    match v {
        V::Null => Value::Null,
        V::Bool(b) => Value::Bool(*b),
        V::Int(i) => Value::Int(*i),
        V::UInt(u) => Value::UInt(*u),
        V::Float(f) => Value::Float(*f),
        V::Str(s) => Value::String(Arc::new(s.to_string())),
        V::OStr(s) => Value::String(Arc::new(s.to_string())),
        V::JList(l) => Value::List(Arc::new(l.iter().map(cel::from_json).collect())),
        V::JMap(m) => cel::map_value(m.iter().map(|(k, v)| (k.as_str(), cel::from_json(v)))),
        V::Tags(t) => cel::map_value(
            t.iter()
                .map(|(k, v)| (k.as_str(), Value::String(Arc::new(v.clone())))),
        ),
        V::List(l) => Value::List(Arc::new(l.iter().map(to_cel).collect())),
        V::Map(m) => {
            let map: HashMap<Key, Value> = m
                .iter()
                .filter_map(|(k, v)| {
                    let key = match to_cel(k) {
                        Value::Int(i) => Key::Int(i),
                        Value::UInt(u) => Key::Uint(u),
                        Value::Bool(b) => Key::Bool(b),
                        Value::String(s) => Key::String(s),
                        _ => return None,
                    };
                    Some((key, to_cel(v)))
                })
                .collect();
            Value::Map(CelMap { map: Arc::new(map) })
        }
        V::Ts(t) => Value::Timestamp(*t),
        V::Dur(d) => Value::Duration(*d),
        V::Ref(c) => to_cel(c),
    }
}

/// Converts an interpreter value back; function values and bytes are shapes
/// this evaluator does not carry.
fn from_cel(v: Value) -> Result<V<'static>, Fail> {
    Ok(match v {
        Value::Null => V::Null,
        Value::Bool(b) => V::Bool(b),
        Value::Int(i) => V::Int(i),
        Value::UInt(u) => V::UInt(u),
        Value::Float(f) => V::Float(f),
        Value::String(s) => V::OStr(Arc::from(s.as_str())),
        Value::List(l) => V::List(Arc::new(
            l.iter().cloned().map(from_cel).collect::<Result<_, _>>()?,
        )),
        Value::Map(m) => {
            let mut entries = Vec::with_capacity(m.map.len());
            for (k, v) in m.map.iter() {
                entries.push((from_cel(Value::from(k))?, from_cel(v.clone())?));
            }
            V::Map(Arc::new(entries))
        }
        Value::Timestamp(t) => V::Ts(t),
        Value::Duration(d) => V::Dur(d),
        Value::Bytes(_) | Value::Function(..) => return Err(Fail::Deopt),
    })
}

/// Detaches a value from what it borrows, for constants.
fn into_static(v: &V<'_>) -> V<'static> {
    match v {
        V::Null => V::Null,
        V::Bool(b) => V::Bool(*b),
        V::Int(i) => V::Int(*i),
        V::UInt(u) => V::UInt(*u),
        V::Float(f) => V::Float(*f),
        V::Ts(t) => V::Ts(*t),
        V::Dur(d) => V::Dur(*d),
        V::Str(s) => V::OStr(Arc::from(*s)),
        V::OStr(s) => V::OStr(s.clone()),
        V::Ref(c) => (*c).clone(),
        V::JList(_) | V::List(_) => {
            let n = v.list_len().unwrap_or(0);
            V::List(Arc::new(
                (0..n)
                    .filter_map(|i| v.item(i))
                    .map(|x| into_static(&x))
                    .collect(),
            ))
        }
        V::JMap(_) | V::Tags(_) | V::Map(_) => V::Map(Arc::new(
            v.map_entries()
                .unwrap_or_default()
                .iter()
                .map(|(k, x)| (into_static(k), into_static(x)))
                .collect(),
        )),
    }
}

/// Renders a value for evidence exactly as `cel::render` renders the
/// interpreter's value: strings as they are, the rest as compact JSON with
/// map keys sorted.
pub fn render(v: &V<'_>) -> String {
    if let Some(s) = v.as_str() {
        return s.to_string();
    }
    let mut out = Vec::with_capacity(64);
    write_v(&mut out, v);
    String::from_utf8(out).unwrap_or_else(|_| to_json(v).to_string())
}

// Writing compact JSON directly, as `to_json(v).to_string()` would print it,
// without building the intermediate tree.

fn write_scalar(out: &mut Vec<u8>, j: &J) {
    // Writing into a vector cannot fail, and a scalar always serializes.
    let _ = serde_json::to_writer(&mut *out, j);
}

fn write_str(out: &mut Vec<u8>, s: &str) {
    let _ = serde_json::to_writer(&mut *out, s);
}

fn write_object<'k>(out: &mut Vec<u8>, entries: impl Iterator<Item = (&'k String, &'k J)>) {
    let mut entries: Vec<(&String, &J)> = entries.collect();
    entries.sort_by(|a, b| a.0.cmp(b.0));
    out.push(b'{');
    for (i, (k, v)) in entries.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_str(out, k);
        out.push(b':');
        write_j(out, v);
    }
    out.push(b'}');
}

fn write_j(out: &mut Vec<u8>, j: &J) {
    match j {
        J::Array(a) => {
            out.push(b'[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_j(out, x);
            }
            out.push(b']');
        }
        J::Object(m) => write_object(out, m.iter()),
        J::String(s) => write_str(out, s),
        other => write_scalar(out, other),
    }
}

fn write_v(out: &mut Vec<u8>, v: &V<'_>) {
    match v.view() {
        V::Str(s) => write_str(out, s),
        V::OStr(s) => write_str(out, s),
        V::JList(l) => write_j_list(out, l),
        V::JMap(m) => write_object(out, m.iter()),
        V::Tags(t) => {
            out.push(b'{');
            for (i, (k, v)) in t.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_str(out, k);
                out.push(b':');
                write_str(out, v);
            }
            out.push(b'}');
        }
        V::List(l) => {
            out.push(b'[');
            for (i, x) in l.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_v(out, x);
            }
            out.push(b']');
        }
        other => write_scalar(out, &to_json(other)),
    }
}

fn write_j_list(out: &mut Vec<u8>, l: &[J]) {
    out.push(b'[');
    for (i, x) in l.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_j(out, x);
    }
    out.push(b']');
}

fn sorted_json(j: &J) -> J {
    match j {
        J::Array(a) => J::Array(a.iter().map(sorted_json).collect()),
        J::Object(m) => {
            let mut entries: Vec<(String, J)> =
                m.iter().map(|(k, v)| (k.clone(), sorted_json(v))).collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            J::Object(entries.into_iter().collect())
        }
        other => other.clone(),
    }
}

fn to_json(v: &V<'_>) -> J {
    match v.view() {
        V::Null => J::Null,
        V::Bool(b) => J::Bool(*b),
        V::Int(i) => J::from(*i),
        V::UInt(u) => J::from(*u),
        V::Float(f) => J::from(*f),
        V::Str(s) => J::String(s.to_string()),
        V::OStr(s) => J::String(s.to_string()),
        V::JList(l) => J::Array(l.iter().map(sorted_json).collect()),
        V::JMap(m) => {
            let mut entries: Vec<(String, J)> =
                m.iter().map(|(k, v)| (k.clone(), sorted_json(v))).collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            J::Object(entries.into_iter().collect())
        }
        V::Tags(t) => J::Object(
            t.iter()
                .map(|(k, v)| (k.clone(), J::String(v.clone())))
                .collect(),
        ),
        V::List(l) => J::Array(l.iter().map(to_json).collect()),
        V::Map(m) => {
            let mut entries: Vec<(String, J)> = m
                .iter()
                .map(|(k, v)| (key_display(k), to_json(v)))
                .collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            J::Object(entries.into_iter().collect())
        }
        V::Ts(t) => J::String(t.to_rfc3339()),
        V::Dur(d) => J::String(format!("{}s", d.num_seconds())),
        V::Ref(c) => to_json(c),
    }
}

impl V<'_> {
    /// The boolean this value is, if it is one.
    pub fn as_bool(&self) -> Option<bool> {
        match self.view() {
            V::Bool(b) => Some(*b),
            _ => None,
        }
    }
}

// ---------------------------------------------------------------------------
// The compiled tree.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Bin {
    Add,
    Sub,
    Mul,
    Div,
    Rem,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    In,
    Index,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MetaField {
    Id,
    Name,
    Type,
    Account,
    Region,
    Provider,
    Service,
    Tags,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Func {
    Size,
    Contains,
    StartsWith,
    EndsWith,
    Matches,
    String,
    Int,
    UInt,
    Double,
    Timestamp,
    Duration,
    /// `getFullYear` and the other time getters: evaluated natively up to
    /// their target, then delegated.
    TimeGetter,
    /// `max` and `min`: arguments evaluated natively, then delegated.
    MaxMin,
}

#[derive(Debug)]
enum Node {
    Const(V<'static>),
    /// `resource`: the attributes.
    Resource,
    /// `now`: the run's time.
    Now,
    /// `resource.<field>`.
    Attr {
        field: Box<str>,
        func: bool,
    },
    Meta(MetaField),
    /// A comprehension variable, by slot.
    Var(usize),
    Select {
        operand: Box<Node>,
        field: Box<str>,
        /// The field is also a function's name: when it is missing, the
        /// interpreter makes a function value of it (see [`Fail::Deopt`]).
        func: bool,
    },
    Has {
        operand: Box<Node>,
        field: Box<str>,
    },
    And(Box<Node>, Box<Node>),
    Or(Box<Node>, Box<Node>),
    Not(Box<Node>),
    NotStrictlyFalse(Box<Node>),
    Neg(Box<Node>),
    Cond(Box<[Node; 3]>),
    Bin(Bin, Box<Node>, Box<Node>),
    List(Vec<Node>),
    Map(Vec<(Node, Node)>),
    Call(Box<Call>),
    Comp(Box<Comp>),
    Append(Box<Append>),
}

#[derive(Debug)]
struct Call {
    func: Func,
    target: Option<Node>,
    args: Vec<Node>,
    /// A regular expression compiled from a constant pattern.
    regex: Option<regex::Regex>,
    /// The same call over variables `t`, `a0`, `a1`, … for delegation.
    delegate: CelProgram,
}

/// A comprehension as the interpreter runs it.
#[derive(Debug)]
struct Comp {
    range: Node,
    init: Node,
    iter: usize,
    accu: usize,
    cond: Node,
    step: Node,
    result: Node,
}

/// The comprehension `map` and `filter` expand to (`@result + [elem]`, under
/// an optional filter), evaluated by pushing instead of concatenating.
#[derive(Debug)]
struct Append {
    range: Node,
    iter: usize,
    filter: Option<Node>,
    elem: Node,
}

struct Env<'a> {
    resource: Option<&'a Resource>,
    now: Option<Ts>,
    vars: Vec<V<'a>>,
}

/// A compiled expression.
#[derive(Debug)]
pub struct Program {
    root: Node,
    slots: usize,
}

impl Program {
    /// Evaluates the expression over a resource at the run's `now`.
    pub fn eval<'a>(&'a self, resource: &'a Resource, now: Ts) -> Result<V<'a>, Fail> {
        let mut env = Env {
            resource: Some(resource),
            now: Some(now),
            vars: vec![V::Null; self.slots],
        };
        self.root.eval(&mut env)
    }
}

impl Node {
    fn eval<'a>(&'a self, env: &mut Env<'a>) -> R<'a> {
        match self {
            Node::Const(c) => Ok(borrow_const(c)),
            Node::Now => env.now.map(V::Ts).ok_or(Fail::Deopt),
            Node::Resource => match env.resource {
                Some(r) => Ok(V::JMap(&r.attributes)),
                None => Err(Fail::Deopt),
            },
            Node::Attr { field, func } => {
                let Some(r) = env.resource else {
                    return Err(Fail::Deopt);
                };
                match get_field(&r.attributes, field) {
                    Some(j) => Ok(from_json(j)),
                    None if *func => Err(Fail::Deopt),
                    None => Err(no_such_key(field)),
                }
            }
            Node::Meta(m) => {
                let Some(r) = env.resource else {
                    return Err(Fail::Deopt);
                };
                Ok(match m {
                    MetaField::Id => V::Str(&r.id),
                    MetaField::Name => V::Str(&r.name),
                    MetaField::Type => V::Str(&r.resource_type),
                    MetaField::Account => V::Str(&r.account),
                    MetaField::Region => V::Str(&r.region),
                    MetaField::Provider => V::Str(r.provider.as_str()),
                    MetaField::Service => V::Str(&r.service),
                    MetaField::Tags => V::Tags(&r.tags),
                })
            }
            Node::Var(slot) => env.vars.get(*slot).cloned().ok_or(Fail::Deopt),
            Node::Select {
                operand,
                field,
                func,
            } => {
                let left = operand.eval(env)?;
                match left.field(field) {
                    Some(v) => Ok(v),
                    None if *func => Err(Fail::Deopt),
                    None => Err(no_such_key(field)),
                }
            }
            Node::Has { operand, field } => Ok(V::Bool(operand.eval(env)?.has_field(field))),
            Node::And(a, b) => {
                if !a.eval(env)?.truthy() {
                    return Ok(V::Bool(false));
                }
                Ok(V::Bool(b.eval(env)?.truthy()))
            }
            Node::Or(a, b) => {
                let left = a.eval(env)?;
                if left.truthy() {
                    Ok(left)
                } else {
                    b.eval(env)
                }
            }
            Node::Not(a) => Ok(V::Bool(!a.eval(env)?.truthy())),
            Node::NotStrictlyFalse(a) => Ok(V::Bool(a.eval(env)?.as_bool().unwrap_or(true))),
            Node::Neg(a) => {
                let v = a.eval(env)?;
                match v.view() {
                    V::Int(i) => Ok(V::Int(i.wrapping_neg())),
                    V::Float(f) => Ok(V::Float(-f)),
                    _ => Err(exec(ExecutionError::UnsupportedUnaryOperator(
                        "minus",
                        to_cel(&v),
                    ))),
                }
            }
            Node::Cond(parts) => {
                let [c, yes, no] = &**parts;
                if c.eval(env)?.truthy() {
                    yes.eval(env)
                } else {
                    no.eval(env)
                }
            }
            Node::Bin(op, a, b) => {
                let l = a.eval(env)?;
                let r = b.eval(env)?;
                binary(*op, l, r)
            }
            Node::List(items) => {
                let mut out = Vec::with_capacity(items.len());
                for i in items {
                    out.push(i.eval(env)?);
                }
                Ok(V::List(Arc::new(out)))
            }
            Node::Map(entries) => {
                let mut out: Vec<(V<'a>, V<'a>)> = Vec::with_capacity(entries.len());
                for (k, v) in entries {
                    let key = k.eval(env)?;
                    if !is_key(&key) {
                        return Err(exec(ExecutionError::UnsupportedKeyType(to_cel(&key))));
                    }
                    let value = v.eval(env)?;
                    match out.iter_mut().find(|(k, _)| key_eq(k, &key)) {
                        Some(slot) => slot.1 = value,
                        None => out.push((key, value)),
                    }
                }
                Ok(V::Map(Arc::new(out)))
            }
            Node::Call(call) => call.eval(env),
            Node::Comp(c) => c.eval(env),
            Node::Append(a) => a.eval(env),
        }
    }
}

/// The range of a comprehension: a list, or a map's keys.
enum Range<'a> {
    List(V<'a>, usize),
    Keys(Vec<V<'a>>),
}

impl<'a> Range<'a> {
    fn of(v: V<'a>) -> Result<Self, Fail> {
        if let Some(n) = v.list_len() {
            return Ok(Range::List(v, n));
        }
        match v.map_keys() {
            Some(keys) => Ok(Range::Keys(keys)),
            // The interpreter panics here (`todo!`).
            None => Err(Fail::Panic),
        }
    }

    fn len(&self) -> usize {
        match self {
            Range::List(_, n) => *n,
            Range::Keys(k) => k.len(),
        }
    }

    fn get(&self, i: usize) -> V<'a> {
        match self {
            Range::List(l, _) => l.item(i).unwrap_or(V::Null),
            Range::Keys(k) => k.get(i).cloned().unwrap_or(V::Null),
        }
    }
}

fn set<'a>(env: &mut Env<'a>, slot: usize, v: V<'a>) -> Result<(), Fail> {
    match env.vars.get_mut(slot) {
        Some(s) => {
            *s = v;
            Ok(())
        }
        None => Err(Fail::Deopt),
    }
}

impl Comp {
    fn eval<'a>(&'a self, env: &mut Env<'a>) -> R<'a> {
        let init = self.init.eval(env)?;
        let range = Range::of(self.range.eval(env)?)?;
        set(env, self.accu, init)?;
        for i in 0..range.len() {
            if !self.cond.eval(env)?.truthy() {
                break;
            }
            set(env, self.iter, range.get(i))?;
            let accu = self.step.eval(env)?;
            set(env, self.accu, accu)?;
        }
        self.result.eval(env)
    }
}

impl Append {
    fn eval<'a>(&'a self, env: &mut Env<'a>) -> R<'a> {
        let range = Range::of(self.range.eval(env)?)?;
        let mut out = Vec::new();
        for i in 0..range.len() {
            set(env, self.iter, range.get(i))?;
            if let Some(f) = &self.filter {
                if !f.eval(env)?.truthy() {
                    continue;
                }
            }
            out.push(self.elem.eval(env)?);
        }
        Ok(V::List(Arc::new(out)))
    }
}

fn overflow(op: &'static str, l: &V<'_>, r: &V<'_>) -> Fail {
    exec(ExecutionError::Overflow(op, to_cel(l), to_cel(r)))
}

fn unsupported(op: &'static str, l: &V<'_>, r: &V<'_>) -> Fail {
    exec(ExecutionError::UnsupportedBinaryOperator(
        op,
        to_cel(l),
        to_cel(r),
    ))
}

fn concat_str<'a>(x: &str, y: &str) -> V<'a> {
    let mut s = String::with_capacity(x.len() + y.len());
    s.push_str(x);
    s.push_str(y);
    V::OStr(Arc::from(s))
}

fn binary<'a>(op: Bin, l: V<'a>, r: V<'a>) -> R<'a> {
    match op {
        Bin::Eq => Ok(V::Bool(veq(&l, &r))),
        Bin::Ne => Ok(V::Bool(!veq(&l, &r))),
        Bin::Lt | Bin::Le | Bin::Gt | Bin::Ge => {
            let Some(ord) = vcmp(&l, &r) else {
                return Err(exec(ExecutionError::ValuesNotComparable(
                    to_cel(&l),
                    to_cel(&r),
                )));
            };
            Ok(V::Bool(match op {
                Bin::Lt => ord == Ordering::Less,
                Bin::Le => ord != Ordering::Greater,
                Bin::Gt => ord == Ordering::Greater,
                _ => ord != Ordering::Less,
            }))
        }
        Bin::In => {
            if let (Some(needle), Some(hay)) = (l.as_str(), r.as_str()) {
                return Ok(V::Bool(hay.contains(needle)));
            }
            if let Some(n) = r.list_len() {
                return Ok(V::Bool(
                    (0..n).any(|i| r.item(i).is_some_and(|x| veq(&x, &l))),
                ));
            }
            if r.is_map() {
                return Ok(V::Bool(is_key(&l) && r.lookup(&l, false).is_some()));
            }
            Err(exec(ExecutionError::ValuesNotComparable(
                to_cel(&l),
                to_cel(&r),
            )))
        }
        Bin::Index => index(l, r),
        Bin::Add => add(l, r),
        Bin::Sub => match (l.view(), r.view()) {
            (V::Int(x), V::Int(y)) => x
                .checked_sub(*y)
                .map(V::Int)
                .ok_or_else(|| overflow("sub", &l, &r)),
            (V::UInt(x), V::UInt(y)) => x
                .checked_sub(*y)
                .map(V::UInt)
                .ok_or_else(|| overflow("sub", &l, &r)),
            (V::Float(x), V::Float(y)) => Ok(V::Float(x - y)),
            (V::Dur(x), V::Dur(y)) => x
                .checked_sub(y)
                .map(V::Dur)
                .ok_or_else(|| overflow("sub", &l, &r)),
            (V::Ts(x), V::Dur(y)) => x
                .checked_sub_signed(*y)
                .map(V::Ts)
                .ok_or_else(|| overflow("sub", &l, &r)),
            (V::Ts(x), V::Ts(y)) => Ok(V::Dur(x.signed_duration_since(*y))),
            _ => Err(unsupported("sub", &l, &r)),
        },
        Bin::Mul => match (l.view(), r.view()) {
            (V::Int(x), V::Int(y)) => x
                .checked_mul(*y)
                .map(V::Int)
                .ok_or_else(|| overflow("mul", &l, &r)),
            (V::UInt(x), V::UInt(y)) => x
                .checked_mul(*y)
                .map(V::UInt)
                .ok_or_else(|| overflow("mul", &l, &r)),
            (V::Float(x), V::Float(y)) => Ok(V::Float(x * y)),
            _ => Err(unsupported("mul", &l, &r)),
        },
        Bin::Div => match (l.view(), r.view()) {
            (V::Int(x), V::Int(y)) => {
                if *y == 0 {
                    Err(exec(ExecutionError::DivisionByZero(Value::Int(*x))))
                } else {
                    x.checked_div(*y)
                        .map(V::Int)
                        .ok_or_else(|| overflow("div", &l, &r))
                }
            }
            (V::UInt(x), V::UInt(y)) => x
                .checked_div(*y)
                .map(V::UInt)
                .ok_or_else(|| exec(ExecutionError::DivisionByZero(Value::UInt(*x)))),
            (V::Float(x), V::Float(y)) => Ok(V::Float(x / y)),
            _ => Err(unsupported("div", &l, &r)),
        },
        Bin::Rem => match (l.view(), r.view()) {
            (V::Int(x), V::Int(y)) => {
                if *y == 0 {
                    Err(exec(ExecutionError::RemainderByZero(Value::Int(*x))))
                } else {
                    x.checked_rem(*y)
                        .map(V::Int)
                        .ok_or_else(|| overflow("rem", &l, &r))
                }
            }
            (V::UInt(x), V::UInt(y)) => x
                .checked_rem(*y)
                .map(V::UInt)
                .ok_or_else(|| exec(ExecutionError::RemainderByZero(Value::UInt(*x)))),
            _ => Err(unsupported("rem", &l, &r)),
        },
    }
}

fn add<'a>(l: V<'a>, r: V<'a>) -> R<'a> {
    match (l.view(), r.view()) {
        (V::Int(x), V::Int(y)) => x
            .checked_add(*y)
            .map(V::Int)
            .ok_or_else(|| overflow("add", &l, &r)),
        (V::UInt(x), V::UInt(y)) => x
            .checked_add(*y)
            .map(V::UInt)
            .ok_or_else(|| overflow("add", &l, &r)),
        (V::Float(x), V::Float(y)) => Ok(V::Float(x + y)),
        (V::Dur(x), V::Dur(y)) => x
            .checked_add(y)
            .map(V::Dur)
            .ok_or_else(|| overflow("add", &l, &r)),
        (V::Ts(x), V::Dur(y)) => x
            .checked_add_signed(*y)
            .map(V::Ts)
            .ok_or_else(|| overflow("add", &l, &r)),
        (V::Dur(x), V::Ts(y)) => y
            .checked_add_signed(*x)
            .map(V::Ts)
            .ok_or_else(|| overflow("add", &l, &r)),
        _ => {
            if let (Some(x), Some(y)) = (l.as_str(), r.as_str()) {
                return Ok(concat_str(x, y));
            }
            if let (Some(n), Some(m)) = (l.list_len(), r.list_len()) {
                let mut out = Vec::with_capacity(n + m);
                out.extend((0..n).filter_map(|i| l.item(i)));
                out.extend((0..m).filter_map(|i| r.item(i)));
                return Ok(V::List(Arc::new(out)));
            }
            Err(unsupported("add", &l, &r))
        }
    }
}

fn index<'a>(l: V<'a>, r: V<'a>) -> R<'a> {
    if l.list_len().is_some() {
        return match r.view() {
            V::Int(i) => Ok(l.item(*i as usize).unwrap_or(V::Null)),
            _ => Err(exec(ExecutionError::UnsupportedListIndex(to_cel(&r)))),
        };
    }
    if let (Some(s), V::Int(i)) = (l.as_str(), r.view()) {
        let (start, end) = (*i as usize, i.wrapping_add(1) as usize);
        if let Some(whole) = l.str_a() {
            return Ok(whole.get(start..end).map_or(V::Null, V::Str));
        }
        return Ok(s
            .get(start..end)
            .map_or(V::Null, |sub| V::OStr(Arc::from(sub))));
    }
    if l.is_map() {
        return match r.view() {
            V::Str(_) | V::OStr(_) | V::Bool(_) | V::Int(_) | V::UInt(_) => {
                Ok(l.lookup(&r, true).unwrap_or(V::Null))
            }
            _ => Err(exec(ExecutionError::UnsupportedMapIndex(to_cel(&r)))),
        };
    }
    Err(exec(ExecutionError::UnsupportedIndex(
        to_cel(&l),
        to_cel(&r),
    )))
}

// ---------------------------------------------------------------------------
// Function calls.

thread_local! {
    /// The interpreter's context for delegated calls, one per thread.
    static SCRATCH: std::cell::RefCell<Context<'static>> = std::cell::RefCell::new(Context::default());
}

const ARG_NAMES: &[&str] = &["a0", "a1", "a2", "a3", "a4", "a5", "a6", "a7"];

impl Call {
    /// The interpreter evaluates the first argument of any call with one or
    /// two arguments before it looks at the function (its operators take one
    /// or two), so that argument's errors come first, before the target's.
    /// The function then evaluates it again, to the same value.
    fn first<'a>(&'a self, env: &mut Env<'a>) -> Result<Option<V<'a>>, Fail> {
        match self.args.len() {
            1 | 2 => self.args[0].eval(env).map(Some),
            _ => Ok(None),
        }
    }

    /// Argument `i`, reusing the first argument's value.
    fn arg<'a>(&'a self, i: usize, first: &Option<V<'a>>, env: &mut Env<'a>) -> R<'a> {
        match (i, first) {
            (0, Some(v)) => Ok(v.clone()),
            _ => match self.args.get(i) {
                Some(a) => a.eval(env),
                None => Err(exec(ExecutionError::MissingArgumentOrTarget)),
            },
        }
    }

    /// The value a `This` parameter of the interpreter's functions sees (the
    /// target, or else the first argument) and the index of the argument
    /// after it.
    fn this<'a>(
        &'a self,
        first: &Option<V<'a>>,
        env: &mut Env<'a>,
    ) -> Result<(V<'a>, usize), Fail> {
        match &self.target {
            Some(t) => Ok((t.eval(env)?, 0)),
            None => Ok((self.arg(0, first, env)?, 1)),
        }
    }

    /// Runs the interpreter's function on values already evaluated. `this` is
    /// the target (or first argument) and `rest` the further arguments; those
    /// the interpreter would not have reached are null.
    fn delegate<'a>(&self, this: Option<&V<'_>>, rest: &[V<'_>]) -> R<'a> {
        let mut vars: Vec<(&str, Value)> = Vec::with_capacity(rest.len() + 1);
        let mut args = rest.iter();
        match (&self.target, this) {
            (Some(_), Some(t)) => vars.push(("t", to_cel(t))),
            (Some(_), None) => return Err(Fail::Deopt),
            (None, Some(t)) => vars.push(("a0", to_cel(t))),
            (None, None) => {}
        }
        let first = vars.iter().filter(|(n, _)| n.starts_with('a')).count();
        for name in ARG_NAMES.iter().skip(first) {
            match args.next() {
                Some(v) => vars.push((name, to_cel(v))),
                None => break,
            }
        }
        SCRATCH.with(|scratch| {
            let Ok(mut ctx) = scratch.try_borrow_mut() else {
                return Err(Fail::Deopt);
            };
            for (name, value) in vars {
                ctx.add_variable_from_value(name, value);
            }
            let ctx = &*ctx;
            match cel::quietly(|| self.delegate.execute(ctx)) {
                Some(Ok(v)) => from_cel(v),
                Some(Err(e)) => Err(exec(e)),
                None => Err(Fail::Panic),
            }
        })
    }

    fn eval<'a>(&'a self, env: &mut Env<'a>) -> R<'a> {
        let first = self.first(env)?;
        match self.func {
            Func::Size => {
                let (this, _) = self.this(&first, env)?;
                if let Some(n) = this.list_len().or_else(|| this.map_len()) {
                    return Ok(V::Int(n as i64));
                }
                match this.as_str() {
                    Some(s) => Ok(V::Int(s.len() as i64)),
                    None => self.delegate(Some(&this), &[]),
                }
            }
            Func::Contains => {
                let (this, next) = self.this(&first, env)?;
                let arg = self.arg(next, &first, env)?;
                if let Some(s) = this.as_str() {
                    return Ok(V::Bool(arg.as_str().is_some_and(|a| s.contains(a))));
                }
                if let Some(n) = this.list_len() {
                    return Ok(V::Bool(
                        (0..n).any(|i| this.item(i).is_some_and(|x| veq(&x, &arg))),
                    ));
                }
                if this.is_map() {
                    if !is_key(&arg) {
                        return self.delegate(Some(&this), &[arg]);
                    }
                    return Ok(V::Bool(this.lookup(&arg, false).is_some()));
                }
                Ok(V::Bool(false))
            }
            Func::StartsWith | Func::EndsWith | Func::Matches => {
                let (this, next) = self.this(&first, env)?;
                if this.as_str().is_none() {
                    return self.delegate(Some(&this), &[V::Null]);
                }
                let arg = self.arg(next, &first, env)?;
                let (Some(s), Some(a)) = (this.as_str(), arg.as_str()) else {
                    return self.delegate(Some(&this), &[arg]);
                };
                Ok(V::Bool(match self.func {
                    Func::StartsWith => s.starts_with(a),
                    Func::EndsWith => s.ends_with(a),
                    _ => match &self.regex {
                        Some(re) => re.is_match(s),
                        None => match regex::Regex::new(a) {
                            Ok(re) => re.is_match(s),
                            Err(_) => return self.delegate(Some(&this), &[arg]),
                        },
                    },
                }))
            }
            Func::String => {
                let (this, _) = self.this(&first, env)?;
                match this.view() {
                    V::Str(_) | V::OStr(_) => Ok(this),
                    V::Int(i) => Ok(V::OStr(Arc::from(i.to_string()))),
                    V::UInt(u) => Ok(V::OStr(Arc::from(u.to_string()))),
                    V::Float(f) => Ok(V::OStr(Arc::from(f.to_string()))),
                    V::Ts(t) => Ok(V::OStr(Arc::from(t.to_rfc3339()))),
                    _ => self.delegate(Some(&this), &[]),
                }
            }
            Func::Int => {
                let (this, _) = self.this(&first, env)?;
                match this.view() {
                    V::Int(i) => Ok(V::Int(*i)),
                    _ => self.delegate(Some(&this), &[]),
                }
            }
            Func::UInt => {
                let (this, _) = self.this(&first, env)?;
                match this.view() {
                    V::UInt(u) => Ok(V::UInt(*u)),
                    _ => self.delegate(Some(&this), &[]),
                }
            }
            Func::Double => {
                let (this, _) = self.this(&first, env)?;
                match this.view() {
                    V::Float(f) => Ok(V::Float(*f)),
                    V::Int(i) => Ok(V::Float(*i as f64)),
                    V::UInt(u) => Ok(V::Float(*u as f64)),
                    _ => self.delegate(Some(&this), &[]),
                }
            }
            Func::Timestamp => {
                // A plain parameter: errors of the argument pass as they are.
                let arg = self.arg(0, &first, env)?;
                match arg.as_str() {
                    Some(s) => DateTime::parse_from_rfc3339(s).map(V::Ts).map_err(|e| {
                        exec(ExecutionError::function_error("timestamp", e.to_string()))
                    }),
                    None => self.delegate(None, &[arg]),
                }
            }
            Func::Duration => {
                let arg = self.arg(0, &first, env)?;
                match arg.as_str() {
                    Some(s) => {
                        match cel_interpreter::functions::duration(Arc::new(s.to_string())) {
                            Ok(Value::Duration(d)) => Ok(V::Dur(d)),
                            Ok(other) => from_cel(other),
                            Err(e) => Err(exec(e)),
                        }
                    }
                    None => self.delegate(None, &[arg]),
                }
            }
            Func::TimeGetter => {
                let (this, _) = self.this(&first, env)?;
                self.delegate(Some(&this), &[])
            }
            Func::MaxMin => {
                let target = match &self.target {
                    Some(t) => Some(t.eval(env)?),
                    None => None,
                };
                let mut args = Vec::with_capacity(self.args.len());
                for i in 0..self.args.len() {
                    args.push(self.arg(i, &first, env)?);
                }
                match target {
                    Some(t) => self.delegate(Some(&t), &args),
                    None => match args.split_first() {
                        Some((head, rest)) => self.delegate(Some(head), rest),
                        None => self.delegate(None, &[]),
                    },
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------
// The compiler.

struct Compiler<'p> {
    params: &'p BTreeMap<String, ParamValue>,
    scope: Vec<String>,
    slots: usize,
}

/// Compiles an expression, with the control's parameters as constants.
/// `None` when the expression uses something this evaluator does not
/// support; the interpreter then evaluates it.
pub fn compile(ast: &IdedExpr, params: &BTreeMap<String, ParamValue>) -> Option<Program> {
    let mut c = Compiler {
        params,
        scope: Vec::new(),
        slots: 0,
    };
    let root = c.expr(ast)?;
    Some(Program {
        root,
        slots: c.slots,
    })
}

fn params_value(params: &BTreeMap<String, ParamValue>) -> V<'static> {
    let s = |x: &str| V::OStr(Arc::from(x));
    V::Map(Arc::new(
        params
            .iter()
            .map(|(k, v)| {
                let v = match v {
                    ParamValue::Int(i) => V::Int(*i),
                    ParamValue::Bool(b) => V::Bool(*b),
                    ParamValue::String(x) => s(x),
                    ParamValue::List(l) => V::List(Arc::new(l.iter().map(|x| s(x)).collect())),
                };
                (s(k), v)
            })
            .collect(),
    ))
}

fn is_ident(e: &IdedExpr, name: &str) -> bool {
    matches!(&e.expr, Expr::Ident(n) if n == name)
}

/// Whether an expression mentions the identifier `name`.
fn mentions(e: &IdedExpr, name: &str) -> bool {
    match &e.expr {
        Expr::Ident(n) => n == name,
        Expr::Select(s) => mentions(&s.operand, name),
        Expr::Call(c) => {
            c.target.as_deref().is_some_and(|t| mentions(t, name))
                || c.args.iter().any(|a| mentions(a, name))
        }
        Expr::List(l) => l.elements.iter().any(|x| mentions(x, name)),
        Expr::Map(m) => m.entries.iter().any(|en| match &en.expr {
            EntryExpr::MapEntry(me) => mentions(&me.key, name) || mentions(&me.value, name),
            EntryExpr::StructField(f) => mentions(&f.value, name),
        }),
        Expr::Comprehension(c) => [
            &c.iter_range,
            &c.accu_init,
            &c.loop_cond,
            &c.loop_step,
            &c.result,
        ]
        .iter()
        .any(|x| mentions(x, name)),
        Expr::Struct(_) => true,
        Expr::Literal(_) | Expr::Unspecified => false,
    }
}

/// Recognizes `accu + [elem]`.
fn append_step<'e>(step: &'e IdedExpr, accu: &str) -> Option<&'e IdedExpr> {
    let Expr::Call(c) = &step.expr else {
        return None;
    };
    if c.func_name != op::ADD || c.target.is_some() || c.args.len() != 2 {
        return None;
    }
    if !is_ident(&c.args[0], accu) {
        return None;
    }
    match &c.args[1].expr {
        Expr::List(l) if l.elements.len() == 1 => Some(&l.elements[0]),
        _ => None,
    }
}

impl Compiler<'_> {
    fn bound(&self, name: &str) -> Option<usize> {
        self.scope.iter().rposition(|n| n == name)
    }

    fn global(&self, e: &IdedExpr, name: &str) -> bool {
        is_ident(e, name) && self.bound(name).is_none()
    }

    fn expr(&mut self, e: &IdedExpr) -> Option<Node> {
        let node = match &e.expr {
            Expr::Literal(v) => Node::Const(match v {
                Val::String(s) => V::OStr(Arc::from(s.as_str())),
                Val::Boolean(b) => V::Bool(*b),
                Val::Int(i) => V::Int(*i),
                Val::UInt(u) => V::UInt(*u),
                Val::Double(d) => V::Float(*d),
                Val::Null => V::Null,
                Val::Bytes(_) => return None,
            }),
            Expr::Ident(name) => match self.bound(name) {
                Some(slot) => Node::Var(slot),
                None => match name.as_str() {
                    "resource" => Node::Resource,
                    "now" => Node::Now,
                    "params" => Node::Const(params_value(self.params)),
                    _ => return None,
                },
            },
            Expr::Select(s) => {
                let field: Box<str> = s.field.as_str().into();
                let func = cel::FUNCTIONS.contains(&s.field.as_str());
                if self.global(&s.operand, "meta") {
                    if s.test {
                        Node::Const(V::Bool(META_FIELDS.contains(&s.field.as_str())))
                    } else {
                        Node::Meta(match s.field.as_str() {
                            "id" => MetaField::Id,
                            "name" => MetaField::Name,
                            "type" => MetaField::Type,
                            "account" => MetaField::Account,
                            "region" => MetaField::Region,
                            "provider" => MetaField::Provider,
                            "service" => MetaField::Service,
                            "tags" => MetaField::Tags,
                            _ => return None,
                        })
                    }
                } else if s.test {
                    Node::Has {
                        operand: Box::new(self.expr(&s.operand)?),
                        field,
                    }
                } else if self.global(&s.operand, "resource") {
                    Node::Attr { field, func }
                } else {
                    Node::Select {
                        operand: Box::new(self.expr(&s.operand)?),
                        field,
                        func,
                    }
                }
            }
            Expr::Call(c) => self.call(c)?,
            Expr::List(l) => Node::List(
                l.elements
                    .iter()
                    .map(|x| self.expr(x))
                    .collect::<Option<_>>()?,
            ),
            Expr::Map(m) => {
                let mut entries = Vec::with_capacity(m.entries.len());
                for en in &m.entries {
                    match &en.expr {
                        EntryExpr::MapEntry(me) if !me.optional => {
                            entries.push((self.expr(&me.key)?, self.expr(&me.value)?));
                        }
                        _ => return None,
                    }
                }
                Node::Map(entries)
            }
            Expr::Comprehension(c) => self.comprehension(c)?,
            Expr::Struct(_) | Expr::Unspecified => return None,
        };
        Some(fold(node))
    }

    fn call(&mut self, c: &CallExpr) -> Option<Node> {
        let name = c.func_name.as_str();
        let n = c.args.len();
        let boxed = |s: &mut Self, i: usize| s.expr(&c.args[i]).map(Box::new);
        if c.target.is_none() {
            let unary = match name {
                op::LOGICAL_NOT => Some(Node::Not as fn(Box<Node>) -> Node),
                op::NOT_STRICTLY_FALSE => Some(Node::NotStrictlyFalse as fn(Box<Node>) -> Node),
                op::NEGATE => Some(Node::Neg as fn(Box<Node>) -> Node),
                _ => None,
            };
            if let (Some(make), 1) = (unary, n) {
                return Some(make(boxed(self, 0)?));
            }
            if name == op::CONDITIONAL && n == 3 {
                return Some(Node::Cond(Box::new([
                    self.expr(&c.args[0])?,
                    self.expr(&c.args[1])?,
                    self.expr(&c.args[2])?,
                ])));
            }
            if n == 2 {
                let bin = match name {
                    op::ADD => Some(Bin::Add),
                    op::SUBSTRACT => Some(Bin::Sub),
                    op::MULTIPLY => Some(Bin::Mul),
                    op::DIVIDE => Some(Bin::Div),
                    op::MODULO => Some(Bin::Rem),
                    op::EQUALS => Some(Bin::Eq),
                    op::NOT_EQUALS => Some(Bin::Ne),
                    op::LESS => Some(Bin::Lt),
                    op::LESS_EQUALS => Some(Bin::Le),
                    op::GREATER => Some(Bin::Gt),
                    op::GREATER_EQUALS => Some(Bin::Ge),
                    op::IN => Some(Bin::In),
                    op::INDEX => Some(Bin::Index),
                    _ => None,
                };
                if let Some(b) = bin {
                    return Some(Node::Bin(b, boxed(self, 0)?, boxed(self, 1)?));
                }
                match name {
                    op::LOGICAL_AND => return Some(Node::And(boxed(self, 0)?, boxed(self, 1)?)),
                    op::LOGICAL_OR => return Some(Node::Or(boxed(self, 0)?, boxed(self, 1)?)),
                    _ => {}
                }
            }
        }
        let this_arity = |extra: usize| {
            if c.target.is_some() {
                n == extra
            } else {
                n == extra + 1
            }
        };
        let func = match name {
            "size" if this_arity(0) => Func::Size,
            "contains" if this_arity(1) => Func::Contains,
            "startsWith" if this_arity(1) => Func::StartsWith,
            "endsWith" if this_arity(1) => Func::EndsWith,
            "matches" if this_arity(1) => Func::Matches,
            "string" if this_arity(0) => Func::String,
            "int" if this_arity(0) => Func::Int,
            "uint" if this_arity(0) => Func::UInt,
            "double" if this_arity(0) => Func::Double,
            "timestamp" if c.target.is_none() && n == 1 => Func::Timestamp,
            "duration" if c.target.is_none() && n == 1 => Func::Duration,
            "getFullYear" | "getMonth" | "getDayOfYear" | "getDayOfMonth" | "getDate"
            | "getDayOfWeek" | "getHours" | "getMinutes" | "getSeconds" | "getMilliseconds"
                if this_arity(0) =>
            {
                Func::TimeGetter
            }
            "max" | "min" if n < ARG_NAMES.len() => Func::MaxMin,
            _ => return None,
        };
        let delegate_src = match &c.target {
            Some(_) => format!("t.{name}({})", ARG_NAMES[..n].join(", ")),
            None => format!("{name}({})", ARG_NAMES[..n].join(", ")),
        };
        let delegate = CelProgram::compile(&delegate_src).ok()?;
        let target = match &c.target {
            Some(t) => Some(self.expr(t)?),
            None => None,
        };
        let args = c
            .args
            .iter()
            .map(|a| self.expr(a))
            .collect::<Option<Vec<_>>>()?;
        let regex = match (func, args.last()) {
            (Func::Matches, Some(Node::Const(p))) => {
                p.as_str().and_then(|p| regex::Regex::new(p).ok())
            }
            _ => None,
        };
        Some(Node::Call(Box::new(Call {
            func,
            target,
            args,
            regex,
            delegate,
        })))
    }

    fn comprehension(&mut self, c: &ComprehensionExpr) -> Option<Node> {
        if c.iter_var2.is_some() {
            return None;
        }
        let range = self.expr(&c.iter_range)?;
        let depth = self.scope.len();
        // The shape `map` and `filter` expand to.
        let empty_init = matches!(&c.accu_init.expr, Expr::List(l) if l.elements.is_empty());
        let true_cond = matches!(&c.loop_cond.expr, Expr::Literal(Val::Boolean(true)));
        if empty_init && true_cond && is_ident(&c.result, &c.accu_var) {
            let shape = match append_step(&c.loop_step, &c.accu_var) {
                Some(elem) => Some((None, elem)),
                None => match &c.loop_step.expr {
                    Expr::Call(k)
                        if k.func_name == op::CONDITIONAL
                            && k.target.is_none()
                            && k.args.len() == 3
                            && is_ident(&k.args[2], &c.accu_var) =>
                    {
                        append_step(&k.args[1], &c.accu_var).map(|elem| (Some(&k.args[0]), elem))
                    }
                    _ => None,
                },
            };
            if let Some((filter, elem)) = shape {
                if !mentions(elem, &c.accu_var) && !filter.is_some_and(|f| mentions(f, &c.accu_var))
                {
                    self.scope.push(c.iter_var.clone());
                    self.slots = self.slots.max(self.scope.len());
                    let iter = depth;
                    let filter = filter.map(|f| self.expr(f));
                    let elem = self.expr(elem);
                    self.scope.truncate(depth);
                    let filter = match filter {
                        Some(f) => Some(f?),
                        None => None,
                    };
                    return Some(Node::Append(Box::new(Append {
                        range,
                        iter,
                        filter,
                        elem: elem?,
                    })));
                }
            }
        }
        let init = self.expr(&c.accu_init)?;
        // The interpreter binds the accumulator, then the iteration variable,
        // in one scope; a later name shadows an earlier one.
        self.scope.push(c.accu_var.clone());
        self.scope.push(c.iter_var.clone());
        self.slots = self.slots.max(self.scope.len());
        let (accu, iter) = (depth, depth + 1);
        let parts = (
            self.expr(&c.loop_cond),
            self.expr(&c.loop_step),
            self.expr(&c.result),
        );
        self.scope.truncate(depth);
        let (Some(cond), Some(step), Some(result)) = parts else {
            return None;
        };
        // With equal names the iteration variable wins, as in one HashMap
        // scope where the later insert replaces the value.
        Some(Node::Comp(Box::new(Comp {
            range,
            init,
            iter,
            accu: if c.accu_var == c.iter_var { iter } else { accu },
            cond,
            step,
            result,
        })))
    }
}

/// Whether a node depends on nothing but constants.
fn is_const(n: &Node) -> bool {
    match n {
        Node::Const(_) => true,
        Node::Resource | Node::Now | Node::Attr { .. } | Node::Meta(_) | Node::Var(_) => false,
        Node::Comp(_) | Node::Append(_) => false,
        Node::Select { operand, .. } | Node::Has { operand, .. } => is_const(operand),
        Node::Not(a) | Node::NotStrictlyFalse(a) | Node::Neg(a) => is_const(a),
        Node::And(a, b) | Node::Or(a, b) | Node::Bin(_, a, b) => is_const(a) && is_const(b),
        Node::Cond(p) => p.iter().all(is_const),
        Node::List(items) => items.iter().all(is_const),
        Node::Map(entries) => entries.iter().all(|(k, v)| is_const(k) && is_const(v)),
        Node::Call(c) => c.target.as_ref().is_none_or(is_const) && c.args.iter().all(is_const),
    }
}

/// Evaluates a constant node once, at compile time. A node whose evaluation
/// fails stays as it is, so that it fails at run time as the interpreter does.
fn fold(node: Node) -> Node {
    if matches!(node, Node::Const(_)) || !is_const(&node) {
        return node;
    }
    let folded = {
        let mut env = Env {
            resource: None,
            now: None,
            vars: Vec::new(),
        };
        node.eval(&mut env).ok().map(|v| into_static(&v))
    };
    match folded {
        Some(v) => Node::Const(v),
        None => node,
    }
}

#[cfg(test)]
mod tests;
