//! `vigil iac config` and the lookup of the platform settings that every
//! `vigil iac` command does, in seed 001's order: the options (`-a`, `-u`,
//! `-p`), else the file given with `-c`, else `.vigil-iac.yaml` in the
//! current directory, else `.vigil-iac.yaml` in the home directory. With no
//! platform URL anywhere, scans run locally and are kept in the store.

use crate::setup::{Failure, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The default name of the config file.
pub const FILE_NAME: &str = ".vigil-iac.yaml";

/// The options every `vigil iac` command accepts for the platform.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct PlatformArgs {
    /// Path of the config file written by `vigil iac config`.
    #[arg(short = 'c', long = "config_file", alias = "config-file")]
    pub config_file: Option<PathBuf>,
    /// The Vigil server URL (a scan without one runs locally).
    #[arg(short = 'a', long = "platform_url", alias = "platform-url")]
    pub platform_url: Option<String>,
    /// User name on the Vigil server.
    #[arg(short = 'u', long = "user")]
    pub user: Option<String>,
    /// Password on the Vigil server.
    #[arg(short = 'p', long = "password")]
    pub password: Option<String>,
}

/// What a config file holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub platform_url: String,
    pub user: String,
    pub password: String,
}

/// Where the platform settings of a command came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Platform {
    /// No platform URL: scan locally, keep scans in the embedded store.
    Local,
    /// A Vigil server, where its URL was found, and the credentials.
    Remote {
        url: String,
        from: String,
        user: Option<String>,
        password: Option<String>,
    },
}

/// Where `vigil iac config -c X` writes: `X/.vigil-iac.yaml` when `X` is a
/// directory, else `X`; the home directory's file without `-c`.
pub fn target(config_file: Option<&Path>, home: Option<&Path>) -> Result<PathBuf> {
    match config_file {
        Some(p) if p.is_dir() => Ok(p.join(FILE_NAME)),
        Some(p) => Ok(p.to_path_buf()),
        None => home.map(|h| h.join(FILE_NAME)).ok_or_else(|| {
            Failure::input("no home directory to write .vigil-iac.yaml to; give the path with -c")
        }),
    }
}

/// Writes the config file (readable by its owner only: it holds a password).
pub fn write(path: &Path, settings: &Settings) -> Result<()> {
    if settings.platform_url.trim().is_empty() {
        return Err(Failure::input("-a/--platform_url is empty"));
    }
    let url = settings.platform_url.trim();
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(Failure::input(format!(
            "-a/--platform_url {url:?} is not an http(s) URL, e.g. https://vigil.example.com"
        )));
    }
    let text = serde_yaml::to_string(settings)
        .map_err(|e| Failure::input(format!("cannot write the config: {e}")))?;
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .map_err(|e| Failure::input(format!("cannot create {}: {e}", parent.display())))?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .map_err(|e| Failure::input(format!("cannot write {}: {e}", path.display())))?;
    std::io::Write::write_all(&mut file, text.as_bytes())
        .map_err(|e| Failure::input(format!("cannot write {}: {e}", path.display())))
}

/// Reads a config file; `Ok(None)` when it does not exist.
pub fn read(path: &Path) -> Result<Option<Settings>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(Failure::input(format!(
                "cannot read {}: {e}",
                path.display()
            )))
        }
    };
    serde_yaml::from_str(&text).map(Some).map_err(|e| {
        let at = e
            .location()
            .map(|l| format!(":{}:{}", l.line(), l.column()))
            .unwrap_or_default();
        Failure::input(format!(
            "{}{at}: {e}; the file needs platform_url, user and password (write it with `vigil iac config -a URL -u USER -p PASSWORD`)",
            path.display()
        ))
    })
}

/// Resolves the platform of a command: options, `-c` file, `./.vigil-iac.yaml`,
/// `~/.vigil-iac.yaml`, in this order.
pub fn resolve(args: &PlatformArgs, cwd: &Path, home: Option<&Path>) -> Result<Platform> {
    let remote = |url: String, from: String, settings: Option<Settings>| {
        let (user, password) = settings.map_or((None, None), |s| (Some(s.user), Some(s.password)));
        Platform::Remote {
            url,
            from,
            user: args.user.clone().or(user),
            password: args.password.clone().or(password),
        }
    };
    if let Some(url) = &args.platform_url {
        return Ok(remote(url.clone(), "-a/--platform_url".into(), None));
    }
    if let Some(path) = &args.config_file {
        let path = if path.is_dir() {
            path.join(FILE_NAME)
        } else {
            path.clone()
        };
        return match read(&path)? {
            Some(s) => Ok(remote(
                s.platform_url.clone(),
                path.display().to_string(),
                Some(s),
            )),
            None => Err(Failure::input(format!(
                "-c {}: no such config file; write it with `vigil iac config -a URL -u USER -p PASSWORD -c {}`",
                path.display(),
                path.display()
            ))),
        };
    }
    for dir in std::iter::once(cwd).chain(home) {
        let path = dir.join(FILE_NAME);
        if let Some(s) = read(&path)? {
            return Ok(remote(
                s.platform_url.clone(),
                path.display().to_string(),
                Some(s),
            ));
        }
    }
    Ok(Platform::Local)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str) -> PathBuf {
        let d =
            std::env::temp_dir().join(format!("vigil-iac-config-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn settings(url: &str) -> Settings {
        Settings {
            platform_url: url.into(),
            user: "alice".into(),
            password: "s3cret".into(),
        }
    }

    #[test]
    fn lookup_order_is_options_then_file_then_cwd_then_home() {
        let home = dir("home");
        let cwd = dir("cwd");
        let none = PlatformArgs::default();
        assert_eq!(resolve(&none, &cwd, Some(&home)).unwrap(), Platform::Local);

        write(&home.join(FILE_NAME), &settings("https://home")).unwrap();
        let url = |p: Platform| match p {
            Platform::Remote { url, .. } => url,
            Platform::Local => "local".into(),
        };
        assert_eq!(
            url(resolve(&none, &cwd, Some(&home)).unwrap()),
            "https://home"
        );
        write(&cwd.join(FILE_NAME), &settings("https://cwd")).unwrap();
        assert_eq!(
            url(resolve(&none, &cwd, Some(&home)).unwrap()),
            "https://cwd"
        );

        let other = cwd.join("other.yaml");
        write(&other, &settings("https://file")).unwrap();
        let with_file = PlatformArgs {
            config_file: Some(other),
            ..Default::default()
        };
        assert_eq!(
            url(resolve(&with_file, &cwd, Some(&home)).unwrap()),
            "https://file"
        );
        let with_url = PlatformArgs {
            platform_url: Some("https://option".into()),
            ..with_file
        };
        assert_eq!(
            url(resolve(&with_url, &cwd, Some(&home)).unwrap()),
            "https://option"
        );
    }

    #[test]
    fn config_target_is_a_directory_default_name_or_the_file_given() {
        let d = dir("target");
        assert_eq!(target(Some(&d), None).unwrap(), d.join(FILE_NAME));
        assert_eq!(
            target(Some(&d.join("x.yaml")), None).unwrap(),
            d.join("x.yaml")
        );
        assert_eq!(target(None, Some(&d)).unwrap(), d.join(FILE_NAME));
        assert!(target(None, None).is_err());
    }

    #[test]
    fn a_written_config_reads_back_and_only_its_owner_can_read_it() {
        let d = dir("rw");
        let path = d.join(FILE_NAME);
        write(&path, &settings("https://vigil.example.com")).unwrap();
        assert_eq!(
            read(&path).unwrap(),
            Some(settings("https://vigil.example.com"))
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "mode {mode:o}");
        }
    }

    #[test]
    fn bad_config_files_and_urls_are_clear_errors() {
        let d = dir("bad");
        let path = d.join(FILE_NAME);
        std::fs::write(&path, "platform_url: https://x\nusr: bob\n").unwrap();
        let e = read(&path).unwrap_err().message;
        assert!(e.contains(FILE_NAME) && e.contains("usr"), "{e}");
        assert!(write(&path, &settings("ftp://x"))
            .unwrap_err()
            .message
            .contains("http(s)"));
        let missing = PlatformArgs {
            config_file: Some(d.join("missing.yaml")),
            ..Default::default()
        };
        assert!(resolve(&missing, &d, None)
            .unwrap_err()
            .message
            .contains("no such config file"));
    }
}
