//! Seed 000's AWS S3 integration APIs, word for word: VM and PC
//! integrations under `/partner-integration/aws/s3/{vm,pc}` (and Vigil's
//! OCSF integration under `/partner-integration/aws/s3/ocsf`), and the CIPS
//! policy list and filter under `/pcas/cips/config`.
//!
//! NOT YET IMPLEMENTED: contract stub (routes come with issue 7's API work).

use crate::AppState;
use std::sync::Arc;
use vigil_delivery::payload::Customer;
use vigil_store::{Store, StoreError};

/// The setting that holds this installation's `customerId`.
pub const CUSTOMER_ID: &str = "customer_id";
/// The setting that holds this installation's `customerUuid`.
pub const CUSTOMER_UUID: &str = "customer_uuid";

/// This installation's customer id and UUID: made by the first node that
/// asks, the same for every node on the store.
pub async fn customer(store: &dyn Store) -> Result<Customer, StoreError> {
    let id = store
        .setting_or_insert(CUSTOMER_ID, &random_customer_id().to_string())
        .await?;
    let customer_id = id.parse::<i64>().map_err(|_| {
        StoreError::Database(format!(
            "the `{CUSTOMER_ID}` setting is not a number ({id}); delete it to get a new one"
        ))
    })?;
    let customer_uuid = store
        .setting_or_insert(CUSTOMER_UUID, &uuid::Uuid::new_v4().to_string())
        .await?;
    Ok(Customer {
        customer_id,
        customer_uuid,
    })
}

/// A customer id like Qualys' (a positive number).
fn random_customer_id() -> i64 {
    100_000 + (uuid::Uuid::new_v4().as_u128() % 900_000) as i64
}

/// A new external id: `<POD>-<customerId>-<uuid>` (seed 000).
pub fn new_external_id(pod: &str, customer: &Customer) -> String {
    format!("{pod}-{}-{}", customer.customer_id, uuid::Uuid::new_v4())
}

/// The routes of seed 000's integration and CIPS APIs.
pub fn router() -> axum::Router<Arc<AppState>> {
    axum::Router::new()
}
