//! Terraform: `.tf` files evaluated into resource blocks ([`eval`]), mapped
//! onto normalized resources ([`map`]); plan JSON read into the same blocks
//! ([`plan`]).

pub mod eval;
pub mod map;
pub mod plan;

use crate::value::Val;
use std::collections::BTreeMap;

/// One instance of a `resource` block after evaluation: `count` and
/// `for_each` expanded (one `TfResource` per instance), modules expanded,
/// `dynamic` blocks expanded into ordinary nested blocks. A `provider`
/// block is one too, of kind `provider.<name>` (see
/// [`eval::PROVIDER_KIND_PREFIX`]); plan JSON has none.
#[derive(Debug, Clone, PartialEq)]
pub struct TfResource {
    /// The resource type, e.g. `aws_s3_bucket`.
    pub kind: String,
    /// The block's name label, e.g. `logs`.
    pub name: String,
    /// The full address: `module.a.aws_s3_bucket.logs["x"]`, `aws_s3_bucket.logs[0]`,
    /// `aws_s3_bucket.logs` (as Terraform prints it).
    pub address: String,
    /// The file that declares the block, as given to the evaluator.
    pub file: String,
    /// The root module the instance belongs to (its directory; the file
    /// for a plan). Satellites fold only within one root module: separate
    /// configurations never configure each other's resources.
    pub root: String,
    /// First and last line of the block (1-based, inclusive).
    pub line: u32,
    pub end_line: u32,
    /// Arguments (and nested blocks as `name → List(Map…)`), evaluated.
    /// A reference to another resource's attribute that is not set in its
    /// configuration is `Val::Unknown` whose `expr` is the reference's text
    /// with the instance key resolved (e.g. `aws_s3_bucket.logs.id`,
    /// `module.a.aws_s3_bucket.logs["x"].id`), so that the mapper can fold
    /// `aws_s3_bucket_versioning.bucket = aws_s3_bucket.logs.id` into
    /// that bucket.
    pub attrs: Val,
    /// `# vigil:skip=<CID>:<reason>` comments inside the block.
    pub suppressed: BTreeMap<u32, String>,
}

/// Input variable values from outside the files: `-var-file` contents and
/// `-var NAME=VALUE` pairs, applied in Terraform's order (files in the
/// order given, then `-var`s; later wins).
#[derive(Debug, Clone, Default)]
pub struct TfInputs {
    /// `(path, text)` of `.tfvars` (HCL) or `.tfvars.json` files.
    pub var_files: Vec<(String, String)>,
    /// `NAME=VALUE` as given on the command line.
    pub vars: Vec<String>,
    /// `(path, text)` of other files the configuration may read with
    /// `file()`/`templatefile()` (e.g. `policy.json` beside the `.tf`
    /// files); paths as given for the `.tf` files.
    pub extra: Vec<(String, String)>,
}
