//! Shared by the pc, was and containers tests: one family's ingest against
//! the stand-in, its batches collected.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::Mutex;
use vigil_model::qualys::QualysBatch;
use vigil_model::Timestamp;
use vigil_qualys::{ApiVersions, Client, Connection, Options, QualysError, Sink};
use vigil_qualys_standin::StandIn;

/// A family's ingest function (`pc::ingest`, `was::ingest`, …).
pub type Ingest =
    fn(&Client, &Options, Timestamp, &dyn Sink) -> Result<BTreeMap<String, u64>, QualysError>;

#[derive(Default)]
pub struct Collect(pub Mutex<Vec<QualysBatch>>);

impl Sink for Collect {
    fn put(&self, batch: QualysBatch) -> Result<(), String> {
        self.0.lock().unwrap().push(batch);
        Ok(())
    }
}

/// What one ingest returned and handed on.
#[derive(Debug)]
pub struct Run {
    pub result: Result<BTreeMap<String, u64>, QualysError>,
    pub batches: Vec<QualysBatch>,
}

impl Run {
    /// Every record of the batches `pick` selects, in order.
    pub fn pick<T: Clone>(&self, pick: impl Fn(&QualysBatch) -> Option<&Vec<T>>) -> Vec<T> {
        self.batches
            .iter()
            .filter_map(pick)
            .flat_map(|v| v.iter().cloned())
            .collect()
    }
}

/// The stand-in as API server and gateway.
pub fn connection(url: &str) -> Connection {
    Connection {
        api_url: url.to_string(),
        username: "vigil_qa".into(),
        gateway_url: url.to_string(),
        account_name: "qa".into(),
        api_versions: ApiVersions::default(),
        timeout_seconds: 10,
    }
}

/// Runs `ingest` against the stand-in on a blocking thread.
pub async fn run_family(
    standin: &StandIn,
    options: Options,
    password: &str,
    now: Timestamp,
    ingest: Ingest,
) -> Run {
    let conn = connection(&standin.url);
    let password = password.to_string();
    tokio::task::spawn_blocking(move || {
        let client = Client::new(&conn, &password, options.max_retries).with_wait_scale(0.0);
        let sink = Collect::default();
        let result = ingest(&client, &options, now, &sink);
        Run {
            result,
            batches: sink.0.into_inner().unwrap(),
        }
    })
    .await
    .unwrap()
}
