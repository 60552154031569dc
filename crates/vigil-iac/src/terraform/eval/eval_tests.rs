use super::evaluate;
use crate::terraform::{TfInputs, TfResource};
use crate::value::Val;
use crate::ParseError;

fn run_with(files: &[(&str, &str)], inputs: &TfInputs) -> (Vec<TfResource>, Vec<ParseError>) {
    let files: Vec<(String, String)> = files
        .iter()
        .map(|(p, t)| (p.to_string(), t.to_string()))
        .collect();
    evaluate(&files, inputs)
}

/// Evaluates files that must not produce errors.
fn run(files: &[(&str, &str)]) -> Vec<TfResource> {
    let (res, errors) = run_with(files, &TfInputs::default());
    assert!(errors.is_empty(), "unexpected errors: {errors:?}");
    res
}

/// The resources of one `main.tf`.
fn one(text: &str) -> Vec<TfResource> {
    run(&[("main.tf", text)])
}

fn res<'r>(rs: &'r [TfResource], address: &str) -> &'r TfResource {
    rs.iter().find(|r| r.address == address).unwrap_or_else(|| {
        panic!(
            "no resource {address}; have {:?}",
            rs.iter().map(|r| &r.address).collect::<Vec<_>>()
        )
    })
}

/// Argument `key` (a dotted path) of resource `address`.
fn arg(rs: &[TfResource], address: &str, key: &str) -> Val {
    res(rs, address)
        .attrs
        .path(key)
        .cloned()
        .unwrap_or_else(|| panic!("{address} has no {key}: {:?}", res(rs, address).attrs))
}

fn s(v: &str) -> Val {
    Val::string(v)
}

fn n(v: f64) -> Val {
    Val::Number(v)
}

fn unknown(expr: &str) -> Val {
    Val::unknown(expr)
}

fn list(items: Vec<Val>) -> Val {
    Val::List(items)
}

/// The value of `expr` as the argument `v` of a resource, with `prelude`
/// (variables, locals) beside it.
fn value_with(prelude: &str, expr: &str) -> Val {
    let text = format!("{prelude}\nresource \"t\" \"r\" {{\n  v = {expr}\n}}\n");
    arg(&one(&text), "t.r", "v")
}

fn value(expr: &str) -> Val {
    value_with("", expr)
}

#[test]
fn literals_variables_and_locals_in_any_order_across_files() {
    let rs = run(&[
        (
            "a.tf",
            "resource \"aws_s3_bucket\" \"b\" {\n  bucket = local.name\n  n = 1.5\n  on = true\n  none = null\n}\n",
        ),
        ("b.tf", "locals {\n  name = \"${var.env}-logs\"\n}\n"),
        ("c.tf", "variable \"env\" {\n  default = \"prod\"\n}\n"),
    ]);
    assert_eq!(arg(&rs, "aws_s3_bucket.b", "bucket"), s("prod-logs"));
    assert_eq!(arg(&rs, "aws_s3_bucket.b", "n"), n(1.5));
    assert_eq!(arg(&rs, "aws_s3_bucket.b", "on"), Val::Bool(true));
    assert_eq!(arg(&rs, "aws_s3_bucket.b", "none"), Val::Null);
}

#[test]
fn a_variable_without_a_value_is_unknown_named_by_its_reference() {
    assert_eq!(value_with("variable \"x\" {}", "var.x"), unknown("var.x"));
    assert_eq!(
        value_with("variable \"x\" {}", "\"a-${var.x}\""),
        unknown("\"a-${var.x}\"")
    );
}

#[test]
fn a_locals_cycle_is_an_error_not_a_hang() {
    let (rs, errors) = run_with(
        &[(
            "main.tf",
            "locals {\n  a = local.b\n  b = local.a\n}\nresource \"t\" \"r\" {\n  v = local.a\n}\n",
        )],
        &TfInputs::default(),
    );
    assert_eq!(rs.len(), 1);
    assert!(!rs[0].attrs.is_known());
    assert!(
        errors
            .iter()
            .any(|e| e.message.contains("cycle in locals") && e.message.contains("local.a")),
        "{errors:?}"
    );
}

#[test]
fn count_gives_one_instance_per_index() {
    let rs = one(
        "resource \"aws_s3_bucket\" \"b\" {\n  count = 2\n  bucket = \"b-${count.index}\"\n}\n",
    );
    assert_eq!(rs.len(), 2);
    assert_eq!(arg(&rs, "aws_s3_bucket.b[0]", "bucket"), s("b-0"));
    assert_eq!(arg(&rs, "aws_s3_bucket.b[1]", "bucket"), s("b-1"));
    assert!(res(&rs, "aws_s3_bucket.b[0]").attrs.get("count").is_none());
    let none = one("resource \"aws_s3_bucket\" \"b\" {\n  count = 0\n}\n");
    assert!(none.is_empty());
}

#[test]
fn for_each_over_a_map_and_a_set() {
    let rs = one(
        "resource \"aws_s3_bucket\" \"m\" {\n  for_each = { a = \"x\", b = \"y\" }\n  bucket = \"${each.key}-${each.value}\"\n}\n\
         resource \"aws_s3_bucket\" \"s\" {\n  for_each = no_such_function([\"p\", \"q\"])\n  bucket = each.value\n}\n\
         resource \"aws_s3_bucket\" \"l\" {\n  for_each = [\"q\", \"p\", \"q\"]\n  bucket = each.key\n}\n\
         resource \"aws_s3_bucket\" \"n\" {\n  for_each = [2, 1]\n  bucket = each.value\n}\n",
    );
    assert_eq!(arg(&rs, "aws_s3_bucket.m[\"a\"]", "bucket"), s("a-x"));
    assert_eq!(arg(&rs, "aws_s3_bucket.m[\"b\"]", "bucket"), s("b-y"));
    // An unknown collection: one instance with unknown each.value.
    assert_eq!(arg(&rs, "aws_s3_bucket.s", "bucket"), unknown("each.value"));
    assert_eq!(arg(&rs, "aws_s3_bucket.l[\"p\"]", "bucket"), s("p"));
    assert_eq!(arg(&rs, "aws_s3_bucket.n[\"1\"]", "bucket"), s("1"));
    assert_eq!(
        rs.iter()
            .filter(|r| r.kind == "aws_s3_bucket" && r.name == "l")
            .count(),
        2
    );
}

#[test]
fn unknown_count_gives_one_instance_with_unknown_index() {
    let rs = one(
        "variable \"n\" {}\nresource \"t\" \"r\" {\n  count = var.n\n  name = \"x${count.index}\"\n}\n",
    );
    assert_eq!(rs.len(), 1);
    assert_eq!(rs[0].address, "t.r");
    assert_eq!(arg(&rs, "t.r", "name"), unknown("\"x${count.index}\""));
}

#[test]
fn dynamic_blocks_expand_into_nested_blocks() {
    let rs = one(
        "locals {\n  ports = [22, 443]\n}\n\
         resource \"aws_security_group\" \"g\" {\n\
           ingress {\n    from_port = 80\n  }\n\
           dynamic \"ingress\" {\n    for_each = local.ports\n    content {\n      from_port = ingress.value\n      idx = ingress.key\n    }\n  }\n\
           dynamic \"egress\" {\n    for_each = { a = 1 }\n    iterator = e\n    content {\n      to_port = e.value\n      name = e.key\n    }\n  }\n\
         }\n",
    );
    let g = &res(&rs, "aws_security_group.g").attrs;
    let ingress: Vec<Val> = g
        .blocks("ingress")
        .iter()
        .map(|b| b.get("from_port").cloned().unwrap_or(Val::Null))
        .collect();
    assert_eq!(ingress, vec![n(80.0), n(22.0), n(443.0)]);
    assert_eq!(g.blocks("ingress")[2].get("idx"), Some(&n(1.0)));
    assert_eq!(g.blocks("egress")[0].get("to_port"), Some(&n(1.0)));
    assert_eq!(g.blocks("egress")[0].get("name"), Some(&s("a")));
    assert!(g.get("dynamic").is_none());
}

#[test]
fn a_dynamic_block_over_an_unknown_collection_is_unknown() {
    let rs = one(
        "variable \"rules\" {}\nresource \"aws_security_group\" \"g\" {\n  dynamic \"ingress\" {\n    for_each = var.rules\n    content {\n      from_port = ingress.value\n    }\n  }\n}\n",
    );
    assert_eq!(
        arg(&rs, "aws_security_group.g", "ingress"),
        list(vec![unknown("var.rules")])
    );
}

#[test]
fn conditionals_and_operators_with_precedence() {
    assert_eq!(value("1 + 2 * 3"), n(7.0));
    assert_eq!(value("2 * 3 + 1"), n(7.0));
    assert_eq!(value("10 - 4 - 3"), n(3.0));
    assert_eq!(value("1 + 1 == 2 ? \"y\" : \"n\""), s("y"));
    assert_eq!(value("true || false && false"), Val::Bool(true));
    assert_eq!(value("!true"), Val::Bool(false));
    assert_eq!(value("-(2 + 3)"), n(-5.0));
    assert_eq!(value("7 % 4"), n(3.0));
    assert_eq!(value("3 >= 3 && 2 < 1"), Val::Bool(false));
    assert_eq!(value("\"a\" != \"b\""), Val::Bool(true));
    assert_eq!(value("false ? 1 : 2"), n(2.0));
}

#[test]
fn unknowns_propagate_through_operations() {
    let pre = "variable \"x\" {}";
    assert_eq!(value_with(pre, "var.x ? 1 : 2"), unknown("var.x ? 1 : 2"));
    assert_eq!(value_with(pre, "var.x + 1"), unknown("var.x + 1"));
    assert_eq!(value_with(pre, "var.x == 1"), unknown("var.x == 1"));
    // known short-circuits decide anyway
    assert_eq!(value_with(pre, "false && var.x"), Val::Bool(false));
    assert_eq!(value_with(pre, "true || var.x"), Val::Bool(true));
    assert_eq!(value_with(pre, "var.x && false"), Val::Bool(false));
    // a list with an unknown element keeps its known elements
    assert_eq!(
        value_with(pre, "[1, var.x]"),
        list(vec![n(1.0), unknown("var.x")])
    );
    assert_eq!(value_with(pre, "var.x.a[0]"), unknown("var.x.a[0]"));
}

#[test]
fn for_expressions_lists_objects_filters_and_grouping() {
    assert_eq!(
        value("[for x in [1, 2, 3] : x * 2 if x != 2]"),
        list(vec![n(2.0), n(6.0)])
    );
    assert_eq!(
        value("{ for k, v in { a = 1, b = 2 } : v => k }").get("2"),
        Some(&s("b"))
    );
    assert_eq!(
        value("{ for i, s in [\"a\", \"b\", \"a\"] : s => i... }").get("a"),
        Some(&list(vec![n(0.0), n(2.0)]))
    );
    assert_eq!(
        value_with("variable \"l\" {}", "[for x in var.l : x]"),
        unknown("[for x in var.l : x]")
    );
}

#[test]
fn splats_indexes_and_attributes() {
    let pre = "locals {\n  objs = [{ id = 1, tags = { a = \"x\" } }, { id = 2, tags = { a = \"y\" } }]\n}";
    assert_eq!(
        value_with(pre, "local.objs[*].id"),
        list(vec![n(1.0), n(2.0)])
    );
    assert_eq!(
        value_with(pre, "local.objs.*.id"),
        list(vec![n(1.0), n(2.0)])
    );
    assert_eq!(
        value_with(pre, "local.objs[*].tags.a"),
        list(vec![s("x"), s("y")])
    );
    assert_eq!(value_with(pre, "local.objs[1].tags[\"a\"]"), s("y"));
    assert_eq!(value_with(pre, "local.objs.0.id"), n(1.0));
    // a missing attribute is an error, hence unknown (never a guess)
    assert_eq!(
        value_with(pre, "local.objs[0].nope"),
        unknown("local.objs[0].nope")
    );
}

#[test]
fn templates_with_directives_heredocs_and_strip_markers() {
    assert_eq!(value("\"a${1 + 1}b\""), s("a2b"));
    assert_eq!(value("\"${true}\""), Val::Bool(true));
    assert_eq!(value("\"%{ for x in [1, 2] }${x},%{ endfor }\""), s("1,2,"));
    assert_eq!(value("\"%{ if true }yes%{ else }no%{ endif }\""), s("yes"));
    assert_eq!(value("\"%{ if false }yes%{ else }no%{ endif }\""), s("no"));
    assert_eq!(value("\"a ${~ \"b\" ~} c\""), s("abc"));
    assert_eq!(value("<<EOT\nhello ${\"x\"}\nEOT\n"), s("hello x\n"));
    assert_eq!(value("<<-EOT\n    a\n      b\n    EOT\n"), s("a\n  b\n"));
    assert_eq!(
        value("<<EOT\n%{ for x in [1, 2] ~}\n${x}\n%{ endfor ~}\nEOT\n"),
        s("1\n2\n")
    );
    assert_eq!(
        value_with("variable \"x\" {}", "\"%{ if var.x }a%{ endif }\""),
        unknown("\"%{ if var.x }a%{ endif }\"")
    );
}

#[test]
fn path_terraform_and_data_references() {
    let rs = run(&[(
        "envs/prod/main.tf",
        "resource \"t\" \"r\" {\n  m = path.module\n  w = terraform.workspace\n  d = data.aws_caller_identity.me.account_id\n}\n",
    )]);
    assert_eq!(arg(&rs, "t.r", "m"), s("envs/prod"));
    assert_eq!(arg(&rs, "t.r", "w"), s("default"));
    assert_eq!(
        arg(&rs, "t.r", "d"),
        unknown("data.aws_caller_identity.me.account_id")
    );
    assert_eq!(value("path.root"), s("."));
}

#[test]
fn function_calls_go_to_the_library_and_failures_are_unknown() {
    // A function the library lacks is unknown, named by the call's text.
    assert_eq!(
        value("no_such_function(\"a\")"),
        unknown("no_such_function(\"a\")")
    );
    if crate::functions::names().contains(&"upper") {
        assert_eq!(value("upper(\"a\")"), s("A"));
    }
    assert_eq!(
        value("provider::aws::arn_parse(\"x\")"),
        unknown("provider::aws::arn_parse(\"x\")")
    );
}

#[test]
fn try_and_can_are_lazy() {
    let pre = "locals {\n  o = { a = 1 }\n}\nvariable \"u\" {}";
    assert_eq!(value_with(pre, "try(local.o.b, local.o.a)"), n(1.0));
    assert_eq!(value_with(pre, "try(local.o.a, local.o.b)"), n(1.0));
    assert_eq!(value_with(pre, "can(local.o.b)"), Val::Bool(false));
    assert_eq!(value_with(pre, "can(local.o.a)"), Val::Bool(true));
    assert_eq!(value_with(pre, "try(var.u, 2)"), unknown("try(var.u, 2)"));
    assert_eq!(
        value_with(pre, "try(local.o.b, local.o.c)"),
        unknown("try(local.o.b, local.o.c)")
    );
}

#[test]
fn references_to_resources_give_set_arguments_or_named_unknowns() {
    let rs = one(
        "resource \"aws_s3_bucket\" \"x\" {\n  bucket = \"logs\"\n}\n\
         resource \"aws_s3_bucket\" \"c\" {\n  count = 2\n  bucket = \"c${count.index}\"\n}\n\
         resource \"aws_s3_bucket\" \"e\" {\n  for_each = { k = 1 }\n  bucket = \"e\"\n}\n\
         resource \"aws_s3_bucket_versioning\" \"v\" {\n\
           bucket = aws_s3_bucket.x.id\n  name = aws_s3_bucket.x.bucket\n\
           c0 = aws_s3_bucket.c[0].arn\n  c1 = aws_s3_bucket.c[1].bucket\n\
           all = aws_s3_bucket.c[*].bucket\n  ids = aws_s3_bucket.c[*].id\n\
           ek = aws_s3_bucket.e[\"k\"].id\n  n = length_stub(aws_s3_bucket.x.id)\n}\n",
    );
    let v = "aws_s3_bucket_versioning.v";
    assert_eq!(arg(&rs, v, "bucket"), unknown("aws_s3_bucket.x.id"));
    assert_eq!(arg(&rs, v, "name"), s("logs"));
    assert_eq!(arg(&rs, v, "c0"), unknown("aws_s3_bucket.c[0].arn"));
    assert_eq!(arg(&rs, v, "c1"), s("c1"));
    assert_eq!(arg(&rs, v, "all"), list(vec![s("c0"), s("c1")]));
    assert_eq!(
        arg(&rs, v, "ids"),
        list(vec![
            unknown("aws_s3_bucket.c[0].id"),
            unknown("aws_s3_bucket.c[1].id")
        ])
    );
    assert_eq!(arg(&rs, v, "ek"), unknown("aws_s3_bucket.e[\"k\"].id"));
    assert_eq!(arg(&rs, v, "n"), unknown("length_stub(aws_s3_bucket.x.id)"));
}

const CHILD: &str = "variable \"name\" {}\nvariable \"tags\" {\n  default = {}\n}\n\
resource \"aws_s3_bucket\" \"b\" {\n  bucket = var.name\n}\n\
output \"arn\" {\n  value = aws_s3_bucket.b.arn\n}\noutput \"name\" {\n  value = aws_s3_bucket.b.bucket\n}\n";

#[test]
fn local_modules_are_expanded_with_addresses_inputs_and_outputs() {
    let rs = run(&[
        (
            "root/main.tf",
            "module \"m\" {\n  source = \"../modules/bucket\"\n  name = \"one\"\n}\n\
             module \"f\" {\n  source = \"./../modules/bucket\"\n  for_each = { a = \"x\" }\n  name = each.value\n}\n\
             module \"c\" {\n  source = \"../modules/bucket\"\n  count = 2\n  name = \"c${count.index}\"\n}\n\
             resource \"t\" \"r\" {\n  n = module.m.name\n  a = module.m.arn\n  f = module.f[\"a\"].name\n  c = module.c[1].arn\n}\n",
        ),
        ("modules/bucket/main.tf", CHILD),
    ]);
    assert_eq!(arg(&rs, "module.m.aws_s3_bucket.b", "bucket"), s("one"));
    assert_eq!(
        arg(&rs, "module.f[\"a\"].aws_s3_bucket.b", "bucket"),
        s("x")
    );
    assert_eq!(arg(&rs, "module.c[1].aws_s3_bucket.b", "bucket"), s("c1"));
    assert_eq!(arg(&rs, "t.r", "n"), s("one"));
    assert_eq!(
        arg(&rs, "t.r", "a"),
        unknown("module.m.aws_s3_bucket.b.arn")
    );
    assert_eq!(arg(&rs, "t.r", "f"), s("x"));
    assert_eq!(
        arg(&rs, "t.r", "c"),
        unknown("module.c[1].aws_s3_bucket.b.arn")
    );
    // the called directory is not a root of its own
    assert_eq!(rs.iter().filter(|r| r.kind == "aws_s3_bucket").count(), 4);
    assert_eq!(
        res(&rs, "module.m.aws_s3_bucket.b").file,
        "modules/bucket/main.tf"
    );
}

#[test]
fn roots_are_evaluated_in_order_each_with_the_modules_it_reaches() {
    // Roots a, b and c; a and c call the shared module (kept parsed from a
    // to c, then dropped); b's files come first and out of order.
    let call = |name: &str| {
        format!("module \"s\" {{\n  source = \"../shared\"\n  name = \"{name}\"\n}}\n")
    };
    let (a, c) = (call("from-a"), call("from-c"));
    let (rs, errors) = run_with(
        &[
            ("b/2.tf", "resource \"t\" \"b2\" {}\n"),
            ("b/1.tf", "resource \"t\" \"b1\" {}\n"),
            ("c/main.tf", &c),
            ("shared/main.tf", CHILD),
            ("a/main.tf", &a),
            (
                "a/extra.tf",
                "resource \"t\" \"a\" {\n  n = module.s.name\n}\n",
            ),
        ],
        &TfInputs::default(),
    );
    assert!(errors.is_empty(), "{errors:?}");
    let seen: Vec<(&str, &str, Val)> = rs
        .iter()
        .map(|r| {
            let v = r.attrs.path("bucket").or(r.attrs.path("n")).cloned();
            (r.file.as_str(), r.address.as_str(), v.unwrap_or(Val::Null))
        })
        .collect();
    assert_eq!(
        seen,
        vec![
            ("a/extra.tf", "t.a", s("from-a")),
            ("shared/main.tf", "module.s.aws_s3_bucket.b", s("from-a")),
            ("b/2.tf", "t.b2", Val::Null),
            ("b/1.tf", "t.b1", Val::Null),
            ("shared/main.tf", "module.s.aws_s3_bucket.b", s("from-c")),
        ]
    );
}

#[test]
fn non_local_modules_are_unknown_without_resources() {
    let rs = one(
        "module \"r\" {\n  source = \"terraform-aws-modules/s3-bucket/aws\"\n}\n\
         resource \"t\" \"x\" {\n  b = module.r.s3_bucket_id\n}\n",
    );
    assert_eq!(rs.len(), 1);
    assert_eq!(arg(&rs, "t.x", "b"), unknown("module.r.s3_bucket_id"));
}

#[test]
fn module_cycles_are_reported_and_end() {
    let (rs, errors) = run_with(
        &[
            (
                "a/main.tf",
                "module \"b\" {\n  source = \"../b\"\n}\nresource \"t\" \"a\" {}\n",
            ),
            (
                "b/main.tf",
                "module \"a\" {\n  source = \"../a\"\n}\nresource \"t\" \"b\" {}\n",
            ),
        ],
        &TfInputs::default(),
    );
    assert!(
        errors
            .iter()
            .any(|e| e.message == "module cycle: a/ -> b/ -> a/"),
        "{errors:?}"
    );
    assert!(rs.iter().any(|r| r.address == "t.a"));
    assert!(rs.iter().any(|r| r.address == "module.b.t.b"));
    let (_, errors) = run_with(
        &[("self/main.tf", "module \"me\" {\n  source = \"./\"\n}\n")],
        &TfInputs::default(),
    );
    assert!(
        errors
            .iter()
            .any(|e| e.message == "module cycle: self/ -> self/"),
        "{errors:?}"
    );
}

#[test]
fn tfvars_then_var_files_then_vars() {
    let vars = "variable \"a\" {}\nvariable \"b\" {}\nvariable \"c\" {}\nvariable \"d\" {\n  type = string\n}\nvariable \"e\" {\n  type = number\n}\n\
                resource \"t\" \"r\" {\n  a = var.a\n  b = var.b\n  c = var.c\n  d = var.d\n  e = var.e\n}\n";
    let inputs = TfInputs {
        var_files: vec![(
            "x.tfvars.json".into(),
            "{\"b\": \"from-file\", \"c\": [1]}".into(),
        )],
        vars: vec!["c=from-var".into(), "d=[1]".into(), "e=[1, 2]".into()],
        extra: Vec::new(),
    };
    let (rs, errors) = run_with(
        &[
            ("main.tf", vars),
            ("terraform.tfvars", "a = \"auto\"\nb = \"auto\"\n"),
            ("z.auto.tfvars.json", "{\"a\": \"auto-json\"}"),
            ("other.tfvars", "a = \"never\"\n"),
        ],
        &inputs,
    );
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(arg(&rs, "t.r", "a"), s("auto-json"));
    assert_eq!(arg(&rs, "t.r", "b"), s("from-file"));
    assert_eq!(arg(&rs, "t.r", "c"), s("from-var"));
    assert_eq!(arg(&rs, "t.r", "d"), s("[1]"));
    assert_eq!(arg(&rs, "t.r", "e"), list(vec![n(1.0), n(2.0)]));
}

#[test]
fn exact_lines_suppressions_and_parse_errors() {
    let text = "# header\n\nresource \"aws_s3_bucket\" \"b\" {\n  # vigil:skip=48:logs are public by design\n  acl = \"public-read\" // vigil:skip=CID-12\n}\n\nresource \"t\" \"r\" {}\n";
    let (rs, errors) = run_with(
        &[
            ("main.tf", text),
            ("bad.tf", "resource \"t\" \"x\" {\n  a = = 1\n}\n"),
        ],
        &TfInputs::default(),
    );
    let b = res(&rs, "aws_s3_bucket.b");
    assert_eq!((b.line, b.end_line), (3, 6));
    assert_eq!(
        b.suppressed.get(&48).map(String::as_str),
        Some("logs are public by design")
    );
    assert_eq!(
        b.suppressed.get(&12).map(String::as_str),
        Some("no reason given")
    );
    let r = res(&rs, "t.r");
    assert_eq!((r.line, r.end_line), (8, 8));
    assert!(r.suppressed.is_empty());
    assert_eq!(errors.len(), 1);
    assert_eq!(
        (errors[0].file.as_str(), errors[0].line, errors[0].column),
        ("bad.tf", 2, 7)
    );
}

#[test]
fn file_reads_scanned_and_extra_files() {
    let inputs = TfInputs {
        extra: vec![("m/policy.json".into(), "{}".into())],
        ..TfInputs::default()
    };
    // With a library that has `file`, the module's file is read; without,
    // the call is unknown. The lookup itself is checked directly below.
    let (rs, _) = run_with(
        &[(
            "m/main.tf",
            "resource \"t\" \"r\" {\n  p = file(\"${path.module}/policy.json\")\n}\n",
        )],
        &inputs,
    );
    let expected = if crate::functions::names().contains(&"file") {
        s("{}")
    } else {
        unknown("file(\"${path.module}/policy.json\")")
    };
    assert_eq!(arg(&rs, "t.r", "p"), expected);
    let texts: std::collections::HashMap<String, String> =
        [("m/policy.json".to_string(), "{}".to_string())].into();
    let read = |dir: &str, path: &str| super::files::read(&texts, dir, path);
    assert_eq!(read("m", "m/policy.json").as_deref(), Some("{}"));
    assert_eq!(read("m", "./m/../m/policy.json").as_deref(), Some("{}"));
    assert_eq!(read("m", "policy.json").as_deref(), Some("{}"));
    assert_eq!(read("other", "policy.json"), None);
    assert_eq!(super::files::normalize("a//b/./c/../d"), "a/b/d");
    assert_eq!(super::files::normalize("../x/../y"), "../y");
    assert_eq!(super::files::dir_of("main.tf"), "");
}

#[test]
fn nested_conditionals_after_an_operation_parse_and_evaluate() {
    // hcl-edit 0.8 rejects these; the evaluator parenthesizes and retries.
    let text = "locals {\n  g = \"ALL\"\n}\nresource \"t\" \"r\" {\n\
      a = local.g == \"X\" ? 1 : local.g == \"ALL\" ? 2 : 3\n\
      b = [local.g == \"X\" ? 1 : local.g == \"Y\" ? 2 : local.g == \"ALL\" ? 3 : 4]\n\
      c = (local.g != \"ALL\" ? \"x\" :\n    local.g == \"ALL\" ? \"y\" : \"z\")\n\
      d = format_stub(local.g == \"X\" ? \"%s\" : local.g == \"Y\" ? \"%s-%s\" : \"\", 1)\n}\n";
    let rs = one(text);
    assert_eq!(arg(&rs, "t.r", "a"), n(2.0));
    assert_eq!(arg(&rs, "t.r", "b"), list(vec![n(3.0)]));
    assert_eq!(arg(&rs, "t.r", "c"), s("y"));
    assert!(!arg(&rs, "t.r", "d").is_known());
    assert_eq!((rs[0].line, rs[0].end_line), (4, 10));
}

#[test]
fn conditionals_inside_calls_in_a_branch_parse() {
    let text = "locals {\n  p = \"x\"\n}\nresource \"t\" \"r\" {\n\
      a = local.p != \"\" ? [local.p == \"x\" ? 1 : 2, 3] : []\n\
      b = { for k, v in { a = 1 } : k => v == 1 ? \"one\" : v == 2 ? \"two\" : \"many\" }\n}\n";
    let rs = one(text);
    assert_eq!(arg(&rs, "t.r", "a"), list(vec![n(1.0), n(3.0)]));
    assert_eq!(arg(&rs, "t.r", "b").get("a"), Some(&s("one")));
}

#[test]
fn null_module_arguments_are_null_unless_not_nullable() {
    let rs = run(&[
        (
            "main.tf",
            "module \"m\" {\n  source = \"./m\"\n  a = null\n  b = null\n}\n",
        ),
        (
            "m/main.tf",
            "variable \"a\" {\n  default = 1\n}\nvariable \"b\" {\n  default = 2\n  nullable = false\n}\n\
             variable \"c\" {\n  default = 3\n}\nresource \"t\" \"r\" {\n  a = var.a\n  b = var.b\n  c = var.c\n  m = path.module\n}\n",
        ),
    ]);
    let r = "module.m.t.r";
    assert_eq!(arg(&rs, r, "a"), Val::Null);
    assert_eq!(arg(&rs, r, "b"), n(2.0));
    assert_eq!(arg(&rs, r, "c"), n(3.0));
    assert_eq!(arg(&rs, r, "m"), s("m"));
}

#[test]
fn module_nesting_is_limited() {
    let mut files: Vec<(String, String)> = (0..20)
        .map(|i| {
            (
                format!("d{i}/main.tf"),
                format!(
                    "module \"next\" {{\n  source = \"../d{}\"\n}}\nresource \"t\" \"r\" {{}}\n",
                    i + 1
                ),
            )
        })
        .collect();
    files.push(("d20/main.tf".into(), "resource \"t\" \"r\" {}\n".into()));
    let (rs, errors) = evaluate(&files, &TfInputs::default());
    assert!(
        errors.iter().any(|e| e.message.contains("deeper than 16")),
        "{errors:?}"
    );
    // d0 … d15 are evaluated, one resource each
    assert_eq!(rs.len(), 16);
}

#[test]
fn whole_module_and_resource_collections_can_be_referenced() {
    let rs = run(&[
        (
            "main.tf",
            "module \"m\" {\n  source = \"./m\"\n  count = 2\n  name = \"n${count.index}\"\n}\n\
             resource \"t\" \"r\" {\n  names = [for o in module.m : o.name]\n  one = module.m[0]\n}\n",
        ),
        ("m/main.tf", CHILD),
    ]);
    assert_eq!(arg(&rs, "t.r", "names"), list(vec![s("n0"), s("n1")]));
    assert_eq!(arg(&rs, "t.r", "one").get("name"), Some(&s("n0")));
}

#[test]
fn a_malformed_var_is_reported() {
    let inputs = TfInputs {
        vars: vec!["novalue".into()],
        ..TfInputs::default()
    };
    let (_, errors) = run_with(&[("main.tf", "")], &inputs);
    assert_eq!(errors.len(), 1);
    assert!(errors[0].message.contains("NAME=VALUE"), "{errors:?}");
}

/// A registry module as `terraform init` caches it, with a nested registry
/// module (`this`) and a local module of its own (`./modules/sub`).
const CACHED_BUCKET: &str = "variable \"name\" {}\n\
     module \"this\" {\n  source = \"cloudposse/label/null\"\n  version = \"0.25.0\"\n  name = var.name\n}\n\
     module \"sub\" {\n  source = \"./modules/sub\"\n  tag = module.this.id\n}\n\
     resource \"aws_s3_bucket\" \"default\" {\n  count = 1\n  bucket = module.this.id\n}\n\
     output \"bucket_id\" {\n  value = aws_s3_bucket.default[0].bucket\n}\n";
const CACHED_LABEL: &str = "variable \"name\" {}\n\
     resource \"null_resource\" \"label\" {\n  n = var.name\n}\n\
     output \"id\" {\n  value = \"acme-${var.name}\"\n}\n";
const CACHED_SUB: &str = "variable \"tag\" {}\nresource \"t\" \"sub\" {\n  tag = var.tag\n}\n";
const REGISTRY_ROOT: &str = "module \"bucket\" {\n  source = \"cloudposse/s3-bucket/aws\"\n  version = \"4.2.0\"\n  name = \"logs\"\n}\n\
     module \"many\" {\n  source = \"cloudposse/s3-bucket/aws\"\n  for_each = { a = \"x\", b = \"y\" }\n  name = each.value\n}\n\
     resource \"t\" \"r\" {\n  id = module.bucket.bucket_id\n}\n";
/// The manifest of root `prod/`: `Dir` is relative to the root, `Key` the
/// path of call names; `many` reuses the copy of `bucket`.
const REGISTRY_MANIFEST: &str = r#"{"Modules":[
  {"Key":"","Source":"","Dir":"."},
  {"Key":"bucket","Source":"registry.terraform.io/cloudposse/s3-bucket/aws","Version":"4.2.0","Dir":".terraform/modules/bucket"},
  {"Key":"bucket.this","Source":"registry.terraform.io/cloudposse/label/null","Version":"0.25.0","Dir":".terraform/modules/bucket.this"},
  {"Key":"bucket.sub","Source":"./modules/sub","Dir":".terraform/modules/bucket/modules/sub"},
  {"Key":"many","Source":"registry.terraform.io/cloudposse/s3-bucket/aws","Version":"4.2.0","Dir":".terraform/modules/bucket"},
  {"Key":"many.this","Source":"registry.terraform.io/cloudposse/label/null","Version":"0.25.0","Dir":".terraform/modules/bucket.this"}
]}"#;

/// The module cache files of root `prod/`, without the manifest.
fn cached_copies() -> Vec<(&'static str, &'static str)> {
    vec![
        ("prod/.terraform/modules/bucket/main.tf", CACHED_BUCKET),
        (
            "prod/.terraform/modules/bucket/modules/sub/main.tf",
            CACHED_SUB,
        ),
        ("prod/.terraform/modules/bucket.this/main.tf", CACHED_LABEL),
    ]
}

#[test]
fn registry_modules_are_evaluated_from_the_module_cache() {
    let mut files = vec![
        ("prod/main.tf", REGISTRY_ROOT),
        ("prod/.terraform/modules/modules.json", REGISTRY_MANIFEST),
    ];
    files.extend(cached_copies());
    let rs = run(&files);
    let bucket = "module.bucket.aws_s3_bucket.default[0]";
    assert_eq!(arg(&rs, bucket, "bucket"), s("acme-logs"));
    assert_eq!(
        res(&rs, bucket).file,
        "prod/.terraform/modules/bucket/main.tf"
    );
    assert_eq!(
        arg(&rs, "module.bucket.module.this.null_resource.label", "n"),
        s("logs")
    );
    assert_eq!(
        res(&rs, "module.bucket.module.this.null_resource.label").file,
        "prod/.terraform/modules/bucket.this/main.tf"
    );
    assert_eq!(
        arg(&rs, "module.bucket.module.sub.t.sub", "tag"),
        s("acme-logs")
    );
    assert_eq!(arg(&rs, "t.r", "id"), s("acme-logs"));
    // for_each instances share the key `many` (and `many.this`).
    assert_eq!(
        arg(&rs, "module.many[\"a\"].aws_s3_bucket.default[0]", "bucket"),
        s("acme-x")
    );
    assert_eq!(
        arg(
            &rs,
            "module.many[\"b\"].module.this.null_resource.label",
            "n"
        ),
        s("y")
    );
    // Everything belongs to the root `prod`: no cached directory is a root.
    assert_eq!(
        rs.len(),
        10,
        "{:?}",
        rs.iter().map(|r| &r.address).collect::<Vec<_>>()
    );
    assert!(rs.iter().all(|r| r.root == "prod"));
}

#[test]
fn without_the_module_cache_registry_modules_stay_unknown() {
    // No `.terraform` at all: as before.
    let rs = run(&[("prod/main.tf", REGISTRY_ROOT)]);
    assert_eq!(rs.len(), 1);
    assert_eq!(arg(&rs, "t.r", "id"), unknown("module.bucket.bucket_id"));
    // Cached copies without a manifest: unknown, and the copies are not
    // roots of their own.
    let mut files = vec![("prod/main.tf", REGISTRY_ROOT)];
    files.extend(cached_copies());
    let rs = run(&files);
    assert_eq!(
        rs.iter().map(|r| r.address.as_str()).collect::<Vec<_>>(),
        vec!["t.r"]
    );
    assert_eq!(arg(&rs, "t.r", "id"), unknown("module.bucket.bucket_id"));
    // A manifest whose entry names a directory that was not scanned.
    let rs = run(&[
        ("prod/main.tf", REGISTRY_ROOT),
        ("prod/.terraform/modules/modules.json", REGISTRY_MANIFEST),
    ]);
    assert_eq!(rs.len(), 1);
    assert_eq!(arg(&rs, "t.r", "id"), unknown("module.bucket.bucket_id"));
}

#[test]
fn a_bad_module_manifest_is_reported_and_its_modules_stay_unknown() {
    for (manifest, line, message) in [
        (
            "{\"Modules\": [\n  {\"Key\": \"bucket\",}\n]}",
            2,
            "invalid module manifest: ",
        ),
        (
            "[]",
            1,
            "invalid module manifest: expected an object with a \"Modules\" list",
        ),
    ] {
        let mut files = vec![
            ("prod/main.tf", REGISTRY_ROOT),
            ("prod/.terraform/modules/modules.json", manifest),
        ];
        files.extend(cached_copies());
        let (rs, errors) = run_with(&files, &TfInputs::default());
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].file, "prod/.terraform/modules/modules.json");
        assert_eq!(errors[0].line, line);
        assert!(errors[0].message.starts_with(message), "{}", errors[0]);
        assert!(
            errors[0].message.contains("terraform init"),
            "{}",
            errors[0]
        );
        assert_eq!(
            rs.iter().map(|r| r.address.as_str()).collect::<Vec<_>>(),
            vec!["t.r"]
        );
        assert_eq!(arg(&rs, "t.r", "id"), unknown("module.bucket.bucket_id"));
    }
    // An entry without its Dir: that one module stays unknown, the others
    // are evaluated.
    let manifest = r#"{"Modules":[
      {"Key":"bucket","Dir":".terraform/modules/bucket"},
      {"Key":"bucket.this"}]}"#;
    let mut files = vec![
        ("prod/main.tf", REGISTRY_ROOT),
        ("prod/.terraform/modules/modules.json", manifest),
    ];
    files.extend(cached_copies());
    let (rs, errors) = run_with(&files, &TfInputs::default());
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].message.contains("entry 2"), "{}", errors[0]);
    assert_eq!(
        arg(&rs, "module.bucket.aws_s3_bucket.default[0]", "bucket"),
        unknown("module.bucket.module.this.id")
    );
}

#[test]
fn module_manifest_paths_and_cache_directories() {
    use super::is_module_manifest;
    use super::manifest::in_module_cache;
    assert!(is_module_manifest(".terraform/modules/modules.json"));
    assert!(is_module_manifest("infra/.terraform/modules/modules.json"));
    assert!(is_module_manifest("a.zip!/.terraform/modules/modules.json"));
    assert!(!is_module_manifest("x.terraform/modules/modules.json"));
    assert!(!is_module_manifest("infra/modules/modules.json"));
    assert!(in_module_cache("infra/.terraform/modules/b"));
    assert!(in_module_cache(".terraform/modules/b/modules/x"));
    assert!(!in_module_cache("infra/modules/b"));
    assert!(!in_module_cache("infra/.terraform/providers"));
}

#[test]
fn a_cached_example_calling_out_of_the_cache_does_not_hide_a_root() {
    let rs = run(&[
        ("prod/main.tf", "resource \"t\" \"root\" {}\n"),
        (
            "prod/.terraform/modules/vpc/examples/x/main.tf",
            "module \"up\" {\n  source = \"../../../../..\"\n}\nresource \"t\" \"example\" {}\n",
        ),
    ]);
    assert_eq!(
        rs.iter().map(|r| r.address.as_str()).collect::<Vec<_>>(),
        vec!["t.root"]
    );
}
