//! The pages' bodies, as maud templates over the typed admin views (`scim_core::views`): each
//! function returns the content of `<main>` below its heading; `html::page` lays it out.

pub mod groups;
mod history;
pub mod keys;
pub mod tenants;
pub mod users;
pub mod webhooks;

use maud::{html, Markup};
use serde_json::Value;

use super::html::{copyable, csrf_field, message, section, Text};
use super::BASE;

/// An error page: what went wrong, and the way back.
pub fn error(detail: &str) -> Markup {
    html! {
        (message("error", detail))
        p { a href=(BASE) { "Back to the admin home page" } }
    }
}

/// The sign-in form, with what went wrong at the last try.
pub fn signin(token: &str, problem: Option<&str>) -> Markup {
    html! {
        @if let Some(p) = problem {
            (message("error", p))
        }
        p {
            "Sign in with an " strong { "admin" } " API key. Mint one on the server with "
            code { "scim-server key create --admin --label YOUR-NAME" }
            ". SCIM keys, which your identity provider uses, are refused here."
        }
        form method="post" action={ (BASE) "/signin" } class="stack" {
            (csrf_field(token))
            label for="key" { "Admin API key" }
            input id="key" name="key" type="password" required autocomplete="off"
                spellcheck="false" autofocus;
            button type="submit" { "Sign in" }
        }
    }
}

/// What the home page counts.
pub struct Counts {
    pub users: usize,
    pub groups: usize,
    pub scim_keys: usize,
}

/// A tenant's home page (`base` is its pages' base): counts, its SCIM base URL to paste into
/// OneLogin, and how to connect it.
pub fn home(base: &str, counts: &Counts, base_url: &str) -> Markup {
    let plain_http = base_url.starts_with("http://")
        && !base_url.starts_with("http://127.")
        && !base_url.starts_with("http://localhost");
    html! {
        p class="summary" {
            a href={ (base) "/users" } { (counts.users) " users" } " · "
            a href={ (base) "/groups" } { (counts.groups) " groups" } " · "
            a href={ (base) "/keys" } { (counts.scim_keys) " active SCIM keys" }
        }
        (section("connect", "Connect OneLogin", html! {
            (copyable("scim-url", "SCIM base URL", base_url, "Copy SCIM base URL"))
            @if plain_http {
                (message(
                    "notice",
                    "OneLogin must reach the server over HTTPS: put it behind a TLS proxy and set \
                     public_url (SCIM_PUBLIC_URL) to its https:// address.",
                ))
            }
            ol class="howto" {
                li {
                    "In OneLogin, add the app " em { "SCIM Provisioner with SAML (SCIM v2 Enterprise)" }
                    " (or another " em { "SCIM Provisioner" } " connector for SCIM v2)."
                }
                li {
                    "On its " strong { "Configuration" } " tab, under " em { "API Connection" }
                    ": paste the URL above into " strong { "SCIM Base URL" } " (as it is, without "
                    code { "/Users" } "), and a SCIM API key into " strong { "SCIM Bearer Token" }
                    ". " a href={ (base) "/keys" } { "Mint a SCIM key" } " and use its "
                    em { "Copy API Key" } " button."
                }
                li {
                    "Click " strong { "Enable" } " next to " em { "API Status" } ". OneLogin looks \
                     up a user that does not exist; the server answers with an empty list and the \
                     status turns " em { "Enabled" } ". Save."
                }
                li {
                    "On the " strong { "Provisioning" } " tab, check "
                    strong { "Enable provisioning" } "; uncheck the " em { "Require admin approval" }
                    " boxes to apply changes at once, choose what deleting and suspending a user in \
                     OneLogin does, and save."
                }
                li {
                    "Assign users to the app. After a sync they are listed under "
                    a href={ (base) "/users" } { "Users" } ", each with its revision history; \
                     changes made through SCIM show the actor " em { "Scim System User" } "."
                }
            }
        }))
    }
}

/// A resource as SCIM returns it, as indented JSON.
fn scim_section(resource: &Value) -> Markup {
    let text = serde_json::to_string_pretty(resource).unwrap_or_default();
    html! {
        (section("scim", "SCIM resource", html! {
            pre class="json" { code { (Text(&text)) } }
        }))
    }
}
