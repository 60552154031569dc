//! CloudFormation → normalized resources: RDS.
//!
//! `AWS::RDS::DBInstance` → `aws.rds.db_instance`, with CloudFormation's
//! defaults for omitted properties where they are certain. They differ from
//! Terraform's: an omitted `PubliclyAccessible` depends on the subnets the
//! instance lands in, so it is not known here. An instance restored or
//! replicated from another database inherits what it omits; one that
//! belongs to an Aurora cluster (`DBClusterIdentifier`) takes encryption,
//! backups and port from the cluster.

use super::{new_resource, refers_to, set, Index};
use crate::aws::{default_port, engine_name, loose_bool, loose_number};
use crate::cloudformation::CfnResource;
use crate::value::Val;
use serde_json::{json, Value};
use vigil_model::{Association, Resource};

/// Maps the RDS resource types this module handles; `None` for others.
pub(super) fn map(r: &CfnResource, ix: &Index<'_>) -> Option<Resource> {
    match r.resource_type.as_str() {
        "AWS::RDS::DBInstance" => Some(db_instance(r, ix)),
        _ => None,
    }
}

/// Properties that create the instance from another database.
const SOURCES: &[&str] = &[
    "SourceDBInstanceIdentifier",
    "DBSnapshotIdentifier",
    "DBClusterSnapshotIdentifier",
    "SourceDbiResourceId",
    "SourceDBClusterIdentifier",
];

fn db_instance(c: &CfnResource, ix: &Index<'_>) -> Resource {
    let mut r = new_resource(
        c,
        "RDS",
        "aws.rds.db_instance",
        Some("DBInstanceIdentifier"),
    );
    let p = &c.props;
    let prop = |k: &str| p.get(k).filter(|v| !v.is_null());
    // Why an omitted property is not known: inherited from a source
    // database, or managed by the Aurora cluster.
    let elsewhere = SOURCES
        .iter()
        .find(|k| prop(k).is_some())
        .map(|k| format!("inherited from the source database ({k})"))
        .or_else(|| prop("DBClusterIdentifier").map(|_| "managed by the DB cluster".to_string()));
    let not_known = |r: &mut Resource, key: &str, why: &str| {
        r.attributes.remove(key);
        r.uncollected
            .insert(key.into(), format!("value not known at build time: {why}"));
    };
    // Sets `key` from `v`, else (omitted) from what the source or cluster
    // gives, else `default` (`None`: not known, for `why`).
    let with_default =
        |r: &mut Resource, key: &str, v: Option<Val>, default: Option<Value>, why: &str| match (
            v, &elsewhere, default,
        ) {
            (Some(v), _, _) => set(r, key, Some(&v), None),
            (None, Some(e), _) => not_known(r, key, e),
            (None, None, Some(d)) => set(r, key, None, Some(d)),
            (None, None, None) => not_known(r, key, why),
        };

    let engine = prop("Engine").map(engine_name);
    with_default(&mut r, "engine", engine.clone(), None, "Engine not set");
    set(&mut r, "engine_version", prop("EngineVersion"), None);
    set(&mut r, "instance_class", prop("DBInstanceClass"), None);
    let engine_port = engine
        .as_ref()
        .and_then(Val::as_str)
        .and_then(default_port)
        .map(Value::from);
    let port = prop("Port").map(loose_number);
    if port.is_none() && engine_port.is_some() && elsewhere.is_none() {
        set(&mut r, "port", None, engine_port);
    } else {
        with_default(&mut r, "port", port, None, "the engine's default port");
    }

    // Omitted, it depends on whether the subnets route to an internet gateway.
    with_default(
        &mut r,
        "publicly_accessible",
        prop("PubliclyAccessible").map(loose_bool),
        None,
        "PubliclyAccessible not set: the default depends on the DB subnet group's (or the default VPC's) subnets",
    );
    set(
        &mut r,
        "auto_minor_version_upgrade",
        prop("AutoMinorVersionUpgrade").map(loose_bool).as_ref(),
        Some(json!(true)),
    );
    for (key, name, default) in [
        ("storage_encrypted", "StorageEncrypted", json!(false)),
        ("backup_retention_period", "BackupRetentionPeriod", json!(1)),
        ("multi_az", "MultiAZ", json!(false)),
    ] {
        let v = prop(name).map(|v| match key {
            "backup_retention_period" => loose_number(v),
            _ => loose_bool(v),
        });
        with_default(&mut r, key, v, Some(default), "");
    }
    security_groups(&mut r, prop("VPCSecurityGroups"), ix);
    r
}

/// Associations to the security groups of `VPCSecurityGroups`: a group of
/// the template by its logical id (its id in Vigil), a literal id as is.
fn security_groups(r: &mut Resource, ids: Option<&Val>, ix: &Index<'_>) {
    let Some(Val::List(ids)) = ids else { return };
    for v in ids {
        let id = match v {
            Val::String(id) => Some(id.clone()),
            Val::Unknown(_) => ix
                .of_type("AWS::EC2::SecurityGroup")
                .iter()
                .find(|g| refers_to(v, g, &[]))
                .map(|g| g.logical_id.clone()),
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
            crate::cloudformation::cloudformation_resources(&[("t.yaml".into(), text.into())]);
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
    fn omitted_properties_take_cloudformation_defaults() {
        let d = db(r#"
Resources:
  Orders:
    Type: AWS::RDS::DBInstance
    Properties:
      DBInstanceIdentifier: orders
      Engine: MySQL
      DBInstanceClass: db.t3.micro
"#);
        assert_eq!(d.name, "orders");
        assert_eq!(d.service, "RDS");
        let a = &d.attributes;
        assert_eq!(a["engine"], json!("mysql"));
        assert_eq!(a["port"], json!(3306));
        assert_eq!(a["storage_encrypted"], json!(false));
        assert_eq!(a["auto_minor_version_upgrade"], json!(true));
        assert_eq!(a["multi_az"], json!(false));
        assert_eq!(a["backup_retention_period"], json!(1));
        // Unlike Terraform, an omitted PubliclyAccessible is not known.
        assert!(!a.contains_key("publicly_accessible"));
        assert!(d.uncollected["publicly_accessible"].contains("subnets"));
    }

    #[test]
    fn given_properties_win_strings_included() {
        let d = db(r#"
Resources:
  Db:
    Type: AWS::RDS::DBInstance
    Properties:
      Engine: postgres
      Port: "5433"
      PubliclyAccessible: "false"
      StorageEncrypted: true
      AutoMinorVersionUpgrade: false
      MultiAZ: true
      BackupRetentionPeriod: "14"
"#);
        let a = &d.attributes;
        assert_eq!(a["port"], json!(5433));
        assert_eq!(a["publicly_accessible"], json!(false));
        assert_eq!(a["storage_encrypted"], json!(true));
        assert_eq!(a["auto_minor_version_upgrade"], json!(false));
        assert_eq!(a["multi_az"], json!(true));
        assert_eq!(a["backup_retention_period"], json!(14));
    }

    #[test]
    fn replicas_and_cluster_members_do_not_guess_what_they_omit() {
        let replica = db(r#"
Resources:
  Replica:
    Type: AWS::RDS::DBInstance
    Properties:
      SourceDBInstanceIdentifier: orders
      DBInstanceClass: db.t3.micro
      PubliclyAccessible: false
"#);
        for key in [
            "engine",
            "port",
            "storage_encrypted",
            "backup_retention_period",
        ] {
            assert!(!replica.attributes.contains_key(key), "{key}");
            assert!(replica.uncollected[key].contains("SourceDBInstanceIdentifier"));
        }
        assert_eq!(replica.attributes["publicly_accessible"], json!(false));

        let member = db(r#"
Resources:
  Member:
    Type: AWS::RDS::DBInstance
    Properties:
      DBClusterIdentifier: !Ref Cluster
      Engine: aurora-postgresql
      DBInstanceClass: db.r6g.large
  Cluster:
    Type: AWS::RDS::DBCluster
    Properties:
      Engine: aurora-postgresql
"#);
        assert_eq!(member.attributes["engine"], json!("aurora-postgresql"));
        for key in ["port", "storage_encrypted", "backup_retention_period"] {
            assert!(
                member.uncollected[key].contains("managed by the DB cluster"),
                "{key}"
            );
        }
    }

    #[test]
    fn security_groups_are_associated_by_logical_id_or_literal_id() {
        let d = db(r#"
Resources:
  DbSg:
    Type: AWS::EC2::SecurityGroup
    Properties:
      GroupDescription: db
  Db:
    Type: AWS::RDS::DBInstance
    Properties:
      Engine: postgres
      VPCSecurityGroups:
        - !GetAtt DbSg.GroupId
        - !Ref DbSg
        - sg-0123
"#);
        let ids: Vec<&str> = d.associations.iter().map(|a| a.id.as_str()).collect();
        assert_eq!(ids, ["DbSg", "DbSg", "sg-0123"]);
    }
}
