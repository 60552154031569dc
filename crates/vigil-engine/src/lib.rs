//! The control engine: controls as data, compiled once per run and evaluated
//! over normalized resources.
//!
//! A control is a folder with `control.toml` (CloudView's metadata, typed
//! parameters and CEL logic) and PASS/FAIL fixtures. [`Catalog`] gathers
//! controls and policies from files the caller has read; [`Engine`] is the
//! compiled form of a catalogue for one run. Nothing here does I/O: the time a
//! run sees (`now`) and every file's text come from the caller.

mod catalog;
mod cel;
mod control;
mod engine;
mod error;
mod fast;

pub use catalog::{
    copy_control, Catalog, Fixture, FixtureFailure, IacFixture, LoadedControl, Policy, Provenance,
    SourceFile, IAC_FIXTURE_FILES,
};
pub use control::{
    ControlSpec, Logic, MandateMapping, ParamType, ParamValue, Parameter, FIRST_USER_CID,
};
pub use engine::{CompiledControl, Engine, Evaluation, Evidence};
pub use error::CatalogError;

#[cfg(test)]
mod differential;
#[cfg(test)]
mod tests;
