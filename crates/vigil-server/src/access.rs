//! Who is calling and what they may do: the [`Caller`] extractor every
//! `/api/v1` handler takes first.
//!
//! A caller is the user of a valid bearer token, with the permissions of
//! their role as the store has it *now* (a role change applies to the next
//! request, not after the token expires). Every API needs the `api_access`
//! permission; each handler then asks [`Caller::require`] for its own before
//! it reads the request body, so a forbidden caller gets 403 whatever they
//! sent.
//!
//! Tag-based connector access (seed 001, "Configure Tag-based Access"): a
//! user without tags sees every connector; a user with tags sees the
//! connectors that carry at least one of them, so a tag assigned to no
//! connector restricts the user to none.

use crate::auth::authenticate;
use crate::error::ApiError;
use crate::AppState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::StatusCode;
use std::sync::Arc;
use vigil_store::access::{AuditEntry, Permission, RoleRecord};
use vigil_store::UserRecord;

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user: UserRecord,
    pub role: RoleRecord,
}

impl Caller {
    /// The caller's username.
    pub fn username(&self) -> &str {
        &self.user.username
    }

    /// Whether the caller's role grants `permission`.
    pub fn has(&self, permission: Permission) -> bool {
        self.role.allows(permission)
    }

    /// 403 unless the caller's role grants `permission`.
    pub fn require(&self, permission: Permission) -> Result<(), ApiError> {
        if self.has(permission) {
            return Ok(());
        }
        Err(ApiError::forbidden(format!(
            "your role `{}` does not have the permission `{}` ({}); ask a Manager",
            self.role.name,
            permission,
            permission.description()
        )))
    }

    /// Whether the caller may see a connector tagged `connector_tags`.
    pub fn sees_tags(&self, connector_tags: &[String]) -> bool {
        self.user.tags.is_empty() || connector_tags.iter().any(|t| self.user.tags.contains(t))
    }

    /// 403 unless the caller may see a connector tagged `connector_tags`;
    /// `what` names it in the message.
    pub fn require_tags(&self, connector_tags: &[String], what: &str) -> Result<(), ApiError> {
        if self.sees_tags(connector_tags) {
            return Ok(());
        }
        Err(ApiError::forbidden(format!(
            "{what} carries none of your tags ({}); ask a Manager for access",
            self.user.tags.join(", ")
        )))
    }

    /// An audit entry of a change the caller makes now.
    pub fn audit(&self, action: &str, target: &str, details: serde_json::Value) -> AuditEntry {
        AuditEntry::now(self.username(), action, target, details)
    }
}

impl FromRequestParts<Arc<AppState>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let user = authenticate(state, &parts.headers).await?;
        let role = state
            .store
            .role(&user.role)
            .await
            .map_err(ApiError::internal)?
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::FORBIDDEN,
                    "forbidden",
                    format!(
                        "your role `{}` no longer exists; ask a Manager to give you another",
                        user.role
                    ),
                )
            })?;
        let caller = Caller { user, role };
        caller.require(Permission::ApiAccess)?;
        Ok(caller)
    }
}

/// The source key under which a server connector's resources are stored
/// (`resource.source` in the query language).
pub fn connector_source(id: &str) -> String {
    format!("connector:{id}")
}

/// What access checks need to know of a connector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectorAccess {
    pub id: String,
    pub name: String,
    pub tags: Vec<String>,
}

/// Every connector with its tags.
pub async fn connectors(state: &AppState) -> Result<Vec<ConnectorAccess>, ApiError> {
    let all = state
        .store
        .connectors()
        .await
        .map_err(ApiError::from_store)?;
    Ok(all
        .into_iter()
        .map(|c| ConnectorAccess {
            id: c.id,
            name: c.name,
            tags: c.tags,
        })
        .collect())
}

/// The connector `id` with its tags, if it exists.
pub async fn connector(state: &AppState, id: &str) -> Result<Option<ConnectorAccess>, ApiError> {
    Ok(connectors(state).await?.into_iter().find(|c| c.id == id))
}

/// The source keys of the connectors the caller may see, or `None` when the
/// caller has no tags and so sees every source (connectors, CLI scans, IaC).
/// A caller with tags sees only the resources of their connectors.
pub async fn visible_sources(
    state: &AppState,
    caller: &Caller,
) -> Result<Option<Vec<String>>, ApiError> {
    if caller.user.tags.is_empty() {
        return Ok(None);
    }
    Ok(Some(
        connectors(state)
            .await?
            .into_iter()
            .filter(|c| caller.sees_tags(&c.tags))
            .map(|c| connector_source(&c.id))
            .collect(),
    ))
}
