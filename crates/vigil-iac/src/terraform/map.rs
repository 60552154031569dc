//! Terraform resource blocks → normalized resources.
//!
//! One module per service (`map/s3.rs`, …), each with
//! `pub(super) fn map(d: &TfResource, ix: &Index<'_>) -> Option<Resource>`
//! returning `None` for resource types it does not handle. Satellite
//! resources (e.g. `aws_s3_bucket_versioning`) produce nothing themselves:
//! the mapper of the resource they configure folds them in through
//! [`Index::satellites`].

// Until every service mapper uses the helpers.
#![allow(dead_code)]

pub(crate) mod autoscaling;
mod cloudtrail;
pub(crate) mod ec2;
mod eks;
pub(crate) mod elbv2;
mod iam;
mod kms;
pub(crate) mod lambda;
mod provider;
mod rds;
mod s3;
pub(crate) mod vpc;

use super::TfResource;
use crate::value::{Unknown, Val};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap};
use vigil_model::{Origin, Provider, Resource};

/// Maps evaluated resource blocks onto normalized resources.
///
/// Each root module is mapped on its own: a satellite configures only the
/// resources of its own configuration (two directories scanned together are
/// two configurations, even if their addresses coincide).
pub fn to_resources(decls: &[TfResource]) -> Vec<Resource> {
    let mut roots: Vec<&str> = decls.iter().map(|d| d.root.as_str()).collect();
    roots.sort_unstable();
    roots.dedup();
    if roots.len() <= 1 {
        let ix = Index::new(decls);
        return decls.iter().filter_map(|d| map_one(d, &ix)).collect();
    }
    let mut out = Vec::new();
    for root in roots {
        let group: Vec<TfResource> = decls.iter().filter(|d| d.root == root).cloned().collect();
        let ix = Index::new(&group);
        out.extend(group.iter().filter_map(|d| map_one(d, &ix)));
    }
    out
}

type Mapper = fn(&TfResource, &Index<'_>) -> Option<Resource>;

const MAPPERS: &[Mapper] = &[
    s3::map,
    ec2::map,
    vpc::map,
    rds::map,
    iam::map,
    cloudtrail::map,
    kms::map,
    eks::map,
    elbv2::map,
    lambda::map,
    autoscaling::map,
    provider::map,
];

fn map_one(d: &TfResource, ix: &Index<'_>) -> Option<Resource> {
    MAPPERS.iter().find_map(|m| m(d, ix))
}

/// The resource blocks of a scan, by type.
pub(crate) struct Index<'a> {
    by_kind: HashMap<&'a str, Vec<&'a TfResource>>,
}

/// The satellites that configure one resource.
pub(crate) struct Satellites<'a> {
    /// Those that name the resource (by reference or by its literal name).
    pub matched: Vec<&'a TfResource>,
    /// When a satellite's target cannot be resolved (e.g. `var.bucket_id`
    /// without a default), it might configure this resource: the reason,
    /// to put in `uncollected` for the attributes it would set when
    /// `matched` is empty.
    pub unresolved: Option<String>,
}

impl<'a> Index<'a> {
    pub fn new(decls: &'a [TfResource]) -> Self {
        let mut by_kind: HashMap<&str, Vec<&TfResource>> = HashMap::new();
        for d in decls {
            by_kind.entry(d.kind.as_str()).or_default().push(d);
        }
        Index { by_kind }
    }

    /// All blocks of a resource type.
    pub fn of_kind(&self, kind: &str) -> &[&'a TfResource] {
        self.by_kind.get(kind).map_or(&[], Vec::as_slice)
    }

    /// The blocks of type `kind` whose argument `arg` names `target`
    /// through one of its attributes `attrs` (`aws_s3_bucket.x.id`, or the
    /// literal value of `target`'s `bucket` argument when `attrs` has it).
    pub fn satellites(
        &self,
        kind: &str,
        arg: &str,
        target: &TfResource,
        attrs: &[&str],
    ) -> Satellites<'a> {
        let mut out = Satellites {
            matched: Vec::new(),
            unresolved: None,
        };
        for s in self.of_kind(kind) {
            let Some(v) = s.attrs.get(arg) else { continue };
            if refers_to(v, target, attrs) {
                out.matched.push(s);
            } else if let Val::Unknown(u) = v {
                let resolvable = self
                    .of_kind(&target.kind)
                    .iter()
                    .any(|t| refers_to(v, t, attrs));
                if !resolvable && out.unresolved.is_none() {
                    out.unresolved = Some(format!("{} (target of {})", u.reason(), s.address));
                }
            }
        }
        out
    }
}

/// Whether `v` names `target` through one of its attributes `attrs`: a
/// reference (`<address>.<attr>`, unknown at build time) or a literal equal
/// to `target`'s known value of that attribute.
pub(crate) fn refers_to(v: &Val, target: &TfResource, attrs: &[&str]) -> bool {
    match v {
        Val::Unknown(u) => attrs.iter().any(|a| {
            u.expr
                .strip_prefix(target.address.as_str())
                .and_then(|rest| rest.strip_prefix('.'))
                == Some(a)
        }),
        Val::String(s) => attrs
            .iter()
            .any(|a| target.attrs.get(a).and_then(Val::as_str) == Some(s.as_str())),
        _ => false,
    }
}

/// A new resource for a block: id = address, name = the known string
/// argument `name_arg` (else the address), tags from `tags`, origin and
/// suppressions from the block.
pub(crate) fn new_resource(
    d: &TfResource,
    service: &str,
    resource_type: &str,
    name_arg: Option<&str>,
) -> Resource {
    let name = name_arg
        .and_then(|a| d.attrs.get(a))
        .and_then(Val::as_str)
        .map_or_else(|| d.address.clone(), str::to_string);
    let mut r = Resource {
        provider: Provider::Aws,
        account: String::new(),
        region: String::new(),
        service: service.into(),
        resource_type: resource_type.into(),
        id: d.address.clone(),
        name,
        tags: BTreeMap::new(),
        attributes: Map::new(),
        associations: Vec::new(),
        uncollected: BTreeMap::new(),
        suppressed: d.suppressed.clone(),
        first_discovered: None,
        last_updated: None,
        origin: Origin::Iac {
            file: d.file.clone(),
            line: d.line,
            end_line: d.end_line,
        },
    };
    match d.attrs.get("tags") {
        Some(Val::Map(tags)) => {
            for (k, v) in tags {
                match v.to_display() {
                    Some(s) => {
                        r.tags.insert(k.clone(), s);
                    }
                    None => {
                        if let Some(u) = v.first_unknown() {
                            r.uncollected.insert("tags".into(), u.reason());
                        }
                    }
                }
            }
        }
        Some(Val::Unknown(u)) => {
            r.uncollected.insert("tags".into(), u.reason());
        }
        _ => {}
    }
    r
}

/// Sets attribute `key` to `v` as JSON; when `v` is absent or null, to
/// `default` if given; when `v` is or contains an unknown, records it in
/// `uncollected` instead.
pub(crate) fn set(r: &mut Resource, key: &str, v: Option<&Val>, default: Option<Value>) {
    match v.filter(|v| !v.is_null()) {
        Some(v) => match v.to_json() {
            Ok(j) => {
                r.attributes.insert(key.into(), j);
            }
            Err(u) => unknown(r, key, u),
        },
        None => {
            if let Some(d) = default {
                r.attributes.insert(key.into(), d);
            }
        }
    }
}

/// Records that attribute `key` is not known at build time.
pub(crate) fn unknown(r: &mut Resource, key: &str, u: &Unknown) {
    r.attributes.remove(key);
    r.uncollected.insert(key.into(), u.reason());
}
