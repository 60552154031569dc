//! Connector runs executed by real `vigil serve` processes against moto
//! (`VIGIL_TEST_MOTO_URL`): run now on the embedded SQLite store, and two
//! nodes on one PostgreSQL database (`VIGIL_TEST_POSTGRES_URL`) sharing the
//! scheduled runs, one of them killed mid-run and the other taking the run
//! over after the lease. Each test is skipped when its service is not set.

use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const PASSWORD: &str = "correct horse battery staple";
const SECRET_KEY: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

/// A running `vigil serve`; killed when dropped.
struct Node {
    child: Child,
    url: String,
    /// Everything the node wrote to stderr, for failure messages.
    log: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn env_url(name: &str, test: &str) -> Option<String> {
    match std::env::var(name) {
        Ok(u) if !u.trim().is_empty() => Some(u),
        _ => {
            println!("{name} is not set: `{test}` was skipped");
            None
        }
    }
}

/// Starts `vigil serve` on `database` (or the data directory's SQLite) with
/// a 1 s worker tick, a 3 s lease and runs delayed by `delay_ms`.
fn node(
    data: &std::path::Path,
    database: Option<&str>,
    id: &str,
    moto: &str,
    delay_ms: u64,
) -> Node {
    let mut command = Command::new(env!("CARGO_BIN_EXE_vigil"));
    command.arg("--data-dir").arg(data);
    if let Some(url) = database {
        command.args(["--database-url", url]);
    }
    command
        .args(["serve", "--listen", "127.0.0.1:0", "--node-id", id])
        .args(["--run-lease-seconds", "3", "--worker-tick-seconds", "1"])
        .env("HOME", data)
        .env_remove("VIGIL_DATABASE_URL")
        .env("VIGIL_ADMIN_PASSWORD", PASSWORD)
        .env("VIGIL_SECRET_KEY", SECRET_KEY)
        .env("VIGIL_TEST_RUN_DELAY_MS", delay_ms.to_string())
        .env("AWS_ENDPOINT_URL", moto)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env_remove("AWS_PROFILE")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().expect("vigil starts");
    let stdout = child.stdout.take().expect("stdout");
    let stderr = child.stderr.take().expect("stderr");
    let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let sink = log.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Ok(mut log) = sink.lock() {
                log.push_str(&line);
                log.push('\n');
            }
        }
    });
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("a line on stdout");
    let url = line
        .trim()
        .split(" listening on ")
        .nth(1)
        .unwrap_or_else(|| panic!("no address printed: `{line}`"))
        .to_string();
    Node { child, url, log }
}

fn call(method: &str, url: &str, token: Option<&str>, body: Option<&Value>) -> (u16, Value) {
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

impl Node {
    fn token(&self) -> String {
        let reply = ureq::post(&format!("{}/auth", self.url))
            .set("Content-Type", "application/x-www-form-urlencoded")
            .send_string(&format!(
                "username=admin&password={}&token=true",
                PASSWORD.replace(' ', "+")
            ))
            .expect("a token");
        reply.into_string().expect("the token")
    }

    fn get(&self, path: &str, token: &str) -> Value {
        let (status, body) = call("GET", &format!("{}{path}", self.url), Some(token), None);
        assert_eq!(status, 200, "GET {path}: {body}");
        body
    }

    fn create(&self, token: &str, body: &Value) -> String {
        let (status, created) = call(
            "POST",
            &format!("{}/api/v1/connectors", self.url),
            Some(token),
            Some(body),
        );
        assert_eq!(status, 201, "{created}");
        created["id"].as_str().expect("an id").to_string()
    }

    /// Runs of this node's metrics that ended `state`.
    fn finished(&self, state: &str) -> u64 {
        let text = ureq::get(&format!("{}/metrics", self.url))
            .call()
            .expect("metrics")
            .into_string()
            .expect("text");
        let prefix = format!("vigil_runs_total{{state=\"{state}\"}} ");
        text.lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {prefix} in {text}"))
    }

    fn log(&self) -> String {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }
}

/// Polls until `done` returns something (at most `limit`).
fn wait<T>(limit: Duration, what: &str, mut done: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = done() {
            return v;
        }
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A role connector in a moto account of its own (moto places an assumed
/// role's resources in the account of the role's ARN).
fn role_connector(name: &str, polling: Option<u32>) -> Value {
    static N: AtomicUsize = AtomicUsize::new(0);
    let account = 300_000_000_000u64
        + u64::from(std::process::id() % 100_000) * 100
        + N.fetch_add(1, Ordering::SeqCst) as u64;
    json!({
        "name": name,
        "authentication": {"type": "role", "role_arn": format!("arn:aws:iam::{account}:role/vigil-test")},
        "regions": ["us-east-1"],
        "polling_interval_minutes": polling,
    })
}

fn completed(run: &Value) -> Option<Value> {
    match run["state"].as_str() {
        Some("Completed") => Some(run.clone()),
        Some("Failed") => panic!("the run failed: {run}"),
        _ => None,
    }
}

#[test]
fn run_now_against_moto_records_resources_and_evaluations() {
    let Some(moto) = env_url("VIGIL_TEST_MOTO_URL", "run_now_against_moto") else {
        return;
    };
    let dir = tempfile::tempdir().expect("a temp dir");
    let node = node(dir.path(), None, "solo", &moto, 0);
    let token = node.token();
    let role = node.create(&token, &role_connector("moto-role", None));
    let mut keys = role_connector("moto-keys", None);
    keys["authentication"] = json!({"type": "access_keys", "access_key_id": "AKIAIOSFODNN7EXAMPLE", "secret_access_key": "moto/secret"});
    let keys = node.create(&token, &keys);
    for id in [&role, &keys] {
        let (status, run) = call(
            "POST",
            &format!("{}/api/v1/connectors/{id}/run", node.url),
            Some(&token),
            None,
        );
        assert_eq!(
            (status, run["state"].clone()),
            (202, json!("Queued")),
            "{run}"
        );
        let run_id = run["id"].as_str().expect("an id").to_string();
        let done = wait(Duration::from_secs(120), "the run to complete", || {
            completed(&node.get(&format!("/api/v1/runs/{run_id}"), &token))
        });
        assert!(
            done["resources"].as_u64().is_some_and(|n| n > 0),
            "{done}\n{}",
            node.log()
        );
        assert!(
            done["evaluations"].as_u64().is_some_and(|n| n > 0),
            "{done}"
        );
        assert_eq!(done["node"], "solo");
    }
    drop(node);
    // What the runs recorded is in the store under connector:<id>.
    let rt = tokio::runtime::Runtime::new().expect("a runtime");
    let store = rt
        .block_on(vigil_store_sqlite::SqliteStore::open(
            &dir.path().join("vigil.db"),
        ))
        .expect("the store");
    use vigil_store::Store;
    let source = format!("connector:{role}");
    assert!(
        rt.block_on(store.present_resources(&source))
            .expect("count")
            > 0
    );
    let query =
        vigil_query::Query::parse(&format!("resource.source:\"{source}\""), chrono::Utc::now())
            .expect("a query");
    let counts = rt.block_on(store.counts(&query)).expect("counts");
    assert!(counts.evaluations > 0, "{counts:?}");
}

/// A fresh PostgreSQL database; dropped at the end of the test.
struct Database {
    admin: String,
    name: String,
    url: String,
}

impl Database {
    fn new(admin: &str) -> Database {
        let name = format!("vigil_nodes_test_{}", std::process::id());
        pg(
            admin,
            &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
        );
        pg(admin, &format!("CREATE DATABASE {name}"));
        let base = admin.rsplit_once('/').map_or(admin, |(b, _)| b);
        Database {
            admin: admin.to_string(),
            url: format!("{base}/{name}"),
            name,
        }
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        pg(
            &self.admin,
            &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
        );
    }
}

fn pg(url: &str, sql: &str) {
    use sqlx::Connection;
    let rt = tokio::runtime::Runtime::new().expect("a runtime");
    rt.block_on(async {
        let mut conn = sqlx::PgConnection::connect(url)
            .await
            .expect("connect to PostgreSQL");
        sqlx::query(sql).execute(&mut conn).await.expect(sql);
        let _ = conn.close().await;
    });
}

#[test]
fn two_nodes_share_runs_and_a_killed_nodes_run_is_taken_over() {
    let Some(moto) = env_url("VIGIL_TEST_MOTO_URL", "two_nodes") else {
        return;
    };
    let Some(admin) = env_url("VIGIL_TEST_POSTGRES_URL", "two_nodes") else {
        return;
    };
    let db = Database::new(&admin);
    let dir = tempfile::tempdir().expect("a temp dir");
    // Runs last at least 4 s: longer than the 3 s lease, which the holder renews.
    let a = node(dir.path(), Some(&db.url), "node-a", &moto, 4000);
    let b = node(dir.path(), Some(&db.url), "node-b", &moto, 4000);
    let token = a.token();

    // Two healthy nodes: the scheduled run (due at once) executes once.
    let healthy = a.create(&token, &role_connector("healthy", Some(15)));
    let runs_path = |id: &str| format!("/api/v1/connectors/{id}/runs");
    let run = wait(Duration::from_secs(120), "the scheduled run", || {
        completed(&b.get(&runs_path(&healthy), &token)[0])
    });
    assert_eq!(run["trigger"], "scheduled");
    assert_eq!(run["attempts"], 1, "{run}");
    let runs = b.get(&runs_path(&healthy), &token);
    assert_eq!(runs.as_array().map(Vec::len), Some(1), "{runs}");
    assert_eq!(
        a.finished("completed") + b.finished("completed"),
        1,
        "one node finished it once"
    );

    // The node holding the next run is killed mid-run; the other takes over.
    let takeover = a.create(&token, &role_connector("takeover", Some(15)));
    let running = wait(Duration::from_secs(60), "the run to start", || {
        let run = a.get(&runs_path(&takeover), &token)[0].clone();
        (run["state"] == "Running").then_some(run)
    });
    let run_id = running["id"].as_str().expect("an id").to_string();
    let (mut victim, survivor) = if running["node"] == "node-a" {
        (a, b)
    } else {
        (b, a)
    };
    let survivor_id = if running["node"] == "node-a" {
        "node-b"
    } else {
        "node-a"
    };
    victim.child.kill().expect("SIGKILL");
    victim.child.wait().expect("the node is gone");
    let completed_before = survivor.finished("completed");
    let token = survivor.token();
    let done = wait(Duration::from_secs(120), "the takeover", || {
        completed(&survivor.get(&format!("/api/v1/runs/{run_id}"), &token))
    });
    assert_eq!(done["node"], survivor_id, "{done}\n{}", survivor.log());
    assert_eq!(
        done["attempts"], 2,
        "claimed by the victim, then by the survivor"
    );
    assert!(done["resources"].as_u64().is_some_and(|n| n > 0), "{done}");
    let runs = survivor.get(&runs_path(&takeover), &token);
    assert_eq!(runs.as_array().map(Vec::len), Some(1), "one run: {runs}");
    assert_eq!(survivor.finished("completed"), completed_before + 1);
    drop(victim);
}

/// The README's "REST API in five minutes", step by step, as a newcomer runs
/// it: a token from `/auth`, an AWS connector pointing at moto, run now,
/// the failed HIGH controls, an exception, and PASSE.
#[test]
fn the_readme_newcomer_flow_ends_in_passe() {
    let Some(moto) = env_url("VIGIL_TEST_MOTO_URL", "the_readme_newcomer_flow") else {
        return;
    };
    // A bucket without versioning in moto's default account: control 48
    // (HIGH) fails on it.
    let bucket = format!("vigil-newcomer-{}", std::process::id());
    let created = ureq::put(&format!("{moto}/{bucket}")).call();
    assert!(created.is_ok(), "create the demo bucket: {created:?}");

    let dir = tempfile::tempdir().expect("a temp dir");
    let node = node(dir.path(), None, "newcomer", &moto, 0);
    let token = node.token();
    let api = format!("{}/api/v1", node.url);
    let connector = node.create(
        &token,
        &json!({"name": "demo", "authentication": {"type": "default"}, "regions": ["us-east-1"]}),
    );
    let (status, run) = call(
        "POST",
        &format!("{api}/connectors/{connector}/run"),
        Some(&token),
        None,
    );
    assert_eq!(status, 202, "{run}");
    let run_id = run["id"].as_str().expect("a run id").to_string();
    wait(Duration::from_secs(120), "the run to complete", || {
        completed(&node.get(&format!("/api/v1/runs/{run_id}"), &token))
    });

    let failed_high = |result: &str| {
        let filter = format!(
            "control.criticality:HIGH and control.result:{result} and cid:48 and resource.name:{bucket}"
        );
        let url = format!("{api}/evaluations?filter={}", urlencode(&filter));
        let (status, page) = call("GET", &url, Some(&token), None);
        assert_eq!(status, 200, "{page}");
        page["items"].as_array().cloned().unwrap_or_default()
    };
    let fails = failed_high("FAIL");
    assert_eq!(fails.len(), 1, "{fails:?}\n{}", node.log());
    let resource = fails[0]["resource_id"]
        .as_str()
        .expect("a resource id")
        .to_string();

    let (status, exception) = call(
        "POST",
        &format!("{api}/exceptions"),
        Some(&token),
        Some(&json!({
            "name": "Demo bucket", "reason": "Risk Accepted",
            "explanation": "Versioning is not needed for this demo bucket",
            "start": chrono::Utc::now().format("%Y-%m-%d").to_string(), "end": "2099-12-31",
            "scope": {"resources": [resource]}, "controls": [48]
        })),
    );
    assert_eq!(status, 201, "{exception}");
    assert_eq!(exception["status"], "ACTIVE");
    assert!(failed_high("FAIL").is_empty(), "the FAIL is gone at once");
    let passe = failed_high("PASSE");
    assert_eq!(passe.len(), 1, "{passe:?}");
    assert_eq!(passe[0]["resource_id"], json!(resource));
}

/// `text` percent-encoded for a query string.
fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
