//! The scheduler and worker of connector runs, one per node.
//!
//! Every tick (and whenever this node queues a run) the worker queues the
//! scheduled runs that are due, then claims runs one at a time with a lease
//! and executes them, renewing the lease every third of its duration. A
//! node that dies stops renewing; after the lease ends another node claims
//! the run again (takeover) and completes it. A node that finds it lost its
//! lease abandons the run; only the lease holder can finish a run, so each
//! run ends exactly once.
//!
//! What a run does is a [`RunExecutor`]: `vigil serve` gives the AWS one
//! (in `vigil-cli`, so this crate does not depend on the AWS SDK).

use crate::AppState;
use async_trait::async_trait;
use std::sync::Arc;
use std::time::Duration;
use vigil_store::connectors::{CollectionError, ConnectorRecord, RunOutcome, RunRecord};
use vigil_store::{Store, StoreError};

/// What an executor gets for one run.
pub struct RunJob {
    pub run: RunRecord,
    pub connector: ConnectorRecord,
    /// The plaintext secret access key of an access-key connector.
    pub secret_access_key: Option<String>,
    /// The plaintext password of a Qualys connector.
    pub qualys_password: Option<String>,
    /// Where to record the collected resources and their evaluations
    /// (under the source `connector:<id>`).
    pub store: Arc<dyn Store>,
}

impl std::fmt::Debug for RunJob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunJob")
            .field("run", &self.run.id)
            .field("connector", &self.connector.id)
            .field("secret_access_key", &"<redacted>")
            .field("qualys_password", &"<redacted>")
            .finish()
    }
}

/// Collects a connector's account, evaluates it and records it in the store.
#[async_trait]
pub trait RunExecutor: Send + Sync + std::fmt::Debug {
    /// Executes one run; the outcome's counts are what was written.
    async fn execute(&self, job: RunJob) -> RunOutcome;
}

/// How the worker runs.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// This node's id in leases; default: hostname, process id and a random
    /// suffix.
    pub node_id: Option<String>,
    /// How often the worker looks for due and queued runs.
    pub tick: Duration,
    /// How long a claim lasts without renewal; another node takes a run
    /// over after it.
    pub lease: Duration,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        WorkerConfig {
            node_id: None,
            tick: Duration::from_secs(5),
            lease: Duration::from_secs(60),
        }
    }
}

/// A node id: hostname, process id and a random suffix.
pub fn default_node_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "vigil".into());
    let random = uuid::Uuid::new_v4().simple().to_string();
    format!("{host}-{}-{}", std::process::id(), &random[..8])
}

/// A run's task, aborted when the worker lets go of it (lease lost, or the
/// worker stopped).
struct AbortOnDrop(tokio::task::JoinHandle<RunOutcome>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// One node's worker.
pub struct Worker {
    pub node: String,
    config: WorkerConfig,
    executor: Arc<dyn RunExecutor>,
}

fn failure(message: impl Into<String>) -> RunOutcome {
    RunOutcome::Failed {
        errors: vec![CollectionError {
            service: "vigil".into(),
            region: String::new(),
            message: message.into(),
        }],
    }
}

fn lease_end(lease: Duration) -> chrono::DateTime<chrono::Utc> {
    chrono::Utc::now() + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::seconds(60))
}

impl Worker {
    /// A worker of `executor` set up by `config`.
    pub fn new(config: WorkerConfig, executor: Arc<dyn RunExecutor>) -> Worker {
        let node = config.node_id.clone().unwrap_or_else(default_node_id);
        Worker {
            node,
            config,
            executor,
        }
    }

    /// Runs until the task is dropped or aborted.
    pub async fn run(self, state: Arc<AppState>) {
        eprintln!("vigil serve: node {} runs connector runs", self.node);
        loop {
            if let Err(e) = self.tick(&state).await {
                eprintln!("vigil serve: node {}: {e}", self.node);
            }
            tokio::select! {
                _ = tokio::time::sleep(self.config.tick) => {}
                _ = state.worker_wake.notified() => {}
            }
        }
    }

    /// Queues the due scheduled runs, then executes runs until none is left.
    async fn tick(&self, state: &Arc<AppState>) -> Result<(), StoreError> {
        state.store.enqueue_due_runs(chrono::Utc::now()).await?;
        while let Some(run) = state
            .store
            .claim_run(&self.node, chrono::Utc::now(), lease_end(self.config.lease))
            .await?
        {
            self.execute(state, run).await;
        }
        Ok(())
    }

    /// Executes one claimed run with its lease renewed, and finishes it.
    async fn execute(&self, state: &Arc<AppState>, run: RunRecord) {
        let run_id = run.id.clone();
        eprintln!(
            "vigil serve: node {} runs {} (connector {}, attempt {})",
            self.node, run.id, run.connector_id, run.attempts
        );
        let outcome = match self.job(state, run).await {
            Ok(job) => self.renewing(state, &run_id, job).await,
            Err(outcome) => Some(outcome),
        };
        let Some(outcome) = outcome else { return };
        match state
            .store
            .finish_run(&run_id, &self.node, chrono::Utc::now(), &outcome)
            .await
        {
            Ok(done) => {
                state.metrics.run_finished(done.state, done.evaluations);
                eprintln!(
                    "vigil serve: run {run_id} {:?}: {} resources, {} evaluations, {} errors",
                    done.state,
                    done.resources.unwrap_or(0),
                    done.evaluations.unwrap_or(0),
                    done.errors.len()
                );
            }
            Err(e) => eprintln!("vigil serve: run {run_id} not finished by this node: {e}"),
        }
    }

    /// The job of `run`: its connector and decrypted secret, or the outcome
    /// of a run that cannot start.
    async fn job(&self, state: &Arc<AppState>, run: RunRecord) -> Result<RunJob, RunOutcome> {
        let connector = match state.store.connector(&run.connector_id).await {
            Ok(Some(c)) => c,
            Ok(None) => return Err(failure("the connector was deleted")),
            Err(e) => return Err(failure(format!("cannot read the connector: {e}"))),
        };
        use vigil_store::connectors::Authentication;
        let open = |sealed: &[u8], what: &str| {
            let key = state.secret_key.as_ref().ok_or_else(|| {
                failure(format!(
                    "the connector's {what} is sealed, but this node has no {}",
                    crate::secrets::SECRET_KEY_ENV
                ))
            })?;
            key.open(sealed).map_err(|e| failure(e.to_string()))
        };
        let (secret_access_key, qualys_password) = match &connector.authentication {
            Authentication::AccessKeys { sealed_secret, .. } => {
                (Some(open(sealed_secret, "secret access key")?), None)
            }
            Authentication::Qualys {
                sealed_password, ..
            } => (None, Some(open(sealed_password, "Qualys password")?)),
            _ => (None, None),
        };
        Ok(RunJob {
            run,
            connector,
            secret_access_key,
            qualys_password,
            store: state.store.clone(),
        })
    }

    /// The executor's outcome, with the lease renewed while it works; `None`
    /// when the lease was lost (another node took the run over).
    async fn renewing(
        &self,
        state: &Arc<AppState>,
        run_id: &str,
        job: RunJob,
    ) -> Option<RunOutcome> {
        // Its own task: a panic in the executor fails the run, not the worker.
        let executor = self.executor.clone();
        let mut work = AbortOnDrop(tokio::spawn(async move { executor.execute(job).await }));
        let mut renew = tokio::time::interval(self.config.lease / 3);
        renew.tick().await;
        loop {
            tokio::select! {
                outcome = &mut work.0 => {
                    return Some(outcome.unwrap_or_else(|e| failure(format!("the run stopped: {e}"))));
                }
                _ = renew.tick() => {
                    match state.store.renew_lease(run_id, &self.node, lease_end(self.config.lease)).await {
                        Ok(()) => {}
                        Err(StoreError::Conflict(m)) => {
                            eprintln!("vigil serve: abandoning run {run_id}: {m}");
                            return None;
                        }
                        Err(e) => eprintln!("vigil serve: cannot renew the lease of run {run_id}: {e}"),
                    }
                }
            }
        }
    }
}
