//! Judging responses as OneLogin would, and reading what OneLogin keeps from
//! them (ids, lookup results, the group list).
//!
//! * Connection test: `200` with a ListResponse or `404` (OL8, [OL-DOC]).
//! * Lookup: a ListResponse; a match links, no match creates ([OL-DOC], [TRACE]).
//!   A `404` is taken as "no match", as on the connection test ([INFER]).
//! * Create user / group: `201` with an `id` ([OL-DOC], [OL-CODE]).
//! * Updates, deletes, PATCHes: any `2xx` ([INFER] from OneLogin's samples
//!   answering `200`, `201` and `204`).
//! * User responses must carry `name.givenName` and `name.familyName` (OL9,
//!   [VENDOR] Zabbix); checked for the parts the request sent non-empty.
//! * Response bodies must be JSON (`application/json`, [OL-DOC]; `+json`
//!   types are accepted, [INFER]).
//! * `401`/`403`: the token was rejected.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::wire::RecordedResponse;

/// What a OneLogin request is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    /// Enable button: filtered GET on a user that does not exist.
    ConnectionTest,
    /// Filtered GET before create or link.
    LookupUser,
    /// `POST /Users`.
    CreateUser,
    /// Full `PUT /Users/{id}` (link, update, suspend, reactivate).
    ReplaceUser,
    /// `PATCH /Users/{id}` (only with the `patch_replace` switch).
    PatchUser,
    /// `DELETE /Users/{id}`.
    DeleteUser,
    /// `GET /Groups` (Refresh entitlements).
    ListGroups,
    /// `POST /Groups`.
    CreateGroup,
    /// `PATCH /Groups/{id}` (membership).
    PatchGroup,
}

impl Op {
    /// The snake_case name used in transcripts.
    pub fn name(self) -> &'static str {
        match self {
            Op::ConnectionTest => "connection_test",
            Op::LookupUser => "lookup_user",
            Op::CreateUser => "create_user",
            Op::ReplaceUser => "replace_user",
            Op::PatchUser => "patch_user",
            Op::DeleteUser => "delete_user",
            Op::ListGroups => "list_groups",
            Op::CreateGroup => "create_group",
            Op::PatchGroup => "patch_group",
        }
    }
}

/// Pass or fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Accepted.
    Pass,
    /// Rejected.
    Fail,
}

/// A verdict and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Judgement {
    /// Pass or fail.
    pub verdict: Verdict,
    /// A short explanation.
    pub reason: String,
}

impl Judgement {
    /// A pass.
    pub fn pass(reason: impl Into<String>) -> Self {
        Judgement {
            verdict: Verdict::Pass,
            reason: reason.into(),
        }
    }

    /// A failure.
    pub fn fail(reason: impl Into<String>) -> Self {
        Judgement {
            verdict: Verdict::Fail,
            reason: reason.into(),
        }
    }
}

/// Result of a userName lookup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LookupOutcome {
    /// No such user: OneLogin creates it.
    NotFound,
    /// The user exists with this id: OneLogin links it.
    Found(String),
}

/// Reads a resource id (string, or number turned into a string).
pub fn id_of(value: &Value) -> Option<String> {
    match value.get("id")? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn is_list_response(json: &Value) -> bool {
    json.get("Resources").is_some_and(Value::is_array)
        || json.get("totalResults").and_then(Value::as_u64) == Some(0)
}

/// Reads a lookup answer. `None` when it is not a usable ListResponse.
pub fn lookup_outcome(resp: &RecordedResponse) -> Option<LookupOutcome> {
    if resp.status == 404 {
        return Some(LookupOutcome::NotFound);
    }
    let json = resp.json()?;
    if !is_list_response(&json) {
        return None;
    }
    let first = json
        .get("Resources")
        .and_then(Value::as_array)
        .and_then(|r| r.first());
    match first {
        Some(user) => id_of(user).map(LookupOutcome::Found),
        None if json
            .get("totalResults")
            .and_then(Value::as_u64)
            .unwrap_or(0)
            == 0 =>
        {
            Some(LookupOutcome::NotFound)
        }
        None => None,
    }
}

/// Reads `(displayName, id)` pairs from a `GET /Groups` answer.
pub fn listed_groups(resp: &RecordedResponse) -> Vec<(String, String)> {
    let Some(json) = resp.json() else {
        return Vec::new();
    };
    json.get("Resources")
        .and_then(Value::as_array)
        .map(|groups| {
            groups
                .iter()
                .filter_map(|g| {
                    let name = g.get("displayName")?.as_str()?.to_string();
                    Some((name, id_of(g)?))
                })
                .collect()
        })
        .unwrap_or_default()
}

fn name_check(sent: Option<&Value>, body: &Value) -> Result<(), String> {
    for part in ["givenName", "familyName"] {
        let required = match sent {
            Some(s) => s
                .pointer(&format!("/name/{part}"))
                .and_then(Value::as_str)
                .is_some_and(|v| !v.is_empty()),
            None => true,
        };
        let present = body
            .pointer(&format!("/name/{part}"))
            .is_some_and(|v| !v.is_null());
        if required && !present {
            return Err(format!(
                "response lacks name.{part} (OneLogin needs name.givenName and name.familyName back)"
            ));
        }
    }
    Ok(())
}

/// Judges the answer to a OneLogin request. `sent` is the request body.
pub fn judge(
    op: Op,
    sent: Option<&Value>,
    response: &Result<RecordedResponse, String>,
) -> Judgement {
    let resp = match response {
        Ok(r) => r,
        Err(e) => return Judgement::fail(format!("no response: {e}")),
    };
    let status = resp.status;
    if status == 401 || status == 403 {
        return Judgement::fail(format!("HTTP {status}: the bearer token was rejected"));
    }
    let success = (200..300).contains(&status);
    if success && !resp.body.trim().is_empty() {
        let ct = resp.content_type.as_deref().unwrap_or("");
        if !ct.to_ascii_lowercase().contains("json") {
            return Judgement::fail(format!(
                "response Content-Type {ct:?} is not JSON (OneLogin expects application/json)"
            ));
        }
    }
    let json = resp.json();
    match op {
        Op::ConnectionTest => match (status, &json) {
            (404, _) => Judgement::pass("404: endpoint valid"),
            (200, Some(j)) if is_list_response(j) => {
                Judgement::pass("200 ListResponse: endpoint valid")
            }
            (200, _) => Judgement::fail("200 without a ListResponse body"),
            _ => Judgement::fail(format!(
                "HTTP {status}: OneLogin accepts only 200 (empty list) or 404"
            )),
        },
        Op::LookupUser => match (status, lookup_outcome(resp)) {
            (404, _) => Judgement::pass("404: no match, OneLogin creates the user"),
            (200, Some(LookupOutcome::NotFound)) => {
                Judgement::pass("no match: OneLogin creates the user")
            }
            (200, Some(LookupOutcome::Found(id))) => {
                Judgement::pass(format!("match {id}: OneLogin links and updates it"))
            }
            (200, None) => {
                Judgement::fail("200 without a ListResponse whose resources carry an id")
            }
            _ => Judgement::fail(format!("HTTP {status} on the userName lookup")),
        },
        Op::CreateUser | Op::CreateGroup => {
            if status != 201 {
                return Judgement::fail(format!("HTTP {status}: OneLogin expects 201 Created"));
            }
            let Some(body) = json else {
                return Judgement::fail("201 without a JSON body");
            };
            let Some(id) = id_of(&body) else {
                return Judgement::fail(
                    "201 without an id: OneLogin cannot address the resource later",
                );
            };
            if op == Op::CreateUser {
                if let Err(e) = name_check(sent, &body) {
                    return Judgement::fail(e);
                }
            }
            Judgement::pass(format!("201, id {id}"))
        }
        Op::ReplaceUser => {
            if !success {
                return Judgement::fail(format!("HTTP {status}: OneLogin expects 2xx"));
            }
            match json {
                Some(body) if body.is_object() => match name_check(sent, &body) {
                    Ok(()) => Judgement::pass(format!("{status}")),
                    Err(e) => Judgement::fail(e),
                },
                _ => Judgement::pass(format!("{status} without a body")),
            }
        }
        Op::PatchUser | Op::DeleteUser | Op::PatchGroup => {
            if success {
                Judgement::pass(format!("{status}"))
            } else {
                Judgement::fail(format!("HTTP {status}: OneLogin expects 2xx"))
            }
        }
        Op::ListGroups => match (status, &json) {
            (200, Some(j)) if is_list_response(j) => {
                Judgement::pass(format!("200, {} group(s)", listed_groups(resp).len()))
            }
            _ => Judgement::fail(format!(
                "HTTP {status}: OneLogin expects 200 with a ListResponse"
            )),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn resp(status: u16, body: Value) -> Result<RecordedResponse, String> {
        Ok(RecordedResponse {
            status,
            content_type: Some("application/scim+json".into()),
            retry_after: None,
            body: if body.is_null() {
                String::new()
            } else {
                body.to_string()
            },
        })
    }

    #[test]
    fn connection_test() {
        let empty = json!({"totalResults": 0, "Resources": []});
        assert_eq!(
            judge(Op::ConnectionTest, None, &resp(200, empty)).verdict,
            Verdict::Pass
        );
        assert_eq!(
            judge(Op::ConnectionTest, None, &resp(404, Value::Null)).verdict,
            Verdict::Pass
        );
        assert_eq!(
            judge(Op::ConnectionTest, None, &resp(401, Value::Null)).verdict,
            Verdict::Fail
        );
        assert_eq!(
            judge(Op::ConnectionTest, None, &resp(500, Value::Null)).verdict,
            Verdict::Fail
        );
        assert_eq!(
            judge(Op::ConnectionTest, None, &Err("refused".into())).verdict,
            Verdict::Fail
        );
    }

    #[test]
    fn create_needs_201_id_and_name() {
        let sent = json!({"name": {"givenName": "J", "familyName": "D"}});
        let good = json!({"id": "1", "name": {"givenName": "J", "familyName": "D"}});
        let no_name = json!({"id": "1"});
        assert_eq!(
            judge(Op::CreateUser, Some(&sent), &resp(201, good.clone())).verdict,
            Verdict::Pass
        );
        assert_eq!(
            judge(Op::CreateUser, Some(&sent), &resp(200, good)).verdict,
            Verdict::Fail
        );
        assert_eq!(
            judge(Op::CreateUser, Some(&sent), &resp(201, no_name)).verdict,
            Verdict::Fail
        );
        assert_eq!(
            judge(Op::CreateUser, Some(&sent), &resp(201, json!({"name": {}}))).verdict,
            Verdict::Fail
        );
        let empty_last = json!({"name": {"givenName": "J", "familyName": ""}});
        let only_given = json!({"id": "1", "name": {"givenName": "J"}});
        assert_eq!(
            judge(Op::CreateUser, Some(&empty_last), &resp(201, only_given)).verdict,
            Verdict::Pass
        );
    }

    #[test]
    fn content_type_must_be_json() {
        let r = Ok(RecordedResponse {
            status: 200,
            content_type: Some("text/html".into()),
            retry_after: None,
            body: "<html/>".into(),
        });
        assert_eq!(judge(Op::PatchGroup, None, &r).verdict, Verdict::Fail);
    }

    #[test]
    fn lookups() {
        let found = resp(
            200,
            json!({"totalResults": 1, "Resources": [{"id": "abc"}]}),
        );
        let Ok(found) = found else { panic!() };
        assert_eq!(
            lookup_outcome(&found),
            Some(LookupOutcome::Found("abc".into()))
        );
        let none = resp(200, json!({"totalResults": 0}));
        let Ok(none) = none else { panic!() };
        assert_eq!(lookup_outcome(&none), Some(LookupOutcome::NotFound));
        let bad = resp(200, json!({"totalResults": 2}));
        assert_eq!(judge(Op::LookupUser, None, &bad).verdict, Verdict::Fail);
    }

    #[test]
    fn groups_listing() {
        let r = resp(
            200,
            json!({"Resources": [{"id": "g1", "displayName": "A"}, {"displayName": "no id"}]}),
        );
        let Ok(r) = r else { panic!() };
        assert_eq!(listed_groups(&r), [("A".to_string(), "g1".to_string())]);
    }
}
