//! CloudFormation → normalized resources: Auto Scaling groups
//! (`AWS::AutoScaling::AutoScalingGroup`), with their
//! `AWS::AutoScaling::LaunchConfiguration` and the Availability Zones of
//! their `AWS::EC2::Subnet`s, in the shape of the live collector's
//! `aws.autoscaling.group` (same rules as the Terraform mapper).

use super::{new_resource, refers_to, set, Index};
use crate::aws::loose_number;
use crate::cloudformation::CfnResource;
use crate::terraform::map::autoscaling::{
    identity, launch_configuration_json, not_in_files, set_identities, set_launch_configuration,
    set_zones, zones_of_subnets, LaunchConfigurationArgs,
};
use crate::value::Val;
use serde_json::{json, Value};
use vigil_model::Resource;

/// Maps the autoscaling resource types this module handles; `None` for others.
pub(super) fn map(r: &CfnResource, ix: &Index<'_>) -> Option<Resource> {
    (r.resource_type == "AWS::AutoScaling::AutoScalingGroup").then(|| group(r, ix))
}

/// CloudFormation writes sizes as strings (`MinSize: "2"`): as numbers.
fn number(v: Option<&Val>) -> Option<Val> {
    v.map(loose_number)
}

fn group(g: &CfnResource, ix: &Index<'_>) -> Resource {
    let mut r = new_resource(
        g,
        "Auto Scaling",
        "aws.autoscaling.group",
        Some("AutoScalingGroupName"),
    );
    let p = &g.props;
    set(&mut r, "min_size", number(p.get("MinSize")).as_ref(), None);
    set(&mut r, "max_size", number(p.get("MaxSize")).as_ref(), None);
    // Without a desired capacity, AWS starts at the minimum size.
    set(
        &mut r,
        "desired_capacity",
        number(p.get("DesiredCapacity").or(p.get("MinSize"))).as_ref(),
        None,
    );

    let subnets = p.get("VPCZoneIdentifier").filter(|v| !v.is_null());
    set(&mut r, "subnet_ids", subnets, Some(json!([])));
    match (p.get("AvailabilityZones").filter(|v| !v.is_null()), subnets) {
        (Some(zones), _) => set_zones(&mut r, zones.to_json().map_err(|u| u.reason())),
        (None, Some(subnets)) => {
            let zones = zones_of_subnets(subnets, |s| {
                ix.of_type("AWS::EC2::Subnet")
                    .iter()
                    .find(|n| refers_to(s, n, &[]))
                    .and_then(|n| n.props.get("AvailabilityZone"))
            });
            set_zones(&mut r, zones);
        }
        (None, None) => {
            r.uncollected.insert(
                "availability_zones".into(),
                "neither AvailabilityZones nor VPCZoneIdentifier is set".into(),
            );
        }
    }

    // AWS's defaults: EC2 health checks, a grace period of 0 s (the API's
    // default), no capacity rebalancing, no scale-in protection.
    set(
        &mut r,
        "health_check_type",
        p.get("HealthCheckType"),
        Some(json!("EC2")),
    );
    set(
        &mut r,
        "health_check_grace_period",
        number(p.get("HealthCheckGracePeriod")).as_ref(),
        Some(json!(0)),
    );
    set(
        &mut r,
        "capacity_rebalance",
        p.get("CapacityRebalance"),
        Some(json!(false)),
    );
    set(
        &mut r,
        "new_instances_protected_from_scale_in",
        p.get("NewInstancesProtectedFromScaleIn"),
        Some(json!(false)),
    );
    set_identities(
        &mut r,
        "target_group_arns",
        &[p.get("TargetGroupARNs")],
        &[],
    );
    set_identities(
        &mut r,
        "load_balancer_names",
        &[p.get("LoadBalancerNames")],
        &[],
    );

    let template = p
        .get("LaunchTemplate")
        .or(p.path("MixedInstancesPolicy.LaunchTemplate.LaunchTemplateSpecification"));
    r.attributes.insert(
        "launch_template".into(),
        match template {
            Some(t) => json!({
                "id": identity(t.get("LaunchTemplateId")),
                "name": identity(t.get("LaunchTemplateName")),
                "version": identity(t.get("Version")),
            }),
            None => Value::Null,
        },
    );
    r.attributes.insert(
        "mixed_instances_policy".into(),
        json!(p.get("MixedInstancesPolicy").is_some()),
    );

    match p.get("LaunchConfigurationName").filter(|v| !v.is_null()) {
        None => {
            r.attributes
                .insert("launch_configuration".into(), Value::Null);
        }
        Some(lc) => {
            let found = ix
                .of_type("AWS::AutoScaling::LaunchConfiguration")
                .iter()
                .find(|c| refers_to(lc, c, &["LaunchConfigurationName"]));
            let built = match found {
                Some(c) => {
                    let q = &c.props;
                    launch_configuration_json(&LaunchConfigurationArgs {
                        name: q.get("LaunchConfigurationName").unwrap_or(lc),
                        image_id: q.get("ImageId"),
                        instance_type: q.get("InstanceType"),
                        associate_public_ip_address: q.get("AssociatePublicIpAddress"),
                        http_tokens: q.path("MetadataOptions.HttpTokens"),
                        http_endpoint: q.path("MetadataOptions.HttpEndpoint"),
                        iam_instance_profile: q.get("IamInstanceProfile"),
                        origin: &c.logical_id,
                    })
                }
                None => Err(not_in_files(lc)),
            };
            set_launch_configuration(&mut r, built);
        }
    }
    r
}

#[cfg(test)]
mod tests {
    use crate::cloudformation::cloudformation_resources;
    use serde_json::{json, Value};
    use vigil_model::Resource;

    fn group(yaml: &str) -> Resource {
        let (rs, errors) = cloudformation_resources(&[("t.yaml".into(), yaml.into())]);
        assert!(errors.is_empty(), "{errors:?}");
        rs.into_iter()
            .find(|r| r.resource_type == "aws.autoscaling.group")
            .unwrap()
    }

    fn attr<'a>(r: &'a Resource, k: &str) -> Option<&'a Value> {
        r.attributes.get(k)
    }

    #[test]
    fn defaults_string_sizes_and_a_launch_configuration_by_ref() {
        let r = group(
            r#"Resources:
  Web:
    Type: AWS::AutoScaling::AutoScalingGroup
    Properties:
      MinSize: "2"
      MaxSize: "6"
      AvailabilityZones: [us-east-1b, us-east-1a]
      LaunchConfigurationName: !Ref WebConfig
  WebConfig:
    Type: AWS::AutoScaling::LaunchConfiguration
    Properties:
      ImageId: ami-0c02fb55956c7d316
      InstanceType: t3.small
      AssociatePublicIpAddress: "true"
"#,
        );
        assert_eq!(attr(&r, "min_size"), Some(&json!(2)));
        assert_eq!(attr(&r, "desired_capacity"), Some(&json!(2)));
        assert_eq!(attr(&r, "health_check_type"), Some(&json!("EC2")));
        assert_eq!(attr(&r, "target_group_arns"), Some(&json!([])));
        assert_eq!(
            attr(&r, "availability_zones"),
            Some(&json!(["us-east-1a", "us-east-1b"]))
        );
        let lc = attr(&r, "launch_configuration").unwrap();
        assert_eq!(lc["associate_public_ip_address"], json!(true));
        assert_eq!(lc["http_tokens"], json!("optional"));
        assert_eq!(lc["http_endpoint"], json!("enabled"));
    }

    #[test]
    fn zones_come_from_declared_subnets_only() {
        let subnets = "  A:\n    Type: AWS::EC2::Subnet\n    Properties:\n      AvailabilityZone: us-east-1a\n  B:\n    Type: AWS::EC2::Subnet\n    Properties:\n      AvailabilityZone: us-east-1a\n";
        let r = group(&format!("Resources:\n  G:\n    Type: AWS::AutoScaling::AutoScalingGroup\n    Properties:\n      MinSize: 1\n      MaxSize: 2\n      VPCZoneIdentifier: [!Ref A, !Ref B]\n{subnets}"));
        // Two subnets, one zone.
        assert_eq!(attr(&r, "availability_zones"), Some(&json!(["us-east-1a"])));

        let r = group(&format!("Resources:\n  G:\n    Type: AWS::AutoScaling::AutoScalingGroup\n    Properties:\n      MinSize: 1\n      MaxSize: 2\n      VPCZoneIdentifier: [!Ref A, subnet-0a1b2c3d]\n{subnets}"));
        assert!(attr(&r, "availability_zones").is_none());
        assert!(r.uncollected["availability_zones"].contains("subnet-0a1b2c3d"));
    }

    #[test]
    fn unknown_imds_settings_and_missing_configurations_are_uncollected() {
        let r = group("Resources:\n  G:\n    Type: AWS::AutoScaling::AutoScalingGroup\n    Properties:\n      MinSize: 1\n      MaxSize: 2\n      AvailabilityZones: [us-east-1a]\n      LaunchConfigurationName: !Ref C\n  C:\n    Type: AWS::AutoScaling::LaunchConfiguration\n    Properties:\n      ImageId: ami-1\n      InstanceType: t3.small\n      MetadataOptions:\n        HttpTokens: !Ref TokensParam\n");
        assert!(r.uncollected["launch_configuration"].contains("TokensParam"));

        let r = group("Resources:\n  G:\n    Type: AWS::AutoScaling::AutoScalingGroup\n    Properties:\n      MinSize: 1\n      MaxSize: 2\n      AvailabilityZones: [us-east-1a]\n      LaunchConfigurationName: legacy-lc\n");
        assert!(r.uncollected["launch_configuration"].contains("legacy-lc"));
    }
}
