//! The data APIs' reads on PostgreSQL: the SQL comes from
//! [`vigil_store::data::SqlBuilder`]; this file runs it and reads rows back.

use crate::{bind_params, db, evaluation_row, PgStore};
use async_trait::async_trait;
use sqlx::postgres::PgRow;
use sqlx::Row;
use vigil_query::Dialect;
use vigil_store::data::{
    self, ControlColumns, DataFilter, DataStore, EvaluationGroup, EvaluationItem, EvaluationSort,
    PageRequest, ResourceRecord, ResourceSort, SqlBuilder,
};
use vigil_store::{ControlRecord, PolicyRecord, StoreError};

fn resource(row: &PgRow, detail: bool) -> Result<ResourceRecord, StoreError> {
    data::read_resource(
        |i| row.try_get(i).map_err(db),
        |i| row.try_get(i).map_err(db),
        detail,
    )
}

impl PgStore {
    async fn rows(&self, b: &SqlBuilder) -> Result<Vec<PgRow>, StoreError> {
        bind_params(sqlx::query(&b.sql), &b.params)
            .fetch_all(&self.pool)
            .await
            .map_err(db)
    }
}

#[async_trait]
impl DataStore for PgStore {
    async fn evaluation_page(
        &self,
        filter: &DataFilter,
        page: &PageRequest<EvaluationSort>,
    ) -> Result<Vec<EvaluationItem>, StoreError> {
        let rows = self
            .rows(&SqlBuilder::evaluations(Dialect::Postgres, filter, page))
            .await?;
        rows.iter()
            .map(|row| {
                Ok(EvaluationItem {
                    resource: row.try_get(17).map_err(db)?,
                    row: evaluation_row(row)?,
                })
            })
            .collect()
    }

    async fn resource_page(
        &self,
        filter: &DataFilter,
        page: &PageRequest<ResourceSort>,
    ) -> Result<Vec<ResourceRecord>, StoreError> {
        let rows = self
            .rows(&SqlBuilder::resources(Dialect::Postgres, filter, page))
            .await?;
        rows.iter().map(|row| resource(row, false)).collect()
    }

    async fn resource_detail(
        &self,
        id: i64,
        sources: &Option<Vec<String>>,
    ) -> Result<Option<ResourceRecord>, StoreError> {
        let rows = self
            .rows(&SqlBuilder::resource_detail(Dialect::Postgres, id, sources))
            .await?;
        rows.first().map(|row| resource(row, true)).transpose()
    }

    async fn evaluation_groups(
        &self,
        filter: &DataFilter,
        by_account: bool,
    ) -> Result<Vec<EvaluationGroup>, StoreError> {
        let b = SqlBuilder::groups(Dialect::Postgres, filter, by_account);
        let rows = self.rows(&b).await?;
        rows.iter()
            .map(|row| {
                let result: String = row.try_get(2).map_err(db)?;
                data::read_group(
                    row.try_get(0).map_err(db)?,
                    row.try_get(1).map_err(db)?,
                    &result,
                    row.try_get(3).map_err(db)?,
                )
            })
            .collect()
    }

    async fn controls(&self) -> Result<Vec<ControlRecord>, StoreError> {
        let rows: Vec<ControlColumns> = sqlx::query_as(&format!(
            "SELECT {} FROM controls ORDER BY cid",
            data::CONTROL_COLUMNS
        ))
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.into_iter().map(data::read_control).collect()
    }

    async fn policies(&self) -> Result<Vec<PolicyRecord>, StoreError> {
        let rows = sqlx::query_as(data::POLICY_ROWS)
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        data::read_policies(rows)
    }
}
