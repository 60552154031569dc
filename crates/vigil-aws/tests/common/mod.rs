//! Helpers the moto test files share: the server's address, a fresh account
//! per test (through an assumed role), and clients for seeding.
#![allow(dead_code)]

use aws_config::SdkConfig;
use std::sync::atomic::{AtomicU32, Ordering};
use vigil_aws::AwsOptions;

static NEXT: AtomicU32 = AtomicU32::new(0);

pub fn moto() -> Option<String> {
    match std::env::var("VIGIL_TEST_MOTO_URL") {
        Ok(url) if !url.is_empty() => {
            // The base credentials moto accepts; each test then assumes a role
            // into an account of its own.
            std::env::set_var("AWS_ACCESS_KEY_ID", "testing");
            std::env::set_var("AWS_SECRET_ACCESS_KEY", "testing");
            std::env::set_var("AWS_REGION", "us-east-1");
            Some(url)
        }
        _ => {
            eprintln!("VIGIL_TEST_MOTO_URL is not set: moto tests skipped (scripts/test sets it)");
            None
        }
    }
}

/// Options for a fresh account of this test run.
pub fn options(url: &str) -> AwsOptions {
    let n = NEXT.fetch_add(1, Ordering::SeqCst) as u64;
    let account = 200_000_000_000u64 + (std::process::id() as u64 % 100_000) * 100 + n;
    AwsOptions {
        endpoint_url: Some(url.to_string()),
        regions: vec!["us-east-1".into(), "eu-west-1".into()],
        role_arn: Some(format!("arn:aws:iam::{account}:role/vigil-test")),
        external_id: Some("vigil-external-id".into()),
        concurrency: 8,
        connector: "moto".into(),
        run: "run-1".into(),
        ..AwsOptions::default()
    }
}

/// The account id of the role `options` assumes.
pub fn account_of(opts: &AwsOptions) -> String {
    opts.role_arn
        .as_deref()
        .and_then(|r| r.split(':').nth(4))
        .unwrap_or_default()
        .to_string()
}

pub fn regional(sdk: &SdkConfig, region: &str) -> SdkConfig {
    sdk.clone()
        .into_builder()
        .region(aws_config::Region::new(region.to_string()))
        .build()
}

pub fn s3(sdk: &SdkConfig, region: &str) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&regional(sdk, region))
            .force_path_style(true)
            .build(),
    )
}

/// A minimal network: a VPC with two subnets in two zones and a security
/// group. Returns (vpc, [subnet a, subnet b], security group).
pub async fn network(sdk: &SdkConfig, cidr: &str) -> (String, [String; 2], String) {
    let ec2 = aws_sdk_ec2::Client::new(sdk);
    let vpc = ec2
        .create_vpc()
        .cidr_block(format!("{cidr}.0.0/16"))
        .send()
        .await
        .unwrap()
        .vpc
        .unwrap()
        .vpc_id
        .unwrap();
    let mut subnets = Vec::new();
    for (i, az) in ["us-east-1a", "us-east-1b"].iter().enumerate() {
        subnets.push(
            ec2.create_subnet()
                .vpc_id(&vpc)
                .cidr_block(format!("{cidr}.{}.0/24", i + 1))
                .availability_zone(*az)
                .send()
                .await
                .unwrap()
                .subnet
                .unwrap()
                .subnet_id
                .unwrap(),
        );
    }
    let sg = ec2
        .create_security_group()
        .group_name("web")
        .description("web")
        .vpc_id(&vpc)
        .send()
        .await
        .unwrap()
        .group_id
        .unwrap();
    (vpc, [subnets[0].clone(), subnets[1].clone()], sg)
}

/// An empty zip archive: moto stores the code without running it.
pub const EMPTY_ZIP: [u8; 22] = [
    0x50, 0x4b, 0x05, 0x06, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
];

/// The text of an optional SDK field, empty when absent.
pub fn id<T: ToString>(v: Option<T>) -> String {
    v.map(|x| x.to_string()).unwrap_or_default()
}

/// Removes every inbound and outbound rule of a security group (e.g. to
/// close a VPC's default group).
pub async fn revoke_all_rules(
    ec2: &aws_sdk_ec2::Client,
    group: &aws_sdk_ec2::types::SecurityGroup,
) {
    let gid = id(group.group_id());
    if !group.ip_permissions().is_empty() {
        ec2.revoke_security_group_ingress()
            .group_id(&gid)
            .set_ip_permissions(Some(group.ip_permissions().to_vec()))
            .send()
            .await
            .unwrap();
    }
    if !group.ip_permissions_egress().is_empty() {
        ec2.revoke_security_group_egress()
            .group_id(&gid)
            .set_ip_permissions(Some(group.ip_permissions_egress().to_vec()))
            .send()
            .await
            .unwrap();
    }
}
