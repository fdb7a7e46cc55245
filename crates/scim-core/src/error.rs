//! What a core operation refuses, and why. The server maps each variant to an HTTP status and a
//! SCIM Error message in one place (its `http::error`).

use crate::model::{IndexKey, Kind, StoredKind};
use crate::store::StoreError;
pub use scim_proto::error::quote;

/// Why authentication failed. Kept apart so the 401 body can say what to fix without ever
/// echoing the credential.
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
    /// The request breaks the protocol (a 400 with its `scimType`, or a bulk over its limits).
    #[error(transparent)]
    Protocol(#[from] scim_proto::Error),
    #[error("{}", .0.detail())]
    Unauthorized(AuthFailure),
    /// The key is valid but not for this API.
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    /// A unique attribute is taken (`uniqueness`).
    #[error("{0}")]
    Conflict(String),
    /// A bulk operation refers to a `bulkId` that cannot be resolved (RFC 7644 §3.7.1).
    #[error("{0}")]
    BulkReference(String),
    /// `If-Match` named a version that is no longer current.
    #[error("{0}")]
    PreconditionFailed(String),
    /// The change could not be made now (the store cannot write, too many concurrent changes):
    /// try again later.
    #[error("{0}")]
    Unavailable(String),
    /// A fault of the store or of this program; the detail is for the log, never the client.
    #[error("internal error: {0}")]
    Internal(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn invalid_value(detail: impl Into<String>) -> Self {
        Error::Protocol(scim_proto::Error::invalid_value(detail))
    }

    pub fn not_found(kind: Kind, id: &str) -> Self {
        Error::NotFound(format!("{} {} not found", kind.name(), quote(id)))
    }

    /// A store's refusal, as a client hears it.
    pub fn from_store(e: StoreError, kind: Kind, id: &str) -> Self {
        match e {
            StoreError::Missing => Error::not_found(kind, id),
            StoreError::Taken(key) => Error::Conflict(taken(&key).into()),
            StoreError::NoSuchMember(m) => Error::invalid_value(no_such_member(&m.value, m.kind)),
            other => Error::from(other),
        }
    }
}

/// What a client hears when a unique attribute is taken.
fn taken(key: &IndexKey) -> &'static str {
    match key {
        IndexKey::UserName(_) => "userName is already taken",
        _ => "displayName is already taken",
    }
}

/// What a client hears when a member does not exist.
pub(crate) fn no_such_member(id: &str, kind: StoredKind) -> String {
    format!(
        "member {} is not an existing {}",
        quote(id),
        Kind::from(kind).name()
    )
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Refused(detail) => Error::invalid_value(detail),
            StoreError::Gone => Error::NotFound("the tenant was deleted".into()),
            StoreError::Unavailable(why) => Error::Unavailable(format!(
                "the store is unavailable ({why}): try again shortly"
            )),
            other => Error::Internal(other.to_string()),
        }
    }
}
