//! Exceptions on SQLite. Every change writes its history entry and audit
//! entry and refreshes PASSE in the same transaction.

use crate::access::insert_audit;
use crate::{db, SqliteStore};
use async_trait::async_trait;
use sqlx::SqliteConnection;
use vigil_model::Timestamp;
use vigil_store::access::AuditEntry;
use vigil_store::exceptions::{
    self, check_editable, history_of, ExceptionColumns, ExceptionHistoryRecord, ExceptionRecord,
    ExceptionStore, RefreshScope, RefreshSummary,
};
use vigil_store::StoreError;

/// Makes stored results within `scope` agree with the exceptions active at
/// `now`, on `conn` (inside the caller's transaction).
pub(crate) async fn refresh(
    conn: &mut SqliteConnection,
    now: Timestamp,
    scope: RefreshScope<'_>,
) -> Result<RefreshSummary, StoreError> {
    let now = now.timestamp_millis();
    let restored = sqlx::query(&exceptions::to_fail_sql(now, scope))
        .execute(&mut *conn)
        .await
        .map_err(db)?
        .rows_affected();
    let excepted = sqlx::query(&exceptions::to_passe_sql(now, scope))
        .execute(&mut *conn)
        .await
        .map_err(db)?
        .rows_affected();
    Ok(RefreshSummary { excepted, restored })
}

async fn read_one(
    conn: &mut SqliteConnection,
    id: &str,
) -> Result<Option<ExceptionRecord>, StoreError> {
    let row: Option<ExceptionColumns> = sqlx::query_as(&format!(
        "SELECT {} FROM exceptions WHERE id = ?",
        exceptions::COLUMNS
    ))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db)?;
    let Some(row) = row else { return Ok(None) };
    let table = if row.8 == "connectors" {
        "SELECT connector_id FROM exception_connectors WHERE exception_id = ? ORDER BY connector_id"
    } else {
        "SELECT resource FROM exception_resources WHERE exception_id = ? ORDER BY resource"
    };
    let items: Vec<String> = sqlx::query_scalar(table)
        .bind(id)
        .fetch_all(&mut *conn)
        .await
        .map_err(db)?;
    let controls: Vec<i64> = sqlx::query_scalar(
        "SELECT cid FROM exception_controls WHERE exception_id = ? ORDER BY cid",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?;
    exceptions::read(row, items, controls).map(Some)
}

async fn unknown(conn: &mut SqliteConnection, cids: &[u32]) -> Result<Vec<u32>, StoreError> {
    let list = serde_json::Value::from(cids.to_vec()).to_string();
    let found: Vec<i64> = sqlx::query_scalar(
        "SELECT cid FROM controls WHERE cid IN (SELECT value FROM json_each(?))",
    )
    .bind(list)
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?;
    Ok(cids
        .iter()
        .copied()
        .filter(|c| !found.contains(&i64::from(*c)))
        .collect())
}

/// Checks the record and its controls, then writes its row (insert or
/// replace), its controls and its scope.
async fn write(conn: &mut SqliteConnection, x: &ExceptionRecord) -> Result<(), StoreError> {
    x.check()?;
    if let Some(cid) = unknown(conn, &x.controls).await?.first() {
        return Err(StoreError::Invalid(format!(
            "controls: there is no control with CID {cid}"
        )));
    }
    sqlx::query(&format!(
        "INSERT OR REPLACE INTO exceptions ({}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        exceptions::COLUMNS
    ))
    .bind(&x.id)
    .bind(&x.name)
    .bind(x.reason.label())
    .bind(&x.explanation)
    .bind(x.start.timestamp_millis())
    .bind(x.end.timestamp_millis())
    .bind(&x.security_policy)
    .bind(&x.security_procedure)
    .bind(x.scope.kind())
    .bind(&x.created_by)
    .bind(x.created_at.timestamp_millis())
    .bind(&x.updated_by)
    .bind(x.updated_at.timestamp_millis())
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    clear_parts(conn, &x.id).await?;
    sqlx::query(
        "INSERT INTO exception_controls (exception_id, cid) SELECT ?, value FROM json_each(?)",
    )
    .bind(&x.id)
    .bind(serde_json::Value::from(x.controls.clone()).to_string())
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    let (table, column) = exceptions::scope_table(&x.scope);
    sqlx::query(&format!(
        "INSERT INTO {table} (exception_id, {column}) SELECT ?, value FROM json_each(?)"
    ))
    .bind(&x.id)
    .bind(serde_json::Value::from(x.scope.items().to_vec()).to_string())
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    Ok(())
}

async fn clear_parts(conn: &mut SqliteConnection, id: &str) -> Result<(), StoreError> {
    for table in [
        "exception_controls",
        "exception_resources",
        "exception_connectors",
    ] {
        sqlx::query(&format!("DELETE FROM {table} WHERE exception_id = ?"))
            .bind(id)
            .execute(&mut *conn)
            .await
            .map_err(db)?;
    }
    Ok(())
}

/// Records the history entry of `audit` on exception `id`, the audit entry
/// itself, and refreshes PASSE as of the change.
async fn record(
    conn: &mut SqliteConnection,
    id: &str,
    audit: &AuditEntry,
    changes: serde_json::Value,
) -> Result<(), StoreError> {
    let entry = history_of(audit, changes);
    sqlx::query(
        "INSERT INTO exception_history (exception_id, at, actor, action, changes) \
         VALUES (?, ?, ?, ?, ?)",
    )
    .bind(id)
    .bind(entry.at.timestamp_millis())
    .bind(&entry.user)
    .bind(&entry.action)
    .bind(entry.changes.to_string())
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    insert_audit(conn, audit).await?;
    refresh(conn, audit.at, RefreshScope::All).await?;
    Ok(())
}

#[async_trait]
impl ExceptionStore for SqliteStore {
    async fn exceptions(&self) -> Result<Vec<ExceptionRecord>, StoreError> {
        let mut conn = self.pool.acquire().await.map_err(db)?;
        let ids: Vec<String> =
            sqlx::query_scalar("SELECT id FROM exceptions ORDER BY created_at DESC, id")
                .fetch_all(&mut *conn)
                .await
                .map_err(db)?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(x) = read_one(&mut conn, &id).await? {
                out.push(x);
            }
        }
        Ok(out)
    }

    async fn exception(&self, id: &str) -> Result<Option<ExceptionRecord>, StoreError> {
        let mut conn = self.pool.acquire().await.map_err(db)?;
        read_one(&mut conn, id).await
    }

    async fn unknown_controls(&self, cids: &[u32]) -> Result<Vec<u32>, StoreError> {
        let mut conn = self.pool.acquire().await.map_err(db)?;
        unknown(&mut conn, cids).await
    }

    async fn create_exception(
        &self,
        exception: &ExceptionRecord,
        copied_from: Option<&str>,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        let _w = self.write.lock().await;
        let mut tx = self.pool.begin().await.map_err(db)?;
        if read_one(&mut tx, &exception.id).await?.is_some() {
            return Err(StoreError::Conflict(format!(
                "exception {} already exists",
                exception.id
            )));
        }
        write(&mut tx, exception).await?;
        let changes = exception.creation(copied_from);
        record(&mut tx, &exception.id, audit, changes).await?;
        tx.commit().await.map_err(db)
    }

    async fn update_exception(
        &self,
        exception: &ExceptionRecord,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        let _w = self.write.lock().await;
        let mut tx = self.pool.begin().await.map_err(db)?;
        let old = read_one(&mut tx, &exception.id).await?.ok_or_else(|| {
            StoreError::NotFound(format!("there is no exception {}", exception.id))
        })?;
        check_editable(&old, audit.at)?;
        write(&mut tx, exception).await?;
        record(&mut tx, &exception.id, audit, exception.changes_from(&old)).await?;
        tx.commit().await.map_err(db)
    }

    async fn delete_exception(&self, id: &str, audit: &AuditEntry) -> Result<(), StoreError> {
        let _w = self.write.lock().await;
        let mut tx = self.pool.begin().await.map_err(db)?;
        let done = sqlx::query("DELETE FROM exceptions WHERE id = ?")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("there is no exception {id}")));
        }
        clear_parts(&mut tx, id).await?;
        record(&mut tx, id, audit, serde_json::json!({})).await?;
        tx.commit().await.map_err(db)
    }

    async fn exception_history(&self, id: &str) -> Result<Vec<ExceptionHistoryRecord>, StoreError> {
        let rows: Vec<(i64, String, String, String)> = sqlx::query_as(
            "SELECT at, actor, action, changes FROM exception_history \
             WHERE exception_id = ? ORDER BY id",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.into_iter().map(exceptions::read_history).collect()
    }

    async fn exceptions_turning(
        &self,
        after: Timestamp,
        until: Timestamp,
    ) -> Result<bool, StoreError> {
        sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM exceptions \
             WHERE start_at BETWEEN ?1 AND ?2 OR end_at BETWEEN ?1 AND ?2)",
        )
        .bind(after.timestamp_millis())
        .bind(until.timestamp_millis())
        .fetch_one(&self.pool)
        .await
        .map_err(db)
    }

    async fn refresh_exceptions(&self, now: Timestamp) -> Result<RefreshSummary, StoreError> {
        let _w = self.write.lock().await;
        let mut tx = self.pool.begin().await.map_err(db)?;
        let summary = refresh(&mut tx, now, RefreshScope::All).await?;
        tx.commit().await.map_err(db)?;
        Ok(summary)
    }
}
