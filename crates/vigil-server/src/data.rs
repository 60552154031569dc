//! The data APIs (issue 5, "Data APIs"; seed 001's Monitor and Resources
//! views): resources, a resource's details, controls with their pass/fail
//! counts, policies, evaluations with their evidence, and the Monitor
//! counts, overall or per account.
//!
//! Lists take `filter=` in the query language, `sort=`, and are read in
//! keyset pages (`cursor=` is the `next` of the previous page). Everything
//! needs `view_data`, and a user with tags sees only the resources (and
//! their evaluations and counts) of the connectors carrying their tags.

use crate::access::{connectors, visible_sources, Caller};
use crate::data_params::{self, DataParams};
use crate::error::ApiError;
use crate::AppState;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Serialize;
use std::sync::Arc;
use utoipa::ToSchema;
use vigil_store::access::Permission;
use vigil_store::data::{
    AccountCounts, ControlCounts, DataFilter, DateField, EvaluationItem, EvaluationSort,
    PageRequest, ResourceRecord, ResourceSort,
};
use vigil_store::qualys::{InstanceVulnerability, VulnerabilityCounts};
use vigil_store::{ControlRecord, MonitorCounts, PolicyRecord};

/// A page of a list.
#[derive(Debug, Serialize)]
pub struct DataPage<T: Serialize> {
    pub items: Vec<T>,
    /// The cursor of the next page; absent on the last.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

/// A page of a list, as documented.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = DataPage)]
pub struct PageDoc {
    /// The rows (resources or evaluations).
    pub items: Vec<serde_json::Value>,
    /// The cursor of the next page; absent on the last.
    pub next: Option<String>,
}

/// A resource with everything known of it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ResourceDetails {
    /// The resource with its tags, attributes and associations.
    #[schema(value_type = Object)]
    pub resource: ResourceRecord,
    /// Every control evaluated on it, with result and evidence.
    #[schema(value_type = Vec<Object>)]
    pub evaluations: Vec<EvaluationItem>,
    /// An EC2 instance's Qualys detections (seed 001 "Vulnerability Details
    /// for Instances") from the Qualys connectors the caller sees, most
    /// severe first: QID, title, category, CVEs, CVSS, solution,
    /// patchable, severity, `typeDetected`, status, port, protocol, SSL,
    /// first and last found, times found, results, the connector and its
    /// account name. Absent for other resources.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<Object>>)]
    pub vulnerabilities: Option<Vec<InstanceVulnerability>>,
    /// The open (not Fixed) vulnerabilities counted: `total`, `Confirmed`,
    /// `Potential`, `Info`, and `by_severity` (`"1"` to `"5"`). Absent for
    /// resources other than EC2 instances.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub vulnerability_counts: Option<VulnerabilityCounts>,
}

/// The EC2 instance id of an `aws.ec2.instance` resource: its
/// `instance_id` attribute, else the end of its ARN.
fn instance_id(resource: &ResourceRecord) -> Option<String> {
    if resource.resource_type != "aws.ec2.instance" {
        return None;
    }
    resource
        .attributes
        .as_ref()
        .and_then(|a| a.get("instance_id"))
        .and_then(|v| v.as_str())
        .map(str::to_string)
        .or_else(|| {
            resource
                .native_id
                .rsplit_once("instance/")
                .map(|(_, id)| id.to_string())
        })
        .filter(|id| !id.is_empty())
}

/// The connector ids whose Qualys data the caller sees (`None`: all).
async fn visible_connectors(
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
            .map(|c| c.id)
            .collect(),
    ))
}

/// A control with its counts and the policies that include it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ControlDetails {
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub control: ControlCounts,
    pub policies: Vec<String>,
}

/// A policy with its controls.
#[derive(Debug, Serialize, ToSchema)]
pub struct PolicyDetails {
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub policy: PolicyRecord,
    #[schema(value_type = Vec<Object>)]
    pub controls: Vec<ControlRecord>,
}

/// The Monitor counts, overall (the `MonitorCounts` fields) or, with
/// `group_by=account`, `{"accounts": [{"account": …, <counts>}, …]}`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum Counts {
    #[schema(value_type = Object)]
    All(MonitorCounts),
    Accounts {
        #[schema(value_type = Vec<Object>)]
        accounts: Vec<AccountCounts>,
    },
}

/// The query string, or a 400 when it cannot be read at all.
pub(crate) fn params(
    query: Result<Query<DataParams>, QueryRejection>,
) -> Result<DataParams, ApiError> {
    query
        .map(|Query(p)| p)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_query", e.body_text()))
}

/// The filter of a request by `caller`, restricted to what they may see.
pub(crate) async fn visible_filter(
    state: &AppState,
    caller: &Caller,
    p: &DataParams,
    default_date_field: DateField,
) -> Result<DataFilter, ApiError> {
    let mut filter = data_params::filter(p, default_date_field)?;
    filter.sources = visible_sources(state, caller).await?;
    Ok(filter)
}

/// Reads `view_data`, the query string and the visible filter.
async fn viewing(
    state: &AppState,
    caller: &Caller,
    query: Result<Query<DataParams>, QueryRejection>,
    default_date_field: DateField,
) -> Result<(DataParams, DataFilter), ApiError> {
    caller.require(Permission::ViewData)?;
    let p = params(query)?;
    let filter = visible_filter(state, caller, &p, default_date_field).await?;
    Ok((p, filter))
}

/// A page of `limit + 1` rows cut to `limit`, with the cursor after its last.
fn paged<T: Serialize, S: vigil_store::data::SortKey>(
    mut items: Vec<T>,
    page: &PageRequest<S>,
    key: impl Fn(&T) -> vigil_store::data::Key,
) -> DataPage<T> {
    let limit = page.limit as usize;
    let next = if items.len() > limit {
        items.truncate(limit);
        items
            .last()
            .map(|last| data_params::cursor(page, key(last)))
    } else {
        None
    };
    DataPage { items, next }
}

/// The same page asking for one row more, to know whether another follows.
fn one_more<S: Copy>(page: &PageRequest<S>) -> PageRequest<S> {
    PageRequest {
        limit: page.limit + 1,
        ..page.clone()
    }
}

/// Resources (seed 001, "Resources"), in keyset pages. Sort fields: `id`
/// (default, discovery order), `name`, `type`, `first_discovered`,
/// `last_updated`. A filter on evaluations or controls keeps the resources
/// with at least one matching evaluation. Date fields default to
/// `first_discovered`.
#[utoipa::path(get, path = "/api/v1/resources", tag = "data",
    security(("bearer" = ["view_data"])),
    params(DataParams),
    responses(
        (status = 200, description = "A page of resources", body = PageDoc),
        (status = 400, description = "A bad filter, sort, cursor, limit or date (the field is named)", body = ApiError),
        (status = 401, description = "No valid token", body = ApiError),
        (status = 403, description = "The caller's role lacks view_data", body = ApiError),
    ))]
pub async fn resources(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    query: Result<Query<DataParams>, QueryRejection>,
) -> Result<Json<DataPage<ResourceRecord>>, ApiError> {
    let (p, filter) = viewing(&state, &caller, query, DateField::FirstDiscovered).await?;
    let page = data_params::page(&p, &ResourceSort::ALL)?;
    let rows = state
        .store
        .resource_page(&filter, &one_more(&page))
        .await
        .map_err(ApiError::from_store)?;
    Ok(Json(paged(rows, &page, |r| page.sort.key_of(r))))
}

fn resource_id(id: &str) -> Result<i64, ApiError> {
    id.parse::<i64>().map_err(|_| {
        ApiError::invalid_field(
            "id",
            "a resource id is a whole number, the `id` of a resource",
        )
    })
}

/// One resource: attributes, tags, associations, and every control evaluated
/// on it with result and evidence; for an EC2 instance, its Qualys
/// vulnerabilities (from the Qualys connectors the caller sees) and their
/// counts by type and severity.
#[utoipa::path(get, path = "/api/v1/resources/{id}", tag = "data",
    security(("bearer" = ["view_data"])),
    params(("id" = i64, Path, description = "The resource's `id`")),
    responses(
        (status = 200, description = "The resource", body = ResourceDetails),
        (status = 400, description = "The id is not a number", body = ApiError),
        (status = 401, description = "No valid token", body = ApiError),
        (status = 403, description = "The caller's role lacks view_data, or the resource is of a connector without the caller's tags", body = ApiError),
        (status = 404, description = "No such present resource", body = ApiError),
    ))]
pub async fn resource(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<ResourceDetails>, ApiError> {
    caller.require(Permission::ViewData)?;
    let id = resource_id(&id)?;
    let resource = state
        .store
        .resource_detail(id, &None)
        .await
        .map_err(ApiError::from_store)?
        .ok_or_else(|| ApiError::missing(format!("there is no resource {id}")))?;
    if let Some(sources) = visible_sources(&state, &caller).await? {
        if !sources.contains(&resource.source) {
            return Err(ApiError::forbidden(format!(
                "resource {id} belongs to a connector without any of your tags; ask a Manager for access"
            )));
        }
    }
    let mut filter = DataFilter::new(vigil_query::Query::all());
    filter.resource = Some(id);
    let mut page = PageRequest {
        sort: EvaluationSort::Cid,
        descending: false,
        after: None,
        limit: 1000,
    };
    let mut evaluations = Vec::new();
    loop {
        let rows = state
            .store
            .evaluation_page(&filter, &page)
            .await
            .map_err(ApiError::from_store)?;
        let full = rows.len() == page.limit as usize;
        page.after = rows.last().map(|r| page.sort.key_of(r));
        evaluations.extend(rows);
        if !full {
            break;
        }
    }
    let (vulnerabilities, vulnerability_counts) = match instance_id(&resource) {
        Some(instance) => {
            let only = visible_connectors(&state, &caller).await?;
            let vulns = state
                .store
                .instance_vulnerabilities(&instance, &only)
                .await
                .map_err(ApiError::from_store)?;
            let counts = VulnerabilityCounts::of(&vulns);
            (Some(vulns), Some(counts))
        }
        None => (None, None),
    };
    Ok(Json(ResourceDetails {
        resource,
        evaluations,
        vulnerabilities,
        vulnerability_counts,
    }))
}

/// Every control with the results of its evaluations (`pass`, `passe`,
/// `fail`, `skip`), counted over the evaluations that `filter` (and the
/// date window, on `last_evaluated` by default) matches.
#[utoipa::path(get, path = "/api/v1/controls", tag = "data",
    security(("bearer" = ["view_data"])),
    params(DataParams),
    responses(
        (status = 200, description = "The controls, by CID", body = Vec<Object>),
        (status = 400, description = "A bad filter or date (the field is named)", body = ApiError),
        (status = 401, description = "No valid token", body = ApiError),
        (status = 403, description = "The caller's role lacks view_data", body = ApiError),
    ))]
pub async fn controls(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    query: Result<Query<DataParams>, QueryRejection>,
) -> Result<Json<Vec<ControlCounts>>, ApiError> {
    let (_, filter) = viewing(&state, &caller, query, DateField::LastEvaluated).await?;
    Ok(Json(
        state
            .store
            .control_counts(&filter)
            .await
            .map_err(ApiError::from_store)?,
    ))
}

fn control_id(cid: &str) -> Result<u32, ApiError> {
    cid.parse::<u32>()
        .map_err(|_| ApiError::invalid_field("cid", "a control id (CID) is a whole number"))
}

/// One control with its counts and the policies that include it.
#[utoipa::path(get, path = "/api/v1/controls/{cid}", tag = "data",
    security(("bearer" = ["view_data"])),
    params(("cid" = u32, Path, description = "The control id")),
    responses(
        (status = 200, description = "The control", body = ControlDetails),
        (status = 400, description = "The CID is not a number", body = ApiError),
        (status = 401, description = "No valid token", body = ApiError),
        (status = 403, description = "The caller's role lacks view_data", body = ApiError),
        (status = 404, description = "No such control", body = ApiError),
    ))]
pub async fn control(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(cid): Path<String>,
) -> Result<Json<ControlDetails>, ApiError> {
    caller.require(Permission::ViewData)?;
    let cid = control_id(&cid)?;
    let mut filter = DataFilter::new(data_params::query(&format!("cid:{cid}"), "cid")?);
    filter.sources = visible_sources(&state, &caller).await?;
    let control = state
        .store
        .control_counts(&filter)
        .await
        .map_err(ApiError::from_store)?
        .into_iter()
        .find(|c| c.control.cid == cid)
        .ok_or_else(|| ApiError::missing(format!("there is no control {cid}")))?;
    let policies = state
        .store
        .policies()
        .await
        .map_err(ApiError::from_store)?
        .into_iter()
        .filter(|p| p.cids.contains(&cid))
        .map(|p| p.name)
        .collect();
    Ok(Json(ControlDetails { control, policies }))
}

/// Every policy with the CIDs of its controls, by name.
#[utoipa::path(get, path = "/api/v1/policies", tag = "data",
    security(("bearer" = ["view_data"])),
    responses(
        (status = 200, description = "The policies", body = Vec<Object>),
        (status = 401, description = "No valid token", body = ApiError),
        (status = 403, description = "The caller's role lacks view_data", body = ApiError),
    ))]
pub async fn policies(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> Result<Json<Vec<PolicyRecord>>, ApiError> {
    caller.require(Permission::ViewData)?;
    Ok(Json(
        state.store.policies().await.map_err(ApiError::from_store)?,
    ))
}

/// One policy with its controls.
#[utoipa::path(get, path = "/api/v1/policies/{name}", tag = "data",
    security(("bearer" = ["view_data"])),
    params(("name" = String, Path, description = "The policy's name")),
    responses(
        (status = 200, description = "The policy", body = PolicyDetails),
        (status = 401, description = "No valid token", body = ApiError),
        (status = 403, description = "The caller's role lacks view_data", body = ApiError),
        (status = 404, description = "No such policy", body = ApiError),
    ))]
pub async fn policy(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Json<PolicyDetails>, ApiError> {
    caller.require(Permission::ViewData)?;
    let policy = state
        .store
        .policies()
        .await
        .map_err(ApiError::from_store)?
        .into_iter()
        .find(|p| p.name == name)
        .ok_or_else(|| ApiError::missing(format!("there is no policy {name}")))?;
    let controls = state
        .store
        .controls()
        .await
        .map_err(ApiError::from_store)?
        .into_iter()
        .filter(|c| policy.cids.contains(&c.cid))
        .collect();
    Ok(Json(PolicyDetails { policy, controls }))
}

/// Evaluations with their evidence (expected, actual, message), in keyset
/// pages. Sort fields: `cid` (default), `criticality` (most critical
/// first), `result`, `first_evaluated`, `last_evaluated`, `resource`. Date
/// fields default to `last_evaluated`.
#[utoipa::path(get, path = "/api/v1/evaluations", tag = "data",
    security(("bearer" = ["view_data"])),
    params(DataParams),
    responses(
        (status = 200, description = "A page of evaluations", body = PageDoc),
        (status = 400, description = "A bad filter, sort, cursor, limit or date (the field is named)", body = ApiError),
        (status = 401, description = "No valid token", body = ApiError),
        (status = 403, description = "The caller's role lacks view_data", body = ApiError),
    ))]
pub async fn evaluations(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    query: Result<Query<DataParams>, QueryRejection>,
) -> Result<Json<DataPage<EvaluationItem>>, ApiError> {
    let (p, filter) = viewing(&state, &caller, query, DateField::LastEvaluated).await?;
    let page = data_params::page(&p, &EvaluationSort::ALL)?;
    let rows = state
        .store
        .evaluation_page(&filter, &one_more(&page))
        .await
        .map_err(ApiError::from_store)?;
    Ok(Json(paged(rows, &page, |r| page.sort.key_of(r))))
}

/// The Monitor counts of the matching evaluations (seed 001, "Controls
/// Evaluation View"): controls evaluated, evaluations, pass (with PASSE),
/// fail, skip, failures by criticality, remediable failures; per account
/// with `group_by=account`.
#[utoipa::path(get, path = "/api/v1/evaluations/counts", tag = "data",
    security(("bearer" = ["view_data"])),
    params(DataParams),
    responses(
        (status = 200, description = "The counts", body = Counts),
        (status = 400, description = "A bad filter, date or group_by (the field is named)", body = ApiError),
        (status = 401, description = "No valid token", body = ApiError),
        (status = 403, description = "The caller's role lacks view_data", body = ApiError),
    ))]
pub async fn counts(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    query: Result<Query<DataParams>, QueryRejection>,
) -> Result<Json<Counts>, ApiError> {
    let (p, filter) = viewing(&state, &caller, query, DateField::LastEvaluated).await?;
    let counts = match p.group_by.as_deref() {
        None | Some("") => Counts::All(
            state
                .store
                .monitor_counts(&filter)
                .await
                .map_err(ApiError::from_store)?,
        ),
        Some("account") => Counts::Accounts {
            accounts: state
                .store
                .account_counts(&filter)
                .await
                .map_err(ApiError::from_store)?,
        },
        Some(other) => {
            return Err(ApiError::invalid_field(
                "group_by",
                format!("cannot group by `{other}`; use group_by=account"),
            ))
        }
    };
    Ok(Json(counts))
}
