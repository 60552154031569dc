//! `vigil qualys check|ingest` and the Qualys run of `vigil serve`'s
//! executor: both read Qualys with `vigil_qualys` on a blocking thread and
//! store what it reads through [`ingest`], which hands batches over a
//! bounded channel to the store (so parsing overlaps storing and memory
//! stays flat), and stops the ingest when the store fails.

use crate::setup::{open_store, runtime, Failure, Result, EXIT_FAILURES};
use crate::{Cli, Format};
use clap::Subcommand;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;
use vigil_model::qualys::QualysBatch;
use vigil_model::Timestamp;
use vigil_qualys::ingest::IngestReport;
use vigil_qualys::{Client, QualysError, Sink};
use vigil_server::qualys::QualysSettings;
use vigil_store::connectors::{Authentication, CollectionError, RunOutcome};
use vigil_store::Store;

/// Batches in flight between the Qualys reader and the store.
const CHANNEL_BATCHES: usize = 4;

/// The environment variable holding the password by default.
pub const PASSWORD_ENV: &str = "VIGIL_QUALYS_PASSWORD";

#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Call every endpoint the connector uses once and print, per endpoint,
    /// OK or the problem and its fix (exit 1 when any failed).
    Check(CommonArgs),
    /// Ingest hosts, detections, knowledge base, Policy Compliance, web apps
    /// and container images into the store.
    Ingest(IngestArgs),
}

#[derive(clap::Args, Debug)]
pub struct CommonArgs {
    /// The connector's settings, TOML or JSON (.json): the keys of the API's
    /// `qualys` object without the password (see docs/qualys.md).
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
    /// The environment variable that holds the Qualys password.
    #[arg(long = "password-env", value_name = "VAR", default_value = PASSWORD_ENV)]
    pub password_env: String,
}

#[derive(clap::Args, Debug)]
pub struct IngestArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// The connector the data is stored under: the id of the stored Qualys
    /// connector of that name when there is one, otherwise the name itself;
    /// default: qualys-<account_name, or username>.
    #[arg(long, value_name = "NAME")]
    pub connector: Option<String>,
}

/// What one ingest stored.
#[derive(Debug)]
pub struct Ingested {
    /// What the connector read (records per kind, failed families).
    pub report: IngestReport,
    /// Records the store wrote per kind.
    pub stored: BTreeMap<String, u64>,
}

/// Why an ingest stopped.
#[derive(Debug)]
pub enum IngestFailure {
    /// Qualys could not be read (the error says what to do).
    Qualys(QualysError),
    /// The store refused a batch.
    Store(String),
}

impl std::fmt::Display for IngestFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            IngestFailure::Qualys(e) => write!(f, "Qualys: {e}"),
            IngestFailure::Store(e) => write!(f, "store: {e}"),
        }
    }
}

/// Hands batches to the store's task; fails when it has stopped.
struct ChannelSink(tokio::sync::mpsc::Sender<QualysBatch>);

impl Sink for ChannelSink {
    fn put(&self, batch: QualysBatch) -> std::result::Result<(), String> {
        self.0
            .blocking_send(batch)
            .map_err(|_| "the store stopped taking records".to_string())
    }
}

/// Reads Qualys with `settings` and `password` on a blocking thread and
/// stores every batch under `connector_id` as it comes.
pub async fn ingest(
    store: &dyn Store,
    connector_id: &str,
    settings: &QualysSettings,
    password: &str,
    now: Timestamp,
) -> std::result::Result<Ingested, IngestFailure> {
    let connection = settings.connection();
    let options = settings.options.clone();
    let client = Client::new(&connection, password, options.max_retries);
    let (tx, mut rx) = tokio::sync::mpsc::channel::<QualysBatch>(CHANNEL_BATCHES);
    let reader = tokio::task::spawn_blocking(move || {
        let sink = ChannelSink(tx);
        vigil_qualys::ingest::run(&client, &options, now, &sink)
    });
    let mut stored: BTreeMap<String, u64> = BTreeMap::new();
    let mut store_error = None;
    while let Some(batch) = rx.recv().await {
        match store
            // Each batch is stamped when it is written: S3 delivery plans
            // what changed by this time (`last_seen`), so a long run's
            // batches must not all carry its start.
            .qualys_ingest(
                connector_id,
                &connection.account_name,
                &batch,
                chrono::Utc::now().max(now),
            )
            .await
        {
            Ok(n) => *stored.entry(batch.kind().to_string()).or_default() += n,
            Err(e) => {
                store_error = Some(e.to_string());
                break;
            }
        }
    }
    // The reader's next put fails once the receiver is gone.
    drop(rx);
    let read = reader.await.map_err(|e| {
        IngestFailure::Qualys(QualysError::Stopped(format!("the reader stopped: {e}")))
    })?;
    if let Some(e) = store_error {
        return Err(IngestFailure::Store(e));
    }
    let report = read.map_err(IngestFailure::Qualys)?;
    Ok(Ingested { report, stored })
}

/// The run of a Qualys connector for `vigil serve`'s executor. Completed:
/// `resources` = hosts, `evaluations` = detections the connector holds
/// after the run (the store's summary); each failed
/// family is an error `qualys:<family>`. Failed when Qualys could not be
/// read at all or the store failed.
pub async fn run_connector(job: &vigil_server::worker::RunJob) -> RunOutcome {
    let failed = |service: &str, message: String| RunOutcome::Failed {
        errors: vec![CollectionError {
            service: service.into(),
            region: String::new(),
            message,
        }],
    };
    let settings = match QualysSettings::of(&job.connector) {
        Some(Ok(s)) => s,
        Some(Err(e)) => return failed("vigil", e),
        None => return failed("vigil", "not a Qualys connector".into()),
    };
    let Some(password) = job.qualys_password.as_deref() else {
        return failed(
            "vigil",
            "the connector's password could not be opened".into(),
        );
    };
    match ingest(
        job.store.as_ref(),
        &job.connector.id,
        &settings,
        password,
        chrono::Utc::now(),
    )
    .await
    {
        Ok(done) => {
            // What the connector holds after the run (distinct records; a
            // host read from both the host list and the QPS host assets
            // counts once).
            let held = match job.store.qualys_summary(&job.connector.id).await {
                Ok(held) => held,
                Err(e) => return failed("vigil", format!("the store failed: {e}")),
            };
            let count = |kind: &str| held.get(kind).copied().unwrap_or(0);
            RunOutcome::Completed {
                resources: count("hosts"),
                evaluations: count("detections"),
                errors: done
                    .report
                    .errors
                    .iter()
                    .map(|(family, e)| CollectionError {
                        service: format!("qualys:{family}"),
                        region: String::new(),
                        message: e.to_string(),
                    })
                    .collect(),
            }
        }
        Err(IngestFailure::Qualys(e)) => failed("qualys", e.to_string()),
        Err(IngestFailure::Store(e)) => failed("vigil", format!("the store failed: {e}")),
    }
}

/// Reads a settings file (TOML, or JSON when it ends in `.json` or starts
/// with `{`); errors name the file, the line and the field.
pub fn read_settings(path: &Path) -> Result<QualysSettings> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Failure::input(format!(
            "cannot read the Qualys config file {}: {e}",
            path.display()
        ))
    })?;
    let file = path.display();
    let hint = |message: String| {
        if message.contains("`password`") {
            format!("{message} (the password is not kept in the file: set {PASSWORD_ENV} or name another variable with --password-env)")
        } else {
            message
        }
    };
    let json = path.extension().is_some_and(|e| e == "json") || text.trim_start().starts_with('{');
    let settings: QualysSettings = if json {
        let mut de = serde_json::Deserializer::from_str(&text);
        serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let at = e.path().to_string();
            let inner = e.into_inner();
            let field = if at == "." {
                String::new()
            } else {
                format!(" {at}:")
            };
            Failure::input(hint(format!("{file}:{}:{field} {inner}", inner.line())))
        })?
    } else {
        toml::from_str(&text).map_err(|e| {
            let line = e
                .span()
                .map(|s| text.get(..s.start).unwrap_or(&text).matches('\n').count() + 1)
                .map(|l| format!(":{l}"))
                .unwrap_or_default();
            Failure::input(hint(format!("{file}{line}: {}", e.message().trim())))
        })?
    };
    settings
        .validate("")
        .map_err(|e| Failure::input(format!("{file}: {}: {}", e.field, e.message)))?;
    Ok(settings)
}

fn password(var: &str) -> Result<String> {
    match std::env::var(var) {
        Ok(p) if !p.is_empty() => Ok(p),
        _ => Err(Failure::input(format!(
            "set {var} to the Qualys user's password (or name another variable with --password-env)"
        ))),
    }
}

pub fn run(cli: &Cli, cmd: &Cmd) -> Result<ExitCode> {
    match cmd {
        Cmd::Check(args) => check(cli, args),
        Cmd::Ingest(args) => ingest_command(cli, args),
    }
}

#[derive(Serialize)]
struct ProbeView<'a> {
    what: &'a str,
    endpoint: &'a str,
    ok: bool,
    problem: Option<&'a str>,
}

fn check(cli: &Cli, args: &CommonArgs) -> Result<ExitCode> {
    let settings = read_settings(&args.config)?;
    let password = password(&args.password_env)?;
    let client = Client::new(
        &settings.connection(),
        &password,
        settings.options.max_retries,
    );
    let probes = vigil_qualys::check::check(&client, &settings.options);
    let failed = probes.iter().filter(|p| p.problem.is_some()).count();
    if cli.format == Format::Json {
        let views: Vec<ProbeView> = probes
            .iter()
            .map(|p| ProbeView {
                what: &p.what,
                endpoint: &p.endpoint,
                ok: p.problem.is_none(),
                problem: p.problem.as_deref(),
            })
            .collect();
        let text = serde_json::to_string_pretty(&views).map_err(Failure::input)?;
        println!("{text}");
    } else {
        println!(
            "Qualys API {} as {}:",
            settings.connection().base_url(),
            settings.username
        );
        for p in &probes {
            match &p.problem {
                None => println!("OK      {:<28} {}", p.what, p.endpoint),
                Some(problem) => {
                    println!("FAILED  {:<28} {}\n        {problem}", p.what, p.endpoint)
                }
            }
        }
        println!(
            "{} endpoints checked, {} OK, {failed} failed",
            probes.len(),
            probes.len() - failed
        );
    }
    Ok(if failed > 0 {
        ExitCode::from(EXIT_FAILURES)
    } else {
        ExitCode::SUCCESS
    })
}

fn ingest_command(cli: &Cli, args: &IngestArgs) -> Result<ExitCode> {
    let settings = read_settings(&args.common.config)?;
    let password = password(&args.common.password_env)?;
    let name = args.connector.clone().unwrap_or_else(|| {
        let who = if settings.account_name.trim().is_empty() {
            &settings.username
        } else {
            &settings.account_name
        };
        format!("qualys-{}", who.trim())
    });
    runtime()?.block_on(async {
        let store = open_store(cli).await?;
        // A stored Qualys connector of that name: its data, its id.
        let connector_id = store
            .connectors()
            .await
            .map_err(Failure::store)?
            .into_iter()
            .find(|c| c.name == name && matches!(c.authentication, Authentication::Qualys { .. }))
            .map_or_else(|| name.clone(), |c| c.id);
        let started = Instant::now();
        let done = ingest(
            store.as_ref(),
            &connector_id,
            &settings,
            &password,
            chrono::Utc::now(),
        )
        .await
        .map_err(|e| match e {
            IngestFailure::Qualys(e) => Failure::input(format!("Qualys: {e}")),
            IngestFailure::Store(e) => Failure::store(e),
        })?;
        let seconds = started.elapsed().as_secs_f64();
        let detections = done.report.counts.get("detections").copied().unwrap_or(0);
        let rate = if seconds > 0.0 {
            detections as f64 / seconds
        } else {
            0.0
        };
        // What the connector holds now: a host read from both host APIs,
        // or a record read again on a later run, is one row.
        let held = store
            .qualys_summary(&connector_id)
            .await
            .map_err(Failure::store)?;
        if cli.format == Format::Json {
            let errors: Vec<serde_json::Value> = done
                .report
                .errors
                .iter()
                .map(|(family, e)| serde_json::json!({"family": family, "message": e.to_string()}))
                .collect();
            let doc = serde_json::json!({
                "connector": connector_id,
                "counts": done.report.counts,
                "stored": done.stored,
                "in_store": held,
                "seconds": seconds,
                "detections_per_second": rate,
                "errors": errors,
            });
            let text = serde_json::to_string_pretty(&doc).map_err(Failure::input)?;
            println!("{text}");
        } else {
            println!(
                "Qualys ingest into connector {connector_id} ({} store): {:.1} s, {:.0} detections/s",
                store.backend(),
                seconds,
                rate
            );
            println!("  {:<14} {:>10} {:>10}", "kind", "read", "in store");
            for (kind, n) in &done.report.counts {
                let kept = held.get(kind).copied().unwrap_or(0);
                println!("  {kind:<14} {n:>10} {kept:>10}");
            }
            if !done.report.errors.is_empty() {
                println!("\nFamilies that could not be read (the others were ingested):");
                for (family, e) in &done.report.errors {
                    println!("  {family}: {e}");
                }
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}
