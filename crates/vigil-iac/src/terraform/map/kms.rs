//! Terraform → normalized resources: kms.
//!
//! `aws_kms_key` → `aws.kms.key` (a customer managed key), with the
//! `aws_kms_alias` resources that target it folded into `aliases` and an
//! `aws_kms_key_policy` that names it replacing its `policy`.

use super::{new_resource, set, Index};
use crate::semantics::{set_folded_list, set_key_policy, set_kms_rotation};
use crate::terraform::TfResource;
use crate::value::Val;
use serde_json::Value;
use vigil_model::Resource;

/// The attributes of `aws_kms_key` another resource names it by.
const KEY_ATTRS: &[&str] = &["id", "key_id", "arn"];

/// Maps the kms resource types this module handles; `None` for others.
pub(super) fn map(d: &TfResource, ix: &Index<'_>) -> Option<Resource> {
    (d.kind == "aws_kms_key").then(|| key(d, ix))
}

fn key(d: &TfResource, ix: &Index<'_>) -> Resource {
    let a = &d.attrs;
    let mut r = new_resource(d, "KMS", "aws.kms.key", None);
    r.attributes.insert("key_manager".into(), "CUSTOMER".into());
    set(&mut r, "description", a.get("description"), None);
    // Provider defaults: enabled, a symmetric encryption key, not
    // multi-Region, no automatic rotation.
    set(&mut r, "enabled", a.get("is_enabled"), Some(true.into()));
    set(
        &mut r,
        "key_spec",
        a.get("customer_master_key_spec"),
        Some("SYMMETRIC_DEFAULT".into()),
    );
    set(
        &mut r,
        "key_usage",
        a.get("key_usage"),
        Some("ENCRYPT_DECRYPT".into()),
    );
    set_origin(&mut r, a);
    set(
        &mut r,
        "multi_region",
        a.get("multi_region"),
        Some(false.into()),
    );
    set_kms_rotation(
        &mut r,
        a.get("enable_key_rotation"),
        a.get("rotation_period_in_days"),
    );

    let aliases = ix.satellites("aws_kms_alias", "target_key_id", d, KEY_ATTRS);
    let mut names: Vec<Val> = aliases
        .matched
        .iter()
        .map(|s| match s.attrs.get("name").filter(|n| !n.is_null()) {
            Some(n) => n.clone(),
            // `name_prefix`: the name is chosen at apply time.
            None => Val::unknown(format!("{}.name (generated at apply)", s.address)),
        })
        .collect();
    names.sort_by(|x, y| x.as_str().cmp(&y.as_str()));
    set_folded_list(&mut r, "aliases", names, aliases.unresolved);

    // A separate `aws_kms_key_policy` replaces the key's policy.
    let policies = ix.satellites("aws_kms_key_policy", "key_id", d, KEY_ATTRS);
    match (policies.matched.last(), policies.unresolved) {
        (Some(p), _) => set_key_policy(&mut r, p.attrs.get("policy")),
        (None, Some(why)) => {
            r.uncollected.insert("public_policy".into(), why);
        }
        (None, None) => set_key_policy(&mut r, a.get("policy")),
    }
    r
}

/// `origin`: `AWS_KMS` unless the key lives in a custom key store
/// (`custom_key_store_id`): `EXTERNAL_KEY_STORE` with an `xks_key_id`,
/// else `AWS_CLOUDHSM`.
fn set_origin(r: &mut Resource, a: &Val) {
    let store = a.get("custom_key_store_id").filter(|v| !v.is_null());
    let origin = match store {
        None => "AWS_KMS",
        Some(Val::Unknown(u)) => {
            r.uncollected.insert("origin".into(), u.reason());
            return;
        }
        Some(_) if a.get("xks_key_id").is_some_and(|v| !v.is_null()) => "EXTERNAL_KEY_STORE",
        Some(_) => "AWS_CLOUDHSM",
    };
    r.attributes.insert("origin".into(), Value::from(origin));
}
