//! Users: the list with its search, and a user's page (facts, display name, history, SCIM).

use maud::{html, Markup};

use super::{history, scim_section};
use crate::http::web::html::{
    csrf_field, message, or_dash, pager, section, segment, table_or, time, Text,
};
use crate::http::web::PAGE_SIZE;
use scim_core::views::{HistoryPage, UserDetail, UserPage, UserSummary};

/// A user as a table row, linking to its page.
fn row(base: &str, u: &UserSummary) -> Markup {
    html! {
        tr {
            td { a href={ (base) "/users/" (segment(&u.id)) } { (Text(&u.display_name)) } }
            td { (or_dash(u.user_name.as_deref())) }
            td { span class={ "status " (u.status.as_str()) } { (u.status.as_str()) } }
            td { (Text(&u.role)) }
            td { (time(Some(u.last_modified))) }
        }
    }
}

/// The list: a search form, a page of users (those matching `term`, when there is one), and
/// the pager. `base` is the base of the tenant's pages.
pub fn list(base: &str, page: &UserPage, term: &str, start: usize) -> Markup {
    let (caption, notice) = if term.is_empty() {
        (
            "Users".to_string(),
            "No users yet: they appear here once your identity provider provisions them.",
        )
    } else {
        (format!("Users matching “{term}”"), "No user matches.")
    };
    html! {
        form method="get" action={ (base) "/users" } class="search" role="search" {
            label for="q" { "Search by user name or display name" }
            input id="q" name="q" type="search" value=(Text(term));
            button type="submit" { "Search" }
        }
        (table_or(
            notice,
            &caption,
            &["Display name", "User name", "Status", "Role", "Last change"],
            &page.users,
            |u| row(base, u),
        ))
        (pager(start, PAGE_SIZE, page.total, |n| {
            if term.is_empty() {
                format!("{base}/users?start={n}")
            } else {
                format!("{base}/users?q={}&start={n}", segment(term))
            }
        }))
    }
}

/// A user's page: its facts and display-name form (when it exists; its history outlives it),
/// its history and its SCIM resource.
pub fn page(
    base: &str,
    user: Option<&UserDetail>,
    history: &HistoryPage,
    id: &str,
    start: usize,
    csrf: &str,
) -> Markup {
    html! {
        @if let Some(u) = user {
            @let s = &u.summary;
            dl class="facts" {
                dt { "User name" } dd { (or_dash(s.user_name.as_deref())) }
                dt { "Status" } dd { (s.status.as_str()) }
                dt { "Role" } dd { (Text(&s.role)) }
                dt { "Created" } dd { (time(Some(s.created))) }
                dt { "Last change" } dd { (time(Some(s.last_modified))) }
                dt { "id" } dd { code { (Text(id)) } }
            }
            (section("profile", "Display name", html! {
                p {
                    "Set from the identity provider at the first sync; later SCIM changes never \
                     touch it. You may change it here."
                }
                form method="post" action={ (base) "/users/" (segment(id)) "/display-name" }
                    class="stack" {
                    (csrf_field(csrf))
                    label for="display_name" { "Display name" }
                    input id="display_name" name="display_name" type="text" required
                        maxlength="200" value=(Text(&s.display_name));
                    button type="submit" { "Save display name" }
                }
            }))
        } @else {
            (message("notice", "This user was deleted; its history stays readable."))
        }
        (history::listing(base, "users", history, id, start))
        @if let Some(u) = user {
            (scim_section(&u.scim))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_search_form_and_the_pager_stay_within_the_tenant() {
        let empty = UserPage {
            total: 120,
            start_index: 51,
            users: Vec::new(),
        };
        let p = list("/admin/t/acme", &empty, "a b", 51).into_string();
        assert!(p.contains("action=\"/admin/t/acme/users\""), "{p}");
        assert!(
            p.contains("href=\"/admin/t/acme/users?q=a%20b&amp;start=1\""),
            "{p}"
        );
        assert!(
            p.contains("href=\"/admin/t/acme/users?q=a%20b&amp;start=101\""),
            "{p}"
        );
        let p = list("/admin", &empty, "", 51).into_string();
        assert!(p.contains("href=\"/admin/users?start=101\""), "{p}");
    }
}
