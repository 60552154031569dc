//! The shared store behaviour suite on a SQLite file, plus what only a file
//! database can show: reopening keeps data, a newer schema is refused.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use vigil_query::Query;
use vigil_store::{Store, StoreError};
use vigil_store_sqlite::SqliteStore;

/// A fresh path under the system temp directory, removed (with its WAL files)
/// when dropped.
struct TempDb {
    dir: PathBuf,
}

impl TempDb {
    fn new(label: &str) -> TempDb {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "vigil-sqlite-test-{}-{}-{label}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        TempDb { dir }
    }

    fn path(&self) -> PathBuf {
        // A directory that does not exist yet: open must create it.
        self.dir.join("nested").join("vigil.db")
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[tokio::test]
async fn conformance_on_a_file() {
    let db = TempDb::new("conformance");
    let store = SqliteStore::open(&db.path()).await.unwrap();
    vigil_store::conformance::run_all(&store).await;
    store.close().await;
}

#[tokio::test]
async fn the_store_can_move_between_tasks() {
    let db = TempDb::new("send");
    let path = db.path();
    let store = tokio::spawn(async move { SqliteStore::open(&path).await.unwrap() })
        .await
        .unwrap();
    let store = std::sync::Arc::new(store);
    let moved = store.clone();
    tokio::spawn(async move { moved.schema_version().await.unwrap() })
        .await
        .unwrap();
    store.close().await;
}

#[tokio::test]
async fn qualys_on_a_fresh_store() {
    let store = SqliteStore::open_memory().await.unwrap();
    vigil_store::conformance::qualys(&store).await;
}

#[tokio::test]
async fn conformance_in_memory() {
    let store = SqliteStore::open_memory().await.unwrap();
    vigil_store::conformance::run_all(&store).await;
}

#[tokio::test]
async fn reopening_keeps_the_data() {
    let db = TempDb::new("reopen");
    let store = SqliteStore::open(&db.path()).await.unwrap();
    vigil_store::conformance::basics(&store).await;
    vigil_store::conformance::first_scans(&store).await;
    let counts = store.counts(&Query::all()).await.unwrap();
    let version = store.schema_version().await.unwrap();
    store.close().await;
    drop(store);

    let again = SqliteStore::open(&db.path()).await.unwrap();
    assert_eq!(again.schema_version().await.unwrap(), version);
    assert_eq!(again.counts(&Query::all()).await.unwrap(), counts);
    assert_eq!(counts.evaluations, 8);
    again.close().await;
}

#[tokio::test]
async fn a_newer_schema_is_refused() {
    let db = TempDb::new("too-new");
    let store = SqliteStore::open(&db.path()).await.unwrap();
    let known = SqliteStore::known_schema_version();
    assert_eq!(store.schema_version().await.unwrap(), known);
    store.close().await;
    drop(store);

    // Another (newer) vigil migrated the file further.
    {
        use sqlx::Connection;
        let mut conn =
            sqlx::SqliteConnection::connect(&format!("sqlite://{}", db.path().display()))
                .await
                .unwrap();
        sqlx::query(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, 'future', 0)",
        )
        .bind(known + 1)
        .execute(&mut conn)
        .await
        .unwrap();
        conn.close().await.unwrap();
    }

    match SqliteStore::open(&db.path()).await {
        Err(StoreError::TooNew {
            found,
            known: k,
            target,
        }) => {
            assert_eq!((found, k), (known + 1, known));
            assert!(target.ends_with("vigil.db"), "{target}");
        }
        Err(other) => panic!("expected TooNew, got {other}"),
        Ok(_) => panic!("a newer schema was accepted"),
    }
}

/// Opening `path` fails with an open error of the SQLite store.
async fn assert_open_error(path: &Path, why: &str) {
    let err = SqliteStore::open(path).await.err().expect(why);
    assert!(
        matches!(
            err,
            StoreError::Open {
                backend: "sqlite",
                ..
            }
        ),
        "{err}"
    );
}

#[tokio::test]
async fn an_unopenable_path_is_an_open_error() {
    let db = TempDb::new("not-a-dir");
    std::fs::create_dir_all(&db.dir).unwrap();
    // A file where a directory should be.
    let blocker = db.dir.join("file");
    std::fs::write(&blocker, b"x").unwrap();
    assert_open_error(&blocker.join("vigil.db"), "opening under a file fails").await;
}

#[tokio::test]
async fn a_file_that_is_not_a_database_is_an_open_error() {
    let db = TempDb::new("garbage");
    let path = db.path();
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, vec![b'x'; 8192]).unwrap();
    assert_open_error(&path, "a file of garbage is not a database").await;
}

#[tokio::test]
async fn delivery_on_a_fresh_store() {
    let store = SqliteStore::open_memory().await.unwrap();
    vigil_store::conformance::qualys_posture_history(&store).await;
    vigil_store::conformance::delivery(&store).await;
}
