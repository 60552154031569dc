//! S3 delivery end to end through `vigil serve` (issue 7, "Done when"):
//! seed 000's curl sequence against the server, Qualys data from the
//! stand-in, objects in a moto bucket in the seed's layout and shape; a
//! `kill -9` in the middle of delivery; a network outage (a proxy between
//! Vigil and moto that goes down) across a restart; a deleted bucket that
//! puts the integration in error and e-mails once through a real SMTP
//! server.

mod common;

use common::{call, run_to_end, Node};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use vigil_qualys_standin::{StandIn, Subscription};

const ADMIN_PASSWORD: &str = "correct horse battery staple";
const SECRET_KEY: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
const ROLE: &str = "arn:aws:iam::123456789012:role/vigil-delivery";

/// The services scripts/test starts.
struct Services {
    moto: String,
    smtp: String,
    maildir: PathBuf,
}

fn services() -> Option<Services> {
    let (Ok(moto), Ok(smtp), Ok(maildir)) = (
        std::env::var("VIGIL_TEST_MOTO_URL"),
        std::env::var("VIGIL_TEST_SMTP_URL"),
        std::env::var("VIGIL_TEST_MAILDIR"),
    ) else {
        eprintln!("VIGIL_TEST_MOTO_URL, VIGIL_TEST_SMTP_URL or VIGIL_TEST_MAILDIR is not set: delivery tests skipped (scripts/test sets them)");
        return None;
    };
    Some(Services {
        moto,
        smtp,
        maildir: PathBuf::from(maildir),
    })
}

/// A stand-in on its own runtime (kept alive with it).
struct Qualys {
    standin: StandIn,
    _rt: tokio::runtime::Runtime,
    sub: Subscription,
}

fn standin(sub: Subscription) -> Qualys {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let standin = rt.block_on(StandIn::start(sub.clone()));
    Qualys {
        standin,
        _rt: rt,
        sub,
    }
}

// --- moto's S3, as the customer sees their bucket ----------------------------

struct Bucket {
    client: aws_sdk_s3::Client,
    rt: tokio::runtime::Runtime,
    name: String,
}

impl Bucket {
    fn create(moto: &str, prefix: &str) -> Bucket {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let client = rt.block_on(async {
            let opts = vigil_aws::AwsOptions {
                endpoint_url: Some(moto.to_string()),
                access_keys: Some(vigil_aws::AccessKeys {
                    access_key_id: "testing".into(),
                    secret_access_key: "testing".into(),
                }),
                ..Default::default()
            };
            let sdk = vigil_aws::sdk_config(&opts).await.expect("sdk config");
            let conf = aws_sdk_s3::config::Builder::from(&sdk)
                .force_path_style(true)
                .build();
            aws_sdk_s3::Client::from_conf(conf)
        });
        let name = format!("{prefix}-{}", &uuid_like().to_lowercase()[..12]);
        let bucket = Bucket { client, rt, name };
        bucket.make();
        bucket
    }

    fn make(&self) {
        self.rt
            .block_on(self.client.create_bucket().bucket(&self.name).send())
            .expect("create the bucket");
    }

    /// Deletes every object, then the bucket.
    fn destroy(&self) {
        for key in self.keys("") {
            self.rt
                .block_on(
                    self.client
                        .delete_object()
                        .bucket(&self.name)
                        .key(&key)
                        .send(),
                )
                .expect("delete an object");
        }
        self.rt
            .block_on(self.client.delete_bucket().bucket(&self.name).send())
            .expect("delete the bucket");
    }

    fn keys(&self, prefix: &str) -> Vec<String> {
        let mut keys = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut req = self
                .client
                .list_objects_v2()
                .bucket(&self.name)
                .prefix(prefix);
            if let Some(t) = &token {
                req = req.continuation_token(t);
            }
            let Ok(page) = self.rt.block_on(req.send()) else {
                return keys;
            };
            keys.extend(
                page.contents()
                    .iter()
                    .filter_map(|o| o.key().map(str::to_string)),
            );
            match page.next_continuation_token() {
                Some(t) if page.is_truncated() == Some(true) => token = Some(t.to_string()),
                _ => return keys,
            }
        }
    }

    fn get(&self, key: &str) -> Vec<u8> {
        let out = self
            .rt
            .block_on(self.client.get_object().bucket(&self.name).key(key).send())
            .expect("get the object");
        self.rt
            .block_on(out.body.collect())
            .expect("the body")
            .into_bytes()
            .to_vec()
    }

    /// The JSON lines of an object (gunzipped when its key ends in `.gz`).
    fn lines(&self, key: &str) -> Vec<Value> {
        let raw = self.get(key);
        let text = if key.ends_with(".gz") {
            let mut s = String::new();
            flate2::read::GzDecoder::new(raw.as_slice())
                .read_to_string(&mut s)
                .expect("gzip");
            s
        } else {
            String::from_utf8(raw).expect("utf-8")
        };
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{key}: {e}: {l}")))
            .collect()
    }
}

fn uuid_like() -> String {
    format!(
        "{:x}{:x}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default()
    )
}

// --- a TCP proxy between Vigil and moto that can go down ---------------------

struct Proxy {
    port: u16,
    up: Arc<AtomicBool>,
}

impl Proxy {
    fn start(moto: &str) -> Proxy {
        let target = moto
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string();
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a proxy");
        let port = listener.local_addr().expect("an address").port();
        let up = Arc::new(AtomicBool::new(true));
        let flag = up.clone();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                if !flag.load(Ordering::SeqCst) {
                    // The network is down: the connection is cut at once.
                    let _ = client.shutdown(std::net::Shutdown::Both);
                    continue;
                }
                let Ok(server) = TcpStream::connect(&target) else {
                    continue;
                };
                let flag = flag.clone();
                pipe(client, server, flag);
            }
        });
        Proxy { port, up }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn set_up(&self, up: bool) {
        self.up.store(up, Ordering::SeqCst);
    }
}

/// Copies both ways until either side closes or the network goes down.
fn pipe(a: TcpStream, b: TcpStream, up: Arc<AtomicBool>) {
    for (mut from, mut to) in [
        (a.try_clone().expect("clone"), b.try_clone().expect("clone")),
        (b, a),
    ] {
        let up = up.clone();
        std::thread::spawn(move || {
            let _ = from.set_read_timeout(Some(Duration::from_millis(200)));
            let mut buf = [0u8; 16384];
            loop {
                if !up.load(Ordering::SeqCst) {
                    break;
                }
                match from.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => {
                        if std::io::Write::write_all(&mut to, &buf[..n]).is_err() {
                            break;
                        }
                    }
                    Err(e)
                        if matches!(
                            e.kind(),
                            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                        ) => {}
                    Err(_) => break,
                }
            }
            let _ = to.shutdown(std::net::Shutdown::Both);
            let _ = from.shutdown(std::net::Shutdown::Both);
        });
    }
}

// --- vigil serve -------------------------------------------------------------

fn serve(data: &Path, aws_endpoint: &str, smtp: &str, extra: &[&str]) -> Node {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(data.join("serve.log"))
        .expect("a log file");
    Node::start(
        Command::new(env!("CARGO_BIN_EXE_vigil"))
            .arg("--data-dir")
            .arg(data)
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--worker-tick-seconds",
                "1",
                "--run-lease-seconds",
                "3",
                "--delivery-tick-ms",
                "200",
                "--delivery-aws-endpoint",
                aws_endpoint,
                "--smtp-url",
                smtp,
                "--smtp-from",
                "vigil-alerts@vigil.test",
            ])
            .args(extra)
            .env("HOME", data)
            .env_remove("VIGIL_DATABASE_URL")
            .env("VIGIL_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("VIGIL_SECRET_KEY", SECRET_KEY)
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_REGION", "us-east-1")
            .env_remove("AWS_PROFILE")
            .stderr(log),
    )
}

/// Creates a Qualys connector on the stand-in; returns its id.
fn qualys_connector(node: &Node, token: &str, q: &Qualys) -> String {
    let body = json!({
        "name": format!("qualys-{}", uuid_like()),
        "type": "qualys",
        "qualys": {
            "api_url": q.standin.url,
            "gateway_url": q.standin.url,
            "username": q.sub.username,
            "password": q.sub.password,
            "account_name": "Acme",
            "timeout_seconds": 20,
            "options": {
                "host_scan_age_days": 3650, "findings_age_days": 3650, "devices_modified_days": 3650,
                "host_finding_severities": [1, 2, 3, 4, 5],
                "host_finding_types": ["Potential", "Confirmed", "Info"],
                "ingest_web_app_scans": false, "ingest_container_images": false
            }
        }
    });
    let (status, created) = call(
        "POST",
        &format!("{}/api/v1/connectors", node.url),
        Some(token),
        Some(&body),
    );
    assert_eq!(status, 201, "{created}");
    created["id"].as_str().expect("an id").to_string()
}

fn wait_for<T>(limit: Duration, what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = probe() {
            return v;
        }
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn integration(node: &Node, token: &str, kind: &str, id: i64) -> Value {
    let (status, got) = call(
        "GET",
        &format!("{}/partner-integration/aws/s3/{id}/{kind}", node.url),
        Some(token),
        None,
    );
    assert_eq!(status, 200, "{got}");
    got
}

/// Registers and validates a VM integration; returns its id.
fn vm_integration(node: &Node, token: &str, bucket: &str, extra: Value) -> i64 {
    let mut body = json!({
        "bucketName": bucket,
        "bucketRegion": "us-east-1",
        "name": format!("vm-{}", &uuid_like()[..10]),
        "roleArn": ROLE,
        "minSeverity": 1,
        "baseCategory": "IG",
    });
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            b.insert(k.clone(), v.clone());
        }
    }
    let (status, created) = call(
        "POST",
        &format!("{}/partner-integration/aws/s3/vm", node.url),
        Some(token),
        Some(&body),
    );
    assert_eq!(status, 200, "{created}");
    let id = created["integrationId"].as_i64().expect("an integrationId");
    let (status, validated) = call(
        "PATCH",
        &format!("{}/partner-integration/aws/s3/{id}/vm/validate", node.url),
        Some(token),
        None,
    );
    assert_eq!(status, 200, "{validated}");
    id
}

/// Every host line delivered under `prefix`, by host id, with how many
/// times each host was delivered across objects.
fn hosts_delivered(bucket: &Bucket, prefix: &str) -> BTreeMap<i64, u32> {
    let mut seen = BTreeMap::new();
    for key in bucket.keys(prefix) {
        for line in bucket.lines(&key) {
            let host = line["hostId"]
                .as_i64()
                .unwrap_or_else(|| panic!("{key}: no hostId: {line}"));
            *seen.entry(host).or_insert(0) += 1;
        }
    }
    seen
}

fn today() -> String {
    chrono::Utc::now().format("%Y-%m-%d").to_string()
}

// --- the tests ----------------------------------------------------------------

/// Seed 000's sequence: auth → register → validate → (data) → update → get →
/// delete, and the CIPS policy and filter, with objects in the seed's layout
/// and shape.
#[test]
fn seed_000_sequence_delivers_vm_findings_and_pc_posture_in_the_seed_layout() {
    let Some(env) = services() else { return };
    let q = standin(Subscription {
        hosts: 25,
        detections_per_host: 8,
        policies: 2,
        controls_per_policy: 4,
        ..Subscription::default()
    });
    let vm_bucket = Bucket::create(&env.moto, "vm");
    let pc_bucket = Bucket::create(&env.moto, "pc");
    let dir = tempfile::tempdir().expect("a temp dir");
    let node = serve(dir.path(), &env.moto, &env.smtp, &[]);
    let token = common::login(&node, "admin", ADMIN_PASSWORD);

    // Register/Onboard (the seed's request body, our bucket).
    let (status, created) = call(
        "POST",
        &format!("{}/partner-integration/aws/s3/vm", node.url),
        Some(&token),
        Some(&json!({
            "bucketName": vm_bucket.name,
            "bucketRegion": "us-east-1",
            "minSeverity": 4,
            "baseCategory": "Potential",
            "name": "Sample Name or Sample integration",
            "resultSectionNeeded": true,
            "sendVulnInfo": true,
            "compressData": true,
            "roleArn": ROLE,
            "sendAlerts": true,
            "errorEmails": ["secops@vigil.test"]
        })),
    );
    assert_eq!(status, 200, "{created}");
    let vm_id = created["integrationId"].as_i64().expect("integrationId");
    let external = created["externalId"]
        .as_str()
        .expect("externalId")
        .to_string();
    let parts: Vec<&str> = external.splitn(3, '-').collect();
    assert_eq!(parts[0], "VIGIL_POD_1", "{external}");
    assert!(parts[1].parse::<i64>().is_ok(), "{external}");
    assert_eq!(parts[2].len(), 36, "{external}");

    // Validate: the test file lands in the bucket.
    let (status, validated) = call(
        "PATCH",
        &format!(
            "{}/partner-integration/aws/s3/{vm_id}/vm/validate",
            node.url
        ),
        Some(&token),
        None,
    );
    assert_eq!(status, 200, "{validated}");
    assert_eq!(
        validated["message"],
        "AWS S3 VM integration successfully validated."
    );
    assert!(vm_bucket.keys("").contains(&"test-file.gz".to_string()));

    // PC: CIPS policy 1 only, Failed and Error postures without evidence.
    let (status, pc) = call(
        "POST",
        &format!("{}/partner-integration/aws/s3/pc", node.url),
        Some(&token),
        Some(&json!({
            "name": "AWS S3 PC integarion for quays_aa15",
            "bucketName": pc_bucket.name,
            "bucketRegion": "us-east-1",
            "roleArn": ROLE,
            "compressData": false
        })),
    );
    assert_eq!(status, 200, "{pc}");
    let pc_id = pc["integrationId"].as_i64().expect("integrationId");
    let (status, body) = call(
        "PATCH",
        &format!(
            "{}/partner-integration/aws/s3/{pc_id}/pc/validate",
            node.url
        ),
        Some(&token),
        None,
    );
    assert_eq!(status, 200, "{body}");
    assert!(pc_bucket.keys("").contains(&"test-file.json".to_string()));
    let (status, _) = call(
        "POST",
        &format!("{}/pcas/cips/config/policy", node.url),
        Some(&token),
        Some(&json!([{"policy": [1]}])),
    );
    assert_eq!(status, 202);
    let (status, filter) = call(
        "POST",
        &format!("{}/pcas/cips/config", node.url),
        Some(&token),
        Some(
            &json!([{"includeEvidenceData": true, "includeFailPosture": true, "includePassPosture": false, "includeErrorPosture": true}]),
        ),
    );
    assert_eq!(status, 200, "{filter}");
    assert_eq!(filter["includePassPosture"], false, "{filter}");

    // Data arrives from Qualys; delivery follows within seconds.
    let connector = qualys_connector(&node, &token, &q);
    let run = run_to_end(&node, &token, &connector);
    assert_eq!(run["state"], "Completed", "{run}");
    let prefix = format!("qualys_vm_findings/{}/", today());
    let keys = wait_for(Duration::from_secs(30), "VM findings", || {
        let keys = vm_bucket.keys(&prefix);
        (!keys.is_empty()).then_some(keys)
    });
    assert!(keys.iter().all(|k| k.ends_with(".gz")), "{keys:?}");
    let mut hosts = 0;
    for key in &keys {
        let stem = key.trim_start_matches(&prefix).trim_end_matches(".gz");
        assert_eq!(stem.len(), 36, "a UUID: {key}");
        for line in vm_bucket.lines(key) {
            hosts += 1;
            assert!(line["hostId"].is_i64(), "{line}");
            assert!(line["customerId"].is_i64(), "{line}");
            let detections = line["detections"].as_array().expect("detections");
            assert!(!detections.is_empty(), "{line}");
            for d in detections {
                assert!(
                    d["severity"].as_i64().is_some_and(|s| s >= 4),
                    "minSeverity 4: {d}"
                );
                assert!(
                    matches!(d["type"].as_str(), Some("Confirmed" | "Potential")),
                    "baseCategory Potential: {d}"
                );
                assert!(d.get("results").is_some(), "resultSectionNeeded: {d}");
                assert!(d.get("title").is_some(), "sendVulnInfo: {d}");
            }
        }
    }
    assert!(hosts > 0);
    let kb = wait_for(Duration::from_secs(30), "vuln_info", || {
        let keys = vm_bucket.keys("vuln_info/vm/");
        (!keys.is_empty()).then_some(keys)
    });
    assert!(!vm_bucket.lines(&kb[0]).is_empty());

    // PC posture in the sample's shape, only Failed/Error, only policy 1.
    let pc_prefix = format!("qualys_pc_posture_info/{}/", today());
    let pc_keys = wait_for(Duration::from_secs(30), "PC posture", || {
        let keys = pc_bucket.keys(&pc_prefix);
        (!keys.is_empty()).then_some(keys)
    });
    let sample_host: BTreeSet<&str> = [
        "hostId",
        "dns",
        "ip",
        "trackingMethod",
        "os",
        "osCpe",
        "complianceLastScanData",
        "customerUuid",
        "customerId",
        "assetId",
        "policy",
    ]
    .into_iter()
    .collect();
    let sample_posture: BTreeSet<&str> = [
        "id",
        "controlId",
        "controlStatement",
        "controlReference",
        "remediation",
        "technologyId",
        "instance",
        "posture",
        "postureModifiedDate",
        "evaluationDate",
        "lastPosture",
        "firstEvaluatedDate",
        "failDateFirstFound",
        "failDateLastFound",
        "passedDateFirstFound",
        "passedDateLastFound",
        "evidence",
    ]
    .into_iter()
    .collect();
    for key in &pc_keys {
        assert!(key.ends_with(".json"), "compressData false: {key}");
        for line in pc_bucket.lines(key) {
            let keys: BTreeSet<&str> = line
                .as_object()
                .expect("an object")
                .keys()
                .map(String::as_str)
                .collect();
            assert_eq!(keys, sample_host, "{line}");
            for policy in line["policy"].as_array().expect("policy") {
                assert_eq!(policy["id"], 1, "only CIPS policies: {policy}");
                for posture in policy["posture"].as_array().expect("posture") {
                    let keys: BTreeSet<&str> = posture
                        .as_object()
                        .expect("an object")
                        .keys()
                        .map(String::as_str)
                        .collect();
                    assert_eq!(keys, sample_posture, "{posture}");
                    assert_ne!(
                        posture["posture"], "Passed",
                        "includePassPosture false: {posture}"
                    );
                    let evidence = posture["evidence"].as_str().expect("evidence is a string");
                    let parsed: Value = serde_json::from_str(evidence).expect("JSON in the string");
                    assert!(parsed.get("causeOfFailure").is_some(), "{parsed}");
                }
            }
        }
    }

    // Update: Confirmed only from severity 2; the message of the seed.
    let (status, updated) = call(
        "PUT",
        &format!("{}/partner-integration/aws/s3/{vm_id}/vm", node.url),
        Some(&token),
        Some(&json!({
            "bucketName": vm_bucket.name,
            "bucketRegion": "us-east-1",
            "minSeverity": 2,
            "baseCategory": "Confirmed",
            "name": "Customer Name or integration name",
            "resultSectionNeeded": true,
            "sendVulnInfo": true,
            "compressData": true,
            "roleArn": ROLE,
            "regenerateExternalId": false,
            "sendAlerts": true,
            "errorEmails": ["secops@vigil.test"]
        })),
    );
    assert_eq!(status, 200, "{updated}");
    assert_eq!(
        updated["message"],
        "AWS S3 VM integration successfully updated."
    );
    // Get (with and without the id).
    let got = integration(&node, &token, "vm", vm_id);
    assert_eq!(got["integrationId"], vm_id);
    assert_eq!(got["minSeverity"], 2);
    assert_eq!(got["baseCategory"], "Confirmed");
    assert_eq!(got["externalId"], external.as_str());
    assert_eq!(got["integrationValidated"], true);
    let (status, all) = call(
        "GET",
        &format!("{}/partner-integration/aws/s3/vm", node.url),
        Some(&token),
        None,
    );
    assert_eq!(status, 200, "{all}");
    assert!(all.to_string().contains(&external), "{all}");
    // The new filter applies: Confirmed findings of severity 2–3 arrive.
    wait_for(
        Duration::from_secs(30),
        "findings of the new filter",
        || {
            vm_bucket
                .keys(&prefix)
                .iter()
                .any(|k| {
                    vm_bucket.lines(k).iter().any(|l| {
                        l["detections"].as_array().is_some_and(|ds| {
                            ds.iter()
                                .any(|d| d["severity"].as_i64().is_some_and(|s| s < 4))
                        })
                    })
                })
                .then_some(())
        },
    );
    // Delete.
    let (status, deleted) = call(
        "DELETE",
        &format!("{}/partner-integration/aws/s3/{vm_id}/vm", node.url),
        Some(&token),
        None,
    );
    assert_eq!(status, 200, "{deleted}");
    assert_eq!(
        deleted["message"],
        "AWS S3 VM integration successfully deleted."
    );
    let (status, _) = call(
        "GET",
        &format!("{}/partner-integration/aws/s3/{vm_id}/vm", node.url),
        Some(&token),
        None,
    );
    assert_eq!(status, 404);
}

/// `kill -9` while delivery is under way, then a restart: every host is
/// delivered, none twice under different keys.
#[test]
fn kill_9_in_the_middle_of_delivery_loses_nothing_and_duplicates_nothing() {
    let Some(env) = services() else { return };
    let q = standin(Subscription {
        hosts: 1500,
        detections_per_host: 4,
        policies: 0,
        ..Subscription::default()
    });
    let bucket = Bucket::create(&env.moto, "crash");
    let dir = tempfile::tempdir().expect("a temp dir");
    let lines = ["--delivery-object-lines", "5"];
    let node = serve(dir.path(), &env.moto, &env.smtp, &lines);
    let token = common::login(&node, "admin", ADMIN_PASSWORD);
    // The data first, then the integration: its backfill is 300 objects.
    let connector = qualys_connector(&node, &token, &q);
    let run = run_to_end(&node, &token, &connector);
    assert_eq!(run["state"], "Completed", "{run}");
    let id = vm_integration(&node, &token, &bucket.name, json!({}));
    let prefix = "qualys_vm_findings/";
    wait_for(Duration::from_secs(60), "the first objects", || {
        (bucket.keys(prefix).len() >= 10).then_some(())
    });
    node.kill9();
    let before = bucket.keys(prefix).len();
    assert!(
        before < 300,
        "the kill came too late to test anything ({before} objects)"
    );

    let node = serve(dir.path(), &env.moto, &env.smtp, &lines);
    let token = common::login(&node, "admin", ADMIN_PASSWORD);
    wait_for(Duration::from_secs(120), "the backlog to drain", || {
        let got = integration(&node, &token, "vm", id);
        let hosts = hosts_delivered(&bucket, prefix);
        (got["pendingObjects"] == 0 && hosts.len() as u64 == q.sub.hosts).then_some(())
    });
    let hosts = hosts_delivered(&bucket, prefix);
    assert_eq!(hosts.len() as u64, q.sub.hosts, "every host delivered");
    let twice: Vec<_> = hosts.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "hosts delivered twice: {twice:?}");
}

/// The network between Vigil and S3 goes down: the backlog waits on disk
/// (across a restart), no alert is sent for a passing outage, and it drains
/// when the network is back.
#[test]
fn a_network_outage_keeps_the_backlog_on_disk_and_drains_when_back() {
    let Some(env) = services() else { return };
    let q = standin(Subscription {
        hosts: 40,
        detections_per_host: 3,
        policies: 0,
        ..Subscription::default()
    });
    let bucket = Bucket::create(&env.moto, "outage");
    let proxy = Proxy::start(&env.moto);
    let dir = tempfile::tempdir().expect("a temp dir");
    let node = serve(
        dir.path(),
        &proxy.url(),
        &env.smtp,
        &["--delivery-object-lines", "10"],
    );
    let token = common::login(&node, "admin", ADMIN_PASSWORD);
    let recipient = format!("net-{}@vigil.test", &uuid_like()[..10]);
    let id = vm_integration(
        &node,
        &token,
        &bucket.name,
        json!({"sendAlerts": true, "errorEmails": [recipient]}),
    );
    proxy.set_up(false);
    let connector = qualys_connector(&node, &token, &q);
    let run = run_to_end(&node, &token, &connector);
    assert_eq!(run["state"], "Completed", "{run}");
    wait_for(Duration::from_secs(30), "a backlog", || {
        let got = integration(&node, &token, "vm", id);
        (got["pendingObjects"].as_u64().is_some_and(|n| n >= 4)).then_some(())
    });
    assert!(bucket.keys("qualys_vm_findings/").is_empty());
    // A restart during the outage: the backlog is on disk.
    node.kill9();
    let node = serve(
        dir.path(),
        &proxy.url(),
        &env.smtp,
        &["--delivery-object-lines", "10"],
    );
    let token = common::login(&node, "admin", ADMIN_PASSWORD);
    let got = integration(&node, &token, "vm", id);
    assert!(
        got["pendingObjects"].as_u64().is_some_and(|n| n >= 4),
        "{got}"
    );
    // The network is back.
    proxy.set_up(true);
    wait_for(Duration::from_secs(60), "the backlog to drain", || {
        let got = integration(&node, &token, "vm", id);
        (got["pendingObjects"] == 0).then_some(())
    });
    let hosts = hosts_delivered(&bucket, "qualys_vm_findings/");
    assert_eq!(hosts.len() as u64, q.sub.hosts);
    assert!(hosts.values().all(|n| *n == 1), "{hosts:?}");
    // A passing outage is not a person's problem: no e-mail.
    assert_eq!(mails_to(&env.maildir, &recipient).len(), 0);
}

/// A deleted bucket needs a person: the integration is in error, one
/// e-mail goes to errorEmails however many retries fail, and once the
/// bucket is back everything is delivered.
#[test]
fn a_deleted_bucket_puts_the_integration_in_error_and_mails_once() {
    let Some(env) = services() else { return };
    let q = standin(Subscription {
        hosts: 30,
        detections_per_host: 3,
        policies: 0,
        ..Subscription::default()
    });
    let bucket = Bucket::create(&env.moto, "gone");
    let dir = tempfile::tempdir().expect("a temp dir");
    let node = serve(
        dir.path(),
        &env.moto,
        &env.smtp,
        &["--delivery-object-lines", "10"],
    );
    let token = common::login(&node, "admin", ADMIN_PASSWORD);
    let recipient = format!("ops-{}@vigil.test", &uuid_like()[..10]);
    let id = vm_integration(
        &node,
        &token,
        &bucket.name,
        json!({"sendAlerts": true, "errorEmails": [recipient, "second@vigil.test"]}),
    );
    bucket.destroy();
    let connector = qualys_connector(&node, &token, &q);
    let run = run_to_end(&node, &token, &connector);
    assert_eq!(run["state"], "Completed", "{run}");
    let got = wait_for(Duration::from_secs(30), "the error state", || {
        let got = integration(&node, &token, "vm", id);
        (got["state"] == "error").then_some(got)
    });
    assert!(
        got["problem"]
            .as_str()
            .is_some_and(|p| p.contains(&bucket.name)),
        "the problem names the bucket: {got}"
    );
    // Several retries fail (backoff 1 s, 2 s, 4 s …): still one e-mail.
    std::thread::sleep(Duration::from_secs(8));
    let mails = wait_for(Duration::from_secs(10), "the alert e-mail", || {
        let mails = mails_to(&env.maildir, &recipient);
        (!mails.is_empty()).then_some(mails)
    });
    assert_eq!(mails.len(), 1, "one e-mail per problem: {mails:?}");
    assert!(mails[0].contains("NoSuchBucket"), "{}", mails[0]);
    assert!(mails[0].contains(&bucket.name), "{}", mails[0]);
    // The bucket is back: everything is delivered, the state is active.
    bucket.make();
    wait_for(Duration::from_secs(90), "the backlog to drain", || {
        let got = integration(&node, &token, "vm", id);
        (got["pendingObjects"] == 0 && got["state"] == "active").then_some(())
    });
    let hosts = hosts_delivered(&bucket, "qualys_vm_findings/");
    assert_eq!(hosts.len() as u64, q.sub.hosts);
}

/// The messages in the maildir addressed to `recipient`.
fn mails_to(maildir: &Path, recipient: &str) -> Vec<String> {
    let mut found = Vec::new();
    for sub in ["new", "cur"] {
        let Ok(entries) = std::fs::read_dir(maildir.join(sub)) else {
            continue;
        };
        for entry in entries.flatten() {
            if let Ok(text) = std::fs::read_to_string(entry.path()) {
                if text.contains(recipient) {
                    found.push(text);
                }
            }
        }
    }
    found
}
