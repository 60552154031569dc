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
    /// on true, so each problem is mailed once, not once per retry. An
    /// integration that is not validated (changed meanwhile) stays as it is
    /// (false); a missing one is `NotFound`.
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

    /// The hosts with their postures of `policies` (empty: none), by
    /// policy, control, instance. A host with postures but no stored host
    /// record (PC ingest reads no host list) comes with only its id.
    async fn pc_host_postures(
        &self,
        hosts: &[HostKey],
        policies: &[i64],
    ) -> Result<Vec<HostPostures>, StoreError>;

    /// Evaluations of present resources evaluated at or after `since`,
    /// ordered by resource id (within one: by resource, then cid), of the
    /// resource ids after that of `after` (the key of the previous page's
    /// last row), `limit` rows and the rest of the last row's resource id:
    /// a page holds every row of each resource id it has (one native id may
    /// be several resources), so paging by the last row's key misses none
    /// and a page shorter than `limit` is the last.
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
    /// delivery counters and `last_delivery` move. `NotFound` when the
    /// object is gone (its integration was deleted meanwhile).
    async fn outbox_delivered(&self, object_id: i64, now: Timestamp) -> Result<(), StoreError>;

    /// The write failed: one more attempt, `error`, next try at `next`
    /// (`NotFound` when the object is gone).
    async fn outbox_retry(
        &self,
        object_id: i64,
        error: &str,
        next: Timestamp,
    ) -> Result<(), StoreError>;

    /// Objects waiting for an integration (`None`: all).
    async fn outbox_pending(&self, integration_id: Option<i64>) -> Result<u64, StoreError>;
}

// ---------------------------------------------------------------------------
// What both backends share: the SQL (with `?` placeholders; PostgreSQL
// numbers them), the values to bind, the checks made before anything is
// written, and the readers of rows (through [`Columns`]).

use crate::qualys::{Columns, Value, DETECTIONS, HOSTS, KB, NO_PORT};
use crate::search::timestamp;
use std::borrow::Cow;
use vigil_model::qualys::{CloudSource, DetectionStatus, DetectionType};

/// Seed 000's `id` of the CIPS configuration, given when its filter is
/// first created and never changed afterwards (there is one configuration).
pub const CIPS_CONFIG_ID: i64 = 1001;

/// Seed 000: "You can add up to 100 policies to CIPS."
pub const MAX_CIPS_POLICIES: usize = 100;

/// Ids (hosts, QIDs, subjects) per statement of a read or write by list:
/// far below SQLite's 32,766 variables and PostgreSQL's 65,535 parameters.
pub const CHUNK: usize = 1000;

/// The columns of an integration, in the order [`read_integration`] reads
/// them.
pub const INTEGRATION_COLUMNS: &str = "id, kind, name, bucket_name, bucket_region, role_arn, \
     compress_data, min_severity, base_category, result_section_needed, send_vuln_info, \
     send_alerts, error_emails, external_id, validated, state, problem, alerted_problem, \
     created, updated, last_delivery, objects_delivered, items_delivered";

/// The settings columns, in the order of [`settings_values`].
const SETTINGS_COLUMNS: [&str; 11] = [
    "name",
    "bucket_name",
    "bucket_region",
    "role_arn",
    "compress_data",
    "min_severity",
    "base_category",
    "result_section_needed",
    "send_vuln_info",
    "send_alerts",
    "error_emails",
];

fn marks(n: usize) -> String {
    vec!["?"; n].join(", ")
}

/// What the store refuses whatever the API checked: no name, a severity
/// outside 1–5, more than 5 error e-mails. The message names the field.
pub fn check_settings(s: &IntegrationSettings) -> Result<(), StoreError> {
    if s.name.trim().is_empty() {
        return Err(StoreError::Invalid(
            "name: an integration needs a name".into(),
        ));
    }
    if !(1..=5).contains(&s.min_severity) {
        return Err(StoreError::Invalid(format!(
            "minSeverity: {} is not a severity; give 1 to 5",
            s.min_severity
        )));
    }
    if s.error_emails.len() > 5 {
        return Err(StoreError::Invalid(format!(
            "errorEmails: at most 5 addresses, not {}",
            s.error_emails.len()
        )));
    }
    Ok(())
}

/// The settings' values, in the order of the settings columns.
pub fn settings_values(s: &IntegrationSettings) -> Vec<Value<'_>> {
    vec![
        Value::Text(Some(Cow::Borrowed(&s.name))),
        Value::Text(Some(Cow::Borrowed(&s.bucket_name))),
        Value::Text(Some(Cow::Borrowed(&s.bucket_region))),
        Value::Text(Some(Cow::Borrowed(&s.role_arn))),
        Value::Bool(s.compress_data),
        Value::Int(Some(i64::from(s.min_severity))),
        Value::Text(Some(Cow::Borrowed(s.base_category.as_str()))),
        Value::Bool(s.result_section_needed),
        Value::Bool(s.send_vuln_info),
        Value::Bool(s.send_alerts),
        // A list of strings always serializes.
        Value::Text(Some(Cow::Owned(
            serde_json::to_string(&s.error_emails).unwrap_or_else(|_| "[]".into()),
        ))),
    ]
}

/// Inserts an integration unless its (kind, name) is taken, returning it.
/// Binds the kind, the [`settings_values`], the external id, then the time
/// twice (created, updated). No row back: the name is taken.
pub fn create_integration_sql() -> String {
    format!(
        "INSERT INTO integrations (kind, {}, external_id, validated, state, created, updated, \
         objects_delivered, items_delivered, watermark) \
         VALUES (?, {}, ?, FALSE, 'pending', ?, ?, 0, 0, 0) \
         ON CONFLICT (kind, name) DO NOTHING RETURNING {INTEGRATION_COLUMNS}",
        SETTINGS_COLUMNS.join(", "),
        marks(SETTINGS_COLUMNS.len())
    )
}

/// Replaces an integration's settings and state and puts its watermark back
/// to the epoch, returning it. Binds the [`settings_values`], the external
/// id, validated, state, problem, alerted problem, the time, then the kind
/// and the id.
pub fn update_integration_sql() -> String {
    let set: Vec<String> = SETTINGS_COLUMNS
        .iter()
        .map(|c| format!("{c} = ?"))
        .collect();
    format!(
        "UPDATE integrations SET {}, external_id = ?, validated = ?, state = ?, problem = ?, \
         alerted_problem = ?, updated = ?, watermark = 0 \
         WHERE kind = ? AND id = ? RETURNING {INTEGRATION_COLUMNS}",
        set.join(", ")
    )
}

/// One integration by kind (bound first) and id.
pub fn integration_sql() -> String {
    format!("SELECT {INTEGRATION_COLUMNS} FROM integrations WHERE kind = ? AND id = ?")
}

/// Every integration, or those of the kind bound.
pub fn integrations_sql(of_kind: bool) -> String {
    let only = if of_kind { " WHERE kind = ?" } else { "" };
    format!("SELECT {INTEGRATION_COLUMNS} FROM integrations{only} ORDER BY id")
}

/// Whether a change must be validated again: a new external id, or another
/// bucket, region or role (seed 000: the role trusts the external id; the
/// test file proves the bucket).
pub fn needs_validation(
    stored: &Integration,
    settings: &IntegrationSettings,
    new_external_id: Option<&str>,
) -> bool {
    new_external_id.is_some()
        || stored.settings.bucket_name != settings.bucket_name
        || stored.settings.bucket_region != settings.bucket_region
        || stored.settings.role_arn != settings.role_arn
}

/// A stored time (milliseconds) as a timestamp.
pub fn time_of(ms: i64) -> Result<Timestamp, StoreError> {
    timestamp(ms)
}

/// The error of a plan whose starting watermark is no longer the stored one.
pub fn watermark_moved(id: i64, stored: i64, expected: i64) -> StoreError {
    StoreError::Conflict(format!(
        "integration {id} was planned or reset meanwhile (its watermark is {stored} ms, the plan \
         started from {expected} ms); nothing was written, plan again"
    ))
}

/// At most this many policies in one posture read (CIPS has 100).
pub const MAX_POSTURE_POLICIES: usize = 10_000;

/// The error of a posture read for too many policies.
pub fn too_many_posture_policies(n: usize) -> StoreError {
    StoreError::Invalid(format!(
        "policies: {n} policies in one posture read; give at most {MAX_POSTURE_POLICIES}"
    ))
}

/// The error of an integration name that is taken.
pub fn name_taken(kind: IntegrationKind, name: &str) -> StoreError {
    StoreError::Conflict(format!(
        "a {} integration named `{name}` already exists; choose another name",
        kind.label()
    ))
}

/// The error of an integration that does not exist.
pub fn no_integration(kind: IntegrationKind, id: i64) -> StoreError {
    StoreError::NotFound(format!(
        "there is no {} integration with id {id}",
        kind.label()
    ))
}

/// The error of an integration id that does not exist, whatever its kind.
pub fn no_integration_id(id: i64) -> StoreError {
    StoreError::NotFound(format!("there is no integration with id {id}"))
}

fn bad(what: &str, value: impl std::fmt::Display) -> StoreError {
    StoreError::Database(format!("stored {what} `{value}` is not valid"))
}

fn need<T>(v: Option<T>, what: &str) -> Result<T, StoreError> {
    v.ok_or_else(|| StoreError::Database(format!("stored {what} is missing")))
}

fn opt_time(ms: Option<i64>) -> Result<Option<Timestamp>, StoreError> {
    ms.map(timestamp).transpose()
}

fn json_list<T: serde::de::DeserializeOwned>(
    text: Option<String>,
    what: &str,
) -> Result<Vec<T>, StoreError> {
    match text {
        Some(t) => serde_json::from_str(&t)
            .map_err(|e| StoreError::Database(format!("stored {what} is not a JSON list: {e}"))),
        None => Ok(Vec::new()),
    }
}

fn unsigned(v: i64, what: &str) -> Result<u64, StoreError> {
    u64::try_from(v).map_err(|_| bad(what, v))
}

/// A row of [`INTEGRATION_COLUMNS`].
pub fn read_integration(c: &dyn Columns) -> Result<Integration, StoreError> {
    let kind = need(c.text(1)?, "integration kind")?;
    let base = need(c.text(8)?, "base category")?;
    let state = need(c.text(15)?, "integration state")?;
    let severity = need(c.int(7)?, "minimum severity")?;
    Ok(Integration {
        id: need(c.int(0)?, "integration id")?,
        kind: IntegrationKind::parse(&kind).ok_or_else(|| bad("integration kind", &kind))?,
        settings: IntegrationSettings {
            name: need(c.text(2)?, "integration name")?,
            bucket_name: c.text(3)?.unwrap_or_default(),
            bucket_region: c.text(4)?.unwrap_or_default(),
            role_arn: c.text(5)?.unwrap_or_default(),
            compress_data: c.boolean(6)?.unwrap_or(true),
            min_severity: u8::try_from(severity).map_err(|_| bad("minimum severity", severity))?,
            base_category: BaseCategory::parse(&base).ok_or_else(|| bad("base category", &base))?,
            result_section_needed: c.boolean(9)?.unwrap_or(false),
            send_vuln_info: c.boolean(10)?.unwrap_or(false),
            send_alerts: c.boolean(11)?.unwrap_or(false),
            error_emails: json_list(c.text(12)?, "list of error e-mails")?,
        },
        external_id: c.text(13)?.unwrap_or_default(),
        validated: c.boolean(14)?.unwrap_or(false),
        state: IntegrationState::parse(&state).ok_or_else(|| bad("integration state", &state))?,
        problem: c.text(16)?,
        alerted_problem: c.text(17)?,
        created: timestamp(need(c.int(18)?, "creation time")?)?,
        updated: timestamp(need(c.int(19)?, "update time")?)?,
        last_delivery: opt_time(c.int(20)?)?,
        objects_delivered: unsigned(c.int(21)?.unwrap_or(0), "object count")?,
        items_delivered: unsigned(c.int(22)?.unwrap_or(0), "item count")?,
    })
}

/// Deletes what belongs to an integration (binds its id): its outbox
/// objects and its subject hashes.
pub const DELETE_INTEGRATION_DATA_SQL: [&str; 2] = [
    "DELETE FROM delivery_outbox WHERE integration_id = ?",
    "DELETE FROM delivery_subjects WHERE integration_id = ?",
];

/// Binds problem, code, then the id: puts a validated integration in
/// `Error`, recording the problem and the code as alerted.
pub const FAILED_SQL: &str = "UPDATE integrations SET state = 'error', problem = ?, \
     alerted_problem = ? WHERE id = ? AND validated";

/// Binds the id: back to `Active` from `Error`, the alerted problem forgotten.
pub const RECOVERED_SQL: &str = "UPDATE integrations SET state = 'active', problem = NULL, \
     alerted_problem = NULL WHERE id = ? AND state = 'error'";

/// Binds the time, the kind and the id.
pub const VALIDATED_SQL: &str = "UPDATE integrations SET validated = TRUE, state = 'active', \
     problem = NULL, alerted_problem = NULL, updated = ? WHERE kind = ? AND id = ?";

/// Every PC integration plans again from the epoch (the CIPS filter or
/// policies changed and apply at once).
pub const RESET_PC_WATERMARKS_SQL: &str = "UPDATE integrations SET watermark = 0 WHERE kind = 'pc'";

/// The filter: id, the four flags, last updated (no row: none created).
pub const CIPS_CONFIG_SQL: &str = "SELECT id, include_evidence_data, include_fail_posture, \
     include_pass_posture, include_error_posture, last_updated FROM cips_config WHERE one = 1";

/// The policies in CIPS, ascending.
pub const CIPS_POLICIES_SQL: &str = "SELECT policy_id FROM cips_policies ORDER BY policy_id";

/// Creates or replaces the filter: binds the four flags and the time; the
/// id ([`CIPS_CONFIG_ID`]) is set on creation only.
pub fn set_cips_filter_sql() -> String {
    format!(
        "INSERT INTO cips_config (one, id, include_evidence_data, include_fail_posture, \
         include_pass_posture, include_error_posture, last_updated) \
         VALUES (1, {CIPS_CONFIG_ID}, ?, ?, ?, ?, ?) ON CONFLICT (one) DO UPDATE SET \
         include_evidence_data = excluded.include_evidence_data, \
         include_fail_posture = excluded.include_fail_posture, \
         include_pass_posture = excluded.include_pass_posture, \
         include_error_posture = excluded.include_error_posture, \
         last_updated = excluded.last_updated"
    )
}

/// Binds the time: the configuration changed (when it exists).
pub const CIPS_TOUCH_SQL: &str = "UPDATE cips_config SET last_updated = ? WHERE one = 1";

/// Binds the policy and the time.
pub const ADD_CIPS_POLICY_SQL: &str =
    "INSERT INTO cips_policies (policy_id, added) VALUES (?, ?) ON CONFLICT (policy_id) DO NOTHING";

/// Removes the policies `?, ?, …`.
pub fn remove_cips_policies_sql(n: usize) -> String {
    format!(
        "DELETE FROM cips_policies WHERE policy_id IN ({})",
        marks(n)
    )
}

/// The policies asked for, ascending and once each; a policy id that is
/// not positive is refused.
pub fn check_policies(policies: &[i64]) -> Result<Vec<i64>, StoreError> {
    if let Some(p) = policies.iter().find(|p| **p <= 0) {
        return Err(StoreError::Invalid(format!(
            "policy: {p} is not a policy id; give the positive ids of Qualys policies"
        )));
    }
    let mut v = policies.to_vec();
    v.sort_unstable();
    v.dedup();
    Ok(v)
}

/// The error of adding policies past the limit, with how many there would be.
pub fn too_many_policies(would_be: usize) -> StoreError {
    StoreError::Invalid(format!(
        "policy: CIPS takes at most {MAX_CIPS_POLICIES} policies; adding these would make \
         {would_be}; remove some first"
    ))
}

/// The CIPS configuration from its filter row (id, four flags, last
/// updated; `None`: not created) and its policies.
pub fn cips_from(
    filter: Option<(i64, bool, bool, bool, bool, i64)>,
    policies: Vec<i64>,
) -> Result<CipsConfig, StoreError> {
    Ok(match filter {
        Some((id, evidence, fail, pass, error, updated)) => CipsConfig {
            id: Some(id),
            include_evidence_data: evidence,
            include_fail_posture: fail,
            include_pass_posture: pass,
            include_error_posture: error,
            last_updated: Some(timestamp(updated)?),
            policies,
        },
        None => CipsConfig {
            policies,
            ..CipsConfig::default()
        },
    })
}

/// Takes or renews the lease: binds the node, the end of the lease, and
/// now. One row changed: the lease is the node's.
pub const LEASE_SQL: &str = "INSERT INTO delivery_lease (one, node, until) VALUES (1, ?, ?) \
     ON CONFLICT (one) DO UPDATE SET node = excluded.node, until = excluded.until \
     WHERE delivery_lease.node = excluded.node OR delivery_lease.until <= ?";

/// The watermark of the integration bound.
pub const WATERMARK_SQL: &str = "SELECT watermark FROM integrations WHERE id = ?";

/// Binds the watermark and the id.
pub const SET_WATERMARK_SQL: &str = "UPDATE integrations SET watermark = ? WHERE id = ?";

/// The table a changed-hosts read looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Changed {
    /// VM detections.
    Detections,
    /// PC postures.
    Postures,
}

/// Distinct (connector, host) of rows stored at or after the time bound
/// first; with `after`, past the (connector, host) bound next; then the
/// limit.
pub fn changed_hosts_sql(table: Changed, after: bool) -> String {
    let table = match table {
        Changed::Detections => "qualys_detections",
        Changed::Postures => "qualys_pc_postures",
    };
    let after = if after {
        " AND (connector_id, host_id) > (?, ?)"
    } else {
        ""
    };
    format!(
        "SELECT DISTINCT connector_id, host_id FROM {table} WHERE last_seen >= ?{after} \
         ORDER BY connector_id, host_id LIMIT ?"
    )
}

/// The hosts `?, ?, …` of the connector bound first: the account name then
/// the host columns (see [`read_host`]).
pub fn hosts_sql(n: usize) -> String {
    let cols: Vec<&str> = HOSTS.columns.iter().map(|c| c.0).collect();
    format!(
        "SELECT account_name, {} FROM qualys_hosts WHERE connector_id = ? AND host_id IN ({})",
        cols.join(", "),
        marks(n)
    )
}

/// The detections of the hosts `?, ?, …` of the connector bound first, by
/// host, QID, port (see [`read_detection`]).
pub fn detections_sql(n: usize) -> String {
    let cols: Vec<&str> = DETECTIONS.columns.iter().map(|c| c.0).collect();
    format!(
        "SELECT {} FROM qualys_detections WHERE connector_id = ? AND host_id IN ({}) \
         ORDER BY host_id, qid, port, protocol, ssl",
        cols.join(", "),
        marks(n)
    )
}

/// The knowledge base of the QIDs `?, ?, …` of the connector bound first
/// (see [`read_kb`]).
pub fn kb_sql(n: usize) -> String {
    let cols: Vec<&str> = KB.columns.iter().map(|c| c.0).collect();
    format!(
        "SELECT {} FROM qualys_kb WHERE connector_id = ? AND qid IN ({})",
        cols.join(", "),
        marks(n)
    )
}

/// The postures of `hosts` hosts (`?, ?, …` after the connector) in
/// `policies` policies (`?, ?, …` after the hosts), with their control's
/// statement, by host, policy, control, instance (see [`read_posture`]).
pub fn postures_sql(hosts: usize, policies: usize) -> String {
    format!(
        "SELECT p.account_name, p.host_id, p.posture_id, p.policy_id, p.control_id, \
         c.statement, p.technology_id, p.instance, p.status, p.last_status, p.evidence, \
         p.cause_of_failure, p.extended_evidence, p.first_found, p.last_evaluated, \
         p.posture_modified, p.fail_first_found, p.fail_last_found, p.passed_first_found, \
         p.passed_last_found \
         FROM qualys_pc_postures p LEFT JOIN qualys_pc_controls c \
         ON c.connector_id = p.connector_id AND c.control_id = p.control_id \
         WHERE p.connector_id = ? AND p.host_id IN ({}) AND p.policy_id IN ({}) \
         ORDER BY p.host_id, p.policy_id, p.control_id, p.instance",
        marks(hosts),
        marks(policies)
    )
}

/// Evaluations of present resources evaluated at or after the time bound
/// first, of resources whose native id is past the one bound next (from the
/// start: the empty text, with `after` false), then the limit; by native
/// id, resource, cid. `last_evaluated` is how the backend names the column
/// in the condition: SQLite's `+e.last_evaluated` keeps it from using the
/// time index, so that it walks resources in native-id order and stops at
/// the limit instead of sorting the whole window for every page.
pub fn evaluations_changed_sql(after: bool, last_evaluated: &str) -> String {
    let op = if after { ">" } else { ">=" };
    format!(
        "SELECT {} {}{last_evaluated} >= ? AND r.native_id {op} ? \
         ORDER BY r.native_id, r.id, e.cid LIMIT ?",
        crate::search::EVALUATION_COLUMNS,
        crate::search::FROM_PRESENT
    )
}

/// The rest of a page's last native id: the evaluations of
/// [`evaluations_changed_sql`] with the time and the native id bound, in
/// the same order.
pub fn evaluations_of_native_sql(last_evaluated: &str) -> String {
    format!(
        "SELECT {} {}{last_evaluated} >= ? AND r.native_id = ? ORDER BY r.id, e.cid",
        crate::search::EVALUATION_COLUMNS,
        crate::search::FROM_PRESENT
    )
}

/// How many rows at the end of `page` have the native id of its last row: a
/// page never ends inside a native id (several resources and controls of
/// one native id, e.g. an IaC address in two files), the rest of it is read
/// with [`evaluations_of_native_sql`] and its first that many rows skipped.
pub fn rows_of_last_native(page: &[EvaluationRow]) -> usize {
    match page.last() {
        Some(last) => page
            .iter()
            .rev()
            .take_while(|r| r.resource_id == last.resource_id)
            .count(),
        None => 0,
    }
}

/// Whether a host of `table` changed at or after the time bound (an index
/// read: a planner round where nothing changed costs nothing more).
pub fn changed_probe_sql(table: Changed) -> &'static str {
    match table {
        Changed::Detections => {
            "SELECT EXISTS (SELECT 1 FROM qualys_detections WHERE last_seen >= ?)"
        }
        Changed::Postures => {
            "SELECT EXISTS (SELECT 1 FROM qualys_pc_postures WHERE last_seen >= ?)"
        }
    }
}

/// Whether an evaluation changed at or after the time bound (an index read).
pub const EVALUATIONS_PROBE_SQL: &str =
    "SELECT EXISTS (SELECT 1 FROM evaluations WHERE last_evaluated >= ?)";

/// The stored hashes of the subjects `?, ?, …` of the integration bound
/// first.
pub fn subject_hashes_sql(n: usize) -> String {
    format!(
        "SELECT subject, hash FROM delivery_subjects WHERE integration_id = ? AND subject IN ({})",
        marks(n)
    )
}

/// Upserts `n` (integration, subject, hash) rows.
pub fn upsert_subjects_sql(n: usize) -> String {
    format!(
        "INSERT INTO delivery_subjects (integration_id, subject, hash) VALUES {} \
         ON CONFLICT (integration_id, subject) DO UPDATE SET hash = excluded.hash",
        vec!["(?, ?, ?)"; n].join(", ")
    )
}

/// The subjects once each (the last hash of a subject given twice wins):
/// one statement may not change a row twice.
pub fn last_hash_per_subject(subjects: &[(String, i64)]) -> Vec<(&str, i64)> {
    let mut at: HashMap<&str, usize> = HashMap::with_capacity(subjects.len());
    let mut out: Vec<(&str, i64)> = Vec::with_capacity(subjects.len());
    for (s, h) in subjects {
        match at.get(s.as_str()) {
            Some(&i) => out[i].1 = *h,
            None => {
                at.insert(s, out.len());
                out.push((s, *h));
            }
        }
    }
    out
}

/// Binds the integration, key, body, content type, content encoding,
/// items, the time (created) and the time again (due).
pub const INSERT_OBJECT_SQL: &str = "INSERT INTO delivery_outbox (integration_id, key, body, \
     content_type, content_encoding, items, created, attempts, next_attempt, last_error) \
     VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?, NULL)";

/// The columns of an outbox object: `o.body` is column 3, read apart as
/// bytes; the others by [`read_outbox`].
pub const OUTBOX_COLUMNS: &str = "o.id, o.integration_id, o.key, o.body, o.content_type, \
     o.content_encoding, o.items, o.created, o.attempts, o.next_attempt, o.last_error";

/// Objects of validated integrations due at the time bound, oldest due
/// first, then the limit.
pub fn outbox_due_sql() -> String {
    format!(
        "SELECT {OUTBOX_COLUMNS} FROM delivery_outbox o JOIN integrations i \
         ON i.id = o.integration_id \
         WHERE i.validated AND i.state IN ('active', 'error') AND o.next_attempt <= ? \
         ORDER BY o.next_attempt, o.id LIMIT ?"
    )
}

/// Binds the object id: removes it, giving its integration and items.
pub const DELIVERED_SQL: &str =
    "DELETE FROM delivery_outbox WHERE id = ? RETURNING integration_id, items";

/// Binds the time, the items, then the integration.
pub const COUNT_DELIVERY_SQL: &str = "UPDATE integrations SET \
     objects_delivered = objects_delivered + 1, items_delivered = items_delivered + ?, \
     last_delivery = ? WHERE id = ?";

/// Binds the error, the next attempt and the object id.
pub const RETRY_SQL: &str = "UPDATE delivery_outbox SET attempts = attempts + 1, \
     last_error = ?, next_attempt = ? WHERE id = ?";

/// Objects waiting, of every integration or of the one bound.
pub fn outbox_pending_sql(of_one: bool) -> &'static str {
    if of_one {
        "SELECT COUNT(*) FROM delivery_outbox WHERE integration_id = ?"
    } else {
        "SELECT COUNT(*) FROM delivery_outbox"
    }
}

/// The error of an outbox object that is not there (delivered already, or
/// its integration deleted meanwhile).
pub fn no_object(id: i64) -> StoreError {
    StoreError::NotFound(format!(
        "there is no outbox object {id}; it was delivered already or its integration deleted"
    ))
}

/// A row of [`OUTBOX_COLUMNS`] with its body read apart.
pub fn read_outbox(c: &dyn Columns, body: Vec<u8>) -> Result<OutboxObject, StoreError> {
    let items = need(c.int(6)?, "item count")?;
    let attempts = need(c.int(8)?, "attempt count")?;
    Ok(OutboxObject {
        id: need(c.int(0)?, "outbox id")?,
        integration_id: need(c.int(1)?, "outbox integration")?,
        key: need(c.text(2)?, "object key")?,
        body,
        content_type: need(c.text(4)?, "content type")?,
        content_encoding: c.text(5)?,
        items: u32::try_from(items).map_err(|_| bad("item count", items))?,
        created: timestamp(need(c.int(7)?, "object creation time")?)?,
        attempts: u32::try_from(attempts).map_err(|_| bad("attempt count", attempts))?,
        next_attempt: timestamp(need(c.int(9)?, "next attempt")?)?,
        last_error: c.text(10)?,
    })
}

/// The hosts of `keys` grouped by connector (in the order each connector
/// first appears), each host once, in chunks of at most [`CHUNK`].
pub fn by_connector(keys: &[HostKey]) -> Vec<(&str, Vec<i64>)> {
    let mut out: Vec<(&str, Vec<i64>)> = Vec::new();
    let mut seen: std::collections::HashSet<(&str, i64)> = std::collections::HashSet::new();
    let mut at: HashMap<&str, usize> = HashMap::new();
    for (connector, host) in keys {
        if !seen.insert((connector.as_str(), *host)) {
            continue;
        }
        let i = *at.entry(connector.as_str()).or_insert_with(|| {
            out.push((connector.as_str(), Vec::new()));
            out.len() - 1
        });
        out[i].1.push(*host);
    }
    out.into_iter()
        .flat_map(|(c, hosts)| {
            hosts
                .chunks(CHUNK)
                .map(|h| (c, h.to_vec()))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// A row of [`hosts_sql`]: the account name, then the host.
pub fn read_host(c: &dyn Columns) -> Result<(String, QualysHost), StoreError> {
    let t = |i: usize| c.text(i + 1);
    let n = |i: usize| c.int(i + 1);
    let cloud = match t(13)? {
        Some(instance_id) => Some(CloudSource {
            provider: t(12)?.unwrap_or_default(),
            instance_id,
            account_id: t(14)?,
            region: t(15)?,
        }),
        None => None,
    };
    let host = QualysHost {
        id: need(n(0)?, "host id")?,
        asset_id: n(1)?,
        ip: t(2)?,
        ipv6: t(3)?,
        dns: t(4)?,
        fqdn: t(5)?,
        netbios: t(6)?,
        os: t(7)?,
        mac: t(8)?,
        gateway: t(9)?,
        tracking_method: t(10)?,
        tags: json_list(t(11)?, "list of host tags")?,
        cloud,
        criticality: n(16)?,
        ars: n(17)?,
        ars_factors: t(18)?,
        last_vuln_scan: opt_time(n(19)?)?,
        last_compliance_scan: opt_time(n(20)?)?,
        last_activity: opt_time(n(21)?)?,
        modified: opt_time(n(22)?)?,
    };
    Ok((c.text(0)?.unwrap_or_default(), host))
}

/// A row of [`detections_sql`].
pub fn read_detection(c: &dyn Columns) -> Result<QualysDetection, StoreError> {
    let kind = need(c.text(6)?, "detection type")?;
    let status = need(c.text(8)?, "detection status")?;
    let severity = need(c.int(7)?, "severity")?;
    let port = need(c.int(2)?, "port")?;
    Ok(QualysDetection {
        host_id: need(c.int(0)?, "host id")?,
        qid: need(c.int(1)?, "QID")?,
        port: if port == NO_PORT {
            None
        } else {
            Some(u32::try_from(port).map_err(|_| bad("port", port))?)
        },
        protocol: c.text(3)?.filter(|p| !p.is_empty()),
        ssl: c.boolean(4)?.unwrap_or(false),
        instance_id: c.text(5)?,
        kind: DetectionType::parse(&kind).ok_or_else(|| bad("detection type", &kind))?,
        severity: u8::try_from(severity).map_err(|_| bad("severity", severity))?,
        status: DetectionStatus::parse(&status).ok_or_else(|| bad("detection status", &status))?,
        first_found: opt_time(c.int(9)?)?,
        last_found: opt_time(c.int(10)?)?,
        times_found: c.int(11)?,
        last_fixed: opt_time(c.int(12)?)?,
        results: c.text(13)?,
    })
}

/// A row of [`kb_sql`].
pub fn read_kb(c: &dyn Columns) -> Result<QualysKbEntry, StoreError> {
    let severity = c.int(2)?;
    Ok(QualysKbEntry {
        qid: need(c.int(0)?, "QID")?,
        vuln_type: c.text(1)?,
        severity: severity
            .map(|s| u8::try_from(s).map_err(|_| bad("severity", s)))
            .transpose()?,
        title: c.text(3)?.unwrap_or_default(),
        category: c.text(4)?,
        cves: json_list(c.text(5)?, "list of CVEs")?,
        cvss_base: c.real(6)?,
        cvss3_base: c.real(7)?,
        diagnosis: c.text(8)?,
        consequence: c.text(9)?,
        solution: c.text(10)?,
        patchable: c.boolean(11)?.unwrap_or(false),
        published: opt_time(c.int(12)?)?,
        modified: opt_time(c.int(13)?)?,
    })
}

/// A row of [`postures_sql`]: the account name, the host id, the posture.
pub fn read_posture(c: &dyn Columns) -> Result<(String, i64, PostureRow), StoreError> {
    let t = |i| -> Result<Option<Timestamp>, StoreError> { opt_time(c.int(i)?) };
    let row = PostureRow {
        posture_id: need(c.int(2)?, "posture id")?,
        policy_id: need(c.int(3)?, "policy id")?,
        control_id: need(c.int(4)?, "control id")?,
        control_statement: c.text(5)?.unwrap_or_default(),
        technology_id: c.int(6)?,
        instance: c.text(7)?.unwrap_or_default(),
        status: c.text(8)?,
        last_status: c.text(9)?,
        evidence: c.text(10)?,
        cause_of_failure: c.text(11)?,
        extended_evidence: c.text(12)?,
        first_evaluated: t(13)?,
        last_evaluated: t(14)?,
        posture_modified: t(15)?,
        fail_first_found: t(16)?,
        fail_last_found: t(17)?,
        passed_first_found: t(18)?,
        passed_last_found: t(19)?,
    };
    Ok((
        c.text(0)?.unwrap_or_default(),
        need(c.int(1)?, "host id")?,
        row,
    ))
}

/// Puts read hosts and their rows (detections, postures) together in the
/// order of `keys` (each once): `hosts` by (connector, host id) with the
/// account name, `rows` by (connector, host id). A key without a stored
/// host is left out unless `bare` gives one (the account name and a host
/// with only its id) for keys that have rows.
pub fn assemble<R, T>(
    keys: &[HostKey],
    mut hosts: HashMap<HostKey, (String, QualysHost)>,
    mut rows: HashMap<HostKey, (String, Vec<R>)>,
    bare: bool,
    make: impl Fn(String, String, QualysHost, Vec<R>) -> T,
) -> Vec<T> {
    let mut out = Vec::with_capacity(keys.len());
    for key in keys {
        let found = rows.remove(key);
        let host = match hosts.remove(key) {
            Some(h) => Some(h),
            None if bare => found.as_ref().map(|(account, _)| {
                (
                    account.clone(),
                    QualysHost {
                        id: key.1,
                        ..QualysHost::default()
                    },
                )
            }),
            None => None,
        };
        if let Some((account, host)) = host {
            let rows = found.map(|(_, r)| r).unwrap_or_default();
            out.push(make(key.0.clone(), account, host, rows));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> IntegrationSettings {
        IntegrationSettings {
            name: "s3".into(),
            bucket_name: "b".into(),
            bucket_region: "us-east-1".into(),
            role_arn: "arn:aws:iam::1:role/r".into(),
            compress_data: true,
            min_severity: 3,
            base_category: BaseCategory::Confirmed,
            result_section_needed: false,
            send_vuln_info: false,
            send_alerts: false,
            error_emails: vec![],
        }
    }

    #[test]
    fn statements_bind_what_their_callers_give() {
        let q = |s: &str| s.matches('?').count();
        assert_eq!(q(&create_integration_sql()), 1 + 11 + 3);
        assert_eq!(q(&update_integration_sql()), 11 + 6 + 2);
        assert_eq!(settings_values(&settings()).len(), 11);
        assert_eq!(q(&changed_hosts_sql(Changed::Detections, true)), 4);
        assert_eq!(q(&changed_hosts_sql(Changed::Postures, false)), 2);
        assert_eq!(q(&postures_sql(3, 2)), 6);
        assert_eq!(q(&evaluations_changed_sql(true, "e.last_evaluated")), 3);
        assert_eq!(q(&evaluations_of_native_sql("e.last_evaluated")), 2);
        assert_eq!(q(&upsert_subjects_sql(4)), 12);
        assert_eq!(q(LEASE_SQL), 3);
        assert!(set_cips_filter_sql().contains("1001"));
        assert_eq!(
            hosts_sql(1).split(',').count(),
            HOSTS.columns.len() + 1,
            "the account name and every host column"
        );
    }

    #[test]
    fn only_the_target_or_a_new_external_id_needs_validation() {
        let stored = Integration {
            id: 1,
            kind: IntegrationKind::Vm,
            settings: settings(),
            external_id: "P-1-u".into(),
            validated: true,
            state: IntegrationState::Active,
            problem: None,
            alerted_problem: None,
            created: Timestamp::UNIX_EPOCH,
            updated: Timestamp::UNIX_EPOCH,
            last_delivery: None,
            objects_delivered: 0,
            items_delivered: 0,
        };
        let mut s = settings();
        s.min_severity = 5;
        s.name = "renamed".into();
        assert!(!needs_validation(&stored, &s, None));
        assert!(needs_validation(&stored, &s, Some("P-1-v")));
        s.role_arn = "arn:aws:iam::1:role/other".into();
        assert!(needs_validation(&stored, &s, None));
        let mut bad = settings();
        bad.error_emails = vec!["a@b".into(); 6];
        assert!(check_settings(&bad)
            .unwrap_err()
            .to_string()
            .starts_with("errorEmails"));
    }

    #[test]
    fn hosts_group_by_connector_once_each_and_subjects_keep_their_last_hash() {
        let keys: Vec<HostKey> = vec![
            ("b".into(), 1),
            ("a".into(), 2),
            ("b".into(), 3),
            ("b".into(), 1),
        ];
        assert_eq!(by_connector(&keys), vec![("b", vec![1, 3]), ("a", vec![2])]);
        let many: Vec<HostKey> = (0..2500).map(|i| ("c".to_string(), i)).collect();
        let chunks = by_connector(&many);
        assert_eq!(
            chunks.iter().map(|c| c.1.len()).collect::<Vec<_>>(),
            vec![1000, 1000, 500]
        );
        let subjects = vec![
            ("x".to_string(), 1),
            ("y".to_string(), 2),
            ("x".to_string(), 3),
        ];
        assert_eq!(last_hash_per_subject(&subjects), vec![("x", 3), ("y", 2)]);
        assert_eq!(check_policies(&[3, 1, 3]).unwrap(), vec![1, 3]);
        assert!(check_policies(&[-1]).is_err());
    }
}
