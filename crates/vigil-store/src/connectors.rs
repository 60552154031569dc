//! Connectors and their runs (issue 5, "Connectors and runs" and
//! "Several nodes"): AWS connectors, and Qualys connectors (issue 6), which
//! share the table, the API and the run queue.
//!
//! A connector says how to reach an AWS account; a run is one collection and
//! evaluation of it. Runs are a queue shared by every node on the database:
//! a node *claims* a queued run with a lease (a node id and an expiry),
//! renews the lease while it works, and *finishes* the run. A run whose
//! lease expired (its node died) is claimed again by another node: the
//! takeover. Only the node holding the lease may finish a run.
//!
//! Scheduled runs are created by [`ConnectorStore::enqueue_due_runs`], which
//! every node calls on each tick; the backends serialize it per connector
//! (PostgreSQL: row locks on the connectors, SQLite: the write lock) so
//! that each due run is created exactly once. At most one run per connector
//! is queued or running at any time (a unique partial index says so too).
//!
//! The store never sees a plaintext secret: a connector's secret access key
//! is kept as the sealed bytes the server gives it.

use crate::access::AuditEntry;
use crate::search::timestamp;
use crate::{Page, StoreError};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use vigil_model::Timestamp;

/// How a connector signs in: to AWS (role, keys, default) or to Qualys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Authentication {
    /// Assume a role in the account (cross-account access) with the external
    /// id Vigil generated for this connector.
    Role {
        role_arn: String,
        external_id: String,
    },
    /// An IAM user's access keys; the secret is sealed (encrypted) bytes.
    AccessKeys {
        access_key_id: String,
        sealed_secret: Vec<u8>,
    },
    /// The credentials of the host Vigil runs on (environment, profile,
    /// instance or container role).
    Default,
    /// A Qualys connector: its settings as JSON (connection and options,
    /// no password; the server's `qualys` object) and the sealed password.
    Qualys {
        settings: String,
        sealed_password: Vec<u8>,
    },
}

impl Authentication {
    /// The stored kind: `role`, `access_keys`, `default` or `qualys`.
    pub fn kind(&self) -> &'static str {
        match self {
            Authentication::Role { .. } => "role",
            Authentication::AccessKeys { .. } => "access_keys",
            Authentication::Default => "default",
            Authentication::Qualys { .. } => "qualys",
        }
    }

    /// What the connector reads: `aws` or `qualys`.
    pub fn provider(&self) -> &'static str {
        match self {
            Authentication::Qualys { .. } => "qualys",
            _ => "aws",
        }
    }
}

/// A connector (AWS, or Qualys when its authentication is
/// [`Authentication::Qualys`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectorRecord {
    /// A UUID, given when the connector is created.
    pub id: String,
    /// Unique among connectors.
    pub name: String,
    pub description: String,
    pub authentication: Authentication,
    /// Regions to collect; empty means every region enabled for the account
    /// (always empty for Qualys).
    pub regions: Vec<String>,
    /// Minutes between scheduled runs; `None`: manual runs only.
    pub polling_minutes: Option<u32>,
    pub tags: Vec<String>,
    /// Disabled connectors get no scheduled runs.
    pub enabled: bool,
    pub created: Timestamp,
    pub updated: Timestamp,
}

impl ConnectorRecord {
    /// Checks what the database cannot: an id and a name.
    pub fn validate(&self) -> Result<(), StoreError> {
        if self.id.trim().is_empty() || self.name.trim().is_empty() {
            return Err(StoreError::Invalid(
                "a connector needs an id and a name".into(),
            ));
        }
        Ok(())
    }

    /// The source key of the connector's resources (`connector:<id>`).
    pub fn source(&self) -> String {
        format!("connector:{}", self.id)
    }
}

/// Why a run was started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunTrigger {
    /// Someone asked (run now).
    Manual,
    /// The connector's polling interval came round.
    Scheduled,
}

/// Where a run is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub enum RunState {
    Queued,
    Running,
    Completed,
    Failed,
}

impl RunState {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            RunState::Queued => "queued",
            RunState::Running => "running",
            RunState::Completed => "completed",
            RunState::Failed => "failed",
        }
    }
}

impl RunTrigger {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            RunTrigger::Manual => "manual",
            RunTrigger::Scheduled => "scheduled",
        }
    }
}

/// A collection error of a run: a service in a region that could not be
/// read (the controls that need it are skipped), or why a run failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CollectionError {
    pub service: String,
    pub region: String,
    pub message: String,
}

/// One run of a connector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunRecord {
    /// A UUID.
    pub id: String,
    pub connector_id: String,
    pub trigger: RunTrigger,
    pub state: RunState,
    pub queued_at: Timestamp,
    /// When the latest claim started it.
    pub started_at: Option<Timestamp>,
    pub finished_at: Option<Timestamp>,
    /// Resources collected (once completed).
    pub resources: Option<u64>,
    /// Evaluations written (once completed).
    pub evaluations: Option<u64>,
    pub errors: Vec<CollectionError>,
    /// The node that holds (or last held) the run's lease.
    pub node: Option<String>,
    /// When the lease ends unless renewed; another node may take the run
    /// over after that.
    pub lease_until: Option<Timestamp>,
    /// How many times the run was claimed (more than 1 after a takeover).
    pub attempts: u32,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunOutcome {
    /// Collected and evaluated (some services may have failed: `errors`).
    Completed {
        resources: u64,
        evaluations: u64,
        errors: Vec<CollectionError>,
    },
    /// Nothing was recorded, for `errors`.
    Failed { errors: Vec<CollectionError> },
}

impl RunOutcome {
    /// The final state, counts and errors of the outcome.
    pub fn parts(&self) -> (RunState, Option<u64>, Option<u64>, &[CollectionError]) {
        match self {
            RunOutcome::Completed {
                resources,
                evaluations,
                errors,
            } => (
                RunState::Completed,
                Some(*resources),
                Some(*evaluations),
                errors,
            ),
            RunOutcome::Failed { errors } => (RunState::Failed, None, None, errors),
        }
    }
}

/// Connectors and their runs.
#[async_trait]
pub trait ConnectorStore: Send + Sync {
    /// Creates a connector (`Conflict` when its name is taken).
    async fn create_connector(
        &self,
        connector: &ConnectorRecord,
        audit: &AuditEntry,
    ) -> Result<(), StoreError>;

    /// Replaces a connector's fields except `id` and `created` (`NotFound`,
    /// or `Conflict` when the new name is taken).
    async fn update_connector(
        &self,
        connector: &ConnectorRecord,
        audit: &AuditEntry,
    ) -> Result<(), StoreError>;

    /// Deletes a connector and its run history (`NotFound` when absent).
    async fn delete_connector(&self, id: &str, audit: &AuditEntry) -> Result<(), StoreError>;

    /// Every connector, by name.
    async fn connectors(&self) -> Result<Vec<ConnectorRecord>, StoreError>;

    /// The connector `id`, if it exists.
    async fn connector(&self, id: &str) -> Result<Option<ConnectorRecord>, StoreError>;

    /// Queues a manual run of `connector_id` (`NotFound` when absent;
    /// `Conflict` while one of its runs is queued or running).
    async fn enqueue_run(
        &self,
        connector_id: &str,
        now: Timestamp,
        audit: &AuditEntry,
    ) -> Result<RunRecord, StoreError>;

    /// Queues a scheduled run of every enabled connector with a polling
    /// interval that has no run queued or running and whose latest run was
    /// queued at least an interval before `now` (or that never ran). Safe to
    /// call from every node at once: each due run is created exactly once.
    async fn enqueue_due_runs(&self, now: Timestamp) -> Result<Vec<RunRecord>, StoreError>;

    /// Claims the oldest runnable run for `node` with a lease until
    /// `lease_until`: a queued run, or a running run whose lease ended
    /// before `now` (takeover). `None` when there is nothing to run.
    async fn claim_run(
        &self,
        node: &str,
        now: Timestamp,
        lease_until: Timestamp,
    ) -> Result<Option<RunRecord>, StoreError>;

    /// Extends `node`'s lease on `run_id` to `lease_until`; `Conflict` when
    /// the node no longer holds the run (another node took it over, or it
    /// is finished).
    async fn renew_lease(
        &self,
        run_id: &str,
        node: &str,
        lease_until: Timestamp,
    ) -> Result<(), StoreError>;

    /// Ends a running run held by `node`; `Conflict` when the node no longer
    /// holds it (nothing changes then).
    async fn finish_run(
        &self,
        run_id: &str,
        node: &str,
        now: Timestamp,
        outcome: &RunOutcome,
    ) -> Result<RunRecord, StoreError>;

    /// The runs of `connector_id`, newest first.
    async fn runs(&self, connector_id: &str, page: Page) -> Result<Vec<RunRecord>, StoreError>;

    /// The run `run_id`, if it exists.
    async fn run(&self, run_id: &str) -> Result<Option<RunRecord>, StoreError>;
}

/// The columns of `connectors`, in the order the backends select them.
pub const CONNECTOR_COLUMNS: &str = "id, name, description, auth_kind, role_arn, external_id, \
     access_key_id, sealed_secret, regions, polling_minutes, tags, enabled, created, updated, \
     qualys_settings";

/// The `SET` list of an update binding a whole row in [`CONNECTOR_COLUMNS`]
/// order (with `?` placeholders); the stored creation time is kept.
pub fn connector_assignments() -> String {
    CONNECTOR_COLUMNS
        .split(", ")
        .map(|c| match c {
            "created" => "created = COALESCE(created, ?)".to_string(),
            c => format!("{c} = ?"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// A connector row in [`CONNECTOR_COLUMNS`] order.
pub type ConnectorRow = (
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<Vec<u8>>,
    String,
    Option<i64>,
    String,
    bool,
    i64,
    i64,
    Option<String>,
);

/// The values of a connector in [`CONNECTOR_COLUMNS`] order, for inserts
/// and updates.
pub fn connector_row(c: &ConnectorRecord) -> ConnectorRow {
    let mut qualys_settings = None;
    let (role_arn, external_id, access_key_id, sealed) = match &c.authentication {
        Authentication::Role {
            role_arn,
            external_id,
        } => (
            Some(role_arn.clone()),
            Some(external_id.clone()),
            None,
            None,
        ),
        Authentication::AccessKeys {
            access_key_id,
            sealed_secret,
        } => (
            None,
            None,
            Some(access_key_id.clone()),
            Some(sealed_secret.clone()),
        ),
        Authentication::Default => (None, None, None, None),
        Authentication::Qualys {
            settings,
            sealed_password,
        } => {
            qualys_settings = Some(settings.clone());
            (None, None, None, Some(sealed_password.clone()))
        }
    };
    (
        c.id.clone(),
        c.name.clone(),
        c.description.clone(),
        c.authentication.kind().to_string(),
        role_arn,
        external_id,
        access_key_id,
        sealed,
        json_list(&c.regions),
        c.polling_minutes.map(i64::from),
        json_list(&c.tags),
        c.enabled,
        c.created.timestamp_millis(),
        c.updated.timestamp_millis(),
        qualys_settings,
    )
}

fn json_list(values: &[String]) -> String {
    serde_json::Value::from(values.to_vec()).to_string()
}

fn read_list(what: &str, id: &str, text: &str) -> Result<Vec<String>, StoreError> {
    serde_json::from_str(text).map_err(|e| {
        StoreError::Database(format!("connector {id}: {what} are not a JSON list: {e}"))
    })
}

/// A connector read in [`CONNECTOR_COLUMNS`] order.
pub fn read_connector(row: ConnectorRow) -> Result<ConnectorRecord, StoreError> {
    let (id, name, description, kind, role_arn, external_id, key_id, sealed, regions, polling) = (
        row.0, row.1, row.2, row.3, row.4, row.5, row.6, row.7, row.8, row.9,
    );
    let qualys_settings = row.14;
    let authentication = match (kind.as_str(), role_arn, external_id, key_id, sealed) {
        ("qualys", _, _, _, Some(sealed_password)) if qualys_settings.is_some() => {
            Authentication::Qualys {
                settings: qualys_settings.unwrap_or_default(),
                sealed_password,
            }
        }
        ("role", Some(role_arn), Some(external_id), _, _) => Authentication::Role {
            role_arn,
            external_id,
        },
        ("access_keys", _, _, Some(access_key_id), Some(sealed_secret)) => {
            Authentication::AccessKeys {
                access_key_id,
                sealed_secret,
            }
        }
        ("default", ..) => Authentication::Default,
        (kind, ..) => {
            return Err(StoreError::Database(format!(
                "connector {id}: authentication `{kind}` is incomplete in the store"
            )))
        }
    };
    let polling_minutes = polling
        .map(|m| {
            u32::try_from(m).map_err(|_| {
                StoreError::Database(format!("connector {id}: polling interval {m} out of range"))
            })
        })
        .transpose()?;
    Ok(ConnectorRecord {
        regions: read_list("regions", &id, &regions)?,
        tags: read_list("tags", &id, &row.10)?,
        enabled: row.11,
        created: timestamp(row.12)?,
        updated: timestamp(row.13)?,
        id,
        name,
        description,
        authentication,
        polling_minutes,
    })
}

/// The columns of `runs`, in the order the backends select them.
pub const RUN_COLUMNS: &str = "id, connector_id, run_trigger, state, queued_at, started_at, \
     finished_at, resources, evaluations, errors, node, lease_until, attempts";

/// A run row in [`RUN_COLUMNS`] order.
pub type RunRow = (
    String,
    String,
    String,
    String,
    i64,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    String,
    Option<String>,
    Option<i64>,
    i64,
);

/// A run read in [`RUN_COLUMNS`] order.
pub fn read_run(row: RunRow) -> Result<RunRecord, StoreError> {
    let id = row.0;
    let bad = |what: &str, value: &str| {
        StoreError::Database(format!("run {id}: stored {what} `{value}` is not valid"))
    };
    let trigger = match row.2.as_str() {
        "manual" => RunTrigger::Manual,
        "scheduled" => RunTrigger::Scheduled,
        other => return Err(bad("trigger", other)),
    };
    let state = match row.3.as_str() {
        "queued" => RunState::Queued,
        "running" => RunState::Running,
        "completed" => RunState::Completed,
        "failed" => RunState::Failed,
        other => return Err(bad("state", other)),
    };
    let count = |n: Option<i64>| n.map(|n| u64::try_from(n).unwrap_or(0));
    let errors = serde_json::from_str(&row.9).map_err(|_| bad("errors", &row.9))?;
    Ok(RunRecord {
        connector_id: row.1,
        trigger,
        state,
        queued_at: timestamp(row.4)?,
        started_at: row.5.map(timestamp).transpose()?,
        finished_at: row.6.map(timestamp).transpose()?,
        resources: count(row.7),
        evaluations: count(row.8),
        errors,
        node: row.10,
        lease_until: row.11.map(timestamp).transpose()?,
        attempts: u32::try_from(row.12).unwrap_or(u32::MAX),
        id,
    })
}

/// The errors of a run as the JSON text the backends store.
pub fn errors_json(errors: &[CollectionError]) -> String {
    serde_json::to_string(errors).unwrap_or_else(|_| "[]".into())
}

/// A new run id.
pub fn new_run_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// The SQL (with `?` placeholders: the ids' count, then `now` in ms) that
/// selects, among the connectors whose ids are bound first, those with a
/// scheduled run due: enabled, with a polling interval, no run queued or
/// running, and no run queued within the last interval.
pub fn due_connectors_sql(ids: usize) -> String {
    let marks = vec!["?"; ids.max(1)].join(", ");
    format!(
        "SELECT c.id FROM connectors c WHERE c.id IN ({marks}) AND c.enabled \
         AND c.polling_minutes IS NOT NULL \
         AND NOT EXISTS (SELECT 1 FROM runs r WHERE r.connector_id = c.id AND r.state IN ('queued', 'running')) \
         AND COALESCE((SELECT MAX(r.queued_at) FROM runs r WHERE r.connector_id = c.id), 0) \
             + c.polling_minutes * 60000 <= ? \
         ORDER BY c.id"
    )
}

/// The condition of a runnable run (with `?` for `now` in ms): queued, or
/// running with an expired lease.
pub const RUNNABLE: &str =
    "state = 'queued' OR (state = 'running' AND (lease_until IS NULL OR lease_until < ?))";

/// The message of a refused renew or finish.
pub fn lost_lease(run_id: &str, node: &str) -> StoreError {
    StoreError::Conflict(format!(
        "node {node} does not hold the lease of run {run_id} (another node took it over, or it is finished)"
    ))
}

/// The message of a run-now refused because a run is active.
pub fn already_active(connector_id: &str) -> StoreError {
    StoreError::Conflict(format!(
        "connector {connector_id} already has a run queued or running; wait for it to finish"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    #[test]
    fn connectors_round_trip_through_rows() {
        let now = timestamp(Utc::now().timestamp_millis()).unwrap();
        for authentication in [
            Authentication::Default,
            Authentication::Role {
                role_arn: "arn:aws:iam::123456789012:role/vigil".into(),
                external_id: "vigil-x".into(),
            },
            Authentication::AccessKeys {
                access_key_id: "AKIAEXAMPLE".into(),
                sealed_secret: vec![1, 2, 3],
            },
            Authentication::Qualys {
                settings: r#"{"api_url":"qualysapi.qg2.apps.qualys.com"}"#.into(),
                sealed_password: vec![4, 5, 6],
            },
        ] {
            let c = ConnectorRecord {
                id: "id".into(),
                name: "prod".into(),
                description: String::new(),
                authentication,
                regions: vec!["eu-west-1".into()],
                polling_minutes: Some(60),
                tags: vec!["prod".into()],
                enabled: true,
                created: now,
                updated: now,
            };
            assert_eq!(read_connector(connector_row(&c)).unwrap(), c);
        }
    }

    #[test]
    fn due_sql_has_one_mark_per_id() {
        assert_eq!(due_connectors_sql(3).matches('?').count(), 4);
    }
}
