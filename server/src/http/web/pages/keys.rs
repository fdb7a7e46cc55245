//! API keys: the mint form and the list with revoke buttons, and the page that shows a key once.

use maud::{html, Markup};

use crate::http::web::html::{copyable, csrf_field, message, section, segment, table, time, Text};
use scim_core::views::{KeyInfo, MintedKey};

fn kind(admin: bool) -> &'static str {
    if admin {
        "admin"
    } else {
        "SCIM"
    }
}

/// A key as a table row. `own` marks the key of this session.
fn row(base: &str, k: &KeyInfo, own: bool, csrf: &str) -> Markup {
    html! {
        tr {
            td {
                (Text(&k.label))
                @if own {
                    " " small { "(this session)" }
                }
            }
            td { (kind(k.admin)) }
            td { code { (Text(&k.id)) } }
            td { (time(Some(k.created))) }
            td { (time(k.last_used)) }
            td {
                @if let Some(t) = &k.revoked {
                    span class="status revoked" { "revoked" } " " (time(Some(*t)))
                } @else {
                    span class="status active" { "active" }
                }
            }
            td {
                @if k.revoked.is_none() {
                    form method="post" action={ (base) "/keys/" (segment(&k.id)) "/revoke" } {
                        (csrf_field(csrf))
                        button type="submit" class="danger"
                            aria-label={ "Revoke key " (Text(&k.label)) } { "Revoke" }
                    }
                }
            }
        }
    }
}

/// The mint form and every key (never a key itself). `session_key` is this session's key id;
/// `base` the base of the tenant's pages, whose keys these are.
pub fn list(base: &str, keys: &[KeyInfo], session_key: &str, csrf: &str) -> Markup {
    html! {
        (section("mint", "Mint a key", html! {
            p {
                "A SCIM key is what your identity provider sends (OneLogin's "
                em { "SCIM Bearer Token" } "); an admin key opens this page and the admin API. \
                 The key is shown once."
            }
            form method="post" action={ (base) "/keys" } class="stack" {
                (csrf_field(csrf))
                label for="label" { "Label" }
                input id="label" name="label" type="text" required maxlength="100"
                    placeholder="onelogin";
                div class="check" {
                    input id="admin" name="admin" type="checkbox" value="on";
                    label for="admin" { "Admin key (for this page and the admin API, not for SCIM)" }
                }
                button type="submit" { "Mint key" }
            }
        }))
        (section("all-keys", "Keys", html! {
            (table(
                "API keys (the keys themselves are never shown again)",
                &["Label", "Kind", "id", "Created", "Last used", "Status", "Action"],
                html! { @for k in keys { (row(base, k, k.id == session_key, csrf)) } },
            ))
        }))
    }
}

/// A key shown this once, with its copy button.
pub fn shown_once(key: &str) -> Markup {
    html! {
        (message(
            "ok",
            "Copy this key now: it is not shown again, and the server keeps only its digest.",
        ))
        (copyable("new-key", "API key", key, "Copy API Key"))
    }
}

/// A key just minted, shown this once, with a copy button; for a SCIM key, where it goes.
pub fn minted(base: &str, minted: &MintedKey, base_url: &str) -> Markup {
    let info = &minted.info;
    html! {
        (shown_once(&minted.key))
        dl class="facts" {
            dt { "Label" } dd { (Text(&info.label)) }
            dt { "Kind" } dd { (kind(info.admin)) }
            dt { "id" } dd { code { (Text(&info.id)) } }
        }
        @if !info.admin {
            p {
                "Paste it into OneLogin's " strong { "SCIM Bearer Token" }
                ", with the SCIM base URL " code { (Text(base_url)) } "."
            }
        }
        p { a href={ (base) "/keys" } { "Back to API keys" } }
    }
}
