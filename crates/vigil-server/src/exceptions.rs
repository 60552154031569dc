//! Exceptions (seed 001, "Exceptions"): create, view, edit while active,
//! copy, delete, and the history of each. Reading needs `view_data`;
//! changes need `manage_policies_controls` (readers only view).
//!
//! While an exception is active every FAIL it covers reads PASSE; the store
//! keeps that in the same transaction as each change and each scan, and
//! [`sweep`] refreshes it every few seconds so that start and end dates take
//! effect on time.

use crate::access::Caller;
use crate::body::JsonBody;
use crate::error::ApiError;
use crate::AppState;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use utoipa::{IntoParams, ToSchema};
use vigil_store::access::Permission;
use vigil_store::exceptions::{
    ExceptionHistoryRecord, ExceptionRecord, ExceptionStatus, FieldError, Reason, Scope,
};
use vigil_store::{Store, StoreError};

/// What an exception applies to: exactly one of the two lists.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScopeForm {
    /// Resources by native id (e.g. an ARN, as search shows `resource_id`)
    /// or by Vigil resource uid; no limit on their number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = json!(["arn:aws:s3:::logs-bucket"]))]
    pub resources: Option<Vec<String>>,
    /// Connector ids: every resource of these connectors, including those
    /// later runs discover.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connectors: Option<Vec<String>>,
}

/// An exception to create. Dates are RFC 3339 times or `YYYY-MM-DD` days
/// (UTC; a start day begins at 00:00, an end day ends at 23:59:59.999).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExceptionForm {
    /// 1 to 128 characters.
    #[schema(example = "Public logs bucket")]
    pub name: String,
    /// `False Positive`, `Risk Accepted` or `Other`.
    #[schema(example = "Risk Accepted")]
    pub reason: String,
    /// 1 to 250 characters.
    #[schema(example = "Serves the public status page")]
    pub explanation: String,
    #[schema(example = "2026-11-23")]
    pub start: String,
    #[schema(example = "2026-12-31")]
    pub end: String,
    /// Optional, at most 250 characters.
    #[serde(default)]
    pub information_security_policy: String,
    /// Optional, at most 250 characters.
    #[serde(default)]
    pub information_security_procedure: String,
    pub scope: ScopeForm,
    /// CIDs of the controls the resources are excepted from.
    #[schema(example = json!([48]))]
    pub controls: Vec<u32>,
}

/// A change (PUT) or the settings of a copy (POST …/copy): absent fields
/// keep the exception's value. An edit may change the dates, explanation,
/// controls, policy and procedure (seed 001); name, reason and scope are
/// changed by copying.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExceptionPatch {
    pub name: Option<String>,
    pub reason: Option<String>,
    pub explanation: Option<String>,
    pub start: Option<String>,
    pub end: Option<String>,
    pub information_security_policy: Option<String>,
    pub information_security_procedure: Option<String>,
    pub scope: Option<ScopeForm>,
    pub controls: Option<Vec<u32>>,
}

/// An exception as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExceptionView {
    pub id: String,
    pub name: String,
    #[schema(example = "Risk Accepted")]
    pub reason: String,
    pub explanation: String,
    pub start: String,
    pub end: String,
    /// `INACTIVE` (before the start), `ACTIVE` or `EXPIRED` (after the end).
    #[schema(example = "ACTIVE")]
    pub status: String,
    pub information_security_policy: String,
    pub information_security_procedure: String,
    pub scope: ScopeForm,
    pub controls: Vec<u32>,
    pub created_by: String,
    pub created_at: String,
    pub updated_by: String,
    pub updated_at: String,
}

impl ExceptionView {
    fn of(x: ExceptionRecord, now: DateTime<Utc>) -> ExceptionView {
        let status = x.status(now).as_str().to_string();
        let scope = match x.scope {
            Scope::Resources(v) => ScopeForm {
                resources: Some(v),
                connectors: None,
            },
            Scope::Connectors(v) => ScopeForm {
                resources: None,
                connectors: Some(v),
            },
        };
        ExceptionView {
            id: x.id,
            name: x.name,
            reason: x.reason.label().into(),
            explanation: x.explanation,
            start: x.start.to_rfc3339(),
            end: x.end.to_rfc3339(),
            status,
            information_security_policy: x.security_policy,
            information_security_procedure: x.security_procedure,
            scope,
            controls: x.controls,
            created_by: x.created_by,
            created_at: x.created_at.to_rfc3339(),
            updated_by: x.updated_by,
            updated_at: x.updated_at.to_rfc3339(),
        }
    }
}

/// The list of exceptions with the counts of seed 001's side panel.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExceptionList {
    pub items: Vec<ExceptionView>,
    /// Every exception (before filtering).
    pub total: u64,
    /// Counts per status (`ACTIVE`, `INACTIVE`, `EXPIRED`), before filtering.
    pub by_status: BTreeMap<String, u64>,
    /// Counts per reason, before filtering.
    pub by_reason: BTreeMap<String, u64>,
}

/// The filters of `GET /api/v1/exceptions`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExceptionQuery {
    /// Only exceptions of this status: `ACTIVE`, `INACTIVE` or `EXPIRED`.
    pub status: Option<String>,
    /// Only exceptions of this reason, e.g. `False Positive`.
    pub reason: Option<String>,
}

/// One entry of an exception's history.
#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryView {
    pub at: String,
    /// Who acted.
    pub user: String,
    /// `create`, `copy`, `edit` or `delete`.
    pub action: String,
    /// What the action set or changed (`{"field": {"from": …, "to": …}}` for an edit).
    #[schema(value_type = Object)]
    pub changes: serde_json::Value,
}

impl From<ExceptionHistoryRecord> for HistoryView {
    fn from(h: ExceptionHistoryRecord) -> Self {
        HistoryView {
            at: h.at.to_rfc3339(),
            user: h.user,
            action: h.action,
            changes: h.changes,
        }
    }
}

fn field_error(e: FieldError) -> ApiError {
    ApiError::invalid_field(&e.field, e.message)
}

/// A date of field `field`: RFC 3339, or a day (its first or last
/// millisecond).
fn parse_date(field: &str, text: &str, end_of_day: bool) -> Result<DateTime<Utc>, ApiError> {
    let text = text.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    let day = NaiveDate::parse_from_str(text, "%Y-%m-%d").ok();
    let time = day.and_then(|d| {
        if end_of_day {
            d.and_hms_milli_opt(23, 59, 59, 999)
        } else {
            d.and_hms_opt(0, 0, 0)
        }
    });
    time.map(|t| t.and_utc()).ok_or_else(|| {
        ApiError::invalid_field(
            field,
            format!(
                "`{field}` must be a date (2026-12-31) or an RFC 3339 time (2026-12-31T18:00:00Z)"
            ),
        )
    })
}

fn parse_reason(text: &str) -> Result<Reason, ApiError> {
    Reason::parse(text).ok_or_else(|| {
        ApiError::invalid_field(
            "reason",
            "`reason` must be one of `False Positive`, `Risk Accepted`, `Other`",
        )
    })
}

fn parse_scope(scope: ScopeForm) -> Result<Scope, ApiError> {
    match (scope.resources, scope.connectors) {
        (Some(r), None) => Ok(Scope::Resources(r)),
        (None, Some(c)) => Ok(Scope::Connectors(c)),
        _ => Err(ApiError::invalid_field(
            "scope",
            "give the scope as either `resources` (a list of resource ids) or `connectors` (a list of connector ids)",
        )),
    }
}

/// Checks what needs the store and the caller: the controls exist, and the
/// connectors exist and the caller may see them (else 403).
async fn check_references(
    state: &AppState,
    caller: &Caller,
    x: &ExceptionRecord,
) -> Result<(), ApiError> {
    let unknown = state
        .store
        .unknown_controls(&x.controls)
        .await
        .map_err(ApiError::from_store)?;
    if let Some(cid) = unknown.first() {
        let i = x.controls.iter().position(|c| c == cid).unwrap_or(0);
        return Err(ApiError::invalid_field(
            &format!("controls[{i}]"),
            format!("there is no control with CID {cid}; see the controls catalogue"),
        ));
    }
    if let Scope::Connectors(ids) = &x.scope {
        for (i, id) in ids.iter().enumerate() {
            let connector = crate::access::connector(state, id).await?.ok_or_else(|| {
                ApiError::invalid_field(
                    &format!("scope.connectors[{i}]"),
                    format!("there is no connector {id}"),
                )
            })?;
            caller.require_tags(&connector.tags, &format!("connector {}", connector.name))?;
        }
    }
    Ok(())
}

/// Normalizes and checks a record, then its references.
async fn validated(
    state: &AppState,
    caller: &Caller,
    mut x: ExceptionRecord,
) -> Result<ExceptionRecord, ApiError> {
    x.normalize();
    x.check().map_err(field_error)?;
    check_references(state, caller, &x).await?;
    Ok(x)
}

fn store_error(e: StoreError) -> ApiError {
    ApiError::from_store(e)
}

/// The exception `id`, when it exists and the caller may see it (403 when
/// its scope names a connector the caller's tags do not reach).
async fn load(state: &AppState, caller: &Caller, id: &str) -> Result<ExceptionRecord, ApiError> {
    let x = state
        .store
        .exception(id)
        .await
        .map_err(store_error)?
        .ok_or_else(|| ApiError::missing(format!("there is no exception {id}")))?;
    require_visible(state, caller, &x).await?;
    Ok(x)
}

/// 403 unless the caller may see `x`.
async fn require_visible(
    state: &AppState,
    caller: &Caller,
    x: &ExceptionRecord,
) -> Result<(), ApiError> {
    if visible(caller, x, &connectors_for(state, caller).await?) {
        return Ok(());
    }
    Err(ApiError::forbidden(format!(
        "exception {} covers a connector that carries none of your tags; ask a Manager for access",
        x.id
    )))
}

/// The connectors [`visible`] needs for `caller`: none for a caller
/// without tags (who sees everything), else every connector with its tags,
/// read once per request.
async fn connectors_for(
    state: &AppState,
    caller: &Caller,
) -> Result<Vec<crate::access::ConnectorAccess>, ApiError> {
    if caller.user.tags.is_empty() {
        return Ok(Vec::new());
    }
    crate::access::connectors(state).await
}

/// Whether the caller may see `x` (seed 001's tag-based access): callers
/// without tags see every exception; others those whose connectors they
/// all see (a resource-scoped exception names no connector). `connectors`
/// comes from [`connectors_for`].
fn visible(
    caller: &Caller,
    x: &ExceptionRecord,
    connectors: &[crate::access::ConnectorAccess],
) -> bool {
    let Scope::Connectors(ids) = &x.scope else {
        return true;
    };
    caller.user.tags.is_empty()
        || ids.iter().all(|id| {
            connectors
                .iter()
                .any(|c| &c.id == id && caller.sees_tags(&c.tags))
        })
}

/// `patch` applied to `base`; `fixed` refuses changes to name, reason and
/// scope (an edit), naming the field.
fn apply_patch(
    mut x: ExceptionRecord,
    patch: ExceptionPatch,
    fixed: bool,
) -> Result<ExceptionRecord, ApiError> {
    let refuse = |field: &str| {
        ApiError::invalid_field(
            field,
            format!(
                "`{field}` cannot be edited; copy the exception to make one with another {field}"
            ),
        )
    };
    if let Some(name) = patch.name {
        if fixed && name != x.name {
            return Err(refuse("name"));
        }
        x.name = name;
    }
    if let Some(reason) = patch.reason {
        let reason = parse_reason(&reason)?;
        if fixed && reason != x.reason {
            return Err(refuse("reason"));
        }
        x.reason = reason;
    }
    if let Some(scope) = patch.scope {
        let mut scope = parse_scope(scope)?;
        if fixed {
            let mut current = x.clone();
            current.scope = scope.clone();
            current.normalize();
            if current.scope != x.scope {
                return Err(refuse("scope"));
            }
            scope = current.scope;
        }
        x.scope = scope;
    }
    if let Some(text) = patch.explanation {
        x.explanation = text;
    }
    if let Some(text) = patch.information_security_policy {
        x.security_policy = text;
    }
    if let Some(text) = patch.information_security_procedure {
        x.security_procedure = text;
    }
    if let Some(start) = patch.start {
        x.start = parse_date("start", &start, false)?;
    }
    if let Some(end) = patch.end {
        x.end = parse_date("end", &end, true)?;
    }
    if let Some(controls) = patch.controls {
        x.controls = controls;
    }
    Ok(x)
}

/// Every exception with its status, newest first; `status` and `reason`
/// filter.
#[utoipa::path(get, path = "/api/v1/exceptions", tag = "exceptions",
    security(("bearer" = ["view_data"])),
    params(ExceptionQuery),
    responses(
        (status = 200, description = "The exceptions and their counts", body = ExceptionList),
        (status = 400, description = "A filter is invalid", body = ApiError),
        (status = 401, description = "No valid token", body = ApiError),
        (status = 403, description = "The caller's role lacks view_data", body = ApiError),
    ))]
pub async fn list(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    query: Result<Query<ExceptionQuery>, QueryRejection>,
) -> Result<Json<ExceptionList>, ApiError> {
    caller.require(Permission::ViewData)?;
    let Query(q) = query
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_query", e.body_text()))?;
    let status = match q.status.as_deref() {
        None | Some("") => None,
        Some(s) => Some(
            [
                ExceptionStatus::Inactive,
                ExceptionStatus::Active,
                ExceptionStatus::Expired,
            ]
            .into_iter()
            .find(|v| v.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                ApiError::invalid_field("status", "`status` must be ACTIVE, INACTIVE or EXPIRED")
            })?,
        ),
    };
    let reason = match q.reason.as_deref() {
        None | Some("") => None,
        Some(r) => Some(parse_reason(r)?),
    };
    let now = Utc::now();
    let connectors = connectors_for(&state, &caller).await?;
    let all: Vec<ExceptionRecord> = state
        .store
        .exceptions()
        .await
        .map_err(store_error)?
        .into_iter()
        .filter(|x| visible(&caller, x, &connectors))
        .collect();
    let mut by_status = BTreeMap::new();
    let mut by_reason = BTreeMap::new();
    for x in &all {
        *by_status
            .entry(x.status(now).as_str().to_string())
            .or_insert(0) += 1;
        *by_reason.entry(x.reason.label().to_string()).or_insert(0) += 1;
    }
    let total = all.len() as u64;
    let items = all
        .into_iter()
        .filter(|x| status.is_none_or(|s| x.status(now) == s))
        .filter(|x| reason.is_none_or(|r| x.reason == r))
        .map(|x| ExceptionView::of(x, now))
        .collect();
    Ok(Json(ExceptionList {
        items,
        total,
        by_status,
        by_reason,
    }))
}

/// One exception.
#[utoipa::path(get, path = "/api/v1/exceptions/{id}", tag = "exceptions",
    security(("bearer" = ["view_data"])),
    params(("id" = String, Path, description = "The exception's id")),
    responses(
        (status = 200, description = "The exception", body = ExceptionView),
        (status = 401, description = "No valid token", body = ApiError),
        (status = 403, description = "The caller's role lacks view_data", body = ApiError),
        (status = 404, description = "No such exception", body = ApiError),
    ))]
pub async fn get_one(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<ExceptionView>, ApiError> {
    caller.require(Permission::ViewData)?;
    Ok(Json(ExceptionView::of(
        load(&state, &caller, &id).await?,
        Utc::now(),
    )))
}

/// Keeps a new exception made by the caller now, and answers it.
async fn create_record(
    state: &AppState,
    caller: &Caller,
    x: ExceptionRecord,
    copied_from: Option<&str>,
) -> Result<(StatusCode, Json<ExceptionView>), ApiError> {
    let x = validated(state, caller, x).await?;
    let action = if copied_from.is_some() {
        "exception.copy"
    } else {
        "exception.create"
    };
    let audit = caller.audit(
        action,
        &format!("exception:{}", x.id),
        x.creation(copied_from),
    );
    state
        .store
        .create_exception(&x, copied_from, &audit)
        .await
        .map_err(store_error)?;
    Ok((StatusCode::CREATED, Json(ExceptionView::of(x, audit.at))))
}

/// A new record by the caller at `now`, with a fresh id.
fn new_record(
    caller: &Caller,
    now: DateTime<Utc>,
    form: ExceptionForm,
) -> Result<ExceptionRecord, ApiError> {
    Ok(ExceptionRecord {
        id: uuid::Uuid::new_v4().to_string(),
        name: form.name,
        reason: parse_reason(&form.reason)?,
        explanation: form.explanation,
        start: parse_date("start", &form.start, false)?,
        end: parse_date("end", &form.end, true)?,
        security_policy: form.information_security_policy,
        security_procedure: form.information_security_procedure,
        scope: parse_scope(form.scope)?,
        controls: form.controls,
        created_by: caller.username().into(),
        created_at: now,
        updated_by: caller.username().into(),
        updated_at: now,
    })
}

/// Creates an exception; while it is active, the FAILs it covers read
/// PASSE at once.
#[utoipa::path(post, path = "/api/v1/exceptions", tag = "exceptions",
    security(("bearer" = ["manage_policies_controls"])),
    request_body = ExceptionForm,
    responses(
        (status = 201, description = "The exception was created", body = ExceptionView),
        (status = 400, description = "A field is invalid (named in `field`)", body = ApiError),
        (status = 401, description = "No valid token", body = ApiError),
        (status = 403, description = "The caller's role lacks manage_policies_controls, or a connector in scope carries none of the caller's tags", body = ApiError),
    ))]
pub async fn create(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    body: JsonBody<ExceptionForm>,
) -> Result<(StatusCode, Json<ExceptionView>), ApiError> {
    caller.require(Permission::ManagePoliciesControls)?;
    let form = body.parse()?;
    let x = new_record(&caller, Utc::now(), form)?;
    create_record(&state, &caller, x, None).await
}

/// Edits an active exception: dates, explanation, controls, policy and
/// procedure (absent fields stay). 409 when it is not active.
#[utoipa::path(put, path = "/api/v1/exceptions/{id}", tag = "exceptions",
    security(("bearer" = ["manage_policies_controls"])),
    params(("id" = String, Path, description = "The exception's id")),
    request_body = ExceptionPatch,
    responses(
        (status = 200, description = "The exception as edited", body = ExceptionView),
        (status = 400, description = "A field is invalid (named in `field`)", body = ApiError),
        (status = 401, description = "No valid token", body = ApiError),
        (status = 403, description = "The caller's role lacks manage_policies_controls", body = ApiError),
        (status = 404, description = "No such exception", body = ApiError),
        (status = 409, description = "The exception is not active", body = ApiError),
    ))]
pub async fn update(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
    body: JsonBody<ExceptionPatch>,
) -> Result<Json<ExceptionView>, ApiError> {
    caller.require(Permission::ManagePoliciesControls)?;
    let patch = body.parse()?;
    let old = load(&state, &caller, &id).await?;
    let now = Utc::now();
    vigil_store::exceptions::check_editable(&old, now).map_err(store_error)?;
    let mut x = apply_patch(old.clone(), patch, true)?;
    x.updated_by = caller.username().into();
    x.updated_at = now;
    let x = validated(&state, &caller, x).await?;
    let audit = caller.audit(
        "exception.edit",
        &format!("exception:{id}"),
        x.changes_from(&old),
    );
    state
        .store
        .update_exception(&x, &audit)
        .await
        .map_err(store_error)?;
    Ok(Json(ExceptionView::of(x, audit.at)))
}

/// Makes a new exception from an existing one (of any status), with the
/// fields given in the body changed (`{}` copies it as it is, named
/// "Copy of …").
#[utoipa::path(post, path = "/api/v1/exceptions/{id}/copy", tag = "exceptions",
    security(("bearer" = ["manage_policies_controls"])),
    params(("id" = String, Path, description = "The id of the exception to copy")),
    request_body = ExceptionPatch,
    responses(
        (status = 201, description = "The new exception", body = ExceptionView),
        (status = 400, description = "A field is invalid (named in `field`)", body = ApiError),
        (status = 401, description = "No valid token", body = ApiError),
        (status = 403, description = "The caller's role lacks manage_policies_controls, or a connector in scope carries none of the caller's tags", body = ApiError),
        (status = 404, description = "No such exception", body = ApiError),
    ))]
pub async fn copy(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
    body: JsonBody<ExceptionPatch>,
) -> Result<(StatusCode, Json<ExceptionView>), ApiError> {
    caller.require(Permission::ManagePoliciesControls)?;
    let patch = body.parse()?;
    let source = load(&state, &caller, &id).await?;
    let now = Utc::now();
    let mut base = source.clone();
    base.name = format!("Copy of {}", source.name)
        .chars()
        .take(vigil_store::exceptions::MAX_NAME)
        .collect();
    let mut x = apply_patch(base, patch, false)?;
    x.id = uuid::Uuid::new_v4().to_string();
    x.created_by = caller.username().into();
    x.created_at = now;
    x.updated_by = caller.username().into();
    x.updated_at = now;
    create_record(&state, &caller, x, Some(&id)).await
}

/// Deletes an exception; the FAILs it covered read FAIL again at once.
#[utoipa::path(delete, path = "/api/v1/exceptions/{id}", tag = "exceptions",
    security(("bearer" = ["manage_policies_controls"])),
    params(("id" = String, Path, description = "The exception's id")),
    responses(
        (status = 204, description = "The exception was deleted"),
        (status = 401, description = "No valid token", body = ApiError),
        (status = 403, description = "The caller's role lacks manage_policies_controls", body = ApiError),
        (status = 404, description = "No such exception", body = ApiError),
    ))]
pub async fn delete(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    caller.require(Permission::ManagePoliciesControls)?;
    let old = load(&state, &caller, &id).await?;
    let audit = caller.audit(
        "exception.delete",
        &format!("exception:{id}"),
        old.summary(),
    );
    state
        .store
        .delete_exception(&id, &audit)
        .await
        .map_err(store_error)?;
    Ok(StatusCode::NO_CONTENT)
}

/// The history of an exception (seed 001, "Exception History"): every
/// action with its user and time, oldest first. A deleted exception's
/// history stays readable and ends with its `delete`.
#[utoipa::path(get, path = "/api/v1/exceptions/{id}/history", tag = "exceptions",
    security(("bearer" = ["view_data"])),
    params(("id" = String, Path, description = "The exception's id")),
    responses(
        (status = 200, description = "The history, oldest first", body = Vec<HistoryView>),
        (status = 401, description = "No valid token", body = ApiError),
        (status = 403, description = "The caller's role lacks view_data", body = ApiError),
        (status = 404, description = "No exception ever had this id", body = ApiError),
    ))]
pub async fn history(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Vec<HistoryView>>, ApiError> {
    caller.require(Permission::ViewData)?;
    // A deleted exception's history stays readable; a live one follows
    // tag-based access.
    if let Some(x) = state.store.exception(&id).await.map_err(store_error)? {
        require_visible(&state, &caller, &x).await?;
    }
    let entries = state
        .store
        .exception_history(&id)
        .await
        .map_err(store_error)?;
    if entries.is_empty() {
        return Err(ApiError::missing(format!("there is no exception {id}")));
    }
    Ok(Json(entries.into_iter().map(HistoryView::from).collect()))
}

/// One sweep: refreshes PASSE as of `now` when an exception started or
/// ended since `last` (always when there is no `last`). Returns whether it
/// refreshed.
pub async fn sweep_once(
    store: &dyn Store,
    last: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let due = match last {
        None => true,
        Some(last) => store.exceptions_turning(last, now).await?,
    };
    if due {
        store.refresh_exceptions(now).await?;
    }
    Ok(due)
}

/// Sweeps every `every`, for ever (the server aborts it when it stops), so
/// that exceptions take effect at their start and end. A failed sweep is
/// logged and tried again at the next tick.
pub async fn sweep(store: Arc<dyn Store>, every: Duration) {
    let mut ticker = tokio::time::interval(every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last = None;
    loop {
        ticker.tick().await;
        let now = Utc::now();
        match sweep_once(store.as_ref(), last, now).await {
            Ok(_) => last = Some(now),
            Err(e) => eprintln!("vigil serve: the exception sweep failed (retrying): {e}"),
        }
    }
}
