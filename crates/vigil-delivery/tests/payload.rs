//! The objects' lines: the PC line in exactly the shape of seed 000's
//! "Sample: Posture Data Transferred using CIPS" (tests/fixtures holds the
//! sample with the PDF's line breaks fixed), the CIPS and VM filters, the
//! KB and OCSF lines, hashes, packing and keys.

use chrono::TimeZone;
use serde_json::Value;
use std::collections::HashMap;
use vigil_delivery::payload::*;
use vigil_model::qualys::{
    CloudSource, DetectionStatus, DetectionType, QualysDetection, QualysHost, QualysKbEntry,
};
use vigil_model::{EvalResult, Timestamp};
use vigil_store::delivery::{BaseCategory, CipsConfig, HostFindings, HostPostures, PostureRow};

const SAMPLE: &str = include_str!("fixtures/cips_posture_sample.json");

fn t(s: &str) -> Timestamp {
    chrono::DateTime::parse_from_rfc3339(s).unwrap().to_utc()
}

fn customer() -> Customer {
    Customer {
        customer_id: 250021,
        customer_uuid: "0a387e70-8b26-78ff-8145-017b816fa17f".into(),
    }
}

fn json(line: &Line) -> Value {
    assert!(!line.json.contains(&b'\n'), "a line is one line");
    serde_json::from_slice(&line.json).unwrap()
}

// --- PC ----------------------------------------------------------------------

/// The host and first two postures of the sample, as Vigil stores them.
fn sample_host() -> HostPostures {
    let posture = |id, control, statement: &str| {
        PostureRow {
        posture_id: id,
        policy_id: 3567540,
        control_id: control,
        control_statement: statement.into(),
        technology_id: Some(80),
        instance: String::new(),
        status: Some("Passed".into()),
        last_status: Some("Passed".into()),
        evidence: Some(format!(
            "<BOOLEAN_EXPR>greater than or equal to\n0</BOOLEAN_EXPR><DPV_LIST><DPV><LABEL>The following Integer value &lt;B&gt;X&lt;/B&gt; indicates the current value</LABEL><V>{}</V></DPV></DPV_LIST>",
            if control == 1071 { 5 } else { 0 }
        )),
        cause_of_failure: Some(format!(
            "<UNEXPECTED><V>{}</V></UNEXPECTED><MISSING><LOGIC>DP</LOGIC></MISSING>",
            if control == 1071 { 5 } else { 0 }
        )),
        extended_evidence: Some("Row 1:File name,Setting,Value".into()),
        first_evaluated: Some(t("2023-01-13T07:08:18Z")),
        last_evaluated: Some(t("2023-01-16T10:49:43Z")),
        posture_modified: Some(t("2023-01-13T07:08:18Z")),
        fail_first_found: None,
        fail_last_found: None,
        passed_first_found: Some(t("2023-01-13T07:08:18Z")),
        passed_last_found: Some(t("2023-01-16T10:49:43Z")),
    }
    };
    HostPostures {
        connector_id: "qualys-1".into(),
        account_name: "acme".into(),
        host: QualysHost {
            id: 10404430,
            asset_id: Some(31680291),
            ip: Some("10.115.120.97".into()),
            dns: Some("doctom1.rdlab.in03.qualys.com".into()),
            os: Some("CentOS Linux 7.5.1804".into()),
            tracking_method: Some("4".into()),
            last_compliance_scan: Some(t("2023-01-16T10:47:05Z")),
            ..Default::default()
        },
        // Out of order on purpose: the line is ordered by policy and id.
        postures: vec![
            posture(
                25214934,
                1072,
                "Status of the 'Minimum Password Age' setting",
            ),
            posture(
                25214933,
                1071,
                "Status of the 'Minimum Password Length' setting",
            ),
        ],
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Same keys in the same order, same types (null stands for any scalar
/// the sample left unknown, and the other way round), recursively; the
/// `evidence` strings are compared as the JSON documents they hold.
fn same_shape(path: &str, ours: &Value, sample: &Value) {
    match (ours, sample) {
        (Value::Object(a), Value::Object(b)) => {
            let ka: Vec<&String> = a.keys().collect();
            let kb: Vec<&String> = b.keys().collect();
            assert_eq!(ka, kb, "keys of {path}");
            for (k, v) in a {
                let p = format!("{path}.{k}");
                if k == "evidence" && v.is_string() {
                    let ours: Value = serde_json::from_str(v.as_str().unwrap()).unwrap();
                    let theirs: Value = serde_json::from_str(b[k].as_str().unwrap()).unwrap();
                    same_shape(&p, &ours, &theirs);
                } else {
                    same_shape(&p, v, &b[k]);
                }
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            if let (Some(x), Some(y)) = (a.first(), b.first()) {
                same_shape(&format!("{path}[0]"), x, y);
            }
        }
        (a, b) => {
            let (ka, kb) = (kind(a), kind(b));
            let scalar = |k| !matches!(k, "array" | "object");
            assert!(
                ka == kb || (ka == "null" && scalar(kb)) || (kb == "null" && scalar(ka)),
                "{path}: ours is {ka} ({a}), the sample's {kb} ({b})"
            );
        }
    }
}

#[test]
fn the_pc_line_has_the_shape_of_the_seed_sample() {
    let sample: Value = serde_json::from_str(SAMPLE).unwrap();
    let line = pc_host_line(&customer(), &CipsConfig::default(), &sample_host()).unwrap();
    assert_eq!(line.subject, "host:qualys-1:10404430");
    assert_eq!(line.items, 2);
    let ours = json(&line);
    same_shape("$", &ours, &sample);

    // And the values Vigil has are the sample's, field for field.
    for k in [
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
    ] {
        assert_eq!(ours[k], sample[k], "{k}");
    }
    assert_eq!(ours["policy"][0]["id"], sample["policy"][0]["id"]);
    for i in 0..2 {
        let (a, b) = (
            &ours["policy"][0]["posture"][i],
            &sample["policy"][0]["posture"][i],
        );
        for (k, v) in b.as_object().unwrap() {
            match k.as_str() {
                // Vigil does not store references nor remediation: empty,
                // as the sample shows an unknown one.
                "controlReference" | "remediation" => assert_eq!(a[k], ""),
                "evidence" => {}
                _ => assert_eq!(&a[k], v, "posture {i}: {k}"),
            }
        }
    }
}

#[test]
fn evidence_is_built_from_what_the_connector_stored() {
    let line = pc_host_line(&customer(), &CipsConfig::default(), &sample_host()).unwrap();
    let v = json(&line);
    let ev: Value =
        serde_json::from_str(v["policy"][0]["posture"][0]["evidence"].as_str().unwrap()).unwrap();
    assert_eq!(
        ev["description"],
        "The following Integer value <B>X</B> indicates the current value"
    );
    assert_eq!(
        ev["expectedValues"],
        serde_json::json!(["greater than or equal to\n0"])
    );
    assert_eq!(ev["actualValues"], serde_json::json!(["5"]));
    assert_eq!(ev["extendedEvidence"], "Row 1:File name,Setting,Value");
    assert_eq!(ev["causeOfFailure"]["missing"]["logic"], "DP");
    assert_eq!(
        ev["causeOfFailure"]["missing"]["value"],
        serde_json::json!([])
    );
    assert_eq!(
        ev["causeOfFailure"]["unexpected"]["value"],
        serde_json::json!(["5"])
    );
    assert_eq!(ev["scanParameter"], "");
    // Evidence Vigil cannot read as elements is the description, whole.
    let mut host = sample_host();
    host.postures.truncate(1);
    host.postures[0].evidence = Some("value < 14 and > 8".into());
    host.postures[0].cause_of_failure = None;
    host.postures[0].extended_evidence = None;
    let line = pc_host_line(&customer(), &CipsConfig::default(), &host).unwrap();
    let plain: Value = serde_json::from_str(
        json(&line)["policy"][0]["posture"][0]["evidence"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(plain["description"], "value < 14 and > 8");
    assert_eq!(plain["actualValues"], serde_json::json!([]));
    assert_eq!(plain["extendedEvidence"], "");
    assert_eq!(plain["causeOfFailure"]["missing"]["logic"], "");
    // The instance of the OS is `os`, as in the sample.
    assert_eq!(v["policy"][0]["posture"][0]["instance"], "os");
}

#[test]
fn the_cips_filter_picks_postures_and_evidence() {
    let mut host = sample_host();
    host.postures[0].status = Some("Failed".into());
    host.postures[0].fail_first_found = Some(t("2023-01-10T00:00:00Z"));
    host.postures.push(PostureRow {
        posture_id: 1,
        policy_id: 42,
        status: Some("Error".into()),
        instance: "MSSQL:MSSQLSERVER".into(),
        ..host.postures[1].clone()
    });
    let cips = |fail, pass, error, evidence| CipsConfig {
        include_fail_posture: fail,
        include_pass_posture: pass,
        include_error_posture: error,
        include_evidence_data: evidence,
        ..CipsConfig::default()
    };
    let statuses = |c: &CipsConfig| -> Vec<(i64, String)> {
        match pc_host_line(&customer(), c, &host) {
            None => vec![],
            Some(l) => {
                let v = json(&l);
                let mut out = vec![];
                for p in v["policy"].as_array().unwrap() {
                    for q in p["posture"].as_array().unwrap() {
                        out.push((
                            q["id"].as_i64().unwrap(),
                            q["posture"].as_str().unwrap().to_string(),
                        ));
                    }
                }
                out
            }
        }
    };
    assert_eq!(
        statuses(&cips(true, true, true, true)),
        vec![
            (1, "Error".into()),
            (25214933, "Passed".into()),
            (25214934, "Failed".into())
        ],
        "every posture, policies in ascending id"
    );
    assert_eq!(
        statuses(&cips(true, false, false, true)),
        vec![(25214934, "Failed".into())]
    );
    assert_eq!(
        statuses(&cips(false, true, false, true)),
        vec![(25214933, "Passed".into())]
    );
    assert_eq!(
        statuses(&cips(false, false, true, true)),
        vec![(1, "Error".into())]
    );
    assert!(pc_host_line(&customer(), &cips(false, false, false, true), &host).is_none());

    let line = pc_host_line(&customer(), &cips(true, true, true, false), &host).unwrap();
    assert_eq!(line.items, 3);
    let v = json(&line);
    assert_eq!(v["policy"].as_array().unwrap().len(), 2);
    assert_eq!(
        v["policy"][0]["posture"][0]["instance"],
        "MSSQL:MSSQLSERVER"
    );
    for p in v["policy"].as_array().unwrap() {
        for q in p["posture"].as_array().unwrap() {
            assert!(q["evidence"].is_null(), "includeEvidenceData=false: {q}");
            assert!(q.get("evidence").is_some(), "the key stays");
        }
    }
}

// --- VM ----------------------------------------------------------------------

fn detection(qid: i64, kind: DetectionType, severity: u8) -> QualysDetection {
    QualysDetection {
        host_id: 7,
        instance_id: Some("i-0abc".into()),
        qid,
        kind,
        severity,
        port: Some(443),
        protocol: Some("tcp".into()),
        ssl: true,
        status: DetectionStatus::Active,
        first_found: Some(t("2026-01-02T03:04:05Z")),
        last_found: Some(t("2026-11-20T10:00:00.250Z")),
        times_found: Some(12),
        last_fixed: None,
        results: Some("OpenSSL 1.0.2k".into()),
    }
}

fn vm_host() -> HostFindings {
    HostFindings {
        connector_id: "qualys-1".into(),
        account_name: "acme".into(),
        host: QualysHost {
            id: 7,
            asset_id: Some(70),
            ip: Some("10.0.0.7".into()),
            dns: Some("web-7".into()),
            netbios: Some("WEB7".into()),
            os: Some("Amazon Linux 2".into()),
            tracking_method: Some("EC2".into()),
            tags: vec!["prod".into()],
            cloud: Some(CloudSource {
                provider: "aws".into(),
                instance_id: "i-0abc".into(),
                account_id: Some("123456789012".into()),
                region: Some("eu-west-1".into()),
            }),
            last_vuln_scan: Some(t("2026-11-20T09:00:00Z")),
            ..Default::default()
        },
        detections: vec![
            detection(100, DetectionType::Confirmed, 5),
            detection(101, DetectionType::Confirmed, 2),
            detection(200, DetectionType::Potential, 4),
            detection(300, DetectionType::Info, 3),
        ],
    }
}

fn filter(min: u8, base: BaseCategory) -> VmFilter {
    VmFilter {
        min_severity: min,
        base_category: base,
        result_section_needed: false,
        send_vuln_info: false,
    }
}

fn qids(line: &Option<Line>) -> Vec<i64> {
    match line {
        None => vec![],
        Some(l) => json(l)["detections"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["qid"].as_i64().unwrap())
            .collect(),
    }
}

#[test]
fn vm_lines_follow_min_severity_and_base_category() {
    let h = vm_host();
    let kb = HashMap::new();
    let line = |min, base| vm_host_line(&customer(), &filter(min, base), &h, &kb);
    assert_eq!(qids(&line(3, BaseCategory::Confirmed)), vec![100]);
    assert_eq!(qids(&line(1, BaseCategory::Confirmed)), vec![100, 101]);
    assert_eq!(qids(&line(3, BaseCategory::Potential)), vec![100, 200]);
    assert_eq!(qids(&line(3, BaseCategory::Ig)), vec![100, 200, 300]);
    assert_eq!(qids(&line(4, BaseCategory::Ig)), vec![100, 200]);
    assert!(line(5, BaseCategory::Confirmed).is_some());
    let mut only_info = vm_host();
    only_info.detections = vec![detection(300, DetectionType::Info, 5)];
    assert!(
        vm_host_line(
            &customer(),
            &filter(1, BaseCategory::Potential),
            &only_info,
            &kb
        )
        .is_none(),
        "no detection passes: no line"
    );
    let l = line(1, BaseCategory::Ig).unwrap();
    assert_eq!(l.items, 4);
    assert_eq!(l.subject, "host:qualys-1:7");
}

#[test]
fn a_vm_line_carries_the_host_and_detection_fields() {
    let h = vm_host();
    let l = vm_host_line(
        &customer(),
        &filter(3, BaseCategory::Confirmed),
        &h,
        &HashMap::new(),
    )
    .unwrap();
    let v = json(&l);
    assert_eq!(v["hostId"], 7);
    assert_eq!(v["assetId"], 70);
    assert_eq!(v["ip"], "10.0.0.7");
    assert_eq!(v["dns"], "web-7");
    assert_eq!(v["netbios"], "WEB7");
    assert_eq!(v["os"], "Amazon Linux 2");
    assert_eq!(v["trackingMethod"], "EC2");
    assert_eq!(v["tags"], serde_json::json!(["prod"]));
    assert_eq!(v["cloud"]["provider"], "aws");
    assert_eq!(v["cloud"]["instanceId"], "i-0abc");
    assert_eq!(v["cloud"]["accountId"], "123456789012");
    assert_eq!(v["cloud"]["region"], "eu-west-1");
    assert_eq!(v["lastVulnScan"], "2026-11-20T09:00:00Z");
    assert_eq!(v["customerId"], 250021);
    assert_eq!(v["customerUuid"], "0a387e70-8b26-78ff-8145-017b816fa17f");
    assert!(v.get("ipv6").is_none() && v.get("fqdn").is_none(), "{v}");
    let d = &v["detections"][0];
    assert_eq!(d["qid"], 100);
    assert_eq!(d["type"], "Confirmed");
    assert_eq!(d["severity"], 5);
    assert_eq!(d["port"], 443);
    assert_eq!(d["protocol"], "tcp");
    assert_eq!(d["ssl"], true);
    assert_eq!(d["status"], "Active");
    assert_eq!(d["firstFound"], "2026-01-02T03:04:05Z");
    assert_eq!(d["lastFound"], "2026-11-20T10:00:00Z");
    assert_eq!(d["timesFound"], 12);
    assert!(d["lastFixed"].is_null());
    assert!(d.get("results").is_none(), "results only when asked: {d}");
    assert!(d.get("title").is_none(), "KB fields only when asked: {d}");
}

#[test]
fn results_and_vuln_info_only_when_asked() {
    let h = vm_host();
    let mut kb = HashMap::new();
    kb.insert(
        100,
        QualysKbEntry {
            qid: 100,
            vuln_type: Some("Vulnerability".into()),
            severity: Some(5),
            title: "OpenSSL Multiple Vulnerabilities".into(),
            category: Some("General remote services".into()),
            cves: vec!["CVE-2016-2107".into()],
            cvss_base: Some(7.5),
            cvss3_base: Some(9.8),
            solution: Some("Upgrade OpenSSL.".into()),
            patchable: true,
            ..Default::default()
        },
    );
    let f = VmFilter {
        result_section_needed: true,
        send_vuln_info: true,
        ..filter(3, BaseCategory::Potential)
    };
    let v = json(&vm_host_line(&customer(), &f, &h, &kb).unwrap());
    let d = &v["detections"][0];
    assert_eq!(d["results"], "OpenSSL 1.0.2k");
    assert_eq!(d["title"], "OpenSSL Multiple Vulnerabilities");
    assert_eq!(d["category"], "General remote services");
    assert_eq!(d["cveIds"], serde_json::json!(["CVE-2016-2107"]));
    assert_eq!(d["cvssBase"], 7.5);
    assert_eq!(d["cvss3Base"], 9.8);
    assert_eq!(d["patchable"], true);
    assert_eq!(d["solution"], "Upgrade OpenSSL.");
    // QID 200 is not in the knowledge base: its detection has no KB fields.
    let d = &v["detections"][1];
    assert_eq!(d["qid"], 200);
    assert!(d.get("title").is_none(), "{d}");
    assert_eq!(d["results"], "OpenSSL 1.0.2k");
}

#[test]
fn a_kb_line_is_the_full_entry() {
    let e = QualysKbEntry {
        qid: 38170,
        vuln_type: Some("Vulnerability".into()),
        severity: Some(2),
        title: "SSL Certificate - Subject Common Name Does Not Match".into(),
        category: Some("General remote services".into()),
        cves: vec![],
        cvss_base: None,
        cvss3_base: Some(5.3),
        diagnosis: Some("diag".into()),
        consequence: Some("cons".into()),
        solution: Some("sol".into()),
        patchable: false,
        published: Some(t("2005-01-01T00:00:00Z")),
        modified: Some(t("2024-06-01T12:00:00Z")),
    };
    let l = kb_line(&e);
    assert_eq!(l.subject, "kb:38170");
    assert_eq!(l.items, 1);
    let v = json(&l);
    assert_eq!(v["qid"], 38170);
    assert_eq!(v["title"], e.title);
    assert_eq!(v["vulnType"], "Vulnerability");
    assert_eq!(v["cveIds"], serde_json::json!([]));
    assert!(v["cvssBase"].is_null());
    assert_eq!(v["cvss3Base"], 5.3);
    assert_eq!(v["diagnosis"], "diag");
    assert_eq!(v["consequence"], "cons");
    assert_eq!(v["solution"], "sol");
    assert_eq!(v["patchable"], false);
    assert_eq!(v["published"], "2005-01-01T00:00:00Z");
    assert_eq!(v["modified"], "2024-06-01T12:00:00Z");
}

// --- OCSF --------------------------------------------------------------------

#[test]
fn the_ocsf_line_is_what_vigil_export_writes_with_the_stored_times() {
    use vigil_engine::Catalog;
    let catalog = Catalog::builtin().unwrap();
    let control = catalog.control(48).unwrap();
    let fail = control
        .fixtures
        .iter()
        .find(|f| f.expect == EvalResult::Fail)
        .unwrap();
    let r = &fail.resources[0];
    let engine = catalog.compile(Timestamp::default()).unwrap();
    let e = engine
        .evaluate(std::slice::from_ref(r), &|_| {})
        .into_iter()
        .find(|e| e.cid == 48)
        .unwrap();
    let first = t("2026-11-01T00:00:00Z");
    let last = t("2026-11-23T10:00:00Z");
    let expected = vigil_export::ocsf_finding(&e, r, &control.spec, last);
    let row = vigil_store::EvaluationRow {
        cid: 48,
        control: control.spec.title.clone(),
        criticality: control.spec.criticality,
        result: e.result,
        resource_id: r.id.clone(),
        resource_name: r.name.clone(),
        resource_type: r.resource_type.clone(),
        provider: r.provider,
        account: r.account.clone(),
        region: r.region.clone(),
        expected: e.evidence.expected.to_string(),
        actual: e.evidence.actual.clone(),
        message: e.evidence.message.to_string(),
        first_evaluated: first,
        last_evaluated: last,
        last_reopened: None,
        last_fixed: None,
    };
    let l = ocsf_line(&row);
    assert_eq!(l.subject, format!("eval:{}:48", r.id));
    assert_eq!(l.items, 1);
    let mut v = json(&l);
    assert_eq!(v["class_uid"], 2004);
    assert_eq!(
        v["finding_info"]["first_seen_time"],
        first.timestamp_millis()
    );
    assert_eq!(v["finding_info"]["last_seen_time"], last.timestamp_millis());
    // Everything vigil-export writes is there with the same value, but the
    // resource's labels (a stored evaluation does not carry tags).
    v["finding_info"]
        .as_object_mut()
        .unwrap()
        .retain(|k, _| !k.ends_with("_seen_time"));
    let mut expected = expected;
    expected["resources"][0]
        .as_object_mut()
        .unwrap()
        .remove("labels");
    assert_eq!(v, expected);
}

// --- objects -----------------------------------------------------------------

#[test]
fn content_hashes_are_fnv1a_and_stable() {
    // FNV-1a 64 test vectors, as signed numbers.
    assert_eq!(content_hash(b""), 0xcbf2_9ce4_8422_2325_u64 as i64);
    assert_eq!(content_hash(b"a"), 0xaf63_dc4c_8601_ec8c_u64 as i64);
    assert_eq!(content_hash(b"foobar"), 0x8594_4171_f739_67e8_u64 as i64);
    let l = vm_host_line(
        &customer(),
        &filter(1, BaseCategory::Ig),
        &vm_host(),
        &HashMap::new(),
    )
    .unwrap();
    let again = vm_host_line(
        &customer(),
        &filter(1, BaseCategory::Ig),
        &vm_host(),
        &HashMap::new(),
    )
    .unwrap();
    assert_eq!(content_hash(&l.json), content_hash(&again.json));
    let mut changed = vm_host();
    changed.detections[0].times_found = Some(13);
    let changed = vm_host_line(
        &customer(),
        &filter(1, BaseCategory::Ig),
        &changed,
        &HashMap::new(),
    )
    .unwrap();
    assert_ne!(content_hash(&l.json), content_hash(&changed.json));
}

#[test]
fn objects_are_json_lines_gzipped_when_asked() {
    let lines: [&[u8]; 2] = [b"{\"a\":1}", b"{\"b\":2}"];
    assert_eq!(pack(&lines, false), b"{\"a\":1}\n{\"b\":2}\n");
    let gz = pack(&lines, true);
    assert_eq!(&gz[..2], &[0x1f, 0x8b], "gzip magic");
    let mut out = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&gz[..]), &mut out).unwrap();
    assert_eq!(out, b"{\"a\":1}\n{\"b\":2}\n");
    assert_eq!(pack(&[], false), b"");
}

#[test]
fn keys_follow_the_seed_layout() {
    let at = t("2026-11-23T23:59:59Z");
    let k = object_key(VM_PREFIX, at, true);
    let rest = k.strip_prefix("qualys_vm_findings/2026-11-23/").unwrap();
    let uuid = rest.strip_suffix(".gz").unwrap();
    let parsed = uuid::Uuid::parse_str(uuid).unwrap();
    assert_eq!(parsed.get_version_num(), 4);
    assert_ne!(k, object_key(VM_PREFIX, at, true), "a new UUID each time");
    let k = object_key(PC_PREFIX, at, false);
    assert!(
        k.starts_with("qualys_pc_posture_info/2026-11-23/") && k.ends_with(".json"),
        "{k}"
    );
    // The date is UTC's.
    let late = chrono::FixedOffset::east_opt(5 * 3600)
        .unwrap()
        .with_ymd_and_hms(2026, 11, 24, 2, 0, 0)
        .unwrap()
        .to_utc();
    assert!(object_key(OCSF_PREFIX, late, true).starts_with("vigil_ocsf_findings/2026-11-23/"));
    assert_eq!(kb_key(38170, true), "vuln_info/vm/38170.gz");
    assert_eq!(kb_key(38170, false), "vuln_info/vm/38170.json");
    let (name, body) = test_file(false);
    assert_eq!(name, "test-file.json");
    let doc: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(doc["source"], "Vigil");
    let (name, body) = test_file(true);
    assert_eq!(name, "test-file.gz");
    assert_eq!(&body[..2], &[0x1f, 0x8b]);
    assert_eq!(
        content_headers(true),
        ("application/x-ndjson", Some("gzip"))
    );
    assert_eq!(content_headers(false), ("application/x-ndjson", None));
}
