//! The delivery loop on a real store (SQLite) and a real bucket (moto):
//! what is planned, what is sent, what is not sent twice, stable keys on
//! retry, the lease, OCSF findings of Vigil's own evaluations and the CIPS
//! filter.

use chrono::{Duration as Days, Utc};
use serde_json::Value;
use std::io::Read;
use std::sync::Arc;
use std::time::Duration;
use vigil_delivery::payload::Customer;
use vigil_delivery::s3::{AwsSettings, Deliverer};
use vigil_delivery::worker::{self, DeliveryConfig, LoopState, TickReport};
use vigil_model::qualys::{
    DetectionStatus, DetectionType, PostureStatus, QualysBatch, QualysDetection, QualysHost,
    QualysKbEntry, QualysPcControl, QualysPcPolicy, QualysPcPosture,
};
use vigil_store::access::AuditEntry;
use vigil_store::delivery::{BaseCategory, IntegrationKind, IntegrationSettings};
use vigil_store::{ScanBatch, Store};
use vigil_store_sqlite::SqliteStore;

fn moto() -> Option<String> {
    match std::env::var("VIGIL_TEST_MOTO_URL") {
        Ok(url) => {
            // Vigil's own identity: the standard chain reads these.
            std::env::set_var("AWS_ACCESS_KEY_ID", "testing");
            std::env::set_var("AWS_SECRET_ACCESS_KEY", "testing");
            std::env::set_var("AWS_REGION", "us-east-1");
            Some(url)
        }
        Err(_) => {
            eprintln!(
                "VIGIL_TEST_MOTO_URL is not set: worker tests skipped (scripts/test sets it)"
            );
            None
        }
    }
}

struct Bucket {
    client: aws_sdk_s3::Client,
    name: String,
}

impl Bucket {
    async fn create(moto: &str, prefix: &str) -> Bucket {
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
        let client = aws_sdk_s3::Client::from_conf(conf);
        let name = format!(
            "{prefix}-{}",
            &uuid::Uuid::new_v4().simple().to_string()[..12]
        );
        let bucket = Bucket { client, name };
        bucket.make().await;
        bucket
    }

    async fn make(&self) {
        self.client
            .create_bucket()
            .bucket(&self.name)
            .send()
            .await
            .expect("create the bucket");
    }

    async fn keys(&self, prefix: &str) -> Vec<String> {
        let out = self
            .client
            .list_objects_v2()
            .bucket(&self.name)
            .prefix(prefix)
            .send()
            .await
            .expect("list");
        out.contents()
            .iter()
            .filter_map(|o| o.key().map(str::to_string))
            .collect()
    }

    async fn lines(&self, key: &str) -> Vec<Value> {
        let out = self
            .client
            .get_object()
            .bucket(&self.name)
            .key(key)
            .send()
            .await
            .expect("get");
        let raw = out
            .body
            .collect()
            .await
            .expect("body")
            .into_bytes()
            .to_vec();
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
            .filter(|l| !l.is_empty())
            .map(|l| serde_json::from_str(l).expect("a JSON line"))
            .collect()
    }

    async fn all_lines(&self, prefix: &str) -> Vec<Value> {
        let mut all = Vec::new();
        for key in self.keys(prefix).await {
            all.extend(self.lines(&key).await);
        }
        all
    }
}

fn customer() -> Customer {
    Customer {
        customer_id: 71,
        customer_uuid: "b35e0d4c-7636-e6f4-8244-551bbbec6140".into(),
    }
}

fn config(node: &str) -> DeliveryConfig {
    let mut c = DeliveryConfig::new(node, customer());
    c.backoff_base = Duration::from_millis(100);
    c.backoff_max = Duration::from_millis(400);
    c
}

fn settings(bucket: &str, name: &str) -> IntegrationSettings {
    IntegrationSettings {
        name: name.into(),
        bucket_name: bucket.into(),
        bucket_region: "us-east-1".into(),
        role_arn: "arn:aws:iam::123456789012:role/vigil-delivery".into(),
        compress_data: true,
        min_severity: 3,
        base_category: BaseCategory::Confirmed,
        result_section_needed: false,
        send_vuln_info: false,
        send_alerts: false,
        error_emails: Vec::new(),
    }
}

fn audit() -> AuditEntry {
    AuditEntry::now("tester", "test", "test", serde_json::json!({}))
}

/// A fresh PostgreSQL database (dropped by [`Postgres::drop`]), when
/// `VIGIL_TEST_POSTGRES_URL` is set.
struct Postgres {
    admin: String,
    name: String,
    store: Arc<dyn Store>,
}

impl Postgres {
    async fn fresh() -> Option<Postgres> {
        use sqlx::Connection;
        let Ok(admin) = std::env::var("VIGIL_TEST_POSTGRES_URL") else {
            eprintln!("VIGIL_TEST_POSTGRES_URL is not set: the PostgreSQL run was skipped (scripts/test sets it)");
            return None;
        };
        let name = format!("vigil_delivery_{}", uuid::Uuid::new_v4().simple());
        let mut conn = sqlx::PgConnection::connect(&admin).await.expect("connect");
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .expect("create a database");
        let (base, _) = admin.rsplit_once('/').expect("a database in the URL");
        let url = format!("{base}/{name}");
        let store = vigil_store_postgres::PgStore::connect(&url)
            .await
            .expect("open the store");
        Some(Postgres {
            admin,
            name,
            store: Arc::new(store),
        })
    }

    async fn drop(self) {
        use sqlx::Connection;
        drop(self.store);
        let mut conn = sqlx::PgConnection::connect(&self.admin)
            .await
            .expect("connect");
        let _ = sqlx::query(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        ))
        .execute(&mut conn)
        .await;
    }
}

async fn store() -> Arc<dyn Store> {
    Arc::new(SqliteStore::open_memory().await.expect("a store"))
}

/// Registers and validates an integration.
async fn integration(
    store: &dyn Store,
    kind: IntegrationKind,
    settings: &IntegrationSettings,
) -> i64 {
    let i = store
        .create_integration(kind, settings, "VIGIL_POD_1-71-test", Utc::now(), &audit())
        .await
        .expect("create");
    store
        .mark_validated(kind, i.id, Utc::now(), &audit())
        .await
        .expect("validate");
    i.id
}

async fn tick(
    store: &dyn Store,
    deliverer: &Arc<Deliverer>,
    config: &DeliveryConfig,
) -> TickReport {
    let mut state = LoopState::default();
    worker::tick(store, deliverer, None, config, &mut state)
        .await
        .expect("a tick")
}

fn host(id: i64) -> QualysHost {
    QualysHost {
        id,
        asset_id: Some(1000 + id),
        ip: Some(format!("10.0.0.{id}")),
        dns: Some(format!("host{id}.example.com")),
        os: Some("Amazon Linux 2".into()),
        tracking_method: Some("IP".into()),
        ..Default::default()
    }
}

fn detection(host: i64, qid: i64, severity: u8, kind: DetectionType) -> QualysDetection {
    QualysDetection {
        host_id: host,
        instance_id: None,
        qid,
        kind,
        severity,
        port: Some(443),
        protocol: Some("tcp".into()),
        ssl: true,
        status: DetectionStatus::Active,
        first_found: Some(Utc::now() - Days::days(10)),
        last_found: Some(Utc::now() - Days::days(1)),
        times_found: Some(3),
        last_fixed: None,
        results: Some(format!("result of {qid}")),
    }
}

async fn ingest(store: &dyn Store, batch: QualysBatch) {
    store
        .qualys_ingest("qualys-1", "Acme", &batch, Utc::now())
        .await
        .expect("ingest");
}

/// Hosts 1–3: host 1 has a Confirmed 5 and a Potential 4, host 2 a
/// Confirmed 2 only, host 3 an Info 3.
async fn vm_data(store: &dyn Store) {
    ingest(store, QualysBatch::Hosts(vec![host(1), host(2), host(3)])).await;
    ingest(
        store,
        QualysBatch::Detections(vec![
            detection(1, 38170, 5, DetectionType::Confirmed),
            detection(1, 38171, 4, DetectionType::Potential),
            detection(2, 38172, 2, DetectionType::Confirmed),
            detection(3, 38173, 3, DetectionType::Info),
        ]),
    )
    .await;
}

fn hosts_of(lines: &[Value]) -> Vec<i64> {
    let mut hosts: Vec<i64> = lines.iter().filter_map(|l| l["hostId"].as_i64()).collect();
    hosts.sort_unstable();
    hosts
}

#[tokio::test]
async fn vm_findings_follow_the_filter_and_are_not_sent_twice() {
    let Some(moto) = moto() else { return };
    vm_case(store().await, moto).await;
}

#[tokio::test]
async fn vm_findings_follow_the_filter_and_are_not_sent_twice_on_postgres() {
    let Some(moto) = moto() else { return };
    let Some(db) = Postgres::fresh().await else {
        return;
    };
    vm_case(db.store.clone(), moto).await;
    db.drop().await;
}

async fn vm_case(store: Arc<dyn Store>, moto: String) {
    let bucket = Bucket::create(&moto, "vm").await;
    let deliverer = Arc::new(Deliverer::new(AwsSettings {
        endpoint_url: Some(moto.clone()),
        profile: None,
    }));
    let config = config("node-a");
    vm_data(store.as_ref()).await;
    integration(
        store.as_ref(),
        IntegrationKind::Vm,
        &settings(&bucket.name, "default"),
    )
    .await;
    let report = tick(store.as_ref(), &deliverer, &config).await;
    assert!(report.leader);
    assert_eq!(
        (report.planned, report.delivered, report.failed),
        (1, 1, 0),
        "{report:?}"
    );
    // Defaults: Confirmed only, severity ≥ 3: host 1 with QID 38170 only.
    let lines = bucket.all_lines("qualys_vm_findings/").await;
    assert_eq!(hosts_of(&lines), vec![1]);
    let qids: Vec<i64> = lines[0]["detections"]
        .as_array()
        .expect("detections")
        .iter()
        .filter_map(|d| d["qid"].as_i64())
        .collect();
    assert_eq!(qids, vec![38170]);
    assert!(lines[0]["detections"][0].get("results").is_none());
    assert_eq!(lines[0]["customerId"], 71);

    // Nothing changed: nothing planned. The same data again: nothing.
    let report = tick(store.as_ref(), &deliverer, &config).await;
    assert_eq!(report.planned, 0, "{report:?}");
    vm_data(store.as_ref()).await;
    let report = tick(store.as_ref(), &deliverer, &config).await;
    assert_eq!(
        report.planned, 0,
        "re-ingesting the same data sends nothing: {report:?}"
    );

    // A change of host 1: it is sent again, alone.
    let mut fixed = detection(1, 38170, 5, DetectionType::Confirmed);
    fixed.status = DetectionStatus::Fixed;
    ingest(store.as_ref(), QualysBatch::Detections(vec![fixed])).await;
    let report = tick(store.as_ref(), &deliverer, &config).await;
    assert_eq!((report.planned, report.delivered), (1, 1), "{report:?}");
    assert_eq!(bucket.keys("qualys_vm_findings/").await.len(), 2);
}

#[tokio::test]
async fn base_category_ig_min_severity_1_results_and_vuln_info() {
    let Some(moto) = moto() else { return };
    let store = store().await;
    let bucket = Bucket::create(&moto, "vmig").await;
    let deliverer = Arc::new(Deliverer::new(AwsSettings {
        endpoint_url: Some(moto.clone()),
        profile: None,
    }));
    vm_data(store.as_ref()).await;
    ingest(
        store.as_ref(),
        QualysBatch::Kb(vec![QualysKbEntry {
            qid: 38170,
            title: "SSL Certificate - Signature Verification Failed".into(),
            severity: Some(5),
            cves: vec!["CVE-2024-0001".into()],
            ..Default::default()
        }]),
    )
    .await;
    let mut s = settings(&bucket.name, "ig");
    s.min_severity = 1;
    s.base_category = BaseCategory::Ig;
    s.result_section_needed = true;
    s.send_vuln_info = true;
    s.compress_data = false;
    integration(store.as_ref(), IntegrationKind::Vm, &s).await;
    tick(store.as_ref(), &deliverer, &config("node-a")).await;
    let keys = bucket.keys("qualys_vm_findings/").await;
    assert!(keys.iter().all(|k| k.ends_with(".json")), "{keys:?}");
    let lines = bucket.all_lines("qualys_vm_findings/").await;
    assert_eq!(hosts_of(&lines), vec![1, 2, 3]);
    let host1 = lines.iter().find(|l| l["hostId"] == 1).expect("host 1");
    let d = &host1["detections"];
    assert_eq!(d.as_array().map(Vec::len), Some(2), "{host1}");
    assert!(d[0].get("results").is_some(), "{host1}");
    assert!(
        host1.to_string().contains("Signature Verification Failed"),
        "{host1}"
    );
    let kb = bucket.keys("vuln_info/vm/").await;
    assert_eq!(kb.len(), 1, "{kb:?}");
    assert!(kb[0].ends_with(".json"), "{kb:?}");
}

#[tokio::test]
async fn a_failed_write_keeps_its_key_and_is_delivered_when_the_bucket_is_back() {
    let Some(moto) = moto() else { return };
    let store = store().await;
    let bucket = Bucket::create(&moto, "later").await;
    let deliverer = Arc::new(Deliverer::new(AwsSettings {
        endpoint_url: Some(moto.clone()),
        profile: None,
    }));
    vm_data(store.as_ref()).await;
    let missing = format!("{}-missing", bucket.name);
    let id = integration(
        store.as_ref(),
        IntegrationKind::Vm,
        &settings(&missing, "later"),
    )
    .await;
    let config = config("node-a");
    let report = tick(store.as_ref(), &deliverer, &config).await;
    assert_eq!(
        (report.planned, report.delivered, report.failed),
        (1, 0, 1),
        "{report:?}"
    );
    let far = Utc::now() + Days::days(1);
    let waiting = store.outbox_due(far, 10).await.expect("due");
    assert_eq!(waiting.len(), 1);
    let key = waiting[0].key.clone();
    assert_eq!(waiting[0].attempts, 1);
    assert!(waiting[0]
        .last_error
        .as_deref()
        .is_some_and(|e| e.contains(&missing)));
    let i = store
        .integration(IntegrationKind::Vm, id)
        .await
        .expect("read")
        .expect("exists");
    assert_eq!(i.state, vigil_store::delivery::IntegrationState::Error);
    // Retries fail the same way, with the same key.
    tokio::time::sleep(Duration::from_millis(300)).await;
    tick(store.as_ref(), &deliverer, &config).await;
    let waiting = store.outbox_due(far, 10).await.expect("due");
    assert_eq!(waiting[0].key, key);
    assert!(waiting[0].attempts >= 2);
    // The bucket appears: the object lands under the key planned first.
    let back = Bucket {
        client: bucket.client.clone(),
        name: missing.clone(),
    };
    back.make().await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let report = tick(store.as_ref(), &deliverer, &config).await;
    assert_eq!(report.delivered, 1, "{report:?}");
    assert_eq!(back.keys("qualys_vm_findings/").await, vec![key]);
    assert_eq!(store.outbox_pending(Some(id)).await.expect("pending"), 0);
    let i = store
        .integration(IntegrationKind::Vm, id)
        .await
        .expect("read")
        .expect("exists");
    assert_eq!(i.state, vigil_store::delivery::IntegrationState::Active);
    assert_eq!(i.objects_delivered, 1);
}

#[tokio::test]
async fn only_the_lease_holder_delivers() {
    let Some(moto) = moto() else { return };
    let store = store().await;
    let deliverer = Arc::new(Deliverer::new(AwsSettings {
        endpoint_url: Some(moto),
        profile: None,
    }));
    let a = tick(store.as_ref(), &deliverer, &config("node-a")).await;
    let b = tick(store.as_ref(), &deliverer, &config("node-b")).await;
    assert!(a.leader);
    assert!(!b.leader, "node-b must wait for node-a's lease");
}

#[tokio::test]
async fn unvalidated_integrations_get_nothing() {
    let Some(moto) = moto() else { return };
    let store = store().await;
    let bucket = Bucket::create(&moto, "pending").await;
    let deliverer = Arc::new(Deliverer::new(AwsSettings {
        endpoint_url: Some(moto),
        profile: None,
    }));
    vm_data(store.as_ref()).await;
    store
        .create_integration(
            IntegrationKind::Vm,
            &settings(&bucket.name, "pending"),
            "VIGIL_POD_1-71-x",
            Utc::now(),
            &audit(),
        )
        .await
        .expect("create");
    let report = tick(store.as_ref(), &deliverer, &config("node-a")).await;
    assert_eq!(report.planned, 0);
    assert!(bucket.keys("").await.is_empty());
}

#[tokio::test]
async fn vigil_evaluations_are_delivered_as_ocsf_detection_findings() {
    let Some(moto) = moto() else { return };
    let store = store().await;
    let bucket = Bucket::create(&moto, "ocsf").await;
    let deliverer = Arc::new(Deliverer::new(AwsSettings {
        endpoint_url: Some(moto),
        profile: None,
    }));
    let (controls, policies) = vigil_store::conformance::sample_catalog();
    store
        .sync_catalog(&controls, &policies)
        .await
        .expect("catalog");
    let resources = vigil_store::conformance::sample_resources("aws-prod", 4);
    let evaluations = vigil_store::conformance::sample_evaluations(4);
    store
        .apply_scan(ScanBatch {
            source: "connector:aws-prod",
            run: "run-1",
            at: Utc::now(),
            resources: &resources,
            evaluations: &evaluations,
        })
        .await
        .expect("scan");
    integration(
        store.as_ref(),
        IntegrationKind::Ocsf,
        &settings(&bucket.name, "lake"),
    )
    .await;
    tick(store.as_ref(), &deliverer, &config("node-a")).await;
    let keys = bucket.keys("vigil_ocsf_findings/").await;
    assert!(!keys.is_empty());
    let lines = bucket.all_lines("vigil_ocsf_findings/").await;
    assert_eq!(lines.len(), evaluations.len(), "one finding per evaluation");
    for l in &lines {
        assert_eq!(l["class_uid"], 2004, "{l}");
    }
    // The same scan's rows again: nothing new.
    let report = tick(store.as_ref(), &deliverer, &config("node-a")).await;
    assert_eq!(report.planned, 0, "{report:?}");

    // An IaC scan kept in the store: each check becomes a finding.
    let check = |cid: u32, result: &str| {
        serde_json::json!({
            "controlId": cid, "checkName": format!("check {cid}"), "criticality": "HIGH",
            "result": result, "resource": "aws_s3_bucket.logs", "resourceType": "aws.s3.bucket",
            "resourceName": "logs", "filePath": "/main.tf", "fileLineRange": [1, 9],
            "expected": "encryption on", "actual": "off"
        })
    };
    let document = serde_json::json!({
        "scanUuid": "5f0c8d2e-0000-4000-8000-000000000001", "name": "ci", "status": "FINISHED",
        "createdOn": Utc::now().to_rfc3339(), "tags": [], "paths": ["main.tf"], "summary": {},
        "result": [{"checkType": "terraform", "results": {
            "failedChecks": [check(48, "FAILED")], "passedChecks": [check(49, "PASSED")], "skippedChecks": []
        }}],
        "parsingErrors": []
    });
    store
        .save_iac_scan(
            &vigil_store::IacScanRecord {
                scan_id: "5f0c8d2e-0000-4000-8000-000000000001".into(),
                name: "ci".into(),
                created: Utc::now(),
                status: "FINISHED".into(),
                summary: serde_json::json!({}),
                document: Some(document),
            },
            None,
        )
        .await
        .expect("an IaC scan");
    let report = tick(store.as_ref(), &deliverer, &config("node-a")).await;
    assert_eq!(report.planned, 1, "{report:?}");
    let lines = bucket.all_lines("vigil_ocsf_findings/").await;
    let iac: Vec<&Value> = lines
        .iter()
        .filter(|l| l.to_string().contains("/main.tf#aws_s3_bucket.logs"))
        .collect();
    assert_eq!(iac.len(), 2, "{iac:?}");
    assert!(iac.iter().all(|l| l["class_uid"] == 2004));
    assert!(iac.iter().any(|l| l["status"] == "New"), "{iac:?}");
}

#[tokio::test]
async fn pc_posture_follows_cips_policies_and_filter_at_once() {
    let Some(moto) = moto() else { return };
    pc_case(store().await, moto).await;
}

#[tokio::test]
async fn pc_posture_follows_cips_policies_and_filter_at_once_on_postgres() {
    let Some(moto) = moto() else { return };
    let Some(db) = Postgres::fresh().await else {
        return;
    };
    pc_case(db.store.clone(), moto).await;
    db.drop().await;
}

async fn pc_case(store: Arc<dyn Store>, moto: String) {
    let bucket = Bucket::create(&moto, "pc").await;
    let deliverer = Arc::new(Deliverer::new(AwsSettings {
        endpoint_url: Some(moto),
        profile: None,
    }));
    ingest(store.as_ref(), QualysBatch::Hosts(vec![host(1), host(2)])).await;
    ingest(
        store.as_ref(),
        QualysBatch::PcPolicies(vec![
            QualysPcPolicy {
                id: 10,
                title: "CIS".into(),
                control_ids: vec![1071, 1072],
                ..Default::default()
            },
            QualysPcPolicy {
                id: 20,
                title: "Other".into(),
                control_ids: vec![1071],
                ..Default::default()
            },
        ]),
    )
    .await;
    ingest(
        store.as_ref(),
        QualysBatch::PcControls(vec![QualysPcControl {
            id: 1071,
            statement: "Status of the 'Minimum Password Length' setting".into(),
            ..Default::default()
        }]),
    )
    .await;
    let posture =
        |id: i64, policy: i64, host: i64, control: i64, status: PostureStatus| QualysPcPosture {
            id,
            policy_id: policy,
            host_id: host,
            control_id: control,
            instance: "os".into(),
            status: Some(status),
            technology_id: Some(80),
            evidence: Some("PASS_MIN_LEN 5".into()),
            last_evaluated: Some(Utc::now()),
            ..Default::default()
        };
    ingest(
        store.as_ref(),
        QualysBatch::PcPostures(vec![
            posture(1, 10, 1, 1071, PostureStatus::Passed),
            posture(2, 10, 1, 1072, PostureStatus::Failed),
            posture(3, 20, 2, 1071, PostureStatus::Failed),
        ]),
    )
    .await;
    let mut s = settings(&bucket.name, "pc");
    s.compress_data = false;
    integration(store.as_ref(), IntegrationKind::Pc, &s).await;
    let config = config("node-a");
    // No policy in CIPS: nothing.
    let report = tick(store.as_ref(), &deliverer, &config).await;
    assert_eq!(report.planned, 0, "{report:?}");
    // Policy 10, every posture.
    store
        .add_cips_policies(&[10], Utc::now(), &audit())
        .await
        .expect("add");
    tick(store.as_ref(), &deliverer, &config).await;
    let lines = bucket.all_lines("qualys_pc_posture_info/").await;
    assert_eq!(hosts_of(&lines), vec![1]);
    let postures = lines[0]["policy"][0]["posture"]
        .as_array()
        .expect("postures")
        .clone();
    assert_eq!(lines[0]["policy"][0]["id"], 10);
    assert_eq!(postures.len(), 2);
    // Failed only, without evidence: applied at the next tick.
    store
        .set_cips_filter(false, true, false, true, Utc::now(), &audit())
        .await
        .expect("filter");
    let report = tick(store.as_ref(), &deliverer, &config).await;
    assert_eq!(report.planned, 1, "{report:?}");
    let keys = bucket.keys("qualys_pc_posture_info/").await;
    assert_eq!(keys.len(), 2);
    let mut newest = Vec::new();
    for k in keys {
        let lines = bucket.lines(&k).await;
        let p = &lines[0]["policy"][0]["posture"];
        if p.as_array().map(Vec::len) == Some(1) {
            newest = lines;
        }
    }
    let p = &newest[0]["policy"][0]["posture"][0];
    assert_eq!(p["posture"], "Failed", "{p}");
    assert!(p["evidence"].is_null(), "{p}");
}

/// The alert e-mail of a problem goes out once; when the SMTP server
/// cannot take it, the next failure tries again.
#[tokio::test]
async fn an_alert_that_could_not_be_mailed_is_tried_again_then_sent_once() {
    let Some(moto) = moto() else { return };
    let (Ok(smtp), Ok(maildir)) = (
        std::env::var("VIGIL_TEST_SMTP_URL"),
        std::env::var("VIGIL_TEST_MAILDIR"),
    ) else {
        eprintln!("VIGIL_TEST_SMTP_URL or VIGIL_TEST_MAILDIR is not set: skipped (scripts/test sets them)");
        return;
    };
    let store = store().await;
    let deliverer = Arc::new(Deliverer::new(AwsSettings {
        endpoint_url: Some(moto),
        profile: None,
    }));
    vm_data(store.as_ref()).await;
    let recipient = format!(
        "alert-{}@vigil.test",
        &uuid::Uuid::new_v4().simple().to_string()[..10]
    );
    let mut s = settings(
        &format!(
            "missing-{}",
            &uuid::Uuid::new_v4().simple().to_string()[..10]
        ),
        "alerts",
    );
    s.send_alerts = true;
    s.error_emails = vec![recipient.clone()];
    integration(store.as_ref(), IntegrationKind::Vm, &s).await;
    let config = config("node-a");
    let down = vigil_delivery::smtp::Mailer::new(
        vigil_delivery::smtp::SmtpSettings::parse("smtp://127.0.0.1:9", "vigil@vigil.test")
            .expect("a URL"),
    );
    let up = vigil_delivery::smtp::Mailer::new(
        vigil_delivery::smtp::SmtpSettings::parse(&smtp, "vigil@vigil.test").expect("a URL"),
    );
    let mut state = LoopState::default();
    let report = worker::tick(store.as_ref(), &deliverer, Some(&down), &config, &mut state)
        .await
        .expect("a tick");
    assert_eq!((report.failed, report.alerts), (1, 0), "{report:?}");
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(450)).await;
        worker::tick(store.as_ref(), &deliverer, Some(&up), &config, &mut state)
            .await
            .expect("a tick");
    }
    let mut mails = 0;
    for entry in std::fs::read_dir(std::path::Path::new(&maildir).join("new")).expect("maildir") {
        let text = std::fs::read_to_string(entry.expect("an entry").path()).unwrap_or_default();
        if text.contains(&recipient) {
            assert!(text.contains("NoSuchBucket"), "{text}");
            mails += 1;
        }
    }
    assert_eq!(mails, 1, "sent once, after the SMTP server was back");
}
