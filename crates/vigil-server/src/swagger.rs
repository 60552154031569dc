//! Swagger UI for `/api/openapi.json`, at `/swagger-ui/` and at the seed's
//! path `/cloudview-api/swagger-ui.html`.
//!
//! The files are vendored from the npm package `swagger-ui-dist` (see
//! `assets/swagger-ui/README.md`) and embedded in the binary: nothing is
//! downloaded at build or run time. The pages need no token; the calls made
//! from them carry the token entered with the Authorize button.

use crate::error::ApiError;
use axum::extract::Path;
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};

/// How long browsers may keep the large vendored files (they change only
/// with the server version, and their URLs are not versioned).
const CACHE_VENDORED: &str = "public, max-age=86400";
/// The page and its set-up are checked on every load.
const CACHE_PAGE: &str = "no-cache";

/// One embedded file.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    cache_control: &'static str,
    body: &'static [u8],
}

macro_rules! asset {
    ($name:literal, $content_type:literal, $cache:expr) => {
        Asset {
            name: $name,
            content_type: $content_type,
            cache_control: $cache,
            body: include_bytes!(concat!("../assets/swagger-ui/", $name)),
        }
    };
}

/// The page.
const INDEX: Asset = asset!("index.html", "text/html; charset=utf-8", CACHE_PAGE);

/// Every file served under `/swagger-ui/`.
const ASSETS: &[Asset] = &[
    INDEX,
    asset!(
        "swagger-initializer.js",
        "text/javascript; charset=utf-8",
        CACHE_PAGE
    ),
    asset!(
        "swagger-ui-bundle.js",
        "text/javascript; charset=utf-8",
        CACHE_VENDORED
    ),
    asset!("swagger-ui.css", "text/css; charset=utf-8", CACHE_VENDORED),
    asset!("favicon-32x32.png", "image/png", CACHE_VENDORED),
];

fn serve(asset: &Asset) -> Response {
    (
        [
            (header::CONTENT_TYPE, asset.content_type),
            (header::CACHE_CONTROL, asset.cache_control),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        asset.body,
    )
        .into_response()
}

fn find(name: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|a| a.name == name)
}

/// The Swagger UI page (`/swagger-ui/` and `/cloudview-api/swagger-ui.html`).
pub async fn index() -> Response {
    serve(&INDEX)
}

/// `/swagger-ui` without the slash: to the page.
pub async fn redirect() -> Redirect {
    Redirect::permanent("/swagger-ui/")
}

/// `/swagger-ui/<file>`: an embedded file, or 404 in the error shape.
pub async fn file(Path(name): Path<String>) -> Response {
    match find(&name) {
        Some(asset) => serve(asset),
        None => ApiError::new(
            axum::http::StatusCode::NOT_FOUND,
            "not_found",
            format!("Swagger UI has no file `{name}`; the page is /swagger-ui/"),
        )
        .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_asset_is_embedded_and_not_empty() {
        for asset in ASSETS {
            assert!(!asset.body.is_empty(), "{} is empty", asset.name);
        }
    }

    #[test]
    fn the_page_loads_the_initializer_that_points_at_the_document() {
        let page = String::from_utf8_lossy(INDEX.body);
        assert!(
            page.contains("/swagger-ui/swagger-initializer.js"),
            "{page}"
        );
        assert!(page.contains("/swagger-ui/swagger-ui-bundle.js"), "{page}");
        let init = find("swagger-initializer.js").map(|a| String::from_utf8_lossy(a.body));
        assert!(init
            .unwrap_or_default()
            .contains("url: \"/api/openapi.json\""));
    }
}
