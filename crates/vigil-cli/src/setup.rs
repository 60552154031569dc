//! What every command needs: the data directory, the catalogue (built in plus
//! user-defined), the store, and the error type that carries an exit code.

use crate::Cli;
use std::path::{Path, PathBuf};
use vigil_engine::{Catalog, Provenance, SourceFile};
use vigil_store::Store;

/// Exit code: failed evaluations found.
pub const EXIT_FAILURES: u8 = 1;
/// Exit code: bad input (file, query, control, arguments).
pub const EXIT_INPUT: u8 = 2;
/// Exit code: store or database error.
pub const EXIT_STORE: u8 = 3;
/// Exit code: control fixtures disagree with their controls.
pub const EXIT_FIXTURES: u8 = 4;

/// An error with the exit code it ends the process with.
#[derive(Debug)]
pub struct Failure {
    pub code: u8,
    pub message: String,
}

impl Failure {
    pub fn input(message: impl std::fmt::Display) -> Self {
        Failure {
            code: EXIT_INPUT,
            message: message.to_string(),
        }
    }

    pub fn store(message: impl std::fmt::Display) -> Self {
        Failure {
            code: EXIT_STORE,
            message: message.to_string(),
        }
    }
}

pub type Result<T> = std::result::Result<T, Failure>;

/// The data directory: `--data-dir`, `VIGIL_DATA_DIR`, or the platform's
/// user data directory.
pub fn data_dir(cli: &Cli) -> Result<PathBuf> {
    if let Some(d) = &cli.data_dir {
        return Ok(d.clone());
    }
    dirs::data_dir().map(|d| d.join("vigil")).ok_or_else(|| {
        Failure::input("cannot find a user data directory; pass --data-dir or set VIGIL_DATA_DIR")
    })
}

/// Reads every catalogue file under `dir` (recursively): `.toml`, `.json`
/// and the IaC fixtures (`pass.tf`, `fail.tf`, `pass.cfn.yaml`,
/// `fail.cfn.yaml`).
fn read_tree(dir: &Path, out: &mut Vec<SourceFile>) -> Result<()> {
    let entries = std::fs::read_dir(dir).map_err(|e| {
        Failure::input(format!(
            "cannot read controls folder {}: {e}",
            dir.display()
        ))
    })?;
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for p in paths {
        if p.is_dir() {
            read_tree(&p, out)?;
        } else if matches!(
            p.extension().and_then(|e| e.to_str()),
            Some("toml" | "json")
        ) || p.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
            vigil_engine::IAC_FIXTURE_FILES
                .iter()
                .any(|(name, _)| *name == n)
        }) {
            let text = std::fs::read_to_string(&p)
                .map_err(|e| Failure::input(format!("cannot read {}: {e}", p.display())))?;
            out.push(SourceFile {
                path: p.display().to_string(),
                text,
            });
        }
    }
    Ok(())
}

/// The user-defined controls folder inside the data directory.
pub fn user_controls_dir(cli: &Cli) -> Result<PathBuf> {
    Ok(data_dir(cli)?.join("controls"))
}

/// The built-in catalogue merged with every user-defined folder.
pub fn catalog(cli: &Cli) -> Result<Catalog> {
    let mut catalog = Catalog::builtin().map_err(Failure::input)?;
    let mut dirs = Vec::new();
    let own = user_controls_dir(cli)?;
    if own.is_dir() {
        dirs.push(own);
    }
    dirs.extend(cli.controls_dirs.iter().cloned());
    for dir in dirs {
        let mut files = Vec::new();
        read_tree(&dir, &mut files)?;
        let user = Catalog::from_files(&files, Provenance::User).map_err(Failure::input)?;
        catalog.merge(user).map_err(Failure::input)?;
    }
    Ok(catalog)
}

/// A Tokio runtime for the store's async API.
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Failure::store(format!("cannot start the async runtime: {e}")))
}

/// Opens the store named by `--database`, or the embedded SQLite file in the
/// data directory, applying migrations.
pub async fn open_store(cli: &Cli) -> Result<Box<dyn Store>> {
    open_store_at(cli, cli.database.as_deref()).await
}

/// Opens the store at `url`, or the embedded SQLite file in the data
/// directory when `url` is `None`, applying migrations.
pub async fn open_store_at(cli: &Cli, url: Option<&str>) -> Result<Box<dyn Store>> {
    let url = match url {
        Some(u) => u.to_string(),
        None => format!("sqlite://{}", data_dir(cli)?.join("vigil.db").display()),
    };
    if let Some(path) = url.strip_prefix("sqlite://") {
        let store = vigil_store_sqlite::SqliteStore::open(Path::new(path))
            .await
            .map_err(Failure::store)?;
        Ok(Box::new(store))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let store = vigil_store_postgres::PgStore::connect(&url)
            .await
            .map_err(Failure::store)?;
        Ok(Box::new(store))
    } else {
        Err(Failure::input(
            "--database must start with sqlite:// or postgres:// (e.g. sqlite:///var/lib/vigil/vigil.db)",
        ))
    }
}

/// The store's records of a catalogue.
pub fn catalog_records(
    catalog: &Catalog,
) -> (
    Vec<vigil_store::ControlRecord>,
    Vec<vigil_store::PolicyRecord>,
) {
    vigil_server::controls::catalog_records(catalog)
}
