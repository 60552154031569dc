//! `vigil scan aws`: collect an AWS account, evaluate it, record it, and
//! print a summary like CloudView's Monitor view.

use super::pipeline;
use crate::output::Rows;
use crate::setup::{runtime, Failure, Result, EXIT_FAILURES};
use crate::{Cli, Format};
use clap::Subcommand;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::process::ExitCode;
use vigil_model::{Criticality, EvalResult};

#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Scan an AWS account through the AWS SDK (standard credential chain).
    Aws(AwsArgs),
}

#[derive(clap::Args, Debug)]
pub struct AwsArgs {
    /// A named profile of ~/.aws/config and ~/.aws/credentials.
    #[arg(long, env = "AWS_PROFILE")]
    pub profile: Option<String>,
    /// Send every AWS call to this endpoint (e.g. a moto server).
    #[arg(long = "endpoint-url", env = "AWS_ENDPOINT_URL")]
    pub endpoint_url: Option<String>,
    /// Regions to scan, comma-separated; default: every enabled region.
    #[arg(long, value_delimiter = ',')]
    pub regions: Vec<String>,
    /// Assume this role first (cross-account scanning).
    #[arg(long = "role-arn")]
    pub role_arn: Option<String>,
    /// The external id the role's trust policy requires.
    #[arg(long = "external-id", requires = "role_arn")]
    pub external_id: Option<String>,
    /// The connector's name, as stored and searched (`resource.source:connector:NAME`);
    /// default: aws-<account id>.
    #[arg(long)]
    pub connector: Option<String>,
    /// Evaluate only the controls of this policy.
    #[arg(long)]
    pub policy: Option<String>,
    /// How many collectors run at once.
    #[arg(long, default_value_t = 16)]
    pub concurrency: usize,
    /// Do not record the results in the store.
    #[arg(long = "no-store")]
    pub no_store: bool,
    /// Write the json, csv or ocsf output to this file instead of standard output.
    #[arg(long, short = 'O', value_name = "FILE")]
    pub output: Option<std::path::PathBuf>,
    /// Exit with 1 only for failures of this criticality or higher (none: never).
    #[arg(
        long = "fail-on",
        value_name = "HIGH|MEDIUM|LOW|none",
        default_value = "LOW"
    )]
    pub fail_on: String,
}

#[derive(Serialize)]
struct FailedControl {
    cid: u32,
    criticality: Criticality,
    title: String,
    failed: u64,
    total: u64,
}

#[derive(Serialize, Default)]
struct Summary {
    controls_evaluated: usize,
    evaluations: usize,
    pass: usize,
    fail: usize,
    skip: usize,
    fail_high: usize,
    fail_medium: usize,
    fail_low: usize,
}

pub fn run(cli: &Cli, cmd: &Cmd) -> Result<ExitCode> {
    let Cmd::Aws(args) = cmd;
    if matches!(cli.format, Format::Sarif | Format::Junit) {
        return Err(Failure::input(
            "--format sarif and junit apply to `iac scan` (they place findings in source files); use ocsf, json or csv for an account",
        ));
    }
    let threshold = pipeline::fail_on(&args.fail_on)?;
    let started = std::time::Instant::now();
    let run_id = format!("scan-{}", chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ"));
    let opts = vigil_aws::AwsOptions {
        profile: args.profile.clone(),
        endpoint_url: args.endpoint_url.clone(),
        regions: args.regions.clone(),
        role_arn: args.role_arn.clone(),
        external_id: args.external_id.clone(),
        concurrency: args.concurrency,
        connector: args.connector.clone().unwrap_or_default(),
        run: run_id.clone(),
        access_keys: None,
    };
    let bar = if std::io::stderr().is_terminal() {
        let bar = ProgressBar::new(0);
        bar.set_style(
            ProgressStyle::with_template("collecting {bar:40} {pos}/{len} collectors {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar
    } else {
        ProgressBar::hidden()
    };
    let progress = |p: vigil_aws::Progress| match p {
        vigil_aws::Progress::Planned(n) => bar.set_length(n as u64),
        vigil_aws::Progress::Done { task, .. } => {
            bar.set_message(task);
            bar.inc(1);
        }
    };
    let mut collection = runtime()?
        .block_on(vigil_aws::collect(&opts, &progress))
        .map_err(|e| Failure::input(format!("AWS: {e}")))?;
    bar.finish_and_clear();
    // The connector's name defaults to the account, known only now.
    let connector = args
        .connector
        .clone()
        .unwrap_or_else(|| format!("aws-{}", collection.account));
    for r in &mut collection.resources {
        if let vigil_model::Origin::Connector { connector: c, .. } = &mut r.origin {
            c.clone_from(&connector);
        }
    }
    let resources = &collection.resources;
    let evaluated = pipeline::evaluate(cli, args.policy.as_deref(), resources)?;

    let mut summary = Summary {
        evaluations: evaluated.evaluations.len(),
        ..Summary::default()
    };
    let mut per_control: BTreeMap<u32, (u64, u64)> = BTreeMap::new();
    for e in &evaluated.evaluations {
        let entry = per_control.entry(e.cid).or_default();
        entry.1 += 1;
        match e.result {
            EvalResult::Pass | EvalResult::Passe => summary.pass += 1,
            EvalResult::Skip => summary.skip += 1,
            EvalResult::Fail => {
                summary.fail += 1;
                entry.0 += 1;
                match evaluated.catalog.control(e.cid).map(|c| c.spec.criticality) {
                    Some(Criticality::High) => summary.fail_high += 1,
                    Some(Criticality::Medium) => summary.fail_medium += 1,
                    _ => summary.fail_low += 1,
                }
            }
        }
    }
    summary.controls_evaluated = per_control.len();
    let mut failed: Vec<FailedControl> = per_control
        .iter()
        .filter(|(_, (f, _))| *f > 0)
        .filter_map(|(cid, (f, t))| {
            evaluated.catalog.control(*cid).map(|c| FailedControl {
                cid: *cid,
                criticality: c.spec.criticality,
                title: c.spec.title.clone(),
                failed: *f,
                total: *t,
            })
        })
        .collect();
    failed.sort_by(|a, b| {
        (a.criticality, std::cmp::Reverse(a.failed), a.cid).cmp(&(
            b.criticality,
            std::cmp::Reverse(b.failed),
            b.cid,
        ))
    });

    let stored = if args.no_store {
        None
    } else {
        Some(pipeline::store(
            cli,
            &evaluated,
            &format!("connector:{connector}"),
            &run_id,
            resources,
        )?)
    };

    match cli.format {
        Format::Table => {
            println!(
                "AWS account {} — {} regions, {} resources, {} collection errors, {:.1} s",
                collection.account,
                collection.regions.len(),
                resources.len(),
                collection.errors.len(),
                started.elapsed().as_secs_f64()
            );
            println!(
                "\nCONTROLS EVALUATED {}   EVALUATIONS {}   PASS {}   FAIL {}   SKIP {}   FAILURES BY CRITICALITY: HIGH {}  MEDIUM {}  LOW {}\n",
                summary.controls_evaluated,
                summary.evaluations,
                summary.pass,
                summary.fail,
                summary.skip,
                summary.fail_high,
                summary.fail_medium,
                summary.fail_low
            );
            let mut rows = Rows::new(vec!["CID", "CRITICALITY", "FAILED", "RESOURCES", "CONTROL"]);
            for f in &failed {
                rows.push(
                    vec![
                        f.cid.to_string(),
                        f.criticality.to_string(),
                        f.failed.to_string(),
                        f.total.to_string(),
                        f.title.clone(),
                    ],
                    f,
                );
            }
            rows.print(Format::Table, 90)?;
            if !collection.errors.is_empty() {
                println!("\nCollection errors (the controls that need this data are skipped):");
                for e in &collection.errors {
                    println!("  {} {}: {}", e.service, e.region, e.reason());
                }
            }
            if let Some(s) = stored {
                println!(
                    "\nstored as connector:{connector}: {} resources ({} new, {} gone), {} evaluations ({} reopened, {} fixed)",
                    s.resources, s.new_resources, s.gone_resources, s.evaluations, s.reopened, s.fixed
                );
            }
        }
        machine => {
            let mut buf: Vec<u8> = Vec::new();
            match machine {
                Format::Ocsf => buf = evaluated.ocsf(resources),
                Format::Json => {
                    let evaluations: Vec<serde_json::Value> = evaluated
                        .evaluations
                        .iter()
                        .map(|e| {
                            let r = &resources[e.resource];
                            serde_json::json!({
                                "cid": e.cid, "result": e.result, "resource_id": r.id, "resource_type": r.resource_type,
                                "account": r.account, "region": r.region, "expected": &*e.evidence.expected,
                                "actual": e.evidence.actual, "message": &*e.evidence.message,
                            })
                        })
                        .collect();
                    let doc = serde_json::json!({
                        "account": collection.account,
                        "regions": collection.regions,
                        "resources": resources.len(),
                        "summary": summary,
                        "failed_controls": failed,
                        "errors": collection.errors,
                        "evaluations": evaluations,
                    });
                    serde_json::to_writer_pretty(&mut buf, &doc)
                        .map_err(|e| Failure::input(e.to_string()))?;
                }
                _ => {
                    let mut rows = Rows::new(vec![
                        "RESULT",
                        "CID",
                        "CRITICALITY",
                        "ACCOUNT",
                        "REGION",
                        "RESOURCE",
                        "EXPECTED",
                        "ACTUAL",
                        "MESSAGE",
                    ]);
                    for e in &evaluated.evaluations {
                        let r = &resources[e.resource];
                        let crit = evaluated
                            .catalog
                            .control(e.cid)
                            .map(|c| c.spec.criticality.to_string())
                            .unwrap_or_default();
                        rows.push(
                            vec![
                                e.result.to_string(),
                                e.cid.to_string(),
                                crit,
                                r.account.clone(),
                                r.region.clone(),
                                r.id.clone(),
                                e.evidence.expected.to_string(),
                                e.evidence.actual.clone(),
                                e.evidence.message.to_string(),
                            ],
                            (),
                        );
                    }
                    rows.write_to(Format::Csv, usize::MAX, &mut buf)
                        .map_err(|e| Failure::input(format!("cannot write output: {e}")))?;
                }
            }
            if !buf.ends_with(b"\n") {
                buf.push(b'\n');
            }
            match &args.output {
                Some(path) => std::fs::write(path, &buf)
                    .map_err(|e| Failure::input(format!("cannot write {}: {e}", path.display())))?,
                None => crate::output::emit(&buf)?,
            }
        }
    }
    Ok(if evaluated.fails_at(threshold) {
        ExitCode::from(EXIT_FAILURES)
    } else {
        ExitCode::SUCCESS
    })
}
