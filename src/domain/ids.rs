//! Identifiers taken from paths and query strings, parsed once: a value of these
//! types is in range. A bad one is the same error everywhere: not a number is
//! Core::InvalidArgument, a number out of range DataStore::InvalidArgument.

use std::fmt;
use std::str::FromStr;

use crate::domain::{check_principal, limits, parse_uint};
use crate::error::ApiError;

/// A data_id (DESIGN §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DataId(pub u64);

/// A principal ID, 1..=u32::MAX.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PrincipalId(pub u32);

/// A rating slot of an object, 0..=15 (DESIGN §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RatingSlot(pub u8);

/// A persistence slot of a principal, 0..=15 (DESIGN §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PersistenceSlot(pub u16);

/// A file version of an object, from 1 (GS2 generations).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version(pub u32);

impl FromStr for DataId {
    type Err = ApiError;
    fn from_str(text: &str) -> Result<Self, ApiError> {
        parse_uint("data_id", text).map(DataId)
    }
}

impl FromStr for PrincipalId {
    type Err = ApiError;
    fn from_str(text: &str) -> Result<Self, ApiError> {
        check_principal(parse_uint("principal_id", text)?, "principal_id").map(PrincipalId)
    }
}

impl RatingSlot {
    /// A slot number from a path or a `<slot>`.
    pub fn new(value: u64) -> Result<Self, ApiError> {
        u8::try_from(value)
            .ok()
            .filter(|s| *s < limits::RATING_SLOTS)
            .map(RatingSlot)
            .ok_or_else(|| ApiError::invalid(format!("rating slot {value} is out of range 0..=15")))
    }
}

impl FromStr for RatingSlot {
    type Err = ApiError;
    fn from_str(text: &str) -> Result<Self, ApiError> {
        Self::new(parse_uint("rating slot", text)?)
    }
}

impl PersistenceSlot {
    /// A slot number from a path or a `<slot>`.
    pub fn new(value: u64) -> Result<Self, ApiError> {
        u16::try_from(value)
            .ok()
            .filter(|s| *s < limits::PERSISTENCE_SLOTS)
            .map(PersistenceSlot)
            .ok_or_else(|| {
                ApiError::invalid(format!("persistence slot {value} is out of range 0..=15"))
            })
    }
}

impl FromStr for PersistenceSlot {
    type Err = ApiError;
    fn from_str(text: &str) -> Result<Self, ApiError> {
        Self::new(parse_uint("slot", text)?)
    }
}

impl FromStr for Version {
    type Err = ApiError;
    fn from_str(text: &str) -> Result<Self, ApiError> {
        let n = parse_uint("version", text)?;
        u32::try_from(n)
            .ok()
            .filter(|v| *v >= 1)
            .map(Version)
            .ok_or_else(|| ApiError::invalid(format!("version {n} is out of range")))
    }
}

impl fmt::Display for DataId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Display for PrincipalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    #[test]
    fn ids_tell_a_non_number_from_a_number_out_of_range() {
        assert_eq!(" 12 ".parse::<DataId>().unwrap(), DataId(12));
        let kind = |r: Result<_, ApiError>| r.map(|_: ()| ()).unwrap_err().kind;
        assert_eq!(
            kind("ten".parse::<DataId>().map(drop)),
            ErrorKind::MalformedRequest
        );
        assert_eq!(
            kind("0".parse::<PrincipalId>().map(drop)),
            ErrorKind::InvalidArgument
        );
        assert_eq!(
            kind("16".parse::<RatingSlot>().map(drop)),
            ErrorKind::InvalidArgument
        );
        assert_eq!(
            "15".parse::<PersistenceSlot>().unwrap(),
            PersistenceSlot(15)
        );
        assert_eq!(
            kind("0".parse::<Version>().map(drop)),
            ErrorKind::InvalidArgument
        );
    }
}
