//! The normalized resource model: the one shape that cloud collectors and IaC
//! adapters produce and that the control engine reads.
//!
//! Nothing in this crate does I/O. Parsing works on strings that a caller has
//! already read, so that errors can name the file the caller knows about.

pub mod qualys;
mod resource;
mod vocabulary;

pub use resource::{parse_resources, Association, Origin, Resource, ResourceError};
pub use vocabulary::{Criticality, EvalResult, ExecutionType, Provider, UnknownName};

/// A point in time, always UTC.
pub type Timestamp = chrono::DateTime<chrono::Utc>;
