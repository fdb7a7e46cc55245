//! Web sessions: a random id in an `HttpOnly`, `SameSite=Strict` cookie, kept in memory only as
//! its SHA-256 digest, tied to the admin key it was opened with; a per-session CSRF token that
//! every form carries; the checks a state-changing POST must pass.

use std::sync::Arc;
use std::time::Duration;

use rocket::data::{self, Data, FromData};
use rocket::http::{Cookie, CookieJar, SameSite, Status};
use rocket::outcome::Outcome;
use rocket::request::{self, FromRequest, Request};
use scim_core::model::{ApiKey, KeyScope, TenantId, WebSession};
use scim_core::secret::{self, digest};
use scim_core::{auth, Context, Directory};
use time::OffsetDateTime;

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

/// The open sessions, kept by the store (in memory with sled; in the database with PostgreSQL,
/// where every replica recognises them), by the SHA-256 digest of their id.
pub struct Sessions {
    store: Arc<dyn scim_core::store::Store>,
}

/// A session's last use is written down at most this often.
const SEEN_EVERY: Duration = Duration::from_secs(60);

impl Sessions {
    pub fn new(store: Arc<dyn scim_core::store::Store>) -> Self {
        Sessions { store }
    }

    /// Opens a session for an admin key: returns the id for the cookie (never stored).
    pub async fn open(&self, key_id: &str) -> Result<String> {
        let id = secret::token()?;
        let csrf = secret::token()?;
        let now = OffsetDateTime::now_utc();
        self.store
            .prune_sessions(now - IDLE, now - LIFETIME, MAX_SESSIONS - 1)
            .await?;
        self.store
            .put_session(WebSession {
                digest: digest(&id),
                key_id: key_id.to_string(),
                csrf,
                opened: now,
                seen: now,
            })
            .await?;
        Ok(id)
    }

    /// The key id and CSRF token of a live session, marking it used.
    async fn touch(&self, id: &str) -> Result<Option<(String, String)>> {
        let digest = digest(id);
        let now = OffsetDateTime::now_utc();
        match self.store.session(&digest).await? {
            Some(s) if alive(&s, now) => {
                if now - s.seen >= SEEN_EVERY {
                    let mut seen = s.clone();
                    seen.seen = now;
                    self.store.put_session(seen).await?;
                }
                Ok(Some((s.key_id, s.csrf)))
            }
            Some(_) => {
                self.store.delete_session(&digest).await?;
                Ok(None)
            }
            None => Ok(None),
        }
    }

    /// Ends a session.
    pub async fn close(&self, id: &str) {
        if let Err(e) = self.store.delete_session(&digest(id)).await {
            tracing::warn!(error = %e, "could not end a web session");
        }
    }
}

fn alive(s: &WebSession, now: OffsetDateTime) -> bool {
    now - s.seen < IDLE && now - s.opened < LIFETIME
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
    let Some((key_id, csrf)) = sessions.touch(&id).await? else {
        return Err(WebError::SignIn);
    };
    match app.core.session_key(&key_id).await? {
        Some(key) => Ok(SignedIn { key, csrf }),
        None => {
            // The key was revoked, lost its admin role or its tenant was disabled: the session
            // ends with it.
            sessions.close(&id).await;
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

    fn sessions() -> (Sessions, tempfile::TempDir) {
        let dir = tempfile::tempdir().expect("dir");
        let store = scim_sled::SledStore::open(dir.path(), &scim_sled::SledOptions::default())
            .expect("store");
        (Sessions::new(Arc::new(store)), dir)
    }

    #[tokio::test]
    async fn sessions_open_find_and_close() {
        let (s, _dir) = sessions();
        let id = s.open("key-1").await.expect("open");
        assert_eq!(id.len(), 64);
        let (key, csrf) = s.touch(&id).await.expect("touch").expect("found");
        assert_eq!(key, "key-1");
        assert_eq!(csrf.len(), 64);
        assert_ne!(csrf, id);
        assert!(s.touch("other").await.expect("touch").is_none());
        s.close(&id).await;
        assert!(s.touch(&id).await.expect("touch").is_none());
    }

    #[tokio::test]
    async fn the_table_keeps_only_digests_and_is_bounded() {
        let (s, _dir) = sessions();
        let first = s.open("k").await.expect("open");
        assert!(
            s.store.session(&first).await.expect("read").is_none(),
            "the id itself is not stored"
        );
        assert!(s
            .store
            .session(&digest(&first))
            .await
            .expect("read")
            .is_some());
        let mut last = String::new();
        for _ in 0..MAX_SESSIONS + 5 {
            last = s.open("k").await.expect("open");
        }
        assert!(
            s.touch(&first).await.expect("touch").is_none(),
            "the oldest ended"
        );
        assert!(s.touch(&last).await.expect("touch").is_some());
    }

    #[test]
    fn idle_and_old_sessions_are_dead() {
        let now = OffsetDateTime::now_utc();
        let fresh = WebSession {
            digest: String::new(),
            key_id: String::new(),
            csrf: String::new(),
            opened: now,
            seen: now,
        };
        assert!(alive(&fresh, now));
        assert!(!alive(&fresh, now + IDLE));
        let busy = WebSession {
            seen: now + LIFETIME - Duration::from_secs(1),
            ..fresh
        };
        assert!(!alive(&busy, now + LIFETIME));
    }
}
