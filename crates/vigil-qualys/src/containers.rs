//! Container images and their vulnerabilities (container security API on
//! the gateway, with the JWT): `GET /csapi/{cs}/images` (`filter`,
//! `pageNumber`, `pageSize`, `sort`; paged until a page is short) and
//! `GET /csapi/{cs}/images/{imageSha}/vuln` per image. Each page is read on
//! its own (memory stays that of a page) and records go to the sink in
//! batches of at most the page size.
//!
//! Options (seed 002): `images_window_days` (the `updated:[now-Nd ... now]`
//! filter, enforced here too), `container_image_finding_severities`,
//! `skip_unassociated_container_images` (images no container runs), and
//! `ingest_container_images` (false: no call).

use crate::http::Call;
use crate::xml::{parse_time, Batcher};
use crate::{Client, Options, QualysError, Sink};
use serde_json::Value;
use std::collections::BTreeMap;
use vigil_model::qualys::{QualysBatch, QualysContainerImage, QualysImageVuln};
use vigil_model::Timestamp;

/// What to do about a 401 from the gateway.
pub const GATEWAY_401_FIX: &str = "the gateway refused the credentials or the token: check the user name and password, and that the user has the Container Security module with API access";

/// Ingests container images and their vulnerabilities; returns records per
/// kind.
pub fn ingest(
    client: &Client,
    options: &Options,
    now: Timestamp,
    sink: &dyn Sink,
) -> Result<BTreeMap<String, u64>, QualysError> {
    let mut counts = BTreeMap::new();
    if !options.ingest_container_images {
        return Ok(counts);
    }
    let page_size = options.page_size.clamp(1, 1000);
    let since = now - chrono::Duration::days(i64::from(options.images_window_days));
    let mut images = Batcher::new(sink, page_size as usize, QualysBatch::Images);
    let mut vulns = Batcher::new(sink, page_size as usize, QualysBatch::ImageVulns);
    let path = client.cs_path("images");
    let mut page_number = 1u32;
    loop {
        let call = Call::gateway_get(client, &path, image_params(options, page_number, page_size));
        let page: Value = read_json(client, &call)?;
        let data = match page.get("data") {
            Some(Value::Array(items)) => items.as_slice(),
            Some(Value::Null) | None => &[],
            Some(_) => {
                return Err(QualysError::Parse {
                    endpoint: path.clone(),
                    offset: 0,
                    message: "`data` is not a list of images".into(),
                })
            }
        };
        let n = data.len();
        for item in data {
            let Some(image) = image_of(item) else {
                return Err(QualysError::Parse {
                    endpoint: path.clone(),
                    offset: 0,
                    message: format!("an image has no imageId: {}", short(item)),
                });
            };
            let when = image.updated.or(image.created);
            if when.is_some_and(|t| t < since) {
                continue;
            }
            if options.skip_unassociated_container_images && image.containers == 0 {
                continue;
            }
            let key = image.sha.clone().unwrap_or_else(|| image.image_id.clone());
            let id = image.image_id.clone();
            images.push(image)?;
            image_vulns(client, options, &key, &id, &mut vulns)?;
        }
        if n < page_size as usize {
            break;
        }
        let total = page.get("count").and_then(Value::as_u64);
        if total.is_some_and(|t| u64::from(page_number) * u64::from(page_size) >= t) {
            break;
        }
        page_number += 1;
    }
    counts.insert("images".to_string(), images.finish()?);
    counts.insert("image_vulns".to_string(), vulns.finish()?);
    Ok(counts)
}

/// One minimal call per endpoint (for `vigil qualys check`): the image list
/// (the vulnerability endpoint needs an image's sha).
pub fn probes(client: &Client, options: &Options) -> Vec<(String, Call)> {
    let _ = options;
    vec![(
        "Container images".to_string(),
        Call::gateway_get(
            client,
            &client.cs_path("images"),
            vec![
                ("pageNumber".to_string(), "1".to_string()),
                ("pageSize".to_string(), "1".to_string()),
            ],
        ),
    )]
}

fn image_params(options: &Options, page_number: u32, page_size: u32) -> Vec<(String, String)> {
    vec![
        (
            "filter".to_string(),
            format!("updated:[now-{}d ... now]", options.images_window_days),
        ),
        ("pageNumber".to_string(), page_number.to_string()),
        ("pageSize".to_string(), page_size.to_string()),
        ("sort".to_string(), "updated:desc".to_string()),
    ]
}

fn image_vulns(
    client: &Client,
    options: &Options,
    sha: &str,
    image_id: &str,
    out: &mut Batcher<'_, QualysImageVuln>,
) -> Result<(), QualysError> {
    let path = client.cs_path(&format!("images/{sha}/vuln"));
    let call = Call::gateway_get(client, &path, Vec::new());
    let body: Value = read_json(client, &call)?;
    // `{"details": {"vulns": [...]}}`, `{"vulns": [...]}`, `{"data": [...]}`
    // or a bare list.
    let list = body
        .pointer("/details/vulns")
        .or_else(|| body.get("vulns"))
        .or_else(|| body.get("data"))
        .or(Some(&body))
        .and_then(Value::as_array);
    let Some(list) = list else {
        return Ok(());
    };
    for v in list {
        let Some(qid) = v.get("qid").and_then(as_i64) else {
            return Err(QualysError::Parse {
                endpoint: path.clone(),
                offset: 0,
                message: format!("a vulnerability has no qid: {}", short(v)),
            });
        };
        let severity = v.get("severity").and_then(as_i64).map(|s| s as u8);
        if !severity.is_some_and(|s| options.container_image_finding_severities.contains(&s)) {
            continue;
        }
        out.push(QualysImageVuln {
            image_id: image_id.to_string(),
            qid,
            severity,
            title: v.get("title").and_then(Value::as_str).map(str::to_string),
            cves: v
                .get("cveids")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default(),
            first_found: v.get("firstFound").and_then(time),
            last_found: v.get("lastFound").and_then(time),
        })?;
    }
    Ok(())
}

/// Sends a gateway call and reads its JSON. A 401 is retried once with a
/// new token (the old one may have ended early); then it names its fix.
fn read_json(client: &Client, call: &Call) -> Result<Value, QualysError> {
    let body = match client.send(call) {
        Err(QualysError::Http {
            status: 401,
            endpoint,
            ..
        }) if !endpoint.starts_with("/auth") => {
            client.forget_jwt();
            client.send(call)
        }
        other => other,
    }
    .map_err(explain_401)?;
    let endpoint = body.endpoint.clone();
    serde_json::from_reader(std::io::BufReader::new(body)).map_err(|e| QualysError::Parse {
        endpoint,
        offset: e.column() as u64,
        message: format!("not the JSON the container security API documents: {e}"),
    })
}

fn explain_401(e: QualysError) -> QualysError {
    match e {
        QualysError::Http {
            endpoint,
            status: 401,
            code,
            message,
        } => QualysError::Http {
            endpoint,
            status: 401,
            code,
            message: format!("{message} ({GATEWAY_401_FIX})"),
        },
        other => other,
    }
}

fn short(v: &Value) -> String {
    v.to_string().chars().take(200).collect()
}

fn as_i64(v: &Value) -> Option<i64> {
    v.as_i64()
        .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
}

/// Epoch milliseconds (number or string) or an ISO date.
fn time(v: &Value) -> Option<Timestamp> {
    match v {
        Value::Number(n) => n.as_i64().and_then(chrono::DateTime::from_timestamp_millis),
        Value::String(s) => parse_time(s),
        _ => None,
    }
}

fn image_of(v: &Value) -> Option<QualysContainerImage> {
    let image_id = v.get("imageId").and_then(Value::as_str)?.to_string();
    let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
    let repo_tags = v
        .get("repo")
        .and_then(Value::as_array)
        .map(|repos| {
            repos
                .iter()
                .filter_map(|r| {
                    let repository = r.get("repository").and_then(Value::as_str)?;
                    let registry = r.get("registry").and_then(Value::as_str).unwrap_or("");
                    let tag = r.get("tag").and_then(Value::as_str).unwrap_or("latest");
                    Some(if registry.is_empty() {
                        format!("{repository}:{tag}")
                    } else {
                        format!("{registry}/{repository}:{tag}")
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let containers = v
        .get("associatedContainersCount")
        .and_then(as_i64)
        .or_else(|| match v.get("containers") {
            Some(Value::Array(a)) => Some(a.len() as i64),
            Some(other) => as_i64(other),
            None => None,
        })
        .unwrap_or(0);
    Some(QualysContainerImage {
        image_id,
        sha: s("sha"),
        repo_tags,
        os: s("operatingSystem"),
        created: v.get("created").and_then(time),
        updated: v
            .get("updated")
            .and_then(time)
            .or_else(|| v.get("lastScanned").and_then(time)),
        containers,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_map_from_qualys_json() {
        let v: Value = serde_json::from_str(
            r#"{"imageId":"a1b2c3","sha":"sha256:ff","repo":[{"registry":"registry.example.com","repository":"shop/web","tag":"1.2"}],"operatingSystem":"Alpine 3.19","created":"1700000000000","updated":1700000100000,"associatedContainersCount":2}"#,
        )
        .unwrap();
        let i = image_of(&v).unwrap();
        assert_eq!(i.repo_tags, vec!["registry.example.com/shop/web:1.2"]);
        assert_eq!(i.containers, 2);
        assert_eq!(i.created.unwrap().timestamp(), 1_700_000_000);
        assert_eq!(i.updated.unwrap().timestamp(), 1_700_000_100);
        assert!(image_of(&serde_json::json!({"sha": "x"})).is_none());
    }
}
