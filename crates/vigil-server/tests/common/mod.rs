//! The test harness of the API tests: a server on port 0 against a real
//! store (SQLite in a temp dir; PostgreSQL too when `VIGIL_TEST_POSTGRES_URL`
//! is set, each test on a fresh database), called with a plain HTTP client.
#![allow(dead_code)]

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::Value;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use vigil_server::jwt::Signer;
use vigil_server::{AdminBootstrap, Config, Server};
use vigil_store::Store;
use vigil_store_sqlite::SqliteStore;

pub const PASSWORD: &str = "correct horse battery staple";

/// Where a test's store lives; removed when dropped.
pub enum Place {
    Sqlite(tempfile::TempDir),
    Postgres { admin_url: String, name: String },
}

impl Place {
    pub fn sqlite() -> Place {
        Place::Sqlite(tempfile::tempdir().expect("a temp dir"))
    }

    /// A fresh PostgreSQL database, or `None` (the test is skipped) when
    /// `VIGIL_TEST_POSTGRES_URL` is not set.
    pub fn postgres(rt: &tokio::runtime::Runtime, test: &str) -> Option<Place> {
        static N: AtomicUsize = AtomicUsize::new(0);
        let admin_url = match std::env::var("VIGIL_TEST_POSTGRES_URL") {
            Ok(url) if !url.trim().is_empty() => url,
            _ => {
                println!(
                    "VIGIL_TEST_POSTGRES_URL is not set: the PostgreSQL test `{test}` was skipped"
                );
                return None;
            }
        };
        let name = format!(
            "vigil_server_test_{}_{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        );
        rt.block_on(pg_admin(&admin_url, &format!("CREATE DATABASE {name}")));
        Some(Place::Postgres { admin_url, name })
    }

    pub fn open(&self, rt: &tokio::runtime::Runtime) -> Arc<dyn Store> {
        match self {
            Place::Sqlite(dir) => Arc::new(
                rt.block_on(SqliteStore::open(&dir.path().join("vigil.db")))
                    .expect("open the SQLite store"),
            ),
            Place::Postgres { admin_url, name } => Arc::new(
                rt.block_on(vigil_store_postgres::PgStore::connect(&with_database(
                    admin_url, name,
                )))
                .expect("connect to PostgreSQL"),
            ),
        }
    }
}

impl Drop for Place {
    fn drop(&mut self) {
        if let Place::Postgres { admin_url, name } = self {
            if let Ok(rt) = tokio::runtime::Runtime::new() {
                rt.block_on(pg_admin(
                    admin_url,
                    &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
                ));
            }
        }
    }
}

pub async fn pg_admin(url: &str, sql: &str) {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(url)
        .await
        .expect("connect with VIGIL_TEST_POSTGRES_URL");
    sqlx::query(sql).execute(&mut conn).await.expect(sql);
    let _ = conn.close().await;
}

/// `url` with its database (the path) replaced by `name`.
pub fn with_database(url: &str, name: &str) -> String {
    let rest_start = url.find("://").map_or(0, |i| i + 3);
    let rest = &url[rest_start..];
    let path_start = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let after = &rest[path_start..];
    let tail_start = after.find(['?', '#']).unwrap_or(after.len());
    format!(
        "{}{}/{}{}",
        &url[..rest_start],
        &rest[..path_start],
        name,
        &after[tail_start..]
    )
}

/// A server running on its own runtime until dropped.
pub struct Running {
    pub base: String,
    pub store: Arc<dyn Store>,
    pub bootstrap: AdminBootstrap,
    pub stop: Option<tokio::sync::oneshot::Sender<()>>,
    pub rt: tokio::runtime::Runtime,
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime")
}

pub fn start_on(
    rt: tokio::runtime::Runtime,
    place: &Place,
    admin_password: Option<&str>,
) -> Running {
    let config = Config {
        admin_password: admin_password.map(String::from),
        ..Config::default()
    };
    start_with(rt, place, config)
}

/// A server on port 0 with `config` (its `listen` is ignored).
pub fn start_with(rt: tokio::runtime::Runtime, place: &Place, config: Config) -> Running {
    let store = place.open(&rt);
    let config = Config {
        listen: "127.0.0.1:0".parse().expect("an address"),
        ..config
    };
    let server = rt
        .block_on(Server::bind(store.clone(), config))
        .expect("the server binds");
    let base = format!("http://{}", server.local_addr());
    let bootstrap = server.bootstrap.clone();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    rt.spawn(server.serve(async {
        let _ = stopped.await;
    }));
    Running {
        base,
        store,
        bootstrap,
        stop: Some(stop),
        rt,
    }
}

pub fn start(place: &Place) -> Running {
    start_on(runtime(), place, Some(PASSWORD))
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// A response as the tests look at it.
pub struct Reply {
    pub status: u16,
    pub retry_after: Option<String>,
    pub content_type: String,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    /// Checks the error shape and returns the body.
    pub fn error(&self, status: u16, code: &str) -> Value {
        assert_eq!(self.status, status, "{}", self.body);
        let body = self.json();
        assert_eq!(body["status"], status, "{body}");
        assert_eq!(body["code"], code, "{body}");
        assert!(
            body["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{body}"
        );
        body
    }
}

pub fn reply(result: Result<ureq::Response, ureq::Error>) -> Reply {
    let response = match result {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("the request failed: {e}"),
    };
    Reply {
        status: response.status(),
        retry_after: response.header("Retry-After").map(String::from),
        content_type: response.content_type().to_string(),
        body: response.into_string().expect("a text body"),
    }
}

impl Running {
    pub fn get(&self, path: &str, token: Option<&str>) -> Reply {
        let mut request = ureq::get(&format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.set("Authorization", &format!("Bearer {token}"));
        }
        reply(request.call())
    }

    pub fn login_form(&self, form: &str) -> Reply {
        reply(
            ureq::post(&format!("{}/auth", self.base))
                .set("Content-Type", "application/x-www-form-urlencoded")
                .send_string(form),
        )
    }

    pub fn login(&self, username: &str, password: &str) -> Reply {
        self.login_form(&format!(
            "username={username}&password={password}&token=true"
        ))
    }

    /// The store's signing key, as the server uses it.
    pub fn signer(&self) -> Signer {
        let hex = self
            .rt
            .block_on(self.store.setting_or_insert("jwt_signing_key", "unused"))
            .expect("the signing key");
        let key = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"))
            .collect();
        Signer::new(key)
    }
}

impl Running {
    /// A request of `method` to `path` with `token`, and a JSON body when given.
    pub fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Reply {
        let mut request = ureq::request(method, &format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.set("Authorization", &format!("Bearer {token}"));
        }
        match body {
            Some(body) => reply(
                request
                    .set("Content-Type", "application/json")
                    .send_string(&body.to_string()),
            ),
            None => reply(request.call()),
        }
    }

    /// A request with a raw body of `content_type`.
    pub fn call_raw(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        content_type: &str,
        body: &[u8],
    ) -> Reply {
        let mut request = ureq::request(method, &format!("{}{path}", self.base))
            .set("Content-Type", content_type);
        if let Some(token) = token {
            request = request.set("Authorization", &format!("Bearer {token}"));
        }
        reply(request.send_bytes(body))
    }

    pub fn post(&self, path: &str, token: &str, body: &Value) -> Reply {
        self.call("POST", path, Some(token), Some(body))
    }

    pub fn put(&self, path: &str, token: &str, body: &Value) -> Reply {
        self.call("PUT", path, Some(token), Some(body))
    }

    pub fn patch(&self, path: &str, token: &str, body: &Value) -> Reply {
        self.call("PATCH", path, Some(token), Some(body))
    }

    pub fn delete(&self, path: &str, token: &str) -> Reply {
        self.call("DELETE", path, Some(token), None)
    }

    /// A token of `admin` (the Manager).
    pub fn admin_token(&self) -> String {
        let reply = self.login("admin", PASSWORD);
        assert_eq!(reply.status, 201, "{}", reply.body);
        reply.body
    }

    /// Creates `username` with `role` and `tags` through the API (as admin)
    /// and returns a token of theirs.
    pub fn user_token(&self, username: &str, role: &str, tags: &[&str]) -> String {
        let admin = self.admin_token();
        let created = self.post(
            "/api/v1/users",
            &admin,
            &serde_json::json!({"username": username, "password": PASSWORD, "role": role, "tags": tags}),
        );
        assert_eq!(created.status, 201, "{}", created.body);
        let reply = self.login(username, PASSWORD);
        assert_eq!(reply.status, 201, "{}", reply.body);
        reply.body
    }
}

/// The claims of a JWT, unverified.
pub fn claims_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("a JWT payload");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64url")).expect("JSON")
}

pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

// --- S3 delivery (issue 7): moto, PostgreSQL required, servers that reach moto

/// The moto server's URL; fails the test when `VIGIL_TEST_MOTO_URL` is not
/// set (the test needs it). Sets the dummy operator credentials moto takes.
pub fn moto_url(test: &str) -> String {
    match std::env::var("VIGIL_TEST_MOTO_URL") {
        Ok(url) if !url.trim().is_empty() => {
            std::env::set_var("AWS_ACCESS_KEY_ID", "testing");
            std::env::set_var("AWS_SECRET_ACCESS_KEY", "testing");
            std::env::set_var("AWS_REGION", "us-east-1");
            url.trim().trim_end_matches('/').to_string()
        }
        _ => panic!(
            "VIGIL_TEST_MOTO_URL is not set: the test `{test}` needs a moto server (S3, STS), \
             e.g. VIGIL_TEST_MOTO_URL=http://127.0.0.1:55500 (scripts/test starts one)"
        ),
    }
}

/// A fresh PostgreSQL database; fails the test when
/// `VIGIL_TEST_POSTGRES_URL` is not set.
pub fn postgres_required(rt: &tokio::runtime::Runtime, test: &str) -> Place {
    Place::postgres(rt, test).unwrap_or_else(|| {
        panic!(
            "VIGIL_TEST_POSTGRES_URL is not set: the test `{test}` needs a PostgreSQL server, \
             e.g. VIGIL_TEST_POSTGRES_URL=postgres://vigiltest@127.0.0.1:55432/postgres"
        )
    })
}

/// A server whose S3 delivery reaches `moto` (when given), with the
/// delivery loop off so that the API's effects are seen alone.
pub fn start_delivery(place: &Place, moto: Option<&str>) -> Running {
    let config = Config {
        admin_password: Some(PASSWORD.into()),
        // Tests sign in often.
        login_limit: 1000,
        delivery: vigil_server::DeliverySettings {
            aws: vigil_delivery::s3::AwsSettings {
                endpoint_url: moto.map(String::from),
                profile: None,
            },
            run: false,
            ..vigil_server::DeliverySettings::default()
        },
        ..Config::default()
    };
    start_with(runtime(), place, config)
}

/// An S3 client on moto with the dummy credentials (path-style).
pub fn s3_client(moto: &str) -> aws_sdk_s3::Client {
    use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
    use aws_smithy_http_client::tls;
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https();
    let config = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .http_client(http)
        .region(Region::new("us-east-1"))
        .endpoint_url(moto)
        .credentials_provider(Credentials::new("testing", "testing", None, None, "test"))
        .force_path_style(true)
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

/// A bucket name no other test run uses.
pub fn unique_bucket(prefix: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!(
        "{prefix}-{}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst),
        uuid_suffix()
    )
}

fn uuid_suffix() -> String {
    format!(
        "{:x}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0)
    )
}
