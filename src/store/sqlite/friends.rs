//! Friend lists (DESIGN §14): replaced whole by the operator, asked by every
//! permission check through [`FriendLists`] on the check's own connection.

use rusqlite::{Connection, Transaction, params};

use crate::domain::friends::FriendLists;
use crate::error::ApiError;
use crate::store::sqlite::SqliteStore;
use crate::store::{Friends, StoreError};
use async_trait::async_trait;

#[async_trait]
impl Friends for SqliteStore {
    async fn set_friends(
        &self,
        namespace: String,
        owner: u32,
        friends: Vec<u32>,
    ) -> Result<usize, StoreError> {
        self.write(move |tx| {
            tx.prepare_cached("DELETE FROM friends WHERE namespace = ?1 AND owner_id = ?2")?
                .execute(params![namespace, owner])?;
            let mut insert = tx.prepare_cached(
                "INSERT OR IGNORE INTO friends (namespace, owner_id, friend_id) VALUES (?1, ?2, ?3)",
            )?;
            for friend in &friends {
                insert.execute(params![namespace, owner, friend])?;
            }
            Ok(friends.len())
        })
        .await
    }

    async fn friends(&self, namespace: String, owner: u32) -> Result<Vec<u32>, StoreError> {
        self.read_bounded(move |conn| friends_of(conn, &namespace, owner))
            .await
    }
}

/// The friend list of `owner`, in increasing order.
pub(crate) fn friends_of(
    conn: &Connection,
    namespace: &str,
    owner: u32,
) -> Result<Vec<u32>, ApiError> {
    let mut stmt = conn.prepare_cached(
        "SELECT friend_id FROM friends WHERE namespace = ?1 AND owner_id = ?2 ORDER BY friend_id",
    )?;
    let ids = stmt
        .query_map(params![namespace, owner], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    Ok(ids)
}

impl FriendLists for Connection {
    fn is_friend(&self, namespace: &str, owner: u32, principal: u32) -> Result<bool, ApiError> {
        let mut stmt = self.prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM friends
                WHERE namespace = ?1 AND owner_id = ?2 AND friend_id = ?3)",
        )?;
        Ok(stmt.query_row(params![namespace, owner, principal], |r| r.get(0))?)
    }
}

impl FriendLists for Transaction<'_> {
    fn is_friend(&self, namespace: &str, owner: u32, principal: u32) -> Result<bool, ApiError> {
        (**self).is_friend(namespace, owner, principal)
    }
}
