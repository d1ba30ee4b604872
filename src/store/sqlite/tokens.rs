//! API tokens, kept as SHA-256 hashes. Units of work for the server and the CLI.

use rusqlite::{Connection, OptionalExtension, params};

use crate::domain::Caller;
use crate::error::ApiError;
use crate::store::sqlite::SqliteStore;
use crate::store::{Revocation, StoreError, TokenInfo, Tokens};
use async_trait::async_trait;

#[async_trait]
impl Tokens for SqliteStore {
    async fn caller_for_token(&self, hash: [u8; 32]) -> Result<Option<Caller>, StoreError> {
        self.read_bounded(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT namespace, principal_id FROM tokens
                 WHERE token_hash = ?1 AND revoked_time IS NULL",
            )?;
            let caller = stmt
                .query_row([&hash[..]], |r| {
                    Ok(Caller {
                        namespace: r.get(0)?,
                        principal: r.get(1)?,
                    })
                })
                .optional()?;
            Ok(caller)
        })
        .await
    }

    fn create_token(
        &self,
        hash: [u8; 32],
        namespace: &str,
        principal: Option<u32>,
        now: i64,
    ) -> Result<i64, StoreError> {
        self.write_blocking(|tx| insert(tx, hash, namespace, principal, now))
    }

    fn has_tokens(&self) -> Result<bool, StoreError> {
        self.read_blocking(|conn| {
            Ok(conn.query_row("SELECT EXISTS (SELECT 1 FROM tokens)", [], |r| r.get(0))?)
        })
    }

    fn bootstrap_token(&self, hash: [u8; 32], now: i64) -> Result<bool, StoreError> {
        self.write_blocking(|tx| {
            let count: i64 = tx.query_row("SELECT count(*) FROM tokens", [], |r| r.get(0))?;
            if count > 0 {
                return Ok(false);
            }
            insert(tx, hash, "default", None, now)?;
            Ok(true)
        })
    }

    fn list_tokens(&self) -> Result<Vec<TokenInfo>, StoreError> {
        self.read_blocking(|conn| {
            let mut stmt = conn.prepare(
                "SELECT id, namespace, principal_id, created_time, revoked_time
                 FROM tokens ORDER BY id",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok(TokenInfo {
                    id: r.get(0)?,
                    namespace: r.get(1)?,
                    principal: r.get(2)?,
                    created_time: r.get(3)?,
                    revoked_time: r.get(4)?,
                })
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
    }

    fn namespace_known(&self, namespace: &str) -> Result<bool, StoreError> {
        self.read_blocking(|conn| {
            Ok(conn.query_row(
                "SELECT EXISTS (SELECT 1 FROM tokens WHERE namespace = ?1)",
                [namespace],
                |r| r.get(0),
            )?)
        })
    }

    fn revoke_token(
        &self,
        id: Option<i64>,
        hash: [u8; 32],
        now: i64,
    ) -> Result<Option<Revocation>, StoreError> {
        self.write_blocking(|tx| {
            // A match by id first; of several, a live one first.
            let found: Option<(i64, Option<i64>)> = tx
                .query_row(
                    "SELECT id, revoked_time FROM tokens
                     WHERE id = ?1 OR token_hash = ?2
                     ORDER BY id = ?1 DESC, revoked_time IS NULL DESC LIMIT 1",
                    params![id, &hash[..]],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            let Some((found, already_revoked)) = found else {
                return Ok(None);
            };
            if already_revoked.is_none() {
                tx.execute(
                    "UPDATE tokens SET revoked_time = ?2 WHERE id = ?1",
                    params![found, now],
                )?;
            }
            Ok(Some(Revocation {
                id: found,
                already_revoked,
            }))
        })
    }
}

fn insert(
    conn: &Connection,
    hash: [u8; 32],
    namespace: &str,
    principal: Option<u32>,
    now: i64,
) -> Result<i64, ApiError> {
    conn.execute(
        "INSERT INTO tokens (token_hash, namespace, principal_id, created_time)
         VALUES (?1, ?2, ?3, ?4)",
        params![&hash[..], namespace, principal, now],
    )?;
    Ok(conn.last_insert_rowid())
}
