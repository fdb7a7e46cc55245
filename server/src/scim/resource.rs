//! Resources in their canonical form, and the conversions at the edge: a request body becomes a
//! canonical document (validated and coerced against the schemas), a stored document becomes the
//! JSON a client sees (with `id`, `meta`, projection and `returned` rules applied).
//!
//! Canonical form, the one shape the rest of the server handles:
//! - a JSON object whose keys are attribute names spelled as in the schema (`userName`, `name`);
//! - `schemas` lists the core schema URN and the URN of each extension present;
//! - extension attributes sit in an object under the extension's URN (spelled as in the schema);
//! - an unassigned attribute is absent: no `null`, no empty array, no empty object;
//! - values have their schema type (booleans are JSON booleans, multi-valued ones are arrays);
//! - no `id`, `meta` or other `readOnly` attribute, and no `password` (accepted, never stored);
//! - for a Group in memory, `members` is an array of `{"value", "type", "display"?}`.

use serde_json::{Map, Value};

use super::schema::{AttrType, Attribute};
use crate::error::{quote, Error, Result};

/// Coerces and validates one value against its attribute definition, returning it in canonical
/// form, or `None` when the value means "unassigned" (`null`, `[]`, `{}` with nothing in it).
///
/// Tolerated unless `strict`: booleans sent as strings (`"False"`), a single value or object
/// where an array is due (OneLogin's `emails`), numbers sent as strings.
pub fn coerce(attr: &Attribute, value: &Value, strict: bool) -> Result<Option<Value>> {
    if value.is_null() {
        return Ok(None);
    }
    if attr.multi_valued {
        let items: Vec<&Value> = match value {
            Value::Array(items) => items.iter().collect(),
            other if !strict => vec![other],
            _ => {
                return Err(Error::invalid_value(format!(
                    "attribute '{}' is multi-valued and takes an array",
                    attr.name
                )))
            }
        };
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            if let Some(v) = coerce_single(attr, item, strict)? {
                out.push(v);
            }
        }
        if attr.kind == AttrType::Complex {
            let primaries = out
                .iter()
                .filter(|v| v.get("primary") == Some(&Value::Bool(true)))
                .count();
            if primaries > 1 {
                return Err(Error::invalid_value(format!(
                    "at most one value of '{}' may be primary",
                    attr.name
                )));
            }
        }
        Ok(if out.is_empty() { None } else { Some(Value::Array(out)) })
    } else {
        if let Value::Array(items) = value {
            // A one-element array where a single value is due is tolerated.
            return match items.as_slice() {
                [] => Ok(None),
                [one] if !strict => coerce_single(attr, one, strict),
                _ => Err(Error::invalid_value(format!(
                    "attribute '{}' is single-valued and does not take an array",
                    attr.name
                ))),
            };
        }
        coerce_single(attr, value, strict)
    }
}

/// Coerces one (non-array) value of an attribute.
fn coerce_single(attr: &Attribute, value: &Value, strict: bool) -> Result<Option<Value>> {
    let wrong = || {
        Error::invalid_value(format!(
            "attribute '{}' takes a value of type {:?}",
            attr.name, attr.kind
        ))
    };
    Ok(Some(match (attr.kind, value) {
        (_, Value::Null) => return Ok(None),
        (AttrType::String | AttrType::Reference | AttrType::Binary, Value::String(s)) => {
            Value::String(s.clone())
        }
        (AttrType::DateTime, Value::String(s)) => {
            if time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).is_err() {
                return Err(Error::invalid_value(format!(
                    "attribute '{}' takes an RFC 3339 dateTime, not {}",
                    attr.name,
                    quote(s)
                )));
            }
            Value::String(s.clone())
        }
        (AttrType::Boolean, Value::Bool(b)) => Value::Bool(*b),
        (AttrType::Boolean, Value::String(s)) if !strict => {
            if s.eq_ignore_ascii_case("true") {
                Value::Bool(true)
            } else if s.eq_ignore_ascii_case("false") {
                Value::Bool(false)
            } else if s.is_empty() {
                // An unrendered template placeholder (OneLogin): unassigned.
                return Ok(None);
            } else {
                return Err(wrong());
            }
        }
        (AttrType::Integer, Value::Number(n)) if n.is_i64() || n.is_u64() => Value::Number(n.clone()),
        (AttrType::Integer, Value::String(s)) if !strict => match s.trim().parse::<i64>() {
            Ok(i) => Value::from(i),
            Err(_) => return Err(wrong()),
        },
        (AttrType::Decimal, Value::Number(n)) => Value::Number(n.clone()),
        (AttrType::Decimal, Value::String(s)) if !strict => match s.trim().parse::<f64>() {
            Ok(f) if f.is_finite() => Value::from(f),
            _ => return Err(wrong()),
        },
        (AttrType::Complex, Value::Object(obj)) => {
            let mut out = Map::new();
            for (key, v) in obj {
                match attr.sub(key) {
                    Some(sub) => {
                        if let Some(v) = coerce(sub, v, strict)? {
                            out.insert(sub.name.clone(), v);
                        }
                    }
                    None if strict => {
                        return Err(Error::invalid_syntax(format!(
                            "attribute '{}' has no sub-attribute {}",
                            attr.name,
                            quote(key)
                        )))
                    }
                    None => {}
                }
            }
            if out.is_empty() {
                return Ok(None);
            }
            Value::Object(out)
        }
        // A bare string where a complex value with a `value` sub-attribute is due
        // (Entra's `manager`, OneLogin templates).
        (AttrType::Complex, Value::String(s)) if !strict && attr.sub("value").is_some() => {
            if s.is_empty() {
                return Ok(None);
            }
            let mut out = Map::new();
            out.insert("value".into(), Value::String(s.clone()));
            Value::Object(out)
        }
        _ => return Err(wrong()),
    }))
}
