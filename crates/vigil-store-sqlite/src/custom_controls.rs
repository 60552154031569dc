//! User-defined controls, criticality overrides, custom policies and
//! on-demand re-evaluation on SQLite. Every change writes its audit entry in
//! the same transaction.

use crate::access::insert_audit;
use crate::scan::{delete_pairs, json_ids, upsert_evaluations};
use crate::{db, SqliteStore};
use async_trait::async_trait;
use sqlx::SqliteConnection;
use vigil_model::Criticality;
use vigil_store::batch::PlannedEvaluation;
use vigil_store::custom_controls::{
    self as cc, CustomControlStore, CustomPolicyRecord, Reevaluation, ReevaluationSummary,
    ResourceSelector, StoredResource, UserControlRecord, FIRST_USER_CID,
};
use vigil_store::exceptions::RefreshScope;
use vigil_store::{AuditEntry, EvaluationInput, StoreError};

/// The JSON list of `values`, for `json_each`.
fn json_list(values: &[String]) -> String {
    serde_json::Value::from(values.to_vec()).to_string()
}

/// Commits a change that touched `rows` rows, with its audit entry; when it
/// touched none, nothing is kept and the error is `missing()`.
async fn commit_change(
    mut tx: sqlx::Transaction<'_, sqlx::Sqlite>,
    rows: u64,
    missing: impl FnOnce() -> StoreError,
    audit: &AuditEntry,
) -> Result<(), StoreError> {
    if rows == 0 {
        return Err(missing());
    }
    insert_audit(&mut tx, audit).await?;
    tx.commit().await.map_err(db)
}

/// Fails with `Conflict` when a custom policy lists `cid`.
async fn refuse_if_in_policy(conn: &mut SqliteConnection, cid: u32) -> Result<(), StoreError> {
    let rows: Vec<(String, String, String, String)> = sqlx::query_as(&format!(
        "SELECT {} FROM custom_policies ORDER BY name",
        cc::CUSTOM_POLICY_COLUMNS
    ))
    .fetch_all(conn)
    .await
    .map_err(db)?;
    let policies = rows
        .into_iter()
        .map(cc::read_custom_policy)
        .collect::<Result<Vec<_>, _>>()?;
    let using = cc::policies_listing(&policies, cid);
    if !using.is_empty() {
        return Err(StoreError::Conflict(format!(
            "CID {cid} is in the custom policies {}; remove it from them first",
            using.join(", ")
        )));
    }
    Ok(())
}

#[async_trait]
impl CustomControlStore for SqliteStore {
    async fn user_controls(&self) -> Result<Vec<UserControlRecord>, StoreError> {
        let rows: Vec<cc::UserControlColumns> = sqlx::query_as(&format!(
            "SELECT {} FROM user_controls WHERE deleted_at IS NULL ORDER BY cid",
            cc::USER_CONTROL_COLUMNS
        ))
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.into_iter().map(cc::read_user_control).collect()
    }

    async fn next_user_cid(&self) -> Result<u32, StoreError> {
        let max: Option<i64> = sqlx::query_scalar("SELECT MAX(cid) FROM user_controls")
            .fetch_one(&self.pool)
            .await
            .map_err(db)?;
        Ok(max
            .map_or(Ok(FIRST_USER_CID), |m| cc::cid_of(m + 1))?
            .max(FIRST_USER_CID))
    }

    async fn create_user_control(
        &self,
        control: &UserControlRecord,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        control.validate()?;
        let _w = self.write.lock().await;
        let mut tx = self.pool.begin().await.map_err(db)?;
        let done = sqlx::query(&format!(
            "INSERT INTO user_controls ({}) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (cid) DO NOTHING",
            cc::USER_CONTROL_COLUMNS
        ))
        .bind(i64::from(control.cid))
        .bind(&control.title)
        .bind(control.criticality.as_str())
        .bind(&control.resource_type)
        .bind(control.based_on.map(i64::from))
        .bind(&control.definition)
        .bind(control.created.timestamp_millis())
        .bind(control.updated.timestamp_millis())
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        commit_change(
            tx,
            done.rows_affected(),
            || StoreError::Conflict(format!("CID {} is already taken", control.cid)),
            audit,
        )
        .await
    }

    async fn update_user_control(
        &self,
        control: &UserControlRecord,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        control.validate()?;
        let _w = self.write.lock().await;
        let mut tx = self.pool.begin().await.map_err(db)?;
        let done = sqlx::query(
            "UPDATE user_controls SET title = ?, criticality = ?, resource_type = ?, based_on = ?, \
             definition = ?, updated_at = ? WHERE cid = ? AND deleted_at IS NULL",
        )
        .bind(&control.title)
        .bind(control.criticality.as_str())
        .bind(&control.resource_type)
        .bind(control.based_on.map(i64::from))
        .bind(&control.definition)
        .bind(control.updated.timestamp_millis())
        .bind(i64::from(control.cid))
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        commit_change(
            tx,
            done.rows_affected(),
            || StoreError::NotFound(format!("no user-defined control with CID {}", control.cid)),
            audit,
        )
        .await
    }

    async fn delete_user_control(&self, cid: u32, audit: &AuditEntry) -> Result<(), StoreError> {
        let _w = self.write.lock().await;
        let mut tx = self.pool.begin().await.map_err(db)?;
        refuse_if_in_policy(&mut tx, cid).await?;
        let done = sqlx::query(
            "UPDATE user_controls SET deleted_at = ? WHERE cid = ? AND deleted_at IS NULL",
        )
        .bind(audit.at.timestamp_millis())
        .bind(i64::from(cid))
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        // The control's evaluations and override go with it (rolled back
        // when there was no such control).
        for table in ["evaluations", "criticality_overrides"] {
            sqlx::query(&format!("DELETE FROM {table} WHERE cid = ?"))
                .bind(i64::from(cid))
                .execute(&mut *tx)
                .await
                .map_err(db)?;
        }
        let missing = || StoreError::NotFound(format!("no user-defined control with CID {cid}"));
        commit_change(tx, done.rows_affected(), missing, audit).await
    }

    async fn criticality_overrides(&self) -> Result<Vec<(u32, Criticality)>, StoreError> {
        let rows: Vec<(i64, String)> =
            sqlx::query_as("SELECT cid, criticality FROM criticality_overrides ORDER BY cid")
                .fetch_all(&self.pool)
                .await
                .map_err(db)?;
        rows.into_iter()
            .map(|(cid, c)| Ok((cc::cid_of(cid)?, cc::criticality_of(&c)?)))
            .collect()
    }

    async fn set_criticality(
        &self,
        cid: u32,
        criticality: Criticality,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        let _w = self.write.lock().await;
        let mut tx = self.pool.begin().await.map_err(db)?;
        sqlx::query(
            "INSERT INTO criticality_overrides (cid, criticality) VALUES (?, ?) \
             ON CONFLICT (cid) DO UPDATE SET criticality = excluded.criticality",
        )
        .bind(i64::from(cid))
        .bind(criticality.as_str())
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        insert_audit(&mut tx, audit).await?;
        tx.commit().await.map_err(db)
    }

    async fn custom_policies(&self) -> Result<Vec<CustomPolicyRecord>, StoreError> {
        let rows: Vec<(String, String, String, String)> = sqlx::query_as(&format!(
            "SELECT {} FROM custom_policies ORDER BY name",
            cc::CUSTOM_POLICY_COLUMNS
        ))
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.into_iter().map(cc::read_custom_policy).collect()
    }

    async fn create_custom_policy(
        &self,
        policy: &CustomPolicyRecord,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        policy.validate()?;
        let _w = self.write.lock().await;
        let mut tx = self.pool.begin().await.map_err(db)?;
        let done = sqlx::query(&format!(
            "INSERT INTO custom_policies ({}) VALUES (?, ?, ?, ?) ON CONFLICT (name) DO NOTHING",
            cc::CUSTOM_POLICY_COLUMNS
        ))
        .bind(&policy.name)
        .bind(&policy.description)
        .bind(policy.cids_json())
        .bind(policy.connectors_json())
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        let taken = || StoreError::Conflict(format!("policy {} already exists", policy.name));
        commit_change(tx, done.rows_affected(), taken, audit).await
    }

    async fn update_custom_policy(
        &self,
        policy: &CustomPolicyRecord,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        policy.validate()?;
        let _w = self.write.lock().await;
        let mut tx = self.pool.begin().await.map_err(db)?;
        let done = sqlx::query(
            "UPDATE custom_policies SET description = ?, cids = ?, connectors = ? WHERE name = ?",
        )
        .bind(&policy.description)
        .bind(policy.cids_json())
        .bind(policy.connectors_json())
        .bind(&policy.name)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        commit_change(
            tx,
            done.rows_affected(),
            || StoreError::NotFound(format!("no custom policy {}", policy.name)),
            audit,
        )
        .await
    }

    async fn delete_custom_policy(&self, name: &str, audit: &AuditEntry) -> Result<(), StoreError> {
        let _w = self.write.lock().await;
        let mut tx = self.pool.begin().await.map_err(db)?;
        let done = sqlx::query("DELETE FROM custom_policies WHERE name = ?")
            .bind(name)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        commit_change(
            tx,
            done.rows_affected(),
            || StoreError::NotFound(format!("no custom policy {name}")),
            audit,
        )
        .await
    }

    async fn stored_resources(
        &self,
        selector: &ResourceSelector,
    ) -> Result<Vec<StoredResource>, StoreError> {
        let mut sql = format!(
            "SELECT {} FROM resources WHERE gone_at IS NULL",
            cc::RESOURCE_COLUMNS
        );
        let mut binds: Vec<String> = Vec::new();
        if let Some(types) = &selector.types {
            sql.push_str(" AND resource_type IN (SELECT value FROM json_each(?))");
            binds.push(json_list(types));
        }
        if let Some(id) = &selector.native_id {
            sql.push_str(" AND native_id = ?");
            binds.push(id.clone());
        }
        if let Some(sources) = &selector.sources {
            sql.push_str(" AND source IN (SELECT value FROM json_each(?))");
            binds.push(json_list(sources));
        }
        sql.push_str(" ORDER BY id");
        let mut query = sqlx::query_as::<_, cc::ResourceColumns>(&sql);
        for b in &binds {
            query = query.bind(b);
        }
        let rows = query.fetch_all(&self.pool).await.map_err(db)?;
        rows.into_iter().map(cc::read_resource).collect()
    }

    async fn reevaluate(
        &self,
        batch: &Reevaluation<'_>,
        audit: &AuditEntry,
    ) -> Result<ReevaluationSummary, StoreError> {
        batch.validate()?;
        let inputs: Vec<EvaluationInput<'_>> = batch
            .evaluations
            .iter()
            .map(|e| EvaluationInput {
                resource: 0,
                cid: e.cid,
                result: e.result,
                expected: &e.expected,
                actual: &e.actual,
                message: &e.message,
            })
            .collect();
        let planned: Vec<PlannedEvaluation<'_>> = batch
            .evaluations
            .iter()
            .zip(&inputs)
            .map(|(e, input)| PlannedEvaluation {
                resource_id: e.resource,
                cid: i64::from(e.cid),
                input,
            })
            .collect();
        let refs: Vec<&PlannedEvaluation<'_>> = planned.iter().collect();
        let _w = self.write.lock().await;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(db)?;
        let existing: Vec<(i64, i64)> = sqlx::query_as(
            "SELECT resource_id, cid FROM evaluations \
             WHERE resource_id IN (SELECT value FROM json_each(?)) \
             AND cid IN (SELECT value FROM json_each(?))",
        )
        .bind(json_ids(batch.resources.iter().copied()))
        .bind(json_ids(batch.cid_ids().into_iter()))
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
        let stale = batch.stale(&existing);
        upsert_evaluations(&mut tx, &refs, batch.at.timestamp_millis()).await?;
        delete_pairs(&mut tx, &stale).await?;
        // Keep the invariant: a stored PASSE is a FAIL under an active exception.
        crate::exceptions::refresh(&mut tx, batch.at, RefreshScope::All).await?;
        insert_audit(&mut tx, audit).await?;
        tx.commit().await.map_err(db)?;
        Ok(ReevaluationSummary {
            written: planned.len() as u64,
            removed: stale.len() as u64,
        })
    }
}
