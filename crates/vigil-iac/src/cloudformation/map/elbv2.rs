//! CloudFormation → normalized resources: elbv2.

use super::Index;
use crate::cloudformation::CfnResource;
use vigil_model::Resource;

/// Maps the elbv2 resource types this module handles; `None` for others.
pub(super) fn map(r: &CfnResource, ix: &Index<'_>) -> Option<Resource> {
    let _ = (r, ix);
    None
}
