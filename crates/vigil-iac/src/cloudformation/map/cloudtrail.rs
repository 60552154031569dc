//! CloudFormation → normalized resources: cloudtrail.
//!
//! `AWS::CloudTrail::Trail` → `aws.cloudtrail.trail`, with its
//! `EventSelectors` and `AdvancedEventSelectors` normalized as
//! GetEventSelectors reports them, and what they record.

use super::{new_resource, refers_to, Index};
use crate::cloudformation::CfnResource;
use crate::semantics::{
    advanced_selector, basic_selector, items, set_trail, set_trail_events, SelectorNames, TrailArgs,
};
use vigil_model::Resource;

/// Maps the cloudtrail resource types this module handles; `None` for others.
pub(super) fn map(r: &CfnResource, ix: &Index<'_>) -> Option<Resource> {
    (r.resource_type == "AWS::CloudTrail::Trail").then(|| trail(r, ix))
}

const NAMES: SelectorNames = SelectorNames {
    read_write_type: "ReadWriteType",
    include_management_events: "IncludeManagementEvents",
    data_resources: "DataResources",
    data_type: "Type",
    data_values: "Values",
    name: "Name",
    field_selectors: "FieldSelectors",
    field: "Field",
    lists: [
        "Equals",
        "NotEquals",
        "StartsWith",
        "NotStartsWith",
        "EndsWith",
        "NotEndsWith",
    ],
};

fn trail(t: &CfnResource, ix: &Index<'_>) -> Resource {
    let p = &t.props;
    let mut r = new_resource(t, "CloudTrail", "aws.cloudtrail.trail", Some("TrailName"));
    let kms = p.get("KMSKeyId");
    let kms_key_declared = kms.is_some_and(|k| {
        ["AWS::KMS::Key", "AWS::KMS::Alias"]
            .iter()
            .flat_map(|ty| ix.of_type(ty))
            .any(|target| refers_to(k, target, &[]))
    });
    set_trail(
        &mut r,
        &TrailArgs {
            multi_region: p.get("IsMultiRegionTrail"),
            organization: p.get("IsOrganizationTrail"),
            global_service_events: p.get("IncludeGlobalServiceEvents"),
            log_file_validation: p.get("EnableLogFileValidation"),
            kms_key_id: kms,
            kms_key_declared,
            s3_bucket_name: p.get("S3BucketName"),
            s3_key_prefix: p.get("S3KeyPrefix"),
            log_group_arn: p.get("CloudWatchLogsLogGroupArn"),
            log_role_arn: p.get("CloudWatchLogsRoleArn"),
            // `IsLogging` is required: no default.
            is_logging: p.get("IsLogging"),
        },
    );
    let basic = items(p, "EventSelectors")
        .iter()
        .map(|s| basic_selector(s, &NAMES))
        .collect();
    let advanced = items(p, "AdvancedEventSelectors")
        .iter()
        .map(|s| advanced_selector(s, &NAMES))
        .collect();
    set_trail_events(&mut r, basic, advanced);
    r
}
