//! What `evaluate` and `scan` share: evaluating resources with a progress
//! bar, recording the run in the store, and the exit-code threshold.

use crate::setup::{catalog, catalog_records, open_store, runtime, Failure, Result};
use crate::Cli;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use vigil_engine::{Catalog, Evaluation};
use vigil_model::{Criticality, EvalResult, Resource, Timestamp};
use vigil_store::{ControlRecord, EvaluationInput, PolicyRecord, ScanBatch, ScanSummary, Store};

/// Parses `--fail-on`: a criticality, or `none`.
pub fn fail_on(text: &str) -> Result<Option<Criticality>> {
    if text.eq_ignore_ascii_case("none") {
        return Ok(None);
    }
    text.parse()
        .map(Some)
        .map_err(|e| Failure::input(format!("--fail-on: {e} or none")))
}

/// The result of evaluating a set of resources.
pub struct Evaluated {
    pub catalog: Catalog,
    /// The whole catalogue's records, for the store (also with `--policy`).
    pub records: (Vec<ControlRecord>, Vec<PolicyRecord>),
    pub evaluations: Vec<Evaluation>,
    pub controls: usize,
    pub now: Timestamp,
}

impl Evaluated {
    /// Every evaluation as an OCSF Detection Finding, as one pretty JSON
    /// document ending in a newline.
    pub fn ocsf(&self, resources: &[Resource]) -> Vec<u8> {
        let findings: Vec<serde_json::Value> = self
            .evaluations
            .iter()
            .filter_map(|e| {
                let c = self.catalog.control(e.cid)?;
                Some(vigil_export::ocsf_finding(
                    e,
                    &resources[e.resource],
                    &c.spec,
                    self.now,
                ))
            })
            .collect();
        let mut bytes = serde_json::to_vec_pretty(&findings).unwrap_or_default();
        bytes.push(b'\n');
        bytes
    }

    /// Whether a failure reaches the `--fail-on` threshold (criticality
    /// orders HIGH < MEDIUM < LOW, so "at or above" is `<=`).
    pub fn fails_at(&self, threshold: Option<Criticality>) -> bool {
        let Some(t) = threshold else { return false };
        self.evaluations.iter().any(|e| {
            e.result == EvalResult::Fail
                && self
                    .catalog
                    .control(e.cid)
                    .is_some_and(|c| c.spec.criticality <= t)
        })
    }
}

/// Evaluates `resources` against the catalogue (or one policy of it).
pub fn evaluate(cli: &Cli, policy: Option<&str>, resources: &[Resource]) -> Result<Evaluated> {
    evaluate_with(catalog(cli)?, policy, resources)
}

/// Evaluates `resources` against `catalog` (or one policy of it).
pub fn evaluate_with(
    mut catalog: Catalog,
    policy: Option<&str>,
    resources: &[Resource],
) -> Result<Evaluated> {
    let records = catalog_records(&catalog);
    if let Some(p) = policy {
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
    let evaluations = engine.evaluate(resources, &|n| bar.inc(n as u64));
    bar.finish_and_clear();
    let controls = engine.controls().len();
    Ok(Evaluated {
        catalog,
        records,
        evaluations,
        controls,
        now,
    })
}

/// Records a complete run of `source` in the store.
pub fn store(
    cli: &Cli,
    evaluated: &Evaluated,
    source: &str,
    run: &str,
    resources: &[Resource],
) -> Result<ScanSummary> {
    runtime()?.block_on(async {
        let store = open_store(cli).await?;
        record(store.as_ref(), evaluated, source, run, resources).await
    })
}

/// Records a complete run of `source` in `store`: the catalogue's controls
/// and policies, then the resources and their evaluations.
pub async fn record(
    store: &dyn Store,
    evaluated: &Evaluated,
    source: &str,
    run: &str,
    resources: &[Resource],
) -> Result<ScanSummary> {
    let inputs: Vec<EvaluationInput<'_>> = evaluated
        .evaluations
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
    let (controls, policies) = &evaluated.records;
    store
        .sync_catalog(controls, policies)
        .await
        .map_err(Failure::store)?;
    store
        .apply_scan(ScanBatch {
            source,
            run,
            at: evaluated.now,
            resources,
            evaluations: &inputs,
        })
        .await
        .map_err(Failure::store)
}
