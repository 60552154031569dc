//! Container security (behind the gateway JWT, checked in `lib.rs`):
//! `GET images` (`filter` `updated:[now-Nd ... now]`, `pageNumber`,
//! `pageSize`, `sort`; `{"data": [...], "count": N}`) and
//! `GET images/{imageSha}/vuln` (`{"details": {"vulns": [...]}}`).
//!
//! Generated: image `i` (1..=images) was updated `70*i - 10` days before
//! `sub.now` (60, 130, 200, 270, …), runs `i % 2` containers, and has
//! `vulns_per_image` vulnerabilities, the `j`-th with QID `370000 + j` and
//! severity `(i + j) % 5 + 1`.

// Handlers answer errors as responses; their size does not matter in test code.
#![allow(clippy::result_large_err)]

use crate::{Params, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::Duration;
use serde_json::json;
use std::sync::Arc;

/// The short id of generated image `i`.
pub fn image_id(i: u64) -> String {
    format!("{:012x}", i * 0x1f2e3d4c)
}

/// The sha of generated image `i`.
pub fn image_sha(i: u64) -> String {
    format!("sha256:{:064x}", i * 0x9a8b7c6d5e4f)
}

fn json_response(status: StatusCode, v: serde_json::Value) -> Response {
    (
        status,
        [("Content-Type", "application/json")],
        v.to_string(),
    )
        .into_response()
}

fn bad(message: &str) -> Response {
    json_response(
        StatusCode::BAD_REQUEST,
        json!({"errorCode": "400 BAD_REQUEST", "message": message}),
    )
}

/// Answers a path under `/csapi/{cs}/`; `None`: unknown.
pub fn route(state: &Arc<State>, method: &str, rest: &str, params: &Params) -> Option<Response> {
    if method != "GET" {
        return None;
    }
    let rest = rest.trim_end_matches('/');
    if rest == "images" {
        return Some(images(state, params));
    }
    let sha = rest.strip_prefix("images/")?.strip_suffix("/vuln")?;
    Some(vulns(state, sha))
}

fn updated(state: &State, i: u64) -> chrono::DateTime<chrono::Utc> {
    state.sub.now - Duration::days(70 * i as i64 - 10)
}

/// Days of an `updated:[now-Nd ... now]` filter.
fn window(filter: &str) -> Result<Option<i64>, String> {
    let f = filter.trim();
    if f.is_empty() {
        return Ok(None);
    }
    let inner = f
        .strip_prefix("updated:[now-")
        .and_then(|r| r.strip_suffix("d ... now]"))
        .ok_or_else(|| format!("unsupported filter `{f}`"))?;
    inner
        .parse::<i64>()
        .map(Some)
        .map_err(|_| format!("unsupported filter `{f}`"))
}

fn images(state: &Arc<State>, params: &Params) -> Response {
    let sub = &state.sub;
    let days = match window(params.get("filter").unwrap_or("")) {
        Ok(d) => d,
        Err(e) => return bad(&e),
    };
    let num = |k: &str, d: u64| -> Result<u64, Response> {
        match params.get(k) {
            None => Ok(d),
            Some(v) => v
                .parse::<u64>()
                .ok()
                .filter(|n| *n >= 1)
                .ok_or_else(|| bad(&format!("{k} must be a positive number"))),
        }
    };
    let (page, size) = match (num("pageNumber", 1), num("pageSize", 50)) {
        (Ok(p), Ok(s)) => (p, s),
        (Err(r), _) | (_, Err(r)) => return r,
    };
    let matching: Vec<u64> = (1..=sub.images as u64)
        .filter(|i| days.is_none_or(|d| updated(state, *i) >= sub.now - Duration::days(d)))
        .collect();
    let data: Vec<serde_json::Value> = matching
        .iter()
        .skip(((page - 1) * size) as usize)
        .take(size as usize)
        .map(|&i| {
            let created = sub.now - Duration::days(70 * i as i64 + 30);
            json!({
                "imageId": image_id(i),
                "sha": image_sha(i),
                "uuid": format!("0000{i:04}-1111-4222-8333-444455556666"),
                "operatingSystem": if i % 2 == 0 { "Ubuntu 22.04" } else { "Alpine Linux 3.19" },
                "architecture": "amd64",
                "repo": [
                    {"registry": "registry.example.com", "repository": format!("shop/service-{i}"), "tag": "1.0"},
                    {"registry": "registry.example.com", "repository": format!("shop/service-{i}"), "tag": "latest"}
                ],
                "created": created.timestamp_millis().to_string(),
                "updated": updated(state, i).timestamp_millis().to_string(),
                "lastScanned": updated(state, i).timestamp_millis().to_string(),
                "associatedContainersCount": i % 2,
                "source": ["GENERAL"],
                "vulnerabilities": null
            })
        })
        .collect();
    json_response(
        StatusCode::OK,
        json!({"data": data, "count": matching.len(), "groups": null}),
    )
}

fn vulns(state: &Arc<State>, sha: &str) -> Response {
    let sub = &state.sub;
    let Some(i) = (1..=sub.images as u64).find(|i| image_sha(*i) == sha) else {
        return json_response(
            StatusCode::NOT_FOUND,
            json!({"errorCode": "404 NOT_FOUND", "message": format!("image {sha} not found")}),
        );
    };
    let vulns: Vec<serde_json::Value> = (0..sub.vulns_per_image as u64)
        .map(|j| {
            let last = updated(state, i);
            json!({
                "qid": 370000 + j,
                "title": format!("OpenSSL vulnerability {j}"),
                "severity": (i + j) % 5 + 1,
                "typeDetected": "CONFIRMED",
                "cveids": [format!("CVE-2024-{:04}", 1000 + j), format!("CVE-2023-{:04}", 2000 + j)],
                "firstFound": (last - Duration::days(40)).timestamp_millis().to_string(),
                "lastFound": last.timestamp_millis().to_string(),
                "software": [{"name": "openssl", "version": "3.0.1", "fixVersion": "3.0.13"}]
            })
        })
        .collect();
    json_response(StatusCode::OK, json!({"details": {"vulns": vulns}}))
}
