//! EC2 instances: state, placement, network, metadata service options (IMDSv2),
//! instance profile and EBS volumes.

use super::{drain, ec2_arn, ec2_tags, link, set, time, Ctx, Part};
use crate::config::in_region;
use serde_json::json;
use std::sync::Arc;

pub async fn collect(ctx: Arc<Ctx>, region: String) -> Part {
    let mut part = Part::default();
    let ec2 = aws_sdk_ec2::Client::new(&in_region(&ctx.sdk, &region));
    let (reservations, err) = drain!(
        ec2.describe_instances().into_paginator().items().send(),
        "ec2",
        &region,
        "ec2:DescribeInstances"
    );
    part.errors.extend(err);
    for reservation in reservations {
        let owner = reservation.owner_id().unwrap_or(&ctx.account).to_string();
        for i in reservation.instances() {
            let id = i.instance_id().unwrap_or_default();
            let mut r = ctx.resource(
                &region,
                "EC2",
                "aws.ec2.instance",
                ec2_arn(&region, &owner, "instance", id),
                id.to_string(),
            );
            set(&mut r, "instance_id", id);
            set(
                &mut r,
                "instance_type",
                i.instance_type().map(|t| t.as_str()),
            );
            set(
                &mut r,
                "state",
                i.state().and_then(|s| s.name()).map(|s| s.as_str()),
            );
            set(&mut r, "image_id", i.image_id());
            set(&mut r, "launch_time", time(i.launch_time()));
            set(
                &mut r,
                "availability_zone",
                i.placement().and_then(|p| p.availability_zone()),
            );
            set(
                &mut r,
                "tenancy",
                i.placement().and_then(|p| p.tenancy()).map(|t| t.as_str()),
            );
            set(&mut r, "vpc_id", i.vpc_id());
            set(&mut r, "subnet_id", i.subnet_id());
            set(&mut r, "private_ip_address", i.private_ip_address());
            set(&mut r, "public_ip_address", i.public_ip_address());
            set(
                &mut r,
                "private_dns_name",
                i.private_dns_name().filter(|d| !d.is_empty()),
            );
            set(
                &mut r,
                "public_dns_name",
                i.public_dns_name().filter(|d| !d.is_empty()),
            );
            set(&mut r, "key_name", i.key_name());
            set(&mut r, "platform", i.platform().map(|p| p.as_str()));
            set(&mut r, "architecture", i.architecture().map(|a| a.as_str()));
            // Spot, scheduled or capacity-block; absent for on-demand.
            set(
                &mut r,
                "instance_lifecycle",
                i.instance_lifecycle().map(|l| l.as_str()),
            );
            set(
                &mut r,
                "iam_instance_profile",
                i.iam_instance_profile().and_then(|p| p.arn()),
            );
            let meta = i.metadata_options();
            set(
                &mut r,
                "metadata_options",
                json!({
                    // "required" means IMDSv2 only; "optional" still answers IMDSv1.
                    "http_tokens": meta.and_then(|m| m.http_tokens()).map(|t| t.as_str()),
                    "http_endpoint": meta.and_then(|m| m.http_endpoint()).map(|t| t.as_str()),
                    "http_put_response_hop_limit": meta.and_then(|m| m.http_put_response_hop_limit()),
                    "instance_metadata_tags": meta.and_then(|m| m.instance_metadata_tags()).map(|t| t.as_str()),
                }),
            );
            let monitoring = i.monitoring().and_then(|m| m.state()).map(|s| s.as_str());
            set(&mut r, "monitoring", monitoring);
            set(
                &mut r,
                "detailed_monitoring",
                matches!(monitoring, Some("enabled" | "pending")),
            );
            set(&mut r, "ebs_optimized", i.ebs_optimized());
            set(
                &mut r,
                "root_device_type",
                i.root_device_type().map(|t| t.as_str()),
            );
            set(&mut r, "root_device_name", i.root_device_name());
            set(
                &mut r,
                "ebs_volumes",
                i.block_device_mappings()
                    .iter()
                    .filter_map(|m| {
                        let ebs = m.ebs()?;
                        Some(json!({
                            "device_name": m.device_name(),
                            "volume_id": ebs.volume_id(),
                            "delete_on_termination": ebs.delete_on_termination(),
                            "status": ebs.status().map(|s| s.as_str()),
                        }))
                    })
                    .collect::<Vec<_>>(),
            );
            let mut groups: Vec<&str> = i
                .security_groups()
                .iter()
                .filter_map(|g| g.group_id())
                .collect();
            groups.sort_unstable();
            groups.dedup();
            set(&mut r, "security_groups", groups.clone());
            set(
                &mut r,
                "network_interfaces",
                i.network_interfaces()
                    .iter()
                    .map(|n| {
                        json!({
                            "network_interface_id": n.network_interface_id(),
                            "subnet_id": n.subnet_id(),
                            "private_ip_address": n.private_ip_address(),
                            "public_ip": n.association().and_then(|a| a.public_ip()),
                        })
                    })
                    .collect::<Vec<_>>(),
            );

            for g in groups {
                r.associations.push(link(
                    "uses",
                    "aws.ec2.security_group",
                    ec2_arn(&region, &owner, "security-group", g),
                ));
            }
            if let Some(subnet) = i.subnet_id() {
                r.associations.push(link(
                    "member_of",
                    "aws.ec2.subnet",
                    ec2_arn(&region, &owner, "subnet", subnet),
                ));
            }
            if let Some(vpc) = i.vpc_id() {
                r.associations.push(link(
                    "member_of",
                    "aws.ec2.vpc",
                    ec2_arn(&region, &owner, "vpc", vpc),
                ));
            }
            for m in i.block_device_mappings() {
                if let Some(v) = m.ebs().and_then(|e| e.volume_id()) {
                    r.associations.push(link(
                        "uses",
                        "aws.ec2.volume",
                        ec2_arn(&region, &owner, "volume", v),
                    ));
                }
            }
            if let Some(profile) = i.iam_instance_profile().and_then(|p| p.arn()) {
                r.associations
                    .push(link("uses", "aws.iam.instance_profile", profile));
            }
            ec2_tags(&mut r, i.tags());
            part.resources.push(r);
        }
    }
    part
}
