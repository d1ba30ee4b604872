//! The SQLite side of `nexds migrate-to-postgres` (`store::migrate`): counts and
//! reads every table in one snapshot.

use rusqlite::types::ValueRef;
use tokio::sync::mpsc::Sender;

use crate::error::ApiError;
use crate::store::StoreError;
use crate::store::migrate::{Census, Chunk, Value};
use crate::store::sqlite::SqliteStore;

/// Tables whose ids come from AUTOINCREMENT (never reused): their sequence is in
/// `sqlite_sequence`, which may be past the largest id left.
const AUTOINCREMENT: [(&str, &str); 3] = [
    ("objects", "data_id"),
    ("notifications", "id"),
    ("webhook_outbox", "id"),
];

impl SqliteStore {
    /// Rows per table, and the last id each id sequence gave.
    pub fn census(&self, tables: &[&'static str]) -> Result<Census, StoreError> {
        self.read_blocking(|conn| {
            let mut census = Census::default();
            for &table in tables {
                let n: i64 =
                    conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))?;
                census.rows.push((table, n as u64));
            }
            for (table, column) in AUTOINCREMENT {
                let given: Option<i64> = conn
                    .query_row(
                        "SELECT seq FROM sqlite_sequence WHERE name = ?1",
                        [table],
                        |r| r.get(0),
                    )
                    .ok();
                let largest: Option<i64> =
                    conn.query_row(&format!("SELECT max({column}) FROM {table}"), [], |r| {
                        r.get(0)
                    })?;
                let last = given.into_iter().chain(largest).max().unwrap_or(0);
                census.sequences.push((table, last));
            }
            let tokens: Option<i64> =
                conn.query_row("SELECT max(id) FROM tokens", [], |r| r.get(0))?;
            census.sequences.push(("tokens", tokens.unwrap_or(0)));
            Ok(census)
        })
    }

    /// Sends every row of `tables`, in that order, in chunks of `chunk` rows, read
    /// in one snapshot; stops early if the receiver is gone.
    pub fn export(
        &self,
        tables: &[&'static str],
        chunk: usize,
        to: Sender<Chunk>,
    ) -> Result<(), StoreError> {
        self.read_blocking(|conn| {
            for &table in tables {
                let mut stmt = conn.prepare(&format!("SELECT * FROM {table}"))?;
                let columns: Vec<String> =
                    stmt.column_names().iter().map(|c| c.to_string()).collect();
                let width = columns.len();
                let mut rows = stmt.query([])?;
                let mut batch = Vec::with_capacity(chunk);
                let mut sent_any = false;
                loop {
                    let row = rows.next()?;
                    if let Some(row) = row {
                        let mut values = Vec::with_capacity(width);
                        for i in 0..width {
                            values.push(match row.get_ref(i)? {
                                ValueRef::Null => Value::Null,
                                ValueRef::Integer(v) => Value::Int(v),
                                ValueRef::Real(v) => Value::Int(v as i64),
                                ValueRef::Text(t) => {
                                    Value::Text(String::from_utf8_lossy(t).into_owned())
                                }
                                ValueRef::Blob(b) => Value::Blob(b.to_vec()),
                            });
                        }
                        batch.push(values);
                    }
                    let done = row.is_none();
                    if batch.len() >= chunk || (done && (!batch.is_empty() || !sent_any)) {
                        let rows = std::mem::replace(&mut batch, Vec::with_capacity(chunk));
                        let sent = to.blocking_send(Chunk {
                            table,
                            columns: columns.clone(),
                            rows,
                        });
                        if sent.is_err() {
                            return Err(ApiError::internal("the PostgreSQL side stopped"));
                        }
                        sent_any = true;
                    }
                    if done {
                        break;
                    }
                }
            }
            Ok(())
        })
    }
}
