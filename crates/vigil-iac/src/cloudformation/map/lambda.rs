//! CloudFormation → normalized resources: Lambda functions
//! (`AWS::Lambda::Function`), with `AWS::Lambda::Permission` (the resource
//! policy) and `AWS::Lambda::Url` folded in, in the shape of the live
//! collector's `aws.lambda.function` (same policy and URL rules as the
//! Terraform mapper).
//!
//! Permissions and URLs of an alias or a version (`Qualifier`, or a
//! `FunctionName` naming an `AWS::Lambda::Alias`/`Version`) are not the
//! unqualified function's, which is all the live collector reads.

use super::{new_resource, refers_to, set, unknown, Index};
use crate::cloudformation::CfnResource;
use crate::terraform::map::lambda::{permission_is_public, set_policy, set_url};
use crate::value::Val;
use serde_json::{json, Value};
use vigil_model::Resource;

/// Maps the lambda resource types this module handles; `None` for others.
pub(super) fn map(r: &CfnResource, ix: &Index<'_>) -> Option<Resource> {
    (r.resource_type == "AWS::Lambda::Function").then(|| function(r, ix))
}

fn function(f: &CfnResource, ix: &Index<'_>) -> Resource {
    let mut r = new_resource(f, "Lambda", "aws.lambda.function", Some("FunctionName"));
    let p = &f.props;
    // Defaults of the Lambda API: Zip packages, 128 MB, 3 s, x86_64,
    // PassThrough tracing.
    set(&mut r, "runtime", p.get("Runtime"), Some(Value::Null));
    set(
        &mut r,
        "package_type",
        p.get("PackageType"),
        Some(json!("Zip")),
    );
    set(&mut r, "handler", p.get("Handler"), Some(Value::Null));
    set(&mut r, "role", p.get("Role"), None);
    set(&mut r, "memory_size", p.get("MemorySize"), Some(json!(128)));
    set(&mut r, "timeout", p.get("Timeout"), Some(json!(3)));
    set(
        &mut r,
        "architectures",
        p.get("Architectures"),
        Some(json!(["x86_64"])),
    );
    set(&mut r, "kms_key_arn", p.get("KmsKeyArn"), Some(Value::Null));
    set(
        &mut r,
        "tracing_mode",
        p.path("TracingConfig.Mode"),
        Some(json!("PassThrough")),
    );
    set(&mut r, "layers", p.get("Layers"), Some(json!([])));
    crate::secrets::set_environment_secrets(&mut r, p.path("Environment.Variables"));
    match p.path("Environment.Variables") {
        Some(Val::Unknown(u)) => unknown(&mut r, "environment_variables_present", u),
        v => {
            let present = v.and_then(Val::as_map).is_some_and(|m| !m.is_empty());
            r.attributes
                .insert("environment_variables_present".into(), json!(present));
        }
    }

    let (permissions, unresolved) = satellites(ix, "AWS::Lambda::Permission", "FunctionName", f);
    let statements = permissions
        .iter()
        .map(|s| {
            let cond = [
                "SourceArn",
                "SourceAccount",
                "PrincipalOrgID",
                "EventSourceToken",
            ];
            permission_is_public(s.props.get("Principal"), &cond.map(|k| s.props.get(k)))
        })
        .collect();
    set_policy(&mut r, statements, unresolved);

    let (urls, unresolved) = satellites(ix, "AWS::Lambda::Url", "TargetFunctionArn", f);
    let url = urls.first().map(|u| {
        (
            format!("!GetAtt {}.FunctionUrl", u.logical_id),
            u.props.get("AuthType"),
        )
    });
    set_url(&mut r, url, unresolved);
    r
}

/// The satellites of `resource_type` whose `prop` names the unqualified
/// function `f` (`!Ref`, `!GetAtt`, its literal name or ARN), with the
/// reason why one might but cannot be resolved.
fn satellites<'a>(
    ix: &Index<'a>,
    resource_type: &str,
    prop: &str,
    f: &CfnResource,
) -> (Vec<&'a CfnResource>, Option<String>) {
    let mut matched = Vec::new();
    let mut unresolved = None;
    for s in ix.of_type(resource_type) {
        if s.props.get("Qualifier").is_some_and(|q| !q.is_null()) {
            continue;
        }
        let Some(v) = s.props.get(prop) else {
            continue;
        };
        let names_f = match v.as_str().and_then(|a| a.rsplit_once(":function:")) {
            Some((_, name)) => f.props.get("FunctionName").and_then(Val::as_str) == Some(name),
            None => refers_to(v, f, &["FunctionName"]),
        };
        if names_f {
            matched.push(*s);
        } else if unresolved.is_none() {
            // An alias, a version or another function of the template is
            // not `f`; a parameter or an import might be.
            unresolved = ix.unresolved(v, f, s);
        }
    }
    (matched, unresolved)
}

#[cfg(test)]
mod tests {
    use crate::cloudformation::cloudformation_resources;
    use serde_json::{json, Value};
    use vigil_model::Resource;

    const FUNCTION: &str = "Resources:\n  Api:\n    Type: AWS::Lambda::Function\n    Properties:\n      FunctionName: api\n      Runtime: nodejs20.x\n      Handler: index.handler\n      Role: !GetAtt Role.Arn\n      Code: {ZipFile: 'exports.handler = async () => 1'}\n";

    fn api(more: &str) -> Resource {
        let text = format!("{FUNCTION}{more}");
        let (rs, errors) = cloudformation_resources(&[("t.yaml".into(), text)]);
        assert!(errors.is_empty(), "{errors:?}");
        rs.into_iter().find(|r| r.id == "Api").unwrap()
    }

    fn attr<'a>(r: &'a Resource, k: &str) -> Option<&'a Value> {
        r.attributes.get(k)
    }

    #[test]
    fn omitted_properties_take_the_lambda_defaults() {
        let r = api("");
        assert_eq!(r.name, "api");
        assert_eq!(attr(&r, "runtime"), Some(&json!("nodejs20.x")));
        assert_eq!(attr(&r, "package_type"), Some(&json!("Zip")));
        assert_eq!(attr(&r, "timeout"), Some(&json!(3)));
        assert_eq!(attr(&r, "public_policy"), Some(&json!(false)));
        assert_eq!(attr(&r, "function_url"), Some(&Value::Null));
    }

    #[test]
    fn public_permissions_are_folded_in_by_ref_getatt_or_name() {
        for target in ["!Ref Api", "!GetAtt Api.Arn", "api"] {
            let r = api(&format!(
                "  Anyone:\n    Type: AWS::Lambda::Permission\n    Properties:\n      FunctionName: {target}\n      Action: lambda:InvokeFunction\n      Principal: '*'\n"
            ));
            assert_eq!(attr(&r, "public_policy"), Some(&json!(true)), "{target}");
        }
    }

    #[test]
    fn narrowed_or_alias_permissions_are_not_public() {
        let r = api("  S3:\n    Type: AWS::Lambda::Permission\n    Properties:\n      FunctionName: !Ref Api\n      Action: lambda:InvokeFunction\n      Principal: '*'\n      SourceAccount: !Ref AWS::AccountId\n  Live:\n    Type: AWS::Lambda::Alias\n    Properties:\n      FunctionName: !Ref Api\n      FunctionVersion: '1'\n      Name: live\n  OnAlias:\n    Type: AWS::Lambda::Permission\n    Properties:\n      FunctionName: !Ref Live\n      Action: lambda:InvokeFunction\n      Principal: '*'\n");
        assert_eq!(attr(&r, "public_policy"), Some(&json!(false)));
        assert_eq!(attr(&r, "resource_policy_present"), Some(&json!(true)));
        assert!(!r.uncollected.contains_key("public_policy"));
    }

    #[test]
    fn a_url_gives_its_auth_type_and_unknown_targets_are_uncollected() {
        let r = api("  Url:\n    Type: AWS::Lambda::Url\n    Properties:\n      TargetFunctionArn: !GetAtt Api.Arn\n      AuthType: NONE\n");
        assert_eq!(
            attr(&r, "function_url"),
            Some(&json!("!GetAtt Url.FunctionUrl"))
        );
        assert_eq!(attr(&r, "url_auth_type"), Some(&json!("NONE")));

        let r = api("  Url:\n    Type: AWS::Lambda::Url\n    Properties:\n      TargetFunctionArn: !Ref FunctionArnParam\n      AuthType: NONE\n");
        assert!(attr(&r, "function_url").is_none());
        assert!(r.uncollected["url_auth_type"].contains("FunctionArnParam"));
    }
}
