//! Collection and type-conversion functions.
//!
//! `Val::List` stands for lists, tuples and sets: the set functions return
//! sets as Terraform orders them (strings lexically, numbers numerically,
//! duplicates removed).

use super::{to_bool, to_number, unknown, Args, Val};
use std::cmp::Ordering;
use std::collections::BTreeMap;

fn bools(a: &Args) -> Result<Vec<bool>, String> {
    a.exactly(1)?;
    a.list(0)?
        .iter()
        .enumerate()
        .map(|(j, v)| {
            to_bool(v).ok_or_else(|| {
                a.arg_err(
                    0,
                    format!("element {j} must be a bool, got {}", v.type_name()),
                )
            })
        })
        .collect()
}

pub(super) fn alltrue(a: &Args) -> Result<Val, String> {
    Ok(Val::Bool(bools(a)?.into_iter().all(|b| b)))
}

pub(super) fn anytrue(a: &Args) -> Result<Val, String> {
    Ok(Val::Bool(bools(a)?.into_iter().any(|b| b)))
}

/// `chunklist(list, size)`; size 0 gives the whole list as one chunk.
pub(super) fn chunklist(a: &Args) -> Result<Val, String> {
    a.exactly(2)?;
    let items = a.list(0)?;
    let size = a.int(1)?;
    if size < 0 {
        return Err(a.arg_err(1, format!("must not be negative, got {size}")));
    }
    if size == 0 {
        return Ok(Val::List(vec![Val::List(items.to_vec())]));
    }
    Ok(Val::List(
        items
            .chunks(size as usize)
            .map(|c| Val::List(c.to_vec()))
            .collect(),
    ))
}

/// The first argument that is neither null nor an empty string.
pub(super) fn coalesce(a: &Args) -> Result<Val, String> {
    a.count(1, usize::MAX)?;
    for v in a.args {
        match v {
            Val::Unknown(_) => return Ok(unknown()),
            Val::Null => {}
            Val::String(s) if s.is_empty() => {}
            other => return Ok(other.clone()),
        }
    }
    Err(a.err("no non-null, non-empty-string arguments"))
}

/// The first non-empty list.
pub(super) fn coalescelist(a: &Args) -> Result<Val, String> {
    a.count(1, usize::MAX)?;
    for (i, v) in a.args.iter().enumerate() {
        match v {
            Val::Unknown(_) => return Ok(unknown()),
            Val::Null => {}
            Val::List(items) if items.is_empty() => {}
            Val::List(_) => return Ok(v.clone()),
            other => return Err(a.type_err(i, "a list", other)),
        }
    }
    Err(a.err("no non-null arguments"))
}

/// Drops null and empty-string elements.
pub(super) fn compact(a: &Args) -> Result<Val, String> {
    a.exactly(1)?;
    let items = a.list(0)?;
    let mut out = Vec::new();
    for (j, v) in items.iter().enumerate() {
        match v {
            Val::Null => {}
            Val::String(s) if s.is_empty() => {}
            other => match other.to_display() {
                Some(s) => out.push(Val::String(s)),
                None => {
                    return Err(a.arg_err(
                        0,
                        format!("element {j} must be a string, got {}", other.type_name()),
                    ))
                }
            },
        }
    }
    Ok(Val::List(out))
}

pub(super) fn concat(a: &Args) -> Result<Val, String> {
    a.count(1, usize::MAX)?;
    let mut out = Vec::new();
    for i in 0..a.args.len() {
        out.extend_from_slice(a.list(i)?);
    }
    Ok(Val::List(out))
}

/// `contains(list, value)`; unknown only when the answer depends on an
/// unknown element.
pub(super) fn contains(a: &Args) -> Result<Val, String> {
    a.exactly(2)?;
    if matches!(a.args[0], Val::Unknown(_)) || !a.args[1].is_known() {
        return Ok(unknown());
    }
    let items = a.list(0)?;
    let want = &a.args[1];
    if items.iter().any(|v| loosely_equal(v, want)) {
        return Ok(Val::Bool(true));
    }
    if items.iter().any(|v| !v.is_known()) {
        return Ok(unknown());
    }
    Ok(Val::Bool(false))
}

/// Equality after Terraform's conversion of primitives to a common type
/// (`contains(["1"], 1)` is true).
fn loosely_equal(x: &Val, y: &Val) -> bool {
    match (x, y) {
        (Val::String(_), Val::Number(_) | Val::Bool(_))
        | (Val::Number(_) | Val::Bool(_), Val::String(_)) => x.to_display() == y.to_display(),
        _ => x == y,
    }
}

/// Removes duplicates, keeping the first occurrence.
pub(super) fn distinct(a: &Args) -> Result<Val, String> {
    a.exactly(1)?;
    let mut out: Vec<Val> = Vec::new();
    for v in a.list(0)? {
        if !out.contains(v) {
            out.push(v.clone());
        }
    }
    Ok(Val::List(out))
}

/// `element(list, index)`: the index wraps around; negative counts from
/// the end.
pub(super) fn element(a: &Args) -> Result<Val, String> {
    a.exactly(2)?;
    let items = a.list(0)?;
    let i = a.int(1)?;
    if items.is_empty() {
        return Err(a.err("cannot use element function with an empty list"));
    }
    Ok(items[i.rem_euclid(items.len() as i64) as usize].clone())
}

/// Flattens nested lists into one.
pub(super) fn flatten(a: &Args) -> Result<Val, String> {
    fn go(items: &[Val], out: &mut Vec<Val>) {
        for v in items {
            match v {
                Val::List(inner) => go(inner, out),
                other => out.push(other.clone()),
            }
        }
    }
    a.exactly(1)?;
    let mut out = Vec::new();
    go(a.list(0)?, &mut out);
    Ok(Val::List(out))
}

/// The index of the first element equal to the value.
pub(super) fn index(a: &Args) -> Result<Val, String> {
    a.exactly(2)?;
    let want = a.val(1)?;
    a.list(0)?
        .iter()
        .position(|v| loosely_equal(v, want))
        .map(|i| Val::Number(i as f64))
        .ok_or_else(|| a.err("item not found"))
}

pub(super) fn keys(a: &Args) -> Result<Val, String> {
    a.exactly(1)?;
    Ok(super::str_list(a.map(0)?.keys().cloned()))
}

pub(super) fn values(a: &Args) -> Result<Val, String> {
    a.exactly(1)?;
    Ok(Val::List(a.map(0)?.values().cloned().collect()))
}

/// Elements of a list or map, characters of a string.
pub(super) fn length(a: &Args) -> Result<Val, String> {
    a.exactly(1)?;
    let n = match a.val(0)? {
        Val::List(items) => items.len(),
        Val::Map(m) => m.len(),
        Val::String(s) => s.chars().count(),
        other => return Err(a.type_err(0, "a string, list or map", other)),
    };
    Ok(Val::Number(n as f64))
}

/// `lookup(map, key, default)`.
pub(super) fn lookup(a: &Args) -> Result<Val, String> {
    a.count(2, 3)?;
    let map = a.map(0)?;
    let key = a.str(1)?;
    match (map.get(&key), a.args.get(2)) {
        (Some(v), _) => Ok(v.clone()),
        (None, Some(default)) => Ok(default.clone()),
        (None, None) => Err(a.err(format!("lookup failed to find key {key:?}"))),
    }
}

/// `matchkeys(values, keys, searchset)`: the values whose key (at the same
/// index) is in the search set.
pub(super) fn matchkeys(a: &Args) -> Result<Val, String> {
    a.exactly(3)?;
    let (vals, keys, search) = (a.list(0)?, a.list(1)?, a.list(2)?);
    if vals.len() != keys.len() {
        return Err(a.err(format!(
            "length of keys ({}) and values ({}) should be equal",
            keys.len(),
            vals.len()
        )));
    }
    Ok(Val::List(
        vals.iter()
            .zip(keys)
            .filter(|(_, k)| search.iter().any(|s| loosely_equal(s, k)))
            .map(|(v, _)| v.clone())
            .collect(),
    ))
}

/// Later maps win; null arguments are skipped.
pub(super) fn merge(a: &Args) -> Result<Val, String> {
    let mut out = BTreeMap::new();
    for (i, v) in a.args.iter().enumerate() {
        match v {
            Val::Null => {}
            Val::Map(m) => out.extend(m.iter().map(|(k, v)| (k.clone(), v.clone()))),
            other => return Err(a.type_err(i, "a map or object", other)),
        }
    }
    Ok(Val::Map(out))
}

/// The only element of a list of zero or one elements (null for none).
pub(super) fn one(a: &Args) -> Result<Val, String> {
    a.exactly(1)?;
    match a.list(0)? {
        [] => Ok(Val::Null),
        [v] => Ok(v.clone()),
        more => Err(a.arg_err(
            0,
            format!("must have no more than one element, got {}", more.len()),
        )),
    }
}

/// `range(limit)`, `range(start, limit)`, `range(start, limit, step)`.
pub(super) fn range(a: &Args) -> Result<Val, String> {
    a.count(1, 3)?;
    let (start, limit) = match a.args.len() {
        1 => (0.0, a.num(0)?),
        _ => (a.num(0)?, a.num(1)?),
    };
    let step = match a.args.len() {
        3 => a.num(2)?,
        _ if start <= limit => 1.0,
        _ => -1.0,
    };
    if step == 0.0 {
        return Err(a.arg_err(2, "must not be zero"));
    }
    if start < limit && step < 0.0 {
        return Err(a.arg_err(2, "must be positive when start is less than limit"));
    }
    if start > limit && step > 0.0 {
        return Err(a.arg_err(2, "must be negative when start is greater than limit"));
    }
    let mut out = Vec::new();
    loop {
        // Multiply rather than accumulate, so that 0.1 steps do not drift.
        let x = start + out.len() as f64 * step;
        if !((step > 0.0 && x < limit) || (step < 0.0 && x > limit)) {
            break;
        }
        if out.len() == 1024 {
            return Err(a.err("more than 1024 values were generated; either decrease the difference between start and limit or use a larger step"));
        }
        out.push(Val::Number(x));
    }
    Ok(Val::List(out))
}

pub(super) fn reverse(a: &Args) -> Result<Val, String> {
    a.exactly(1)?;
    Ok(Val::List(a.list(0)?.iter().rev().cloned().collect()))
}

/// `slice(list, start, end)`: `end` exclusive.
pub(super) fn slice(a: &Args) -> Result<Val, String> {
    a.exactly(3)?;
    let items = a.list(0)?;
    let (start, end) = (a.int(1)?, a.int(2)?);
    if start < 0 {
        return Err(a.arg_err(1, format!("must not be negative, got {start}")));
    }
    if end > items.len() as i64 {
        return Err(a.arg_err(
            2,
            format!(
                "must not be greater than the length of the list ({})",
                items.len()
            ),
        ));
    }
    if start > end {
        return Err(a.arg_err(1, "must not be greater than the end index"));
    }
    Ok(Val::List(items[start as usize..end as usize].to_vec()))
}

/// Sorts strings lexically (numbers are converted to strings first).
pub(super) fn sort(a: &Args) -> Result<Val, String> {
    a.exactly(1)?;
    let mut items = a.strings(0)?;
    items.sort();
    Ok(super::str_list(items))
}

pub(super) fn sum(a: &Args) -> Result<Val, String> {
    a.exactly(1)?;
    let items = a.list(0)?;
    if items.is_empty() {
        return Err(a.err("cannot sum an empty list"));
    }
    let mut total = 0.0;
    for (j, v) in items.iter().enumerate() {
        total += to_number(v).ok_or_else(|| {
            a.arg_err(
                0,
                format!("element {j} must be a number, got {}", v.type_name()),
            )
        })?;
    }
    Ok(Val::Number(total))
}

/// `transpose(map of lists of strings)`: swaps keys and values.
pub(super) fn transpose(a: &Args) -> Result<Val, String> {
    a.exactly(1)?;
    let mut out: BTreeMap<String, Vec<Val>> = BTreeMap::new();
    for (k, v) in a.map(0)? {
        let items = v.as_list().ok_or_else(|| {
            a.arg_err(
                0,
                format!("entry {k:?} must be a list, got {}", v.type_name()),
            )
        })?;
        for item in items {
            let s = item.to_display().ok_or_else(|| {
                a.arg_err(
                    0,
                    format!("entry {k:?} must hold strings, got {}", item.type_name()),
                )
            })?;
            out.entry(s).or_default().push(Val::string(k));
        }
    }
    Ok(Val::Map(
        out.into_iter().map(|(k, v)| (k, Val::List(v))).collect(),
    ))
}

/// `zipmap(keys, values)`.
pub(super) fn zipmap(a: &Args) -> Result<Val, String> {
    a.exactly(2)?;
    if !a.args[0].is_known() {
        return Ok(unknown());
    }
    let keys = a.strings(0)?;
    let vals = a.list(1)?;
    if keys.len() != vals.len() {
        return Err(a.err(format!(
            "number of keys ({}) does not match number of values ({})",
            keys.len(),
            vals.len()
        )));
    }
    Ok(Val::Map(
        keys.into_iter().zip(vals.iter().cloned()).collect(),
    ))
}

// --- sets ---

/// Orders set elements as Terraform does and drops duplicates. Mixed
/// primitive types are unified to strings.
fn normalize_set(items: &[Val]) -> Vec<Val> {
    let mixed_primitives = items.iter().any(|v| matches!(v, Val::String(_)))
        && items
            .iter()
            .any(|v| matches!(v, Val::Number(_) | Val::Bool(_)));
    let mut out: Vec<Val> = Vec::new();
    for v in items {
        let v = match v {
            Val::Number(_) | Val::Bool(_) if mixed_primitives => {
                Val::String(v.to_display().unwrap_or_default())
            }
            other => other.clone(),
        };
        if !out.contains(&v) {
            out.push(v);
        }
    }
    out.sort_by(|x, y| match (x, y) {
        (Val::String(x), Val::String(y)) => x.cmp(y),
        (Val::Number(x), Val::Number(y)) => x.partial_cmp(y).unwrap_or(Ordering::Equal),
        (Val::Bool(x), Val::Bool(y)) => x.cmp(y),
        _ => Ordering::Equal,
    });
    out
}

fn sets(a: &Args, min: usize) -> Result<Vec<Vec<Val>>, String> {
    a.count(min, usize::MAX)?;
    (0..a.args.len())
        .map(|i| a.list(i).map(normalize_set))
        .collect()
}

pub(super) fn setunion(a: &Args) -> Result<Val, String> {
    let all: Vec<Val> = sets(a, 1)?.concat();
    Ok(Val::List(normalize_set(&all)))
}

pub(super) fn setintersection(a: &Args) -> Result<Val, String> {
    let sets = sets(a, 1)?;
    let mut out = sets[0].clone();
    for other in &sets[1..] {
        out.retain(|v| other.contains(v));
    }
    Ok(Val::List(out))
}

pub(super) fn setsubtract(a: &Args) -> Result<Val, String> {
    a.exactly(2)?;
    let sets = sets(a, 2)?;
    let mut out = sets[0].clone();
    out.retain(|v| !sets[1].contains(v));
    Ok(Val::List(out))
}

/// Every combination of one element from each argument, the first argument
/// varying slowest.
pub(super) fn setproduct(a: &Args) -> Result<Val, String> {
    a.count(2, usize::MAX)?;
    let mut combos: Vec<Vec<Val>> = vec![Vec::new()];
    for i in 0..a.args.len() {
        let items = a.list(i)?;
        combos = combos
            .iter()
            .flat_map(|c| {
                items.iter().map(move |v| {
                    let mut next = c.clone();
                    next.push(v.clone());
                    next
                })
            })
            .collect();
    }
    Ok(Val::List(combos.into_iter().map(Val::List).collect()))
}

// --- conversions (null converts to null) ---

pub(super) fn tostring(a: &Args) -> Result<Val, String> {
    a.exactly(1)?;
    match &a.args[0] {
        Val::Null => Ok(Val::Null),
        v => v
            .to_display()
            .map(Val::String)
            .ok_or_else(|| a.err(format!("cannot convert {} to string", v.type_name()))),
    }
}

pub(super) fn tonumber(a: &Args) -> Result<Val, String> {
    a.exactly(1)?;
    match &a.args[0] {
        Val::Null => Ok(Val::Null),
        v => to_number(v).map(Val::Number).ok_or_else(|| match v {
            Val::String(s) => a.err(format!(
                "cannot convert {s:?} to number: a number is required"
            )),
            other => a.err(format!("cannot convert {} to number", other.type_name())),
        }),
    }
}

pub(super) fn tobool(a: &Args) -> Result<Val, String> {
    a.exactly(1)?;
    match &a.args[0] {
        Val::Null => Ok(Val::Null),
        v => to_bool(v).map(Val::Bool).ok_or_else(|| match v {
            Val::String(s) => a.err(format!(
                "cannot convert {s:?} to bool: only the strings \"true\" or \"false\" are allowed"
            )),
            other => a.err(format!("cannot convert {} to bool", other.type_name())),
        }),
    }
}

pub(super) fn tolist(a: &Args) -> Result<Val, String> {
    a.exactly(1)?;
    match &a.args[0] {
        Val::Null => Ok(Val::Null),
        v @ Val::List(_) => Ok(v.clone()),
        other => Err(a.err(format!("cannot convert {} to list", other.type_name()))),
    }
}

pub(super) fn toset(a: &Args) -> Result<Val, String> {
    a.exactly(1)?;
    match &a.args[0] {
        Val::Null => Ok(Val::Null),
        Val::List(items) => Ok(Val::List(normalize_set(items))),
        other => Err(a.err(format!("cannot convert {} to set", other.type_name()))),
    }
}

pub(super) fn tomap(a: &Args) -> Result<Val, String> {
    a.exactly(1)?;
    match &a.args[0] {
        Val::Null => Ok(Val::Null),
        v @ Val::Map(_) => Ok(v.clone()),
        other => Err(a.err(format!("cannot convert {} to map", other.type_name()))),
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::super::unknown;
    use crate::value::Val;

    const T: Val = Val::Bool(true);
    const F: Val = Val::Bool(false);

    #[test]
    fn alltrue_anytrue() {
        assert_eq!(t("alltrue", vec![l(vec![T, s("true")])]), Ok(T));
        assert_eq!(t("alltrue", vec![l(vec![])]), Ok(T));
        assert_eq!(t("anytrue", vec![l(vec![F, T])]), Ok(T));
        assert_eq!(t("anytrue", vec![l(vec![])]), Ok(F));
        assert!(err("alltrue", vec![l(vec![n(1.0)])]).contains("element 0 must be a bool"));
    }

    #[test]
    fn chunklist_sizes() {
        assert_eq!(
            t("chunklist", vec![sl(&["a", "b", "c"]), n(2.0)]),
            Ok(l(vec![sl(&["a", "b"]), sl(&["c"])]))
        );
        assert_eq!(
            t("chunklist", vec![sl(&["a"]), n(0.0)]),
            Ok(l(vec![sl(&["a"])]))
        );
        assert!(err("chunklist", vec![sl(&["a"]), n(-1.0)]).contains("negative"));
    }

    #[test]
    fn coalesce_and_coalescelist() {
        assert_eq!(t("coalesce", vec![Val::Null, s(""), s("b")]), Ok(s("b")));
        assert_eq!(t("coalesce", vec![s("a"), unk()]), Ok(s("a")));
        assert_eq!(t("coalesce", vec![Val::Null, unk(), s("a")]), Ok(unknown()));
        assert!(err("coalesce", vec![Val::Null, s("")]).contains("no non-null"));
        assert_eq!(
            t("coalescelist", vec![l(vec![]), sl(&["c"])]),
            Ok(sl(&["c"]))
        );
        assert!(err("coalescelist", vec![l(vec![]), s("x")]).contains("argument 2 must be a list"));
    }

    #[test]
    fn compact_concat_distinct_flatten() {
        assert_eq!(
            t("compact", vec![l(vec![s("a"), s(""), Val::Null, s("b")])]),
            Ok(sl(&["a", "b"]))
        );
        assert!(err("compact", vec![l(vec![l(vec![])])]).contains("element 0"));
        assert_eq!(
            t("concat", vec![sl(&["a"]), l(vec![unk()])]),
            Ok(l(vec![s("a"), unk()]))
        );
        assert!(err("concat", vec![s("a")]).contains("argument 1 must be a list, got string"));
        assert_eq!(
            t("distinct", vec![sl(&["b", "a", "b"])]),
            Ok(sl(&["b", "a"]))
        );
        assert_eq!(
            t(
                "flatten",
                vec![l(vec![sl(&["a"]), l(vec![]), l(vec![sl(&["b"]), s("c")])])]
            ),
            Ok(sl(&["a", "b", "c"]))
        );
        assert!(err("flatten", vec![s("x")]).contains("must be a list"));
    }

    #[test]
    fn contains_with_unknowns() {
        assert_eq!(t("contains", vec![sl(&["a", "b"]), s("b")]), Ok(T));
        assert_eq!(t("contains", vec![sl(&["a"]), s("z")]), Ok(F));
        assert_eq!(t("contains", vec![l(vec![s("a"), unk()]), s("a")]), Ok(T));
        assert_eq!(
            t("contains", vec![l(vec![s("a"), unk()]), s("z")]),
            Ok(unknown())
        );
        assert_eq!(t("contains", vec![sl(&["1"]), n(1.0)]), Ok(T));
        assert!(err("contains", vec![s("a"), s("a")]).contains("must be a list"));
    }

    #[test]
    fn element_index_one() {
        let abc = sl(&["a", "b", "c"]);
        assert_eq!(t("element", vec![abc.clone(), n(3.0)]), Ok(s("a")));
        assert_eq!(t("element", vec![abc.clone(), n(-1.0)]), Ok(s("c")));
        assert!(err("element", vec![l(vec![]), n(0.0)]).contains("empty list"));
        assert_eq!(t("index", vec![abc.clone(), s("b")]), Ok(n(1.0)));
        assert!(err("index", vec![abc, s("z")]).contains("item not found"));
        assert_eq!(t("one", vec![l(vec![])]), Ok(Val::Null));
        assert_eq!(t("one", vec![sl(&["x"])]), Ok(s("x")));
        assert!(err("one", vec![sl(&["x", "y"])]).contains("no more than one"));
    }

    #[test]
    fn maps() {
        let mp = m(&[("b", n(2.0)), ("a", unk())]);
        assert_eq!(t("keys", vec![mp.clone()]), Ok(sl(&["a", "b"])));
        assert_eq!(t("values", vec![mp.clone()]), Ok(l(vec![unk(), n(2.0)])));
        assert_eq!(t("length", vec![mp.clone()]), Ok(n(2.0)));
        assert_eq!(t("length", vec![s("héllo")]), Ok(n(5.0)));
        assert!(err("length", vec![n(1.0)]).contains("a string, list or map"));
        assert_eq!(t("lookup", vec![mp.clone(), s("b")]), Ok(n(2.0)));
        assert_eq!(t("lookup", vec![mp.clone(), s("z"), s("d")]), Ok(s("d")));
        assert!(err("lookup", vec![mp.clone(), s("z")]).contains("failed to find key \"z\""));
        assert_eq!(
            t(
                "merge",
                vec![
                    m(&[("a", n(1.0))]),
                    Val::Null,
                    m(&[("a", n(2.0)), ("c", n(3.0))])
                ]
            ),
            Ok(m(&[("a", n(2.0)), ("c", n(3.0))]))
        );
        assert!(err("merge", vec![sl(&[])]).contains("must be a map"));
        assert_eq!(
            t("zipmap", vec![sl(&["a", "b"]), l(vec![n(1.0), unk()])]),
            Ok(m(&[("a", n(1.0)), ("b", unk())]))
        );
        assert_eq!(
            t("zipmap", vec![l(vec![unk()]), l(vec![n(1.0)])]),
            Ok(unknown())
        );
        assert!(err("zipmap", vec![sl(&["a"]), l(vec![])]).contains("does not match"));
        assert_eq!(
            t(
                "transpose",
                vec![m(&[("a", sl(&["1", "2"])), ("b", sl(&["2", "3"]))])]
            ),
            Ok(m(&[
                ("1", sl(&["a"])),
                ("2", sl(&["a", "b"])),
                ("3", sl(&["b"]))
            ]))
        );
        assert!(err("transpose", vec![m(&[("a", s("x"))])]).contains("entry \"a\" must be a list"));
        assert_eq!(
            t(
                "matchkeys",
                vec![sl(&["i-1", "i-2", "i-3"]), sl(&["a", "b", "a"]), sl(&["a"])]
            ),
            Ok(sl(&["i-1", "i-3"]))
        );
        assert!(err("matchkeys", vec![sl(&["a"]), sl(&[]), sl(&[])]).contains("should be equal"));
    }

    #[test]
    fn range_reverse_slice_sort_sum() {
        assert_eq!(
            t("range", vec![n(3.0)]),
            Ok(l(vec![n(0.0), n(1.0), n(2.0)]))
        );
        assert_eq!(
            t("range", vec![n(4.0), n(1.0)]),
            Ok(l(vec![n(4.0), n(3.0), n(2.0)]))
        );
        assert_eq!(
            t("range", vec![n(1.0), n(2.0), n(0.5)]),
            Ok(l(vec![n(1.0), n(1.5)]))
        );
        assert_eq!(
            t("range", vec![n(0.0), n(0.3), n(0.1)]).map(|v| v.as_list().map_or(0, |l| l.len())),
            Ok(3)
        );
        assert!(err("range", vec![n(0.0), n(2.0), n(0.0)]).contains("must not be zero"));
        assert!(err("range", vec![n(5000.0)]).contains("more than 1024"));
        assert_eq!(t("reverse", vec![sl(&["a", "b"])]), Ok(sl(&["b", "a"])));
        assert_eq!(
            t("slice", vec![sl(&["a", "b", "c", "d"]), n(1.0), n(3.0)]),
            Ok(sl(&["b", "c"]))
        );
        assert!(err("slice", vec![sl(&["a"]), n(0.0), n(2.0)]).contains("greater than the length"));
        assert_eq!(
            t("sort", vec![l(vec![s("e"), n(10.0), n(2.0)])]),
            Ok(sl(&["10", "2", "e"]))
        );
        assert_eq!(t("sum", vec![l(vec![n(1.0), n(2.5), s("3")])]), Ok(n(6.5)));
        assert!(err("sum", vec![l(vec![])]).contains("empty list"));
    }

    #[test]
    fn set_functions() {
        assert_eq!(t("toset", vec![sl(&["c", "b", "b"])]), Ok(sl(&["b", "c"])));
        assert_eq!(
            t("toset", vec![l(vec![s("a"), n(1.0)])]),
            Ok(sl(&["1", "a"]))
        );
        assert_eq!(
            t("setunion", vec![sl(&["b", "a"]), sl(&["c", "a"])]),
            Ok(sl(&["a", "b", "c"]))
        );
        assert_eq!(
            t("setintersection", vec![sl(&["a", "b"]), sl(&["b", "c"])]),
            Ok(sl(&["b"]))
        );
        assert_eq!(
            t("setsubtract", vec![sl(&["a", "b", "c"]), sl(&["a", "c"])]),
            Ok(sl(&["b"]))
        );
        assert_eq!(
            t("setproduct", vec![sl(&["a", "b"]), sl(&["1", "2"])]),
            Ok(l(vec![
                sl(&["a", "1"]),
                sl(&["a", "2"]),
                sl(&["b", "1"]),
                sl(&["b", "2"])
            ]))
        );
        assert!(err("setproduct", vec![sl(&["a"])]).contains("at least 2"));
        assert!(err("setunion", vec![s("a")]).contains("must be a list"));
    }

    #[test]
    fn conversions() {
        assert_eq!(t("tostring", vec![n(5.0)]), Ok(s("5")));
        assert_eq!(t("tostring", vec![Val::Null]), Ok(Val::Null));
        assert!(err("tostring", vec![sl(&[])]).contains("cannot convert list to string"));
        assert_eq!(t("tonumber", vec![s("1.5")]), Ok(n(1.5)));
        assert!(err("tonumber", vec![s("no")]).contains("cannot convert \"no\" to number"));
        assert_eq!(t("tobool", vec![s("true")]), Ok(T));
        assert!(err("tobool", vec![s("yes")]).contains("only the strings"));
        assert_eq!(t("tolist", vec![sl(&["a"])]), Ok(sl(&["a"])));
        assert!(err("tolist", vec![s("a")]).contains("cannot convert string to list"));
        assert_eq!(
            t("tomap", vec![m(&[("a", n(1.0))])]),
            Ok(m(&[("a", n(1.0))]))
        );
        assert!(err("tomap", vec![sl(&[])]).contains("cannot convert list to map"));
    }
}
