//! Reading the inputs of a scan (files, directories, archives) into
//! normalized resources, through `vigil_iac::source::gather` and
//! `vigil_iac::scan`.

use crate::setup::{Failure, Result};
use std::path::PathBuf;
use vigil_iac::terraform::TfInputs;
use vigil_iac::Scanned;

/// The Terraform variables of `--var-file` and `--var`, checked and read.
pub fn inputs(var_files: &[PathBuf], vars: &[String]) -> Result<TfInputs> {
    let mut inputs = TfInputs {
        vars: vars.to_vec(),
        ..Default::default()
    };
    for v in vars {
        if !v.contains('=') {
            return Err(Failure::input(format!(
                "--var {v:?}: expected NAME=VALUE, e.g. --var region=eu-west-1"
            )));
        }
    }
    for p in var_files {
        let text = std::fs::read_to_string(p)
            .map_err(|e| Failure::input(format!("--var-file {}: {e}", p.display())))?;
        inputs.var_files.push((p.display().to_string(), text));
    }
    Ok(inputs)
}

/// Reads the files, directories and archives of a scan.
pub fn load(paths: &[PathBuf], filter: Option<&regex::Regex>, inputs: &TfInputs) -> Scanned {
    let gathered = vigil_iac::source::gather(paths, filter, &Default::default());
    vigil_iac::scan(gathered, inputs)
}
