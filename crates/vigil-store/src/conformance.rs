//! The behaviour every [`Store`] backend must show, as one suite that each
//! backend's tests run against a fresh, empty store:
//!
//! ```text
//! vigil_store::conformance::run_all(&store).await;
//! ```
//!
//! The suite panics (it is test code) with a message naming the step and the
//! difference when a backend misbehaves.

use crate::access::{AuditEntry, AuditFilter, Permission, RoleRecord, UserChange, MANAGER, READER};
use crate::connectors::{
    Authentication, CollectionError, ConnectorRecord, RunOutcome, RunRecord, RunState, RunTrigger,
};
use crate::custom_controls::{
    CustomPolicyRecord, EvaluationWrite, Reevaluation, ReevaluationSummary, ResourceSelector,
    UserControlRecord, FIRST_USER_CID,
};
use crate::data::{
    DataFilter, DateField, DateRange, EvaluationItem, EvaluationSort, Key, KeyValue, PageRequest,
    ResourceSort,
};
use crate::delivery::{
    BaseCategory, CipsConfig, HostKey, Integration, IntegrationKind, IntegrationSettings,
    IntegrationState, NewObject, PlanCommit, PostureRow, CIPS_CONFIG_ID,
};
use crate::exceptions::{ExceptionRecord, ExceptionStatus, Reason, RefreshSummary, Scope};
use crate::qualys::InstanceVulnerability;
use crate::saved_searches::{NewSavedSearch, SavedSearch};
use crate::users::NewUser;
use crate::{
    ControlRecord, EvaluationInput, EvaluationRow, IacScanRecord, MonitorCounts, Page,
    PolicyRecord, ScanBatch, ScanSummary, Store, StoreError,
};
use chrono::{Duration, TimeZone, Utc};
use std::collections::BTreeMap;
use vigil_model::qualys::{
    CloudSource, DetectionStatus, DetectionType, PostureStatus, QualysBatch, QualysContainerImage,
    QualysDetection, QualysHost, QualysImageVuln, QualysKbEntry, QualysPcControl, QualysPcPolicy,
    QualysPcPosture, QualysWasFinding, QualysWebApp,
};
use vigil_model::{Criticality, EvalResult, ExecutionType, Origin, Provider, Resource, Timestamp};
use vigil_query::Query;

const PROD: &str = "connector:aws-prod";
const IAC: &str = "iac:main.tf";
const CIS: &str = "CIS Amazon Web Services Foundations Benchmark";
const BASELINE: &str = "Internal Baseline";

/// Runs every check, in order, on an empty store.
pub async fn run_all(store: &dyn Store) {
    basics(store).await;
    first_scans(store).await;
    search_queries(store).await;
    second_scan_lifecycle_and_gone(store).await;
    third_scan_return_and_new(store).await;
    invalid_batch_changes_nothing(store).await;
    catalog_replacement(store).await;
    duplicates_in_a_batch(store).await;
    iac_scans_kept(store).await;
    users_and_settings(store).await;
    roles_users_and_audit(store).await;
    connectors_and_runs(store).await;
    qualys_connectors(store).await;
    run_queue_and_leases(store).await;
    exceptions_and_passe(store).await;
    custom_controls(store).await;
    data_reads(store).await;
    saved_searches(store).await;
    qualys(store).await;
    qualys_posture_history(store).await;
    delivery(store).await;
}

/// `t(h)`: a fixed instant plus `h` hours.
fn t(hours: i64) -> Timestamp {
    Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0)
        .single()
        .expect("a valid date")
        + Duration::hours(hours)
}

fn q(text: &str, now: Timestamp) -> Query {
    Query::parse(text, now).unwrap_or_else(|e| panic!("query `{text}`: {e}"))
}

fn control(
    cid: u32,
    title: &str,
    service: &str,
    resource_type: &str,
    criticality: Criticality,
    remediable: bool,
) -> ControlRecord {
    ControlRecord {
        cid,
        title: title.into(),
        service: service.into(),
        resource_type: resource_type.into(),
        provider: Provider::Aws,
        criticality,
        execution_type: ExecutionType::Both,
        remediable,
    }
}

fn controls(c2: Criticality) -> Vec<ControlRecord> {
    vec![
        control(
            1,
            "S3 bucket versioning should be enabled",
            "S3",
            "aws.s3.bucket",
            Criticality::High,
            true,
        ),
        control(
            2,
            "S3 bucket access logging should be enabled",
            "S3",
            "aws.s3.bucket",
            c2,
            false,
        ),
        control(
            3,
            "EC2 instances should require IMDSv2",
            "EC2",
            "aws.ec2.instance",
            Criticality::Low,
            true,
        ),
        control(
            4,
            "EC2 instances should not have a public IP address",
            "EC2",
            "aws.ec2.instance",
            Criticality::High,
            false,
        ),
    ]
}

fn policy(name: &str, cids: &[u32]) -> PolicyRecord {
    PolicyRecord {
        name: name.into(),
        provider: Provider::Aws,
        description: format!("{name} (test)"),
        cids: cids.to_vec(),
    }
}

#[allow(clippy::too_many_arguments)]
fn resource(
    account: &str,
    region: &str,
    service: &str,
    resource_type: &str,
    id: &str,
    name: &str,
    tags: &[(&str, &str)],
    origin: Origin,
) -> Resource {
    let mut attributes = serde_json::Map::new();
    attributes.insert("name".into(), serde_json::Value::String(name.into()));
    Resource {
        provider: Provider::Aws,
        account: account.into(),
        region: region.into(),
        service: service.into(),
        resource_type: resource_type.into(),
        id: id.into(),
        name: name.into(),
        tags: tags
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<BTreeMap<_, _>>(),
        attributes,
        associations: Vec::new(),
        uncollected: Default::default(),
        suppressed: Default::default(),
        first_discovered: None,
        last_updated: None,
        origin,
    }
}

fn prod(run: &str) -> Origin {
    Origin::Connector {
        connector: "aws-prod".into(),
        run: run.into(),
    }
}

const ALPHA: &str = "arn:aws:s3:::alpha";
const BETA: &str = "arn:aws:s3:::beta";
const WEB: &str = "arn:aws:ec2:eu-west-1:111122223333:instance/i-0abc";
const WORKER: &str = "arn:aws:ec2:eu-west-1:111122223333:instance/i-0def";
const LOGS: &str = "aws_s3_bucket.logs";

fn alpha(run: &str, tags: &[(&str, &str)]) -> Resource {
    resource(
        "383031258652",
        "us-east-1",
        "S3",
        "aws.s3.bucket",
        ALPHA,
        "alpha",
        tags,
        prod(run),
    )
}

fn beta(run: &str) -> Resource {
    resource(
        "383031258652",
        "us-east-1",
        "S3",
        "aws.s3.bucket",
        BETA,
        "beta",
        &[("env", "dev")],
        prod(run),
    )
}

fn web(run: &str) -> Resource {
    resource(
        "111122223333",
        "eu-west-1",
        "EC2",
        "aws.ec2.instance",
        WEB,
        "web",
        &[],
        prod(run),
    )
}

fn worker(run: &str) -> Resource {
    resource(
        "111122223333",
        "eu-west-1",
        "EC2",
        "aws.ec2.instance",
        WORKER,
        "worker",
        &[("role", "batch")],
        prod(run),
    )
}

fn logs() -> Resource {
    resource(
        "",
        "",
        "S3",
        "aws.s3.bucket",
        LOGS,
        "logs",
        &[("owner", "ops")],
        Origin::Iac {
            file: "main.tf".into(),
            line: 12,
            end_line: 20,
        },
    )
}

fn eval(resource: usize, cid: u32, result: EvalResult) -> EvaluationInput<'static> {
    let (expected, actual, message) = match result {
        EvalResult::Fail => ("true", "false", "the setting is off"),
        _ => ("true", "", ""),
    };
    EvaluationInput {
        resource,
        cid,
        result,
        expected,
        actual,
        message,
    }
}

/// Records a complete sync of `source` by run `run` at `at`.
async fn sync(
    store: &dyn Store,
    source: &str,
    run: &str,
    at: Timestamp,
    resources: &[Resource],
    evaluations: &[EvaluationInput<'_>],
) -> Result<ScanSummary, StoreError> {
    store
        .apply_scan(ScanBatch {
            source,
            run,
            at,
            resources,
            evaluations,
        })
        .await
}

fn keys(rows: &[EvaluationRow]) -> Vec<(u32, &str)> {
    rows.iter()
        .map(|r| (r.cid, r.resource_id.as_str()))
        .collect()
}

async fn all_rows(store: &dyn Store, query: &Query) -> Vec<EvaluationRow> {
    store
        .search(
            query,
            Page {
                limit: 10_000,
                offset: 0,
            },
        )
        .await
        .unwrap_or_else(|e| panic!("search `{}`: {e}", query.text()))
}

async fn search_keys(store: &dyn Store, text: &str, now: Timestamp) -> Vec<(u32, String)> {
    let rows = all_rows(store, &q(text, now)).await;
    keys(&rows)
        .into_iter()
        .map(|(c, r)| (c, r.to_string()))
        .collect()
}

fn owned(v: &[(u32, &str)]) -> Vec<(u32, String)> {
    v.iter().map(|(c, r)| (*c, r.to_string())).collect()
}

async fn counts(store: &dyn Store, text: &str, now: Timestamp) -> MonitorCounts {
    store
        .counts(&q(text, now))
        .await
        .unwrap_or_else(|e| panic!("counts `{text}`: {e}"))
}

async fn row(store: &dyn Store, cid: u32, resource: &str, now: Timestamp) -> EvaluationRow {
    let rows = all_rows(
        store,
        &q(&format!("cid:{cid} and resource.id:\"{resource}\""), now),
    )
    .await;
    assert_eq!(
        rows.len(),
        1,
        "one evaluation of control {cid} on {resource}"
    );
    rows.into_iter().next().expect("one row")
}

/// The schema is migrated and the catalogue can be stored.
pub async fn basics(store: &dyn Store) {
    assert!(
        matches!(store.backend(), "sqlite" | "postgres"),
        "backend name `{}`",
        store.backend()
    );
    let version = store.schema_version().await.expect("schema_version");
    assert!(version > 0, "schema version {version} after migrations");
    store
        .sync_catalog(
            &controls(Criticality::Medium),
            &[policy(CIS, &[1, 4]), policy(BASELINE, &[2, 3])],
        )
        .await
        .expect("sync_catalog");
    assert_eq!(
        store.counts(&Query::all()).await.expect("counts"),
        MonitorCounts::default(),
        "an empty store counts nothing"
    );
    assert_eq!(store.present_resources(PROD).await.expect("present"), 0);
}

/// The first scans of two sources insert resources and evaluations.
pub async fn first_scans(store: &dyn Store) {
    let resources = [
        alpha("run-1", &[("env", "prod"), ("team", "data")]),
        beta("run-1"),
        web("run-1"),
    ];
    let evaluations = [
        eval(0, 1, EvalResult::Fail),
        eval(0, 2, EvalResult::Pass),
        eval(1, 1, EvalResult::Pass),
        eval(1, 2, EvalResult::Fail),
        eval(2, 3, EvalResult::Fail),
        eval(2, 4, EvalResult::Skip),
    ];
    let summary = sync(store, PROD, "run-1", t(0), &resources, &evaluations)
        .await
        .expect("first scan");
    assert_eq!(
        summary,
        ScanSummary {
            resources: 3,
            new_resources: 3,
            gone_resources: 0,
            evaluations: 6,
            reopened: 0,
            fixed: 0,
        },
        "summary of the first scan"
    );

    let iac = [logs()];
    // The IaC file's logs bucket is excepted from control 2: the scan's FAIL
    // is stored as PASSE.
    except_logs(store).await;
    let iac_evaluations = [eval(0, 1, EvalResult::Fail), eval(0, 2, EvalResult::Fail)];
    let iac_at = t(0) + Duration::minutes(10);
    let summary = sync(store, IAC, "run-iac", iac_at, &iac, &iac_evaluations)
        .await
        .expect("iac scan");
    assert_eq!(
        summary,
        ScanSummary {
            resources: 1,
            new_resources: 1,
            gone_resources: 0,
            evaluations: 2,
            reopened: 0,
            fixed: 0,
        },
        "summary of the iac scan"
    );
    assert_eq!(store.present_resources(PROD).await.expect("present"), 3);
    assert_eq!(store.present_resources(IAC).await.expect("present"), 1);
    assert_eq!(store.present_resources("input").await.expect("present"), 0);

    assert_eq!(
        counts(store, "", t(1)).await,
        MonitorCounts {
            controls_evaluated: 4,
            evaluations: 8,
            pass: 3,
            fail: 4,
            skip: 1,
            fail_high: 2,
            fail_medium: 1,
            fail_low: 1,
            remediable: 3,
        },
        "counts of everything (pass includes PASSE)"
    );
    assert_eq!(
        counts(
            store,
            "control.result:FAIL and control.criticality:HIGH",
            t(1)
        )
        .await,
        MonitorCounts {
            controls_evaluated: 1,
            evaluations: 2,
            pass: 0,
            fail: 2,
            skip: 0,
            fail_high: 2,
            fail_medium: 0,
            fail_low: 0,
            remediable: 2,
        },
        "counts of high failures"
    );

    let first = row(store, 1, ALPHA, t(1)).await;
    assert_eq!(
        first,
        EvaluationRow {
            cid: 1,
            control: "S3 bucket versioning should be enabled".into(),
            criticality: Criticality::High,
            result: EvalResult::Fail,
            resource_id: ALPHA.into(),
            resource_name: "alpha".into(),
            resource_type: "aws.s3.bucket".into(),
            provider: Provider::Aws,
            account: "383031258652".into(),
            region: "us-east-1".into(),
            expected: "true".into(),
            actual: "false".into(),
            message: "the setting is off".into(),
            first_evaluated: t(0),
            last_evaluated: t(0),
            last_reopened: None,
            last_fixed: None,
        },
        "a stored evaluation row"
    );
    let iac_row = row(store, 2, LOGS, t(1)).await;
    assert_eq!(iac_row.result, EvalResult::Passe);
    assert_eq!(iac_row.account, "");
    assert_eq!(iac_row.last_evaluated, iac_at);
}

/// Searches select, order and page as documented.
pub async fn search_queries(store: &dyn Store) {
    let now = t(1);
    let everything: &[(u32, &str)] = &[
        (1, ALPHA),
        (1, BETA),
        (1, LOGS),
        (4, WEB),
        (2, ALPHA),
        (2, BETA),
        (2, LOGS),
        (3, WEB),
    ];
    assert_eq!(
        search_keys(store, "", now).await,
        owned(everything),
        "order: criticality (HIGH, MEDIUM, LOW), then control id, then resource id"
    );

    // Paging.
    let mut paged = Vec::new();
    for offset in [0u64, 3, 6, 9] {
        let rows = store
            .search(&Query::all(), Page { limit: 3, offset })
            .await
            .expect("page");
        assert!(rows.len() <= 3, "a page holds at most its limit");
        paged.extend(keys(&rows).into_iter().map(|(c, r)| (c, r.to_string())));
    }
    assert_eq!(paged, owned(everything), "pages of 3 put together");
    let beyond = store
        .search(
            &Query::all(),
            Page {
                limit: 5,
                offset: 100,
            },
        )
        .await
        .expect("page beyond");
    assert!(beyond.is_empty(), "a page beyond the end is empty");

    let cases: &[(&str, &[(u32, &str)])] = &[
        (
            "control.result:FAIL and control.criticality:HIGH",
            &[(1, ALPHA), (1, LOGS)],
        ),
        (
            "policy.name:\"CIS Amazon Web Services Foundations Benchmark\"",
            &[(1, ALPHA), (1, BETA), (1, LOGS), (4, WEB)],
        ),
        (
            "policy.name:cis*",
            &[(1, ALPHA), (1, BETA), (1, LOGS), (4, WEB)],
        ),
        (
            "policy.name:\"Internal Baseline\" and control.result:FAIL",
            &[(2, BETA), (3, WEB)],
        ),
        (
            "tags.name:env",
            &[(1, ALPHA), (1, BETA), (2, ALPHA), (2, BETA)],
        ),
        ("tags.value:prod", &[(1, ALPHA), (2, ALPHA)]),
        (
            "account.id:3830*",
            &[(1, ALPHA), (1, BETA), (2, ALPHA), (2, BETA)],
        ),
        // In quotes `*` is a literal character.
        ("account.id:\"3830*\"", &[]),
        (
            "account.id:\"383031258652\"",
            &[(1, ALPHA), (1, BETA), (2, ALPHA), (2, BETA)],
        ),
        ("resource.name:ALP*", &[(1, ALPHA), (2, ALPHA)]),
        ("resource.type:aws.ec2.*", &[(4, WEB), (3, WEB)]),
        ("resource.source:iac:*", &[(1, LOGS), (2, LOGS)]),
        ("region:eu-west-?", &[(4, WEB), (3, WEB)]),
        (
            "not control.result:PASS",
            &[
                (1, ALPHA),
                (1, LOGS),
                (4, WEB),
                (2, BETA),
                (2, LOGS),
                (3, WEB),
            ],
        ),
        ("control.result:PASSE", &[(2, LOGS)]),
        (
            "cid:[2 .. 3]",
            &[(2, ALPHA), (2, BETA), (2, LOGS), (3, WEB)],
        ),
        ("control.name:*IMDSv2*", &[(3, WEB)]),
        ("control.service:ec2", &[(4, WEB), (3, WEB)]),
        ("firstEvaluated:[now-1h .. now]", everything),
        ("firstEvaluated:[now-55m .. now]", &[(1, LOGS), (2, LOGS)]),
        ("lastFixed:[* .. now]", &[]),
        (
            "provider:aws and (tags.name:team or resource.name:web)",
            &[(1, ALPHA), (4, WEB), (2, ALPHA), (3, WEB)],
        ),
        ("provider:gcp", &[]),
    ];
    for (text, expected) in cases {
        assert_eq!(
            search_keys(store, text, now).await,
            owned(expected),
            "search `{text}`"
        );
    }

    // Readers may run side by side.
    let all = Query::all();
    let (a, b) = tokio::join!(store.counts(&all), store.search(&all, Page::default()));
    assert_eq!(a.expect("concurrent counts").evaluations, 8);
    assert_eq!(b.expect("concurrent search").len(), 8);
}

/// A later scan keeps first_evaluated, moves last_evaluated, records reopened
/// and fixed, marks the resource it lacks as gone, and leaves other sources be.
pub async fn second_scan_lifecycle_and_gone(store: &dyn Store) {
    let resources = [
        alpha("run-2", &[("owner", "data-eng"), ("team", "data")]),
        web("run-2"),
    ];
    let evaluations = [
        eval(0, 1, EvalResult::Pass),
        eval(0, 2, EvalResult::Fail),
        EvaluationInput {
            actual: "optional",
            message: "IMDSv2 is still optional",
            ..eval(1, 3, EvalResult::Fail)
        },
        eval(1, 4, EvalResult::Skip),
    ];
    let summary = sync(store, PROD, "run-2", t(2), &resources, &evaluations)
        .await
        .expect("second scan");
    assert_eq!(
        summary,
        ScanSummary {
            resources: 2,
            new_resources: 0,
            gone_resources: 1,
            evaluations: 4,
            reopened: 1,
            fixed: 1,
        },
        "summary of the second scan"
    );
    let now = t(2);
    assert_eq!(store.present_resources(PROD).await.expect("present"), 2);
    assert_eq!(
        store.present_resources(IAC).await.expect("present"),
        1,
        "other sources are untouched"
    );

    let fixed = row(store, 1, ALPHA, now).await;
    assert_eq!(fixed.result, EvalResult::Pass);
    assert_eq!(fixed.first_evaluated, t(0), "first_evaluated is kept");
    assert_eq!(fixed.last_evaluated, t(2), "last_evaluated moves");
    assert_eq!(fixed.last_fixed, Some(t(2)), "FAIL → PASS sets last_fixed");
    assert_eq!(fixed.last_reopened, None);
    assert_eq!(fixed.actual, "", "the evidence is replaced");

    let reopened = row(store, 2, ALPHA, now).await;
    assert_eq!(reopened.result, EvalResult::Fail);
    assert_eq!(
        reopened.last_reopened,
        Some(t(2)),
        "PASS → FAIL sets last_reopened"
    );
    assert_eq!(reopened.last_fixed, None);

    let same = row(store, 3, WEB, now).await;
    assert_eq!(
        (
            same.first_evaluated,
            same.last_evaluated,
            same.last_reopened,
            same.last_fixed
        ),
        (t(0), t(2), None, None),
        "FAIL → FAIL changes only last_evaluated"
    );
    assert_eq!(
        (same.actual.as_str(), same.message.as_str()),
        ("optional", "IMDSv2 is still optional"),
        "the evidence of an unchanged result is replaced"
    );

    let untouched = row(store, 1, LOGS, now).await;
    assert_eq!(
        untouched.last_evaluated,
        t(0) + Duration::minutes(10),
        "another source's evaluations are untouched"
    );

    assert!(
        search_keys(store, &format!("resource.id:\"{BETA}\""), now)
            .await
            .is_empty(),
        "a gone resource is not searched"
    );
    assert_eq!(
        counts(store, "", now).await,
        MonitorCounts {
            controls_evaluated: 4,
            evaluations: 6,
            pass: 2,
            fail: 3,
            skip: 1,
            fail_high: 1,
            fail_medium: 1,
            fail_low: 1,
            remediable: 2,
        },
        "a gone resource is not counted"
    );
    assert!(
        search_keys(store, "tags.name:env", now).await.is_empty(),
        "tags are replaced by the scan"
    );
    assert_eq!(
        search_keys(store, "tags.name:owner", now).await,
        owned(&[(1, ALPHA), (1, LOGS), (2, ALPHA), (2, LOGS)])
    );
    assert_eq!(
        search_keys(store, "lastFixed:[now-1h .. now]", now).await,
        owned(&[(1, ALPHA)])
    );
    assert_eq!(
        search_keys(store, "lastReopened:[now-1h .. now]", now).await,
        owned(&[(2, ALPHA)])
    );
    assert_eq!(
        search_keys(store, "not lastFixed:[now-1h .. now]", now).await,
        owned(&[(1, LOGS), (4, WEB), (2, ALPHA), (2, LOGS), (3, WEB)]),
        "`not` on a date that is unset matches"
    );
}

/// A gone resource comes back when seen again, with its history; a new one is
/// counted; an evaluation a present resource no longer has is dropped.
pub async fn third_scan_return_and_new(store: &dyn Store) {
    let resources = [
        alpha("run-3", &[("owner", "data-eng"), ("team", "data")]),
        beta("run-3"),
        web("run-3"),
        worker("run-3"),
    ];
    let evaluations = [
        eval(0, 1, EvalResult::Pass),
        eval(0, 2, EvalResult::Fail),
        eval(1, 1, EvalResult::Fail),
        eval(1, 2, EvalResult::Fail),
        eval(2, 3, EvalResult::Pass),
        eval(3, 3, EvalResult::Pass),
        eval(3, 4, EvalResult::Fail),
    ];
    let summary = sync(store, PROD, "run-3", t(3), &resources, &evaluations)
        .await
        .expect("third scan");
    assert_eq!(
        summary,
        ScanSummary {
            resources: 4,
            new_resources: 1,
            gone_resources: 0,
            evaluations: 7,
            reopened: 1,
            fixed: 1,
        },
        "summary of the third scan"
    );
    let now = t(3);
    assert_eq!(store.present_resources(PROD).await.expect("present"), 4);

    let back = row(store, 1, BETA, now).await;
    assert_eq!(
        back.first_evaluated,
        t(0),
        "a returning resource keeps its history"
    );
    assert_eq!(back.last_reopened, Some(t(3)));
    let still = row(store, 1, ALPHA, now).await;
    assert_eq!(
        (still.last_fixed, still.last_reopened),
        (Some(t(2)), None),
        "PASS → PASS keeps last_fixed"
    );
    let still_failing = row(store, 2, ALPHA, now).await;
    assert_eq!(
        still_failing.last_reopened,
        Some(t(2)),
        "FAIL → FAIL keeps last_reopened"
    );
    let fixed = row(store, 3, WEB, now).await;
    assert_eq!(fixed.last_fixed, Some(t(3)));

    assert_eq!(
        search_keys(store, "cid:4", now).await,
        owned(&[(4, WORKER)]),
        "an evaluation the scan no longer reports is dropped"
    );
    assert_eq!(
        search_keys(store, "firstEvaluated:[now-1h .. now]", now).await,
        owned(&[(4, WORKER), (3, WORKER)])
    );
    assert_eq!(
        counts(store, "", now).await,
        MonitorCounts {
            controls_evaluated: 4,
            evaluations: 9,
            pass: 4,
            fail: 5,
            skip: 0,
            fail_high: 3,
            fail_medium: 2,
            fail_low: 0,
            remediable: 2,
        },
        "counts after the third scan"
    );
    assert_eq!(
        counts(
            store,
            "control.result:FAIL and control.criticality:HIGH",
            now
        )
        .await,
        MonitorCounts {
            controls_evaluated: 2,
            evaluations: 3,
            pass: 0,
            fail: 3,
            skip: 0,
            fail_high: 3,
            fail_medium: 0,
            fail_low: 0,
            remediable: 2,
        },
        "filtered counts after the third scan"
    );
}

/// A batch whose evaluation names a resource it does not have is refused, and
/// nothing of it is recorded.
pub async fn invalid_batch_changes_nothing(store: &dyn Store) {
    let now = t(4);
    let before_rows = all_rows(store, &Query::all()).await;
    let before_counts = counts(store, "", now).await;
    let newcomer = resource(
        "383031258652",
        "us-east-1",
        "S3",
        "aws.s3.bucket",
        "arn:aws:s3:::newcomer",
        "newcomer",
        &[],
        prod("run-bad"),
    );
    let resources = [alpha("run-bad", &[]), newcomer];
    let evaluations = [
        eval(0, 1, EvalResult::Fail),
        eval(1, 1, EvalResult::Fail),
        eval(2, 2, EvalResult::Fail),
    ];
    let result = sync(store, PROD, "run-bad", now, &resources, &evaluations).await;
    assert!(
        matches!(result, Err(StoreError::Invalid(_))),
        "an out-of-range resource index is invalid, got {result:?}"
    );
    assert_eq!(
        all_rows(store, &Query::all()).await,
        before_rows,
        "a refused batch changes no evaluation"
    );
    assert_eq!(counts(store, "", now).await, before_counts);
    assert_eq!(
        store.present_resources(PROD).await.expect("present"),
        4,
        "a refused batch neither adds nor removes resources"
    );
    assert!(search_keys(store, "resource.name:newcomer", now)
        .await
        .is_empty());
}

/// The catalogue is replaced as a whole.
pub async fn catalog_replacement(store: &dyn Store) {
    let now = t(4);
    store
        .sync_catalog(&controls(Criticality::High), &[policy(CIS, &[1, 4])])
        .await
        .expect("second sync_catalog");
    assert!(
        search_keys(store, "policy.name:\"Internal Baseline\"", now)
            .await
            .is_empty(),
        "a removed policy no longer matches"
    );
    assert_eq!(
        search_keys(store, "policy.name:cis*", now).await.len(),
        4,
        "a kept policy still matches"
    );
    let c = counts(store, "", now).await;
    assert_eq!(
        (c.fail_high, c.fail_medium, c.fail_low),
        (5, 0, 0),
        "counts follow the new criticality"
    );
    assert_eq!(
        row(store, 2, BETA, now).await.criticality,
        Criticality::High
    );
    assert_eq!(
        search_keys(
            store,
            "control.criticality:HIGH and resource.id:arn:aws:s3:::*",
            now
        )
        .await,
        owned(&[(1, ALPHA), (1, BETA), (2, ALPHA), (2, BETA)]),
        "order follows the new criticality"
    );
}

/// The same resource or evaluation given twice in one batch: the last wins.
pub async fn duplicates_in_a_batch(store: &dyn Store) {
    let source = "connector:dups";
    let origin = Origin::Connector {
        connector: "dups".into(),
        run: "run-d".into(),
    };
    let first = resource(
        "999999999999",
        "us-west-2",
        "S3",
        "aws.s3.bucket",
        "arn:aws:s3:::twice",
        "first-name",
        &[("k", "1")],
        origin.clone(),
    );
    let mut second = first.clone();
    second.name = "second-name".into();
    second.tags.insert("k".into(), "2".into());
    let resources = [first, second];
    let evaluations = [
        eval(0, 1, EvalResult::Fail),
        eval(1, 1, EvalResult::Pass),
        eval(1, 3, EvalResult::Fail),
    ];
    let summary = sync(store, source, "run-d", t(5), &resources, &evaluations)
        .await
        .expect("scan with duplicates");
    assert_eq!(
        (
            summary.resources,
            summary.new_resources,
            summary.evaluations
        ),
        (1, 1, 2),
        "duplicates count once: {summary:?}"
    );
    let rows = all_rows(store, &q("account.id:999999999999", t(5))).await;
    assert_eq!(
        rows.iter()
            .map(|r| (r.cid, r.result, r.resource_name.as_str()))
            .collect::<Vec<_>>(),
        vec![
            (1, EvalResult::Pass, "second-name"),
            (3, EvalResult::Fail, "second-name")
        ]
    );
    assert_eq!(
        search_keys(store, "tags.value:2 and account.id:999999999999", t(5))
            .await
            .len(),
        2
    );
    assert_eq!(store.present_resources(source).await.expect("present"), 1);

    // A sync that finds nothing: everything of the source is gone.
    let summary = sync(store, source, "run-e", t(6), &[], &[])
        .await
        .expect("empty scan");
    assert_eq!(
        summary,
        ScanSummary {
            gone_resources: 1,
            ..ScanSummary::default()
        },
        "an empty sync marks the source's resources gone"
    );
    assert_eq!(store.present_resources(source).await.expect("present"), 0);
    assert!(all_rows(store, &q("account.id:999999999999", t(6)))
        .await
        .is_empty());
    assert_eq!(
        store.present_resources(PROD).await.expect("present"),
        4,
        "other sources are untouched"
    );
}

/// IaC scans are kept whole, listed newest first without their documents,
/// and a second scan with the same id is refused without changing the first.
pub async fn iac_scans_kept(store: &dyn Store) {
    let scan = |id: &str, hours: i64| IacScanRecord {
        scan_id: id.into(),
        name: format!("scan {id}"),
        created: t(hours),
        status: "FINISHED".into(),
        summary: serde_json::json!({"failed": hours}),
        document: Some(serde_json::json!({"scanUuid": id, "result": [{"checkType": "terraform"}]})),
    };
    assert!(store.iac_scans().await.expect("iac_scans").is_empty());
    assert_eq!(store.iac_scan("none").await.expect("iac_scan"), None);
    store
        .save_iac_scan(&scan("a", 1), None)
        .await
        .expect("save a");
    let audit = AuditEntry::now(
        "alice",
        "iac.scan",
        "b",
        serde_json::json!({"name": "scan b"}),
    );
    store
        .save_iac_scan(&scan("b", 2), Some(&audit))
        .await
        .expect("save b");
    let audited = store
        .audit_log(
            &AuditFilter {
                action: Some("iac.scan".into()),
                ..Default::default()
            },
            Page {
                limit: 10,
                offset: 0,
            },
        )
        .await
        .expect("audit log");
    assert_eq!(audited.len(), 1, "the API's scan is audited with it");
    assert_eq!(
        (
            audited[0].entry.actor.as_str(),
            audited[0].entry.target.as_str()
        ),
        ("alice", "b")
    );
    assert_eq!(
        store.iac_scan("a").await.expect("iac_scan"),
        Some(scan("a", 1))
    );
    let listed = store.iac_scans().await.expect("iac_scans");
    let ids: Vec<&str> = listed.iter().map(|s| s.scan_id.as_str()).collect();
    assert_eq!(ids, ["b", "a"], "newest first");
    assert!(
        listed.iter().all(|s| s.document.is_none()),
        "listings carry no documents"
    );
    assert_eq!(listed[1].summary, scan("a", 1).summary);

    let mut again = scan("a", 5);
    again.name = "replaced".into();
    assert!(
        store.save_iac_scan(&again, None).await.is_err(),
        "a scan id is used once"
    );
    let mut invalid = scan("c", 3);
    invalid.document = None;
    assert!(store.save_iac_scan(&invalid, None).await.is_err());
    assert_eq!(
        store.iac_scan("a").await.expect("iac_scan"),
        Some(scan("a", 1))
    );
    assert_eq!(store.iac_scans().await.expect("iac_scans").len(), 2);
}

/// Users are created once, read back whole, listed by name; a setting keeps
/// its first value.
pub async fn users_and_settings(store: &dyn Store) {
    assert!(
        store.users().await.expect("users").is_empty(),
        "no user yet"
    );
    assert_eq!(store.user("admin").await.expect("user"), None);
    let admin = NewUser {
        username: "admin".into(),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
        role: MANAGER.into(),
        tags: vec!["ops".into(), "eu".into()],
        created_at: t(1),
    };
    let reader = NewUser {
        username: "auditor".into(),
        role: READER.into(),
        tags: vec![],
        ..admin.clone()
    };
    store
        .create_user(&admin, &audit("user.create", "user:admin"))
        .await
        .expect("create admin");
    store
        .create_user(&reader, &audit("user.create", "user:auditor"))
        .await
        .expect("create reader");
    let again = NewUser {
        role: READER.into(),
        ..admin.clone()
    };
    match store
        .create_user(&again, &audit("user.create", "user:admin"))
        .await
    {
        Err(StoreError::Conflict(message)) => assert!(
            message.contains("admin") && message.contains("already exists"),
            "{message}"
        ),
        other => panic!("a second user `admin` was not refused: {other:?}"),
    }
    let stored = store
        .user("admin")
        .await
        .expect("user")
        .expect("admin is stored");
    assert_eq!(
        (
            stored.username.as_str(),
            stored.password_hash.as_str(),
            stored.role.as_str(),
            stored.tags.clone(),
            stored.created_at,
            stored.disabled
        ),
        (
            "admin",
            admin.password_hash.as_str(),
            MANAGER,
            admin.tags.clone(),
            t(1),
            false
        ),
        "the refused duplicate changed nothing"
    );
    let names: Vec<(String, String)> = store
        .users()
        .await
        .expect("users")
        .into_iter()
        .map(|u| (u.username, u.role))
        .collect();
    assert_eq!(
        names,
        vec![
            ("admin".into(), MANAGER.into()),
            ("auditor".into(), READER.into())
        ]
    );
    let plain = NewUser {
        username: "bob".into(),
        password_hash: "hunter2".into(),
        ..reader.clone()
    };
    assert!(
        matches!(
            store
                .create_user(&plain, &audit("user.create", "user:bob"))
                .await,
            Err(StoreError::Invalid(_))
        ),
        "a plain password was accepted as a hash"
    );
    assert_eq!(store.user("bob").await.expect("user"), None);

    let first = store
        .setting_or_insert("jwt_signing_key", "00aa")
        .await
        .expect("setting");
    assert_eq!(first, "00aa");
    let second = store
        .setting_or_insert("jwt_signing_key", "ffff")
        .await
        .expect("setting");
    assert_eq!(second, "00aa", "a setting keeps its first value");
}

/// An audit entry by `tester` at `t(2)`.
fn audit(action: &str, target: &str) -> AuditEntry {
    AuditEntry {
        at: t(2),
        actor: "tester".into(),
        action: action.into(),
        target: target.into(),
        details: serde_json::json!({"step": action}),
    }
}

/// Custom roles are created, changed and deleted (not while assigned);
/// users are changed and deleted; every change leaves one audit entry, and
/// a refused change leaves none.
pub async fn roles_users_and_audit(store: &dyn Store) {
    let before = store
        .audit_log(&AuditFilter::default(), Page::default())
        .await
        .expect("audit_log")
        .len();
    let auditors = RoleRecord {
        name: "auditors".into(),
        description: "read and report".into(),
        permissions: vec![Permission::ViewData, Permission::ApiAccess],
        builtin: false,
    };
    store
        .create_role(&auditors, &audit("role.create", "role:auditors"))
        .await
        .expect("create role");
    assert!(matches!(
        store
            .create_role(&auditors, &audit("role.create", "role:auditors"))
            .await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        store.role("auditors").await.expect("role"),
        Some(auditors.clone())
    );
    assert!(store
        .role("reader")
        .await
        .expect("role")
        .is_some_and(|r| r.builtin));
    assert_eq!(store.role("nobody").await.expect("role"), None);
    let changed = RoleRecord {
        permissions: vec![
            Permission::ViewData,
            Permission::ApiAccess,
            Permission::Reports,
        ],
        ..auditors.clone()
    };
    store
        .update_role(&changed, &audit("role.update", "role:auditors"))
        .await
        .expect("update role");
    assert_eq!(store.custom_roles().await.expect("roles"), vec![changed]);

    let carol = NewUser {
        username: "carol".into(),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
        role: "auditors".into(),
        tags: vec![],
        created_at: t(1),
    };
    store
        .create_user(&carol, &audit("user.create", "user:carol"))
        .await
        .expect("create carol");
    let ghost = NewUser {
        username: "ghost".into(),
        role: "no-such-role".into(),
        ..carol.clone()
    };
    assert!(matches!(
        store
            .create_user(&ghost, &audit("user.create", "user:ghost"))
            .await,
        Err(StoreError::Invalid(_))
    ));
    assert!(matches!(
        store
            .delete_role("auditors", &audit("role.delete", "role:auditors"))
            .await,
        Err(StoreError::Conflict(_))
    ));
    store
        .update_user(
            "carol",
            &UserChange {
                role: Some(READER.into()),
                tags: Some(vec!["CLV-ALL".into()]),
                disabled: Some(true),
                ..UserChange::default()
            },
            &audit("user.update", "user:carol"),
        )
        .await
        .expect("update carol");
    let stored = store.user("carol").await.expect("user").expect("carol");
    assert_eq!(
        (
            stored.role.as_str(),
            stored.tags.clone(),
            stored.disabled,
            stored.password_hash.as_str()
        ),
        (
            READER,
            vec!["CLV-ALL".to_string()],
            true,
            carol.password_hash.as_str()
        ),
        "only the given fields change"
    );
    assert!(matches!(
        store
            .update_user(
                "nobody",
                &UserChange::default(),
                &audit("user.update", "user:nobody")
            )
            .await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store
            .update_user(
                "carol",
                &UserChange {
                    role: Some("no-such-role".into()),
                    ..UserChange::default()
                },
                &audit("user.update", "user:carol"),
            )
            .await,
        Err(StoreError::Invalid(_))
    ));
    store
        .delete_role("auditors", &audit("role.delete", "role:auditors"))
        .await
        .expect("delete the role once unassigned");
    assert!(matches!(
        store
            .delete_role("reader", &audit("role.delete", "role:reader"))
            .await,
        Err(StoreError::Conflict(_))
    ));
    store
        .delete_user("carol", &audit("user.delete", "user:carol"))
        .await
        .expect("delete carol");
    assert_eq!(store.user("carol").await.expect("user"), None);
    assert!(matches!(
        store
            .delete_user("carol", &audit("user.delete", "user:carol"))
            .await,
        Err(StoreError::NotFound(_))
    ));

    let log = store
        .audit_log(
            &AuditFilter::default(),
            Page {
                limit: 100,
                offset: 0,
            },
        )
        .await
        .expect("audit_log");
    let actions: Vec<&str> = log[..log.len() - before]
        .iter()
        .map(|r| r.entry.action.as_str())
        .collect();
    assert_eq!(
        actions,
        vec![
            "user.delete",
            "role.delete",
            "user.update",
            "user.create",
            "role.update",
            "role.create"
        ],
        "one entry per change, newest first, none for refused changes"
    );
    assert!(log.windows(2).all(|w| w[0].id > w[1].id));
    assert_eq!(
        log[0].entry.details,
        serde_json::json!({"step": "user.delete"})
    );
    let users_only = store
        .audit_log(
            &AuditFilter {
                action: Some("user.".into()),
                target: Some("user:carol".into()),
                ..AuditFilter::default()
            },
            Page {
                limit: 100,
                offset: 0,
            },
        )
        .await
        .expect("audit_log");
    assert_eq!(users_only.len(), 3);
    let next = store
        .audit_log(
            &AuditFilter {
                before: Some(log[1].id),
                ..AuditFilter::default()
            },
            Page {
                limit: 1,
                offset: 0,
            },
        )
        .await
        .expect("audit_log");
    assert_eq!(next.len(), 1);
    assert_eq!(next[0].id, log[2].id, "`before` pages on");
}

fn connector_record(id: &str, name: &str, polling_minutes: Option<u32>) -> ConnectorRecord {
    ConnectorRecord {
        id: id.into(),
        name: name.into(),
        description: format!("the {name} account"),
        authentication: Authentication::Default,
        regions: vec!["eu-west-1".into()],
        polling_minutes,
        tags: vec!["prod".into()],
        enabled: true,
        created: t(0),
        updated: t(0),
    }
}

/// Qualys connectors (issue 6): settings and sealed password round-trip,
/// an update can turn an AWS connector into a Qualys one and back, Qualys
/// connectors get scheduled runs like AWS ones.
pub async fn qualys_connectors(store: &dyn Store) {
    let settings = r#"{"api_url":"https://qualysapi.qg1.apps.qualys.co.uk","username":"vigil_api","options":{"page_size":50}}"#;
    let mut q = connector_record("c-qualys", "qualys-uk", Some(60));
    q.regions = vec![];
    q.authentication = Authentication::Qualys {
        settings: settings.into(),
        sealed_password: vec![9, 0, 255, 7],
    };
    store
        .create_connector(&q, &audit("connector.create", "connector:c-qualys"))
        .await
        .expect("create a Qualys connector");
    let read = store
        .connector("c-qualys")
        .await
        .expect("connector")
        .expect("stored");
    assert_eq!(read, q);
    assert_eq!(read.authentication.kind(), "qualys");
    assert_eq!(read.authentication.provider(), "qualys");
    assert!(store.connectors().await.expect("connectors").contains(&q));
    // Turned into an AWS connector: the settings go.
    let aws = ConnectorRecord {
        authentication: Authentication::Default,
        ..q.clone()
    };
    store
        .update_connector(&aws, &audit("connector.update", "connector:c-qualys"))
        .await
        .expect("update");
    assert_eq!(
        store.connector("c-qualys").await.expect("connector"),
        Some(aws)
    );
    let changed = ConnectorRecord {
        authentication: Authentication::Qualys {
            settings: r#"{"api_url":"qualysapi.qg2.apps.qualys.com","username":"u"}"#.into(),
            sealed_password: vec![1],
        },
        polling_minutes: None,
        ..q.clone()
    };
    store
        .update_connector(&changed, &audit("connector.update", "connector:c-qualys"))
        .await
        .expect("update back");
    assert_eq!(
        store.connector("c-qualys").await.expect("connector"),
        Some(changed.clone())
    );
    // A scheduled Qualys connector is due like an AWS one.
    let scheduled = ConnectorRecord {
        polling_minutes: Some(30),
        ..changed
    };
    store
        .update_connector(&scheduled, &audit("connector.update", "connector:c-qualys"))
        .await
        .expect("schedule");
    let due = store.enqueue_due_runs(t(1000)).await.expect("due runs");
    assert!(due.iter().any(|r| r.connector_id == "c-qualys"), "{due:?}");
    store
        .delete_connector("c-qualys", &audit("connector.delete", "connector:c-qualys"))
        .await
        .expect("delete");
    assert_eq!(store.connector("c-qualys").await.expect("connector"), None);
}

/// Connector CRUD: unique names, every authentication kind round-trips
/// (the sealed secret as bytes), deletes take the runs along.
pub async fn connectors_and_runs(store: &dyn Store) {
    let mut prod = connector_record("c-prod", "prod", None);
    prod.authentication = Authentication::AccessKeys {
        access_key_id: "AKIAIOSFODNN7EXAMPLE".into(),
        sealed_secret: vec![0, 1, 2, 255],
    };
    store
        .create_connector(&prod, &audit("connector.create", "connector:c-prod"))
        .await
        .expect("create connector");
    let clash = connector_record("c-other", "prod", None);
    assert!(matches!(
        store
            .create_connector(&clash, &audit("connector.create", "x"))
            .await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        store.connector("c-prod").await.expect("connector"),
        Some(prod.clone())
    );
    let mut dev = connector_record("c-dev", "dev", Some(60));
    dev.authentication = Authentication::Role {
        role_arn: "arn:aws:iam::123456789012:role/vigil".into(),
        external_id: "vigil-c-dev".into(),
    };
    store
        .create_connector(&dev, &audit("connector.create", "connector:c-dev"))
        .await
        .expect("create dev");
    let names: Vec<String> = store
        .connectors()
        .await
        .expect("connectors")
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(names, vec!["dev", "prod"], "by name");
    let renamed = ConnectorRecord {
        name: "staging".into(),
        authentication: Authentication::Default,
        regions: vec![],
        tags: vec![],
        enabled: false,
        created: t(5),
        updated: t(1),
        ..dev.clone()
    };
    store
        .update_connector(&renamed, &audit("connector.update", "connector:c-dev"))
        .await
        .expect("update");
    let renamed = ConnectorRecord {
        created: t(0),
        ..renamed
    };
    assert_eq!(
        store.connector("c-dev").await.expect("connector"),
        Some(renamed.clone()),
        "the creation time stays"
    );
    let taken = ConnectorRecord {
        name: "prod".into(),
        ..renamed.clone()
    };
    assert!(matches!(
        store
            .update_connector(&taken, &audit("connector.update", "x"))
            .await,
        Err(StoreError::Conflict(_))
    ));
    let ghost = connector_record("c-ghost", "ghost", None);
    assert!(matches!(
        store
            .update_connector(&ghost, &audit("connector.update", "x"))
            .await,
        Err(StoreError::NotFound(_))
    ));
    let run = store
        .enqueue_run("c-dev", t(2), &audit("connector.run", "connector:c-dev"))
        .await
        .expect("run now");
    assert_eq!(
        (run.state, run.trigger, run.attempts),
        (RunState::Queued, RunTrigger::Manual, 0)
    );
    assert!(
        matches!(
            store
                .enqueue_run("c-dev", t(2), &audit("connector.run", "x"))
                .await,
            Err(StoreError::Conflict(_))
        ),
        "one queued or running run per connector"
    );
    assert!(matches!(
        store
            .enqueue_run("c-ghost", t(2), &audit("connector.run", "x"))
            .await,
        Err(StoreError::NotFound(_))
    ));
    store
        .delete_connector("c-dev", &audit("connector.delete", "connector:c-dev"))
        .await
        .expect("delete");
    assert_eq!(
        store.run(&run.id).await.expect("run"),
        None,
        "runs go with it"
    );
    assert!(matches!(
        store
            .delete_connector("c-dev", &audit("connector.delete", "x"))
            .await,
        Err(StoreError::NotFound(_))
    ));
    store
        .delete_connector("c-prod", &audit("connector.delete", "connector:c-prod"))
        .await
        .expect("delete prod");
    let log = store
        .audit_log(
            &AuditFilter {
                action: Some("connector.".into()),
                ..AuditFilter::default()
            },
            Page::default(),
        )
        .await
        .expect("audit_log");
    assert_eq!(log.len(), 6, "only successful changes are audited: {log:?}");
}

/// The run queue: scheduled runs created exactly once even by concurrent
/// callers, claims exactly once, expired leases taken over, renew and
/// finish refused to a node that lost its lease, history newest first.
pub async fn run_queue_and_leases(store: &dyn Store) {
    let hourly = connector_record("q-hourly", "hourly", Some(60));
    let manual = connector_record("q-manual", "manual", None);
    let mut off = connector_record("q-off", "off", Some(15));
    off.enabled = false;
    for c in [&hourly, &manual, &off] {
        store
            .create_connector(c, &audit("connector.create", "c"))
            .await
            .expect("create");
    }
    // Eight nodes tick at once: one scheduled run.
    let ticks = (0..8).map(|_| store.enqueue_due_runs(t(10)));
    let created: Vec<RunRecord> = join_all(ticks)
        .await
        .into_iter()
        .flat_map(|r| r.expect("enqueue_due_runs"))
        .collect();
    assert_eq!(created.len(), 1, "{created:?}");
    let scheduled = &created[0];
    assert_eq!(
        (
            scheduled.connector_id.as_str(),
            scheduled.trigger,
            scheduled.state
        ),
        ("q-hourly", RunTrigger::Scheduled, RunState::Queued)
    );
    assert!(store
        .enqueue_due_runs(t(10))
        .await
        .expect("tick")
        .is_empty());

    // Two nodes claim at once: one gets it.
    let lease = |h: i64| t(h);
    let (a, b) = tokio::join!(
        store.claim_run("node-a", t(10), lease(11)),
        store.claim_run("node-b", t(10), lease(11))
    );
    let claims: Vec<RunRecord> = [a, b]
        .into_iter()
        .filter_map(|r| r.expect("claim"))
        .collect();
    assert_eq!(claims.len(), 1, "{claims:?}");
    let holder = claims[0].node.clone().expect("a node");
    let other = if holder == "node-a" {
        "node-b"
    } else {
        "node-a"
    };
    assert_eq!(
        (claims[0].state, claims[0].attempts),
        (RunState::Running, 1)
    );
    assert_eq!(claims[0].lease_until, Some(lease(11)));
    assert_eq!(
        store
            .claim_run(other, t(10), lease(11))
            .await
            .expect("claim"),
        None,
        "lease held"
    );
    store
        .renew_lease(&scheduled.id, &holder, lease(12))
        .await
        .expect("renew");
    assert!(matches!(
        store.renew_lease(&scheduled.id, other, lease(12)).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        store
            .claim_run(other, t(11), lease(12))
            .await
            .expect("claim"),
        None,
        "renewed"
    );

    // The holder dies: after its lease the other node takes the run over.
    let taken = store
        .claim_run(other, t(13), lease(14))
        .await
        .expect("takeover")
        .expect("the expired run");
    assert_eq!(taken.id, scheduled.id);
    assert_eq!((taken.node.as_deref(), taken.attempts), (Some(other), 2));
    let done = RunOutcome::Completed {
        resources: 7,
        evaluations: 21,
        errors: vec![CollectionError {
            service: "kms".into(),
            region: "eu-west-1".into(),
            message: "AccessDenied".into(),
        }],
    };
    assert!(
        matches!(
            store.finish_run(&scheduled.id, &holder, t(13), &done).await,
            Err(StoreError::Conflict(_))
        ),
        "the node that lost its lease cannot finish"
    );
    assert!(matches!(
        store.renew_lease(&scheduled.id, &holder, lease(15)).await,
        Err(StoreError::Conflict(_))
    ));
    let finished = store
        .finish_run(&scheduled.id, other, t(13), &done)
        .await
        .expect("finish");
    assert_eq!(
        (
            finished.state,
            finished.resources,
            finished.evaluations,
            finished.errors.len()
        ),
        (RunState::Completed, Some(7), Some(21), 1)
    );
    assert_eq!(finished.finished_at, Some(t(13)));
    assert!(
        matches!(
            store.finish_run(&scheduled.id, other, t(13), &done).await,
            Err(StoreError::Conflict(_))
        ),
        "finished once"
    );
    assert_eq!(
        store.run(&scheduled.id).await.expect("run"),
        Some(finished.clone())
    );

    // Not due again before an hour after the last run was queued.
    assert!(store
        .enqueue_due_runs(t(10) + Duration::minutes(59))
        .await
        .expect("tick")
        .is_empty());
    let next = store.enqueue_due_runs(t(11)).await.expect("tick");
    assert_eq!(next.len(), 1);
    let claimed = store
        .claim_run("node-a", t(11), lease(12))
        .await
        .expect("claim")
        .expect("run");
    let failed = store
        .finish_run(
            &claimed.id,
            "node-a",
            t(11),
            &RunOutcome::Failed {
                errors: vec![CollectionError {
                    service: "sts".into(),
                    region: String::new(),
                    message: "no credentials".into(),
                }],
            },
        )
        .await
        .expect("fail");
    assert_eq!((failed.state, failed.resources), (RunState::Failed, None));
    let manual_run = store
        .enqueue_run("q-manual", t(12), &audit("connector.run", "c"))
        .await
        .expect("run now");
    let history = store.runs("q-hourly", Page::default()).await.expect("runs");
    let ids: Vec<&str> = history.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(
        ids,
        vec![failed.id.as_str(), finished.id.as_str()],
        "newest first"
    );
    assert_eq!(
        store.runs("q-manual", Page::default()).await.expect("runs"),
        vec![manual_run]
    );
    for c in [&hourly, &manual, &off] {
        store
            .delete_connector(&c.id, &audit("connector.delete", "c"))
            .await
            .expect("delete");
    }
}

/// Awaits every future, concurrently (on this task: the store is borrowed).
async fn join_all<F: std::future::Future>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output> {
    let mut pending: Vec<Option<std::pin::Pin<Box<F>>>> =
        futures.into_iter().map(|f| Some(Box::pin(f))).collect();
    let mut results: Vec<Option<F::Output>> = pending.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        for (slot, result) in pending.iter_mut().zip(results.iter_mut()) {
            if let Some(f) = slot {
                if let std::task::Poll::Ready(v) = f.as_mut().poll(cx) {
                    *result = Some(v);
                    *slot = None;
                }
            }
        }
        if pending.iter().all(Option::is_none) {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
    results.into_iter().flatten().collect()
}

/// An exception of `scope` for `controls`, from `start` to `end`, made at
/// `start` by `tester`.
fn exception(
    id: &str,
    scope: Scope,
    controls: &[u32],
    start: Timestamp,
    end: Timestamp,
) -> ExceptionRecord {
    ExceptionRecord {
        id: id.into(),
        name: format!("exception {id}"),
        reason: Reason::RiskAccepted,
        explanation: "accepted for the test".into(),
        start,
        end,
        security_policy: "ISP-7".into(),
        security_procedure: String::new(),
        scope,
        controls: controls.to_vec(),
        created_by: "tester".into(),
        created_at: start,
        updated_by: "tester".into(),
        updated_at: start,
    }
}

/// An audit entry of an exception change by `tester` at `at`.
fn exception_audit(action: &str, id: &str, at: Timestamp) -> AuditEntry {
    AuditEntry {
        at,
        actor: "tester".into(),
        action: format!("exception.{action}"),
        target: format!("exception:{id}"),
        details: serde_json::json!({}),
    }
}

/// The exception of [`first_scans`]: the IaC logs bucket, control 2, for
/// years.
async fn except_logs(store: &dyn Store) {
    let x = exception(
        "logs",
        Scope::Resources(vec![LOGS.into()]),
        &[2],
        t(-1),
        t(100_000),
    );
    store
        .create_exception(&x, None, &exception_audit("create", "logs", t(0)))
        .await
        .expect("create the logs exception");
}

const EXC: &str = "connector:exc";
const EXC_A: &str = "arn:aws:s3:::exc-a";
const EXC_B: &str = "arn:aws:s3:::exc-b";

fn exc_bucket(id: &str, name: &str) -> Resource {
    resource(
        "444455556666",
        "us-east-1",
        "S3",
        "aws.s3.bucket",
        id,
        name,
        &[],
        Origin::Connector {
            connector: "exc".into(),
            run: "exc-run".into(),
        },
    )
}

/// The results of (cid 1, a), (cid 2, a), (cid 1, b), (cid 2, b).
async fn exc_results(store: &dyn Store) -> [EvalResult; 4] {
    let now = t(300);
    [
        row(store, 1, EXC_A, now).await.result,
        row(store, 2, EXC_A, now).await.result,
        row(store, 1, EXC_B, now).await.result,
        row(store, 2, EXC_B, now).await.result,
    ]
}

/// Exceptions turn covered FAILs into PASSE while active, for both scopes,
/// and only FAILs; expiry, edits and deletion bring the FAIL back; scans keep
/// PASSE without moving the lifecycle; every change is in the history.
pub async fn exceptions_and_passe(store: &dyn Store) {
    use EvalResult::{Fail, Pass, Passe, Skip};
    let resources = [exc_bucket(EXC_A, "exc-a"), exc_bucket(EXC_B, "exc-b")];
    let first = [
        eval(0, 1, Fail),
        eval(0, 2, Skip),
        eval(1, 1, Fail),
        eval(1, 2, Fail),
    ];
    sync(store, EXC, "exc-1", t(100), &resources, &first)
        .await
        .expect("scan of exc");
    assert_eq!(exc_results(store).await, [Fail, Skip, Fail, Fail]);

    // A resource exception (by native id) that starts later does nothing yet.
    let mut by_resource = exception(
        "by-resource",
        Scope::Resources(vec![EXC_A.into()]),
        &[1, 2],
        t(101),
        t(103),
    );
    store
        .create_exception(
            &by_resource,
            None,
            &exception_audit("create", "by-resource", t(100)),
        )
        .await
        .expect("create by-resource");
    let kept = store
        .exception("by-resource")
        .await
        .expect("read")
        .expect("kept");
    assert_eq!(kept, by_resource, "an exception reads back as written");
    assert_eq!(kept.status(t(100)), ExceptionStatus::Inactive);
    assert_eq!(
        exc_results(store).await,
        [Fail, Skip, Fail, Fail],
        "inactive"
    );

    // At its start the FAIL becomes PASSE; the SKIP stays.
    let summary = store.refresh_exceptions(t(101)).await.expect("refresh");
    assert_eq!(
        summary,
        RefreshSummary {
            excepted: 1,
            restored: 0
        }
    );
    assert_eq!(
        exc_results(store).await,
        [Passe, Skip, Fail, Fail],
        "active"
    );
    assert_eq!(
        store.refresh_exceptions(t(101)).await.expect("refresh"),
        RefreshSummary::default(),
        "a second refresh changes nothing"
    );

    // A connector exception covers every resource of the connector at once.
    let by_connector = exception(
        "by-connector",
        Scope::Connectors(vec!["exc".into()]),
        &[2],
        t(100),
        t(200),
    );
    store
        .create_exception(
            &by_connector,
            None,
            &exception_audit("create", "by-connector", t(101)),
        )
        .await
        .expect("create by-connector");
    assert_eq!(
        exc_results(store).await,
        [Passe, Skip, Fail, Passe],
        "connector scope"
    );

    // A new scan keeps PASSE for a FAIL and moves no lifecycle time; a PASS
    // where PASSE was is a fix, and PASS is never excepted.
    let second = [
        eval(0, 1, Fail),
        eval(0, 2, Skip),
        eval(1, 1, Fail),
        eval(1, 2, Pass),
    ];
    let summary = sync(store, EXC, "exc-2", t(102), &resources, &second)
        .await
        .expect("second scan of exc");
    assert_eq!((summary.reopened, summary.fixed), (0, 1), "{summary:?}");
    assert_eq!(
        exc_results(store).await,
        [Passe, Skip, Fail, Pass],
        "second scan"
    );
    let a1 = row(store, 1, EXC_A, t(300)).await;
    assert_eq!(
        (a1.last_reopened, a1.last_fixed, a1.last_evaluated),
        (None, None, t(102))
    );
    assert_eq!(row(store, 2, EXC_B, t(300)).await.last_fixed, Some(t(102)));
    // The FAIL comes back under the connector exception: PASSE again, no reopening.
    let third = [
        eval(0, 1, Fail),
        eval(0, 2, Skip),
        eval(1, 1, Fail),
        eval(1, 2, Fail),
    ];
    let summary = sync(store, EXC, "exc-3", t(102), &resources, &third)
        .await
        .expect("third scan of exc");
    assert_eq!(
        summary.reopened, 1,
        "PASS to FAIL reopens even when excepted"
    );
    assert_eq!(
        exc_results(store).await,
        [Passe, Skip, Fail, Passe],
        "third scan"
    );

    // Editing an active exception: control 1 out of scope gives its FAIL back.
    by_resource.controls = vec![2];
    by_resource.explanation = "narrowed".into();
    by_resource.updated_at = t(102);
    store
        .update_exception(
            &by_resource,
            &exception_audit("edit", "by-resource", t(102)),
        )
        .await
        .expect("edit by-resource");
    assert_eq!(
        exc_results(store).await,
        [Fail, Skip, Fail, Passe],
        "edited out of scope"
    );
    let history = store
        .exception_history("by-resource")
        .await
        .expect("history");
    let actions: Vec<&str> = history.iter().map(|h| h.action.as_str()).collect();
    assert_eq!(actions, ["create", "edit"]);
    assert_eq!(history[1].user, "tester");
    assert_eq!(history[1].at, t(102));
    assert_eq!(
        history[1].changes["controls"],
        serde_json::json!({"from": [1, 2], "to": [2]})
    );
    // Only an active exception can be edited.
    match store
        .update_exception(
            &by_resource,
            &exception_audit("edit", "by-resource", t(104)),
        )
        .await
    {
        Err(StoreError::Conflict(m)) => assert!(m.contains("EXPIRED"), "{m}"),
        other => panic!("editing an expired exception: {other:?}"),
    }

    // A resource exception by uid; it expires with the sweep.
    let by_uid = exception(
        "by-uid",
        Scope::Resources(vec![resources[1].uid()]),
        &[1],
        t(100),
        t(103),
    );
    store
        .create_exception(
            &by_uid,
            Some("by-resource"),
            &exception_audit("copy", "by-uid", t(102)),
        )
        .await
        .expect("create by-uid");
    assert_eq!(
        exc_results(store).await,
        [Fail, Skip, Passe, Passe],
        "uid scope"
    );
    let history = store.exception_history("by-uid").await.expect("history");
    assert_eq!(history[0].action, "copy");
    assert_eq!(history[0].changes["copied_from"], "by-resource");
    let summary = store.refresh_exceptions(t(104)).await.expect("refresh");
    assert_eq!(
        summary,
        RefreshSummary {
            excepted: 0,
            restored: 1
        }
    );
    assert_eq!(
        exc_results(store).await,
        [Fail, Skip, Fail, Passe],
        "expired"
    );
    assert!(store
        .exceptions_turning(t(102), t(104))
        .await
        .expect("turning"));
    assert!(!store
        .exceptions_turning(t(250), t(260))
        .await
        .expect("turning"));

    // Deleting brings the FAIL back; the history keeps the deletion.
    store
        .delete_exception(
            "by-connector",
            &exception_audit("delete", "by-connector", t(104)),
        )
        .await
        .expect("delete by-connector");
    assert_eq!(
        exc_results(store).await,
        [Fail, Skip, Fail, Fail],
        "deleted"
    );
    assert!(store
        .exception("by-connector")
        .await
        .expect("read")
        .is_none());
    let history = store
        .exception_history("by-connector")
        .await
        .expect("history");
    assert_eq!(history.last().map(|h| h.action.as_str()), Some("delete"));
    assert!(matches!(
        store
            .delete_exception(
                "by-connector",
                &exception_audit("delete", "by-connector", t(104))
            )
            .await,
        Err(StoreError::NotFound(_))
    ));

    // Unknown controls are refused, and nothing is kept.
    assert_eq!(
        store.unknown_controls(&[1, 99_999]).await.expect("unknown"),
        vec![99_999]
    );
    let bad = exception(
        "bad",
        Scope::Connectors(vec!["exc".into()]),
        &[99_999],
        t(100),
        t(200),
    );
    assert!(matches!(
        store
            .create_exception(&bad, None, &exception_audit("create", "bad", t(104)))
            .await,
        Err(StoreError::Invalid(_))
    ));
    assert!(store.exception("bad").await.expect("read").is_none());
    assert!(store
        .exception_history("bad")
        .await
        .expect("history")
        .is_empty());
    let ids: Vec<String> = store
        .exceptions()
        .await
        .expect("list")
        .into_iter()
        .map(|x| x.id)
        .collect();
    for id in ["logs", "by-resource", "by-uid"] {
        assert!(ids.iter().any(|i| i == id), "{id} in {ids:?}");
    }
    assert_eq!(
        row(store, 2, LOGS, t(300)).await.result,
        Passe,
        "the logs exception holds"
    );
}

/// The audit entries whose action starts with `prefix`.
async fn audited(store: &dyn Store, prefix: &str) -> usize {
    let filter = AuditFilter {
        action: Some(prefix.into()),
        ..AuditFilter::default()
    };
    store
        .audit_log(
            &filter,
            Page {
                limit: 1000,
                offset: 0,
            },
        )
        .await
        .expect("audit_log")
        .len()
}

fn user_control(cid: u32, title: &str) -> UserControlRecord {
    UserControlRecord {
        cid,
        title: title.into(),
        criticality: Criticality::Medium,
        resource_type: "aws.s3.bucket".into(),
        based_on: Some(1),
        definition: format!("cid = {cid}\ntitle = \"{title}\"\n"),
        created: t(1),
        updated: t(1),
    }
}

/// User-defined controls (CIDs never reused), criticality overrides, custom
/// policies (a listed control cannot be deleted), stored resources read
/// back, and re-evaluation of a subset; every change audited.
pub async fn custom_controls(store: &dyn Store) {
    const SOURCE: &str = "connector:custom-conformance";
    let first = store.next_user_cid().await.expect("next_user_cid");
    assert!(first >= FIRST_USER_CID);
    let copy = user_control(first, "Versioning (copy)");
    store
        .create_user_control(&copy, &audit("control.copy", "control:x"))
        .await
        .expect("create user control");
    assert!(matches!(
        store
            .create_user_control(&copy, &audit("control.copy", "control:x"))
            .await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        store
            .create_user_control(&user_control(7, "system"), &audit("control.copy", "x"))
            .await,
        Err(StoreError::Invalid(_))
    ));
    assert_eq!(store.next_user_cid().await.expect("next"), first + 1);
    let mut changed = copy.clone();
    changed.title = "Versioning, strict".into();
    changed.updated = t(3);
    store
        .update_user_control(&changed, &audit("control.update", "control:x"))
        .await
        .expect("update user control");
    assert_eq!(store.user_controls().await.expect("list"), vec![changed]);
    assert!(matches!(
        store
            .update_user_control(
                &user_control(first + 5, "none"),
                &audit("control.update", "x")
            )
            .await,
        Err(StoreError::NotFound(_))
    ));

    // Criticality overrides: set, then replaced.
    for c in [Criticality::Low, Criticality::High] {
        store
            .set_criticality(1, c, &audit("control.criticality", "control:1"))
            .await
            .expect("set criticality");
    }
    store
        .set_criticality(first, Criticality::Low, &audit("control.criticality", "c"))
        .await
        .expect("set criticality");
    assert_eq!(
        store.criticality_overrides().await.expect("overrides"),
        vec![(1, Criticality::High), (first, Criticality::Low)]
    );

    // Custom policies.
    let policy = CustomPolicyRecord {
        name: "Ours".into(),
        description: "test".into(),
        cids: vec![1, first],
        connectors: vec!["custom-conformance".into()],
    };
    store
        .create_custom_policy(&policy, &audit("policy.create", "policy:Ours"))
        .await
        .expect("create policy");
    assert!(matches!(
        store
            .create_custom_policy(&policy, &audit("policy.create", "policy:Ours"))
            .await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        store
            .delete_user_control(first, &audit("control.delete", "c"))
            .await,
        Err(StoreError::Conflict(_))
    ));
    let narrower = CustomPolicyRecord {
        cids: vec![1],
        connectors: Vec::new(),
        ..policy.clone()
    };
    store
        .update_custom_policy(&narrower, &audit("policy.update", "policy:Ours"))
        .await
        .expect("update policy");
    assert_eq!(
        store.custom_policies().await.expect("policies"),
        vec![narrower]
    );
    assert!(matches!(
        store
            .update_custom_policy(
                &CustomPolicyRecord {
                    name: "None".into(),
                    ..policy.clone()
                },
                &audit("policy.update", "x")
            )
            .await,
        Err(StoreError::NotFound(_))
    ));

    // Stored resources come back as they were recorded.
    let bucket = resource(
        "999988887777",
        "eu-west-1",
        "S3",
        "aws.s3.bucket",
        "arn:aws:s3:::custom-conformance",
        "custom-conformance",
        &[("team", "blue")],
        Origin::Connector {
            connector: "custom-conformance".into(),
            run: "r1".into(),
        },
    );
    let instance = resource(
        "999988887777",
        "eu-west-1",
        "EC2",
        "aws.ec2.instance",
        "arn:aws:ec2:eu-west-1:999988887777:instance/i-custom",
        "i-custom",
        &[],
        bucket.origin.clone(),
    );
    let resources = [bucket.clone(), instance];
    let evaluations = [EvaluationInput {
        resource: 0,
        cid: 2,
        result: EvalResult::Fail,
        expected: "e",
        actual: "a",
        message: "m",
    }];
    store
        .apply_scan(ScanBatch {
            source: SOURCE,
            run: "r1",
            at: t(1),
            resources: &resources,
            evaluations: &evaluations,
        })
        .await
        .expect("scan");
    let selector = ResourceSelector {
        types: Some(vec!["aws.s3.bucket".into()]),
        native_id: None,
        sources: Some(vec![SOURCE.into()]),
    };
    let stored = store.stored_resources(&selector).await.expect("stored");
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert_eq!(stored[0].source, SOURCE);
    let back = &stored[0].resource;
    assert_eq!(
        (&back.id, &back.tags, &back.attributes, &back.origin),
        (&bucket.id, &bucket.tags, &bucket.attributes, &bucket.origin)
    );
    let by_id = ResourceSelector {
        native_id: Some(bucket.id.clone()),
        ..ResourceSelector::default()
    };
    assert_eq!(store.stored_resources(&by_id).await.expect("by id"), stored);
    let elsewhere = ResourceSelector {
        sources: Some(vec!["connector:other".into()]),
        ..by_id.clone()
    };
    assert!(store
        .stored_resources(&elsewhere)
        .await
        .expect("none")
        .is_empty());

    // Re-evaluation of CIDs 1 and `first` over the bucket: CID 2 stays, the
    // lifecycle of a changed result is kept.
    let rid = stored[0].row_id;
    let write = |cid: u32, result: EvalResult| EvaluationWrite {
        resource: rid,
        cid,
        result,
        expected: "x".into(),
        actual: "y".into(),
        message: String::new(),
    };
    let catalog = {
        let mut c = controls(Criticality::Medium);
        c.push(control(
            first,
            "copy",
            "S3",
            "aws.s3.bucket",
            Criticality::Low,
            false,
        ));
        c
    };
    store.sync_catalog(&catalog, &[]).await.expect("sync");
    let cids = [1, first];
    let batch = |evaluations: &'static [(u32, EvalResult)]| {
        evaluations
            .iter()
            .map(|(c, r)| write(*c, *r))
            .collect::<Vec<_>>()
    };
    let firsts = batch(&[(1, EvalResult::Pass)]);
    let summary = store
        .reevaluate(
            &Reevaluation {
                at: t(2),
                resources: &[rid],
                cids: &cids,
                evaluations: &[firsts.clone(), vec![write(first, EvalResult::Pass)]].concat(),
            },
            &audit("evaluation.run", "control:1"),
        )
        .await
        .expect("reevaluate");
    assert_eq!(
        summary,
        ReevaluationSummary {
            written: 2,
            removed: 0
        }
    );
    let summary = store
        .reevaluate(
            &Reevaluation {
                at: t(3),
                resources: &[rid],
                cids: &cids,
                evaluations: &batch(&[(1, EvalResult::Fail)]),
            },
            &audit("evaluation.run", "control:1"),
        )
        .await
        .expect("reevaluate");
    assert_eq!(
        summary,
        ReevaluationSummary {
            written: 1,
            removed: 1
        }
    );
    let rows = store
        .search(
            &q("resource.id:\"arn:aws:s3:::custom-conformance\"", t(4)),
            Page::default(),
        )
        .await
        .expect("search");
    let got: Vec<(u32, EvalResult, Option<Timestamp>)> = rows
        .iter()
        .map(|r| (r.cid, r.result, r.last_reopened))
        .collect();
    assert_eq!(
        got,
        vec![
            (1, EvalResult::Fail, Some(t(3))),
            (2, EvalResult::Fail, None)
        ]
    );
    assert!(matches!(
        store
            .reevaluate(
                &Reevaluation {
                    at: t(3),
                    resources: &[rid],
                    cids: &[1],
                    evaluations: &batch(&[(2, EvalResult::Fail)]),
                },
                &audit("evaluation.run", "x"),
            )
            .await,
        Err(StoreError::Invalid(_))
    ));
    assert_eq!(store.present_resources(SOURCE).await.expect("present"), 2);

    // Deleting: the policy first, then the control, its evaluations and its
    // override; its CID is not given out again.
    store
        .delete_custom_policy("Ours", &audit("policy.delete", "policy:Ours"))
        .await
        .expect("delete policy");
    assert!(matches!(
        store
            .delete_custom_policy("Ours", &audit("policy.delete", "x"))
            .await,
        Err(StoreError::NotFound(_))
    ));
    store
        .reevaluate(
            &Reevaluation {
                at: t(3),
                resources: &[rid],
                cids: &[first],
                evaluations: &[write(first, EvalResult::Pass)],
            },
            &audit("evaluation.run", "x"),
        )
        .await
        .expect("reevaluate");
    store
        .delete_user_control(first, &audit("control.delete", "c"))
        .await
        .expect("delete control");
    assert!(matches!(
        store
            .delete_user_control(first, &audit("control.delete", "c"))
            .await,
        Err(StoreError::NotFound(_))
    ));
    assert!(store.user_controls().await.expect("list").is_empty());
    assert_eq!(
        store.criticality_overrides().await.expect("overrides"),
        vec![(1, Criticality::High)]
    );
    assert!(store
        .search(&q(&format!("cid:{first}"), t(4)), Page::default())
        .await
        .expect("search")
        .is_empty());
    assert_eq!(store.next_user_cid().await.expect("next"), first + 1);
    assert_eq!(audited(store, "control.").await, 6);
    assert_eq!(audited(store, "policy.").await, 3);
    assert_eq!(audited(store, "evaluation.").await, 3);
}

/// The catalogue of the data checks (and of the server's data tests): four
/// controls (1 and 4 HIGH, 2 MEDIUM, 3 LOW; 1 and 3 remediable) in two
/// policies.
pub fn sample_catalog() -> (Vec<ControlRecord>, Vec<PolicyRecord>) {
    (
        controls(Criticality::Medium),
        vec![policy(CIS, &[1, 2]), policy(BASELINE, &[3, 4])],
    )
}

/// `n` S3 buckets of connector `connector` (source `connector:<connector>`),
/// named `<connector>-<i>`, in accounts `1000000000<i % 3>`.
pub fn sample_resources(connector: &str, n: usize) -> Vec<Resource> {
    (0..n)
        .map(|i| {
            let mut r = resource(
                &format!("1000000000{}", i % 3),
                "eu-west-1",
                "S3",
                "aws.s3.bucket",
                &format!("arn:aws:s3:::{connector}-{i:03}"),
                &format!("{connector}-{i:03}"),
                &[("index", &i.to_string())],
                Origin::Connector {
                    connector: connector.into(),
                    run: "run-1".into(),
                },
            );
            r.associations = vec![vigil_model::Association {
                relation: "uses".into(),
                resource_type: "aws.kms.key".into(),
                id: format!("key-{i}"),
            }];
            r
        })
        .collect()
}

/// Controls 1, 2 and 3 on each of `n` resources: control 1 fails on every
/// resource, control 2 on every other one, control 3 passes.
pub fn sample_evaluations(n: usize) -> Vec<EvaluationInput<'static>> {
    (0..n)
        .flat_map(|i| {
            [
                eval(i, 1, EvalResult::Fail),
                eval(
                    i,
                    2,
                    if i % 2 == 0 {
                        EvalResult::Fail
                    } else {
                        EvalResult::Pass
                    },
                ),
                eval(i, 3, EvalResult::Pass),
            ]
        })
        .collect()
}

/// Every page of evaluations in `sort` (limit `limit`), walked by cursor.
async fn walk_evaluations(
    store: &dyn Store,
    filter: &DataFilter,
    sort: EvaluationSort,
    descending: bool,
    limit: u32,
) -> Vec<EvaluationItem> {
    let mut page = PageRequest {
        sort,
        descending,
        after: None,
        limit,
    };
    let mut all = Vec::new();
    loop {
        let rows = store
            .evaluation_page(filter, &page)
            .await
            .unwrap_or_else(|e| panic!("evaluation_page {sort:?}: {e}"));
        let done = rows.len() < limit as usize;
        page.after = rows.last().map(|r| sort.key_of(r));
        all.extend(rows);
        if done {
            return all;
        }
    }
}

/// Keyset pages of evaluations and resources in every order return every
/// row exactly once, in order; filters on sources, dates and evaluations
/// apply; details, counts per control and per account, controls and
/// policies read back.
pub async fn data_reads(store: &dyn Store) {
    const N: usize = 20;
    let (catalog, policies) = sample_catalog();
    store
        .sync_catalog(&catalog, &policies)
        .await
        .expect("sync_catalog");
    let resources = sample_resources("data", N);
    let evaluations = sample_evaluations(N);
    sync(
        store,
        "connector:data",
        "run-1",
        t(100),
        &resources,
        &evaluations,
    )
    .await
    .expect("data scan");
    let mut filter = DataFilter::new(Query::all());
    filter.sources = Some(vec!["connector:data".into()]);

    for sort in EvaluationSort::ALL {
        for descending in [false, true] {
            let rows = walk_evaluations(store, &filter, sort, descending, 7).await;
            let mut seen: Vec<(i64, u32)> = rows.iter().map(|r| (r.resource, r.row.cid)).collect();
            assert_eq!(seen.len(), 3 * N, "{sort:?} desc={descending}: every row");
            seen.sort_unstable();
            seen.dedup();
            assert_eq!(seen.len(), 3 * N, "{sort:?} desc={descending}: each once");
            let keys: Vec<Key> = rows.iter().map(|r| sort.key_of(r)).collect();
            let mut ordered = keys.clone();
            ordered.sort_by(compare_keys);
            if descending {
                ordered.reverse();
            }
            assert!(keys == ordered, "{sort:?} desc={descending}: in order");
        }
    }

    let fails = walk_evaluations(
        store,
        &DataFilter {
            query: q("control.result:FAIL and control.criticality:HIGH", t(100)),
            ..filter.clone()
        },
        EvaluationSort::Cid,
        false,
        1000,
    )
    .await;
    assert_eq!(fails.len(), N, "control 1 fails everywhere");
    assert_eq!(fails[0].row.expected, "true", "evidence");
    assert_eq!(fails[0].row.message, "the setting is off", "evidence");

    let mut none = filter.clone();
    none.sources = Some(Vec::new());
    assert!(
        walk_evaluations(store, &none, EvaluationSort::Cid, false, 10)
            .await
            .is_empty()
    );
    let window = |from: i64, to: i64| DataFilter {
        dates: Some(DateRange {
            field: DateField::LastEvaluated,
            from: Some(t(from).timestamp_millis()),
            to: Some(t(to).timestamp_millis()),
        }),
        ..filter.clone()
    };
    assert_eq!(
        walk_evaluations(store, &window(99, 101), EvaluationSort::Cid, false, 100)
            .await
            .len(),
        3 * N
    );
    assert!(
        walk_evaluations(store, &window(101, 102), EvaluationSort::Cid, false, 100)
            .await
            .is_empty()
    );

    for sort in ResourceSort::ALL {
        let mut page = PageRequest {
            sort,
            descending: true,
            after: None,
            limit: 6,
        };
        let mut ids = Vec::new();
        loop {
            let rows = store
                .resource_page(&filter, &page)
                .await
                .expect("resource_page");
            page.after = rows.last().map(|r| sort.key_of(r));
            ids.extend(rows.iter().map(|r| r.id));
            if rows.len() < 6 {
                break;
            }
        }
        assert_eq!(ids.len(), N, "{sort:?}: every resource");
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), N, "{sort:?}: each once");
    }
    let failing_twice = DataFilter {
        query: q("cid:2 and control.result:FAIL", t(100)),
        ..filter.clone()
    };
    let first = PageRequest {
        sort: ResourceSort::Name,
        descending: false,
        after: None,
        limit: 100,
    };
    let rows = store
        .resource_page(&failing_twice, &first)
        .await
        .expect("resource_page on evaluations");
    assert_eq!(rows.len(), N / 2, "resources failing control 2");
    assert_eq!(rows[0].name, "data-000");
    assert_eq!(rows[0].tags.get("index").map(String::as_str), Some("0"));
    assert!(rows[0].attributes.is_none(), "lists leave details out");
    let by_region = DataFilter {
        query: q("region:eu-*", t(100)),
        ..filter.clone()
    };
    assert_eq!(
        store
            .resource_page(&by_region, &first)
            .await
            .expect("by region")
            .len(),
        N
    );

    let id = rows[0].id;
    let detail = store
        .resource_detail(id, &None)
        .await
        .expect("resource_detail")
        .expect("the resource");
    assert_eq!(detail.source, "connector:data");
    assert_eq!(
        detail.attributes.as_ref().map(|a| a["name"].clone()),
        Some("data-000".into())
    );
    assert_eq!(
        detail.associations.as_ref().map(|a| a[0]["id"].clone()),
        Some("key-0".into())
    );
    assert!(store
        .resource_detail(id, &Some(vec!["connector:other".into()]))
        .await
        .expect("resource_detail")
        .is_none());
    assert!(store
        .resource_detail(-1, &None)
        .await
        .expect("none")
        .is_none());

    let counts = store.monitor_counts(&filter).await.expect("monitor_counts");
    assert_eq!(
        counts,
        MonitorCounts {
            controls_evaluated: 3,
            evaluations: 3 * N as u64,
            pass: N as u64 + N as u64 / 2,
            fail: N as u64 + N as u64 / 2,
            skip: 0,
            fail_high: N as u64,
            fail_medium: N as u64 / 2,
            fail_low: 0,
            remediable: N as u64,
        }
    );
    // Unrestricted counts (gone resources subtracted, not joined) agree
    // with `Store::counts`, which joins.
    for text in [
        "",
        "control.result:FAIL",
        "control.criticality:HIGH",
        "policy.name:CIS*",
    ] {
        let query = q(text, t(100));
        let all = store
            .monitor_counts(&DataFilter::new(query.clone()))
            .await
            .expect("monitor_counts");
        assert_eq!(all, store.counts(&query).await.expect("counts"), "`{text}`");
        let accounts = store
            .account_counts(&DataFilter::new(query))
            .await
            .expect("account_counts");
        assert_eq!(
            accounts.iter().map(|a| a.counts.fail).sum::<u64>(),
            all.fail,
            "`{text}` per account"
        );
    }
    let accounts = store.account_counts(&filter).await.expect("account_counts");
    assert_eq!(accounts.len(), 3);
    assert_eq!(accounts[0].account, "10000000000");
    assert_eq!(
        accounts.iter().map(|a| a.counts.evaluations).sum::<u64>(),
        3 * N as u64
    );
    let per_control = store.control_counts(&filter).await.expect("control_counts");
    assert_eq!(per_control.len(), 4);
    assert_eq!((per_control[0].fail, per_control[0].pass), (N as u64, 0));
    assert_eq!(
        (per_control[1].fail, per_control[1].pass),
        (N as u64 / 2, N as u64 / 2)
    );
    assert_eq!(per_control[3].fail + per_control[3].pass, 0);
    assert_eq!(store.controls().await.expect("controls"), catalog);
    assert_eq!(store.policies().await.expect("policies"), {
        let mut p = policies.clone();
        p.sort_by(|a, b| a.name.cmp(&b.name));
        p
    });
}

fn compare_keys(a: &Key, b: &Key) -> std::cmp::Ordering {
    let value = |v: &KeyValue| match v {
        KeyValue::Int(n) => (*n, String::new()),
        KeyValue::Text(t) => (0, t.clone()),
    };
    a.iter().map(value).cmp(b.iter().map(value))
}

/// Saved searches are created (a name once per owner), listed (own and
/// shared), shared, unshared and deleted, each change audited.
pub async fn saved_searches(store: &dyn Store) {
    let new = |owner: &str, name: &str, shared: bool| NewSavedSearch {
        name: name.into(),
        owner: owner.into(),
        query: "control.result:FAIL".into(),
        description: format!("{name} of {owner}"),
        shared,
        created: t(3),
    };
    let a = store
        .create_saved_search(
            &new("ann", "fails", false),
            &audit("saved_search.create", "a"),
        )
        .await
        .expect("create");
    let b = store
        .create_saved_search(
            &new("bob", "fails", true),
            &audit("saved_search.create", "b"),
        )
        .await
        .expect("the same name for another owner");
    assert!(matches!(
        store
            .create_saved_search(
                &new("ann", "fails", true),
                &audit("saved_search.create", "c")
            )
            .await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        store
            .create_saved_search(&new("ann", " ", true), &audit("saved_search.create", "d"))
            .await,
        Err(StoreError::Invalid(_))
    ));
    let names = |list: Vec<SavedSearch>| -> Vec<(String, bool)> {
        list.into_iter()
            .map(|s| (s.search.owner, s.search.shared))
            .collect()
    };
    let ann = store.saved_searches("ann").await.expect("list");
    assert_eq!(
        names(ann),
        vec![("ann".into(), false), ("bob".into(), true)]
    );
    store
        .share_saved_search(b, false, &audit("saved_search.unshare", "b"))
        .await
        .expect("unshare");
    assert_eq!(
        names(store.saved_searches("ann").await.expect("list")).len(),
        1
    );
    store
        .share_saved_search(a, true, &audit("saved_search.share", "a"))
        .await
        .expect("share");
    let loaded = store.saved_search(a).await.expect("load").expect("kept");
    assert_eq!(loaded.search, new("ann", "fails", true));
    store
        .delete_saved_search(a, &audit("saved_search.delete", "a"))
        .await
        .expect("delete");
    assert!(store.saved_search(a).await.expect("load").is_none());
    assert!(matches!(
        store
            .delete_saved_search(a, &audit("saved_search.delete", "a"))
            .await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store
            .share_saved_search(a, true, &audit("saved_search.share", "a"))
            .await,
        Err(StoreError::NotFound(_))
    ));
    let logged = store
        .audit_log(
            &AuditFilter {
                action: Some("saved_search.".into()),
                ..AuditFilter::default()
            },
            Page::default(),
        )
        .await
        .expect("audit_log");
    assert_eq!(logged.len(), 5, "two creations, unshare, share, delete");
}

fn q_host(id: i64, instance: Option<&str>) -> QualysHost {
    QualysHost {
        id,
        cloud: instance.map(|i| CloudSource {
            provider: "aws".into(),
            instance_id: i.into(),
            account_id: Some("111122223333".into()),
            region: Some("eu-west-1".into()),
        }),
        ..Default::default()
    }
}

fn q_detection(
    host_id: i64,
    qid: i64,
    kind: DetectionType,
    severity: u8,
    status: DetectionStatus,
) -> QualysDetection {
    QualysDetection {
        host_id,
        instance_id: None,
        qid,
        kind,
        severity,
        port: None,
        protocol: None,
        ssl: false,
        status,
        first_found: Some(t(1)),
        last_found: Some(t(1)),
        times_found: Some(1),
        last_fixed: None,
        results: None,
    }
}

fn q_instance(instance_id: &str, name: &str) -> Resource {
    let mut r = resource(
        "111122223333",
        "eu-west-1",
        "EC2",
        "aws.ec2.instance",
        &format!("arn:aws:ec2:eu-west-1:111122223333:instance/{instance_id}"),
        name,
        &[],
        Origin::Connector {
            connector: "qx-aws".into(),
            run: "run-1".into(),
        },
    );
    r.attributes.insert(
        "instance_id".into(),
        serde_json::Value::String(instance_id.into()),
    );
    r
}

async fn ingest(store: &dyn Store, connector: &str, account: &str, batch: QualysBatch, at: i64) {
    let kind = batch.kind();
    store
        .qualys_ingest(connector, account, &batch, t(at))
        .await
        .unwrap_or_else(|e| panic!("qualys_ingest {kind}: {e}"));
}

async fn vulns(
    store: &dyn Store,
    instance: &str,
    only: Option<&[&str]>,
) -> Vec<InstanceVulnerability> {
    store
        .instance_vulnerabilities(
            instance,
            &only.map(|o| o.iter().map(|s| s.to_string()).collect()),
        )
        .await
        .expect("instance_vulnerabilities")
}

/// The names of the instances of source `connector:qx-aws` that `text` matches.
async fn matching_instances(store: &dyn Store, text: &str) -> Vec<String> {
    let mut filter = DataFilter::new(q(text, t(1000)));
    filter.sources = Some(vec!["connector:qx-aws".into()]);
    let page = PageRequest {
        sort: ResourceSort::Name,
        descending: false,
        after: None,
        limit: 100,
    };
    let rows = store
        .resource_page(&filter, &page)
        .await
        .unwrap_or_else(|e| panic!("resource_page `{text}`: {e}"));
    let mut names: Vec<String> = rows.into_iter().map(|r| r.name).collect();
    names.sort();
    names
}

/// Qualys data: upserts per connector with the account name, hosts merged
/// from two endpoints, a detection's lifecycle across runs, detections
/// joined to EC2 instances (by the detection's or the host's instance id)
/// with their knowledge base, the `vulnerability.*` search fields, counts
/// per kind, and forgetting a connector.
pub async fn qualys(store: &dyn Store) {
    use DetectionStatus::*;
    use DetectionType::*;
    const Q: &str = "qx";
    const OTHER: &str = "qx-other";
    let (catalog, policies) = sample_catalog();
    store
        .sync_catalog(&catalog, &policies)
        .await
        .expect("sync_catalog");

    // Host 1 from the host list: no cloud info; then from QPS: the EC2
    // instance, nothing else. Host 2 is i-q2 from the start; host 3 is not
    // an instance.
    let mut listed = q_host(1, None);
    listed.ip = Some("10.0.0.1".into());
    listed.tags = vec!["prod".into()];
    ingest(
        store,
        Q,
        "Acme",
        QualysBatch::Hosts(vec![listed.clone()]),
        1,
    )
    .await;
    ingest(
        store,
        Q,
        "Acme",
        QualysBatch::Hosts(vec![q_host(1, Some("i-q1"))]),
        1,
    )
    .await;
    ingest(
        store,
        Q,
        "Acme",
        QualysBatch::Hosts(vec![q_host(2, Some("i-q2")), q_host(3, None)]),
        1,
    )
    .await;
    // The host list again (no cloud): the instance id stays.
    ingest(store, Q, "Acme", QualysBatch::Hosts(vec![listed]), 2).await;

    // Detections without instance ids take their host's; one of host 2
    // comes with its own. Two detections differ only by port (one has none).
    let mut with_port = q_detection(1, 100, Confirmed, 3, New);
    with_port.port = Some(443);
    with_port.protocol = Some("tcp".into());
    with_port.ssl = true;
    let mut own = q_detection(2, 300, Potential, 5, Active);
    own.instance_id = Some("i-q2".into());
    ingest(
        store,
        Q,
        "Acme",
        QualysBatch::Detections(vec![
            q_detection(1, 100, Confirmed, 3, New),
            with_port,
            q_detection(1, 200, Info, 1, Active),
            own,
            q_detection(3, 300, Potential, 5, Active),
        ]),
        2,
    )
    .await;
    // A detection that arrives before its host: joined once the host comes.
    ingest(
        store,
        Q,
        "Acme",
        QualysBatch::Detections(vec![q_detection(4, 400, Confirmed, 4, New)]),
        2,
    )
    .await;
    assert!(vulns(store, "i-q4", None).await.is_empty());
    ingest(
        store,
        Q,
        "Acme",
        QualysBatch::Hosts(vec![q_host(4, Some("i-q4"))]),
        2,
    )
    .await;
    let q4 = vulns(store, "i-q4", None).await;
    assert_eq!(
        q4.len(),
        1,
        "the host's instance id reaches its earlier detection"
    );
    assert_eq!(q4[0].qid, 400);

    ingest(
        store,
        Q,
        "Acme",
        QualysBatch::Kb(vec![
            QualysKbEntry {
                qid: 100,
                title: "OpenSSL Multiple Vulnerabilities".into(),
                category: Some("General remote services".into()),
                cves: vec!["CVE-2024-0001".into(), "CVE-2024-0002".into()],
                cvss_base: Some(7.5),
                patchable: true,
                ..Default::default()
            },
            QualysKbEntry {
                qid: 300,
                title: "Apache HTTP Server Version".into(),
                category: Some("Web server".into()),
                cves: vec!["CVE-2023-9999".into()],
                ..Default::default()
            },
        ]),
        2,
    )
    .await;

    // i-q1: severity first, then QID; the KB joined; port none vs 443.
    let q1 = vulns(store, "i-q1", None).await;
    let order: Vec<(u8, i64, Option<u32>)> =
        q1.iter().map(|v| (v.severity, v.qid, v.port)).collect();
    assert_eq!(order.len(), 3, "{order:?}");
    assert_eq!(
        &order[..2].iter().map(|k| (k.0, k.1)).collect::<Vec<_>>(),
        &[(3, 100), (3, 100)]
    );
    assert_eq!((order[2].0, order[2].1), (1, 200));
    let ssl = q1
        .iter()
        .find(|v| v.port == Some(443))
        .expect("the 443 detection");
    assert!(ssl.ssl && ssl.protocol.as_deref() == Some("tcp"));
    let bare = q1
        .iter()
        .find(|v| v.qid == 100 && v.port.is_none())
        .expect("no port");
    assert!(!bare.ssl && bare.protocol.is_none());
    assert_eq!(
        bare.title.as_deref(),
        Some("OpenSSL Multiple Vulnerabilities")
    );
    assert_eq!(bare.cves, vec!["CVE-2024-0001", "CVE-2024-0002"]);
    assert_eq!(bare.cvss_base, Some(7.5));
    assert_eq!(bare.patchable, Some(true));
    assert_eq!(bare.account_name, "Acme");
    assert_eq!(bare.connector_id, Q);
    assert_eq!(bare.type_detected, "Confirmed");
    let info = &q1[2];
    assert!(info.title.is_none() && info.cves.is_empty() && info.patchable.is_none());

    // Lifecycle across runs: New → Active → Fixed → Re-Opened, with
    // Qualys' last found and times found; first found stays when a run
    // leaves it out.
    for (run, status, times) in [(3, Active, 2), (4, Fixed, 3), (5, ReOpened, 4)] {
        let mut d = q_detection(1, 200, Info, 1, status);
        d.first_found = if run == 4 { None } else { Some(t(1)) };
        d.last_found = Some(t(run));
        d.times_found = Some(times);
        ingest(store, Q, "Acme Corp", QualysBatch::Detections(vec![d]), run).await;
        let now = vulns(store, "i-q1", None).await;
        let v = now.iter().find(|v| v.qid == 200).expect("QID 200");
        assert_eq!(v.status, status.as_str(), "run {run}");
        assert_eq!(v.last_found, Some(t(run)));
        assert_eq!(v.times_found, Some(times));
        assert_eq!(v.first_found, Some(t(1)), "run {run}: first found kept");
        assert_eq!(
            v.account_name, "Acme Corp",
            "the account name follows the connector"
        );
        assert_eq!(now.len(), 3, "one row per identity");
    }

    // Another connector with the same host and QID ids: its own rows.
    ingest(
        store,
        OTHER,
        "Other",
        QualysBatch::Detections(vec![{
            let mut d = q_detection(1, 100, Confirmed, 2, New);
            d.instance_id = Some("i-q1".into());
            d
        }]),
        5,
    )
    .await;
    assert_eq!(vulns(store, "i-q1", None).await.len(), 4);
    let only_other = vulns(store, "i-q1", Some(&[OTHER])).await;
    assert_eq!(only_other.len(), 1);
    assert_eq!(
        (only_other[0].account_name.as_str(), only_other[0].severity),
        ("Other", 2)
    );
    assert!(
        only_other[0].title.is_none(),
        "the KB of another connector is not joined"
    );
    assert!(vulns(store, "i-q1", Some(&[])).await.is_empty());
    assert_eq!(vulns(store, "i-q1", Some(&[Q, OTHER])).await.len(), 4);

    // Every other kind, and a batch larger than one statement.
    ingest(
        store,
        Q,
        "Acme",
        QualysBatch::Detections(
            (0..1500)
                .map(|i| q_detection(10_000 + i, 9, Confirmed, 2, Active))
                .collect(),
        ),
        5,
    )
    .await;
    ingest(
        store,
        Q,
        "Acme",
        QualysBatch::PcPolicies(vec![QualysPcPolicy {
            id: 1,
            title: "CIS".into(),
            control_ids: vec![1, 2],
            ..Default::default()
        }]),
        5,
    )
    .await;
    ingest(
        store,
        Q,
        "Acme",
        QualysBatch::PcControls(vec![
            QualysPcControl {
                id: 1,
                statement: "Ensure".into(),
                frameworks: vec!["CIS".into()],
                ..Default::default()
            },
            QualysPcControl {
                id: 2,
                statement: "Make sure".into(),
                ..Default::default()
            },
        ]),
        5,
    )
    .await;
    let posture = |instance: &str, status| QualysPcPosture {
        id: 9,
        policy_id: 1,
        host_id: 1,
        control_id: 1,
        instance: instance.into(),
        status: Some(status),
        ..Default::default()
    };
    ingest(
        store,
        Q,
        "Acme",
        QualysBatch::PcPostures(vec![
            posture("", PostureStatus::Failed),
            posture("oracle:1", PostureStatus::Passed),
        ]),
        5,
    )
    .await;
    ingest(
        store,
        Q,
        "Acme",
        QualysBatch::PcPostures(vec![posture("", PostureStatus::Passed)]),
        6,
    )
    .await;
    ingest(
        store,
        Q,
        "Acme",
        QualysBatch::WebApps(vec![QualysWebApp {
            id: 5,
            name: "shop".into(),
            url: "https://shop".into(),
            ..Default::default()
        }]),
        5,
    )
    .await;
    ingest(
        store,
        Q,
        "Acme",
        QualysBatch::WasFindings(vec![QualysWasFinding {
            id: 6,
            webapp_id: 5,
            qid: 150000,
            name: "XSS".into(),
            ..Default::default()
        }]),
        5,
    )
    .await;
    ingest(
        store,
        Q,
        "Acme",
        QualysBatch::Images(vec![QualysContainerImage {
            image_id: "abc".into(),
            repo_tags: vec!["nginx:1".into()],
            ..Default::default()
        }]),
        5,
    )
    .await;
    ingest(
        store,
        Q,
        "Acme",
        QualysBatch::ImageVulns(vec![
            QualysImageVuln {
                image_id: "abc".into(),
                qid: 1,
                ..Default::default()
            },
            QualysImageVuln {
                image_id: "abc".into(),
                qid: 2,
                ..Default::default()
            },
        ]),
        5,
    )
    .await;
    let summary = store.qualys_summary(Q).await.expect("qualys_summary");
    let expected: BTreeMap<String, u64> = [
        ("hosts", 4),
        ("detections", 6 + 1500),
        ("kb", 2),
        ("pc_policies", 1),
        ("pc_controls", 2),
        ("pc_postures", 2),
        ("webapps", 1),
        ("was_findings", 1),
        ("images", 1),
        ("image_vulns", 2),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    assert_eq!(summary, expected);

    // The search fields: EC2 instance resources joined by their
    // instance_id attribute.
    let instances = [
        q_instance("i-q1", "qx-one"),
        q_instance("i-q2", "qx-two"),
        q_instance("i-q4", "qx-four"),
        q_instance("i-none", "qx-clean"),
    ];
    let evaluations: Vec<EvaluationInput<'static>> = (0..instances.len())
        .map(|i| eval(i, 3, EvalResult::Pass))
        .collect();
    sync(
        store,
        "connector:qx-aws",
        "run-1",
        t(5),
        &instances,
        &evaluations,
    )
    .await
    .expect("instance scan");
    for (text, want) in [
        ("vulnerability.severity:5", vec!["qx-two"]),
        ("vulnerability.typeDetected:Potential", vec!["qx-two"]),
        (
            "vulnerability.typeDetected:confirmed",
            vec!["qx-four", "qx-one"],
        ),
        (
            "vulnerability.severity:[3 .. *]",
            vec!["qx-four", "qx-one", "qx-two"],
        ),
        ("vulnerability.status:Re-Opened", vec!["qx-one"]),
        ("vulnerability.qid:400", vec!["qx-four"]),
        ("vulnerability.title:*openssl*", vec!["qx-one"]),
        ("vulnerability.cve:CVE-2023-*", vec!["qx-two"]),
        ("vulnerability.category:\"Web server\"", vec!["qx-two"]),
        ("vulnerability.patchable:true", vec!["qx-one"]),
        ("vulnerability.patchable:false", vec!["qx-two"]),
        (
            "vulnerability.lastFound:[\"2026-03-01T04:30:00Z\" .. *]",
            vec!["qx-one"],
        ),
        (
            "vulnerability.firstFound:2026-03-01",
            vec!["qx-four", "qx-one", "qx-two"],
        ),
        ("not vulnerability.severity:[1 .. 5]", vec!["qx-clean"]),
        (
            "vulnerability.severity:5 and resource.name:qx-t*",
            vec!["qx-two"],
        ),
    ] {
        assert_eq!(matching_instances(store, text).await, want, "`{text}`");
    }
    // A Fixed detection is not an open vulnerability.
    let mut fixed = q_detection(2, 300, Potential, 5, Fixed);
    fixed.instance_id = Some("i-q2".into());
    ingest(store, Q, "Acme", QualysBatch::Detections(vec![fixed]), 7).await;
    assert!(matching_instances(store, "vulnerability.severity:5")
        .await
        .is_empty());
    assert_eq!(
        matching_instances(store, "vulnerability.status:Fixed").await,
        vec!["qx-two"]
    );
    // Evaluation search reads the same fields.
    let rows = all_rows(
        store,
        &q(
            "vulnerability.qid:400 and resource.source:connector:qx-aws",
            t(1000),
        ),
    )
    .await;
    assert_eq!(
        keys(&rows),
        vec![(3, "arn:aws:ec2:eu-west-1:111122223333:instance/i-q4")]
    );

    // Forgetting a connector removes its rows only.
    store.qualys_forget(Q).await.expect("qualys_forget");
    assert!(store
        .qualys_summary(Q)
        .await
        .expect("summary")
        .values()
        .all(|n| *n == 0));
    assert_eq!(vulns(store, "i-q1", None).await.len(), 1);
    assert_eq!(
        store.qualys_summary(OTHER).await.expect("summary")["detections"],
        1
    );
    assert!(matching_instances(store, "vulnerability.qid:400")
        .await
        .is_empty());
}

// --- S3 delivery (issue 7) -------------------------------------------------

fn delivery_settings(name: &str) -> IntegrationSettings {
    IntegrationSettings {
        name: name.into(),
        bucket_name: "qualys-findings".into(),
        bucket_region: "us-east-1".into(),
        role_arn: "arn:aws:iam::111122223333:role/qualys-s3".into(),
        compress_data: true,
        min_severity: 3,
        base_category: BaseCategory::Potential,
        result_section_needed: true,
        send_vuln_info: false,
        send_alerts: true,
        error_emails: vec!["ops@example.com".into(), "sec@example.com".into()],
    }
}

/// An instant `s` seconds after `t(h)`.
fn ts(hours: i64, seconds: i64) -> Timestamp {
    t(hours) + Duration::seconds(seconds)
}

fn object(key: &str, body: Vec<u8>, items: u32) -> NewObject {
    NewObject {
        key: key.into(),
        body,
        content_type: "application/json".into(),
        content_encoding: Some("gzip".into()),
        items,
    }
}

async fn integration_of(store: &dyn Store, kind: IntegrationKind, id: i64) -> Integration {
    store
        .integration(kind, id)
        .await
        .expect("integration")
        .unwrap_or_else(|| panic!("{} integration {id} is missing", kind.label()))
}

async fn commit(
    store: &dyn Store,
    id: i64,
    from: Timestamp,
    to: Timestamp,
    objects: &[NewObject],
    subjects: &[(String, i64)],
    now: Timestamp,
) -> Result<(), StoreError> {
    store
        .commit_plan(
            PlanCommit {
                integration_id: id,
                expected_watermark: from,
                watermark: to,
                objects,
                subjects,
            },
            now,
        )
        .await
}

fn subjects(pairs: &[(&str, i64)]) -> Vec<(String, i64)> {
    pairs.iter().map(|(s, h)| (s.to_string(), *h)).collect()
}

async fn due_keys(store: &dyn Store, now: Timestamp) -> Vec<String> {
    store
        .outbox_due(now, 100)
        .await
        .expect("outbox_due")
        .into_iter()
        .map(|o| o.key)
        .collect()
}

/// S3 delivery in the store: integrations (created, read, changed with the
/// validation rules, deleted, failed and recovered once per problem), the
/// CIPS configuration (filter id set once, at most 100 policies, PC
/// watermarks reset), plans committed against their watermark, subject
/// hashes, the outbox (due order, retries, delivery counters, only
/// validated integrations), the planner's lease, and the planner's reads
/// (changed hosts by page, host findings, postures, changed evaluations).
pub async fn delivery(store: &dyn Store) {
    delivery_integrations(store).await;
    delivery_cips(store).await;
    delivery_outbox(store).await;
    delivery_lease(store).await;
    delivery_reads(store).await;
    delivery_evaluations(store).await;
}

const EPOCH: Timestamp = Timestamp::UNIX_EPOCH;

async fn delivery_integrations(store: &dyn Store) {
    use IntegrationKind::*;
    let created_before = audited(store, "integration.").await;
    let vm = store
        .create_integration(
            Vm,
            &delivery_settings("vm-one"),
            "POD1-250021-aaaa",
            t(2001),
            &audit("integration.create", "integration:vm-one"),
        )
        .await
        .expect("create VM integration");
    assert!(vm.id > 0);
    assert_eq!(vm.kind, Vm);
    assert_eq!(vm.settings, delivery_settings("vm-one"));
    assert_eq!(vm.external_id, "POD1-250021-aaaa");
    assert!(!vm.validated);
    assert_eq!(vm.state, IntegrationState::Pending);
    assert_eq!(
        (vm.problem.clone(), vm.alerted_problem.clone()),
        (None, None)
    );
    assert_eq!((vm.created, vm.updated), (t(2001), t(2001)));
    assert_eq!(
        (vm.last_delivery, vm.objects_delivered, vm.items_delivered),
        (None, 0, 0)
    );
    assert_eq!(integration_of(store, Vm, vm.id).await, vm);
    assert_eq!(store.watermark(vm.id).await.expect("watermark"), EPOCH);

    // A name is unique per kind: taken for VM, free for PC.
    match store
        .create_integration(
            Vm,
            &delivery_settings("vm-one"),
            "POD1-250021-bbbb",
            t(2001),
            &audit("integration.create", "integration:vm-one"),
        )
        .await
    {
        Err(StoreError::Conflict(m)) => assert!(m.contains("vm-one"), "{m}"),
        other => panic!("a taken name: {other:?}"),
    }
    let pc = store
        .create_integration(
            Pc,
            &delivery_settings("vm-one"),
            "POD1-250021-cccc",
            t(2001),
            &audit("integration.create", "integration:pc"),
        )
        .await
        .expect("create PC integration");
    assert_ne!(pc.id, vm.id);
    let mut bad = delivery_settings("bad");
    bad.min_severity = 0;
    match store
        .create_integration(
            Vm,
            &bad,
            "x",
            t(2001),
            &audit("integration.create", "integration:bad"),
        )
        .await
    {
        Err(StoreError::Invalid(m)) => assert!(m.contains("minSeverity"), "{m}"),
        other => panic!("severity 0: {other:?}"),
    }
    let other = store
        .create_integration(
            Vm,
            &delivery_settings("vm-two"),
            "POD1-250021-dddd",
            t(2001),
            &audit("integration.create", "integration:vm-two"),
        )
        .await
        .expect("create second VM integration");
    assert_eq!(store.integration(Pc, vm.id).await.expect("read"), None);
    let ids = |v: Vec<Integration>| v.into_iter().map(|i| i.id).collect::<Vec<_>>();
    assert_eq!(
        ids(store.integrations(Some(Vm)).await.expect("list")),
        vec![vm.id, other.id]
    );
    assert_eq!(
        ids(store.integrations(Some(Pc)).await.expect("list")),
        vec![pc.id]
    );
    assert_eq!(
        ids(store.integrations(None).await.expect("list")),
        vec![vm.id, pc.id, other.id]
    );
    assert_eq!(audited(store, "integration.").await, created_before + 3);

    // Validation, then changes: what needs validating again and what not.
    store
        .mark_validated(Vm, vm.id, t(2002), &audit("integration.validate", "v"))
        .await
        .expect("validate");
    let v = integration_of(store, Vm, vm.id).await;
    assert!(v.validated);
    assert_eq!((v.state, v.updated), (IntegrationState::Active, t(2002)));
    match store
        .mark_validated(Vm, 987_654, t(2002), &audit("integration.validate", "v"))
        .await
    {
        Err(StoreError::NotFound(m)) => assert!(m.contains("987654"), "{m}"),
        other => panic!("validating a missing integration: {other:?}"),
    }
    commit(
        store,
        vm.id,
        EPOCH,
        t(2002),
        &[],
        &subjects(&[("h", 1)]),
        t(2002),
    )
    .await
    .expect("plan");
    assert_eq!(store.watermark(vm.id).await.expect("watermark"), t(2002));

    let mut quieter = delivery_settings("vm-one");
    quieter.min_severity = 4;
    quieter.compress_data = false;
    let u = store
        .update_integration(
            Vm,
            vm.id,
            &quieter,
            None,
            t(2003),
            &audit("integration.update", "u"),
        )
        .await
        .expect("update");
    assert_eq!(u.settings, quieter);
    assert!(u.validated, "a filter change keeps the validation");
    assert_eq!(
        (u.state, u.updated, u.created),
        (IntegrationState::Active, t(2003), t(2001))
    );
    assert_eq!(
        store.watermark(vm.id).await.expect("watermark"),
        EPOCH,
        "every change plans again from the epoch"
    );
    assert_eq!(
        store
            .subject_hashes(vm.id, &["h".to_string()])
            .await
            .expect("hashes")
            .get("h"),
        Some(&1),
        "subject hashes are kept"
    );

    for (what, change) in [
        ("bucket", 0),
        ("region", 1),
        ("role", 2),
        ("external id", 3),
    ] {
        store
            .mark_validated(Vm, vm.id, t(2003), &audit("integration.validate", "v"))
            .await
            .expect("validate");
        let mut s = quieter.clone();
        match change {
            0 => s.bucket_name = "another-bucket".into(),
            1 => s.bucket_region = "eu-west-1".into(),
            2 => s.role_arn = "arn:aws:iam::111122223333:role/other".into(),
            _ => {}
        }
        let new_id = (change == 3).then_some("POD1-250021-eeee");
        let u = store
            .update_integration(
                Vm,
                vm.id,
                &s,
                new_id,
                t(2004),
                &audit("integration.update", "u"),
            )
            .await
            .expect("update");
        assert!(!u.validated, "{what}: validated again");
        assert_eq!(u.state, IntegrationState::Pending, "{what}");
        if change == 3 {
            assert_eq!(u.external_id, "POD1-250021-eeee");
        } else {
            assert_eq!(
                u.external_id, v.external_id,
                "{what}: the external id stays"
            );
        }
        quieter = s;
    }
    let before = integration_of(store, Vm, other.id).await;
    match store
        .update_integration(
            Vm,
            other.id,
            &delivery_settings("vm-one"),
            None,
            t(2004),
            &audit("integration.update", "u"),
        )
        .await
    {
        Err(StoreError::Conflict(m)) => assert!(m.contains("vm-one"), "{m}"),
        other => panic!("renaming onto a taken name: {other:?}"),
    }
    assert_eq!(integration_of(store, Vm, other.id).await, before);
    match store
        .update_integration(
            Pc,
            vm.id,
            &quieter,
            None,
            t(2004),
            &audit("integration.update", "u"),
        )
        .await
    {
        Err(StoreError::NotFound(m)) => assert!(m.contains(&vm.id.to_string()), "{m}"),
        other => panic!("updating under the wrong kind: {other:?}"),
    }

    // Failures: only a validated integration goes to Error; each problem
    // is alerted once until the integration recovers.
    assert!(!store
        .integration_failed(vm.id, "AccessDenied", "denied", t(2005))
        .await
        .expect("failed"));
    assert_eq!(
        integration_of(store, Vm, vm.id).await.state,
        IntegrationState::Pending
    );
    store
        .mark_validated(Vm, vm.id, t(2005), &audit("integration.validate", "v"))
        .await
        .expect("validate");
    assert!(store
        .integration_failed(
            vm.id,
            "AccessDenied",
            "the role denies s3:PutObject",
            t(2005)
        )
        .await
        .expect("failed"));
    let f = integration_of(store, Vm, vm.id).await;
    assert_eq!(f.state, IntegrationState::Error);
    assert_eq!(f.problem.as_deref(), Some("the role denies s3:PutObject"));
    assert_eq!(f.alerted_problem.as_deref(), Some("AccessDenied"));
    assert!(f.validated);
    assert!(!store
        .integration_failed(
            vm.id,
            "AccessDenied",
            "the role denies s3:PutObject",
            t(2005)
        )
        .await
        .expect("failed"));
    assert!(store
        .integration_failed(vm.id, "NoSuchBucket", "no bucket", t(2006))
        .await
        .expect("failed"));
    store
        .integration_recovered(vm.id, t(2006))
        .await
        .expect("recovered");
    let r = integration_of(store, Vm, vm.id).await;
    assert_eq!(
        (r.state, r.problem.clone(), r.alerted_problem.clone()),
        (IntegrationState::Active, None, None)
    );
    store
        .integration_recovered(vm.id, t(2006))
        .await
        .expect("recovered again is a no-op");
    assert!(store
        .integration_failed(vm.id, "NoSuchBucket", "no bucket", t(2007))
        .await
        .expect("failed"));
    assert!(matches!(
        store.integration_failed(987_654, "x", "y", t(2007)).await,
        Err(StoreError::NotFound(_))
    ));

    // Deleting: gone, with its plan state; twice is NotFound.
    let audits = audited(store, "integration.").await;
    store
        .delete_integration(Vm, other.id, &audit("integration.delete", "d"))
        .await
        .expect("delete");
    assert_eq!(store.integration(Vm, other.id).await.expect("read"), None);
    assert!(matches!(
        store
            .delete_integration(Vm, other.id, &audit("integration.delete", "d"))
            .await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.watermark(other.id).await,
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(audited(store, "integration.").await, audits + 1);
}

async fn delivery_cips(store: &dyn Store) {
    let empty = store.cips_config().await.expect("cips_config");
    assert_eq!(empty, CipsConfig::default());
    let pc = store
        .integrations(Some(IntegrationKind::Pc))
        .await
        .expect("list")[0]
        .id;
    let vm = store
        .integrations(Some(IntegrationKind::Vm))
        .await
        .expect("list")[0]
        .id;
    let audits = audited(store, "cips.").await;

    // Policies before any filter: kept, once each, ascending.
    let c = store
        .add_cips_policies(
            &[4771746, 3606517, 3606517],
            t(2010),
            &audit("cips.policy.add", "c"),
        )
        .await
        .expect("add policies");
    assert_eq!(c.policies, vec![3606517, 4771746]);
    assert_eq!(c.id, None);

    // The filter gets its id once; a change keeps it and moves last_updated.
    commit(store, pc, EPOCH, t(2010), &[], &[], t(2010))
        .await
        .expect("plan PC");
    commit(store, vm, EPOCH, t(2010), &[], &[], t(2010))
        .await
        .expect("plan VM");
    let c = store
        .set_cips_filter(false, true, true, true, t(2011), &audit("cips.filter", "c"))
        .await
        .expect("filter");
    let id = c.id.expect("the filter has an id");
    assert_eq!(id, CIPS_CONFIG_ID);
    assert_eq!(
        (
            c.include_evidence_data,
            c.include_fail_posture,
            c.include_pass_posture,
            c.include_error_posture,
            c.last_updated
        ),
        (false, true, true, true, Some(t(2011)))
    );
    assert_eq!(c.policies, vec![3606517, 4771746]);
    assert_eq!(
        store.watermark(pc).await.expect("watermark"),
        EPOCH,
        "the filter applies at once to PC"
    );
    assert_eq!(
        store.watermark(vm).await.expect("watermark"),
        t(2010),
        "VM is not concerned"
    );
    let c = store
        .set_cips_filter(
            false,
            false,
            true,
            true,
            t(2012),
            &audit("cips.filter", "c"),
        )
        .await
        .expect("filter again");
    assert_eq!(c.id, Some(id));
    assert!(!c.include_fail_posture);
    assert_eq!(c.last_updated, Some(t(2012)));
    assert_eq!(store.cips_config().await.expect("cips_config"), c);

    // At most 100 policies: refused whole past the limit.
    commit(store, pc, EPOCH, t(2012), &[], &[], t(2012))
        .await
        .expect("plan PC");
    let more: Vec<i64> = (1..=98).collect();
    let c = store
        .add_cips_policies(&more, t(2013), &audit("cips.policy.add", "c"))
        .await
        .expect("add 98");
    assert_eq!(c.policies.len(), 100);
    assert_eq!(c.last_updated, Some(t(2013)));
    assert_eq!(store.watermark(pc).await.expect("watermark"), EPOCH);
    match store
        .add_cips_policies(&[5000, 4771746], t(2014), &audit("cips.policy.add", "c"))
        .await
    {
        Err(StoreError::Invalid(m)) => {
            assert!(m.contains("100") && m.contains("101"), "{m}")
        }
        other => panic!("a 101st policy: {other:?}"),
    }
    assert_eq!(store.cips_config().await.expect("cips").policies.len(), 100);
    store
        .add_cips_policies(&[4771746], t(2014), &audit("cips.policy.add", "c"))
        .await
        .expect("adding a policy already there at the limit");
    assert!(matches!(
        store
            .add_cips_policies(&[0], t(2014), &audit("cips.policy.add", "c"))
            .await,
        Err(StoreError::Invalid(_))
    ));

    // Removal: absent policies are ignored, twice is fine.
    for _ in 0..2 {
        let c = store
            .remove_cips_policies(&[1, 2, 777_777], t(2015), &audit("cips.policy.remove", "c"))
            .await
            .expect("remove");
        assert_eq!(c.policies.len(), 98);
        assert!(!c.policies.contains(&1) && c.policies.contains(&3));
    }
    let all: Vec<i64> = store.cips_config().await.expect("cips").policies;
    let c = store
        .remove_cips_policies(&all, t(2016), &audit("cips.policy.remove", "c"))
        .await
        .expect("remove all");
    assert!(c.policies.is_empty());
    assert_eq!(c.id, Some(id), "the filter stays");
    assert_eq!(audited(store, "cips.").await, audits + 8);
}

async fn delivery_outbox(store: &dyn Store) {
    use IntegrationKind::*;
    let settings = delivery_settings("outbox");
    let a = store
        .create_integration(
            Vm,
            &settings,
            "POD1-1-a",
            t(2020),
            &audit("integration.create", "o"),
        )
        .await
        .expect("create")
        .id;
    let pending = store
        .create_integration(
            Ocsf,
            &settings,
            "POD1-1-b",
            t(2020),
            &audit("integration.create", "o"),
        )
        .await
        .expect("create")
        .id;
    store
        .mark_validated(Vm, a, t(2020), &audit("integration.validate", "o"))
        .await
        .expect("validate");

    // A plan: objects due now, hashes (the last of a subject given twice),
    // the watermark.
    let big: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    let objects = [
        object("qualys_vm_findings/2026-06-01/one.gz", big.clone(), 2),
        object("qualys_vm_findings/2026-06-01/two.gz", b"{}".to_vec(), 3),
    ];
    let names = vec!["host:a".to_string(), "host:b".to_string()];
    assert!(store
        .subject_hashes(a, &names)
        .await
        .expect("hashes")
        .is_empty());
    commit(
        store,
        a,
        EPOCH,
        t(2021),
        &objects,
        &subjects(&[("host:a", 1), ("host:b", 2), ("host:a", 3)]),
        t(2021),
    )
    .await
    .expect("plan");
    let hashes = store.subject_hashes(a, &names).await.expect("hashes");
    assert_eq!(
        hashes,
        [("host:a".to_string(), 3), ("host:b".to_string(), 2)]
            .into_iter()
            .collect()
    );
    assert_eq!(store.watermark(a).await.expect("watermark"), t(2021));

    // A plan from a stale watermark writes nothing.
    match commit(
        store,
        a,
        EPOCH,
        t(2022),
        &[object("stale", vec![1], 1)],
        &subjects(&[("host:a", 9)]),
        t(2022),
    )
    .await
    {
        Err(StoreError::Conflict(m)) => assert!(m.contains(&a.to_string()), "{m}"),
        other => panic!("a stale plan: {other:?}"),
    }
    assert_eq!(store.outbox_pending(Some(a)).await.expect("pending"), 2);
    assert_eq!(
        store.subject_hashes(a, &names).await.expect("hashes")["host:a"],
        3
    );
    assert_eq!(store.watermark(a).await.expect("watermark"), t(2021));
    assert!(matches!(
        commit(store, 987_654, EPOCH, t(1), &[], &[], t(1)).await,
        Err(StoreError::NotFound(_))
    ));
    // Many subjects in one plan.
    let many: Vec<(String, i64)> = (0..2500).map(|i| (format!("qid:{i}"), i)).collect();
    commit(store, a, t(2021), t(2021), &[], &many, t(2021))
        .await
        .expect("plan many");
    let many_names: Vec<String> = many.iter().map(|(s, _)| s.clone()).collect();
    let got = store.subject_hashes(a, &many_names).await.expect("hashes");
    assert_eq!(got.len(), 2500);
    assert_eq!(got["qid:2499"], 2499);

    // Due objects, in order, as written.
    let due = store.outbox_due(t(2021), 10).await.expect("due");
    assert_eq!(due.len(), 2);
    let one = &due[0];
    assert_eq!(one.integration_id, a);
    assert_eq!(one.key, "qualys_vm_findings/2026-06-01/one.gz");
    assert!(one.body == big, "a body of megabytes comes back whole");
    assert_eq!(one.content_type, "application/json");
    assert_eq!(one.content_encoding.as_deref(), Some("gzip"));
    assert_eq!((one.items, one.attempts), (2, 0));
    assert_eq!((one.created, one.next_attempt), (t(2021), t(2021)));
    assert_eq!(one.last_error, None);
    assert!(due[0].id < due[1].id);
    assert!(store.outbox_due(t(2020), 10).await.expect("due").is_empty());
    assert_eq!(store.outbox_due(t(2021), 1).await.expect("due").len(), 1);

    // Objects of an integration that is not validated wait.
    commit(
        store,
        pending,
        EPOCH,
        t(2021),
        &[object("ocsf/one.json", b"[]".to_vec(), 1)],
        &[],
        t(2021),
    )
    .await
    .expect("plan pending");
    assert_eq!(due_keys(store, t(2030)).await.len(), 2);
    assert_eq!(
        store.outbox_pending(Some(pending)).await.expect("pending"),
        1
    );
    let all_pending = store.outbox_pending(None).await.expect("pending");
    assert!(all_pending >= 3, "{all_pending}");

    // A failed write is retried later; a confirmed one counts.
    let (first, second) = (due[0].id, due[1].id);
    store
        .outbox_retry(first, "AccessDenied: s3:PutObject", t(2023))
        .await
        .expect("retry");
    assert_eq!(
        due_keys(store, t(2022)).await,
        vec!["qualys_vm_findings/2026-06-01/two.gz"]
    );
    let again = store.outbox_due(t(2023), 10).await.expect("due");
    assert_eq!(
        again.iter().map(|o| o.id).collect::<Vec<_>>(),
        vec![second, first],
        "by next attempt"
    );
    assert_eq!(again[1].attempts, 1);
    assert_eq!(
        again[1].last_error.as_deref(),
        Some("AccessDenied: s3:PutObject")
    );
    store
        .outbox_delivered(second, t(2024))
        .await
        .expect("delivered");
    let i = integration_of(store, Vm, a).await;
    assert_eq!(
        (i.objects_delivered, i.items_delivered, i.last_delivery),
        (1, 3, Some(t(2024)))
    );
    assert_eq!(store.outbox_pending(Some(a)).await.expect("pending"), 1);
    assert!(matches!(
        store.outbox_delivered(second, t(2024)).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.outbox_retry(second, "x", t(2024)).await,
        Err(StoreError::NotFound(_))
    ));

    // In Error the backlog is still tried; once changed, it waits.
    store
        .integration_failed(a, "AccessDenied", "denied", t(2025))
        .await
        .expect("failed");
    assert_eq!(due_keys(store, t(2030)).await.len(), 1);
    let mut moved = settings.clone();
    moved.bucket_name = "elsewhere".into();
    store
        .update_integration(
            Vm,
            a,
            &moved,
            None,
            t(2026),
            &audit("integration.update", "o"),
        )
        .await
        .expect("update");
    assert!(due_keys(store, t(2030)).await.is_empty());
    assert_eq!(store.outbox_pending(Some(a)).await.expect("pending"), 1);
    assert_eq!(
        store.subject_hashes(a, &names).await.expect("hashes").len(),
        2
    );

    // Deleting takes its outbox and hashes along.
    store
        .delete_integration(Vm, a, &audit("integration.delete", "o"))
        .await
        .expect("delete");
    assert_eq!(store.outbox_pending(Some(a)).await.expect("pending"), 0);
    assert!(store
        .subject_hashes(a, &names)
        .await
        .expect("hashes")
        .is_empty());
    assert_eq!(
        store.outbox_pending(Some(pending)).await.expect("pending"),
        1
    );
    store
        .delete_integration(Ocsf, pending, &audit("integration.delete", "o"))
        .await
        .expect("delete");
}

async fn delivery_lease(store: &dyn Store) {
    let lease = |node: &'static str, at: Timestamp| async move {
        store
            .delivery_lease(node, at, 60_000)
            .await
            .expect("delivery_lease")
    };
    assert!(lease("node-a", ts(2030, 0)).await, "a free lease is taken");
    assert!(!lease("node-b", ts(2030, 30)).await, "held by node-a");
    assert!(lease("node-a", ts(2030, 30)).await, "renewed by its holder");
    assert!(!lease("node-b", ts(2030, 60)).await, "renewed until 90 s");
    assert!(lease("node-b", ts(2030, 90)).await, "expired: taken over");
    assert!(!lease("node-a", ts(2030, 100)).await, "now node-b's");
}

fn d_posture(control: i64, instance: &str, status: PostureStatus) -> QualysPcPosture {
    QualysPcPosture {
        id: control * 10,
        policy_id: 3567540,
        host_id: 1,
        control_id: control,
        instance: instance.into(),
        status: Some(status),
        technology_id: Some(80),
        evidence: Some("{\"actualValues\":[\"5\"]}".into()),
        ..Default::default()
    }
}

async fn delivery_reads(store: &dyn Store) {
    use DetectionStatus::*;
    use DetectionType::*;
    const DQ: &str = "dq";
    const DQ2: &str = "dq2";
    let key = |c: &str, h: i64| (c.to_string(), h);

    // Hosts 1–3 of dq change at 2040, host 4 and dq2's host 1 at 2042.
    let mut h1 = q_host(1, Some("i-d1"));
    h1.ip = Some("10.0.0.1".into());
    h1.dns = Some("web.example.com".into());
    h1.tags = vec!["prod".into(), "web".into()];
    h1.last_vuln_scan = Some(t(2039));
    ingest(
        store,
        DQ,
        "Acme",
        QualysBatch::Hosts(vec![
            h1.clone(),
            q_host(2, None),
            q_host(3, None),
            q_host(4, None),
        ]),
        2040,
    )
    .await;
    let mut ssl = q_detection(1, 100, Confirmed, 4, Active);
    ssl.port = Some(443);
    ssl.protocol = Some("tcp".into());
    ssl.ssl = true;
    ssl.results = Some("TLSv1.0 enabled".into());
    ingest(
        store,
        DQ,
        "Acme",
        QualysBatch::Detections(vec![
            q_detection(1, 200, Potential, 2, New),
            ssl.clone(),
            q_detection(1, 100, Confirmed, 4, Fixed),
            q_detection(2, 100, Info, 1, Active),
            q_detection(3, 100, Confirmed, 3, ReOpened),
        ]),
        2040,
    )
    .await;
    ingest(
        store,
        DQ,
        "Acme",
        QualysBatch::Detections(vec![q_detection(4, 100, Confirmed, 5, New)]),
        2042,
    )
    .await;
    ingest(
        store,
        DQ2,
        "Other",
        QualysBatch::Detections(vec![q_detection(1, 100, Confirmed, 5, New)]),
        2042,
    )
    .await;

    // Changed hosts, by page.
    let page = |since: Timestamp, after: Option<(String, i64)>, limit: u32| async move {
        store
            .vm_changed_hosts(since, after.as_ref(), limit)
            .await
            .expect("vm_changed_hosts")
    };
    assert_eq!(page(t(2040), None, 2).await, vec![key(DQ, 1), key(DQ, 2)]);
    assert_eq!(
        page(t(2040), Some(key(DQ, 2)), 2).await,
        vec![key(DQ, 3), key(DQ, 4)]
    );
    assert_eq!(page(t(2040), Some(key(DQ, 4)), 2).await, vec![key(DQ2, 1)]);
    assert!(page(t(2040), Some(key(DQ2, 1)), 2).await.is_empty());
    assert_eq!(page(t(2041), None, 10).await, vec![key(DQ, 4), key(DQ2, 1)]);
    assert!(page(t(2043), None, 10).await.is_empty());

    // Host findings: in the order asked, once each, hosts not stored left
    // out; detections by QID then port.
    let found = store
        .vm_host_findings(&[key(DQ, 2), key(DQ, 1), key(DQ, 99), key(DQ, 1), key(DQ2, 1)])
        .await
        .expect("vm_host_findings");
    assert_eq!(
        found
            .iter()
            .map(|f| (f.connector_id.as_str(), f.host.id))
            .collect::<Vec<_>>(),
        vec![(DQ, 2), (DQ, 1)],
        "dq2's host 1 has detections but no stored host"
    );
    let one = &found[1];
    assert_eq!(one.account_name, "Acme");
    assert_eq!(one.host.ip.as_deref(), Some("10.0.0.1"));
    assert_eq!(one.host.dns.as_deref(), Some("web.example.com"));
    assert_eq!(one.host.tags, vec!["prod", "web"]);
    assert_eq!(one.host.last_vuln_scan, Some(t(2039)));
    let cloud = one.host.cloud.as_ref().expect("cloud");
    assert_eq!(
        (cloud.instance_id.as_str(), cloud.region.as_deref()),
        ("i-d1", Some("eu-west-1"))
    );
    assert_eq!(
        one.detections
            .iter()
            .map(|d| (d.qid, d.port))
            .collect::<Vec<_>>(),
        vec![(100, None), (100, Some(443)), (200, None)]
    );
    let mut want = ssl.clone();
    want.instance_id = Some("i-d1".into());
    assert_eq!(one.detections[1], want, "a detection reads back whole");
    assert_eq!(one.detections[0].status, Fixed);
    assert_eq!(one.detections[2].kind, Potential);
    assert_eq!(found[0].detections.len(), 1);
    assert!(store
        .vm_host_findings(&[])
        .await
        .expect("no hosts")
        .is_empty());

    // More hosts than one statement takes.
    let hosts: Vec<QualysHost> = (0..1500).map(|i| q_host(20_000 + i, None)).collect();
    ingest(store, DQ, "Acme", QualysBatch::Hosts(hosts), 2044).await;
    ingest(
        store,
        DQ,
        "Acme",
        QualysBatch::Detections(
            (0..1500)
                .map(|i| q_detection(20_000 + i, 300, Confirmed, 3, Active))
                .collect(),
        ),
        2044,
    )
    .await;
    let keys: Vec<HostKey> = (0..1500).map(|i| key(DQ, 20_000 + i)).collect();
    let many = store.vm_host_findings(&keys).await.expect("many hosts");
    assert_eq!(many.len(), 1500);
    assert!(many
        .iter()
        .zip(&keys)
        .all(|(f, k)| f.host.id == k.1 && f.detections.len() == 1));
    let mut walked = Vec::new();
    let mut after: Option<HostKey> = None;
    loop {
        let got = store
            .vm_changed_hosts(t(2044), after.as_ref(), 400)
            .await
            .expect("page");
        if got.is_empty() {
            break;
        }
        after = got.last().cloned();
        walked.extend(got);
    }
    assert_eq!(walked.len(), 1500, "paging reads each host once");

    // Knowledge base.
    ingest(
        store,
        DQ,
        "Acme",
        QualysBatch::Kb(vec![QualysKbEntry {
            qid: 100,
            vuln_type: Some("Vulnerability".into()),
            severity: Some(4),
            title: "OpenSSL".into(),
            category: Some("General remote services".into()),
            cves: vec!["CVE-2024-0001".into()],
            cvss_base: Some(7.5),
            cvss3_base: Some(9.8),
            diagnosis: Some("d".into()),
            consequence: Some("c".into()),
            solution: Some("s".into()),
            patchable: true,
            published: Some(t(1)),
            modified: Some(t(2)),
        }]),
        2044,
    )
    .await;
    let kb = store.kb_entries(DQ, &[100, 200]).await.expect("kb");
    assert_eq!(kb.len(), 1);
    assert_eq!(kb[&100].cves, vec!["CVE-2024-0001"]);
    assert_eq!(
        (kb[&100].cvss3_base, kb[&100].patchable, kb[&100].severity),
        (Some(9.8), true, Some(4))
    );
    assert!(store.kb_entries(DQ2, &[100]).await.expect("kb").is_empty());

    // Postures: those of the asked policies, with the control statement;
    // a host known only from its postures comes with its id.
    ingest(
        store,
        DQ,
        "Acme",
        QualysBatch::PcControls(vec![QualysPcControl {
            id: 1071,
            statement: "Status of the 'Minimum Password Length' setting".into(),
            ..Default::default()
        }]),
        2045,
    )
    .await;
    let mut other_policy = d_posture(1071, "os", PostureStatus::Failed);
    other_policy.policy_id = 7;
    let mut bare = d_posture(1072, "os", PostureStatus::Error);
    bare.host_id = 6;
    ingest(
        store,
        DQ,
        "Acme",
        QualysBatch::PcPostures(vec![
            d_posture(1072, "os", PostureStatus::Passed),
            d_posture(1071, "oracle:2", PostureStatus::Passed),
            d_posture(1071, "oracle:1", PostureStatus::Failed),
            other_policy,
            bare,
        ]),
        2045,
    )
    .await;
    assert_eq!(
        store
            .pc_changed_hosts(t(2045), None, 10)
            .await
            .expect("pc_changed_hosts"),
        vec![key(DQ, 1), key(DQ, 6)]
    );
    assert_eq!(
        store
            .pc_changed_hosts(t(2045), Some(&key(DQ, 1)), 10)
            .await
            .expect("pc_changed_hosts"),
        vec![key(DQ, 6)]
    );
    let postures = store
        .pc_host_postures(
            &[key(DQ, 1), key(DQ, 6), key(DQ, 2), key(DQ, 98)],
            &[3567540],
        )
        .await
        .expect("pc_host_postures");
    assert_eq!(
        postures
            .iter()
            .map(|p| (p.host.id, p.postures.len()))
            .collect::<Vec<_>>(),
        vec![(1, 3), (6, 1), (2, 0)]
    );
    let h = &postures[0];
    assert_eq!(h.host.dns.as_deref(), Some("web.example.com"));
    assert_eq!(
        h.postures
            .iter()
            .map(|p| (p.control_id, p.instance.as_str()))
            .collect::<Vec<_>>(),
        vec![(1071, "oracle:1"), (1071, "oracle:2"), (1072, "os")]
    );
    let p = &h.postures[0];
    assert_eq!(
        p.control_statement,
        "Status of the 'Minimum Password Length' setting"
    );
    assert_eq!(
        (p.posture_id, p.policy_id, p.technology_id),
        (10710, 3567540, Some(80))
    );
    assert_eq!(p.status.as_deref(), Some("Failed"));
    assert_eq!(p.evidence.as_deref(), Some("{\"actualValues\":[\"5\"]}"));
    assert_eq!(h.postures[2].control_statement, "", "control not stored");
    let b = &postures[1];
    assert_eq!((b.account_name.as_str(), b.host.ip.clone()), ("Acme", None));
    let none = store
        .pc_host_postures(&[key(DQ, 1), key(DQ, 6)], &[])
        .await
        .expect("no policies");
    assert_eq!(none.len(), 1);
    assert!(none[0].postures.is_empty());
    let both = store
        .pc_host_postures(&[key(DQ, 1)], &[7, 3567540])
        .await
        .expect("two policies");
    assert_eq!(both[0].postures.len(), 4);
    assert_eq!(both[0].postures[0].policy_id, 7, "by policy first");
}

/// Seed 000's posture history, kept by the Qualys ingest: `lastPosture` is
/// the status of the evaluation before the current one; the first and last
/// dates a posture was found failing and passing.
pub async fn qualys_posture_history(store: &dyn Store) {
    const PH: &str = "ph";
    let at = |status: PostureStatus, evaluated: Option<i64>, modified: Option<i64>| {
        let mut p = d_posture(1071, "os", status);
        p.last_evaluated = evaluated.map(t);
        p.posture_modified = modified.map(t);
        p.first_found = Some(t(2048));
        p
    };
    let read = || async {
        let hosts = store
            .pc_host_postures(&[(PH.to_string(), 1)], &[3567540])
            .await
            .expect("pc_host_postures");
        hosts[0].postures[0].clone()
    };
    let history = |p: &PostureRow| {
        (
            p.status.clone(),
            p.last_status.clone(),
            p.fail_first_found,
            p.fail_last_found,
            p.passed_first_found,
            p.passed_last_found,
        )
    };
    let s = |v: &str| Some(v.to_string());
    use PostureStatus::*;

    // First seen Passed: passed since its last change, up to its evaluation.
    ingest(
        store,
        PH,
        "Acme",
        QualysBatch::PcPostures(vec![at(Passed, Some(2049), Some(2048))]),
        2050,
    )
    .await;
    let p = read().await;
    assert_eq!(
        history(&p),
        (s("Passed"), None, None, None, Some(t(2048)), Some(t(2049)))
    );
    assert_eq!(p.first_evaluated, Some(t(2048)));
    assert_eq!(p.last_evaluated, Some(t(2049)));
    assert_eq!(p.posture_modified, Some(t(2048)));
    // The same evaluation read again changes nothing.
    ingest(
        store,
        PH,
        "Acme",
        QualysBatch::PcPostures(vec![at(Passed, Some(2049), Some(2048))]),
        2051,
    )
    .await;
    assert_eq!(history(&read().await), history(&p));
    // Evaluated again, still Passed (seed 000's sample).
    ingest(
        store,
        PH,
        "Acme",
        QualysBatch::PcPostures(vec![at(Passed, Some(2052), Some(2048))]),
        2052,
    )
    .await;
    assert_eq!(
        history(&read().await),
        (
            s("Passed"),
            s("Passed"),
            None,
            None,
            Some(t(2048)),
            Some(t(2052))
        )
    );
    // Fails, fails again, passes again.
    ingest(
        store,
        PH,
        "Acme",
        QualysBatch::PcPostures(vec![at(Failed, Some(2053), Some(2053))]),
        2053,
    )
    .await;
    assert_eq!(
        history(&read().await),
        (
            s("Failed"),
            s("Passed"),
            Some(t(2053)),
            Some(t(2053)),
            Some(t(2048)),
            Some(t(2052))
        )
    );
    ingest(
        store,
        PH,
        "Acme",
        QualysBatch::PcPostures(vec![at(Failed, Some(2054), Some(2053))]),
        2054,
    )
    .await;
    assert_eq!(
        history(&read().await),
        (
            s("Failed"),
            s("Failed"),
            Some(t(2053)),
            Some(t(2054)),
            Some(t(2048)),
            Some(t(2052))
        )
    );
    ingest(
        store,
        PH,
        "Acme",
        QualysBatch::PcPostures(vec![at(Passed, Some(2055), Some(2055))]),
        2055,
    )
    .await;
    assert_eq!(
        history(&read().await),
        (
            s("Passed"),
            s("Failed"),
            Some(t(2053)),
            Some(t(2054)),
            Some(t(2048)),
            Some(t(2055))
        )
    );
    // A status change without evaluation times: found at the ingest time.
    ingest(
        store,
        PH,
        "Acme",
        QualysBatch::PcPostures(vec![at(Error, None, None)]),
        2056,
    )
    .await;
    ingest(
        store,
        PH,
        "Acme",
        QualysBatch::PcPostures(vec![at(Failed, None, None)]),
        2057,
    )
    .await;
    assert_eq!(
        history(&read().await),
        (
            s("Failed"),
            s("Error"),
            Some(t(2053)),
            Some(t(2057)),
            Some(t(2048)),
            Some(t(2055))
        )
    );
    let mut fresh = at(Failed, None, None);
    fresh.host_id = 2;
    ingest(
        store,
        PH,
        "Acme",
        QualysBatch::PcPostures(vec![fresh]),
        2058,
    )
    .await;
    let hosts = store
        .pc_host_postures(&[(PH.to_string(), 2)], &[3567540])
        .await
        .expect("pc_host_postures");
    assert_eq!(
        history(&hosts[0].postures[0]),
        (s("Failed"), None, Some(t(2058)), Some(t(2058)), None, None)
    );
    store.qualys_forget(PH).await.expect("qualys_forget");
}

fn dlv(native: &str, name: &str, origin: Origin) -> Resource {
    // IaC resources have no account or region: another uid.
    let (account, region) = match origin {
        Origin::Iac { .. } => ("", ""),
        _ => ("383031258652", "us-east-1"),
    };
    resource(
        account,
        region,
        "S3",
        "aws.s3.bucket",
        native,
        name,
        &[],
        origin,
    )
}

async fn delivery_evaluations(store: &dyn Store) {
    let (catalog, policies) = sample_catalog();
    store
        .sync_catalog(&catalog, &policies)
        .await
        .expect("sync_catalog");
    let conn = |run: &str| Origin::Connector {
        connector: "dlv".into(),
        run: run.into(),
    };
    let evals: Vec<EvaluationInput<'static>> = (0..3)
        .flat_map(|i| [eval(i, 1, EvalResult::Fail), eval(i, 2, EvalResult::Pass)])
        .collect();
    sync(
        store,
        "connector:dlv",
        "dlv-1",
        t(2060),
        &[
            dlv("arn:dlv:b", "dlv-b", conn("dlv-1")),
            dlv("arn:dlv:a", "dlv-a", conn("dlv-1")),
            dlv("arn:dlv:c", "dlv-c", conn("dlv-1")),
        ],
        &evals,
    )
    .await
    .expect("sync");
    // One native id in two sources: an IaC address and a connector.
    sync(
        store,
        "iac:dlv.tf",
        "dlv-iac",
        t(2060),
        &[dlv(
            "arn:dlv:a",
            "dlv-a-iac",
            Origin::Iac {
                file: "dlv.tf".into(),
                line: 1,
                end_line: 2,
            },
        )],
        &[eval(0, 1, EvalResult::Fail), eval(0, 2, EvalResult::Fail)],
    )
    .await
    .expect("sync iac");
    // c is gone at the next sync.
    sync(
        store,
        "connector:dlv",
        "dlv-2",
        t(2061),
        &[
            dlv("arn:dlv:b", "dlv-b", conn("dlv-2")),
            dlv("arn:dlv:a", "dlv-a", conn("dlv-2")),
        ],
        &evals[..4],
    )
    .await
    .expect("sync again");

    let changed = |since: Timestamp, after: Option<(String, u32)>, limit: u32| async move {
        store
            .evaluations_changed(since, after.as_ref(), limit)
            .await
            .expect("evaluations_changed")
    };
    let keyed = |rows: &[EvaluationRow]| {
        rows.iter()
            .map(|r| (r.resource_id.clone(), r.cid, r.resource_name.clone()))
            .collect::<Vec<_>>()
    };
    let k = |n: &str, cid: u32, name: &str| (n.to_string(), cid, name.to_string());
    let all = changed(t(2060), None, 100).await;
    let mut want = vec![
        k("arn:dlv:a", 1, "dlv-a"),
        k("arn:dlv:a", 1, "dlv-a-iac"),
        k("arn:dlv:a", 2, "dlv-a"),
        k("arn:dlv:a", 2, "dlv-a-iac"),
        k("arn:dlv:b", 1, "dlv-b"),
        k("arn:dlv:b", 2, "dlv-b"),
    ];
    let mut got = keyed(&all);
    // Within one (native id, cid) the order is the store's own.
    got.sort();
    want.sort();
    assert_eq!(got, want, "gone resources are left out");
    let a1 = all
        .iter()
        .find(|r| r.resource_name == "dlv-a" && r.cid == 1)
        .expect("a/1");
    assert_eq!(a1.result, EvalResult::Fail);
    assert_eq!(a1.last_evaluated, t(2061));
    assert_eq!(
        keyed(&changed(t(2061), None, 100).await)
            .into_iter()
            .map(|(n, c, _)| (n, c))
            .collect::<Vec<_>>(),
        vec![
            ("arn:dlv:a".to_string(), 1),
            ("arn:dlv:a".to_string(), 2),
            ("arn:dlv:b".to_string(), 1),
            ("arn:dlv:b".to_string(), 2)
        ]
    );
    assert!(changed(t(2062), None, 100).await.is_empty());

    // Paging by the last row's key: a page holds every row of its native
    // ids.
    let first = changed(t(2060), None, 1).await;
    assert_eq!(first.len(), 4, "{:?}", keyed(&first));
    assert!(first.iter().all(|r| r.resource_id == "arn:dlv:a"));
    let five = changed(t(2060), None, 5).await;
    assert_eq!(five.len(), 6, "{:?}", keyed(&five));
    assert_eq!(
        keyed(&changed(t(2060), Some(("arn:dlv:a".into(), 2)), 1).await)
            .into_iter()
            .map(|(n, c, _)| (n, c))
            .collect::<Vec<_>>(),
        vec![("arn:dlv:b".to_string(), 1), ("arn:dlv:b".to_string(), 2)]
    );
    for limit in [1, 2, 3, 4, 5, 6] {
        let mut walked = Vec::new();
        let mut after: Option<(String, u32)> = None;
        loop {
            let page = changed(t(2060), after.clone(), limit).await;
            let Some(last) = page.last() else { break };
            after = Some((last.resource_id.clone(), last.cid));
            walked.extend(keyed(&page));
        }
        walked.sort();
        assert_eq!(walked, want, "limit {limit}");
    }
}
