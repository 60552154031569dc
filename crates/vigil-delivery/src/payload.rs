//! The objects Vigil writes to a customer's bucket. Pure: no I/O.
//!
//! Every object is JSON Lines (one JSON document per line, each a host, a
//! QID or a finding), gzip-compressed when the integration's `compressData`
//! is true. Keys follow seed 000's "Findings and Insights":
//! `qualys_vm_findings/<YYYY-MM-DD>/<UUID>.json|.gz`, `vuln_info/vm/…`,
//! `qualys_pc_posture_info/<YYYY-MM-DD>/<UUID>.json|.gz`, and for OCSF
//! `vigil_ocsf_findings/<YYYY-MM-DD>/<UUID>.json|.gz`.

use std::collections::HashMap;
use vigil_model::qualys::QualysKbEntry;
use vigil_model::Timestamp;
use vigil_store::delivery::{
    BaseCategory, CipsConfig, HostFindings, HostPostures, IntegrationSettings,
};
use vigil_store::EvaluationRow;

/// The folder of VM findings.
pub const VM_PREFIX: &str = "qualys_vm_findings";
/// The folder of vulnerability information (knowledge base), when
/// `sendVulnInfo`.
pub const VULN_INFO_PREFIX: &str = "vuln_info/vm";
/// The folder of PC posture.
pub const PC_PREFIX: &str = "qualys_pc_posture_info";
/// The folder of Vigil's OCSF Detection Findings.
pub const OCSF_PREFIX: &str = "vigil_ocsf_findings";

/// Who the data belongs to, as seed 000 shows it on every host
/// (`customerId`, `customerUuid`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Customer {
    pub customer_id: i64,
    pub customer_uuid: String,
}

/// What a VM integration sends (seed 000's `minSeverity`, `baseCategory`,
/// `resultSectionNeeded`, `sendVulnInfo`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VmFilter {
    pub min_severity: u8,
    pub base_category: BaseCategory,
    pub result_section_needed: bool,
    pub send_vuln_info: bool,
}

impl VmFilter {
    pub fn from_settings(settings: &IntegrationSettings) -> VmFilter {
        VmFilter {
            min_severity: settings.min_severity,
            base_category: settings.base_category,
            result_section_needed: settings.result_section_needed,
            send_vuln_info: settings.send_vuln_info,
        }
    }
}

/// One line of an object: the JSON of one subject (no newline).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// What the line is about, unique within an integration: `host:<connector>:<host id>`,
    /// `kb:<qid>`, `eval:<resource id>:<cid>`.
    pub subject: String,
    pub json: Vec<u8>,
    /// Findings (or postures) in the line.
    pub items: u32,
}

/// The line of a host's VM findings that pass `filter`; `None` when none
/// does. KB fields come from `kb` when `filter.send_vuln_info`.
pub fn vm_host_line(
    _customer: &Customer,
    _filter: &VmFilter,
    _host: &HostFindings,
    _kb: &HashMap<i64, QualysKbEntry>,
) -> Option<Line> {
    None
}

/// The line of one knowledge-base entry (`vuln_info/vm/`).
pub fn kb_line(_entry: &QualysKbEntry) -> Line {
    Line {
        subject: String::new(),
        json: Vec::new(),
        items: 0,
    }
}

/// The line of a host's PC posture in seed 000's sample shape, with the
/// postures the CIPS filter lets through; `None` when none does.
pub fn pc_host_line(
    _customer: &Customer,
    _cips: &CipsConfig,
    _host: &HostPostures,
) -> Option<Line> {
    None
}

/// The line of one evaluation as an OCSF Detection Finding (class 2004).
pub fn ocsf_line(_row: &EvaluationRow) -> Line {
    Line {
        subject: String::new(),
        json: Vec::new(),
        items: 0,
    }
}

/// A stable 64-bit hash of a line's bytes (same bytes, same hash, on every
/// platform and version).
pub fn content_hash(_json: &[u8]) -> i64 {
    0
}

/// The object's bytes: the lines joined by newlines (with a final one),
/// gzip-compressed when `compress`.
pub fn pack(_lines: &[&[u8]], _compress: bool) -> Vec<u8> {
    Vec::new()
}

/// A new object key: `<prefix>/<YYYY-MM-DD of at, UTC>/<UUID>.gz` or `.json`.
pub fn object_key(_prefix: &str, _at: Timestamp, _compress: bool) -> String {
    String::new()
}

/// The key of a knowledge-base entry: `vuln_info/vm/<qid>.json|.gz`.
pub fn kb_key(_qid: i64, _compress: bool) -> String {
    String::new()
}

/// The validation file: (`test-file.gz` or `test-file.json`, its bytes).
pub fn test_file(_compress: bool) -> (String, Vec<u8>) {
    (String::new(), Vec::new())
}

/// `application/x-ndjson`, and `Some("gzip")` as content encoding when
/// compressed.
pub fn content_headers(compress: bool) -> (&'static str, Option<&'static str>) {
    ("application/x-ndjson", compress.then_some("gzip"))
}
