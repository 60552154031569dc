//! An EC2 instance's Qualys vulnerabilities in its resource details and in
//! resource search, over real HTTP on SQLite and PostgreSQL, restricted to
//! the Qualys connectors the caller's tags let them see.

mod common;

use common::*;
use serde_json::{json, Value};
use vigil_model::qualys::{
    CloudSource, DetectionStatus, DetectionType, QualysBatch, QualysDetection, QualysHost,
    QualysKbEntry,
};
use vigil_model::{Origin, Provider, Resource};
use vigil_store::ScanBatch;

/// A connector created through the API, tagged `tags`; returns its id.
fn connector(server: &Running, admin: &str, name: &str, tags: &[&str]) -> String {
    let reply = server.post(
        "/api/v1/connectors",
        admin,
        &json!({
            "name": name,
            "authentication": {"type": "role", "role_arn": "arn:aws:iam::123456789012:role/VigilRead"},
            "tags": tags,
        }),
    );
    assert_eq!(reply.status, 201, "{}", reply.body);
    reply.json()["id"].as_str().expect("an id").to_string()
}

fn resource(connector: &str, resource_type: &str, id: &str, name: &str) -> Resource {
    let mut attributes = serde_json::Map::new();
    if resource_type == "aws.ec2.instance" {
        attributes.insert("instance_id".into(), Value::String(name.into()));
    }
    Resource {
        provider: Provider::Aws,
        account: "111122223333".into(),
        region: "eu-west-1".into(),
        service: "EC2".into(),
        resource_type: resource_type.into(),
        id: id.into(),
        name: name.into(),
        tags: Default::default(),
        attributes,
        associations: Vec::new(),
        uncollected: Default::default(),
        suppressed: Default::default(),
        first_discovered: None,
        last_updated: None,
        origin: Origin::Connector {
            connector: connector.into(),
            run: "run-1".into(),
        },
    }
}

fn detection(
    qid: i64,
    kind: DetectionType,
    severity: u8,
    status: DetectionStatus,
) -> QualysDetection {
    QualysDetection {
        host_id: 7,
        instance_id: None,
        qid,
        kind,
        severity,
        port: Some(22),
        protocol: Some("tcp".into()),
        ssl: false,
        status,
        first_found: Some(chrono::Utc::now()),
        last_found: Some(chrono::Utc::now()),
        times_found: Some(2),
        last_fixed: None,
        results: None,
    }
}

fn seed(server: &Running, aws: &str, qualys: &str) {
    let resources = [
        resource(
            aws,
            "aws.ec2.instance",
            "arn:aws:ec2:eu-west-1:111122223333:instance/i-0fd5ad25d4aef1161",
            "i-0fd5ad25d4aef1161",
        ),
        resource(
            aws,
            "aws.ec2.instance",
            "arn:aws:ec2:eu-west-1:111122223333:instance/i-0clean",
            "i-0clean",
        ),
        resource(aws, "aws.ec2.security_group", "sg-1", "sg-1"),
    ];
    server
        .rt
        .block_on(server.store.apply_scan(ScanBatch {
            source: &format!("connector:{aws}"),
            run: "run-1",
            at: chrono::Utc::now(),
            resources: &resources,
            evaluations: &[],
        }))
        .expect("apply_scan");
    let batches = [
        QualysBatch::Hosts(vec![QualysHost {
            id: 7,
            cloud: Some(CloudSource {
                provider: "aws".into(),
                instance_id: "i-0fd5ad25d4aef1161".into(),
                account_id: Some("111122223333".into()),
                region: Some("eu-west-1".into()),
            }),
            ..Default::default()
        }]),
        QualysBatch::Detections(vec![
            detection(38739, DetectionType::Potential, 5, DetectionStatus::Active),
            detection(11827, DetectionType::Confirmed, 3, DetectionStatus::Fixed),
        ]),
        QualysBatch::Kb(vec![QualysKbEntry {
            qid: 38739,
            title: "Deprecated SSH Cryptographic Settings".into(),
            cves: vec!["CVE-2008-5161".into()],
            ..Default::default()
        }]),
    ];
    for batch in &batches {
        server
            .rt
            .block_on(
                server
                    .store
                    .qualys_ingest(qualys, "Acme", batch, chrono::Utc::now()),
            )
            .expect("qualys_ingest");
    }
}

fn id_of(server: &Running, token: &str, name: &str) -> i64 {
    let page = server
        .get(
            &format!("/api/v1/resources?filter=resource.name:{name}"),
            Some(token),
        )
        .json();
    page["items"][0]["id"].as_i64().expect("the resource")
}

fn names(server: &Running, token: &str, filter: &str) -> Vec<String> {
    let reply = server.get(&format!("/api/v1/resources?filter={filter}"), Some(token));
    assert_eq!(reply.status, 200, "{filter}: {}", reply.body);
    reply.json()["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|r| r["name"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn scenario(place: &Place) {
    let server = start(place);
    let admin = server.admin_token();
    let aws = connector(&server, &admin, "aws", &["prod", "sec"]);
    let qualys = connector(&server, &admin, "qualys", &["sec"]);
    seed(&server, &aws, &qualys);
    let instance = id_of(&server, &admin, "i-0fd5ad25d4aef1161");

    // The instance's details: the vulnerabilities, most severe first, with
    // the KB; the counts leave the Fixed detection out (seed 001's
    // "100 % Potential: 1 / 0 % Confirmed: 0").
    let details = server
        .get(&format!("/api/v1/resources/{instance}"), Some(&admin))
        .json();
    let vulns = details["vulnerabilities"]
        .as_array()
        .expect("vulnerabilities");
    assert_eq!(vulns.len(), 2, "{details}");
    assert_eq!(vulns[0]["qid"], 38739);
    assert_eq!(vulns[0]["title"], "Deprecated SSH Cryptographic Settings");
    assert_eq!(vulns[0]["typeDetected"], "Potential");
    assert_eq!(vulns[0]["severity"], 5);
    assert_eq!(vulns[0]["cves"], json!(["CVE-2008-5161"]));
    assert_eq!(vulns[0]["account_name"], "Acme");
    assert_eq!(vulns[0]["connector_id"], qualys.as_str());
    assert_eq!(vulns[1]["status"], "Fixed");
    let counts = &details["vulnerability_counts"];
    assert_eq!(
        (
            counts["total"].clone(),
            counts["Potential"].clone(),
            counts["Confirmed"].clone(),
            counts["Info"].clone()
        ),
        (json!(1), json!(1), json!(0), json!(0)),
        "{counts}"
    );
    assert_eq!(counts["by_severity"]["5"], 1);
    assert_eq!(counts["by_severity"]["3"], 0);

    // Another instance has none; other resources have no such fields.
    let clean = id_of(&server, &admin, "i-0clean");
    let details = server
        .get(&format!("/api/v1/resources/{clean}"), Some(&admin))
        .json();
    assert_eq!(details["vulnerabilities"], json!([]));
    assert_eq!(details["vulnerability_counts"]["total"], 0);
    let sg = id_of(&server, &admin, "sg-1");
    let details = server
        .get(&format!("/api/v1/resources/{sg}"), Some(&admin))
        .json();
    assert!(details.get("vulnerabilities").is_none(), "{details}");
    assert!(details.get("vulnerability_counts").is_none(), "{details}");

    // Resource search by the vulnerability fields.
    assert_eq!(
        names(&server, &admin, "vulnerability.severity:5"),
        vec!["i-0fd5ad25d4aef1161"]
    );
    assert_eq!(
        names(&server, &admin, "vulnerability.typeDetected:Potential"),
        vec!["i-0fd5ad25d4aef1161"]
    );
    assert!(
        names(&server, &admin, "vulnerability.typeDetected:Confirmed").is_empty(),
        "Fixed is not open"
    );
    let bad = server.get(
        "/api/v1/resources?filter=vulnerability.typeDetected:Likely",
        Some(&admin),
    );
    assert_eq!(bad.status, 400, "{}", bad.body);
    assert!(
        bad.body.contains("Confirmed, Potential, Info"),
        "{}",
        bad.body
    );

    // A user whose tags show the AWS connector but not the Qualys one sees
    // the instance without vulnerabilities; one with the Qualys tag sees them.
    let prod = server.user_token("prod-reader", "reader", &["prod"]);
    let details = server.get(&format!("/api/v1/resources/{instance}"), Some(&prod));
    assert_eq!(details.status, 200, "{}", details.body);
    let details = details.json();
    assert_eq!(details["vulnerabilities"], json!([]), "{details}");
    assert_eq!(details["vulnerability_counts"]["total"], 0);
    let sec = server.user_token("sec-reader", "reader", &["sec"]);
    let details = server
        .get(&format!("/api/v1/resources/{instance}"), Some(&sec))
        .json();
    assert_eq!(
        details["vulnerabilities"].as_array().map(Vec::len),
        Some(2),
        "{details}"
    );
}

#[test]
fn instance_vulnerabilities_on_sqlite() {
    scenario(&Place::sqlite());
}

#[test]
fn instance_vulnerabilities_on_postgres() {
    let rt = runtime();
    if let Some(place) = Place::postgres(&rt, "instance_vulnerabilities_on_postgres") {
        drop(rt);
        scenario(&place);
    }
}
