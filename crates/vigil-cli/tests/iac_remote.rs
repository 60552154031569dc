//! `vigil iac … -a URL` against a real `vigil serve`: a scan through the
//! server prints what a local scan prints, in every format, with the same
//! exit code; `getresult` and `listscans` read the server; failures are
//! clear one-liners.

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

const PASSWORD: &str = "remote scan password 42";

/// The running `vigil serve`; killed when dropped.
struct Serve {
    child: Child,
    url: String,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `vigil serve --listen 127.0.0.1:0` on its own data directory; its URL is
/// the one it prints on start.
fn serve(dir: &Path) -> Serve {
    let mut child = Command::new(env!("CARGO_BIN_EXE_vigil"))
        .arg("--data-dir")
        .arg(dir.join("server"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("HOME", dir.join("home"))
        .env("VIGIL_ADMIN_PASSWORD", PASSWORD)
        .env_remove("VIGIL_DATABASE_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("vigil serve starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("a line on stdout");
    let url = line
        .trim()
        .split(" listening on ")
        .nth(1)
        .unwrap_or_else(|| panic!("no address printed: {line}"))
        .to_string();
    Serve { child, url }
}

/// `vigil iac ARGS` as a client: its own data directory and home, run from
/// the workspace root so `examples/terraform` names the example.
fn vigil(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vigil"))
        .arg("--data-dir")
        .arg(dir.join("client"))
        .args(args)
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."))
        .env("HOME", dir.join("home"))
        .env_remove("VIGIL_DATABASE_URL")
        .env_remove("VIGIL_CONTROLS_DIR")
        .output()
        .expect("vigil runs")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A scan document without what differs between two scans of the same
/// files (its id and time).
fn comparable(text: &str) -> Value {
    let mut doc: Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"));
    let o = doc.as_object_mut().expect("an object");
    o.remove("scanUuid");
    o.remove("createdOn");
    doc
}

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("vigil-iac-remote-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("home")).expect("a temp dir");
    dir
}

#[test]
fn a_scan_through_the_server_prints_what_a_local_scan_prints() {
    let dir = temp("same");
    let server = serve(&dir);
    let remote = ["-a", server.url.as_str(), "-u", "admin", "-p", PASSWORD];
    let scan = |format: &str, on_server: bool| {
        let mut args = vec![
            "iac",
            "scan",
            "-n",
            "demo",
            "-d",
            "examples/terraform",
            "-m",
            format,
            "-g",
            r#"[{"env":"ci"}]"#,
        ];
        if on_server {
            args.extend(remote);
        }
        vigil(&dir, &args)
    };

    let local = scan("json", false);
    let through = scan("json", true);
    assert_eq!(local.status.code(), Some(1), "{}", stderr(&local));
    assert_eq!(
        through.status.code(),
        local.status.code(),
        "{}",
        stderr(&through)
    );
    let (local_doc, remote_doc) = (comparable(&stdout(&local)), comparable(&stdout(&through)));
    assert!(
        remote_doc["summary"]["failed"].as_u64().unwrap() > 0,
        "{remote_doc}"
    );
    assert_eq!(remote_doc, local_doc);

    // The formats without a scan id print the same bytes; OCSF the same
    // findings (each carries the scan's time).
    for format in ["sarif", "junit", "csv", "ocsf"] {
        let (l, r) = (scan(format, false), scan(format, true));
        assert_eq!(r.status.code(), l.status.code(), "{format}: {}", stderr(&r));
        if format == "ocsf" {
            let timeless = |text: &str| {
                let mut v: Value = serde_json::from_str(text).expect("OCSF JSON");
                for f in v.as_array_mut().expect("an array") {
                    f.as_object_mut().expect("a finding").remove("time");
                }
                v
            };
            assert!(
                timeless(&stdout(&r)) == timeless(&stdout(&l)),
                "ocsf differs"
            );
        } else {
            assert!(stdout(&r) == stdout(&l), "{format} differs");
        }
    }

    // getresult and listscans read the server.
    let id = serde_json::from_str::<Value>(&stdout(&through)).unwrap()["scanUuid"]
        .as_str()
        .unwrap()
        .to_string();
    let mut args = vec!["iac", "getresult", "-i", id.as_str(), "-m", "json"];
    args.extend(remote);
    let got = vigil(&dir, &args);
    assert_eq!(got.status.code(), Some(0), "{}", stderr(&got));
    assert_eq!(stdout(&got), stdout(&through));
    let mut args = vec!["iac", "listscans", "-m", "json"];
    args.extend(remote);
    let list = vigil(&dir, &args);
    assert_eq!(list.status.code(), Some(0), "{}", stderr(&list));
    let list: Value = serde_json::from_str(&stdout(&list)).unwrap();
    let ids: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["scanUuid"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids.len(),
        5,
        "the server keeps the five remote scans: {list}"
    );
    assert!(ids.contains(&id.as_str()));
    let mut args = vec!["iac", "listscans", "-i", id.as_str(), "-m", "json"];
    args.extend(remote);
    let one: Value = serde_json::from_str(&stdout(&vigil(&dir, &args))).unwrap();
    assert_eq!(one[0]["scanUuid"], id.as_str());

    // The settings file works as the options do; --async prints the id.
    let out = vigil(
        &dir,
        &[
            "iac",
            "config",
            "-a",
            &server.url,
            "-u",
            "admin",
            "-p",
            PASSWORD,
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = vigil(
        &dir,
        &[
            "iac",
            "scan",
            "-n",
            "later",
            "-d",
            "examples/terraform",
            "--async",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).starts_with("scan "), "{}", stdout(&out));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn server_failures_are_one_line_errors_naming_the_url() {
    let dir = temp("errors");
    let server = serve(&dir);
    let url = &server.url.clone();
    let scan = |url: &str, user: &str, password: &str| {
        vigil(
            &dir,
            &[
                "iac",
                "scan",
                "-n",
                "x",
                "-d",
                "examples/terraform",
                "-a",
                url,
                "-u",
                user,
                "-p",
                password,
            ],
        )
    };
    let out = scan(url, "admin", "wrong");
    assert_eq!(out.status.code(), Some(2));
    let e = stderr(&out);
    assert!(e.contains(url) && e.contains("401"), "{e}");

    let out = vigil(
        &dir,
        &[
            "iac",
            "getresult",
            "-i",
            "no-such-scan",
            "-a",
            url,
            "-u",
            "admin",
            "-p",
            PASSWORD,
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    let e = stderr(&out);
    assert!(e.contains("404") && e.contains("no-such-scan"), "{e}");

    // A reader may read but not scan: 403, naming the permission.
    let token = ureq::post(&format!("{url}/auth"))
        .send_form(&[
            ("username", "admin"),
            ("password", PASSWORD),
            ("token", "true"),
        ])
        .expect("admin signs in")
        .into_string()
        .expect("a token");
    ureq::post(&format!("{url}/api/v1/users"))
        .set("Authorization", &format!("Bearer {token}"))
        .set("Content-Type", "application/json")
        .send_string(
            &serde_json::json!({"username": "rita", "password": PASSWORD, "role": "reader"})
                .to_string(),
        )
        .expect("rita is created");
    let out = scan(url, "rita", PASSWORD);
    assert_eq!(out.status.code(), Some(2));
    let e = stderr(&out);
    assert!(
        e.contains("403") && e.contains("iac_scan") && e.contains(url),
        "{e}"
    );
    let out = vigil(
        &dir,
        &["iac", "listscans", "-a", url, "-u", "rita", "-p", PASSWORD],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    drop(server);
    let out = scan(url, "admin", PASSWORD);
    assert_eq!(out.status.code(), Some(3));
    let e = stderr(&out);
    assert!(e.contains("cannot reach") && e.contains(url), "{e}");
    assert_eq!(e.trim().lines().count(), 1, "{e}");

    let out = scan("https://vigil.example.com", "admin", PASSWORD);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("plain http"), "{}", stderr(&out));
    let _ = std::fs::remove_dir_all(&dir);
}
