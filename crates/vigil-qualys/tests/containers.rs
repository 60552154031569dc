//! Container images and their vulnerabilities against the stand-in: the
//! gateway JWT (fetched once, 401 explained), seed 002's image options,
//! pageNumber paging.

use vigil_model::qualys::{QualysBatch, QualysContainerImage, QualysImageVuln};
use vigil_qualys::{containers, Client, Options, QualysError};
mod family;
use family::{connection, run_family, Run};
use vigil_qualys_standin::{StandIn, Subscription};

impl Run {
    fn images(&self) -> Vec<QualysContainerImage> {
        self.pick(|b| match b {
            QualysBatch::Images(v) => Some(v),
            _ => None,
        })
    }
    fn vulns(&self) -> Vec<QualysImageVuln> {
        self.pick(|b| match b {
            QualysBatch::ImageVulns(v) => Some(v),
            _ => None,
        })
    }
    fn image_ids(&self) -> Vec<String> {
        self.images().into_iter().map(|i| i.image_id).collect()
    }
}

async fn run_with(standin: &StandIn, options: Options, password: &str) -> Run {
    let now = standin.subscription().now;
    run_family(standin, options, password, now, containers::ingest).await
}

async fn run(standin: &StandIn, options: Options) -> Run {
    run_with(standin, options, "Secret-123").await
}

fn window(days: u32) -> Options {
    Options {
        images_window_days: days,
        ..Options::default()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn defaults_ingest_images_of_the_last_90_days_and_their_severe_vulnerabilities() {
    let standin = StandIn::start(Subscription::default()).await;
    let r = run(&standin, Options::default()).await;
    let counts = r.result.as_ref().unwrap();
    assert_eq!(counts["images"], 1);
    assert_eq!(r.image_ids(), vec![vigil_qualys_standin::cs::image_id(1)]);
    let img = &r.images()[0];
    assert_eq!(
        img.sha.as_deref(),
        Some(vigil_qualys_standin::cs::image_sha(1).as_str())
    );
    assert_eq!(
        img.repo_tags,
        vec![
            "registry.example.com/shop/service-1:1.0",
            "registry.example.com/shop/service-1:latest"
        ]
    );
    assert_eq!(img.os.as_deref(), Some("Alpine Linux 3.19"));
    assert_eq!(img.containers, 1);
    assert!(img.created.unwrap() < img.updated.unwrap());

    // Image 1's vulnerabilities have severities 2, 3, 4: 3 and 4 are kept.
    let v = r.vulns();
    let sev: Vec<u8> = v.iter().filter_map(|v| v.severity).collect();
    assert_eq!(sev, vec![3, 4]);
    assert_eq!(v[0].qid, 370001);
    assert_eq!(v[0].image_id, img.image_id);
    assert_eq!(v[0].title.as_deref(), Some("OpenSSL vulnerability 1"));
    assert_eq!(v[0].cves, vec!["CVE-2024-1001", "CVE-2023-2001"]);
    assert!(v[0].first_found.unwrap() < v[0].last_found.unwrap());

    let calls = standin.requests_to("/csapi/v1.3/images");
    assert_eq!(calls[0].params["filter"], "updated:[now-90d ... now]");
    assert_eq!(calls[0].params["pageSize"], "100");
    assert_eq!(calls[0].params["pageNumber"], "1");
    assert_eq!(calls[0].method, "GET");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_images_window_widens_what_is_ingested() {
    let standin = StandIn::start(Subscription::default()).await;
    for (days, n) in [(90, 1), (180, 2), (275, 4), (365, 4)] {
        let r = run(&standin, window(days)).await;
        assert_eq!(r.result.unwrap()["images"], n, "{days} days");
    }
    let filters: Vec<String> = standin
        .requests_to("/csapi/v1.3/images")
        .into_iter()
        .filter_map(|r| r.params.get("filter").cloned())
        .collect();
    assert!(filters.contains(&"updated:[now-180d ... now]".to_string()));
}

#[tokio::test(flavor = "multi_thread")]
async fn finding_severities_choose_the_vulnerabilities() {
    let standin = StandIn::start(Subscription::default()).await;
    let r = run(
        &standin,
        Options {
            container_image_finding_severities: vec![2],
            ..Options::default()
        },
    )
    .await;
    r.result.as_ref().unwrap();
    let v = r.vulns();
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].severity, Some(2));
}

#[tokio::test(flavor = "multi_thread")]
async fn skip_unassociated_container_images_drops_images_no_container_runs() {
    let standin = StandIn::start(Subscription::default()).await;
    let all = run(&standin, window(365)).await;
    assert_eq!(all.images().len(), 4);
    let r = run(
        &standin,
        Options {
            skip_unassociated_container_images: true,
            ..window(365)
        },
    )
    .await;
    r.result.as_ref().unwrap();
    let ids = r.image_ids();
    assert_eq!(
        ids,
        vec![
            vigil_qualys_standin::cs::image_id(1),
            vigil_qualys_standin::cs::image_id(3)
        ]
    );
    assert!(r.images().iter().all(|i| i.containers > 0));
    // Their vulnerabilities only.
    assert!(r.vulns().iter().all(|v| ids.contains(&v.image_id)));
}

#[tokio::test(flavor = "multi_thread")]
async fn pages_are_read_by_page_number_and_the_jwt_is_fetched_once() {
    let standin = StandIn::start(Subscription::default()).await;
    let r = run(
        &standin,
        Options {
            page_size: 1,
            ..window(365)
        },
    )
    .await;
    r.result.as_ref().unwrap();
    assert_eq!(r.images().len(), 4);
    for b in &r.batches {
        assert_eq!(b.len(), 1);
    }
    let pages: Vec<String> = standin
        .requests_to("/csapi/v1.3/images")
        .into_iter()
        .filter(|r| r.path.ends_with("/images"))
        .map(|r| r.params["pageNumber"].clone())
        .collect();
    assert_eq!(pages, vec!["1", "2", "3", "4"]);
    assert_eq!(
        standin.requests_to("/csapi/").len(),
        8,
        "4 pages, 4 vuln calls"
    );
    assert_eq!(
        standin.requests_to("/auth").len(),
        1,
        "one JWT for every call"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_401_from_the_gateway_says_to_check_credentials_and_container_security() {
    let standin = StandIn::start(Subscription::default()).await;
    standin.faults().status.insert("/csapi/".into(), 401);
    let r = run(&standin, Options::default()).await;
    let e = r.result.unwrap_err();
    let text = e.to_string();
    assert!(text.contains("HTTP 401"), "{text}");
    assert!(text.contains("Container Security"), "{text}");
    assert!(text.contains("password"), "{text}");
    assert!(!e.retryable());
    // Retried once with a new token, then given up.
    assert_eq!(standin.requests_to("/auth").len(), 2);
    assert_eq!(standin.requests_to("/csapi/").len(), 2);

    // A wrong password fails at /auth, once.
    let standin = StandIn::start(Subscription::default()).await;
    let r = run_with(&standin, Options::default(), "wrong").await;
    let text = r.result.unwrap_err().to_string();
    assert!(
        text.contains("/auth") && text.contains("Container Security"),
        "{text}"
    );
    assert_eq!(standin.requests_to("/auth").len(), 1);
    assert!(standin.requests_to("/csapi/").is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn ingest_container_images_false_calls_nothing() {
    let standin = StandIn::start(Subscription::default()).await;
    let r = run(
        &standin,
        Options {
            ingest_container_images: false,
            ..Options::default()
        },
    )
    .await;
    assert!(r.result.unwrap().is_empty());
    assert!(standin.requests().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_json_is_a_clear_error() {
    let standin = StandIn::start(Subscription::default()).await;
    standin.faults().malformed.push("/csapi/".into());
    let r = run(&standin, Options::default()).await;
    let e = r.result.unwrap_err();
    assert!(matches!(e, QualysError::Parse { .. }), "{e:?}");
    assert!(e.to_string().contains("/csapi/v1.3/images"), "{e}");
}

#[tokio::test(flavor = "multi_thread")]
async fn probes_call_each_endpoint_once() {
    let standin = StandIn::start(Subscription::default()).await;
    let conn = connection(&standin.url);
    let outcomes = tokio::task::spawn_blocking(move || {
        let client = Client::new(&conn, "Secret-123", 1);
        containers::probes(&client, &Options::default())
            .into_iter()
            .map(|(what, call)| (what, client.send(&call).map(|_| ())))
            .collect::<Vec<_>>()
    })
    .await
    .unwrap();
    assert_eq!(outcomes.len(), 1);
    for (what, o) in outcomes {
        assert!(o.is_ok(), "{what}: {o:?}");
    }
}
