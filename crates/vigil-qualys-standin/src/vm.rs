//! Vulnerability Management endpoints of the stand-in, in Qualys' formats:
//! `fo/asset/host/` (`HOST_LIST_OUTPUT`), `fo/asset/host/vm/detection/`
//! (`HOST_LIST_VM_DETECTION_OUTPUT`), `fo/knowledge_base/vuln/`
//! (`KNOWLEDGE_BASE_VULN_LIST_OUTPUT`) and QPS `search/am/hostasset`
//! (`ServiceResponse` with `HostAsset`s).
//!
//! Everything is generated from the [`Subscription`] deterministically (see
//! [`host`] and [`detection`], which tests use for their expectations) and
//! streamed host by host, so 100,000 hosts × 50 detections cost no memory.
//! The filters Qualys documents are applied: `vm_scan_since`,
//! `detection_updated_since`, `severities`, `include_vuln_type`,
//! `show_igs`, `status`, `show_results`, tags (`use_tags`,
//! `tag_set_include`, `tag_include_selector`), `ars_min`/`ars_max`,
//! `show_ars`, `show_ars_factors`, `ids`, `id_min`/`id_max`,
//! `truncation_limit` (with the `WARNING` 1980 and its `URL`), QPS
//! `Criteria` `updated`/`id` GREATER, `limitResults`, `hasMoreRecords`,
//! `lastId`.

use crate::{escape, qdate, xml, xml_stream, Params, State, Subscription};
use axum::response::Response;
use chrono::{DateTime, Duration, Utc};
use std::fmt::Write;
use std::sync::Arc;

/// A generated host.
#[derive(Debug, Clone)]
pub struct Host {
    pub id: u64,
    pub asset_id: u64,
    pub ip: String,
    pub dns: String,
    pub netbios: String,
    pub os: &'static str,
    pub tracking: &'static str,
    pub tags: Vec<String>,
    pub ec2: Option<String>,
    pub last_scan: DateTime<Utc>,
    pub modified: DateTime<Utc>,
    pub criticality: u8,
    pub ars: u32,
    pub mac: String,
    pub gateway: String,
}

/// Host `i` (1-based): scanned `i % 14` days (plus an hour) ago, modified
/// `i % 120` days (plus an hour) ago, tagged `env:prod` (even) or `env:dev`
/// (odd) and `team-{i % 3}`, ARS `(i * 37) % 1001`, criticality
/// `1 + i % 5`; host `k + 1` is `ec2_instances[k]`.
pub fn host(sub: &Subscription, i: u64) -> Host {
    let hour = Duration::hours(1);
    let ec2 = sub.ec2_instances.get((i as usize).wrapping_sub(1)).cloned();
    const OS: [&str; 4] = [
        "Amazon Linux 2",
        "Windows Server 2019 Datacenter",
        "Ubuntu 22.04.3 LTS",
        "Red Hat Enterprise Linux 8.9",
    ];
    const TRACKING: [&str; 3] = ["IP", "DNS", "AGENT"];
    Host {
        id: i,
        asset_id: 1_000_000 + i,
        ip: format!("10.{}.{}.{}", (i >> 16) & 255, (i >> 8) & 255, i & 255),
        dns: format!("host-{i}.corp.example.com"),
        netbios: format!("HOST-{i}"),
        os: OS[(i % 4) as usize],
        tracking: if ec2.is_some() {
            "EC2"
        } else {
            TRACKING[(i % 3) as usize]
        },
        tags: vec![
            if i % 2 == 0 { "env:prod" } else { "env:dev" }.to_string(),
            format!("team-{}", i % 3),
        ],
        ec2,
        last_scan: sub.now - Duration::days((i % 14) as i64) - hour,
        modified: sub.now - Duration::days((i % 120) as i64) - hour,
        criticality: 1 + (i % 5) as u8,
        ars: ((i * 37) % 1001) as u32,
        mac: format!(
            "02:00:00:{:02x}:{:02x}:{:02x}",
            (i >> 16) & 255,
            (i >> 8) & 255,
            i & 255
        ),
        gateway: format!("10.{}.{}.1", (i >> 16) & 255, (i >> 8) & 255),
    }
}

/// A generated detection.
#[derive(Debug, Clone)]
pub struct Detection {
    pub qid: u64,
    pub kind: &'static str,
    pub severity: u8,
    pub port: u32,
    pub ssl: bool,
    pub status: &'static str,
    pub first_found: DateTime<Utc>,
    pub last_found: DateTime<Utc>,
    pub times_found: u32,
    pub results: String,
}

/// The type of a QID: `qid % 4` 0 Info, 1 Potential, else Confirmed.
pub fn qid_type(qid: u64) -> &'static str {
    match qid % 4 {
        0 => "Info",
        1 => "Potential",
        _ => "Confirmed",
    }
}

/// The severity of a QID: `1 + qid % 5`.
pub fn qid_severity(qid: u64) -> u8 {
    1 + (qid % 5) as u8
}

/// The first QID.
pub const QID_BASE: u64 = 10_000;

/// Detection `j` of host `i`: QID `10000 + (7i + j) % qids`, status by
/// `(i + j) % 4` (New, Active, Fixed, Re-Opened), last found (= last
/// updated) `(i + 3j) % 20` days (plus an hour) ago, RESULTS about 400
/// bytes.
pub fn detection(sub: &Subscription, i: u64, j: u32) -> Detection {
    let qid = QID_BASE + (i * 7 + u64::from(j)) % u64::from(sub.qids.max(1));
    const STATUS: [&str; 4] = ["New", "Active", "Fixed", "Re-Opened"];
    let last_found =
        sub.now - Duration::days(((i + 3 * u64::from(j)) % 20) as i64) - Duration::hours(1);
    let mut results = format!("QID {qid} host {i} port {}: ", 22 + j);
    while results.len() < 400 {
        results.push_str("Vulnerable version of package detected; installed 1.2.3, fixed 1.2.4. ");
    }
    Detection {
        qid,
        kind: qid_type(qid),
        severity: qid_severity(qid),
        port: 22 + j,
        ssl: j % 3 == 0,
        status: STATUS[((i + u64::from(j)) % 4) as usize],
        first_found: last_found - Duration::days(30),
        last_found,
        times_found: 1 + ((i + u64::from(j)) % 10) as u32,
        results,
    }
}

fn parse_date(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
}

/// `1,3-5` style id lists.
fn id_set(list: &[String]) -> Vec<(u64, u64)> {
    list.iter()
        .filter_map(|s| match s.split_once('-') {
            Some((a, b)) => Some((a.trim().parse().ok()?, b.trim().parse().ok()?)),
            None => {
                let v = s.trim().parse().ok()?;
                Some((v, v))
            }
        })
        .collect()
}

/// The host filters shared by the host list and the detection list.
#[derive(Clone)]
struct HostFilter {
    scan_since: Option<DateTime<Utc>>,
    tags: Option<Vec<String>>,
    ids: Vec<(u64, u64)>,
    id_min: u64,
    id_max: u64,
    ars: (Option<u32>, Option<u32>),
}

impl HostFilter {
    fn new(p: &Params, with_ars: bool) -> HostFilter {
        let use_tags = p.get("use_tags") == Some("1");
        HostFilter {
            scan_since: p.get("vm_scan_since").and_then(parse_date),
            tags: use_tags.then(|| p.list("tag_set_include")),
            ids: id_set(&p.list("ids")),
            id_min: p.get("id_min").and_then(|v| v.parse().ok()).unwrap_or(1),
            id_max: p
                .get("id_max")
                .and_then(|v| v.parse().ok())
                .unwrap_or(u64::MAX),
            ars: if with_ars {
                (
                    p.get("ars_min").and_then(|v| v.parse().ok()),
                    p.get("ars_max").and_then(|v| v.parse().ok()),
                )
            } else {
                (None, None)
            },
        }
    }

    fn keeps(&self, h: &Host) -> bool {
        if h.id < self.id_min || h.id > self.id_max {
            return false;
        }
        if !self.ids.is_empty() && !self.ids.iter().any(|(a, b)| (*a..=*b).contains(&h.id)) {
            return false;
        }
        if self.scan_since.is_some_and(|s| h.last_scan < s) {
            return false;
        }
        if let Some(tags) = &self.tags {
            if !h.tags.iter().any(|t| tags.contains(t)) {
                return false;
            }
        }
        if self.ars.0.is_some_and(|m| h.ars < m) || self.ars.1.is_some_and(|m| h.ars > m) {
            return false;
        }
        true
    }
}

/// Routes `/api/{fo}/fo/<rest>` of this family.
pub fn route(state: &Arc<State>, rest: &str, params: &Params) -> Option<Response> {
    let rest = rest.trim_end_matches('/');
    match rest {
        "asset/host" => Some(host_list(state, params)),
        "asset/host/vm/detection" => Some(detection_list(state, params)),
        "knowledge_base/vuln" => Some(kb(state, params)),
        _ => None,
    }
}

/// Routes `/qps/rest/{am}/<rest>` of this family.
pub fn route_qps(state: &Arc<State>, rest: &str, params: &Params) -> Option<Response> {
    match rest.trim_end_matches('/') {
        "search/am/hostasset" => Some(hostassets(state, params)),
        _ => None,
    }
}

fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// The truncation `WARNING` with the next page's URL: the request's
/// parameters with `id_min` set.
fn warning(state: &State, path: &str, params: &Params, next_id: u64) -> String {
    let mut q: Vec<String> = params
        .map
        .iter()
        .filter(|(k, _)| k.as_str() != "id_min")
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect();
    q.push(format!("id_min={next_id}"));
    let limit = params.get("truncation_limit").unwrap_or("1000");
    format!(
        "    <WARNING>\n      <CODE>1980</CODE>\n      <TEXT>{limit} record limit exceeded. Use URL to get next batch of results.</TEXT>\n      <URL><![CDATA[{}{path}?{}]]></URL>\n    </WARNING>\n",
        state.url,
        q.join("&")
    )
}

/// Streams a host-paged fo answer: `render(i)` gives host `i`'s XML when
/// it is selected; at most `truncation_limit` hosts, then the WARNING.
fn paged(
    state: &Arc<State>,
    params: &Params,
    path: String,
    root: &'static str,
    dtd: &'static str,
    render: impl Fn(&Subscription, u64) -> Option<String> + Send + 'static,
) -> Response {
    let limit: u64 = params
        .get("truncation_limit")
        .and_then(|v| v.parse().ok())
        .filter(|v| *v > 0)
        .unwrap_or(1000);
    let start: u64 = params
        .get("id_min")
        .and_then(|v| v.parse().ok())
        .unwrap_or(1)
        .max(1);
    let state = state.clone();
    let params = params.clone();
    let mut phase = 0u8;
    let mut cursor = start;
    let mut emitted = 0u64;
    let mut opened = false;
    let chunks = std::iter::from_fn(move || {
        let sub = &state.sub;
        match phase {
            0 => {
                phase = 1;
                Some(format!(
                    "<?xml version=\"1.0\" encoding=\"UTF-8\" ?>\n<!DOCTYPE {root} SYSTEM \"https://qualysapi.qualys.com/api/2.0/fo/{dtd}\">\n<{root}>\n  <RESPONSE>\n    <DATETIME>{}</DATETIME>\n",
                    qdate(sub.now)
                ))
            }
            1 => {
                let mut out = String::with_capacity(80 * 1024);
                while out.len() < 64 * 1024 {
                    if cursor > sub.hosts {
                        phase = 2;
                        break;
                    }
                    if emitted == limit {
                        // Is there a next page?
                        let mut k = cursor;
                        while k <= sub.hosts && render(sub, k).is_none() {
                            k += 1;
                        }
                        if opened {
                            out.push_str("    </HOST_LIST>\n");
                            opened = false;
                        }
                        if k <= sub.hosts {
                            out.push_str(&warning(&state, &path, &params, k));
                        }
                        phase = 3;
                        break;
                    }
                    if let Some(x) = render(sub, cursor) {
                        if !opened {
                            out.push_str("    <HOST_LIST>\n");
                            opened = true;
                        }
                        out.push_str(&x);
                        emitted += 1;
                    }
                    cursor += 1;
                }
                Some(out)
            }
            2 => {
                phase = 3;
                Some(if opened {
                    "    </HOST_LIST>\n".to_string()
                } else {
                    String::new()
                })
            }
            3 => {
                phase = 4;
                Some(format!("  </RESPONSE>\n</{root}>\n"))
            }
            _ => None,
        }
    });
    xml_stream(chunks)
}

fn tags_xml(out: &mut String, h: &Host) {
    out.push_str("        <TAGS>\n");
    for (k, t) in h.tags.iter().enumerate() {
        let _ = writeln!(
            out,
            "          <TAG><TAG_ID>{}</TAG_ID><NAME><![CDATA[{t}]]></NAME></TAG>",
            7000 + k
        );
    }
    out.push_str("        </TAGS>\n");
}

fn metadata_xml(out: &mut String, h: &Host) {
    if let Some(inst) = &h.ec2 {
        out.push_str("        <METADATA>\n          <EC2>\n");
        for (name, value) in [
            (
                "latest/dynamic/instance-identity/document/instanceId",
                inst.as_str(),
            ),
            (
                "latest/dynamic/instance-identity/document/accountId",
                "123456789012",
            ),
            (
                "latest/dynamic/instance-identity/document/region",
                "us-east-1",
            ),
        ] {
            let _ = writeln!(
                out,
                "            <ATTRIBUTE><NAME><![CDATA[{name}]]></NAME><LAST_STATUS>Success</LAST_STATUS><VALUE><![CDATA[{value}]]></VALUE><LAST_SUCCESS_DATE>2024-01-01T00:00:00Z</LAST_SUCCESS_DATE><LAST_ERROR_DATE></LAST_ERROR_DATE><LAST_ERROR><![CDATA[]]></LAST_ERROR></ATTRIBUTE>"
            );
        }
        out.push_str("          </EC2>\n        </METADATA>\n");
    }
}

fn host_list(state: &Arc<State>, params: &Params) -> Response {
    let filter = HostFilter::new(params, true);
    let show_ars = params.get("show_ars") == Some("1");
    let show_factors = params.get("show_ars_factors") == Some("1");
    let path = format!("/api/{}/fo/asset/host/", state.sub.fo_version);
    paged(
        state,
        params,
        path,
        "HOST_LIST_OUTPUT",
        "asset/host/host_list_output.dtd",
        move |sub, i| {
            let h = host(sub, i);
            if !filter.keeps(&h) {
                return None;
            }
            let mut o = String::with_capacity(2048);
            let _ = write!(
                o,
                "      <HOST>\n        <ID>{}</ID>\n        <ASSET_ID>{}</ASSET_ID>\n        <IP>{}</IP>\n        <TRACKING_METHOD>{}</TRACKING_METHOD>\n        <DNS><![CDATA[{}]]></DNS>\n        <DNS_DATA>\n          <HOSTNAME><![CDATA[host-{i}]]></HOSTNAME>\n          <DOMAIN><![CDATA[corp.example.com]]></DOMAIN>\n          <FQDN><![CDATA[{}]]></FQDN>\n        </DNS_DATA>\n",
                h.id, h.asset_id, h.ip, h.tracking, h.dns, h.dns
            );
            if let Some(inst) = &h.ec2 {
                let _ = writeln!(
                    o,
                    "        <EC2_INSTANCE_ID><![CDATA[{inst}]]></EC2_INSTANCE_ID>"
                );
            }
            let _ = write!(
                o,
                "        <NETBIOS><![CDATA[{}]]></NETBIOS>\n        <OS><![CDATA[{}]]></OS>\n        <QG_HOSTID><![CDATA[qg-{i}]]></QG_HOSTID>\n",
                h.netbios,
                escape(h.os)
            );
            tags_xml(&mut o, &h);
            metadata_xml(&mut o, &h);
            let _ = write!(
                o,
                "        <LAST_VULN_SCAN_DATETIME>{}</LAST_VULN_SCAN_DATETIME>\n        <LAST_VM_SCANNED_DATE>{}</LAST_VM_SCANNED_DATE>\n        <LAST_COMPLIANCE_SCAN_DATETIME>{}</LAST_COMPLIANCE_SCAN_DATETIME>\n        <ASSET_CRITICALITY_SCORE>{}</ASSET_CRITICALITY_SCORE>\n",
                qdate(h.last_scan),
                qdate(h.last_scan),
                qdate(h.last_scan - Duration::days(1)),
                h.criticality
            );
            if show_ars {
                let _ = writeln!(o, "        <ASSET_RISK_SCORE>{}</ASSET_RISK_SCORE>", h.ars);
            }
            if show_factors {
                let _ = write!(
                    o,
                    "        <ARS_FACTORS>\n          <ARS_FORMULA><![CDATA[ACS * (wc * Sc + wh * Sh + wm * Sm + wl * Sl)]]></ARS_FORMULA>\n          <VULN_COUNT qds_severity=\"5\">{}</VULN_COUNT>\n        </ARS_FACTORS>\n",
                    i % 7
                );
            }
            o.push_str("      </HOST>\n");
            Some(o)
        },
    )
}

/// The detection filters of a request.
struct DetFilter {
    severities: Vec<u8>,
    types: Vec<&'static str>,
    updated_since: Option<DateTime<Utc>>,
    status: Vec<String>,
    results: bool,
}

impl DetFilter {
    fn new(p: &Params) -> DetFilter {
        let sev: Vec<u8> = p
            .list("severities")
            .iter()
            .filter_map(|s| s.parse().ok())
            .collect();
        let vt = p.list("include_vuln_type");
        let mut types = Vec::new();
        if vt.is_empty() || vt.iter().any(|t| t.eq_ignore_ascii_case("confirmed")) {
            types.push("Confirmed");
        }
        if vt.is_empty() || vt.iter().any(|t| t.eq_ignore_ascii_case("potential")) {
            types.push("Potential");
        }
        if p.get("show_igs") == Some("1") {
            types.push("Info");
        }
        let status = p.list("status");
        DetFilter {
            severities: if sev.is_empty() {
                vec![1, 2, 3, 4, 5]
            } else {
                sev
            },
            types,
            updated_since: p.get("detection_updated_since").and_then(parse_date),
            status: if status.is_empty() {
                vec!["New".into(), "Active".into(), "Re-Opened".into()]
            } else {
                status
            },
            results: p.get("show_results") != Some("0"),
        }
    }

    fn keeps(&self, d: &Detection) -> bool {
        self.severities.contains(&d.severity)
            && self.types.contains(&d.kind)
            && self.updated_since.is_none_or(|s| d.last_found >= s)
            && self.status.iter().any(|s| s == d.status)
    }
}

fn detection_list(state: &Arc<State>, params: &Params) -> Response {
    let hosts = HostFilter::new(params, false);
    let dets = DetFilter::new(params);
    let path = format!("/api/{}/fo/asset/host/vm/detection/", state.sub.fo_version);
    paged(
        state,
        params,
        path,
        "HOST_LIST_VM_DETECTION_OUTPUT",
        "asset/host/vm/detection/host_list_vm_detection_output.dtd",
        move |sub, i| {
            let h = host(sub, i);
            if !hosts.keeps(&h) {
                return None;
            }
            let mut list = String::new();
            for j in 0..sub.detections_per_host {
                let d = detection(sub, i, j);
                if !dets.keeps(&d) {
                    continue;
                }
                let _ = write!(
                    list,
                    "          <DETECTION>\n            <UNIQUE_VULN_ID>{}</UNIQUE_VULN_ID>\n            <QID>{}</QID>\n            <TYPE>{}</TYPE>\n            <SEVERITY>{}</SEVERITY>\n            <PORT>{}</PORT>\n            <PROTOCOL>tcp</PROTOCOL>\n            <SSL>{}</SSL>\n",
                    i * 1000 + u64::from(j),
                    d.qid,
                    d.kind,
                    d.severity,
                    d.port,
                    u8::from(d.ssl)
                );
                if dets.results {
                    let _ = writeln!(
                        list,
                        "            <RESULTS><![CDATA[{}]]></RESULTS>",
                        d.results
                    );
                }
                let _ = write!(
                    list,
                    "            <STATUS>{}</STATUS>\n            <FIRST_FOUND_DATETIME>{}</FIRST_FOUND_DATETIME>\n            <LAST_FOUND_DATETIME>{}</LAST_FOUND_DATETIME>\n            <TIMES_FOUND>{}</TIMES_FOUND>\n            <LAST_TEST_DATETIME>{}</LAST_TEST_DATETIME>\n            <LAST_UPDATE_DATETIME>{}</LAST_UPDATE_DATETIME>\n",
                    d.status,
                    qdate(d.first_found),
                    qdate(d.last_found),
                    d.times_found,
                    qdate(d.last_found),
                    qdate(d.last_found)
                );
                if d.status == "Fixed" {
                    let _ = writeln!(
                        list,
                        "            <LAST_FIXED_DATETIME>{}</LAST_FIXED_DATETIME>",
                        qdate(d.last_found)
                    );
                }
                list.push_str("            <IS_IGNORED>0</IS_IGNORED>\n            <IS_DISABLED>0</IS_DISABLED>\n            <LAST_PROCESSED_DATETIME>2024-01-01T00:00:00Z</LAST_PROCESSED_DATETIME>\n          </DETECTION>\n");
            }
            if list.is_empty() {
                return None;
            }
            let mut o = String::with_capacity(list.len() + 1024);
            let _ = write!(
                o,
                "      <HOST>\n        <ID>{}</ID>\n        <ASSET_ID>{}</ASSET_ID>\n        <IP>{}</IP>\n        <TRACKING_METHOD>{}</TRACKING_METHOD>\n        <OS><![CDATA[{}]]></OS>\n        <DNS><![CDATA[{}]]></DNS>\n        <NETBIOS><![CDATA[{}]]></NETBIOS>\n        <LAST_SCAN_DATETIME>{}</LAST_SCAN_DATETIME>\n        <LAST_VM_SCANNED_DATE>{}</LAST_VM_SCANNED_DATE>\n",
                h.id,
                h.asset_id,
                h.ip,
                h.tracking,
                escape(h.os),
                h.dns,
                h.netbios,
                qdate(h.last_scan),
                qdate(h.last_scan)
            );
            o.push_str("        <DETECTION_LIST>\n");
            o.push_str(&list);
            o.push_str("        </DETECTION_LIST>\n      </HOST>\n");
            Some(o)
        },
    )
}

fn kb(state: &Arc<State>, params: &Params) -> Response {
    let sub = &state.sub;
    let ids = id_set(&params.list("ids"));
    let last = QID_BASE + u64::from(sub.qids);
    let mut o = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\" ?>\n<!DOCTYPE KNOWLEDGE_BASE_VULN_LIST_OUTPUT SYSTEM \"https://qualysapi.qualys.com/api/2.0/fo/knowledge_base/vuln/knowledge_base_vuln_list_output.dtd\">\n<KNOWLEDGE_BASE_VULN_LIST_OUTPUT>\n  <RESPONSE>\n    <DATETIME>{}</DATETIME>\n    <VULN_LIST>\n",
        qdate(sub.now)
    );
    for (a, b) in ids {
        for qid in a.max(QID_BASE)..=b.min(last.saturating_sub(1)) {
            let vuln_type = match qid_type(qid) {
                "Info" => "Information Gathered",
                "Potential" => "Potential Vulnerability",
                _ => "Vulnerability",
            };
            let _ = write!(
                o,
                "      <VULN>\n        <QID>{qid}</QID>\n        <VULN_TYPE>{vuln_type}</VULN_TYPE>\n        <SEVERITY_LEVEL>{}</SEVERITY_LEVEL>\n        <TITLE><![CDATA[Generated vulnerability {qid} & friends]]></TITLE>\n        <CATEGORY>{}</CATEGORY>\n        <LAST_SERVICE_MODIFICATION_DATETIME>{}</LAST_SERVICE_MODIFICATION_DATETIME>\n        <PUBLISHED_DATETIME>2023-03-01T00:00:00Z</PUBLISHED_DATETIME>\n        <PATCHABLE>{}</PATCHABLE>\n        <DIAGNOSIS><![CDATA[The package is <b>outdated</b>.]]></DIAGNOSIS>\n        <CONSEQUENCE><![CDATA[Remote code execution.]]></CONSEQUENCE>\n        <SOLUTION><![CDATA[Upgrade to 1.2.4.]]></SOLUTION>\n        <CVE_LIST>\n          <CVE><ID><![CDATA[CVE-2024-{qid}]]></ID><URL><![CDATA[https://nvd.nist.gov/vuln/detail/CVE-2024-{qid}]]></URL></CVE>\n          <CVE><ID><![CDATA[CVE-2023-{qid}]]></ID><URL><![CDATA[https://nvd.nist.gov/vuln/detail/CVE-2023-{qid}]]></URL></CVE>\n        </CVE_LIST>\n        <CVSS>\n          <BASE source=\"service\">{}.5</BASE>\n          <TEMPORAL>5.1</TEMPORAL>\n        </CVSS>\n        <CVSS_V3>\n          <BASE>{}.8</BASE>\n          <TEMPORAL>6.6</TEMPORAL>\n        </CVSS_V3>\n      </VULN>\n",
                qid_severity(qid),
                if qid % 2 == 0 { "Local" } else { "Web server" },
                qdate(sub.now - Duration::days(3)),
                u8::from(qid % 3 != 0),
                qid_severity(qid) + 3,
                qid_severity(qid) + 4,
            );
        }
    }
    o.push_str("    </VULN_LIST>\n  </RESPONSE>\n</KNOWLEDGE_BASE_VULN_LIST_OUTPUT>\n");
    xml(o)
}

/// The value of `<Criteria field="F" operator="GREATER">V</Criteria>`.
fn criteria(body: &str, field: &str) -> Option<String> {
    let open = format!("field=\"{field}\" operator=\"GREATER\">");
    let start = body.find(&open)? + open.len();
    let end = body[start..].find('<')? + start;
    Some(body[start..end].trim().to_string())
}

fn between(body: &str, open: &str, close: &str) -> Option<String> {
    let start = body.find(open)? + open.len();
    let end = body[start..].find(close)? + start;
    Some(body[start..end].trim().to_string())
}

fn hostassets(state: &Arc<State>, params: &Params) -> Response {
    let sub = state.sub.clone();
    let body = &params.body;
    let limit: u64 = between(body, "<limitResults>", "</limitResults>")
        .and_then(|v| v.parse().ok())
        .filter(|v| *v > 0)
        .unwrap_or(100);
    let updated = criteria(body, "updated")
        .or_else(|| criteria(body, "modified"))
        .and_then(|v| parse_date(&v));
    let after_asset: u64 = criteria(body, "id")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let first = after_asset
        .saturating_sub(1_000_000)
        .saturating_add(1)
        .max(1);
    let keeps = |h: &Host| updated.is_none_or(|u| h.modified > u);
    // The page's hosts (ids only) and whether more follow.
    let mut ids: Vec<u64> = Vec::new();
    let mut more = false;
    let mut k = first;
    while k <= sub.hosts {
        if keeps(&host(&sub, k)) {
            if ids.len() as u64 == limit {
                more = true;
                break;
            }
            ids.push(k);
        }
        k += 1;
    }
    let mut head = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ServiceResponse xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:noNamespaceSchemaLocation=\"https://qualysapi.qualys.com/qps/xsd/2.0/am/hostasset.xsd\">\n  <responseCode>SUCCESS</responseCode>\n  <count>{}</count>\n  <hasMoreRecords>{more}</hasMoreRecords>\n",
        ids.len()
    );
    if let (true, Some(last)) = (more, ids.last()) {
        let _ = writeln!(head, "  <lastId>{}</lastId>", 1_000_000 + last);
    }
    let mut pos = 0usize;
    let mut phase = 0u8;
    let chunks = std::iter::from_fn(move || match phase {
        0 => {
            phase = 1;
            if !ids.is_empty() {
                head.push_str("  <data>\n");
            }
            Some(std::mem::take(&mut head))
        }
        1 => {
            let mut o = String::with_capacity(80 * 1024);
            while o.len() < 64 * 1024 && pos < ids.len() {
                let i = ids[pos];
                pos += 1;
                let h = host(&sub, i);
                let _ = write!(
                    o,
                    "    <HostAsset>\n      <id>{}</id>\n      <name><![CDATA[{}]]></name>\n      <created>2023-01-01T00:00:00Z</created>\n      <modified>{}</modified>\n      <type>HOST</type>\n      <tags>\n        <list>\n",
                    h.asset_id,
                    h.dns,
                    qdate(h.modified)
                );
                for (k, t) in h.tags.iter().enumerate() {
                    let _ = writeln!(
                        o,
                        "          <TagSimple><id>{}</id><name><![CDATA[{t}]]></name></TagSimple>",
                        7000 + k
                    );
                }
                o.push_str("        </list>\n      </tags>\n      <sourceInfo>\n        <list>\n");
                if let Some(inst) = &h.ec2 {
                    let _ = write!(
                        o,
                        "          <Ec2AssetSourceSimple>\n            <assetId>{}</assetId>\n            <type>EC_2</type>\n            <firstDiscovered>2023-01-01T00:00:00Z</firstDiscovered>\n            <lastUpdated>{}</lastUpdated>\n            <reservationId>r-0{i:x}</reservationId>\n            <availabilityZone>us-east-1a</availabilityZone>\n            <accountId>123456789012</accountId>\n            <region>us-east-1</region>\n            <instanceId>{inst}</instanceId>\n            <instanceType>t3.micro</instanceType>\n          </Ec2AssetSourceSimple>\n",
                        h.asset_id,
                        qdate(h.modified)
                    );
                } else {
                    let _ = write!(
                        o,
                        "          <AssetSource>\n            <assetId>{}</assetId>\n            <type>QUALYS</type>\n          </AssetSource>\n",
                        h.asset_id
                    );
                }
                let _ = write!(
                    o,
                    "        </list>\n      </sourceInfo>\n      <qwebHostId>{}</qwebHostId>\n      <lastVulnScan>{}</lastVulnScan>\n      <os><![CDATA[{}]]></os>\n      <dnsHostName><![CDATA[{}]]></dnsHostName>\n      <fqdn><![CDATA[{}]]></fqdn>\n      <netbiosName><![CDATA[{}]]></netbiosName>\n      <address>{}</address>\n      <trackingMethod>{}</trackingMethod>\n      <criticalityScore>{}</criticalityScore>\n      <networkInterface>\n        <list>\n          <HostAssetInterface>\n            <hostname><![CDATA[host-{}]]></hostname>\n            <interfaceName><![CDATA[eth0]]></interfaceName>\n            <macAddress>{}</macAddress>\n            <type>LOCAL</type>\n            <address>{}</address>\n            <gatewayAddress>{}</gatewayAddress>\n          </HostAssetInterface>\n        </list>\n      </networkInterface>\n    </HostAsset>\n",
                    h.id,
                    qdate(h.last_scan),
                    escape(h.os),
                    h.dns,
                    h.dns,
                    h.netbios,
                    h.ip,
                    h.tracking,
                    h.criticality,
                    h.id,
                    h.mac,
                    h.ip,
                    h.gateway
                );
            }
            if pos >= ids.len() {
                phase = 2;
            }
            Some(o)
        }
        2 => {
            phase = 3;
            Some(if ids.is_empty() {
                "</ServiceResponse>\n".to_string()
            } else {
                "  </data>\n</ServiceResponse>\n".to_string()
            })
        }
        _ => None,
    });
    xml_stream(chunks)
}
