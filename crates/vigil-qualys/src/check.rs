//! `vigil qualys check` (to be written): every endpoint the connector uses,
//! called once with the configured credentials.

use crate::{Client, Options};

/// The outcome of one endpoint's check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    /// What the endpoint gives (e.g. "Hosts").
    pub what: String,
    pub endpoint: String,
    /// `None`: OK; otherwise the exact problem and its fix.
    pub problem: Option<String>,
}

/// Calls every endpoint the options would use.
pub fn check(client: &Client, options: &Options) -> Vec<Probe> {
    let _ = (client, options);
    Vec::new()
}
