//! Terraform → normalized resources: VPCs, subnets and network ACLs.
//!
//! * `aws_vpc` / `aws_default_vpc` → `aws.ec2.vpc`, with the
//!   `aws_flow_log`s whose `vpc_id` names it folded into `flow_logs` and
//!   `flow_logs_enabled`;
//! * `aws_subnet` / `aws_default_subnet` → `aws.ec2.subnet`;
//! * `aws_network_acl` / `aws_default_network_acl` → `aws.ec2.network_acl`,
//!   inline `ingress`/`egress` blocks plus the `aws_network_acl_rule`s that
//!   name it in `entries` (see [`acl_entry`]).

use super::ec2::{known, known_bool, port_of, satellites, via_vpc, Rule, ASSIGNED};
use super::{new_resource, set, Index};
use crate::terraform::TfResource;
use crate::value::Val;
use serde_json::{json, Value};
use vigil_model::Resource;

/// Maps the VPC resource types this module handles; `None` for others.
pub(super) fn map(d: &TfResource, ix: &Index<'_>) -> Option<Resource> {
    match d.kind.as_str() {
        "aws_vpc" => Some(vpc(d, ix, false)),
        "aws_default_vpc" => Some(vpc(d, ix, true)),
        "aws_subnet" => Some(subnet(d, false)),
        "aws_default_subnet" => Some(subnet(d, true)),
        "aws_network_acl" => Some(network_acl(d, ix, false)),
        "aws_default_network_acl" => Some(network_acl(d, ix, true)),
        _ => None,
    }
}

/// `aws_vpc` / `aws_default_vpc`. Defaults: `instance_tenancy` default;
/// `is_default` true only for the adopted default VPC. A flow log is
/// ACTIVE once created; `log_destination_type` defaults to
/// cloud-watch-logs and `traffic_type` has no default (required).
fn vpc(d: &TfResource, ix: &Index<'_>, default_vpc: bool) -> Resource {
    let mut r = new_resource(d, "VPC", "aws.ec2.vpc", None);
    r.uncollected.insert("vpc_id".into(), ASSIGNED.into());
    let a = &d.attrs;
    set(&mut r, "cidr_block", a.get("cidr_block"), None);
    set(
        &mut r,
        "instance_tenancy",
        a.get("instance_tenancy"),
        Some(json!("default")),
    );
    r.attributes.insert("is_default".into(), json!(default_vpc));
    let logs = satellites(ix, "aws_flow_log", "vpc_id", d, &["id"], None, None);
    let entries = logs
        .matched
        .iter()
        .map(|f| {
            let fa = &f.attrs;
            let destination = fa
                .get("log_destination")
                .filter(|v| !v.is_null())
                .or_else(|| fa.get("log_group_name"));
            flow_log(
                &f.address,
                fa.get("traffic_type"),
                fa.get("log_destination_type"),
                destination,
            )
        })
        .collect();
    set_flow_logs(&mut r, entries, logs.unresolved);
    r
}

/// One flow log in the collector's shape: ACTIVE once created, the
/// destination type cloud-watch-logs unless given; `Err` when a value is
/// unknown.
pub(crate) fn flow_log(
    id: &str,
    traffic_type: Option<&Val>,
    destination_type: Option<&Val>,
    destination: Option<&Val>,
) -> Result<Value, String> {
    let mut entry = serde_json::Map::new();
    entry.insert("id".into(), json!(id));
    entry.insert("status".into(), json!("ACTIVE"));
    entry.insert("destination_type".into(), json!("cloud-watch-logs"));
    entry.insert("created".into(), Value::Null);
    for (key, v) in [
        ("traffic_type", traffic_type),
        ("destination_type", destination_type),
        ("destination", destination),
    ] {
        if let Some(t) = text_of(v)? {
            entry.insert(key.into(), json!(t));
        }
    }
    Ok(Value::Object(entry))
}

/// Sets `flow_logs_enabled` and `flow_logs` from the flow logs that name a
/// VPC. A matched flow log makes the VPC logged whatever else might apply;
/// without one, an unresolved flow log (`unresolved`) might be this VPC's,
/// and both attributes are uncollected.
pub(crate) fn set_flow_logs(
    r: &mut Resource,
    entries: Vec<Result<Value, String>>,
    unresolved: Option<String>,
) {
    if let (true, Some(why)) = (entries.is_empty(), unresolved) {
        r.uncollected
            .insert("flow_logs_enabled".into(), why.clone());
        r.uncollected.insert("flow_logs".into(), why);
        return;
    }
    r.attributes
        .insert("flow_logs_enabled".into(), json!(!entries.is_empty()));
    match entries.into_iter().collect::<Result<Vec<_>, _>>() {
        Ok(list) => {
            r.attributes.insert("flow_logs".into(), Value::Array(list));
        }
        Err(why) => {
            r.uncollected.insert("flow_logs".into(), why);
        }
    }
}

/// Sets `entries` of a network ACL: the known entries plus AWS's implicit
/// deny-all ones, sorted as the collector sorts them (by direction, then
/// number); uncollected when an entry is not known or an unresolved entry
/// might belong to the ACL.
pub(crate) fn set_entries(r: &mut Resource, entries: Vec<Rule>, unresolved: Option<String>) {
    match (
        entries.into_iter().collect::<Result<Vec<_>, _>>(),
        unresolved,
    ) {
        (Ok(mut list), None) => {
            list.extend(implicit_denies());
            list.sort_by_key(|e| (e["egress"].as_bool(), e["rule_number"].as_i64()));
            r.attributes.insert("entries".into(), Value::Array(list));
        }
        (Err(why), _) | (Ok(_), Some(why)) => {
            r.uncollected.insert("entries".into(), why);
        }
    }
}

/// `aws_subnet` / `aws_default_subnet`. `map_public_ip_on_launch` defaults
/// to false for a new subnet; an adopted default subnet keeps its current
/// setting when the argument is omitted, which the code does not show.
fn subnet(d: &TfResource, default_subnet: bool) -> Resource {
    let mut r = new_resource(d, "VPC", "aws.ec2.subnet", None);
    r.uncollected.insert("subnet_id".into(), ASSIGNED.into());
    let a = &d.attrs;
    set(&mut r, "vpc_id", a.get("vpc_id"), None);
    set(&mut r, "cidr_block", a.get("cidr_block"), None);
    set(
        &mut r,
        "availability_zone",
        a.get("availability_zone"),
        None,
    );
    r.attributes
        .insert("default_for_az".into(), json!(default_subnet));
    let public = a.get("map_public_ip_on_launch").filter(|v| !v.is_null());
    match (public, default_subnet) {
        (None, true) => {
            r.uncollected.insert(
                "map_public_ip_on_launch".into(),
                "not set: an adopted default subnet keeps its current setting (true as AWS creates it)"
                    .into(),
            );
        }
        _ => set(
            &mut r,
            "map_public_ip_on_launch",
            public,
            Some(json!(false)),
        ),
    }
    set(
        &mut r,
        "assign_ipv6_address_on_creation",
        a.get("assign_ipv6_address_on_creation"),
        Some(json!(false)),
    );
    r
}

/// A network ACL protocol as AWS reports it in entries: the number as text
/// (`-1` all, `6` TCP, `17` UDP, `1` ICMP, `58` ICMPv6); names are mapped.
pub(crate) fn acl_protocol(p: &str) -> String {
    match p.trim().to_ascii_lowercase().as_str() {
        "all" | "-1" => "-1".into(),
        "tcp" | "6" => "6".into(),
        "udp" | "17" => "17".into(),
        "icmp" | "1" => "1".into(),
        "icmpv6" | "58" => "58".into(),
        other => other.into(),
    }
}

/// One entry in the collector's shape: only TCP and UDP entries carry
/// ports, every other protocol covers 0–65535; the action lower case.
pub(crate) fn acl_entry(
    rule_number: i64,
    egress: bool,
    protocol: &str,
    ports: (Option<i64>, Option<i64>),
    cidrs: (Option<String>, Option<String>),
    action: &str,
) -> Value {
    let protocol = acl_protocol(protocol);
    let (from, to) = match protocol.as_str() {
        "6" | "17" => (ports.0.unwrap_or(0), ports.1.unwrap_or(65535)),
        _ => (0, 65535),
    };
    json!({
        "rule_number": rule_number,
        "egress": egress,
        "protocol": protocol,
        "from_port": from,
        "to_port": to,
        "cidr_block": cidrs.0,
        "ipv6_cidr_block": cidrs.1,
        "rule_action": action.to_ascii_lowercase(),
    })
}

/// The deny-all entries (rule `*`, number 32767) AWS keeps at the end of
/// every network ACL, in both directions.
pub(crate) fn implicit_denies() -> [Value; 2] {
    [false, true].map(|egress| {
        acl_entry(
            32767,
            egress,
            "-1",
            (None, None),
            (Some("0.0.0.0/0".into()), None),
            "deny",
        )
    })
}

/// A known string argument, `Ok(None)` when omitted.
pub(crate) fn text_of(v: Option<&Val>) -> Result<Option<String>, String> {
    Ok(known(v)?.and_then(Val::to_display))
}

/// A required argument (`Err` names it when missing).
pub(crate) fn required<T>(v: Result<Option<T>, String>, what: &str) -> Result<T, String> {
    v?.ok_or_else(|| format!("value not known at build time: ({what} not set)"))
}

/// An inline `ingress`/`egress` block (`rule_no`, `action`) or an
/// `aws_network_acl_rule` (`rule_number`, `rule_action`, `egress`).
fn entry(b: &Val, egress: Option<bool>) -> Rule {
    let (number, action, egress) = match egress {
        Some(e) => ("rule_no", "action", e),
        None => (
            "rule_number",
            "rule_action",
            known_bool(b.get("egress"))?.unwrap_or(false),
        ),
    };
    Ok(acl_entry(
        required(port_of(b.get(number)), number)?,
        egress,
        &required(text_of(b.get("protocol")), "protocol")?,
        (port_of(b.get("from_port"))?, port_of(b.get("to_port"))?),
        (
            text_of(b.get("cidr_block"))?,
            text_of(b.get("ipv6_cidr_block"))?,
        ),
        &required(text_of(b.get(action)), action)?,
    ))
}

/// `aws_network_acl` / `aws_default_network_acl`: the entries declared
/// (Terraform removes the others of an adopted default ACL) plus AWS's
/// implicit deny-all ones, sorted as the collector sorts them.
fn network_acl(d: &TfResource, ix: &Index<'_>, default_acl: bool) -> Resource {
    let mut r = new_resource(d, "VPC", "aws.ec2.network_acl", None);
    r.uncollected
        .insert("network_acl_id".into(), ASSIGNED.into());
    let a = &d.attrs;
    set(&mut r, "vpc_id", a.get("vpc_id"), None);
    r.attributes.insert("is_default".into(), json!(default_acl));
    set(&mut r, "subnet_ids", a.get("subnet_ids"), None);

    let mut entries: Vec<Rule> = Vec::new();
    for (block, egress) in [("ingress", false), ("egress", true)] {
        match a.get(block) {
            Some(Val::Unknown(u)) => entries.push(Err(u.reason())),
            _ => entries.extend(a.blocks(block).into_iter().map(|b| entry(b, Some(egress)))),
        }
    }
    let alias = if default_acl {
        // `default_network_acl_id = aws_vpc.x.default_network_acl_id`
        match a.get("default_network_acl_id") {
            Some(Val::Unknown(u)) => Some(u.expr.clone()),
            _ => via_vpc(a.get("vpc_id"), "default_network_acl_id"),
        }
    } else {
        None
    };
    let rules = satellites(
        ix,
        "aws_network_acl_rule",
        "network_acl_id",
        d,
        &["id"],
        alias.as_deref(),
        Some(".default_network_acl_id"),
    );
    entries.extend(rules.matched.iter().map(|s| entry(&s.attrs, None)));
    set_entries(&mut r, entries, rules.unresolved);
    r
}

#[cfg(test)]
mod tests {
    use crate::terraform::map::ec2::tests::{one, resources};
    use serde_json::{json, Value};

    fn entries(r: &vigil_model::Resource) -> Vec<Value> {
        r.attributes
            .get("entries")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    }

    #[test]
    fn a_vpc_is_logged_by_a_flow_log_naming_it_and_not_by_a_subnets() {
        let rs = resources(
            r#"
resource "aws_vpc" "logged" {
  cidr_block = "10.0.0.0/16"
}
resource "aws_vpc" "quiet" {
  cidr_block = "10.1.0.0/16"
}
resource "aws_flow_log" "f" {
  vpc_id       = aws_vpc.logged.id
  traffic_type = "REJECT"
  log_group_name = "flows"
}
resource "aws_flow_log" "s" {
  subnet_id    = aws_subnet.x.id
  traffic_type = "ALL"
}
"#,
        );
        let l = one(&rs, "aws_vpc.logged");
        assert_eq!(l.resource_type, "aws.ec2.vpc");
        assert_eq!(l.service, "VPC");
        assert_eq!(l.attributes["flow_logs_enabled"], json!(true));
        assert_eq!(
            l.attributes["flow_logs"],
            json!([{"id": "aws_flow_log.f", "status": "ACTIVE", "traffic_type": "REJECT",
                    "destination_type": "cloud-watch-logs", "destination": "flows", "created": null}])
        );
        assert_eq!(l.attributes["instance_tenancy"], json!("default"));
        assert_eq!(l.attributes["is_default"], json!(false));
        let q = one(&rs, "aws_vpc.quiet");
        assert_eq!(q.attributes["flow_logs_enabled"], json!(false));
        assert_eq!(q.attributes["flow_logs"], json!([]));
    }

    #[test]
    fn a_flow_log_on_an_unknown_vpc_leaves_unlogged_vpcs_uncollected() {
        let rs = resources(
            r#"
resource "aws_vpc" "v" {}
resource "aws_flow_log" "f" {
  vpc_id       = var.vpc_id
  traffic_type = "ALL"
}
"#,
        );
        let v = one(&rs, "aws_vpc.v");
        assert!(v.attributes.get("flow_logs_enabled").is_none());
        assert!(v.uncollected["flow_logs_enabled"].contains("var.vpc_id"));

        // A flow log on the declared default VPC is known not to be this one's.
        let rs = resources(
            r#"
resource "aws_vpc" "v" {}
resource "aws_default_vpc" "d" {}
resource "aws_flow_log" "f" {
  vpc_id       = aws_default_vpc.d.id
  traffic_type = "ALL"
}
"#,
        );
        assert_eq!(
            one(&rs, "aws_vpc.v").attributes["flow_logs_enabled"],
            json!(false)
        );
        let d = one(&rs, "aws_default_vpc.d");
        assert_eq!(d.attributes["flow_logs_enabled"], json!(true));
        assert_eq!(d.attributes["is_default"], json!(true));
    }

    #[test]
    fn subnets_do_not_map_public_ips_unless_told_and_default_subnets_are_unknown() {
        let rs = resources(
            r#"
resource "aws_subnet" "private" {
  vpc_id     = "vpc-1"
  cidr_block = "10.0.1.0/24"
}
resource "aws_subnet" "public" {
  vpc_id                  = "vpc-1"
  map_public_ip_on_launch = true
}
resource "aws_subnet" "maybe" {
  map_public_ip_on_launch = var.public
}
resource "aws_default_subnet" "d" {
  availability_zone = "eu-west-1a"
}
"#,
        );
        let key = "map_public_ip_on_launch";
        assert_eq!(one(&rs, "aws_subnet.private").attributes[key], json!(false));
        assert_eq!(one(&rs, "aws_subnet.public").attributes[key], json!(true));
        assert!(one(&rs, "aws_subnet.maybe").uncollected[key].contains("var.public"));
        let d = one(&rs, "aws_default_subnet.d");
        assert!(d.attributes.get(key).is_none());
        assert!(d.uncollected.contains_key(key));
        assert_eq!(d.attributes["default_for_az"], json!(true));
    }

    #[test]
    fn acl_entries_normalize_protocols_ports_and_keep_the_implicit_denies() {
        let rs = resources(
            r#"
resource "aws_network_acl" "a" {
  vpc_id = "vpc-1"
  ingress {
    rule_no    = 100
    protocol   = "tcp"
    action     = "ALLOW"
    cidr_block = "10.0.0.0/8"
    from_port  = 22
    to_port    = 22
  }
  ingress {
    rule_no    = 110
    protocol   = "icmp"
    action     = "allow"
    cidr_block = "0.0.0.0/0"
    from_port  = 0
    to_port    = 0
    icmp_type  = -1
    icmp_code  = -1
  }
}
resource "aws_network_acl_rule" "out" {
  network_acl_id = aws_network_acl.a.id
  rule_number    = 100
  egress         = true
  protocol       = "all"
  rule_action    = "allow"
  cidr_block     = "0.0.0.0/0"
}
"#,
        );
        let a = one(&rs, "aws_network_acl.a");
        assert_eq!(a.resource_type, "aws.ec2.network_acl");
        let got: Vec<(i64, bool, String, i64, i64, String)> = entries(a)
            .iter()
            .map(|e| {
                (
                    e["rule_number"].as_i64().unwrap_or(-1),
                    e["egress"].as_bool().unwrap_or(true),
                    e["protocol"].as_str().unwrap_or("").to_string(),
                    e["from_port"].as_i64().unwrap_or(-1),
                    e["to_port"].as_i64().unwrap_or(-1),
                    e["rule_action"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect();
        let e = |n, eg, p: &str, f, t, act: &str| (n, eg, p.to_string(), f, t, act.to_string());
        assert_eq!(
            got,
            vec![
                e(100, false, "6", 22, 22, "allow"),
                e(110, false, "1", 0, 65535, "allow"),
                e(32767, false, "-1", 0, 65535, "deny"),
                e(100, true, "-1", 0, 65535, "allow"),
                e(32767, true, "-1", 0, 65535, "deny"),
            ]
        );
        assert_eq!(entries(a)[0]["ipv6_cidr_block"], Value::Null);
    }

    #[test]
    fn acl_rules_fold_into_the_default_acl_by_its_vpc_and_unknown_targets_are_uncollected() {
        let rs = resources(
            r#"
resource "aws_vpc" "main" {}
resource "aws_default_network_acl" "d" {
  default_network_acl_id = aws_vpc.main.default_network_acl_id
}
resource "aws_network_acl" "other" {
  vpc_id = aws_vpc.main.id
}
resource "aws_network_acl_rule" "ssh" {
  network_acl_id = aws_vpc.main.default_network_acl_id
  rule_number    = 100
  protocol       = "6"
  rule_action    = "allow"
  cidr_block     = "0.0.0.0/0"
  from_port      = 22
  to_port        = 22
}
"#,
        );
        let d = one(&rs, "aws_default_network_acl.d");
        assert_eq!(d.attributes["is_default"], json!(true));
        assert_eq!(entries(d)[0]["from_port"], json!(22));
        assert_eq!(entries(d).len(), 3);
        assert_eq!(entries(one(&rs, "aws_network_acl.other")).len(), 2);

        let rs = resources(
            r#"
resource "aws_network_acl" "a" {}
resource "aws_network_acl_rule" "r" {
  network_acl_id = var.acl
  rule_number    = 100
  protocol       = "-1"
  rule_action    = "allow"
  cidr_block     = "0.0.0.0/0"
}
"#,
        );
        let a = one(&rs, "aws_network_acl.a");
        assert!(a.attributes.get("entries").is_none());
        assert!(a.uncollected["entries"].contains("var.acl"));
    }
}
