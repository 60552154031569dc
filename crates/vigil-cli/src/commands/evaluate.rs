//! `vigil evaluate`: run the controls over a file of normalized resources,
//! print results with evidence, and record them in the store.

use crate::output::Rows;
use crate::setup::{catalog, catalog_records, open_store, runtime, Failure, Result, EXIT_FAILURES};
use crate::{Cli, Format};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use vigil_model::{Criticality, EvalResult};
use vigil_store::{EvaluationInput, ScanBatch};

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
    let threshold: Option<Criticality> = if args.fail_on.eq_ignore_ascii_case("none") {
        None
    } else {
        Some(
            args.fail_on
                .parse()
                .map_err(|e| Failure::input(format!("--fail-on: {e} or none")))?,
        )
    };
    let path = args.input.display().to_string();
    let text = std::fs::read_to_string(&args.input)
        .map_err(|e| Failure::input(format!("cannot read {path}: {e}")))?;
    let resources = vigil_model::parse_resources(&text, &path).map_err(Failure::input)?;
    let mut catalog = catalog(cli)?;
    let (controls, policies) = catalog_records(&catalog);
    if let Some(p) = &args.policy {
        catalog.restrict_to_policy(p).map_err(Failure::input)?;
    }
    let now = chrono::Utc::now();
    let engine = catalog.compile(now).map_err(Failure::input)?;

    let bar = if resources.len() >= 10_000 && std::io::stderr().is_terminal() {
        let bar = ProgressBar::new(resources.len() as u64);
        bar.set_style(
            ProgressStyle::with_template(
                "evaluating {bar:40} {pos}/{len} resources ({per_sec}, {eta} left)",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar
    } else {
        ProgressBar::hidden()
    };
    let evaluations = engine.evaluate(&resources, &|n| bar.inc(n as u64));
    bar.finish_and_clear();

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
    let mut failed_at_threshold = false;
    let (mut pass, mut fail, mut skip) = (0u64, 0u64, 0u64);
    for e in &evaluations {
        let r = &resources[e.resource];
        let Some(c) = catalog.control(e.cid) else {
            continue;
        };
        match e.result {
            EvalResult::Pass | EvalResult::Passe => pass += 1,
            EvalResult::Fail => {
                fail += 1;
                // Criticality orders HIGH < MEDIUM < LOW, so "at or above" is <=.
                if threshold.is_some_and(|t| c.spec.criticality <= t) {
                    failed_at_threshold = true;
                }
            }
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
    rows.print(cli.format, 70)?;
    if cli.format == Format::Table {
        println!(
            "\n{} resources, {} controls, {} evaluations: {} pass, {} fail, {} skip",
            resources.len(),
            engine.controls().len(),
            evaluations.len(),
            pass,
            fail,
            skip
        );
    }

    if !args.no_store {
        let inputs: Vec<EvaluationInput<'_>> = evaluations
            .iter()
            .map(|e| EvaluationInput {
                resource: e.resource,
                cid: e.cid,
                result: e.result,
                expected: &e.evidence.expected,
                actual: &e.evidence.actual,
                message: &e.evidence.message,
            })
            .collect();
        let canonical = std::fs::canonicalize(&args.input).unwrap_or_else(|_| args.input.clone());
        let source = format!("input:{}", canonical.display());
        let run = format!("evaluate-{}", now.format("%Y%m%dT%H%M%S%.3fZ"));
        let summary = runtime()?.block_on(async {
            let store = open_store(cli).await?;
            store
                .sync_catalog(&controls, &policies)
                .await
                .map_err(Failure::store)?;
            store
                .apply_scan(ScanBatch {
                    source: &source,
                    run: &run,
                    at: now,
                    resources: &resources,
                    evaluations: &inputs,
                })
                .await
                .map_err(Failure::store)
        })?;
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
    Ok(if failed_at_threshold {
        ExitCode::from(EXIT_FAILURES)
    } else {
        ExitCode::SUCCESS
    })
}
