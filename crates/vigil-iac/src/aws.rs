//! AWS facts shared by the Terraform and CloudFormation mappers of S3 and
//! RDS: the grants of canned ACLs, the shapes the S3 collector reports, the
//! engines' default ports, the loose scalars CloudFormation accepts, and
//! the JSON types the live collectors give scalar attributes.

use crate::value::Val;
use serde_json::Value;
use std::collections::BTreeMap;

/// The attributes the live collectors report as booleans, by resource
/// type (the types IaC maps; a test keeps it in step with the live
/// fixtures): paths into the attributes (`a.b`: field `b` of object `a`;
/// `a[].b`: field `b` of each element of list `a`).
const BOOLEANS: &[(&str, &[&str])] = &[
    (
        "aws.terraform.provider",
        &[
            "access_key_set",
            "hardcoded_access_key_id",
            "hardcoded_credentials",
            "secret_key_set",
            "token_set",
        ],
    ),
    (
        "aws.autoscaling.group",
        &[
            "capacity_rebalance",
            "launch_configuration.associate_public_ip_address",
            "new_instances_protected_from_scale_in",
        ],
    ),
    (
        "aws.cloudtrail.trail",
        &[
            "encrypted",
            "event_selectors[].include_management_events",
            "include_global_service_events",
            "is_logging",
            "is_multi_region_trail",
            "is_organization_trail",
            "log_file_validation_enabled",
            "logs_all_management_events",
            "s3_object_read_events",
            "s3_object_write_events",
        ],
    ),
    ("aws.ec2.ebs_encryption_default", &["enabled"]),
    (
        "aws.ec2.instance",
        &[
            "detailed_monitoring",
            "ebs_optimized",
            "ebs_volumes[].delete_on_termination",
        ],
    ),
    ("aws.ec2.network_acl", &["entries[].egress", "is_default"]),
    (
        "aws.ec2.subnet",
        &[
            "assign_ipv6_address_on_creation",
            "default_for_az",
            "map_public_ip_on_launch",
            "routes_to_internet_gateway",
        ],
    ),
    (
        "aws.ec2.volume",
        &[
            "attached",
            "attachments[].delete_on_termination",
            "encrypted",
            "multi_attach_enabled",
        ],
    ),
    ("aws.ec2.vpc", &["flow_logs_enabled", "is_default"]),
    (
        "aws.eks.cluster",
        &[
            "endpoint_private_access",
            "endpoint_public_access",
            "secrets_encryption",
        ],
    ),
    (
        "aws.elbv2.load_balancer",
        &[
            "access_logs_enabled",
            "cross_zone_load_balancing",
            "deletion_protection",
            "drop_invalid_header_fields",
            "internet_facing",
        ],
    ),
    (
        "aws.iam.password_policy",
        &[
            "exists",
            "require_lowercase_characters",
            "require_numbers",
            "require_symbols",
            "require_uppercase_characters",
        ],
    ),
    ("aws.iam.user", &["mfa_active", "password_enabled"]),
    (
        "aws.kms.key",
        &[
            "enabled",
            "multi_region",
            "public_policy",
            "rotation_enabled",
        ],
    ),
    (
        "aws.lambda.function",
        &[
            "environment_variables_present",
            "in_vpc",
            "public_policy",
            "resource_policy_present",
        ],
    ),
    (
        "aws.rds.db_instance",
        &[
            "auto_minor_version_upgrade",
            "multi_az",
            "publicly_accessible",
            "storage_encrypted",
        ],
    ),
    ("aws.rds.db_snapshot", &["encrypted", "public"]),
    (
        "aws.s3.account_public_access_block",
        &[
            "block_public_acls",
            "block_public_policy",
            "configured",
            "ignore_public_acls",
            "restrict_public_buckets",
        ],
    ),
    (
        "aws.s3.bucket",
        &[
            "public_access_block.block_public_acls",
            "public_access_block.block_public_policy",
            "public_access_block.ignore_public_acls",
            "public_access_block.restrict_public_buckets",
        ],
    ),
];

/// The attributes the live collectors report as numbers (paths as in
/// [`BOOLEANS`]).
const NUMBERS: &[(&str, &[&str])] = &[
    (
        "aws.autoscaling.group",
        &[
            "desired_capacity",
            "health_check_grace_period",
            "max_size",
            "min_size",
        ],
    ),
    (
        "aws.ec2.instance",
        &["metadata_options.http_put_response_hop_limit"],
    ),
    (
        "aws.ec2.network_acl",
        &[
            "entries[].from_port",
            "entries[].rule_number",
            "entries[].to_port",
        ],
    ),
    (
        "aws.ec2.security_group",
        &[
            "ip_permissions[].from_port",
            "ip_permissions[].to_port",
            "ip_permissions_egress[].from_port",
            "ip_permissions_egress[].to_port",
        ],
    ),
    ("aws.ec2.subnet", &["available_ip_address_count"]),
    ("aws.ec2.volume", &["iops", "size"]),
    ("aws.elbv2.load_balancer", &["listeners[].port"]),
    (
        "aws.iam.password_policy",
        &[
            "max_password_age",
            "minimum_password_length",
            "password_reuse_prevention",
        ],
    ),
    ("aws.kms.key", &["rotation_period_in_days"]),
    ("aws.lambda.function", &["memory_size", "timeout"]),
    ("aws.rds.db_instance", &["backup_retention_period", "port"]),
];

/// Version strings the collectors report as text, which a template may
/// write as a number (`version = 1.29`, `EngineVersion: 15.4`) (paths as in
/// [`BOOLEANS`]).
const VERSIONS: &[(&str, &[&str])] = &[
    ("aws.autoscaling.group", &["launch_template.version"]),
    ("aws.eks.cluster", &["version"]),
    ("aws.rds.db_instance", &["engine_version"]),
];

/// The paths of `resource_type` in `table`.
fn paths_of(
    table: &'static [(&str, &'static [&'static str])],
    resource_type: &str,
) -> &'static [&'static str] {
    table
        .iter()
        .find(|(t, _)| *t == resource_type)
        .map_or(&[][..], |(_, paths)| *paths)
}

/// Gives the scalar attributes of a mapped resource the JSON types the live
/// collectors give them: Terraform and CloudFormation both accept a boolean
/// or number written as a string (`encrypted = "true"`, `Port: "5432"`),
/// or a version written as a number, and convert it by the argument's
/// schema, so a mapper that passes a value through must too. Only values
/// that read as the type are converted.
pub(crate) fn coerce_scalars(r: &mut vigil_model::Resource) {
    for path in paths_of(BOOLEANS, &r.resource_type) {
        at_path(&mut r.attributes, path, &|v| {
            if let Value::String(s) = v {
                if s.eq_ignore_ascii_case("true") || s.eq_ignore_ascii_case("false") {
                    *v = Value::Bool(s.eq_ignore_ascii_case("true"));
                }
            }
        });
    }
    for path in paths_of(NUMBERS, &r.resource_type) {
        at_path(&mut r.attributes, path, &|v| {
            if let Value::String(s) = v {
                if let Ok(n) = s.trim().parse::<f64>() {
                    *v = crate::value::number_json(n);
                }
            }
        });
    }
    for path in paths_of(VERSIONS, &r.resource_type) {
        at_path(&mut r.attributes, path, &|v| {
            if let Some(n) = v.as_f64() {
                *v = Value::String(crate::value::number_text(n));
            }
        });
    }
}

/// Applies `f` to the values at `path` (see [`BOOLEANS`]) under `map`.
fn at_path(map: &mut serde_json::Map<String, Value>, path: &str, f: &dyn Fn(&mut Value)) {
    let (head, rest) = match path.split_once('.') {
        Some((h, r)) => (h, Some(r)),
        None => (path, None),
    };
    let (key, each) = match head.strip_suffix("[]") {
        Some(k) => (k, true),
        None => (head, false),
    };
    let Some(v) = map.get_mut(key) else { return };
    let targets: Vec<&mut Value> = match (each, v) {
        (true, Value::Array(items)) => items.iter_mut().collect(),
        (true, _) => return,
        (false, v) => vec![v],
    };
    for t in targets {
        match (rest, t) {
            (None, t) => f(t),
            (Some(rest), Value::Object(m)) => at_path(m, rest, f),
            _ => {}
        }
    }
}

/// The `AllUsers` group ("Everyone").
pub(crate) const ALL_USERS: &str = "http://acs.amazonaws.com/groups/global/AllUsers";
/// The `AuthenticatedUsers` group (any AWS account).
pub(crate) const AUTHENTICATED_USERS: &str =
    "http://acs.amazonaws.com/groups/global/AuthenticatedUsers";
const LOG_DELIVERY: &str = "http://acs.amazonaws.com/groups/s3/LogDelivery";

/// A map value from `(key, value)` pairs.
pub(crate) fn obj<const N: usize>(entries: [(&str, Val); N]) -> Val {
    Val::Map(
        entries
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect::<BTreeMap<_, _>>(),
    )
}

/// One ACL grant in the S3 collector's shape. Each part may be unknown.
pub(crate) fn grant(kind: Val, uri: Val, id: Val, permission: Val) -> Val {
    obj([
        ("grantee_type", kind),
        ("grantee_uri", uri),
        ("grantee_id", id),
        ("permission", permission),
    ])
}

/// The grants of a canned ACL, as GetBucketAcl reports them (the owner's
/// canonical id is not known before the bucket exists, so it is empty).
/// Accepts the S3 names (`public-read`) and CloudFormation's
/// `AccessControl` names (`PublicRead`); `None` for anything else.
pub(crate) fn canned_grants(acl: &str) -> Option<Val> {
    fn s(text: &str) -> Val {
        Val::string(text)
    }
    let owner = || grant(s("CanonicalUser"), s(""), s(""), s("FULL_CONTROL"));
    let group = |uri: &str, p: &str| grant(s("Group"), s(uri), s(""), s(p));
    let grants = match acl {
        "private"
        | "Private"
        | "bucket-owner-read"
        | "BucketOwnerRead"
        | "bucket-owner-full-control"
        | "BucketOwnerFullControl" => vec![owner()],
        "public-read" | "PublicRead" => vec![owner(), group(ALL_USERS, "READ")],
        "public-read-write" | "PublicReadWrite" => {
            vec![owner(), group(ALL_USERS, "READ"), group(ALL_USERS, "WRITE")]
        }
        "authenticated-read" | "AuthenticatedRead" => {
            vec![owner(), group(AUTHENTICATED_USERS, "READ")]
        }
        "log-delivery-write" | "LogDeliveryWrite" => vec![
            owner(),
            group(LOG_DELIVERY, "WRITE"),
            group(LOG_DELIVERY, "READ_ACP"),
        ],
        "aws-exec-read" | "AwsExecRead" => {
            vec![owner(), grant(s("CanonicalUser"), s(""), s(""), s("READ"))]
        }
        _ => return None,
    };
    Some(Val::List(grants))
}

/// The grants of a canned ACL value: unknown when the value is unknown or
/// not a canned ACL (`what` names it in the reason, e.g. `aws_s3_bucket.b.acl`).
pub(crate) fn canned_grants_of(v: &Val, what: &str) -> Val {
    match v {
        Val::Unknown(_) => v.clone(),
        Val::String(acl) => canned_grants(acl)
            .unwrap_or_else(|| Val::unknown(format!("{what} = \"{acl}\" (not a canned ACL)"))),
        other => Val::unknown(format!(
            "{what} (a {}, not a canned ACL)",
            other.type_name()
        )),
    }
}

/// The ACL of a bucket nothing grants anything on: the owner's full control.
pub(crate) fn private_grants() -> Val {
    canned_grants("private").unwrap_or(Val::List(Vec::new()))
}

/// `versioning` as the S3 collector reports it: `status` `Enabled`,
/// `Suspended` or `""` (never enabled), `mfa_delete` `Enabled`, `Disabled`
/// or `""` (never configured).
pub(crate) fn versioning(status: Val, mfa_delete: Val) -> Val {
    obj([("status", status), ("mfa_delete", mfa_delete)])
}

/// Versioning of a bucket that never had it.
pub(crate) fn never_versioned() -> Val {
    versioning(Val::string(""), Val::string(""))
}

/// The four Block Public Access flags, in the collectors' names, from a
/// getter of each flag by that name (`None`: omitted, false).
pub(crate) fn public_access_block(flag: impl Fn(&str) -> Option<Val>) -> Val {
    let f = |k: &'static str| (k, flag(k).map_or(Val::Bool(false), |v| loose_bool(&v)));
    obj([
        f("block_public_acls"),
        f("ignore_public_acls"),
        f("block_public_policy"),
        f("restrict_public_buckets"),
    ])
}

/// The Block Public Access of a bucket created without a configuration:
/// since April 2023 S3 turns all four settings on for every new bucket.
pub(crate) fn default_public_access_block() -> Val {
    public_access_block(|_| Some(Val::Bool(true)))
}

/// The port an engine listens on when none is given (RDS defaults);
/// `None` for engines whose default is not certain here.
pub(crate) fn default_port(engine: &str) -> Option<i64> {
    let e = engine.to_ascii_lowercase();
    if e.contains("mysql") || e.contains("mariadb") || e == "aurora" {
        Some(3306)
    } else if e.contains("postgres") {
        Some(5432)
    } else if e.starts_with("oracle") {
        Some(1521)
    } else if e.starts_with("sqlserver") {
        Some(1433)
    } else if e.starts_with("db2") {
        Some(50000)
    } else {
        None
    }
}

/// A boolean given as `true` or as the string `"true"`/`"false"` (any
/// case), which CloudFormation and Terraform both accept; other values are
/// kept as they are (the control then reports the type it did not expect).
pub(crate) fn loose_bool(v: &Val) -> Val {
    match v {
        Val::String(s) if s.eq_ignore_ascii_case("true") => Val::Bool(true),
        Val::String(s) if s.eq_ignore_ascii_case("false") => Val::Bool(false),
        other => other.clone(),
    }
}

/// A number given as a number or a numeric string (`Port: "5432"`).
pub(crate) fn loose_number(v: &Val) -> Val {
    match v {
        Val::String(s) => s
            .trim()
            .parse::<f64>()
            .map_or_else(|_| v.clone(), Val::Number),
        other => other.clone(),
    }
}

/// An RDS engine name as AWS reports it (lower case).
pub(crate) fn engine_name(v: &Val) -> Val {
    match v {
        Val::String(s) => Val::String(s.to_ascii_lowercase()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::collections::BTreeSet;
    use std::path::Path;

    /// The JSON types the live fixtures of the catalogue show at each path
    /// of each resource type (`null` left out).
    fn fixture_kinds() -> BTreeMap<(String, String), BTreeSet<&'static str>> {
        fn walk(
            out: &mut BTreeMap<(String, String), BTreeSet<&'static str>>,
            ty: &str,
            path: String,
            v: &Value,
        ) {
            let kind = match v {
                Value::Null => return,
                Value::Bool(_) => "bool",
                Value::Number(_) => "number",
                Value::String(_) => "string",
                Value::Array(items) => {
                    for x in items {
                        walk(out, ty, format!("{path}[]"), x);
                    }
                    "array"
                }
                Value::Object(m) => {
                    for (k, x) in m {
                        let p = if path.is_empty() {
                            k.clone()
                        } else {
                            format!("{path}.{k}")
                        };
                        walk(out, ty, p, x);
                    }
                    "object"
                }
            };
            out.entry((ty.to_string(), path)).or_default().insert(kind);
        }
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../catalog/controls/aws");
        let mut out = BTreeMap::new();
        let dirs = |p: &Path| std::fs::read_dir(p).into_iter().flatten().flatten();
        for control in dirs(&root).flat_map(|s| dirs(&s.path())) {
            for f in ["pass.json", "fail.json"] {
                let Ok(text) = std::fs::read_to_string(control.path().join(f)) else {
                    continue;
                };
                let rs = vigil_model::parse_resources(&text, f).unwrap_or_default();
                for r in rs {
                    let attrs = Value::Object(r.attributes);
                    walk(&mut out, &r.resource_type, String::new(), &attrs);
                }
            }
        }
        out
    }

    #[test]
    fn the_scalar_tables_name_every_boolean_and_number_the_collectors_report() {
        let kinds = fixture_kinds();
        assert!(kinds.len() > 100, "catalogue fixtures not found");
        let mut wrong = Vec::new();
        for ((ty, path), k) in &kinds {
            // Types IaC never produces (the account summary) are left out.
            if ty == "aws.iam.account" || path.is_empty() {
                continue;
            }
            for (table, name, kind) in [
                (BOOLEANS, "BOOLEANS", "bool"),
                (NUMBERS, "NUMBERS", "number"),
            ] {
                let listed = paths_of(table, ty).contains(&path.as_str());
                if listed != (k.len() == 1 && k.contains(kind)) {
                    wrong.push(format!(
                        "{ty} {path}: live {k:?}, listed in {name}: {listed}"
                    ));
                }
            }
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }

    #[test]
    fn scalars_take_the_collectors_types_at_their_paths_only() {
        let mut r = crate::semantics::declared_resource(
            "EC2",
            "aws.ec2.network_acl",
            "n",
            "n".into(),
            BTreeMap::new(),
            vigil_model::Origin::Input,
        );
        r.attributes.insert(
            "entries".into(),
            json!([{"egress": "TRUE", "rule_number": " 100", "protocol": "6",
                    "from_port": "22", "to_port": 22, "cidr_block": "0.0.0.0/0"},
                   {"egress": "no", "rule_number": "x"}]),
        );
        r.attributes.insert("is_default".into(), json!("false"));
        r.attributes.insert("vpc_id".into(), json!("true"));
        coerce_scalars(&mut r);
        let mut eks = r.clone();
        eks.resource_type = "aws.eks.cluster".into();
        eks.attributes.insert("version".into(), json!(1.3));
        coerce_scalars(&mut eks);
        assert_eq!(eks.attributes["version"], json!("1.3"));
        assert_eq!(
            r.attributes["entries"],
            json!([{"egress": true, "rule_number": 100, "protocol": "6",
                    "from_port": 22, "to_port": 22, "cidr_block": "0.0.0.0/0"},
                   {"egress": "no", "rule_number": "x"}])
        );
        assert_eq!(r.attributes["is_default"], json!(false));
        // Not a boolean attribute: left as written.
        assert_eq!(r.attributes["vpc_id"], json!("true"));
    }

    fn uris(acl: &str) -> Vec<(String, String)> {
        let Some(Val::List(grants)) = canned_grants(acl) else {
            return Vec::new();
        };
        grants
            .iter()
            .map(|g| {
                let s = |k| g.get(k).and_then(Val::as_str).unwrap_or("?").to_string();
                (s("grantee_uri"), s("permission"))
            })
            .collect()
    }

    #[test]
    fn canned_acls_map_to_grants_in_both_spellings() {
        assert_eq!(uris("private"), [("".into(), "FULL_CONTROL".into())]);
        let public_rw = [
            (ALL_USERS.to_string(), "READ".to_string()),
            (ALL_USERS.to_string(), "WRITE".to_string()),
        ];
        assert_eq!(uris("public-read-write")[1..], public_rw);
        assert_eq!(uris("PublicReadWrite")[1..], public_rw);
        assert_eq!(
            uris("AuthenticatedRead")[1..],
            [(AUTHENTICATED_USERS.to_string(), "READ".to_string())]
        );
        assert!(canned_grants("nonsense").is_none());
        let bad = canned_grants_of(&Val::string("nonsense"), "aws_s3_bucket.b.acl");
        assert_eq!(
            bad.first_unknown().map(|u| u.expr.as_str()),
            Some("aws_s3_bucket.b.acl = \"nonsense\" (not a canned ACL)")
        );
    }

    #[test]
    fn default_ports_by_engine() {
        assert_eq!(default_port("aurora-mysql"), Some(3306));
        assert_eq!(default_port("MariaDB"), Some(3306));
        assert_eq!(default_port("aurora-postgresql"), Some(5432));
        assert_eq!(default_port("oracle-se2"), Some(1521));
        assert_eq!(default_port("sqlserver-ex"), Some(1433));
        assert_eq!(default_port("custom-oracle-ee"), None);
    }

    #[test]
    fn loose_scalars() {
        assert_eq!(loose_bool(&Val::string("True")), Val::Bool(true));
        assert_eq!(loose_bool(&Val::string("yes")), Val::string("yes"));
        assert_eq!(loose_number(&Val::string(" 5432")), Val::Number(5432.0));
        assert_eq!(
            public_access_block(|k| (k == "block_public_acls").then(|| Val::string("true")))
                .to_json()
                .ok(),
            Some(
                json!({"block_public_acls": true, "ignore_public_acls": false,
                        "block_public_policy": false, "restrict_public_buckets": false})
            )
        );
    }
}
