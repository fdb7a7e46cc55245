//! The PATCH engine of RFC 7644 §3.5.2: parses a PatchOp request and applies its operations to a
//! resource in canonical JSON form, atomically (all operations or none).

use serde_json::Value;

use super::filter::PatchPath;
use super::schema::{Kind, Registry};
use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Add,
    Remove,
    Replace,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Operation {
    pub op: Op,
    pub path: Option<PatchPath>,
    pub value: Option<Value>,
}

/// Parses a PatchOp request body (RFC 7644 §3.5.2).
pub fn parse_request(_body: &Value, _strict: bool) -> Result<Vec<Operation>> {
    Err(Error::NotImplemented("PATCH is not implemented yet".into()))
}

/// Applies operations to `doc` (a resource in canonical form: no `id`, `meta` or `groups`).
/// On error `doc` is left as it was.
pub fn apply(
    _doc: &mut Value,
    _ops: &[Operation],
    _registry: &Registry,
    _kind: Kind,
    _strict: bool,
) -> Result<()> {
    Err(Error::NotImplemented("PATCH is not implemented yet".into()))
}
