//! Saved searches (seed 001, "Saved Searches"): a user keeps a named query
//! (checked by compiling it), lists their own and those others share,
//! loads one, shares or unshares it, deletes it. Only the owner or a
//! Manager changes or deletes a search. Needs `dashboards`; every change is
//! audited.

use crate::access::Caller;
use crate::body::JsonBody;
use crate::data_params;
use crate::error::ApiError;
use crate::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use std::sync::Arc;
use utoipa::ToSchema;
use vigil_store::access::{Permission, MANAGER};
use vigil_store::saved_searches::{NewSavedSearch, SavedSearch};

/// A saved search to create.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SavedSearchForm {
    /// Unique among the caller's saved searches.
    pub name: String,
    /// The query, in the query language; it must compile.
    pub query: String,
    #[serde(default)]
    pub description: String,
    /// Whether every user sees it (default false).
    #[serde(default)]
    pub shared: bool,
}

/// A saved search as the API shows it.
#[derive(Debug, serde::Serialize, ToSchema)]
pub struct SavedSearchView {
    pub id: i64,
    pub name: String,
    pub owner: String,
    pub query: String,
    pub description: String,
    pub shared: bool,
    /// RFC 3339.
    pub created: String,
}

impl From<SavedSearch> for SavedSearchView {
    fn from(s: SavedSearch) -> Self {
        let SavedSearch { id, search } = s;
        SavedSearchView {
            id,
            name: search.name,
            owner: search.owner,
            query: search.query,
            description: search.description,
            shared: search.shared,
            created: search.created.to_rfc3339(),
        }
    }
}

/// The saved search `id` as `caller` may see it: their own or a shared one.
async fn visible(state: &AppState, caller: &Caller, id: &str) -> Result<SavedSearch, ApiError> {
    let missing = || ApiError::missing(format!("there is no saved search {id} that you can see"));
    let id = id.parse::<i64>().map_err(|_| {
        ApiError::invalid_field(
            "id",
            "a saved search id is a whole number, the `id` of a saved search",
        )
    })?;
    let search = state
        .store
        .saved_search(id)
        .await
        .map_err(ApiError::from_store)?
        .ok_or_else(missing)?;
    if search.search.owner != caller.username()
        && !search.search.shared
        && caller.role.name != MANAGER
    {
        return Err(missing());
    }
    Ok(search)
}

/// The saved search `id` if `caller` may change it (its owner or a Manager).
async fn owned(state: &AppState, caller: &Caller, id: &str) -> Result<SavedSearch, ApiError> {
    let search = visible(state, caller, id).await?;
    if search.search.owner != caller.username() && caller.role.name != MANAGER {
        return Err(ApiError::forbidden(format!(
            "saved search {} belongs to {}; only they or a Manager can change it",
            search.id, search.search.owner
        )));
    }
    Ok(search)
}

/// Saves a search.
#[utoipa::path(post, path = "/api/v1/saved-searches", tag = "saved searches",
    security(("bearer" = ["dashboards"])),
    request_body = SavedSearchForm,
    responses(
        (status = 201, description = "The saved search", body = SavedSearchView),
        (status = 400, description = "A field is invalid (a query that does not compile names `query`)", body = ApiError),
        (status = 401, description = "No valid token", body = ApiError),
        (status = 403, description = "The caller's role lacks dashboards", body = ApiError),
        (status = 409, description = "The caller has a saved search of that name", body = ApiError),
    ))]
pub async fn create(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    body: JsonBody<SavedSearchForm>,
) -> Result<(StatusCode, Json<SavedSearchView>), ApiError> {
    caller.require(Permission::Dashboards)?;
    let form = body.parse()?;
    if form.name.trim().is_empty() || form.name.chars().count() > 200 {
        return Err(ApiError::invalid_field(
            "name",
            "a name has 1 to 200 characters",
        ));
    }
    data_params::query(&form.query, "query")?;
    let search = NewSavedSearch {
        name: form.name,
        owner: caller.username().to_string(),
        query: form.query,
        description: form.description,
        shared: form.shared,
        created: chrono::Utc::now(),
    };
    let audit = caller.audit(
        "saved_search.create",
        &format!("saved_search:{}/{}", search.owner, search.name),
        serde_json::json!({"query": search.query, "shared": search.shared}),
    );
    let id = state
        .store
        .create_saved_search(&search, &audit)
        .await
        .map_err(ApiError::from_store)?;
    let saved = state
        .store
        .saved_search(id)
        .await
        .map_err(ApiError::from_store)?
        .ok_or_else(|| {
            ApiError::internal(format!("saved search {id} vanished after its creation"))
        })?;
    Ok((StatusCode::CREATED, Json(saved.into())))
}

/// The caller's saved searches and those shared by others, by name.
#[utoipa::path(get, path = "/api/v1/saved-searches", tag = "saved searches",
    security(("bearer" = ["dashboards"])),
    responses(
        (status = 200, description = "The saved searches", body = Vec<SavedSearchView>),
        (status = 401, description = "No valid token", body = ApiError),
        (status = 403, description = "The caller's role lacks dashboards", body = ApiError),
    ))]
pub async fn list(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> Result<Json<Vec<SavedSearchView>>, ApiError> {
    caller.require(Permission::Dashboards)?;
    let searches = state
        .store
        .saved_searches(caller.username())
        .await
        .map_err(ApiError::from_store)?;
    Ok(Json(searches.into_iter().map(Into::into).collect()))
}

/// One saved search (the caller's own or a shared one); run its `query`
/// with `GET /api/v1/evaluations?filter=…`.
#[utoipa::path(get, path = "/api/v1/saved-searches/{id}", tag = "saved searches",
    security(("bearer" = ["dashboards"])),
    params(("id" = i64, Path, description = "The saved search's id")),
    responses(
        (status = 200, description = "The saved search", body = SavedSearchView),
        (status = 400, description = "The id is not a number", body = ApiError),
        (status = 401, description = "No valid token", body = ApiError),
        (status = 403, description = "The caller's role lacks dashboards", body = ApiError),
        (status = 404, description = "No such saved search the caller can see", body = ApiError),
    ))]
pub async fn get(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<SavedSearchView>, ApiError> {
    caller.require(Permission::Dashboards)?;
    Ok(Json(visible(&state, &caller, &id).await?.into()))
}

/// Deletes a saved search (its owner or a Manager).
#[utoipa::path(delete, path = "/api/v1/saved-searches/{id}", tag = "saved searches",
    security(("bearer" = ["dashboards"])),
    params(("id" = i64, Path, description = "The saved search's id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "The id is not a number", body = ApiError),
        (status = 401, description = "No valid token", body = ApiError),
        (status = 403, description = "The caller's role lacks dashboards, or the search is someone else's", body = ApiError),
        (status = 404, description = "No such saved search the caller can see", body = ApiError),
    ))]
pub async fn delete(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    caller.require(Permission::Dashboards)?;
    let search = owned(&state, &caller, &id).await?;
    let audit = caller.audit(
        "saved_search.delete",
        &format!("saved_search:{}", search.id),
        serde_json::json!({"name": search.search.name, "owner": search.search.owner}),
    );
    state
        .store
        .delete_saved_search(search.id, &audit)
        .await
        .map_err(ApiError::from_store)?;
    Ok(StatusCode::NO_CONTENT)
}

async fn set_shared(
    state: &AppState,
    caller: &Caller,
    id: &str,
    shared: bool,
) -> Result<Json<SavedSearchView>, ApiError> {
    caller.require(Permission::Dashboards)?;
    let mut search = owned(state, caller, id).await?;
    let audit = caller.audit(
        if shared {
            "saved_search.share"
        } else {
            "saved_search.unshare"
        },
        &format!("saved_search:{}", search.id),
        serde_json::json!({"name": search.search.name, "owner": search.search.owner}),
    );
    state
        .store
        .share_saved_search(search.id, shared, &audit)
        .await
        .map_err(ApiError::from_store)?;
    search.search.shared = shared;
    Ok(Json(search.into()))
}

/// Shares a saved search with every user (its owner or a Manager).
#[utoipa::path(put, path = "/api/v1/saved-searches/{id}/share", tag = "saved searches",
    security(("bearer" = ["dashboards"])),
    params(("id" = i64, Path, description = "The saved search's id")),
    responses(
        (status = 200, description = "The saved search, shared", body = SavedSearchView),
        (status = 400, description = "The id is not a number", body = ApiError),
        (status = 401, description = "No valid token", body = ApiError),
        (status = 403, description = "The caller's role lacks dashboards, or the search is someone else's", body = ApiError),
        (status = 404, description = "No such saved search the caller can see", body = ApiError),
    ))]
pub async fn share(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<SavedSearchView>, ApiError> {
    set_shared(&state, &caller, &id, true).await
}

/// Stops sharing a saved search (its owner or a Manager).
#[utoipa::path(delete, path = "/api/v1/saved-searches/{id}/share", tag = "saved searches",
    security(("bearer" = ["dashboards"])),
    params(("id" = i64, Path, description = "The saved search's id")),
    responses(
        (status = 200, description = "The saved search, private again", body = SavedSearchView),
        (status = 400, description = "The id is not a number", body = ApiError),
        (status = 401, description = "No valid token", body = ApiError),
        (status = 403, description = "The caller's role lacks dashboards, or the search is someone else's", body = ApiError),
        (status = 404, description = "No such saved search the caller can see", body = ApiError),
    ))]
pub async fn unshare(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<SavedSearchView>, ApiError> {
    set_shared(&state, &caller, &id, false).await
}
