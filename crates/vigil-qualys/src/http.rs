//! The one way Vigil calls Qualys: blocking HTTP (ureq, rustls) whose
//! bodies are streamed to the XML and JSON parsers, so memory stays flat
//! whatever a page holds.
//!
//! Every call carries Basic authentication and `X-Requested-With`, or, for
//! the container security API, the gateway JWT (`POST /auth`, valid 4 hours,
//! renewed 10 minutes before it ends). The client honours Qualys' limits:
//! after each answer it remembers `X-RateLimit-Remaining` and
//! `X-RateLimit-ToWait-Sec` and waits before the next call when the window is
//! used up; HTTP 409 with code 1960/1965 and 429 wait as told
//! (`X-RateLimit-ToWait-Sec`, `Retry-After`) and retry; 5xx, time-outs and
//! broken connections retry with backoff; 400/401/403/404 never retry.
//! A 200 whose body is an error (`SIMPLE_RETURN` with a `CODE`, QPS
//! `responseCode` other than SUCCESS) is an error too.

use crate::error::{is_limit_code, QualysError};
use crate::options::Connection;
use std::io::{Cursor, Read};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The `X-Requested-With` value Vigil sends.
pub const REQUESTED_WITH: &str = "Vigil";

/// The rate-limit headers of Qualys' answers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RateLimit {
    pub limit: Option<u64>,
    pub window_sec: Option<u64>,
    pub remaining: Option<u64>,
    pub to_wait_sec: Option<u64>,
    pub concurrency_limit: Option<u64>,
    pub concurrency_running: Option<u64>,
}

impl RateLimit {
    fn read(resp: &ureq::Response) -> RateLimit {
        let h = |name: &str| resp.header(name).and_then(|v| v.trim().parse::<u64>().ok());
        RateLimit {
            limit: h("X-RateLimit-Limit"),
            window_sec: h("X-RateLimit-Window-Sec"),
            remaining: h("X-RateLimit-Remaining"),
            to_wait_sec: h("X-RateLimit-ToWait-Sec").or_else(|| h("Retry-After")),
            concurrency_limit: h("X-Concurrency-Limit-Limit"),
            concurrency_running: h("X-Concurrency-Limit-Running"),
        }
    }
}

/// How a call signs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// Basic with the user name and password (the fo and QPS APIs).
    Basic,
    /// The gateway JWT (container security).
    Bearer,
}

/// One call.
#[derive(Debug, Clone)]
pub struct Call {
    /// `GET` or `POST`.
    pub method: &'static str,
    /// The full URL (see [`Client::api`] and [`Client::gateway`]).
    pub url: String,
    /// The path, as errors name it (`/api/2.0/fo/asset/host/`).
    pub endpoint: String,
    /// Form fields (POST) or query parameters (GET).
    pub params: Vec<(String, String)>,
    /// A body sent as is (QPS XML requests), instead of a form.
    pub body: Option<(String, &'static str)>,
    pub auth: Auth,
}

impl Call {
    /// A POST of form fields to a path of the API server (fo APIs).
    pub fn form(client: &Client, path: &str, params: Vec<(String, String)>) -> Call {
        Call {
            method: "POST",
            url: client.api(path),
            endpoint: path.to_string(),
            params,
            body: None,
            auth: Auth::Basic,
        }
    }

    /// A POST of a QPS `ServiceRequest` XML to a path of the API server.
    pub fn qps(client: &Client, path: &str, xml: String) -> Call {
        Call {
            method: "POST",
            url: client.api(path),
            endpoint: path.to_string(),
            params: Vec::new(),
            body: Some((xml, "text/xml")),
            auth: Auth::Basic,
        }
    }

    /// A GET with the JWT to a path of the gateway (container security).
    pub fn gateway_get(client: &Client, path: &str, params: Vec<(String, String)>) -> Call {
        Call {
            method: "GET",
            url: client.gateway(path),
            endpoint: path.to_string(),
            params,
            body: None,
            auth: Auth::Bearer,
        }
    }
}

/// A streamed answer body. Reading it may fail with an I/O error; parsers
/// turn that into [`QualysError::Parse`] or [`QualysError::Network`].
pub struct Body {
    reader: Box<dyn Read + Send>,
    pub endpoint: String,
    pub rate: RateLimit,
    /// The client's read time-out (named when a read times out).
    pub timeout_seconds: u64,
}

impl Read for Body {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.reader.read(buf)
    }
}

struct Jwt {
    token: String,
    renew_at: Instant,
}

/// A Qualys API client. Cheap to share between threads (`&Client`).
pub struct Client {
    agent: ureq::Agent,
    connection: Connection,
    password: String,
    max_retries: u32,
    /// No call starts before this instant (rate-limit window used up).
    not_before: Mutex<Option<Instant>>,
    jwt: Mutex<Option<Jwt>>,
    /// Scale of every wait (tests set it small); 1.0 in production.
    wait_scale: f64,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("api_url", &self.connection.api_url)
            .field("username", &self.connection.username)
            .finish_non_exhaustive()
    }
}

/// The longest single wait the client accepts from Qualys' headers.
const MAX_WAIT: Duration = Duration::from_secs(3600);

impl Client {
    /// A client for a connection; `max_retries` is the number of attempts
    /// per call (seed 004 "Maximum retries").
    pub fn new(connection: &Connection, password: &str, max_retries: u32) -> Client {
        let agent = ureq::AgentBuilder::new()
            .timeout_connect(Duration::from_secs(30))
            .timeout_read(Duration::from_secs(connection.timeout_seconds))
            .timeout_write(Duration::from_secs(connection.timeout_seconds))
            .user_agent(concat!("Vigil/", env!("CARGO_PKG_VERSION")))
            .build();
        Client {
            agent,
            connection: connection.clone(),
            password: password.to_string(),
            max_retries: max_retries.max(1),
            not_before: Mutex::new(None),
            jwt: Mutex::new(None),
            wait_scale: 1.0,
        }
    }

    /// Scales every wait (Qualys' `ToWait-Sec`, backoff); for tests.
    pub fn with_wait_scale(mut self, scale: f64) -> Client {
        self.wait_scale = scale;
        self
    }

    /// Attempts per call.
    pub fn max_retries(&self) -> u32 {
        self.max_retries
    }

    /// Waits before attempt `attempt + 1` of something that failed
    /// (exponential from 0.5 s, scaled like every wait).
    pub fn backoff(&self, attempt: u32) {
        self.sleep(Duration::from_millis(
            500u64.saturating_mul(1 << attempt.saturating_sub(1).min(6)),
        ));
    }

    pub fn connection(&self) -> &Connection {
        &self.connection
    }

    /// The URL of a path of the API server.
    pub fn api(&self, path: &str) -> String {
        format!("{}{}", self.connection.base_url(), path)
    }

    /// The URL of a path of the gateway.
    pub fn gateway(&self, path: &str) -> String {
        format!("{}{}", self.connection.gateway(), path)
    }

    /// `/api/{fo}/fo/<rest>` with the configured version.
    pub fn fo_path(&self, rest: &str) -> String {
        format!("/api/{}/fo/{rest}", self.connection.api_versions.fo)
    }

    /// `/qps/rest/{am}/<rest>`.
    pub fn am_path(&self, rest: &str) -> String {
        format!("/qps/rest/{}/{rest}", self.connection.api_versions.am)
    }

    /// `/qps/rest/{was}/<rest>`.
    pub fn was_path(&self, rest: &str) -> String {
        format!("/qps/rest/{}/{rest}", self.connection.api_versions.was)
    }

    /// `/csapi/{cs}/<rest>`.
    pub fn cs_path(&self, rest: &str) -> String {
        format!("/csapi/{}/{rest}", self.connection.api_versions.cs)
    }

    fn sleep(&self, d: Duration) {
        let d = d.min(MAX_WAIT).mul_f64(self.wait_scale);
        if !d.is_zero() {
            std::thread::sleep(d);
        }
    }

    fn wait_turn(&self) {
        let until = match self.not_before.lock() {
            Ok(g) => *g,
            Err(p) => *p.into_inner(),
        };
        if let Some(until) = until {
            let now = Instant::now();
            if until > now {
                self.sleep(until - now);
            }
        }
    }

    fn remember(&self, rate: &RateLimit) {
        let wait = match (rate.remaining, rate.to_wait_sec) {
            (Some(0), Some(w)) => Some(Duration::from_secs(w)),
            (Some(0), None) => rate.window_sec.map(Duration::from_secs),
            (_, Some(w)) if w > 0 => Some(Duration::from_secs(w)),
            _ => None,
        };
        let mut g = match self.not_before.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        *g = wait.map(|w| Instant::now() + w.min(MAX_WAIT).mul_f64(self.wait_scale));
    }

    /// Sends a call, retrying what may succeed on another attempt, and
    /// returns the body once it is known not to be an error.
    pub fn send(&self, call: &Call) -> Result<Body, QualysError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            self.wait_turn();
            match self.attempt(call) {
                Ok(body) => return Ok(body),
                Err((err, wait)) => {
                    if attempt >= self.max_retries || !err.retryable() {
                        return Err(err);
                    }
                    let backoff = wait.unwrap_or_else(|| {
                        Duration::from_millis(500u64.saturating_mul(1 << (attempt - 1).min(6)))
                    });
                    self.sleep(backoff);
                }
            }
        }
    }

    /// Reads a whole small body as text (error bodies, auth answers).
    pub fn read_small(body: &mut dyn Read, limit: u64) -> String {
        let mut buf = Vec::new();
        let _ = body.take(limit).read_to_end(&mut buf);
        String::from_utf8_lossy(&buf).into_owned()
    }

    fn attempt(&self, call: &Call) -> Result<Body, (QualysError, Option<Duration>)> {
        let mut req = self
            .agent
            .request(call.method, &call.url)
            .set("X-Requested-With", REQUESTED_WITH);
        req = match call.auth {
            Auth::Basic => req.set(
                "Authorization",
                &basic(&self.connection.username, &self.password),
            ),
            Auth::Bearer => {
                let token = self.jwt(&call.endpoint).map_err(|e| (e, None))?;
                req.set("Authorization", &format!("Bearer {token}"))
            }
        };
        let result = if let Some((body, content_type)) = &call.body {
            for (k, v) in &call.params {
                req = req.query(k, v);
            }
            req.set("Content-Type", content_type).send_string(body)
        } else if call.method == "GET" {
            for (k, v) in &call.params {
                req = req.query(k, v);
            }
            req.call()
        } else {
            let form: Vec<(&str, &str)> = call
                .params
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            req.send_form(&form)
        };
        match result {
            Ok(resp) => {
                let rate = RateLimit::read(&resp);
                self.remember(&rate);
                let reader = resp.into_reader();
                let body = check_body(Box::new(reader), &call.endpoint).map_err(|e| (e, None))?;
                Ok(Body {
                    reader: body,
                    endpoint: call.endpoint.clone(),
                    rate,
                    timeout_seconds: self.connection.timeout_seconds,
                })
            }
            Err(ureq::Error::Status(status, resp)) => {
                let rate = RateLimit::read(&resp);
                let wait = rate.to_wait_sec.map(Duration::from_secs);
                let mut reader = resp.into_reader();
                let text = Client::read_small(&mut reader, 64 * 1024);
                let (mut code, message) = error_in(&text);
                if status == 409 && code.is_none() {
                    if let (Some(limit), Some(running)) =
                        (rate.concurrency_limit, rate.concurrency_running)
                    {
                        if running >= limit {
                            code = Some("1965".into());
                        }
                    }
                    if rate.remaining == Some(0) {
                        code = Some("1960".into());
                    }
                }
                let message = message.unwrap_or_else(|| first_line(&text));
                Err((
                    QualysError::Http {
                        endpoint: call.endpoint.clone(),
                        status,
                        code,
                        message,
                    },
                    wait,
                ))
            }
            Err(ureq::Error::Transport(t)) => {
                let text = t.to_string();
                let err = if text.contains("timed out") || text.contains("Timeout") {
                    QualysError::Timeout {
                        endpoint: call.endpoint.clone(),
                        seconds: self.connection.timeout_seconds,
                    }
                } else {
                    QualysError::Network {
                        endpoint: call.endpoint.clone(),
                        message: text,
                    }
                };
                Err((err, None))
            }
        }
    }

    /// The gateway JWT, fetched or renewed when needed.
    fn jwt(&self, endpoint: &str) -> Result<String, QualysError> {
        let mut g = match self.jwt.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        if let Some(j) = g.as_ref() {
            if Instant::now() < j.renew_at {
                return Ok(j.token.clone());
            }
        }
        let url = self.gateway("/auth");
        let resp = self
            .agent
            .post(&url)
            .set("X-Requested-With", REQUESTED_WITH)
            .send_form(&[
                ("username", self.connection.username.as_str()),
                ("password", self.password.as_str()),
                ("token", "true"),
            ]);
        match resp {
            Ok(resp) => {
                let mut r = resp.into_reader();
                let token = Client::read_small(&mut r, 64 * 1024).trim().to_string();
                if token.is_empty() {
                    return Err(QualysError::Api {
                        endpoint: "/auth".into(),
                        code: "INVALID_CREDENTIALS".into(),
                        message: "the gateway gave no token".into(),
                    });
                }
                *g = Some(Jwt {
                    token: token.clone(),
                    // Valid 4 hours; renewed 10 minutes before.
                    renew_at: Instant::now() + Duration::from_secs(4 * 3600 - 600),
                });
                Ok(token)
            }
            Err(ureq::Error::Status(status, resp)) => {
                let mut r = resp.into_reader();
                let text = Client::read_small(&mut r, 64 * 1024);
                Err(QualysError::Http {
                    endpoint: format!("/auth (gateway, for {endpoint})"),
                    status,
                    code: None,
                    message: first_line(&text),
                })
            }
            Err(ureq::Error::Transport(t)) => Err(QualysError::Network {
                endpoint: "/auth (gateway)".into(),
                message: t.to_string(),
            }),
        }
    }

    /// Forgets the JWT (tests of its renewal).
    pub fn forget_jwt(&self) {
        if let Ok(mut g) = self.jwt.lock() {
            *g = None;
        }
    }
}

fn basic(user: &str, password: &str) -> String {
    use base64::Engine;
    let raw = format!("{user}:{password}");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(raw.as_bytes())
    )
}

fn first_line(text: &str) -> String {
    let t = text.trim();
    let line = t.lines().next().unwrap_or("").trim();
    line.chars().take(300).collect()
}

/// Peeks at the start of a 200 body: an XML body whose root is
/// `SIMPLE_RETURN` (fo APIs answer errors that way) or a QPS
/// `ServiceResponse` whose `responseCode` is not SUCCESS is an error. The
/// returned reader still yields the whole body.
fn check_body(
    mut reader: Box<dyn Read + Send>,
    endpoint: &str,
) -> Result<Box<dyn Read + Send>, QualysError> {
    let mut head = Vec::with_capacity(8192);
    let mut chunk = [0u8; 8192];
    // Read until the root element and (QPS) the responseCode are in view.
    while head.len() < 64 * 1024 {
        let n = match reader.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) => {
                return Err(QualysError::Network {
                    endpoint: endpoint.into(),
                    message: format!("reading the answer: {e}"),
                })
            }
        };
        head.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&head);
        if let Some(root) = root_element(&text) {
            if root == "ServiceResponse" && !text.contains("</responseCode>") {
                continue;
            }
            break;
        }
    }
    let text = String::from_utf8_lossy(&head).into_owned();
    match root_element(&text).as_deref() {
        Some("SIMPLE_RETURN") => {
            let mut rest = String::new();
            let _ = reader.take(1024 * 1024).read_to_string(&mut rest);
            let all = format!("{text}{rest}");
            let (code, message) = error_in(&all);
            // A SIMPLE_RETURN without a CODE is a success message.
            if let Some(code) = code {
                return Err(QualysError::Api {
                    endpoint: endpoint.into(),
                    code,
                    message: message.unwrap_or_default(),
                });
            }
            Ok(Box::new(Cursor::new(all.into_bytes())))
        }
        Some("ServiceResponse") => {
            if let Some(code) = between(&text, "<responseCode>", "</responseCode>") {
                if code.trim() != "SUCCESS" {
                    let mut rest = String::new();
                    let _ = reader.take(1024 * 1024).read_to_string(&mut rest);
                    let all = format!("{text}{rest}");
                    let message =
                        between(&all, "<errorMessage>", "</errorMessage>").unwrap_or_default();
                    let resolution = between(&all, "<errorResolution>", "</errorResolution>")
                        .map(|r| format!(" ({r})"))
                        .unwrap_or_default();
                    return Err(QualysError::Api {
                        endpoint: endpoint.into(),
                        code: code.trim().to_string(),
                        message: format!("{}{resolution}", unescape(&message)),
                    });
                }
            }
            Ok(Box::new(Cursor::new(head).chain(reader)))
        }
        _ => Ok(Box::new(Cursor::new(head).chain(reader))),
    }
}

/// The name of the first element of an XML text, skipping the declaration,
/// comments and the DOCTYPE; `None` until it is complete in `text` (or the
/// text is not XML: JSON bodies).
fn root_element(text: &str) -> Option<String> {
    let mut rest = text.trim_start();
    loop {
        if rest.starts_with("<?") {
            rest = rest[rest.find("?>")? + 2..].trim_start();
        } else if rest.starts_with("<!--") {
            rest = rest[rest.find("-->")? + 3..].trim_start();
        } else if rest.starts_with("<!") {
            rest = rest[rest.find('>')? + 1..].trim_start();
        } else if let Some(tag) = rest.strip_prefix('<') {
            let end = tag.find(|c: char| c.is_whitespace() || c == '>' || c == '/')?;
            return Some(tag[..end].to_string());
        } else if rest.is_empty() {
            return None;
        } else {
            return Some(String::new());
        }
    }
}

fn between(text: &str, open: &str, close: &str) -> Option<String> {
    let start = text.find(open)? + open.len();
    let end = text[start..].find(close)? + start;
    Some(text[start..end].trim().to_string())
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

/// Qualys' error code and text in a body: `SIMPLE_RETURN/RESPONSE/CODE` and
/// `TEXT`, or QPS `responseCode` and `errorMessage`.
fn error_in(text: &str) -> (Option<String>, Option<String>) {
    if let Some(code) = between(text, "<CODE>", "</CODE>") {
        let message = between(text, "<TEXT>", "</TEXT>").map(|t| unescape(&t));
        return (Some(code), message);
    }
    if let Some(code) = between(text, "<responseCode>", "</responseCode>") {
        if code != "SUCCESS" {
            let message = between(text, "<errorMessage>", "</errorMessage>").map(|t| unescape(&t));
            return (Some(code), message);
        }
    }
    (None, None)
}

/// Whether an error's code is one of Qualys' limit codes.
pub fn is_limit(err: &QualysError) -> bool {
    match err {
        QualysError::Http { code: Some(c), .. } | QualysError::Api { code: c, .. } => {
            is_limit_code(c)
        }
        QualysError::Http { status: 429, .. } => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roots_are_found_past_declarations_and_doctypes() {
        let x = "<?xml version=\"1.0\"?>\n<!DOCTYPE HOST_LIST_OUTPUT SYSTEM \"x.dtd\">\n<HOST_LIST_OUTPUT>";
        assert_eq!(root_element(x).as_deref(), Some("HOST_LIST_OUTPUT"));
        assert_eq!(root_element("<?xml version").as_deref(), None);
        assert_eq!(root_element("{\"data\": []}").as_deref(), Some(""));
    }

    #[test]
    fn a_200_simple_return_with_a_code_is_an_error() {
        let body = "<?xml version=\"1.0\" encoding=\"UTF-8\" ?>\n<!DOCTYPE SIMPLE_RETURN SYSTEM \"https://x/simple_return.dtd\">\n<SIMPLE_RETURN><RESPONSE><DATETIME>2026-01-01T00:00:00Z</DATETIME><CODE>1965</CODE><TEXT>This API cannot be run again until 1 currently running instance has finished.</TEXT></RESPONSE></SIMPLE_RETURN>";
        let e = check_body(Box::new(Cursor::new(body.as_bytes().to_vec())), "/x")
            .err()
            .unwrap();
        assert!(
            matches!(&e, QualysError::Api { code, .. } if code == "1965"),
            "{e:?}"
        );
        assert!(e.retryable());
    }

    #[test]
    fn a_200_unauthorized_service_response_is_an_error() {
        let body = r#"<?xml version="1.0" encoding="UTF-8"?>
<ServiceResponse xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<responseCode>UNAUTHORIZED</responseCode>
<responseErrorDetails>
<errorMessage>You are not authorized to access the application through the API.</errorMessage>
<errorResolution>If you think this is an error, please contact your account manager.</errorResolution>
</responseErrorDetails>
</ServiceResponse>"#;
        let e = check_body(Box::new(Cursor::new(body.as_bytes().to_vec())), "/qps")
            .err()
            .unwrap();
        assert!(e.to_string().contains("UNAUTHORIZED"), "{e}");
        assert!(!e.retryable());
    }

    #[test]
    fn a_success_body_is_passed_whole() {
        let body = "<?xml version=\"1.0\"?><ServiceResponse><responseCode>SUCCESS</responseCode><count>0</count></ServiceResponse>";
        let mut r = check_body(Box::new(Cursor::new(body.as_bytes().to_vec())), "/q").unwrap();
        let mut s = String::new();
        r.read_to_string(&mut s).unwrap();
        assert_eq!(s, body);
    }
}
