//! Terraform → normalized resources: S3.
//!
//! * `aws_s3_bucket` → `aws.s3.bucket`, folding in the
//!   `aws_s3_bucket_versioning`, `aws_s3_bucket_acl` and
//!   `aws_s3_bucket_public_access_block` resources that name it (by
//!   `aws_s3_bucket.NAME.id`/`.bucket` or its literal name) into
//!   `versioning`, `acl_grants` and `public_access_block`, as the S3
//!   collector reports them; the legacy inline `acl`, `grant` and
//!   `versioning` arguments count when no separate resource does.
//! * `aws_s3_account_public_access_block` → `aws.s3.account_public_access_block`.

use super::{new_resource, refers_to, set, Index};
use crate::aws::{
    canned_grants_of, default_public_access_block, grant, loose_bool, never_versioned,
    private_grants, public_access_block, versioning,
};
use crate::terraform::TfResource;
use crate::value::Val;
use vigil_model::Resource;

/// The attributes of a bucket through which other resources name it.
const BUCKET_REFS: &[&str] = &["id", "bucket"];

/// Maps the S3 resource types this module handles; `None` for others.
pub(super) fn map(d: &TfResource, ix: &Index<'_>) -> Option<Resource> {
    match d.kind.as_str() {
        "aws_s3_bucket" => Some(bucket(d, ix)),
        "aws_s3_account_public_access_block" => Some(account_public_access_block(d)),
        _ => None,
    }
}

/// An argument, `None` when omitted or null.
fn arg<'a>(v: &'a Val, key: &str) -> Option<&'a Val> {
    v.get(key).filter(|v| !v.is_null())
}

fn bucket(d: &TfResource, ix: &Index<'_>) -> Resource {
    let mut r = new_resource(d, "S3", "aws.s3.bucket", Some("bucket"));
    r.uncollected.insert(
        "creation_date".into(),
        "value not known at build time: set by AWS when the bucket is created".into(),
    );
    let settings = [
        Setting {
            kind: "aws_s3_bucket_acl",
            key: "acl_grants",
            read: acl_resource_grants,
            inline: inline_acl(d),
            // No ACL: the owner's full control (ACLs are disabled on new
            // buckets, which report exactly that).
            default: private_grants(),
        },
        Setting {
            kind: "aws_s3_bucket_versioning",
            key: "versioning",
            read: versioning_resource,
            inline: inline_versioning(d),
            default: never_versioned(),
        },
        Setting {
            kind: "aws_s3_bucket_public_access_block",
            key: "public_access_block",
            read: |s| public_access_block(|k| arg(&s.attrs, k).cloned()),
            inline: None,
            // S3 turns all four settings on for new buckets (April 2023).
            default: default_public_access_block(),
        },
    ];
    for s in settings {
        fold(&mut r, ix, d, s);
    }
    r
}

/// How one attribute of a bucket is configured.
struct Setting {
    /// The satellite resource type that sets it.
    kind: &'static str,
    /// The attribute.
    key: &'static str,
    /// Its value from a satellite.
    read: fn(&TfResource) -> Val,
    /// Its value from the bucket's own (legacy) arguments, if they set it.
    inline: Option<Val>,
    /// Its value when nothing sets it.
    default: Val,
}

/// Sets an attribute from the last satellite that names the bucket; when
/// none does but one might (its target is unknown), records that in
/// `uncollected`; otherwise from the bucket's own arguments, else the default.
fn fold(r: &mut Resource, ix: &Index<'_>, d: &TfResource, s: Setting) {
    let sats = ix.satellites(s.kind, "bucket", d, BUCKET_REFS);
    if let Some(sat) = sats.matched.last() {
        set(r, s.key, Some(&(s.read)(sat)), None);
    } else if let Some(reason) = sats.unresolved.or_else(|| maybe_named(ix, s.kind, d)) {
        r.attributes.remove(s.key);
        r.uncollected.insert(s.key.into(), reason);
    } else {
        set(r, s.key, s.inline.as_ref(), s.default.to_json().ok());
    }
}

/// When the bucket's own name is unknown, a satellite naming a literal
/// bucket that no declared bucket has may be naming this one: the reason.
fn maybe_named(ix: &Index<'_>, kind: &str, d: &TfResource) -> Option<String> {
    let Some(Val::Unknown(u)) = d.attrs.get("bucket") else {
        return None;
    };
    let buckets = ix.of_kind("aws_s3_bucket");
    ix.of_kind(kind)
        .iter()
        .find(|s| {
            s.attrs.get("bucket").is_some_and(|v| {
                matches!(v, Val::String(_)) && !buckets.iter().any(|b| refers_to(v, b, BUCKET_REFS))
            })
        })
        .map(|s| format!("{} (the bucket {} may name)", u.reason(), s.address))
}

/// The first block `name` of `v`; `Err` with the unknown when the blocks
/// themselves are not known (e.g. a `dynamic` block over an unknown).
fn first_block<'a>(v: &'a Val, name: &str) -> Result<Option<&'a Val>, Val> {
    match v.get(name) {
        Some(u @ Val::Unknown(_)) => Err(u.clone()),
        _ => Ok(v.blocks(name).into_iter().next()),
    }
}

/// `aws_s3_bucket_versioning`: `versioning_configuration { status, mfa_delete }`.
fn versioning_resource(s: &TfResource) -> Val {
    let conf = match first_block(&s.attrs, "versioning_configuration") {
        Ok(Some(c)) => c,
        Ok(None) => {
            return Val::unknown(format!("{}.versioning_configuration (not set)", s.address))
        }
        Err(u) => return u,
    };
    let status = match arg(conf, "status") {
        // `Disabled` is only valid for a bucket that never had versioning.
        Some(Val::String(st)) if st == "Disabled" => Val::string(""),
        Some(v) => v.clone(),
        None => Val::unknown(format!(
            "{}.versioning_configuration.status (not set)",
            s.address
        )),
    };
    // Omitted: S3 reports no MFA delete state at all.
    let mfa = arg(conf, "mfa_delete").cloned().unwrap_or(Val::string(""));
    versioning(status, mfa)
}

/// The legacy `versioning { enabled, mfa_delete }` block of `aws_s3_bucket`.
fn inline_versioning(d: &TfResource) -> Option<Val> {
    let b = match first_block(&d.attrs, "versioning") {
        Ok(b) => b?,
        Err(u) => return Some(u),
    };
    let flag = |k: &str, on: &str| match arg(b, k).map(loose_bool).as_ref() {
        Some(Val::Bool(true)) => Val::string(on),
        // Off on a new bucket: versioning was never configured.
        Some(Val::Bool(false)) | None => Val::string(""),
        Some(other) => other.clone(),
    };
    Some(versioning(
        flag("enabled", "Enabled"),
        flag("mfa_delete", "Enabled"),
    ))
}

/// `aws_s3_bucket_acl`: a canned `acl`, or `access_control_policy` grants.
fn acl_resource_grants(s: &TfResource) -> Val {
    if let Some(acl) = arg(&s.attrs, "acl") {
        return canned_grants_of(acl, &format!("{}.acl", s.address));
    }
    let policy = match first_block(&s.attrs, "access_control_policy") {
        Ok(Some(p)) => p,
        Ok(None) => {
            return Val::unknown(format!(
                "{} (neither acl nor access_control_policy)",
                s.address
            ))
        }
        Err(u) => return u,
    };
    let text = |v: &Val, k: &str| arg(v, k).cloned().unwrap_or(Val::string(""));
    let grants = policy
        .blocks("grant")
        .into_iter()
        .filter_map(|g| {
            let grantee = g.blocks("grantee").into_iter().next()?;
            Some(grant(
                text(grantee, "type"),
                text(grantee, "uri"),
                text(grantee, "id"),
                text(g, "permission"),
            ))
        })
        .collect();
    Val::List(grants)
}

/// The legacy inline `grant { type, uri, id, permissions }` blocks or `acl`
/// argument of `aws_s3_bucket`.
fn inline_acl(d: &TfResource) -> Option<Val> {
    let grants = d.attrs.blocks("grant");
    if grants.is_empty() {
        let acl = arg(&d.attrs, "acl")?;
        return Some(canned_grants_of(acl, &format!("{}.acl", d.address)));
    }
    let text = |v: &Val, k: &str| arg(v, k).cloned().unwrap_or(Val::string(""));
    let mut out = Vec::new();
    for g in grants {
        match arg(g, "permissions") {
            Some(Val::List(ps)) => out.extend(
                ps.iter()
                    .map(|p| grant(text(g, "type"), text(g, "uri"), text(g, "id"), p.clone())),
            ),
            Some(other) => out.push(other.clone()),
            None => {}
        }
    }
    Some(Val::List(out))
}

/// `aws_s3_account_public_access_block`: omitted flags are false.
fn account_public_access_block(d: &TfResource) -> Resource {
    let mut r = new_resource(d, "S3", "aws.s3.account_public_access_block", None);
    r.attributes.insert("configured".into(), true.into());
    if let Val::Map(flags) = public_access_block(|k| arg(&d.attrs, k).cloned()) {
        for (k, v) in &flags {
            set(&mut r, k, Some(v), None);
        }
    }
    r
}

#[cfg(test)]
mod tests {
    use crate::aws::{ALL_USERS, AUTHENTICATED_USERS};
    use serde_json::json;
    use vigil_model::Resource;

    fn resources(text: &str) -> Vec<Resource> {
        let (rs, errors) =
            crate::terraform_resources(&[("main.tf".into(), text.into())], &Default::default());
        assert!(errors.is_empty(), "{errors:?}");
        rs
    }

    fn one(text: &str, id: &str) -> Resource {
        let rs = resources(text);
        match rs.into_iter().find(|r| r.id == id) {
            Some(r) => r,
            None => panic!("no {id}"),
        }
    }

    #[test]
    fn an_unconfigured_bucket_takes_the_s3_defaults() {
        let b = one(
            "resource \"aws_s3_bucket\" \"b\" {\n  bucket = \"plain\"\n}\n",
            "aws_s3_bucket.b",
        );
        assert_eq!(b.name, "plain");
        assert_eq!(b.service, "S3");
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
            b.attributes["acl_grants"],
            json!([{"grantee_type": "CanonicalUser", "grantee_uri": "", "grantee_id": "",
                    "permission": "FULL_CONTROL"}])
        );
        assert!(b.uncollected.contains_key("creation_date"));
    }

    #[test]
    fn satellites_fold_by_reference_and_by_literal_name() {
        let b = one(
            r#"
resource "aws_s3_bucket" "b" {
  bucket = "data"
}
resource "aws_s3_bucket_versioning" "v" {
  bucket = aws_s3_bucket.b.id
  versioning_configuration {
    status     = "Enabled"
    mfa_delete = "Enabled"
  }
}
resource "aws_s3_bucket_public_access_block" "p" {
  bucket            = "data"
  block_public_acls = true
}
resource "aws_s3_bucket_acl" "a" {
  bucket = aws_s3_bucket.b.bucket
  acl    = "authenticated-read"
}
resource "aws_s3_bucket_versioning" "other" {
  bucket = "someone-else"
  versioning_configuration {
    status = "Suspended"
  }
}
"#,
            "aws_s3_bucket.b",
        );
        assert_eq!(
            b.attributes["versioning"],
            json!({"status": "Enabled", "mfa_delete": "Enabled"})
        );
        // Omitted flags of the resource are false.
        assert_eq!(
            b.attributes["public_access_block"],
            json!({"block_public_acls": true, "ignore_public_acls": false,
                   "block_public_policy": false, "restrict_public_buckets": false})
        );
        assert_eq!(
            b.attributes["acl_grants"][1]["grantee_uri"],
            json!(AUTHENTICATED_USERS)
        );
        assert!(!b.uncollected.contains_key("versioning"));
    }

    #[test]
    fn legacy_inline_arguments_count_unless_a_resource_overrides_them() {
        let rs = resources(
            r#"
resource "aws_s3_bucket" "old" {
  bucket = "old"
  acl    = "public-read"
  versioning {
    enabled = true
  }
}
resource "aws_s3_bucket" "granted" {
  bucket = "granted"
  grant {
    type        = "Group"
    uri         = "http://acs.amazonaws.com/groups/global/AllUsers"
    permissions = ["READ", "WRITE"]
  }
  versioning {
    enabled = true
  }
}
resource "aws_s3_bucket_versioning" "granted" {
  bucket = aws_s3_bucket.granted.id
  versioning_configuration {
    status = "Disabled"
  }
}
"#,
        );
        let old = rs.iter().find(|r| r.name == "old").map(|r| &r.attributes);
        let old = old.cloned().unwrap_or_default();
        assert_eq!(old["acl_grants"][1]["grantee_uri"], json!(ALL_USERS));
        assert_eq!(
            old["versioning"],
            json!({"status": "Enabled", "mfa_delete": ""})
        );
        let granted = rs
            .iter()
            .find(|r| r.name == "granted")
            .map(|r| &r.attributes);
        let granted = granted.cloned().unwrap_or_default();
        assert_eq!(
            granted["acl_grants"],
            json!([
                {"grantee_type": "Group", "grantee_uri": ALL_USERS, "grantee_id": "", "permission": "READ"},
                {"grantee_type": "Group", "grantee_uri": ALL_USERS, "grantee_id": "", "permission": "WRITE"},
            ])
        );
        // The separate resource wins; `Disabled` means never versioned.
        assert_eq!(
            granted["versioning"],
            json!({"status": "", "mfa_delete": ""})
        );
    }

    #[test]
    fn access_control_policy_grants_are_read() {
        let b = one(
            r#"
resource "aws_s3_bucket" "b" {
  bucket = "b"
}
resource "aws_s3_bucket_acl" "a" {
  bucket = aws_s3_bucket.b.id
  access_control_policy {
    grant {
      grantee {
        id   = "abc123"
        type = "CanonicalUser"
      }
      permission = "FULL_CONTROL"
    }
    grant {
      grantee {
        type = "Group"
        uri  = "http://acs.amazonaws.com/groups/global/AllUsers"
      }
      permission = "READ_ACP"
    }
    owner {
      id = "abc123"
    }
  }
}
"#,
            "aws_s3_bucket.b",
        );
        assert_eq!(
            b.attributes["acl_grants"],
            json!([
                {"grantee_type": "CanonicalUser", "grantee_uri": "", "grantee_id": "abc123", "permission": "FULL_CONTROL"},
                {"grantee_type": "Group", "grantee_uri": ALL_USERS, "grantee_id": "", "permission": "READ_ACP"},
            ])
        );
    }

    #[test]
    fn unknown_values_and_unresolved_targets_are_uncollected() {
        let rs = resources(
            r#"
resource "aws_s3_bucket" "a" {
  bucket = "a"
}
resource "aws_s3_bucket_versioning" "a" {
  bucket = aws_s3_bucket.a.id
  versioning_configuration {
    status = var.status
  }
}
resource "aws_s3_bucket_acl" "a" {
  bucket = aws_s3_bucket.a.id
  acl    = "public-nonsense"
}
resource "aws_s3_bucket_public_access_block" "somewhere" {
  bucket            = var.bucket
  block_public_acls = true
}
resource "aws_s3_bucket" "unnamed" {
  bucket = var.name
}
resource "aws_s3_bucket_acl" "literal" {
  bucket = "not-declared-here"
  acl    = "private"
}
"#,
        );
        let a = rs.iter().find(|r| r.id == "aws_s3_bucket.a").cloned();
        let a = a.unwrap_or_else(|| panic!("no bucket a"));
        assert!(!a.attributes.contains_key("versioning"));
        assert_eq!(
            a.uncollected["versioning"],
            "value not known at build time: var.status"
        );
        assert!(a.uncollected["acl_grants"].contains("not a canned ACL"));
        // A block-public-access resource for an unknown bucket may be a's.
        assert!(!a.attributes.contains_key("public_access_block"));
        assert!(a.uncollected["public_access_block"]
            .starts_with("value not known at build time: var.bucket (target of"));

        let u = rs.iter().find(|r| r.id == "aws_s3_bucket.unnamed").cloned();
        let u = u.unwrap_or_else(|| panic!("no bucket unnamed"));
        assert_eq!(u.name, "aws_s3_bucket.unnamed");
        // The name is the resource's, not an attribute (as collected).
        assert!(!u.uncollected.contains_key("bucket"));
        // The literal "not-declared-here" may be this bucket's unknown name.
        assert!(u.uncollected["acl_grants"].contains("aws_s3_bucket_acl.literal"));
        // Satellites are not resources of their own.
        assert_eq!(rs.len(), 2);
    }

    #[test]
    fn the_account_public_access_block_defaults_omitted_flags_to_false() {
        let a = one(
            r#"
resource "aws_s3_account_public_access_block" "this" {
  block_public_acls   = true
  block_public_policy = var.policy
}
"#,
            "aws_s3_account_public_access_block.this",
        );
        assert_eq!(a.resource_type, "aws.s3.account_public_access_block");
        assert_eq!(a.attributes["configured"], json!(true));
        assert_eq!(a.attributes["block_public_acls"], json!(true));
        assert_eq!(a.attributes["ignore_public_acls"], json!(false));
        assert!(!a.attributes.contains_key("block_public_policy"));
        assert_eq!(
            a.uncollected["block_public_policy"],
            "value not known at build time: var.policy"
        );
    }
}
