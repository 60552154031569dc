//! (to be written)

use crate::{Params, State};
use axum::response::Response;
use std::sync::Arc;

/// Answers a path under `/csapi/{cs}/`; `None`: unknown.
pub fn route(state: &Arc<State>, method: &str, rest: &str, params: &Params) -> Option<Response> {
    let _ = (state, method, rest, params);
    None
}
