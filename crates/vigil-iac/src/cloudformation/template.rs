//! Reading a CloudFormation template (placeholder: plain JSON/YAML, no
//! intrinsic functions; the real reader replaces this file).

use crate::value::Val;
use crate::ParseError;
use std::collections::BTreeMap;

/// One resource of a template, its `Properties` evaluated.
#[derive(Debug, Clone, PartialEq)]
pub struct CfnResource {
    /// The logical id, e.g. `LogsBucket`.
    pub logical_id: String,
    /// The resource type, e.g. `AWS::S3::Bucket`.
    pub resource_type: String,
    /// The template file, as given.
    pub file: String,
    /// First and last line of the resource (1-based, inclusive).
    pub line: u32,
    pub end_line: u32,
    /// `Properties`, evaluated: parameters, pseudo parameters, mappings and
    /// conditions resolved; `Ref`/`Fn::GetAtt` of another resource is
    /// `Val::Unknown` with expr `!Ref LogicalId` / `!GetAtt LogicalId.Attr`.
    /// An empty map when the resource has no properties.
    pub props: Val,
    /// Suppressions from `Metadata` (`vigil: {skip: [{id, comment}]}`) and
    /// `# vigil:skip=<CID>:<reason>` comments, by CID.
    pub suppressed: BTreeMap<u32, String>,
}

/// Whether a JSON/YAML file is a CloudFormation template.
pub fn is_template(_path: &str, text: &str) -> bool {
    text.contains("AWSTemplateFormatVersion") || text.contains("AWS::")
}

/// Reads the resources of a template.
pub fn parse_template(file: &str, text: &str) -> Result<Vec<CfnResource>, ParseError> {
    let doc: serde_yaml::Value = serde_yaml::from_str(text).map_err(|e| ParseError {
        file: file.into(),
        line: e.location().map_or(1, |l| l.line()),
        column: e.location().map_or(1, |l| l.column()),
        message: e.to_string(),
    })?;
    let mut out = Vec::new();
    let Some(resources) = doc.get("Resources").and_then(|r| r.as_mapping()) else {
        return Ok(out);
    };
    for (id, body) in resources {
        let Some(id) = id.as_str() else { continue };
        let line = text
            .lines()
            .position(|l| {
                let t = l.trim_start();
                t.starts_with(&format!("{id}:")) || t.starts_with(&format!("\"{id}\""))
            })
            .map_or(1, |i| u32::try_from(i + 1).unwrap_or(u32::MAX));
        out.push(CfnResource {
            logical_id: id.to_string(),
            resource_type: body
                .get("Type")
                .and_then(|t| t.as_str())
                .unwrap_or_default()
                .to_string(),
            file: file.into(),
            line,
            end_line: line,
            props: body
                .get("Properties")
                .map_or_else(|| Val::Map(BTreeMap::new()), val),
            suppressed: BTreeMap::new(),
        });
    }
    Ok(out)
}

/// Plain YAML/JSON to a value; `Ref` and `Fn::GetAtt` (long or short form)
/// become the unknowns the real reader produces; other intrinsics are left
/// as they are.
fn val(v: &serde_yaml::Value) -> Val {
    use serde_yaml::Value as Y;
    match v {
        Y::Null => Val::Null,
        Y::Bool(b) => Val::Bool(*b),
        Y::Number(n) => Val::Number(n.as_f64().unwrap_or(0.0)),
        Y::String(s) => Val::String(s.clone()),
        Y::Sequence(items) => Val::List(items.iter().map(val).collect()),
        Y::Mapping(m) => {
            if m.len() == 1 {
                if let Some(r) = m.get("Ref").and_then(Y::as_str) {
                    return Val::unknown(format!("!Ref {r}"));
                }
                if let Some(Y::Sequence(parts)) = m.get("Fn::GetAtt") {
                    let parts: Vec<&str> = parts.iter().filter_map(Y::as_str).collect();
                    return Val::unknown(format!("!GetAtt {}", parts.join(".")));
                }
            }
            Val::Map(
                m.iter()
                    .filter_map(|(k, v)| k.as_str().map(|k| (k.to_string(), val(v))))
                    .collect(),
            )
        }
        Y::Tagged(t) => {
            let tag = t.tag.to_string();
            match (tag.as_str(), &t.value) {
                ("!Ref", Y::String(r)) => Val::unknown(format!("!Ref {r}")),
                ("!GetAtt", Y::String(a)) => Val::unknown(format!("!GetAtt {a}")),
                _ => Val::unknown(format!("{tag} (not read by the placeholder reader)")),
            }
        }
    }
}
