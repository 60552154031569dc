//! The scan response document: what `vigil iac scan -m json` prints, `-s`
//! saves as `scan_response_<scanId>.json`, the store keeps, and
//! `getresult` reads back. Every other output (table, CSV, SARIF, JUnit,
//! OCSF) is rendered from it, so a scan and its `getresult` print the same.

use serde::{Deserialize, Serialize};
use std::sync::Arc;
use vigil_engine::{Evaluation, Evidence};
use vigil_model::{Criticality, EvalResult, Origin, Provider, Resource};

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
