//! One control, one verdict: the same catalogue control judges equivalent
//! resources the same way whether they come from a live (moto-emulated)
//! account scanned by `vigil_aws::collect`, from Terraform read by
//! `vigil_iac::terraform_resources` or from a CloudFormation template read by
//! `vigil_iac::cloudformation::cloudformation_resources`.
//!
//! Each [`Case`] states a verdict (PASS or FAIL) for some controls and gives
//! the resource three ways: a moto seeding step, a Terraform text and a
//! CloudFormation text. PASS cases are seeded into one fresh account and FAIL
//! cases into another (so account-wide singletons such as the password policy
//! can differ), each account is scanned once, and every verdict must equal the
//! case's.
//!
//! Left out, as moto cannot express them: MFA Delete 22 (needs a root MFA
//! token) and the root account controls 6-9. Left out as IaC does not
//! declare them: credential ages and MFA devices (1-5, 10, 13, 14), keys
//! pending deletion 34, snapshots 52/54. CloudFormation has no resource type
//! for the password policy, the default security group, EBS encryption by
//! default or the account's Block Public Access: those cases have no
//! template.
//!
//! moto differs from AWS where a setting is left at its default, so its
//! seeding states AWS's default explicitly where the IaC texts omit it: a
//! bucket's Block Public Access (moto creates buckets without one, AWS with
//! all four settings on), an ALB's
//! `drop_invalid_header_fields` (reported only once set) and an EKS
//! cluster's public access CIDRs (none reported unless given).
//!
//! `VIGIL_TEST_MOTO_URL` names the moto server (`scripts/test` starts one);
//! without it the Terraform and CloudFormation verdicts are still checked
//! against the cases and the live column is skipped, with a note.

use aws_config::SdkConfig;
use std::future::Future;
use std::pin::Pin;
use vigil_engine::Catalog;
use vigil_model::{EvalResult, Resource};

mod common;
use common::{account_of, id, moto, network, options, regional, revoke_all_rules, s3, EMPTY_ZIP};

use aws_sdk_s3::types::{BucketCannedAcl as Acl, BucketVersioningStatus as Status};
use EvalResult::{Fail, Pass};

/// An account being seeded: its SDK configuration (us-east-1) and id.
#[derive(Clone)]
struct Account {
    sdk: SdkConfig,
    id: String,
}

impl Account {
    /// A name unique to this account (S3 bucket names are global in moto).
    fn name(&self, base: &str) -> String {
        format!("{base}-{}", self.id)
    }
    fn ec2(&self) -> aws_sdk_ec2::Client {
        aws_sdk_ec2::Client::new(&self.sdk)
    }
    fn s3(&self) -> aws_sdk_s3::Client {
        s3(&self.sdk, "us-east-1")
    }
}

/// A seeding step: creates the case's resource in the account and returns
/// a text that occurs in the scanned resource's id and no other's (the
/// test reports a key matching several resources).
type Seed = fn(Account) -> Pin<Box<dyn Future<Output = String> + Send>>;

/// One resource, written three ways, and the verdict each controls in `cids`
/// must give on all three.
struct Case {
    /// What the resource is, for messages.
    name: &'static str,
    cids: &'static [u32],
    want: EvalResult,
    /// Seeds moto; `None` where moto cannot express the case.
    moto: Option<Seed>,
    terraform: String,
    /// `None` where CloudFormation has no resource type for it.
    cloudformation: Option<String>,
}

/// A resource written as a Terraform and a CloudFormation template in which
/// `{{KEY}}` stands for what differs between the cases made from it
/// (typically one PASS and one FAIL case).
#[derive(Clone, Copy)]
struct Template {
    cids: &'static [u32],
    terraform: &'static str,
    /// `None` where CloudFormation has no resource type for it.
    cloudformation: Option<&'static str>,
}

impl Template {
    /// The same template judged by the controls `cids` instead.
    fn with_cids(self, cids: &'static [u32]) -> Self {
        Template { cids, ..self }
    }

    /// The case whose texts are the templates with each `{{KEY}}` of
    /// `values` replaced by its text.
    fn case(
        &self,
        want: EvalResult,
        name: &'static str,
        moto: Seed,
        values: &[(&str, &str)],
    ) -> Case {
        Case {
            name,
            cids: self.cids,
            want,
            moto: Some(moto),
            terraform: fill(self.terraform, values),
            cloudformation: self.cloudformation.map(|text| fill(text, values)),
        }
    }
}

/// `template` with each `{{KEY}}` of `values` replaced by its text; panics
/// on a placeholder left unfilled.
fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let text = values
        .iter()
        .fold(template.to_string(), |text, (key, value)| {
            text.replace(&format!("{{{{{key}}}}}"), value)
        });
    assert!(
        !text.contains("{{"),
        "a placeholder is left unfilled in {text}"
    );
    text
}

/// A CloudFormation template declaring a VPC on `cidr`, for more resources
/// to follow.
fn vpc_cfn(cidr: &str) -> String {
    fill(
        r#"
Resources:
  Vpc:
    Type: AWS::EC2::VPC
    Properties: { CidrBlock: {{CIDR}} }"#,
        &[("CIDR", cidr)],
    )
}

/// A CloudFormation template declaring a logging trail delivering to the
/// bucket `trail-logs`, for more of its properties to follow.
fn trail_cfn() -> String {
    r#"
Resources:
  Trail:
    Type: AWS::CloudTrail::Trail
    Properties:
      S3BucketName: trail-logs
      IsLogging: true"#
        .to_string()
}

/// A CloudFormation template declaring a load balancer named `name` in two
/// subnets, for more of its properties to follow.
fn lb_cfn(name: &str) -> String {
    fill(
        r#"
Resources:
  Lb:
    Type: AWS::ElasticLoadBalancingV2::LoadBalancer
    Properties:
      Name: {{NAME}}
      Subnets: [subnet-0a, subnet-0b]"#,
        &[("NAME", name)],
    )
}

/// A zip-packaged Lambda function: `{{NAME}}` on `{{RUNTIME}}`.
const LAMBDA_FUNCTION_TF: &str = r#"
resource "aws_lambda_function" "this" {
  function_name = "{{NAME}}"
  role          = "arn:aws:iam::123456789012:role/fn"
  handler       = "app.handler"
  runtime       = "{{RUNTIME}}"
  filename      = "app.zip"
}"#;
/// [`LAMBDA_FUNCTION_TF`] in CloudFormation.
const LAMBDA_FUNCTION_CFN: &str = r#"
Resources:
  Fn:
    Type: AWS::Lambda::Function
    Properties:
      FunctionName: {{NAME}}
      Role: arn:aws:iam::123456789012:role/fn
      Handler: app.handler
      Runtime: {{RUNTIME}}
      Code: { ZipFile: "def handler(e, c): pass" }"#;

fn cases() -> Vec<Case> {
    let mut cases = Vec::new();
    // --- S3 --------------------------------------------------------------
    let s3_bucket_versioning = Template {
        cids: &[48],
        terraform: r#"
resource "aws_s3_bucket" "this" { bucket = "{{NAME}}" }
resource "aws_s3_bucket_versioning" "this" {
  bucket = aws_s3_bucket.this.{{BUCKET_ATTRIBUTE}}
  versioning_configuration { status = "{{STATUS}}" }
}"#,
        cloudformation: Some(
            r#"
Resources:
  Bucket:
    Type: AWS::S3::Bucket
    Properties:
      VersioningConfiguration: { Status: {{STATUS}} }"#,
        ),
    };
    cases.push(s3_bucket_versioning.case(
        Pass,
        "versioned bucket",
        |a| Box::pin(bucket_versioning(a, "versioned", Some(Status::Enabled))),
        &[
            ("NAME", "versioned"),
            ("BUCKET_ATTRIBUTE", "id"),
            ("STATUS", "Enabled"),
        ],
    ));
    cases.push(Case {
        name: "never-versioned bucket",
        cids: &[48],
        want: Fail,
        moto: Some(|a| Box::pin(bucket_versioning(a, "unversioned", None))),
        terraform: r#"resource "aws_s3_bucket" "this" { bucket = "plain" }"#.into(),
        cloudformation: Some("Resources: { Bucket: { Type: AWS::S3::Bucket } }".into()),
    });

    let s3_bucket_acl = Template {
        cids: &[45],
        terraform: r#"
resource "aws_s3_bucket" "this" { bucket = "{{NAME}}" }
resource "aws_s3_bucket_acl" "this" {
  bucket = aws_s3_bucket.this.id
  acl    = "{{ACL}}"
}"#,
        cloudformation: Some(
            r#"
Resources:
  Bucket:
    Type: AWS::S3::Bucket
    Properties: { AccessControl: {{ACCESS_CONTROL}} }"#,
        ),
    };
    cases.push(s3_bucket_acl.case(
        Pass,
        "bucket with a private ACL",
        |a| Box::pin(bucket_acl(a, "private", Acl::Private)),
        &[
            ("NAME", "private"),
            ("ACL", "private"),
            ("ACCESS_CONTROL", "Private"),
        ],
    ));
    cases.push(s3_bucket_acl.case(
        Fail,
        "bucket with a public-read ACL",
        |a| Box::pin(bucket_acl(a, "public-read", Acl::PublicRead)),
        &[
            ("NAME", "public"),
            ("ACL", "public-read"),
            ("ACCESS_CONTROL", "PublicRead"),
        ],
    ));

    let s3_bucket_public_access_block = Template {
        cids: &[60],
        terraform: r#"
resource "aws_s3_bucket" "this" { bucket = "{{NAME}}" }
resource "aws_s3_bucket_public_access_block" "this" {
  bucket                  = aws_s3_bucket.this.id
  block_public_acls       = true
  ignore_public_acls      = true
  block_public_policy     = true
  restrict_public_buckets = {{RESTRICT}}
}"#,
        cloudformation: Some(
            r#"
Resources:
  Bucket:
    Type: AWS::S3::Bucket
    Properties:
      PublicAccessBlockConfiguration:
        BlockPublicAcls: true
        IgnorePublicAcls: true
        BlockPublicPolicy: true
        RestrictPublicBuckets: {{RESTRICT}}"#,
        ),
    };
    cases.push(s3_bucket_public_access_block.case(
        Pass,
        "bucket blocking all public access",
        |a| Box::pin(bucket_block(a, "blocked", true)),
        &[("NAME", "blocked"), ("RESTRICT", "true")],
    ));
    cases.push(Case {
        name: "bucket leaving Block Public Access at its default",
        cids: &[60],
        want: Pass,
        // S3 turns all four settings on for new buckets; moto does not.
        moto: Some(|a| Box::pin(bucket_block(a, "default-block", true))),
        terraform: r#"resource "aws_s3_bucket" "this" { bucket = "default-block" }"#.into(),
        cloudformation: Some("Resources: { Bucket: { Type: AWS::S3::Bucket } }".into()),
    });
    cases.push(s3_bucket_public_access_block.case(
        Fail,
        "bucket not restricting public buckets",
        |a| Box::pin(bucket_block(a, "half-blocked", false)),
        &[("NAME", "half-blocked"), ("RESTRICT", "false")],
    ));
    cases.push(s3_bucket_versioning.case(
        Fail,
        "bucket with versioning suspended",
        |a| Box::pin(bucket_versioning(a, "suspended", Some(Status::Suspended))),
        &[
            ("NAME", "suspended"),
            ("BUCKET_ATTRIBUTE", "bucket"),
            ("STATUS", "Suspended"),
        ],
    ));
    cases.push(s3_bucket_acl.case(
        Fail,
        "bucket with an authenticated-read ACL",
        |a| Box::pin(bucket_acl(a, "authenticated-read", Acl::AuthenticatedRead)),
        &[
            ("NAME", "authenticated-read"),
            ("ACL", "authenticated-read"),
            ("ACCESS_CONTROL", "AuthenticatedRead"),
        ],
    ));
    cases.push(Case {
        name: "bucket versioned through the legacy inline argument",
        cids: &[48],
        want: Pass,
        moto: Some(|a| {
            Box::pin(bucket_versioning(
                a,
                "inline-versioned",
                Some(Status::Enabled),
            ))
        }),
        terraform: r#"
resource "aws_s3_bucket" "this" {
  bucket = "inline-versioned"
  versioning { enabled = true }
}"#
        .into(),
        cloudformation: None,
    });
    cases.push(Case {
        name: "bucket with a public-read-write ACL through the legacy inline argument",
        cids: &[45],
        want: Fail,
        moto: Some(|a| Box::pin(bucket_acl(a, "inline-public", Acl::PublicReadWrite))),
        terraform: r#"
resource "aws_s3_bucket" "this" {
  bucket = "inline-public"
  acl    = "public-read-write"
}"#
        .into(),
        cloudformation: Some(
            r#"
Resources:
  Bucket:
    Type: AWS::S3::Bucket
    Properties: { AccessControl: PublicReadWrite }"#
                .into(),
        ),
    });

    // --- EC2 security groups --------------------------------------------
    // One inline TCP rule open to one IPv4 range.
    let tcp_security_group = Template {
        cids: &[38, 39, 41, 42, 44],
        terraform: r#"
resource "aws_security_group" "this" {
  name = "{{NAME}}"
  ingress {
    protocol    = "tcp"
    from_port   = {{FROM}}
    to_port     = {{TO}}
    cidr_blocks = ["{{CIDR}}"]
  }
}"#,
        cloudformation: Some(
            r#"
Resources:
  Group:
    Type: AWS::EC2::SecurityGroup
    Properties:
      GroupDescription: {{NAME}}
      SecurityGroupIngress:
        - { IpProtocol: tcp, FromPort: {{FROM}}, ToPort: {{TO}}, CidrIp: {{CIDR}} }"#,
        ),
    };
    cases.push(tcp_security_group.case(
        Pass,
        "security group open to the world on 443 only",
        |a| Box::pin(group(a, "https", "tcp", 443, 443, "0.0.0.0/0")),
        &[
            ("NAME", "https"),
            ("FROM", "443"),
            ("TO", "443"),
            ("CIDR", "0.0.0.0/0"),
        ],
    ));
    cases.push(tcp_security_group.with_cids(&[38, 41]).case(
        Fail,
        "security group with SSH open to 0.0.0.0/0",
        |a| Box::pin(group(a, "ssh", "tcp", 22, 22, "0.0.0.0/0")),
        &[
            ("NAME", "ssh"),
            ("FROM", "22"),
            ("TO", "22"),
            ("CIDR", "0.0.0.0/0"),
        ],
    ));
    cases.push(Case {
        name: "security group with RDP open to ::/0",
        cids: &[39, 42],
        want: Fail,
        moto: Some(|a| Box::pin(group(a, "rdp", "tcp", 3389, 3389, "::/0"))),
        terraform: r#"
resource "aws_security_group" "this" {
  name = "rdp"
  ingress {
    protocol         = "tcp"
    from_port        = 3389
    to_port          = 3389
    ipv6_cidr_blocks = ["::/0"]
  }
}"#
        .into(),
        cloudformation: Some(
            r#"
Resources:
  Group:
    Type: AWS::EC2::SecurityGroup
    Properties:
      GroupDescription: rdp
      SecurityGroupIngress:
        - { IpProtocol: tcp, FromPort: 3389, ToPort: 3389, CidrIpv6: "::/0" }"#
                .into(),
        ),
    });
    cases.push(Case {
        name: "security group open to the world on every protocol",
        cids: &[38, 41, 42, 44],
        want: Fail,
        moto: Some(|a| Box::pin(group(a, "all", "-1", -1, -1, "0.0.0.0/0"))),
        terraform: r#"
resource "aws_security_group" "this" {
  name = "all"
  ingress {
    protocol    = "-1"
    from_port   = 0
    to_port     = 0
    cidr_blocks = ["0.0.0.0/0"]
  }
}"#
        .into(),
        cloudformation: Some(
            r#"
Resources:
  Group:
    Type: AWS::EC2::SecurityGroup
    Properties:
      GroupDescription: all
      SecurityGroupIngress:
        - { IpProtocol: "-1", CidrIp: 0.0.0.0/0 }"#
                .into(),
        ),
    });
    cases.push(tcp_security_group.case(
        Pass,
        "security group with SSH open to a private range only",
        |a| Box::pin(group(a, "internal", "tcp", 22, 22, "10.0.0.0/8")),
        &[
            ("NAME", "internal"),
            ("FROM", "22"),
            ("TO", "22"),
            ("CIDR", "10.0.0.0/8"),
        ],
    ));
    cases.push(Case {
        name: "security group whose SSH rule is a separate resource",
        cids: &[38, 41],
        want: Fail,
        moto: Some(|a| Box::pin(group(a, "ssh-rule", "tcp", 22, 22, "0.0.0.0/0"))),
        terraform: r#"
resource "aws_security_group" "this" { name = "ssh-rule" }
resource "aws_vpc_security_group_ingress_rule" "ssh" {
  security_group_id = aws_security_group.this.id
  ip_protocol       = "tcp"
  from_port         = 22
  to_port           = 22
  cidr_ipv4         = "0.0.0.0/0"
}"#
        .into(),
        cloudformation: Some(
            r#"
Resources:
  Group:
    Type: AWS::EC2::SecurityGroup
    Properties: { GroupDescription: ssh-rule }
  Ssh:
    Type: AWS::EC2::SecurityGroupIngress
    Properties:
      GroupId: !GetAtt Group.GroupId
      IpProtocol: tcp
      FromPort: 22
      ToPort: 22
      CidrIp: 0.0.0.0/0"#
                .into(),
        ),
    });
    cases.push(Case {
        name: "security group whose separate rule opens a port range covering 3389",
        cids: &[38, 42],
        want: Fail,
        moto: Some(|a| Box::pin(group(a, "range", "tcp", 3000, 4000, "0.0.0.0/0"))),
        terraform: r#"
resource "aws_security_group" "this" { name = "range" }
resource "aws_security_group_rule" "range" {
  type              = "ingress"
  security_group_id = aws_security_group.this.id
  protocol          = "tcp"
  from_port         = 3000
  to_port           = 4000
  cidr_blocks       = ["0.0.0.0/0"]
}"#
        .into(),
        cloudformation: Some(
            r#"
Resources:
  Group:
    Type: AWS::EC2::SecurityGroup
    Properties: { GroupDescription: range }
  Range:
    Type: AWS::EC2::SecurityGroupIngress
    Properties:
      GroupId: !Ref Group
      IpProtocol: tcp
      FromPort: 3000
      ToPort: 4000
      CidrIp: 0.0.0.0/0"#
                .into(),
        ),
    });
    cases.push(tcp_security_group.with_cids(&[38, 41, 42, 44]).case(
        Fail,
        "security group opening every TCP port to 0.0.0.0/0",
        |a| Box::pin(group(a, "tcp-all", "tcp", 0, 65535, "0.0.0.0/0")),
        &[
            ("NAME", "tcp-all"),
            ("FROM", "0"),
            ("TO", "65535"),
            ("CIDR", "0.0.0.0/0"),
        ],
    ));

    // --- EBS, EC2 instances ---------------------------------------------
    let ebs_volume = Template {
        cids: &[24],
        terraform: r#"
resource "aws_ebs_volume" "this" {
  availability_zone = "us-east-1a"
  size              = 8
  encrypted         = {{ENCRYPTED}}
}"#,
        cloudformation: Some(
            r#"
Resources:
  Volume:
    Type: AWS::EC2::Volume
    Properties: { AvailabilityZone: us-east-1a, Size: 8, Encrypted: {{ENCRYPTED}} }"#,
        ),
    };
    cases.push(ebs_volume.case(
        Pass,
        "encrypted volume",
        |a| Box::pin(volume(a, true)),
        &[("ENCRYPTED", "true")],
    ));
    cases.push(ebs_volume.case(
        Fail,
        "unencrypted volume",
        |a| Box::pin(volume(a, false)),
        &[("ENCRYPTED", "false")],
    ));
    cases.push(Case {
        name: "instance requiring IMDSv2, with an instance profile",
        cids: &[43, 49],
        want: Pass,
        moto: Some(|a| Box::pin(instance(a, "required", "enabled", true))),
        terraform: r#"
resource "aws_iam_instance_profile" "app" { name = "app" }
resource "aws_instance" "this" {
  ami                  = "ami-12c6146b"
  instance_type        = "t3.micro"
  iam_instance_profile = aws_iam_instance_profile.app.name
  metadata_options {
    http_endpoint = "enabled"
    http_tokens   = "required"
  }
}"#
        .into(),
        // An instance's metadata options are set through a launch template.
        cloudformation: Some(
            r#"
Resources:
  Template:
    Type: AWS::EC2::LaunchTemplate
    Properties:
      LaunchTemplateName: imdsv2
      LaunchTemplateData:
        MetadataOptions: { HttpEndpoint: enabled, HttpTokens: required }
  Profile:
    Type: AWS::IAM::InstanceProfile
    Properties: { Roles: [] }
  Instance:
    Type: AWS::EC2::Instance
    Properties:
      ImageId: ami-12c6146b
      InstanceType: t3.micro
      IamInstanceProfile: !Ref Profile
      LaunchTemplate:
        LaunchTemplateName: imdsv2
        Version: "1""#
                .into(),
        ),
    });

    // An instance without a profile whose metadata options come from a
    // launch template in CloudFormation, referenced as `{{LAUNCH_TEMPLATE}}`.
    let instance_metadata = Template {
        cids: &[43, 49],
        terraform: r#"
resource "aws_instance" "this" {
  ami           = "ami-12c6146b"
  instance_type = "t3.micro"
  metadata_options {
    http_endpoint = "{{ENDPOINT}}"
    http_tokens   = "{{TOKENS}}"
  }
}"#,
        cloudformation: Some(
            r#"
Resources:
  Template:
    Type: AWS::EC2::LaunchTemplate
    Properties:
      LaunchTemplateName: {{TEMPLATE_NAME}}
      LaunchTemplateData:
        MetadataOptions: { HttpEndpoint: {{ENDPOINT}}, HttpTokens: {{TOKENS}} }
  Instance:
    Type: AWS::EC2::Instance
    Properties:
      ImageId: ami-12c6146b
      InstanceType: t3.micro
      LaunchTemplate:
{{LAUNCH_TEMPLATE}}"#,
        ),
    };
    cases.push(instance_metadata.case(
        Fail,
        "instance allowing IMDSv1, without an instance profile",
        |a| Box::pin(instance(a, "optional", "enabled", false)),
        &[
            ("ENDPOINT", "enabled"),
            ("TOKENS", "optional"),
            ("TEMPLATE_NAME", "imdsv1"),
            (
                "LAUNCH_TEMPLATE",
                r#"        LaunchTemplateName: imdsv1
        Version: "1""#,
            ),
        ],
    ));
    cases.push(instance_metadata.with_cids(&[43]).case(
        Pass,
        "instance with the metadata endpoint disabled",
        |a| Box::pin(instance(a, "optional", "disabled", false)),
        &[
            ("ENDPOINT", "disabled"),
            ("TOKENS", "optional"),
            ("TEMPLATE_NAME", "no-imds"),
            (
                "LAUNCH_TEMPLATE",
                "        LaunchTemplateId: !Ref Template
        Version: !GetAtt Template.LatestVersionNumber",
            ),
        ],
    ));

    // --- VPC ---------------------------------------------------------------
    cases.push(Case {
        name: "VPC with a flow log",
        cids: &[36],
        want: Pass,
        moto: Some(|a| Box::pin(vpc(a, true))),
        terraform: r#"
resource "aws_vpc" "this" { cidr_block = "10.80.0.0/16" }
resource "aws_flow_log" "this" {
  vpc_id               = aws_vpc.this.id
  traffic_type         = "ALL"
  log_destination_type = "s3"
  log_destination      = "arn:aws:s3:::flow-logs"
}"#
        .into(),
        cloudformation: Some(
            vpc_cfn("10.80.0.0/16")
                + r#"
  FlowLog:
    Type: AWS::EC2::FlowLog
    Properties:
      ResourceId: !Ref Vpc
      ResourceType: VPC
      TrafficType: ALL
      LogDestinationType: s3
      LogDestination: arn:aws:s3:::flow-logs"#,
        ),
    });
    cases.push(Case {
        name: "VPC without a flow log",
        cids: &[36],
        want: Fail,
        moto: Some(|a| Box::pin(vpc(a, false))),
        terraform: r#"resource "aws_vpc" "this" { cidr_block = "10.80.0.0/16" }"#.into(),
        cloudformation: Some(vpc_cfn("10.80.0.0/16")),
    });

    let vpc_subnet = Template {
        cids: &[47],
        terraform: r#"
resource "aws_vpc" "this" { cidr_block = "10.81.0.0/16" }
resource "aws_subnet" "this" {
  vpc_id                  = aws_vpc.this.id
  cidr_block              = "10.81.1.0/24"
  map_public_ip_on_launch = {{PUBLIC}}
}"#,
        cloudformation: Some(
            r#"
Resources:
  Vpc:
    Type: AWS::EC2::VPC
    Properties: { CidrBlock: 10.81.0.0/16 }
  Subnet:
    Type: AWS::EC2::Subnet
    Properties: { VpcId: !Ref Vpc, CidrBlock: 10.81.1.0/24, MapPublicIpOnLaunch: {{PUBLIC}} }"#,
        ),
    };
    cases.push(vpc_subnet.case(
        Pass,
        "private subnet",
        |a| Box::pin(subnet(a, Some(false))),
        &[("PUBLIC", "false")],
    ));
    cases.push(vpc_subnet.case(
        Fail,
        "subnet mapping public IPs at launch",
        |a| Box::pin(subnet(a, Some(true))),
        &[("PUBLIC", "true")],
    ));
    cases.push(Case {
        name: "subnet leaving MapPublicIpOnLaunch at its default",
        cids: &[47],
        want: Pass,
        moto: Some(|a| Box::pin(subnet(a, None))),
        terraform: r#"
resource "aws_vpc" "this" { cidr_block = "10.81.0.0/16" }
resource "aws_subnet" "this" {
  vpc_id     = aws_vpc.this.id
  cidr_block = "10.81.1.0/24"
}"#
        .into(),
        cloudformation: Some(
            vpc_cfn("10.81.0.0/16")
                + r#"
  Subnet:
    Type: AWS::EC2::Subnet
    Properties: { VpcId: !Ref Vpc, CidrBlock: 10.81.1.0/24 }"#,
        ),
    });

    // --- RDS ---------------------------------------------------------------
    // `{{PORT_AND_AFTER}}` is the port and, where set, the minor upgrades.
    let db_instance = Template {
        cids: &[53, 51, 25, 26, 55, 56],
        terraform: r#"
resource "aws_db_instance" "this" {
  identifier              = "{{ID}}"
  engine                  = "postgres"
  instance_class          = "db.t3.micro"
  allocated_storage       = 20
  username                = "vigil"
  password                = "not-a-real-password"
  storage_encrypted       = {{ENCRYPTED}}
  publicly_accessible     = {{PUBLIC}}
  multi_az                = {{MULTI_AZ}}
  backup_retention_period = {{BACKUPS}}
{{PORT_AND_AFTER}}
}"#,
        cloudformation: Some(
            r#"
Resources:
  Db:
    Type: AWS::RDS::DBInstance
    Properties:
      DBInstanceIdentifier: {{ID}}
      Engine: postgres
      DBInstanceClass: db.t3.micro
      AllocatedStorage: "20"
      MasterUsername: vigil
      MasterUserPassword: not-a-real-password
      StorageEncrypted: {{ENCRYPTED}}
      PubliclyAccessible: {{PUBLIC}}
      MultiAZ: {{MULTI_AZ}}
      BackupRetentionPeriod: {{BACKUPS}}
{{CFN_PORT_AND_AFTER}}"#,
        ),
    };
    cases.push(db_instance.case(
        Pass,
        "encrypted, private, Multi-AZ database keeping 7 days of backups",
        |a| Box::pin(database(a, Db::Strong)),
        &[
            ("ID", "strong"),
            ("ENCRYPTED", "true"),
            ("PUBLIC", "false"),
            ("MULTI_AZ", "true"),
            ("BACKUPS", "7"),
            ("PORT_AND_AFTER", "  port                    = 5433"),
            ("CFN_PORT_AND_AFTER", r#"      Port: "5433""#),
        ],
    ));
    cases.push(db_instance.case(
        Fail,
        "unencrypted, public, single-AZ database keeping 1 day of backups",
        |a| Box::pin(database(a, Db::Weak)),
        &[
            ("ID", "weak"),
            ("ENCRYPTED", "false"),
            ("PUBLIC", "true"),
            ("MULTI_AZ", "false"),
            ("BACKUPS", "1"),
            (
                "PORT_AND_AFTER",
                "  port                       = 5432\n  auto_minor_version_upgrade = false",
            ),
            (
                "CFN_PORT_AND_AFTER",
                "      Port: \"5432\"\n      AutoMinorVersionUpgrade: false",
            ),
        ],
    ));
    cases.push(Case {
        name: "database created with the API's defaults",
        cids: &[53, 25, 26],
        want: Fail,
        moto: Some(|a| Box::pin(database(a, Db::Defaults))),
        terraform: r#"
resource "aws_db_instance" "this" {
  identifier        = "defaults"
  engine            = "postgres"
  instance_class    = "db.t3.micro"
  allocated_storage = 20
  username          = "vigil"
  password          = "not-a-real-password"
}"#
        .into(),
        cloudformation: Some(
            r#"
Resources:
  Db:
    Type: AWS::RDS::DBInstance
    Properties:
      DBInstanceIdentifier: defaults
      Engine: postgres
      DBInstanceClass: db.t3.micro
      AllocatedStorage: "20"
      MasterUsername: vigil
      MasterUserPassword: not-a-real-password"#
                .into(),
        ),
    });

    // --- IAM (no CloudFormation resource type) ----------------------------
    cases.push(Case {
        name: "strict password policy",
        cids: &[11, 12, 15, 16, 18, 19, 20],
        want: Pass,
        moto: Some(|a| Box::pin(password_policy(a, true))),
        terraform: r#"
resource "aws_iam_account_password_policy" "this" {
  minimum_password_length      = 14
  require_uppercase_characters = true
  require_lowercase_characters = true
  require_symbols              = true
  require_numbers              = true
  password_reuse_prevention    = 24
  max_password_age             = 90
}"#
        .into(),
        cloudformation: None,
    });
    cases.push(Case {
        name: "lax password policy",
        cids: &[11, 12, 15, 16, 18, 19, 20],
        want: Fail,
        moto: Some(|a| Box::pin(password_policy(a, false))),
        terraform: r#"
resource "aws_iam_account_password_policy" "this" {
  minimum_password_length      = 8
  require_uppercase_characters = false
  require_lowercase_characters = false
  require_symbols              = false
  require_numbers              = false
}"#
        .into(),
        cloudformation: None,
    });
    cases.push(Case {
        name: "user without policies of its own",
        cids: &[17],
        want: Pass,
        moto: Some(|a| Box::pin(user(a, false))),
        terraform: r#"resource "aws_iam_user" "this" { name = "grouped" }"#.into(),
        cloudformation: Some(
            r#"
Resources:
  User:
    Type: AWS::IAM::User
    Properties: { UserName: grouped }"#
                .into(),
        ),
    });
    cases.push(Case {
        name: "user with a managed policy attached directly",
        cids: &[17],
        want: Fail,
        moto: Some(|a| Box::pin(user(a, true))),
        terraform: r#"
resource "aws_iam_user" "this" { name = "direct" }
resource "aws_iam_user_policy_attachment" "this" {
  user       = aws_iam_user.this.name
  policy_arn = "arn:aws:iam::123456789012:policy/read-only"
}"#
        .into(),
        cloudformation: Some(
            r#"
Resources:
  User:
    Type: AWS::IAM::User
    Properties:
      UserName: direct
      ManagedPolicyArns: [arn:aws:iam::123456789012:policy/read-only]"#
                .into(),
        ),
    });

    // --- KMS -------------------------------------------------------------
    let kms_key_rotation = Template {
        cids: &[33],
        terraform: r#"resource "aws_kms_key" "this" { enable_key_rotation = {{ROTATE}} }"#,
        cloudformation: Some(
            r#"
Resources:
  Key:
    Type: AWS::KMS::Key
    Properties: { EnableKeyRotation: {{ROTATE}} }"#,
        ),
    };
    cases.push(kms_key_rotation.case(
        Pass,
        "key with rotation",
        |a| Box::pin(key(a, true)),
        &[("ROTATE", "true")],
    ));
    cases.push(kms_key_rotation.case(
        Fail,
        "key without rotation",
        |a| Box::pin(key(a, false)),
        &[("ROTATE", "false")],
    ));
    cases.push(Case {
        name: "key leaving rotation at its default",
        cids: &[33],
        want: Fail,
        moto: Some(|a| Box::pin(key(a, false))),
        terraform: r#"resource "aws_kms_key" "this" {}"#.into(),
        cloudformation: Some("Resources: { Key: { Type: AWS::KMS::Key } }".into()),
    });
    cases.push(Case {
        name: "key whose policy trusts its account only",
        cids: &[35],
        want: Pass,
        moto: Some(|a| Box::pin(key_policy(a, false))),
        terraform: r#"
resource "aws_kms_key" "this" {
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { AWS = "arn:aws:iam::123456789012:root" }
      Action    = "kms:*"
      Resource  = "*"
    }]
  })
}"#
        .into(),
        cloudformation: Some(
            r#"
Resources:
  Key:
    Type: AWS::KMS::Key
    Properties:
      KeyPolicy:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Principal: { AWS: arn:aws:iam::123456789012:root }
            Action: kms:*
            Resource: "*""#
                .into(),
        ),
    });
    cases.push(Case {
            name: "key whose policy trusts anyone",
            cids: &[35],
            want: Fail,
            moto: Some(|a| Box::pin(key_policy(a, true))),
            terraform: r#"
resource "aws_kms_key" "this" {
  policy = <<-EOT
    {"Version": "2012-10-17",
     "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "kms:*", "Resource": "*"}]}
  EOT
}"#.into(),
            cloudformation: Some(
                r#"
Resources:
  Key:
    Type: AWS::KMS::Key
    Properties:
      KeyPolicy:
        Version: "2012-10-17"
        Statement:
          - { Effect: Allow, Principal: { AWS: "*" }, Action: "kms:*", Resource: "*" }"#.into()
            ),
        });

    // --- CloudTrail ------------------------------------------------------
    let cloudtrail = Template {
        cids: &[27, 28],
        terraform: r#"
resource "aws_cloudtrail" "this" {
  name                       = "{{NAME}}"
  s3_bucket_name             = "trail-logs"
  is_multi_region_trail      = {{STRICT}}
  enable_log_file_validation = {{STRICT}}
  enable_logging             = true
  event_selector {
    read_write_type           = "All"
    include_management_events = true
  }
}"#,
        cloudformation: Some(
            r#"
Resources:
  Trail:
    Type: AWS::CloudTrail::Trail
    Properties:
      TrailName: {{NAME}}
      S3BucketName: trail-logs
      IsLogging: true
      IsMultiRegionTrail: {{STRICT}}
      EnableLogFileValidation: {{STRICT}}
      EventSelectors:
        - { ReadWriteType: All, IncludeManagementEvents: true }"#,
        ),
    };
    cases.push(cloudtrail.case(
        Pass,
        "multi-region trail validating its log files",
        |a| Box::pin(trail(a, "audit", true, Events::Management)),
        &[("NAME", "audit"), ("STRICT", "true")],
    ));
    cases.push(Case {
        name: "trail recording S3 object events of every bucket",
        cids: &[27, 28, 30, 31],
        want: Pass,
        moto: Some(|a| Box::pin(trail(a, "data", true, Events::ManagementAndS3Objects))),
        terraform: r#"
resource "aws_cloudtrail" "this" {
  name                       = "data"
  s3_bucket_name             = "trail-logs"
  is_multi_region_trail      = true
  enable_log_file_validation = true
  event_selector {
    read_write_type           = "All"
    include_management_events = true
    data_resource {
      type   = "AWS::S3::Object"
      values = ["arn:aws:s3"]
    }
  }
}"#
        .into(),
        cloudformation: Some(
            trail_cfn()
                + r#"
      IsMultiRegionTrail: true
      EnableLogFileValidation: true
      EventSelectors:
        - ReadWriteType: All
          IncludeManagementEvents: true
          DataResources:
            - { Type: "AWS::S3::Object", Values: ["arn:aws:s3"] }"#,
        ),
    });
    cases.push(Case {
        name: "trail delivering to CloudWatch Logs",
        cids: &[32],
        want: Pass,
        moto: Some(|a| Box::pin(streamed_trail(a))),
        terraform: r#"
resource "aws_cloudtrail" "this" {
  name                       = "streamed"
  s3_bucket_name             = "trail-logs"
  cloud_watch_logs_group_arn = "arn:aws:logs:us-east-1:123456789012:log-group:cloudtrail:*"
  cloud_watch_logs_role_arn  = "arn:aws:iam::123456789012:role/cloudtrail-to-logs"
}"#
        .into(),
        cloudformation: Some(
            trail_cfn()
                + r#"
      CloudWatchLogsLogGroupArn: arn:aws:logs:us-east-1:123456789012:log-group:cloudtrail:*
      CloudWatchLogsRoleArn: arn:aws:iam::123456789012:role/cloudtrail-to-logs"#,
        ),
    });
    cases.push(cloudtrail.with_cids(&[27, 28, 30, 31, 32]).case(
        Fail,
        "single-region trail without log file validation, data events or CloudWatch Logs",
        |a| Box::pin(trail(a, "local", false, Events::Management)),
        &[("NAME", "local"), ("STRICT", "false")],
    ));
    cases.push(Case {
        name: "multi-region trail with the default event selectors",
        cids: &[27, 28],
        want: Pass,
        moto: Some(|a| Box::pin(trail(a, "default-events", true, Events::Default))),
        terraform: r#"
resource "aws_cloudtrail" "this" {
  name                       = "default-events"
  s3_bucket_name             = "trail-logs"
  is_multi_region_trail      = true
  enable_log_file_validation = true
}"#
        .into(),
        cloudformation: Some(
            trail_cfn()
                + r#"
      IsMultiRegionTrail: true
      EnableLogFileValidation: true"#,
        ),
    });
    cases.push(Case {
        name: "trail encrypted with a KMS key",
        cids: &[29],
        want: Pass,
        moto: Some(|a| Box::pin(trail_encryption(a, true))),
        terraform: r#"
resource "aws_kms_key" "trail" {}
resource "aws_cloudtrail" "this" {
  name           = "sealed"
  s3_bucket_name = "trail-logs"
  kms_key_id     = aws_kms_key.trail.arn
}"#
        .into(),
        cloudformation: Some(
            r#"
Resources:
  Key:
    Type: AWS::KMS::Key
  Trail:
    Type: AWS::CloudTrail::Trail
    Properties:
      S3BucketName: trail-logs
      IsLogging: true
      KMSKeyId: !GetAtt Key.Arn"#
                .into(),
        ),
    });
    cases.push(Case {
        name: "trail without KMS encryption",
        cids: &[29],
        want: Fail,
        moto: Some(|a| Box::pin(trail_encryption(a, false))),
        terraform: r#"
resource "aws_cloudtrail" "this" {
  name           = "clear"
  s3_bucket_name = "trail-logs"
}"#
        .into(),
        cloudformation: Some(
            r#"
Resources:
  Trail:
    Type: AWS::CloudTrail::Trail
    Properties: { S3BucketName: trail-logs, IsLogging: true }"#
                .into(),
        ),
    });

    // --- ELBv2 -------------------------------------------------------------
    cases.push(Case {
        name: "load balancer with deletion protection",
        cids: &[66],
        want: Pass,
        moto: Some(|a| {
            Box::pin(load_balancer(
                a,
                "protected",
                &[("deletion_protection.enabled", "true")],
            ))
        }),
        terraform: r#"
resource "aws_lb" "this" {
  name                       = "protected"
  subnets                    = ["subnet-0a", "subnet-0b"]
  enable_deletion_protection = true
}"#
        .into(),
        cloudformation: Some(
            lb_cfn("protected")
                + r#"
      LoadBalancerAttributes:
        - { Key: deletion_protection.enabled, Value: "true" }"#,
        ),
    });
    cases.push(Case {
        name: "load balancer without deletion protection",
        cids: &[66],
        want: Fail,
        moto: Some(|a| Box::pin(load_balancer(a, "unprotected", &[]))),
        terraform: r#"
resource "aws_lb" "this" {
  name    = "unprotected"
  subnets = ["subnet-0a", "subnet-0b"]
}"#
        .into(),
        cloudformation: Some(lb_cfn("unprotected")),
    });
    cases.push(Case {
        name: "load balancer logging access, dropping invalid headers, strictest desync mitigation",
        cids: &[67, 68, 69],
        want: Pass,
        moto: Some(|a| {
            Box::pin(load_balancer(
                a,
                "hardened",
                &[
                    ("access_logs.s3.enabled", "true"),
                    ("access_logs.s3.bucket", "alb-logs"),
                    ("routing.http.drop_invalid_header_fields.enabled", "true"),
                    ("routing.http.desync_mitigation_mode", "strictest"),
                ],
            ))
        }),
        terraform: r#"
resource "aws_lb" "this" {
  name                       = "hardened"
  subnets                    = ["subnet-0a", "subnet-0b"]
  drop_invalid_header_fields = true
  desync_mitigation_mode     = "strictest"
  access_logs {
    bucket  = "alb-logs"
    enabled = true
  }
}"#
        .into(),
        cloudformation: Some(
            lb_cfn("hardened")
                + r#"
      LoadBalancerAttributes:
        - { Key: access_logs.s3.enabled, Value: "true" }
        - { Key: access_logs.s3.bucket, Value: alb-logs }
        - { Key: routing.http.drop_invalid_header_fields.enabled, Value: "true" }
        - { Key: routing.http.desync_mitigation_mode, Value: strictest }"#,
        ),
    });
    cases.push(Case {
        name: "load balancer without access logs, keeping invalid headers, monitoring desync only",
        cids: &[67, 68, 69],
        want: Fail,
        moto: Some(|a| {
            Box::pin(load_balancer(
                a,
                "monitored",
                // moto reports the header attribute only once it is set.
                &[
                    ("routing.http.drop_invalid_header_fields.enabled", "false"),
                    ("routing.http.desync_mitigation_mode", "monitor"),
                ],
            ))
        }),
        terraform: r#"
resource "aws_lb" "this" {
  name                   = "monitored"
  subnets                = ["subnet-0a", "subnet-0b"]
  desync_mitigation_mode = "monitor"
}"#
        .into(),
        cloudformation: Some(
            lb_cfn("monitored")
                + r#"
      LoadBalancerAttributes:
        - { Key: routing.http.desync_mitigation_mode, Value: monitor }"#,
        ),
    });

    // An HTTPS listener and an HTTP one whose action is `{{HTTP_ACTION}}`.
    let lb_listeners = Template {
        cids: &[64, 65],
        terraform: r#"
resource "aws_lb" "this" {
  name    = "{{NAME}}"
  subnets = ["subnet-0a", "subnet-0b"]
}
resource "aws_lb_listener" "https" {
  load_balancer_arn = aws_lb.this.arn
  protocol          = "HTTPS"
  port              = 443
  ssl_policy        = "{{POLICY}}"
  certificate_arn   = "arn:aws:iam::123456789012:server-certificate/web"
  default_action {
    type             = "forward"
    target_group_arn = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/0123456789abcdef"
  }
}
resource "aws_lb_listener" "http" {
  load_balancer_arn = aws_lb.this.arn
  protocol          = "HTTP"
  port              = 80
  default_action {
{{HTTP_ACTION}}
  }
}"#,
        cloudformation: Some(
            r#"
Resources:
  Lb:
    Type: AWS::ElasticLoadBalancingV2::LoadBalancer
    Properties:
      Name: {{NAME}}
      Subnets: [subnet-0a, subnet-0b]
  Https:
    Type: AWS::ElasticLoadBalancingV2::Listener
    Properties:
      LoadBalancerArn: !Ref Lb
      Protocol: HTTPS
      Port: 443
      SslPolicy: {{POLICY}}
      Certificates: [{ CertificateArn: "arn:aws:iam::123456789012:server-certificate/web" }]
      DefaultActions:
        - Type: forward
          TargetGroupArn: arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/0123456789abcdef
  Http:
    Type: AWS::ElasticLoadBalancingV2::Listener
    Properties:
      LoadBalancerArn: !Ref Lb
      Protocol: HTTP
      Port: 80
      DefaultActions:
{{CFN_HTTP_ACTION}}"#,
        ),
    };
    cases.push(lb_listeners.case(
        Pass,
        "load balancer serving HTTPS on TLS 1.3, HTTP redirecting to it",
        |a| Box::pin(listeners(a, true)),
        &[
            ("NAME", "redirecting"),
            ("POLICY", "ELBSecurityPolicy-TLS13-1-2-2021-06"),
            (
                "HTTP_ACTION",
                r#"    type = "redirect"
    redirect {
      protocol    = "HTTPS"
      port        = "443"
      status_code = "HTTP_301"
    }"#,
            ),
            (
                "CFN_HTTP_ACTION",
                r#"        - Type: redirect
          RedirectConfig: { Protocol: HTTPS, Port: "443", StatusCode: HTTP_301 }"#,
            ),
        ],
    ));
    cases.push(lb_listeners.case(
    Fail,
    "load balancer serving HTTPS on the 2016 policy, HTTP forwarding",
    |a| Box::pin(listeners(a, false)),
    &[
        ("NAME", "forwarding"),
        ("POLICY", "ELBSecurityPolicy-2016-08"),
        (
            "HTTP_ACTION",
            r#"    type             = "forward"
    target_group_arn = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/0123456789abcdef""#,
        ),
        (
            "CFN_HTTP_ACTION",
            r#"        - Type: forward
          TargetGroupArn: arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/0123456789abcdef"#,
        ),
    ],
));

    // --- Lambda ------------------------------------------------------------
    let lambda_function = Template {
        cids: &[63],
        terraform: LAMBDA_FUNCTION_TF,
        cloudformation: Some(LAMBDA_FUNCTION_CFN),
    };
    cases.push(lambda_function.case(
        Pass,
        "function on a supported runtime",
        |a| Box::pin(function(a, true)),
        &[("NAME", "current"), ("RUNTIME", "python3.12")],
    ));
    cases.push(lambda_function.case(
        Fail,
        "function on a deprecated runtime",
        |a| Box::pin(function(a, false)),
        &[("NAME", "outdated"), ("RUNTIME", "python3.8")],
    ));
    cases.push(Case {
        name: "function invocable by S3 only, behind an IAM-authenticated URL",
        cids: &[61, 62],
        want: Pass,
        moto: Some(|a| Box::pin(exposure(a, false))),
        terraform: fill(
            LAMBDA_FUNCTION_TF,
            &[("NAME", "guarded"), ("RUNTIME", "python3.12")],
        ) + r#"
resource "aws_lambda_permission" "s3" {
  statement_id  = "invoke"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.this.function_name
  principal     = "s3.amazonaws.com"
  source_arn    = "arn:aws:s3:::uploads"
}
resource "aws_lambda_function_url" "this" {
  function_name      = aws_lambda_function.this.function_name
  authorization_type = "AWS_IAM"
}"#,
        cloudformation: Some(
            fill(
                LAMBDA_FUNCTION_CFN,
                &[("NAME", "guarded"), ("RUNTIME", "python3.12")],
            ) + r#"
  Invoke:
    Type: AWS::Lambda::Permission
    Properties:
      FunctionName: !Ref Fn
      Action: lambda:InvokeFunction
      Principal: s3.amazonaws.com
      SourceArn: arn:aws:s3:::uploads
  Url:
    Type: AWS::Lambda::Url
    Properties: { TargetFunctionArn: !GetAtt Fn.Arn, AuthType: AWS_IAM }"#,
        ),
    });
    cases.push(Case {
        name: "function invocable by anyone, behind a URL without authentication",
        cids: &[61, 62],
        want: Fail,
        moto: Some(|a| Box::pin(exposure(a, true))),
        terraform: fill(
            LAMBDA_FUNCTION_TF,
            &[("NAME", "exposed"), ("RUNTIME", "python3.12")],
        ) + r#"
resource "aws_lambda_permission" "anyone" {
  statement_id  = "invoke"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.this.function_name
  principal     = "*"
}
resource "aws_lambda_function_url" "this" {
  function_name      = aws_lambda_function.this.function_name
  authorization_type = "NONE"
}"#,
        cloudformation: Some(
            fill(
                LAMBDA_FUNCTION_CFN,
                &[("NAME", "exposed"), ("RUNTIME", "python3.12")],
            ) + r#"
  Invoke:
    Type: AWS::Lambda::Permission
    Properties:
      FunctionName: !GetAtt Fn.Arn
      Action: lambda:InvokeFunction
      Principal: "*"
  Url:
    Type: AWS::Lambda::Url
    Properties: { TargetFunctionArn: !Ref Fn, AuthType: NONE }"#,
        ),
    });

    // --- Network ACLs ----------------------------------------------------
    cases.push(Case {
        name: "network ACL with only the implicit denies",
        cids: &[37],
        want: Pass,
        moto: Some(|a| Box::pin(network_acl(a, false))),
        terraform: r#"
resource "aws_vpc" "this" { cidr_block = "10.82.0.0/16" }
resource "aws_network_acl" "this" { vpc_id = aws_vpc.this.id }"#
            .into(),
        cloudformation: Some(
            vpc_cfn("10.82.0.0/16")
                + r#"
  Acl:
    Type: AWS::EC2::NetworkAcl
    Properties: { VpcId: !Ref Vpc }"#,
        ),
    });
    cases.push(Case {
        name: "network ACL allowing SSH from anywhere",
        cids: &[37],
        want: Fail,
        moto: Some(|a| Box::pin(network_acl(a, true))),
        terraform: r#"
resource "aws_vpc" "this" { cidr_block = "10.82.0.0/16" }
resource "aws_network_acl" "this" {
  vpc_id = aws_vpc.this.id
  ingress {
    rule_no    = 100
    protocol   = "tcp"
    action     = "allow"
    cidr_block = "0.0.0.0/0"
    from_port  = 22
    to_port    = 22
  }
}"#
        .into(),
        cloudformation: Some(
            vpc_cfn("10.82.0.0/16")
                + r#"
  Acl:
    Type: AWS::EC2::NetworkAcl
    Properties: { VpcId: !Ref Vpc }
  Ssh:
    Type: AWS::EC2::NetworkAclEntry
    Properties:
      NetworkAclId: !Ref Acl
      RuleNumber: 100
      Protocol: 6
      RuleAction: allow
      Egress: false
      CidrBlock: 0.0.0.0/0
      PortRange: { From: 22, To: 22 }"#,
        ),
    });

    // --- EKS -------------------------------------------------------------
    cases.push(Case {
        name: "private EKS cluster, fully logged, secrets encrypted",
        cids: &[50, 57, 58, 59],
        want: Pass,
        moto: Some(|a| Box::pin(cluster(a, true))),
        terraform: r#"
resource "aws_kms_key" "eks" {}
resource "aws_eks_cluster" "this" {
  name                      = "sealed"
  role_arn                  = "arn:aws:iam::123456789012:role/eks"
  enabled_cluster_log_types = ["api", "audit", "authenticator", "controllerManager", "scheduler"]
  vpc_config {
    subnet_ids              = ["subnet-0a", "subnet-0b"]
    endpoint_public_access  = false
    endpoint_private_access = true
  }
  encryption_config {
    resources = ["secrets"]
    provider { key_arn = aws_kms_key.eks.arn }
  }
}"#
        .into(),
        cloudformation: Some(
            r#"
Resources:
  Key:
    Type: AWS::KMS::Key
  Cluster:
    Type: AWS::EKS::Cluster
    Properties:
      Name: sealed
      RoleArn: arn:aws:iam::123456789012:role/eks
      ResourcesVpcConfig:
        SubnetIds: [subnet-0a, subnet-0b]
        EndpointPublicAccess: false
        EndpointPrivateAccess: true
      Logging:
        ClusterLogging:
          EnabledTypes:
            - Type: api
            - Type: audit
            - Type: authenticator
            - Type: controllerManager
            - Type: scheduler
      EncryptionConfig:
        - Resources: [secrets]
          Provider: { KeyArn: !GetAtt Key.Arn }"#
                .into(),
        ),
    });
    cases.push(Case {
        name: "public EKS cluster logging the API only, secrets unencrypted",
        cids: &[50, 57, 58, 59],
        want: Fail,
        moto: Some(|a| Box::pin(cluster(a, false))),
        terraform: r#"
resource "aws_eks_cluster" "this" {
  name                      = "open"
  role_arn                  = "arn:aws:iam::123456789012:role/eks"
  enabled_cluster_log_types = ["api"]
  vpc_config {
    subnet_ids              = ["subnet-0a", "subnet-0b"]
    endpoint_private_access = true
  }
}"#
        .into(),
        cloudformation: Some(
            r#"
Resources:
  Cluster:
    Type: AWS::EKS::Cluster
    Properties:
      Name: open
      RoleArn: arn:aws:iam::123456789012:role/eks
      ResourcesVpcConfig:
        SubnetIds: [subnet-0a, subnet-0b]
        EndpointPrivateAccess: true
      Logging:
        ClusterLogging:
          EnabledTypes: [{ Type: api }]"#
                .into(),
        ),
    });

    // --- Account-wide settings without a CloudFormation resource type --
    cases.push(Case {
        name: "default security group without rules",
        cids: &[40],
        want: Pass,
        moto: Some(|a| Box::pin(default_group(a, true))),
        terraform: r#"
resource "aws_vpc" "this" { cidr_block = "10.83.0.0/16" }
resource "aws_default_security_group" "this" { vpc_id = aws_vpc.this.id }"#
            .into(),
        cloudformation: None,
    });
    cases.push(Case {
        name: "default security group keeping its self-reference and open egress",
        cids: &[40],
        want: Fail,
        moto: Some(|a| Box::pin(default_group(a, false))),
        terraform: r#"
resource "aws_vpc" "this" { cidr_block = "10.83.0.0/16" }
resource "aws_default_security_group" "this" {
  vpc_id = aws_vpc.this.id
  ingress {
    protocol  = "-1"
    self      = true
    from_port = 0
    to_port   = 0
  }
  egress {
    protocol    = "-1"
    from_port   = 0
    to_port     = 0
    cidr_blocks = ["0.0.0.0/0"]
  }
}"#
        .into(),
        cloudformation: None,
    });

    let ebs_encryption_by_default = Template {
        cids: &[23],
        terraform: r#"
provider "aws" { region = "us-east-1" }
resource "aws_ebs_encryption_by_default" "this" { enabled = {{ENABLED}} }"#,
        cloudformation: None,
    };
    cases.push(ebs_encryption_by_default.case(
        Pass,
        "EBS encryption by default on",
        |a| Box::pin(ebs_default(a, true)),
        &[("ENABLED", "true")],
    ));
    cases.push(ebs_encryption_by_default.case(
        Fail,
        "EBS encryption by default off",
        |a| Box::pin(ebs_default(a, false)),
        &[("ENABLED", "false")],
    ));

    let s3_account_public_access_block = Template {
        cids: &[21],
        terraform: r#"
resource "aws_s3_account_public_access_block" "this" {
  block_public_acls       = true
  ignore_public_acls      = true
  block_public_policy     = true
  restrict_public_buckets = {{RESTRICT}}
}"#,
        cloudformation: None,
    };
    cases.push(s3_account_public_access_block.case(
        Pass,
        "account blocking all public S3 access",
        |a| Box::pin(account_block(a, true)),
        &[("RESTRICT", "true")],
    ));
    cases.push(s3_account_public_access_block.case(
        Fail,
        "account not restricting public buckets",
        |a| Box::pin(account_block(a, false)),
        &[("RESTRICT", "false")],
    ));

    // --- Auto Scaling ----------------------------------------------------
    let autoscaling_group = Template {
        cids: &[70, 71, 72, 73],
        terraform: r#"
resource "aws_launch_configuration" "this" {
  name                        = "{{NAME}}"
  image_id                    = "ami-12c6146b"
  instance_type               = "t3.micro"
  associate_public_ip_address = {{PUBLIC_IP}}
  metadata_options {
    http_endpoint = "enabled"
    http_tokens   = "{{TOKENS}}"
  }
}
resource "aws_autoscaling_group" "this" {
  name                 = "{{NAME}}"
  launch_configuration = aws_launch_configuration.this.name
  min_size             = 0
  max_size             = 1
  availability_zones   = [{{ZONES}}]
  target_group_arns    = ["arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/0123456789abcdef"]
  health_check_type    = "{{HEALTH_CHECK}}"
}"#,
        cloudformation: Some(
            r#"
Resources:
  Config:
    Type: AWS::AutoScaling::LaunchConfiguration
    Properties:
      ImageId: ami-12c6146b
      InstanceType: t3.micro
      AssociatePublicIpAddress: {{PUBLIC_IP}}
      MetadataOptions: { HttpEndpoint: enabled, HttpTokens: {{TOKENS}} }
  Group:
    Type: AWS::AutoScaling::AutoScalingGroup
    Properties:
      LaunchConfigurationName: !Ref Config
      MinSize: "0"
      MaxSize: "1"
      AvailabilityZones: [{{CFN_ZONES}}]
      TargetGroupARNs: [arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/0123456789abcdef]
      HealthCheckType: {{HEALTH_CHECK}}"#,
        ),
    };
    cases.push(autoscaling_group.case(
        Pass,
        "hardened Auto Scaling group",
        |a| Box::pin(scaling_group(a, true)),
        &[
            ("NAME", "hardened"),
            ("PUBLIC_IP", "false"),
            ("TOKENS", "required"),
            ("ZONES", r#""us-east-1a", "us-east-1b""#),
            ("CFN_ZONES", "us-east-1a, us-east-1b"),
            ("HEALTH_CHECK", "ELB"),
        ],
    ));
    cases.push(autoscaling_group.case(
        Fail,
        "lax Auto Scaling group",
        |a| Box::pin(scaling_group(a, false)),
        &[
            ("NAME", "loose"),
            ("PUBLIC_IP", "true"),
            ("TOKENS", "optional"),
            ("ZONES", r#""us-east-1a""#),
            ("CFN_ZONES", "us-east-1a"),
            ("HEALTH_CHECK", "EC2"),
        ],
    ));
    cases
}

// --- moto seeding steps ------------------------------------------------------

/// A bucket named after `base` whose versioning is set to `status` (never
/// set when `None`).
async fn bucket_versioning(
    a: Account,
    base: &str,
    status: Option<aws_sdk_s3::types::BucketVersioningStatus>,
) -> String {
    use aws_sdk_s3::types::VersioningConfiguration;
    let name = create_bucket(&a, base, None).await;
    if let Some(status) = status {
        a.s3()
            .put_bucket_versioning()
            .bucket(&name)
            .versioning_configuration(VersioningConfiguration::builder().status(status).build())
            .send()
            .await
            .unwrap();
    }
    format!(":::{name}")
}

async fn create_bucket(
    a: &Account,
    base: &str,
    acl: Option<aws_sdk_s3::types::BucketCannedAcl>,
) -> String {
    let name = a.name(base);
    a.s3()
        .create_bucket()
        .bucket(&name)
        .set_acl(acl)
        .send()
        .await
        .unwrap();
    name
}

async fn bucket_acl(a: Account, base: &str, acl: aws_sdk_s3::types::BucketCannedAcl) -> String {
    format!(":::{}", create_bucket(&a, base, Some(acl)).await)
}

async fn bucket_block(a: Account, base: &str, restrict: bool) -> String {
    use aws_sdk_s3::types::PublicAccessBlockConfiguration;
    let name = create_bucket(&a, base, None).await;
    a.s3()
        .put_public_access_block()
        .bucket(&name)
        .public_access_block_configuration(
            PublicAccessBlockConfiguration::builder()
                .block_public_acls(true)
                .ignore_public_acls(true)
                .block_public_policy(true)
                .restrict_public_buckets(restrict)
                .build(),
        )
        .send()
        .await
        .unwrap();
    format!(":::{name}")
}

/// A fresh VPC's id.
async fn new_vpc(a: &Account, cidr: &str) -> String {
    id(a.ec2()
        .create_vpc()
        .cidr_block(cidr)
        .send()
        .await
        .unwrap()
        .vpc
        .and_then(|v| v.vpc_id))
}

async fn group(a: Account, name: &str, protocol: &str, from: i32, to: i32, cidr: &str) -> String {
    use aws_sdk_ec2::types::{IpPermission, IpRange, Ipv6Range};
    let vpc = new_vpc(&a, "10.90.0.0/16").await;
    let ec2 = a.ec2();
    let gid = id(ec2
        .create_security_group()
        .group_name(name)
        .description(name)
        .vpc_id(vpc)
        .send()
        .await
        .unwrap()
        .group_id);
    let mut perm = IpPermission::builder().ip_protocol(protocol);
    if from >= 0 {
        perm = perm.from_port(from).to_port(to);
    }
    perm = if cidr.contains(':') {
        perm.ipv6_ranges(Ipv6Range::builder().cidr_ipv6(cidr).build())
    } else {
        perm.ip_ranges(IpRange::builder().cidr_ip(cidr).build())
    };
    ec2.authorize_security_group_ingress()
        .group_id(&gid)
        .ip_permissions(perm.build())
        .send()
        .await
        .unwrap();
    format!("security-group/{gid}")
}

async fn volume(a: Account, encrypted: bool) -> String {
    let v = id(a
        .ec2()
        .create_volume()
        .availability_zone("us-east-1a")
        .size(8)
        .encrypted(encrypted)
        .send()
        .await
        .unwrap()
        .volume_id);
    format!("volume/{v}")
}

/// An instance with these metadata options and, when `profile`, an
/// instance profile of its own.
async fn instance(a: Account, tokens: &str, endpoint: &str, profile: bool) -> String {
    use aws_sdk_ec2::types as t;
    let tokens = t::HttpTokensState::from(tokens);
    let endpoint = t::InstanceMetadataEndpointState::from(endpoint);
    let mut run = a.ec2().run_instances();
    if profile {
        let iam = aws_sdk_iam::Client::new(&a.sdk);
        iam.create_instance_profile()
            .instance_profile_name("app")
            .send()
            .await
            .unwrap();
        run = run.iam_instance_profile(
            t::IamInstanceProfileSpecification::builder()
                .name("app")
                .build(),
        );
    }
    let run = run
        .image_id("ami-12c6146b")
        .instance_type(t::InstanceType::T3Micro)
        .min_count(1)
        .max_count(1)
        .metadata_options(
            t::InstanceMetadataOptionsRequest::builder()
                .http_tokens(tokens)
                .http_endpoint(endpoint)
                .build(),
        )
        .send()
        .await
        .unwrap();
    format!("instance/{}", id(run.instances()[0].instance_id()))
}

async fn vpc(a: Account, logged: bool) -> String {
    use aws_sdk_ec2::types as t;
    let vpc = new_vpc(&a, "10.80.0.0/16").await;
    if logged {
        let bucket = create_bucket(&a, "flow-logs", None).await;
        a.ec2()
            .create_flow_logs()
            .resource_ids(&vpc)
            .resource_type(t::FlowLogsResourceType::Vpc)
            .traffic_type(t::TrafficType::All)
            .log_destination_type(t::LogDestinationType::S3)
            .log_destination(format!("arn:aws:s3:::{bucket}"))
            .send()
            .await
            .unwrap();
    }
    format!("vpc/{vpc}")
}

/// A subnet whose `MapPublicIpOnLaunch` is set to `public` (left at its
/// default when `None`).
async fn subnet(a: Account, public: Option<bool>) -> String {
    use aws_sdk_ec2::types::AttributeBooleanValue;
    let vpc = new_vpc(&a, "10.81.0.0/16").await;
    let ec2 = a.ec2();
    let subnet = id(ec2
        .create_subnet()
        .vpc_id(vpc)
        .cidr_block("10.81.1.0/24")
        .send()
        .await
        .unwrap()
        .subnet
        .and_then(|s| s.subnet_id));
    if let Some(public) = public {
        ec2.modify_subnet_attribute()
            .subnet_id(&subnet)
            .map_public_ip_on_launch(AttributeBooleanValue::builder().value(public).build())
            .send()
            .await
            .unwrap();
    }
    format!("subnet/{subnet}")
}

/// How a database is created.
#[derive(Clone, Copy)]
enum Db {
    /// Encrypted, private, Multi-AZ, 7 days of backups, minor upgrades, on
    /// port 5433.
    Strong,
    /// Unencrypted, public, single-AZ, 1 day of backups, no minor
    /// upgrades, on PostgreSQL's default port.
    Weak,
    /// Only what CreateDBInstance requires.
    Defaults,
}

async fn database(a: Account, db: Db) -> String {
    let name = match db {
        Db::Strong => "strong",
        Db::Weak => "weak",
        Db::Defaults => "defaults",
    };
    let mut create = aws_sdk_rds::Client::new(&a.sdk)
        .create_db_instance()
        .db_instance_identifier(name)
        .db_instance_class("db.t3.micro")
        .engine("postgres")
        .master_username("vigil")
        .master_user_password("not-a-real-password")
        .allocated_storage(20);
    if let Db::Strong | Db::Weak = db {
        let strong = matches!(db, Db::Strong);
        create = create
            .port(if strong { 5433 } else { 5432 })
            .auto_minor_version_upgrade(strong)
            .storage_encrypted(strong)
            .publicly_accessible(!strong)
            .multi_az(strong)
            .backup_retention_period(if strong { 7 } else { 1 });
    }
    create.send().await.unwrap();
    format!("db:{name}")
}

async fn password_policy(a: Account, strict: bool) -> String {
    aws_sdk_iam::Client::new(&a.sdk)
        .update_account_password_policy()
        .minimum_password_length(if strict { 14 } else { 8 })
        .require_uppercase_characters(strict)
        .require_lowercase_characters(strict)
        .require_symbols(strict)
        .require_numbers(strict)
        .set_password_reuse_prevention(strict.then_some(24))
        .set_max_password_age(strict.then_some(90))
        .send()
        .await
        .unwrap();
    "account-password-policy".into()
}

async fn key(a: Account, rotate: bool) -> String {
    let kms = aws_sdk_kms::Client::new(&a.sdk);
    let k = id(kms
        .create_key()
        .send()
        .await
        .unwrap()
        .key_metadata
        .map(|m| m.key_id));
    if rotate {
        kms.enable_key_rotation().key_id(&k).send().await.unwrap();
    }
    format!("key/{k}")
}

/// The event selectors a trail gets.
#[derive(Clone, Copy, PartialEq)]
enum Events {
    /// None put: the trail keeps the ones it is created with.
    Default,
    /// All management events.
    Management,
    /// All management events and S3 object events of every bucket.
    ManagementAndS3Objects,
}

/// A logging trail, multi-region and validating its log files when
/// `strict`.
async fn trail(a: Account, name: &str, strict: bool, events: Events) -> String {
    use aws_sdk_cloudtrail::types::{DataResource, EventSelector, ReadWriteType};
    let bucket = create_bucket(&a, name, None).await;
    let ct = aws_sdk_cloudtrail::Client::new(&a.sdk);
    ct.create_trail()
        .name(name)
        .s3_bucket_name(bucket)
        .is_multi_region_trail(strict)
        .enable_log_file_validation(strict)
        .send()
        .await
        .unwrap();
    ct.start_logging().name(name).send().await.unwrap();
    if events != Events::Default {
        let mut selector = EventSelector::builder()
            .read_write_type(ReadWriteType::All)
            .include_management_events(true);
        if events == Events::ManagementAndS3Objects {
            selector = selector.data_resources(
                DataResource::builder()
                    .r#type("AWS::S3::Object")
                    .values("arn:aws:s3")
                    .build(),
            );
        }
        ct.put_event_selectors()
            .trail_name(name)
            .event_selectors(selector.build())
            .send()
            .await
            .unwrap();
    }
    format!("trail/{name}")
}

/// A trail delivering to a CloudWatch Logs group.
async fn streamed_trail(a: Account) -> String {
    let bucket = create_bucket(&a, "streamed", None).await;
    aws_sdk_cloudtrail::Client::new(&a.sdk)
        .create_trail()
        .name("streamed")
        .s3_bucket_name(bucket)
        .cloud_watch_logs_log_group_arn(format!(
            "arn:aws:logs:us-east-1:{}:log-group:cloudtrail:*",
            a.id
        ))
        .cloud_watch_logs_role_arn(format!("arn:aws:iam::{}:role/cloudtrail-to-logs", a.id))
        .send()
        .await
        .unwrap();
    "trail/streamed".into()
}

/// An application load balancer with the attributes `attributes` set.
async fn load_balancer(a: Account, name: &str, attributes: &[(&str, &str)]) -> String {
    use aws_sdk_elasticloadbalancingv2::types::LoadBalancerAttribute;
    let (_, [sub_a, sub_b], sg) = network(&a.sdk, "10.61").await;
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&a.sdk);
    let arn = id(elb
        .create_load_balancer()
        .name(name)
        .subnets(sub_a)
        .subnets(sub_b)
        .security_groups(sg)
        .send()
        .await
        .unwrap()
        .load_balancers()[0]
        .load_balancer_arn());
    if !attributes.is_empty() {
        let mut modify = elb
            .modify_load_balancer_attributes()
            .load_balancer_arn(&arn);
        for (k, v) in attributes {
            modify = modify.attributes(LoadBalancerAttribute::builder().key(*k).value(*v).build());
        }
        modify.send().await.unwrap();
    }
    format!(":loadbalancer/app/{name}/")
}

/// A load balancer with two listeners: HTTPS on a TLS 1.3 policy and HTTP
/// redirecting to it (`secure`), or HTTPS on the 2016 policy and HTTP
/// forwarding to a target group.
async fn listeners(a: Account, secure: bool) -> String {
    use aws_sdk_elasticloadbalancingv2::types as t;
    let name = if secure { "redirecting" } else { "forwarding" };
    let key = load_balancer(a.clone(), name, &[]).await;
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&a.sdk);
    let lb = elb
        .describe_load_balancers()
        .names(name)
        .send()
        .await
        .unwrap()
        .load_balancers()[0]
        .clone();
    let cert = aws_sdk_iam::Client::new(&a.sdk)
        .upload_server_certificate()
        .server_certificate_name(name)
        .certificate_body("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----")
        .private_key("-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----")
        .send()
        .await
        .unwrap()
        .server_certificate_metadata
        .map(|m| m.arn);
    let tg = id(elb
        .create_target_group()
        .name(name)
        .protocol(t::ProtocolEnum::Http)
        .port(80)
        .set_vpc_id(lb.vpc_id().map(str::to_string))
        .target_type(t::TargetTypeEnum::Instance)
        .send()
        .await
        .unwrap()
        .target_groups()[0]
        .target_group_arn());
    let forward = t::Action::builder()
        .r#type(t::ActionTypeEnum::Forward)
        .target_group_arn(tg)
        .build();
    let policy = if secure {
        "ELBSecurityPolicy-TLS13-1-2-2021-06"
    } else {
        "ELBSecurityPolicy-2016-08"
    };
    elb.create_listener()
        .set_load_balancer_arn(lb.load_balancer_arn().map(str::to_string))
        .protocol(t::ProtocolEnum::Https)
        .port(443)
        .ssl_policy(policy)
        .certificates(t::Certificate::builder().set_certificate_arn(cert).build())
        .default_actions(forward.clone())
        .send()
        .await
        .unwrap();
    let http = if secure {
        t::Action::builder()
            .r#type(t::ActionTypeEnum::Redirect)
            .redirect_config(
                t::RedirectActionConfig::builder()
                    .protocol("HTTPS")
                    .port("443")
                    .status_code(t::RedirectActionStatusCodeEnum::Http301)
                    .build(),
            )
            .build()
    } else {
        forward
    };
    elb.create_listener()
        .set_load_balancer_arn(lb.load_balancer_arn().map(str::to_string))
        .protocol(t::ProtocolEnum::Http)
        .port(80)
        .default_actions(http)
        .send()
        .await
        .unwrap();
    key
}

async fn function(a: Account, current: bool) -> String {
    use aws_sdk_lambda::types::Runtime;
    let (name, runtime) = if current {
        ("current", Runtime::Python312)
    } else {
        ("outdated", Runtime::Python38)
    };
    create_function(&a, name, runtime).await
}

/// A zip-packaged function with a role of its own.
async fn create_function(
    a: &Account,
    name: &str,
    runtime: aws_sdk_lambda::types::Runtime,
) -> String {
    use aws_sdk_lambda::types::FunctionCode;
    let role = id(aws_sdk_iam::Client::new(&a.sdk)
        .create_role()
        .role_name(format!("fn-{name}"))
        .assume_role_policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#)
        .send()
        .await
        .unwrap()
        .role
        .map(|r| r.arn));
    aws_sdk_lambda::Client::new(&a.sdk)
        .create_function()
        .function_name(name)
        .runtime(runtime)
        .role(role)
        .handler("app.handler")
        .code(
            FunctionCode::builder()
                .zip_file(aws_sdk_lambda::primitives::Blob::new(EMPTY_ZIP.to_vec()))
                .build(),
        )
        .send()
        .await
        .unwrap();
    format!(":function:{name}")
}

/// A function invocable by S3 from one bucket behind an IAM-authenticated
/// URL, or (`public`) by anyone behind a URL without authentication.
async fn exposure(a: Account, public: bool) -> String {
    use aws_sdk_lambda::types::{FunctionUrlAuthType, Runtime};
    let name = if public { "exposed" } else { "guarded" };
    let key = create_function(&a, name, Runtime::Python312).await;
    let lambda = aws_sdk_lambda::Client::new(&a.sdk);
    let mut permission = lambda
        .add_permission()
        .function_name(name)
        .statement_id("invoke")
        .action("lambda:InvokeFunction");
    permission = if public {
        permission.principal("*")
    } else {
        permission
            .principal("s3.amazonaws.com")
            .source_arn("arn:aws:s3:::uploads")
    };
    permission.send().await.unwrap();
    lambda
        .create_function_url_config()
        .function_name(name)
        .auth_type(if public {
            FunctionUrlAuthType::None
        } else {
            FunctionUrlAuthType::AwsIam
        })
        .send()
        .await
        .unwrap();
    key
}

/// A key whose policy lets its account (or, `public`, anyone) decrypt.
async fn key_policy(a: Account, public: bool) -> String {
    let principal = if public {
        "*".to_string()
    } else {
        format!("arn:aws:iam::{}:root", a.id)
    };
    let policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"{principal}"}},"Action":"kms:*","Resource":"*"}}]}}"#
    );
    let k = id(aws_sdk_kms::Client::new(&a.sdk)
        .create_key()
        .policy(policy)
        .send()
        .await
        .unwrap()
        .key_metadata
        .map(|m| m.key_id));
    format!("key/{k}")
}

/// A trail encrypted with a KMS key of the account, or not.
async fn trail_encryption(a: Account, encrypted: bool) -> String {
    let name = if encrypted { "sealed" } else { "clear" };
    let bucket = create_bucket(&a, name, None).await;
    let mut create = aws_sdk_cloudtrail::Client::new(&a.sdk)
        .create_trail()
        .name(name)
        .s3_bucket_name(bucket);
    if encrypted {
        let arn = aws_sdk_kms::Client::new(&a.sdk)
            .create_key()
            .send()
            .await
            .unwrap()
            .key_metadata
            .and_then(|m| m.arn);
        create = create.set_kms_key_id(arn);
    }
    create.send().await.unwrap();
    format!("trail/{name}")
}

/// A custom network ACL, with (`open`) an entry allowing SSH from anywhere.
async fn network_acl(a: Account, open: bool) -> String {
    use aws_sdk_ec2::types::{PortRange, RuleAction};
    let vpc = new_vpc(&a, "10.82.0.0/16").await;
    let ec2 = a.ec2();
    let acl = id(ec2
        .create_network_acl()
        .vpc_id(vpc)
        .send()
        .await
        .unwrap()
        .network_acl
        .and_then(|n| n.network_acl_id));
    if open {
        ec2.create_network_acl_entry()
            .network_acl_id(&acl)
            .rule_number(100)
            .protocol("6")
            .rule_action(RuleAction::Allow)
            .egress(false)
            .cidr_block("0.0.0.0/0")
            .port_range(PortRange::builder().from(22).to(22).build())
            .send()
            .await
            .unwrap();
    }
    format!("network-acl/{acl}")
}

/// An EKS cluster: private, fully logged and encrypted, or (`!strict`)
/// public to the internet, logging the API only, unencrypted.
async fn cluster(a: Account, strict: bool) -> String {
    use aws_sdk_eks::types as t;
    let name = if strict { "sealed" } else { "open" };
    let (_, [sub_a, sub_b], sg) = network(&a.sdk, "10.62").await;
    let logs = if strict {
        vec![
            t::LogType::Api,
            t::LogType::Audit,
            t::LogType::Authenticator,
            t::LogType::ControllerManager,
            t::LogType::Scheduler,
        ]
    } else {
        vec![t::LogType::Api]
    };
    let mut create = aws_sdk_eks::Client::new(&a.sdk)
        .create_cluster()
        .name(name)
        .version("1.29")
        .role_arn(format!("arn:aws:iam::{}:role/eks", a.id))
        .resources_vpc_config(
            t::VpcConfigRequest::builder()
                .subnet_ids(sub_a)
                .subnet_ids(sub_b)
                .security_group_ids(sg)
                .endpoint_public_access(!strict)
                .endpoint_private_access(true)
                // AWS's default; moto reports no CIDRs unless given.
                .public_access_cidrs("0.0.0.0/0")
                .build(),
        )
        .logging(
            t::Logging::builder()
                .cluster_logging(
                    t::LogSetup::builder()
                        .set_types(Some(logs))
                        .enabled(true)
                        .build(),
                )
                .build(),
        );
    if strict {
        let key = aws_sdk_kms::Client::new(&a.sdk)
            .create_key()
            .send()
            .await
            .unwrap()
            .key_metadata
            .and_then(|m| m.arn);
        create = create.encryption_config(
            t::EncryptionConfig::builder()
                .provider(t::Provider::builder().set_key_arn(key).build())
                .build(),
        );
    }
    create.send().await.unwrap();
    format!(":cluster/{name}")
}

/// The default security group of a new VPC, emptied of its rules (`closed`)
/// or with the rules AWS creates it with.
async fn default_group(a: Account, closed: bool) -> String {
    use aws_sdk_ec2::types::Filter;
    let vpc = new_vpc(&a, "10.83.0.0/16").await;
    let ec2 = a.ec2();
    let group = ec2
        .describe_security_groups()
        .filters(Filter::builder().name("vpc-id").values(vpc).build())
        .filters(
            Filter::builder()
                .name("group-name")
                .values("default")
                .build(),
        )
        .send()
        .await
        .unwrap()
        .security_groups()[0]
        .clone();
    let gid = id(group.group_id());
    if closed {
        revoke_all_rules(&ec2, &group).await;
    }
    format!("security-group/{gid}")
}

/// EBS encryption by default in us-east-1, turned on or left off.
async fn ebs_default(a: Account, enabled: bool) -> String {
    if enabled {
        a.ec2()
            .enable_ebs_encryption_by_default()
            .send()
            .await
            .unwrap();
    }
    ":us-east-1:".into()
}

/// The account's S3 Block Public Access, all four settings on, or all but
/// `RestrictPublicBuckets`.
async fn account_block(a: Account, restrict: bool) -> String {
    use aws_sdk_s3control::types::PublicAccessBlockConfiguration;
    aws_sdk_s3control::Client::from_conf(
        aws_sdk_s3control::config::Builder::from(&a.sdk)
            .interceptor(vigil_aws::moto::DropAccountHostPrefix)
            .build(),
    )
    .put_public_access_block()
    .account_id(&a.id)
    .public_access_block_configuration(
        PublicAccessBlockConfiguration::builder()
            .block_public_acls(true)
            .ignore_public_acls(true)
            .block_public_policy(true)
            .restrict_public_buckets(restrict)
            .build(),
    )
    .send()
    .await
    .unwrap();
    ":account-public-access-block".into()
}

/// An Auto Scaling group behind a target group with its launch
/// configuration: hardened (IMDSv2, no public IP, two zones, ELB health
/// checks) or lax (IMDSv1, public IP, one zone, EC2 health checks).
async fn scaling_group(a: Account, hardened: bool) -> String {
    use aws_sdk_autoscaling::types as t;
    use aws_sdk_elasticloadbalancingv2::types::{ProtocolEnum, TargetTypeEnum};
    let name = if hardened { "hardened" } else { "loose" };
    let vpc = new_vpc(&a, "10.84.0.0/16").await;
    let tg = id(aws_sdk_elasticloadbalancingv2::Client::new(&a.sdk)
        .create_target_group()
        .name(name)
        .protocol(ProtocolEnum::Http)
        .port(80)
        .vpc_id(vpc)
        .target_type(TargetTypeEnum::Instance)
        .send()
        .await
        .unwrap()
        .target_groups()[0]
        .target_group_arn());
    let asg = aws_sdk_autoscaling::Client::new(&a.sdk);
    asg.create_launch_configuration()
        .launch_configuration_name(name)
        .image_id("ami-12c6146b")
        .instance_type("t3.micro")
        .associate_public_ip_address(!hardened)
        .metadata_options(
            t::InstanceMetadataOptions::builder()
                .http_tokens(if hardened {
                    t::InstanceMetadataHttpTokensState::Required
                } else {
                    t::InstanceMetadataHttpTokensState::Optional
                })
                .http_endpoint(t::InstanceMetadataEndpointState::Enabled)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let mut create = asg
        .create_auto_scaling_group()
        .auto_scaling_group_name(name)
        .launch_configuration_name(name)
        .min_size(0)
        .max_size(1)
        .desired_capacity(0)
        .availability_zones("us-east-1a")
        .target_group_arns(tg)
        .health_check_type(if hardened { "ELB" } else { "EC2" });
    if hardened {
        create = create.availability_zones("us-east-1b");
    }
    create.send().await.unwrap();
    format!("autoScalingGroupName/{name}")
}

/// An IAM user, with (`attached`) a managed policy attached directly.
async fn user(a: Account, attached: bool) -> String {
    let name = if attached { "direct" } else { "grouped" };
    let iam = aws_sdk_iam::Client::new(&a.sdk);
    iam.create_user().user_name(name).send().await.unwrap();
    if attached {
        // moto does not load AWS managed policies: a customer managed one.
        let arn = iam
            .create_policy()
            .policy_name("read-only")
            .policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:Get*","Resource":"*"}]}"#)
            .send()
            .await
            .unwrap()
            .policy
            .and_then(|p| p.arn);
        iam.attach_user_policy()
            .user_name(name)
            .set_policy_arn(arn)
            .send()
            .await
            .unwrap();
    }
    format!("user/{name}")
}

// --- judging -------------------------------------------------------------------

/// Every verdict of the catalogue on `resources`: (resource id, CID, result).
type Judged = Vec<(String, u32, EvalResult)>;

fn judge(engine: &vigil_engine::Engine, resources: &[Resource]) -> Judged {
    engine
        .evaluate(resources, &|_| {})
        .into_iter()
        .map(|e| (resources[e.resource].id.clone(), e.cid, e.result))
        .collect()
}

/// The verdict of control `cid` on the resource whose id contains `key`
/// (any resource when `None`), or why there is not exactly one.
fn verdict(judged: &Judged, cid: u32, key: Option<&str>) -> Result<EvalResult, String> {
    let found: Vec<_> = judged
        .iter()
        .filter(|(id, c, _)| *c == cid && key.is_none_or(|k| id.contains(k)))
        .collect();
    match found.as_slice() {
        [(_, _, r)] => Ok(*r),
        [] => Err("no result".into()),
        many => Err(format!("{} results: {many:?}", many.len())),
    }
}

/// A live scan of one seeded account: its verdicts and, per case index, the
/// key its seeding step returned.
struct Live {
    judged: Judged,
    keys: Vec<(usize, String)>,
}

/// Seeds the cases wanting `want` into a fresh account and scans it.
async fn seed_and_scan(
    url: &str,
    engine: &vigil_engine::Engine,
    cases: &[Case],
    want: EvalResult,
) -> Live {
    let opts = options(url);
    let sdk = vigil_aws::sdk_config(&opts).await.unwrap();
    let account = Account {
        sdk: regional(&sdk, "us-east-1"),
        id: account_of(&opts),
    };
    let mut keys = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        if let (true, Some(seed)) = (case.want == want, case.moto) {
            keys.push((i, seed(account.clone()).await));
        }
    }
    let scan = vigil_aws::collect(&opts, &|_| {}).await.unwrap();
    Live {
        judged: judge(engine, &scan.resources),
        keys,
    }
}

fn show(v: &Result<EvalResult, String>) -> String {
    match v {
        Ok(r) => r.to_string(),
        Err(why) => why.clone(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_control_gives_the_same_verdict_on_terraform_cloudformation_and_live_resources() {
    let cases = cases();
    let engine = Catalog::builtin()
        .unwrap()
        .compile(chrono::Utc::now())
        .unwrap();
    let live = match moto() {
        Some(url) => {
            let (pass, fail) = tokio::join!(
                seed_and_scan(&url, &engine, &cases, Pass),
                seed_and_scan(&url, &engine, &cases, Fail)
            );
            Some([pass, fail])
        }
        None => {
            eprintln!("live column skipped: only Terraform and CloudFormation are compared");
            None
        }
    };

    let mut mismatches = Vec::new();
    let mut compared = 0;
    for (i, case) in cases.iter().enumerate() {
        let (tf, tf_errors) = vigil_iac::terraform_resources(
            &[("main.tf".to_string(), case.terraform.clone())],
            &Default::default(),
        );
        assert!(tf_errors.is_empty(), "{}: {tf_errors:?}", case.name);
        let tf = judge(&engine, &tf);
        let cfn = case.cloudformation.as_ref().map(|text| {
            let (rs, errors) = vigil_iac::cloudformation::cloudformation_resources(&[(
                "template.yaml".to_string(),
                text.clone(),
            )]);
            assert!(errors.is_empty(), "{}: {errors:?}", case.name);
            judge(&engine, &rs)
        });
        let seeded = live.as_ref().and_then(|scans| {
            let scan = &scans[usize::from(case.want != Pass)];
            let key = scan.keys.iter().find(|(c, _)| *c == i)?;
            Some((&scan.judged, key.1.as_str()))
        });
        for &cid in case.cids {
            let mut columns = vec![("terraform", verdict(&tf, cid, None))];
            if let Some(cfn) = &cfn {
                columns.push(("cloudformation", verdict(cfn, cid, None)));
            }
            if let Some((judged, key)) = seeded {
                columns.push(("moto", verdict(judged, cid, Some(key))));
            }
            compared += 1;
            if columns.iter().any(|(_, v)| v.as_ref() != Ok(&case.want)) {
                let got: Vec<_> = columns
                    .iter()
                    .map(|(source, v)| format!("{source} {}", show(v)))
                    .collect();
                mismatches.push(format!(
                    "CID {cid} on {}: want {}, got {}",
                    case.name,
                    case.want,
                    got.join(", ")
                ));
            }
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} of {compared} verdicts differ:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}
