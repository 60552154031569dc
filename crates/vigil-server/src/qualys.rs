//! Qualys connectors (issue 6) in the connectors API: the `qualys` object
//! of a connector (settings, options, the password), its validation with
//! each field's path, how it is stored (JSON without the password, which is
//! sealed), and `GET /api/v1/connectors/{id}/qualys` (what the connector
//! ingested, per kind).
//!
//! The same settings shape, without the password, is the file
//! `vigil qualys check|ingest --config` reads. The server never calls
//! Qualys itself: runs go through the `RunExecutor` of `vigil serve`.

use crate::access::Caller;
use crate::error::ApiError;
use crate::secrets::SECRET_KEY_ENV;
use crate::AppState;
use axum::extract::{Path, State};
use axum::Json;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;
use utoipa::ToSchema;
use vigil_qualys::{ApiVersions, Connection, InvalidSetting, Options};
use vigil_store::access::Permission;
use vigil_store::connectors::{Authentication, ConnectorRecord};

/// Seconds before a silent Qualys call is abandoned, by default.
pub const DEFAULT_TIMEOUT_SECONDS: u64 = 300;

fn default_timeout() -> u64 {
    DEFAULT_TIMEOUT_SECONDS
}

/// A Qualys connector's settings without the password: what the store keeps
/// (as JSON) and what `vigil qualys --config FILE` reads (TOML or JSON).
/// Unknown keys are refused.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QualysSettings {
    /// The API server URL of the account's platform (Qualys: Help → About).
    #[schema(example = "https://qualysapi.qg2.apps.qualys.com")]
    pub api_url: String,
    /// The Qualys API user.
    pub username: String,
    /// Stored on every ingested record (seed 002 `tag.AccountName`).
    #[serde(default)]
    pub account_name: String,
    /// The container security gateway; default: `api_url` with
    /// `qualysapi.` → `gateway.`.
    #[serde(default)]
    pub gateway_url: String,
    /// API version prefixes: `fo` (2.0), `am` (2.0), `was` (3.0), `cs` (v1.3).
    #[serde(default)]
    #[schema(value_type = Object)]
    pub api_versions: ApiVersions,
    /// Seconds before a call that sends nothing is abandoned (1–3600, 300).
    #[serde(default = "default_timeout")]
    pub timeout_seconds: u64,
    /// What to ingest (every option of seeds 002–004; see docs/qualys.md).
    #[serde(default)]
    #[schema(value_type = Object)]
    pub options: Options,
}

impl QualysSettings {
    /// The connection part.
    pub fn connection(&self) -> Connection {
        Connection {
            api_url: self.api_url.trim().to_string(),
            username: self.username.trim().to_string(),
            gateway_url: self.gateway_url.trim().to_string(),
            account_name: self.account_name.clone(),
            api_versions: self.api_versions.clone(),
            timeout_seconds: self.timeout_seconds,
        }
    }

    /// Checks every setting; field paths start with `prefix` (`qualys.`).
    pub fn validate(&self, prefix: &str) -> Result<(), InvalidSetting> {
        self.connection().validate(prefix)?;
        self.options.validate(&format!("{prefix}options."))
    }

    /// The settings a stored connector holds, when it is a Qualys one.
    pub fn of(connector: &ConnectorRecord) -> Option<Result<QualysSettings, String>> {
        match &connector.authentication {
            Authentication::Qualys { settings, .. } => {
                Some(serde_json::from_str(settings).map_err(|e| {
                    format!(
                        "the stored settings of connector {} cannot be read: {e}",
                        connector.name
                    )
                }))
            }
            _ => None,
        }
    }
}

/// The `qualys` object of a connector as the API takes it: the settings and
/// the password. On update the password may be left out to keep the stored
/// one (same API URL and user name).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QualysForm {
    #[schema(example = "https://qualysapi.qg2.apps.qualys.com")]
    pub api_url: String,
    pub username: String,
    /// Sealed with `VIGIL_SECRET_KEY`; never returned, logged or audited.
    pub password: Option<String>,
    #[serde(default)]
    pub account_name: String,
    #[serde(default)]
    pub gateway_url: String,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub api_versions: ApiVersions,
    #[serde(default = "default_timeout")]
    pub timeout_seconds: u64,
    /// Every `vigil_qualys::Options` field; see docs/qualys.md.
    #[serde(default)]
    #[schema(value_type = Object, example = json!({"host_finding_severities": [4, 5], "images_window_days": 180}))]
    pub options: Options,
}

/// The `qualys` object of a connector as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct QualysView {
    #[serde(flatten)]
    pub settings: QualysSettings,
    /// Always true: the password is stored (sealed) and never shown.
    pub password_set: bool,
}

/// The stored authentication of a `qualys` form: settings checked field by
/// field (`qualys.options.images_window_days`), the password sealed.
pub fn authentication(
    state: &AppState,
    form: QualysForm,
    existing: Option<&ConnectorRecord>,
) -> Result<Authentication, ApiError> {
    let settings = QualysSettings {
        api_url: form.api_url.trim().to_string(),
        username: form.username.trim().to_string(),
        account_name: form.account_name,
        gateway_url: form.gateway_url.trim().to_string(),
        api_versions: form.api_versions,
        timeout_seconds: form.timeout_seconds,
        options: form.options,
    };
    settings
        .validate("qualys.")
        .map_err(|e| ApiError::invalid_field(&e.field, e.message))?;
    let field = "qualys.password";
    let before = existing.and_then(|e| match (&e.authentication, QualysSettings::of(e)) {
        (
            Authentication::Qualys {
                sealed_password, ..
            },
            Some(Ok(old)),
        ) => Some((sealed_password, old)),
        _ => None,
    });
    let sealed_password =
        match (form.password, before) {
            (Some(password), _) => {
                if password.is_empty()
                    || password.chars().count() > 256
                    || password.chars().any(char::is_control)
                {
                    return Err(ApiError::invalid_field(
                        field,
                        "a password is 1 to 256 printable characters",
                    ));
                }
                let key = state.secret_key.as_ref().ok_or_else(|| {
                    ApiError::invalid_field(
                        field,
                        format!(
                        "Qualys connectors need a key to encrypt the password at rest: start the \
                         server with {SECRET_KEY_ENV} set to 32 random bytes (64 hex digits, e.g. \
                         `openssl rand -hex 32`)"
                    ),
                    )
                })?;
                key.seal(&password).map_err(ApiError::internal)?
            }
            (None, Some((sealed, old)))
                if old.connection().base_url() == settings.connection().base_url()
                    && old.username == settings.username =>
            {
                sealed.clone()
            }
            (None, _) => return Err(ApiError::invalid_field(
                field,
                "the password is required for a new connector, or with a new API URL or user name",
            )),
        };
    let settings = serde_json::to_string(&settings).map_err(ApiError::internal)?;
    Ok(Authentication::Qualys {
        settings,
        sealed_password,
    })
}

/// The `qualys` view of a stored connector (`None` for AWS connectors; the
/// settings as stored, or defaults if they cannot be read).
pub fn view(connector: &ConnectorRecord) -> Option<QualysView> {
    let settings = QualysSettings::of(connector)?.ok()?;
    Some(QualysView {
        settings,
        password_set: true,
    })
}

/// What a Qualys connector ingested.
#[derive(Debug, Serialize, ToSchema)]
pub struct QualysSummary {
    pub connector_id: String,
    /// Records per kind: `hosts`, `detections`, `kb`, `pc_policies`,
    /// `pc_controls`, `pc_postures`, `webapps`, `was_findings`, `images`,
    /// `image_vulns`.
    #[schema(example = json!({"hosts": 120, "detections": 5400, "kb": 310}))]
    pub counts: BTreeMap<String, u64>,
}

/// What a Qualys connector ingested: records per kind.
#[utoipa::path(get, path = "/api/v1/connectors/{id}/qualys", tag = "connectors",
    security(("bearer" = ["view_data"])),
    params(("id" = String, Path, description = "The connector's id")),
    responses(
        (status = 200, description = "Records per kind", body = QualysSummary),
        (status = 400, description = "The connector is not a Qualys connector", body = ApiError),
        (status = 401, description = "No valid token", body = ApiError),
        (status = 403, description = "The caller's role lacks view_data, or the connector carries none of the caller's tags", body = ApiError),
        (status = 404, description = "No such connector", body = ApiError),
    ))]
pub async fn summary(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<QualysSummary>, ApiError> {
    caller.require(Permission::ViewData)?;
    let connector = crate::connectors::visible(&state, &caller, &id).await?;
    if connector.authentication.provider() != "qualys" {
        return Err(ApiError::invalid_field(
            "id",
            format!(
                "connector {} is an AWS connector; its data is in /api/v1/resources (filter resource.source:connector:{id})",
                connector.name
            ),
        ));
    }
    let counts = state
        .store
        .qualys_summary(&id)
        .await
        .map_err(ApiError::from_store)?;
    Ok(Json(QualysSummary {
        connector_id: id,
        counts,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_read_with_defaults_and_refuse_unknown_keys() {
        let s: QualysSettings = serde_json::from_str(
            r#"{"api_url": "qualysapi.qg1.apps.qualys.co.uk", "username": "u"}"#,
        )
        .unwrap();
        assert_eq!(s.timeout_seconds, 300);
        assert_eq!(s.options, Options::default());
        assert!(s.validate("qualys.").is_ok());
        assert!(serde_json::from_str::<QualysSettings>(
            r#"{"api_url": "x", "username": "u", "pasword": "p"}"#
        )
        .is_err());
        let bad: QualysSettings = serde_json::from_str(
            r#"{"api_url": "x", "username": "u", "options": {"images_window_days": 100}}"#,
        )
        .unwrap();
        assert_eq!(
            bad.validate("qualys.").unwrap_err().field,
            "qualys.options.images_window_days"
        );
    }
}
