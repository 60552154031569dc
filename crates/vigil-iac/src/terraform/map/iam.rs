//! Terraform → normalized resources: iam.
//!
//! * `aws_iam_account_password_policy` → `aws.iam.password_policy`, with the
//!   provider's defaults for omitted arguments;
//! * `aws_iam_user` → `aws.iam.user`, with the policies attached to it
//!   directly folded in: `aws_iam_user_policy_attachment` and
//!   `aws_iam_policy_attachment` (`users = [...]`) into `attached_policies`
//!   (policy ARNs), `aws_iam_user_policy` into `inline_policies` (names).

use super::{new_resource, refers_to, set, Index, Satellites};
use crate::aws::loose_number;
use crate::semantics::set_folded_list;
use crate::terraform::TfResource;
use crate::value::Val;
use serde_json::Value;
use vigil_model::Resource;

/// The attributes of `aws_iam_user` another resource names it by (its id
/// is its name).
const USER_ATTRS: &[&str] = &["name", "id"];

/// Maps the iam resource types this module handles; `None` for others.
pub(super) fn map(d: &TfResource, ix: &Index<'_>) -> Option<Resource> {
    match d.kind.as_str() {
        "aws_iam_account_password_policy" => Some(password_policy(d)),
        "aws_iam_user" => Some(user(d, ix)),
        _ => None,
    }
}

fn password_policy(d: &TfResource) -> Resource {
    let a = &d.attrs;
    let mut r = new_resource(d, "IAM", "aws.iam.password_policy", None);
    r.attributes.insert("exists".into(), true.into());
    // The provider's default minimum length is 6 (IAM's minimum).
    set(
        &mut r,
        "minimum_password_length",
        a.get("minimum_password_length"),
        Some(6.into()),
    );
    for k in [
        "require_uppercase_characters",
        "require_lowercase_characters",
        "require_symbols",
        "require_numbers",
    ] {
        set(&mut r, k, a.get(k), Some(false.into()));
    }
    // Unset or 0: the provider does not send them, so IAM keeps no reuse
    // prevention and no expiry (null, as GetAccountPasswordPolicy omits them).
    for k in ["password_reuse_prevention", "max_password_age"] {
        let v = a
            .get(k)
            .map(loose_number)
            .filter(|v| v.as_f64() != Some(0.0));
        set(&mut r, k, v.as_ref(), Some(Value::Null));
    }
    r
}

fn user(d: &TfResource, ix: &Index<'_>) -> Resource {
    let mut r = new_resource(d, "IAM", "aws.iam.user", Some("name"));
    let direct = ix.satellites("aws_iam_user_policy_attachment", "user", d, USER_ATTRS);
    let shared = list_satellites(ix, "aws_iam_policy_attachment", "users", d);
    let arns: Vec<Val> = direct
        .matched
        .iter()
        .chain(&shared.matched)
        .filter_map(|s| s.attrs.get("policy_arn").map(|v| ix.stand_in(v, s)))
        .collect();
    set_folded_list(
        &mut r,
        "attached_policies",
        arns,
        direct.unresolved.or(shared.unresolved),
    );
    let inline = ix.satellites("aws_iam_user_policy", "user", d, USER_ATTRS);
    let names: Vec<Val> = inline
        .matched
        .iter()
        .map(|s| match s.attrs.get("name").filter(|n| !n.is_null()) {
            Some(n) => ix.stand_in(n, s),
            // `name_prefix` or nothing: the name is chosen at apply time;
            // the policy is declared, its expression stands for it.
            None => Val::String(format!("{}.name", s.address)),
        })
        .collect();
    set_folded_list(&mut r, "inline_policies", names, inline.unresolved);
    r
}

/// The blocks of type `kind` whose list argument `arg` names the user `u`
/// in one of its elements (`users = [aws_iam_user.u.name, "bob"]`).
fn list_satellites<'a>(ix: &Index<'a>, kind: &str, arg: &str, u: &TfResource) -> Satellites<'a> {
    let mut out = Satellites {
        matched: Vec::new(),
        unresolved: None,
    };
    for s in ix.of_kind(kind) {
        let elements: Vec<&Val> = match s.attrs.get(arg) {
            Some(Val::List(items)) => items.iter().collect(),
            Some(other) => vec![other],
            None => continue,
        };
        if elements.iter().any(|v| refers_to(v, u, USER_ATTRS)) {
            out.matched.push(s);
            continue;
        }
        if out.unresolved.is_none() {
            out.unresolved = elements.iter().find_map(|v| ix.unresolved(v, u, s));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use crate::semantics::test_support::{attr, by_id, tf, uncollected, verdict};
    use serde_json::json;
    use vigil_model::EvalResult::{Fail, Skip};

    #[test]
    fn an_empty_password_policy_gets_the_provider_defaults() {
        let rs = tf(r#"resource "aws_iam_account_password_policy" "p" {}"#);
        let p = by_id(&rs, "aws_iam_account_password_policy.p");
        assert_eq!(p.resource_type, "aws.iam.password_policy");
        assert_eq!(attr(p, "minimum_password_length"), Some(&json!(6)));
        assert_eq!(attr(p, "require_symbols"), Some(&json!(false)));
        assert_eq!(attr(p, "require_uppercase_characters"), Some(&json!(false)));
        assert_eq!(attr(p, "password_reuse_prevention"), Some(&json!(null)));
        assert_eq!(attr(p, "max_password_age"), Some(&json!(null)));
    }

    #[test]
    fn zero_reuse_and_age_mean_unset_and_unknowns_are_uncollected() {
        let rs = tf(r#"resource "aws_iam_account_password_policy" "p" {
  password_reuse_prevention = 0
  max_password_age          = 60
  minimum_password_length   = var.min_length
}"#);
        let p = by_id(&rs, "aws_iam_account_password_policy.p");
        assert_eq!(attr(p, "password_reuse_prevention"), Some(&json!(null)));
        assert_eq!(attr(p, "max_password_age"), Some(&json!(60)));
        assert!(uncollected(p, "minimum_password_length", "var.min_length"));
    }

    #[test]
    fn policies_naming_a_user_by_reference_or_literal_name_are_folded_in() {
        let rs = tf(r#"
resource "aws_iam_user" "alice" { name = "alice" }
resource "aws_iam_user" "bob" { name = "bob" }
resource "aws_iam_user_policy_attachment" "a" {
  user       = aws_iam_user.alice.name
  policy_arn = "arn:aws:iam::aws:policy/ReadOnlyAccess"
}
resource "aws_iam_policy_attachment" "shared" {
  name       = "shared"
  users      = ["carol", aws_iam_user.alice.id]
  policy_arn = "arn:aws:iam::aws:policy/AdministratorAccess"
}
resource "aws_iam_user_policy" "inline" {
  name   = "alice-s3"
  user   = "alice"
  policy = "{}"
}
"#);
        let alice = by_id(&rs, "aws_iam_user.alice");
        assert_eq!(alice.name, "alice");
        assert_eq!(
            attr(alice, "attached_policies"),
            Some(&json!([
                "arn:aws:iam::aws:policy/ReadOnlyAccess",
                "arn:aws:iam::aws:policy/AdministratorAccess"
            ]))
        );
        assert_eq!(attr(alice, "inline_policies"), Some(&json!(["alice-s3"])));
        let bob = by_id(&rs, "aws_iam_user.bob");
        assert_eq!(attr(bob, "attached_policies"), Some(&json!([])));
        assert_eq!(attr(bob, "inline_policies"), Some(&json!([])));
    }

    #[test]
    fn unknown_policy_arns_names_and_targets_leave_the_lists_uncollected() {
        let rs = tf(r#"
resource "aws_iam_user" "alice" { name = "alice" }
resource "aws_iam_user" "bob" { name = "bob" }
resource "aws_iam_user_policy_attachment" "a" {
  user       = aws_iam_user.alice.name
  policy_arn = aws_iam_policy.p.arn
}
resource "aws_iam_user_policy" "generated" {
  user   = aws_iam_user.alice.name
  policy = "{}"
}
resource "aws_iam_user_policy" "somewhere" {
  name   = "x"
  user   = var.user
  policy = "{}"
}
"#);
        // aws_iam_policy.p is not declared: its ARN might be anything.
        let alice = by_id(&rs, "aws_iam_user.alice");
        assert!(uncollected(
            alice,
            "attached_policies",
            "aws_iam_policy.p.arn"
        ));
        // The generated name of a declared policy stands for itself.
        assert_eq!(
            attr(alice, "inline_policies"),
            Some(&json!(["aws_iam_user_policy.generated.name"]))
        );
        // var.user might be bob: his inline policies are not known.
        let bob = by_id(&rs, "aws_iam_user.bob");
        assert!(uncollected(bob, "inline_policies", "var.user"));
        assert_eq!(attr(bob, "attached_policies"), Some(&json!([])));
    }

    #[test]
    fn a_policy_declared_alongside_stands_for_its_arn_a_variable_does_not() {
        let user = |arn: &str| {
            let rs = tf(&format!(
                r#"
variable "arn" {{ type = string }}
resource "aws_iam_policy" "p" {{ policy = "{{}}" }}
resource "aws_iam_user" "u" {{ name = "u" }}
resource "aws_iam_user_policy_attachment" "a" {{
  user       = aws_iam_user.u.name
  policy_arn = {arn}
}}
"#
            ));
            by_id(&rs, "aws_iam_user.u").clone()
        };
        let u = user("aws_iam_policy.p.arn");
        assert_eq!(
            attr(&u, "attached_policies"),
            Some(&json!(["aws_iam_policy.p.arn"]))
        );
        assert_eq!(verdict(&u, 17), Some(Fail));
        for unknown in ["var.arn", "data.aws_iam_policy.x.arn"] {
            let u = user(unknown);
            assert!(uncollected(&u, "attached_policies", unknown), "{unknown}");
            assert_eq!(verdict(&u, 17), Some(Skip), "{unknown}");
        }
    }
}
