//! The one error shape of every endpoint:
//! `{"status": 400, "code": "missing_field", "message": "…", "field": "password"}`.
//!
//! Messages are written for the caller; they never carry SQL, paths, stack
//! traces or secrets. What went wrong inside is written to the server's log
//! instead (see [`ApiError::internal`]).

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

/// An error as every endpoint returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ApiError {
    /// The HTTP status, repeated in the body.
    #[schema(example = 400)]
    pub status: u16,
    /// A stable machine-readable code, e.g. `missing_field`, `invalid_credentials`,
    /// `unauthorized`, `rate_limited`, `not_found`, `not_ready`, `internal`.
    #[schema(example = "missing_field")]
    pub code: String,
    /// What is wrong and what to do, for people.
    #[schema(example = "the form field `password` is missing")]
    pub message: String,
    /// The request field at fault, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "password")]
    pub field: Option<String>,
    /// Seconds to wait before retrying (sent as `Retry-After`, not in the body).
    #[serde(skip)]
    #[schema(ignore)]
    pub retry_after: Option<u64>,
}

impl ApiError {
    /// An error of `status` with `code` and `message`.
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> ApiError {
        ApiError {
            status: status.as_u16(),
            code: code.to_string(),
            message: message.into(),
            field: None,
            retry_after: None,
        }
    }

    /// The same error, about the request field `field`.
    pub fn with_field(mut self, field: &str) -> ApiError {
        self.field = Some(field.to_string());
        self
    }

    /// 400: the form field `field` is missing.
    pub fn missing_field(field: &str) -> ApiError {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "missing_field",
            format!("the form field `{field}` is missing"),
        )
        .with_field(field)
    }

    /// 400: the request field `field` has a value that is not accepted.
    pub fn invalid_field(field: &str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_field", message).with_field(field)
    }

    /// 401: no valid credentials.
    pub fn unauthorized(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    /// 403: the caller may not do this.
    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// 404: the thing `what` names does not exist.
    pub fn missing(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// The answer to a store error: what the caller did wrong (400, 404,
    /// 409) with the store's message, or 500 with the details in the log.
    pub fn from_store(error: vigil_store::StoreError) -> ApiError {
        use vigil_store::StoreError;
        match error {
            StoreError::Invalid(m) => ApiError::new(StatusCode::BAD_REQUEST, "invalid", m),
            StoreError::NotFound(m) => ApiError::new(StatusCode::NOT_FOUND, "not_found", m),
            StoreError::Conflict(m) => ApiError::new(StatusCode::CONFLICT, "conflict", m),
            other => ApiError::internal(other),
        }
    }

    /// 500: something failed inside. `detail` goes to the server's log (it
    /// may name tables or files); the caller only learns that it failed.
    pub fn internal(detail: impl std::fmt::Display) -> ApiError {
        eprintln!("vigil serve: internal error: {detail}");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the server could not complete the request; see the server's log",
        )
    }

    /// 404 for a path the API does not have.
    pub fn not_found() -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "no such endpoint; see /api/openapi.json",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let retry_after = self.retry_after;
        let mut response = (status, axum::Json(self)).into_response();
        if let Some(seconds) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"vigil\""),
            );
        }
        response
    }
}
