//! Terraform → normalized resources: cloudtrail.
//!
//! `aws_cloudtrail` → `aws.cloudtrail.trail`, with its `event_selector` and
//! `advanced_event_selector` blocks normalized as GetEventSelectors reports
//! them, and what they record (`logs_all_management_events`,
//! `s3_object_read_events`, `s3_object_write_events`).

use super::{new_resource, refers_to, Index};
use crate::semantics::{
    advanced_selector, basic_selector, items, set_trail, set_trail_events, SelectorNames,
    TrailArgs, FIELD_LISTS,
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
    lists: FIELD_LISTS,
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
            log_group_stand_in: a
                .get("cloud_watch_logs_group_arn")
                .map(|v| ix.stand_in(v, d)),
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

#[cfg(test)]
mod tests {
    use crate::semantics::test_support::{attr, by_id, tf, uncollected, verdict};
    use serde_json::json;
    use vigil_model::EvalResult::{Pass, Skip};
    use vigil_model::Resource;

    fn trail(body: &str) -> Resource {
        let rs = tf(&format!(
            "resource \"aws_kms_key\" \"k\" {{}}\nresource \"aws_cloudwatch_log_group\" \"x\" {{}}\nvariable \"on\" {{ type = bool }}\nresource \"aws_cloudtrail\" \"t\" {{\n  name = \"t\"\n  s3_bucket_name = \"logs\"\n{body}\n}}"
        ));
        by_id(&rs, "aws_cloudtrail.t").clone()
    }

    fn events(r: &Resource) -> [Option<&serde_json::Value>; 3] {
        [
            attr(r, "logs_all_management_events"),
            attr(r, "s3_object_read_events"),
            attr(r, "s3_object_write_events"),
        ]
    }

    #[test]
    fn a_minimal_trail_gets_the_create_trail_defaults() {
        let t = trail("");
        assert_eq!(t.resource_type, "aws.cloudtrail.trail");
        assert_eq!(t.service, "CloudTrail");
        assert_eq!(attr(&t, "is_multi_region_trail"), Some(&json!(false)));
        assert_eq!(
            attr(&t, "include_global_service_events"),
            Some(&json!(true))
        );
        assert_eq!(attr(&t, "log_file_validation_enabled"), Some(&json!(false)));
        assert_eq!(attr(&t, "is_logging"), Some(&json!(true)));
        assert_eq!(attr(&t, "encrypted"), Some(&json!(false)));
        assert_eq!(attr(&t, "kms_key_id"), Some(&json!(null)));
        assert_eq!(
            attr(&t, "cloudwatch_logs_log_group_arn"),
            Some(&json!(null))
        );
        // No selectors: a new trail records every management event.
        assert_eq!(
            events(&t),
            [Some(&json!(true)), Some(&json!(false)), Some(&json!(false))]
        );
        assert_eq!(t.associations[0].id, "arn:aws:s3:::logs");
    }

    #[test]
    fn a_log_group_declared_alongside_stands_for_its_arn_a_variable_does_not() {
        for (arn, text) in [
            (
                "aws_cloudwatch_log_group.x.arn",
                "aws_cloudwatch_log_group.x.arn",
            ),
            (
                "\"${aws_cloudwatch_log_group.x.arn}:*\"",
                "${aws_cloudwatch_log_group.x.arn}:*",
            ),
        ] {
            let t = trail(&format!("cloud_watch_logs_group_arn = {arn}"));
            assert_eq!(
                attr(&t, "cloudwatch_logs_log_group_arn"),
                Some(&json!(text))
            );
            // The ARN is not known: no association to a log group.
            assert!(t
                .associations
                .iter()
                .all(|a| a.relation != "logs_to" || a.resource_type != "aws.logs.log_group"));
            assert_eq!(verdict(&t, 32), Some(Pass), "{arn}");
        }
        for arn in [
            "var.group",
            "\"${var.group}:*\"",
            "data.aws_cloudwatch_log_group.x.arn",
            "var.on ? aws_cloudwatch_log_group.x.arn : null",
            "aws_cloudwatch_log_group.x[*].arn",
        ] {
            let t = trail(&format!("cloud_watch_logs_group_arn = {arn}"));
            assert!(
                uncollected(&t, "cloudwatch_logs_log_group_arn", "value not known"),
                "{arn}"
            );
            assert_eq!(verdict(&t, 32), Some(Skip), "{arn}");
        }
    }

    #[test]
    fn a_key_declared_alongside_encrypts_an_unknown_key_does_not_tell() {
        let t = trail("kms_key_id = aws_kms_key.k.arn\nenable_logging = false");
        assert_eq!(attr(&t, "encrypted"), Some(&json!(true)));
        assert!(uncollected(&t, "kms_key_id", "aws_kms_key.k.arn"));
        assert_eq!(attr(&t, "is_logging"), Some(&json!(false)));
        let t = trail("kms_key_id = var.key");
        assert!(uncollected(&t, "encrypted", "var.key"));
    }

    #[test]
    fn basic_selectors_record_s3_objects_of_every_bucket_by_read_write_type() {
        let selector = |rw: &str, values: &str| {
            trail(&format!(
                "event_selector {{\n read_write_type = \"{rw}\"\n data_resource {{\n type = \"AWS::S3::Object\"\n values = [{values}]\n }}\n}}"
            ))
        };
        assert_eq!(
            events(&selector("WriteOnly", "\"arn:aws:s3\"")),
            [Some(&json!(false)), Some(&json!(false)), Some(&json!(true))]
        );
        assert_eq!(
            events(&selector("ReadOnly", "\"arn:aws:s3:::\"")),
            [Some(&json!(false)), Some(&json!(true)), Some(&json!(false))]
        );
        // One bucket only; management events default to included.
        assert_eq!(
            events(&selector("All", "\"arn:aws:s3:::payments/\"")),
            [Some(&json!(true)), Some(&json!(false)), Some(&json!(false))]
        );
        let t = selector("All", "\"arn:aws:s3\"");
        assert_eq!(
            attr(&t, "event_selectors"),
            Some(
                &json!([{"read_write_type": "All", "include_management_events": true,
                "data_resources": [{"type": "AWS::S3::Object", "values": ["arn:aws:s3"]}]}])
            )
        );
    }

    #[test]
    fn advanced_selectors_narrowed_by_source_arn_or_read_only_record_less() {
        let t = trail(
            r#"
advanced_event_selector {
  name = "management, writes only"
  field_selector {
    field  = "eventCategory"
    equals = ["Management"]
  }
  field_selector {
    field  = "readOnly"
    equals = ["false"]
  }
}
advanced_event_selector {
  field_selector {
    field  = "eventCategory"
    equals = ["Data"]
  }
  field_selector {
    field  = "resources.type"
    equals = ["AWS::S3::Object"]
  }
  field_selector {
    field  = "readOnly"
    equals = ["false"]
  }
}
advanced_event_selector {
  field_selector {
    field  = "eventCategory"
    equals = ["Data"]
  }
  field_selector {
    field  = "resources.type"
    equals = ["AWS::S3::Object"]
  }
  field_selector {
    field       = "resources.ARN"
    starts_with = ["arn:aws:s3:::payments/"]
  }
}"#,
        );
        assert_eq!(
            events(&t),
            [Some(&json!(false)), Some(&json!(false)), Some(&json!(true))]
        );
        let first = attr(&t, "advanced_event_selectors").and_then(|a| a.get(0));
        assert_eq!(
            first.and_then(|s| s.pointer("/field_selectors/1")),
            Some(
                &json!({"field": "readOnly", "equals": ["false"], "not_equals": [],
                "starts_with": [], "not_starts_with": [], "ends_with": [], "not_ends_with": []})
            )
        );
    }

    #[test]
    fn an_unknown_selector_leaves_false_unknown_but_keeps_true() {
        let t = trail(
            r#"
event_selector {
  read_write_type = "All"
}
event_selector {
  data_resource {
    type   = "AWS::S3::Object"
    values = [var.buckets]
  }
}"#,
        );
        assert_eq!(attr(&t, "logs_all_management_events"), Some(&json!(true)));
        assert!(uncollected(&t, "s3_object_read_events", "var.buckets"));
        assert!(uncollected(&t, "s3_object_write_events", "var.buckets"));
        assert!(uncollected(&t, "event_selectors", "var.buckets"));
    }
}
