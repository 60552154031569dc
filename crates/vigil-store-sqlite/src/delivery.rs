//! S3 delivery on sqlite: NOT YET IMPLEMENTED (contract stubs).

use crate::SqliteStore;
use async_trait::async_trait;
use std::collections::HashMap;
use vigil_model::qualys::QualysKbEntry;
use vigil_model::Timestamp;
use vigil_store::access::AuditEntry;
use vigil_store::delivery::*;
use vigil_store::{EvaluationRow, StoreError};

fn todo() -> StoreError {
    StoreError::Database("S3 delivery is not implemented on sqlite yet".into())
}

#[async_trait]
impl DeliveryStore for SqliteStore {
    async fn create_integration(
        &self,
        _kind: IntegrationKind,
        _settings: &IntegrationSettings,
        _external_id: &str,
        _now: Timestamp,
        _audit: &AuditEntry,
    ) -> Result<Integration, StoreError> {
        Err(todo())
    }

    async fn integration(
        &self,
        _kind: IntegrationKind,
        _id: i64,
    ) -> Result<Option<Integration>, StoreError> {
        Err(todo())
    }

    async fn integrations(
        &self,
        _kind: Option<IntegrationKind>,
    ) -> Result<Vec<Integration>, StoreError> {
        Err(todo())
    }

    async fn update_integration(
        &self,
        _kind: IntegrationKind,
        _id: i64,
        _settings: &IntegrationSettings,
        _new_external_id: Option<&str>,
        _now: Timestamp,
        _audit: &AuditEntry,
    ) -> Result<Integration, StoreError> {
        Err(todo())
    }

    async fn mark_validated(
        &self,
        _kind: IntegrationKind,
        _id: i64,
        _now: Timestamp,
        _audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        Err(todo())
    }

    async fn delete_integration(
        &self,
        _kind: IntegrationKind,
        _id: i64,
        _audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        Err(todo())
    }

    async fn integration_failed(
        &self,
        _id: i64,
        _code: &str,
        _problem: &str,
        _now: Timestamp,
    ) -> Result<bool, StoreError> {
        Err(todo())
    }

    async fn integration_recovered(&self, _id: i64, _now: Timestamp) -> Result<(), StoreError> {
        Err(todo())
    }

    async fn cips_config(&self) -> Result<CipsConfig, StoreError> {
        Err(todo())
    }

    async fn set_cips_filter(
        &self,
        _include_evidence_data: bool,
        _include_fail_posture: bool,
        _include_pass_posture: bool,
        _include_error_posture: bool,
        _now: Timestamp,
        _audit: &AuditEntry,
    ) -> Result<CipsConfig, StoreError> {
        Err(todo())
    }

    async fn add_cips_policies(
        &self,
        _policies: &[i64],
        _now: Timestamp,
        _audit: &AuditEntry,
    ) -> Result<CipsConfig, StoreError> {
        Err(todo())
    }

    async fn remove_cips_policies(
        &self,
        _policies: &[i64],
        _now: Timestamp,
        _audit: &AuditEntry,
    ) -> Result<CipsConfig, StoreError> {
        Err(todo())
    }

    async fn delivery_lease(
        &self,
        _node: &str,
        _now: Timestamp,
        _lease_ms: i64,
    ) -> Result<bool, StoreError> {
        Err(todo())
    }

    async fn watermark(&self, _integration_id: i64) -> Result<Timestamp, StoreError> {
        Err(todo())
    }

    async fn vm_changed_hosts(
        &self,
        _since: Timestamp,
        _after: Option<&HostKey>,
        _limit: u32,
    ) -> Result<Vec<HostKey>, StoreError> {
        Err(todo())
    }

    async fn vm_host_findings(&self, _hosts: &[HostKey]) -> Result<Vec<HostFindings>, StoreError> {
        Err(todo())
    }

    async fn kb_entries(
        &self,
        _connector_id: &str,
        _qids: &[i64],
    ) -> Result<HashMap<i64, QualysKbEntry>, StoreError> {
        Err(todo())
    }

    async fn pc_changed_hosts(
        &self,
        _since: Timestamp,
        _after: Option<&HostKey>,
        _limit: u32,
    ) -> Result<Vec<HostKey>, StoreError> {
        Err(todo())
    }

    async fn pc_host_postures(
        &self,
        _hosts: &[HostKey],
        _policies: &[i64],
    ) -> Result<Vec<HostPostures>, StoreError> {
        Err(todo())
    }

    async fn evaluations_changed(
        &self,
        _since: Timestamp,
        _after: Option<&(String, u32)>,
        _limit: u32,
    ) -> Result<Vec<EvaluationRow>, StoreError> {
        Err(todo())
    }

    async fn subject_hashes(
        &self,
        _integration_id: i64,
        _subjects: &[String],
    ) -> Result<HashMap<String, i64>, StoreError> {
        Err(todo())
    }

    async fn commit_plan(&self, _plan: PlanCommit<'_>, _now: Timestamp) -> Result<(), StoreError> {
        Err(todo())
    }

    async fn outbox_due(
        &self,
        _now: Timestamp,
        _limit: u32,
    ) -> Result<Vec<OutboxObject>, StoreError> {
        Err(todo())
    }

    async fn outbox_delivered(&self, _object_id: i64, _now: Timestamp) -> Result<(), StoreError> {
        Err(todo())
    }

    async fn outbox_retry(
        &self,
        _object_id: i64,
        _error: &str,
        _next: Timestamp,
    ) -> Result<(), StoreError> {
        Err(todo())
    }

    async fn outbox_pending(&self, _integration_id: Option<i64>) -> Result<u64, StoreError> {
        Err(todo())
    }
}
