//! IAM account: the root user's MFA (and whether it is a hardware device), its
//! access keys, and when it was last used, for CIS's root account controls.

use super::{missing, set, text_time, Ctx, Part};
use crate::config::HOME_REGION;
use crate::error::{failed, CollectError};
use aws_sdk_iam::types::{AssignmentStatusType, ReportStateType, SummaryKeyType};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// How many times to ask whether the credential report is ready, and how long
/// to wait between asks. AWS usually needs a few seconds.
const REPORT_POLLS: u32 = 15;
const REPORT_WAIT: Duration = Duration::from_secs(2);

/// The attributes the credential report gives.
const REPORT_ATTRIBUTES: [&str; 4] = [
    "root_password_last_used",
    "root_access_key_1_last_used",
    "root_access_key_2_last_used",
    "root_last_used",
];

pub async fn collect(ctx: Arc<Ctx>) -> Part {
    let mut part = Part::default();
    let iam = aws_sdk_iam::Client::new(&ctx.sdk);
    let mut r = ctx.resource(
        "global",
        "IAM",
        "aws.iam.account",
        format!("arn:aws:iam::{}:root", ctx.account),
        ctx.account.clone(),
    );

    let mut mfa_enabled = None;
    match iam.get_account_summary().send().await {
        Ok(out) => {
            let summary = out.summary_map().cloned().unwrap_or_default();
            let flag = |k: &SummaryKeyType| summary.get(k).map(|v| *v > 0).unwrap_or(false);
            mfa_enabled = Some(flag(&SummaryKeyType::AccountMfaEnabled));
            set(
                &mut r,
                "root_mfa_enabled",
                flag(&SummaryKeyType::AccountMfaEnabled),
            );
            set(
                &mut r,
                "root_access_keys_present",
                flag(&SummaryKeyType::AccountAccessKeysPresent),
            );
            set(
                &mut r,
                "root_signing_certificates_present",
                flag(&SummaryKeyType::AccountSigningCertificatesPresent),
            );
            let mut all = Map::new();
            for (k, v) in &summary {
                all.insert(k.as_str().to_string(), Value::from(*v));
            }
            all.sort_keys();
            set(&mut r, "summary", Value::Object(all));
        }
        Err(e) => {
            let err = failed("iam", HOME_REGION, "iam:GetAccountSummary", &e);
            for k in [
                "root_mfa_enabled",
                "root_access_keys_present",
                "root_signing_certificates_present",
                "root_hardware_mfa_enabled",
            ] {
                missing(&mut r, k, &err);
            }
            part.errors.push(err);
        }
    }

    // The root user's MFA is a hardware device when it is on and no virtual
    // device is assigned to the root user.
    if let Some(enabled) = mfa_enabled {
        let devices = iam
            .list_virtual_mfa_devices()
            .assignment_status(AssignmentStatusType::Assigned)
            .into_paginator()
            .items()
            .send();
        let (devices, err) =
            super::drain!(devices, "iam", HOME_REGION, "iam:ListVirtualMFADevices");
        match err {
            Some(e) => missing(&mut r, "root_hardware_mfa_enabled", &e),
            None => {
                let root_virtual = devices.iter().any(|d| {
                    d.user().is_some_and(|u| u.arn().ends_with(":root"))
                        || d.serial_number().ends_with(":mfa/root-account-mfa-device")
                });
                set(&mut r, "root_virtual_mfa", root_virtual);
                set(
                    &mut r,
                    "root_hardware_mfa_enabled",
                    enabled && !root_virtual,
                );
            }
        }
    }

    match credential_report(&iam).await {
        Ok(csv) => match root_row(&csv) {
            Some(row) => {
                let used = |k: &str| text_time(row.get(k).map(String::as_str));
                let password = used("password_last_used");
                let key1 = used("access_key_1_last_used_date");
                let key2 = used("access_key_2_last_used_date");
                // RFC 3339 UTC texts of one format compare as times.
                let last = [&password, &key1, &key2]
                    .into_iter()
                    .filter_map(|v| v.as_str())
                    .max()
                    .map(Value::from)
                    .unwrap_or(Value::Null);
                set(&mut r, "root_password_last_used", password);
                set(&mut r, "root_access_key_1_last_used", key1);
                set(&mut r, "root_access_key_2_last_used", key2);
                set(&mut r, "root_last_used", last);
                set(
                    &mut r,
                    "root_access_key_1_active",
                    row.get("access_key_1_active").map(|v| v == "true"),
                );
                set(
                    &mut r,
                    "root_access_key_2_active",
                    row.get("access_key_2_active").map(|v| v == "true"),
                );
            }
            None => {
                let err = CollectError {
                    service: "iam",
                    region: HOME_REGION.to_string(),
                    action: "iam:GetCredentialReport",
                    code: None,
                    message: "the credential report has no <root_account> row".into(),
                };
                for k in REPORT_ATTRIBUTES {
                    missing(&mut r, k, &err);
                }
            }
        },
        Err(err) => {
            for k in REPORT_ATTRIBUTES {
                missing(&mut r, k, &err);
            }
        }
    }
    part.resources.push(r);
    part
}

/// Asks for a credential report, waits until it is ready, and returns its CSV.
async fn credential_report(iam: &aws_sdk_iam::Client) -> Result<String, CollectError> {
    for attempt in 0..REPORT_POLLS {
        let out = iam
            .generate_credential_report()
            .send()
            .await
            .map_err(|e| failed("iam", HOME_REGION, "iam:GenerateCredentialReport", &e))?;
        if out.state() == Some(&ReportStateType::Complete) {
            break;
        }
        if attempt + 1 < REPORT_POLLS {
            tokio::time::sleep(REPORT_WAIT).await;
        }
    }
    let out = iam
        .get_credential_report()
        .send()
        .await
        .map_err(|e| failed("iam", HOME_REGION, "iam:GetCredentialReport", &e))?;
    let bytes = out
        .content()
        .map(|b| b.as_ref().to_vec())
        .unwrap_or_default();
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// The `<root_account>` row of a credential report, by column name. The
/// report's fields hold no commas or quotes, so a plain split reads it.
fn root_row(csv: &str) -> Option<HashMap<String, String>> {
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next()?.split(',').map(str::trim).collect();
    lines
        .map(|l| l.split(',').map(str::trim).collect::<Vec<_>>())
        .find(|cells| cells.first() == Some(&"<root_account>"))
        .map(|cells| {
            header
                .iter()
                .zip(cells)
                .map(|(h, c)| (h.to_string(), c.to_string()))
                .collect()
        })
}

#[cfg(test)]
mod tests {
    use super::root_row;

    #[test]
    fn the_root_row_is_read_by_column() {
        let csv = "user,arn,password_last_used,access_key_1_active,access_key_1_last_used_date\n\
                   alice,arn:aws:iam::1:user/alice,N/A,false,N/A\n\
                   <root_account>,arn:aws:iam::1:root,2024-05-01T10:00:00+00:00,true,2024-04-01T00:00:00+00:00\n";
        let row = root_row(csv).unwrap();
        assert_eq!(row["password_last_used"], "2024-05-01T10:00:00+00:00");
        assert_eq!(row["access_key_1_active"], "true");
        assert!(root_row("user,arn\nalice,x\n").is_none());
        assert!(root_row("").is_none());
    }
}
