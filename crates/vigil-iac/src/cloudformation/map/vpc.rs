//! CloudFormation → normalized resources: VPCs, subnets and network ACLs.
//!
//! * `AWS::EC2::VPC` → `aws.ec2.vpc`, with the `AWS::EC2::FlowLog`s whose
//!   `ResourceId` names it folded into `flow_logs` / `flow_logs_enabled`;
//! * `AWS::EC2::Subnet` → `aws.ec2.subnet`;
//! * `AWS::EC2::NetworkAcl` → `aws.ec2.network_acl`, with the
//!   `AWS::EC2::NetworkAclEntry`s that name it in `entries`.
//!
//! Entries are normalized by the Terraform mapper's shared functions.

use super::ec2::satellites_where;
use super::{new_resource, set, Index};
use crate::cloudformation::CfnResource;
use crate::terraform::map::ec2::{known_bool, port_of, Rule, ASSIGNED};
use crate::terraform::map::vpc::{
    acl_entry, flow_log, required, set_entries, set_flow_logs, text_of,
};
use crate::value::{Unknown, Val};
use serde_json::json;
use vigil_model::Resource;

/// Maps the VPC resource types this module handles; `None` for others.
pub(super) fn map(r: &CfnResource, ix: &Index<'_>) -> Option<Resource> {
    match r.resource_type.as_str() {
        "AWS::EC2::VPC" => Some(vpc(r, ix)),
        "AWS::EC2::Subnet" => Some(subnet(r)),
        "AWS::EC2::NetworkAcl" => Some(network_acl(r, ix)),
        _ => None,
    }
}

/// `AWS::EC2::VPC`. Defaults: `InstanceTenancy` default; a template's VPC
/// is never the default VPC. A flow log is ACTIVE once created;
/// `LogDestinationType` defaults to cloud-watch-logs.
fn vpc(v: &CfnResource, ix: &Index<'_>) -> Resource {
    let mut r = new_resource(v, "VPC", "aws.ec2.vpc", None);
    r.uncollected.insert("vpc_id".into(), ASSIGNED.into());
    let p = &v.props;
    set(&mut r, "cidr_block", p.get("CidrBlock"), None);
    set(
        &mut r,
        "instance_tenancy",
        p.get("InstanceTenancy"),
        Some(json!("default")),
    );
    r.attributes.insert("is_default".into(), json!(false));
    // A flow log on a declared subnet or interface is not this VPC's.
    let other_kind = |s: &CfnResource, _: &Unknown| {
        s.props
            .get("ResourceType")
            .and_then(Val::as_str)
            .is_some_and(|t| t != "VPC")
    };
    let logs = satellites_where(ix, "AWS::EC2::FlowLog", "ResourceId", v, &[], &other_kind);
    let entries = logs
        .matched
        .iter()
        .map(|f| {
            let fp = &f.props;
            let destination = fp
                .get("LogDestination")
                .filter(|v| !v.is_null())
                .or_else(|| fp.get("LogGroupName"));
            flow_log(
                &f.logical_id,
                fp.get("TrafficType"),
                fp.get("LogDestinationType"),
                destination,
            )
        })
        .collect();
    set_flow_logs(&mut r, entries, logs.unresolved);
    r
}

/// `AWS::EC2::Subnet`: `MapPublicIpOnLaunch` and
/// `AssignIpv6AddressOnCreation` default to false.
fn subnet(s: &CfnResource) -> Resource {
    let mut r = new_resource(s, "VPC", "aws.ec2.subnet", None);
    r.uncollected.insert("subnet_id".into(), ASSIGNED.into());
    let p = &s.props;
    set(&mut r, "vpc_id", p.get("VpcId"), None);
    set(&mut r, "cidr_block", p.get("CidrBlock"), None);
    set(&mut r, "availability_zone", p.get("AvailabilityZone"), None);
    r.attributes.insert("default_for_az".into(), json!(false));
    set(
        &mut r,
        "map_public_ip_on_launch",
        p.get("MapPublicIpOnLaunch"),
        Some(json!(false)),
    );
    set(
        &mut r,
        "assign_ipv6_address_on_creation",
        p.get("AssignIpv6AddressOnCreation"),
        Some(json!(false)),
    );
    r
}

/// An `AWS::EC2::NetworkAclEntry` (`Egress` defaults to false).
fn entry(p: &Val) -> Rule {
    let range = p.get("PortRange");
    Ok(acl_entry(
        required(port_of(p.get("RuleNumber")), "RuleNumber")?,
        known_bool(p.get("Egress"))?.unwrap_or(false),
        &required(text_of(p.get("Protocol")), "Protocol")?,
        (
            port_of(range.and_then(|r| r.get("From")))?,
            port_of(range.and_then(|r| r.get("To")))?,
        ),
        (
            text_of(p.get("CidrBlock"))?,
            text_of(p.get("Ipv6CidrBlock"))?,
        ),
        &required(text_of(p.get("RuleAction")), "RuleAction")?,
    ))
}

/// `AWS::EC2::NetworkAcl`: the entries that name it plus AWS's implicit
/// deny-all ones, sorted as the collector sorts them. Entries added to a
/// VPC's default ACL (`!GetAtt Vpc.DefaultNetworkAcl`) are not this ACL's.
fn network_acl(a: &CfnResource, ix: &Index<'_>) -> Resource {
    let mut r = new_resource(a, "VPC", "aws.ec2.network_acl", None);
    r.uncollected
        .insert("network_acl_id".into(), ASSIGNED.into());
    set(&mut r, "vpc_id", a.props.get("VpcId"), None);
    r.attributes.insert("is_default".into(), json!(false));
    // `!GetAtt Vpc.DefaultNetworkAcl` names the VPC's own default ACL, which
    // a template cannot declare: not this one (see `Index::unresolved`).
    let rules = ix.satellites("AWS::EC2::NetworkAclEntry", "NetworkAclId", a, &[]);
    let entries = rules.matched.iter().map(|s| entry(&s.props)).collect();
    set_entries(&mut r, entries, rules.unresolved);
    r
}

#[cfg(test)]
mod tests {
    use crate::cloudformation::map::ec2::tests::{one, resources};
    use serde_json::json;

    #[test]
    fn flow_logs_fold_into_the_vpc_they_name_and_not_into_others() {
        let rs = resources(
            r#"
  Logged:
    Type: AWS::EC2::VPC
    Properties:
      CidrBlock: 10.0.0.0/16
  Quiet:
    Type: AWS::EC2::VPC
    Properties:
      CidrBlock: 10.1.0.0/16
  Log:
    Type: AWS::EC2::FlowLog
    Properties:
      ResourceId: !Ref Logged
      ResourceType: VPC
      TrafficType: REJECT
      LogGroupName: flows
  OnAnEni:
    Type: AWS::EC2::FlowLog
    Properties:
      ResourceId: !Ref SomeEni
      ResourceType: NetworkInterface
      TrafficType: ALL
"#,
        );
        let l = one(&rs, "Logged");
        assert_eq!(l.service, "VPC");
        assert_eq!(l.attributes["flow_logs_enabled"], json!(true));
        assert_eq!(l.attributes["flow_logs"][0]["destination"], json!("flows"));
        assert_eq!(
            l.attributes["flow_logs"][0]["traffic_type"],
            json!("REJECT")
        );
        let q = one(&rs, "Quiet");
        assert_eq!(q.attributes["flow_logs_enabled"], json!(false));

        let rs = resources(
            r#"
  V:
    Type: AWS::EC2::VPC
    Properties:
      CidrBlock: 10.0.0.0/16
  Log:
    Type: AWS::EC2::FlowLog
    Properties:
      ResourceId: !Ref VpcParam
      ResourceType: VPC
      TrafficType: ALL
"#,
        );
        assert!(one(&rs, "V").uncollected["flow_logs_enabled"].contains("!Ref VpcParam"));
    }

    #[test]
    fn subnets_default_to_no_public_ip() {
        let rs = resources(
            r#"
  S:
    Type: AWS::EC2::Subnet
    Properties:
      VpcId: vpc-1
      CidrBlock: 10.0.0.0/24
  P:
    Type: AWS::EC2::Subnet
    Properties:
      VpcId: vpc-1
      CidrBlock: 10.0.1.0/24
      MapPublicIpOnLaunch: true
"#,
        );
        assert_eq!(one(&rs, "S").resource_type, "aws.ec2.subnet");
        assert_eq!(
            one(&rs, "S").attributes["map_public_ip_on_launch"],
            json!(false)
        );
        assert_eq!(
            one(&rs, "P").attributes["map_public_ip_on_launch"],
            json!(true)
        );
    }

    #[test]
    fn acl_entries_fold_with_port_ranges_and_entries_on_the_default_acl_stay_out() {
        let rs = resources(
            r#"
  Vpc:
    Type: AWS::EC2::VPC
    Properties:
      CidrBlock: 10.0.0.0/16
  Acl:
    Type: AWS::EC2::NetworkAcl
    Properties:
      VpcId: !Ref Vpc
  Ssh:
    Type: AWS::EC2::NetworkAclEntry
    Properties:
      NetworkAclId: !Ref Acl
      RuleNumber: 100
      Protocol: 6
      RuleAction: allow
      CidrBlock: 0.0.0.0/0
      PortRange:
        From: 22
        To: 22
  Icmp:
    Type: AWS::EC2::NetworkAclEntry
    Properties:
      NetworkAclId: !Ref Acl
      RuleNumber: 90
      Protocol: 1
      RuleAction: deny
      Egress: true
      CidrBlock: 0.0.0.0/0
      Icmp:
        Code: -1
        Type: -1
  OnDefault:
    Type: AWS::EC2::NetworkAclEntry
    Properties:
      NetworkAclId: !GetAtt Vpc.DefaultNetworkAcl
      RuleNumber: 1
      Protocol: -1
      RuleAction: allow
      CidrBlock: 0.0.0.0/0
"#,
        );
        let a = one(&rs, "Acl");
        assert_eq!(a.resource_type, "aws.ec2.network_acl");
        assert!(a.uncollected.contains_key("vpc_id"));
        assert_eq!(
            a.attributes["entries"],
            json!([
                {"rule_number": 100, "egress": false, "protocol": "6", "from_port": 22, "to_port": 22,
                 "cidr_block": "0.0.0.0/0", "ipv6_cidr_block": null, "rule_action": "allow"},
                {"rule_number": 32767, "egress": false, "protocol": "-1", "from_port": 0, "to_port": 65535,
                 "cidr_block": "0.0.0.0/0", "ipv6_cidr_block": null, "rule_action": "deny"},
                {"rule_number": 90, "egress": true, "protocol": "1", "from_port": 0, "to_port": 65535,
                 "cidr_block": "0.0.0.0/0", "ipv6_cidr_block": null, "rule_action": "deny"},
                {"rule_number": 32767, "egress": true, "protocol": "-1", "from_port": 0, "to_port": 65535,
                 "cidr_block": "0.0.0.0/0", "ipv6_cidr_block": null, "rule_action": "deny"},
            ])
        );
    }
}
