//! Vulnerability Management: hosts (`/api/{fo}/fo/asset/host/` and QPS
//! `/qps/rest/{am}/search/am/hostasset`), VM detections
//! (`/api/{fo}/fo/asset/host/vm/detection/`) and the knowledge base
//! (`/api/{fo}/fo/knowledge_base/vuln/`) for the QIDs seen in the run.
//!
//! Every answer is parsed as a stream and handed to the sink in batches of
//! at most `min(page_size, 1000)` records. Hosts are emitted twice when both
//! host APIs know them (QPS host asset: MAC, gateway, EC2 source,
//! criticality, modified; fo host list: scan dates, tags, ARS); the store
//! merges them by host id keeping non-null values. The run keeps only two
//! compact maps: host id → EC2 instance id (EC2 hosts only) and the set of
//! QIDs seen (for the knowledge base).

use crate::http::{Body, Call};
use crate::xml::{parse_time, walk, Batcher, Ev};
use crate::{Client, Options, QualysError, Sink};
use chrono::Duration as Days;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{BufRead, BufReader};
use std::sync::Mutex;
use vigil_model::qualys::{
    CloudSource, DetectionStatus, DetectionType, QualysBatch, QualysDetection, QualysHost,
    QualysKbEntry,
};
use vigil_model::Timestamp;

/// Bytes of `RESULTS` kept for the QIDs of `detection_result_qids`.
pub const RESULTS_BYTES: usize = 300;
/// QIDs per knowledge-base request.
pub const KB_CHUNK: usize = 500;

/// An element path below a depth, without allocating (paths deeper than
/// eight elements below it are cut; no Qualys field is that deep).
struct Rel<'a> {
    items: [&'a str; 8],
    len: usize,
}

impl<'a> Rel<'a> {
    fn new(path: &'a [String], from: usize) -> Rel<'a> {
        let mut items = [""; 8];
        let mut len = 0;
        for (slot, s) in items.iter_mut().zip(path.iter().skip(from)) {
            *slot = s.as_str();
            len += 1;
        }
        Rel { items, len }
    }

    fn get(&self) -> &[&'a str] {
        &self.items[..self.len]
    }
}

/// A Parse error for a wrong root element.
fn check_root(endpoint: &str, path: &[String], expected: &str) -> Result<(), QualysError> {
    if path.len() == 1 && path[0] != expected {
        return Err(QualysError::Parse {
            endpoint: endpoint.to_string(),
            offset: 0,
            message: format!("expected <{expected}>, got <{}>", path[0]),
        });
    }
    Ok(())
}

/// Reads a whole body as a well-formed document (JSON or XML), for
/// `check`.
pub(crate) fn drain(body: Body, timeout: u64) -> Result<(), QualysError> {
    let endpoint = body.endpoint.clone();
    let mut r = BufReader::new(body);
    let first = loop {
        let buf = r.fill_buf().map_err(|e| QualysError::Network {
            endpoint: endpoint.clone(),
            message: format!("reading the answer: {e}"),
        })?;
        match buf.iter().position(|b| !b.is_ascii_whitespace()) {
            Some(i) => break Some(buf[i]),
            None if buf.is_empty() => break None,
            None => {
                let n = buf.len();
                r.consume(n);
            }
        }
    };
    match first {
        Some(b'{') | Some(b'[') => {
            serde_json::from_reader::<_, serde::de::IgnoredAny>(r).map_err(|e| {
                QualysError::Parse {
                    endpoint: endpoint.clone(),
                    offset: e.column() as u64,
                    message: format!("line {}: {e}", e.line()),
                }
            })?;
            Ok(())
        }
        _ => walk(r, &endpoint, timeout, |_| Ok(())),
    }
}

// ---------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------

/// Qualys' date-time parameter form.
pub fn qualys_time(t: Timestamp) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn since(now: Timestamp, days: u32) -> String {
    qualys_time(now - Days::days(i64::from(days)))
}

fn opt(s: &str) -> Option<String> {
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_string())
}

fn num(s: &str) -> Option<i64> {
    s.trim().parse().ok()
}

fn bool01(s: &str) -> bool {
    matches!(s.trim(), "1" | "true" | "TRUE" | "True" | "yes")
}

/// Cuts a text to at most `n` bytes at a character boundary.
pub fn cut(s: &str, n: usize) -> String {
    if s.len() <= n {
        return s.to_string();
    }
    let mut end = n;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}

/// The query parameters of a URL (a truncation `WARNING/URL`).
pub fn url_params(url: &str) -> Vec<(String, String)> {
    let query = url.split_once('?').map(|(_, q)| q).unwrap_or("");
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                match std::str::from_utf8(&b[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                {
                    Some(v) => {
                        out.push(v);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `params` with every key of `next` set to `next`'s value (the next page's
/// `id_min`, …); keys only in `params` are kept.
fn merge_params(params: &[(String, String)], next: &[(String, String)]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = params
        .iter()
        .filter(|(k, _)| !next.iter().any(|(n, _)| n == k))
        .cloned()
        .collect();
    out.extend(next.iter().cloned());
    out
}

fn p(k: &str, v: impl Into<String>) -> (String, String) {
    (k.to_string(), v.into())
}

/// Records per sink batch.
pub fn batch_size(options: &Options) -> usize {
    (options.page_size as usize).clamp(1, 1000)
}

/// Sends a call and parses its body; a body that breaks off or does not
/// parse (retryable errors) is fetched again, up to the client's retries.
/// The parser's records of a failed attempt were already handed on; the
/// store's upserts make the repeat harmless and the counts come from the
/// successful attempt only.
fn fetch<T>(
    client: &Client,
    call: &Call,
    mut parse: impl FnMut(Body) -> Result<T, QualysError>,
) -> Result<T, QualysError> {
    let mut attempt = 1;
    loop {
        let body = client.send(call)?;
        match parse(body) {
            Ok(t) => return Ok(t),
            Err(e) if e.retryable() && attempt < client.max_retries() => {
                client.backoff(attempt);
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

// ---------------------------------------------------------------------------
// Parameters
// ---------------------------------------------------------------------------

fn tag_params(options: &Options) -> Vec<(String, String)> {
    if options.include_only_asset_tags.is_empty() {
        return Vec::new();
    }
    vec![
        p("use_tags", "1"),
        p("tag_set_by", "name"),
        p("tag_include_selector", "any"),
        p("tag_set_include", options.include_only_asset_tags.join(",")),
    ]
}

/// The fo host list's parameters (without paging).
pub fn host_list_params(options: &Options, now: Timestamp) -> Vec<(String, String)> {
    let mut v = vec![
        p("action", "list"),
        p("details", "All"),
        p("show_asset_id", "1"),
        p("show_tags", "1"),
        p("host_metadata", "all"),
        p("truncation_limit", options.page_size.to_string()),
        p("vm_scan_since", since(now, options.host_scan_age_days)),
    ];
    let h = &options.host;
    if h.show_ars {
        v.push(p("show_ars", "1"));
    }
    if h.show_ars_factors {
        v.push(p("show_ars_factors", "1"));
    }
    if let Some(min) = h.ars_min {
        v.push(p("ars_min", min.to_string()));
    }
    if let Some(max) = h.ars_max {
        v.push(p("ars_max", max.to_string()));
    }
    v.extend(tag_params(options));
    v
}

/// The detection list's parameters (without paging or id ranges).
pub fn detection_params(options: &Options, now: Timestamp) -> Vec<(String, String)> {
    let types: Vec<&str> = options
        .host_finding_types
        .iter()
        .filter_map(|t| match t {
            DetectionType::Confirmed => Some("confirmed"),
            DetectionType::Potential => Some("potential"),
            DetectionType::Info => None,
        })
        .collect();
    let mut sev = options.host_finding_severities.clone();
    sev.sort_unstable();
    sev.dedup();
    let mut v = vec![
        p("action", "list"),
        p("output_format", "XML"),
        p("show_asset_id", "1"),
        p("show_tags", "1"),
        p("truncation_limit", options.page_size.to_string()),
        p(
            "severities",
            sev.iter()
                .map(|s| s.to_string())
                .collect::<Vec<_>>()
                .join(","),
        ),
        p("status", "New,Active,Re-Opened,Fixed"),
        p("vm_scan_since", since(now, options.host_scan_age_days)),
        p(
            "detection_updated_since",
            since(now, options.findings_age_days),
        ),
    ];
    if !types.is_empty() {
        v.push(p("include_vuln_type", types.join(",")));
    }
    if options.host_finding_types.contains(&DetectionType::Info) {
        v.push(p("show_igs", "1"));
    }
    if options.detection_result_qids.is_empty() {
        v.push(p("show_results", "0"));
    } else {
        // RESULTS are kept for these QIDs only (cut client-side); the API
        // has no per-QID switch for them.
        v.push(p("show_results", "1"));
    }
    v.extend(tag_params(options));
    v
}

fn hostasset_request(limit: u32, updated_after: &str, id_after: Option<i64>) -> String {
    let mut criteria =
        format!("<Criteria field=\"updated\" operator=\"GREATER\">{updated_after}</Criteria>");
    if let Some(id) = id_after {
        criteria.push_str(&format!(
            "<Criteria field=\"id\" operator=\"GREATER\">{id}</Criteria>"
        ));
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ServiceRequest><preferences><limitResults>{limit}</limitResults></preferences><filters>{criteria}</filters></ServiceRequest>"
    )
}

// ---------------------------------------------------------------------------
// The run's shared state
// ---------------------------------------------------------------------------

/// What the host and detection stages share: EC2 instance ids by host id
/// (EC2 hosts only), the host-id range seen, the QIDs seen.
#[derive(Default)]
struct Seen {
    instances: Mutex<HashMap<i64, String>>,
    ids: Mutex<Option<(i64, i64)>>,
    qids: Mutex<BTreeSet<i64>>,
}

impl Seen {
    fn host(&self, host: &QualysHost) {
        if let Some(c) = &host.cloud {
            if c.provider == "aws" && !c.instance_id.is_empty() {
                if let Ok(mut m) = self.instances.lock() {
                    m.insert(host.id, c.instance_id.clone());
                }
            }
        }
        if let Ok(mut r) = self.ids.lock() {
            *r = Some(match *r {
                Some((a, b)) => (a.min(host.id), b.max(host.id)),
                None => (host.id, host.id),
            });
        }
    }

    fn instance(&self, host_id: i64) -> Option<String> {
        self.instances.lock().ok()?.get(&host_id).cloned()
    }
}

fn add(counts: &mut BTreeMap<String, u64>, kind: &str, n: u64) {
    *counts.entry(kind.to_string()).or_default() += n;
}

// ---------------------------------------------------------------------------
// Hosts: QPS host assets
// ---------------------------------------------------------------------------

#[derive(Default)]
struct AssetPage {
    count: u64,
    more: bool,
    last_id: Option<i64>,
}

/// Ingests `/qps/rest/{am}/search/am/hostasset` (devices modified within
/// `devices_modified_days`, include-only tags applied here).
fn ingest_hostassets(
    client: &Client,
    options: &Options,
    now: Timestamp,
    sink: &dyn Sink,
    seen: &Seen,
) -> Result<u64, QualysError> {
    let path = client.am_path("search/am/hostasset");
    let updated = since(now, options.devices_modified_days);
    let timeout = client.connection().timeout_seconds;
    let mut after: Option<i64> = None;
    let mut total = 0;
    loop {
        let xml = hostasset_request(options.page_size, &updated, after);
        let call = Call::qps(client, &path, xml);
        let page = fetch(client, &call, |body| {
            parse_hostassets(body, &path, timeout, options, sink, seen)
        })?;
        total += page.count;
        match (page.more, page.last_id) {
            (true, Some(last)) if Some(last) != after => after = Some(last),
            (true, _) => {
                return Err(QualysError::Parse {
                    endpoint: path.clone(),
                    offset: 0,
                    message: "hasMoreRecords is true without a new lastId".into(),
                })
            }
            _ => return Ok(total),
        }
    }
}

fn parse_hostassets(
    body: Body,
    endpoint: &str,
    timeout: u64,
    options: &Options,
    sink: &dyn Sink,
    seen: &Seen,
) -> Result<AssetPage, QualysError> {
    let mut out = Batcher::new(sink, batch_size(options), QualysBatch::Hosts);
    let mut page = AssetPage::default();
    let mut cur: Option<QualysHost> = None;
    let mut qweb: Option<i64> = None;
    let mut ec2: Option<CloudSource> = None;
    walk(BufReader::new(body), endpoint, timeout, |ev| {
        match ev {
            Ev::Open(path) => {
                check_root(endpoint, path, "ServiceResponse")?;
                if path.len() == 3 && path[1] == "data" && path[2] == "HostAsset" {
                    cur = Some(QualysHost::default());
                    qweb = None;
                    ec2 = None;
                }
                if path.len() == 6 && path[5] == "Ec2AssetSourceSimple" {
                    ec2 = Some(CloudSource {
                        provider: "aws".into(),
                        ..Default::default()
                    });
                }
            }
            Ev::Close(path, text) => {
                if path.len() == 2 {
                    match path[1].as_str() {
                        "hasMoreRecords" => page.more = text.trim() == "true",
                        "lastId" => page.last_id = num(text),
                        _ => {}
                    }
                    return Ok(());
                }
                let Some(h) = cur.as_mut() else {
                    return Ok(());
                };
                let rel_buf = Rel::new(path, 3);
                let rel = rel_buf.get();
                match rel {
                    [] => {
                        let mut h = cur.take().unwrap_or_default();
                        h.cloud = ec2.take().filter(|c| !c.instance_id.is_empty());
                        let tags_ok = options.include_only_asset_tags.is_empty()
                            || h.tags
                                .iter()
                                .any(|t| options.include_only_asset_tags.contains(t));
                        if let (Some(id), true) = (qweb, tags_ok) {
                            h.id = id;
                            seen.host(&h);
                            out.push(h)?;
                        }
                    }
                    ["id"] => h.asset_id = num(text),
                    ["qwebHostId"] => qweb = num(text),
                    ["dnsHostName"] => h.dns = opt(text),
                    ["fqdn"] => h.fqdn = opt(text),
                    ["netbiosName"] => h.netbios = opt(text),
                    ["os"] => h.os = opt(text),
                    ["address"] => h.ip = opt(text),
                    ["trackingMethod"] => h.tracking_method = opt(text),
                    ["criticalityScore"] => h.criticality = num(text),
                    ["modified"] => h.modified = parse_time(text),
                    ["lastVulnScan"] => h.last_vuln_scan = parse_time(text),
                    ["lastComplianceScan"] => h.last_compliance_scan = parse_time(text),
                    ["tags", "list", "TagSimple", "name"] => {
                        if let Some(t) = opt(text) {
                            h.tags.push(t)
                        }
                    }
                    ["networkInterface", "list", "HostAssetInterface", "macAddress"]
                        if h.mac.is_none() =>
                    {
                        h.mac = opt(text)
                    }
                    ["networkInterface", "list", "HostAssetInterface", "gatewayAddress"]
                        if h.gateway.is_none() =>
                    {
                        h.gateway = opt(text)
                    }
                    ["sourceInfo", "list", "Ec2AssetSourceSimple", field] => {
                        if let Some(c) = ec2.as_mut() {
                            match *field {
                                "instanceId" => c.instance_id = text.trim().to_string(),
                                "accountId" => c.account_id = opt(text),
                                "region" => c.region = opt(text),
                                "availabilityZone" if c.region.is_none() => {
                                    c.region = opt(text
                                        .trim()
                                        .trim_end_matches(|ch: char| ch.is_ascii_lowercase()))
                                }
                                _ => {}
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
        Ok(())
    })?;
    page.count = out.finish()?;
    Ok(page)
}

// ---------------------------------------------------------------------------
// Hosts: fo host list
// ---------------------------------------------------------------------------

/// Fields of a `HOST` shared by the host list and the detection list.
fn host_field(h: &mut QualysHost, meta: &mut MetaAttr, rel: &[&str], text: &str) {
    match rel {
        ["ID"] => h.id = num(text).unwrap_or(0),
        ["ASSET_ID"] => h.asset_id = num(text),
        ["IP"] => h.ip = opt(text),
        ["IPV6"] => h.ipv6 = opt(text),
        ["TRACKING_METHOD"] => h.tracking_method = opt(text),
        ["DNS"] => h.dns = opt(text),
        ["DNS_DATA", "FQDN"] => h.fqdn = opt(text),
        ["NETBIOS"] => h.netbios = opt(text),
        ["OS"] => h.os = opt(text),
        ["EC2_INSTANCE_ID"] => {
            if let Some(id) = opt(text) {
                h.cloud.get_or_insert_with(aws).instance_id = id;
            }
        }
        ["LAST_VULN_SCAN_DATETIME"] | ["LAST_SCAN_DATETIME"] => h.last_vuln_scan = parse_time(text),
        ["LAST_COMPLIANCE_SCAN_DATETIME"] => h.last_compliance_scan = parse_time(text),
        ["LAST_ACTIVITY"] | ["LAST_ACTIVITY_DATE"] => h.last_activity = parse_time(text),
        ["ASSET_CRITICALITY_SCORE"] => h.criticality = num(text),
        ["ASSET_RISK_SCORE"] | ["ARS"] | ["TRURISK_SCORE"] => h.ars = num(text),
        ["TAGS", "TAG", "NAME"] => {
            if let Some(t) = opt(text) {
                h.tags.push(t)
            }
        }
        ["METADATA", "EC2", "ATTRIBUTE", "NAME"] => meta.name = text.trim().to_string(),
        ["METADATA", "EC2", "ATTRIBUTE", "VALUE"] => meta.value = text.trim().to_string(),
        ["METADATA", "EC2", "ATTRIBUTE"] => {
            let name = std::mem::take(&mut meta.name);
            let value = std::mem::take(&mut meta.value);
            if value.is_empty() {
                return;
            }
            let leaf = name.rsplit('/').next().unwrap_or("");
            let c = || -> CloudSource { aws() };
            match leaf {
                "instanceId" | "instance-id" => h.cloud.get_or_insert_with(c).instance_id = value,
                "accountId" | "account-id" => {
                    h.cloud.get_or_insert_with(c).account_id = Some(value)
                }
                "region" => h.cloud.get_or_insert_with(c).region = Some(value),
                _ => {}
            }
        }
        ["ARS_FACTORS", ..] if rel.len() > 1 => {
            if let Some(t) = opt(text) {
                let f = h.ars_factors.get_or_insert_with(String::new);
                if !f.is_empty() {
                    f.push_str("; ");
                }
                f.push_str(&rel[1..].join("/"));
                f.push_str(": ");
                f.push_str(&t);
            }
        }
        _ => {}
    }
}

fn aws() -> CloudSource {
    CloudSource {
        provider: "aws".into(),
        ..Default::default()
    }
}

#[derive(Default)]
struct MetaAttr {
    name: String,
    value: String,
}

#[derive(Default)]
struct FoPage {
    count: u64,
    next: Option<String>,
}

/// Follows the truncation `WARNING/URL` of fo list APIs.
fn fo_pages(
    client: &Client,
    path: &str,
    params: Vec<(String, String)>,
    mut page: impl FnMut(&Call) -> Result<FoPage, QualysError>,
) -> Result<u64, QualysError> {
    let mut params = params;
    let mut total = 0;
    loop {
        let call = Call::form(client, path, params.clone());
        let got = page(&call)?;
        total += got.count;
        let Some(url) = got.next else {
            return Ok(total);
        };
        let next = merge_params(&params, &url_params(&url));
        if next == params {
            return Err(QualysError::Parse {
                endpoint: path.to_string(),
                offset: 0,
                message: format!("the truncation URL {url} asks for the same page again"),
            });
        }
        params = next;
    }
}

fn warning_url(rel: &[&str], text: &str, next: &mut Option<String>) {
    if rel == ["WARNING", "URL"] {
        *next = opt(text);
    }
}

fn ingest_host_list(
    client: &Client,
    options: &Options,
    now: Timestamp,
    sink: &dyn Sink,
    seen: &Seen,
) -> Result<u64, QualysError> {
    let path = client.fo_path("asset/host/");
    let timeout = client.connection().timeout_seconds;
    fo_pages(client, &path, host_list_params(options, now), |call| {
        fetch(client, call, |body| {
            parse_host_list(body, &path, timeout, options, sink, seen)
        })
    })
}

fn parse_host_list(
    body: Body,
    endpoint: &str,
    timeout: u64,
    options: &Options,
    sink: &dyn Sink,
    seen: &Seen,
) -> Result<FoPage, QualysError> {
    let mut out = Batcher::new(sink, batch_size(options), QualysBatch::Hosts);
    let mut page = FoPage::default();
    let mut cur: Option<QualysHost> = None;
    let mut meta = MetaAttr::default();
    walk(BufReader::new(body), endpoint, timeout, |ev| {
        match ev {
            Ev::Open(path) => {
                check_root(endpoint, path, "HOST_LIST_OUTPUT")?;
                if path.len() == 4 && path[3] == "HOST" {
                    cur = Some(QualysHost::default());
                }
            }
            Ev::Close(path, text) => {
                if path.len() < 3 {
                    return Ok(());
                }
                let rel_buf = Rel::new(path, 2);
                let rel = rel_buf.get();
                if rel[0] == "WARNING" {
                    warning_url(rel, text, &mut page.next);
                    return Ok(());
                }
                if rel.len() < 2 || rel[0] != "HOST_LIST" {
                    return Ok(());
                }
                if rel.len() == 2 {
                    if let Some(h) = cur.take() {
                        if h.id == 0 {
                            return Err(QualysError::Parse {
                                endpoint: endpoint.to_string(),
                                offset: 0,
                                message: "a HOST without a numeric ID".into(),
                            });
                        }
                        seen.host(&h);
                        out.push(h)?;
                    }
                } else if let Some(h) = cur.as_mut() {
                    host_field(h, &mut meta, &rel[2..], text);
                }
            }
        }
        Ok(())
    })?;
    page.count = out.finish()?;
    Ok(page)
}

// ---------------------------------------------------------------------------
// Detections
// ---------------------------------------------------------------------------

struct DetectionFilter {
    types: Vec<DetectionType>,
    severities: Vec<u8>,
    result_qids: BTreeSet<i64>,
}

#[derive(Default)]
struct DetDraft {
    qid: Option<i64>,
    kind: String,
    severity: Option<u8>,
    port: Option<u32>,
    protocol: Option<String>,
    ssl: bool,
    results: Option<String>,
    status: String,
    first_found: Option<Timestamp>,
    last_found: Option<Timestamp>,
    times_found: Option<i64>,
    last_fixed: Option<Timestamp>,
}

fn ingest_detections(
    client: &Client,
    options: &Options,
    now: Timestamp,
    sink: &dyn Sink,
    seen: &Seen,
) -> Result<u64, QualysError> {
    let path = client.fo_path("asset/host/vm/detection/");
    let base = detection_params(options, now);
    let filter = DetectionFilter {
        types: options.host_finding_types.clone(),
        severities: options.host_finding_severities.clone(),
        result_qids: options.detection_result_qids.iter().copied().collect(),
    };
    let ranges = id_ranges(
        seen.ids.lock().ok().and_then(|g| *g),
        options.parallel_requests,
    );
    let timeout = client.connection().timeout_seconds;
    let one = |range: (Option<i64>, Option<i64>)| -> Result<u64, QualysError> {
        let mut params = base.clone();
        if let Some(a) = range.0 {
            params.push(p("id_min", a.to_string()));
        }
        if let Some(b) = range.1 {
            params.push(p("id_max", b.to_string()));
        }
        fo_pages(client, &path, params, |call| {
            fetch(client, call, |body| {
                parse_detections(body, &path, timeout, options, &filter, sink, seen)
            })
        })
    };
    if ranges.len() == 1 {
        return one(ranges[0]);
    }
    let results: Vec<Result<u64, QualysError>> = std::thread::scope(|s| {
        let handles: Vec<_> = ranges
            .iter()
            .map(|r| {
                let one = &one;
                let r = *r;
                s.spawn(move || one(r))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    Err(QualysError::Stopped("a detection worker panicked".into()))
                })
            })
            .collect()
    });
    let mut total = 0;
    for r in results {
        total += r?;
    }
    Ok(total)
}

/// Splits the host ids seen into `parts` ranges for parallel detection
/// requests; the first range has no lower bound and the last no upper
/// bound, so every host is covered whatever the host lists returned.
pub fn id_ranges(seen: Option<(i64, i64)>, parts: u32) -> Vec<(Option<i64>, Option<i64>)> {
    let parts = i64::from(parts.max(1));
    let Some((lo, hi)) = seen else {
        return vec![(None, None)];
    };
    let span = hi - lo + 1;
    if parts == 1 || span < parts * 2 {
        return vec![(None, None)];
    }
    let step = span / parts;
    (0..parts)
        .map(|k| {
            let start = (k > 0).then(|| lo + k * step);
            let end = (k < parts - 1).then(|| lo + (k + 1) * step - 1);
            (start, end)
        })
        .collect()
}

fn parse_detections(
    body: Body,
    endpoint: &str,
    timeout: u64,
    options: &Options,
    filter: &DetectionFilter,
    sink: &dyn Sink,
    seen: &Seen,
) -> Result<FoPage, QualysError> {
    let mut out = Batcher::new(sink, batch_size(options), QualysBatch::Detections);
    let mut page = FoPage::default();
    let mut host = QualysHost::default();
    let mut meta = MetaAttr::default();
    let mut instance: Option<Option<String>> = None;
    let mut d = DetDraft::default();
    let mut qids_here: BTreeSet<i64> = BTreeSet::new();
    walk(BufReader::new(body), endpoint, timeout, |ev| {
        match ev {
            Ev::Open(path) => {
                check_root(endpoint, path, "HOST_LIST_VM_DETECTION_OUTPUT")?;
                if path.len() == 4 && path[3] == "HOST" {
                    host = QualysHost::default();
                    instance = None;
                } else if path.len() == 6 && path[5] == "DETECTION" {
                    d = DetDraft::default();
                }
            }
            Ev::Close(path, text) => {
                if path.len() < 3 {
                    return Ok(());
                }
                let rel_buf = Rel::new(path, 2);
                let rel = rel_buf.get();
                if rel[0] == "WARNING" {
                    warning_url(rel, text, &mut page.next);
                    return Ok(());
                }
                if rel.len() < 3 || rel[0] != "HOST_LIST" {
                    return Ok(());
                }
                let rel = &rel[2..];
                match rel {
                    ["DETECTION_LIST", "DETECTION"] => {
                        let draft = std::mem::take(&mut d);
                        if host.id == 0 {
                            return Err(QualysError::Parse {
                                endpoint: endpoint.to_string(),
                                offset: 0,
                                message: "a DETECTION whose HOST has no numeric ID".into(),
                            });
                        }
                        let inst = instance
                            .get_or_insert_with(|| {
                                host.cloud
                                    .as_ref()
                                    .map(|c| c.instance_id.clone())
                                    .filter(|i| !i.is_empty())
                                    .or_else(|| seen.instance(host.id))
                            })
                            .clone();
                        if let Some(det) = finish_detection(endpoint, &host, inst, draft, filter)? {
                            qids_here.insert(det.qid);
                            out.push(det)?;
                        }
                    }
                    ["DETECTION_LIST", "DETECTION", field] => {
                        match *field {
                            "QID" => d.qid = num(text),
                            "TYPE" => d.kind = text.trim().to_string(),
                            "SEVERITY" => d.severity = text.trim().parse().ok(),
                            "PORT" => d.port = text.trim().parse().ok(),
                            "PROTOCOL" => d.protocol = opt(text),
                            "SSL" => d.ssl = bool01(text),
                            "RESULTS" => {
                                // Kept only for the QIDs asked for (decided
                                // at the end, when QID is known).
                                d.results = Some(cut(text, RESULTS_BYTES));
                            }
                            "STATUS" => d.status = text.trim().to_string(),
                            "FIRST_FOUND_DATETIME" => d.first_found = parse_time(text),
                            "LAST_FOUND_DATETIME" => d.last_found = parse_time(text),
                            "TIMES_FOUND" => d.times_found = num(text),
                            "LAST_FIXED_DATETIME" => d.last_fixed = parse_time(text),
                            _ => {}
                        }
                    }
                    [] | ["DETECTION_LIST"] => {}
                    _ => host_field(&mut host, &mut meta, rel, text),
                }
            }
        }
        Ok(())
    })?;
    page.count = out.finish()?;
    if let Ok(mut q) = seen.qids.lock() {
        q.extend(qids_here);
    }
    Ok(page)
}

fn finish_detection(
    endpoint: &str,
    host: &QualysHost,
    instance_id: Option<String>,
    d: DetDraft,
    filter: &DetectionFilter,
) -> Result<Option<QualysDetection>, QualysError> {
    let bad = |m: String| QualysError::Parse {
        endpoint: endpoint.to_string(),
        offset: 0,
        message: format!("host {}: {m}", host.id),
    };
    let qid = d
        .qid
        .ok_or_else(|| bad("a DETECTION without a numeric QID".into()))?;
    let Some(kind) = DetectionType::parse(&d.kind) else {
        // A type Vigil does not know is not one the options select.
        return Ok(None);
    };
    let severity = d
        .severity
        .filter(|s| (1..=5).contains(s))
        .ok_or_else(|| bad(format!("QID {qid}: SEVERITY is not 1-5")))?;
    if !filter.types.contains(&kind) || !filter.severities.contains(&severity) {
        return Ok(None);
    }
    let status = DetectionStatus::parse(&d.status).ok_or_else(|| {
        bad(format!(
            "QID {qid}: STATUS `{}` is not New, Active, Fixed or Re-Opened",
            d.status
        ))
    })?;
    let results = if filter.result_qids.contains(&qid) {
        d.results
    } else {
        None
    };
    Ok(Some(QualysDetection {
        host_id: host.id,
        instance_id,
        qid,
        kind,
        severity,
        port: d.port,
        protocol: d.protocol,
        ssl: d.ssl,
        status,
        first_found: d.first_found,
        last_found: d.last_found,
        times_found: d.times_found,
        last_fixed: d.last_fixed,
        results,
    }))
}

// ---------------------------------------------------------------------------
// Knowledge base
// ---------------------------------------------------------------------------

fn ingest_kb(
    client: &Client,
    options: &Options,
    sink: &dyn Sink,
    qids: &BTreeSet<i64>,
) -> Result<u64, QualysError> {
    let path = client.fo_path("knowledge_base/vuln/");
    let timeout = client.connection().timeout_seconds;
    let all: Vec<i64> = qids.iter().copied().collect();
    let chunks: Vec<&[i64]> = all.chunks(KB_CHUNK).collect();
    let one = |chunk: &[i64]| -> Result<u64, QualysError> {
        let params = vec![
            p("action", "list"),
            p("details", "All"),
            p(
                "ids",
                chunk
                    .iter()
                    .map(|q| q.to_string())
                    .collect::<Vec<_>>()
                    .join(","),
            ),
        ];
        fo_pages(client, &path, params, |call| {
            fetch(client, call, |body| {
                parse_kb(body, &path, timeout, options, sink)
            })
        })
    };
    let workers = (options.parallel_requests as usize).clamp(1, chunks.len().max(1));
    if workers == 1 {
        let mut total = 0;
        for c in &chunks {
            total += one(c)?;
        }
        return Ok(total);
    }
    let next = Mutex::new(0usize);
    let results: Vec<Result<u64, QualysError>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                s.spawn(|| -> Result<u64, QualysError> {
                    let mut total = 0;
                    loop {
                        let i = {
                            let Ok(mut g) = next.lock() else {
                                return Ok(total);
                            };
                            let i = *g;
                            *g += 1;
                            i
                        };
                        let Some(c) = chunks.get(i) else {
                            return Ok(total);
                        };
                        total += one(c)?;
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(QualysError::Stopped("a KB worker panicked".into())))
            })
            .collect()
    });
    let mut total = 0;
    for r in results {
        total += r?;
    }
    Ok(total)
}

fn parse_kb(
    body: Body,
    endpoint: &str,
    timeout: u64,
    options: &Options,
    sink: &dyn Sink,
) -> Result<FoPage, QualysError> {
    let mut out = Batcher::new(sink, batch_size(options), QualysBatch::Kb);
    let mut page = FoPage::default();
    let mut cur: Option<QualysKbEntry> = None;
    walk(BufReader::new(body), endpoint, timeout, |ev| {
        match ev {
            Ev::Open(path) => {
                check_root(endpoint, path, "KNOWLEDGE_BASE_VULN_LIST_OUTPUT")?;
                if path.len() == 4 && path[3] == "VULN" {
                    cur = Some(QualysKbEntry::default());
                }
            }
            Ev::Close(path, text) => {
                if path.len() < 3 {
                    return Ok(());
                }
                let rel_buf = Rel::new(path, 2);
                let rel = rel_buf.get();
                if rel[0] == "WARNING" {
                    warning_url(rel, text, &mut page.next);
                    return Ok(());
                }
                if rel.len() < 2 || rel[0] != "VULN_LIST" {
                    return Ok(());
                }
                if rel.len() == 2 {
                    if let Some(v) = cur.take() {
                        if v.qid == 0 {
                            return Err(QualysError::Parse {
                                endpoint: endpoint.to_string(),
                                offset: 0,
                                message: "a VULN without a numeric QID".into(),
                            });
                        }
                        out.push(v)?;
                    }
                    return Ok(());
                }
                let Some(v) = cur.as_mut() else {
                    return Ok(());
                };
                match &rel[2..] {
                    ["QID"] => v.qid = num(text).unwrap_or(0),
                    ["VULN_TYPE"] => v.vuln_type = opt(text),
                    ["SEVERITY_LEVEL"] => v.severity = text.trim().parse().ok(),
                    ["TITLE"] => v.title = text.trim().to_string(),
                    ["CATEGORY"] => v.category = opt(text),
                    ["CVE_LIST", "CVE", "ID"] => {
                        if let Some(c) = opt(text) {
                            v.cves.push(c)
                        }
                    }
                    ["CVSS", "BASE"] => v.cvss_base = text.trim().parse().ok(),
                    ["CVSS_V3", "BASE"] => v.cvss3_base = text.trim().parse().ok(),
                    ["DIAGNOSIS"] => v.diagnosis = opt(text),
                    ["CONSEQUENCE"] => v.consequence = opt(text),
                    ["SOLUTION"] => v.solution = opt(text),
                    ["PATCHABLE"] => v.patchable = bool01(text),
                    ["PUBLISHED_DATETIME"] => v.published = parse_time(text),
                    ["LAST_SERVICE_MODIFICATION_DATETIME"] => v.modified = parse_time(text),
                    _ => {}
                }
            }
        }
        Ok(())
    })?;
    page.count = out.finish()?;
    Ok(page)
}

// ---------------------------------------------------------------------------
// The family
// ---------------------------------------------------------------------------

/// Ingests this family; returns records per kind. Host assets and the host
/// list run side by side (when `parallel_requests` > 1), then detections
/// in `parallel_requests` host-id ranges, then the knowledge base for the
/// QIDs seen.
pub fn ingest(
    client: &Client,
    options: &Options,
    now: Timestamp,
    sink: &dyn Sink,
) -> Result<BTreeMap<String, u64>, QualysError> {
    let seen = Seen::default();
    let mut counts = BTreeMap::new();
    let (assets, list) = if options.parallel_requests > 1 {
        std::thread::scope(|s| {
            let a = s.spawn(|| ingest_hostassets(client, options, now, sink, &seen));
            let l = ingest_host_list(client, options, now, sink, &seen);
            let a = a.join().unwrap_or_else(|_| {
                Err(QualysError::Stopped(
                    "the host asset worker panicked".into(),
                ))
            });
            (a, l)
        })
    } else {
        let a = ingest_hostassets(client, options, now, sink, &seen)?;
        (Ok(a), ingest_host_list(client, options, now, sink, &seen))
    };
    let list = list?;
    let assets = assets?;
    add(&mut counts, "hosts", assets + list);
    let dets = ingest_detections(client, options, now, sink, &seen)?;
    add(&mut counts, "detections", dets);
    let qids = seen.qids.lock().map(|q| q.clone()).unwrap_or_default();
    let kb = if qids.is_empty() {
        0
    } else {
        ingest_kb(client, options, sink, &qids)?
    };
    add(&mut counts, "kb", kb);
    Ok(counts)
}

/// One minimal call per endpoint of this family (`truncation_limit=1`,
/// `limitResults=1`), for `check`.
pub fn probes(client: &Client, options: &Options) -> Vec<(String, Call)> {
    let _ = options;
    let one = |path: String, params: Vec<(String, String)>| Call::form(client, &path, params);
    vec![
        (
            "Hosts".to_string(),
            one(
                client.fo_path("asset/host/"),
                vec![
                    p("action", "list"),
                    p("details", "Basic"),
                    p("truncation_limit", "1"),
                ],
            ),
        ),
        (
            "Host assets".to_string(),
            Call::qps(
                client,
                &client.am_path("search/am/hostasset"),
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ServiceRequest><preferences><limitResults>1</limitResults></preferences></ServiceRequest>".to_string(),
            ),
        ),
        (
            "VM detections".to_string(),
            one(
                client.fo_path("asset/host/vm/detection/"),
                vec![
                    p("action", "list"),
                    p("output_format", "XML"),
                    p("show_results", "0"),
                    p("truncation_limit", "1"),
                ],
            ),
        ),
        (
            "Knowledge base".to_string(),
            one(
                client.fo_path("knowledge_base/vuln/"),
                vec![p("action", "list"), p("details", "Basic"), p("ids", "6")],
            ),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_urls_give_their_parameters() {
        let u = "https://qualysapi.qualys.com/api/2.0/fo/asset/host/?action=list&truncation_limit=100&id_min=1235&tag_set_include=a%2Cb";
        let ps = url_params(u);
        assert!(ps.contains(&("id_min".into(), "1235".into())));
        assert!(ps.contains(&("tag_set_include".into(), "a,b".into())));
        let merged = merge_params(&[p("action", "list"), p("show_tags", "1")], &ps);
        assert!(merged.contains(&p("show_tags", "1")));
        assert!(merged.contains(&p("id_min", "1235")));
    }

    #[test]
    fn id_ranges_cover_everything() {
        assert_eq!(id_ranges(None, 4), vec![(None, None)]);
        assert_eq!(id_ranges(Some((1, 100)), 1), vec![(None, None)]);
        let r = id_ranges(Some((1, 100)), 2);
        assert_eq!(r, vec![(None, Some(50)), (Some(51), None)]);
        let r = id_ranges(Some((1, 100)), 3);
        assert_eq!(r.len(), 3);
        assert_eq!(r[0].0, None);
        assert_eq!(r[2].1, None);
    }

    #[test]
    fn times_and_cuts() {
        assert!(parse_time("2024-05-01T10:00:00Z").is_some());
        assert!(parse_time("2024-05-01").is_some());
        assert!(parse_time("soon").is_none());
        assert_eq!(cut("ééé", 3), "é");
        assert_eq!(cut("abc", 300), "abc");
    }

    #[test]
    fn cut_documents_are_parse_errors() {
        let x = "<?xml version=\"1.0\"?><A><B>1</B>";
        let e = walk(x.as_bytes(), "/x", 1, |_| Ok(())).unwrap_err();
        assert!(matches!(e, QualysError::Parse { .. }), "{e:?}");
        assert!(e.to_string().contains("cut short"), "{e}");
        let x = "<A><B>1</C></A>";
        let e = walk(x.as_bytes(), "/x", 1, |_| Ok(())).unwrap_err();
        assert!(e.to_string().starts_with("/x: unreadable"), "{e}");
    }
}
