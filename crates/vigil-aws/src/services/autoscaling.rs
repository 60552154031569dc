//! Auto Scaling groups: what they launch (launch template or launch
//! configuration, with the configuration's IMDS and public IP settings), where,
//! the instances they run and the target groups they register with.

use super::{drain, ec2_arn, link, missing, set, time, Ctx, Part};
use crate::config::in_region;
use aws_sdk_autoscaling::types::LaunchConfiguration;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;

pub async fn collect(ctx: Arc<Ctx>, region: String) -> Part {
    let mut part = Part::default();
    let asg = aws_sdk_autoscaling::Client::new(&in_region(&ctx.sdk, &region));
    let account = ctx.account.as_str();

    let (groups, groups_err) = drain!(
        asg.describe_auto_scaling_groups()
            .into_paginator()
            .items()
            .send(),
        "autoscaling",
        &region,
        "autoscaling:DescribeAutoScalingGroups"
    );
    part.errors.extend(groups_err);
    if groups.is_empty() {
        return part;
    }
    let (configs, configs_err) = drain!(
        asg.describe_launch_configurations()
            .into_paginator()
            .items()
            .send(),
        "autoscaling",
        &region,
        "autoscaling:DescribeLaunchConfigurations"
    );
    let configs: HashMap<&str, &LaunchConfiguration> = configs
        .iter()
        .filter_map(|c| Some((c.launch_configuration_name()?, c)))
        .collect();

    for g in &groups {
        let name = g.auto_scaling_group_name().unwrap_or_default();
        let arn = g.auto_scaling_group_arn().map(String::from).unwrap_or_else(|| {
            format!("arn:aws:autoscaling:{region}:{account}:autoScalingGroup:*:autoScalingGroupName/{name}")
        });
        let mut r = ctx.resource(
            &region,
            "Auto Scaling",
            "aws.autoscaling.group",
            arn,
            name.to_string(),
        );
        set(&mut r, "min_size", g.min_size());
        set(&mut r, "max_size", g.max_size());
        set(&mut r, "desired_capacity", g.desired_capacity());
        set(
            &mut r,
            "availability_zones",
            g.availability_zones().to_vec(),
        );
        let subnets: Vec<&str> = g
            .vpc_zone_identifier()
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect();
        set(&mut r, "subnet_ids", subnets.clone());
        set(&mut r, "health_check_type", g.health_check_type());
        set(
            &mut r,
            "health_check_grace_period",
            g.health_check_grace_period(),
        );
        set(&mut r, "created", time(g.created_time()));
        set(&mut r, "capacity_rebalance", g.capacity_rebalance());
        set(
            &mut r,
            "new_instances_protected_from_scale_in",
            g.new_instances_protected_from_scale_in(),
        );
        set(&mut r, "target_group_arns", g.target_group_arns().to_vec());
        set(
            &mut r,
            "load_balancer_names",
            g.load_balancer_names().to_vec(),
        );

        // A launch template directly, or the one of a mixed instances policy.
        let template = g.launch_template().or_else(|| {
            g.mixed_instances_policy()
                .and_then(|m| m.launch_template())
                .and_then(|t| t.launch_template_specification())
        });
        set(
            &mut r,
            "launch_template",
            match template {
                Some(t) => json!({
                    "id": t.launch_template_id(),
                    "name": t.launch_template_name(),
                    "version": t.version(),
                }),
                None => Value::Null,
            },
        );
        set(
            &mut r,
            "mixed_instances_policy",
            g.mixed_instances_policy().is_some(),
        );
        match g.launch_configuration_name() {
            None => set(&mut r, "launch_configuration", Value::Null),
            Some(lc) => match (&configs_err, configs.get(lc)) {
                (_, Some(c)) => {
                    let meta = c.metadata_options();
                    set(
                        &mut r,
                        "launch_configuration",
                        json!({
                            "name": lc,
                            "image_id": c.image_id(),
                            "instance_type": c.instance_type(),
                            "associate_public_ip_address": c.associate_public_ip_address(),
                            // AWS's default for launch configurations is "optional" (IMDSv1 on).
                            "http_tokens": meta.and_then(|m| m.http_tokens()).map(|t| t.as_str()).unwrap_or("optional"),
                            "http_endpoint": meta.and_then(|m| m.http_endpoint()).map(|t| t.as_str()).unwrap_or("enabled"),
                            "iam_instance_profile": c.iam_instance_profile(),
                        }),
                    );
                }
                (Some(e), None) => missing(&mut r, "launch_configuration", e),
                (None, None) => set(&mut r, "launch_configuration", json!({"name": lc})),
            },
        }
        set(
            &mut r,
            "instances",
            g.instances()
                .iter()
                .map(|i| {
                    json!({
                        "instance_id": i.instance_id(),
                        "availability_zone": i.availability_zone(),
                        "lifecycle_state": i.lifecycle_state().map(|s| s.as_str()),
                        "health_status": i.health_status(),
                    })
                })
                .collect::<Vec<_>>(),
        );

        for i in g.instances() {
            if let Some(id) = i.instance_id() {
                r.associations.push(link(
                    "contains",
                    "aws.ec2.instance",
                    ec2_arn(&region, account, "instance", id),
                ));
            }
        }
        for s in subnets {
            r.associations.push(link(
                "uses",
                "aws.ec2.subnet",
                ec2_arn(&region, account, "subnet", s),
            ));
        }
        for tg in g.target_group_arns() {
            r.associations.push(link(
                "registers_with",
                "aws.elbv2.target_group",
                tg.as_str(),
            ));
        }
        for t in g.tags() {
            if let (Some(k), Some(v)) = (t.key(), t.value()) {
                r.tags.insert(k.to_string(), v.to_string());
            }
        }
        part.resources.push(r);
    }
    // The launch configurations matter only to the groups that use one.
    if let Some(e) = configs_err {
        if groups
            .iter()
            .any(|g| g.launch_configuration_name().is_some())
        {
            part.errors.push(e);
        }
    }
    part
}
