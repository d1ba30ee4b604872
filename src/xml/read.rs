//! A request document read into a small element tree, with typed accessors
//! whose errors name the element at fault.

use quick_xml::Reader;
use quick_xml::events::Event;

use crate::error::ApiError;

const MAX_DEPTH: usize = 32;

/// One element: its name, its trimmed text and its child elements.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Element {
    pub name: String,
    pub text: String,
    pub children: Vec<Element>,
}

impl Element {
    /// The first child named `name`.
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    /// The child named `name` of a request: absent is `None`, given twice is an
    /// error, since a client that sends two `<name>`s meant something we would guess at.
    pub fn one(&self, name: &str) -> Result<Option<&Element>, ApiError> {
        let mut found = self.children.iter().filter(|c| c.name == name);
        let first = found.next();
        if found.next().is_some() {
            return Err(ApiError::invalid(format!(
                "<{name}> is given more than once in <{}>",
                self.name
            )));
        }
        Ok(first)
    }

    /// Like [`Self::one`], but absent is InvalidArgument: `<name> is required`.
    pub fn required(&self, name: &str) -> Result<&Element, ApiError> {
        self.one(name)?
            .ok_or_else(|| ApiError::invalid(format!("<{name}> is required")))
    }

    /// Every child named `name`.
    pub fn children<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    pub fn text(&self) -> &str {
        self.text.trim()
    }

    /// An unsigned integer. Not a number: Core::InvalidArgument; a negative or
    /// too large number: DataStore::InvalidArgument.
    pub fn uint(&self) -> Result<u64, ApiError> {
        crate::domain::parse_uint(&format!("<{}>", self.name), self.text())
    }

    /// A signed integer within `i64`.
    pub fn int(&self) -> Result<i64, ApiError> {
        let text = self.text();
        text.parse::<i64>().map_err(|_| {
            if crate::domain::is_integer(text) {
                ApiError::invalid(format!("<{}> {text} is out of range", self.name))
            } else {
                ApiError::malformed(format!("<{}> '{text}' is not an integer", self.name))
            }
        })
    }

    /// A signed integer within `i32`.
    pub fn int32(&self) -> Result<i32, ApiError> {
        let value = self.int()?;
        i32::try_from(value)
            .map_err(|_| ApiError::invalid(format!("<{}> {value} is out of range", self.name)))
    }

    /// `1` (true) or `0` (false).
    pub fn flag(&self) -> Result<bool, ApiError> {
        match self.text() {
            "1" => Ok(true),
            "0" => Ok(false),
            other => Err(ApiError::invalid(format!(
                "<{}> must be 1 or 0, got '{other}'",
                self.name
            ))),
        }
    }

    /// URL-safe Base64 content.
    pub fn base64(&self) -> Result<Vec<u8>, ApiError> {
        super::b64_decode(&format!("<{}>", self.name), self.text())
    }
}

/// Reads a document whose root must be `root`.
pub fn parse_document(body: &[u8], root: &str) -> Result<Element, ApiError> {
    parse_optional_document(body, root)?.ok_or_else(|| missing_document(root))
}

/// The error of an empty body where a `<root>` document is required.
pub fn missing_document(root: &str) -> ApiError {
    ApiError::malformed(format!("the request body must be a <{root}> document"))
}

/// Like [`parse_document`], but an empty body is `None` (endpoints whose body is optional).
pub fn parse_optional_document(body: &[u8], root: &str) -> Result<Option<Element>, ApiError> {
    let text = std::str::from_utf8(body)
        .map_err(|_| ApiError::malformed("the request body is not UTF-8"))?;
    let text = text.trim_start_matches('\u{feff}');
    if text.trim().is_empty() {
        return Ok(None);
    }
    let element = parse_tree(text)?;
    if element.name != root {
        return Err(ApiError::malformed(format!(
            "the root element must be <{root}>, got <{}>",
            element.name
        )));
    }
    Ok(Some(element))
}

fn malformed(err: impl std::fmt::Display) -> ApiError {
    ApiError::malformed(format!("malformed XML: {err}"))
}

fn parse_tree(text: &str) -> Result<Element, ApiError> {
    let mut reader = Reader::from_str(text);
    reader.config_mut().check_end_names = true;
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    loop {
        let event = reader.read_event().map_err(malformed)?;
        match event {
            Event::Start(start) | Event::Empty(start) if root.is_some() => {
                let _ = start;
                return Err(ApiError::malformed(
                    "malformed XML: more than one root element",
                ));
            }
            Event::Start(start) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(ApiError::malformed("malformed XML: nested too deeply"));
                }
                stack.push(Element {
                    name: element_name(start.name().as_ref())?,
                    ..Element::default()
                });
            }
            Event::Empty(start) => {
                let element = Element {
                    name: element_name(start.name().as_ref())?,
                    ..Element::default()
                };
                match stack.last_mut() {
                    Some(parent) => parent.children.push(element),
                    None => root = Some(element),
                }
            }
            Event::End(_) => {
                let mut element = stack
                    .pop()
                    .ok_or_else(|| ApiError::malformed("malformed XML: unexpected end tag"))?;
                element.text = element.text.trim().to_owned();
                match stack.last_mut() {
                    Some(parent) => parent.children.push(element),
                    None => root = Some(element),
                }
            }
            Event::Text(t) => {
                let content = t.xml10_content().map_err(malformed)?;
                push_text(&mut stack, &content)?;
            }
            Event::CData(t) => {
                let content = t.decode().map_err(malformed)?;
                push_text(&mut stack, &content)?;
            }
            Event::GeneralRef(r) => {
                let resolved = match r.resolve_char_ref().map_err(malformed)? {
                    Some(c) => c.to_string(),
                    None => {
                        let name = r.decode().map_err(malformed)?;
                        quick_xml::escape::resolve_predefined_entity(&name)
                            .ok_or_else(|| {
                                ApiError::malformed(format!(
                                    "malformed XML: unknown entity &{name};"
                                ))
                            })?
                            .to_owned()
                    }
                };
                push_text(&mut stack, &resolved)?;
            }
            Event::DocType(_) => {
                return Err(ApiError::malformed(
                    "malformed XML: DOCTYPE is not accepted",
                ));
            }
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
            Event::Eof => break,
        }
    }
    if !stack.is_empty() {
        return Err(ApiError::malformed("malformed XML: unclosed element"));
    }
    root.ok_or_else(|| ApiError::malformed("malformed XML: no root element"))
}

fn push_text(stack: &mut [Element], text: &str) -> Result<(), ApiError> {
    match stack.last_mut() {
        Some(element) => {
            element.text.push_str(text);
            Ok(())
        }
        None if text.trim().is_empty() => Ok(()),
        None => Err(ApiError::malformed(
            "malformed XML: text outside the root element",
        )),
    }
}

fn element_name(raw: &[u8]) -> Result<String, ApiError> {
    std::str::from_utf8(raw)
        .map(str::to_owned)
        .map_err(|_| ApiError::malformed("malformed XML: element name is not UTF-8"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    #[test]
    fn reads_the_spec_change_example() {
        let doc = parse_document(
            b"<change>\n  <name>new name</name>\n  <access_permission>\n    <type>public</type>\n  \
              </access_permission>\n  <tags>\n    <tag>dGFn</tag>\n  </tags>\n</change>",
            "change",
        )
        .unwrap();
        assert_eq!(doc.child("name").unwrap().text(), "new name");
        let perm = doc.child("access_permission").unwrap();
        assert_eq!(perm.child("type").unwrap().text(), "public");
        let tags: Vec<_> = doc.child("tags").unwrap().children("tag").collect();
        assert_eq!(tags[0].base64().unwrap(), b"tag");
    }

    #[test]
    fn entities_and_cdata_are_decoded() {
        let doc = parse_document(
            b"<change><name>a &amp; b &#x41;<![CDATA[<c>]]></name></change>",
            "change",
        )
        .unwrap();
        assert_eq!(doc.child("name").unwrap().text(), "a & b A<c>");
    }

    #[test]
    fn malformed_documents_are_core_errors() {
        for body in [
            &b"<change><name>x</change>"[..],
            b"<change>",
            b"<other/>",
            b"<change/><change/>",
            b"<!DOCTYPE x [<!ENTITY a 'b'>]><change/>",
            b"<change>&foo;</change>",
            b"\xff\xfe",
        ] {
            let err = parse_document(body, "change").unwrap_err();
            assert_eq!(err.kind, ErrorKind::MalformedRequest, "{body:?}");
        }
    }

    #[test]
    fn numbers_distinguish_syntax_from_range() {
        let el = |t: &str| Element {
            name: "size".into(),
            text: t.into(),
            children: vec![],
        };
        assert_eq!(el("12").uint().unwrap(), 12);
        assert_eq!(
            el("abc").uint().unwrap_err().kind,
            ErrorKind::MalformedRequest
        );
        assert_eq!(
            el("-1").uint().unwrap_err().kind,
            ErrorKind::InvalidArgument
        );
        assert_eq!(
            el("99999999999999999999999").uint().unwrap_err().kind,
            ErrorKind::InvalidArgument
        );
    }

    #[test]
    fn single_valued_children_may_not_repeat() {
        let doc =
            parse_document(b"<change><name>a</name><name>b</name></change>", "change").unwrap();
        assert_eq!(
            doc.one("name").unwrap_err().kind,
            ErrorKind::InvalidArgument
        );
        assert!(doc.one("period").unwrap().is_none());
    }

    #[test]
    fn empty_bodies_are_absent() {
        assert_eq!(parse_optional_document(b"  \n", "complete").unwrap(), None);
    }
}
