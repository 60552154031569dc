//! S3 delivery on SQLite: integrations, the CIPS configuration, the planner's
//! reads and the durable outbox (the SQL of `vigil_store::delivery`). Every
//! writer holds this process's write lock and an `IMMEDIATE` transaction
//! (SQLite's write lock, which other processes on the file wait for), so a
//! plan's watermark check and its writes, and taking the lease, are atomic.

use crate::access::insert_audit;
use crate::qualys::{bind, Read};
use crate::{db, evaluation_row, SqliteStore};
use async_trait::async_trait;
use sqlx::sqlite::SqliteConnection;
use sqlx::Row;
use std::collections::{HashMap, HashSet};
use vigil_model::qualys::QualysKbEntry;
use vigil_model::Timestamp;
use vigil_store::access::AuditEntry;
use vigil_store::delivery::*;
use vigil_store::{EvaluationRow, StoreError};

/// How evaluations_changed names the evaluation time in its condition: the
/// unary plus keeps SQLite from reading the window by the time index and
/// sorting all of it for every page (see `evaluations_changed_sql`).
const LAST_EVALUATED: &str = "+e.last_evaluated";

/// Whether `e` is the violation of a unique constraint.
fn unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

fn ms(t: Timestamp) -> i64 {
    t.timestamp_millis()
}

async fn fetch_integration(
    conn: &mut SqliteConnection,
    kind: IntegrationKind,
    id: i64,
) -> Result<Option<Integration>, StoreError> {
    let row = sqlx::query(&integration_sql())
        .bind(kind.as_str())
        .bind(id)
        .fetch_optional(conn)
        .await
        .map_err(db)?;
    row.map(|r| read_integration(&Read(&r))).transpose()
}

async fn read_cips(conn: &mut SqliteConnection) -> Result<CipsConfig, StoreError> {
    let filter: Option<(i64, bool, bool, bool, bool, i64)> = sqlx::query_as(CIPS_CONFIG_SQL)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db)?;
    let policies: Vec<i64> = sqlx::query_scalar(CIPS_POLICIES_SQL)
        .fetch_all(&mut *conn)
        .await
        .map_err(db)?;
    cips_from(filter, policies)
}

/// The CIPS change's common end: the configuration touched, every PC
/// integration planned again, the audit entry; returns the configuration.
async fn cips_changed(
    conn: &mut SqliteConnection,
    now: Timestamp,
    audit: &AuditEntry,
) -> Result<CipsConfig, StoreError> {
    sqlx::query(CIPS_TOUCH_SQL)
        .bind(ms(now))
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    sqlx::query(RESET_PC_WATERMARKS_SQL)
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    insert_audit(conn, audit).await?;
    read_cips(conn).await
}

impl SqliteStore {
    async fn changed_hosts(
        &self,
        table: Changed,
        since: Timestamp,
        after: Option<&HostKey>,
        limit: u32,
    ) -> Result<Vec<HostKey>, StoreError> {
        if after.is_none() {
            let any: bool = sqlx::query_scalar(changed_probe_sql(table))
                .bind(ms(since))
                .fetch_one(&self.pool)
                .await
                .map_err(db)?;
            if !any {
                return Ok(Vec::new());
            }
        }
        let sql = changed_hosts_sql(table, after.is_some());
        let mut q = sqlx::query_as::<_, (String, i64)>(&sql).bind(ms(since));
        if let Some((connector, host)) = after {
            q = q.bind(connector.as_str()).bind(*host);
        }
        q.bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(db)
    }

    /// The stored hosts of `ids` of `connector`, into `hosts`.
    async fn read_hosts(
        conn: &mut SqliteConnection,
        connector: &str,
        ids: &[i64],
        hosts: &mut HashMap<HostKey, (String, vigil_model::qualys::QualysHost)>,
    ) -> Result<(), StoreError> {
        let sql = hosts_sql(ids.len());
        let mut q = sqlx::query(&sql).bind(connector);
        for id in ids {
            q = q.bind(*id);
        }
        for r in q.fetch_all(&mut *conn).await.map_err(db)? {
            let (account, host) = read_host(&Read(&r))?;
            hosts.insert((connector.to_string(), host.id), (account, host));
        }
        Ok(())
    }
}

#[async_trait]
impl DeliveryStore for SqliteStore {
    async fn create_integration(
        &self,
        kind: IntegrationKind,
        settings: &IntegrationSettings,
        external_id: &str,
        now: Timestamp,
        audit: &AuditEntry,
    ) -> Result<Integration, StoreError> {
        check_settings(settings)?;
        let values = settings_values(settings);
        let sql = create_integration_sql();
        let _w = self.write.lock().await;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(db)?;
        let mut q = sqlx::query(&sql).bind(kind.as_str());
        for v in &values {
            q = bind(q, v);
        }
        let row = q
            .bind(external_id)
            .bind(ms(now))
            .bind(ms(now))
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?;
        let Some(row) = row else {
            return Err(name_taken(kind, &settings.name));
        };
        let integration = read_integration(&Read(&row))?;
        insert_audit(&mut tx, audit).await?;
        tx.commit().await.map_err(db)?;
        Ok(integration)
    }

    async fn integration(
        &self,
        kind: IntegrationKind,
        id: i64,
    ) -> Result<Option<Integration>, StoreError> {
        let mut conn = self.pool.acquire().await.map_err(db)?;
        fetch_integration(&mut conn, kind, id).await
    }

    async fn integrations(
        &self,
        kind: Option<IntegrationKind>,
    ) -> Result<Vec<Integration>, StoreError> {
        let sql = integrations_sql(kind.is_some());
        let mut q = sqlx::query(&sql);
        if let Some(kind) = kind {
            q = q.bind(kind.as_str());
        }
        let rows = q.fetch_all(&self.pool).await.map_err(db)?;
        rows.iter().map(|r| read_integration(&Read(r))).collect()
    }

    async fn update_integration(
        &self,
        kind: IntegrationKind,
        id: i64,
        settings: &IntegrationSettings,
        new_external_id: Option<&str>,
        now: Timestamp,
        audit: &AuditEntry,
    ) -> Result<Integration, StoreError> {
        check_settings(settings)?;
        let values = settings_values(settings);
        let sql = update_integration_sql();
        let _w = self.write.lock().await;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(db)?;
        let stored = fetch_integration(&mut tx, kind, id)
            .await?
            .ok_or_else(|| no_integration(kind, id))?;
        let (validated, state, problem, alerted) =
            if needs_validation(&stored, settings, new_external_id) {
                (false, IntegrationState::Pending, None, None)
            } else {
                (
                    stored.validated,
                    stored.state,
                    stored.problem.clone(),
                    stored.alerted_problem.clone(),
                )
            };
        let mut q = sqlx::query(&sql);
        for v in &values {
            q = bind(q, v);
        }
        let row = q
            .bind(new_external_id.unwrap_or(&stored.external_id))
            .bind(validated)
            .bind(state.as_str())
            .bind(problem)
            .bind(alerted)
            .bind(ms(now))
            .bind(kind.as_str())
            .bind(id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(|e| {
                if unique_violation(&e) {
                    name_taken(kind, &settings.name)
                } else {
                    db(e)
                }
            })?
            .ok_or_else(|| no_integration(kind, id))?;
        let integration = read_integration(&Read(&row))?;
        insert_audit(&mut tx, audit).await?;
        tx.commit().await.map_err(db)?;
        Ok(integration)
    }

    async fn mark_validated(
        &self,
        kind: IntegrationKind,
        id: i64,
        now: Timestamp,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        let _w = self.write.lock().await;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(db)?;
        let done = sqlx::query(VALIDATED_SQL)
            .bind(ms(now))
            .bind(kind.as_str())
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        if done.rows_affected() == 0 {
            return Err(no_integration(kind, id));
        }
        insert_audit(&mut tx, audit).await?;
        tx.commit().await.map_err(db)
    }

    async fn delete_integration(
        &self,
        kind: IntegrationKind,
        id: i64,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        let _w = self.write.lock().await;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(db)?;
        let done = sqlx::query("DELETE FROM integrations WHERE kind = ? AND id = ?")
            .bind(kind.as_str())
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        if done.rows_affected() == 0 {
            return Err(no_integration(kind, id));
        }
        for sql in DELETE_INTEGRATION_DATA_SQL {
            sqlx::query(sql)
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(db)?;
        }
        insert_audit(&mut tx, audit).await?;
        tx.commit().await.map_err(db)
    }

    async fn integration_failed(
        &self,
        id: i64,
        code: &str,
        problem: &str,
        _now: Timestamp,
    ) -> Result<bool, StoreError> {
        let _w = self.write.lock().await;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(db)?;
        let row: Option<(bool, Option<String>)> =
            sqlx::query_as("SELECT validated, alerted_problem FROM integrations WHERE id = ?")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db)?;
        let (validated, alerted) = row.ok_or_else(|| no_integration_id(id))?;
        if !validated {
            return Ok(false);
        }
        sqlx::query(FAILED_SQL)
            .bind(problem)
            .bind(code)
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(alerted.as_deref() != Some(code))
    }

    async fn integration_recovered(&self, id: i64, _now: Timestamp) -> Result<(), StoreError> {
        let _w = self.write.lock().await;
        sqlx::query(RECOVERED_SQL)
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn cips_config(&self) -> Result<CipsConfig, StoreError> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        let config = read_cips(&mut tx).await?;
        tx.commit().await.map_err(db)?;
        Ok(config)
    }

    async fn set_cips_filter(
        &self,
        include_evidence_data: bool,
        include_fail_posture: bool,
        include_pass_posture: bool,
        include_error_posture: bool,
        now: Timestamp,
        audit: &AuditEntry,
    ) -> Result<CipsConfig, StoreError> {
        let _w = self.write.lock().await;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(db)?;
        sqlx::query(&set_cips_filter_sql())
            .bind(include_evidence_data)
            .bind(include_fail_posture)
            .bind(include_pass_posture)
            .bind(include_error_posture)
            .bind(ms(now))
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        let config = cips_changed(&mut tx, now, audit).await?;
        tx.commit().await.map_err(db)?;
        Ok(config)
    }

    async fn add_cips_policies(
        &self,
        policies: &[i64],
        now: Timestamp,
        audit: &AuditEntry,
    ) -> Result<CipsConfig, StoreError> {
        let policies = check_policies(policies)?;
        let _w = self.write.lock().await;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(db)?;
        let stored: HashSet<i64> = sqlx::query_scalar::<_, i64>(CIPS_POLICIES_SQL)
            .fetch_all(&mut *tx)
            .await
            .map_err(db)?
            .into_iter()
            .collect();
        let new: Vec<i64> = policies
            .into_iter()
            .filter(|p| !stored.contains(p))
            .collect();
        if stored.len() + new.len() > MAX_CIPS_POLICIES {
            return Err(too_many_policies(stored.len() + new.len()));
        }
        for p in &new {
            sqlx::query(ADD_CIPS_POLICY_SQL)
                .bind(*p)
                .bind(ms(now))
                .execute(&mut *tx)
                .await
                .map_err(db)?;
        }
        let config = cips_changed(&mut tx, now, audit).await?;
        tx.commit().await.map_err(db)?;
        Ok(config)
    }

    async fn remove_cips_policies(
        &self,
        policies: &[i64],
        now: Timestamp,
        audit: &AuditEntry,
    ) -> Result<CipsConfig, StoreError> {
        let policies = check_policies(policies)?;
        let _w = self.write.lock().await;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(db)?;
        for chunk in policies.chunks(CHUNK) {
            let sql = remove_cips_policies_sql(chunk.len());
            let mut q = sqlx::query(&sql);
            for p in chunk {
                q = q.bind(*p);
            }
            q.execute(&mut *tx).await.map_err(db)?;
        }
        let config = cips_changed(&mut tx, now, audit).await?;
        tx.commit().await.map_err(db)?;
        Ok(config)
    }

    async fn delivery_lease(
        &self,
        node: &str,
        now: Timestamp,
        lease_ms: i64,
    ) -> Result<bool, StoreError> {
        let _w = self.write.lock().await;
        let done = sqlx::query(LEASE_SQL)
            .bind(node)
            .bind(ms(now).saturating_add(lease_ms))
            .bind(ms(now))
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(done.rows_affected() == 1)
    }

    async fn watermark(&self, integration_id: i64) -> Result<Timestamp, StoreError> {
        let stored: Option<i64> = sqlx::query_scalar(WATERMARK_SQL)
            .bind(integration_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?;
        time_of(stored.ok_or_else(|| no_integration_id(integration_id))?)
    }

    async fn vm_changed_hosts(
        &self,
        since: Timestamp,
        after: Option<&HostKey>,
        limit: u32,
    ) -> Result<Vec<HostKey>, StoreError> {
        self.changed_hosts(Changed::Detections, since, after, limit)
            .await
    }

    async fn vm_host_findings(&self, keys: &[HostKey]) -> Result<Vec<HostFindings>, StoreError> {
        let mut hosts = HashMap::new();
        let mut rows: HashMap<HostKey, (String, Vec<_>)> = HashMap::new();
        let mut tx = self.pool.begin().await.map_err(db)?;
        for (connector, ids) in by_connector(keys) {
            Self::read_hosts(&mut tx, connector, &ids, &mut hosts).await?;
            let sql = detections_sql(ids.len());
            let mut q = sqlx::query(&sql).bind(connector);
            for id in &ids {
                q = q.bind(*id);
            }
            for r in q.fetch_all(&mut *tx).await.map_err(db)? {
                let d = read_detection(&Read(&r))?;
                rows.entry((connector.to_string(), d.host_id))
                    .or_default()
                    .1
                    .push(d);
            }
        }
        tx.commit().await.map_err(db)?;
        Ok(assemble(
            keys,
            hosts,
            rows,
            false,
            |connector_id, account_name, host, detections| HostFindings {
                connector_id,
                account_name,
                host,
                detections,
            },
        ))
    }

    async fn kb_entries(
        &self,
        connector_id: &str,
        qids: &[i64],
    ) -> Result<HashMap<i64, QualysKbEntry>, StoreError> {
        let mut out = HashMap::with_capacity(qids.len());
        for chunk in qids.chunks(CHUNK) {
            let sql = kb_sql(chunk.len());
            let mut q = sqlx::query(&sql).bind(connector_id);
            for qid in chunk {
                q = q.bind(*qid);
            }
            for r in q.fetch_all(&self.pool).await.map_err(db)? {
                let k = read_kb(&Read(&r))?;
                out.insert(k.qid, k);
            }
        }
        Ok(out)
    }

    async fn pc_changed_hosts(
        &self,
        since: Timestamp,
        after: Option<&HostKey>,
        limit: u32,
    ) -> Result<Vec<HostKey>, StoreError> {
        self.changed_hosts(Changed::Postures, since, after, limit)
            .await
    }

    async fn pc_host_postures(
        &self,
        keys: &[HostKey],
        policies: &[i64],
    ) -> Result<Vec<HostPostures>, StoreError> {
        let mut policies = policies.to_vec();
        policies.sort_unstable();
        policies.dedup();
        if policies.len() > MAX_POSTURE_POLICIES {
            return Err(too_many_posture_policies(policies.len()));
        }
        let mut hosts = HashMap::new();
        let mut rows: HashMap<HostKey, (String, Vec<PostureRow>)> = HashMap::new();
        let mut tx = self.pool.begin().await.map_err(db)?;
        for (connector, ids) in by_connector(keys) {
            Self::read_hosts(&mut tx, connector, &ids, &mut hosts).await?;
            if policies.is_empty() {
                continue;
            }
            let sql = postures_sql(ids.len(), policies.len());
            let mut q = sqlx::query(&sql).bind(connector);
            for id in ids.iter().chain(&policies) {
                q = q.bind(*id);
            }
            for r in q.fetch_all(&mut *tx).await.map_err(db)? {
                let (account, host, posture) = read_posture(&Read(&r))?;
                let entry = rows
                    .entry((connector.to_string(), host))
                    .or_insert_with(|| (account, Vec::new()));
                entry.1.push(posture);
            }
        }
        tx.commit().await.map_err(db)?;
        Ok(assemble(
            keys,
            hosts,
            rows,
            true,
            |connector_id, account_name, host, postures| HostPostures {
                connector_id,
                account_name,
                host,
                postures,
            },
        ))
    }

    async fn evaluations_changed(
        &self,
        since: Timestamp,
        after: Option<&(String, u32)>,
        limit: u32,
    ) -> Result<Vec<EvaluationRow>, StoreError> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        if after.is_none() {
            let any: bool = sqlx::query_scalar(EVALUATIONS_PROBE_SQL)
                .bind(ms(since))
                .fetch_one(&mut *tx)
                .await
                .map_err(db)?;
            if !any {
                return Ok(Vec::new());
            }
        }
        let sql = evaluations_changed_sql(after.is_some(), LAST_EVALUATED);
        let rows = sqlx::query(&sql)
            .bind(ms(since))
            .bind(after.map_or("", |(native, _)| native.as_str()))
            .bind(i64::from(limit))
            .fetch_all(&mut *tx)
            .await
            .map_err(db)?;
        let mut page = rows
            .iter()
            .map(evaluation_row)
            .collect::<Result<Vec<_>, _>>()?;
        if limit > 0 && page.len() >= limit as usize {
            let skip = rows_of_last_native(&page);
            if let Some(native) = page.last().map(|r| r.resource_id.clone()) {
                let rest = sqlx::query(&evaluations_of_native_sql(LAST_EVALUATED))
                    .bind(ms(since))
                    .bind(native)
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(db)?;
                for r in rest.iter().skip(skip) {
                    page.push(evaluation_row(r)?);
                }
            }
        }
        tx.commit().await.map_err(db)?;
        Ok(page)
    }

    async fn subject_hashes(
        &self,
        integration_id: i64,
        subjects: &[String],
    ) -> Result<HashMap<String, i64>, StoreError> {
        let mut out = HashMap::with_capacity(subjects.len());
        for chunk in subjects.chunks(CHUNK) {
            let sql = subject_hashes_sql(chunk.len());
            let mut q = sqlx::query_as::<_, (String, i64)>(&sql).bind(integration_id);
            for s in chunk {
                q = q.bind(s.as_str());
            }
            out.extend(q.fetch_all(&self.pool).await.map_err(db)?);
        }
        Ok(out)
    }

    async fn commit_plan(&self, plan: PlanCommit<'_>, now: Timestamp) -> Result<(), StoreError> {
        let id = plan.integration_id;
        let subjects = last_hash_per_subject(plan.subjects);
        let _w = self.write.lock().await;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(db)?;
        let stored: i64 = sqlx::query_scalar(WATERMARK_SQL)
            .bind(id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?
            .ok_or_else(|| no_integration_id(id))?;
        if stored != ms(plan.expected_watermark) {
            return Err(watermark_moved(id, stored, ms(plan.expected_watermark)));
        }
        for o in plan.objects {
            sqlx::query(INSERT_OBJECT_SQL)
                .bind(id)
                .bind(o.key.as_str())
                .bind(o.body.as_slice())
                .bind(o.content_type.as_str())
                .bind(o.content_encoding.as_deref())
                .bind(i64::from(o.items))
                .bind(ms(now))
                .bind(ms(now))
                .execute(&mut *tx)
                .await
                .map_err(db)?;
        }
        for chunk in subjects.chunks(CHUNK) {
            let sql = upsert_subjects_sql(chunk.len());
            let mut q = sqlx::query(&sql);
            for (subject, hash) in chunk {
                q = q.bind(id).bind(*subject).bind(*hash);
            }
            q.execute(&mut *tx).await.map_err(db)?;
        }
        sqlx::query(SET_WATERMARK_SQL)
            .bind(ms(plan.watermark))
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        tx.commit().await.map_err(db)
    }

    async fn outbox_due(
        &self,
        now: Timestamp,
        limit: u32,
    ) -> Result<Vec<OutboxObject>, StoreError> {
        let rows = sqlx::query(&outbox_due_sql())
            .bind(ms(now))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        rows.iter()
            .map(|r| {
                let body: Vec<u8> = r.try_get(3).map_err(db)?;
                read_outbox(&Read(r), body)
            })
            .collect()
    }

    async fn outbox_delivered(&self, object_id: i64, now: Timestamp) -> Result<(), StoreError> {
        let _w = self.write.lock().await;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(db)?;
        let (integration, items): (i64, i64) = sqlx::query_as(DELIVERED_SQL)
            .bind(object_id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?
            .ok_or_else(|| no_object(object_id))?;
        sqlx::query(COUNT_DELIVERY_SQL)
            .bind(items)
            .bind(ms(now))
            .bind(integration)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        tx.commit().await.map_err(db)
    }

    async fn outbox_retry(
        &self,
        object_id: i64,
        error: &str,
        next: Timestamp,
    ) -> Result<(), StoreError> {
        let _w = self.write.lock().await;
        let done = sqlx::query(RETRY_SQL)
            .bind(error)
            .bind(ms(next))
            .bind(object_id)
            .execute(&self.pool)
            .await
            .map_err(db)?;
        if done.rows_affected() == 0 {
            return Err(no_object(object_id));
        }
        Ok(())
    }

    async fn outbox_pending(&self, integration_id: Option<i64>) -> Result<u64, StoreError> {
        let mut q = sqlx::query_scalar::<_, i64>(outbox_pending_sql(integration_id.is_some()));
        if let Some(id) = integration_id {
            q = q.bind(id);
        }
        let n = q.fetch_one(&self.pool).await.map_err(db)?;
        Ok(vigil_store::search::count(n))
    }
}
