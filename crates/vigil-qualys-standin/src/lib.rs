//! Test code only (never linked into the `vigil` binary): a stand-in for
//! Qualys' APIs that serves a generated subscription in Qualys' own formats
//! and element names (the API user guides and DTDs), with the truncation
//! `WARNING`, QPS `hasMoreRecords`, rate limits with their headers, and
//! injected faults (UNAUTHORIZED in a 200, 401/403/404, 409 limits, 429,
//! malformed and truncated XML, hung calls).
//!
//! The subscription is generated from its numbers on the fly, page by page,
//! so a 5,000,000-detection subscription costs no memory. Each family's
//! endpoints live in a module: [`vm`] (hosts, host assets, detections,
//! knowledge base), [`pc`] (Policy Compliance), [`was`] (web applications and
//! findings), [`cs`] (container security, behind the gateway JWT).
//!
//! ```no_run
//! # async fn f() {
//! let standin = vigil_qualys_standin::StandIn::start(Default::default()).await;
//! // point the connector at standin.url; change faults at any time:
//! standin.faults().status.insert("/api/2.0/fo/knowledge_base/".into(), 409);
//! # }
//! ```

pub mod cs;
pub mod pc;
pub mod vm;
pub mod was;

use axum::body::Body;
use axum::extract::{Request, State as AxState};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// The generated subscription. Every number can be changed; `Default` is a
/// small subscription for functional tests.
#[derive(Debug, Clone)]
pub struct Subscription {
    pub username: String,
    pub password: String,
    /// API version prefixes served (others answer 404).
    pub fo_version: String,
    pub am_version: String,
    pub was_version: String,
    pub cs_version: String,
    /// The instant generated dates are relative to.
    pub now: DateTime<Utc>,
    /// Hosts, with ids 1..=hosts.
    pub hosts: u64,
    pub detections_per_host: u32,
    /// Instance ids of EC2 hosts: host `i + 1` is `ec2_instances[i]`.
    pub ec2_instances: Vec<String>,
    /// Distinct QIDs detections are drawn from.
    pub qids: u32,
    pub policies: u32,
    pub controls_per_policy: u32,
    pub webapps: u32,
    pub findings_per_webapp: u32,
    pub images: u32,
    pub vulns_per_image: u32,
}

impl Default for Subscription {
    fn default() -> Self {
        Subscription {
            username: "vigil_qa".into(),
            password: "Secret-123".into(),
            fo_version: "2.0".into(),
            am_version: "2.0".into(),
            was_version: "3.0".into(),
            cs_version: "v1.3".into(),
            now: Utc::now(),
            hosts: 20,
            detections_per_host: 10,
            ec2_instances: Vec::new(),
            qids: 50,
            policies: 2,
            controls_per_policy: 5,
            webapps: 3,
            findings_per_webapp: 4,
            images: 4,
            vulns_per_image: 3,
        }
    }
}

/// Faults to inject; keys are path prefixes (`/api/2.0/fo/asset/host/`).
/// Tests change them while the stand-in runs.
#[derive(Debug, Default)]
pub struct Faults {
    /// Answer with this HTTP status (401, 403, 404, 409 without a code, …).
    pub status: HashMap<String, u16>,
    /// Answer 200 with an error body: QPS `UNAUTHORIZED` or fo
    /// `SIMPLE_RETURN` with code 2000.
    pub unauthorized_200: Vec<String>,
    /// The next N calls answer 409 with code 1965 (concurrency limit) and
    /// the limit headers, `X-RateLimit-ToWait-Sec` = `wait_sec`.
    pub concurrency_409: u32,
    /// The next N calls answer 409 with code 1960 (rate limit).
    pub rate_409: u32,
    /// The next N calls answer 429 with `Retry-After`.
    pub too_many_429: u32,
    /// Seconds the limit answers tell the client to wait.
    pub wait_sec: u64,
    /// Answer with XML that is not well formed.
    pub malformed: Vec<String>,
    /// The next N answers on these prefixes are cut short mid-document.
    pub truncated: HashMap<String, u32>,
    /// Never answer (the client's time-out must fire).
    pub hang: Vec<String>,
}

/// A request the stand-in received (path and parameters, form or query).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub params: BTreeMap<String, String>,
    /// The body of QPS / JSON requests.
    pub body: String,
}

/// Shared state of a running stand-in.
pub struct State {
    pub sub: Subscription,
    faults: Mutex<Faults>,
    requests: Mutex<Vec<Recorded>>,
    /// JWTs handed out by `/auth`.
    tokens: Mutex<Vec<String>>,
    counter: AtomicU64,
    /// The stand-in's own URL (for truncation `URL`s).
    pub url: String,
}

impl State {
    fn faults(&self) -> MutexGuard<'_, Faults> {
        match self.faults.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }
}

/// A running stand-in.
pub struct StandIn {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    state: Arc<State>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl StandIn {
    /// Starts serving `sub` on a free local port.
    pub async fn start(sub: Subscription) -> StandIn {
        StandIn::start_on(sub, 0).await
    }

    /// Starts serving `sub` on a given local port (0: a free one).
    pub async fn start_on(sub: Subscription, port: u16) -> StandIn {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("bind a local port");
        let url = format!("http://{}", listener.local_addr().expect("local address"));
        let state = Arc::new(State {
            sub,
            faults: Mutex::new(Faults::default()),
            requests: Mutex::new(Vec::new()),
            tokens: Mutex::new(Vec::new()),
            counter: AtomicU64::new(0),
            url: url.clone(),
        });
        let app = Router::new().fallback(dispatch).with_state(state.clone());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
        });
        StandIn {
            url,
            state,
            shutdown: Some(tx),
        }
    }

    /// The faults, to change while running.
    pub fn faults(&self) -> MutexGuard<'_, Faults> {
        self.state.faults()
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<Recorded> {
        match self.state.requests.lock() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// The requests whose path starts with `prefix`.
    pub fn requests_to(&self, prefix: &str) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.path.starts_with(prefix))
            .collect()
    }

    pub fn subscription(&self) -> &Subscription {
        &self.state.sub
    }
}

impl Drop for StandIn {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// The parameters of a request: form fields and query parameters merged
/// (fo APIs take either), plus the raw body.
#[derive(Debug, Clone, Default)]
pub struct Params {
    pub map: BTreeMap<String, String>,
    pub body: String,
}

impl Params {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.map.get(key).map(|s| s.as_str())
    }

    /// A comma-separated list parameter.
    pub fn list(&self, key: &str) -> Vec<String> {
        self.get(key)
            .map(|v| {
                v.split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// An XML answer (200).
pub fn xml(body: String) -> Response {
    (
        StatusCode::OK,
        [("Content-Type", "text/xml;charset=UTF-8")],
        body,
    )
        .into_response()
}

/// A streamed XML answer (200) from chunks generated on demand.
pub fn xml_stream<I>(chunks: I) -> Response
where
    I: Iterator<Item = String> + Send + 'static,
{
    let stream = futures_util::stream::iter(
        chunks.map(|c| Ok::<bytes::Bytes, std::convert::Infallible>(bytes::Bytes::from(c))),
    );
    (
        StatusCode::OK,
        [("Content-Type", "text/xml;charset=UTF-8")],
        Body::from_stream(stream),
    )
        .into_response()
}

/// fo's error answer: `SIMPLE_RETURN` with a code and text.
pub fn simple_return(status: StatusCode, code: &str, text: &str) -> Response {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\" ?>\n<!DOCTYPE SIMPLE_RETURN SYSTEM \"https://qualysapi.qualys.com/api/2.0/simple_return.dtd\">\n<SIMPLE_RETURN>\n  <RESPONSE>\n    <DATETIME>{}</DATETIME>\n    <CODE>{code}</CODE>\n    <TEXT>{}</TEXT>\n  </RESPONSE>\n</SIMPLE_RETURN>\n",
        Utc::now().format("%Y-%m-%dT%H:%M:%SZ"),
        escape(text)
    );
    (status, [("Content-Type", "text/xml;charset=UTF-8")], body).into_response()
}

/// QPS's error answer.
pub fn service_error(code: &str, message: &str, resolution: &str) -> Response {
    xml(format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ServiceResponse xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:noNamespaceSchemaLocation=\"https://qualysapi.qg3.apps.qualys.com/qps/xsd/2.0/am/hostasset.xsd\">\n<responseCode>{code}</responseCode>\n<responseErrorDetails>\n<errorMessage>{}</errorMessage>\n<errorResolution>{}</errorResolution>\n</responseErrorDetails>\n</ServiceResponse>\n",
        escape(message),
        escape(resolution)
    ))
}

/// XML text escaping.
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Qualys' date-time form.
pub fn qdate(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn limit_headers(h: &mut HeaderMap, remaining: u64, wait: u64) {
    let mut set = |k: &'static str, v: u64| {
        if let Ok(v) = HeaderValue::from_str(&v.to_string()) {
            h.insert(k, v);
        }
    };
    set("X-RateLimit-Limit", 300);
    set("X-RateLimit-Window-Sec", 3600);
    set("X-RateLimit-Remaining", remaining);
    set("X-RateLimit-ToWait-Sec", wait);
    set("X-Concurrency-Limit-Limit", 2);
    set(
        "X-Concurrency-Limit-Running",
        if remaining == 0 { 0 } else { 2 },
    );
}

async fn dispatch(AxState(state): AxState<Arc<State>>, req: Request) -> Response {
    let method = req.method().to_string();
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or("").to_string();
    let headers = req.headers().clone();
    let body = match axum::body::to_bytes(req.into_body(), 64 * 1024 * 1024).await {
        Ok(b) => String::from_utf8_lossy(&b).into_owned(),
        Err(_) => String::new(),
    };
    let mut map: BTreeMap<String, String> = serde_urlencoded_pairs(&query);
    let form = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if form {
        map.extend(serde_urlencoded_pairs(&body));
    }
    let params = Params {
        map: map.clone(),
        body: body.clone(),
    };
    if let Ok(mut r) = state.requests.lock() {
        r.push(Recorded {
            method: method.clone(),
            path: path.clone(),
            params: map,
            body: if form { String::new() } else { body },
        });
    }
    state.counter.fetch_add(1, Ordering::Relaxed);

    // The gateway's token endpoint.
    if path == "/auth" {
        let ok = params.get("username") == Some(state.sub.username.as_str())
            && params.get("password") == Some(state.sub.password.as_str());
        if !ok {
            return (StatusCode::UNAUTHORIZED, "Authentication failed").into_response();
        }
        let token = format!("jwt-{}", state.counter.load(Ordering::Relaxed));
        if let Ok(mut t) = state.tokens.lock() {
            t.push(token.clone());
        }
        return (StatusCode::CREATED, token).into_response();
    }

    // Faults, by path prefix.
    let hang = state
        .faults()
        .hang
        .iter()
        .any(|p| path.starts_with(p.as_str()));
    if hang {
        tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
    }
    if let Some(resp) = injected(&state, &path) {
        return resp;
    }

    // Authentication: Basic for fo and QPS, the JWT for container security.
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if path.starts_with("/csapi/") {
        let token = auth.strip_prefix("Bearer ").unwrap_or("");
        let known = state
            .tokens
            .lock()
            .map(|t| t.iter().any(|k| k == token))
            .unwrap_or(false);
        if !known {
            return (StatusCode::UNAUTHORIZED, "{\"message\":\"invalid token\"}").into_response();
        }
    } else {
        if headers.get("x-requested-with").is_none() {
            return simple_return(
                StatusCode::BAD_REQUEST,
                "1960",
                "X-Requested-With header is required",
            );
        }
        if auth != basic(&state.sub.username, &state.sub.password) {
            return (StatusCode::UNAUTHORIZED, "Bad Login/Password").into_response();
        }
    }

    let mut resp = route(&state, &method, &path, &params);
    let truncate = {
        let mut f = state.faults();
        let hit = f
            .truncated
            .iter_mut()
            .find(|(p, n)| path.starts_with(p.as_str()) && **n > 0);
        match hit {
            Some((_, n)) => {
                *n -= 1;
                true
            }
            None => false,
        }
    };
    if truncate {
        let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .unwrap_or_default();
        let cut = bytes.len() / 2;
        resp = xml(String::from_utf8_lossy(&bytes[..cut]).into_owned());
    }
    limit_headers(resp.headers_mut(), 250, 0);
    resp
}

fn injected(state: &State, path: &str) -> Option<Response> {
    let mut f = state.faults();
    let wait = f.wait_sec;
    if f.concurrency_409 > 0 {
        f.concurrency_409 -= 1;
        let mut r = simple_return(
            StatusCode::CONFLICT,
            "1965",
            "This API cannot be run again until 1 currently running instance has finished.",
        );
        limit_headers(r.headers_mut(), 250, wait);
        return Some(r);
    }
    if f.rate_409 > 0 {
        f.rate_409 -= 1;
        let mut r = simple_return(
            StatusCode::CONFLICT,
            "1960",
            "This API cannot be run again for another few seconds.",
        );
        limit_headers(r.headers_mut(), 0, wait);
        return Some(r);
    }
    if f.too_many_429 > 0 {
        f.too_many_429 -= 1;
        let mut r = (StatusCode::TOO_MANY_REQUESTS, "Too Many Requests").into_response();
        if let Ok(v) = HeaderValue::from_str(&wait.to_string()) {
            r.headers_mut().insert("Retry-After", v);
        }
        return Some(r);
    }
    if let Some((_, status)) = f.status.iter().find(|(p, _)| path.starts_with(p.as_str())) {
        let status = StatusCode::from_u16(*status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return Some(match status.as_u16() {
            401 => (status, "Bad Login/Password").into_response(),
            404 => (status, "<html><body>Not Found</body></html>").into_response(),
            _ => simple_return(status, "2000", "Insufficient permissions for this request."),
        });
    }
    if f.unauthorized_200
        .iter()
        .any(|p| path.starts_with(p.as_str()))
    {
        return Some(if path.starts_with("/qps/") {
            service_error(
                "UNAUTHORIZED",
                "You are not authorized to access the application through the API.",
                "If you think this is an error, please contact your account manager.",
            )
        } else {
            simple_return(
                StatusCode::OK,
                "2000",
                "You are not authorized to access this API.",
            )
        });
    }
    if f.malformed.iter().any(|p| path.starts_with(p.as_str())) {
        return Some(xml(
            "<?xml version=\"1.0\"?>\n<HOST_LIST_OUTPUT><RESPONSE><HOST_LIST><HOST><ID>1</ID></HOSTT></RESPONSE>".into(),
        ));
    }
    None
}

/// Routes a request to its family by path; unknown paths and versions
/// answer 404 as Qualys does.
fn route(state: &Arc<State>, method: &str, path: &str, params: &Params) -> Response {
    let sub = &state.sub;
    if let Some(rest) = path.strip_prefix(&format!("/api/{}/fo/", sub.fo_version)) {
        if let Some(r) = vm::route(state, rest, params) {
            return r;
        }
        if let Some(r) = pc::route(state, rest, params) {
            return r;
        }
    }
    if let Some(rest) = path.strip_prefix(&format!("/qps/rest/{}/", sub.am_version)) {
        if let Some(r) = vm::route_qps(state, rest, params) {
            return r;
        }
    }
    if let Some(rest) = path.strip_prefix(&format!("/qps/rest/{}/", sub.was_version)) {
        if let Some(r) = was::route(state, rest, params) {
            return r;
        }
    }
    if let Some(rest) = path.strip_prefix(&format!("/csapi/{}/", sub.cs_version)) {
        if let Some(r) = cs::route(state, method, rest, params) {
            return r;
        }
    }
    (StatusCode::NOT_FOUND, "<html><body>Not Found</body></html>").into_response()
}

fn basic(user: &str, password: &str) -> String {
    // RFC 4648 base64 (no dependency for one line of test code).
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let raw = format!("{user}:{password}");
    let b = raw.as_bytes();
    let mut out = String::new();
    for c in b.chunks(3) {
        let n = (c[0] as u32) << 16
            | (*c.get(1).unwrap_or(&0) as u32) << 8
            | *c.get(2).unwrap_or(&0) as u32;
        out.push(T[(n >> 18) as usize & 63] as char);
        out.push(T[(n >> 12) as usize & 63] as char);
        out.push(if c.len() > 1 {
            T[(n >> 6) as usize & 63] as char
        } else {
            '='
        });
        out.push(if c.len() > 2 {
            T[n as usize & 63] as char
        } else {
            '='
        });
    }
    format!("Basic {out}")
}

fn serde_urlencoded_pairs(s: &str) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    for pair in s.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        m.insert(decode(k), decode(v));
    }
    m
}

fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                let h = std::str::from_utf8(&b[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match h {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_matches_rfc_4648() {
        assert_eq!(
            basic("Aladdin", "open sesame"),
            "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
        );
    }

    #[test]
    fn forms_decode() {
        let m = serde_urlencoded_pairs("action=list&ids=1%2C2&x=a+b");
        assert_eq!(m["ids"], "1,2");
        assert_eq!(m["x"], "a b");
    }
}
