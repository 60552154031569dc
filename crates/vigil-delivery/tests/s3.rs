//! The Deliverer against a real moto server (`VIGIL_TEST_MOTO_URL`): the
//! role is assumed with the external id, objects are written with their
//! headers, the validation test-file lands, and failures come back sorted
//! with messages a person can act on.
//!
//! Denials need a moto with IAM authorization: the tests that need one
//! start their own (`moto_server` with `INITIAL_NO_AUTH_ACTION_COUNT`).
//! moto's STS checks neither external ids nor trust policies, so the
//! external-id mismatch is produced the way STS answers it, as an
//! AccessDenied on AssumeRole (here: the operator may not assume that
//! role); the unit tests of `s3.rs` sort the codes real AWS answers.

mod common;

use common::*;
use vigil_delivery::s3::{AwsSettings, Deliverer, Target};
use vigil_delivery::Problem;

fn deliverer(url: &str) -> Deliverer {
    Deliverer::new(AwsSettings {
        endpoint_url: Some(url.to_string()),
        profile: None,
    })
}

fn target(bucket: &str, region: &str) -> Target {
    Target {
        bucket: bucket.to_string(),
        region: region.to_string(),
        role_arn: format!("arn:aws:iam::{ACCOUNT}:role/vigil-delivery-test"),
        external_id: "US_POD_1-71-36da0dcf-43d7-4014-82a7-47ce22a0db57".into(),
    }
}

#[tokio::test]
async fn validation_writes_the_test_file_compressed_or_not() {
    let url = moto();
    let s3 = s3(&url, "us-east-1");
    let b = unique("vigil-validate");
    bucket(&s3, &b, "us-east-1").await;
    let d = deliverer(&url);
    d.validate(&target(&b, "us-east-1"), true).await.unwrap();
    let (body, ct, ce) = object(&s3, &b, "test-file.gz").await;
    assert_eq!(ce.as_deref(), Some("gzip"));
    assert_eq!(ct.as_deref(), Some("application/json"));
    let doc: serde_json::Value = serde_json::from_slice(&gunzip(&body)).unwrap();
    assert_eq!(doc["source"], "Vigil");
    assert!(
        doc["message"].as_str().unwrap().contains("validation") || doc["purpose"] == "validation"
    );

    d.validate(&target(&b, "us-east-1"), false).await.unwrap();
    let (body, _, ce) = object(&s3, &b, "test-file.json").await;
    assert_eq!(ce, None);
    let doc: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(doc["purpose"], "validation");
    let mut k = keys(&s3, &b).await;
    k.sort();
    assert_eq!(k, vec!["test-file.gz", "test-file.json"]);
}

#[tokio::test]
async fn put_writes_the_bytes_with_their_headers_at_the_key() {
    let url = moto();
    let s3 = s3(&url, "eu-west-1");
    let b = unique("vigil-put");
    bucket(&s3, &b, "eu-west-1").await;
    let d = deliverer(&url);
    let t = target(&b, "eu-west-1");
    let body = vigil_delivery::payload::pack(&[b"{\"a\":1}", b"{\"a\":2}"], true);
    let key = "qualys_vm_findings/2026-11-23/0e5b0f3c-5f0e-4a43-9d0c-6a1f7f1f1f1f.gz";
    d.put(&t, key, body.clone(), "application/x-ndjson", Some("gzip"))
        .await
        .unwrap();
    // A second write reuses the cached credentials and overwrites the key.
    d.put(&t, key, body.clone(), "application/x-ndjson", Some("gzip"))
        .await
        .unwrap();
    let (got, ct, ce) = object(&s3, &b, key).await;
    assert_eq!(got, body);
    assert_eq!(gunzip(&got), b"{\"a\":1}\n{\"a\":2}\n");
    assert_eq!(ct.as_deref(), Some("application/x-ndjson"));
    assert_eq!(ce.as_deref(), Some("gzip"));
    assert_eq!(keys(&s3, &b).await, vec![key.to_string()]);
}

#[tokio::test]
async fn a_missing_bucket_is_named() {
    let url = moto();
    let b = unique("vigil-missing");
    let e = deliverer(&url)
        .validate(&target(&b, "us-east-1"), true)
        .await
        .unwrap_err();
    eprintln!("NoSuchBucket: {e}");
    assert_eq!(e.problem, Problem::NoSuchBucket, "{e}");
    assert!(e.message.contains(&b), "{e}");
    assert!(e.message.contains("bucketName"), "{e}");
    assert!(e.problem.needs_human());
}

#[tokio::test]
async fn a_bucket_in_another_region_is_refused_before_writing() {
    let url = moto();
    let s3 = s3(&url, "eu-west-1");
    let b = unique("vigil-region");
    bucket(&s3, &b, "eu-west-1").await;
    let d = deliverer(&url);
    let e = d
        .validate(&target(&b, "us-east-1"), true)
        .await
        .unwrap_err();
    eprintln!("WrongRegion: {e}");
    assert_eq!(e.problem, Problem::WrongRegion, "{e}");
    assert!(
        e.message.contains("eu-west-1"),
        "names the bucket's region: {e}"
    );
    assert!(
        e.message.contains("us-east-1"),
        "and the configured one: {e}"
    );
    assert!(e.message.contains("bucketRegion"), "{e}");
    let e = d
        .put(
            &target(&b, "us-east-1"),
            "qualys_vm_findings/x.gz",
            vec![1],
            "application/x-ndjson",
            Some("gzip"),
        )
        .await
        .unwrap_err();
    eprintln!("WrongRegion: {e}");
    assert_eq!(e.problem, Problem::WrongRegion, "{e}");
    assert!(keys(&s3, &b).await.is_empty(), "nothing was written");
}

#[tokio::test]
async fn a_malformed_role_arn_is_refused_with_the_expected_form() {
    let url = moto();
    let s3 = s3(&url, "us-east-1");
    let b = unique("vigil-arn");
    bucket(&s3, &b, "us-east-1").await;
    let mut t = target(&b, "us-east-1");
    t.role_arn = "arn:aws:iam::123456789012:user/vigil".into();
    let e = deliverer(&url).validate(&t, true).await.unwrap_err();
    eprintln!("InvalidRole: {e}");
    assert_eq!(e.problem, Problem::InvalidRole, "{e}");
    assert!(
        e.message.contains("arn:aws:iam::123456789012:user/vigil"),
        "{e}"
    );
    assert!(e.message.contains("role/<role name>"), "{e}");
}

#[tokio::test]
async fn an_unreachable_endpoint_is_transient() {
    env();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let d = deliverer(&format!("http://127.0.0.1:{port}"));
    let e = d
        .validate(&target("vigil-nowhere", "us-east-1"), true)
        .await
        .unwrap_err();
    eprintln!("Transient: {e}");
    eprintln!("Transient: {e}");
    assert_eq!(e.problem, Problem::Transient, "{e}");
    assert!(!e.problem.needs_human());
    assert!(e.message.contains("retried"), "{e}");
}

#[tokio::test]
async fn missing_operator_credentials_are_the_operators_to_fix() {
    let url = moto();
    let d = Deliverer::new(AwsSettings {
        endpoint_url: Some(url),
        profile: Some(unique("no-such-profile")),
    });
    let e = d
        .validate(&target("vigil-nowhere", "us-east-1"), true)
        .await
        .unwrap_err();
    eprintln!("Transient: {e}");
    assert_eq!(
        e.problem,
        Problem::Transient,
        "not the customer's to fix: {e}"
    );
    assert!(e.message.contains("operator"), "{e}");
    assert!(e.message.contains("credentials"), "{e}");
}

/// A moto with IAM authorization: an operator user who may assume
/// `writer` (which may only PutObject into `bucket`) and not `stranger`.
struct Denials {
    moto: AuthMoto,
    profile: String,
    bucket: String,
    other_bucket: String,
    key: String,
    secret: String,
}

const ALLOW_ASSUME_WRITER: &str = r#"{"Version":"2012-10-17","Statement":[
    {"Effect":"Allow","Action":"sts:AssumeRole","Resource":"arn:aws:iam::123456789012:role/writer"},
    {"Effect":"Allow","Action":["iam:*","s3:CreateBucket","s3:ListBucket","s3:GetObject"],"Resource":"*"}]}"#;

async fn denials() -> Denials {
    env();
    // The first 6 requests are free (the setup below); every later one is
    // checked against IAM.
    let moto = AuthMoto::start(6).await;
    let admin_s3 = s3(&moto.url, "us-east-1");
    let admin_iam = iam_with(&moto.url, "testing", "testing");
    let b = unique("vigil-denials");
    bucket(&admin_s3, &b, "us-east-1").await; // 1
    admin_iam
        .create_user()
        .user_name("operator")
        .send()
        .await
        .unwrap(); // 2
    let k = admin_iam
        .create_access_key()
        .user_name("operator")
        .send()
        .await
        .unwrap(); // 3
    let k = k.access_key().unwrap();
    admin_iam
        .put_user_policy()
        .user_name("operator")
        .policy_name("vigil")
        .policy_document(ALLOW_ASSUME_WRITER)
        .send()
        .await
        .unwrap(); // 4
    admin_iam
        .create_role()
        .role_name("writer")
        .assume_role_policy_document(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:user/operator"},"Action":"sts:AssumeRole","Condition":{"StringEquals":{"sts:ExternalId":"US_POD_1-71-good"}}}]}"#,
        )
        .send()
        .await
        .unwrap(); // 5
    admin_iam
        .put_role_policy()
        .role_name("writer")
        .policy_name("put")
        .policy_document(format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"s3:PutObject","Resource":"arn:aws:s3:::{b}/*"}}]}}"#
        ))
        .send()
        .await
        .unwrap(); // 6
    let profile = unique("operator");
    let (key, secret) = (
        k.access_key_id().to_string(),
        k.secret_access_key().to_string(),
    );
    add_profile(&profile, &key, &secret);
    // From here on moto checks: the operator may create the other bucket.
    let other = format!("{b}-other");
    bucket(
        &s3_with(&moto.url, "us-east-1", &key, &secret),
        &other,
        "us-east-1",
    )
    .await;
    Denials {
        moto,
        profile,
        bucket: b,
        other_bucket: other,
        key,
        secret,
    }
}

impl Denials {
    fn deliverer(&self) -> Deliverer {
        Deliverer::new(AwsSettings {
            endpoint_url: Some(self.moto.url.clone()),
            profile: Some(self.profile.clone()),
        })
    }

    fn target(&self, bucket: &str, role: &str) -> Target {
        Target {
            bucket: bucket.to_string(),
            region: "us-east-1".into(),
            role_arn: format!("arn:aws:iam::123456789012:role/{role}"),
            external_id: "US_POD_1-71-good".into(),
        }
    }

    fn iam(&self) -> aws_sdk_iam::Client {
        iam_with(&self.moto.url, &self.key, &self.secret)
    }
}

#[tokio::test]
async fn iam_authorization_denials_are_sorted_and_explained() {
    let den = denials().await;
    let d = den.deliverer();

    // Allowed: the role may PutObject (HeadBucket is forbidden to it, which
    // is fine: seed 000's policy grants PutObject only).
    d.validate(&den.target(&den.bucket, "writer"), true)
        .await
        .unwrap();
    let listed = keys(
        &s3_with(&den.moto.url, "us-east-1", &den.key, &den.secret),
        &den.bucket,
    )
    .await;
    assert_eq!(listed, vec!["test-file.gz"]);

    // The role may not write to the other bucket: AccessDenied, and the
    // message names the role, the bucket and the permission to grant.
    let e = d
        .validate(&den.target(&den.other_bucket, "writer"), true)
        .await
        .unwrap_err();
    eprintln!("AccessDenied: {e}");
    assert_eq!(e.problem, Problem::AccessDenied, "{e}");
    assert!(e.message.contains("s3:PutObject"), "{e}");
    assert!(
        e.message
            .contains(&format!("arn:aws:s3:::{}/*", den.other_bucket)),
        "{e}"
    );
    assert!(e.message.contains("role/writer"), "{e}");

    // STS refuses AssumeRole (what it answers when the trust policy does
    // not name Vigil or its sts:ExternalId differs).
    let e = d
        .validate(&den.target(&den.bucket, "stranger"), true)
        .await
        .unwrap_err();
    eprintln!("AssumeRoleDenied: {e}");
    assert_eq!(e.problem, Problem::AssumeRoleDenied, "{e}");
    assert!(e.message.contains("sts:ExternalId"), "{e}");
    assert!(e.message.contains("US_POD_1-71-good"), "{e}");
    assert!(
        e.message.contains(
            "AccessDenied: User: arn:aws:iam::123456789012:user/operator is not authorized"
        ),
        "STS's own answer is quoted: {e}"
    );
    assert!(e.message.len() < 600, "no response dump: {e}");
}

#[tokio::test]
async fn assumed_credentials_are_cached_until_forgotten() {
    let den = denials().await;
    let d = den.deliverer();
    let t = den.target(&den.bucket, "writer");
    d.put(&t, "a.json", b"{}\n".to_vec(), "application/x-ndjson", None)
        .await
        .unwrap();
    // The operator may no longer assume the role …
    den.iam()
        .put_user_policy()
        .user_name("operator")
        .policy_name("vigil")
        .policy_document(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"sts:AssumeRole","Resource":"*"},{"Effect":"Allow","Action":"iam:*","Resource":"*"}]}"#,
        )
        .send()
        .await
        .unwrap();
    // … but the cached session still writes (no AssumeRole per object) …
    d.put(&t, "b.json", b"{}\n".to_vec(), "application/x-ndjson", None)
        .await
        .unwrap();
    // … until it is forgotten (settings changed) and assumed again.
    d.forget(&t);
    let e = d
        .put(&t, "c.json", b"{}\n".to_vec(), "application/x-ndjson", None)
        .await
        .unwrap_err();
    eprintln!("AssumeRoleDenied: {e}");
    assert_eq!(e.problem, Problem::AssumeRoleDenied, "{e}");
}
