//! The one domain error type. Every failure a request can meet is a variant here;
//! `http::respond` maps it to a SCIM error response (RFC 7644 §3.12) in one place.

use std::fmt;

pub use scim_proto::error::{quote, ScimType};

/// Why authentication failed. Kept apart so the 401 body can say what to fix without
/// ever echoing the credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthFailure {
    Missing,
    WrongScheme,
    Empty,
    Invalid,
}

impl AuthFailure {
    pub fn detail(self) -> &'static str {
        match self {
            AuthFailure::Missing => {
                "Authorization header missing: send 'Authorization: Bearer <API key>'"
            }
            AuthFailure::WrongScheme => "Unsupported authorization scheme: use 'Bearer'",
            AuthFailure::Empty => "Empty bearer token",
            AuthFailure::Invalid => "Invalid or revoked API key",
        }
    }
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    /// 400 with a `scimType`.
    #[error("{detail}")]
    BadRequest { scim_type: ScimType, detail: String },
    /// 400 without a `scimType` (none of RFC 7644's fits).
    #[error("{0}")]
    BadRequestPlain(String),
    #[error("{}", .0.detail())]
    Unauthorized(AuthFailure),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    /// 405, with the methods the resource does take (the `Allow` header).
    #[error("method not allowed: this resource takes {0}")]
    MethodNotAllowed(&'static str),
    /// 409 `uniqueness`.
    #[error("{0}")]
    Conflict(String),
    /// 409 `invalidValue`: a bulk operation refers to a `bulkId` that cannot be resolved
    /// (RFC 7644 §3.7.1).
    #[error("{0}")]
    BulkReference(String),
    /// 412: `If-Match` named a version that is no longer current.
    #[error("{0}")]
    PreconditionFailed(String),
    /// 413, `tooMany` for bulk, none for bodies.
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{0}")]
    NotImplemented(String),
    /// 429: a rate limit; retry after this many seconds.
    #[error("too many requests: retry after {0} s")]
    TooManyRequests(u64),
    /// 500: storage or another internal fault. The detail is generic on the wire; the cause is logged.
    #[error("internal error: {0}")]
    Internal(String),
    /// 503: the store cannot take writes now (disk full, read-only, shutting down).
    #[error("{0}")]
    Unavailable(String),
    /// Any other status, from Rocket's own answers.
    #[error("{detail}")]
    Other { status: u16, detail: String },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn scim(scim_type: ScimType, detail: impl Into<String>) -> Self {
        Error::BadRequest {
            scim_type,
            detail: detail.into(),
        }
    }
    pub fn invalid_value(detail: impl Into<String>) -> Self {
        Self::scim(ScimType::InvalidValue, detail)
    }
    pub fn invalid_syntax(detail: impl Into<String>) -> Self {
        Self::scim(ScimType::InvalidSyntax, detail)
    }
    pub fn invalid_filter(detail: impl Into<String>) -> Self {
        Self::scim(ScimType::InvalidFilter, detail)
    }
    pub fn invalid_path(detail: impl Into<String>) -> Self {
        Self::scim(ScimType::InvalidPath, detail)
    }
    pub fn no_target(detail: impl Into<String>) -> Self {
        Self::scim(ScimType::NoTarget, detail)
    }
    pub fn mutability(detail: impl Into<String>) -> Self {
        Self::scim(ScimType::Mutability, detail)
    }
    pub fn internal(detail: impl fmt::Display) -> Self {
        Error::Internal(detail.to_string())
    }

    /// The HTTP status code.
    pub fn status(&self) -> u16 {
        match self {
            Error::BadRequest { .. } | Error::BadRequestPlain(_) => 400,
            Error::Unauthorized(_) => 401,
            Error::Forbidden(_) => 403,
            Error::NotFound(_) => 404,
            Error::MethodNotAllowed(_) => 405,
            Error::Conflict(_) | Error::BulkReference(_) => 409,
            Error::PreconditionFailed(_) => 412,
            Error::PayloadTooLarge(_) => 413,
            Error::UnsupportedMediaType(_) => 415,
            Error::TooManyRequests(_) => 429,
            Error::Internal(_) => 500,
            Error::NotImplemented(_) => 501,
            Error::Unavailable(_) => 503,
            Error::Other { status, .. } => *status,
        }
    }

    /// The `scimType` of RFC 7644 §3.12, where one applies.
    pub fn scim_type(&self) -> Option<ScimType> {
        match self {
            Error::BadRequest { scim_type, .. } => Some(*scim_type),
            Error::Conflict(_) => Some(ScimType::Uniqueness),
            Error::BulkReference(_) => Some(ScimType::InvalidValue),
            _ => None,
        }
    }

    /// The SCIM Error message (RFC 7644 §3.12): `status` as a string, `scimType` where one applies.
    pub fn body(&self) -> serde_json::Value {
        scim_proto::error::error_body(self.status(), self.scim_type(), &self.detail())
    }

    /// The `detail` sent to the client. Internal faults are not described on the wire.
    pub fn detail(&self) -> String {
        match self {
            Error::Internal(_) => "Internal server error".to_string(),
            other => other.to_string(),
        }
    }
}

impl From<scim_proto::Error> for Error {
    fn from(e: scim_proto::Error) -> Self {
        match e {
            scim_proto::Error::Invalid { scim_type, detail } => {
                Error::BadRequest { scim_type, detail }
            }
            scim_proto::Error::TooManyOperations(detail) => Error::PayloadTooLarge(detail),
            scim_proto::Error::Bug(detail) => Error::Internal(detail),
        }
    }
}
