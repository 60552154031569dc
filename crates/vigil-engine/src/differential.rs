//! The fast evaluator against the interpreter (the reference semantics):
//! every shipped control over every fixture resource, over mutated variants
//! of them (attributes missing, null, of the wrong type, …) and over the
//! resources of other types, must give identical evaluations, evidence
//! included.

use crate::*;
use chrono::TimeZone;
use serde_json::{json, Value as J};
use vigil_model::Resource;

fn now() -> vigil_model::Timestamp {
    chrono::Utc.with_ymd_and_hms(2026, 11, 23, 0, 0, 0).unwrap()
}

/// Values an attribute is replaced with.
fn replacements() -> Vec<J> {
    vec![
        J::Null,
        json!("x"),
        json!(""),
        json!("Active"),
        json!("Enabled"),
        json!("2020-01-01T00:00:00Z"),
        json!(0),
        json!(22),
        json!(-1),
        json!(3306),
        json!(u64::MAX),
        json!(1.5),
        json!(true),
        json!(false),
        json!([]),
        json!(["0.0.0.0/0"]),
        json!([1, null]),
        json!({}),
        json!({"status": "Enabled", "k": [1]}),
    ]
}

/// Every path into a JSON value (object keys and the first array items), to
/// a depth of 3.
fn paths(v: &J, prefix: &mut Vec<Step>, out: &mut Vec<Vec<Step>>) {
    if prefix.len() >= 3 {
        return;
    }
    match v {
        J::Object(m) => {
            for (k, x) in m {
                prefix.push(Step::Key(k.clone()));
                out.push(prefix.clone());
                paths(x, prefix, out);
                prefix.pop();
            }
        }
        J::Array(a) => {
            for (i, x) in a.iter().enumerate().take(2) {
                prefix.push(Step::Item(i));
                out.push(prefix.clone());
                paths(x, prefix, out);
                prefix.pop();
            }
        }
        _ => {}
    }
}

#[derive(Clone, Debug)]
enum Step {
    Key(String),
    Item(usize),
}

/// Replaces (`Some`) or removes (`None`) the value at `path`.
fn mutate(root: &mut J, path: &[Step], with: Option<J>) {
    let Some((last, init)) = path.split_last() else {
        return;
    };
    let mut at = root;
    for step in init {
        at = match (step, at) {
            (Step::Key(k), J::Object(m)) => match m.get_mut(k) {
                Some(x) => x,
                None => return,
            },
            (Step::Item(i), J::Array(a)) => match a.get_mut(*i) {
                Some(x) => x,
                None => return,
            },
            _ => return,
        };
    }
    match (last, at, with) {
        (Step::Key(k), J::Object(m), Some(v)) => {
            m.insert(k.clone(), v);
        }
        (Step::Key(k), J::Object(m), None) => {
            m.shift_remove(k);
        }
        (Step::Item(i), J::Array(a), Some(v)) => {
            if let Some(x) = a.get_mut(*i) {
                *x = v;
            }
        }
        (Step::Item(i), J::Array(a), None) if *i < a.len() => {
            a.remove(*i);
        }
        _ => {}
    }
}

fn variants(r: &Resource) -> Vec<Resource> {
    let attrs = J::Object(r.attributes.clone());
    let mut all = Vec::new();
    paths(&attrs, &mut Vec::new(), &mut all);
    let mut out = Vec::new();
    let mut push = |j: J| {
        if let J::Object(m) = j {
            let mut v = r.clone();
            v.attributes = m;
            out.push(v);
        }
    };
    for path in &all {
        let mut j = attrs.clone();
        mutate(&mut j, path, None);
        push(j);
        for with in replacements() {
            let mut j = attrs.clone();
            mutate(&mut j, path, Some(with));
            push(j);
        }
    }
    push(json!({}));
    out
}

/// Messages may quote interpreter maps, which print in hash order; compare
/// those as multisets of characters.
fn same_message(a: &str, b: &str) -> bool {
    if a == b {
        return true;
    }
    if !(a.contains("Map {") || a.contains("map: {")) {
        return false;
    }
    let sorted = |s: &str| {
        let mut c: Vec<char> = s.chars().collect();
        c.sort_unstable();
        c
    };
    sorted(a) == sorted(b)
}

fn same(a: &Evaluation, b: &Evaluation) -> bool {
    a.resource == b.resource
        && a.cid == b.cid
        && a.result == b.result
        && a.evidence.expected == b.evidence.expected
        && same_message(&a.evidence.actual, &b.evidence.actual)
        && same_message(&a.evidence.message, &b.evidence.message)
}

/// Evaluates with both evaluators and returns the differences.
fn compare(catalog: &Catalog, resources: &[Resource]) -> Vec<String> {
    let fast = catalog.compile(now()).unwrap();
    let mut slow = catalog.compile(now()).unwrap();
    slow.set_fast(false);
    let a = fast.evaluate(resources, &|_| {});
    let b = slow.evaluate(resources, &|_| {});
    if a.len() != b.len() {
        return vec![format!("{} evaluations against {}", a.len(), b.len())];
    }
    a.iter()
        .zip(&b)
        .filter(|(x, y)| !same(x, y))
        .map(|(x, y)| {
            format!(
                "CID {} on {}:\n  fast: {:?}\n  reference: {:?}",
                x.cid,
                serde_json::to_string(&resources[x.resource].attributes).unwrap(),
                x,
                y
            )
        })
        .collect()
}

fn fixtures(catalog: &Catalog) -> Vec<Resource> {
    catalog
        .controls
        .iter()
        .flat_map(|c| c.fixtures.iter().flat_map(|f| f.resources.iter().cloned()))
        .collect()
}

fn assert_no_differences(differences: Vec<String>) {
    assert!(
        differences.is_empty(),
        "{} differences, the first:\n{}",
        differences.len(),
        differences
            .iter()
            .take(5)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn every_shipped_expression_compiles_for_the_fast_evaluator() {
    let catalog = Catalog::builtin().unwrap();
    let engine = catalog.compile(now()).unwrap();
    let slow: Vec<u32> = engine
        .controls()
        .iter()
        .filter(|c| !c.is_fast())
        .map(|c| c.spec.cid)
        .collect();
    assert!(
        slow.is_empty(),
        "controls left to the interpreter: {slow:?}"
    );
}

#[test]
fn fixtures_give_identical_evaluations() {
    let catalog = Catalog::builtin().unwrap();
    let resources = fixtures(&catalog);
    assert!(resources.len() >= 38);
    assert_no_differences(compare(&catalog, &resources));
}

#[test]
fn mutated_fixtures_give_identical_evaluations() {
    let catalog = Catalog::builtin().unwrap();
    let resources: Vec<Resource> = fixtures(&catalog).iter().flat_map(variants).collect();
    assert!(resources.len() > 5_000, "{}", resources.len());
    assert_no_differences(compare(&catalog, &resources));
}

#[test]
fn resources_of_other_types_give_identical_evaluations() {
    let catalog = Catalog::builtin().unwrap();
    let all = fixtures(&catalog);
    let mut types: Vec<&str> = catalog
        .controls
        .iter()
        .map(|c| c.spec.resource_type.as_str())
        .collect();
    types.sort_unstable();
    types.dedup();
    let resources: Vec<Resource> = types
        .iter()
        .flat_map(|t| {
            all.iter().filter(|r| r.resource_type != *t).map(|r| {
                let mut r = r.clone();
                r.resource_type = t.to_string();
                r
            })
        })
        .collect();
    assert_no_differences(compare(&catalog, &resources));
}

/// User-defined controls using `meta`, parameters, `has()`, `matches`,
/// conversions and comprehensions, including one the fast evaluator leaves
/// to the interpreter (bytes).
#[test]
fn user_controls_give_identical_evaluations() {
    let control = |cid: u32, pass: &str, actual: &str| {
        format!(
            "cid = {cid}\ntitle = \"t\"\nprovider = \"aws\"\nservice = \"S3\"\n\
             resource_type = \"aws.s3.bucket\"\ncriticality = \"LOW\"\nexecution_type = \"both\"\n\
             evaluation = \"e\"\ncustomizable = true\n\n\
             [[parameters]]\nname = \"owners\"\ntype = \"list\"\ndefault = [\"sec\", \"ops\"]\n\n\
             [logic]\nexpected = \"owner in ${{owners}}\"\npass = '''{pass}'''\nactual = '''{actual}'''\n"
        )
    };
    let texts = [
        control(
            100_001,
            "has(meta.tags.owner) && meta.tags.owner in params.owners",
            "meta.tags",
        ),
        control(
            100_002,
            "meta.id.matches('^arn:aws:s3:::[a-z-]+$') && !meta.name.startsWith('tmp')",
            "[meta.id, meta.name, meta.region, meta.account, meta.service, meta.provider, meta.type]",
        ),
        control(
            100_003,
            "resource.acl_grants.exists_one(g, g.permission == 'FULL_CONTROL')",
            "resource.acl_grants.map(g, string(g.permission) + ':' + string(size(g)))",
        ),
        control(
            100_004,
            "b'abc' == b'abc' && size(resource) > 0",
            "resource",
        ),
        control(
            100_005,
            "int(string(size(meta.tags))) < 2 && double(size(resource)) >= 1.0",
            "{'tags': meta.tags, 'n': size(resource), 'x': resource.versioning}",
        ),
    ];
    let files: Vec<SourceFile> = texts
        .iter()
        .enumerate()
        .map(|(i, t)| SourceFile {
            path: format!("user/{i}/control.toml"),
            text: t.clone(),
        })
        .collect();
    let user = Catalog::from_files(&files, Provenance::User).unwrap();
    let engine = user.compile(now()).unwrap();
    let fast: Vec<bool> = engine.controls().iter().map(|c| c.is_fast()).collect();
    assert_eq!(fast, [true, true, true, false, true]);
    let builtin = Catalog::builtin().unwrap();
    let mut resources: Vec<Resource> = fixtures(&builtin)
        .into_iter()
        .filter(|r| r.resource_type == "aws.s3.bucket")
        .collect();
    let tagged: Vec<Resource> = resources
        .iter()
        .flat_map(|r| {
            [
                vec![("owner", "sec")],
                vec![("owner", "dev"), ("env", "x")],
                vec![],
            ]
            .into_iter()
            .map(move |tags| {
                let mut r = r.clone();
                r.tags = tags
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect();
                r.name = "tmp-bucket".into();
                r
            })
        })
        .collect();
    resources.extend(tagged);
    let variants: Vec<Resource> = resources.iter().flat_map(variants).collect();
    resources.extend(variants);
    assert_no_differences(compare(&user, &resources));
}

#[test]
fn progress_counts_every_resource_once() {
    let catalog = Catalog::builtin().unwrap();
    let mut resources = fixtures(&catalog);
    // A resource no control judges.
    let mut other = resources[0].clone();
    other.resource_type = "aws.sqs.queue".into();
    resources.push(other);
    let resources: Vec<Resource> = (0..200).flat_map(|_| resources.clone()).collect();
    let engine = catalog.compile(now()).unwrap();
    let seen = std::sync::atomic::AtomicUsize::new(0);
    let out = engine.evaluate(&resources, &|n| {
        seen.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
    });
    assert_eq!(seen.into_inner(), resources.len());
    // The same evaluations, in the same order, as one resource at a time.
    let mut ctx = engine.context();
    let mut one_by_one = Vec::new();
    for (i, r) in resources.iter().enumerate() {
        engine.evaluate_resource(&mut ctx, i, r, &mut one_by_one);
    }
    assert_eq!(out, one_by_one);
}
