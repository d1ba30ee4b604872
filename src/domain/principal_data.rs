//! A principal's data as a whole, the GS2-Datastore operations NEX lacks: listing
//! one's own objects in every state (describeDataObjects), the export
//! (dumpUserDataByUserId) and the erase (cleanUserDataByUserId).

use crate::domain::persistence::PersistenceInfo;
use crate::domain::rating::flags;
use crate::domain::{Caller, Object};
use crate::error::ApiError;

/// Page size of a listing when `limit` is not given (GS2).
pub const LIST_LIMIT_DEFAULT: usize = 30;
/// Largest page of a listing (GS2: 1..=1000).
pub const LIST_LIMIT_MAX: usize = 1000;
/// Longest page token accepted (GS2's pageToken limit).
pub const PAGE_TOKEN_MAX_CHARS: usize = 1024;

/// The `status` filter of a listing. The five filters other than `All` split the
/// objects a listing can show into disjoint parts: `Uploading` and `Deleted` are
/// lifecycle states (whatever their review status), `None`, `Pending` and
/// `Rejected` are finished, unexpired objects with that review status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listed {
    All,
    Uploading,
    None,
    Pending,
    Rejected,
    Deleted,
}

impl Listed {
    /// Parses `status=`; absent or empty is `all`.
    pub fn parse(text: Option<&str>) -> Result<Self, ApiError> {
        Ok(match text.map(str::trim).unwrap_or("") {
            "" | "all" => Listed::All,
            "uploading" => Listed::Uploading,
            "none" => Listed::None,
            "pending" => Listed::Pending,
            "rejected" => Listed::Rejected,
            "deleted" => Listed::Deleted,
            other => {
                return Err(ApiError::invalid(format!(
                    "unknown status '{other}' (all, uploading, none, pending, rejected, deleted)"
                )));
            }
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Listed::All => "all",
            Listed::Uploading => "uploading",
            Listed::None => "none",
            Listed::Pending => "pending",
            Listed::Rejected => "rejected",
            Listed::Deleted => "deleted",
        }
    }
}

/// Where an object's file sits in an export archive.
pub fn export_file_path(data_id: u64) -> String {
    format!("files/{data_id}")
}

/// Whose data a listing shows: a principal token its own (naming another
/// `owner_id` is PermissionDenied), a title token the `owner_id` it must give.
pub fn listed_owner(caller: &Caller, named: Option<u32>) -> Result<u32, ApiError> {
    match (caller.principal, named) {
        (Some(me), Some(owner)) if owner != me => Err(ApiError::permission_denied(format!(
            "principal {me} may not list the data of principal {owner}"
        ))),
        (Some(me), _) => Ok(me),
        (None, Some(owner)) => Ok(owner),
        (None, None) => Err(ApiError::invalid("owner_id is required with a title token")),
    }
}

/// Parses `limit=`: 1..=1000, default 30.
pub fn list_limit(text: Option<&str>) -> Result<usize, ApiError> {
    let Some(text) = text.filter(|t| !t.trim().is_empty()) else {
        return Ok(LIST_LIMIT_DEFAULT);
    };
    let limit = crate::domain::parse_uint("limit", text)?;
    match usize::try_from(limit) {
        Ok(n) if (1..=LIST_LIMIT_MAX).contains(&n) => Ok(n),
        _ => Err(ApiError::invalid(format!(
            "limit {limit} is out of range 1..={LIST_LIMIT_MAX}"
        ))),
    }
}

/// Which objects a listing still shows, as the rest of the API sees them: uploads
/// that can still be completed, unexpired finished objects, deletions within retention.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListWindow {
    pub now: i64,
    /// Uploads created at or before this are gone (DESIGN §5: 3 hours).
    pub uploads_after: i64,
    /// Deletions before this are past retention and about to be purged.
    pub deleted_since: i64,
}

/// One page of a listing.
#[derive(Debug, Clone)]
pub struct OwnedPage {
    pub objects: Vec<Object>,
    /// Whether objects follow the last one.
    pub more: bool,
}

/// An object as the export shows it: everything the row holds.
#[derive(Debug, Clone)]
pub struct OwnedObject {
    pub object: Object,
    /// When it was deleted, for objects in the deleted state.
    pub deleted_time: Option<i64>,
}

/// A rating the principal gave in a `modifiable` slot, the only ones stored per rater.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GivenRating {
    pub data_id: u64,
    pub slot: u8,
    pub value: i64,
    pub rated_time: i64,
}

/// A duplicate-rating lock held by the principal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RatingLock {
    pub data_id: u64,
    pub slot: u8,
    pub locked_until: i64,
}

/// Everything nexds keeps about a principal in one namespace, read in one snapshot.
#[derive(Debug, Clone, Default)]
pub struct PrincipalData {
    /// Owned objects in every state but purged, by data_id.
    pub objects: Vec<OwnedObject>,
    pub slots: Vec<PersistenceInfo>,
    pub ratings_given: Vec<GivenRating>,
    pub rating_locks: Vec<RatingLock>,
}

/// What an erase removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Erased {
    /// Owned objects, in every state.
    pub objects: usize,
    /// Stored files of those objects that existed and were deleted.
    pub files: usize,
    /// Ratings given in `modifiable` slots, taken back from the totals.
    pub ratings: usize,
    /// Persistence slots emptied.
    pub persistence: usize,
}

/// A slot's total and count once a rating of `value` is taken back (erase). The
/// inverse of [`crate::domain::rating::StoredRating::rate`] as far as one exists:
/// `round_minus` applies again, so a total it once clamped at 0 cannot be restored exactly.
pub fn withdraw_rating(total: i64, count: u64, slot_flags: u32, value: i64) -> (i64, u64) {
    let mut total = total.saturating_sub(value);
    if slot_flags & flags::ROUND_MINUS != 0 && total < 0 {
        total = 0;
    }
    (total, count.saturating_sub(1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    #[test]
    fn status_filters_parse_and_unknown_ones_are_refused() {
        assert_eq!(Listed::parse(None).unwrap(), Listed::All);
        assert_eq!(Listed::parse(Some("")).unwrap(), Listed::All);
        assert_eq!(Listed::parse(Some("deleted")).unwrap(), Listed::Deleted);
        assert_eq!(
            Listed::parse(Some("ACTIVE")).unwrap_err().kind,
            ErrorKind::InvalidArgument
        );
    }

    #[test]
    fn limits_are_one_to_a_thousand_default_thirty() {
        assert_eq!(list_limit(None).unwrap(), 30);
        assert_eq!(list_limit(Some("1000")).unwrap(), 1000);
        assert_eq!(
            list_limit(Some("0")).unwrap_err().kind,
            ErrorKind::InvalidArgument
        );
        assert_eq!(
            list_limit(Some("1001")).unwrap_err().kind,
            ErrorKind::InvalidArgument
        );
        assert_eq!(
            list_limit(Some("ten")).unwrap_err().kind,
            ErrorKind::MalformedRequest
        );
    }

    #[test]
    fn withdrawing_a_rating_undoes_it() {
        assert_eq!(withdraw_rating(15, 2, 0, 5), (10, 1));
        assert_eq!(withdraw_rating(3, 1, 0, 5), (-2, 0));
        assert_eq!(withdraw_rating(3, 1, flags::ROUND_MINUS, 5), (0, 0));
        assert_eq!(withdraw_rating(3, 0, 0, -4), (7, 0));
    }
}
