//! The store benchmark: bulk upsert of evaluations into SQLite and a filtered
//! count over them.

use anyhow::Result;
use std::time::Instant;
use vigil_engine::Catalog;
use vigil_model::{EvalResult, Resource};
use vigil_query::Query;
use vigil_store::{ControlRecord, EvaluationInput, PolicyRecord, ScanBatch, Store};

/// The synthetic input of the store benchmarks: the built-in catalogue and
/// `resources` IAM users in 50 accounts, each evaluated by `per_resource`
/// controls.
struct Input {
    controls: Vec<ControlRecord>,
    policies: Vec<PolicyRecord>,
    cids: Vec<u32>,
    list: Vec<Resource>,
}

impl Input {
    fn new(resources: usize, per_resource: usize) -> Result<Input> {
        let catalog = Catalog::builtin()?;
        let controls: Vec<ControlRecord> = catalog
            .controls
            .iter()
            .map(|c| ControlRecord {
                cid: c.spec.cid,
                title: c.spec.title.clone(),
                service: c.spec.service.clone(),
                resource_type: c.spec.resource_type.clone(),
                provider: c.spec.provider,
                criticality: c.spec.criticality,
                execution_type: c.spec.execution_type,
                remediable: c.spec.remediable,
            })
            .collect();
        let policies: Vec<PolicyRecord> = catalog
            .policies
            .iter()
            .map(|p| PolicyRecord {
                name: p.name.clone(),
                provider: p.provider,
                description: p.description.clone(),
                cids: p.controls.clone(),
            })
            .collect();
        let cids: Vec<u32> = controls.iter().map(|c| c.cid).take(per_resource).collect();
        let template = catalog.controls[0].fixtures[0].resources[0].clone();
        let list: Vec<Resource> = (0..resources)
            .map(|i| {
                let mut r = template.clone();
                r.id = format!("arn:aws:iam::383031258652:user/bench-{i}");
                r.account = format!("{}", 100_000_000_000u64 + (i % 50) as u64);
                r
            })
            .collect();
        Ok(Input {
            controls,
            policies,
            cids,
            list,
        })
    }

    /// The evaluations of round `round`: a third fail, shifting each round.
    fn evaluations(&self, round: usize) -> Vec<EvaluationInput<'static>> {
        let mut v = Vec::with_capacity(self.list.len() * self.cids.len());
        for r in 0..self.list.len() {
            for (k, cid) in self.cids.iter().enumerate() {
                let fail = (r + k + round).is_multiple_of(3);
                v.push(EvaluationInput {
                    resource: r,
                    cid: *cid,
                    result: if fail {
                        EvalResult::Fail
                    } else {
                        EvalResult::Pass
                    },
                    expected: "expected value",
                    actual: if fail { "actual value" } else { "" },
                    message: if fail { "failure message" } else { "" },
                });
            }
        }
        v
    }
}

/// Writes the catalogue and one scan of `resources` × `per_resource`
/// evaluations into the SQLite store at `path` (for `bench/api`).
pub async fn seed(path: &std::path::Path, resources: usize, per_resource: usize) -> Result<()> {
    let input = Input::new(resources, per_resource)?;
    let store = vigil_store_sqlite::SqliteStore::open(path).await?;
    store.sync_catalog(&input.controls, &input.policies).await?;
    let evals = input.evaluations(0);
    let t = Instant::now();
    let summary = store
        .apply_scan(ScanBatch {
            source: "connector:bench",
            run: "run-1",
            at: chrono::Utc::now(),
            resources: &input.list,
            evaluations: &evals,
        })
        .await?;
    println!(
        "seeded {}: {} resources, {} evaluations in {:.1} s",
        path.display(),
        summary.resources,
        summary.evaluations,
        t.elapsed().as_secs_f64()
    );
    store.close().await;
    Ok(())
}

/// `resources` × `per_resource` evaluations, written twice (insert, then the
/// update path with lifecycle changes), then counted with a filter.
pub async fn run(resources: usize, per_resource: usize) -> Result<()> {
    let input = Input::new(resources, per_resource)?;
    let dir = std::env::temp_dir().join(format!("vigil-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("bench.db");
    let store = vigil_store_sqlite::SqliteStore::open(&path).await?;
    store.sync_catalog(&input.controls, &input.policies).await?;
    for round in 0..2 {
        let evals = input.evaluations(round);
        let at = chrono::Utc::now();
        let t = Instant::now();
        let summary = store
            .apply_scan(ScanBatch {
                source: "connector:bench",
                run: if round == 0 { "run-1" } else { "run-2" },
                at,
                resources: &input.list,
                evaluations: &evals,
            })
            .await?;
        let secs = t.elapsed().as_secs_f64();
        println!(
            "store (sqlite) {}: {} resources, {} evaluations in {:.3} s = {:.0} evaluations/s ({} reopened, {} fixed)",
            if round == 0 { "insert" } else { "update" },
            summary.resources,
            summary.evaluations,
            secs,
            summary.evaluations as f64 / secs,
            summary.reopened,
            summary.fixed
        );
    }
    for text in [
        "control.result:FAIL and control.criticality:HIGH",
        "control.result:FAIL and account.id:\"100000000007\"",
        "policy.name:\"CIS Amazon Web Services Foundations Benchmark\" and control.result:FAIL",
    ] {
        let q = Query::parse(text, chrono::Utc::now())?;
        store.counts(&q).await?; // warm the page cache once
        let t = Instant::now();
        let c = store.counts(&q).await?;
        println!(
            "store (sqlite) count `{text}`: {} of {} evaluations in {:.1} ms",
            c.fail,
            c.evaluations,
            t.elapsed().as_secs_f64() * 1e3
        );
    }
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
