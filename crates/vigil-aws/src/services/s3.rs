//! S3 buckets: ACL grants, versioning, Block Public Access, tags.

use super::{missing, set, time, Ctx, Part};
use crate::config::{in_region, HOME_REGION};
use crate::error::{code_of, failed};
use crate::moto::FixVersioningRoot;
use serde_json::{json, Value};
use std::sync::Arc;

fn client(ctx: &Ctx, region: &str) -> aws_sdk_s3::Client {
    let conf = aws_sdk_s3::config::Builder::from(&in_region(&ctx.sdk, region))
        // An emulator serves buckets by path, not by virtual host name.
        .force_path_style(ctx.emulator)
        .build();
    aws_sdk_s3::Client::from_conf(conf)
}

/// The region of a bucket as GetBucketLocation reports it (empty means
/// us-east-1, `EU` is the old name of eu-west-1).
fn location(constraint: Option<&str>) -> String {
    match constraint {
        None | Some("") => HOME_REGION.to_string(),
        Some("EU") => "eu-west-1".to_string(),
        Some(r) => r.to_string(),
    }
}

pub async fn collect(ctx: Arc<Ctx>) -> Part {
    let mut part = Part::default();
    let home = client(&ctx, HOME_REGION);
    let buckets = match home.list_buckets().send().await {
        Ok(out) => out.buckets.unwrap_or_default(),
        Err(e) => {
            part.errors
                .push(failed("s3", HOME_REGION, "s3:ListAllMyBuckets", &e));
            return part;
        }
    };
    for b in buckets {
        let Some(name) = b.name.clone() else { continue };
        let region = match home.get_bucket_location().bucket(&name).send().await {
            Ok(out) => location(out.location_constraint.as_ref().map(|c| c.as_str())),
            Err(e) => {
                part.errors
                    .push(failed("s3", HOME_REGION, "s3:GetBucketLocation", &e));
                HOME_REGION.to_string()
            }
        };
        let s3 = client(&ctx, &region);
        let mut r = ctx.resource(
            &region,
            "S3",
            "aws.s3.bucket",
            format!("arn:aws:s3:::{name}"),
            name.clone(),
        );
        set(&mut r, "creation_date", time(b.creation_date.as_ref()));

        match s3.get_bucket_acl().bucket(&name).send().await {
            Ok(acl) => {
                let grants: Vec<Value> = acl
                    .grants()
                    .iter()
                    .map(|g| {
                        let grantee = g.grantee();
                        json!({
                            "grantee_type": grantee.map(|x| x.r#type().as_str()).unwrap_or_default(),
                            "grantee_uri": grantee.and_then(|x| x.uri()).unwrap_or_default(),
                            "grantee_id": grantee.and_then(|x| x.id()).unwrap_or_default(),
                            "permission": g.permission().map(|p| p.as_str()).unwrap_or_default(),
                        })
                    })
                    .collect();
                set(&mut r, "acl_grants", grants);
            }
            Err(e) => missing(
                &mut r,
                "acl_grants",
                &failed("s3", &region, "s3:GetBucketAcl", &e),
            ),
        }

        match s3
            .get_bucket_versioning()
            .bucket(&name)
            .customize()
            .interceptor(FixVersioningRoot)
            .send()
            .await
        {
            Ok(v) => set(
                &mut r,
                "versioning",
                json!({
                    "status": v.status().map(|s| s.as_str()).unwrap_or_default(),
                    "mfa_delete": v.mfa_delete().map(|s| s.as_str()).unwrap_or_default(),
                }),
            ),
            Err(e) => missing(
                &mut r,
                "versioning",
                &failed("s3", &region, "s3:GetBucketVersioning", &e),
            ),
        }

        match s3.get_public_access_block().bucket(&name).send().await {
            Ok(out) => {
                let c = out.public_access_block_configuration();
                let flag = |f: Option<bool>| f.unwrap_or(false);
                set(
                    &mut r,
                    "public_access_block",
                    json!({
                        "block_public_acls": flag(c.and_then(|c| c.block_public_acls())),
                        "ignore_public_acls": flag(c.and_then(|c| c.ignore_public_acls())),
                        "block_public_policy": flag(c.and_then(|c| c.block_public_policy())),
                        "restrict_public_buckets": flag(c.and_then(|c| c.restrict_public_buckets())),
                    }),
                );
            }
            // No configuration means nothing is blocked at the bucket level.
            Err(e) if code_of(&e) == Some("NoSuchPublicAccessBlockConfiguration") => set(
                &mut r,
                "public_access_block",
                json!({"block_public_acls": false, "ignore_public_acls": false,
                       "block_public_policy": false, "restrict_public_buckets": false}),
            ),
            Err(e) => missing(
                &mut r,
                "public_access_block",
                &failed("s3", &region, "s3:GetBucketPublicAccessBlock", &e),
            ),
        }

        match s3.get_bucket_tagging().bucket(&name).send().await {
            Ok(out) => {
                for t in out.tag_set() {
                    r.tags.insert(t.key().to_string(), t.value().to_string());
                }
            }
            Err(e) if code_of(&e) == Some("NoSuchTagSet") => {}
            Err(e) => part
                .errors
                .push(failed("s3", &region, "s3:GetBucketTagging", &e)),
        }
        part.resources.push(r);
    }
    part
}

#[cfg(test)]
mod tests {
    use super::location;

    #[test]
    fn bucket_locations_map_to_regions() {
        assert_eq!(location(None), "us-east-1");
        assert_eq!(location(Some("")), "us-east-1");
        assert_eq!(location(Some("EU")), "eu-west-1");
        assert_eq!(location(Some("eu-central-1")), "eu-central-1");
    }
}
