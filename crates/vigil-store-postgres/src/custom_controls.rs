//! User-defined controls, criticality overrides, custom policies and
//! on-demand re-evaluation on PostgreSQL. Every change writes its audit entry in
//! the same transaction.

use crate::access::insert_audit;
use crate::{db, upsert_evaluations, PgStore, EVALUATION_CHUNK};
use async_trait::async_trait;
use sqlx::PgConnection;
use vigil_model::Criticality;
use vigil_store::batch::PlannedEvaluation;
use vigil_store::custom_controls::{
    self as cc, CustomControlStore, CustomPolicyRecord, Reevaluation, ReevaluationSummary,
    ResourceSelector, StoredResource, UserControlRecord, FIRST_USER_CID,
};
use vigil_store::exceptions::RefreshScope;
use vigil_store::{AuditEntry, EvaluationInput, StoreError};

/// Commits a change that touched `rows` rows, with its audit entry; when it
/// touched none, nothing is kept and the error is `missing()`.
async fn commit_change(
    mut tx: sqlx::Transaction<'_, sqlx::Postgres>,
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
async fn refuse_if_in_policy(conn: &mut PgConnection, cid: u32) -> Result<(), StoreError> {
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
impl CustomControlStore for PgStore {
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
        let mut tx = self.pool.begin().await.map_err(db)?;
        let done = sqlx::query(&format!(
            "INSERT INTO user_controls ({}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (cid) DO NOTHING",
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
        let mut tx = self.pool.begin().await.map_err(db)?;
        let done = sqlx::query(
            "UPDATE user_controls SET title = $1, criticality = $2, resource_type = $3, based_on = $4, \
             definition = $5, updated_at = $6 WHERE cid = $7 AND deleted_at IS NULL",
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
        let mut tx = self.pool.begin().await.map_err(db)?;
        refuse_if_in_policy(&mut tx, cid).await?;
        let done = sqlx::query(
            "UPDATE user_controls SET deleted_at = $1 WHERE cid = $2 AND deleted_at IS NULL",
        )
        .bind(audit.at.timestamp_millis())
        .bind(i64::from(cid))
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        // The control's evaluations and override go with it (rolled back
        // when there was no such control).
        for table in ["evaluations", "criticality_overrides"] {
            sqlx::query(&format!("DELETE FROM {table} WHERE cid = $1"))
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
        let mut tx = self.pool.begin().await.map_err(db)?;
        sqlx::query(
            "INSERT INTO criticality_overrides (cid, criticality) VALUES ($1, $2) \
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
        let mut tx = self.pool.begin().await.map_err(db)?;
        let done = sqlx::query(&format!(
            "INSERT INTO custom_policies ({}) VALUES ($1, $2, $3, $4) ON CONFLICT (name) DO NOTHING",
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
        let mut tx = self.pool.begin().await.map_err(db)?;
        let done = sqlx::query(
            "UPDATE custom_policies SET description = $1, cids = $2, connectors = $3 WHERE name = $4",
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
        let mut tx = self.pool.begin().await.map_err(db)?;
        let done = sqlx::query("DELETE FROM custom_policies WHERE name = $1")
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
        // Absent filters bind NULL and match everything.
        sql.push_str(
            " AND ($1::text[] IS NULL OR resource_type = ANY($1)) \
             AND ($2::text IS NULL OR native_id = $2) \
             AND ($3::text[] IS NULL OR source = ANY($3)) ORDER BY id",
        );
        let rows = sqlx::query_as::<_, cc::ResourceColumns>(&sql)
            .bind(selector.types.as_deref())
            .bind(selector.native_id.as_deref())
            .bind(selector.sources.as_deref())
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
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
        let mut tx = self.pool.begin().await.map_err(db)?;
        // Exclusive: the refresh below reads every source's evaluations.
        crate::exceptions::lock(&mut tx, false).await?;
        let existing: Vec<(i64, i64)> = sqlx::query_as(
            "SELECT resource_id, cid::bigint FROM evaluations \
             WHERE resource_id = ANY($1::bigint[]) AND cid = ANY($2::bigint[])",
        )
        .bind(batch.resources)
        .bind(batch.cid_ids())
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
        let stale = batch.stale(&existing);
        for chunk in planned.chunks(EVALUATION_CHUNK) {
            upsert_evaluations(&mut tx, chunk, batch.at.timestamp_millis()).await?;
        }
        let (rids, cids): (Vec<i64>, Vec<i64>) = stale.iter().copied().unzip();
        sqlx::query(
            "DELETE FROM evaluations e USING UNNEST($1::bigint[], $2::bigint[]) AS k(r, c) \
             WHERE e.resource_id = k.r AND e.cid = k.c",
        )
        .bind(&rids)
        .bind(&cids)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
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
