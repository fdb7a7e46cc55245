//! Responders and catchers: every response is `application/scim+json`, and every error, Rocket's
//! own included, is a SCIM Error message (RFC 7644 §3.12). The one mapping from [`Error`] to HTTP.

use std::io::Cursor;

use rocket::http::{ContentType, Header, Status};
use rocket::response::{self, Responder, Response};
use rocket::Request;
use serde_json::Value;

use crate::error::{AuthFailure, Error};

/// `application/scim+json`.
pub fn scim_content_type() -> ContentType {
    ContentType::new("application", "scim+json")
}

/// A successful SCIM response.
#[derive(Debug)]
pub struct ScimJson {
    pub status: Status,
    pub body: Option<Value>,
    pub etag: Option<String>,
    pub location: Option<String>,
}

impl ScimJson {
    pub fn ok(body: Value) -> Self {
        ScimJson {
            status: Status::Ok,
            body: Some(body),
            etag: None,
            location: None,
        }
    }
    pub fn with_etag(mut self, etag: String) -> Self {
        self.etag = Some(etag);
        self
    }
}

impl<'r> Responder<'r, 'static> for ScimJson {
    fn respond_to(self, _: &'r Request<'_>) -> response::Result<'static> {
        let mut builder = Response::build();
        builder.status(self.status);
        if let Some(body) = self.body {
            // A list's size is known roughly in advance: one buffer instead of a dozen regrowths.
            let hint = body
                .get("Resources")
                .and_then(serde_json::Value::as_array)
                .map_or(1024, |r| 1024 + r.len() * 1024);
            let mut bytes = Vec::with_capacity(hint);
            serde_json::to_writer(&mut bytes, &body).map_err(|_| Status::InternalServerError)?;
            builder
                .header(scim_content_type())
                .sized_body(bytes.len(), Cursor::new(bytes));
        }
        if let Some(etag) = self.etag {
            builder.header(Header::new("ETag", etag));
        }
        if let Some(location) = self.location {
            builder.header(Header::new("Location", location));
        }
        Ok(builder.finalize())
    }
}

impl<'r> Responder<'r, 'static> for Error {
    fn respond_to(self, req: &'r Request<'_>) -> response::Result<'static> {
        if let Error::Internal(cause) = &self {
            tracing::error!(request_id = %super::request_id(req), cause = %cause, "internal error");
        }
        let status = Status::new(self.status());
        let bytes = serde_json::to_vec(&self.body()).map_err(|_| Status::InternalServerError)?;
        let mut builder = Response::build();
        builder
            .status(status)
            .header(scim_content_type())
            .sized_body(bytes.len(), Cursor::new(bytes));
        if let Error::MethodNotAllowed(allow) = &self {
            builder.header(Header::new("Allow", *allow));
        }
        if let Error::TooManyRequests(secs) = &self {
            builder.header(Header::new("Retry-After", secs.to_string()));
        }
        if status == Status::Unauthorized {
            builder.header(Header::new("WWW-Authenticate", "Bearer realm=\"SCIM\""));
        }
        Ok(builder.finalize())
    }
}

/// The error a guard failed with, kept for the catcher (catchers cannot see a guard's error).
pub struct GuardFailure(pub Option<Error>);

/// Rocket's catcher for every status it produces itself: unmatched routes, failed guards, bodies
/// over the limit, panics. A 422 (Rocket's answer to a parameter it could not parse) becomes 400.
#[rocket::catch(default)]
pub fn default_catcher(status: Status, req: &Request<'_>) -> Error {
    if let Some(e) = &req.local_cache(|| GuardFailure(None)).0 {
        return e.clone();
    }
    match status.code {
        400 => Error::BadRequestPlain("the request could not be understood".into()),
        401 => Error::Unauthorized(AuthFailure::Missing),
        404 => Error::NotFound("no resource at this path".into()),
        405 => Error::MethodNotAllowed("GET"),
        413 => Error::PayloadTooLarge("the request body is too large".into()),
        415 => Error::UnsupportedMediaType("send application/scim+json or application/json".into()),
        422 => Error::invalid_syntax("the request could not be parsed"),
        500 => Error::internal("unhandled failure (a panic or a responder error)"),
        code => Error::Other {
            status: code,
            detail: status.reason_lossy().to_string(),
        },
    }
}
