//! The one mapping from errors to HTTP: every failure a request meets (the core's, the
//! protocol's through it, and the edge's own: methods, media types, sizes, time, rate limits)
//! becomes a status, a `scimType` where one applies, its headers (`Allow`, `Retry-After`,
//! `WWW-Authenticate`) and a SCIM Error message (RFC 7644 §3.12). The web page shows the same
//! status and detail as an HTML page.

use std::io::Cursor;

use rocket::http::{Header, Status};
use rocket::response::{self, Responder, Response};
use rocket::Request;
use scim_core::error::AuthFailure;
use scim_proto::error::{error_body, ScimType};
use serde_json::Value;

use super::respond::scim_content_type;

/// A failed request.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    Core(#[from] scim_core::Error),
    /// 400 without a `scimType`: the request could not be read.
    #[error("{0}")]
    BadRequest(String),
    /// 405, with the methods the resource does take.
    #[error("method not allowed: this resource takes {0}")]
    MethodNotAllowed(&'static str),
    /// 413: a body over the limit.
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{0}")]
    NotImplemented(String),
    /// 429: a rate limit; retry after this many seconds.
    #[error("too many requests: retry after {0} s")]
    TooManyRequests(u64),
    /// 408: the body did not arrive within this many seconds.
    #[error("the request body did not arrive within {0} s")]
    Timeout(u32),
    /// Any other status, from Rocket's own answers.
    #[error("{detail}")]
    Other { status: u16, detail: String },
}

pub type ApiResult<T> = std::result::Result<T, ApiError>;

impl From<scim_proto::Error> for ApiError {
    fn from(e: scim_proto::Error) -> Self {
        ApiError::Core(e.into())
    }
}

/// The `Retry-After` of a 503: how long the store is expected to stay out of reach (seconds).
const UNAVAILABLE_RETRY_SECS: u32 = 2;

impl ApiError {
    /// The HTTP status code.
    pub fn status(&self) -> u16 {
        use scim_core::Error as C;
        match self {
            ApiError::Core(e) => match e {
                C::Protocol(scim_proto::Error::Invalid { .. }) => 400,
                C::Protocol(scim_proto::Error::TooManyOperations(_)) => 413,
                C::Protocol(scim_proto::Error::Bug(_)) | C::Internal(_) => 500,
                C::Unauthorized(_) => 401,
                C::Forbidden(_) => 403,
                C::NotFound(_) => 404,
                C::Conflict(_) | C::BulkReference(_) => 409,
                C::PreconditionFailed(_) => 412,
                C::Unavailable(_) => 503,
            },
            ApiError::BadRequest(_) => 400,
            ApiError::MethodNotAllowed(_) => 405,
            ApiError::Timeout(_) => 408,
            ApiError::PayloadTooLarge(_) => 413,
            ApiError::UnsupportedMediaType(_) => 415,
            ApiError::TooManyRequests(_) => 429,
            ApiError::NotImplemented(_) => 501,
            ApiError::Other { status, .. } => *status,
        }
    }

    /// The `scimType` of RFC 7644 §3.12, where one applies.
    pub fn scim_type(&self) -> Option<ScimType> {
        use scim_core::Error as C;
        match self {
            ApiError::Core(C::Protocol(e)) => e.scim_type(),
            ApiError::Core(C::Conflict(_)) => Some(ScimType::Uniqueness),
            ApiError::Core(C::BulkReference(_)) => Some(ScimType::InvalidValue),
            _ => None,
        }
    }

    /// The `detail` sent to the client. Internal faults are not described on the wire.
    pub fn detail(&self) -> String {
        if self.status() == 500 {
            return "Internal server error".to_string();
        }
        self.to_string()
    }

    /// The SCIM Error message.
    pub fn body(&self) -> Value {
        error_body(self.status(), self.scim_type(), &self.detail())
    }

    /// The cause of an internal fault, for the log.
    pub fn internal_cause(&self) -> Option<String> {
        (self.status() == 500).then(|| self.to_string())
    }

    /// The headers this error's answer carries besides the body's.
    pub fn headers(&self) -> Vec<Header<'static>> {
        let mut out = Vec::new();
        match self {
            ApiError::MethodNotAllowed(allow) => out.push(Header::new("Allow", *allow)),
            ApiError::TooManyRequests(secs) => {
                out.push(Header::new("Retry-After", secs.to_string()))
            }
            // The store is out of reach for now (a database restarting, a connection lost):
            // nothing changed, and an identity provider that honours the header tries again soon
            // (RFC 9110 §10.2.3).
            ApiError::Core(scim_core::Error::Unavailable(_)) => out.push(Header::new(
                "Retry-After",
                UNAVAILABLE_RETRY_SECS.to_string(),
            )),
            _ => {}
        }
        if self.status() == 401 {
            out.push(Header::new("WWW-Authenticate", "Bearer realm=\"SCIM\""));
        }
        out
    }

    pub fn unauthorized(why: AuthFailure) -> Self {
        ApiError::Core(scim_core::Error::Unauthorized(why))
    }
}

impl<'r> Responder<'r, 'static> for ApiError {
    fn respond_to(self, req: &'r Request<'_>) -> response::Result<'static> {
        if let Some(cause) = self.internal_cause() {
            tracing::error!(request_id = %super::request_id(req), cause = %cause, "internal error");
        }
        let bytes = serde_json::to_vec(&self.body()).map_err(|_| Status::InternalServerError)?;
        let mut builder = Response::build();
        builder
            .status(Status::new(self.status()))
            .header(scim_content_type())
            .sized_body(bytes.len(), Cursor::new(bytes));
        for h in self.headers() {
            builder.header(h);
        }
        Ok(builder.finalize())
    }
}

/// Rocket's own statuses (unmatched routes, failed guards, bodies over the limit, panics) as
/// errors. A 422 (Rocket's answer to a parameter it could not parse) becomes 400.
pub fn from_status(status: Status) -> ApiError {
    match status.code {
        400 => ApiError::BadRequest("the request could not be understood".into()),
        401 => ApiError::unauthorized(AuthFailure::Missing),
        404 => ApiError::Core(scim_core::Error::NotFound(
            "no resource at this path".into(),
        )),
        405 => ApiError::MethodNotAllowed("GET"),
        413 => ApiError::PayloadTooLarge("the request body is too large".into()),
        415 => {
            ApiError::UnsupportedMediaType("send application/scim+json or application/json".into())
        }
        422 => scim_proto::Error::invalid_syntax("the request could not be parsed").into(),
        500 => ApiError::Core(scim_core::Error::Internal(
            "unhandled failure (a panic or a responder error)".into(),
        )),
        code => ApiError::Other {
            status: code,
            detail: status.reason_lossy().to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_maps_to_its_status_and_scim_type() {
        use scim_core::Error as C;
        let cases: Vec<(ApiError, u16, Option<ScimType>)> = vec![
            (
                scim_proto::Error::invalid_filter("f").into(),
                400,
                Some(ScimType::InvalidFilter),
            ),
            (
                scim_proto::Error::TooManyOperations("n".into()).into(),
                413,
                None,
            ),
            (
                C::Conflict("taken".into()).into(),
                409,
                Some(ScimType::Uniqueness),
            ),
            (
                C::BulkReference("b".into()).into(),
                409,
                Some(ScimType::InvalidValue),
            ),
            (C::PreconditionFailed("v".into()).into(), 412, None),
            (C::Unavailable("later".into()).into(), 503, None),
            (C::Internal("disk on fire".into()).into(), 500, None),
            (ApiError::MethodNotAllowed("GET"), 405, None),
            (ApiError::Timeout(30), 408, None),
            (ApiError::TooManyRequests(3), 429, None),
        ];
        for (e, status, scim_type) in cases {
            assert_eq!((e.status(), e.scim_type()), (status, scim_type), "{e:?}");
            assert_eq!(e.body()["status"], status.to_string());
        }
        let internal = ApiError::from(C::Internal("disk on fire".into()));
        assert_eq!(
            internal.detail(),
            "Internal server error",
            "causes stay in the log"
        );
        let names = |e: ApiError| -> Vec<String> {
            e.headers().iter().map(|h| h.name().to_string()).collect()
        };
        assert_eq!(names(ApiError::TooManyRequests(3)), ["Retry-After"]);
        assert_eq!(
            names(C::Unavailable("later".into()).into()),
            ["Retry-After"]
        );
        assert_eq!(names(ApiError::MethodNotAllowed("GET")), ["Allow"]);
        assert_eq!(
            names(ApiError::unauthorized(AuthFailure::Invalid)),
            ["WWW-Authenticate"]
        );
    }
}
