//! CloudFormation → normalized resources: EC2 security groups, EBS volumes
//! and instances.
//!
//! * `AWS::EC2::SecurityGroup` → `aws.ec2.security_group`, its
//!   `SecurityGroupIngress`/`SecurityGroupEgress` plus the
//!   `AWS::EC2::SecurityGroupIngress`/`Egress` resources that name it in
//!   `ip_permissions` / `ip_permissions_egress`;
//! * `AWS::EC2::Volume` → `aws.ec2.volume`;
//! * `AWS::EC2::Instance` → `aws.ec2.instance`, with the metadata options
//!   and instance profile of the `AWS::EC2::LaunchTemplate` it names.
//!
//! Rules and metadata options are normalized by the Terraform mapper's
//! shared functions, so both give the collector's shapes.

use super::{new_resource, refers_to, set, Index, Satellites};
use crate::cloudformation::CfnResource;
use crate::secrets::{set_user_data_secrets, UserData};
use crate::terraform::map::ec2::ASSIGNED;
use crate::terraform::map::ec2::{
    permission, port_of, protocol_of, set_metadata_options, set_rules, strings_of, Imds, Rule,
};
use crate::value::{Unknown, Val};
use serde_json::{json, Value};
use vigil_model::Resource;

/// Maps the EC2 resource types this module handles; `None` for others.
pub(super) fn map(r: &CfnResource, ix: &Index<'_>) -> Option<Resource> {
    match r.resource_type.as_str() {
        "AWS::EC2::SecurityGroup" => Some(security_group(r, ix)),
        "AWS::EC2::Volume" => Some(volume(r)),
        "AWS::EC2::Instance" => Some(instance(r, ix)),
        _ => None,
    }
}

/// The satellites of `ty` whose `prop` names `target` (see
/// [`Index::satellites`]), where an unknown target for which `foreign`
/// holds is known not to be `target` (e.g. a flow log of a subnet).
pub(crate) fn satellites_where<'a>(
    ix: &Index<'a>,
    ty: &str,
    prop: &str,
    target: &CfnResource,
    names: &[&str],
    foreign: &dyn Fn(&CfnResource, &Unknown) -> bool,
) -> Satellites<'a> {
    let mut out = Satellites {
        matched: Vec::new(),
        unresolved: None,
    };
    for s in ix.of_type(ty) {
        let Some(v) = s.props.path(prop) else {
            continue;
        };
        if refers_to(v, target, names) {
            out.matched.push(s);
            continue;
        }
        let Val::Unknown(u) = v else { continue };
        if !foreign(s, u) && out.unresolved.is_none() {
            out.unresolved = ix.unresolved(v, target, s);
        }
    }
    out
}

/// A referenced group: a literal id, or the logical id of the declared
/// group a `!Ref`/`!GetAtt` names (its id in Vigil).
fn group_ref(v: &Val, ix: &Index<'_>) -> Rule {
    match v {
        Val::String(s) => Ok(json!(s)),
        Val::Unknown(u) => ix
            .of_type("AWS::EC2::SecurityGroup")
            .iter()
            .find(|g| refers_to(v, g, &[]))
            .map(|g| json!(g.logical_id))
            .ok_or_else(|| u.reason()),
        other => Err(format!(
            "a {} is not a security group id",
            other.type_name()
        )),
    }
}

/// One rule (inline or a satellite); `peer` is `SourceSecurityGroupId` or
/// `DestinationSecurityGroupId`.
fn rule(b: &Val, peer: &str, ix: &Index<'_>) -> Rule {
    let proto = protocol_of(b.get("IpProtocol"), "IpProtocol")?;
    let groups = match b.get(peer).filter(|v| !v.is_null()) {
        None => Vec::new(),
        Some(g) => vec![group_ref(g, ix)?],
    };
    Ok(permission(
        &proto,
        port_of(b.get("FromPort"))?,
        port_of(b.get("ToPort"))?,
        strings_of(b.get("CidrIp"))?,
        strings_of(b.get("CidrIpv6"))?,
        groups,
    ))
}

/// `AWS::EC2::SecurityGroup`. Without `SecurityGroupEgress` the group keeps
/// the allow-all IPv4 egress rule AWS gives a new group; with it,
/// CloudFormation replaces that rule with the ones listed.
fn security_group(g: &CfnResource, ix: &Index<'_>) -> Resource {
    let mut r = new_resource(g, "EC2", "aws.ec2.security_group", Some("GroupName"));
    r.uncollected.insert("group_id".into(), ASSIGNED.into());
    set(&mut r, "description", g.props.get("GroupDescription"), None);
    match g.props.get("VpcId").filter(|v| !v.is_null()) {
        Some(v) => set(&mut r, "vpc_id", Some(v), None),
        None => {
            r.uncollected.insert(
                "vpc_id".into(),
                "value not known at build time: (VpcId not set: the region's default VPC)".into(),
            );
        }
    }
    // `!GetAtt Vpc.DefaultSecurityGroup` names the VPC's own default group,
    // which a template cannot declare: not this one (see `Index::unresolved`).
    for (key, prop, ty, peer) in [
        (
            "ip_permissions",
            "SecurityGroupIngress",
            "AWS::EC2::SecurityGroupIngress",
            "SourceSecurityGroupId",
        ),
        (
            "ip_permissions_egress",
            "SecurityGroupEgress",
            "AWS::EC2::SecurityGroupEgress",
            "DestinationSecurityGroupId",
        ),
    ] {
        let mut rules: Vec<Rule> = match g.props.get(prop) {
            Some(Val::Unknown(u)) => vec![Err(u.reason())],
            Some(Val::List(items)) => items.iter().map(|b| rule(b, peer, ix)).collect(),
            Some(_) => Vec::new(),
            None if prop == "SecurityGroupEgress" => {
                vec![Ok(permission(
                    "-1",
                    None,
                    None,
                    vec![json!("0.0.0.0/0")],
                    Vec::new(),
                    Vec::new(),
                ))]
            }
            None => Vec::new(),
        };
        let by_id = ix.satellites(ty, "GroupId", g, &[]);
        let by_name = ix.satellites(ty, "GroupName", g, &["GroupName"]);
        rules.extend(
            by_id
                .matched
                .iter()
                .chain(&by_name.matched)
                .map(|s| rule(&s.props, peer, ix)),
        );
        set_rules(&mut r, key, rules, by_id.unresolved.or(by_name.unresolved));
    }
    r
}

/// `AWS::EC2::Volume`. Defaults: `Encrypted` false (encrypted anyway when
/// the account encrypts by default, which the template does not show),
/// `VolumeType` gp2, `MultiAttachEnabled` false.
fn volume(v: &CfnResource) -> Resource {
    let mut r = new_resource(v, "EC2", "aws.ec2.volume", None);
    r.uncollected.insert("volume_id".into(), ASSIGNED.into());
    let p = &v.props;
    set(&mut r, "encrypted", p.get("Encrypted"), Some(json!(false)));
    set(&mut r, "kms_key_id", p.get("KmsKeyId"), None);
    set(&mut r, "size", p.get("Size"), None);
    set(
        &mut r,
        "volume_type",
        p.get("VolumeType"),
        Some(json!("gp2")),
    );
    set(&mut r, "iops", p.get("Iops"), None);
    set(&mut r, "availability_zone", p.get("AvailabilityZone"), None);
    set(&mut r, "snapshot_id", p.get("SnapshotId"), None);
    set(
        &mut r,
        "multi_attach_enabled",
        p.get("MultiAttachEnabled"),
        Some(json!(false)),
    );
    r
}

/// The metadata options of a `MetadataOptions` property.
fn imds_of(v: Option<&Val>) -> Imds<'_> {
    let get = |k: &str| v.and_then(|m| m.get(k));
    Imds {
        http_tokens: get("HttpTokens"),
        http_endpoint: get("HttpEndpoint"),
        http_put_response_hop_limit: get("HttpPutResponseHopLimit"),
        instance_metadata_tags: get("InstanceMetadataTags"),
    }
}

/// The launch template an instance's `LaunchTemplate` names: `Ok(None)`
/// without one, `Err` when it names one not declared in the template.
fn launch_template<'a>(i: &CfnResource, ix: &Index<'a>) -> Result<Option<&'a CfnResource>, String> {
    let Some(lt) = i.props.get("LaunchTemplate") else {
        return Ok(None);
    };
    for (prop, names) in [
        ("LaunchTemplateId", &[][..]),
        ("LaunchTemplateName", &["LaunchTemplateName"][..]),
    ] {
        if let Some(v) = lt.get(prop).filter(|v| !v.is_null()) {
            return ix
                .of_type("AWS::EC2::LaunchTemplate")
                .iter()
                .find(|t| refers_to(v, t, names))
                .copied()
                .map(Some)
                .ok_or_else(|| match v {
                    Val::Unknown(u) => u.reason(),
                    other => format!(
                        "value not known at build time: launch template {} is not in this template",
                        other.to_display().unwrap_or_default()
                    ),
                });
        }
    }
    Ok(None)
}

/// An instance profile: its literal name or ARN, or the logical id of the
/// declared `AWS::IAM::InstanceProfile` a `!Ref`/`!GetAtt` names.
fn profile_ref(v: &Val, ix: &Index<'_>) -> Rule {
    match v {
        Val::Unknown(u) => ix
            .of_type("AWS::IAM::InstanceProfile")
            .iter()
            .find(|p| refers_to(v, p, &[]))
            .map(|p| json!(p.logical_id))
            .ok_or_else(|| u.reason()),
        other => other.to_json().map_err(Unknown::reason),
    }
}

/// `AWS::EC2::Instance`. Defaults: `state` running (CloudFormation waits
/// for it), `Tenancy` default, `Monitoring` false, no instance profile
/// unless the instance or its launch template sets one. The instance's own
/// `MetadataOptions` win over its launch template's, key by key.
fn instance(i: &CfnResource, ix: &Index<'_>) -> Resource {
    let mut r = new_resource(i, "EC2", "aws.ec2.instance", None);
    r.uncollected.insert("instance_id".into(), ASSIGNED.into());
    r.attributes.insert("state".into(), json!("running"));
    let p = &i.props;
    set(&mut r, "instance_type", p.get("InstanceType"), None);
    set(&mut r, "image_id", p.get("ImageId"), None);
    set(&mut r, "availability_zone", p.get("AvailabilityZone"), None);
    set(&mut r, "subnet_id", p.get("SubnetId"), None);
    set(&mut r, "key_name", p.get("KeyName"), None);
    set(&mut r, "tenancy", p.get("Tenancy"), Some(json!("default")));
    set(
        &mut r,
        "detailed_monitoring",
        p.get("Monitoring"),
        Some(json!(false)),
    );
    let groups: Result<Vec<Value>, String> = match p.get("SecurityGroupIds") {
        None | Some(Val::Null) => Ok(Vec::new()),
        Some(Val::List(items)) => items.iter().map(|g| group_ref(g, ix)).collect(),
        Some(other) => Err(other
            .first_unknown()
            .map_or_else(|| "SecurityGroupIds is not a list".into(), Unknown::reason)),
    };
    match groups {
        Ok(g) => {
            r.attributes
                .insert("security_groups".into(), Value::Array(g));
        }
        Err(why) => {
            r.uncollected.insert("security_groups".into(), why);
        }
    }

    let template = launch_template(i, ix);
    let data = |t: &'_ CfnResource| t.props.get("LaunchTemplateData").cloned();
    let tpl_data = template.clone().map(|t| t.and_then(data));
    let tpl_imds = match &tpl_data {
        Ok(d) => Ok(imds_of(d.as_ref().and_then(|d| d.get("MetadataOptions")))),
        Err(why) => Err(why.clone()),
    };
    set_metadata_options(&mut r, imds_of(p.get("MetadataOptions")), tpl_imds);

    // `UserData` is base64 (`Fn::Base64` gives base64 text), the
    // template's `LaunchTemplateData.UserData` too.
    let user_data = match (p.get("UserData").filter(|v| !v.is_null()), &tpl_data) {
        (Some(v), _) => Ok(Some(UserData::Base64(v))),
        (None, Ok(d)) => Ok(d
            .as_ref()
            .and_then(|d| d.get("UserData"))
            .map(UserData::Base64)),
        (None, Err(why)) => Err(why.clone()),
    };
    set_user_data_secrets(&mut r, user_data);

    let profile = match (
        p.get("IamInstanceProfile").filter(|v| !v.is_null()),
        &tpl_data,
    ) {
        (Some(v), _) => profile_ref(v, ix),
        (None, Err(why)) => Err(why.clone()),
        (None, Ok(d)) => match d
            .as_ref()
            .and_then(|d| d.get("IamInstanceProfile"))
            .and_then(|b| b.get("Arn").or_else(|| b.get("Name")))
        {
            Some(v) => profile_ref(v, ix),
            None => Ok(Value::Null),
        },
    };
    match profile {
        Ok(v) => {
            r.attributes.insert("iam_instance_profile".into(), v);
        }
        Err(why) => {
            r.uncollected.insert("iam_instance_profile".into(), why);
        }
    }
    r
}

#[cfg(test)]
pub(crate) mod tests {
    use crate::cloudformation::cloudformation_resources;
    use serde_json::{json, Value};
    use vigil_model::Resource;

    /// The normalized resources of one template's `Resources` section.
    pub(crate) fn resources(resources: &str) -> Vec<Resource> {
        let text = format!("AWSTemplateFormatVersion: \"2010-09-09\"\nResources:\n{resources}");
        let (rs, errors) = cloudformation_resources(&[("t.yaml".into(), text)]);
        assert!(errors.is_empty(), "{errors:?}");
        rs
    }

    pub(crate) fn one<'a>(rs: &'a [Resource], id: &str) -> &'a Resource {
        let found = rs.iter().find(|r| r.id == id);
        assert!(found.is_some(), "no {id} in {rs:#?}");
        found.unwrap()
    }

    #[test]
    fn a_group_without_egress_keeps_the_default_allow_all_egress() {
        let rs = resources(
            r#"
  Open:
    Type: AWS::EC2::SecurityGroup
    Properties:
      GroupName: open
      GroupDescription: d
      SecurityGroupIngress:
        - IpProtocol: -1
          CidrIp: 0.0.0.0/0
        - IpProtocol: "6"
          FromPort: 22
          ToPort: 22
          CidrIpv6: ::/0
  Closed:
    Type: AWS::EC2::SecurityGroup
    Properties:
      GroupDescription: d
      VpcId: vpc-1
      SecurityGroupEgress:
        - IpProtocol: tcp
          FromPort: 443
          ToPort: 443
          CidrIp: 10.0.0.0/8
"#,
        );
        let o = one(&rs, "Open");
        assert_eq!(o.name, "open");
        assert_eq!(o.resource_type, "aws.ec2.security_group");
        let all = json!({"ip_protocol": "-1", "from_port": 0, "to_port": 65535,
                         "ip_ranges": ["0.0.0.0/0"], "ipv6_ranges": [], "referenced_groups": []});
        assert_eq!(o.attributes["ip_permissions"][0], all);
        assert_eq!(
            o.attributes["ip_permissions"][1]["ip_protocol"],
            json!("tcp")
        );
        assert_eq!(o.attributes["ip_permissions_egress"], json!([all]));
        assert!(o.uncollected.contains_key("vpc_id"));
        let c = one(&rs, "Closed");
        assert_eq!(c.name, "Closed");
        assert_eq!(c.attributes["vpc_id"], json!("vpc-1"));
        assert_eq!(c.attributes["ip_permissions"], json!([]));
        assert_eq!(
            c.attributes["ip_permissions_egress"][0]["from_port"],
            json!(443)
        );
    }

    #[test]
    fn ingress_and_egress_resources_fold_by_ref_getatt_and_name() {
        let rs = resources(
            r#"
  Web:
    Type: AWS::EC2::SecurityGroup
    Properties:
      GroupName: web
      GroupDescription: d
  Peer:
    Type: AWS::EC2::SecurityGroup
    Properties:
      GroupDescription: d
      SecurityGroupEgress: []
  ByRef:
    Type: AWS::EC2::SecurityGroupIngress
    Properties:
      GroupId: !Ref Web
      IpProtocol: tcp
      FromPort: 22
      ToPort: 22
      SourceSecurityGroupId: !GetAtt Peer.GroupId
  ByName:
    Type: AWS::EC2::SecurityGroupIngress
    Properties:
      GroupName: web
      IpProtocol: udp
      FromPort: 53
      ToPort: 53
      CidrIp: 0.0.0.0/0
  Out:
    Type: AWS::EC2::SecurityGroupEgress
    Properties:
      GroupId: !GetAtt Peer.GroupId
      IpProtocol: tcp
      FromPort: 5432
      ToPort: 5432
      DestinationSecurityGroupId: sg-0db
  OnDefault:
    Type: AWS::EC2::SecurityGroupIngress
    Properties:
      GroupId: !GetAtt Vpc.DefaultSecurityGroup
      IpProtocol: -1
      CidrIp: 0.0.0.0/0
  Vpc:
    Type: AWS::EC2::VPC
    Properties:
      CidrBlock: 10.0.0.0/16
"#,
        );
        let w = one(&rs, "Web");
        let ingress = &w.attributes["ip_permissions"];
        assert_eq!(ingress[0]["referenced_groups"], json!(["Peer"]));
        assert_eq!(ingress[1]["ip_protocol"], json!("udp"));
        assert_eq!(ingress.as_array().map(Vec::len), Some(2));
        let p = one(&rs, "Peer");
        assert_eq!(p.attributes["ip_permissions"], json!([]));
        assert_eq!(
            p.attributes["ip_permissions_egress"][0]["referenced_groups"],
            json!(["sg-0db"])
        );
    }

    #[test]
    fn a_rule_on_an_unknown_group_or_with_unknown_values_is_uncollected() {
        let rs = resources(
            r#"
  G:
    Type: AWS::EC2::SecurityGroup
    Properties:
      GroupDescription: d
      SecurityGroupIngress:
        - IpProtocol: tcp
          FromPort: 22
          ToPort: 22
          CidrIp: !Ref OfficeCidr
  H:
    Type: AWS::EC2::SecurityGroup
    Properties:
      GroupDescription: d
  Somewhere:
    Type: AWS::EC2::SecurityGroupIngress
    Properties:
      GroupId: !Ref ImportedGroup
      IpProtocol: -1
      CidrIp: 0.0.0.0/0
"#,
        );
        let g = one(&rs, "G");
        assert!(g.uncollected["ip_permissions"].contains("!Ref OfficeCidr"));
        let h = one(&rs, "H");
        assert!(h.attributes.get("ip_permissions").is_none());
        assert!(h.uncollected["ip_permissions"].contains("!Ref ImportedGroup"));
        assert!(h.attributes.contains_key("ip_permissions_egress"));
    }

    #[test]
    fn volumes_default_to_unencrypted_gp2() {
        let rs = resources(
            r#"
  V:
    Type: AWS::EC2::Volume
    Properties:
      AvailabilityZone: eu-west-1a
      Size: 10
  K:
    Type: AWS::EC2::Volume
    Properties:
      AvailabilityZone: eu-west-1a
      Encrypted: !Ref Encrypt
"#,
        );
        let v = one(&rs, "V");
        assert_eq!(v.resource_type, "aws.ec2.volume");
        assert_eq!(v.attributes["encrypted"], json!(false));
        assert_eq!(v.attributes["volume_type"], json!("gp2"));
        assert_eq!(v.attributes["multi_attach_enabled"], json!(false));
        assert!(one(&rs, "K").uncollected["encrypted"].contains("!Ref Encrypt"));
    }

    #[test]
    fn instance_options_win_over_the_launch_template_key_by_key() {
        let rs = resources(
            r#"
  Lt:
    Type: AWS::EC2::LaunchTemplate
    Properties:
      LaunchTemplateName: base
      LaunchTemplateData:
        MetadataOptions:
          HttpTokens: required
          HttpPutResponseHopLimit: 2
        IamInstanceProfile:
          Arn: arn:aws:iam::1:instance-profile/base
  Own:
    Type: AWS::EC2::Instance
    Properties:
      LaunchTemplate:
        LaunchTemplateName: base
        Version: "1"
      MetadataOptions:
        HttpTokens: optional
  Bare:
    Type: AWS::EC2::Instance
    Properties:
      ImageId: ami-1
  Elsewhere:
    Type: AWS::EC2::Instance
    Properties:
      LaunchTemplate:
        LaunchTemplateId: !Ref TemplateParam
        Version: "1"
"#,
        );
        let o = one(&rs, "Own");
        assert_eq!(
            o.attributes["metadata_options"],
            json!({"http_tokens": "optional", "http_endpoint": "enabled", "http_put_response_hop_limit": 2})
        );
        assert_eq!(
            o.attributes["iam_instance_profile"],
            json!("arn:aws:iam::1:instance-profile/base")
        );
        assert_eq!(o.attributes["state"], json!("running"));
        let b = one(&rs, "Bare");
        assert_eq!(b.attributes["iam_instance_profile"], Value::Null);
        assert!(b.uncollected.contains_key("metadata_options.http_tokens"));
        let e = one(&rs, "Elsewhere");
        assert!(e.uncollected["iam_instance_profile"].contains("!Ref TemplateParam"));
        assert!(e.uncollected["metadata_options.http_tokens"].contains("!Ref TemplateParam"));
    }
}
