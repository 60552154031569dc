//! `vigil iac`: scan infrastructure as code with the same catalogue as live
//! accounts, with the commands and options of seed 001's `qiac` (`scan`,
//! `getresult`, `listscans`, `config`). Without a platform URL, scans run
//! locally and are kept in the store; with one (`-a`, or a config file),
//! they go to a Vigil server (`remote`); see docs/iac.md.

mod config;
mod load;
mod remote;

use super::pipeline;
use crate::output::Rows;
use crate::setup::{open_store, runtime, Failure, Result, EXIT_FAILURES, EXIT_INPUT};
use crate::{Cli, Format};
use clap::{Subcommand, ValueEnum};
use config::{Platform, PlatformArgs};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use vigil_engine::Catalog;
use vigil_iac::report::{self, Document, Meta};
use vigil_model::{EvalResult, Origin};
use vigil_store::IacScanRecord;

#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Scan Terraform, Terraform plan JSON and CloudFormation files,
    /// directories and archives.
    Scan(ScanArgs),
    /// Print the result of a kept scan.
    Getresult(GetArgs),
    /// List kept scans, or one.
    Listscans(ListArgs),
    /// Write the platform settings file (`~/.vigil-iac.yaml` or `-c`).
    Config(ConfigArgs),
}

/// Output formats of `vigil iac` (`-m`); without `-m`, the global
/// `--format`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum IacFormat {
    Table,
    Json,
    Csv,
    Sarif,
    Junit,
    Ocsf,
}

#[derive(clap::Args, Debug)]
pub struct ScanArgs {
    /// A name for the scan.
    #[arg(short = 'n', long = "scan_name", alias = "scan-name")]
    pub name: String,
    /// A file, directory or archive to scan (repeatable).
    #[arg(short = 'd', long = "path", required = true)]
    pub paths: Vec<PathBuf>,
    /// Only files whose path matches this regular expression.
    #[arg(short = 'f', long = "filter")]
    pub filter: Option<String>,
    /// Evaluate only the controls of this policy (`-pn` works too).
    #[arg(long = "policy_name", alias = "policy-name", visible_alias = "pn")]
    pub policy: Option<String>,
    /// Output format (default: the global --format).
    #[arg(short = 'm', id = "iac_format", value_name = "FORMAT", value_enum)]
    pub format: Option<IacFormat>,
    /// Save the scan response as scan_response_<scanId>.json in the current directory.
    #[arg(short = 's', long = "save_output", alias = "save-output")]
    pub save: bool,
    /// Show failed checks only.
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Tags for the scan, as JSON: '[{"env":"linux"}, {"team":"infra"}]'.
    #[arg(short = 'g', long = "tag")]
    pub tags: Option<String>,
    /// Exit with 1 only for failures of this criticality or higher (none: never).
    #[arg(
        long = "fail-on",
        value_name = "HIGH|MEDIUM|LOW|none",
        default_value = "LOW"
    )]
    pub fail_on: String,
    /// Report failures but exit 0 for them (parse errors still exit 2).
    #[arg(long = "soft-fail")]
    pub soft_fail: bool,
    /// With a server (`-a`): print the scan id once uploaded, without
    /// waiting for the result (`-as`). A local scan finishes before the
    /// command returns.
    #[arg(long = "async")]
    pub asynchronous: bool,
    /// A Terraform variable, NAME=VALUE (repeatable).
    #[arg(long = "var", value_name = "NAME=VALUE")]
    pub vars: Vec<String>,
    /// A Terraform variables file (.tfvars or .tfvars.json; repeatable).
    #[arg(long = "var-file", value_name = "FILE")]
    pub var_files: Vec<PathBuf>,
    #[command(flatten)]
    pub platform: PlatformArgs,
}

#[derive(clap::Args, Debug)]
pub struct GetArgs {
    /// The scan's id, as `scan` and `listscans` print it.
    #[arg(short = 'i', long = "scan_id", alias = "scan-id")]
    pub scan_id: String,
    /// Save the scan response as scan_response_<scanId>.json in the current directory.
    #[arg(short = 's', long = "save_output", alias = "save-output")]
    pub save: bool,
    /// Output format (default: the global --format).
    #[arg(short = 'm', id = "iac_format", value_name = "FORMAT", value_enum)]
    pub format: Option<IacFormat>,
    /// Show failed checks only.
    #[arg(short = 'q', long)]
    pub quiet: bool,
    #[command(flatten)]
    pub platform: PlatformArgs,
}

#[derive(clap::Args, Debug)]
pub struct ListArgs {
    /// Only this scan.
    #[arg(short = 'i', long = "scan_id", alias = "scan-id")]
    pub scan_id: Option<String>,
    /// Output format (default: the global --format).
    #[arg(short = 'm', id = "iac_format", value_name = "FORMAT", value_enum)]
    pub format: Option<IacFormat>,
    #[command(flatten)]
    pub platform: PlatformArgs,
}

#[derive(clap::Args, Debug)]
pub struct ConfigArgs {
    /// The Vigil server URL.
    #[arg(short = 'a', long = "platform_url", alias = "platform-url")]
    pub platform_url: String,
    /// User name.
    #[arg(short = 'u', long = "user")]
    pub user: String,
    /// Password.
    #[arg(short = 'p', long = "password")]
    pub password: String,
    /// Where to write: a file, or a directory for `.vigil-iac.yaml` in it
    /// (default: the home directory).
    #[arg(short = 'c', long = "config_file", alias = "config-file")]
    pub config_file: Option<PathBuf>,
}

/// Rewrites qiac's two-letter short options (`-pn`, `-as`) to their long
/// forms, which clap's one-letter shorts cannot express.
pub fn qiac_arguments(args: impl Iterator<Item = std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    args.map(|a| match a.to_str() {
        Some("-pn") => "--policy_name".into(),
        Some("-as") => "--async".into(),
        _ => a,
    })
    .collect()
}

pub fn run(cli: &Cli, cmd: &Cmd) -> Result<ExitCode> {
    match cmd {
        Cmd::Scan(a) => scan(cli, a),
        Cmd::Getresult(a) => getresult(cli, a),
        Cmd::Listscans(a) => listscans(cli, a),
        Cmd::Config(a) => configure(a),
    }
}

fn format(cli: &Cli, m: Option<IacFormat>) -> IacFormat {
    m.unwrap_or(match cli.format {
        Format::Table => IacFormat::Table,
        Format::Json => IacFormat::Json,
        Format::Csv => IacFormat::Csv,
        Format::Ocsf => IacFormat::Ocsf,
        Format::Sarif => IacFormat::Sarif,
        Format::Junit => IacFormat::Junit,
    })
}

/// The server a command goes to, signed in, when a platform URL is
/// configured; `None` to work locally.
fn server(args: &PlatformArgs) -> Result<Option<remote::Client>> {
    let cwd = std::env::current_dir().unwrap_or_default();
    match config::resolve(args, &cwd, dirs::home_dir().as_deref())? {
        Platform::Local => Ok(None),
        Platform::Remote {
            url,
            from,
            user,
            password,
        } => remote::Client::login(&url, &from, user.as_deref(), password.as_deref()).map(Some),
    }
}

fn configure(a: &ConfigArgs) -> Result<ExitCode> {
    let path = config::target(a.config_file.as_deref(), dirs::home_dir().as_deref())?;
    config::write(
        &path,
        &config::Settings {
            platform_url: a.platform_url.trim().to_string(),
            user: a.user.clone(),
            password: a.password.clone(),
        },
    )?;
    println!("wrote {}", path.display());
    Ok(ExitCode::SUCCESS)
}

/// Parses `-g`: a JSON array of objects with string values, or one object.
fn tags(text: Option<&str>) -> Result<serde_json::Value> {
    let Some(text) = text else {
        return Ok(serde_json::Value::Array(Vec::new()));
    };
    report::parse_tags(text).map_err(|why| {
        Failure::input(format!(
            "-g/--tag {text:?}: {why}; give JSON such as '[{{\"env\":\"linux\"}}, {{\"team\":\"infra\"}}]'"
        ))
    })
}

fn scan(cli: &Cli, args: &ScanArgs) -> Result<ExitCode> {
    let threshold = pipeline::fail_on(&args.fail_on)?;
    let tags = tags(args.tags.as_deref())?;
    if args.name.trim().is_empty() {
        return Err(Failure::input("-n/--scan_name is empty; name the scan"));
    }
    let filter = match &args.filter {
        Some(f) => Some(regex::Regex::new(f).map_err(|e| {
            Failure::input(format!("-f {f:?} is not a valid regular expression: {e}"))
        })?),
        None => None,
    };
    let inputs = load::inputs(&args.var_files, &args.vars)?;
    let meta = Meta {
        name: args.name.clone(),
        paths: args.paths.iter().map(|p| p.display().to_string()).collect(),
        policy: args.policy.clone(),
        tags,
    };
    let (mut doc, catalog) = match server(&args.platform)? {
        None => local_scan(cli, args, filter.as_ref(), &inputs, meta)?,
        Some(client) => {
            let gathered =
                vigil_iac::source::gather(&args.paths, filter.as_ref(), &Default::default());
            let launched = client.upload(
                &gathered,
                &remote::Upload {
                    name: &meta.name,
                    paths: &meta.paths,
                    policy: args.policy.as_deref(),
                    tags: args.tags.as_deref(),
                    vars: &args.vars,
                    var_files: &inputs.var_files,
                },
            )?;
            if args.asynchronous {
                println!(
                    "scan {} launched ({}); `vigil iac getresult -i {}` prints its result",
                    launched.scan_uuid, launched.status, launched.scan_uuid
                );
                return Ok(ExitCode::SUCCESS);
            }
            let doc = client.result(&launched.scan_uuid)?;
            (doc, crate::setup::catalog(cli)?)
        }
    };
    if args.save {
        save(&doc)?;
    }
    if args.quiet {
        // The store and -s keep every check; -q only trims what is shown.
        doc.only_failed();
    }
    render(&catalog, &doc, format(cli, args.format))?;
    report_errors(&doc);
    Ok(if !doc.parsing_errors.is_empty() {
        ExitCode::from(EXIT_INPUT)
    } else if doc.fails_at(threshold) && !args.soft_fail {
        ExitCode::from(EXIT_FAILURES)
    } else {
        ExitCode::SUCCESS
    })
}

/// Scans here and keeps the scan in the store: its document, and the
/// catalogue it was evaluated with.
fn local_scan(
    cli: &Cli,
    args: &ScanArgs,
    filter: Option<&regex::Regex>,
    inputs: &vigil_iac::terraform::TfInputs,
    meta: Meta,
) -> Result<(Document, Catalog)> {
    let scanned = load::load(&args.paths, filter, inputs);
    let evaluated = pipeline::evaluate(cli, args.policy.as_deref(), &scanned.resources)?;
    let doc = report::build(
        meta,
        &scanned,
        &evaluated.catalog,
        &evaluated.evaluations,
        evaluated.now,
    );
    let record = IacScanRecord {
        scan_id: doc.scan_uuid.clone(),
        name: doc.name.clone(),
        created: evaluated.now,
        status: doc.status.clone(),
        summary: serde_json::to_value(&doc.summary).unwrap_or_default(),
        document: Some(serde_json::to_value(&doc).unwrap_or_default()),
    };
    runtime()?.block_on(async {
        let store = open_store(cli).await?;
        store
            .save_iac_scan(&record, None)
            .await
            .map_err(Failure::store)
    })?;
    Ok((doc, evaluated.catalog))
}

/// The files a scan could not read, on standard error (the document lists
/// them too).
fn report_errors(doc: &Document) {
    for e in &doc.parsing_errors {
        if e.line == 0 {
            eprintln!("parse error: {}: {}", e.file, e.message);
        } else {
            eprintln!(
                "parse error: {}:{}:{}: {}",
                e.file, e.line, e.column, e.message
            );
        }
    }
}

/// Writes `scan_response_<scanId>.json` in the current directory.
fn save(doc: &Document) -> Result<()> {
    let name = format!("scan_response_{}.json", doc.scan_uuid);
    let mut text = serde_json::to_string_pretty(doc).unwrap_or_default();
    text.push('\n');
    std::fs::write(&name, text).map_err(|e| Failure::input(format!("cannot write {name}: {e}")))?;
    eprintln!("saved {name}");
    Ok(())
}

/// Prints a scan response in `format`.
fn render(catalog: &Catalog, doc: &Document, format: IacFormat) -> Result<()> {
    match format {
        IacFormat::Json => {
            let mut text = serde_json::to_string_pretty(doc).unwrap_or_default();
            text.push('\n');
            crate::output::emit(text.as_bytes())
        }
        IacFormat::Table | IacFormat::Csv => {
            let mut rows = Rows::new(vec![
                "RESULT",
                "CID",
                "CRITICALITY",
                "FILE:LINE",
                "RESOURCE",
                "CONTROL",
                "MESSAGE",
            ]);
            for c in doc.checks() {
                let location = format!("{}:{}", c.file_path, c.file_line_range[0]);
                rows.push(
                    vec![
                        c.result.clone(),
                        c.control_id.to_string(),
                        c.criticality.to_string(),
                        location,
                        c.resource.clone(),
                        c.check_name.clone(),
                        c.message.clone(),
                    ],
                    c,
                );
            }
            if format == IacFormat::Csv {
                return rows.print(Format::Csv, 70);
            }
            rows.print(Format::Table, 70)?;
            let s = &doc.summary;
            println!(
                "\nscan {} ({}): {} files, {} resources, {} parse errors; {} passed, {} failed ({} high, {} medium, {} low), {} skipped",
                doc.name,
                doc.scan_uuid,
                s.files,
                s.resources,
                s.parsing_errors,
                s.passed,
                s.failed,
                s.failed_high,
                s.failed_medium,
                s.failed_low,
                s.skipped
            );
            Ok(())
        }
        IacFormat::Sarif => {
            let (resources, evaluations) = doc.evaluations();
            // Paths relative to the current directory, as code scanning
            // expects them relative to the repository root the scan runs in.
            let cwd = std::env::current_dir().unwrap_or_default();
            let items: Vec<vigil_export::SarifItem<'_>> = evaluations
                .iter()
                .filter(|e| e.result == EvalResult::Fail)
                .filter_map(|e| {
                    let r = &resources[e.resource];
                    let c = catalog.control(e.cid)?;
                    let Origin::Iac {
                        file,
                        line,
                        end_line,
                    } = &r.origin
                    else {
                        return None;
                    };
                    Some(vigil_export::SarifItem {
                        evaluation: e,
                        resource: r,
                        control: &c.spec,
                        file: relative(&cwd, file),
                        line: *line,
                        end_line: *end_line,
                    })
                })
                .collect();
            let mut text =
                serde_json::to_string_pretty(&vigil_export::sarif(&items)).unwrap_or_default();
            text.push('\n');
            crate::output::emit(text.as_bytes())
        }
        IacFormat::Junit => {
            let (resources, evaluations) = doc.evaluations();
            let cases: Vec<vigil_export::JunitCase<'_>> = evaluations
                .iter()
                .filter_map(|e| {
                    let r = &resources[e.resource];
                    let c = catalog.control(e.cid)?;
                    let location = match &r.origin {
                        Origin::Iac { file, line, .. } => format!("{file}:{line}"),
                        _ => String::new(),
                    };
                    Some(vigil_export::JunitCase {
                        evaluation: e,
                        resource: r,
                        control: &c.spec,
                        location,
                    })
                })
                .collect();
            crate::output::emit(vigil_export::junit(&doc.name, &cases).as_bytes())
        }
        IacFormat::Ocsf => {
            let (resources, evaluations) = doc.evaluations();
            let time = chrono::DateTime::parse_from_rfc3339(&doc.created_on)
                .map(|t| t.with_timezone(&chrono::Utc))
                .unwrap_or_default();
            let findings: Vec<serde_json::Value> = evaluations
                .iter()
                .filter_map(|e| {
                    let c = catalog.control(e.cid)?;
                    Some(vigil_export::ocsf_finding(
                        e,
                        &resources[e.resource],
                        &c.spec,
                        time,
                    ))
                })
                .collect();
            let mut bytes = serde_json::to_vec_pretty(&findings).unwrap_or_default();
            bytes.push(b'\n');
            crate::output::emit(&bytes)
        }
    }
}

/// `file` relative to `cwd` with `/` separators (archive entries keep their
/// `archive!/entry` form).
fn relative(cwd: &Path, file: &str) -> String {
    let path = Path::new(file);
    path.strip_prefix(cwd)
        .unwrap_or(path)
        .display()
        .to_string()
        .replace('\\', "/")
        .trim_start_matches("./")
        .to_string()
}

/// A kept scan: its record (the document taken out of it) and its
/// document; a clear error naming the id when there is none.
fn kept(cli: &Cli, scan_id: &str) -> Result<(IacScanRecord, Document)> {
    let record = runtime()?.block_on(async {
        let store = open_store(cli).await?;
        store.iac_scan(scan_id).await.map_err(Failure::store)
    })?;
    let Some(mut record) = record else {
        return Err(Failure::input(format!(
            "-i {scan_id}: no such scan; `vigil iac listscans` lists the kept scans"
        )));
    };
    let doc: Document = record
        .document
        .take()
        .map(serde_json::from_value)
        .transpose()
        .map_err(|e| Failure::store(format!("scan {scan_id}: stored result is unreadable: {e}")))?
        .ok_or_else(|| Failure::store(format!("scan {scan_id}: no stored result")))?;
    Ok((record, doc))
}

fn getresult(cli: &Cli, args: &GetArgs) -> Result<ExitCode> {
    let mut doc = match server(&args.platform)? {
        None => kept(cli, &args.scan_id)?.1,
        Some(client) => client.result(&scan_id(&args.scan_id)?)?,
    };
    if args.save {
        save(&doc)?;
    }
    if args.quiet {
        doc.only_failed();
    }
    let catalog = crate::setup::catalog(cli)?;
    render(&catalog, &doc, format(cli, args.format))?;
    report_errors(&doc);
    Ok(ExitCode::SUCCESS)
}

/// A scan id as given with `-i`, checked before it goes into a URL.
fn scan_id(id: &str) -> Result<String> {
    let id = id.trim();
    if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return Err(Failure::input(format!(
            "-i {id:?} is not a scan id; `vigil iac listscans` lists them"
        )));
    }
    Ok(id.to_string())
}

/// The server's scans as the store's records (without documents).
fn listed(scans: Vec<remote::Listed>) -> Result<Vec<IacScanRecord>> {
    scans
        .into_iter()
        .map(|s| {
            let created = chrono::DateTime::parse_from_rfc3339(&s.created_on)
                .map_err(|e| {
                    Failure::store(format!(
                        "the server sent scan {} with a date that is not RFC 3339 ({e})",
                        s.scan_uuid
                    ))
                })?
                .with_timezone(&chrono::Utc);
            Ok(IacScanRecord {
                scan_id: s.scan_uuid,
                name: s.name,
                created,
                status: s.status,
                summary: s.summary,
                document: None,
            })
        })
        .collect()
}

fn listscans(cli: &Cli, args: &ListArgs) -> Result<ExitCode> {
    let scans = match (server(&args.platform)?, &args.scan_id) {
        (Some(client), id) => {
            let id = id.as_deref().map(scan_id).transpose()?;
            let scans = listed(client.list(id.as_deref())?)?;
            if let (Some(id), true) = (&id, scans.is_empty()) {
                return Err(Failure::input(format!(
                    "-i {id}: no such scan on the server; `vigil iac listscans` lists them"
                )));
            }
            scans
        }
        (None, Some(id)) => vec![kept(cli, id)?.0],
        (None, None) => runtime()?.block_on(async {
            let store = open_store(cli).await?;
            store.iac_scans().await.map_err(Failure::store)
        })?,
    };
    let mut rows = Rows::new(vec![
        "SCAN ID",
        "NAME",
        "CREATED",
        "STATUS",
        "FILES",
        "RESOURCES",
        "PASSED",
        "FAILED",
        "SKIPPED",
        "PARSE ERRORS",
    ]);
    for s in &scans {
        let n = |k: &str| s.summary.get(k).and_then(|v| v.as_u64()).unwrap_or(0);
        rows.push(
            vec![
                s.scan_id.clone(),
                s.name.clone(),
                s.created.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                s.status.clone(),
                n("files").to_string(),
                n("resources").to_string(),
                n("passed").to_string(),
                n("failed").to_string(),
                n("skipped").to_string(),
                n("parsingErrors").to_string(),
            ],
            serde_json::json!({
                "scanUuid": s.scan_id, "name": s.name, "createdOn": s.created.to_rfc3339(),
                "status": s.status, "summary": s.summary,
            }),
        );
    }
    let f = match format(cli, args.format) {
        IacFormat::Json => Format::Json,
        IacFormat::Csv => Format::Csv,
        IacFormat::Table => Format::Table,
        other => {
            return Err(Failure::input(format!(
                "listscans prints table, json or csv, not {other:?}"
            )))
        }
    };
    rows.print(f, 40)?;
    Ok(ExitCode::SUCCESS)
}
