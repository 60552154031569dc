//! Terraform plan JSON (`terraform show -json`): placeholder.

use super::TfResource;
use crate::ParseError;

/// The resources of a plan JSON document.
pub fn plan_resources(file: &str, text: &str) -> Result<Vec<TfResource>, ParseError> {
    let _ = (file, text);
    Ok(Vec::new())
}
