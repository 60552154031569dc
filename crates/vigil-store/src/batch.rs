//! A scan batch checked and prepared before anything is written: what every
//! backend does with a [`ScanBatch`] before it talks to its database.

use crate::{EvaluationInput, ScanBatch, ScanSummary, StoreError};
use std::collections::HashMap;
use vigil_model::Resource;

/// A resource of the batch with its key, its JSON columns and its times.
pub struct PlannedResource<'a> {
    pub resource: &'a Resource,
    pub uid: String,
    pub tags: String,
    pub attributes: String,
    pub associations: String,
    pub origin: String,
    /// Milliseconds since the epoch; the scan's time when the resource does
    /// not say.
    pub first_discovered: i64,
    /// Milliseconds since the epoch; the scan's time when the resource does
    /// not say.
    pub last_updated: i64,
}

/// An evaluation with its resource's database id.
pub struct PlannedEvaluation<'a> {
    pub resource_id: i64,
    pub cid: i64,
    pub input: &'a EvaluationInput<'a>,
}

/// A checked batch, ready to be written.
pub struct Plan<'a> {
    /// The scan's time, in milliseconds since the epoch.
    pub at: i64,
    /// The batch's resources, one per uid (the last given wins).
    pub resources: Vec<PlannedResource<'a>>,
    /// For each uid, its slot in `resources`.
    by_uid: HashMap<String, usize>,
    /// For each resource index of the batch, its slot in `resources`.
    slot: Vec<usize>,
    evaluations: &'a [EvaluationInput<'a>],
}

fn json(encoded: serde_json::Result<String>, what: &str) -> Result<String, StoreError> {
    encoded.map_err(|e| StoreError::Invalid(format!("cannot encode the {what} of a resource: {e}")))
}

impl<'a> Plan<'a> {
    /// Checks `scan` (a source, evaluations that name resources of the batch)
    /// and prepares its resources; nothing is written when this fails.
    pub fn new(scan: &ScanBatch<'a>) -> Result<Plan<'a>, StoreError> {
        if scan.source.is_empty() {
            return Err(StoreError::Invalid("the scan's source is empty".into()));
        }
        let n = scan.resources.len();
        for (i, e) in scan.evaluations.iter().enumerate() {
            if e.resource >= n {
                return Err(StoreError::Invalid(format!(
                    "evaluation #{i} (control {}) refers to resource #{} but the scan has {n} resources; nothing was recorded",
                    e.cid, e.resource
                )));
            }
        }
        let at = scan.at.timestamp_millis();
        let mut resources: Vec<PlannedResource<'a>> = Vec::with_capacity(n);
        let mut by_uid: HashMap<String, usize> = HashMap::with_capacity(n);
        let mut slot = Vec::with_capacity(n);
        for r in scan.resources {
            let planned = PlannedResource {
                resource: r,
                uid: r.uid(),
                tags: json(serde_json::to_string(&r.tags), "tags")?,
                attributes: json(serde_json::to_string(&r.attributes), "attributes")?,
                associations: json(serde_json::to_string(&r.associations), "associations")?,
                origin: json(serde_json::to_string(&r.origin), "origin")?,
                first_discovered: r.first_discovered.map_or(at, |t| t.timestamp_millis()),
                last_updated: r.last_updated.map_or(at, |t| t.timestamp_millis()),
            };
            match by_uid.get(&planned.uid) {
                Some(&s) => {
                    slot.push(s);
                    resources[s] = planned;
                }
                None => {
                    let s = resources.len();
                    by_uid.insert(planned.uid.clone(), s);
                    slot.push(s);
                    resources.push(planned);
                }
            }
        }
        Ok(Plan {
            at,
            resources,
            by_uid,
            slot,
            evaluations: scan.evaluations,
        })
    }

    /// The slot in `resources` of the resource with this uid.
    pub fn slot_of(&self, uid: &str) -> Option<usize> {
        self.by_uid.get(uid).copied()
    }

    /// The evaluations ordered by (resource id, cid), one per pair (the last
    /// given wins). `ids` are the database ids of `resources`.
    pub fn evaluations(&self, ids: &[i64]) -> Vec<PlannedEvaluation<'a>> {
        let mut out: Vec<PlannedEvaluation<'a>> = self
            .evaluations
            .iter()
            .map(|e| PlannedEvaluation {
                resource_id: ids[self.slot[e.resource]],
                cid: i64::from(e.cid),
                input: e,
            })
            .collect();
        if out
            .windows(2)
            .all(|w| (w[0].resource_id, w[0].cid) < (w[1].resource_id, w[1].cid))
        {
            return out;
        }
        // Stable, so that among equal keys the last given stays last.
        out.sort_by_key(|e| (e.resource_id, e.cid));
        let mut deduped: Vec<PlannedEvaluation<'a>> = Vec::with_capacity(out.len());
        for e in out {
            match deduped.last_mut() {
                Some(last) if (last.resource_id, last.cid) == (e.resource_id, e.cid) => *last = e,
                _ => deduped.push(e),
            }
        }
        deduped
    }

    /// What writing this plan changed, before reopened and fixed are counted.
    pub fn summary(
        &self,
        new_resources: u64,
        gone_resources: u64,
        evaluations: &[PlannedEvaluation<'_>],
    ) -> ScanSummary {
        ScanSummary {
            resources: self.resources.len() as u64,
            new_resources,
            gone_resources,
            evaluations: evaluations.len() as u64,
            reopened: 0,
            fixed: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};
    use vigil_model::{EvalResult, Origin, Provider, Timestamp};

    fn at() -> Timestamp {
        Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap()
    }

    fn bucket(id: &str, name: &str) -> Resource {
        Resource {
            provider: Provider::Aws,
            account: "1".into(),
            region: "r".into(),
            service: "S3".into(),
            resource_type: "aws.s3.bucket".into(),
            id: id.into(),
            name: name.into(),
            tags: Default::default(),
            attributes: Default::default(),
            associations: Vec::new(),
            uncollected: Default::default(),
            suppressed: Default::default(),
            first_discovered: None,
            last_updated: Some(at() - chrono::Duration::hours(1)),
            origin: Origin::Connector {
                connector: "c".into(),
                run: "run".into(),
            },
        }
    }

    fn eval(resource: usize, cid: u32, result: EvalResult) -> EvaluationInput<'static> {
        EvaluationInput {
            resource,
            cid,
            result,
            expected: "",
            actual: "",
            message: "",
        }
    }

    fn batch<'a>(
        resources: &'a [Resource],
        evaluations: &'a [EvaluationInput<'a>],
    ) -> ScanBatch<'a> {
        ScanBatch {
            source: "connector:c",
            run: "run",
            at: at(),
            resources,
            evaluations,
        }
    }

    #[test]
    fn duplicates_keep_the_last_given_and_evaluations_come_sorted() {
        let resources = [
            bucket("b", "first"),
            bucket("a", "a"),
            bucket("b", "second"),
        ];
        let evaluations = [
            eval(0, 2, EvalResult::Fail),
            eval(1, 1, EvalResult::Pass),
            eval(2, 2, EvalResult::Pass),
            eval(0, 1, EvalResult::Skip),
        ];
        let plan = Plan::new(&batch(&resources, &evaluations)).unwrap();
        assert_eq!(plan.resources.len(), 2);
        assert_eq!(plan.resources[0].resource.name, "second");
        assert_eq!(plan.slot_of(&resources[1].uid()), Some(1));
        assert_eq!(plan.slot_of("unknown"), None);
        assert_eq!(plan.at, at().timestamp_millis());
        assert_eq!(plan.resources[0].first_discovered, plan.at);
        assert_eq!(plan.resources[0].last_updated, plan.at - 3_600_000);

        let planned = plan.evaluations(&[20, 10]);
        let keys: Vec<_> = planned
            .iter()
            .map(|e| (e.resource_id, e.cid, e.input.result))
            .collect();
        assert_eq!(
            keys,
            vec![
                (10, 1, EvalResult::Pass),
                (20, 1, EvalResult::Skip),
                (20, 2, EvalResult::Pass),
            ]
        );
        let summary = plan.summary(1, 3, &planned);
        assert_eq!(
            summary,
            ScanSummary {
                resources: 2,
                new_resources: 1,
                gone_resources: 3,
                evaluations: 3,
                reopened: 0,
                fixed: 0,
            }
        );
    }

    #[test]
    fn a_batch_that_cannot_be_written_is_refused() {
        let resources = [bucket("a", "a")];
        let evaluations = [eval(1, 1, EvalResult::Fail)];
        assert!(matches!(
            Plan::new(&batch(&resources, &evaluations)),
            Err(StoreError::Invalid(m)) if m.contains("resource #1")
        ));
        let no_source = ScanBatch {
            source: "",
            ..batch(&resources, &[])
        };
        assert!(matches!(Plan::new(&no_source), Err(StoreError::Invalid(_))));
    }
}
