//! Users and settings as the backends keep them (schema version 3): the
//! types the API server works with, and the row both backends store and read
//! back. Passwords are kept only as PHC-format hashes (argon2); nothing here
//! ever holds a plain password.

use crate::search::timestamp;
use crate::StoreError;
use serde::Serialize;
use vigil_model::Timestamp;

/// A user's role (seed 001, "User Permissions"). Permissions are derived
/// from the role, so new permissions are new methods here, not new columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The most privileged user: full privileges; the only role that can
    /// create users and assign roles.
    Manager,
    /// A sub user with all privileges on the data (but no user management).
    SubUser,
    /// A sub user with Reader privileges: can only view data and reports.
    Reader,
}

impl Role {
    /// Every role, most privileged first.
    pub const ALL: [Role; 3] = [Role::Manager, Role::SubUser, Role::Reader];

    /// The role's name as stored and shown: `manager`, `sub_user`, `reader`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Manager => "manager",
            Role::SubUser => "sub_user",
            Role::Reader => "reader",
        }
    }

    /// The role named `name` (as [`Role::as_str`] writes it).
    pub fn parse(name: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == name)
    }

    /// Whether the role may create users and assign roles.
    pub fn can_manage_users(self) -> bool {
        self == Role::Manager
    }

    /// Whether the role may change data (connectors, scans, controls).
    pub fn can_write(self) -> bool {
        self != Role::Reader
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A user to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUser {
    pub username: String,
    /// The PHC string of the password's hash (never the password).
    pub password_hash: String,
    pub role: Role,
    pub tags: Vec<String>,
    pub created_at: Timestamp,
}

/// A stored user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    pub username: String,
    /// The PHC string of the password's hash.
    pub password_hash: String,
    pub role: Role,
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
    let role = Role::parse(&role).ok_or_else(|| {
        StoreError::Database(format!(
            "user {username}: unknown role `{role}` in the store"
        ))
    })?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip_and_derive_permissions() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        assert_eq!(Role::parse("admin"), None);
        assert!(Role::Manager.can_manage_users());
        assert!(!Role::SubUser.can_manage_users());
        assert!(Role::SubUser.can_write());
        assert!(!Role::Reader.can_write());
    }
}
