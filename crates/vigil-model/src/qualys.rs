//! What the Qualys connector ingests (issue 6): hosts, VM detections,
//! knowledge-base entries, Policy Compliance policies, controls and
//! postures, web applications and their findings, container images and
//! their vulnerabilities.
//!
//! These are plain records: the connector (`vigil-qualys`) fills them from
//! Qualys' XML and JSON, the store keeps them. Field names follow Qualys'
//! own element names where Qualys has one (seed 003's device fields, seed
//! 004's attribute tables). Every record is ingested for one connector, and
//! the store keeps the connector's account name on each (seed 002
//! `tag.AccountName`).

use crate::Timestamp;
use serde::{Deserialize, Serialize};

/// A host (asset) from `/api/2.0/fo/asset/host/` and, merged by host id,
/// `/qps/rest/2.0/search/am/hostasset`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct QualysHost {
    /// Qualys host ID (`ID`), the key of detections and postures.
    pub id: i64,
    /// Asset ID (`ASSET_ID`, QPS `id`), when known.
    pub asset_id: Option<i64>,
    pub ip: Option<String>,
    pub ipv6: Option<String>,
    /// `DNS` (host name).
    pub dns: Option<String>,
    /// `DNS_DATA/FQDN`.
    pub fqdn: Option<String>,
    pub netbios: Option<String>,
    pub os: Option<String>,
    pub mac: Option<String>,
    /// Default gateway address.
    pub gateway: Option<String>,
    /// `TRACKING_METHOD`: IP, DNS, NETBIOS, AGENT, EC2, …
    pub tracking_method: Option<String>,
    /// Asset tag names.
    pub tags: Vec<String>,
    /// Cloud source info (`METADATA/EC2`, QPS `sourceInfo`): the EC2
    /// instance this host is, which joins it to Vigil's instance resource.
    pub cloud: Option<CloudSource>,
    /// Asset criticality score (1–5) of Qualys' asset criticality.
    pub criticality: Option<i64>,
    /// Asset risk score (`ARS`, 0–1000) when `show_ars`.
    pub ars: Option<i64>,
    /// `ARS_FACTORS` as Qualys gives them, when `show_ars_factors`.
    pub ars_factors: Option<String>,
    pub last_vuln_scan: Option<Timestamp>,
    pub last_compliance_scan: Option<Timestamp>,
    pub last_activity: Option<Timestamp>,
    /// When Qualys last changed the asset (QPS `modified`).
    pub modified: Option<Timestamp>,
}

/// Where a cloud host runs.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CloudSource {
    /// `aws`, `azure`, `gcp`.
    pub provider: String,
    /// EC2 instance id (`i-…`), Azure VM id or GCP instance id.
    pub instance_id: String,
    pub account_id: Option<String>,
    pub region: Option<String>,
}

/// `TYPE` of a detection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DetectionType {
    Confirmed,
    Potential,
    /// Information Gathered (`Info` in the detection API, `IG` in seed 000).
    Info,
}

impl DetectionType {
    pub fn as_str(self) -> &'static str {
        match self {
            DetectionType::Confirmed => "Confirmed",
            DetectionType::Potential => "Potential",
            DetectionType::Info => "Info",
        }
    }

    /// Parses Qualys' spelling (case-insensitive; `IG` is Info).
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "confirmed" => Some(DetectionType::Confirmed),
            "potential" => Some(DetectionType::Potential),
            "info" | "ig" | "information gathered" => Some(DetectionType::Info),
            _ => None,
        }
    }
}

/// `STATUS` of a detection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DetectionStatus {
    New,
    Active,
    Fixed,
    #[serde(rename = "Re-Opened")]
    ReOpened,
}

impl DetectionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DetectionStatus::New => "New",
            DetectionStatus::Active => "Active",
            DetectionStatus::Fixed => "Fixed",
            DetectionStatus::ReOpened => "Re-Opened",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "new" => Some(DetectionStatus::New),
            "active" => Some(DetectionStatus::Active),
            "fixed" => Some(DetectionStatus::Fixed),
            "re-opened" | "reopened" => Some(DetectionStatus::ReOpened),
            _ => None,
        }
    }
}

/// A VM detection (`HOST/DETECTION_LIST/DETECTION`) of
/// `/api/2.0/fo/asset/host/vm/detection/`. Its identity across runs is
/// (host, QID, port, protocol, SSL).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QualysDetection {
    pub host_id: i64,
    /// The EC2 instance id of the host, when it is one (copied from the
    /// host so that a detection joins an instance without the host row).
    pub instance_id: Option<String>,
    pub qid: i64,
    #[serde(rename = "type")]
    pub kind: DetectionType,
    /// 1–5.
    pub severity: u8,
    pub port: Option<u32>,
    pub protocol: Option<String>,
    pub ssl: bool,
    pub status: DetectionStatus,
    pub first_found: Option<Timestamp>,
    pub last_found: Option<Timestamp>,
    pub times_found: Option<i64>,
    pub last_fixed: Option<Timestamp>,
    /// `RESULTS`: only for the QIDs of the `detection_result_qids` option,
    /// first 300 bytes.
    pub results: Option<String>,
}

/// A knowledge-base entry (`VULN`) of `/api/2.0/fo/knowledge_base/vuln/`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct QualysKbEntry {
    pub qid: i64,
    /// `VULN_TYPE`: Vulnerability, Potential Vulnerability, Information
    /// Gathered, …
    pub vuln_type: Option<String>,
    pub severity: Option<u8>,
    pub title: String,
    pub category: Option<String>,
    /// `CVE_LIST/CVE/ID`.
    pub cves: Vec<String>,
    pub cvss_base: Option<f64>,
    pub cvss3_base: Option<f64>,
    pub diagnosis: Option<String>,
    pub consequence: Option<String>,
    pub solution: Option<String>,
    /// `PATCHABLE` (1/0).
    pub patchable: bool,
    pub published: Option<Timestamp>,
    pub modified: Option<Timestamp>,
}

/// A compliance policy of `/api/2.0/fo/compliance/policy/`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct QualysPcPolicy {
    pub id: i64,
    pub title: String,
    pub created: Option<Timestamp>,
    pub updated: Option<Timestamp>,
    /// Control ids in the policy.
    pub control_ids: Vec<i64>,
}

/// A compliance control of `/api/2.0/fo/compliance/control/`, mapped as
/// seed 004's "Control attribute mappings" (a violation definition).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct QualysPcControl {
    /// `ID` (uid).
    pub id: i64,
    /// `STATEMENT`.
    pub statement: String,
    pub category: Option<String>,
    pub sub_category: Option<String>,
    /// `CRITICALITY/LABEL`: MINIMAL, MEDIUM, SERIOUS, CRITICAL, URGENT.
    pub criticality_label: Option<String>,
    /// `CRITICALITY/VALUE`: 1–5.
    pub criticality_value: Option<i64>,
    pub check_type: Option<String>,
    /// `FRAMEWORK_LIST` names.
    pub frameworks: Vec<String>,
    /// `TECHNOLOGY_LIST` names.
    pub technologies: Vec<String>,
    pub created: Option<Timestamp>,
    pub updated: Option<Timestamp>,
}

/// `STATUS` of a posture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PostureStatus {
    Passed,
    Failed,
    Error,
}

impl PostureStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            PostureStatus::Passed => "Passed",
            PostureStatus::Failed => "Failed",
            PostureStatus::Error => "Error",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "passed" | "pass" => Some(PostureStatus::Passed),
            "failed" | "fail" => Some(PostureStatus::Failed),
            "error" => Some(PostureStatus::Error),
            _ => None,
        }
    }
}

/// A posture (a violation when Failed) of
/// `/api/2.0/fo/compliance/posture/info/`: one control on one host under
/// one policy. Identity: (policy, host, control, instance).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct QualysPcPosture {
    /// Posture `ID`.
    pub id: i64,
    pub policy_id: i64,
    pub host_id: i64,
    pub control_id: i64,
    /// Technology instance (`INSTANCE`), e.g. a database instance; empty
    /// for the OS.
    pub instance: String,
    pub status: Option<PostureStatus>,
    pub technology_id: Option<i64>,
    /// `CRITICALITY/VALUE` of the control.
    pub criticality_value: Option<i64>,
    /// `EVIDENCE` as Qualys gives it (JSON text).
    pub evidence: Option<String>,
    /// `CAUSE_OF_FAILURE` (missing/unexpected values), when asked for.
    pub cause_of_failure: Option<String>,
    /// Extended evidence, when `show_extended_evidence`.
    pub extended_evidence: Option<String>,
    pub first_found: Option<Timestamp>,
    pub last_evaluated: Option<Timestamp>,
    pub posture_modified: Option<Timestamp>,
}

/// A web application of `/qps/rest/3.0/search/was/webapp`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct QualysWebApp {
    pub id: i64,
    pub name: String,
    pub url: String,
    pub tags: Vec<String>,
    pub created: Option<Timestamp>,
    pub updated: Option<Timestamp>,
    pub last_scan: Option<Timestamp>,
}

/// A web application finding of `/qps/rest/3.0/search/was/finding`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct QualysWasFinding {
    pub id: i64,
    pub webapp_id: i64,
    pub qid: i64,
    pub name: String,
    /// `type`: VULNERABILITY, SENSITIVE_CONTENT, INFORMATION_GATHERED.
    pub finding_type: Option<String>,
    pub severity: Option<u8>,
    /// NEW, ACTIVE, REOPENED, FIXED, PROTECTED.
    pub status: Option<String>,
    pub url: Option<String>,
    pub first_detected: Option<Timestamp>,
    pub last_detected: Option<Timestamp>,
    pub times_detected: Option<i64>,
}

/// A container image of the container security API.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct QualysContainerImage {
    /// `imageId` (short id).
    pub image_id: String,
    pub sha: Option<String>,
    /// `repo/name:tag` for every repository tag.
    pub repo_tags: Vec<String>,
    pub os: Option<String>,
    pub created: Option<Timestamp>,
    pub updated: Option<Timestamp>,
    /// Containers running from the image.
    pub containers: i64,
}

/// A vulnerability of a container image.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct QualysImageVuln {
    pub image_id: String,
    pub qid: i64,
    pub severity: Option<u8>,
    pub title: Option<String>,
    pub cves: Vec<String>,
    pub first_found: Option<Timestamp>,
    pub last_found: Option<Timestamp>,
}

/// One batch handed from the connector to the store. Batches are small
/// (a page or less) so that memory stays flat whatever the subscription's
/// size.
#[derive(Debug, Clone, PartialEq)]
pub enum QualysBatch {
    Hosts(Vec<QualysHost>),
    Detections(Vec<QualysDetection>),
    Kb(Vec<QualysKbEntry>),
    PcPolicies(Vec<QualysPcPolicy>),
    PcControls(Vec<QualysPcControl>),
    PcPostures(Vec<QualysPcPosture>),
    WebApps(Vec<QualysWebApp>),
    WasFindings(Vec<QualysWasFinding>),
    Images(Vec<QualysContainerImage>),
    ImageVulns(Vec<QualysImageVuln>),
}

impl QualysBatch {
    /// The kind of entity, as the run summary names it.
    pub fn kind(&self) -> &'static str {
        match self {
            QualysBatch::Hosts(_) => "hosts",
            QualysBatch::Detections(_) => "detections",
            QualysBatch::Kb(_) => "kb",
            QualysBatch::PcPolicies(_) => "pc_policies",
            QualysBatch::PcControls(_) => "pc_controls",
            QualysBatch::PcPostures(_) => "pc_postures",
            QualysBatch::WebApps(_) => "webapps",
            QualysBatch::WasFindings(_) => "was_findings",
            QualysBatch::Images(_) => "images",
            QualysBatch::ImageVulns(_) => "image_vulns",
        }
    }

    /// Records in the batch.
    pub fn len(&self) -> usize {
        match self {
            QualysBatch::Hosts(v) => v.len(),
            QualysBatch::Detections(v) => v.len(),
            QualysBatch::Kb(v) => v.len(),
            QualysBatch::PcPolicies(v) => v.len(),
            QualysBatch::PcControls(v) => v.len(),
            QualysBatch::PcPostures(v) => v.len(),
            QualysBatch::WebApps(v) => v.len(),
            QualysBatch::WasFindings(v) => v.len(),
            QualysBatch::Images(v) => v.len(),
            QualysBatch::ImageVulns(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
