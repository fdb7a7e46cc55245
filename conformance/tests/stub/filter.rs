//! The stub's filters: `attrPath op value`, `attrPath pr`, `and`, `or`, `not (…)`, `( … )`;
//! no value paths. Names and operators in any case; strings compared case-insensitively except
//! for case-exact attributes.

use serde_json::Value;

use super::key_of;

#[derive(Debug, Clone)]
pub(super) enum Filter {
    Cmp(String, String, Value),
    Present(String),
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
}

fn tokens(s: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '(' || c == ')' {
            out.push(c.to_string());
            i += 1;
        } else if c == '[' || c == ']' {
            return Err("value filters are not supported".into());
        } else if c == '"' {
            let mut j = i + 1;
            while j < chars.len() && chars[j] != '"' {
                if chars[j] == '\\' {
                    j += 1;
                }
                j += 1;
            }
            if j >= chars.len() {
                return Err("unterminated string".into());
            }
            out.push(chars[i..=j].iter().collect());
            i = j + 1;
        } else {
            let mut j = i;
            while j < chars.len() && !chars[j].is_whitespace() && !"()[]\"".contains(chars[j]) {
                j += 1;
            }
            out.push(chars[i..j].iter().collect());
            i = j;
        }
    }
    Ok(out)
}

pub(super) fn parse_filter(s: &str) -> Result<Filter, String> {
    let t = tokens(s)?;
    let mut pos = 0;
    let f = parse_or(&t, &mut pos)?;
    if pos != t.len() {
        return Err(format!("unexpected {:?}", t[pos]));
    }
    Ok(f)
}

fn kw(t: &[String], pos: usize, word: &str) -> bool {
    t.get(pos).is_some_and(|x| x.eq_ignore_ascii_case(word))
}

fn parse_or(t: &[String], pos: &mut usize) -> Result<Filter, String> {
    let mut left = parse_and(t, pos)?;
    while kw(t, *pos, "or") {
        *pos += 1;
        left = Filter::Or(Box::new(left), Box::new(parse_and(t, pos)?));
    }
    Ok(left)
}

fn parse_and(t: &[String], pos: &mut usize) -> Result<Filter, String> {
    let mut left = parse_unary(t, pos)?;
    while kw(t, *pos, "and") {
        *pos += 1;
        left = Filter::And(Box::new(left), Box::new(parse_unary(t, pos)?));
    }
    Ok(left)
}

fn parse_unary(t: &[String], pos: &mut usize) -> Result<Filter, String> {
    if kw(t, *pos, "not") {
        *pos += 1;
        if !kw(t, *pos, "(") {
            return Err("not needs a parenthesis".into());
        }
        return Ok(Filter::Not(Box::new(parse_unary(t, pos)?)));
    }
    if kw(t, *pos, "(") {
        *pos += 1;
        let f = parse_or(t, pos)?;
        if !kw(t, *pos, ")") {
            return Err("missing )".into());
        }
        *pos += 1;
        return Ok(f);
    }
    let attr = t.get(*pos).ok_or("an attribute is expected")?.clone();
    if !attr.chars().next().is_some_and(|c| c.is_ascii_alphabetic()) {
        return Err(format!("bad attribute {attr:?}"));
    }
    let op = t
        .get(*pos + 1)
        .ok_or("an operator is expected")?
        .to_ascii_lowercase();
    *pos += 2;
    if op == "pr" {
        return Ok(Filter::Present(attr));
    }
    if !["eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le"].contains(&op.as_str()) {
        return Err(format!("unknown operator {op:?}"));
    }
    let lit = t.get(*pos).ok_or("a value is expected")?;
    *pos += 1;
    let v: Value = serde_json::from_str(lit).map_err(|_| format!("bad value {lit:?}"))?;
    Ok(Filter::Cmp(attr, op, v))
}

const KNOWN: &[&str] = &[
    "id",
    "externalid",
    "username",
    "displayname",
    "nickname",
    "title",
    "active",
    "emails",
    "name",
    "members",
    "meta",
    "groups",
    "password",
    "schemas",
];
const CASE_EXACT: &[&str] = &[
    "id",
    "externalid",
    "members.value",
    "groups.value",
    "password",
];

/// The values at `path` (multi-valued attributes flattened).
fn values(r: &Value, path: &str) -> Result<Vec<Value>, String> {
    let parts: Vec<&str> = path.split('.').collect();
    if !KNOWN.contains(&parts[0].to_ascii_lowercase().as_str()) {
        return Err(format!("unknown attribute {path:?}"));
    }
    let mut cur = vec![r.clone()];
    for p in parts {
        let mut next = Vec::new();
        for c in cur {
            let items = match c {
                Value::Array(a) => a,
                other => vec![other],
            };
            for it in items {
                if let Some(o) = it.as_object() {
                    if let Some(k) = key_of(o, p) {
                        match &o[&k] {
                            Value::Array(a) => next.extend(a.iter().cloned()),
                            Value::Null => {}
                            v => next.push(v.clone()),
                        }
                    }
                }
            }
        }
        cur = next;
    }
    Ok(cur)
}

pub(super) fn eval(f: &Filter, r: &Value, case_sensitive_user_name: bool) -> Result<bool, String> {
    Ok(match f {
        Filter::And(a, b) => {
            eval(a, r, case_sensitive_user_name)? && eval(b, r, case_sensitive_user_name)?
        }
        Filter::Or(a, b) => {
            eval(a, r, case_sensitive_user_name)? || eval(b, r, case_sensitive_user_name)?
        }
        Filter::Not(a) => !eval(a, r, case_sensitive_user_name)?,
        Filter::Present(p) => !values(r, p)?.is_empty(),
        Filter::Cmp(p, op, want) => {
            let lower = p.to_ascii_lowercase();
            let exact = CASE_EXACT.contains(&lower.as_str())
                || (case_sensitive_user_name && lower == "username");
            values(r, p)?.iter().any(|v| compare(v, op, want, exact))
        }
    })
}

fn compare(got: &Value, op: &str, want: &Value, exact: bool) -> bool {
    match (got, want) {
        (Value::String(g), Value::String(w)) => {
            let (g, w) = if exact {
                (g.clone(), w.clone())
            } else {
                (g.to_lowercase(), w.to_lowercase())
            };
            match op {
                "eq" => g == w,
                "ne" => g != w,
                "co" => g.contains(&w),
                "sw" => g.starts_with(&w),
                "ew" => g.ends_with(&w),
                "gt" => g > w,
                "ge" => g >= w,
                "lt" => g < w,
                "le" => g <= w,
                _ => false,
            }
        }
        (g, w) => match op {
            "eq" => g == w,
            "ne" => g != w,
            _ => false,
        },
    }
}
