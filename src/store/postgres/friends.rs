//! Friend lists (DESIGN §14): replaced whole by the operator, asked by every
//! permission check. The domain's checks are synchronous, so a unit of work reads
//! the friendships its checks may ask about first, in its own transaction
//! ([`known_friends`]), and hands them over as a [`FriendLists`].

use std::collections::HashSet;

use async_trait::async_trait;
use deadpool_postgres::GenericClient;

use crate::domain::friends::FriendLists;
use crate::domain::{Caller, Object};
use crate::error::ApiError;
use crate::store::postgres::{PgError, PgStore, Tx, execute, rows};
use crate::store::{Friends, StoreError};

#[async_trait]
impl Friends for PgStore {
    async fn set_friends(
        &self,
        namespace: String,
        owner: u32,
        friends: Vec<u32>,
    ) -> Result<usize, StoreError> {
        self.write(
            (namespace, owner, friends),
            |tx, (namespace, owner, friends)| {
                Box::pin(async move {
                    let owner = i64::from(*owner);
                    execute(
                        tx,
                        "DELETE FROM friends WHERE namespace = $1 AND owner_id = $2",
                        &[namespace, &owner],
                    )
                    .await?;
                    let ids: Vec<i64> = friends.iter().map(|&f| i64::from(f)).collect();
                    execute(
                        tx,
                        "INSERT INTO friends (namespace, owner_id, friend_id)
                     SELECT $1, $2, f FROM unnest($3::bigint[]) AS f
                     ON CONFLICT DO NOTHING",
                        &[namespace, &owner, &ids],
                    )
                    .await?;
                    Ok(friends.len())
                })
            },
        )
        .await
    }

    async fn friends(&self, namespace: String, owner: u32) -> Result<Vec<u32>, StoreError> {
        self.read((namespace, owner), |tx, (namespace, owner)| {
            Box::pin(friends_of(tx, namespace, *owner))
        })
        .await
    }
}

/// The friend list of `owner`, in increasing order.
pub(crate) async fn friends_of(
    tx: &Tx<'_>,
    namespace: &str,
    owner: u32,
) -> Result<Vec<u32>, PgError> {
    let rows = rows(
        tx,
        "SELECT friend_id FROM friends WHERE namespace = $1 AND owner_id = $2 ORDER BY friend_id",
        &[&namespace, &i64::from(owner)],
    )
    .await?;
    Ok(rows.iter().map(|r| r.get::<_, i64>(0) as u32).collect())
}

/// The friendships a check of `caller` against objects of `owners` may ask
/// about: which of those owners list the caller as a friend.
#[derive(Debug, Default)]
pub(crate) struct KnownFriends {
    namespace: String,
    principal: Option<u32>,
    /// Owners whose friend list holds `principal`.
    owners: HashSet<u32>,
}

impl FriendLists for KnownFriends {
    fn is_friend(&self, namespace: &str, owner: u32, principal: u32) -> Result<bool, ApiError> {
        if Some(principal) != self.principal {
            // Only the caller's own friendships were read: anything else is a bug.
            return Err(ApiError::internal(format!(
                "friendship of {principal} to {owner} in {namespace} was not read"
            )));
        }
        // Friend lists are per namespace: the caller's is the only one read.
        Ok(namespace == self.namespace && self.owners.contains(&owner))
    }
}

/// Reads, in `tx`, which of `owners` list the caller as a friend.
pub(crate) async fn known_friends(
    tx: &impl GenericClient,
    caller: &Caller,
    owners: impl IntoIterator<Item = u32>,
) -> Result<KnownFriends, PgError> {
    let mut known = KnownFriends {
        namespace: caller.namespace.clone(),
        principal: caller.principal,
        owners: HashSet::new(),
    };
    let Some(me) = caller.principal else {
        return Ok(known);
    };
    let mut owners: Vec<i64> = owners
        .into_iter()
        .filter(|&o| o != me)
        .map(i64::from)
        .collect();
    owners.sort_unstable();
    owners.dedup();
    if owners.is_empty() {
        return Ok(known);
    }
    let found = rows(
        tx,
        "SELECT owner_id FROM friends
         WHERE namespace = $1 AND friend_id = $2 AND owner_id = ANY($3)",
        &[&caller.namespace, &i64::from(me), &owners],
    )
    .await?;
    known.owners = found.iter().map(|r| r.get::<_, i64>(0) as u32).collect();
    Ok(known)
}

/// [`known_friends`] for checks of `caller` against `objects`.
pub(crate) async fn friends_for(
    tx: &impl GenericClient,
    caller: &Caller,
    objects: &[Object],
) -> Result<KnownFriends, PgError> {
    known_friends(tx, caller, objects.iter().map(|o| o.owner_id)).await
}
