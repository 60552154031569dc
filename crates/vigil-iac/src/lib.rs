//! IaC adapters: declared resources in the one normalized shape Vigil
//! evaluates, so that controls with `execution_type = "both"` judge a
//! Terraform file, a Terraform plan or a CloudFormation template the way
//! they judge the deployed account.
//!
//! * [`terraform_resources`] reads `.tf` files (the caller reads them;
//!   nothing here touches the file system), evaluated by [`terraform::eval`]
//!   into resource blocks, mapped by [`terraform::map`];
//! * [`plan_to_resources`] reads a plan JSON document (`terraform show
//!   -json`) into the same blocks through [`terraform::plan`], mapped the
//!   same way;
//! * [`cloudformation::cloudformation_resources`] reads templates.
//!
//! Each resource carries [`vigil_model::Origin::Iac`] (file and lines of its
//! block). A value not known at build time (a variable without a value, a
//! reference to another resource's computed attribute, "known after apply")
//! is never guessed: the attribute is named in `uncollected` with the reason
//! `value not known at build time: <expression>`, so the controls that need
//! it are skipped rather than judged on a guess.
//!
//! The resource `id` is the Terraform address (`aws_s3_bucket.logs`) or the
//! CloudFormation logical id, the `name` the literal bucket, group or DB
//! identifier when there is one, else the id; account and region are empty.

mod aws;
pub mod cloudformation;
pub mod functions;
mod semantics;
pub mod source;
pub mod terraform;
pub mod value;

use vigil_model::Resource;

/// An IaC file (`.tf`, plan JSON, template) that could not be read: where
/// (1-based line and column) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file, self.line, self.column, self.message
        )
    }
}

impl std::error::Error for ParseError {}

/// Evaluates the given `.tf` files (path, text) with the input variables
/// `inputs` and returns the normalized resources they declare, and the
/// files that could not be parsed or evaluated.
pub fn terraform_resources(
    files: &[(String, String)],
    inputs: &terraform::TfInputs,
) -> (Vec<Resource>, Vec<ParseError>) {
    let (decls, errors) = terraform::eval::evaluate(files, inputs);
    (terraform::map::to_resources(&decls), errors)
}

/// The normalized resources of a Terraform plan JSON document
/// (`terraform show -json plan.out`): the planned values, with what the
/// plan marks "known after apply" uncollected.
pub fn plan_to_resources(file: &str, text: &str) -> Result<Vec<Resource>, ParseError> {
    terraform::plan::plan_resources(file, text).map(|decls| terraform::map::to_resources(&decls))
}

#[cfg(test)]
mod tests;
