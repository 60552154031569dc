//! Terraform → normalized resources: load balancers (`aws_lb`, alias
//! `aws_alb`) with their listeners (`aws_lb_listener`, alias
//! `aws_alb_listener`) folded in, in the shape of the live collector's
//! `aws.elbv2.load_balancer`.
//!
//! The listener and attribute rules ([`listener_json`], [`set_attributes`])
//! are shared with the CloudFormation mapper.

use super::autoscaling::identity;
use super::{new_resource, set, unknown, Index};
use crate::aws::loose_bool;
use crate::terraform::TfResource;
use crate::value::{Unknown, Val};
use serde_json::{json, Value};
use vigil_model::Resource;

/// Maps the elbv2 resource types this module handles; `None` for others.
pub(super) fn map(d: &TfResource, ix: &Index<'_>) -> Option<Resource> {
    matches!(d.kind.as_str(), "aws_lb" | "aws_alb").then(|| load_balancer(d, ix))
}

/// The type of a load balancer: known, or the unknown it depends on.
pub(crate) type LbType<'a> = Result<&'a str, &'a Unknown>;

fn load_balancer(d: &TfResource, ix: &Index<'_>) -> Resource {
    let mut r = new_resource(d, "ELB", "aws.elbv2.load_balancer", Some("name"));
    let a = &d.attrs;
    // `load_balancer_type` defaults to "application", `internal` to false.
    let lb_type: LbType<'_> = match a.get("load_balancer_type") {
        None | Some(Val::Null) => Ok("application"),
        Some(Val::Unknown(u)) => Err(u),
        Some(v) => Ok(v.as_str().unwrap_or_default()),
    };
    match lb_type {
        Ok(t) => {
            r.attributes.insert("type".into(), json!(t));
        }
        Err(u) => unknown(&mut r, "type", u),
    }
    match a.get("internal") {
        Some(Val::Unknown(u)) => {
            unknown(&mut r, "scheme", u);
            unknown(&mut r, "internet_facing", u);
        }
        v => {
            let internal = v.and_then(|v| loose_bool(v).as_bool()).unwrap_or(false);
            r.attributes.insert(
                "scheme".into(),
                json!(if internal {
                    "internal"
                } else {
                    "internet-facing"
                }),
            );
            r.attributes
                .insert("internet_facing".into(), json!(!internal));
        }
    }
    set(
        &mut r,
        "ip_address_type",
        a.get("ip_address_type"),
        Some(json!("ipv4")),
    );
    match a.get("subnets") {
        Some(v) if !v.is_null() => set(&mut r, "subnet_ids", Some(v), None),
        _ => {
            let mapped: Vec<Val> = a
                .blocks("subnet_mapping")
                .iter()
                .filter_map(|m| m.get("subnet_id").cloned())
                .collect();
            set(&mut r, "subnet_ids", Some(&Val::List(mapped)), None);
        }
    }
    set(
        &mut r,
        "security_groups",
        a.get("security_groups"),
        Some(json!([])),
    );

    let logs = a.blocks("access_logs").into_iter().next();
    if let Some(Val::Unknown(u)) = a.get("access_logs") {
        unknown(&mut r, "access_logs_enabled", u);
        unknown(&mut r, "access_logs_bucket", u);
    } else {
        set_attributes(
            &mut r,
            lb_type,
            &Attributes {
                deletion_protection: a.get("enable_deletion_protection").cloned(),
                // `enabled` defaults to false, even when a bucket is given.
                access_logs_enabled: logs.and_then(|l| l.get("enabled")).cloned(),
                access_logs_bucket: logs.and_then(|l| l.get("bucket")).cloned(),
                drop_invalid_header_fields: a.get("drop_invalid_header_fields").cloned(),
                desync_mitigation_mode: a.get("desync_mitigation_mode").cloned(),
                cross_zone: a.get("enable_cross_zone_load_balancing").cloned(),
            },
        );
    }

    let (listeners, unresolved) = listeners(ix, d);
    let built: Result<Vec<Value>, String> = listeners
        .iter()
        .map(|l| listener_json(&listener_args(l), lb_type))
        .collect();
    set_listeners(&mut r, built, unresolved);
    r
}

/// The listeners that name `lb` (`aws_lb.x.arn`/`.id`, either alias), and
/// the reason one might but cannot be resolved.
fn listeners<'a>(ix: &Index<'a>, lb: &TfResource) -> (Vec<&'a TfResource>, Option<String>) {
    let mut matched = Vec::new();
    let mut unresolved = None;
    for kind in ["aws_lb_listener", "aws_alb_listener"] {
        let found = ix.satellites(kind, "load_balancer_arn", lb, &["arn", "id"]);
        matched.extend(found.matched);
        unresolved = unresolved.or(found.unresolved);
    }
    (matched, unresolved)
}

fn listener_args(l: &TfResource) -> ListenerArgs<'_> {
    let a = &l.attrs;
    ListenerArgs {
        name: l.address.clone(),
        arn: format!("{}.arn", l.address),
        protocol: a.get("protocol"),
        port: a.get("port"),
        ssl_policy: a.get("ssl_policy"),
        certificates: a.get("certificate_arn").into_iter().collect(),
        actions: match a.get("default_action") {
            Some(Val::Unknown(u)) => Err(u),
            _ => Ok(a
                .blocks("default_action")
                .into_iter()
                .map(|d| ActionArgs {
                    kind: d.get("type"),
                    target_group: d.get("target_group_arn"),
                    redirect_protocol: d.blocks("redirect").first().and_then(|r| r.get("protocol")),
                })
                .collect()),
        },
    }
}

/// A listener's arguments, as written (Terraform or CloudFormation).
pub(crate) struct ListenerArgs<'a> {
    /// Its address or logical id, for messages.
    pub name: String,
    /// What stands for its ARN (known once created): `<address>.arn`.
    pub arn: String,
    pub protocol: Option<&'a Val>,
    pub port: Option<&'a Val>,
    pub ssl_policy: Option<&'a Val>,
    pub certificates: Vec<&'a Val>,
    /// The default actions, or the unknown they come from.
    pub actions: Result<Vec<ActionArgs<'a>>, &'a Unknown>,
}

/// A listener's default action, as written.
pub(crate) struct ActionArgs<'a> {
    pub kind: Option<&'a Val>,
    pub target_group: Option<&'a Val>,
    pub redirect_protocol: Option<&'a Val>,
}

/// A listener in the collector's shape, or why it cannot be known: its
/// protocol, port, TLS policy or action types are unknown, or it is a
/// HTTPS/TLS listener without `ssl_policy` (AWS then picks a default
/// security policy that has changed over time). References to other
/// resources (certificates, target groups) are identities only: they are
/// kept as their expression (`aws_acm_certificate.web.arn`).
pub(crate) fn listener_json(l: &ListenerArgs<'_>, lb_type: LbType<'_>) -> Result<Value, String> {
    let known = |v: Option<&Val>| -> Result<Value, String> {
        match v {
            None | Some(Val::Null) => Ok(Value::Null),
            Some(v) => v
                .to_json()
                .map_err(|u| format!("{} (in {})", u.reason(), l.name)),
        }
    };
    // The provider accepts `https` and stores `HTTPS`.
    let mut protocol = match known(l.protocol)? {
        Value::String(p) => Value::String(p.to_ascii_uppercase()),
        other => other,
    };
    // Application load balancers' listeners default to HTTP.
    if protocol.is_null() && lb_type == Ok("application") {
        protocol = json!("HTTP");
    }
    let port = match known(l.port)? {
        Value::String(s) => s.parse::<i64>().map_or(Value::String(s), Value::from),
        other => other,
    };
    let ssl_policy = known(l.ssl_policy)?;
    let tls = matches!(protocol.as_str(), Some("HTTPS" | "TLS"));
    if tls && ssl_policy.is_null() {
        return Err(format!(
            "{} is a {} listener without a TLS policy: the security policy AWS picks by default is not known at build time",
            l.name,
            protocol.as_str().unwrap_or_default()
        ));
    }
    let actions = l
        .actions
        .as_ref()
        .map_err(|u| format!("{} (in {})", u.reason(), l.name))?
        .iter()
        .map(|a| {
            let kind = known(a.kind)?;
            let redirect_protocol = match (kind.as_str(), known(a.redirect_protocol)?) {
                // A redirect keeps the request's protocol unless told otherwise.
                (Some("redirect"), Value::Null) => json!("#{protocol}"),
                (_, p) => p,
            };
            Ok(json!({
                "type": kind,
                "target_group_arn": identity(a.target_group),
                "redirect_protocol": redirect_protocol,
            }))
        })
        .collect::<Result<Vec<_>, String>>()?;
    Ok(json!({
        "arn": l.arn,
        "protocol": protocol,
        "port": port,
        "ssl_policy": ssl_policy,
        "certificates": l.certificates.iter().map(|c| identity(Some(c))).collect::<Vec<_>>(),
        "default_actions": actions,
    }))
}

/// Sets `listeners`: uncollected when one is unknown or when a listener's
/// load balancer cannot be resolved (it might be one more listener of this
/// one, and the controls judge all of them).
pub(crate) fn set_listeners(
    r: &mut Resource,
    built: Result<Vec<Value>, String>,
    unresolved: Option<String>,
) {
    match (built, unresolved) {
        (Err(reason), _) | (Ok(_), Some(reason)) => {
            r.attributes.remove("listeners");
            r.uncollected.insert("listeners".into(), reason);
        }
        (Ok(list), None) => {
            r.attributes.insert("listeners".into(), Value::Array(list));
        }
    }
}

/// The load balancer attributes the controls read, as written (booleans
/// may be `"true"`/`"false"` strings, as CloudFormation writes them).
pub(crate) struct Attributes {
    pub deletion_protection: Option<Val>,
    pub access_logs_enabled: Option<Val>,
    pub access_logs_bucket: Option<Val>,
    pub drop_invalid_header_fields: Option<Val>,
    pub desync_mitigation_mode: Option<Val>,
    pub cross_zone: Option<Val>,
}

/// Sets the attributes with AWS's defaults: deletion protection and access
/// logs off; for application load balancers, invalid headers kept and
/// desync mitigation `defensive`, cross-zone always on; for the other
/// types the HTTP attributes do not exist (null) and cross-zone is off.
pub(crate) fn set_attributes(r: &mut Resource, lb_type: LbType<'_>, a: &Attributes) {
    let flag = |v: &Option<Val>| v.as_ref().map(loose_bool);
    set(
        r,
        "deletion_protection",
        flag(&a.deletion_protection).as_ref(),
        Some(json!(false)),
    );
    set(
        r,
        "access_logs_enabled",
        flag(&a.access_logs_enabled).as_ref(),
        Some(json!(false)),
    );
    let bucket = a
        .access_logs_bucket
        .as_ref()
        .filter(|b| b.as_str() != Some(""));
    set(r, "access_logs_bucket", bucket, Some(Value::Null));
    let http = [
        (
            "drop_invalid_header_fields",
            flag(&a.drop_invalid_header_fields),
            json!(false),
        ),
        (
            "desync_mitigation_mode",
            a.desync_mitigation_mode.clone(),
            json!("defensive"),
        ),
        (
            "cross_zone_load_balancing",
            flag(&a.cross_zone),
            json!(true),
        ),
    ];
    for (key, v, alb_default) in http {
        match lb_type {
            Ok("application") if key == "cross_zone_load_balancing" => {
                r.attributes.insert(key.into(), alb_default);
            }
            Ok("application") => set(r, key, v.as_ref(), Some(alb_default)),
            Ok(_) if key == "cross_zone_load_balancing" => {
                set(r, key, v.as_ref(), Some(json!(false)));
            }
            Ok(_) => {
                r.attributes.insert(key.into(), Value::Null);
            }
            Err(u) => unknown(r, key, u),
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

    fn listener(kind: &str, name: &str, lb: Val, attrs: Vec<(&str, Val)>) -> TfResource {
        let mut all = vec![("load_balancer_arn", lb)];
        all.extend(attrs);
        decl(kind, name, all)
    }

    fn forward() -> Val {
        Val::List(vec![block(vec![
            ("type", Val::string("forward")),
            (
                "target_group_arn",
                Val::unknown("aws_lb_target_group.web.arn"),
            ),
        ])])
    }

    fn lb(decls: Vec<TfResource>) -> Resource {
        to_resources(&decls)
            .into_iter()
            .find(|r| r.resource_type == "aws.elbv2.load_balancer")
            .unwrap()
    }

    fn attr<'a>(r: &'a Resource, k: &str) -> Option<&'a Value> {
        r.attributes.get(k)
    }

    #[test]
    fn omitted_arguments_take_the_aws_defaults() {
        let r = lb(vec![decl(
            "aws_lb",
            "web",
            vec![("name", Val::string("web"))],
        )]);
        assert_eq!(r.service, "ELB");
        assert_eq!(attr(&r, "type"), Some(&json!("application")));
        assert_eq!(attr(&r, "scheme"), Some(&json!("internet-facing")));
        assert_eq!(attr(&r, "deletion_protection"), Some(&json!(false)));
        assert_eq!(attr(&r, "access_logs_enabled"), Some(&json!(false)));
        assert_eq!(attr(&r, "drop_invalid_header_fields"), Some(&json!(false)));
        assert_eq!(
            attr(&r, "desync_mitigation_mode"),
            Some(&json!("defensive"))
        );
        assert_eq!(attr(&r, "listeners"), Some(&json!([])));

        let r = lb(vec![decl(
            "aws_lb",
            "nlb",
            vec![
                ("load_balancer_type", Val::string("network")),
                (
                    "access_logs",
                    Val::List(vec![block(vec![("bucket", Val::string("logs"))])]),
                ),
            ],
        )]);
        assert_eq!(attr(&r, "drop_invalid_header_fields"), Some(&Value::Null));
        assert_eq!(attr(&r, "desync_mitigation_mode"), Some(&Value::Null));
        // A bucket alone does not turn access logs on.
        assert_eq!(attr(&r, "access_logs_enabled"), Some(&json!(false)));
        assert_eq!(attr(&r, "access_logs_bucket"), Some(&json!("logs")));
    }

    #[test]
    fn listeners_of_both_aliases_are_folded_in_by_reference() {
        let https = listener(
            "aws_lb_listener",
            "https",
            Val::unknown("aws_alb.web.arn"),
            vec![
                ("protocol", Val::string("https")),
                ("port", Val::Number(443.0)),
                (
                    "ssl_policy",
                    Val::string("ELBSecurityPolicy-TLS13-1-2-2021-06"),
                ),
                (
                    "certificate_arn",
                    Val::unknown("aws_acm_certificate.web.arn"),
                ),
                ("default_action", forward()),
            ],
        );
        let http = listener(
            "aws_alb_listener",
            "http",
            Val::unknown("aws_alb.web.id"),
            vec![
                ("port", Val::Number(80.0)),
                (
                    "default_action",
                    Val::List(vec![block(vec![
                        ("type", Val::string("redirect")),
                        (
                            "redirect",
                            Val::List(vec![block(vec![
                                ("protocol", Val::string("HTTPS")),
                                ("port", Val::string("443")),
                            ])]),
                        ),
                    ])]),
                ),
            ],
        );
        let other = listener(
            "aws_lb_listener",
            "other",
            Val::unknown("aws_lb.internal.arn"),
            vec![
                ("protocol", Val::string("HTTP")),
                ("port", Val::Number(8080.0)),
            ],
        );
        let r = lb(vec![
            decl("aws_alb", "web", vec![]),
            https,
            http,
            other,
            decl("aws_lb", "internal", vec![]),
        ]);
        let listeners = attr(&r, "listeners").unwrap().as_array().unwrap();
        assert_eq!(listeners.len(), 2);
        assert_eq!(listeners[0]["protocol"], json!("HTTPS"));
        assert_eq!(listeners[0]["port"], json!(443));
        assert_eq!(
            listeners[0]["certificates"],
            json!(["aws_acm_certificate.web.arn"])
        );
        assert_eq!(
            listeners[0]["default_actions"][0]["target_group_arn"],
            json!("aws_lb_target_group.web.arn")
        );
        // HTTP is the default protocol of an application load balancer.
        assert_eq!(listeners[1]["protocol"], json!("HTTP"));
        assert_eq!(
            listeners[1]["default_actions"][0]["redirect_protocol"],
            json!("HTTPS")
        );
    }

    #[test]
    fn unknown_or_unresolvable_listeners_are_uncollected() {
        let port = listener(
            "aws_lb_listener",
            "x",
            Val::unknown("aws_lb.web.arn"),
            vec![
                ("port", Val::unknown("var.port")),
                ("default_action", forward()),
            ],
        );
        let r = lb(vec![decl("aws_lb", "web", vec![]), port]);
        assert!(attr(&r, "listeners").is_none());
        assert!(r.uncollected["listeners"].contains("var.port"));

        let no_policy = listener(
            "aws_lb_listener",
            "x",
            Val::unknown("aws_lb.web.arn"),
            vec![
                ("protocol", Val::string("HTTPS")),
                ("port", Val::Number(443.0)),
            ],
        );
        let r = lb(vec![decl("aws_lb", "web", vec![]), no_policy]);
        assert!(r.uncollected["listeners"].contains("without a TLS policy"));

        let dynamic = listener(
            "aws_lb_listener",
            "x",
            Val::unknown("aws_lb.web.arn"),
            vec![
                ("protocol", Val::string("HTTP")),
                ("port", Val::Number(80.0)),
                ("default_action", Val::unknown("var.actions")),
            ],
        );
        let r = lb(vec![decl("aws_lb", "web", vec![]), dynamic]);
        assert!(r.uncollected["listeners"].contains("var.actions"));

        let elsewhere = listener(
            "aws_lb_listener",
            "x",
            Val::unknown("var.lb_arn"),
            vec![
                ("protocol", Val::string("HTTP")),
                ("port", Val::Number(80.0)),
            ],
        );
        let r = lb(vec![decl("aws_lb", "web", vec![]), elsewhere]);
        assert!(r.uncollected["listeners"].contains("var.lb_arn"));
    }

    #[test]
    fn unknown_type_or_attributes_are_uncollected() {
        let r = lb(vec![decl(
            "aws_lb",
            "web",
            vec![
                ("load_balancer_type", Val::unknown("var.type")),
                ("enable_deletion_protection", Val::unknown("var.protect")),
            ],
        )]);
        for k in [
            "type",
            "drop_invalid_header_fields",
            "desync_mitigation_mode",
            "deletion_protection",
        ] {
            assert!(attr(&r, k).is_none(), "{k}");
            assert!(r.uncollected.contains_key(k), "{k}");
        }
    }
}
