//! Schema migrations as every backend keeps them: embedded files, applied in
//! order, one transaction each, recorded in `schema_migrations`.

use crate::StoreError;

/// One migration file of a backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sql: &'static str,
}

impl Migration {
    /// The error of this migration failing for `reason`.
    pub fn failed(&self, reason: impl std::fmt::Display) -> StoreError {
        StoreError::Migration {
            version: self.version,
            name: self.name.to_string(),
            reason: reason.to_string(),
        }
    }
}

/// Creates the table that records applied migrations; it runs before any
/// migration.
pub const BOOTSTRAP: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT    NOT NULL,
    applied_at BIGINT  NOT NULL
)";

/// The latest schema version of `migrations` (given in order); 0 when there
/// are none.
pub fn latest_version(migrations: &[Migration]) -> i64 {
    migrations.last().map_or(0, |m| m.version)
}

/// The migrations that a database at schema version `found` still needs, in
/// order. A database newer than `migrations` know is refused: `target` names
/// it in the error.
pub fn pending<'m>(
    migrations: &'m [Migration],
    target: &str,
    found: i64,
) -> Result<impl Iterator<Item = &'m Migration>, StoreError> {
    let known = latest_version(migrations);
    if found > known {
        return Err(StoreError::TooNew {
            target: target.to_string(),
            found,
            known,
        });
    }
    Ok(migrations.iter().filter(move |m| m.version > found))
}

/// The statements of a migration file: `--` comments removed, then split at
/// `;` (the migrations hold neither `;` nor `--` inside string literals).
pub fn statements(sql: &str) -> Vec<String> {
    let code: String = sql
        .lines()
        .map(|line| line.split("--").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n");
    code.split(';')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIGRATIONS: &[Migration] = &[
        Migration {
            version: 1,
            name: "initial",
            sql: "CREATE TABLE t (x INTEGER)",
        },
        Migration {
            version: 2,
            name: "index",
            sql: "CREATE INDEX i ON t (x)",
        },
    ];

    #[test]
    fn migration_files_split_into_statements_without_comments() {
        let sql = "-- a header; with a semicolon\nCREATE TABLE t (x INTEGER); -- why; and why not\n\nCREATE INDEX i ON t (x);\n-- the end;\n";
        assert_eq!(
            statements(sql),
            vec!["CREATE TABLE t (x INTEGER)", "CREATE INDEX i ON t (x)"]
        );
        assert!(statements("-- nothing but a comment;\n").is_empty());
    }

    #[test]
    fn pending_migrations_follow_the_found_version() {
        assert_eq!(latest_version(MIGRATIONS), 2);
        assert_eq!(latest_version(&[]), 0);
        let versions = |found| -> Vec<i64> {
            pending(MIGRATIONS, "db", found)
                .unwrap()
                .map(|m| m.version)
                .collect()
        };
        assert_eq!(versions(0), vec![1, 2]);
        assert_eq!(versions(1), vec![2]);
        assert!(versions(2).is_empty());
        match pending(MIGRATIONS, "db", 3) {
            Err(StoreError::TooNew {
                target,
                found,
                known,
            }) => assert_eq!((target.as_str(), found, known), ("db", 3, 2)),
            Err(other) => panic!("expected TooNew, got {other}"),
            Ok(_) => panic!("a newer schema was accepted"),
        }
        let failed = MIGRATIONS[1].failed("no disk");
        assert_eq!(failed.to_string(), "migration 2 (index) failed: no disk");
    }
}
