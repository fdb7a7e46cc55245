//! Value filters (`emails[type eq "work"]`) evaluated against one element of a multi-valued
//! attribute. The filter's paths are relative to the element: they name its sub-attributes, or
//! `value` for an element of a simple multi-valued attribute.

use std::cmp::Ordering;

use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::apply::get_ci;
use crate::error::{quote, Error, Result};
use crate::scim::filter::{AttrPath, CompareOp, Filter, Literal};
use crate::scim::schema::{AttrType, Attribute};

/// Checks that a value filter names only sub-attributes of `attr` (`invalidPath` otherwise).
pub(super) fn validate(filter: &Filter, attr: &Attribute) -> Result<()> {
    match filter {
        Filter::Present(path) | Filter::Compare { path, .. } => match definition(attr, path) {
            Some(_) => Ok(()),
            None => Err(Error::invalid_path(format!(
                "the value filter names {}, which is not a sub-attribute of '{}'",
                quote(&display(path)),
                attr.name
            ))),
        },
        Filter::ValuePath { .. } => Err(Error::invalid_path(format!(
            "a value filter on '{}' cannot nest another",
            attr.name
        ))),
        Filter::Not(inner) => validate(inner, attr),
        Filter::And(parts) | Filter::Or(parts) => parts.iter().try_for_each(|f| validate(f, attr)),
    }
}

/// Whether one element of the multi-valued attribute `attr` matches a (validated) value filter.
pub(super) fn matches(filter: &Filter, attr: &Attribute, element: &Value) -> bool {
    match filter {
        Filter::Present(path) => element_value(attr, element, path).is_some_and(|v| !is_empty(v)),
        Filter::Compare { path, op, value } => {
            let Some(def) = definition(attr, path) else {
                return false;
            };
            match element_value(attr, element, path).filter(|v| !is_empty(v)) {
                Some(actual) => compare(def, actual, *op, value),
                None => {
                    matches!((op, value), (CompareOp::Eq, Literal::Null))
                        || (*op == CompareOp::Ne && *value != Literal::Null)
                }
            }
        }
        Filter::ValuePath { .. } => false,
        Filter::Not(inner) => !matches(inner, attr, element),
        Filter::And(parts) => parts.iter().all(|f| matches(f, attr, element)),
        Filter::Or(parts) => parts.iter().any(|f| matches(f, attr, element)),
    }
}

/// The definition a relative path names: a sub-attribute (possibly nested), or the attribute
/// itself for `value` on a simple multi-valued attribute.
pub(super) fn definition<'a>(attr: &'a Attribute, path: &AttrPath) -> Option<&'a Attribute> {
    if attr.kind == AttrType::Complex {
        let sub = attr.sub(&path.name)?;
        match &path.sub {
            Some(name) => sub.sub(name),
            None => Some(sub),
        }
    } else if path.name.eq_ignore_ascii_case("value") && path.sub.is_none() {
        Some(attr)
    } else {
        None
    }
}

fn element_value<'v>(attr: &Attribute, element: &'v Value, path: &AttrPath) -> Option<&'v Value> {
    if attr.kind != AttrType::Complex {
        return Some(element);
    }
    let value = get_ci(element.as_object()?, &path.name)?;
    match &path.sub {
        Some(sub) => get_ci(value.as_object()?, sub),
        None => Some(value),
    }
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        Value::String(s) => s.is_empty(),
        _ => false,
    }
}

fn display(path: &AttrPath) -> String {
    match &path.sub {
        Some(sub) => format!("{}.{sub}", path.name),
        None => path.name.clone(),
    }
}

fn compare(def: &Attribute, actual: &Value, op: CompareOp, literal: &Literal) -> bool {
    if let Value::Array(items) = actual {
        return items.iter().any(|v| compare(def, v, op, literal));
    }
    let ordering = match (actual, literal) {
        (Value::String(a), Literal::String(b)) => {
            if def.kind == AttrType::DateTime
                && !matches!(op, CompareOp::Co | CompareOp::Sw | CompareOp::Ew)
            {
                if let (Ok(a), Ok(b)) = (
                    OffsetDateTime::parse(a, &Rfc3339),
                    OffsetDateTime::parse(b, &Rfc3339),
                ) {
                    return ordered(op, a.cmp(&b));
                }
            }
            let (a, b) = if def.case_exact {
                (a.clone(), b.clone())
            } else {
                (a.to_lowercase(), b.to_lowercase())
            };
            match op {
                CompareOp::Co => return a.contains(&b),
                CompareOp::Sw => return a.starts_with(&b),
                CompareOp::Ew => return a.ends_with(&b),
                _ => a.cmp(&b),
            }
        }
        (Value::Bool(a), Literal::Bool(b)) => match op {
            CompareOp::Eq => return a == b,
            CompareOp::Ne => return a != b,
            _ => return false,
        },
        (Value::Number(a), Literal::Number(b)) => match (a.as_f64(), b.as_f64()) {
            (Some(a), Some(b)) => match a.partial_cmp(&b) {
                Some(o) => o,
                None => return false,
            },
            _ => return false,
        },
        // Null against a present value, or mismatched types: only `ne` holds.
        _ => return op == CompareOp::Ne,
    };
    ordered(op, ordering)
}

fn ordered(op: CompareOp, o: Ordering) -> bool {
    match op {
        CompareOp::Eq => o == Ordering::Equal,
        CompareOp::Ne => o != Ordering::Equal,
        CompareOp::Gt => o == Ordering::Greater,
        CompareOp::Ge => o != Ordering::Less,
        CompareOp::Lt => o == Ordering::Less,
        CompareOp::Le => o != Ordering::Greater,
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => false,
    }
}
