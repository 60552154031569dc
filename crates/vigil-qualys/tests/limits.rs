//! Limits and errors against the stand-in: 409 1960/1965 and 429 waited
//! and retried; 400/401/403/404 never retried; errors in 200 bodies;
//! malformed, truncated and hung answers; retries running out; families
//! failing apart in a run.

mod common;

use common::*;
use vigil_qualys::{ingest, QualysError};
use vigil_qualys_standin::StandIn;

const HOSTS: &str = "/api/2.0/fo/asset/host/";
const QPS: &str = "/qps/rest/2.0/search/am/hostasset";
const KB: &str = "/api/2.0/fo/knowledge_base/vuln/";
const DETECTIONS: &str = "/api/2.0/fo/asset/host/vm/detection/";

fn sequential() -> vigil_qualys::Options {
    let mut o = options();
    o.parallel_requests = 1;
    o
}

fn host_list_requests(s: &StandIn) -> usize {
    s.requests_to(HOSTS)
        .iter()
        .filter(|r| !r.path.contains("detection"))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limit_answers_are_waited_out_and_retried() {
    let s = sub(10, 3);
    let standin = StandIn::start(s.clone()).await;
    let (r, clean) = run_vm(&standin, connection(&standin.url), sequential()).await;
    r.unwrap();
    let clean_calls = standin.requests().len();

    let standin = StandIn::start(s.clone()).await;
    {
        let mut f = standin.faults();
        f.concurrency_409 = 1;
        f.rate_409 = 1;
        f.too_many_429 = 1;
        f.wait_sec = 2;
    }
    let started = std::time::Instant::now();
    let (r, got) = run_vm(&standin, connection(&standin.url), sequential()).await;
    r.unwrap();
    // Three limit answers, each retried (waits scaled by 0.001).
    assert_eq!(standin.requests().len(), clean_calls + 3);
    assert_eq!(got_detections(&got), got_detections(&clean));
    assert_eq!(got.host_ids(), clean.host_ids());
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limit_waits_follow_the_headers() {
    let standin = StandIn::start(sub(3, 1)).await;
    {
        let mut f = standin.faults();
        f.concurrency_409 = 1;
        f.wait_sec = 2;
    }
    let conn = connection(&standin.url);
    let o = sequential();
    // Scale 0.5: the 2 s of X-RateLimit-ToWait-Sec become 1 s.
    let elapsed = tokio::task::spawn_blocking(move || {
        let c = vigil_qualys::Client::new(&conn, "Secret-123", 5).with_wait_scale(0.5);
        let started = std::time::Instant::now();
        vigil_qualys::vm::ingest(&c, &o, now(), &Collect::default()).unwrap();
        started.elapsed()
    })
    .await
    .unwrap();
    assert!(
        elapsed >= std::time::Duration::from_millis(950),
        "{elapsed:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_errors_are_never_retried() {
    for status in [400u16, 401, 403, 404] {
        let standin = StandIn::start(sub(5, 2)).await;
        standin.faults().status.insert(QPS.into(), status);
        let (r, _) = run_vm(&standin, connection(&standin.url), sequential()).await;
        let e = r.unwrap_err();
        assert!(
            matches!(&e, QualysError::Http { status: s, .. } if *s == status),
            "{status}: {e:?}"
        );
        assert_eq!(standin.requests_to(QPS).len(), 1, "{status} retried");
        // The family stops at once: nothing else was called.
        assert_eq!(standin.requests().len(), 1, "{status}");
        let text = e.to_string();
        let fix = match status {
            400 => "invalid",
            401 => "user name and password",
            403 => "Read Asset",
            _ => "API server URL",
        };
        assert!(text.contains(fix), "{status}: {text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_password_is_a_401_with_the_fix() {
    let standin = StandIn::start(sub(5, 2)).await;
    let o = sequential();
    let conn = connection(&standin.url);
    let r = tokio::task::spawn_blocking(move || {
        let c = vigil_qualys::Client::new(&conn, "wrong", 5).with_wait_scale(0.001);
        vigil_qualys::vm::ingest(&c, &o, now(), &Collect::default())
    })
    .await
    .unwrap();
    let e = r.unwrap_err();
    assert!(matches!(e, QualysError::Http { status: 401, .. }), "{e:?}");
    assert!(e.to_string().contains("check the user name and password"));
    assert_eq!(standin.requests().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_in_200_bodies_are_errors() {
    // QPS: <responseCode>UNAUTHORIZED</responseCode> in a 200.
    let standin = StandIn::start(sub(5, 2)).await;
    standin.faults().unauthorized_200.push(QPS.into());
    let (r, got) = run_vm(&standin, connection(&standin.url), sequential()).await;
    let e = r.unwrap_err();
    assert!(
        matches!(&e, QualysError::Api { code, .. } if code == "UNAUTHORIZED"),
        "{e:?}"
    );
    assert!(e.to_string().contains("API access"), "{e}");
    assert_eq!(standin.requests_to(QPS).len(), 1, "not retried");
    assert!(got.hosts().is_empty());

    // fo: SIMPLE_RETURN with a CODE in a 200.
    let standin = StandIn::start(sub(5, 2)).await;
    standin.faults().unauthorized_200.push(KB.into());
    let (r, _) = run_vm(&standin, connection(&standin.url), sequential()).await;
    let e = r.unwrap_err();
    assert!(
        matches!(&e, QualysError::Api { code, endpoint, .. } if code == "2000" && endpoint == KB),
        "{e:?}"
    );
    assert_eq!(standin.requests_to(KB).len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_xml_is_a_parse_error_naming_the_endpoint() {
    let standin = StandIn::start(sub(5, 2)).await;
    standin.faults().malformed.push(QPS.into());
    let mut o = sequential();
    o.max_retries = 2;
    let (r, _) = run_vm(&standin, connection(&standin.url), o).await;
    let e = r.unwrap_err();
    assert!(
        matches!(&e, QualysError::Parse { endpoint, .. } if endpoint == QPS),
        "{e:?}"
    );
    assert!(e.to_string().starts_with(QPS), "{e}");
    assert_eq!(standin.requests_to(QPS).len(), 2, "retried, then given up");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncated_xml_is_fetched_again() {
    let s = sub(30, 4);
    let standin = StandIn::start(s.clone()).await;
    let (_, clean) = run_vm(&standin, connection(&standin.url), sequential()).await;
    let standin = StandIn::start(s.clone()).await;
    standin.faults().truncated.insert(DETECTIONS.into(), 1);
    let (r, got) = run_vm(&standin, connection(&standin.url), sequential()).await;
    let counts = r.unwrap();
    assert_eq!(standin.requests_to(DETECTIONS).len(), 2);
    assert_eq!(got_detections(&got), got_detections(&clean));
    // Counts come from the whole answer, not the cut one.
    assert_eq!(counts["detections"], got_detections(&clean).len() as u64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_call_times_out() {
    let standin = StandIn::start(sub(5, 2)).await;
    standin.faults().hang.push(QPS.into());
    let mut conn = connection(&standin.url);
    conn.timeout_seconds = 1;
    let mut o = sequential();
    o.max_retries = 2;
    let started = std::time::Instant::now();
    let (r, _) = run_vm(&standin, conn, o).await;
    let e = r.unwrap_err();
    assert!(
        matches!(&e, QualysError::Timeout { endpoint, seconds: 1 } if endpoint == QPS),
        "{e:?}"
    );
    assert!(e.to_string().contains("timeout_seconds"));
    assert_eq!(standin.requests_to(QPS).len(), 2);
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_retries_bounds_the_attempts() {
    let standin = StandIn::start(sub(5, 2)).await;
    standin.faults().concurrency_409 = 10;
    let mut o = sequential();
    o.max_retries = 3;
    let (r, _) = run_vm(&standin, connection(&standin.url), o.clone()).await;
    let e = r.unwrap_err();
    assert!(
        matches!(&e, QualysError::Http { status: 409, code: Some(c), .. } if c == "1965"),
        "{e:?}"
    );
    assert!(e.to_string().contains("parallel requests"), "{e}");
    assert_eq!(standin.requests().len(), 3);

    // Seven limit answers left: 8 attempts get through.
    o.max_retries = 8;
    let (r, _) = run_vm(&standin, connection(&standin.url), o).await;
    r.unwrap();
    assert_eq!(standin.faults().concurrency_409, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_family_is_reported_and_the_others_go_on() {
    let standin = StandIn::start(sub(5, 2)).await;
    standin.faults().status.insert(HOSTS.into(), 403);
    let mut o = options();
    o.ingest_policy_compliance = true;
    let conn = connection(&standin.url);
    let report = tokio::task::spawn_blocking(move || {
        let c = client(&conn, &o);
        ingest::run(&c, &o, now(), &Collect::default())
    })
    .await
    .unwrap()
    .unwrap();
    assert_eq!(report.errors.len(), 1);
    assert_eq!(report.errors[0].0, "vm");
    assert!(report.errors[0].1.to_string().contains("Read Asset"));
    assert_eq!(host_list_requests(&standin), 1, "403 not retried");

    // Every family failing fails the run with the first error.
    let standin = StandIn::start(sub(5, 2)).await;
    standin.faults().status.insert(HOSTS.into(), 403);
    let o = options();
    let conn = connection(&standin.url);
    let r = tokio::task::spawn_blocking(move || {
        let c = client(&conn, &o);
        ingest::run(&c, &o, now(), &Collect::default())
    })
    .await
    .unwrap();
    let e = r.unwrap_err();
    assert!(matches!(e, QualysError::Http { status: 403, .. }), "{e:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_counts_every_kind_it_handed_on() {
    let standin = StandIn::start(sub(20, 5)).await;
    let o = options();
    let conn = connection(&standin.url);
    let (r, sink) = tokio::task::spawn_blocking(move || {
        let sink = Collect::default();
        let c = client(&conn, &o);
        (ingest::run(&c, &o, now(), &sink), sink)
    })
    .await
    .unwrap();
    let report = r.unwrap();
    assert!(report.errors.is_empty());
    assert_eq!(report.counts["hosts"] as usize, sink.hosts().len());
    assert_eq!(
        report.counts["detections"] as usize,
        sink.detections().len()
    );
    assert_eq!(report.counts["kb"] as usize, sink.kb().len());
    assert!(report.counts["kb"] > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_sink_stops_the_ingest() {
    struct Refuse;
    impl vigil_qualys::Sink for Refuse {
        fn put(&self, _: vigil_model::qualys::QualysBatch) -> Result<(), String> {
            Err("database is read-only".into())
        }
    }
    let standin = StandIn::start(sub(5, 2)).await;
    let o = sequential();
    let conn = connection(&standin.url);
    let r = tokio::task::spawn_blocking(move || {
        let c = client(&conn, &o);
        vigil_qualys::vm::ingest(&c, &o, now(), &Refuse)
    })
    .await
    .unwrap();
    let e = r.unwrap_err();
    assert_eq!(e, QualysError::Stopped("database is read-only".into()));
    assert_eq!(standin.requests().len(), 1, "stopped, not retried");
}
