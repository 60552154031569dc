//! Terraform plan JSON (`terraform show -json plan.out`) read into the same
//! resource blocks as `.tf` files, for the same mapping.
//!
//! The resources are the managed ones of `planned_values` (the root module
//! and its child modules, recursively), with their planned `values`. What
//! the plan marks "known after apply" (`resource_changes[].change.after_unknown`)
//! becomes [`Val::Unknown`]:
//!
//! * when an argument is unknown as a whole and the configuration sets it
//!   to a reference to another resource's attribute
//!   (`bucket = aws_s3_bucket.b.id`), the unknown's expression is that
//!   reference with the module's address in front
//!   (`module.m.aws_s3_bucket.b.id`), so satellites fold into the resource
//!   they name as they do from `.tf` files;
//! * when an argument of the resource or of one of its nested blocks is
//!   unknown and the configuration does not set it (`id`, or an optional
//!   argument the provider computes such as `port` or `mfa_delete`), it is
//!   computed as if omitted: it is left out, so the mappers apply the same
//!   defaults as for `.tf` files;
//! * otherwise the expression is `<address>.<path>`
//!   (`aws_db_instance.db.storage_encrypted`, `aws_s3_bucket.b.tags.env`).
//!
//! A plan without a `configuration` section keeps every unknown.
//! Each resource points at the line of its `"address": "…"` in the plan.

use super::TfResource;
use crate::value::Val;
use crate::ParseError;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};

/// Whether a JSON document looks like a plan: an object with Terraform's
/// version and planned values or resource changes.
pub fn is_plan(text: &str) -> bool {
    text.trim_start().starts_with('{')
        && text.contains("\"terraform_version\"")
        && (text.contains("\"planned_values\"") || text.contains("\"resource_changes\""))
}

/// The resources of a plan JSON document.
pub fn plan_resources(file: &str, text: &str) -> Result<Vec<TfResource>, ParseError> {
    let doc: Value = serde_json::from_str(text).map_err(|e| ParseError {
        file: file.into(),
        line: e.line(),
        column: e.column(),
        message: format!("not valid JSON: {e}"),
    })?;
    let Some(planned) = doc.get("planned_values") else {
        return Err(ParseError {
            file: file.into(),
            line: 1,
            column: 1,
            message: "no \"planned_values\": not a plan; give the output of \
                      `terraform show -json <planfile>`"
                .into(),
        });
    };
    let mut unknowns: HashMap<&str, &Value> = HashMap::new();
    for rc in doc
        .get("resource_changes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let (Some(a), Some(u)) = (
            rc.get("address").and_then(Value::as_str),
            rc.pointer("/change/after_unknown"),
        ) {
            unknowns.insert(a, u);
        }
    }
    let mut config = HashMap::new();
    if let Some(root) = doc.pointer("/configuration/root_module") {
        config_expressions(root, "", &mut config);
    }
    let reader = Reader {
        file,
        text,
        unknowns,
        config,
    };
    let mut out = Vec::new();
    if let Some(root) = planned.get("root_module") {
        reader.module(root, "", &mut out);
    }
    Ok(out)
}

/// The plan's pieces a resource is read from.
struct Reader<'a> {
    file: &'a str,
    text: &'a str,
    /// `after_unknown` by resource address.
    unknowns: HashMap<&'a str, &'a Value>,
    /// The configuration's `expressions` by resource address without
    /// instance keys (`module.m.aws_s3_bucket_versioning.v`).
    config: HashMap<String, &'a serde_json::Map<String, Value>>,
}

impl Reader<'_> {
    /// The managed resources of a `planned_values` module and its children;
    /// `module` is its address (`""` for the root).
    fn module(&self, m: &Value, module: &str, out: &mut Vec<TfResource>) {
        for r in m
            .get("resources")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if r.get("mode").and_then(Value::as_str) != Some("managed") {
                continue;
            }
            let s = |k: &str| r.get(k).and_then(Value::as_str);
            let (Some(address), Some(kind)) = (s("address"), s("type")) else {
                continue;
            };
            let mut attrs = r
                .get("values")
                .map_or_else(|| Val::Map(BTreeMap::new()), Val::from_json);
            if let Some(u) = self.unknowns.get(address) {
                let body = self.config.get(&without_keys(address)).copied();
                let expr = body.map_or(Expr::None, Expr::Body);
                overlay(&mut attrs, u, address, expr, module);
            }
            let line = self.line_of(address);
            out.push(TfResource {
                root: self.file.to_string(),
                kind: kind.to_string(),
                name: s("name").unwrap_or_default().to_string(),
                address: address.to_string(),
                file: self.file.to_string(),
                line,
                end_line: line,
                attrs,
                suppressed: BTreeMap::new(),
            });
        }
        for child in m
            .get("child_modules")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let address = child.get("address").and_then(Value::as_str).unwrap_or("");
            self.module(child, address, out);
        }
    }

    /// The 1-based line of `"address": "<address>"`; 1 if not found.
    fn line_of(&self, address: &str) -> u32 {
        let Ok(quoted) = serde_json::to_string(address) else {
            return 1;
        };
        let found = self.text.match_indices(&quoted).find(|(at, _)| {
            let before = self.text[..*at].trim_end();
            before
                .strip_suffix(':')
                .is_some_and(|b| b.trim_end().ends_with("\"address\""))
        });
        found.map_or(1, |(at, _)| {
            u32::try_from(self.text[..at].matches('\n').count() + 1).unwrap_or(u32::MAX)
        })
    }
}

/// The configuration's expression of a value being overlaid.
#[derive(Clone, Copy)]
enum Expr<'a> {
    /// Not known (no configuration, or inside an argument's value).
    None,
    /// The body of a resource or nested block: arguments by name.
    Body(&'a serde_json::Map<String, Value>),
    /// One argument's expression (`references`, `constant_value`).
    Arg(&'a Value),
    /// Nested blocks, one body each.
    Blocks(&'a [Value]),
}

/// Puts `Val::Unknown` wherever `unknown` (an `after_unknown` structure)
/// has `true`, creating the entries and elements the planned values omit;
/// `expr` is the configuration's expression of the same value (see the
/// module docs for how it names or drops the unknown).
fn overlay(v: &mut Val, unknown: &Value, path: &str, expr: Expr<'_>, module: &str) {
    match unknown {
        Value::Bool(true) => {
            let name = match expr {
                Expr::Arg(e) => reference(e, module),
                _ => None,
            };
            *v = Val::unknown(name.unwrap_or_else(|| path.to_string()));
        }
        Value::Object(u) => {
            if v.is_null() {
                *v = Val::Map(BTreeMap::new());
            }
            let Val::Map(m) = v else { return };
            for (k, u) in u {
                let child = match expr {
                    Expr::Body(body) => match body.get(k) {
                        // Not in the configuration: computed as if omitted.
                        None if u == &Value::Bool(true) => {
                            m.remove(k);
                            continue;
                        }
                        None => Expr::None,
                        Some(Value::Array(blocks)) => Expr::Blocks(blocks),
                        Some(e) => Expr::Arg(e),
                    },
                    _ => Expr::None,
                };
                let entry = m.entry(k.clone()).or_insert(Val::Null);
                overlay(entry, u, &format!("{path}.{k}"), child, module);
            }
        }
        Value::Array(u) => {
            if v.is_null() {
                *v = Val::List(Vec::new());
            }
            let Val::List(items) = v else { return };
            if items.len() < u.len() {
                items.resize(u.len(), Val::Null);
            }
            for (i, (item, u)) in items.iter_mut().zip(u).enumerate() {
                let child = match expr {
                    Expr::Blocks(blocks) => blocks
                        .get(i)
                        .and_then(Value::as_object)
                        .map_or(Expr::None, Expr::Body),
                    _ => Expr::None,
                };
                overlay(item, u, &format!("{path}[{i}]"), child, module);
            }
        }
        _ => {}
    }
}

/// The `expressions` of the configuration's resources, by address without
/// instance keys, through `module_calls`.
fn config_expressions<'a>(
    m: &'a Value,
    prefix: &str,
    out: &mut HashMap<String, &'a serde_json::Map<String, Value>>,
) {
    for r in m
        .get("resources")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let (Some(a), Some(e)) = (
            r.get("address").and_then(Value::as_str),
            r.get("expressions").and_then(Value::as_object),
        ) {
            out.insert(format!("{prefix}{a}"), e);
        }
    }
    for (name, call) in m
        .get("module_calls")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        if let Some(module) = call.get("module") {
            config_expressions(module, &format!("{prefix}module.{name}."), out);
        }
    }
}

/// The reference to another resource's attribute an expression is, with
/// the module's address in front: its only reference once the shorter
/// forms Terraform also lists are dropped (`aws_s3_bucket.b.id` of
/// `["aws_s3_bucket.b.id", "aws_s3_bucket.b"]`), when that is of the form
/// `type.name.attr…` (or `type.name[key].attr…`). An expression with
/// several references (`var.x ? aws_s3_bucket.a.id : aws_s3_bucket.b.id`)
/// names none.
fn reference(expr: &Value, module: &str) -> Option<String> {
    const NOT_RESOURCES: &[&str] = &[
        "var",
        "local",
        "module",
        "data",
        "each",
        "count",
        "path",
        "terraform",
        "self",
    ];
    let refs: Vec<&str> = expr
        .get("references")?
        .as_array()?
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let longest: Vec<&str> = refs
        .iter()
        .copied()
        .filter(|r| {
            !refs.iter().any(|other| {
                other
                    .strip_prefix(r)
                    .is_some_and(|rest| rest.starts_with('.') || rest.starts_with('['))
            })
        })
        .collect();
    let [only] = longest.as_slice() else {
        return None;
    };
    let plain = without_keys(only);
    let parts: Vec<&str> = plain.split('.').collect();
    if parts.len() < 3 || NOT_RESOURCES.contains(&parts[0]) {
        return None;
    }
    Some(if module.is_empty() {
        only.to_string()
    } else {
        format!("{module}.{only}")
    })
}

/// An address without its instance keys: `module.a["x"].aws_s3_bucket.b[0]`
/// → `module.a.aws_s3_bucket.b`.
fn without_keys(address: &str) -> String {
    let mut out = String::with_capacity(address.len());
    let mut depth = 0;
    let mut in_string = false;
    let mut escaped = false;
    for c in address.chars() {
        if depth > 0 {
            if in_string {
                if escaped {
                    escaped = false;
                } else if c == '\\' {
                    escaped = true;
                } else if c == '"' {
                    in_string = false;
                }
            } else if c == '"' {
                in_string = true;
            } else if c == '[' {
                depth += 1;
            } else if c == ']' {
                depth -= 1;
            }
        } else if c == '[' {
            depth = 1;
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use vigil_engine::Catalog;
    use vigil_model::EvalResult::{self, Fail, Pass, Skip};

    const PLAN: &str = include_str!("../../tests/data/plan.json");

    fn find<'a>(rs: &'a [TfResource], address: &str) -> &'a TfResource {
        match rs.iter().find(|r| r.address == address) {
            Some(r) => r,
            None => panic!("no {address}"),
        }
    }

    fn read(text: &str) -> Vec<TfResource> {
        match plan_resources("plan.json", text) {
            Ok(rs) => rs,
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn managed_resources_of_every_module_are_read_at_their_address_line() {
        let rs = read(PLAN);
        let addresses: Vec<&str> = rs.iter().map(|r| r.address.as_str()).collect();
        assert_eq!(
            addresses,
            [
                "aws_db_instance.orders",
                "aws_s3_bucket.logs",
                "aws_s3_bucket.scratch",
                "aws_s3_bucket_versioning.logs",
                "aws_s3_bucket_versioning.scratch",
                "aws_s3_bucket_versioning.shared",
                "module.storage.aws_s3_bucket.this",
            ]
        );
        let logs = find(&rs, "aws_s3_bucket.logs");
        assert_eq!(
            (logs.kind.as_str(), logs.name.as_str()),
            ("aws_s3_bucket", "logs")
        );
        assert_eq!((logs.file.as_str(), logs.line), ("plan.json", 40));
        let this = find(&rs, "module.storage.aws_s3_bucket.this");
        assert_eq!(this.line, 165);
        assert_eq!(this.attrs.get("bucket_prefix"), Some(&Val::string("acme")));
    }

    #[test]
    fn unknowns_name_the_reference_or_are_dropped_when_not_configured() {
        let rs = read(PLAN);
        let v = find(&rs, "aws_s3_bucket_versioning.logs");
        // `bucket = aws_s3_bucket.logs.id`: the reference, to fold by.
        assert_eq!(
            v.attrs.get("bucket"),
            Some(&Val::unknown("aws_s3_bucket.logs.id"))
        );
        assert_eq!(
            v.attrs.get("id"),
            None,
            "computed and not configured: left out"
        );
        // Nested: `mfa_delete` is computed, not configured.
        let conf = v.attrs.blocks("versioning_configuration");
        assert_eq!(conf.len(), 1);
        assert_eq!(conf[0].get("status"), Some(&Val::string("Enabled")));
        assert_eq!(conf[0].get("mfa_delete"), None);
        // A module output is not a resource: the plan path names it.
        let shared = find(&rs, "aws_s3_bucket_versioning.shared");
        assert_eq!(
            shared.attrs.get("bucket"),
            Some(&Val::unknown("aws_s3_bucket_versioning.shared.bucket"))
        );
    }

    #[test]
    fn configured_unknowns_stay_unknown_at_any_depth() {
        let doc = json!({
            "format_version": "1.2", "terraform_version": "1.9.5",
            "planned_values": {"root_module": {"child_modules": [{"address": "module.db", "resources": [{
                "address": "module.db.aws_db_instance.x[0]", "mode": "managed",
                "type": "aws_db_instance", "name": "x", "index": 0,
                "values": {"engine": "mysql", "tags": {"a": "1"}}}]}]}},
            "resource_changes": [{"address": "module.db.aws_db_instance.x[0]",
                "change": {"after_unknown": {
                    "storage_encrypted": true, "multi_az": true, "port": true,
                    "tags": {"b": true}, "blocks": [false, {"id": true}]}}}],
            "configuration": {"root_module": {"module_calls": {"db": {"module": {"resources": [{
                "address": "aws_db_instance.x",
                "expressions": {
                    "storage_encrypted": {"references": ["aws_kms_key.k.enabled", "aws_kms_key.k"]},
                    "multi_az": {"references": ["var.ha"]},
                    "tags": {}, "blocks": []}}]}}}}}
        });
        let rs = read(&doc.to_string());
        let a = &rs[0].attrs;
        assert_eq!(rs[0].address, "module.db.aws_db_instance.x[0]");
        assert_eq!(
            a.get("storage_encrypted"),
            Some(&Val::unknown("module.db.aws_kms_key.k.enabled"))
        );
        assert_eq!(
            a.get("multi_az"),
            Some(&Val::unknown("module.db.aws_db_instance.x[0].multi_az"))
        );
        assert_eq!(a.get("port"), None);
        assert_eq!(
            a.path("tags.b"),
            Some(&Val::unknown("module.db.aws_db_instance.x[0].tags.b"))
        );
        assert_eq!(a.path("tags.a"), Some(&Val::string("1")));
        assert_eq!(
            a.get("blocks").and_then(Val::as_list).map(|l| l[1].clone()),
            Some(Val::Map(BTreeMap::from([(
                "id".to_string(),
                Val::unknown("module.db.aws_db_instance.x[0].blocks[1].id")
            )])))
        );
    }

    #[test]
    fn the_catalogue_judges_a_plan_and_skips_what_it_leaves_unknown() {
        let rs = match crate::plan_to_resources("plan.json", PLAN) {
            Ok(rs) => rs,
            Err(e) => panic!("{e}"),
        };
        let now = "2026-11-23T00:00:00Z".parse().unwrap();
        let engine = Catalog::builtin().unwrap().compile(now).unwrap();
        let results: HashMap<(String, u32), EvalResult> = engine
            .evaluate(&rs, &|_| {})
            .into_iter()
            .map(|e| ((rs[e.resource].id.clone(), e.cid), e.result))
            .collect();
        let got = |id: &str, cid| results.get(&(id.to_string(), cid)).copied();
        assert_eq!(got("aws_s3_bucket.logs", 48), Some(Pass));
        assert_eq!(got("aws_s3_bucket.scratch", 48), Some(Fail));
        // `aws_s3_bucket_versioning.shared` names a module output, which may
        // be this bucket: its versioning is not known.
        assert_eq!(got("module.storage.aws_s3_bucket.this", 48), Some(Skip));
        assert_eq!(got("aws_s3_bucket.logs", 22), Some(Fail));
        assert_eq!(got("aws_db_instance.orders", 53), Some(Pass));
        // Port and retention are computed: PostgreSQL's 5432, one day.
        assert_eq!(got("aws_db_instance.orders", 56), Some(Fail));
        assert_eq!(got("aws_db_instance.orders", 26), Some(Fail));
        let logs = rs.iter().find(|r| r.id == "aws_s3_bucket.logs");
        assert_eq!(
            logs.map(|r| r.origin.clone()),
            Some(vigil_model::Origin::Iac {
                file: "plan.json".into(),
                line: 40,
                end_line: 40
            })
        );
    }

    #[test]
    fn plans_are_told_from_other_json() {
        assert!(is_plan(PLAN));
        assert!(!is_plan(
            r#"{"AWSTemplateFormatVersion": "2010-09-09", "Resources": {}}"#
        ));
        assert!(!is_plan("terraform_version = planned_values"));
    }

    #[test]
    fn broken_or_foreign_json_is_an_error_with_its_position() {
        let e = plan_resources(
            "plan.json",
            "{\n  \"format_version\": \"1.2\",\n  \"planned_values\": {\n}",
        )
        .err();
        let e = e.unwrap_or_else(|| panic!("no error"));
        assert_eq!((e.file.as_str(), e.line), ("plan.json", 4));
        assert!(e.column > 0);
        assert!(e.message.starts_with("not valid JSON"), "{}", e.message);
        let e = plan_resources("state.json", r#"{"values": {}}"#).err();
        assert!(e.is_some_and(|e| e.message.contains("terraform show -json")));
    }

    #[test]
    fn only_a_single_resource_reference_names_an_unknown() {
        let r = |refs: Value| reference(&json!({ "references": refs }), "module.m");
        assert_eq!(
            r(json!([
                "aws_s3_bucket.b[0].id",
                "aws_s3_bucket.b[0]",
                "aws_s3_bucket.b"
            ])),
            Some("module.m.aws_s3_bucket.b[0].id".into())
        );
        assert_eq!(
            r(json!([
                "var.on",
                "aws_s3_bucket.a.id",
                "aws_s3_bucket.a",
                "aws_s3_bucket.b.id"
            ])),
            None
        );
        assert_eq!(r(json!(["module.x.bucket_id", "module.x"])), None);
        assert_eq!(r(json!(["aws_s3_bucket.b"])), None);
    }

    #[test]
    fn instance_keys_are_stripped_from_addresses() {
        assert_eq!(
            without_keys(r#"module.a["x.]y"].aws_s3_bucket.b[0]"#),
            "module.a.aws_s3_bucket.b"
        );
    }
}
