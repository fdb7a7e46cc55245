//! What the protocol's pure functions refuse: each refusal with the `scimType` of RFC 7644 §3.12
//! that fits it. How a refusal becomes an HTTP status is the server's business (one mapping, in
//! its HTTP layer); [`error_body`] writes the SCIM Error message itself.

use std::fmt;

use serde_json::Value;

use crate::urn;

/// `scimType` values of RFC 7644 §3.12 (table 9), plus the ones RFC 7644 §3.7 (bulk) uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScimType {
    InvalidFilter,
    TooMany,
    Uniqueness,
    Mutability,
    InvalidSyntax,
    InvalidPath,
    NoTarget,
    InvalidValue,
    InvalidVers,
    Sensitive,
}

impl ScimType {
    pub fn as_str(self) -> &'static str {
        match self {
            ScimType::InvalidFilter => "invalidFilter",
            ScimType::TooMany => "tooMany",
            ScimType::Uniqueness => "uniqueness",
            ScimType::Mutability => "mutability",
            ScimType::InvalidSyntax => "invalidSyntax",
            ScimType::InvalidPath => "invalidPath",
            ScimType::NoTarget => "noTarget",
            ScimType::InvalidValue => "invalidValue",
            ScimType::InvalidVers => "invalidVers",
            ScimType::Sensitive => "sensitive",
        }
    }
}

impl fmt::Display for ScimType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A request the protocol refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The request breaks RFC 7643/7644 in a way `scim_type` names (a client error).
    #[error("{detail}")]
    Invalid { scim_type: ScimType, detail: String },
    /// A bulk request with more operations than the advertised `maxOperations`.
    #[error("{0}")]
    TooManyOperations(String),
    /// A state that the protocol's own invariants rule out (a bug, not the client's fault).
    #[error("{0}")]
    Bug(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn scim(scim_type: ScimType, detail: impl Into<String>) -> Self {
        Error::Invalid {
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

    /// The `scimType`, for a client error that has one.
    pub fn scim_type(&self) -> Option<ScimType> {
        match self {
            Error::Invalid { scim_type, .. } => Some(*scim_type),
            Error::TooManyOperations(_) | Error::Bug(_) => None,
        }
    }

    /// What went wrong, for the client (the Error message's `detail`).
    pub fn detail(&self) -> String {
        self.to_string()
    }

    /// Whether the client is at fault (a 4xx), as opposed to a bug here.
    pub fn is_client_error(&self) -> bool {
        !matches!(self, Error::Bug(_))
    }

    /// The same refusal with its detail prefixed by where it happened (`Operations[2]: …`).
    pub fn located(self, place: impl fmt::Display) -> Self {
        match self {
            Error::Invalid { scim_type, detail } => Error::Invalid {
                scim_type,
                detail: format!("{place}: {detail}"),
            },
            other => other,
        }
    }
}

/// The SCIM Error message (RFC 7644 §3.12): `status` as a string, `scimType` where one applies.
pub fn error_body(status: u16, scim_type: Option<ScimType>, detail: &str) -> Value {
    let mut body = serde_json::Map::new();
    body.insert("schemas".into(), Value::from(vec![urn::ERROR]));
    body.insert("status".into(), Value::String(status.to_string()));
    body.insert("detail".into(), Value::String(detail.to_string()));
    if let Some(t) = scim_type {
        body.insert("scimType".into(), Value::String(t.as_str().into()));
    }
    Value::Object(body)
}

/// Shortens client-supplied text quoted in an error detail, so a huge input is never echoed.
pub fn quote(s: &str) -> String {
    const MAX: usize = 64;
    if s.chars().count() <= MAX {
        format!("{s:?}")
    } else {
        let head: String = s.chars().take(MAX).collect();
        format!("{head:?}…")
    }
}
