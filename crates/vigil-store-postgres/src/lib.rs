//! The PostgreSQL backend of the Vigil store, for teams that share one
//! database. Its schema migrations are embedded in the binary and applied at
//! connect, one transaction each, under an advisory lock so that concurrent
//! starts do not race.
//!
//! This crate and `vigil-store-sqlite` are the only ones that know sqlx;
//! everything they expose is in Vigil's own types (see [`vigil_store::Store`]).
//!
//! Bulk writes pass whole columns as arrays (`UNNEST($1::bigint[], …)`), so a
//! chunk of tens of thousands of rows is one statement with a handful of
//! parameters. Connection errors never show the password of the URL.

mod access;
mod connectors;
mod custom_controls;
mod data;
mod delivery;
mod exceptions;
mod qualys;
mod saved_searches;
mod url;

use async_trait::async_trait;
use sqlx::postgres::{PgArguments, PgConnectOptions, PgConnection, PgPool, PgPoolOptions, PgRow};
use sqlx::{ConnectOptions, Connection, Postgres, Row};
use std::collections::BTreeMap;
use std::str::FromStr;
use std::time::Duration;
use vigil_query::{Dialect, Query, SqlParam};
use vigil_store::batch::{Plan, PlannedEvaluation, PlannedResource};
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

/// The advisory lock key that serializes migrations ("vigil" in ASCII).
const MIGRATION_LOCK: i64 = 0x7669_6769_6c00;

/// Rows per statement.
const RESOURCE_CHUNK: usize = 5_000;
pub(crate) const EVALUATION_CHUNK: usize = 50_000;

/// The PostgreSQL store.
pub struct PgStore {
    pool: PgPool,
    /// The URL without its password, for messages.
    target: String,
}

/// `sql` with its `?` placeholders numbered `$1`, `$2`, … (the values never
/// contain `?`: they are bound, not written into the SQL).
pub(crate) fn numbered(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut n = 0;
    for c in sql.chars() {
        if c == '?' {
            n += 1;
            out.push_str(&format!("${n}"));
        } else {
            out.push(c);
        }
    }
    out
}

fn db(e: sqlx::Error) -> StoreError {
    StoreError::Database(e.to_string())
}

impl PgStore {
    /// Connects to the database at `url` (`postgres://user:password@host:port/db`)
    /// and brings its schema up to date. Errors name the URL without its
    /// password.
    pub async fn connect(url: &str) -> Result<PgStore, StoreError> {
        let target = url::redact(url);
        let open_err =
            |reason: String| StoreError::open("postgres", &target, url::scrub(url, &reason));
        let options = PgConnectOptions::from_str(url)
            .map_err(|e| open_err(e.to_string()))?
            .application_name("vigil")
            .disable_statement_logging();
        // One direct connection first: it fails fast and says why, where the
        // pool would retry a refused connection until its timeout.
        let probe = PgConnection::connect_with(&options)
            .await
            .map_err(|e| open_err(e.to_string()))?;
        probe.close().await.map_err(|e| open_err(e.to_string()))?;
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options)
            .await
            .map_err(|e| open_err(e.to_string()))?;
        let store = PgStore { pool, target };
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

    async fn migrate(&self) -> Result<(), StoreError> {
        // Failing here means the database cannot hold a Vigil store (e.g. the
        // role may not create tables).
        let opening = |reason: String| StoreError::open("postgres", &self.target, reason);
        let mut conn = self
            .pool
            .acquire()
            .await
            .map_err(|e| opening(e.to_string()))?;
        let found = {
            let mut tx = conn.begin().await.map_err(|e| opening(e.to_string()))?;
            lock_migrations(&mut tx)
                .await
                .map_err(|e| opening(e.to_string()))?;
            sqlx::query(migration::BOOTSTRAP)
                .execute(&mut *tx)
                .await
                .map_err(|e| opening(e.to_string()))?;
            let found = version_of(&mut tx)
                .await
                .map_err(|e| opening(e.to_string()))?;
            tx.commit().await.map_err(|e| opening(e.to_string()))?;
            found
        };
        for m in migration::pending(MIGRATIONS, &self.target, found)? {
            let mut tx = conn.begin().await.map_err(|e| m.failed(e))?;
            lock_migrations(&mut tx).await?;
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
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
            )
            .bind(i32::try_from(m.version).map_err(|e| m.failed(e))?)
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

async fn lock_migrations(conn: &mut PgConnection) -> Result<(), StoreError> {
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(MIGRATION_LOCK)
        .execute(conn)
        .await
        .map_err(db)?;
    Ok(())
}

async fn version_of(conn: &mut PgConnection) -> Result<i64, StoreError> {
    sqlx::query_scalar::<_, i64>("SELECT COALESCE(MAX(version), 0)::BIGINT FROM schema_migrations")
        .fetch_one(conn)
        .await
        .map_err(db)
}

fn bind_params<'q>(
    mut q: sqlx::query::Query<'q, Postgres, PgArguments>,
    params: &'q [SqlParam],
) -> sqlx::query::Query<'q, Postgres, PgArguments> {
    for p in params {
        q = match p {
            SqlParam::Text(s) => q.bind(s.as_str()),
            SqlParam::Int(i) => q.bind(*i),
        };
    }
    q
}

fn evaluation_row(row: &PgRow) -> Result<EvaluationRow, StoreError> {
    let cid: i32 = row.try_get(0).map_err(db)?;
    // Text, time and optional time: one read, each decoded as it expects.
    search::evaluation_row(
        i64::from(cid),
        |i| row.try_get(i).map_err(db),
        |i| row.try_get(i).map_err(db),
        |i| row.try_get(i).map_err(db),
    )
}

/// Evaluations of present resources when a count's condition does not read
/// the resource: the (few) gone resources are excluded by an anti-join.
const WITHOUT_GONE: &str = "FROM evaluations e \
     JOIN controls c ON c.cid = e.cid \
     WHERE NOT EXISTS (SELECT 1 FROM resources g \
     WHERE g.id = e.resource_id AND g.gone_at IS NOT NULL) AND ";

fn cid_i32(cid: u32) -> Result<i32, StoreError> {
    i32::try_from(cid).map_err(|_| StoreError::Invalid(format!("control id {cid} is too large")))
}

#[async_trait]
impl Store for PgStore {
    fn backend(&self) -> &'static str {
        "postgres"
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
        // One row per key, the last given winning.
        let controls: BTreeMap<u32, &ControlRecord> = controls.iter().map(|c| (c.cid, c)).collect();
        let policies: BTreeMap<&str, &PolicyRecord> =
            policies.iter().map(|p| (p.name.as_str(), p)).collect();
        let mut cids = Vec::with_capacity(controls.len());
        for cid in controls.keys() {
            cids.push(cid_i32(*cid)?);
        }
        let mut pc_names = Vec::new();
        let mut pc_cids = Vec::new();
        for p in policies.values() {
            for cid in &p.cids {
                pc_names.push(p.name.as_str());
                pc_cids.push(cid_i32(*cid)?);
            }
        }

        let mut tx = self.pool.begin().await.map_err(db)?;
        // Readers go on; a concurrent sync waits.
        sqlx::query("LOCK TABLE controls, policies, policy_controls IN EXCLUSIVE MODE")
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        sqlx::query("TRUNCATE policy_controls, policies, controls")
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        let field = |f: fn(&ControlRecord) -> &str| -> Vec<&str> {
            controls.values().map(|c| f(c)).collect()
        };
        sqlx::query(
            "INSERT INTO controls (cid, title, service, resource_type, provider, criticality, \
             execution_type, remediable) \
             SELECT * FROM UNNEST($1::int[], $2::text[], $3::text[], $4::text[], $5::text[], \
             $6::text[], $7::text[], $8::bool[])",
        )
        .bind(&cids)
        .bind(field(|c| &c.title))
        .bind(field(|c| &c.service))
        .bind(field(|c| &c.resource_type))
        .bind(field(|c| c.provider.as_str()))
        .bind(field(|c| c.criticality.as_str()))
        .bind(field(|c| c.execution_type.as_str()))
        .bind(
            controls
                .values()
                .map(|c| c.remediable)
                .collect::<Vec<bool>>(),
        )
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        sqlx::query(
            "INSERT INTO policies (name, provider, description) \
             SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[])",
        )
        .bind(policies.keys().copied().collect::<Vec<&str>>())
        .bind(
            policies
                .values()
                .map(|p| p.provider.as_str())
                .collect::<Vec<&str>>(),
        )
        .bind(
            policies
                .values()
                .map(|p| p.description.as_str())
                .collect::<Vec<&str>>(),
        )
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        sqlx::query(
            "INSERT INTO policy_controls (policy_name, cid) \
             SELECT * FROM UNNEST($1::text[], $2::int[]) ON CONFLICT DO NOTHING",
        )
        .bind(&pc_names)
        .bind(&pc_cids)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        tx.commit().await.map_err(db)
    }

    async fn apply_scan(&self, scan: ScanBatch<'_>) -> Result<ScanSummary, StoreError> {
        // Everything that can be checked is checked before anything is written.
        let plan = Plan::new(&scan)?;
        let mut tx = self.pool.begin().await.map_err(db)?;
        // Scans of one source wait for each other; other sources go on.
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
            .bind(format!("vigil-scan:{}", scan.source))
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        // Scans share the exceptions lock; a refresh of every evaluation
        // takes it alone (see `exceptions::lock`).
        exceptions::lock(&mut tx, true).await?;
        // On any error the transaction is dropped, which rolls it back.
        let summary = apply(&mut tx, &plan, &scan).await?;
        // A FAIL under an active exception is stored as PASSE (the scan
        // changed only its source's evaluations).
        exceptions::refresh(&mut tx, scan.at, RefreshScope::Source(scan.source)).await?;
        tx.commit().await.map_err(db)?;
        if summary.evaluations >= 10_000 || summary.new_resources >= 1_000 {
            // Fresh statistics for the planner now rather than whenever
            // autovacuum gets to it.
            sqlx::query("ANALYZE resources, resource_tags, evaluations")
                .execute(&self.pool)
                .await
                .map_err(db)?;
        }
        Ok(summary)
    }

    async fn search(&self, query: &Query, page: Page) -> Result<Vec<EvaluationRow>, StoreError> {
        let cond = query.to_sql(Dialect::Postgres, 1);
        let n = cond.params.len();
        let sql = format!(
            "SELECT {EVALUATION_COLUMNS} {FROM_PRESENT}({}) \
             ORDER BY {CRITICALITY_RANK}, e.cid, r.native_id COLLATE \"C\", r.id LIMIT ${} OFFSET ${}",
            cond.sql,
            n + 1,
            n + 2
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
        let cond = query.to_sql(Dialect::Postgres, 1);
        let sql = format!(
            "SELECT COUNT(DISTINCT e.cid), COUNT(*), \
             COUNT(*) FILTER (WHERE e.result IN ('PASS', 'PASSE')), \
             COUNT(*) FILTER (WHERE e.result = 'FAIL'), \
             COUNT(*) FILTER (WHERE e.result = 'SKIP'), \
             COUNT(*) FILTER (WHERE e.result = 'FAIL' AND c.criticality = 'HIGH'), \
             COUNT(*) FILTER (WHERE e.result = 'FAIL' AND c.criticality = 'MEDIUM'), \
             COUNT(*) FILTER (WHERE e.result = 'FAIL' AND c.criticality = 'LOW'), \
             COUNT(*) FILTER (WHERE e.result = 'FAIL' AND c.remediable) \
             {}({})",
            search::count_from(&cond.sql, WITHOUT_GONE),
            cond.sql
        );
        let row = bind_params(sqlx::query(&sql), &cond.params)
            .fetch_one(&self.pool)
            .await
            .map_err(db)?;
        let int = |i: usize| -> Result<u64, StoreError> { Ok(count(row.try_get(i).map_err(db)?)) };
        Ok(MonitorCounts {
            controls_evaluated: int(0)?,
            evaluations: int(1)?,
            pass: int(2)?,
            fail: int(3)?,
            skip: int(4)?,
            fail_high: int(5)?,
            fail_medium: int(6)?,
            fail_low: int(7)?,
            remediable: int(8)?,
        })
    }

    async fn present_resources(&self, source: &str) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM resources WHERE source = $1 AND gone_at IS NULL",
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
        let mut tx = self.pool.begin().await.map_err(db)?;
        sqlx::query(&format!(
            "INSERT INTO iac_scans ({}) VALUES ($1, $2, $3, $4, $5, $6)",
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
            "SELECT {} FROM iac_scans WHERE scan_id = $1",
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
        let mut tx = self.pool.begin().await.map_err(db)?;
        if !access::role_exists(&mut tx, &user.role).await? {
            return Err(StoreError::Invalid(format!(
                "there is no role {}",
                user.role
            )));
        }
        let done = sqlx::query(&format!(
            "INSERT INTO users ({}) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (username) DO NOTHING",
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
            "SELECT {} FROM users WHERE username = $1",
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
            "INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(value)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        let stored: String = sqlx::query_scalar("SELECT value FROM settings WHERE name = $1")
            .bind(name)
            .fetch_one(&mut *tx)
            .await
            .map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(stored)
    }
}

/// Records one scan inside the caller's transaction.
async fn apply(
    conn: &mut PgConnection,
    plan: &Plan<'_>,
    scan: &ScanBatch<'_>,
) -> Result<ScanSummary, StoreError> {
    let at = plan.at;

    // Resources; `xmax = 0` tells a row this statement inserted.
    let mut ids = vec![0i64; plan.resources.len()];
    let mut new_resources = 0u64;
    for chunk in plan.resources.chunks(RESOURCE_CHUNK) {
        let column = |f: for<'a> fn(&'a PlannedResource<'a>) -> &'a str| -> Vec<&str> {
            chunk.iter().map(f).collect()
        };
        let rows = sqlx::query(
            "INSERT INTO resources (uid, source, provider, account, region, service, \
             resource_type, native_id, name, tags, attributes, associations, origin, \
             first_discovered, last_updated, last_seen_run) \
             SELECT t.uid, $1, t.provider, t.account, t.region, t.service, t.resource_type, \
             t.native_id, t.name, t.tags, t.attributes, t.associations, t.origin, \
             t.first_discovered, t.last_updated, $2 \
             FROM UNNEST($3::text[], $4::text[], $5::text[], $6::text[], $7::text[], \
             $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], \
             $14::text[], $15::bigint[], $16::bigint[]) \
             AS t(uid, provider, account, region, service, resource_type, native_id, name, \
             tags, attributes, associations, origin, first_discovered, last_updated) \
             ON CONFLICT (uid) DO UPDATE SET source = EXCLUDED.source, \
             provider = EXCLUDED.provider, account = EXCLUDED.account, \
             region = EXCLUDED.region, service = EXCLUDED.service, \
             resource_type = EXCLUDED.resource_type, native_id = EXCLUDED.native_id, \
             name = EXCLUDED.name, tags = EXCLUDED.tags, attributes = EXCLUDED.attributes, \
             associations = EXCLUDED.associations, origin = EXCLUDED.origin, \
             last_updated = EXCLUDED.last_updated, last_seen_run = EXCLUDED.last_seen_run, \
             gone_at = NULL \
             RETURNING id, uid, (xmax = 0) AS inserted",
        )
        .bind(scan.source)
        .bind(scan.run)
        .bind(column(|r| &r.uid))
        .bind(column(|r| r.resource.provider.as_str()))
        .bind(column(|r| &r.resource.account))
        .bind(column(|r| &r.resource.region))
        .bind(column(|r| &r.resource.service))
        .bind(column(|r| &r.resource.resource_type))
        .bind(column(|r| &r.resource.id))
        .bind(column(|r| &r.resource.name))
        .bind(column(|r| &r.tags))
        .bind(column(|r| &r.attributes))
        .bind(column(|r| &r.associations))
        .bind(column(|r| &r.origin))
        .bind(
            chunk
                .iter()
                .map(|r| r.first_discovered)
                .collect::<Vec<i64>>(),
        )
        .bind(chunk.iter().map(|r| r.last_updated).collect::<Vec<i64>>())
        .fetch_all(&mut *conn)
        .await
        .map_err(db)?;
        for row in rows {
            let id: i64 = row.try_get(0).map_err(db)?;
            let uid: &str = row.try_get(1).map_err(db)?;
            let inserted: bool = row.try_get(2).map_err(db)?;
            if let Some(slot) = plan.slot_of(uid) {
                ids[slot] = id;
                new_resources += u64::from(inserted);
            }
        }
    }
    if ids.contains(&0) {
        return Err(StoreError::Database(
            "a resource written by this scan was not returned".into(),
        ));
    }

    // Resources of the source that this sync did not report are gone.
    let gone = sqlx::query(
        "UPDATE resources SET gone_at = $1 WHERE source = $2 AND gone_at IS NULL \
         AND id <> ALL($3::bigint[])",
    )
    .bind(at)
    .bind(scan.source)
    .bind(&ids)
    .execute(&mut *conn)
    .await
    .map_err(db)?
    .rows_affected();

    // Tags follow the stored JSON; only what changed is written.
    sqlx::query(
        "DELETE FROM resource_tags t USING resources r \
         WHERE r.id = t.resource_id AND r.source = $1 AND r.gone_at IS NULL \
         AND NOT EXISTS (SELECT 1 FROM json_each_text(r.tags::json) j \
         WHERE j.key = t.key AND j.value = t.value)",
    )
    .bind(scan.source)
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    sqlx::query(
        "INSERT INTO resource_tags (resource_id, key, value) \
         SELECT r.id, j.key, j.value FROM resources r, json_each_text(r.tags::json) j \
         WHERE r.source = $1 AND r.gone_at IS NULL AND j.value IS NOT NULL \
         ON CONFLICT (resource_id, key) DO UPDATE SET value = EXCLUDED.value \
         WHERE resource_tags.value IS DISTINCT FROM EXCLUDED.value",
    )
    .bind(scan.source)
    .execute(&mut *conn)
    .await
    .map_err(db)?;

    // Evaluations. The statement reads the prior results (its snapshot is
    // taken before its own upsert) to count reopened and fixed.
    let evaluations = plan.evaluations(&ids);
    let mut summary = plan.summary(new_resources, gone, &evaluations);
    for chunk in evaluations.chunks(EVALUATION_CHUNK) {
        let (reopened, fixed) = upsert_evaluations(conn, chunk, at).await?;
        summary.reopened += reopened;
        summary.fixed += fixed;
    }

    // Evaluations that a known resource no longer has.
    if new_resources < plan.resources.len() as u64 {
        let rids: Vec<i64> = evaluations.iter().map(|e| e.resource_id).collect();
        let cids: Vec<i64> = evaluations.iter().map(|e| e.cid).collect();
        sqlx::query(
            "DELETE FROM evaluations e WHERE e.resource_id = ANY($1::bigint[]) \
             AND NOT EXISTS (SELECT 1 FROM UNNEST($2::bigint[], $3::bigint[]) AS k(r, c) \
             WHERE k.r = e.resource_id AND k.c = e.cid)",
        )
        .bind(&ids)
        .bind(&rids)
        .bind(&cids)
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    }
    Ok(summary)
}

/// Upserts one chunk; returns how many were reopened and fixed.
pub(crate) async fn upsert_evaluations(
    conn: &mut PgConnection,
    chunk: &[PlannedEvaluation<'_>],
    at: i64,
) -> Result<(u64, u64), StoreError> {
    let row = sqlx::query(
        "WITH input AS ( \
           SELECT * FROM UNNEST($1::bigint[], $2::bigint[], $3::text[], $4::text[], \
           $5::text[], $6::text[]) AS t(resource_id, cid, result, expected, actual, message) \
         ), prior AS ( \
           SELECT i.result AS now, e.result AS was FROM input i \
           JOIN evaluations e ON e.resource_id = i.resource_id AND e.cid = i.cid \
         ), written AS ( \
           INSERT INTO evaluations AS ev (resource_id, cid, result, expected, actual, message, \
           first_evaluated, last_evaluated) \
           SELECT resource_id, cid, result, expected, actual, message, $7, $7 FROM input \
           ON CONFLICT (resource_id, cid) DO UPDATE SET result = EXCLUDED.result, \
           expected = EXCLUDED.expected, actual = EXCLUDED.actual, message = EXCLUDED.message, \
           last_evaluated = EXCLUDED.last_evaluated, \
           last_reopened = CASE WHEN EXCLUDED.result IN ('FAIL', 'PASSE') AND ev.result = 'PASS' \
           THEN EXCLUDED.last_evaluated ELSE ev.last_reopened END, \
           last_fixed = CASE WHEN EXCLUDED.result = 'PASS' AND ev.result IN ('FAIL', 'PASSE') \
           THEN EXCLUDED.last_evaluated ELSE ev.last_fixed END \
           RETURNING 1 \
         ) \
         SELECT (SELECT COUNT(*) FROM written), \
           (SELECT COUNT(*) FROM prior WHERE now IN ('FAIL', 'PASSE') AND was = 'PASS'), \
           (SELECT COUNT(*) FROM prior WHERE now = 'PASS' AND was IN ('FAIL', 'PASSE'))",
    )
    .bind(chunk.iter().map(|e| e.resource_id).collect::<Vec<i64>>())
    .bind(chunk.iter().map(|e| e.cid).collect::<Vec<i64>>())
    .bind(
        chunk
            .iter()
            .map(|e| e.input.result.as_str())
            .collect::<Vec<&str>>(),
    )
    .bind(
        chunk
            .iter()
            .map(|e| e.input.expected)
            .collect::<Vec<&str>>(),
    )
    .bind(chunk.iter().map(|e| e.input.actual).collect::<Vec<&str>>())
    .bind(chunk.iter().map(|e| e.input.message).collect::<Vec<&str>>())
    .bind(at)
    .fetch_one(&mut *conn)
    .await
    .map_err(db)?;
    let written: i64 = row.try_get(0).map_err(db)?;
    if written != chunk.len() as i64 {
        return Err(StoreError::Database(format!(
            "{written} of {} evaluations were written",
            chunk.len()
        )));
    }
    let reopened: i64 = row.try_get(1).map_err(db)?;
    let fixed: i64 = row.try_get(2).map_err(db)?;
    Ok((count(reopened), count(fixed)))
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
