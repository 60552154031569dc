//! CloudTrail trails: where they log, whether they are logging, log file
//! validation, encryption, CloudWatch Logs delivery, and which events they
//! record. A multi-region trail is listed by every region; each collector keeps
//! only the trails whose home region is its own, so each trail appears once.

use super::{link, missing, set, time, Ctx, Part};
use crate::config::in_region;
use crate::error::failed;
use aws_sdk_cloudtrail::types::{AdvancedEventSelector, EventSelector};
use serde_json::json;
use std::sync::Arc;

/// What GetTrailStatus gives; uncollected together when it fails.
const STATUS_ATTRIBUTES: [&str; 3] = [
    "is_logging",
    "latest_delivery_time",
    "latest_cloudwatch_logs_delivery_time",
];
/// What GetEventSelectors gives.
const SELECTOR_ATTRIBUTES: [&str; 5] = [
    "event_selectors",
    "advanced_event_selectors",
    "logs_all_management_events",
    "s3_object_read_events",
    "s3_object_write_events",
];

pub async fn collect(ctx: Arc<Ctx>, region: String) -> Part {
    let mut part = Part::default();
    let ct = aws_sdk_cloudtrail::Client::new(&in_region(&ctx.sdk, &region));
    let account = ctx.account.as_str();

    let trails = match ct
        .describe_trails()
        .include_shadow_trails(false)
        .send()
        .await
    {
        Ok(out) => out.trail_list.unwrap_or_default(),
        Err(e) => {
            part.errors.push(failed(
                "cloudtrail",
                &region,
                "cloudtrail:DescribeTrails",
                &e,
            ));
            return part;
        }
    };
    for t in trails {
        let home = t.home_region().unwrap_or(&region);
        if home != region {
            continue;
        }
        let name = t.name().unwrap_or_default();
        let arn = t
            .trail_arn()
            .map(String::from)
            .unwrap_or_else(|| format!("arn:aws:cloudtrail:{region}:{account}:trail/{name}"));
        let mut r = ctx.resource(
            &region,
            "CloudTrail",
            "aws.cloudtrail.trail",
            arn.clone(),
            name.to_string(),
        );
        set(&mut r, "home_region", home);
        set(
            &mut r,
            "is_multi_region_trail",
            t.is_multi_region_trail().unwrap_or(false),
        );
        set(
            &mut r,
            "is_organization_trail",
            t.is_organization_trail().unwrap_or(false),
        );
        set(
            &mut r,
            "include_global_service_events",
            t.include_global_service_events().unwrap_or(false),
        );
        set(
            &mut r,
            "log_file_validation_enabled",
            t.log_file_validation_enabled().unwrap_or(false),
        );
        set(&mut r, "kms_key_id", t.kms_key_id());
        set(&mut r, "encrypted", t.kms_key_id().is_some());
        set(&mut r, "s3_bucket_name", t.s3_bucket_name());
        set(&mut r, "s3_key_prefix", t.s3_key_prefix());
        set(
            &mut r,
            "cloudwatch_logs_log_group_arn",
            t.cloud_watch_logs_log_group_arn(),
        );
        set(
            &mut r,
            "cloudwatch_logs_role_arn",
            t.cloud_watch_logs_role_arn(),
        );
        set(&mut r, "sns_topic_arn", t.sns_topic_arn());

        match ct.get_trail_status().name(&arn).send().await {
            Ok(s) => {
                set(&mut r, "is_logging", s.is_logging().unwrap_or(false));
                set(
                    &mut r,
                    "latest_delivery_time",
                    time(s.latest_delivery_time()),
                );
                set(
                    &mut r,
                    "latest_cloudwatch_logs_delivery_time",
                    time(s.latest_cloud_watch_logs_delivery_time()),
                );
                set(&mut r, "latest_delivery_error", s.latest_delivery_error());
            }
            Err(e) => {
                let err = failed("cloudtrail", &region, "cloudtrail:GetTrailStatus", &e);
                for k in STATUS_ATTRIBUTES {
                    missing(&mut r, k, &err);
                }
            }
        }

        match ct.get_event_selectors().trail_name(&arn).send().await {
            Ok(s) => {
                let basic = s.event_selectors();
                let advanced = s.advanced_event_selectors();
                set(
                    &mut r,
                    "event_selectors",
                    basic
                        .iter()
                        .map(|e| {
                            json!({
                                "read_write_type": e.read_write_type().map(|x| x.as_str()).unwrap_or("All"),
                                "include_management_events": e.include_management_events().unwrap_or(true),
                                "data_resources": e.data_resources().iter().map(|d| json!({
                                    "type": d.r#type(),
                                    "values": d.values(),
                                })).collect::<Vec<_>>(),
                            })
                        })
                        .collect::<Vec<_>>(),
                );
                set(
                    &mut r,
                    "advanced_event_selectors",
                    advanced
                        .iter()
                        .map(|a| {
                            json!({
                                "name": a.name(),
                                "field_selectors": a.field_selectors().iter().map(|f| json!({
                                    "field": f.field(),
                                    "equals": f.equals(),
                                    "not_equals": f.not_equals(),
                                    "starts_with": f.starts_with(),
                                    "not_starts_with": f.not_starts_with(),
                                    "ends_with": f.ends_with(),
                                    "not_ends_with": f.not_ends_with(),
                                })).collect::<Vec<_>>(),
                            })
                        })
                        .collect::<Vec<_>>(),
                );
                let events = Events::of(basic, advanced);
                set(&mut r, "logs_all_management_events", events.management_all);
                set(&mut r, "s3_object_read_events", events.s3_read);
                set(&mut r, "s3_object_write_events", events.s3_write);
            }
            Err(e) => {
                let err = failed("cloudtrail", &region, "cloudtrail:GetEventSelectors", &e);
                for k in SELECTOR_ATTRIBUTES {
                    missing(&mut r, k, &err);
                }
            }
        }

        match ct.list_tags().resource_id_list(&arn).send().await {
            Ok(out) => {
                for rt in out.resource_tag_list() {
                    for tag in rt.tags_list() {
                        r.tags.insert(
                            tag.key().to_string(),
                            tag.value().unwrap_or_default().to_string(),
                        );
                    }
                }
            }
            Err(e) => part
                .errors
                .push(failed("cloudtrail", &region, "cloudtrail:ListTags", &e)),
        }

        if let Some(b) = t.s3_bucket_name() {
            r.associations.push(link(
                "logs_to",
                "aws.s3.bucket",
                format!("arn:aws:s3:::{b}"),
            ));
        }
        if let Some(k) = t.kms_key_id() {
            r.associations.push(link("uses", "aws.kms.key", k));
        }
        if let Some(g) = t.cloud_watch_logs_log_group_arn() {
            r.associations.push(link(
                "logs_to",
                "aws.logs.log_group",
                g.trim_end_matches(":*"),
            ));
        }
        part.resources.push(r);
    }
    part
}

/// Which events a trail's selectors record.
#[derive(Debug, PartialEq, Eq)]
struct Events {
    /// Every management event, reads and writes (CIS 3.1).
    management_all: bool,
    /// Object-level S3 reads / writes of every bucket (CIS 3.8, 3.9).
    s3_read: bool,
    s3_write: bool,
}

impl Events {
    fn of(basic: &[EventSelector], advanced: &[AdvancedEventSelector]) -> Events {
        let mut e = Events {
            management_all: false,
            s3_read: false,
            s3_write: false,
        };
        // A trail without selectors records what a new trail records: every
        // management event.
        if basic.is_empty() && advanced.is_empty() {
            e.management_all = true;
        }
        for s in basic {
            let rw = s.read_write_type().map(|x| x.as_str()).unwrap_or("All");
            if s.include_management_events().unwrap_or(true) && rw == "All" {
                e.management_all = true;
            }
            let all_buckets = s.data_resources().iter().any(|d| {
                d.r#type() == Some("AWS::S3::Object")
                    && d.values()
                        .iter()
                        .any(|v| v == "arn:aws:s3" || v == "arn:aws:s3:::")
            });
            if all_buckets {
                e.s3_read |= rw != "WriteOnly";
                e.s3_write |= rw != "ReadOnly";
            }
        }
        for a in advanced {
            let field = |name: &str| a.field_selectors().iter().find(|f| f.field() == name);
            let equals = |name: &str, value: &str| {
                field(name).is_some_and(|f| f.equals().iter().any(|v| v == value))
            };
            // readOnly absent: reads and writes; equals true: reads; false: writes.
            let read_only = field("readOnly").map(|f| f.equals().to_vec());
            let reads = read_only
                .as_ref()
                .is_none_or(|v| v.iter().any(|x| x == "true"));
            let writes = read_only
                .as_ref()
                .is_none_or(|v| v.iter().any(|x| x == "false"));
            if equals("eventCategory", "Management") {
                let narrowed = field("eventSource").is_some();
                if reads && writes && !narrowed {
                    e.management_all = true;
                }
            }
            if equals("eventCategory", "Data")
                && equals("resources.type", "AWS::S3::Object")
                && field("resources.ARN").is_none()
            {
                e.s3_read |= reads;
                e.s3_write |= writes;
            }
        }
        e
    }
}

#[cfg(test)]
mod tests {
    use super::Events;
    use aws_sdk_cloudtrail::types::{
        AdvancedEventSelector, AdvancedFieldSelector, DataResource, EventSelector, ReadWriteType,
    };

    fn field(name: &str, equals: &[&str]) -> AdvancedFieldSelector {
        let mut f = AdvancedFieldSelector::builder().field(name);
        for v in equals {
            f = f.equals(*v);
        }
        f.build().unwrap()
    }

    #[test]
    fn basic_selectors() {
        let all = EventSelector::builder()
            .read_write_type(ReadWriteType::All)
            .include_management_events(true)
            .build();
        let writes_s3 = EventSelector::builder()
            .read_write_type(ReadWriteType::WriteOnly)
            .include_management_events(false)
            .data_resources(
                DataResource::builder()
                    .r#type("AWS::S3::Object")
                    .values("arn:aws:s3")
                    .build(),
            )
            .build();
        assert_eq!(
            Events::of(&[all, writes_s3.clone()], &[]),
            Events {
                management_all: true,
                s3_read: false,
                s3_write: true
            }
        );
        assert!(!Events::of(&[writes_s3], &[]).management_all);
        assert!(Events::of(&[], &[]).management_all);
    }

    #[test]
    fn advanced_selectors() {
        let management = AdvancedEventSelector::builder()
            .field_selectors(field("eventCategory", &["Management"]))
            .build()
            .unwrap();
        let s3_reads = AdvancedEventSelector::builder()
            .field_selectors(field("eventCategory", &["Data"]))
            .field_selectors(field("resources.type", &["AWS::S3::Object"]))
            .field_selectors(field("readOnly", &["true"]))
            .build()
            .unwrap();
        assert_eq!(
            Events::of(&[], &[management, s3_reads]),
            Events {
                management_all: true,
                s3_read: true,
                s3_write: false
            }
        );
        let writes_only = AdvancedEventSelector::builder()
            .field_selectors(field("eventCategory", &["Management"]))
            .field_selectors(field("readOnly", &["false"]))
            .build()
            .unwrap();
        assert!(!Events::of(&[], &[writes_only]).management_all);
    }
}
