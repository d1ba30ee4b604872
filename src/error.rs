//! The one client-facing error type: what a client can tell apart, its NEX code,
//! result code and HTTP status (DESIGN §10). Free of HTTP and XML: the handlers
//! answer it (`handlers::respond`), the codec renders its `<nex><error>` body.

use std::fmt;

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
    /// The body stopped coming before it was whole.
    RequestTimeout,
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
            ErrorKind::RequestTimeout => "Core::Timeout",
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
            ErrorKind::RequestTimeout => "0x0001000B",
        }
    }

    /// The HTTP status code of the answer.
    pub fn status(self) -> u16 {
        match self {
            ErrorKind::InvalidArgument | ErrorKind::MalformedRequest => 400,
            ErrorKind::PermissionDenied
            | ErrorKind::UnderReviewing
            | ErrorKind::OperationNotAllowed => 403,
            ErrorKind::NotFound | ErrorKind::NoSuchEndpoint => 404,
            ErrorKind::OverCapacity => 409,
            ErrorKind::Unknown => 500,
            ErrorKind::PayloadTooLarge => 413,
            ErrorKind::MethodNotAllowed => 405,
            ErrorKind::AccessDenied => 401,
            ErrorKind::RequestTimeout => 408,
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

    /// What the client is told: the message, or nothing of an internal cause.
    pub fn client_message(&self) -> &str {
        if self.kind == ErrorKind::Unknown {
            "internal error"
        } else {
            &self.message
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_causes_are_never_told() {
        let err = ApiError::internal("disk on fire at /secret/path");
        assert_eq!(err.client_message(), "internal error");
        assert_eq!(err.kind.status(), 500);
        assert!(
            err.to_string().contains("secret"),
            "the log keeps the cause"
        );
    }
}
