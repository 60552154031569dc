//! Operations and authentication over real HTTP (see `common` for the
//! harness).

mod common;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use common::*;
use std::sync::Arc;
use vigil_server::jwt::{Claims, Signer};
use vigil_server::{AdminBootstrap, Config, Server};
use vigil_store::access::MANAGER;
use vigil_store::Store;
use vigil_store_sqlite::SqliteStore;

#[test]
fn health_ready_metrics_and_unknown_paths() {
    let place = Place::sqlite();
    let server = start(&place);
    let health = server.get("/health", None);
    assert_eq!(
        (health.status, health.json()["status"].clone()),
        (200, "ok".into())
    );
    let ready = server.get("/ready", None);
    assert_eq!(
        (ready.status, ready.json()["status"].clone()),
        (200, "ready".into())
    );
    server.get("/health", None);
    server.get("/no/such/thing", None).error(404, "not_found");
    let metrics = server.get("/metrics", None);
    assert_eq!(metrics.status, 200);
    assert!(
        metrics.content_type.starts_with("text/plain"),
        "{}",
        metrics.content_type
    );
    let text = metrics.body;
    let health = "method=\"GET\",route=\"/health\",status=\"200\"";
    assert!(
        text.contains(&format!("vigil_http_requests_total{{{health}}} 2\n")),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "vigil_http_request_duration_seconds_count{{{health}}} 2\n"
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "vigil_http_request_duration_seconds_bucket{{{health},le=\"+Inf\"}} 2\n"
        )),
        "{text}"
    );
    assert!(
        text.contains("route=\"unmatched\",status=\"404\"} 1\n"),
        "{text}"
    );
    assert!(
        text.contains("# TYPE vigil_http_request_duration_seconds histogram"),
        "{text}"
    );
    let wrong_method = reply(ureq::post(&format!("{}/health", server.base)).call());
    wrong_method.error(405, "method_not_allowed");
}

#[test]
fn ready_answers_503_without_internals_when_the_store_is_gone() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let rt = runtime();
    let sqlite = Arc::new(
        rt.block_on(SqliteStore::open(&dir.path().join("vigil.db")))
            .expect("open"),
    );
    let store: Arc<dyn Store> = sqlite.clone();
    let server = rt
        .block_on(Server::bind(
            store,
            Config {
                listen: "127.0.0.1:0".parse().expect("an address"),
                admin_password: Some(PASSWORD.into()),
                ..Config::default()
            },
        ))
        .expect("bind");
    let base = format!("http://{}", server.local_addr());
    rt.spawn(server.serve(std::future::pending()));
    assert_eq!(
        reply(ureq::get(&format!("{base}/ready")).call()).status,
        200
    );
    rt.block_on(sqlite.close());
    let not_ready = reply(ureq::get(&format!("{base}/ready")).call());
    let body = not_ready.error(503, "not_ready");
    let text = body.to_string().to_lowercase();
    for leak in [
        "sqlite",
        "pool",
        "sql",
        dir.path().to_string_lossy().as_ref(),
    ] {
        assert!(
            !text.contains(&leak.to_lowercase()),
            "`{leak}` leaked: {text}"
        );
    }
    assert_eq!(
        reply(ureq::get(&format!("{base}/health")).call()).status,
        200
    );
}

/// Login, the token and `/api/v1/me` on one backend.
fn login_and_me(place: &Place) {
    let server = start(place);
    assert_eq!(server.bootstrap, AdminBootstrap::FromEnvironment);

    let ok = server.login("admin", PASSWORD);
    assert_eq!(ok.status, 201, "{}", ok.body);
    assert!(
        ok.content_type.starts_with("text/plain"),
        "{}",
        ok.content_type
    );
    let token = ok.body.trim().to_string();
    assert_eq!(token.split('.').count(), 3, "{token}");
    let claims = claims_of(&token);
    assert_eq!(claims["sub"], "admin");
    let exp = claims["exp"].as_i64().expect("exp");
    let iat = claims["iat"].as_i64().expect("iat");
    assert_eq!(exp - iat, 4 * 3600);
    assert!((exp - (now() + 4 * 3600)).abs() <= 60, "exp {exp}");

    let me = server.get("/api/v1/me", Some(&token));
    assert_eq!(me.status, 200, "{}", me.body);
    let me = me.json();
    assert_eq!(
        (&me["username"], &me["role"]),
        (&"admin".into(), &"manager".into())
    );
    assert_eq!(me["permissions"].as_array().map(Vec::len), Some(15), "{me}");
    assert_eq!(me["tags"], serde_json::json!([]));

    server
        .login("admin", "wrong")
        .error(401, "invalid_credentials");
    server
        .login("nobody", PASSWORD)
        .error(401, "invalid_credentials");
    let missing = server
        .login_form("username=admin&token=true")
        .error(400, "missing_field");
    assert_eq!(missing["field"], "password");
    assert!(missing["message"]
        .as_str()
        .is_some_and(|m| m.contains("password")));
    let missing = server
        .login_form(&format!("password={PASSWORD}"))
        .error(400, "missing_field");
    assert_eq!(missing["field"], "username");
    let bad_token = server
        .login_form(&format!("username=admin&password={PASSWORD}&token=false"))
        .error(400, "invalid_field");
    assert_eq!(bad_token["field"], "token");

    server.get("/api/v1/me", None).error(401, "unauthorized");
    server
        .get("/api/v1/me", Some("not-a-token"))
        .error(401, "unauthorized");
    let parts: Vec<&str> = token.split('.').collect();
    let forged = URL_SAFE_NO_PAD.encode(
        serde_json::json!({"sub": "admin", "role": "manager", "iat": iat, "exp": exp + 3600})
            .to_string(),
    );
    let tampered = format!("{}.{forged}.{}", parts[0], parts[2]);
    server
        .get("/api/v1/me", Some(&tampered))
        .error(401, "unauthorized");
    let other_key = Signer::new(vec![1; 32]).sign(&Claims {
        sub: "admin".into(),
        role: "manager".into(),
        iat: now(),
        exp: now() + 60,
    });
    server
        .get("/api/v1/me", Some(&other_key))
        .error(401, "unauthorized");
    let expired = server.signer().sign(&Claims {
        sub: "admin".into(),
        role: "manager".into(),
        iat: now() - 5 * 3600,
        exp: now() - 3600,
    });
    let body = server
        .get("/api/v1/me", Some(&expired))
        .error(401, "unauthorized");
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("expired")),
        "{body}"
    );
    // The same key signs a valid token: only the expiry was refused.
    let fresh = server.signer().sign(&Claims {
        sub: "admin".into(),
        role: "manager".into(),
        iat: now(),
        exp: now() + 60,
    });
    assert_eq!(server.get("/api/v1/me", Some(&fresh)).status, 200);
}

#[test]
fn login_and_me_on_sqlite() {
    login_and_me(&Place::sqlite());
}

#[test]
fn login_and_me_on_postgres() {
    let rt = runtime();
    if let Some(place) = Place::postgres(&rt, "login_and_me_on_postgres") {
        drop(rt);
        login_and_me(&place);
    }
}

#[test]
fn logins_are_limited_per_username() {
    let place = Place::sqlite();
    let server = start(&place);
    for _ in 0..10 {
        server
            .login("admin", "wrong")
            .error(401, "invalid_credentials");
    }
    let limited = server.login("admin", PASSWORD);
    limited.error(429, "rate_limited");
    let wait: u64 = limited
        .retry_after
        .as_deref()
        .and_then(|v| v.parse().ok())
        .expect("a Retry-After in seconds");
    assert!((1..=60).contains(&wait), "Retry-After {wait}");
}

#[test]
fn logins_are_limited_per_client_address() {
    let place = Place::sqlite();
    let server = start(&place);
    for i in 0..10 {
        server
            .login(&format!("user{i}"), "wrong")
            .error(401, "invalid_credentials");
    }
    let limited = server.login("admin", PASSWORD);
    limited.error(429, "rate_limited");
    assert!(limited.retry_after.is_some());
}

#[test]
fn the_openapi_document_describes_the_endpoints_and_the_error_shape() {
    let place = Place::sqlite();
    let server = start(&place);
    let doc = server.get("/api/openapi.json", None);
    assert_eq!(doc.status, 200);
    let doc = doc.json();
    assert!(
        doc["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1")),
        "{}",
        doc["openapi"]
    );
    for (path, method) in [
        ("/health", "get"),
        ("/ready", "get"),
        ("/metrics", "get"),
        ("/auth", "post"),
        ("/api/v1/me", "get"),
        ("/api/openapi.json", "get"),
    ] {
        assert!(
            doc["paths"][path][method].is_object(),
            "{method} {path} is not documented"
        );
    }
    let error = &doc["components"]["schemas"]["ApiError"];
    for field in ["status", "code", "message", "field"] {
        assert!(
            error["properties"][field].is_object(),
            "ApiError.{field}: {error}"
        );
    }
    assert!(doc["paths"]["/auth"]["post"]["requestBody"]["content"]
        ["application/x-www-form-urlencoded"]
        .is_object());
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    assert!(doc["paths"]["/api/v1/me"]["get"]["responses"]["401"].is_object());
}

#[test]
fn the_first_start_generates_an_admin_password_once() {
    let place = Place::sqlite();
    let first = start_on(runtime(), &place, None);
    let AdminBootstrap::Generated(password) = first.bootstrap.clone() else {
        panic!("expected a generated password, got {:?}", first.bootstrap);
    };
    assert!(password.len() >= 16, "a short password: {password}");
    assert_eq!(first.login("admin", &password).status, 201);
    let users = first.rt.block_on(first.store.users()).expect("users");
    assert_eq!(users.len(), 1);
    assert_eq!(
        (users[0].username.as_str(), users[0].role.as_str()),
        ("admin", MANAGER)
    );
    assert!(
        users[0].password_hash.starts_with("$argon2id$"),
        "{}",
        users[0].password_hash
    );
    assert!(!users[0].password_hash.contains(&password));
    drop(first);

    // A second start on the same store creates nothing and keeps the key.
    let second = start_on(runtime(), &place, Some("ignored now"));
    assert_eq!(second.bootstrap, AdminBootstrap::Existing);
    let token = second.login("admin", &password);
    assert_eq!(token.status, 201);
    second
        .login("admin", "ignored now")
        .error(401, "invalid_credentials");
    assert_eq!(
        second.get("/api/v1/me", Some(token.body.trim())).status,
        200
    );
}

#[test]
fn two_starts_without_a_password_generate_different_ones() {
    let (a, b) = (Place::sqlite(), Place::sqlite());
    let first = start_on(runtime(), &a, None).bootstrap.clone();
    let second = start_on(runtime(), &b, None).bootstrap.clone();
    assert!(matches!(first, AdminBootstrap::Generated(_)));
    assert_ne!(first, second, "the generated password is not random");
}

/// Two nodes on one store: one `admin`, one signing key; a token from one
/// is accepted by the other.
fn two_nodes_share_users_and_the_key(place: &Place) {
    let a = start(place);
    let b = start_on(runtime(), place, Some("another password"));
    assert_eq!(a.bootstrap, AdminBootstrap::FromEnvironment);
    assert_eq!(b.bootstrap, AdminBootstrap::Existing);
    let token = a.login("admin", PASSWORD);
    assert_eq!(token.status, 201);
    let me = b.get("/api/v1/me", Some(token.body.trim()));
    assert_eq!(me.status, 200, "{}", me.body);
    assert_eq!(me.json()["username"], "admin");
}

#[test]
fn two_nodes_share_users_and_the_key_on_sqlite() {
    two_nodes_share_users_and_the_key(&Place::sqlite());
}

#[test]
fn two_nodes_share_users_and_the_key_on_postgres() {
    let rt = runtime();
    if let Some(place) = Place::postgres(&rt, "two_nodes_share_users_and_the_key_on_postgres") {
        drop(rt);
        two_nodes_share_users_and_the_key(&place);
    }
}

/// A GET that does not follow redirects, with the headers the Swagger UI
/// tests look at: (status, content type, Cache-Control, Location, body).
fn raw_get(server: &Running, path: &str) -> (u16, String, String, String, String) {
    let agent = ureq::AgentBuilder::new().redirects(0).build();
    let response = match agent.get(&format!("{}{path}", server.base)).call() {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("GET {path} failed: {e}"),
    };
    let header = |name: &str| response.header(name).unwrap_or_default().to_string();
    let (content_type, cache, location) = (
        header("Content-Type"),
        header("Cache-Control"),
        header("Location"),
    );
    let status = response.status();
    let body = response.into_string().expect("a text body");
    (status, content_type, cache, location, body)
}

#[test]
fn swagger_ui_is_served_at_both_paths_without_a_token() {
    let place = Place::sqlite();
    let server = start(&place);
    for path in ["/swagger-ui/", "/cloudview-api/swagger-ui.html"] {
        let (status, content_type, cache, _, body) = raw_get(&server, path);
        assert_eq!(status, 200, "{path}: {body}");
        assert_eq!(content_type, "text/html; charset=utf-8", "{path}");
        assert_eq!(cache, "no-cache", "{path}");
        assert!(
            body.contains(r#"<script src="/swagger-ui/swagger-initializer.js""#),
            "{path}: {body}"
        );
        assert!(
            body.contains(r#"<script src="/swagger-ui/swagger-ui-bundle.js""#),
            "{path}: {body}"
        );
        assert!(
            body.contains(r#"href="/swagger-ui/swagger-ui.css""#),
            "{path}: {body}"
        );
    }
    let (status, _, _, location, _) = raw_get(&server, "/swagger-ui");
    assert_eq!(status, 308);
    assert_eq!(location, "/swagger-ui/");
}

#[test]
fn swagger_ui_assets_have_their_content_types_and_unknown_ones_are_404() {
    let place = Place::sqlite();
    let server = start(&place);
    let (status, content_type, cache, _, init) =
        raw_get(&server, "/swagger-ui/swagger-initializer.js");
    assert_eq!(status, 200);
    assert_eq!(content_type, "text/javascript; charset=utf-8");
    assert_eq!(cache, "no-cache");
    assert!(init.contains(r#"url: "/api/openapi.json""#), "{init}");
    assert!(init.contains("SwaggerUIBundle("), "{init}");

    let (status, content_type, cache, _, bundle) =
        raw_get(&server, "/swagger-ui/swagger-ui-bundle.js");
    assert_eq!(status, 200);
    assert_eq!(content_type, "text/javascript; charset=utf-8");
    assert!(cache.contains("max-age="), "{cache}");
    assert!(bundle.contains("SwaggerUIBundle"));

    let (status, content_type, cache, _, css) = raw_get(&server, "/swagger-ui/swagger-ui.css");
    assert_eq!(status, 200);
    assert_eq!(content_type, "text/css; charset=utf-8");
    assert!(cache.contains("max-age="), "{cache}");
    assert!(css.contains(".swagger-ui"));

    for path in [
        "/swagger-ui/nope.js",
        "/swagger-ui/index.css",
        "/swagger-ui/swagger-ui-bundle.js.map",
    ] {
        let body = server.get(path, None).error(404, "not_found");
        assert!(
            body["message"]
                .as_str()
                .is_some_and(|m| m.contains("/swagger-ui/")),
            "{path}: {body}"
        );
    }
    // Names are looked up in the embedded list only: no file system path.
    server
        .get("/swagger-ui/..%2FCargo.toml", None)
        .error(404, "not_found");
}

#[test]
fn the_openapi_bearer_scheme_is_what_swagger_ui_authorize_needs() {
    let place = Place::sqlite();
    let server = start(&place);
    let doc = server.get("/api/openapi.json", None).json();
    let scheme = &doc["components"]["securitySchemes"]["bearer"];
    assert_eq!(scheme["type"], "http", "{scheme}");
    assert_eq!(scheme["scheme"], "bearer", "{scheme}");
    let me = &doc["paths"]["/api/v1/me"]["get"]["security"];
    assert!(
        me.as_array()
            .is_some_and(|s| s.iter().any(|r| r.get("bearer").is_some())),
        "{me}"
    );
}
