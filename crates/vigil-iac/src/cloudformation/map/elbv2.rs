//! CloudFormation → normalized resources: load balancers
//! (`AWS::ElasticLoadBalancingV2::LoadBalancer`) with their listeners
//! (`AWS::ElasticLoadBalancingV2::Listener`) folded in, in the shape of the
//! live collector's `aws.elbv2.load_balancer` (same listener and attribute
//! rules as the Terraform mapper).

use super::{new_resource, set, unknown, Index};
use crate::cloudformation::CfnResource;
use crate::terraform::map::elbv2::{
    listener_json, set_attributes, set_listeners, ActionArgs, Attributes, LbType, ListenerArgs,
};
use crate::value::Val;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use vigil_model::Resource;

/// Maps the elbv2 resource types this module handles; `None` for others.
pub(super) fn map(r: &CfnResource, ix: &Index<'_>) -> Option<Resource> {
    (r.resource_type == "AWS::ElasticLoadBalancingV2::LoadBalancer").then(|| load_balancer(r, ix))
}

/// What `LoadBalancerAttributes` sets.
const ATTRIBUTE_KEYS: [&str; 5] = [
    "deletion_protection",
    "access_logs_enabled",
    "access_logs_bucket",
    "drop_invalid_header_fields",
    "desync_mitigation_mode",
];

fn load_balancer(lb: &CfnResource, ix: &Index<'_>) -> Resource {
    let mut r = new_resource(lb, "ELB", "aws.elbv2.load_balancer", Some("Name"));
    let p = &lb.props;
    // `Type` defaults to application, `Scheme` to internet-facing.
    let lb_type: LbType<'_> = match p.get("Type") {
        None | Some(Val::Null) => Ok("application"),
        Some(Val::Unknown(u)) => Err(u),
        Some(v) => Ok(v.as_str().unwrap_or_default()),
    };
    match lb_type {
        Ok(t) => {
            r.attributes.insert("type".into(), json!(t));
        }
        Err(u) => unknown(&mut r, "type", u),
    }
    set(
        &mut r,
        "scheme",
        p.get("Scheme"),
        Some(json!("internet-facing")),
    );
    match p.get("Scheme") {
        Some(Val::Unknown(u)) => unknown(&mut r, "internet_facing", u),
        v => {
            let public = v
                .and_then(Val::as_str)
                .is_none_or(|s| s == "internet-facing");
            r.attributes.insert("internet_facing".into(), json!(public));
        }
    }
    set(
        &mut r,
        "ip_address_type",
        p.get("IpAddressType"),
        Some(json!("ipv4")),
    );
    match p.get("Subnets") {
        Some(v) if !v.is_null() => set(&mut r, "subnet_ids", Some(v), None),
        _ => {
            let mapped: Vec<Val> = p
                .get("SubnetMappings")
                .and_then(Val::as_list)
                .unwrap_or_default()
                .iter()
                .filter_map(|m| m.get("SubnetId").cloned())
                .collect();
            set(&mut r, "subnet_ids", Some(&Val::List(mapped)), None);
        }
    }
    set(
        &mut r,
        "security_groups",
        p.get("SecurityGroups"),
        Some(json!([])),
    );

    match attribute_map(p.get("LoadBalancerAttributes")) {
        Ok(attrs) => {
            let get = |k: &str| attrs.get(k).cloned();
            set_attributes(
                &mut r,
                lb_type,
                &Attributes {
                    deletion_protection: get("deletion_protection.enabled"),
                    access_logs_enabled: get("access_logs.s3.enabled"),
                    access_logs_bucket: get("access_logs.s3.bucket"),
                    drop_invalid_header_fields: get(
                        "routing.http.drop_invalid_header_fields.enabled",
                    ),
                    desync_mitigation_mode: get("routing.http.desync_mitigation_mode"),
                    cross_zone: get("load_balancing.cross_zone.enabled"),
                },
            );
        }
        Err(u) => {
            for k in ATTRIBUTE_KEYS {
                unknown(&mut r, k, &u);
            }
        }
    }

    let found = ix.satellites(
        "AWS::ElasticLoadBalancingV2::Listener",
        "LoadBalancerArn",
        lb,
        &[],
    );
    let built: Result<Vec<Value>, String> = found
        .matched
        .iter()
        .map(|l| listener_json(&listener_args(l), lb_type))
        .collect();
    set_listeners(&mut r, built, found.unresolved);
    r
}

/// `LoadBalancerAttributes: [{Key, Value}]` as a map; an unknown key (or
/// list) makes all of them unknown, an unknown value only its key's.
fn attribute_map(v: Option<&Val>) -> Result<BTreeMap<String, Val>, crate::value::Unknown> {
    let mut out = BTreeMap::new();
    match v {
        Some(Val::Unknown(u)) => return Err(u.clone()),
        Some(Val::List(items)) => {
            for item in items {
                match item.get("Key") {
                    Some(Val::String(k)) => {
                        out.insert(k.clone(), item.get("Value").cloned().unwrap_or(Val::Null));
                    }
                    Some(Val::Unknown(u)) => return Err(u.clone()),
                    _ => {
                        if let Some(u) = item.first_unknown() {
                            return Err(u.clone());
                        }
                    }
                }
            }
        }
        _ => {}
    }
    Ok(out)
}

fn listener_args(l: &CfnResource) -> ListenerArgs<'_> {
    let p = &l.props;
    let list = |k: &str| p.get(k).and_then(Val::as_list).unwrap_or_default();
    ListenerArgs {
        name: l.logical_id.clone(),
        arn: format!("!Ref {}", l.logical_id),
        protocol: p.get("Protocol"),
        port: p.get("Port"),
        ssl_policy: p.get("SslPolicy"),
        certificates: list("Certificates")
            .iter()
            .filter_map(|c| c.get("CertificateArn"))
            .collect(),
        actions: match p.get("DefaultActions") {
            Some(Val::Unknown(u)) => Err(u),
            _ => Ok(list("DefaultActions")
                .iter()
                .map(|a| ActionArgs {
                    kind: a.get("Type"),
                    target_group: a.get("TargetGroupArn"),
                    redirect_protocol: a.path("RedirectConfig.Protocol"),
                })
                .collect()),
        },
    }
}

#[cfg(test)]
mod tests {
    use crate::cloudformation::cloudformation_resources;
    use serde_json::{json, Value};
    use vigil_model::Resource;

    fn lb(yaml: &str) -> Resource {
        let (rs, errors) = cloudformation_resources(&[("t.yaml".into(), yaml.into())]);
        assert!(errors.is_empty(), "{errors:?}");
        rs.into_iter()
            .find(|r| r.resource_type == "aws.elbv2.load_balancer")
            .unwrap()
    }

    fn attr<'a>(r: &'a Resource, k: &str) -> Option<&'a Value> {
        r.attributes.get(k)
    }

    #[test]
    fn omitted_properties_take_the_aws_defaults() {
        let r = lb("Resources:\n  Web:\n    Type: AWS::ElasticLoadBalancingV2::LoadBalancer\n    Properties:\n      Subnets: [subnet-1, subnet-2]\n");
        assert_eq!(attr(&r, "type"), Some(&json!("application")));
        assert_eq!(attr(&r, "internet_facing"), Some(&json!(true)));
        assert_eq!(attr(&r, "deletion_protection"), Some(&json!(false)));
        assert_eq!(attr(&r, "access_logs_enabled"), Some(&json!(false)));
        assert_eq!(attr(&r, "drop_invalid_header_fields"), Some(&json!(false)));
        assert_eq!(
            attr(&r, "desync_mitigation_mode"),
            Some(&json!("defensive"))
        );
        assert_eq!(attr(&r, "listeners"), Some(&json!([])));
    }

    #[test]
    fn attributes_and_listeners_are_read() {
        let r = lb(r#"Resources:
  Web:
    Type: AWS::ElasticLoadBalancingV2::LoadBalancer
    Properties:
      Scheme: internal
      LoadBalancerAttributes:
        - {Key: deletion_protection.enabled, Value: "true"}
        - {Key: access_logs.s3.enabled, Value: "true"}
        - {Key: access_logs.s3.bucket, Value: !Ref LogsBucket}
        - {Key: routing.http.desync_mitigation_mode, Value: monitor}
  Redirect:
    Type: AWS::ElasticLoadBalancingV2::Listener
    Properties:
      LoadBalancerArn: !Ref Web
      Protocol: HTTP
      Port: 80
      DefaultActions:
        - Type: redirect
          RedirectConfig: {Protocol: HTTPS, Port: "443", StatusCode: HTTP_301}
  Https:
    Type: AWS::ElasticLoadBalancingV2::Listener
    Properties:
      LoadBalancerArn: !Ref Web
      Protocol: HTTPS
      Port: "443"
      SslPolicy: ELBSecurityPolicy-TLS13-1-2-2021-06
      Certificates: [{CertificateArn: !Ref Cert}]
      DefaultActions: [{Type: forward, TargetGroupArn: !Ref Targets}]
"#);
        assert_eq!(attr(&r, "internet_facing"), Some(&json!(false)));
        assert_eq!(attr(&r, "deletion_protection"), Some(&json!(true)));
        assert_eq!(attr(&r, "access_logs_enabled"), Some(&json!(true)));
        assert!(r.uncollected.contains_key("access_logs_bucket"));
        assert_eq!(attr(&r, "desync_mitigation_mode"), Some(&json!("monitor")));
        let listeners = attr(&r, "listeners").unwrap().as_array().unwrap();
        assert_eq!(listeners.len(), 2);
        let https = listeners.iter().find(|l| l["protocol"] == "HTTPS").unwrap();
        assert_eq!(https["port"], json!(443));
        assert_eq!(https["certificates"], json!(["!Ref Cert"]));
        let http = listeners.iter().find(|l| l["protocol"] == "HTTP").unwrap();
        assert_eq!(
            http["default_actions"][0]["redirect_protocol"],
            json!("HTTPS")
        );
    }

    #[test]
    fn unknown_attribute_lists_and_listener_targets_are_uncollected() {
        let r = lb("Resources:\n  Web:\n    Type: AWS::ElasticLoadBalancingV2::LoadBalancer\n    Properties:\n      LoadBalancerAttributes: !Ref AttributesParam\n  L:\n    Type: AWS::ElasticLoadBalancingV2::Listener\n    Properties:\n      LoadBalancerArn: !Ref SomeParam\n      Protocol: HTTP\n      Port: 80\n");
        for k in [
            "deletion_protection",
            "drop_invalid_header_fields",
            "listeners",
        ] {
            assert!(attr(&r, k).is_none(), "{k}");
            assert!(r.uncollected.contains_key(k), "{k}");
        }
    }
}
