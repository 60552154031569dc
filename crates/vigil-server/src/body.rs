//! Request bodies that never reject on their own: [`JsonBody`] keeps the
//! parse result so a handler checks permissions first (403 before 400), and
//! a bad body becomes the one error shape with the offending field's path.

use crate::error::ApiError;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

/// The largest JSON body accepted (uploads have their own limit).
pub const MAX_JSON: usize = 4 * 1024 * 1024;

/// A JSON body, parsed: call [`JsonBody::parse`] after the permission check.
pub struct JsonBody<T>(Result<T, ApiError>);

impl<T> JsonBody<T> {
    /// The body, or the 400 that says what is wrong with it and where.
    pub fn parse(self) -> Result<T, ApiError> {
        self.0
    }
}

/// `body` parsed as `T`, or 400 naming the field at fault.
pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_body",
            "the request needs a JSON body; see /api/openapi.json for its fields",
        ));
    }
    let mut de = serde_json::Deserializer::from_slice(body);
    match serde_path_to_error::deserialize::<_, T>(&mut de) {
        Ok(v) => de.end().map(|()| v).map_err(|e| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_body",
                format!("the JSON body is not valid: {e}"),
            )
        }),
        Err(e) => {
            let path = e.path().to_string();
            let inner = e.into_inner();
            let message = format!("the JSON body is not valid: {inner}");
            let field = match path.as_str() {
                "." | "" => missing_field_name(&inner.to_string()),
                p => Some(p.to_string()),
            };
            let mut error = ApiError::new(StatusCode::BAD_REQUEST, "invalid_body", message);
            if let Some(field) = field {
                error = error.with_field(&field);
            }
            Err(error)
        }
    }
}

/// The field serde names in "missing field `x`".
fn missing_field_name(message: &str) -> Option<String> {
    let rest = message.strip_prefix("missing field `")?;
    Some(rest.split('`').next()?.to_string())
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let json = request
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_none_or(|v| v.starts_with("application/json") || v.contains("+json"));
        let bytes = match axum::body::Bytes::from_request(request, state).await {
            Ok(b) => b,
            Err(_) => {
                return Ok(JsonBody(Err(ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "body_too_large",
                    format!("the body is larger than {MAX_JSON} bytes or could not be read"),
                ))))
            }
        };
        if !json {
            return Ok(JsonBody(Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the body as `Content-Type: application/json`",
            ))));
        }
        Ok(JsonBody(parse_json(&bytes)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Form {
        name: String,
        inner: Option<Inner>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Inner {
        count: u32,
    }

    #[test]
    fn errors_name_the_field() {
        let e = parse_json::<Form>(br#"{"inner": {"count": "x"}, "name": "a"}"#).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("inner.count"));
        let e = parse_json::<Form>(br#"{"inner": null}"#).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("name"), "{e:?}");
        let e = parse_json::<Form>(br#"{"name": "a", "extra": 1}"#).unwrap_err();
        assert!(e.message.contains("extra"), "{e:?}");
        let e = parse_json::<Form>(b"  ").unwrap_err();
        assert_eq!(e.code, "invalid_body");
        assert!(parse_json::<Form>(br#"{"name": "a"} x"#).is_err());
        assert!(parse_json::<Form>(br#"{"name": "a"}"#).is_ok());
    }
}
