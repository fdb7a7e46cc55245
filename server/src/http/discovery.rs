//! Discovery (RFC 7644 §4): `/ServiceProviderConfig`, `/ResourceTypes`, `/Schemas`, built from
//! the JSON files in `server/schemas/` and the configured limits.

use std::sync::Arc;

use rocket::{get, State};
use serde_json::Value;

use super::guards::{Query, Scim};
use super::respond::ScimJson;
use crate::error::{quote, Error, Result};
use crate::scim::list::list_response;
use crate::service::App;

/// RFC 7644 §4: filtering discovery resources is not supported (403).
fn refuse_filter(q: &Query) -> Result<()> {
    if q.get("filter").is_some() {
        return Err(Error::Forbidden(
            "discovery endpoints cannot be filtered".into(),
        ));
    }
    Ok(())
}

/// The ServiceProviderConfig, with the configured limits.
pub fn service_provider_config(app: &App, base_url: &str) -> Value {
    let limits = crate::scim::schema::Limits {
        max_results: app.config.max_results,
        bulk_max_operations: app.config.bulk_max_operations,
        max_payload_bytes: app.config.max_body_bytes,
    };
    crate::scim::schema::service_provider_config(limits, base_url)
}

#[get("/ServiceProviderConfig")]
pub fn spc(app: &State<Arc<App>>, scim: Scim, q: Query) -> Result<ScimJson> {
    refuse_filter(&q)?;
    Ok(ScimJson::ok(service_provider_config(
        app,
        &scim.ctx.base_url,
    )))
}

#[get("/ResourceTypes")]
pub fn resource_types(app: &State<Arc<App>>, scim: Scim, q: Query) -> Result<ScimJson> {
    refuse_filter(&q)?;
    let docs: Vec<Value> = app
        .registry
        .resource_types
        .iter()
        .map(|rt| app.registry.resource_type_document(rt, &scim.ctx.base_url))
        .collect();
    Ok(ScimJson::ok(list_response(docs.len(), 1, docs)))
}

#[get("/ResourceTypes/<id>")]
pub fn resource_type(app: &State<Arc<App>>, scim: Scim, id: &str) -> Result<ScimJson> {
    let rt = app
        .registry
        .resource_types
        .iter()
        .find(|r| r.id == id)
        .ok_or_else(|| Error::NotFound(format!("no resource type {}", quote(id))))?;
    Ok(ScimJson::ok(
        app.registry.resource_type_document(rt, &scim.ctx.base_url),
    ))
}

#[get("/Schemas")]
pub fn schemas(app: &State<Arc<App>>, scim: Scim, q: Query) -> Result<ScimJson> {
    refuse_filter(&q)?;
    let docs: Vec<Value> = app
        .registry
        .schemas
        .iter()
        .map(|s| app.registry.schema_document(s, &scim.ctx.base_url))
        .collect();
    Ok(ScimJson::ok(list_response(docs.len(), 1, docs)))
}

#[get("/Schemas/<id>")]
pub fn schema(app: &State<Arc<App>>, scim: Scim, id: &str) -> Result<ScimJson> {
    let s = app
        .registry
        .schema(id)
        .ok_or_else(|| Error::NotFound(format!("no schema {}", quote(id))))?;
    Ok(ScimJson::ok(
        app.registry.schema_document(s, &scim.ctx.base_url),
    ))
}

pub fn routes() -> Vec<rocket::Route> {
    rocket::routes![spc, resource_types, resource_type, schemas, schema]
}
