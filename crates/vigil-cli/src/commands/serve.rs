//! `vigil serve`: the REST API (see docs/api.md) on the same store as the
//! other commands. Thin glue over `vigil-server`.

use super::executor::AwsExecutor;
use crate::setup::{catalog, open_store, runtime, Failure, Result};
use crate::Cli;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use vigil_server::secrets::SecretKey;
use vigil_server::worker::WorkerConfig;
use vigil_server::{AdminBootstrap, Config, Server};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The address and port to listen on (port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:8080", value_name = "ADDR")]
    pub listen: SocketAddr,
    /// This node's id in run leases; default: hostname, process id and a
    /// random suffix.
    #[arg(long = "node-id", env = "VIGIL_NODE_ID", value_name = "ID")]
    pub node_id: Option<String>,
    /// Seconds a node holds a run without renewing its lease; after that
    /// another node takes the run over.
    #[arg(long = "run-lease-seconds", env = "VIGIL_RUN_LEASE_SECONDS", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(3..=3600))]
    pub run_lease_seconds: u64,
    /// Seconds between two looks for due and queued runs.
    #[arg(long = "worker-tick-seconds", env = "VIGIL_WORKER_TICK_SECONDS", default_value_t = 5,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub worker_tick_seconds: u64,
}

pub fn run(cli: &Cli, args: &Args) -> Result<ExitCode> {
    runtime()?.block_on(async {
        let store: Arc<dyn vigil_store::Store> = Arc::from(open_store(cli).await?);
        let admin_password = std::env::var("VIGIL_ADMIN_PASSWORD").ok();
        let secret_key = SecretKey::from_env().map_err(Failure::input)?;
        let executor = AwsExecutor::new(catalog(cli)?);
        let config = Config {
            listen: args.listen,
            admin_password,
            secret_key,
            executor: Some(Arc::new(executor)),
            worker: WorkerConfig {
                node_id: args.node_id.clone(),
                tick: Duration::from_secs(args.worker_tick_seconds),
                lease: Duration::from_secs(args.run_lease_seconds),
            },
            ..Config::default()
        };
        let server = Server::bind(store.clone(), config)
            .await
            .map_err(Failure::store)?;
        match &server.bootstrap {
            AdminBootstrap::Existing => {}
            AdminBootstrap::FromEnvironment => {
                eprintln!("created the Manager account `admin` with the password from VIGIL_ADMIN_PASSWORD")
            }
            AdminBootstrap::Generated(password) => eprintln!(
                "created the Manager account `admin` with the one-time password: {password}\n\
                 (it is shown only now; it cannot be shown again)"
            ),
        }
        println!(
            "vigil API ({} store) listening on http://{}",
            store.backend(),
            server.local_addr()
        );
        server
            .serve(vigil_server::shutdown_signal())
            .await
            .map_err(Failure::store)?;
        eprintln!("vigil API stopped");
        Ok(ExitCode::SUCCESS)
    })
}
