//! RDS: database instances and their snapshots.

use super::{missing, set, Ctx, Part};
use crate::config::in_region;
use crate::error::failed;
use std::sync::Arc;
use vigil_model::Association;

pub async fn collect(ctx: Arc<Ctx>, region: String) -> Part {
    let mut part = Part::default();
    let rds = aws_sdk_rds::Client::new(&in_region(&ctx.sdk, &region));

    let mut pages = rds.describe_db_instances().into_paginator().send();
    while let Some(page) = pages.next().await {
        let list = match page {
            Ok(p) => p.db_instances.unwrap_or_default(),
            Err(e) => {
                part.errors
                    .push(failed("rds", &region, "rds:DescribeDBInstances", &e));
                break;
            }
        };
        for db in list {
            let id = db.db_instance_identifier().unwrap_or_default().to_string();
            let arn = db
                .db_instance_arn()
                .map(String::from)
                .unwrap_or_else(|| format!("arn:aws:rds:{region}:{}:db:{id}", ctx.account));
            let mut r = ctx.resource(&region, "RDS", "aws.rds.db_instance", arn, id.clone());
            set(&mut r, "engine", db.engine().unwrap_or_default());
            set(
                &mut r,
                "engine_version",
                db.engine_version().unwrap_or_default(),
            );
            set(
                &mut r,
                "instance_class",
                db.db_instance_class().unwrap_or_default(),
            );
            set(
                &mut r,
                "port",
                db.endpoint()
                    .and_then(|e| e.port())
                    .or(db.db_instance_port()),
            );
            set(&mut r, "publicly_accessible", db.publicly_accessible());
            set(&mut r, "storage_encrypted", db.storage_encrypted());
            set(
                &mut r,
                "auto_minor_version_upgrade",
                db.auto_minor_version_upgrade(),
            );
            set(&mut r, "multi_az", db.multi_az());
            set(
                &mut r,
                "backup_retention_period",
                db.backup_retention_period(),
            );
            for sg in db.vpc_security_groups() {
                if let Some(g) = sg.vpc_security_group_id() {
                    r.associations.push(Association {
                        relation: "uses".into(),
                        resource_type: "aws.ec2.security_group".into(),
                        id: format!("arn:aws:ec2:{region}:{}:security-group/{g}", ctx.account),
                    });
                }
            }
            for t in db.tag_list() {
                if let (Some(k), Some(v)) = (t.key(), t.value()) {
                    r.tags.insert(k.to_string(), v.to_string());
                }
            }
            part.resources.push(r);
        }
    }

    let mut pages = rds.describe_db_snapshots().into_paginator().send();
    while let Some(page) = pages.next().await {
        let list = match page {
            Ok(p) => p.db_snapshots.unwrap_or_default(),
            Err(e) => {
                part.errors
                    .push(failed("rds", &region, "rds:DescribeDBSnapshots", &e));
                break;
            }
        };
        for s in list {
            let id = s.db_snapshot_identifier().unwrap_or_default().to_string();
            let arn = s
                .db_snapshot_arn()
                .map(String::from)
                .unwrap_or_else(|| format!("arn:aws:rds:{region}:{}:snapshot:{id}", ctx.account));
            let mut r = ctx.resource(&region, "RDS", "aws.rds.db_snapshot", arn, id.clone());
            set(&mut r, "encrypted", s.encrypted());
            set(
                &mut r,
                "db_instance_id",
                s.db_instance_identifier().unwrap_or_default(),
            );
            set(
                &mut r,
                "snapshot_type",
                s.snapshot_type().unwrap_or_default(),
            );
            match rds
                .describe_db_snapshot_attributes()
                .db_snapshot_identifier(&id)
                .send()
                .await
            {
                Ok(out) => {
                    // A snapshot restorable by the value "all" is public.
                    let public = out
                        .db_snapshot_attributes_result()
                        .map(|a| {
                            a.db_snapshot_attributes().iter().any(|attr| {
                                attr.attribute_name() == Some("restore")
                                    && attr.attribute_values().iter().any(|v| v == "all")
                            })
                        })
                        .unwrap_or(false);
                    set(&mut r, "public", public);
                }
                Err(e) => missing(
                    &mut r,
                    "public",
                    &failed("rds", &region, "rds:DescribeDBSnapshotAttributes", &e),
                ),
            }
            part.resources.push(r);
        }
    }
    part
}
