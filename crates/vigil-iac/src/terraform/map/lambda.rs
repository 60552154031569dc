//! Terraform → normalized resources: Lambda functions
//! (`aws_lambda_function`), with `aws_lambda_permission` (the resource
//! policy) and `aws_lambda_function_url` folded in, in the shape of the live
//! collector's `aws.lambda.function`.
//!
//! The live collector reads the policy and the URL of the unqualified
//! function: permissions and URLs with a `qualifier` (an alias or a version)
//! are not part of it and are ignored here too.

use super::{new_resource, refers_to, set, unknown, Index};
use crate::terraform::TfResource;
use crate::value::{Unknown, Val};
use serde_json::{json, Value};
use vigil_model::Resource;

/// Maps the lambda resource types this module handles; `None` for others.
pub(super) fn map(d: &TfResource, ix: &Index<'_>) -> Option<Resource> {
    (d.kind == "aws_lambda_function").then(|| function(d, ix))
}

/// The attributes of a function through which satellites name it
/// (`aws_lambda_function.x.function_name`, `.arn`, `.id`, or the literal
/// function name).
const NAMES: &[&str] = &["function_name", "arn", "id"];

fn function(d: &TfResource, ix: &Index<'_>) -> Resource {
    let mut r = new_resource(d, "Lambda", "aws.lambda.function", Some("function_name"));
    let a = &d.attrs;
    // Defaults of the Lambda API: Zip packages, 128 MB, 3 s, x86_64,
    // PassThrough tracing.
    set(&mut r, "runtime", a.get("runtime"), Some(Value::Null));
    set(
        &mut r,
        "package_type",
        a.get("package_type"),
        Some(json!("Zip")),
    );
    set(&mut r, "handler", a.get("handler"), Some(Value::Null));
    set(&mut r, "role", a.get("role"), None);
    set(
        &mut r,
        "memory_size",
        a.get("memory_size"),
        Some(json!(128)),
    );
    set(&mut r, "timeout", a.get("timeout"), Some(json!(3)));
    set(
        &mut r,
        "architectures",
        a.get("architectures"),
        Some(json!(["x86_64"])),
    );
    set(
        &mut r,
        "kms_key_arn",
        a.get("kms_key_arn"),
        Some(Value::Null),
    );
    set(
        &mut r,
        "tracing_mode",
        a.blocks("tracing_config")
            .first()
            .and_then(|t| t.get("mode")),
        Some(json!("PassThrough")),
    );
    set(&mut r, "layers", a.get("layers"), Some(json!([])));
    let env = a
        .blocks("environment")
        .first()
        .and_then(|e| e.get("variables"));
    crate::secrets::set_environment_secrets(&mut r, env);
    match env {
        Some(Val::Unknown(u)) => unknown(&mut r, "environment_variables_present", u),
        Some(Val::Map(vars)) => {
            r.attributes.insert(
                "environment_variables_present".into(),
                json!(!vars.is_empty()),
            );
        }
        _ => {
            r.attributes
                .insert("environment_variables_present".into(), json!(false));
        }
    }

    let (permissions, unresolved) = satellites(ix, "aws_lambda_permission", d);
    let statements = permissions.iter().map(|p| {
        let cond = [
            "source_arn",
            "source_account",
            "principal_org_id",
            "event_source_token",
        ];
        permission_is_public(p.attrs.get("principal"), &cond.map(|k| p.attrs.get(k)))
    });
    set_policy(&mut r, statements.collect(), unresolved);

    let (urls, unresolved) = satellites(ix, "aws_lambda_function_url", d);
    let url = urls.first().map(|u| {
        (
            format!("{}.function_url", u.address),
            u.attrs.get("authorization_type"),
        )
    });
    set_url(&mut r, url, unresolved);
    r
}

/// The satellites of `kind` (permissions, URLs) that configure the
/// unqualified function `d`: by reference, by literal name or by literal
/// ARN; with the reason why one might but cannot be resolved (its
/// `function_name` is a variable without a default, a module output…).
/// A reference to another resource of the configuration that is not a
/// function (an alias, a version) does not name `d`.
fn satellites<'a>(
    ix: &Index<'a>,
    kind: &str,
    d: &TfResource,
) -> (Vec<&'a TfResource>, Option<String>) {
    let mut matched = Vec::new();
    let mut unresolved = None;
    for s in ix.of_kind(kind) {
        if s.attrs.get("qualifier").is_some_and(|q| !q.is_null()) {
            continue;
        }
        let Some(v) = s.attrs.get("function_name") else {
            continue;
        };
        let literal_arn = v.as_str().and_then(|s| s.rsplit_once(":function:"));
        let names_d = match literal_arn {
            Some((_, name)) => d.attrs.get("function_name").and_then(Val::as_str) == Some(name),
            None => refers_to(v, d, NAMES),
        };
        if names_d {
            matched.push(*s);
        } else if unresolved.is_none() {
            unresolved = ix.unresolved(v, d, s);
        }
    }
    (matched, unresolved)
}

/// Whether one statement of a function's resource policy lets anyone
/// invoke it, as the live collector judges the policy: principal `*` and
/// no condition that narrows who may use it (`conditions`: the arguments
/// that become `AWS:SourceArn`, `AWS:SourceAccount`, `aws:PrincipalOrgID`,
/// `lambda:EventSourceToken` conditions; whatever their value, once set
/// they narrow). `lambda:FunctionUrlAuthType` does not narrow.
pub(crate) fn permission_is_public<'a>(
    principal: Option<&'a Val>,
    conditions: &[Option<&'a Val>],
) -> Result<bool, &'a Unknown> {
    if conditions.iter().flatten().any(|c| !c.is_null()) {
        return Ok(false);
    }
    match principal {
        Some(Val::String(p)) => Ok(p == "*"),
        Some(Val::Unknown(u)) => Err(u),
        _ => Ok(false),
    }
}

/// Sets `resource_policy_present` and `public_policy` from the statements
/// of the function's permissions (see [`permission_is_public`]) and the
/// reason a permission's target is unknown, if any: public as soon as one
/// statement is; otherwise unknown while a statement's principal, or a
/// permission's target, is.
pub(crate) fn set_policy(
    r: &mut Resource,
    statements: Vec<Result<bool, &Unknown>>,
    unresolved: Option<String>,
) {
    if statements.is_empty() {
        match unresolved {
            Some(reason) => {
                r.uncollected
                    .insert("resource_policy_present".into(), reason.clone());
                r.uncollected.insert("public_policy".into(), reason);
            }
            // No permission: no resource policy, nobody outside the account.
            None => {
                r.attributes
                    .insert("resource_policy_present".into(), json!(false));
                r.attributes.insert("public_policy".into(), json!(false));
            }
        }
        return;
    }
    r.attributes
        .insert("resource_policy_present".into(), json!(true));
    if statements.contains(&Ok(true)) {
        r.attributes.insert("public_policy".into(), json!(true));
    } else if let Some(Err(u)) = statements.iter().find(|s| s.is_err()) {
        unknown(r, "public_policy", u);
    } else if let Some(reason) = unresolved {
        r.uncollected.insert("public_policy".into(), reason);
    } else {
        r.attributes.insert("public_policy".into(), json!(false));
    }
}

/// Sets `function_url` and `url_auth_type` from the function's URL, if any:
/// its address (`<address>.function_url`, the URL itself being known only
/// once created) and its `authorization_type`; both unknown when a URL's
/// target cannot be resolved.
pub(crate) fn set_url(
    r: &mut Resource,
    url: Option<(String, Option<&Val>)>,
    unresolved: Option<String>,
) {
    match (url, unresolved) {
        (Some((placeholder, auth)), _) => {
            r.attributes
                .insert("function_url".into(), Value::String(placeholder));
            set(r, "url_auth_type", auth, Some(Value::Null));
        }
        (None, Some(reason)) => {
            r.uncollected.insert("function_url".into(), reason.clone());
            r.uncollected.insert("url_auth_type".into(), reason);
        }
        (None, None) => {
            r.attributes.insert("function_url".into(), Value::Null);
            r.attributes.insert("url_auth_type".into(), Value::Null);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::to_resources;
    use crate::semantics::test_support::decl;
    use crate::terraform::TfResource;
    use crate::value::Val;
    use serde_json::{json, Value};
    use vigil_model::Resource;

    fn api() -> TfResource {
        decl(
            "aws_lambda_function",
            "api",
            vec![
                ("function_name", Val::string("api")),
                ("runtime", Val::string("python3.12")),
            ],
        )
    }

    fn permission(name: &str, target: Val, extra: Vec<(&str, Val)>) -> TfResource {
        let mut attrs = vec![
            ("function_name", target),
            ("action", Val::string("lambda:InvokeFunction")),
        ];
        attrs.extend(extra);
        decl("aws_lambda_permission", name, attrs)
    }

    fn function(decls: Vec<TfResource>) -> Resource {
        to_resources(&decls)
            .into_iter()
            .find(|r| r.id == "aws_lambda_function.api")
            .unwrap()
    }

    fn attr<'a>(r: &'a Resource, k: &str) -> Option<&'a Value> {
        r.attributes.get(k)
    }

    #[test]
    fn omitted_arguments_take_the_lambda_defaults() {
        let r = function(vec![api()]);
        assert_eq!(r.resource_type, "aws.lambda.function");
        assert_eq!(r.service, "Lambda");
        assert_eq!(attr(&r, "package_type"), Some(&json!("Zip")));
        assert_eq!(attr(&r, "memory_size"), Some(&json!(128)));
        assert_eq!(attr(&r, "architectures"), Some(&json!(["x86_64"])));
        assert_eq!(attr(&r, "public_policy"), Some(&json!(false)));
        assert_eq!(attr(&r, "resource_policy_present"), Some(&json!(false)));
        assert_eq!(attr(&r, "function_url"), Some(&Value::Null));
    }

    #[test]
    fn a_permission_for_anyone_is_folded_in_by_reference_name_or_arn() {
        for target in [
            Val::unknown("aws_lambda_function.api.arn"),
            Val::unknown("aws_lambda_function.api.function_name"),
            Val::string("api"),
            Val::string("arn:aws:lambda:us-east-1:123456789012:function:api"),
        ] {
            let p = permission("anyone", target, vec![("principal", Val::string("*"))]);
            let r = function(vec![api(), p]);
            assert_eq!(attr(&r, "public_policy"), Some(&json!(true)));
        }
    }

    #[test]
    fn conditions_services_and_qualifiers_are_not_public() {
        let target = || Val::unknown("aws_lambda_function.api.function_name");
        let narrowed = permission(
            "s3",
            target(),
            vec![
                ("principal", Val::string("*")),
                ("source_arn", Val::unknown("aws_s3_bucket.b.arn")),
            ],
        );
        let service = permission(
            "events",
            target(),
            vec![("principal", Val::string("events.amazonaws.com"))],
        );
        let alias = permission(
            "alias",
            target(),
            vec![
                ("principal", Val::string("*")),
                ("qualifier", Val::string("live")),
            ],
        );
        let r = function(vec![api(), narrowed, service, alias]);
        assert_eq!(attr(&r, "public_policy"), Some(&json!(false)));
        assert_eq!(attr(&r, "resource_policy_present"), Some(&json!(true)));
    }

    #[test]
    fn unknown_principals_and_targets_are_uncollected() {
        let p = permission(
            "p",
            Val::string("api"),
            vec![("principal", Val::unknown("var.principal"))],
        );
        let r = function(vec![api(), p]);
        assert!(attr(&r, "public_policy").is_none());
        assert!(r.uncollected["public_policy"].contains("var.principal"));

        let p = permission(
            "p",
            Val::unknown("var.function"),
            vec![("principal", Val::string("*"))],
        );
        let u = decl(
            "aws_lambda_function_url",
            "u",
            vec![
                ("function_name", Val::unknown("var.function")),
                ("authorization_type", Val::string("NONE")),
            ],
        );
        let r = function(vec![api(), p, u]);
        for k in ["public_policy", "function_url", "url_auth_type"] {
            assert!(attr(&r, k).is_none(), "{k}");
            assert!(r.uncollected[k].contains("var.function"), "{k}");
        }
    }

    #[test]
    fn a_permission_of_another_function_or_an_alias_is_ignored() {
        let other = decl(
            "aws_lambda_function",
            "other",
            vec![("function_name", Val::string("other"))],
        );
        let p = permission(
            "p",
            Val::unknown("aws_lambda_function.other.arn"),
            vec![("principal", Val::string("*"))],
        );
        let q = permission(
            "q",
            Val::unknown("aws_lambda_alias.live.arn"),
            vec![("principal", Val::string("*"))],
        );
        let live = decl("aws_lambda_alias", "live", vec![]);
        let r = function(vec![api(), other, p, q, live]);
        assert_eq!(attr(&r, "public_policy"), Some(&json!(false)));
        assert!(r.uncollected.is_empty(), "{:?}", r.uncollected);
    }

    #[test]
    fn a_function_url_gives_its_auth_type() {
        let u = decl(
            "aws_lambda_function_url",
            "public",
            vec![
                (
                    "function_name",
                    Val::unknown("aws_lambda_function.api.function_name"),
                ),
                ("authorization_type", Val::string("NONE")),
            ],
        );
        let r = function(vec![api(), u]);
        assert_eq!(
            attr(&r, "function_url"),
            Some(&json!("aws_lambda_function_url.public.function_url"))
        );
        assert_eq!(attr(&r, "url_auth_type"), Some(&json!("NONE")));
    }
}
