//! Terraform resource blocks → normalized resources.
//!
//! One module per service (`map/s3.rs`, …), each with
//! `pub(super) fn map(d: &TfResource, ix: &Index<'_>) -> Option<Resource>`
//! returning `None` for resource types it does not handle. Satellite
//! resources (e.g. `aws_s3_bucket_versioning`) produce nothing themselves:
//! the mapper of the resource they configure folds them in through
//! [`Index::satellites`].

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
use crate::aws::coerce_scalars;
use crate::semantics::declared_resource;
pub(crate) use crate::semantics::{set, unknown};
use crate::value::Val;
use std::collections::{BTreeMap, HashMap};
use vigil_model::{Origin, Resource};

/// Maps evaluated resource blocks onto normalized resources.
///
/// Each root module is mapped on its own: a satellite configures only the
/// resources of its own configuration (two directories scanned together are
/// two configurations, even if their addresses coincide).
pub fn to_resources(decls: &[TfResource]) -> Vec<Resource> {
    let mut by_root: BTreeMap<&str, Vec<&TfResource>> = BTreeMap::new();
    for d in decls {
        by_root.entry(d.root.as_str()).or_default().push(d);
    }
    let mut out = Vec::new();
    for group in by_root.values() {
        let ix = Index::new(group.iter().copied());
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

/// The resource a block maps to, with the scalar types of the collectors
/// (see [`coerce_scalars`]).
fn map_one(d: &TfResource, ix: &Index<'_>) -> Option<Resource> {
    let mut r = MAPPERS.iter().find_map(|m| m(d, ix))?;
    coerce_scalars(&mut r);
    Some(r)
}

/// The resource blocks of a scan, by type.
pub(crate) struct Index<'a> {
    by_kind: HashMap<&'a str, Vec<&'a TfResource>>,
    by_address: HashMap<&'a str, &'a TfResource>,
}

/// The satellites that configure one resource block.
pub(crate) type Satellites<'a> = crate::semantics::Satellites<'a, TfResource>;

impl<'a> Index<'a> {
    pub fn new(decls: impl IntoIterator<Item = &'a TfResource>) -> Self {
        let mut by_kind: HashMap<&str, Vec<&TfResource>> = HashMap::new();
        let mut by_address = HashMap::new();
        for d in decls {
            by_kind.entry(d.kind.as_str()).or_default().push(d);
            by_address.insert(d.address.as_str(), d);
        }
        Index {
            by_kind,
            by_address,
        }
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
            } else if out.unresolved.is_none() {
                out.unresolved = self.unresolved(v, target, s);
            }
        }
        out
    }

    /// When satellite `s` names its target by `v` and `v` does not name
    /// `target` (see [`refers_to`]): the reason `v` might still be
    /// `target`, or `None` when it cannot be. It cannot when `v` is known
    /// (a literal that is not `target`'s), or a reference to another
    /// resource declared in the scan (`aws_alb.web.arn`, of any type);
    /// it might when `v` names no declared resource (a variable without a
    /// value, a data source, a module output, a resource outside the scan)
    /// or `s` itself (a plan names what it leaves unknown by the address of
    /// the resource that holds it).
    pub fn unresolved(&self, v: &Val, target: &TfResource, s: &TfResource) -> Option<String> {
        let Val::Unknown(u) = v else { return None };
        match self.declared(&u.expr) {
            Some(other) if other.address != target.address && other.address != s.address => None,
            _ => Some(format!("{} (target of {})", u.reason(), s.address)),
        }
    }

    /// `v` with the unknowns that name a resource declared in the scan
    /// (other than `holder`, the block whose argument `v` is: a plan names
    /// what it leaves unknown by that block's address) replaced by their
    /// expression (see [`crate::semantics::stand_in`]): a reference
    /// (`aws_iam_policy.p.arn`) or a string template with one
    /// (`"${aws_cloudwatch_log_group.x.arn}:*"`, without directives; its
    /// text without the quotes).
    pub fn stand_in(&self, v: &Val, holder: &TfResource) -> Val {
        crate::semantics::stand_in(v, &|expr| self.declared_text(expr, &holder.address))
    }

    /// `expr` (a template without its quotes) when it is a reference to a
    /// declared resource other than `holder`, or a string template with
    /// such a reference.
    fn declared_text(&self, expr: &str, holder: &str) -> Option<String> {
        let reference =
            |e: &str| is_traversal(e) && self.declared(e).is_some_and(|d| d.address != holder);
        let found = match expr.strip_prefix('"').and_then(|t| t.strip_suffix('"')) {
            Some(template) => (!template.contains("%{") && interpolations(template).any(reference))
                .then_some(template),
            None => reference(expr).then_some(expr),
        };
        found.map(str::to_string)
    }

    /// The declared resource an expression reads (`<address>` or
    /// `<address>.<attribute>…`), if any.
    fn declared(&self, expr: &str) -> Option<&'a TfResource> {
        let ends = expr.match_indices('.').map(|(i, _)| i);
        ends.chain([expr.len()])
            .find_map(|i| self.by_address.get(&expr[..i]).copied())
    }
}

/// Whether `expr` is a plain reference (`aws_x.y[0].arn`, `module.m.aws_x.y`):
/// no operator, call, conditional or splat.
fn is_traversal(expr: &str) -> bool {
    expr.starts_with(|c: char| c.is_ascii_alphabetic())
        && expr
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-.[]\"".contains(c))
}

/// The expressions interpolated in a template's text (`${…}`, not the
/// escaped `$${…}`), trimmed.
fn interpolations(template: &str) -> impl Iterator<Item = &str> {
    template
        .match_indices("${")
        .filter(move |(i, _)| !template[..*i].ends_with('$'))
        .filter_map(move |(i, _)| template[i + 2..].split_once('}').map(|(e, _)| e.trim()))
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
    let mut r = declared_resource(
        service,
        resource_type,
        &d.address,
        name,
        d.suppressed.clone(),
        Origin::Iac {
            file: d.file.clone(),
            line: d.line,
            end_line: d.end_line,
        },
    );
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::terraform::{eval::evaluate, TfInputs};

    fn decls(text: &str) -> Vec<TfResource> {
        let (decls, errors) = evaluate(&[("main.tf".into(), text.into())], &TfInputs::default());
        assert!(errors.is_empty(), "{errors:?}");
        decls
    }

    fn find<'a>(decls: &'a [TfResource], address: &str) -> &'a TfResource {
        let found = decls.iter().find(|d| d.address == address);
        found.unwrap_or_else(|| panic!("no {address}"))
    }

    /// The addresses of the listeners of `lb`, and whether one cannot be
    /// told.
    fn listeners(decls: &[TfResource], lb: &str) -> (Vec<String>, Option<String>) {
        let ix = Index::new(decls);
        let s = ix.satellites(
            "aws_lb_listener",
            "load_balancer_arn",
            find(decls, lb),
            &["arn", "id"],
        );
        let names = s.matched.iter().map(|d| d.address.clone()).collect();
        (names, s.unresolved)
    }

    #[test]
    fn a_satellite_of_another_declared_resource_of_any_type_is_not_this_ones() {
        let d = decls(
            r#"
resource "aws_alb" "web" {}
resource "aws_lb" "api" {}
resource "aws_lb_listener" "web" {
  load_balancer_arn = aws_alb.web.arn
}
"#,
        );
        assert_eq!(
            listeners(&d, "aws_alb.web"),
            (vec!["aws_lb_listener.web".to_string()], None)
        );
        // The listener names an `aws_alb`: it is not the `aws_lb`'s.
        assert_eq!(listeners(&d, "aws_lb.api"), (vec![], None));
    }

    #[test]
    fn a_satellite_whose_target_names_no_declared_resource_is_unresolved() {
        for target in ["var.lb", "data.aws_lb.shared.arn", "aws_lb.elsewhere.arn"] {
            let d = decls(&format!(
                "variable \"lb\" {{}}\nresource \"aws_lb\" \"api\" {{}}\n\
                 resource \"aws_lb_listener\" \"l\" {{\n  load_balancer_arn = {target}\n}}\n"
            ));
            let (matched, unresolved) = listeners(&d, "aws_lb.api");
            assert!(matched.is_empty(), "{target}");
            let reason = unresolved.unwrap_or_else(|| panic!("{target}: resolved"));
            assert!(reason.contains(target), "{reason}");
            assert!(
                reason.ends_with("(target of aws_lb_listener.l)"),
                "{reason}"
            );
        }
    }

    #[test]
    fn a_satellite_naming_itself_is_unresolved() {
        // A plan names a value it leaves unknown by its own address.
        let mut d =
            decls("resource \"aws_lb\" \"api\" {}\nresource \"aws_lb_listener\" \"l\" {}\n");
        if let Val::Map(m) = &mut d[1].attrs {
            m.insert(
                "load_balancer_arn".into(),
                Val::unknown("aws_lb_listener.l.load_balancer_arn"),
            );
        }
        let (_, unresolved) = listeners(&d, "aws_lb.api");
        assert!(unresolved.is_some());
    }

    #[test]
    fn only_a_plain_reference_or_a_template_with_one_stands_in_never_the_holder() {
        let d = decls(
            r#"
resource "aws_cloudwatch_log_group" "x" {}
resource "aws_iam_policy" "p" {
  count  = 2
  policy = "{}"
}
resource "aws_cloudtrail" "t" {}
"#,
        );
        let ix = Index::new(&d);
        let holder = find(&d, "aws_cloudtrail.t");
        let text = |expr: &str| match ix.stand_in(&Val::unknown(expr), holder) {
            Val::String(s) => Some(s),
            _ => None,
        };
        let arn = "aws_cloudwatch_log_group.x.arn";
        assert_eq!(text(arn).as_deref(), Some(arn));
        assert_eq!(
            text("aws_iam_policy.p[1].arn").as_deref(),
            Some("aws_iam_policy.p[1].arn")
        );
        assert_eq!(
            text("\"${ aws_cloudwatch_log_group.x.arn }:*\"").as_deref(),
            Some("${ aws_cloudwatch_log_group.x.arn }:*")
        );
        for other in [
            // The holder itself: how a plan names what it leaves unknown.
            "aws_cloudtrail.t.cloud_watch_logs_group_arn",
            "aws_iam_policy.p.arn",
            "aws_iam_policy.p[*].arn",
            "var.arn",
            "\"$${aws_cloudwatch_log_group.x.arn}${var.x}\"",
            "\"%{if var.on}${aws_cloudwatch_log_group.x.arn}%{endif}\"",
            "try(aws_cloudwatch_log_group.x.arn, null)",
            "var.on ? aws_cloudwatch_log_group.x.arn : null",
        ] {
            assert_eq!(text(other), None, "{other}");
        }
        // A list keeps its elements, each judged on its own.
        assert_eq!(
            ix.stand_in(
                &Val::List(vec![Val::unknown(arn), Val::unknown("var.arn")]),
                holder
            ),
            Val::List(vec![Val::string(arn), Val::unknown("var.arn")])
        );
    }
}
