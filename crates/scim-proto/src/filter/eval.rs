//! Checking a filter against the schemas, and evaluating it over a resource's JSON form.
//! The rules are listed on [`super::matches`].

use std::borrow::Cow;
use std::cmp::Ordering;

use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::{AttrPath, CompareOp, Filter, Literal};
use crate::error::{quote, Error, Result};
use crate::schema::{AttrType, Attribute, Kind, Registry};

/// The attribute whose elements a value filter (`emails[…]`) tests: inside it, paths name
/// sub-attributes of this attribute.
#[derive(Clone, Copy)]
struct Outer<'a> {
    path: &'a AttrPath,
    attribute: &'a Attribute,
}

pub(super) fn validate(filter: &Filter, registry: &Registry, kind: Kind) -> Result<()> {
    check(filter, registry, kind, None)
}

fn check(filter: &Filter, registry: &Registry, kind: Kind, outer: Option<Outer<'_>>) -> Result<()> {
    match filter {
        Filter::Not(inner) => check(inner, registry, kind, outer),
        Filter::And(terms) | Filter::Or(terms) => terms
            .iter()
            .try_for_each(|t| check(t, registry, kind, outer)),
        Filter::Present(path) => definition(path, registry, kind, outer).map(|_| ()),
        Filter::Compare { path, op, value } => {
            let attribute = definition(path, registry, kind, outer)?;
            let name = match outer {
                Some(outer) => format!("{}.{path}", outer.path),
                None => path.to_string(),
            };
            check_comparison(&name, attribute, *op, value)
        }
        Filter::ValuePath { path, filter } => {
            if outer.is_some() {
                return Err(Error::invalid_filter("value filters cannot be nested"));
            }
            let attribute = definition(path, registry, kind, None)?;
            if path.sub.is_some() || attribute.kind != AttrType::Complex {
                return Err(Error::invalid_filter(format!(
                    "{} is not a complex attribute, so it takes no value filter",
                    quote(&path.to_string())
                )));
            }
            check(filter, registry, kind, Some(Outer { path, attribute }))
        }
    }
}

/// The definition a path names: a sub-attribute of `outer` inside a value filter, otherwise
/// whatever the kind's schemas resolve it to.
fn definition<'r>(
    path: &AttrPath,
    registry: &'r Registry,
    kind: Kind,
    outer: Option<Outer<'r>>,
) -> Result<&'r Attribute> {
    match outer {
        None => registry
            .resolve(kind, path)
            .map(|r| r.sub.unwrap_or(r.attribute))
            .ok_or_else(|| {
                Error::invalid_filter(format!(
                    "unknown attribute {} in filter",
                    quote(&path.to_string())
                ))
            }),
        Some(outer) => {
            if path.urn.is_some() || path.sub.is_some() {
                return Err(Error::invalid_filter(format!(
                    "inside the value filter of {}, name one of its sub-attributes without prefix, not {}",
                    quote(&outer.path.to_string()),
                    quote(&path.to_string())
                )));
            }
            outer.attribute.sub(&path.name).ok_or_else(|| {
                Error::invalid_filter(format!(
                    "unknown attribute {} in filter",
                    quote(&format!("{}.{}", outer.path, path.name))
                ))
            })
        }
    }
}

fn is_ordering(op: CompareOp) -> bool {
    matches!(
        op,
        CompareOp::Gt | CompareOp::Ge | CompareOp::Lt | CompareOp::Le
    )
}

fn is_substring(op: CompareOp) -> bool {
    matches!(op, CompareOp::Co | CompareOp::Sw | CompareOp::Ew)
}

/// Whether `op value` can compare `attribute` (written `name` in the filter).
fn check_comparison(
    name: &str,
    attribute: &Attribute,
    op: CompareOp,
    value: &Literal,
) -> Result<()> {
    let name = quote(name);
    let fail = |why: String| Err(Error::invalid_filter(why));
    if *value == Literal::Null {
        return match op {
            CompareOp::Eq | CompareOp::Ne => Ok(()),
            _ => fail(format!(
                "'{op} null' compares nothing: use 'eq null', 'ne null' or 'pr'"
            )),
        };
    }
    let attribute = match (attribute.kind, attribute.sub("value")) {
        (AttrType::Complex, Some(value)) if !is_ordering(op) => value,
        (AttrType::Complex, _) => {
            return fail(format!(
                "{name} is a complex attribute: '{op}' must compare one of its sub-attributes"
            ))
        }
        _ => attribute,
    };
    match (attribute.kind, value) {
        (AttrType::Boolean, _) if op != CompareOp::Eq && op != CompareOp::Ne => fail(format!(
            "{name} is a boolean: only 'eq' and 'ne' compare it"
        )),
        (AttrType::Boolean, Literal::Bool(_)) => Ok(()),
        (AttrType::Boolean, _) => fail(format!(
            "{name} is a boolean: compare it with true or false"
        )),
        (AttrType::Binary, _) if is_ordering(op) || is_substring(op) => {
            fail(format!("{name} is binary: only 'eq' and 'ne' compare it"))
        }
        (AttrType::Integer | AttrType::Decimal | AttrType::DateTime, _) if is_substring(op) => {
            fail(format!(
                "'{op}' compares strings, and {name} is a {}",
                type_name(attribute.kind)
            ))
        }
        (AttrType::Integer | AttrType::Decimal, Literal::Number(_)) => Ok(()),
        (AttrType::Integer | AttrType::Decimal, _) => {
            fail(format!("{name} is a number: compare it with a number"))
        }
        (AttrType::DateTime, Literal::String(s)) => match parse_instant(s) {
            Some(_) => Ok(()),
            None => fail(format!(
                "{} is not an RFC 3339 dateTime (such as \"2011-05-13T04:42:34Z\")",
                quote(s)
            )),
        },
        (AttrType::DateTime, _) => fail(format!(
            "{name} is a dateTime: compare it with a string such as \"2011-05-13T04:42:34Z\""
        )),
        (AttrType::String | AttrType::Reference | AttrType::Binary, Literal::String(_)) => Ok(()),
        (AttrType::String | AttrType::Reference | AttrType::Binary, _) => fail(format!(
            "{name} is a string: compare it with a JSON string (in double quotes)"
        )),
        (AttrType::Complex, _) => fail(format!(
            "{name} is a complex attribute: compare one of its sub-attributes"
        )),
    }
}

fn type_name(kind: AttrType) -> &'static str {
    match kind {
        AttrType::String => "string",
        AttrType::Boolean => "boolean",
        AttrType::Decimal => "decimal",
        AttrType::Integer => "integer",
        AttrType::DateTime => "dateTime",
        AttrType::Binary => "binary",
        AttrType::Reference => "reference",
        AttrType::Complex => "complex",
    }
}

fn parse_instant(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s, &Rfc3339).ok()
}

/// Where the paths of a filter are resolved.
#[derive(Clone, Copy)]
enum Scope<'a> {
    /// Against the whole resource, by the kind's schemas.
    Resource,
    /// Against one element of a multi-valued complex attribute, inside a value filter.
    Element {
        attribute: &'a Attribute,
        element: &'a Value,
    },
}

struct Evaluator<'a> {
    resource: &'a Value,
    registry: &'a Registry,
    kind: Kind,
}

/// The values a path leads to (arrays flattened, nulls dropped), and their definition.
struct Target<'a> {
    attribute: &'a Attribute,
    values: Vec<&'a Value>,
}

pub(super) fn matches(filter: &Filter, resource: &Value, registry: &Registry, kind: Kind) -> bool {
    Evaluator {
        resource,
        registry,
        kind,
    }
    .eval(filter, Scope::Resource)
}

impl<'a> Evaluator<'a> {
    fn eval(&self, filter: &Filter, scope: Scope<'a>) -> bool {
        match filter {
            Filter::Not(inner) => !self.eval(inner, scope),
            Filter::And(terms) => terms.iter().all(|t| self.eval(t, scope)),
            Filter::Or(terms) => terms.iter().any(|t| self.eval(t, scope)),
            Filter::Present(path) => self
                .target(path, scope)
                .is_some_and(|t| t.values.into_iter().any(is_present)),
            Filter::Compare { path, op, value } => self
                .target(path, scope)
                .is_some_and(|t| compare_target(t, *op, value)),
            Filter::ValuePath { path, filter } => {
                let Scope::Resource = scope else { return false };
                match self.target(path, scope) {
                    Some(t) if path.sub.is_none() && t.attribute.kind == AttrType::Complex => {
                        t.values.into_iter().any(|element| {
                            self.eval(
                                filter,
                                Scope::Element {
                                    attribute: t.attribute,
                                    element,
                                },
                            )
                        })
                    }
                    _ => false,
                }
            }
        }
    }

    /// The values `path` names, or `None` if the schemas do not define it.
    fn target(&self, path: &AttrPath, scope: Scope<'a>) -> Option<Target<'a>> {
        match scope {
            Scope::Element { attribute, element } => {
                if path.urn.is_some() || path.sub.is_some() {
                    return None;
                }
                let sub = attribute.sub(&path.name)?;
                Some(Target {
                    attribute: sub,
                    values: flatten(get(element, &sub.name)),
                })
            }
            Scope::Resource => {
                let resolved = self.registry.resolve(self.kind, path)?;
                let container = match (resolved.extension, resolved.schema) {
                    (true, Some(urn)) => get(self.resource, urn),
                    _ => Some(self.resource),
                };
                let values = flatten(container.and_then(|c| get(c, &resolved.attribute.name)));
                Some(match resolved.sub {
                    None => Target {
                        attribute: resolved.attribute,
                        values,
                    },
                    Some(sub) => Target {
                        attribute: sub,
                        values: values
                            .into_iter()
                            .flat_map(|v| flatten(get(v, &sub.name)))
                            .collect(),
                    },
                })
            }
        }
    }
}

/// A member of a JSON object by name: the exact key, or else one equal ignoring ASCII case.
fn get<'v>(value: &'v Value, key: &str) -> Option<&'v Value> {
    let map = value.as_object()?;
    map.get(key).or_else(|| {
        map.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

/// A value as the list of its values: an array's non-null elements, a single non-null value.
fn flatten(value: Option<&Value>) -> Vec<&Value> {
    match value {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items.iter().filter(|v| !v.is_null()).collect(),
        Some(other) => vec![other],
    }
}

/// `pr`: not null, not an empty string, not an empty array or object (nor one holding only such).
fn is_present(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(items) => items.iter().any(is_present),
        Value::Object(map) => map.values().any(is_present),
        Value::Bool(_) | Value::Number(_) => true,
    }
}

fn compare_target(target: Target<'_>, op: CompareOp, literal: &Literal) -> bool {
    if *literal == Literal::Null {
        let present = target.values.into_iter().any(is_present);
        return match op {
            CompareOp::Eq => !present,
            CompareOp::Ne => present,
            _ => false,
        };
    }
    let (attribute, values) = if target.attribute.kind == AttrType::Complex {
        // `emails co "@x"` compares the elements' `value`.
        let Some(value) = target.attribute.sub("value") else {
            return false;
        };
        (
            value,
            target
                .values
                .into_iter()
                .flat_map(|v| flatten(get(v, &value.name)))
                .collect(),
        )
    } else {
        (target.attribute, target.values)
    };
    values
        .into_iter()
        .any(|v| compare_value(attribute, v, op, literal))
}

/// How two values of `attribute` order, by the same rules as comparisons: dateTimes by instant,
/// strings by `caseExact`, numbers numerically, `false` before `true`. `None` when they do not
/// compare (different or unsuitable types, an unparsable dateTime).
pub(super) fn order(attribute: &Attribute, a: &Value, b: &Value) -> Option<Ordering> {
    match (attribute.kind, a, b) {
        (AttrType::Boolean, Value::Bool(a), Value::Bool(b)) => Some(a.cmp(b)),
        (AttrType::Integer | AttrType::Decimal, Value::Number(a), Value::Number(b)) => {
            compare_numbers(a, b)
        }
        (AttrType::DateTime, Value::String(a), Value::String(b)) => {
            Some(parse_instant(a)?.cmp(&parse_instant(b)?))
        }
        (
            AttrType::String | AttrType::Reference | AttrType::Binary,
            Value::String(a),
            Value::String(b),
        ) => {
            if attribute.case_exact || attribute.kind == AttrType::Binary {
                Some(a.cmp(b))
            } else {
                Some(a.to_lowercase().cmp(&b.to_lowercase()))
            }
        }
        _ => None,
    }
}

/// A member of a JSON object by name, ignoring ASCII case (see [`get`]).
pub(super) fn member<'v>(value: &'v Value, key: &str) -> Option<&'v Value> {
    get(value, key)
}

/// Whether one value of `attribute` satisfies `op literal`.
fn compare_value(attribute: &Attribute, value: &Value, op: CompareOp, literal: &Literal) -> bool {
    match (attribute.kind, value, literal) {
        (AttrType::Boolean, Value::Bool(a), Literal::Bool(b)) => match op {
            CompareOp::Eq => a == b,
            CompareOp::Ne => a != b,
            _ => false,
        },
        (AttrType::Integer | AttrType::Decimal, Value::Number(a), Literal::Number(b)) => {
            compare_numbers(a, b).is_some_and(|ord| ordering_holds(op, ord))
        }
        (AttrType::DateTime, Value::String(a), Literal::String(b)) if !is_substring(op) => {
            match (parse_instant(a), parse_instant(b)) {
                (Some(a), Some(b)) => ordering_holds(op, a.cmp(&b)),
                _ => false,
            }
        }
        (
            AttrType::String | AttrType::Reference | AttrType::Binary | AttrType::DateTime,
            Value::String(a),
            Literal::String(b),
        ) => {
            let case_exact = attribute.case_exact || attribute.kind == AttrType::Binary;
            compare_strings(a, b, op, case_exact)
        }
        _ => false,
    }
}

fn compare_strings(a: &str, b: &str, op: CompareOp, case_exact: bool) -> bool {
    let (a, b): (Cow<'_, str>, Cow<'_, str>) = if case_exact {
        (a.into(), b.into())
    } else {
        (a.to_lowercase().into(), b.to_lowercase().into())
    };
    match op {
        CompareOp::Co => a.contains(&*b),
        CompareOp::Sw => a.starts_with(&*b),
        CompareOp::Ew => a.ends_with(&*b),
        _ => ordering_holds(op, a.cmp(&b)),
    }
}

/// Exact for two integers, by `f64` otherwise.
fn compare_numbers(a: &serde_json::Number, b: &serde_json::Number) -> Option<Ordering> {
    if let (Some(a), Some(b)) = (a.as_i64(), b.as_i64()) {
        return Some(a.cmp(&b));
    }
    if let (Some(a), Some(b)) = (a.as_u64(), b.as_u64()) {
        return Some(a.cmp(&b));
    }
    a.as_f64()?.partial_cmp(&b.as_f64()?)
}

/// Whether `a op b` holds given how `a` compares with `b` (`co`, `sw`, `ew` never do).
fn ordering_holds(op: CompareOp, ord: Ordering) -> bool {
    match op {
        CompareOp::Eq => ord == Ordering::Equal,
        CompareOp::Ne => ord != Ordering::Equal,
        CompareOp::Gt => ord == Ordering::Greater,
        CompareOp::Ge => ord != Ordering::Less,
        CompareOp::Lt => ord == Ordering::Less,
        CompareOp::Le => ord != Ordering::Greater,
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => false,
    }
}
