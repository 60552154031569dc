//! Connectors and runs over real HTTP, on SQLite and PostgreSQL: CRUD with
//! field errors, secrets that never come back, role and tag access, run now
//! and history, and the worker executing runs through a `RunExecutor`.

mod common;

use common::*;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use vigil_server::secrets::SecretKey;
use vigil_server::worker::{RunExecutor, RunJob, WorkerConfig};
use vigil_server::Config;
use vigil_store::connectors::{Authentication, RunOutcome};

const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const KEY_ID: &str = "AKIAIOSFODNN7EXAMPLE";

fn key() -> SecretKey {
    SecretKey::parse(&"5a".repeat(32)).expect("a key")
}

fn role_connector(name: &str, tags: &[&str]) -> Value {
    json!({
        "name": name,
        "description": "the account",
        "authentication": {"type": "role", "role_arn": "arn:aws:iam::123456789012:role/VigilRead"},
        "regions": ["us-east-1", "eu-west-1"],
        "tags": tags,
    })
}

fn keys_connector(name: &str) -> Value {
    json!({
        "name": name,
        "authentication": {"type": "access_keys", "access_key_id": KEY_ID, "secret_access_key": SECRET},
        "polling_interval_minutes": 60,
    })
}

/// Posts `body` as admin and returns the created connector.
fn create(server: &Running, token: &str, body: &Value) -> Value {
    let reply = server.post("/api/v1/connectors", token, body);
    assert_eq!(reply.status, 201, "{}", reply.body);
    reply.json()
}

fn with_key(place: &Place) -> Running {
    let config = Config {
        admin_password: Some(PASSWORD.into()),
        secret_key: Some(key()),
        ..Config::default()
    };
    start_with(runtime(), place, config)
}

fn crud_and_validation(place: &Place) {
    let server = with_key(place);
    let admin = server.admin_token();
    let prod = create(&server, &admin, &role_connector("aws-prod", &["prod"]));
    let id = prod["id"].as_str().expect("an id").to_string();
    assert_eq!(prod["provider"], "aws");
    assert_eq!(prod["enabled"], true);
    assert_eq!(prod["polling_interval_minutes"], Value::Null);
    let external_id = prod["authentication"]["external_id"]
        .as_str()
        .expect("an external id")
        .to_string();
    assert!(external_id.starts_with("vigil-"), "{external_id}");

    // Access keys: the secret is sealed, never shown, never audited.
    let keys = create(&server, &admin, &keys_connector("aws-keys"));
    assert_eq!(
        keys["authentication"],
        json!({"type": "access_keys", "access_key_id": KEY_ID, "secret_access_key_set": true})
    );
    let keys_id = keys["id"].as_str().expect("an id").to_string();
    let stored = server
        .rt
        .block_on(server.store.connector(&keys_id))
        .expect("read")
        .expect("stored");
    match &stored.authentication {
        Authentication::AccessKeys { sealed_secret, .. } => {
            assert!(!sealed_secret
                .windows(8)
                .any(|w| w == &SECRET.as_bytes()[..8]));
            assert_eq!(key().open(sealed_secret).expect("opens"), SECRET);
        }
        other => panic!("{other:?}"),
    }
    for path in [
        "/api/v1/connectors",
        &format!("/api/v1/connectors/{keys_id}"),
    ] {
        let reply = server.get(path, Some(&admin));
        assert_eq!(reply.status, 200);
        assert!(!reply.body.contains(SECRET), "{}", reply.body);
    }

    // PUT keeps the external id and, with the same key id, the secret.
    let mut changed = role_connector("aws-production", &["prod"]);
    changed["polling_interval_minutes"] = json!(240);
    changed["enabled"] = json!(false);
    let reply = server.put(&format!("/api/v1/connectors/{id}"), &admin, &changed);
    assert_eq!(reply.status, 200, "{}", reply.body);
    let after = reply.json();
    assert_eq!(after["name"], "aws-production");
    assert_eq!(after["authentication"]["external_id"], external_id.as_str());
    assert_eq!(
        (
            after["polling_interval_minutes"].clone(),
            after["enabled"].clone()
        ),
        (json!(240), json!(false))
    );
    assert_eq!(after["created"], prod["created"]);
    let same_key = json!({"name": "aws-keys", "authentication": {"type": "access_keys", "access_key_id": KEY_ID}});
    let reply = server.put(&format!("/api/v1/connectors/{keys_id}"), &admin, &same_key);
    assert_eq!(reply.status, 200, "{}", reply.body);
    let new_key = json!({"name": "aws-keys", "authentication": {"type": "access_keys", "access_key_id": "AKIAIOSFODNN7OTHER1"}});
    let e = server
        .put(&format!("/api/v1/connectors/{keys_id}"), &admin, &new_key)
        .error(400, "invalid_field");
    assert_eq!(e["field"], "authentication.secret_access_key");

    let audit = server.get("/api/v1/audit?action=connector.", Some(&admin));
    assert_eq!(audit.status, 200);
    assert!(!audit.body.contains(SECRET), "{}", audit.body);
    assert_eq!(
        audit.json()["items"].as_array().map(Vec::len),
        Some(4),
        "{}",
        audit.body
    );

    // Each bad field is named.
    let cases: Vec<(Value, &str)> = vec![
        (
            json!({"name": "a/b", "authentication": {"type": "default"}}),
            "name",
        ),
        (
            json!({"name": "x", "authentication": {"type": "default"}, "regions": ["us-east-1", "mars-1"]}),
            "regions[1]",
        ),
        (
            json!({"name": "x", "authentication": {"type": "default"}, "regions": ["us-east-1", "us-east-1"]}),
            "regions[1]",
        ),
        (
            json!({"name": "x", "authentication": {"type": "role", "role_arn": "arn:aws:iam::1:role/x"}}),
            "authentication.role_arn",
        ),
        (
            json!({"name": "x", "authentication": {"type": "access_keys", "access_key_id": "nope", "secret_access_key": "s"}}),
            "authentication.access_key_id",
        ),
        (
            json!({"name": "x", "authentication": {"type": "access_keys", "access_key_id": KEY_ID}}),
            "authentication.secret_access_key",
        ),
        (
            json!({"name": "x", "authentication": {"type": "default"}, "polling_interval_minutes": 5}),
            "polling_interval_minutes",
        ),
        (
            json!({"name": "x", "authentication": {"type": "default"}, "polling_interval_minutes": 20000}),
            "polling_interval_minutes",
        ),
        (
            json!({"name": "x", "authentication": {"type": "default"}, "tags": ["ok", ""]}),
            "tags[1]",
        ),
        (json!({"name": "x"}), "authentication"),
        (json!({"authentication": {"type": "default"}}), "name"),
    ];
    for (body, field) in cases {
        let reply = server.post("/api/v1/connectors", &admin, &body);
        assert_eq!(reply.status, 400, "{body}: {}", reply.body);
        assert_eq!(reply.json()["field"], field, "{body}: {}", reply.body);
    }
    server
        .post(
            "/api/v1/connectors",
            &admin,
            &role_connector("aws-keys", &[]),
        )
        .error(409, "conflict");
    server
        .put("/api/v1/connectors/nope", &admin, &role_connector("y", &[]))
        .error(404, "not_found");
    server
        .get("/api/v1/connectors/nope", Some(&admin))
        .error(404, "not_found");

    let reply = server.delete(&format!("/api/v1/connectors/{keys_id}"), &admin);
    assert_eq!(reply.status, 204, "{}", reply.body);
    server
        .get(&format!("/api/v1/connectors/{keys_id}"), Some(&admin))
        .error(404, "not_found");
    server
        .delete(&format!("/api/v1/connectors/{keys_id}"), &admin)
        .error(404, "not_found");
}

#[test]
fn crud_and_validation_on_sqlite() {
    crud_and_validation(&Place::sqlite());
}

#[test]
fn crud_and_validation_on_postgres() {
    let rt = runtime();
    if let Some(place) = Place::postgres(&rt, "connectors_crud") {
        crud_and_validation(&place);
    }
}

#[test]
fn access_keys_need_the_secret_key() {
    let place = Place::sqlite();
    let server = start(&place);
    let admin = server.admin_token();
    let e = server
        .post("/api/v1/connectors", &admin, &keys_connector("keys"))
        .error(400, "invalid_field");
    assert_eq!(e["field"], "authentication.secret_access_key");
    assert!(
        e["message"]
            .as_str()
            .is_some_and(|m| m.contains("VIGIL_SECRET_KEY")),
        "{e}"
    );
    create(&server, &admin, &role_connector("role", &[]));
    create(
        &server,
        &admin,
        &json!({"name": "host", "authentication": {"type": "default"}}),
    );
}

fn roles_tags_and_runs(place: &Place) {
    let server = with_key(place);
    let admin = server.admin_token();
    let prod = create(&server, &admin, &role_connector("prod", &["prod"]));
    let dev = create(&server, &admin, &role_connector("dev", &["dev"]));
    let prod_id = prod["id"].as_str().expect("id").to_string();
    let dev_id = dev["id"].as_str().expect("id").to_string();

    // Run now: queued (no executor on this node), one at a time, in history.
    let reply = server.call(
        "POST",
        &format!("/api/v1/connectors/{prod_id}/run"),
        Some(&admin),
        None,
    );
    assert_eq!(reply.status, 202, "{}", reply.body);
    let run = reply.json();
    assert_eq!(
        (run["state"].clone(), run["trigger"].clone()),
        (json!("Queued"), json!("manual"))
    );
    let run_id = run["id"].as_str().expect("id").to_string();
    server
        .call(
            "POST",
            &format!("/api/v1/connectors/{prod_id}/run"),
            Some(&admin),
            None,
        )
        .error(409, "conflict");
    server
        .call("POST", "/api/v1/connectors/nope/run", Some(&admin), None)
        .error(404, "not_found");
    let history = server.get(&format!("/api/v1/connectors/{prod_id}/runs"), Some(&admin));
    assert_eq!(history.status, 200, "{}", history.body);
    assert_eq!(history.json()[0]["id"], run_id.as_str());
    server
        .get(
            &format!("/api/v1/connectors/{prod_id}/runs?limit=0"),
            Some(&admin),
        )
        .error(400, "invalid_field");
    server
        .get(
            &format!("/api/v1/connectors/{prod_id}/runs?limit=x"),
            Some(&admin),
        )
        .error(400, "invalid_query");
    let one = server.get(&format!("/api/v1/runs/{run_id}"), Some(&admin));
    assert_eq!(
        (one.status, one.json()["connector_id"].clone()),
        (200, json!(prod_id))
    );
    server
        .get("/api/v1/runs/nope", Some(&admin))
        .error(404, "not_found");

    // No token: 401 everywhere.
    let prod_path = format!("/api/v1/connectors/{prod_id}");
    let endpoints = [
        ("GET", "/api/v1/connectors".to_string()),
        ("POST", "/api/v1/connectors".to_string()),
        ("GET", prod_path.clone()),
        ("PUT", prod_path.clone()),
        ("DELETE", prod_path.clone()),
        ("POST", format!("{prod_path}/run")),
        ("GET", format!("{prod_path}/runs")),
        ("GET", format!("/api/v1/runs/{run_id}")),
    ];
    for (method, path) in &endpoints {
        server
            .call(method, path, None, None)
            .error(401, "unauthorized");
    }

    // A reader reads but changes nothing; reports-only reads nothing.
    let reader = server.user_token("rita", "reader", &[]);
    assert_eq!(
        server
            .get("/api/v1/connectors", Some(&reader))
            .json()
            .as_array()
            .map(Vec::len),
        Some(2)
    );
    for (method, path) in &endpoints {
        let reply = server.call(method, path, Some(&reader), Some(&role_connector("z", &[])));
        let writes = *method != "GET";
        assert_eq!(
            reply.status == 403,
            writes,
            "{method} {path}: {}",
            reply.body
        );
    }
    let reports = server.user_token("rob", "reports_only", &[]);
    for (method, path) in &endpoints {
        server
            .call(method, path, Some(&reports), Some(&json!({})))
            .error(403, "forbidden");
    }

    // A Manager-role user tagged `dev` sees and runs only dev.
    let devops = server.user_token("dora", "manager", &["dev"]);
    let listed = server.get("/api/v1/connectors", Some(&devops)).json();
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed}");
    assert_eq!(listed[0]["id"], dev_id.as_str());
    for (method, path) in endpoints.iter().skip(2) {
        server
            .call(
                method,
                path,
                Some(&devops),
                Some(&role_connector("dev2", &["dev"])),
            )
            .error(403, "forbidden");
    }
    server
        .post(
            "/api/v1/connectors",
            &devops,
            &role_connector("prod2", &["prod"]),
        )
        .error(403, "forbidden");
    server
        .put(
            &format!("/api/v1/connectors/{dev_id}"),
            &devops,
            &role_connector("dev", &["prod"]),
        )
        .error(403, "forbidden");
    create(&server, &devops, &role_connector("dev2", &["dev"]));
    let reply = server.call(
        "POST",
        &format!("/api/v1/connectors/{dev_id}/run"),
        Some(&devops),
        None,
    );
    assert_eq!(reply.status, 202, "{}", reply.body);
    // The OpenAPI document gives each operation its permission.
    let doc = server.get("/api/openapi.json", None).json();
    for (path, method, scope) in [
        ("/api/v1/connectors", "get", "view_data"),
        ("/api/v1/connectors", "post", "manage_connectors"),
        ("/api/v1/connectors/{id}", "put", "manage_connectors"),
        ("/api/v1/connectors/{id}/run", "post", "manage_connectors"),
        ("/api/v1/connectors/{id}/runs", "get", "view_data"),
        ("/api/v1/runs/{run_id}", "get", "view_data"),
    ] {
        assert_eq!(
            doc["paths"][path][method]["security"][0]["bearer"][0], scope,
            "{method} {path}"
        );
    }
    assert!(doc["components"]["schemas"]["ConnectorView"].is_object());
    // A tag no connector carries: none.
    let nobody = server.user_token("nina", "reader", &["nothing"]);
    assert_eq!(
        server.get("/api/v1/connectors", Some(&nobody)).json(),
        json!([])
    );
}

#[test]
fn roles_tags_and_runs_on_sqlite() {
    roles_tags_and_runs(&Place::sqlite());
}

#[test]
fn roles_tags_and_runs_on_postgres() {
    let rt = runtime();
    if let Some(place) = Place::postgres(&rt, "connectors_access") {
        roles_tags_and_runs(&place);
    }
}

/// Completes every run with fixed counts, recording the secret it was given.
#[derive(Debug, Default)]
struct Fake {
    secrets: Mutex<Vec<Option<String>>>,
    /// Panics instead (a broken executor).
    panics: bool,
}

#[async_trait::async_trait]
impl RunExecutor for Fake {
    async fn execute(&self, job: RunJob) -> RunOutcome {
        self.secrets
            .lock()
            .expect("lock")
            .push(job.secret_access_key.clone());
        assert!(!self.panics, "the executor broke");
        RunOutcome::Completed {
            resources: 3,
            evaluations: 5,
            errors: vec![],
        }
    }
}

/// Polls `path` until `done` holds for its JSON (at most 30 s).
fn wait_for(server: &Running, token: &str, path: &str, done: impl Fn(&Value) -> bool) -> Value {
    let start = Instant::now();
    loop {
        let body = server.get(path, Some(token)).json();
        if done(&body) {
            return body;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "timed out: {path}: {body}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn the_worker_executes_runs(place: &Place) {
    let fake = Arc::new(Fake::default());
    let config = Config {
        admin_password: Some(PASSWORD.into()),
        secret_key: Some(key()),
        executor: Some(fake.clone()),
        worker: WorkerConfig {
            node_id: Some("node-test".into()),
            tick: Duration::from_millis(100),
            lease: Duration::from_secs(3),
        },
        ..Config::default()
    };
    let server = start_with(runtime(), place, config);
    let admin = server.admin_token();
    // Polling interval: a scheduled run is due at once.
    let scheduled = create(&server, &admin, &keys_connector("scheduled"));
    let id = scheduled["id"].as_str().expect("id").to_string();
    let runs = wait_for(
        &server,
        &admin,
        &format!("/api/v1/connectors/{id}/runs"),
        |runs| runs[0]["state"] == "Completed",
    );
    let run = &runs[0];
    assert_eq!(run["trigger"], "scheduled");
    assert_eq!(
        (run["resources"].clone(), run["evaluations"].clone()),
        (json!(3), json!(5))
    );
    assert_eq!(
        (run["node"].clone(), run["attempts"].clone()),
        (json!("node-test"), json!(1))
    );
    assert!(run["duration_seconds"].as_f64().is_some(), "{run}");
    assert_eq!(
        *fake.secrets.lock().expect("lock"),
        vec![Some(SECRET.to_string())]
    );

    let manual = create(&server, &admin, &role_connector("manual", &[]));
    let manual_id = manual["id"].as_str().expect("id").to_string();
    let queued = server.call(
        "POST",
        &format!("/api/v1/connectors/{manual_id}/run"),
        Some(&admin),
        None,
    );
    assert_eq!(queued.status, 202, "{}", queued.body);
    let run_id = queued.json()["id"].as_str().expect("id").to_string();
    wait_for(&server, &admin, &format!("/api/v1/runs/{run_id}"), |r| {
        r["state"] == "Completed"
    });
    let metrics = server.get("/metrics", None).body;
    assert!(
        metrics.contains("vigil_runs_total{state=\"completed\"} 2\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("vigil_evaluations_written_total 10\n"),
        "{metrics}"
    );
    // The scheduled connector is not due again within its hour.
    let history = server
        .get(&format!("/api/v1/connectors/{id}/runs"), Some(&admin))
        .json();
    assert_eq!(history.as_array().map(Vec::len), Some(1), "{history}");
}

#[test]
fn the_worker_executes_runs_on_sqlite() {
    the_worker_executes_runs(&Place::sqlite());
}

#[test]
fn the_worker_executes_runs_on_postgres() {
    let rt = runtime();
    if let Some(place) = Place::postgres(&rt, "connectors_worker") {
        the_worker_executes_runs(&place);
    }
}

/// A server config whose worker runs `fake` every 100 ms with a 3 s lease.
fn fast_worker(fake: Arc<Fake>) -> Config {
    Config {
        admin_password: Some(PASSWORD.into()),
        executor: Some(fake),
        worker: WorkerConfig {
            node_id: None,
            tick: Duration::from_millis(100),
            lease: Duration::from_secs(3),
        },
        ..Config::default()
    }
}

/// Waits for the run `run_id` to fail and returns its first error message.
fn failure_of(server: &Running, run_id: &str) -> String {
    let admin = server.admin_token();
    let run = wait_for(server, &admin, &format!("/api/v1/runs/{run_id}"), |r| {
        r["state"] == "Failed"
    });
    let metrics = server.get("/metrics", None).body;
    assert!(
        metrics.contains("vigil_runs_total{state=\"failed\"} 1\n"),
        "{metrics}"
    );
    run["errors"][0]["message"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// Queues a run of a new connector made of `body` and returns its id.
fn queue(server: &Running, body: &Value) -> String {
    let admin = server.admin_token();
    let id = create(server, &admin, body)["id"]
        .as_str()
        .expect("id")
        .to_string();
    let queued = server.call(
        "POST",
        &format!("/api/v1/connectors/{id}/run"),
        Some(&admin),
        None,
    );
    assert_eq!(queued.status, 202, "{}", queued.body);
    queued.json()["id"].as_str().expect("id").to_string()
}

#[test]
fn a_node_without_the_secret_key_fails_access_key_runs_without_executing_them() {
    let place = Place::sqlite();
    let run_id = queue(&with_key(&place), &keys_connector("keys"));
    let fake = Arc::new(Fake::default());
    let server = start_with(runtime(), &place, fast_worker(fake.clone()));
    let message = failure_of(&server, &run_id);
    assert!(message.contains("VIGIL_SECRET_KEY"), "{message}");
    assert!(
        fake.secrets.lock().expect("lock").is_empty(),
        "not executed"
    );
}

#[test]
fn a_broken_executor_fails_the_run_and_the_worker_goes_on() {
    let place = Place::sqlite();
    let fake = Arc::new(Fake {
        panics: true,
        ..Fake::default()
    });
    let server = start_with(runtime(), &place, fast_worker(fake));
    let first = queue(&server, &role_connector("one", &[]));
    assert!(failure_of(&server, &first).contains("the run stopped"));
    let second = queue(&server, &role_connector("two", &[]));
    let admin = server.admin_token();
    wait_for(&server, &admin, &format!("/api/v1/runs/{second}"), |r| {
        r["state"] == "Failed"
    });
}
