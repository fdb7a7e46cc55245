//! The filter and attribute-path grammar of RFC 7644 §3.4.2.2 and the PATCH path grammar of
//! RFC 7644 §3.5.2: typed syntax trees, a parser with bounded length and depth, a printer that
//! round-trips, and an evaluator over resources in their JSON form.
//!
//! - [`parse_filter`], [`parse_path`] and [`parse_attr_path`] turn text into trees. Input is at
//!   most [`MAX_LEN`] bytes, and parentheses, `not (…)` and value filters nest at most
//!   [`MAX_DEPTH`] levels; the depth is checked before each descent, so hostile input costs
//!   neither stack nor time.
//! - `Display` prints a tree in canonical form, which parses back to the same tree.
//! - [`validate`] checks a parsed filter against the schemas; [`matches`] evaluates it.

use std::fmt;

use serde_json::Value;

pub use super::path::AttrPath;
use super::schema::{Attribute, Kind, Registry};
use crate::error::{Error, Result};

mod eval;
mod parse;
#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;

/// The longest filter, PATCH path or attribute path accepted, in bytes.
pub const MAX_LEN: usize = 8192;

/// How deeply parentheses, `not (…)` and value filters (`emails[…]`) may nest.
pub const MAX_DEPTH: usize = 64;

/// Comparison operators (RFC 7644 §3.4.2.2, table 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CompareOp {
    /// `eq`: equal.
    Eq,
    /// `ne`: not equal.
    Ne,
    /// `co`: contains (strings).
    Co,
    /// `sw`: starts with (strings).
    Sw,
    /// `ew`: ends with (strings).
    Ew,
    /// `gt`: greater than.
    Gt,
    /// `ge`: greater than or equal.
    Ge,
    /// `lt`: less than.
    Lt,
    /// `le`: less than or equal.
    Le,
}

impl CompareOp {
    /// Every operator, in the order of RFC 7644 table 3.
    pub const ALL: [CompareOp; 9] = [
        CompareOp::Eq,
        CompareOp::Ne,
        CompareOp::Co,
        CompareOp::Sw,
        CompareOp::Ew,
        CompareOp::Gt,
        CompareOp::Ge,
        CompareOp::Lt,
        CompareOp::Le,
    ];

    /// The operator as written in a filter (lower case).
    pub fn as_str(self) -> &'static str {
        match self {
            CompareOp::Eq => "eq",
            CompareOp::Ne => "ne",
            CompareOp::Co => "co",
            CompareOp::Sw => "sw",
            CompareOp::Ew => "ew",
            CompareOp::Gt => "gt",
            CompareOp::Ge => "ge",
            CompareOp::Lt => "lt",
            CompareOp::Le => "le",
        }
    }
}

/// A comparison value: JSON string, number, boolean or null. A dateTime is a string whose
/// attribute type tells the evaluator to compare instants.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    /// A JSON string, escapes resolved.
    String(String),
    /// A JSON number.
    Number(serde_json::Number),
    /// `true` or `false`.
    Bool(bool),
    /// `null`.
    Null,
}

/// A filter expression. `And` and `Or` are n-ary (a chain is one node), so only parentheses,
/// `not` and value filters add depth, and depth is bounded by the parser.
///
/// The parser never produces an `And` or `Or` with fewer than two children; a parenthesized
/// group stays one child (`a pr and (b pr and c pr)` is `And[a, And[b, c]]`).
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// `attr pr`
    Present(AttrPath),
    /// `attr op value`
    Compare {
        /// The attribute compared.
        path: AttrPath,
        /// The operator.
        op: CompareOp,
        /// The value compared with.
        value: Literal,
    },
    /// `attr[filter]`: `path.sub` is `None`; the inner filter's paths are relative to the elements.
    ValuePath {
        /// The (multi-valued, complex) attribute whose elements are filtered.
        path: AttrPath,
        /// The filter each element is tested against.
        filter: Box<Filter>,
    },
    /// `not (filter)`
    Not(Box<Filter>),
    /// `a and b and …`
    And(Vec<Filter>),
    /// `a or b or …`
    Or(Vec<Filter>),
}

/// A PATCH path (RFC 7644 §3.5.2): `attrPath`, or `valuePath` optionally followed by `.subAttr`.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchPath {
    /// The attribute the operation targets.
    pub attr: AttrPath,
    /// The value filter between brackets, when there is one.
    pub filter: Option<Filter>,
    /// The sub-attribute after the brackets (`emails[type eq "work"].value`).
    pub sub: Option<String>,
}

/// Parses a filter (the `filter` query parameter). Errors are 400 `invalidFilter`.
///
/// Beyond RFC 7644's grammar, `attr[filter].sub op value` (which Entra sends, for example
/// `emails[type eq "work"].value eq "a@b.c"`) is accepted as `attr[filter and sub op value]`.
pub fn parse_filter(input: &str) -> Result<Filter> {
    parse::filter(input).map_err(|e| Error::invalid_filter(e.0))
}

/// Parses a PATCH `path`. Errors are 400 `invalidPath`.
pub fn parse_path(input: &str) -> Result<PatchPath> {
    parse::patch_path(input).map_err(|e| Error::invalid_path(e.0))
}

/// Parses a plain attribute path, as in `attributes`, `excludedAttributes` and `sortBy`.
/// Errors are 400 `invalidValue`.
pub fn parse_attr_path(input: &str) -> Result<AttrPath> {
    parse::attr_path(input).map_err(|e| Error::invalid_value(e.0))
}

/// Checks that every attribute a filter names exists in the kind's schemas (400 `invalidFilter`
/// otherwise) and that each value suits the attribute's type.
pub fn validate(filter: &Filter, registry: &Registry, kind: Kind) -> Result<()> {
    eval::validate(filter, registry, kind)
}

/// Whether a resource (its full JSON representation, as returned to clients) matches a filter.
///
/// Semantics (RFC 7644 §3.4.2.2):
/// - strings compare by the attribute's `caseExact` (otherwise by their lower-case forms),
///   dateTimes by instant, numbers numerically, booleans with `eq` and `ne` only;
/// - on a multi-valued attribute a comparison holds when it holds for any value; so `ne` holds
///   when some value differs, and an absent attribute satisfies no comparison but `eq null`;
/// - a complex attribute compared without sub-attribute (`emails co "@x"`) compares its `value`;
/// - `pr` holds for a value that is not null, not `""` and not an empty array or object;
///   `eq null` holds exactly when `pr` does not, and `ne null` exactly when it does;
/// - `emails[f]` holds when one element satisfies all of `f`;
/// - an attribute the schemas do not define matches nothing ([`validate`] rejects it first).
pub fn matches(filter: &Filter, resource: &Value, registry: &Registry, kind: Kind) -> bool {
    eval::matches(filter, resource, registry, kind)
}

/// How two values of an attribute order, by the rules [`matches`] compares them with (dateTimes
/// by instant, strings by `caseExact`, numbers numerically); `None` when they do not compare.
pub fn order(attribute: &Attribute, a: &Value, b: &Value) -> Option<std::cmp::Ordering> {
    eval::order(attribute, a, b)
}

/// A member of a JSON object by name, the exact key first, else ignoring ASCII case (resources use
/// the schema's spelling; clients may not).
pub fn member<'v>(value: &'v Value, key: &str) -> Option<&'v Value> {
    eval::member(value, key)
}

impl fmt::Display for CompareOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for Literal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Literal::String(s) => f.write_str(&serde_json::to_string(s).map_err(|_| fmt::Error)?),
            Literal::Number(n) => write!(f, "{n}"),
            Literal::Bool(b) => write!(f, "{b}"),
            Literal::Null => f.write_str("null"),
        }
    }
}

impl Filter {
    /// Binding strength when printed: `or` binds loosest, then `and`, then everything else.
    fn precedence(&self) -> u8 {
        match self {
            Filter::Or(_) => 1,
            Filter::And(_) => 2,
            _ => 3,
        }
    }

    /// How many levels of nesting (parentheses, `not (`, `[`) the printed form of this tree has,
    /// counted as the parser counts them.
    pub(crate) fn printed_depth(&self) -> usize {
        let chain = |children: &[Filter], precedence: u8| {
            children
                .iter()
                .map(|c| c.printed_depth() + usize::from(c.precedence() <= precedence))
                .max()
                .unwrap_or(0)
        };
        match self {
            Filter::Present(_) | Filter::Compare { .. } => 0,
            Filter::ValuePath { filter, .. } => 1 + filter.printed_depth(),
            Filter::Not(inner) => 1 + inner.printed_depth(),
            Filter::And(children) => chain(children, 2),
            Filter::Or(children) => chain(children, 1),
        }
    }

    /// Writes the children of an `and`/`or` node, parenthesizing those that bind no tighter
    /// than the node itself (so nested groups keep their shape).
    fn fmt_chain(
        f: &mut fmt::Formatter<'_>,
        children: &[Filter],
        keyword: &str,
        precedence: u8,
    ) -> fmt::Result {
        for (i, child) in children.iter().enumerate() {
            if i > 0 {
                write!(f, " {keyword} ")?;
            }
            if child.precedence() <= precedence {
                write!(f, "({child})")?;
            } else {
                write!(f, "{child}")?;
            }
        }
        Ok(())
    }
}

/// Canonical form: lower-case operators and keywords, single spaces, strings as JSON, and
/// parentheses only where the tree needs them. Round-trips every tree the parser produces.
impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Filter::Present(path) => write!(f, "{path} pr"),
            Filter::Compare { path, op, value } => write!(f, "{path} {op} {value}"),
            Filter::ValuePath { path, filter } => write!(f, "{path}[{filter}]"),
            Filter::Not(inner) => write!(f, "not ({inner})"),
            Filter::And(children) => Filter::fmt_chain(f, children, "and", 2),
            Filter::Or(children) => Filter::fmt_chain(f, children, "or", 1),
        }
    }
}

impl fmt::Display for PatchPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.attr)?;
        if let Some(filter) = &self.filter {
            write!(f, "[{filter}]")?;
        }
        if let Some(sub) = &self.sub {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}
