//! The wire codec: request documents in, `<nex><datastore>` envelopes out,
//! URL-safe Base64 for meta_binary and tags.
//!
//! Requests are read into a small element tree rather than through serde so
//! every client mistake gets an error naming the element at fault.

pub mod read;
pub mod render;
pub mod requests;

use base64::Engine;
use base64::alphabet::URL_SAFE;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

use crate::domain::time;
use crate::error::ApiError;

pub const CONTENT_TYPE: &str = "text/xml;charset=utf-8";

/// URL-safe Base64: padded on output, padded or not on input (DESIGN §4).
const B64: GeneralPurpose = GeneralPurpose::new(
    &URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(true)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

pub fn b64_encode(bytes: &[u8]) -> String {
    B64.encode(bytes)
}

pub fn b64_decode(what: &str, text: &str) -> Result<Vec<u8>, ApiError> {
    B64.decode(text.trim()).map_err(|e| {
        ApiError::invalid(format!(
            "{what} is not URL-safe Base64 ({e}); '+' and '/' must be sent as '-' and '_'"
        ))
    })
}

/// An XML response document being written: `<?xml?><nex><datastore>…`.
/// A `<nex><datastore>` document written straight into its buffer, indented by two
/// spaces, as quick-xml's indenting writer would (a test holds them together).
pub struct Doc {
    out: Vec<u8>,
    depth: usize,
}

impl Doc {
    pub fn new() -> Self {
        Self::with_capacity(1024)
    }

    /// A document whose buffer holds `bytes` before it grows: a list of objects
    /// is written without copying itself over as it grows.
    pub fn with_capacity(bytes: usize) -> Self {
        let mut out = Vec::with_capacity(bytes);
        out.extend_from_slice(b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>");
        let mut doc = Doc { out, depth: 0 };
        doc.open("nex", &[]);
        doc.open("datastore", &[]);
        doc
    }

    /// The line break and indentation before a tag that starts a line (every tag
    /// but the end tag of a leaf).
    fn line(&mut self) {
        const INDENT: &[u8; 65] =
            b"\n                                                                ";
        let width = 1 + 2 * self.depth;
        match INDENT.get(..width) {
            Some(indent) => self.out.extend_from_slice(indent),
            None => {
                self.out.push(b'\n');
                self.out.resize(self.out.len() + 2 * self.depth, b' ');
            }
        }
    }

    fn tag(&mut self, before: &[u8], name: &str, attrs: &[(&str, &str)], after: &[u8]) {
        self.line();
        self.out.extend_from_slice(before);
        self.out.extend_from_slice(name.as_bytes());
        for (key, value) in attrs {
            self.out.push(b' ');
            self.out.extend_from_slice(key.as_bytes());
            self.out.extend_from_slice(b"=\"");
            escape_into(&mut self.out, value);
            self.out.push(b'"');
        }
        self.out.extend_from_slice(after);
    }

    /// `<name>…</name>` on a line of its own, with what `value` writes between
    /// the tags: one call for the most common element.
    fn leaf(&mut self, name: &str, value: impl FnOnce(&mut Vec<u8>)) {
        let name = name.as_bytes();
        self.line();
        self.out.push(b'<');
        self.out.extend_from_slice(name);
        self.out.push(b'>');
        value(&mut self.out);
        self.out.extend_from_slice(b"</");
        self.out.extend_from_slice(name);
        self.out.push(b'>');
    }

    pub fn open(&mut self, name: &str, attrs: &[(&str, &str)]) {
        self.tag(b"<", name, attrs, b">");
        self.depth += 1;
    }

    pub fn close(&mut self, name: &str) {
        self.depth = self.depth.saturating_sub(1);
        self.tag(b"</", name, &[], b">");
    }

    pub fn empty(&mut self, name: &str, attrs: &[(&str, &str)]) {
        self.tag(b"<", name, attrs, b"/>");
    }

    pub fn text(&mut self, name: &str, text: &str) {
        self.leaf(name, |out| escape_into(out, text));
    }

    pub fn num(&mut self, name: &str, value: impl itoa::Integer) {
        // Digits need no escaping: written in place, no allocation per element.
        self.leaf(name, |out| {
            out.extend_from_slice(itoa::Buffer::new().format(value).as_bytes())
        });
    }

    /// `<name>…</name>` with `bytes` in URL-safe Base64, written in place.
    pub fn base64(&mut self, name: &str, bytes: &[u8]) {
        self.leaf(name, |out| {
            let at = out.len();
            out.resize(at + base64::encoded_len(bytes.len(), true).unwrap_or(0), 0);
            let written = B64.encode_slice(bytes, &mut out[at..]).unwrap_or(0);
            out.truncate(at + written);
        });
    }

    /// `<name>2013-01-01T00:00:00Z</name>` from UNIX seconds, written in place.
    pub fn time(&mut self, name: &str, unix: i64) {
        self.leaf(name, |out| time::format_into(unix, out));
    }

    pub fn finish(mut self) -> Vec<u8> {
        self.close("datastore");
        self.close("nex");
        self.out.push(b'\n');
        self.out
    }
}

/// Appends `text` with `<`, `>`, `&`, `'` and `"` escaped (quick-xml's `escape`).
fn escape_into(out: &mut Vec<u8>, text: &str) {
    let bytes = text.as_bytes();
    let mut from = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let entity: &[u8] = match b {
            b'<' => b"&lt;",
            b'>' => b"&gt;",
            b'&' => b"&amp;",
            b'\'' => b"&apos;",
            b'"' => b"&quot;",
            _ => continue,
        };
        out.extend_from_slice(&bytes[from..i]);
        out.extend_from_slice(entity);
        from = i + 1;
    }
    out.extend_from_slice(&bytes[from..]);
}

impl Default for Doc {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_is_url_safe_and_padded_both_ways() {
        assert_eq!(b64_encode(b"tag1"), "dGFnMQ==");
        assert_eq!(b64_decode("tag", "dGFnMQ==").unwrap(), b"tag1");
        assert_eq!(b64_decode("tag", "dGFnMQ").unwrap(), b"tag1");
        assert_eq!(b64_encode(&[0xfb, 0xff]), "-_8=");
        assert_eq!(b64_decode("tag", "-_8").unwrap(), vec![0xfb, 0xff]);
        assert!(b64_decode("tag", "+/8=").is_err());
        assert!(b64_decode("tag", "a").is_err());
    }

    /// The same document through quick-xml's indenting writer, the format's reference.
    fn reference(steps: &[(u8, &str, &str)]) -> Vec<u8> {
        use quick_xml::Writer;
        use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
        let mut w = Writer::new_with_indent(Vec::new(), b' ', 2);
        let mut ev = |e: Event<'_>| w.write_event(e).unwrap();
        ev(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)));
        ev(Event::Start(BytesStart::new("nex")));
        ev(Event::Start(BytesStart::new("datastore")));
        for &(op, name, value) in steps {
            match op {
                0 => ev(Event::Start(
                    BytesStart::new(name).with_attributes([("length", value)]),
                )),
                1 => ev(Event::End(BytesEnd::new(name))),
                2 => ev(Event::Empty(
                    BytesStart::new(name).with_attributes([("length", value)]),
                )),
                _ => {
                    ev(Event::Start(BytesStart::new(name)));
                    ev(Event::Text(BytesText::new(value)));
                    ev(Event::End(BytesEnd::new(name)));
                }
            }
        }
        ev(Event::End(BytesEnd::new("datastore")));
        ev(Event::End(BytesEnd::new("nex")));
        let mut bytes = w.into_inner();
        bytes.push(b'\n');
        bytes
    }

    #[test]
    fn doc_writes_what_quick_xml_writes() {
        let steps: &[(u8, &str, &str)] = &[
            (0, "metainfo", "1"),
            (3, "name", "a <b> & 'c' \"d\" é"),
            (3, "empty", ""),
            (2, "tags", "0"),
            (0, "flags", "2<"),
            (3, "flag", "x"),
            (1, "flags", ""),
            (3, "n", "7"),
            (1, "metainfo", ""),
            (2, "end", "&"),
        ];
        let mut doc = Doc::new();
        for &(op, name, value) in steps {
            match op {
                0 => doc.open(name, &[("length", value)]),
                1 => doc.close(name),
                2 => doc.empty(name, &[("length", value)]),
                _ => doc.text(name, value),
            }
        }
        assert_eq!(
            String::from_utf8(doc.finish()).unwrap(),
            String::from_utf8(reference(steps)).unwrap()
        );
        let mut doc = Doc::new();
        doc.num("data_id", 1_000_001u64);
        assert!(
            String::from_utf8(doc.finish())
                .unwrap()
                .contains("<data_id>1000001</data_id>\n")
        );
    }

    #[test]
    fn doc_writes_the_envelope() {
        let mut doc = Doc::new();
        doc.open("metainfo", &[]);
        doc.empty("changed", &[("length", "2")]);
        doc.text("name", "");
        doc.close("metainfo");
        let text = String::from_utf8(doc.finish()).unwrap();
        assert_eq!(
            text,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<nex>\n  <datastore>\n    <metainfo>\n      \
             <changed length=\"2\"/>\n      <name></name>\n    </metainfo>\n  </datastore>\n</nex>\n"
        );
    }
}
