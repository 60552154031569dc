//! CloudFormation → normalized resources: vpc.

use super::Index;
use crate::cloudformation::CfnResource;
use vigil_model::Resource;

/// Maps the vpc resource types this module handles; `None` for others.
pub(super) fn map(r: &CfnResource, ix: &Index<'_>) -> Option<Resource> {
    let _ = (r, ix);
    None
}
