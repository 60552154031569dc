//! Qualys data on sqlite (to be written).

use crate::SqliteStore;
use async_trait::async_trait;
use std::collections::BTreeMap;
use vigil_model::qualys::QualysBatch;
use vigil_model::Timestamp;
use vigil_store::qualys::{InstanceVulnerability, QualysStore};
use vigil_store::StoreError;

#[async_trait]
impl QualysStore for SqliteStore {
    async fn qualys_ingest(
        &self,
        _connector_id: &str,
        _account_name: &str,
        batch: &QualysBatch,
        _now: Timestamp,
    ) -> Result<u64, StoreError> {
        Ok(batch.len() as u64)
    }

    async fn qualys_summary(
        &self,
        _connector_id: &str,
    ) -> Result<BTreeMap<String, u64>, StoreError> {
        Ok(BTreeMap::new())
    }

    async fn instance_vulnerabilities(
        &self,
        _instance_id: &str,
        _connectors: &Option<Vec<String>>,
    ) -> Result<Vec<InstanceVulnerability>, StoreError> {
        Ok(Vec::new())
    }

    async fn qualys_forget(&self, _connector_id: &str) -> Result<(), StoreError> {
        Ok(())
    }
}
