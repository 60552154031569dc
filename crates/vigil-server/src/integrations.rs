//! Seed 000's AWS S3 integration APIs, word for word: VM and PC
//! integrations under `/partner-integration/aws/s3/{vm,pc}` (and Vigil's
//! OCSF integration under `/partner-integration/aws/s3/ocsf`), and the CIPS
//! policy list and filter under `/pcas/cips/config`.
//!
//! Every endpoint needs a bearer token of `POST /auth` and the permission
//! `manage_integrations` (the Manager has it; a custom role may be given
//! it). The permission is checked before the body is read, so a forbidden
//! caller gets 403 whatever they sent. Every change is audited (never the
//! external id).
//!
//! Registering answers the `integrationId` and the `externalId` to put in
//! the role's trust policy; nothing is delivered until validation wrote the
//! `test-file` through that role. A change of bucket, region or role, or a
//! regenerated external id, needs validating again. Every change wakes the
//! delivery loop, so it applies at once; so do CIPS changes (the store sends
//! PC posture again under the new filter).

use crate::access::Caller;
use crate::body::parse_json;
use crate::error::ApiError;
use crate::AppState;
use axum::extract::{FromRequest, Path, Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use axum::Json;
use serde::de::{DeserializeOwned, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use std::sync::Arc;
use utoipa::ToSchema;
use vigil_delivery::payload::Customer;
use vigil_delivery::s3::Target;
use vigil_store::access::Permission;
use vigil_store::delivery::{
    BaseCategory, CipsConfig, Integration, IntegrationKind, IntegrationSettings,
};
use vigil_store::{Store, StoreError};

/// The setting that holds this installation's `customerId`.
pub const CUSTOMER_ID: &str = "customer_id";
/// The setting that holds this installation's `customerUuid`.
pub const CUSTOMER_UUID: &str = "customer_uuid";

/// The longest integration name (seed 000: "The maximum length allowed for
/// the name is 50 characters").
pub const MAX_NAME: usize = 50;
/// The most `errorEmails` (seed 000: "maximum 5 email addresses").
pub const MAX_ERROR_EMAILS: usize = 5;
/// The most policies CIPS holds (seed 000: "You can add up to 100 policies
/// to CIPS").
pub const MAX_CIPS_POLICIES: usize = 100;
/// `minSeverity` when not given (seed 000: "severity level 3 and above").
pub const DEFAULT_MIN_SEVERITY: u8 = 3;

/// This installation's customer id and UUID: made by the first node that
/// asks, the same for every node on the store.
pub async fn customer(store: &dyn Store) -> Result<Customer, StoreError> {
    let id = store
        .setting_or_insert(CUSTOMER_ID, &random_customer_id().to_string())
        .await?;
    let customer_id = id.parse::<i64>().map_err(|_| {
        StoreError::Database(format!(
            "the `{CUSTOMER_ID}` setting is not a number ({id}); delete it to get a new one"
        ))
    })?;
    let customer_uuid = store
        .setting_or_insert(CUSTOMER_UUID, &uuid::Uuid::new_v4().to_string())
        .await?;
    Ok(Customer {
        customer_id,
        customer_uuid,
    })
}

/// A customer id like Qualys' (a positive number).
fn random_customer_id() -> i64 {
    100_000 + (uuid::Uuid::new_v4().as_u128() % 900_000) as i64
}

/// A new external id: `<POD>-<customerId>-<uuid>` (seed 000).
pub fn new_external_id(pod: &str, customer: &Customer) -> String {
    format!("{pod}-{}-{}", customer.customer_id, uuid::Uuid::new_v4())
}

// --- request bodies --------------------------------------------------------

/// A JSON body as seed 000's curl samples send it: `Content-Type:
/// application/json`, none, or (as `curl --data` sends by default)
/// `application/x-www-form-urlencoded` with a JSON text. Parsed after the
/// permission check, like [`crate::body::JsonBody`].
pub struct SeedJson<T>(Result<T, ApiError>);

impl<T> SeedJson<T> {
    /// The body, or the 400 that says what is wrong with it and where.
    pub fn parse(self) -> Result<T, ApiError> {
        self.0
    }
}

/// `bytes` parsed as `T`; an unknown field is named in `field` too.
fn parse_body<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    parse_json(bytes).map_err(|mut e| {
        if e.field.is_none() {
            if let Some(rest) = e.message.split("unknown field `").nth(1) {
                e.field = rest.split('`').next().map(String::from);
            }
        }
        e
    })
}

/// Whether `bytes` start (after blanks) like a JSON object or array.
fn looks_like_json(bytes: &[u8]) -> bool {
    bytes
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|b| matches!(b, b'{' | b'['))
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for SeedJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let content_type = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.to_ascii_lowercase());
        let bytes = match axum::body::Bytes::from_request(request, state).await {
            Ok(b) => b,
            Err(_) => {
                return Ok(SeedJson(Err(ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "body_too_large",
                    "the body is too large or could not be read",
                ))))
            }
        };
        let accepted = match content_type.as_deref() {
            None => true,
            Some(v) if v.starts_with("application/json") || v.contains("+json") => true,
            Some(v) if v.starts_with("application/x-www-form-urlencoded") => {
                looks_like_json(&bytes)
            }
            Some(_) => false,
        };
        if !accepted {
            return Ok(SeedJson(Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the body as JSON with `Content-Type: application/json`",
            ))));
        }
        Ok(SeedJson(parse_body(&bytes)))
    }
}

/// `errorEmails`: a JSON array of addresses, or (as seed 000 words it)
/// one text of comma-separated addresses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EmailList(pub Vec<String>);

impl<'de> Deserialize<'de> for EmailList {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Emails;
        impl<'de> Visitor<'de> for Emails {
            type Value = EmailList;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str(
                    "an array of e-mail addresses (or one text of comma-separated addresses)",
                )
            }

            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<EmailList, E> {
                Ok(EmailList(
                    text.split(',')
                        .map(str::trim)
                        .filter(|a| !a.is_empty())
                        .map(String::from)
                        .collect(),
                ))
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<EmailList, A::Error> {
                let mut all = Vec::new();
                while let Some(address) = seq.next_element::<String>()? {
                    all.push(address);
                }
                Ok(EmailList(all))
            }
        }
        deserializer.deserialize_any(Emails)
    }
}

/// A VM integration to register (POST) or its changes (PUT): seed 000's
/// fields. On PUT, `roleArn` and `name` are required and absent fields
/// keep their value.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct VmForm {
    /// Required on POST. The bucket to deliver to: 3 to 63 lower-case
    /// letters, digits, dots and hyphens.
    #[schema(example = "qualys-vm-findings")]
    pub bucket_name: Option<String>,
    /// Required on POST. The bucket's region.
    #[schema(example = "us-east-1")]
    pub bucket_region: Option<String>,
    /// Required. The role Vigil assumes: `arn:aws:iam::<account>:role/<name>`.
    #[schema(example = "arn:aws:iam::123456789012:role/policy-role")]
    pub role_arn: Option<String>,
    /// Required. Unique among VM integrations; at most 50 characters.
    #[schema(example = "Sample integration")]
    pub name: Option<String>,
    /// 1 to 5 (default 3): findings of this severity and above.
    #[schema(value_type = Option<i64>, example = 4)]
    pub min_severity: Option<serde_json::Value>,
    /// `Confirmed` (default: confirmed only), `Potential` (and confirmed)
    /// or `IG` (all three).
    #[schema(example = "Potential")]
    pub base_category: Option<String>,
    /// Include the `results` of detections (default false).
    pub result_section_needed: Option<bool>,
    /// Write knowledge-base entries under `vuln_info/vm` (default false).
    pub send_vuln_info: Option<bool>,
    /// Gzip objects (`.gz`, default true) or not (`.json`).
    pub compress_data: Option<bool>,
    /// E-mail `errorEmails` when delivery fails for a reason a person must
    /// fix (default false).
    pub send_alerts: Option<bool>,
    /// At most 5 addresses; required when `sendAlerts` is true. An array or
    /// one comma-separated text.
    #[schema(value_type = Option<Vec<String>>, example = json!(["secops@example.com"]))]
    pub error_emails: Option<EmailList>,
    /// PUT only: a new external id (validate again after changing the trust
    /// policy).
    pub regenerate_external_id: Option<bool>,
}

/// A PC (or OCSF) integration to register (POST) or its changes (PUT):
/// seed 000's PC fields, plus Vigil's `sendAlerts` and `errorEmails` as for
/// VM.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PcForm {
    /// Required. Unique among integrations of its kind; at most 50
    /// characters.
    #[schema(example = "AWS S3 PC integration")]
    pub name: Option<String>,
    /// Gzip objects (`.gz`, default true) or not (`.json`).
    pub compress_data: Option<bool>,
    /// Required on POST.
    #[schema(example = "qualys-pc-data")]
    pub bucket_name: Option<String>,
    /// Required on POST.
    #[schema(example = "ap-south-1")]
    pub bucket_region: Option<String>,
    /// Required.
    #[schema(example = "arn:aws:iam::123456789012:role/pc-aws-s3-role")]
    pub role_arn: Option<String>,
    /// Vigil's extension: alert e-mails as for VM (default false).
    pub send_alerts: Option<bool>,
    /// Vigil's extension: at most 5 addresses; required when `sendAlerts`.
    #[schema(value_type = Option<Vec<String>>)]
    pub error_emails: Option<EmailList>,
    /// PUT only: a new external id.
    pub regenerate_external_id: Option<bool>,
}

impl From<PcForm> for VmForm {
    fn from(f: PcForm) -> VmForm {
        VmForm {
            bucket_name: f.bucket_name,
            bucket_region: f.bucket_region,
            role_arn: f.role_arn,
            name: f.name,
            compress_data: f.compress_data,
            send_alerts: f.send_alerts,
            error_emails: f.error_emails,
            regenerate_external_id: f.regenerate_external_id,
            ..VmForm::default()
        }
    }
}

// --- field checks ------------------------------------------------------------

/// Whether `name` is an S3 bucket name: 3 to 63 lower-case letters,
/// digits, dots and hyphens, starting and ending with a letter or digit, no
/// two dots in a row, not an IP address.
pub fn is_bucket_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    let edge = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    (3..=63).contains(&bytes.len())
        && bytes.iter().all(|&b| edge(b) || b == b'.' || b == b'-')
        && bytes.first().is_some_and(|&b| edge(b))
        && bytes.last().is_some_and(|&b| edge(b))
        && !name.contains("..")
        && name.parse::<std::net::Ipv4Addr>().is_err()
}

/// Whether `arn` is an IAM role ARN: `arn:aws[-a-z]*:iam::<12 digits>:role/<path/name>`.
pub fn is_role_arn(arn: &str) -> bool {
    let Some(rest) = arn.strip_prefix("arn:aws") else {
        return false;
    };
    let Some((partition, rest)) = rest.split_once(":iam::") else {
        return false;
    };
    let Some((account, role)) = rest.split_once(":role/") else {
        return false;
    };
    partition
        .bytes()
        .all(|b| b == b'-' || b.is_ascii_lowercase())
        && (partition.is_empty() || partition.starts_with('-'))
        && account.len() == 12
        && account.bytes().all(|b| b.is_ascii_digit())
        && !role.is_empty()
        && !role.ends_with('/')
        && role.len() <= 512
        && role
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+=,.@_/-".contains(c))
}

/// Whether `address` is shaped like an e-mail address (`local@domain.tld`).
pub fn is_email(address: &str) -> bool {
    let Some((local, domain)) = address.rsplit_once('@') else {
        return false;
    };
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    address.len() <= 254
        && !local.is_empty()
        && local.len() <= 64
        && local
            .chars()
            .all(|c| c.is_ascii_graphic() && !"@<>()[]\\,;:\"".contains(c))
        && domain.contains('.')
        && domain.split('.').all(label_ok)
}

fn required(field: &str, what: &str) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "missing_field",
        format!("the field `{field}` is required: {what}"),
    )
    .with_field(field)
}

fn check_bucket_name(name: &str) -> Result<(), ApiError> {
    if is_bucket_name(name) {
        return Ok(());
    }
    Err(ApiError::invalid_field(
        "bucketName",
        format!("`{name}` is not an S3 bucket name: 3 to 63 lower-case letters, digits, dots and hyphens, starting and ending with a letter or digit"),
    ))
}

fn check_region(region: &str) -> Result<(), ApiError> {
    if crate::connectors::is_region(region) {
        return Ok(());
    }
    Err(ApiError::invalid_field(
        "bucketRegion",
        format!("`{region}` is not an AWS region name (e.g. us-east-1, eu-west-3)"),
    ))
}

fn check_role_arn(arn: &str) -> Result<(), ApiError> {
    if is_role_arn(arn) {
        return Ok(());
    }
    Err(ApiError::invalid_field(
        "roleArn",
        format!("`{arn}` is not an IAM role ARN: it must look like arn:aws:iam::<12-digit account>:role/<name>"),
    ))
}

fn check_name(name: &str) -> Result<String, ApiError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(ApiError::invalid_field(
            "name",
            "the name must not be empty",
        ));
    }
    let chars = name.chars().count();
    if chars > MAX_NAME {
        return Err(ApiError::invalid_field(
            "name",
            format!("the name is {chars} characters long; at most {MAX_NAME} are allowed"),
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(ApiError::invalid_field(
            "name",
            "the name must not contain control characters",
        ));
    }
    Ok(name.to_string())
}

fn check_emails(emails: &[String]) -> Result<(), ApiError> {
    if emails.len() > MAX_ERROR_EMAILS {
        return Err(ApiError::invalid_field(
            "errorEmails",
            format!(
                "{} addresses were given; at most {MAX_ERROR_EMAILS} are allowed",
                emails.len()
            ),
        ));
    }
    for (i, address) in emails.iter().enumerate() {
        let field = format!("errorEmails[{i}]");
        if !is_email(address) {
            return Err(ApiError::invalid_field(
                &field,
                format!("`{address}` is not an e-mail address (name@example.com)"),
            ));
        }
        if emails[..i].iter().any(|a| a.eq_ignore_ascii_case(address)) {
            return Err(ApiError::invalid_field(
                &field,
                format!("`{address}` is listed twice"),
            ));
        }
    }
    Ok(())
}

/// The settings a form gives, on top of `existing` (PUT) or of the
/// defaults (POST), checked field by field in seed 000's order.
fn settings_of(
    kind: IntegrationKind,
    form: VmForm,
    existing: Option<&IntegrationSettings>,
) -> Result<IntegrationSettings, ApiError> {
    let label = kind.label();
    let creating = existing.is_none();
    if creating && form.regenerate_external_id.is_some() {
        return Err(ApiError::invalid_field(
            "regenerateExternalId",
            "`regenerateExternalId` is for updates (PUT); a new integration gets an external id anyway",
        ));
    }
    let bucket_name = match (form.bucket_name, existing) {
        (Some(b), _) => b,
        (None, Some(e)) => e.bucket_name.clone(),
        (None, None) => {
            return Err(required(
                "bucketName",
                "the name of the S3 bucket to deliver to",
            ))
        }
    };
    check_bucket_name(&bucket_name)?;
    let bucket_region = match (form.bucket_region, existing) {
        (Some(r), _) => r,
        (None, Some(e)) => e.bucket_region.clone(),
        (None, None) => {
            return Err(required(
                "bucketRegion",
                "the AWS region of the bucket (e.g. us-east-1)",
            ))
        }
    };
    check_region(&bucket_region)?;
    let role_arn = form.role_arn.ok_or_else(|| {
        required(
            "roleArn",
            "the ARN of the role you created for Vigil in your account",
        )
    })?;
    check_role_arn(&role_arn)?;
    let name = form.name.ok_or_else(|| {
        required(
            "name",
            &format!("a unique name of the {label} integration (at most {MAX_NAME} characters)"),
        )
    })?;
    let name = check_name(&name)?;
    let min_severity = match (form.min_severity, existing) {
        (Some(s), _) => match s.as_u64() {
            Some(n @ 1..=5) => n as u8,
            _ => {
                return Err(ApiError::invalid_field(
                    "minSeverity",
                    format!("minSeverity must be a whole number 1 to 5, got {s}"),
                ))
            }
        },
        (None, Some(e)) => e.min_severity,
        (None, None) => DEFAULT_MIN_SEVERITY,
    };
    let base_category = match (form.base_category, existing) {
        (Some(c), _) => BaseCategory::parse(&c).ok_or_else(|| {
            ApiError::invalid_field(
                "baseCategory",
                format!("baseCategory must be IG, Potential or Confirmed (exactly so), got `{c}`"),
            )
        })?,
        (None, Some(e)) => e.base_category,
        (None, None) => BaseCategory::default(),
    };
    let keep = |given: Option<bool>, old: fn(&IntegrationSettings) -> bool, default: bool| {
        given.unwrap_or_else(|| existing.map_or(default, old))
    };
    let result_section_needed = keep(
        form.result_section_needed,
        |e| e.result_section_needed,
        false,
    );
    let send_vuln_info = keep(form.send_vuln_info, |e| e.send_vuln_info, false);
    let compress_data = keep(form.compress_data, |e| e.compress_data, true);
    let send_alerts = keep(form.send_alerts, |e| e.send_alerts, false);
    let error_emails = match (form.error_emails, existing) {
        (Some(EmailList(list)), _) => list,
        (None, Some(e)) => e.error_emails.clone(),
        (None, None) => Vec::new(),
    };
    check_emails(&error_emails)?;
    if send_alerts && error_emails.is_empty() {
        return Err(ApiError::invalid_field(
            "errorEmails",
            "sendAlerts is true: give errorEmails, 1 to 5 addresses to alert",
        ));
    }
    Ok(IntegrationSettings {
        name,
        bucket_name,
        bucket_region,
        role_arn,
        compress_data,
        min_severity,
        base_category,
        result_section_needed,
        send_vuln_info,
        send_alerts,
        error_emails,
    })
}

// --- answers -------------------------------------------------------------

/// The answer to registering: seed 000's output.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Registered {
    /// The integration's id, used in every other path.
    #[schema(example = 5)]
    pub integration_id: i64,
    /// `<POD>-<customerId>-<uuid>`: require it as `sts:ExternalId` in the
    /// role's trust policy.
    #[schema(example = "VIGIL_POD_1-482913-36da0dcf-43d7-4014-82a7-47ce22a0db57")]
    pub external_id: String,
}

/// Seed 000's message answers (validated, updated, deleted).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Message {
    #[schema(example = "AWS S3 VM integration successfully updated.")]
    pub message: String,
    /// The new external id, after `regenerateExternalId`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
}

impl Message {
    fn of(kind: IntegrationKind, done: &str) -> Message {
        Message {
            message: format!("AWS S3 {} integration successfully {done}.", kind.label()),
            external_id: None,
        }
    }
}

/// Why validation failed: the error shape plus the problem's code.
#[derive(Debug, Serialize, ToSchema)]
pub struct ValidationFailed {
    /// 400 when a person must fix something, 502 when AWS could not be
    /// reached (try again).
    #[schema(example = 400)]
    pub status: u16,
    /// Always `validation_failed`.
    #[schema(example = "validation_failed")]
    pub code: String,
    /// What went wrong and what to do.
    pub message: String,
    /// `AssumeRoleDenied`, `InvalidRole`, `AccessDenied`, `NoSuchBucket`,
    /// `WrongRegion` or `Transient`.
    #[schema(example = "NoSuchBucket")]
    pub problem: String,
}

impl IntoResponse for ValidationFailed {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::BAD_REQUEST);
        (status, Json(self)).into_response()
    }
}

/// What Vigil adds to seed 000's GET answers: how delivery stands.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryStatus {
    /// `pending` (not validated: nothing is sent), `active` or `error`.
    #[schema(example = "active")]
    pub state: String,
    /// What a person must fix, while `state` is `error`.
    pub problem: Option<String>,
    /// When S3 last confirmed an object (RFC 3339).
    pub last_delivery: Option<String>,
    /// Objects S3 confirmed since the integration was registered.
    pub objects_delivered: u64,
    /// Objects waiting in the outbox.
    pub pending_objects: u64,
}

/// A VM integration: seed 000's GET output, then Vigil's delivery status.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VmIntegration {
    pub integration_id: i64,
    pub customer_id: i64,
    #[serde(rename = "customerUUID")]
    pub customer_uuid: String,
    pub bucket_name: String,
    pub bucket_region: String,
    pub min_severity: u8,
    /// `IG`, `Potential` or `Confirmed`.
    pub base_category: String,
    pub name: String,
    pub result_section_needed: bool,
    pub send_vuln_info: bool,
    pub compress_data: bool,
    pub external_id: String,
    pub role_arn: String,
    pub integration_validated: bool,
    pub send_alerts: bool,
    pub error_emails: Vec<String>,
    #[serde(flatten)]
    pub delivery: DeliveryStatus,
}

/// A PC or OCSF integration: seed 000's PC GET output, then what Vigil
/// adds (the ids, alerts and delivery status).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PcIntegration {
    pub name: String,
    pub compress_data: bool,
    pub bucket_name: String,
    pub bucket_region: String,
    pub role_arn: String,
    pub integration_validated: bool,
    pub integration_id: i64,
    pub customer_id: i64,
    #[serde(rename = "customerUUID")]
    pub customer_uuid: String,
    pub external_id: String,
    pub send_alerts: bool,
    pub error_emails: Vec<String>,
    #[serde(flatten)]
    pub delivery: DeliveryStatus,
}

fn delivery_status(i: &Integration, pending: u64) -> DeliveryStatus {
    DeliveryStatus {
        state: i.state.as_str().to_string(),
        problem: i.problem.clone(),
        last_delivery: i.last_delivery.map(|t| t.to_rfc3339()),
        objects_delivered: i.objects_delivered,
        pending_objects: pending,
    }
}

fn vm_view(customer: &Customer, i: Integration, pending: u64) -> VmIntegration {
    let delivery = delivery_status(&i, pending);
    let s = i.settings;
    VmIntegration {
        integration_id: i.id,
        customer_id: customer.customer_id,
        customer_uuid: customer.customer_uuid.clone(),
        bucket_name: s.bucket_name,
        bucket_region: s.bucket_region,
        min_severity: s.min_severity,
        base_category: s.base_category.as_str().to_string(),
        name: s.name,
        result_section_needed: s.result_section_needed,
        send_vuln_info: s.send_vuln_info,
        compress_data: s.compress_data,
        external_id: i.external_id,
        role_arn: s.role_arn,
        integration_validated: i.validated,
        send_alerts: s.send_alerts,
        error_emails: s.error_emails,
        delivery,
    }
}

fn pc_view(customer: &Customer, i: Integration, pending: u64) -> PcIntegration {
    let delivery = delivery_status(&i, pending);
    let s = i.settings;
    PcIntegration {
        name: s.name,
        compress_data: s.compress_data,
        bucket_name: s.bucket_name,
        bucket_region: s.bucket_region,
        role_arn: s.role_arn,
        integration_validated: i.validated,
        integration_id: i.id,
        customer_id: customer.customer_id,
        customer_uuid: customer.customer_uuid.clone(),
        external_id: i.external_id,
        send_alerts: s.send_alerts,
        error_emails: s.error_emails,
        delivery,
    }
}

// --- what every kind does ---------------------------------------------------

/// The integration id of a path, or 400.
fn parse_id(raw: &str) -> Result<i64, ApiError> {
    raw.parse::<i64>().map_err(|_| {
        ApiError::invalid_field(
            "id",
            format!("the integration id must be a number (the `integrationId` that registering answered), got `{raw}`"),
        )
    })
}

/// The base path of a kind's integrations.
fn base(kind: IntegrationKind) -> String {
    format!("/partner-integration/aws/s3/{}", kind.as_str())
}

/// The integration, or 404.
async fn find(state: &AppState, kind: IntegrationKind, id: i64) -> Result<Integration, ApiError> {
    state
        .store
        .integration(kind, id)
        .await
        .map_err(ApiError::from_store)?
        .ok_or_else(|| {
            ApiError::missing(format!(
                "there is no AWS S3 {} integration {id}; list them with GET {}",
                kind.label(),
                base(kind)
            ))
        })
}

async fn pending(state: &AppState, id: i64) -> Result<u64, ApiError> {
    state
        .store
        .outbox_pending(Some(id))
        .await
        .map_err(ApiError::from_store)
}

fn target(i: &Integration) -> Target {
    Target {
        bucket: i.settings.bucket_name.clone(),
        region: i.settings.bucket_region.clone(),
        role_arn: i.settings.role_arn.clone(),
        external_id: i.external_id.clone(),
    }
}

/// 409 unless `name` is free among the kind's integrations (but `id`).
async fn check_unique(
    state: &AppState,
    kind: IntegrationKind,
    name: &str,
    id: Option<i64>,
) -> Result<(), ApiError> {
    let all = state
        .store
        .integrations(Some(kind))
        .await
        .map_err(ApiError::from_store)?;
    if let Some(other) = all
        .iter()
        .find(|i| i.settings.name == name && Some(i.id) != id)
    {
        return Err(name_taken(kind, name, Some(other.id)));
    }
    Ok(())
}

fn name_taken(kind: IntegrationKind, name: &str, other: Option<i64>) -> ApiError {
    let which = other.map_or(String::new(), |id| format!(" ({id})"));
    ApiError::new(
        StatusCode::CONFLICT,
        "conflict",
        format!(
            "another AWS S3 {} integration{which} is named `{name}`; choose a unique name",
            kind.label()
        ),
    )
    .with_field("name")
}

/// A store error, with a name conflict named as such.
fn store_error(kind: IntegrationKind, name: &str, e: StoreError) -> ApiError {
    match e {
        StoreError::Conflict(_) => name_taken(kind, name, None),
        other => ApiError::from_store(other),
    }
}

fn audit_details(kind: IntegrationKind, s: &IntegrationSettings) -> serde_json::Value {
    let mut details = serde_json::json!({
        "kind": kind.as_str(),
        "name": s.name,
        "bucketName": s.bucket_name,
        "bucketRegion": s.bucket_region,
        "roleArn": s.role_arn,
        "compressData": s.compress_data,
        "sendAlerts": s.send_alerts,
        "errorEmails": s.error_emails,
    });
    if kind == IntegrationKind::Vm {
        details["minSeverity"] = s.min_severity.into();
        details["baseCategory"] = s.base_category.as_str().into();
        details["resultSectionNeeded"] = s.result_section_needed.into();
        details["sendVulnInfo"] = s.send_vuln_info.into();
    }
    details
}

fn audit_target(kind: IntegrationKind, id: i64) -> String {
    format!("integration:{}:{id}", kind.as_str())
}

async fn register(
    state: &AppState,
    caller: &Caller,
    kind: IntegrationKind,
    form: VmForm,
) -> Result<(StatusCode, Json<Registered>), ApiError> {
    let settings = settings_of(kind, form, None)?;
    check_unique(state, kind, &settings.name, None).await?;
    let d = &state.delivery;
    let external_id = new_external_id(&d.pod, &d.customer);
    let audit = caller.audit(
        "integration.create",
        &format!("integration:{}", kind.as_str()),
        audit_details(kind, &settings),
    );
    let created = state
        .store
        .create_integration(kind, &settings, &external_id, chrono::Utc::now(), &audit)
        .await
        .map_err(|e| store_error(kind, &settings.name, e))?;
    d.wake.notify_one();
    Ok((
        StatusCode::CREATED,
        Json(Registered {
            integration_id: created.id,
            external_id: created.external_id,
        }),
    ))
}

async fn validate(
    state: &AppState,
    caller: &Caller,
    kind: IntegrationKind,
    id: i64,
) -> Result<Json<Message>, Response> {
    let integration = find(state, kind, id)
        .await
        .map_err(IntoResponse::into_response)?;
    let d = &state.delivery;
    if let Err(e) = d
        .deliverer
        .validate(&target(&integration), integration.settings.compress_data)
        .await
    {
        let status = if e.problem.needs_human() {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::BAD_GATEWAY
        };
        return Err(ValidationFailed {
            status: status.as_u16(),
            code: "validation_failed".into(),
            message: format!(
                "the AWS S3 {} integration {id} could not be validated ({}): {}",
                kind.label(),
                e.problem.code(),
                e.message
            ),
            problem: e.problem.code().into(),
        }
        .into_response());
    }
    let audit = caller.audit(
        "integration.validate",
        &audit_target(kind, id),
        serde_json::json!({"kind": kind.as_str(), "name": integration.settings.name}),
    );
    state
        .store
        .mark_validated(kind, id, chrono::Utc::now(), &audit)
        .await
        .map_err(|e| ApiError::from_store(e).into_response())?;
    d.wake.notify_one();
    Ok(Json(Message::of(kind, "validated")))
}

async fn update(
    state: &AppState,
    caller: &Caller,
    kind: IntegrationKind,
    id: i64,
    form: VmForm,
) -> Result<Json<Message>, ApiError> {
    let existing = find(state, kind, id).await?;
    let regenerate = form.regenerate_external_id.unwrap_or(false);
    let settings = settings_of(kind, form, Some(&existing.settings))?;
    check_unique(state, kind, &settings.name, Some(id)).await?;
    let d = &state.delivery;
    let external_id = regenerate.then(|| new_external_id(&d.pod, &d.customer));
    let mut details = audit_details(kind, &settings);
    details["regenerateExternalId"] = regenerate.into();
    let audit = caller.audit("integration.update", &audit_target(kind, id), details);
    let updated = state
        .store
        .update_integration(
            kind,
            id,
            &settings,
            external_id.as_deref(),
            chrono::Utc::now(),
            &audit,
        )
        .await
        .map_err(|e| store_error(kind, &settings.name, e))?;
    let before = target(&existing);
    if target(&updated) != before {
        d.deliverer.forget(&before);
    }
    d.wake.notify_one();
    let mut message = Message::of(kind, "updated");
    message.external_id = external_id;
    Ok(Json(message))
}

async fn remove(
    state: &AppState,
    caller: &Caller,
    kind: IntegrationKind,
    id: i64,
) -> Result<Json<Message>, ApiError> {
    let existing = find(state, kind, id).await?;
    let audit = caller.audit(
        "integration.delete",
        &audit_target(kind, id),
        serde_json::json!({"kind": kind.as_str(), "name": existing.settings.name}),
    );
    state
        .store
        .delete_integration(kind, id, &audit)
        .await
        .map_err(ApiError::from_store)?;
    state.delivery.deliverer.forget(&target(&existing));
    state.delivery.wake.notify_one();
    Ok(Json(Message::of(kind, "deleted")))
}

/// Every integration of `kind` with its pending objects, by id.
async fn all(state: &AppState, kind: IntegrationKind) -> Result<Vec<(Integration, u64)>, ApiError> {
    let list = state
        .store
        .integrations(Some(kind))
        .await
        .map_err(ApiError::from_store)?;
    let mut out = Vec::with_capacity(list.len());
    for i in list {
        let n = pending(state, i.id).await?;
        out.push((i, n));
    }
    Ok(out)
}

async fn one(
    state: &AppState,
    kind: IntegrationKind,
    id: i64,
) -> Result<(Integration, u64), ApiError> {
    let i = find(state, kind, id).await?;
    let n = pending(state, id).await?;
    Ok((i, n))
}

// --- the endpoints, per kind ---------------------------------------------

/// Registers an AWS S3 VM integration (VM findings); answers its
/// `integrationId` and the `externalId` to require in the role's trust
/// policy. Nothing is delivered until it is validated.
#[utoipa::path(post, path = "/partner-integration/aws/s3/vm", tag = "s3 integrations",
    security(("bearer" = ["manage_integrations"])),
    request_body = VmForm,
    responses(
        (status = 201, description = "Registered (not validated yet)", body = Registered),
        (status = 400, description = "A field is missing or invalid (the field is named)", body = ApiError),
        (status = 401, description = "No valid token", body = ApiError),
        (status = 403, description = "The caller's role lacks manage_integrations", body = ApiError),
        (status = 409, description = "Another VM integration has that name", body = ApiError),
    ))]
pub async fn vm_register(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    body: SeedJson<VmForm>,
) -> Result<(StatusCode, Json<Registered>), ApiError> {
    caller.require(Permission::ManageIntegrations)?;
    register(&state, &caller, IntegrationKind::Vm, body.parse()?).await
}

/// Validates an AWS S3 VM integration: assumes its role with its external
/// id and writes the `test-file` (`.gz`, or `.json` without compressData);
/// delivery starts once it succeeded.
#[utoipa::path(patch, path = "/partner-integration/aws/s3/{id}/vm/validate", tag = "s3 integrations",
    security(("bearer" = ["manage_integrations"])),
    params(("id" = i64, Path, description = "The integrationId")),
    responses(
        (status = 200, description = "Validated: delivery starts", body = Message,
            example = json!({"message": "AWS S3 VM integration successfully validated."})),
        (status = 400, description = "The id is not a number, or the role or bucket refused (the reason and its code in `problem`)", body = ValidationFailed),
        (status = 401, description = "No valid token", body = ApiError),
        (status = 403, description = "The caller's role lacks manage_integrations", body = ApiError),
        (status = 404, description = "No such VM integration", body = ApiError),
        (status = 502, description = "AWS could not be reached; try again", body = ValidationFailed),
    ))]
pub async fn vm_validate(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Message>, Response> {
    caller
        .require(Permission::ManageIntegrations)
        .map_err(IntoResponse::into_response)?;
    let id = parse_id(&id).map_err(IntoResponse::into_response)?;
    validate(&state, &caller, IntegrationKind::Vm, id).await
}

/// Updates an AWS S3 VM integration: `roleArn` and `name` are required,
/// absent fields keep their value. With `regenerateExternalId` true the
/// answer carries the new `externalId`; a new external id, bucket, region
/// or role needs validating again.
#[utoipa::path(put, path = "/partner-integration/aws/s3/{id}/vm", tag = "s3 integrations",
    security(("bearer" = ["manage_integrations"])),
    params(("id" = i64, Path, description = "The integrationId")),
    request_body = VmForm,
    responses(
        (status = 200, description = "Updated", body = Message,
            example = json!({"message": "AWS S3 VM integration successfully updated."})),
        (status = 400, description = "A field is missing or invalid (the field is named)", body = ApiError),
        (status = 401, description = "No valid token", body = ApiError),
        (status = 403, description = "The caller's role lacks manage_integrations", body = ApiError),
        (status = 404, description = "No such VM integration", body = ApiError),
        (status = 409, description = "Another VM integration has that name", body = ApiError),
    ))]
pub async fn vm_update(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
    body: SeedJson<VmForm>,
) -> Result<Json<Message>, ApiError> {
    caller.require(Permission::ManageIntegrations)?;
    let id = parse_id(&id)?;
    update(&state, &caller, IntegrationKind::Vm, id, body.parse()?).await
}

/// Every AWS S3 VM integration, by id (a JSON array of what
/// `GET /partner-integration/aws/s3/{id}/vm` answers).
#[utoipa::path(get, path = "/partner-integration/aws/s3/vm", tag = "s3 integrations",
    security(("bearer" = ["manage_integrations"])),
    responses(
        (status = 200, description = "The VM integrations", body = Vec<VmIntegration>),
        (status = 401, description = "No valid token", body = ApiError),
        (status = 403, description = "The caller's role lacks manage_integrations", body = ApiError),
    ))]
pub async fn vm_list(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> Result<Json<Vec<VmIntegration>>, ApiError> {
    caller.require(Permission::ManageIntegrations)?;
    let customer = &state.delivery.customer;
    Ok(Json(
        all(&state, IntegrationKind::Vm)
            .await?
            .into_iter()
            .map(|(i, n)| vm_view(customer, i, n))
            .collect(),
    ))
}

/// One AWS S3 VM integration: seed 000's fields, then how delivery stands.
#[utoipa::path(get, path = "/partner-integration/aws/s3/{id}/vm", tag = "s3 integrations",
    security(("bearer" = ["manage_integrations"])),
    params(("id" = i64, Path, description = "The integrationId")),
    responses(
        (status = 200, description = "The integration", body = VmIntegration),
        (status = 400, description = "The id is not a number", body = ApiError),
        (status = 401, description = "No valid token", body = ApiError),
        (status = 403, description = "The caller's role lacks manage_integrations", body = ApiError),
        (status = 404, description = "No such VM integration", body = ApiError),
    ))]
pub async fn vm_get(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<VmIntegration>, ApiError> {
    caller.require(Permission::ManageIntegrations)?;
    let id = parse_id(&id)?;
    let (i, n) = one(&state, IntegrationKind::Vm, id).await?;
    Ok(Json(vm_view(&state.delivery.customer, i, n)))
}

/// De-registers an AWS S3 VM integration: nothing more is delivered and
/// its objects still waiting in the outbox are dropped.
#[utoipa::path(delete, path = "/partner-integration/aws/s3/{id}/vm", tag = "s3 integrations",
    security(("bearer" = ["manage_integrations"])),
    params(("id" = i64, Path, description = "The integrationId")),
    responses(
        (status = 200, description = "Deleted", body = Message,
            example = json!({"message": "AWS S3 VM integration successfully deleted."})),
        (status = 400, description = "The id is not a number", body = ApiError),
        (status = 401, description = "No valid token", body = ApiError),
        (status = 403, description = "The caller's role lacks manage_integrations", body = ApiError),
        (status = 404, description = "No such VM integration", body = ApiError),
    ))]
pub async fn vm_delete(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Message>, ApiError> {
    caller.require(Permission::ManageIntegrations)?;
    let id = parse_id(&id)?;
    remove(&state, &caller, IntegrationKind::Vm, id).await
}

/// Registers an AWS S3 PC integration (PC posture through CIPS); answers its
/// `integrationId` and the `externalId` to require in the role's trust
/// policy. Nothing is delivered until it is validated.
#[utoipa::path(post, path = "/partner-integration/aws/s3/pc", tag = "s3 integrations",
    security(("bearer" = ["manage_integrations"])),
    request_body = PcForm,
    responses(
        (status = 201, description = "Registered (not validated yet)", body = Registered),
        (status = 400, description = "A field is missing or invalid (the field is named)", body = ApiError),
        (status = 401, description = "No valid token", body = ApiError),
        (status = 403, description = "The caller's role lacks manage_integrations", body = ApiError),
        (status = 409, description = "Another PC integration has that name", body = ApiError),
    ))]
pub async fn pc_register(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    body: SeedJson<PcForm>,
) -> Result<(StatusCode, Json<Registered>), ApiError> {
    caller.require(Permission::ManageIntegrations)?;
    register(&state, &caller, IntegrationKind::Pc, body.parse()?.into()).await
}

/// Validates an AWS S3 PC integration: assumes its role with its external
/// id and writes the `test-file` (`.gz`, or `.json` without compressData);
/// delivery starts once it succeeded.
#[utoipa::path(patch, path = "/partner-integration/aws/s3/{id}/pc/validate", tag = "s3 integrations",
    security(("bearer" = ["manage_integrations"])),
    params(("id" = i64, Path, description = "The integrationId")),
    responses(
        (status = 200, description = "Validated: delivery starts", body = Message,
            example = json!({"message": "AWS S3 PC integration successfully validated."})),
        (status = 400, description = "The id is not a number, or the role or bucket refused (the reason and its code in `problem`)", body = ValidationFailed),
        (status = 401, description = "No valid token", body = ApiError),
        (status = 403, description = "The caller's role lacks manage_integrations", body = ApiError),
        (status = 404, description = "No such PC integration", body = ApiError),
        (status = 502, description = "AWS could not be reached; try again", body = ValidationFailed),
    ))]
pub async fn pc_validate(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Message>, Response> {
    caller
        .require(Permission::ManageIntegrations)
        .map_err(IntoResponse::into_response)?;
    let id = parse_id(&id).map_err(IntoResponse::into_response)?;
    validate(&state, &caller, IntegrationKind::Pc, id).await
}

/// Updates an AWS S3 PC integration: `roleArn` and `name` are required,
/// absent fields keep their value. With `regenerateExternalId` true the
/// answer carries the new `externalId`; a new external id, bucket, region
/// or role needs validating again.
#[utoipa::path(put, path = "/partner-integration/aws/s3/{id}/pc", tag = "s3 integrations",
    security(("bearer" = ["manage_integrations"])),
    params(("id" = i64, Path, description = "The integrationId")),
    request_body = PcForm,
    responses(
        (status = 200, description = "Updated", body = Message,
            example = json!({"message": "AWS S3 PC integration successfully updated."})),
        (status = 400, description = "A field is missing or invalid (the field is named)", body = ApiError),
        (status = 401, description = "No valid token", body = ApiError),
        (status = 403, description = "The caller's role lacks manage_integrations", body = ApiError),
        (status = 404, description = "No such PC integration", body = ApiError),
        (status = 409, description = "Another PC integration has that name", body = ApiError),
    ))]
pub async fn pc_update(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
    body: SeedJson<PcForm>,
) -> Result<Json<Message>, ApiError> {
    caller.require(Permission::ManageIntegrations)?;
    let id = parse_id(&id)?;
    update(
        &state,
        &caller,
        IntegrationKind::Pc,
        id,
        body.parse()?.into(),
    )
    .await
}

/// Every AWS S3 PC integration, by id (a JSON array of what
/// `GET /partner-integration/aws/s3/{id}/pc` answers).
#[utoipa::path(get, path = "/partner-integration/aws/s3/pc", tag = "s3 integrations",
    security(("bearer" = ["manage_integrations"])),
    responses(
        (status = 200, description = "The PC integrations", body = Vec<PcIntegration>),
        (status = 401, description = "No valid token", body = ApiError),
        (status = 403, description = "The caller's role lacks manage_integrations", body = ApiError),
    ))]
pub async fn pc_list(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> Result<Json<Vec<PcIntegration>>, ApiError> {
    caller.require(Permission::ManageIntegrations)?;
    let customer = &state.delivery.customer;
    Ok(Json(
        all(&state, IntegrationKind::Pc)
            .await?
            .into_iter()
            .map(|(i, n)| pc_view(customer, i, n))
            .collect(),
    ))
}

/// One AWS S3 PC integration: seed 000's fields, then how delivery stands.
#[utoipa::path(get, path = "/partner-integration/aws/s3/{id}/pc", tag = "s3 integrations",
    security(("bearer" = ["manage_integrations"])),
    params(("id" = i64, Path, description = "The integrationId")),
    responses(
        (status = 200, description = "The integration", body = PcIntegration),
        (status = 400, description = "The id is not a number", body = ApiError),
        (status = 401, description = "No valid token", body = ApiError),
        (status = 403, description = "The caller's role lacks manage_integrations", body = ApiError),
        (status = 404, description = "No such PC integration", body = ApiError),
    ))]
pub async fn pc_get(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<PcIntegration>, ApiError> {
    caller.require(Permission::ManageIntegrations)?;
    let id = parse_id(&id)?;
    let (i, n) = one(&state, IntegrationKind::Pc, id).await?;
    Ok(Json(pc_view(&state.delivery.customer, i, n)))
}

/// De-registers an AWS S3 PC integration: nothing more is delivered and
/// its objects still waiting in the outbox are dropped.
#[utoipa::path(delete, path = "/partner-integration/aws/s3/{id}/pc", tag = "s3 integrations",
    security(("bearer" = ["manage_integrations"])),
    params(("id" = i64, Path, description = "The integrationId")),
    responses(
        (status = 200, description = "Deleted", body = Message,
            example = json!({"message": "AWS S3 PC integration successfully deleted."})),
        (status = 400, description = "The id is not a number", body = ApiError),
        (status = 401, description = "No valid token", body = ApiError),
        (status = 403, description = "The caller's role lacks manage_integrations", body = ApiError),
        (status = 404, description = "No such PC integration", body = ApiError),
    ))]
pub async fn pc_delete(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Message>, ApiError> {
    caller.require(Permission::ManageIntegrations)?;
    let id = parse_id(&id)?;
    remove(&state, &caller, IntegrationKind::Pc, id).await
}

/// Registers an AWS S3 OCSF integration (Vigil's own evaluations as OCSF Detection Findings (Vigil's extension; the PC fields)); answers its
/// `integrationId` and the `externalId` to require in the role's trust
/// policy. Nothing is delivered until it is validated.
#[utoipa::path(post, path = "/partner-integration/aws/s3/ocsf", tag = "s3 integrations",
    security(("bearer" = ["manage_integrations"])),
    request_body = PcForm,
    responses(
        (status = 201, description = "Registered (not validated yet)", body = Registered),
        (status = 400, description = "A field is missing or invalid (the field is named)", body = ApiError),
        (status = 401, description = "No valid token", body = ApiError),
        (status = 403, description = "The caller's role lacks manage_integrations", body = ApiError),
        (status = 409, description = "Another OCSF integration has that name", body = ApiError),
    ))]
pub async fn ocsf_register(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    body: SeedJson<PcForm>,
) -> Result<(StatusCode, Json<Registered>), ApiError> {
    caller.require(Permission::ManageIntegrations)?;
    register(&state, &caller, IntegrationKind::Ocsf, body.parse()?.into()).await
}

/// Validates an AWS S3 OCSF integration: assumes its role with its external
/// id and writes the `test-file` (`.gz`, or `.json` without compressData);
/// delivery starts once it succeeded.
#[utoipa::path(patch, path = "/partner-integration/aws/s3/{id}/ocsf/validate", tag = "s3 integrations",
    security(("bearer" = ["manage_integrations"])),
    params(("id" = i64, Path, description = "The integrationId")),
    responses(
        (status = 200, description = "Validated: delivery starts", body = Message,
            example = json!({"message": "AWS S3 OCSF integration successfully validated."})),
        (status = 400, description = "The id is not a number, or the role or bucket refused (the reason and its code in `problem`)", body = ValidationFailed),
        (status = 401, description = "No valid token", body = ApiError),
        (status = 403, description = "The caller's role lacks manage_integrations", body = ApiError),
        (status = 404, description = "No such OCSF integration", body = ApiError),
        (status = 502, description = "AWS could not be reached; try again", body = ValidationFailed),
    ))]
pub async fn ocsf_validate(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Message>, Response> {
    caller
        .require(Permission::ManageIntegrations)
        .map_err(IntoResponse::into_response)?;
    let id = parse_id(&id).map_err(IntoResponse::into_response)?;
    validate(&state, &caller, IntegrationKind::Ocsf, id).await
}

/// Updates an AWS S3 OCSF integration: `roleArn` and `name` are required,
/// absent fields keep their value. With `regenerateExternalId` true the
/// answer carries the new `externalId`; a new external id, bucket, region
/// or role needs validating again.
#[utoipa::path(put, path = "/partner-integration/aws/s3/{id}/ocsf", tag = "s3 integrations",
    security(("bearer" = ["manage_integrations"])),
    params(("id" = i64, Path, description = "The integrationId")),
    request_body = PcForm,
    responses(
        (status = 200, description = "Updated", body = Message,
            example = json!({"message": "AWS S3 OCSF integration successfully updated."})),
        (status = 400, description = "A field is missing or invalid (the field is named)", body = ApiError),
        (status = 401, description = "No valid token", body = ApiError),
        (status = 403, description = "The caller's role lacks manage_integrations", body = ApiError),
        (status = 404, description = "No such OCSF integration", body = ApiError),
        (status = 409, description = "Another OCSF integration has that name", body = ApiError),
    ))]
pub async fn ocsf_update(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
    body: SeedJson<PcForm>,
) -> Result<Json<Message>, ApiError> {
    caller.require(Permission::ManageIntegrations)?;
    let id = parse_id(&id)?;
    update(
        &state,
        &caller,
        IntegrationKind::Ocsf,
        id,
        body.parse()?.into(),
    )
    .await
}

/// Every AWS S3 OCSF integration, by id (a JSON array of what
/// `GET /partner-integration/aws/s3/{id}/ocsf` answers).
#[utoipa::path(get, path = "/partner-integration/aws/s3/ocsf", tag = "s3 integrations",
    security(("bearer" = ["manage_integrations"])),
    responses(
        (status = 200, description = "The OCSF integrations", body = Vec<PcIntegration>),
        (status = 401, description = "No valid token", body = ApiError),
        (status = 403, description = "The caller's role lacks manage_integrations", body = ApiError),
    ))]
pub async fn ocsf_list(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> Result<Json<Vec<PcIntegration>>, ApiError> {
    caller.require(Permission::ManageIntegrations)?;
    let customer = &state.delivery.customer;
    Ok(Json(
        all(&state, IntegrationKind::Ocsf)
            .await?
            .into_iter()
            .map(|(i, n)| pc_view(customer, i, n))
            .collect(),
    ))
}

/// One AWS S3 OCSF integration: seed 000's fields, then how delivery stands.
#[utoipa::path(get, path = "/partner-integration/aws/s3/{id}/ocsf", tag = "s3 integrations",
    security(("bearer" = ["manage_integrations"])),
    params(("id" = i64, Path, description = "The integrationId")),
    responses(
        (status = 200, description = "The integration", body = PcIntegration),
        (status = 400, description = "The id is not a number", body = ApiError),
        (status = 401, description = "No valid token", body = ApiError),
        (status = 403, description = "The caller's role lacks manage_integrations", body = ApiError),
        (status = 404, description = "No such OCSF integration", body = ApiError),
    ))]
pub async fn ocsf_get(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<PcIntegration>, ApiError> {
    caller.require(Permission::ManageIntegrations)?;
    let id = parse_id(&id)?;
    let (i, n) = one(&state, IntegrationKind::Ocsf, id).await?;
    Ok(Json(pc_view(&state.delivery.customer, i, n)))
}

/// De-registers an AWS S3 OCSF integration: nothing more is delivered and
/// its objects still waiting in the outbox are dropped.
#[utoipa::path(delete, path = "/partner-integration/aws/s3/{id}/ocsf", tag = "s3 integrations",
    security(("bearer" = ["manage_integrations"])),
    params(("id" = i64, Path, description = "The integrationId")),
    responses(
        (status = 200, description = "Deleted", body = Message,
            example = json!({"message": "AWS S3 OCSF integration successfully deleted."})),
        (status = 400, description = "The id is not a number", body = ApiError),
        (status = 401, description = "No valid token", body = ApiError),
        (status = 403, description = "The caller's role lacks manage_integrations", body = ApiError),
        (status = 404, description = "No such OCSF integration", body = ApiError),
    ))]
pub async fn ocsf_delete(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Message>, ApiError> {
    caller.require(Permission::ManageIntegrations)?;
    let id = parse_id(&id)?;
    remove(&state, &caller, IntegrationKind::Ocsf, id).await
}

// --- CIPS ------------------------------------------------------------------

/// Seed 000's bodies come as an array of objects (`[{"policy": [...]}]`);
/// one object alone is taken too.
#[derive(Debug)]
pub struct OneOrMany<T>(pub Vec<T>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for OneOrMany<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Either<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for Either<T> {
            type Value = OneOrMany<T>;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an array of objects (as seed 000's samples), or one object")
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut all = Vec::new();
                while let Some(item) = seq.next_element::<T>()? {
                    all.push(item);
                }
                Ok(OneOrMany(all))
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<Self::Value, A::Error> {
                T::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    .map(|one| OneOrMany(vec![one]))
            }
        }
        deserializer.deserialize_any(Either(std::marker::PhantomData))
    }
}

/// Policies to add to or delete from CIPS.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyList {
    /// Policy ids (positive numbers).
    #[schema(example = json!([4771746, 3606517, 4342692, 1109776]))]
    pub policy: Vec<i64>,
}

/// The CIPS filter: which postures are sent and whether with evidence.
/// POST: absent flags are true (send everything); PUT: absent flags keep
/// their value.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CipsFilterForm {
    #[schema(example = false)]
    pub include_evidence_data: Option<bool>,
    #[schema(example = true)]
    pub include_fail_posture: Option<bool>,
    #[schema(example = true)]
    pub include_pass_posture: Option<bool>,
    #[schema(example = true)]
    pub include_error_posture: Option<bool>,
}

/// The answer to creating or updating the filter (seed 000's).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CipsFilter {
    /// This installation's customer id.
    #[schema(example = 3068)]
    pub subscription_id: i64,
    pub include_evidence_data: bool,
    pub include_fail_posture: bool,
    pub include_pass_posture: bool,
    pub include_error_posture: bool,
    /// When the filter last changed, e.g. `2022-11-14T06:34:26.148+00:00`.
    #[schema(example = "2022-11-14T06:34:26.148+00:00")]
    pub last_updated: Option<String>,
}

/// `GET /pcas/cips/config`: the filter and the policies (seed 000's).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CipsDetails {
    /// The filter's id; null until a filter was created (then every flag
    /// reads true: everything is sent).
    #[schema(example = 1001)]
    pub id: Option<i64>,
    #[schema(example = 3068)]
    pub subscription_id: i64,
    pub include_evidence_data: bool,
    pub include_fail_posture: bool,
    pub include_pass_posture: bool,
    pub include_error_posture: bool,
    #[schema(example = "2022-11-14T06:34:26.148+00:00")]
    pub last_updated: Option<String>,
    /// The policies added to CIPS, ascending.
    #[schema(example = json!([1109776, 3523484, 3606517, 4342692, 4771746]))]
    pub policy: Vec<i64>,
}

/// `2022-11-14T06:34:26.148+00:00`, as seed 000 writes `lastUpdated`.
fn seed_time(t: vigil_model::Timestamp) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3f+00:00").to_string()
}

fn filter_view(state: &AppState, c: &CipsConfig) -> CipsFilter {
    CipsFilter {
        subscription_id: state.delivery.customer.customer_id,
        include_evidence_data: c.include_evidence_data,
        include_fail_posture: c.include_fail_posture,
        include_pass_posture: c.include_pass_posture,
        include_error_posture: c.include_error_posture,
        last_updated: c.last_updated.map(seed_time),
    }
}

/// The policy ids of a body: at least one, each positive, without repeats.
fn policy_ids(body: OneOrMany<PolicyList>) -> Result<Vec<i64>, ApiError> {
    let mut ids: Vec<i64> = Vec::new();
    for list in body.0 {
        for id in list.policy {
            if id <= 0 {
                return Err(ApiError::invalid_field(
                    "policy",
                    format!("policy ids are positive numbers, got {id}"),
                ));
            }
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
    }
    if ids.is_empty() {
        return Err(ApiError::invalid_field(
            "policy",
            "list at least one policy id: [{\"policy\": [4771746, 3606517]}]",
        ));
    }
    Ok(ids)
}

async fn cips(state: &AppState) -> Result<CipsConfig, ApiError> {
    state
        .store
        .cips_config()
        .await
        .map_err(ApiError::from_store)
}

fn accepted(text: &'static str) -> Response {
    (
        StatusCode::ACCEPTED,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        text,
    )
        .into_response()
}

/// Adds policies to CIPS (at most 100 in all): their posture is sent to
/// every validated PC integration at once.
#[utoipa::path(post, path = "/pcas/cips/config/policy", tag = "s3 integrations",
    security(("bearer" = ["manage_integrations"])),
    request_body(content = Vec<PolicyList>, description = "`[{\"policy\": [ids]}]` (or one object)"),
    responses(
        (status = 202, description = "`Policy added successfully.`", body = String, content_type = "text/plain"),
        (status = 400, description = "The body is invalid, or CIPS would hold more than 100 policies", body = ApiError),
        (status = 401, description = "No valid token", body = ApiError),
        (status = 403, description = "The caller's role lacks manage_integrations", body = ApiError),
    ))]
pub async fn cips_add_policies(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    body: SeedJson<OneOrMany<PolicyList>>,
) -> Result<Response, ApiError> {
    caller.require(Permission::ManageIntegrations)?;
    let ids = policy_ids(body.parse()?)?;
    let current = cips(&state).await?.policies;
    let new = ids.iter().filter(|id| !current.contains(id)).count();
    if current.len() + new > MAX_CIPS_POLICIES {
        return Err(ApiError::invalid_field(
            "policy",
            format!(
                "CIPS holds at most {MAX_CIPS_POLICIES} policies: {} are added and this request adds {new} more; delete some with DELETE /pcas/cips/config/policy first",
                current.len()
            ),
        ));
    }
    let audit = caller.audit(
        "cips.policy.add",
        "cips",
        serde_json::json!({"policy": ids}),
    );
    state
        .store
        .add_cips_policies(&ids, chrono::Utc::now(), &audit)
        .await
        .map_err(ApiError::from_store)?;
    state.delivery.wake.notify_one();
    Ok(accepted("Policy added successfully."))
}

async fn remove_policies(
    state: &AppState,
    caller: &Caller,
    body: SeedJson<OneOrMany<PolicyList>>,
) -> Result<Response, ApiError> {
    caller.require(Permission::ManageIntegrations)?;
    let ids = policy_ids(body.parse()?)?;
    let audit = caller.audit(
        "cips.policy.delete",
        "cips",
        serde_json::json!({"policy": ids}),
    );
    state
        .store
        .remove_cips_policies(&ids, chrono::Utc::now(), &audit)
        .await
        .map_err(ApiError::from_store)?;
    state.delivery.wake.notify_one();
    Ok(accepted("Policy deleted successfully."))
}

/// Deletes policies from CIPS (ids not added are ignored): their posture
/// is no longer sent.
#[utoipa::path(delete, path = "/pcas/cips/config/policy", tag = "s3 integrations",
    security(("bearer" = ["manage_integrations"])),
    request_body(content = Vec<PolicyList>, description = "`[{\"policy\": [ids]}]` (or one object)"),
    responses(
        (status = 202, description = "`Policy deleted successfully.`", body = String, content_type = "text/plain"),
        (status = 400, description = "The body is invalid", body = ApiError),
        (status = 401, description = "No valid token", body = ApiError),
        (status = 403, description = "The caller's role lacks manage_integrations", body = ApiError),
    ))]
pub async fn cips_delete_policies(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    body: SeedJson<OneOrMany<PolicyList>>,
) -> Result<Response, ApiError> {
    remove_policies(&state, &caller, body).await
}

/// The same as `DELETE /pcas/cips/config/policy`, at the path seed 000's
/// curl sample uses.
#[utoipa::path(delete, path = "/pcas/cips/config", tag = "s3 integrations",
    security(("bearer" = ["manage_integrations"])),
    request_body(content = Vec<PolicyList>, description = "`[{\"policy\": [ids]}]` (or one object)"),
    responses(
        (status = 202, description = "`Policy deleted successfully.`", body = String, content_type = "text/plain"),
        (status = 400, description = "The body is invalid", body = ApiError),
        (status = 401, description = "No valid token", body = ApiError),
        (status = 403, description = "The caller's role lacks manage_integrations", body = ApiError),
    ))]
pub async fn cips_delete_policies_at_config(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    body: SeedJson<OneOrMany<PolicyList>>,
) -> Result<Response, ApiError> {
    remove_policies(&state, &caller, body).await
}

/// The one filter object of a body.
fn one_filter(body: OneOrMany<CipsFilterForm>) -> Result<CipsFilterForm, ApiError> {
    let n = body.0.len();
    let mut all = body.0.into_iter();
    match (all.next(), n) {
        (Some(form), 1) => Ok(form),
        _ => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_body",
            format!("give one filter configuration, as [{{\"includeEvidenceData\": false, \"includeFailPosture\": true, \"includePassPosture\": true, \"includeErrorPosture\": true}}]; got {n}"),
        )),
    }
}

async fn set_filter(
    state: &AppState,
    caller: &Caller,
    form: CipsFilterForm,
    base: &CipsConfig,
    action: &str,
) -> Result<CipsConfig, ApiError> {
    let evidence = form
        .include_evidence_data
        .unwrap_or(base.include_evidence_data);
    let fail = form
        .include_fail_posture
        .unwrap_or(base.include_fail_posture);
    let pass = form
        .include_pass_posture
        .unwrap_or(base.include_pass_posture);
    let error = form
        .include_error_posture
        .unwrap_or(base.include_error_posture);
    let audit = caller.audit(
        action,
        "cips",
        serde_json::json!({
            "includeEvidenceData": evidence,
            "includeFailPosture": fail,
            "includePassPosture": pass,
            "includeErrorPosture": error,
        }),
    );
    let config = state
        .store
        .set_cips_filter(evidence, fail, pass, error, chrono::Utc::now(), &audit)
        .await
        .map_err(ApiError::from_store)?;
    state.delivery.wake.notify_one();
    Ok(config)
}

/// Creates the CIPS filter configuration; it applies at once (posture is
/// sent again under it).
#[utoipa::path(post, path = "/pcas/cips/config", tag = "s3 integrations",
    security(("bearer" = ["manage_integrations"])),
    request_body(content = Vec<CipsFilterForm>, description = "`[{flags}]` (or one object); absent flags are true"),
    responses(
        (status = 201, description = "Created", body = CipsFilter),
        (status = 400, description = "The body is invalid (the field is named)", body = ApiError),
        (status = 401, description = "No valid token", body = ApiError),
        (status = 403, description = "The caller's role lacks manage_integrations", body = ApiError),
        (status = 409, description = "A filter exists: change it with PUT", body = ApiError),
    ))]
pub async fn cips_create(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    body: SeedJson<OneOrMany<CipsFilterForm>>,
) -> Result<(StatusCode, Json<CipsFilter>), ApiError> {
    caller.require(Permission::ManageIntegrations)?;
    let form = one_filter(body.parse()?)?;
    let current = cips(&state).await?;
    if let Some(id) = current.id {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            format!("the CIPS filter configuration exists already (id {id}); change it with PUT /pcas/cips/config"),
        ));
    }
    let config = set_filter(
        &state,
        &caller,
        form,
        &CipsConfig::default(),
        "cips.filter.create",
    )
    .await?;
    Ok((StatusCode::CREATED, Json(filter_view(&state, &config))))
}

/// Updates the CIPS filter configuration (absent flags keep their value);
/// it applies at once.
#[utoipa::path(put, path = "/pcas/cips/config", tag = "s3 integrations",
    security(("bearer" = ["manage_integrations"])),
    request_body(content = Vec<CipsFilterForm>, description = "`[{flags}]` (or one object); absent flags keep their value"),
    responses(
        (status = 200, description = "Updated", body = CipsFilter),
        (status = 400, description = "The body is invalid (the field is named)", body = ApiError),
        (status = 401, description = "No valid token", body = ApiError),
        (status = 403, description = "The caller's role lacks manage_integrations", body = ApiError),
        (status = 404, description = "No filter yet: create it with POST", body = ApiError),
    ))]
pub async fn cips_update(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    body: SeedJson<OneOrMany<CipsFilterForm>>,
) -> Result<Json<CipsFilter>, ApiError> {
    caller.require(Permission::ManageIntegrations)?;
    let form = one_filter(body.parse()?)?;
    let current = cips(&state).await?;
    if current.id.is_none() {
        return Err(ApiError::missing(
            "there is no CIPS filter configuration yet; create it with POST /pcas/cips/config",
        ));
    }
    let config = set_filter(&state, &caller, form, &current, "cips.filter.update").await?;
    Ok(Json(filter_view(&state, &config)))
}

/// The CIPS filter configuration and the policies added to CIPS.
#[utoipa::path(get, path = "/pcas/cips/config", tag = "s3 integrations",
    security(("bearer" = ["manage_integrations"])),
    responses(
        (status = 200, description = "The filter (id null when none was created) and the policies", body = CipsDetails),
        (status = 401, description = "No valid token", body = ApiError),
        (status = 403, description = "The caller's role lacks manage_integrations", body = ApiError),
    ))]
pub async fn cips_get(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> Result<Json<CipsDetails>, ApiError> {
    caller.require(Permission::ManageIntegrations)?;
    let c = cips(&state).await?;
    Ok(Json(CipsDetails {
        id: c.id,
        subscription_id: state.delivery.customer.customer_id,
        include_evidence_data: c.include_evidence_data,
        include_fail_posture: c.include_fail_posture,
        include_pass_posture: c.include_pass_posture,
        include_error_posture: c.include_error_posture,
        last_updated: c.last_updated.map(seed_time),
        policy: c.policies,
    }))
}

/// The routes of seed 000's integration and CIPS APIs.
pub fn router() -> axum::Router<Arc<AppState>> {
    axum::Router::new()
        .route(
            "/partner-integration/aws/s3/vm",
            get(vm_list).post(vm_register),
        )
        .route(
            "/partner-integration/aws/s3/{id}/vm",
            get(vm_get).put(vm_update).delete(vm_delete),
        )
        .route(
            "/partner-integration/aws/s3/{id}/vm/validate",
            patch(vm_validate),
        )
        .route(
            "/partner-integration/aws/s3/pc",
            get(pc_list).post(pc_register),
        )
        .route(
            "/partner-integration/aws/s3/{id}/pc",
            get(pc_get).put(pc_update).delete(pc_delete),
        )
        .route(
            "/partner-integration/aws/s3/{id}/pc/validate",
            patch(pc_validate),
        )
        .route(
            "/partner-integration/aws/s3/ocsf",
            get(ocsf_list).post(ocsf_register),
        )
        .route(
            "/partner-integration/aws/s3/{id}/ocsf",
            get(ocsf_get).put(ocsf_update).delete(ocsf_delete),
        )
        .route(
            "/partner-integration/aws/s3/{id}/ocsf/validate",
            patch(ocsf_validate),
        )
        .route(
            "/pcas/cips/config",
            get(cips_get)
                .post(cips_create)
                .put(cips_update)
                .delete(cips_delete_policies_at_config),
        )
        .route(
            "/pcas/cips/config/policy",
            post(cips_add_policies).delete(cips_delete_policies),
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_shapes() {
        for ok in ["qualys-vm-findings", "abc", "a.b-c.d1", &"a".repeat(63)] {
            assert!(is_bucket_name(ok), "{ok}");
        }
        for bad in [
            "ab",
            "Upper",
            "a_b",
            "-ab",
            "ab-",
            "a..b",
            "192.168.1.1",
            &"a".repeat(64),
        ] {
            assert!(!is_bucket_name(bad), "{bad}");
        }
        for ok in [
            "arn:aws:iam::123456789012:role/policy-role",
            "arn:aws-cn:iam::123456789012:role/path/to/Role_1",
            "arn:aws-us-gov:iam::123456789012:role/x",
        ] {
            assert!(is_role_arn(ok), "{ok}");
        }
        for bad in [
            "arn:aws:iam::xxxxxxx:role/policy-role",
            "arn:aws:iam:123456789012:role/x",
            "arn:awsx:iam::123456789012:role/x",
            "arn:aws:iam::123456789012:user/x",
            "arn:aws:iam::123456789012:role/",
            "arn:aws:iam::123456789012:role/a b",
        ] {
            assert!(!is_role_arn(bad), "{bad}");
        }
        for ok in ["a@example.com", "first.last+tag@mail.example.co.uk"] {
            assert!(is_email(ok), "{ok}");
        }
        for bad in [
            "",
            "a",
            "a@b",
            "@example.com",
            "a b@example.com",
            "a@-x.com",
            "a@x..com",
        ] {
            assert!(!is_email(bad), "{bad}");
        }
    }

    #[test]
    fn bodies_come_as_arrays_or_objects() {
        let many: OneOrMany<PolicyList> =
            parse_body(br#"[{"policy": [1, 2]}, {"policy": [3]}]"#).unwrap();
        assert_eq!(policy_ids(many).unwrap(), vec![1, 2, 3]);
        let one: OneOrMany<PolicyList> = parse_body(br#"{"policy": [5, 5]}"#).unwrap();
        assert_eq!(policy_ids(one).unwrap(), vec![5]);
        let e = parse_body::<OneOrMany<PolicyList>>(br#"[{"policy": [1, "x"]}]"#).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("[0].policy[1]"), "{e:?}");
        let e = parse_body::<OneOrMany<PolicyList>>(br#"[{"policies": [1]}]"#).unwrap_err();
        assert!(e.message.contains("policies"), "{e:?}");
        let emails: VmForm = parse_body(br#"{"errorEmails": "a@x.com, b@y.org"}"#).unwrap();
        assert_eq!(
            emails.error_emails.unwrap().0,
            vec!["a@x.com".to_string(), "b@y.org".to_string()]
        );
        let e = parse_body::<VmForm>(br#"{"minSeverity": 2, "colour": "red"}"#).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("colour"), "{e:?}");
        let e = parse_body::<VmForm>(br#"{"sendAlerts": "yes"}"#).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("sendAlerts"), "{e:?}");
    }

    #[test]
    fn settings_defaults_and_updates() {
        let form = |json: &str| parse_body::<VmForm>(json.as_bytes()).unwrap();
        let s = settings_of(
            IntegrationKind::Vm,
            form(r#"{"bucketName": "b-1", "bucketRegion": "us-east-1", "roleArn": "arn:aws:iam::123456789012:role/r", "name": " n "}"#),
            None,
        )
        .unwrap();
        assert_eq!(s.name, "n");
        assert_eq!(s.min_severity, 3);
        assert_eq!(s.base_category, BaseCategory::Confirmed);
        assert!(s.compress_data && !s.send_vuln_info && !s.result_section_needed && !s.send_alerts);
        let e =
            settings_of(IntegrationKind::Vm, form(r#"{"bucketName": "b-1"}"#), None).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("bucketRegion"));
        let u = settings_of(
            IntegrationKind::Vm,
            form(r#"{"roleArn": "arn:aws:iam::123456789012:role/r2", "name": "m", "minSeverity": 5}"#),
            Some(&s),
        )
        .unwrap();
        assert_eq!((u.bucket_name.as_str(), u.min_severity), ("b-1", 5));
        let e = settings_of(IntegrationKind::Vm, form(r#"{"name": "m"}"#), Some(&s)).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("roleArn"));
        let e = settings_of(
            IntegrationKind::Vm,
            form(r#"{"roleArn": "arn:aws:iam::123456789012:role/r", "name": "m", "sendAlerts": true}"#),
            Some(&s),
        )
        .unwrap_err();
        assert_eq!(e.field.as_deref(), Some("errorEmails"));
    }
}
