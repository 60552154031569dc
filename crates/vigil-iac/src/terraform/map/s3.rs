//! Terraform → normalized resources: s3.

use super::Index;
use crate::terraform::TfResource;
use vigil_model::Resource;

/// Maps the s3 resource types this module handles; `None` for others.
pub(super) fn map(d: &TfResource, ix: &Index<'_>) -> Option<Resource> {
    let _ = (d, ix);
    None
}
