//! The store: what Vigil keeps between runs, behind a trait whose signatures
//! carry only Vigil's own types. The SQLite and PostgreSQL crates implement it;
//! only they know sqlx.
//!
//! Evaluation lifecycle (seed 001, "Evaluation Summary"): one row per
//! (resource, control) with its result and evidence; `first_evaluated` is set
//! once, `last_evaluated` on every run, `last_reopened` when a result turns
//! FAIL after PASS, `last_fixed` when it turns PASS after FAIL. A resource that
//! a later sync of its source does not report is marked gone; gone resources
//! and their evaluations are not counted and not searched.
//!
//! What the backends share that needs no database lives here too, in plain
//! Rust: [`batch`] checks and prepares a scan before it is written,
//! [`migration`] orders and splits the embedded migrations, and [`search`]
//! holds the dialect-free SQL of search and counts and reads rows back.

pub mod access;
pub mod batch;
#[cfg(feature = "conformance")]
pub mod conformance;
pub mod connectors;
pub mod custom_controls;
pub mod data;
pub mod delivery;
pub mod exceptions;
pub mod iac;
pub mod migration;
pub mod qualys;
pub mod saved_searches;
pub mod search;
pub mod users;

pub use access::{AccessStore, AuditEntry, Permission, RoleRecord};
use async_trait::async_trait;
pub use custom_controls::CustomControlStore;
pub use data::DataStore;
pub use delivery::DeliveryStore;
pub use exceptions::ExceptionStore;
pub use qualys::QualysStore;
pub use saved_searches::SavedSearchStore;
use serde::Serialize;
pub use users::{NewUser, UserRecord};
use vigil_model::{Criticality, EvalResult, ExecutionType, Provider, Resource, Timestamp};
use vigil_query::Query;

/// The schema objects every backend creates; the query compiler's SQL refers
/// to them by these names and aliases (`e`, `r`, `c`).
pub const SCHEMA_DOC: &str =
    "evaluations e JOIN resources r ON r.id = e.resource_id JOIN controls c ON c.cid = e.cid";

/// Why the store could not do what was asked. Messages say what to do; they
/// never carry passwords.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the {backend} store at {target}: {reason}")]
    Open {
        backend: &'static str,
        target: String,
        reason: String,
    },
    #[error("migration {version} ({name}) failed: {reason}")]
    Migration {
        version: i64,
        name: String,
        reason: String,
    },
    #[error("the database at {target} has schema version {found}, newer than this vigil knows ({known}); upgrade vigil")]
    TooNew {
        target: String,
        found: i64,
        known: i64,
    },
    #[error("{0}")]
    Invalid(String),
    /// The thing asked for does not exist (the message names it).
    #[error("{0}")]
    NotFound(String),
    /// The change conflicts with what is stored (a name taken, a thing in use).
    #[error("{0}")]
    Conflict(String),
    #[error("database error: {0}")]
    Database(String),
}

impl StoreError {
    /// The store of `backend` at `target` (which must not show a password)
    /// cannot be opened, for `reason`.
    pub fn open(backend: &'static str, target: &str, reason: impl std::fmt::Display) -> StoreError {
        StoreError::Open {
            backend,
            target: target.to_string(),
            reason: reason.to_string(),
        }
    }
}

/// The metadata of a control that search and counts need.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ControlRecord {
    pub cid: u32,
    pub title: String,
    pub service: String,
    pub resource_type: String,
    pub provider: Provider,
    pub criticality: Criticality,
    pub execution_type: ExecutionType,
    pub remediable: bool,
}

/// A policy: a name and its controls.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PolicyRecord {
    pub name: String,
    pub provider: Provider,
    pub description: String,
    pub cids: Vec<u32>,
}

/// One evaluation to record; `resource` indexes the batch's resources.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EvaluationInput<'a> {
    pub resource: usize,
    pub cid: u32,
    pub result: EvalResult,
    pub expected: &'a str,
    pub actual: &'a str,
    pub message: &'a str,
}

/// One complete sync of a source: every resource it now has and every
/// evaluation of them. Resources of `source` that are not in the batch are
/// marked gone.
#[derive(Debug, Clone, Copy)]
pub struct ScanBatch<'a> {
    /// The key of the source, e.g. `connector:aws-prod` (see `Origin::source`).
    pub source: &'a str,
    /// The run's id, recorded on each resource seen.
    pub run: &'a str,
    pub at: Timestamp,
    pub resources: &'a [Resource],
    pub evaluations: &'a [EvaluationInput<'a>],
}

/// What a sync changed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ScanSummary {
    pub resources: u64,
    pub new_resources: u64,
    pub gone_resources: u64,
    pub evaluations: u64,
    pub reopened: u64,
    pub fixed: u64,
}

/// One stored evaluation, with what search results show of its resource and
/// control.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EvaluationRow {
    pub cid: u32,
    pub control: String,
    pub criticality: Criticality,
    pub result: EvalResult,
    pub resource_id: String,
    pub resource_name: String,
    pub resource_type: String,
    pub provider: Provider,
    pub account: String,
    pub region: String,
    pub expected: String,
    pub actual: String,
    pub message: String,
    pub first_evaluated: Timestamp,
    pub last_evaluated: Timestamp,
    pub last_reopened: Option<Timestamp>,
    pub last_fixed: Option<Timestamp>,
}

/// The counts of the Monitor view (seed 001, "Controls Evaluation View").
/// `pass` includes PASSE, as CloudView counts it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct MonitorCounts {
    pub controls_evaluated: u64,
    pub evaluations: u64,
    pub pass: u64,
    pub fail: u64,
    pub skip: u64,
    pub fail_high: u64,
    pub fail_medium: u64,
    pub fail_low: u64,
    pub remediable: u64,
}

/// A window of results.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub limit: u32,
    pub offset: u64,
}

impl Default for Page {
    fn default() -> Self {
        Page {
            limit: 100,
            offset: 0,
        }
    }
}

/// One IaC scan as `vigil iac scan` keeps it, for `getresult` and
/// `listscans`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IacScanRecord {
    /// The scan's id (a UUID).
    pub scan_id: String,
    pub name: String,
    pub created: Timestamp,
    /// `FINISHED`, or `FINISHED_WITH_ERRORS` when some files did not parse.
    pub status: String,
    /// The counts shown by `listscans` (files, resources, passed, failed, …).
    pub summary: serde_json::Value,
    /// The whole scan response document; `None` in listings.
    pub document: Option<serde_json::Value>,
}

impl IacScanRecord {
    /// Checks what the database cannot: an id and a name, and a document to
    /// keep.
    pub fn validate(&self) -> Result<(), StoreError> {
        if self.scan_id.trim().is_empty() || self.name.trim().is_empty() {
            return Err(StoreError::Invalid(
                "an IaC scan needs a scan id and a name".into(),
            ));
        }
        if self.document.is_none() {
            return Err(StoreError::Invalid(format!(
                "IaC scan {}: no result document to keep",
                self.scan_id
            )));
        }
        Ok(())
    }
}

/// What Vigil keeps. Every method is one transaction: it happens whole or
/// not at all.
///
/// Each capability's methods live in a trait of their own (e.g.
/// [`AccessStore`]) that `Store` requires, so `dyn Store` has them all.
#[async_trait]
pub trait Store:
    AccessStore
    + connectors::ConnectorStore
    + ExceptionStore
    + CustomControlStore
    + DataStore
    + SavedSearchStore
    + QualysStore
    + DeliveryStore
    + Send
    + Sync
{
    /// The backend's name, `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;

    /// The schema version after migrations.
    async fn schema_version(&self) -> Result<i64, StoreError>;

    /// Replaces the controls and policies that search and counts read.
    async fn sync_catalog(
        &self,
        controls: &[ControlRecord],
        policies: &[PolicyRecord],
    ) -> Result<(), StoreError>;

    /// Records a complete sync of one source.
    async fn apply_scan(&self, scan: ScanBatch<'_>) -> Result<ScanSummary, StoreError>;

    /// Evaluations of present resources that match `query`, ordered by
    /// criticality, CID and resource.
    async fn search(&self, query: &Query, page: Page) -> Result<Vec<EvaluationRow>, StoreError>;

    /// Monitor counts over the evaluations that match `query`.
    async fn counts(&self, query: &Query) -> Result<MonitorCounts, StoreError>;

    /// How many resources of `source` are present (not gone).
    async fn present_resources(&self, source: &str) -> Result<u64, StoreError>;

    /// Keeps an IaC scan (its id must be new), with `audit` in the same
    /// transaction when given (a scan through the API; a local CLI scan has
    /// no caller to audit).
    async fn save_iac_scan(
        &self,
        scan: &IacScanRecord,
        audit: Option<&access::AuditEntry>,
    ) -> Result<(), StoreError>;

    /// One IaC scan with its document, if it exists.
    async fn iac_scan(&self, scan_id: &str) -> Result<Option<IacScanRecord>, StoreError>;

    /// Every IaC scan, newest first, without documents.
    async fn iac_scans(&self) -> Result<Vec<IacScanRecord>, StoreError>;

    /// Creates a user with its audit entry; a user of that name must not
    /// exist yet (else `Conflict`, and nothing changes) and its role must
    /// exist (else `Invalid`).
    async fn create_user(&self, user: &NewUser, audit: &AuditEntry) -> Result<(), StoreError>;

    /// The user named `username`, if any.
    async fn user(&self, username: &str) -> Result<Option<UserRecord>, StoreError>;

    /// Every user, by name.
    async fn users(&self) -> Result<Vec<UserRecord>, StoreError>;

    /// The setting `name`: inserts `value` when the setting is absent, then
    /// returns what is stored, in one transaction. Several nodes on one
    /// database that race here all get the value of the first.
    async fn setting_or_insert(&self, name: &str, value: &str) -> Result<String, StoreError>;
}
