//! Terraform → normalized resources: EC2 security groups, EBS volumes, EBS
//! encryption by default and instances.
//!
//! * `aws_security_group` and `aws_default_security_group` →
//!   `aws.ec2.security_group`, their inline `ingress`/`egress` blocks plus
//!   the `aws_security_group_rule`, `aws_vpc_security_group_ingress_rule`
//!   and `aws_vpc_security_group_egress_rule` resources that name them folded
//!   into `ip_permissions` / `ip_permissions_egress` in the collector's shape
//!   (see [`permission`]);
//! * `aws_ebs_volume` → `aws.ec2.volume`;
//! * `aws_ebs_encryption_by_default` (with `aws_ebs_default_kms_key`) →
//!   `aws.ec2.ebs_encryption_default`;
//! * `aws_instance` → `aws.ec2.instance`, with the metadata options and
//!   instance profile of the `aws_launch_template` it names and the state
//!   of an `aws_ec2_instance_state` naming it.
//!
//! The rule and metadata normalizations are shared with the CloudFormation
//! mapper (`pub(crate)` items).

use super::{new_resource, refers_to, set, unknown, Index, Satellites};
use crate::aws::loose_bool;
use crate::secrets::{set_user_data_secrets, UserData};
use crate::terraform::TfResource;
use crate::value::{Unknown, Val};
use serde_json::{json, Value};
use vigil_model::Resource;

/// Maps the EC2 resource types this module handles; `None` for others.
pub(super) fn map(d: &TfResource, ix: &Index<'_>) -> Option<Resource> {
    match d.kind.as_str() {
        "aws_security_group" => Some(security_group(d, ix, false)),
        "aws_default_security_group" => Some(security_group(d, ix, true)),
        "aws_ebs_volume" => Some(volume(d)),
        "aws_ebs_encryption_by_default" => Some(encryption_by_default(d, ix)),
        "aws_instance" => Some(instance(d, ix)),
        _ => None,
    }
}

// ------------------------------------------------------------ shared logic

/// A rule in the collector's shape, or why it is not known at build time.
pub(crate) type Rule = Result<Value, String>;

/// The known value of an optional argument: `Ok(None)` when absent or null,
/// `Err(reason)` when it is or contains an unknown.
pub(crate) fn known(v: Option<&Val>) -> Result<Option<&Val>, String> {
    match v.filter(|v| !v.is_null()) {
        None => Ok(None),
        Some(v) => match v.first_unknown() {
            Some(u) => Err(u.reason()),
            None => Ok(Some(v)),
        },
    }
}

/// The known value of an optional boolean argument, written as a boolean or
/// as `"true"`/`"false"` (see [`loose_bool`]): `Ok(None)` when absent, null
/// or not a boolean, `Err(reason)` when unknown.
pub(crate) fn known_bool(v: Option<&Val>) -> Result<Option<bool>, String> {
    Ok(known(v)?.and_then(|v| loose_bool(v).as_bool()))
}

/// A protocol as AWS reports it in security group rules: by name where it
/// has one (`tcp`, `udp`, `icmp`, `icmpv6`), `-1` for all (`all`, `-1`),
/// else the number as text.
pub(crate) fn sg_protocol(p: &str) -> String {
    match p.trim().to_ascii_lowercase().as_str() {
        "all" | "-1" => "-1".into(),
        "6" | "tcp" => "tcp".into(),
        "17" | "udp" => "udp".into(),
        "1" | "icmp" => "icmp".into(),
        "58" | "icmpv6" => "icmpv6".into(),
        other => other.into(),
    }
}

/// A protocol argument (string or number) as [`sg_protocol`] reports it;
/// `what` names the argument for the reason when it is missing.
pub(crate) fn protocol_of(v: Option<&Val>, what: &str) -> Result<String, String> {
    match known(v)? {
        Some(p) => p
            .to_display()
            .map(|p| sg_protocol(&p))
            .ok_or_else(|| format!("{what} is a {}, not a protocol", p.type_name())),
        None => Err(format!("value not known at build time: ({what} not set)")),
    }
}

/// A port argument: `Ok(None)` when omitted.
pub(crate) fn port_of(v: Option<&Val>) -> Result<Option<i64>, String> {
    Ok(known(v)?.and_then(|p| match p {
        Val::Number(n) => Some(*n as i64),
        Val::String(s) => s.trim().parse().ok(),
        _ => None,
    }))
}

/// A list of strings (or one string) as JSON strings; empty when omitted.
pub(crate) fn strings_of(v: Option<&Val>) -> Result<Vec<Value>, String> {
    Ok(match known(v)? {
        None => Vec::new(),
        Some(Val::List(items)) => items
            .iter()
            .filter_map(Val::to_display)
            .map(Value::String)
            .collect(),
        Some(other) => other.to_display().map(Value::String).into_iter().collect(),
    })
}

/// A rule in the shape of the EC2 collector: "all traffic" (`-1`) rules
/// carry the full port range 0–65535, as the collector normalizes them; an
/// omitted port is the end of the range.
pub(crate) fn permission(
    proto: &str,
    from: Option<i64>,
    to: Option<i64>,
    v4: Vec<Value>,
    v6: Vec<Value>,
    groups: Vec<Value>,
) -> Value {
    let all = proto == "-1";
    json!({
        "ip_protocol": proto,
        "from_port": if all { 0 } else { from.unwrap_or(0) },
        "to_port": if all { 65535 } else { to.unwrap_or(65535) },
        "ip_ranges": v4,
        "ipv6_ranges": v6,
        "referenced_groups": groups,
    })
}

/// Sets `ip_permissions` or `ip_permissions_egress` from its rules: the
/// list when all are known; else, or when rules from an unresolved
/// satellite might be added (`unresolved`), the attribute goes to
/// `uncollected`.
pub(crate) fn set_rules(r: &mut Resource, key: &str, rules: Vec<Rule>, unresolved: Option<String>) {
    match rules.into_iter().collect::<Result<Vec<_>, _>>() {
        Ok(list) => match unresolved {
            None => {
                r.attributes.insert(key.into(), Value::Array(list));
            }
            Some(reason) => {
                r.uncollected.insert(key.into(), reason);
            }
        },
        Err(reason) => {
            r.uncollected.insert(key.into(), reason);
        }
    }
}

/// The metadata service options of an instance or launch template, as
/// written (each `None` when omitted).
#[derive(Default, Clone, Copy)]
pub(crate) struct Imds<'a> {
    pub http_tokens: Option<&'a Val>,
    pub http_endpoint: Option<&'a Val>,
    pub http_put_response_hop_limit: Option<&'a Val>,
    pub instance_metadata_tags: Option<&'a Val>,
}

/// Sets `metadata_options` from the instance's own options, else those of
/// its launch template (`Err` when the instance names a template that is
/// not known). An omitted `http_endpoint` is `enabled` (the documented
/// default of RunInstances, Terraform and CloudFormation); an omitted
/// `http_tokens` is left out, with its reason in `uncollected`: since 2024
/// its default depends on the AMI's `ImdsSupport` and the account's IMDS
/// defaults, so it cannot be known from the code.
pub(crate) fn set_metadata_options(
    r: &mut Resource,
    own: Imds<'_>,
    template: Result<Imds<'_>, String>,
) {
    let tpl = template.as_ref().ok().copied().unwrap_or_default();
    let mut out = serde_json::Map::new();
    let fields: [(&str, Option<&Val>, Option<&Val>); 4] = [
        ("http_tokens", own.http_tokens, tpl.http_tokens),
        ("http_endpoint", own.http_endpoint, tpl.http_endpoint),
        (
            "http_put_response_hop_limit",
            own.http_put_response_hop_limit,
            tpl.http_put_response_hop_limit,
        ),
        (
            "instance_metadata_tags",
            own.instance_metadata_tags,
            tpl.instance_metadata_tags,
        ),
    ];
    for (key, mine, theirs) in fields {
        let chosen = match known(mine) {
            Ok(Some(v)) => Ok(Some(v)),
            Ok(None) => match &template {
                Err(reason) => Err(reason.clone()),
                Ok(_) => known(theirs),
            },
            Err(reason) => Err(reason),
        };
        match chosen {
            Ok(Some(v)) => {
                if let Ok(j) = v.to_json() {
                    out.insert(key.into(), j);
                }
            }
            Ok(None) => match key {
                "http_endpoint" => {
                    out.insert(key.into(), json!("enabled"));
                }
                "http_tokens" => {
                    r.uncollected.insert(
                        "metadata_options.http_tokens".into(),
                        "not set: when omitted it depends on the AMI's ImdsSupport and the \
                         account's instance metadata defaults"
                            .into(),
                    );
                }
                _ => {}
            },
            Err(reason) => {
                r.uncollected
                    .insert(format!("metadata_options.{key}"), reason);
            }
        }
    }
    r.attributes
        .insert("metadata_options".into(), Value::Object(out));
}

// ---------------------------------------------------------- security groups

/// The reason used when a value is assigned by AWS at creation.
pub(crate) const ASSIGNED: &str =
    "value not known at build time: assigned by AWS when the resource is created";

/// Group-like resource kinds a security group rule can name.
const GROUP_KINDS: &[&str] = &["aws_security_group", "aws_default_security_group"];

/// For a resource reached through a VPC's attribute (a default security
/// group through `aws_vpc.x.default_security_group_id`), the reference
/// `<vpc address>.<attr>` that names it.
pub(crate) fn via_vpc(vpc_id: Option<&Val>, attr: &str) -> Option<String> {
    match vpc_id {
        Some(Val::Unknown(u)) => u
            .expr
            .strip_suffix(".id")
            .filter(|p| p.starts_with("aws_vpc.") || p.starts_with("aws_default_vpc."))
            .map(|p| format!("{p}.{attr}")),
        _ => None,
    }
}

/// The satellites of kind `kind` whose argument `arg` names `target`: by a
/// reference to one of `attrs`, by its literal value of one of them, or by
/// `alias` (the reference through its VPC, for default groups and ACLs).
/// An unknown target that names the default group/ACL of a VPC
/// (`…<default_attr>`) is not `target`'s when `target` is not a default
/// (has no `alias`); otherwise, as for [`Index::satellites`], one that
/// names another declared resource is not `target`'s and any other might
/// be, and is returned as `unresolved`.
pub(crate) fn satellites<'a>(
    ix: &Index<'a>,
    kind: &str,
    arg: &str,
    target: &TfResource,
    attrs: &[&str],
    alias: Option<&str>,
    default_attr: Option<&str>,
) -> Satellites<'a> {
    let mut out = Satellites {
        matched: Vec::new(),
        unresolved: None,
    };
    for s in ix.of_kind(kind) {
        let Some(v) = s.attrs.get(arg) else { continue };
        let by_alias = matches!(v, Val::Unknown(u) if Some(u.expr.as_str()) == alias);
        if by_alias || refers_to(v, target, attrs) {
            out.matched.push(s);
            continue;
        }
        let Val::Unknown(u) = v else { continue };
        let other_default =
            alias.is_none() && default_attr.is_some_and(|attr| u.expr.ends_with(attr));
        if !other_default && out.unresolved.is_none() {
            out.unresolved = ix.unresolved(v, target, s);
        }
    }
    out
}

/// A referenced security group: its literal id, or the address of the
/// declared group a reference names (the id a declared group has in Vigil).
fn group_ref(v: &Val, ix: &Index<'_>) -> Rule {
    match v {
        Val::String(s) => Ok(json!(s)),
        Val::Unknown(u) => GROUP_KINDS
            .iter()
            .flat_map(|k| ix.of_kind(k))
            .find(|g| refers_to(v, g, &["id"]))
            .map(|g| json!(g.address))
            .ok_or_else(|| u.reason()),
        other => Err(format!(
            "a {} is not a security group id",
            other.type_name()
        )),
    }
}

/// The group references of an argument (a list or one value).
fn group_refs(v: Option<&Val>, ix: &Index<'_>) -> Result<Vec<Value>, String> {
    match v {
        None | Some(Val::Null) => Ok(Vec::new()),
        Some(Val::List(items)) => items.iter().map(|g| group_ref(g, ix)).collect(),
        Some(other) => Ok(vec![group_ref(other, ix)?]),
    }
}

/// An inline `ingress`/`egress` block (`own`: the group's address, for
/// `self`) or an `aws_security_group_rule` (`own` = None).
fn classic_rule(b: &Val, own: Option<&str>, ix: &Index<'_>) -> Rule {
    let proto = protocol_of(b.get("protocol"), "protocol")?;
    let mut groups = if own.is_some() {
        group_refs(b.get("security_groups"), ix)?
    } else {
        group_refs(b.get("source_security_group_id"), ix)?
    };
    if known_bool(b.get("self"))? == Some(true) {
        match own {
            Some(a) => groups.push(json!(a)),
            None => groups.extend(group_refs(b.get("security_group_id"), ix)?),
        }
    }
    Ok(permission(
        &proto,
        port_of(b.get("from_port"))?,
        port_of(b.get("to_port"))?,
        strings_of(b.get("cidr_blocks"))?,
        strings_of(b.get("ipv6_cidr_blocks"))?,
        groups,
    ))
}

/// An `aws_vpc_security_group_{ingress,egress}_rule`.
fn vpc_rule(b: &Val, ix: &Index<'_>) -> Rule {
    let proto = protocol_of(b.get("ip_protocol"), "ip_protocol")?;
    Ok(permission(
        &proto,
        port_of(b.get("from_port"))?,
        port_of(b.get("to_port"))?,
        strings_of(b.get("cidr_ipv4"))?,
        strings_of(b.get("cidr_ipv6"))?,
        group_refs(b.get("referenced_security_group_id"), ix)?,
    ))
}

/// The inline rules `block` (`ingress`/`egress`) of a group: nested blocks
/// or the `ingress = [...]` attribute form; an unknown list is one unknown
/// rule.
fn inline_rules(d: &TfResource, block: &str, ix: &Index<'_>) -> Vec<Rule> {
    match d.attrs.get(block) {
        Some(Val::Unknown(u)) => vec![Err(u.reason())],
        Some(Val::List(items)) => items
            .iter()
            .map(|b| match b {
                Val::Map(_) => classic_rule(b, Some(&d.address), ix),
                other => Err(other
                    .first_unknown()
                    .map_or_else(|| format!("{block} entry is not a block"), Unknown::reason)),
            })
            .collect(),
        Some(b @ Val::Map(_)) => vec![classic_rule(b, Some(&d.address), ix)],
        _ => Vec::new(),
    }
}

/// `aws_security_group` / `aws_default_security_group`.
///
/// Defaults: Terraform removes the egress rule AWS adds to a new group and
/// the rules of an adopted default group, so a group has exactly the rules
/// declared; `description` is "Managed by Terraform" (provider default) or
/// "default VPC security group" for the default group; without `vpc_id` the
/// group is in the region's default VPC (not known).
fn security_group(d: &TfResource, ix: &Index<'_>, default_group: bool) -> Resource {
    let mut r = new_resource(d, "EC2", "aws.ec2.security_group", Some("name"));
    if default_group {
        r.name = "default".into();
    }
    r.uncollected.insert("group_id".into(), ASSIGNED.into());
    let description = if default_group {
        "default VPC security group"
    } else {
        "Managed by Terraform"
    };
    set(
        &mut r,
        "description",
        d.attrs.get("description"),
        Some(json!(description)),
    );
    match d.attrs.get("vpc_id").filter(|v| !v.is_null()) {
        Some(v) => set(&mut r, "vpc_id", Some(v), None),
        None => unknown(
            &mut r,
            "vpc_id",
            &Unknown {
                expr: "(vpc_id not set: the region's default VPC)".into(),
            },
        ),
    }
    let alias = if default_group {
        via_vpc(d.attrs.get("vpc_id"), "default_security_group_id")
    } else {
        None
    };
    let sats = |kind: &str| {
        satellites(
            ix,
            kind,
            "security_group_id",
            d,
            &["id"],
            alias.as_deref(),
            Some(".default_security_group_id"),
        )
    };
    let classic = sats("aws_security_group_rule");
    for (key, block, vpc_kind) in [
        (
            "ip_permissions",
            "ingress",
            "aws_vpc_security_group_ingress_rule",
        ),
        (
            "ip_permissions_egress",
            "egress",
            "aws_vpc_security_group_egress_rule",
        ),
    ] {
        let mut rules = inline_rules(d, block, ix);
        for s in &classic.matched {
            match s.attrs.get("type") {
                Some(Val::String(t)) if t == block => rules.push(classic_rule(&s.attrs, None, ix)),
                Some(Val::String(_)) => {}
                // Which list it belongs to is not known: both are not.
                other => rules.push(Err(other.and_then(Val::first_unknown).map_or_else(
                    || format!("value not known at build time: (type of {})", s.address),
                    Unknown::reason,
                ))),
            }
        }
        let vpc = sats(vpc_kind);
        rules.extend(vpc.matched.iter().map(|s| vpc_rule(&s.attrs, ix)));
        set_rules(
            &mut r,
            key,
            rules,
            classic.unresolved.clone().or(vpc.unresolved),
        );
    }
    r
}

// ---------------------------------------------------------------- EBS

/// `aws_ebs_volume`. Defaults: `encrypted` false (the volume is encrypted
/// anyway when the account encrypts by default, which the code does not
/// show), `type` gp2 (provider default), `multi_attach_enabled` false.
fn volume(d: &TfResource) -> Resource {
    let mut r = new_resource(d, "EC2", "aws.ec2.volume", None);
    r.uncollected.insert("volume_id".into(), ASSIGNED.into());
    let a = &d.attrs;
    set(&mut r, "encrypted", a.get("encrypted"), Some(json!(false)));
    set(&mut r, "kms_key_id", a.get("kms_key_id"), None);
    set(&mut r, "size", a.get("size"), None);
    set(&mut r, "volume_type", a.get("type"), Some(json!("gp2")));
    set(&mut r, "iops", a.get("iops"), None);
    set(
        &mut r,
        "availability_zone",
        a.get("availability_zone"),
        None,
    );
    set(&mut r, "snapshot_id", a.get("snapshot_id"), None);
    set(
        &mut r,
        "multi_attach_enabled",
        a.get("multi_attach_enabled"),
        Some(json!(false)),
    );
    r
}

/// `aws_ebs_encryption_by_default` (`enabled` defaults to true in the
/// provider), with the key of an `aws_ebs_default_kms_key` in the same
/// configuration as `kms_key_id`.
fn encryption_by_default(d: &TfResource, ix: &Index<'_>) -> Resource {
    let mut r = new_resource(d, "EC2", "aws.ec2.ebs_encryption_default", None);
    r.name = "EBS encryption by default".into();
    set(&mut r, "enabled", d.attrs.get("enabled"), Some(json!(true)));
    if let Some(k) = ix.of_kind("aws_ebs_default_kms_key").first() {
        set(&mut r, "kms_key_id", k.attrs.get("key_arn"), None);
    }
    r
}

// ---------------------------------------------------------------- instances

/// The metadata options written in a `metadata_options` block.
fn imds_of(v: &Val) -> Imds<'_> {
    let b = v.blocks("metadata_options").into_iter().next();
    let get = |k: &str| b.and_then(|b| b.get(k));
    Imds {
        http_tokens: get("http_tokens"),
        http_endpoint: get("http_endpoint"),
        http_put_response_hop_limit: get("http_put_response_hop_limit"),
        instance_metadata_tags: get("instance_metadata_tags"),
    }
}

/// The `aws_launch_template` an instance's `launch_template` block names:
/// `Ok(None)` without one, `Err` when it names one not declared here.
fn launch_template<'a>(d: &TfResource, ix: &Index<'a>) -> Result<Option<&'a TfResource>, String> {
    let Some(lt) = d.attrs.blocks("launch_template").into_iter().next() else {
        return Ok(None);
    };
    let names = [("id", ["id"]), ("name", ["name"])];
    for (arg, attrs) in names {
        if let Some(v) = lt.get(arg).filter(|v| !v.is_null()) {
            return ix
                .of_kind("aws_launch_template")
                .iter()
                .find(|t| refers_to(v, t, &attrs))
                .copied()
                .map(Some)
                .ok_or_else(|| match v {
                    Val::Unknown(u) => u.reason(),
                    other => format!(
                        "value not known at build time: launch template {} is not in the scanned files",
                        other.to_display().unwrap_or_default()
                    ),
                });
        }
    }
    Ok(None)
}

/// An instance profile: its literal name or ARN, or the address of the
/// declared `aws_iam_instance_profile` a reference names.
fn profile_ref(v: &Val, ix: &Index<'_>) -> Rule {
    match v {
        Val::Unknown(u) => ix
            .of_kind("aws_iam_instance_profile")
            .iter()
            .find(|p| refers_to(v, p, &["name", "arn", "id"]))
            .map(|p| json!(p.address))
            .ok_or_else(|| u.reason()),
        other => other.to_json().map_err(Unknown::reason),
    }
}

/// `aws_instance`. Defaults: `state` running (Terraform waits for it after
/// creating the instance; an `aws_ec2_instance_state` naming it sets it),
/// `tenancy` default, `monitoring` false (basic monitoring), no instance
/// profile unless the instance or its launch template sets one.
fn instance(d: &TfResource, ix: &Index<'_>) -> Resource {
    let mut r = new_resource(d, "EC2", "aws.ec2.instance", None);
    r.uncollected.insert("instance_id".into(), ASSIGNED.into());
    let a = &d.attrs;
    let states = ix.satellites("aws_ec2_instance_state", "instance_id", d, &["id"]);
    match states.matched.first() {
        Some(s) => set(&mut r, "state", s.attrs.get("state"), None),
        None => {
            r.attributes.insert("state".into(), json!("running"));
        }
    }
    set(&mut r, "instance_type", a.get("instance_type"), None);
    set(&mut r, "image_id", a.get("ami"), None);
    set(
        &mut r,
        "availability_zone",
        a.get("availability_zone"),
        None,
    );
    set(&mut r, "subnet_id", a.get("subnet_id"), None);
    set(&mut r, "key_name", a.get("key_name"), None);
    set(&mut r, "tenancy", a.get("tenancy"), Some(json!("default")));
    set(
        &mut r,
        "detailed_monitoring",
        a.get("monitoring"),
        Some(json!(false)),
    );
    match group_refs(a.get("vpc_security_group_ids"), ix) {
        Ok(g) => {
            r.attributes
                .insert("security_groups".into(), Value::Array(g));
        }
        Err(reason) => {
            r.uncollected.insert("security_groups".into(), reason);
        }
    }

    let template = launch_template(d, ix);
    let tpl_imds = template
        .clone()
        .map(|t| t.map(|t| imds_of(&t.attrs)).unwrap_or_default());
    set_metadata_options(&mut r, imds_of(a), tpl_imds);

    set_user_data_secrets(&mut r, user_data(d, &template));

    let own_profile = a.get("iam_instance_profile").filter(|v| !v.is_null());
    let profile = match (own_profile, template) {
        (Some(p), _) => profile_ref(p, ix),
        (None, Err(reason)) => Err(reason),
        (None, Ok(Some(t))) => {
            let b = t.attrs.blocks("iam_instance_profile").into_iter().next();
            match b.and_then(|b| b.get("arn").or_else(|| b.get("name"))) {
                Some(p) => profile_ref(p, ix),
                None => Ok(Value::Null),
            }
        }
        (None, Ok(None)) => Ok(Value::Null),
    };
    match profile {
        Ok(p) => {
            r.attributes.insert("iam_instance_profile".into(), p);
        }
        Err(reason) => {
            r.uncollected.insert("iam_instance_profile".into(), reason);
        }
    }
    r
}

/// The user data in effect for an instance: its own `user_data` (text) or
/// `user_data_base64`, else its launch template's `user_data` (base64).
fn user_data<'a>(
    d: &'a TfResource,
    template: &Result<Option<&'a TfResource>, String>,
) -> Result<Option<UserData<'a>>, String> {
    let own = |k| d.attrs.get(k).filter(|v| !v.is_null());
    if let Some(v) = own("user_data") {
        return Ok(Some(UserData::Plain(v)));
    }
    if let Some(v) = own("user_data_base64") {
        return Ok(Some(UserData::Base64(v)));
    }
    match template {
        Ok(t) => Ok(t
            .and_then(|t| t.attrs.get("user_data"))
            .filter(|v| !v.is_null())
            .map(UserData::Base64)),
        Err(why) => Err(why.clone()),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use crate::terraform::eval::evaluate;
    use crate::terraform::map::to_resources;
    use crate::terraform::TfInputs;
    use serde_json::{json, Value};
    use vigil_model::Resource;

    /// The normalized resources of one `.tf` text.
    pub(crate) fn resources(text: &str) -> Vec<Resource> {
        let (decls, errors) = evaluate(&[("main.tf".into(), text.into())], &TfInputs::default());
        assert!(errors.is_empty(), "{errors:?}");
        to_resources(&decls)
    }

    pub(crate) fn one<'a>(rs: &'a [Resource], id: &str) -> &'a Resource {
        let found = rs.iter().find(|r| r.id == id);
        assert!(found.is_some(), "no {id} in {rs:#?}");
        found.unwrap()
    }

    fn attr<'a>(r: &'a Resource, key: &str) -> &'a Value {
        r.attributes.get(key).unwrap_or(&Value::Null)
    }

    #[test]
    fn a_bare_security_group_has_the_providers_defaults_and_no_rules() {
        let rs = resources(r#"resource "aws_security_group" "g" {}"#);
        let g = one(&rs, "aws_security_group.g");
        assert_eq!(g.resource_type, "aws.ec2.security_group");
        assert_eq!(g.service, "EC2");
        assert_eq!(attr(g, "description"), &json!("Managed by Terraform"));
        assert_eq!(attr(g, "ip_permissions"), &json!([]));
        assert_eq!(attr(g, "ip_permissions_egress"), &json!([]));
        assert!(g.uncollected.contains_key("vpc_id"));
        assert!(g.uncollected.contains_key("group_id"));
    }

    #[test]
    fn protocols_and_port_ranges_are_normalized_as_the_collector_reports_them() {
        let rs = resources(
            r#"
resource "aws_security_group" "g" {
  ingress {
    protocol    = "-1"
    from_port   = 0
    to_port     = 0
    cidr_blocks = ["0.0.0.0/0"]
  }
  ingress {
    protocol         = 6
    from_port        = 20
    to_port          = 25
    ipv6_cidr_blocks = ["::/0"]
  }
  ingress {
    protocol  = "tcp"
    from_port = 80
    to_port   = 80
    self      = true
  }
}
resource "aws_security_group_rule" "all" {
  type              = "egress"
  security_group_id = aws_security_group.g.id
  protocol          = "all"
  from_port         = 0
  to_port           = 0
  cidr_blocks       = ["10.0.0.0/8"]
}
resource "aws_vpc_security_group_ingress_rule" "udp" {
  security_group_id = aws_security_group.g.id
  ip_protocol       = "17"
  from_port         = 53
  to_port           = 53
  cidr_ipv4         = "0.0.0.0/0"
}
"#,
        );
        let g = one(&rs, "aws_security_group.g");
        let rule = |proto: &str, from: i64, to: i64, v4: Value, v6: Value, groups: Value| {
            json!({"ip_protocol": proto, "from_port": from, "to_port": to,
                   "ip_ranges": v4, "ipv6_ranges": v6, "referenced_groups": groups})
        };
        assert_eq!(
            attr(g, "ip_permissions"),
            &json!([
                rule("-1", 0, 65535, json!(["0.0.0.0/0"]), json!([]), json!([])),
                rule("tcp", 20, 25, json!([]), json!(["::/0"]), json!([])),
                rule(
                    "tcp",
                    80,
                    80,
                    json!([]),
                    json!([]),
                    json!(["aws_security_group.g"])
                ),
                rule("udp", 53, 53, json!(["0.0.0.0/0"]), json!([]), json!([])),
            ])
        );
        assert_eq!(
            attr(g, "ip_permissions_egress"),
            &json!([rule(
                "-1",
                0,
                65535,
                json!(["10.0.0.0/8"]),
                json!([]),
                json!([])
            )])
        );
    }

    #[test]
    fn unknown_values_and_unresolved_rules_leave_the_rules_uncollected() {
        let rs = resources(
            r#"
resource "aws_security_group" "cidr" {
  ingress {
    protocol    = "tcp"
    from_port   = 22
    to_port     = 22
    cidr_blocks = [var.office]
  }
}
resource "aws_security_group" "typed" {}
resource "aws_security_group_rule" "t" {
  type              = var.direction
  security_group_id = aws_security_group.typed.id
  protocol          = "tcp"
  from_port         = 22
  to_port           = 22
  cidr_blocks       = ["0.0.0.0/0"]
}
"#,
        );
        let g = one(&rs, "aws_security_group.cidr");
        assert!(g.attributes.get("ip_permissions").is_none());
        assert!(g.uncollected["ip_permissions"].contains("var.office"));
        assert_eq!(attr(g, "ip_permissions_egress"), &json!([]));
        let t = one(&rs, "aws_security_group.typed");
        assert!(t.uncollected["ip_permissions"].contains("var.direction"));
        assert!(t.uncollected["ip_permissions_egress"].contains("var.direction"));

        // A rule whose group is not known might open any group.
        let rs = resources(
            r#"
resource "aws_security_group" "a" {}
resource "aws_vpc_security_group_ingress_rule" "r" {
  security_group_id = var.group_id
  ip_protocol       = "-1"
  cidr_ipv4         = "0.0.0.0/0"
}
"#,
        );
        let a = one(&rs, "aws_security_group.a");
        assert!(a.uncollected["ip_permissions"].contains("var.group_id"));
        assert_eq!(attr(a, "ip_permissions_egress"), &json!([]));
    }

    #[test]
    fn rules_on_a_vpcs_default_group_fold_into_aws_default_security_group_only() {
        let rs = resources(
            r#"
resource "aws_vpc" "main" {
  cidr_block = "10.0.0.0/16"
}
resource "aws_default_security_group" "d" {
  vpc_id = aws_vpc.main.id
}
resource "aws_security_group" "other" {
  vpc_id = aws_vpc.main.id
}
resource "aws_vpc_security_group_ingress_rule" "r" {
  security_group_id = aws_vpc.main.default_security_group_id
  ip_protocol       = "tcp"
  from_port         = 22
  to_port           = 22
  cidr_ipv4         = "0.0.0.0/0"
}
"#,
        );
        let d = one(&rs, "aws_default_security_group.d");
        assert_eq!(d.name, "default");
        assert_eq!(attr(d, "description"), &json!("default VPC security group"));
        assert_eq!(attr(d, "ip_permissions")[0]["from_port"], json!(22));
        let other = one(&rs, "aws_security_group.other");
        assert_eq!(attr(other, "ip_permissions"), &json!([]));
    }

    #[test]
    fn volumes_default_to_unencrypted_gp2_and_unknown_encryption_is_uncollected() {
        let rs = resources(
            r#"
resource "aws_ebs_volume" "plain" {
  availability_zone = "eu-west-1a"
  size              = 8
}
resource "aws_ebs_volume" "maybe" {
  availability_zone = "eu-west-1a"
  encrypted         = var.encrypt
}
"#,
        );
        let v = one(&rs, "aws_ebs_volume.plain");
        assert_eq!(v.resource_type, "aws.ec2.volume");
        assert_eq!(attr(v, "encrypted"), &json!(false));
        assert_eq!(attr(v, "volume_type"), &json!("gp2"));
        assert_eq!(attr(v, "multi_attach_enabled"), &json!(false));
        assert_eq!(attr(v, "size"), &json!(8));
        let m = one(&rs, "aws_ebs_volume.maybe");
        assert!(m.attributes.get("encrypted").is_none());
        assert!(m.uncollected["encrypted"].contains("var.encrypt"));
    }

    #[test]
    fn encryption_by_default_is_enabled_unless_turned_off() {
        let rs = resources(
            r#"
resource "aws_ebs_encryption_by_default" "on" {}
resource "aws_ebs_default_kms_key" "k" {
  key_arn = "arn:aws:kms:eu-west-1:1:key/k"
}
"#,
        );
        let d = one(&rs, "aws_ebs_encryption_by_default.on");
        assert_eq!(d.resource_type, "aws.ec2.ebs_encryption_default");
        assert_eq!(attr(d, "enabled"), &json!(true));
        assert_eq!(
            attr(d, "kms_key_id"),
            &json!("arn:aws:kms:eu-west-1:1:key/k")
        );
        let rs = resources(r#"resource "aws_ebs_encryption_by_default" "off" { enabled = false }"#);
        assert_eq!(attr(&rs[0], "enabled"), &json!(false));
    }

    #[test]
    fn an_instance_without_metadata_options_has_unknown_tokens_and_no_profile() {
        let rs = resources(
            r#"
resource "aws_instance" "i" {
  ami           = "ami-1"
  instance_type = "t3.micro"
}
"#,
        );
        let i = one(&rs, "aws_instance.i");
        assert_eq!(attr(i, "state"), &json!("running"));
        assert_eq!(
            attr(i, "metadata_options"),
            &json!({"http_endpoint": "enabled"})
        );
        assert!(i.uncollected.contains_key("metadata_options.http_tokens"));
        assert_eq!(attr(i, "iam_instance_profile"), &Value::Null);
        assert!(i.attributes.contains_key("iam_instance_profile"));
        assert_eq!(attr(i, "detailed_monitoring"), &json!(false));
    }

    #[test]
    fn instances_take_imds_and_profile_from_their_launch_template_by_name_or_reference() {
        let rs = resources(
            r#"
resource "aws_launch_template" "lt" {
  name = "workers"
  metadata_options {
    http_tokens   = "required"
    http_endpoint = "disabled"
  }
  iam_instance_profile {
    name = "worker-profile"
  }
}
resource "aws_instance" "by_name" {
  launch_template {
    name = "workers"
  }
  metadata_options {
    http_endpoint = "enabled"
  }
}
resource "aws_instance" "by_ref" {
  launch_template {
    id = aws_launch_template.lt.id
  }
}
resource "aws_instance" "elsewhere" {
  launch_template {
    id = var.template_id
  }
}
resource "aws_ec2_instance_state" "s" {
  instance_id = aws_instance.by_ref.id
  state       = "stopped"
}
"#,
        );
        let n = one(&rs, "aws_instance.by_name");
        assert_eq!(
            attr(n, "metadata_options"),
            &json!({"http_tokens": "required", "http_endpoint": "enabled"})
        );
        assert_eq!(attr(n, "iam_instance_profile"), &json!("worker-profile"));
        let r = one(&rs, "aws_instance.by_ref");
        assert_eq!(
            attr(r, "metadata_options")["http_endpoint"],
            json!("disabled")
        );
        assert_eq!(attr(r, "state"), &json!("stopped"));
        let e = one(&rs, "aws_instance.elsewhere");
        assert!(e.uncollected["metadata_options.http_tokens"].contains("var.template_id"));
        assert!(e.uncollected["iam_instance_profile"].contains("var.template_id"));
    }

    #[test]
    fn an_instance_profile_is_the_declared_profile_or_unknown() {
        let rs = resources(
            r#"
resource "aws_iam_instance_profile" "p" {
  name = "app"
}
resource "aws_instance" "declared" {
  iam_instance_profile = aws_iam_instance_profile.p.name
}
variable "profile" {}
resource "aws_instance" "external" {
  iam_instance_profile = var.profile
}
"#,
        );
        let d = one(&rs, "aws_instance.declared");
        assert_eq!(
            attr(d, "iam_instance_profile"),
            &json!("app"),
            "the evaluator resolves the reference to the profile's name"
        );
        let x = one(&rs, "aws_instance.external");
        assert!(x.attributes.get("iam_instance_profile").is_none());
        assert!(x.uncollected["iam_instance_profile"].contains("var.profile"));
    }

    #[test]
    fn an_omitted_http_tokens_skips_the_imdsv2_control_instead_of_passing() {
        use vigil_engine::Catalog;
        use vigil_model::EvalResult;
        let rs = resources(r#"resource "aws_instance" "i" { ami = "ami-1" }"#);
        let now = "2026-11-23T00:00:00Z".parse();
        assert!(now.is_ok());
        let catalog = Catalog::builtin();
        assert!(catalog.is_ok());
        let engine = catalog.unwrap().compile(now.unwrap());
        assert!(engine.is_ok());
        let results: Vec<_> = engine
            .unwrap()
            .evaluate(&rs, &|_| {})
            .into_iter()
            .filter(|e| e.cid == 43 || e.cid == 49)
            .map(|e| (e.cid, e.result))
            .collect();
        assert!(results.contains(&(43, EvalResult::Skip)), "{results:?}");
        assert!(results.contains(&(49, EvalResult::Fail)), "{results:?}");
    }
}
