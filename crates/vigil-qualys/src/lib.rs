//! The Qualys connector (issue 6): calls Qualys' APIs with the connector's
//! settings and hands what it reads to a [`Sink`] in small batches, so that
//! memory stays flat however large the subscription is.
//!
//! - [`options`]: settings and options with the seeds' defaults;
//! - [`http`]: the client (auth, rate limits, retries, errors in 200 bodies);
//! - [`error`]: every failure with what to do about it (seed 003's table);
//! - [`vm`]: hosts (fo and QPS host assets), VM detections, knowledge base;
//! - [`pc`]: Policy Compliance policies, controls, postures;
//! - [`was`]: web applications and their findings;
//! - [`containers`]: container images and their vulnerabilities;
//! - `xml`: the streaming XML walker, batcher and dates they all use;
//! - [`ingest`]: one run over all of them, with parallel requests;
//! - [`check`]: `vigil qualys check`, every endpoint once, OK or the fix.

pub mod check;
pub mod containers;
pub mod error;
pub mod http;
pub mod ingest;
pub mod options;
pub mod pc;
pub mod vm;
pub mod was;
mod xml;

pub use error::QualysError;
pub use http::Client;
pub use options::{ApiVersions, Connection, HostOptions, InvalidSetting, Options, PcOptions};
use vigil_model::qualys::QualysBatch;

/// Where ingested records go (the store, in the server and the CLI). A sink
/// is called from the connector's worker threads; an error stops the
/// ingest with [`QualysError::Stopped`].
pub trait Sink: Send + Sync {
    fn put(&self, batch: QualysBatch) -> Result<(), String>;
}
