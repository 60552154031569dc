//! `vigil db`: database maintenance.

use crate::setup::{open_store, runtime, Result};
use crate::Cli;
use clap::Subcommand;
use std::process::ExitCode;

#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Create the database if needed and apply every pending migration.
    Migrate,
}

pub fn run(cli: &Cli, cmd: &Cmd) -> Result<ExitCode> {
    match cmd {
        Cmd::Migrate => runtime()?.block_on(async {
            let store = open_store(cli).await?;
            let v = store
                .schema_version()
                .await
                .map_err(crate::setup::Failure::store)?;
            println!("{} store at schema version {v}", store.backend());
            Ok(ExitCode::SUCCESS)
        }),
    }
}
