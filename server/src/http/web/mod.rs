//! The admin web page under `/admin`: sign-in with an admin key, users with their profiles and
//! revision histories, groups, API keys, and how to connect OneLogin. Server-rendered HTML
//! (`html.rs`), one stylesheet and one small script served from the binary, sessions and CSRF
//! tokens in `session.rs`. Every datum comes from the same `App` methods as the JSON admin API
//! (`/admin/v1`, which keeps its own JSON errors); storage calls run on the blocking pool.
//!
//! Errors under `/admin` (but not `/admin/v1`) are HTML pages with the right status: the one
//! exception to "every error is a SCIM Error body", since a browser shows them.

pub mod html;
pub mod session;

use std::io::Cursor;
use std::net::IpAddr;
use std::sync::Arc;

use rocket::fairing::{Fairing, Info, Kind as FairingKind};
use rocket::http::{ContentType, CookieJar, Header, Status};
use rocket::response::{self, Responder, Response};
use rocket::{catch, get, post, Request, State};
use serde_json::Value;

use super::guards::Query;
use super::routes::blocking;
use crate::error::Error;
use crate::scim::schema::Kind;
use crate::service::App;
use html::{esc, field, page, table, time, url, Nav};
pub use session::Sessions;
use session::{Form, SameOrigin, Session};

/// The path the web page is mounted at.
pub const BASE: &str = "/admin";

/// Users and groups on one page of a list.
const PAGE_SIZE: usize = 50;
/// History entries on one page.
const HISTORY_PAGE: usize = 100;

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
    Failed(Error),
}

impl From<Error> for WebError {
    fn from(e: Error) -> Self {
        WebError::Failed(e)
    }
}

type WebResult = std::result::Result<Page, WebError>;

impl<'r> Responder<'r, 'static> for WebError {
    fn respond_to(self, req: &'r Request<'_>) -> response::Result<'static> {
        match self {
            WebError::SignIn => Page::Redirect(format!("{BASE}/signin")).respond_to(req),
            WebError::Csrf => error_page(
                Status::Forbidden,
                "This form was refused: it has expired or did not come from this page. \
                 Go back, reload the page and try again.",
            )
            .respond_to(req),
            WebError::Failed(e) => {
                if let Error::Internal(cause) = &e {
                    tracing::error!(request_id = %super::request_id(req), cause = %cause, "internal error");
                }
                let status = Status::new(e.status());
                let mut res = error_page(status, &e.detail()).respond_to(req)?;
                if let Error::TooManyRequests(secs) = &e {
                    res.set_header(Header::new("Retry-After", secs.to_string()));
                }
                Ok(res)
            }
        }
    }
}

fn error_page(status: Status, detail: &str) -> Page {
    let title = format!("{} {}", status.code, status.reason_lossy());
    let body = format!(
        "{}<p><a href=\"{BASE}\">Back to the admin home page</a></p>",
        html::message("error", detail)
    );
    Page::Html(status, page(&title, Nav::None, None, &body))
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

/// A typed view as JSON, for the pages below until they read the views' fields.
fn json<T: serde::Serialize>(view: T) -> crate::error::Result<Value> {
    serde_json::to_value(view).map_err(Error::internal)
}

fn as_usize(v: &Value) -> usize {
    v.as_u64()
        .and_then(|n| usize::try_from(n).ok())
        .unwrap_or(0)
}

/// A signed-in page.
fn signed(s: &Session, title: &str, nav: Nav, body: &str) -> Page {
    Page::Html(Status::Ok, page(title, nav, Some(&s.csrf), body))
}

/// A read-only text field with a "Copy" button (the button appears when the script runs; the
/// text can always be selected by hand).
fn copyable(id: &str, label: &str, value: &str, button: &str) -> String {
    format!(
        "<div class=\"copyable\"><label for=\"{id}\">{}</label>\
         <input id=\"{id}\" type=\"text\" readonly value=\"{}\" spellcheck=\"false\" autocomplete=\"off\">\
         <button type=\"button\" class=\"copy\" data-copy=\"{id}\" data-status=\"{id}-status\" hidden>{}</button>\
         <span id=\"{id}-status\" class=\"copy-status\" role=\"status\" aria-live=\"polite\"></span></div>",
        esc(label),
        esc(value),
        esc(button)
    )
}

// ---------------------------------------------------------------------------------------------
// Sign-in and sign-out

fn signin_page(status: Status, token: &str, problem: Option<&str>) -> Page {
    let mut body = String::new();
    if let Some(p) = problem {
        body.push_str(&html::message("error", p));
    }
    body.push_str(&format!(
        "<p>Sign in with an <strong>admin</strong> API key. Mint one on the server with \
         <code>scim-server key create --admin --label YOUR-NAME</code>. SCIM keys, which your \
         identity provider uses, are refused here.</p>\
         <form method=\"post\" action=\"{BASE}/signin\" class=\"stack\">{}\
         <label for=\"key\">Admin API key</label>\
         <input id=\"key\" name=\"key\" type=\"password\" required autocomplete=\"off\" \
          spellcheck=\"false\" autofocus>\
         <button type=\"submit\">Sign in</button></form>",
        html::csrf_field(token)
    ));
    Page::Html(status, page("Sign in", Nav::None, None, &body))
}

#[get("/signin")]
pub fn signin_form(
    app: &State<Arc<App>>,
    jar: &CookieJar<'_>,
    s: std::result::Result<Session, WebError>,
) -> WebResult {
    if s.is_ok() {
        return Ok(Page::Redirect(BASE.into()));
    }
    // Another tab's sign-in form keeps working: an existing token is reused.
    let token = match jar
        .get(session::SIGNIN_COOKIE)
        .map(|c| c.value().to_string())
    {
        Some(t) if t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit()) => t,
        _ => session::random_token()?,
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
    if !origin.0 || !session::same_token(&token, &expected) {
        return Err(WebError::Csrf);
    }
    let header = format!("Bearer {}", form.get("key").unwrap_or_default().trim());
    let client = client.map(|ip| ip.to_string()).unwrap_or_default();
    let checked = {
        let app = Arc::clone(app);
        blocking(move || app.authenticate(Some(&header), true, &client)).await
    };
    match checked {
        Ok(key) => {
            let id = sessions.open(&key.id)?;
            jar.add(session::cookie(session::COOKIE, id, session::secure(app)));
            session::remove(jar, session::SIGNIN_COOKIE);
            Ok(Page::Redirect(BASE.into()))
        }
        Err(Error::Unauthorized(_)) => Ok(signin_page(
            Status::Unauthorized,
            &token,
            Some("That is not an active API key."),
        )),
        Err(Error::Forbidden(_)) => Ok(signin_page(
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
pub fn signout(
    sessions: &State<Sessions>,
    jar: &CookieJar<'_>,
    origin: SameOrigin,
    s: std::result::Result<Session, WebError>,
    form: Form,
) -> WebResult {
    let s = s?;
    s.check(&form, &origin)?;
    if let Some(c) = jar.get(session::COOKIE) {
        sessions.close(c.value());
    }
    session::remove(jar, session::COOKIE);
    Ok(Page::Redirect(format!("{BASE}/signin")))
}

// ---------------------------------------------------------------------------------------------
// Home

#[get("/")]
pub async fn home(app: &State<Arc<App>>, s: std::result::Result<Session, WebError>) -> WebResult {
    let s = s?;
    let counts = {
        let app = Arc::clone(app);
        blocking(move || {
            let users = json(app.admin_users(1, 0)?)?;
            let groups = json(app.admin_groups(1, 0)?)?;
            let keys = app.admin_keys()?;
            Ok((users, groups, keys))
        })
        .await?
    };
    let (users, groups, keys) = counts;
    let scim_keys = keys
        .iter()
        .filter(|k| !k.admin && k.revoked.is_none())
        .count();
    let base = &s.ctx.base_url;
    let mut body = format!(
        "<p class=\"summary\"><a href=\"{BASE}/users\">{} users</a> · \
         <a href=\"{BASE}/groups\">{} groups</a> · <a href=\"{BASE}/keys\">{scim_keys} active SCIM keys</a></p>",
        as_usize(&users["total"]),
        as_usize(&groups["total"])
    );
    body.push_str("<section aria-labelledby=\"connect\"><h2 id=\"connect\">Connect OneLogin</h2>");
    body.push_str(&copyable(
        "scim-url",
        "SCIM base URL",
        base,
        "Copy SCIM base URL",
    ));
    if base.starts_with("http://")
        && !base.starts_with("http://127.")
        && !base.starts_with("http://localhost")
    {
        body.push_str(&html::message(
            "notice",
            "OneLogin must reach the server over HTTPS: put it behind a TLS proxy and set \
             public_url (SCIM_PUBLIC_URL) to its https:// address.",
        ));
    }
    body.push_str(&format!(
        "<ol class=\"howto\">\
         <li>In OneLogin, add the app <em>SCIM Provisioner with SAML (SCIM v2 Enterprise)</em> \
         (or another <em>SCIM Provisioner</em> connector for SCIM v2).</li>\
         <li>On its <strong>Configuration</strong> tab, under <em>API Connection</em>: paste the \
         URL above into <strong>SCIM Base URL</strong> (as it is, without <code>/Users</code>), \
         and a SCIM API key into <strong>SCIM Bearer Token</strong>. \
         <a href=\"{BASE}/keys\">Mint a SCIM key</a> and use its <em>Copy API Key</em> button.</li>\
         <li>Click <strong>Enable</strong> next to <em>API Status</em>. OneLogin looks up a user \
         that does not exist; the server answers with an empty list and the status turns \
         <em>Enabled</em>. Save.</li>\
         <li>On the <strong>Provisioning</strong> tab, check <strong>Enable provisioning</strong>; \
         uncheck the <em>Require admin approval</em> boxes to apply changes at once, choose what \
         deleting and suspending a user in OneLogin does, and save.</li>\
         <li>Assign users to the app. After a sync they are listed under \
         <a href=\"{BASE}/users\">Users</a>, each with its revision history; changes made \
         through SCIM show the actor <em>Scim System User</em>.</li></ol></section>"
    ));
    Ok(signed(&s, "Admin", Nav::Home, &body))
}

// ---------------------------------------------------------------------------------------------
// Users

#[get("/users")]
pub async fn users(
    app: &State<Arc<App>>,
    s: std::result::Result<Session, WebError>,
    q: Query,
) -> WebResult {
    let s = s?;
    let term = q.get("q").unwrap_or_default().trim().to_string();
    let start = start_param(&q);
    let list = {
        let (app, term) = (Arc::clone(app), term.clone());
        blocking(move || json(app.admin_search_users(&term, start, PAGE_SIZE)?)).await?
    };
    let rows: Vec<Vec<String>> = list["users"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|u| {
            let id = field(u, "id");
            vec![
                format!(
                    "<a href=\"{BASE}/users/{}\">{}</a>",
                    esc(&url(&id)),
                    esc(&field(u, "displayName"))
                ),
                esc(&field(u, "userName")),
                format!(
                    "<span class=\"status {0}\">{0}</span>",
                    esc(&field(u, "status"))
                ),
                esc(&field(u, "role")),
                time(u.get("lastModified")),
            ]
        })
        .collect();
    let total = as_usize(&list["total"]);
    let mut body = format!(
        "<form method=\"get\" action=\"{BASE}/users\" class=\"search\" role=\"search\">\
         <label for=\"q\">Search by user name or display name</label>\
         <input id=\"q\" name=\"q\" type=\"search\" value=\"{}\">\
         <button type=\"submit\">Search</button></form>",
        esc(&term)
    );
    let caption = if term.is_empty() {
        "Users".to_string()
    } else {
        format!("Users matching “{term}”")
    };
    if rows.is_empty() {
        body.push_str(&html::message(
            "notice",
            if term.is_empty() {
                "No users yet: they appear here once your identity provider provisions them."
            } else {
                "No user matches."
            },
        ));
    } else {
        body.push_str(&table(
            &caption,
            &["Display name", "User name", "Status", "Role", "Last change"],
            &rows,
        ));
    }
    body.push_str(&html::pager(start, PAGE_SIZE, total, |n| {
        if term.is_empty() {
            format!("{BASE}/users?start={n}")
        } else {
            format!("{BASE}/users?q={}&start={n}", url(&term))
        }
    }));
    Ok(signed(&s, "Users", Nav::Users, &body))
}

/// A history as a table: time, actor, action, and each change from what to what.
fn history_table(history: &Value, own_id: &str) -> String {
    let rows: Vec<Vec<String>> = history["entries"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|e| {
            let actor = &e["actor"];
            let mut who = esc(&field(actor, "name"));
            if let Some(label) = actor.get("key_label").and_then(Value::as_str) {
                who.push_str(&format!(" <small>(key “{}”)</small>", esc(label)));
            }
            let mut action = esc(&field(e, "action"));
            let target = field(e, "target_id");
            if target != own_id {
                let kind = field(e, "target_type");
                let link = match kind.as_str() {
                    "User" => format!("{BASE}/users/{}", url(&target)),
                    "Group" => format!("{BASE}/groups/{}", url(&target)),
                    _ => String::new(),
                };
                action.push_str(&format!(
                    " <small>(on {} <a href=\"{}\">{}</a>)</small>",
                    esc(&kind),
                    esc(&link),
                    esc(target.get(..8).unwrap_or(&target))
                ));
            }
            let mut changes = String::from("<ul class=\"changes\">");
            for c in e["changes"].as_array().map(Vec::as_slice).unwrap_or_default() {
                changes.push_str(&format!(
                    "<li><code>{}</code>: <span class=\"before\">{}</span> → <span class=\"after\">{}</span></li>",
                    esc(&field(c, "attribute")),
                    esc(&html::value(c.get("before"))),
                    esc(&html::value(c.get("after")))
                ));
            }
            changes.push_str("</ul>");
            vec![time(e.get("time")), who, action, changes]
        })
        .collect();
    if rows.is_empty() {
        return html::message("notice", "No history.");
    }
    table(
        "Revision history, newest first",
        &["Time", "Actor", "Action", "Changes"],
        &rows,
    )
}

/// A resource's history: its table and pager, under `{BASE}/{endpoint}/{id}`.
fn history_section(history: &Value, id: &str, start: usize, endpoint: &str) -> String {
    format!(
        "<section aria-labelledby=\"history\"><h2 id=\"history\">History</h2>{}{}</section>",
        history_table(history, id),
        html::pager(start, HISTORY_PAGE, as_usize(&history["total"]), |n| {
            format!("{BASE}/{endpoint}/{}?start={n}", url(id))
        })
    )
}

fn pretty(v: &Value) -> String {
    let text = serde_json::to_string_pretty(v).unwrap_or_default();
    format!("<pre class=\"json\"><code>{}</code></pre>", esc(&text))
}

#[get("/users/<id>")]
pub async fn user(
    app: &State<Arc<App>>,
    s: std::result::Result<Session, WebError>,
    id: &str,
    q: Query,
) -> WebResult {
    let s = s?;
    let start = start_param(&q);
    let (user, history) = {
        let (app, id, ctx) = (Arc::clone(app), id.to_string(), s.ctx.clone());
        blocking(move || {
            let user = match app.admin_user(&id, &ctx) {
                Ok(u) => Some(json(u)?),
                Err(Error::NotFound(_)) => None,
                Err(e) => return Err(e),
            };
            let history = json(app.history(Kind::User, &id, start, HISTORY_PAGE)?)?;
            Ok((user, history))
        })
        .await?
    };
    let mut body = String::new();
    let title = match &user {
        Some(u) => {
            let name = field(u, "displayName");
            body.push_str(&format!(
                "<dl class=\"facts\"><dt>User name</dt><dd>{}</dd><dt>Status</dt><dd>{}</dd>\
                 <dt>Role</dt><dd>{}</dd><dt>Created</dt><dd>{}</dd><dt>Last change</dt><dd>{}</dd>\
                 <dt>id</dt><dd><code>{}</code></dd></dl>",
                esc(&field(u, "userName")),
                esc(&field(u, "status")),
                esc(&field(u, "role")),
                time(u.get("created")),
                time(u.get("lastModified")),
                esc(id)
            ));
            body.push_str(&format!(
                "<section aria-labelledby=\"profile\"><h2 id=\"profile\">Display name</h2>\
                 <p>Set from the identity provider at the first sync; later SCIM changes never \
                 touch it. You may change it here.</p>\
                 <form method=\"post\" action=\"{BASE}/users/{}/display-name\" class=\"stack\">{}\
                 <label for=\"display_name\">Display name</label>\
                 <input id=\"display_name\" name=\"display_name\" type=\"text\" required maxlength=\"200\" value=\"{}\">\
                 <button type=\"submit\">Save display name</button></form></section>",
                esc(&url(id)),
                html::csrf_field(&s.csrf),
                esc(&name)
            ));
            name
        }
        None => {
            body.push_str(&html::message(
                "notice",
                "This user was deleted; its history stays readable.",
            ));
            "Deleted user".to_string()
        }
    };
    body.push_str(&history_section(&history, id, start, "users"));
    if let Some(u) = &user {
        body.push_str("<section aria-labelledby=\"scim\"><h2 id=\"scim\">SCIM resource</h2>");
        body.push_str(&pretty(&u["scim"]));
        body.push_str("</section>");
    }
    Ok(signed(&s, &title, Nav::Users, &body))
}

#[post("/users/<id>/display-name", data = "<form>")]
pub async fn set_display_name(
    app: &State<Arc<App>>,
    s: std::result::Result<Session, WebError>,
    origin: SameOrigin,
    id: &str,
    form: Form,
) -> WebResult {
    let s = s?;
    s.check(&form, &origin)?;
    let name = form.get("display_name").unwrap_or_default().to_string();
    let (app, id, ctx) = (Arc::clone(app), id.to_string(), s.ctx.clone());
    let target = format!("{BASE}/users/{}", url(&id));
    blocking(move || app.admin_set_display_name(&id, &name, &ctx)).await?;
    Ok(Page::Redirect(target))
}

// ---------------------------------------------------------------------------------------------
// Groups

#[get("/groups")]
pub async fn groups(
    app: &State<Arc<App>>,
    s: std::result::Result<Session, WebError>,
    q: Query,
) -> WebResult {
    let s = s?;
    let start = start_param(&q);
    let list = {
        let app = Arc::clone(app);
        blocking(move || json(app.admin_groups(start, PAGE_SIZE)?)).await?
    };
    let rows: Vec<Vec<String>> = list["groups"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|g| {
            vec![
                format!(
                    "<a href=\"{BASE}/groups/{}\">{}</a>",
                    esc(&url(&field(g, "id"))),
                    esc(&field(g, "displayName"))
                ),
                esc(&field(g, "members")),
                time(g.get("lastModified")),
            ]
        })
        .collect();
    let mut body = String::new();
    if rows.is_empty() {
        body.push_str(&html::message("notice", "No groups yet."));
    } else {
        body.push_str(&table(
            "Groups",
            &["Display name", "Members", "Last change"],
            &rows,
        ));
    }
    body.push_str(&html::pager(
        start,
        PAGE_SIZE,
        as_usize(&list["total"]),
        |n| format!("{BASE}/groups?start={n}"),
    ));
    Ok(signed(&s, "Groups", Nav::Groups, &body))
}

#[get("/groups/<id>")]
pub async fn group(
    app: &State<Arc<App>>,
    s: std::result::Result<Session, WebError>,
    id: &str,
    q: Query,
) -> WebResult {
    let s = s?;
    let start = start_param(&q);
    let (group, history) = {
        let (app, id, ctx) = (Arc::clone(app), id.to_string(), s.ctx.clone());
        blocking(move || {
            let group = json(app.admin_group(&id, &ctx)?)?;
            let history = json(app.history(Kind::Group, &id, start, HISTORY_PAGE)?)?;
            Ok((group, history))
        })
        .await?
    };
    let rows: Vec<Vec<String>> = group["members"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|m| {
            let mid = field(m, "id");
            let name = field(m, "displayName");
            let shown = if m.get("userName").is_some() {
                format!(
                    "<a href=\"{BASE}/users/{}\">{}</a>",
                    esc(&url(&mid)),
                    esc(&name)
                )
            } else {
                esc(&name)
            };
            vec![shown, esc(&field(m, "userName")), esc(&field(m, "type"))]
        })
        .collect();
    let mut body = String::new();
    body.push_str("<section aria-labelledby=\"members\"><h2 id=\"members\">Members</h2>");
    if rows.is_empty() {
        body.push_str(&html::message("notice", "No members."));
    } else {
        body.push_str(&table(
            "Members",
            &["Display name", "User name", "Type"],
            &rows,
        ));
    }
    body.push_str("</section>");
    body.push_str(&history_section(&history, id, start, "groups"));
    body.push_str("<section aria-labelledby=\"scim\"><h2 id=\"scim\">SCIM resource</h2>");
    body.push_str(&pretty(&group["scim"]));
    body.push_str("</section>");
    Ok(signed(
        &s,
        &field(&group, "displayName"),
        Nav::Groups,
        &body,
    ))
}

// ---------------------------------------------------------------------------------------------
// API keys

#[get("/keys")]
pub async fn keys(app: &State<Arc<App>>, s: std::result::Result<Session, WebError>) -> WebResult {
    let s = s?;
    let list = {
        let app = Arc::clone(app);
        blocking(move || app.admin_keys()).await?
    };
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|k| {
            let kind = if k.admin { "admin" } else { "SCIM" };
            let mut label = esc(&k.label);
            if k.id == s.key.id {
                label.push_str(" <small>(this session)</small>");
            }
            let status = match &k.revoked {
                Some(t) => format!(
                    "<span class=\"status revoked\">revoked</span> {}",
                    time(Some(&Value::String(t.clone())))
                ),
                None => "<span class=\"status active\">active</span>".to_string(),
            };
            let action = if k.revoked.is_none() {
                format!(
                    "<form method=\"post\" action=\"{BASE}/keys/{}/revoke\">{}\
                     <button type=\"submit\" class=\"danger\" aria-label=\"Revoke key {}\">Revoke</button></form>",
                    esc(&url(&k.id)),
                    html::csrf_field(&s.csrf),
                    esc(&k.label)
                )
            } else {
                String::new()
            };
            vec![
                label,
                kind.to_string(),
                format!("<code>{}</code>", esc(&k.id)),
                time(Some(&Value::String(k.created.clone()))),
                time(k.last_used.clone().map(Value::String).as_ref()),
                status,
                action,
            ]
        })
        .collect();
    let mut body = format!(
        "<section aria-labelledby=\"mint\"><h2 id=\"mint\">Mint a key</h2>\
         <p>A SCIM key is what your identity provider sends (OneLogin's <em>SCIM Bearer Token</em>); \
         an admin key opens this page and the admin API. The key is shown once.</p>\
         <form method=\"post\" action=\"{BASE}/keys\" class=\"stack\">{}\
         <label for=\"label\">Label</label>\
         <input id=\"label\" name=\"label\" type=\"text\" required maxlength=\"100\" placeholder=\"onelogin\">\
         <div class=\"check\"><input id=\"admin\" name=\"admin\" type=\"checkbox\" value=\"on\">\
         <label for=\"admin\">Admin key (for this page and the admin API, not for SCIM)</label></div>\
         <button type=\"submit\">Mint key</button></form></section>",
        html::csrf_field(&s.csrf)
    );
    body.push_str("<section aria-labelledby=\"all-keys\"><h2 id=\"all-keys\">Keys</h2>");
    body.push_str(&table(
        "API keys (the keys themselves are never shown again)",
        &[
            "Label",
            "Kind",
            "id",
            "Created",
            "Last used",
            "Status",
            "Action",
        ],
        &rows,
    ));
    body.push_str("</section>");
    Ok(signed(&s, "API keys", Nav::Keys, &body))
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
    let created = {
        let (app, ctx) = (Arc::clone(app), s.ctx.clone());
        blocking(move || json(app.admin_create_key(&label, admin, &ctx)?)).await?
    };
    let key = created["key"].as_str().unwrap_or_default();
    let info = &created["info"];
    let kind = if admin { "admin" } else { "SCIM" };
    let mut body = html::message(
        "ok",
        "Copy this key now: it is not shown again, and the server keeps only its digest.",
    );
    body.push_str(&copyable("new-key", "API key", key, "Copy API Key"));
    body.push_str(&format!(
        "<dl class=\"facts\"><dt>Label</dt><dd>{}</dd><dt>Kind</dt><dd>{kind}</dd>\
         <dt>id</dt><dd><code>{}</code></dd></dl>",
        esc(&field(info, "label")),
        esc(&field(info, "id"))
    ));
    if !admin {
        body.push_str(&format!(
            "<p>Paste it into OneLogin's <strong>SCIM Bearer Token</strong>, with the SCIM base \
             URL <code>{}</code>.</p>",
            esc(&s.ctx.base_url)
        ));
    }
    body.push_str(&format!(
        "<p><a href=\"{BASE}/keys\">Back to API keys</a></p>"
    ));
    Ok(signed(&s, "Key minted", Nav::Keys, &body))
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
    let (app, id, ctx) = (Arc::clone(app), id.to_string(), s.ctx.clone());
    blocking(move || app.admin_revoke_key(&id, &ctx)).await?;
    Ok(Page::Redirect(format!("{BASE}/keys")))
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
