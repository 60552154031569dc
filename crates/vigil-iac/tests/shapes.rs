//! The IaC adapters emit the same attribute shapes as the live AWS
//! collectors: for every control folder with IaC fixtures (`pass.tf`,
//! `fail.tf`, `pass.cfn.yaml`, `fail.cfn.yaml`), every attribute of every
//! resource the adapters read (and every attribute they mark uncollected)
//! must be one the collectors emit for that resource type — as seen in the
//! live fixtures (`pass.json`, `fail.json`, `skip.json`) of all folders —
//! with the same JSON type; for objects and arrays of objects, the keys of
//! the object (or elements) and the types of their values are compared too,
//! one level deep. A control written against the live shape then reads the
//! same thing on Terraform and CloudFormation.

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use vigil_iac::terraform::{eval::evaluate, map::to_resources, TfInputs};
use vigil_model::Resource;

/// Attributes no live fixture shows although the live collectors emit
/// them (the fixtures hold what the controls read, not every attribute):
/// `(resource type, attribute or attribute.field)`, with where the
/// collector sets it. Keep it short; a key the collector emits under
/// another name is a mapper bug, not an entry here.
const COLLECTED_NOT_IN_FIXTURES: &[(&str, &str)] = &[
    // vigil-aws/src/services/s3.rs: `set(&mut r, "creation_date", …)`.
    ("aws.s3.bucket", "creation_date"),
    // vigil-aws/src/services/s3.rs: each ACL grant has `grantee_id`.
    ("aws.s3.bucket", "acl_grants[].grantee_id"),
];

const IAC_FILES: &[&str] = &["pass.tf", "fail.tf", "pass.cfn.yaml", "fail.cfn.yaml"];
const LIVE_FILES: &[&str] = &["pass.json", "fail.json", "skip.json"];

/// The JSON type of a value.
fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// What the live fixtures show of a value: its JSON types (`null` left
/// out: a collector may emit null for any type), the shape of its array
/// elements, and the shape of the value under each key of its objects.
#[derive(Default)]
struct Shape {
    kinds: BTreeSet<&'static str>,
    elements: Option<Box<Shape>>,
    fields: BTreeMap<String, Shape>,
}

impl Shape {
    fn learn(&mut self, v: &Value) {
        if v.is_null() {
            return;
        }
        self.kinds.insert(kind(v));
        match v {
            Value::Array(items) => {
                let elements = self.elements.get_or_insert_with(Box::default);
                for x in items {
                    elements.learn(x);
                }
            }
            Value::Object(o) => {
                for (k, x) in o {
                    self.fields.entry(k.clone()).or_default().learn(x);
                }
            }
            _ => {}
        }
    }

    /// Adds to `out` the ways `v` (at `path`) differs from this shape;
    /// `allowed` tells the paths known to exist although no live fixture
    /// shows them. Only what live shows is compared: a value live shows
    /// only as null, or an empty array, says nothing about its type.
    fn check(
        &self,
        v: &Value,
        path: &str,
        allowed: &dyn Fn(&str) -> bool,
        out: &mut BTreeSet<String>,
    ) {
        if v.is_null() || self.kinds.is_empty() {
            return;
        }
        if !self.kinds.contains(kind(v)) {
            out.insert(format!(
                "{path}: is {} where live has {:?}",
                kind(v),
                self.kinds
            ));
            return;
        }
        match v {
            Value::Array(items) => {
                if let Some(elements) = &self.elements {
                    for x in items {
                        elements.check(x, &format!("{path}[]"), allowed, out);
                    }
                }
            }
            Value::Object(o) => {
                for (k, x) in o {
                    let at = if path.is_empty() {
                        k.clone()
                    } else {
                        format!("{path}.{k}")
                    };
                    match self.fields.get(k) {
                        Some(field) => field.check(x, &at, allowed, out),
                        None if allowed(&at) => {}
                        None => {
                            out.insert(format!("{at}: no live fixture has it"));
                        }
                    }
                }
            }
            _ => {}
        }
    }
}

fn catalog_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../catalog/controls/aws")
}

/// The control folders `catalog/controls/aws/<service>/<control>/`.
fn control_dirs() -> Vec<PathBuf> {
    let mut out = Vec::new();
    let services = std::fs::read_dir(catalog_dir()).expect("catalog/controls/aws is readable");
    for s in services.flatten() {
        let Ok(controls) = std::fs::read_dir(s.path()) else {
            continue;
        };
        out.extend(
            controls
                .flatten()
                .map(|c| c.path())
                .filter(|p| p.join("control.toml").is_file()),
        );
    }
    out.sort();
    out
}

fn read_iac(path: &Path) -> Vec<Resource> {
    let text = std::fs::read_to_string(path).unwrap();
    let file = path.display().to_string();
    let (resources, errors) = if path.extension().is_some_and(|e| e == "tf") {
        let (decls, errors) = evaluate(&[(file, text)], &TfInputs::default());
        (to_resources(&decls), errors)
    } else {
        vigil_iac::cloudformation::cloudformation_resources(&[(file, text)])
    };
    assert!(errors.is_empty(), "{}: {errors:?}", path.display());
    resources
}

/// The control's resource type, from its `control.toml`.
fn control_type(dir: &Path) -> String {
    let text = std::fs::read_to_string(dir.join("control.toml")).unwrap();
    text.lines()
        .find_map(|l| {
            let rest = l
                .strip_prefix("resource_type")?
                .trim_start()
                .strip_prefix('=')?;
            Some(rest.trim().trim_matches('"').to_string())
        })
        .unwrap_or_else(|| panic!("{}: no resource_type", dir.display()))
}

#[test]
fn iac_adapters_emit_the_attribute_shapes_of_the_live_collectors() {
    let dirs = control_dirs();
    // Resource type → the shape of its attributes, over the live fixtures
    // of all folders.
    let mut live: BTreeMap<String, Shape> = BTreeMap::new();
    for dir in &dirs {
        for f in LIVE_FILES {
            let path = dir.join(f);
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue;
            };
            let resources = vigil_model::parse_resources(&text, &path.display().to_string())
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            for r in resources {
                live.entry(r.resource_type)
                    .or_default()
                    .learn(&Value::Object(r.attributes));
            }
        }
    }

    // "type.path: problem" → where it shows.
    let mut wrong: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut checked = 0;
    for dir in &dirs {
        let ty = control_type(dir);
        let Some(shape) = live.get(&ty) else {
            wrong
                .entry(format!("{ty}: no live fixture has this type"))
                .or_default()
                .push(dir.display().to_string());
            continue;
        };
        let allowed = |path: &str| COLLECTED_NOT_IN_FIXTURES.contains(&(ty.as_str(), path));
        for f in IAC_FILES {
            let path = dir.join(f);
            if !path.is_file() {
                continue;
            }
            let rel = path.strip_prefix(catalog_dir()).unwrap_or(&path).display();
            for r in read_iac(&path)
                .into_iter()
                .filter(|r| r.resource_type == ty)
            {
                checked += 1;
                let mut problems = BTreeSet::new();
                // An uncollected key may name a nested field
                // (`metadata_options.http_tokens`): its attribute is the
                // first segment.
                for k in r.uncollected.keys().filter_map(|k| k.split('.').next()) {
                    if !shape.fields.contains_key(k) && !allowed(k) {
                        problems.insert(format!("{k}: no live fixture has it (uncollected)"));
                    }
                }
                let id = r.id.clone();
                shape.check(&Value::Object(r.attributes), "", &allowed, &mut problems);
                for m in problems {
                    wrong
                        .entry(format!("{ty}.{m}"))
                        .or_default()
                        .push(format!("{rel} {id}"));
                }
            }
        }
    }
    assert!(checked > 50, "only {checked} IaC resources read");
    let report: Vec<String> = wrong
        .iter()
        .map(|(m, at)| format!("{m}\n    in {} (and {} more)", at[0], at.len() - 1))
        .collect();
    assert!(
        wrong.is_empty(),
        "{} shape mismatches:\n{}",
        wrong.len(),
        report.join("\n")
    );
}

/// The text of an IaC fixture with its literal booleans and numbers quoted
/// (`encrypted = "true"`, `Port: "443"`): Terraform converts such strings
/// to the argument's type, and CloudFormation to the property's.
fn quoted(text: &str, terraform: bool) -> String {
    let re = if terraform {
        regex::Regex::new(
            r#"^(\s*[A-Za-z_][A-Za-z0-9_]*\s*=\s*)(true|false|-?[0-9]+(?:\.[0-9]+)?)(\s*(?:#.*)?)$"#,
        )
    } else {
        regex::Regex::new(
            r#"^(\s*(?:- )?[A-Za-z_][A-Za-z0-9_.]*:\s+)(true|false|-?[0-9]+(?:\.[0-9]+)?)(\s*(?:#.*)?)$"#,
        )
    };
    let re = re.expect("valid regex");
    text.lines()
        .map(|l| {
            // `count` must stay a number for the evaluator to expand it.
            if l.trim_start().starts_with("count") {
                return l.to_string();
            }
            re.replace(l, "${1}\"${2}\"${3}").into_owned()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn quoted_booleans_and_numbers_read_like_typed_ones() {
    let mut wrong = Vec::new();
    for dir in control_dirs() {
        for f in IAC_FILES {
            let path = dir.join(f);
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue;
            };
            let requoted = quoted(&text, f.ends_with(".tf"));
            if requoted == text {
                continue;
            }
            let tmp = std::env::temp_dir().join(format!(
                "vigil-shapes-{}-{}",
                std::process::id(),
                path.file_name().and_then(|n| n.to_str()).unwrap_or("x")
            ));
            std::fs::write(&tmp, &requoted).unwrap();
            let typed = read_iac(&path);
            let strings = read_iac(&tmp);
            let _ = std::fs::remove_file(&tmp);
            let rel = path.strip_prefix(catalog_dir()).unwrap_or(&path).display();
            for (a, b) in typed.iter().zip(&strings) {
                for k in a
                    .attributes
                    .keys()
                    .chain(b.attributes.keys())
                    .collect::<BTreeSet<_>>()
                {
                    let (x, y) = (a.attributes.get(k), b.attributes.get(k));
                    if x != y {
                        wrong.push(format!(
                            "{rel} {} {}.{k}: {} written typed, {} quoted",
                            a.id,
                            a.resource_type,
                            x.map_or("absent".into(), Value::to_string),
                            y.map_or("absent".into(), Value::to_string)
                        ));
                    }
                }
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
