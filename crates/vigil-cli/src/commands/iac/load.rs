//! Reading the inputs of a scan (files, directories, archives) into
//! normalized resources, through `vigil_iac::source::gather` and
//! `vigil_iac::scan`.

use crate::setup::{Failure, Result};
use std::collections::HashMap;
use std::path::PathBuf;
use vigil_iac::{Kind, ParseError};
use vigil_model::Resource;

/// What a scan read.
pub struct Loaded {
    pub resources: Vec<Resource>,
    pub errors: Vec<ParseError>,
    /// IaC files read (of every kind).
    pub files: usize,
    kinds: HashMap<String, Kind>,
}

impl Loaded {
    /// `terraform`, `terraform_plan` or `cloudformation`, for the document.
    pub fn check_type(&self, file: &str) -> &'static str {
        self.kinds
            .get(file)
            .copied()
            .unwrap_or(Kind::Terraform)
            .check_type()
    }
}

/// Reads the files, directories and archives of a scan, with Terraform
/// variables from `--var-file` and `--var`.
pub fn load(
    paths: &[PathBuf],
    filter: Option<&regex::Regex>,
    var_files: &[PathBuf],
    vars: &[String],
) -> Result<Loaded> {
    let mut inputs = vigil_iac::terraform::TfInputs {
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
    let gathered = vigil_iac::source::gather(paths, filter, &Default::default());
    let scanned = vigil_iac::scan(gathered, &inputs);
    Ok(Loaded {
        resources: scanned.resources,
        errors: scanned.errors,
        files: scanned.files.len(),
        kinds: scanned.files.into_iter().collect(),
    })
}
