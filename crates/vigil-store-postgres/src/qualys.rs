//! Qualys data on PostgreSQL: each batch is one transaction of multi-row
//! upsert whose rows come as one array per column (`UNNEST`), so a batch
//! has a handful of parameters whatever its size.

use crate::{db, numbered, PgStore};
use async_trait::async_trait;
use sqlx::postgres::{PgArguments, PgConnection, PgRow};
use sqlx::{Postgres, Row};
use std::collections::BTreeMap;
use vigil_model::qualys::QualysBatch;
use vigil_model::Timestamp;
use vigil_store::qualys::{
    self, ColumnType, Columns, InstanceVulnerability, QualysStore, Table, Value, KB_CVES,
};
use vigil_store::search::count;
use vigil_store::StoreError;

pub(crate) type PgQuery<'q> = sqlx::query::Query<'q, Postgres, PgArguments>;

/// Binds column `i` of `rows` as one array of its type.
fn bind_column<'q>(
    q: PgQuery<'q>,
    kind: ColumnType,
    rows: &'q [Vec<Value<'q>>],
    i: usize,
) -> Result<PgQuery<'q>, StoreError> {
    let mismatch = || {
        StoreError::Invalid(format!(
            "column {i} of a Qualys row does not have the type {kind:?} (a bug; report it)"
        ))
    };
    Ok(match kind {
        ColumnType::Int => q.bind(
            rows.iter()
                .map(|r| match &r[i] {
                    Value::Int(v) => Ok(*v),
                    _ => Err(mismatch()),
                })
                .collect::<Result<Vec<Option<i64>>, _>>()?,
        ),
        ColumnType::Real => q.bind(
            rows.iter()
                .map(|r| match &r[i] {
                    Value::Real(v) => Ok(*v),
                    _ => Err(mismatch()),
                })
                .collect::<Result<Vec<Option<f64>>, _>>()?,
        ),
        ColumnType::Text => q.bind(
            rows.iter()
                .map(|r| match &r[i] {
                    Value::Text(v) => Ok(v.as_deref()),
                    _ => Err(mismatch()),
                })
                .collect::<Result<Vec<Option<&str>>, _>>()?,
        ),
        ColumnType::Bool => q.bind(
            rows.iter()
                .map(|r| match &r[i] {
                    Value::Bool(v) => Ok(*v),
                    _ => Err(mismatch()),
                })
                .collect::<Result<Vec<bool>, _>>()?,
        ),
    })
}

/// One statement for the whole batch: the connector, account and time,
/// then one array per column.
async fn upsert(
    conn: &mut PgConnection,
    table: &Table,
    rows: &[Vec<Value<'_>>],
    connector_id: &str,
    account_name: &str,
    now: i64,
) -> Result<u64, StoreError> {
    if rows.is_empty() {
        return Ok(0);
    }
    let sql = table.unnest_sql();
    let mut q = sqlx::query(&sql)
        .bind(connector_id)
        .bind(account_name)
        .bind(now);
    for (i, (_, kind)) in table.columns.iter().enumerate() {
        q = bind_column(q, *kind, rows, i)?;
    }
    Ok(q.execute(&mut *conn).await.map_err(db)?.rows_affected())
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

pub(crate) struct Read<'r>(pub(crate) &'r PgRow);

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
        let plan = qualys::plan(batch, now)?;
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
