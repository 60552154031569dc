//! Terraform → normalized resources: elbv2.

use super::Index;
use crate::terraform::TfResource;
use vigil_model::Resource;

/// Maps the elbv2 resource types this module handles; `None` for others.
pub(super) fn map(d: &TfResource, ix: &Index<'_>) -> Option<Resource> {
    let _ = (d, ix);
    None
}
