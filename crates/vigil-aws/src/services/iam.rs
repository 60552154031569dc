//! IAM: users (console access, MFA, access keys, directly attached policies)
//! and the account password policy.

use super::{missing, set, time, Ctx, Part};
use crate::config::HOME_REGION;
use crate::error::{code_of, failed};
use serde_json::{json, Value};
use std::sync::Arc;

pub async fn collect(ctx: Arc<Ctx>) -> Part {
    let mut part = Part::default();
    let iam = aws_sdk_iam::Client::new(&ctx.sdk);
    let region = "global";

    let mut users = Vec::new();
    let mut pages = iam.list_users().into_paginator().send();
    while let Some(page) = pages.next().await {
        match page {
            Ok(p) => users.extend(p.users),
            Err(e) => {
                part.errors
                    .push(failed("iam", HOME_REGION, "iam:ListUsers", &e));
                break;
            }
        }
    }
    for u in users {
        let name = u.user_name().to_string();
        let mut r = ctx.resource(
            region,
            "IAM",
            "aws.iam.user",
            u.arn().to_string(),
            name.clone(),
        );
        set(&mut r, "user_id", u.user_id());
        set(&mut r, "created", time(Some(u.create_date())));
        set(&mut r, "password_last_used", time(u.password_last_used()));
        for t in u.tags() {
            r.tags.insert(t.key().to_string(), t.value().to_string());
        }

        match iam.get_login_profile().user_name(&name).send().await {
            Ok(_) => set(&mut r, "password_enabled", true),
            Err(e) if code_of(&e) == Some("NoSuchEntity") => set(&mut r, "password_enabled", false),
            Err(e) => missing(
                &mut r,
                "password_enabled",
                &failed("iam", HOME_REGION, "iam:GetLoginProfile", &e),
            ),
        }
        match iam.list_mfa_devices().user_name(&name).send().await {
            Ok(out) => set(&mut r, "mfa_active", !out.mfa_devices().is_empty()),
            Err(e) => missing(
                &mut r,
                "mfa_active",
                &failed("iam", HOME_REGION, "iam:ListMFADevices", &e),
            ),
        }
        match iam.list_access_keys().user_name(&name).send().await {
            Ok(out) => {
                let mut keys: Vec<Value> = Vec::new();
                let mut metadata: Vec<_> = out.access_key_metadata().to_vec();
                // AWS lists keys in creation order; key 1 is the oldest.
                metadata.sort_by_key(|k| k.create_date().map(|d| d.secs()));
                for k in metadata {
                    let id = k.access_key_id().unwrap_or_default().to_string();
                    let last_used = match iam
                        .get_access_key_last_used()
                        .access_key_id(&id)
                        .send()
                        .await
                    {
                        Ok(l) => time(l.access_key_last_used().and_then(|l| l.last_used_date())),
                        Err(e) => {
                            part.errors.push(failed(
                                "iam",
                                HOME_REGION,
                                "iam:GetAccessKeyLastUsed",
                                &e,
                            ));
                            Value::Null
                        }
                    };
                    keys.push(json!({
                        "id": id,
                        "status": k.status().map(|s| s.as_str()).unwrap_or_default(),
                        "created": time(k.create_date()),
                        "last_used": last_used,
                    }));
                }
                set(&mut r, "access_keys", keys);
            }
            Err(e) => missing(
                &mut r,
                "access_keys",
                &failed("iam", HOME_REGION, "iam:ListAccessKeys", &e),
            ),
        }
        match iam
            .list_attached_user_policies()
            .user_name(&name)
            .send()
            .await
        {
            Ok(out) => set(
                &mut r,
                "attached_policies",
                out.attached_policies()
                    .iter()
                    .filter_map(|p| p.policy_arn().map(String::from))
                    .collect::<Vec<_>>(),
            ),
            Err(e) => missing(
                &mut r,
                "attached_policies",
                &failed("iam", HOME_REGION, "iam:ListAttachedUserPolicies", &e),
            ),
        }
        match iam.list_user_policies().user_name(&name).send().await {
            Ok(out) => set(&mut r, "inline_policies", out.policy_names().to_vec()),
            Err(e) => missing(
                &mut r,
                "inline_policies",
                &failed("iam", HOME_REGION, "iam:ListUserPolicies", &e),
            ),
        }
        part.resources.push(r);
    }

    let mut policy = ctx.resource(
        region,
        "IAM",
        "aws.iam.password_policy",
        format!("arn:aws:iam::{}:account-password-policy", ctx.account),
        "account-password-policy".into(),
    );
    match iam.get_account_password_policy().send().await {
        Ok(out) => {
            if let Some(p) = out.password_policy() {
                set(&mut policy, "exists", true);
                set(
                    &mut policy,
                    "minimum_password_length",
                    p.minimum_password_length().unwrap_or(6),
                );
                set(
                    &mut policy,
                    "password_reuse_prevention",
                    unset_if_zero(p.password_reuse_prevention()),
                );
                set(
                    &mut policy,
                    "require_uppercase_characters",
                    p.require_uppercase_characters(),
                );
                set(
                    &mut policy,
                    "require_lowercase_characters",
                    p.require_lowercase_characters(),
                );
                set(&mut policy, "require_symbols", p.require_symbols());
                set(&mut policy, "require_numbers", p.require_numbers());
                set(
                    &mut policy,
                    "max_password_age",
                    unset_if_zero(p.max_password_age()),
                );
            }
        }
        // Without a policy AWS applies its defaults: 8 characters, no reuse
        // prevention, no complexity, no expiry.
        Err(e) if code_of(&e) == Some("NoSuchEntity") => {
            set(&mut policy, "exists", false);
            set(&mut policy, "minimum_password_length", 8);
            set(&mut policy, "password_reuse_prevention", Value::Null);
            for k in [
                "require_uppercase_characters",
                "require_lowercase_characters",
                "require_symbols",
                "require_numbers",
            ] {
                set(&mut policy, k, false);
            }
            set(&mut policy, "max_password_age", Value::Null);
        }
        Err(e) => {
            let err = failed("iam", HOME_REGION, "iam:GetAccountPasswordPolicy", &e);
            for k in ["minimum_password_length", "password_reuse_prevention"] {
                missing(&mut policy, k, &err);
            }
            part.errors.push(err);
        }
    }
    part.resources.push(policy);
    part
}

/// A password policy's reuse prevention or maximum age, `None` when 0: IAM
/// documents 0 as "not set" for both (reuse allowed, passwords never
/// expire), so a reported 0 must not read as a 0-day limit.
fn unset_if_zero(v: Option<i32>) -> Option<i32> {
    v.filter(|&n| n != 0)
}

#[cfg(test)]
mod tests {
    use super::unset_if_zero;

    #[test]
    fn a_zero_reuse_prevention_or_age_is_unset() {
        assert_eq!(unset_if_zero(Some(0)), None);
        assert_eq!(unset_if_zero(None), None);
        assert_eq!(unset_if_zero(Some(90)), Some(90));
    }
}
