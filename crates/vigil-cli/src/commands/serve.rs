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
    /// login_limit, login_window_seconds, pod, delivery_aws_endpoint,
    /// delivery_aws_profile, delivery_tick_ms, smtp_url, smtp_from);
    /// options and environment variables override it.
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
    /// S3 delivery: the POD that starts every external id
    /// (`<POD>-<customerId>-<uuid>`, seed 000); default VIGIL_POD_1.
    #[arg(long, env = "VIGIL_POD", value_name = "NAME")]
    pub pod: Option<String>,
    /// S3 delivery: an endpoint for STS and S3 instead of AWS (e.g. a moto
    /// server); Vigil's own identity comes from the standard AWS credential
    /// chain.
    #[arg(
        long = "delivery-aws-endpoint",
        env = "VIGIL_DELIVERY_AWS_ENDPOINT",
        value_name = "URL"
    )]
    pub delivery_aws_endpoint: Option<String>,
    /// S3 delivery: a profile of the shared AWS config files for Vigil's own
    /// identity instead of the default chain.
    #[arg(
        long = "delivery-aws-profile",
        env = "VIGIL_DELIVERY_AWS_PROFILE",
        value_name = "NAME"
    )]
    pub delivery_aws_profile: Option<String>,
    /// Milliseconds between two looks for changes to deliver and objects
    /// due (100–60000, default 1000).
    #[arg(long = "delivery-tick-ms", env = "VIGIL_DELIVERY_TICK_MS",
          value_parser = clap::value_parser!(u64).range(100..=60000))]
    pub delivery_tick_ms: Option<u64>,
    /// At most this many hosts (or findings) per delivered object
    /// (1–100000, default 1000).
    #[arg(long = "delivery-object-lines", env = "VIGIL_DELIVERY_OBJECT_LINES",
          value_parser = clap::value_parser!(u64).range(1..=100000))]
    pub delivery_object_lines: Option<u64>,
    /// Do not run S3 delivery on this node (another node does).
    #[arg(long = "no-delivery", env = "VIGIL_NO_DELIVERY")]
    pub no_delivery: bool,
    /// The SMTP server of alert e-mails: smtp://[user:password@]host[:port];
    /// without it alerts are only logged.
    #[arg(long = "smtp-url", env = "VIGIL_SMTP_URL", value_name = "URL")]
    pub smtp_url: Option<String>,
    /// The sender of alert e-mails (default vigil@localhost).
    #[arg(long = "smtp-from", env = "VIGIL_SMTP_FROM", value_name = "ADDRESS")]
    pub smtp_from: Option<String>,
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
    pub pod: Option<String>,
    pub delivery_aws_endpoint: Option<String>,
    pub delivery_aws_profile: Option<String>,
    pub delivery_tick_ms: Option<u64>,
    pub smtp_url: Option<String>,
    pub smtp_from: Option<String>,
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
                "{}{at}: {} (keys: listen, database_url, node_id, run_lease_seconds, worker_tick_seconds, exception_sweep_seconds, login_limit, login_window_seconds, pod, delivery_aws_endpoint, delivery_aws_profile, delivery_tick_ms, smtp_url, smtp_from)",
                path.display(),
                e.message()
            ))
        })?;
        let ranges: [(&str, Option<u64>, u64, u64); 5] = [
            ("delivery_tick_ms", config.delivery_tick_ms, 100, 60000),
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
        if let Some(pod) = &config.pod {
            check_pod(pod)
                .map_err(|e| Failure::input(format!("{}: `pod`: {e}", path.display())))?;
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

/// A POD name: letters, digits and underscores (it is the first part of
/// external ids, split from the rest by `-`).
fn check_pod(pod: &str) -> std::result::Result<(), String> {
    if pod.is_empty()
        || pod.len() > 32
        || !pod.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        return Err(format!(
            "`{pod}` is not a POD name: use 1–32 letters, digits and underscores, e.g. VIGIL_POD_1"
        ));
    }
    Ok(())
}

/// The S3 delivery settings from the options, the environment and the file.
fn delivery_settings(args: &Args, file: &FileConfig) -> Result<vigil_server::DeliverySettings> {
    let defaults = vigil_server::DeliverySettings::default();
    let pod = args
        .pod
        .clone()
        .or(file.pod.clone())
        .unwrap_or(defaults.pod);
    check_pod(&pod).map_err(|e| Failure::input(format!("--pod: {e}")))?;
    let smtp = match args.smtp_url.as_deref().or(file.smtp_url.as_deref()) {
        Some(url) => {
            let from = args
                .smtp_from
                .as_deref()
                .or(file.smtp_from.as_deref())
                .unwrap_or("vigil@localhost");
            Some(
                vigil_delivery::smtp::SmtpSettings::parse(url, from)
                    .map_err(|e| Failure::input(format!("--smtp-url: {e}")))?,
            )
        }
        None => None,
    };
    Ok(vigil_server::DeliverySettings {
        pod,
        aws: vigil_delivery::s3::AwsSettings {
            endpoint_url: args
                .delivery_aws_endpoint
                .clone()
                .or(file.delivery_aws_endpoint.clone()),
            profile: args
                .delivery_aws_profile
                .clone()
                .or(file.delivery_aws_profile.clone()),
        },
        smtp,
        run: !args.no_delivery,
        tick: args
            .delivery_tick_ms
            .or(file.delivery_tick_ms)
            .map_or(defaults.tick, Duration::from_millis),
        max_object_lines: args
            .delivery_object_lines
            .map_or(defaults.max_object_lines, |n| n as usize),
    })
}

pub fn run(cli: &Cli, args: &Args) -> Result<ExitCode> {
    let file = match &args.config {
        Some(path) => FileConfig::read(path)?,
        None => FileConfig::default(),
    };
    let defaults = Config::default();
    let delivery = delivery_settings(args, &file)?;
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
            delivery,
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
