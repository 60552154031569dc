//! Every way a Qualys call fails, each with what to do about it: seed 003's
//! troubleshooting table (401, 403, 404, 409, 429), Qualys' own error codes
//! in HTTP 200 bodies (`SIMPLE_RETURN`, QPS `responseCode`), time-outs,
//! network failures and unreadable XML.

/// A failed Qualys call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QualysError {
    /// An HTTP status that is not success (after retries where retrying
    /// makes sense).
    #[error("{endpoint}: HTTP {status}{}: {message} — {}", code.as_ref().map(|c| format!(" (Qualys code {c})")).unwrap_or_default(), fix_for_status(*status, code.as_deref()))]
    Http {
        endpoint: String,
        status: u16,
        /// Qualys' error code from the body (`CODE`, `responseCode`).
        code: Option<String>,
        message: String,
    },
    /// HTTP 200 whose body is an error (`SIMPLE_RETURN` with a `CODE`, QPS
    /// `responseCode` other than SUCCESS).
    #[error(
        "{endpoint}: Qualys answered {code}: {message} — {}",
        fix_for_code(code)
    )]
    Api {
        endpoint: String,
        code: String,
        message: String,
    },
    /// No answer within the time-out, on every attempt.
    #[error("{endpoint}: no answer within {seconds} s — check that the API server URL is reachable from this host (proxy, firewall, Qualys IP allowlist) or raise timeout_seconds")]
    Timeout { endpoint: String, seconds: u64 },
    /// Could not connect or the connection broke, on every attempt.
    #[error("{endpoint}: {message} — check the API server URL (Qualys: Help → About) and that this host can reach it")]
    Network { endpoint: String, message: String },
    /// The body is not the XML or JSON the API documents (malformed or cut
    /// short).
    #[error("{endpoint}: unreadable response at byte {offset}: {message} — retry the run; if it persists the response was cut short by a proxy or Qualys changed the format")]
    Parse {
        endpoint: String,
        offset: u64,
        message: String,
    },
    /// The settings cannot work (bad URL, …).
    #[error("{0}")]
    Config(String),
    /// The receiver of the data stopped (the store failed); its own error
    /// says why.
    #[error("ingest stopped: {0}")]
    Stopped(String),
}

impl QualysError {
    /// Whether another attempt may succeed without a human doing anything.
    pub fn retryable(&self) -> bool {
        match self {
            QualysError::Http { status, code, .. } => {
                matches!(status, 429 | 500 | 502 | 503 | 504)
                    || (*status == 409 && code.as_deref().is_some_and(is_limit_code))
            }
            QualysError::Timeout { .. } | QualysError::Network { .. } => true,
            QualysError::Parse { .. } => true,
            QualysError::Api { code, .. } => is_limit_code(code),
            QualysError::Config(_) | QualysError::Stopped(_) => false,
        }
    }

    /// The endpoint (path) the error is about.
    pub fn endpoint(&self) -> &str {
        match self {
            QualysError::Http { endpoint, .. }
            | QualysError::Api { endpoint, .. }
            | QualysError::Timeout { endpoint, .. }
            | QualysError::Network { endpoint, .. }
            | QualysError::Parse { endpoint, .. } => endpoint,
            QualysError::Config(_) | QualysError::Stopped(_) => "",
        }
    }
}

/// Qualys' rate-limit (1960) and concurrency-limit (1965) codes.
pub fn is_limit_code(code: &str) -> bool {
    matches!(code.trim(), "1960" | "1965" | "1920")
}

/// What to do about an HTTP status (seed 003's troubleshooting table).
pub fn fix_for_status(status: u16, code: Option<&str>) -> &'static str {
    match status {
        400 => "the request was refused as invalid; check the connector options (ids, IP ranges, labels) against Qualys' API user guide",
        401 => "authorization failure: check the user name and password, that the user is not a test account user, and that its role has API access",
        403 => "access forbidden: give the user at least the Read Asset permission (Asset View module) and API access, with full scope (Allow user view access to all objects)",
        404 => "not found: check the API server URL (Qualys: Help → About, under Security Operations Center) and the API version prefixes",
        409 if code.is_some_and(is_limit_code) => "Qualys' rate or concurrency limit: waited as told and retried until the retries ran out; run fewer parallel requests or use a dedicated API user",
        409 => "possible insufficient permissions: the knowledge base API needs its own permission (KnowledgeBase in Qualys' API user guide); check that POST action=list on /api/2.0/fo/knowledge_base/vuln/ succeeds for this user",
        429 => "too many requests: Qualys limits calls per user; lower parallel requests, lengthen the polling interval or use a dedicated user for the connector",
        500..=599 => "Qualys had a temporary failure; retried until the retries ran out — if it persists, check the connector configuration and contact Qualys support",
        _ => "unexpected answer; check the API server URL and credentials",
    }
}

/// What to do about a Qualys error code given in a 200 body.
pub fn fix_for_code(code: &str) -> &'static str {
    match code.trim() {
        "UNAUTHORIZED" | "2000" | "2002" | "2012" => "the user is not authorized for this API: give its role API access and the module permission (Read Asset for asset data, KnowledgeBase for the knowledge base, Policy Compliance, WAS, Container Security)",
        "1960" | "1965" | "1920" => "Qualys' rate or concurrency limit: retries ran out; run fewer parallel requests or use a dedicated API user",
        "INVALID_REQUEST" | "1903" | "1904" | "1905" | "999" => "the request was refused as invalid; check the connector options against Qualys' API user guide",
        "INVALID_CREDENTIALS" => "check the user name and password",
        _ => "see Qualys' API user guide for this code; check credentials, permissions and options",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_say_what_to_do() {
        let e = QualysError::Http {
            endpoint: "/api/2.0/fo/asset/host/".into(),
            status: 403,
            code: None,
            message: "Forbidden".into(),
        };
        assert!(e.to_string().contains("Read Asset"), "{e}");
        assert!(!e.retryable());
        let e = QualysError::Http {
            endpoint: "x".into(),
            status: 409,
            code: Some("1965".into()),
            message: "concurrency".into(),
        };
        assert!(e.retryable());
        let e = QualysError::Http {
            endpoint: "/api/2.0/fo/knowledge_base/vuln/".into(),
            status: 409,
            code: None,
            message: "".into(),
        };
        assert!(e.to_string().contains("KnowledgeBase"), "{e}");
        assert!(!e.retryable());
        for s in [400, 401, 403, 404] {
            let e = QualysError::Http {
                endpoint: "x".into(),
                status: s,
                code: None,
                message: "".into(),
            };
            assert!(!e.retryable(), "{s}");
        }
    }
}
