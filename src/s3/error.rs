//! S3's error answers, as the local store and nexds's download links send them:
//! the code a client tells apart, its HTTP status, and the `<Error>` body of the
//! S3 REST API. Every XML document of S3's that nexds sends is written here.

use std::fmt;

use actix_web::HttpResponse;
use actix_web::http::{StatusCode, header};
use quick_xml::Writer;
use quick_xml::escape::partial_escape;
use quick_xml::events::{BytesDecl, BytesText, Event};

/// S3's content type for its XML answers.
pub const CONTENT_TYPE: &str = "application/xml";

/// An XML document as S3 writes one: the declaration, a line break if `line`,
/// then `<root>` holding one text element per child, in order (`<`, `>` and `&`
/// escaped, quotes kept).
pub(crate) fn document(root: &str, line: bool, children: &[(&str, &str)]) -> String {
    let mut w = Writer::new(Vec::with_capacity(256));
    // Writing into a Vec cannot fail.
    let _ = w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)));
    if line {
        let _ = w.write_event(Event::Text(BytesText::from_escaped("\n")));
    }
    let _ = w.create_element(root).write_inner_content(|w| {
        for (name, text) in children {
            w.create_element(*name)
                .write_text_content(BytesText::from_escaped(partial_escape(*text)))?;
        }
        Ok(())
    });
    String::from_utf8(w.into_inner()).unwrap_or_default()
}

/// The `<Error>` body: `Code`, `Message`, and `RequestId` when there is one.
pub fn error_xml(code: &str, message: &str, request_id: Option<&str>) -> String {
    let mut children = vec![("Code", code), ("Message", message)];
    children.extend(request_id.map(|id| ("RequestId", id)));
    document("Error", false, &children)
}

/// An S3 error answer: `status`, `application/xml`, the request id (if any) as
/// `x-amz-request-id`, and the `<Error>` body unless `head` (HEAD answers carry none).
pub fn error_response(
    status: StatusCode,
    code: &str,
    message: &str,
    request_id: Option<&str>,
    head: bool,
) -> HttpResponse {
    let mut response = HttpResponse::build(status);
    response.insert_header((header::CONTENT_TYPE, CONTENT_TYPE));
    if let Some(id) = request_id.filter(|id| !id.is_empty()) {
        response.insert_header(("x-amz-request-id", id));
    }
    if head {
        response.finish()
    } else {
        response.body(error_xml(code, message, request_id))
    }
}

/// The S3 error codes the local store answers with (AWS `ErrorResponses`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum S3Code {
    AccessDenied,
    AuthorizationQueryParametersError,
    BadDigest,
    EntityTooLarge,
    EntityTooSmall,
    IncorrectNumberOfFilesInPostRequest,
    InternalError,
    InvalidAccessKeyId,
    InvalidArgument,
    InvalidPolicyDocument,
    InvalidRange,
    InvalidRequest,
    InvalidToken,
    KeyTooLongError,
    MalformedPOSTRequest,
    MaxPostPreDataLengthExceeded,
    MethodNotAllowed,
    NoSuchBucket,
    NoSuchKey,
    PreconditionFailed,
    RequestTimeout,
    SignatureDoesNotMatch,
}

impl S3Code {
    pub fn as_str(self) -> &'static str {
        match self {
            S3Code::AccessDenied => "AccessDenied",
            S3Code::AuthorizationQueryParametersError => "AuthorizationQueryParametersError",
            S3Code::BadDigest => "BadDigest",
            S3Code::EntityTooLarge => "EntityTooLarge",
            S3Code::EntityTooSmall => "EntityTooSmall",
            S3Code::IncorrectNumberOfFilesInPostRequest => "IncorrectNumberOfFilesInPostRequest",
            S3Code::InternalError => "InternalError",
            S3Code::InvalidAccessKeyId => "InvalidAccessKeyId",
            S3Code::InvalidArgument => "InvalidArgument",
            S3Code::InvalidPolicyDocument => "InvalidPolicyDocument",
            S3Code::InvalidRange => "InvalidRange",
            S3Code::InvalidRequest => "InvalidRequest",
            S3Code::InvalidToken => "InvalidToken",
            S3Code::KeyTooLongError => "KeyTooLongError",
            S3Code::MalformedPOSTRequest => "MalformedPOSTRequest",
            S3Code::MaxPostPreDataLengthExceeded => "MaxPostPreDataLengthExceeded",
            S3Code::MethodNotAllowed => "MethodNotAllowed",
            S3Code::NoSuchBucket => "NoSuchBucket",
            S3Code::NoSuchKey => "NoSuchKey",
            S3Code::PreconditionFailed => "PreconditionFailed",
            S3Code::RequestTimeout => "RequestTimeout",
            S3Code::SignatureDoesNotMatch => "SignatureDoesNotMatch",
        }
    }

    pub fn status(self) -> u16 {
        match self {
            S3Code::AccessDenied | S3Code::InvalidAccessKeyId | S3Code::SignatureDoesNotMatch => {
                403
            }
            S3Code::NoSuchBucket | S3Code::NoSuchKey => 404,
            S3Code::MethodNotAllowed => 405,
            S3Code::PreconditionFailed => 412,
            S3Code::InternalError => 500,
            S3Code::InvalidRange => 416,
            S3Code::AuthorizationQueryParametersError
            | S3Code::BadDigest
            | S3Code::EntityTooLarge
            | S3Code::EntityTooSmall
            | S3Code::IncorrectNumberOfFilesInPostRequest
            | S3Code::InvalidArgument
            | S3Code::InvalidPolicyDocument
            | S3Code::InvalidRequest
            | S3Code::InvalidToken
            | S3Code::KeyTooLongError
            | S3Code::MalformedPOSTRequest
            | S3Code::MaxPostPreDataLengthExceeded
            | S3Code::RequestTimeout => 400,
        }
    }
}

/// An S3 error on its way to the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Error {
    pub code: S3Code,
    pub message: String,
}

impl S3Error {
    pub fn new(code: S3Code, message: impl Into<String>) -> S3Error {
        S3Error {
            code,
            message: message.into(),
        }
    }

    /// A request without any authentication: our store has no public buckets.
    pub fn anonymous() -> S3Error {
        S3Error::new(S3Code::AccessDenied, "Access Denied")
    }

    pub fn access_denied(message: impl Into<String>) -> S3Error {
        S3Error::new(S3Code::AccessDenied, message)
    }

    /// `403 AccessDenied "Invalid according to Policy: …"`.
    pub fn policy(message: impl fmt::Display) -> S3Error {
        S3Error::new(
            S3Code::AccessDenied,
            format!("Invalid according to Policy: {message}"),
        )
    }

    /// `400 InvalidPolicyDocument "Invalid Policy: …"`.
    pub fn invalid_policy(message: impl fmt::Display) -> S3Error {
        S3Error::new(
            S3Code::InvalidPolicyDocument,
            format!("Invalid Policy: {message}"),
        )
    }

    pub fn invalid_argument(message: impl Into<String>) -> S3Error {
        S3Error::new(S3Code::InvalidArgument, message)
    }

    pub fn invalid_access_key() -> S3Error {
        S3Error::new(
            S3Code::InvalidAccessKeyId,
            "The AWS Access Key Id you provided does not exist in our records.",
        )
    }

    pub fn signature_mismatch() -> S3Error {
        S3Error::new(
            S3Code::SignatureDoesNotMatch,
            "The request signature we calculated does not match the signature you provided. \
             Check your key and signing method.",
        )
    }

    pub fn expired() -> S3Error {
        S3Error::access_denied("Request has expired")
    }

    /// A failure of the store itself; the cause is logged by the caller, never sent.
    pub fn internal() -> S3Error {
        S3Error::new(
            S3Code::InternalError,
            "We encountered an internal error. Please try again.",
        )
    }

    pub fn no_such_bucket() -> S3Error {
        S3Error::new(S3Code::NoSuchBucket, "The specified bucket does not exist")
    }

    pub fn no_such_key() -> S3Error {
        S3Error::new(S3Code::NoSuchKey, "The specified key does not exist.")
    }

    /// A form field S3 requires before the file, named as S3 names it.
    pub fn missing_field(name: &str) -> S3Error {
        S3Error::invalid_argument(format!(
            "Bucket POST must contain a field named '{name}'.  If it is specified, \
             please check the order of the fields."
        ))
    }

    pub fn status(&self) -> u16 {
        self.code.status()
    }

    /// The body S3 sends: `<Error><Code/><Message/><RequestId/></Error>`.
    pub fn to_xml(&self, request_id: &str) -> String {
        error_xml(self.code.as_str(), &self.message, Some(request_id))
    }

    /// The whole answer (see [`error_response`]); a HEAD gets the status and headers only.
    pub fn response(&self, request_id: &str, head: bool) -> HttpResponse {
        let status = StatusCode::from_u16(self.status()).unwrap_or(StatusCode::BAD_REQUEST);
        error_response(
            status,
            self.code.as_str(),
            &self.message,
            Some(request_id),
            head,
        )
    }
}

impl fmt::Display for S3Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)
    }
}

impl std::error::Error for S3Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_is_s3s_error_document() {
        let err = S3Error::policy("Extra input fields: x-amz-meta-<a>");
        assert_eq!(err.status(), 403);
        assert_eq!(
            err.to_xml("4442587FB7D0A2F9"),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>AccessDenied</Code>\
             <Message>Invalid according to Policy: Extra input fields: x-amz-meta-&lt;a&gt;\
             </Message><RequestId>4442587FB7D0A2F9</RequestId></Error>"
        );
    }

    #[test]
    fn download_link_errors_and_post_responses_keep_their_bytes() {
        // What nexds's download links sent before the rendering moved here.
        assert_eq!(
            error_xml("AccessDenied", "Request has expired", None),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>AccessDenied</Code>\
             <Message>Request has expired</Message></Error>"
        );
        assert_eq!(
            crate::s3::post_policy::post_response_xml("http://h/b/k&1", "b", "k&1", "abc"),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<PostResponse><Location>http://h/b/k&amp;1\
             </Location><Bucket>b</Bucket><Key>k&amp;1</Key><ETag>\"abc\"</ETag></PostResponse>"
        );
    }
}
