//! Request roots of the spec (`<prepare>`, `<change>`, `<delete>`) read into
//! checked domain values. Unknown child elements are ignored (DESIGN §10).

use std::marker::PhantomData;

use crate::domain::friends;
use crate::domain::object::Change;
use crate::domain::prepare::{PersistenceInit, PrepareRequest};
use crate::domain::rating::{self, LockType, RateParam, RatingInit};
use crate::domain::{
    self, DataFlags, Permission, PermissionType, PersistenceSlot, RatingSlot, Status, limits,
};
use crate::error::ApiError;
use crate::xml::read::{Element, missing_document, parse_optional_document};

/// A request document of one root element, read into checked values.
pub trait FromXml: Sized {
    /// The root element the document must have.
    const ROOT: &'static str;

    fn from_xml(doc: &Element) -> Result<Self, ApiError>;

    /// The value of an empty body, for endpoints whose body is optional; `None`
    /// when the document is required.
    fn from_empty() -> Option<Self> {
        None
    }
}

/// Reads a request body into `T`: a document whose root is `T::ROOT`, or the
/// empty body where `T` allows one.
pub fn parse_request<T: FromXml>(body: &[u8]) -> Result<T, ApiError> {
    match parse_optional_document(body, T::ROOT)? {
        Some(doc) => T::from_xml(&doc),
        None => T::from_empty().ok_or_else(|| missing_document(T::ROOT)),
    }
}

/// `<change>` (spec 12.3.2.2.1): the fields to change and, in the batch form,
/// the `<param><data_id>` list.
pub struct ChangeRequest {
    pub change: Change,
    pub ids: Vec<u64>,
}

impl FromXml for ChangeRequest {
    const ROOT: &'static str = "change";
    fn from_xml(doc: &Element) -> Result<Self, ApiError> {
        let change = Change {
            name: doc.one("name")?.map(name).transpose()?,
            period: doc
                .one("period")?
                .map(|e| domain::check_period(e.uint()?))
                .transpose()?,
            status: doc
                .one("status")?
                .map(|e| Status::parse(e.text()))
                .transpose()?,
            referred_count: doc.one("referred_count")?.map(Element::uint).transpose()?,
            access: doc.one("access_permission")?.map(permission).transpose()?,
            update: doc.one("update_permission")?.map(permission).transpose()?,
            tags: doc.one("tags")?.map(tags).transpose()?,
            meta_binary: doc.one("meta_binary")?.map(meta_binary).transpose()?,
            modify_update_time: doc
                .one("modify_update_time")?
                .map(Element::flag)
                .transpose()?
                .unwrap_or(false),
        };
        Ok(ChangeRequest {
            change,
            ids: param_data_ids(doc)?,
        })
    }
}

/// A batch of `<param><data_id>…` under the root `R` names.
pub struct ParamIds<R> {
    pub ids: Vec<u64>,
    root: PhantomData<R>,
}

/// The root element of a [`ParamIds`] document.
pub trait Root {
    const NAME: &'static str;
}

/// `<delete>` (spec 12.3.2.3.1).
pub struct Delete;
/// `<reset>` (spec 12.3.2.8.2.1).
pub struct Reset;

impl Root for Delete {
    const NAME: &'static str = "delete";
}

impl Root for Reset {
    const NAME: &'static str = "reset";
}

pub type DeleteRequest = ParamIds<Delete>;
pub type ResetRequest = ParamIds<Reset>;

impl<R: Root> FromXml for ParamIds<R> {
    const ROOT: &'static str = R::NAME;
    fn from_xml(doc: &Element) -> Result<Self, ApiError> {
        Ok(ParamIds {
            ids: param_data_ids(doc)?,
            root: PhantomData,
        })
    }
}

/// `<rate><rating_value>` of the single form (spec 12.3.2.8.1.1).
pub struct RateRequest {
    pub value: i64,
}

impl FromXml for RateRequest {
    const ROOT: &'static str = "rate";
    fn from_xml(doc: &Element) -> Result<Self, ApiError> {
        let value = doc.required("rating_value")?;
        Ok(RateRequest {
            value: rating_value(value)?,
        })
    }
}

/// `<rate><param>…` of the batch form.
pub struct RateBatchRequest {
    pub params: Vec<RateParam>,
}

impl FromXml for RateBatchRequest {
    const ROOT: &'static str = "rate";
    fn from_xml(doc: &Element) -> Result<Self, ApiError> {
        let params: Vec<&Element> = doc.children("param").collect();
        domain::check_batch_len(params.len(), "<param>")?;
        let params = params
            .into_iter()
            .enumerate()
            .map(|(i, param)| {
                let field = |name: &str| {
                    param.one(name)?.ok_or_else(|| {
                        ApiError::invalid(format!("<param> {} has no <{name}>", i + 1))
                    })
                };
                Ok(RateParam {
                    data_id: field("data_id")?.uint()?,
                    slot: RatingSlot::new(field("slot")?.uint()?)?.0,
                    value: rating_value(field("rating_value")?)?,
                })
            })
            .collect::<Result<_, ApiError>>()?;
        Ok(RateBatchRequest { params })
    }
}

/// `<perpetuate>` (spec 12.3.2.9.2.1).
pub struct PerpetuateRequest {
    pub data_id: u64,
    pub delete_last_object: bool,
}

impl FromXml for PerpetuateRequest {
    const ROOT: &'static str = "perpetuate";
    fn from_xml(doc: &Element) -> Result<Self, ApiError> {
        let id = doc.required("data_id")?.uint()?;
        let delete_last_object = doc
            .one("delete_last_object")?
            .map(Element::flag)
            .transpose()?;
        Ok(PerpetuateRequest {
            data_id: id,
            // The default is 1 (spec 12.3.2.9.2.1).
            delete_last_object: delete_last_object.unwrap_or(true),
        })
    }
}

/// `<unperpetuate>`, optional (spec 12.3.2.9.3.1).
pub struct UnperpetuateRequest {
    pub delete_last_object: bool,
}

impl FromXml for UnperpetuateRequest {
    const ROOT: &'static str = "unperpetuate";
    fn from_xml(doc: &Element) -> Result<Self, ApiError> {
        let delete_last_object = doc.one("delete_last_object")?.map(Element::flag);
        Ok(UnperpetuateRequest {
            // The default is 0 (spec 12.3.2.9.3.1).
            delete_last_object: delete_last_object.transpose()?.unwrap_or(false),
        })
    }
    fn from_empty() -> Option<Self> {
        Some(UnperpetuateRequest {
            delete_last_object: false,
        })
    }
}

/// `<friends><principal_id>…` (DESIGN §14): a whole friend list; `<friends/>` is empty.
pub struct FriendsRequest {
    /// Sorted, without duplicates.
    pub friends: Vec<u32>,
}

impl FromXml for FriendsRequest {
    const ROOT: &'static str = "friends";
    fn from_xml(doc: &Element) -> Result<Self, ApiError> {
        let items: Vec<&Element> = doc.children("principal_id").collect();
        if items.len() > friends::FRIENDS_MAX {
            return Err(ApiError::invalid(format!(
                "{} <principal_id> elements, a friend list holds at most {}",
                items.len(),
                friends::FRIENDS_MAX
            )));
        }
        let ids = items
            .into_iter()
            .map(|e| domain::check_principal(e.uint()?, "principal_id"))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(FriendsRequest {
            friends: friends::check_friend_list(ids)?,
        })
    }
}

/// `<complete><owner_id>`, optional (spec 12.3.2.5.3.1).
pub struct CompleteRequest {
    pub owner_id: Option<u32>,
}

impl FromXml for CompleteRequest {
    const ROOT: &'static str = "complete";
    fn from_xml(doc: &Element) -> Result<Self, ApiError> {
        let owner_id = doc
            .one("owner_id")?
            .map(|e| domain::check_principal(e.uint()?, "owner_id"))
            .transpose()?;
        Ok(CompleteRequest { owner_id })
    }
    fn from_empty() -> Option<Self> {
        Some(CompleteRequest { owner_id: None })
    }
}

/// `<prepare><size>` of a new file version (nexds's own; GS2 generations).
pub struct VersionPrepareRequest {
    pub size: u64,
}

impl FromXml for VersionPrepareRequest {
    const ROOT: &'static str = "prepare";
    fn from_xml(doc: &Element) -> Result<Self, ApiError> {
        let size = doc.required("size")?.uint()?;
        Ok(VersionPrepareRequest { size })
    }
}

impl FromXml for PrepareRequest {
    const ROOT: &'static str = "prepare";
    fn from_xml(doc: &Element) -> Result<Self, ApiError> {
        let size = doc.required("size")?.uint()?;
        let owner_id = doc
            .one("owner_id")?
            .map(|e| {
                e.uint()
                    .and_then(|id| domain::check_principal(id, "owner_id"))
            })
            .transpose()?;
        let name = doc.one("name")?.map(name).transpose()?;
        let data_type = match doc.one("type")? {
            Some(e) => domain::check_data_type(e.uint()?)?,
            None => 0,
        };
        let meta_binary = doc.one("meta_binary")?.map(meta_binary).transpose()?;
        let mut flags = DataFlags::default();
        if let Some(list) = doc.one("flags")? {
            for flag in list.children("flag") {
                flags.insert_name(flag.text())?;
            }
        }
        let period = match doc.one("period")? {
            Some(e) => domain::check_period(e.uint()?)?,
            None => limits::PERIOD_DEFAULT,
        };
        let refer_data_id = doc
            .one("refer_data_id")?
            .map(Element::uint)
            .transpose()?
            .unwrap_or(0);
        let access = doc
            .one("access_permission")?
            .map(permission)
            .transpose()?
            .unwrap_or_else(Permission::private);
        let update = doc
            .one("update_permission")?
            .map(permission)
            .transpose()?
            .unwrap_or_else(Permission::private);
        let tags = doc.one("tags")?.map(tags).transpose()?.unwrap_or_default();
        let ratings = match doc.one("rating_init_params")? {
            Some(list) => list
                .children("param")
                .map(rating_init)
                .collect::<Result<Vec<_>, _>>()?,
            None => Vec::new(),
        };
        RatingInit::validate_all(&ratings)?;
        let persistence = doc
            .one("persistence_init_param")?
            .map(persistence_init)
            .transpose()?;
        Ok(PrepareRequest {
            size,
            owner_id,
            name: name.unwrap_or_default(),
            data_type,
            meta_binary,
            flags,
            period,
            refer_data_id,
            access,
            update,
            tags,
            ratings,
            persistence,
        })
    }
}

/// The `<param><data_id>` list of a batch request, duplicates dropped. Empty
/// when the document has no `<param>`; the caller decides whether that is allowed.
pub fn param_data_ids(doc: &Element) -> Result<Vec<u64>, ApiError> {
    let mut ids = Vec::new();
    for (i, param) in doc.children("param").enumerate() {
        let id = param
            .one("data_id")?
            .ok_or_else(|| ApiError::invalid(format!("<param> {} has no <data_id>", i + 1)))?
            .uint()?;
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    if doc.children("param").count() > limits::BATCH_MAX {
        return Err(ApiError::invalid(format!(
            "{} <param> elements, at most {} are allowed",
            doc.children("param").count(),
            limits::BATCH_MAX
        )));
    }
    Ok(ids)
}

/// `<name>`: at most 64 bytes (DESIGN §4), as change and prepare take it.
fn name(e: &Element) -> Result<String, ApiError> {
    domain::check_name(e.text())?;
    Ok(e.text().to_owned())
}

fn meta_binary(e: &Element) -> Result<Vec<u8>, ApiError> {
    let bytes = e.base64()?;
    domain::check_meta_binary(&bytes)?;
    Ok(bytes)
}

fn tags(e: &Element) -> Result<Vec<Vec<u8>>, ApiError> {
    let tags = e
        .children("tag")
        .map(Element::base64)
        .collect::<Result<Vec<_>, _>>()?;
    domain::check_tags(tags)
}

fn permission(e: &Element) -> Result<Permission, ApiError> {
    let kind = e
        .one("type")?
        .ok_or_else(|| ApiError::invalid(format!("<{}> needs a <type>", e.name)))?;
    let kind = PermissionType::parse(kind.text())?;
    let mut recipients = Vec::new();
    if let Some(list) = e.one("recipient_ids")? {
        for r in list.children("recipient_id") {
            recipients.push(domain::check_principal(r.uint()?, "recipient_id")?);
        }
    }
    recipients.sort_unstable();
    recipients.dedup();
    if recipients.len() > limits::RECIPIENTS_MAX {
        return Err(ApiError::invalid(format!(
            "<{}> has {} recipients, at most {} are allowed",
            e.name,
            recipients.len(),
            limits::RECIPIENTS_MAX
        )));
    }
    Ok(Permission { kind, recipients })
}

fn rating_init(param: &Element) -> Result<RatingInit, ApiError> {
    let slot = param
        .one("slot")?
        .ok_or_else(|| ApiError::invalid("rating_init_params <param> needs a <slot>"))?
        .uint()?;
    let slot = RatingSlot::new(slot)?.0;
    let mut flags = 0;
    if let Some(list) = param.one("flags")? {
        for flag in list.children("flag") {
            flags |= rating::flags::parse(flag.text()).ok_or_else(|| {
                ApiError::invalid(format!("unknown rating flag '{}'", flag.text()))
            })?;
        }
    }
    let lock = param.one("lock")?;
    let lock_type = match lock.map(|l| l.one("type")).transpose()?.flatten() {
        Some(t) => LockType::parse(t.text())?,
        None => LockType::None,
    };
    let lock_int = |name: &str| -> Result<i32, ApiError> {
        lock.map(|l| l.one(name))
            .transpose()?
            .flatten()
            .map(Element::int32)
            .transpose()
            .map(Option::unwrap_or_default)
    };
    Ok(RatingInit {
        slot,
        flags,
        initial_value: param
            .one("initial_value")?
            .map(Element::int)
            .transpose()?
            .unwrap_or(0),
        range_min: param.one("range_min")?.map(Element::int32).transpose()?,
        range_max: param.one("range_max")?.map(Element::int32).transpose()?,
        lock: lock_type,
        period_hour: lock_int("period_hour")?,
        period_duration: lock_int("period_duration")?,
    })
}

fn persistence_init(e: &Element) -> Result<PersistenceInit, ApiError> {
    let slot = e
        .one("slot")?
        .ok_or_else(|| ApiError::invalid("<persistence_init_param> needs a <slot>"))?
        .uint()?;
    let slot = PersistenceSlot::new(slot)?.0;
    // DataStore clients default delete_last_object to true (NEX).
    let delete_last_object = e
        .one("delete_last_object")?
        .map(Element::flag)
        .transpose()?
        .unwrap_or(true);
    Ok(PersistenceInit {
        slot,
        delete_last_object,
    })
}

fn rating_value(e: &Element) -> Result<i64, ApiError> {
    Ok(i64::from(e.int32()?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::rating::RateParam;
    use crate::error::ErrorKind;
    use crate::xml::read::parse_document;

    fn prepare(xml: &str) -> Result<PrepareRequest, ApiError> {
        PrepareRequest::from_xml(&parse_document(xml.as_bytes(), "prepare")?)
    }

    #[test]
    fn the_spec_prepare_example_reads_with_defaults() {
        let p = prepare("<prepare>\n  <size>100</size>\n</prepare>").unwrap();
        assert_eq!(p.size, 100);
        assert_eq!(p.period, 90);
        assert_eq!(p.data_type, 0);
        assert_eq!(p.access, Permission::private());
        assert!(p.tags.is_empty() && p.ratings.is_empty() && p.persistence.is_none());
    }

    #[test]
    fn a_full_prepare_reads_every_element() {
        let p = prepare(
            "<prepare><size>0</size><owner_id>100</owner_id><type>7</type>\
             <meta_binary>AAE</meta_binary><flags><flag>not_use_storageserver</flag>\
             <flag>need_review</flag></flags><period>30</period><refer_data_id>5</refer_data_id>\
             <access_permission><type>specified</type><recipient_ids><recipient_id>9</recipient_id>\
             <recipient_id>8</recipient_id></recipient_ids></access_permission>\
             <tags><tag>Yg==</tag><tag>YQ</tag></tags>\
             <rating_init_params><param><slot>1</slot><flags><flag>modifiable</flag></flags>\
             <initial_value>-5</initial_value><range_min>-10</range_min><range_max>10</range_max>\
             <lock><type>period</type><period_hour>3</period_hour><period_duration>-17</period_duration>\
             </lock></param></rating_init_params>\
             <persistence_init_param><slot>2</slot><delete_last_object>0</delete_last_object>\
             </persistence_init_param></prepare>",
        )
        .unwrap();
        assert_eq!(p.owner_id, Some(100));
        assert_eq!(p.meta_binary, Some(vec![0, 1]));
        assert!(p.flags.contains(DataFlags::NEED_REVIEW));
        assert_eq!(p.access.recipients, vec![8, 9]);
        assert_eq!(p.tags, vec![b"a".to_vec(), b"b".to_vec()]);
        assert_eq!(p.ratings[0].lock, LockType::Period);
        assert_eq!(p.ratings[0].period_duration, -17);
        assert_eq!(
            p.persistence,
            Some(PersistenceInit {
                slot: 2,
                delete_last_object: false
            })
        );
    }

    #[test]
    fn prepare_limits_are_invalid_arguments() {
        for xml in [
            "<prepare/>",
            "<prepare><size>0</size><type>65535</type></prepare>",
            "<prepare><size>0</size><period>0</period></prepare>",
            "<prepare><size>0</size><flags><flag>bogus</flag></flags></prepare>",
            "<prepare><size>0</size><access_permission><type>all</type></access_permission></prepare>",
            "<prepare><size>0</size><access_permission/></prepare>",
            "<prepare><size>0</size><owner_id>0</owner_id></prepare>",
            "<prepare><size>0</size><persistence_init_param><slot>16</slot></persistence_init_param></prepare>",
        ] {
            assert_eq!(
                prepare(xml).unwrap_err().kind,
                ErrorKind::InvalidArgument,
                "{xml}"
            );
        }
        let long = format!(
            "<prepare><size>0</size><meta_binary>{}</meta_binary></prepare>",
            "A".repeat(1368)
        );
        assert_eq!(prepare(&long).unwrap_err().kind, ErrorKind::InvalidArgument);
    }

    #[test]
    fn the_spec_batch_change_example_reads() {
        let doc = parse_document(
            b"<change><name>new name</name><update_permission><type>specified</type>\
              <recipient_ids><recipient_id>100</recipient_id></recipient_ids></update_permission>\
              <param><data_id>10</data_id></param><param><data_id>20</data_id></param></change>",
            "change",
        )
        .unwrap();
        let ChangeRequest { change, ids } = ChangeRequest::from_xml(&doc).unwrap();
        assert_eq!(ids, vec![10, 20]);
        assert_eq!(change.name.as_deref(), Some("new name"));
        assert_eq!(change.update.unwrap().recipients, vec![100]);
        assert!(change.access.is_none() && change.tags.is_none());
    }

    #[test]
    fn the_spec_batch_rate_example_reads() {
        let doc = parse_document(
            b"<rate><param><data_id>10</data_id><slot>0</slot><rating_value>100</rating_value></param>\
              <param><data_id>20</data_id><slot>1</slot><rating_value>-210</rating_value></param></rate>",
            "rate",
        )
        .unwrap();
        let params = RateBatchRequest::from_xml(&doc).unwrap().params;
        assert_eq!(
            params[1],
            RateParam {
                data_id: 20,
                slot: 1,
                value: -210
            }
        );
        let bad = parse_document(b"<rate><param><data_id>1</data_id><slot>16</slot><rating_value>1</rating_value></param></rate>", "rate").unwrap();
        assert_eq!(
            RateBatchRequest::from_xml(&bad).err().unwrap().kind,
            ErrorKind::InvalidArgument
        );
        let big = parse_document(
            b"<rate><rating_value>2147483648</rating_value></rate>",
            "rate",
        )
        .unwrap();
        assert_eq!(
            RateRequest::from_xml(&big).err().unwrap().kind,
            ErrorKind::InvalidArgument
        );
    }

    #[test]
    fn persistence_bodies_have_their_defaults() {
        let doc = parse_document(
            b"<perpetuate><data_id>10</data_id></perpetuate>",
            "perpetuate",
        )
        .unwrap();
        let perpetuate = PerpetuateRequest::from_xml(&doc).unwrap();
        assert_eq!(
            (perpetuate.data_id, perpetuate.delete_last_object),
            (10, true)
        );
        assert!(
            !parse_request::<UnperpetuateRequest>(b"")
                .unwrap()
                .delete_last_object
        );
        let doc = parse_document(
            b"<unperpetuate><delete_last_object>1</delete_last_object></unperpetuate>",
            "unperpetuate",
        )
        .unwrap();
        assert!(
            UnperpetuateRequest::from_xml(&doc)
                .unwrap()
                .delete_last_object
        );
    }

    #[test]
    fn a_param_without_data_id_is_refused() {
        let doc = parse_document(b"<delete><param/></delete>", "delete").unwrap();
        assert_eq!(
            param_data_ids(&doc).unwrap_err().kind,
            ErrorKind::InvalidArgument
        );
    }
}

/// Client bytes never panic the parsers: every prefix and many byte corruptions of
/// the spec's example bodies parse to a value or an error.
#[cfg(test)]
mod garbage {
    use super::*;
    use crate::xml::read::{parse_document, parse_optional_document};

    const EXAMPLES: [(&str, &str); 6] = [
        (
            "prepare",
            "<prepare><size>0</size><owner_id>100</owner_id><type>7</type><meta_binary>AAE</meta_binary><flags><flag>not_use_storageserver</flag></flags><period>30</period><access_permission><type>specified</type><recipient_ids><recipient_id>9</recipient_id></recipient_ids></access_permission><tags><tag>YQ</tag></tags><rating_init_params><param><slot>1</slot><flags><flag>modifiable</flag></flags><initial_value>-5</initial_value><range_min>-10</range_min><range_max>10</range_max><lock><type>period</type><period_hour>3</period_hour><period_duration>-17</period_duration></lock></param></rating_init_params><persistence_init_param><slot>2</slot><delete_last_object>0</delete_last_object></persistence_init_param></prepare>",
        ),
        (
            "change",
            "<change><name>new name</name><update_permission><type>specified</type><recipient_ids><recipient_id>100</recipient_id></recipient_ids></update_permission><tags><tag>dGFn</tag></tags><param><data_id>10</data_id></param><param><data_id>20</data_id></param></change>",
        ),
        (
            "delete",
            "<delete><param><data_id>10</data_id></param><param><data_id>20</data_id></param></delete>",
        ),
        (
            "rate",
            "<rate><param><data_id>10</data_id><slot>0</slot><rating_value>100</rating_value></param></rate>",
        ),
        (
            "perpetuate",
            "<perpetuate><data_id>10</data_id><delete_last_object>1</delete_last_object></perpetuate>",
        ),
        (
            "unperpetuate",
            "<unperpetuate><delete_last_object>1</delete_last_object></unperpetuate>",
        ),
    ];

    fn exercise(root: &str, body: &[u8]) {
        if let Ok(doc) = parse_document(body, root) {
            let _ = match root {
                "prepare" => PrepareRequest::from_xml(&doc).map(|_| ()),
                "change" => ChangeRequest::from_xml(&doc).map(|_| ()),
                "delete" => param_data_ids(&doc).map(|_| ()),
                "rate" => RateBatchRequest::from_xml(&doc).map(|_| ()),
                "perpetuate" => PerpetuateRequest::from_xml(&doc).map(|_| ()),
                _ => UnperpetuateRequest::from_xml(&doc).map(|_| ()),
            };
        }
        let _ = parse_optional_document(body, root);
    }

    #[test]
    fn truncated_and_corrupted_bodies_never_panic() {
        let replacements = [
            b'<', b'>', b'/', b'&', b';', b'"', b'\0', 0xff, b'-', b'9', b' ',
        ];
        let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
        for (root, example) in EXAMPLES {
            let bytes = example.as_bytes();
            for end in 0..=bytes.len() {
                exercise(root, &bytes[..end]);
            }
            for _ in 0..2000 {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let mut body = bytes.to_vec();
                let at = (seed as usize) % body.len();
                body[at] = replacements[(seed >> 32) as usize % replacements.len()];
                exercise(root, &body);
            }
        }
    }
}
