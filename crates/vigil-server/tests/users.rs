//! Users, roles, permissions and the audit log over HTTP, on SQLite and
//! PostgreSQL: success, bad input naming the field, 401 and 403.

mod common;

use common::*;
use serde_json::json;

fn users_and_roles(place: &Place) {
    let server = start(place);
    let admin = server.admin_token();

    // Create: success, then every kind of bad input names its field.
    let created = server.post(
        "/api/v1/users",
        &admin,
        &json!({"username": "alice", "password": PASSWORD, "role": "reader", "tags": ["CLV-ALL"]}),
    );
    assert_eq!(created.status, 201, "{}", created.body);
    let alice = created.json();
    assert_eq!(
        (
            &alice["username"],
            &alice["role"],
            &alice["tags"],
            &alice["disabled"]
        ),
        (
            &json!("alice"),
            &json!("reader"),
            &json!(["CLV-ALL"]),
            &json!(false)
        )
    );
    assert!(alice.get("password").is_none() && alice.get("password_hash").is_none());
    for (body, field) in [
        (
            json!({"username": "b", "password": "short", "role": "reader"}),
            "password",
        ),
        (
            json!({"username": "b", "password": PASSWORD, "role": "nobody"}),
            "role",
        ),
        (json!({"password": PASSWORD, "role": "reader"}), "username"),
        (
            json!({"username": " b", "password": PASSWORD, "role": "reader"}),
            "username",
        ),
        (
            json!({"username": "b", "password": PASSWORD, "role": "reader", "tags": [""]}),
            "tags[0]",
        ),
        (
            json!({"username": "b", "password": PASSWORD, "role": 7}),
            "role",
        ),
    ] {
        let reply = server.post("/api/v1/users", &admin, &body);
        let error = reply.error(400, error_code(&reply));
        assert_eq!(error["field"], field, "{body}: {error}");
    }
    let unknown_field = server.post(
        "/api/v1/users",
        &admin,
        &json!({"username": "b", "password": PASSWORD, "role": "reader", "admin": true}),
    );
    assert!(unknown_field.error(400, "invalid_body")["message"]
        .as_str()
        .is_some_and(|m| m.contains("admin")));
    let duplicate = server.post(
        "/api/v1/users",
        &admin,
        &json!({"username": "alice", "password": PASSWORD, "role": "reader"}),
    );
    duplicate.error(409, "conflict");
    let not_json = server.call_raw("POST", "/api/v1/users", Some(&admin), "text/plain", b"x");
    not_json.error(415, "unsupported_media_type");

    // The new user logs in with the role's permissions.
    let token = server.login("alice", PASSWORD).body;
    let me = server.get("/api/v1/me", Some(&token)).json();
    assert_eq!(me["role"], "reader");
    assert_eq!(
        me["permissions"],
        json!(["reports_view", "dashboards", "view_data", "api_access"])
    );
    // A reader manages nobody: 403 before the body is even read.
    server
        .post("/api/v1/users", &token, &json!({}))
        .error(403, "forbidden");
    server
        .get("/api/v1/users", Some(&token))
        .error(403, "forbidden");
    server.get("/api/v1/users", None).error(401, "unauthorized");
    server
        .call("POST", "/api/v1/users", None, Some(&json!({})))
        .error(401, "unauthorized");

    // List and read.
    let list = server.get("/api/v1/users", Some(&admin)).json();
    let names: Vec<&str> = list
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|u| u["username"].as_str())
        .collect();
    assert_eq!(names, vec!["admin", "alice"]);
    assert_eq!(
        server.get("/api/v1/users/alice", Some(&admin)).json()["role"],
        "reader"
    );
    server
        .get("/api/v1/users/nobody", Some(&admin))
        .error(404, "not_found");

    // Custom role: create, use, change (applies at once), delete.
    let role = server.post(
        "/api/v1/roles",
        &admin,
        &json!({"name": "auditors", "description": "see and report", "permissions": ["view_data", "api_access", "reports"]}),
    );
    assert_eq!(role.status, 201, "{}", role.body);
    assert_eq!(
        role.json()["permissions"],
        json!(["reports", "view_data", "api_access"]),
        "permissions come back in the table's order"
    );
    server
        .post(
            "/api/v1/roles",
            &admin,
            &json!({"name": "x", "permissions": ["root"]}),
        )
        .error(400, "invalid_field");
    let bad = server.post(
        "/api/v1/roles",
        &admin,
        &json!({"name": "x", "permissions": ["view_data", "root"]}),
    );
    assert_eq!(bad.error(400, "invalid_field")["field"], "permissions[1]");
    let builtin = server.post(
        "/api/v1/roles",
        &admin,
        &json!({"name": "reader", "permissions": []}),
    );
    assert_eq!(builtin.error(409, "conflict")["field"], "name");
    server
        .post("/api/v1/roles", &admin, &json!({"permissions": []}))
        .error(400, "missing_field");
    let patched = server.patch("/api/v1/users/alice", &admin, &json!({"role": "auditors"}));
    assert_eq!(patched.status, 200, "{}", patched.body);
    assert_eq!(
        server.get("/api/v1/me", Some(&token)).json()["role"],
        "auditors",
        "a role change applies to the next request of an existing token"
    );
    let no_api = server.put(
        "/api/v1/roles/auditors",
        &admin,
        &json!({"description": "no API", "permissions": ["view_data"]}),
    );
    assert_eq!(no_api.status, 200, "{}", no_api.body);
    let refused = server.get("/api/v1/me", Some(&token));
    assert!(refused.error(403, "forbidden")["message"]
        .as_str()
        .is_some_and(|m| m.contains("api_access")));
    server
        .put("/api/v1/roles/reader", &admin, &json!({"permissions": []}))
        .error(409, "conflict");
    server
        .put("/api/v1/roles/ghosts", &admin, &json!({"permissions": []}))
        .error(404, "not_found");
    server
        .delete("/api/v1/roles/auditors", &admin)
        .error(409, "conflict");
    assert_eq!(
        server.get("/api/v1/roles/auditors", Some(&admin)).status,
        200
    );
    let roles = server.get("/api/v1/roles", Some(&admin)).json();
    assert_eq!(roles.as_array().map(Vec::len), Some(5), "{roles}");

    // Change: password, tags, disable; nobody locks themselves out.
    for (body, field) in [
        (json!({"password": "short"}), "password"),
        (json!({"role": "nobody"}), "role"),
        (json!({"tags": [" "]}), "tags[0]"),
    ] {
        let reply = server.patch("/api/v1/users/alice", &admin, &body);
        assert_eq!(
            reply.error(400, error_code(&reply))["field"],
            field,
            "{body}"
        );
    }
    server
        .patch("/api/v1/users/admin", &admin, &json!({"disabled": true}))
        .error(409, "conflict");
    server
        .patch("/api/v1/users/admin", &admin, &json!({"role": "reader"}))
        .error(409, "conflict");
    server
        .patch("/api/v1/users/nobody", &admin, &json!({"disabled": true}))
        .error(404, "not_found");
    let new_password = "another long password";
    let changed = server.patch(
        "/api/v1/users/alice",
        &admin,
        &json!({"password": new_password, "role": "reader", "disabled": true}),
    );
    assert_eq!(changed.json()["disabled"], true);
    server
        .login("alice", new_password)
        .error(401, "invalid_credentials");
    server
        .get("/api/v1/me", Some(&token))
        .error(401, "unauthorized");
    server.patch("/api/v1/users/alice", &admin, &json!({"disabled": false}));
    assert_eq!(server.login("alice", new_password).status, 201);
    assert_eq!(server.login("alice", PASSWORD).status, 401);

    // A sub user may not grant access or manage users.
    let sub = server.user_token("sam", "sub_user", &[]);
    server
        .patch("/api/v1/users/alice", &sub, &json!({"tags": []}))
        .error(403, "forbidden");
    server
        .get("/api/v1/roles", Some(&sub))
        .error(403, "forbidden");

    // Delete: not oneself; unknown is 404; the role can go once unused.
    server
        .delete("/api/v1/users/admin", &admin)
        .error(409, "conflict");
    assert_eq!(server.delete("/api/v1/users/alice", &admin).status, 204);
    server
        .delete("/api/v1/users/alice", &admin)
        .error(404, "not_found");
    assert_eq!(server.delete("/api/v1/roles/auditors", &admin).status, 204);
    server
        .get("/api/v1/roles/auditors", Some(&admin))
        .error(404, "not_found");

    // The audit log has every change, newest first, with who and what,
    // and never a password.
    let log = server.get("/api/v1/audit?limit=1000", Some(&admin)).json();
    let items = log["items"].as_array().expect("items");
    let actions: Vec<(&str, &str, &str)> = items
        .iter()
        .map(|i| {
            (
                i["actor"].as_str().unwrap_or_default(),
                i["action"].as_str().unwrap_or_default(),
                i["target"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        actions,
        vec![
            ("admin", "role.delete", "role:auditors"),
            ("admin", "user.delete", "user:alice"),
            ("admin", "user.create", "user:sam"),
            ("admin", "user.update", "user:alice"),
            ("admin", "user.update", "user:alice"),
            ("admin", "role.update", "role:auditors"),
            ("admin", "user.update", "user:alice"),
            ("admin", "role.create", "role:auditors"),
            ("admin", "user.create", "user:alice"),
            ("system", "user.create", "user:admin"),
        ]
    );
    assert!(items.iter().all(|i| i["at"].is_string()));
    assert!(!log.to_string().contains(new_password) && !log.to_string().contains(PASSWORD));
    assert!(log.get("next").is_none());
    let page = server
        .get("/api/v1/audit?limit=4&action=user.", Some(&admin))
        .json();
    assert_eq!(page["items"].as_array().map(Vec::len), Some(4));
    let next = page["next"].as_str().expect("a next cursor").to_string();
    let rest = server
        .get(
            &format!("/api/v1/audit?limit=4&action=user.&cursor={next}"),
            Some(&admin),
        )
        .json();
    assert_eq!(rest["items"].as_array().map(Vec::len), Some(3), "{rest}");
    let by_target = server
        .get(
            "/api/v1/audit?target=role:auditors&actor=admin",
            Some(&admin),
        )
        .json();
    assert_eq!(by_target["items"].as_array().map(Vec::len), Some(3));
    let bad_limit = server.get("/api/v1/audit?limit=0", Some(&admin));
    assert_eq!(bad_limit.error(400, "invalid_field")["field"], "limit");
    let bad_cursor = server.get("/api/v1/audit?cursor=abc", Some(&admin));
    assert_eq!(bad_cursor.error(400, "invalid_field")["field"], "cursor");
    server
        .get("/api/v1/audit?limit=x", Some(&admin))
        .error(400, "invalid_query");
    server
        .get("/api/v1/audit", Some(&sub))
        .error(403, "forbidden");
    server.get("/api/v1/audit", None).error(401, "unauthorized");

    // Every permission is listed for role editors.
    let permissions = server.get("/api/v1/permissions", Some(&sub)).json();
    assert_eq!(permissions.as_array().map(Vec::len), Some(15));
    assert!(permissions[0]["description"].is_string());
}

/// The code a 400 carries (`invalid_field`, `missing_field` or `invalid_body`).
fn error_code(reply: &Reply) -> &'static str {
    let code = reply.json()["code"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    ["invalid_field", "missing_field", "invalid_body", "invalid"]
        .into_iter()
        .find(|c| *c == code)
        .unwrap_or("an expected 400 code")
}

#[test]
fn users_and_roles_on_sqlite() {
    users_and_roles(&Place::sqlite());
}

#[test]
fn users_and_roles_on_postgres() {
    if let Some(place) = Place::postgres(&runtime(), "users_and_roles") {
        users_and_roles(&place);
    }
}
