//! Passwords (argon2id), the first-start Manager account, `POST /auth` and
//! the bearer-token check of `/api/v1/*`.

use crate::error::ApiError;
use crate::jwt::{Claims, LIFETIME_SECONDS};
use crate::AppState;
use argon2::password_hash::rand_core::{OsRng, RngCore};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Instant;
use utoipa::ToSchema;
use vigil_store::access::{AuditEntry, MANAGER};
use vigil_store::{NewUser, Store, StoreError, UserRecord};

/// The name of the account created on first start.
pub const ADMIN: &str = "admin";

/// The argon2id PHC hash of `password`, with a random salt.
pub fn hash_password(password: &str) -> Result<String, ApiError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| ApiError::internal(format!("cannot hash a password: {e}")))
}

/// Whether `password` matches the PHC `hash`.
fn password_matches(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

/// A hash to verify against when the user does not exist, so that an
/// unknown user takes as long to refuse as a wrong password.
fn decoy_hash() -> &'static str {
    static DECOY: OnceLock<String> = OnceLock::new();
    DECOY.get_or_init(|| hash_password(&random_secret(16)).unwrap_or_default())
}

/// `bytes` random bytes from the OS, hex-encoded.
pub fn random_secret(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    OsRng.fill_bytes(&mut buf);
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

/// What the first start did about the Manager account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminBootstrap {
    /// Users exist already; nothing was created.
    Existing,
    /// `admin` was created with the password from `VIGIL_ADMIN_PASSWORD`.
    FromEnvironment,
    /// `admin` was created with this generated password, to be shown once.
    Generated(String),
}

/// Creates the Manager account `admin` when the store has no user: with
/// `password` when given, else with a generated one that the caller must
/// show once. Another node creating it at the same time is not an error.
pub async fn bootstrap_admin(
    store: &dyn Store,
    password: Option<&str>,
) -> Result<AdminBootstrap, StoreError> {
    if !store.users().await?.is_empty() {
        return Ok(AdminBootstrap::Existing);
    }
    let (password, outcome) = match password {
        Some(p) if !p.is_empty() => (p.to_string(), AdminBootstrap::FromEnvironment),
        Some(_) => {
            return Err(StoreError::Invalid(
                "VIGIL_ADMIN_PASSWORD is set but empty; set a password or unset it to get a generated one".into(),
            ))
        }
        None => {
            let p = random_secret(12);
            (p.clone(), AdminBootstrap::Generated(p))
        }
    };
    let hash = hash_password(&password).map_err(|e| StoreError::Invalid(e.message))?;
    let user = NewUser {
        username: ADMIN.into(),
        password_hash: hash,
        role: MANAGER.into(),
        tags: Vec::new(),
        created_at: chrono::Utc::now(),
    };
    let audit = AuditEntry::now(
        "system",
        "user.create",
        &format!("user:{ADMIN}"),
        serde_json::json!({"role": MANAGER, "first_start": true}),
    );
    match store.create_user(&user, &audit).await {
        Ok(()) => Ok(outcome),
        // Another node won the race: its admin stands.
        Err(StoreError::Conflict(_)) if store.user(ADMIN).await?.is_some() => {
            Ok(AdminBootstrap::Existing)
        }
        Err(e) => Err(e),
    }
}

/// The form of `POST /auth` (`application/x-www-form-urlencoded`).
/// (The handler reads the fields itself, to name a missing one.)
#[derive(Debug, Deserialize, ToSchema)]
pub struct LoginForm {
    /// The username.
    pub username: String,
    /// The password.
    pub password: String,
    /// Must be `true` when given (the seed API sends `token=true`).
    pub token: Option<bool>,
}

/// Issues a JWT, valid 4 hours, for a username and password.
#[utoipa::path(
    post,
    path = "/auth",
    tag = "auth",
    request_body(content = LoginForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 201, description = "The JWT itself, as text", body = String, content_type = "text/plain"),
        (status = 400, description = "A field is missing or invalid", body = ApiError),
        (status = 401, description = "Unknown user, wrong password or disabled user", body = ApiError),
        (status = 429, description = "Too many login attempts for this user or address; see Retry-After", body = ApiError),
    )
)]
pub async fn login(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    body: axum::body::Bytes,
) -> Result<impl IntoResponse, ApiError> {
    let fields: Vec<(String, String)> = serde_urlencoded::from_bytes(&body).map_err(|_| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_body",
            "the body must be application/x-www-form-urlencoded: username=…&password=…&token=true",
        )
    })?;
    let field = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let username = field("username")
        .filter(|v| !v.is_empty())
        .ok_or_else(|| ApiError::missing_field("username"))?;
    let password = field("password")
        .filter(|v| !v.is_empty())
        .ok_or_else(|| ApiError::missing_field("password"))?;
    if let Some(token) = field("token") {
        if token != "true" {
            return Err(ApiError::invalid_field(
                "token",
                "the form field `token` must be `true`",
            ));
        }
    }
    let user_key = format!("user:{username}");
    let addr_key = format!("addr:{}", peer.ip());
    if let Err(wait) = state
        .logins
        .attempt(&[&user_key, &addr_key], Instant::now())
    {
        let mut error = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!("too many login attempts; retry in {wait} seconds"),
        );
        error.retry_after = Some(wait);
        return Err(error);
    }
    let user = state
        .store
        .user(username)
        .await
        .map_err(ApiError::internal)?;
    let hash = user
        .as_ref()
        .map_or_else(|| decoy_hash().to_string(), |u| u.password_hash.clone());
    let password = password.to_string();
    let matches = tokio::task::spawn_blocking(move || password_matches(&password, &hash))
        .await
        .map_err(ApiError::internal)?;
    let user = match user {
        Some(u) if matches && !u.disabled => u,
        _ => {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "invalid_credentials",
                "unknown user or wrong password",
            ))
        }
    };
    let now = chrono::Utc::now().timestamp();
    let token = state.signer.sign(&Claims {
        sub: user.username.clone(),
        role: user.role.clone(),
        iat: now,
        exp: now + LIFETIME_SECONDS,
    });
    Ok((
        StatusCode::CREATED,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        token,
    ))
}

/// The user a request's bearer token names, if the token is valid and the
/// user still exists and is enabled.
pub async fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<UserRecord, ApiError> {
    let value = headers
        .get(header::AUTHORIZATION)
        .ok_or_else(|| {
            ApiError::unauthorized("no token: send `Authorization: Bearer <token from POST /auth>`")
        })?
        .to_str()
        .map_err(|_| ApiError::unauthorized("the Authorization header is not text"))?;
    let token = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .ok_or_else(|| {
            ApiError::unauthorized("the Authorization header must be `Bearer <token>`")
        })?;
    let claims = state
        .signer
        .verify(token.trim(), chrono::Utc::now().timestamp())
        .map_err(|e| ApiError::unauthorized(e.to_string()))?;
    match state
        .store
        .user(&claims.sub)
        .await
        .map_err(ApiError::internal)?
    {
        Some(user) if !user.disabled => Ok(user),
        _ => Err(ApiError::unauthorized(
            "the token's user no longer exists or is disabled",
        )),
    }
}

/// Who the caller is.
#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    /// The username.
    #[schema(example = "admin")]
    pub username: String,
    /// The role's name: `manager`, `sub_user`, `reader`, `reports_only` or a custom role.
    #[schema(example = "manager")]
    pub role: String,
    /// The permissions of the role.
    pub permissions: Vec<String>,
    /// Connector tags; none: every connector.
    pub tags: Vec<String>,
}

/// The user of the bearer token, their role, permissions and tags.
#[utoipa::path(
    get,
    path = "/api/v1/me",
    tag = "auth",
    security(("bearer" = ["api_access"])),
    responses(
        (status = 200, description = "The caller", body = Me),
        (status = 401, description = "No token, or an invalid or expired one", body = ApiError),
        (status = 403, description = "The caller's role lacks api_access", body = ApiError),
    )
)]
pub async fn me(caller: crate::access::Caller) -> axum::Json<Me> {
    axum::Json(Me {
        username: caller.user.username.clone(),
        role: caller.role.name.clone(),
        permissions: caller
            .role
            .permissions
            .iter()
            .map(|p| p.as_str().to_string())
            .collect(),
        tags: caller.user.tags.clone(),
    })
}
