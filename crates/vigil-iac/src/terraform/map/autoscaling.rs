//! Terraform → normalized resources: Auto Scaling groups
//! (`aws_autoscaling_group`), with their `aws_launch_configuration`,
//! `aws_autoscaling_attachment`s and the Availability Zones of their
//! `aws_subnet`s, in the shape of the live collector's
//! `aws.autoscaling.group`.
//!
//! The zone and launch configuration rules ([`zones_of_subnets`],
//! [`launch_configuration_json`]) are shared with the CloudFormation mapper.

use super::{new_resource, refers_to, set, unknown, Index};
use crate::aws::loose_bool;
use crate::terraform::TfResource;
use crate::value::Val;
use serde_json::{json, Value};
use vigil_model::Resource;

/// Maps the autoscaling resource types this module handles; `None` for others.
pub(super) fn map(d: &TfResource, ix: &Index<'_>) -> Option<Resource> {
    (d.kind == "aws_autoscaling_group").then(|| group(d, ix))
}

fn group(d: &TfResource, ix: &Index<'_>) -> Resource {
    let mut r = new_resource(d, "Auto Scaling", "aws.autoscaling.group", Some("name"));
    let a = &d.attrs;
    set(&mut r, "min_size", a.get("min_size"), None);
    set(&mut r, "max_size", a.get("max_size"), None);
    // Without a desired capacity, AWS starts at the minimum size.
    set(
        &mut r,
        "desired_capacity",
        a.get("desired_capacity").or(a.get("min_size")),
        None,
    );

    let subnets = a.get("vpc_zone_identifier").filter(|v| !v.is_null());
    set(&mut r, "subnet_ids", subnets, Some(json!([])));
    match (
        a.get("availability_zones").filter(|v| !v.is_null()),
        subnets,
    ) {
        (Some(zones), _) => set_zones(&mut r, zones.to_json().map_err(|u| u.reason())),
        (None, Some(subnets)) => {
            let zones = zones_of_subnets(subnets, |s| {
                ix.of_kind("aws_subnet")
                    .iter()
                    .find(|n| refers_to(s, n, &["id"]))
                    .and_then(|n| n.attrs.get("availability_zone"))
            });
            set_zones(&mut r, zones);
        }
        (None, None) => {
            r.uncollected.insert(
                "availability_zones".into(),
                "neither availability_zones nor vpc_zone_identifier is set".into(),
            );
        }
    }

    // AWS's defaults: EC2 health checks with a 300 s grace period (the
    // provider's default), no capacity rebalancing, no scale-in protection.
    set(
        &mut r,
        "health_check_type",
        a.get("health_check_type"),
        Some(json!("EC2")),
    );
    set(
        &mut r,
        "health_check_grace_period",
        a.get("health_check_grace_period"),
        Some(json!(300)),
    );
    set(
        &mut r,
        "capacity_rebalance",
        a.get("capacity_rebalance"),
        Some(json!(false)),
    );
    set(
        &mut r,
        "new_instances_protected_from_scale_in",
        a.get("protect_from_scale_in"),
        Some(json!(false)),
    );

    // Load balancers: the group's own arguments plus the attachments that
    // name it.
    let (attachments, unresolved) = attachments(ix, d);
    let target_groups: Vec<_> = attachments
        .iter()
        .map(|at| at.attrs.get("lb_target_group_arn"))
        .collect();
    let classic: Vec<_> = attachments.iter().map(|at| at.attrs.get("elb")).collect();
    for (key, list, singles) in [
        (
            "target_group_arns",
            a.get("target_group_arns"),
            target_groups,
        ),
        ("load_balancer_names", a.get("load_balancers"), classic),
    ] {
        match &unresolved {
            Some(reason) => {
                r.uncollected.insert(key.into(), reason.clone());
            }
            None => set_identities(&mut r, key, &[list], &singles),
        }
    }

    let template = a.blocks("launch_template").into_iter().next().or_else(|| {
        a.blocks("mixed_instances_policy")
            .into_iter()
            .flat_map(|m| m.blocks("launch_template"))
            .flat_map(|t| t.blocks("launch_template_specification"))
            .next()
    });
    r.attributes.insert(
        "launch_template".into(),
        match template {
            Some(t) => json!({
                "id": identity(t.get("id").or(t.get("launch_template_id"))),
                "name": identity(t.get("name").or(t.get("launch_template_name"))),
                "version": identity(t.get("version")),
            }),
            None => Value::Null,
        },
    );
    r.attributes.insert(
        "mixed_instances_policy".into(),
        json!(!a.blocks("mixed_instances_policy").is_empty()),
    );

    match a.get("launch_configuration").filter(|v| !v.is_null()) {
        None => {
            r.attributes
                .insert("launch_configuration".into(), Value::Null);
        }
        Some(lc) => {
            let found = ix
                .of_kind("aws_launch_configuration")
                .iter()
                .find(|c| refers_to(lc, c, &["name", "id"]));
            let built = match found {
                Some(c) => launch_configuration_json(&LaunchConfigurationArgs {
                    name: c.attrs.get("name").unwrap_or(lc),
                    image_id: c.attrs.get("image_id"),
                    instance_type: c.attrs.get("instance_type"),
                    associate_public_ip_address: c.attrs.get("associate_public_ip_address"),
                    http_tokens: metadata(c, "http_tokens"),
                    http_endpoint: metadata(c, "http_endpoint"),
                    iam_instance_profile: c.attrs.get("iam_instance_profile"),
                    origin: &c.address,
                }),
                None => Err(not_in_files(lc)),
            };
            set_launch_configuration(&mut r, built);
        }
    }
    r
}

/// A `metadata_options` setting; the block itself when it is unknown (a
/// `dynamic` block over an unknown collection).
fn metadata<'a>(c: &'a TfResource, key: &str) -> Option<&'a Val> {
    if let Some(v @ Val::Unknown(_)) = c.attrs.get("metadata_options") {
        return Some(v);
    }
    c.attrs
        .blocks("metadata_options")
        .first()
        .and_then(|m| m.get(key))
}

/// Why a launch configuration named by `lc` cannot be read.
pub(crate) fn not_in_files(lc: &Val) -> String {
    match lc {
        Val::Unknown(u) => u.reason(),
        other => format!(
            "launch configuration {} is not declared in the scanned files",
            other.to_display().unwrap_or_default()
        ),
    }
}

/// The `aws_autoscaling_attachment`s that name the group (by reference or
/// literal name), and the reason one might but cannot be resolved.
fn attachments<'a>(ix: &Index<'a>, g: &TfResource) -> (Vec<&'a TfResource>, Option<String>) {
    let found = ix.satellites(
        "aws_autoscaling_attachment",
        "autoscaling_group_name",
        g,
        &["name", "id"],
    );
    (found.matched, found.unresolved)
}

/// The ARN or name of another resource: its value, or the expression
/// standing for it when it is known only once created (the controls count
/// target groups; they do not read their ARNs).
pub(crate) fn identity(v: Option<&Val>) -> Value {
    match v {
        None => Value::Null,
        Some(v) => v
            .to_json()
            .unwrap_or_else(|u| Value::String(u.expr.clone())),
    }
}

/// Sets `key` to the concatenation of `lists` (arguments that are lists
/// of identities) and `singles` (arguments that are one identity each);
/// uncollected when one of the lists is itself unknown (its length is not
/// known).
pub(crate) fn set_identities(
    r: &mut Resource,
    key: &str,
    lists: &[Option<&Val>],
    singles: &[Option<&Val>],
) {
    let mut out = Vec::new();
    for l in lists.iter().flatten() {
        match l {
            Val::Unknown(u) => return unknown(r, key, u),
            Val::List(items) => out.extend(items.iter().map(|i| identity(Some(i)))),
            Val::Null => {}
            single => out.push(identity(Some(single))),
        }
    }
    out.extend(
        singles
            .iter()
            .flatten()
            .filter(|v| !v.is_null())
            .map(|v| identity(Some(v))),
    );
    r.attributes.insert(key.into(), Value::Array(out));
}

/// The Availability Zones of a group's subnets, as AWS derives them
/// (distinct, sorted): `zone_of` gives the zone of one subnet when it is
/// declared in the scanned files with a literal zone. A subnet given by id,
/// or whose zone is not known, makes the zones unknown: two subnets may
/// share a zone.
pub(crate) fn zones_of_subnets<'a>(
    subnets: &'a Val,
    zone_of: impl Fn(&'a Val) -> Option<&'a Val>,
) -> Result<Value, String> {
    let items: Vec<&Val> = match subnets {
        Val::List(items) => items.iter().collect(),
        // `"subnet-a,subnet-b"` is accepted too.
        Val::String(_) => vec![subnets],
        Val::Unknown(u) => return Err(u.reason()),
        _ => Vec::new(),
    };
    let mut zones = Vec::new();
    for s in items {
        match zone_of(s) {
            Some(Val::String(z)) => zones.push(z.clone()),
            Some(Val::Unknown(u)) => return Err(u.reason()),
            _ => {
                let which = match s {
                    Val::Unknown(u) => u.expr.clone(),
                    other => other.to_display().unwrap_or_default(),
                };
                return Err(format!(
                    "Availability Zone of subnet {which} not known at build time"
                ));
            }
        }
    }
    zones.sort();
    zones.dedup();
    Ok(json!(zones))
}

/// Sets `availability_zones` (sorted, distinct) or its reason to be unknown.
pub(crate) fn set_zones(r: &mut Resource, zones: Result<Value, String>) {
    match zones {
        Ok(Value::Array(mut z)) => {
            z.sort_by(|a, b| a.as_str().cmp(&b.as_str()));
            z.dedup();
            r.attributes
                .insert("availability_zones".into(), Value::Array(z));
        }
        Ok(other) => {
            r.attributes.insert("availability_zones".into(), other);
        }
        Err(reason) => {
            r.uncollected.insert("availability_zones".into(), reason);
        }
    }
}

/// A launch configuration's arguments, as written.
pub(crate) struct LaunchConfigurationArgs<'a> {
    pub name: &'a Val,
    pub image_id: Option<&'a Val>,
    pub instance_type: Option<&'a Val>,
    pub associate_public_ip_address: Option<&'a Val>,
    pub http_tokens: Option<&'a Val>,
    pub http_endpoint: Option<&'a Val>,
    pub iam_instance_profile: Option<&'a Val>,
    /// Its address or logical id, for messages.
    pub origin: &'a str,
}

/// The launch configuration in the collector's shape, with AWS's defaults
/// (`http_tokens` "optional", `http_endpoint` "enabled", no explicit public
/// IP setting); unknown when a setting the controls judge is. Names and
/// ids of other resources are identities ([`identity`]).
pub(crate) fn launch_configuration_json(c: &LaunchConfigurationArgs<'_>) -> Result<Value, String> {
    let judged = |v: Option<&Val>, default: Value| -> Result<Value, String> {
        match v {
            None | Some(Val::Null) => Ok(default),
            Some(v) => {
                let v = loose_bool(v);
                v.to_json()
                    .map_err(|u| format!("{} (in {})", u.reason(), c.origin))
            }
        }
    };
    Ok(json!({
        "name": identity(Some(c.name)),
        "image_id": identity(c.image_id),
        "instance_type": identity(c.instance_type),
        "associate_public_ip_address": judged(c.associate_public_ip_address, Value::Null)?,
        "http_tokens": judged(c.http_tokens, json!("optional"))?,
        "http_endpoint": judged(c.http_endpoint, json!("enabled"))?,
        "iam_instance_profile": identity(c.iam_instance_profile),
    }))
}

/// Sets `launch_configuration` or its reason to be unknown.
pub(crate) fn set_launch_configuration(r: &mut Resource, built: Result<Value, String>) {
    match built {
        Ok(v) => {
            r.attributes.insert("launch_configuration".into(), v);
        }
        Err(reason) => {
            r.attributes.remove("launch_configuration");
            r.uncollected.insert("launch_configuration".into(), reason);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::to_resources;
    use crate::semantics::test_support::{block, decl};
    use crate::terraform::TfResource;
    use crate::value::Val;
    use serde_json::{json, Value};
    use vigil_model::Resource;

    fn web(extra: Vec<(&str, Val)>) -> TfResource {
        let mut attrs = vec![
            ("name", Val::string("web")),
            ("min_size", Val::Number(2.0)),
            ("max_size", Val::Number(6.0)),
        ];
        attrs.extend(extra);
        decl("aws_autoscaling_group", "web", attrs)
    }

    fn subnet(name: &str, zone: Val) -> TfResource {
        decl("aws_subnet", name, vec![("availability_zone", zone)])
    }

    fn refs(exprs: &[&str]) -> Val {
        Val::List(exprs.iter().map(|e| Val::unknown(*e)).collect())
    }

    fn group(decls: Vec<TfResource>) -> Resource {
        to_resources(&decls)
            .into_iter()
            .find(|r| r.resource_type == "aws.autoscaling.group")
            .unwrap()
    }

    fn attr<'a>(r: &'a Resource, k: &str) -> Option<&'a Value> {
        r.attributes.get(k)
    }

    #[test]
    fn omitted_arguments_take_the_aws_defaults() {
        let r = group(vec![web(vec![(
            "availability_zones",
            Val::List(vec![Val::string("us-east-1a")]),
        )])]);
        assert_eq!(r.service, "Auto Scaling");
        assert_eq!(r.name, "web");
        assert_eq!(attr(&r, "desired_capacity"), Some(&json!(2)));
        assert_eq!(attr(&r, "health_check_type"), Some(&json!("EC2")));
        assert_eq!(attr(&r, "health_check_grace_period"), Some(&json!(300)));
        assert_eq!(attr(&r, "target_group_arns"), Some(&json!([])));
        assert_eq!(attr(&r, "load_balancer_names"), Some(&json!([])));
        assert_eq!(attr(&r, "launch_configuration"), Some(&Value::Null));
        assert_eq!(attr(&r, "availability_zones"), Some(&json!(["us-east-1a"])));
    }

    #[test]
    fn zones_of_subnets_are_distinct_and_known_only_from_declared_subnets() {
        let two_in_one_zone = group(vec![
            web(vec![(
                "vpc_zone_identifier",
                refs(&["aws_subnet.a.id", "aws_subnet.b.id"]),
            )]),
            subnet("a", Val::string("us-east-1a")),
            subnet("b", Val::string("us-east-1a")),
        ]);
        assert_eq!(
            attr(&two_in_one_zone, "availability_zones"),
            Some(&json!(["us-east-1a"]))
        );

        for subnets in [
            Val::List(vec![
                Val::string("subnet-0a1b2c3d"),
                Val::string("subnet-1a2b3c4d"),
            ]),
            refs(&["aws_subnet.a.id", "aws_subnet.c.id"]),
            Val::unknown("var.subnets"),
        ] {
            let r = group(vec![
                web(vec![("vpc_zone_identifier", subnets)]),
                subnet("a", Val::string("us-east-1a")),
                subnet("c", Val::unknown("var.zone")),
            ]);
            assert!(attr(&r, "availability_zones").is_none());
            assert!(r.uncollected.contains_key("availability_zones"));
        }
    }

    #[test]
    fn attachments_add_target_groups_by_reference_or_name() {
        for target in [
            Val::unknown("aws_autoscaling_group.web.id"),
            Val::string("web"),
        ] {
            let at = decl(
                "aws_autoscaling_attachment",
                "tg",
                vec![
                    ("autoscaling_group_name", target),
                    (
                        "lb_target_group_arn",
                        Val::unknown("aws_lb_target_group.web.arn"),
                    ),
                ],
            );
            let r = group(vec![web(vec![]), at]);
            assert_eq!(
                attr(&r, "target_group_arns"),
                Some(&json!(["aws_lb_target_group.web.arn"]))
            );
        }
        let at = decl(
            "aws_autoscaling_attachment",
            "tg",
            vec![("autoscaling_group_name", Val::unknown("var.group"))],
        );
        let r = group(vec![web(vec![]), at]);
        assert!(r.uncollected.contains_key("target_group_arns"));
        let r = group(vec![web(vec![(
            "target_group_arns",
            Val::unknown("var.tgs"),
        )])]);
        assert!(r.uncollected.contains_key("target_group_arns"));
    }

    #[test]
    fn the_launch_configuration_is_read_with_its_imds_defaults() {
        let lc = |meta: Vec<(&str, Val)>| {
            decl(
                "aws_launch_configuration",
                "web",
                vec![
                    ("image_id", Val::unknown("data.aws_ami.al2023.id")),
                    ("instance_type", Val::string("t3.small")),
                    ("associate_public_ip_address", Val::Bool(true)),
                    ("metadata_options", Val::List(vec![block(meta)])),
                ],
            )
        };
        let uses = || {
            web(vec![(
                "launch_configuration",
                Val::unknown("aws_launch_configuration.web.name"),
            )])
        };
        let r = group(vec![uses(), lc(vec![])]);
        let c = attr(&r, "launch_configuration").unwrap();
        assert_eq!(c["http_tokens"], json!("optional"));
        assert_eq!(c["http_endpoint"], json!("enabled"));
        assert_eq!(c["associate_public_ip_address"], json!(true));
        assert_eq!(c["image_id"], json!("data.aws_ami.al2023.id"));

        let r = group(vec![
            uses(),
            lc(vec![("http_tokens", Val::unknown("var.tokens"))]),
        ]);
        assert!(r.uncollected["launch_configuration"].contains("var.tokens"));

        let mut dynamic = lc(vec![]);
        if let Val::Map(m) = &mut dynamic.attrs {
            m.insert("metadata_options".into(), Val::unknown("var.imds"));
        }
        let r = group(vec![uses(), dynamic]);
        assert!(r.uncollected["launch_configuration"].contains("var.imds"));

        let r = group(vec![web(vec![(
            "launch_configuration",
            Val::string("elsewhere"),
        )])]);
        assert!(r.uncollected["launch_configuration"].contains("elsewhere"));
    }
}
