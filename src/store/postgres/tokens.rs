//! API tokens, kept as SHA-256 hashes. Units of work for the server and the CLI;
//! the synchronous ones wait on the store's runtime.

use async_trait::async_trait;

use crate::domain::Caller;
use crate::store::postgres::{PgError, PgStore, Tx, execute, one_row, opt_row, rows};
use crate::store::{Revocation, StoreError, TokenInfo, Tokens};

#[async_trait]
impl Tokens for PgStore {
    async fn caller_for_token(&self, hash: [u8; 32]) -> Result<Option<Caller>, StoreError> {
        self.read(hash, |tx, hash| {
            Box::pin(async move {
                let row = opt_row(
                    tx,
                    "SELECT namespace, principal_id FROM tokens
                     WHERE token_hash = $1 AND revoked_time IS NULL",
                    &[&&hash[..]],
                )
                .await?;
                Ok(row.map(|r| Caller {
                    namespace: r.get(0),
                    principal: r.get::<_, Option<i64>>(1).map(|p| p as u32),
                }))
            })
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
        let args = (hash, namespace.to_owned(), principal, now);
        self.block_on(self.write(args, |tx, (hash, namespace, principal, now)| {
            Box::pin(insert(tx, *hash, namespace, *principal, *now))
        }))
    }

    fn has_tokens(&self) -> Result<bool, StoreError> {
        self.block_on(self.read((), |tx, ()| {
            Box::pin(async move {
                let row = one_row(tx, "SELECT EXISTS (SELECT 1 FROM tokens)", &[]).await?;
                Ok(row.get(0))
            })
        }))
    }

    fn bootstrap_token(&self, hash: [u8; 32], now: i64) -> Result<bool, StoreError> {
        self.block_on(self.write((hash, now), |tx, (hash, now)| {
            Box::pin(async move {
                // Serializable: two nodes starting on an empty database make one token.
                let row = one_row(tx, "SELECT EXISTS (SELECT 1 FROM tokens)", &[]).await?;
                if row.get::<_, bool>(0) {
                    return Ok(false);
                }
                insert(tx, *hash, "default", None, *now).await?;
                Ok(true)
            })
        }))
    }

    fn list_tokens(&self) -> Result<Vec<TokenInfo>, StoreError> {
        self.block_on(self.read((), |tx, ()| {
            Box::pin(async move {
                let rows = rows(
                    tx,
                    "SELECT id, namespace, principal_id, created_time, revoked_time
                     FROM tokens ORDER BY id",
                    &[],
                )
                .await?;
                Ok(rows
                    .iter()
                    .map(|r| TokenInfo {
                        id: r.get(0),
                        namespace: r.get(1),
                        principal: r.get::<_, Option<i64>>(2).map(|p| p as u32),
                        created_time: r.get(3),
                        revoked_time: r.get(4),
                    })
                    .collect())
            })
        }))
    }

    fn namespace_known(&self, namespace: &str) -> Result<bool, StoreError> {
        self.block_on(self.read(namespace.to_owned(), |tx, namespace| {
            Box::pin(async move {
                let row = one_row(
                    tx,
                    "SELECT EXISTS (SELECT 1 FROM tokens WHERE namespace = $1)",
                    &[namespace],
                )
                .await?;
                Ok(row.get(0))
            })
        }))
    }

    fn revoke_token(
        &self,
        id: Option<i64>,
        hash: [u8; 32],
        now: i64,
    ) -> Result<Option<Revocation>, StoreError> {
        self.block_on(self.write((id, hash, now), |tx, (id, hash, now)| {
            Box::pin(async move {
                // A match by id first; of several, a live one first.
                let found = opt_row(
                    tx,
                    "SELECT id, revoked_time FROM tokens
                     WHERE id = $1 OR token_hash = $2
                     ORDER BY id = $1 DESC, revoked_time IS NULL DESC LIMIT 1",
                    &[id, &&hash[..]],
                )
                .await?;
                let Some(found) = found else {
                    return Ok(None);
                };
                let (found, already_revoked): (i64, Option<i64>) = (found.get(0), found.get(1));
                if already_revoked.is_none() {
                    execute(
                        tx,
                        "UPDATE tokens SET revoked_time = $2 WHERE id = $1",
                        &[&found, now],
                    )
                    .await?;
                }
                Ok(Some(Revocation {
                    id: found,
                    already_revoked,
                }))
            })
        }))
    }
}

async fn insert(
    tx: &Tx<'_>,
    hash: [u8; 32],
    namespace: &str,
    principal: Option<u32>,
    now: i64,
) -> Result<i64, PgError> {
    let row = one_row(
        tx,
        "INSERT INTO tokens (token_hash, namespace, principal_id, created_time)
         VALUES ($1, $2, $3, $4) RETURNING id",
        &[&&hash[..], &namespace, &principal.map(i64::from), &now],
    )
    .await?;
    Ok(row.get(0))
}
