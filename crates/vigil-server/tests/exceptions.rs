//! Exceptions over real HTTP: the lifecycle of seed 001 (PASSE at once,
//! kept by scans, FAIL again on expiry, edit-out and deletion; inactive
//! until the start), history, copy, and every endpoint's 400/401/403/404.

mod common;

use chrono::{DateTime, Duration, Utc};
use common::*;
use serde_json::{json, Value};
use std::sync::Arc;
use vigil_model::{Criticality, EvalResult, ExecutionType, Origin, Provider, Resource};
use vigil_query::Query;
use vigil_server::{Config, Server};
use vigil_store::access::AuditEntry;
use vigil_store::exceptions::{ExceptionRecord, Reason, Scope};
use vigil_store::{ControlRecord, EvaluationInput, MonitorCounts, Page, ScanBatch, Store};

const A: &str = "arn:aws:s3:::exceptions-a";
const B: &str = "arn:aws:s3:::exceptions-b";
const SOURCE: &str = "connector:prod";

fn control(cid: u32) -> ControlRecord {
    ControlRecord {
        cid,
        title: format!("control {cid}"),
        service: "S3".into(),
        resource_type: "aws.s3.bucket".into(),
        provider: Provider::Aws,
        criticality: Criticality::High,
        execution_type: ExecutionType::Both,
        remediable: false,
    }
}

fn bucket(id: &str) -> Resource {
    Resource {
        provider: Provider::Aws,
        account: "123456789012".into(),
        region: "us-east-1".into(),
        service: "S3".into(),
        resource_type: "aws.s3.bucket".into(),
        id: id.into(),
        name: id.rsplit(':').next().unwrap_or(id).into(),
        tags: Default::default(),
        attributes: Default::default(),
        associations: Vec::new(),
        uncollected: Default::default(),
        suppressed: Default::default(),
        first_discovered: None,
        last_updated: None,
        origin: Origin::Connector {
            connector: "prod".into(),
            run: "run".into(),
        },
    }
}

fn eval(resource: usize, cid: u32, result: EvalResult) -> EvaluationInput<'static> {
    EvaluationInput {
        resource,
        cid,
        result,
        expected: "true",
        actual: "false",
        message: "",
    }
}

/// The catalogue (controls 1 and 2) and a scan at `at`: A fails 1 and passes
/// 2, B fails 1.
fn seed(server: &Running, at: DateTime<Utc>) {
    let store = server.store.clone();
    let resources = [bucket(A), bucket(B)];
    let evaluations = [
        eval(0, 1, EvalResult::Fail),
        eval(0, 2, EvalResult::Pass),
        eval(1, 1, EvalResult::Fail),
    ];
    server.rt.block_on(async {
        store
            .sync_catalog(&[control(1), control(2)], &[])
            .await
            .expect("catalogue");
        store
            .apply_scan(ScanBatch {
                source: SOURCE,
                run: "run",
                at,
                resources: &resources,
                evaluations: &evaluations,
            })
            .await
            .expect("scan");
    });
}

/// The stored result of control `cid` on resource `id`, as search shows it.
fn result(server: &Running, cid: u32, id: &str) -> EvalResult {
    let query =
        Query::parse(&format!("cid:{cid} and resource.id:\"{id}\""), Utc::now()).expect("query");
    let rows = server
        .rt
        .block_on(server.store.search(&query, Page::default()))
        .expect("search");
    assert_eq!(rows.len(), 1, "one evaluation of {cid} on {id}");
    rows[0].result
}

fn counts(server: &Running) -> MonitorCounts {
    let query = Query::parse("", Utc::now()).expect("query");
    server
        .rt
        .block_on(server.store.counts(&query))
        .expect("counts")
}

/// (A/1, A/2, B/1).
fn results(server: &Running) -> [EvalResult; 3] {
    [
        result(server, 1, A),
        result(server, 2, A),
        result(server, 1, B),
    ]
}

fn refresh(server: &Running, at: DateTime<Utc>) {
    server
        .rt
        .block_on(server.store.refresh_exceptions(at))
        .expect("refresh");
}

fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339()
}

fn form(
    name: &str,
    scope: Value,
    controls: &[u32],
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Value {
    json!({
        "name": name,
        "reason": "Risk Accepted",
        "explanation": "accepted until the migration",
        "start": time(start),
        "end": time(end),
        "information_security_policy": "ISP-7",
        "scope": scope,
        "controls": controls,
    })
}

fn created(reply: Reply) -> Value {
    assert_eq!(reply.status, 201, "{}", reply.body);
    reply.json()
}

fn lifecycle(place: &Place) {
    use EvalResult::{Fail, Pass, Passe};
    let server = start(place);
    let admin = server.admin_token();
    let now = Utc::now();
    seed(&server, now);
    assert_eq!(results(&server), [Fail, Pass, Fail]);
    assert_eq!((counts(&server).fail, counts(&server).pass), (2, 1));

    // An active exception on A for control 1: PASSE at once, in search and counts.
    let a = created(server.post(
        "/api/v1/exceptions",
        &admin,
        &form(
            "A is fine",
            json!({"resources": [A]}),
            &[1],
            now - Duration::hours(1),
            now + Duration::days(1),
        ),
    ));
    assert_eq!(a["status"], "ACTIVE", "{a}");
    assert_eq!(a["reason"], "Risk Accepted");
    assert_eq!(a["created_by"], "admin");
    assert_eq!(a["scope"], json!({"resources": [A]}));
    let a_id = a["id"].as_str().expect("an id").to_string();
    assert_eq!(results(&server), [Passe, Pass, Fail]);
    let c = counts(&server);
    assert_eq!(
        (c.fail, c.pass, c.fail_high),
        (1, 2, 1),
        "PASSE counts as pass"
    );

    // A second scan keeps PASSE, and does not reopen it.
    seed(&server, now + Duration::seconds(1));
    assert_eq!(results(&server), [Passe, Pass, Fail]);

    // Edit while active.
    let edited = server.put(
        &format!("/api/v1/exceptions/{a_id}"),
        &admin,
        &json!({"explanation": "accepted for longer", "end": time(now + Duration::days(2))}),
    );
    assert_eq!(edited.status, 200, "{}", edited.body);
    assert_eq!(edited.json()["explanation"], "accepted for longer");
    assert_eq!(results(&server), [Passe, Pass, Fail]);

    // An inactive exception (future start) does nothing until its start.
    let later = created(server.post(
        "/api/v1/exceptions",
        &admin,
        &form(
            "B later",
            json!({"resources": [B]}),
            &[1],
            now + Duration::days(1),
            now + Duration::days(2),
        ),
    ));
    assert_eq!(later["status"], "INACTIVE");
    let later_id = later["id"].as_str().expect("an id").to_string();
    assert_eq!(results(&server), [Passe, Pass, Fail]);
    refresh(&server, now + Duration::days(1) + Duration::minutes(1));
    assert_eq!(results(&server), [Passe, Pass, Passe], "started");
    refresh(&server, now + Duration::hours(1));
    assert_eq!(results(&server), [Passe, Pass, Fail]);

    // An exception on B that ends soon: after its end the sweep gives FAIL back.
    let b = created(server.post(
        "/api/v1/exceptions",
        &admin,
        &form(
            "B briefly",
            json!({"resources": [B]}),
            &[1],
            now - Duration::hours(1),
            now + Duration::seconds(2),
        ),
    ));
    let b_id = b["id"].as_str().expect("an id").to_string();
    assert_eq!(results(&server), [Passe, Pass, Passe]);
    refresh(&server, now + Duration::hours(1));
    assert_eq!(results(&server), [Passe, Pass, Fail], "expired");

    // Only an active exception can be edited.
    let refused = server.put(
        &format!("/api/v1/exceptions/{later_id}"),
        &admin,
        &json!({"explanation": "x"}),
    );
    let body = refused.error(409, "conflict");
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("INACTIVE")),
        "{body}"
    );

    // Copy, of any status, with new dates.
    let copy = created(server.post(
        &format!("/api/v1/exceptions/{b_id}/copy"),
        &admin,
        &json!({"end": time(now + Duration::days(3))}),
    ));
    assert_eq!(copy["name"], "Copy of B briefly");
    assert_eq!(copy["status"], "ACTIVE");
    assert_ne!(copy["id"], b["id"]);
    assert_eq!(results(&server), [Passe, Pass, Passe], "the copy covers B");
    let copy_id = copy["id"].as_str().expect("an id").to_string();
    let history = server.get(
        &format!("/api/v1/exceptions/{copy_id}/history"),
        Some(&admin),
    );
    assert_eq!(history.status, 200, "{}", history.body);
    assert_eq!(history.json()[0]["action"], "copy");
    assert_eq!(history.json()[0]["changes"]["copied_from"], b_id.as_str());

    // Delete: FAIL comes back at once.
    for id in [&a_id, &copy_id, &b_id] {
        assert_eq!(
            server
                .delete(&format!("/api/v1/exceptions/{id}"), &admin)
                .status,
            204
        );
    }
    assert_eq!(results(&server), [Fail, Pass, Fail], "deleted");
    server
        .get(&format!("/api/v1/exceptions/{a_id}"), Some(&admin))
        .error(404, "not_found");

    // The history lists every change with user and time.
    let history = server.get(&format!("/api/v1/exceptions/{a_id}/history"), Some(&admin));
    assert_eq!(history.status, 200, "{}", history.body);
    let history = history.json();
    let actions: Vec<&str> = history
        .as_array()
        .expect("a list")
        .iter()
        .map(|h| h["action"].as_str().expect("an action"))
        .collect();
    assert_eq!(actions, ["create", "edit", "delete"]);
    for h in history.as_array().expect("a list") {
        assert_eq!(h["user"], "admin");
        assert!(DateTime::parse_from_rfc3339(h["at"].as_str().expect("at")).is_ok());
    }
    assert_eq!(
        history[1]["changes"]["explanation"]["to"],
        "accepted for longer"
    );
    assert!(
        history[1]["changes"].get("name").is_none(),
        "only what changed"
    );

    // The list shows statuses and counts; filters work.
    let list = server.get("/api/v1/exceptions", Some(&admin));
    assert_eq!(list.status, 200, "{}", list.body);
    let list = list.json();
    assert_eq!(list["total"], 1);
    assert_eq!(list["by_reason"]["Risk Accepted"], 1);
    assert_eq!(list["by_status"]["INACTIVE"], 1);
    let inactive = server
        .get("/api/v1/exceptions?status=inactive", Some(&admin))
        .json();
    assert_eq!(inactive["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(inactive["items"][0]["id"], later_id.as_str());

    // Every change is in the audit log.
    let audit = server
        .get("/api/v1/audit?action=exception.", Some(&admin))
        .json();
    assert_eq!(audit["items"].as_array().map(Vec::len), Some(8), "{audit}");
}

#[test]
fn exception_lifecycle_on_sqlite() {
    lifecycle(&Place::sqlite());
}

#[test]
fn exception_lifecycle_on_postgres() {
    let rt = runtime();
    if let Some(place) = Place::postgres(&rt, "exception_lifecycle") {
        lifecycle(&place);
    }
}

/// Each endpoint: 400 naming the field, 401 without a token, 403 for a
/// reader on changes (readers view), 404 for an unknown id.
fn errors_and_roles(place: &Place) {
    let server = start(place);
    let admin = server.admin_token();
    let reader = server.user_token("rita", "reader", &[]);
    let reports = server.user_token("rob", "reports_only", &[]);
    let now = Utc::now();
    seed(&server, now);
    let good = form(
        "ok",
        json!({"resources": [A]}),
        &[1],
        now - Duration::hours(1),
        now + Duration::days(1),
    );
    let x = created(server.post("/api/v1/exceptions", &admin, &good));
    let id = x["id"].as_str().expect("an id").to_string();
    let one = format!("/api/v1/exceptions/{id}");

    // Bad input names the field.
    let with = |key: &str, value: Value| {
        let mut body = good.clone();
        body[key] = value;
        body
    };
    let mut no_name = good.clone();
    no_name.as_object_mut().expect("an object").remove("name");
    let cases = [
        (no_name, "name"),
        (with("name", json!(" ")), "name"),
        (with("name", json!("n".repeat(129))), "name"),
        (with("reason", json!("Maybe")), "reason"),
        (with("explanation", json!("")), "explanation"),
        (with("start", json!("yesterday")), "start"),
        (with("end", json!(time(now - Duration::days(1)))), "end"),
        (with("controls", json!([])), "controls"),
        (with("controls", json!([1, 99999])), "controls[1]"),
        (with("scope", json!({})), "scope"),
        (
            with("scope", json!({"resources": [A], "connectors": ["c"]})),
            "scope",
        ),
        (with("scope", json!({"resources": []})), "scope.resources"),
        (
            with("scope", json!({"resources": [""]})),
            "scope.resources[0]",
        ),
        (
            with("scope", json!({"connectors": ["no-such-connector"]})),
            "scope.connectors[0]",
        ),
        (
            with("information_security_policy", json!("p".repeat(251))),
            "information_security_policy",
        ),
    ];
    for (body, field) in cases {
        let reply = server.post("/api/v1/exceptions", &admin, &body);
        assert_eq!(reply.status, 400, "{field}: {}", reply.body);
        assert_eq!(reply.json()["field"], field, "{}", reply.body);
    }
    for (body, field) in [
        (json!({"name": "other"}), "name"),
        (json!({"reason": "Other"}), "reason"),
        (json!({"scope": {"resources": [B]}}), "scope"),
        (json!({"end": "2000-01-01"}), "end"),
        (json!({"controls": [99999]}), "controls[0]"),
        (json!({"colour": "red"}), "colour"),
    ] {
        let reply = server.put(&one, &admin, &body);
        assert_eq!(reply.status, 400, "{field}: {}", reply.body);
        let message = reply.json();
        assert!(
            message["field"] == field
                || message["message"]
                    .as_str()
                    .is_some_and(|m| m.contains(field)),
            "{message}"
        );
    }
    let reply = server.post(&format!("{one}/copy"), &admin, &json!({"reason": "Maybe"}));
    assert_eq!(reply.json()["field"], "reason", "{}", reply.body);
    server
        .get("/api/v1/exceptions?status=SOMETIMES", Some(&admin))
        .error(400, "invalid_field");
    // Unchanged fields may be repeated in an edit.
    let same = server.put(
        &one,
        &admin,
        &json!({"name": "ok", "reason": "risk accepted", "scope": {"resources": [A]}}),
    );
    assert_eq!(same.status, 200, "{}", same.body);

    // Without a token: 401 everywhere.
    let copy = format!("{one}/copy");
    let history = format!("{one}/history");
    let endpoints: [(&str, &str); 7] = [
        ("GET", "/api/v1/exceptions"),
        ("POST", "/api/v1/exceptions"),
        ("GET", &one),
        ("PUT", &one),
        ("DELETE", &one),
        ("POST", &copy),
        ("GET", &history),
    ];
    for (method, path) in endpoints {
        server
            .call(method, path, None, Some(&good))
            .error(401, "unauthorized");
    }

    // A reader views; changes are 403 whatever the body. Reports-only sees nothing.
    for path in ["/api/v1/exceptions", one.as_str(), history.as_str()] {
        assert_eq!(server.get(path, Some(&reader)).status, 200, "{path}");
        server.get(path, Some(&reports)).error(403, "forbidden");
    }
    for (method, path) in endpoints.iter().filter(|(m, _)| *m != "GET") {
        for body in [&good, &json!({"bad": true})] {
            server
                .call(method, path, Some(&reader), Some(body))
                .error(403, "forbidden");
        }
    }

    // Unknown ids: 404.
    let missing = "/api/v1/exceptions/no-such-id";
    server.get(missing, Some(&admin)).error(404, "not_found");
    server
        .put(missing, &admin, &json!({}))
        .error(404, "not_found");
    server.delete(missing, &admin).error(404, "not_found");
    server
        .post(&format!("{missing}/copy"), &admin, &json!({}))
        .error(404, "not_found");
    server
        .get(&format!("{missing}/history"), Some(&admin))
        .error(404, "not_found");

    // Nothing refused was kept: the one exception, created and edited once.
    let list = server.get("/api/v1/exceptions", Some(&admin)).json();
    assert_eq!(list["total"], 1, "{list}");
    let entries = server.get(&history, Some(&admin)).json();
    assert_eq!(entries.as_array().map(Vec::len), Some(2), "{entries}");
}

#[test]
fn exception_errors_and_roles_on_sqlite() {
    errors_and_roles(&Place::sqlite());
}

#[test]
fn exception_errors_and_roles_on_postgres() {
    let rt = runtime();
    if let Some(place) = Place::postgres(&rt, "exception_errors_and_roles") {
        errors_and_roles(&place);
    }
}

/// The server's own sweep ends an exception at its end date.
#[test]
fn the_server_sweep_gives_fail_back_when_an_exception_ends() {
    let place = Place::sqlite();
    let rt = runtime();
    let store = place.open(&rt);
    let server = rt
        .block_on(Server::bind(
            store.clone(),
            Config {
                listen: "127.0.0.1:0".parse().expect("an address"),
                admin_password: Some(PASSWORD.into()),
                exception_sweep: std::time::Duration::from_millis(100),
                ..Config::default()
            },
        ))
        .expect("bind");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    rt.spawn(server.serve(async {
        let _ = stopped.await;
    }));
    let running = Running {
        base: String::new(),
        store: store.clone(),
        bootstrap: vigil_server::AdminBootstrap::Existing,
        stop: Some(stop),
        rt,
    };
    let now = Utc::now();
    seed(&running, now);
    let end = Utc::now() + Duration::seconds(1);
    let exception = ExceptionRecord {
        id: "soon-over".into(),
        name: "soon over".into(),
        reason: Reason::FalsePositive,
        explanation: "a short one".into(),
        start: now - Duration::hours(1),
        end,
        security_policy: String::new(),
        security_procedure: String::new(),
        scope: Scope::Connectors(vec!["prod".into()]),
        controls: vec![1],
        created_by: "admin".into(),
        created_at: now,
        updated_by: "admin".into(),
        updated_at: now,
    };
    let audit = AuditEntry::now(
        "admin",
        "exception.create",
        "exception:soon-over",
        json!({}),
    );
    running
        .rt
        .block_on(store.create_exception(&exception, None, &audit))
        .expect("create");
    assert_eq!(result(&running, 1, B), EvalResult::Passe, "connector scope");
    // Wait (bounded) for the sweep after the end date.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while result(&running, 1, B) != EvalResult::Fail {
        assert!(
            std::time::Instant::now() < deadline,
            "the sweep never ended the exception"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(Utc::now() > end, "FAIL came back only after the end");
    assert_eq!(result(&running, 1, A), EvalResult::Fail);
    let _: Arc<dyn Store> = store;
}
