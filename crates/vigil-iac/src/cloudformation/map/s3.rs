//! CloudFormation → normalized resources: S3.
//!
//! `AWS::S3::Bucket` → `aws.s3.bucket`: `AccessControl` (a canned ACL) →
//! `acl_grants`, `VersioningConfiguration` → `versioning`,
//! `PublicAccessBlockConfiguration` → `public_access_block`, in the S3
//! collector's shapes. CloudFormation cannot turn on MFA delete, so
//! `versioning.mfa_delete` is always `""` (never configured).

use super::{new_resource, set, Index};
use crate::aws::{
    canned_grants_of, default_public_access_block, never_versioned, private_grants,
    public_access_block, versioning,
};
use crate::cloudformation::CfnResource;
use crate::value::Val;
use vigil_model::Resource;

/// Maps the S3 resource types this module handles; `None` for others.
pub(super) fn map(r: &CfnResource, _ix: &Index<'_>) -> Option<Resource> {
    match r.resource_type.as_str() {
        "AWS::S3::Bucket" => Some(bucket(r)),
        _ => None,
    }
}

/// A property, `None` when omitted or null.
fn prop<'a>(v: &'a Val, key: &str) -> Option<&'a Val> {
    v.get(key).filter(|v| !v.is_null())
}

fn bucket(c: &CfnResource) -> Resource {
    let mut r = new_resource(c, "S3", "aws.s3.bucket", Some("BucketName"));
    let p = &c.props;
    r.uncollected.insert(
        "creation_date".into(),
        "value not known at build time: set by AWS when the bucket is created".into(),
    );

    let acl = prop(p, "AccessControl")
        .map(|v| canned_grants_of(v, &format!("{}.AccessControl", c.logical_id)));
    // No ACL: the owner's full control.
    set(
        &mut r,
        "acl_grants",
        acl.as_ref(),
        private_grants().to_json().ok(),
    );

    let versioned = prop(p, "VersioningConfiguration").map(|conf| match conf {
        Val::Map(_) => versioning(
            prop(conf, "Status").cloned().unwrap_or_else(|| {
                Val::unknown(format!(
                    "{}.VersioningConfiguration.Status (not set)",
                    c.logical_id
                ))
            }),
            Val::string(""),
        ),
        other => other.clone(),
    });
    set(
        &mut r,
        "versioning",
        versioned.as_ref(),
        never_versioned().to_json().ok(),
    );

    let block = prop(p, "PublicAccessBlockConfiguration").map(|conf| match conf {
        // Omitted flags are false.
        Val::Map(_) => public_access_block(|k| prop(conf, cfn_flag(k)).cloned()),
        other => other.clone(),
    });
    set(
        &mut r,
        "public_access_block",
        block.as_ref(),
        // S3 turns all four settings on for new buckets (April 2023).
        default_public_access_block().to_json().ok(),
    );
    r
}

/// The CloudFormation name of a Block Public Access flag.
fn cfn_flag(key: &str) -> &'static str {
    match key {
        "block_public_acls" => "BlockPublicAcls",
        "ignore_public_acls" => "IgnorePublicAcls",
        "block_public_policy" => "BlockPublicPolicy",
        _ => "RestrictPublicBuckets",
    }
}

#[cfg(test)]
mod tests {
    use crate::aws::ALL_USERS;
    use serde_json::json;
    use vigil_model::Resource;

    fn buckets(text: &str) -> Vec<Resource> {
        let (rs, errors) =
            crate::cloudformation::cloudformation_resources(&[("t.yaml".into(), text.into())]);
        assert!(errors.is_empty(), "{errors:?}");
        rs
    }

    #[test]
    fn an_unconfigured_bucket_takes_the_s3_defaults() {
        let rs = buckets("Resources:\n  Plain:\n    Type: AWS::S3::Bucket\n");
        let b = &rs[0];
        assert_eq!((b.id.as_str(), b.name.as_str()), ("Plain", "Plain"));
        assert_eq!(b.resource_type, "aws.s3.bucket");
        assert_eq!(
            b.attributes["versioning"],
            json!({"status": "", "mfa_delete": ""})
        );
        assert_eq!(
            b.attributes["public_access_block"],
            json!({"block_public_acls": true, "ignore_public_acls": true,
                   "block_public_policy": true, "restrict_public_buckets": true})
        );
        assert_eq!(
            b.attributes["acl_grants"][0]["permission"],
            json!("FULL_CONTROL")
        );
        assert_eq!(b.attributes["acl_grants"].as_array().map(Vec::len), Some(1));
    }

    #[test]
    fn properties_map_onto_the_collector_shapes() {
        let rs = buckets(
            r#"
Resources:
  Site:
    Type: AWS::S3::Bucket
    Properties:
      BucketName: site
      AccessControl: PublicRead
      VersioningConfiguration:
        Status: Suspended
      PublicAccessBlockConfiguration:
        BlockPublicAcls: true
        RestrictPublicBuckets: "true"
"#,
        );
        let b = &rs[0];
        assert_eq!(b.name, "site");
        assert_eq!(
            b.attributes["acl_grants"][1]["grantee_uri"],
            json!(ALL_USERS)
        );
        assert_eq!(
            b.attributes["versioning"],
            json!({"status": "Suspended", "mfa_delete": ""})
        );
        assert_eq!(
            b.attributes["public_access_block"],
            json!({"block_public_acls": true, "ignore_public_acls": false,
                   "block_public_policy": false, "restrict_public_buckets": true})
        );
    }

    #[test]
    fn unknown_properties_are_uncollected() {
        let rs = buckets(
            r#"
Parameters:
  Name:
    Type: String
  Status:
    Type: String
  Block:
    Type: String
Resources:
  B:
    Type: AWS::S3::Bucket
    Properties:
      BucketName: !Ref Name
      AccessControl: Everyone
      VersioningConfiguration:
        Status: !Ref Status
      PublicAccessBlockConfiguration:
        BlockPublicAcls: !Ref Block
        IgnorePublicAcls: true
"#,
        );
        let b = &rs[0];
        assert_eq!(b.name, "B");
        for key in ["versioning", "public_access_block", "acl_grants"] {
            assert!(!b.attributes.contains_key(key), "{key}");
        }
        let reason = &b.uncollected["versioning"];
        assert!(
            reason.starts_with("value not known at build time: "),
            "{reason}"
        );
        assert!(reason.contains("Status"), "{reason}");
        assert!(b.uncollected["acl_grants"].contains("B.AccessControl = \"Everyone\""));
    }
}
