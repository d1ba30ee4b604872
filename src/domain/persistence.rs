//! Persistence slots (DESIGN §7): what a slot holds, as the API shows it, and
//! who may put what in it.

use crate::domain::friends::FriendLists;
use crate::domain::{Caller, Object};
use crate::error::{ApiError, ErrorKind};

/// A principal's persistence slot and the object it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PersistenceInfo {
    pub principal_id: u32,
    pub slot: u16,
    pub data_id: u64,
}

/// A title token acts for any principal; a principal token only for itself.
pub fn check_acts_for(caller: &Caller, principal: u32) -> Result<(), ApiError> {
    match caller.principal {
        Some(me) if me != principal => Err(ApiError::permission_denied(format!(
            "principal {me} may not manage the persistence slots of principal {principal}"
        ))),
        _ => Ok(()),
    }
}

/// `object` may go in a slot of `principal`: the caller may read it and the
/// principal owns it.
pub fn check_perpetuate(
    object: &Object,
    caller: &Caller,
    friends: &dyn FriendLists,
    principal: u32,
    now: i64,
) -> Result<(), ApiError> {
    object.check_read(caller, friends, now)?;
    if object.owner_id != principal {
        return Err(ApiError::not_allowed(format!(
            "data_id {} is owned by {}, not by principal {principal}",
            object.data_id, object.owner_id
        )));
    }
    Ok(())
}

/// The error of an empty slot.
pub fn empty_slot(principal: u32, slot: u16) -> ApiError {
    ApiError::new(
        ErrorKind::NotFound,
        format!("persistence slot {slot} of principal {principal} is empty"),
    )
}
