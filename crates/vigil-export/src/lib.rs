//! Exchange formats for evaluations.
//!
//! [`ocsf_finding`] (and [`ocsf_of`], for evaluations read back from the
//! store) turns one evaluation into an OCSF 1.1 *Detection Finding*
//! (class 2004, category 2 "Findings"), the shape AWS Security Lake and most
//! SIEMs ingest, with the CloudView vocabulary kept in `unmapped`.

use serde_json::{json, Value};
use vigil_engine::{ControlSpec, Evaluation, MandateMapping};
use vigil_model::{Criticality, EvalResult, Provider, Resource, Timestamp};

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
    ocsf_of(&OcsfFacts {
        cid: control.cid,
        title: &control.title,
        desc: &control.evaluation,
        types: std::slice::from_ref(&control.service),
        criticality: control.criticality,
        result: e.result,
        message: &e.evidence.message,
        expected: &e.evidence.expected,
        actual: &e.evidence.actual,
        remediation: control.remediation.trim(),
        references: &control.references,
        mandates: &control.mandates,
        provider: r.provider,
        account: &r.account,
        region: &r.region,
        resource_id: &r.id,
        resource_name: &r.name,
        resource_type: &r.resource_type,
        labels: Some(r.tags.iter().map(|(k, v)| format!("{k}:{v}")).collect()),
        time,
        seen: None,
        last_reopened: None,
        last_fixed: None,
    })
}

/// What an OCSF Detection Finding says, from wherever the evaluation comes
/// (a run's `Evaluation`, a stored row).
#[derive(Debug, Clone)]
pub struct OcsfFacts<'a> {
    pub cid: u32,
    pub title: &'a str,
    /// The control's description (`finding_info.desc`, and `status_detail`
    /// when the evaluation has no message).
    pub desc: &'a str,
    /// `finding_info.types`: the control's service.
    pub types: &'a [String],
    pub criticality: Criticality,
    pub result: EvalResult,
    pub message: &'a str,
    pub expected: &'a str,
    pub actual: &'a str,
    pub remediation: &'a str,
    pub references: &'a [String],
    pub mandates: &'a [MandateMapping],
    pub provider: Provider,
    pub account: &'a str,
    pub region: &'a str,
    pub resource_id: &'a str,
    pub resource_name: &'a str,
    pub resource_type: &'a str,
    /// The resource's tags as `key:value` (omitted when `None`).
    pub labels: Option<Vec<String>>,
    /// When the evaluation was made.
    pub time: Timestamp,
    /// First and last evaluation (`finding_info.first_seen_time` /
    /// `last_seen_time`), when known.
    pub seen: Option<(Timestamp, Timestamp)>,
    /// `unmapped.last_reopened` / `last_fixed` (ISO-8601), when known.
    pub last_reopened: Option<Timestamp>,
    pub last_fixed: Option<Timestamp>,
}

/// The OCSF Detection Finding of `f`.
pub fn ocsf_of(f: &OcsfFacts<'_>) -> Value {
    let (severity_id, severity) = severity(f.criticality);
    // PASS closes a finding (status "Resolved"), FAIL opens it ("New"),
    // SKIP is informational ("Other").
    let (status_id, status) = match f.result {
        EvalResult::Fail => (1, "New"),
        EvalResult::Pass | EvalResult::Passe => (4, "Resolved"),
        EvalResult::Skip => (99, "Other"),
    };
    let mut finding = json!({
        "class_uid": 2004,
        "class_name": "Detection Finding",
        "category_uid": 2,
        "category_name": "Findings",
        "activity_id": 1,
        "activity_name": "Create",
        "type_uid": 200401,
        "type_name": "Detection Finding: Create",
        "time": f.time.timestamp_millis(),
        "severity_id": severity_id,
        "severity": severity,
        "status_id": status_id,
        "status": status,
        "status_code": f.result.as_str(),
        "status_detail": if f.message.is_empty() { f.desc } else { f.message },
        "message": format!("CID-{} {}: {}", f.cid, f.title, f.result),
        "metadata": {
            "version": OCSF_VERSION,
            "event_code": format!("CID-{}", f.cid),
            "product": {"name": "Vigil", "vendor_name": "Vigil", "version": env!("CARGO_PKG_VERSION")},
        },
        "finding_info": {
            "uid": format!("vigil-{}-{}-{}", f.cid, f.account, f.resource_id),
            "title": f.title,
            "desc": f.desc,
            "types": f.types,
        },
        "cloud": {
            "provider": f.provider.as_str().to_uppercase(),
            "region": f.region,
            "account": {"uid": f.account, "type": "AWS Account", "type_id": 10},
        },
        "resources": [{
            "uid": f.resource_id,
            "name": f.resource_name,
            "type": f.resource_type,
            "region": f.region,
            "cloud_partition": f.provider.as_str(),
        }],
        "remediation": {
            "desc": f.remediation,
            "references": f.references,
        },
        "unmapped": {
            "cid": f.cid,
            "criticality": f.criticality.as_str(),
            "expected": f.expected,
            "actual": f.actual,
            "mandates": f.mandates.iter().map(|m| json!({"mandate": m.mandate, "requirements": m.requirements})).collect::<Vec<_>>(),
        },
    });
    if let Some(labels) = &f.labels {
        finding["resources"][0]["labels"] = json!(labels);
    }
    if let Some((first, last)) = f.seen {
        finding["finding_info"]["first_seen_time"] = json!(first.timestamp_millis());
        finding["finding_info"]["last_seen_time"] = json!(last.timestamp_millis());
    }
    let iso = |t: Timestamp| t.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    if let Some(t) = f.last_reopened {
        finding["unmapped"]["last_reopened"] = json!(iso(t));
    }
    if let Some(t) = f.last_fixed {
        finding["unmapped"]["last_fixed"] = json!(iso(t));
    }
    finding
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

/// One failed evaluation with what SARIF needs to place it.
pub struct SarifItem<'a> {
    pub evaluation: &'a Evaluation,
    pub resource: &'a Resource,
    pub control: &'a ControlSpec,
    /// The file, relative to the scanned root, with `/` separators.
    pub file: String,
    pub line: u32,
    /// The last line of the resource; 0 when unknown.
    pub end_line: u32,
}

fn security_severity(c: Criticality) -> (&'static str, &'static str) {
    // GitHub maps security-severity to levels: >= 7 high, >= 4 medium.
    match c {
        Criticality::High => ("8.0", "error"),
        Criticality::Medium => ("5.0", "warning"),
        Criticality::Low => ("3.0", "note"),
    }
}

/// A stable fingerprint of a finding: the rule and the resource address,
/// hashed (FNV-1a), so that code scanning tracks it across commits.
fn fingerprint(rule: &str, address: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in rule.bytes().chain([b'|']).chain(address.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// A SARIF region: the resource's lines, its first line when the last is
/// not known.
fn region(line: u32, end_line: u32) -> Value {
    let start = line.max(1);
    if end_line > start {
        json!({"startLine": start, "endLine": end_line})
    } else {
        json!({"startLine": start})
    }
}

/// SARIF 2.1.0 for code scanning: one rule per control that failed, one
/// result per failed evaluation, at the resource's file and line.
pub fn sarif(items: &[SarifItem<'_>]) -> Value {
    let mut rules: Vec<Value> = Vec::new();
    let mut index: std::collections::BTreeMap<u32, usize> = std::collections::BTreeMap::new();
    let mut results = Vec::new();
    for item in items {
        let c = item.control;
        let (severity, level) = security_severity(c.criticality);
        let rule_id = format!("CID-{}", c.cid);
        let rule_index = *index.entry(c.cid).or_insert_with(|| {
            rules.push(json!({
                "id": rule_id,
                "name": c.title,
                "shortDescription": {"text": c.title},
                "fullDescription": {"text": c.evaluation},
                "help": {"text": if c.remediation.trim().is_empty() { c.evaluation.as_str() } else { c.remediation.trim() }},
                "helpUri": c.references.first().cloned().unwrap_or_else(|| "https://github.com/vigil-security/vigil".into()),
                "defaultConfiguration": {"level": level},
                "properties": {
                    "security-severity": severity,
                    "tags": ["security", c.service.to_lowercase()],
                },
            }));
            rules.len() - 1
        });
        let e = item.evaluation;
        results.push(json!({
            "ruleId": rule_id,
            "ruleIndex": rule_index,
            "level": level,
            "message": {"text": format!(
                "{} ({}): expected {}{}",
                c.title,
                item.resource.id,
                e.evidence.expected,
                if e.evidence.actual.is_empty() { String::new() } else { format!(", found {}", e.evidence.actual) }
            )},
            "locations": [{
                "physicalLocation": {
                    "artifactLocation": {"uri": item.file},
                    "region": region(item.line, item.end_line),
                }
            }],
            "partialFingerprints": {"vigilFindingId/v1": fingerprint(&rule_id, &item.resource.id)},
        }));
    }
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "Vigil",
                "version": env!("CARGO_PKG_VERSION"),
                "informationUri": "https://github.com/vigil-security/vigil",
                "rules": rules,
            }},
            "results": results,
        }],
    })
}

#[cfg(test)]
mod sarif_tests {
    use super::*;
    use vigil_engine::Catalog;

    #[test]
    fn failed_evaluations_become_results_with_rules_and_stable_fingerprints() {
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
        let item = |line| SarifItem {
            evaluation: &e,
            resource: r,
            control: &control.spec,
            file: "infra/main.tf".into(),
            line,
            end_line: if line == 4 { 12 } else { 0 },
        };
        let doc = sarif(&[item(4), item(9)]);
        assert_eq!(doc["version"], "2.1.0");
        let run = &doc["runs"][0];
        assert_eq!(
            run["tool"]["driver"]["rules"].as_array().unwrap().len(),
            1,
            "one rule per control"
        );
        assert_eq!(
            run["tool"]["driver"]["rules"][0]["properties"]["security-severity"],
            "8.0"
        );
        let results = run["results"].as_array().unwrap();
        assert_eq!(results.len(), 2);
        assert_eq!(results[0]["ruleId"], "CID-48");
        assert_eq!(
            results[0]["locations"][0]["physicalLocation"]["region"]["startLine"],
            4
        );
        assert_eq!(
            results[0]["locations"][0]["physicalLocation"]["region"]["endLine"],
            12
        );
        assert!(results[1]["locations"][0]["physicalLocation"]["region"]
            .get("endLine")
            .is_none());
        assert_eq!(
            results[0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            "infra/main.tf"
        );
        assert_eq!(
            results[0]["partialFingerprints"]["vigilFindingId/v1"],
            results[1]["partialFingerprints"]["vigilFindingId/v1"],
            "same rule and resource, same fingerprint"
        );
        assert_ne!(fingerprint("CID-48", "a"), fingerprint("CID-48", "b"));
    }
}

/// One evaluation for a JUnit report.
pub struct JunitCase<'a> {
    pub evaluation: &'a Evaluation,
    pub resource: &'a Resource,
    pub control: &'a ControlSpec,
    /// Where the resource is declared, e.g. `infra/main.tf:12`.
    pub location: String,
}

fn xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Characters XML 1.0 cannot carry at all.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => {}
            c => out.push(c),
        }
    }
    out
}

/// A JUnit XML report for CI systems: one test suite named after the scan,
/// one test case per evaluation (`CID-48 aws_s3_bucket.logs`); failures carry
/// the criticality as their type and the evidence as their text; skips carry
/// the reason.
pub fn junit(suite: &str, cases: &[JunitCase<'_>]) -> String {
    let failures = cases
        .iter()
        .filter(|c| c.evaluation.result == EvalResult::Fail)
        .count();
    let skipped = cases
        .iter()
        .filter(|c| c.evaluation.result == EvalResult::Skip)
        .count();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str(&format!(
        "<testsuites name=\"vigil\" tests=\"{}\" failures=\"{failures}\" skipped=\"{skipped}\">\n",
        cases.len()
    ));
    out.push_str(&format!(
        "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" skipped=\"{skipped}\">\n",
        xml(suite),
        cases.len()
    ));
    for c in cases {
        let e = c.evaluation;
        out.push_str(&format!(
            "    <testcase name=\"{}\" classname=\"{}\" file=\"{}\">",
            xml(&format!(
                "CID-{} {} {}",
                c.control.cid, c.resource.id, c.control.title
            )),
            xml(&c.resource.resource_type),
            xml(&c.location)
        ));
        match e.result {
            EvalResult::Fail => out.push_str(&format!(
                "\n      <failure type=\"{}\" message=\"{}\">{}</failure>\n    ",
                c.control.criticality,
                xml(&c.control.evaluation),
                xml(&format!(
                    "{}: expected {}; actual {}",
                    c.location,
                    e.evidence.expected,
                    if e.evidence.actual.is_empty() {
                        "-"
                    } else {
                        &e.evidence.actual
                    }
                ))
            )),
            EvalResult::Skip => out.push_str(&format!(
                "\n      <skipped message=\"{}\"/>\n    ",
                xml(&e.evidence.message)
            )),
            _ => {}
        }
        out.push_str("</testcase>\n");
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}

#[cfg(test)]
mod junit_tests {
    use super::*;
    use vigil_engine::Catalog;

    #[test]
    fn failures_and_skips_are_counted_and_text_is_escaped() {
        let catalog = Catalog::builtin().unwrap();
        let control = catalog.control(48).unwrap();
        let engine = catalog.compile(Timestamp::default()).unwrap();
        let mut fail = control
            .fixtures
            .iter()
            .find(|f| f.expect == EvalResult::Fail)
            .unwrap()
            .resources[0]
            .clone();
        fail.id = "aws_s3_bucket.a<b>".into();
        let mut skip = fail.clone();
        skip.attributes.clear();
        let pass = control
            .fixtures
            .iter()
            .find(|f| f.expect == EvalResult::Pass)
            .unwrap()
            .resources[0]
            .clone();
        let resources = vec![fail, skip, pass];
        let evals: Vec<Evaluation> = engine
            .evaluate(&resources, &|_| {})
            .into_iter()
            .filter(|e| e.cid == 48)
            .collect();
        let cases: Vec<JunitCase<'_>> = evals
            .iter()
            .map(|e| JunitCase {
                evaluation: e,
                resource: &resources[e.resource],
                control: &control.spec,
                location: "main.tf:3".into(),
            })
            .collect();
        let text = junit("scan & co", &cases);
        assert!(
            text.contains(
                "<testsuite name=\"scan &amp; co\" tests=\"3\" failures=\"1\" skipped=\"1\">"
            ),
            "{text}"
        );
        assert!(text.contains("aws_s3_bucket.a&lt;b&gt;"), "{text}");
        assert!(text.contains("<failure type=\"HIGH\""), "{text}");
        assert!(
            text.contains("<skipped message=\"attribute `versioning` was not collected"),
            "{text}"
        );
        assert!(!text.contains("a<b>"), "{text}");
    }
}
