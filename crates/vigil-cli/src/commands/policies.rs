//! `vigil policies`: named sets of controls.

use crate::output::Rows;
use crate::setup::{catalog, Failure, Result};
use crate::Cli;
use clap::Subcommand;
use std::process::ExitCode;

#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// List policies with their control counts.
    List,
    /// Show a policy's controls.
    Show {
        /// The policy's name (case-insensitive), e.g. "AWS Best Practices Policy".
        name: String,
    },
}

pub fn run(cli: &Cli, cmd: &Cmd) -> Result<ExitCode> {
    let catalog = catalog(cli)?;
    match cmd {
        Cmd::List => {
            let mut rows = Rows::new(vec![
                "NAME",
                "PROVIDER",
                "EXECUTION TYPE",
                "CONTROLS",
                "ORIGIN",
            ]);
            for p in &catalog.policies {
                rows.push(
                    vec![
                        p.name.clone(),
                        p.provider.to_string(),
                        p.execution_type.to_string(),
                        p.controls.len().to_string(),
                        format!("{:?}", p.origin.unwrap_or(vigil_engine::Provenance::System))
                            .to_lowercase(),
                    ],
                    p,
                );
            }
            rows.print(cli.format, 60)?;
        }
        Cmd::Show { name } => {
            let p = catalog.policy(name).ok_or_else(|| {
                Failure::input(format!(
                    "no policy named `{name}`; known: {}",
                    catalog
                        .policies
                        .iter()
                        .map(|p| p.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })?;
            if cli.format == crate::Format::Table {
                println!("{}\n{}\n", p.name, p.description);
            }
            let mut rows = Rows::new(vec!["CID", "CRITICALITY", "SERVICE", "TITLE"]);
            for cid in &p.controls {
                if let Some(c) = catalog.control(*cid) {
                    rows.push(
                        vec![
                            c.spec.cid.to_string(),
                            c.spec.criticality.to_string(),
                            c.spec.service.clone(),
                            c.spec.title.clone(),
                        ],
                        &c.spec,
                    );
                }
            }
            rows.print(cli.format, 90)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
