//! The admin API under `/admin/v1`, for the product's administrators: users with their profiles,
//! display-name overrides, revision histories, the audit feed and API keys. Admin keys only.
//! Answers are `application/json`; errors have the one shape every error has.

use std::sync::Arc;

use rocket::http::Status;
use rocket::{delete, get, patch, post, State};
use scim_core::auth::KeyKind;
use scim_core::error::quote;
use scim_core::views::MintedKey;
use scim_proto::schema::Kind;
use serde_json::Value;

use super::error::ApiResult;
use super::guards::{Admin, Body, Query};
use super::respond::Answer;
use crate::app::App;

/// The path the admin API is mounted at.
pub const BASE: &str = "/admin/v1";

fn ok(value: &impl serde::Serialize) -> ApiResult<Answer> {
    Answer::json(Status::Ok, value)
}

fn invalid(detail: impl Into<String>) -> super::error::ApiError {
    scim_proto::Error::invalid_value(detail).into()
}

/// A non-negative integer query parameter, `default` when absent (400 when malformed).
fn number(q: &Query, name: &str, default: u64) -> ApiResult<u64> {
    match q.get(name) {
        None | Some("") => Ok(default),
        Some(text) => text.trim().parse().map_err(|_| {
            invalid(format!(
                "{name} must be a non-negative integer, not {}",
                quote(text)
            ))
        }),
    }
}

fn paging(q: &Query) -> ApiResult<(usize, usize)> {
    let start = usize::try_from(number(q, "startIndex", 1)?.max(1)).unwrap_or(usize::MAX);
    let count = usize::try_from(number(q, "count", 100)?).unwrap_or(usize::MAX);
    Ok((start, count))
}

#[get("/users")]
pub async fn users(app: &State<Arc<App>>, _admin: Admin, q: Query) -> ApiResult<Answer> {
    let (start, count) = paging(&q)?;
    ok(&app.core.admin_users(start, count).await?)
}

#[get("/users/<id>")]
pub async fn user(app: &State<Arc<App>>, admin: Admin, id: &str) -> ApiResult<Answer> {
    ok(&app.core.admin_user(id, &admin.ctx).await?)
}

/// `{"displayName": "..."}`: the administrator's override of the profile's display name.
#[patch("/users/<id>", data = "<body>")]
pub async fn edit_user(
    app: &State<Arc<App>>,
    admin: Admin,
    id: &str,
    body: Body,
) -> ApiResult<Answer> {
    let body = body.0?;
    let name = body
        .get("displayName")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("send {\"displayName\": \"...\"}"))?;
    ok(&app
        .core
        .admin_set_display_name(id, name, &admin.ctx)
        .await?)
}

#[get("/users/<id>/history")]
pub async fn user_history(
    app: &State<Arc<App>>,
    _admin: Admin,
    id: &str,
    q: Query,
) -> ApiResult<Answer> {
    history(app, Kind::User, id, &q).await
}

#[get("/groups/<id>/history")]
pub async fn group_history(
    app: &State<Arc<App>>,
    _admin: Admin,
    id: &str,
    q: Query,
) -> ApiResult<Answer> {
    history(app, Kind::Group, id, &q).await
}

/// A resource's history, a page at a time (`startIndex`, `count`).
async fn history(app: &App, kind: Kind, id: &str, q: &Query) -> ApiResult<Answer> {
    let (start, count) = paging(q)?;
    ok(&app.core.history(kind, id, start, count).await?)
}

/// The whole feed, oldest first: `after` a sequence number, at most `limit` entries.
#[get("/audit")]
pub async fn audit(app: &State<Arc<App>>, _admin: Admin, q: Query) -> ApiResult<Answer> {
    let after = number(&q, "after", 0)?;
    let limit = usize::try_from(number(&q, "limit", 100)?).unwrap_or(usize::MAX);
    ok(&app.core.audit(after, limit).await?)
}

#[get("/keys")]
pub async fn keys(app: &State<Arc<App>>, _admin: Admin) -> ApiResult<Answer> {
    ok(&app.core.keys().await?)
}

/// `{"label": "...", "admin": false}`: the answer shows the new key, once.
#[post("/keys", data = "<body>")]
pub async fn create_key(app: &State<Arc<App>>, admin: Admin, body: Body) -> ApiResult<Answer> {
    let body = body.0?;
    let label = body
        .get("label")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("send {\"label\": \"...\", \"admin\": false}"))?;
    let kind = match body.get("admin") {
        None | Some(Value::Null) | Some(Value::Bool(false)) => KeyKind::Scim,
        Some(Value::Bool(true)) => KeyKind::Admin,
        Some(_) => return Err(invalid("'admin' must be a boolean")),
    };
    let (info, key) = app
        .core
        .mint_key(label, kind, admin.ctx.actor.clone())
        .await?;
    Answer::json(Status::Created, &MintedKey { key, info })
}

#[delete("/keys/<id>")]
pub async fn revoke_key(app: &State<Arc<App>>, admin: Admin, id: &str) -> ApiResult<Answer> {
    ok(&app.core.revoke_key(id, admin.ctx.actor.clone()).await?)
}

pub fn routes() -> Vec<rocket::Route> {
    rocket::routes![
        users,
        user,
        edit_user,
        user_history,
        group_history,
        audit,
        keys,
        create_key,
        revoke_key
    ]
}
