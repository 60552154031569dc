//! Terraform → normalized resources: cloudtrail.
//!
//! `aws_cloudtrail` → `aws.cloudtrail.trail`, with its `event_selector` and
//! `advanced_event_selector` blocks normalized as GetEventSelectors reports
//! them, and what they record (`logs_all_management_events`,
//! `s3_object_read_events`, `s3_object_write_events`).

use super::{new_resource, refers_to, Index};
use crate::semantics::{
    advanced_selector, basic_selector, items, set_trail, set_trail_events, SelectorNames, TrailArgs,
};
use crate::terraform::TfResource;
use crate::value::Val;
use vigil_model::Resource;

/// Maps the cloudtrail resource types this module handles; `None` for others.
pub(super) fn map(d: &TfResource, ix: &Index<'_>) -> Option<Resource> {
    (d.kind == "aws_cloudtrail").then(|| trail(d, ix))
}

/// The names of the `event_selector` / `advanced_event_selector` blocks'
/// arguments.
const NAMES: SelectorNames = SelectorNames {
    read_write_type: "read_write_type",
    include_management_events: "include_management_events",
    data_resources: "data_resource",
    data_type: "type",
    data_values: "values",
    name: "name",
    field_selectors: "field_selector",
    field: "field",
    lists: [
        "equals",
        "not_equals",
        "starts_with",
        "not_starts_with",
        "ends_with",
        "not_ends_with",
    ],
};

fn trail(d: &TfResource, ix: &Index<'_>) -> Resource {
    let a = &d.attrs;
    let mut r = new_resource(d, "CloudTrail", "aws.cloudtrail.trail", Some("name"));
    let kms = a.get("kms_key_id");
    let kms_key_declared = kms.is_some_and(|k| {
        ix.of_kind("aws_kms_key")
            .iter()
            .any(|t| refers_to(k, t, &["arn", "id", "key_id"]))
            || ix
                .of_kind("aws_kms_alias")
                .iter()
                .any(|t| refers_to(k, t, &["arn", "id", "name"]))
    });
    // The provider's default for `enable_logging` is true: a new trail logs.
    let logging_default = Val::Bool(true);
    set_trail(
        &mut r,
        &TrailArgs {
            multi_region: a.get("is_multi_region_trail"),
            organization: a.get("is_organization_trail"),
            global_service_events: a.get("include_global_service_events"),
            log_file_validation: a.get("enable_log_file_validation"),
            kms_key_id: kms,
            kms_key_declared,
            s3_bucket_name: a.get("s3_bucket_name"),
            s3_key_prefix: a.get("s3_key_prefix"),
            log_group_arn: a.get("cloud_watch_logs_group_arn"),
            log_role_arn: a.get("cloud_watch_logs_role_arn"),
            is_logging: a
                .get("enable_logging")
                .filter(|v| !v.is_null())
                .or(Some(&logging_default)),
        },
    );
    let basic = items(a, "event_selector")
        .iter()
        .map(|s| basic_selector(s, &NAMES))
        .collect();
    let advanced = items(a, "advanced_event_selector")
        .iter()
        .map(|s| advanced_selector(s, &NAMES))
        .collect();
    set_trail_events(&mut r, basic, advanced);
    r
}
