//! `vigil iac`: scan infrastructure as code with the same catalogue as live
//! accounts, with the commands and options of seed 001's `qiac` (`scan`,
//! `getresult`, `listscans`, `config`). Scans run locally and are kept in
//! the store; see docs/iac.md.

mod config;
mod document;
mod load;

use super::pipeline;
use crate::output::Rows;
use crate::setup::{open_store, runtime, Failure, Result, EXIT_FAILURES, EXIT_INPUT};
use crate::{Cli, Format};
use clap::{Subcommand, ValueEnum};
use config::{Platform, PlatformArgs};
use document::{Check, CheckTypeResult, Checks, Document, ParsingError, Summary};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use vigil_engine::Catalog;
use vigil_model::{Criticality, EvalResult, Origin};
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
    /// Accepted for qiac compatibility (`-as`): local scans finish before
    /// the command returns.
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

/// Scans go to a server when a platform URL is configured, which this
/// version cannot do yet; otherwise they run locally.
fn require_local(args: &PlatformArgs) -> Result<()> {
    let cwd = std::env::current_dir().unwrap_or_default();
    match config::resolve(args, &cwd, dirs::home_dir().as_deref())? {
        Platform::Local => Ok(()),
        Platform::Remote { url, from } => Err(config::remote_unsupported(&url, &from)),
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
    let bad = |why: String| {
        Failure::input(format!(
            "-g/--tag {text:?}: {why}; give JSON such as '[{{\"env\":\"linux\"}}, {{\"team\":\"infra\"}}]'"
        ))
    };
    let v: serde_json::Value =
        serde_json::from_str(text).map_err(|e| bad(format!("not JSON ({e})")))?;
    let items = match v {
        serde_json::Value::Array(items) => items,
        o @ serde_json::Value::Object(_) => vec![o],
        _ => return Err(bad("not a JSON array of objects".into())),
    };
    for item in &items {
        let Some(o) = item.as_object() else {
            return Err(bad(format!("{item} is not an object")));
        };
        if let Some((k, _)) = o.iter().find(|(_, v)| !v.is_string()) {
            return Err(bad(format!("the value of {k:?} is not a string")));
        }
    }
    Ok(serde_json::Value::Array(items))
}

fn scan(cli: &Cli, args: &ScanArgs) -> Result<ExitCode> {
    require_local(&args.platform)?;
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
    let loaded = load::load(&args.paths, filter.as_ref(), &args.var_files, &args.vars)?;
    let evaluated = pipeline::evaluate(cli, args.policy.as_deref(), &loaded.resources)?;

    let mut doc = build(args, &loaded, &evaluated, tags);
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
        store.save_iac_scan(&record).await.map_err(Failure::store)
    })?;
    if args.save {
        save(&doc)?;
    }
    if args.quiet {
        // The store and -s keep every check; -q only trims what is shown.
        doc.only_failed();
    }
    render(&evaluated.catalog, &doc, format(cli, args.format))?;
    report_errors(&doc);

    let failing = evaluated.fails_at(threshold) && !args.soft_fail;
    Ok(if !loaded.errors.is_empty() {
        ExitCode::from(EXIT_INPUT)
    } else if failing {
        ExitCode::from(EXIT_FAILURES)
    } else {
        ExitCode::SUCCESS
    })
}

/// The scan response of a finished scan.
fn build(
    args: &ScanArgs,
    loaded: &load::Loaded,
    evaluated: &pipeline::Evaluated,
    tags: serde_json::Value,
) -> Document {
    let mut by_type: BTreeMap<&str, Checks> = BTreeMap::new();
    let mut summary = Summary {
        files: loaded.files as u64,
        resources: loaded.resources.len() as u64,
        parsing_errors: loaded.errors.len() as u64,
        ..Default::default()
    };
    for e in &evaluated.evaluations {
        let r = &loaded.resources[e.resource];
        let Some(c) = evaluated.catalog.control(e.cid) else {
            continue;
        };
        let (file, line, end_line) = match &r.origin {
            Origin::Iac {
                file,
                line,
                end_line,
            } => (file.clone(), *line, (*end_line).max(*line)),
            _ => (String::new(), 0, 0),
        };
        let check = Check {
            control_id: e.cid,
            check_name: c.spec.title.clone(),
            criticality: c.spec.criticality,
            result: document::result_word(e.result).into(),
            resource: r.id.clone(),
            resource_type: r.resource_type.clone(),
            resource_name: r.name.clone(),
            file_path: file.clone(),
            file_line_range: [line, end_line],
            expected: e.evidence.expected.to_string(),
            actual: e.evidence.actual.clone(),
            message: e.evidence.message.to_string(),
        };
        let checks = by_type.entry(loaded.check_type(&file)).or_default();
        match e.result {
            EvalResult::Pass | EvalResult::Passe => {
                summary.passed += 1;
                checks.passed_checks.push(check);
            }
            EvalResult::Fail => {
                summary.failed += 1;
                match c.spec.criticality {
                    Criticality::High => summary.failed_high += 1,
                    Criticality::Medium => summary.failed_medium += 1,
                    Criticality::Low => summary.failed_low += 1,
                }
                checks.failed_checks.push(check);
            }
            EvalResult::Skip => {
                summary.skipped += 1;
                checks.skipped_checks.push(check);
            }
        }
    }
    Document {
        scan_uuid: uuid::Uuid::new_v4().to_string(),
        name: args.name.clone(),
        status: if loaded.errors.is_empty() {
            "FINISHED"
        } else {
            "FINISHED_WITH_ERRORS"
        }
        .into(),
        created_on: evaluated.now.to_rfc3339(),
        tags,
        paths: args.paths.iter().map(|p| p.display().to_string()).collect(),
        policy: args.policy.clone(),
        summary,
        result: by_type
            .into_iter()
            .map(|(t, results)| CheckTypeResult {
                check_type: t.to_string(),
                results,
            })
            .collect(),
        parsing_errors: loaded
            .errors
            .iter()
            .map(|e| ParsingError {
                file: e.file.clone(),
                line: e.line,
                column: e.column,
                message: e.message.clone(),
            })
            .collect(),
    }
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
    require_local(&args.platform)?;
    let (_, mut doc) = kept(cli, &args.scan_id)?;
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

fn listscans(cli: &Cli, args: &ListArgs) -> Result<ExitCode> {
    require_local(&args.platform)?;
    let scans = match &args.scan_id {
        Some(id) => vec![kept(cli, id)?.0],
        None => runtime()?.block_on(async {
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
