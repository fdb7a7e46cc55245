//! The operator's tenants page (`/admin/tenants`): every tenant with its SCIM base URL and a link
//! to its pages, creating one (its first SCIM key shown once), and enabling, disabling or
//! deleting one (`POST /admin/tenants/{id}`; deleting a disabled one only, after an explicit
//! confirmation). The same core operations as the JSON routes under `/admin/v1/tenants`. A
//! tenant's administrator finds no page here (404), as on another tenant's pages.

use std::sync::Arc;

use rocket::http::Status;
use rocket::{get, post, State};
use scim_core::model::{TenantId, TenantStatus};
use scim_core::NewTenant;

use super::html::{page, Chrome, Nav};
use super::session::{Form, SameOrigin, Session};
use super::{pages, Page, WebError, WebResult, TENANTS};
use crate::app::App;
use crate::http::admin::invalid;
use crate::http::guards::origin_of;
use crate::http::tenants::{view, views, CreatedTenant};

/// The operator's session on its own pages; anyone else is told there is no such page.
fn operator(s: Result<Session, WebError>) -> Result<Session, WebError> {
    match s {
        Ok(s) if s.is_operator() && !s.scoped => Ok(s),
        // A tenant's administrator, sent home from the unscoped pages, or on its own tenant's.
        Ok(_) | Err(WebError::Home(_)) => Err(WebError::Hidden),
        Err(e) => Err(e),
    }
}

/// An operator's page, about no one tenant.
fn shown(s: &Session, title: &str, body: maud::Markup) -> Page {
    let chrome = Chrome {
        tenant: None,
        ..s.chrome()
    };
    Page::Html(Status::Ok, page(title, Nav::Tenants, Some(&chrome), body))
}

/// The origin the operator reached the server at, for each tenant's SCIM base URL.
fn origin(app: &App, s: &Session) -> String {
    origin_of(&s.ctx.base_url, &app.config.base_path)
}

/// A form field, trimmed; absent when empty.
fn field<'f>(form: &'f Form, name: &str) -> Option<&'f str> {
    form.get(name).map(str::trim).filter(|v| !v.is_empty())
}

#[get("/tenants")]
pub async fn list(app: &State<Arc<App>>, s: Result<Session, WebError>) -> WebResult {
    let s = operator(s)?;
    let all = views(app, &origin(app, &s)).await?;
    Ok(shown(&s, "Tenants", pages::tenants::list(&all, &s.csrf)))
}

#[post("/tenants", data = "<form>")]
pub async fn create(
    app: &State<Arc<App>>,
    s: Result<Session, WebError>,
    origin: SameOrigin,
    form: Form,
) -> WebResult {
    let s = operator(s)?;
    s.check(&form, &origin)?;
    let id = TenantId::parse(field(&form, "id").unwrap_or_default()).map_err(invalid)?;
    let new = NewTenant {
        name: field(&form, "name").unwrap_or(id.as_str()).to_string(),
        default_role: field(&form, "default_role").map(str::to_string),
        id,
    };
    let (tenant, key_info, key) = app.core.create_tenant(new, s.ctx.actor.clone()).await?;
    let created = CreatedTenant {
        tenant: view(app, &self::origin(app, &s), tenant),
        key,
        key_info,
    };
    Ok(shown(
        &s,
        "Tenant created",
        pages::tenants::created(&created),
    ))
}

/// `action=enable`, `action=disable` (a disabled tenant's keys, and its administrators'
/// sessions, stop working at once), or `action=delete` with the `confirm` box ticked (a
/// disabled tenant only, with all its data).
#[post("/tenants/<id>", data = "<form>")]
pub async fn change(
    app: &State<Arc<App>>,
    s: Result<Session, WebError>,
    origin: SameOrigin,
    id: &str,
    form: Form,
) -> WebResult {
    let s = operator(s)?;
    s.check(&form, &origin)?;
    let id = TenantId::parse(id).map_err(|_| WebError::Hidden)?;
    let actor = s.ctx.actor.clone();
    let status = match form.get("action") {
        Some("enable") => TenantStatus::Active,
        Some("disable") => TenantStatus::Disabled,
        Some("delete") => {
            let confirm = form.get("confirm") == Some("on");
            app.core.delete_tenant(&id, confirm, actor).await?;
            return Ok(Page::Redirect(TENANTS.into()));
        }
        _ => return Err(invalid("the action is enable, disable or delete").into()),
    };
    app.core
        .update_tenant(&id, None, None, Some(status), actor)
        .await?;
    Ok(Page::Redirect(TENANTS.into()))
}
