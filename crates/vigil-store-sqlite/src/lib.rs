//! The SQLite backend of the Vigil store: one database file in WAL mode,
//! with its schema migrations embedded in the binary and applied at open.
//!
//! This crate and `vigil-store-postgres` are the only ones that know sqlx;
//! everything they expose is in Vigil's own types (see [`vigil_store::Store`]).
//!
//! Bulk writes are one transaction per scan, with multi-row
//! `INSERT … ON CONFLICT DO UPDATE` statements whose SQL is reused for every
//! full chunk so that the prepared statement is cached.

mod access;
mod connectors;
mod custom_controls;
mod data;
mod delivery;
mod exceptions;
mod qualys;
mod saved_searches;
mod scan;

use async_trait::async_trait;
use sqlx::sqlite::{
    SqliteArguments, SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool,
    SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{ConnectOptions, Connection, Row, Sqlite};
use std::path::Path;
use std::time::Duration;
use vigil_query::{Dialect, Query, SqlParam};
use vigil_store::batch::Plan;
use vigil_store::exceptions::RefreshScope;
use vigil_store::iac::{self, IacScanRow};
use vigil_store::migration::{self, Migration};
use vigil_store::search::{self, count, CRITICALITY_RANK, EVALUATION_COLUMNS, FROM_PRESENT};
use vigil_store::users::{self, NewUser, UserRecord};
use vigil_store::{
    ControlRecord, EvaluationRow, IacScanRecord, MonitorCounts, Page, PolicyRecord, ScanBatch,
    ScanSummary, Store, StoreError,
};

/// The migrations, in order.
const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "initial",
        sql: include_str!("../migrations/0001_initial.sql"),
    },
    Migration {
        version: 2,
        name: "iac_scans",
        sql: include_str!("../migrations/0002_iac_scans.sql"),
    },
    Migration {
        version: 3,
        name: "users",
        sql: include_str!("../migrations/0003_users.sql"),
    },
    Migration {
        version: 4,
        name: "access",
        sql: include_str!("../migrations/0004_access.sql"),
    },
    Migration {
        version: 5,
        name: "connectors",
        sql: include_str!("../migrations/0005_connectors.sql"),
    },
    Migration {
        version: 6,
        name: "exceptions",
        sql: include_str!("../migrations/0006_exceptions.sql"),
    },
    Migration {
        version: 7,
        name: "saved_searches",
        sql: include_str!("../migrations/0007_saved_searches.sql"),
    },
    Migration {
        version: 8,
        name: "custom_controls",
        sql: include_str!("../migrations/0008_custom_controls.sql"),
    },
    Migration {
        version: 9,
        name: "qualys",
        sql: include_str!("../migrations/0009_qualys.sql"),
    },
    Migration {
        version: 10,
        name: "qualys_connectors",
        sql: include_str!("../migrations/0010_qualys_connectors.sql"),
    },
    Migration {
        version: 11,
        name: "delivery",
        sql: include_str!("../migrations/0011_delivery.sql"),
    },
];

/// The SQLite store.
pub struct SqliteStore {
    pool: SqlitePool,
    /// Serializes this process's writers; other processes wait on SQLite's
    /// busy timeout.
    write: tokio::sync::Mutex<()>,
    target: String,
}

fn db(e: sqlx::Error) -> StoreError {
    StoreError::Database(e.to_string())
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path`, with its parent
    /// directories, and brings its schema up to date.
    pub async fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        let target = path.display().to_string();
        let open_err = |reason: String| StoreError::open("sqlite", &target, reason);
        if let Some(parent) = path.parent() {
            if !parent.as_os_str().is_empty() {
                std::fs::create_dir_all(parent).map_err(|e| {
                    open_err(format!("cannot create directory {}: {e}", parent.display()))
                })?;
            }
        }
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(30))
            .foreign_keys(false)
            .pragma("cache_size", "-65536")
            .pragma("temp_store", "memory")
            .pragma("mmap_size", "268435456")
            .disable_statement_logging();
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .map_err(|e| open_err(e.to_string()))?;
        Self::init(pool, target).await
    }

    /// Opens a private in-memory database (for tests).
    pub async fn open_memory() -> Result<SqliteStore, StoreError> {
        let options = SqliteConnectOptions::new()
            .in_memory(true)
            .disable_statement_logging();
        // One connection that never closes: the database lives as long as it.
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options)
            .await
            .map_err(|e| StoreError::open("sqlite", ":memory:", e))?;
        Self::init(pool, ":memory:".into()).await
    }

    async fn init(pool: SqlitePool, target: String) -> Result<SqliteStore, StoreError> {
        let store = SqliteStore {
            pool,
            write: tokio::sync::Mutex::new(()),
            target,
        };
        store.migrate().await?;
        Ok(store)
    }

    /// Closes the connections; the store must not be used afterwards.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// The latest schema version this build knows.
    pub fn known_schema_version() -> i64 {
        migration::latest_version(MIGRATIONS)
    }

    /// Runs `ANALYZE` when the number of evaluations moved by more than a
    /// quarter since the statistics were gathered (or there are none): the
    /// planner needs to know, for instance, that a result matches a third of
    /// the rows and not a handful, or it picks plans slower by an order of
    /// magnitude.
    async fn refresh_statistics(&self) -> Result<(), StoreError> {
        let mut conn = self.pool.acquire().await.map_err(db)?;
        let analyzed: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM sqlite_schema WHERE name = 'sqlite_stat1')",
        )
        .fetch_one(&mut *conn)
        .await
        .map_err(db)?;
        let known = if analyzed {
            let stat: Option<String> = sqlx::query_scalar(
                "SELECT stat FROM sqlite_stat1 WHERE tbl = 'evaluations' AND idx = 'evaluations'",
            )
            .fetch_optional(&mut *conn)
            .await
            .map_err(db)?;
            stat.and_then(|s| s.split(' ').next().and_then(|n| n.parse::<i64>().ok()))
                .unwrap_or(0)
        } else {
            0
        };
        let now: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM evaluations")
            .fetch_one(&mut *conn)
            .await
            .map_err(db)?;
        if known == 0 || (now - known).abs().saturating_mul(4) > known {
            sqlx::query("ANALYZE")
                .execute(&mut *conn)
                .await
                .map_err(db)?;
        }
        Ok(())
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        let _guard = self.write.lock().await;
        // Failing here means the file is not a usable database.
        let opening = |reason: String| StoreError::open("sqlite", &self.target, reason);
        let mut conn = self
            .pool
            .acquire()
            .await
            .map_err(|e| opening(e.to_string()))?;
        sqlx::query(migration::BOOTSTRAP)
            .execute(&mut *conn)
            .await
            .map_err(|e| opening(e.to_string()))?;
        let found = version_of(&mut conn)
            .await
            .map_err(|e| opening(e.to_string()))?;
        for m in migration::pending(MIGRATIONS, &self.target, found)? {
            let mut tx = conn
                .begin_with("BEGIN IMMEDIATE")
                .await
                .map_err(|e| m.failed(e))?;
            // Another process may have applied it while we waited.
            if version_of(&mut tx).await? >= m.version {
                continue;
            }
            for statement in migration::statements(m.sql) {
                sqlx::query(&statement)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| m.failed(e))?;
            }
            sqlx::query(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
            )
            .bind(m.version)
            .bind(m.name)
            .bind(chrono::Utc::now().timestamp_millis())
            .execute(&mut *tx)
            .await
            .map_err(|e| m.failed(e))?;
            tx.commit().await.map_err(|e| m.failed(e))?;
        }
        Ok(())
    }
}

async fn version_of(conn: &mut SqliteConnection) -> Result<i64, StoreError> {
    sqlx::query_scalar::<_, i64>("SELECT COALESCE(MAX(version), 0) FROM schema_migrations")
        .fetch_one(conn)
        .await
        .map_err(db)
}

/// `head` followed by `n` copies of `row`, comma-separated, then `tail`.
fn multi_row(head: &str, row: &str, n: usize, tail: &str) -> String {
    let mut s = String::with_capacity(head.len() + (row.len() + 1) * n + tail.len());
    s.push_str(head);
    for i in 0..n {
        if i > 0 {
            s.push(',');
        }
        s.push_str(row);
    }
    s.push_str(tail);
    s
}

/// A statement with its arguments.
type SqliteQuery<'q> = sqlx::query::Query<'q, Sqlite, SqliteArguments<'q>>;

fn bind_params<'q>(mut q: SqliteQuery<'q>, params: &'q [SqlParam]) -> SqliteQuery<'q> {
    for p in params {
        q = match p {
            SqlParam::Text(s) => q.bind(s.as_str()),
            SqlParam::Int(i) => q.bind(*i),
        };
    }
    q
}

fn evaluation_row(row: &SqliteRow) -> Result<EvaluationRow, StoreError> {
    // Text, time and optional time: one read, each decoded as it expects.
    search::evaluation_row(
        row.try_get(0).map_err(db)?,
        |i| row.try_get(i).map_err(db),
        |i| row.try_get(i).map_err(db),
        |i| row.try_get(i).map_err(db),
    )
}

/// Evaluations of present resources when a count's condition does not read
/// the resource: the (few) gone resources are excluded by id.
const WITHOUT_GONE: &str = "FROM evaluations e \
     JOIN controls c ON c.cid = e.cid \
     WHERE e.resource_id NOT IN (SELECT id FROM resources WHERE gone_at IS NOT NULL) AND ";

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    async fn schema_version(&self) -> Result<i64, StoreError> {
        let mut conn = self.pool.acquire().await.map_err(db)?;
        version_of(&mut conn).await
    }

    async fn sync_catalog(
        &self,
        controls: &[ControlRecord],
        policies: &[PolicyRecord],
    ) -> Result<(), StoreError> {
        let _guard = self.write.lock().await;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(db)?;
        for table in ["policy_controls", "policies", "controls"] {
            sqlx::query(&format!("DELETE FROM {table}"))
                .execute(&mut *tx)
                .await
                .map_err(db)?;
        }
        for c in controls {
            sqlx::query(
                "INSERT INTO controls (cid, title, service, resource_type, provider, criticality, \
                 execution_type, remediable) VALUES (?, ?, ?, ?, ?, ?, ?, ?) \
                 ON CONFLICT (cid) DO UPDATE SET title = excluded.title, service = excluded.service, \
                 resource_type = excluded.resource_type, provider = excluded.provider, \
                 criticality = excluded.criticality, execution_type = excluded.execution_type, \
                 remediable = excluded.remediable",
            )
            .bind(i64::from(c.cid))
            .bind(&c.title)
            .bind(&c.service)
            .bind(&c.resource_type)
            .bind(c.provider.as_str())
            .bind(c.criticality.as_str())
            .bind(c.execution_type.as_str())
            .bind(c.remediable)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        }
        for p in policies {
            sqlx::query(
                "INSERT INTO policies (name, provider, description) VALUES (?, ?, ?) \
                 ON CONFLICT (name) DO UPDATE SET provider = excluded.provider, \
                 description = excluded.description",
            )
            .bind(&p.name)
            .bind(p.provider.as_str())
            .bind(&p.description)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
            for cid in &p.cids {
                sqlx::query(
                    "INSERT INTO policy_controls (policy_name, cid) VALUES (?, ?) \
                     ON CONFLICT DO NOTHING",
                )
                .bind(&p.name)
                .bind(i64::from(*cid))
                .execute(&mut *tx)
                .await
                .map_err(db)?;
            }
        }
        tx.commit().await.map_err(db)
    }

    async fn apply_scan(&self, scan: ScanBatch<'_>) -> Result<ScanSummary, StoreError> {
        // Everything that can be checked is checked before anything is written.
        let plan = Plan::new(&scan)?;
        let _guard = self.write.lock().await;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(db)?;
        // On any error the transaction is dropped, which rolls it back.
        let summary = scan::apply(&mut tx, &plan, &scan).await?;
        // A FAIL under an active exception is stored as PASSE (the scan
        // changed only its source's evaluations).
        exceptions::refresh(&mut tx, scan.at, RefreshScope::Source(scan.source)).await?;
        tx.commit().await.map_err(db)?;
        if summary.evaluations >= 10_000 {
            // The scan is recorded; fresher statistics only help the planner,
            // so a failure to gather them is not the scan's failure.
            let _ = self.refresh_statistics().await;
        }
        Ok(summary)
    }

    async fn search(&self, query: &Query, page: Page) -> Result<Vec<EvaluationRow>, StoreError> {
        let cond = query.to_sql(Dialect::Sqlite, 1);
        // The page is chosen on keys alone; only its rows are read in full.
        let sql = format!(
            "SELECT {EVALUATION_COLUMNS} \
             FROM (SELECT e.resource_id AS rid, e.cid AS cid, {CRITICALITY_RANK} AS rank, \
             r.native_id AS native_id {FROM_PRESENT}({}) \
             ORDER BY rank, e.cid, r.native_id, r.id LIMIT ? OFFSET ?) k \
             JOIN evaluations e ON e.resource_id = k.rid AND e.cid = k.cid \
             JOIN resources r ON r.id = k.rid \
             JOIN controls c ON c.cid = k.cid \
             ORDER BY k.rank, k.cid, k.native_id, k.rid",
            cond.sql
        );
        let offset = i64::try_from(page.offset).unwrap_or(i64::MAX);
        let rows = bind_params(sqlx::query(&sql), &cond.params)
            .bind(i64::from(page.limit))
            .bind(offset)
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        rows.iter().map(evaluation_row).collect()
    }

    async fn counts(&self, query: &Query) -> Result<MonitorCounts, StoreError> {
        // Counting per (cid, result) lets SQLite answer from the
        // (result, cid) index alone; criticality and remediability are then
        // folded in from the (small) controls table.
        let cond = query.to_sql(Dialect::Sqlite, 1);
        let sql = format!(
            "SELECT e.cid, e.result, COUNT(*) {}({}) GROUP BY e.cid, e.result",
            search::count_from(&cond.sql, WITHOUT_GONE),
            cond.sql
        );
        let groups = bind_params(sqlx::query(&sql), &cond.params)
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        let controls = sqlx::query("SELECT cid, criticality, remediable FROM controls")
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        let mut meta = std::collections::HashMap::new();
        for row in &controls {
            let cid: i64 = row.try_get(0).map_err(db)?;
            let criticality: String = row.try_get(1).map_err(db)?;
            let remediable: i64 = row.try_get(2).map_err(db)?;
            meta.insert(cid, (criticality, remediable != 0));
        }
        let mut counts = MonitorCounts::default();
        let mut cids = std::collections::HashSet::new();
        for row in &groups {
            let cid: i64 = row.try_get(0).map_err(db)?;
            let result: String = row.try_get(1).map_err(db)?;
            let n = count(row.try_get(2).map_err(db)?);
            cids.insert(cid);
            counts.evaluations += n;
            match result.as_str() {
                "PASS" | "PASSE" => counts.pass += n,
                "SKIP" => counts.skip += n,
                _ => {
                    counts.fail += n;
                    if let Some((criticality, remediable)) = meta.get(&cid) {
                        match criticality.as_str() {
                            "HIGH" => counts.fail_high += n,
                            "MEDIUM" => counts.fail_medium += n,
                            _ => counts.fail_low += n,
                        }
                        if *remediable {
                            counts.remediable += n;
                        }
                    }
                }
            }
        }
        counts.controls_evaluated = cids.len() as u64;
        Ok(counts)
    }

    async fn present_resources(&self, source: &str) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM resources WHERE source = ? AND gone_at IS NULL",
        )
        .bind(source)
        .fetch_one(&self.pool)
        .await
        .map_err(db)?;
        Ok(count(n))
    }

    async fn save_iac_scan(
        &self,
        scan: &IacScanRecord,
        audit: Option<&vigil_store::access::AuditEntry>,
    ) -> Result<(), StoreError> {
        let row = IacScanRow::of(scan)?;
        let _w = self.write.lock().await;
        let mut tx = self.pool.begin().await.map_err(db)?;
        sqlx::query(&format!(
            "INSERT INTO iac_scans ({}) VALUES (?, ?, ?, ?, ?, ?)",
            iac::COLUMNS
        ))
        .bind(&row.scan_id)
        .bind(&row.name)
        .bind(row.created_at)
        .bind(&row.status)
        .bind(&row.summary)
        .bind(&row.document)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        if let Some(audit) = audit {
            access::insert_audit(&mut tx, audit).await?;
        }
        tx.commit().await.map_err(db)
    }

    async fn iac_scan(&self, scan_id: &str) -> Result<Option<IacScanRecord>, StoreError> {
        let row: Option<iac::IacColumns> = sqlx::query_as(&format!(
            "SELECT {} FROM iac_scans WHERE scan_id = ?",
            iac::COLUMNS
        ))
        .bind(scan_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        row.map(IacScanRow::read).transpose()
    }

    async fn iac_scans(&self) -> Result<Vec<IacScanRecord>, StoreError> {
        let rows: Vec<iac::IacColumns> = sqlx::query_as(&format!(
            "SELECT {} FROM iac_scans ORDER BY created_at DESC, scan_id",
            iac::LIST_COLUMNS
        ))
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.into_iter().map(IacScanRow::read).collect()
    }

    async fn create_user(
        &self,
        user: &NewUser,
        audit: &vigil_store::AuditEntry,
    ) -> Result<(), StoreError> {
        user.validate()?;
        let _w = self.write.lock().await;
        let mut tx = self.pool.begin().await.map_err(db)?;
        if !access::role_exists(&mut tx, &user.role).await? {
            return Err(StoreError::Invalid(format!(
                "there is no role {}",
                user.role
            )));
        }
        let done = sqlx::query(&format!(
            "INSERT INTO users ({}) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (username) DO NOTHING",
            users::COLUMNS
        ))
        .bind(&user.username)
        .bind(&user.password_hash)
        .bind(&user.role)
        .bind(user.tags_json())
        .bind(user.created_at.timestamp_millis())
        .bind(false)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::Conflict(format!(
                "user {} already exists",
                user.username
            )));
        }
        access::insert_audit(&mut tx, audit).await?;
        tx.commit().await.map_err(db)
    }

    async fn user(&self, username: &str) -> Result<Option<UserRecord>, StoreError> {
        let row: Option<users::UserColumns> = sqlx::query_as(&format!(
            "SELECT {} FROM users WHERE username = ?",
            users::COLUMNS
        ))
        .bind(username)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        row.map(users::read).transpose()
    }

    async fn users(&self) -> Result<Vec<UserRecord>, StoreError> {
        let rows: Vec<users::UserColumns> = sqlx::query_as(&format!(
            "SELECT {} FROM users ORDER BY username",
            users::COLUMNS
        ))
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.into_iter().map(users::read).collect()
    }

    async fn setting_or_insert(&self, name: &str, value: &str) -> Result<String, StoreError> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        sqlx::query(
            "INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(value)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        let stored: String = sqlx::query_scalar("SELECT value FROM settings WHERE name = ?")
            .bind(name)
            .fetch_one(&mut *tx)
            .await
            .map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(stored)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migration_files_split_into_create_statements() {
        for m in MIGRATIONS {
            let statements = migration::statements(m.sql);
            assert!(
                statements
                    .iter()
                    .all(|s| s.starts_with("CREATE ") || s.starts_with("ALTER TABLE ")),
                "{m:?}"
            );
        }
    }
}
