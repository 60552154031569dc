//! EC2: the enabled regions and security groups.

use super::{set, Ctx, Part};
use crate::config::in_region;
use crate::error::{failed, CollectError};
use aws_config::SdkConfig;
use serde_json::{json, Value};
use std::sync::Arc;
use vigil_model::Association;

/// The regions enabled for the account (opted in, or needing no opt-in).
pub async fn enabled_regions(sdk: &SdkConfig) -> Result<Vec<String>, CollectError> {
    let ec2 = aws_sdk_ec2::Client::new(sdk);
    let out = ec2
        .describe_regions()
        .send()
        .await
        .map_err(|e| failed("ec2", crate::config::HOME_REGION, "ec2:DescribeRegions", &e))?;
    let mut regions: Vec<String> = out
        .regions()
        .iter()
        .filter(|r| !matches!(r.opt_in_status(), Some("not-opted-in")))
        .filter_map(|r| r.region_name().map(String::from))
        .collect();
    regions.sort();
    Ok(regions)
}

pub async fn collect(ctx: Arc<Ctx>, region: String) -> Part {
    let mut part = Part::default();
    let ec2 = aws_sdk_ec2::Client::new(&in_region(&ctx.sdk, &region));
    let mut pages = ec2.describe_security_groups().into_paginator().send();
    while let Some(page) = pages.next().await {
        let groups = match page {
            Ok(p) => p.security_groups.unwrap_or_default(),
            Err(e) => {
                part.errors
                    .push(failed("ec2", &region, "ec2:DescribeSecurityGroups", &e));
                break;
            }
        };
        for g in groups {
            let id = g.group_id().unwrap_or_default().to_string();
            let arn = format!("arn:aws:ec2:{region}:{}:security-group/{id}", ctx.account);
            let mut r = ctx.resource(
                &region,
                "EC2",
                "aws.ec2.security_group",
                arn,
                g.group_name().unwrap_or(&id).to_string(),
            );
            set(&mut r, "group_id", id.clone());
            set(&mut r, "description", g.description().unwrap_or_default());
            set(&mut r, "vpc_id", g.vpc_id());
            let perms = |list: &[aws_sdk_ec2::types::IpPermission]| -> Vec<Value> {
                list.iter()
                    .map(|p| {
                        let all = p.ip_protocol() == Some("-1");
                        json!({
                            "ip_protocol": p.ip_protocol().unwrap_or_default(),
                            // "All traffic" rules carry no ports: normalize to the full range.
                            "from_port": if all { 0 } else { p.from_port().unwrap_or(0) },
                            "to_port": if all { 65535 } else { p.to_port().unwrap_or(65535) },
                            "ip_ranges": p.ip_ranges().iter().filter_map(|x| x.cidr_ip()).collect::<Vec<_>>(),
                            "ipv6_ranges": p.ipv6_ranges().iter().filter_map(|x| x.cidr_ipv6()).collect::<Vec<_>>(),
                            "referenced_groups": p.user_id_group_pairs().iter().filter_map(|x| x.group_id()).collect::<Vec<_>>(),
                        })
                    })
                    .collect()
            };
            set(&mut r, "ip_permissions", perms(g.ip_permissions()));
            set(
                &mut r,
                "ip_permissions_egress",
                perms(g.ip_permissions_egress()),
            );
            for p in g.ip_permissions() {
                for pair in p.user_id_group_pairs() {
                    if let Some(other) = pair.group_id() {
                        if other != id {
                            r.associations.push(Association {
                                relation: "references".into(),
                                resource_type: "aws.ec2.security_group".into(),
                                id: format!(
                                    "arn:aws:ec2:{region}:{}:security-group/{other}",
                                    pair.user_id().unwrap_or(&ctx.account)
                                ),
                            });
                        }
                    }
                }
            }
            if let Some(vpc) = g.vpc_id() {
                r.associations.push(Association {
                    relation: "member_of".into(),
                    resource_type: "aws.ec2.vpc".into(),
                    id: format!("arn:aws:ec2:{region}:{}:vpc/{vpc}", ctx.account),
                });
            }
            for t in g.tags() {
                if let (Some(k), Some(v)) = (t.key(), t.value()) {
                    r.tags.insert(k.to_string(), v.to_string());
                }
            }
            part.resources.push(r);
        }
    }
    part
}
