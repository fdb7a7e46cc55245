//! Rendering of OneLogin's SCIM JSON Template.
//!
//! The template is JSON text holding `{$user.*}` and `{$parameters.*}`
//! placeholders. OneLogin substitutes them textually and sends the result
//! compactly (the traced PUT body is compact JSON in template order:
//! [TRACE] authentik #11249). Rules implemented here:
//!
//! * a placeholder inside a JSON string renders its value as string content,
//!   JSON-escaped, so `"active": "{$user.active}"` renders `"true"` (OL3,
//!   [VENDOR] Keepnet);
//! * a missing or empty value renders as the empty string (`""`) (OL3);
//! * values are passed verbatim, never trimmed (OL11);
//! * a bare (unquoted) placeholder renders a JSON literal when the value is
//!   one (`true`, `false`, `null`, a number) and a quoted string otherwise,
//!   missing values as `""` ([INFER]: never documented).

use serde_json::Value;

/// Error raised when a rendered template is not valid JSON.
#[derive(Debug, thiserror::Error)]
#[error("rendered SCIM JSON template is not valid JSON ({message}): {rendered}")]
pub struct TemplateError {
    /// The JSON parser's message.
    pub message: String,
    /// The rendered text.
    pub rendered: String,
}

/// Renders `template` to text, asking `lookup` for each placeholder name
/// (for example `user.firstname` or `parameters.scimusername`).
pub fn render_text(template: &str, lookup: impl Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(template.len() + 64);
    let mut in_string = false;
    let mut escaped = false;
    let mut rest = template;
    while let Some(c) = rest.chars().next() {
        if c == '{' {
            if let Some((name, len)) = placeholder_at(rest) {
                let value = lookup(name);
                if in_string {
                    out.push_str(&escape_string_content(value.as_deref().unwrap_or("")));
                } else {
                    out.push_str(&bare_literal(value.as_deref()));
                }
                rest = &rest[len..];
                escaped = false;
                continue;
            }
        }
        if in_string {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if c == '"' {
            in_string = true;
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// Renders `template` and parses the result as JSON.
pub fn render(
    template: &str,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<Value, TemplateError> {
    let rendered = render_text(template, lookup);
    serde_json::from_str(&rendered).map_err(|e| TemplateError {
        message: e.to_string(),
        rendered,
    })
}

/// Lists the placeholder names used by `template`, in order of appearance.
pub fn placeholders(template: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = template;
    while let Some(pos) = rest.find("{$") {
        rest = &rest[pos..];
        match placeholder_at(rest) {
            Some((name, len)) => {
                names.push(name.to_string());
                rest = &rest[len..];
            }
            None => rest = &rest[2..],
        }
    }
    names
}

/// If `s` starts with `{$name}`, returns `name` and the placeholder's length.
fn placeholder_at(s: &str) -> Option<(&str, usize)> {
    let body = s.strip_prefix("{$")?;
    let end = body.find('}')?;
    let name = &body[..end];
    let valid = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    valid.then_some((name, end + 3))
}

fn escape_string_content(value: &str) -> String {
    let quoted = Value::String(value.to_string()).to_string();
    quoted[1..quoted.len() - 1].to_string()
}

fn bare_literal(value: Option<&str>) -> String {
    match value {
        None | Some("") => "\"\"".to_string(),
        Some(v @ ("true" | "false" | "null")) => v.to_string(),
        Some(v) if serde_json::from_str::<serde_json::Number>(v).is_ok() => v.to_string(),
        Some(v) => Value::String(v.to_string()).to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(name: &str) -> Option<String> {
        match name {
            "user.firstname" => Some("Jane".into()),
            "user.lastname" => Some(" Doe \"Q\"".into()),
            "user.active" => Some("true".into()),
            "user.id" => Some("42".into()),
            "user.empty" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn quoted_placeholders_render_as_escaped_strings() {
        let t = r#"{"a": "{$user.firstname} {$user.lastname}", "b": "{$user.active}"}"#;
        let v = render(t, lookup).expect("json");
        assert_eq!(v["a"], "Jane  Doe \"Q\"");
        assert_eq!(v["b"], "true");
    }

    #[test]
    fn missing_values_render_empty() {
        let t = r#"{"a": "{$user.nope}", "b": {$user.nope}, "c": {$user.empty}}"#;
        let v = render(t, lookup).expect("json");
        assert_eq!(v["a"], "");
        assert_eq!(v["b"], "");
        assert_eq!(v["c"], "");
    }

    #[test]
    fn bare_placeholders_render_literals() {
        let t = r#"{"active": {$user.active}, "id": {$user.id}, "n": {$user.firstname}}"#;
        let v = render(t, lookup).expect("json");
        assert_eq!(v["active"], true);
        assert_eq!(v["id"], 42);
        assert_eq!(v["n"], "Jane");
    }

    #[test]
    fn keeps_order_and_ignores_non_placeholders() {
        let t = r#"{"z": "{not a placeholder}", "a": "x\"{$user.firstname}", "m": "{$ bad}"}"#;
        let text = render_text(t, lookup);
        assert_eq!(
            text,
            r#"{"z": "{not a placeholder}", "a": "x\"Jane", "m": "{$ bad}"}"#
        );
        let v = render(t, lookup).expect("json");
        let keys: Vec<_> = v.as_object().expect("obj").keys().cloned().collect();
        assert_eq!(keys, ["z", "a", "m"]);
    }

    #[test]
    fn lists_placeholders() {
        let t = r#"{"a": "{$user.firstname} {$parameters.scimusername}", "b": "{$}"}"#;
        assert_eq!(
            placeholders(t),
            ["user.firstname", "parameters.scimusername"]
        );
    }

    #[test]
    fn invalid_json_is_reported() {
        let err = render("{\"a\": }", lookup).expect_err("invalid");
        assert!(err.rendered.contains("\"a\""));
    }
}
