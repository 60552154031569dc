//! One module per command.

pub mod controls;
pub mod db;
pub mod evaluate;
pub mod executor;
pub mod iac;
pub(crate) mod pipeline;
pub mod policies;
pub mod qualys;
pub mod scan;
pub mod search;
pub mod serve;

use crate::setup::Result;
use crate::{Cli, Command};
use std::process::ExitCode;

/// Runs the command the user asked for.
pub fn run(cli: &Cli) -> Result<ExitCode> {
    match &cli.command {
        Command::Scan(c) => scan::run(cli, c),
        Command::Iac(c) => iac::run(cli, c),
        Command::Evaluate(a) => evaluate::run(cli, a),
        Command::Search(a) => search::run(cli, a),
        Command::Controls(c) => controls::run(cli, c),
        Command::Policies(c) => policies::run(cli, c),
        Command::Db(c) => db::run(cli, c),
        Command::Qualys(c) => qualys::run(cli, c),
        Command::Serve(a) => serve::run(cli, a),
    }
}
