//! What the Qualys connector ingested (issue 6): hosts, VM detections,
//! knowledge base, Policy Compliance, web applications, container images,
//! per connector, with the connector's account name on every row.
//!
//! Ingest is an upsert: a record seen again replaces its previous values
//! but keeps what only Vigil knows (when Vigil first saw it), so a
//! detection's lifecycle (New → Active → Fixed → Re-Opened, first and last
//! found, times found) is kept across runs even when a run only reads what
//! changed in the last days (the age filters).

use crate::StoreError;
use async_trait::async_trait;
use serde::Serialize;
use std::collections::BTreeMap;
use vigil_model::qualys::QualysBatch;
use vigil_model::Timestamp;

/// A vulnerability of an EC2 instance: a detection of the Qualys host that
/// is the instance, with its knowledge-base entry (seed 001 "Vulnerability
/// Details for Instances").
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InstanceVulnerability {
    pub connector_id: String,
    pub account_name: String,
    pub host_id: i64,
    pub qid: i64,
    /// From the knowledge base when known.
    pub title: Option<String>,
    pub category: Option<String>,
    pub cves: Vec<String>,
    pub cvss_base: Option<f64>,
    pub cvss3_base: Option<f64>,
    pub solution: Option<String>,
    pub patchable: Option<bool>,
    pub severity: u8,
    /// `typeDetected`: Confirmed, Potential, Info.
    #[serde(rename = "typeDetected")]
    pub type_detected: String,
    pub status: String,
    pub port: Option<u32>,
    pub protocol: Option<String>,
    pub ssl: bool,
    pub first_found: Option<Timestamp>,
    pub last_found: Option<Timestamp>,
    pub times_found: Option<i64>,
    pub results: Option<String>,
}

/// Qualys data in the store.
#[async_trait]
pub trait QualysStore {
    /// Upserts one batch of a connector's records in one transaction;
    /// returns the records written.
    async fn qualys_ingest(
        &self,
        connector_id: &str,
        account_name: &str,
        batch: &QualysBatch,
        now: Timestamp,
    ) -> Result<u64, StoreError>;

    /// Records per kind (`hosts`, `detections`, … as
    /// [`QualysBatch::kind`] names them) of a connector.
    async fn qualys_summary(&self, connector_id: &str)
        -> Result<BTreeMap<String, u64>, StoreError>;

    /// The vulnerabilities of an EC2 instance (by instance id) from the
    /// given Qualys connectors (`None`: all), most severe first.
    async fn instance_vulnerabilities(
        &self,
        instance_id: &str,
        connectors: &Option<Vec<String>>,
    ) -> Result<Vec<InstanceVulnerability>, StoreError>;

    /// Removes every record of a connector (the connector was deleted).
    async fn qualys_forget(&self, connector_id: &str) -> Result<(), StoreError>;
}
