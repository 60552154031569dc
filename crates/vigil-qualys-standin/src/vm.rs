//! (to be written)

use crate::{Params, State};
use axum::response::Response;
use std::sync::Arc;

/// Answers a path under `/api/{fo}/fo/` (or QPS for `route_qps`) of this family; `None`: not this family's.
pub fn route(state: &Arc<State>, rest: &str, params: &Params) -> Option<Response> {
    let _ = (state, rest, params);
    None
}

/// Answers a path under `/qps/rest/{am}/`.
pub fn route_qps(state: &Arc<State>, rest: &str, params: &Params) -> Option<Response> {
    let _ = (state, rest, params);
    None
}
