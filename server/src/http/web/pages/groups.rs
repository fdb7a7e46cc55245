//! Groups: the list with member counts, and a group's page (members, history, SCIM).

use maud::{html, Markup};

use super::{history, scim_section};
use crate::http::web::html::{or_dash, pager, section, segment, table_or, time, Text};
use crate::http::web::PAGE_SIZE;
use scim_core::views::{GroupDetail, GroupPage, GroupSummary, HistoryPage, MemberView};

/// A group as a table row, linking to its page.
fn row(base: &str, g: &GroupSummary) -> Markup {
    html! {
        tr {
            td {
                a href={ (base) "/groups/" (segment(&g.group.id)) } {
                    (or_dash(g.group.display_name.as_deref()))
                }
            }
            td { (g.members) }
            td { (time(Some(g.group.last_modified))) }
        }
    }
}

/// A page of groups and the pager; `base` is the base of the tenant's pages.
pub fn list(base: &str, page: &GroupPage, start: usize) -> Markup {
    html! {
        (table_or(
            "No groups yet.",
            "Groups",
            &["Display name", "Members", "Last change"],
            &page.groups,
            |g| row(base, g),
        ))
        (pager(start, PAGE_SIZE, page.total, |n| format!("{base}/groups?start={n}")))
    }
}

/// A member as a table row: a user that exists links to its page.
fn member(base: &str, m: &MemberView) -> Markup {
    html! {
        tr {
            @match m {
                MemberView::User { id, kind, user_name, display_name } => {
                    td { a href={ (base) "/users/" (segment(id)) } { (Text(display_name)) } }
                    td { (or_dash(user_name.as_deref())) }
                    td { (Text(kind)) }
                }
                MemberView::Other { kind, display_name, .. } => {
                    td { (or_dash(display_name.as_deref())) }
                    td { (or_dash(None)) }
                    td { (or_dash(kind.as_deref())) }
                }
            }
        }
    }
}

/// A group's page: its members, its history and its SCIM resource.
pub fn page(
    base: &str,
    group: &GroupDetail,
    history: &HistoryPage,
    id: &str,
    start: usize,
) -> Markup {
    html! {
        (section("members", "Members", html! {
            (table_or(
                "No members.",
                "Members",
                &["Display name", "User name", "Type"],
                &group.members,
                |m| member(base, m),
            ))
        }))
        (history::listing(base, "groups", history, id, start))
        (scim_section(&group.scim))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_member_links_to_its_page_and_any_other_is_plain_text() {
        let user = MemberView::User {
            id: "a b".into(),
            kind: "User".into(),
            user_name: None,
            display_name: "O'Hara".into(),
        };
        assert_eq!(
            member("/admin/t/acme", &user).into_string(),
            "<tr><td><a href=\"/admin/t/acme/users/a%20b\">O&#39;Hara</a></td><td>—</td><td>User</td></tr>"
        );
        let other = MemberView::Other {
            id: "g".into(),
            kind: Some("Group".into()),
            display_name: None,
        };
        assert_eq!(
            member("/admin", &other).into_string(),
            "<tr><td>—</td><td>—</td><td>Group</td></tr>"
        );
    }
}
