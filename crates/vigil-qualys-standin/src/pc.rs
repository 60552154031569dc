//! Policy Compliance: `compliance/policy/`, `compliance/control/` and
//! `compliance/posture/info/` (action=list) in Qualys' XML
//! (`POLICY_LIST_OUTPUT`, `CONTROL_LIST_OUTPUT`, `POSTURE_INFO_LIST_OUTPUT`),
//! generated from the subscription and filtered by the parameters Qualys
//! documents, with the truncation `WARNING` (`URL` with `id_min`).
//!
//! The generated subscription: policy `p` (1..=policies) has id `p` and the
//! controls `(p-1)*controls_per_policy + 1 ..= p*controls_per_policy`;
//! every host (1..=hosts, IP [`host_ip`], asset group [`asset_group`]) has
//! one posture per control of every policy, with id
//! `((p-1)*hosts + (h-1))*controls_per_policy + k + 1`.

// Handlers answer errors as responses; their size does not matter in test code.
#![allow(clippy::result_large_err)]

use crate::{qdate, simple_return, xml, xml_stream, Params, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::Duration;
use std::fmt::Write;
use std::sync::Arc;

/// Criticality labels by value (1–5).
pub const LABELS: [&str; 5] = ["MINIMAL", "MEDIUM", "SERIOUS", "CRITICAL", "URGENT"];

/// The IP address of generated host `h`.
pub fn host_ip(h: u64) -> String {
    format!("10.{}.{}.{}", (h >> 16) & 255, (h >> 8) & 255, h & 255)
}

/// The asset group of generated host `h`: 101, 102 or 103.
pub fn asset_group(h: u64) -> u64 {
    101 + h % 3
}

/// The criticality value (1–5) of control `c`.
pub fn control_criticality(c: u64) -> u64 {
    c % 5 + 1
}

/// The status of the posture of control `c` on host `h`.
pub fn posture_status(h: u64, c: u64) -> &'static str {
    match (h * 7 + c * 3) % 10 {
        0..=4 => "Passed",
        5..=8 => "Failed",
        _ => "Error",
    }
}

/// Answers a path under `/api/{fo}/fo/` of this family; `None`: not this family's.
pub fn route(state: &Arc<State>, rest: &str, params: &Params) -> Option<Response> {
    let r = match rest {
        "compliance/policy/" => policies(state, params),
        "compliance/control/" => controls(state, params),
        "compliance/posture/info/" => postures(state, params),
        _ => return None,
    };
    Some(r)
}

/// Parses `1,3,5-7` lists of ids; `None` when the parameter is absent.
fn id_set(params: &Params, key: &str) -> Result<Option<Vec<(u64, u64)>>, String> {
    let items = params.list(key);
    if params.get(key).is_none() {
        return Ok(None);
    }
    let mut out = Vec::new();
    for it in items {
        let (a, b) = match it.split_once('-') {
            Some((a, b)) => (a.trim(), b.trim()),
            None => (it.as_str(), it.as_str()),
        };
        match (a.parse::<u64>(), b.parse::<u64>()) {
            (Ok(a), Ok(b)) => out.push((a, b)),
            _ => return Err(format!("invalid value for parameter {key}: {it}")),
        }
    }
    Ok(Some(out))
}

fn in_set(set: &Option<Vec<(u64, u64)>>, v: u64) -> bool {
    match set {
        None => true,
        Some(r) => r.iter().any(|(a, b)| *a <= v && v <= *b),
    }
}

fn ip_num(s: &str) -> Option<u32> {
    s.trim().parse::<std::net::Ipv4Addr>().ok().map(u32::from)
}

fn ip_ranges(params: &Params) -> Result<Option<Vec<(u32, u32)>>, String> {
    if params.get("ips").is_none() {
        return Ok(None);
    }
    let mut out = Vec::new();
    for it in params.list("ips") {
        let (a, b) = match it.split_once('-') {
            Some((a, b)) => (a, b),
            None => (it.as_str(), it.as_str()),
        };
        match (ip_num(a), ip_num(b)) {
            (Some(a), Some(b)) => out.push((a, b)),
            _ => return Err(format!("invalid value for parameter ips: {it}")),
        }
    }
    Ok(Some(out))
}

fn bad(text: &str) -> Response {
    simple_return(StatusCode::BAD_REQUEST, "1905", text)
}

fn limit(params: &Params, default: u64) -> Result<u64, Response> {
    match params.get("truncation_limit") {
        None => Ok(default),
        Some(v) => match v.parse::<u64>() {
            Ok(0) => Ok(u64::MAX),
            Ok(n) => Ok(n),
            Err(_) => Err(bad("invalid value for parameter truncation_limit")),
        },
    }
}

fn id_min(params: &Params) -> Result<u64, Response> {
    match params.get("id_min") {
        None => Ok(0),
        Some(v) => v
            .parse::<u64>()
            .map_err(|_| bad("invalid value for parameter id_min")),
    }
}

/// The truncation `WARNING` with the URL of the next page.
fn warning(state: &State, rest: &str, params: &Params, next: u64) -> String {
    let mut url = format!("{}/api/{}/fo/{rest}?", state.url, state.sub.fo_version);
    for (k, v) in &params.map {
        if k != "id_min" {
            let _ = write!(url, "{k}={}&amp;", crate::escape(v).replace(',', "%2C"));
        }
    }
    let _ = write!(url, "id_min={next}");
    format!(
        "<WARNING>\n<CODE>1980</CODE>\n<TEXT>{} record limit exceeded. Use URL to get next batch of results.</TEXT>\n<URL><![CDATA[{}]]></URL>\n</WARNING>\n",
        params.get("truncation_limit").unwrap_or("1000"),
        url.replace("&amp;", "&")
    )
}

fn head(root: &str, dtd: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\" ?>\n<!DOCTYPE {root} SYSTEM \"https://qualysapi.qualys.com/api/2.0/fo/compliance/{dtd}\">\n<{root}>\n<RESPONSE>\n<DATETIME>{}</DATETIME>\n",
        qdate(chrono::Utc::now())
    )
}

fn policies(state: &Arc<State>, params: &Params) -> Response {
    let sub = &state.sub;
    let ids = match id_set(params, "ids") {
        Ok(s) => s,
        Err(e) => return bad(&e),
    };
    let from = match id_min(params) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let details = params.get("details").unwrap_or("Basic").to_string();
    let cpp = sub.controls_per_policy as u64;
    let mut out = head("POLICY_LIST_OUTPUT", "policy/policy_list_output.dtd");
    out.push_str("<POLICY_LIST>\n");
    let mut n = 0u64;
    let mut next = None;
    for p in (from.max(1))..=(sub.policies as u64) {
        if !in_set(&ids, p) {
            continue;
        }
        if n == 1000 {
            next = Some(p);
            break;
        }
        n += 1;
        let created = sub.now - Duration::days(400 + p as i64);
        let modified = sub.now - Duration::days(10 + p as i64);
        let _ = write!(
            out,
            "<POLICY>\n<ID>{p}</ID>\n<TITLE><![CDATA[CIS Benchmark policy {p}]]></TITLE>\n<CREATED>\n<DATETIME>{}</DATETIME>\n<BY>vigil_qa</BY>\n</CREATED>\n<LAST_MODIFIED>\n<DATETIME>{}</DATETIME>\n<BY>vigil_qa</BY>\n</LAST_MODIFIED>\n<LAST_EVALUATED>\n<DATETIME>{}</DATETIME>\n</LAST_EVALUATED>\n<STATUS><![CDATA[active]]></STATUS>\n<IS_LOCKED>0</IS_LOCKED>\n<EVALUATE_NOW><![CDATA[No]]></EVALUATE_NOW>\n",
            qdate(created),
            qdate(modified),
            qdate(sub.now - Duration::days(1))
        );
        if details != "None" {
            out.push_str("<ASSET_GROUP_IDS>101,102,103</ASSET_GROUP_IDS>\n<SECTION_LIST>\n<SECTION>\n<NUMBER>1</NUMBER>\n<HEADING><![CDATA[Account policies]]></HEADING>\n<CONTROL_LIST>\n");
            for k in 0..cpp {
                let c = (p - 1) * cpp + k + 1;
                let v = control_criticality(c);
                let _ = write!(
                    out,
                    "<CONTROL>\n<ID>{c}</ID>\n<STATEMENT><![CDATA[{}]]></STATEMENT>\n<CRITICALITY>\n<LABEL>{}</LABEL>\n<VALUE>{v}</VALUE>\n</CRITICALITY>\n<DEPRECATED>0</DEPRECATED>\n</CONTROL>\n",
                    statement(c),
                    LABELS[(v - 1) as usize]
                );
            }
            out.push_str("</CONTROL_LIST>\n</SECTION>\n</SECTION_LIST>\n");
        }
        out.push_str("</POLICY>\n");
    }
    out.push_str("</POLICY_LIST>\n");
    if let Some(next) = next {
        out.push_str(&warning(state, "compliance/policy/", params, next));
    }
    out.push_str("</RESPONSE>\n</POLICY_LIST_OUTPUT>\n");
    xml(out)
}

fn statement(c: u64) -> String {
    format!("Status of the 'Minimum password length' setting (control {c})")
}

fn controls(state: &Arc<State>, params: &Params) -> Response {
    let sub = &state.sub;
    let ids = match id_set(params, "ids") {
        Ok(s) => s,
        Err(e) => return bad(&e),
    };
    let (from, lim) = match (id_min(params), limit(params, 1000)) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(r), _) | (_, Err(r)) => return r,
    };
    let details = params.get("details").unwrap_or("Basic").to_string();
    let total = sub.policies as u64 * sub.controls_per_policy as u64;
    let mut out = head("CONTROL_LIST_OUTPUT", "control/control_list_output.dtd");
    out.push_str("<CONTROL_LIST>\n");
    let mut n = 0u64;
    let mut next = None;
    for c in from.max(1)..=total {
        if !in_set(&ids, c) {
            continue;
        }
        if n == lim {
            next = Some(c);
            break;
        }
        n += 1;
        let v = control_criticality(c);
        let _ = write!(
            out,
            "<CONTROL>\n<ID>{c}</ID>\n<UPDATE_DATE>{}</UPDATE_DATE>\n<CREATED_DATE>{}</CREATED_DATE>\n<CATEGORY>\n<ID>{}</ID>\n<NAME><![CDATA[{}]]></NAME>\n</CATEGORY>\n<SUB_CATEGORY>\n<ID>{}</ID>\n<NAME><![CDATA[{}]]></NAME>\n</SUB_CATEGORY>\n<STATEMENT><![CDATA[{}]]></STATEMENT>\n<CRITICALITY>\n<LABEL>{}</LABEL>\n<VALUE>{v}</VALUE>\n</CRITICALITY>\n<CHECK_TYPE>{}</CHECK_TYPE>\n<IGNORE_ERROR>0</IGNORE_ERROR>\n",
            qdate(sub.now - Duration::days(5 + (c % 30) as i64)),
            qdate(sub.now - Duration::days(500 + c as i64)),
            1 + c % 2,
            if c % 2 == 0 { "Access Control Requirements" } else { "Audit Trails" },
            10 + c % 3,
            if c % 3 == 0 { "Password Policy" } else { "Logging" },
            statement(c),
            LABELS[(v - 1) as usize],
            if c % 2 == 0 { "Registry Value" } else { "File Permission" },
        );
        if details == "All" {
            let _ = write!(
                out,
                "<TECHNOLOGY_LIST>\n<TECHNOLOGY>\n<ID>45</ID>\n<NAME><![CDATA[Windows Server 2019]]></NAME>\n<RATIONALE><![CDATA[Short passwords are easy to guess.]]></RATIONALE>\n</TECHNOLOGY>\n<TECHNOLOGY>\n<ID>{}</ID>\n<NAME><![CDATA[{}]]></NAME>\n<RATIONALE><![CDATA[Logging supports investigations.]]></RATIONALE>\n</TECHNOLOGY>\n</TECHNOLOGY_LIST>\n<FRAMEWORK_LIST>\n<FRAMEWORK>\n<ID>1</ID>\n<NAME><![CDATA[CIS Controls v8]]></NAME>\n<REFERENCE_LIST>\n<REFERENCE>\n<SECTION><![CDATA[5.2]]></SECTION>\n</REFERENCE>\n</REFERENCE_LIST>\n</FRAMEWORK>\n<FRAMEWORK>\n<ID>7</ID>\n<NAME><![CDATA[NIST SP 800-53]]></NAME>\n</FRAMEWORK>\n</FRAMEWORK_LIST>\n",
                60 + c % 4,
                ["Red Hat Enterprise Linux 8.x", "Ubuntu 22.04", "Oracle 19c", "Microsoft SQL Server 2019"][(c % 4) as usize]
            );
        }
        out.push_str("</CONTROL>\n");
    }
    out.push_str("</CONTROL_LIST>\n");
    if let Some(next) = next {
        out.push_str(&warning(state, "compliance/control/", params, next));
    }
    out.push_str("</RESPONSE>\n</CONTROL_LIST_OUTPUT>\n");
    xml(out)
}

struct PostureQuery {
    policy: u64,
    from: u64,
    limit: u64,
    hosts: Option<Vec<(u64, u64)>>,
    controls: Option<Vec<(u64, u64)>>,
    groups: Option<Vec<(u64, u64)>>,
    ips: Option<Vec<(u32, u32)>>,
    status: Option<String>,
    labels: Vec<String>,
    values: Vec<u64>,
    details: String,
    cause: bool,
    extended: bool,
}

fn posture_query(params: &Params) -> Result<PostureQuery, Response> {
    let policy = match (params.get("policy_id"), params.get("policy_ids")) {
        (None, None) => {
            return Err(simple_return(
                StatusCode::BAD_REQUEST,
                "1903",
                "Missing required parameter(s): policy_id or policy_ids",
            ))
        }
        (Some(v), _) | (None, Some(v)) => v
            .split(',')
            .next()
            .and_then(|s| s.trim().parse::<u64>().ok())
            .ok_or_else(|| bad("invalid value for parameter policy_id"))?,
    };
    let status = match params.get("status") {
        None => None,
        Some(s @ ("Passed" | "Failed" | "Error")) => Some(s.to_string()),
        Some(s) => return Err(bad(&format!("invalid value for parameter status: {s}"))),
    };
    let mut values = Vec::new();
    for v in params.list("criticality_values") {
        match v.parse::<u64>() {
            Ok(n @ 1..=5) => values.push(n),
            _ => {
                return Err(bad(&format!(
                    "invalid value for parameter criticality_values: {v}"
                )))
            }
        }
    }
    let labels = params.list("criticality_labels");
    if let Some(l) = labels.iter().find(|l| !LABELS.contains(&l.as_str())) {
        return Err(bad(&format!(
            "invalid value for parameter criticality_labels: {l}"
        )));
    }
    Ok(PostureQuery {
        policy,
        from: id_min(params)?,
        limit: limit(params, 1000)?,
        hosts: id_set(params, "host_ids").map_err(|e| bad(&e))?,
        controls: id_set(params, "control_ids").map_err(|e| bad(&e))?,
        groups: id_set(params, "asset_group_ids").map_err(|e| bad(&e))?,
        ips: ip_ranges(params).map_err(|e| bad(&e))?,
        status,
        labels,
        values,
        details: params.get("details").unwrap_or("Basic").to_string(),
        cause: params.get("cause_of_failure") == Some("1"),
        extended: params.get("show_extended_evidence") == Some("1"),
    })
}

impl PostureQuery {
    fn host_ok(&self, h: u64) -> bool {
        in_set(&self.hosts, h)
            && in_set(&self.groups, asset_group(h))
            && match &self.ips {
                None => true,
                Some(r) => {
                    let ip = ip_num(&host_ip(h)).unwrap_or(0);
                    r.iter().any(|(a, b)| *a <= ip && ip <= *b)
                }
            }
    }

    fn control_ok(&self, c: u64) -> bool {
        let v = control_criticality(c);
        in_set(&self.controls, c)
            && (self.values.is_empty() || self.values.contains(&v))
            && (self.labels.is_empty() || self.labels.iter().any(|l| l == LABELS[(v - 1) as usize]))
    }
}

fn postures(state: &Arc<State>, params: &Params) -> Response {
    let q = match posture_query(params) {
        Ok(q) => q,
        Err(r) => return r,
    };
    let sub = state.sub.clone();
    let (hosts, cpp) = (sub.hosts, sub.controls_per_policy as u64);
    let known = q.policy >= 1 && q.policy <= sub.policies as u64;
    let base = (q.policy.max(1) - 1) * hosts * cpp;
    let first = base + 1;
    let last = base + hosts * cpp;
    let start = q.from.max(first);
    let params = params.clone();
    let state2 = state.clone();
    // Streamed in chunks: a posture page of any size costs no memory.
    let mut id = start;
    let mut emitted = 0u64;
    let mut stage = 0u8;
    let mut next: Option<u64> = None;
    let mut seen_controls: Vec<u64> = Vec::new();
    let mut seen_hosts: Vec<u64> = Vec::new();
    let chunks = std::iter::from_fn(move || {
        let mut out = String::new();
        match stage {
            0 => {
                stage = 1;
                out = head(
                    "POSTURE_INFO_LIST_OUTPUT",
                    "posture/info/posture_info_list_output.dtd",
                );
                out.push_str("<INFO_LIST>\n");
            }
            1 => {
                let mut in_chunk = 0;
                while known && id <= last && in_chunk < 200 {
                    let idx = id - base - 1;
                    let h = idx / cpp + 1;
                    let k = idx % cpp;
                    let c = (q.policy - 1) * cpp + k + 1;
                    let status = posture_status(h, c);
                    let this = id;
                    id += 1;
                    if !(q.host_ok(h)
                        && q.control_ok(c)
                        && q.status.as_deref().is_none_or(|s| s == status))
                    {
                        continue;
                    }
                    if emitted == q.limit {
                        next = Some(this);
                        id = last + 1;
                        break;
                    }
                    emitted += 1;
                    in_chunk += 1;
                    if seen_controls.len() < 10_000 && !seen_controls.contains(&c) {
                        seen_controls.push(c);
                    }
                    if seen_hosts.len() < 10_000 && !seen_hosts.contains(&h) {
                        seen_hosts.push(h);
                    }
                    posture(&mut out, &sub, &q, this, h, c, k, status);
                }
                if !known || id > last {
                    stage = 2;
                    out.push_str("</INFO_LIST>\n");
                }
            }
            2 => {
                stage = 3;
                if let Some(n) = next {
                    out.push_str(&warning(&state2, "compliance/posture/info/", &params, n));
                }
                out.push_str("<GLOSSARY>\n<HOST_LIST>\n");
                for h in &seen_hosts {
                    let _ = write!(
                        out,
                        "<HOST>\n<ID>{h}</ID>\n<IP>{}</IP>\n<TRACKING_METHOD>IP</TRACKING_METHOD>\n<DNS><![CDATA[host{h}.example.com]]></DNS>\n<OS><![CDATA[Windows Server 2019]]></OS>\n</HOST>\n",
                        host_ip(*h)
                    );
                }
                out.push_str("</HOST_LIST>\n<CONTROL_LIST>\n");
                for c in &seen_controls {
                    let v = control_criticality(*c);
                    let _ = write!(
                        out,
                        "<CONTROL>\n<ID>{c}</ID>\n<STATEMENT><![CDATA[{}]]></STATEMENT>\n<CRITICALITY>\n<LABEL>{}</LABEL>\n<VALUE>{v}</VALUE>\n</CRITICALITY>\n</CONTROL>\n",
                        statement(*c),
                        LABELS[(v - 1) as usize]
                    );
                }
                out.push_str(
                    "</CONTROL_LIST>\n</GLOSSARY>\n</RESPONSE>\n</POSTURE_INFO_LIST_OUTPUT>\n",
                );
            }
            _ => return None,
        }
        Some(out)
    });
    xml_stream(chunks)
}

#[allow(clippy::too_many_arguments)]
fn posture(
    out: &mut String,
    sub: &crate::Subscription,
    q: &PostureQuery,
    id: u64,
    h: u64,
    c: u64,
    k: u64,
    status: &str,
) {
    let modified = sub.now - Duration::hours(((id * 13) % 500) as i64);
    let _ = write!(
        out,
        "<INFO>\n<ID>{id}</ID>\n<HOST_ID>{h}</HOST_ID>\n<CONTROL_ID>{c}</CONTROL_ID>\n<TECHNOLOGY_ID>{}</TECHNOLOGY_ID>\n",
        60 + c % 4
    );
    if k % 4 == 3 {
        out.push_str("<INSTANCE><![CDATA[MSSQL:MSSQLSERVER]]></INSTANCE>\n");
    }
    let _ = write!(
        out,
        "<STATUS>{status}</STATUS>\n<POSTURE_MODIFIED_DATE>{}</POSTURE_MODIFIED_DATE>\n",
        qdate(modified)
    );
    if status == "Failed" {
        let _ = write!(
            out,
            "<FIRST_FAIL_DATE>{}</FIRST_FAIL_DATE>\n<LAST_FAIL_DATE>{}</LAST_FAIL_DATE>\n",
            qdate(modified - Duration::days(20)),
            qdate(modified)
        );
    }
    let _ = writeln!(
        out,
        "<LAST_EVALUATED_DATE>{}</LAST_EVALUATED_DATE>",
        qdate(sub.now - Duration::hours(2))
    );
    if q.details == "All" {
        let _ = write!(
            out,
            "<EVIDENCE>\n<BOOLEAN_EXPR><![CDATA[minimum_password_length >= 14]]></BOOLEAN_EXPR>\n<DPV_LIST>\n<DPV>\n<LABEL><![CDATA[Minimum password length]]></LABEL>\n<V><![CDATA[{}]]></V>\n</DPV>\n</DPV_LIST>\n</EVIDENCE>\n",
            if status == "Passed" { 14 } else { 8 }
        );
    }
    if q.cause && status == "Failed" {
        out.push_str("<CAUSE_OF_FAILURE>\n<UNEXPECTED>\n<V><![CDATA[8]]></V>\n</UNEXPECTED>\n<MISSING>\n<LOGIC>any</LOGIC>\n<V><![CDATA[14]]></V>\n</MISSING>\n</CAUSE_OF_FAILURE>\n");
    }
    if q.extended {
        let _ = writeln!(
            out,
            "<EXTENDED_EVIDENCE><![CDATA[HKLM\\SYSTEM\\CurrentControlSet\\Policies MinimumPasswordLength on host {h}]]></EXTENDED_EVIDENCE>"
        );
    }
    out.push_str("</INFO>\n");
}
