//! The scan response document: what `vigil iac scan -m json` prints, `-s`
//! saves as `scan_response_<scanId>.json`, the store keeps, `getresult`
//! reads back and the server's IaC API answers. Every other output (table,
//! CSV, SARIF, JUnit, OCSF) is rendered from it, so a scan and its
//! `getresult` print the same, locally or through a server.
//!
//! [`build`] makes the document of evaluated resources; [`scan`] does the
//! whole scan of gathered sources (read, evaluate, build), as the server
//! runs it.

use crate::source::Gathered;
use crate::terraform::TfInputs;
use crate::{Kind, Scanned};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use vigil_engine::{Catalog, Evaluation, Evidence};
use vigil_model::{Criticality, EvalResult, Origin, Provider, Resource, Timestamp};

/// One scan and its results, grouped by check type as Qualys IaC and
/// Checkov group them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Document {
    pub scan_uuid: String,
    pub name: String,
    /// `FINISHED`, or `FINISHED_WITH_ERRORS` when files could not be read.
    pub status: String,
    /// RFC 3339.
    pub created_on: String,
    /// The scan's tags (`-g`), e.g. `[{"env": "linux"}]`.
    pub tags: serde_json::Value,
    pub paths: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    pub summary: Summary,
    pub result: Vec<CheckTypeResult>,
    pub parsing_errors: Vec<ParsingError>,
}

/// The counts of a scan.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub files: u64,
    pub resources: u64,
    pub parsing_errors: u64,
    pub passed: u64,
    pub failed: u64,
    pub skipped: u64,
    pub failed_high: u64,
    pub failed_medium: u64,
    pub failed_low: u64,
}

/// The checks of one kind of input: `terraform`, `terraform_plan`,
/// `cloudformation`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckTypeResult {
    pub check_type: String,
    pub results: Checks,
}

/// The checks of one check type, by result.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Checks {
    pub failed_checks: Vec<Check>,
    pub passed_checks: Vec<Check>,
    pub skipped_checks: Vec<Check>,
}

/// One control on one resource.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Check {
    pub control_id: u32,
    pub check_name: String,
    pub criticality: Criticality,
    /// `PASSED`, `FAILED` or `SKIPPED`.
    pub result: String,
    pub resource: String,
    pub resource_type: String,
    pub resource_name: String,
    pub file_path: String,
    /// First and last line of the resource.
    pub file_line_range: [u32; 2],
    pub expected: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub actual: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
}

/// A file that could not be read (line 0: the whole file or archive).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParsingError {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// The result words of the document.
pub fn result_word(r: EvalResult) -> &'static str {
    match r {
        EvalResult::Pass | EvalResult::Passe => "PASSED",
        EvalResult::Fail => "FAILED",
        EvalResult::Skip => "SKIPPED",
    }
}

fn result_of(word: &str) -> EvalResult {
    match word {
        "PASSED" => EvalResult::Pass,
        "FAILED" => EvalResult::Fail,
        _ => EvalResult::Skip,
    }
}

impl Document {
    /// Every check, failed first, then passed, then skipped, by check type.
    pub fn checks(&self) -> impl Iterator<Item = &Check> {
        self.result.iter().flat_map(|t| {
            t.results
                .failed_checks
                .iter()
                .chain(&t.results.passed_checks)
                .chain(&t.results.skipped_checks)
        })
    }

    /// Whether a failed check reaches `threshold` (criticality orders
    /// HIGH < MEDIUM < LOW, so "at or above" is `<=`); never without one.
    pub fn fails_at(&self, threshold: Option<Criticality>) -> bool {
        let Some(t) = threshold else { return false };
        self.result
            .iter()
            .flat_map(|r| &r.results.failed_checks)
            .any(|c| c.criticality <= t)
    }

    /// Keeps only failed checks (`-q`).
    pub fn only_failed(&mut self) {
        for t in &mut self.result {
            t.results.passed_checks.clear();
            t.results.skipped_checks.clear();
        }
    }

    /// The checks as resources and evaluations, for the exporters that take
    /// those (SARIF, JUnit, OCSF). Resources carry what the document keeps:
    /// id, name, type and location.
    pub fn evaluations(&self) -> (Vec<Resource>, Vec<Evaluation>) {
        let mut resources = Vec::new();
        let mut evaluations = Vec::new();
        for c in self.checks() {
            let mut r = Resource {
                provider: Provider::Aws,
                account: String::new(),
                region: String::new(),
                service: String::new(),
                resource_type: c.resource_type.clone(),
                id: c.resource.clone(),
                name: c.resource_name.clone(),
                tags: Default::default(),
                attributes: Default::default(),
                associations: Vec::new(),
                uncollected: Default::default(),
                suppressed: Default::default(),
                first_discovered: None,
                last_updated: None,
                origin: Origin::Iac {
                    file: c.file_path.clone(),
                    line: c.file_line_range[0],
                    end_line: c.file_line_range[1],
                },
            };
            r.service = c
                .resource_type
                .split('.')
                .nth(1)
                .unwrap_or_default()
                .to_uppercase();
            evaluations.push(Evaluation {
                resource: resources.len(),
                cid: c.control_id,
                result: result_of(&c.result),
                evidence: Evidence {
                    expected: Arc::from(c.expected.as_str()),
                    actual: c.actual.clone(),
                    message: Arc::from(c.message.as_str()),
                },
            });
            resources.push(r);
        }
        (resources, evaluations)
    }
}

/// What a scan is called and was given, for its document.
#[derive(Debug, Clone, Default)]
pub struct Meta {
    pub name: String,
    /// The paths scanned, as given.
    pub paths: Vec<String>,
    /// The policy the controls were restricted to.
    pub policy: Option<String>,
    /// The scan's tags, a JSON array of objects.
    pub tags: serde_json::Value,
}

/// The document of a finished scan: `evaluations` of `scanned.resources`
/// by `catalog`'s controls at `now`, under a new scan id.
pub fn build(
    meta: Meta,
    scanned: &Scanned,
    catalog: &Catalog,
    evaluations: &[Evaluation],
    now: Timestamp,
) -> Document {
    let kinds: HashMap<&str, Kind> = scanned
        .files
        .iter()
        .map(|(f, k)| (f.as_str(), *k))
        .collect();
    let check_type = |file: &str| {
        kinds
            .get(file)
            .copied()
            .unwrap_or(Kind::Terraform)
            .check_type()
    };
    let mut by_type: BTreeMap<&str, Checks> = BTreeMap::new();
    let mut summary = Summary {
        files: scanned.files.len() as u64,
        resources: scanned.resources.len() as u64,
        parsing_errors: scanned.errors.len() as u64,
        ..Default::default()
    };
    for e in evaluations {
        let r = &scanned.resources[e.resource];
        let Some(c) = catalog.control(e.cid) else {
            continue;
        };
        let (file, line, end_line) = match &r.origin {
            Origin::Iac {
                file,
                line,
                end_line,
            } => (file.clone(), *line, (*end_line).max(*line)),
            _ => (String::new(), 0, 0),
        };
        let check = Check {
            control_id: e.cid,
            check_name: c.spec.title.clone(),
            criticality: c.spec.criticality,
            result: result_word(e.result).into(),
            resource: r.id.clone(),
            resource_type: r.resource_type.clone(),
            resource_name: r.name.clone(),
            file_path: file.clone(),
            file_line_range: [line, end_line],
            expected: e.evidence.expected.to_string(),
            actual: e.evidence.actual.clone(),
            message: e.evidence.message.to_string(),
        };
        let checks = by_type.entry(check_type(&file)).or_default();
        match e.result {
            EvalResult::Pass | EvalResult::Passe => {
                summary.passed += 1;
                checks.passed_checks.push(check);
            }
            EvalResult::Fail => {
                summary.failed += 1;
                match c.spec.criticality {
                    Criticality::High => summary.failed_high += 1,
                    Criticality::Medium => summary.failed_medium += 1,
                    Criticality::Low => summary.failed_low += 1,
                }
                checks.failed_checks.push(check);
            }
            EvalResult::Skip => {
                summary.skipped += 1;
                checks.skipped_checks.push(check);
            }
        }
    }
    Document {
        scan_uuid: uuid::Uuid::new_v4().to_string(),
        name: meta.name,
        status: if scanned.errors.is_empty() {
            "FINISHED"
        } else {
            "FINISHED_WITH_ERRORS"
        }
        .into(),
        created_on: now.to_rfc3339(),
        tags: meta.tags,
        paths: meta.paths,
        policy: meta.policy,
        summary,
        result: by_type
            .into_iter()
            .map(|(t, results)| CheckTypeResult {
                check_type: t.to_string(),
                results,
            })
            .collect(),
        parsing_errors: scanned
            .errors
            .iter()
            .map(|e| ParsingError {
                file: e.file.clone(),
                line: e.line,
                column: e.column,
                message: e.message.clone(),
            })
            .collect(),
    }
}

/// Scans gathered sources with `catalog` (restricted to `meta.policy` when
/// given) at `now`: reads them, evaluates every resource and builds the
/// document. Errors are the policy's or the catalogue's (a bad policy name).
pub fn scan(
    gathered: Gathered,
    inputs: &TfInputs,
    catalog: &Catalog,
    meta: Meta,
    now: Timestamp,
) -> Result<Document, String> {
    let restricted;
    let catalog = match &meta.policy {
        Some(p) => {
            let mut c = catalog.clone();
            c.restrict_to_policy(p)?;
            restricted = c;
            &restricted
        }
        None => catalog,
    };
    let engine = catalog.compile(now).map_err(|e| e.to_string())?;
    let scanned = crate::scan(gathered, inputs);
    let evaluations = engine.evaluate(&scanned.resources, &|_| {});
    Ok(build(meta, &scanned, catalog, &evaluations, now))
}

/// Parses a scan's tags: a JSON array of objects with string values (or one
/// such object), e.g. `[{"env": "linux"}, {"team": "infra"}]`. The error
/// says what is wrong, without the text.
pub fn parse_tags(text: &str) -> Result<serde_json::Value, String> {
    let v: serde_json::Value = serde_json::from_str(text).map_err(|e| format!("not JSON ({e})"))?;
    let items = match v {
        serde_json::Value::Array(items) => items,
        o @ serde_json::Value::Object(_) => vec![o],
        _ => return Err("not a JSON array of objects".into()),
    };
    for item in &items {
        let Some(o) = item.as_object() else {
            return Err(format!("{item} is not an object"));
        };
        if let Some((k, _)) = o.iter().find(|(_, v)| !v.is_string()) {
            return Err(format!("the value of {k:?} is not a string"));
        }
    }
    Ok(serde_json::Value::Array(items))
}
