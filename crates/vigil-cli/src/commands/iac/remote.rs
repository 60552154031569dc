//! `vigil iac … -a URL`: the client of a Vigil server's IaC API
//! (`crates/vigil-server/src/iac.rs`, docs/api.md "IaC scans").
//!
//! It signs in with `POST /auth` (username, password, `token=true`) and
//! sends the JWT as a bearer token. A scan reads its paths here, with the
//! same walk, archive limits and `-f` filter as a local scan, and uploads
//! each file found as one `file` part of a multipart form named by its
//! path, so the server's result names files exactly as a local scan does;
//! what could not be read goes along as `sourceErrors`. The server scans
//! with the same code and keeps the result; the client fetches it and
//! prints it as a local scan prints it.
//!
//! Plain HTTP only: this build has no TLS client (put the server behind a
//! TLS proxy on the server side and use `http://` on a trusted network, or
//! run the CLI where `http://localhost` reaches the server).

use crate::setup::{Failure, Result, EXIT_STORE};
use std::time::Duration;
use vigil_iac::report::Document;
use vigil_iac::source::Gathered;

/// A signed-in session with a server.
pub struct Client {
    base: String,
    /// Where the URL came from, for messages.
    from: String,
    token: String,
    agent: ureq::Agent,
}

/// What an upload answers.
#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Launched {
    pub scan_uuid: String,
    pub status: String,
}

/// One scan of the server's list.
#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Listed {
    pub scan_uuid: String,
    pub name: String,
    pub created_on: String,
    pub status: String,
    pub summary: serde_json::Value,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Page {
    content: Vec<Listed>,
    total_elements: usize,
}

/// What a scan sends besides its files.
pub struct Upload<'a> {
    pub name: &'a str,
    pub paths: &'a [String],
    pub policy: Option<&'a str>,
    pub tags: Option<&'a str>,
    pub vars: &'a [String],
    /// `(path, text)` of `--var-file`s.
    pub var_files: &'a [(String, String)],
}

/// The multipart form of an upload.
struct Form {
    boundary: String,
    body: Vec<u8>,
}

impl Form {
    fn new() -> Form {
        Form {
            boundary: format!("vigil-{}", uuid::Uuid::new_v4().simple()),
            body: Vec::new(),
        }
    }

    fn part(&mut self, name: &str, file_name: Option<&str>, value: &[u8]) {
        let mut head = format!(
            "--{}\r\nContent-Disposition: form-data; name=\"{name}\"",
            self.boundary
        );
        if let Some(f) = file_name {
            // As browsers do: the quote and line breaks percent-encoded.
            let f = f
                .replace('"', "%22")
                .replace('\r', "%0D")
                .replace('\n', "%0A");
            head.push_str(&format!(
                "; filename=\"{f}\"\r\nContent-Type: application/octet-stream"
            ));
        }
        head.push_str("\r\n\r\n");
        self.body.extend_from_slice(head.as_bytes());
        self.body.extend_from_slice(value);
        self.body.extend_from_slice(b"\r\n");
    }

    fn finish(mut self) -> (String, Vec<u8>) {
        self.body
            .extend_from_slice(format!("--{}--\r\n", self.boundary).as_bytes());
        (
            format!("multipart/form-data; boundary={}", self.boundary),
            self.body,
        )
    }
}

/// The message of an error answer (the API's `message`), or its text.
fn message_of(response: ureq::Response) -> String {
    let text = response.into_string().unwrap_or_default();
    serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| v["message"].as_str().map(str::to_string))
        .unwrap_or(text)
}

impl Client {
    /// Signs in to the server at `url` (found in `from`).
    pub fn login(
        url: &str,
        from: &str,
        user: Option<&str>,
        password: Option<&str>,
    ) -> Result<Client> {
        let base = url.trim().trim_end_matches('/').to_string();
        if base.starts_with("https://") {
            return Err(Failure::input(format!(
                "{base} (from {from}): this vigil talks to servers over plain http only (it is built \
                 without TLS); use the server's http:// address"
            )));
        }
        if !base.starts_with("http://") {
            return Err(Failure::input(format!(
                "{base} (from {from}) is not an http:// URL, e.g. http://vigil.example.com:8080"
            )));
        }
        let (Some(user), Some(password)) = (user, password) else {
            return Err(Failure::input(format!(
                "the server {base} (from {from}) needs a user and password: give -u and -p, \
                 or write them with `vigil iac config -a URL -u USER -p PASSWORD`"
            )));
        };
        let agent = ureq::AgentBuilder::new()
            .timeout_connect(Duration::from_secs(10))
            .build();
        let mut client = Client {
            base,
            from: from.to_string(),
            token: String::new(),
            agent,
        };
        let answer = client
            .agent
            .post(&format!("{}/auth", client.base))
            .send_form(&[
                ("username", user),
                ("password", password),
                ("token", "true"),
            ]);
        client.token = match answer {
            Ok(r) => r
                .into_string()
                .map_err(|e| client.unreachable(e))?
                .trim()
                .to_string(),
            Err(ureq::Error::Status(401, _)) => {
                return Err(Failure::input(format!(
                    "the server {} (from {}) refused user {user:?} and its password (401); \
                     check -u/-p or the config file",
                    client.base, client.from
                )))
            }
            Err(e) => return Err(client.failure("POST /auth", e)),
        };
        Ok(client)
    }

    fn unreachable(&self, e: impl std::fmt::Display) -> Failure {
        Failure {
            code: EXIT_STORE,
            message: format!(
                "cannot reach the Vigil server at {} (from {}): {e}; check the URL and that \
                 `vigil serve` runs there",
                self.base, self.from
            ),
        }
    }

    /// A clear one-line error for a failed request.
    fn failure(&self, what: &str, e: ureq::Error) -> Failure {
        match e {
            ureq::Error::Transport(t) => self.unreachable(t),
            ureq::Error::Status(status, response) => {
                let message = message_of(response);
                let hint = match status {
                    401 => "; sign in again (check -u/-p)",
                    403 => "; ask a Manager of the server for the permission",
                    413 => "; scan fewer files (-f) or split the scan",
                    _ => "",
                };
                Failure {
                    code: if status >= 500 {
                        EXIT_STORE
                    } else {
                        crate::setup::EXIT_INPUT
                    },
                    message: format!("{what} on {} answered {status}: {message}{hint}", self.base),
                }
            }
        }
    }

    fn get(&self, path: &str, what: &str) -> Result<ureq::Response> {
        self.agent
            .get(&format!("{}{path}", self.base))
            .set("Authorization", &format!("Bearer {}", self.token))
            .call()
            .map_err(|e| self.failure(what, e))
    }

    fn json<T: serde::de::DeserializeOwned>(&self, response: ureq::Response) -> Result<T> {
        let text = response.into_string().map_err(|e| self.unreachable(e))?;
        serde_json::from_str(&text).map_err(|e| Failure {
            code: EXIT_STORE,
            message: format!(
                "the server at {} answered something this vigil cannot read ({e}); is it a \
                 Vigil server of the same version?",
                self.base
            ),
        })
    }

    /// Uploads the gathered files and returns the new scan.
    pub fn upload(&self, gathered: &Gathered, upload: &Upload<'_>) -> Result<Launched> {
        let mut form = Form::new();
        form.part("name", None, upload.name.as_bytes());
        for p in upload.paths {
            form.part("path", None, p.as_bytes());
        }
        if let Some(p) = upload.policy {
            form.part("policyName", None, p.as_bytes());
        }
        if let Some(t) = upload.tags {
            form.part("tags", None, t.as_bytes());
        }
        for v in upload.vars {
            form.part("var", None, v.as_bytes());
        }
        for (path, text) in upload.var_files {
            form.part("varFile", Some(path), text.as_bytes());
        }
        if !gathered.errors.is_empty() {
            let errors: Vec<serde_json::Value> = gathered
                .errors
                .iter()
                .map(|e| serde_json::json!({"path": e.path, "message": e.message}))
                .collect();
            form.part(
                "sourceErrors",
                None,
                serde_json::Value::Array(errors).to_string().as_bytes(),
            );
        }
        for f in &gathered.files {
            form.part("file", Some(&f.path), f.text.as_bytes());
        }
        if gathered.files.is_empty() {
            return Err(Failure::input(
                "no file to scan was found in the paths given (with -f, none matched); \
                 a server scan needs at least one .tf, .json, .yaml, .yml or .template file",
            ));
        }
        let (content_type, body) = form.finish();
        let response = self
            .agent
            .post(&format!("{}/api/v1/iac/scans", self.base))
            .set("Authorization", &format!("Bearer {}", self.token))
            .set("Content-Type", &content_type)
            .send_bytes(&body)
            .map_err(|e| self.failure("the upload", e))?;
        self.json(response)
    }

    /// The result of a scan, once finished (polled every 2 seconds for up
    /// to 10 minutes while the server says `SUBMITTED` or `PROCESSING`, as
    /// Qualys' scans do; a Vigil server answers only when done).
    pub fn result(&self, scan_id: &str) -> Result<Document> {
        let path = format!("/api/v1/iac/scans/{scan_id}");
        let what = format!("the result of scan {scan_id}");
        let deadline = std::time::Instant::now() + Duration::from_secs(600);
        loop {
            let doc: Document = self.json(self.get(&path, &what)?)?;
            let running = matches!(doc.status.as_str(), "SUBMITTED" | "PROCESSING");
            if !running || std::time::Instant::now() > deadline {
                return Ok(doc);
            }
            std::thread::sleep(Duration::from_secs(2));
        }
    }

    /// Every scan (or only `scan_id`), newest first.
    pub fn list(&self, scan_id: Option<&str>) -> Result<Vec<Listed>> {
        let mut out = Vec::new();
        for page_no in 0.. {
            let mut path = format!("/api/v1/iac/scans?pageSize=1000&pageNo={page_no}");
            if let Some(id) = scan_id {
                path.push_str(&format!("&filter=scanUuid:{id}"));
            }
            let page: Page = self.json(self.get(&path, "the scan list")?)?;
            let last = page.content.is_empty();
            out.extend(page.content);
            if last || out.len() >= page.total_elements {
                break;
            }
        }
        Ok(out)
    }
}
