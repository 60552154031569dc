//! Signing in: SDK configuration from the options a user gives.

use crate::error::AwsError;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_smithy_http_client::tls;

/// How to reach an AWS account.
#[derive(Debug, Clone, Default)]
pub struct AwsOptions {
    /// A named profile of the shared config files.
    pub profile: Option<String>,
    /// An endpoint for every service, e.g. a moto server.
    pub endpoint_url: Option<String>,
    /// Regions to scan; empty means every region enabled for the account.
    pub regions: Vec<String>,
    /// A role to assume before scanning (cross-account access).
    pub role_arn: Option<String>,
    /// The external id the role's trust policy requires.
    pub external_id: Option<String>,
    /// How many collectors run at once.
    pub concurrency: usize,
    /// The connector's name, recorded as the resources' origin.
    pub connector: String,
    /// The run's id, recorded as the resources' origin.
    pub run: String,
    /// Access keys to sign in with instead of the standard chain.
    pub access_keys: Option<AccessKeys>,
}

/// An IAM user's access keys (the secret is not shown by `Debug`).
#[derive(Clone)]
pub struct AccessKeys {
    pub access_key_id: String,
    pub secret_access_key: String,
}

impl std::fmt::Debug for AccessKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessKeys")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .finish()
    }
}

/// The region used for global services and for discovery.
pub(crate) const HOME_REGION: &str = "us-east-1";

/// Builds the SDK configuration: rustls with ring (no C crypto to build), the
/// standard credential chain or the given profile, the endpoint override, and
/// an assumed role when asked.
pub async fn sdk_config(opts: &AwsOptions) -> Result<SdkConfig, AwsError> {
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https();
    // Throttling and transient failures are retried with exponential backoff
    // (adaptive mode also slows down when AWS says so); a call that hangs
    // ends after a minute instead of holding the scan.
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .http_client(http)
        .retry_config(aws_config::retry::RetryConfig::adaptive().with_max_attempts(3))
        .timeout_config(
            aws_config::timeout::TimeoutConfig::builder()
                .connect_timeout(std::time::Duration::from_secs(10))
                .operation_attempt_timeout(std::time::Duration::from_secs(30))
                .operation_timeout(std::time::Duration::from_secs(120))
                .build(),
        );
    if let Some(p) = &opts.profile {
        loader = loader.profile_name(p);
    }
    if let Some(e) = &opts.endpoint_url {
        loader = loader.endpoint_url(e);
    }
    if let Some(keys) = &opts.access_keys {
        loader = loader.credentials_provider(aws_credential_types::Credentials::new(
            &keys.access_key_id,
            &keys.secret_access_key,
            None,
            None,
            "vigil-connector",
        ));
    }
    let mut base = loader.load().await;
    if base.region().is_none() {
        base = base.into_builder().region(Region::new(HOME_REGION)).build();
    }
    if let Some(role) = &opts.role_arn {
        let mut builder = aws_config::sts::AssumeRoleProvider::builder(role)
            .session_name("vigil-scan")
            .configure(&base);
        if let Some(id) = &opts.external_id {
            builder = builder.external_id(id);
        }
        let provider = builder.build().await;
        base = base
            .into_builder()
            .credentials_provider(
                aws_credential_types::provider::SharedCredentialsProvider::new(provider),
            )
            .build();
    }
    if base.credentials_provider().is_none() {
        return Err(AwsError::Credentials(
            "no credentials found: set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, use --profile, or run where an instance or container role is available".into(),
        ));
    }
    Ok(base)
}

/// The same configuration pinned to one region.
pub(crate) fn in_region(sdk: &SdkConfig, region: &str) -> SdkConfig {
    sdk.clone()
        .into_builder()
        .region(Region::new(region.to_string()))
        .build()
}
