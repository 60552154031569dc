//! Secrets written into IaC: the one place that decides whether a text
//! holds an AWS access key id, an AWS secret access key or a private key,
//! and whether a named value looks like a credential. The mappers record
//! only *that* a secret is there (its kind, or the name of the variable
//! holding it), never the secret itself.
//!
//! A value not known at build time (a variable without a value, a reference
//! to another resource) is not written in the files, so it is no hard-coded
//! secret; when the text of its expression shows a secret anyway (a literal
//! part of a template), that secret counts.

use crate::value::Val;
use base64::Engine as _;
use regex::Regex;
use serde_json::Value;
use std::sync::LazyLock;
use vigil_model::Resource;

/// Kind of secret: an AWS access key id (`AKIA…`, `ASIA…`).
pub(crate) const ACCESS_KEY_ID: &str = "aws_access_key_id";
/// Kind of secret: an AWS secret access key (40 characters of base64).
pub(crate) const SECRET_ACCESS_KEY: &str = "aws_secret_access_key";
/// Kind of secret: a PEM private key.
pub(crate) const PRIVATE_KEY: &str = "private_key";

static ACCESS_KEY_ID_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:^|[^A-Z0-9])((?:AKIA|ASIA)[A-Z0-9]{16})(?:$|[^A-Z0-9])").unwrap_or_else(|e| {
        unreachable!("the access key id pattern is a valid regular expression: {e}")
    })
});

static SECRET_KEY_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:^|[^A-Za-z0-9/+])([A-Za-z0-9/+]{40})(?:$|[^A-Za-z0-9/+=])").unwrap_or_else(
        |e| unreachable!("the secret key pattern is a valid regular expression: {e}"),
    )
});

static PRIVATE_KEY_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"-----BEGIN[A-Z ]*PRIVATE KEY( BLOCK)?-----").unwrap_or_else(|e| {
        unreachable!("the private key pattern is a valid regular expression: {e}")
    })
});

/// Whether `s` is exactly an AWS access key id: `(AKIA|ASIA)[A-Z0-9]{16}`.
pub(crate) fn is_access_key_id(s: &str) -> bool {
    s.len() == 20
        && (s.starts_with("AKIA") || s.starts_with("ASIA"))
        && s[4..]
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

/// Whether a 40-character base64 token looks like a secret access key
/// rather than a hash or a word: it mixes upper and lower case letters and
/// has a digit, `/` or `+` (a hex digest has one case only).
fn looks_like_secret_key(token: &str) -> bool {
    token.bytes().any(|b| b.is_ascii_uppercase())
        && token.bytes().any(|b| b.is_ascii_lowercase())
        && token
            .bytes()
            .any(|b| b.is_ascii_digit() || b == b'/' || b == b'+')
}

/// The kinds of secrets found in `text` ([`ACCESS_KEY_ID`],
/// [`SECRET_ACCESS_KEY`], [`PRIVATE_KEY`]), each once, in that order.
pub(crate) fn secrets_in(text: &str) -> Vec<&'static str> {
    let mut out = Vec::new();
    if ACCESS_KEY_ID_RE.is_match(text) {
        out.push(ACCESS_KEY_ID);
    }
    if SECRET_KEY_RE
        .captures_iter(text)
        .filter_map(|c| c.get(1))
        .any(|m| looks_like_secret_key(m.as_str()))
    {
        out.push(SECRET_ACCESS_KEY);
    }
    if PRIVATE_KEY_RE.is_match(text) {
        out.push(PRIVATE_KEY);
    }
    out
}

/// Whether a variable name says it holds a credential: it contains
/// `SECRET`, `PASSWORD`, `PASSWD`, `TOKEN` or `API_KEY` (any case).
pub(crate) fn is_secret_name(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    ["SECRET", "PASSWORD", "PASSWD", "TOKEN", "API_KEY", "APIKEY"]
        .iter()
        .any(|w| upper.contains(w))
}

/// Whether a literal value names a secret kept elsewhere rather than being
/// one: an ARN (`arn:aws:secretsmanager:…`) or a CloudFormation dynamic
/// reference (`{{resolve:secretsmanager:…}}`).
fn is_reference(value: &str) -> bool {
    value.starts_with("arn:") || value.starts_with("{{resolve:")
}

/// Whether an environment variable `name` with value `v` holds a
/// hard-coded secret: a known value containing a secret, or a known
/// non-empty value of a variable whose name says it is a credential; an
/// unknown value counts only when its expression text shows a secret.
pub(crate) fn is_secret_variable(name: &str, v: &Val) -> bool {
    match v {
        Val::Unknown(u) => !secrets_in(&u.expr).is_empty(),
        _ => v.to_display().is_some_and(|s| {
            !is_reference(&s)
                && (!secrets_in(&s).is_empty() || (is_secret_name(name) && !s.trim().is_empty()))
        }),
    }
}

/// Sets `environment_secrets` to the names of the variables of an
/// environment map (`variables` / `Environment.Variables`) that hold a
/// hard-coded secret ([`is_secret_variable`]): `[]` without variables;
/// `uncollected` when the map itself is not known at build time.
pub(crate) fn set_environment_secrets(r: &mut Resource, vars: Option<&Val>) {
    const KEY: &str = "environment_secrets";
    match vars {
        None | Some(Val::Null) => {
            r.attributes.insert(KEY.into(), Value::Array(Vec::new()));
        }
        Some(Val::Map(m)) => {
            let names = m
                .iter()
                .filter(|(k, v)| is_secret_variable(k, v))
                .map(|(k, _)| Value::String(k.clone()))
                .collect();
            r.attributes.insert(KEY.into(), Value::Array(names));
        }
        Some(Val::Unknown(u)) => {
            r.uncollected.insert(KEY.into(), u.reason());
        }
        Some(other) => {
            r.uncollected.insert(
                KEY.into(),
                format!(
                    "the environment variables are a {}, not a map",
                    other.type_name()
                ),
            );
        }
    }
}

/// User data as declared: plain text (Terraform's `user_data` of an
/// instance) or base64 (`user_data_base64`, a launch template's
/// `user_data`, CloudFormation's `UserData`).
#[derive(Debug, Clone, Copy)]
pub(crate) enum UserData<'a> {
    Plain(&'a Val),
    Base64(&'a Val),
}

/// The kinds of secrets in user data; `Err` (the reason for `uncollected`)
/// when the text is not known at build time and its expression shows no
/// secret. Base64 that does not decode is searched as it is.
pub(crate) fn user_data_secrets(ud: UserData<'_>) -> Result<Vec<&'static str>, String> {
    let (v, base64) = match ud {
        UserData::Plain(v) => (v, false),
        UserData::Base64(v) => (v, true),
    };
    match v {
        Val::Null => Ok(Vec::new()),
        Val::Unknown(u) => {
            let found = secrets_in(&u.expr);
            if found.is_empty() {
                Err(u.reason())
            } else {
                Ok(found)
            }
        }
        _ => match v.to_display() {
            Some(text) => {
                let decoded = base64
                    .then(|| {
                        let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
                        base64::engine::general_purpose::STANDARD
                            .decode(compact)
                            .ok()
                    })
                    .flatten();
                Ok(match decoded {
                    Some(bytes) => secrets_in(&String::from_utf8_lossy(&bytes)),
                    None => secrets_in(&text),
                })
            }
            None => Err(format!("user data is a {}, not a text", v.type_name())),
        },
    }
}

/// Sets `user_data_secrets` from the user data in effect (`Ok(None)`: none;
/// `Err`: not known at build time, with the reason).
pub(crate) fn set_user_data_secrets(r: &mut Resource, ud: Result<Option<UserData<'_>>, String>) {
    const KEY: &str = "user_data_secrets";
    match ud.and_then(|u| u.map_or(Ok(Vec::new()), user_data_secrets)) {
        Ok(kinds) => {
            r.attributes.insert(
                KEY.into(),
                Value::Array(kinds.into_iter().map(Value::from).collect()),
            );
        }
        Err(why) => {
            r.uncollected.insert(KEY.into(), why);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const KEY_ID: &str = "AKIAIOSFODNN7EXAMPLE";
    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

    #[test]
    fn access_key_ids_are_found_whole_and_only_with_their_prefix() {
        assert!(is_access_key_id(KEY_ID));
        assert!(is_access_key_id("ASIAY34FZKBOKMUTVV7A"));
        assert!(!is_access_key_id("AKIAIOSFODNN7EXAMPL"));
        assert!(!is_access_key_id("AKIAiosfodnn7example"));
        assert!(!is_access_key_id("AIDAIOSFODNN7EXAMPLE"));
        assert_eq!(
            secrets_in(&format!("export AWS_ACCESS_KEY_ID={KEY_ID}\n")),
            [ACCESS_KEY_ID]
        );
        // Part of a longer upper-case word is no key id.
        assert!(secrets_in(&format!("X{KEY_ID}Y")).is_empty());
    }

    #[test]
    fn secret_keys_are_40_mixed_base64_characters_and_hashes_are_not() {
        assert_eq!(
            secrets_in(&format!("aws_secret_access_key = {SECRET}")),
            [SECRET_ACCESS_KEY]
        );
        // A SHA-1 digest (hex, one case) is not a key.
        assert!(secrets_in("sha1: 2fd4e1c67a2d28fced849ee1bb76e7391b93eb12").is_empty());
        // 41 characters: part of a longer blob, not a key.
        assert!(secrets_in(&format!("{SECRET}A")).is_empty());
        assert!(secrets_in(&format!("A{SECRET}")).is_empty());
    }

    #[test]
    fn private_keys_are_found_by_their_pem_header() {
        for header in [
            "-----BEGIN RSA PRIVATE KEY-----",
            "-----BEGIN OPENSSH PRIVATE KEY-----",
            "-----BEGIN PRIVATE KEY-----",
            "-----BEGIN EC PRIVATE KEY-----",
        ] {
            assert_eq!(secrets_in(&format!("{header}\nMIIE…")), [PRIVATE_KEY]);
        }
        assert!(secrets_in("-----BEGIN PUBLIC KEY-----").is_empty());
        assert!(secrets_in("-----BEGIN CERTIFICATE-----").is_empty());
    }

    #[test]
    fn variables_are_secret_by_value_or_by_name_with_a_literal_value() {
        let s = |t: &str| Val::String(t.into());
        assert!(is_secret_variable("KEY", &s(KEY_ID)));
        assert!(is_secret_variable("DB_PASSWORD", &s("hunter2")));
        assert!(is_secret_variable("github_token", &s("ghp_x")));
        assert!(!is_secret_variable("DB_PASSWORD", &s("")));
        assert!(!is_secret_variable("LOG_LEVEL", &s("debug")));
        assert!(!is_secret_variable(
            "DB_SECRET",
            &s("arn:aws:secretsmanager:us-east-1:123456789012:secret:db")
        ));
        assert!(!is_secret_variable(
            "DB_PASSWORD",
            &s("{{resolve:secretsmanager:db:SecretString:password}}")
        ));
        // Not written in the files: no hard-coded secret.
        assert!(!is_secret_variable(
            "DB_PASSWORD",
            &Val::unknown("var.db_password")
        ));
        assert!(is_secret_variable(
            "CONFIG",
            &Val::unknown(format!("!Sub {KEY_ID}-${{Env}}"))
        ));
    }

    #[test]
    fn base64_user_data_is_decoded_and_unknown_user_data_is_uncollected() {
        let script = format!("#!/bin/bash\nexport AWS_SECRET_ACCESS_KEY={SECRET}\n");
        let b64 = base64::engine::general_purpose::STANDARD.encode(&script);
        assert_eq!(
            user_data_secrets(UserData::Base64(&Val::String(b64))),
            Ok(vec![SECRET_ACCESS_KEY])
        );
        assert_eq!(
            user_data_secrets(UserData::Plain(&Val::String(script))),
            Ok(vec![SECRET_ACCESS_KEY])
        );
        assert_eq!(
            user_data_secrets(UserData::Plain(&Val::String(
                "#!/bin/bash\nyum -y update".into()
            ))),
            Ok(vec![])
        );
        let why = user_data_secrets(UserData::Base64(&Val::unknown("var.user_data")));
        assert!(why.is_err_and(|w| w.contains("var.user_data")));
    }

    #[test]
    fn environment_secrets_name_the_variables_never_the_values() {
        let mut r: Resource = serde_json::from_value(serde_json::json!({
            "provider": "aws", "service": "Lambda", "type": "aws.lambda.function", "id": "f", "name": "f"
        }))
        .unwrap();
        let vars = Val::Map(
            [
                ("DB_PASSWORD".to_string(), Val::String("hunter2".into())),
                ("LOG_LEVEL".to_string(), Val::String("debug".into())),
            ]
            .into_iter()
            .collect(),
        );
        set_environment_secrets(&mut r, Some(&vars));
        assert_eq!(
            r.attributes["environment_secrets"],
            serde_json::json!(["DB_PASSWORD"])
        );
        assert!(!serde_json::to_string(&r)
            .unwrap_or_default()
            .contains("hunter2"));
        set_environment_secrets(&mut r, Some(&Val::unknown("var.env")));
        assert!(r.uncollected["environment_secrets"].contains("var.env"));
    }

    /// The mappers: instances take their own user data, else their launch
    /// template's; Lambda variables by name; CloudFormation the same.
    #[test]
    fn mappers_record_user_data_and_environment_secrets_by_kind_and_name() {
        use crate::terraform::map::ec2::tests::{one, resources};
        let b64 = base64::engine::general_purpose::STANDARD.encode(format!("KEY={KEY_ID}\n"));
        let rs = resources(&format!(
            r#"
variable "ud" {{}}
resource "aws_launch_template" "lt" {{
  user_data = "{b64}"
}}
resource "aws_instance" "from_template" {{
  launch_template {{
    id = aws_launch_template.lt.id
  }}
}}
resource "aws_instance" "own_wins" {{
  user_data = "echo hello"
  launch_template {{
    id = aws_launch_template.lt.id
  }}
}}
resource "aws_instance" "unknown" {{
  user_data = var.ud
}}
resource "aws_instance" "none" {{}}
resource "aws_lambda_function" "f" {{
  function_name = "f"
  environment {{
    variables = {{
      API_TOKEN = "abc"
      REGION    = "eu-west-1"
    }}
  }}
}}
resource "aws_lambda_function" "g" {{
  function_name = "g"
}}
"#
        ));
        let secrets = |id: &str, key: &str| one(&rs, id).attributes.get(key).cloned();
        let kinds = |id| secrets(id, "user_data_secrets");
        assert_eq!(
            kinds("aws_instance.from_template"),
            Some(json!([ACCESS_KEY_ID]))
        );
        assert_eq!(kinds("aws_instance.own_wins"), Some(json!([])));
        assert_eq!(kinds("aws_instance.none"), Some(json!([])));
        assert_eq!(kinds("aws_instance.unknown"), None);
        assert!(
            one(&rs, "aws_instance.unknown").uncollected["user_data_secrets"].contains("var.ud")
        );
        assert_eq!(
            secrets("aws_lambda_function.f", "environment_secrets"),
            Some(json!(["API_TOKEN"]))
        );
        assert_eq!(
            secrets("aws_lambda_function.g", "environment_secrets"),
            Some(json!([]))
        );

        let template = format!(
            r#"AWSTemplateFormatVersion: "2010-09-09"
Resources:
  Template:
    Type: AWS::EC2::LaunchTemplate
    Properties:
      LaunchTemplateName: base
      LaunchTemplateData:
        UserData:
          Fn::Base64: "-----BEGIN OPENSSH PRIVATE KEY-----"
  FromTemplate:
    Type: AWS::EC2::Instance
    Properties:
      LaunchTemplate:
        LaunchTemplateName: base
  Own:
    Type: AWS::EC2::Instance
    Properties:
      UserData:
        Fn::Base64: !Sub "export AWS_ACCESS_KEY_ID={KEY_ID} REGION=${{AWS::Region}}"
  Fn:
    Type: AWS::Lambda::Function
    Properties:
      Environment:
        Variables:
          DB_PASSWORD: !Ref AWS::NoValue
          SIGNING_SECRET: s3cr3t
"#
        );
        let (rs, errors) =
            crate::cloudformation::cloudformation_resources(&[("t.yaml".into(), template)]);
        assert!(errors.is_empty(), "{errors:?}");
        let secrets = |id: &str, key: &str| one(&rs, id).attributes.get(key).cloned();
        assert_eq!(
            secrets("FromTemplate", "user_data_secrets"),
            Some(json!([PRIVATE_KEY]))
        );
        // Unknown as a whole (the region), yet the key is in its text.
        assert_eq!(
            secrets("Own", "user_data_secrets"),
            Some(json!([ACCESS_KEY_ID]))
        );
        assert_eq!(
            secrets("Fn", "environment_secrets"),
            Some(json!(["SIGNING_SECRET"]))
        );
    }
}
