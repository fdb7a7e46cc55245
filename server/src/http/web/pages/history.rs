//! A resource's revision history: time, actor, action, and each attribute from what to what.

use maud::{html, Markup};
use serde_json::Value;

use crate::http::web::html::{pager, section, segment, table_or, time, Text, ABSENT};
use crate::http::web::HISTORY_PAGE;
use scim_core::model::{Revision, TargetType};
use scim_core::views::HistoryPage;

/// A JSON value as a person reads it: strings bare, absent as an em dash, the rest as JSON.
fn shown(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => ABSENT.to_string(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

/// One entry as a table row. An entry about another resource (a group that took this user in,
/// a member a group lost) links to it, under `base` (the base of the tenant's pages).
fn row(base: &str, e: &Revision, own_id: &str) -> Markup {
    let target = e.target_id.as_str();
    let link = match e.target_type {
        TargetType::User => format!("{base}/users/{}", segment(target)),
        TargetType::Group => format!("{base}/groups/{}", segment(target)),
        TargetType::ApiKey | TargetType::Tenant | TargetType::Webhook => String::new(),
    };
    html! {
        tr {
            td { (time(Some(e.time))) }
            td {
                (Text(&e.actor.name))
                @if let Some(label) = &e.actor.key_label {
                    " " small { "(key “" (Text(label)) "”)" }
                }
            }
            td {
                (Text(e.action.as_str()))
                @if target != own_id {
                    " " small {
                        "(on " (Text(e.target_type.as_str())) " "
                        a href=(link) { (Text(target.get(..8).unwrap_or(target))) }
                        ")"
                    }
                }
            }
            td {
                ul class="changes" {
                    @for c in &e.changes {
                        li {
                            code { (Text(&c.attribute)) } ": "
                            span class="before" { (Text(&shown(c.before.as_ref()))) }
                            " → "
                            span class="after" { (Text(&shown(c.after.as_ref()))) }
                        }
                    }
                }
            }
        }
    }
}

/// A resource's history, newest first, with its pager, on the page `{base}/{endpoint}/{id}`
/// (`base` is the base of the tenant's pages).
pub fn listing(
    base: &str,
    endpoint: &str,
    history: &HistoryPage,
    id: &str,
    start: usize,
) -> Markup {
    html! {
        (section("history", "History", html! {
            (table_or(
                "No history.",
                "Revision history, newest first",
                &["Time", "Actor", "Action", "Changes"],
                &history.entries,
                |e| row(base, e, id),
            ))
            (pager(start, HISTORY_PAGE, history.total, |n| {
                format!("{base}/{endpoint}/{}?start={n}", segment(id))
            }))
        }))
    }
}
