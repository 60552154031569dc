//! A Qualys connector's settings and options, each with the default of the
//! seed that names it (issue 6 "Options").
//!
//! The same JSON shape is what the server API takes and stores (secrets
//! aside) and what `vigil qualys` reads from a TOML/JSON file; unknown keys
//! are refused and every invalid value is reported with its path
//! (`options.images_window_days`).

use serde::{Deserialize, Serialize};
use vigil_model::qualys::DetectionType;

/// Where and as whom to call Qualys. The password is given separately (it
/// is a secret: sealed in the store, never printed).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Connection {
    /// The API server URL of the platform the account is on, e.g.
    /// `https://qualysapi.qg2.apps.qualys.com` or
    /// `https://qualysapi.qg1.apps.qualys.co.uk` (Qualys: Help → About,
    /// "Security Operations Center (SOC)"). A bare host name gets https://.
    pub api_url: String,
    pub username: String,
    /// The gateway URL for the container security API (JWT); when empty it
    /// is derived from `api_url` (`qualysapi.` → `gateway.`).
    #[serde(default)]
    pub gateway_url: String,
    /// Stored on every ingested entity (seed 002 `tag.AccountName`).
    #[serde(default)]
    pub account_name: String,
    #[serde(default)]
    pub api_versions: ApiVersions,
    /// Seconds before a call that sends nothing is abandoned.
    #[serde(default = "default_timeout")]
    pub timeout_seconds: u64,
}

fn default_timeout() -> u64 {
    300
}

/// The version part of each API family's path; Qualys moves endpoints from
/// `/api/2.0/` to `/api/3.0/`–`/api/5.0/` over time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApiVersions {
    /// `/api/{fo}/fo/…` (hosts, detections, knowledge base, compliance).
    pub fo: String,
    /// `/qps/rest/{am}/search/am/hostasset`.
    pub am: String,
    /// `/qps/rest/{was}/search/was/…`.
    pub was: String,
    /// `/csapi/{cs}/…` (container security).
    pub cs: String,
}

impl Default for ApiVersions {
    fn default() -> Self {
        ApiVersions {
            fo: "2.0".into(),
            am: "2.0".into(),
            was: "3.0".into(),
            cs: "v1.3".into(),
        }
    }
}

/// What to ingest. Defaults are the seeds'.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Options {
    // --- seed 002 (JupiterOne) ---
    /// Only hosts scanned within this many days (7).
    pub host_scan_age_days: u32,
    /// Only findings found or updated within this many days (7).
    pub findings_age_days: u32,
    /// Only container images updated within this many days: 90, 180, 275
    /// or 365 (90).
    pub images_window_days: u32,
    /// Host finding severities (3, 4, 5).
    pub host_finding_severities: Vec<u8>,
    /// Host finding types (Potential, Confirmed; Info optional).
    pub host_finding_types: Vec<DetectionType>,
    /// Ingest web applications and their findings (true).
    pub ingest_web_app_scans: bool,
    /// Only these web applications (empty: all).
    pub web_application_ids: Vec<i64>,
    /// Keep the first 300 bytes of RESULTS for these QIDs only (empty:
    /// none).
    pub detection_result_qids: Vec<i64>,
    /// Only hosts with one of these asset tags (empty: all).
    pub include_only_asset_tags: Vec<String>,
    /// Container image finding severities (3, 4, 5).
    pub container_image_finding_severities: Vec<u8>,
    /// Skip images that no container runs (false).
    pub skip_unassociated_container_images: bool,
    /// Ingest container images and their vulnerabilities (true).
    pub ingest_container_images: bool,
    // --- seed 003 (Exposure Management) ---
    /// Only devices whose Qualys `modified` is within this many days (90).
    pub devices_modified_days: u32,
    // --- seed 004 (Brinqa) ---
    /// Records per API request (100): `truncation_limit`, QPS `limitResults`.
    pub page_size: u32,
    /// Parallel API requests (2).
    pub parallel_requests: u32,
    /// Attempts per call before giving up (5).
    pub max_retries: u32,
    /// Ingest Policy Compliance (true).
    pub ingest_policy_compliance: bool,
    /// Policy Compliance operation options (seed 004).
    pub pc: PcOptions,
    /// Host operation options (seed 004, ARS).
    pub host: HostOptions,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            host_scan_age_days: 7,
            findings_age_days: 7,
            images_window_days: 90,
            host_finding_severities: vec![3, 4, 5],
            host_finding_types: vec![DetectionType::Potential, DetectionType::Confirmed],
            ingest_web_app_scans: true,
            web_application_ids: Vec::new(),
            detection_result_qids: Vec::new(),
            include_only_asset_tags: Vec::new(),
            container_image_finding_severities: vec![3, 4, 5],
            skip_unassociated_container_images: false,
            ingest_container_images: true,
            devices_modified_days: 90,
            page_size: 100,
            parallel_requests: 2,
            max_retries: 5,
            ingest_policy_compliance: true,
            pc: PcOptions::default(),
            host: HostOptions::default(),
        }
    }
}

/// Seed 004's operation options of the Control and Violation objects.
/// Values are as Qualys takes them (comma-separated lists).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PcOptions {
    pub asset_group_ids: Vec<i64>,
    /// Control ids (e.g. `1071`).
    pub control_ids: Vec<i64>,
    /// MINIMAL, MEDIUM, SERIOUS, CRITICAL, URGENT.
    pub criticality_labels: Vec<String>,
    /// 1–5.
    pub criticality_values: Vec<u8>,
    pub host_ids: Vec<i64>,
    /// Ids of the objects themselves (controls or postures).
    pub ids: Vec<i64>,
    /// IP addresses or ranges (`10.0.0.1-10.0.0.10`).
    pub ips: Vec<String>,
    /// active, closed, open, reopened.
    pub status: Vec<String>,
    /// Ask for the cause of failure of failed postures.
    pub cause_of_failure: bool,
    /// Ask for extended evidence.
    pub show_extended_evidence: bool,
}

/// Seed 004's Host operation options (asset risk score).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HostOptions {
    pub ars_min: Option<u32>,
    pub ars_max: Option<u32>,
    pub show_ars: bool,
    pub show_ars_factors: bool,
}

/// An invalid setting: its path and what is wrong and expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct InvalidSetting {
    /// e.g. `options.images_window_days`.
    pub field: String,
    pub message: String,
}

fn invalid(field: &str, message: impl Into<String>) -> InvalidSetting {
    InvalidSetting {
        field: field.to_string(),
        message: message.into(),
    }
}

impl Connection {
    /// Checks the connection settings; `prefix` is prepended to field paths
    /// (e.g. `qualys.`).
    pub fn validate(&self, prefix: &str) -> Result<(), InvalidSetting> {
        let f = |name: &str| format!("{prefix}{name}");
        let url = self.api_url.trim();
        if url.is_empty() {
            return Err(invalid(
                &f("api_url"),
                "the Qualys API server URL is required, e.g. https://qualysapi.qg2.apps.qualys.com (Qualys: Help → About, under Security Operations Center)",
            ));
        }
        if url.contains(char::is_whitespace) {
            return Err(invalid(&f("api_url"), "a URL has no spaces"));
        }
        if let Some(scheme_end) = url.find("://") {
            let scheme = &url[..scheme_end];
            if scheme != "https" && scheme != "http" {
                return Err(invalid(
                    &f("api_url"),
                    format!("scheme `{scheme}` is not supported; use https://"),
                ));
            }
        }
        if self.username.trim().is_empty() {
            return Err(invalid(
                &f("username"),
                "the Qualys API user name is required",
            ));
        }
        if self.account_name.chars().count() > 200 {
            return Err(invalid(&f("account_name"), "at most 200 characters"));
        }
        if self.timeout_seconds == 0 || self.timeout_seconds > 3600 {
            return Err(invalid(&f("timeout_seconds"), "between 1 and 3600 seconds"));
        }
        for (name, v) in [
            ("fo", &self.api_versions.fo),
            ("am", &self.api_versions.am),
            ("was", &self.api_versions.was),
            ("cs", &self.api_versions.cs),
        ] {
            if v.is_empty()
                || !v
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_')
            {
                return Err(invalid(
                    &f(&format!("api_versions.{name}")),
                    format!("`{v}` is not a version such as 2.0"),
                ));
            }
        }
        Ok(())
    }

    /// The API server URL with a scheme and no trailing slash.
    pub fn base_url(&self) -> String {
        normalize_url(&self.api_url)
    }

    /// The gateway URL (container security, JWT).
    pub fn gateway(&self) -> String {
        if !self.gateway_url.trim().is_empty() {
            return normalize_url(&self.gateway_url);
        }
        let base = self.base_url();
        base.replacen("://qualysapi.", "://gateway.", 1)
    }
}

fn normalize_url(url: &str) -> String {
    let url = url.trim().trim_end_matches('/');
    if url.contains("://") {
        url.to_string()
    } else {
        format!("https://{url}")
    }
}

impl Options {
    /// Checks every option; `prefix` is prepended to field paths (e.g.
    /// `options.`).
    pub fn validate(&self, prefix: &str) -> Result<(), InvalidSetting> {
        let f = |name: &str| format!("{prefix}{name}");
        let days = |name: &str, v: u32| {
            if v == 0 || v > 3650 {
                Err(invalid(
                    &f(name),
                    format!("{v} is not between 1 and 3650 days"),
                ))
            } else {
                Ok(())
            }
        };
        days("host_scan_age_days", self.host_scan_age_days)?;
        days("findings_age_days", self.findings_age_days)?;
        days("devices_modified_days", self.devices_modified_days)?;
        if ![90, 180, 275, 365].contains(&self.images_window_days) {
            return Err(invalid(
                &f("images_window_days"),
                format!(
                    "{} is not one of 90, 180, 275, 365",
                    self.images_window_days
                ),
            ));
        }
        for (name, list) in [
            ("host_finding_severities", &self.host_finding_severities),
            (
                "container_image_finding_severities",
                &self.container_image_finding_severities,
            ),
            ("pc.criticality_values", &self.pc.criticality_values),
        ] {
            if let Some(bad) = list.iter().find(|s| !(1..=5).contains(*s)) {
                return Err(invalid(
                    &f(name),
                    format!("severity {bad} is not between 1 and 5"),
                ));
            }
        }
        if self.host_finding_severities.is_empty() {
            return Err(invalid(
                &f("host_finding_severities"),
                "give at least one severity (1-5)",
            ));
        }
        if self.host_finding_types.is_empty() {
            return Err(invalid(
                &f("host_finding_types"),
                "give at least one of Info, Potential, Confirmed",
            ));
        }
        if self.page_size == 0 || self.page_size > 1_000_000 {
            return Err(invalid(&f("page_size"), "between 1 and 1000000"));
        }
        if self.parallel_requests == 0 || self.parallel_requests > 16 {
            return Err(invalid(&f("parallel_requests"), "between 1 and 16"));
        }
        if self.max_retries == 0 || self.max_retries > 100 {
            return Err(invalid(&f("max_retries"), "between 1 and 100"));
        }
        const LABELS: &[&str] = &["MINIMAL", "MEDIUM", "SERIOUS", "CRITICAL", "URGENT"];
        if let Some(bad) = self
            .pc
            .criticality_labels
            .iter()
            .find(|l| !LABELS.contains(&l.as_str()))
        {
            return Err(invalid(
                &f("pc.criticality_labels"),
                format!(
                    "`{bad}` is not one of {} (case-sensitive)",
                    LABELS.join(", ")
                ),
            ));
        }
        const STATUS: &[&str] = &["active", "closed", "open", "reopened"];
        if let Some(bad) = self
            .pc
            .status
            .iter()
            .find(|s| !STATUS.contains(&s.as_str()))
        {
            return Err(invalid(
                &f("pc.status"),
                format!(
                    "`{bad}` is not one of {} (case-sensitive)",
                    STATUS.join(", ")
                ),
            ));
        }
        for ip in &self.pc.ips {
            if !valid_ip_or_range(ip) {
                return Err(invalid(
                    &f("pc.ips"),
                    format!("`{ip}` is not an IP address or a range such as 10.0.0.1-10.0.0.10"),
                ));
            }
        }
        if let (Some(min), Some(max)) = (self.host.ars_min, self.host.ars_max) {
            if min > max {
                return Err(invalid(
                    &f("host.ars_min"),
                    format!("ars_min {min} is above ars_max {max}"),
                ));
            }
        }
        for (name, v) in [
            ("host.ars_min", self.host.ars_min),
            ("host.ars_max", self.host.ars_max),
        ] {
            if let Some(v) = v {
                if v > 1000 {
                    return Err(invalid(&f(name), format!("{v} is not between 0 and 1000")));
                }
            }
        }
        Ok(())
    }
}

fn valid_ip_or_range(s: &str) -> bool {
    let one = |p: &str| p.trim().parse::<std::net::IpAddr>().is_ok();
    match s.split_once('-') {
        Some((a, b)) => one(a) && one(b),
        None => one(s),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_seeds() {
        let o: Options = serde_json::from_str("{}").unwrap();
        assert_eq!(o.host_scan_age_days, 7);
        assert_eq!(o.findings_age_days, 7);
        assert_eq!(o.images_window_days, 90);
        assert_eq!(o.host_finding_severities, vec![3, 4, 5]);
        assert_eq!(
            o.host_finding_types,
            vec![DetectionType::Potential, DetectionType::Confirmed]
        );
        assert!(o.ingest_web_app_scans);
        assert!(!o.skip_unassociated_container_images);
        assert_eq!(o.devices_modified_days, 90);
        assert_eq!(
            (o.page_size, o.parallel_requests, o.max_retries),
            (100, 2, 5)
        );
        assert!(o.validate("options.").is_ok());
    }

    #[test]
    fn invalid_values_name_their_field() {
        let o: Options = serde_json::from_str(r#"{"images_window_days": 100}"#).unwrap();
        let e = o.validate("options.").unwrap_err();
        assert_eq!(e.field, "options.images_window_days");
        let o: Options = serde_json::from_str(r#"{"pc": {"ips": ["10.0.0.1-x"]}}"#).unwrap();
        assert_eq!(o.validate("options.").unwrap_err().field, "options.pc.ips");
        let o: Options =
            serde_json::from_str(r#"{"pc": {"criticality_labels": ["critical"]}}"#).unwrap();
        assert_eq!(o.validate("").unwrap_err().field, "pc.criticality_labels");
        assert!(serde_json::from_str::<Options>(r#"{"page_sise": 5}"#).is_err());
    }

    #[test]
    fn urls_get_a_scheme_and_a_gateway() {
        let c = Connection {
            api_url: "qualysapi.qg1.apps.qualys.co.uk/".into(),
            username: "u".into(),
            gateway_url: String::new(),
            account_name: String::new(),
            api_versions: ApiVersions::default(),
            timeout_seconds: 300,
        };
        assert_eq!(c.base_url(), "https://qualysapi.qg1.apps.qualys.co.uk");
        assert_eq!(c.gateway(), "https://gateway.qg1.apps.qualys.co.uk");
        assert!(c.validate("").is_ok());
    }
}
