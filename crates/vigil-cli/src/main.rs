//! `vigil`: the command line. Only argument parsing and glue live here; the
//! work is in the library crates.

mod commands;
mod output;
mod setup;

use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Vigil: self-hosted security posture for AWS, Azure, GCP and IaC.
#[derive(Parser, Debug)]
#[command(
    name = "vigil",
    version,
    about,
    propagate_version = true,
    after_help = "Exit codes: 0 success; 1 failed evaluations at or above --fail-on; \
                  2 bad input (file, query, control, arguments); 3 store or database error; \
                  4 control fixtures disagree (controls test).\n\
                  Docs: docs/controls.md, docs/search.md, docs/resources.md"
)]
pub struct Cli {
    /// Where Vigil keeps its database and user-defined controls.
    /// Defaults to the platform's user data directory (e.g. ~/.local/share/vigil).
    #[arg(long, global = true, env = "VIGIL_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// Database URL: sqlite:///path/to/file.db or postgres://user@host:port/db.
    /// Defaults to the embedded SQLite database <data-dir>/vigil.db.
    #[arg(
        long,
        visible_alias = "database-url",
        global = true,
        env = "VIGIL_DATABASE_URL",
        value_name = "URL",
        hide_env_values = true
    )]
    pub database: Option<String>,

    /// Extra folders of user-defined controls and policies (repeatable).
    /// <data-dir>/controls is always read when it exists.
    #[arg(
        long = "controls-dir",
        global = true,
        env = "VIGIL_CONTROLS_DIR",
        value_name = "DIR",
        value_delimiter = ','
    )]
    pub controls_dirs: Vec<PathBuf>,

    /// Output format.
    #[arg(long, short = 'o', global = true, value_enum, default_value_t = Format::Table)]
    pub format: Format,

    #[command(subcommand)]
    pub command: Command,
}

/// How results are printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Json,
    Csv,
    /// OCSF Detection Findings (class 2004), for `scan`, `evaluate` and `iac scan`.
    Ocsf,
    /// SARIF 2.1.0 for code scanning, for `iac scan`.
    Sarif,
    /// JUnit XML for CI systems, for `iac scan`.
    Junit,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Collect a cloud account and evaluate it (`vigil scan aws`).
    #[command(subcommand)]
    Scan(commands::scan::Cmd),
    /// Scan infrastructure as code (Terraform, plan JSON, CloudFormation) with the same controls.
    #[command(subcommand)]
    Iac(commands::iac::Cmd),
    /// Evaluate a file of normalized resources against the controls.
    Evaluate(commands::evaluate::Args),
    /// Search stored evaluations with the CloudView query language.
    Search(commands::search::Args),
    /// List, show, copy and test controls.
    #[command(subcommand)]
    Controls(commands::controls::Cmd),
    /// List and show policies.
    #[command(subcommand)]
    Policies(commands::policies::Cmd),
    /// Check a Qualys connection and ingest Qualys data (`vigil qualys check|ingest`).
    #[command(subcommand)]
    Qualys(commands::qualys::Cmd),
    /// Database maintenance.
    #[command(subcommand)]
    Db(commands::db::Cmd),
    /// Run the REST API (health, metrics, tokens; see docs/api.md).
    Serve(commands::serve::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse_from(commands::iac::qiac_arguments(std::env::args_os()));
    match commands::run(&cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", e.message);
            ExitCode::from(e.code)
        }
    }
}
