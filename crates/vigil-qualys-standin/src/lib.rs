//! Test code only (never linked into the `vigil` binary): a stand-in for
//! Qualys' APIs that serves a generated subscription in Qualys' own formats
//! and element names (the API user guides and DTDs), with the truncation
//! `WARNING`, QPS `hasMoreRecords`, rate limits with their headers, and
//! injected faults (UNAUTHORIZED in a 200, 401/403/404, malformed and
//! truncated XML).
//!
//! (to be written)
