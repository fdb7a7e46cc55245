//! Parsing of PatchOp request bodies, including the OneLogin SCIM 1.1 group dialect.

use serde_json::{Map, Value};

use super::{located, Op, Operation};
use crate::error::{quote, Error, Result};
use crate::filter::{self, AttrPath, CompareOp, Filter, Literal, PatchPath};
use crate::urn;

/// The most operations one request may carry.
pub const MAX_OPERATIONS: usize = 1000;

/// Parses a PatchOp request body (RFC 7644 §3.5.2) into its operations. See the
/// [module documentation](super) for the accepted shapes and what `strict` rejects.
pub fn parse_request(body: &Value, strict: bool) -> Result<Vec<Operation>> {
    let Value::Object(body) = body else {
        return Err(Error::invalid_syntax(
            "a PATCH request body must be a JSON object",
        ));
    };
    check_schemas(body, strict)?;
    let ops = match member(body, "Operations", strict) {
        Some(Value::Array(ops)) => ops,
        Some(_) => return Err(Error::invalid_syntax("'Operations' must be an array")),
        None => {
            if !strict {
                if let Some(ops) = onelogin_members(body)? {
                    return Ok(ops);
                }
            }
            return Err(Error::invalid_syntax(
                "a PATCH request needs an 'Operations' array",
            ));
        }
    };
    if ops.is_empty() {
        return Err(Error::invalid_syntax(
            "'Operations' must hold at least one operation",
        ));
    }
    check_count(ops.len())?;
    ops.iter()
        .enumerate()
        .map(|(i, op)| {
            parse_operation(op, strict).map_err(|e| located(format_args!("Operations[{i}]"), e))
        })
        .collect()
}

fn check_count(n: usize) -> Result<()> {
    if n > MAX_OPERATIONS {
        return Err(Error::invalid_value(format!(
            "a PATCH request may carry at most {MAX_OPERATIONS} operations, not {n}"
        )));
    }
    Ok(())
}

/// `schemas` must list the PatchOp URN; only strict mode insists.
fn check_schemas(body: &Map<String, Value>, strict: bool) -> Result<()> {
    if !strict {
        return Ok(());
    }
    let listed = match body.get("schemas") {
        Some(Value::Array(list)) => list.iter().any(|s| {
            s.as_str()
                .is_some_and(|s| s.eq_ignore_ascii_case(urn::PATCH_OP))
        }),
        _ => false,
    };
    if listed {
        Ok(())
    } else {
        Err(Error::invalid_syntax(format!(
            "'schemas' must list {}",
            urn::PATCH_OP
        )))
    }
}

/// A member of a JSON object by name: exact, or in any case unless strict.
pub(super) fn member<'v>(
    map: &'v Map<String, Value>,
    name: &str,
    strict: bool,
) -> Option<&'v Value> {
    map.get(name).or_else(|| {
        if strict {
            None
        } else {
            map.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v)
        }
    })
}

fn parse_operation(op: &Value, strict: bool) -> Result<Operation> {
    let Value::Object(map) = op else {
        return Err(Error::invalid_syntax("an operation must be a JSON object"));
    };
    if strict {
        if let Some(key) = map
            .keys()
            .find(|k| !matches!(k.as_str(), "op" | "path" | "value"))
        {
            return Err(Error::invalid_syntax(format!(
                "unknown operation member {}",
                quote(key)
            )));
        }
    }
    let op = match member(map, "op", strict) {
        Some(Value::String(name)) => parse_op(name, strict)?,
        Some(_) => return Err(Error::invalid_syntax("'op' must be a string")),
        None => return Err(Error::invalid_syntax("an operation needs an 'op'")),
    };
    let path = match member(map, "path", strict) {
        None => None,
        Some(Value::Null) if !strict => None,
        Some(Value::String(s)) if !strict && s.trim().is_empty() => None,
        Some(Value::String(s)) => {
            let text = if strict { s.as_str() } else { s.trim() };
            Some(filter::parse_path(text).map_err(as_invalid_path)?)
        }
        Some(_) => return Err(Error::invalid_syntax("'path' must be a string")),
    };
    let value = member(map, "value", strict).cloned();
    match op {
        Op::Add | Op::Replace if value.is_none() => {
            return Err(Error::invalid_value(format!(
                "'{}' requires a 'value'",
                op.as_str()
            )));
        }
        Op::Remove if strict && value.is_some() => {
            return Err(Error::invalid_syntax("'remove' takes no 'value'"));
        }
        _ => {}
    }
    Ok(Operation { op, path, value })
}

fn parse_op(name: &str, strict: bool) -> Result<Op> {
    let found = [Op::Add, Op::Remove, Op::Replace].into_iter().find(|op| {
        if strict {
            name == op.as_str()
        } else {
            name.eq_ignore_ascii_case(op.as_str())
        }
    });
    found.ok_or_else(|| {
        Error::invalid_syntax(format!(
            "unknown op {}: use 'add', 'remove' or 'replace'",
            quote(name)
        ))
    })
}

/// Any client error from the path grammar is reported as `invalidPath`.
fn as_invalid_path(err: Error) -> Error {
    match err {
        Error::Invalid { detail, .. } => Error::invalid_path(detail),
        other => other,
    }
}

/// The OneLogin SCIM 1.1 group dialect: `{"members": [{"value": id, "operation": "add"|"delete"}]}`.
/// `None` when the body is not in that dialect.
fn onelogin_members(body: &Map<String, Value>) -> Result<Option<Vec<Operation>>> {
    let Some(Value::Array(members)) = member(body, "members", false) else {
        return Ok(None);
    };
    let dialect = members.iter().any(|m| {
        m.as_object()
            .is_some_and(|m| member(m, "operation", false).is_some())
    });
    if !dialect {
        return Ok(None);
    }
    check_count(members.len())?;
    members
        .iter()
        .enumerate()
        .map(|(i, m)| onelogin_member(m).map_err(|e| located(format_args!("members[{i}]"), e)))
        .collect::<Result<Vec<_>>>()
        .map(Some)
}

fn onelogin_member(element: &Value) -> Result<Operation> {
    let Value::Object(element) = element else {
        return Err(Error::invalid_syntax("a member must be a JSON object"));
    };
    let id = match member(element, "value", false) {
        Some(Value::String(id)) if !id.is_empty() => id,
        _ => {
            return Err(Error::invalid_value(
                "a member needs a non-empty string 'value'",
            ))
        }
    };
    let operation = match member(element, "operation", false) {
        None | Some(Value::Null) => "add",
        Some(Value::String(s)) => s.as_str(),
        Some(_) => {
            return Err(Error::invalid_syntax(
                "a member's 'operation' must be a string",
            ))
        }
    };
    let members = AttrPath::simple("members");
    if operation.eq_ignore_ascii_case("add") {
        let mut value = element.clone();
        value.retain(|k, _| !k.eq_ignore_ascii_case("operation"));
        Ok(Operation {
            op: Op::Add,
            path: Some(PatchPath {
                attr: members,
                filter: None,
                sub: None,
            }),
            value: Some(Value::Array(vec![Value::Object(value)])),
        })
    } else if operation.eq_ignore_ascii_case("delete") || operation.eq_ignore_ascii_case("remove") {
        let filter = Filter::Compare {
            path: AttrPath::simple("value"),
            op: CompareOp::Eq,
            value: Literal::String(id.clone()),
        };
        Ok(Operation {
            op: Op::Remove,
            path: Some(PatchPath {
                attr: members,
                filter: Some(filter),
                sub: None,
            }),
            value: None,
        })
    } else {
        Err(Error::invalid_syntax(format!(
            "unknown member operation {}: use 'add' or 'delete'",
            quote(operation)
        )))
    }
}
