//! S3 account-level Block Public Access (S3 Control), which overrides every
//! bucket's own setting.

use super::{missing, set, Ctx, Part};
use crate::config::{in_region, HOME_REGION};
use crate::error::{code_of, failed};
use std::sync::Arc;

const FLAGS: [&str; 4] = [
    "block_public_acls",
    "ignore_public_acls",
    "block_public_policy",
    "restrict_public_buckets",
];

pub async fn collect(ctx: Arc<Ctx>) -> Part {
    let mut part = Part::default();
    let conf = aws_sdk_s3control::config::Builder::from(&in_region(&ctx.sdk, HOME_REGION));
    let s3control = aws_sdk_s3control::Client::from_conf(conf.build());
    let mut r = ctx.resource(
        "global",
        "S3",
        "aws.s3.account_public_access_block",
        format!("arn:aws:s3::{}:account-public-access-block", ctx.account),
        "account public access block".into(),
    );
    let request = s3control.get_public_access_block().account_id(&ctx.account);
    let reply = if ctx.emulator {
        // S3 Control puts the account id in the host name, which an emulator
        // on an IP address or `localhost` cannot serve.
        request
            .customize()
            .interceptor(crate::moto::DropAccountHostPrefix)
            .send()
            .await
    } else {
        request.send().await
    };
    match reply {
        Ok(out) => {
            let c = out.public_access_block_configuration();
            set(&mut r, "configured", true);
            set(
                &mut r,
                "block_public_acls",
                c.and_then(|c| c.block_public_acls()).unwrap_or(false),
            );
            set(
                &mut r,
                "ignore_public_acls",
                c.and_then(|c| c.ignore_public_acls()).unwrap_or(false),
            );
            set(
                &mut r,
                "block_public_policy",
                c.and_then(|c| c.block_public_policy()).unwrap_or(false),
            );
            set(
                &mut r,
                "restrict_public_buckets",
                c.and_then(|c| c.restrict_public_buckets()).unwrap_or(false),
            );
        }
        // No configuration: nothing is blocked at the account level.
        Err(e) if code_of(&e) == Some("NoSuchPublicAccessBlockConfiguration") => {
            set(&mut r, "configured", false);
            for k in FLAGS {
                set(&mut r, k, false);
            }
        }
        Err(e) => {
            let err = failed("s3", HOME_REGION, "s3:GetAccountPublicAccessBlock", &e);
            missing(&mut r, "configured", &err);
            for k in FLAGS {
                missing(&mut r, k, &err);
            }
            part.errors.push(err);
        }
    }
    part.resources.push(r);
    part
}
