//! A small, lenient, in-memory SCIM service provider on a wiremock server,
//! used to replay scenarios end to end in tests. It accepts OneLogin's quirks
//! (legacy URNs, `emails` as an object, `active` as a string, 1.1 group
//! PATCHes, `//Users`) and records nothing itself: wiremock keeps the requests.

#![allow(dead_code, clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

pub const TOKEN: &str = "secret";

#[derive(Default, Debug)]
pub struct Store {
    pub users: BTreeMap<String, Value>,
    pub groups: BTreeMap<String, Value>,
}

#[derive(Clone, Default)]
pub struct FakeScim {
    pub store: Arc<Mutex<Store>>,
}

pub struct Running {
    pub server: MockServer,
    pub fake: FakeScim,
}

impl Running {
    /// The SCIM base URL (`…/scim/v2`).
    pub fn base(&self) -> String {
        format!("{}/scim/v2", self.server.uri())
    }

    /// Requests received, as `(method, path?query, headers, body)`.
    pub async fn requests(&self) -> Vec<Seen> {
        self.server
            .received_requests()
            .await
            .unwrap_or_default()
            .iter()
            .map(Seen::from)
            .collect()
    }
}

/// A request as the server saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    /// Path plus `?query` when a query (even an empty one) is present.
    pub target: String,
    pub headers: BTreeMap<String, String>,
    pub body: String,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }
}

impl From<&Request> for Seen {
    fn from(r: &Request) -> Self {
        let target = match r.url.query() {
            Some(q) => format!("{}?{}", r.url.path(), q),
            None => r.url.path().to_string(),
        };
        Seen {
            method: r.method.as_str().to_string(),
            target,
            headers: r
                .headers
                .iter()
                .map(|(k, v)| {
                    (
                        k.as_str().to_string(),
                        v.to_str().unwrap_or("<bin>").to_string(),
                    )
                })
                .collect(),
            body: String::from_utf8_lossy(&r.body).into_owned(),
        }
    }
}

/// Chooses, from a request, the error status its first attempt gets (`None`: served).
pub type Refusal = fn(&Request) -> Option<u16>;

/// The fake server behind a gate that answers the first attempt of the requests `refuse`
/// picks with that status and `Retry-After: 0`; the same request sent again is served.
#[derive(Clone)]
struct Flaky {
    inner: FakeScim,
    refuse: Refusal,
    seen: Arc<Mutex<std::collections::HashSet<String>>>,
}

impl Respond for Flaky {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        if let Some(status) = (self.refuse)(req) {
            let attempt = format!(
                "{} {} {}",
                req.method,
                req.url,
                String::from_utf8_lossy(&req.body)
            );
            if self.seen.lock().unwrap().insert(attempt) {
                return error(status, "try again later").insert_header("Retry-After", "0");
            }
        }
        self.inner.respond(req)
    }
}

/// A fake server whose first answer to each request `refuse` picks is an error.
pub async fn start_flaky(refuse: Refusal) -> Running {
    let server = MockServer::start().await;
    let fake = FakeScim::default();
    let flaky = Flaky {
        inner: fake.clone(),
        refuse,
        seen: Arc::default(),
    };
    Mock::given(any()).respond_with(flaky).mount(&server).await;
    Running { server, fake }
}

pub async fn start() -> Running {
    let server = MockServer::start().await;
    let fake = FakeScim::default();
    Mock::given(any())
        .respond_with(fake.clone())
        .mount(&server)
        .await;
    Running { server, fake }
}

impl FakeScim {
    /// Seeds a user directly in the store; returns its id.
    pub fn insert_user(&self, body: Value) -> String {
        let id = uuid::Uuid::new_v4().to_string();
        let user = normalize_user(body, &id, None);
        self.store.lock().unwrap().users.insert(id.clone(), user);
        id
    }

    /// Seeds a group directly in the store; returns its id.
    pub fn insert_group(&self, name: &str) -> String {
        let id = uuid::Uuid::new_v4().to_string();
        let group = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "id": id, "displayName": name, "members": []});
        self.store.lock().unwrap().groups.insert(id.clone(), group);
        id
    }

    pub fn user(&self, id: &str) -> Option<Value> {
        self.store.lock().unwrap().users.get(id).cloned()
    }

    pub fn group_members(&self, id: &str) -> Vec<String> {
        let store = self.store.lock().unwrap();
        store.groups.get(id).map(members_of).unwrap_or_default()
    }
}

fn members_of(group: &Value) -> Vec<String> {
    group["members"]
        .as_array()
        .map(|m| {
            m.iter()
                .filter_map(|v| v["value"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn scim(status: u16, body: &Value) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(body.to_string(), "application/scim+json")
}

fn error(status: u16, detail: &str) -> ResponseTemplate {
    scim(
        status,
        &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"], "status": status.to_string(), "detail": detail}),
    )
}

fn list(resources: Vec<Value>) -> ResponseTemplate {
    scim(
        200,
        &json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
            "totalResults": resources.len(),
            "startIndex": 1,
            "itemsPerPage": resources.len(),
            "Resources": resources,
        }),
    )
}

fn normalize_user(mut v: Value, id: &str, previous: Option<&Value>) -> Value {
    let Some(map) = v.as_object_mut() else {
        return v;
    };
    map.insert("id".into(), json!(id));
    if let Some(email) = map.get("emails").filter(|e| e.is_object()).cloned() {
        map.insert("emails".into(), json!([email]));
    }
    let active = match map.get("active") {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
        _ => previous.and_then(|p| p["active"].as_bool()).unwrap_or(true),
    };
    map.insert("active".into(), json!(active));
    map.insert("meta".into(), json!({"resourceType": "User"}));
    v
}

impl Respond for FakeScim {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let auth = req
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok());
        if auth != Some(&format!("Bearer {TOKEN}")) {
            return error(401, "invalid credentials");
        }
        let path = req.url.path();
        let Some(rest) = path.strip_prefix("/scim/v2") else {
            return error(404, "not under /scim/v2");
        };
        let segs: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
        let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
        let mut store = self.store.lock().unwrap();
        match (req.method.as_str(), segs.as_slice()) {
            ("GET", ["Users"]) => {
                let filter = req
                    .url
                    .query_pairs()
                    .find(|(k, _)| k == "filter")
                    .map(|(_, v)| v.into_owned());
                let wanted = filter.as_deref().and_then(|f| {
                    f.strip_prefix("userName eq \"")
                        .and_then(|r| r.strip_suffix('"'))
                        .map(str::to_string)
                });
                let found = store
                    .users
                    .values()
                    .filter(|u| match &wanted {
                        Some(name) => u["userName"]
                            .as_str()
                            .is_some_and(|n| n.eq_ignore_ascii_case(name)),
                        None => true,
                    })
                    .cloned()
                    .collect();
                list(found)
            }
            ("POST", ["Users"]) => {
                let name = body["userName"].as_str().unwrap_or_default().to_string();
                if name.is_empty() {
                    return error(400, "userName required");
                }
                if store
                    .users
                    .values()
                    .any(|u| u["userName"].as_str() == Some(&name))
                {
                    return error(409, "userName taken");
                }
                let id = uuid::Uuid::new_v4().to_string();
                let user = normalize_user(body, &id, None);
                store.users.insert(id, user.clone());
                scim(201, &user)
            }
            ("GET", ["Users", id]) => match store.users.get(*id) {
                Some(u) => scim(200, u),
                None => error(404, "no such user"),
            },
            ("PUT", ["Users", id]) => {
                let Some(previous) = store.users.get(*id).cloned() else {
                    return error(404, "no such user");
                };
                let user = normalize_user(body, id, Some(&previous));
                store.users.insert(id.to_string(), user.clone());
                scim(200, &user)
            }
            ("PATCH", ["Users", id]) => {
                let Some(user) = store.users.get_mut(*id) else {
                    return error(404, "no such user");
                };
                for op in body["Operations"].as_array().cloned().unwrap_or_default() {
                    if op["path"] == "active" {
                        user["active"] = json!(op["value"] == true || op["value"] == "true");
                    }
                }
                scim(200, user)
            }
            ("DELETE", ["Users", id]) => {
                if store.users.remove(*id).is_none() {
                    return error(404, "no such user");
                }
                for g in store.groups.values_mut() {
                    if let Some(m) = g["members"].as_array_mut() {
                        m.retain(|v| v["value"] != *id);
                    }
                }
                ResponseTemplate::new(204)
            }
            ("GET", ["Groups"]) => list(store.groups.values().cloned().collect()),
            ("POST", ["Groups"]) => {
                let name = body["displayName"].as_str().unwrap_or_default().to_string();
                if store
                    .groups
                    .values()
                    .any(|g| g["displayName"].as_str() == Some(&name))
                {
                    return error(409, "displayName taken");
                }
                let id = uuid::Uuid::new_v4().to_string();
                let group = json!({
                    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                    "id": id, "displayName": name, "members": body.get("members").cloned().unwrap_or(json!([])),
                });
                store.groups.insert(id, group.clone());
                scim(201, &group)
            }
            ("GET", ["Groups", id]) => match store.groups.get(*id) {
                Some(g) => scim(200, g),
                None => error(404, "no such group"),
            },
            ("PATCH", ["Groups", id]) => {
                let Some(group) = store.groups.get(*id).cloned() else {
                    return error(404, "no such group");
                };
                let mut members = members_of(&group);
                let mut add = |v: &str| {
                    if !members.iter().any(|m| m == v) {
                        members.push(v.to_string());
                    }
                };
                let mut removals = Vec::new();
                if let Some(ops) = body["Operations"].as_array() {
                    for op in ops {
                        let name = op["op"].as_str().unwrap_or_default().to_ascii_lowercase();
                        let path = op["path"].as_str().unwrap_or_default();
                        let values: Vec<String> = op["value"]
                            .as_array()
                            .map(|a| {
                                a.iter()
                                    .filter_map(|v| v["value"].as_str().map(str::to_string))
                                    .collect()
                            })
                            .unwrap_or_default();
                        match name.as_str() {
                            "add" => values.iter().for_each(|v| add(v)),
                            "remove" if path == "members" => removals.extend(values),
                            "remove" => {
                                if let Some(v) = path
                                    .strip_prefix("members[value eq \"")
                                    .and_then(|r| r.strip_suffix("\"]"))
                                {
                                    removals.push(v.to_string());
                                }
                            }
                            _ => return error(400, "unsupported op"),
                        }
                    }
                } else if let Some(list) = body["members"].as_array() {
                    for m in list {
                        let v = m["value"].as_str().unwrap_or_default();
                        if m["operation"] == "delete" {
                            removals.push(v.to_string());
                        } else {
                            add(v);
                        }
                    }
                } else {
                    return error(400, "no members info provided");
                }
                members.retain(|m| !removals.contains(m));
                let group = store.groups.get_mut(*id).unwrap();
                group["members"] =
                    Value::Array(members.into_iter().map(|v| json!({"value": v})).collect());
                ResponseTemplate::new(204)
            }
            _ => error(404, "unknown endpoint"),
        }
    }
}
