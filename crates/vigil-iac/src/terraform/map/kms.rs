//! Terraform → normalized resources: kms.
//!
//! `aws_kms_key`, `aws_kms_external_key` (imported key material) and
//! `aws_kms_replica_key` (a replica of a multi-Region key) →
//! `aws.kms.key` (customer managed keys), with the `aws_kms_alias`
//! resources that target one folded into `aliases` and an
//! `aws_kms_key_policy` that names it replacing its `policy`.

use super::{new_resource, refers_to, set, Index};
use crate::semantics::{
    set_folded_list, set_from_primary, set_key_policy, set_key_state, set_kms_rotation,
};
use crate::terraform::TfResource;
use crate::value::Val;
use serde_json::Value;
use vigil_model::Resource;

/// The attributes of a key another resource names it by.
const KEY_ATTRS: &[&str] = &["id", "key_id", "arn"];

/// Maps the kms resource types this module handles; `None` for others.
pub(super) fn map(d: &TfResource, ix: &Index<'_>) -> Option<Resource> {
    match d.kind.as_str() {
        "aws_kms_key" => Some(key(d, ix)),
        "aws_kms_external_key" => Some(external_key(d, ix)),
        "aws_kms_replica_key" => Some(replica_key(d, ix)),
        _ => None,
    }
}

fn key(d: &TfResource, ix: &Index<'_>) -> Resource {
    let a = &d.attrs;
    let mut r = common(d, ix);
    // Provider defaults: enabled, a symmetric encryption key, not
    // multi-Region, no automatic rotation.
    set(&mut r, "enabled", a.get("is_enabled"), Some(true.into()));
    set_key_state(&mut r);
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
    r
}

/// A key for imported material: symmetric, origin EXTERNAL (no automatic
/// rotation); without `key_material_base64` it waits for its material
/// (PendingImport), with it it is enabled unless `enabled = false`.
fn external_key(d: &TfResource, ix: &Index<'_>) -> Resource {
    let a = &d.attrs;
    let mut r = common(d, ix);
    r.attributes
        .insert("key_spec".into(), "SYMMETRIC_DEFAULT".into());
    r.attributes
        .insert("key_usage".into(), "ENCRYPT_DECRYPT".into());
    r.attributes.insert("origin".into(), "EXTERNAL".into());
    set(
        &mut r,
        "multi_region",
        a.get("multi_region"),
        Some(false.into()),
    );
    let material = a.get("key_material_base64").filter(|v| !v.is_null());
    set(
        &mut r,
        "enabled",
        a.get("enabled"),
        Some(material.is_some().into()),
    );
    set_key_state(&mut r);
    set_kms_rotation(&mut r, None, None);
    if material.is_none() {
        r.attributes
            .insert("key_state".into(), "PendingImport".into());
    }
    r
}

/// A replica of a multi-Region key: its key spec, usage, origin and
/// rotation are the primary key's (known when the primary is declared
/// alongside and named by reference), its policy and state its own.
fn replica_key(d: &TfResource, ix: &Index<'_>) -> Resource {
    let a = &d.attrs;
    let mut r = common(d, ix);
    set(&mut r, "enabled", a.get("enabled"), Some(true.into()));
    set_key_state(&mut r);
    let arn = a.get("primary_key_arn");
    let primary = arn.and_then(|v| {
        ix.of_kind("aws_kms_key")
            .iter()
            .find(|t| refers_to(v, t, &["arn"]))
    });
    let primary = match (primary, arn) {
        (Some(p), _) => Ok(key(p, ix)),
        (None, Some(Val::Unknown(u))) => Err(u.reason()),
        (None, _) => Err(format!(
            "the primary key of {} (primary_key_arn) is not declared in the scanned files",
            d.address
        )),
    };
    set_from_primary(&mut r, primary);
    r
}

/// What every kind of key has: the resource, `key_manager`,
/// `description`, the aliases that target it and its key policy (its own
/// `policy`, or that of an `aws_kms_key_policy` naming it).
fn common(d: &TfResource, ix: &Index<'_>) -> Resource {
    let a = &d.attrs;
    let mut r = new_resource(d, "KMS", "aws.kms.key", None);
    r.attributes.insert("key_manager".into(), "CUSTOMER".into());
    set(&mut r, "description", a.get("description"), None);

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

#[cfg(test)]
mod tests {
    use crate::semantics::test_support::{attr, by_id, tf, uncollected};
    use serde_json::json;

    #[test]
    fn a_bare_key_gets_the_provider_defaults_and_the_default_policy() {
        let rs = tf(r#"resource "aws_kms_key" "k" {}"#);
        let k = by_id(&rs, "aws_kms_key.k");
        assert_eq!(
            (k.service.as_str(), k.resource_type.as_str()),
            ("KMS", "aws.kms.key")
        );
        assert_eq!(attr(k, "key_manager"), Some(&json!("CUSTOMER")));
        assert_eq!(attr(k, "enabled"), Some(&json!(true)));
        assert_eq!(attr(k, "key_state"), Some(&json!("Enabled")));
        assert_eq!(attr(k, "key_spec"), Some(&json!("SYMMETRIC_DEFAULT")));
        assert_eq!(attr(k, "origin"), Some(&json!("AWS_KMS")));
        assert_eq!(attr(k, "rotation_enabled"), Some(&json!(false)));
        assert_eq!(attr(k, "rotation_period_in_days"), None);
        assert_eq!(attr(k, "public_policy"), Some(&json!(false)));
        assert_eq!(attr(k, "aliases"), Some(&json!([])));
    }

    #[test]
    fn rotation_is_null_where_it_does_not_apply_and_defaults_to_a_year() {
        let rs = tf(r#"
resource "aws_kms_key" "rotated" {
  enable_key_rotation = true
  is_enabled          = false
}
resource "aws_kms_key" "rsa" {
  customer_master_key_spec = "RSA_2048"
  key_usage                = "SIGN_VERIFY"
}
resource "aws_kms_key" "hsm" {
  custom_key_store_id = "cks-1234567890abcdef0"
}
resource "aws_kms_key" "unknown" {
  enable_key_rotation = var.rotate
}"#);
        let rotated = by_id(&rs, "aws_kms_key.rotated");
        assert_eq!(attr(rotated, "rotation_enabled"), Some(&json!(true)));
        assert_eq!(attr(rotated, "rotation_period_in_days"), Some(&json!(365)));
        assert_eq!(attr(rotated, "key_state"), Some(&json!("Disabled")));
        assert_eq!(
            attr(by_id(&rs, "aws_kms_key.rsa"), "rotation_enabled"),
            Some(&json!(null))
        );
        let hsm = by_id(&rs, "aws_kms_key.hsm");
        assert_eq!(attr(hsm, "origin"), Some(&json!("AWS_CLOUDHSM")));
        assert_eq!(attr(hsm, "rotation_enabled"), Some(&json!(null)));
        assert!(uncollected(
            by_id(&rs, "aws_kms_key.unknown"),
            "rotation_enabled",
            "var.rotate"
        ));
    }

    #[test]
    fn aliases_and_a_key_policy_resource_are_folded_into_the_key_they_name() {
        let rs = tf(r#"
resource "aws_kms_key" "a" {
  policy = "{\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"AWS\":\"arn:aws:iam::111122223333:root\"},\"Action\":\"kms:*\"}]}"
}
resource "aws_kms_key" "b" {}
resource "aws_kms_alias" "a2" {
  name          = "alias/z-app"
  target_key_id = aws_kms_key.a.arn
}
resource "aws_kms_alias" "a1" {
  name          = "alias/app"
  target_key_id = aws_kms_key.a.key_id
}
resource "aws_kms_key_policy" "a" {
  key_id = aws_kms_key.a.id
  policy = "{\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":\"kms:Decrypt\"}]}"
}"#);
        let a = by_id(&rs, "aws_kms_key.a");
        assert_eq!(
            attr(a, "aliases"),
            Some(&json!(["alias/app", "alias/z-app"]))
        );
        assert_eq!(attr(a, "public_policy"), Some(&json!(true)));
        let b = by_id(&rs, "aws_kms_key.b");
        assert_eq!(attr(b, "aliases"), Some(&json!([])));
        assert_eq!(attr(b, "public_policy"), Some(&json!(false)));
    }

    #[test]
    fn unknown_or_broken_policies_and_unresolved_policy_targets_are_uncollected() {
        let rs = tf(r#"
resource "aws_kms_key" "unknown" {
  policy = var.policy
}
resource "aws_kms_key" "broken" {
  policy = "{\"Statement\": ["
}
"#);
        assert!(uncollected(
            by_id(&rs, "aws_kms_key.unknown"),
            "public_policy",
            "var.policy"
        ));
        assert!(uncollected(
            by_id(&rs, "aws_kms_key.broken"),
            "public_policy",
            "not a JSON document"
        ));
        // A policy resource whose key is not known might replace any key's policy.
        let rs = tf(r#"
resource "aws_kms_key" "c" {}
resource "aws_kms_key_policy" "somewhere" {
  key_id = var.key_id
  policy = "{}"
}"#);
        assert!(uncollected(
            by_id(&rs, "aws_kms_key.c"),
            "public_policy",
            "var.key_id"
        ));
    }

    #[test]
    fn external_and_replica_keys_have_no_rotation_of_their_own() {
        let rs = tf(r#"
resource "aws_kms_key" "primary" {
  multi_region        = true
  enable_key_rotation = true
}
resource "aws_kms_replica_key" "replica" {
  primary_key_arn = aws_kms_key.primary.arn
  policy          = "{\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":\"kms:Decrypt\"}]}"
}
resource "aws_kms_replica_key" "elsewhere" {
  primary_key_arn = "arn:aws:kms:us-east-1:111122223333:key/mrk-1234"
}
resource "aws_kms_external_key" "imported" {}
"#);
        let replica = by_id(&rs, "aws_kms_replica_key.replica");
        assert_eq!(attr(replica, "multi_region"), Some(&json!(true)));
        assert_eq!(attr(replica, "key_state"), Some(&json!("Enabled")));
        assert_eq!(attr(replica, "rotation_enabled"), Some(&json!(true)));
        assert_eq!(attr(replica, "public_policy"), Some(&json!(true)));
        let elsewhere = by_id(&rs, "aws_kms_replica_key.elsewhere");
        assert!(uncollected(elsewhere, "rotation_enabled", "not declared"));
        let imported = by_id(&rs, "aws_kms_external_key.imported");
        assert_eq!(attr(imported, "origin"), Some(&json!("EXTERNAL")));
        assert_eq!(attr(imported, "key_state"), Some(&json!("PendingImport")));
        assert_eq!(attr(imported, "rotation_enabled"), Some(&json!(null)));
    }
}
