//! S3 delivery (issue 7, seed 000): the integrations of Qualys' AWS S3
//! integration APIs (VM, PC, and Vigil's own OCSF findings), the CIPS
//! configuration, and the durable outbox that makes delivery lossless.
//!
//! How delivery works, in the store's terms:
//! - A *planner* (one node at a time, under [`DeliveryStore::delivery_lease`])
//!   reads what changed since an integration's watermark (Vigil's own
//!   `last_seen` / `last_evaluated` times), builds the objects to write and
//!   commits them to the outbox with [`DeliveryStore::commit_plan`]: objects,
//!   the content hash of every *subject* (a host, a QID, a resource) they
//!   carry, and the new watermark, in one transaction. A subject whose hash is
//!   unchanged is not sent again, so re-reading a window twice never
//!   duplicates anything.
//! - A *sender* writes due outbox objects to S3 under the key fixed at plan
//!   time and removes them only after S3 confirmed
//!   ([`DeliveryStore::outbox_delivered`]); a failure reschedules the object
//!   ([`DeliveryStore::outbox_retry`]). The backlog is on disk, never only in
//!   memory; a retry overwrites the same key, never a new one.

use crate::access::AuditEntry;
use crate::{EvaluationRow, StoreError};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use vigil_model::qualys::{QualysDetection, QualysHost, QualysKbEntry};
use vigil_model::Timestamp;

/// What an integration delivers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IntegrationKind {
    /// VM findings (`/partner-integration/aws/s3/vm`).
    Vm,
    /// PC posture through CIPS (`/partner-integration/aws/s3/pc`).
    Pc,
    /// Vigil's own cloud and IaC evaluations as OCSF Detection Findings
    /// (`/partner-integration/aws/s3/ocsf`, Vigil's extension).
    Ocsf,
}

impl IntegrationKind {
    /// The path segment and stored name: `vm`, `pc`, `ocsf`.
    pub fn as_str(self) -> &'static str {
        match self {
            IntegrationKind::Vm => "vm",
            IntegrationKind::Pc => "pc",
            IntegrationKind::Ocsf => "ocsf",
        }
    }

    /// The kind named `name`.
    pub fn parse(name: &str) -> Option<IntegrationKind> {
        match name {
            "vm" => Some(IntegrationKind::Vm),
            "pc" => Some(IntegrationKind::Pc),
            "ocsf" => Some(IntegrationKind::Ocsf),
            _ => None,
        }
    }

    /// How seed 000's messages name it: `VM`, `PC`, `OCSF`.
    pub fn label(self) -> &'static str {
        match self {
            IntegrationKind::Vm => "VM",
            IntegrationKind::Pc => "PC",
            IntegrationKind::Ocsf => "OCSF",
        }
    }
}

/// Seed 000's `baseCategory`: which detection types a VM integration sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum BaseCategory {
    /// Confirmed only (the default).
    #[default]
    Confirmed,
    /// Potential and Confirmed.
    Potential,
    /// Information Gathered, Potential and Confirmed.
    #[serde(rename = "IG")]
    Ig,
}

impl BaseCategory {
    /// The wire and stored name: `Confirmed`, `Potential`, `IG`.
    pub fn as_str(self) -> &'static str {
        match self {
            BaseCategory::Confirmed => "Confirmed",
            BaseCategory::Potential => "Potential",
            BaseCategory::Ig => "IG",
        }
    }

    /// The category named `name` (exactly as seed 000 spells it).
    pub fn parse(name: &str) -> Option<BaseCategory> {
        match name {
            "Confirmed" => Some(BaseCategory::Confirmed),
            "Potential" => Some(BaseCategory::Potential),
            "IG" => Some(BaseCategory::Ig),
            _ => None,
        }
    }
}

/// Where an integration stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IntegrationState {
    /// Registered or changed, not validated: nothing is delivered (objects
    /// already in the outbox wait).
    Pending,
    /// Validated; delivering.
    Active,
    /// Validated, but delivery fails for a reason a person must fix
    /// (`problem`); the backlog waits and is retried.
    Error,
}

impl IntegrationState {
    pub fn as_str(self) -> &'static str {
        match self {
            IntegrationState::Pending => "pending",
            IntegrationState::Active => "active",
            IntegrationState::Error => "error",
        }
    }

    pub fn parse(name: &str) -> Option<IntegrationState> {
        match name {
            "pending" => Some(IntegrationState::Pending),
            "active" => Some(IntegrationState::Active),
            "error" => Some(IntegrationState::Error),
            _ => None,
        }
    }
}

/// The settings of one integration, as the API takes them (seed 000's
/// fields; the VM-only ones keep their defaults on PC and OCSF).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntegrationSettings {
    pub name: String,
    pub bucket_name: String,
    pub bucket_region: String,
    pub role_arn: String,
    /// Default true.
    pub compress_data: bool,
    /// VM: 1–5, default 3.
    pub min_severity: u8,
    /// VM: default Confirmed.
    pub base_category: BaseCategory,
    /// VM: default false.
    pub result_section_needed: bool,
    /// VM: default false.
    pub send_vuln_info: bool,
    pub send_alerts: bool,
    /// At most 5.
    pub error_emails: Vec<String>,
}

/// One stored integration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Integration {
    /// Seed 000's `integrationId`: a number given by the store.
    pub id: i64,
    pub kind: IntegrationKind,
    pub settings: IntegrationSettings,
    /// `<POD>-<customerId>-<uuid>`.
    pub external_id: String,
    /// Seed 000's `integrationValidated`.
    pub validated: bool,
    pub state: IntegrationState,
    /// What a person must fix, while `state` is `Error`.
    pub problem: Option<String>,
    /// The problem code last e-mailed (so each problem is mailed once).
    pub alerted_problem: Option<String>,
    pub created: Timestamp,
    pub updated: Timestamp,
    /// When the last object was confirmed by S3.
    pub last_delivery: Option<Timestamp>,
    /// Objects confirmed by S3 since the integration was created.
    pub objects_delivered: u64,
    /// Items (hosts, QIDs, findings) in those objects.
    pub items_delivered: u64,
}

/// Seed 000's CIPS filter configuration (`/pcas/cips/config`) with its
/// policies. Absent in the store means "no filter": everything is sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CipsConfig {
    /// Seed 000's `id` (set once the filter was created).
    pub id: Option<i64>,
    pub include_evidence_data: bool,
    pub include_fail_posture: bool,
    pub include_pass_posture: bool,
    pub include_error_posture: bool,
    /// When the filter last changed (`None` until created).
    pub last_updated: Option<Timestamp>,
    /// The policies added to CIPS (at most 100), ascending.
    pub policies: Vec<i64>,
}

impl Default for CipsConfig {
    fn default() -> Self {
        CipsConfig {
            id: None,
            include_evidence_data: true,
            include_fail_posture: true,
            include_pass_posture: true,
            include_error_posture: true,
            last_updated: None,
            policies: Vec::new(),
        }
    }
}

/// One object to write, as the planner makes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewObject {
    /// The S3 key, fixed now so a retry overwrites it (e.g.
    /// `qualys_vm_findings/2026-11-23/<uuid>.gz`).
    pub key: String,
    /// The bytes to write, compressed already when the integration says so.
    pub body: Vec<u8>,
    /// `application/json` or `application/x-ndjson`.
    pub content_type: String,
    /// `gzip` when compressed.
    pub content_encoding: Option<String>,
    /// Hosts, QIDs or findings in the object.
    pub items: u32,
}

/// One object waiting in the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxObject {
    /// The outbox row.
    pub id: i64,
    pub integration_id: i64,
    pub key: String,
    pub body: Vec<u8>,
    pub content_type: String,
    pub content_encoding: Option<String>,
    pub items: u32,
    pub created: Timestamp,
    /// Failed attempts so far.
    pub attempts: u32,
    pub next_attempt: Timestamp,
    pub last_error: Option<String>,
}

/// What [`DeliveryStore::commit_plan`] writes in one transaction.
#[derive(Debug, Clone, Copy)]
pub struct PlanCommit<'a> {
    pub integration_id: i64,
    /// The watermark the plan started from: if the stored one differs
    /// (another planner or a reset committed meanwhile) nothing is written
    /// and the answer is `Conflict`.
    pub expected_watermark: Timestamp,
    /// The new watermark.
    pub watermark: Timestamp,
    pub objects: &'a [NewObject],
    /// (subject, content hash) of what the objects carry.
    pub subjects: &'a [(String, i64)],
}

/// A Qualys host with its stored detections (every type, severity and
/// status: the payload applies the integration's filter).
#[derive(Debug, Clone, PartialEq)]
pub struct HostFindings {
    pub connector_id: String,
    pub account_name: String,
    pub host: QualysHost,
    pub detections: Vec<QualysDetection>,
}

/// One stored posture with what seed 000's sample shows of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostureRow {
    pub posture_id: i64,
    pub policy_id: i64,
    pub control_id: i64,
    /// The control's statement (empty when the control is not stored).
    pub control_statement: String,
    pub technology_id: Option<i64>,
    pub instance: String,
    /// `Passed`, `Failed` or `Error` (None when unknown).
    pub status: Option<String>,
    /// The status before the current one (`lastPosture`), None the first
    /// time.
    pub last_status: Option<String>,
    pub evidence: Option<String>,
    pub cause_of_failure: Option<String>,
    pub extended_evidence: Option<String>,
    pub first_evaluated: Option<Timestamp>,
    pub last_evaluated: Option<Timestamp>,
    pub posture_modified: Option<Timestamp>,
    pub fail_first_found: Option<Timestamp>,
    pub fail_last_found: Option<Timestamp>,
    pub passed_first_found: Option<Timestamp>,
    pub passed_last_found: Option<Timestamp>,
}

/// A Qualys host with its postures for the asked policies.
#[derive(Debug, Clone, PartialEq)]
pub struct HostPostures {
    pub connector_id: String,
    pub account_name: String,
    pub host: QualysHost,
    pub postures: Vec<PostureRow>,
}

/// A host as the planner addresses it: (connector id, Qualys host id).
pub type HostKey = (String, i64);

/// Integrations, the CIPS configuration, the outbox and what the planner
/// reads.
#[async_trait]
pub trait DeliveryStore {
    // --- integrations (every change with its audit entry) -----------------

    /// Registers an integration with `external_id`; its name must be new
    /// among integrations of its kind (else `Conflict`). State `Pending`,
    /// not validated. Returns it with its new id.
    async fn create_integration(
        &self,
        kind: IntegrationKind,
        settings: &IntegrationSettings,
        external_id: &str,
        now: Timestamp,
        audit: &AuditEntry,
    ) -> Result<Integration, StoreError>;

    /// One integration of `kind`, if it exists.
    async fn integration(
        &self,
        kind: IntegrationKind,
        id: i64,
    ) -> Result<Option<Integration>, StoreError>;

    /// Every integration of `kind` (`None`: all kinds), by id.
    async fn integrations(
        &self,
        kind: Option<IntegrationKind>,
    ) -> Result<Vec<Integration>, StoreError>;

    /// Replaces the settings (name still unique, else `Conflict`; missing
    /// id: `NotFound`). With `new_external_id`, or when bucket, region or
    /// role changed, the integration is no longer validated (state
    /// `Pending`) until validated again. The watermark goes back to the epoch and
    /// delivered-subject hashes stay, so only what the new settings change
    /// is sent again.
    async fn update_integration(
        &self,
        kind: IntegrationKind,
        id: i64,
        settings: &IntegrationSettings,
        new_external_id: Option<&str>,
        now: Timestamp,
        audit: &AuditEntry,
    ) -> Result<Integration, StoreError>;

    /// Marks it validated and `Active`, clears its problem (`NotFound` when
    /// missing).
    async fn mark_validated(
        &self,
        kind: IntegrationKind,
        id: i64,
        now: Timestamp,
        audit: &AuditEntry,
    ) -> Result<(), StoreError>;

    /// Deletes it with its outbox objects, subject hashes and watermark
    /// (`NotFound` when missing).
    async fn delete_integration(
        &self,
        kind: IntegrationKind,
        id: i64,
        audit: &AuditEntry,
    ) -> Result<(), StoreError>;

    /// Puts a validated integration in `Error` with `problem` (text for
    /// people). Returns true when `code` differs from the problem last
    /// alerted, and records `code` as alerted then: the caller e-mails only
    /// on true, so each problem is mailed once, not once per retry.
    async fn integration_failed(
        &self,
        id: i64,
        code: &str,
        problem: &str,
        now: Timestamp,
    ) -> Result<bool, StoreError>;

    /// Back to `Active` after a write succeeded; forgets the alerted
    /// problem so a later problem is mailed again. No-op unless in `Error`.
    async fn integration_recovered(&self, id: i64, now: Timestamp) -> Result<(), StoreError>;

    // --- CIPS -------------------------------------------------------------

    /// The CIPS configuration (the default when none was created).
    async fn cips_config(&self) -> Result<CipsConfig, StoreError>;

    /// Creates or replaces the filter flags; sets `id` (once) and
    /// `last_updated` = `now`. Every PC integration's watermark goes back to
    /// the epoch so the filter applies at once.
    async fn set_cips_filter(
        &self,
        include_evidence_data: bool,
        include_fail_posture: bool,
        include_pass_posture: bool,
        include_error_posture: bool,
        now: Timestamp,
        audit: &AuditEntry,
    ) -> Result<CipsConfig, StoreError>;

    /// Adds policies (more than 100 in all: `Invalid`, nothing changes);
    /// PC watermarks go back to the epoch.
    async fn add_cips_policies(
        &self,
        policies: &[i64],
        now: Timestamp,
        audit: &AuditEntry,
    ) -> Result<CipsConfig, StoreError>;

    /// Removes policies (absent ones are ignored).
    async fn remove_cips_policies(
        &self,
        policies: &[i64],
        now: Timestamp,
        audit: &AuditEntry,
    ) -> Result<CipsConfig, StoreError>;

    // --- planner ----------------------------------------------------------

    /// Takes or renews the delivery lease for `node` until `now + lease_ms`;
    /// false when another node holds an unexpired one.
    async fn delivery_lease(
        &self,
        node: &str,
        now: Timestamp,
        lease_ms: i64,
    ) -> Result<bool, StoreError>;

    /// The integration's watermark (the Unix epoch when never planned, or
    /// after a reset).
    async fn watermark(&self, integration_id: i64) -> Result<Timestamp, StoreError>;

    /// Hosts with a detection stored (`last_seen`) at or after `since`,
    /// ordered by key, after `after`, at most `limit`.
    async fn vm_changed_hosts(
        &self,
        since: Timestamp,
        after: Option<&HostKey>,
        limit: u32,
    ) -> Result<Vec<HostKey>, StoreError>;

    /// The hosts with all their detections (hosts not stored are left out).
    async fn vm_host_findings(&self, hosts: &[HostKey]) -> Result<Vec<HostFindings>, StoreError>;

    /// The knowledge-base entries of a connector for `qids` (missing ones
    /// left out).
    async fn kb_entries(
        &self,
        connector_id: &str,
        qids: &[i64],
    ) -> Result<HashMap<i64, QualysKbEntry>, StoreError>;

    /// Hosts with a posture stored at or after `since`, as
    /// [`DeliveryStore::vm_changed_hosts`].
    async fn pc_changed_hosts(
        &self,
        since: Timestamp,
        after: Option<&HostKey>,
        limit: u32,
    ) -> Result<Vec<HostKey>, StoreError>;

    /// The hosts with their postures of `policies` (empty: none).
    async fn pc_host_postures(
        &self,
        hosts: &[HostKey],
        policies: &[i64],
    ) -> Result<Vec<HostPostures>, StoreError>;

    /// Evaluations of present resources evaluated at or after `since`,
    /// ordered by (resource id, cid), after `after`, at most `limit`.
    async fn evaluations_changed(
        &self,
        since: Timestamp,
        after: Option<&(String, u32)>,
        limit: u32,
    ) -> Result<Vec<EvaluationRow>, StoreError>;

    /// The stored hashes of `subjects` for the integration (missing ones
    /// left out).
    async fn subject_hashes(
        &self,
        integration_id: i64,
        subjects: &[String],
    ) -> Result<HashMap<String, i64>, StoreError>;

    /// Writes a plan in one transaction: objects into the outbox (due now),
    /// subject hashes, the watermark.
    async fn commit_plan(&self, plan: PlanCommit<'_>, now: Timestamp) -> Result<(), StoreError>;

    // --- sender -----------------------------------------------------------

    /// Up to `limit` objects of validated integrations due at `now`, oldest
    /// first.
    async fn outbox_due(&self, now: Timestamp, limit: u32)
        -> Result<Vec<OutboxObject>, StoreError>;

    /// S3 confirmed the object: it leaves the outbox; the integration's
    /// delivery counters and `last_delivery` move.
    async fn outbox_delivered(&self, object_id: i64, now: Timestamp) -> Result<(), StoreError>;

    /// The write failed: one more attempt, `error`, next try at `next`.
    async fn outbox_retry(
        &self,
        object_id: i64,
        error: &str,
        next: Timestamp,
    ) -> Result<(), StoreError>;

    /// Objects waiting for an integration (`None`: all).
    async fn outbox_pending(&self, integration_id: Option<i64>) -> Result<u64, StoreError>;
}
