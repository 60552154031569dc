//! CloudFormation templates (JSON and YAML): [`template`] reads a template
//! into resources with their properties evaluated (intrinsic functions,
//! parameters, conditions), [`map`] maps them onto normalized resources.

pub mod map;
pub mod template;

use crate::ParseError;
use vigil_model::Resource;

pub use template::{is_template, parse_template, CfnResource};

/// The normalized resources of CloudFormation templates `(path, text)`.
/// A template that does not parse is reported and the others are read.
pub fn cloudformation_resources(files: &[(String, String)]) -> (Vec<Resource>, Vec<ParseError>) {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for (file, text) in files {
        match parse_template(file, text) {
            Ok(resources) => out.extend(map::to_resources(&resources)),
            Err(e) => errors.push(e),
        }
    }
    (out, errors)
}
