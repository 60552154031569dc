//! The collectors against a real moto server.
//!
//! `scripts/test` starts one and sets `VIGIL_TEST_MOTO_URL`; without it these
//! tests print that they were skipped and pass. For development:
//! `MOTO_EC2_LOAD_DEFAULT_AMIS=false moto_server -p 5077 &` and
//! `VIGIL_TEST_MOTO_URL=http://127.0.0.1:5077 cargo test -p vigil-aws --test collectors`.
//!
//! Each test assumes a role in an account id of its own, so moto keeps its
//! resources apart from every other test's (and from earlier runs against the
//! same server); it seeds that account with the SDK and scans it with
//! `vigil_aws::collect` through the same role.
//!
//! Gaps of moto 5.x found here, each asserted as what the scan records rather
//! than worked around with made-up data:
//! - `ec2:GetEbsDefaultKmsKeyId` is not implemented (HTTP 500): the region's
//!   `aws.ec2.ebs_encryption_default` names the failed call for `kms_key_id`.
//! - The credential report has no `<root_account>` row, so the root user's
//!   last use is uncollected, with that reason.
//! - `AccountMFAEnabled` and `AccountAccessKeysPresent` are always 0.
//! - `lambda:ListFunctionUrlConfigs` is missing (the collector reads the
//!   unqualified function's URL with GetFunctionUrlConfig, which moto has).
//! - A Lambda function's `VpcConfig.VpcId` is always `vpc-123abc`.
//! - EKS `DescribeCluster` has no `resourcesVpcConfig.vpcId`.
//! - `cloudtrail:StartLogging` takes a trail name only, not its ARN.
//! - An unknown region is a 500 (KeyError), which the last test uses as the
//!   failing service.
//! - Also seen, not asserted: enabling EBS encryption by default creates
//!   `alias/aws/ebs` as a customer managed key (AWS manages it), and an HTTP
//!   listener reports an `ssl_policy`.

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_credential_types::Credentials;
use aws_smithy_http_client::tls;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Once;
use vigil_aws::{collect, AwsOptions, Collection};
use vigil_model::Resource;

mod common;
use common::{network, EMPTY_ZIP};

// --- harness ---------------------------------------------------------------

fn moto_url() -> Option<String> {
    match std::env::var("VIGIL_TEST_MOTO_URL") {
        Ok(u) if !u.trim().is_empty() => Some(u.trim().trim_end_matches('/').to_string()),
        _ => {
            eprintln!("VIGIL_TEST_MOTO_URL is not set: the moto tests were skipped");
            None
        }
    }
}

static ENV: Once = Once::new();

/// The scan signs in with the standard chain: give it moto's test keys. Every
/// test calls this first, before any SDK reads the environment.
fn test_env() {
    ENV.call_once(|| {
        std::env::set_var("AWS_ACCESS_KEY_ID", "testing");
        std::env::set_var("AWS_SECRET_ACCESS_KEY", "testing");
        std::env::remove_var("AWS_SESSION_TOKEN");
        std::env::remove_var("AWS_PROFILE");
        std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
    });
}

/// A 12-digit account id no other test or earlier run has used.
fn fresh_account() -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let n = N.fetch_add(1, Ordering::SeqCst);
    let mix = nanos
        .wrapping_mul(6364136223846793005)
        .wrapping_add((std::process::id() as u64).wrapping_mul(1442695040888963407))
        .wrapping_add(n.wrapping_mul(7919));
    format!("{}", 100_000_000_000 + mix % 899_999_999_999)
}

struct Account {
    url: String,
    id: String,
    role: String,
    /// Signed in as the role, in us-east-1.
    sdk: SdkConfig,
}

impl Account {
    async fn new(url: &str) -> Account {
        test_env();
        let id = fresh_account();
        let role = format!("arn:aws:iam::{id}:role/vigil-test");
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(tls::Provider::Rustls(
                tls::rustls_provider::CryptoMode::Ring,
            ))
            .build_https();
        let base = aws_config::defaults(BehaviorVersion::latest())
            .http_client(http)
            .endpoint_url(url)
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("testing", "testing", None, None, "moto"))
            .load()
            .await;
        let creds = aws_sdk_sts::Client::new(&base)
            .assume_role()
            .role_arn(&role)
            .role_session_name("vigil-seed")
            .send()
            .await
            .unwrap()
            .credentials
            .unwrap();
        let sdk = base
            .into_builder()
            .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
                creds.access_key_id(),
                creds.secret_access_key(),
                Some(creds.session_token().to_string()),
                None,
                "assumed",
            )))
            .build();
        Account {
            url: url.to_string(),
            id,
            role,
            sdk,
        }
    }

    fn in_region(&self, region: &str) -> SdkConfig {
        self.sdk
            .clone()
            .into_builder()
            .region(Region::new(region.to_string()))
            .build()
    }

    async fn scan(&self, regions: &[&str]) -> Collection {
        let opts = AwsOptions {
            endpoint_url: Some(self.url.clone()),
            regions: regions.iter().map(|r| r.to_string()).collect(),
            role_arn: Some(self.role.clone()),
            concurrency: 4,
            connector: "moto".into(),
            run: "test".into(),
            ..Default::default()
        };
        let c = collect(&opts, &|_| {}).await.unwrap();
        assert_eq!(
            c.account, self.id,
            "the scan ran in the assumed role's account"
        );
        for r in &c.resources {
            r.validate().unwrap();
            assert_eq!(r.account, self.id);
        }
        c
    }

    fn ec2_arn(&self, kind: &str, id: &str) -> String {
        format!("arn:aws:ec2:us-east-1:{}:{kind}/{id}", self.id)
    }
}

fn by_id<'a>(c: &'a Collection, id: &str) -> &'a Resource {
    c.resources
        .iter()
        .find(|r| r.id == id)
        .unwrap_or_else(|| panic!("no resource {id}; have {:#?}", ids(c)))
}

fn of_type<'a>(c: &'a Collection, ty: &str) -> Vec<&'a Resource> {
    c.resources
        .iter()
        .filter(|r| r.resource_type == ty)
        .collect()
}

fn ids(c: &Collection) -> Vec<(&str, &str)> {
    c.resources
        .iter()
        .map(|r| (r.resource_type.as_str(), r.id.as_str()))
        .collect()
}

fn attr<'a>(r: &'a Resource, key: &str) -> &'a Value {
    r.attributes
        .get(key)
        .unwrap_or_else(|| panic!("{} has no attribute {key}: {:#?}", r.id, r.attributes))
}

fn linked(r: &Resource, relation: &str, ty: &str, id: &str) -> bool {
    r.associations
        .iter()
        .any(|a| a.relation == relation && a.resource_type == ty && a.id == id)
}

fn assert_linked(r: &Resource, relation: &str, ty: &str, id: &str) {
    assert!(
        linked(r, relation, ty, id),
        "{} lacks {relation} {ty} {id}: {:#?}",
        r.id,
        r.associations
    );
}

// --- VPC ---------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vpc_networks_subnets_acls_gateways_and_routes() {
    let Some(url) = moto_url() else { return };
    let acct = Account::new(&url).await;
    let ec2 = aws_sdk_ec2::Client::new(&acct.sdk);
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&acct.sdk)
            .force_path_style(true)
            .build(),
    );
    let (vpc, [public, private], _) = network(&acct.sdk, "10.1").await;
    ec2.create_tags()
        .resources(&vpc)
        .tags(
            aws_sdk_ec2::types::Tag::builder()
                .key("Name")
                .value("main-vpc")
                .build(),
        )
        .send()
        .await
        .unwrap();
    ec2.modify_subnet_attribute()
        .subnet_id(&public)
        .map_public_ip_on_launch(
            aws_sdk_ec2::types::AttributeBooleanValue::builder()
                .value(true)
                .build(),
        )
        .send()
        .await
        .unwrap();

    // Internet gateway, and a route table sending 0.0.0.0/0 to it for the
    // public subnet; the private subnet keeps the main route table.
    let igw = ec2
        .create_internet_gateway()
        .send()
        .await
        .unwrap()
        .internet_gateway
        .unwrap()
        .internet_gateway_id
        .unwrap();
    ec2.attach_internet_gateway()
        .internet_gateway_id(&igw)
        .vpc_id(&vpc)
        .send()
        .await
        .unwrap();
    let rt = ec2
        .create_route_table()
        .vpc_id(&vpc)
        .send()
        .await
        .unwrap()
        .route_table
        .unwrap()
        .route_table_id
        .unwrap();
    ec2.create_route()
        .route_table_id(&rt)
        .destination_cidr_block("0.0.0.0/0")
        .gateway_id(&igw)
        .send()
        .await
        .unwrap();
    ec2.associate_route_table()
        .route_table_id(&rt)
        .subnet_id(&public)
        .send()
        .await
        .unwrap();

    // A network ACL allowing SSH from anywhere, on the public subnet.
    let acl = ec2
        .create_network_acl()
        .vpc_id(&vpc)
        .send()
        .await
        .unwrap()
        .network_acl
        .unwrap()
        .network_acl_id
        .unwrap();
    ec2.create_network_acl_entry()
        .network_acl_id(&acl)
        .rule_number(100)
        .protocol("6")
        .rule_action(aws_sdk_ec2::types::RuleAction::Allow)
        .egress(false)
        .cidr_block("0.0.0.0/0")
        .port_range(
            aws_sdk_ec2::types::PortRange::builder()
                .from(22)
                .to(22)
                .build(),
        )
        .send()
        .await
        .unwrap();
    ec2.create_network_acl_entry()
        .network_acl_id(&acl)
        .rule_number(200)
        .protocol("-1")
        .rule_action(aws_sdk_ec2::types::RuleAction::Deny)
        .egress(true)
        .cidr_block("0.0.0.0/0")
        .send()
        .await
        .unwrap();
    let current = ec2
        .describe_network_acls()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("association.subnet-id")
                .values(&public)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let association = current.network_acls()[0]
        .associations()
        .iter()
        .find(|a| a.subnet_id() == Some(public.as_str()))
        .and_then(|a| a.network_acl_association_id())
        .unwrap()
        .to_string();
    ec2.replace_network_acl_association()
        .association_id(association)
        .network_acl_id(&acl)
        .send()
        .await
        .unwrap();

    // Flow logs of the VPC, to S3.
    let bucket = format!("flow-logs-{}", acct.id);
    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    ec2.create_flow_logs()
        .resource_ids(&vpc)
        .resource_type(aws_sdk_ec2::types::FlowLogsResourceType::Vpc)
        .traffic_type(aws_sdk_ec2::types::TrafficType::Reject)
        .log_destination_type(aws_sdk_ec2::types::LogDestinationType::S3)
        .log_destination(format!("arn:aws:s3:::{bucket}"))
        .send()
        .await
        .unwrap();

    let c = acct.scan(&["us-east-1"]).await;
    assert!(c.errors.is_empty(), "{:#?}", c.errors);

    let v = by_id(&c, &acct.ec2_arn("vpc", &vpc));
    assert_eq!(v.service, "VPC");
    assert_eq!(v.resource_type, "aws.ec2.vpc");
    assert_eq!(v.name, "main-vpc");
    assert_eq!(attr(v, "cidr_block"), "10.1.0.0/16");
    assert_eq!(attr(v, "is_default"), false);
    assert_eq!(attr(v, "flow_logs_enabled"), true);
    assert_eq!(attr(v, "flow_logs")[0]["traffic_type"], "REJECT");
    // moto's default VPC has no flow logs.
    let default = of_type(&c, "aws.ec2.vpc")
        .into_iter()
        .find(|v| v.attributes["is_default"] == true)
        .unwrap();
    assert_eq!(attr(default, "flow_logs_enabled"), false);

    let s = by_id(&c, &acct.ec2_arn("subnet", &public));
    assert_eq!(s.resource_type, "aws.ec2.subnet");
    assert_eq!(attr(s, "vpc_id"), vpc.as_str());
    assert_eq!(attr(s, "availability_zone"), "us-east-1a");
    assert_eq!(attr(s, "cidr_block"), "10.1.1.0/24");
    assert_eq!(attr(s, "map_public_ip_on_launch"), true);
    assert_eq!(attr(s, "route_table_id"), rt.as_str());
    assert_eq!(attr(s, "routes_to_internet_gateway"), true);
    assert_eq!(attr(s, "network_acl_id"), acl.as_str());
    assert_linked(s, "member_of", "aws.ec2.vpc", &acct.ec2_arn("vpc", &vpc));
    assert_linked(
        s,
        "uses",
        "aws.ec2.route_table",
        &acct.ec2_arn("route-table", &rt),
    );
    assert_linked(
        s,
        "uses",
        "aws.ec2.network_acl",
        &acct.ec2_arn("network-acl", &acl),
    );
    let p = by_id(&c, &acct.ec2_arn("subnet", &private));
    assert_eq!(attr(p, "map_public_ip_on_launch"), false);
    assert_eq!(attr(p, "routes_to_internet_gateway"), false);
    assert_ne!(attr(p, "route_table_id"), rt.as_str());

    let a = by_id(&c, &acct.ec2_arn("network-acl", &acl));
    assert_eq!(a.resource_type, "aws.ec2.network_acl");
    assert_eq!(attr(a, "is_default"), false);
    let entries = attr(a, "entries").as_array().unwrap();
    let ssh = entries.iter().find(|e| e["rule_number"] == 100).unwrap();
    assert_eq!(
        ssh,
        &json!({"rule_number": 100, "egress": false, "protocol": "6", "from_port": 22,
                "to_port": 22, "cidr_block": "0.0.0.0/0", "ipv6_cidr_block": null,
                "rule_action": "allow"})
    );
    let deny = entries.iter().find(|e| e["rule_number"] == 200).unwrap();
    assert_eq!(deny["egress"], true);
    assert_eq!(deny["protocol"], "-1");
    assert_eq!(
        (deny["from_port"].clone(), deny["to_port"].clone()),
        (json!(0), json!(65535))
    );
    assert_eq!(deny["rule_action"], "deny");
    assert_eq!(attr(a, "subnet_ids"), &json!([public]));
    assert_linked(
        a,
        "attached_to",
        "aws.ec2.subnet",
        &acct.ec2_arn("subnet", &public),
    );

    let g = by_id(&c, &acct.ec2_arn("internet-gateway", &igw));
    assert_eq!(g.resource_type, "aws.ec2.internet_gateway");
    assert_eq!(attr(g, "attached"), true);
    assert_eq!(attr(g, "attachments")[0]["vpc_id"], vpc.as_str());
    assert_linked(g, "attached_to", "aws.ec2.vpc", &acct.ec2_arn("vpc", &vpc));

    let t = by_id(&c, &acct.ec2_arn("route-table", &rt));
    assert_eq!(t.resource_type, "aws.ec2.route_table");
    assert_eq!(attr(t, "main"), false);
    assert_eq!(attr(t, "routes_to_internet_gateway"), true);
    assert!(attr(t, "routes")
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["destination_cidr_block"] == "0.0.0.0/0" && r["gateway_id"] == igw.as_str()));
    assert_linked(
        t,
        "attached_to",
        "aws.ec2.subnet",
        &acct.ec2_arn("subnet", &public),
    );
    assert_linked(
        t,
        "uses",
        "aws.ec2.internet_gateway",
        &acct.ec2_arn("internet-gateway", &igw),
    );
    let main = of_type(&c, "aws.ec2.route_table")
        .into_iter()
        .find(|t| t.attributes["vpc_id"] == vpc.as_str() && t.attributes["main"] == true)
        .unwrap();
    assert_eq!(attr(main, "routes_to_internet_gateway"), false);
}

// --- EC2 instances, EBS -----------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_volumes_and_ebs_encryption_default() {
    let Some(url) = moto_url() else { return };
    let acct = Account::new(&url).await;
    let ec2 = aws_sdk_ec2::Client::new(&acct.sdk);
    let iam = aws_sdk_iam::Client::new(&acct.sdk);
    let (vpc, [subnet, _], sg) = network(&acct.sdk, "10.2").await;

    iam.create_role()
        .role_name("web")
        .assume_role_policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#)
        .send()
        .await
        .unwrap();
    let profile = iam
        .create_instance_profile()
        .instance_profile_name("web")
        .send()
        .await
        .unwrap()
        .instance_profile
        .unwrap()
        .arn;
    iam.add_role_to_instance_profile()
        .instance_profile_name("web")
        .role_name("web")
        .send()
        .await
        .unwrap();

    let run = ec2
        .run_instances()
        .image_id("ami-12c6146b")
        .instance_type(aws_sdk_ec2::types::InstanceType::T3Micro)
        .min_count(1)
        .max_count(1)
        .subnet_id(&subnet)
        .security_group_ids(&sg)
        .iam_instance_profile(
            aws_sdk_ec2::types::IamInstanceProfileSpecification::builder()
                .name("web")
                .build(),
        )
        .metadata_options(
            aws_sdk_ec2::types::InstanceMetadataOptionsRequest::builder()
                .http_tokens(aws_sdk_ec2::types::HttpTokensState::Required)
                .http_endpoint(aws_sdk_ec2::types::InstanceMetadataEndpointState::Enabled)
                .build(),
        )
        .monitoring(
            aws_sdk_ec2::types::RunInstancesMonitoringEnabled::builder()
                .enabled(true)
                .build(),
        )
        .tag_specifications(
            aws_sdk_ec2::types::TagSpecification::builder()
                .resource_type(aws_sdk_ec2::types::ResourceType::Instance)
                .tags(
                    aws_sdk_ec2::types::Tag::builder()
                        .key("Name")
                        .value("web-1")
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    let instance = run.instances()[0].instance_id().unwrap().to_string();

    let volume = ec2
        .create_volume()
        .availability_zone("us-east-1a")
        .size(20)
        .encrypted(true)
        .send()
        .await
        .unwrap()
        .volume_id
        .unwrap();
    ec2.attach_volume()
        .volume_id(&volume)
        .instance_id(&instance)
        .device("/dev/sdf")
        .send()
        .await
        .unwrap();
    let loose = ec2
        .create_volume()
        .availability_zone("us-east-1a")
        .size(8)
        .send()
        .await
        .unwrap()
        .volume_id
        .unwrap();
    ec2.enable_ebs_encryption_by_default().send().await.unwrap();

    let c = acct.scan(&["us-east-1"]).await;
    assert!(c.errors.is_empty(), "{:#?}", c.errors);

    let i = by_id(&c, &acct.ec2_arn("instance", &instance));
    assert_eq!(i.service, "EC2");
    assert_eq!(i.resource_type, "aws.ec2.instance");
    assert_eq!(i.name, "web-1");
    assert_eq!(attr(i, "state"), "running");
    assert_eq!(attr(i, "instance_type"), "t3.micro");
    assert_eq!(attr(i, "image_id"), "ami-12c6146b");
    assert_eq!(attr(i, "vpc_id"), vpc.as_str());
    assert_eq!(attr(i, "subnet_id"), subnet.as_str());
    assert_eq!(attr(i, "availability_zone"), "us-east-1a");
    assert!(attr(i, "private_ip_address")
        .as_str()
        .unwrap()
        .starts_with("10.2.1."));
    assert!(attr(i, "launch_time").as_str().unwrap().ends_with('Z'));
    assert_eq!(attr(i, "iam_instance_profile"), profile.as_str());
    assert_eq!(attr(i, "metadata_options")["http_tokens"], "required");
    assert_eq!(attr(i, "metadata_options")["http_endpoint"], "enabled");
    assert_eq!(attr(i, "detailed_monitoring"), true);
    assert_eq!(attr(i, "security_groups"), &json!([sg]));
    assert!(attr(i, "ebs_volumes")
        .as_array()
        .unwrap()
        .iter()
        .any(|v| v["volume_id"] == volume.as_str() && v["device_name"] == "/dev/sdf"));
    assert_linked(
        i,
        "uses",
        "aws.ec2.security_group",
        &acct.ec2_arn("security-group", &sg),
    );
    assert_linked(
        i,
        "member_of",
        "aws.ec2.subnet",
        &acct.ec2_arn("subnet", &subnet),
    );
    assert_linked(i, "member_of", "aws.ec2.vpc", &acct.ec2_arn("vpc", &vpc));
    assert_linked(
        i,
        "uses",
        "aws.ec2.volume",
        &acct.ec2_arn("volume", &volume),
    );
    assert_linked(i, "uses", "aws.iam.instance_profile", &profile);

    let v = by_id(&c, &acct.ec2_arn("volume", &volume));
    assert_eq!(v.resource_type, "aws.ec2.volume");
    assert_eq!(attr(v, "encrypted"), true);
    assert_eq!(attr(v, "size"), 20);
    assert_eq!(attr(v, "state"), "in-use");
    assert_eq!(attr(v, "attachments")[0]["instance_id"], instance.as_str());
    assert_linked(
        v,
        "attached_to",
        "aws.ec2.instance",
        &acct.ec2_arn("instance", &instance),
    );
    let l = by_id(&c, &acct.ec2_arn("volume", &loose));
    assert_eq!(attr(l, "encrypted"), false);
    assert_eq!(attr(l, "attached"), false);
    assert!(l.associations.is_empty());

    let d = by_id(
        &c,
        &format!(
            "arn:aws:ec2:us-east-1:{}:ebs-encryption-by-default",
            acct.id
        ),
    );
    assert_eq!(d.resource_type, "aws.ec2.ebs_encryption_default");
    assert_eq!(d.region, "us-east-1");
    assert_eq!(attr(d, "enabled"), true);
    // moto gap: GetEbsDefaultKmsKeyId is not implemented. The scan goes on and
    // names the failed call for the attribute.
    assert!(
        d.uncollected
            .get("kms_key_id")
            .is_some_and(|why| why.contains("ec2:GetEbsDefaultKmsKeyId")),
        "{:?}",
        d.uncollected
    );
    assert_eq!(of_type(&c, "aws.ec2.ebs_encryption_default").len(), 1);
}

// --- Auto Scaling, ELB ---------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn autoscaling_groups_and_load_balancers() {
    let Some(url) = moto_url() else { return };
    let acct = Account::new(&url).await;
    let ec2 = aws_sdk_ec2::Client::new(&acct.sdk);
    let asg = aws_sdk_autoscaling::Client::new(&acct.sdk);
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&acct.sdk);
    let (vpc, [a, b], sg) = network(&acct.sdk, "10.3").await;

    let lb = elb
        .create_load_balancer()
        .name("web")
        .subnets(&a)
        .subnets(&b)
        .security_groups(&sg)
        .scheme(aws_sdk_elasticloadbalancingv2::types::LoadBalancerSchemeEnum::InternetFacing)
        .send()
        .await
        .unwrap()
        .load_balancers()[0]
        .load_balancer_arn()
        .unwrap()
        .to_string();
    let tg = elb
        .create_target_group()
        .name("web")
        .protocol(aws_sdk_elasticloadbalancingv2::types::ProtocolEnum::Http)
        .port(80)
        .vpc_id(&vpc)
        .target_type(aws_sdk_elasticloadbalancingv2::types::TargetTypeEnum::Instance)
        .send()
        .await
        .unwrap()
        .target_groups()[0]
        .target_group_arn()
        .unwrap()
        .to_string();
    elb.create_listener()
        .load_balancer_arn(&lb)
        .protocol(aws_sdk_elasticloadbalancingv2::types::ProtocolEnum::Http)
        .port(80)
        .default_actions(
            aws_sdk_elasticloadbalancingv2::types::Action::builder()
                .r#type(aws_sdk_elasticloadbalancingv2::types::ActionTypeEnum::Forward)
                .target_group_arn(&tg)
                .build(),
        )
        .send()
        .await
        .unwrap();
    elb.modify_load_balancer_attributes()
        .load_balancer_arn(&lb)
        .attributes(
            aws_sdk_elasticloadbalancingv2::types::LoadBalancerAttribute::builder()
                .key("deletion_protection.enabled")
                .value("true")
                .build(),
        )
        .send()
        .await
        .unwrap();
    elb.add_tags()
        .resource_arns(&lb)
        .tags(
            aws_sdk_elasticloadbalancingv2::types::Tag::builder()
                .key("team")
                .value("web")
                .build(),
        )
        .send()
        .await
        .unwrap();

    // A group launching from a launch configuration that allows IMDSv1 and
    // gives public IPs, registered with the target group.
    asg.create_launch_configuration()
        .launch_configuration_name("web-lc")
        .image_id("ami-12c6146b")
        .instance_type("t3.micro")
        .associate_public_ip_address(true)
        .metadata_options(
            aws_sdk_autoscaling::types::InstanceMetadataOptions::builder()
                .http_tokens(aws_sdk_autoscaling::types::InstanceMetadataHttpTokensState::Optional)
                .build(),
        )
        .send()
        .await
        .unwrap();
    asg.create_auto_scaling_group()
        .auto_scaling_group_name("web")
        .launch_configuration_name("web-lc")
        .min_size(1)
        .max_size(2)
        .desired_capacity(1)
        .vpc_zone_identifier(format!("{a},{b}"))
        .target_group_arns(&tg)
        .send()
        .await
        .unwrap();
    // And one from a launch template.
    ec2.create_launch_template()
        .launch_template_name("api")
        .launch_template_data(
            aws_sdk_ec2::types::RequestLaunchTemplateData::builder()
                .image_id("ami-12c6146b")
                .instance_type(aws_sdk_ec2::types::InstanceType::T3Micro)
                .build(),
        )
        .send()
        .await
        .unwrap();
    asg.create_auto_scaling_group()
        .auto_scaling_group_name("api")
        .launch_template(
            aws_sdk_autoscaling::types::LaunchTemplateSpecification::builder()
                .launch_template_name("api")
                .version("$Latest")
                .build(),
        )
        .min_size(0)
        .max_size(1)
        .desired_capacity(0)
        .vpc_zone_identifier(&a)
        .send()
        .await
        .unwrap();

    let c = acct.scan(&["us-east-1"]).await;
    assert!(c.errors.is_empty(), "{:#?}", c.errors);

    let groups = of_type(&c, "aws.autoscaling.group");
    assert_eq!(groups.len(), 2);
    let web = groups.iter().find(|g| g.name == "web").unwrap();
    assert_eq!(web.service, "Auto Scaling");
    assert!(web.id.starts_with(&format!(
        "arn:aws:autoscaling:us-east-1:{}:autoScalingGroup:",
        acct.id
    )));
    assert_eq!(attr(web, "min_size"), 1);
    assert_eq!(attr(web, "max_size"), 2);
    assert_eq!(attr(web, "subnet_ids"), &json!([a, b]));
    assert_eq!(attr(web, "target_group_arns"), &json!([tg]));
    assert_eq!(attr(web, "launch_template"), &Value::Null);
    let lc = attr(web, "launch_configuration");
    assert_eq!(lc["name"], "web-lc");
    assert_eq!(lc["http_tokens"], "optional");
    assert_eq!(lc["associate_public_ip_address"], true);
    let members = attr(web, "instances").as_array().unwrap();
    assert_eq!(members.len(), 1);
    let member = members[0]["instance_id"].as_str().unwrap();
    let member_arn = acct.ec2_arn("instance", member);
    assert_linked(web, "contains", "aws.ec2.instance", &member_arn);
    // The group's instance is collected as an instance too.
    by_id(&c, &member_arn);
    assert_linked(web, "registers_with", "aws.elbv2.target_group", &tg);
    assert_linked(web, "uses", "aws.ec2.subnet", &acct.ec2_arn("subnet", &b));
    let api = groups.iter().find(|g| g.name == "api").unwrap();
    assert_eq!(attr(api, "launch_template")["name"], "api");
    assert_eq!(attr(api, "launch_configuration"), &Value::Null);

    let l = by_id(&c, &lb);
    assert_eq!(l.service, "ELB");
    assert_eq!(l.resource_type, "aws.elbv2.load_balancer");
    assert_eq!(l.name, "web");
    assert_eq!(attr(l, "type"), "application");
    assert_eq!(attr(l, "scheme"), "internet-facing");
    assert_eq!(attr(l, "internet_facing"), true);
    assert!(attr(l, "dns_name").as_str().is_some_and(|d| !d.is_empty()));
    assert_eq!(attr(l, "vpc_id"), vpc.as_str());
    assert_eq!(attr(l, "security_groups"), &json!([sg]));
    assert_eq!(attr(l, "deletion_protection"), true);
    assert_eq!(attr(l, "access_logs_enabled"), false);
    let listener = &attr(l, "listeners")[0];
    assert_eq!(listener["protocol"], "HTTP");
    assert_eq!(listener["port"], 80);
    assert_eq!(listener["default_actions"][0]["type"], "forward");
    assert_eq!(attr(l, "target_group_arns"), &json!([tg]));
    // The auto scaling group registered its instance with the target group.
    assert_eq!(attr(l, "target_instance_ids"), &json!([member]));
    assert_linked(l, "routes_to", "aws.ec2.instance", &member_arn);
    assert_linked(
        l,
        "uses",
        "aws.ec2.security_group",
        &acct.ec2_arn("security-group", &sg),
    );
    assert_linked(l, "uses", "aws.ec2.subnet", &acct.ec2_arn("subnet", &a));
    assert_linked(l, "member_of", "aws.ec2.vpc", &acct.ec2_arn("vpc", &vpc));
    assert_eq!(l.tags.get("team").map(String::as_str), Some("web"));
}

// --- Lambda --------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lambda_functions() {
    let Some(url) = moto_url() else { return };
    let acct = Account::new(&url).await;
    let iam = aws_sdk_iam::Client::new(&acct.sdk);
    let lambda = aws_sdk_lambda::Client::new(&acct.sdk);
    let (vpc, [subnet, _], sg) = network(&acct.sdk, "10.4").await;
    let role = iam
        .create_role()
        .role_name("fn")
        .assume_role_policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#)
        .send()
        .await
        .unwrap()
        .role
        .unwrap()
        .arn;

    let code = || {
        aws_sdk_lambda::types::FunctionCode::builder()
            .zip_file(aws_sdk_lambda::primitives::Blob::new(EMPTY_ZIP.to_vec()))
            .build()
    };
    let public = lambda
        .create_function()
        .function_name("public-fn")
        .runtime(aws_sdk_lambda::types::Runtime::Python312)
        .role(&role)
        .handler("app.handler")
        .code(code())
        .environment(
            aws_sdk_lambda::types::Environment::builder()
                .variables("DB_PASSWORD", "hunter2-secret")
                .build(),
        )
        .vpc_config(
            aws_sdk_lambda::types::VpcConfig::builder()
                .subnet_ids(&subnet)
                .security_group_ids(&sg)
                .build(),
        )
        .tags("team", "api")
        .send()
        .await
        .unwrap()
        .function_arn
        .unwrap();
    lambda
        .add_permission()
        .function_name("public-fn")
        .statement_id("anyone")
        .action("lambda:InvokeFunction")
        .principal("*")
        .send()
        .await
        .unwrap();
    let private = lambda
        .create_function()
        .function_name("private-fn")
        .runtime(aws_sdk_lambda::types::Runtime::Nodejs20x)
        .role(&role)
        .handler("index.handler")
        .code(code())
        .send()
        .await
        .unwrap()
        .function_arn
        .unwrap();
    lambda
        .add_permission()
        .function_name("private-fn")
        .statement_id("s3")
        .action("lambda:InvokeFunction")
        .principal("s3.amazonaws.com")
        .source_arn("arn:aws:s3:::uploads")
        .send()
        .await
        .unwrap();
    lambda
        .create_function_url_config()
        .function_name("private-fn")
        .auth_type(aws_sdk_lambda::types::FunctionUrlAuthType::None)
        .send()
        .await
        .unwrap();

    let c = acct.scan(&["us-east-1"]).await;
    assert!(c.errors.is_empty(), "{:#?}", c.errors);

    let f = by_id(&c, &public);
    assert_eq!(f.service, "Lambda");
    assert_eq!(f.resource_type, "aws.lambda.function");
    assert_eq!(f.name, "public-fn");
    assert_eq!(attr(f, "runtime"), "python3.12");
    assert_eq!(attr(f, "role"), role.as_str());
    assert_eq!(attr(f, "environment_variables_present"), true);
    assert_eq!(attr(f, "public_policy"), true);
    assert_eq!(attr(f, "url_auth_type"), &Value::Null);
    assert_eq!(attr(f, "in_vpc"), true);
    assert_eq!(attr(f, "vpc_config")["subnet_ids"], json!([subnet]));
    assert_eq!(attr(f, "vpc_config")["security_group_ids"], json!([sg]));
    // moto gap: the function's VpcConfig names a fixed `vpc-123abc`, not the
    // subnets' VPC.
    assert!(attr(f, "vpc_config")["vpc_id"].is_string());
    let _ = vpc;
    assert_eq!(f.tags.get("team").map(String::as_str), Some("api"));
    assert_linked(f, "uses", "aws.iam.role", &role);
    assert_linked(
        f,
        "uses",
        "aws.ec2.security_group",
        &acct.ec2_arn("security-group", &sg),
    );
    assert_linked(
        f,
        "member_of",
        "aws.ec2.subnet",
        &acct.ec2_arn("subnet", &subnet),
    );
    // The values of environment variables are never collected.
    let text = serde_json::to_string(&c.resources).unwrap();
    assert!(!text.contains("hunter2"));
    assert!(!text.contains("DB_PASSWORD"));

    let g = by_id(&c, &private);
    assert_eq!(attr(g, "runtime"), "nodejs20.x");
    assert_eq!(attr(g, "environment_variables_present"), false);
    assert_eq!(attr(g, "resource_policy_present"), true);
    assert_eq!(
        attr(g, "public_policy"),
        false,
        "a source ARN narrows the grant"
    );
    assert_eq!(attr(g, "url_auth_type"), "NONE");
    assert_eq!(attr(g, "in_vpc"), false);
}

// --- EKS -----------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eks_clusters_nodegroups_and_fargate_profiles() {
    let Some(url) = moto_url() else { return };
    let acct = Account::new(&url).await;
    let eks = aws_sdk_eks::Client::new(&acct.sdk);
    let (vpc, [a, b], sg) = network(&acct.sdk, "10.5").await;
    let role = format!("arn:aws:iam::{}:role/eks", acct.id);
    let key = format!(
        "arn:aws:kms:us-east-1:{}:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        acct.id
    );

    let cluster = eks
        .create_cluster()
        .name("prod")
        .version("1.29")
        .role_arn(&role)
        .resources_vpc_config(
            aws_sdk_eks::types::VpcConfigRequest::builder()
                .subnet_ids(&a)
                .subnet_ids(&b)
                .security_group_ids(&sg)
                .endpoint_public_access(true)
                .endpoint_private_access(false)
                .public_access_cidrs("0.0.0.0/0")
                .build(),
        )
        .logging(
            aws_sdk_eks::types::Logging::builder()
                .cluster_logging(
                    aws_sdk_eks::types::LogSetup::builder()
                        .types(aws_sdk_eks::types::LogType::Api)
                        .types(aws_sdk_eks::types::LogType::Audit)
                        .enabled(true)
                        .build(),
                )
                .build(),
        )
        .encryption_config(
            aws_sdk_eks::types::EncryptionConfig::builder()
                .provider(
                    aws_sdk_eks::types::Provider::builder()
                        .key_arn(&key)
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap()
        .cluster
        .unwrap()
        .arn
        .unwrap();
    let nodegroup = eks
        .create_nodegroup()
        .cluster_name("prod")
        .nodegroup_name("workers")
        .node_role(format!("arn:aws:iam::{}:role/nodes", acct.id))
        .subnets(&a)
        .instance_types("m5.large")
        .scaling_config(
            aws_sdk_eks::types::NodegroupScalingConfig::builder()
                .min_size(1)
                .max_size(3)
                .desired_size(2)
                .build(),
        )
        .remote_access(
            aws_sdk_eks::types::RemoteAccessConfig::builder()
                .ec2_ssh_key("ops")
                .build(),
        )
        .send()
        .await
        .unwrap()
        .nodegroup
        .unwrap()
        .nodegroup_arn
        .unwrap();
    let profile = eks
        .create_fargate_profile()
        .cluster_name("prod")
        .fargate_profile_name("batch")
        .pod_execution_role_arn(format!("arn:aws:iam::{}:role/pods", acct.id))
        .subnets(&b)
        .selectors(
            aws_sdk_eks::types::FargateProfileSelector::builder()
                .namespace("batch")
                .build(),
        )
        .send()
        .await
        .unwrap()
        .fargate_profile
        .unwrap()
        .fargate_profile_arn
        .unwrap();

    let c = acct.scan(&["us-east-1"]).await;
    assert!(c.errors.is_empty(), "{:#?}", c.errors);

    let k = by_id(&c, &cluster);
    assert_eq!(k.service, "EKS");
    assert_eq!(k.resource_type, "aws.eks.cluster");
    assert_eq!(k.name, "prod");
    assert_eq!(attr(k, "version"), "1.29");
    assert_eq!(attr(k, "endpoint_public_access"), true);
    assert_eq!(attr(k, "endpoint_private_access"), false);
    assert_eq!(attr(k, "public_access_cidrs"), &json!(["0.0.0.0/0"]));
    assert_eq!(attr(k, "logging_enabled_types"), &json!(["api", "audit"]));
    assert_eq!(attr(k, "secrets_encryption"), true);
    assert_eq!(attr(k, "secrets_kms_key_arn"), key.as_str());
    // moto gap: DescribeCluster's resourcesVpcConfig has no vpcId (AWS fills
    // it in from the subnets); the collector reports none rather than guess.
    assert_eq!(attr(k, "vpc_id"), &Value::Null);
    assert!(!linked(
        k,
        "member_of",
        "aws.ec2.vpc",
        &acct.ec2_arn("vpc", &vpc)
    ));
    assert_linked(
        k,
        "uses",
        "aws.ec2.security_group",
        &acct.ec2_arn("security-group", &sg),
    );
    assert_linked(k, "uses", "aws.ec2.subnet", &acct.ec2_arn("subnet", &b));
    assert_linked(k, "uses", "aws.iam.role", &role);
    assert_linked(k, "uses", "aws.kms.key", &key);

    let n = by_id(&c, &nodegroup);
    assert_eq!(n.resource_type, "aws.eks.nodegroup");
    assert_eq!(n.name, "workers");
    assert_eq!(attr(n, "cluster_name"), "prod");
    assert_eq!(attr(n, "instance_types"), &json!(["m5.large"]));
    assert_eq!(attr(n, "scaling_config")["desired_size"], 2);
    assert_eq!(attr(n, "remote_access_enabled"), true);
    assert_eq!(attr(n, "remote_access")["ec2_ssh_key"], "ops");
    assert_linked(n, "member_of", "aws.eks.cluster", &cluster);
    assert_linked(n, "uses", "aws.ec2.subnet", &acct.ec2_arn("subnet", &a));

    let p = by_id(&c, &profile);
    assert_eq!(p.resource_type, "aws.eks.fargate_profile");
    assert_eq!(p.name, "batch");
    assert_eq!(attr(p, "selectors")[0]["namespace"], "batch");
    assert_eq!(attr(p, "subnet_ids"), &json!([b]));
    assert_linked(p, "member_of", "aws.eks.cluster", &cluster);
    assert_linked(
        p,
        "uses",
        "aws.iam.role",
        &format!("arn:aws:iam::{}:role/pods", acct.id),
    );
}

// --- CloudTrail, KMS -------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cloudtrail_trails_and_kms_keys() {
    let Some(url) = moto_url() else { return };
    let acct = Account::new(&url).await;
    let kms = aws_sdk_kms::Client::new(&acct.sdk);
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&acct.sdk)
            .force_path_style(true)
            .build(),
    );
    let ct = aws_sdk_cloudtrail::Client::new(&acct.sdk);
    let ct_eu = aws_sdk_cloudtrail::Client::new(&acct.in_region("eu-west-1"));

    let rotated = kms
        .create_key()
        .description("trail key")
        .tags(
            aws_sdk_kms::types::Tag::builder()
                .tag_key("team")
                .tag_value("sec")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap();
    kms.enable_key_rotation()
        .key_id(rotated.key_id())
        .send()
        .await
        .unwrap();
    kms.create_alias()
        .alias_name("alias/trail")
        .target_key_id(rotated.key_id())
        .send()
        .await
        .unwrap();
    let plain = kms.create_key().send().await.unwrap().key_metadata.unwrap();
    let signing = kms
        .create_key()
        .key_spec(aws_sdk_kms::types::KeySpec::EccNistP256)
        .key_usage(aws_sdk_kms::types::KeyUsageType::SignVerify)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap();
    let public = kms
        .create_key()
        .policy(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"kms:Decrypt","Resource":"*"}]}"#)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap();
    let key_arn = rotated.arn().unwrap().to_string();

    let bucket = format!("trail-{}", acct.id);
    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    let trail = ct
        .create_trail()
        .name("org-audit")
        .s3_bucket_name(&bucket)
        .is_multi_region_trail(true)
        .include_global_service_events(true)
        .enable_log_file_validation(true)
        .kms_key_id(&key_arn)
        .send()
        .await
        .unwrap()
        .trail_arn
        .unwrap();
    // moto's StartLogging takes the trail's name only, not its ARN.
    ct.start_logging().name("org-audit").send().await.unwrap();
    ct.put_event_selectors()
        .trail_name(&trail)
        .event_selectors(
            aws_sdk_cloudtrail::types::EventSelector::builder()
                .read_write_type(aws_sdk_cloudtrail::types::ReadWriteType::All)
                .include_management_events(true)
                .data_resources(
                    aws_sdk_cloudtrail::types::DataResource::builder()
                        .r#type("AWS::S3::Object")
                        .values("arn:aws:s3")
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    // A single-region trail in Ireland, not logging.
    let local = ct_eu
        .create_trail()
        .name("eu-local")
        .s3_bucket_name(&bucket)
        .send()
        .await
        .unwrap()
        .trail_arn
        .unwrap();

    let c = acct.scan(&["eu-west-1", "us-east-1"]).await;
    assert!(c.errors.is_empty(), "{:#?}", c.errors);

    // The multi-region trail is listed by both regions, kept once.
    let trails = of_type(&c, "aws.cloudtrail.trail");
    assert_eq!(trails.len(), 2, "{:#?}", ids(&c));
    let t = by_id(&c, &trail);
    assert_eq!(t.service, "CloudTrail");
    assert_eq!(t.region, "us-east-1");
    assert_eq!(attr(t, "home_region"), "us-east-1");
    assert_eq!(attr(t, "is_multi_region_trail"), true);
    assert_eq!(attr(t, "include_global_service_events"), true);
    assert_eq!(attr(t, "log_file_validation_enabled"), true);
    assert_eq!(attr(t, "is_logging"), true);
    assert_eq!(attr(t, "kms_key_id"), key_arn.as_str());
    assert_eq!(attr(t, "s3_bucket_name"), bucket.as_str());
    assert_eq!(attr(t, "logs_all_management_events"), true);
    assert_eq!(attr(t, "s3_object_read_events"), true);
    assert_eq!(attr(t, "s3_object_write_events"), true);
    assert_linked(
        t,
        "logs_to",
        "aws.s3.bucket",
        &format!("arn:aws:s3:::{bucket}"),
    );
    assert_linked(t, "uses", "aws.kms.key", &key_arn);
    let l = by_id(&c, &local);
    assert_eq!(l.region, "eu-west-1");
    assert_eq!(attr(l, "is_multi_region_trail"), false);
    assert_eq!(attr(l, "is_logging"), false);
    assert_eq!(attr(l, "kms_key_id"), &Value::Null);
    assert_eq!(attr(l, "log_file_validation_enabled"), false);

    let keys = of_type(&c, "aws.kms.key");
    assert_eq!(keys.len(), 4, "customer managed keys of us-east-1 only");
    let k = by_id(&c, &key_arn);
    assert_eq!(k.service, "KMS");
    assert_eq!(k.name, "alias/trail");
    assert_eq!(attr(k, "key_manager"), "CUSTOMER");
    assert_eq!(attr(k, "key_state"), "Enabled");
    assert_eq!(attr(k, "rotation_enabled"), true);
    assert_eq!(attr(k, "public_policy"), false);
    assert_eq!(k.tags.get("team").map(String::as_str), Some("sec"));
    let p = by_id(&c, plain.arn().unwrap());
    assert_eq!(attr(p, "rotation_enabled"), false);
    let s = by_id(&c, signing.arn().unwrap());
    assert_eq!(attr(s, "key_spec"), "ECC_NIST_P256");
    assert_eq!(attr(s, "rotation_enabled"), &Value::Null, "not applicable");
    let o = by_id(&c, public.arn().unwrap());
    assert_eq!(attr(o, "public_policy"), true);
}

// --- account-level: IAM account, S3 Block Public Access -----------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn iam_account_and_s3_account_public_access_block() {
    let Some(url) = moto_url() else { return };
    let blocked = Account::new(&url).await;
    aws_sdk_s3control::Client::from_conf(
        aws_sdk_s3control::config::Builder::from(&blocked.sdk)
            .interceptor(vigil_aws::moto::DropAccountHostPrefix)
            .build(),
    )
    .put_public_access_block()
    .account_id(&blocked.id)
    .public_access_block_configuration(
        aws_sdk_s3control::types::PublicAccessBlockConfiguration::builder()
            .block_public_acls(true)
            .ignore_public_acls(true)
            .block_public_policy(true)
            .restrict_public_buckets(false)
            .build(),
    )
    .send()
    .await
    .unwrap();
    let c = blocked.scan(&["us-east-1"]).await;
    assert!(c.errors.is_empty(), "{:#?}", c.errors);

    let pab = by_id(
        &c,
        &format!("arn:aws:s3::{}:account-public-access-block", blocked.id),
    );
    assert_eq!(pab.service, "S3");
    assert_eq!(pab.region, "global");
    assert_eq!(pab.resource_type, "aws.s3.account_public_access_block");
    assert_eq!(attr(pab, "configured"), true);
    assert_eq!(attr(pab, "block_public_acls"), true);
    assert_eq!(attr(pab, "ignore_public_acls"), true);
    assert_eq!(attr(pab, "block_public_policy"), true);
    assert_eq!(attr(pab, "restrict_public_buckets"), false);

    let a = by_id(&c, &format!("arn:aws:iam::{}:root", blocked.id));
    assert_eq!(a.service, "IAM");
    assert_eq!(a.region, "global");
    assert_eq!(a.resource_type, "aws.iam.account");
    // moto: the root user never has MFA or access keys.
    assert_eq!(attr(a, "root_mfa_enabled"), false);
    assert_eq!(attr(a, "root_access_keys_present"), false);
    assert_eq!(attr(a, "root_hardware_mfa_enabled"), false);
    assert!(attr(a, "summary")["Users"].is_number());
    // moto gap: the credential report has no <root_account> row; the scan says
    // so instead of guessing when the root user was last used.
    for k in ["root_last_used", "root_password_last_used"] {
        assert!(
            a.uncollected
                .get(k)
                .is_some_and(|why| why.contains("<root_account>")),
            "{:?}",
            a.uncollected
        );
    }
    assert_eq!(of_type(&c, "aws.iam.account").len(), 1);

    // Another account without a configuration: nothing is blocked.
    let open = Account::new(&url).await;
    let c = open.scan(&["us-east-1"]).await;
    let pab = by_id(
        &c,
        &format!("arn:aws:s3::{}:account-public-access-block", open.id),
    );
    assert_eq!(attr(pab, "configured"), false);
    for k in [
        "block_public_acls",
        "ignore_public_acls",
        "block_public_policy",
        "restrict_public_buckets",
    ] {
        assert_eq!(attr(pab, k), false, "{k}");
    }
}

// --- failures are recorded, the scan goes on -----------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_that_fails_is_recorded_and_the_scan_goes_on() {
    let Some(url) = moto_url() else { return };
    let acct = Account::new(&url).await;
    let (vpc, _, _) = network(&acct.sdk, "10.6").await;
    // A region moto does not serve: every regional call there fails, the
    // global collectors and the good region still deliver.
    let c = acct.scan(&["us-east-1", "xx-nowhere-1"]).await;
    by_id(&c, &acct.ec2_arn("vpc", &vpc));
    assert_eq!(of_type(&c, "aws.iam.account").len(), 1);
    let failed: Vec<_> = c
        .errors
        .iter()
        .filter(|e| e.region == "xx-nowhere-1")
        .collect();
    assert!(!failed.is_empty(), "{:#?}", c.errors);
    for action in [
        "ec2:DescribeVpcs",
        "lambda:ListFunctions",
        "eks:ListClusters",
    ] {
        assert!(
            failed.iter().any(|e| e.action == action),
            "{action} missing from {failed:#?}"
        );
    }
}
