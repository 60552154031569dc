//! Reading the inputs of a scan into normalized resources.

use crate::setup::{Failure, Result};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use vigil_iac::ParseError;
use vigil_model::Resource;

/// What a scan read.
pub struct Loaded {
    pub resources: Vec<Resource>,
    pub errors: Vec<ParseError>,
    /// Files read (of every kind).
    pub files: usize,
    /// The check type of each file resources came from.
    kinds: HashMap<String, &'static str>,
}

impl Loaded {
    /// `terraform`, `terraform_plan` or `cloudformation`, for the document.
    pub fn check_type(&self, file: &str) -> &'static str {
        self.kinds.get(file).copied().unwrap_or("terraform")
    }
}

fn collect(path: &Path, filter: Option<&regex::Regex>, out: &mut Vec<PathBuf>) -> Result<()> {
    if path.is_dir() {
        let entries = std::fs::read_dir(path)
            .map_err(|e| Failure::input(format!("cannot read {}: {e}", path.display())))?;
        let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        paths.sort();
        for p in paths {
            if p.is_dir() {
                collect(&p, filter, out)?;
            } else if p.extension().and_then(|e| e.to_str()) == Some("tf")
                && filter.is_none_or(|f| f.is_match(&p.display().to_string()))
            {
                out.push(p);
            }
        }
        Ok(())
    } else if path.is_file() {
        out.push(path.to_path_buf());
        Ok(())
    } else {
        Err(Failure::input(format!(
            "-d {}: no such file or directory",
            path.display()
        )))
    }
}

/// Reads the files, directories and archives of a scan.
pub fn load(
    paths: &[PathBuf],
    filter: Option<&regex::Regex>,
    var_files: &[PathBuf],
    vars: &[String],
) -> Result<Loaded> {
    let mut found = Vec::new();
    for p in paths {
        collect(p, filter, &mut found)?;
    }
    let mut files = Vec::with_capacity(found.len());
    for p in &found {
        let text = std::fs::read_to_string(p)
            .map_err(|e| Failure::input(format!("cannot read {}: {e}", p.display())))?;
        files.push((p.display().to_string(), text));
    }
    let mut inputs = vigil_iac::terraform::TfInputs {
        vars: vars.to_vec(),
        ..Default::default()
    };
    for p in var_files {
        let text = std::fs::read_to_string(p)
            .map_err(|e| Failure::input(format!("--var-file {}: {e}", p.display())))?;
        inputs.var_files.push((p.display().to_string(), text));
    }
    let (resources, errors) = vigil_iac::terraform_resources(&files);
    Ok(Loaded {
        resources,
        errors,
        files: files.len(),
        kinds: files
            .iter()
            .map(|(f, _)| (f.clone(), "terraform"))
            .collect(),
    })
}
