//! What the tests that drive `vigil serve` as a process share: the node,
//! JSON calls, and a connector run to its end.

#![allow(dead_code)]

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// A running `vigil serve`; killed when dropped.
pub struct Node {
    pub child: Child,
    pub url: String,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Node {
    /// Starts `command` (a `vigil … serve --listen 127.0.0.1:0` with piped
    /// stdout) and reads the address it prints.
    pub fn start(command: &mut Command) -> Node {
        let mut child = command
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("vigil serve starts");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).expect("a line");
        let url = line
            .trim()
            .split(" listening on ")
            .nth(1)
            .unwrap_or_else(|| panic!("no address printed: `{line}`"))
            .to_string();
        Node { child, url }
    }

    /// `kill -9`: no shutdown, no flush, nothing finished.
    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `method url` with a bearer `token` and a JSON `body`: the status and the
/// answer (JSON, or the text as a JSON string).
pub fn call(method: &str, url: &str, token: Option<&str>, body: Option<&Value>) -> (u16, Value) {
    let mut request = ureq::request(method, url);
    if let Some(t) = token {
        request = request.set("Authorization", &format!("Bearer {t}"));
    }
    let result = match body {
        Some(b) => request
            .set("Content-Type", "application/json")
            .send_string(&b.to_string()),
        None => request.call(),
    };
    match result {
        Ok(r) | Err(ureq::Error::Status(_, r)) => {
            let status = r.status();
            let text = r.into_string().expect("a body");
            (
                status,
                serde_json::from_str(&text).unwrap_or(Value::String(text)),
            )
        }
        Err(e) => panic!("{method} {url}: {e}"),
    }
}

/// A token from `POST /auth` (seed 000's "Generate a JWT Token").
pub fn login(node: &Node, username: &str, password: &str) -> String {
    ureq::post(&format!("{}/auth", node.url))
        .set("Content-Type", "application/x-www-form-urlencoded")
        .send_string(&format!(
            "username={username}&password={}&token=true",
            password.replace(' ', "+")
        ))
        .expect("a token")
        .into_string()
        .expect("the token")
}

/// Queues a run of connector `id` and waits (up to 2 minutes) for it to end.
pub fn run_to_end(node: &Node, token: &str, id: &str) -> Value {
    let (status, run) = call(
        "POST",
        &format!("{}/api/v1/connectors/{id}/run", node.url),
        Some(token),
        None,
    );
    assert_eq!(status, 202, "{run}");
    let run_id = run["id"].as_str().expect("an id").to_string();
    let start = Instant::now();
    loop {
        let (_, run) = call(
            "GET",
            &format!("{}/api/v1/runs/{run_id}", node.url),
            Some(token),
            None,
        );
        if matches!(run["state"].as_str(), Some("Completed" | "Failed")) {
            return run;
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "the run did not end: {run}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}
