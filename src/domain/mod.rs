//! Rules of the DataStore, free of HTTP, SQL and XML: identifiers, callers,
//! permissions, limits and expiry math (DESIGN §2–§4).

pub mod caller;
pub mod friends;
pub mod ids;
pub mod notification;
pub mod object;
pub mod persistence;
pub mod prepare;
pub mod principal_data;
pub mod quota;
pub mod rating;
pub mod search;
pub mod time;
pub mod webhook;

pub use caller::Caller;
pub use ids::{DataId, PersistenceSlot, PrincipalId, RatingSlot, Version};
pub use object::{DataFlags, Object, Permission, PermissionType, Status};

use crate::error::ApiError;

/// Limits of DESIGN §4 and §9 (NEX values).
pub mod limits {
    pub const NAME_MAX_BYTES: usize = 64;
    pub const META_BINARY_MAX_BYTES: usize = 1024;
    pub const TAGS_MAX: usize = 16;
    pub const TAG_MAX_BYTES: usize = 24;
    pub const RECIPIENTS_MAX: usize = 100;
    pub const BATCH_MAX: usize = 100;
    pub const PERIOD_MIN: u16 = 1;
    pub const PERIOD_MAX: u16 = 365;
    pub const PERIOD_DEFAULT: u16 = 90;
    pub const DATA_TYPE_MAX: u16 = 65534;
    pub const RATING_SLOTS: u8 = 16;
    pub const PERSISTENCE_SLOTS: u16 = 16;
    /// Search page sizes (spec 12.3.2.4.1): default, maximum, maximum with `offset=any`.
    pub const SEARCH_LIMIT_DEFAULT: u32 = 20;
    pub const SEARCH_LIMIT_MAX: u32 = 10_000;
    pub const SEARCH_ANY_LIMIT_MAX: u32 = 20;
    /// `owner_ids` of one search, like the recipients of a permission.
    pub const SEARCH_OWNERS_MAX: usize = 100;
    /// The server's own account: owner of what a title token creates without `owner_id`.
    pub const SERVER_PRINCIPAL: u32 = 2;
}

/// Parses an unsigned integer named `what`. Not a number: Core::InvalidArgument
/// (a malformed request); a negative or too large number: DataStore::InvalidArgument.
pub fn parse_uint(what: &str, text: &str) -> Result<u64, ApiError> {
    let text = text.trim();
    text.parse::<u64>().map_err(|_| {
        if is_integer(text) {
            ApiError::invalid(format!("{what} {text} is out of range"))
        } else {
            ApiError::malformed(format!("{what} '{text}' is not an unsigned integer"))
        }
    })
}

/// Is `text` an integer in decimal (optionally negative), whatever its size?
pub fn is_integer(text: &str) -> bool {
    let digits = text.strip_prefix('-').unwrap_or(text);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

/// Parses a data_id from a path segment or a list item.
pub fn parse_data_id(text: &str) -> Result<u64, ApiError> {
    parse_uint("data_id", text)
}

/// Parses `data_ids=10,20,30`: 1..=100 ids, duplicates dropped, order kept.
pub fn parse_data_id_list(text: Option<&str>) -> Result<Vec<u64>, ApiError> {
    let text = text.ok_or_else(|| ApiError::invalid("data_ids is required"))?;
    let items: Vec<&str> = text
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    // The limit counts the items as sent, like the <param> lists of batch writes.
    check_batch_len(items.len(), "data_ids")?;
    let mut ids = Vec::with_capacity(items.len());
    for item in items {
        let id = parse_data_id(item)?;
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    Ok(ids)
}

/// Parses `slots=0,1,2` of the batch persistenceinfo: 1..=16 slots, duplicates
/// dropped, order kept.
pub fn parse_persistence_slots(text: Option<&str>) -> Result<Vec<u16>, ApiError> {
    let text = text.ok_or_else(|| ApiError::invalid("slots is required"))?;
    let items: Vec<&str> = text
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    if items.is_empty() || items.len() > usize::from(limits::PERSISTENCE_SLOTS) {
        return Err(ApiError::invalid(format!(
            "slots: {} items, 1 to 16 are allowed",
            items.len()
        )));
    }
    let mut slots = Vec::with_capacity(items.len());
    for item in items {
        let PersistenceSlot(slot) = item.parse()?;
        if !slots.contains(&slot) {
            slots.push(slot);
        }
    }
    Ok(slots)
}

/// A batch holds 1..=100 items (DESIGN §9).
pub fn check_batch_len(len: usize, what: &str) -> Result<(), ApiError> {
    if len == 0 {
        return Err(ApiError::invalid(format!(
            "{what}: at least one item is required"
        )));
    }
    if len > limits::BATCH_MAX {
        return Err(ApiError::invalid(format!(
            "{what}: {len} items, at most {} are allowed",
            limits::BATCH_MAX
        )));
    }
    Ok(())
}

/// Validates a name: at most 64 bytes of UTF-8.
pub fn check_name(name: &str) -> Result<(), ApiError> {
    if name.len() > limits::NAME_MAX_BYTES {
        return Err(ApiError::invalid(format!(
            "name is {} bytes, at most {} are allowed",
            name.len(),
            limits::NAME_MAX_BYTES
        )));
    }
    Ok(())
}

pub fn check_meta_binary(meta: &[u8]) -> Result<(), ApiError> {
    if meta.len() > limits::META_BINARY_MAX_BYTES {
        return Err(ApiError::invalid(format!(
            "meta_binary is {} bytes, at most {} are allowed",
            meta.len(),
            limits::META_BINARY_MAX_BYTES
        )));
    }
    Ok(())
}

/// Checks tags and returns them sorted: ≤ 16, each 1..=24 bytes, no duplicates (NEX).
pub fn check_tags(mut tags: Vec<Vec<u8>>) -> Result<Vec<Vec<u8>>, ApiError> {
    if tags.len() > limits::TAGS_MAX {
        return Err(ApiError::invalid(format!(
            "{} tags, at most {} are allowed",
            tags.len(),
            limits::TAGS_MAX
        )));
    }
    for tag in &tags {
        if tag.is_empty() || tag.len() > limits::TAG_MAX_BYTES {
            return Err(ApiError::invalid(format!(
                "a tag is {} bytes, each must be 1 to {} bytes",
                tag.len(),
                limits::TAG_MAX_BYTES
            )));
        }
    }
    tags.sort();
    if tags.windows(2).any(|w| w[0] == w[1]) {
        return Err(ApiError::invalid("duplicate tag"));
    }
    Ok(tags)
}

pub fn check_period(period: u64) -> Result<u16, ApiError> {
    match u16::try_from(period) {
        Ok(p) if (limits::PERIOD_MIN..=limits::PERIOD_MAX).contains(&p) => Ok(p),
        _ => Err(ApiError::invalid(format!(
            "period {period} is out of range {}..={} days",
            limits::PERIOD_MIN,
            limits::PERIOD_MAX
        ))),
    }
}

pub fn check_data_type(data_type: u64) -> Result<u16, ApiError> {
    match u16::try_from(data_type) {
        Ok(t) if t <= limits::DATA_TYPE_MAX => Ok(t),
        _ => Err(ApiError::invalid(format!(
            "type {data_type} is out of range 0..={}",
            limits::DATA_TYPE_MAX
        ))),
    }
}

/// A principal ID: 1..=u32::MAX.
pub fn check_principal(id: u64, what: &str) -> Result<u32, ApiError> {
    match u32::try_from(id) {
        Ok(p) if p != 0 => Ok(p),
        _ => Err(ApiError::invalid(format!(
            "{what} {id} is not a principal ID (1..=4294967295)"
        ))),
    }
}

/// A namespace name: 1..=128 of `[A-Za-z0-9._-]` (as GS2 names its namespaces).
pub fn check_namespace(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 128
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "namespace '{name}' must be 1 to 128 characters of A-Z a-z 0-9 . _ -"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    #[test]
    fn data_id_lists_drop_duplicates_and_keep_order() {
        assert_eq!(
            parse_data_id_list(Some("30,10,30,20")).unwrap(),
            vec![30, 10, 20]
        );
    }

    #[test]
    fn a_non_numeric_data_id_is_a_core_error() {
        let err = parse_data_id_list(Some("10,abc")).unwrap_err();
        assert_eq!(err.kind, ErrorKind::MalformedRequest);
    }

    #[test]
    fn numbers_out_of_range_are_datastore_errors() {
        assert_eq!(
            parse_data_id("-1").unwrap_err().kind,
            ErrorKind::InvalidArgument
        );
        assert_eq!(
            parse_data_id("99999999999999999999999").unwrap_err().kind,
            ErrorKind::InvalidArgument
        );
        assert_eq!(
            parse_data_id("1e6").unwrap_err().kind,
            ErrorKind::MalformedRequest
        );
        assert_eq!(parse_data_id(" 12 ").unwrap(), 12);
    }

    #[test]
    fn more_than_one_hundred_ids_are_refused() {
        let list: Vec<String> = (1..=101).map(|i| i.to_string()).collect();
        let err = parse_data_id_list(Some(&list.join(","))).unwrap_err();
        assert_eq!(err.kind, ErrorKind::InvalidArgument);
    }

    #[test]
    fn tags_come_back_sorted_and_duplicates_are_refused() {
        let tags = check_tags(vec![b"b".to_vec(), b"a".to_vec()]).unwrap();
        assert_eq!(tags, vec![b"a".to_vec(), b"b".to_vec()]);
        assert!(check_tags(vec![b"a".to_vec(), b"a".to_vec()]).is_err());
        assert!(check_tags(vec![vec![b'x'; 25]]).is_err());
        assert!(check_tags(vec![Vec::new()]).is_err());
    }

    #[test]
    fn period_and_type_limits() {
        assert!(check_period(0).is_err());
        assert_eq!(check_period(365).unwrap(), 365);
        assert!(check_period(366).is_err());
        assert_eq!(check_data_type(65534).unwrap(), 65534);
        assert!(check_data_type(65535).is_err());
    }
}
