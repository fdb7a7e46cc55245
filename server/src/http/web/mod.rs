//! The admin web page under `/admin`: sign-in with an admin key, users with their profiles and
//! revision histories, groups, API keys, webhook endpoints with their deliveries, and how to
//! connect OneLogin. Server-rendered HTML: maud templates over the typed admin views (`pages/`,
//! with the layout and shared pieces in `html.rs`), one stylesheet and one small script served
//! from the binary, sessions and CSRF tokens in `session.rs`. Every datum comes from the same
//! core operations as the JSON admin API (`/admin/v1`, which keeps its own JSON errors).
//!
//! Errors under `/admin` (but not `/admin/v1`) are HTML pages with the right status: the one
//! exception to "every error is a SCIM Error body", since a browser shows them.

pub mod html;
mod pages;
pub mod session;
mod tenants;

use std::io::Cursor;
use std::net::IpAddr;
use std::sync::Arc;

use rocket::fairing::{Fairing, Info, Kind as FairingKind};
use rocket::http::{ContentType, CookieJar, Header, Status};
use rocket::response::{self, Responder, Response};
use rocket::{catch, get, post, Request, State};

use scim_core::auth::{Access, KeyKind};
use scim_proto::schema::Kind;

use super::admin::manages_key;
use super::error::ApiError;
use super::guards::{bearer, Query};
use crate::app::App;
use html::{page, segment, Nav};
use maud::Markup;
pub use session::Sessions;
use session::{tenant_base, Form, SameOrigin, Session, SignedIn};

/// The path the web page is mounted at: the pages of `default`, and the operator's.
pub const BASE: &str = "/admin";
/// The operator's tenants page (never under a tenant's base).
pub const TENANTS: &str = "/admin/tenants";

/// Users and groups on one page of a list.
pub const PAGE_SIZE: usize = 50;
/// History entries on one page.
pub const HISTORY_PAGE: usize = 100;

/// The security headers of every `/admin` page.
const CSP: &str = "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; \
                   form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// A successful answer: an HTML page, or a 303 to another page.
pub enum Page {
    Html(Status, String),
    Redirect(String),
}

impl<'r> Responder<'r, 'static> for Page {
    fn respond_to(self, _: &'r Request<'_>) -> response::Result<'static> {
        match self {
            Page::Html(status, body) => Response::build()
                .status(status)
                .header(ContentType::HTML)
                .sized_body(body.len(), Cursor::new(body))
                .ok(),
            Page::Redirect(to) => Response::build()
                .status(Status::SeeOther)
                .header(Header::new("Location", to))
                .ok(),
        }
    }
}

/// Why a page is not shown: not signed in (303 to the sign-in page), a form without its CSRF
/// token (403), or an error of the service (its status, as an HTML page).
#[derive(Debug)]
pub enum WebError {
    SignIn,
    Csrf,
    Failed(ApiError),
    /// A page the administrator may not see: as if it did not exist (404).
    Hidden,
    /// A tenant's administrator on the unscoped pages: to its own tenant's.
    Home(scim_core::model::TenantId),
}

impl From<ApiError> for WebError {
    fn from(e: ApiError) -> Self {
        WebError::Failed(e)
    }
}

impl From<scim_core::Error> for WebError {
    fn from(e: scim_core::Error) -> Self {
        WebError::Failed(e.into())
    }
}

type WebResult = std::result::Result<Page, WebError>;

impl<'r> Responder<'r, 'static> for WebError {
    fn respond_to(self, req: &'r Request<'_>) -> response::Result<'static> {
        match self {
            WebError::SignIn => Page::Redirect(format!("{BASE}/signin")).respond_to(req),
            WebError::Hidden => {
                error_page(Status::NotFound, "There is no page at this address.").respond_to(req)
            }
            WebError::Home(tenant) => Page::Redirect(tenant_base(&tenant)).respond_to(req),
            WebError::Csrf => error_page(
                Status::Forbidden,
                "This form was refused: it has expired or did not come from this page. \
                 Go back, reload the page and try again.",
            )
            .respond_to(req),
            WebError::Failed(e) => {
                if let Some(cause) = e.internal_cause() {
                    tracing::error!(request_id = %super::request_id(req), cause = %cause, "internal error");
                }
                let status = Status::new(e.status());
                let mut res = error_page(status, &e.detail()).respond_to(req)?;
                for h in e.headers() {
                    if h.name() == "Retry-After" {
                        res.set_header(h);
                    }
                }
                Ok(res)
            }
        }
    }
}

fn error_page(status: Status, detail: &str) -> Page {
    let title = format!("{} {}", status.code, status.reason_lossy());
    Page::Html(status, page(&title, Nav::None, None, pages::error(detail)))
}

/// Every status Rocket answers itself under `/admin` (no such page, a wrong method, a panic):
/// an HTML page.
#[catch(default)]
pub fn catcher(status: Status, _: &Request<'_>) -> Page {
    let detail = match status.code {
        404 => "There is no page at this address.",
        405 => "This page does not take that method.",
        413 => "The form is too large.",
        500 => "Internal server error.",
        _ => "The request could not be handled.",
    };
    error_page(status, detail)
}

/// Whether a path is one of the web page's (`/admin`, but not the JSON API under `/admin/v1`).
fn is_web_path(path: &str) -> bool {
    let under = |base: &str| {
        path == base
            || path
                .strip_prefix(base)
                .is_some_and(|rest| rest.starts_with('/'))
    };
    under(BASE) && !under(super::admin::BASE)
}

/// Adds the security headers to every answer under `/admin` (pages, redirects, errors, assets).
pub struct SecurityHeaders;

#[rocket::async_trait]
impl Fairing for SecurityHeaders {
    fn info(&self) -> Info {
        Info {
            name: "admin web page security headers",
            kind: FairingKind::Response,
        }
    }

    async fn on_response<'r>(&self, req: &'r Request<'_>, res: &mut Response<'r>) {
        if !is_web_path(req.uri().path().as_str()) {
            return;
        }
        for (name, value) in [
            ("Content-Security-Policy", CSP),
            ("X-Content-Type-Options", "nosniff"),
            ("Referrer-Policy", "no-referrer"),
            ("Cache-Control", "no-store"),
            ("X-Frame-Options", "DENY"),
        ] {
            res.set_header(Header::new(name, value));
        }
    }
}

/// A positive integer query parameter; anything else is `default` (a page, not an API).
fn start_param(q: &Query) -> usize {
    q.get("start")
        .and_then(|s| s.trim().parse::<usize>().ok())
        .filter(|n| *n >= 1)
        .unwrap_or(1)
}

/// A signed-in page.
fn signed(s: &Session, title: &str, nav: Nav, body: Markup) -> Page {
    Page::Html(Status::Ok, page(title, nav, Some(&s.chrome()), body))
}

// ---------------------------------------------------------------------------------------------
// Sign-in and sign-out

fn signin_page(status: Status, token: &str, problem: Option<&str>) -> Page {
    let body = pages::signin(token, problem);
    Page::Html(status, page("Sign in", Nav::None, None, body))
}

#[get("/signin")]
pub fn signin_form(
    app: &State<Arc<App>>,
    jar: &CookieJar<'_>,
    s: std::result::Result<SignedIn, WebError>,
) -> WebResult {
    if let Ok(s) = s {
        return Ok(Page::Redirect(session::home(&s.key)));
    }
    // Another tab's sign-in form keeps working: an existing token is reused.
    let token = match jar
        .get(session::SIGNIN_COOKIE)
        .map(|c| c.value().to_string())
    {
        Some(t) if t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit()) => t,
        _ => scim_core::secret::token()?,
    };
    jar.add(session::cookie(
        session::SIGNIN_COOKIE,
        token.clone(),
        session::secure(app),
    ));
    Ok(signin_page(Status::Ok, &token, None))
}

#[post("/signin", data = "<form>")]
pub async fn signin(
    app: &State<Arc<App>>,
    sessions: &State<Sessions>,
    jar: &CookieJar<'_>,
    origin: SameOrigin,
    client: Option<IpAddr>,
    form: Form,
) -> WebResult {
    let expected = jar
        .get(session::SIGNIN_COOKIE)
        .map(|c| c.value().to_string())
        .unwrap_or_default();
    let token = form.get("csrf").unwrap_or_default().to_string();
    if !origin.0 || !scim_core::secret::same(&token, &expected) {
        return Err(WebError::Csrf);
    }
    let header = format!("Bearer {}", form.get("key").unwrap_or_default().trim());
    let client = client.map(|ip| ip.to_string()).unwrap_or_default();
    let checked = app
        .authenticate(bearer(Some(&header)), Some(Access::AnyAdmin), &client)
        .await;
    match checked {
        Ok(key) => {
            let id = sessions.open(&key.id).await?;
            jar.add(session::cookie(session::COOKIE, id, session::secure(app)));
            session::remove(jar, session::SIGNIN_COOKIE);
            // A tenant's administrator starts on its own tenant's pages.
            Ok(Page::Redirect(session::home(&key)))
        }
        Err(e) if e.status() == 401 => Ok(signin_page(
            Status::Unauthorized,
            &token,
            Some("That is not an active API key."),
        )),
        Err(e) if e.status() == 403 => Ok(signin_page(
            Status::Forbidden,
            &token,
            Some(
                "That is a SCIM key: it works only on the SCIM API. \
                 Sign in with an admin key (scim-server key create --admin).",
            ),
        )),
        Err(e) => Err(e.into()),
    }
}

#[post("/signout", data = "<form>")]
pub async fn signout(
    sessions: &State<Sessions>,
    jar: &CookieJar<'_>,
    origin: SameOrigin,
    s: std::result::Result<SignedIn, WebError>,
    form: Form,
) -> WebResult {
    // Any page's sign-out form, whichever tenant it is about.
    let s = s?;
    s.check(&form, &origin)?;
    if let Some(c) = jar.get(session::COOKIE) {
        sessions.close(c.value()).await;
    }
    session::remove(jar, session::COOKIE);
    Ok(Page::Redirect(format!("{BASE}/signin")))
}

// ---------------------------------------------------------------------------------------------
// Home

#[get("/")]
pub async fn home(app: &State<Arc<App>>, s: std::result::Result<Session, WebError>) -> WebResult {
    let s = s?;
    let scim_keys = app
        .core
        .keys(Some(&s.dir.tenant().id))
        .await?
        .iter()
        .filter(|k| !k.admin && k.revoked.is_none())
        .count();
    let counts = pages::Counts {
        users: s.dir.admin_users(1, 0).await?.total,
        groups: s.dir.admin_groups(1, 0).await?.total,
        scim_keys,
    };
    let body = pages::home(&s.base, &counts, &s.ctx.base_url);
    Ok(signed(&s, "Admin", Nav::Home, body))
}

// ---------------------------------------------------------------------------------------------
// Users

#[get("/users")]
pub async fn users(s: std::result::Result<Session, WebError>, q: Query) -> WebResult {
    let s = s?;
    let term = q.get("q").unwrap_or_default().trim().to_string();
    let start = start_param(&q);
    let list = s.dir.admin_search_users(&term, start, PAGE_SIZE).await?;
    let body = pages::users::list(&s.base, &list, &term, start);
    Ok(signed(&s, "Users", Nav::Users, body))
}

#[get("/users/<id>")]
pub async fn user(s: std::result::Result<Session, WebError>, id: &str, q: Query) -> WebResult {
    let s = s?;
    let start = start_param(&q);
    let user = match s.dir.admin_user(id, &s.ctx).await {
        Ok(u) => Some(u),
        Err(scim_core::Error::NotFound(_)) => None,
        Err(e) => return Err(e.into()),
    };
    let history = s.dir.history(Kind::User, id, start, HISTORY_PAGE).await?;
    let title = user
        .as_ref()
        .map_or("Deleted user", |u| u.summary.display_name.as_str());
    let body = pages::users::page(&s.base, user.as_ref(), &history, id, start, &s.csrf);
    Ok(signed(&s, title, Nav::Users, body))
}

#[post("/users/<id>/display-name", data = "<form>")]
pub async fn set_display_name(
    s: std::result::Result<Session, WebError>,
    origin: SameOrigin,
    id: &str,
    form: Form,
) -> WebResult {
    let s = s?;
    s.check(&form, &origin)?;
    let name = form.get("display_name").unwrap_or_default().to_string();
    s.dir.admin_set_display_name(id, &name, &s.ctx).await?;
    Ok(Page::Redirect(format!("{}/users/{}", s.base, segment(id))))
}

// ---------------------------------------------------------------------------------------------
// Groups

#[get("/groups")]
pub async fn groups(s: std::result::Result<Session, WebError>, q: Query) -> WebResult {
    let s = s?;
    let start = start_param(&q);
    let list = s.dir.admin_groups(start, PAGE_SIZE).await?;
    Ok(signed(
        &s,
        "Groups",
        Nav::Groups,
        pages::groups::list(&s.base, &list, start),
    ))
}

#[get("/groups/<id>")]
pub async fn group(s: std::result::Result<Session, WebError>, id: &str, q: Query) -> WebResult {
    let s = s?;
    let start = start_param(&q);
    let group = s.dir.admin_group(id, &s.ctx).await?;
    let history = s.dir.history(Kind::Group, id, start, HISTORY_PAGE).await?;
    let title = group.group.display_name.as_deref().unwrap_or(html::ABSENT);
    let body = pages::groups::page(&s.base, &group, &history, id, start);
    Ok(signed(&s, title, Nav::Groups, body))
}

// ---------------------------------------------------------------------------------------------
// API keys

#[get("/keys")]
pub async fn keys(app: &State<Arc<App>>, s: std::result::Result<Session, WebError>) -> WebResult {
    let s = s?;
    let operator_too = s.is_operator() && !s.scoped;
    let list: Vec<scim_core::views::KeyInfo> = app
        .core
        .keys(None)
        .await?
        .into_iter()
        .filter(|k| manages_key(&s.dir.tenant().id, operator_too, k))
        .collect();
    let body = pages::keys::list(&s.base, &list, &s.key.id, &s.csrf);
    Ok(signed(&s, "API keys", Nav::Keys, body))
}

#[post("/keys", data = "<form>")]
pub async fn create_key(
    app: &State<Arc<App>>,
    s: std::result::Result<Session, WebError>,
    origin: SameOrigin,
    form: Form,
) -> WebResult {
    let s = s?;
    s.check(&form, &origin)?;
    let label = form.get("label").unwrap_or_default().to_string();
    let admin = form.get("admin").is_some_and(|v| v == "on");
    let kind = if admin { KeyKind::Admin } else { KeyKind::Scim };
    // On the unscoped pages, the operator's admin keys are operator keys, as before tenants.
    let operator_key = admin && s.is_operator() && !s.scoped;
    let tenant = (!operator_key).then(|| s.dir.tenant().id.clone());
    let (info, key) = app
        .core
        .mint_key(&label, kind, tenant.as_ref(), s.ctx.actor.clone())
        .await?;
    let minted = scim_core::views::MintedKey { key, info };
    let body = pages::keys::minted(&s.base, &minted, &s.ctx.base_url);
    Ok(signed(&s, "Key minted", Nav::Keys, body))
}

#[post("/keys/<id>/revoke", data = "<form>")]
pub async fn revoke_key(
    app: &State<Arc<App>>,
    s: std::result::Result<Session, WebError>,
    origin: SameOrigin,
    id: &str,
    form: Form,
) -> WebResult {
    let s = s?;
    s.check(&form, &origin)?;
    let operator_too = s.is_operator() && !s.scoped;
    let keys = app.core.keys(None).await?;
    if !keys
        .iter()
        .any(|k| k.id == id && manages_key(&s.dir.tenant().id, operator_too, k))
    {
        return Err(WebError::Hidden);
    }
    app.core.revoke_key(id, None, s.ctx.actor.clone()).await?;
    Ok(Page::Redirect(format!("{}/keys", s.base)))
}

// ---------------------------------------------------------------------------------------------
// Webhooks

/// The tenant's endpoints, each with where its deliveries stand; the form that adds one.
#[get("/webhooks")]
pub async fn webhooks(
    app: &State<Arc<App>>,
    s: std::result::Result<Session, WebError>,
) -> WebResult {
    let s = s?;
    let tenant = &s.dir.tenant().id;
    let mut listed = Vec::new();
    for info in app.core.webhooks(tenant).await? {
        let delivery = app.core.delivery(tenant, &info.id).await?;
        listed.push(pages::webhooks::Listed { info, delivery });
    }
    let now = time::OffsetDateTime::now_utc();
    let body = pages::webhooks::list(&s.base, &listed, &s.csrf, now);
    Ok(signed(&s, "Webhooks", Nav::Webhooks, body))
}

/// Adds an endpoint (`url`, `events`: patterns separated by commas or spaces, `*` when none);
/// the answer shows its signing secret, once.
#[post("/webhooks", data = "<form>")]
pub async fn add_webhook(
    app: &State<Arc<App>>,
    s: std::result::Result<Session, WebError>,
    origin: SameOrigin,
    form: Form,
) -> WebResult {
    let s = s?;
    s.check(&form, &origin)?;
    let url = form.get("url").unwrap_or_default();
    let mut events: Vec<String> = form
        .get("events")
        .unwrap_or_default()
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect();
    if events.is_empty() {
        events.push("*".into());
    }
    let added = app
        .core
        .add_webhook(&s.dir.tenant().id, url, &events, s.ctx.actor.clone())
        .await?;
    let body = pages::webhooks::added(&s.base, &added);
    Ok(signed(&s, "Endpoint added", Nav::Webhooks, body))
}

/// One endpoint's deliveries: what is pending, recent attempts, the events given up.
/// `queued`: the event a "Send again" just queued, to say so.
#[get("/webhooks/<id>")]
pub async fn webhook(
    app: &State<Arc<App>>,
    s: std::result::Result<Session, WebError>,
    id: &str,
    q: Query,
) -> WebResult {
    let s = s?;
    let tenant = &s.dir.tenant().id;
    // An unknown endpoint: the core's "not found", as a 404 page.
    let delivery = app.core.delivery(tenant, id).await?;
    let info = app
        .core
        .webhooks(tenant)
        .await?
        .into_iter()
        .find(|w| w.id == id)
        .ok_or(WebError::Hidden)?;
    let now = time::OffsetDateTime::now_utc();
    let body = pages::webhooks::page(&s.base, &info, &delivery, q.get("queued"), &s.csrf, now);
    Ok(signed(&s, "Webhook deliveries", Nav::Webhooks, body))
}

async fn set_webhook_enabled(
    app: &App,
    s: std::result::Result<Session, WebError>,
    origin: SameOrigin,
    id: &str,
    form: Form,
    enabled: bool,
) -> WebResult {
    let s = s?;
    s.check(&form, &origin)?;
    app.core
        .set_webhook_enabled(&s.dir.tenant().id, id, enabled, s.ctx.actor.clone())
        .await?;
    Ok(Page::Redirect(format!("{}/webhooks", s.base)))
}

#[post("/webhooks/<id>/disable", data = "<form>")]
pub async fn disable_webhook(
    app: &State<Arc<App>>,
    s: std::result::Result<Session, WebError>,
    origin: SameOrigin,
    id: &str,
    form: Form,
) -> WebResult {
    set_webhook_enabled(app, s, origin, id, form, false).await
}

#[post("/webhooks/<id>/enable", data = "<form>")]
pub async fn enable_webhook(
    app: &State<Arc<App>>,
    s: std::result::Result<Session, WebError>,
    origin: SameOrigin,
    id: &str,
    form: Form,
) -> WebResult {
    set_webhook_enabled(app, s, origin, id, form, true).await
}

/// Gives an endpoint a new signing secret, shown once; the previous one signs beside it for
/// `DEFAULT_GRACE`.
#[post("/webhooks/<id>/rotate", data = "<form>")]
pub async fn rotate_webhook_secret(
    app: &State<Arc<App>>,
    s: std::result::Result<Session, WebError>,
    origin: SameOrigin,
    id: &str,
    form: Form,
) -> WebResult {
    let s = s?;
    s.check(&form, &origin)?;
    let grace = scim_core::endpoints::DEFAULT_GRACE;
    let rotated = app
        .core
        .rotate_webhook_secret(&s.dir.tenant().id, id, grace, s.ctx.actor.clone())
        .await?;
    let body = pages::webhooks::rotated(&s.base, &rotated, grace);
    Ok(signed(&s, "Secret rotated", Nav::Webhooks, body))
}

/// Queues an event (`event`: its id; one given up, or a recent one) to be sent to the endpoint
/// again, before what is pending; back to the endpoint's page, which says so.
#[post("/webhooks/<id>/resend", data = "<form>")]
pub async fn resend_webhook_event(
    app: &State<Arc<App>>,
    s: std::result::Result<Session, WebError>,
    origin: SameOrigin,
    id: &str,
    form: Form,
) -> WebResult {
    let s = s?;
    s.check(&form, &origin)?;
    let event = form.get("event").unwrap_or_default().trim();
    if event.is_empty() {
        return Err(
            scim_core::Error::invalid_value("the form names no event to send again").into(),
        );
    }
    app.core.resend(&s.dir.tenant().id, id, event).await?;
    Ok(Page::Redirect(format!(
        "{}/webhooks/{}?queued={}",
        s.base,
        segment(id),
        segment(event)
    )))
}

// ---------------------------------------------------------------------------------------------
// Assets: data in files, compiled into the binary.

const CSS: &str = include_str!("../../../assets/admin.css");
const JS: &str = include_str!("../../../assets/admin.js");
const ICON: &str = include_str!("../../../assets/favicon.svg");

#[get("/assets/admin.css")]
pub fn css() -> (ContentType, &'static str) {
    (ContentType::CSS, CSS)
}

#[get("/assets/admin.js")]
pub fn js() -> (ContentType, &'static str) {
    (ContentType::JavaScript, JS)
}

#[get("/assets/favicon.svg")]
pub fn icon() -> (ContentType, &'static str) {
    (ContentType::SVG, ICON)
}

pub fn routes() -> Vec<rocket::Route> {
    rocket::routes![
        signin_form,
        signin,
        signout,
        home,
        users,
        user,
        set_display_name,
        groups,
        group,
        keys,
        create_key,
        revoke_key,
        webhooks,
        add_webhook,
        webhook,
        disable_webhook,
        enable_webhook,
        rotate_webhook_secret,
        resend_webhook_event,
        tenants::list,
        tenants::create,
        tenants::change,
        css,
        js,
        icon
    ]
}

pub fn catchers() -> Vec<rocket::Catcher> {
    rocket::catchers![catcher]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn web_paths_exclude_the_json_api() {
        assert!(is_web_path("/admin"));
        assert!(is_web_path("/admin/users/x"));
        assert!(!is_web_path("/admin/v1"));
        assert!(!is_web_path("/admin/v1/users"));
        assert!(is_web_path("/admin/v10"));
        assert!(!is_web_path("/administrator"));
        assert!(!is_web_path("/scim/v2/Users"));
    }
}
