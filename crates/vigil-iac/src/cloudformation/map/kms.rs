//! CloudFormation → normalized resources: kms.
//!
//! `AWS::KMS::Key` and `AWS::KMS::ReplicaKey` (a replica of a multi-Region
//! key) → `aws.kms.key` (customer managed keys), with the `AWS::KMS::Alias`
//! resources that target one folded into `aliases`.

use super::{new_resource, refers_to, set, Index};
use crate::cloudformation::CfnResource;
use crate::semantics::{
    set_folded_list, set_from_primary, set_key_policy, set_key_state, set_kms_rotation,
};
use crate::value::Val;
use vigil_model::Resource;

/// Maps the kms resource types this module handles; `None` for others.
pub(super) fn map(r: &CfnResource, ix: &Index<'_>) -> Option<Resource> {
    match r.resource_type.as_str() {
        "AWS::KMS::Key" => Some(key(r, ix)),
        "AWS::KMS::ReplicaKey" => Some(replica_key(r, ix)),
        _ => None,
    }
}

fn key(k: &CfnResource, ix: &Index<'_>) -> Resource {
    let p = &k.props;
    let mut r = common(k, ix);
    // CloudFormation's defaults: enabled, a symmetric encryption key with
    // key material from KMS, not multi-Region, no automatic rotation.
    set(&mut r, "enabled", p.get("Enabled"), Some(true.into()));
    set_key_state(&mut r);
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
    r
}

/// A replica of a multi-Region key: key spec, usage, origin and rotation
/// are its primary's (known when `PrimaryKeyArn` names a key of the
/// template), its policy and state its own.
fn replica_key(k: &CfnResource, ix: &Index<'_>) -> Resource {
    let p = &k.props;
    let mut r = common(k, ix);
    set(&mut r, "enabled", p.get("Enabled"), Some(true.into()));
    set_key_state(&mut r);
    let arn = p.get("PrimaryKeyArn");
    let primary = arn.and_then(|v| {
        ix.of_type("AWS::KMS::Key")
            .iter()
            .find(|t| refers_to(v, t, &[]))
    });
    let primary = match (primary, arn) {
        (Some(p), _) => Ok(key(p, ix)),
        (None, Some(Val::Unknown(u))) => Err(u.reason()),
        (None, _) => Err(format!(
            "the primary key of {} (PrimaryKeyArn) is not declared in the template",
            k.logical_id
        )),
    };
    set_from_primary(&mut r, primary);
    r
}

/// What both kinds of key have: the resource, `key_manager`,
/// `description`, the aliases that target it and its `KeyPolicy`.
fn common(k: &CfnResource, ix: &Index<'_>) -> Resource {
    let p = &k.props;
    let mut r = new_resource(k, "KMS", "aws.kms.key", None);
    r.attributes.insert("key_manager".into(), "CUSTOMER".into());
    set(&mut r, "description", p.get("Description"), None);
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

    #[test]
    fn a_replica_takes_rotation_from_a_primary_of_the_template() {
        let rs = cfn(r#"
Resources:
  Primary:
    Type: AWS::KMS::Key
    Properties:
      MultiRegion: true
  Replica:
    Type: AWS::KMS::ReplicaKey
    Properties:
      PrimaryKeyArn: !GetAtt Primary.Arn
      Enabled: false
      KeyPolicy: {Statement: [{Effect: Allow, Principal: {AWS: arn:aws:iam::111122223333:root}, Action: "kms:*"}]}
  Orphan:
    Type: AWS::KMS::ReplicaKey
    Properties:
      PrimaryKeyArn: !Ref PrimaryArnParam
      KeyPolicy: {}
"#);
        let replica = by_id(&rs, "Replica");
        assert_eq!(attr(replica, "rotation_enabled"), Some(&json!(false)));
        assert_eq!(attr(replica, "key_state"), Some(&json!("Disabled")));
        assert_eq!(attr(replica, "multi_region"), Some(&json!(true)));
        assert_eq!(attr(replica, "public_policy"), Some(&json!(false)));
        assert!(uncollected(
            by_id(&rs, "Orphan"),
            "rotation_enabled",
            "!Ref PrimaryArnParam"
        ));
    }
}
