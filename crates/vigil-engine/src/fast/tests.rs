//! Unit tests of the fast evaluator: each expression runs on both evaluators
//! over the same resource, must give the same outcome (value and type, or
//! error message), and that outcome is checked against what CEL (as the
//! interpreter implements it) gives.

use super::*;
use crate::engine::{describe, PANICKED};
use chrono::TimeZone;
use serde_json::json;

fn resource() -> Resource {
    serde_json::from_value(json!({
        "provider": "aws", "service": "S3", "type": "aws.s3.bucket",
        "id": "arn:aws:s3:::logs", "name": "logs", "account": "1234", "region": "eu-west-1",
        "tags": {"owner": "sec", "env": "prod"},
        "attributes": {
            "n": 3, "neg": -5, "big": u64::MAX, "f": 1.5, "s": "hello", "empty": "",
            "b": true, "nb": false, "z": null,
            "l": [1, 2, 3], "ls": ["a", "b"], "le": [],
            "lm": [{"k": "x", "v": 1}, {"k": "y", "v": 2}],
            "m": {"b": "two", "a": 1},
            "ts": "2026-01-01T00:00:00Z", "bad_ts": "yesterday", "d": "90h",
            "re": "^h.*o$"
        }
    }))
    .unwrap()
}

fn params() -> BTreeMap<String, ParamValue> {
    [
        ("min_len".to_string(), ParamValue::Int(14)),
        ("name".to_string(), ParamValue::String("prod".into())),
        (
            "tags".to_string(),
            ParamValue::List(vec!["a".into(), "b".into()]),
        ),
        ("flag".to_string(), ParamValue::Bool(true)),
    ]
    .into_iter()
    .collect()
}

fn now() -> Ts {
    chrono::Utc
        .with_ymd_and_hms(2026, 11, 23, 0, 0, 0)
        .unwrap()
        .fixed_offset()
}

fn outcome_of_value(v: &Value) -> String {
    format!("{}:{}", v.type_of(), cel::render(v))
}

/// The interpreter's outcome, with the context the engine binds.
fn reference(expr: &str, r: &Resource) -> String {
    let program = CelProgram::compile(expr).unwrap();
    let mut ctx = Context::default();
    let attrs = cel::map_value(
        r.attributes
            .iter()
            .map(|(k, v)| (k.as_str(), cel::from_json(v))),
    );
    ctx.add_variable_from_value("resource", attrs);
    let s = |v: &str| Value::String(Arc::new(v.to_string()));
    let tags = cel::map_value(r.tags.iter().map(|(k, v)| (k.as_str(), s(v))));
    let meta = cel::map_value(
        [
            ("id", s(&r.id)),
            ("name", s(&r.name)),
            ("type", s(&r.resource_type)),
            ("account", s(&r.account)),
            ("region", s(&r.region)),
            ("provider", s(r.provider.as_str())),
            ("service", s(&r.service)),
            ("tags", tags),
        ]
        .into_iter(),
    );
    ctx.add_variable_from_value("meta", meta);
    ctx.add_variable_from_value("params", to_cel(&params_value(&params())));
    ctx.add_variable_from_value("now", Value::Timestamp(now()));
    match cel::quietly(|| program.execute(&ctx)) {
        Some(Ok(v)) => outcome_of_value(&v),
        Some(Err(e)) => format!("err:{}", describe(e)),
        None => format!("err:{PANICKED}"),
    }
}

/// The fast evaluator's outcome; `None` when it compiles no program.
fn fast(expr: &str, r: &Resource) -> Option<String> {
    let ast = cel_parser::Parser::new().parse(expr).unwrap();
    let params = params();
    let program = compile(&ast, &params)?;
    Some(match program.eval(r, now()) {
        Ok(v) => outcome_of_value(&to_cel(&v)).replacen(
            &format!(":{}", cel::render(&to_cel(&v))),
            &format!(":{}", render(&v)),
            1,
        ),
        Err(Fail::Exec(e)) => format!("err:{}", describe(*e)),
        Err(Fail::Panic) => format!("err:{PANICKED}"),
        Err(Fail::Deopt) => "deopt".into(),
    })
}

/// Interpreter maps print in hash order: compare such texts as multisets.
fn same(a: &str, b: &str) -> bool {
    let sorted = |s: &str| {
        let mut c: Vec<char> = s.chars().collect();
        c.sort_unstable();
        c
    };
    a == b || (a.contains("Map {") && sorted(a) == sorted(b))
}

/// Runs `expr` on both evaluators, requires the same outcome and that it
/// starts with `expected`.
fn check(expr: &str, expected: &str) {
    let r = resource();
    let slow = reference(expr, &r);
    let fast = fast(expr, &r).unwrap_or_else(|| panic!("`{expr}` did not compile"));
    assert!(
        same(&fast, &slow),
        "`{expr}`:\n  fast:      {fast}\n  reference: {slow}"
    );
    assert!(
        fast.starts_with(expected),
        "`{expr}`: expected {expected}, got {fast}"
    );
}

fn all(cases: &[(&str, &str)]) {
    for (expr, expected) in cases {
        check(expr, expected);
    }
}

const MISSING: &str = "err:attribute `missing` was not collected for this resource";

#[test]
fn literals_and_identifiers() {
    all(&[
        ("1", "int:1"),
        ("2u", "uint:2"),
        ("1.25", "float:1.25"),
        ("'x'", "string:x"),
        ("true", "bool:true"),
        ("null", "null:null"),
        ("resource.n", "int:3"),
        ("resource.big", "uint:18446744073709551615"),
        ("resource.f", "float:1.5"),
        ("resource.z", "null:null"),
        ("resource.missing", MISSING),
        ("now", "timestamp:\"2026-11-23T00:00:00+00:00\""),
        ("params.min_len", "int:14"),
        (
            "params",
            "map:{\"flag\":true,\"min_len\":14,\"name\":\"prod\",\"tags\":[\"a\",\"b\"]}",
        ),
    ]);
}

#[test]
fn selection_and_has() {
    all(&[
        ("resource.m.a == 1", "bool:true"),
        ("resource.m.a == 2", "bool:false"),
        ("resource.m.c", "err:attribute `c` was not collected"),
        ("resource.z.x", "err:attribute `x` was not collected"),
        ("resource.s.x", "err:attribute `x` was not collected"),
        ("resource.lm[0].k", "string:x"),
        ("has(resource.m.a)", "bool:true"),
        ("has(resource.m.c)", "bool:false"),
        ("has(resource.n.x)", "bool:false"),
        ("has(resource.missing.x)", MISSING),
        ("has(resource.n)", "bool:true"),
        ("has({'a': 1}.a)", "bool:true"),
        ("has({1: 1}.a)", "bool:false"),
        ("has(meta.tags)", "bool:true"),
        ("has(meta.nothing)", "bool:false"),
        ("has(meta.tags.owner)", "bool:true"),
        ("has(meta.tags.team)", "bool:false"),
    ]);
}

#[test]
fn meta_and_params() {
    all(&[
        ("meta.id", "string:arn:aws:s3:::logs"),
        (
            "meta.name + '/' + meta.region + '/' + meta.account",
            "string:logs/eu-west-1/1234",
        ),
        (
            "meta.provider == 'aws' && meta.service == 'S3'",
            "bool:true",
        ),
        ("meta.type", "string:aws.s3.bucket"),
        ("meta.tags", "map:{\"env\":\"prod\",\"owner\":\"sec\"}"),
        ("meta.tags.owner == 'sec'", "bool:true"),
        ("meta.tags.team", "err:attribute `team` was not collected"),
        ("meta.tags['team']", "null:null"),
        ("'owner' in meta.tags", "bool:true"),
        ("'team' in meta.tags", "bool:false"),
        ("size(meta.tags)", "int:2"),
        ("meta.tags.exists(k, k == 'env')", "bool:true"),
        ("params.name + '-x'", "string:prod-x"),
        ("'a' in params.tags", "bool:true"),
        ("'c' in params.tags", "bool:false"),
        ("params.flag && params.min_len > 10", "bool:true"),
    ]);
}

#[test]
fn indexing() {
    all(&[
        ("resource.l[0] == 1", "bool:true"),
        ("resource.l[0] == 2", "bool:false"),
        ("resource.l[5]", "null:null"),
        ("resource.l[-1]", "null:null"),
        (
            "resource.l[1u]",
            "err:evaluation error: Cannot use value as list index",
        ),
        ("resource.m['a']", "int:1"),
        ("resource.m['zz']", "null:null"),
        (
            "resource.m[1.5]",
            "err:evaluation error: Cannot use value as map index",
        ),
        ("resource.s[1]", "string:e"),
        ("resource.s[9]", "null:null"),
        (
            "resource.n[0]",
            "err:evaluation error: Cannot use value Int(3) to index Int(0)",
        ),
        ("resource.missing[0]", MISSING),
        ("resource.l[resource.missing]", MISSING),
        ("{'a': 1}['a']", "int:1"),
        ("{1: 'x'}[1u]", "string:x"),
        ("{1u: 'x'}[1]", "string:x"),
        ("{true: 'x'}[true]", "string:x"),
        ("[1, 2][1]", "int:2"),
        ("params.tags[1]", "string:b"),
    ]);
}

#[test]
fn logic_follows_the_interpreter() {
    all(&[
        ("true && false", "bool:false"),
        ("true && true", "bool:true"),
        ("false && resource.missing", "bool:false"),
        ("resource.missing && false", MISSING),
        ("true && resource.missing", MISSING),
        ("true || resource.missing", "bool:true"),
        ("false || resource.missing", MISSING),
        ("resource.missing || true", MISSING),
        ("false || false", "bool:false"),
        // The interpreter's truthiness: `||` returns its operand.
        ("resource.z || 'x'", "string:x"),
        ("resource.s || false", "string:hello"),
        ("1 && true", "bool:true"),
        ("resource.le && true", "bool:false"),
        ("!resource.b", "bool:false"),
        ("!resource.nb", "bool:true"),
        ("!resource.z", "bool:true"),
        ("!resource.s", "bool:false"),
        ("!resource.empty", "bool:true"),
        ("!resource.missing", MISSING),
        ("resource.b ? 'y' : 'n'", "string:y"),
        ("resource.nb ? 'y' : 'n'", "string:n"),
        ("resource.z ? 1 : 2", "int:2"),
        ("resource.missing ? 1 : 2", MISSING),
        ("true ? 1 : resource.missing", "int:1"),
        ("false ? 1 : resource.missing", MISSING),
    ]);
}

#[test]
fn comparisons() {
    all(&[
        ("resource.n < 4", "bool:true"),
        ("resource.n >= 4", "bool:false"),
        ("resource.n <= 3 && resource.n > 2", "bool:true"),
        ("resource.big > resource.n", "bool:true"),
        ("resource.neg < 0u", "bool:true"),
        ("resource.f > 1", "bool:true"),
        ("resource.n < resource.f", "bool:false"),
        ("resource.n == 3.0", "bool:true"),
        ("resource.n == 3u", "bool:true"),
        ("resource.neg == 18446744073709551611u", "bool:false"),
        ("'a' < 'b'", "bool:true"),
        ("'b' <= 'a'", "bool:false"),
        ("true > false", "bool:true"),
        ("null == null", "bool:true"),
        ("null <= null", "bool:true"),
        ("resource.z == 1", "bool:false"),
        ("resource.z != 1", "bool:true"),
        (
            "resource.z < 1",
            "err:evaluation error: Null can not be compared to Int(1)",
        ),
        (
            "resource.s < 1",
            "err:evaluation error: String(\"hello\") can not be compared",
        ),
        ("resource.l < resource.l", "err:evaluation error: List("),
        ("resource.missing < 1", MISSING),
        ("1 < resource.missing", MISSING),
        ("resource.l == [1, 2, 3]", "bool:true"),
        ("resource.l == [1, 2]", "bool:false"),
        ("resource.l == [1.0, 2u, 3]", "bool:true"),
        ("resource.m == {'a': 1, 'b': 'two'}", "bool:true"),
        ("resource.m == {'a': 1, 'b': 'three'}", "bool:false"),
        ("{1: 'a'} == {1u: 'a'}", "bool:false"),
        ("resource.ls == params.tags", "bool:true"),
        ("[] == {}", "bool:false"),
        ("timestamp(resource.ts) < now", "bool:true"),
        ("timestamp(resource.ts) > now", "bool:false"),
        ("timestamp('2026-11-23T01:00:00+01:00') == now", "bool:true"),
        ("duration('1h') < duration('2h')", "bool:true"),
        ("duration('1h') == duration('60m')", "bool:true"),
        ("duration('1h') > now", "err:evaluation error: Duration("),
    ]);
}

#[test]
fn arithmetic() {
    all(&[
        ("resource.n + 1 == 4", "bool:true"),
        ("resource.n + 1 == 5", "bool:false"),
        ("resource.n - 5", "int:-2"),
        ("resource.n * 2", "int:6"),
        ("resource.n / 2", "int:1"),
        ("resource.n % 2", "int:1"),
        ("resource.f * 2.0", "float:3.0"),
        ("resource.f / 0.0", "float:null"),
        ("resource.f - 0.5", "float:1.0"),
        ("7u / 2u", "uint:3"),
        ("7u % 2u", "uint:1"),
        (
            "resource.n / 0",
            "err:evaluation error: Division by zero of Int(3)",
        ),
        (
            "resource.n % 0",
            "err:evaluation error: Remainder by zero of Int(3)",
        ),
        (
            "5u / 0u",
            "err:evaluation error: Division by zero of UInt(5)",
        ),
        (
            "9223372036854775807 + 1",
            "err:evaluation error: Overflow from binary operator 'add'",
        ),
        (
            "2u - 3u",
            "err:evaluation error: Overflow from binary operator 'sub'",
        ),
        (
            "resource.n * 4611686018427387904",
            "err:evaluation error: Overflow from binary operator 'mul'",
        ),
        (
            "resource.n + 1.5",
            "err:evaluation error: Unsupported binary operator 'add': Int(3), Float(1.5)",
        ),
        ("resource.n + resource.missing", MISSING),
        ("resource.s + '!'", "string:hello!"),
        (
            "resource.s + 1",
            "err:evaluation error: Unsupported binary operator 'add'",
        ),
        ("resource.ls + ['c']", "list:[\"a\",\"b\",\"c\"]"),
        ("resource.l + resource.ls", "list:[1,2,3,\"a\",\"b\"]"),
        ("[1] + [2] == [1, 2]", "bool:true"),
        (
            "resource.l - resource.l",
            "err:evaluation error: Unsupported binary operator 'sub'",
        ),
        ("-resource.n", "int:-3"),
        ("-resource.f", "float:-1.5"),
        (
            "-resource.s",
            "err:evaluation error: Unsupported unary operator 'minus'",
        ),
        ("now - timestamp(resource.ts)", "duration:\"28166400s\""),
        (
            "now - timestamp(resource.ts) > duration('24h')",
            "bool:true",
        ),
        (
            "now - duration('24h')",
            "timestamp:\"2026-11-22T00:00:00+00:00\"",
        ),
        (
            "timestamp(resource.ts) + duration('1h')",
            "timestamp:\"2026-01-01T01:00:00+00:00\"",
        ),
        (
            "duration('1h') + timestamp(resource.ts)",
            "timestamp:\"2026-01-01T01:00:00+00:00\"",
        ),
        ("duration('1h') + duration('30m')", "duration:\"5400s\""),
        ("duration('1h') - duration('30m')", "duration:\"1800s\""),
        (
            "now + now",
            "err:evaluation error: Unsupported binary operator 'add'",
        ),
    ]);
}

#[test]
fn membership() {
    all(&[
        ("'a' in resource.ls", "bool:true"),
        ("'z' in resource.ls", "bool:false"),
        ("2 in [1.0, 2.0]", "bool:true"),
        ("'a' in resource.m", "bool:true"),
        ("'c' in resource.m", "bool:false"),
        ("1 in resource.m", "bool:false"),
        ("[1] in resource.m", "bool:false"),
        ("1 in {1u: 'x'}", "bool:false"),
        ("'ell' in resource.s", "bool:true"),
        ("'xyz' in resource.s", "bool:false"),
        (
            "1 in resource.n",
            "err:evaluation error: Int(1) can not be compared to Int(3)",
        ),
        ("resource.missing in resource.ls", MISSING),
        ("'a' in resource.missing", MISSING),
        ("resource.n in [1, 2, 3]", "bool:true"),
        ("resource.s in ['mysql', 'postgres']", "bool:false"),
    ]);
}

#[test]
fn size_and_string_functions() {
    all(&[
        ("size(resource.l) == 3", "bool:true"),
        ("size(resource.l) == 2", "bool:false"),
        ("resource.ls.size()", "int:2"),
        ("size(resource.s)", "int:5"),
        ("size(resource.m)", "int:2"),
        ("size(resource.n)", "err:evaluation error: Error executing function 'size': cannot determine the size of Int(3)"),
        ("size(resource.missing)", MISSING),
        ("resource.missing.size()", MISSING),
        ("resource.s.contains('ell')", "bool:true"),
        ("resource.s.contains('xyz')", "bool:false"),
        ("resource.s.contains(1)", "bool:false"),
        ("resource.ls.contains('a')", "bool:true"),
        ("resource.ls.contains('z')", "bool:false"),
        ("resource.m.contains('a')", "bool:true"),
        ("resource.m.contains(1.5)", "err:evaluation error: Unable to use value 'Float(1.5)' as a key"),
        ("resource.n.contains(1)", "bool:false"),
        ("contains(resource.s, 'h')", "bool:true"),
        ("resource.missing.contains(resource.n)", MISSING),
        // The argument is evaluated before the target.
        ("resource.n.contains(resource.missing)", MISSING),
        ("resource.s.startsWith('he')", "bool:true"),
        ("resource.s.startsWith('lo')", "bool:false"),
        ("resource.s.endsWith('lo')", "bool:true"),
        ("resource.s.endsWith('he')", "bool:false"),
        ("startsWith(resource.s, 'h')", "bool:true"),
        ("resource.n.startsWith('x')", "err:evaluation error: Unexpected type: got 'Int(3)'"),
        ("resource.s.startsWith(1)", "err:evaluation error: Unexpected type: got 'Int(1)'"),
        ("resource.s.endsWith(resource.missing)", MISSING),
        ("resource.s.matches('^h.*o$')", "bool:true"),
        ("resource.s.matches('^x')", "bool:false"),
        ("resource.s.matches(resource.re)", "bool:true"),
        ("matches(resource.s, 'l+')", "bool:true"),
        ("resource.s.matches('(')", "err:evaluation error: Error executing function 'matches': '(' not a valid regex"),
        ("resource.n.matches('x')", "err:evaluation error: Unexpected type"),
    ]);
}

#[test]
fn conversions_and_time() {
    all(&[
        ("string(resource.n) == '3'", "bool:true"),
        ("string(resource.n) == 3", "bool:false"),
        ("string(resource.big)", "string:18446744073709551615"),
        ("string(resource.f)", "string:1.5"),
        ("string(resource.s)", "string:hello"),
        ("string(now)", "string:2026-11-23T00:00:00+00:00"),
        ("string(duration('90m'))", "string:1h30m"),
        ("string(resource.b)", "err:evaluation error: Error executing function 'string': cannot convert Bool(true) to string"),
        ("string(resource.missing)", MISSING),
        ("string(params.min_len * 24) + 'h'", "string:336h"),
        ("int('42') == 42", "bool:true"),
        ("int(resource.n)", "int:3"),
        ("int(resource.f)", "int:1"),
        ("int(3u)", "int:3"),
        ("int('x')", "err:evaluation error: Error executing function 'int': string parse error"),
        ("int(resource.big)", "err:evaluation error: Error executing function 'int': integer overflow"),
        ("uint(resource.n) == 3u", "bool:true"),
        ("uint(resource.neg)", "err:evaluation error: Error executing function 'uint': unsigned integer overflow"),
        ("double(resource.n) == 3.0", "bool:true"),
        ("double('2.5')", "float:2.5"),
        ("double(resource.z)", "err:evaluation error: Error executing function 'double': cannot convert Null to double"),
        ("timestamp(resource.ts)", "timestamp:\"2026-01-01T00:00:00+00:00\""),
        ("timestamp(resource.bad_ts)", "err:evaluation error: Error executing function 'timestamp': premature end of input"),
        ("timestamp(resource.n)", "err:evaluation error: Unexpected type: got 'Int(3)'"),
        ("timestamp(resource.missing)", MISSING),
        ("duration(resource.d) == duration('90h')", "bool:true"),
        ("duration(resource.d)", "duration:\"324000s\""),
        ("duration('x')", "err:evaluation error: Error executing function 'duration'"),
        ("duration(resource.z)", "err:evaluation error: Unexpected type: got 'Null'"),
        ("timestamp(resource.ts).getFullYear() == 2026", "bool:true"),
        ("timestamp(resource.ts).getMonth()", "int:0"),
        ("getDayOfWeek(timestamp(resource.ts))", "int:4"),
        ("resource.n.getHours()", "err:evaluation error: Unexpected type"),
        ("max(1, 5, 2)", "int:5"),
        ("min([3, 1, 2])", "int:1"),
        ("max(resource.l)", "int:3"),
        ("max(1, 'a')", "err:evaluation error: Int(1) can not be compared to String"),
    ]);
}

#[test]
fn comprehensions() {
    all(&[
        ("resource.l.all(x, x > 0)", "bool:true"),
        ("resource.l.all(x, x > 1)", "bool:false"),
        ("resource.le.all(x, x > 1)", "bool:true"),
        ("resource.l.exists(x, x == 2)", "bool:true"),
        ("resource.l.exists(x, x == 9)", "bool:false"),
        ("resource.le.exists(x, x == 9)", "bool:false"),
        ("resource.l.exists_one(x, x > 2)", "bool:true"),
        ("resource.l.exists_one(x, x > 1)", "bool:false"),
        ("resource.l.map(x, x * 2)", "list:[2,4,6]"),
        ("resource.l.map(x, x * 2) == [2, 4, 6]", "bool:true"),
        ("resource.l.filter(x, x > 1)", "list:[2,3]"),
        ("resource.l.filter(x, x > 5)", "list:[]"),
        ("resource.l.map(x, x > 1, x * 10)", "list:[20,30]"),
        (
            "resource.lm.map(e, e.k + '=' + string(e.v))",
            "list:[\"x=1\",\"y=2\"]",
        ),
        ("resource.lm.filter(e, e.v > 1).map(e, e.k)", "list:[\"y\"]"),
        ("resource.lm.exists(e, e.missing == 1)", MISSING),
        ("resource.lm.all(e, e.v < 2)", "bool:false"),
        // The interpreter stops at the first false element, before an error.
        ("[1, 'a'].all(x, x > 1)", "bool:false"),
        (
            "['a', 1].all(x, x > 1)",
            "err:evaluation error: String(\"a\") can not be compared to Int(1)",
        ),
        // `exists` keeps the first truthy value, not a boolean.
        ("resource.l.exists(x, x)", "int:1"),
        ("[[1, 2], [3]].map(x, x.map(y, y + 1))", "list:[[2,3],[4]]"),
        (
            "[[1, 2], [3]].map(x, x.map(x, x * 10))",
            "list:[[10,20],[30]]",
        ),
        (
            "resource.ls.map(x, resource.ls.filter(y, y == x))",
            "list:[[\"a\"],[\"b\"]]",
        ),
        ("resource.m.all(k, k != 'zz')", "bool:true"),
        ("resource.m.map(k, k + '!').size()", "int:2"),
        ("resource.m.exists(k, k == 'b')", "bool:true"),
        (
            "resource.z.all(x, x)",
            "err:evaluation error: the data has a shape",
        ),
        (
            "resource.n.exists(x, x)",
            "err:evaluation error: the data has a shape",
        ),
        ("resource.missing.all(x, x)", MISSING),
        ("params.tags.all(t, t in resource.ls)", "bool:true"),
        ("resource.l.map(resource, resource + 1)", "list:[2,3,4]"),
    ]);
}

#[test]
fn literals_of_lists_and_maps() {
    all(&[
        ("[resource.n, resource.s]", "list:[3,\"hello\"]"),
        ("[resource.n, resource.missing]", MISSING),
        ("{'k': resource.n}.k == 3", "bool:true"),
        ("{'k': resource.n}", "map:{\"k\":3}"),
        ("{'a': 1, 'a': 2}['a']", "int:2"),
        ("{resource.s: 1}", "map:{\"hello\":1}"),
        (
            "{resource.l: 1}",
            "err:evaluation error: Unable to use value",
        ),
        ("{resource.missing: 1}", MISSING),
        ("{'a': 1} == {'a': 1}", "bool:true"),
        ("{'a': 1} == {'a': 2}", "bool:false"),
        ("{'mysql': 3306, 'postgres': 5432}[resource.s]", "null:null"),
        ("{'mysql': 3306, 'hello': 1}[resource.s] == 1", "bool:true"),
    ]);
}

#[test]
fn rendering_matches_the_reference() {
    all(&[
        ("resource.m", "map:{\"a\":1,\"b\":\"two\"}"),
        (
            "resource.lm",
            "list:[{\"k\":\"x\",\"v\":1},{\"k\":\"y\",\"v\":2}]",
        ),
        ("resource", "map:{"),
        ("resource.ls", "list:[\"a\",\"b\"]"),
        ("resource.s", "string:hello"),
        ("'quote \" and \\\\ and é'", "string:quote"),
        ("['quote \" and é']", "list:[\"quote \\\" and é\"]"),
        ("resource.f", "float:1.5"),
        ("1e300 * 1e300", "float:null"),
        ("duration('90h')", "duration:\"324000s\""),
    ]);
}

#[test]
fn constants_fold_but_keep_their_errors() {
    let params = params();
    let compiled = |expr: &str| compile(&cel_parser::Parser::new().parse(expr).unwrap(), &params);
    let p = compiled("duration(string(params.min_len * 24) + 'h')").unwrap();
    assert!(matches!(p.root, Node::Const(V::Dur(_))), "{:?}", p.root);
    let p = compiled("1 / 0").unwrap();
    assert!(matches!(p.root, Node::Bin(..)), "{:?}", p.root);
    check("1 / 0", "err:evaluation error: Division by zero of Int(1)");
    let p = compiled("resource.s.matches('^h')").unwrap();
    let Node::Call(call) = &p.root else {
        panic!("{:?}", p.root)
    };
    assert!(call.regex.is_some());
}

#[test]
fn unsupported_constructs_are_left_to_the_interpreter() {
    let r = resource();
    // Bytes, `meta` as a whole and unknown meta fields compile to nothing.
    for expr in ["b'abc' == b'abc'", "size(meta) > 0", "meta.nothing"] {
        assert_eq!(fast(expr, &r), None, "{expr}");
    }
    // Selecting a missing field named like a function makes the interpreter
    // produce a function value: the fast evaluator hands such data over.
    assert_eq!(fast("resource.size", &r).as_deref(), Some("deopt"));
    assert_eq!(fast("resource.m.contains", &r).as_deref(), Some("deopt"));
    let mut with = r.clone();
    with.attributes.insert("size".into(), json!(10));
    assert_eq!(fast("resource.size", &with).as_deref(), Some("int:10"));
}
