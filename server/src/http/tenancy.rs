//! Which tenant a request is for. Each tenant's SCIM base URL is `/t/{tenant}/scim/v2`, its admin
//! API `/admin/v1/tenants/{tenant}/…` and its admin pages `/admin/t/{tenant}/…`; the unscoped
//! paths (`/scim/v2`, `/admin/v1/…`, `/admin/…`) mean `default`. A request fairing strips the
//! tenant from the path before routing, so that every route serves every tenant, and keeps it
//! for the guards.

use rocket::fairing::{Fairing, Info, Kind as FairingKind};
use rocket::http::uri::Origin;
use rocket::{Data, Request};
use scim_core::model::TenantId;

use super::admin::BASE as ADMIN_API;
use super::web::BASE as WEB;

/// The tenant a request named in its path, as written (not yet validated).
#[derive(Debug, Clone, Default)]
pub struct TenantPath(pub Option<String>);

/// The admin API's paths that a tenant's prefix may precede.
const TENANT_ADMIN: [&str; 6] = ["users", "groups", "audit", "events", "keys", "webhooks"];

/// The tenant and the path without it, when `path` names a tenant.
pub fn split(path: &str, scim_base: &str) -> Option<(String, String)> {
    let segment = |rest: &str| -> Option<(String, String)> {
        let (tenant, tail) = rest.split_once('/').unwrap_or((rest, ""));
        (!tenant.is_empty()).then(|| (tenant.to_string(), tail.to_string()))
    };
    if let Some((tenant, tail)) = path.strip_prefix("/t/").and_then(segment) {
        let tail = format!("/{tail}");
        let under = |base: &str| tail == base || tail.starts_with(&format!("{base}/"));
        if under(scim_base) {
            return Some((tenant, tail));
        }
    }
    if let Some((tenant, tail)) = path
        .strip_prefix(&format!("{ADMIN_API}/tenants/"))
        .and_then(segment)
    {
        let first = tail.split('/').next().unwrap_or_default();
        if TENANT_ADMIN.contains(&first) {
            return Some((tenant, format!("{ADMIN_API}/{tail}")));
        }
    }
    if let Some((tenant, tail)) = path.strip_prefix(&format!("{WEB}/t/")).and_then(segment) {
        let rewritten = if tail.is_empty() {
            WEB.to_string()
        } else {
            format!("{WEB}/{tail}")
        };
        return Some((tenant, rewritten));
    }
    None
}

/// Strips the tenant from a request's path and keeps it in the request's cache.
pub struct TenantPaths {
    pub scim_base: String,
}

#[rocket::async_trait]
impl Fairing for TenantPaths {
    fn info(&self) -> Info {
        Info {
            name: "tenant paths",
            kind: FairingKind::Request,
        }
    }

    async fn on_request(&self, req: &mut Request<'_>, _: &mut Data<'_>) {
        let Some((tenant, path)) = split(req.uri().path().as_str(), &self.scim_base) else {
            return;
        };
        let uri = match req.uri().query() {
            Some(q) => format!("{path}?{q}"),
            None => path,
        };
        if let Ok(origin) = Origin::parse_owned(uri) {
            req.set_uri(origin);
            req.local_cache(|| TenantPath(Some(tenant)));
        }
    }
}

/// The tenant a request is for: the one its path named (`Err` if that is no valid tenant id),
/// else `default`. Also whether the path named one.
pub fn tenant_of(req: &Request<'_>) -> (Result<TenantId, ()>, bool) {
    match &req.local_cache(TenantPath::default).0 {
        Some(text) => (TenantId::parse(text).map_err(drop), true),
        None => (Ok(TenantId::default_tenant()), false),
    }
}

/// A tenant's SCIM base URL under `origin`: the unscoped one for `default`.
pub fn scim_base(origin: &str, tenant: &TenantId, base_path: &str) -> String {
    if tenant.is_default() {
        format!("{origin}{base_path}")
    } else {
        format!("{origin}/t/{tenant}{base_path}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_prefixes_are_stripped_from_known_paths_only() {
        let s = |p: &str| split(p, "/scim/v2");
        assert_eq!(
            s("/t/acme/scim/v2/Users"),
            Some(("acme".into(), "/scim/v2/Users".into()))
        );
        assert_eq!(
            s("/t/acme/scim/v2"),
            Some(("acme".into(), "/scim/v2".into()))
        );
        assert_eq!(s("/t/acme/other"), None);
        assert_eq!(s("/t//scim/v2"), None);
        assert_eq!(
            s("/admin/v1/tenants/acme/users/x"),
            Some(("acme".into(), "/admin/v1/users/x".into()))
        );
        assert_eq!(s("/admin/v1/tenants/acme"), None, "the tenant itself");
        assert_eq!(s("/admin/v1/tenants/acme/nothing"), None);
        assert_eq!(s("/admin/t/acme"), Some(("acme".into(), "/admin".into())));
        assert_eq!(
            s("/admin/t/acme/users"),
            Some(("acme".into(), "/admin/users".into()))
        );
        assert_eq!(s("/scim/v2/Users"), None);
    }
}
