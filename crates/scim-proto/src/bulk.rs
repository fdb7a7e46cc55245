//! Bulk requests (RFC 7644 §3.7): the BulkRequest message parsed into typed operations, the
//! `bulkId` references each operation makes, their substitution, and the BulkResponse message.

use std::collections::{BTreeSet, HashMap};

use serde_json::{Map, Value};

use super::urn;
use crate::error::{quote, Error, Result};

/// The prefix of a reference to a resource created earlier in the same request.
const REFERENCE: &str = "bulkId:";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Post,
    Put,
    Patch,
    Delete,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        }
    }
}

/// One operation of a bulk request.
#[derive(Debug, Clone, PartialEq)]
pub struct Operation {
    pub method: Method,
    /// As sent: `/Users`, `/Groups/{id}`, `/Groups/bulkId:x`.
    pub path: String,
    pub bulk_id: Option<String>,
    /// `version`: applied as `If-Match`.
    pub version: Option<String>,
    pub data: Option<Value>,
}

impl Operation {
    /// The bulkIds this operation refers to, in its path and anywhere in its data.
    pub fn references(&self) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        if let Some(id) = reference(&self.path_id().unwrap_or_default()) {
            out.insert(id.to_string());
        }
        if let Some(data) = &self.data {
            collect(data, &mut out);
        }
        out
    }

    /// The resource type segment and the id segment of the path (RFC 7644 §3.7: POST names an
    /// endpoint, the others a resource).
    pub fn split_path(&self) -> (String, Option<String>) {
        let trimmed = self.path.trim_start_matches('/');
        match trimmed.split_once('/') {
            Some((rt, id)) => (rt.to_string(), Some(id.to_string())),
            None => (trimmed.to_string(), None),
        }
    }

    fn path_id(&self) -> Option<String> {
        self.split_path().1
    }
}

/// A parsed BulkRequest.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// Stop after this many errors (`failOnErrors`); `None` runs every operation.
    pub fail_on_errors: Option<usize>,
    pub operations: Vec<Operation>,
}

fn reference(s: &str) -> Option<&str> {
    s.strip_prefix(REFERENCE).filter(|id| !id.is_empty())
}

fn collect(v: &Value, out: &mut BTreeSet<String>) {
    match v {
        Value::String(s) => {
            if let Some(id) = reference(s) {
                out.insert(id.to_string());
            }
        }
        Value::Array(items) => items.iter().for_each(|i| collect(i, out)),
        Value::Object(map) => map.values().for_each(|i| collect(i, out)),
        _ => {}
    }
}

/// Replaces every `bulkId:x` (a whole string value, or the path's id) with the id `x` was
/// created with. A reference to an unknown bulkId is left for the caller to refuse.
pub fn substitute(op: &Operation, resolved: &HashMap<String, String>) -> Operation {
    fn walk(v: &Value, resolved: &HashMap<String, String>) -> Value {
        match v {
            Value::String(s) => match reference(s).and_then(|id| resolved.get(id)) {
                Some(real) => Value::String(real.clone()),
                None => v.clone(),
            },
            Value::Array(items) => Value::Array(items.iter().map(|i| walk(i, resolved)).collect()),
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, i)| (k.clone(), walk(i, resolved)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }
    let mut out = op.clone();
    let (rt, id) = op.split_path();
    if let Some(real) = id
        .as_deref()
        .and_then(reference)
        .and_then(|b| resolved.get(b))
    {
        out.path = format!("/{rt}/{real}");
    }
    out.data = op.data.as_ref().map(|d| walk(d, resolved));
    out
}

/// Parses a BulkRequest body; `max_operations` is enforced here, before anything runs (413).
pub fn parse(body: &Value, max_operations: usize, strict: bool) -> Result<Request> {
    let obj = body
        .as_object()
        .ok_or_else(|| Error::invalid_syntax("a BulkRequest must be a JSON object"))?;
    let get = |name: &str| -> Option<&Value> {
        obj.get(name).or_else(|| {
            if strict {
                None
            } else {
                obj.iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(name))
                    .map(|(_, v)| v)
            }
        })
    };
    if strict {
        let ok = get("schemas")
            .and_then(Value::as_array)
            .is_some_and(|s| s.iter().any(|u| u == urn::BULK_REQUEST));
        if !ok {
            return Err(Error::invalid_syntax(format!(
                "'schemas' must contain {}",
                urn::BULK_REQUEST
            )));
        }
    }
    let fail_on_errors = match get("failOnErrors") {
        None | Some(Value::Null) => None,
        Some(v) => match v.as_u64() {
            Some(n) if n >= 1 => Some(usize::try_from(n).unwrap_or(usize::MAX)),
            _ => {
                return Err(Error::invalid_value(
                    "failOnErrors must be an integer of at least 1",
                ))
            }
        },
    };
    let ops = get("Operations")
        .and_then(Value::as_array)
        .ok_or_else(|| Error::invalid_syntax("'Operations' must be an array"))?;
    if ops.len() > max_operations {
        return Err(Error::TooManyOperations(format!(
            "the bulk request has {} operations; the maximum is {max_operations}",
            ops.len()
        )));
    }
    let mut seen = BTreeSet::new();
    let mut operations = Vec::with_capacity(ops.len());
    for (i, op) in ops.iter().enumerate() {
        let op =
            parse_operation(op, strict).map_err(|e| e.located(format_args!("Operations[{i}]")))?;
        if let Some(b) = &op.bulk_id {
            if !seen.insert(b.clone()) {
                return Err(Error::invalid_value(format!(
                    "bulkId {} is used twice",
                    quote(b)
                )));
            }
        }
        operations.push(op);
    }
    Ok(Request {
        fail_on_errors,
        operations,
    })
}

fn parse_operation(v: &Value, strict: bool) -> Result<Operation> {
    let obj = v
        .as_object()
        .ok_or_else(|| Error::invalid_syntax("an operation must be an object"))?;
    let field = |name: &str| -> Option<&Value> {
        obj.get(name).or_else(|| {
            (!strict)
                .then(|| {
                    obj.iter()
                        .find(|(k, _)| k.eq_ignore_ascii_case(name))
                        .map(|(_, v)| v)
                })
                .flatten()
        })
    };
    let text = |name: &str| -> Result<Option<String>> {
        match field(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(Error::invalid_syntax(format!("'{name}' must be a string"))),
        }
    };
    let method = text("method")?.ok_or_else(|| Error::invalid_syntax("'method' is required"))?;
    let method = match method.to_ascii_uppercase().as_str() {
        m if strict && m != method => {
            return Err(Error::invalid_syntax("'method' must be upper case"))
        }
        "POST" => Method::Post,
        "PUT" => Method::Put,
        "PATCH" => Method::Patch,
        "DELETE" => Method::Delete,
        _ => {
            return Err(Error::invalid_syntax(format!(
                "unsupported method {}",
                quote(&method)
            )))
        }
    };
    let path = text("path")?.ok_or_else(|| Error::invalid_syntax("'path' is required"))?;
    let bulk_id = text("bulkId")?;
    if method == Method::Post && bulk_id.is_none() {
        return Err(Error::invalid_syntax("a POST operation needs a 'bulkId'"));
    }
    let data = field("data").filter(|d| !d.is_null()).cloned();
    if matches!(method, Method::Post | Method::Put | Method::Patch) && data.is_none() {
        return Err(Error::invalid_syntax(format!(
            "a {} operation needs 'data'",
            method.as_str()
        )));
    }
    Ok(Operation {
        method,
        path,
        bulk_id,
        version: text("version")?,
        data,
    })
}

/// One entry of a BulkResponse.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub method: Method,
    pub bulk_id: Option<String>,
    pub location: Option<String>,
    pub version: Option<String>,
    pub status: u16,
    /// The error message, for a failed operation.
    pub response: Option<Value>,
}

/// The BulkResponse message (RFC 7644 §3.7.3).
pub fn response(outcomes: &[Outcome]) -> Value {
    let ops: Vec<Value> = outcomes
        .iter()
        .map(|o| {
            let mut m = Map::new();
            m.insert("method".into(), Value::String(o.method.as_str().into()));
            if let Some(b) = &o.bulk_id {
                m.insert("bulkId".into(), Value::String(b.clone()));
            }
            if let Some(l) = &o.location {
                m.insert("location".into(), Value::String(l.clone()));
            }
            if let Some(v) = &o.version {
                m.insert("version".into(), Value::String(v.clone()));
            }
            m.insert("status".into(), Value::String(o.status.to_string()));
            if let Some(r) = &o.response {
                m.insert("response".into(), r.clone());
            }
            Value::Object(m)
        })
        .collect();
    serde_json::json!({ "schemas": [urn::BULK_RESPONSE], "Operations": ops })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ScimType;
    use serde_json::json;

    #[test]
    fn parses_operations_and_their_references() {
        let body = json!({"schemas": [urn::BULK_REQUEST], "failOnErrors": 1, "Operations": [
            {"method": "POST", "path": "/Users", "bulkId": "u1", "data": {"userName": "a"}},
            {"method": "post", "path": "/Groups", "bulkId": "g1",
             "data": {"displayName": "G", "members": [{"value": "bulkId:u1"}, {"value": "bulkId:u2"}]}},
            {"method": "DELETE", "path": "/Groups/bulkId:g1"}
        ]});
        let r = parse(&body, 10, false).expect("parses");
        assert_eq!(r.fail_on_errors, Some(1));
        assert_eq!(r.operations[1].method, Method::Post);
        let refs: Vec<String> = r.operations[1].references().into_iter().collect();
        assert_eq!(refs, ["u1", "u2"]);
        assert_eq!(
            r.operations[2].references().into_iter().collect::<Vec<_>>(),
            ["g1"]
        );
        let resolved: HashMap<String, String> = [
            ("u1".to_string(), "ID1".to_string()),
            ("g1".into(), "GID".into()),
        ]
        .into();
        let op = substitute(&r.operations[1], &resolved);
        assert_eq!(
            op.data.expect("data")["members"],
            json!([{"value": "ID1"}, {"value": "bulkId:u2"}])
        );
        assert_eq!(substitute(&r.operations[2], &resolved).path, "/Groups/GID");
    }

    #[test]
    fn limits_and_shape_are_checked_before_anything_runs() {
        let op = json!({"method": "DELETE", "path": "/Users/x"});
        let too_many = json!({"Operations": [op, op, op]});
        assert!(matches!(
            parse(&too_many, 2, false),
            Err(Error::TooManyOperations(_))
        ));
        let twice = json!({"Operations": [
            {"method": "POST", "path": "/Users", "bulkId": "a", "data": {}},
            {"method": "POST", "path": "/Users", "bulkId": "a", "data": {}}]});
        assert_eq!(
            parse(&twice, 10, false).map_err(|e| e.scim_type()),
            Err(Some(ScimType::InvalidValue))
        );
        for bad in [
            json!({"Operations": [{"method": "POST", "path": "/Users", "data": {}}]}),
            json!({"Operations": [{"method": "GET", "path": "/Users"}]}),
            json!({"Operations": [{"method": "PUT", "path": "/Users/x"}]}),
            json!({"Operations": "no"}),
            json!({"failOnErrors": 0, "Operations": []}),
        ] {
            assert!(
                parse(&bad, 10, false).is_err_and(|e| e.scim_type().is_some()),
                "{bad}"
            );
        }
        let lower = json!({"schemas": [urn::BULK_REQUEST], "Operations": [{"method": "delete", "path": "/Users/x"}]});
        assert!(parse(&lower, 10, false).is_ok());
        assert!(
            parse(&lower, 10, true).is_err(),
            "strict wants upper-case methods"
        );
    }
}
