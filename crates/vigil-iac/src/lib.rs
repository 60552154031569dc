//! IaC adapters: declared resources in the one normalized shape Vigil
//! evaluates, so that controls with `execution_type = "both"` judge a
//! Terraform file, a Terraform plan or a CloudFormation template the way
//! they judge the deployed account.
//!
//! * [`terraform_resources`] reads `.tf` files, evaluated by [`terraform::eval`]
//!   into resource blocks, mapped by [`terraform::map`];
//! * [`plan_to_resources`] reads a plan JSON document (`terraform show
//!   -json`) into the same blocks through [`terraform::plan`], mapped the
//!   same way;
//! * [`cloudformation::cloudformation_resources`] reads templates;
//! * [`scan`] reads what [`source::gather`] found (directories, archives) of
//!   every kind — the only module that touches the file system is
//!   [`source`];
//! * [`report::scan`] evaluates them with a catalogue into the scan
//!   response document that `vigil iac` prints and the server keeps.
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
pub mod report;
mod secrets;
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
        if self.line == 0 {
            // A file or archive that could not be read at all.
            write!(f, "{}: {}", self.file, self.message)
        } else {
            write!(
                f,
                "{}:{}:{}: {}",
                self.file, self.line, self.column, self.message
            )
        }
    }
}

impl From<source::SourceError> for ParseError {
    fn from(e: source::SourceError) -> Self {
        ParseError {
            file: e.path,
            line: 0,
            column: 0,
            message: e.message,
        }
    }
}

/// What kind of IaC a file holds, as scan results group them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// `.tf`, `.tfvars`, `.tfvars.json`, and the module cache manifest
    /// `.terraform/modules/modules.json` `terraform init` writes.
    Terraform,
    /// Terraform plan JSON.
    TerraformPlan,
    /// A CloudFormation template (JSON or YAML).
    CloudFormation,
}

impl Kind {
    /// The check type name of scan results (`terraform`, `terraform_plan`,
    /// `cloudformation`).
    pub fn check_type(self) -> &'static str {
        match self {
            Kind::Terraform => "terraform",
            Kind::TerraformPlan => "terraform_plan",
            Kind::CloudFormation => "cloudformation",
        }
    }

    /// The kind of a file from its name and text; `None` for JSON and YAML
    /// that is neither a plan nor a template (package.json, Kubernetes
    /// manifests, …), which a scan ignores.
    pub fn of(path: &str, text: &str) -> Option<Kind> {
        let lower = path.to_ascii_lowercase();
        if lower.ends_with(".tf")
            || lower.ends_with(".tfvars")
            || lower.ends_with(".tfvars.json")
            || terraform::eval::is_module_manifest(path)
        {
            Some(Kind::Terraform)
        } else if lower.ends_with(".json") && terraform::plan::is_plan(text) {
            Some(Kind::TerraformPlan)
        } else if (lower.ends_with(".json")
            || lower.ends_with(".yaml")
            || lower.ends_with(".yml")
            || lower.ends_with(".template"))
            && cloudformation::is_template(path, text)
        {
            Some(Kind::CloudFormation)
        } else {
            None
        }
    }
}

/// What [`scan`] read.
#[derive(Debug, Default)]
pub struct Scanned {
    pub resources: Vec<Resource>,
    /// Files and archives that could not be read or parsed.
    pub errors: Vec<ParseError>,
    /// Every IaC file read, with its kind; other files are left out.
    pub files: Vec<(String, Kind)>,
}

/// Reads gathered files (see [`source::gather`]) of every kind: Terraform
/// (evaluated together, with `inputs`), plan JSON and CloudFormation
/// templates. Errors of the gathering are carried into `errors`.
pub fn scan(gathered: source::Gathered, inputs: &terraform::TfInputs) -> Scanned {
    let mut out = Scanned {
        errors: gathered.errors.into_iter().map(ParseError::from).collect(),
        ..Default::default()
    };
    let mut terraform = Vec::new();
    let mut templates = Vec::new();
    for f in gathered.files {
        let Some(kind) = Kind::of(&f.path, &f.text) else {
            continue;
        };
        out.files.push((f.path.clone(), kind));
        match kind {
            Kind::Terraform => terraform.push((f.path, f.text)),
            Kind::TerraformPlan => match plan_to_resources(&f.path, &f.text) {
                Ok(rs) => out.resources.extend(rs),
                Err(e) => out.errors.push(e),
            },
            Kind::CloudFormation => templates.push((f.path, f.text)),
        }
    }
    let (rs, errors) = terraform_resources(&terraform, inputs);
    out.resources.extend(rs);
    out.errors.extend(errors);
    let (rs, errors) = cloudformation::cloudformation_resources(&templates);
    out.resources.extend(rs);
    out.errors.extend(errors);
    out
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
