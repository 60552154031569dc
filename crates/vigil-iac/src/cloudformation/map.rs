//! CloudFormation resources → normalized resources.
//!
//! One module per service (`map/s3.rs`, …), each with
//! `pub(super) fn map(r: &CfnResource, ix: &Index<'_>) -> Option<Resource>`
//! returning `None` for resource types it does not handle. Satellite
//! resources (e.g. `AWS::EC2::SecurityGroupIngress`) produce nothing
//! themselves: the mapper of the resource they configure folds them in
//! through [`Index::satellites`]. Satellites are looked up within the same
//! template (logical ids are template-scoped).

mod autoscaling;
mod cloudtrail;
mod ec2;
mod eks;
mod elbv2;
mod iam;
mod kms;
mod lambda;
mod rds;
mod s3;
mod vpc;

use super::CfnResource;
use crate::aws::coerce_scalars;
use crate::semantics::declared_resource;
pub(crate) use crate::semantics::{set, unknown};
use crate::value::Val;
use std::collections::HashMap;
use vigil_model::{Origin, Resource};

/// Maps the resources of one template onto normalized resources.
pub fn to_resources(resources: &[CfnResource]) -> Vec<Resource> {
    let ix = Index::new(resources);
    resources.iter().filter_map(|r| map_one(r, &ix)).collect()
}

type Mapper = fn(&CfnResource, &Index<'_>) -> Option<Resource>;

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
];

/// The resource a template resource maps to, with the scalar types of the
/// collectors (see [`coerce_scalars`]).
fn map_one(r: &CfnResource, ix: &Index<'_>) -> Option<Resource> {
    let mut out = MAPPERS.iter().find_map(|m| m(r, ix))?;
    coerce_scalars(&mut out);
    Some(out)
}

/// The resources of a template, by type.
pub(crate) struct Index<'a> {
    by_type: HashMap<&'a str, Vec<&'a CfnResource>>,
    by_id: HashMap<&'a str, &'a CfnResource>,
}

/// The satellites that configure one resource of a template.
pub(crate) type Satellites<'a> = crate::semantics::Satellites<'a, CfnResource>;

impl<'a> Index<'a> {
    pub fn new(resources: &'a [CfnResource]) -> Self {
        let mut by_type: HashMap<&str, Vec<&CfnResource>> = HashMap::new();
        for r in resources {
            by_type.entry(r.resource_type.as_str()).or_default().push(r);
        }
        let by_id = resources
            .iter()
            .map(|r| (r.logical_id.as_str(), r))
            .collect();
        Index { by_type, by_id }
    }

    /// All resources of a type (`AWS::S3::Bucket`).
    pub fn of_type(&self, resource_type: &str) -> &[&'a CfnResource] {
        self.by_type.get(resource_type).map_or(&[], Vec::as_slice)
    }

    /// The resources of `resource_type` whose property `prop` (a dotted
    /// path, e.g. `Bucket`) names `target`: by `!Ref`, `!GetAtt`, or a
    /// literal equal to one of `target`'s known properties `names` (e.g.
    /// `BucketName`).
    pub fn satellites(
        &self,
        resource_type: &str,
        prop: &str,
        target: &CfnResource,
        names: &[&str],
    ) -> Satellites<'a> {
        let mut out = Satellites {
            matched: Vec::new(),
            unresolved: None,
        };
        for s in self.of_type(resource_type) {
            let Some(v) = s.props.path(prop) else {
                continue;
            };
            if refers_to(v, target, names) {
                out.matched.push(s);
            } else if out.unresolved.is_none() {
                out.unresolved = self.unresolved(v, target, s);
            }
        }
        out
    }

    /// When satellite `s` names its target by `v` and `v` does not name
    /// `target` (see [`refers_to`]): the reason `v` might still be
    /// `target`, or `None` when it cannot be. It cannot when `v` is known
    /// (a literal that is not `target`'s), or a `!Ref`/`!GetAtt` of another
    /// resource of the template (of any type); it might when `v` names no
    /// resource of the template (a parameter without a value, an import,
    /// a pseudo parameter).
    pub fn unresolved(&self, v: &Val, target: &CfnResource, s: &CfnResource) -> Option<String> {
        let Val::Unknown(u) = v else { return None };
        match self.declared(&u.expr) {
            Some(other) if other.logical_id != target.logical_id => None,
            _ => Some(format!("{} (target of {})", u.reason(), s.logical_id)),
        }
    }

    /// `v` with the unknowns that name a resource of the template other
    /// than `holder` (the resource whose property `v` is) replaced by their
    /// expression (see [`crate::semantics::stand_in`]): `!Ref Id`,
    /// `!GetAtt Id.Attr`, or a `!Sub`/`!Join` with one of them (and no
    /// `!If`, which might leave it out).
    pub fn stand_in(&self, v: &Val, holder: &CfnResource) -> Val {
        crate::semantics::stand_in(v, &|expr| {
            self.names_declared(expr, &holder.logical_id)
                .then(|| expr.to_string())
        })
    }

    /// Whether `expr` reads a resource of the template other than `holder`
    /// (see [`Index::stand_in`]).
    fn names_declared(&self, expr: &str, holder: &str) -> bool {
        let other = |id: &str| id != holder && self.by_id.contains_key(id);
        if let Some(r) = self.declared(expr) {
            return r.logical_id != holder;
        }
        let built = expr.starts_with("!Sub ") || expr.starts_with("!Join ");
        built && !expr.contains("!If") && references(expr).any(other)
    }

    /// The resource of the template an expression reads (`!Ref Id`,
    /// `!GetAtt Id.Attr`), if any.
    fn declared(&self, expr: &str) -> Option<&'a CfnResource> {
        let id = match expr.strip_prefix("!Ref ") {
            Some(id) => id,
            None => expr.strip_prefix("!GetAtt ")?.split('.').next()?,
        };
        self.by_id.get(id).copied()
    }
}

/// The logical ids an expression's text reads: after `!Ref `, `!GetAtt `
/// and `${` (a `!Sub` variable; pseudo parameters and `${!Literal}` give
/// no resource id).
fn references(expr: &str) -> impl Iterator<Item = &str> {
    ["!Ref ", "!GetAtt ", "${"]
        .into_iter()
        .flat_map(move |marker| {
            expr.match_indices(marker).map(move |(i, _)| {
                let rest = &expr[i + marker.len()..];
                let end = rest
                    .find(|c: char| !c.is_ascii_alphanumeric())
                    .unwrap_or(rest.len());
                &rest[..end]
            })
        })
}

/// Whether `v` names `target`: `!Ref Id`, `!GetAtt Id.Attr`, or a literal
/// equal to one of `target`'s known properties `names`.
pub(crate) fn refers_to(v: &Val, target: &CfnResource, names: &[&str]) -> bool {
    match v {
        Val::Unknown(u) => {
            u.expr.strip_prefix("!Ref ") == Some(target.logical_id.as_str())
                || u.expr
                    .strip_prefix("!GetAtt ")
                    .and_then(|rest| rest.strip_prefix(target.logical_id.as_str()))
                    .is_some_and(|rest| rest.starts_with('.'))
        }
        Val::String(s) => names
            .iter()
            .any(|n| target.props.path(n).and_then(Val::as_str) == Some(s.as_str())),
        _ => false,
    }
}

/// A new resource: id = logical id, name = the known string property
/// `name_prop` (else the logical id), tags from `Tags` (`[{Key, Value}]`),
/// origin and suppressions from the template.
pub(crate) fn new_resource(
    r: &CfnResource,
    service: &str,
    resource_type: &str,
    name_prop: Option<&str>,
) -> Resource {
    let name = name_prop
        .and_then(|p| r.props.path(p))
        .and_then(Val::as_str)
        .map_or_else(|| r.logical_id.clone(), str::to_string);
    let mut out = declared_resource(
        service,
        resource_type,
        &r.logical_id,
        name,
        r.suppressed.clone(),
        Origin::Iac {
            file: r.file.clone(),
            line: r.line,
            end_line: r.end_line,
        },
    );
    match r.props.get("Tags") {
        Some(Val::List(tags)) => {
            for t in tags {
                match (
                    t.get("Key").and_then(Val::to_display),
                    t.get("Value").and_then(Val::to_display),
                ) {
                    (Some(k), Some(v)) => {
                        out.tags.insert(k, v);
                    }
                    _ => {
                        if let Some(u) = t.first_unknown() {
                            out.uncollected.insert("tags".into(), u.reason());
                        }
                    }
                }
            }
        }
        Some(Val::Unknown(u)) => {
            out.uncollected.insert("tags".into(), u.reason());
        }
        _ => {}
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloudformation::template::parse_template;

    /// The logical ids of the listeners of `lb`, and whether one cannot be
    /// told.
    fn listeners(resources: &str, lb: &str) -> (Vec<String>, Option<String>) {
        let text = format!(
            "AWSTemplateFormatVersion: '2010-09-09'\nParameters:\n  Lb:\n    Type: String\n\
             Resources:\n{resources}"
        );
        let rs = match parse_template("t.yaml", &text) {
            Ok(rs) => rs,
            Err(e) => panic!("{e:?}"),
        };
        let ix = Index::new(&rs);
        let target = rs.iter().find(|r| r.logical_id == lb);
        let target = target.unwrap_or_else(|| panic!("no {lb}"));
        let s = ix.satellites(
            "AWS::ElasticLoadBalancingV2::Listener",
            "LoadBalancerArn",
            target,
            &[],
        );
        let ids = s.matched.iter().map(|r| r.logical_id.clone()).collect();
        (ids, s.unresolved)
    }

    const LBS: &str = "  Web:\n    Type: AWS::ElasticLoadBalancingV2::LoadBalancer\n\
                       \x20 Api:\n    Type: AWS::ElasticLoadBalancingV2::LoadBalancer\n\
                       \x20 Bucket:\n    Type: AWS::S3::Bucket\n";

    fn listener(target: &str) -> String {
        format!(
            "{LBS}  L:\n    Type: AWS::ElasticLoadBalancingV2::Listener\n    \
             Properties:\n      LoadBalancerArn: {target}\n"
        )
    }

    #[test]
    fn a_satellite_of_another_resource_of_the_template_is_not_this_ones() {
        assert_eq!(
            listeners(&listener("!Ref Web"), "Web"),
            (vec!["L".to_string()], None)
        );
        assert_eq!(listeners(&listener("!Ref Web"), "Api"), (vec![], None));
        // Of any type: a wrong reference is still not this resource's.
        assert_eq!(
            listeners(&listener("!GetAtt Bucket.Arn"), "Api"),
            (vec![], None)
        );
    }

    #[test]
    fn a_satellite_whose_target_names_no_resource_of_the_template_is_unresolved() {
        for target in ["!Ref Lb", "!ImportValue shared-lb", "!GetAtt Elsewhere.Arn"] {
            let (matched, unresolved) = listeners(&listener(target), "Api");
            assert!(matched.is_empty(), "{target}");
            let reason = unresolved.unwrap_or_else(|| panic!("{target}: resolved"));
            assert!(reason.ends_with("(target of L)"), "{reason}");
        }
    }

    #[test]
    fn a_reference_to_another_resource_or_a_sub_or_join_with_one_stands_in() {
        let rs = match parse_template(
            "t.yaml",
            "Resources:\n  LogGroup:\n    Type: AWS::Logs::LogGroup\n  \
             Trail:\n    Type: AWS::CloudTrail::Trail\n",
        ) {
            Ok(rs) => rs,
            Err(e) => panic!("{e:?}"),
        };
        let ix = Index::new(&rs);
        let holder = rs.iter().find(|r| r.logical_id == "Trail");
        let holder = holder.unwrap_or_else(|| panic!("no Trail"));
        let stands_in = |expr: &str| ix.stand_in(&Val::unknown(expr), holder) == Val::string(expr);
        for declared in [
            "!Ref LogGroup",
            "!GetAtt LogGroup.Arn",
            "!Sub ${LogGroup.Arn}:*",
            "!Sub arn:${AWS::Partition}:logs:${LogGroup}",
            "!Join [:, [!GetAtt LogGroup.Arn, \"*\"]]",
        ] {
            assert!(stands_in(declared), "{declared}");
        }
        for other in [
            "!Ref GroupParam",
            "!GetAtt Trail.Arn",
            "!Sub ${!LogGroup}:${GroupParam}",
            "!Join [:, [!If [C, !GetAtt LogGroup.Arn, \"\"], \"*\"]]",
            "!Select [0, [!GetAtt LogGroup.Arn]]",
            "!ImportValue shared",
        ] {
            assert!(!stands_in(other), "{other}");
        }
    }
}
