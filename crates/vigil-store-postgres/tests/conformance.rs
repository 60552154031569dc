//! The shared store behaviour suite on PostgreSQL.
//!
//! Needs `VIGIL_TEST_POSTGRES_URL` (e.g. `postgres://postgres@127.0.0.1:55432/postgres`),
//! a role that may create databases: each test creates its own database,
//! `vigil_test_<pid>_<n>`, and drops it afterwards. Without the variable the
//! PostgreSQL tests say so and pass.

use std::sync::atomic::{AtomicUsize, Ordering};
use vigil_store::{Store, StoreError};
use vigil_store_postgres::PgStore;

fn admin_url(test: &str) -> Option<String> {
    match std::env::var("VIGIL_TEST_POSTGRES_URL") {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ => {
            println!(
                "VIGIL_TEST_POSTGRES_URL is not set: the PostgreSQL test `{test}` was skipped"
            );
            None
        }
    }
}

/// `url` with its database (the path) replaced by `name`.
fn with_database(url: &str, name: &str) -> String {
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

async fn admin(url: &str, sql: &str) {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(url)
        .await
        .expect("connect with VIGIL_TEST_POSTGRES_URL");
    sqlx::query(sql).execute(&mut conn).await.expect(sql);
    conn.close().await.unwrap();
}

/// Runs `body` of the test `test` against a fresh database, which is dropped
/// afterwards even if `body` panics; without a server (see [`admin_url`]) the
/// test is skipped.
async fn with_fresh_database<F, Fut>(test: &str, body: F)
where
    F: FnOnce(String) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    static N: AtomicUsize = AtomicUsize::new(0);
    let Some(admin_url) = admin_url(test) else {
        return;
    };
    let name = format!(
        "vigil_test_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    );
    admin(&admin_url, &format!("CREATE DATABASE {name}")).await;
    let url = with_database(&admin_url, &name);
    let outcome = tokio::spawn(body(url)).await;
    admin(
        &admin_url,
        &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
    )
    .await;
    if let Err(e) = outcome {
        if e.is_panic() {
            std::panic::resume_unwind(e.into_panic());
        }
        panic!("test task failed: {e}");
    }
}

#[tokio::test]
async fn conformance() {
    with_fresh_database("conformance", |url| async move {
        let store = PgStore::connect(&url).await.unwrap();
        assert_eq!(store.backend(), "postgres");
        vigil_store::conformance::run_all(&store).await;
        store.close().await;
    })
    .await;
}

#[tokio::test]
async fn qualys_on_a_fresh_database() {
    with_fresh_database("qualys", |url| async move {
        let store = PgStore::connect(&url).await.unwrap();
        vigil_store::conformance::qualys(&store).await;
        store.close().await;
    })
    .await;
}

#[tokio::test]
async fn reconnecting_keeps_the_data_and_a_newer_schema_is_refused() {
    with_fresh_database("reconnect", |url| async move {
        let store = PgStore::connect(&url).await.unwrap();
        vigil_store::conformance::basics(&store).await;
        vigil_store::conformance::first_scans(&store).await;
        let counts = store.counts(&vigil_query::Query::all()).await.unwrap();
        store.close().await;

        let again = PgStore::connect(&url).await.unwrap();
        let known = PgStore::known_schema_version();
        assert_eq!(again.schema_version().await.unwrap(), known);
        assert_eq!(again.counts(&vigil_query::Query::all()).await.unwrap(), counts);
        again.close().await;

        admin(
            &url,
            &format!(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES ({}, 'future', 0)",
                known + 1
            ),
        )
        .await;
        match PgStore::connect(&url).await {
            Err(StoreError::TooNew { found, known: k, .. }) => {
                assert_eq!((found, k), (known + 1, known))
            }
            Err(other) => panic!("expected TooNew, got {other}"),
            Ok(_) => panic!("a newer schema was accepted"),
        }
    })
    .await;
}

/// Needs no server: nothing listens on port 1.
#[tokio::test]
async fn connection_errors_do_not_show_the_password() {
    let err = PgStore::connect("postgres://vigil:s3cr%40t-pw@127.0.0.1:1/vigil")
        .await
        .err()
        .expect("nothing listens on port 1");
    let text = err.to_string();
    assert!(
        matches!(
            err,
            StoreError::Open {
                backend: "postgres",
                ..
            }
        ),
        "{text}"
    );
    assert!(!text.contains("s3cr"), "{text}");
    assert!(
        text.contains("postgres://vigil:***@127.0.0.1:1/vigil"),
        "{text}"
    );

    let err = PgStore::connect("not a url with password=hunter2")
        .await
        .err()
        .expect("not a URL");
    assert!(!err.to_string().contains("hunter2"), "{err}");
}

#[test]
fn database_names_replace_the_path() {
    assert_eq!(
        with_database("postgres://u@h:5/postgres?sslmode=disable", "x"),
        "postgres://u@h:5/x?sslmode=disable"
    );
    assert_eq!(with_database("postgres://u@h:5", "x"), "postgres://u@h:5/x");
}

#[tokio::test]
async fn delivery_on_a_fresh_database() {
    with_fresh_database("delivery", |url| async move {
        let store = PgStore::connect(&url).await.unwrap();
        vigil_store::conformance::qualys_posture_history(&store).await;
        vigil_store::conformance::delivery(&store).await;
        store.close().await;
    })
    .await;
}
