//! `attributes` and `excludedAttributes` (RFC 7644 §3.4.2.5) resolved against the schemas, and
//! the `returned` rules (RFC 7643 §2.2) applied to a rendered resource.

use serde_json::{Map, Value};

use super::filter::{parse_attr_path, AttrPath};
use super::schema::{Attribute, Kind, Registry, Returned};
use crate::error::Result;

/// One entry of `attributes` or `excludedAttributes`.
#[derive(Debug, Clone, PartialEq)]
enum Selector {
    /// A whole extension, named by its URN.
    Extension(String),
    /// An attribute: the extension URN it sits under (`None` for core and common ones), its name,
    /// and optionally a sub-attribute.
    Attribute {
        extension: Option<String>,
        name: String,
        sub: Option<String>,
    },
}

/// `attributes` / `excludedAttributes` (RFC 7644 §3.4.2.5), resolved against the schemas.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Projection {
    attributes: Vec<Selector>,
    excluded: Vec<Selector>,
}

impl Projection {
    /// Parses the comma-separated lists. Names that no schema defines are ignored.
    pub fn parse(
        registry: &Registry,
        kind: Kind,
        attributes: &[String],
        excluded: &[String],
    ) -> Result<Self> {
        let parse = |list: &[String]| -> Result<Vec<Selector>> {
            let mut out = Vec::new();
            for item in list
                .iter()
                .flat_map(|s| s.split(','))
                .map(str::trim)
                .filter(|s| !s.is_empty())
            {
                if let Some(ext) = registry
                    .extensions(kind)
                    .find(|s| s.id.eq_ignore_ascii_case(item))
                {
                    out.push(Selector::Extension(ext.id.clone()));
                    continue;
                }
                let path = parse_attr_path(item)?;
                if let Some(r) = registry.resolve(kind, &path) {
                    out.push(Selector::Attribute {
                        extension: if r.extension {
                            r.schema.map(str::to_string)
                        } else {
                            None
                        },
                        name: r.attribute.name.clone(),
                        sub: r.sub.map(|s| s.name.clone()),
                    });
                }
            }
            Ok(out)
        };
        Ok(Projection {
            attributes: parse(attributes)?,
            excluded: parse(excluded)?,
        })
    }

    /// Whether neither `attributes` nor `excludedAttributes` names anything: every attribute
    /// returned by default.
    pub fn is_default(&self) -> bool {
        self.attributes.is_empty() && self.excluded.is_empty()
    }

    /// Every attribute but one top-level, core attribute (`groups`, `members`).
    pub fn without(name: &str) -> Self {
        Projection {
            attributes: Vec::new(),
            excluded: vec![Selector::Attribute {
                extension: None,
                name: name.to_string(),
                sub: None,
            }],
        }
    }

    /// Whether `members` (a group) or `groups` (a user) is left out, so it need not be loaded.
    pub fn omits(&self, registry: &Registry, kind: Kind, name: &str) -> bool {
        let named = |list: &[Selector]| {
            list.iter().any(
                |s| matches!(s, Selector::Attribute { extension: None, name: n, .. } if n == name),
            )
        };
        let returned = registry
            .resolve(kind, &AttrPath::simple(name))
            .map(|r| r.attribute.returned)
            .unwrap_or_default();
        if returned == Returned::Always {
            return false;
        }
        if !self.attributes.is_empty() {
            return !named(&self.attributes);
        }
        self.excluded.iter().any(|s| matches!(s, Selector::Attribute { extension: None, name: n, sub: None } if n == name))
    }

    /// Applies the projection and the `returned` rules to a rendered resource, in place.
    pub fn apply(&self, registry: &Registry, kind: Kind, resource: Value) -> Value {
        let Value::Object(mut fields) = resource else {
            return resource;
        };
        // `select` takes each value and gives back what is kept of it.
        let keep = |value: &mut Value, pick: &dyn Fn(Value) -> Option<Value>| match pick(
            std::mem::take(value),
        ) {
            Some(kept) => {
                *value = kept;
                true
            }
            None => false,
        };
        fields.retain(|key, value| {
            if key == "schemas" {
                return true;
            }
            if let Some(ext) = registry.extensions(kind).find(|s| s.id == *key) {
                let Value::Object(inner) = value else {
                    return false;
                };
                inner.retain(|name, v| match ext.attribute(name) {
                    Some(attr) => keep(v, &|v| self.select(Some(&ext.id), attr, v)),
                    None => false,
                });
                return !inner.is_empty();
            }
            match registry.resolve(kind, &AttrPath::simple(key)) {
                Some(r) => keep(value, &|v| self.select(None, r.attribute, v)),
                None => false,
            }
        });
        Value::Object(fields)
    }

    fn select(&self, extension: Option<&str>, attr: &Attribute, value: Value) -> Option<Value> {
        match attr.returned {
            Returned::Never => return None,
            Returned::Always => return Some(value),
            _ => {}
        }
        if !self.attributes.is_empty() {
            return match named(&self.attributes, extension, &attr.name) {
                Named::Whole => Some(value),
                Named::Not => None,
                Named::Subs(subs) => retain_subs(value, |k| {
                    subs.iter().any(|s| s.eq_ignore_ascii_case(k))
                        || attr.sub(k).is_some_and(|a| a.returned == Returned::Always)
                }),
            };
        }
        if attr.returned == Returned::Request {
            return None;
        }
        match named(&self.excluded, extension, &attr.name) {
            Named::Whole => None,
            Named::Not => Some(value),
            Named::Subs(subs) => {
                retain_subs(value, |k| !subs.iter().any(|s| s.eq_ignore_ascii_case(k)))
            }
        }
    }
}

/// How a list of selectors names one attribute.
enum Named<'a> {
    /// The attribute itself, or its whole extension.
    Whole,
    /// Only these sub-attributes.
    Subs(Vec<&'a str>),
    Not,
}

fn named<'a>(list: &'a [Selector], extension: Option<&str>, name: &str) -> Named<'a> {
    let mut subs = Vec::new();
    for s in list {
        match s {
            Selector::Extension(u) if Some(u.as_str()) == extension => return Named::Whole,
            Selector::Attribute {
                extension: e,
                name: n,
                sub,
            } if e.as_deref() == extension && n == name => match sub {
                None => return Named::Whole,
                Some(sub) => subs.push(sub.as_str()),
            },
            _ => {}
        }
    }
    if subs.is_empty() {
        Named::Not
    } else {
        Named::Subs(subs)
    }
}

/// Keeps the sub-attributes `keep` accepts, in a complex value or in each element of a
/// multi-valued one; what is left empty is dropped.
pub(crate) fn retain_subs(value: Value, keep: impl Fn(&str) -> bool) -> Option<Value> {
    let strip = |v: Value| -> Option<Value> {
        let Value::Object(m) = v else { return Some(v) };
        let kept: Map<String, Value> = m.into_iter().filter(|(k, _)| keep(k)).collect();
        (!kept.is_empty()).then_some(Value::Object(kept))
    };
    match value {
        Value::Array(items) => {
            let kept: Vec<Value> = items.into_iter().filter_map(strip).collect();
            (!kept.is_empty()).then_some(Value::Array(kept))
        }
        other => strip(other),
    }
}
