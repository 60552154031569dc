//! Qualys data on SQLite: each batch is one transaction of multi-row
//! upserts (the SQL of `vigil_store::qualys`), under the store's write lock.

use crate::{db, SqliteQuery, SqliteStore};
use async_trait::async_trait;
use sqlx::sqlite::{SqliteConnection, SqliteRow};
use sqlx::Row;
use std::collections::BTreeMap;
use vigil_model::qualys::QualysBatch;
use vigil_model::Timestamp;
use vigil_store::qualys::{
    self, Columns, InstanceVulnerability, QualysStore, Table, Value, KB_CVES,
};
use vigil_store::search::count;
use vigil_store::StoreError;

/// SQLite's limit of bound variables in one statement.
const MAX_BINDS: usize = 32_766;

pub(crate) fn bind<'q>(q: SqliteQuery<'q>, v: &'q Value<'q>) -> SqliteQuery<'q> {
    match v {
        Value::Int(i) => q.bind(*i),
        Value::Real(r) => q.bind(*r),
        Value::Text(t) => q.bind(t.as_deref()),
        Value::Bool(b) => q.bind(*b),
    }
}

/// One statement per chunk of rows (see `Table::upsert_sql` for the
/// order of its values).
async fn upsert(
    conn: &mut SqliteConnection,
    table: &Table,
    rows: &[Vec<Value<'_>>],
    connector_id: &str,
    account_name: &str,
    now: i64,
) -> Result<u64, StoreError> {
    let size = table.chunk(MAX_BINDS);
    let full = table.upsert_sql(size);
    let mut written = 0;
    for chunk in rows.chunks(size) {
        let partial;
        let sql = if chunk.len() == size {
            &full
        } else {
            partial = table.upsert_sql(chunk.len());
            &partial
        };
        let mut q = sqlx::query(sql)
            .bind(connector_id)
            .bind(account_name)
            .bind(now)
            .bind(now);
        if table.instance_from_host.is_some() {
            q = q.bind(connector_id);
        }
        for row in chunk {
            for v in row {
                q = bind(q, v);
            }
        }
        written += q.execute(&mut *conn).await.map_err(db)?.rows_affected();
    }
    Ok(written)
}

/// Runs `sql` binding the connector id then each of `ids`.
async fn with_ids(
    conn: &mut SqliteConnection,
    sql: &str,
    connector_id: &str,
    ids: &[i64],
) -> Result<(), StoreError> {
    let mut q = sqlx::query(sql).bind(connector_id);
    for id in ids {
        q = q.bind(*id);
    }
    q.execute(&mut *conn).await.map_err(db)?;
    Ok(())
}

pub(crate) struct Read<'r>(pub(crate) &'r SqliteRow);

impl Columns for Read<'_> {
    fn int(&self, i: usize) -> Result<Option<i64>, StoreError> {
        self.0.try_get(i).map_err(db)
    }
    fn real(&self, i: usize) -> Result<Option<f64>, StoreError> {
        self.0.try_get(i).map_err(db)
    }
    fn text(&self, i: usize) -> Result<Option<String>, StoreError> {
        self.0.try_get(i).map_err(db)
    }
    fn boolean(&self, i: usize) -> Result<Option<bool>, StoreError> {
        self.0.try_get(i).map_err(db)
    }
}

#[async_trait]
impl QualysStore for SqliteStore {
    async fn qualys_ingest(
        &self,
        connector_id: &str,
        account_name: &str,
        batch: &QualysBatch,
        now: Timestamp,
    ) -> Result<u64, StoreError> {
        let plan = qualys::plan(batch, now)?;
        if plan.rows.is_empty() {
            return Ok(0);
        }
        let now = now.timestamp_millis();
        let _guard = self.write.lock().await;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(db)?;
        upsert(
            &mut tx,
            plan.table,
            &plan.rows,
            connector_id,
            account_name,
            now,
        )
        .await?;
        for hosts in plan.instance_hosts.chunks(1000) {
            with_ids(
                &mut tx,
                &qualys::backfill_instance_sql(hosts.len()),
                connector_id,
                hosts,
            )
            .await?;
        }
        for qids in plan.kb_qids.chunks(1000) {
            with_ids(
                &mut tx,
                &qualys::delete_cves_sql(qids.len()),
                connector_id,
                qids,
            )
            .await?;
        }
        upsert(
            &mut tx,
            &KB_CVES,
            &plan.cves,
            connector_id,
            account_name,
            now,
        )
        .await?;
        tx.commit().await.map_err(db)?;
        Ok(plan.rows.len() as u64)
    }

    async fn qualys_summary(
        &self,
        connector_id: &str,
    ) -> Result<BTreeMap<String, u64>, StoreError> {
        let sql = qualys::summary_sql();
        let mut q = sqlx::query(&sql);
        for _ in 0..qualys::TABLES.len() {
            q = q.bind(connector_id);
        }
        let rows = q.fetch_all(&self.pool).await.map_err(db)?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get::<String, _>(0).map_err(db)?,
                    count(r.try_get(1).map_err(db)?),
                ))
            })
            .collect()
    }

    async fn instance_vulnerabilities(
        &self,
        instance_id: &str,
        connectors: &Option<Vec<String>>,
    ) -> Result<Vec<InstanceVulnerability>, StoreError> {
        if connectors.as_ref().is_some_and(|c| c.is_empty()) {
            return Ok(Vec::new());
        }
        let sql = qualys::instance_vulnerabilities_sql(connectors.as_ref().map(Vec::len));
        let mut q = sqlx::query(&sql).bind(instance_id);
        for c in connectors.iter().flatten() {
            q = q.bind(c.as_str());
        }
        let rows = q.fetch_all(&self.pool).await.map_err(db)?;
        rows.iter()
            .map(|r| qualys::read_vulnerability(&Read(r)))
            .collect()
    }

    async fn qualys_forget(&self, connector_id: &str) -> Result<(), StoreError> {
        let _guard = self.write.lock().await;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(db)?;
        for sql in qualys::forget_sql() {
            sqlx::query(&sql)
                .bind(connector_id)
                .execute(&mut *tx)
                .await
                .map_err(db)?;
        }
        tx.commit().await.map_err(db)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_model::qualys::{CloudSource, QualysHost};

    type HostColumns = (
        Option<String>,
        Option<String>,
        Option<String>,
        String,
        Option<String>,
        i64,
        i64,
    );

    async fn host(store: &SqliteStore) -> HostColumns {
        sqlx::query_as(
            "SELECT ip, dns, os, tags, instance_id, first_seen, last_seen FROM qualys_hosts \
             WHERE connector_id = 'q' AND host_id = 1",
        )
        .fetch_one(&store.pool)
        .await
        .unwrap()
    }

    /// The host list and the QPS host asset each give part of a host: a
    /// null never erases a stored value, tags and cloud only when given.
    #[tokio::test]
    async fn a_host_seen_again_keeps_what_the_new_record_leaves_out() {
        let store = SqliteStore::open_memory().await.unwrap();
        let at = |ms: i64| chrono::DateTime::from_timestamp_millis(ms).unwrap();
        let listed = QualysHost {
            id: 1,
            ip: Some("10.0.0.1".into()),
            os: Some("Linux".into()),
            tags: vec!["prod".into()],
            ..Default::default()
        };
        let qps = QualysHost {
            id: 1,
            dns: Some("web".into()),
            os: Some("Amazon Linux 2".into()),
            cloud: Some(CloudSource {
                provider: "aws".into(),
                instance_id: "i-1".into(),
                account_id: None,
                region: None,
            }),
            ..Default::default()
        };
        for (h, ms) in [(&listed, 1), (&qps, 2)] {
            store
                .qualys_ingest("q", "Acme", &QualysBatch::Hosts(vec![h.clone()]), at(ms))
                .await
                .unwrap();
        }
        assert_eq!(
            host(&store).await,
            (
                Some("10.0.0.1".into()),
                Some("web".into()),
                Some("Amazon Linux 2".into()),
                "[\"prod\"]".into(),
                Some("i-1".into()),
                1,
                2
            )
        );
        let retagged = QualysHost {
            id: 1,
            tags: vec!["dmz".into()],
            ..Default::default()
        };
        store
            .qualys_ingest("q", "Acme", &QualysBatch::Hosts(vec![retagged]), at(3))
            .await
            .unwrap();
        let (ip, _, _, tags, instance, first, last) = host(&store).await;
        assert_eq!(ip.as_deref(), Some("10.0.0.1"));
        assert_eq!(tags, "[\"dmz\"]");
        assert_eq!(instance.as_deref(), Some("i-1"));
        assert_eq!((first, last), (1, 3));
    }
}
