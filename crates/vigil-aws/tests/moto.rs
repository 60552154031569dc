//! Every shipped AWS control judged on a live (emulated) account: the tests
//! seed a moto server with a PASS and a FAIL case of each control through the
//! AWS SDK, scan it with `vigil_aws::collect` (assuming a role into an account
//! of their own, as a cross-account scan does), and evaluate the catalogue.
//!
//! `VIGIL_TEST_MOTO_URL` names the server (`scripts/test` starts one); without
//! it these tests say so and pass.

use std::collections::HashMap;
use vigil_engine::Catalog;
use vigil_model::{EvalResult, Resource};

mod common;
use common::{account_of, moto, options, regional, s3};

/// The results of a scan, by (resource name, CID), evaluated at `now`.
fn judge(
    resources: &[Resource],
    now: chrono::DateTime<chrono::Utc>,
) -> HashMap<(String, u32), EvalResult> {
    let engine = Catalog::builtin().unwrap().compile(now).unwrap();
    engine
        .evaluate(resources, &|_| {})
        .into_iter()
        .map(|e| ((resources[e.resource].name.clone(), e.cid), e.result))
        .collect()
}

fn expect(results: &HashMap<(String, u32), EvalResult>, cases: &[(&str, u32, EvalResult)]) {
    let mut wrong = Vec::new();
    for (name, cid, want) in cases {
        let got = results.get(&(name.to_string(), *cid));
        if got != Some(want) {
            wrong.push(format!("CID {cid} on {name}: expected {want}, got {got:?}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

use EvalResult::{Fail, Pass};

fn versioning(
    status: aws_sdk_s3::types::BucketVersioningStatus,
) -> aws_sdk_s3::types::VersioningConfiguration {
    aws_sdk_s3::types::VersioningConfiguration::builder()
        .status(status)
        .build()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_controls_pass_and_fail_on_moto_in_two_regions() {
    let Some(url) = moto() else { return };
    let opts = options(&url);
    let sdk = vigil_aws::sdk_config(&opts).await.unwrap();
    let home = s3(&sdk, "us-east-1");
    let eu = s3(&sdk, "eu-west-1");
    // Bucket names are global, in moto as in S3: suffix them with the account.
    let account = account_of(&opts);
    let b = |n: &str| format!("{n}-{account}");
    let (good_us, good_eu, public_read, authenticated_read, suspended) = (
        b("good-us"),
        b("good-eu"),
        b("public-read"),
        b("authenticated-read"),
        b("suspended"),
    );
    let all_blocked = aws_sdk_s3::types::PublicAccessBlockConfiguration::builder()
        .block_public_acls(true)
        .ignore_public_acls(true)
        .block_public_policy(true)
        .restrict_public_buckets(true)
        .build();
    for (client, name) in [(&home, good_us.as_str()), (&eu, good_eu.as_str())] {
        let mut create = client.create_bucket().bucket(name);
        if name == good_eu {
            create = create.create_bucket_configuration(
                aws_sdk_s3::types::CreateBucketConfiguration::builder()
                    .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::EuWest1)
                    .build(),
            );
        }
        create.send().await.unwrap();
        client
            .put_bucket_versioning()
            .bucket(name)
            .versioning_configuration(versioning(
                aws_sdk_s3::types::BucketVersioningStatus::Enabled,
            ))
            .send()
            .await
            .unwrap();
        client
            .put_public_access_block()
            .bucket(name)
            .public_access_block_configuration(all_blocked.clone())
            .send()
            .await
            .unwrap();
    }
    home.create_bucket()
        .bucket(&public_read)
        .acl(aws_sdk_s3::types::BucketCannedAcl::PublicRead)
        .send()
        .await
        .unwrap();
    home.create_bucket()
        .bucket(&authenticated_read)
        .acl(aws_sdk_s3::types::BucketCannedAcl::AuthenticatedRead)
        .send()
        .await
        .unwrap();
    home.create_bucket()
        .bucket(&suspended)
        .send()
        .await
        .unwrap();
    home.put_bucket_versioning()
        .bucket(&suspended)
        .versioning_configuration(versioning(
            aws_sdk_s3::types::BucketVersioningStatus::Suspended,
        ))
        .send()
        .await
        .unwrap();

    let scan = vigil_aws::collect(&opts, &|_| {}).await.unwrap();
    assert!(scan.errors.is_empty(), "{:?}", scan.errors);
    let eu_bucket = scan.resources.iter().find(|r| r.name == good_eu).unwrap();
    assert_eq!(eu_bucket.region, "eu-west-1");
    let results = judge(&scan.resources, chrono::Utc::now());
    expect(
        &results,
        &[
            (&good_us, 45, Pass),
            (&good_us, 48, Pass),
            (&good_us, 60, Pass),
            (&good_eu, 45, Pass),
            (&good_eu, 48, Pass),
            (&good_eu, 60, Pass),
            (&public_read, 45, Fail),
            (&authenticated_read, 45, Fail),
            (&suspended, 48, Fail),
            // No bucket-level Block Public Access configuration at all.
            (&suspended, 60, Fail),
        ],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_versioning_reply_of_moto_is_read_through_the_interceptor() {
    let Some(url) = moto() else { return };
    let opts = options(&url);
    let sdk = vigil_aws::sdk_config(&opts).await.unwrap();
    let client = s3(&sdk, "us-east-1");
    let name = format!("versioned-{}", account_of(&opts));
    client.create_bucket().bucket(&name).send().await.unwrap();
    client
        .put_bucket_versioning()
        .bucket(&name)
        .versioning_configuration(versioning(
            aws_sdk_s3::types::BucketVersioningStatus::Enabled,
        ))
        .send()
        .await
        .unwrap();
    let plain = client.get_bucket_versioning().bucket(&name).send().await;
    let scan = vigil_aws::collect(&opts, &|_| {}).await.unwrap();
    let bucket = scan.resources.iter().find(|r| r.name == name).unwrap();
    assert_eq!(
        bucket.attributes["versioning"]["status"], "Enabled",
        "the plain SDK call gave {plain:?}"
    );
    assert!(bucket.uncollected.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn iam_controls_pass_and_fail_on_moto() {
    let Some(url) = moto() else { return };
    let opts = options(&url);
    let sdk = vigil_aws::sdk_config(&opts).await.unwrap();
    let iam = aws_sdk_iam::Client::new(&sdk);
    for u in [
        "mfa-user",
        "no-mfa-user",
        "one-key",
        "two-keys",
        "direct-policy",
        "inline-policy",
    ] {
        iam.create_user().user_name(u).send().await.unwrap();
    }
    for u in ["mfa-user", "no-mfa-user"] {
        iam.create_login_profile()
            .user_name(u)
            .password("Correct-Horse-9!")
            .send()
            .await
            .unwrap();
    }
    let device = iam
        .create_virtual_mfa_device()
        .virtual_mfa_device_name("mfa-user-device")
        .send()
        .await
        .unwrap();
    let serial = device
        .virtual_mfa_device()
        .map(|d| d.serial_number().to_string())
        .unwrap();
    iam.enable_mfa_device()
        .user_name("mfa-user")
        .serial_number(serial)
        .authentication_code1("123456")
        .authentication_code2("654321")
        .send()
        .await
        .unwrap();
    iam.create_access_key()
        .user_name("one-key")
        .send()
        .await
        .unwrap();
    iam.create_access_key()
        .user_name("two-keys")
        .send()
        .await
        .unwrap();
    iam.create_access_key()
        .user_name("two-keys")
        .send()
        .await
        .unwrap();
    let document = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#;
    let policy = iam
        .create_policy()
        .policy_name("read-objects")
        .policy_document(document)
        .send()
        .await
        .unwrap();
    iam.attach_user_policy()
        .user_name("direct-policy")
        .policy_arn(policy.policy().and_then(|p| p.arn()).unwrap())
        .send()
        .await
        .unwrap();
    iam.put_user_policy()
        .user_name("inline-policy")
        .policy_name("inline")
        .policy_document(document)
        .send()
        .await
        .unwrap();
    iam.update_account_password_policy()
        .minimum_password_length(14)
        .password_reuse_prevention(24)
        .send()
        .await
        .unwrap();

    let scan = vigil_aws::collect(&opts, &|_| {}).await.unwrap();
    assert!(scan.errors.is_empty(), "{:?}", scan.errors);
    let now = chrono::Utc::now();
    let results = judge(&scan.resources, now);
    expect(
        &results,
        &[
            ("mfa-user", 1, Pass),
            ("no-mfa-user", 1, Fail),
            ("one-key", 1, Pass), // no console password
            ("mfa-user", 2, Pass),
            ("one-key", 3, Pass),
            ("one-key", 4, Pass),
            ("two-keys", 5, Pass),
            ("mfa-user", 17, Pass),
            ("direct-policy", 17, Fail),
            ("inline-policy", 17, Fail),
            ("account-password-policy", 11, Pass),
            ("account-password-policy", 12, Pass),
        ],
    );
    // moto cannot backdate keys or sign-ins: judge the same account as it will
    // stand 100 days from now, when the keys and the unused password have aged.
    let later = judge(&scan.resources, now + chrono::Duration::days(100));
    expect(
        &later,
        &[
            ("no-mfa-user", 2, Fail),
            ("one-key", 3, Fail),
            ("one-key", 4, Fail),
            ("two-keys", 4, Fail),
            ("two-keys", 5, Fail),
        ],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_without_a_password_policy_fails_the_policy_controls() {
    let Some(url) = moto() else { return };
    let opts = options(&url);
    let scan = vigil_aws::collect(&opts, &|_| {}).await.unwrap();
    let results = judge(&scan.resources, chrono::Utc::now());
    expect(
        &results,
        &[
            ("account-password-policy", 11, Fail),
            ("account-password-policy", 12, Fail),
        ],
    );
    let policy = scan
        .resources
        .iter()
        .find(|r| r.resource_type == "aws.iam.password_policy")
        .unwrap();
    assert_eq!(policy.attributes["exists"], false);
    let role = opts.role_arn.unwrap_or_default();
    assert!(
        role.contains(&format!(":{}:", scan.account)),
        "the scan ran in the assumed role's account ({}), not {role}",
        scan.account
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn security_group_controls_pass_and_fail_on_moto_in_two_regions() {
    let Some(url) = moto() else { return };
    let opts = options(&url);
    let sdk = vigil_aws::sdk_config(&opts).await.unwrap();
    for region in ["us-east-1", "eu-west-1"] {
        let ec2 = aws_sdk_ec2::Client::new(&regional(&sdk, region));
        let rule = |port: i32, v4: Option<&str>, v6: Option<&str>| {
            let mut p = aws_sdk_ec2::types::IpPermission::builder()
                .ip_protocol("tcp")
                .from_port(port)
                .to_port(port);
            if let Some(c) = v4 {
                p = p.ip_ranges(aws_sdk_ec2::types::IpRange::builder().cidr_ip(c).build());
            }
            if let Some(c) = v6 {
                p = p.ipv6_ranges(
                    aws_sdk_ec2::types::Ipv6Range::builder()
                        .cidr_ipv6(c)
                        .build(),
                );
            }
            p.build()
        };
        for (name, perm) in [
            (
                format!("ssh-world-{region}"),
                rule(22, Some("0.0.0.0/0"), None),
            ),
            (
                format!("rdp-world-{region}"),
                rule(3389, None, Some("::/0")),
            ),
            (
                format!("internal-{region}"),
                rule(22, Some("10.0.0.0/8"), None),
            ),
        ] {
            let g = ec2
                .create_security_group()
                .group_name(&name)
                .description("vigil test")
                .send()
                .await
                .unwrap();
            ec2.authorize_security_group_ingress()
                .group_id(g.group_id().unwrap())
                .ip_permissions(perm)
                .send()
                .await
                .unwrap();
        }
    }
    let scan = vigil_aws::collect(&opts, &|_| {}).await.unwrap();
    assert!(scan.errors.is_empty(), "{:?}", scan.errors);
    let results = judge(&scan.resources, chrono::Utc::now());
    for region in ["us-east-1", "eu-west-1"] {
        let (ssh, rdp, internal) = (
            format!("ssh-world-{region}"),
            format!("rdp-world-{region}"),
            format!("internal-{region}"),
        );
        expect(
            &results,
            &[
                (&ssh, 41, Fail),
                (&ssh, 42, Pass),
                (&rdp, 41, Pass),
                (&rdp, 42, Fail),
                (&internal, 41, Pass),
                (&internal, 42, Pass),
            ],
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rds_controls_pass_and_fail_on_moto() {
    let Some(url) = moto() else { return };
    let opts = options(&url);
    let sdk = vigil_aws::sdk_config(&opts).await.unwrap();
    let rds = aws_sdk_rds::Client::new(&regional(&sdk, "us-east-1"));
    let create = |id: &'static str, public: bool, encrypted: bool, minor: bool, port: i32| {
        rds.create_db_instance()
            .db_instance_identifier(id)
            .db_instance_class("db.t3.micro")
            .engine("postgres")
            .master_username("vigil")
            .master_user_password("not-a-real-password")
            .allocated_storage(20)
            .publicly_accessible(public)
            .storage_encrypted(encrypted)
            .auto_minor_version_upgrade(minor)
            .port(port)
            .send()
    };
    create("hardened", false, true, true, 6432).await.unwrap();
    create("exposed", true, false, false, 5432).await.unwrap();
    for (db, snap) in [("hardened", "hardened-snap"), ("exposed", "exposed-snap")] {
        rds.create_db_snapshot()
            .db_instance_identifier(db)
            .db_snapshot_identifier(snap)
            .send()
            .await
            .unwrap();
    }
    rds.modify_db_snapshot_attribute()
        .db_snapshot_identifier("exposed-snap")
        .attribute_name("restore")
        .values_to_add("all")
        .send()
        .await
        .unwrap();

    let scan = vigil_aws::collect(&opts, &|_| {}).await.unwrap();
    assert!(scan.errors.is_empty(), "{:?}", scan.errors);
    let results = judge(&scan.resources, chrono::Utc::now());
    expect(
        &results,
        &[
            ("hardened", 51, Pass),
            ("exposed", 51, Fail),
            ("hardened", 53, Pass),
            ("exposed", 53, Fail),
            ("hardened", 55, Pass),
            ("exposed", 55, Fail),
            ("hardened", 56, Pass),
            ("exposed", 56, Fail),
            ("hardened-snap", 52, Pass),
            ("exposed-snap", 52, Fail),
            ("hardened-snap", 54, Pass),
            ("exposed-snap", 54, Fail),
        ],
    );
}
