//! `vigil evaluate`: run the controls over a file of normalized resources,
//! print results with evidence, and record them in the store.

use super::pipeline;
use crate::output::Rows;
use crate::setup::{Failure, Result, EXIT_FAILURES};
use crate::{Cli, Format};
use serde::Serialize;
use std::path::PathBuf;
use std::process::ExitCode;
use vigil_model::{Criticality, EvalResult};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// A JSON file: an array of normalized resources, or {"resources": [...]}.
    #[arg(long, short = 'i', value_name = "FILE")]
    pub input: PathBuf,
    /// Evaluate only the controls of this policy.
    #[arg(long)]
    pub policy: Option<String>,
    /// Print failed (and skipped) evaluations only.
    #[arg(long, short = 'q')]
    pub quiet: bool,
    /// Do not record the results in the store.
    #[arg(long = "no-store")]
    pub no_store: bool,
    /// Exit with 1 only for failures of this criticality or higher (none: never).
    #[arg(
        long = "fail-on",
        value_name = "HIGH|MEDIUM|LOW|none",
        default_value = "LOW"
    )]
    pub fail_on: String,
}

#[derive(Serialize)]
struct Row<'a> {
    result: EvalResult,
    cid: u32,
    criticality: Criticality,
    control: &'a str,
    resource_id: &'a str,
    resource_type: &'a str,
    account: &'a str,
    region: &'a str,
    expected: &'a str,
    actual: &'a str,
    message: &'a str,
}

pub fn run(cli: &Cli, args: &Args) -> Result<ExitCode> {
    let threshold = pipeline::fail_on(&args.fail_on)?;
    let path = args.input.display().to_string();
    let text = std::fs::read_to_string(&args.input)
        .map_err(|e| Failure::input(format!("cannot read {path}: {e}")))?;
    let resources = vigil_model::parse_resources(&text, &path).map_err(Failure::input)?;
    let evaluated = pipeline::evaluate(cli, args.policy.as_deref(), &resources)?;
    let catalog = &evaluated.catalog;
    let evaluations = &evaluated.evaluations;

    let mut rows = Rows::new(vec![
        "RESULT",
        "CID",
        "CRITICALITY",
        "RESOURCE",
        "CONTROL",
        "EXPECTED",
        "ACTUAL",
        "MESSAGE",
    ]);
    let (mut pass, mut fail, mut skip) = (0u64, 0u64, 0u64);
    for e in evaluations {
        let r = &resources[e.resource];
        let Some(c) = catalog.control(e.cid) else {
            continue;
        };
        match e.result {
            EvalResult::Pass | EvalResult::Passe => pass += 1,
            EvalResult::Fail => fail += 1,
            EvalResult::Skip => skip += 1,
        }
        if args.quiet && e.result == EvalResult::Pass {
            continue;
        }
        rows.push(
            vec![
                e.result.to_string(),
                e.cid.to_string(),
                c.spec.criticality.to_string(),
                r.id.clone(),
                c.spec.title.clone(),
                e.evidence.expected.to_string(),
                e.evidence.actual.clone(),
                e.evidence.message.to_string(),
            ],
            Row {
                result: e.result,
                cid: e.cid,
                criticality: c.spec.criticality,
                control: &c.spec.title,
                resource_id: &r.id,
                resource_type: &r.resource_type,
                account: &r.account,
                region: &r.region,
                expected: &e.evidence.expected,
                actual: &e.evidence.actual,
                message: &e.evidence.message,
            },
        );
        // Tables show the evidence of failures and skips on a line of its own.
        match e.result {
            EvalResult::Fail => rows.detail(format!(
                "expected: {} | actual: {} | {}",
                e.evidence.expected,
                if e.evidence.actual.is_empty() {
                    "(none)"
                } else {
                    &e.evidence.actual
                },
                e.evidence.message
            )),
            EvalResult::Skip => rows.detail(format!("skipped: {}", e.evidence.message)),
            _ => {}
        }
    }
    if cli.format == Format::Table {
        // The evidence columns are for CSV; tables carry it on detail lines.
        rows.headers.truncate(5);
        for r in &mut rows.cells {
            r.truncate(5);
        }
    }
    if cli.format == Format::Ocsf {
        crate::output::emit(&evaluated.ocsf(&resources))?;
    } else {
        rows.print(cli.format, 70)?;
    }
    if cli.format == Format::Table {
        println!(
            "\n{} resources, {} controls, {} evaluations: {} pass, {} fail, {} skip",
            resources.len(),
            evaluated.controls,
            evaluations.len(),
            pass,
            fail,
            skip
        );
    }

    if !args.no_store {
        let canonical = std::fs::canonicalize(&args.input).unwrap_or_else(|_| args.input.clone());
        let source = format!("input:{}", canonical.display());
        let run = format!("evaluate-{}", evaluated.now.format("%Y%m%dT%H%M%S%.3fZ"));
        let summary = pipeline::store(cli, &evaluated, &source, &run, &resources)?;
        if cli.format == Format::Table {
            println!(
                "stored: {} resources ({} new, {} gone), {} evaluations ({} reopened, {} fixed)",
                summary.resources,
                summary.new_resources,
                summary.gone_resources,
                summary.evaluations,
                summary.reopened,
                summary.fixed
            );
        }
    }
    Ok(if evaluated.fails_at(threshold) {
        ExitCode::from(EXIT_FAILURES)
    } else {
        ExitCode::SUCCESS
    })
}
