//! Resources in their canonical form, and the conversions at the edge: a request body becomes a
//! canonical document (validated and coerced against the schemas), a stored document becomes the
//! JSON a client sees (with `id` and `meta`; projection and `returned` rules are in
//! [`crate::projection`]).
//!
//! Canonical form, the one shape the rest of the server handles:
//! - a JSON object whose keys are attribute names spelled as in the schema (`userName`, `name`);
//! - `schemas` lists the core schema URN and the URN of each extension present;
//! - extension attributes sit in an object under the extension's URN (spelled as in the schema);
//! - an unassigned attribute is absent: no `null`, no empty array, no empty object;
//! - values have their schema type (booleans are JSON booleans, multi-valued ones are arrays);
//! - no `id`, `meta` or other `readOnly` attribute, and no `password` (accepted, never stored);
//! - for a Group in memory, `members` is an array of `{"value", "type", "display"?}`.

use serde::Serialize;
use serde_json::{Map, Value};

use super::filter::AttrPath;
use super::projection::retain_subs;
pub use super::projection::Projection;
use super::schema::{AttrType, Attribute, Kind, Mutability, Registry, Schema};
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
        Ok(if out.is_empty() {
            None
        } else {
            Some(Value::Array(out))
        })
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

/// A string value as stored: any text but the NUL character (U+0000), which no client means and
/// PostgreSQL does not store.
fn text(attr: &Attribute, s: &str) -> Result<String> {
    if s.contains('\0') {
        return Err(Error::invalid_value(format!(
            "attribute '{}' may not contain the NUL character (U+0000)",
            attr.name
        )));
    }
    Ok(s.to_string())
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
            Value::String(text(attr, s)?)
        }
        (AttrType::DateTime, Value::String(s)) => {
            if time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
                .is_err()
            {
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
        (AttrType::Integer, Value::Number(n)) if n.is_i64() || n.is_u64() => {
            Value::Number(n.clone())
        }
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
            out.insert("value".into(), Value::String(text(attr, s)?));
            Value::Object(out)
        }
        _ => return Err(wrong()),
    }))
}

/// Turns a request body (POST or PUT) into a canonical document: attribute names in schema
/// spelling, values coerced to their types, `readOnly` attributes and `password` dropped, legacy
/// schema URNs normalised, required attributes checked. Unknown attributes are ignored unless
/// `strict` (then 400 `invalidSyntax`).
pub fn from_request(registry: &Registry, kind: Kind, body: &Value, strict: bool) -> Result<Value> {
    let obj = body
        .as_object()
        .ok_or_else(|| Error::invalid_syntax("the request body must be a JSON object"))?;
    let core = registry.core(kind);
    match obj
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("schemas"))
        .map(|(_, v)| v)
    {
        None if strict => return Err(Error::invalid_syntax("'schemas' is required")),
        None => {}
        Some(Value::Array(urns)) => {
            let mut has_core = false;
            for urn in urns {
                let urn = urn.as_str().ok_or_else(|| {
                    Error::invalid_syntax("'schemas' must be an array of strings")
                })?;
                match registry.schema_for_urn(kind, urn, !strict) {
                    Some(s) if s.id == core.id => has_core = true,
                    Some(_) => {}
                    None if strict => {
                        return Err(Error::invalid_syntax(format!(
                            "unknown schema {}",
                            quote(urn)
                        )))
                    }
                    None => {}
                }
            }
            if strict && !has_core {
                return Err(Error::invalid_syntax(format!(
                    "'schemas' must contain {}",
                    core.id
                )));
            }
        }
        Some(_) => {
            return Err(Error::invalid_syntax(
                "'schemas' must be an array of strings",
            ))
        }
    }

    let mut out = Map::new();
    let mut extensions: Vec<(&Schema, Map<String, Value>)> = Vec::new();
    for (key, value) in obj {
        if key.eq_ignore_ascii_case("schemas") {
            continue;
        }
        if key.contains(':') {
            // An extension object under its URN.
            let Some(schema) = registry
                .schema_for_urn(kind, key, !strict)
                .filter(|s| s.id != core.id)
            else {
                if strict {
                    return Err(Error::invalid_syntax(format!(
                        "unknown attribute {}",
                        quote(key)
                    )));
                }
                continue;
            };
            let Value::Object(fields) = value else {
                if value.is_null() {
                    continue;
                }
                return Err(Error::invalid_syntax(format!(
                    "{} must hold an object",
                    schema.id
                )));
            };
            let legacy = !schema.id.eq_ignore_ascii_case(key);
            for (name, v) in fields {
                match schema.attribute(name) {
                    Some(attr) => {
                        let v = if legacy {
                            registry.from_legacy(attr, v)
                        } else {
                            v.clone()
                        };
                        if let Some(v) = coerce_writable(attr, &v, strict)? {
                            ext_map(&mut extensions, schema).insert(attr.name.clone(), v);
                        }
                    }
                    None if strict => {
                        return Err(Error::invalid_syntax(format!(
                            "unknown attribute {}",
                            quote(name)
                        )))
                    }
                    None => {}
                }
            }
            continue;
        }
        match registry.resolve(kind, &AttrPath::simple(key)) {
            Some(r) if r.extension => {
                // An extension attribute sent without its URN: tolerated, filed under the URN.
                if strict {
                    return Err(Error::invalid_syntax(format!(
                        "attribute {} belongs to an extension and must be sent under its schema URN",
                        quote(key)
                    )));
                }
                let schema = r.schema.and_then(|id| registry.schema(id));
                if let (Some(schema), Some(v)) =
                    (schema, coerce_writable(r.attribute, value, strict)?)
                {
                    ext_map(&mut extensions, schema).insert(r.attribute.name.clone(), v);
                }
            }
            Some(r) => {
                if let Some(v) = coerce_writable(r.attribute, value, strict)? {
                    out.insert(r.attribute.name.clone(), v);
                }
            }
            None if strict => {
                return Err(Error::invalid_syntax(format!(
                    "unknown attribute {}",
                    quote(key)
                )))
            }
            None => {}
        }
    }
    let mut schemas = vec![Value::String(core.id.clone())];
    for (schema, fields) in extensions {
        if !fields.is_empty() {
            schemas.push(Value::String(schema.id.clone()));
            out.insert(schema.id.clone(), Value::Object(fields));
        }
    }
    let mut doc = Map::new();
    doc.insert("schemas".into(), Value::Array(schemas));
    doc.extend(out);
    let doc = Value::Object(doc);
    check_required(registry, kind, &doc)?;
    Ok(doc)
}

fn ext_map<'a, 's>(
    extensions: &'a mut Vec<(&'s Schema, Map<String, Value>)>,
    schema: &'s Schema,
) -> &'a mut Map<String, Value> {
    let at = match extensions.iter().position(|(s, _)| s.id == schema.id) {
        Some(at) => at,
        None => {
            extensions.push((schema, Map::new()));
            extensions.len() - 1
        }
    };
    &mut extensions[at].1
}

/// Coerces a value a client may write: `readOnly` attributes and `writeOnly` secrets are dropped.
/// `readOnly` sub-attributes (a manager's `displayName`) are dropped too: the server owns them.
fn coerce_writable(attr: &Attribute, value: &Value, strict: bool) -> Result<Option<Value>> {
    match attr.mutability {
        Mutability::ReadOnly | Mutability::WriteOnly => Ok(None),
        _ => Ok(coerce(attr, value, strict)?.and_then(|v| drop_read_only_subs(attr, v))),
    }
}

fn drop_read_only_subs(attr: &Attribute, value: Value) -> Option<Value> {
    if attr.kind != AttrType::Complex {
        return Some(value);
    }
    let writable = |k: &str| {
        attr.sub(k)
            .is_none_or(|sub| sub.mutability != Mutability::ReadOnly)
    };
    retain_subs(value, writable)
}

/// Checks that every required, writable attribute of the core schema has a non-empty value.
pub fn check_required(registry: &Registry, kind: Kind, doc: &Value) -> Result<()> {
    for attr in &registry.core(kind).attributes {
        if !attr.required || attr.mutability == Mutability::ReadOnly {
            continue;
        }
        match doc.get(&attr.name) {
            None => {
                return Err(Error::invalid_value(format!(
                    "attribute '{}' is required",
                    attr.name
                )))
            }
            Some(Value::String(s)) if s.is_empty() => {
                return Err(Error::invalid_value(format!(
                    "attribute '{}' must not be empty",
                    attr.name
                )))
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// Checks a replacement against `immutable` attributes: one that has a value may not change.
pub fn check_immutable(
    registry: &Registry,
    kind: Kind,
    before: &Value,
    after: &Value,
) -> Result<()> {
    for attr in &registry.core(kind).attributes {
        if attr.mutability != Mutability::Immutable {
            continue;
        }
        if let (Some(old), new) = (before.get(&attr.name), after.get(&attr.name)) {
            if Some(old) != new {
                return Err(Error::mutability(format!(
                    "attribute '{}' is immutable",
                    attr.name
                )));
            }
        }
    }
    Ok(())
}

/// `meta` of a resource (RFC 7643 §3.1).
#[derive(Debug, Clone)]
pub struct Meta {
    pub created: String,
    pub last_modified: String,
    pub version: u64,
}

impl Meta {
    /// `meta` as a resource of `kind` with `id` under `base_url` carries it: the one writer of
    /// it, for [`render`] and for the core's text rendering.
    pub fn rendered<'m>(&'m self, kind: Kind, id: &str, base_url: &str) -> RenderedMeta<'m> {
        RenderedMeta {
            resource_type: kind.name(),
            created: &self.created,
            last_modified: &self.last_modified,
            location: format!("{base_url}/{}/{id}", kind.endpoint()),
            version: etag(self.version),
        }
    }
}

/// `meta` as sent, in its order: `resourceType`, `created`, `lastModified`, `location`,
/// `version`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RenderedMeta<'m> {
    resource_type: &'static str,
    created: &'m str,
    last_modified: &'m str,
    location: String,
    version: String,
}

/// The entity tag of a version (`meta.version`, and the `ETag` header).
pub fn etag(version: u64) -> String {
    format!("W/\"{version}\"")
}

/// An `If-Match` or `If-None-Match` header, parsed (RFC 7232 §3.1, §3.2): `*`, or the
/// comma-separated entity tags it lists, compared weakly (RFC 7232 §2.3.2: `W/` is ignored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntityTags {
    /// `*`: any current version.
    Any,
    /// The opaque tags listed (quotes kept, `W/` removed).
    Listed(Vec<String>),
}

impl EntityTags {
    /// Parses a header's text; any list member that is `*` makes it [`EntityTags::Any`].
    pub fn parse(header: &str) -> Self {
        let items: Vec<&str> = header.split(',').map(str::trim).collect();
        if items.contains(&"*") {
            return EntityTags::Any;
        }
        EntityTags::Listed(items.into_iter().map(opaque).collect())
    }

    /// Whether the tags name this version.
    pub fn matches(&self, version: u64) -> bool {
        match self {
            EntityTags::Any => true,
            EntityTags::Listed(tags) => {
                let current = opaque(&etag(version));
                tags.contains(&current)
            }
        }
    }
}

/// An entity tag without its weakness indicator.
fn opaque(tag: &str) -> String {
    tag.trim().trim_start_matches("W/").to_string()
}

/// Whether an `If-Match` / `If-None-Match` header names a version: `*`, or one of its
/// comma-separated tags under weak comparison (RFC 7232 §2.3.2: `W/` is ignored).
pub fn etag_matches(header: &str, version: u64) -> bool {
    EntityTags::parse(header).matches(version)
}

/// The full representation of a resource, as a client sees it before projection. It takes the
/// canonical document by value (nothing is copied). `related` is `groups` for a user and
/// `members` for a group, already rendered.
pub fn render(
    registry: &Registry,
    kind: Kind,
    id: &str,
    doc: Value,
    meta: &Meta,
    related: Option<Value>,
    base_url: &str,
) -> Value {
    // The document's own map, reordered in place: `schemas`, `id`, then the rest.
    let mut out = match doc {
        Value::Object(fields) => fields,
        _ => Map::new(),
    };
    let schemas = out
        .shift_remove("schemas")
        .unwrap_or_else(|| Value::Array(vec![Value::String(registry.core(kind).id.clone())]));
    out.shift_insert(0, "schemas".into(), schemas);
    out.shift_insert(1, "id".into(), Value::String(id.to_string()));
    if let Some(related) = related {
        let name = match kind {
            Kind::User => "groups",
            Kind::Group => "members",
        };
        if related.as_array().is_some_and(|a| !a.is_empty()) {
            out.insert(name.into(), related);
        }
    }
    out.insert(
        "meta".into(),
        serde_json::to_value(meta.rendered(kind, id, base_url)).unwrap_or_default(),
    );
    Value::Object(out)
}
