//! The one client-facing error type: what a client can tell apart, its NEX code,
//! result code and HTTP status, rendered as the `<nex><error>` body of DESIGN §10.

use std::fmt;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};

type Source = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Every failure a client can see. Internal causes stay in `source`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// A value breaks a DataStore rule (limits, enums, ranges, Base64).
    InvalidArgument,
    PermissionDenied,
    NotFound,
    UnderReviewing,
    OverCapacity,
    OperationNotAllowed,
    /// A server-side failure; its cause is logged, never sent.
    Unknown,
    /// The request itself is malformed: XML syntax, a number that is not a number.
    MalformedRequest,
    /// The body is larger than the configured limit.
    PayloadTooLarge,
    /// No endpoint at this path.
    NoSuchEndpoint,
    /// The endpoint exists but not for this method.
    MethodNotAllowed,
    /// Missing, unknown or revoked token.
    AccessDenied,
}

impl ErrorKind {
    /// The NEX error name sent in `<code>`.
    pub fn code(self) -> &'static str {
        match self {
            ErrorKind::InvalidArgument => "DataStore::InvalidArgument",
            ErrorKind::PermissionDenied => "DataStore::PermissionDenied",
            ErrorKind::NotFound => "DataStore::NotFound",
            ErrorKind::UnderReviewing => "DataStore::UnderReviewing",
            ErrorKind::OverCapacity => "DataStore::OverCapacity",
            ErrorKind::OperationNotAllowed => "DataStore::OperationNotAllowed",
            ErrorKind::Unknown => "DataStore::Unknown",
            ErrorKind::MalformedRequest
            | ErrorKind::PayloadTooLarge
            | ErrorKind::NoSuchEndpoint
            | ErrorKind::MethodNotAllowed => "Core::InvalidArgument",
            ErrorKind::AccessDenied => "Core::AccessDenied",
        }
    }

    /// The NEX result code sent in `<result_code>`.
    pub fn result_code(self) -> &'static str {
        match self {
            ErrorKind::InvalidArgument => "0x00690002",
            ErrorKind::PermissionDenied => "0x00690003",
            ErrorKind::NotFound => "0x00690004",
            ErrorKind::UnderReviewing => "0x00690006",
            ErrorKind::OverCapacity => "0x0069000A",
            ErrorKind::OperationNotAllowed => "0x0069000B",
            ErrorKind::Unknown => "0x00690001",
            ErrorKind::MalformedRequest
            | ErrorKind::PayloadTooLarge
            | ErrorKind::NoSuchEndpoint
            | ErrorKind::MethodNotAllowed => "0x0001000A",
            ErrorKind::AccessDenied => "0x00010006",
        }
    }

    pub fn status(self) -> StatusCode {
        match self {
            ErrorKind::InvalidArgument | ErrorKind::MalformedRequest => StatusCode::BAD_REQUEST,
            ErrorKind::PermissionDenied
            | ErrorKind::UnderReviewing
            | ErrorKind::OperationNotAllowed => StatusCode::FORBIDDEN,
            ErrorKind::NotFound | ErrorKind::NoSuchEndpoint => StatusCode::NOT_FOUND,
            ErrorKind::OverCapacity => StatusCode::CONFLICT,
            ErrorKind::Unknown => StatusCode::INTERNAL_SERVER_ERROR,
            ErrorKind::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorKind::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ErrorKind::AccessDenied => StatusCode::UNAUTHORIZED,
        }
    }
}

/// An error on its way to the client.
#[derive(Debug)]
pub struct ApiError {
    pub kind: ErrorKind,
    pub message: String,
    source: Option<Source>,
}

impl ApiError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        ApiError {
            kind,
            message: message.into(),
            source: None,
        }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidArgument, message)
    }

    pub fn malformed(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::MalformedRequest, message)
    }

    pub fn not_found(data_id: u64) -> Self {
        Self::new(ErrorKind::NotFound, format!("data_id {data_id} not found"))
    }

    pub fn permission_denied(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::PermissionDenied, message)
    }

    pub fn not_allowed(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::OperationNotAllowed, message)
    }

    pub fn access_denied(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::AccessDenied, message)
    }

    /// A server-side failure: the cause is kept for the log only.
    pub fn internal(source: impl Into<Source>) -> Self {
        ApiError {
            kind: ErrorKind::Unknown,
            message: "internal error".to_owned(),
            source: Some(source.into()),
        }
    }

    /// The body of DESIGN §10, compact, as it is written there.
    pub fn to_xml(&self) -> String {
        let message = if self.kind == ErrorKind::Unknown {
            "internal error"
        } else {
            &self.message
        };
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><nex><error><code>{}</code>\
             <result_code>{}</result_code><message>{}</message></error></nex>",
            self.kind.code(),
            self.kind.result_code(),
            quick_xml::escape::escape(message)
        )
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind.code(), self.message)?;
        let mut cause = self.source.as_deref().map(|s| s as &dyn std::error::Error);
        while let Some(err) = cause {
            write!(f, ": {err}")?;
            cause = err.source();
        }
        Ok(())
    }
}

impl std::error::Error for ApiError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|s| s as &(dyn std::error::Error + 'static))
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.kind.status()
    }

    fn error_response(&self) -> HttpResponse {
        if self.kind == ErrorKind::Unknown {
            log::error!("{self}");
        } else {
            log::debug!("{self}");
        }
        let mut response = HttpResponse::build(self.status_code());
        response.insert_header((header::CONTENT_TYPE, crate::xml::CONTENT_TYPE));
        if self.kind == ErrorKind::AccessDenied {
            response.insert_header((
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"nexds\""),
            ));
        }
        response.body(self.to_xml())
    }
}

impl From<rusqlite::Error> for ApiError {
    fn from(err: rusqlite::Error) -> Self {
        ApiError::internal(err)
    }
}

impl From<r2d2::Error> for ApiError {
    fn from(err: r2d2::Error) -> Self {
        ApiError::internal(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_body_is_the_design_envelope() {
        let err = ApiError::not_found(10);
        assert_eq!(
            err.to_xml(),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><nex><error><code>DataStore::NotFound</code>\
             <result_code>0x00690004</result_code><message>data_id 10 not found</message></error></nex>"
        );
        assert_eq!(err.status_code(), StatusCode::NOT_FOUND);
    }

    #[test]
    fn internal_causes_are_never_sent() {
        let err = ApiError::internal("disk on fire at /secret/path");
        assert!(!err.to_xml().contains("secret"));
        assert_eq!(err.status_code(), StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[test]
    fn messages_are_escaped() {
        let err = ApiError::invalid("<name> too long & more");
        assert!(err.to_xml().contains("&lt;name&gt; too long &amp; more"));
    }
}
