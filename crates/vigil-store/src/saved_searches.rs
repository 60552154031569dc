//! Saved searches (seed 001, "Saved Searches"): a named query of its
//! owner's, private or shared with every user. Each change is audited in
//! its own transaction.

use crate::search::timestamp;
use crate::{AuditEntry, StoreError};
use async_trait::async_trait;
use serde::Serialize;
use vigil_model::Timestamp;

/// A kept saved search: its id and what was saved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SavedSearch {
    pub id: i64,
    #[serde(flatten)]
    pub search: NewSavedSearch,
}

/// A saved search to keep.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewSavedSearch {
    pub name: String,
    /// The username that saved it.
    pub owner: String,
    /// The query text (it compiled when saved).
    pub query: String,
    pub description: String,
    /// Whether every user sees it.
    pub shared: bool,
    pub created: Timestamp,
}

impl NewSavedSearch {
    /// Checks what the database cannot: a name of 1 to 200 characters.
    pub fn validate(&self) -> Result<(), StoreError> {
        let n = self.name.trim().chars().count();
        if n == 0 || n > 200 {
            return Err(StoreError::Invalid(
                "a saved search needs a name of 1 to 200 characters".into(),
            ));
        }
        Ok(())
    }
}

/// The columns of `saved_searches`, in the order [`read`] takes them.
pub const COLUMNS: &str = "id, name, owner, query, description, shared, created_at";

/// The columns of [`COLUMNS`] as read.
pub type SavedSearchColumns = (i64, String, String, String, String, bool, i64);

/// A saved search read in [`COLUMNS`] order.
pub fn read(
    (id, name, owner, query, description, shared, created): SavedSearchColumns,
) -> Result<SavedSearch, StoreError> {
    Ok(SavedSearch {
        id,
        search: NewSavedSearch {
            name,
            owner,
            query,
            description,
            shared,
            created: timestamp(created)?,
        },
    })
}

/// The error of a name the owner already used.
pub fn name_taken(search: &NewSavedSearch) -> StoreError {
    StoreError::Conflict(format!(
        "you already have a saved search named {}; choose another name or delete it first",
        search.name
    ))
}

/// The error of an id that does not exist.
pub fn missing(id: i64) -> StoreError {
    StoreError::NotFound(format!("there is no saved search {id}"))
}

/// Saved searches.
#[async_trait]
pub trait SavedSearchStore: Send + Sync {
    /// Keeps a saved search and returns its id; `Conflict` when its owner
    /// has one of that name.
    async fn create_saved_search(
        &self,
        search: &NewSavedSearch,
        audit: &AuditEntry,
    ) -> Result<i64, StoreError>;

    /// The saved searches of `viewer` and those shared by others, by name.
    async fn saved_searches(&self, viewer: &str) -> Result<Vec<SavedSearch>, StoreError>;

    /// The saved search `id`, if it exists.
    async fn saved_search(&self, id: i64) -> Result<Option<SavedSearch>, StoreError>;

    /// Deletes the saved search `id` (`NotFound` when there is none).
    async fn delete_saved_search(&self, id: i64, audit: &AuditEntry) -> Result<(), StoreError>;

    /// Shares the saved search `id` with every user, or stops sharing it.
    async fn share_saved_search(
        &self,
        id: i64,
        shared: bool,
        audit: &AuditEntry,
    ) -> Result<(), StoreError>;
}
