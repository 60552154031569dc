//! VM ingest against the stand-in: every option changes what is ingested
//! or sent; truncation and hasMoreRecords pagination; check().

mod common;

use common::*;
use std::collections::BTreeSet;
use vigil_model::qualys::DetectionType;
use vigil_qualys::check::check;
use vigil_qualys::QualysError;
use vigil_qualys_standin::StandIn;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn defaults_ingest_hosts_detections_and_the_kb_of_the_qids_seen() {
    let s = sub(60, 10);
    let standin = StandIn::start(s.clone()).await;
    let o = options();
    let (r, got) = run_vm(&standin, connection(&standin.url), o.clone()).await;
    let counts = r.unwrap();

    let fo = fo_hosts(&s, &o);
    let assets = asset_hosts(&s, &o);
    assert!(!fo.is_empty() && fo.len() < 60, "scan age selects a subset");
    let ids = got.host_ids();
    assert_eq!(ids, fo.union(&assets).copied().collect::<BTreeSet<_>>());
    assert_eq!(counts["hosts"], (fo.len() + assets.len()) as u64);

    let want = expected_detections(&s, &o);
    assert!(!want.is_empty());
    assert_eq!(got_detections(&got), want);
    assert_eq!(counts["detections"], want.len() as u64);
    for d in got.detections() {
        assert!([3, 4, 5].contains(&d.severity));
        assert_ne!(d.kind, DetectionType::Info);
        assert_eq!(d.results, None, "no detection_result_qids: no RESULTS");
    }

    let qids: BTreeSet<i64> = want.iter().map(|(_, q, _)| *q).collect();
    let kb = got.kb();
    assert_eq!(kb.iter().map(|k| k.qid).collect::<BTreeSet<_>>(), qids);
    let k = &kb[0];
    assert!(k.title.contains("& friends"), "{}", k.title);
    assert_eq!(k.cves.len(), 2);
    assert!(k.cvss_base.is_some() && k.cvss3_base.is_some());
    assert!(k.diagnosis.as_deref().unwrap().contains("<b>outdated</b>"));
    assert!(k.published.is_some() && k.modified.is_some());
    // Only the QIDs seen were asked for.
    let asked: BTreeSet<i64> = standin
        .requests_to("/api/2.0/fo/knowledge_base/vuln/")
        .iter()
        .flat_map(|r| {
            r.params["ids"]
                .split(',')
                .map(|q| q.parse::<i64>().unwrap())
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(asked, qids);

    // Host 2 is an EC2 instance: QPS gives MAC, gateway, the EC2 source;
    // the fo list its tags and scan dates; its detections carry the id.
    let hosts = got.hosts();
    let h2: Vec<_> = hosts.iter().filter(|h| h.id == 2).collect();
    assert_eq!(h2.len(), 2, "host 2 from both host APIs");
    let qps = h2.iter().find(|h| h.mac.is_some()).unwrap();
    assert_eq!(qps.gateway.as_deref(), Some("10.0.0.1"));
    let cloud = qps.cloud.as_ref().unwrap();
    assert_eq!(cloud.instance_id, "i-0aaa000000000002");
    assert_eq!(cloud.region.as_deref(), Some("us-east-1"));
    assert_eq!(cloud.account_id.as_deref(), Some("123456789012"));
    assert_eq!(qps.asset_id, Some(1_000_002));
    assert!(qps.modified.is_some() && qps.criticality.is_some());
    let fo2 = h2.iter().find(|h| h.mac.is_none()).unwrap();
    assert_eq!(fo2.tags, vec!["env:prod".to_string(), "team-2".into()]);
    assert_eq!(fo2.fqdn.as_deref(), Some("host-2.corp.example.com"));
    assert_eq!(fo2.tracking_method.as_deref(), Some("EC2"));
    assert_eq!(
        fo2.cloud.as_ref().unwrap().instance_id,
        "i-0aaa000000000002"
    );
    assert!(fo2.last_vuln_scan.is_some() && fo2.last_compliance_scan.is_some());
    let d2: Vec<_> = got
        .detections()
        .into_iter()
        .filter(|d| d.host_id == 2)
        .collect();
    assert!(!d2.is_empty());
    assert!(d2
        .iter()
        .all(|d| d.instance_id.as_deref() == Some("i-0aaa000000000002")));
    assert!(got
        .detections()
        .iter()
        .filter(|d| d.host_id > 2)
        .all(|d| d.instance_id.is_none()));
    let d = &d2[0];
    assert!(d.first_found.is_some() && d.last_found.is_some() && d.times_found.is_some());
    assert_eq!(d.protocol.as_deref(), Some("tcp"));

    // What was sent: Basic auth and the documented parameters.
    let r = &standin.requests_to("/api/2.0/fo/asset/host/vm/detection/")[0];
    assert_eq!(r.params["severities"], "3,4,5");
    assert_eq!(r.params["include_vuln_type"], "potential,confirmed");
    assert!(!r.params.contains_key("show_igs"));
    assert_eq!(r.params["show_results"], "0");
    assert_eq!(r.params["truncation_limit"], "100");
    assert_eq!(r.params["vm_scan_since"], "2025-05-25T12:00:00Z");
    assert_eq!(r.params["detection_updated_since"], "2025-05-25T12:00:00Z");
    let qps_req = &standin.requests_to("/qps/rest/2.0/search/am/hostasset")[0];
    assert!(qps_req.body.contains(
        "<Criteria field=\"updated\" operator=\"GREATER\">2025-03-03T12:00:00Z</Criteria>"
    ));
    assert!(qps_req.body.contains("<limitResults>100</limitResults>"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_scan_age_selects_hosts_and_their_detections() {
    let s = sub(60, 6);
    let standin = StandIn::start(s.clone()).await;
    let mut o = options();
    o.devices_modified_days = 1; // keep the QPS hosts out of the way
    let (_, seven) = run_vm(&standin, connection(&standin.url), o.clone()).await;
    o.host_scan_age_days = 14;
    o.findings_age_days = 30;
    let (_, fourteen) = run_vm(&standin, connection(&standin.url), o.clone()).await;
    let mut o7 = o.clone();
    o7.host_scan_age_days = 7;
    let a = fo_hosts(&s, &o7);
    let b = fo_hosts(&s, &o);
    assert!(a.len() < b.len());
    assert!(seven.host_ids().is_superset(&a));
    assert!(fourteen.host_ids().is_superset(&b));
    assert_eq!(got_detections(&fourteen), expected_detections(&s, &o));
    let hosts_with_dets = |c: &Collect| {
        c.detections()
            .iter()
            .map(|d| d.host_id)
            .collect::<BTreeSet<_>>()
    };
    assert!(hosts_with_dets(&fourteen).len() > hosts_with_dets(&seven).len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn findings_age_selects_detections() {
    let s = sub(40, 10);
    let standin = StandIn::start(s.clone()).await;
    let mut o = options();
    let (_, seven) = run_vm(&standin, connection(&standin.url), o.clone()).await;
    assert_eq!(got_detections(&seven), expected_detections(&s, &o));
    o.findings_age_days = 30;
    let (_, thirty) = run_vm(&standin, connection(&standin.url), o.clone()).await;
    assert_eq!(got_detections(&thirty), expected_detections(&s, &o));
    assert!(thirty.detections().len() > seven.detections().len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn severities_and_types_including_info() {
    let s = sub(40, 10);
    let standin = StandIn::start(s.clone()).await;
    let mut o = options();
    o.findings_age_days = 30;
    o.host_finding_severities = vec![5];
    let (_, five) = run_vm(&standin, connection(&standin.url), o.clone()).await;
    assert!(!five.detections().is_empty());
    assert!(five.detections().iter().all(|d| d.severity == 5));
    assert_eq!(got_detections(&five), expected_detections(&s, &o));
    let sent = standin.requests_to("/api/2.0/fo/asset/host/vm/detection/");
    assert_eq!(sent.last().unwrap().params["severities"], "5");

    o.host_finding_severities = vec![1, 2, 3, 4, 5];
    o.host_finding_types = vec![DetectionType::Info];
    let (_, info) = run_vm(&standin, connection(&standin.url), o.clone()).await;
    assert!(!info.detections().is_empty());
    assert!(info
        .detections()
        .iter()
        .all(|d| d.kind == DetectionType::Info));
    assert_eq!(got_detections(&info), expected_detections(&s, &o));
    let sent = standin.requests_to("/api/2.0/fo/asset/host/vm/detection/");
    let last = sent.last().unwrap();
    assert_eq!(last.params["show_igs"], "1");
    assert!(!last.params.contains_key("include_vuln_type"));

    o.host_finding_types = vec![DetectionType::Confirmed];
    let (_, confirmed) = run_vm(&standin, connection(&standin.url), o.clone()).await;
    assert!(confirmed
        .detections()
        .iter()
        .all(|d| d.kind == DetectionType::Confirmed));
    assert_eq!(got_detections(&confirmed), expected_detections(&s, &o));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn detection_result_qids_keep_300_bytes_of_those_results_only() {
    let s = sub(30, 10);
    let standin = StandIn::start(s.clone()).await;
    let mut o = options();
    let (_, plain) = run_vm(&standin, connection(&standin.url), o.clone()).await;
    let qid = plain.detections()[0].qid;
    o.detection_result_qids = vec![qid];
    let (_, with) = run_vm(&standin, connection(&standin.url), o.clone()).await;
    let sent = standin.requests_to("/api/2.0/fo/asset/host/vm/detection/");
    assert_eq!(sent.last().unwrap().params["show_results"], "1");
    let mut seen = 0;
    for d in with.detections() {
        if d.qid == qid {
            let r = d.results.as_deref().unwrap();
            assert_eq!(r.len(), 300, "cut to 300 bytes");
            assert!(r.starts_with(&format!("QID {qid} host {}", d.host_id)));
            seen += 1;
        } else {
            assert_eq!(d.results, None);
        }
    }
    assert!(seen > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn include_only_asset_tags_selects_tagged_hosts() {
    let s = sub(40, 6);
    let standin = StandIn::start(s.clone()).await;
    let mut o = options();
    o.include_only_asset_tags = vec!["env:prod".into()];
    let (r, got) = run_vm(&standin, connection(&standin.url), o.clone()).await;
    r.unwrap();
    let ids = got.host_ids();
    assert!(!ids.is_empty());
    assert!(ids.iter().all(|i| i % 2 == 0), "{ids:?}");
    assert_eq!(got_detections(&got), expected_detections(&s, &o));
    assert!(got.detections().iter().all(|d| d.host_id % 2 == 0));
    for path in [
        "/api/2.0/fo/asset/host/",
        "/api/2.0/fo/asset/host/vm/detection/",
    ] {
        let r = &standin.requests_to(path)[0];
        assert_eq!(r.params["use_tags"], "1");
        assert_eq!(r.params["tag_set_by"], "name");
        assert_eq!(r.params["tag_include_selector"], "any");
        assert_eq!(r.params["tag_set_include"], "env:prod");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devices_modified_days_selects_host_assets() {
    let s = sub(150, 1);
    let standin = StandIn::start(s.clone()).await;
    let mut o = options();
    o.host_scan_age_days = 1; // keep the fo list small
    let (_, ninety) = run_vm(&standin, connection(&standin.url), o.clone()).await;
    let qps = |c: &Collect| {
        c.hosts()
            .iter()
            .filter(|h| h.mac.is_some())
            .map(|h| h.id)
            .collect::<BTreeSet<_>>()
    };
    assert_eq!(qps(&ninety), asset_hosts(&s, &o));
    o.devices_modified_days = 30;
    let (_, thirty) = run_vm(&standin, connection(&standin.url), o.clone()).await;
    assert_eq!(qps(&thirty), asset_hosts(&s, &o));
    assert!(qps(&thirty).len() < qps(&ninety).len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn page_size_sets_the_pages_followed() {
    let s = sub(60, 4);
    let standin = StandIn::start(s.clone()).await;
    let mut o = options();
    o.page_size = 5;
    o.parallel_requests = 1;
    o.findings_age_days = 30;
    let (r, got) = run_vm(&standin, connection(&standin.url), o.clone()).await;
    r.unwrap();
    let fo = fo_hosts(&s, &o);
    let pages = standin.requests_to("/api/2.0/fo/asset/host/");
    let host_pages: Vec<_> = pages
        .iter()
        .filter(|r| !r.path.contains("detection"))
        .collect();
    assert_eq!(host_pages.len(), fo.len().div_ceil(5));
    // Pages after the first follow the WARNING URL's id_min.
    assert!(!host_pages[0].params.contains_key("id_min"));
    assert!(host_pages[1..]
        .iter()
        .all(|r| r.params.contains_key("id_min")));
    assert!(host_pages
        .iter()
        .all(|r| r.params["truncation_limit"] == "5"));
    let fo_got: BTreeSet<i64> = got
        .hosts()
        .iter()
        .filter(|h| h.mac.is_none())
        .map(|h| h.id)
        .collect();
    assert_eq!(fo_got, fo);
    assert_eq!(got_detections(&got), expected_detections(&s, &o));
    assert!(got.max_batch() <= 5);
    // QPS: hasMoreRecords/lastId pagination with limitResults 5.
    let qps = standin.requests_to("/qps/rest/2.0/search/am/hostasset");
    assert_eq!(qps.len(), asset_hosts(&s, &o).len().div_ceil(5));
    assert!(qps[1]
        .body
        .contains("<Criteria field=\"id\" operator=\"GREATER\">"));
    let hosts_from_qps = got.hosts().iter().filter(|h| h.mac.is_some()).count();
    assert_eq!(hosts_from_qps, asset_hosts(&s, &o).len());

    // A larger page: fewer requests.
    let before = standin
        .requests_to("/api/2.0/fo/asset/host/vm/detection/")
        .len();
    o.page_size = 1000;
    let (_, _) = run_vm(&standin, connection(&standin.url), o.clone()).await;
    let after = standin
        .requests_to("/api/2.0/fo/asset/host/vm/detection/")
        .len();
    assert_eq!(after - before, 1);
    assert!(before > 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_requests_split_detections_by_host_id_ranges() {
    let s = sub(90, 5);
    let standin = StandIn::start(s.clone()).await;
    let mut o = options();
    o.findings_age_days = 30;
    o.host_scan_age_days = 30;
    o.parallel_requests = 1;
    let (_, one) = run_vm(&standin, connection(&standin.url), o.clone()).await;
    let sent = standin.requests_to("/api/2.0/fo/asset/host/vm/detection/");
    assert_eq!(sent.len(), 1);
    assert!(!sent[0].params.contains_key("id_max"));
    o.parallel_requests = 3;
    let (_, three) = run_vm(&standin, connection(&standin.url), o.clone()).await;
    let sent = standin.requests_to("/api/2.0/fo/asset/host/vm/detection/");
    let ranges: BTreeSet<(Option<String>, Option<String>)> = sent[1..]
        .iter()
        .map(|r| {
            (
                r.params.get("id_min").cloned(),
                r.params.get("id_max").cloned(),
            )
        })
        .collect();
    assert_eq!(ranges.len(), 3, "{ranges:?}");
    assert!(ranges.contains(&(None, Some("30".into()))), "{ranges:?}");
    assert_eq!(got_detections(&one), got_detections(&three));
    assert_eq!(got_detections(&three), expected_detections(&s, &o));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ars_options_select_hosts_and_show_scores() {
    let s = sub(80, 1);
    let standin = StandIn::start(s.clone()).await;
    let mut o = options();
    o.host_scan_age_days = 30;
    o.devices_modified_days = 1;
    let fo = |c: &Collect| {
        c.hosts()
            .into_iter()
            .filter(|h| h.mac.is_none())
            .collect::<Vec<_>>()
    };
    let (_, plain) = run_vm(&standin, connection(&standin.url), o.clone()).await;
    assert!(fo(&plain)
        .iter()
        .all(|h| h.ars.is_none() && h.ars_factors.is_none()));
    o.host.show_ars = true;
    o.host.show_ars_factors = true;
    o.host.ars_min = Some(300);
    o.host.ars_max = Some(700);
    let (_, ars) = run_vm(&standin, connection(&standin.url), o.clone()).await;
    let hosts = fo(&ars);
    assert!(!hosts.is_empty());
    assert_eq!(
        hosts.iter().map(|h| h.id).collect::<BTreeSet<_>>(),
        fo_hosts(&s, &o)
    );
    assert!(hosts.len() < fo(&plain).len());
    for h in &hosts {
        let a = h.ars.unwrap();
        assert!((300..=700).contains(&a), "{a}");
        assert!(h.ars_factors.as_deref().unwrap().contains("ARS_FORMULA"));
    }
    let r = standin.requests_to("/api/2.0/fo/asset/host/");
    let r = r.iter().rfind(|r| !r.path.contains("detection")).unwrap();
    assert_eq!(r.params["show_ars"], "1");
    assert_eq!(r.params["ars_min"], "300");
    assert_eq!(r.params["ars_max"], "700");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_version_prefixes_are_configurable_and_wrong_ones_say_so() {
    let mut s = sub(10, 3);
    s.fo_version = "3.0".into();
    s.am_version = "3.0".into();
    let standin = StandIn::start(s.clone()).await;
    let (r, _) = run_vm(&standin, connection(&standin.url), options()).await;
    let e = r.unwrap_err();
    assert!(matches!(e, QualysError::Http { status: 404, .. }), "{e:?}");
    assert!(e.to_string().contains("API version prefixes"), "{e}");
    let mut conn = connection(&standin.url);
    conn.api_versions.fo = "3.0".into();
    conn.api_versions.am = "3.0".into();
    let (r, got) = run_vm(&standin, conn, options()).await;
    r.unwrap();
    assert!(!got.hosts().is_empty());
    assert!(!standin.requests_to("/api/3.0/fo/asset/host/").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_stay_within_the_page_size_on_a_large_subscription() {
    let s = sub(20_000, 5);
    let standin = StandIn::start(s.clone()).await;
    let mut o = options();
    o.page_size = 500;
    o.host_scan_age_days = 30;
    o.findings_age_days = 30;
    o.host_finding_severities = vec![1, 2, 3, 4, 5];
    o.host_finding_types = vec![
        DetectionType::Info,
        DetectionType::Potential,
        DetectionType::Confirmed,
    ];
    let (r, got) = run_vm(&standin, connection(&standin.url), o.clone()).await;
    let counts = r.unwrap();
    // Every status, type and severity, all within 30 days: all of them.
    assert_eq!(counts["detections"], 20_000 * 5);
    assert_eq!(counts["hosts"] as usize, got.hosts().len());
    assert!(got.max_batch() <= 500, "{}", got.max_batch());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_lists_every_endpoint_and_the_fix() {
    let standin = StandIn::start(sub(5, 2)).await;
    let url = standin.url.clone();
    let o = options();
    let run = |url: String, o: vigil_qualys::Options| {
        tokio::task::spawn_blocking(move || {
            let c = client(&connection(&url), &o);
            check(&c, &o)
        })
    };
    let probes = run(url.clone(), o.clone()).await.unwrap();
    assert!(probes.len() >= 4);
    for p in &probes {
        assert_eq!(p.problem, None, "{p:?}");
    }
    assert!(probes
        .iter()
        .any(|p| p.endpoint == "/api/2.0/fo/asset/host/"));
    assert!(probes
        .iter()
        .any(|p| p.endpoint == "/qps/rest/2.0/search/am/hostasset"));
    assert!(probes
        .iter()
        .any(|p| p.endpoint == "/api/2.0/fo/asset/host/vm/detection/"));
    assert!(probes
        .iter()
        .any(|p| p.endpoint == "/api/2.0/fo/knowledge_base/vuln/"));

    {
        let mut f = standin.faults();
        f.status.insert("/api/2.0/fo/asset/host/".into(), 403);
        f.status.insert("/api/2.0/fo/knowledge_base/".into(), 409);
    }
    let probes = run(url, o).await.unwrap();
    let hosts = probes
        .iter()
        .find(|p| p.endpoint == "/api/2.0/fo/asset/host/")
        .unwrap();
    assert!(
        hosts.problem.as_deref().unwrap().contains("Read Asset"),
        "{hosts:?}"
    );
    let kb = probes
        .iter()
        .find(|p| p.endpoint == "/api/2.0/fo/knowledge_base/vuln/")
        .unwrap();
    assert!(
        kb.problem.as_deref().unwrap().contains("KnowledgeBase"),
        "{kb:?}"
    );
    let qps = probes
        .iter()
        .find(|p| p.endpoint == "/qps/rest/2.0/search/am/hostasset")
        .unwrap();
    assert_eq!(qps.problem, None);
}
