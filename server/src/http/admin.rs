//! The admin API under `/admin/v1`, for the product's administrators: users with their profiles,
//! display-name overrides, revision histories, the audit feed and API keys. Admin keys only.
//! Answers are `application/json`; errors have the one shape every error has.

use std::io::Cursor;
use std::sync::Arc;

use rocket::http::{ContentType, Status};
use rocket::response::{self, Responder, Response};
use rocket::{delete, get, patch, post, Request, State};
use serde::Serialize;
use serde_json::Value;

use super::guards::{Admin, Body, Query};
use super::routes::blocking;
use crate::error::{quote, Error, Result};
use crate::scim::schema::Kind;
use crate::service::App;
use crate::views::{AuditPage, HistoryPage, KeyInfo, MintedKey, UserDetail, UserPage, UserSummary};

/// The path the admin API is mounted at.
pub const BASE: &str = "/admin/v1";

/// A JSON answer: any view, serialised.
pub struct Json<T>(Status, T);

impl<'r, T: Serialize> Responder<'r, 'static> for Json<T> {
    fn respond_to(self, _: &'r Request<'_>) -> response::Result<'static> {
        let bytes = serde_json::to_vec(&self.1).map_err(|_| Status::InternalServerError)?;
        Response::build()
            .status(self.0)
            .header(ContentType::JSON)
            .sized_body(bytes.len(), Cursor::new(bytes))
            .ok()
    }
}

fn ok<T>(v: T) -> Json<T> {
    Json(Status::Ok, v)
}

/// A non-negative integer query parameter, `default` when absent (400 when malformed).
fn number(q: &Query, name: &str, default: u64) -> Result<u64> {
    match q.get(name) {
        None | Some("") => Ok(default),
        Some(text) => text.trim().parse().map_err(|_| {
            Error::invalid_value(format!(
                "{name} must be a non-negative integer, not {}",
                quote(text)
            ))
        }),
    }
}

fn paging(q: &Query) -> Result<(usize, usize)> {
    let start = usize::try_from(number(q, "startIndex", 1)?.max(1)).unwrap_or(usize::MAX);
    let count = usize::try_from(number(q, "count", 100)?).unwrap_or(usize::MAX);
    Ok((start, count))
}

#[get("/users")]
pub async fn users(app: &State<Arc<App>>, _admin: Admin, q: Query) -> Result<Json<UserPage>> {
    let (start, count) = paging(&q)?;
    let app = Arc::clone(app);
    Ok(ok(blocking(move || app.admin_users(start, count)).await?))
}

#[get("/users/<id>")]
pub async fn user(app: &State<Arc<App>>, admin: Admin, id: &str) -> Result<Json<UserDetail>> {
    let (app, id) = (Arc::clone(app), id.to_string());
    Ok(ok(blocking(move || app.admin_user(&id, &admin.ctx)).await?))
}

/// `{"displayName": "..."}`: the administrator's override of the profile's display name.
#[patch("/users/<id>", data = "<body>")]
pub async fn edit_user(
    app: &State<Arc<App>>,
    admin: Admin,
    id: &str,
    body: Body,
) -> Result<Json<UserSummary>> {
    let body = body.0?;
    let name = body
        .get("displayName")
        .and_then(Value::as_str)
        .ok_or_else(|| Error::invalid_value("send {\"displayName\": \"...\"}"))?
        .to_string();
    let (app, id) = (Arc::clone(app), id.to_string());
    Ok(ok(blocking(move || {
        app.admin_set_display_name(&id, &name, &admin.ctx)
    })
    .await?))
}

#[get("/users/<id>/history")]
pub async fn user_history(
    app: &State<Arc<App>>,
    _admin: Admin,
    id: &str,
    q: Query,
) -> Result<Json<HistoryPage>> {
    history(app, Kind::User, id, &q).await
}

#[get("/groups/<id>/history")]
pub async fn group_history(
    app: &State<Arc<App>>,
    _admin: Admin,
    id: &str,
    q: Query,
) -> Result<Json<HistoryPage>> {
    history(app, Kind::Group, id, &q).await
}

/// A resource's history, a page at a time (`startIndex`, `count`).
async fn history(app: &Arc<App>, kind: Kind, id: &str, q: &Query) -> Result<Json<HistoryPage>> {
    let (start, count) = paging(q)?;
    let (app, id) = (Arc::clone(app), id.to_string());
    Ok(ok(
        blocking(move || app.history(kind, &id, start, count)).await?
    ))
}

/// The whole feed, oldest first: `after` a sequence number, at most `limit` entries.
#[get("/audit")]
pub async fn audit(app: &State<Arc<App>>, _admin: Admin, q: Query) -> Result<Json<AuditPage>> {
    let after = number(&q, "after", 0)?;
    let limit = usize::try_from(number(&q, "limit", 100)?).unwrap_or(usize::MAX);
    let app = Arc::clone(app);
    Ok(ok(blocking(move || app.audit(after, limit)).await?))
}

#[get("/keys")]
pub async fn keys(app: &State<Arc<App>>, _admin: Admin) -> Result<Json<Vec<KeyInfo>>> {
    let app = Arc::clone(app);
    Ok(ok(blocking(move || app.admin_keys()).await?))
}

/// `{"label": "...", "admin": false}`: the answer shows the new key, once.
#[post("/keys", data = "<body>")]
pub async fn create_key(
    app: &State<Arc<App>>,
    admin: Admin,
    body: Body,
) -> Result<Json<MintedKey>> {
    let body = body.0?;
    let label = body
        .get("label")
        .and_then(Value::as_str)
        .ok_or_else(|| Error::invalid_value("send {\"label\": \"...\", \"admin\": false}"))?
        .to_string();
    let is_admin = match body.get("admin") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(Error::invalid_value("'admin' must be a boolean")),
    };
    let app = Arc::clone(app);
    let created = blocking(move || app.admin_create_key(&label, is_admin, &admin.ctx)).await?;
    Ok(Json(Status::Created, created))
}

#[delete("/keys/<id>")]
pub async fn revoke_key(app: &State<Arc<App>>, admin: Admin, id: &str) -> Result<Json<KeyInfo>> {
    let (app, id) = (Arc::clone(app), id.to_string());
    Ok(ok(
        blocking(move || app.admin_revoke_key(&id, &admin.ctx)).await?
    ))
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
