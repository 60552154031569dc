//! The `vigil` binary as a user runs it: real files, a real SQLite store in a
//! temporary data directory, real exit codes.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

struct Env {
    dir: PathBuf,
}

impl Env {
    fn new(name: &str) -> Env {
        let dir = std::env::temp_dir().join(format!("vigil-cli-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Env { dir }
    }

    fn vigil(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_vigil"))
            .arg("--data-dir")
            .arg(self.dir.join("data"))
            .args(args)
            // `vigil iac` reads ./.vigil-iac.yaml and ~/.vigil-iac.yaml, and
            // `-s` writes into the current directory.
            .current_dir(&self.dir)
            .env("HOME", self.dir.join("home"))
            .env_remove("VIGIL_DATABASE_URL")
            .env_remove("VIGIL_CONTROLS_DIR")
            .output()
            .unwrap()
    }

    /// `vigil [before…] scan aws --endpoint-url URL --regions us-east-1
    /// --role-arn ROLE [after…]` with moto's test credentials.
    fn scan_aws(&self, url: &str, role: &str, before: &[&str], after: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_vigil"))
            .arg("--data-dir")
            .arg(self.dir.join("data"))
            .args(before)
            .args([
                "scan",
                "aws",
                "--endpoint-url",
                url,
                "--regions",
                "us-east-1",
                "--role-arn",
                role,
            ])
            .args(after)
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env_remove("AWS_PROFILE")
            .env_remove("VIGIL_DATABASE_URL")
            .env_remove("VIGIL_CONTROLS_DIR")
            .output()
            .unwrap()
    }

    fn write(&self, rel: &str, text: &str) -> PathBuf {
        let p = self.dir.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text).unwrap();
        p
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn sample() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/aws-sample.json")
        .display()
        .to_string()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn evaluate_prints_results_with_evidence_and_exits_1_on_failures() {
    let env = Env::new("eval");
    let out = env.vigil(&["evaluate", "--input", &sample()]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("FAIL    48"), "{text}");
    assert!(
        text.contains("expected: Versioning Status Enabled | actual: Suspended | Versioning is not enabled for S3 bucket."),
        "{text}"
    );
    assert!(
        text.contains("stored: 37 resources (37 new, 0 gone)"),
        "{text}"
    );
    let none = env.vigil(&[
        "evaluate",
        "--input",
        &sample(),
        "--fail-on",
        "none",
        "--no-store",
    ]);
    assert_eq!(none.status.code(), Some(0));
}

#[test]
fn evaluate_json_output_is_machine_readable() {
    let env = Env::new("json");
    let out = env.vigil(&[
        "--format",
        "json",
        "evaluate",
        "-q",
        "--no-store",
        "--input",
        &sample(),
    ]);
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert!(!rows.is_empty());
    assert!(
        rows.iter().all(|r| r["result"] != "PASS"),
        "-q keeps failures and skips only"
    );
    let s3 = rows.iter().find(|r| r["cid"] == 45).unwrap();
    assert_eq!(s3["criticality"], "HIGH");
    assert!(s3["actual"].as_str().unwrap().contains("AllUsers"));
}

#[test]
fn a_malformed_input_file_is_a_positioned_error_with_exit_2() {
    let env = Env::new("badinput");
    let f = env.write(
        "bad.json",
        "[\n  {\"provider\": \"aws\", \"servic\": \"S3\"}\n]",
    );
    let out = env.vigil(&["evaluate", "--input", f.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("bad.json:2:"), "{err}");
    assert!(err.contains("servic"), "{err}");
}

#[test]
fn a_broken_user_control_fails_loudly_with_file_and_line() {
    let env = Env::new("broken");
    let control = "cid = 100001\ntitle = \"t\"\nprovider = \"aws\"\nservice = \"S3\"\nresource_type = \"aws.s3.bucket\"\ncriticality = \"LOW\"\nexecution_type = \"both\"\nevaluation = \"e\"\n\n[logic]\nexpected = \"x\"\npass = \"resource.versioning.status == \"\n";
    env.write("mine/c1/control.toml", control);
    let dir = env.dir.join("mine");
    let out = env.vigil(&[
        "--controls-dir",
        dir.to_str().unwrap(),
        "evaluate",
        "--input",
        &sample(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("c1/control.toml:12:"), "{err}");
    assert!(err.contains("syntax error"), "{err}");
}

#[test]
fn search_finds_stored_evaluations_and_counts_them() {
    let env = Env::new("search");
    env.vigil(&["evaluate", "--input", &sample()]);
    let out = env.vigil(&[
        "search",
        "control.result:FAIL and control.criticality:HIGH and cid:48",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("arn:aws:s3:::scratch"), "{text}");
    assert!(!text.contains("arn:aws:s3:::logs"), "{text}");
    let out = env.vigil(&[
        "--format",
        "json",
        "search",
        "--counts",
        "policy.name:\"AWS Best Practices Policy\"",
    ]);
    let counts: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert!(counts[0]["fail"].as_u64().unwrap() > 0);
    assert_eq!(
        counts[0]["fail_low"].as_u64().unwrap(),
        2,
        "CID 56 fails on two instances"
    );
}

#[test]
fn a_bad_query_names_the_column_and_the_closest_field() {
    let env = Env::new("badquery");
    let out = env.vigil(&["search", "control.result:FAIL and contrl.criticality:HIGH"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("column 25"), "{err}");
    assert!(err.contains("did you mean `control.criticality`"), "{err}");
}

#[test]
fn a_copied_control_with_a_new_parameter_is_evaluated() {
    let env = Env::new("copy");
    let out = env.vigil(&[
        "controls",
        "copy",
        "11",
        "--new-cid",
        "100011",
        "--param",
        "minimum_length=16",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = env.vigil(&[
        "--format",
        "json",
        "evaluate",
        "--no-store",
        "--input",
        &sample(),
    ]);
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let copy: Vec<_> = rows.iter().filter(|r| r["cid"] == 100011).collect();
    assert!(!copy.is_empty());
    assert!(copy
        .iter()
        .all(|r| r["expected"] == "minimum password length >= 16"));
    let bad = env.vigil(&[
        "controls",
        "copy",
        "11",
        "--new-cid",
        "100012",
        "--param",
        "minimum_length=2",
    ]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("between 6 and 128"));
}

/// A copy takes its original's fixtures, JSON and IaC; `vigil controls
/// test` runs the IaC ones too, and a new parameter that the copied
/// `pass.tf` no longer meets is a failure naming the file and resource.
#[test]
fn a_copied_control_whose_terraform_fixture_fails_exits_4_naming_the_file() {
    let env = Env::new("copyiac");
    let out = env.vigil(&[
        "controls",
        "copy",
        "11",
        "--new-cid",
        "100011",
        "--param",
        "minimum_length=16",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let copied = env.dir.join("data/controls/100011");
    for f in ["pass.json", "fail.json", "pass.tf", "fail.tf"] {
        assert!(copied.join(f).is_file(), "{f} not copied: {}", stdout(&out));
    }
    let out = env.vigil(&["controls", "test"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(4), "{text}");
    assert!(
        text.contains(
            "100011/pass.tf: CID 100011 on `aws_iam_account_password_policy.strict`: expected PASS, got FAIL"
        ),
        "{text}"
    );
    // fail.tf (length 8) still fails at 16: no complaint about it.
    assert!(!text.contains("100011/fail.tf"), "{text}");
    assert!(text.contains("2 failed"), "{text}");
}

/// IaC fixtures of a `--controls-dir` control are read with the IaC
/// adapters: a CloudFormation pass file that fails, and a Terraform file
/// that cannot be parsed, are failures with the file (and position).
#[test]
fn iac_fixtures_of_a_controls_dir_are_tested() {
    let env = Env::new("iacfixtures");
    let dir = env.dir.join("mine");
    let own = dir.join("ec2/100075");
    let out = env.vigil(&[
        "controls",
        "copy",
        "75",
        "--new-cid",
        "100075",
        "--out",
        own.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let dir_arg = dir.to_str().unwrap();
    let out = env.vigil(&["--controls-dir", dir_arg, "controls", "test"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let fail_cfn = std::fs::read_to_string(own.join("fail.cfn.yaml")).unwrap();
    std::fs::write(own.join("pass.cfn.yaml"), fail_cfn).unwrap();
    std::fs::write(
        own.join("fail.tf"),
        "resource \"aws_instance\" \"x\" {\n  ami = \n}\n",
    )
    .unwrap();
    let out = env.vigil(&["--controls-dir", dir_arg, "controls", "test"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(4), "{text}");
    assert!(
        text.contains("100075/pass.cfn.yaml: CID 100075 on `Web`: expected PASS, got FAIL"),
        "{text}"
    );
    assert!(
        text.contains("100075/fail.tf: CID 100075: expected FAIL: the file cannot be read:"),
        "{text}"
    );
    assert!(text.contains("fail.tf:2:9: invalid expression"), "{text}");
}

#[test]
fn controls_and_policies_are_listed_and_shown() {
    let env = Env::new("list");
    let out = env.vigil(&[
        "controls",
        "list",
        "--policy",
        "CIS Amazon Web Services Foundations Benchmark",
    ]);
    let text = stdout(&out);
    assert!(
        text.contains("Ensure IAM password policy prevents password reuse"),
        "{text}"
    );
    assert!(!text.contains("versioning"), "{text}");
    let out = env.vigil(&["controls", "show", "12"]);
    assert!(
        stdout(&out).contains("passwords_to_remember"),
        "{}",
        stdout(&out)
    );
    let out = env.vigil(&["controls", "show", "999"]);
    assert_eq!(out.status.code(), Some(2));
    let out = env.vigil(&["policies", "list"]);
    assert!(stdout(&out).contains("AWS Best Practices Policy"));
    let out = env.vigil(&["controls", "test"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
}

#[test]
fn db_migrate_creates_the_embedded_database() {
    let env = Env::new("migrate");
    let out = env.vigil(&["db", "migrate"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("sqlite store at schema version"));
    assert!(env.dir.join("data/vigil.db").exists());
    let out = env.vigil(&["--database", "mysql://x", "db", "migrate"]);
    assert_eq!(out.status.code(), Some(2));
}

/// `vigil scan aws` against the moto server `scripts/test` starts: an empty
/// account of its own (through an assumed role) still has a password-policy
/// resource, which fails CIDs 11 and 12.
#[test]
fn scan_aws_prints_the_monitor_summary_and_stores_the_run() {
    let Ok(url) = std::env::var("VIGIL_TEST_MOTO_URL") else {
        eprintln!("VIGIL_TEST_MOTO_URL is not set: scan test skipped (scripts/test sets it)");
        return;
    };
    let env = Env::new("scan");
    let account = 300_000_000_000u64 + u64::from(std::process::id() % 100_000);
    let role = format!("arn:aws:iam::{account}:role/vigil-scan");
    let scan = |args: &[&str]| {
        let mut all = vec!["--external-id", "x"];
        all.extend_from_slice(args);
        env.scan_aws(&url, &role, &[], &all)
    };
    let out = scan(&[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains(&format!("AWS account {account}")), "{text}");
    assert!(text.contains("CONTROLS EVALUATED "), "{text}");
    assert!(
        text.contains("Ensure IAM password policy prevents password reuse"),
        "{text}"
    );
    assert!(
        text.contains(&format!("stored as connector:aws-{account}")),
        "{text}"
    );

    let out = env.vigil(&[
        "search",
        &format!("resource.source:\"connector:aws-{account}\" and cid:12"),
    ]);
    assert!(
        stdout(&out).contains("account-password-policy"),
        "{}",
        stdout(&out)
    );

    let out = env.scan_aws(
        &url,
        &role,
        &["--format", "json"],
        &["--no-store", "--fail-on", "none"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(doc["summary"]["fail"].as_u64().unwrap() >= 2, "{doc}");
    let failed: Vec<u64> = doc["failed_controls"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["cid"].as_u64())
        .collect();
    assert!(failed.contains(&11) && failed.contains(&12), "{failed:?}");

    let out = env.vigil(&[
        "--format",
        "csv",
        "scan",
        "aws",
        "--endpoint-url",
        "http://127.0.0.1:9",
        "--regions",
        "us-east-1",
    ]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "an unreachable endpoint is a clear error: {}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("AWS"), "{}", stderr(&out));
}

/// Rescanning keeps the lifecycle: an unchanged account changes nothing, a
/// fix sets last fixed, breaking it again sets last reopened.
#[test]
fn rescans_record_fixes_and_reopenings() {
    let Ok(url) = std::env::var("VIGIL_TEST_MOTO_URL") else {
        eprintln!("VIGIL_TEST_MOTO_URL is not set: rescan test skipped (scripts/test sets it)");
        return;
    };
    let env = Env::new("rescan");
    let account = 310_000_000_000u64 + u64::from(std::process::id() % 100_000);
    let role = format!("arn:aws:iam::{account}:role/vigil-rescan");
    let scan = || env.scan_aws(&url, &role, &[], &["--fail-on", "none"]);
    let stored = |o: &Output| -> String {
        let text = stdout(o);
        text.lines()
            .find(|l| l.starts_with("stored as"))
            .unwrap_or_default()
            .to_string()
    };
    let first = scan();
    assert!(
        stored(&first).contains("0 reopened, 0 fixed"),
        "{}",
        stdout(&first)
    );
    let again = scan();
    assert!(
        stored(&again).contains("(0 new, 0 gone)"),
        "{}",
        stdout(&again)
    );
    assert!(
        stored(&again).contains("0 reopened, 0 fixed"),
        "{}",
        stdout(&again)
    );

    // Fix the password policy (CIDs 11, 12 turn PASS), then break it again.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let iam = rt.block_on(async {
        std::env::set_var("AWS_ACCESS_KEY_ID", "testing");
        std::env::set_var("AWS_SECRET_ACCESS_KEY", "testing");
        let opts = vigil_aws::AwsOptions {
            endpoint_url: Some(url.clone()),
            role_arn: Some(role.clone()),
            ..Default::default()
        };
        aws_sdk_iam::Client::new(&vigil_aws::sdk_config(&opts).await.unwrap())
    });
    rt.block_on(
        iam.update_account_password_policy()
            .minimum_password_length(14)
            .password_reuse_prevention(24)
            .send(),
    )
    .unwrap();
    // "(R reopened, F fixed)" of a scan's stored line.
    let counts = |o: &Output| -> (u32, u32) {
        let line = stored(o);
        let inner = line.rsplit('(').next().unwrap_or_default();
        let nums: Vec<u32> = inner
            .split(|c: char| !c.is_ascii_digit())
            .filter_map(|n| n.parse().ok())
            .collect();
        (nums[0], nums[1])
    };
    let fixed = scan();
    let (reopened, fixed_n) = counts(&fixed);
    assert_eq!(reopened, 0, "{}", stdout(&fixed));
    assert!(fixed_n >= 2, "CIDs 11 and 12 at least: {}", stdout(&fixed));
    let out = env.vigil(&["search", "lastFixed:[now-1h .. now] and cid:[11 .. 12]"]);
    assert_eq!(stdout(&out).matches("PASS").count(), 2, "{}", stdout(&out));

    rt.block_on(iam.delete_account_password_policy().send())
        .unwrap();
    let reopened = scan();
    assert_eq!(
        counts(&reopened),
        (fixed_n, 0),
        "what the fix fixed reopens: {}",
        stdout(&reopened)
    );
    let out = env.vigil(&["search", "lastReopened:[now-1h .. now] and cid:[11 .. 12]"]);
    assert_eq!(stdout(&out).matches("FAIL").count(), 2, "{}", stdout(&out));
}

/// Every output format of `vigil scan aws`, written to a file with `-O`.
#[test]
fn scan_aws_writes_every_output_format() {
    let Ok(url) = std::env::var("VIGIL_TEST_MOTO_URL") else {
        eprintln!("VIGIL_TEST_MOTO_URL is not set: format test skipped (scripts/test sets it)");
        return;
    };
    let env = Env::new("formats");
    let account = 320_000_000_000u64 + u64::from(std::process::id() % 100_000);
    let role = format!("arn:aws:iam::{account}:role/vigil-formats");
    let account_id = account.to_string();
    for format in ["table", "json", "csv", "ocsf"] {
        let file = env.dir.join(format!("out.{format}"));
        let out = env.scan_aws(
            &url,
            &role,
            &["--format", format],
            &[
                "--no-store",
                "--fail-on",
                "none",
                "-O",
                file.to_str().unwrap(),
            ],
        );
        assert_eq!(out.status.code(), Some(0), "{format}: {}", stderr(&out));
        match format {
            // Tables go to the terminal.
            "table" => assert!(
                stdout(&out).contains("CONTROLS EVALUATED"),
                "{}",
                stdout(&out)
            ),
            "json" => {
                let doc: serde_json::Value =
                    serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
                assert_eq!(doc["account"], account_id.as_str());
            }
            "csv" => {
                let text = std::fs::read_to_string(&file).unwrap();
                assert!(
                    text.starts_with("RESULT,CID,CRITICALITY,ACCOUNT,REGION,RESOURCE"),
                    "{text}"
                );
                assert!(text.lines().count() > 2, "{text}");
            }
            _ => {
                let findings: Vec<serde_json::Value> =
                    serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
                assert!(!findings.is_empty());
                assert!(findings.iter().all(|f| f["class_uid"] == 2004
                    && f["cloud"]["account"]["uid"] == account_id.as_str()));
                assert!(
                    findings
                        .iter()
                        .any(|f| f["status_code"] == "FAIL"
                            && f["metadata"]["event_code"] == "CID-12")
                );
            }
        }
    }
}

/// The checks of a scan response document, flattened.
fn checks(doc: &serde_json::Value) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    for t in doc["result"].as_array().unwrap() {
        for k in ["failedChecks", "passedChecks", "skippedChecks"] {
            out.extend(t["results"][k].as_array().unwrap().iter().cloned());
        }
    }
    out
}

fn check<'a>(checks: &'a [serde_json::Value], cid: u64, resource: &str) -> &'a serde_json::Value {
    checks
        .iter()
        .find(|c| c["controlId"] == cid && c["resource"] == resource)
        .unwrap_or_else(|| panic!("CID {cid} on {resource}"))
}

fn examples(dir: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .join(dir)
        .display()
        .to_string()
}

#[test]
fn iac_scan_judges_terraform_and_cloudformation_with_file_and_lines() {
    let env = Env::new("iac");
    let tf = examples("terraform");
    let cfn = examples("cloudformation");
    let out = env.vigil(&[
        "iac", "scan", "-n", "t", "-d", &tf, "-d", &cfn, "-m", "json",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["status"], "FINISHED");
    let types: Vec<&str> = doc["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["checkType"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["cloudformation", "terraform"]);
    let all = checks(&doc);
    let website = check(&all, 45, "aws_s3_bucket.website");
    assert_eq!(website["result"], "FAILED");
    assert!(website["filePath"].as_str().unwrap().ends_with("main.tf"));
    assert_eq!(website["fileLineRange"], serde_json::json!([23, 26]));
    assert_eq!(check(&all, 48, "aws_s3_bucket.logs")["result"], "PASSED");
    assert_eq!(
        check(&all, 41, "aws_security_group.ssh")["result"],
        "FAILED"
    );
    // `storage_encrypted = var.encrypt` is not known before apply: SKIP, never PASS.
    let unknown = check(&all, 53, "aws_db_instance.legacy");
    assert_eq!(unknown["result"], "SKIPPED");
    assert!(
        unknown["message"]
            .as_str()
            .unwrap()
            .contains("not known at build time"),
        "{unknown}"
    );
    // The same controls judge the CloudFormation template.
    assert_eq!(check(&all, 48, "LogsBucket")["result"], "PASSED");
    assert_eq!(check(&all, 45, "WebsiteBucket")["result"], "FAILED");
    assert_eq!(check(&all, 41, "SshGroup")["result"], "FAILED");
    let suppressed = check(&all, 41, "ScratchGroup");
    assert_eq!(suppressed["result"], "SKIPPED");
    assert!(suppressed["message"]
        .as_str()
        .unwrap()
        .contains("torn down nightly"));

    // -q: failed checks only; --soft-fail: exit 0 despite failures.
    let out = env.vigil(&[
        "iac",
        "scan",
        "-n",
        "q",
        "-d",
        &cfn,
        "-m",
        "json",
        "-q",
        "--soft-fail",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(checks(&doc).iter().all(|c| c["result"] == "FAILED"));
    assert!(
        doc["summary"]["passed"].as_u64().unwrap() > 0,
        "the summary counts all"
    );
}

#[test]
fn iac_scans_are_kept_saved_listed_and_read_back() {
    let env = Env::new("iac-kept");
    let tf = examples("terraform");
    // qiac's `-pn` spelling selects a policy.
    let out = env.vigil(&[
        "iac",
        "scan",
        "-n",
        "kept",
        "-d",
        &tf,
        "-m",
        "json",
        "-s",
        "-g",
        r#"[{"env":"ci"}]"#,
        "-pn",
        "AWS Best Practices Policy",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let id = doc["scanUuid"].as_str().unwrap().to_string();
    assert_eq!(doc["tags"], serde_json::json!([{"env": "ci"}]));
    assert_eq!(doc["policy"], "AWS Best Practices Policy");
    let saved = env.dir.join(format!("scan_response_{id}.json"));
    let saved: serde_json::Value = serde_json::from_slice(&std::fs::read(&saved).unwrap()).unwrap();
    assert_eq!(
        saved, doc,
        "-s saves the scan response in the current directory"
    );

    let out = env.vigil(&["iac", "getresult", "-i", &id, "-m", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let got: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(got, doc, "getresult prints the kept scan");

    let out = env.vigil(&["iac", "listscans", "-m", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let list: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["scanUuid"], id.as_str());
    assert_eq!(list[0]["summary"], doc["summary"]);
    let out = env.vigil(&["iac", "listscans", "-i", &id]);
    assert!(
        stdout(&out).contains(&id) && stdout(&out).contains("kept"),
        "{}",
        stdout(&out)
    );

    let out = env.vigil(&["iac", "getresult", "-i", "no-such-scan"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("no such scan"), "{}", stderr(&out));
}

#[test]
fn iac_sarif_and_junit_are_valid_documents() {
    let env = Env::new("iac-formats");
    let tf = examples("terraform");
    let out = env.vigil(&["iac", "scan", "-n", "s", "-d", &tf, "-m", "sarif"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let sarif: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(sarif["version"], "2.1.0");
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    assert!(!results.is_empty());
    let region = &results[0]["locations"][0]["physicalLocation"]["region"];
    assert!(region["endLine"].as_u64().unwrap() > region["startLine"].as_u64().unwrap());
    assert!(results
        .iter()
        .all(|r| r["partialFingerprints"]["vigilFindingId/v1"].is_string()));

    let out = env.vigil(&["iac", "scan", "-n", "j", "-d", &tf, "-m", "junit"]);
    let xml = stdout(&out);
    assert!(
        xml.starts_with("<?xml") && xml.contains("<testsuite") && xml.contains("<failure"),
        "{xml}"
    );
    let out = env.vigil(&["iac", "scan", "-n", "c", "-d", &tf, "-m", "csv"]);
    assert!(
        stdout(&out).starts_with("RESULT,CID,CRITICALITY"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn iac_bad_input_is_a_clear_error() {
    let env = Env::new("iac-bad");
    let bad = env.write(
        "bad/main.tf",
        "resource \"aws_s3_bucket\" \"x\" {\n  bucket = \n}\n",
    );
    let ok = env.write(
        "bad/ok.tf",
        "resource \"aws_s3_bucket\" \"y\" {\n  bucket = \"y\"\n}\n",
    );
    let out = env.vigil(&[
        "iac",
        "scan",
        "-n",
        "t",
        "-d",
        bad.parent().unwrap().to_str().unwrap(),
        "-m",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("bad/main.tf:"), "{}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["status"], "FINISHED_WITH_ERRORS");
    assert_eq!(doc["summary"]["parsingErrors"], 1);
    assert!(
        checks(&doc)
            .iter()
            .any(|c| c["filePath"].as_str().unwrap() == ok.display().to_string()),
        "the other files are still scanned"
    );

    let out = env.vigil(&["iac", "scan", "-n", "t", "-d", "/no/such/dir"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("/no/such/dir"), "{}", stderr(&out));
    let out = env.vigil(&[
        "iac",
        "scan",
        "-n",
        "t",
        "-d",
        ok.to_str().unwrap(),
        "-g",
        "{env: ci}",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("-g/--tag"), "{}", stderr(&out));
    let out = env.vigil(&[
        "iac",
        "scan",
        "-n",
        "t",
        "-d",
        ok.to_str().unwrap(),
        "-f",
        "([",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("regular expression"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn iac_config_is_written_and_found_in_qiac_order() {
    let env = Env::new("iac-config");
    let out = env.vigil(&[
        "iac",
        "config",
        "-a",
        "https://vigil.example.com",
        "-u",
        "alice",
        "-p",
        "pw",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let written = std::fs::read_to_string(env.dir.join("home/.vigil-iac.yaml")).unwrap();
    assert!(
        written.contains("platform_url: https://vigil.example.com"),
        "{written}"
    );
    // With a platform configured the scan goes to the server (here an
    // https one, which this build cannot reach): a clear error naming where
    // the URL came from, not a silent local scan.
    let tf = examples("terraform");
    let out = env.vigil(&["iac", "scan", "-n", "t", "-d", &tf]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("home/.vigil-iac.yaml"),
        "{}",
        stderr(&out)
    );
    let out = env.vigil(&[
        "iac",
        "config",
        "-a",
        "ftp://x",
        "-u",
        "a",
        "-p",
        "b",
        "-c",
        "elsewhere.yaml",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(!env.dir.join("elsewhere.yaml").exists());
}

#[test]
fn iac_archives_are_scanned_and_hostile_ones_refused() {
    let env = Env::new("iac-archive");
    let cfn = std::fs::read(Path::new(&examples("cloudformation")).join("template.yaml")).unwrap();
    let zip = |name: &str, entry: &str| {
        let path = env.dir.join(name);
        let mut w = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
        w.start_file(entry, zip::write::SimpleFileOptions::default())
            .unwrap();
        std::io::Write::write_all(&mut w, &cfn).unwrap();
        w.finish().unwrap();
        path
    };
    let good = zip("stack.zip", "stacks/template.yaml");
    let out = env.vigil(&[
        "iac",
        "scan",
        "-n",
        "z",
        "-d",
        good.to_str().unwrap(),
        "-m",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let all = checks(&doc);
    assert!(check(&all, 45, "WebsiteBucket")["filePath"]
        .as_str()
        .unwrap()
        .ends_with("stack.zip!/stacks/template.yaml"));

    let evil = zip("evil.zip", "../../evil.yaml");
    let out = env.vigil(&["iac", "scan", "-n", "z", "-d", evil.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("../../evil.yaml"), "{}", stderr(&out));
}
