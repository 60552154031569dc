//! What can go wrong while collecting, as data.

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use serde::Serialize;

/// A failure that stops a scan before it starts (no credentials, no account).
#[derive(Debug, thiserror::Error)]
pub enum AwsError {
    #[error("{0}")]
    Credentials(String),
    #[error("cannot identify the account (sts:GetCallerIdentity): {0}")]
    Identity(String),
}

/// A call that failed during a scan. The scan goes on; this is reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CollectError {
    pub service: &'static str,
    pub region: String,
    /// The IAM action of the call, e.g. `s3:GetBucketVersioning`.
    pub action: &'static str,
    /// The error code AWS returned (`AccessDenied`, …), if any.
    pub code: Option<String>,
    pub message: String,
}

impl CollectError {
    /// One line a summary or a SKIP reason can show.
    pub fn reason(&self) -> String {
        match self.code.as_deref() {
            Some(c) if is_denied(c) => format!("{c}: missing permission {}", self.action),
            Some(c) => format!("{c} on {}: {}", self.action, self.message),
            None => format!("{} failed: {}", self.action, self.message),
        }
    }
}

fn is_denied(code: &str) -> bool {
    matches!(
        code,
        "AccessDenied"
            | "AccessDeniedException"
            | "UnauthorizedOperation"
            | "UnauthorizedAccess"
            | "AuthorizationError"
    )
}

/// Describes a failed SDK call.
pub(crate) fn failed<E, R>(
    service: &'static str,
    region: &str,
    action: &'static str,
    e: &SdkError<E, R>,
) -> CollectError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let code = e.code().map(String::from);
    let message = e
        .message()
        .map(String::from)
        .unwrap_or_else(|| DisplayErrorContext(e).to_string());
    CollectError {
        service,
        region: region.to_string(),
        action,
        code,
        message,
    }
}

/// The error code of a failed call, for the few codes that are answers
/// (e.g. `NoSuchEntity` means "no password policy", not "unknown").
pub(crate) fn code_of<E, R>(e: &SdkError<E, R>) -> Option<&str>
where
    E: ProvideErrorMetadata,
{
    e.code()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn denied_calls_name_the_missing_permission() {
        let e = CollectError {
            service: "iam",
            region: "us-east-1".into(),
            action: "iam:GenerateCredentialReport",
            code: Some("AccessDenied".into()),
            message: "User is not authorized".into(),
        };
        assert_eq!(
            e.reason(),
            "AccessDenied: missing permission iam:GenerateCredentialReport"
        );
        let e = CollectError {
            code: Some("Throttling".into()),
            ..e
        };
        assert_eq!(
            e.reason(),
            "Throttling on iam:GenerateCredentialReport: User is not authorized"
        );
    }
}
