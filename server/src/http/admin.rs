//! The admin API under `/admin/v1`, for the product's administrators: users with their profiles,
//! display-name overrides, revision histories, the audit feed, the change feed of events, API
//! keys and webhook endpoints. Admin keys only.
//! Answers are `application/json`; errors have the one shape every error has.

use std::sync::Arc;
use std::time::Duration;

use rocket::http::Status;
use rocket::{delete, get, patch, post, Shutdown, State};
use scim_core::auth::KeyKind;
use scim_core::error::quote;
use scim_core::model::TenantId;
use scim_core::views::{KeyInfo, MintedKey};
use scim_proto::schema::Kind;
use serde_json::Value;
use tokio::time::Instant;

use super::error::ApiResult;
use super::guards::{Admin, Body, Query};
use super::respond::Answer;
use crate::app::App;

/// The path the admin API is mounted at.
pub const BASE: &str = "/admin/v1";

fn ok(value: &impl serde::Serialize) -> ApiResult<Answer> {
    Answer::json(Status::Ok, value)
}

pub(crate) fn invalid(detail: impl Into<String>) -> super::error::ApiError {
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
pub async fn users(admin: Admin, q: Query) -> ApiResult<Answer> {
    let (start, count) = paging(&q)?;
    ok(&admin.dir.admin_users(start, count).await?)
}

#[get("/users/<id>")]
pub async fn user(admin: Admin, id: &str) -> ApiResult<Answer> {
    ok(&admin.dir.admin_user(id, &admin.ctx).await?)
}

/// `{"displayName": "..."}`: the administrator's override of the profile's display name.
#[patch("/users/<id>", data = "<body>")]
pub async fn edit_user(admin: Admin, id: &str, body: Body) -> ApiResult<Answer> {
    let body = body.0?;
    let name = body
        .get("displayName")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("send {\"displayName\": \"...\"}"))?;
    ok(&admin
        .dir
        .admin_set_display_name(id, name, &admin.ctx)
        .await?)
}

#[get("/users/<id>/history")]
pub async fn user_history(admin: Admin, id: &str, q: Query) -> ApiResult<Answer> {
    history(&admin, Kind::User, id, &q).await
}

#[get("/groups/<id>/history")]
pub async fn group_history(admin: Admin, id: &str, q: Query) -> ApiResult<Answer> {
    history(&admin, Kind::Group, id, &q).await
}

/// A resource's history, a page at a time (`startIndex`, `count`).
async fn history(admin: &Admin, kind: Kind, id: &str, q: &Query) -> ApiResult<Answer> {
    let (start, count) = paging(q)?;
    ok(&admin.dir.history(kind, id, start, count).await?)
}

/// The tenant's whole feed, oldest first: `after` a sequence number, at most `limit` entries.
#[get("/audit")]
pub async fn audit(admin: Admin, q: Query) -> ApiResult<Answer> {
    let (after, limit) = feed_params(&q)?;
    ok(&admin.dir.audit(after, limit).await?)
}

/// The longest a change-feed request may wait for an event, in seconds.
pub const MAX_WAIT_SECS: u64 = 30;

/// How often a waiting change-feed request reads the feed again.
const POLL: Duration = Duration::from_millis(200);

/// The tenant's change feed: the events after the cursor `after` (a feed sequence number),
/// oldest first, at most `limit` entries read, with the `next` cursor. With `wait=SECONDS` (at
/// most 30) a request that finds none waits for the first to commit, reading the feed every
/// 200 ms, and answers an empty page when the time is up or the server stops.
#[get("/events")]
pub async fn events(admin: Admin, q: Query, shutdown: Shutdown) -> ApiResult<Answer> {
    let (mut after, limit) = feed_params(&q)?;
    let wait = number(&q, "wait", 0)?;
    if wait > MAX_WAIT_SECS {
        return Err(invalid(format!(
            "wait is at most {MAX_WAIT_SECS} seconds, not {wait}"
        )));
    }
    let deadline = Instant::now() + Duration::from_secs(wait);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let page = admin.dir.events(after, limit, &admin.ctx).await?;
        let now = Instant::now();
        if !page.events.is_empty() || now >= deadline {
            return ok(&page);
        }
        after = page.next;
        tokio::select! {
            () = tokio::time::sleep(POLL.min(deadline - now)) => {}
            () = &mut shutdown => return ok(&page),
        }
    }
}

/// How long one server-sent events stream lasts before the server ends it (the client
/// reconnects with `Last-Event-ID`, and its key is checked again).
pub const STREAM_FOR: Duration = Duration::from_secs(300);

/// The `Last-Event-ID` a reconnecting event-stream client sends: the sequence number of the
/// last event it got.
pub struct LastEventId(Option<String>);

#[rocket::async_trait]
impl<'r> rocket::request::FromRequest<'r> for LastEventId {
    type Error = std::convert::Infallible;

    async fn from_request(
        req: &'r rocket::Request<'_>,
    ) -> rocket::request::Outcome<Self, Self::Error> {
        rocket::request::Outcome::Success(LastEventId(
            req.headers().get_one("Last-Event-ID").map(str::to_string),
        ))
    }
}

/// The change feed as server-sent events (`text/event-stream`): each event as `id: SEQ`,
/// `event: TYPE` and `data:` its JSON, the same body the feed and webhooks carry, from `after`
/// (or the `Last-Event-ID` header of a reconnecting client) on, as they commit. The stream
/// ends after five minutes, or when the server stops; the client reconnects from where it was.
#[get("/events/stream")]
pub async fn event_stream(
    admin: Admin,
    q: Query,
    last: LastEventId,
    shutdown: Shutdown,
) -> ApiResult<rocket::response::stream::EventStream![]> {
    use rocket::response::stream::{Event, EventStream};
    let (query_after, _) = feed_params(&q)?;
    let mut after = match last.0 {
        Some(text) => text.trim().parse::<u64>().map_err(|_| {
            invalid(format!(
                "Last-Event-ID must be an event's sequence number, not {}",
                quote(&text)
            ))
        })?,
        None => query_after,
    };
    // The first read happens before the answer starts, so that a failing store is a SCIM error.
    let first = admin.dir.events(after, 100, &admin.ctx).await?;
    let deadline = Instant::now() + STREAM_FOR;
    Ok(EventStream! {
        let mut page = Some(first);
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            let current = match page.take() {
                Some(p) => p,
                None => match admin.dir.events(after, 100, &admin.ctx).await {
                    Ok(p) => p,
                    Err(e) => {
                        tracing::warn!(error = %e, "event stream: reading the feed");
                        break;
                    }
                },
            };
            let idle = current.events.is_empty();
            for event in &current.events {
                yield Event::json(event)
                    .id(event.seq.to_string())
                    .event(event.kind.as_str().to_string());
            }
            after = current.next;
            if Instant::now() >= deadline {
                break;
            }
            if idle {
                tokio::select! {
                    () = tokio::time::sleep(POLL) => {}
                    () = &mut shutdown => break,
                }
            }
        }
    }
    .heartbeat(Duration::from_secs(15)))
}

pub(crate) fn feed_params(q: &Query) -> ApiResult<(u64, usize)> {
    let after = number(q, "after", 0)?;
    let limit = usize::try_from(number(q, "limit", 100)?).unwrap_or(usize::MAX);
    Ok((after, limit))
}

/// Whether a request manages a key: its tenant's keys; on the unscoped routes, the operator
/// also manages its own admin keys (the admin keys of a store from before tenants).
fn manages(admin: &Admin, key: &KeyInfo) -> bool {
    manages_key(
        &admin.dir.tenant().id,
        admin.is_operator() && !admin.scoped,
        key,
    )
}

/// Whether a key belongs to `tenant`, or (with `operator_too`) is the operator's.
pub(crate) fn manages_key(tenant: &TenantId, operator_too: bool, key: &KeyInfo) -> bool {
    key.tenant.as_ref() == Some(tenant) || (operator_too && key.tenant.is_none())
}

#[get("/keys")]
pub async fn keys(app: &State<Arc<App>>, admin: Admin) -> ApiResult<Answer> {
    let all = app.core.keys(None).await?;
    let shown: Vec<KeyInfo> = all.into_iter().filter(|k| manages(&admin, k)).collect();
    ok(&shown)
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
    // On the unscoped routes, the operator's admin keys are operator keys, as before tenants.
    let operator_key = kind == KeyKind::Admin && admin.is_operator() && !admin.scoped;
    let tenant = (!operator_key).then(|| admin.dir.tenant().id.clone());
    let (info, key) = app
        .core
        .mint_key(label, kind, tenant.as_ref(), admin.ctx.actor.clone())
        .await?;
    Answer::json(Status::Created, &MintedKey { key, info })
}

#[delete("/keys/<id>")]
pub async fn revoke_key(app: &State<Arc<App>>, admin: Admin, id: &str) -> ApiResult<Answer> {
    let all = app.core.keys(None).await?;
    if !all.iter().any(|k| k.id == id && manages(&admin, k)) {
        return Err(scim_core::Error::NotFound(format!("no key with id {}", quote(id))).into());
    }
    ok(&app
        .core
        .revoke_key(id, None, admin.ctx.actor.clone())
        .await?)
}

/// The tenant's webhook endpoints: never their signing secrets.
#[get("/webhooks")]
pub async fn webhooks(app: &State<Arc<App>>, admin: Admin) -> ApiResult<Answer> {
    ok(&app.core.webhooks(&admin.dir.tenant().id).await?)
}

/// `{"url": "https://…", "events": ["user.*"]}`: adds an endpoint; the answer shows its signing
/// secret, once.
#[post("/webhooks", data = "<body>")]
pub async fn add_webhook(app: &State<Arc<App>>, admin: Admin, body: Body) -> ApiResult<Answer> {
    let body = body.0?;
    let usage = "send {\"url\": \"https://…\", \"events\": [\"user.*\"]}";
    let url = body
        .get("url")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid(usage))?;
    let events = body
        .get("events")
        .and_then(Value::as_array)
        .ok_or_else(|| invalid(usage))?
        .iter()
        .map(|e| {
            e.as_str()
                .map(str::to_string)
                .ok_or_else(|| invalid("'events' holds strings, such as \"user.*\""))
        })
        .collect::<ApiResult<Vec<String>>>()?;
    let added = app
        .core
        .add_webhook(
            &admin.dir.tenant().id,
            url,
            &events,
            admin.ctx.actor.clone(),
        )
        .await?;
    Answer::json(Status::Created, &added)
}

/// `{"enabled": false}`: disables an endpoint (`true` enables it again).
#[patch("/webhooks/<id>", data = "<body>")]
pub async fn edit_webhook(
    app: &State<Arc<App>>,
    admin: Admin,
    id: &str,
    body: Body,
) -> ApiResult<Answer> {
    let enabled = body
        .0?
        .get("enabled")
        .and_then(Value::as_bool)
        .ok_or_else(|| invalid("send {\"enabled\": false}"))?;
    ok(&app
        .core
        .set_webhook_enabled(&admin.dir.tenant().id, id, enabled, admin.ctx.actor.clone())
        .await?)
}

/// Where an endpoint's deliveries stand: the feed position, what is pending (how many, since
/// when), the event being retried, recent attempts (status code, error, time taken) and the
/// events given up.
#[get("/webhooks/<id>/deliveries")]
pub async fn deliveries(app: &State<Arc<App>>, admin: Admin, id: &str) -> ApiResult<Answer> {
    ok(&app.core.delivery(&admin.dir.tenant().id, id).await?)
}

/// `{"event": "evt_…"}`: sends an event to the endpoint again (one given up, or one of its
/// recent deliveries), before what is pending. 202: queued.
#[post("/webhooks/<id>/resend", data = "<body>")]
pub async fn resend(
    app: &State<Arc<App>>,
    admin: Admin,
    id: &str,
    body: Body,
) -> ApiResult<Answer> {
    let body = body.0?;
    let event = body
        .get("event")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("send {\"event\": \"evt_…\"}"))?;
    let seq = app.core.resend(&admin.dir.tenant().id, id, event).await?;
    Answer::json(
        Status::Accepted,
        &serde_json::json!({"event": event, "seq": seq, "queued": true}),
    )
}

/// `{"graceHours": 24}` (optional): gives the endpoint a new signing secret, shown in the
/// answer this once; the previous one signs beside it until the grace ends.
#[post("/webhooks/<id>/rotate-secret", data = "<body>")]
pub async fn rotate_secret(
    app: &State<Arc<App>>,
    admin: Admin,
    id: &str,
    body: Body,
) -> ApiResult<Answer> {
    let body = body.0?;
    let grace = match body.get("graceHours") {
        None | Some(Value::Null) => scim_core::endpoints::DEFAULT_GRACE,
        Some(v) => v
            .as_u64()
            .and_then(|h| i64::try_from(h).ok())
            .map(time::Duration::hours)
            .ok_or_else(|| invalid("graceHours is a whole number of hours"))?,
    };
    ok(&app
        .core
        .rotate_webhook_secret(&admin.dir.tenant().id, id, grace, admin.ctx.actor.clone())
        .await?)
}

/// Sends a signed test message (`webhook.test`) to the endpoint now, and answers how its
/// receiver answered.
#[post("/webhooks/<id>/test")]
pub async fn test_webhook(app: &State<Arc<App>>, admin: Admin, id: &str) -> ApiResult<Answer> {
    let sender = app.webhook_sender()?;
    ok(&app
        .core
        .test_webhook(&admin.dir.tenant().id, id, sender.as_ref())
        .await?)
}

pub fn routes() -> Vec<rocket::Route> {
    rocket::routes![
        users,
        user,
        edit_user,
        user_history,
        group_history,
        audit,
        events,
        event_stream,
        keys,
        create_key,
        revoke_key,
        webhooks,
        add_webhook,
        edit_webhook,
        deliveries,
        resend,
        rotate_secret,
        test_webhook
    ]
}
