//! Web applications and findings against the stand-in: seed 002's options,
//! QPS paging by `hasMoreRecords` / `lastId`, errors in 200 bodies.

use std::collections::BTreeSet;
use vigil_model::qualys::{QualysBatch, QualysWasFinding, QualysWebApp};
use vigil_qualys::{was, Client, Options};
mod family;
use family::{connection, run_family, Run};
use vigil_qualys_standin::{StandIn, Subscription};

impl Run {
    fn apps(&self) -> Vec<QualysWebApp> {
        self.pick(|b| match b {
            QualysBatch::WebApps(v) => Some(v),
            _ => None,
        })
    }
    fn findings(&self) -> Vec<QualysWasFinding> {
        self.pick(|b| match b {
            QualysBatch::WasFindings(v) => Some(v),
            _ => None,
        })
    }
}

async fn run(standin: &StandIn, options: Options) -> Run {
    let now = standin.subscription().now;
    run_family(standin, options, "Secret-123", now, was::ingest).await
}

fn bodies(standin: &StandIn, what: &str) -> Vec<String> {
    standin
        .requests_to(&format!("/qps/rest/3.0/search/was/{what}"))
        .into_iter()
        .map(|r| r.body)
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn defaults_ingest_every_app_and_the_findings_of_the_last_7_days() {
    let standin = StandIn::start(Subscription::default()).await;
    let r = run(&standin, Options::default()).await;
    let counts = r.result.as_ref().unwrap();
    assert_eq!(counts["webapps"], 3);
    // Findings are detected 1.5, 4.5, 7.5 and 10.5 days ago: 2 per app.
    assert_eq!(counts["was_findings"], 6);

    let apps = r.apps();
    let a = &apps[0];
    assert_eq!(a.id, 5001);
    assert_eq!(a.name, "Shop 1");
    assert_eq!(a.url, "https://shop1.example.com");
    assert_eq!(a.tags, vec!["production", "team-1"]);
    assert!(a.created.is_some() && a.updated.is_some() && a.last_scan.is_some());

    let f = r.findings();
    let f1 = f.iter().find(|f| f.id == 1).unwrap();
    assert_eq!(f1.webapp_id, 5001, "webApp/id, not a nested id");
    assert_eq!(f1.qid, 150000);
    assert_eq!(f1.name, "SQL Injection <0>");
    assert_eq!(f1.finding_type.as_deref(), Some("VULNERABILITY"));
    assert_eq!(f1.severity, Some(5));
    assert_eq!(f1.status.as_deref(), Some("NEW"));
    assert_eq!(
        f1.url.as_deref(),
        Some("https://shop1.example.com/item?id=0")
    );
    assert_eq!(f1.times_detected, Some(1));
    assert!(f1.first_detected.unwrap() < f1.last_detected.unwrap());

    let body = &bodies(&standin, "finding")[0];
    assert!(body.contains("<limitResults>100</limitResults>"), "{body}");
    assert!(
        body.contains("<Criteria field=\"lastDetectedDate\" operator=\"GREATER\">"),
        "{body}"
    );
    assert!(!bodies(&standin, "webapp")[0].contains("<filters>"));
}

#[tokio::test(flavor = "multi_thread")]
async fn ingest_web_app_scans_false_calls_nothing() {
    let standin = StandIn::start(Subscription::default()).await;
    let r = run(
        &standin,
        Options {
            ingest_web_app_scans: false,
            ..Options::default()
        },
    )
    .await;
    assert!(r.result.unwrap().is_empty());
    assert!(r.batches.is_empty());
    assert!(standin.requests_to("/qps/").is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn web_application_ids_keep_those_apps_and_their_findings() {
    let standin = StandIn::start(Subscription::default()).await;
    let r = run(
        &standin,
        Options {
            web_application_ids: vec![5002],
            ..Options::default()
        },
    )
    .await;
    r.result.as_ref().unwrap();
    let apps: Vec<i64> = r.apps().iter().map(|a| a.id).collect();
    assert_eq!(apps, vec![5002]);
    assert_eq!(r.findings().len(), 2);
    assert!(r.findings().iter().all(|f| f.webapp_id == 5002));
    assert!(bodies(&standin, "webapp")[0]
        .contains("<Criteria field=\"id\" operator=\"IN\">5002</Criteria>"));
    assert!(bodies(&standin, "finding")[0]
        .contains("<Criteria field=\"webApp.id\" operator=\"IN\">5002</Criteria>"));
}

#[tokio::test(flavor = "multi_thread")]
async fn findings_age_days_widens_the_window() {
    let standin = StandIn::start(Subscription::default()).await;
    let r = run(
        &standin,
        Options {
            findings_age_days: 30,
            ..Options::default()
        },
    )
    .await;
    assert_eq!(r.result.unwrap()["was_findings"], 12);
    let r = run(
        &standin,
        Options {
            findings_age_days: 1,
            ..Options::default()
        },
    )
    .await;
    assert_eq!(r.result.unwrap()["was_findings"], 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn pages_follow_has_more_records_and_last_id() {
    let standin = StandIn::start(Subscription::default()).await;
    let r = run(
        &standin,
        Options {
            page_size: 2,
            findings_age_days: 30,
            ..Options::default()
        },
    )
    .await;
    r.result.as_ref().unwrap();
    assert_eq!(r.apps().len(), 3);
    let ids: BTreeSet<i64> = r.findings().iter().map(|f| f.id).collect();
    assert_eq!(ids.len(), 12);
    assert_eq!(r.findings().len(), 12, "no finding twice");
    for b in &r.batches {
        assert!(b.len() <= 2);
    }
    let apps = bodies(&standin, "webapp");
    assert_eq!(apps.len(), 2);
    assert!(apps[1].contains("<Criteria field=\"id\" operator=\"GREATER\">5002</Criteria>"));
    let f = bodies(&standin, "finding");
    assert_eq!(f.len(), 6);
    assert!(f[5].contains("<Criteria field=\"id\" operator=\"GREATER\">10</Criteria>"));
}

#[tokio::test(flavor = "multi_thread")]
async fn unauthorized_in_a_200_is_an_error_with_its_fix() {
    let standin = StandIn::start(Subscription::default()).await;
    standin
        .faults()
        .unauthorized_200
        .push("/qps/rest/3.0/search/was/".into());
    let r = run(&standin, Options::default()).await;
    let e = r.result.unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains("UNAUTHORIZED") && text.contains("WAS"),
        "{text}"
    );
    assert!(r.batches.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn probes_call_each_endpoint_once() {
    let standin = StandIn::start(Subscription::default()).await;
    let conn = connection(&standin.url);
    let outcomes = tokio::task::spawn_blocking(move || {
        let client = Client::new(&conn, "Secret-123", 1);
        was::probes(&client, &Options::default())
            .into_iter()
            .map(|(what, call)| (what, client.send(&call).map(|_| ())))
            .collect::<Vec<_>>()
    })
    .await
    .unwrap();
    assert_eq!(outcomes.len(), 2);
    for (what, o) in outcomes {
        assert!(o.is_ok(), "{what}: {o:?}");
    }
    assert_eq!(standin.requests_to("/qps/").len(), 2);
}
