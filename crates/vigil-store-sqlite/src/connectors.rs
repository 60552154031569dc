//! Connectors and runs on SQLite. Every writer holds this process's write
//! lock and an `IMMEDIATE` transaction (SQLite's write lock, which other
//! processes on the file wait for), so enqueueing and claiming are
//! serialized: each due run is created once and each run claimed once.

use crate::access::insert_audit;
use crate::{db, SqliteStore};
use async_trait::async_trait;
use sqlx::pool::PoolConnection;
use sqlx::{Connection, Sqlite, SqliteConnection};
use vigil_model::Timestamp;
use vigil_store::access::AuditEntry;
use vigil_store::connectors::{
    self as c, ConnectorRecord, ConnectorRow, ConnectorStore, RunOutcome, RunRecord, RunRow,
    RunTrigger, CONNECTOR_COLUMNS, RUNNABLE, RUN_COLUMNS,
};
use vigil_store::{Page, StoreError};

/// Whether `e` is the violation of a unique constraint.
fn unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

impl SqliteStore {
    /// A connection for a writer (with the write lock held by the caller).
    async fn writer(&self) -> Result<PoolConnection<Sqlite>, StoreError> {
        self.pool.acquire().await.map_err(db)
    }
}

/// `query` with `connector` bound in [`CONNECTOR_COLUMNS`] order.
fn bind_connector<'q>(
    query: sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments<'q>>,
    connector: &ConnectorRecord,
) -> sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments<'q>> {
    let row = c::connector_row(connector);
    query
        .bind(row.0)
        .bind(row.1)
        .bind(row.2)
        .bind(row.3)
        .bind(row.4)
        .bind(row.5)
        .bind(row.6)
        .bind(row.7)
        .bind(row.8)
        .bind(row.9)
        .bind(row.10)
        .bind(row.11)
        .bind(row.12)
        .bind(row.13)
        .bind(row.14)
}

/// The error of a connector name another connector has.
fn name_taken(connector: &ConnectorRecord) -> StoreError {
    StoreError::Conflict(format!(
        "a connector named `{}` already exists; choose another name",
        connector.name
    ))
}

/// Inserts a queued run of `connector_id` on `conn`.
async fn insert_run(
    conn: &mut SqliteConnection,
    connector_id: &str,
    trigger: RunTrigger,
    now: Timestamp,
) -> Result<RunRecord, StoreError> {
    let sql = format!(
        "INSERT INTO runs ({RUN_COLUMNS}) VALUES (?, ?, ?, 'queued', ?, NULL, NULL, NULL, NULL, '[]', NULL, NULL, 0) \
         RETURNING {RUN_COLUMNS}"
    );
    let row: RunRow = sqlx::query_as(&sql)
        .bind(c::new_run_id())
        .bind(connector_id)
        .bind(trigger.as_str())
        .bind(now.timestamp_millis())
        .fetch_one(conn)
        .await
        .map_err(|e| {
            if unique_violation(&e) {
                c::already_active(connector_id)
            } else {
                db(e)
            }
        })?;
    c::read_run(row)
}

#[async_trait]
impl ConnectorStore for SqliteStore {
    async fn create_connector(
        &self,
        connector: &ConnectorRecord,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        connector.validate()?;
        let marks = vec!["?"; 15].join(", ");
        let sql = format!(
            "INSERT INTO connectors ({CONNECTOR_COLUMNS}) VALUES ({marks}) ON CONFLICT DO NOTHING"
        );
        let _w = self.write.lock().await;
        let mut tx = self.pool.begin().await.map_err(db)?;
        let done = bind_connector(sqlx::query(&sql), connector)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        if done.rows_affected() == 0 {
            return Err(name_taken(connector));
        }
        insert_audit(&mut tx, audit).await?;
        tx.commit().await.map_err(db)
    }

    async fn update_connector(
        &self,
        connector: &ConnectorRecord,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        connector.validate()?;
        let sql = format!(
            "UPDATE connectors SET {} WHERE id = ?",
            c::connector_assignments()
        );
        let _w = self.write.lock().await;
        let mut tx = self.pool.begin().await.map_err(db)?;
        let done = bind_connector(sqlx::query(&sql), connector)
            .bind(&connector.id)
            .execute(&mut *tx)
            .await
            .map_err(|e| {
                if unique_violation(&e) {
                    name_taken(connector)
                } else {
                    db(e)
                }
            })?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!(
                "no connector {}",
                connector.id
            )));
        }
        insert_audit(&mut tx, audit).await?;
        tx.commit().await.map_err(db)
    }

    async fn delete_connector(&self, id: &str, audit: &AuditEntry) -> Result<(), StoreError> {
        let _w = self.write.lock().await;
        let mut tx = self.pool.begin().await.map_err(db)?;
        let done = sqlx::query("DELETE FROM connectors WHERE id = ?")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("no connector {id}")));
        }
        sqlx::query("DELETE FROM runs WHERE connector_id = ?")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        insert_audit(&mut tx, audit).await?;
        tx.commit().await.map_err(db)
    }

    async fn connectors(&self) -> Result<Vec<ConnectorRecord>, StoreError> {
        let rows: Vec<ConnectorRow> = sqlx::query_as(&format!(
            "SELECT {CONNECTOR_COLUMNS} FROM connectors ORDER BY name"
        ))
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.into_iter().map(c::read_connector).collect()
    }

    async fn connector(&self, id: &str) -> Result<Option<ConnectorRecord>, StoreError> {
        let row: Option<ConnectorRow> = sqlx::query_as(&format!(
            "SELECT {CONNECTOR_COLUMNS} FROM connectors WHERE id = ?"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        row.map(c::read_connector).transpose()
    }

    async fn enqueue_run(
        &self,
        connector_id: &str,
        now: Timestamp,
        audit: &AuditEntry,
    ) -> Result<RunRecord, StoreError> {
        let _w = self.write.lock().await;
        let mut conn = self.writer().await?;
        let mut tx = conn.begin_with("BEGIN IMMEDIATE").await.map_err(db)?;
        let exists: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM connectors WHERE id = ?")
            .bind(connector_id)
            .fetch_one(&mut *tx)
            .await
            .map_err(db)?;
        if exists == 0 {
            return Err(StoreError::NotFound(format!("no connector {connector_id}")));
        }
        let run = insert_run(&mut tx, connector_id, RunTrigger::Manual, now).await?;
        insert_audit(&mut tx, audit).await?;
        tx.commit().await.map_err(db)?;
        Ok(run)
    }

    async fn enqueue_due_runs(&self, now: Timestamp) -> Result<Vec<RunRecord>, StoreError> {
        let _w = self.write.lock().await;
        let mut conn = self.writer().await?;
        let mut tx = conn.begin_with("BEGIN IMMEDIATE").await.map_err(db)?;
        let candidates: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM connectors WHERE enabled AND polling_minutes IS NOT NULL ORDER BY id",
        )
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
        if candidates.is_empty() {
            return Ok(Vec::new());
        }
        let sql = c::due_connectors_sql(candidates.len());
        let mut query = sqlx::query_scalar::<_, String>(&sql);
        for id in &candidates {
            query = query.bind(id);
        }
        let due = query
            .bind(now.timestamp_millis())
            .fetch_all(&mut *tx)
            .await
            .map_err(db)?;
        let mut runs = Vec::with_capacity(due.len());
        for id in due {
            runs.push(insert_run(&mut tx, &id, RunTrigger::Scheduled, now).await?);
        }
        tx.commit().await.map_err(db)?;
        Ok(runs)
    }

    async fn claim_run(
        &self,
        node: &str,
        now: Timestamp,
        lease_until: Timestamp,
    ) -> Result<Option<RunRecord>, StoreError> {
        let _w = self.write.lock().await;
        let mut conn = self.writer().await?;
        let mut tx = conn.begin_with("BEGIN IMMEDIATE").await.map_err(db)?;
        let sql = format!(
            "UPDATE runs SET state = 'running', node = ?, lease_until = ?, started_at = ?, \
             attempts = attempts + 1 \
             WHERE id = (SELECT id FROM runs WHERE {RUNNABLE} ORDER BY queued_at, id LIMIT 1) \
             RETURNING {RUN_COLUMNS}"
        );
        let now_ms = now.timestamp_millis();
        let row: Option<RunRow> = sqlx::query_as(&sql)
            .bind(node)
            .bind(lease_until.timestamp_millis())
            .bind(now_ms)
            .bind(now_ms)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?;
        tx.commit().await.map_err(db)?;
        row.map(c::read_run).transpose()
    }

    async fn renew_lease(
        &self,
        run_id: &str,
        node: &str,
        lease_until: Timestamp,
    ) -> Result<(), StoreError> {
        let _w = self.write.lock().await;
        let done = sqlx::query(
            "UPDATE runs SET lease_until = ? WHERE id = ? AND node = ? AND state = 'running'",
        )
        .bind(lease_until.timestamp_millis())
        .bind(run_id)
        .bind(node)
        .execute(&self.pool)
        .await
        .map_err(db)?;
        if done.rows_affected() == 0 {
            return Err(c::lost_lease(run_id, node));
        }
        Ok(())
    }

    async fn finish_run(
        &self,
        run_id: &str,
        node: &str,
        now: Timestamp,
        outcome: &RunOutcome,
    ) -> Result<RunRecord, StoreError> {
        let (state, resources, evaluations, errors) = outcome.parts();
        let _w = self.write.lock().await;
        let row: Option<RunRow> = sqlx::query_as(&format!(
            "UPDATE runs SET state = ?, finished_at = ?, resources = ?, evaluations = ?, errors = ?, \
             lease_until = NULL WHERE id = ? AND node = ? AND state = 'running' RETURNING {RUN_COLUMNS}"
        ))
        .bind(state.as_str())
        .bind(now.timestamp_millis())
        .bind(resources.map(|n| i64::try_from(n).unwrap_or(i64::MAX)))
        .bind(evaluations.map(|n| i64::try_from(n).unwrap_or(i64::MAX)))
        .bind(c::errors_json(errors))
        .bind(run_id)
        .bind(node)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        match row {
            Some(row) => c::read_run(row),
            None => Err(c::lost_lease(run_id, node)),
        }
    }

    async fn runs(&self, connector_id: &str, page: Page) -> Result<Vec<RunRecord>, StoreError> {
        let rows: Vec<RunRow> = sqlx::query_as(&format!(
            "SELECT {RUN_COLUMNS} FROM runs WHERE connector_id = ? \
             ORDER BY queued_at DESC, id DESC LIMIT ? OFFSET ?"
        ))
        .bind(connector_id)
        .bind(i64::from(page.limit))
        .bind(i64::try_from(page.offset).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.into_iter().map(c::read_run).collect()
    }

    async fn run(&self, run_id: &str) -> Result<Option<RunRecord>, StoreError> {
        let row: Option<RunRow> =
            sqlx::query_as(&format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = ?"))
                .bind(run_id)
                .fetch_optional(&self.pool)
                .await
                .map_err(db)?;
        row.map(c::read_run).transpose()
    }
}
