//! Datalist downloads (seed 001, "Download datalist"): resources, controls,
//! evaluations and connectors as CSV, with no record cap (CloudView stops
//! at 10,000). Rows are read in keyset pages of [`PAGE`] and written as
//! they come, so memory stays flat whatever the size; times are written in
//! RFC 3339 in the asked time zone (`tz=`, default UTC).
//!
//! Needs `reports_view`; a user with tags gets only the rows of the
//! connectors carrying their tags.

use crate::access::{connectors, Caller};
use crate::data::{params, visible_filter};
use crate::data_params::{self, DataParams};
use crate::error::ApiError;
use crate::AppState;
use axum::body::{Body, Bytes};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono_tz::Tz;
use std::sync::Arc;
use vigil_model::Timestamp;
use vigil_store::access::Permission;
use vigil_store::data::{
    DataFilter, DateField, EvaluationItem, EvaluationSort, Key, PageRequest, ResourceRecord,
    ResourceSort,
};
use vigil_store::{Store, StoreError};

/// Rows read per page.
const PAGE: u32 = 5_000;

const EVALUATION_HEADER: &[&str] = &[
    "cid",
    "control",
    "criticality",
    "result",
    "resource",
    "resource_id",
    "resource_name",
    "resource_type",
    "provider",
    "account",
    "region",
    "expected",
    "actual",
    "message",
    "first_evaluated",
    "last_evaluated",
    "last_reopened",
    "last_fixed",
];

const RESOURCE_HEADER: &[&str] = &[
    "id",
    "source",
    "provider",
    "account",
    "region",
    "service",
    "type",
    "native_id",
    "name",
    "tags",
    "first_discovered",
    "last_updated",
];

const CONTROL_HEADER: &[&str] = &[
    "cid",
    "title",
    "service",
    "resource_type",
    "provider",
    "criticality",
    "execution_type",
    "remediable",
    "pass",
    "passe",
    "fail",
    "skip",
];

const CONNECTOR_HEADER: &[&str] = &["id", "name", "tags"];

/// Appends one CSV record (RFC 4180: fields with a comma, quote or line
/// break are quoted, quotes doubled; lines end with CRLF).
fn record<S: AsRef<str>>(out: &mut String, fields: &[S]) {
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let f = f.as_ref();
        if f.contains([',', '"', '\n', '\r']) {
            out.push('"');
            out.push_str(&f.replace('"', "\"\""));
            out.push('"');
        } else {
            out.push_str(f);
        }
    }
    out.push_str("\r\n");
}

fn time(t: Timestamp, tz: Tz) -> String {
    t.with_timezone(&tz)
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn optional_time(t: Option<Timestamp>, tz: Tz) -> String {
    t.map(|t| time(t, tz)).unwrap_or_default()
}

fn evaluation_record(out: &mut String, e: &EvaluationItem, tz: Tz) {
    let r = &e.row;
    record(
        out,
        &[
            r.cid.to_string(),
            r.control.clone(),
            r.criticality.as_str().to_string(),
            r.result.as_str().to_string(),
            e.resource.to_string(),
            r.resource_id.clone(),
            r.resource_name.clone(),
            r.resource_type.clone(),
            r.provider.as_str().to_string(),
            r.account.clone(),
            r.region.clone(),
            r.expected.clone(),
            r.actual.clone(),
            r.message.clone(),
            time(r.first_evaluated, tz),
            time(r.last_evaluated, tz),
            optional_time(r.last_reopened, tz),
            optional_time(r.last_fixed, tz),
        ],
    );
}

fn resource_record(out: &mut String, r: &ResourceRecord, tz: Tz) {
    let tags: Vec<String> = r.tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
    record(
        out,
        &[
            r.id.to_string(),
            r.source.clone(),
            r.provider.as_str().to_string(),
            r.account.clone(),
            r.region.clone(),
            r.service.clone(),
            r.resource_type.clone(),
            r.native_id.clone(),
            r.name.clone(),
            tags.join(";"),
            time(r.first_discovered, tz),
            time(r.last_updated, tz),
        ],
    );
}

/// What a download reads.
enum Rows {
    Evaluations,
    Resources,
    /// Rows already written (the few controls or connectors).
    Ready(String),
}

/// Where a download is.
enum Phase {
    Header,
    /// Reading pages; the key of the last row written.
    Pages(Option<Key>),
    Done,
}

/// A download in progress.
struct Download {
    store: Arc<dyn Store>,
    filter: DataFilter,
    tz: Tz,
    rows: Rows,
    header: &'static [&'static str],
    phase: Phase,
}

impl Download {
    /// The next page as CSV, and the key to continue after (none at the end).
    async fn page(&mut self, after: Option<Key>) -> Result<(String, Option<Key>), StoreError> {
        let mut out = String::new();
        let full = |n: usize| n == PAGE as usize;
        match &mut self.rows {
            Rows::Evaluations => {
                let page = PageRequest {
                    sort: EvaluationSort::Cid,
                    descending: false,
                    after,
                    limit: PAGE,
                };
                let rows = self.store.evaluation_page(&self.filter, &page).await?;
                rows.iter()
                    .for_each(|e| evaluation_record(&mut out, e, self.tz));
                let next = rows
                    .last()
                    .filter(|_| full(rows.len()))
                    .map(|e| page.sort.key_of(e));
                Ok((out, next))
            }
            Rows::Resources => {
                let page = PageRequest {
                    sort: ResourceSort::Id,
                    descending: false,
                    after,
                    limit: PAGE,
                };
                let rows = self.store.resource_page(&self.filter, &page).await?;
                rows.iter()
                    .for_each(|r| resource_record(&mut out, r, self.tz));
                let next = rows
                    .last()
                    .filter(|_| full(rows.len()))
                    .map(|r| page.sort.key_of(r));
                Ok((out, next))
            }
            Rows::Ready(text) => Ok((std::mem::take(text), None)),
        }
    }

    /// The next chunk of the body, or `None` at the end.
    async fn next(mut self) -> Option<(Result<Bytes, std::io::Error>, Download)> {
        match std::mem::replace(&mut self.phase, Phase::Done) {
            Phase::Done => None,
            Phase::Header => {
                let mut out = String::new();
                record(&mut out, self.header);
                self.phase = Phase::Pages(None);
                Some((Ok(Bytes::from(out)), self))
            }
            Phase::Pages(after) => match self.page(after).await {
                Ok((text, next)) => {
                    if next.is_some() {
                        self.phase = Phase::Pages(next);
                    }
                    Some((Ok(Bytes::from(text)), self))
                }
                Err(e) => {
                    // The status is sent; cutting the body short tells the
                    // client the download failed.
                    eprintln!("vigil serve: datalist download failed: {e}");
                    Some((
                        Err(std::io::Error::other("the datalist could not be read")),
                        self,
                    ))
                }
            },
        }
    }
}

/// The controls with their counts as CSV rows.
async fn control_rows(state: &AppState, filter: &DataFilter) -> Result<String, ApiError> {
    let mut out = String::new();
    for c in state
        .store
        .control_counts(filter)
        .await
        .map_err(ApiError::from_store)?
    {
        let k = &c.control;
        record(
            &mut out,
            &[
                k.cid.to_string(),
                k.title.clone(),
                k.service.clone(),
                k.resource_type.clone(),
                k.provider.as_str().to_string(),
                k.criticality.as_str().to_string(),
                k.execution_type.as_str().to_string(),
                k.remediable.to_string(),
                c.pass.to_string(),
                c.passe.to_string(),
                c.fail.to_string(),
                c.skip.to_string(),
            ],
        );
    }
    Ok(out)
}

/// The connectors the caller may see as CSV rows.
async fn connector_rows(state: &AppState, caller: &Caller) -> Result<String, ApiError> {
    let mut out = String::new();
    for c in connectors(state).await? {
        if caller.sees_tags(&c.tags) {
            record(&mut out, &[c.id, c.name, c.tags.join(";")]);
        }
    }
    Ok(out)
}

/// A datalist as CSV: `resources.csv`, `controls.csv`, `evaluations.csv`
/// or `connectors.csv`, streamed with a header row and no record cap.
/// `filter=` and the date window apply to resources, evaluations and the
/// controls' counts; times are written in `tz`.
#[utoipa::path(get, path = "/api/v1/datalists/{file}", tag = "data",
    security(("bearer" = ["reports_view"])),
    params(
        ("file" = String, Path, description = "resources.csv, controls.csv, evaluations.csv or connectors.csv"),
        DataParams,
    ),
    responses(
        (status = 200, description = "The datalist, streamed", body = String, content_type = "text/csv"),
        (status = 400, description = "A bad filter, date or tz (the field is named)", body = ApiError),
        (status = 401, description = "No valid token", body = ApiError),
        (status = 403, description = "The caller's role lacks reports_view", body = ApiError),
        (status = 404, description = "No such datalist", body = ApiError),
    ))]
pub async fn download(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(file): Path<String>,
    query: Result<Query<DataParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    caller.require(Permission::ReportsView)?;
    let p = params(query)?;
    let tz = data_params::tz(&p)?;
    let (default_date, header): (DateField, &'static [&'static str]) = match file.as_str() {
        "resources.csv" => (DateField::FirstDiscovered, RESOURCE_HEADER),
        "evaluations.csv" => (DateField::LastEvaluated, EVALUATION_HEADER),
        "controls.csv" => (DateField::LastEvaluated, CONTROL_HEADER),
        "connectors.csv" => (DateField::LastEvaluated, CONNECTOR_HEADER),
        _ => {
            return Err(ApiError::missing(format!(
                "there is no datalist {file}; use resources.csv, controls.csv, evaluations.csv or connectors.csv"
            )))
        }
    };
    let filter = visible_filter(&state, &caller, &p, default_date).await?;
    let rows = match file.as_str() {
        "resources.csv" => Rows::Resources,
        "evaluations.csv" => Rows::Evaluations,
        "controls.csv" => Rows::Ready(control_rows(&state, &filter).await?),
        _ => Rows::Ready(connector_rows(&state, &caller).await?),
    };
    let download = Download {
        store: state.store.clone(),
        filter,
        tz,
        rows,
        header,
        phase: Phase::Header,
    };
    let body = Body::from_stream(futures_util::stream::unfold(download, Download::next));
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{file}\""),
            ),
        ],
        body,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_quoted_when_they_must_be() {
        let mut out = String::new();
        record(&mut out, &["plain", "a,b", "say \"hi\"", "two\nlines", ""]);
        assert_eq!(out, "plain,\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\",\r\n");
    }

    #[test]
    fn times_are_written_in_the_zone() {
        let t = chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        assert_eq!(time(t, Tz::UTC), "2023-11-14T22:13:20Z");
        assert_eq!(
            time(t, chrono_tz::Europe::Paris),
            "2023-11-14T23:13:20+01:00"
        );
    }
}
