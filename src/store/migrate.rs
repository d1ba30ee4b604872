//! `nexds migrate-to-postgres`: copies an embedded SQLite database into an empty
//! PostgreSQL one (DESIGN §11), table by table in the order of their foreign keys,
//! every row with its ids, then moves each id sequence past the ids SQLite ever
//! gave, and verifies every table's count before it commits. One PostgreSQL
//! transaction: a failed migration leaves the target as empty as it was.
//!
//! The SQLite side reads one snapshot on a thread of its own and hands rows over
//! in chunks through a bounded channel, so a database of millions of objects is
//! never held in memory at once.

use crate::store::postgres::PgStore;
use crate::store::sqlite::SqliteStore;

/// Every table nexds keeps, parents before children. Derived tables (indexes'
/// helpers) are rebuilt by the target, not copied.
pub const TABLES: [&str; 13] = [
    "tokens",
    "objects",
    "object_tags",
    "object_recipients",
    "rating_slots",
    "rating_entries",
    "rating_locks",
    "persistence_slots",
    "object_versions",
    "blob_deletions",
    "friends",
    "notifications",
    "webhook_outbox",
];

/// Rows per chunk handed from SQLite to PostgreSQL.
pub const CHUNK: usize = 5000;

/// One column value, as both databases hold it.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Int(i64),
    Text(String),
    Blob(Vec<u8>),
}

/// Rows of one table, its columns named.
#[derive(Debug)]
pub struct Chunk {
    pub table: &'static str,
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Value>>,
}

/// What the source holds: rows per table and the last id of each id sequence.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Census {
    pub rows: Vec<(&'static str, u64)>,
    /// `(table, last id given)`: the next id must come after it.
    pub sequences: Vec<(&'static str, i64)>,
}

#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error("the SQLite database: {0}")]
    Source(String),
    #[error("PostgreSQL: {0}")]
    Target(String),
    #[error(
        "the PostgreSQL database already holds nexds data ({0}); migrate into an empty database"
    )]
    NotEmpty(String),
    #[error("verification failed, nothing was kept: {0}")]
    Mismatch(String),
}

/// Copies `source` into `target`; returns what was copied, as verified.
pub fn migrate(source: &SqliteStore, target: &PgStore) -> Result<Census, MigrateError> {
    let census = source
        .census(&TABLES)
        .map_err(|e| MigrateError::Source(e.to_string()))?;
    let (tx, rx) = tokio::sync::mpsc::channel::<Chunk>(4);
    std::thread::scope(|scope| {
        let reader = scope.spawn(move || source.export(&TABLES, CHUNK, tx));
        let imported = target.import(rx, &census);
        let read = reader
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        match (imported, read) {
            (Ok(()), Ok(())) => Ok(()),
            // A reading failure closes the channel early: the import then finds
            // counts short and commits nothing; the reader's own error says why.
            (Ok(()) | Err(MigrateError::Mismatch(_)), Err(e)) => {
                Err(MigrateError::Source(e.to_string()))
            }
            // A refused or failed import stops the reader: its error says why.
            (Err(e), _) => Err(e),
        }
    })?;
    Ok(census)
}

/// The check both sides agree on: `found` must be `census`, table by table.
pub fn verify(census: &Census, found: &[(&'static str, u64)]) -> Result<(), MigrateError> {
    for (table, expected) in &census.rows {
        let got = found
            .iter()
            .find(|(t, _)| t == table)
            .map_or(0, |(_, n)| *n);
        if got != *expected {
            return Err(MigrateError::Mismatch(format!(
                "{table}: {expected} rows in SQLite, {got} in PostgreSQL"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parents_come_before_their_children() {
        let at = |t: &str| TABLES.iter().position(|x| *x == t).unwrap();
        for child in [
            "object_tags",
            "object_recipients",
            "rating_slots",
            "rating_entries",
            "rating_locks",
            "persistence_slots",
            "object_versions",
            "notifications",
        ] {
            assert!(at("objects") < at(child), "{child}");
        }
    }

    #[test]
    fn verify_names_the_first_table_that_differs() {
        let census = Census {
            rows: vec![("tokens", 2), ("objects", 5)],
            sequences: vec![],
        };
        assert!(verify(&census, &[("tokens", 2), ("objects", 5)]).is_ok());
        let err = verify(&census, &[("tokens", 2), ("objects", 4)]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "verification failed, nothing was kept: objects: 5 rows in SQLite, 4 in PostgreSQL"
        );
    }
}
