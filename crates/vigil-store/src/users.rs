//! Users and settings as the backends keep them (schema version 3): the
//! types the API server works with, and the row both backends store and read
//! back. Passwords are kept only as PHC-format hashes (argon2); nothing here
//! ever holds a plain password.

use crate::search::timestamp;
use crate::StoreError;
use vigil_model::Timestamp;

/// A user to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUser {
    pub username: String,
    /// The PHC string of the password's hash (never the password).
    pub password_hash: String,
    /// The name of a built-in or custom role (see [`crate::access`]).
    pub role: String,
    pub tags: Vec<String>,
    pub created_at: Timestamp,
}

/// A stored user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    pub username: String,
    /// The PHC string of the password's hash.
    pub password_hash: String,
    /// The name of a built-in or custom role.
    pub role: String,
    pub tags: Vec<String>,
    pub created_at: Timestamp,
    /// A disabled user cannot log in.
    pub disabled: bool,
}

/// The columns of `users`, in the order the backends select them.
pub const COLUMNS: &str = "username, password_hash, role, tags, created_at, disabled";

/// The columns of `users` as the backends read them, in [`COLUMNS`] order.
pub type UserColumns = (String, String, String, String, i64, bool);

/// The name of the setting that holds the JWT signing key (hex).
pub const SIGNING_KEY: &str = "jwt_signing_key";

impl NewUser {
    /// Checks what the database cannot: a plausible name and a hash, not a
    /// password.
    pub fn validate(&self) -> Result<(), StoreError> {
        let name = &self.username;
        if name.is_empty() || name.len() > 128 || name.trim() != name {
            return Err(StoreError::Invalid(
                "a username must be 1 to 128 characters without surrounding spaces".into(),
            ));
        }
        if !self.password_hash.starts_with('$') {
            return Err(StoreError::Invalid(format!(
                "user {name}: the password must be stored as a PHC hash string"
            )));
        }
        Ok(())
    }

    /// The tags as the JSON text the backends store.
    pub fn tags_json(&self) -> String {
        serde_json::Value::from(self.tags.clone()).to_string()
    }
}

/// The user a row read in [`COLUMNS`] order holds.
pub fn read(
    (username, password_hash, role, tags, created_at, disabled): UserColumns,
) -> Result<UserRecord, StoreError> {
    let tags: Vec<String> = serde_json::from_str(&tags).map_err(|e| {
        StoreError::Database(format!("user {username}: tags are not a JSON list: {e}"))
    })?;
    Ok(UserRecord {
        username,
        password_hash,
        role,
        tags,
        created_at: timestamp(created_at)?,
        disabled,
    })
}
