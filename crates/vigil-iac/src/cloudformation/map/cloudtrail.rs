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
            log_group_stand_in: p
                .get("CloudWatchLogsLogGroupArn")
                .map(|v| ix.stand_in(v, t)),
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

#[cfg(test)]
mod tests {
    use crate::semantics::test_support::{attr, by_id, cfn, uncollected, verdict};
    use serde_json::json;
    use vigil_model::EvalResult::{Pass, Skip};
    use vigil_model::Resource;

    fn trail(props: &str) -> Resource {
        let rs = cfn(&format!(
            "Parameters:\n  GroupParam:\n    Type: String\nConditions:\n  Logged: !Equals [!Ref GroupParam, x]\nResources:\n  Key:\n    Type: AWS::KMS::Key\n  LogGroup:\n    Type: AWS::Logs::LogGroup\n  Trail:\n    Type: AWS::CloudTrail::Trail\n    Properties:\n      S3BucketName: logs\n      IsLogging: true\n{props}"
        ));
        by_id(&rs, "Trail").clone()
    }

    #[test]
    fn omitted_properties_get_the_create_trail_defaults() {
        let t = trail("");
        assert_eq!(attr(&t, "is_multi_region_trail"), Some(&json!(false)));
        assert_eq!(
            attr(&t, "include_global_service_events"),
            Some(&json!(true))
        );
        assert_eq!(attr(&t, "log_file_validation_enabled"), Some(&json!(false)));
        assert_eq!(attr(&t, "encrypted"), Some(&json!(false)));
        assert_eq!(attr(&t, "is_logging"), Some(&json!(true)));
        assert_eq!(attr(&t, "logs_all_management_events"), Some(&json!(true)));
        assert_eq!(attr(&t, "s3_object_write_events"), Some(&json!(false)));
    }

    #[test]
    fn a_log_group_of_the_template_stands_for_its_arn_a_parameter_does_not() {
        for (arn, text) in [
            ("!GetAtt LogGroup.Arn", "!GetAtt LogGroup.Arn"),
            ("!Sub \"${LogGroup.Arn}:*\"", "!Sub ${LogGroup.Arn}:*"),
            (
                "!Join [\"\", [!GetAtt LogGroup.Arn, \":*\"]]",
                "!Join [\"\", [!GetAtt LogGroup.Arn, :*]]",
            ),
        ] {
            let t = trail(&format!("      CloudWatchLogsLogGroupArn: {arn}"));
            assert_eq!(
                attr(&t, "cloudwatch_logs_log_group_arn"),
                Some(&json!(text)),
                "{arn}"
            );
            assert_eq!(verdict(&t, 32), Some(Pass), "{arn}");
        }
        for arn in [
            "!Ref GroupParam",
            "!Sub \"${GroupParam}:*\"",
            "!ImportValue shared-log-group",
            "!If [Logged, !GetAtt LogGroup.Arn, !Ref AWS::NoValue]",
            "!GetAtt Trail.Arn",
        ] {
            let t = trail(&format!("      CloudWatchLogsLogGroupArn: {arn}"));
            assert!(
                uncollected(&t, "cloudwatch_logs_log_group_arn", "value not known"),
                "{arn}"
            );
            assert_eq!(verdict(&t, 32), Some(Skip), "{arn}");
        }
    }

    #[test]
    fn a_key_of_the_template_encrypts_a_parameter_does_not_tell() {
        let t = trail("      KMSKeyId: !GetAtt Key.Arn");
        assert_eq!(attr(&t, "encrypted"), Some(&json!(true)));
        assert!(uncollected(&t, "kms_key_id", "!GetAtt Key.Arn"));
        let t = trail("      KMSKeyId: !Ref KeyParam");
        assert!(uncollected(&t, "encrypted", "!Ref KeyParam"));
    }

    #[test]
    fn event_selectors_are_normalized_and_judged() {
        let t = trail(
            r#"      EventSelectors:
        - ReadWriteType: ReadOnly
          IncludeManagementEvents: false
          DataResources:
            - Type: AWS::S3::Object
              Values: ["arn:aws:s3"]
      AdvancedEventSelectors:
        - FieldSelectors:
            - Field: eventCategory
              Equals: [Management]
            - Field: eventSource
              NotEquals: [kms.amazonaws.com]"#,
        );
        assert_eq!(attr(&t, "logs_all_management_events"), Some(&json!(false)));
        assert_eq!(attr(&t, "s3_object_read_events"), Some(&json!(true)));
        assert_eq!(attr(&t, "s3_object_write_events"), Some(&json!(false)));
        assert_eq!(
            attr(&t, "event_selectors"),
            Some(
                &json!([{"read_write_type": "ReadOnly", "include_management_events": false,
                "data_resources": [{"type": "AWS::S3::Object", "values": ["arn:aws:s3"]}]}])
            )
        );
    }

    #[test]
    fn unknown_selectors_leave_what_they_record_uncollected() {
        let t = trail("      EventSelectors: !Ref SelectorsParam");
        for k in [
            "event_selectors",
            "logs_all_management_events",
            "s3_object_read_events",
            "s3_object_write_events",
        ] {
            assert!(uncollected(&t, k, "!Ref SelectorsParam"), "{k}");
        }
    }
}
