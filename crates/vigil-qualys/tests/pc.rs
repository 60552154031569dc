//! Policy Compliance against the stand-in: seed 004's options each change
//! what is sent and ingested, truncation pages are followed, evidence and
//! cause of failure are kept.

use std::collections::{BTreeMap, BTreeSet};
use vigil_model::qualys::{
    PostureStatus, QualysBatch, QualysPcControl, QualysPcPolicy, QualysPcPosture,
};
use vigil_qualys::{pc, Client, Options, QualysError};
mod family;
use family::{connection, run_family, Run};
use vigil_qualys_standin::{StandIn, Subscription};

impl Run {
    fn policies(&self) -> Vec<QualysPcPolicy> {
        self.pick(|b| match b {
            QualysBatch::PcPolicies(v) => Some(v),
            _ => None,
        })
    }
    fn controls(&self) -> Vec<QualysPcControl> {
        self.pick(|b| match b {
            QualysBatch::PcControls(v) => Some(v),
            _ => None,
        })
    }
    fn postures(&self) -> Vec<QualysPcPosture> {
        self.pick(|b| match b {
            QualysBatch::PcPostures(v) => Some(v),
            _ => None,
        })
    }
}

async fn run(standin: &StandIn, options: Options) -> Run {
    run_family(
        standin,
        options,
        "Secret-123",
        chrono::Utc::now(),
        pc::ingest,
    )
    .await
}

fn posture_calls(standin: &StandIn) -> Vec<BTreeMap<String, String>> {
    standin
        .requests_to("/api/2.0/fo/compliance/posture/info/")
        .into_iter()
        .map(|r| r.params)
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn defaults_ingest_every_policy_control_and_posture_mapped_as_seed_004() {
    let standin = StandIn::start(Subscription::default()).await;
    let r = run(&standin, Options::default()).await;
    let counts = r.result.as_ref().unwrap().clone();
    assert_eq!(counts["pc_policies"], 2);
    assert_eq!(counts["pc_controls"], 10);
    assert_eq!(counts["pc_postures"], 2 * 20 * 5);
    for b in &r.batches {
        assert!(b.len() <= 100, "batch of {}", b.len());
    }

    let policies = r.policies();
    assert_eq!(policies[0].id, 1);
    assert_eq!(policies[0].title, "CIS Benchmark policy 1");
    assert_eq!(policies[0].control_ids, vec![1, 2, 3, 4, 5]);
    assert!(policies[0].created.is_some() && policies[0].updated.is_some());

    let controls = r.controls();
    let c2 = controls.iter().find(|c| c.id == 2).unwrap();
    assert_eq!(c2.criticality_value, Some(3));
    assert_eq!(c2.criticality_label.as_deref(), Some("SERIOUS"));
    assert_eq!(c2.category.as_deref(), Some("Access Control Requirements"));
    assert_eq!(c2.sub_category.as_deref(), Some("Logging"));
    assert_eq!(c2.check_type.as_deref(), Some("Registry Value"));
    assert!(c2.statement.contains("Minimum password length"));
    assert_eq!(c2.frameworks, vec!["CIS Controls v8", "NIST SP 800-53"]);
    assert_eq!(c2.technologies, vec!["Windows Server 2019", "Oracle 19c"]);
    assert!(c2.created.unwrap() < c2.updated.unwrap());

    let postures = r.postures();
    let statuses: std::collections::HashSet<_> = postures.iter().filter_map(|p| p.status).collect();
    assert_eq!(statuses.len(), 3, "Passed, Failed and Error: {statuses:?}");
    let p = postures.iter().find(|p| p.control_id == 4).unwrap();
    assert_eq!(p.instance, "MSSQL:MSSQLSERVER");
    assert_eq!(p.criticality_value, Some(5), "from the GLOSSARY");
    assert_eq!(p.policy_id, 1);
    let ev = p.evidence.as_deref().unwrap();
    assert!(
        ev.contains("<LABEL>Minimum password length</LABEL>") && ev.contains("BOOLEAN_EXPR"),
        "{ev}"
    );
    assert!(postures.iter().all(|p| p.cause_of_failure.is_none()));
    assert!(postures.iter().all(|p| p.extended_evidence.is_none()));
    assert!(postures.iter().all(|p| p.last_evaluated.is_some()));
    let failed = postures
        .iter()
        .find(|p| p.status == Some(PostureStatus::Failed))
        .unwrap();
    assert!(failed.first_found.is_some());

    // One posture call per policy, with the parameters Qualys requires.
    let calls = posture_calls(&standin);
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0]["policy_id"], "1");
    assert_eq!(calls[1]["policy_id"], "2");
    assert_eq!(calls[0]["details"], "All");
    assert_eq!(calls[0]["truncation_limit"], "100");
    assert!(!calls[0].contains_key("cause_of_failure"));
    assert!(!calls[0].contains_key("show_extended_evidence"));
    let pol = standin.requests_to("/api/2.0/fo/compliance/policy/");
    assert_eq!(pol[0].params["details"], "All");
    assert!(!pol[0].params.contains_key("truncation_limit"));
}

#[tokio::test(flavor = "multi_thread")]
async fn truncation_warnings_are_followed_and_batches_stay_within_the_page_size() {
    let standin = StandIn::start(Subscription::default()).await;
    let options = Options {
        page_size: 7,
        ..Options::default()
    };
    let r = run(&standin, options).await;
    r.result.as_ref().unwrap();
    let ids: BTreeSet<i64> = r.postures().iter().map(|p| p.id).collect();
    assert_eq!(ids.len(), 200);
    assert_eq!(r.postures().len(), 200, "no posture twice");
    assert_eq!(r.controls().len(), 10);
    for b in &r.batches {
        assert!(b.len() <= 7, "{} records in a batch", b.len());
    }
    let calls = posture_calls(&standin);
    assert_eq!(calls.len(), 2 * 100usize.div_ceil(7));
    assert!(calls.iter().any(|c| c.get("id_min").is_some()));
    // Controls: 10 at 7 a page.
    assert_eq!(
        standin.requests_to("/api/2.0/fo/compliance/control/").len(),
        2
    );
    // Every posture has its criticality even when a page is split.
    assert!(r.postures().iter().all(|p| p.criticality_value.is_some()));
}

#[tokio::test(flavor = "multi_thread")]
async fn more_than_a_thousand_policies_come_in_pages() {
    let standin = StandIn::start(Subscription {
        policies: 1001,
        controls_per_policy: 1,
        hosts: 0,
        ..Subscription::default()
    })
    .await;
    let r = run(&standin, Options::default()).await;
    r.result.as_ref().unwrap();
    assert_eq!(r.policies().len(), 1001);
    let pol = standin.requests_to("/api/2.0/fo/compliance/policy/");
    assert_eq!(pol.len(), 2);
    assert_eq!(pol[1].params["id_min"], "1001");
}

/// Runs with one option changed and checks it was sent and narrowed what
/// was ingested.
#[tokio::test(flavor = "multi_thread")]
async fn every_operation_option_changes_what_is_sent_and_ingested() {
    let standin = StandIn::start(Subscription::default()).await;
    let all = run(&standin, Options::default()).await;
    let all_postures = all.postures().len();
    let all_controls = all.controls().len();

    type Check = fn(&Run);
    type Set = fn(&mut Options);
    let cases: Vec<(&str, &str, Set, Check)> = vec![
        (
            "control_ids",
            "control_ids=2,7",
            |o| o.pc.control_ids = vec![2, 7],
            |r| {
                assert!(r.postures().iter().all(|p| [2, 7].contains(&p.control_id)));
                let ids: Vec<i64> = r.controls().iter().map(|c| c.id).collect();
                assert_eq!(ids, vec![2, 7]);
            },
        ),
        (
            "ids",
            "control_ids=3",
            |o| o.pc.ids = vec![3],
            |r| {
                let ids: Vec<i64> = r.controls().iter().map(|c| c.id).collect();
                assert_eq!(ids, vec![3]);
                assert!(r.postures().iter().all(|p| p.control_id == 3));
            },
        ),
        (
            "criticality_labels",
            "criticality_labels=URGENT",
            |o| o.pc.criticality_labels = vec!["URGENT".into()],
            |r| {
                assert!(!r.controls().is_empty());
                assert!(r
                    .controls()
                    .iter()
                    .all(|c| c.criticality_label.as_deref() == Some("URGENT")));
                assert!(r.postures().iter().all(|p| p.criticality_value == Some(5)));
            },
        ),
        (
            "criticality_values",
            "criticality_values=1,2",
            |o| o.pc.criticality_values = vec![1, 2],
            |r| {
                assert!(!r.controls().is_empty());
                assert!(r
                    .controls()
                    .iter()
                    .all(|c| matches!(c.criticality_value, Some(1 | 2))));
                assert!(r
                    .postures()
                    .iter()
                    .all(|p| matches!(p.criticality_value, Some(1 | 2))));
            },
        ),
        (
            "host_ids",
            "host_ids=3,5",
            |o| o.pc.host_ids = vec![3, 5],
            |r| {
                assert_eq!(r.postures().len(), 2 * 2 * 5);
                assert!(r.postures().iter().all(|p| [3, 5].contains(&p.host_id)));
            },
        ),
        (
            "asset_group_ids",
            "asset_group_ids=101",
            |o| o.pc.asset_group_ids = vec![101],
            |r| {
                // Hosts 3, 6, …, 18 are in asset group 101.
                assert!(!r.postures().is_empty());
                assert!(r.postures().iter().all(|p| p.host_id % 3 == 0));
            },
        ),
        (
            "ips",
            "ips=10.0.0.2,10.0.0.10-10.0.0.11",
            |o| o.pc.ips = vec!["10.0.0.2".into(), "10.0.0.10-10.0.0.11".into()],
            |r| {
                let hosts: BTreeSet<i64> = r.postures().iter().map(|p| p.host_id).collect();
                assert_eq!(hosts, BTreeSet::from([2, 10, 11]));
            },
        ),
        (
            "status",
            "status=Failed",
            |o| o.pc.status = vec!["open".into()],
            |r| {
                assert!(!r.postures().is_empty());
                assert!(r
                    .postures()
                    .iter()
                    .all(|p| p.status == Some(PostureStatus::Failed)));
                // Controls are those the failed postures name.
                let named: BTreeSet<i64> = r.postures().iter().map(|p| p.control_id).collect();
                let controls: BTreeSet<i64> = r.controls().iter().map(|c| c.id).collect();
                assert_eq!(named, controls);
            },
        ),
    ];
    for (name, sent, set, check) in cases {
        let standin = StandIn::start(Subscription::default()).await;
        let mut o = Options::default();
        set(&mut o);
        o.validate("options.").unwrap();
        let r = run(&standin, o).await;
        r.result.as_ref().unwrap_or_else(|e| panic!("{name}: {e}"));
        let (k, v) = sent.split_once('=').unwrap();
        let calls = posture_calls(&standin);
        assert!(
            calls
                .iter()
                .all(|c| c.get(k).map(|s| s.as_str()) == Some(v)),
            "{name}: {calls:?}"
        );
        assert!(
            r.postures().len() < all_postures,
            "{name} did not narrow postures"
        );
        if !["asset_group_ids", "host_ids", "ips", "status"].contains(&name) {
            assert!(
                r.controls().len() < all_controls,
                "{name} did not narrow controls"
            );
        }
        check(&r);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn host_scoped_options_keep_the_controls_their_postures_name() {
    let standin = StandIn::start(Subscription {
        hosts: 3,
        ..Subscription::default()
    })
    .await;
    let mut o = Options::default();
    o.pc.host_ids = vec![2];
    o.pc.criticality_values = vec![4, 5];
    let r = run(&standin, o).await;
    r.result.as_ref().unwrap();
    let named: BTreeSet<i64> = r.postures().iter().map(|p| p.control_id).collect();
    let controls: BTreeSet<i64> = r.controls().iter().map(|c| c.id).collect();
    assert!(!controls.is_empty());
    assert_eq!(named, controls);
}

#[tokio::test(flavor = "multi_thread")]
async fn cause_of_failure_and_extended_evidence_are_asked_for_and_kept() {
    let standin = StandIn::start(Subscription::default()).await;
    let mut o = Options::default();
    o.pc.cause_of_failure = true;
    o.pc.show_extended_evidence = true;
    let r = run(&standin, o).await;
    r.result.as_ref().unwrap();
    let calls = posture_calls(&standin);
    assert!(calls.iter().all(|c| c["cause_of_failure"] == "1"));
    assert!(calls.iter().all(|c| c["show_extended_evidence"] == "1"));
    for p in r.postures() {
        let failed = p.status == Some(PostureStatus::Failed);
        assert_eq!(p.cause_of_failure.is_some(), failed, "{p:?}");
        if failed {
            let cause = p.cause_of_failure.unwrap();
            assert!(
                cause.contains("<MISSING><LOGIC>any</LOGIC><V>14</V></MISSING>"),
                "{cause}"
            );
        }
        let ext = p.extended_evidence.unwrap();
        assert!(ext.contains("MinimumPasswordLength"), "{ext}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cut_short_page_is_asked_for_again_and_a_malformed_one_fails_clearly() {
    let standin = StandIn::start(Subscription::default()).await;
    standin
        .faults()
        .truncated
        .insert("/api/2.0/fo/compliance/posture/info/".into(), 1);
    let r = run(&standin, Options::default()).await;
    r.result.as_ref().unwrap();
    let ids: BTreeSet<i64> = r.postures().iter().map(|p| p.id).collect();
    assert_eq!(ids.len(), 200);
    assert_eq!(posture_calls(&standin).len(), 3);

    let standin = StandIn::start(Subscription::default()).await;
    standin
        .faults()
        .malformed
        .push("/api/2.0/fo/compliance/control/".into());
    let r = run(&standin, Options::default()).await;
    let e = r.result.unwrap_err();
    assert!(matches!(e, QualysError::Parse { .. }), "{e:?}");
    assert!(
        e.to_string().contains("/api/2.0/fo/compliance/control/"),
        "{e}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn no_permission_for_policy_compliance_is_an_error_that_says_so() {
    let standin = StandIn::start(Subscription::default()).await;
    standin
        .faults()
        .unauthorized_200
        .push("/api/2.0/fo/compliance/".into());
    let r = run(&standin, Options::default()).await;
    let e = r.result.unwrap_err();
    assert!(e.to_string().contains("Policy Compliance"), "{e}");
    assert!(r.batches.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn probes_call_each_endpoint_once() {
    let standin = StandIn::start(Subscription::default()).await;
    let conn = connection(&standin.url);
    let outcomes = tokio::task::spawn_blocking(move || {
        let client = Client::new(&conn, "Secret-123", 1);
        pc::probes(&client, &Options::default())
            .into_iter()
            .map(|(what, call)| (what, client.send(&call).map(|_| ())))
            .collect::<Vec<_>>()
    })
    .await
    .unwrap();
    assert_eq!(outcomes.len(), 3);
    for (what, o) in outcomes {
        assert!(o.is_ok(), "{what}: {o:?}");
    }
}
