//! `vigil serve` as a user runs it: a real process on a free port with the
//! embedded SQLite store in a temporary data directory.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};

/// The running `vigil serve`; killed when dropped.
struct Serve {
    child: Child,
    /// The data directory, removed when the server is dropped.
    _dir: tempfile::TempDir,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `vigil serve --listen 127.0.0.1:0` and returns it with its base
/// URL (read from the line it prints on start) and what it printed to
/// stderr before that.
fn start(admin_password: Option<&str>) -> (Serve, String, String) {
    let dir = tempfile::tempdir().expect("a temp dir");
    let mut command = Command::new(env!("CARGO_BIN_EXE_vigil"));
    command
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("HOME", dir.path().join("home"))
        .env_remove("VIGIL_DATABASE_URL")
        .env_remove("VIGIL_ADMIN_PASSWORD")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(p) = admin_password {
        command.env("VIGIL_ADMIN_PASSWORD", p);
    }
    let mut child = command.spawn().expect("vigil starts");
    let stdout = child.stdout.take().expect("stdout");
    let stderr = child.stderr.take().expect("stderr");
    let mut serve = Serve { child, _dir: dir };
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("a line on stdout");
    let Some(url) = line.trim().split(" listening on ").nth(1) else {
        let mut err = String::new();
        let _ = BufReader::new(stderr).read_to_string(&mut err);
        let _ = serve.child.kill();
        panic!("no address printed: stdout `{line}`, stderr `{err}`");
    };
    // Everything printed to stderr before the address: read what is there.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut err = String::new();
    while let Ok(l) = rx.recv_timeout(std::time::Duration::from_millis(500)) {
        err.push_str(&l);
        err.push('\n');
    }
    (serve, url.to_string(), err)
}

fn status(result: Result<ureq::Response, ureq::Error>) -> (u16, String) {
    match result {
        Ok(r) | Err(ureq::Error::Status(_, r)) => {
            (r.status(), r.into_string().expect("a text body"))
        }
        Err(e) => panic!("the request failed: {e}"),
    }
}

fn login(url: &str, password: &str) -> (u16, String) {
    status(
        ureq::post(&format!("{url}/auth"))
            .set("Content-Type", "application/x-www-form-urlencoded")
            .send_string(&format!("username=admin&password={password}&token=true")),
    )
}

#[test]
fn serve_prints_its_address_answers_health_and_shows_a_generated_password_once() {
    let (mut serve, url, err) = start(None);
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    assert_eq!(status(ureq::get(&format!("{url}/health")).call()).0, 200);
    let password = err
        .lines()
        .find_map(|l| l.split("one-time password: ").nth(1))
        .unwrap_or_else(|| panic!("no generated password on stderr: {err}"))
        .trim()
        .to_string();
    assert_eq!(login(&url, &password).0, 201);
    assert_eq!(
        login(&url, "admin").0,
        401,
        "a fixed default password works"
    );

    // SIGTERM stops it gracefully (exit 0).
    #[cfg(unix)]
    {
        let killed = Command::new("kill")
            .args(["-TERM", &serve.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(killed.success());
        let exit = serve.child.wait().expect("vigil exits");
        assert!(exit.success(), "exit status {exit}");
    }
}

#[test]
fn serve_takes_the_admin_password_from_the_environment_and_never_prints_it() {
    let (_serve, url, err) = start(Some("s3cret-from-env"));
    assert!(
        !err.contains("s3cret-from-env"),
        "the password was printed: {err}"
    );
    assert!(err.contains("VIGIL_ADMIN_PASSWORD"), "{err}");
    assert_eq!(login(&url, "s3cret-from-env").0, 201);
}

#[test]
fn serve_reads_its_config_file_and_names_a_bad_key_with_its_line() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let db = dir.path().join("from-config.db");
    let config = dir.path().join("vigil.toml");
    std::fs::write(
        &config,
        format!(
            "listen = \"127.0.0.1:0\"\ndatabase_url = \"sqlite://{}\"\nexception_sweep_seconds = 2\n",
            db.display()
        ),
    )
    .expect("write the config");
    let mut child = Command::new(env!("CARGO_BIN_EXE_vigil"))
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .args(["serve", "--config"])
        .arg(&config)
        .env("HOME", dir.path().join("home"))
        .env_remove("VIGIL_DATABASE_URL")
        .env_remove("VIGIL_LISTEN")
        .env("VIGIL_ADMIN_PASSWORD", "a long enough password")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("vigil starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("a line on stdout");
    let _ = child.kill();
    let _ = child.wait();
    assert!(line.contains("listening on http://127.0.0.1:"), "{line}");
    assert!(
        !line.contains(":8080"),
        "the config's port 0 was used: {line}"
    );
    assert!(
        db.exists(),
        "the store was opened at the config's database_url"
    );

    std::fs::write(&config, "listen = \"127.0.0.1:0\"\nlisten_port = 9\n").expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_vigil"))
        .args(["serve", "--config"])
        .arg(&config)
        .env("HOME", dir.path().join("home"))
        .output()
        .expect("vigil runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!("{}:2", config.display())) && err.contains("listen_port"),
        "{err}"
    );
    std::fs::write(&config, "run_lease_seconds = 1\n").expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_vigil"))
        .args(["serve", "--config"])
        .arg(&config)
        .output()
        .expect("vigil runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("run_lease_seconds") && err.contains("between 3 and 3600"),
        "{err}"
    );
}
