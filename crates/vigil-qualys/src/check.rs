//! `vigil qualys check`: every endpoint the connector uses, called once
//! with the configured credentials and the smallest page, and read to the
//! end; per endpoint OK or the exact problem with its fix.

use crate::http::Call;
use crate::{containers, pc, vm, was, Client, Options};

/// The outcome of one endpoint's check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    /// What the endpoint gives (e.g. "Hosts").
    pub what: String,
    pub endpoint: String,
    /// `None`: OK; otherwise the exact problem and its fix.
    pub problem: Option<String>,
}

/// Every probe of every family (whatever the options enable: a check says
/// whether each API would work).
pub fn all_probes(client: &Client, options: &Options) -> Vec<(String, Call)> {
    let mut v = vm::probes(client, options);
    v.extend(pc::probes(client, options));
    v.extend(was::probes(client, options));
    v.extend(containers::probes(client, options));
    v
}

/// Calls every endpoint; a probe whose whole body parses is OK.
pub fn check(client: &Client, options: &Options) -> Vec<Probe> {
    let timeout = client.connection().timeout_seconds;
    all_probes(client, options)
        .into_iter()
        .map(|(what, call)| {
            let problem = client
                .send(&call)
                .and_then(|body| vm::drain(body, timeout))
                .err()
                .map(|e| e.to_string());
            Probe {
                what,
                endpoint: call.endpoint.clone(),
                problem,
            }
        })
        .collect()
}
