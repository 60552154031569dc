//! Roles, user changes and the audit log on PostgreSQL. Every change writes its
//! audit entry in the same transaction.

use crate::{db, numbered, PgStore};
use async_trait::async_trait;
use sqlx::PgConnection;
use vigil_store::access::{
    self, audit_condition, AccessStore, AuditEntry, AuditFilter, AuditRecord, RoleRecord,
    UserChange,
};
use vigil_store::{Page, StoreError};

/// Appends `entry` to the audit log on `conn` (inside the change's
/// transaction).
pub(crate) async fn insert_audit(
    conn: &mut PgConnection,
    entry: &AuditEntry,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO audit_log (at, actor, action, target, details) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(entry.at.timestamp_millis())
    .bind(&entry.actor)
    .bind(&entry.action)
    .bind(&entry.target)
    .bind(entry.details.to_string())
    .execute(conn)
    .await
    .map_err(db)?;
    Ok(())
}

/// Whether the role `name` exists (built in or custom), on `conn`.
pub(crate) async fn role_exists(conn: &mut PgConnection, name: &str) -> Result<bool, StoreError> {
    if access::builtin_role(name).is_some() {
        return Ok(true);
    }
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM roles WHERE name = $1")
        .bind(name)
        .fetch_one(conn)
        .await
        .map_err(db)?;
    Ok(n > 0)
}

#[async_trait]
impl AccessStore for PgStore {
    async fn custom_roles(&self) -> Result<Vec<RoleRecord>, StoreError> {
        let rows: Vec<(String, String, String)> = sqlx::query_as(&format!(
            "SELECT {} FROM roles ORDER BY name",
            access::ROLE_COLUMNS
        ))
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.into_iter().map(access::read_role).collect()
    }

    async fn create_role(&self, role: &RoleRecord, audit: &AuditEntry) -> Result<(), StoreError> {
        role.validate()?;
        let mut tx = self.pool.begin().await.map_err(db)?;
        let done = sqlx::query(
            "INSERT INTO roles (name, description, permissions) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING",
        )
        .bind(&role.name)
        .bind(&role.description)
        .bind(role.permissions_json())
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::Conflict(format!(
                "role {} already exists",
                role.name
            )));
        }
        insert_audit(&mut tx, audit).await?;
        tx.commit().await.map_err(db)
    }

    async fn update_role(&self, role: &RoleRecord, audit: &AuditEntry) -> Result<(), StoreError> {
        role.validate()?;
        let mut tx = self.pool.begin().await.map_err(db)?;
        let done =
            sqlx::query("UPDATE roles SET description = $1, permissions = $2 WHERE name = $3")
                .bind(&role.description)
                .bind(role.permissions_json())
                .bind(&role.name)
                .execute(&mut *tx)
                .await
                .map_err(db)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!(
                "no custom role {}",
                role.name
            )));
        }
        insert_audit(&mut tx, audit).await?;
        tx.commit().await.map_err(db)
    }

    async fn delete_role(&self, name: &str, audit: &AuditEntry) -> Result<(), StoreError> {
        if access::builtin_role(name).is_some() {
            return Err(StoreError::Conflict(format!(
                "`{name}` is a built-in role; it cannot be deleted"
            )));
        }
        let mut tx = self.pool.begin().await.map_err(db)?;
        let users: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE role = $1")
            .bind(name)
            .fetch_one(&mut *tx)
            .await
            .map_err(db)?;
        if users > 0 {
            return Err(StoreError::Conflict(format!(
                "role {name} is assigned to {users} user(s); give them another role first"
            )));
        }
        let done = sqlx::query("DELETE FROM roles WHERE name = $1")
            .bind(name)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("no custom role {name}")));
        }
        insert_audit(&mut tx, audit).await?;
        tx.commit().await.map_err(db)
    }

    async fn update_user(
        &self,
        username: &str,
        change: &UserChange,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        if let Some(role) = &change.role {
            if !role_exists(&mut tx, role).await? {
                return Err(StoreError::Invalid(format!("there is no role {role}")));
            }
        }
        let tags = change
            .tags
            .as_ref()
            .map(|t| serde_json::Value::from(t.clone()).to_string());
        let done = sqlx::query(
            "UPDATE users SET password_hash = COALESCE($1, password_hash), role = COALESCE($2, role), \
             tags = COALESCE($3, tags), disabled = COALESCE($4, disabled) WHERE username = $5",
        )
        .bind(&change.password_hash)
        .bind(&change.role)
        .bind(tags)
        .bind(change.disabled)
        .bind(username)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("no user {username}")));
        }
        insert_audit(&mut tx, audit).await?;
        tx.commit().await.map_err(db)
    }

    async fn delete_user(&self, username: &str, audit: &AuditEntry) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        let done = sqlx::query("DELETE FROM users WHERE username = $1")
            .bind(username)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("no user {username}")));
        }
        insert_audit(&mut tx, audit).await?;
        tx.commit().await.map_err(db)
    }

    async fn audit_log(
        &self,
        filter: &AuditFilter,
        page: Page,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        let (condition, values, before) = audit_condition(filter);
        let condition = numbered(&condition);
        let n = values.len();
        let sql = format!(
            "SELECT {} FROM audit_log WHERE {condition} AND id < ${} ORDER BY id DESC LIMIT ${}",
            access::AUDIT_COLUMNS,
            n + 1,
            n + 2
        );
        let mut query = sqlx::query_as::<_, (i64, i64, String, String, String, String)>(&sql);
        for v in &values {
            query = query.bind(v);
        }
        let rows = query
            .bind(before.unwrap_or(i64::MAX))
            .bind(i64::from(page.limit))
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        rows.into_iter().map(access::read_audit).collect()
    }
}
