//! Connectors and their runs (seed 001, "Connectors"; issue 5,
//! "Connectors and runs"): AWS connectors, and Qualys connectors (issue 6,
//! `"type": "qualys"` with a `qualys` object, see [`crate::qualys`]).
//!
//! Reading needs `view_data`, changing and running `manage_connectors`; both
//! need tag access to the connector (a caller with tags sees only the
//! connectors that carry one of them: others are left out of lists and
//! answer 403 by id). The secret access key of an access-key connector is
//! sealed with the operator's key before it reaches the store and is never
//! returned (`secret_access_key_set: true`), logged or audited; so is a
//! Qualys connector's password (`password_set: true`).

use crate::access::Caller;
use crate::body::JsonBody;
use crate::error::ApiError;
use crate::secrets::SECRET_KEY_ENV;
use crate::AppState;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use utoipa::{IntoParams, ToSchema};
use vigil_store::access::Permission;
use vigil_store::connectors::{
    Authentication, CollectionError, ConnectorRecord, RunRecord, RunState, RunTrigger,
};
use vigil_store::Page;

/// The longest polling interval accepted, in minutes (one week).
pub const MAX_POLLING_MINUTES: u32 = 10_080;
/// The shortest polling interval accepted by default, in minutes.
pub const MIN_POLLING_MINUTES: u32 = 15;

/// How a connector signs in, as the API takes it.
#[derive(Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AuthenticationForm {
    /// Assume `role_arn`; Vigil generates the external id its trust policy
    /// must require (shown in the answer).
    Role {
        #[schema(example = "arn:aws:iam::123456789012:role/VigilReadOnly")]
        role_arn: String,
    },
    /// An IAM user's access keys. On update the secret may be left out to
    /// keep the stored one (same access key id).
    AccessKeys {
        #[schema(example = "AKIAIOSFODNN7EXAMPLE")]
        access_key_id: String,
        secret_access_key: Option<String>,
    },
    /// The credentials of the host Vigil runs on.
    Default,
}

/// What a connector reads.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConnectorType {
    /// An AWS account (needs `authentication`).
    #[default]
    Aws,
    /// A Qualys subscription (needs `qualys`).
    Qualys,
}

/// A connector to create, or its new state (PUT replaces every field).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectorForm {
    /// Unique; 1 to 100 letters, digits, spaces, `-`, `_` or `.`.
    #[schema(example = "aws-prod")]
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// `aws` (default) or `qualys`.
    #[serde(rename = "type", default)]
    pub connector_type: ConnectorType,
    /// How an AWS connector signs in (required for `aws`).
    pub authentication: Option<AuthenticationForm>,
    /// A Qualys connector's settings, options and password (required for
    /// `qualys`; see docs/qualys.md).
    pub qualys: Option<crate::qualys::QualysForm>,
    /// AWS regions to collect; empty or absent: every enabled region.
    #[serde(default)]
    #[schema(example = json!(["us-east-1", "eu-west-1"]))]
    pub regions: Vec<String>,
    /// Minutes between scheduled runs (15 to 10080); absent or null: manual runs only.
    #[schema(example = 240)]
    pub polling_interval_minutes: Option<u32>,
    /// Tags for tag-based access.
    #[serde(default)]
    #[schema(example = json!(["prod"]))]
    pub tags: Vec<String>,
    /// Disabled connectors get no scheduled runs (default true).
    #[serde(default = "enabled_default")]
    pub enabled: bool,
}

fn enabled_default() -> bool {
    true
}

/// How a connector signs in, as the API shows it (never the secret).
#[derive(Debug, Serialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AuthenticationView {
    Role {
        role_arn: String,
        /// The external id to require in the role's trust policy.
        #[schema(example = "vigil-5f0c2a8e-…")]
        external_id: String,
    },
    AccessKeys {
        access_key_id: String,
        /// Always true: the secret is stored (sealed) and never shown.
        secret_access_key_set: bool,
    },
    Default,
}

/// A connector as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConnectorView {
    /// A UUID; the connector's resources have `resource.source: connector:<id>`.
    pub id: String,
    pub name: String,
    pub description: String,
    /// `aws` or `qualys`.
    pub provider: String,
    /// How an AWS connector signs in (absent for Qualys).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authentication: Option<AuthenticationView>,
    /// A Qualys connector's settings (absent for AWS; never the password).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub qualys: Option<crate::qualys::QualysView>,
    pub regions: Vec<String>,
    pub polling_interval_minutes: Option<u32>,
    pub tags: Vec<String>,
    pub enabled: bool,
    pub created: String,
    pub updated: String,
}

impl From<ConnectorRecord> for ConnectorView {
    fn from(c: ConnectorRecord) -> Self {
        let qualys = crate::qualys::view(&c);
        let provider = c.authentication.provider().to_string();
        let authentication = match c.authentication {
            Authentication::Role {
                role_arn,
                external_id,
            } => Some(AuthenticationView::Role {
                role_arn,
                external_id,
            }),
            Authentication::AccessKeys { access_key_id, .. } => {
                Some(AuthenticationView::AccessKeys {
                    access_key_id,
                    secret_access_key_set: true,
                })
            }
            Authentication::Default => Some(AuthenticationView::Default),
            Authentication::Qualys { .. } => None,
        };
        ConnectorView {
            id: c.id,
            name: c.name,
            description: c.description,
            provider,
            authentication,
            qualys,
            regions: c.regions,
            polling_interval_minutes: c.polling_minutes,
            tags: c.tags,
            enabled: c.enabled,
            created: c.created.to_rfc3339(),
            updated: c.updated.to_rfc3339(),
        }
    }
}

/// A collection error of a run.
#[derive(Debug, Serialize, ToSchema)]
pub struct RunErrorView {
    #[schema(example = "kms")]
    pub service: String,
    #[schema(example = "eu-west-1")]
    pub region: String,
    pub message: String,
}

/// A run as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct RunView {
    pub id: String,
    pub connector_id: String,
    /// `manual` or `scheduled`.
    #[schema(value_type = String, example = "manual")]
    pub trigger: RunTrigger,
    /// `Queued`, `Running`, `Completed` or `Failed`.
    #[schema(value_type = String, example = "Completed")]
    pub state: RunState,
    pub queued_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    /// From start to finish, once finished.
    pub duration_seconds: Option<f64>,
    /// Resources collected (once completed).
    pub resources: Option<u64>,
    /// Evaluations written (once completed).
    pub evaluations: Option<u64>,
    /// Services and regions that could not be read, or why the run failed.
    pub errors: Vec<RunErrorView>,
    /// The node that holds (or last held) the run.
    pub node: Option<String>,
    /// When the node's lease ends unless renewed.
    pub lease_until: Option<String>,
    /// Claims of the run (more than 1 after a takeover).
    pub attempts: u32,
}

impl From<RunRecord> for RunView {
    fn from(r: RunRecord) -> Self {
        let duration_seconds = match (r.started_at, r.finished_at) {
            (Some(s), Some(f)) => Some((f - s).num_milliseconds() as f64 / 1000.0),
            _ => None,
        };
        RunView {
            id: r.id,
            connector_id: r.connector_id,
            trigger: r.trigger,
            state: r.state,
            queued_at: r.queued_at.to_rfc3339(),
            started_at: r.started_at.map(|t| t.to_rfc3339()),
            finished_at: r.finished_at.map(|t| t.to_rfc3339()),
            duration_seconds,
            resources: r.resources,
            evaluations: r.evaluations,
            errors: r
                .errors
                .into_iter()
                .map(
                    |CollectionError {
                         service,
                         region,
                         message,
                     }| RunErrorView {
                        service,
                        region,
                        message,
                    },
                )
                .collect(),
            node: r.node,
            lease_until: r.lease_until.map(|t| t.to_rfc3339()),
            attempts: r.attempts,
        }
    }
}

/// The page of `GET /api/v1/connectors/{id}/runs`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RunsQuery {
    /// At most this many runs (1–1000, default 100).
    pub limit: Option<u32>,
    /// Skip this many runs (default 0).
    pub offset: Option<u64>,
}

/// The connector `id` if the caller may see it: 404 when absent, 403 when
/// its tags hide it from the caller.
pub(crate) async fn visible(
    state: &AppState,
    caller: &Caller,
    id: &str,
) -> Result<ConnectorRecord, ApiError> {
    let connector = state
        .store
        .connector(id)
        .await
        .map_err(ApiError::from_store)?
        .ok_or_else(|| ApiError::missing(format!("there is no connector {id}")))?;
    caller.require_tags(&connector.tags, &format!("connector {}", connector.name))?;
    Ok(connector)
}

fn is_name(text: &str) -> bool {
    !text.trim().is_empty()
        && text.chars().count() <= 100
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, ' ' | '-' | '_' | '.'))
}

/// Whether `text` looks like an AWS region (`us-east-1`, `us-gov-west-1`,
/// `ap-southeast-4`).
pub fn is_region(text: &str) -> bool {
    let parts: Vec<&str> = text.split('-').collect();
    let lower = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase());
    parts.len() >= 3
        && parts[0].len() == 2
        && lower(parts[0])
        && parts[1..parts.len() - 1].iter().all(|p| lower(p))
        && parts
            .last()
            .is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

/// Whether `text` is an IAM role ARN: `arn:aws:iam::<12 digits>:role/<name>`
/// (also the `aws-cn` and `aws-us-gov` partitions).
pub fn is_role_arn(text: &str) -> bool {
    let Some(rest) = ["arn:aws:iam::", "arn:aws-cn:iam::", "arn:aws-us-gov:iam::"]
        .iter()
        .find_map(|p| text.strip_prefix(p))
    else {
        return false;
    };
    let Some((account, role)) = rest.split_once(":role/") else {
        return false;
    };
    account.len() == 12
        && account.bytes().all(|b| b.is_ascii_digit())
        && !role.is_empty()
        && role.len() <= 512
        && role
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+=,.@_/-".contains(c))
}

/// Whether `text` is shaped like an access key id (`AKIA…` or `ASIA…`, 16
/// to 128 upper-case letters and digits).
pub fn is_access_key_id(text: &str) -> bool {
    (16..=128).contains(&text.len())
        && (text.starts_with("AKIA") || text.starts_with("ASIA"))
        && text
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

/// The connector a form describes, checked field by field; `existing` is
/// the connector being replaced (it keeps its id, creation time, external
/// id and sealed secret where they still apply).
fn build(
    state: &AppState,
    form: ConnectorForm,
    existing: Option<&ConnectorRecord>,
) -> Result<ConnectorRecord, ApiError> {
    if !is_name(&form.name) {
        return Err(ApiError::invalid_field(
            "name",
            "a connector name must be 1 to 100 letters, digits, spaces, `-`, `_` or `.`",
        ));
    }
    if form.description.chars().count() > 1000 {
        return Err(ApiError::invalid_field(
            "description",
            "a description must be at most 1,000 characters",
        ));
    }
    for (i, region) in form.regions.iter().enumerate() {
        if !is_region(region) {
            return Err(ApiError::invalid_field(
                &format!("regions[{i}]"),
                format!("`{region}` is not an AWS region name (e.g. us-east-1, eu-west-3)"),
            ));
        }
        if form.regions[..i].contains(region) {
            return Err(ApiError::invalid_field(
                &format!("regions[{i}]"),
                format!("the region {region} is listed twice"),
            ));
        }
    }
    if let Some(minutes) = form.polling_interval_minutes {
        if !(state.min_polling_minutes..=MAX_POLLING_MINUTES).contains(&minutes) {
            return Err(ApiError::invalid_field(
                "polling_interval_minutes",
                format!(
                    "the polling interval must be {} to {MAX_POLLING_MINUTES} minutes, or null for manual runs only",
                    state.min_polling_minutes
                ),
            ));
        }
    }
    for (i, tag) in form.tags.iter().enumerate() {
        if tag.trim().is_empty() || tag.chars().count() > 64 || tag.chars().any(char::is_control) {
            return Err(ApiError::invalid_field(
                &format!("tags[{i}]"),
                "a tag must be 1 to 64 printable characters",
            ));
        }
    }
    let authentication = match (form.connector_type, form.authentication, form.qualys) {
        (ConnectorType::Aws, Some(auth), None) => authentication(state, auth, existing)?,
        (ConnectorType::Aws, None, _) => {
            return Err(ApiError::invalid_field(
                "authentication",
                "an AWS connector needs `authentication` (role, access_keys or default); for a Qualys connector give \"type\": \"qualys\" and a `qualys` object",
            ))
        }
        (ConnectorType::Aws, Some(_), Some(_)) => {
            return Err(ApiError::invalid_field(
                "qualys",
                "`qualys` is for Qualys connectors: give \"type\": \"qualys\" (and no `authentication`)",
            ))
        }
        (ConnectorType::Qualys, None, Some(q)) => {
            if !form.regions.is_empty() {
                return Err(ApiError::invalid_field(
                    "regions",
                    "a Qualys connector has no regions; leave `regions` out",
                ));
            }
            crate::qualys::authentication(state, q, existing)?
        }
        (ConnectorType::Qualys, _, None) => {
            return Err(ApiError::invalid_field(
                "qualys",
                "a Qualys connector needs a `qualys` object: api_url, username, password, account_name, options (see docs/qualys.md)",
            ))
        }
        (ConnectorType::Qualys, Some(_), Some(_)) => {
            return Err(ApiError::invalid_field(
                "authentication",
                "a Qualys connector signs in with `qualys.username` and `qualys.password`; leave `authentication` out",
            ))
        }
    };
    // Milliseconds, as stored, so that the answer matches later reads.
    let now = chrono::Utc::now();
    let now = chrono::DateTime::from_timestamp_millis(now.timestamp_millis()).unwrap_or(now);
    Ok(ConnectorRecord {
        id: existing.map_or_else(|| uuid::Uuid::new_v4().to_string(), |e| e.id.clone()),
        name: form.name.trim().to_string(),
        description: form.description,
        authentication,
        regions: form.regions,
        polling_minutes: form.polling_interval_minutes,
        tags: form.tags,
        enabled: form.enabled,
        created: existing.map_or(now, |e| e.created),
        updated: now,
    })
}

/// The stored authentication of a form: the role keeps the connector's
/// external id (a new one when it had none), the secret is sealed.
fn authentication(
    state: &AppState,
    form: AuthenticationForm,
    existing: Option<&ConnectorRecord>,
) -> Result<Authentication, ApiError> {
    let before = existing.map(|e| &e.authentication);
    match form {
        AuthenticationForm::Role { role_arn } => {
            if !is_role_arn(&role_arn) {
                return Err(ApiError::invalid_field(
                    "authentication.role_arn",
                    "the role ARN must look like arn:aws:iam::<12-digit account>:role/<name>",
                ));
            }
            let external_id = match before {
                Some(Authentication::Role { external_id, .. }) => external_id.clone(),
                _ => format!("vigil-{}", uuid::Uuid::new_v4()),
            };
            Ok(Authentication::Role {
                role_arn,
                external_id,
            })
        }
        AuthenticationForm::AccessKeys {
            access_key_id,
            secret_access_key,
        } => {
            if !is_access_key_id(&access_key_id) {
                return Err(ApiError::invalid_field(
                    "authentication.access_key_id",
                    "an access key id is 16 to 128 upper-case letters and digits starting with AKIA or ASIA",
                ));
            }
            let field = "authentication.secret_access_key";
            let sealed_secret = match (secret_access_key, before) {
                (Some(secret), _) => {
                    if secret.is_empty()
                        || secret.len() > 128
                        || secret.chars().any(char::is_whitespace)
                    {
                        return Err(ApiError::invalid_field(
                            field,
                            "a secret access key is 1 to 128 characters without spaces",
                        ));
                    }
                    let key = state.secret_key.as_ref().ok_or_else(|| {
                        ApiError::invalid_field(
                            field,
                            format!(
                                "access-key connectors need a key to encrypt the secret at rest: \
                                 start the server with {SECRET_KEY_ENV} set to 32 random bytes \
                                 (64 hex digits, e.g. `openssl rand -hex 32`), or use a role"
                            ),
                        )
                    })?;
                    key.seal(&secret).map_err(ApiError::internal)?
                }
                (
                    None,
                    Some(Authentication::AccessKeys {
                        access_key_id: old_id,
                        sealed_secret,
                    }),
                ) if *old_id == access_key_id => sealed_secret.clone(),
                (None, _) => {
                    return Err(ApiError::invalid_field(
                        field,
                        "the secret access key is required with a new access key id",
                    ))
                }
            };
            Ok(Authentication::AccessKeys {
                access_key_id,
                sealed_secret,
            })
        }
        AuthenticationForm::Default => Ok(Authentication::Default),
    }
}

/// What the audit log records of a connector (never the secret).
fn audit_details(c: &ConnectorRecord) -> serde_json::Value {
    // Qualys settings carry no password (it is sealed apart).
    let qualys = crate::qualys::QualysSettings::of(c)
        .and_then(Result::ok)
        .map(|s| serde_json::json!({"api_url": s.api_url, "username": s.username, "account_name": s.account_name}));
    serde_json::json!({
        "name": c.name,
        "provider": c.authentication.provider(),
        "qualys": qualys,
        "authentication": c.authentication.kind(),
        "regions": c.regions,
        "polling_interval_minutes": c.polling_minutes,
        "tags": c.tags,
        "enabled": c.enabled,
    })
}

/// The connectors the caller may see, by name.
#[utoipa::path(get, path = "/api/v1/connectors", tag = "connectors",
    security(("bearer" = ["view_data"])),
    responses(
        (status = 200, description = "The connectors the caller's tags allow", body = Vec<ConnectorView>),
        (status = 401, description = "No valid token", body = ApiError),
        (status = 403, description = "The caller's role lacks view_data", body = ApiError),
    ))]
pub async fn list_connectors(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> Result<Json<Vec<ConnectorView>>, ApiError> {
    caller.require(Permission::ViewData)?;
    let all = state
        .store
        .connectors()
        .await
        .map_err(ApiError::from_store)?;
    Ok(Json(
        all.into_iter()
            .filter(|c| caller.sees_tags(&c.tags))
            .map(ConnectorView::from)
            .collect(),
    ))
}

/// One connector.
#[utoipa::path(get, path = "/api/v1/connectors/{id}", tag = "connectors",
    security(("bearer" = ["view_data"])),
    params(("id" = String, Path, description = "The connector's id")),
    responses(
        (status = 200, description = "The connector", body = ConnectorView),
        (status = 401, description = "No valid token", body = ApiError),
        (status = 403, description = "The caller's role lacks view_data, or the connector carries none of the caller's tags", body = ApiError),
        (status = 404, description = "No such connector", body = ApiError),
    ))]
pub async fn get_connector(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<ConnectorView>, ApiError> {
    caller.require(Permission::ViewData)?;
    Ok(Json(visible(&state, &caller, &id).await?.into()))
}

/// Creates a connector. A role connector gets a generated external id; an
/// access-key connector needs the server's `VIGIL_SECRET_KEY`.
#[utoipa::path(post, path = "/api/v1/connectors", tag = "connectors",
    security(("bearer" = ["manage_connectors"])),
    request_body = ConnectorForm,
    responses(
        (status = 201, description = "The connector was created", body = ConnectorView),
        (status = 400, description = "A field is invalid (the field is named)", body = ApiError),
        (status = 401, description = "No valid token", body = ApiError),
        (status = 403, description = "The caller's role lacks manage_connectors, or the tags given are not the caller's", body = ApiError),
        (status = 409, description = "A connector of that name exists", body = ApiError),
    ))]
pub async fn create_connector(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    body: JsonBody<ConnectorForm>,
) -> Result<(StatusCode, Json<ConnectorView>), ApiError> {
    caller.require(Permission::ManageConnectors)?;
    let connector = build(&state, body.parse()?, None)?;
    caller.require_tags(&connector.tags, "the new connector")?;
    let audit = caller.audit(
        "connector.create",
        &format!("connector:{}", connector.id),
        audit_details(&connector),
    );
    state
        .store
        .create_connector(&connector, &audit)
        .await
        .map_err(ApiError::from_store)?;
    Ok((StatusCode::CREATED, Json(connector.into())))
}

/// Replaces a connector's fields. The external id of a role connector stays;
/// the secret of an access-key connector stays when left out.
#[utoipa::path(put, path = "/api/v1/connectors/{id}", tag = "connectors",
    security(("bearer" = ["manage_connectors"])),
    params(("id" = String, Path, description = "The connector's id")),
    request_body = ConnectorForm,
    responses(
        (status = 200, description = "The connector as changed", body = ConnectorView),
        (status = 400, description = "A field is invalid (the field is named)", body = ApiError),
        (status = 401, description = "No valid token", body = ApiError),
        (status = 403, description = "The caller's role lacks manage_connectors, or the connector (or its new tags) carries none of the caller's tags", body = ApiError),
        (status = 404, description = "No such connector", body = ApiError),
        (status = 409, description = "Another connector has that name", body = ApiError),
    ))]
pub async fn update_connector(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
    body: JsonBody<ConnectorForm>,
) -> Result<Json<ConnectorView>, ApiError> {
    caller.require(Permission::ManageConnectors)?;
    let existing = visible(&state, &caller, &id).await?;
    let connector = build(&state, body.parse()?, Some(&existing))?;
    caller.require_tags(&connector.tags, "the connector as changed")?;
    let audit = caller.audit(
        "connector.update",
        &format!("connector:{id}"),
        audit_details(&connector),
    );
    state
        .store
        .update_connector(&connector, &audit)
        .await
        .map_err(ApiError::from_store)?;
    Ok(Json(connector.into()))
}

/// Deletes a connector and its run history (its resources stay until
/// another sync of their source); a Qualys connector's ingested data goes
/// with it.
#[utoipa::path(delete, path = "/api/v1/connectors/{id}", tag = "connectors",
    security(("bearer" = ["manage_connectors"])),
    params(("id" = String, Path, description = "The connector's id")),
    responses(
        (status = 204, description = "The connector was deleted"),
        (status = 401, description = "No valid token", body = ApiError),
        (status = 403, description = "The caller's role lacks manage_connectors, or the connector carries none of the caller's tags", body = ApiError),
        (status = 404, description = "No such connector", body = ApiError),
    ))]
pub async fn delete_connector(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    caller.require(Permission::ManageConnectors)?;
    let connector = visible(&state, &caller, &id).await?;
    let audit = caller.audit(
        "connector.delete",
        &format!("connector:{id}"),
        serde_json::json!({"name": connector.name}),
    );
    state
        .store
        .delete_connector(&id, &audit)
        .await
        .map_err(ApiError::from_store)?;
    if connector.authentication.provider() == "qualys" {
        state
            .store
            .qualys_forget(&id)
            .await
            .map_err(ApiError::from_store)?;
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Run now: queues a manual run, which a node picks up within a few seconds.
#[utoipa::path(post, path = "/api/v1/connectors/{id}/run", tag = "connectors",
    security(("bearer" = ["manage_connectors"])),
    params(("id" = String, Path, description = "The connector's id")),
    responses(
        (status = 202, description = "The run was queued", body = RunView),
        (status = 401, description = "No valid token", body = ApiError),
        (status = 403, description = "The caller's role lacks manage_connectors, or the connector carries none of the caller's tags", body = ApiError),
        (status = 404, description = "No such connector", body = ApiError),
        (status = 409, description = "A run of the connector is already queued or running", body = ApiError),
    ))]
pub async fn run_connector(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<RunView>), ApiError> {
    caller.require(Permission::ManageConnectors)?;
    let connector = visible(&state, &caller, &id).await?;
    let audit = caller.audit(
        "connector.run",
        &format!("connector:{id}"),
        serde_json::json!({"name": connector.name}),
    );
    let run = state
        .store
        .enqueue_run(&id, chrono::Utc::now(), &audit)
        .await
        .map_err(ApiError::from_store)?;
    state.worker_wake.notify_one();
    Ok((StatusCode::ACCEPTED, Json(run.into())))
}

/// The runs of a connector, newest first.
#[utoipa::path(get, path = "/api/v1/connectors/{id}/runs", tag = "connectors",
    security(("bearer" = ["view_data"])),
    params(("id" = String, Path, description = "The connector's id"), RunsQuery),
    responses(
        (status = 200, description = "The runs, newest first", body = Vec<RunView>),
        (status = 400, description = "A query parameter is invalid", body = ApiError),
        (status = 401, description = "No valid token", body = ApiError),
        (status = 403, description = "The caller's role lacks view_data, or the connector carries none of the caller's tags", body = ApiError),
        (status = 404, description = "No such connector", body = ApiError),
    ))]
pub async fn list_runs(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
    query: Result<Query<RunsQuery>, QueryRejection>,
) -> Result<Json<Vec<RunView>>, ApiError> {
    caller.require(Permission::ViewData)?;
    let Query(q) = query
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_query", e.body_text()))?;
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::invalid_field("limit", "limit must be 1 to 1000"));
    }
    visible(&state, &caller, &id).await?;
    let runs = state
        .store
        .runs(
            &id,
            Page {
                limit,
                offset: q.offset.unwrap_or(0),
            },
        )
        .await
        .map_err(ApiError::from_store)?;
    Ok(Json(runs.into_iter().map(RunView::from).collect()))
}

/// One run.
#[utoipa::path(get, path = "/api/v1/runs/{run_id}", tag = "connectors",
    security(("bearer" = ["view_data"])),
    params(("run_id" = String, Path, description = "The run's id")),
    responses(
        (status = 200, description = "The run", body = RunView),
        (status = 401, description = "No valid token", body = ApiError),
        (status = 403, description = "The caller's role lacks view_data, or the run's connector carries none of the caller's tags", body = ApiError),
        (status = 404, description = "No such run", body = ApiError),
    ))]
pub async fn get_run(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(run_id): Path<String>,
) -> Result<Json<RunView>, ApiError> {
    caller.require(Permission::ViewData)?;
    let run = state
        .store
        .run(&run_id)
        .await
        .map_err(ApiError::from_store)?
        .ok_or_else(|| ApiError::missing(format!("there is no run {run_id}")))?;
    visible(&state, &caller, &run.connector_id).await?;
    Ok(Json(run.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_shapes() {
        for ok in ["us-east-1", "eu-west-3", "us-gov-west-1", "ap-southeast-4"] {
            assert!(is_region(ok), "{ok}");
        }
        for bad in ["us-east", "US-EAST-1", "useast1", "u-east-1", "us--1", ""] {
            assert!(!is_region(bad), "{bad}");
        }
        assert!(is_role_arn(
            "arn:aws:iam::123456789012:role/path/Vigil-Read"
        ));
        assert!(!is_role_arn("arn:aws:iam::12345:role/x"));
        assert!(!is_role_arn("arn:aws:iam::123456789012:user/x"));
        assert!(!is_role_arn("arn:aws:iam::123456789012:role/"));
        assert!(is_access_key_id("AKIAIOSFODNN7EXAMPLE"));
        assert!(!is_access_key_id("akiaiosfodnn7example"));
        assert!(!is_access_key_id("AKIA123"));
        assert!(is_name("aws prod-1.eu_x") && !is_name(" ") && !is_name("a/b"));
    }
}
