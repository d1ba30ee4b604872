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
use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};

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
pub struct Doc {
    w: Writer<Vec<u8>>,
}

impl Doc {
    /// Starts `<nex><datastore>`.
    pub fn new() -> Self {
        let mut doc = Doc {
            w: Writer::new_with_indent(Vec::with_capacity(1024), b' ', 2),
        };
        doc.event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)));
        doc.open("nex", &[]);
        doc.open("datastore", &[]);
        doc
    }

    fn event(&mut self, event: Event<'_>) {
        // Writing into a Vec cannot fail.
        let _ = self.w.write_event(event);
    }

    pub fn open(&mut self, name: &str, attrs: &[(&str, &str)]) {
        let mut start = BytesStart::new(name);
        start.extend_attributes(attrs.iter().copied());
        self.event(Event::Start(start));
    }

    pub fn close(&mut self, name: &str) {
        self.event(Event::End(BytesEnd::new(name)));
    }

    /// `<name attr="…"/>`
    pub fn empty(&mut self, name: &str, attrs: &[(&str, &str)]) {
        let mut start = BytesStart::new(name);
        start.extend_attributes(attrs.iter().copied());
        self.event(Event::Empty(start));
    }

    /// `<name>text</name>`; an empty text still writes both tags, as the spec does.
    pub fn text(&mut self, name: &str, text: &str) {
        self.event(Event::Start(BytesStart::new(name)));
        // Even an empty text event keeps the end tag on the same line.
        self.event(Event::Text(BytesText::new(text)));
        self.event(Event::End(BytesEnd::new(name)));
    }

    pub fn num(&mut self, name: &str, value: impl std::fmt::Display) {
        use std::io::Write;
        // Numbers are written on the stack: no allocation per element.
        let mut buf = [0u8; 40];
        let mut cursor = std::io::Cursor::new(&mut buf[..]);
        if write!(cursor, "{value}").is_ok() {
            let len = cursor.position() as usize;
            if let Ok(text) = std::str::from_utf8(&buf[..len]) {
                self.text(name, text);
                return;
            }
        }
        self.text(name, &value.to_string());
    }

    /// Closes the envelope and returns the bytes.
    pub fn finish(mut self) -> Vec<u8> {
        self.close("datastore");
        self.close("nex");
        let mut bytes = self.w.into_inner();
        bytes.push(b'\n');
        bytes
    }
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
