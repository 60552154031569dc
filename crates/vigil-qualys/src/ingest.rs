//! One ingest run over every data family the options enable: VM (hosts,
//! detections, knowledge base) always; Policy Compliance, web applications
//! and container images when their options say so.
//!
//! VM runs first with `parallel_requests` parallel calls of its own; the
//! other families then run side by side on `parallel_requests` worker
//! threads (each makes one call at a time). A family that fails is recorded
//! in [`IngestReport::errors`] and the others go on; a family stops at its
//! first error that retrying cannot fix (400/401/403/404, errors in 200
//! bodies), since every later call would fail the same way.

use crate::{containers, pc, vm, was, Client, Options, QualysError, Sink};
use std::collections::BTreeMap;
use std::sync::Mutex;
use vigil_model::Timestamp;

/// What a run ingested and what failed. A family that failed (e.g. no
/// permission for Policy Compliance) is reported here while the others are
/// still ingested; a failure of every family fails the run.
#[derive(Debug, Default)]
pub struct IngestReport {
    /// Records handed to the sink per kind (`QualysBatch::kind`).
    pub counts: BTreeMap<String, u64>,
    /// The families that failed, each with its error.
    pub errors: Vec<(String, QualysError)>,
}

type Family =
    fn(&Client, &Options, Timestamp, &dyn Sink) -> Result<BTreeMap<String, u64>, QualysError>;

/// The families the options enable, by name, VM first.
pub fn families(options: &Options) -> Vec<(&'static str, Family)> {
    let mut v: Vec<(&'static str, Family)> = vec![("vm", vm::ingest)];
    if options.ingest_policy_compliance {
        v.push(("policy_compliance", pc::ingest));
    }
    if options.ingest_web_app_scans {
        v.push(("web_apps", was::ingest));
    }
    if options.ingest_container_images {
        v.push(("container_images", containers::ingest));
    }
    v
}

/// Ingests everything the options enable; `now` anchors the age filters.
pub fn run(
    client: &Client,
    options: &Options,
    now: Timestamp,
    sink: &dyn Sink,
) -> Result<IngestReport, QualysError> {
    let families = families(options);
    let total = families.len();
    let mut outcomes: Vec<(
        usize,
        &'static str,
        Result<BTreeMap<String, u64>, QualysError>,
    )> = Vec::new();
    let (first, rest) = families.split_at(1);
    for (name, f) in first {
        outcomes.push((0, name, f(client, options, now, sink)));
    }
    let queue = Mutex::new(rest.iter().enumerate().map(|(i, f)| (i + 1, *f)));
    let done = Mutex::new(Vec::new());
    let workers = (options.parallel_requests as usize).clamp(1, rest.len().max(1));
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| loop {
                let next = match queue.lock() {
                    Ok(mut q) => q.next(),
                    Err(_) => None,
                };
                let Some((i, (name, f))) = next else {
                    return;
                };
                let r = f(client, options, now, sink);
                if let Ok(mut d) = done.lock() {
                    d.push((i, name, r));
                }
            });
        }
    });
    outcomes.extend(done.into_inner().unwrap_or_default());
    outcomes.sort_by_key(|(i, _, _)| *i);
    let mut report = IngestReport::default();
    for (_, name, r) in outcomes {
        match r {
            Ok(counts) => {
                for (k, n) in counts {
                    *report.counts.entry(k).or_default() += n;
                }
            }
            Err(e) => report.errors.push((name.to_string(), e)),
        }
    }
    if report.errors.len() == total && total > 0 {
        let (_, e) = report.errors.swap_remove(0);
        return Err(e);
    }
    Ok(report)
}
