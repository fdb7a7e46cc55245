//! A small in-memory SCIM 2.0 service provider on a wiremock server, correct for what it
//! implements (Users and Groups, CRUD, a filter grammar without value paths, paging, projection
//! of top-level attributes, PATCH with plain paths, ETags), with faults that can be switched on
//! one at a time to prove that the suite notices them.

#![allow(dead_code, clippy::unwrap_used)]

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};

use serde_json::{json, Map, Value};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

mod filter;
use filter::{eval, parse_filter};

/// The bearer token the stub accepts.
pub const TOKEN: &str = "stub-token";
const BASE: &str = "/scim/v2";
const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const ERROR: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
const LIST: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
const MAX_RESULTS: usize = 200;

/// A deliberate deviation from RFC 7644.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fault {
    /// A duplicate userName is created (201) instead of refused with 409.
    DuplicateCreated,
    /// Errors are HTML pages (`text/html`), not SCIM Error messages.
    HtmlErrors,
    /// List responses count one result too many in totalResults.
    WrongTotal,
    /// If-Match is ignored: stale versions overwrite.
    IgnoreIfMatch,
    /// PATCH answers 200 with the resource and changes nothing.
    PatchNoop,
    /// Requests without a valid token are served.
    NoAuth,
    /// A PATCH keeps the operations applied before one that fails.
    PatchNotAtomic,
    /// The writeOnly password is returned.
    ReturnsPassword,
    /// `userName` filters compare case-sensitively.
    CaseSensitiveUserName,
    /// DELETE answers 204 but the resource stays.
    DeleteKeeps,
    /// `count` is ignored: every result is returned.
    IgnoresCount,
    /// A 201 without a Location header.
    NoLocation,
    /// `excludedAttributes` is ignored.
    IgnoresExcluded,
    /// The Error `status` is a number, not a string.
    NumericErrorStatus,
    /// The ETag does not change when the resource does.
    StaleEtag,
    /// sort is not advertised, and `sortBy` is silently ignored instead of refused.
    IgnoresSort,
}

#[derive(Default)]
struct Store {
    seq: u64,
    users: BTreeMap<String, Value>,
    groups: BTreeMap<String, Value>,
}

#[derive(Clone)]
struct Stub {
    store: Arc<Mutex<Store>>,
    faults: Arc<HashSet<Fault>>,
}

/// A running stub.
pub struct Running {
    /// The wiremock server (dropping it stops the stub).
    pub server: MockServer,
}

impl Running {
    /// The SCIM base URL.
    pub fn base(&self) -> String {
        format!("{}{BASE}", self.server.uri())
    }
}

/// Starts a stub on 127.0.0.1, port 0, with `faults` switched on.
pub async fn start(faults: &[Fault]) -> Running {
    let server = MockServer::builder()
        .disable_request_recording()
        .start()
        .await;
    let stub = Stub {
        store: Arc::new(Mutex::new(Store::default())),
        faults: Arc::new(faults.iter().copied().collect()),
    };
    Mock::given(any()).respond_with(stub).mount(&server).await;
    Running { server }
}

fn now() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

struct Reply {
    status: u16,
    body: Option<Value>,
    headers: Vec<(&'static str, String)>,
}

impl Reply {
    fn json(status: u16, body: Value) -> Reply {
        Reply {
            status,
            body: Some(body),
            headers: Vec::new(),
        }
    }
    fn empty(status: u16) -> Reply {
        Reply {
            status,
            body: None,
            headers: Vec::new(),
        }
    }
    fn header(mut self, name: &'static str, value: String) -> Reply {
        self.headers.push((name, value));
        self
    }
}

fn err(status: u16, scim_type: Option<&str>, detail: &str) -> Reply {
    let mut b = json!({"schemas": [ERROR], "status": status.to_string(), "detail": detail});
    if let Some(t) = scim_type {
        b["scimType"] = json!(t);
    }
    Reply::json(status, b)
}

impl Respond for Stub {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let reply = self.route(req);
        let mut t = ResponseTemplate::new(reply.status);
        for (n, v) in &reply.headers {
            t = t.insert_header(*n, v.as_str());
        }
        let is_error = reply.status >= 400;
        if is_error && self.has(Fault::HtmlErrors) {
            return t.set_body_raw(
                format!("<html><body><h1>Error {}</h1></body></html>", reply.status),
                "text/html",
            );
        }
        match reply.body {
            Some(mut b) => {
                if is_error && self.has(Fault::NumericErrorStatus) {
                    b["status"] = json!(reply.status);
                }
                t.set_body_raw(b.to_string(), "application/scim+json")
            }
            None => t,
        }
    }
}

struct Kind {
    endpoint: &'static str,
    schema: &'static str,
    name: &'static str,
    key: &'static str,
}

const USERS: Kind = Kind {
    endpoint: "Users",
    schema: USER,
    name: "User",
    key: "userName",
};
const GROUPS: Kind = Kind {
    endpoint: "Groups",
    schema: GROUP,
    name: "Group",
    key: "displayName",
};

impl Stub {
    fn has(&self, f: Fault) -> bool {
        self.faults.contains(&f)
    }

    fn route(&self, req: &Request) -> Reply {
        let path = req.url.path().strip_prefix(BASE).unwrap_or("").to_string();
        let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        let method = req.method.as_str().to_string();
        if !self.has(Fault::NoAuth) && !authorized(req) {
            return err(401, None, "a valid bearer token is required")
                .header("WWW-Authenticate", "Bearer realm=\"stub\"".into());
        }
        let q: BTreeMap<String, String> = req.url.query_pairs().into_owned().collect();
        let origin = format!(
            "{}://{}{BASE}",
            req.url.scheme(),
            req.url.host_str().unwrap_or("127.0.0.1")
        );
        let origin = match req.url.port() {
            Some(p) => origin.replacen(BASE, &format!(":{p}{BASE}"), 1),
            None => origin,
        };
        let body: Option<Value> = serde_json::from_slice(&req.body).ok();
        let raw_body = !req.body.is_empty();
        match (method.as_str(), segs.as_slice()) {
            (_, ["ServiceProviderConfig" | "ResourceTypes" | "Schemas", ..]) if method != "GET" => {
                err(405, None, "read-only").header("Allow", "GET".into())
            }
            ("GET", [d @ ("ServiceProviderConfig" | "ResourceTypes" | "Schemas"), rest @ ..]) => {
                if q.contains_key("filter") {
                    return err(403, None, "discovery endpoints cannot be filtered");
                }
                discovery(d, rest, &origin)
            }
            (_, ["Me"]) => err(501, None, "/Me is not supported"),
            (_, ["Bulk"]) => err(501, None, "bulk is not supported"),
            (m, [e, rest @ ..]) => {
                let kind = match *e {
                    "Users" => &USERS,
                    "Groups" => &GROUPS,
                    _ => return err(404, None, "no such endpoint"),
                };
                match (m, rest) {
                    ("GET", []) => self.list(kind, &q, None),
                    ("POST", [".search"]) => match &body {
                        Some(b @ Value::Object(_)) => self.list(kind, &q, Some(b)),
                        _ => err(400, Some("invalidSyntax"), "a SearchRequest is expected"),
                    },
                    ("POST", []) => self.create(kind, body, raw_body, &origin),
                    ("GET", [id]) => self.get(kind, id, req, &q),
                    ("PUT", [id]) => self.replace(kind, id, body, req, &q),
                    ("PATCH", [id]) => self.patch(kind, id, body, req, &q),
                    ("DELETE", [id]) => self.delete(kind, id, req),
                    _ => err(405, None, "method not allowed").header("Allow", "GET, POST".into()),
                }
            }
            _ => err(404, None, "no such endpoint"),
        }
    }

    fn table<'a>(store: &'a mut Store, kind: &Kind) -> &'a mut BTreeMap<String, Value> {
        if kind.name == "User" {
            &mut store.users
        } else {
            &mut store.groups
        }
    }

    /// The resource as returned: password dropped, a User's groups computed, projection applied.
    fn render(&self, store: &Store, kind: &Kind, r: &Value, q: &BTreeMap<String, String>) -> Value {
        let mut r = r.clone();
        if !self.has(Fault::ReturnsPassword) {
            if let Some(o) = r.as_object_mut() {
                o.remove("password");
            }
        }
        if kind.name == "User" {
            let id = r["id"].as_str().unwrap_or_default().to_string();
            let groups: Vec<Value> = store
                .groups
                .values()
                .filter(|g| member_ids(g).contains(&id))
                .map(|g| json!({"value": g["id"], "display": g["displayName"]}))
                .collect();
            if !groups.is_empty() {
                r["groups"] = Value::Array(groups);
            }
        }
        project(&r, q, self.has(Fault::IgnoresExcluded))
    }

    fn etag(&self, r: &Value) -> String {
        r["meta"]["version"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    fn precondition(&self, req: &Request, current: &Value) -> Option<Reply> {
        if self.has(Fault::IgnoreIfMatch) {
            return None;
        }
        let h = req.headers.get("if-match")?.to_str().ok()?;
        let etag = self.etag(current);
        let ok = h.trim() == "*" || h.split(',').any(|t| t.trim() == etag);
        (!ok).then(|| err(412, None, "the resource has changed"))
    }

    fn validate(
        &self,
        store: &Store,
        kind: &Kind,
        body: &Value,
        except: Option<&str>,
    ) -> Result<(), Reply> {
        let key = body[kind.key].as_str().unwrap_or_default();
        if key.is_empty() {
            return Err(err(
                400,
                Some("invalidValue"),
                &format!("{} is required", kind.key),
            ));
        }
        if kind.name == "User" && !self.has(Fault::DuplicateCreated) {
            let taken = store.users.values().any(|u| {
                u["id"].as_str() != except
                    && u["userName"]
                        .as_str()
                        .is_some_and(|n| n.eq_ignore_ascii_case(key))
            });
            if taken {
                return Err(err(409, Some("uniqueness"), "userName is taken"));
            }
        }
        if kind.name == "Group" {
            for m in member_ids(body) {
                if !store.users.contains_key(&m) {
                    return Err(err(400, Some("invalidValue"), "no such member"));
                }
            }
        }
        Ok(())
    }

    /// The writable part of a request body.
    fn input(kind: &Kind, body: &Value) -> Map<String, Value> {
        let mut o = body.as_object().cloned().unwrap_or_default();
        for k in ["id", "meta", "groups", "schemas"] {
            o.remove(k);
        }
        o.insert("schemas".into(), json!([kind.schema]));
        // members.display is readOnly: whatever a client sends is dropped.
        if let Some(Value::Array(members)) = o.get_mut("members") {
            for m in members.iter_mut().filter_map(Value::as_object_mut) {
                m.remove("display");
            }
        }
        o
    }

    fn create(&self, kind: &Kind, body: Option<Value>, raw: bool, origin: &str) -> Reply {
        let Some(body @ Value::Object(_)) = body else {
            let why = if raw {
                "the body is not a JSON object"
            } else {
                "a body is required"
            };
            return err(400, Some("invalidSyntax"), why);
        };
        let mut store = self.store.lock().unwrap();
        if let Err(r) = self.validate(&store, kind, &body, None) {
            return r;
        }
        store.seq += 1;
        let id = format!("{:08}", store.seq);
        let mut o = Self::input(kind, &body);
        let at = now();
        let location = format!("{origin}/{}/{id}", kind.endpoint);
        o.insert("id".into(), json!(id));
        o.insert(
            "meta".into(),
            json!({"resourceType": kind.name, "created": at, "lastModified": at,
                   "location": location, "version": "W/\"1\""}),
        );
        let r = Value::Object(o);
        Self::table(&mut store, kind).insert(id, r.clone());
        let out = self.render(&store, kind, &r, &BTreeMap::new());
        let mut reply = Reply::json(201, out).header("ETag", "W/\"1\"".into());
        if !self.has(Fault::NoLocation) {
            reply = reply.header("Location", location);
        }
        reply
    }

    fn get(&self, kind: &Kind, id: &str, req: &Request, q: &BTreeMap<String, String>) -> Reply {
        let mut store = self.store.lock().unwrap();
        let Some(r) = Self::table(&mut store, kind).get(id).cloned() else {
            return err(404, None, "no such resource");
        };
        let etag = self.etag(&r);
        if let Some(h) = req
            .headers
            .get("if-none-match")
            .and_then(|h| h.to_str().ok())
        {
            if h.split(',').any(|t| t.trim() == etag || t.trim() == "*") {
                return Reply::empty(304).header("ETag", etag);
            }
        }
        Reply::json(200, self.render(&store, kind, &r, q)).header("ETag", etag)
    }

    /// Stores `next` as the new state of `id`: version and lastModified move when it changed.
    fn commit(
        &self,
        store: &mut Store,
        kind: &Kind,
        id: &str,
        before: &Value,
        mut next: Value,
    ) -> Value {
        if strip_meta(&next) != strip_meta(before) {
            let v: u64 = before["meta"]["version"]
                .as_str()
                .and_then(|s| {
                    s.trim_start_matches("W/\"")
                        .trim_end_matches('"')
                        .parse()
                        .ok()
                })
                .unwrap_or(1);
            let v = if self.has(Fault::StaleEtag) { v } else { v + 1 };
            next["meta"]["version"] = json!(format!("W/\"{v}\""));
            next["meta"]["lastModified"] = json!(now());
        }
        Self::table(store, kind).insert(id.to_string(), next.clone());
        next
    }

    fn replace(
        &self,
        kind: &Kind,
        id: &str,
        body: Option<Value>,
        req: &Request,
        q: &BTreeMap<String, String>,
    ) -> Reply {
        let Some(body @ Value::Object(_)) = body else {
            return err(400, Some("invalidSyntax"), "the body is not a JSON object");
        };
        let mut store = self.store.lock().unwrap();
        let Some(before) = Self::table(&mut store, kind).get(id).cloned() else {
            return err(404, None, "no such resource");
        };
        if let Some(r) = self.precondition(req, &before) {
            return r;
        }
        if let Err(r) = self.validate(&store, kind, &body, Some(id)) {
            return r;
        }
        let mut o = Self::input(kind, &body);
        o.insert("id".into(), before["id"].clone());
        o.insert("meta".into(), before["meta"].clone());
        let next = self.commit(&mut store, kind, id, &before, Value::Object(o));
        let etag = self.etag(&next);
        Reply::json(200, self.render(&store, kind, &next, q)).header("ETag", etag)
    }

    fn patch(
        &self,
        kind: &Kind,
        id: &str,
        body: Option<Value>,
        req: &Request,
        q: &BTreeMap<String, String>,
    ) -> Reply {
        let ops = body
            .as_ref()
            .and_then(|b| b["Operations"].as_array().cloned())
            .unwrap_or_default();
        if ops.is_empty() {
            return err(400, Some("invalidSyntax"), "Operations are required");
        }
        let mut store = self.store.lock().unwrap();
        let Some(before) = Self::table(&mut store, kind).get(id).cloned() else {
            return err(404, None, "no such resource");
        };
        if let Some(r) = self.precondition(req, &before) {
            return r;
        }
        if self.has(Fault::PatchNoop) {
            let etag = self.etag(&before);
            return Reply::json(200, self.render(&store, kind, &before, q)).header("ETag", etag);
        }
        let mut doc = before.clone();
        for op in &ops {
            if let Err(e) = apply_op(&mut doc, op, kind) {
                if self.has(Fault::PatchNotAtomic) {
                    self.commit(&mut store, kind, id, &before, doc);
                }
                return e;
            }
        }
        if let Err(r) = self.validate(&store, kind, &doc, Some(id)) {
            return r;
        }
        let next = self.commit(&mut store, kind, id, &before, doc);
        let etag = self.etag(&next);
        Reply::json(200, self.render(&store, kind, &next, q)).header("ETag", etag)
    }

    fn delete(&self, kind: &Kind, id: &str, req: &Request) -> Reply {
        let mut store = self.store.lock().unwrap();
        let Some(before) = Self::table(&mut store, kind).get(id).cloned() else {
            return err(404, None, "no such resource");
        };
        if let Some(r) = self.precondition(req, &before) {
            return r;
        }
        if !self.has(Fault::DeleteKeeps) {
            Self::table(&mut store, kind).remove(id);
            for g in store.groups.values_mut() {
                if let Some(m) = g.get_mut("members").and_then(Value::as_array_mut) {
                    m.retain(|x| x["value"].as_str() != Some(id));
                }
            }
        }
        Reply::empty(204)
    }

    fn list(&self, kind: &Kind, q: &BTreeMap<String, String>, search: Option<&Value>) -> Reply {
        let mut q = q.clone();
        if let Some(s) = search {
            for k in ["filter", "startIndex", "count", "sortBy"] {
                if let Some(v) = s.get(k) {
                    q.insert(k.into(), v.as_str().map_or(v.to_string(), str::to_string));
                }
            }
            for k in ["attributes", "excludedAttributes"] {
                if let Some(v) = s[k].as_array() {
                    let names: Vec<&str> = v.iter().filter_map(Value::as_str).collect();
                    q.insert(k.into(), names.join(","));
                }
            }
        }
        if q.contains_key("sortBy") && !self.has(Fault::IgnoresSort) {
            return err(501, None, "sorting is not supported");
        }
        let filter = match q.get("filter") {
            Some(f) => match parse_filter(f) {
                Ok(f) => Some(f),
                Err(e) => return err(400, Some("invalidFilter"), &e),
            },
            None => None,
        };
        let int = |k: &str| q.get(k).map(|v| v.parse::<i64>());
        let start = match int("startIndex") {
            Some(Ok(n)) => n.max(1),
            Some(Err(_)) => return err(400, Some("invalidValue"), "startIndex"),
            None => 1,
        };
        let count = match int("count") {
            Some(Ok(n)) => n.clamp(0, MAX_RESULTS as i64),
            Some(Err(_)) => return err(400, Some("invalidValue"), "count"),
            None => MAX_RESULTS as i64,
        };
        let mut store = self.store.lock().unwrap();
        let all: Vec<Value> = Self::table(&mut store, kind).values().cloned().collect();
        let mut matched = Vec::new();
        for r in &all {
            let rendered = self.render(&store, kind, r, &BTreeMap::new());
            let keep = match &filter {
                Some(f) => match eval(f, &rendered, self.has(Fault::CaseSensitiveUserName)) {
                    Ok(b) => b,
                    Err(e) => return err(400, Some("invalidFilter"), &e),
                },
                None => true,
            };
            if keep {
                matched.push(r.clone());
            }
        }
        let total = matched.len();
        let skip = usize::try_from(start - 1).unwrap_or(0);
        let take = if self.has(Fault::IgnoresCount) {
            usize::MAX
        } else {
            usize::try_from(count).unwrap_or(0)
        };
        let page: Vec<Value> = matched
            .iter()
            .skip(skip)
            .take(take)
            .map(|r| self.render(&store, kind, r, &q))
            .collect();
        let reported = if self.has(Fault::WrongTotal) {
            total + 1
        } else {
            total
        };
        Reply::json(
            200,
            json!({"schemas": [LIST], "totalResults": reported, "startIndex": start,
                   "itemsPerPage": page.len(), "Resources": page}),
        )
    }
}

fn authorized(req: &Request) -> bool {
    req.headers
        .get("authorization")
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.split_once(' '))
        .is_some_and(|(s, t)| s.eq_ignore_ascii_case("bearer") && t == TOKEN)
}

fn strip_meta(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(o) = v.as_object_mut() {
        o.remove("meta");
    }
    v
}

fn member_ids(g: &Value) -> Vec<String> {
    g["members"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["value"].as_str().map(str::to_string))
        .collect()
}

/// A key of `o` matching `name` case-insensitively.
fn key_of(o: &Map<String, Value>, name: &str) -> Option<String> {
    o.keys().find(|k| k.eq_ignore_ascii_case(name)).cloned()
}

fn apply_op(doc: &mut Value, op: &Value, kind: &Kind) -> Result<(), Reply> {
    let kind_of = op["op"].as_str().unwrap_or_default().to_ascii_lowercase();
    let value = op.get("value").cloned();
    let path = op["path"].as_str();
    if !["add", "replace", "remove"].contains(&kind_of.as_str()) {
        return Err(err(400, Some("invalidSyntax"), "unknown op"));
    }
    let Some(path) = path else {
        if kind_of == "remove" {
            return Err(err(400, Some("noTarget"), "remove needs a path"));
        }
        let Some(Value::Object(v)) = value else {
            return Err(err(400, Some("invalidValue"), "a value object is required"));
        };
        for (k, x) in v {
            set(doc, &[k.as_str()], x, kind_of == "add", kind)?;
        }
        return Ok(());
    };
    if path.contains('[') {
        return Err(err(
            400,
            Some("invalidPath"),
            "value filters are not supported",
        ));
    }
    let parts: Vec<&str> = path.split('.').collect();
    if kind_of == "remove" {
        let top = parts[0];
        if ["id", "meta", "groups"]
            .iter()
            .any(|r| r.eq_ignore_ascii_case(top))
        {
            return Err(err(400, Some("mutability"), "readOnly"));
        }
        if top.eq_ignore_ascii_case(kind.key) {
            return Err(err(400, Some("mutability"), "required"));
        }
        let o = doc.as_object_mut().unwrap();
        if let Some(k) = key_of(o, top) {
            if parts.len() == 1 {
                o.remove(&k);
            } else if let Some(sub) = o.get_mut(&k).and_then(Value::as_object_mut) {
                if let Some(sk) = key_of(sub, parts[1]) {
                    sub.remove(&sk);
                }
            }
        }
        return Ok(());
    }
    let Some(value) = value else {
        return Err(err(400, Some("invalidValue"), "a value is required"));
    };
    set(doc, &parts, value, kind_of == "add", kind)
}

fn set(
    doc: &mut Value,
    parts: &[&str],
    value: Value,
    add: bool,
    _kind: &Kind,
) -> Result<(), Reply> {
    let top = parts[0];
    if ["id", "meta", "groups", "schemas"]
        .iter()
        .any(|r| r.eq_ignore_ascii_case(top))
    {
        return Err(err(400, Some("mutability"), "readOnly"));
    }
    let o = doc.as_object_mut().unwrap();
    let k = key_of(o, top).unwrap_or_else(|| top.to_string());
    if parts.len() == 2 {
        let entry = o.entry(k).or_insert_with(|| json!({}));
        let Some(sub) = entry.as_object_mut() else {
            return Err(err(400, Some("invalidPath"), "not a complex attribute"));
        };
        let sk = key_of(sub, parts[1]).unwrap_or_else(|| parts[1].to_string());
        sub.insert(sk, value);
        return Ok(());
    }
    match (o.get_mut(&k), value) {
        (Some(Value::Array(existing)), Value::Array(new)) if add => {
            for x in new {
                if !existing.contains(&x) {
                    existing.push(x);
                }
            }
        }
        (Some(Value::Object(existing)), Value::Object(new)) => {
            for (sk, sv) in new {
                let sk = key_of(existing, &sk).unwrap_or(sk);
                existing.insert(sk, sv);
            }
        }
        (_, v) => {
            o.insert(k, v);
        }
    }
    Ok(())
}

/// `attributes` / `excludedAttributes` on top-level names (and `a.b` for one sub-attribute).
fn project(r: &Value, q: &BTreeMap<String, String>, ignore_excluded: bool) -> Value {
    let list = |k: &str| -> Vec<String> {
        q.get(k)
            .map(|v| {
                v.split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default()
    };
    let Some(o) = r.as_object() else {
        return r.clone();
    };
    let attrs = list("attributes");
    if !attrs.is_empty() {
        let mut out = Map::new();
        for (k, v) in o {
            if k == "id" || k == "schemas" {
                out.insert(k.clone(), v.clone());
                continue;
            }
            for a in &attrs {
                let (head, sub) = match a.split_once('.') {
                    Some((h, s)) => (h, Some(s)),
                    None => (a.as_str(), None),
                };
                if !head.eq_ignore_ascii_case(k) {
                    continue;
                }
                match (sub, v) {
                    (Some(s), Value::Object(inner)) => {
                        let kept: Map<String, Value> = inner
                            .iter()
                            .filter(|(ik, _)| ik.eq_ignore_ascii_case(s))
                            .map(|(ik, iv)| (ik.clone(), iv.clone()))
                            .collect();
                        out.insert(k.clone(), Value::Object(kept));
                    }
                    _ => {
                        out.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        return Value::Object(out);
    }
    let excl = list("excludedAttributes");
    if excl.is_empty() || ignore_excluded {
        return r.clone();
    }
    let out: Map<String, Value> = o
        .iter()
        .filter(|(k, _)| *k == "id" || !excl.iter().any(|e| e.eq_ignore_ascii_case(k)))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    Value::Object(out)
}

fn discovery(d: &str, rest: &[&str], origin: &str) -> Reply {
    let spc = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
        "patch": {"supported": true},
        "bulk": {"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": true, "maxResults": MAX_RESULTS},
        "changePassword": {"supported": false},
        "sort": {"supported": false},
        "etag": {"supported": true},
        "authenticationSchemes": [{"type": "oauthbearertoken", "name": "Bearer", "description": "A bearer token"}],
        "meta": {"resourceType": "ServiceProviderConfig", "location": format!("{origin}/ServiceProviderConfig")},
    });
    let rt = |id: &str, ep: &str, schema: &str| {
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
               "id": id, "name": id, "endpoint": ep, "schema": schema, "schemaExtensions": []})
    };
    let types = [rt("User", "/Users", USER), rt("Group", "/Groups", GROUP)];
    let s = |a: Value| {
        let mut a = a;
        for (k, v) in [
            ("multiValued", json!(false)),
            ("required", json!(false)),
            ("caseExact", json!(false)),
            ("mutability", json!("readWrite")),
            ("returned", json!("default")),
            ("uniqueness", json!("none")),
        ] {
            if a.get(k).is_none() {
                a[k] = v;
            }
        }
        a
    };
    let str_attr = |n: &str| s(json!({"name": n, "type": "string"}));
    let user = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
        "id": USER, "name": "User",
        "attributes": [
            s(json!({"name": "userName", "type": "string", "required": true, "uniqueness": "server"})),
            s(json!({"name": "name", "type": "complex", "subAttributes": [str_attr("givenName"), str_attr("familyName")]})),
            str_attr("displayName"), str_attr("nickName"), str_attr("title"),
            s(json!({"name": "active", "type": "boolean"})),
            s(json!({"name": "password", "type": "string", "mutability": "writeOnly", "returned": "never"})),
            s(json!({"name": "emails", "type": "complex", "multiValued": true, "subAttributes": [
                str_attr("value"),
                s(json!({"name": "type", "type": "string", "canonicalValues": ["work", "home", "other"]})),
                s(json!({"name": "primary", "type": "boolean"}))]})),
            s(json!({"name": "groups", "type": "complex", "multiValued": true, "mutability": "readOnly", "subAttributes": [
                s(json!({"name": "value", "type": "string", "mutability": "readOnly", "caseExact": true})),
                s(json!({"name": "display", "type": "string", "mutability": "readOnly"}))]})),
        ]
    });
    let group = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
        "id": GROUP, "name": "Group",
        "attributes": [
            s(json!({"name": "displayName", "type": "string", "required": true})),
            s(json!({"name": "members", "type": "complex", "multiValued": true, "subAttributes": [
                s(json!({"name": "value", "type": "string", "mutability": "immutable", "caseExact": true})),
                s(json!({"name": "display", "type": "string", "mutability": "readOnly"}))]})),
        ]
    });
    let schemas = [user, group];
    let list = |items: &[Value]| {
        json!({"schemas": [LIST], "totalResults": items.len(), "startIndex": 1,
               "itemsPerPage": items.len(), "Resources": items})
    };
    match (d, rest) {
        ("ServiceProviderConfig", []) => Reply::json(200, spc),
        ("ResourceTypes", []) => Reply::json(200, list(&types)),
        ("Schemas", []) => Reply::json(200, list(&schemas)),
        ("ResourceTypes", [id]) => match types.iter().find(|t| t["id"] == json!(id)) {
            Some(t) => Reply::json(200, t.clone()),
            None => err(404, None, "no such resource type"),
        },
        ("Schemas", [id]) => match schemas.iter().find(|t| t["id"] == json!(id)) {
            Some(t) => Reply::json(200, t.clone()),
            None => err(404, None, "no such schema"),
        },
        _ => err(404, None, "no such endpoint"),
    }
}
