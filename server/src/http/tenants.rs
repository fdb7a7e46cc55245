//! The operator's routes under `/admin/v1`: the tenants themselves (list, create, change, delete)
//! and the operator's feed. Operator keys only; a tenant's admin key is refused with 403, a SCIM
//! key with 403, anything else with 401.

use std::sync::Arc;

use rocket::http::Status;
use rocket::{delete, get, patch, post, State};
use scim_core::model::{Tenant, TenantId, TenantStatus};
use scim_core::views::KeyInfo;
use scim_core::NewTenant;
use serde::Serialize;
use serde_json::Value;

use super::admin::{feed_params, invalid};
use super::error::ApiResult;
use super::guards::{origin_of, Body, Operator, Query};
use super::respond::Answer;
use super::tenancy::scim_base;
use crate::app::App;

/// A tenant as the operator sees it: with its SCIM base URL, which its customer pastes into
/// their identity provider.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TenantView {
    #[serde(flatten)]
    pub tenant: Tenant,
    pub scim_base_url: String,
}

/// A tenant just created: its first SCIM key, shown once.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CreatedTenant {
    #[serde(flatten)]
    pub tenant: TenantView,
    pub key: String,
    pub key_info: KeyInfo,
}

/// A tenant with its SCIM base URL under `origin` (also for the web page's tenants).
pub(crate) fn view(app: &App, origin: &str, tenant: Tenant) -> TenantView {
    TenantView {
        scim_base_url: scim_base(origin, &tenant.id, &app.config.base_path),
        tenant,
    }
}

fn tenant_id(text: &str) -> ApiResult<TenantId> {
    TenantId::parse(text).map_err(invalid)
}

fn text<'b>(body: &'b Value, name: &str) -> ApiResult<Option<&'b str>> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(invalid(format!("'{name}' must be a string"))),
    }
}

/// Every tenant, with its SCIM base URL under `origin`.
pub(crate) async fn views(app: &App, origin: &str) -> Result<Vec<TenantView>, scim_core::Error> {
    let all = app.core.tenants().await?;
    Ok(all.into_iter().map(|t| view(app, origin, t)).collect())
}

#[get("/tenants")]
pub async fn list(app: &State<Arc<App>>, op: Operator) -> ApiResult<Answer> {
    let origin = origin_of(&op.ctx.base_url, &app.config.base_path);
    Answer::json(Status::Ok, &views(app, &origin).await?)
}

/// `{"id": "acme", "name": "Acme Corp", "defaultRole": "Everyone"}`: the answer holds the
/// tenant's SCIM base URL and its first SCIM key, shown once.
#[post("/tenants", data = "<body>")]
pub async fn create(app: &State<Arc<App>>, op: Operator, body: Body) -> ApiResult<Answer> {
    let body = body.0?;
    let id = text(&body, "id")?
        .ok_or_else(|| invalid("send {\"id\": \"acme\", \"name\": \"Acme Corp\"}"))?;
    let new = NewTenant {
        id: tenant_id(id)?,
        name: text(&body, "name")?.unwrap_or(id).to_string(),
        default_role: text(&body, "defaultRole")?.map(str::to_string),
    };
    let (tenant, key_info, key) = app.core.create_tenant(new, op.ctx.actor.clone()).await?;
    let origin = origin_of(&op.ctx.base_url, &app.config.base_path);
    let created = CreatedTenant {
        tenant: view(app, &origin, tenant),
        key,
        key_info,
    };
    Answer::json(Status::Created, &created)
}

#[get("/tenants/<id>")]
pub async fn one(app: &State<Arc<App>>, op: Operator, id: &str) -> ApiResult<Answer> {
    let tenant = app.core.tenant(&tenant_id(id)?).await?;
    let origin = origin_of(&op.ctx.base_url, &app.config.base_path);
    Answer::json(Status::Ok, &view(app, &origin, tenant))
}

/// `{"name": …, "defaultRole": …, "status": "active" | "disabled"}`, each optional.
#[patch("/tenants/<id>", data = "<body>")]
pub async fn change(
    app: &State<Arc<App>>,
    op: Operator,
    id: &str,
    body: Body,
) -> ApiResult<Answer> {
    let body = body.0?;
    let status = match text(&body, "status")? {
        None => None,
        Some("active") => Some(TenantStatus::Active),
        Some("disabled") => Some(TenantStatus::Disabled),
        Some(_) => return Err(invalid("'status' is 'active' or 'disabled'")),
    };
    let tenant = app
        .core
        .update_tenant(
            &tenant_id(id)?,
            text(&body, "name")?,
            text(&body, "defaultRole")?,
            status,
            op.ctx.actor.clone(),
        )
        .await?;
    let origin = origin_of(&op.ctx.base_url, &app.config.base_path);
    Answer::json(Status::Ok, &view(app, &origin, tenant))
}

/// Deletes a disabled tenant and all its data: `?confirm=true` is required.
#[delete("/tenants/<id>")]
pub async fn remove(app: &State<Arc<App>>, op: Operator, id: &str, q: Query) -> ApiResult<Answer> {
    let confirm = q
        .get("confirm")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    app.core
        .delete_tenant(&tenant_id(id)?, confirm, op.ctx.actor.clone())
        .await?;
    Ok(Answer::empty(Status::NoContent))
}

/// The operator's feed: tenants created, changed and deleted, operator keys.
#[get("/operator/audit")]
pub async fn audit(app: &State<Arc<App>>, _op: Operator, q: Query) -> ApiResult<Answer> {
    let (after, limit) = feed_params(&q)?;
    Answer::json(Status::Ok, &app.core.operator_audit(after, limit).await?)
}

pub fn routes() -> Vec<rocket::Route> {
    rocket::routes![list, create, one, change, remove, audit]
}
