//! HTML by hand: one escaping function that every interpolated value goes through, the page
//! layout, and a few helpers. No template engine, no build step.

use std::fmt::Write as _;

use serde_json::Value;

/// Escapes text for HTML element content and quoted attribute values: `& < > " '`.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Percent-encodes text for a URL path segment or query value (everything but unreserved bytes).
pub fn url(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// A JSON value as a person reads it: strings bare, absent as an em dash, the rest as JSON.
pub fn value(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => "—".to_string(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

/// A JSON field as text (an em dash when absent).
pub fn field(v: &Value, name: &str) -> String {
    value(v.get(name))
}

/// An RFC 3339 time as `2024-05-01 12:34:56 UTC`, in a `<time>` element.
pub fn time(v: Option<&Value>) -> String {
    match v.and_then(Value::as_str) {
        Some(t) => {
            let shown = t
                .split_once('.')
                .map_or(t, |(head, _)| head)
                .trim_end_matches('Z')
                .replacen('T', " ", 1);
            format!("<time datetime=\"{}\">{} UTC</time>", esc(t), esc(&shown))
        }
        None => "—".to_string(),
    }
}

/// The hidden CSRF field every form carries.
pub fn csrf_field(token: &str) -> String {
    format!(
        "<input type=\"hidden\" name=\"csrf\" value=\"{}\">",
        esc(token)
    )
}

/// Which navigation entry is current.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    None,
    Home,
    Users,
    Groups,
    Keys,
}

/// A whole page. `signed_in` holds the session's CSRF token: then the navigation and the
/// sign-out button are shown.
pub fn page(title: &str, nav: Nav, signed_in: Option<&str>, body: &str) -> String {
    let mut header = String::new();
    if let Some(token) = signed_in {
        let item = |n: Nav, href: &str, label: &str| {
            let current = if n == nav {
                " aria-current=\"page\""
            } else {
                ""
            };
            format!("<li><a href=\"{href}\"{current}>{label}</a></li>")
        };
        let _ = write!(
            header,
            "<nav aria-label=\"Main\"><ul>{}{}{}{}</ul></nav>\
             <form method=\"post\" action=\"/admin/signout\" class=\"signout\">{}\
             <button type=\"submit\">Sign out</button></form>",
            item(Nav::Home, "/admin", "Home"),
            item(Nav::Users, "/admin/users", "Users"),
            item(Nav::Groups, "/admin/groups", "Groups"),
            item(Nav::Keys, "/admin/keys", "API keys"),
            csrf_field(token)
        );
    }
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"referrer\" content=\"no-referrer\">\n\
         <title>{} · SCIM server admin</title>\n\
         <link rel=\"icon\" href=\"/admin/assets/favicon.svg\" type=\"image/svg+xml\">\n\
         <link rel=\"stylesheet\" href=\"/admin/assets/admin.css\">\n\
         <script src=\"/admin/assets/admin.js\" defer></script>\n</head>\n<body>\n\
         <a class=\"skip\" href=\"#main\">Skip to content</a>\n\
         <header><p class=\"brand\">SCIM server</p>{header}</header>\n\
         <main id=\"main\">\n<h1>{}</h1>\n{body}\n</main>\n</body>\n</html>\n",
        esc(title),
        esc(title)
    )
}

/// A table: a caption, column headers (`scope="col"`) and rows of ready HTML cells, in a
/// wrapper that scrolls sideways on a narrow screen.
pub fn table(caption: &str, headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut out = format!(
        "<div class=\"table-wrap\"><table>\n<caption>{}</caption>\n<thead><tr>",
        esc(caption)
    );
    for h in headers {
        let _ = write!(out, "<th scope=\"col\">{}</th>", esc(h));
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for row in rows {
        out.push_str("<tr>");
        for cell in row {
            let _ = write!(out, "<td>{cell}</td>");
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table></div>\n");
    out
}

/// A message block: `kind` is `error`, `notice` or `ok`.
pub fn message(kind: &str, text: &str) -> String {
    let role = if kind == "error" { "alert" } else { "status" };
    format!("<p class=\"msg {kind}\" role=\"{role}\">{}</p>", esc(text))
}

/// Previous and next links for a paged list. `link(start)` builds the URL of a page.
pub fn pager(start: usize, count: usize, total: usize, link: impl Fn(usize) -> String) -> String {
    let mut out = String::from("<nav class=\"pager\" aria-label=\"Pages\">");
    let first = start.max(1);
    let last = (first + count).saturating_sub(1).min(total);
    if total == 0 {
        out.push_str("<p>None.</p>");
    } else {
        let _ = write!(out, "<p>{first}–{last} of {total}</p>");
    }
    if first > 1 {
        let prev = first.saturating_sub(count).max(1);
        let _ = write!(
            out,
            "<a href=\"{}\" rel=\"prev\">Previous</a>",
            esc(&link(prev))
        );
    }
    if last < total {
        let _ = write!(
            out,
            "<a href=\"{}\" rel=\"next\">Next</a>",
            esc(&link(last + 1))
        );
    }
    out.push_str("</nav>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn esc_escapes_the_five_characters() {
        assert_eq!(
            esc("<script>alert('x')</script> & \"y\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;y&quot;"
        );
        assert_eq!(esc("plain é"), "plain é");
    }

    #[test]
    fn url_encodes_all_but_unreserved() {
        assert_eq!(url("a b&c=d/é"), "a%20b%26c%3Dd%2F%C3%A9");
        assert_eq!(url("A-z_0.9~"), "A-z_0.9~");
    }

    #[test]
    fn pager_links_pages() {
        let p = pager(1, 10, 25, |s| format!("/x?start={s}"));
        assert!(p.contains("1–10 of 25"));
        assert!(p.contains("start=11"));
        assert!(!p.contains("Previous"));
        let p = pager(21, 10, 25, |s| format!("/x?start={s}"));
        assert!(p.contains("21–25 of 25"));
        assert!(p.contains("start=11"));
        assert!(!p.contains("Next"));
    }

    #[test]
    fn time_is_readable() {
        let v = Value::String("2024-05-01T12:34:56.123Z".into());
        assert!(time(Some(&v)).contains(">2024-05-01 12:34:56 UTC<"));
    }
}
