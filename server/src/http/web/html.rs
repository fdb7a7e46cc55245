//! The pieces every page is made of, as maud templates (checked at compile time; every spliced
//! value is escaped unless it is `Markup`): the page layout, tables, messages, pagers, times,
//! copy fields, the CSRF field, and path segments for links.

use maud::{html, Markup, Render, DOCTYPE};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use scim_core::model::{rfc3339, Tenant, TenantStatus};
use time::OffsetDateTime;

use super::TENANTS;

/// Text from the directory or a client (names, labels, SCIM values): maud's escaping
/// (`& < > "`), and `'` as `&#39;` too, so that no quote in a name can end an attribute,
/// whichever quotes it has.
pub struct Text<'a>(pub &'a str);

impl Render for Text<'_> {
    fn render_to(&self, buffer: &mut String) {
        for (i, part) in self.0.split('\'').enumerate() {
            if i > 0 {
                buffer.push_str("&#39;");
            }
            part.render_to(buffer);
        }
    }
}

/// What a page shows for a value that is absent.
pub const ABSENT: &str = "—";

/// Text, or an em dash when absent.
pub fn or_dash(text: Option<&str>) -> Text<'_> {
    Text(text.unwrap_or(ABSENT))
}

/// Everything but unreserved bytes (`A-Z a-z 0-9 - . _ ~`): what a path segment or a query value
/// in a link may hold as it is.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Percent-encodes text for a URL path segment or query value.
pub fn segment(text: &str) -> String {
    utf8_percent_encode(text, SEGMENT).to_string()
}

/// A time as `2024-05-01 12:34:56 UTC`, in a `<time>` element carrying its RFC 3339 form.
pub fn time(t: Option<OffsetDateTime>) -> Markup {
    match t.map(rfc3339) {
        Some(t) => {
            let t = t.as_str();
            let shown = t
                .split_once('.')
                .map_or(t, |(head, _)| head)
                .trim_end_matches('Z')
                .replacen('T', " ", 1);
            html! { time datetime=(Text(t)) { (Text(&shown)) " UTC" } }
        }
        None => html! { (ABSENT) },
    }
}

/// The hidden CSRF field every form carries.
pub fn csrf_field(token: &str) -> Markup {
    html! { input type="hidden" name="csrf" value=(Text(token)); }
}

/// Which navigation entry is current.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    None,
    Home,
    Users,
    Groups,
    Keys,
    Webhooks,
    Tenants,
}

/// What a signed-in page's header holds: the session's CSRF token (for the sign-out form), the
/// base of the page's links (`/admin`, or `/admin/t/{tenant}` on a tenant's pages), whether the
/// operator is signed in (who also sees the tenants), and the tenant the page is about (none on
/// the operator's own pages).
pub struct Chrome<'a> {
    pub csrf: &'a str,
    pub base: &'a str,
    pub operator: bool,
    pub tenant: Option<&'a Tenant>,
}

/// A whole page. With `chrome` (signed in), the tenant, the navigation and the sign-out button
/// are shown.
pub fn page(title: &str, nav: Nav, chrome: Option<&Chrome<'_>>, body: Markup) -> String {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="referrer" content="no-referrer";
                title { (Text(title)) " · SCIM server admin" }
                link rel="icon" href="/admin/assets/favicon.svg" type="image/svg+xml";
                link rel="stylesheet" href="/admin/assets/admin.css";
                script src="/admin/assets/admin.js" defer {}
            }
            body {
                a class="skip" href="#main" { "Skip to content" }
                header {
                    p class="brand" { "SCIM server" }
                    @if let Some(c) = chrome {
                        (header(c, nav))
                    }
                }
                main id="main" {
                    h1 { (Text(title)) }
                    (body)
                }
            }
        }
    }
    .into_string()
}

/// A signed-in page's header: the tenant, the navigation (within the page's tenant, and the
/// tenants for the operator), sign-out.
fn header(c: &Chrome<'_>, nav: Nav) -> Markup {
    let base = c.base;
    let mut items = vec![
        (Nav::Home, base.to_string(), "Home"),
        (Nav::Users, format!("{base}/users"), "Users"),
        (Nav::Groups, format!("{base}/groups"), "Groups"),
        (Nav::Keys, format!("{base}/keys"), "API keys"),
        (Nav::Webhooks, format!("{base}/webhooks"), "Webhooks"),
    ];
    if c.operator {
        items.push((Nav::Tenants, TENANTS.to_string(), "Tenants"));
    }
    html! {
        p class="tenant" {
            @match c.tenant {
                Some(t) => {
                    "Tenant: " strong { (Text(&t.name)) }
                    @if t.status == TenantStatus::Disabled {
                        " " span class="status disabled" { "(disabled)" }
                    }
                }
                None => "All tenants",
            }
        }
        nav aria-label="Main" {
            ul {
                @for (n, href, label) in items {
                    li {
                        a href=(href) aria-current=[(n == nav).then_some("page")] { (label) }
                    }
                }
            }
        }
        form method="post" action="/admin/signout" class="signout" {
            (csrf_field(c.csrf))
            button type="submit" { "Sign out" }
        }
    }
}

/// A table: a caption, column headers (`scope="col"`) and its rows, in a wrapper that scrolls
/// sideways on a narrow screen.
pub fn table(caption: &str, headers: &[&str], rows: Markup) -> Markup {
    html! {
        div class="table-wrap" {
            table {
                caption { (Text(caption)) }
                thead { tr { @for h in headers { th scope="col" { (h) } } } }
                tbody { (rows) }
            }
        }
    }
}

/// A section under a second-level heading, which names it for assistive technology.
pub fn section(id: &str, heading: &str, body: Markup) -> Markup {
    html! {
        section aria-labelledby=(id) {
            h2 id=(id) { (heading) }
            (body)
        }
    }
}

/// A table with a row for each item; with no item, a notice instead.
pub fn table_or<T>(
    notice: &str,
    caption: &str,
    headers: &[&str],
    items: &[T],
    row: impl Fn(&T) -> Markup,
) -> Markup {
    if items.is_empty() {
        message("notice", notice)
    } else {
        table(
            caption,
            headers,
            html! { @for item in items { (row(item)) } },
        )
    }
}

/// A message block: `kind` is `error`, `notice` or `ok`.
pub fn message(kind: &str, text: &str) -> Markup {
    let role = if kind == "error" { "alert" } else { "status" };
    html! { p class={ "msg " (kind) } role=(role) { (Text(text)) } }
}

/// A read-only text field with a "Copy" button (the button appears when the script runs; the
/// text can always be selected by hand).
pub fn copyable(id: &str, label: &str, value: &str, button: &str) -> Markup {
    let status = format!("{id}-status");
    html! {
        div class="copyable" {
            label for=(id) { (label) }
            input id=(id) type="text" readonly value=(Text(value)) spellcheck="false" autocomplete="off";
            button type="button" class="copy" data-copy=(id) data-status=(status) hidden { (button) }
            span id=(status) class="copy-status" role="status" aria-live="polite" {}
        }
    }
}

/// Previous and next links for a paged list. `link(start)` builds the URL of a page.
pub fn pager(start: usize, count: usize, total: usize, link: impl Fn(usize) -> String) -> Markup {
    let first = start.max(1);
    let last = (first + count).saturating_sub(1).min(total);
    html! {
        nav class="pager" aria-label="Pages" {
            @if total == 0 {
                p { "None." }
            } @else {
                p { (first) "–" (last) " of " (total) }
            }
            @if first > 1 {
                a href=(link(first.saturating_sub(count).max(1))) rel="prev" { "Previous" }
            }
            @if last < total {
                a href=(link(last + 1)) rel="next" { "Next" }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use scim_core::model::TenantId;

    #[test]
    fn text_escapes_the_five_characters() {
        assert_eq!(
            html! { (Text("<script>alert('x')</script> & \"y\"")) }.into_string(),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;y&quot;"
        );
        assert_eq!(html! { (Text("plain é")) }.into_string(), "plain é");
        assert_eq!(html! { (Text("'")) (Text("")) }.into_string(), "&#39;");
    }

    #[test]
    fn segments_encode_all_but_unreserved() {
        assert_eq!(
            segment("a b&c=d/é'?#%"),
            "a%20b%26c%3Dd%2F%C3%A9%27%3F%23%25"
        );
        assert_eq!(segment("A-z_0.9~"), "A-z_0.9~");
    }

    #[test]
    fn pager_links_pages() {
        let p = pager(1, 10, 25, |s| format!("/x?q=a&start={s}")).into_string();
        assert!(p.contains("1–10 of 25"));
        assert!(p.contains("href=\"/x?q=a&amp;start=11\""), "{p}");
        assert!(!p.contains("Previous"));
        let p = pager(21, 10, 25, |s| format!("/x?start={s}")).into_string();
        assert!(p.contains("21–25 of 25"));
        assert!(p.contains("start=11"));
        assert!(!p.contains("Next"));
        assert!(pager(1, 10, 0, |s| s.to_string())
            .into_string()
            .contains("<p>None.</p>"));
    }

    #[test]
    fn time_is_readable() {
        let at = OffsetDateTime::parse(
            "2024-05-01T12:34:56.123Z",
            &time::format_description::well_known::Rfc3339,
        )
        .expect("time");
        let t = time(Some(at)).into_string();
        assert_eq!(
            t,
            "<time datetime=\"2024-05-01T12:34:56.123Z\">2024-05-01 12:34:56 UTC</time>"
        );
        assert_eq!(time(None).into_string(), "—");
    }

    #[test]
    fn the_layout_marks_the_current_page_and_escapes_the_title() {
        let chrome = Chrome {
            csrf: "tok",
            base: "/admin",
            operator: false,
            tenant: None,
        };
        let p = page(
            "<O'Hara>",
            Nav::Users,
            Some(&chrome),
            html! { p { "body" } },
        );
        assert!(p.starts_with("<!DOCTYPE html><html lang=\"en\">"), "{p}");
        assert!(p.contains("<title>&lt;O&#39;Hara&gt; · SCIM server admin</title>"));
        assert!(p.contains("<h1>&lt;O&#39;Hara&gt;</h1><p>body</p>"));
        assert!(p.contains("<a href=\"/admin/users\" aria-current=\"page\">Users</a>"));
        assert!(p.contains("<a href=\"/admin\">Home</a>"));
        assert!(!p.contains("Tenants"), "the operator's entry: {p}");
        assert!(p.contains("<input type=\"hidden\" name=\"csrf\" value=\"tok\">"));
        assert!(p.contains("<script src=\"/admin/assets/admin.js\" defer></script>"));
        let p = page("Sign in", Nav::None, None, html! {});
        assert!(!p.contains("<nav") && !p.contains("csrf"), "{p}");
    }

    #[test]
    fn a_tenants_pages_link_within_it_and_name_it() {
        let acme = Tenant {
            id: TenantId::parse("acme").expect("id"),
            name: "Acme <Corp>".into(),
            status: TenantStatus::Disabled,
            default_role: "Everyone".into(),
            created: OffsetDateTime::UNIX_EPOCH,
        };
        let chrome = Chrome {
            csrf: "tok",
            base: "/admin/t/acme",
            operator: true,
            tenant: Some(&acme),
        };
        let p = page("Users", Nav::Users, Some(&chrome), html! {});
        for href in [
            "/admin/t/acme",
            "/admin/t/acme/users",
            "/admin/t/acme/groups",
        ] {
            assert!(p.contains(&format!("href=\"{href}\"")), "{href}: {p}");
        }
        assert!(
            p.contains("<a href=\"/admin/t/acme/keys\">API keys</a>"),
            "{p}"
        );
        assert!(
            p.contains("<a href=\"/admin/t/acme/webhooks\">Webhooks</a>"),
            "{p}"
        );
        assert!(p.contains("<a href=\"/admin/tenants\">Tenants</a>"), "{p}");
        assert!(
            p.contains("Tenant: <strong>Acme &lt;Corp&gt;</strong>"),
            "{p}"
        );
        assert!(p.contains("(disabled)"));
        assert!(
            p.contains("action=\"/admin/signout\""),
            "sign-out stays put"
        );
    }

    #[test]
    fn a_copy_field_names_its_button_and_status() {
        let c = copyable("k", "Key", "v\"", "Copy").into_string();
        assert_eq!(
            c,
            "<div class=\"copyable\"><label for=\"k\">Key</label>\
             <input id=\"k\" type=\"text\" readonly value=\"v&quot;\" spellcheck=\"false\" autocomplete=\"off\">\
             <button type=\"button\" class=\"copy\" data-copy=\"k\" data-status=\"k-status\" hidden>Copy</button>\
             <span id=\"k-status\" class=\"copy-status\" role=\"status\" aria-live=\"polite\"></span></div>"
        );
    }
}
