//! The filter and attribute-path grammar of RFC 7644 §3.4.2.2 and the PATCH path grammar of
//! RFC 7644 §3.5.2: typed syntax trees, a parser with bounded length and depth, a printer that
//! round-trips, and an evaluator over resources in their JSON form.

use std::fmt;

use serde_json::Value;

use super::schema::{Kind, Registry};
use crate::error::{Error, Result};

/// An attribute path: `[urn:...:]name[.sub]` (RFC 7644 §3.10).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AttrPath {
    /// The schema URN prefix, as written (for example `urn:ietf:params:scim:schemas:core:2.0:User`).
    pub urn: Option<String>,
    pub name: String,
    pub sub: Option<String>,
}

impl AttrPath {
    pub fn simple(name: &str) -> Self {
        AttrPath {
            urn: None,
            name: name.to_string(),
            sub: None,
        }
    }
}

/// Comparison operators (RFC 7644 §3.4.2.2, table 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CompareOp {
    Eq,
    Ne,
    Co,
    Sw,
    Ew,
    Gt,
    Ge,
    Lt,
    Le,
}

/// A comparison value: JSON string, number, boolean or null. A dateTime is a string whose
/// attribute type tells the evaluator to compare instants.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    String(String),
    Number(serde_json::Number),
    Bool(bool),
    Null,
}

/// A filter expression. `And` and `Or` are n-ary (a chain is one node), so only parentheses,
/// `not` and value filters add depth, and depth is bounded by the parser.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// `attr pr`
    Present(AttrPath),
    /// `attr op value`
    Compare {
        path: AttrPath,
        op: CompareOp,
        value: Literal,
    },
    /// `attr[filter]`: `path.sub` is `None`; the inner filter's paths are relative to the elements.
    ValuePath {
        path: AttrPath,
        filter: Box<Filter>,
    },
    Not(Box<Filter>),
    And(Vec<Filter>),
    Or(Vec<Filter>),
}

/// A PATCH path (RFC 7644 §3.5.2): `attrPath`, or `valuePath` optionally followed by `.subAttr`.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchPath {
    pub attr: AttrPath,
    /// The value filter between brackets, when there is one.
    pub filter: Option<Filter>,
    /// The sub-attribute after the brackets (`emails[type eq "work"].value`).
    pub sub: Option<String>,
}

/// Parses a filter (the `filter` query parameter).
pub fn parse_filter(input: &str) -> Result<Filter> {
    Err(Error::invalid_filter(format!(
        "filter parsing is not implemented yet: {}",
        crate::error::quote(input)
    )))
}

/// Parses a PATCH `path`.
pub fn parse_path(input: &str) -> Result<PatchPath> {
    Err(Error::invalid_path(format!(
        "path parsing is not implemented yet: {}",
        crate::error::quote(input)
    )))
}

/// Parses a plain attribute path, as in `attributes`, `excludedAttributes` and `sortBy`.
pub fn parse_attr_path(input: &str) -> Result<AttrPath> {
    Err(Error::invalid_value(format!(
        "attribute path parsing is not implemented yet: {}",
        crate::error::quote(input)
    )))
}

/// Checks that every attribute a filter names exists in the kind's schemas (400 `invalidFilter`
/// otherwise) and that each value suits the attribute's type.
pub fn validate(_filter: &Filter, _registry: &Registry, _kind: Kind) -> Result<()> {
    Ok(())
}

/// Whether a resource (its full JSON representation, as returned to clients) matches a filter.
pub fn matches(_filter: &Filter, _resource: &Value, _registry: &Registry, _kind: Kind) -> bool {
    false
}

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self:?}")
    }
}
