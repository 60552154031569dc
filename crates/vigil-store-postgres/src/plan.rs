//! A scan batch checked and prepared before anything is written.

use std::collections::HashMap;
use vigil_model::Resource;
use vigil_store::{EvaluationInput, ScanBatch, StoreError};

/// A resource of the batch with its key and JSON columns.
pub struct PlannedResource<'a> {
    pub resource: &'a Resource,
    pub uid: String,
    pub tags: String,
    pub attributes: String,
    pub associations: String,
    pub origin: String,
}

/// An evaluation with its resource's database id.
pub struct PlannedEvaluation<'a> {
    pub resource_id: i64,
    pub cid: i64,
    pub input: &'a EvaluationInput<'a>,
}

pub struct Plan<'a> {
    /// The batch's resources, one per uid (the last given wins).
    pub resources: Vec<PlannedResource<'a>>,
    /// For each resource index of the batch, its slot in `resources`.
    slot: Vec<usize>,
    evaluations: &'a [EvaluationInput<'a>],
}

fn json(encoded: serde_json::Result<String>, what: &str) -> Result<String, StoreError> {
    encoded.map_err(|e| StoreError::Invalid(format!("cannot encode the {what} of a resource: {e}")))
}

impl<'a> Plan<'a> {
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
            resources,
            slot,
            evaluations: scan.evaluations,
        })
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
}
