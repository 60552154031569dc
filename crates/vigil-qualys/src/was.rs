//! Web applications and their findings (seed 002 "Ingest Web App Scans"):
//! QPS `search/was/webapp` and `search/was/finding`, each a `ServiceRequest`
//! with `preferences/limitResults` (the page size) and `filters`, paged by
//! `hasMoreRecords` and `lastId` (the next request adds `id GREATER
//! lastId`). Answers are streamed and handed over in batches of at most the
//! page size.
//!
//! Options: `ingest_web_app_scans` (false: no call at all),
//! `web_application_ids` (`id IN` for apps, `webApp.id IN` for findings),
//! `findings_age_days` (findings whose `lastDetectedDate` is within it).

use crate::http::Call;
use crate::pc::{ends, int, opt_int};
use crate::xml::{parse_time, walk_body, Batcher, Ev};
use crate::{Client, Options, QualysError, Sink};
use std::collections::BTreeMap;
use vigil_model::qualys::{QualysBatch, QualysWasFinding, QualysWebApp};
use vigil_model::Timestamp;

/// Ingests web applications and their findings; returns records per kind.
pub fn ingest(
    client: &Client,
    options: &Options,
    now: Timestamp,
    sink: &dyn Sink,
) -> Result<BTreeMap<String, u64>, QualysError> {
    let mut counts = BTreeMap::new();
    if !options.ingest_web_app_scans {
        return Ok(counts);
    }
    let page = options.page_size.max(1) as usize;
    let apps = search(
        client,
        options,
        "search/was/webapp",
        &app_criteria(options),
        |body, lid| parse_apps(body, sink, page, lid),
    )?;
    counts.insert("webapps".to_string(), apps);
    let findings = search(
        client,
        options,
        "search/was/finding",
        &finding_criteria(options, now),
        |body, lid| parse_findings(body, sink, page, lid),
    )?;
    counts.insert("was_findings".to_string(), findings);
    Ok(counts)
}

/// One minimal call per endpoint (for `vigil qualys check`).
pub fn probes(client: &Client, options: &Options) -> Vec<(String, Call)> {
    let _ = options;
    let one = service_request(1, &[], None);
    vec![
        (
            "Web applications".to_string(),
            Call::qps(client, &client.was_path("search/was/webapp"), one.clone()),
        ),
        (
            "Web application findings".to_string(),
            Call::qps(client, &client.was_path("search/was/finding"), one),
        ),
    ]
}

/// A QPS filter criterion: field, operator, value.
type Criterion = (&'static str, &'static str, String);

fn ids(v: &[i64]) -> String {
    v.iter()
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

fn app_criteria(o: &Options) -> Vec<Criterion> {
    let mut c = Vec::new();
    if !o.web_application_ids.is_empty() {
        c.push(("id", "IN", ids(&o.web_application_ids)));
    }
    c
}

fn finding_criteria(o: &Options, now: Timestamp) -> Vec<Criterion> {
    let mut c = Vec::new();
    if !o.web_application_ids.is_empty() {
        c.push(("webApp.id", "IN", ids(&o.web_application_ids)));
    }
    let since = now - chrono::Duration::days(i64::from(o.findings_age_days));
    c.push((
        "lastDetectedDate",
        "GREATER",
        since.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
    ));
    c
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The `ServiceRequest` of one page.
pub fn service_request(limit: u32, criteria: &[Criterion], after: Option<i64>) -> String {
    let mut x = format!(
        "<ServiceRequest><preferences><limitResults>{limit}</limitResults><verbose>true</verbose></preferences>"
    );
    if !criteria.is_empty() || after.is_some() {
        x.push_str("<filters>");
        for (field, op, value) in criteria {
            x.push_str(&format!(
                "<Criteria field=\"{field}\" operator=\"{op}\">{}</Criteria>",
                escape(value)
            ));
        }
        if let Some(id) = after {
            x.push_str(&format!(
                "<Criteria field=\"id\" operator=\"GREATER\">{id}</Criteria>"
            ));
        }
        x.push_str("</filters>");
    }
    x.push_str("</ServiceRequest>");
    x
}

/// What a page says about the next one.
#[derive(Default)]
struct PageEnd {
    has_more: bool,
    last_id: Option<i64>,
    /// The largest id on the page (when `lastId` is missing).
    max_id: Option<i64>,
}

/// Pages through a QPS search; returns the records handed over.
fn search(
    client: &Client,
    options: &Options,
    rest: &str,
    criteria: &[Criterion],
    mut page: impl FnMut(crate::http::Body, &mut PageEnd) -> Result<u64, QualysError>,
) -> Result<u64, QualysError> {
    let path = client.was_path(rest);
    let mut after: Option<i64> = None;
    let mut count = 0;
    loop {
        let call = Call::qps(
            client,
            &path,
            service_request(options.page_size.max(1), criteria, after),
        );
        let mut attempt = 0;
        let end = loop {
            attempt += 1;
            let body = client.send(&call)?;
            let mut end = PageEnd::default();
            match page(body, &mut end) {
                Ok(n) => {
                    count += n;
                    break end;
                }
                Err(QualysError::Parse { .. }) if attempt < options.max_retries.max(1) => {}
                Err(e) => return Err(e),
            }
        };
        if !end.has_more {
            return Ok(count);
        }
        let next = end
            .last_id
            .or(end.max_id)
            .ok_or_else(|| QualysError::Parse {
                endpoint: path.clone(),
                offset: 0,
                message: "hasMoreRecords is true but the answer has no lastId".into(),
            })?;
        if after.is_some_and(|a| next <= a) {
            return Err(QualysError::Parse {
                endpoint: path.clone(),
                offset: 0,
                message: format!("lastId {next} does not advance past {after:?}"),
            });
        }
        after = Some(next);
    }
}

/// Reads the paging elements of a `ServiceResponse`.
fn paging(p: &[String], text: &str, end: &mut PageEnd) {
    if p.len() == 2 {
        match p[1].as_str() {
            "hasMoreRecords" => end.has_more = text.trim() == "true",
            "lastId" => end.last_id = opt_int(text),
            _ => {}
        }
    }
}

fn parse_apps(
    body: crate::http::Body,
    sink: &dyn Sink,
    page: usize,
    end: &mut PageEnd,
) -> Result<u64, QualysError> {
    let endpoint = body.endpoint.clone();
    let mut out = Batcher::new(sink, page, QualysBatch::WebApps);
    let mut cur: Option<QualysWebApp> = None;
    walk_body(body, |ev| {
        match ev {
            Ev::Open(p) => {
                if p.len() == 3 && ends(p, &["data", "WebApp"]) {
                    cur = Some(QualysWebApp::default());
                }
            }
            Ev::Close(p, text) => {
                if p.len() == 3 && ends(p, &["data", "WebApp"]) {
                    if let Some(app) = cur.take() {
                        end.max_id = end.max_id.max(Some(app.id));
                        out.push(app)?;
                    }
                } else if let (Some(app), true) = (cur.as_mut(), p.len() > 3) {
                    let rel: Vec<&str> = p[3..].iter().map(|s| s.as_str()).collect();
                    let t = text.trim();
                    match rel.as_slice() {
                        ["id"] => app.id = int(t, p, &endpoint)?,
                        ["name"] => app.name = t.to_string(),
                        ["url"] => app.url = t.to_string(),
                        ["tags", "list", "Tag", "name"] => app.tags.push(t.to_string()),
                        ["createdDate"] => app.created = parse_time(t),
                        ["updatedDate"] => app.updated = parse_time(t),
                        ["lastScan", "launchedDate"] => app.last_scan = parse_time(t),
                        _ => {}
                    }
                } else {
                    paging(p, text, end);
                }
            }
        }
        Ok(())
    })?;
    out.finish()
}

fn parse_findings(
    body: crate::http::Body,
    sink: &dyn Sink,
    page: usize,
    end: &mut PageEnd,
) -> Result<u64, QualysError> {
    let endpoint = body.endpoint.clone();
    let mut out = Batcher::new(sink, page, QualysBatch::WasFindings);
    let mut cur: Option<QualysWasFinding> = None;
    walk_body(body, |ev| {
        match ev {
            Ev::Open(p) => {
                if p.len() == 3 && ends(p, &["data", "Finding"]) {
                    cur = Some(QualysWasFinding::default());
                }
            }
            Ev::Close(p, text) => {
                if p.len() == 3 && ends(p, &["data", "Finding"]) {
                    if let Some(f) = cur.take() {
                        end.max_id = end.max_id.max(Some(f.id));
                        out.push(f)?;
                    }
                } else if let (Some(f), true) = (cur.as_mut(), p.len() > 3) {
                    let rel: Vec<&str> = p[3..].iter().map(|s| s.as_str()).collect();
                    let t = text.trim();
                    let s = || Some(t.to_string()).filter(|s| !s.is_empty());
                    match rel.as_slice() {
                        ["id"] => f.id = int(t, p, &endpoint)?,
                        ["qid"] => f.qid = int(t, p, &endpoint)?,
                        ["name"] => f.name = t.to_string(),
                        ["type"] => f.finding_type = s(),
                        ["severity"] => f.severity = t.parse().ok(),
                        ["status"] => f.status = s(),
                        ["webApp", "id"] => f.webapp_id = int(t, p, &endpoint)?,
                        ["url"] => f.url = s(),
                        ["resultList", "list", "Result", "accessPath", "list", "Url", "value"]
                        | ["resultList", "list", "Result", "url"]
                            if f.url.is_none() =>
                        {
                            f.url = s();
                        }
                        ["firstDetectedDate"] => f.first_detected = parse_time(t),
                        ["lastDetectedDate"] => f.last_detected = parse_time(t),
                        ["timesDetected"] => f.times_detected = opt_int(t),
                        _ => {}
                    }
                } else {
                    paging(p, text, end);
                }
            }
        }
        Ok(())
    })?;
    out.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_carry_the_page_size_filters_and_the_last_id() {
        let x = service_request(50, &[("webApp.id", "IN", "1,2".into())], Some(77));
        assert!(x.contains("<limitResults>50</limitResults>"));
        assert!(x.contains("<Criteria field=\"webApp.id\" operator=\"IN\">1,2</Criteria>"));
        assert!(x.contains("<Criteria field=\"id\" operator=\"GREATER\">77</Criteria>"));
        assert!(!service_request(1, &[], None).contains("<filters>"));
    }
}
