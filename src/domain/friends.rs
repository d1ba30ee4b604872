//! Friend lists (DESIGN §14): the operator tells nexds who is whose friend, and
//! the `friend` and `specified_friend` permissions (DESIGN §3) ask them. Lists
//! are directed: "C is a friend of O" means C is in O's list.

use crate::domain::Caller;
use crate::error::ApiError;

/// At most this many principals in one friend list.
pub const FRIENDS_MAX: usize = 1000;

/// Where the permission rules ask whether one principal is a friend of another.
/// A backend answers from the transaction (snapshot) of its unit of work, so a
/// check sees the lists as they are when the object itself is read.
pub trait FriendLists {
    /// Is `principal` in the friend list of `owner` in `namespace`?
    fn is_friend(&self, namespace: &str, owner: u32, principal: u32) -> Result<bool, ApiError>;
}

/// Nobody is anybody's friend: for checks whose caller is the owner or a title
/// token, which friendship never changes, and for tests.
pub struct NoFriends;

impl FriendLists for NoFriends {
    fn is_friend(&self, _: &str, _: u32, _: u32) -> Result<bool, ApiError> {
        Ok(false)
    }
}

/// A friend list as it is stored: sorted, each principal once.
pub fn check_friend_list(mut ids: Vec<u32>) -> Result<Vec<u32>, ApiError> {
    // Counted as sent, like a batch (DESIGN §9): 1001 ids are refused even with duplicates.
    if ids.len() > FRIENDS_MAX {
        return Err(ApiError::invalid(format!(
            "{} <principal_id> elements, a friend list holds at most {FRIENDS_MAX}",
            ids.len()
        )));
    }
    ids.sort_unstable();
    ids.dedup();
    Ok(ids)
}

/// Only a title token replaces a friend list: the friends server of a title is
/// outside nexds, and its operator speaks for it.
pub fn check_list_writer(caller: &Caller) -> Result<(), ApiError> {
    match caller.principal {
        Some(me) => Err(ApiError::permission_denied(format!(
            "principal {me} may not set friend lists: only a title token may"
        ))),
        None => Ok(()),
    }
}

/// A title token reads any friend list, a principal only its own.
pub fn check_list_reader(caller: &Caller, owner: u32) -> Result<(), ApiError> {
    match caller.principal {
        Some(me) if me != owner => Err(ApiError::permission_denied(format!(
            "principal {me} may not read the friend list of principal {owner}"
        ))),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    #[test]
    fn friend_lists_are_sorted_without_duplicates_and_at_most_a_thousand() {
        assert_eq!(check_friend_list(vec![9, 3, 9, 5]).unwrap(), vec![3, 5, 9]);
        assert_eq!(check_friend_list(Vec::new()).unwrap(), Vec::<u32>::new());
        assert!(check_friend_list((1..=1000).collect()).is_ok());
        let err = check_friend_list((1..=1001).collect()).unwrap_err();
        assert_eq!(err.kind, ErrorKind::InvalidArgument);
    }

    #[test]
    fn titles_write_every_list_and_principals_read_their_own() {
        let title = Caller::title("default");
        let me = Caller::principal("default", 7);
        assert!(check_list_writer(&title).is_ok());
        assert_eq!(
            check_list_writer(&me).unwrap_err().kind,
            ErrorKind::PermissionDenied
        );
        assert!(check_list_reader(&title, 8).is_ok());
        assert!(check_list_reader(&me, 7).is_ok());
        assert_eq!(
            check_list_reader(&me, 8).unwrap_err().kind,
            ErrorKind::PermissionDenied
        );
    }
}
