//! Custom controls and policies over real HTTP: copies with parameters,
//! user-defined CEL controls, criticality, custom policies and on-demand
//! evaluation, on SQLite and PostgreSQL.

mod common;

use common::*;
use serde_json::{json, Value};
use vigil_model::{EvalResult, Origin, Provider, Resource};
use vigil_query::Query;
use vigil_store::{EvaluationRow, Page, ScanBatch};

const ARN_SHORT: &str = "arn:aws:iam::111122223333:account-password-policy";
const ARN_LONG: &str = "arn:aws:iam::444455556666:account-password-policy";

fn password_policy(arn: &str, account: &str, length: i64) -> Resource {
    let mut attributes = serde_json::Map::new();
    attributes.insert("minimum_password_length".into(), json!(length));
    attributes.insert("require_symbols".into(), json!(length > 15));
    Resource {
        provider: Provider::Aws,
        account: account.into(),
        region: "global".into(),
        service: "IAM".into(),
        resource_type: "aws.iam.password_policy".into(),
        id: arn.into(),
        name: "account-password-policy".into(),
        tags: Default::default(),
        attributes,
        associations: Vec::new(),
        uncollected: Default::default(),
        suppressed: Default::default(),
        first_discovered: None,
        last_updated: None,
        origin: Origin::Connector {
            connector: "c1".into(),
            run: "run-1".into(),
        },
    }
}

/// Two password policies, 15 and 20 characters, with no evaluations yet.
fn seed(server: &Running) {
    let resources = [
        password_policy(ARN_SHORT, "111122223333", 15),
        password_policy(ARN_LONG, "444455556666", 20),
    ];
    server
        .rt
        .block_on(server.store.apply_scan(ScanBatch {
            source: "connector:c1",
            run: "run-1",
            at: chrono::Utc::now(),
            resources: &resources,
            evaluations: &[],
        }))
        .expect("the scan is recorded");
}

fn search(server: &Running, text: &str) -> Vec<EvaluationRow> {
    let query = Query::parse(text, chrono::Utc::now()).expect("a query");
    server
        .rt
        .block_on(server.store.search(&query, Page::default()))
        .expect("search")
}

fn result_of(rows: &[EvaluationRow], arn: &str) -> Option<EvalResult> {
    rows.iter().find(|r| r.resource_id == arn).map(|r| r.result)
}

fn field_of(reply: &Reply, status: u16) -> String {
    let body = reply.error(status, reply.json()["code"].as_str().unwrap_or("?"));
    body["field"].as_str().unwrap_or_default().to_string()
}

fn custom_control(pass: &str) -> Value {
    json!({
        "title": "Password policy requires symbols",
        "service": "IAM",
        "resource_type": "aws.iam.password_policy",
        "criticality": "LOW",
        "evaluation": "Check that the password policy requires symbols.",
        "parameters": [{"name": "minimum", "type": "int", "default": 8, "min": 1, "max": 128}],
        "logic": {"pass": pass, "expected": "symbols required"}
    })
}

fn copies_and_evaluation(place: &Place) {
    let server = start(place);
    seed(&server);
    let admin = server.admin_token();
    let sub = server.user_token("sub", "sub_user", &[]);

    // A copy of CID 11 with a longer minimum length.
    let copy = server.post(
        "/api/v1/controls/11/copy",
        &sub,
        &json!({"title": "Minimum length 16", "criticality": "HIGH", "parameters": {"minimum_length": 16}}),
    );
    assert_eq!(copy.status, 201, "{}", copy.body);
    let copy = copy.json();
    let cid = copy["cid"].as_u64().expect("a CID");
    assert!(cid >= 100_000, "{copy}");
    assert_eq!(copy["based_on"], 11);
    assert_eq!(copy["criticality"], "HIGH");
    assert_eq!(copy["control"]["parameters"][0]["default"], 16);
    assert!(copy["control"]["logic"]["pass"].is_string(), "{copy}");

    // Parameters are checked against their type and range.
    for (value, why) in [
        (json!("long"), "type"),
        (json!(200), "between"),
        (json!(null), "null"),
    ] {
        let bad = server.post(
            "/api/v1/controls/11/copy",
            &sub,
            &json!({"parameters": {"minimum_length": value}}),
        );
        assert_eq!(
            field_of(&bad, 400),
            "parameters.minimum_length",
            "{why}: {}",
            bad.body
        );
    }
    let unknown = server.post(
        "/api/v1/controls/11/copy",
        &sub,
        &json!({"parameters": {"length": 16}}),
    );
    assert_eq!(field_of(&unknown, 400), "parameters.length");
    assert!(unknown.body.contains("minimum_length"), "{}", unknown.body);
    server
        .post("/api/v1/controls/99999/copy", &sub, &json!({}))
        .error(404, "not_found");
    server
        .post("/api/v1/controls/eleven/copy", &sub, &json!({}))
        .error(400, "invalid_field");

    // The copy evaluates over the stored resources of its type: 15 < 16.
    let run = server.post("/api/v1/evaluate", &sub, &json!({"cid": cid}));
    assert_eq!(run.status, 200, "{}", run.body);
    let run = run.json();
    assert_eq!(
        (run["resources"].clone(), run["evaluations"].clone()),
        (json!(2), json!(2))
    );
    assert_eq!(
        (run["pass"].clone(), run["fail"].clone()),
        (json!(1), json!(1))
    );
    let rows = search(&server, &format!("cid:{cid}"));
    assert_eq!(result_of(&rows, ARN_SHORT), Some(EvalResult::Fail));
    assert_eq!(result_of(&rows, ARN_LONG), Some(EvalResult::Pass));
    assert_eq!(rows[0].criticality, vigil_model::Criticality::High);
    assert_eq!(rows[0].control, "Minimum length 16");

    // Every control over one resource; nothing else changes.
    let run = server.post("/api/v1/evaluate", &sub, &json!({"resource_id": ARN_LONG}));
    assert_eq!(run.status, 200, "{}", run.body);
    assert_eq!(run.json()["resources"], 1);
    let rows = search(&server, "cid:11");
    assert_eq!(result_of(&rows, ARN_LONG), Some(EvalResult::Pass));
    assert_eq!(result_of(&rows, ARN_SHORT), None);
    assert_eq!(search(&server, &format!("cid:{cid}")).len(), 2);
    server
        .post(
            "/api/v1/evaluate",
            &sub,
            &json!({"resource_id": "arn:none"}),
        )
        .error(404, "not_found");
    // A user with tags sees only the connectors carrying one of them.
    let tagged = server.user_token("tagged", "sub_user", &["prod"]);
    server
        .post(
            "/api/v1/evaluate",
            &tagged,
            &json!({"resource_id": ARN_LONG}),
        )
        .error(404, "not_found");
    let none = server.post("/api/v1/evaluate", &tagged, &json!({"cid": cid}));
    assert_eq!(none.json()["resources"], 0, "{}", none.body);
    let neither = server.post("/api/v1/evaluate", &sub, &json!({}));
    assert_eq!(field_of(&neither, 400), "cid");
    let unknown = server.post("/api/v1/evaluate", &sub, &json!({"cid": 424242}));
    assert_eq!(field_of(&unknown, 400), "cid");

    // Criticality of a system control: search sees it at once.
    let changed = server.put(
        "/api/v1/controls/11/criticality",
        &sub,
        &json!({"criticality": "HIGH"}),
    );
    assert_eq!(changed.status, 200, "{}", changed.body);
    assert_eq!(changed.json()["previous"], "MEDIUM");
    let high = search(&server, "cid:11 and control.criticality:HIGH");
    assert_eq!(high.len(), 1, "{high:?}");
    let bad = server.put(
        "/api/v1/controls/11/criticality",
        &sub,
        &json!({"criticality": "SEVERE"}),
    );
    assert_eq!(field_of(&bad, 400), "criticality");
    server
        .put(
            "/api/v1/controls/424242/criticality",
            &sub,
            &json!({"criticality": "LOW"}),
        )
        .error(404, "not_found");

    // The changes are audited.
    let audit = server.get("/api/v1/audit?action=control.", Some(&admin));
    assert_eq!(audit.status, 200, "{}", audit.body);
    let actions: Vec<String> = audit.json()["items"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| e["action"].as_str().unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default();
    assert!(
        actions.contains(&"control.copy".to_string()),
        "{}",
        audit.body
    );
    assert!(
        actions.contains(&"control.criticality".to_string()),
        "{}",
        audit.body
    );
}

fn user_defined_controls(place: &Place) {
    let server = start(place);
    seed(&server);
    let sub = server.user_token("sub", "sub_user", &[]);
    let reader = server.user_token("reader", "reader", &[]);

    // A broken expression: the field is the expression, the message says where.
    let broken = server.post(
        "/api/v1/controls/custom",
        &sub,
        &custom_control("resource.require_symbols == && true"),
    );
    assert_eq!(field_of(&broken, 400), "logic.pass", "{}", broken.body);
    assert!(
        broken
            .body
            .contains("logic.pass at line 1, column 29: syntax error"),
        "{}",
        broken.body
    );
    // The example of docs/api.md.
    let owner = server.post(
        "/api/v1/controls/custom",
        &sub,
        &json!({
            "title": "Buckets must carry an owner tag",
            "service": "S3",
            "resource_type": "aws.s3.bucket",
            "criticality": "MEDIUM",
            "evaluation": "Check that the bucket has the tag named by the parameter.",
            "parameters": [{"name": "tag", "type": "string", "default": "owner"}],
            "logic": {"pass": "params.tag in meta.tags", "expected": "tag ${tag} present"}
        }),
    );
    assert_eq!(owner.status, 201, "{}", owner.body);
    let owner = owner.json()["cid"].as_u64().expect("a CID");
    assert_eq!(
        server
            .delete(&format!("/api/v1/controls/custom/{owner}"), &sub)
            .status,
        204
    );
    let undeclared = server.post(
        "/api/v1/controls/custom",
        &sub,
        &custom_control("resource.minimum_password_length >= params.maximum"),
    );
    assert_eq!(field_of(&undeclared, 400), "logic.pass");
    assert!(undeclared.body.contains("maximum"), "{}", undeclared.body);
    let mut bad_type = custom_control("true");
    bad_type["resource_type"] = json!("iam.password");
    assert_eq!(
        field_of(
            &server.post("/api/v1/controls/custom", &sub, &bad_type),
            400
        ),
        "resource_type"
    );

    // A valid one gets the next user CID and evaluates.
    let created = server.post(
        "/api/v1/controls/custom",
        &sub,
        &custom_control(
            "resource.require_symbols && resource.minimum_password_length >= params.minimum",
        ),
    );
    assert_eq!(created.status, 201, "{}", created.body);
    let cid = created.json()["cid"].as_u64().expect("a CID");
    assert!(cid >= 100_000);
    let run = server.post("/api/v1/evaluate", &sub, &json!({"cid": cid}));
    assert_eq!(run.status, 200, "{}", run.body);
    let rows = search(&server, &format!("cid:{cid}"));
    assert_eq!(result_of(&rows, ARN_SHORT), Some(EvalResult::Fail));
    assert_eq!(result_of(&rows, ARN_LONG), Some(EvalResult::Pass));

    // Edit: the new definition applies; search shows the new title.
    let mut edited = custom_control("resource.minimum_password_length >= params.minimum");
    edited["title"] = json!("Long enough");
    let put = server.put(&format!("/api/v1/controls/custom/{cid}"), &sub, &edited);
    assert_eq!(put.status, 200, "{}", put.body);
    assert_eq!(put.json()["title"], "Long enough");
    server.post("/api/v1/evaluate", &sub, &json!({"cid": cid}));
    let rows = search(&server, &format!("cid:{cid}"));
    assert_eq!(result_of(&rows, ARN_SHORT), Some(EvalResult::Pass));
    assert_eq!(rows[0].control, "Long enough");
    let broken_edit = server.put(
        &format!("/api/v1/controls/custom/{cid}"),
        &sub,
        &custom_control("resource.("),
    );
    assert_eq!(field_of(&broken_edit, 400), "logic.pass");

    // System controls: only their criticality changes.
    let refused = server.put("/api/v1/controls/custom/11", &sub, &edited);
    let body = refused.error(409, "system_control");
    assert!(
        body["message"]
            .as_str()
            .unwrap_or("")
            .contains("only have their criticality changed"),
        "{body}"
    );
    server
        .delete("/api/v1/controls/custom/11", &sub)
        .error(409, "system_control");
    server
        .delete("/api/v1/controls/custom/999999", &sub)
        .error(404, "not_found");

    // Listing, for readers too.
    let list = server.get("/api/v1/controls/custom", Some(&reader));
    assert_eq!(list.status, 200, "{}", list.body);
    assert_eq!(list.json().as_array().map(Vec::len), Some(1));

    // Delete: the control and its evaluations go; its CID is not reused.
    assert_eq!(
        server
            .delete(&format!("/api/v1/controls/custom/{cid}"), &sub)
            .status,
        204
    );
    assert!(search(&server, &format!("cid:{cid}")).is_empty());
    let again = server.post("/api/v1/controls/custom", &sub, &custom_control("true"));
    assert_eq!(
        again.json()["cid"].as_u64(),
        Some(cid + 1),
        "{}",
        again.body
    );
    let list = server.get("/api/v1/controls/custom", Some(&reader));
    assert_eq!(list.json().as_array().map(Vec::len), Some(1));
}

fn custom_policies(place: &Place) {
    let server = start(place);
    seed(&server);
    let sub = server.user_token("sub", "sub_user", &[]);
    let reader = server.user_token("reader", "reader", &[]);
    let copy = server.post(
        "/api/v1/controls/11/copy",
        &sub,
        &json!({"parameters": {"minimum_length": 20}}),
    );
    let cid = copy.json()["cid"].as_u64().expect("a CID");

    let created = server.post(
        "/api/v1/policies/custom",
        &sub,
        &json!({"name": "Strict IAM", "description": "Ours", "cids": [11, cid]}),
    );
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(created.json()["cids"], json!([11, cid]));
    let unknown = server.post(
        "/api/v1/policies/custom",
        &sub,
        &json!({"name": "Other", "cids": [11, 424242]}),
    );
    assert_eq!(field_of(&unknown, 400), "cids[1]");
    let no_connector = server.post(
        "/api/v1/policies/custom",
        &sub,
        &json!({"name": "Other", "cids": [11], "connectors": ["nope"]}),
    );
    assert_eq!(field_of(&no_connector, 400), "connectors[0]");
    let empty = server.post(
        "/api/v1/policies/custom",
        &sub,
        &json!({"name": "Other", "cids": []}),
    );
    assert_eq!(field_of(&empty, 400), "cids");
    let slash = server.post(
        "/api/v1/policies/custom",
        &sub,
        &json!({"name": "a/b", "cids": [11]}),
    );
    assert_eq!(field_of(&slash, 400), "name");
    let missing = server.post("/api/v1/policies/custom", &sub, &json!({"cids": [11]}));
    assert_eq!(field_of(&missing, 400), "name");
    server
        .post(
            "/api/v1/policies/custom",
            &sub,
            &json!({"name": "Strict IAM", "cids": [11]}),
        )
        .error(409, "conflict");
    server
        .post(
            "/api/v1/policies/custom",
            &sub,
            &json!({"name": "AWS Best Practices Policy", "cids": [11]}),
        )
        .error(409, "system_policy");

    // Search selects the policy's evaluations at once.
    server.post("/api/v1/evaluate", &sub, &json!({"cid": cid}));
    assert_eq!(search(&server, "policy.name:\"Strict IAM\"").len(), 2);

    // A control a policy lists cannot be deleted.
    server
        .delete(&format!("/api/v1/controls/custom/{cid}"), &sub)
        .error(409, "conflict");

    let changed = server.put(
        "/api/v1/policies/custom/Strict%20IAM",
        &sub,
        &json!({"cids": [11]}),
    );
    assert_eq!(changed.status, 200, "{}", changed.body);
    assert_eq!(changed.json()["cids"], json!([11]));
    let bad = server.put(
        "/api/v1/policies/custom/Strict%20IAM",
        &sub,
        &json!({"cids": [7, 7]}),
    );
    assert_eq!(field_of(&bad, 400), "cids[1]");
    server
        .put(
            "/api/v1/policies/custom/Nothing",
            &sub,
            &json!({"cids": [11]}),
        )
        .error(404, "not_found");
    server
        .put(
            "/api/v1/policies/custom/AWS%20Best%20Practices%20Policy",
            &sub,
            &json!({"cids": [11]}),
        )
        .error(409, "system_policy");
    server
        .delete(
            "/api/v1/policies/custom/AWS%20Best%20Practices%20Policy",
            &sub,
        )
        .error(409, "system_policy");
    let list = server.get("/api/v1/policies/custom", Some(&reader));
    assert_eq!(list.status, 200, "{}", list.body);
    assert_eq!(list.json()[0]["name"], "Strict IAM");

    assert_eq!(
        server
            .delete("/api/v1/policies/custom/Strict%20IAM", &sub)
            .status,
        204
    );
    server
        .delete("/api/v1/policies/custom/Strict%20IAM", &sub)
        .error(404, "not_found");
    assert!(search(&server, "policy.name:\"Strict IAM\"").is_empty());
    assert_eq!(
        server
            .delete(&format!("/api/v1/controls/custom/{cid}"), &sub)
            .status,
        204
    );
}

/// Every write needs its permission (403 before the body is read); lists
/// need view_data; no token is 401.
fn permissions(place: &Place) {
    let server = start(place);
    let reader = server.user_token("reader", "reader", &[]);
    let reports = server.user_token("reports", "reports_only", &[]);
    let writes: [(&str, &str); 10] = [
        ("POST", "/api/v1/controls/11/copy"),
        ("POST", "/api/v1/controls/custom"),
        ("PUT", "/api/v1/controls/custom/100000"),
        ("DELETE", "/api/v1/controls/custom/100000"),
        ("PUT", "/api/v1/controls/11/criticality"),
        ("POST", "/api/v1/policies/custom"),
        ("PUT", "/api/v1/policies/custom/x"),
        ("DELETE", "/api/v1/policies/custom/x"),
        ("POST", "/api/v1/evaluate"),
        ("GET", "/api/v1/controls/custom"),
    ];
    let bad_body = json!({"nonsense": true});
    for (method, path) in writes {
        let body = (method != "GET" && method != "DELETE").then_some(&bad_body);
        server
            .call(method, path, None, body)
            .error(401, "unauthorized");
        server
            .call(method, path, Some(&reports), body)
            .error(403, "forbidden");
        if method != "GET" {
            server
                .call(method, path, Some(&reader), body)
                .error(403, "forbidden");
        }
    }
    assert_eq!(
        server.get("/api/v1/controls/custom", Some(&reader)).status,
        200
    );
    assert_eq!(
        server.get("/api/v1/policies/custom", Some(&reader)).status,
        200
    );
    server
        .get("/api/v1/policies/custom", Some(&reports))
        .error(403, "forbidden");
}

macro_rules! on_both {
    ($scenario:ident, $sqlite:ident, $postgres:ident) => {
        #[test]
        fn $sqlite() {
            $scenario(&Place::sqlite());
        }

        #[test]
        fn $postgres() {
            let rt = runtime();
            if let Some(place) = Place::postgres(&rt, stringify!($postgres)) {
                drop(rt);
                $scenario(&place);
            }
        }
    };
}

on_both!(
    copies_and_evaluation,
    copies_and_evaluation_on_sqlite,
    copies_and_evaluation_on_postgres
);
on_both!(
    user_defined_controls,
    user_defined_controls_on_sqlite,
    user_defined_controls_on_postgres
);
on_both!(
    custom_policies,
    custom_policies_on_sqlite,
    custom_policies_on_postgres
);
on_both!(permissions, permissions_on_sqlite, permissions_on_postgres);
