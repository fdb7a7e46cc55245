//! The operator's tenants: every tenant with its SCIM base URL and its actions (enable, disable,
//! delete once disabled and confirmed), the form that creates one, and the page that shows a new
//! tenant's first SCIM key once.

use maud::{html, Markup};

use super::keys::shown_once;
use crate::http::tenants::{CreatedTenant, TenantView};
use crate::http::web::html::{copyable, csrf_field, section, table, Text};
use crate::http::web::session::tenant_base;
use crate::http::web::TENANTS;
use scim_core::model::{Tenant, TenantStatus};

/// A POST form to `{TENANTS}/{id}` whose button names the action (`enable`, `disable`,
/// `delete`), after the `fields`.
fn action(t: &Tenant, csrf: &str, action: &str, verb: &str, fields: Markup) -> Markup {
    let danger = action != "enable";
    html! {
        form method="post" action={ (TENANTS) "/" (t.id) } class="inline" {
            (csrf_field(csrf))
            (fields)
            button type="submit" name="action" value=(action) class=[danger.then_some("danger")]
                aria-label={ (verb) " tenant " (Text(&t.name)) } { (verb) }
        }
    }
}

/// What the operator may do with a tenant: disable an active one; enable a disabled one, or
/// delete it after ticking that all its data goes.
fn actions(t: &Tenant, csrf: &str) -> Markup {
    let confirm = format!("confirm-{}", t.id);
    html! {
        @match t.status {
            TenantStatus::Active => (action(t, csrf, "disable", "Disable", html! {})),
            TenantStatus::Disabled => (action(t, csrf, "enable", "Enable", html! {})),
        }
        @if t.status == TenantStatus::Disabled && !t.id.is_default() {
            (action(t, csrf, "delete", "Delete", html! {
                div class="check" {
                    input id=(confirm) name="confirm" type="checkbox" value="on" required;
                    label for=(confirm) {
                        "I understand that this deletes " (Text(&t.name))
                        " with all its users, groups, keys and history."
                    }
                }
            }))
        }
    }
}

/// A tenant as a table row: its name opens its pages.
fn row(v: &TenantView, csrf: &str) -> Markup {
    let t = &v.tenant;
    let status = match t.status {
        TenantStatus::Active => "active",
        TenantStatus::Disabled => "disabled",
    };
    html! {
        tr {
            td { code { (t.id) } }
            td { a href=(tenant_base(&t.id)) { (Text(&t.name)) } }
            td { span class={ "status " (status) } { (status) } }
            td { (Text(&t.default_role)) }
            td { code { (Text(&v.scim_base_url)) } }
            td { (actions(t, csrf)) }
        }
    }
}

/// Every tenant, and the form that creates one.
pub fn list(tenants: &[TenantView], csrf: &str) -> Markup {
    html! {
        p {
            "Each tenant is a customer organisation with its own users, groups, keys and \
             history, and its own SCIM base URL. A disabled tenant's keys stop working at \
             once; its data stays until it is deleted."
        }
        (table(
            "Every tenant, by id",
            &["id", "Name", "Status", "Default role", "SCIM base URL", "Action"],
            html! { @for v in tenants { (row(v, csrf)) } },
        ))
        (section("create", "Create a tenant", html! {
            p {
                "The tenant's first SCIM key is shown once, with its SCIM base URL, for its \
                 identity provider."
            }
            form method="post" action=(TENANTS) class="stack" {
                (csrf_field(csrf))
                label for="tenant-id" { "Tenant id" }
                small id="tenant-id-hint" {
                    "Lower-case letters, digits and inner hyphens; its SCIM base URL ends in "
                    code { "/t/ID/scim/v2" } "."
                }
                input id="tenant-id" name="id" type="text" required maxlength="63"
                    placeholder="acme" aria-describedby="tenant-id-hint" autocomplete="off"
                    spellcheck="false";
                label for="tenant-name" { "Name" }
                input id="tenant-name" name="name" type="text" required maxlength="200"
                    placeholder="Acme Corp";
                label for="tenant-role" { "Default role (optional)" }
                input id="tenant-role" name="default_role" type="text" maxlength="100"
                    placeholder="Everyone";
                button type="submit" { "Create tenant" }
            }
        }))
    }
}

/// A tenant just created: its SCIM base URL, and its first SCIM key shown this once.
pub fn created(created: &CreatedTenant) -> Markup {
    let t = &created.tenant.tenant;
    html! {
        dl class="facts" {
            dt { "id" } dd { code { (t.id) } }
            dt { "Name" } dd { (Text(&t.name)) }
            dt { "Default role" } dd { (Text(&t.default_role)) }
        }
        (copyable("scim-url", "SCIM base URL", &created.tenant.scim_base_url, "Copy SCIM base URL"))
        (shown_once(&created.key))
        p {
            "Paste them into the tenant's identity provider: OneLogin's " strong { "SCIM Base URL" }
            " and " strong { "SCIM Bearer Token" } ". The tenant's home page has the steps."
        }
        p {
            a href=(tenant_base(&t.id)) { "Open " (Text(&t.name)) } " · "
            a href=(TENANTS) { "Back to tenants" }
        }
    }
}
