//! Response documents of the spec, element for element and in the spec's order.

use std::collections::HashMap;

use crate::blob::UploadForm;
use crate::domain::notification::Notification;
use crate::domain::persistence::PersistenceInfo;
use crate::domain::principal_data::{
    Erased, GivenRating, OwnedObject, PrincipalData, RatingLock, export_file_path,
};
use crate::domain::rating::RatingTotals;
use crate::domain::search::SearchPage;
use crate::domain::{Object, Permission};
use crate::error::ApiError;
use crate::store::VersionInfo;
use crate::xml::Doc;

/// The spec's `response=` option: extra parts of each metainfo.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Include {
    pub meta_binary: bool,
    pub tags: bool,
    pub ratings: bool,
    /// Search only (spec 12.3.2.4.1): the download URL of objects with a file.
    pub url: bool,
    /// The current file version (a GS2 generation; nexds's own option).
    pub version: bool,
}

impl Include {
    /// Parses `response=meta_binary,tags,ratings`; `tag` is accepted for
    /// `tags` (the SDK's own example uses it).
    pub fn parse(value: Option<&str>) -> Result<Self, ApiError> {
        Self::parse_options(value, false)
    }

    /// The search's `response=`, which also takes `url`.
    pub fn parse_search(value: Option<&str>) -> Result<Self, ApiError> {
        Self::parse_options(value, true)
    }

    fn parse_options(value: Option<&str>, search: bool) -> Result<Self, ApiError> {
        let mut include = Include::default();
        for item in value.unwrap_or("").split(',').map(str::trim) {
            match item {
                "" => {}
                "meta_binary" => include.meta_binary = true,
                "tags" | "tag" => include.tags = true,
                "ratings" => include.ratings = true,
                "version" => include.version = true,
                "url" if search => include.url = true,
                other => {
                    let known = if search {
                        "meta_binary, tags, ratings, version, url"
                    } else {
                        "meta_binary, tags, ratings, version"
                    };
                    return Err(ApiError::invalid(format!(
                        "unknown response option '{other}' ({known})"
                    )));
                }
            }
        }
        Ok(include)
    }
}

/// `<metainfos length="n">` (spec 12.3.2.1.2).
pub fn metainfos(objects: &[Object], include: Include) -> Vec<u8> {
    let length = objects.len().to_string();
    metainfo_list(objects, include, &HashMap::new(), &[("length", &length)])
}

/// `<metainfos length="n" offset="o" total="t" total_type="exact">` (spec 12.3.2.4.2);
/// `urls` holds the download URL of each object with a file, for `response=url`.
pub fn search_result(page: &SearchPage, include: Include, urls: &HashMap<u64, String>) -> Vec<u8> {
    let length = page.objects.len().to_string();
    let offset = page.offset.to_string();
    let total = page.total.to_string();
    metainfo_list(
        &page.objects,
        include,
        urls,
        &[
            ("length", &length),
            ("offset", &offset),
            ("total", &total),
            ("total_type", "exact"),
        ],
    )
}

fn metainfo_list(
    objects: &[Object],
    include: Include,
    urls: &HashMap<u64, String>,
    attrs: &[(&str, &str)],
) -> Vec<u8> {
    let mut doc = Doc::with_capacity(256 + objects.iter().map(written_size).sum::<usize>());
    if objects.is_empty() {
        doc.empty("metainfos", attrs);
    } else {
        doc.open("metainfos", attrs);
        for object in objects {
            metainfo(&mut doc, object, include, urls.get(&object.data_id));
        }
        doc.close("metainfos");
    }
    doc.finish()
}

fn metainfo(doc: &mut Doc, o: &Object, include: Include, url: Option<&String>) {
    doc.open("metainfo", &[]);
    metainfo_fields(doc, o, include);
    if include.url
        && let Some(url) = url
    {
        doc.text("url", url);
    }
    doc.close("metainfo");
}

/// About the most bytes [`metainfo`] writes of `o`: its fixed elements, recipients,
/// tags and meta_binary in Base64, rating slots.
fn written_size(o: &Object) -> usize {
    let base64 = |bytes: usize| bytes.div_ceil(3) * 4;
    1100 + 60 * (o.access.recipients.len() + o.update.recipients.len())
        + o.name.len() * 6
        + o.tags.iter().map(|t| 40 + base64(t.len())).sum::<usize>()
        + base64(o.meta_binary.len())
        + 200 * o.ratings.len()
}

/// The children of a `<metainfo>`, in the spec's order.
fn metainfo_fields(doc: &mut Doc, o: &Object, include: Include) {
    doc.num("data_id", o.data_id);
    doc.text("name", &o.name);
    doc.num("owner_id", o.owner_id);
    doc.num("size", o.size);
    doc.num("type", o.data_type);
    permission(doc, "access_permission", &o.access);
    permission(doc, "update_permission", &o.update);
    let flags: Vec<&str> = o.flags.names().collect();
    list(doc, "flags", "flag", &flags);
    doc.num("period", o.period);
    doc.time("created_time", o.created_time);
    doc.time("updated_time", o.updated_time);
    doc.time("referred_time", o.referred_time);
    doc.time("expire_time", o.expire_time);
    doc.text("status", o.status.name());
    doc.num("referred_count", o.referred_count);
    doc.num("refer_data_id", o.refer_data_id);
    if include.tags {
        list_with(doc, "tags", &o.tags, |doc, tag| doc.base64("tag", tag));
    }
    if include.meta_binary {
        doc.base64("meta_binary", &o.meta_binary);
    }
    if include.ratings {
        let length = o.ratings.len().to_string();
        if o.ratings.is_empty() {
            doc.empty("ratings", &[("length", &length)]);
        } else {
            doc.open("ratings", &[("length", &length)]);
            for r in &o.ratings {
                doc.open("rating", &[]);
                doc.num("slot", r.slot);
                doc.num("count", r.count);
                doc.num("total_value", r.total_value);
                doc.num("initial_value", r.initial_value);
                doc.close("rating");
            }
            doc.close("ratings");
        }
    }
    if include.version {
        doc.num("version", o.version);
    }
}

fn permission(doc: &mut Doc, name: &str, p: &Permission) {
    doc.open(name, &[]);
    doc.text("type", p.kind.name());
    list_with(doc, "recipient_ids", &p.recipients, |doc, id| {
        doc.num("recipient_id", *id);
    });
    doc.close(name);
}

/// `<name length="n"><item>…</item>…</name>`, or `<name length="0"/>`.
fn list<T: AsRef<str>>(doc: &mut Doc, name: &str, item: &str, values: &[T]) {
    list_with(doc, name, values, |doc, v| doc.text(item, v.as_ref()));
}

/// `<name length="n">` around what `item` writes for each value, or `<name length="0"/>`.
fn list_with<T>(doc: &mut Doc, name: &str, values: &[T], item: impl Fn(&mut Doc, &T)) {
    let mut length = itoa::Buffer::new();
    let length = length.format(values.len());
    if values.is_empty() {
        doc.empty(name, &[("length", length)]);
        return;
    }
    doc.open(name, &[("length", length)]);
    for v in values {
        item(doc, v);
    }
    doc.close(name);
}

/// `<passwordinfos>` (spec 12.3.2.7.2).
pub fn passwordinfos(objects: &[Object]) -> Vec<u8> {
    let mut doc = Doc::new();
    let length = objects.len().to_string();
    if objects.is_empty() {
        doc.empty("passwordinfos", &[("length", &length)]);
    } else {
        doc.open("passwordinfos", &[("length", &length)]);
        for o in objects {
            doc.open("passwordinfo", &[]);
            doc.num("access_password", o.access_password);
            doc.num("update_password", o.update_password);
            doc.num("data_id", o.data_id);
            doc.close("passwordinfo");
        }
        doc.close("passwordinfos");
    }
    doc.finish()
}

/// `<outer><name length="n"/></outer>`: the count-only answers of change and delete.
pub fn counted(outer: &str, name: &str, length: usize) -> Vec<u8> {
    let mut doc = Doc::new();
    doc.open(outer, &[]);
    doc.empty(name, &[("length", &length.to_string())]);
    doc.close(outer);
    doc.finish()
}

/// `<metainfo><ratings>` answer of a rating (spec 12.3.2.8.1.2): one `<rating>`
/// per rating applied, in request order.
pub fn rated(ratings: &[RatingTotals]) -> Vec<u8> {
    let mut doc = Doc::new();
    doc.open("metainfo", &[]);
    doc.open("ratings", &[]);
    for r in ratings {
        doc.open("rating", &[]);
        doc.num("count", r.count);
        doc.num("initial_value", r.initial_value);
        doc.num("total_value", r.total_value);
        doc.close("rating");
    }
    doc.close("ratings");
    doc.close("metainfo");
    doc.finish()
}

/// `<metainfo><ratings><reset length="n"/>` (spec 12.3.2.8.2.2).
pub fn reset(length: usize) -> Vec<u8> {
    let mut doc = Doc::new();
    doc.open("metainfo", &[]);
    doc.open("ratings", &[]);
    doc.empty("reset", &[("length", &length.to_string())]);
    doc.close("ratings");
    doc.close("metainfo");
    doc.finish()
}

/// `<persistenceinfos>` (spec 12.3.2.9.1.2).
pub fn persistenceinfos(infos: &[PersistenceInfo]) -> Vec<u8> {
    let mut doc = Doc::new();
    let length = infos.len().to_string();
    if infos.is_empty() {
        doc.empty("persistenceinfos", &[("length", &length)]);
    } else {
        doc.open("persistenceinfos", &[("length", &length)]);
        for i in infos {
            doc.open("persistenceinfo", &[]);
            doc.num("principal_id", i.principal_id);
            doc.num("data_id", i.data_id);
            doc.num("slot", i.slot);
            doc.close("persistenceinfo");
        }
        doc.close("persistenceinfos");
    }
    doc.finish()
}

/// `<data><data_id>` answer of a meta-binary-only prepare (spec 12.3.2.5.1.2).
pub fn prepared_meta_only(data_id: u64) -> Vec<u8> {
    let mut doc = Doc::new();
    doc.open("data", &[]);
    doc.num("data_id", data_id);
    doc.close("data");
    doc.finish()
}

/// The `<data>` answer of a prepare with a file (spec 12.3.2.5.2.2): where to POST,
/// the date header, the form fields in posting order, and the data_id.
pub fn prepared_upload(data_id: u64, form: &UploadForm) -> Vec<u8> {
    upload_answer(data_id, form, None)
}

/// The answer of a version prepare: the prepare's `<data>` plus the new `<version>`.
pub fn prepared_version(data_id: u64, version: u32, form: &UploadForm) -> Vec<u8> {
    upload_answer(data_id, form, Some(version))
}

fn upload_answer(data_id: u64, form: &UploadForm, version: Option<u32>) -> Vec<u8> {
    let mut doc = Doc::new();
    doc.open("data", &[]);
    doc.text("url", &form.url);
    doc.open("request_header", &[]);
    doc.text("date", &form.date);
    doc.close("request_header");
    doc.open("post_param", &[]);
    for (name, value) in &form.fields {
        doc.text(name, value);
    }
    doc.close("post_param");
    doc.num("data_id", data_id);
    if let Some(version) = version {
        doc.num("version", version);
    }
    doc.close("data");
    doc.finish()
}

/// `<data><data_id><version><size>`: an object's current version after a change of it.
pub fn current_version(data_id: u64, version: u32, size: u64) -> Vec<u8> {
    let mut doc = Doc::new();
    doc.open("data", &[]);
    doc.num("data_id", data_id);
    doc.num("version", version);
    doc.num("size", size);
    doc.close("data");
    doc.finish()
}

/// `<versions length="n" current="v">`: the stored versions, newest first.
pub fn versions(current: u32, versions: &[VersionInfo]) -> Vec<u8> {
    let mut doc = Doc::new();
    let length = versions.len().to_string();
    let current = current.to_string();
    let attrs = [("length", length.as_str()), ("current", current.as_str())];
    if versions.is_empty() {
        doc.empty("versions", &attrs);
    } else {
        doc.open("versions", &attrs);
        for v in versions {
            doc.open("version", &[]);
            doc.num("number", v.version);
            doc.num("size", v.size);
            doc.time("created_time", v.created_time);
            doc.close("version");
        }
        doc.close("versions");
    }
    doc.finish()
}

/// `<urlinfos>` (spec 12.3.2.6.2).
pub fn urlinfos(urls: &[(u64, String)]) -> Vec<u8> {
    let mut doc = Doc::new();
    let length = urls.len().to_string();
    if urls.is_empty() {
        doc.empty("urlinfos", &[("length", &length)]);
    } else {
        doc.open("urlinfos", &[("length", &length)]);
        for (data_id, url) in urls {
            doc.open("urlinfo", &[]);
            doc.num("data_id", *data_id);
            doc.text("url", url);
            doc.close("urlinfo");
        }
        doc.close("urlinfos");
    }
    doc.finish()
}

// nexds's own documents for the GS2-Datastore features (README "Principals").

/// `<metainfos length="n" next_page_token="…">` of a listing of one's own data:
/// each `<metainfo>` as GET metainfo writes it, then `<state>`. The token is there
/// only when another page follows.
pub fn listing(objects: &[Object], include: Include, next_page_token: Option<&str>) -> Vec<u8> {
    let mut doc = Doc::new();
    let length = objects.len().to_string();
    let mut attrs = vec![("length", length.as_str())];
    if let Some(token) = next_page_token {
        attrs.push(("next_page_token", token));
    }
    if objects.is_empty() {
        doc.empty("metainfos", &attrs);
    } else {
        doc.open("metainfos", &attrs);
        for o in objects {
            doc.open("metainfo", &[]);
            metainfo_fields(&mut doc, o, include);
            doc.text("state", o.state.name());
            doc.close("metainfo");
        }
        doc.close("metainfos");
    }
    doc.finish()
}

/// `metainfos.xml` of an export: every `<metainfo>` with meta_binary, tags and
/// ratings, then what the spec has no element for: `<state>`, `<deleted_time>` (deleted
/// objects), `<access_password>`, `<update_password>`, and `<file>` with the path
/// and size of the file in the archive (objects whose file is stored).
pub fn export_metainfos(objects: &[OwnedObject], file_sizes: &[Option<u64>]) -> Vec<u8> {
    let all = Include {
        meta_binary: true,
        tags: true,
        ratings: true,
        url: false,
        version: true,
    };
    let mut doc = Doc::new();
    let length = objects.len().to_string();
    if objects.is_empty() {
        doc.empty("metainfos", &[("length", &length)]);
        return doc.finish();
    }
    doc.open("metainfos", &[("length", &length)]);
    for (owned, size) in objects.iter().zip(file_sizes) {
        let o = &owned.object;
        doc.open("metainfo", &[]);
        metainfo_fields(&mut doc, o, all);
        doc.text("state", o.state.name());
        if let Some(deleted) = owned.deleted_time {
            doc.time("deleted_time", deleted);
        }
        doc.num("access_password", o.access_password);
        doc.num("update_password", o.update_password);
        if let Some(size) = size {
            doc.open("file", &[]);
            doc.text("path", &export_file_path(o.data_id));
            doc.num("size", *size);
            doc.close("file");
        }
        doc.close("metainfo");
    }
    doc.close("metainfos");
    doc.finish()
}

/// The documents of an export archive, by path: `metainfos.xml`,
/// `persistenceinfos.xml` and `ratings_given.xml`.
pub fn export_documents(
    data: &PrincipalData,
    file_sizes: &[Option<u64>],
) -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("metainfos.xml", export_metainfos(&data.objects, file_sizes)),
        ("persistenceinfos.xml", persistenceinfos(&data.slots)),
        (
            "ratings_given.xml",
            ratings_given(&data.ratings_given, &data.rating_locks),
        ),
    ]
}

/// `ratings_given.xml` of an export: the ratings a principal gave in `modifiable`
/// slots (`<ratings_given>`) and the rating locks they hold (`<rating_locks>`).
pub fn ratings_given(ratings: &[GivenRating], locks: &[RatingLock]) -> Vec<u8> {
    let mut doc = Doc::new();
    let length = ratings.len().to_string();
    if ratings.is_empty() {
        doc.empty("ratings_given", &[("length", &length)]);
    } else {
        doc.open("ratings_given", &[("length", &length)]);
        for r in ratings {
            doc.open("rating", &[]);
            doc.num("data_id", r.data_id);
            doc.num("slot", r.slot);
            doc.num("rating_value", r.value);
            doc.time("rated_time", r.rated_time);
            doc.close("rating");
        }
        doc.close("ratings_given");
    }
    let length = locks.len().to_string();
    if locks.is_empty() {
        doc.empty("rating_locks", &[("length", &length)]);
    } else {
        doc.open("rating_locks", &[("length", &length)]);
        for l in locks {
            doc.open("rating_lock", &[]);
            doc.num("data_id", l.data_id);
            doc.num("slot", l.slot);
            doc.time("locked_until", l.locked_until);
            doc.close("rating_lock");
        }
        doc.close("rating_locks");
    }
    doc.finish()
}

/// `<friends length="n"><principal_id>…` (DESIGN §14): a friend list, in increasing order.
pub fn friends(ids: &[u32]) -> Vec<u8> {
    let mut doc = Doc::new();
    let length = ids.len().to_string();
    if ids.is_empty() {
        doc.empty("friends", &[("length", &length)]);
    } else {
        doc.open("friends", &[("length", &length)]);
        for id in ids {
            doc.num("principal_id", *id);
        }
        doc.close("friends");
    }
    doc.finish()
}

/// `<friends length="n"/>`: the answer of replacing a friend list.
pub fn friends_set(length: usize) -> Vec<u8> {
    let mut doc = Doc::new();
    doc.empty("friends", &[("length", &length.to_string())]);
    doc.finish()
}

/// `<notifications length="n"><notification>…` (DESIGN §15), oldest first.
pub fn notifications(list: &[Notification]) -> Vec<u8> {
    let mut doc = Doc::new();
    let length = list.len().to_string();
    if list.is_empty() {
        doc.empty("notifications", &[("length", &length)]);
    } else {
        doc.open("notifications", &[("length", &length)]);
        for n in list {
            doc.open("notification", &[]);
            doc.num("id", n.id);
            doc.num("data_id", n.data_id);
            doc.num("owner_id", n.owner_id);
            doc.text("type", n.kind.name());
            doc.time("time", n.time);
            doc.close("notification");
        }
        doc.close("notifications");
    }
    doc.finish()
}

/// `<erased>` answer of an erase: how many objects, files, ratings given and
/// persistence slots went.
pub fn erased(e: &Erased) -> Vec<u8> {
    let mut doc = Doc::new();
    doc.open("erased", &[]);
    doc.num("objects", e.objects);
    doc.num("files", e.files);
    doc.num("ratings", e.ratings);
    doc.num("persistence", e.persistence);
    doc.close("erased");
    doc.finish()
}

/// The error body of DESIGN §10, compact, as it is written there:
/// `<?xml …?><nex><error><code/><result_code/><message/></error></nex>`.
pub fn error(err: &ApiError) -> Vec<u8> {
    use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
    let mut w = quick_xml::Writer::new(Vec::with_capacity(256));
    let events = [
        Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)),
        Event::Start(BytesStart::new("nex")),
        Event::Start(BytesStart::new("error")),
        Event::Start(BytesStart::new("code")),
        Event::Text(BytesText::new(err.kind.code())),
        Event::End(BytesEnd::new("code")),
        Event::Start(BytesStart::new("result_code")),
        Event::Text(BytesText::new(err.kind.result_code())),
        Event::End(BytesEnd::new("result_code")),
        Event::Start(BytesStart::new("message")),
        Event::Text(BytesText::new(err.client_message())),
        Event::End(BytesEnd::new("message")),
        Event::End(BytesEnd::new("error")),
        Event::End(BytesEnd::new("nex")),
    ];
    for event in events {
        // Writing into a Vec cannot fail.
        let _ = w.write_event(event);
    }
    w.into_inner()
}

/// `<api_version>` and `<ngs_version>` (spec 12.3.3.1.2).
pub fn version(api_version: u32, ngs_version: &str) -> Vec<u8> {
    let mut doc = Doc::new();
    doc.num("api_version", api_version);
    doc.text("ngs_version", ngs_version);
    doc.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn response_options_accept_tag_and_refuse_unknowns() {
        let i = Include::parse(Some("tag,meta_binary")).unwrap();
        assert!(i.tags && i.meta_binary && !i.ratings);
        assert!(Include::parse(Some("url")).is_err());
        assert_eq!(Include::parse(None).unwrap(), Include::default());
        let search = Include::parse_search(Some("url,ratings")).unwrap();
        assert!(search.url && search.ratings && !search.tags);
        assert!(Include::parse_search(Some("urls")).is_err());
    }

    #[test]
    fn an_empty_search_result_is_one_element() {
        let page = SearchPage {
            objects: Vec::new(),
            offset: 0,
            total: 0,
        };
        let text =
            String::from_utf8(search_result(&page, Include::default(), &HashMap::new())).unwrap();
        assert_eq!(
            text,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<nex>\n  <datastore>\n    \
             <metainfos length=\"0\" offset=\"0\" total=\"0\" total_type=\"exact\"/>\n  \
             </datastore>\n</nex>\n"
        );
    }

    #[test]
    fn error_body_is_the_design_envelope() {
        let err = ApiError::not_found(10);
        assert_eq!(
            String::from_utf8(error(&err)).unwrap(),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><nex><error><code>DataStore::NotFound</code>\
             <result_code>0x00690004</result_code><message>data_id 10 not found</message></error></nex>"
        );
        assert_eq!(err.kind.status(), 404);
    }

    #[test]
    fn internal_causes_are_never_sent() {
        let err = ApiError::internal("disk on fire at /secret/path");
        assert!(!String::from_utf8(error(&err)).unwrap().contains("secret"));
        assert_eq!(err.kind.status(), 500);
    }

    #[test]
    fn messages_are_escaped() {
        let err = ApiError::invalid("<name> too long & more");
        let body = String::from_utf8(error(&err)).unwrap();
        assert!(body.contains("&lt;name&gt; too long &amp; more"), "{body}");
    }

    #[test]
    fn version_renders_the_spec_bytes() {
        let text = String::from_utf8(version(2, "3.6.2.")).unwrap();
        assert_eq!(
            text,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<nex>\n  <datastore>\n    \
             <api_version>2</api_version>\n    <ngs_version>3.6.2.</ngs_version>\n  \
             </datastore>\n</nex>\n"
        );
    }
}
