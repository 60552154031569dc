//! The Terraform function library (hcl-rs has none): `call(name, args)`.
//!
//! Contract: a function whose arguments contain an unknown returns
//! `Ok(Val::Unknown)` with an empty `expr` (the evaluator fills in the call's
//! source text), unless it can give a known result anyway (e.g. `length` of a
//! list with unknown elements). Errors (`Err`) say what is wrong with which
//! argument, in Terraform's words where possible. `try` and `can` are special
//! forms evaluated by the evaluator, not here.

use crate::value::Val;

/// Read access to the files of the module being evaluated, for `file`,
/// `fileexists`, `templatefile`: paths relative to the module's directory.
pub trait Files {
    fn read(&self, path: &str) -> Option<String>;
}

/// No files: every `file()` is unknown.
pub struct NoFiles;

impl Files for NoFiles {
    fn read(&self, _path: &str) -> Option<String> {
        None
    }
}

/// Calls the Terraform function `name` (without a `provider::` prefix).
pub fn call(name: &str, args: &[Val], files: &dyn Files) -> Result<Val, String> {
    let _ = (args, files);
    Err(format!(
        "call to unknown function `{name}`; see docs/iac.md for the functions Vigil supports"
    ))
}

/// The names of the functions `call` supports, sorted.
pub fn names() -> &'static [&'static str] {
    &[]
}
