//! Saved searches on SQLite; every change writes its audit entry in the same
//! transaction.

use crate::access::insert_audit;
use crate::{db, SqliteStore};
use async_trait::async_trait;
use vigil_store::saved_searches::{self, NewSavedSearch, SavedSearch, SavedSearchColumns};
use vigil_store::{AuditEntry, SavedSearchStore, StoreError};

impl SqliteStore {
    /// Runs `sql` (binding `shared` when given, then `id`) with `audit`;
    /// `NotFound` when no row changed.
    async fn change_saved_search(
        &self,
        sql: &str,
        shared: Option<bool>,
        id: i64,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        let _w = self.write.lock().await;
        let mut tx = self.pool.begin().await.map_err(db)?;
        let mut query = sqlx::query(sql);
        if let Some(shared) = shared {
            query = query.bind(shared);
        }
        let done = query.bind(id).execute(&mut *tx).await.map_err(db)?;
        if done.rows_affected() == 0 {
            return Err(saved_searches::missing(id));
        }
        insert_audit(&mut tx, audit).await?;
        tx.commit().await.map_err(db)
    }
}

#[async_trait]
impl SavedSearchStore for SqliteStore {
    async fn create_saved_search(
        &self,
        search: &NewSavedSearch,
        audit: &AuditEntry,
    ) -> Result<i64, StoreError> {
        search.validate()?;
        let _w = self.write.lock().await;
        let mut tx = self.pool.begin().await.map_err(db)?;
        let id: Option<i64> = sqlx::query_scalar(
            "INSERT INTO saved_searches (name, owner, query, description, shared, created_at) \
             VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (owner, name) DO NOTHING RETURNING id",
        )
        .bind(&search.name)
        .bind(&search.owner)
        .bind(&search.query)
        .bind(&search.description)
        .bind(search.shared)
        .bind(search.created.timestamp_millis())
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?;
        let id = id.ok_or_else(|| saved_searches::name_taken(search))?;
        insert_audit(&mut tx, audit).await?;
        tx.commit().await.map_err(db)?;
        Ok(id)
    }

    async fn saved_searches(&self, viewer: &str) -> Result<Vec<SavedSearch>, StoreError> {
        let rows: Vec<SavedSearchColumns> = sqlx::query_as(&format!(
            "SELECT {} FROM saved_searches WHERE owner = ? OR shared ORDER BY name, id",
            saved_searches::COLUMNS
        ))
        .bind(viewer)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.into_iter().map(saved_searches::read).collect()
    }

    async fn saved_search(&self, id: i64) -> Result<Option<SavedSearch>, StoreError> {
        let row: Option<SavedSearchColumns> = sqlx::query_as(&format!(
            "SELECT {} FROM saved_searches WHERE id = ?",
            saved_searches::COLUMNS
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        row.map(saved_searches::read).transpose()
    }

    async fn delete_saved_search(&self, id: i64, audit: &AuditEntry) -> Result<(), StoreError> {
        self.change_saved_search("DELETE FROM saved_searches WHERE id = ?", None, id, audit)
            .await
    }

    async fn share_saved_search(
        &self,
        id: i64,
        shared: bool,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        self.change_saved_search(
            "UPDATE saved_searches SET shared = ? WHERE id = ?",
            Some(shared),
            id,
            audit,
        )
        .await
    }
}
