//! The PATCH engine of RFC 7644 §3.5.2: parses a PatchOp request and applies its operations to a
//! resource in canonical JSON form, atomically (all operations or none).
//!
//! # Request parsing ([`parse_request`])
//!
//! - The body is an object whose `schemas` lists `urn:ietf:params:scim:api:messages:2.0:PatchOp`
//!   and whose `Operations` is a non-empty array of at most [`MAX_OPERATIONS`] operations.
//! - Each operation has an `op` (`add`, `remove`, `replace`), an optional `path` and a `value`,
//!   which `add` and `replace` require (a missing `value` is `invalidValue`; an explicit `null` is
//!   accepted and means "unassigned": a no-op for `add`, a removal for `replace`).
//! - Errors: a body of the wrong shape, an unknown `op` or an empty `Operations` is
//!   `invalidSyntax`; a `path` that does not parse is `invalidPath`; too many operations is
//!   `invalidValue`.
//!
//! Tolerated unless `strict` (strict mode rejects each, with `invalidSyntax` unless noted):
//! - a missing `schemas`, or one that does not list the PatchOp URN;
//! - member names in any case (`operations`, `Op`), and `op` values in any case (`"Replace"`, Entra);
//! - a `null` or empty `path`, read as no path (an empty path is `invalidPath` when strict);
//! - a `value` on `remove` (strict mode also rejects unknown members of an operation);
//! - the OneLogin SCIM 1.1 group dialect, which is not a PatchOp at all:
//!   `{"members": [{"value": "<id>", "operation": "add" | "delete"}]}` (a missing `operation`
//!   means `add`). It is recognised when there is no `Operations` member and at least one element
//!   of `members` carries `operation`, and becomes one operation per element: `add` gives
//!   `{"op": "add", "path": "members", "value": [<element without operation>]}`, `delete` (or
//!   `remove`) gives `{"op": "remove", "path": "members[value eq \"<id>\"]"}`.
//!
//! A `path` that is exactly a schema URN (`urn:…:enterprise:2.0:User`) names that schema's
//! attributes as a whole: its `value` is an object of them, and `remove` unassigns them all.
//!
//! # Applying operations ([`apply`])
//!
//! Operations apply in order to a copy of the document, which replaces it only when every one
//! succeeded and the result differs; on error the document is untouched. Semantics (RFC 7644
//! §3.5.2.1–3), with `multi` a multi-valued attribute:
//!
//! | target | `add` | `replace` | `remove` |
//! | --- | --- | --- | --- |
//! | no path | each attribute of the `value` object is added as if named by a path | same, replacing | `noTarget` |
//! | single-valued | set | set | unassign |
//! | complex single-valued | merge the given sub-attributes | merge (RFC: unnamed ones are left unchanged) | unassign |
//! | `attr.sub` | set the sub-attribute | set | unassign the sub-attribute |
//! | `multi` | append the values, skipping duplicates | replace all values | unassign |
//! | `multi.sub` | set on every value (`noTarget` when there is none) | same | remove from every value |
//! | `multi[filter]` | merge into matching values | replace matching values | remove matching values |
//! | `multi[filter].sub` | set on matching values | same | remove from matching values |
//!
//! - Path-less `value` objects take attribute names in any case, dotted keys (`"name.givenName"`,
//!   Entra), URN-qualified keys (`"urn:…:enterprise:2.0:User:employeeNumber"`), a schema URN
//!   holding an object of that schema's attributes, and value paths (`"emails[type eq \"work\"].value"`).
//!   `schemas`, `id` and `meta` keys are ignored (Okta sends `id` when renaming a group); an
//!   unknown key is ignored, or `invalidSyntax` when strict.
//! - A `path` naming an unknown attribute is always `invalidPath`: a typo is never silently accepted.
//!   Value filters are checked and evaluated by the filter module
//!   ([`validate`](super::filter::validate) and [`matches`](super::filter::matches) on each element in turn), so they follow the same rules as `filter`
//!   queries (`caseExact`, types); one naming an unknown sub-attribute, comparing a value of the
//!   wrong type, or set on a single-valued attribute is `invalidPath`.
//! - Every value written goes through [`resource::coerce`](super::resource::coerce), so the result
//!   stays in canonical form; a value that coerces to nothing (`null`, `""` for a boolean, `{}`)
//!   is a no-op for `add` and a removal for `replace`.
//! - A value filter that matches nothing is `noTarget` for `add` and `replace`, except that when
//!   not strict and the filter is a plain `eq` (or an `and` of them) on sub-attributes, a new value
//!   is created from the filter and the operation (Entra's
//!   `{"op":"Add","path":"emails[type eq \"work\"].value","value":"x@y"}` on a user without emails).
//!   For `remove` it is `noTarget` when strict and a no-op otherwise, so an IdP retrying a member
//!   removal does not fail. Removing an unassigned attribute is a no-op success.
//! - `remove` of a multi-valued attribute with a `value` list (Entra:
//!   `{"op":"Remove","path":"members","value":[{"value":"id"}]}`, or UnboundID's
//!   `{"members":[…]}` wrapper) removes just the listed values when not strict; a listed value
//!   with a `value` sub-attribute matches elements with that `value`.
//! - Mutability: touching a `readOnly` attribute or sub-attribute is `mutability`, and so is
//!   changing an `immutable` one that has a value, or unassigning a `required` one. `readOnly`
//!   sub-attributes inside a complex value are dropped (`mutability` when strict). `writeOnly`
//!   attributes (`password`) are validated, accepted and never stored.
//! - When an operation makes one value of a multi-valued attribute `primary`, any other primary
//!   value gets `primary: false` (RFC 7643 §2.4); two new primaries at once is `invalidValue`.
//! - Group `members` are the same member when their `value`s are equal (compared as the schema's
//!   `caseExact` says), so adding a present member is a no-op; other multi-valued attributes skip
//!   only exact duplicates.
//! - The result is canonical: schema spelling of names, no `null`, empty array or empty object;
//!   an extension's URN is listed in `schemas` exactly when its object is present.
//!
//! Errors name the failing operation (`Operations[1]: …`).

mod apply;
mod matcher;
mod request;
#[cfg(test)]
mod tests;

use serde_json::Value;

use super::filter::PatchPath;
use crate::error::Error;

pub use apply::apply;
pub use request::{parse_request, MAX_OPERATIONS};

/// A PATCH operation kind (RFC 7644 §3.5.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Add,
    Remove,
    Replace,
}

impl Op {
    /// The name as RFC 7644 spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Add => "add",
            Op::Remove => "remove",
            Op::Replace => "replace",
        }
    }
}

/// One parsed operation of a PatchOp request.
#[derive(Debug, Clone, PartialEq)]
pub struct Operation {
    pub op: Op,
    /// The target; `None` means the resource itself.
    pub path: Option<PatchPath>,
    /// The value; always `Some` for `add` and `replace` (possibly `Value::Null`).
    pub value: Option<Value>,
}

/// Prefixes a client error's detail with where it happened (`Operations[2]: …`).
fn located(place: impl std::fmt::Display, err: Error) -> Error {
    err.located(place)
}
