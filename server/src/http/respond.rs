//! The one responder for every JSON answer (`application/scim+json` for SCIM,
//! `application/json` for the admin API and the operations endpoints), and the catcher that turns
//! every answer Rocket makes itself into a SCIM Error message (through [`super::error`]).

use std::io::Cursor;

use rocket::http::{ContentType, Header, Status};
use rocket::response::{self, Body, Responder, Response};
use rocket::Request;
use serde::Serialize;
use serde_json::Value;

use super::error::{from_status, ApiError, ApiResult};

/// `application/scim+json`.
pub fn scim_content_type() -> ContentType {
    ContentType::new("application", "scim+json")
}

/// Which JSON media type an answer is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Media {
    /// `application/scim+json`.
    Scim,
    /// `application/json`.
    Json,
}

/// A successful JSON answer.
#[derive(Debug)]
pub struct Answer {
    pub status: Status,
    pub media: Media,
    /// The body as sent.
    pub body: Option<Vec<u8>>,
    pub etag: Option<String>,
    pub location: Option<String>,
}

impl Answer {
    /// 200 with a SCIM body built as a value (discovery, bulk).
    pub fn scim(body: Value) -> Self {
        Answer {
            status: Status::Ok,
            media: Media::Scim,
            // A `Value` has string keys only: writing it to memory cannot fail.
            body: Some(body.to_string().into_bytes()),
            etag: None,
            location: None,
        }
    }

    /// 200 with a SCIM body the core wrote as JSON text (a resource, a page of them).
    pub fn scim_text(body: Vec<u8>) -> Self {
        Answer {
            status: Status::Ok,
            media: Media::Scim,
            body: Some(body),
            etag: None,
            location: None,
        }
    }

    /// A SCIM answer without a body (204, 304).
    pub fn empty(status: Status) -> Self {
        Answer {
            status,
            media: Media::Scim,
            body: None,
            etag: None,
            location: None,
        }
    }

    /// An `application/json` answer of a typed value.
    pub fn json(status: Status, value: &impl Serialize) -> ApiResult<Self> {
        let body = serde_json::to_vec(value)
            .map_err(|e| ApiError::Core(scim_core::Error::Internal(e.to_string())))?;
        Ok(Answer {
            status,
            media: Media::Json,
            body: Some(body),
            etag: None,
            location: None,
        })
    }

    pub fn with_status(mut self, status: Status) -> Self {
        self.status = status;
        self
    }

    pub fn with_etag(mut self, etag: String) -> Self {
        self.etag = Some(etag);
        self
    }

    pub fn with_location(mut self, location: String) -> Self {
        self.location = Some(location);
        self
    }
}

/// The largest piece of an answer handed to hyper at once: a list page or a large group's
/// answer goes whole, a larger one in pieces of this size (its copy is made a piece at a time).
const MAX_CHUNK: usize = 1 << 20;

impl<'r> Responder<'r, 'static> for Answer {
    fn respond_to(self, _: &'r Request<'_>) -> response::Result<'static> {
        let mut builder = Response::build();
        builder.status(self.status);
        if let Some(bytes) = self.body {
            let media = match self.media {
                Media::Scim => scim_content_type(),
                Media::Json => ContentType::JSON,
            };
            // Rocket hands a body to hyper in chunks of 4 KiB by default, each through a
            // channel to the connection's task and each a write of its own; an answer already
            // in memory goes in one (up to `MAX_CHUNK`).
            let chunk = bytes.len().clamp(Body::DEFAULT_MAX_CHUNK, MAX_CHUNK);
            builder
                .header(media)
                .sized_body(bytes.len(), Cursor::new(bytes))
                .max_chunk_size(chunk);
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

/// The error a guard failed with, kept for the catcher (catchers cannot see a guard's error).
pub struct GuardFailure(pub Option<ApiError>);

/// Rocket's catcher for every status it produces itself: unmatched routes, failed guards, bodies
/// over the limit, panics.
#[rocket::catch(default)]
pub fn default_catcher(status: Status, req: &Request<'_>) -> ApiError {
    if let Some(e) = &req.local_cache(|| GuardFailure(None)).0 {
        return e.clone();
    }
    from_status(status)
}
