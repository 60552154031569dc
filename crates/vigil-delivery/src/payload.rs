//! The objects Vigil writes to a customer's bucket. Pure: no I/O.
//!
//! Every object is JSON Lines (one JSON document per line, each a host, a
//! QID or a finding), gzip-compressed when the integration's `compressData`
//! is true. Keys follow seed 000's "Findings and Insights":
//! `qualys_vm_findings/<YYYY-MM-DD>/<UUID>.json|.gz`, `vuln_info/vm/…`,
//! `qualys_pc_posture_info/<YYYY-MM-DD>/<UUID>.json|.gz`, and for OCSF
//! `vigil_ocsf_findings/<YYYY-MM-DD>/<UUID>.json|.gz`.
//!
//! docs/s3-objects.md describes every line's fields with an example.
//!
//! The VM line is the hot path (hundreds of thousands of findings a
//! second): it is written by `serde_json::to_writer` from structs that
//! borrow from the stored records, with no intermediate JSON tree.

use chrono::{Datelike, Timelike};
use flate2::write::GzEncoder;
use flate2::Compression;
use serde::ser::{SerializeSeq, SerializeStruct};
use serde::{Serialize, Serializer};
use std::collections::HashMap;
use std::io::Write;
use std::sync::OnceLock;
use vigil_model::qualys::{DetectionType, QualysDetection, QualysHost, QualysKbEntry};
use vigil_model::Timestamp;
use vigil_store::delivery::{
    BaseCategory, CipsConfig, HostFindings, HostPostures, IntegrationSettings, PostureRow,
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

/// The gzip level of objects. Measured on VM lines (flate2 1.1 with
/// miniz_oxide, release, one core): level 1 compresses 10:1 at ~440 MB/s
/// (2.0M findings/s), level 2 16:1 at ~210 MB/s (1.0M findings/s), the
/// default level 6 29:1 at ~130 MB/s. Level 2 keeps gzip well above the
/// 200,000 findings/s budget while writing 40% fewer bytes than level 1.
const GZIP_LEVEL: u32 = 2;

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
    /// The filter of an integration's settings.
    pub fn from_settings(settings: &IntegrationSettings) -> VmFilter {
        VmFilter {
            min_severity: settings.min_severity,
            base_category: settings.base_category,
            result_section_needed: settings.result_section_needed,
            send_vuln_info: settings.send_vuln_info,
        }
    }

    /// Whether a detection is sent: severity at least `minSeverity`, and a
    /// type `baseCategory` includes (Confirmed: Confirmed; Potential: and
    /// Potential; IG: and Information Gathered).
    pub fn passes(&self, d: &QualysDetection) -> bool {
        d.severity >= self.min_severity
            && match d.kind {
                DetectionType::Confirmed => true,
                DetectionType::Potential => {
                    matches!(
                        self.base_category,
                        BaseCategory::Potential | BaseCategory::Ig
                    )
                }
                DetectionType::Info => self.base_category == BaseCategory::Ig,
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

// --- time --------------------------------------------------------------------

/// A time as seed 000 writes it: ISO-8601 in UTC to the second,
/// `2023-01-13T07:08:18Z`.
#[derive(Clone, Copy)]
struct Iso(Timestamp);

impl Iso {
    fn opt(t: Option<Timestamp>) -> Option<Iso> {
        t.map(Iso)
    }
}

/// Writes `2023-01-13T07:08:18Z` into `buf`; `None` for years beyond four
/// digits.
fn iso_bytes(t: &Timestamp, buf: &mut [u8; 20]) -> Option<()> {
    let year = t.year();
    if !(0..=9999).contains(&year) {
        return None;
    }
    let put = |buf: &mut [u8; 20], at: usize, v: u32, digits: usize| {
        let mut v = v;
        for i in (0..digits).rev() {
            buf[at + i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    put(buf, 0, year as u32, 4);
    buf[4] = b'-';
    put(buf, 5, t.month(), 2);
    buf[7] = b'-';
    put(buf, 8, t.day(), 2);
    buf[10] = b'T';
    put(buf, 11, t.hour(), 2);
    buf[13] = b':';
    put(buf, 14, t.minute(), 2);
    buf[16] = b':';
    put(buf, 17, t.second(), 2);
    buf[19] = b'Z';
    Some(())
}

impl Serialize for Iso {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut buf = [0u8; 20];
        match iso_bytes(&self.0, &mut buf) {
            // Only ASCII digits and separators were written.
            Some(()) => s.serialize_str(std::str::from_utf8(&buf).unwrap_or_default()),
            None => s.serialize_str(&self.0.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
        }
    }
}

// --- VM ----------------------------------------------------------------------

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CloudOut<'a> {
    provider: &'a str,
    instance_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    account_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    region: Option<&'a str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct VmHostOut<'a> {
    host_id: i64,
    asset_id: Option<i64>,
    ip: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ipv6: Option<&'a str>,
    dns: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    fqdn: Option<&'a str>,
    netbios: Option<&'a str>,
    os: Option<&'a str>,
    tracking_method: Option<&'a str>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    tags: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    cloud: Option<CloudOut<'a>>,
    last_vuln_scan: Option<Iso>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_activity: Option<Iso>,
    customer_id: i64,
    customer_uuid: &'a str,
    detections: Detections<'a>,
}

/// The detections that pass the filter, serialized as they are iterated.
struct Detections<'a> {
    filter: &'a VmFilter,
    all: &'a [QualysDetection],
    kb: &'a HashMap<i64, QualysKbEntry>,
}

impl Serialize for Detections<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(None)?;
        for d in self.all.iter().filter(|d| self.filter.passes(d)) {
            let kb = if self.filter.send_vuln_info {
                self.kb.get(&d.qid)
            } else {
                None
            };
            seq.serialize_element(&DetectionOut {
                d,
                results: self.filter.result_section_needed,
                kb,
            })?;
        }
        seq.end()
    }
}

/// One detection; `results` only when `resultSectionNeeded`, the KB fields
/// only when `sendVulnInfo` (and the QID is in the knowledge base).
struct DetectionOut<'a> {
    d: &'a QualysDetection,
    results: bool,
    kb: Option<&'a QualysKbEntry>,
}

impl Serialize for DetectionOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let d = self.d;
        let mut st = s.serialize_struct("Detection", 19)?;
        st.serialize_field("qid", &d.qid)?;
        st.serialize_field("type", d.kind.as_str())?;
        st.serialize_field("severity", &d.severity)?;
        st.serialize_field("port", &d.port)?;
        st.serialize_field("protocol", &d.protocol)?;
        st.serialize_field("ssl", &d.ssl)?;
        st.serialize_field("status", d.status.as_str())?;
        st.serialize_field("firstFound", &Iso::opt(d.first_found))?;
        st.serialize_field("lastFound", &Iso::opt(d.last_found))?;
        st.serialize_field("timesFound", &d.times_found)?;
        st.serialize_field("lastFixed", &Iso::opt(d.last_fixed))?;
        if self.results {
            st.serialize_field("results", &d.results)?;
        }
        if let Some(kb) = self.kb {
            st.serialize_field("title", &kb.title)?;
            st.serialize_field("category", &kb.category)?;
            st.serialize_field("vulnType", &kb.vuln_type)?;
            st.serialize_field("cveIds", &kb.cves)?;
            st.serialize_field("cvssBase", &kb.cvss_base)?;
            st.serialize_field("cvss3Base", &kb.cvss3_base)?;
            st.serialize_field("patchable", &kb.patchable)?;
            if let Some(solution) = &kb.solution {
                st.serialize_field("solution", solution)?;
            }
        }
        st.end()
    }
}

fn opt(s: &Option<String>) -> Option<&str> {
    s.as_deref()
}

fn vm_host_out<'a>(
    customer: &'a Customer,
    host: &'a QualysHost,
    detections: Detections<'a>,
) -> VmHostOut<'a> {
    VmHostOut {
        host_id: host.id,
        asset_id: host.asset_id,
        ip: opt(&host.ip),
        ipv6: opt(&host.ipv6),
        dns: opt(&host.dns),
        fqdn: opt(&host.fqdn),
        netbios: opt(&host.netbios),
        os: opt(&host.os),
        tracking_method: opt(&host.tracking_method),
        tags: &host.tags,
        cloud: host.cloud.as_ref().map(|c| CloudOut {
            provider: &c.provider,
            instance_id: &c.instance_id,
            account_id: opt(&c.account_id),
            region: opt(&c.region),
        }),
        last_vuln_scan: Iso::opt(host.last_vuln_scan),
        last_activity: Iso::opt(host.last_activity),
        customer_id: customer.customer_id,
        customer_uuid: &customer.customer_uuid,
        detections,
    }
}

/// Roughly how many bytes a detection takes, to size buffers once.
const DETECTION_BYTES: usize = 240;

/// The line of a host's VM findings that pass `filter`; `None` when none
/// does. KB fields come from `kb` when `filter.send_vuln_info`.
pub fn vm_host_line(
    customer: &Customer,
    filter: &VmFilter,
    host: &HostFindings,
    kb: &HashMap<i64, QualysKbEntry>,
) -> Option<Line> {
    let items = host.detections.iter().filter(|d| filter.passes(d)).count();
    if items == 0 {
        return None;
    }
    let per = if filter.send_vuln_info {
        DETECTION_BYTES * 3
    } else {
        DETECTION_BYTES
    };
    let mut json = Vec::with_capacity(400 + items * per);
    let out = vm_host_out(
        customer,
        &host.host,
        Detections {
            filter,
            all: &host.detections,
            kb,
        },
    );
    write_json(&mut json, &out);
    Some(Line {
        subject: format!("host:{}:{}", host.connector_id, host.host.id),
        json,
        items: items as u32,
    })
}

/// Serializes into `buf`. Serializing these structs to memory cannot fail
/// (no maps with non-string keys, no failing writer); were it to, the line
/// would be the empty object rather than half a document.
fn write_json<T: Serialize>(buf: &mut Vec<u8>, value: &T) {
    let start = buf.len();
    if serde_json::to_writer(&mut *buf, value).is_err() {
        buf.truncate(start);
        buf.extend_from_slice(b"{}");
    }
}

// --- knowledge base ----------------------------------------------------------

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct KbOut<'a> {
    qid: i64,
    vuln_type: Option<&'a str>,
    severity: Option<u8>,
    title: &'a str,
    category: Option<&'a str>,
    cve_ids: &'a [String],
    cvss_base: Option<f64>,
    cvss3_base: Option<f64>,
    diagnosis: Option<&'a str>,
    consequence: Option<&'a str>,
    solution: Option<&'a str>,
    patchable: bool,
    published: Option<Iso>,
    modified: Option<Iso>,
}

/// The line of one knowledge-base entry (`vuln_info/vm/`).
pub fn kb_line(entry: &QualysKbEntry) -> Line {
    let out = KbOut {
        qid: entry.qid,
        vuln_type: opt(&entry.vuln_type),
        severity: entry.severity,
        title: &entry.title,
        category: opt(&entry.category),
        cve_ids: &entry.cves,
        cvss_base: entry.cvss_base,
        cvss3_base: entry.cvss3_base,
        diagnosis: opt(&entry.diagnosis),
        consequence: opt(&entry.consequence),
        solution: opt(&entry.solution),
        patchable: entry.patchable,
        published: Iso::opt(entry.published),
        modified: Iso::opt(entry.modified),
    };
    let mut json = Vec::with_capacity(512);
    write_json(&mut json, &out);
    Line {
        subject: format!("kb:{}", entry.qid),
        json,
        items: 1,
    }
}

// --- PC ----------------------------------------------------------------------

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PcHostOut<'a> {
    host_id: i64,
    dns: Option<&'a str>,
    ip: Option<&'a str>,
    tracking_method: Option<&'a str>,
    os: Option<&'a str>,
    /// Vigil does not store the OS CPE.
    os_cpe: Option<&'a str>,
    /// Seed 000's spelling.
    compliance_last_scan_data: Option<Iso>,
    customer_uuid: &'a str,
    customer_id: i64,
    asset_id: Option<i64>,
    policy: Vec<PolicyOut<'a>>,
}

#[derive(Serialize)]
struct PolicyOut<'a> {
    id: i64,
    posture: Vec<PostureOut<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PostureOut<'a> {
    id: i64,
    control_id: i64,
    control_statement: &'a str,
    /// Vigil does not store control references: empty, as the sample
    /// shows unknown ones.
    control_reference: &'a str,
    /// Nor remediation.
    remediation: &'a str,
    technology_id: Option<i64>,
    instance: &'a str,
    posture: Option<&'a str>,
    posture_modified_date: Option<Iso>,
    evaluation_date: Option<Iso>,
    last_posture: Option<&'a str>,
    first_evaluated_date: Option<Iso>,
    fail_date_first_found: Option<Iso>,
    fail_date_last_found: Option<Iso>,
    passed_date_first_found: Option<Iso>,
    passed_date_last_found: Option<Iso>,
    /// A JSON document in a string, as the sample shows; null when
    /// `includeEvidenceData` is false.
    evidence: Option<String>,
}

/// Whether the CIPS filter sends a posture of this status (a posture
/// without a status goes with the errors).
fn cips_passes(cips: &CipsConfig, status: Option<&str>) -> bool {
    match status {
        Some(s) if s.eq_ignore_ascii_case("Passed") => cips.include_pass_posture,
        Some(s) if s.eq_ignore_ascii_case("Failed") => cips.include_fail_posture,
        _ => cips.include_error_posture,
    }
}

/// The line of a host's PC posture in seed 000's sample shape, with the
/// postures the CIPS filter lets through; `None` when none does.
///
/// Policies are grouped in ascending id, postures within a policy in
/// ascending posture id, so that the same postures give the same bytes.
/// The store picks the CIPS policies (`pc_host_postures`); this applies the
/// posture and evidence filters.
pub fn pc_host_line(customer: &Customer, cips: &CipsConfig, host: &HostPostures) -> Option<Line> {
    let mut rows: Vec<&PostureRow> = host
        .postures
        .iter()
        .filter(|p| cips_passes(cips, p.status.as_deref()))
        .collect();
    if rows.is_empty() {
        return None;
    }
    rows.sort_by_key(|p| (p.policy_id, p.posture_id));
    let items = rows.len() as u32;
    let mut policy: Vec<PolicyOut<'_>> = Vec::new();
    for p in rows {
        let out = PostureOut {
            id: p.posture_id,
            control_id: p.control_id,
            control_statement: &p.control_statement,
            control_reference: "",
            remediation: "",
            technology_id: p.technology_id,
            // The sample names the operating system's instance `os`;
            // Qualys leaves it empty in the posture API.
            instance: if p.instance.is_empty() {
                "os"
            } else {
                &p.instance
            },
            posture: p.status.as_deref(),
            posture_modified_date: Iso::opt(p.posture_modified),
            evaluation_date: Iso::opt(p.last_evaluated),
            last_posture: p.last_status.as_deref(),
            first_evaluated_date: Iso::opt(p.first_evaluated),
            fail_date_first_found: Iso::opt(p.fail_first_found),
            fail_date_last_found: Iso::opt(p.fail_last_found),
            passed_date_first_found: Iso::opt(p.passed_first_found),
            passed_date_last_found: Iso::opt(p.passed_last_found),
            evidence: cips.include_evidence_data.then(|| evidence_json(p)),
        };
        match policy.last_mut() {
            Some(last) if last.id == p.policy_id => last.posture.push(out),
            _ => policy.push(PolicyOut {
                id: p.policy_id,
                posture: vec![out],
            }),
        }
    }
    let h = &host.host;
    let out = PcHostOut {
        host_id: h.id,
        dns: opt(&h.dns),
        ip: opt(&h.ip),
        tracking_method: opt(&h.tracking_method),
        os: opt(&h.os),
        os_cpe: None,
        compliance_last_scan_data: Iso::opt(h.last_compliance_scan),
        customer_uuid: &customer.customer_uuid,
        customer_id: customer.customer_id,
        asset_id: h.asset_id,
        policy,
    };
    let mut json = Vec::with_capacity(1024);
    write_json(&mut json, &out);
    Some(Line {
        subject: format!("host:{}:{}", host.connector_id, h.id),
        json,
        items,
    })
}

#[derive(Serialize, Default)]
#[serde(rename_all = "camelCase")]
struct EvidenceOut {
    description: String,
    expected_values: Vec<String>,
    actual_values: Vec<String>,
    extended_evidence: String,
    cause_of_failure: CauseOut,
    scan_parameter: String,
}

#[derive(Serialize, Default)]
struct CauseOut {
    missing: MissingOut,
    unexpected: UnexpectedOut,
}

#[derive(Serialize, Default)]
struct MissingOut {
    logic: String,
    value: Vec<String>,
}

#[derive(Serialize, Default)]
struct UnexpectedOut {
    value: Vec<String>,
}

/// The sample's `evidence` document from what the connector stored:
/// `EVIDENCE` (`<BOOLEAN_EXPR>` → expectedValues, each `<DPV>`'s `<LABEL>`
/// → description and `<V>` → actualValues), `CAUSE_OF_FAILURE`
/// (`<MISSING><LOGIC>…<V>…`, `<UNEXPECTED><V>…`) and the extended
/// evidence text. Evidence without elements is the description as it is.
fn evidence_json(p: &PostureRow) -> String {
    let mut ev = EvidenceOut::default();
    if let Some(text) = p.evidence.as_deref() {
        let mut labels: Vec<String> = Vec::new();
        walk_fragment(text, |path, value| match path.last().copied() {
            Some("BOOLEAN_EXPR") => ev.expected_values.push(value.to_string()),
            Some("LABEL") => labels.push(value.to_string()),
            Some("V") => ev.actual_values.push(value.to_string()),
            _ => {}
        });
        // Evidence in no known element (plain text, or a `<` in text that
        // is not markup) is kept whole as the description.
        let understood =
            !labels.is_empty() || !ev.expected_values.is_empty() || !ev.actual_values.is_empty();
        ev.description = if understood {
            labels.join("; ")
        } else {
            text.trim().to_string()
        };
    }
    if let Some(text) = p.cause_of_failure.as_deref() {
        walk_fragment(text, |path, value| {
            let under = |name: &str| path.contains(&name);
            match path.last().copied() {
                Some("LOGIC") if under("MISSING") => {
                    ev.cause_of_failure.missing.logic = value.to_string()
                }
                Some("V") if under("MISSING") => {
                    ev.cause_of_failure.missing.value.push(value.to_string())
                }
                Some("V") if under("UNEXPECTED") => {
                    ev.cause_of_failure.unexpected.value.push(value.to_string())
                }
                _ => {}
            }
        });
    }
    if let Some(text) = p.extended_evidence.as_deref() {
        ev.extended_evidence = text.to_string();
    }
    serde_json::to_string(&ev).unwrap_or_else(|_| "{}".to_string())
}

/// Walks the element text the connector keeps (`<A><B>text</B></A>`,
/// entities `&lt; &gt; &amp; &quot; &apos;`): calls `leaf(path, text)` for
/// every element that has text. True when there was any element.
fn walk_fragment(text: &str, mut leaf: impl FnMut(&[&str], &str)) -> bool {
    let mut path: Vec<&str> = Vec::new();
    let mut rest = text;
    let mut any = false;
    let mut pending = String::new();
    while let Some(lt) = rest.find('<') {
        pending.push_str(&rest[..lt]);
        let after = &rest[lt + 1..];
        let Some(gt) = after.find('>') else {
            break;
        };
        let tag = &after[..gt];
        rest = &after[gt + 1..];
        any = true;
        if let Some(name) = tag.strip_prefix('/') {
            let t = pending.trim();
            if !t.is_empty() && path.last() == Some(&name) {
                leaf(&path, &unescape(t));
            }
            pending.clear();
            if let Some(i) = path.iter().rposition(|n| *n == name) {
                path.truncate(i);
            }
        } else if tag.ends_with('/') {
            // An empty element: no text, no depth.
            pending.clear();
        } else {
            pending.clear();
            path.push(tag.split_whitespace().next().unwrap_or(tag));
        }
    }
    any
}

fn unescape(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

// --- OCSF --------------------------------------------------------------------

/// The built-in controls, for what a stored evaluation does not carry
/// (description, service, remediation, references, mandates).
fn catalog() -> Option<&'static vigil_engine::Catalog> {
    static CATALOG: OnceLock<Option<vigil_engine::Catalog>> = OnceLock::new();
    CATALOG
        .get_or_init(|| vigil_engine::Catalog::builtin().ok())
        .as_ref()
}

/// The line of one evaluation as an OCSF Detection Finding (class 2004):
/// `vigil_export`'s finding (what `vigil scan --format ocsf` writes), with
/// the times of the stored evaluation: `time` is when it was last
/// evaluated, `finding_info.first_seen_time` when first.
pub fn ocsf_line(row: &EvaluationRow) -> Line {
    let spec = catalog().and_then(|c| c.control(row.cid)).map(|c| &c.spec);
    let finding = vigil_export::ocsf_of(&vigil_export::OcsfFacts {
        cid: row.cid,
        title: spec.map_or(&row.control, |s| &s.title),
        desc: spec.map_or("", |s| &s.evaluation),
        types: spec.map_or(&[][..], |s| std::slice::from_ref(&s.service)),
        criticality: row.criticality,
        result: row.result,
        message: &row.message,
        expected: &row.expected,
        actual: &row.actual,
        remediation: spec.map_or("", |s| s.remediation.trim()),
        references: spec.map_or(&[][..], |s| &s.references),
        mandates: spec.map_or(&[][..], |s| &s.mandates),
        provider: row.provider,
        account: &row.account,
        region: &row.region,
        resource_id: &row.resource_id,
        resource_name: &row.resource_name,
        resource_type: &row.resource_type,
        // A stored evaluation does not carry the resource's tags.
        labels: None,
        time: row.last_evaluated,
        seen: Some((row.first_evaluated, row.last_evaluated)),
        last_reopened: row.last_reopened,
        last_fixed: row.last_fixed,
    });
    let mut json = Vec::with_capacity(1024);
    write_json(&mut json, &finding);
    Line {
        subject: format!("eval:{}:{}", row.resource_id, row.cid),
        json,
        items: 1,
    }
}

// --- objects -----------------------------------------------------------------

/// A stable 64-bit hash of a line's bytes (same bytes, same hash, on every
/// platform and version): FNV-1a, read as a signed number for the store.
pub fn content_hash(json: &[u8]) -> i64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in json {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h as i64
}

/// The object's bytes: the lines joined by newlines (with a final one),
/// gzip-compressed when `compress`.
pub fn pack(lines: &[&[u8]], compress: bool) -> Vec<u8> {
    let size: usize = lines.iter().map(|l| l.len() + 1).sum();
    if !compress {
        let mut out = Vec::with_capacity(size);
        for l in lines {
            out.extend_from_slice(l);
            out.push(b'\n');
        }
        return out;
    }
    let mut gz = GzEncoder::new(
        Vec::with_capacity(size / 6 + 64),
        Compression::new(GZIP_LEVEL),
    );
    // Writing to memory cannot fail.
    for l in lines {
        let _ = gz.write_all(l);
        let _ = gz.write_all(b"\n");
    }
    gz.finish().unwrap_or_default()
}

fn extension(compress: bool) -> &'static str {
    if compress {
        "gz"
    } else {
        "json"
    }
}

/// A new object key: `<prefix>/<YYYY-MM-DD of at, UTC>/<UUID>.gz` or `.json`.
pub fn object_key(prefix: &str, at: Timestamp, compress: bool) -> String {
    format!(
        "{prefix}/{}/{}.{}",
        at.format("%Y-%m-%d"),
        uuid::Uuid::new_v4(),
        extension(compress)
    )
}

/// The key of a knowledge-base entry: `vuln_info/vm/<qid>.json|.gz`.
pub fn kb_key(qid: i64, compress: bool) -> String {
    format!("{VULN_INFO_PREFIX}/{qid}.{}", extension(compress))
}

/// What the validation file says.
const TEST_FILE_BODY: &str = concat!(
    r#"{"source":"Vigil","purpose":"validation","#,
    r#""message":"Vigil wrote this file to check that it can write to this bucket with the role and external ID of the integration. It can be deleted: Vigil writes it again at every validation."}"#
);

/// The validation file: (`test-file.gz` or `test-file.json`, its bytes).
pub fn test_file(compress: bool) -> (String, Vec<u8>) {
    let key = format!("test-file.{}", extension(compress));
    (key, pack(&[TEST_FILE_BODY.as_bytes()], compress))
}

/// `application/x-ndjson`, and `Some("gzip")` as content encoding when
/// compressed.
pub fn content_headers(compress: bool) -> (&'static str, Option<&'static str>) {
    ("application/x-ndjson", compress.then_some("gzip"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn times_are_iso_seconds_in_utc() {
        let t = chrono::Utc.with_ymd_and_hms(2023, 1, 3, 7, 8, 9).unwrap()
            + chrono::Duration::milliseconds(870);
        let v = serde_json::to_string(&Iso(t)).unwrap();
        assert_eq!(v, "\"2023-01-03T07:08:09Z\"");
        let far = chrono::Utc.with_ymd_and_hms(12000, 1, 1, 0, 0, 0).unwrap();
        let v = serde_json::to_string(&Iso(far)).unwrap();
        assert!(v.contains("12000-01-01T00:00:00"), "{v}");
    }

    #[test]
    fn fragments_are_walked_with_their_paths() {
        let mut seen = Vec::new();
        let any = walk_fragment(
            "<BOOLEAN_EXPR>a &gt;= 14</BOOLEAN_EXPR><DPV_LIST><DPV><LABEL>Min &amp; len</LABEL><V>8</V></DPV></DPV_LIST>",
            |p, v| seen.push((p.join("/"), v.to_string())),
        );
        assert!(any);
        assert_eq!(
            seen,
            vec![
                ("BOOLEAN_EXPR".to_string(), "a >= 14".to_string()),
                ("DPV_LIST/DPV/LABEL".to_string(), "Min & len".to_string()),
                ("DPV_LIST/DPV/V".to_string(), "8".to_string()),
            ]
        );
        assert!(!walk_fragment("plain text", |_, _| {}));
    }
}
