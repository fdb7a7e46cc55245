//! Discovery (RFC 7644 §4): `/ServiceProviderConfig`, `/ResourceTypes`, `/Schemas`, built from
//! the JSON files in `server/schemas/` and the configured limits.

use std::sync::Arc;

use rocket::{get, State};
use serde_json::Value;

use scim_core::error::quote;
use scim_proto::list::list_response;

use super::error::ApiResult;
use super::guards::{Query, Scim};
use super::respond::Answer;
use crate::app::App;

/// RFC 7644 §4: filtering discovery resources is not supported (403).
fn refuse_filter(q: &Query) -> ApiResult<()> {
    if q.get("filter").is_some() {
        return Err(
            scim_core::Error::Forbidden("discovery endpoints cannot be filtered".into()).into(),
        );
    }
    Ok(())
}

/// The ServiceProviderConfig, with the configured limits.
pub fn service_provider_config(app: &App, base_url: &str) -> Value {
    let limits = scim_proto::schema::Limits {
        max_results: app.config.max_results,
        bulk_max_operations: app.config.bulk_max_operations,
        max_payload_bytes: app.config.max_body_bytes,
    };
    scim_proto::schema::service_provider_config(limits, base_url)
}

#[get("/ServiceProviderConfig")]
pub fn spc(app: &State<Arc<App>>, scim: Scim, q: Query) -> ApiResult<Answer> {
    refuse_filter(&q)?;
    Ok(Answer::scim(service_provider_config(
        app,
        &scim.ctx.base_url,
    )))
}

#[get("/ResourceTypes")]
pub fn resource_types(app: &State<Arc<App>>, scim: Scim, q: Query) -> ApiResult<Answer> {
    refuse_filter(&q)?;
    let docs: Vec<Value> = app
        .core
        .registry()
        .resource_types
        .iter()
        .map(|rt| {
            app.core
                .registry()
                .resource_type_document(rt, &scim.ctx.base_url)
        })
        .collect();
    Ok(Answer::scim(list_response(docs.len(), 1, docs)))
}

#[get("/ResourceTypes/<id>")]
pub fn resource_type(app: &State<Arc<App>>, scim: Scim, id: &str) -> ApiResult<Answer> {
    let rt = app
        .core
        .registry()
        .resource_types
        .iter()
        .find(|r| r.id == id)
        .ok_or_else(|| scim_core::Error::NotFound(format!("no resource type {}", quote(id))))?;
    Ok(Answer::scim(
        app.core
            .registry()
            .resource_type_document(rt, &scim.ctx.base_url),
    ))
}

#[get("/Schemas")]
pub fn schemas(app: &State<Arc<App>>, scim: Scim, q: Query) -> ApiResult<Answer> {
    refuse_filter(&q)?;
    let docs: Vec<Value> = app
        .core
        .registry()
        .schemas
        .iter()
        .map(|s| app.core.registry().schema_document(s, &scim.ctx.base_url))
        .collect();
    Ok(Answer::scim(list_response(docs.len(), 1, docs)))
}

#[get("/Schemas/<id>")]
pub fn schema(app: &State<Arc<App>>, scim: Scim, id: &str) -> ApiResult<Answer> {
    let s = app
        .core
        .registry()
        .schema(id)
        .ok_or_else(|| scim_core::Error::NotFound(format!("no schema {}", quote(id))))?;
    Ok(Answer::scim(
        app.core.registry().schema_document(s, &scim.ctx.base_url),
    ))
}

pub fn routes() -> Vec<rocket::Route> {
    rocket::routes![spc, resource_types, resource_type, schemas, schema]
}
