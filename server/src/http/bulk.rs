//! A bulk request's outcomes as a BulkResponse (RFC 7644 §3.7.3): each success with its status
//! and location, each failure with the status and SCIM Error message of [`super::error`].

use scim_core::bulk::{Applied, Outcome};
use scim_proto::bulk;
use scim_proto::resource::etag;
use serde_json::Value;

use super::error::ApiError;

pub fn response(outcomes: &[Outcome], base_url: &str) -> Value {
    let entries: Vec<bulk::Outcome> = outcomes
        .iter()
        .map(|o| {
            let (status, kind, id, version) = match &o.result {
                Ok(Applied::Created { kind, id, version }) => (201, *kind, id, Some(*version)),
                Ok(Applied::Updated { kind, id, version }) => (200, *kind, id, Some(*version)),
                Ok(Applied::Deleted { kind, id }) => (204, *kind, id, None),
                Err(e) => {
                    let e = ApiError::from(e.clone());
                    return bulk::Outcome {
                        method: o.method,
                        bulk_id: o.bulk_id.clone(),
                        location: None,
                        version: None,
                        status: e.status(),
                        response: Some(e.body()),
                    };
                }
            };
            bulk::Outcome {
                method: o.method,
                bulk_id: o.bulk_id.clone(),
                location: Some(format!("{base_url}/{}/{id}", kind.endpoint())),
                version: version.map(etag),
                status,
                response: None,
            }
        })
        .collect();
    bulk::response(&entries)
}
