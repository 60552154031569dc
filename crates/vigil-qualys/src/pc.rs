//! (to be written)

use crate::{Client, Options, QualysError, Sink};
use vigil_model::Timestamp;

/// Ingests this family; returns records per kind.
pub fn ingest(
    client: &Client,
    options: &Options,
    now: Timestamp,
    sink: &dyn Sink,
) -> Result<std::collections::BTreeMap<String, u64>, QualysError> {
    let _ = (client, options, now, sink);
    Ok(Default::default())
}

/// One minimal call per endpoint of this family, for `check`.
pub fn probes(_: &Client, _: &Options) -> Vec<(String, crate::http::Call)> {
    Vec::new()
}
