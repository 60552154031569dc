//! Lambda functions: runtime, role, network placement, function URL and
//! whether the resource policy lets anyone invoke them. Environment variables
//! are recorded as present or not; their values, often secrets, never are.

use super::{drain, ec2_arn, link, missing, policy_is_public, set, text_time, Ctx, Part};
use crate::config::in_region;
use crate::error::{code_of, failed};
use serde_json::{json, Value};
use std::sync::Arc;

pub async fn collect(ctx: Arc<Ctx>, region: String) -> Part {
    let mut part = Part::default();
    let lambda = aws_sdk_lambda::Client::new(&in_region(&ctx.sdk, &region));
    let account = ctx.account.as_str();

    let (functions, err) = drain!(
        lambda.list_functions().into_paginator().items().send(),
        "lambda",
        &region,
        "lambda:ListFunctions"
    );
    part.errors.extend(err);
    for f in functions {
        let name = f.function_name().unwrap_or_default();
        let arn = f
            .function_arn()
            .map(String::from)
            .unwrap_or_else(|| format!("arn:aws:lambda:{region}:{account}:function:{name}"));
        let mut r = ctx.resource(
            &region,
            "Lambda",
            "aws.lambda.function",
            arn.clone(),
            name.to_string(),
        );
        set(&mut r, "runtime", f.runtime().map(|x| x.as_str()));
        set(&mut r, "package_type", f.package_type().map(|x| x.as_str()));
        set(&mut r, "handler", f.handler());
        set(&mut r, "role", f.role());
        set(&mut r, "memory_size", f.memory_size());
        set(&mut r, "timeout", f.timeout());
        set(&mut r, "last_modified", text_time(f.last_modified()));
        set(
            &mut r,
            "architectures",
            f.architectures()
                .iter()
                .map(|a| a.as_str())
                .collect::<Vec<_>>(),
        );
        set(&mut r, "kms_key_arn", f.kms_key_arn());
        set(
            &mut r,
            "tracing_mode",
            f.tracing_config()
                .and_then(|t| t.mode())
                .map(|m| m.as_str()),
        );
        set(
            &mut r,
            "dead_letter_target",
            f.dead_letter_config().and_then(|d| d.target_arn()),
        );
        set(
            &mut r,
            "layers",
            f.layers()
                .iter()
                .filter_map(|l| l.arn())
                .collect::<Vec<_>>(),
        );
        let env_present = f
            .environment()
            .and_then(|e| e.variables())
            .is_some_and(|v| !v.is_empty());
        set(&mut r, "environment_variables_present", env_present);

        let vpc = f.vpc_config();
        let subnets: Vec<&str> = vpc
            .map(|v| v.subnet_ids().iter().map(String::as_str).collect())
            .unwrap_or_default();
        let groups: Vec<&str> = vpc
            .map(|v| v.security_group_ids().iter().map(String::as_str).collect())
            .unwrap_or_default();
        let vpc_id = vpc.and_then(|v| v.vpc_id()).filter(|v| !v.is_empty());
        set(
            &mut r,
            "vpc_config",
            match vpc_id {
                Some(id) => json!({
                    "vpc_id": id,
                    "subnet_ids": subnets,
                    "security_group_ids": groups,
                }),
                None => Value::Null,
            },
        );
        set(&mut r, "in_vpc", vpc_id.is_some());

        match lambda.get_policy().function_name(&arn).send().await {
            Ok(out) => {
                let doc = out.policy().unwrap_or("{}");
                set(&mut r, "resource_policy_present", true);
                set(
                    &mut r,
                    "public_policy",
                    policy_is_public(doc).unwrap_or(false),
                );
            }
            // No resource policy: nobody outside the account may invoke it.
            Err(e) if code_of(&e) == Some("ResourceNotFoundException") => {
                set(&mut r, "resource_policy_present", false);
                set(&mut r, "public_policy", false);
            }
            Err(e) => {
                let err = failed("lambda", &region, "lambda:GetPolicy", &e);
                missing(&mut r, "resource_policy_present", &err);
                missing(&mut r, "public_policy", &err);
            }
        }

        match lambda
            .get_function_url_config()
            .function_name(&arn)
            .send()
            .await
        {
            Ok(out) => {
                set(&mut r, "function_url", out.function_url());
                set(&mut r, "url_auth_type", out.auth_type().as_str());
            }
            Err(e) if code_of(&e) == Some("ResourceNotFoundException") => {
                set(&mut r, "function_url", Value::Null);
                set(&mut r, "url_auth_type", Value::Null);
            }
            Err(e) => {
                let err = failed("lambda", &region, "lambda:GetFunctionUrlConfig", &e);
                missing(&mut r, "function_url", &err);
                missing(&mut r, "url_auth_type", &err);
            }
        }

        match lambda.list_tags().resource(&arn).send().await {
            Ok(out) => {
                for (k, v) in out.tags().into_iter().flatten() {
                    r.tags.insert(k.clone(), v.clone());
                }
            }
            Err(e) => part
                .errors
                .push(failed("lambda", &region, "lambda:ListTags", &e)),
        }

        if let Some(role) = f.role() {
            r.associations.push(link("uses", "aws.iam.role", role));
        }
        if let Some(key) = f.kms_key_arn() {
            r.associations.push(link("uses", "aws.kms.key", key));
        }
        for g in &groups {
            r.associations.push(link(
                "uses",
                "aws.ec2.security_group",
                ec2_arn(&region, account, "security-group", g),
            ));
        }
        for s in &subnets {
            r.associations.push(link(
                "member_of",
                "aws.ec2.subnet",
                ec2_arn(&region, account, "subnet", s),
            ));
        }
        if let Some(v) = vpc_id {
            r.associations.push(link(
                "member_of",
                "aws.ec2.vpc",
                ec2_arn(&region, account, "vpc", v),
            ));
        }
        part.resources.push(r);
    }
    part
}
