//! EBS: volumes, and the region's "encrypt new volumes by default" setting.

use super::{drain, ec2_arn, ec2_tags, link, missing, set, time, Ctx, Part};
use crate::config::in_region;
use crate::error::failed;
use serde_json::json;
use std::sync::Arc;

pub async fn collect(ctx: Arc<Ctx>, region: String) -> Part {
    let mut part = Part::default();
    let ec2 = aws_sdk_ec2::Client::new(&in_region(&ctx.sdk, &region));
    let account = ctx.account.as_str();

    let (volumes, err) = drain!(
        ec2.describe_volumes().into_paginator().items().send(),
        "ec2",
        &region,
        "ec2:DescribeVolumes"
    );
    part.errors.extend(err);
    for v in volumes {
        let id = v.volume_id().unwrap_or_default();
        let owner = v.owner_id().unwrap_or(account);
        let arn = v
            .volume_arn()
            .map(String::from)
            .unwrap_or_else(|| ec2_arn(&region, owner, "volume", id));
        let mut r = ctx.resource(&region, "EC2", "aws.ec2.volume", arn, id.to_string());
        set(&mut r, "volume_id", id);
        set(&mut r, "encrypted", v.encrypted().unwrap_or(false));
        set(&mut r, "kms_key_id", v.kms_key_id());
        set(&mut r, "size", v.size());
        set(&mut r, "volume_type", v.volume_type().map(|t| t.as_str()));
        set(&mut r, "iops", v.iops());
        set(&mut r, "state", v.state().map(|s| s.as_str()));
        set(&mut r, "availability_zone", v.availability_zone());
        set(
            &mut r,
            "snapshot_id",
            v.snapshot_id().filter(|s| !s.is_empty()),
        );
        set(&mut r, "create_time", time(v.create_time()));
        set(
            &mut r,
            "multi_attach_enabled",
            v.multi_attach_enabled().unwrap_or(false),
        );
        set(
            &mut r,
            "attachments",
            v.attachments()
                .iter()
                .map(|a| {
                    json!({
                        "instance_id": a.instance_id(),
                        "device": a.device(),
                        "state": a.state().map(|s| s.as_str()),
                        "delete_on_termination": a.delete_on_termination(),
                        "attach_time": time(a.attach_time()),
                    })
                })
                .collect::<Vec<_>>(),
        );
        set(&mut r, "attached", !v.attachments().is_empty());
        for a in v.attachments() {
            if let Some(i) = a.instance_id() {
                r.associations.push(link(
                    "attached_to",
                    "aws.ec2.instance",
                    ec2_arn(&region, owner, "instance", i),
                ));
            }
        }
        if let Some(key) = v.kms_key_id().filter(|k| k.starts_with("arn:")) {
            r.associations.push(link("uses", "aws.kms.key", key));
        }
        ec2_tags(&mut r, v.tags());
        part.resources.push(r);
    }

    // One per region: the setting has no id of its own, so it gets an ARN
    // built from the region and the account.
    let mut d = ctx.resource(
        &region,
        "EC2",
        "aws.ec2.ebs_encryption_default",
        format!("arn:aws:ec2:{region}:{account}:ebs-encryption-by-default"),
        format!("EBS encryption by default ({region})"),
    );
    match ec2.get_ebs_encryption_by_default().send().await {
        Ok(out) => set(
            &mut d,
            "enabled",
            out.ebs_encryption_by_default().unwrap_or(false),
        ),
        Err(e) => {
            let err = failed("ec2", &region, "ec2:GetEbsEncryptionByDefault", &e);
            missing(&mut d, "enabled", &err);
            part.errors.push(err);
        }
    }
    match ec2.get_ebs_default_kms_key_id().send().await {
        Ok(out) => set(&mut d, "kms_key_id", out.kms_key_id()),
        Err(e) => missing(
            &mut d,
            "kms_key_id",
            &failed("ec2", &region, "ec2:GetEbsDefaultKmsKeyId", &e),
        ),
    }
    part.resources.push(d);
    part
}
