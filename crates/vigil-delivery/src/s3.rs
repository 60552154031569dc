//! The customer's bucket, reached through the role they created for Vigil.
//!
//! Vigil signs in with the operator's own identity (the standard AWS
//! credential chain, or a profile), assumes the customer's `roleArn` with
//! the integration's `externalId` through STS, and writes with the assumed
//! credentials in `bucketRegion`. Assumed credentials are cached per
//! (role, external id) until shortly before they expire.
//!
//! Before the first write with fresh credentials, `HeadBucket` tells whether
//! the bucket exists and where it is: S3 returns the bucket's region in the
//! `x-amz-bucket-region` header whatever the caller may do with the bucket,
//! so a wrong `bucketRegion` is named even when the role may only
//! `s3:PutObject` (seed 000's policy).

use crate::error::{DeliveryError, Problem};
use crate::payload;
use aws_config::{Region, SdkConfig};
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

/// The STS session name Vigil's writes show in the customer's CloudTrail.
pub const SESSION_NAME: &str = "vigil-delivery";

/// Assumed credentials are renewed this long before they expire.
const REFRESH_BEFORE: Duration = Duration::from_secs(5 * 60);

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

/// An S3 client with the role's credentials, until `refresh_at`.
#[derive(Clone)]
struct Session {
    client: aws_sdk_s3::Client,
    refresh_at: SystemTime,
}

/// Writes objects to customers' buckets.
pub struct Deliverer {
    settings: AwsSettings,
    /// The operator's own configuration, loaded at first use.
    base: tokio::sync::OnceCell<SdkConfig>,
    sessions: Mutex<HashMap<Target, Session>>,
}

impl Deliverer {
    /// A deliverer; the operator's credentials are looked up at first use,
    /// so a server without any starts fine.
    pub fn new(settings: AwsSettings) -> Deliverer {
        Deliverer {
            settings,
            base: tokio::sync::OnceCell::new(),
            sessions: Mutex::new(HashMap::new()),
        }
    }

    /// Writes `body` at `key`: success only once S3 confirmed.
    pub async fn put(
        &self,
        target: &Target,
        key: &str,
        body: Vec<u8>,
        content_type: &str,
        content_encoding: Option<&str>,
    ) -> Result<(), DeliveryError> {
        let session = self.session(target).await?;
        let sent = session
            .client
            .put_object()
            .bucket(&target.bucket)
            .key(key)
            .body(ByteStream::from(body))
            .content_type(content_type)
            .set_content_encoding(content_encoding.map(str::to_string))
            .send()
            .await;
        match sent {
            Ok(_) => Ok(()),
            Err(e) => {
                let failure = Failure::of(&e);
                if failure.is_credentials() || failure.status.is_some_and(|s| s < 500) {
                    // Assume again (and look at the bucket again) next time:
                    // the customer may have fixed the role or the bucket.
                    self.forget(target);
                }
                Err(classify(Step::PutObject(key), target, &failure))
            }
        }
    }

    /// Seed 000's validation: assumes the role and writes the `test-file`
    /// (`.gz` or `.json` per `compress`); the error says why it could not.
    pub async fn validate(&self, target: &Target, compress: bool) -> Result<(), DeliveryError> {
        // Always afresh: validation must prove the role and bucket as they
        // are now, not as they were when credentials were cached.
        self.forget(target);
        let (key, body) = payload::test_file(compress);
        let (content_type, encoding) = if compress {
            ("application/json", Some("gzip"))
        } else {
            ("application/json", None)
        };
        self.put(target, &key, body, content_type, encoding).await
    }

    /// Drops cached credentials of `target` (its settings changed).
    pub fn forget(&self, target: &Target) {
        if let Ok(mut sessions) = self.sessions.lock() {
            sessions.remove(target);
        }
    }

    /// The cached session of `target`, or a new one: AssumeRole, then
    /// HeadBucket to check the bucket and its region.
    async fn session(&self, target: &Target) -> Result<Session, DeliveryError> {
        let now = SystemTime::now();
        if let Ok(sessions) = self.sessions.lock() {
            if let Some(s) = sessions.get(target) {
                if s.refresh_at > now {
                    return Ok(s.clone());
                }
            }
        }
        check_role_arn(target)?;
        let base = self.base().await?;
        let sts = aws_sdk_sts::Client::new(base);
        let assumed = sts
            .assume_role()
            .role_arn(&target.role_arn)
            .role_session_name(SESSION_NAME)
            .external_id(&target.external_id)
            .send()
            .await
            .map_err(|e| classify(Step::AssumeRole, target, &Failure::of(&e)))?;
        let Some(c) = assumed.credentials() else {
            return Err(DeliveryError::new(
                Problem::Transient,
                format!(
                    "STS answered AssumeRole of {} without credentials; it will be retried",
                    target.role_arn
                ),
            ));
        };
        let expires = SystemTime::try_from(*c.expiration()).ok();
        let credentials = aws_credential_types::Credentials::new(
            c.access_key_id(),
            c.secret_access_key(),
            Some(c.session_token().to_string()),
            expires,
            "vigil-delivery-assumed-role",
        );
        let path_style = self.settings.endpoint_url.is_some() || base.endpoint_url().is_some();
        let config = aws_sdk_s3::config::Builder::from(base)
            .region(Region::new(target.region.clone()))
            .credentials_provider(credentials)
            .force_path_style(path_style)
            .build();
        let client = aws_sdk_s3::Client::from_conf(config);
        check_bucket(&client, target).await?;
        // Credentials without an expiry (never from STS) are kept an hour.
        let refresh_at = expires
            .and_then(|t| t.checked_sub(REFRESH_BEFORE))
            .unwrap_or(now + Duration::from_secs(3600));
        let session = Session { client, refresh_at };
        if let Ok(mut sessions) = self.sessions.lock() {
            sessions.insert(target.clone(), session.clone());
        }
        Ok(session)
    }

    /// The operator's configuration (once; a failure is tried again next
    /// time).
    async fn base(&self) -> Result<&SdkConfig, DeliveryError> {
        self.base
            .get_or_try_init(|| async {
                let opts = vigil_aws::AwsOptions {
                    profile: self.settings.profile.clone(),
                    endpoint_url: self.settings.endpoint_url.clone(),
                    ..Default::default()
                };
                vigil_aws::sdk_config(&opts).await.map_err(|e| {
                    DeliveryError::new(
                        Problem::Transient,
                        format!(
                            "Vigil's own AWS credentials are not available ({e}); the operator must give the server an identity allowed to sts:AssumeRole; delivery is retried"
                        ),
                    )
                })
            })
            .await
    }
}

/// Rejects a `roleArn` that is not `arn:<partition>:iam::<account>:role/<name>`
/// before asking STS (which answers ValidationError; moto accepts anything).
fn check_role_arn(target: &Target) -> Result<(), DeliveryError> {
    let parts: Vec<&str> = target.role_arn.splitn(6, ':').collect();
    let ok = parts.len() == 6
        && parts[0] == "arn"
        && parts[1].starts_with("aws")
        && parts[2] == "iam"
        && parts[3].is_empty()
        && parts[4].len() == 12
        && parts[4].bytes().all(|b| b.is_ascii_digit())
        && parts[5]
            .strip_prefix("role/")
            .is_some_and(|n| !n.is_empty() && !n.ends_with('/'));
    if ok {
        Ok(())
    } else {
        Err(invalid_role(target, "it is not an IAM role ARN"))
    }
}

fn invalid_role(target: &Target, why: &str) -> DeliveryError {
    DeliveryError::new(
        Problem::InvalidRole,
        format!(
            "roleArn `{}` cannot be assumed: {why}. Give the ARN of the role you created for Vigil in your account, as IAM shows it: arn:aws:iam::<12-digit account id>:role/<role name>",
            target.role_arn
        ),
    )
}

/// HeadBucket with the role's credentials: a missing bucket or another
/// region is named before anything is written. Forbidden (the role may only
/// PutObject) is fine: the write tells.
async fn check_bucket(client: &aws_sdk_s3::Client, target: &Target) -> Result<(), DeliveryError> {
    match client.head_bucket().bucket(&target.bucket).send().await {
        Ok(out) => match out.bucket_region() {
            Some(actual) if actual != target.region => {
                Err(wrong_region(target, Some(actual), "HeadBucket"))
            }
            _ => Ok(()),
        },
        Err(e) => {
            let failure = Failure::of(&e);
            match (failure.status, failure.bucket_region.as_deref()) {
                (_, Some(actual)) if actual != target.region => {
                    Err(wrong_region(target, Some(actual), "HeadBucket"))
                }
                (Some(403), _) => Ok(()),
                _ => Err(classify(Step::HeadBucket, target, &failure)),
            }
        }
    }
}

/// The call that failed.
#[derive(Debug, Clone, Copy)]
enum Step<'a> {
    AssumeRole,
    HeadBucket,
    PutObject(&'a str),
}

/// What AWS answered to a failed call, as the classifier needs it.
#[derive(Debug, Clone, Default)]
struct Failure {
    /// The HTTP status, when a response came.
    status: Option<u16>,
    /// AWS's error code (`AccessDenied`, …).
    code: Option<String>,
    message: Option<String>,
    /// `x-amz-bucket-region` of the response.
    bucket_region: Option<String>,
    /// The whole error chain, for messages.
    detail: String,
}

impl Failure {
    fn of<E>(e: &SdkError<E, HttpResponse>) -> Failure
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        let raw = e.raw_response();
        // The SDK reads the code from the response; a body it does not
        // parse (moto's STS wraps errors in `<Errors>`) still names it.
        let body = raw.and_then(|r| r.body().bytes());
        let from_body = |tag: &str| body.and_then(|b| xml_element(b, tag));
        Failure {
            status: raw.map(|r| r.status().as_u16()),
            code: e.code().map(str::to_string).or_else(|| from_body("Code")),
            message: e
                .message()
                .map(str::to_string)
                .or_else(|| from_body("Message")),
            bucket_region: raw
                .and_then(|r| r.headers().get("x-amz-bucket-region"))
                .map(str::to_string),
            // A response says enough by its status; without one (network,
            // time-out, credentials) the error chain says what happened.
            detail: match raw {
                Some(r) => format!("HTTP {}", r.status().as_u16()),
                None => chain(e),
            },
        }
    }

    /// The assumed credentials are no longer good (expired or revoked):
    /// assume again.
    fn is_credentials(&self) -> bool {
        matches!(
            self.code.as_deref(),
            Some("ExpiredToken" | "InvalidToken" | "InvalidAccessKeyId" | "TokenRefreshRequired")
        )
    }

    /// AWS's own words: `Code: message`, or the error chain.
    fn said(&self) -> String {
        match (&self.code, &self.message) {
            (Some(c), Some(m)) => format!("{c}: {m}"),
            (Some(c), None) => c.clone(),
            _ => self.detail.clone(),
        }
    }
}

/// An error and its sources, `outer: inner: …`, without repeats.
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        cur = s.source();
    }
    out
}

/// The text of the first `<tag>…</tag>` of an XML error body.
fn xml_element(body: &[u8], tag: &str) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    let open = format!("<{tag}>");
    let start = text.find(&open)? + open.len();
    let len = text[start..].find(&format!("</{tag}>"))?;
    Some(text[start..start + len].trim().to_string()).filter(|s| !s.is_empty())
}

fn wrong_region(target: &Target, actual: Option<&str>, op: &str) -> DeliveryError {
    let there = match actual {
        Some(a) => format!("is in {a}, not in bucketRegion {}", target.region),
        None => format!("is not in bucketRegion {}", target.region),
    };
    let fix = match actual {
        Some(a) => format!("update the integration with bucketRegion {a}"),
        None => {
            "update the integration with the region the S3 console shows for the bucket".to_string()
        }
    };
    DeliveryError::new(
        Problem::WrongRegion,
        format!(
            "bucket {} {there} (S3 said so on {op}): {fix}",
            target.bucket
        ),
    )
}

/// Sorts a failed call into a [`Problem`] with a message that says what
/// happened and what to do.
fn classify(step: Step<'_>, target: &Target, f: &Failure) -> DeliveryError {
    let code = f.code.as_deref().unwrap_or("");
    let said = f.said();
    let transient = |what: &str| {
        DeliveryError::new(
            Problem::Transient,
            format!("{what} failed for now ({said}); it will be retried",),
        )
    };
    match step {
        Step::AssumeRole => match (f.status, code) {
            (_, "AccessDenied") | (Some(403), "") => DeliveryError::new(
                Problem::AssumeRoleDenied,
                format!(
                    "Vigil could not assume role {} with external ID {} (STS answered {said}). In the role's trust relationship, allow Vigil's AWS identity to perform sts:AssumeRole with the condition \"StringEquals\": {{\"sts:ExternalId\": \"{}\"}}; after regenerateExternalId, put the new externalId there",
                    target.role_arn, target.external_id, target.external_id
                ),
            ),
            (_, "ValidationError" | "MalformedPolicyDocument" | "InvalidParameterValue") => {
                invalid_role(target, &format!("STS answered {said}"))
            }
            (_, "RegionDisabledException") => transient(&format!(
                "AssumeRole of {} (STS is not activated in the region of Vigil's own account; the operator must activate it)",
                target.role_arn
            )),
            (_, "ExpiredToken" | "ExpiredTokenException" | "InvalidClientTokenId" | "SignatureDoesNotMatch" | "UnrecognizedClientException") => transient(&format!(
                "AssumeRole of {} with Vigil's own AWS credentials (the operator must renew them)",
                target.role_arn
            )),
            _ if f.status.is_none() && f.detail.to_ascii_lowercase().contains("credential") => {
                DeliveryError::new(
                    Problem::Transient,
                    format!(
                        "Vigil's own AWS credentials could not be loaded, so it cannot assume role {} ({said}). The operator must give the server an identity allowed to sts:AssumeRole (environment variables, --delivery-aws-profile, or an instance or container role); delivery is retried",
                        target.role_arn
                    ),
                )
            }
            _ => transient(&format!("AssumeRole of {}", target.role_arn)),
        },
        Step::HeadBucket | Step::PutObject(_) => {
            let op = match step {
                Step::PutObject(key) => format!("PutObject of {key}"),
                _ => "HeadBucket".to_string(),
            };
            if f.is_credentials() {
                return transient(&format!(
                    "{op} to bucket {} (the assumed credentials of {} expired; they are renewed)",
                    target.bucket, target.role_arn
                ));
            }
            match (f.status, code) {
                (_, "NoSuchBucket") | (Some(404), "" | "NotFound") => DeliveryError::new(
                    Problem::NoSuchBucket,
                    format!(
                        "bucket {} does not exist (S3 in {} answered {said} on {op}): create it, or correct bucketName",
                        target.bucket, target.region
                    ),
                ),
                (_, "InvalidBucketName") => DeliveryError::new(
                    Problem::NoSuchBucket,
                    format!(
                        "bucketName {} is not a valid bucket name ({said}): correct bucketName",
                        target.bucket
                    ),
                ),
                (_, "PermanentRedirect" | "AuthorizationHeaderMalformed" | "IllegalLocationConstraintException" | "IncorrectEndpoint")
                | (Some(301), _) => wrong_region(target, f.bucket_region.as_deref(), &op),
                (_, "AccessDenied" | "AllAccessDisabled" | "AccountProblem")
                | (Some(403), _) => DeliveryError::new(
                    Problem::AccessDenied,
                    format!(
                        "role {} may not write to bucket {} (S3 answered {said} on {op}): attach to the role a policy that allows s3:PutObject on arn:aws:s3:::{}/* (and kms:GenerateDataKey on the bucket's KMS key when it encrypts with SSE-KMS), and check that the bucket policy does not deny it",
                        target.role_arn, target.bucket, target.bucket
                    ),
                ),
                _ => transient(&format!(
                    "{op} to bucket {} in {}",
                    target.bucket, target.region
                )),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target() -> Target {
        Target {
            bucket: "acme-findings".into(),
            region: "eu-west-1".into(),
            role_arn: "arn:aws:iam::123456789012:role/vigil".into(),
            external_id: "US_POD_1-71-36da0dcf".into(),
        }
    }

    fn failure(status: u16, code: &str, region: Option<&str>) -> Failure {
        Failure {
            status: Some(status),
            code: (!code.is_empty()).then(|| code.to_string()),
            message: Some("from AWS".into()),
            bucket_region: region.map(str::to_string),
            detail: "service error".into(),
        }
    }

    // The codes real AWS answers (moto cannot produce every one of them:
    // it does not check external ids, trust policies nor the region of a
    // write).
    #[test]
    fn sts_access_denied_is_the_trust_policy_or_the_external_id() {
        let e = classify(
            Step::AssumeRole,
            &target(),
            &failure(403, "AccessDenied", None),
        );
        assert_eq!(e.problem, Problem::AssumeRoleDenied);
        assert!(e.message.contains("sts:ExternalId"), "{e}");
        assert!(e.message.contains("US_POD_1-71-36da0dcf"), "{e}");
        assert!(
            e.message.contains("arn:aws:iam::123456789012:role/vigil"),
            "{e}"
        );
        let e = classify(
            Step::AssumeRole,
            &target(),
            &failure(400, "ValidationError", None),
        );
        assert_eq!(e.problem, Problem::InvalidRole);
        let e = classify(
            Step::AssumeRole,
            &target(),
            &failure(503, "ServiceUnavailable", None),
        );
        assert_eq!(e.problem, Problem::Transient);
        let e = classify(
            Step::AssumeRole,
            &target(),
            &failure(403, "InvalidClientTokenId", None),
        );
        assert_eq!(
            e.problem,
            Problem::Transient,
            "Vigil's own credentials: not the customer's to fix"
        );
        assert!(e.message.contains("operator"), "{e}");
    }

    #[test]
    fn s3_codes_are_sorted() {
        let t = target();
        let put = Step::PutObject("qualys_vm_findings/x.gz");
        let e = classify(
            put,
            &t,
            &failure(301, "PermanentRedirect", Some("us-west-2")),
        );
        assert_eq!(e.problem, Problem::WrongRegion);
        assert!(
            e.message.contains("us-west-2") && e.message.contains("eu-west-1"),
            "{e}"
        );
        let e = classify(put, &t, &failure(400, "AuthorizationHeaderMalformed", None));
        assert_eq!(e.problem, Problem::WrongRegion);
        let e = classify(put, &t, &failure(403, "AccessDenied", None));
        assert_eq!(e.problem, Problem::AccessDenied);
        assert!(
            e.message.contains("s3:PutObject")
                && e.message.contains("arn:aws:s3:::acme-findings/*"),
            "{e}"
        );
        let e = classify(put, &t, &failure(404, "NoSuchBucket", None));
        assert_eq!(e.problem, Problem::NoSuchBucket);
        assert!(e.message.contains("acme-findings"), "{e}");
        let e = classify(Step::HeadBucket, &t, &failure(404, "", None));
        assert_eq!(e.problem, Problem::NoSuchBucket);
        for (status, code) in [
            (503, "SlowDown"),
            (500, "InternalError"),
            (400, "ExpiredToken"),
            (400, "RequestTimeout"),
        ] {
            let e = classify(put, &t, &failure(status, code, None));
            assert_eq!(e.problem, Problem::Transient, "{code}");
            assert!(e.message.contains("retried"), "{e}");
        }
        let network = Failure {
            detail: "dispatch failure: connection refused".into(),
            ..Failure::default()
        };
        let e = classify(put, &t, &network);
        assert_eq!(e.problem, Problem::Transient);
        assert!(e.message.contains("connection refused"), "{e}");
    }

    #[test]
    fn codes_are_read_from_bodies_the_sdk_does_not_parse() {
        let body = b"<ErrorResponse><Errors><Error><Code>AccessDenied</Code><Message>User: x is not authorized</Message></Error></Errors></ErrorResponse>";
        assert_eq!(xml_element(body, "Code").as_deref(), Some("AccessDenied"));
        assert_eq!(
            xml_element(body, "Message").as_deref(),
            Some("User: x is not authorized")
        );
        assert_eq!(xml_element(b"<Code></Code>", "Code"), None);
        assert_eq!(xml_element(b"not xml", "Code"), None);
    }

    #[test]
    fn role_arns_are_checked_before_sts() {
        let mut t = target();
        assert!(check_role_arn(&t).is_ok());
        t.role_arn = "arn:aws:iam::123456789012:role/path/vigil".into();
        assert!(check_role_arn(&t).is_ok());
        for bad in [
            "vigil",
            "arn:aws:iam::123456789012:user/vigil",
            "arn:aws:s3:::bucket",
            "arn:aws:iam::12345:role/vigil",
            "arn:aws:iam::123456789012:role/",
        ] {
            t.role_arn = bad.into();
            let e = check_role_arn(&t).unwrap_err();
            assert_eq!(e.problem, Problem::InvalidRole, "{bad}");
            assert!(e.message.contains(bad), "{e}");
        }
    }
}
