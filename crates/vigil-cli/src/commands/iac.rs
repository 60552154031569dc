//! `vigil iac scan`: judge Terraform files with the same catalogue as live
//! accounts (qiac-style options). Supported so far: Terraform `.tf` files
//! and directories of them; see docs/iac.md.

use super::pipeline;
use crate::output::Rows;
use crate::setup::{Failure, Result, EXIT_FAILURES};
use crate::{Cli, Format};
use clap::Subcommand;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use vigil_model::{EvalResult, Origin};

#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Scan Terraform files or directories.
    Scan(ScanArgs),
}

#[derive(clap::Args, Debug)]
pub struct ScanArgs {
    /// A name for the scan.
    #[arg(short = 'n', long = "scan_name", alias = "scan-name")]
    pub name: String,
    /// A file or directory to scan (repeatable).
    #[arg(short = 'd', long = "path", required = true)]
    pub paths: Vec<PathBuf>,
    /// Only files whose path matches this regular expression (directories only).
    #[arg(short = 'f', long = "filter")]
    pub filter: Option<String>,
    /// Evaluate only the controls of this policy.
    #[arg(long = "policy_name", alias = "policy-name", visible_alias = "pn")]
    pub policy: Option<String>,
    /// Show failed checks only.
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Exit with 1 only for failures of this criticality or higher (none: never).
    #[arg(
        long = "fail-on",
        value_name = "HIGH|MEDIUM|LOW|none",
        default_value = "LOW"
    )]
    pub fail_on: String,
}

fn collect(path: &Path, filter: Option<&regex::Regex>, out: &mut Vec<PathBuf>) -> Result<()> {
    if path.is_dir() {
        let entries = std::fs::read_dir(path)
            .map_err(|e| Failure::input(format!("cannot read {}: {e}", path.display())))?;
        let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        paths.sort();
        for p in paths {
            if p.is_dir() {
                collect(&p, filter, out)?;
            } else if p.extension().and_then(|e| e.to_str()) == Some("tf")
                && filter.is_none_or(|f| f.is_match(&p.display().to_string()))
            {
                out.push(p);
            }
        }
        Ok(())
    } else if path.is_file() {
        out.push(path.to_path_buf());
        Ok(())
    } else {
        Err(Failure::input(format!(
            "-d {}: no such file or directory",
            path.display()
        )))
    }
}

pub fn run(cli: &Cli, cmd: &Cmd) -> Result<ExitCode> {
    let Cmd::Scan(args) = cmd;
    let threshold = pipeline::fail_on(&args.fail_on)?;
    let filter = match &args.filter {
        Some(f) => Some(regex::Regex::new(f).map_err(|e| {
            Failure::input(format!("-f {f:?} is not a valid regular expression: {e}"))
        })?),
        None => None,
    };
    let mut paths = Vec::new();
    for p in &args.paths {
        collect(p, filter.as_ref(), &mut paths)?;
    }
    let mut files = Vec::with_capacity(paths.len());
    for p in &paths {
        let text = std::fs::read_to_string(p)
            .map_err(|e| Failure::input(format!("cannot read {}: {e}", p.display())))?;
        files.push((p.display().to_string(), text));
    }
    let (resources, errors) = vigil_iac::terraform_resources(&files, &Default::default());
    let evaluated = pipeline::evaluate(cli, args.policy.as_deref(), &resources)?;

    let (mut pass, mut fail, mut skip) = (0, 0, 0);
    let mut rows = Rows::new(vec![
        "RESULT",
        "CID",
        "CRITICALITY",
        "FILE:LINE",
        "RESOURCE",
        "CONTROL",
        "MESSAGE",
    ]);
    for e in &evaluated.evaluations {
        match e.result {
            EvalResult::Pass | EvalResult::Passe => pass += 1,
            EvalResult::Fail => fail += 1,
            EvalResult::Skip => skip += 1,
        }
        if args.quiet && e.result != EvalResult::Fail {
            continue;
        }
        let r = &resources[e.resource];
        let Some(c) = evaluated.catalog.control(e.cid) else {
            continue;
        };
        let location = match &r.origin {
            Origin::Iac { file, line, .. } => format!("{file}:{line}"),
            _ => String::new(),
        };
        rows.push(
            vec![
                e.result.to_string(),
                e.cid.to_string(),
                c.spec.criticality.to_string(),
                location.clone(),
                r.id.clone(),
                c.spec.title.clone(),
                e.evidence.message.to_string(),
            ],
            serde_json::json!({
                "result": e.result, "cid": e.cid, "criticality": c.spec.criticality, "location": location,
                "resource": r.id, "control": c.spec.title, "expected": &*e.evidence.expected,
                "actual": e.evidence.actual, "message": &*e.evidence.message,
            }),
        );
    }
    if cli.format == Format::Junit {
        let cases: Vec<vigil_export::JunitCase<'_>> = evaluated
            .evaluations
            .iter()
            .filter(|e| !args.quiet || e.result == EvalResult::Fail)
            .filter_map(|e| {
                let r = &resources[e.resource];
                let c = evaluated.catalog.control(e.cid)?;
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
        crate::output::emit(vigil_export::junit(&args.name, &cases).as_bytes())?;
    } else if cli.format == Format::Sarif {
        // Paths relative to the current directory, as code scanning expects
        // them relative to the repository root the scan runs in.
        let cwd = std::env::current_dir().unwrap_or_default();
        let items: Vec<vigil_export::SarifItem<'_>> = evaluated
            .evaluations
            .iter()
            .filter(|e| e.result == EvalResult::Fail)
            .filter_map(|e| {
                let r = &resources[e.resource];
                let c = evaluated.catalog.control(e.cid)?;
                let Origin::Iac { file, line, .. } = &r.origin else {
                    return None;
                };
                let path = Path::new(file);
                let rel = path.strip_prefix(&cwd).unwrap_or(path);
                Some(vigil_export::SarifItem {
                    evaluation: e,
                    resource: r,
                    control: &c.spec,
                    file: rel
                        .display()
                        .to_string()
                        .replace('\\', "/")
                        .trim_start_matches("./")
                        .to_string(),
                    line: *line,
                })
            })
            .collect();
        let mut text =
            serde_json::to_string_pretty(&vigil_export::sarif(&items)).unwrap_or_default();
        text.push('\n');
        crate::output::emit(text.as_bytes())?;
    } else if cli.format == Format::Ocsf {
        crate::output::emit(&evaluated.ocsf(&resources))?;
    } else {
        rows.print(cli.format, 70)?;
    }
    for e in &errors {
        eprintln!(
            "parse error: {}:{}:{}: {}",
            e.file, e.line, e.column, e.message
        );
    }
    if cli.format == Format::Table {
        println!(
            "\nscan {}: {} files, {} resources, {} parse errors; {} pass, {} fail, {} skip",
            args.name,
            files.len(),
            resources.len(),
            errors.len(),
            pass,
            fail,
            skip
        );
    }
    Ok(if evaluated.fails_at(threshold) || !errors.is_empty() {
        ExitCode::from(if errors.is_empty() {
            EXIT_FAILURES
        } else {
            crate::setup::EXIT_INPUT
        })
    } else {
        ExitCode::SUCCESS
    })
}
