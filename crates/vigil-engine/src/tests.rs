//! Behaviour of the catalogue and engine as a user sees it.

use crate::*;
use chrono::TimeZone;
use vigil_model::{Criticality, EvalResult, Origin, Resource};

fn now() -> vigil_model::Timestamp {
    chrono::Utc.with_ymd_and_hms(2026, 11, 23, 0, 0, 0).unwrap()
}

fn user_catalog(files: &[(&str, &str)]) -> Result<Catalog, CatalogError> {
    let files: Vec<SourceFile> = files
        .iter()
        .map(|(p, t)| SourceFile {
            path: p.to_string(),
            text: t.to_string(),
        })
        .collect();
    Catalog::from_files(&files, Provenance::User)
}

const CUSTOM: &str = r#"cid = 100001
title = "Buckets carry an owner tag"
provider = "aws"
service = "S3"
resource_type = "aws.s3.bucket"
criticality = "LOW"
execution_type = "both"
evaluation = "Check that the bucket has an owner tag."

[logic]
expected = "tag owner present"
pass = "'owner' in meta.tags"
actual = "meta.tags"
"#;

fn bucket(tags: &[(&str, &str)]) -> Resource {
    let mut r: Resource = serde_json::from_value(serde_json::json!({
        "provider": "aws", "service": "S3", "type": "aws.s3.bucket",
        "id": "arn:aws:s3:::b", "attributes": {"versioning": {"status": "Enabled"}}
    }))
    .unwrap();
    r.tags = tags
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    r
}

#[test]
fn every_shipped_control_passes_and_fails_its_fixtures() {
    let catalog = Catalog::builtin().unwrap();
    assert!(catalog.controls.len() >= 19, "catalogue shrank");
    let failures = catalog.self_test(now()).unwrap();
    assert!(
        failures.is_empty(),
        "{}",
        failures
            .iter()
            .map(|f| f.to_string())
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn shipped_policies_name_shipped_controls() {
    let catalog = Catalog::builtin().unwrap();
    let cis = catalog
        .policy("CIS Amazon Web Services Foundations Benchmark")
        .unwrap();
    assert!(cis.controls.contains(&12));
    assert!(catalog
        .policies_of(48)
        .contains(&"AWS Best Practices Policy"));
}

#[test]
fn a_user_control_with_meta_evaluates_pass_and_fail_with_evidence() {
    let catalog = user_catalog(&[("mine/owner/control.toml", CUSTOM)]).unwrap();
    let engine = catalog.compile(now()).unwrap();
    let resources = vec![bucket(&[("owner", "sec")]), bucket(&[])];
    let out = engine.evaluate(&resources, &|_| {});
    assert_eq!(out.len(), 2);
    assert_eq!(out[0].result, EvalResult::Pass);
    assert_eq!(out[1].result, EvalResult::Fail);
    assert_eq!(&*out[1].evidence.expected, "tag owner present");
    assert_eq!(out[1].evidence.actual, "{}");
    assert_eq!(
        &*out[1].evidence.message,
        "Check that the bucket has an owner tag."
    );
}

#[test]
fn a_missing_attribute_is_a_skip_with_the_attribute_named_never_a_pass() {
    let builtin = Catalog::builtin().unwrap();
    let mut catalog = builtin.clone();
    catalog.controls.retain(|c| c.spec.cid == 48);
    let engine = catalog.compile(now()).unwrap();
    let mut r = bucket(&[]);
    r.attributes.clear();
    let out = engine.evaluate(&[r], &|_| {});
    assert_eq!(out[0].result, EvalResult::Skip);
    assert!(
        out[0]
            .evidence
            .message
            .contains("`versioning` was not collected"),
        "{:?}",
        out[0]
    );
}

#[test]
fn a_broken_expression_fails_loading_with_file_line_and_column() {
    let text = CUSTOM.replace(
        "pass = \"'owner' in meta.tags\"",
        "pass = \"'owner' in meta.tags &&\"",
    );
    let catalog = user_catalog(&[("mine/owner/control.toml", &text)]).unwrap();
    let err = catalog.compile(now()).err().unwrap();
    assert_eq!(err.file, "mine/owner/control.toml");
    assert_eq!(err.line, 12);
    assert!(err.reason.contains("logic.pass"), "{err}");
    assert!(err.reason.contains("syntax error"), "{err}");
}

#[test]
fn an_undeclared_parameter_is_rejected_at_load() {
    let text = CUSTOM.replace("'owner' in meta.tags", "params.tag in meta.tags");
    let catalog = user_catalog(&[("c/control.toml", &text)]).unwrap();
    let err = catalog.compile(now()).err().unwrap();
    assert!(
        err.reason.contains("parameter `tag` is not declared"),
        "{err}"
    );
    assert_eq!((err.line, err.column), (12, 9));
}

#[test]
fn user_controls_may_not_take_system_cids_and_cids_are_unique() {
    let text = CUSTOM.replace("100001", "48");
    let err = user_catalog(&[("c/control.toml", &text)]).unwrap_err();
    assert!(
        err.reason
            .contains("user-defined controls take CIDs from 100000"),
        "{err}"
    );
    let mut catalog = Catalog::builtin().unwrap();
    let user = user_catalog(&[("a/control.toml", CUSTOM), ("b/control.toml", CUSTOM)]).unwrap();
    let err = catalog.merge(user).unwrap_err();
    assert!(
        err.reason
            .contains("CID 100001 is already used by a/control.toml"),
        "{err}"
    );
}

#[test]
fn policies_must_name_known_controls() {
    let policy = "name = \"Mine\"\nprovider = \"aws\"\ncontrols = [100001, 48, 99999]\n";
    let mut catalog = Catalog::builtin().unwrap();
    let user = user_catalog(&[("c/control.toml", CUSTOM), ("policies/mine.toml", policy)]).unwrap();
    let err = catalog.merge(user).unwrap_err();
    assert!(
        err.reason
            .contains("lists CID 99999, which is not in the catalogue"),
        "{err}"
    );
}

#[test]
fn a_copy_with_a_changed_parameter_changes_the_verdict() {
    let catalog = Catalog::builtin().unwrap();
    let original = catalog.control(11).unwrap();
    let text = copy_control(
        original,
        100_011,
        Some("Password length 16"),
        Some(Criticality::High),
        &[("minimum_length".into(), "16".into())],
    )
    .unwrap();
    let mut all = catalog.clone();
    all.merge(user_catalog(&[("copies/100011/control.toml", &text)]).unwrap())
        .unwrap();
    let engine = all.compile(now()).unwrap();
    let policy = &original
        .fixtures
        .iter()
        .find(|f| f.expect == EvalResult::Pass)
        .unwrap()
        .resources[0];
    let out = engine.evaluate(std::slice::from_ref(policy), &|_| {});
    let by_cid = |cid| out.iter().find(|e| e.cid == cid).unwrap();
    assert_eq!(by_cid(11).result, EvalResult::Pass);
    assert_eq!(by_cid(100_011).result, EvalResult::Fail);
    assert_eq!(
        &*by_cid(100_011).evidence.expected,
        "minimum password length >= 16"
    );
    assert_eq!(all.control(100_011).unwrap().spec.based_on, Some(11));
}

#[test]
fn copies_reject_bad_parameters() {
    let catalog = Catalog::builtin().unwrap();
    let c11 = catalog.control(11).unwrap();
    let bad = |params: &[(&str, &str)], cid| {
        let params: Vec<(String, String)> = params
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        copy_control(c11, cid, None, None, &params).unwrap_err()
    };
    assert!(bad(&[("minimum_length", "3")], 100_000).contains("between 6 and 128"));
    assert!(bad(&[("min_len", "16")], 100_000).contains("parameters: minimum_length"));
    assert!(bad(&[], 12).contains("reserved for system controls"));
    let c48 = catalog.control(48).unwrap();
    let err = copy_control(c48, 100_000, None, None, &[("x".into(), "1".into())]).unwrap_err();
    assert!(err.contains("not customizable"), "{err}");
}

#[test]
fn execution_type_decides_which_origins_a_control_sees() {
    let mut catalog = Catalog::builtin().unwrap();
    catalog.controls.retain(|c| c.spec.cid == 52); // run time only
    let engine = catalog.compile(now()).unwrap();
    let mut snap = catalog.controls[0].fixtures[0].resources[0].clone();
    snap.origin = Origin::Iac {
        file: "main.tf".into(),
        line: 3,
        end_line: 5,
    };
    assert!(engine.evaluate(&[snap.clone()], &|_| {}).is_empty());
    snap.origin = Origin::Connector {
        connector: "prod".into(),
        run: "r1".into(),
    };
    assert_eq!(engine.evaluate(&[snap], &|_| {}).len(), 1);
}

#[test]
fn a_fixture_that_disagrees_is_reported() {
    let fail = serde_json::json!([{
        "provider": "aws", "service": "S3", "type": "aws.s3.bucket", "id": "tagged",
        "tags": {"owner": "x"}
    }])
    .to_string();
    let catalog = user_catalog(&[("c/control.toml", CUSTOM), ("c/fail.json", &fail)]).unwrap();
    let failures = catalog.self_test(now()).unwrap();
    let text: Vec<String> = failures.iter().map(|f| f.to_string()).collect();
    assert!(
        text.iter().any(|t| t.contains("no PASS fixture")),
        "{text:?}"
    );
    assert!(
        text.iter()
            .any(|t| t.contains("c/fail.json: CID 100001 on `tagged`: expected FAIL, got PASS")),
        "{text:?}"
    );
}

#[test]
fn a_skip_for_an_uncollected_attribute_carries_the_collectors_reason() {
    let mut catalog = Catalog::builtin().unwrap();
    catalog.controls.retain(|c| c.spec.cid == 48);
    let engine = catalog.compile(now()).unwrap();
    let mut r = bucket(&[]);
    r.attributes.clear();
    r.uncollected.insert(
        "versioning".into(),
        "AccessDenied: missing permission s3:GetBucketVersioning".into(),
    );
    let out = engine.evaluate(&[r], &|_| {});
    assert_eq!(out[0].result, EvalResult::Skip);
    assert_eq!(
        &*out[0].evidence.message,
        "attribute `versioning` was not collected: AccessDenied: missing permission s3:GetBucketVersioning"
    );
}

#[test]
fn a_suppressed_control_is_skipped_with_its_reason_and_others_still_judge() {
    let mut catalog = Catalog::builtin().unwrap();
    catalog
        .controls
        .retain(|c| c.spec.cid == 48 || c.spec.cid == 60);
    let engine = catalog.compile(now()).unwrap();
    let unsuppressed = engine.evaluate(&[bucket(&[])], &|_| {});
    let r48 = unsuppressed.iter().find(|e| e.cid == 48).unwrap();
    assert_ne!(r48.result, EvalResult::Skip);
    let mut r = bucket(&[]);
    r.suppressed.insert(48, "static website".into());
    let out = engine.evaluate(&[r], &|_| {});
    let r48 = out.iter().find(|e| e.cid == 48).unwrap();
    assert_eq!(r48.result, EvalResult::Skip);
    assert_eq!(
        &*r48.evidence.message,
        "suppressed in source: static website"
    );
    let r60 = out.iter().find(|e| e.cid == 60).unwrap();
    let before = unsuppressed.iter().find(|e| e.cid == 60).unwrap();
    assert_eq!(
        r60.result, before.result,
        "other controls are not suppressed"
    );
}

/// IaC fixtures ride along as text, with the result their name expects; the
/// engine judges the resources a caller read from them: every resource of
/// the type PASS (and at least one) in a pass file, one FAIL in a fail file.
#[test]
fn iac_fixtures_are_carried_and_judged_by_the_pass_all_fail_any_rule() {
    let catalog = user_catalog(&[
        ("c/x/control.toml", CUSTOM),
        ("c/x/pass.tf", "resource \"aws_s3_bucket\" \"b\" {}"),
        ("c/x/fail.cfn.yaml", "Resources: {}"),
        ("c/x/notes.tf", "ignored"),
    ])
    .unwrap();
    let control = &catalog.controls[0];
    let names: Vec<(&str, EvalResult)> = control
        .iac_fixtures
        .iter()
        .map(|f| (f.name(), f.expect))
        .collect();
    assert_eq!(
        names,
        [
            ("fail.cfn.yaml", EvalResult::Fail),
            ("pass.tf", EvalResult::Pass)
        ]
    );
    let (fail, pass) = (&control.iac_fixtures[0], &control.iac_fixtures[1]);
    assert!(pass.is_terraform() && !fail.is_terraform());
    let iac = |mut r: Resource| {
        r.origin = Origin::Iac {
            file: "main.tf".into(),
            line: 1,
            end_line: 1,
        };
        r
    };
    let owned = iac(bucket(&[("owner", "x")]));
    let unowned = iac(bucket(&[]));
    let judge = |f, rs: &[Resource]| control.judge_iac_fixture(f, rs, now()).unwrap();
    assert!(judge(pass, std::slice::from_ref(&owned)).is_empty());
    let wrong = judge(pass, &[owned.clone(), unowned.clone()]);
    assert_eq!(wrong.len(), 1);
    assert_eq!(wrong[0].got, Some(EvalResult::Fail));
    assert!(judge(fail, &[owned.clone(), unowned]).is_empty());
    let wrong = judge(fail, std::slice::from_ref(&owned));
    assert!(wrong[0]
        .message
        .contains("no resource of type aws.s3.bucket failed"));
    let empty = judge(pass, &[]);
    assert!(empty[0]
        .to_string()
        .contains("declares no resource of type aws.s3.bucket"));
    // IaC fixtures without a control are an error, as JSON ones are.
    let err = user_catalog(&[("c/y/fail.tf", "")]).unwrap_err();
    assert!(err.to_string().contains("no control.toml"), "{err}");
}

/// A run-time-only control never sees IaC resources: an IaC fixture for it
/// can never hold, and says so instead of reporting a verdict.
#[test]
fn an_iac_fixture_of_a_run_time_control_is_a_failure_naming_the_execution_type() {
    let run_only = CUSTOM.replace("execution_type = \"both\"", "execution_type = \"run\"");
    let catalog = user_catalog(&[
        ("c/x/control.toml", &run_only),
        ("c/x/pass.tf", "resource \"aws_s3_bucket\" \"b\" {}"),
    ])
    .unwrap();
    let control = &catalog.controls[0];
    let mut owned = bucket(&[("owner", "x")]);
    owned.origin = Origin::Iac {
        file: "c/x/pass.tf".into(),
        line: 1,
        end_line: 1,
    };
    let failures = control
        .judge_iac_fixture(&control.iac_fixtures[0], &[owned], now())
        .unwrap();
    assert_eq!(failures.len(), 1);
    assert!(
        failures[0].to_string().contains("has execution type run"),
        "{}",
        failures[0]
    );
}
