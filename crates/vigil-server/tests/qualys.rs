//! Qualys connectors through the connectors API (issue 6, "Connection"):
//! create, read, update, delete; every invalid setting named by its path;
//! the password sealed and never shown or audited; permissions and tags;
//! the summary of what a connector ingested. Runs against the stand-in are
//! in `crates/vigil-cli/tests/qualys.rs` (the executor lives in vigil-cli).

mod common;

use common::*;
use serde_json::{json, Value};
use vigil_model::qualys::{QualysBatch, QualysHost};
use vigil_server::secrets::SecretKey;
use vigil_server::Config;
use vigil_store::connectors::Authentication;

const QPASSWORD: &str = "Qu4lys!pass word";

fn key() -> SecretKey {
    SecretKey::parse(&"7c".repeat(32)).expect("a key")
}

fn with_key(place: &Place) -> Running {
    let config = Config {
        admin_password: Some(PASSWORD.into()),
        secret_key: Some(key()),
        ..Config::default()
    };
    start_with(runtime(), place, config)
}

fn qualys_connector(name: &str, tags: &[&str]) -> Value {
    json!({
        "name": name,
        "type": "qualys",
        "qualys": {
            "api_url": "https://qualysapi.qg1.apps.qualys.co.uk",
            "username": "vigil_api",
            "password": QPASSWORD,
            "account_name": "uk-subscription",
            "options": {"host_finding_severities": [4, 5], "images_window_days": 180, "pc": {"ips": ["10.0.0.1-10.0.0.20"]}}
        },
        "polling_interval_minutes": 240,
        "tags": tags,
    })
}

fn create(server: &Running, token: &str, body: &Value) -> Value {
    let reply = server.post("/api/v1/connectors", token, body);
    assert_eq!(reply.status, 201, "{}", reply.body);
    reply.json()
}

/// `body` with `qualys.<path>` set to `value` (a path of object keys).
fn with(body: &Value, path: &[&str], value: Value) -> Value {
    let mut body = body.clone();
    let mut at = &mut body["qualys"];
    for key in &path[..path.len() - 1] {
        at = &mut at[*key];
    }
    at[path[path.len() - 1]] = value;
    body
}

fn crud_validation_and_secrets(place: &Place) {
    let server = with_key(place);
    let admin = server.admin_token();
    let created = create(&server, &admin, &qualys_connector("qualys-uk", &["prod"]));
    assert!(!created.to_string().contains(QPASSWORD), "{created}");
    assert_eq!(created["provider"], "qualys");
    assert!(created.get("authentication").is_none(), "{created}");
    let q = &created["qualys"];
    assert_eq!(q["password_set"], true);
    assert!(q.get("password").is_none());
    assert_eq!(q["api_url"], "https://qualysapi.qg1.apps.qualys.co.uk");
    assert_eq!(q["account_name"], "uk-subscription");
    assert_eq!(q["timeout_seconds"], 300);
    assert_eq!(q["options"]["host_finding_severities"], json!([4, 5]));
    assert_eq!(q["options"]["images_window_days"], 180);
    // Unset options keep the seeds' defaults.
    assert_eq!(q["options"]["findings_age_days"], 7);
    assert_eq!(q["options"]["page_size"], 100);
    assert_eq!(created["polling_interval_minutes"], 240);
    let id = created["id"].as_str().expect("an id").to_string();

    // Stored sealed: the password is not in the store in plain text.
    let stored = server
        .rt
        .block_on(server.store.connector(&id))
        .expect("read")
        .expect("stored");
    match &stored.authentication {
        Authentication::Qualys {
            settings,
            sealed_password,
        } => {
            assert!(!settings.contains(QPASSWORD), "{settings}");
            assert!(!sealed_password
                .windows(6)
                .any(|w| w == &QPASSWORD.as_bytes()[..6]));
            assert_eq!(key().open(sealed_password).expect("opens"), QPASSWORD);
        }
        other => panic!("not a Qualys connector: {other:?}"),
    }

    // GET and list show the same, never the password.
    let got = server.get(&format!("/api/v1/connectors/{id}"), Some(&admin));
    assert_eq!(got.status, 200);
    assert_eq!(got.json()["qualys"], created["qualys"]);
    let list = server.get("/api/v1/connectors", Some(&admin));
    assert!(!list.body.contains(QPASSWORD));
    assert_eq!(list.json()[0]["provider"], "qualys");

    // PUT without the password keeps it (same URL and user)…
    let mut changed = qualys_connector("qualys-uk", &["prod"]);
    changed["qualys"]
        .as_object_mut()
        .expect("an object")
        .remove("password");
    changed["qualys"]["options"] = json!({"ingest_web_app_scans": false});
    changed["polling_interval_minutes"] = Value::Null;
    let put = server.put(&format!("/api/v1/connectors/{id}"), &admin, &changed);
    assert_eq!(put.status, 200, "{}", put.body);
    assert_eq!(
        put.json()["qualys"]["options"]["ingest_web_app_scans"],
        false
    );
    assert_eq!(put.json()["polling_interval_minutes"], Value::Null);
    let again = server
        .rt
        .block_on(server.store.connector(&id))
        .expect("read")
        .expect("stored");
    match &again.authentication {
        Authentication::Qualys {
            sealed_password, ..
        } => assert_eq!(key().open(sealed_password).expect("opens"), QPASSWORD),
        other => panic!("{other:?}"),
    }
    // …but a new user name needs it again.
    let new_user = with(&changed, &["username"], json!("other_user"));
    let e = server
        .put(&format!("/api/v1/connectors/{id}"), &admin, &new_user)
        .error(400, "invalid_field");
    assert_eq!(e["field"], "qualys.password");

    // Every invalid setting is named by its path.
    let base = qualys_connector("bad", &[]);
    for (body, field) in [
        (
            with(&base, &["api_url"], json!("not a url")),
            "qualys.api_url",
        ),
        (
            with(&base, &["api_url"], json!("ftp://qualysapi.qualys.com")),
            "qualys.api_url",
        ),
        (with(&base, &["api_url"], json!("")), "qualys.api_url"),
        (with(&base, &["username"], json!(" ")), "qualys.username"),
        (
            with(&base, &["timeout_seconds"], json!(0)),
            "qualys.timeout_seconds",
        ),
        (
            with(&base, &["options", "images_window_days"], json!(100)),
            "qualys.options.images_window_days",
        ),
        (
            with(
                &base,
                &["options", "pc", "ips"],
                json!(["10.0.0.1-10.0.0.x"]),
            ),
            "qualys.options.pc.ips",
        ),
        (
            with(&base, &["options", "host_finding_severities"], json!([6])),
            "qualys.options.host_finding_severities",
        ),
        (
            with(&base, &["options", "page_size"], json!("many")),
            "qualys.options.page_size",
        ),
        (with(&base, &["password"], json!("")), "qualys.password"),
    ] {
        let reply = server.post("/api/v1/connectors", &admin, &body);
        assert_eq!(reply.status, 400, "{field}: {}", reply.body);
        assert_eq!(reply.json()["field"], field, "{}", reply.body);
    }
    // Unknown keys: refused, the path and the key named.
    for (body, path, key) in [
        (with(&base, &["pasword"], json!("x")), "qualys", "pasword"),
        (
            with(&base, &["options", "page_sise"], json!(5)),
            "qualys.options",
            "page_sise",
        ),
        (
            with(&base, &["options", "pc", "ip"], json!([])),
            "qualys.options.pc",
            "ip",
        ),
    ] {
        let e = server
            .post("/api/v1/connectors", &admin, &body)
            .error(400, "invalid_body");
        let field = e["field"].as_str().unwrap_or_default();
        assert!(field.starts_with(path), "{key}: {e}");
        assert!(
            e["message"].as_str().unwrap_or_default().contains(key),
            "{e}"
        );
    }
    // The type and its object go together.
    let mut no_object = base.clone();
    no_object.as_object_mut().expect("object").remove("qualys");
    let e = server
        .post("/api/v1/connectors", &admin, &no_object)
        .error(400, "invalid_field");
    assert_eq!(e["field"], "qualys");
    let mut untyped = base.clone();
    untyped.as_object_mut().expect("object").remove("type");
    let e = server
        .post("/api/v1/connectors", &admin, &untyped)
        .error(400, "invalid_field");
    assert_eq!(e["field"], "authentication");
    let mut regions = base.clone();
    regions["regions"] = json!(["us-east-1"]);
    let e = server
        .post("/api/v1/connectors", &admin, &regions)
        .error(400, "invalid_field");
    assert_eq!(e["field"], "regions");

    // Never audited.
    let audit = server.get("/api/v1/audit?action=connector.", Some(&admin));
    assert_eq!(audit.status, 200);
    assert!(!audit.body.contains(QPASSWORD), "{}", audit.body);
    assert!(audit.body.contains("qualys"), "{}", audit.body);

    // The summary counts what was ingested; deleting forgets it.
    let host = QualysHost {
        id: 42,
        ip: Some("10.0.0.5".into()),
        ..QualysHost::default()
    };
    server
        .rt
        .block_on(server.store.qualys_ingest(
            &id,
            "uk-subscription",
            &QualysBatch::Hosts(vec![host]),
            chrono::Utc::now(),
        ))
        .expect("ingest");
    let summary = server.get(&format!("/api/v1/connectors/{id}/qualys"), Some(&admin));
    assert_eq!(summary.status, 200, "{}", summary.body);
    assert_eq!(summary.json()["connector_id"], id.as_str());
    assert_eq!(summary.json()["counts"]["hosts"], 1, "{}", summary.body);
    assert_eq!(
        server
            .delete(&format!("/api/v1/connectors/{id}"), &admin)
            .status,
        204
    );
    let left = server
        .rt
        .block_on(server.store.qualys_summary(&id))
        .expect("summary");
    assert!(left.values().all(|n| *n == 0), "{left:?}");
    server
        .get(&format!("/api/v1/connectors/{id}/qualys"), Some(&admin))
        .error(404, "not_found");
}

#[test]
fn crud_validation_and_secrets_on_sqlite() {
    crud_validation_and_secrets(&Place::sqlite());
}

#[test]
fn crud_validation_and_secrets_on_postgres() {
    let rt = runtime();
    if let Some(place) = Place::postgres(&rt, "qualys crud") {
        crud_validation_and_secrets(&place);
    }
}

fn access(place: &Place) {
    let server = with_key(place);
    let admin = server.admin_token();
    let prod = create(&server, &admin, &qualys_connector("qualys-prod", &["prod"]));
    let id = prod["id"].as_str().expect("id").to_string();
    let path = format!("/api/v1/connectors/{id}");
    let endpoints = [
        ("GET", "/api/v1/connectors".to_string()),
        ("POST", "/api/v1/connectors".to_string()),
        ("GET", path.clone()),
        ("PUT", path.clone()),
        ("DELETE", path.clone()),
        ("POST", format!("{path}/run")),
        ("GET", format!("{path}/runs")),
        ("GET", format!("{path}/qualys")),
    ];
    // No token: 401.
    for (method, p) in &endpoints {
        server
            .call(method, p, None, None)
            .error(401, "unauthorized");
    }
    // Without manage_connectors: reads yes, changes 403 (before the body).
    let reader = server.user_token("rita", "reader", &[]);
    for (method, p) in &endpoints {
        let reply = server.call(method, p, Some(&reader), Some(&qualys_connector("z", &[])));
        assert_eq!(
            reply.status == 403,
            *method != "GET",
            "{method} {p}: {}",
            reply.body
        );
    }
    let reply = server.call(
        "POST",
        "/api/v1/connectors",
        Some(&reader),
        Some(&json!({"type": "qualys", "qualys": {"bogus": 1}})),
    );
    reply.error(403, "forbidden");
    // A connector whose tags hide it: 403 by id, absent from the list.
    let dev = server.user_token("dora", "manager", &["dev"]);
    assert_eq!(
        server.get("/api/v1/connectors", Some(&dev)).json(),
        json!([])
    );
    for (method, p) in endpoints.iter().skip(2) {
        server
            .call(
                method,
                p,
                Some(&dev),
                Some(&qualys_connector("d", &["dev"])),
            )
            .error(403, "forbidden");
    }
    // The summary of an AWS connector: 400 naming the id.
    let aws = create(
        &server,
        &admin,
        &json!({"name": "aws", "authentication": {"type": "default"}}),
    );
    let e = server
        .get(
            &format!(
                "/api/v1/connectors/{}/qualys",
                aws["id"].as_str().expect("id")
            ),
            Some(&admin),
        )
        .error(400, "invalid_field");
    assert_eq!(e["field"], "id");
    // Run now queues a Qualys run like an AWS one.
    let run = server.call("POST", &format!("{path}/run"), Some(&admin), None);
    assert_eq!(run.status, 202, "{}", run.body);
    // OpenAPI: the summary's permission.
    let doc = server.get("/api/openapi.json", None).json();
    assert_eq!(
        doc["paths"]["/api/v1/connectors/{id}/qualys"]["get"]["security"][0]["bearer"][0],
        "view_data"
    );
}

#[test]
fn access_on_sqlite() {
    access(&Place::sqlite());
}

#[test]
fn access_on_postgres() {
    let rt = runtime();
    if let Some(place) = Place::postgres(&rt, "qualys access") {
        access(&place);
    }
}

#[test]
fn without_a_secret_key_the_password_is_refused() {
    let place = Place::sqlite();
    let server = start(&place);
    let admin = server.admin_token();
    let e = server
        .post("/api/v1/connectors", &admin, &qualys_connector("q", &[]))
        .error(400, "invalid_field");
    assert_eq!(e["field"], "qualys.password");
    assert!(
        e["message"]
            .as_str()
            .unwrap_or_default()
            .contains("VIGIL_SECRET_KEY"),
        "{e}"
    );
}
