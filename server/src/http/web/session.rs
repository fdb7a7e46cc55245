//! Web sessions: a random id in an `HttpOnly`, `SameSite=Strict` cookie, kept in memory only as
//! its SHA-256 digest, tied to the admin key it was opened with; a per-session CSRF token that
//! every form carries; the checks a state-changing POST must pass.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rocket::data::{self, Data, FromData};
use rocket::http::{Cookie, CookieJar, SameSite, Status};
use rocket::outcome::Outcome;
use rocket::request::{self, FromRequest, Request};
use scim_core::model::{ApiKey, KeyScope, TenantId};
use scim_core::secret::{self, digest};
use scim_core::{auth, Context, Directory};

use super::html::Chrome;
use super::{WebError, BASE};
use crate::app::App;
use crate::http::guards::{origin, parse_query, read_text};
use crate::http::tenancy;

type Result<T> = std::result::Result<T, scim_core::Error>;

/// The session cookie.
pub const COOKIE: &str = "scim_admin_session";
/// The cookie that carries the sign-in form's CSRF token (before there is a session).
pub const SIGNIN_COOKIE: &str = "scim_admin_signin";
/// A session unused this long ends.
pub const IDLE: Duration = Duration::from_secs(8 * 3600);
/// A session ends this long after sign-in, used or not.
pub const LIFETIME: Duration = Duration::from_secs(24 * 3600);
/// The most sessions kept at once; past it, the least recently used one ends.
const MAX_SESSIONS: usize = 1000;
/// The largest form body read.
const MAX_FORM_BYTES: u64 = 16 * 1024;

struct Entry {
    key_id: String,
    csrf: String,
    opened: Instant,
    seen: Instant,
}

/// Every open session, by the SHA-256 digest of its id. In memory: a restart signs everyone out.
#[derive(Default)]
pub struct Sessions(Mutex<HashMap<String, Entry>>);

impl Sessions {
    /// Opens a session for an admin key: returns the id for the cookie (never stored).
    pub fn open(&self, key_id: &str) -> Result<String> {
        let id = secret::token()?;
        let csrf = secret::token()?;
        let now = Instant::now();
        let mut map = self.lock()?;
        map.retain(|_, e| alive(e, now));
        if map.len() >= MAX_SESSIONS {
            if let Some(oldest) = map
                .iter()
                .min_by_key(|(_, e)| e.seen)
                .map(|(k, _)| k.clone())
            {
                map.remove(&oldest);
            }
        }
        map.insert(
            digest(&id),
            Entry {
                key_id: key_id.to_string(),
                csrf,
                opened: now,
                seen: now,
            },
        );
        Ok(id)
    }

    /// The key id and CSRF token of a live session, marking it used.
    fn touch(&self, id: &str) -> Result<Option<(String, String)>> {
        let digest = digest(id);
        let now = Instant::now();
        let mut map = self.lock()?;
        match map.get_mut(&digest) {
            Some(e) if alive(e, now) => {
                e.seen = now;
                Ok(Some((e.key_id.clone(), e.csrf.clone())))
            }
            Some(_) => {
                map.remove(&digest);
                Ok(None)
            }
            None => Ok(None),
        }
    }

    /// Ends a session.
    pub fn close(&self, id: &str) {
        if let Ok(mut map) = self.lock() {
            map.remove(&digest(id));
        }
    }

    /// How many sessions are open.
    pub fn len(&self) -> usize {
        self.lock().map(|m| m.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, HashMap<String, Entry>>> {
        self.0
            .lock()
            .map_err(|_| scim_core::Error::Internal("the session table is poisoned".into()))
    }
}

fn alive(e: &Entry, now: Instant) -> bool {
    now.duration_since(e.seen) < IDLE && now.duration_since(e.opened) < LIFETIME
}

/// Whether cookies get `Secure`: when the configured public URL is `https://`.
pub fn secure(app: &App) -> bool {
    app.config
        .public_url
        .as_deref()
        .is_some_and(|u| u.to_ascii_lowercase().starts_with("https://"))
}

/// A cookie scoped to `/admin`, `HttpOnly`, `SameSite=Strict`, `Secure` behind TLS.
pub fn cookie(name: &'static str, value: String, secure: bool) -> Cookie<'static> {
    Cookie::build((name, value))
        .path("/admin")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure)
        .build()
}

/// Removes a cookie set by [`cookie`].
pub fn remove(jar: &CookieJar<'_>, name: &'static str) {
    jar.remove(Cookie::build(name).path("/admin"));
}

/// A signed-in administrator, whichever page: the admin key the session was opened with (still
/// active, and its tenant too) and the session's CSRF token. Sign-in and sign-out need no more.
pub struct SignedIn {
    pub key: ApiKey,
    pub csrf: String,
}

/// Where an administrator starts: `/admin`, or its tenant's pages.
pub fn home(key: &ApiKey) -> String {
    match key.scope() {
        KeyScope::TenantAdmin(own) => tenant_base(&own),
        _ => BASE.to_string(),
    }
}

/// The base of a tenant's pages (`/admin/t/{tenant}`; tenant ids need no escaping).
pub fn tenant_base(tenant: &TenantId) -> String {
    format!("{BASE}/t/{tenant}")
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for SignedIn {
    type Error = WebError;

    async fn from_request(req: &'r Request<'_>) -> request::Outcome<Self, WebError> {
        outcome(signed_in(req).await)
    }
}

/// A guard's outcome: a page that is not shown says why (`WebError` answers it).
fn outcome<T>(r: std::result::Result<T, WebError>) -> request::Outcome<T, WebError> {
    match r {
        Ok(s) => Outcome::Success(s),
        Err(e) => Outcome::Error((Status::Unauthorized, e)),
    }
}

/// The session a request's cookie names, with its key.
async fn signed_in(req: &Request<'_>) -> std::result::Result<SignedIn, WebError> {
    let (Some(app), Some(sessions)) = (
        req.rocket().state::<Arc<App>>(),
        req.rocket().state::<Sessions>(),
    ) else {
        return Err(scim_core::Error::Internal("no app state".into()).into());
    };
    let Some(id) = req.cookies().get(COOKIE).map(|c| c.value().to_string()) else {
        return Err(WebError::SignIn);
    };
    let Some((key_id, csrf)) = sessions.touch(&id)? else {
        return Err(WebError::SignIn);
    };
    match app.core.session_key(&key_id).await? {
        Some(key) => Ok(SignedIn { key, csrf }),
        None => {
            // The key was revoked, lost its admin role or its tenant was disabled: the session
            // ends with it.
            sessions.close(&id);
            Err(WebError::SignIn)
        }
    }
}

/// A signed-in administrator on a page it may see: its key, the context the core needs, the
/// session's CSRF token, the directory of the tenant the page is about (`default` unless its
/// path names one), and the base of the page's links.
pub struct Session {
    pub key: ApiKey,
    pub ctx: Context,
    pub csrf: String,
    pub dir: Directory,
    /// Whether the page's path named its tenant (`/admin/t/{tenant}/…`).
    pub scoped: bool,
    /// Where the page's links lead: `/admin`, or `/admin/t/{tenant}` on a tenant's pages, so
    /// that every link, form and pager stays within the tenant.
    pub base: String,
}

impl Session {
    pub fn is_operator(&self) -> bool {
        self.key.scope() == KeyScope::Operator
    }

    /// The page's header: its tenant, the navigation, sign-out.
    pub fn chrome(&self) -> Chrome<'_> {
        Chrome {
            csrf: &self.csrf,
            base: &self.base,
            operator: self.is_operator(),
            tenant: Some(self.dir.tenant()),
        }
    }
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Session {
    type Error = WebError;

    async fn from_request(req: &'r Request<'_>) -> request::Outcome<Self, WebError> {
        outcome(session(req).await)
    }
}

async fn session(req: &Request<'_>) -> std::result::Result<Session, WebError> {
    let SignedIn { key, csrf } = signed_in(req).await?;
    let Some(app) = req.rocket().state::<Arc<App>>() else {
        return Err(scim_core::Error::Internal("no app state".into()).into());
    };
    // The tenant of the page: the operator sees every one, a tenant's administrator its own
    // only (another's pages do not exist for it).
    let (tenant, scoped) = tenancy::tenant_of(req);
    let tenant = tenant.map_err(|()| WebError::Hidden)?;
    let allowed = match key.scope() {
        KeyScope::Operator => true,
        KeyScope::TenantAdmin(own) => own == tenant,
        KeyScope::Scim(_) => false,
    };
    if !allowed {
        // Its own home is elsewhere.
        return Err(match (key.scope(), scoped) {
            (KeyScope::TenantAdmin(own), false) => WebError::Home(own),
            _ => WebError::Hidden,
        });
    }
    let dir = match app.core.directory(&tenant).await {
        Ok(d) => d,
        Err(scim_core::Error::NotFound(_)) => return Err(WebError::Hidden),
        Err(e) => return Err(e.into()),
    };
    let ctx = Context {
        actor: auth::actor(&key),
        request_id: Some(crate::http::request_id(req)),
        base_url: tenancy::scim_base(&origin(req, app), &tenant, &app.config.base_path),
    };
    let base = if scoped {
        tenant_base(&tenant)
    } else {
        BASE.to_string()
    };
    Ok(Session {
        key,
        ctx,
        csrf,
        dir,
        scoped,
        base,
    })
}

/// Whether a POST comes from our own pages, by the headers browsers add: `Sec-Fetch-Site` must
/// be `same-origin` (or `none`: typed by the user), and `Origin`, when sent, must be this host.
/// Defence in depth beside the CSRF token. Under `Referrer-Policy: no-referrer`, browsers send
/// `Origin: null` with a form POST: that tells nothing, so it counts as absent.
pub struct SameOrigin(pub bool);

#[rocket::async_trait]
impl<'r> FromRequest<'r> for SameOrigin {
    type Error = std::convert::Infallible;

    async fn from_request(req: &'r Request<'_>) -> request::Outcome<Self, Self::Error> {
        let h = |name| req.headers().get_one(name);
        let site_ok = h("Sec-Fetch-Site").is_none_or(|s| {
            s.eq_ignore_ascii_case("same-origin") || s.eq_ignore_ascii_case("none")
        });
        let origin_ok = match h("Origin") {
            None | Some("null") => true,
            Some(origin) => {
                let public = req
                    .rocket()
                    .state::<Arc<App>>()
                    .and_then(|a| a.config.public_url.clone());
                let host = h("Host").unwrap_or_default();
                public.is_some_and(|p| p.eq_ignore_ascii_case(origin))
                    || (!host.is_empty()
                        && (origin.eq_ignore_ascii_case(&format!("http://{host}"))
                            || origin.eq_ignore_ascii_case(&format!("https://{host}"))))
            }
        };
        Outcome::Success(SameOrigin(site_ok && origin_ok))
    }
}

/// A URL-encoded form body (at most 16 KiB), as name/value pairs. Never fails: a body that is
/// too large or unreadable is an empty form, which no check passes.
pub struct Form(Vec<(String, String)>);

impl Form {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

#[rocket::async_trait]
impl<'r> FromData<'r> for Form {
    type Error = std::convert::Infallible;

    async fn from_data(req: &'r Request<'_>, data: Data<'r>) -> data::Outcome<'r, Self> {
        // A form that is too large or does not arrive in time is an empty form: its checks
        // refuse it.
        let pairs = match read_text(req, data, MAX_FORM_BYTES).await {
            Ok(text) => parse_query(&text),
            Err(_) => Vec::new(),
        };
        Outcome::Success(Form(pairs))
    }
}

/// Refuses (403, nothing changed) a form without the session's CSRF token or from another site.
fn check(csrf: &str, form: &Form, origin: &SameOrigin) -> std::result::Result<(), WebError> {
    let token = form.get("csrf").unwrap_or_default();
    if origin.0 && secret::same(token, csrf) {
        Ok(())
    } else {
        Err(WebError::Csrf)
    }
}

impl Session {
    /// Refuses (403, nothing changed) a form without this session's CSRF token or from
    /// another site.
    pub fn check(&self, form: &Form, origin: &SameOrigin) -> std::result::Result<(), WebError> {
        check(&self.csrf, form, origin)
    }
}

impl SignedIn {
    /// As [`Session::check`].
    pub fn check(&self, form: &Form, origin: &SameOrigin) -> std::result::Result<(), WebError> {
        check(&self.csrf, form, origin)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_open_find_and_close() {
        let s = Sessions::default();
        let id = s.open("key-1").expect("open");
        assert_eq!(id.len(), 64);
        let (key, csrf) = s.touch(&id).expect("touch").expect("found");
        assert_eq!(key, "key-1");
        assert_eq!(csrf.len(), 64);
        assert_ne!(csrf, id);
        assert!(s.touch("other").expect("touch").is_none());
        s.close(&id);
        assert!(s.touch(&id).expect("touch").is_none());
        assert!(s.is_empty());
    }

    #[test]
    fn the_table_keeps_only_digests_and_is_bounded() {
        let s = Sessions::default();
        let id = s.open("k").expect("open");
        let map = s.lock().expect("lock");
        assert!(!map.contains_key(&id), "the id itself is not stored");
        assert!(map.contains_key(&digest(&id)));
        drop(map);
        for _ in 0..MAX_SESSIONS + 5 {
            s.open("k").expect("open");
        }
        assert_eq!(s.len(), MAX_SESSIONS);
    }

    #[test]
    fn idle_and_old_sessions_are_dead() {
        let now = Instant::now();
        let fresh = Entry {
            key_id: String::new(),
            csrf: String::new(),
            opened: now,
            seen: now,
        };
        assert!(alive(&fresh, now));
        assert!(!alive(&fresh, now + IDLE));
        let busy = Entry {
            seen: now + LIFETIME - Duration::from_secs(1),
            ..fresh
        };
        assert!(!alive(&busy, now + LIFETIME));
    }
}
