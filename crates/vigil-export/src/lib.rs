//! Exchange formats for evaluations.
//!
//! [`ocsf_finding`] turns one evaluation into an OCSF 1.1 *Detection Finding*
//! (class 2004, category 2 "Findings"), the shape AWS Security Lake and most
//! SIEMs ingest, with the CloudView vocabulary kept in `unmapped`.

use serde_json::{json, Value};
use vigil_engine::{ControlSpec, Evaluation};
use vigil_model::{Criticality, EvalResult, Resource, Timestamp};

/// The OCSF schema version the findings follow.
pub const OCSF_VERSION: &str = "1.1.0";

fn severity(c: Criticality) -> (u8, &'static str) {
    match c {
        Criticality::High => (4, "High"),
        Criticality::Medium => (3, "Medium"),
        Criticality::Low => (2, "Low"),
    }
}

/// One evaluation as an OCSF Detection Finding. `time` is when the run
/// evaluated it.
pub fn ocsf_finding(e: &Evaluation, r: &Resource, control: &ControlSpec, time: Timestamp) -> Value {
    let (severity_id, severity) = severity(control.criticality);
    // PASS closes a finding (status "Resolved"), FAIL opens it ("New"),
    // SKIP is informational ("Other").
    let (status_id, status) = match e.result {
        EvalResult::Fail => (1, "New"),
        EvalResult::Pass | EvalResult::Passe => (4, "Resolved"),
        EvalResult::Skip => (99, "Other"),
    };
    let provider = r.provider.as_str().to_uppercase();
    json!({
        "class_uid": 2004,
        "class_name": "Detection Finding",
        "category_uid": 2,
        "category_name": "Findings",
        "activity_id": 1,
        "activity_name": "Create",
        "type_uid": 200401,
        "type_name": "Detection Finding: Create",
        "time": time.timestamp_millis(),
        "severity_id": severity_id,
        "severity": severity,
        "status_id": status_id,
        "status": status,
        "status_code": e.result.as_str(),
        "status_detail": if e.evidence.message.is_empty() { control.evaluation.as_str() } else { &*e.evidence.message },
        "message": format!("CID-{} {}: {}", control.cid, control.title, e.result),
        "metadata": {
            "version": OCSF_VERSION,
            "event_code": format!("CID-{}", control.cid),
            "product": {"name": "Vigil", "vendor_name": "Vigil", "version": env!("CARGO_PKG_VERSION")},
        },
        "finding_info": {
            "uid": format!("vigil-{}-{}-{}", control.cid, r.account, r.id),
            "title": control.title,
            "desc": control.evaluation,
            "types": [control.service.clone()],
        },
        "cloud": {
            "provider": provider,
            "region": r.region,
            "account": {"uid": r.account, "type": "AWS Account", "type_id": 10},
        },
        "resources": [{
            "uid": r.id,
            "name": r.name,
            "type": r.resource_type,
            "region": r.region,
            "cloud_partition": r.provider.as_str(),
            "labels": r.tags.iter().map(|(k, v)| format!("{k}:{v}")).collect::<Vec<_>>(),
        }],
        "remediation": {
            "desc": control.remediation.trim(),
            "references": control.references,
        },
        "unmapped": {
            "cid": control.cid,
            "criticality": control.criticality.as_str(),
            "expected": &*e.evidence.expected,
            "actual": e.evidence.actual,
            "mandates": control.mandates.iter().map(|m| json!({"mandate": m.mandate, "requirements": m.requirements})).collect::<Vec<_>>(),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_engine::Catalog;

    #[test]
    fn a_failed_evaluation_is_a_new_high_detection_finding() {
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
        let f = ocsf_finding(&e, r, &control.spec, Timestamp::default());
        assert_eq!(f["class_uid"], 2004);
        assert_eq!(f["type_uid"], 200401);
        assert_eq!(f["severity_id"], 4);
        assert_eq!(f["status_code"], "FAIL");
        assert_eq!(f["status"], "New");
        assert_eq!(f["resources"][0]["uid"], r.id.as_str());
        assert_eq!(f["cloud"]["provider"], "AWS");
        assert_eq!(f["unmapped"]["expected"], "Versioning Status Enabled");
        assert_eq!(f["metadata"]["event_code"], "CID-48");
    }
}
