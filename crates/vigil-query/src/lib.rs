//! The search language of seed 001 ("Qualys Advanced Search"):
//! `control.result:FAIL and control.criticality:HIGH and firstEvaluated:[now-4h .. now]`.
//!
//! A query is parsed once into a [`Query`], which compiles to a SQL condition
//! for either store backend ([`Query::to_sql`]) and also matches records in
//! memory ([`Query::matches`]), so that alert rules and searches agree.
//! Relative dates are resolved against the `now` given at parse time.

mod fields;
mod matcher;
mod parser;
mod sql;

pub use fields::{FieldDef, FieldKind, FIELDS};
pub use matcher::{Scalar, Subject};
pub use parser::{Query, QueryError};
pub use sql::{Dialect, SqlFragment, SqlParam};
