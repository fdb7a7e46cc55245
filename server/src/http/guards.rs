//! Request guards: untrusted text becomes typed values here. Authentication fails the request
//! before any body is read; the body and query guards never fail, they hand the handler a
//! `Result` so that each error gets its exact `scimType`.

use std::sync::Arc;

use rocket::data::{self, Data, FromData, ToByteUnit};
use rocket::http::Status;
use rocket::outcome::Outcome;
use rocket::request::{self, FromRequest, Request};
use serde_json::Value;

use scim_core::auth::{self, Access};
use scim_core::error::AuthFailure;
use scim_core::model::{ApiKey, KeyScope};
use scim_core::{Context, Directory};
use scim_proto::resource::EntityTags;

use super::error::{ApiError, ApiResult};
use super::respond::GuardFailure;
use super::tenancy;
use crate::app::App;

fn app<'r>(req: &'r Request<'_>) -> Option<&'r Arc<App>> {
    req.rocket().state::<Arc<App>>()
}

/// An authenticated SCIM request: the key that signed it, the context the core needs, and the
/// tenant's directory.
pub struct Scim {
    pub key: ApiKey,
    pub ctx: Context,
    pub dir: Directory,
}

/// An authenticated admin API request for one tenant (`default` when the path names none): an
/// operator's admin key, or the tenant's own (a SCIM key is refused with 403).
pub struct Admin {
    pub key: ApiKey,
    pub ctx: Context,
    pub dir: Directory,
    /// Whether the path named the tenant (`/admin/v1/tenants/{tenant}/…`).
    pub scoped: bool,
}

impl Admin {
    /// Whether the key is the operator's (every tenant).
    pub fn is_operator(&self) -> bool {
        self.key.scope() == KeyScope::Operator
    }
}

/// An authenticated request of the operator's (the tenants themselves).
pub struct Operator {
    pub key: ApiKey,
    pub ctx: Context,
}

/// The client's address: the peer's, or behind the front door (`http::front`) the address of the
/// client it relays.
pub fn client_ip(req: &Request<'_>) -> Option<std::net::IpAddr> {
    let remote = req.remote()?;
    req.rocket()
        .state::<Arc<super::front::Clients>>()
        .and_then(|c| c.client_of(remote))
        .or_else(|| req.client_ip())
}

/// The bearer token of an `Authorization` header, or why there is none.
pub fn bearer(header: Option<&str>) -> Result<&str, AuthFailure> {
    let header = header.ok_or(AuthFailure::Missing)?;
    let (scheme, token) = header.split_once(' ').unwrap_or((header, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(AuthFailure::WrongScheme);
    }
    if token.is_empty() {
        return Err(AuthFailure::Empty);
    }
    Ok(token)
}

/// What a guard asks for.
#[derive(Clone, Copy)]
enum Want {
    Scim,
    Admin,
    Operator,
}

/// Checks the bearer key for what the request asks to reach; a failure is kept for the catcher.
async fn authenticate(
    req: &Request<'_>,
    want: Want,
) -> request::Outcome<(ApiKey, Context, Option<Directory>), ApiError> {
    let Some(app) = app(req) else {
        let e = ApiError::Core(scim_core::Error::Internal("no app state".into()));
        return Outcome::Error((Status::InternalServerError, e));
    };
    let fail = |e: ApiError| {
        let status = Status::new(e.status());
        req.local_cache(|| GuardFailure(Some(e.clone())));
        Outcome::Error((status, e))
    };
    let token = bearer(req.headers().get_one("Authorization"));
    let client = client_ip(req).map(|ip| ip.to_string()).unwrap_or_default();
    let (tenant, named) = tenancy::tenant_of(req);
    let access = match (want, &tenant) {
        (Want::Scim, Ok(t)) => Some(Access::Scim(t)),
        (Want::Admin, Ok(t)) => Some(Access::Admin(t)),
        (Want::Operator, _) => Some(Access::Operator),
        (_, Err(())) => None,
    };
    let key = match app.authenticate(token, access, &client).await {
        Ok(key) => key,
        Err(e) => return fail(e),
    };
    let dir = match (want, tenant) {
        (Want::Operator, _) | (_, Err(())) => None,
        (_, Ok(t)) => match app.core.directory(&t).await {
            Ok(d) => Some(d),
            Err(e) => return fail(e.into()),
        },
    };
    let origin = origin(req, app);
    let base_url = match &dir {
        // The base the client addressed (a tenant's own, or `/scim/v2` for `default`).
        Some(d) if named => format!("{origin}/t/{}{}", d.tenant().id, app.config.base_path),
        Some(d) => tenancy::scim_base(&origin, &d.tenant().id, &app.config.base_path),
        None => format!("{origin}{}", app.config.base_path),
    };
    let ctx = Context {
        actor: auth::actor(&key),
        request_id: Some(super::request_id(req)),
        base_url,
    };
    Outcome::Success((key, ctx, dir))
}

/// A guard's directory, which it asked for.
fn directory(dir: Option<Directory>) -> Result<Directory, ApiError> {
    dir.ok_or_else(|| ApiError::Core(scim_core::Error::Internal("no directory".into())))
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Scim {
    type Error = ApiError;

    async fn from_request(req: &'r Request<'_>) -> request::Outcome<Self, ApiError> {
        authenticate(req, Want::Scim)
            .await
            .and_then(|(key, ctx, dir)| match directory(dir) {
                Ok(dir) => Outcome::Success(Scim { key, ctx, dir }),
                Err(e) => Outcome::Error((Status::InternalServerError, e)),
            })
    }
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Admin {
    type Error = ApiError;

    async fn from_request(req: &'r Request<'_>) -> request::Outcome<Self, ApiError> {
        let scoped = tenancy::tenant_of(req).1;
        authenticate(req, Want::Admin)
            .await
            .and_then(|(key, ctx, dir)| match directory(dir) {
                Ok(dir) => Outcome::Success(Admin {
                    key,
                    ctx,
                    dir,
                    scoped,
                }),
                Err(e) => Outcome::Error((Status::InternalServerError, e)),
            })
    }
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Operator {
    type Error = ApiError;

    async fn from_request(req: &'r Request<'_>) -> request::Outcome<Self, ApiError> {
        authenticate(req, Want::Operator)
            .await
            .map(|(key, ctx, _)| Operator { key, ctx })
    }
}

/// The origin in a SCIM base URL (the URL without `/t/{tenant}` and the base path).
pub fn origin_of(base_url: &str, base_path: &str) -> String {
    let without = base_url.strip_suffix(base_path).unwrap_or(base_url);
    match without.rfind("/t/") {
        Some(at) if !without[at + 3..].contains('/') => without[..at].to_string(),
        _ => without.to_string(),
    }
}

/// The server's origin as the client sees it (scheme, host, port): the configured public URL,
/// or the `Host` header.
pub(crate) fn origin(req: &Request<'_>, app: &App) -> String {
    if let Some(public) = &app.config.public_url {
        return public.clone();
    }
    let host = req
        .headers()
        .get_one("Host")
        .filter(|h| {
            !h.is_empty()
                && h.len() <= 255
                && h.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-.:[]_".contains(&b))
        })
        .map(str::to_string)
        .unwrap_or_else(|| app.config.listen.to_string());
    format!("http://{host}")
}

/// The decoded query string: pairs in order. `+` is a space, `%XX` is decoded, empty pairs (a
/// trailing `&` or `?`) are skipped. Names keep their case.
pub struct Query(pub Vec<(String, String)>);

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Query {
    type Error = std::convert::Infallible;

    async fn from_request(req: &'r Request<'_>) -> request::Outcome<Self, Self::Error> {
        let raw = req.uri().query().map(|q| q.as_str()).unwrap_or("");
        Outcome::Success(Query(parse_query(raw)))
    }
}

impl Query {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn all(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
            .collect()
    }
}

/// Decodes a query string or a form body as HTML forms do (`application/x-www-form-urlencoded`):
/// `+` is a space, `%XX` is decoded and a malformed `%` kept as it is, empty pairs are skipped,
/// and bytes that are not UTF-8 become U+FFFD.
pub fn parse_query(raw: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(raw.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// `If-Match` and `If-None-Match`, parsed.
pub struct Preconditions {
    pub if_match: Option<EntityTags>,
    pub if_none_match: Option<EntityTags>,
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Preconditions {
    type Error = std::convert::Infallible;

    async fn from_request(req: &'r Request<'_>) -> request::Outcome<Self, Self::Error> {
        let h = |name| req.headers().get_one(name).map(EntityTags::parse);
        Outcome::Success(Preconditions {
            if_match: h("If-Match"),
            if_none_match: h("If-None-Match"),
        })
    }
}

/// A JSON request body, or why there is none: 415 for a media type other than JSON, 413 past the
/// size limit, 400 `invalidSyntax` for text that is not JSON. The body is never quoted back.
pub struct Body(pub ApiResult<Value>);

#[rocket::async_trait]
impl<'r> FromData<'r> for Body {
    type Error = std::convert::Infallible;

    async fn from_data(req: &'r Request<'_>, data: Data<'r>) -> data::Outcome<'r, Self> {
        Outcome::Success(Body(read_body(req, data).await))
    }
}

/// Reads a request body as text: at most `limit` bytes (413 beyond), within `body_timeout_secs`
/// (408 after: a client that trickles its body holds a task and a connection).
pub async fn read_text(req: &Request<'_>, data: Data<'_>, limit: u64) -> ApiResult<String> {
    let timeout = app(req).map_or(30, |a| a.config.body_timeout_secs);
    let reading = data.open(limit.bytes()).into_string();
    let read = if timeout == 0 {
        reading.await
    } else {
        tokio::time::timeout(std::time::Duration::from_secs(timeout.into()), reading)
            .await
            .map_err(|_| ApiError::Timeout(timeout))?
    };
    let text =
        read.map_err(|e| ApiError::BadRequest(format!("could not read the request body: {e}")))?;
    if !text.is_complete() {
        return Err(ApiError::PayloadTooLarge(format!(
            "the request body exceeds {limit} bytes"
        )));
    }
    Ok(text.into_inner())
}

async fn read_body(req: &Request<'_>, data: Data<'_>) -> ApiResult<Value> {
    if let Some(ct) = req.content_type() {
        let json = ct.top().as_str().eq_ignore_ascii_case("application")
            && (ct.sub().as_str().eq_ignore_ascii_case("json")
                || ct.sub().as_str().to_ascii_lowercase().ends_with("+json"));
        if !json {
            return Err(ApiError::UnsupportedMediaType(
                "the request body must be application/scim+json or application/json".into(),
            ));
        }
    }
    let limit = app(req).map_or(1024 * 1024, |a| a.config.max_body_bytes);
    let text = read_text(req, data, limit).await?;
    if text.trim().is_empty() {
        return Err(scim_proto::Error::invalid_syntax("the request body is empty").into());
    }
    serde_json::from_str(&text).map_err(|e| {
        scim_proto::Error::invalid_syntax(format!(
            "the request body is not valid JSON (line {}, column {})",
            e.line(),
            e.column()
        ))
        .into()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_tokens_and_why_there_is_none() {
        assert_eq!(bearer(Some("Bearer abc")), Ok("abc"));
        assert_eq!(bearer(Some("bearer abc")), Ok("abc"));
        assert_eq!(bearer(None), Err(AuthFailure::Missing));
        assert_eq!(bearer(Some("Basic abc")), Err(AuthFailure::WrongScheme));
        assert_eq!(bearer(Some("Bearer")), Err(AuthFailure::Empty));
        assert_eq!(bearer(Some("Bearer ")), Err(AuthFailure::Empty));
    }

    #[test]
    fn query_decoding_follows_html_forms_and_tolerates_onelogin() {
        let q = parse_query("filter=userName+eq+%22a+b%40c%22&");
        assert_eq!(
            q,
            vec![("filter".to_string(), "userName eq \"a b@c\"".to_string())]
        );
        assert_eq!(parse_query(""), vec![]);
        assert_eq!(
            parse_query("&&count=2&&"),
            vec![("count".into(), "2".into())]
        );
        assert_eq!(parse_query("a=%zz%4"), vec![("a".into(), "%zz%4".into())]);
        assert_eq!(parse_query("flag"), vec![("flag".into(), "".into())]);
        assert_eq!(
            parse_query("q=%C3%A9%FF&a=b=c"),
            vec![("q".into(), "é\u{FFFD}".into()), ("a".into(), "b=c".into())],
            "lossy UTF-8; a value keeps its later '='"
        );
    }
}
