//! The public API end to end: Terraform text → normalized resources → the
//! catalogue's verdicts.

use super::*;
use crate::aws::ALL_USERS;
use serde_json::json;
use std::collections::HashMap;
use vigil_engine::Catalog;
use vigil_model::EvalResult::{self, Fail, Pass, Skip};
use vigil_model::{Origin, Provider};

fn parse(text: &str) -> Vec<Resource> {
    let (resources, errors) =
        terraform_resources(&[("main.tf".into(), text.into())], &Default::default());
    assert!(errors.is_empty(), "{errors:?}");
    resources
}

fn find<'a>(rs: &'a [Resource], id: &str) -> &'a Resource {
    rs.iter().find(|r| r.id == id).expect(id)
}

const GOOD_AND_BAD: &str = r#"
resource "aws_s3_bucket" "good" {
  bucket = "good-bucket"
  tags = { env = "prod" }
}

resource "aws_s3_bucket_versioning" "good" {
  bucket = aws_s3_bucket.good.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_public_access_block" "good" {
  bucket                  = aws_s3_bucket.good.bucket
  block_public_acls       = true
  ignore_public_acls      = true
  block_public_policy     = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket" "bad" {
  bucket = "bad-bucket"
}

resource "aws_s3_bucket_acl" "bad" {
  bucket = aws_s3_bucket.bad.id
  acl    = "public-read"
}

resource "aws_s3_bucket_public_access_block" "bad" {
  bucket            = "bad-bucket"
  block_public_acls = true
}

resource "aws_security_group" "good" {
  name = "good-sg"
  ingress {
    from_port   = 443
    to_port     = 443
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }
}

resource "aws_security_group" "bad" {
  name = "bad-sg"
  ingress {
    from_port   = 22
    to_port     = 22
    protocol    = "tcp"
    cidr_blocks = ["10.0.0.0/8"]
  }
}

resource "aws_security_group_rule" "ssh" {
  type              = "ingress"
  security_group_id = aws_security_group.bad.id
  from_port         = 22
  to_port           = 22
  protocol          = "6"
  cidr_blocks       = ["0.0.0.0/0"]
}

resource "aws_vpc_security_group_ingress_rule" "all" {
  security_group_id = aws_security_group.bad.id
  ip_protocol       = "-1"
  cidr_ipv6         = "::/0"
}

resource "aws_db_instance" "good" {
  identifier          = "good-db"
  engine              = "postgres"
  instance_class      = "db.t3.micro"
  storage_encrypted   = true
}

resource "aws_db_instance" "bad" {
  identifier                 = "bad-db"
  engine                     = "mysql"
  publicly_accessible        = true
  auto_minor_version_upgrade = false
  port                       = 3307
  multi_az                   = true
  backup_retention_period    = 7
}

resource "aws_ebs_volume" "data" {
  availability_zone = "eu-west-1a"
  size              = 40
  encrypted         = true
}
"#;

#[test]
fn buckets_fold_versioning_public_access_block_and_acl() {
    let rs = parse(GOOD_AND_BAD);
    let good = find(&rs, "aws_s3_bucket.good");
    assert_eq!(good.name, "good-bucket");
    assert_eq!(good.resource_type, "aws.s3.bucket");
    assert_eq!(good.service, "S3");
    assert_eq!(good.provider, Provider::Aws);
    assert_eq!(good.account, "");
    assert_eq!(good.tags.get("env").map(String::as_str), Some("prod"));
    assert_eq!(
        good.origin,
        Origin::Iac {
            file: "main.tf".into(),
            line: 2,
            end_line: 5
        }
    );
    assert_eq!(
        good.attributes["versioning"],
        json!({"status": "Enabled", "mfa_delete": ""})
    );
    assert_eq!(
        good.attributes["public_access_block"],
        json!({"block_public_acls": true, "ignore_public_acls": true,
               "block_public_policy": true, "restrict_public_buckets": true})
    );
    assert_eq!(
        good.attributes["acl_grants"],
        json!([{"grantee_type": "CanonicalUser", "grantee_uri": "", "grantee_id": "",
                "permission": "FULL_CONTROL"}])
    );

    let bad = find(&rs, "aws_s3_bucket.bad");
    assert_eq!(
        bad.attributes["versioning"],
        json!({"status": "", "mfa_delete": ""})
    );
    // Folded through the literal bucket name; omitted flags default to false.
    assert_eq!(
        bad.attributes["public_access_block"],
        json!({"block_public_acls": true, "ignore_public_acls": false,
               "block_public_policy": false, "restrict_public_buckets": false})
    );
    assert_eq!(
        bad.attributes["acl_grants"][1],
        json!({"grantee_type": "Group", "grantee_uri": ALL_USERS, "grantee_id": "",
               "permission": "READ"})
    );
    // The folded resources are not resources of their own.
    assert_eq!(rs.len(), 7);
}

#[test]
fn security_groups_fold_inline_and_separate_rules() {
    let rs = parse(GOOD_AND_BAD);
    let good = find(&rs, "aws_security_group.good");
    assert_eq!(good.name, "good-sg");
    assert_eq!(good.resource_type, "aws.ec2.security_group");
    assert_eq!(
        good.attributes["description"],
        json!("Managed by Terraform")
    );
    assert_eq!(
        good.attributes["ip_permissions"],
        json!([{"ip_protocol": "tcp", "from_port": 443, "to_port": 443,
                "ip_ranges": ["0.0.0.0/0"], "ipv6_ranges": [], "referenced_groups": []}])
    );
    assert_eq!(good.attributes["ip_permissions_egress"], json!([]));
    assert!(good.uncollected.contains_key("group_id"));

    let bad = find(&rs, "aws_security_group.bad");
    assert_eq!(
        bad.attributes["ip_permissions"],
        json!([
            {"ip_protocol": "tcp", "from_port": 22, "to_port": 22,
             "ip_ranges": ["10.0.0.0/8"], "ipv6_ranges": [], "referenced_groups": []},
            {"ip_protocol": "tcp", "from_port": 22, "to_port": 22,
             "ip_ranges": ["0.0.0.0/0"], "ipv6_ranges": [], "referenced_groups": []},
            {"ip_protocol": "-1", "from_port": 0, "to_port": 65535,
             "ip_ranges": [], "ipv6_ranges": ["::/0"], "referenced_groups": []},
        ])
    );
}

#[test]
fn db_instances_take_terraform_defaults() {
    let rs = parse(GOOD_AND_BAD);
    let good = find(&rs, "aws_db_instance.good");
    assert_eq!(good.name, "good-db");
    assert_eq!(good.resource_type, "aws.rds.db_instance");
    let a = &good.attributes;
    assert_eq!(a["engine"], json!("postgres"));
    assert_eq!(a["port"], json!(5432));
    assert_eq!(a["publicly_accessible"], json!(false));
    assert_eq!(a["storage_encrypted"], json!(true));
    assert_eq!(a["auto_minor_version_upgrade"], json!(true));
    assert_eq!(a["multi_az"], json!(false));
    assert_eq!(a["backup_retention_period"], json!(1));

    let bad = &find(&rs, "aws_db_instance.bad").attributes;
    assert_eq!(bad["port"], json!(3307));
    assert_eq!(bad["publicly_accessible"], json!(true));
    assert_eq!(bad["storage_encrypted"], json!(false));
    assert_eq!(bad["auto_minor_version_upgrade"], json!(false));
    assert_eq!(bad["multi_az"], json!(true));
    assert_eq!(bad["backup_retention_period"], json!(7));
}

#[test]
fn ebs_volumes_report_encryption() {
    let rs = parse(GOOD_AND_BAD);
    let v = find(&rs, "aws_ebs_volume.data");
    assert_eq!(v.resource_type, "aws.ec2.volume");
    assert_eq!(v.name, "aws_ebs_volume.data");
    assert_eq!(v.attributes["encrypted"], json!(true));
    assert_eq!(v.attributes["size"], json!(40));
    let plain = parse("resource \"aws_ebs_volume\" \"p\" {\n  size = 8\n}\n");
    assert_eq!(plain[0].attributes["encrypted"], json!(false));
}

#[test]
fn unknown_values_are_uncollected_not_guessed() {
    let rs = parse(
        r#"
variable "name" {}
variable "bucket" {}
variable "encrypted" {}
variable "flags" {}
variable "cidrs" {}
resource "aws_kms_key" "k" {}
resource "aws_s3_bucket" "b" {
  bucket = var.name
}
resource "aws_s3_bucket_versioning" "v" {
  bucket = var.bucket
  versioning_configuration {
    status = "Enabled"
  }
}
resource "aws_db_instance" "d" {
  engine            = "mysql"
  storage_encrypted = var.encrypted
  publicly_accessible = lookup(var.flags, "public", false)
}
resource "aws_ebs_volume" "e" {
  encrypted = aws_kms_key.k.enabled
}
resource "aws_security_group" "s" {
  ingress {
    from_port   = 22
    to_port     = 22
    protocol    = "tcp"
    cidr_blocks = var.cidrs
  }
}
"#,
    );
    let b = find(&rs, "aws_s3_bucket.b");
    assert_eq!(b.name, "aws_s3_bucket.b");
    // The unknown name is no attribute: the collector reports none.
    assert!(!b.attributes.contains_key("bucket") && !b.uncollected.contains_key("bucket"));
    // A versioning resource for an unknown bucket may be this one's.
    assert!(!b.attributes.contains_key("versioning"));
    assert!(b.uncollected["versioning"].starts_with("value not known at build time: var.bucket"));
    let d = find(&rs, "aws_db_instance.d");
    assert!(!d.attributes.contains_key("storage_encrypted"));
    assert_eq!(
        d.uncollected["storage_encrypted"],
        "value not known at build time: var.encrypted"
    );
    assert!(d.uncollected["publicly_accessible"].contains("lookup("));
    assert_eq!(d.attributes["port"], json!(3306));
    let e = find(&rs, "aws_ebs_volume.e");
    assert_eq!(
        e.uncollected["encrypted"],
        "value not known at build time: aws_kms_key.k.enabled"
    );
    let s = find(&rs, "aws_security_group.s");
    assert!(!s.attributes.contains_key("ip_permissions"));
    assert_eq!(
        s.uncollected["ip_permissions"],
        "value not known at build time: var.cidrs"
    );
}

fn parse_files(files: &[(&str, &str)]) -> Vec<Resource> {
    let files: Vec<(String, String)> = files
        .iter()
        .map(|(f, t)| (f.to_string(), t.to_string()))
        .collect();
    let (resources, errors) = terraform_resources(&files, &Default::default());
    assert!(errors.is_empty(), "{errors:?}");
    resources
}

#[test]
fn variable_defaults_resolve_across_files() {
    let rs = parse_files(&[
        (
            "variables.tf",
            r#"
variable "versioning_status" {
  type    = string
  default = "Enabled"
}
variable "bucket_name" {
  default = "logs-bucket"
}
"#,
        ),
        (
            "main.tf",
            r#"
resource "aws_s3_bucket" "logs" {
  bucket = var.bucket_name
}
resource "aws_s3_bucket_versioning" "logs" {
  bucket = aws_s3_bucket.logs.id
  versioning_configuration {
    status = var.versioning_status
  }
}
"#,
        ),
    ]);
    let b = find(&rs, "aws_s3_bucket.logs");
    assert_eq!(b.name, "logs-bucket");
    assert_eq!(b.attributes["versioning"]["status"], json!("Enabled"));
    assert!(!b.uncollected.contains_key("versioning"), "{b:?}");
}

#[test]
fn locals_resolve_to_literals_and_variable_defaults() {
    let rs = parse(
        r#"
variable "encrypt" {
  default = true
}
variable "ha" {
  type = bool
}
locals {
  encrypted = var.encrypt
  public    = false
  chained   = local.public
  ha        = var.ha
}
resource "aws_db_instance" "d" {
  engine              = "postgres"
  storage_encrypted   = local.encrypted
  publicly_accessible = local.chained
  multi_az            = local.ha
}
"#,
    );
    let d = find(&rs, "aws_db_instance.d");
    assert_eq!(d.attributes["storage_encrypted"], json!(true));
    assert_eq!(d.attributes["publicly_accessible"], json!(false));
    assert!(!d.uncollected.contains_key("storage_encrypted"));
    // A local bound to a variable without a value is not known either.
    assert!(!d.attributes.contains_key("multi_az"));
    assert!(d.uncollected["multi_az"].starts_with("value not known at build time: "));
}

#[test]
fn a_variable_without_a_default_stays_unknown() {
    let rs = parse(
        r#"
variable "encrypted" {
  type = bool
}
resource "aws_db_instance" "d" {
  engine            = "mysql"
  storage_encrypted = var.encrypted
}
"#,
    );
    let d = find(&rs, "aws_db_instance.d");
    assert!(!d.attributes.contains_key("storage_encrypted"));
    assert_eq!(
        d.uncollected["storage_encrypted"],
        "value not known at build time: var.encrypted"
    );
}

#[test]
fn templates_of_known_values_resolve_others_do_not() {
    let rs = parse(
        r#"
variable "name" {
  default = "app-sg"
}
variable "encrypted" {
  default = true
}
variable "key" {}
locals {
  volume_type = "gp3"
}
resource "aws_security_group" "s" {
  name        = "${var.name}"
  description = "sg for ${var.name}"
}
resource "aws_ebs_volume" "e" {
  encrypted  = "${var.encrypted}"
  type       = "${local.volume_type}"
  kms_key_id = "${var.key}"
}
"#,
    );
    let s = find(&rs, "aws_security_group.s");
    assert_eq!(s.name, "app-sg");
    assert_eq!(s.attributes["description"], json!("sg for app-sg"));
    let e = find(&rs, "aws_ebs_volume.e");
    assert_eq!(e.attributes["encrypted"], json!(true));
    assert_eq!(e.attributes["volume_type"], json!("gp3"));
    assert!(e.uncollected["kms_key_id"].contains("var.key"));
}

#[test]
fn a_broken_file_is_reported_and_the_others_go_on() {
    let files = vec![
        (
            "broken.tf".to_string(),
            "resource \"aws_s3_bucket\" \"x\" {\n  bucket = \"a\"\n  acl = = \n}\n".to_string(),
        ),
        (
            "ok.tf".to_string(),
            "\n\nresource \"aws_ebs_volume\" \"v\" {\n  encrypted = true\n}\n".to_string(),
        ),
    ];
    let (rs, errors) = terraform_resources(&files, &Default::default());
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].file, "broken.tf");
    assert_eq!(errors[0].line, 3);
    assert!(!errors[0].message.is_empty());
    assert_eq!(rs.len(), 1);
    assert_eq!(
        rs[0].origin,
        Origin::Iac {
            file: "ok.tf".into(),
            line: 3,
            end_line: 5
        }
    );
}

#[test]
fn the_catalogue_judges_terraform_as_it_judges_aws() {
    let rs = parse(GOOD_AND_BAD);
    let now = chrono_now();
    let engine = Catalog::builtin().unwrap().compile(now).unwrap();
    let results: HashMap<(String, u32), EvalResult> = engine
        .evaluate(&rs, &|_| {})
        .into_iter()
        .map(|e| ((rs[e.resource].id.clone(), e.cid), e.result))
        .collect();
    let cases = [
        ("aws_s3_bucket.good", 45, Pass),
        ("aws_s3_bucket.bad", 45, Fail),
        ("aws_s3_bucket.good", 48, Pass),
        ("aws_s3_bucket.bad", 48, Fail),
        ("aws_s3_bucket.good", 60, Pass),
        ("aws_s3_bucket.bad", 60, Fail),
        ("aws_security_group.good", 41, Pass),
        ("aws_security_group.bad", 41, Fail),
        ("aws_security_group.good", 42, Pass),
        ("aws_security_group.bad", 42, Fail),
        ("aws_db_instance.good", 51, Pass),
        ("aws_db_instance.bad", 51, Fail),
        ("aws_db_instance.good", 53, Pass),
        ("aws_db_instance.bad", 53, Fail),
        ("aws_db_instance.good", 55, Pass),
        ("aws_db_instance.bad", 55, Fail),
    ];
    let mut wrong = Vec::new();
    for (id, cid, want) in cases {
        let got = results.get(&(id.to_string(), cid));
        if got != Some(&want) {
            wrong.push(format!("CID {cid} on {id}: expected {want}, got {got:?}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));

    // An unknown value skips the control instead of judging a guess.
    let unknown = parse(
        "variable \"enc\" {}\nresource \"aws_db_instance\" \"u\" {\n  engine = \"mysql\"\n  storage_encrypted = var.enc\n}\n",
    );
    let results = engine.evaluate(&unknown, &|_| {});
    let r53 = results.iter().find(|e| e.cid == 53).map(|e| e.result);
    assert_eq!(r53, Some(Skip));
}

fn chrono_now() -> vigil_model::Timestamp {
    "2026-01-01T00:00:00Z".parse().unwrap()
}

#[test]
fn satellites_fold_only_within_their_own_root_module() {
    // Two configurations scanned together: a rule whose group is unknown in
    // `b/` must not make the group of `a/` unknown, and a versioning
    // resource of `b/` must not configure the same address in `a/`.
    let files = [
        (
            "a/main.tf".to_string(),
            "resource \"aws_security_group\" \"web\" {\n  name = \"web\"\n}\nresource \"aws_s3_bucket\" \"logs\" {\n  bucket = \"a-logs\"\n}\n".to_string(),
        ),
        (
            "b/main.tf".to_string(),
            "variable \"sg\" {}\nresource \"aws_security_group_rule\" \"ssh\" {\n  type = \"ingress\"\n  security_group_id = var.sg\n  from_port = 22\n  to_port = 22\n  protocol = \"tcp\"\n  cidr_blocks = [\"0.0.0.0/0\"]\n}\nresource \"aws_s3_bucket\" \"logs\" {\n  bucket = \"b-logs\"\n}\nresource \"aws_s3_bucket_versioning\" \"logs\" {\n  bucket = aws_s3_bucket.logs.id\n  versioning_configuration {\n    status = \"Enabled\"\n  }\n}\n".to_string(),
        ),
    ];
    let (rs, errors) = terraform_resources(&files, &Default::default());
    assert!(errors.is_empty(), "{errors:?}");
    let web = find(&rs, "aws_security_group.web");
    assert!(
        !web.uncollected.contains_key("ip_permissions"),
        "{:?}",
        web.uncollected
    );
    assert_eq!(web.attributes["ip_permissions"], serde_json::json!([]));
    let logs: Vec<&Resource> = rs.iter().filter(|r| r.id == "aws_s3_bucket.logs").collect();
    assert_eq!(logs.len(), 2);
    let status = |name: &str| {
        logs.iter()
            .find(|r| r.name == name)
            .map(|r| r.attributes["versioning"]["status"].clone())
    };
    assert_eq!(status("b-logs"), Some(serde_json::json!("Enabled")));
    assert_ne!(status("a-logs"), Some(serde_json::json!("Enabled")));
}
