//! EKS: clusters (API endpoint exposure, control plane logging, secrets
//! encryption), their managed node groups and their Fargate profiles.

use super::{drain, ec2_arn, link, missing, set, time, Ctx, Part};
use crate::config::in_region;
use crate::error::failed;
use serde_json::{json, Value};
use std::sync::Arc;

/// What a cluster's controls read; all uncollected when DescribeCluster fails.
const CLUSTER_ATTRIBUTES: [&str; 8] = [
    "version",
    "endpoint_public_access",
    "endpoint_private_access",
    "public_access_cidrs",
    "logging_enabled_types",
    "secrets_encryption",
    "vpc_id",
    "status",
];

pub async fn collect(ctx: Arc<Ctx>, region: String) -> Part {
    let mut part = Part::default();
    let eks = aws_sdk_eks::Client::new(&in_region(&ctx.sdk, &region));
    let account = ctx.account.as_str();

    let (names, err) = drain!(
        eks.list_clusters().into_paginator().items().send(),
        "eks",
        &region,
        "eks:ListClusters"
    );
    part.errors.extend(err);
    for name in names {
        let built = format!("arn:aws:eks:{region}:{account}:cluster/{name}");
        let cluster = match eks.describe_cluster().name(&name).send().await {
            Ok(out) => out.cluster,
            Err(e) => {
                let err = failed("eks", &region, "eks:DescribeCluster", &e);
                let mut r = ctx.resource(&region, "EKS", "aws.eks.cluster", built, name.clone());
                for k in CLUSTER_ATTRIBUTES {
                    missing(&mut r, k, &err);
                }
                part.resources.push(r);
                continue;
            }
        };
        let Some(c) = cluster else { continue };
        let arn = c.arn().map(String::from).unwrap_or(built);
        let mut r = ctx.resource(&region, "EKS", "aws.eks.cluster", arn.clone(), name.clone());
        set(&mut r, "version", c.version());
        set(&mut r, "platform_version", c.platform_version());
        set(&mut r, "status", c.status().map(|s| s.as_str()));
        set(&mut r, "created", time(c.created_at()));
        set(&mut r, "role_arn", c.role_arn());
        set(&mut r, "endpoint", c.endpoint());
        let net = c.resources_vpc_config();
        // Without a VPC configuration AWS's defaults apply: public endpoint
        // open to 0.0.0.0/0, no private endpoint.
        set(
            &mut r,
            "endpoint_public_access",
            net.map(|n| n.endpoint_public_access()).unwrap_or(true),
        );
        set(
            &mut r,
            "endpoint_private_access",
            net.map(|n| n.endpoint_private_access()).unwrap_or(false),
        );
        set(
            &mut r,
            "public_access_cidrs",
            net.map(|n| n.public_access_cidrs().to_vec())
                .unwrap_or_default(),
        );
        set(&mut r, "vpc_id", net.and_then(|n| n.vpc_id()));
        let subnets: Vec<String> = net.map(|n| n.subnet_ids().to_vec()).unwrap_or_default();
        let mut groups: Vec<String> = net
            .map(|n| n.security_group_ids().to_vec())
            .unwrap_or_default();
        set(&mut r, "subnet_ids", subnets.clone());
        set(&mut r, "security_group_ids", groups.clone());
        set(
            &mut r,
            "cluster_security_group_id",
            net.and_then(|n| n.cluster_security_group_id()),
        );
        if let Some(g) = net.and_then(|n| n.cluster_security_group_id()) {
            groups.push(g.to_string());
        }
        let mut logged: Vec<&str> = c
            .logging()
            .map(|l| {
                l.cluster_logging()
                    .iter()
                    .filter(|s| s.enabled() == Some(true))
                    .flat_map(|s| s.types().iter().map(|t| t.as_str()))
                    .collect()
            })
            .unwrap_or_default();
        logged.sort_unstable();
        logged.dedup();
        set(&mut r, "logging_enabled_types", logged);
        // Envelope encryption of Kubernetes secrets with a KMS key of the
        // customer's (the encryption config's `resources` was `["secrets"]`;
        // AWS has deprecated that field, so any configured key counts).
        let secrets_key = c
            .encryption_config()
            .iter()
            .find_map(|e| e.provider().and_then(|p| p.key_arn()));
        set(&mut r, "secrets_encryption", secrets_key.is_some());
        set(&mut r, "secrets_kms_key_arn", secrets_key);
        set(
            &mut r,
            "authentication_mode",
            c.access_config()
                .and_then(|a| a.authentication_mode())
                .map(|m| m.as_str()),
        );
        for (k, v) in c.tags().into_iter().flatten() {
            r.tags.insert(k.clone(), v.clone());
        }
        if let Some(vpc) = net.and_then(|n| n.vpc_id()) {
            r.associations.push(link(
                "member_of",
                "aws.ec2.vpc",
                ec2_arn(&region, account, "vpc", vpc),
            ));
        }
        groups.sort_unstable();
        groups.dedup();
        for g in &groups {
            r.associations.push(link(
                "uses",
                "aws.ec2.security_group",
                ec2_arn(&region, account, "security-group", g),
            ));
        }
        for s in &subnets {
            r.associations.push(link(
                "uses",
                "aws.ec2.subnet",
                ec2_arn(&region, account, "subnet", s),
            ));
        }
        if let Some(role) = c.role_arn() {
            r.associations.push(link("uses", "aws.iam.role", role));
        }
        if let Some(key) = secrets_key {
            r.associations.push(link("uses", "aws.kms.key", key));
        }
        part.resources.push(r);

        // --- managed node groups ------------------------------------------
        let (nodegroups, err) = drain!(
            eks.list_nodegroups()
                .cluster_name(&name)
                .into_paginator()
                .items()
                .send(),
            "eks",
            &region,
            "eks:ListNodegroups"
        );
        part.errors.extend(err);
        for ng in nodegroups {
            let out = match eks
                .describe_nodegroup()
                .cluster_name(&name)
                .nodegroup_name(&ng)
                .send()
                .await
            {
                Ok(out) => out,
                Err(e) => {
                    part.errors
                        .push(failed("eks", &region, "eks:DescribeNodegroup", &e));
                    continue;
                }
            };
            let Some(n) = out.nodegroup() else { continue };
            let ng_arn = n
                .nodegroup_arn()
                .map(String::from)
                .unwrap_or_else(|| format!("arn:aws:eks:{region}:{account}:nodegroup/{name}/{ng}"));
            let mut r = ctx.resource(&region, "EKS", "aws.eks.nodegroup", ng_arn, ng.clone());
            set(&mut r, "cluster_name", name.as_str());
            set(&mut r, "status", n.status().map(|s| s.as_str()));
            set(&mut r, "version", n.version());
            set(&mut r, "release_version", n.release_version());
            set(&mut r, "ami_type", n.ami_type().map(|a| a.as_str()));
            set(
                &mut r,
                "capacity_type",
                n.capacity_type().map(|a| a.as_str()),
            );
            set(&mut r, "instance_types", n.instance_types().to_vec());
            set(&mut r, "disk_size", n.disk_size());
            set(&mut r, "created", time(n.created_at()));
            let scaling = n.scaling_config();
            set(
                &mut r,
                "scaling_config",
                json!({
                    "min_size": scaling.and_then(|s| s.min_size()),
                    "max_size": scaling.and_then(|s| s.max_size()),
                    "desired_size": scaling.and_then(|s| s.desired_size()),
                }),
            );
            set(&mut r, "subnet_ids", n.subnets().to_vec());
            set(&mut r, "node_role", n.node_role());
            // SSH to the nodes: with a key and no source security groups, port
            // 22 is open to the internet.
            let remote = n.remote_access();
            set(
                &mut r,
                "remote_access",
                match remote {
                    Some(ra) => json!({
                        "ec2_ssh_key": ra.ec2_ssh_key(),
                        "source_security_groups": ra.source_security_groups(),
                    }),
                    None => Value::Null,
                },
            );
            set(
                &mut r,
                "remote_access_enabled",
                remote.and_then(|ra| ra.ec2_ssh_key()).is_some(),
            );
            set(
                &mut r,
                "launch_template",
                match n.launch_template() {
                    Some(t) => json!({"id": t.id(), "name": t.name(), "version": t.version()}),
                    None => Value::Null,
                },
            );
            set(
                &mut r,
                "auto_scaling_groups",
                n.resources()
                    .map(|x| {
                        x.auto_scaling_groups()
                            .iter()
                            .filter_map(|g| g.name())
                            .collect::<Vec<_>>()
                    })
                    .unwrap_or_default(),
            );
            for (k, v) in n.tags().into_iter().flatten() {
                r.tags.insert(k.clone(), v.clone());
            }
            r.associations
                .push(link("member_of", "aws.eks.cluster", arn.as_str()));
            for s in n.subnets() {
                r.associations.push(link(
                    "uses",
                    "aws.ec2.subnet",
                    ec2_arn(&region, account, "subnet", s),
                ));
            }
            if let Some(role) = n.node_role() {
                r.associations.push(link("uses", "aws.iam.role", role));
            }
            part.resources.push(r);
        }

        // --- Fargate profiles -----------------------------------------------
        let (profiles, err) = drain!(
            eks.list_fargate_profiles()
                .cluster_name(&name)
                .into_paginator()
                .items()
                .send(),
            "eks",
            &region,
            "eks:ListFargateProfiles"
        );
        part.errors.extend(err);
        for fp in profiles {
            let out = match eks
                .describe_fargate_profile()
                .cluster_name(&name)
                .fargate_profile_name(&fp)
                .send()
                .await
            {
                Ok(out) => out,
                Err(e) => {
                    part.errors
                        .push(failed("eks", &region, "eks:DescribeFargateProfile", &e));
                    continue;
                }
            };
            let Some(p) = out.fargate_profile() else {
                continue;
            };
            let fp_arn = p
                .fargate_profile_arn()
                .map(String::from)
                .unwrap_or_else(|| {
                    format!("arn:aws:eks:{region}:{account}:fargateprofile/{name}/{fp}")
                });
            let mut r = ctx.resource(
                &region,
                "EKS",
                "aws.eks.fargate_profile",
                fp_arn,
                fp.clone(),
            );
            set(&mut r, "cluster_name", name.as_str());
            set(&mut r, "status", p.status().map(|s| s.as_str()));
            set(&mut r, "created", time(p.created_at()));
            set(&mut r, "pod_execution_role_arn", p.pod_execution_role_arn());
            set(&mut r, "subnet_ids", p.subnets().to_vec());
            set(
                &mut r,
                "selectors",
                p.selectors()
                    .iter()
                    .map(|s| json!({"namespace": s.namespace(), "labels": s.labels()}))
                    .collect::<Vec<_>>(),
            );
            for (k, v) in p.tags().into_iter().flatten() {
                r.tags.insert(k.clone(), v.clone());
            }
            r.associations
                .push(link("member_of", "aws.eks.cluster", arn.as_str()));
            for s in p.subnets() {
                r.associations.push(link(
                    "uses",
                    "aws.ec2.subnet",
                    ec2_arn(&region, account, "subnet", s),
                ));
            }
            if let Some(role) = p.pod_execution_role_arn() {
                r.associations.push(link("uses", "aws.iam.role", role));
            }
            part.resources.push(r);
        }
    }
    part
}
