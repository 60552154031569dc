//! Why a write to a customer's bucket failed, and whether a person must act.

/// What kind of failure, as a stable code (stored as the integration's
/// alerted problem, so each is mailed once).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Problem {
    /// STS refused AssumeRole: the role does not trust Vigil's identity, or
    /// its `sts:ExternalId` condition does not match (regenerated and not
    /// updated in the trust policy).
    AssumeRoleDenied,
    /// The role ARN is not a role ARN, or the role does not exist.
    InvalidRole,
    /// S3 refused the write: the role's policy lacks `s3:PutObject` on the
    /// bucket.
    AccessDenied,
    /// The bucket does not exist (deleted, or a typo).
    NoSuchBucket,
    /// The bucket is in another region than `bucketRegion`.
    WrongRegion,
    /// Network, time-out, 5xx, throttling: retried without a person.
    Transient,
}

impl Problem {
    /// The stable code, e.g. `AccessDenied`.
    pub fn code(self) -> &'static str {
        match self {
            Problem::AssumeRoleDenied => "AssumeRoleDenied",
            Problem::InvalidRole => "InvalidRole",
            Problem::AccessDenied => "AccessDenied",
            Problem::NoSuchBucket => "NoSuchBucket",
            Problem::WrongRegion => "WrongRegion",
            Problem::Transient => "Transient",
        }
    }

    /// Whether a person must fix it (the integration goes into error and
    /// an alert is sent).
    pub fn needs_human(self) -> bool {
        !matches!(self, Problem::Transient)
    }
}

/// A failed delivery or validation: the kind and a message that says what
/// happened and what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct DeliveryError {
    pub problem: Problem,
    pub message: String,
}

impl DeliveryError {
    pub fn new(problem: Problem, message: impl Into<String>) -> DeliveryError {
        DeliveryError {
            problem,
            message: message.into(),
        }
    }
}
