//! What the delivery tests share: the running services' addresses (a test
//! that needs one and does not find its variable fails, saying which), the
//! AWS identity the tests sign in with, and a second moto with IAM
//! authorization for the denials the shared one cannot produce.
#![allow(dead_code)]

use aws_credential_types::Credentials;
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, Once};
use std::time::Duration;

static NEXT: AtomicU32 = AtomicU32::new(0);
static ENV: Once = Once::new();
static PROFILES: Mutex<()> = Mutex::new(());

/// moto's default account: roles the shared moto hands out credentials for
/// act on the buckets created with the `testing` keys only in this account.
pub const ACCOUNT: &str = "123456789012";

/// A service's address from `var`; fails the test when it is not set.
pub fn service(var: &str, what: &str) -> String {
    match std::env::var(var) {
        Ok(v) if !v.is_empty() => v,
        _ => panic!(
            "{var} is not set: this test needs {what} (e.g. {var}={})",
            match var {
                "VIGIL_TEST_MOTO_URL" => "http://127.0.0.1:55500",
                "VIGIL_TEST_SMTP_URL" => "smtp://127.0.0.1:55525",
                "VIGIL_TEST_MAILDIR" => "/work/wt/mail",
                _ => "…",
            }
        ),
    }
}

/// The moto server (S3, STS, IAM).
pub fn moto() -> String {
    env();
    service("VIGIL_TEST_MOTO_URL", "a moto server")
}

/// A name no other test (nor an earlier run) uses.
pub fn unique(prefix: &str) -> String {
    let n = NEXT.fetch_add(1, Ordering::SeqCst);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() % 1_000_000_000)
        .unwrap_or(0);
    format!("{prefix}-{}-{t}-{n}", std::process::id())
}

fn dir() -> PathBuf {
    std::env::temp_dir().join(format!("vigil-delivery-tests-{}", std::process::id()))
}

/// Vigil's own identity in the tests comes from a shared credentials file
/// (profile `default`: moto's `testing` keys), not from environment
/// variables, so that a test can sign in as another identity through a
/// profile (environment keys would win over any profile).
pub fn env() {
    ENV.call_once(|| {
        let d = dir();
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(
            d.join("credentials"),
            "[default]\naws_access_key_id = testing\naws_secret_access_key = testing\n",
        )
        .unwrap();
        std::fs::write(d.join("config"), "[default]\nregion = us-east-1\n").unwrap();
        for var in [
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_SESSION_TOKEN",
            "AWS_PROFILE",
            "AWS_ENDPOINT_URL",
            "AWS_ENDPOINT_URL_S3",
            "AWS_ENDPOINT_URL_STS",
        ] {
            std::env::remove_var(var);
        }
        std::env::set_var("AWS_SHARED_CREDENTIALS_FILE", d.join("credentials"));
        std::env::set_var("AWS_CONFIG_FILE", d.join("config"));
        std::env::set_var("AWS_REGION", "us-east-1");
        std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
    });
}

/// Adds a profile to the shared credentials file (written whole, then
/// renamed, so a reader never sees half of it).
pub fn add_profile(name: &str, key: &str, secret: &str) {
    env();
    let _g = PROFILES.lock().unwrap();
    let d = dir();
    let mut text = std::fs::read_to_string(d.join("credentials")).unwrap();
    text.push_str(&format!(
        "[{name}]\naws_access_key_id = {key}\naws_secret_access_key = {secret}\n"
    ));
    let tmp = d.join(format!("credentials.{name}"));
    std::fs::File::create(&tmp)
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    std::fs::rename(tmp, d.join("credentials")).unwrap();
}

fn static_config(url: &str, region: &str, key: &str, secret: &str) -> aws_config::SdkConfig {
    use aws_smithy_http_client::tls;
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https();
    aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .http_client(http)
        .endpoint_url(url)
        .region(aws_config::Region::new(region.to_string()))
        .credentials_provider(
            aws_credential_types::provider::SharedCredentialsProvider::new(Credentials::new(
                key, secret, None, None, "tests",
            )),
        )
        .build()
}

/// A plain S3 client with the given keys (path-style, as moto needs).
pub fn s3_with(url: &str, region: &str, key: &str, secret: &str) -> aws_sdk_s3::Client {
    let conf = aws_sdk_s3::config::Builder::from(&static_config(url, region, key, secret))
        .force_path_style(true)
        .build();
    aws_sdk_s3::Client::from_conf(conf)
}

/// A plain S3 client with moto's `testing` keys.
pub fn s3(url: &str, region: &str) -> aws_sdk_s3::Client {
    s3_with(url, region, "testing", "testing")
}

/// An IAM client with the given keys.
pub fn iam_with(url: &str, key: &str, secret: &str) -> aws_sdk_iam::Client {
    aws_sdk_iam::Client::new(&static_config(url, "us-east-1", key, secret))
}

/// Creates `bucket` in `region`.
pub async fn bucket(s3: &aws_sdk_s3::Client, bucket: &str, region: &str) {
    let mut req = s3.create_bucket().bucket(bucket);
    if region != "us-east-1" {
        req = req.create_bucket_configuration(
            aws_sdk_s3::types::CreateBucketConfiguration::builder()
                .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::from(region))
                .build(),
        );
    }
    req.send().await.unwrap();
}

/// An object's bytes and (content type, content encoding).
pub async fn object(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
) -> (Vec<u8>, Option<String>, Option<String>) {
    let out = s3
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .unwrap();
    let ct = out.content_type().map(str::to_string);
    let ce = out.content_encoding().map(str::to_string);
    let body = out.body.collect().await.unwrap().into_bytes().to_vec();
    (body, ct, ce)
}

/// Every key in `bucket`.
pub async fn keys(s3: &aws_sdk_s3::Client, bucket: &str) -> Vec<String> {
    let out = s3.list_objects_v2().bucket(bucket).send().await.unwrap();
    out.contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_string))
        .collect()
}

pub fn gunzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Read;
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .unwrap();
    out
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A moto server of this test alone, with IAM authorization after the
/// first `free_actions` requests (`INITIAL_NO_AUTH_ACTION_COUNT`): then
/// every request must be signed with keys of an IAM user of it and be
/// allowed by that user's (or the assumed role's) policies. Stopped when
/// dropped.
pub struct AuthMoto {
    pub url: String,
    child: std::process::Child,
}

impl AuthMoto {
    pub async fn start(free_actions: u32) -> AuthMoto {
        let port = free_port();
        let child = std::process::Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .env("INITIAL_NO_AUTH_ACTION_COUNT", free_actions.to_string())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start moto_server (pip install 'moto[server]'): {e}")
            });
        let url = format!("http://127.0.0.1:{port}");
        let moto = AuthMoto { url, child };
        for _ in 0..150 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return moto;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("moto_server on port {port} did not start within 15 s");
    }
}

impl Drop for AuthMoto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
