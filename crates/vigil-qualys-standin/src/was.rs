//! Web application scanning: QPS `search/was/webapp` and
//! `search/was/finding` (`ServiceRequest` in, `ServiceResponse` out), with
//! `limitResults`, the `Criteria` filters the connector sends (`id`,
//! `webApp.id`, `lastDetectedDate` with IN, EQUALS, GREATER, LESSER) and
//! `hasMoreRecords` / `lastId` paging.
//!
//! Generated: web application `i` (1..=webapps) has id `5000 + i`; its
//! finding `j` (0..findings_per_webapp) has id
//! `(i-1)*findings_per_webapp + j + 1`, QID `150000 + j` and was last
//! detected `j*3 + 1.5` days before `sub.now`.

use crate::{qdate, service_error, xml, Params, State};
use axum::response::Response;
use chrono::Duration;
use std::fmt::Write;
use std::sync::Arc;

/// The id of generated web application `i` (1-based).
pub fn webapp_id(i: u64) -> u64 {
    5000 + i
}

/// Answers a path under `/qps/rest/{was}/`; `None`: not this family's.
pub fn route(state: &Arc<State>, rest: &str, params: &Params) -> Option<Response> {
    match rest.trim_end_matches('/') {
        "search/was/webapp" => Some(webapps(state, params)),
        "search/was/finding" => Some(findings(state, params)),
        _ => None,
    }
}

struct Criterion {
    field: String,
    op: String,
    value: String,
}

struct Request {
    limit: u64,
    criteria: Vec<Criterion>,
}

fn attr(tag: &str, name: &str) -> Option<String> {
    let key = format!("{name}=\"");
    let start = tag.find(&key)? + key.len();
    let end = tag[start..].find('"')? + start;
    Some(tag[start..end].to_string())
}

fn parse_request(body: &str) -> Result<Request, String> {
    let limit = match body.split_once("<limitResults>") {
        None => 1000,
        Some((_, rest)) => rest
            .split_once("</limitResults>")
            .and_then(|(v, _)| v.trim().parse::<u64>().ok())
            .filter(|v| (1..=1000).contains(v))
            .ok_or("limitResults must be a number between 1 and 1000")?,
    };
    let mut criteria = Vec::new();
    let mut rest = body;
    while let Some(i) = rest.find("<Criteria") {
        rest = &rest[i..];
        let close = rest.find('>').ok_or("unterminated Criteria")?;
        let tag = &rest[..close];
        let end = rest.find("</Criteria>").ok_or("unterminated Criteria")?;
        let value = rest[close + 1..end]
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&");
        criteria.push(Criterion {
            field: attr(tag, "field").ok_or("Criteria without field")?,
            op: attr(tag, "operator").unwrap_or_else(|| "EQUALS".into()),
            value: value.trim().to_string(),
        });
        rest = &rest[end..];
    }
    Ok(Request { limit, criteria })
}

fn num_ok(op: &str, value: &str, v: u64) -> Result<bool, String> {
    let nums = || -> Result<Vec<u64>, String> {
        value
            .split(',')
            .map(|s| {
                s.trim()
                    .parse::<u64>()
                    .map_err(|_| format!("`{s}` is not a number"))
            })
            .collect()
    };
    Ok(match op {
        "IN" => nums()?.contains(&v),
        "EQUALS" => nums()?.first() == Some(&v),
        "NOT EQUALS" => nums()?.first() != Some(&v),
        "GREATER" => nums()?.first().is_some_and(|n| v > *n),
        "LESSER" => nums()?.first().is_some_and(|n| v < *n),
        _ => return Err(format!("operator {op} is not supported")),
    })
}

fn date_ok(op: &str, value: &str, v: chrono::DateTime<chrono::Utc>) -> Result<bool, String> {
    let t = chrono::DateTime::parse_from_rfc3339(value)
        .map_err(|_| format!("`{value}` is not a date such as 2024-01-01T00:00:00Z"))?;
    Ok(match op {
        "GREATER" => v > t,
        "LESSER" => v < t,
        "EQUALS" => v == t,
        _ => return Err(format!("operator {op} is not supported for dates")),
    })
}

fn invalid(message: &str) -> Response {
    service_error(
        "INVALID_REQUEST",
        message,
        "Check the ServiceRequest against the WAS API user guide.",
    )
}

fn envelope(xsd: &str, count: u64, more: bool, last: Option<u64>, data: &str) -> String {
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ServiceResponse xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:noNamespaceSchemaLocation=\"https://qualysapi.qualys.com/qps/xsd/3.0/was/{xsd}.xsd\">\n<responseCode>SUCCESS</responseCode>\n<count>{count}</count>\n<hasMoreRecords>{more}</hasMoreRecords>\n"
    );
    if let Some(l) = last {
        let _ = writeln!(out, "<lastId>{l}</lastId>");
    }
    out.push_str("<data>\n");
    out.push_str(data);
    out.push_str("</data>\n</ServiceResponse>\n");
    out
}

fn webapps(state: &Arc<State>, params: &Params) -> Response {
    let sub = &state.sub;
    let req = match parse_request(&params.body) {
        Ok(r) => r,
        Err(e) => return invalid(&e),
    };
    let mut data = String::new();
    let (mut n, mut more, mut last) = (0u64, false, None);
    for i in 1..=sub.webapps as u64 {
        let id = webapp_id(i);
        let mut ok = true;
        for c in &req.criteria {
            ok &= match c.field.as_str() {
                "id" => match num_ok(&c.op, &c.value, id) {
                    Ok(b) => b,
                    Err(e) => return invalid(&e),
                },
                f => return invalid(&format!("field {f} is not supported for WebApp search")),
            };
        }
        if !ok {
            continue;
        }
        if n == req.limit {
            more = true;
            break;
        }
        n += 1;
        last = Some(id);
        let _ = write!(
            data,
            "<WebApp>\n<id>{id}</id>\n<name><![CDATA[Shop {i}]]></name>\n<url><![CDATA[https://shop{i}.example.com]]></url>\n<os>Linux</os>\n<owner>\n<id>77</id>\n<username>vigil_qa</username>\n</owner>\n<scope>ALL</scope>\n<tags>\n<count>2</count>\n<list>\n<Tag>\n<id>{}</id>\n<name><![CDATA[production]]></name>\n</Tag>\n<Tag>\n<id>{}</id>\n<name><![CDATA[team-{i}]]></name>\n</Tag>\n</list>\n</tags>\n<createdDate>{}</createdDate>\n<updatedDate>{}</updatedDate>\n<lastScan>\n<id>{}</id>\n<name><![CDATA[Scan of shop {i}]]></name>\n<launchedDate>{}</launchedDate>\n</lastScan>\n</WebApp>\n",
            9000 + i,
            9100 + i,
            qdate(sub.now - Duration::days(300 + i as i64)),
            qdate(sub.now - Duration::days(i as i64)),
            70000 + i,
            qdate(sub.now - Duration::hours(6 + i as i64)),
        );
    }
    xml(envelope("webapp", n, more, last, &data))
}

fn findings(state: &Arc<State>, params: &Params) -> Response {
    let sub = &state.sub;
    let req = match parse_request(&params.body) {
        Ok(r) => r,
        Err(e) => return invalid(&e),
    };
    let fpw = sub.findings_per_webapp as u64;
    let mut data = String::new();
    let (mut n, mut more, mut last) = (0u64, false, None);
    'apps: for i in 1..=sub.webapps as u64 {
        for j in 0..fpw {
            let id = (i - 1) * fpw + j + 1;
            let app = webapp_id(i);
            let last_detected = sub.now - Duration::hours((j * 72 + 36) as i64);
            let mut ok = true;
            for c in &req.criteria {
                let r = match c.field.as_str() {
                    "id" => num_ok(&c.op, &c.value, id),
                    "webApp.id" => num_ok(&c.op, &c.value, app),
                    "lastDetectedDate" => date_ok(&c.op, &c.value, last_detected),
                    f => Err(format!("field {f} is not supported for Finding search")),
                };
                match r {
                    Ok(b) => ok &= b,
                    Err(e) => return invalid(&e),
                }
            }
            if !ok {
                continue;
            }
            if n == req.limit {
                more = true;
                break 'apps;
            }
            n += 1;
            last = Some(id);
            let severity = 5 - (j % 5);
            let status = ["NEW", "ACTIVE", "REOPENED", "FIXED"][(j % 4) as usize];
            let _ = write!(
                data,
                "<Finding>\n<id>{id}</id>\n<uniqueId>8f3c{id:08x}-0000-4000-8000-000000000000</uniqueId>\n<qid>{}</qid>\n<name><![CDATA[SQL Injection <{j}>]]></name>\n<type>{}</type>\n<findingType>QUALYS</findingType>\n<severity>{severity}</severity>\n<url><![CDATA[https://shop{i}.example.com/item?id={j}]]></url>\n<status>{status}</status>\n<firstDetectedDate>{}</firstDetectedDate>\n<lastDetectedDate>{}</lastDetectedDate>\n<lastTestedDate>{}</lastTestedDate>\n<timesDetected>{}</timesDetected>\n<webApp>\n<id>{app}</id>\n<name><![CDATA[Shop {i}]]></name>\n<url><![CDATA[https://shop{i}.example.com]]></url>\n<tags>\n<count>1</count>\n<list>\n<Tag>\n<id>{}</id>\n<name><![CDATA[production]]></name>\n</Tag>\n</list>\n</tags>\n</webApp>\n<resultList>\n<count>1</count>\n<list>\n<Result>\n<id>{}</id>\n<payloads>\n<count>1</count>\n<list>\n<PayloadInstance>\n<payload><![CDATA[' OR '1'='1]]></payload>\n</PayloadInstance>\n</list>\n</payloads>\n</Result>\n</list>\n</resultList>\n</Finding>\n",
                150000 + j,
                if j % 3 == 2 { "INFORMATION_GATHERED" } else { "VULNERABILITY" },
                qdate(last_detected - Duration::days(30)),
                qdate(last_detected),
                qdate(last_detected),
                1 + j,
                9000 + i,
                900_000 + id,
            );
        }
    }
    xml(envelope("finding", n, more, last, &data))
}
