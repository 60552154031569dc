//! `vigil qualys check|ingest` and Qualys runs of `vigil serve`, against
//! the Qualys API stand-in (issue 6, "Done when": check and a full ingest
//! work from the CLI and through the server API).

mod common;

use common::{call, run_to_end, Node};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use vigil_qualys_standin::{StandIn, Subscription};

const ADMIN_PASSWORD: &str = "correct horse battery staple";
const SECRET_KEY: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

/// A stand-in on its own runtime (kept alive with it).
struct Qualys {
    standin: StandIn,
    _rt: tokio::runtime::Runtime,
    sub: Subscription,
}

fn standin() -> Qualys {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let sub = Subscription::default();
    let standin = rt.block_on(StandIn::start(sub.clone()));
    Qualys {
        standin,
        _rt: rt,
        sub,
    }
}

/// A TOML settings file for the stand-in.
fn config(dir: &Path, q: &Qualys, extra: &str) -> PathBuf {
    let path = dir.join("qualys.toml");
    std::fs::write(
        &path,
        format!(
            "api_url = \"{url}\"\ngateway_url = \"{url}\"\nusername = \"{user}\"\naccount_name = \"Acme\"\ntimeout_seconds = 20\n{extra}",
            url = q.standin.url,
            user = q.sub.username
        ),
    )
    .expect("write the config");
    path
}

fn vigil(dir: &Path, password: Option<&str>, args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_vigil"));
    command
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .env("HOME", dir)
        .env_remove("VIGIL_DATABASE_URL")
        .env_remove("VIGIL_QUALYS_PASSWORD");
    if let Some(p) = password {
        command.env("VIGIL_QUALYS_PASSWORD", p);
    }
    command.output().expect("vigil runs")
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn check_prints_ok_for_every_endpoint() {
    let q = standin();
    let dir = tempfile::tempdir().expect("a temp dir");
    let cfg = config(dir.path(), &q, "");
    let out = vigil(
        dir.path(),
        Some(&q.sub.password),
        &["qualys", "check", "--config", cfg.to_str().expect("utf-8")],
    );
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let probes: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("OK") || l.starts_with("FAILED"))
        .collect();
    assert!(!probes.is_empty(), "{stdout}");
    assert!(probes.iter().all(|l| l.starts_with("OK")), "{stdout}");
    assert!(stdout.contains("/api/2.0/fo/asset/host/"), "{stdout}");
    // Every endpoint was called with the credentials.
    assert!(!q.standin.requests_to("/api/2.0/fo/asset/host/").is_empty());
}

#[test]
fn check_names_the_fix_of_a_forbidden_endpoint_and_fails() {
    let q = standin();
    q.standin
        .faults()
        .status
        .insert("/api/2.0/fo/asset/host/".into(), 403);
    let dir = tempfile::tempdir().expect("a temp dir");
    let cfg = config(dir.path(), &q, "");
    let out = vigil(
        dir.path(),
        Some(&q.sub.password),
        &["qualys", "check", "--config", cfg.to_str().expect("utf-8")],
    );
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(stdout.contains("FAILED"), "{stdout}");
    assert!(stdout.contains("Read Asset"), "{stdout}");
    // A wrong password: every endpoint says what to do (401).
    let out = vigil(
        dir.path(),
        Some("wrong"),
        &["qualys", "check", "--config", cfg.to_str().expect("utf-8")],
    );
    let (stdout, _) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("user name and password"), "{stdout}");
}

#[test]
fn ingest_prints_counts_and_stores_them() {
    let q = standin();
    let dir = tempfile::tempdir().expect("a temp dir");
    let cfg = config(dir.path(), &q, "[options]\nhost_scan_age_days = 3650\nfindings_age_days = 3650\ndevices_modified_days = 3650\n");
    let cfg = cfg.to_str().expect("utf-8");
    let out = vigil(
        dir.path(),
        Some(&q.sub.password),
        &["qualys", "ingest", "--config", cfg],
    );
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("detections/s"), "{stdout}");
    assert!(stdout.contains("hosts"), "{stdout}");
    // JSON: the counts read, the counts stored.
    let out = vigil(
        dir.path(),
        Some(&q.sub.password),
        &[
            "-o",
            "json",
            "qualys",
            "ingest",
            "--config",
            cfg,
            "--connector",
            "acme",
        ],
    );
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let doc: Value = serde_json::from_str(&stdout).expect("JSON");
    assert_eq!(doc["connector"], "acme");
    // Host records read: the host list and the QPS host assets.
    assert!(
        doc["counts"]["hosts"]
            .as_u64()
            .is_some_and(|n| n >= q.sub.hosts),
        "{doc}"
    );
    assert!(
        doc["counts"]["detections"].as_u64().is_some_and(|n| n > 0),
        "{doc}"
    );
    assert!(doc["counts"]["kb"].as_u64().is_some_and(|n| n > 0), "{doc}");
    assert_eq!(doc["stored"]["hosts"], doc["counts"]["hosts"], "{doc}");
    // In the embedded store, under the connector name.
    let rt = tokio::runtime::Runtime::new().expect("a runtime");
    let store = rt
        .block_on(vigil_store_sqlite::SqliteStore::open(
            &dir.path().join("vigil.db"),
        ))
        .expect("the store");
    use vigil_store::QualysStore;
    let summary = rt.block_on(store.qualys_summary("acme")).expect("summary");
    assert_eq!(
        summary.get("hosts").copied(),
        Some(q.sub.hosts),
        "{summary:?}"
    );
}

#[test]
fn ingest_that_cannot_read_qualys_fails_with_the_fix() {
    let q = standin();
    let dir = tempfile::tempdir().expect("a temp dir");
    // Every family fails (only VM enabled): the run fails.
    let cfg = config(
        dir.path(),
        &q,
        "[options]\ningest_policy_compliance = false\ningest_web_app_scans = false\ningest_container_images = false\n",
    );
    let out = vigil(
        dir.path(),
        Some("wrong"),
        &["qualys", "ingest", "--config", cfg.to_str().expect("utf-8")],
    );
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stdout}\n{stderr}");
    assert!(stderr.contains("user name and password"), "{stderr}");
}

#[test]
fn bad_config_files_are_named_with_line_and_field() {
    let q = standin();
    let dir = tempfile::tempdir().expect("a temp dir");
    let run = |cfg: &Path| {
        let out = vigil(
            dir.path(),
            Some("x"),
            &["qualys", "check", "--config", cfg.to_str().expect("utf-8")],
        );
        assert_eq!(out.status.code(), Some(2), "{:?}", text(&out));
        text(&out).1
    };
    // An invalid value: the field's path.
    let cfg = config(dir.path(), &q, "[options]\nimages_window_days = 100\n");
    let err = run(&cfg);
    assert!(err.contains("qualys.toml"), "{err}");
    assert!(err.contains("options.images_window_days"), "{err}");
    assert!(err.contains("90, 180, 275, 365"), "{err}");
    // An unknown key: its line.
    let cfg = config(dir.path(), &q, "[options]\npage_sise = 5\n");
    let err = run(&cfg);
    assert!(err.contains("qualys.toml:7"), "{err}");
    assert!(err.contains("page_sise"), "{err}");
    // The password does not belong in the file.
    let cfg = config(dir.path(), &q, "password = \"p\"\n");
    let err = run(&cfg);
    assert!(err.contains("VIGIL_QUALYS_PASSWORD"), "{err}");
    // JSON: line and path.
    let json_cfg = dir.path().join("qualys.json");
    std::fs::write(
        &json_cfg,
        "{\n  \"api_url\": \"qualysapi.qg2.apps.qualys.com\",\n  \"username\": \"u\",\n  \"options\": {\"pc\": {\"ips\": [\"10.0.0.1-nope\"]}}\n}\n",
    )
    .expect("write");
    let err = run(&json_cfg);
    assert!(err.contains("options.pc.ips"), "{err}");
    std::fs::write(
        &json_cfg,
        "{\n  \"api_url\": \"x\",\n  \"username\": 5\n}\n",
    )
    .expect("write");
    let err = run(&json_cfg);
    assert!(
        err.contains("qualys.json:3") && err.contains("username"),
        "{err}"
    );
    // No password.
    let cfg = config(dir.path(), &q, "");
    let out = vigil(
        dir.path(),
        None,
        &["qualys", "check", "--config", cfg.to_str().expect("utf-8")],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).1.contains("VIGIL_QUALYS_PASSWORD"));
    // A missing file.
    let err = run(&dir.path().join("nope.toml"));
    assert!(err.contains("nope.toml"), "{err}");
}

fn serve(data: &Path) -> Node {
    Node::start(
        Command::new(env!("CARGO_BIN_EXE_vigil"))
            .arg("--data-dir")
            .arg(data)
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--worker-tick-seconds",
                "1",
            ])
            .env("HOME", data)
            .env_remove("VIGIL_DATABASE_URL")
            .env("VIGIL_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("VIGIL_SECRET_KEY", SECRET_KEY)
            .stderr(Stdio::null()),
    )
}

#[test]
fn a_run_through_the_server_ingests_and_counts() {
    let q = standin();
    let dir = tempfile::tempdir().expect("a temp dir");
    let node = serve(dir.path());
    let token = common::login(&node, "admin", ADMIN_PASSWORD);
    let body = json!({
        "name": "qualys-standin",
        "type": "qualys",
        "qualys": {
            "api_url": q.standin.url,
            "gateway_url": q.standin.url,
            "username": q.sub.username,
            "password": q.sub.password,
            "account_name": "Acme",
            "timeout_seconds": 20,
            "options": {"host_scan_age_days": 3650, "findings_age_days": 3650, "devices_modified_days": 3650}
        }
    });
    let (status, created) = call(
        "POST",
        &format!("{}/api/v1/connectors", node.url),
        Some(&token),
        Some(&body),
    );
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().expect("an id").to_string();
    let run = run_to_end(&node, &token, &id);
    assert_eq!(run["state"], "Completed", "{run}");
    assert_eq!(run["resources"], q.sub.hosts, "hosts: {run}");
    assert!(
        run["evaluations"].as_u64().is_some_and(|n| n > 0),
        "detections: {run}"
    );
    let (status, summary) = call(
        "GET",
        &format!("{}/api/v1/connectors/{id}/qualys", node.url),
        Some(&token),
        None,
    );
    assert_eq!(status, 200, "{summary}");
    assert_eq!(summary["counts"]["hosts"], q.sub.hosts, "{summary}");
    assert!(
        summary["counts"]["detections"]
            .as_u64()
            .is_some_and(|n| n > 0),
        "{summary}"
    );

    // A family that cannot be read is named with its fix; the run completes.
    q.standin
        .faults()
        .status
        .insert("/api/2.0/fo/asset/host/".into(), 403);
    let run = run_to_end(&node, &token, &id);
    assert_eq!(run["state"], "Completed", "{run}");
    assert_eq!(run["errors"][0]["service"], "qualys:vm", "{run}");
    assert!(
        run["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("Read Asset")),
        "{run}"
    );

    // Every family fails (only VM enabled, 401 everywhere): the run fails
    // with the problem and its fix.
    let mut vm_only = body.clone();
    vm_only["qualys"]["options"]["ingest_policy_compliance"] = json!(false);
    vm_only["qualys"]["options"]["ingest_web_app_scans"] = json!(false);
    vm_only["qualys"]["options"]["ingest_container_images"] = json!(false);
    let (status, updated) = call(
        "PUT",
        &format!("{}/api/v1/connectors/{id}", node.url),
        Some(&token),
        Some(&vm_only),
    );
    assert_eq!(status, 200, "{updated}");
    {
        let mut faults = q.standin.faults();
        faults.status.clear();
        faults.status.insert("/".into(), 401);
    }
    let run = run_to_end(&node, &token, &id);
    assert_eq!(run["state"], "Failed", "{run}");
    let message = run["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(message.contains("user name and password"), "{run}");

    // `vigil qualys ingest --connector NAME` fills the server's connector.
    drop(node);
    q.standin.faults().status.clear();
    let cfg = config(
        dir.path(),
        &q,
        "[options]\nhost_scan_age_days = 3650\nfindings_age_days = 3650\ndevices_modified_days = 3650\n",
    );
    let out = vigil(
        dir.path(),
        Some(&q.sub.password),
        &[
            "-o",
            "json",
            "qualys",
            "ingest",
            "--config",
            cfg.to_str().expect("utf-8"),
            "--connector",
            "qualys-standin",
        ],
    );
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let doc: Value = serde_json::from_str(&stdout).expect("JSON");
    assert_eq!(doc["connector"], id.as_str(), "{doc}");
}
