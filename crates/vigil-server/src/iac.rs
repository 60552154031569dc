//! IaC scans through the API (issue 5): upload a file or an archive and get
//! a scan id, read a scan's result, list the scans. This is the contract
//! `vigil iac scan|getresult|listscans -a URL` uses.
//!
//! Each operation has two paths sharing one handler body: Vigil's
//! `/api/v1/iac/scans…` and the paths of Qualys' IaC API that the `qiac`
//! client calls (`/cloudview-api/rest/v1/iac/scan`, `…/scanResult`,
//! `…/getScanList`), with Qualys' field names (`name`, `file`,
//! `policyName`, `tags`, `scanUuid`, `filter=scanUuid:<id>`).
//!
//! The scan runs while the upload request waits, on a blocking thread, with
//! the code of `vigil iac scan` ([`vigil_iac::report::scan`]); archives are
//! read in memory with the limits of [`vigil_iac::source`], and an archive
//! those refuse (an entry that could escape, a link, a decompression bomb)
//! is a 400 naming the entry. The result document is kept with the store's
//! IaC scans, as the CLI keeps its local scans.

use crate::access::Caller;
use crate::error::ApiError;
use crate::AppState;
use axum::body::Body;
use axum::extract::multipart::{Field, MultipartError};
use axum::extract::{DefaultBodyLimit, FromRequest, Multipart, Path, Query, Request, State};
use axum::http::{header, StatusCode};
use axum::routing::{get, post};
use axum::Json;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use utoipa::{IntoParams, ToSchema};
use vigil_iac::report::{self, Document, Meta};
use vigil_iac::source::{self, Gathered, Limits, SourceError};
use vigil_iac::terraform::TfInputs;
use vigil_store::access::Permission;
use vigil_store::IacScanRecord;

/// The largest upload accepted (the whole multipart request): 100 MiB.
pub const UPLOAD_LIMIT: usize = 100 << 20;

/// An upload declared larger than the limit but at most this large is read
/// and dropped before the 413 is sent, so that a client that writes its
/// whole body before reading the answer (most do) sees the 413 rather than
/// a broken connection. A larger one is answered at once.
const DRAIN_LIMIT: u64 = 4 * UPLOAD_LIMIT as u64;

/// The upload limit in words, for messages and documentation.
const UPLOAD_LIMIT_TEXT: &str = "100 MiB";

/// What an upload answers: the new scan's id, with its state.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScanLaunched {
    /// The scan's id; `GET /api/v1/iac/scans/{scanUuid}` returns its result.
    pub scan_uuid: String,
    pub name: String,
    /// `FINISHED`, or `FINISHED_WITH_ERRORS` when files could not be read.
    pub status: String,
    /// RFC 3339.
    pub created_on: String,
    /// The counts of the result (files, resources, passed, failed, …).
    #[schema(value_type = Object)]
    pub summary: serde_json::Value,
}

/// The multipart form of an upload. Only `name` and one `file` are required.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct UploadForm {
    /// A name for the scan.
    name: String,
    /// The file to scan (repeatable): a `.tf`, `.tfvars`, `.json`, `.yaml`,
    /// `.yml` or `.template` file, or an archive `.zip`, `.7z`, `.tar`,
    /// `.tar.gz`, `.tgz`, `.gz`. Its file name names it in the result
    /// (files of an archive as `<archive>!/<entry>`).
    #[schema(value_type = Vec<String>, format = Binary)]
    file: Vec<Vec<u8>>,
    /// Only files whose path matches this regular expression.
    filter: Option<String>,
    /// Evaluate only the controls of this policy.
    #[schema(rename = "policyName")]
    policy_name: Option<String>,
    /// The scan's tags, JSON: `[{"env":"linux"}, {"team":"infra"}]`.
    tags: Option<String>,
    /// A Terraform variable, `NAME=VALUE` (repeatable).
    var: Option<Vec<String>>,
    /// A Terraform variables file, `.tfvars` or `.tfvars.json` (repeatable).
    #[schema(rename = "varFile", value_type = Option<Vec<String>>, format = Binary)]
    var_file: Option<Vec<Vec<u8>>>,
    /// The paths the client scanned, for the result's `paths` (repeatable;
    /// default: the uploaded file names).
    path: Option<Vec<String>>,
    /// Problems the client met reading its paths, JSON
    /// `[{"path": "…", "message": "…"}]`; they become parsing errors of the
    /// result, as in a local scan.
    #[schema(rename = "sourceErrors")]
    source_errors: Option<String>,
}

/// One scan of a list.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScanItem {
    pub scan_uuid: String,
    pub name: String,
    /// RFC 3339.
    pub created_on: String,
    pub status: String,
    #[schema(value_type = Object)]
    pub summary: serde_json::Value,
}

/// A page of scans, newest first, in the shape of Qualys' `getScanList`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScanList {
    pub content: Vec<ScanItem>,
    /// The page (from 0).
    pub page_no: usize,
    pub page_size: usize,
    /// Scans matching the filter, on every page.
    pub total_elements: usize,
}

/// The query of a list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// The page, from 0 (default 0).
    page_no: Option<usize>,
    /// Scans per page, 1 to 1000 (default 50).
    page_size: Option<usize>,
    /// `scanUuid:<id>`: only that scan.
    filter: Option<String>,
}

/// The query of Qualys' `scanResult`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct ResultQuery {
    /// The scan's id.
    scan_uuid: Option<String>,
}

/// The routes of this module, merged into [`crate::router`].
pub fn router() -> axum::Router<Arc<AppState>> {
    let upload_limit = DefaultBodyLimit::max(UPLOAD_LIMIT);
    axum::Router::new()
        .route(
            "/api/v1/iac/scans",
            post(upload).layer(upload_limit).get(list),
        )
        .route("/api/v1/iac/scans/{scan_uuid}", get(result))
        .route(
            "/cloudview-api/rest/v1/iac/scan",
            post(upload_qualys).layer(upload_limit),
        )
        .route("/cloudview-api/rest/v1/iac/scanResult", get(result_qualys))
        .route("/cloudview-api/rest/v1/iac/getScanList", get(list_qualys))
}

/// Uploads files or an archive and scans them; answers when the scan is
/// done, with its id.
#[utoipa::path(post, path = "/api/v1/iac/scans", tag = "iac",
    security(("bearer" = ["iac_scan"])),
    request_body(content = UploadForm, content_type = "multipart/form-data"),
    responses(
        (status = 201, description = "The scan is done and kept", body = ScanLaunched),
        (status = 400, description = "A missing or bad field, a file that is not scanned, an archive refused (the entry and why)", body = ApiError),
        (status = 401, description = "No valid token", body = ApiError),
        (status = 403, description = "The role lacks `iac_scan`", body = ApiError),
        (status = 413, description = "The upload is larger than 100 MiB", body = ApiError),
    ))]
pub async fn upload(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    request: Request,
) -> Result<(StatusCode, Json<ScanLaunched>), ApiError> {
    let launched = launch(&state, &caller, request).await?;
    Ok((StatusCode::CREATED, Json(launched)))
}

/// Qualys' path of the upload (`qiac` expects 200).
#[utoipa::path(post, path = "/cloudview-api/rest/v1/iac/scan", tag = "iac",
    security(("bearer" = ["iac_scan"])),
    request_body(content = UploadForm, content_type = "multipart/form-data"),
    responses(
        (status = 200, description = "The scan is done and kept", body = ScanLaunched),
        (status = 400, description = "A missing or bad field, a file that is not scanned, an archive refused (the entry and why)", body = ApiError),
        (status = 401, description = "No valid token", body = ApiError),
        (status = 403, description = "The role lacks `iac_scan`", body = ApiError),
        (status = 413, description = "The upload is larger than 100 MiB", body = ApiError),
    ))]
pub async fn upload_qualys(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    request: Request,
) -> Result<Json<ScanLaunched>, ApiError> {
    Ok(Json(launch(&state, &caller, request).await?))
}

/// The result of a scan: the scan response document `vigil iac getresult`
/// prints.
#[utoipa::path(get, path = "/api/v1/iac/scans/{scanUuid}", tag = "iac",
    security(("bearer" = ["view_data"])),
    params(("scanUuid" = String, Path, description = "The scan's id")),
    responses(
        (status = 200, description = "The scan response document", content_type = "application/json"),
        (status = 401, description = "No valid token", body = ApiError),
        (status = 403, description = "The role lacks `view_data`", body = ApiError),
        (status = 404, description = "No such scan", body = ApiError),
    ))]
pub async fn result(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(scan_uuid): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    caller.require(Permission::ViewData)?;
    document(&state, &scan_uuid).await.map(Json)
}

/// Qualys' path of a scan's result: `?scanUuid=<id>`.
#[utoipa::path(get, path = "/cloudview-api/rest/v1/iac/scanResult", tag = "iac",
    security(("bearer" = ["view_data"])),
    params(ResultQuery),
    responses(
        (status = 200, description = "The scan response document", content_type = "application/json"),
        (status = 400, description = "No `scanUuid`", body = ApiError),
        (status = 401, description = "No valid token", body = ApiError),
        (status = 403, description = "The role lacks `view_data`", body = ApiError),
        (status = 404, description = "No such scan", body = ApiError),
    ))]
pub async fn result_qualys(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    query: Result<Query<ResultQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    caller.require(Permission::ViewData)?;
    let Query(q) = query.map_err(bad_query)?;
    let id = q
        .scan_uuid
        .filter(|id| !id.trim().is_empty())
        .ok_or_else(|| ApiError::invalid_field("scanUuid", "give the scan's id: ?scanUuid=<id>"))?;
    document(&state, &id).await.map(Json)
}

/// The scans, newest first, a page at a time.
#[utoipa::path(get, path = "/api/v1/iac/scans", tag = "iac",
    security(("bearer" = ["view_data"])),
    params(ListQuery),
    responses(
        (status = 200, description = "A page of scans", body = ScanList),
        (status = 400, description = "A bad page or filter", body = ApiError),
        (status = 401, description = "No valid token", body = ApiError),
        (status = 403, description = "The role lacks `view_data`", body = ApiError),
    ))]
pub async fn list(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<ScanList>, ApiError> {
    caller.require(Permission::ViewData)?;
    let Query(q) = query.map_err(bad_query)?;
    let page_size = q.page_size.unwrap_or(50);
    if !(1..=1000).contains(&page_size) {
        return Err(ApiError::invalid_field(
            "pageSize",
            "pageSize must be 1 to 1000",
        ));
    }
    let page_no = q.page_no.unwrap_or(0);
    let only = match q.filter.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(f) => match f.strip_prefix("scanUuid:") {
            Some(id) => Some(id.trim().to_string()),
            None => {
                return Err(ApiError::invalid_field(
                    "filter",
                    format!("filter {f:?} is not supported; use filter=scanUuid:<id>"),
                ))
            }
        },
    };
    let scans = state
        .store
        .iac_scans()
        .await
        .map_err(ApiError::from_store)?;
    let matching: Vec<IacScanRecord> = scans
        .into_iter()
        .filter(|s| only.as_ref().is_none_or(|id| &s.scan_id == id))
        .collect();
    let total_elements = matching.len();
    let content = matching
        .into_iter()
        .skip(page_no.saturating_mul(page_size))
        .take(page_size)
        .map(|s| ScanItem {
            scan_uuid: s.scan_id,
            name: s.name,
            created_on: s.created.to_rfc3339(),
            status: s.status,
            summary: s.summary,
        })
        .collect();
    Ok(Json(ScanList {
        content,
        page_no,
        page_size,
        total_elements,
    }))
}

/// Qualys' path of the list.
#[utoipa::path(get, path = "/cloudview-api/rest/v1/iac/getScanList", tag = "iac",
    security(("bearer" = ["view_data"])),
    params(ListQuery),
    responses(
        (status = 200, description = "A page of scans", body = ScanList),
        (status = 400, description = "A bad page or filter", body = ApiError),
        (status = 401, description = "No valid token", body = ApiError),
        (status = 403, description = "The role lacks `view_data`", body = ApiError),
    ))]
pub async fn list_qualys(
    state: State<Arc<AppState>>,
    caller: Caller,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<ScanList>, ApiError> {
    list(state, caller, query).await
}

fn bad_query(e: axum::extract::rejection::QueryRejection) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "invalid_query", e.body_text())
}

/// The kept document of a scan, or 404.
async fn document(state: &AppState, scan_uuid: &str) -> Result<serde_json::Value, ApiError> {
    let record = state
        .store
        .iac_scan(scan_uuid)
        .await
        .map_err(ApiError::from_store)?;
    record.and_then(|r| r.document).ok_or_else(|| {
        ApiError::missing(format!(
            "there is no IaC scan {scan_uuid:?}; GET /api/v1/iac/scans lists the scans"
        ))
    })
}

/// A file part of the form: its name and bytes.
struct Upload {
    name: String,
    bytes: Vec<u8>,
}

/// What the form holds, checked.
#[derive(Default)]
struct Form {
    name: Option<String>,
    files: Vec<Upload>,
    filter: Option<regex::Regex>,
    policy: Option<String>,
    tags: Option<serde_json::Value>,
    vars: Vec<String>,
    var_files: Vec<(String, String)>,
    paths: Vec<String>,
    source_errors: Vec<SourceError>,
}

/// The client's gathering problems, as sent in `sourceErrors`.
#[derive(Deserialize)]
struct SentError {
    path: String,
    message: String,
}

fn too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        format!(
            "the upload is larger than the limit of {UPLOAD_LIMIT_TEXT}; \
             scan fewer files (e.g. with a filter), or split the scan"
        ),
    )
}

/// Reads and drops a body, up to [`DRAIN_LIMIT`] bytes.
async fn drain(body: Body) {
    use http_body::Body as _;
    let mut body = std::pin::pin!(body);
    let mut read = 0u64;
    while let Some(Ok(frame)) = std::future::poll_fn(|cx| body.as_mut().poll_frame(cx)).await {
        read += frame.data_ref().map_or(0, |d| d.len() as u64);
        if read > DRAIN_LIMIT {
            break;
        }
    }
}

/// The answer to a multipart error: 413 past the limit, else 400.
fn form_error(e: MultipartError) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return too_large();
    }
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "invalid_form",
        format!(
            "the multipart form cannot be read: {}; send multipart/form-data with `name` and `file`",
            e.body_text()
        ),
    )
}

/// A text field's value.
async fn text(field: Field<'_>, name: &str) -> Result<String, ApiError> {
    let bytes = field.bytes().await.map_err(form_error)?;
    String::from_utf8(bytes.to_vec())
        .map_err(|_| ApiError::invalid_field(name, format!("`{name}` is not UTF-8 text")))
}

/// Reads and checks the form.
async fn read_form(mut form: Multipart) -> Result<Form, ApiError> {
    let mut out = Form::default();
    while let Some(field) = form.next_field().await.map_err(form_error)? {
        let name = field.name().unwrap_or_default().to_string();
        match name.as_str() {
            "file" | "varFile" => {
                let file_name = field
                    .file_name()
                    .map(str::to_string)
                    .filter(|n| !n.trim().is_empty())
                    .ok_or_else(|| {
                        ApiError::invalid_field(
                            &name,
                            format!("the `{name}` part has no file name; send it as a file (curl -F {name}=@main.tf)"),
                        )
                    })?;
                let bytes = field.bytes().await.map_err(form_error)?.to_vec();
                if name == "file" {
                    out.files.push(Upload {
                        name: file_name,
                        bytes,
                    });
                } else {
                    let text = String::from_utf8(bytes).map_err(|_| {
                        ApiError::invalid_field(
                            "varFile",
                            format!("{file_name}: not UTF-8 text; save it as UTF-8"),
                        )
                    })?;
                    out.var_files.push((file_name, text));
                }
            }
            "name" => out.name = Some(text(field, "name").await?),
            "filter" => {
                let f = text(field, "filter").await?;
                let re = regex::Regex::new(&f).map_err(|e| {
                    ApiError::invalid_field(
                        "filter",
                        format!("filter {f:?} is not a valid regular expression: {e}"),
                    )
                })?;
                out.filter = Some(re);
            }
            "policyName" => {
                let p = text(field, "policyName").await?;
                out.policy = Some(p.trim().to_string()).filter(|p| !p.is_empty());
            }
            "tags" => {
                let t = text(field, "tags").await?;
                let tags = report::parse_tags(&t).map_err(|why| {
                    ApiError::invalid_field(
                        "tags",
                        format!("tags: {why}; give JSON such as [{{\"env\":\"linux\"}}]"),
                    )
                })?;
                out.tags = Some(tags);
            }
            "var" => {
                let v = text(field, "var").await?;
                if !v.contains('=') {
                    return Err(ApiError::invalid_field(
                        "var",
                        format!("var {v:?}: expected NAME=VALUE, e.g. region=eu-west-1"),
                    ));
                }
                out.vars.push(v);
            }
            "path" => out.paths.push(text(field, "path").await?),
            "sourceErrors" => {
                let t = text(field, "sourceErrors").await?;
                let sent: Vec<SentError> = serde_json::from_str(&t).map_err(|e| {
                    ApiError::invalid_field(
                        "sourceErrors",
                        format!(
                            "sourceErrors is not a JSON array of {{\"path\", \"message\"}}: {e}"
                        ),
                    )
                })?;
                out.source_errors
                    .extend(sent.into_iter().map(|e| SourceError {
                        path: e.path,
                        message: e.message,
                    }));
            }
            // Sent by Qualys' qiac; the kept result is always complete.
            "showOnlyFailedControls" | "gitrepo" | "branch" | "source" => {
                text(field, &name).await?;
            }
            other => {
                return Err(ApiError::invalid_field(
                    other,
                    format!(
                        "unknown form field `{other}`; the fields are name, file, filter, \
                         policyName, tags, var, varFile, path, sourceErrors"
                    ),
                ))
            }
        }
    }
    Ok(out)
}

/// Reads the uploads, refusing what is not scanned and refused archives.
fn gather(form: &Form) -> Result<Gathered, ApiError> {
    let limits = Limits::default();
    let mut gathered = Gathered::default();
    for f in &form.files {
        if !source::is_scannable(&f.name) && !source::is_archive(&f.name) {
            return Err(ApiError::invalid_field(
                "file",
                format!(
                    "{:?} is not a file Vigil scans: upload .tf, .tfvars, .json, .yaml, .yml or \
                     .template files, or an archive (.zip, .7z, .tar, .tar.gz, .tgz, .gz)",
                    f.name
                ),
            ));
        }
        source::gather_bytes(
            &f.name,
            &f.bytes,
            form.filter.as_ref(),
            &limits,
            &mut gathered,
        );
        if let Some(refused) = gathered.errors.iter().find(|e| e.is_refusal()) {
            return Err(ApiError::invalid_field("file", refused.to_string()));
        }
    }
    gathered.errors.extend(form.source_errors.iter().cloned());
    Ok(gathered)
}

/// Reads the form, runs the scan and keeps it.
async fn launch(
    state: &AppState,
    caller: &Caller,
    request: Request,
) -> Result<ScanLaunched, ApiError> {
    caller.require(Permission::IacScan)?;
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if let Some(n) = declared.filter(|n| *n > UPLOAD_LIMIT as u64) {
        if n <= DRAIN_LIMIT {
            drain(request.into_body()).await;
        }
        return Err(too_large());
    }
    let form = Multipart::from_request(request, &()).await.map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_form",
            format!(
                "{}; send multipart/form-data with `name` and `file`",
                e.body_text()
            ),
        )
    })?;
    let form = read_form(form).await?;
    let name = form
        .name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_string)
        .ok_or_else(|| ApiError::missing_field("name"))?;
    if form.files.is_empty() {
        return Err(ApiError::missing_field("file"));
    }
    // The effective catalogue: built-in plus user-defined controls,
    // criticality overrides and custom policies, as runs use.
    let catalog = crate::controls::effective_controls(state.store.as_ref())
        .await?
        .catalog;
    if let Some(p) = &form.policy {
        if !catalog.policies.iter().any(|x| &x.name == p) {
            return Err(ApiError::invalid_field(
                "policyName",
                format!("there is no policy {p:?}; GET the policies to see their names"),
            ));
        }
    }
    let meta = Meta {
        name,
        paths: if form.paths.is_empty() {
            form.files.iter().map(|f| f.name.clone()).collect()
        } else {
            form.paths.clone()
        },
        policy: form.policy.clone(),
        tags: form
            .tags
            .clone()
            .unwrap_or(serde_json::Value::Array(Vec::new())),
    };
    let now = chrono::Utc::now();
    let scanned = tokio::task::spawn_blocking(move || -> Result<Document, ApiError> {
        let gathered = gather(&form)?;
        let inputs = TfInputs {
            vars: form.vars,
            var_files: form.var_files,
            ..Default::default()
        };
        report::scan(gathered, &inputs, &catalog, meta, now)
            .map_err(|e| ApiError::invalid_field("policyName", e))
    })
    .await
    .map_err(|e| ApiError::internal(format!("the IaC scan stopped: {e}")))??;
    let summary = serde_json::to_value(&scanned.summary).map_err(ApiError::internal)?;
    let record = IacScanRecord {
        scan_id: scanned.scan_uuid.clone(),
        name: scanned.name.clone(),
        created: now,
        status: scanned.status.clone(),
        summary: summary.clone(),
        document: Some(serde_json::to_value(&scanned).map_err(ApiError::internal)?),
    };
    state
        .store
        .save_iac_scan(
            &record,
            Some(&caller.audit(
                "iac.scan",
                &record.scan_id,
                serde_json::json!({"name": record.name, "status": record.status, "summary": summary}),
            )),
        )
        .await
        .map_err(ApiError::from_store)?;
    Ok(ScanLaunched {
        scan_uuid: record.scan_id,
        name: record.name,
        status: record.status,
        created_on: scanned.created_on,
        summary,
    })
}
