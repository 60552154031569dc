//! One module per AWS service. Each `collect` returns the resources it found
//! and the calls that failed; none of them stops the scan.

pub mod autoscaling;
pub mod cloudtrail;
pub mod ebs;
pub mod ec2;
pub mod eks;
pub mod elbv2;
pub mod iam;
pub mod iam_account;
pub mod instances;
pub mod kms;
pub mod lambda;
pub mod rds;
pub mod s3;
pub mod s3_account;
pub mod vpc;

use crate::error::CollectError;
use aws_config::SdkConfig;
use serde_json::{Map, Value};
use vigil_model::{Association, Origin, Provider, Resource};

/// What every collector needs.
pub struct Ctx {
    pub sdk: SdkConfig,
    pub account: String,
    pub connector: String,
    pub run: String,
    /// Talking to an emulator (an endpoint override is set).
    pub emulator: bool,
}

/// A collector's findings.
#[derive(Debug, Default)]
pub struct Part {
    pub resources: Vec<Resource>,
    pub errors: Vec<CollectError>,
}

impl Ctx {
    /// A resource of this account with its origin filled in.
    pub fn resource(
        &self,
        region: &str,
        service: &str,
        resource_type: &str,
        id: String,
        name: String,
    ) -> Resource {
        Resource {
            provider: Provider::Aws,
            account: self.account.clone(),
            region: region.to_string(),
            service: service.to_string(),
            resource_type: resource_type.to_string(),
            id,
            name,
            tags: Default::default(),
            attributes: Map::new(),
            associations: Vec::new(),
            uncollected: Default::default(),
            suppressed: Default::default(),
            first_discovered: None,
            last_updated: None,
            origin: Origin::Connector {
                connector: self.connector.clone(),
                run: self.run.clone(),
            },
        }
    }
}

/// Sets an attribute.
pub fn set(r: &mut Resource, key: &str, value: impl Into<Value>) {
    r.attributes.insert(key.to_string(), value.into());
}

/// Records that an attribute could not be collected, and why.
pub fn missing(r: &mut Resource, key: &str, e: &CollectError) {
    r.uncollected.insert(key.to_string(), e.reason());
}

/// An SDK time as RFC 3339 text, the form controls parse with `timestamp()`.
pub fn time(t: Option<&aws_smithy_types::DateTime>) -> Value {
    match t.and_then(|t| chrono::DateTime::from_timestamp(t.secs(), t.subsec_nanos())) {
        Some(t) => Value::String(t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
        None => Value::Null,
    }
}

/// Drains an item paginator: `(everything listed, the failure that cut the
/// listing short)`. A failed page keeps what came before it.
macro_rules! drain {
    ($items:expr, $service:literal, $region:expr, $action:literal) => {{
        let mut items = $items;
        let mut all = Vec::new();
        let mut err = None;
        while let Some(item) = items.next().await {
            match item {
                Ok(x) => all.push(x),
                Err(e) => {
                    err = Some($crate::error::failed($service, $region, $action, &e));
                    break;
                }
            }
        }
        (all, err)
    }};
}
pub(crate) use drain;

/// A link from a resource to another one.
pub fn link(relation: &str, resource_type: &str, id: impl Into<String>) -> Association {
    Association {
        relation: relation.to_string(),
        resource_type: resource_type.to_string(),
        id: id.into(),
    }
}

/// The ARN of an EC2 resource (`vpc`, `subnet`, `instance`, …) of `account`,
/// for the APIs that give only the id.
pub fn ec2_arn(region: &str, account: &str, kind: &str, id: &str) -> String {
    format!("arn:aws:ec2:{region}:{account}:{kind}/{id}")
}

/// EC2 tags into the resource; the `Name` tag, if any, becomes its name.
pub fn ec2_tags(r: &mut Resource, tags: &[aws_sdk_ec2::types::Tag]) {
    for t in tags {
        if let (Some(k), Some(v)) = (t.key(), t.value()) {
            if k == "Name" && !v.is_empty() {
                r.name = v.to_string();
            }
            r.tags.insert(k.to_string(), v.to_string());
        }
    }
}

/// A timestamp some APIs give as text (Lambda's `2024-05-01T10:00:00.000+0000`,
/// the credential report's `2024-05-01T10:00:00+00:00`) as RFC 3339 UTC text;
/// null when it is absent or not a time (`N/A`, `no_information`).
pub fn text_time(t: Option<&str>) -> Value {
    let Some(t) = t else { return Value::Null };
    let parsed = chrono::DateTime::parse_from_rfc3339(t)
        .or_else(|_| chrono::DateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S%.f%z"));
    match parsed {
        Ok(t) => Value::String(
            t.with_timezone(&chrono::Utc)
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        ),
        Err(_) => Value::Null,
    }
}

/// Whether a resource policy (Lambda, KMS, …) lets anyone in: an `Allow`
/// statement whose principal is `*` (or `{"AWS": "*"}`, or a `NotPrincipal`)
/// and that has no condition narrowing who may call. A Lambda function URL's
/// `lambda:FunctionUrlAuthType` condition narrows nothing and is ignored.
/// `None` when the document is not JSON.
pub fn policy_is_public(doc: &str) -> Option<bool> {
    let doc: Value = serde_json::from_str(doc).ok()?;
    let statements = match doc.get("Statement") {
        Some(Value::Array(list)) => list.clone(),
        Some(one @ Value::Object(_)) => vec![one.clone()],
        _ => Vec::new(),
    };
    Some(statements.iter().any(|s| {
        let allow = s.get("Effect").and_then(Value::as_str) == Some("Allow");
        let anyone =
            s.get("NotPrincipal").is_some() || s.get("Principal").is_some_and(principal_is_anyone);
        allow && anyone && !narrowed(s.get("Condition"))
    }))
}

fn principal_is_anyone(p: &Value) -> bool {
    match p {
        Value::String(s) => s == "*",
        Value::Array(list) => list.iter().any(principal_is_anyone),
        Value::Object(map) => map.values().any(principal_is_anyone),
        _ => false,
    }
}

/// Whether a statement's condition limits who may use it.
fn narrowed(condition: Option<&Value>) -> bool {
    let Some(Value::Object(operators)) = condition else {
        return false;
    };
    operators.values().any(|keys| match keys {
        Value::Object(keys) => keys
            .keys()
            .any(|k| !k.eq_ignore_ascii_case("lambda:FunctionUrlAuthType")),
        _ => true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_policies_are_recognized() {
        let public = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"lambda:InvokeFunction","Resource":"*"}]}"#;
        assert_eq!(policy_is_public(public), Some(true));
        let aws_star =
            r#"{"Statement":{"Effect":"Allow","Principal":{"AWS":["*"]},"Action":"kms:*"}}"#;
        assert_eq!(policy_is_public(aws_star), Some(true));
        let url = r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"lambda:InvokeFunctionUrl","Condition":{"StringEquals":{"lambda:FunctionUrlAuthType":"NONE"}}}]}"#;
        assert_eq!(policy_is_public(url), Some(true));
        let narrowed = r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"lambda:InvokeFunction","Condition":{"ArnLike":{"AWS:SourceArn":"arn:aws:s3:::b"}}}]}"#;
        assert_eq!(policy_is_public(narrowed), Some(false));
        let service = r#"{"Statement":[{"Effect":"Allow","Principal":{"Service":"s3.amazonaws.com"},"Action":"lambda:InvokeFunction"}]}"#;
        assert_eq!(policy_is_public(service), Some(false));
        let deny = r#"{"Statement":[{"Effect":"Deny","Principal":"*","Action":"*"}]}"#;
        assert_eq!(policy_is_public(deny), Some(false));
        assert_eq!(policy_is_public("not json"), None);
    }

    #[test]
    fn text_times_become_rfc3339() {
        assert_eq!(
            text_time(Some("2024-05-01T10:00:00.000+0000")),
            Value::String("2024-05-01T10:00:00Z".into())
        );
        assert_eq!(
            text_time(Some("2024-05-01T12:00:00+02:00")),
            Value::String("2024-05-01T10:00:00Z".into())
        );
        assert_eq!(text_time(Some("N/A")), Value::Null);
        assert_eq!(text_time(None), Value::Null);
    }
}
