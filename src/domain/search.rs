//! Search (spec 12.3.2.4, DESIGN §8): the checked parameters of a search and
//! the page it answers with.

use crate::domain::{self, Caller, Object, Status, limits};
use crate::error::ApiError;

/// What a search can sort on (spec 12.3.2.4.1 `sort`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortColumn {
    #[default]
    DataId,
    Size,
    Name,
    Type,
    CreatedTime,
    UpdatedTime,
    OwnerId,
}

impl SortColumn {
    const NAMES: [(SortColumn, &'static str); 7] = [
        (SortColumn::DataId, "data_id"),
        (SortColumn::Size, "size"),
        (SortColumn::Name, "name"),
        (SortColumn::Type, "type"),
        (SortColumn::CreatedTime, "created_time"),
        (SortColumn::UpdatedTime, "updated_time"),
        (SortColumn::OwnerId, "owner_id"),
    ];
}

/// A sort column and direction. data_id always breaks ties, in the same
/// direction, so pages of one search never overlap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Sort {
    pub column: SortColumn,
    pub descending: bool,
}

impl Sort {
    /// `updated_time` (ascending) or `-updated_time` (descending).
    pub fn parse(text: &str) -> Result<Self, ApiError> {
        let (descending, name) = match text.strip_prefix('-') {
            Some(name) => (true, name),
            None => (false, text),
        };
        let column = SortColumn::NAMES
            .iter()
            .find(|(_, n)| *n == name)
            .map(|(column, _)| *column)
            .ok_or_else(|| {
                ApiError::invalid(format!(
                    "unknown sort '{text}' (data_id, size, name, type, created_time, \
                     updated_time, owner_id; '-' in front for descending)"
                ))
            })?;
        Ok(Sort { column, descending })
    }
}

/// Whose objects a search returns (`owner_ids` with `owner_type`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Owners {
    /// Everyone's.
    #[default]
    Anybody,
    /// Only these owners' (`anybody` with `owner_ids`).
    Only(Vec<u32>),
    /// Everyone's but these owners' (`exclude_specified_ids`).
    AllBut(Vec<u32>),
}

/// Where the page starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Offset {
    At(u64),
    /// `offset=any`: a pseudo-random window of the matches.
    Any,
}

impl Default for Offset {
    fn default() -> Self {
        Offset::At(0)
    }
}

impl Offset {
    /// The position of the first match to return. For `any` it is drawn from
    /// `random` so that a whole page fits: 0..=total-limit.
    pub fn resolve(self, total: u64, limit: u32, random: u64) -> u64 {
        match self {
            Offset::At(offset) => offset,
            Offset::Any => {
                let last_start = total.saturating_sub(u64::from(limit));
                random % (last_start + 1)
            }
        }
    }
}

/// An inclusive range of UNIX seconds; either end may be open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TimeRange {
    pub after: Option<i64>,
    pub before: Option<i64>,
}

/// A checked search. The default is the search without parameters: every
/// visible object, by data_id, the first 20.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchRequest {
    pub data_type: Option<u16>,
    pub owners: Owners,
    /// Exact match.
    pub name: Option<String>,
    /// Decoded and sorted; an object must carry all of them.
    pub tags: Vec<Vec<u8>>,
    pub created: TimeRange,
    pub updated: TimeRange,
    pub sort: Sort,
    pub offset: Offset,
    pub limit: u32,
    /// Only a title token chooses; principals always see status none.
    pub status: Status,
    /// What the answer shows of each object (`response=`); a store may leave the rest out.
    pub shown: Shown,
}

/// The parts of an object that an answer shows beyond its own fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shown {
    pub tags: bool,
    pub ratings: bool,
}

impl Default for Shown {
    fn default() -> Self {
        Shown {
            tags: true,
            ratings: true,
        }
    }
}

impl Default for SearchRequest {
    fn default() -> Self {
        SearchRequest {
            data_type: None,
            owners: Owners::Anybody,
            name: None,
            tags: Vec::new(),
            created: TimeRange::default(),
            updated: TimeRange::default(),
            sort: Sort::default(),
            offset: Offset::default(),
            limit: limits::SEARCH_LIMIT_DEFAULT,
            status: Status::None,
            shown: Shown::default(),
        }
    }
}

/// The query string of a search: every parameter of spec 12.3.2.4.1 (and
/// `status` for title tokens) as sent, to be checked by [`SearchRequest::parse`].
#[derive(Debug, Default, serde::Deserialize)]
pub struct SearchParams {
    pub status: Option<String>,
    #[serde(rename = "type")]
    pub data_type: Option<String>,
    pub owner_ids: Option<String>,
    pub owner_type: Option<String>,
    pub name: Option<String>,
    pub tags: Option<String>,
    pub created_after: Option<String>,
    pub created_before: Option<String>,
    pub updated_after: Option<String>,
    pub updated_before: Option<String>,
    pub sort: Option<String>,
    pub offset: Option<String>,
    pub limit: Option<String>,
    /// `response=`: read by the codec, not here.
    pub response: Option<String>,
}

impl SearchRequest {
    /// Checks the parameters of spec 12.3.2.4.1. A parameter with an empty value
    /// counts as not given. `decode_tag` reads one tag's wire form.
    pub fn parse(
        params: &SearchParams,
        caller: &Caller,
        decode_tag: impl Fn(&str) -> Result<Vec<u8>, ApiError>,
    ) -> Result<Self, ApiError> {
        fn given(value: &Option<String>) -> Option<&str> {
            value.as_deref().map(str::trim).filter(|v| !v.is_empty())
        }

        let status = match given(&params.status) {
            None => Status::None,
            Some(_) if !caller.is_title() => {
                return Err(ApiError::permission_denied(
                    "only a title token may search by status",
                ));
            }
            Some(status) => Status::parse(status)?,
        };
        let data_type = given(&params.data_type)
            .map(|t| domain::parse_uint("type", t).and_then(domain::check_data_type))
            .transpose()?;
        let owner_ids = given(&params.owner_ids).map(owner_ids).transpose()?;
        let owners = match (given(&params.owner_type).unwrap_or("anybody"), owner_ids) {
            ("anybody" | "exclude_specified_ids", None) => Owners::Anybody,
            ("anybody", Some(ids)) => Owners::Only(ids),
            ("exclude_specified_ids", Some(ids)) => Owners::AllBut(ids),
            (other, _) => {
                return Err(ApiError::invalid(format!(
                    "unknown owner_type '{other}' (anybody, exclude_specified_ids)"
                )));
            }
        };
        let name = given(&params.name)
            .map(|name| domain::check_name(name).map(|()| name.to_owned()))
            .transpose()?;
        let tags = match given(&params.tags) {
            Some(list) => domain::check_tags(
                list.split(',')
                    .map(str::trim)
                    .filter(|t| !t.is_empty())
                    .map(&decode_tag)
                    .collect::<Result<_, _>>()?,
            )?,
            None => Vec::new(),
        };
        let time = |name: &str, value: &Option<String>| {
            given(value).map(|t| unix_seconds(name, t)).transpose()
        };
        let created = TimeRange {
            after: time("created_after", &params.created_after)?,
            before: time("created_before", &params.created_before)?,
        };
        let updated = TimeRange {
            after: time("updated_after", &params.updated_after)?,
            before: time("updated_before", &params.updated_before)?,
        };
        let sort = given(&params.sort)
            .map(Sort::parse)
            .transpose()?
            .unwrap_or_default();
        let offset = match given(&params.offset) {
            None => Offset::default(),
            Some("any") => Offset::Any,
            Some(n) => Offset::At(domain::parse_uint("offset", n)?),
        };
        let limit = limit(given(&params.limit), offset)?;
        Ok(SearchRequest {
            data_type,
            owners,
            name,
            tags,
            created,
            updated,
            sort,
            offset,
            limit,
            status,
            shown: Shown::default(),
        })
    }
}

/// `owner_ids=1,2,3`: at most 100 principal IDs, duplicates dropped.
fn owner_ids(list: &str) -> Result<Vec<u32>, ApiError> {
    let items: Vec<&str> = list
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    if items.len() > limits::SEARCH_OWNERS_MAX {
        return Err(ApiError::invalid(format!(
            "owner_ids: {} ids, at most {} are allowed",
            items.len(),
            limits::SEARCH_OWNERS_MAX
        )));
    }
    let mut ids = Vec::with_capacity(items.len());
    for item in items {
        let id = domain::check_principal(domain::parse_uint("owner_ids", item)?, "owner_ids")?;
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    Ok(ids)
}

/// A UNIX time in seconds (search ranges take UNIX seconds, DESIGN §4).
fn unix_seconds(name: &str, text: &str) -> Result<i64, ApiError> {
    let seconds = domain::parse_uint(name, text)?;
    i64::try_from(seconds).map_err(|_| ApiError::invalid(format!("{name} {text} is out of range")))
}

/// 1..=10000, default 20; at most 20 with `offset=any` (spec 12.3.2.4.1).
fn limit(text: Option<&str>, offset: Offset) -> Result<u32, ApiError> {
    let Some(text) = text else {
        return Ok(limits::SEARCH_LIMIT_DEFAULT);
    };
    let limit = domain::parse_uint("limit", text)?;
    let (max, with) = match offset {
        Offset::Any => (limits::SEARCH_ANY_LIMIT_MAX, " with offset=any"),
        Offset::At(_) => (limits::SEARCH_LIMIT_MAX, ""),
    };
    match u32::try_from(limit) {
        Ok(n) if (1..=max).contains(&n) => Ok(n),
        _ => Err(ApiError::invalid(format!(
            "limit {limit} is out of range 1..={max}{with}"
        ))),
    }
}

/// One page of a search: the objects, where the page starts among all matches
/// (the offset chosen, for `any`), and how many matches the caller may see.
#[derive(Debug, Clone)]
pub struct SearchPage {
    pub objects: Vec<Object>,
    pub offset: u64,
    pub total: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    fn parse_as(caller: &Caller, query: &str) -> Result<SearchRequest, ApiError> {
        let params: SearchParams = serde_urlencoded::from_str(query).unwrap();
        // The codec's URL-safe Base64, padded or not (DESIGN §4).
        let b64 = base64::engine::GeneralPurpose::new(
            &base64::alphabet::URL_SAFE,
            base64::engine::GeneralPurposeConfig::new()
                .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
        );
        SearchRequest::parse(&params, caller, |tag| {
            base64::Engine::decode(&b64, tag).map_err(|e| ApiError::invalid(e.to_string()))
        })
    }

    fn parse(query: &str) -> Result<SearchRequest, ApiError> {
        parse_as(&Caller::title("default"), query)
    }

    fn kind(query: &str) -> ErrorKind {
        parse(query).unwrap_err().kind
    }

    #[test]
    fn no_parameters_is_the_first_twenty_by_data_id() {
        assert_eq!(parse("").unwrap(), SearchRequest::default());
        assert_eq!(parse("type=&unknown=1").unwrap(), SearchRequest::default());
    }

    #[test]
    fn every_parameter_is_read() {
        let r = parse(
            "type=100&owner_ids=7,8,7&name=a+b&tags=dGFnMg,dGFnMQ==&created_after=10\
             &created_before=20&updated_after=30&updated_before=40&sort=-updated_time\
             &offset=40&limit=10000&status=pending",
        )
        .unwrap();
        assert_eq!(r.data_type, Some(100));
        assert_eq!(r.owners, Owners::Only(vec![7, 8]));
        assert_eq!(r.name.as_deref(), Some("a b"));
        assert_eq!(r.tags, vec![b"tag1".to_vec(), b"tag2".to_vec()]);
        assert_eq!((r.created.after, r.created.before), (Some(10), Some(20)));
        assert_eq!((r.updated.after, r.updated.before), (Some(30), Some(40)));
        assert_eq!(
            r.sort,
            Sort {
                column: SortColumn::UpdatedTime,
                descending: true
            }
        );
        assert_eq!((r.offset, r.limit), (Offset::At(40), 10000));
        assert_eq!(r.status, Status::Pending);
    }

    #[test]
    fn owner_type_chooses_between_only_and_all_but() {
        assert_eq!(
            parse("owner_ids=7&owner_type=exclude_specified_ids")
                .unwrap()
                .owners,
            Owners::AllBut(vec![7])
        );
        assert_eq!(
            parse("owner_type=exclude_specified_ids").unwrap().owners,
            Owners::Anybody
        );
        assert_eq!(
            kind("owner_ids=7&owner_type=friend"),
            ErrorKind::InvalidArgument
        );
        assert_eq!(kind("owner_ids=0"), ErrorKind::InvalidArgument);
        assert_eq!(kind("owner_ids=7,x"), ErrorKind::MalformedRequest);
        let many: Vec<String> = (1..=101).map(|i| i.to_string()).collect();
        assert_eq!(
            kind(&format!("owner_ids={}", many.join(","))),
            ErrorKind::InvalidArgument
        );
    }

    #[test]
    fn limits_depend_on_the_offset() {
        assert_eq!(parse("offset=any&limit=20").unwrap().limit, 20);
        assert_eq!(kind("offset=any&limit=21"), ErrorKind::InvalidArgument);
        assert_eq!(kind("limit=10001"), ErrorKind::InvalidArgument);
        assert_eq!(kind("limit=0"), ErrorKind::InvalidArgument);
        assert_eq!(kind("limit=-1"), ErrorKind::InvalidArgument);
        assert_eq!(kind("limit=ten"), ErrorKind::MalformedRequest);
        assert_eq!(kind("offset=some"), ErrorKind::MalformedRequest);
        assert_eq!(parse("offset=any").unwrap().limit, 20);
    }

    #[test]
    fn bad_values_are_refused_with_the_right_kind() {
        assert_eq!(kind("type=65535"), ErrorKind::InvalidArgument);
        assert_eq!(kind("type=x"), ErrorKind::MalformedRequest);
        assert_eq!(kind("sort=-"), ErrorKind::InvalidArgument);
        assert_eq!(kind("sort=referred_count"), ErrorKind::InvalidArgument);
        assert_eq!(kind("tags=%2B%2F8%3D"), ErrorKind::InvalidArgument);
        assert_eq!(kind("tags=dGFn,dGFn"), ErrorKind::InvalidArgument);
        assert_eq!(
            kind("created_after=99999999999999999999"),
            ErrorKind::InvalidArgument
        );
        assert_eq!(
            kind("updated_before=9223372036854775808"),
            ErrorKind::InvalidArgument
        );
        assert_eq!(
            kind("updated_before=yesterday"),
            ErrorKind::MalformedRequest
        );
        assert_eq!(
            kind(&format!("name={}", "n".repeat(65))),
            ErrorKind::InvalidArgument
        );
        assert_eq!(kind("status=hidden"), ErrorKind::InvalidArgument);
    }

    #[test]
    fn only_a_title_token_may_ask_for_a_status() {
        let principal = Caller::principal("default", 100);
        for query in ["status=none", "status=pending", "status=hidden"] {
            assert_eq!(
                parse_as(&principal, query).unwrap_err().kind,
                ErrorKind::PermissionDenied
            );
        }
        assert_eq!(parse_as(&principal, "type=1").unwrap().status, Status::None);
    }

    #[test]
    fn every_sort_name_is_known_in_both_directions() {
        for (column, name) in SortColumn::NAMES {
            assert_eq!(
                Sort::parse(name).unwrap(),
                Sort {
                    column,
                    descending: false
                }
            );
            let descending = Sort::parse(&format!("-{name}")).unwrap();
            assert_eq!(
                descending,
                Sort {
                    column,
                    descending: true
                }
            );
        }
    }

    #[test]
    fn the_any_offset_leaves_room_for_a_whole_page() {
        assert_eq!(Offset::Any.resolve(5, 20, 12345), 0);
        assert_eq!(Offset::Any.resolve(0, 20, 7), 0);
        for random in 0..100 {
            let offset = Offset::Any.resolve(30, 20, random);
            assert!(offset <= 10, "{offset}");
        }
        assert_eq!(Offset::Any.resolve(30, 20, 10), 10);
        assert_eq!(Offset::At(99).resolve(30, 20, 10), 99);
    }
}
