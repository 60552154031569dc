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

#[cfg(test)]
mod tests {
    use crate::semantics::test_support::{attr, by_id, cfn, uncollected};
    use serde_json::json;

    #[test]
    fn defaults_aliases_and_rotation_applicability() {
        let rs = cfn(r#"
Resources:
  Plain:
    Type: AWS::KMS::Key
  Imported:
    Type: AWS::KMS::Key
    Properties:
      Origin: EXTERNAL
      EnableKeyRotation: true
  Hmac:
    Type: AWS::KMS::Key
    Properties:
      KeySpec: HMAC_256
      KeyUsage: GENERATE_VERIFY_MAC
  Param:
    Type: AWS::KMS::Key
    Properties:
      EnableKeyRotation: !Ref RotateParam
  PlainAlias:
    Type: AWS::KMS::Alias
    Properties:
      AliasName: alias/plain
      TargetKeyId: !Ref Plain
"#);
        let plain = by_id(&rs, "Plain");
        assert_eq!(attr(plain, "key_state"), Some(&json!("Enabled")));
        assert_eq!(attr(plain, "rotation_enabled"), Some(&json!(false)));
        assert_eq!(attr(plain, "public_policy"), Some(&json!(false)));
        assert_eq!(attr(plain, "aliases"), Some(&json!(["alias/plain"])));
        assert_eq!(
            attr(by_id(&rs, "Imported"), "rotation_enabled"),
            Some(&json!(null))
        );
        assert_eq!(
            attr(by_id(&rs, "Hmac"), "rotation_enabled"),
            Some(&json!(null))
        );
        assert_eq!(attr(by_id(&rs, "Hmac"), "aliases"), Some(&json!([])));
        assert!(uncollected(
            by_id(&rs, "Param"),
            "rotation_enabled",
            "!Ref RotateParam"
        ));
    }

    #[test]
    fn key_policies_are_judged_as_objects_or_json_strings() {
        let rs = cfn(r#"
Resources:
  Narrowed:
    Type: AWS::KMS::Key
    Properties:
      KeyPolicy:
        Statement:
          - Effect: Allow
            Principal: {AWS: "*"}
            Action: kms:Decrypt
            Condition: {StringEquals: {"kms:CallerAccount": "111122223333"}}
  Public:
    Type: AWS::KMS::Key
    Properties:
      KeyPolicy: '{"Statement":{"Effect":"Allow","Principal":"*","Action":"kms:*"}}'
  Unknown:
    Type: AWS::KMS::Key
    Properties:
      KeyPolicy:
        Statement:
          - Effect: Allow
            Principal: {AWS: !Ref AdminArn}
            Action: kms:*
"#);
        assert_eq!(
            attr(by_id(&rs, "Narrowed"), "public_policy"),
            Some(&json!(false))
        );
        assert_eq!(
            attr(by_id(&rs, "Public"), "public_policy"),
            Some(&json!(true))
        );
        assert!(uncollected(
            by_id(&rs, "Unknown"),
            "public_policy",
            "!Ref AdminArn"
        ));
    }
}
