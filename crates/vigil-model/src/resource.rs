//! One normalized resource and the parsing of a file of them.

use crate::{Provider, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use std::collections::BTreeMap;

/// A cloud resource, deployed or declared, in the one shape every part of
/// Vigil reads.
///
/// `attributes` hold what the resource type's collector or IaC adapter knows
/// about the resource, as typed JSON values (booleans, numbers, strings, lists,
/// objects). Controls read them as `resource.<attribute>`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Resource {
    pub provider: Provider,
    /// The AWS account, Azure subscription or GCP project; empty for IaC.
    #[serde(default)]
    pub account: String,
    /// The region, or `global` for global services; empty for IaC.
    #[serde(default)]
    pub region: String,
    /// The service as CloudView names it, e.g. `S3`, `EC2`, `IAM`.
    pub service: String,
    /// The resource type, `<provider>.<service>.<kind>`, e.g. `aws.s3.bucket`.
    #[serde(rename = "type")]
    pub resource_type: String,
    /// The native identifier: an ARN, an Azure resource id, a GCP self link,
    /// or an IaC address such as `aws_s3_bucket.logs`.
    pub id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    #[serde(default)]
    pub attributes: Map<String, Value>,
    #[serde(default)]
    pub associations: Vec<Association>,
    /// Attributes the collector could not collect, with why (e.g.
    /// `AccessDenied: missing permission s3:GetBucketVersioning`). Controls
    /// that need them are skipped with this reason.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub uncollected: BTreeMap<String, String>,
    /// Controls suppressed for this resource in its source (an IaC comment
    /// `# vigil:skip=<CID>:<reason>` or CloudFormation `Metadata`), by CID,
    /// with the reason. The engine reports them as SKIP with the reason.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub suppressed: BTreeMap<u32, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_discovered: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_updated: Option<Timestamp>,
    #[serde(default)]
    pub origin: Origin,
}

/// A link from one resource to another, e.g. an instance that `uses` a
/// security group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Association {
    /// How the two relate, from this resource's side: `uses`, `contains`,
    /// `member_of`, `attached_to`, …
    pub relation: String,
    #[serde(rename = "type")]
    pub resource_type: String,
    pub id: String,
}

/// Where a resource came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Origin {
    /// Discovered by a cloud connector during one of its runs.
    Connector { connector: String, run: String },
    /// Declared in an IaC file, from `line` to `end_line` (1-based,
    /// inclusive; `end_line` 0 when unknown).
    Iac {
        file: String,
        line: u32,
        #[serde(default)]
        end_line: u32,
    },
    /// Given directly, e.g. in a file passed to `vigil evaluate`.
    #[default]
    Input,
}

impl Origin {
    /// The key that groups resources which one sync replaces as a whole: a
    /// resource of the same source that a later sync does not report is gone.
    pub fn source(&self) -> String {
        match self {
            Origin::Connector { connector, .. } => format!("connector:{connector}"),
            Origin::Iac { file, .. } => format!("iac:{file}"),
            Origin::Input => "input".to_string(),
        }
    }
}

impl Resource {
    /// A key that identifies this resource across runs: the same deployed
    /// resource seen twice has the same key.
    pub fn uid(&self) -> String {
        format!(
            "{}|{}|{}|{}|{}",
            self.provider, self.account, self.region, self.resource_type, self.id
        )
    }

    /// Checks what serde cannot: that the type is well formed and belongs to
    /// the provider, and that the id is present.
    pub fn validate(&self) -> Result<(), String> {
        if self.id.trim().is_empty() {
            return Err("`id` is empty; give the ARN, resource id or IaC address".into());
        }
        let parts: Vec<&str> = self.resource_type.split('.').collect();
        let well_formed = parts.len() == 3
            && parts.iter().all(|p| {
                !p.is_empty()
                    && p.chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            });
        if !well_formed {
            return Err(format!(
                "`type` is `{}`; expected `<provider>.<service>.<kind>` in lower case, e.g. `aws.s3.bucket`",
                self.resource_type
            ));
        }
        if parts[0] != self.provider.as_str() {
            return Err(format!(
                "`type` `{}` does not belong to provider `{}`",
                self.resource_type, self.provider
            ));
        }
        Ok(())
    }
}

/// Why a file of resources could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResourceError {
    #[error("{file}:{line}:{column}: {reason}")]
    Syntax {
        file: String,
        line: usize,
        column: usize,
        reason: String,
    },
    #[error("{file}: resource #{index} (id `{id}`): {reason}")]
    Invalid {
        file: String,
        index: usize,
        id: String,
        reason: String,
    },
}

/// Parses a JSON document that is either an array of resources or an object
/// `{"resources": [...]}`. `file` names the document in errors, which carry the
/// line and column serde reports, or the index of the resource that failed
/// validation.
pub fn parse_resources(text: &str, file: &str) -> Result<Vec<Resource>, ResourceError> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Wrapped {
        resources: Vec<Resource>,
    }
    let resources = match text.trim_start().chars().next() {
        Some('[') => serde_json::from_str::<Vec<Resource>>(text),
        Some('{') => serde_json::from_str::<Wrapped>(text).map(|w| w.resources),
        _ => {
            return Err(ResourceError::Syntax {
                file: file.into(),
                line: 1,
                column: 1,
                reason: "expected an array of resources or an object with a `resources` array"
                    .into(),
            })
        }
    }
    .map_err(|e| syntax(file, &e))?;
    for (index, resource) in resources.iter().enumerate() {
        resource
            .validate()
            .map_err(|reason| ResourceError::Invalid {
                file: file.into(),
                index,
                id: resource.id.clone(),
                reason,
            })?;
    }
    Ok(resources)
}

fn syntax(file: &str, e: &serde_json::Error) -> ResourceError {
    ResourceError::Syntax {
        file: file.into(),
        line: e.line(),
        column: e.column(),
        // serde_json appends " at line L column C"; the position is already
        // in front of the message.
        reason: e
            .to_string()
            .rsplit_once(" at line ")
            .map_or_else(|| e.to_string(), |(msg, _)| msg.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BUCKET: &str = r#"[{"provider":"aws","account":"383031258652","region":"us-east-1",
        "service":"S3","type":"aws.s3.bucket","id":"arn:aws:s3:::logs","name":"logs",
        "tags":{"env":"prod"},"attributes":{"versioning":{"status":"Enabled"}}}]"#;

    #[test]
    fn parses_an_array_and_a_wrapped_object() {
        let list = parse_resources(BUCKET, "a.json").unwrap();
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].tags["env"], "prod");
        assert_eq!(list[0].origin, Origin::Input);
        let wrapped = format!("{{\"resources\": {BUCKET}}}");
        assert_eq!(parse_resources(&wrapped, "b.json").unwrap(), list);
    }

    #[test]
    fn syntax_errors_name_file_line_and_column() {
        let err = parse_resources("[\n  {\"provider\": }\n]", "bad.json").unwrap_err();
        match err {
            ResourceError::Syntax { file, line, .. } => {
                assert_eq!(file, "bad.json");
                assert_eq!(line, 2);
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn unknown_fields_and_wrong_types_are_rejected_with_the_resource_named() {
        let text = BUCKET.replace("\"name\":\"logs\"", "\"nmae\":\"logs\"");
        let err = parse_resources(&text, "t.json").unwrap_err().to_string();
        assert!(err.starts_with("t.json:2:"), "{err}");
        assert!(!err.contains(" at line "), "position given once: {err}");
        assert!(err.contains("nmae"), "{err}");
    }

    #[test]
    fn type_must_belong_to_the_provider() {
        let text = BUCKET.replace("aws.s3.bucket", "gcp.storage.bucket");
        let err = parse_resources(&text, "t.json").unwrap_err().to_string();
        assert!(err.contains("does not belong to provider `aws`"), "{err}");
        let text = BUCKET.replace("aws.s3.bucket", "S3Bucket");
        let err = parse_resources(&text, "t.json").unwrap_err().to_string();
        assert!(err.contains("<provider>.<service>.<kind>"), "{err}");
    }

    #[test]
    fn uid_is_stable_and_distinguishes_accounts() {
        let a = parse_resources(BUCKET, "a").unwrap().remove(0);
        let mut b = a.clone();
        assert_eq!(a.uid(), b.uid());
        b.account = "111111111111".into();
        assert_ne!(a.uid(), b.uid());
    }
}
