//! Terraform resource blocks → normalized resources (placeholder: the
//! mapping still lives in lib.rs until it moves here).

use super::TfResource;
use vigil_model::Resource;

/// Maps evaluated resource blocks onto normalized resources.
pub fn to_resources(decls: &[TfResource]) -> Vec<Resource> {
    let _ = decls;
    Vec::new()
}
