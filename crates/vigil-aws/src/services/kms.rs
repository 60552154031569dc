//! KMS: customer managed keys (AWS managed keys are left out) with their state,
//! automatic rotation and whether their key policy lets anyone use them.

use super::{drain, missing, policy_is_public, set, time, Ctx, Part};
use crate::config::in_region;
use crate::error::failed;
use aws_sdk_kms::types::{KeyManagerType, KeyState};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;

pub async fn collect(ctx: Arc<Ctx>, region: String) -> Part {
    let mut part = Part::default();
    let kms = aws_sdk_kms::Client::new(&in_region(&ctx.sdk, &region));
    let account = ctx.account.as_str();

    let (keys, err) = drain!(
        kms.list_keys().into_paginator().items().send(),
        "kms",
        &region,
        "kms:ListKeys"
    );
    part.errors.extend(err);
    if keys.is_empty() {
        return part;
    }
    let (aliases, aliases_err) = drain!(
        kms.list_aliases().into_paginator().items().send(),
        "kms",
        &region,
        "kms:ListAliases"
    );
    part.errors.extend(aliases_err);
    let mut names: HashMap<&str, Vec<&str>> = HashMap::new();
    for a in &aliases {
        if let (Some(key), Some(name)) = (a.target_key_id(), a.alias_name()) {
            names.entry(key).or_default().push(name);
        }
    }

    for k in &keys {
        let Some(key_id) = k.key_id() else { continue };
        let meta = match kms.describe_key().key_id(key_id).send().await {
            Ok(out) => out.key_metadata,
            Err(e) => {
                // Without DescribeKey it is unknown whether the key is customer
                // managed: report the call rather than guess.
                part.errors
                    .push(failed("kms", &region, "kms:DescribeKey", &e));
                continue;
            }
        };
        let Some(m) = meta else { continue };
        if m.key_manager() != Some(&KeyManagerType::Customer) {
            continue;
        }
        let arn = m
            .arn()
            .or(k.key_arn())
            .map(String::from)
            .unwrap_or_else(|| format!("arn:aws:kms:{region}:{account}:key/{key_id}"));
        let mut key_aliases = names.get(key_id).cloned().unwrap_or_default();
        key_aliases.sort_unstable();
        let name = key_aliases.first().copied().unwrap_or(key_id).to_string();
        let mut r = ctx.resource(&region, "KMS", "aws.kms.key", arn, name);
        set(&mut r, "key_id", key_id);
        set(&mut r, "key_manager", "CUSTOMER");
        set(&mut r, "aliases", key_aliases);
        set(&mut r, "description", m.description());
        set(&mut r, "enabled", m.enabled());
        let state = m.key_state();
        set(&mut r, "key_state", state.map(|s| s.as_str()));
        let spec = m.key_spec().map(|s| s.as_str());
        set(&mut r, "key_spec", spec);
        set(&mut r, "key_usage", m.key_usage().map(|u| u.as_str()));
        set(&mut r, "origin", m.origin().map(|o| o.as_str()));
        set(&mut r, "multi_region", m.multi_region().unwrap_or(false));
        set(&mut r, "creation_date", time(m.creation_date()));
        set(&mut r, "deletion_date", time(m.deletion_date()));

        // Automatic rotation exists for symmetric encryption keys with key
        // material from KMS; for the other keys it is null (not applicable).
        let rotatable = spec == Some("SYMMETRIC_DEFAULT")
            && m.origin().map(|o| o.as_str()) == Some("AWS_KMS")
            && matches!(state, Some(KeyState::Enabled | KeyState::Disabled));
        if rotatable {
            match kms.get_key_rotation_status().key_id(key_id).send().await {
                Ok(out) => {
                    set(&mut r, "rotation_enabled", out.key_rotation_enabled());
                    set(
                        &mut r,
                        "rotation_period_in_days",
                        out.rotation_period_in_days(),
                    );
                }
                Err(e) => missing(
                    &mut r,
                    "rotation_enabled",
                    &failed("kms", &region, "kms:GetKeyRotationStatus", &e),
                ),
            }
        } else {
            set(&mut r, "rotation_enabled", Value::Null);
        }

        match kms
            .get_key_policy()
            .key_id(key_id)
            .policy_name("default")
            .send()
            .await
        {
            Ok(out) => set(
                &mut r,
                "public_policy",
                policy_is_public(out.policy().unwrap_or("{}")).unwrap_or(false),
            ),
            Err(e) => missing(
                &mut r,
                "public_policy",
                &failed("kms", &region, "kms:GetKeyPolicy", &e),
            ),
        }

        let (tags, err) = drain!(
            kms.list_resource_tags()
                .key_id(key_id)
                .into_paginator()
                .items()
                .send(),
            "kms",
            &region,
            "kms:ListResourceTags"
        );
        part.errors.extend(err);
        for t in tags {
            r.tags
                .insert(t.tag_key().to_string(), t.tag_value().to_string());
        }
        part.resources.push(r);
    }
    part
}
