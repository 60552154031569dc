//! Terraform → normalized resources: the `provider "aws"` block, as
//! `aws.terraform.provider` (service `Terraform`), so that build-time
//! controls can judge how the configuration authenticates. There is no live
//! counterpart: a deployed account has no provider block.
//!
//! Credentials are never copied into the resource: it records only whether
//! they are set and whether a value is written in the configuration.

use super::{new_resource, set, Index};
use crate::secrets::is_access_key_id;
use crate::terraform::eval::PROVIDER_KIND_PREFIX;
use crate::terraform::TfResource;
use crate::value::Val;
use serde_json::{json, Value};
use vigil_model::Resource;

/// Maps `provider "aws"` blocks; `None` for everything else.
pub(super) fn map(d: &TfResource, _ix: &Index<'_>) -> Option<Resource> {
    (d.kind.strip_prefix(PROVIDER_KIND_PREFIX) == Some("aws")).then(|| provider(d))
}

/// Whether an argument is set (to anything, known or not).
fn is_set(v: Option<&Val>) -> bool {
    v.is_some_and(|v| !v.is_null())
}

/// Whether an argument holds a value written in the configuration: known at
/// build time (a literal, a variable default, a `.tfvars` value, a local)
/// and not empty. A value known only at apply time (a variable without a
/// value, a data source) is not written anywhere.
fn is_hardcoded(v: Option<&Val>) -> bool {
    v.and_then(Val::to_display)
        .is_some_and(|s| !s.trim().is_empty())
}

/// `provider "aws"`: `alias`, `region` (null when omitted: taken from the
/// environment), `access_key_set`, `secret_key_set`, `token_set`,
/// `hardcoded_credentials` (`access_key`, `secret_key` or `token` written
/// in the configuration) and `hardcoded_access_key_id` (the written
/// `access_key` has the form of an AWS access key id).
fn provider(d: &TfResource) -> Resource {
    let mut r = new_resource(d, "Terraform", "aws.terraform.provider", Some("alias"));
    let a = &d.attrs;
    set(&mut r, "alias", a.get("alias"), Some(Value::Null));
    set(&mut r, "region", a.get("region"), Some(Value::Null));
    let (key, secret, token) = (a.get("access_key"), a.get("secret_key"), a.get("token"));
    r.attributes
        .insert("access_key_set".into(), json!(is_set(key)));
    r.attributes
        .insert("secret_key_set".into(), json!(is_set(secret)));
    r.attributes
        .insert("token_set".into(), json!(is_set(token)));
    r.attributes.insert(
        "hardcoded_credentials".into(),
        json!(is_hardcoded(key) || is_hardcoded(secret) || is_hardcoded(token)),
    );
    r.attributes.insert(
        "hardcoded_access_key_id".into(),
        json!(key
            .and_then(Val::as_str)
            .is_some_and(|k| is_access_key_id(k.trim()))),
    );
    r
}

#[cfg(test)]
mod tests {
    use crate::terraform::map::ec2::tests::{one, resources};
    use serde_json::json;

    #[test]
    fn provider_blocks_record_that_keys_are_written_never_the_keys() {
        let rs = resources(
            r#"
variable "secret" {}
provider "aws" {
  region     = "eu-west-1"
  access_key = "AKIAIOSFODNN7EXAMPLE"
  secret_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
}
provider "aws" {
  alias      = "ops"
  access_key = var.secret
  secret_key = var.secret
}
provider "aws" {
  alias = "plain"
}
provider "google" {
  project = "x"
}
"#,
        );
        assert_eq!(rs.len(), 3, "{rs:?}");
        let hard = one(&rs, "provider.aws");
        assert_eq!(hard.resource_type, "aws.terraform.provider");
        assert_eq!(hard.attributes["hardcoded_credentials"], json!(true));
        assert_eq!(hard.attributes["hardcoded_access_key_id"], json!(true));
        assert_eq!(hard.attributes["region"], json!("eu-west-1"));
        let text = serde_json::to_string(hard).unwrap_or_default();
        assert!(!text.contains("AKIAIOSFODNN7EXAMPLE"), "{text}");
        assert!(!text.contains("EXAMPLEKEY"), "{text}");
        let ops = one(&rs, "provider.aws.ops");
        assert_eq!(ops.name, "ops");
        assert_eq!(ops.attributes["access_key_set"], json!(true));
        assert_eq!(ops.attributes["hardcoded_credentials"], json!(false));
        let plain = one(&rs, "provider.aws.plain");
        assert_eq!(plain.attributes["access_key_set"], json!(false));
        assert_eq!(plain.attributes["hardcoded_credentials"], json!(false));
        assert_eq!(plain.attributes["region"], json!(null));
    }
}
