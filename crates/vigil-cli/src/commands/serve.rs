//! `vigil serve`: the REST API (see docs/api.md) on the same store as the
//! other commands. Thin glue over `vigil-server`.

use super::executor::AwsExecutor;
use crate::setup::{catalog, open_store_at, runtime, Failure, Result};
use crate::Cli;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use vigil_server::secrets::SecretKey;
use vigil_server::worker::WorkerConfig;
use vigil_server::{AdminBootstrap, Config, Server};

/// Every setting of `vigil serve`: given as an option, an environment
/// variable or a key of the `--config` file (in that order of precedence).
#[derive(clap::Args, Debug)]
pub struct Args {
    /// A TOML file of settings (keys: listen, database_url, node_id,
    /// run_lease_seconds, worker_tick_seconds, exception_sweep_seconds,
    /// login_limit, login_window_seconds); options and environment
    /// variables override it.
    #[arg(long, env = "VIGIL_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The address and port to listen on (port 0 picks a free one);
    /// default 127.0.0.1:8080.
    #[arg(long, env = "VIGIL_LISTEN", value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// This node's id in run leases; default: hostname, process id and a
    /// random suffix.
    #[arg(long = "node-id", env = "VIGIL_NODE_ID", value_name = "ID")]
    pub node_id: Option<String>,
    /// Seconds a node holds a run without renewing its lease; after that
    /// another node takes the run over (3–3600, default 60).
    #[arg(long = "run-lease-seconds", env = "VIGIL_RUN_LEASE_SECONDS",
          value_parser = clap::value_parser!(u64).range(3..=3600))]
    pub run_lease_seconds: Option<u64>,
    /// Seconds between two looks for due and queued runs (1–3600, default 5).
    #[arg(long = "worker-tick-seconds", env = "VIGIL_WORKER_TICK_SECONDS",
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub worker_tick_seconds: Option<u64>,
    /// Seconds between two checks of exceptions' start and end dates
    /// (1–3600, default 5).
    #[arg(long = "exception-sweep-seconds", env = "VIGIL_EXCEPTION_SWEEP_SECONDS",
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub exception_sweep_seconds: Option<u64>,
}

/// The `--config` file. Unknown keys are errors, so a typo never passes
/// silently.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub listen: Option<SocketAddr>,
    pub database_url: Option<String>,
    pub node_id: Option<String>,
    pub run_lease_seconds: Option<u64>,
    pub worker_tick_seconds: Option<u64>,
    pub exception_sweep_seconds: Option<u64>,
    pub login_limit: Option<u32>,
    pub login_window_seconds: Option<u64>,
}

impl FileConfig {
    /// Reads and checks `path`; errors name the file, line and key.
    pub fn read(path: &Path) -> Result<FileConfig> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Failure::input(format!(
                "cannot read the config file {}: {e}",
                path.display()
            ))
        })?;
        let config: FileConfig = toml::from_str(&text).map_err(|e| {
            let at = e
                .span()
                .map(|s| {
                    let before = text.get(..s.start).unwrap_or(&text);
                    let line = before.matches('\n').count() + 1;
                    format!(":{line}")
                })
                .unwrap_or_default();
            Failure::input(format!(
                "{}{at}: {} (keys: listen, database_url, node_id, run_lease_seconds, worker_tick_seconds, exception_sweep_seconds, login_limit, login_window_seconds)",
                path.display(),
                e.message()
            ))
        })?;
        let ranges: [(&str, Option<u64>, u64, u64); 4] = [
            ("run_lease_seconds", config.run_lease_seconds, 3, 3600),
            ("worker_tick_seconds", config.worker_tick_seconds, 1, 3600),
            (
                "exception_sweep_seconds",
                config.exception_sweep_seconds,
                1,
                3600,
            ),
            (
                "login_window_seconds",
                config.login_window_seconds,
                1,
                86400,
            ),
        ];
        for (key, value, low, high) in ranges {
            if let Some(v) = value {
                if !(low..=high).contains(&v) {
                    return Err(Failure::input(format!(
                        "{}: `{key}` must be between {low} and {high}, not {v}",
                        path.display()
                    )));
                }
            }
        }
        if config.login_limit == Some(0) {
            return Err(Failure::input(format!(
                "{}: `login_limit` must be at least 1",
                path.display()
            )));
        }
        Ok(config)
    }
}

pub fn run(cli: &Cli, args: &Args) -> Result<ExitCode> {
    let file = match &args.config {
        Some(path) => FileConfig::read(path)?,
        None => FileConfig::default(),
    };
    let defaults = Config::default();
    runtime()?.block_on(async {
        let database = cli.database.as_deref().or(file.database_url.as_deref());
        let store: Arc<dyn vigil_store::Store> = Arc::from(open_store_at(cli, database).await?);
        let admin_password = std::env::var("VIGIL_ADMIN_PASSWORD").ok();
        let secret_key = SecretKey::from_env().map_err(Failure::input)?;
        let executor = AwsExecutor::new(catalog(cli)?);
        let seconds = |arg: Option<u64>, key: Option<u64>, default: Duration| {
            arg.or(key).map_or(default, Duration::from_secs)
        };
        let config = Config {
            listen: args.listen.or(file.listen).unwrap_or(defaults.listen),
            admin_password,
            secret_key,
            executor: Some(Arc::new(executor)),
            worker: WorkerConfig {
                node_id: args.node_id.clone().or(file.node_id.clone()),
                tick: seconds(args.worker_tick_seconds, file.worker_tick_seconds, defaults.worker.tick),
                lease: seconds(args.run_lease_seconds, file.run_lease_seconds, defaults.worker.lease),
            },
            exception_sweep: seconds(
                args.exception_sweep_seconds,
                file.exception_sweep_seconds,
                defaults.exception_sweep,
            ),
            login_limit: file.login_limit.unwrap_or(defaults.login_limit),
            login_window: seconds(None, file.login_window_seconds, defaults.login_window),
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
