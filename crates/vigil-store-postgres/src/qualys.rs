//! Qualys data on PostgreSQL: each batch is one transaction of multi-row
//! upserts (the SQL of `vigil_store::qualys`, placeholders numbered).

use crate::{db, numbered, PgStore};
use async_trait::async_trait;
use sqlx::postgres::{PgArguments, PgConnection, PgRow};
use sqlx::{Postgres, Row};
use std::collections::BTreeMap;
use vigil_model::qualys::QualysBatch;
use vigil_model::Timestamp;
use vigil_store::qualys::{
    self, Columns, InstanceVulnerability, QualysStore, Table, Value, KB_CVES,
};
use vigil_store::search::count;
use vigil_store::StoreError;

/// PostgreSQL's limit of bound parameters in one statement.
const MAX_BINDS: usize = 65_535;

type PgQuery<'q> = sqlx::query::Query<'q, Postgres, PgArguments>;

fn bind<'q>(q: PgQuery<'q>, v: &'q Value<'q>) -> PgQuery<'q> {
    match v {
        Value::Int(i) => q.bind(*i),
        Value::Real(r) => q.bind(*r),
        Value::Text(t) => q.bind(t.as_deref()),
        Value::Bool(b) => q.bind(*b),
    }
}

async fn upsert(
    conn: &mut PgConnection,
    table: &Table,
    rows: &[Vec<Value<'_>>],
    connector_id: &str,
    account_name: &str,
    now: i64,
) -> Result<u64, StoreError> {
    let size = table.chunk(MAX_BINDS);
    let full = numbered(&table.upsert_sql(size));
    let mut written = 0;
    for chunk in rows.chunks(size) {
        let partial;
        let sql = if chunk.len() == size {
            &full
        } else {
            partial = numbered(&table.upsert_sql(chunk.len()));
            &partial
        };
        let mut q = sqlx::query(sql);
        for row in chunk {
            q = q.bind(connector_id).bind(account_name).bind(now).bind(now);
            for v in row {
                q = bind(q, v);
            }
        }
        written += q.execute(&mut *conn).await.map_err(db)?.rows_affected();
    }
    Ok(written)
}

async fn with_ids(
    conn: &mut PgConnection,
    sql: &str,
    connector_id: &str,
    ids: &[i64],
) -> Result<(), StoreError> {
    let sql = numbered(sql);
    let mut q = sqlx::query(&sql).bind(connector_id);
    for id in ids {
        q = q.bind(*id);
    }
    q.execute(&mut *conn).await.map_err(db)?;
    Ok(())
}

struct Read<'r>(&'r PgRow);

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
impl QualysStore for PgStore {
    async fn qualys_ingest(
        &self,
        connector_id: &str,
        account_name: &str,
        batch: &QualysBatch,
        now: Timestamp,
    ) -> Result<u64, StoreError> {
        let plan = qualys::plan(batch, connector_id)?;
        if plan.rows.is_empty() {
            return Ok(0);
        }
        let now = now.timestamp_millis();
        let mut tx = self.pool.begin().await.map_err(db)?;
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
        let sql = numbered(&qualys::summary_sql());
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
        let sql = numbered(&qualys::instance_vulnerabilities_sql(
            connectors.as_ref().map(Vec::len),
        ));
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
        let mut tx = self.pool.begin().await.map_err(db)?;
        for sql in qualys::forget_sql() {
            sqlx::query(&numbered(&sql))
                .bind(connector_id)
                .execute(&mut *tx)
                .await
                .map_err(db)?;
        }
        tx.commit().await.map_err(db)
    }
}
