//! The data APIs, datalists and saved searches over real HTTP, on SQLite and
//! PostgreSQL (see `common` for the harness). The store is seeded directly
//! with `apply_scan`.

mod common;

use common::*;
use serde_json::{json, Value};
use std::collections::HashSet;
use vigil_store::conformance::{sample_catalog, sample_evaluations, sample_resources};
use vigil_store::ScanBatch;

/// Resources of the small connector `data`, and of the large `bulk`.
const SMALL: usize = 25;
const BULK: usize = 2_000;

fn seed(server: &Running) {
    let (controls, policies) = sample_catalog();
    server
        .rt
        .block_on(server.store.sync_catalog(&controls, &policies))
        .expect("sync_catalog");
    for (connector, n) in [("data", SMALL), ("bulk", BULK)] {
        let resources = sample_resources(connector, n);
        let evaluations = sample_evaluations(n);
        server
            .rt
            .block_on(server.store.apply_scan(ScanBatch {
                source: &format!("connector:{connector}"),
                run: "run-1",
                at: chrono::Utc::now(),
                resources: &resources,
                evaluations: &evaluations,
            }))
            .expect("apply_scan");
    }
}

/// A token of a new user (created with `admin`; one login each, under the
/// login limit).
fn user(server: &Running, admin: &str, name: &str, role: &str, tags: &[&str]) -> String {
    let created = server.post(
        "/api/v1/users",
        admin,
        &json!({"username": name, "password": PASSWORD, "role": role, "tags": tags}),
    );
    assert_eq!(created.status, 201, "{}", created.body);
    let login = server.login(name, PASSWORD);
    assert_eq!(login.status, 201, "{}", login.body);
    login.body
}

fn enc(text: &str) -> String {
    serde_urlencoded::to_string([("", text)]).expect("encodable")[1..].to_string()
}

/// Every row of a list, walked page by page with `next`.
fn walk(server: &Running, token: &str, path: &str) -> Vec<Value> {
    let mut rows = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let url = match &cursor {
            Some(c) => format!("{path}&cursor={c}"),
            None => path.to_string(),
        };
        let page = server.get(&url, Some(token));
        assert_eq!(page.status, 200, "{url}: {}", page.body);
        let body = page.json();
        rows.extend(body["items"].as_array().expect("items").iter().cloned());
        match body["next"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => return rows,
        }
    }
}

fn field_error(reply: Reply, field: &str) -> Value {
    let code = reply.json()["code"].clone();
    let body = reply.error(400, code.as_str().unwrap_or(""));
    assert_eq!(body["field"], field, "{body}");
    body
}

fn evaluations_and_counts(server: &Running, admin: &str) {
    let total = 3 * (SMALL + BULK);
    let rows = walk(server, admin, "/api/v1/evaluations?limit=1000");
    assert_eq!(rows.len(), total);
    let unique: HashSet<(i64, i64)> = rows
        .iter()
        .map(|r| (r["resource"].as_i64().unwrap(), r["cid"].as_i64().unwrap()))
        .collect();
    assert_eq!(unique.len(), total, "every row exactly once");
    let filter = enc(
        "control.criticality:HIGH and control.result:FAIL and resource.source:\"connector:data\"",
    );
    let high = walk(
        server,
        admin,
        &format!("/api/v1/evaluations?filter={filter}&sort=-last_evaluated&limit=7"),
    );
    assert_eq!(high.len(), SMALL);
    assert_eq!(high[0]["result"], "FAIL");
    assert_eq!(high[0]["message"], "the setting is off", "with evidence");
    assert_eq!(high[0]["expected"], "true");

    let today = walk(
        server,
        admin,
        "/api/v1/evaluations?date=today&tz=Europe/Paris&limit=1000",
    );
    let utc_today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    // Paris and UTC agree on the day except around midnight; the window is a day either way.
    assert!(today.len() == total || today.is_empty());
    assert_eq!(
        walk(
            server,
            admin,
            &format!("/api/v1/evaluations?from={utc_today}&to={utc_today}&limit=1000")
        )
        .len(),
        total
    );
    let old = server.get(
        "/api/v1/evaluations?date=last_month&date_field=first_evaluated",
        Some(admin),
    );
    assert_eq!(old.json()["items"], json!([]));

    let bad = server.get(
        &format!("/api/v1/evaluations?filter={}", enc("contrl.result:FAIL")),
        Some(admin),
    );
    let body = field_error(bad, "filter");
    assert!(
        body["message"].as_str().unwrap().contains("column 1"),
        "{body}"
    );
    for (query, field) in [
        ("sort=colour", "sort"),
        ("sort=-", "sort"),
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("limit=ten", "limit"),
        ("cursor=not-a-cursor", "cursor"),
        ("date=someday", "date"),
        ("date=today&from=2026-01-01", "date"),
        ("from=yesterday", "from"),
        ("tz=Mars/Olympus", "tz"),
        ("from=2026-01-01&date_field=colour", "date_field"),
    ] {
        field_error(
            server.get(&format!("/api/v1/evaluations?{query}"), Some(admin)),
            field,
        );
    }
    // A cursor of another order is refused.
    let page = server
        .get("/api/v1/evaluations?limit=1&sort=result", Some(admin))
        .json();
    let next = page["next"].as_str().unwrap();
    field_error(
        server.get(
            &format!("/api/v1/evaluations?limit=1&cursor={next}"),
            Some(admin),
        ),
        "cursor",
    );

    let counts = server.get("/api/v1/evaluations/counts", Some(admin)).json();
    let n = (SMALL + BULK) as u64;
    assert_eq!(counts["evaluations"], 3 * n);
    assert_eq!(counts["controls_evaluated"], 3);
    assert_eq!(counts["fail_high"], n);
    assert_eq!(counts["remediable"], n);
    let filtered = server
        .get(
            &format!(
                "/api/v1/evaluations/counts?filter={}",
                enc("resource.source:\"connector:data\"")
            ),
            Some(admin),
        )
        .json();
    assert_eq!(filtered["evaluations"], 3 * SMALL);
    let accounts = server
        .get("/api/v1/evaluations/counts?group_by=account", Some(admin))
        .json();
    let accounts = accounts["accounts"].as_array().expect("accounts");
    assert_eq!(accounts.len(), 3);
    assert_eq!(accounts[0]["account"], "10000000000");
    assert_eq!(
        accounts
            .iter()
            .map(|a| a["evaluations"].as_u64().unwrap())
            .sum::<u64>(),
        3 * n
    );
    field_error(
        server.get("/api/v1/evaluations/counts?group_by=region", Some(admin)),
        "group_by",
    );
    field_error(
        server.get("/api/v1/evaluations/counts?filter=cid:", Some(admin)),
        "filter",
    );
}

fn resources_controls_policies(server: &Running, admin: &str) {
    let all = walk(server, admin, "/api/v1/resources?sort=-name&limit=333");
    assert_eq!(all.len(), SMALL + BULK);
    assert_eq!(all[0]["name"], "data-024");
    let filter = enc("cid:2 and control.result:FAIL and resource.source:\"connector:data\"");
    let failing = walk(
        server,
        admin,
        &format!("/api/v1/resources?filter={filter}&limit=5"),
    );
    assert_eq!(failing.len(), SMALL.div_ceil(2));
    let evaluated_today = server
        .get(
            "/api/v1/resources?date=today&date_field=last_evaluated&limit=1000",
            Some(admin),
        )
        .json();
    assert_eq!(evaluated_today["items"].as_array().unwrap().len(), 1000);
    let discovered_last_month = server
        .get("/api/v1/resources?date=last_month", Some(admin))
        .json();
    assert_eq!(discovered_last_month["items"], json!([]));
    field_error(
        server.get("/api/v1/resources?sort=criticality", Some(admin)),
        "sort",
    );
    field_error(
        server.get("/api/v1/resources?filter=(", Some(admin)),
        "filter",
    );

    let id = failing[0]["id"].as_i64().unwrap();
    let detail = server.get(&format!("/api/v1/resources/{id}"), Some(admin));
    assert_eq!(detail.status, 200, "{}", detail.body);
    let detail = detail.json();
    assert_eq!(detail["resource"]["name"], "data-000");
    assert_eq!(detail["resource"]["attributes"]["name"], "data-000");
    assert_eq!(detail["resource"]["associations"][0]["id"], "key-0");
    assert_eq!(detail["resource"]["tags"]["index"], "0");
    let evaluations = detail["evaluations"].as_array().unwrap();
    assert_eq!(evaluations.len(), 3);
    assert_eq!(evaluations[0]["cid"], 1);
    assert_eq!(evaluations[0]["actual"], "false");
    field_error(server.get("/api/v1/resources/abc", Some(admin)), "id");
    server
        .get("/api/v1/resources/999999999", Some(admin))
        .error(404, "not_found");

    let controls = server.get("/api/v1/controls", Some(admin)).json();
    assert_eq!(controls.as_array().unwrap().len(), 4);
    assert_eq!(controls[0]["fail"], SMALL + BULK);
    assert_eq!(controls[2]["pass"], SMALL + BULK);
    let scoped = server
        .get(
            &format!(
                "/api/v1/controls?filter={}",
                enc("resource.source:\"connector:data\"")
            ),
            Some(admin),
        )
        .json();
    assert_eq!(scoped[0]["fail"], SMALL);
    field_error(
        server.get("/api/v1/controls?filter=nope:1", Some(admin)),
        "filter",
    );
    let one = server.get("/api/v1/controls/1", Some(admin)).json();
    assert_eq!(one["criticality"], "HIGH");
    assert_eq!(one["fail"], SMALL + BULK);
    assert_eq!(
        one["policies"],
        json!(["CIS Amazon Web Services Foundations Benchmark"])
    );
    server
        .get("/api/v1/controls/99", Some(admin))
        .error(404, "not_found");
    field_error(server.get("/api/v1/controls/x", Some(admin)), "cid");

    let policies = server.get("/api/v1/policies", Some(admin)).json();
    assert_eq!(policies.as_array().unwrap().len(), 2);
    let baseline = server
        .get("/api/v1/policies/Internal%20Baseline", Some(admin))
        .json();
    assert_eq!(baseline["cids"], json!([3, 4]));
    assert_eq!(baseline["controls"].as_array().unwrap().len(), 2);
    server
        .get("/api/v1/policies/None", Some(admin))
        .error(404, "not_found");
}

fn datalists(server: &Running, admin: &str) {
    let csv = server.get(
        "/api/v1/datalists/evaluations.csv?tz=Europe/Paris",
        Some(admin),
    );
    assert_eq!(csv.status, 200, "{}", csv.body);
    assert!(
        csv.content_type.starts_with("text/csv"),
        "{}",
        csv.content_type
    );
    let lines: Vec<&str> = csv.body.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(
        lines.len(),
        1 + 3 * (SMALL + BULK),
        "no record cap, across pages of 5,000"
    );
    assert!(lines[0].starts_with("cid,control,criticality,result,resource,"));
    let first: Vec<&str> = lines[1].split(',').collect();
    assert!(
        first[15].ends_with("+01:00") || first[15].ends_with("+02:00"),
        "times in the zone: {}",
        lines[1]
    );
    let filtered = server.get(
        &format!(
            "/api/v1/datalists/resources.csv?filter={}",
            enc("resource.source:\"connector:data\"")
        ),
        Some(admin),
    );
    assert_eq!(filtered.body.lines().count(), 1 + SMALL);
    assert!(filtered.body.contains(",index=0,"), "{}", filtered.body);
    let controls = server.get("/api/v1/datalists/controls.csv", Some(admin));
    assert_eq!(controls.body.lines().count(), 5);
    assert!(
        controls
            .body
            .contains("\"S3 bucket versioning should be enabled\"")
            || controls
                .body
                .contains(",S3 bucket versioning should be enabled,")
    );
    let connectors = server.get("/api/v1/datalists/connectors.csv", Some(admin));
    assert_eq!(connectors.body, "id,name,tags\r\n");
    server
        .get("/api/v1/datalists/users.csv", Some(admin))
        .error(404, "not_found");
    field_error(
        server.get("/api/v1/datalists/evaluations.csv?tz=Nowhere", Some(admin)),
        "tz",
    );
}

const ENDPOINTS: &[&str] = &[
    "/api/v1/resources",
    "/api/v1/resources/1",
    "/api/v1/controls",
    "/api/v1/controls/1",
    "/api/v1/policies",
    "/api/v1/policies/x",
    "/api/v1/evaluations",
    "/api/v1/evaluations/counts",
];

fn access(server: &Running, admin: &str) {
    for path in ENDPOINTS.iter().chain(&[
        "/api/v1/datalists/evaluations.csv",
        "/api/v1/saved-searches",
    ]) {
        server.get(path, None).error(401, "unauthorized");
    }
    let reports = user(server, admin, "reports", "reports_only", &[]);
    for path in ENDPOINTS {
        server.get(path, Some(&reports)).error(403, "forbidden");
    }
    server
        .get("/api/v1/saved-searches", Some(&reports))
        .error(403, "forbidden");
    let csv = server.get("/api/v1/datalists/evaluations.csv", Some(&reports));
    assert_eq!(csv.status, 200, "reports_only downloads datalists");
    let reader = user(server, admin, "reader", "reader", &[]);
    assert_eq!(
        server
            .get("/api/v1/datalists/resources.csv", Some(&reader))
            .status,
        200
    );
    assert_eq!(
        server
            .get("/api/v1/evaluations?limit=1", Some(&reader))
            .status,
        200
    );

    // A user with tags sees only their connectors' resources: none here.
    let tagged = user(server, admin, "tagged", "reader", &["prod"]);
    let page = server.get("/api/v1/evaluations", Some(&tagged)).json();
    assert_eq!(page["items"], json!([]));
    assert_eq!(
        server.get("/api/v1/resources", Some(&tagged)).json()["items"],
        json!([])
    );
    assert_eq!(
        server
            .get("/api/v1/evaluations/counts", Some(&tagged))
            .json()["evaluations"],
        0
    );
    assert_eq!(
        server.get("/api/v1/controls/1", Some(&tagged)).json()["fail"],
        0
    );
    let any = server.get("/api/v1/resources?limit=1", Some(admin)).json();
    let id = any["items"][0]["id"].as_i64().unwrap();
    server
        .get(&format!("/api/v1/resources/{id}"), Some(&tagged))
        .error(403, "forbidden");
    let csv = server.get("/api/v1/datalists/evaluations.csv", Some(&tagged));
    assert_eq!(csv.body.lines().count(), 1, "the header only");
}

fn saved_searches(server: &Running, admin: &str) {
    let ann = user(server, admin, "ann", "reader", &[]);
    let bob = user(server, admin, "bob", "sub_user", &[]);
    let form = json!({"name": "High fails", "query": "control.criticality:HIGH and control.result:FAIL", "description": "Monitor"});
    let created = server.post("/api/v1/saved-searches", &ann, &form);
    assert_eq!(created.status, 201, "{}", created.body);
    let saved = created.json();
    assert_eq!(
        (saved["owner"].clone(), saved["shared"].clone()),
        (json!("ann"), json!(false))
    );
    let id = saved["id"].as_i64().unwrap();
    server
        .post("/api/v1/saved-searches", &ann, &form)
        .error(409, "conflict");
    let bad = server.post(
        "/api/v1/saved-searches",
        &ann,
        &json!({"name": "x", "query": "control.result:MAYBE"}),
    );
    field_error(bad, "query");
    field_error(
        server.post(
            "/api/v1/saved-searches",
            &ann,
            &json!({"name": "", "query": ""}),
        ),
        "name",
    );
    field_error(
        server.post("/api/v1/saved-searches", &ann, &json!({"query": ""})),
        "name",
    );

    let path = format!("/api/v1/saved-searches/{id}");
    assert_eq!(server.get(&path, Some(&ann)).json()["query"], form["query"]);
    server.get(&path, Some(&bob)).error(404, "not_found");
    assert_eq!(
        server.get("/api/v1/saved-searches", Some(&bob)).json(),
        json!([])
    );
    server
        .put(&format!("{path}/share"), &bob, &json!({}))
        .error(404, "not_found");
    let shared = server.put(&format!("{path}/share"), &ann, &json!({}));
    assert_eq!(shared.json()["shared"], true);
    assert_eq!(
        server.get("/api/v1/saved-searches", Some(&bob)).json()[0]["id"],
        id
    );
    assert_eq!(server.get(&path, Some(&bob)).status, 200);
    server.delete(&path, &bob).error(403, "forbidden");
    server
        .delete(&format!("{path}/share"), &bob)
        .error(403, "forbidden");
    let unshared = server.call("DELETE", &format!("{path}/share"), Some(&ann), None);
    assert_eq!(unshared.json()["shared"], false);
    field_error(server.get("/api/v1/saved-searches/x", Some(&ann)), "id");
    assert_eq!(
        server.delete(&path, admin).status,
        204,
        "a Manager deletes any"
    );
    server.get(&path, Some(&ann)).error(404, "not_found");
    let audit = server
        .get("/api/v1/audit?action=saved_search.", Some(admin))
        .json();
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        vec![
            "saved_search.delete",
            "saved_search.unshare",
            "saved_search.share",
            "saved_search.create"
        ]
    );
}

fn scenario(place: &Place) {
    let server = start(place);
    seed(&server);
    let admin = server.admin_token();
    evaluations_and_counts(&server, &admin);
    resources_controls_policies(&server, &admin);
    datalists(&server, &admin);
    access(&server, &admin);
    saved_searches(&server, &admin);
}

#[test]
fn data_apis_on_sqlite() {
    scenario(&Place::sqlite());
}

#[test]
fn data_apis_on_postgres() {
    let rt = runtime();
    if let Some(place) = Place::postgres(&rt, "data_apis_on_postgres") {
        drop(rt);
        scenario(&place);
    }
}
