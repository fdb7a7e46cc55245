//! The application: what each SCIM operation does, between the HTTP layer (which parses and
//! answers) and the store (which commits). Everything here is synchronous and may block on
//! storage: the HTTP layer runs it on the blocking thread pool.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Map, Value};

use crate::config::{Config, Durability};
use crate::error::{quote, AuthFailure, Error, Result};
use crate::keys;
use crate::metrics::Metrics;
use crate::policy;
use crate::ratelimit::Limiter;
use crate::scim::list::{self, ListQuery, Probe};
use crate::scim::resource::{self, Meta, Projection};
use crate::scim::schema::{Kind, Registry};
use crate::scim::{bulk, filter, patch};
use crate::store::{
    Actor, ApiKey, AttributeChange, CommitError, IndexKey, Member, MemberChange, Record, Revision,
    Store, StoredKind, Write, WriteOp,
};

/// The actor of every change made through SCIM, as the product's revision history shows it.
pub const SCIM_ACTOR: &str = "Scim System User";

/// How often a commit is retried when a concurrent change got there first.
const MAX_ATTEMPTS: usize = 32;

/// How often a key's last use is written down, at most.
const TOUCH_EVERY: Duration = Duration::from_secs(60);

/// At most this many records found by index probes are kept in memory between the filter test
/// and the page; larger matches are read again for their page.
const KEEP_RECORDS: usize = 100;

/// A resource that matched a list query: its id, and its record when it was kept.
struct Matched {
    id: String,
    record: Option<Record>,
}

/// Who is asking, and where the answer will be read.
#[derive(Debug, Clone)]
pub struct Context {
    pub actor: Actor,
    pub request_id: Option<String>,
    /// The SCIM base URL as the client sees it, for `Location` and `meta.location`.
    pub base_url: String,
}

/// A resource as sent to the client.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub id: String,
    pub version: u64,
    pub body: Value,
}

pub struct App {
    pub config: Config,
    pub registry: Registry,
    pub store: Arc<dyn Store>,
    touched: Mutex<HashMap<String, Instant>>,
    pub metrics: Metrics,
    key_limiter: Limiter,
    unauthenticated_limiter: Limiter,
    /// Set when the server begins to stop: `/readyz` then answers 503, so that a load balancer
    /// sends no new work while requests in flight finish.
    shutting_down: std::sync::atomic::AtomicBool,
}

impl App {
    pub fn new(config: Config, store: Arc<dyn Store>) -> Self {
        let key_limiter = Limiter::new(config.rate_limit_per_key, config.rate_limit_burst);
        let (unauthenticated, unauthenticated_burst) = (
            config.rate_limit_unauthenticated,
            config.rate_limit_unauthenticated_burst,
        );
        App {
            config,
            registry: Registry::builtin(),
            store,
            touched: Mutex::new(HashMap::new()),
            metrics: Metrics::default(),
            key_limiter,
            unauthenticated_limiter: Limiter::new(unauthenticated, unauthenticated_burst),
            shutting_down: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Marks the server as stopping (readiness turns false).
    pub fn begin_shutdown(&self) {
        self.shutting_down
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// Checks an `Authorization` header against the active keys of the wanted kind, within the
    /// rate limits: per key once authenticated; per client address for failures, checked before
    /// any key is looked at.
    pub fn authenticate(&self, header: Option<&str>, admin: bool, client: &str) -> Result<ApiKey> {
        if let Some(reason) = self.store.failure() {
            return Err(Error::Unavailable(format!(
                "the store cannot write ({reason}); the server is stopping: restart it once the disk is writable"
            )));
        }
        if let Some(wait) = self.unauthenticated_limiter.empty_for(client) {
            return Err(self.too_many(wait, None));
        }
        match self.check_key(header, admin) {
            Ok(key) => {
                self.key_limiter
                    .take(&key.id)
                    .map_err(|wait| self.too_many(wait, Some(&key.label)))?;
                Ok(key)
            }
            Err(e @ (Error::Unauthorized(_) | Error::Forbidden(_))) => {
                self.unauthenticated_limiter
                    .take(client)
                    .map_err(|wait| self.too_many(wait, None))?;
                Err(e)
            }
            Err(e) => Err(e),
        }
    }

    fn too_many(&self, wait: Duration, key_label: Option<&str>) -> Error {
        self.metrics.rate_limited(key_label);
        Error::TooManyRequests(crate::ratelimit::retry_after_secs(wait))
    }

    fn check_key(&self, header: Option<&str>, admin: bool) -> Result<ApiKey> {
        let header = header.ok_or(Error::Unauthorized(AuthFailure::Missing))?;
        let (scheme, token) = header.split_once(' ').unwrap_or((header, ""));
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(Error::Unauthorized(AuthFailure::WrongScheme));
        }
        if token.is_empty() {
            return Err(Error::Unauthorized(AuthFailure::Empty));
        }
        let all = self.store.keys()?;
        let key = keys::find(&all, token).ok_or(Error::Unauthorized(AuthFailure::Invalid))?;
        if key.admin != admin {
            return Err(Error::Forbidden(if admin {
                "this is a SCIM key: the admin API takes an admin key".into()
            } else {
                "this is an admin key: the SCIM API takes a SCIM key".into()
            }));
        }
        self.touch(key);
        Ok(key.clone())
    }

    pub(crate) fn touch(&self, key: &ApiKey) {
        let now = Instant::now();
        let due = match self.touched.lock() {
            Ok(mut map) => match map.get(&key.id) {
                Some(last) if now.duration_since(*last) < TOUCH_EVERY => false,
                _ => {
                    map.insert(key.id.clone(), now);
                    true
                }
            },
            Err(_) => false,
        };
        if due {
            if let Err(e) = self.store.touch_key(&key.id, &keys::now()) {
                tracing::warn!(key_id = %key.id, error = %e, "could not record a key's last use");
            }
        }
    }

    /// Why the server cannot serve SCIM now, if it cannot: it is stopping, the store does not
    /// answer, or no SCIM key is active (every request would be refused).
    pub fn unready(&self) -> Option<String> {
        if self.shutting_down.load(std::sync::atomic::Ordering::SeqCst) {
            return Some("shutting down: finishing the requests in flight".into());
        }
        if let Some(reason) = self.store.failure() {
            return Some(format!("the store cannot write: {reason}"));
        }
        match self.store.keys() {
            Err(e) => Some(format!("store: {e}")),
            Ok(keys) if !keys.iter().any(|k| !k.admin && k.revoked.is_none()) => {
                Some("no active SCIM key: mint one with `scim-server key create`".into())
            }
            Ok(_) => None,
        }
    }

    /// The actor for a SCIM key.
    pub fn scim_actor(key: &ApiKey) -> Actor {
        Actor {
            name: SCIM_ACTOR.into(),
            key_id: Some(key.id.clone()),
            key_label: Some(key.label.clone()),
        }
    }

    /// Commits a write; with `durability = "per-request"`, returns once it is flushed
    /// (concurrent writers share the flush).
    pub(crate) fn commit(&self, write: Write) -> std::result::Result<u64, CommitError> {
        match self.config.durability {
            Durability::PerRequest => self.store.commit_durable(write),
            Durability::Periodic => self.store.commit(write),
        }
    }

    fn not_found(kind: Kind, id: &str) -> Error {
        Error::NotFound(format!("{} {} not found", kind.name(), quote(id)))
    }

    pub fn get(
        &self,
        kind: Kind,
        id: &str,
        ctx: &Context,
        projection: &Projection,
    ) -> Result<Rendered> {
        let record = self
            .store
            .get(kind, id)?
            .ok_or_else(|| Self::not_found(kind, id))?;
        self.render(kind, record, ctx, projection, None)
    }

    pub fn create(
        &self,
        kind: Kind,
        body: &Value,
        ctx: &Context,
        projection: &Projection,
    ) -> Result<Rendered> {
        let doc = resource::from_request(&self.registry, kind, body, self.config.strict)?;
        let (doc, members) = self.split_members(kind, doc)?;
        let now = keys::now();
        let id = uuid::Uuid::new_v4().to_string();
        let record = Record {
            id: id.clone(),
            kind: kind.into(),
            version: 1,
            created: now.clone(),
            last_modified: now.clone(),
            index: index_keys(kind, &doc),
            profile: (kind == Kind::User).then(|| policy::initial_profile(&doc)),
            doc,
        };
        let after = with_members(&record.doc, members.as_deref());
        let revision = self.revision(ctx, "create", kind, &id, &now, diff(&Value::Null, &after));
        let write = Write {
            kind,
            id,
            expected_version: None,
            op: WriteOp::Put {
                record: record.clone(),
                members: members.map(|after| MemberChange {
                    before: Vec::new(),
                    after,
                }),
            },
            revision,
        };
        self.commit(write).map_err(|e| match e {
            CommitError::Stale => Error::internal("id collision"),
            CommitError::Failed(e) => e,
        })?;
        self.render(kind, record, ctx, projection, None)
    }

    pub fn replace(
        &self,
        kind: Kind,
        id: &str,
        body: &Value,
        if_match: Option<&str>,
        ctx: &Context,
        projection: &Projection,
    ) -> Result<Rendered> {
        let new = resource::from_request(&self.registry, kind, body, self.config.strict)?;
        self.update(kind, id, if_match, ctx, projection, "replace", |current| {
            resource::check_immutable(&self.registry, kind, current, &new)?;
            Ok(new.clone())
        })
    }

    pub fn patch(
        &self,
        kind: Kind,
        id: &str,
        body: &Value,
        if_match: Option<&str>,
        ctx: &Context,
        projection: &Projection,
    ) -> Result<Rendered> {
        let ops = patch::parse_request(body, self.config.strict)?;
        self.update(kind, id, if_match, ctx, projection, "patch", |current| {
            let mut doc = current.clone();
            patch::apply(&mut doc, &ops, &self.registry, kind, self.config.strict)?;
            resource::check_required(&self.registry, kind, &doc)?;
            Ok(doc)
        })
    }

    /// Reads, recomputes with `change`, and commits, retrying when a concurrent change wins.
    /// A change that changes nothing commits nothing, and the version stays.
    #[allow(clippy::too_many_arguments)]
    fn update(
        &self,
        kind: Kind,
        id: &str,
        if_match: Option<&str>,
        ctx: &Context,
        projection: &Projection,
        action: &str,
        change: impl Fn(&Value) -> Result<Value>,
    ) -> Result<Rendered> {
        for _ in 0..MAX_ATTEMPTS {
            let old = self
                .store
                .get(kind, id)?
                .ok_or_else(|| Self::not_found(kind, id))?;
            check_if_match(if_match, old.version)?;
            let members_before = match kind {
                Kind::Group => Some(self.store.members(id)?),
                Kind::User => None,
            };
            let current = with_members(&old.doc, members_before.as_deref());
            let new = change(&current)?;
            if new == current {
                return self.render(kind, old, ctx, projection, members_before);
            }
            let (doc, members_after) = self.split_members(kind, new)?;
            let now = keys::now();
            let after = with_members(&doc, members_after.as_deref());
            let action = policy::action(action, &current, &after);
            let revision = self.revision(ctx, &action, kind, id, &now, diff(&current, &after));
            // The profile was set at the first sync; later SCIM changes never touch it.
            let profile = match kind {
                Kind::User => old
                    .profile
                    .clone()
                    .or_else(|| Some(policy::initial_profile(&doc))),
                Kind::Group => None,
            };
            let record = Record {
                id: id.to_string(),
                kind: kind.into(),
                version: old.version + 1,
                created: old.created.clone(),
                last_modified: now,
                index: index_keys(kind, &doc),
                profile,
                doc,
            };
            let members = match (members_before, members_after.clone()) {
                (Some(before), after) => Some(MemberChange {
                    before,
                    after: after.unwrap_or_default(),
                }),
                (None, _) => None,
            };
            let write = Write {
                kind,
                id: id.to_string(),
                expected_version: Some(old.version),
                op: WriteOp::Put {
                    record: record.clone(),
                    members,
                },
                revision,
            };
            match self.commit(write) {
                Ok(_) => return self.render(kind, record, ctx, projection, members_after),
                Err(CommitError::Stale) => continue,
                Err(CommitError::Failed(e)) => return Err(e),
            }
        }
        Err(Error::Unavailable(
            "too many concurrent changes to this resource; try again".into(),
        ))
    }

    pub fn delete(
        &self,
        kind: Kind,
        id: &str,
        if_match: Option<&str>,
        ctx: &Context,
    ) -> Result<()> {
        for _ in 0..MAX_ATTEMPTS {
            let old = self
                .store
                .get(kind, id)?
                .ok_or_else(|| Self::not_found(kind, id))?;
            check_if_match(if_match, old.version)?;
            let members_before = match kind {
                Kind::Group => self.store.members(id)?,
                Kind::User => Vec::new(),
            };
            let before = with_members(&old.doc, Some(&members_before));
            let now = keys::now();
            let revision =
                self.revision(ctx, "delete", kind, id, &now, diff(&before, &Value::Null));
            let write = Write {
                kind,
                id: id.to_string(),
                expected_version: Some(old.version),
                op: WriteOp::Delete { members_before },
                revision,
            };
            match self.commit(write) {
                Ok(_) => return Ok(()),
                Err(CommitError::Stale) => continue,
                Err(CommitError::Failed(e)) => return Err(e),
            }
        }
        Err(Error::Unavailable(
            "too many concurrent changes to this resource; try again".into(),
        ))
    }

    /// A list or search: index probes where the filter allows, a scan otherwise.
    pub fn list(&self, kind: Kind, query: &ListQuery, ctx: &Context) -> Result<Value> {
        let skip = query.start_index.saturating_sub(1);
        if query.filter.is_none() && query.sort_by.is_none() {
            // Everything, in id order: count and page without reading the rest.
            let total = self.store.count(kind)?;
            let page = self
                .store
                .page(kind, skip, query.count)?
                .into_iter()
                .map(|record| {
                    Ok(self
                        .render(kind, record, ctx, &query.projection, None)?
                        .body)
                })
                .collect::<Result<Vec<Value>>>()?;
            return Ok(list::list_response(total, query.start_index, page));
        }
        let matched = self.matching(kind, query, ctx)?;
        let total = matched.len();
        let page = self.page(kind, matched, skip, query.count, &query.projection, ctx)?;
        Ok(list::list_response(total, query.start_index, page))
    }

    /// A search at the root (RFC 7644 §3.4.3): every resource type, each with its own query (an
    /// attribute one type does not define matches nothing there), users first, then groups.
    pub fn search_all(&self, queries: &[(Kind, ListQuery)], ctx: &Context) -> Result<Value> {
        let Some((_, first)) = queries.first() else {
            return Ok(list::list_response(0, 1, Vec::new()));
        };
        let mut skip = first.start_index.saturating_sub(1);
        let mut room = first.count;
        let mut total = 0;
        let mut page = Vec::new();
        for (kind, query) in queries {
            let matched = self.matching(*kind, query, ctx)?;
            let n = matched.len();
            total += n;
            let here = n.saturating_sub(skip).min(room);
            page.extend(self.page(*kind, matched, skip, here, &query.projection, ctx)?);
            skip = skip.saturating_sub(n);
            room -= here;
        }
        Ok(list::list_response(total, first.start_index, page))
    }

    /// Reads and renders one page of matches; a match that kept its record is not read again.
    /// A resource deleted since the match is skipped.
    fn page(
        &self,
        kind: Kind,
        matched: Vec<Matched>,
        skip: usize,
        take: usize,
        projection: &Projection,
        ctx: &Context,
    ) -> Result<Vec<Value>> {
        let mut out = Vec::with_capacity(take.min(matched.len()));
        for m in matched.into_iter().skip(skip).take(take) {
            let record = match m.record {
                Some(record) => Some(record),
                None => self.store.get(kind, &m.id)?,
            };
            if let Some(record) = record {
                out.push(self.render(kind, record, ctx, projection, None)?.body);
            }
        }
        Ok(out)
    }

    /// The ids of every resource of a kind that matches the query's filter, sorted. Candidates
    /// come from index probes when the filter allows, else from a streaming scan. Each candidate
    /// is rendered for the test without `groups` / `members` unless the filter or the sort names
    /// them, and only its id (and sort key) is kept.
    fn matching(&self, kind: Kind, query: &ListQuery, ctx: &Context) -> Result<Vec<Matched>> {
        let related = match kind {
            Kind::User => "groups",
            Kind::Group => "members",
        };
        let needs_related = query
            .filter
            .as_ref()
            .is_some_and(|f| list::mentions(f, related))
            || query
                .sort_by
                .as_ref()
                .is_some_and(|p| p.name.eq_ignore_ascii_case(related));
        let test = if needs_related {
            Projection::default()
        } else {
            Projection::without(related)
        };
        let mut matched: Vec<(Matched, Option<Value>)> = Vec::new();
        // Records found by a few index probes are kept for the page, so that a hit is read once.
        let keep_records = std::cell::Cell::new(false);
        let mut visit = |record: Record| -> Result<bool> {
            let id = record.id.clone();
            let kept = keep_records.get().then(|| record.clone());
            let rendered = self.render(kind, record, ctx, &test, None)?.body;
            let keep = match &query.filter {
                Some(f) => filter::matches(f, &rendered, &self.registry, kind),
                None => true,
            };
            if keep {
                let key = query
                    .sort_by
                    .as_ref()
                    .and_then(|by| list::sort_key(&self.registry, kind, &rendered, by));
                matched.push((Matched { id, record: kept }, key));
            }
            Ok(true)
        };
        match query
            .filter
            .as_ref()
            .and_then(|f| list::probes(&self.registry, kind, f))
        {
            Some(probes) => {
                let ids = self.probe(kind, probes)?;
                keep_records.set(ids.len() <= KEEP_RECORDS);
                for id in ids {
                    if let Some(record) = self.store.get(kind, &id)? {
                        visit(record)?;
                    }
                }
            }
            None => self.store.scan(kind, &mut visit)?,
        }
        if let Some(by) = &query.sort_by {
            list::sort_by_key(
                &self.registry,
                kind,
                &mut matched,
                |(_, k)| k.as_ref(),
                by,
                query.sort_order,
            );
        }
        Ok(matched.into_iter().map(|(m, _)| m).collect())
    }

    /// The ids index probes find, in id order, once each.
    fn probe(&self, kind: Kind, probes: Vec<Probe>) -> Result<BTreeSet<String>> {
        let mut ids = BTreeSet::new();
        for probe in probes {
            match probe {
                Probe::Id(id) => {
                    ids.insert(id);
                }
                Probe::Equal(attr, value) => {
                    ids.extend(self.store.lookup(&index_key(kind, attr, value))?)
                }
                Probe::Matching(attr, op, value) => {
                    let name = index_key(kind, attr, String::new());
                    self.store.scan_index(&name, &mut |key, id| {
                        if list::index_text_matches(key, op, &value) {
                            ids.insert(id.to_string());
                        }
                    })?;
                }
            }
        }
        Ok(ids)
    }

    /// Runs a bulk request (RFC 7644 §3.7): each operation as its own request would, in order,
    /// except that an operation waits for the operations whose `bulkId` it refers to. A reference
    /// that cannot be resolved (unknown, failed, or circular) fails that operation with 409.
    /// After `failOnErrors` errors, nothing more runs.
    pub fn bulk(&self, request: &bulk::Request, ctx: &Context) -> Value {
        let ops = &request.operations;
        let defined: HashMap<&str, usize> = ops
            .iter()
            .enumerate()
            .filter_map(|(i, op)| {
                op.bulk_id
                    .as_deref()
                    .filter(|_| op.method == bulk::Method::Post)
                    .map(|b| (b, i))
            })
            .collect();
        let mut resolved: HashMap<String, String> = HashMap::new();
        let mut done: Vec<bool> = vec![false; ops.len()];
        let mut failed: Vec<bool> = vec![false; ops.len()];
        let mut outcomes = Vec::new();
        let mut errors = 0usize;
        let limit = request.fail_on_errors.unwrap_or(usize::MAX);
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
                let (outcome, created) = match unusable {
                    Some(r) => {
                        let e = Error::BulkReference(format!(
                            "bulkId {} does not name a resource created by this request",
                            quote(r)
                        ));
                        (self.bulk_failure(op, e), None)
                    }
                    None if waiting => continue,
                    None => self.bulk_operation(&bulk::substitute(op, &resolved), ctx),
                };
                done[i] = true;
                progressed = true;
                if outcome.status >= 400 {
                    failed[i] = true;
                    errors += 1;
                } else if let (Some(b), Some(id)) = (&op.bulk_id, created) {
                    resolved.insert(b.clone(), id);
                }
                outcomes.push(outcome);
                if errors >= limit {
                    break 'passes;
                }
            }
            if !progressed {
                // What is left waits on itself: a circular reference.
                let left: Vec<usize> = (0..ops.len()).filter(|i| !done[*i]).collect();
                for i in left {
                    let op = &ops[i];
                    done[i] = true;
                    outcomes.push(self.bulk_failure(
                        op,
                        Error::BulkReference(
                            "circular bulkId references cannot be resolved".into(),
                        ),
                    ));
                    errors += 1;
                    if errors >= limit {
                        break 'passes;
                    }
                }
            }
        }
        bulk::response(&outcomes)
    }

    fn bulk_failure(&self, op: &bulk::Operation, e: Error) -> bulk::Outcome {
        bulk::Outcome {
            method: op.method,
            bulk_id: op.bulk_id.clone(),
            location: None,
            version: None,
            status: e.status(),
            response: Some(e.body()),
        }
    }

    /// One bulk operation, its references already substituted; with the id a POST created.
    fn bulk_operation(
        &self,
        op: &bulk::Operation,
        ctx: &Context,
    ) -> (bulk::Outcome, Option<String>) {
        let run = || -> Result<(u16, Kind, String, Option<u64>)> {
            let (segment, id) = op.split_path();
            let kind = Kind::from_endpoint(&segment, self.config.strict).ok_or_else(|| {
                Error::NotFound(format!("no resource type at {}", quote(&op.path)))
            })?;
            let data = op.data.clone().unwrap_or(Value::Null);
            let full = Projection::default();
            let if_match = op.version.as_deref();
            if op.method == bulk::Method::Post {
                if id.is_some() {
                    return Err(Error::invalid_syntax(
                        "POST takes a resource type path like /Users",
                    ));
                }
                let r = self.create(kind, &data, ctx, &full)?;
                return Ok((201, kind, r.id, Some(r.version)));
            }
            let id = id.ok_or_else(|| {
                Error::invalid_syntax(format!(
                    "{} takes a resource path like /{}/{{id}}",
                    op.method.as_str(),
                    kind.endpoint()
                ))
            })?;
            Ok(match op.method {
                bulk::Method::Put => {
                    let r = self.replace(kind, &id, &data, if_match, ctx, &full)?;
                    (200, kind, r.id, Some(r.version))
                }
                bulk::Method::Patch => {
                    let r = self.patch(kind, &id, &data, if_match, ctx, &full)?;
                    (200, kind, r.id, Some(r.version))
                }
                _ => {
                    self.delete(kind, &id, if_match, ctx)?;
                    (204, kind, id, None)
                }
            })
        };
        match run() {
            Ok((status, kind, id, version)) => (
                bulk::Outcome {
                    method: op.method,
                    bulk_id: op.bulk_id.clone(),
                    location: Some(format!("{}/{}/{id}", ctx.base_url, kind.endpoint())),
                    version: version.map(resource::etag),
                    status,
                    response: None,
                },
                (op.method == bulk::Method::Post).then_some(id),
            ),
            Err(e) => (self.bulk_failure(op, e), None),
        }
    }

    /// Renders a record with its `groups` (user) or `members` (group), unless the projection
    /// leaves them out. `members` may be passed when already loaded.
    fn render(
        &self,
        kind: Kind,
        record: Record,
        ctx: &Context,
        projection: &Projection,
        members: Option<Vec<Member>>,
    ) -> Result<Rendered> {
        let base = &ctx.base_url;
        let related = match kind {
            Kind::User if !projection.omits(&self.registry, kind, "groups") => {
                let mut groups = Vec::new();
                for gid in self.store.groups_of(&record.id)? {
                    let display = self
                        .store
                        .get(Kind::Group, &gid)?
                        .and_then(|g| g.doc.get("displayName").cloned());
                    let mut g = Map::new();
                    g.insert("value".into(), Value::String(gid.clone()));
                    g.insert("$ref".into(), Value::String(format!("{base}/Groups/{gid}")));
                    if let Some(d) = display {
                        g.insert("display".into(), d);
                    }
                    g.insert("type".into(), Value::String("direct".into()));
                    groups.push(Value::Object(g));
                }
                Some(Value::Array(groups))
            }
            Kind::Group if !projection.omits(&self.registry, kind, "members") => {
                let members = match members {
                    Some(m) => m,
                    None => self.store.members(&record.id)?,
                };
                Some(Value::Array(
                    members
                        .iter()
                        .map(|m| {
                            let kind = Kind::from(m.kind);
                            let mut v = member_json(m);
                            if let Value::Object(o) = &mut v {
                                o.insert(
                                    "$ref".into(),
                                    Value::String(format!(
                                        "{base}/{}/{}",
                                        kind.endpoint(),
                                        m.value
                                    )),
                                );
                            }
                            v
                        })
                        .collect(),
                ))
            }
            _ => None,
        };
        let meta = Meta {
            created: record.created.clone(),
            last_modified: record.last_modified.clone(),
            version: record.version,
        };
        let full = resource::render(
            &self.registry,
            kind,
            &record.id,
            record.doc,
            &meta,
            related,
            base,
        );
        Ok(Rendered {
            id: record.id,
            version: record.version,
            body: projection.apply(&self.registry, kind, full),
        })
    }

    /// Takes `members` out of a group's document and resolves each member's kind.
    fn split_members(&self, kind: Kind, mut doc: Value) -> Result<(Value, Option<Vec<Member>>)> {
        if kind != Kind::Group {
            return Ok((doc, None));
        }
        let raw = doc.as_object_mut().and_then(|o| o.remove("members"));
        let mut members: Vec<Member> = Vec::new();
        let mut seen: HashSet<String> = HashSet::new();
        for item in raw.as_ref().and_then(Value::as_array).into_iter().flatten() {
            let value = item
                .get("value")
                .and_then(Value::as_str)
                .filter(|v| !v.is_empty())
                .ok_or_else(|| {
                    Error::invalid_value("every member needs a 'value' (the member's id)")
                })?;
            if !seen.insert(value.to_string()) {
                continue;
            }
            let declared = item.get("type").and_then(Value::as_str);
            let kind = match declared {
                Some(t) if t.eq_ignore_ascii_case("user") => StoredKind::User,
                Some(t) if t.eq_ignore_ascii_case("group") => StoredKind::Group,
                Some(t) => {
                    return Err(Error::invalid_value(format!(
                        "member type must be 'User' or 'Group', not {}",
                        quote(t)
                    )))
                }
                None if self.store.get(Kind::User, value)?.is_some() => StoredKind::User,
                None if self.store.get(Kind::Group, value)?.is_some() => StoredKind::Group,
                None => {
                    return Err(Error::invalid_value(format!(
                        "member {} is not an existing User or Group",
                        quote(value)
                    )))
                }
            };
            let display = item
                .get("display")
                .and_then(Value::as_str)
                .map(str::to_string);
            members.push(Member {
                value: value.to_string(),
                kind,
                display,
            });
        }
        Ok((doc, Some(members)))
    }

    fn revision(
        &self,
        ctx: &Context,
        action: &str,
        kind: Kind,
        id: &str,
        time: &str,
        changes: Vec<AttributeChange>,
    ) -> Revision {
        Revision {
            seq: 0,
            time: time.to_string(),
            actor: ctx.actor.clone(),
            action: action.to_string(),
            target_type: kind.name().to_string(),
            target_id: id.to_string(),
            changes,
            request_id: ctx.request_id.clone(),
            related: Vec::new(),
        }
    }
}

fn member_json(m: &Member) -> Value {
    let mut o = Map::new();
    o.insert("value".into(), Value::String(m.value.clone()));
    if let Some(d) = &m.display {
        o.insert("display".into(), Value::String(d.clone()));
    }
    o.insert(
        "type".into(),
        Value::String(Kind::from(m.kind).name().to_string()),
    );
    Value::Object(o)
}

/// The canonical document with `members` put back (groups), as PATCH and diffs see it.
fn with_members(doc: &Value, members: Option<&[Member]>) -> Value {
    let mut doc = doc.clone();
    if let (Some(members), Value::Object(o)) = (members, &mut doc) {
        if !members.is_empty() {
            o.insert(
                "members".into(),
                Value::Array(members.iter().map(member_json).collect()),
            );
        }
    }
    doc
}

/// The index entry for an indexed attribute of a kind.
fn index_key(kind: Kind, attr: list::Indexed, value: String) -> IndexKey {
    match (kind, attr) {
        (Kind::User, list::Indexed::Name) => IndexKey::UserName(value),
        (Kind::Group, list::Indexed::Name) => IndexKey::GroupDisplayName(value),
        (Kind::User, list::Indexed::ExternalId) => IndexKey::UserExternalId(value),
        (Kind::Group, list::Indexed::ExternalId) => IndexKey::GroupExternalId(value),
    }
}

/// The index entries a document owns.
pub fn index_keys(kind: Kind, doc: &Value) -> Vec<IndexKey> {
    let text = |name: &str| doc.get(name).and_then(Value::as_str).map(str::to_string);
    let mut keys = Vec::new();
    match kind {
        Kind::User => {
            if let Some(u) = text("userName") {
                keys.push(IndexKey::UserName(list::fold(&u)));
            }
            if let Some(e) = text("externalId") {
                keys.push(IndexKey::UserExternalId(e));
            }
        }
        Kind::Group => {
            if let Some(d) = text("displayName") {
                keys.push(IndexKey::GroupDisplayName(list::fold(&d)));
            }
            if let Some(e) = text("externalId") {
                keys.push(IndexKey::GroupExternalId(e));
            }
        }
    }
    keys
}

/// Evaluates `If-Match` (RFC 7232 §3.1): absent, or naming the current version.
fn check_if_match(if_match: Option<&str>, version: u64) -> Result<()> {
    match if_match {
        Some(header) if !resource::etag_matches(header, version) => Err(Error::PreconditionFailed(
            format!("the resource is at version {}", resource::etag(version)),
        )),
        _ => Ok(()),
    }
}

/// Whether `If-None-Match` names the current version (a GET then answers 304).
pub fn none_match(if_none_match: Option<&str>, version: u64) -> bool {
    if_none_match.is_some_and(|header| resource::etag_matches(header, version))
}

/// The attributes that differ between two documents, with their values. Extension attributes are
/// named `urn:...:name`; for `members`, `before` lists the ids removed and `after` those added.
pub fn diff(before: &Value, after: &Value) -> Vec<AttributeChange> {
    use std::borrow::Cow;
    // Borrowed: a group's member list can hold thousands of entries, and only changes are kept.
    fn flatten(doc: &Value) -> Vec<(Cow<'_, str>, &Value)> {
        let mut out = Vec::new();
        if let Value::Object(o) = doc {
            for (k, v) in o {
                if k == "schemas" {
                    continue;
                }
                match v {
                    Value::Object(inner) if k.contains(':') => {
                        for (ik, iv) in inner {
                            out.push((Cow::Owned(format!("{k}:{ik}")), iv));
                        }
                    }
                    _ => out.push((Cow::Borrowed(k.as_str()), v)),
                }
            }
        }
        out
    }
    let (b, a) = (flatten(before), flatten(after));
    let mut names: Vec<&str> = b
        .iter()
        .map(|(k, _)| k.as_ref())
        .chain(a.iter().map(|(k, _)| k.as_ref()))
        .collect();
    names.sort_unstable();
    names.dedup();
    fn find<'v>(list: &[(Cow<'_, str>, &'v Value)], name: &str) -> Option<&'v Value> {
        list.iter().find(|(k, _)| k == name).map(|(_, v)| *v)
    }
    fn ids(v: Option<&Value>) -> Vec<&str> {
        v.and_then(Value::as_array)
            .map(|a| a.iter().filter_map(|m| m.get("value")?.as_str()).collect())
            .unwrap_or_default()
    }
    let mut changes = Vec::new();
    for name in names {
        let (old, new) = (find(&b, name), find(&a, name));
        if old == new {
            continue;
        }
        if name == "members" {
            let (old_ids, new_ids) = (ids(old), ids(new));
            let (old_set, new_set): (HashSet<&str>, HashSet<&str>) = (
                old_ids.iter().copied().collect(),
                new_ids.iter().copied().collect(),
            );
            let removed: Vec<Value> = old_ids
                .iter()
                .filter(|i| !new_set.contains(*i))
                .map(|i| Value::String((*i).to_string()))
                .collect();
            let added: Vec<Value> = new_ids
                .iter()
                .filter(|i| !old_set.contains(*i))
                .map(|i| Value::String((*i).to_string()))
                .collect();
            changes.push(AttributeChange {
                attribute: name.to_string(),
                before: (!removed.is_empty()).then_some(Value::Array(removed)),
                after: (!added.is_empty()).then_some(Value::Array(added)),
            });
            continue;
        }
        changes.push(AttributeChange {
            attribute: name.to_string(),
            before: old.cloned(),
            after: new.cloned(),
        });
    }
    changes
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn if_match_uses_weak_comparison_and_star() {
        assert!(check_if_match(None, 3).is_ok());
        assert!(check_if_match(Some("W/\"3\""), 3).is_ok());
        assert!(check_if_match(Some("\"3\""), 3).is_ok());
        assert!(check_if_match(Some("*"), 3).is_ok());
        assert!(check_if_match(Some("W/\"1\", W/\"3\""), 3).is_ok());
        assert_eq!(
            check_if_match(Some("W/\"2\""), 3).map_err(|e| e.status()),
            Err(412)
        );
    }

    #[test]
    fn diff_names_changed_attributes_and_member_deltas() {
        let before = json!({"schemas": [], "userName": "a", "title": "x",
            "urn:x:ext": {"department": "d1"}, "members": [{"value": "1"}, {"value": "2"}]});
        let after = json!({"schemas": [], "userName": "a", "active": true,
            "urn:x:ext": {"department": "d2"}, "members": [{"value": "2"}, {"value": "3"}]});
        let changes = diff(&before, &after);
        let names: Vec<&str> = changes.iter().map(|c| c.attribute.as_str()).collect();
        assert_eq!(
            names,
            ["active", "members", "title", "urn:x:ext:department"]
        );
        assert_eq!(changes[1].before, Some(json!(["1"])));
        assert_eq!(changes[1].after, Some(json!(["3"])));
        assert_eq!(changes[2].after, None);
    }
}
