//! Bulk requests (RFC 7644 §3.7): each operation runs as its own request would, in order, except
//! that an operation waits for the operations whose `bulkId` it refers to. A reference that
//! cannot be resolved (unknown, failed, or circular) fails that operation. After `failOnErrors`
//! errors, nothing more runs.

use std::collections::HashMap;

use scim_proto::bulk::{self, Method, Operation};
use scim_proto::resource::{EntityTags, Projection};
use serde_json::Value;

use crate::error::{quote, Error, Result};
use crate::model::Kind;
use crate::{Change, Context, Directory};

/// What one operation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    Created {
        kind: Kind,
        id: String,
        version: u64,
    },
    Updated {
        kind: Kind,
        id: String,
        version: u64,
    },
    Deleted {
        kind: Kind,
        id: String,
    },
}

/// One operation's outcome, in the order the operations ran.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub method: Method,
    pub bulk_id: Option<String>,
    pub result: Result<Applied>,
}

impl Directory {
    pub async fn bulk(&self, request: &bulk::Request, ctx: &Context) -> Vec<Outcome> {
        let ops = &request.operations;
        let defined: HashMap<&str, usize> = ops
            .iter()
            .enumerate()
            .filter_map(|(i, op)| {
                op.bulk_id
                    .as_deref()
                    .filter(|_| op.method == Method::Post)
                    .map(|b| (b, i))
            })
            .collect();
        let mut resolved: HashMap<String, String> = HashMap::new();
        let mut done: Vec<bool> = vec![false; ops.len()];
        let mut failed: Vec<bool> = vec![false; ops.len()];
        let mut outcomes = Vec::new();
        let mut errors = 0usize;
        let limit = request.fail_on_errors.unwrap_or(usize::MAX);
        let outcome = |op: &Operation, result: Result<Applied>| Outcome {
            method: op.method,
            bulk_id: op.bulk_id.clone(),
            result,
        };
        'passes: while done.iter().any(|d| !d) {
            let mut progressed = false;
            for (i, op) in ops.iter().enumerate() {
                if done[i] {
                    continue;
                }
                let refs = op.references();
                let unusable = refs.iter().find(|r| match defined.get(r.as_str()) {
                    None => true,
                    Some(&j) => failed[j],
                });
                let waiting = refs.iter().any(|r| !resolved.contains_key(r));
                let result = match unusable {
                    Some(r) => Err(Error::BulkReference(format!(
                        "bulkId {} does not name a resource created by this request",
                        quote(r)
                    ))),
                    None if waiting => continue,
                    None => {
                        self.bulk_operation(&bulk::substitute(op, &resolved), ctx)
                            .await
                    }
                };
                done[i] = true;
                progressed = true;
                match &result {
                    Err(_) => {
                        failed[i] = true;
                        errors += 1;
                    }
                    Ok(Applied::Created { id, .. }) => {
                        if let Some(b) = &op.bulk_id {
                            resolved.insert(b.clone(), id.clone());
                        }
                    }
                    Ok(_) => {}
                }
                outcomes.push(outcome(op, result));
                if errors >= limit {
                    break 'passes;
                }
            }
            if !progressed {
                // What is left waits on itself: a circular reference.
                let left: Vec<usize> = (0..ops.len()).filter(|i| !done[*i]).collect();
                for i in left {
                    done[i] = true;
                    outcomes.push(outcome(
                        &ops[i],
                        Err(Error::BulkReference(
                            "circular bulkId references cannot be resolved".into(),
                        )),
                    ));
                    errors += 1;
                    if errors >= limit {
                        break 'passes;
                    }
                }
            }
        }
        outcomes
    }

    /// One bulk operation, its references already substituted.
    async fn bulk_operation(&self, op: &Operation, ctx: &Context) -> Result<Applied> {
        let (segment, id) = op.split_path();
        let kind = Kind::from_endpoint(&segment, self.settings.strict)
            .ok_or_else(|| Error::NotFound(format!("no resource type at {}", quote(&op.path))))?;
        let data = op.data.clone().unwrap_or(Value::Null);
        let full = Projection::default();
        let if_match = op.version.as_deref().map(EntityTags::parse);
        let if_match = if_match.as_ref();
        if op.method == Method::Post {
            if id.is_some() {
                return Err(scim_proto::Error::invalid_syntax(
                    "POST takes a resource type path like /Users",
                )
                .into());
            }
            let r = self.create(kind, &data, ctx, &full).await?;
            return Ok(Applied::Created {
                kind,
                id: r.id,
                version: r.version,
            });
        }
        let id = id.ok_or_else(|| {
            scim_proto::Error::invalid_syntax(format!(
                "{} takes a resource path like /{}/{{id}}",
                op.method.as_str(),
                kind.endpoint()
            ))
        })?;
        Ok(match op.method {
            Method::Put | Method::Patch => {
                let change = if op.method == Method::Put {
                    Change::Replace(&data)
                } else {
                    Change::Patch(&data)
                };
                let r = self.change(kind, &id, change, if_match, ctx, &full).await?;
                Applied::Updated {
                    kind,
                    id: r.id,
                    version: r.version,
                }
            }
            _ => {
                self.delete(kind, &id, if_match, ctx).await?;
                Applied::Deleted { kind, id }
            }
        })
    }
}
