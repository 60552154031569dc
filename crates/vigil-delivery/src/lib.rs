//! S3 delivery (issue 7, seed 000): what Qualys' AWS S3 integration does
//! (CIPS), done by Vigil from its own store.
//!
//! - [`payload`]: the objects: VM findings per host (seed 000 "Findings and
//!   Insights"), knowledge-base entries (`vuln_info/vm/`), PC posture per
//!   host in the shape of seed 000's "Sample: Posture Data Transferred using
//!   CIPS", and Vigil's own evaluations as OCSF Detection Findings (class
//!   2004); JSON Lines, gzip when `compressData`. Pure: no I/O.
//! - [`s3`]: the customer's bucket through the role they created: STS
//!   AssumeRole with the external id on the operator's own credential chain,
//!   `PutObject`, the validation `test-file`, and failures sorted into those
//!   a person must fix (AccessDenied, NoSuchBucket, wrong region, external
//!   id mismatch) and those that pass (network, 5xx, throttling).
//! - [`smtp`]: alert e-mails to `errorEmails`.
//! - [`worker`]: the planner (store → outbox, one transaction per plan) and
//!   the sender (outbox → S3 → delivered), retries with backoff, error state
//!   and one alert per problem.

pub mod error;
pub mod payload;
pub mod s3;
pub mod smtp;
pub mod worker;

pub use error::{DeliveryError, Problem};
