//! Terraform → normalized resources: EKS clusters (`aws_eks_cluster`), in
//! the shape of the live collector's `aws.eks.cluster`.

use super::{new_resource, set, unknown, Index};
use crate::terraform::TfResource;
use crate::value::Val;
use serde_json::{json, Value};
use vigil_model::Resource;

/// Maps the eks resource types this module handles; `None` for others.
pub(super) fn map(d: &TfResource, _ix: &Index<'_>) -> Option<Resource> {
    (d.kind == "aws_eks_cluster").then(|| cluster(d))
}

/// The attributes `vpc_config` sets.
const NETWORK: [&str; 5] = [
    "endpoint_public_access",
    "endpoint_private_access",
    "public_access_cidrs",
    "subnet_ids",
    "security_group_ids",
];

fn cluster(d: &TfResource) -> Resource {
    let mut r = new_resource(d, "EKS", "aws.eks.cluster", Some("name"));
    let a = &d.attrs;
    set(&mut r, "version", a.get("version"), None);
    set(&mut r, "role_arn", a.get("role_arn"), None);

    match a.get("vpc_config") {
        // A `dynamic "vpc_config"` over an unknown collection.
        Some(Val::Unknown(u)) => NETWORK.iter().for_each(|k| unknown(&mut r, k, u)),
        _ => {
            let net = a.blocks("vpc_config").into_iter().next();
            let arg = |k: &str| net.and_then(|n| n.get(k));
            // AWS's defaults: a public endpoint open to 0.0.0.0/0 and no
            // private endpoint.
            set(
                &mut r,
                "endpoint_public_access",
                arg("endpoint_public_access"),
                Some(json!(true)),
            );
            set(
                &mut r,
                "endpoint_private_access",
                arg("endpoint_private_access"),
                Some(json!(false)),
            );
            set(
                &mut r,
                "public_access_cidrs",
                arg("public_access_cidrs"),
                Some(json!(["0.0.0.0/0"])),
            );
            set(&mut r, "subnet_ids", arg("subnet_ids"), Some(json!([])));
            set(
                &mut r,
                "security_group_ids",
                arg("security_group_ids"),
                Some(json!([])),
            );
        }
    }

    // Control plane logging is off unless log types are listed; the live
    // collector reports them sorted and without duplicates.
    match a.get("enabled_cluster_log_types") {
        Some(v) if !v.is_null() => match v.to_json() {
            Ok(Value::Array(mut types)) => {
                types.sort_by_key(|t| t.as_str().map(str::to_string));
                types.dedup();
                r.attributes
                    .insert("logging_enabled_types".into(), Value::Array(types));
            }
            Ok(other) => {
                r.attributes.insert("logging_enabled_types".into(), other);
            }
            Err(u) => unknown(&mut r, "logging_enabled_types", u),
        },
        _ => {
            r.attributes
                .insert("logging_enabled_types".into(), json!([]));
        }
    }

    secrets_encryption(&mut r, a);
    set(
        &mut r,
        "authentication_mode",
        a.blocks("access_config")
            .first()
            .and_then(|c| c.get("authentication_mode")),
        None,
    );
    r
}

/// `encryption_config { provider { key_arn } }`: `key_arn` is required, so
/// a block with a provider means envelope encryption is on whatever the key
/// turns out to be.
fn secrets_encryption(r: &mut Resource, a: &Val) {
    if let Some(Val::Unknown(u)) = a.get("encryption_config") {
        unknown(r, "secrets_encryption", u);
        unknown(r, "secrets_kms_key_arn", u);
        return;
    }
    let key = a
        .blocks("encryption_config")
        .into_iter()
        .flat_map(|e| e.blocks("provider"))
        .find_map(|p| p.get("key_arn").filter(|k| !k.is_null()));
    set(
        r,
        "secrets_encryption",
        Some(&Val::Bool(key.is_some())),
        None,
    );
    set(r, "secrets_kms_key_arn", key, Some(Value::Null));
}

#[cfg(test)]
mod tests {
    use super::super::to_resources;
    use crate::semantics::test_support::block;
    use crate::terraform::TfResource;
    use crate::value::Val;
    use serde_json::{json, Value};
    use std::collections::BTreeMap;
    use vigil_model::Resource;

    fn cluster(attrs: Vec<(&str, Val)>) -> Resource {
        let d = TfResource {
            root: String::new(),
            kind: "aws_eks_cluster".into(),
            name: "main".into(),
            address: "aws_eks_cluster.main".into(),
            file: "eks.tf".into(),
            line: 1,
            end_line: 9,
            attrs: block(attrs),
            suppressed: BTreeMap::new(),
        };
        to_resources(&[d]).remove(0)
    }

    fn attr<'a>(r: &'a Resource, k: &str) -> Option<&'a Value> {
        r.attributes.get(k)
    }

    #[test]
    fn omitted_arguments_take_the_aws_defaults() {
        let r = cluster(vec![
            ("name", Val::string("dev")),
            (
                "vpc_config",
                Val::List(vec![block(vec![(
                    "subnet_ids",
                    Val::List(vec![Val::unknown("aws_subnet.a.id")]),
                )])]),
            ),
        ]);
        assert_eq!(r.resource_type, "aws.eks.cluster");
        assert_eq!(r.service, "EKS");
        assert_eq!(r.name, "dev");
        assert_eq!(attr(&r, "endpoint_public_access"), Some(&json!(true)));
        assert_eq!(attr(&r, "endpoint_private_access"), Some(&json!(false)));
        assert_eq!(attr(&r, "public_access_cidrs"), Some(&json!(["0.0.0.0/0"])));
        assert_eq!(attr(&r, "logging_enabled_types"), Some(&json!([])));
        assert_eq!(attr(&r, "secrets_encryption"), Some(&json!(false)));
        assert_eq!(attr(&r, "secrets_kms_key_arn"), Some(&Value::Null));
        assert!(r.uncollected.contains_key("subnet_ids"));
        assert!(!r.uncollected.contains_key("endpoint_public_access"));
    }

    #[test]
    fn written_arguments_are_read_and_log_types_sorted() {
        let r = cluster(vec![
            (
                "vpc_config",
                Val::List(vec![block(vec![
                    ("endpoint_public_access", Val::Bool(false)),
                    ("endpoint_private_access", Val::Bool(true)),
                    (
                        "public_access_cidrs",
                        Val::List(vec![Val::string("203.0.113.0/24")]),
                    ),
                ])]),
            ),
            (
                "enabled_cluster_log_types",
                Val::List(vec![
                    Val::string("audit"),
                    Val::string("api"),
                    Val::string("audit"),
                ]),
            ),
        ]);
        assert_eq!(attr(&r, "endpoint_public_access"), Some(&json!(false)));
        assert_eq!(attr(&r, "endpoint_private_access"), Some(&json!(true)));
        assert_eq!(
            attr(&r, "public_access_cidrs"),
            Some(&json!(["203.0.113.0/24"]))
        );
        assert_eq!(
            attr(&r, "logging_enabled_types"),
            Some(&json!(["api", "audit"]))
        );
    }

    #[test]
    fn a_key_from_another_resource_still_means_encryption() {
        let r = cluster(vec![(
            "encryption_config",
            Val::List(vec![block(vec![
                ("resources", Val::List(vec![Val::string("secrets")])),
                (
                    "provider",
                    Val::List(vec![block(vec![(
                        "key_arn",
                        Val::unknown("aws_kms_key.eks.arn"),
                    )])]),
                ),
            ])]),
        )]);
        assert_eq!(attr(&r, "secrets_encryption"), Some(&json!(true)));
        assert!(r.uncollected["secrets_kms_key_arn"].contains("aws_kms_key.eks.arn"));
    }

    #[test]
    fn unknown_settings_are_uncollected_never_defaulted() {
        let r = cluster(vec![
            (
                "vpc_config",
                Val::List(vec![block(vec![(
                    "endpoint_public_access",
                    Val::unknown("var.public"),
                )])]),
            ),
            ("enabled_cluster_log_types", Val::unknown("var.log_types")),
            ("encryption_config", Val::unknown("var.encryption")),
        ]);
        for k in [
            "endpoint_public_access",
            "logging_enabled_types",
            "secrets_encryption",
        ] {
            assert!(attr(&r, k).is_none(), "{k}");
            assert!(r.uncollected.contains_key(k), "{k}");
        }
        let r = cluster(vec![("vpc_config", Val::unknown("var.net"))]);
        assert!(r.uncollected.contains_key("public_access_cidrs"));
        assert!(attr(&r, "endpoint_public_access").is_none());
    }
}
