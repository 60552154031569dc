//! Exceptions (seed 001, "Exceptions"): a named, dated exemption of some
//! resources from some controls. While an exception is active, every FAIL
//! evaluation it covers reads PASSE ("pass with exception"); before its start
//! and after its end the FAIL shows again.
//!
//! PASSE is materialized in `evaluations.result`, so search, counts and the
//! query language need nothing more. The invariant: **a stored PASSE is
//! exactly a FAIL covered by an active exception**. The backends keep it by
//! running [`refresh_sql`]'s two set-based statements in the same transaction
//! as every exception change and every scan, and from the server's periodic
//! sweep so that start and end dates take effect on time. A scan compares
//! its results with a stored PASSE as with a FAIL, so exceptions never move
//! `last_reopened` or `last_fixed`.
//!
//! Scope is either a list of resources (by native id, e.g. an ARN, or by
//! Vigil's resource uid; no cap on their number) or every resource of some
//! connectors (resources whose `source` is `connector:<id>`, including those
//! a later run discovers).

use crate::access::AuditEntry;
use crate::search::timestamp;
use crate::StoreError;
use async_trait::async_trait;
use serde::Serialize;
use vigil_model::Timestamp;

/// Why an exception is made (seed 001's three reasons).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Reason {
    #[serde(rename = "False Positive")]
    FalsePositive,
    #[serde(rename = "Risk Accepted")]
    RiskAccepted,
    #[serde(rename = "Other")]
    Other,
}

impl Reason {
    /// Every reason, as seed 001 lists them.
    pub const ALL: [Reason; 3] = [Reason::FalsePositive, Reason::RiskAccepted, Reason::Other];

    /// The label shown and accepted: `False Positive`, `Risk Accepted`, `Other`.
    pub fn label(self) -> &'static str {
        match self {
            Reason::FalsePositive => "False Positive",
            Reason::RiskAccepted => "Risk Accepted",
            Reason::Other => "Other",
        }
    }

    /// The reason labelled `label` (exactly, or ignoring case).
    pub fn parse(label: &str) -> Option<Reason> {
        Reason::ALL
            .into_iter()
            .find(|r| r.label().eq_ignore_ascii_case(label.trim()))
    }
}

/// Where an exception stands on a date (seed 001, "Exception Status").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum ExceptionStatus {
    /// Before its start date.
    Inactive,
    /// From its start date to its end date, both included.
    Active,
    /// After its end date.
    Expired,
}

impl ExceptionStatus {
    /// `INACTIVE`, `ACTIVE` or `EXPIRED`.
    pub fn as_str(self) -> &'static str {
        match self {
            ExceptionStatus::Inactive => "INACTIVE",
            ExceptionStatus::Active => "ACTIVE",
            ExceptionStatus::Expired => "EXPIRED",
        }
    }
}

/// What an exception applies to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// These resources: native ids (e.g. ARNs) or resource uids.
    Resources(Vec<String>),
    /// Every resource of these connectors (source `connector:<id>`).
    Connectors(Vec<String>),
}

impl Scope {
    /// `resources` or `connectors`, as stored.
    pub fn kind(&self) -> &'static str {
        match self {
            Scope::Resources(_) => "resources",
            Scope::Connectors(_) => "connectors",
        }
    }

    /// The resources or connector ids.
    pub fn items(&self) -> &[String] {
        match self {
            Scope::Resources(v) | Scope::Connectors(v) => v,
        }
    }
}

/// The longest exception name.
pub const MAX_NAME: usize = 128;
/// The longest explanation, information security policy or procedure (seed
/// 001's form counts 250 characters).
pub const MAX_TEXT: usize = 250;
/// The longest resource id in a scope.
pub const MAX_RESOURCE_ID: usize = 2048;

/// A request field that is not acceptable, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// The field's path in the API's body, e.g. `scope.resources[3]`.
    pub field: String,
    pub message: String,
}

impl FieldError {
    fn new(field: impl Into<String>, message: impl Into<String>) -> FieldError {
        FieldError {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl From<FieldError> for StoreError {
    fn from(e: FieldError) -> StoreError {
        StoreError::Invalid(format!("{}: {}", e.field, e.message))
    }
}

/// An exception as kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExceptionRecord {
    /// A UUID given at creation.
    pub id: String,
    pub name: String,
    pub reason: Reason,
    pub explanation: String,
    pub start: Timestamp,
    pub end: Timestamp,
    /// "Information Security Policy" (optional text).
    pub security_policy: String,
    /// "Information Security Procedure" (optional text).
    pub security_procedure: String,
    pub scope: Scope,
    /// The CIDs it exempts from, sorted, without repeats.
    pub controls: Vec<u32>,
    pub created_by: String,
    pub created_at: Timestamp,
    pub updated_by: String,
    pub updated_at: Timestamp,
}

fn check_text(field: &str, text: &str, required: bool, max: usize) -> Result<(), FieldError> {
    if required && text.trim().is_empty() {
        return Err(FieldError::new(field, format!("`{field}` is required")));
    }
    if text.chars().count() > max {
        return Err(FieldError::new(
            field,
            format!("`{field}` must be at most {max} characters"),
        ));
    }
    Ok(())
}

impl ExceptionRecord {
    /// The status on `now`.
    pub fn status(&self, now: Timestamp) -> ExceptionStatus {
        if now < self.start {
            ExceptionStatus::Inactive
        } else if now > self.end {
            ExceptionStatus::Expired
        } else {
            ExceptionStatus::Active
        }
    }

    /// Sorts and de-duplicates the controls and the scope's items.
    pub fn normalize(&mut self) {
        self.controls.sort_unstable();
        self.controls.dedup();
        let items = match &mut self.scope {
            Scope::Resources(v) | Scope::Connectors(v) => v,
        };
        for item in items.iter_mut() {
            *item = item.trim().to_string();
        }
        items.sort();
        items.dedup();
    }

    /// Checks everything but what needs the store (that the controls and
    /// connectors exist): field names are those of the API's body.
    pub fn check(&self) -> Result<(), FieldError> {
        check_text("name", &self.name, true, MAX_NAME)?;
        check_text("explanation", &self.explanation, true, MAX_TEXT)?;
        check_text(
            "information_security_policy",
            &self.security_policy,
            false,
            MAX_TEXT,
        )?;
        check_text(
            "information_security_procedure",
            &self.security_procedure,
            false,
            MAX_TEXT,
        )?;
        if self.end <= self.start {
            return Err(FieldError::new(
                "end",
                "the end date must be after the start date",
            ));
        }
        if self.controls.is_empty() {
            return Err(FieldError::new(
                "controls",
                "an exception needs at least one control (CID)",
            ));
        }
        let field = format!("scope.{}", self.scope.kind());
        let items = self.scope.items();
        if items.is_empty() {
            return Err(FieldError::new(
                field,
                "the scope needs at least one resource or connector",
            ));
        }
        for (i, item) in items.iter().enumerate() {
            if item.trim().is_empty() || item.len() > MAX_RESOURCE_ID {
                return Err(FieldError::new(
                    format!("{field}[{i}]"),
                    format!("an id must be 1 to {MAX_RESOURCE_ID} characters"),
                ));
            }
        }
        Ok(())
    }

    /// What differs from `old`, field by field: `{"end": {"from": …, "to": …}}`.
    pub fn changes_from(&self, old: &ExceptionRecord) -> serde_json::Value {
        let (old, new) = (old.summary(), self.summary());
        let mut changes = serde_json::Map::new();
        if let (Some(old), Some(new)) = (old.as_object(), new.as_object()) {
            for (key, value) in new {
                if old.get(key) != Some(value) {
                    changes.insert(
                        key.clone(),
                        serde_json::json!({"from": old.get(key), "to": value}),
                    );
                }
            }
        }
        serde_json::Value::Object(changes)
    }

    /// What the first history entry records: the fields, and `copied_from`
    /// for a copy.
    pub fn creation(&self, copied_from: Option<&str>) -> serde_json::Value {
        let mut changes = self.summary();
        if let (Some(from), Some(map)) = (copied_from, changes.as_object_mut()) {
            map.insert("copied_from".into(), from.into());
        }
        changes
    }

    /// The exception's fields as history and the audit log record them.
    pub fn summary(&self) -> serde_json::Value {
        serde_json::json!({
            "name": self.name,
            "reason": self.reason.label(),
            "explanation": self.explanation,
            "start": self.start.to_rfc3339(),
            "end": self.end.to_rfc3339(),
            "information_security_policy": self.security_policy,
            "information_security_procedure": self.security_procedure,
            "scope": {self.scope.kind(): self.scope.items()},
            "controls": self.controls,
        })
    }
}

/// One entry of an exception's history.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExceptionHistoryRecord {
    pub at: Timestamp,
    /// The user who acted.
    pub user: String,
    /// `create`, `copy`, `edit` or `delete`.
    pub action: String,
    /// For `create` and `copy` the exception as made (and `copied_from`),
    /// for `edit` each changed field's `from` and `to`.
    pub changes: serde_json::Value,
}

/// What a refresh changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RefreshSummary {
    /// FAIL evaluations that became PASSE.
    pub excepted: u64,
    /// PASSE evaluations that became FAIL again.
    pub restored: u64,
}

/// Exceptions and the PASSE they give.
#[async_trait]
pub trait ExceptionStore: Send + Sync {
    /// Every exception, newest first.
    async fn exceptions(&self) -> Result<Vec<ExceptionRecord>, StoreError>;

    /// The exception `id`, if it exists.
    async fn exception(&self, id: &str) -> Result<Option<ExceptionRecord>, StoreError>;

    /// Of `cids`, those that are not in the catalogue.
    async fn unknown_controls(&self, cids: &[u32]) -> Result<Vec<u32>, StoreError>;

    /// Keeps a new exception (its id must be new), with its first history
    /// entry (`create`, or `copy` with `copied_from`) and `audit`, and
    /// refreshes PASSE as of `audit.at`, in one transaction. `Invalid` when
    /// a field is wrong or a control does not exist.
    async fn create_exception(
        &self,
        exception: &ExceptionRecord,
        copied_from: Option<&str>,
        audit: &AuditEntry,
    ) -> Result<(), StoreError>;

    /// Replaces an exception's fields (all but id and creation), recording
    /// what changed in its history and the audit log, and refreshes PASSE, in
    /// one transaction. `NotFound` when there is none; `Conflict` unless it is
    /// active at `audit.at` (seed 001: only active exceptions can be edited).
    async fn update_exception(
        &self,
        exception: &ExceptionRecord,
        audit: &AuditEntry,
    ) -> Result<(), StoreError>;

    /// Deletes an exception (its history keeps a `delete` entry) and
    /// refreshes PASSE, in one transaction. `NotFound` when there is none.
    async fn delete_exception(&self, id: &str, audit: &AuditEntry) -> Result<(), StoreError>;

    /// The history of exception `id`, oldest first (empty when it never
    /// existed).
    async fn exception_history(&self, id: &str) -> Result<Vec<ExceptionHistoryRecord>, StoreError>;

    /// Whether an exception starts or ends within `[after, until]`: a sweep
    /// that last refreshed at `after` needs to refresh again only then.
    async fn exceptions_turning(
        &self,
        after: Timestamp,
        until: Timestamp,
    ) -> Result<bool, StoreError>;

    /// Makes stored results agree with the exceptions active at `now`: every
    /// covered FAIL becomes PASSE and every uncovered PASSE becomes FAIL, in
    /// one transaction. PASS and SKIP are never touched.
    async fn refresh_exceptions(&self, now: Timestamp) -> Result<RefreshSummary, StoreError>;
}

/// Which evaluations a refresh looks at: all, or those of one source's
/// resources (after a scan of that source, which changed no other).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshScope<'a> {
    All,
    Source(&'a str),
}

impl RefreshScope<'_> {
    /// The condition on the resource alias `r`, starting with ` AND `, as
    /// SQL text (the source is quoted as a standard SQL literal).
    fn condition(self) -> String {
        match self {
            RefreshScope::All => String::new(),
            RefreshScope::Source(source) => {
                format!(" AND r.source = '{}'", source.replace('\'', "''"))
            }
        }
    }
}

/// The (resource id, cid) pairs, as columns `rid` and `cid`, that the
/// exceptions active at `now` (milliseconds) cover within `scope`.
/// Dialect-free: the time is written in as a number.
pub fn covered_sql(now: i64, scope: RefreshScope<'_>) -> String {
    let active = format!(
        "x.start_at <= {now} AND {now} <= x.end_at{}",
        scope.condition()
    );
    let head = "SELECT r.id AS rid, xc.cid AS cid FROM exceptions x \
                JOIN exception_controls xc ON xc.exception_id = x.id";
    let by_resource = "JOIN exception_resources xr ON xr.exception_id = x.id";
    format!(
        "{head} {by_resource} JOIN resources r ON r.native_id = xr.resource WHERE {active} \
         UNION {head} {by_resource} JOIN resources r ON r.uid = xr.resource WHERE {active} \
         UNION {head} JOIN exception_connectors xn ON xn.exception_id = x.id \
         JOIN resources r ON r.source = 'connector:' || xn.connector_id WHERE {active}"
    )
}

/// The statement that turns every covered FAIL into PASSE (driven by the
/// covered pairs, each found by the evaluations' primary key or joined by
/// hash).
pub fn to_passe_sql(now: i64, scope: RefreshScope<'_>) -> String {
    format!(
        "UPDATE evaluations SET result = 'PASSE' FROM ({}) AS k \
         WHERE evaluations.resource_id = k.rid AND evaluations.cid = k.cid \
         AND evaluations.result = 'FAIL'",
        covered_sql(now, scope)
    )
}

/// The statement that turns every uncovered PASSE back into FAIL. The
/// uncovered pairs are the PASSE rows (found by the `(result, cid)` index)
/// `EXCEPT` the covered pairs: each side is computed once, whatever the
/// planner believes about how many PASSE rows there are (a correlated
/// `NOT EXISTS` let PostgreSQL re-run the covered set per row on stale
/// statistics). At 1,000,000 evaluations it takes tens of milliseconds on
/// SQLite and about a hundred on PostgreSQL.
pub fn to_fail_sql(now: i64, scope: RefreshScope<'_>) -> String {
    let passe = match scope {
        RefreshScope::All => "SELECT resource_id AS rid, cid FROM evaluations \
                              WHERE result = 'PASSE'"
            .to_string(),
        RefreshScope::Source(_) => format!(
            "SELECT e.resource_id AS rid, e.cid AS cid FROM evaluations e \
             JOIN resources r ON r.id = e.resource_id WHERE e.result = 'PASSE'{}",
            scope.condition()
        ),
    };
    format!(
        "UPDATE evaluations SET result = 'FAIL' FROM \
         ({passe} EXCEPT SELECT rid, cid FROM ({}) AS k) AS d \
         WHERE evaluations.resource_id = d.rid AND evaluations.cid = d.cid",
        covered_sql(now, scope)
    )
}

/// The columns of `exceptions`, in the order the backends select them.
pub const COLUMNS: &str = "id, name, reason, explanation, start_at, end_at, security_policy, \
     security_procedure, scope, created_by, created_at, updated_by, updated_at";

/// A row of `exceptions` in [`COLUMNS`] order.
pub type ExceptionColumns = (
    String,
    String,
    String,
    String,
    i64,
    i64,
    String,
    String,
    String,
    String,
    i64,
    String,
    i64,
);

/// An exception read in [`COLUMNS`] order, with its scope items and
/// controls.
pub fn read(
    row: ExceptionColumns,
    items: Vec<String>,
    controls: Vec<i64>,
) -> Result<ExceptionRecord, StoreError> {
    let (id, name, reason, explanation, start, end, policy, procedure, scope, cb, ca, ub, ua) = row;
    let bad =
        |what: &str| StoreError::Database(format!("exception {id}: stored {what} is not valid"));
    let reason = Reason::parse(&reason).ok_or_else(|| bad("reason"))?;
    let scope = match scope.as_str() {
        "resources" => Scope::Resources(items),
        "connectors" => Scope::Connectors(items),
        _ => return Err(bad("scope")),
    };
    let controls = controls
        .into_iter()
        .map(|c| u32::try_from(c).map_err(|_| bad("control")))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(ExceptionRecord {
        name,
        reason,
        explanation,
        start: timestamp(start)?,
        end: timestamp(end)?,
        security_policy: policy,
        security_procedure: procedure,
        scope,
        controls,
        created_by: cb,
        created_at: timestamp(ca)?,
        updated_by: ub,
        updated_at: timestamp(ua)?,
        id,
    })
}

/// The table that holds the scope items of an exception, and its column.
pub fn scope_table(scope: &Scope) -> (&'static str, &'static str) {
    match scope {
        Scope::Resources(_) => ("exception_resources", "resource"),
        Scope::Connectors(_) => ("exception_connectors", "connector_id"),
    }
}

/// The history entry that an action records, from its audit entry:
/// `exception.edit` → `edit`.
pub fn history_of(audit: &AuditEntry, changes: serde_json::Value) -> ExceptionHistoryRecord {
    ExceptionHistoryRecord {
        at: audit.at,
        user: audit.actor.clone(),
        action: audit
            .action
            .strip_prefix("exception.")
            .unwrap_or(&audit.action)
            .to_string(),
        changes,
    }
}

/// The history entry read back: (at, user, action, changes as JSON text).
pub fn read_history(
    (at, user, action, changes): (i64, String, String, String),
) -> Result<ExceptionHistoryRecord, StoreError> {
    Ok(ExceptionHistoryRecord {
        at: timestamp(at)?,
        user,
        action,
        changes: serde_json::from_str(&changes).map_err(|e| {
            StoreError::Database(format!("exception history: changes are not JSON: {e}"))
        })?,
    })
}

/// `Conflict` unless `old` is active at `now` (edits need an active exception).
pub fn check_editable(old: &ExceptionRecord, now: Timestamp) -> Result<(), StoreError> {
    match old.status(now) {
        ExceptionStatus::Active => Ok(()),
        status => Err(StoreError::Conflict(format!(
            "exception {} is {}: only an active exception can be edited; copy it to make a new one",
            old.id,
            status.as_str()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone, Utc};

    fn sample() -> ExceptionRecord {
        let t = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        ExceptionRecord {
            id: "x".into(),
            name: "n".into(),
            reason: Reason::Other,
            explanation: "e".into(),
            start: t,
            end: t + Duration::days(1),
            security_policy: String::new(),
            security_procedure: String::new(),
            scope: Scope::Resources(vec![" b ".into(), "a".into(), "b".into()]),
            controls: vec![3, 1, 3],
            created_by: "u".into(),
            created_at: t,
            updated_by: "u".into(),
            updated_at: t,
        }
    }

    #[test]
    fn status_follows_the_dates() {
        let x = sample();
        assert_eq!(
            x.status(x.start - Duration::seconds(1)),
            ExceptionStatus::Inactive
        );
        assert_eq!(x.status(x.start), ExceptionStatus::Active);
        assert_eq!(x.status(x.end), ExceptionStatus::Active);
        assert_eq!(
            x.status(x.end + Duration::seconds(1)),
            ExceptionStatus::Expired
        );
    }

    #[test]
    fn checks_name_fields() {
        let mut x = sample();
        x.normalize();
        assert_eq!(x.controls, vec![1, 3]);
        assert_eq!(x.scope.items(), ["a", "b"]);
        assert!(x.check().is_ok());
        let field = |x: &ExceptionRecord| x.check().unwrap_err().field;
        let mut y = x.clone();
        y.name = " ".into();
        assert_eq!(field(&y), "name");
        let mut y = x.clone();
        y.end = y.start;
        assert_eq!(field(&y), "end");
        let mut y = x.clone();
        y.controls.clear();
        assert_eq!(field(&y), "controls");
        let mut y = x.clone();
        y.scope = Scope::Connectors(vec![]);
        assert_eq!(field(&y), "scope.connectors");
        let mut y = x.clone();
        y.explanation = "x".repeat(251);
        assert_eq!(field(&y), "explanation");
    }

    #[test]
    fn refresh_sql_scopes_and_quotes() {
        let all = to_fail_sql(5, RefreshScope::All);
        assert!(
            all.contains("x.start_at <= 5 AND 5 <= x.end_at UNION"),
            "{all}"
        );
        assert!(!all.contains("AND r.source"), "{all}");
        let one = to_passe_sql(5, RefreshScope::Source("iac:it's.tf"));
        assert_eq!(one.matches("r.source = 'iac:it''s.tf'").count(), 3, "{one}");
    }

    #[test]
    fn reasons_and_changes() {
        assert_eq!(Reason::parse("risk accepted"), Some(Reason::RiskAccepted));
        assert_eq!(Reason::parse("Maybe"), None);
        let x = sample();
        let mut y = x.clone();
        y.explanation = "other".into();
        let changes = y.changes_from(&x);
        assert_eq!(
            changes,
            serde_json::json!({"explanation": {"from": "e", "to": "other"}})
        );
    }
}
