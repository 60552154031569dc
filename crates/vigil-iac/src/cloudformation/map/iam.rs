//! CloudFormation → normalized resources: iam.
//!
//! `AWS::IAM::User` → `aws.iam.user`: `ManagedPolicyArns` and the
//! `AWS::IAM::ManagedPolicy` resources listing the user in `Users` give
//! `attached_policies`; `Policies`, the `AWS::IAM::Policy` resources
//! listing it and the `AWS::IAM::UserPolicy` resources naming it
//! (`UserName`) give `inline_policies`. (CloudFormation has no account
//! password policy resource.)

use super::{new_resource, refers_to, Index, Satellites};
use crate::cloudformation::CfnResource;
use crate::semantics::set_folded_list;
use crate::value::Val;
use vigil_model::Resource;

/// The property another resource may name the user by, literally.
const USER_NAME: &[&str] = &["UserName"];

/// Maps the iam resource types this module handles; `None` for others.
pub(super) fn map(r: &CfnResource, ix: &Index<'_>) -> Option<Resource> {
    (r.resource_type == "AWS::IAM::User").then(|| user(r, ix))
}

fn user(u: &CfnResource, ix: &Index<'_>) -> Resource {
    let p = &u.props;
    let mut r = new_resource(u, "IAM", "aws.iam.user", Some("UserName"));

    let managed = users_satellites(ix, "AWS::IAM::ManagedPolicy", u);
    let mut arns: Vec<Val> = match p.get("ManagedPolicyArns") {
        Some(Val::List(items)) => items.iter().map(|i| ix.stand_in(i, u)).collect(),
        Some(other) if !other.is_null() => vec![ix.stand_in(other, u)],
        _ => Vec::new(),
    };
    // A managed policy's ARN is known only once it is created: its `!Ref`
    // stands for it.
    arns.extend(
        managed
            .matched
            .iter()
            .map(|m| Val::String(format!("!Ref {}", m.logical_id))),
    );
    set_folded_list(&mut r, "attached_policies", arns, managed.unresolved);

    let inline = users_satellites(ix, "AWS::IAM::Policy", u);
    let mut names: Vec<Val> = match p.get("Policies") {
        Some(Val::List(items)) => items
            .iter()
            .map(|i| match i {
                Val::Unknown(_) => i.clone(),
                _ => i.get("PolicyName").map_or(Val::Null, |n| ix.stand_in(n, u)),
            })
            .collect(),
        Some(u @ Val::Unknown(_)) => vec![u.clone()],
        _ => Vec::new(),
    };
    let user_policies = ix.satellites("AWS::IAM::UserPolicy", "UserName", u, USER_NAME);
    names.extend(
        inline
            .matched
            .iter()
            .chain(&user_policies.matched)
            .map(|s| {
                s.props
                    .get("PolicyName")
                    .map_or(Val::Null, |n| ix.stand_in(n, s))
            }),
    );
    names.retain(|n| !n.is_null());
    set_folded_list(
        &mut r,
        "inline_policies",
        names,
        inline.unresolved.or(user_policies.unresolved),
    );
    r
}

/// The resources of `resource_type` whose `Users` list names the user `u`
/// (`!Ref U` or its literal `UserName`).
fn users_satellites<'a>(ix: &Index<'a>, resource_type: &str, u: &CfnResource) -> Satellites<'a> {
    let mut out = Satellites {
        matched: Vec::new(),
        unresolved: None,
    };
    for s in ix.of_type(resource_type) {
        let elements: Vec<&Val> = match s.props.get("Users") {
            Some(Val::List(items)) => items.iter().collect(),
            Some(other) => vec![other],
            None => continue,
        };
        if elements.iter().any(|v| refers_to(v, u, USER_NAME)) {
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
    use crate::semantics::test_support::{attr, by_id, cfn, uncollected, verdict};
    use serde_json::json;
    use vigil_model::EvalResult::{Fail, Skip};

    #[test]
    fn inline_and_managed_policies_of_a_user_and_its_satellites_are_folded_in() {
        let rs = cfn(r#"
Resources:
  Alice:
    Type: AWS::IAM::User
    Properties:
      UserName: alice
      ManagedPolicyArns: [arn:aws:iam::aws:policy/ReadOnlyAccess]
      Policies:
        - PolicyName: own
          PolicyDocument: {}
  Bob:
    Type: AWS::IAM::User
  ByRef:
    Type: AWS::IAM::Policy
    Properties:
      PolicyName: by-ref
      PolicyDocument: {}
      Users: [!Ref Alice]
  ByName:
    Type: AWS::IAM::Policy
    Properties:
      PolicyName: by-name
      PolicyDocument: {}
      Users: [alice]
  UserPolicy:
    Type: AWS::IAM::UserPolicy
    Properties:
      PolicyName: user-policy
      PolicyDocument: {}
      UserName: !Ref Alice
"#);
        let alice = by_id(&rs, "Alice");
        assert_eq!(alice.resource_type, "aws.iam.user");
        assert_eq!(alice.name, "alice");
        assert_eq!(
            attr(alice, "attached_policies"),
            Some(&json!(["arn:aws:iam::aws:policy/ReadOnlyAccess"]))
        );
        let mut inline: Vec<String> = attr(alice, "inline_policies")
            .and_then(|v| serde_json::from_value(v.clone()).ok())
            .unwrap_or_default();
        inline.sort();
        assert_eq!(inline, ["by-name", "by-ref", "own", "user-policy"]);
        let bob = by_id(&rs, "Bob");
        assert_eq!(attr(bob, "attached_policies"), Some(&json!([])));
        assert_eq!(attr(bob, "inline_policies"), Some(&json!([])));
    }

    #[test]
    fn a_managed_policy_of_the_template_stands_for_its_arn_a_parameter_does_not() {
        let rs = cfn(r#"
Resources:
  Alice:
    Type: AWS::IAM::User
  Bob:
    Type: AWS::IAM::User
  Managed:
    Type: AWS::IAM::ManagedPolicy
    Properties:
      PolicyDocument: {}
      Users: [!Ref Alice]
  Carol:
    Type: AWS::IAM::User
    Properties:
      ManagedPolicyArns: [!Ref PolicyParam]
  Dave:
    Type: AWS::IAM::User
    Properties:
      ManagedPolicyArns: [!Ref Managed]
  Somewhere:
    Type: AWS::IAM::Policy
    Properties:
      PolicyName: x
      PolicyDocument: {}
      Users: [!Ref UserParam]
"#);
        let alice = by_id(&rs, "Alice");
        assert_eq!(
            attr(alice, "attached_policies"),
            Some(&json!(["!Ref Managed"]))
        );
        assert_eq!(verdict(alice, 17), Some(Fail));
        let dave = by_id(&rs, "Dave");
        assert_eq!(
            attr(dave, "attached_policies"),
            Some(&json!(["!Ref Managed"]))
        );
        assert_eq!(verdict(dave, 17), Some(Fail));
        let carol = by_id(&rs, "Carol");
        assert!(uncollected(carol, "attached_policies", "!Ref PolicyParam"));
        assert_eq!(verdict(carol, 17), Some(Skip));
        let bob = by_id(&rs, "Bob");
        assert!(uncollected(bob, "inline_policies", "!Ref UserParam"));
        assert_eq!(attr(bob, "attached_policies"), Some(&json!([])));
    }
}
