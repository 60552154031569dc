//! Terraform → normalized resources: RDS.
//!
//! `aws_db_instance` → `aws.rds.db_instance`, with the provider's and the
//! RDS API's defaults for omitted arguments, except where the instance is
//! restored or replicated from another database (its settings are then
//! inherited, so not known here).

use super::{new_resource, refers_to, set, Index};
use crate::aws::{default_port, engine_name, loose_bool, loose_number};
use crate::terraform::TfResource;
use crate::value::Val;
use serde_json::{json, Value};
use vigil_model::{Association, Resource};

/// Maps the RDS resource types this module handles; `None` for others.
pub(super) fn map(d: &TfResource, ix: &Index<'_>) -> Option<Resource> {
    match d.kind.as_str() {
        "aws_db_instance" => Some(db_instance(d, ix)),
        _ => None,
    }
}

/// Arguments that create the instance from another database, whose settings
/// the instance then inherits.
const SOURCES: &[&str] = &[
    "replicate_source_db",
    "snapshot_identifier",
    "restore_to_point_in_time",
];

fn db_instance(d: &TfResource, ix: &Index<'_>) -> Resource {
    let mut r = new_resource(d, "RDS", "aws.rds.db_instance", Some("identifier"));
    let a = &d.attrs;
    let arg = |k: &str| a.get(k).filter(|v| !v.is_null());
    let source = SOURCES.iter().find(|k| arg(k).is_some());
    // What an omitted argument is when the instance comes from a source.
    let inherited = |r: &mut Resource, key: &str| {
        if let Some(s) = source {
            r.uncollected.insert(
                key.into(),
                format!("value not known at build time: inherited from the source database ({s})"),
            );
        }
    };

    let engine = arg("engine").map(engine_name);
    match &engine {
        Some(e) => set(&mut r, "engine", Some(e), None),
        None if source.is_some() => inherited(&mut r, "engine"),
        None => {
            r.uncollected.insert(
                "engine".into(),
                "value not known at build time: engine not set".into(),
            );
        }
    }
    set(&mut r, "engine_version", arg("engine_version"), None);
    set(&mut r, "instance_class", arg("instance_class"), None);

    let port = arg("port").map(loose_number);
    let engine_port = engine
        .as_ref()
        .and_then(Val::as_str)
        .and_then(default_port)
        .map(Value::from);
    match (&port, &engine_port) {
        // A restored or replicated instance keeps its source's port.
        (None, _) if source.is_some() => inherited(&mut r, "port"),
        (None, None) => {
            r.uncollected.insert(
                "port".into(),
                "value not known at build time: the engine's default port".into(),
            );
        }
        _ => set(&mut r, "port", port.as_ref(), engine_port),
    }

    // Terraform converts `"true"` and `"7"` to the argument's type.
    let typed = |k: &str| {
        arg(k).map(|v| match k {
            "backup_retention_period" => loose_number(v),
            _ => loose_bool(v),
        })
    };
    // Provider defaults (schema `Default`): not public, auto minor upgrades.
    for (key, default) in [
        ("publicly_accessible", false),
        ("auto_minor_version_upgrade", true),
    ] {
        set(&mut r, key, typed(key).as_ref(), Some(json!(default)));
    }
    // RDS API defaults for a new instance (unencrypted, single-AZ, one day
    // of backups); a restored or replicated instance inherits the first two.
    for (key, default) in [
        ("storage_encrypted", json!(false)),
        ("backup_retention_period", json!(1)),
        ("multi_az", json!(false)),
    ] {
        if arg(key).is_none() && source.is_some() && key != "multi_az" {
            inherited(&mut r, key);
        } else {
            set(&mut r, key, typed(key).as_ref(), Some(default));
        }
    }

    security_groups(&mut r, arg("vpc_security_group_ids"), ix);
    r
}

/// Associations to the security groups of `vpc_security_group_ids`: a
/// declared group by its address (its id in Vigil), a literal id as is.
fn security_groups(r: &mut Resource, ids: Option<&Val>, ix: &Index<'_>) {
    let Some(Val::List(ids)) = ids else { return };
    for v in ids {
        let id = match v {
            Val::String(id) => Some(id.clone()),
            Val::Unknown(_) => ix
                .of_kind("aws_security_group")
                .iter()
                .find(|g| refers_to(v, g, &["id"]))
                .map(|g| g.address.clone()),
            _ => None,
        };
        if let Some(id) = id {
            r.associations.push(Association {
                relation: "uses".into(),
                resource_type: "aws.ec2.security_group".into(),
                id,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use vigil_model::Resource;

    fn db(text: &str) -> Resource {
        let (rs, errors) =
            crate::terraform_resources(&[("main.tf".into(), text.into())], &Default::default());
        assert!(errors.is_empty(), "{errors:?}");
        match rs
            .into_iter()
            .find(|r| r.resource_type == "aws.rds.db_instance")
        {
            Some(r) => r,
            None => panic!("no DB instance"),
        }
    }

    #[test]
    fn omitted_arguments_take_the_defaults() {
        let d = db(r#"
resource "aws_db_instance" "d" {
  identifier     = "orders"
  engine         = "Postgres"
  instance_class = "db.t3.micro"
}
"#);
        assert_eq!(d.name, "orders");
        assert_eq!(d.service, "RDS");
        let a = &d.attributes;
        assert_eq!(a["engine"], json!("postgres"));
        assert_eq!(a["port"], json!(5432));
        assert_eq!(a["publicly_accessible"], json!(false));
        assert_eq!(a["storage_encrypted"], json!(false));
        assert_eq!(a["auto_minor_version_upgrade"], json!(true));
        assert_eq!(a["multi_az"], json!(false));
        assert_eq!(a["backup_retention_period"], json!(1));
        assert!(d.uncollected.is_empty(), "{:?}", d.uncollected);
    }

    #[test]
    fn given_arguments_win() {
        let d = db(r#"
resource "aws_db_instance" "d" {
  engine                     = "mysql"
  port                       = "3307"
  publicly_accessible        = "true"
  storage_encrypted          = true
  auto_minor_version_upgrade = false
  multi_az                   = true
  backup_retention_period    = 14
}
"#);
        let a = &d.attributes;
        assert_eq!(d.name, "aws_db_instance.d");
        assert_eq!(a["port"], json!(3307));
        assert_eq!(a["publicly_accessible"], json!(true));
        assert_eq!(a["storage_encrypted"], json!(true));
        assert_eq!(a["auto_minor_version_upgrade"], json!(false));
        assert_eq!(a["multi_az"], json!(true));
        assert_eq!(a["backup_retention_period"], json!(14));
    }

    #[test]
    fn a_replica_or_restore_inherits_what_it_omits() {
        let d = db(r#"
resource "aws_db_instance" "replica" {
  replicate_source_db = aws_db_instance.main.identifier
  instance_class      = "db.t3.micro"
  multi_az            = true
}
"#);
        for key in [
            "engine",
            "port",
            "storage_encrypted",
            "backup_retention_period",
        ] {
            assert!(!d.attributes.contains_key(key), "{key}");
            assert!(
                d.uncollected[key].contains("inherited from the source database"),
                "{key}"
            );
        }
        assert_eq!(d.attributes["multi_az"], json!(true));
        assert_eq!(d.attributes["publicly_accessible"], json!(false));

        let restored = db(r#"
resource "aws_db_instance" "r" {
  snapshot_identifier = "snap-1"
  engine              = "mysql"
  storage_encrypted   = true
}
"#);
        assert_eq!(restored.attributes["storage_encrypted"], json!(true));
        assert!(restored.uncollected["port"].contains("snapshot_identifier"));
        assert!(restored.uncollected.contains_key("backup_retention_period"));
    }

    #[test]
    fn unknown_values_and_unknown_default_ports_are_uncollected() {
        let d = db(r#"
resource "aws_db_instance" "d" {
  engine            = "custom-oracle-ee"
  storage_encrypted = var.encrypted
  multi_az          = local.ha
}
"#);
        assert_eq!(
            d.uncollected["storage_encrypted"],
            "value not known at build time: var.encrypted"
        );
        assert_eq!(
            d.uncollected["multi_az"],
            "value not known at build time: local.ha"
        );
        assert_eq!(
            d.uncollected["port"],
            "value not known at build time: the engine's default port"
        );
        assert!(!d.attributes.contains_key("port"));
    }

    #[test]
    fn security_groups_are_associated_by_address_or_literal_id() {
        let d = db(r#"
variable "other" {}
resource "aws_security_group" "db" {
  name = "db"
}
resource "aws_db_instance" "d" {
  engine                 = "postgres"
  vpc_security_group_ids = [aws_security_group.db.id, "sg-0123", var.other]
}
"#);
        let ids: Vec<&str> = d.associations.iter().map(|a| a.id.as_str()).collect();
        assert_eq!(ids, ["aws_security_group.db", "sg-0123"]);
        assert!(d
            .associations
            .iter()
            .all(|a| a.resource_type == "aws.ec2.security_group" && a.relation == "uses"));
    }
}
