//! A checked prepare request and the object it creates (spec 12.3.2.5.2).

use crate::domain::object::State;
use crate::domain::rating::{RatingInit, RatingTotals};
use crate::domain::{Caller, DataFlags, Object, Permission, Status, limits, time};
use crate::error::ApiError;

/// `persistence_init_param` of a prepare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PersistenceInit {
    pub slot: u16,
    pub delete_last_object: bool,
}

/// A checked `<prepare>` (spec 12.3.2.5.2).
#[derive(Debug, Clone)]
pub struct PrepareRequest {
    pub size: u64,
    pub owner_id: Option<u32>,
    /// `<name>`: the spec's table omits it, NEX's PreparePostParam carries it (DESIGN §4).
    pub name: String,
    pub data_type: u16,
    pub meta_binary: Option<Vec<u8>>,
    pub flags: DataFlags,
    pub period: u16,
    pub refer_data_id: u64,
    pub access: Permission,
    pub update: Permission,
    pub tags: Vec<Vec<u8>>,
    pub ratings: Vec<RatingInit>,
    pub persistence: Option<PersistenceInit>,
}

impl PrepareRequest {
    /// The owner of the new object (DESIGN §2): a principal token owns what it
    /// creates and may not name another owner; a title token names any owner,
    /// or the server's own principal 2 when it names none.
    pub fn owner_for(&self, caller: &Caller) -> Result<u32, ApiError> {
        match (caller.principal, self.owner_id) {
            (None, owner) => Ok(owner.unwrap_or(limits::SERVER_PRINCIPAL)),
            (Some(me), None) => Ok(me),
            (Some(me), Some(owner)) if owner == me => Ok(me),
            (Some(me), Some(owner)) => Err(ApiError::permission_denied(format!(
                "principal {me} may not create data owned by {owner}"
            ))),
        }
    }

    /// Is this the meta-binary-only form (size 0 + not_use_storageserver, spec 12.3.2.5.1.2)?
    /// Checks the combination either way.
    pub fn is_meta_only(&self, max_file_size: u64) -> Result<bool, ApiError> {
        let meta_only = self.flags.contains(DataFlags::NOT_USE_STORAGESERVER);
        match (self.size, meta_only) {
            (0, true) if self.meta_binary.is_none() => Err(ApiError::invalid(
                "a meta-binary-only prepare (not_use_storageserver) needs <meta_binary>",
            )),
            (0, true) => Ok(true),
            (0, false) => Err(ApiError::invalid(
                "size 0 is only allowed with the not_use_storageserver flag",
            )),
            (_, true) => Err(ApiError::invalid(
                "not_use_storageserver needs size 0: such objects have no file",
            )),
            (size, false) if size > max_file_size => Err(ApiError::invalid(format!(
                "size {size} is above the limit of {max_file_size} bytes"
            ))),
            (_, false) => Ok(false),
        }
    }

    /// The object this request creates for `owner` at `now`, before it has a data_id.
    pub fn new_object(&self, namespace: &str, owner: u32, state: State, now: i64) -> Object {
        let status = if self.flags.contains(DataFlags::NEED_REVIEW) {
            Status::Pending
        } else {
            Status::None
        };
        let persisted = self.persistence.is_some();
        Object {
            data_id: 0,
            namespace: namespace.to_owned(),
            owner_id: owner,
            size: self.size,
            data_type: self.data_type,
            name: self.name.clone(),
            meta_binary: self.meta_binary.clone().unwrap_or_default(),
            flags: self.flags,
            period: self.period,
            refer_data_id: self.refer_data_id,
            access: self.access.clone(),
            update: self.update.clone(),
            status,
            state,
            created_time: now,
            updated_time: now,
            referred_time: now,
            referred_count: 0,
            expire_time: if persisted {
                time::NEVER_EXPIRES
            } else {
                time::add_days(now, self.period)
            },
            access_password: 0,
            update_password: 0,
            tags: self.tags.clone(),
            ratings: self
                .ratings
                .iter()
                .map(|r| RatingTotals {
                    slot: r.slot,
                    count: 0,
                    total_value: r.initial_value,
                    initial_value: r.initial_value,
                })
                .collect(),
            persisted,
            blob_key: None,
            version: 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    fn request(size: u64, flags: u32, meta: Option<Vec<u8>>) -> PrepareRequest {
        PrepareRequest {
            size,
            name: String::new(),
            owner_id: None,
            data_type: 0,
            meta_binary: meta,
            flags: DataFlags(flags),
            period: 90,
            refer_data_id: 0,
            access: Permission::private(),
            update: Permission::private(),
            tags: Vec::new(),
            ratings: Vec::new(),
            persistence: None,
        }
    }

    #[test]
    fn owners_follow_the_caller_rules() {
        let mut r = request(0, 0, None);
        assert_eq!(r.owner_for(&Caller::title("d")).unwrap(), 2);
        assert_eq!(r.owner_for(&Caller::principal("d", 7)).unwrap(), 7);
        r.owner_id = Some(100);
        assert_eq!(r.owner_for(&Caller::title("d")).unwrap(), 100);
        assert_eq!(
            r.owner_for(&Caller::principal("d", 7)).unwrap_err().kind,
            ErrorKind::PermissionDenied
        );
    }

    #[test]
    fn meta_only_needs_size_zero_the_flag_and_a_meta_binary() {
        let flag = DataFlags::NOT_USE_STORAGESERVER;
        assert!(request(0, flag, Some(vec![1])).is_meta_only(10).unwrap());
        assert!(!request(5, 0, None).is_meta_only(10).unwrap());
        assert!(request(0, flag, None).is_meta_only(10).is_err());
        assert!(request(0, 0, Some(vec![1])).is_meta_only(10).is_err());
        assert!(request(5, flag, Some(vec![1])).is_meta_only(10).is_err());
        assert!(request(11, 0, None).is_meta_only(10).is_err());
    }
}
