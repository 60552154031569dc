//! ELB (v2): application, network and gateway load balancers with their
//! listeners (protocol, port, TLS policy), attributes (deletion protection,
//! access logs, header handling) and the instances their target groups reach.

use super::{drain, ec2_arn, link, missing, set, time, Ctx, Part};
use crate::config::in_region;
use crate::error::{failed, CollectError};
use serde_json::{json, Value};
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

pub async fn collect(ctx: Arc<Ctx>, region: String) -> Part {
    let mut part = Part::default();
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&in_region(&ctx.sdk, &region));
    let account = ctx.account.as_str();

    let (balancers, err) = drain!(
        elb.describe_load_balancers()
            .into_paginator()
            .items()
            .send(),
        "elbv2",
        &region,
        "elasticloadbalancing:DescribeLoadBalancers"
    );
    part.errors.extend(err);
    if balancers.is_empty() {
        return part;
    }

    // Target groups once for the region, then the instances each one reaches.
    let (groups, groups_err) = drain!(
        elb.describe_target_groups().into_paginator().items().send(),
        "elbv2",
        &region,
        "elasticloadbalancing:DescribeTargetGroups"
    );
    let mut group_instances: HashMap<String, Result<Vec<String>, CollectError>> = HashMap::new();
    for g in &groups {
        let Some(arn) = g.target_group_arn() else {
            continue;
        };
        if g.load_balancer_arns().is_empty()
            || g.target_type().map(|t| t.as_str()) != Some("instance")
        {
            continue;
        }
        let found = match elb
            .describe_target_health()
            .target_group_arn(arn)
            .send()
            .await
        {
            Ok(out) => Ok(out
                .target_health_descriptions()
                .iter()
                .filter_map(|d| d.target().and_then(|t| t.id()).map(String::from))
                .collect()),
            Err(e) => Err(failed(
                "elbv2",
                &region,
                "elasticloadbalancing:DescribeTargetHealth",
                &e,
            )),
        };
        group_instances.insert(arn.to_string(), found);
    }

    // Tags, twenty load balancers a call.
    let mut tags: HashMap<String, Vec<(String, String)>> = HashMap::new();
    let arns: Vec<String> = balancers
        .iter()
        .filter_map(|b| b.load_balancer_arn().map(String::from))
        .collect();
    for chunk in arns.chunks(20) {
        match elb
            .describe_tags()
            .set_resource_arns(Some(chunk.to_vec()))
            .send()
            .await
        {
            Ok(out) => {
                for d in out.tag_descriptions() {
                    if let Some(arn) = d.resource_arn() {
                        tags.insert(
                            arn.to_string(),
                            d.tags()
                                .iter()
                                .filter_map(|t| {
                                    Some((t.key()?.to_string(), t.value()?.to_string()))
                                })
                                .collect(),
                        );
                    }
                }
            }
            Err(e) => {
                part.errors.push(failed(
                    "elbv2",
                    &region,
                    "elasticloadbalancing:DescribeTags",
                    &e,
                ));
                break;
            }
        }
    }

    for b in &balancers {
        let Some(arn) = b.load_balancer_arn() else {
            continue;
        };
        let name = b.load_balancer_name().unwrap_or_default();
        let mut r = ctx.resource(
            &region,
            "ELB",
            "aws.elbv2.load_balancer",
            arn.to_string(),
            name.to_string(),
        );
        set(&mut r, "type", b.r#type().map(|t| t.as_str()));
        set(&mut r, "scheme", b.scheme().map(|s| s.as_str()));
        set(
            &mut r,
            "internet_facing",
            b.scheme().map(|s| s.as_str()) == Some("internet-facing"),
        );
        set(&mut r, "dns_name", b.dns_name());
        set(&mut r, "vpc_id", b.vpc_id());
        set(
            &mut r,
            "state",
            b.state().and_then(|s| s.code()).map(|c| c.as_str()),
        );
        set(
            &mut r,
            "ip_address_type",
            b.ip_address_type().map(|t| t.as_str()),
        );
        set(&mut r, "created", time(b.created_time()));
        set(
            &mut r,
            "availability_zones",
            b.availability_zones()
                .iter()
                .filter_map(|z| z.zone_name())
                .collect::<Vec<_>>(),
        );
        let subnets: Vec<&str> = b
            .availability_zones()
            .iter()
            .filter_map(|z| z.subnet_id())
            .collect();
        set(&mut r, "subnet_ids", subnets.clone());
        set(&mut r, "security_groups", b.security_groups().to_vec());

        let (listeners, listeners_err) = drain!(
            elb.describe_listeners()
                .load_balancer_arn(arn)
                .into_paginator()
                .items()
                .send(),
            "elbv2",
            &region,
            "elasticloadbalancing:DescribeListeners"
        );
        match listeners_err {
            Some(e) => missing(&mut r, "listeners", &e),
            None => set(
                &mut r,
                "listeners",
                listeners
                    .iter()
                    .map(|l| {
                        json!({
                            "arn": l.listener_arn(),
                            "protocol": l.protocol().map(|p| p.as_str()),
                            "port": l.port(),
                            "ssl_policy": l.ssl_policy(),
                            "certificates": l.certificates().iter().filter_map(|c| c.certificate_arn()).collect::<Vec<_>>(),
                            "default_actions": l.default_actions().iter().map(|a| json!({
                                "type": a.r#type().map(|t| t.as_str()),
                                "target_group_arn": a.target_group_arn(),
                                "redirect_protocol": a.redirect_config().and_then(|c| c.protocol()),
                            })).collect::<Vec<_>>(),
                        })
                    })
                    .collect::<Vec<_>>(),
            ),
        }

        match elb
            .describe_load_balancer_attributes()
            .load_balancer_arn(arn)
            .send()
            .await
        {
            Ok(out) => {
                let attrs: HashMap<&str, &str> = out
                    .attributes()
                    .iter()
                    .filter_map(|a| Some((a.key()?, a.value()?)))
                    .collect();
                let flag = |k: &str| attrs.get(k).map(|v| *v == "true");
                set(
                    &mut r,
                    "deletion_protection",
                    flag("deletion_protection.enabled").unwrap_or(false),
                );
                set(
                    &mut r,
                    "access_logs_enabled",
                    flag("access_logs.s3.enabled").unwrap_or(false),
                );
                set(
                    &mut r,
                    "access_logs_bucket",
                    attrs
                        .get("access_logs.s3.bucket")
                        .filter(|b| !b.is_empty())
                        .copied(),
                );
                // Application load balancers only; null for the other types.
                set(
                    &mut r,
                    "drop_invalid_header_fields",
                    flag("routing.http.drop_invalid_header_fields.enabled"),
                );
                set(
                    &mut r,
                    "desync_mitigation_mode",
                    attrs.get("routing.http.desync_mitigation_mode").copied(),
                );
                set(
                    &mut r,
                    "cross_zone_load_balancing",
                    flag("load_balancing.cross_zone.enabled"),
                );
            }
            Err(e) => {
                let err = failed(
                    "elbv2",
                    &region,
                    "elasticloadbalancing:DescribeLoadBalancerAttributes",
                    &e,
                );
                for k in [
                    "deletion_protection",
                    "access_logs_enabled",
                    "access_logs_bucket",
                    "drop_invalid_header_fields",
                    "desync_mitigation_mode",
                ] {
                    missing(&mut r, k, &err);
                }
            }
        }

        let mine: Vec<&str> = groups
            .iter()
            .filter(|g| g.load_balancer_arns().iter().any(|a| a == arn))
            .filter_map(|g| g.target_group_arn())
            .collect();
        match &groups_err {
            Some(e) => {
                missing(&mut r, "target_group_arns", e);
                missing(&mut r, "target_instance_ids", e);
            }
            None => {
                set(&mut r, "target_group_arns", mine.clone());
                let mut instances = BTreeSet::new();
                let mut failure = None;
                for g in &mine {
                    match group_instances.get(*g) {
                        Some(Ok(ids)) => instances.extend(ids.iter().cloned()),
                        Some(Err(e)) => failure = Some(e),
                        None => {}
                    }
                }
                match failure {
                    Some(e) => missing(&mut r, "target_instance_ids", e),
                    None => {
                        for i in &instances {
                            r.associations.push(link(
                                "routes_to",
                                "aws.ec2.instance",
                                ec2_arn(&region, account, "instance", i),
                            ));
                        }
                        set(
                            &mut r,
                            "target_instance_ids",
                            instances.into_iter().map(Value::from).collect::<Vec<_>>(),
                        );
                    }
                }
            }
        }

        for g in b.security_groups() {
            r.associations.push(link(
                "uses",
                "aws.ec2.security_group",
                ec2_arn(&region, account, "security-group", g),
            ));
        }
        for s in subnets {
            r.associations.push(link(
                "uses",
                "aws.ec2.subnet",
                ec2_arn(&region, account, "subnet", s),
            ));
        }
        if let Some(vpc) = b.vpc_id() {
            r.associations.push(link(
                "member_of",
                "aws.ec2.vpc",
                ec2_arn(&region, account, "vpc", vpc),
            ));
        }
        for (k, v) in tags.remove(arn).unwrap_or_default() {
            r.tags.insert(k, v);
        }
        part.resources.push(r);
    }
    // The target group listing is a listing: reported once. A failed
    // DescribeTargetHealth is per load balancer, in `uncollected`.
    part.errors.extend(groups_err);
    part
}
