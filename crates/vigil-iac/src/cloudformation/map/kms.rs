//! CloudFormation → normalized resources: kms.
//!
//! `AWS::KMS::Key` → `aws.kms.key` (a customer managed key), with the
//! `AWS::KMS::Alias` resources that target it folded into `aliases`.

use super::{new_resource, set, Index};
use crate::cloudformation::CfnResource;
use crate::semantics::{set_folded_list, set_key_policy, set_kms_rotation};
use crate::value::Val;
use vigil_model::Resource;

/// Maps the kms resource types this module handles; `None` for others.
pub(super) fn map(r: &CfnResource, ix: &Index<'_>) -> Option<Resource> {
    (r.resource_type == "AWS::KMS::Key").then(|| key(r, ix))
}

fn key(k: &CfnResource, ix: &Index<'_>) -> Resource {
    let p = &k.props;
    let mut r = new_resource(k, "KMS", "aws.kms.key", None);
    r.attributes.insert("key_manager".into(), "CUSTOMER".into());
    set(&mut r, "description", p.get("Description"), None);
    // CloudFormation's defaults: enabled, a symmetric encryption key with
    // key material from KMS, not multi-Region, no automatic rotation.
    set(&mut r, "enabled", p.get("Enabled"), Some(true.into()));
    set(
        &mut r,
        "key_spec",
        p.get("KeySpec"),
        Some("SYMMETRIC_DEFAULT".into()),
    );
    set(
        &mut r,
        "key_usage",
        p.get("KeyUsage"),
        Some("ENCRYPT_DECRYPT".into()),
    );
    set(&mut r, "origin", p.get("Origin"), Some("AWS_KMS".into()));
    set(
        &mut r,
        "multi_region",
        p.get("MultiRegion"),
        Some(false.into()),
    );
    set_kms_rotation(
        &mut r,
        p.get("EnableKeyRotation"),
        p.get("RotationPeriodInDays"),
    );
    let aliases = ix.satellites("AWS::KMS::Alias", "TargetKeyId", k, &[]);
    let mut names: Vec<Val> = aliases
        .matched
        .iter()
        .filter_map(|s| s.props.get("AliasName").cloned())
        .collect();
    names.sort_by(|x, y| x.as_str().cmp(&y.as_str()));
    set_folded_list(&mut r, "aliases", names, aliases.unresolved);
    set_key_policy(&mut r, p.get("KeyPolicy"));
    r
}
