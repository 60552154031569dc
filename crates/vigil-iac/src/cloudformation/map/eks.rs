//! CloudFormation → normalized resources: EKS clusters
//! (`AWS::EKS::Cluster`), in the shape of the live collector's
//! `aws.eks.cluster`.

use super::{new_resource, set, unknown, Index};
use crate::aws::loose_bool;
use crate::cloudformation::CfnResource;
use crate::value::Val;
use serde_json::{json, Value};
use vigil_model::Resource;

/// Maps the eks resource types this module handles; `None` for others.
pub(super) fn map(r: &CfnResource, _ix: &Index<'_>) -> Option<Resource> {
    (r.resource_type == "AWS::EKS::Cluster").then(|| cluster(r))
}

fn cluster(c: &CfnResource) -> Resource {
    let mut r = new_resource(c, "EKS", "aws.eks.cluster", Some("Name"));
    let p = &c.props;
    set(&mut r, "version", p.get("Version"), None);
    set(&mut r, "role_arn", p.get("RoleArn"), None);

    let net = p.get("ResourcesVpcConfig");
    let arg = |k: &str| net.and_then(|n| n.get(k));
    if let Some(Val::Unknown(u)) = net {
        for k in [
            "endpoint_public_access",
            "endpoint_private_access",
            "public_access_cidrs",
            "subnet_ids",
            "security_group_ids",
        ] {
            unknown(&mut r, k, u);
        }
    } else {
        // AWS's defaults: a public endpoint open to 0.0.0.0/0 and no private
        // endpoint.
        set(
            &mut r,
            "endpoint_public_access",
            arg("EndpointPublicAccess").map(loose_bool).as_ref(),
            Some(json!(true)),
        );
        set(
            &mut r,
            "endpoint_private_access",
            arg("EndpointPrivateAccess").map(loose_bool).as_ref(),
            Some(json!(false)),
        );
        set(
            &mut r,
            "public_access_cidrs",
            arg("PublicAccessCidrs"),
            Some(json!(["0.0.0.0/0"])),
        );
        set(&mut r, "subnet_ids", arg("SubnetIds"), Some(json!([])));
        set(
            &mut r,
            "security_group_ids",
            arg("SecurityGroupIds"),
            Some(json!([])),
        );
    }

    // `Logging: {ClusterLogging: {EnabledTypes: [{Type: api}, …]}}`; off
    // when absent. Sorted and without duplicates, as the collector reports.
    // `Logging` or `ClusterLogging` themselves may be unknown (e.g. `!If`
    // on a condition of an unknown parameter).
    let unknown_logging = [p.get("Logging"), p.path("Logging.ClusterLogging")]
        .into_iter()
        .flatten()
        .find_map(|v| match v {
            Val::Unknown(u) => Some(u),
            _ => None,
        });
    match (
        unknown_logging,
        p.path("Logging.ClusterLogging.EnabledTypes"),
    ) {
        (Some(u), _) => unknown(&mut r, "logging_enabled_types", u),
        (None, None | Some(Val::Null)) => {
            r.attributes
                .insert("logging_enabled_types".into(), json!([]));
        }
        (None, Some(v)) => {
            let types = match v.as_list() {
                Some(items) => {
                    let mut types: Vec<Val> = items
                        .iter()
                        .map(|t| t.get("Type").unwrap_or(t).clone())
                        .collect();
                    types.sort_by(|a, b| a.as_str().cmp(&b.as_str()));
                    types.dedup();
                    Val::List(types)
                }
                None => v.clone(),
            };
            set(&mut r, "logging_enabled_types", Some(&types), None);
        }
    }

    // `EncryptionConfig: [{Provider: {KeyArn}, Resources: [secrets]}]`:
    // `KeyArn` is required, so a provider means encryption is on.
    match p.get("EncryptionConfig") {
        Some(Val::Unknown(u)) => {
            unknown(&mut r, "secrets_encryption", u);
            unknown(&mut r, "secrets_kms_key_arn", u);
        }
        e => {
            let key = e
                .and_then(Val::as_list)
                .unwrap_or_default()
                .iter()
                .find_map(|e| e.path("Provider.KeyArn").filter(|k| !k.is_null()));
            set(
                &mut r,
                "secrets_encryption",
                Some(&Val::Bool(key.is_some())),
                None,
            );
            set(&mut r, "secrets_kms_key_arn", key, Some(Value::Null));
        }
    }
    set(
        &mut r,
        "authentication_mode",
        p.path("AccessConfig.AuthenticationMode"),
        None,
    );
    r
}

#[cfg(test)]
mod tests {
    use crate::cloudformation::cloudformation_resources;
    use serde_json::{json, Value};
    use vigil_model::Resource;

    fn clusters(yaml: &str) -> Vec<Resource> {
        let (rs, errors) = cloudformation_resources(&[("t.yaml".into(), yaml.into())]);
        assert!(errors.is_empty(), "{errors:?}");
        rs.into_iter()
            .filter(|r| r.resource_type == "aws.eks.cluster")
            .collect()
    }

    fn attr<'a>(r: &'a Resource, k: &str) -> Option<&'a Value> {
        r.attributes.get(k)
    }

    #[test]
    fn omitted_properties_take_the_aws_defaults() {
        let r = &clusters(
            "Resources:\n  Dev:\n    Type: AWS::EKS::Cluster\n    Properties:\n      Name: dev\n      RoleArn: !GetAtt Role.Arn\n      ResourcesVpcConfig:\n        SubnetIds: [subnet-1, subnet-2]\n",
        )[0];
        assert_eq!(r.name, "dev");
        assert_eq!(attr(r, "endpoint_public_access"), Some(&json!(true)));
        assert_eq!(attr(r, "endpoint_private_access"), Some(&json!(false)));
        assert_eq!(attr(r, "public_access_cidrs"), Some(&json!(["0.0.0.0/0"])));
        assert_eq!(
            attr(r, "subnet_ids"),
            Some(&json!(["subnet-1", "subnet-2"]))
        );
        assert_eq!(attr(r, "logging_enabled_types"), Some(&json!([])));
        assert_eq!(attr(r, "secrets_encryption"), Some(&json!(false)));
        assert!(r.uncollected.contains_key("role_arn"));
    }

    #[test]
    fn logging_encryption_and_string_booleans_are_read() {
        let r = &clusters(
            r#"Resources:
  Prod:
    Type: AWS::EKS::Cluster
    Properties:
      ResourcesVpcConfig:
        EndpointPublicAccess: "false"
        EndpointPrivateAccess: true
      Logging:
        ClusterLogging:
          EnabledTypes: [{Type: scheduler}, {Type: api}, {Type: api}]
      EncryptionConfig:
        - Provider: {KeyArn: !GetAtt Key.Arn}
          Resources: [secrets]
"#,
        )[0];
        assert_eq!(attr(r, "endpoint_public_access"), Some(&json!(false)));
        assert_eq!(attr(r, "endpoint_private_access"), Some(&json!(true)));
        assert_eq!(
            attr(r, "logging_enabled_types"),
            Some(&json!(["api", "scheduler"]))
        );
        assert_eq!(attr(r, "secrets_encryption"), Some(&json!(true)));
        assert!(r.uncollected.contains_key("secrets_kms_key_arn"));
    }

    #[test]
    fn unknown_endpoint_settings_are_uncollected() {
        let r = &clusters(
            "Resources:\n  C:\n    Type: AWS::EKS::Cluster\n    Properties:\n      ResourcesVpcConfig:\n        EndpointPublicAccess: !Ref Other\n        PublicAccessCidrs: [!Ref Other]\n      Logging:\n        ClusterLogging: !Ref LoggingParam\n",
        )[0];
        assert!(attr(r, "endpoint_public_access").is_none());
        assert!(r.uncollected.contains_key("endpoint_public_access"));
        assert!(r.uncollected.contains_key("public_access_cidrs"));
        assert!(r.uncollected["logging_enabled_types"].contains("LoggingParam"));
    }
}
