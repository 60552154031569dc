//! Users, roles, permissions and the audit log (seed 001, "User
//! Permissions", "New Users: Scope and Permissions", "Assign Role to
//! Users", "Configure Tag-based Access").
//!
//! Every operation documents the permission it needs as the scope of its
//! `bearer` security requirement, so the OpenAPI document is the permission
//! table (the RBAC matrix test reads it from there).

use crate::access::Caller;
use crate::auth::hash_password;
use crate::body::JsonBody;
use crate::error::ApiError;
use crate::AppState;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use utoipa::{IntoParams, ToSchema};
use vigil_store::access::{AuditFilter, AuditRecord, Permission, RoleRecord, UserChange};
use vigil_store::{NewUser, Page, UserRecord};

/// The shortest password accepted.
pub const MIN_PASSWORD: usize = 10;

/// A permission as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct PermissionView {
    /// The name used in roles, e.g. `manage_connectors`.
    #[schema(example = "manage_connectors")]
    pub name: String,
    pub description: String,
}

/// A role as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct RoleView {
    #[schema(example = "auditors")]
    pub name: String,
    pub description: String,
    /// Permission names.
    #[schema(example = json!(["view_data", "reports_view", "api_access"]))]
    pub permissions: Vec<String>,
    /// Built-in roles cannot be changed or deleted.
    pub builtin: bool,
}

impl From<RoleRecord> for RoleView {
    fn from(r: RoleRecord) -> Self {
        RoleView {
            name: r.name,
            description: r.description,
            permissions: r
                .permissions
                .iter()
                .map(|p| p.as_str().to_string())
                .collect(),
            builtin: r.builtin,
        }
    }
}

/// A role to create or change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleForm {
    /// The name (ignored by PUT, which takes it from the path).
    #[schema(example = "auditors")]
    pub name: Option<String>,
    #[serde(default)]
    pub description: String,
    /// Permission names (see `GET /api/v1/permissions`).
    pub permissions: Vec<String>,
}

/// A user as the API shows it (never the password or its hash).
#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    #[schema(example = "alice")]
    pub username: String,
    #[schema(example = "reader")]
    pub role: String,
    /// Connector tags the user may see; none: every connector.
    pub tags: Vec<String>,
    pub created_at: String,
    pub disabled: bool,
}

impl From<UserRecord> for UserView {
    fn from(u: UserRecord) -> Self {
        UserView {
            username: u.username,
            role: u.role,
            tags: u.tags,
            created_at: u.created_at.to_rfc3339(),
            disabled: u.disabled,
        }
    }
}

/// A user to create.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUserForm {
    #[schema(example = "alice")]
    pub username: String,
    /// At least 10 characters.
    pub password: String,
    /// A built-in role (`manager`, `sub_user`, `reader`, `reports_only`) or a custom one.
    #[schema(example = "reader")]
    pub role: String,
    /// Connector tags; none: every connector. A tag no connector carries gives access to none.
    #[serde(default)]
    pub tags: Vec<String>,
}

/// A change to a user; absent fields stay as they are.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    pub password: Option<String>,
    pub role: Option<String>,
    pub tags: Option<Vec<String>>,
    pub disabled: Option<bool>,
}

/// The filters and cursor of `GET /api/v1/audit`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Only changes by this user.
    pub actor: Option<String>,
    /// An action (`user.create`) or a prefix ending in `.` (`user.`).
    pub action: Option<String>,
    /// Only changes to this target, e.g. `user:alice`.
    pub target: Option<String>,
    /// The `next` cursor of the previous page.
    pub cursor: Option<String>,
    /// At most this many entries (1–1000, default 100).
    pub limit: Option<u32>,
}

/// A page of the audit log.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    #[schema(value_type = Vec<Object>)]
    pub items: Vec<AuditRecord>,
    /// The cursor of the next page; absent on the last.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

fn check_password(password: &str) -> Result<(), ApiError> {
    if password.chars().count() < MIN_PASSWORD {
        return Err(ApiError::invalid_field(
            "password",
            format!("a password needs at least {MIN_PASSWORD} characters"),
        ));
    }
    Ok(())
}

fn check_tags(tags: &[String]) -> Result<(), ApiError> {
    for (i, tag) in tags.iter().enumerate() {
        if tag.trim().is_empty() || tag.len() > 128 {
            return Err(ApiError::invalid_field(
                &format!("tags[{i}]"),
                "a tag must be 1 to 128 characters",
            ));
        }
    }
    Ok(())
}

fn permissions_of(names: &[String]) -> Result<Vec<Permission>, ApiError> {
    let mut out = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let p = Permission::parse(name).ok_or_else(|| {
            ApiError::invalid_field(
                &format!("permissions[{i}]"),
                format!("unknown permission `{name}`; see GET /api/v1/permissions"),
            )
        })?;
        if !out.contains(&p) {
            out.push(p);
        }
    }
    out.sort();
    Ok(out)
}

/// Every permission a role can grant.
#[utoipa::path(get, path = "/api/v1/permissions", tag = "users",
    security(("bearer" = ["api_access"])),
    responses(
        (status = 200, description = "The permissions", body = Vec<PermissionView>),
        (status = 401, description = "No valid token", body = ApiError),
    ))]
pub async fn permissions(_caller: Caller) -> Json<Vec<PermissionView>> {
    Json(
        Permission::ALL
            .iter()
            .map(|p| PermissionView {
                name: p.as_str().into(),
                description: p.description().into(),
            })
            .collect(),
    )
}

/// Every role: the built-in ones, then the custom ones.
#[utoipa::path(get, path = "/api/v1/roles", tag = "users",
    security(("bearer" = ["grant_access"])),
    responses(
        (status = 200, description = "The roles", body = Vec<RoleView>),
        (status = 401, description = "No valid token", body = ApiError),
        (status = 403, description = "The caller's role lacks grant_access", body = ApiError),
    ))]
pub async fn list_roles(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> Result<Json<Vec<RoleView>>, ApiError> {
    caller.require(Permission::GrantAccess)?;
    let mut roles: Vec<RoleView> = vigil_store::access::builtin_roles()
        .into_iter()
        .map(RoleView::from)
        .collect();
    roles.extend(
        state
            .store
            .custom_roles()
            .await
            .map_err(ApiError::from_store)?
            .into_iter()
            .map(RoleView::from),
    );
    Ok(Json(roles))
}

/// One role.
#[utoipa::path(get, path = "/api/v1/roles/{name}", tag = "users",
    security(("bearer" = ["grant_access"])),
    params(("name" = String, Path, description = "The role's name")),
    responses(
        (status = 200, description = "The role", body = RoleView),
        (status = 401, description = "No valid token", body = ApiError),
        (status = 403, description = "The caller's role lacks grant_access", body = ApiError),
        (status = 404, description = "No such role", body = ApiError),
    ))]
pub async fn get_role(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Json<RoleView>, ApiError> {
    caller.require(Permission::GrantAccess)?;
    let role = state
        .store
        .role(&name)
        .await
        .map_err(ApiError::from_store)?
        .ok_or_else(|| ApiError::missing(format!("there is no role {name}")))?;
    Ok(Json(role.into()))
}

/// Creates a custom role from permissions.
#[utoipa::path(post, path = "/api/v1/roles", tag = "users",
    security(("bearer" = ["grant_access"])),
    request_body = RoleForm,
    responses(
        (status = 201, description = "The role was created", body = RoleView),
        (status = 400, description = "A field is invalid", body = ApiError),
        (status = 401, description = "No valid token", body = ApiError),
        (status = 403, description = "The caller's role lacks grant_access", body = ApiError),
        (status = 409, description = "A role of that name exists", body = ApiError),
    ))]
pub async fn create_role(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    body: JsonBody<RoleForm>,
) -> Result<(StatusCode, Json<RoleView>), ApiError> {
    caller.require(Permission::GrantAccess)?;
    let form = body.parse()?;
    let name = form.name.ok_or_else(|| ApiError::missing_field("name"))?;
    let role = RoleRecord {
        name: name.clone(),
        description: form.description,
        permissions: permissions_of(&form.permissions)?,
        builtin: false,
    };
    role.validate()
        .map_err(|e| ApiError::from_store(e).with_field("name"))?;
    let audit = caller.audit(
        "role.create",
        &format!("role:{name}"),
        serde_json::json!({"permissions": role.permissions}),
    );
    state
        .store
        .create_role(&role, &audit)
        .await
        .map_err(ApiError::from_store)?;
    Ok((StatusCode::CREATED, Json(role.into())))
}

/// Replaces a custom role's description and permissions; users with the
/// role get the new permissions on their next request.
#[utoipa::path(put, path = "/api/v1/roles/{name}", tag = "users",
    security(("bearer" = ["grant_access"])),
    params(("name" = String, Path, description = "The role's name")),
    request_body = RoleForm,
    responses(
        (status = 200, description = "The role as changed", body = RoleView),
        (status = 400, description = "A field is invalid", body = ApiError),
        (status = 401, description = "No valid token", body = ApiError),
        (status = 403, description = "The caller's role lacks grant_access", body = ApiError),
        (status = 404, description = "No such custom role", body = ApiError),
        (status = 409, description = "A built-in role cannot change", body = ApiError),
    ))]
pub async fn update_role(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(name): Path<String>,
    body: JsonBody<RoleForm>,
) -> Result<Json<RoleView>, ApiError> {
    caller.require(Permission::GrantAccess)?;
    let form = body.parse()?;
    let role = RoleRecord {
        name: name.clone(),
        description: form.description,
        permissions: permissions_of(&form.permissions)?,
        builtin: false,
    };
    role.validate().map_err(ApiError::from_store)?;
    let audit = caller.audit(
        "role.update",
        &format!("role:{name}"),
        serde_json::json!({"permissions": role.permissions}),
    );
    state
        .store
        .update_role(&role, &audit)
        .await
        .map_err(ApiError::from_store)?;
    Ok(Json(role.into()))
}

/// Deletes a custom role that no user has.
#[utoipa::path(delete, path = "/api/v1/roles/{name}", tag = "users",
    security(("bearer" = ["grant_access"])),
    params(("name" = String, Path, description = "The role's name")),
    responses(
        (status = 204, description = "The role was deleted"),
        (status = 401, description = "No valid token", body = ApiError),
        (status = 403, description = "The caller's role lacks grant_access", body = ApiError),
        (status = 404, description = "No such custom role", body = ApiError),
        (status = 409, description = "A built-in role, or users still have it", body = ApiError),
    ))]
pub async fn delete_role(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    caller.require(Permission::GrantAccess)?;
    let audit = caller.audit(
        "role.delete",
        &format!("role:{name}"),
        serde_json::json!({}),
    );
    state
        .store
        .delete_role(&name, &audit)
        .await
        .map_err(ApiError::from_store)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Every user, by name.
#[utoipa::path(get, path = "/api/v1/users", tag = "users",
    security(("bearer" = ["update_access"])),
    responses(
        (status = 200, description = "The users", body = Vec<UserView>),
        (status = 401, description = "No valid token", body = ApiError),
        (status = 403, description = "The caller's role lacks update_access", body = ApiError),
    ))]
pub async fn list_users(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> Result<Json<Vec<UserView>>, ApiError> {
    caller.require(Permission::UpdateAccess)?;
    let users = state.store.users().await.map_err(ApiError::from_store)?;
    Ok(Json(users.into_iter().map(UserView::from).collect()))
}

/// One user.
#[utoipa::path(get, path = "/api/v1/users/{username}", tag = "users",
    security(("bearer" = ["update_access"])),
    params(("username" = String, Path, description = "The username")),
    responses(
        (status = 200, description = "The user", body = UserView),
        (status = 401, description = "No valid token", body = ApiError),
        (status = 403, description = "The caller's role lacks update_access", body = ApiError),
        (status = 404, description = "No such user", body = ApiError),
    ))]
pub async fn get_user(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(username): Path<String>,
) -> Result<Json<UserView>, ApiError> {
    caller.require(Permission::UpdateAccess)?;
    let user = state
        .store
        .user(&username)
        .await
        .map_err(ApiError::from_store)?
        .ok_or_else(|| ApiError::missing(format!("there is no user {username}")))?;
    Ok(Json(user.into()))
}

/// Creates a user with a role and connector tags.
#[utoipa::path(post, path = "/api/v1/users", tag = "users",
    security(("bearer" = ["create_users"])),
    request_body = NewUserForm,
    responses(
        (status = 201, description = "The user was created", body = UserView),
        (status = 400, description = "A field is invalid (the field is named)", body = ApiError),
        (status = 401, description = "No valid token", body = ApiError),
        (status = 403, description = "The caller's role lacks create_users", body = ApiError),
        (status = 409, description = "A user of that name exists", body = ApiError),
    ))]
pub async fn create_user(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    body: JsonBody<NewUserForm>,
) -> Result<(StatusCode, Json<UserView>), ApiError> {
    caller.require(Permission::CreateUsers)?;
    let form = body.parse()?;
    check_password(&form.password)?;
    check_tags(&form.tags)?;
    if state
        .store
        .role(&form.role)
        .await
        .map_err(ApiError::from_store)?
        .is_none()
    {
        return Err(ApiError::invalid_field(
            "role",
            format!("there is no role `{}`; see GET /api/v1/roles", form.role),
        ));
    }
    let password = form.password;
    let hash = tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(ApiError::internal)??;
    let user = NewUser {
        username: form.username.clone(),
        password_hash: hash,
        role: form.role.clone(),
        tags: form.tags.clone(),
        created_at: chrono::Utc::now(),
    };
    user.validate()
        .map_err(|e| ApiError::from_store(e).with_field("username"))?;
    let audit = caller.audit(
        "user.create",
        &format!("user:{}", form.username),
        serde_json::json!({"role": form.role, "tags": form.tags}),
    );
    state
        .store
        .create_user(&user, &audit)
        .await
        .map_err(ApiError::from_store)?;
    let stored = state
        .store
        .user(&form.username)
        .await
        .map_err(ApiError::from_store)?
        .ok_or_else(|| ApiError::internal("a created user cannot be read back"))?;
    Ok((StatusCode::CREATED, Json(stored.into())))
}

/// Changes a user's password, role, tags or disabled flag. Changing the role
/// or tags needs `grant_access` too; no one disables or demotes themselves.
#[utoipa::path(patch, path = "/api/v1/users/{username}", tag = "users",
    security(("bearer" = ["update_access"])),
    params(("username" = String, Path, description = "The username")),
    request_body = UserPatch,
    responses(
        (status = 200, description = "The user as changed", body = UserView),
        (status = 400, description = "A field is invalid", body = ApiError),
        (status = 401, description = "No valid token", body = ApiError),
        (status = 403, description = "The caller's role lacks update_access (or grant_access for role and tags)", body = ApiError),
        (status = 404, description = "No such user", body = ApiError),
        (status = 409, description = "The change would lock the caller out", body = ApiError),
    ))]
pub async fn update_user(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(username): Path<String>,
    body: JsonBody<UserPatch>,
) -> Result<Json<UserView>, ApiError> {
    caller.require(Permission::UpdateAccess)?;
    let patch = body.parse()?;
    if patch.role.is_some() || patch.tags.is_some() {
        caller.require(Permission::GrantAccess)?;
    }
    if username == caller.username()
        && (patch.disabled == Some(true)
            || patch.role.as_ref().is_some_and(|r| r != &caller.user.role))
    {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            "you cannot disable yourself or change your own role; ask another Manager",
        ));
    }
    if let Some(tags) = &patch.tags {
        check_tags(tags)?;
    }
    let password_hash = match patch.password {
        Some(password) => {
            check_password(&password)?;
            Some(
                tokio::task::spawn_blocking(move || hash_password(&password))
                    .await
                    .map_err(ApiError::internal)??,
            )
        }
        None => None,
    };
    let change = UserChange {
        password_hash,
        role: patch.role.clone(),
        tags: patch.tags.clone(),
        disabled: patch.disabled,
    };
    let audit = caller.audit(
        "user.update",
        &format!("user:{username}"),
        serde_json::json!({
            "password_changed": change.password_hash.is_some(),
            "role": patch.role,
            "tags": patch.tags,
            "disabled": patch.disabled,
        }),
    );
    state
        .store
        .update_user(&username, &change, &audit)
        .await
        .map_err(|e| match e {
            vigil_store::StoreError::Invalid(m) => ApiError::invalid_field("role", m),
            other => ApiError::from_store(other),
        })?;
    get_user(State(state), caller, Path(username)).await
}

/// Deletes a user (not oneself).
#[utoipa::path(delete, path = "/api/v1/users/{username}", tag = "users",
    security(("bearer" = ["update_access"])),
    params(("username" = String, Path, description = "The username")),
    responses(
        (status = 204, description = "The user was deleted"),
        (status = 401, description = "No valid token", body = ApiError),
        (status = 403, description = "The caller's role lacks update_access", body = ApiError),
        (status = 404, description = "No such user", body = ApiError),
        (status = 409, description = "The caller cannot delete themselves", body = ApiError),
    ))]
pub async fn delete_user(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(username): Path<String>,
) -> Result<StatusCode, ApiError> {
    caller.require(Permission::UpdateAccess)?;
    if username == caller.username() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            "you cannot delete yourself; ask another Manager",
        ));
    }
    let audit = caller.audit(
        "user.delete",
        &format!("user:{username}"),
        serde_json::json!({}),
    );
    state
        .store
        .delete_user(&username, &audit)
        .await
        .map_err(ApiError::from_store)?;
    Ok(StatusCode::NO_CONTENT)
}

/// The audit log: every change, who made it and when, newest first.
#[utoipa::path(get, path = "/api/v1/audit", tag = "users",
    security(("bearer" = ["update_access"])),
    params(AuditQuery),
    responses(
        (status = 200, description = "A page of the audit log", body = AuditPage),
        (status = 400, description = "A bad cursor or limit", body = ApiError),
        (status = 401, description = "No valid token", body = ApiError),
        (status = 403, description = "The caller's role lacks update_access", body = ApiError),
    ))]
pub async fn audit_log(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    query: Result<Query<AuditQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<AuditPage>, ApiError> {
    caller.require(Permission::UpdateAccess)?;
    let Query(q) = query
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_query", e.body_text()))?;
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::invalid_field("limit", "limit must be 1 to 1000"));
    }
    let before = match q.cursor.as_deref() {
        None | Some("") => None,
        Some(c) => Some(c.parse::<i64>().map_err(|_| {
            ApiError::invalid_field("cursor", "the cursor must be the `next` of a previous page")
        })?),
    };
    let items = state
        .store
        .audit_log(
            &AuditFilter {
                actor: q.actor,
                action: q.action,
                target: q.target,
                before,
            },
            Page {
                limit: limit + 1,
                offset: 0,
            },
        )
        .await
        .map_err(ApiError::from_store)?;
    let mut items = items;
    let next = if items.len() > limit as usize {
        items.truncate(limit as usize);
        items.last().map(|r| r.id.to_string())
    } else {
        None
    };
    Ok(Json(AuditPage { items, next }))
}
