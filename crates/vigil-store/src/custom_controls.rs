//! What users change in the catalogue (seed 001, "Policies and Controls"):
//! user-defined controls, criticality overrides of any control, custom
//! policies; and what on-demand re-evaluation needs: stored resources read
//! back as [`Resource`]s and evaluations written for a subset of resources
//! and controls without touching the others.
//!
//! A user-defined control is kept whole, as the text of its `control.toml`
//! (the engine's format), with a few columns indexed beside it. CIDs of
//! user-defined controls are [`FIRST_USER_CID`] and up; a deleted one stays
//! as a tombstone so its CID is never given out again.

use crate::search::timestamp;
use crate::{AuditEntry, StoreError};
use async_trait::async_trait;
use serde::Serialize;
use std::collections::BTreeMap;
use vigil_model::{Criticality, EvalResult, Resource, Timestamp};

/// The first CID of user-defined controls (as `vigil_engine::FIRST_USER_CID`).
pub const FIRST_USER_CID: u32 = 100_000;

/// A user-defined control as kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UserControlRecord {
    pub cid: u32,
    pub title: String,
    /// The criticality its definition gives (an override may change the one
    /// in effect).
    pub criticality: Criticality,
    pub resource_type: String,
    /// The system or user control it was copied from.
    pub based_on: Option<u32>,
    /// The whole `control.toml` text; its `cid` is this record's.
    pub definition: String,
    pub created: Timestamp,
    pub updated: Timestamp,
}

impl UserControlRecord {
    /// Checks what the database cannot: a user CID, a title, a definition.
    pub fn validate(&self) -> Result<(), StoreError> {
        if self.cid < FIRST_USER_CID {
            return Err(StoreError::Invalid(format!(
                "user-defined controls take CIDs from {FIRST_USER_CID} up; {} is a system CID",
                self.cid
            )));
        }
        if self.title.trim().is_empty() || self.definition.trim().is_empty() {
            return Err(StoreError::Invalid(
                "a user-defined control needs a title and a definition".into(),
            ));
        }
        Ok(())
    }
}

/// The columns of `user_controls`, in the order [`read_user_control`] reads
/// them.
pub const USER_CONTROL_COLUMNS: &str =
    "cid, title, criticality, resource_type, based_on, definition, created_at, updated_at";

/// A user control's row in [`USER_CONTROL_COLUMNS`] order.
pub type UserControlColumns = (i64, String, String, String, Option<i64>, String, i64, i64);

/// Reads a row of [`USER_CONTROL_COLUMNS`].
pub fn read_user_control(
    (cid, title, criticality, resource_type, based_on, definition, created, updated): UserControlColumns,
) -> Result<UserControlRecord, StoreError> {
    Ok(UserControlRecord {
        cid: cid_of(cid)?,
        title,
        criticality: criticality_of(&criticality)?,
        resource_type,
        based_on: based_on.map(cid_of).transpose()?,
        definition,
        created: timestamp(created)?,
        updated: timestamp(updated)?,
    })
}

/// A stored CID.
pub fn cid_of(v: i64) -> Result<u32, StoreError> {
    u32::try_from(v).map_err(|_| StoreError::Database(format!("stored CID {v} is out of range")))
}

/// A stored criticality.
pub fn criticality_of(text: &str) -> Result<Criticality, StoreError> {
    text.parse()
        .map_err(|_| StoreError::Database(format!("stored criticality `{text}` is unknown")))
}

/// A custom policy: controls plus the connectors in scope (none: all).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CustomPolicyRecord {
    pub name: String,
    pub description: String,
    pub cids: Vec<u32>,
    /// Connector ids whose resources the policy covers; empty: every connector.
    pub connectors: Vec<String>,
}

impl CustomPolicyRecord {
    /// Checks what the database cannot: a name, at least one control.
    pub fn validate(&self) -> Result<(), StoreError> {
        let name = self.name.trim();
        if name.is_empty()
            || name.len() > 200
            || name != self.name
            || name.chars().any(|c| c == '/' || c.is_control())
        {
            return Err(StoreError::Invalid(
                "a policy name must be 1 to 200 characters, without `/`, control characters, or leading or trailing spaces"
                    .into(),
            ));
        }
        if self.cids.is_empty() {
            return Err(StoreError::Invalid(
                "a policy needs at least one control".into(),
            ));
        }
        Ok(())
    }

    /// The CIDs as the JSON text the backends store.
    pub fn cids_json(&self) -> String {
        serde_json::Value::from(self.cids.clone()).to_string()
    }

    /// The connectors as the JSON text the backends store.
    pub fn connectors_json(&self) -> String {
        serde_json::Value::from(self.connectors.clone()).to_string()
    }
}

/// The columns of `custom_policies`, in the order [`read_custom_policy`]
/// reads them.
pub const CUSTOM_POLICY_COLUMNS: &str = "name, description, cids, connectors";

/// Reads a row of [`CUSTOM_POLICY_COLUMNS`].
pub fn read_custom_policy(
    (name, description, cids, connectors): (String, String, String, String),
) -> Result<CustomPolicyRecord, StoreError> {
    let bad = |what: &str, e: serde_json::Error| {
        StoreError::Database(format!("policy {name}: {what} are not a JSON list: {e}"))
    };
    let cids = serde_json::from_str(&cids).map_err(|e| bad("CIDs", e))?;
    let connectors = serde_json::from_str(&connectors).map_err(|e| bad("connectors", e))?;
    Ok(CustomPolicyRecord {
        name,
        description,
        cids,
        connectors,
    })
}

/// The custom policies (of `rows`) that list `cid`, by name.
pub fn policies_listing(rows: &[CustomPolicyRecord], cid: u32) -> Vec<&str> {
    rows.iter()
        .filter(|p| p.cids.contains(&cid))
        .map(|p| p.name.as_str())
        .collect()
}

/// Which present resources to read back; the filters combine.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResourceSelector {
    /// Only resources of these types.
    pub types: Option<Vec<String>>,
    /// Only the resource(s) with this native id.
    pub native_id: Option<String>,
    /// Only resources of these sources (tag-based access).
    pub sources: Option<Vec<String>>,
}

/// A stored resource with its store id (for [`EvaluationWrite`]).
#[derive(Debug, Clone, PartialEq)]
pub struct StoredResource {
    pub row_id: i64,
    pub source: String,
    pub resource: Resource,
}

/// The columns of `resources` that [`read_resource`] reads, in order.
pub const RESOURCE_COLUMNS: &str =
    "id, source, provider, account, region, service, resource_type, \
     native_id, name, tags, attributes, associations, origin, first_discovered, last_updated";

/// A resource row in [`RESOURCE_COLUMNS`] order (text columns may be NULL).
pub type ResourceColumns = (
    i64,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    i64,
    i64,
);

/// Reads a row of [`RESOURCE_COLUMNS`] back into a [`Resource`].
pub fn read_resource(row: ResourceColumns) -> Result<StoredResource, StoreError> {
    let (
        id,
        source,
        provider,
        account,
        region,
        service,
        ty,
        native,
        name,
        tags,
        attrs,
        assoc,
        origin,
        first,
        last,
    ) = row;
    fn json<T: serde::de::DeserializeOwned + Default>(
        id: i64,
        what: &str,
        text: Option<String>,
    ) -> Result<T, StoreError> {
        match text.as_deref() {
            None | Some("") => Ok(T::default()),
            Some(t) => serde_json::from_str(t).map_err(|e| {
                StoreError::Database(format!("resource {id}: stored {what} are not valid: {e}"))
            }),
        }
    }
    let provider = provider
        .parse()
        .map_err(|_| StoreError::Database(format!("resource {id}: unknown provider {provider}")))?;
    Ok(StoredResource {
        row_id: id,
        source,
        resource: Resource {
            provider,
            account: account.unwrap_or_default(),
            region: region.unwrap_or_default(),
            service: service.unwrap_or_default(),
            resource_type: ty.unwrap_or_default(),
            id: native.unwrap_or_default(),
            name: name.unwrap_or_default(),
            tags: json(id, "tags", tags)?,
            attributes: json(id, "attributes", attrs)?,
            associations: json(id, "associations", assoc)?,
            uncollected: BTreeMap::new(),
            suppressed: BTreeMap::new(),
            first_discovered: Some(timestamp(first)?),
            last_updated: Some(timestamp(last)?),
            origin: json(id, "origin", origin)?,
        },
    })
}

/// One evaluation to write for a stored resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvaluationWrite {
    /// The resource's store id ([`StoredResource::row_id`]).
    pub resource: i64,
    pub cid: u32,
    pub result: EvalResult,
    pub expected: String,
    pub actual: String,
    pub message: String,
}

/// A re-evaluation of some controls over some resources: within
/// `resources` × `cids`, the stored evaluations become exactly
/// `evaluations` (pairs not given are removed: the control no longer
/// applies); nothing outside that product changes and no resource is marked
/// gone.
#[derive(Debug, Clone, Copy)]
pub struct Reevaluation<'a> {
    pub at: Timestamp,
    pub resources: &'a [i64],
    pub cids: &'a [u32],
    pub evaluations: &'a [EvaluationWrite],
}

impl Reevaluation<'_> {
    /// Checks that every evaluation lies within the product.
    pub fn validate(&self) -> Result<(), StoreError> {
        for (i, e) in self.evaluations.iter().enumerate() {
            if !self.resources.contains(&e.resource) || !self.cids.contains(&e.cid) {
                return Err(StoreError::Invalid(format!(
                    "evaluation #{i} (resource {}, CID {}) lies outside the re-evaluated resources and controls",
                    e.resource, e.cid
                )));
            }
        }
        Ok(())
    }

    /// The CIDs as store integers.
    pub fn cid_ids(&self) -> Vec<i64> {
        self.cids.iter().map(|c| i64::from(*c)).collect()
    }

    /// The stored pairs (of `existing`) that the re-evaluation did not give.
    pub fn stale(&self, existing: &[(i64, i64)]) -> Vec<(i64, i64)> {
        let given: std::collections::HashSet<(i64, i64)> = self
            .evaluations
            .iter()
            .map(|e| (e.resource, i64::from(e.cid)))
            .collect();
        existing
            .iter()
            .copied()
            .filter(|p| !given.contains(p))
            .collect()
    }
}

/// What a re-evaluation wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ReevaluationSummary {
    pub written: u64,
    pub removed: u64,
}

/// User-defined controls, criticality overrides, custom policies, and the
/// reads and writes of on-demand evaluation.
#[async_trait]
pub trait CustomControlStore: Send + Sync {
    /// The user-defined controls (not deleted), by CID.
    async fn user_controls(&self) -> Result<Vec<UserControlRecord>, StoreError>;

    /// The CID the next user-defined control should take: one above every
    /// CID ever given (deleted ones included), at least [`FIRST_USER_CID`].
    /// Two callers may get the same one; the second create gets `Conflict`
    /// and asks again.
    async fn next_user_cid(&self) -> Result<u32, StoreError>;

    /// Creates a user-defined control; `Conflict` when its CID was ever used.
    async fn create_user_control(
        &self,
        control: &UserControlRecord,
        audit: &AuditEntry,
    ) -> Result<(), StoreError>;

    /// Replaces a user-defined control's definition (`NotFound` when there
    /// is none with that CID); `created` is kept.
    async fn update_user_control(
        &self,
        control: &UserControlRecord,
        audit: &AuditEntry,
    ) -> Result<(), StoreError>;

    /// Deletes a user-defined control with its evaluations and its
    /// criticality override; `Conflict` while a custom policy lists it,
    /// `NotFound` when there is none.
    async fn delete_user_control(&self, cid: u32, audit: &AuditEntry) -> Result<(), StoreError>;

    /// The criticality overrides, by CID.
    async fn criticality_overrides(&self) -> Result<Vec<(u32, Criticality)>, StoreError>;

    /// Sets the criticality in effect for a control (system or user).
    async fn set_criticality(
        &self,
        cid: u32,
        criticality: Criticality,
        audit: &AuditEntry,
    ) -> Result<(), StoreError>;

    /// The custom policies, by name.
    async fn custom_policies(&self) -> Result<Vec<CustomPolicyRecord>, StoreError>;

    /// Creates a custom policy; `Conflict` when the name is taken.
    async fn create_custom_policy(
        &self,
        policy: &CustomPolicyRecord,
        audit: &AuditEntry,
    ) -> Result<(), StoreError>;

    /// Replaces a custom policy's description, controls and connectors
    /// (`NotFound` when there is none of that name).
    async fn update_custom_policy(
        &self,
        policy: &CustomPolicyRecord,
        audit: &AuditEntry,
    ) -> Result<(), StoreError>;

    /// Deletes a custom policy (`NotFound` when there is none).
    async fn delete_custom_policy(&self, name: &str, audit: &AuditEntry) -> Result<(), StoreError>;

    /// Present (not gone) resources that match `selector`, by store id.
    async fn stored_resources(
        &self,
        selector: &ResourceSelector,
    ) -> Result<Vec<StoredResource>, StoreError>;

    /// Writes a re-evaluation (see [`Reevaluation`]) with its audit entry,
    /// keeping each evaluation's lifecycle (reopened, fixed).
    async fn reevaluate(
        &self,
        batch: &Reevaluation<'_>,
        audit: &AuditEntry,
    ) -> Result<ReevaluationSummary, StoreError>;
}
