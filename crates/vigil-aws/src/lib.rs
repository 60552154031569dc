//! AWS collectors: discover an account's resources through the official AWS
//! SDK for Rust and turn them into Vigil's normalized resources.
//!
//! [`collect`] signs in with the standard credential chain (or a profile, or
//! an assumed role with an external id), finds the account and the regions,
//! and runs one collector per (service, region) with bounded concurrency. A
//! failed call never stops the run: a listing that fails becomes a
//! [`CollectError`] in the result, and an attribute that cannot be read is
//! named in the resource's `uncollected` map, so that the controls needing it
//! are skipped with the reason instead of guessing.
//!
//! `--endpoint-url` (or `AWS_ENDPOINT_URL`) points everything at an emulator
//! such as moto; [`moto`] holds the workarounds for its known gaps.

mod collect;
mod config;
mod error;
pub mod moto;
mod services;

pub use collect::{collect, Collection, Progress};
pub use config::{sdk_config, AccessKeys, AwsOptions};
pub use error::{AwsError, CollectError};
