//! A control as written on disk: `control.toml` with its metadata, parameters
//! and logic, in CloudView's vocabulary.

use crate::error::{line_col, CatalogError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use toml::Spanned;
use vigil_model::{Criticality, ExecutionType, Provider};

/// CIDs at or above this number belong to user-defined controls; system
/// controls shipped with Vigil stay below it.
pub const FIRST_USER_CID: u32 = 100_000;

/// The metadata and logic of one control.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ControlSpec {
    pub cid: u32,
    pub title: String,
    pub provider: Provider,
    /// The service as CloudView shows it, e.g. `S3`.
    pub service: String,
    /// The normalized resource type the control judges, e.g. `aws.s3.bucket`.
    pub resource_type: String,
    pub criticality: Criticality,
    pub execution_type: ExecutionType,
    /// What the control checks, in one sentence ("Evaluation" in CloudView).
    pub evaluation: String,
    #[serde(default)]
    pub rationale: String,
    /// Remediation steps, one paragraph or a numbered list.
    #[serde(default)]
    pub remediation: String,
    #[serde(default)]
    pub references: Vec<String>,
    #[serde(default)]
    pub mandates: Vec<MandateMapping>,
    #[serde(default)]
    pub remediable: bool,
    /// Whether users may copy the control and change its parameters.
    #[serde(default)]
    pub customizable: bool,
    /// For a user-defined copy: the CID it was copied from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub based_on: Option<u32>,
    #[serde(default)]
    pub parameters: Vec<Parameter>,
    pub logic: Logic,
}

/// Where a control sits in a compliance mandate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MandateMapping {
    /// The mandate's name as seed 001 lists it, e.g. `NIST Cyber Security Framework (CSF)`.
    pub mandate: String,
    /// The requirement ids within the mandate, e.g. `PR.AC-1`.
    #[serde(default)]
    pub requirements: Vec<String>,
}

/// The type of a control parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ParamType {
    Int,
    Bool,
    String,
    /// A list of strings.
    List,
}

/// A typed parameter of a control ("Evaluation Parameter" in CloudView).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Parameter {
    pub name: String,
    #[serde(rename = "type")]
    pub param_type: ParamType,
    pub default: toml::Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<i64>,
    /// For string parameters: the values allowed, if the set is closed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed: Vec<String>,
    #[serde(default)]
    pub description: String,
}

/// The logic of a control, as CEL expressions over `resource` (the
/// attributes), `meta` (id, name, type, account, region, provider, service,
/// tags), `params` and `now`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Logic {
    /// When present and false, the control does not apply to the resource and
    /// no evaluation is recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applies: Option<Spanned<String>>,
    /// True when the resource passes.
    pub pass: Spanned<String>,
    /// The value shown as the evidence's actual value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actual: Option<Spanned<String>>,
    /// What a passing resource looks like, for the evidence. `${name}` is
    /// replaced by the value of parameter `name`.
    pub expected: String,
    /// The message recorded with a failure; defaults to the evaluation text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fail_message: Option<String>,
}

/// A parameter value after checking it against its declaration.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum ParamValue {
    Int(i64),
    Bool(bool),
    String(String),
    List(Vec<String>),
}

impl std::fmt::Display for ParamValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ParamValue::Int(i) => write!(f, "{i}"),
            ParamValue::Bool(b) => write!(f, "{b}"),
            ParamValue::String(s) => f.write_str(s),
            ParamValue::List(l) => f.write_str(&l.join(", ")),
        }
    }
}

impl Parameter {
    /// Checks a value against the parameter's type, range and allowed set.
    pub fn check(&self, value: &toml::Value) -> Result<ParamValue, String> {
        let v = match (self.param_type, value) {
            (ParamType::Int, toml::Value::Integer(i)) => ParamValue::Int(*i),
            (ParamType::Bool, toml::Value::Boolean(b)) => ParamValue::Bool(*b),
            (ParamType::String, toml::Value::String(s)) => ParamValue::String(s.clone()),
            (ParamType::List, toml::Value::Array(items)) => ParamValue::List(
                items
                    .iter()
                    .map(|i| match i {
                        toml::Value::String(s) => Ok(s.clone()),
                        other => Err(format!("list items must be strings, found `{other}`")),
                    })
                    .collect::<Result<_, _>>()?,
            ),
            (t, other) => {
                return Err(format!(
                    "parameter `{}` is of type {t:?}, but the value `{other}` is a {}",
                    self.name,
                    other.type_str()
                ))
            }
        };
        if let ParamValue::Int(i) = v {
            if self.min.is_some_and(|m| i < m) || self.max.is_some_and(|m| i > m) {
                return Err(format!(
                    "parameter `{}` must be between {} and {}, got {i}",
                    self.name,
                    self.min.map_or("-inf".into(), |m| m.to_string()),
                    self.max.map_or("+inf".into(), |m| m.to_string()),
                ));
            }
        }
        if let ParamValue::String(s) = &v {
            if !self.allowed.is_empty() && !self.allowed.contains(s) {
                return Err(format!(
                    "parameter `{}` must be one of {}, got `{s}`",
                    self.name,
                    self.allowed.join(", ")
                ));
            }
        }
        Ok(v)
    }

    /// Parses a value given on a command line (`name=value`) into the
    /// parameter's type.
    pub fn parse_cli(&self, text: &str) -> Result<toml::Value, String> {
        let value = match self.param_type {
            ParamType::Int => toml::Value::Integer(text.trim().parse().map_err(|_| {
                format!("parameter `{}` takes an integer, got `{text}`", self.name)
            })?),
            ParamType::Bool => toml::Value::Boolean(text.trim().parse().map_err(|_| {
                format!(
                    "parameter `{}` takes true or false, got `{text}`",
                    self.name
                )
            })?),
            ParamType::String => toml::Value::String(text.to_string()),
            ParamType::List => toml::Value::Array(
                text.split(',')
                    .map(|s| toml::Value::String(s.trim().to_string()))
                    .collect(),
            ),
        };
        self.check(&value)?;
        Ok(value)
    }
}

impl ControlSpec {
    /// Parses `control.toml`. `file` names it in errors.
    pub fn parse(text: &str, file: &str) -> Result<ControlSpec, CatalogError> {
        let spec: ControlSpec = toml::from_str(text).map_err(|e| {
            let (line, column) = e.span().map(|s| line_col(text, s.start)).unwrap_or((1, 1));
            CatalogError::at(file, line, column, e.message().trim())
        })?;
        spec.check_metadata(text, file)?;
        Ok(spec)
    }

    /// The parameter values in effect: each parameter's default.
    pub fn param_values(&self) -> Result<BTreeMap<String, ParamValue>, String> {
        self.parameters
            .iter()
            .map(|p| Ok((p.name.clone(), p.check(&p.default)?)))
            .collect()
    }

    fn check_metadata(&self, text: &str, file: &str) -> Result<(), CatalogError> {
        let at = |key: &str, reason: String| {
            let line = text
                .lines()
                .position(|l| l.trim_start().starts_with(key))
                .map_or(1, |i| i + 1);
            CatalogError::at(file, line, 1, reason)
        };
        if self.cid == 0 {
            return Err(at("cid", "`cid` must be a positive number".into()));
        }
        if self.title.trim().is_empty() {
            return Err(at("title", "`title` is empty".into()));
        }
        let prefix = format!("{}.", self.provider);
        if !self.resource_type.starts_with(&prefix) || self.resource_type.split('.').count() != 3 {
            return Err(at(
                "resource_type",
                format!(
                    "`resource_type` `{}` must look like `{}<service>.<kind>`",
                    self.resource_type, prefix
                ),
            ));
        }
        let mut seen = std::collections::HashSet::new();
        for p in &self.parameters {
            if !seen.insert(p.name.as_str()) {
                return Err(at(
                    "[[parameters]]",
                    format!("parameter `{}` is declared twice", p.name),
                ));
            }
            p.check(&p.default)
                .map_err(|e| at("default", format!("default of {e}")))?;
        }
        if !self.parameters.is_empty() && !self.customizable {
            // Parameters on a control nobody may change would be dead weight;
            // saying so keeps catalogues honest.
            return Err(at(
                "customizable",
                "a control with parameters must set `customizable = true`".into(),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: &str = r#"
cid = 11
title = "Ensure IAM password policy requires minimum length of 14 or greater"
provider = "aws"
service = "IAM"
resource_type = "aws.iam.password_policy"
criticality = "MEDIUM"
execution_type = "run"
evaluation = "Check minimum password length"
customizable = true

[[parameters]]
name = "minimum_length"
type = "int"
default = 14
min = 1
max = 128

[logic]
expected = "minimum password length >= ${minimum_length}"
pass = "resource.minimum_password_length >= params.minimum_length"
"#;

    #[test]
    fn parses_a_control_with_a_parameter() {
        let spec = ControlSpec::parse(MIN, "c.toml").unwrap();
        assert_eq!(spec.cid, 11);
        assert_eq!(
            spec.param_values().unwrap()["minimum_length"],
            ParamValue::Int(14)
        );
    }

    #[test]
    fn unknown_keys_are_reported_with_their_line() {
        let text = MIN.replace(
            "customizable = true",
            "customizable = true\ncriticalty = \"HIGH\"",
        );
        let err = ControlSpec::parse(&text, "c.toml").unwrap_err().to_string();
        assert!(err.starts_with("c.toml:11:"), "{err}");
        assert!(err.contains("criticalty"), "{err}");
    }

    #[test]
    fn a_bad_criticality_lists_the_allowed_values() {
        let text = MIN.replace("\"MEDIUM\"", "\"SEVERE\"");
        let err = ControlSpec::parse(&text, "c.toml").unwrap_err().to_string();
        assert!(err.contains("c.toml:7:"), "{err}");
        assert!(err.contains("HIGH, MEDIUM, LOW"), "{err}");
    }

    #[test]
    fn out_of_range_defaults_are_rejected() {
        let text = MIN.replace("default = 14", "default = 500");
        let err = ControlSpec::parse(&text, "c.toml").unwrap_err().to_string();
        assert!(err.contains("between 1 and 128"), "{err}");
    }

    #[test]
    fn cli_values_are_typed_and_range_checked() {
        let spec = ControlSpec::parse(MIN, "c.toml").unwrap();
        let p = &spec.parameters[0];
        assert_eq!(p.parse_cli("16").unwrap(), toml::Value::Integer(16));
        assert!(p.parse_cli("sixteen").unwrap_err().contains("integer"));
        assert!(p.parse_cli("0").unwrap_err().contains("between"));
    }
}
