//! The customer's bucket, reached through the role they created for Vigil.
//!
//! Vigil signs in with the operator's own identity (the standard AWS
//! credential chain, or a profile), assumes the customer's `roleArn` with
//! the integration's `externalId` through STS, and writes with the assumed
//! credentials in `bucketRegion`. Assumed credentials are cached per
//! (role, external id) until shortly before they expire.

use crate::error::DeliveryError;

/// How Vigil itself reaches AWS.
#[derive(Debug, Clone, Default)]
pub struct AwsSettings {
    /// An endpoint for STS and S3 (a moto server in tests).
    pub endpoint_url: Option<String>,
    /// A named profile of the shared config files instead of the default
    /// chain.
    pub profile: Option<String>,
}

/// Where one integration writes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Target {
    pub bucket: String,
    pub region: String,
    pub role_arn: String,
    pub external_id: String,
}

/// Writes objects to customers' buckets.
pub struct Deliverer {
    #[allow(dead_code)]
    settings: AwsSettings,
}

impl Deliverer {
    /// A deliverer; the operator's credentials are looked up at first use,
    /// so a server without any starts fine.
    pub fn new(settings: AwsSettings) -> Deliverer {
        Deliverer { settings }
    }

    /// Writes `body` at `key`: success only once S3 confirmed.
    pub async fn put(
        &self,
        _target: &Target,
        _key: &str,
        _body: Vec<u8>,
        _content_type: &str,
        _content_encoding: Option<&str>,
    ) -> Result<(), DeliveryError> {
        Err(DeliveryError::new(
            crate::Problem::Transient,
            "S3 delivery is not implemented yet",
        ))
    }

    /// Seed 000's validation: assumes the role and writes the `test-file`
    /// (`.gz` or `.json` per `compress`); the error says why it could not.
    pub async fn validate(&self, _target: &Target, _compress: bool) -> Result<(), DeliveryError> {
        Err(DeliveryError::new(
            crate::Problem::Transient,
            "S3 validation is not implemented yet",
        ))
    }

    /// Drops cached credentials of `target` (its settings changed).
    pub fn forget(&self, _target: &Target) {}
}
