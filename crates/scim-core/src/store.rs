//! The storage seam: what the core asks of an engine. An engine stores what the core decided and
//! keeps its promises atomically; it decides no product rule.
//!
//! - Every mutation is one [`Write`]: a record (or its removal), its index entries, its
//!   membership changes, the other records whose version moves with it, and its revision entry,
//!   committed in one transaction, or not at all. A commit is durable when it returns, unless the
//!   engine was opened for periodic durability.
//! - The engine enforces the constraints the core declares: a unique [`IndexKey`] belongs to one
//!   record ([`StoreError::Taken`]); a member added to a group exists ([`StoreError::NoSuchMember`]);
//!   what a write was computed from is still current ([`StoreError::Stale`]).
//! - The revision feed ([`Store::revisions`]) is gap-free: a reader that asked for everything
//!   after `n` never misses an entry that commits later with a sequence number at or below the
//!   ones it was given.
//! - Lists are answered by the engine from a [`Query`]: it may answer the filter itself or select
//!   a superset and test it with the query's [`Matcher`], which is the authority.
//!
//! The engine test suite ([`crate::testkit`], feature `testkit`) checks these promises.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::model::{
    ApiKey, Dump, Export, IndexKey, Kind, Member, Record, Revision, SharedMembers, TargetRef,
    Tenant, TenantId, WebSession, WebhookEndpoint,
};
use crate::query::{Matcher, Probe};

/// What a write expects of the record it names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// A create: no record has this id.
    Absent,
    /// The record is at this version (and so are its members, for a group).
    Version(u64),
}

/// A mutation of one resource, committed atomically with its indexes and revision entry.
#[derive(Debug, Clone)]
pub struct Write {
    pub kind: Kind,
    pub id: String,
    pub expect: Expect,
    pub op: WriteOp,
    /// Records whose version moves by one with this write (their `last_modified` becomes the
    /// revision's time): the groups a deleted member leaves.
    pub touch: Vec<(Kind, String)>,
    /// The entry, `related` filled in; the engine assigns its sequence number.
    pub revision: Revision,
}

// One `Write` exists per request, briefly: the size of its variants does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum WriteOp {
    /// Create or replace the record. For a group, `members` holds the member set as read at the
    /// expected version and as it becomes.
    Put {
        record: Record,
        members: Option<MemberChange>,
    },
    /// Delete the record, its index entries and memberships: `members` are a group's own members
    /// as read, `member_of` the groups it is a member of as read (the commit is [`StoreError::Stale`]
    /// if that is no longer so).
    Delete {
        members: Vec<Member>,
        member_of: Vec<String>,
    },
}

/// What a write does to a group's members, as the core computed it from what it read at the
/// expected version: the one comparison the engine, the history, the event and the related
/// histories of a change are written from. Only the difference: a group of thousands that gains
/// one member is one membership written, not a list compared.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MemberChange {
    /// Members the group loses, as they were stored.
    pub removed: Vec<Member>,
    /// Members the group gains (each must exist when the write commits).
    pub added: Vec<Member>,
    /// Members that stay, with a new `type` or `display`.
    pub updated: Vec<Member>,
}

impl MemberChange {
    /// The change from `before` to `after`: removed in `before`'s order, added and updated in
    /// `after`'s. Each list is hashed once.
    pub fn between(before: &[Member], after: &[Member]) -> Self {
        let was: HashMap<&str, &Member> = before.iter().map(|m| (m.value.as_str(), m)).collect();
        let is: HashSet<&str> = after.iter().map(|m| m.value.as_str()).collect();
        let mut change = MemberChange {
            removed: before
                .iter()
                .filter(|m| !is.contains(m.value.as_str()))
                .cloned()
                .collect(),
            ..MemberChange::default()
        };
        for m in after {
            match was.get(m.value.as_str()) {
                None => change.added.push(m.clone()),
                Some(old) if *old != m => change.updated.push(m.clone()),
                Some(_) => {}
            }
        }
        change
    }

    /// Whether the write leaves the members as they were.
    pub fn is_empty(&self) -> bool {
        self.removed.is_empty() && self.added.is_empty() && self.updated.is_empty()
    }
}

/// Why an engine did not do what it was asked. Engine-neutral: the core words each for clients.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StoreError {
    /// What the write was computed from changed meanwhile: recompute and try again.
    #[error("the resource changed concurrently")]
    Stale,
    /// A create named an id that exists.
    #[error("a record with this id exists")]
    Exists,
    /// The write names a record that does not exist (any more).
    #[error("no such record")]
    Missing,
    /// A unique index entry belongs to another record.
    #[error("index entry {0:?} is taken")]
    Taken(IndexKey),
    /// A member added to a group does not exist as the kind it was given.
    #[error("member {} does not exist", .0.value)]
    NoSuchMember(Member),
    /// The storage itself failed (I/O, disk full or read-only): the engine may refuse writes
    /// from now on (see [`Store::failure`]).
    #[error("storage: {0}")]
    Io(String),
    /// The storage cannot be reached for now (the database is down or restarting, no connection
    /// came free in time): nothing was changed, and the same request may succeed later.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// Stored data that cannot be read back.
    #[error("storage: undecodable entry: {0}")]
    Corrupt(String),
    /// The partition's tenant was deleted (under a request that began before).
    #[error("the tenant was deleted")]
    Gone,
    /// A request the engine cannot serve (an import into a store that is not empty, an unknown
    /// dump format).
    #[error("{0}")]
    Refused(String),
}

/// A list query, handed whole to the engine.
#[derive(Debug, Clone)]
pub struct Query {
    pub kind: Kind,
    pub selection: Selection,
    /// How many of the selected, ordered records to skip.
    pub skip: usize,
    /// How many to return after that.
    pub take: usize,
}

/// Which records a query selects, in which order.
#[derive(Debug, Clone)]
pub enum Selection {
    /// Every record of the kind, in `id` order.
    All,
    /// The records the matcher accepts, ordered by its sort key (then by `id`). `probes`, when
    /// present, are index entries whose union holds every record the matcher can accept.
    Matching {
        matcher: Arc<Matcher>,
        probes: Option<Vec<Probe>>,
    },
}

/// What a query found: how many records it selects in all, and the requested page of them.
#[derive(Debug, Clone, Default)]
pub struct Found {
    pub total: usize,
    pub records: Vec<Record>,
}

/// A page of one resource's history: how many entries it holds in all, and the page, newest
/// first, each without its event ([`crate::model::Revision::event`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HistoryPart {
    pub total: usize,
    pub entries: Vec<Revision>,
}

/// Reads a matcher needs to test a record whose filter names its groups or members; an engine
/// provides them synchronously inside its query.
pub trait Lookup {
    fn record(&self, kind: Kind, id: &str) -> Result<Option<Record>, StoreError>;
    fn members(&self, group_id: &str) -> Result<Vec<Member>, StoreError>;
    fn groups_of(&self, member_id: &str) -> Result<Vec<String>, StoreError>;
}

/// A storage engine: the tenants, the keys, the operator's feed, and a [`Partition`] for each
/// tenant's data. Nothing of one partition is visible through another.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// A tenant's partition (created empty on first use; the core uses only tenants that exist).
    fn partition(&self, tenant: &TenantId) -> Result<Arc<dyn Partition>, StoreError>;

    async fn tenants(&self) -> Result<Vec<Tenant>, StoreError>;
    /// One tenant, if it exists (every request asks: engines keep it cheap).
    async fn tenant(&self, id: &TenantId) -> Result<Option<Tenant>, StoreError>;
    /// Creates or updates a tenant with its entry in the operator's feed, durably.
    async fn put_tenant(&self, tenant: Tenant, revision: Revision) -> Result<(), StoreError>;
    /// Removes a tenant with everything in its partition and every key of it, and records the
    /// entry in the operator's feed, durably.
    async fn delete_tenant(&self, tenant: &TenantId, revision: Revision) -> Result<(), StoreError>;

    /// Every key, of every tenant and the operator's.
    async fn keys(&self) -> Result<Vec<ApiKey>, StoreError>;
    /// The key whose digest (lower-case hex SHA-256 of the key) is `digest`, revoked or not:
    /// what authenticating a request needs, in time that does not grow with the number of
    /// keys when the engine indexes them. The default reads every key.
    async fn key_by_digest(&self, digest: &str) -> Result<Option<ApiKey>, StoreError> {
        Ok(self.keys().await?.into_iter().find(|k| k.digest == digest))
    }
    /// Creates or updates a key with its revision entry (in its tenant's feed, or the
    /// operator's), atomically and durably.
    async fn put_key(&self, key: ApiKey, revision: Revision) -> Result<(), StoreError>;
    /// Records the last use of a key (no revision; best effort, not flushed).
    async fn touch_key(&self, id: &str, when: OffsetDateTime) -> Result<(), StoreError>;

    /// A tenant's webhook endpoints, in id order, secrets included (for the sender; the core
    /// never shows them).
    async fn webhooks(&self, tenant: &TenantId) -> Result<Vec<WebhookEndpoint>, StoreError>;
    /// Creates or updates a webhook endpoint of a tenant with its revision entry in the
    /// tenant's feed, atomically and durably. A deleted tenant's endpoints go with it.
    async fn put_webhook(
        &self,
        tenant: &TenantId,
        endpoint: WebhookEndpoint,
        revision: Revision,
    ) -> Result<(), StoreError>;
    /// Where an endpoint's deliveries stand ([`crate::delivery`]), if anything was sent.
    async fn delivery(
        &self,
        tenant: &TenantId,
        endpoint: &str,
    ) -> Result<Option<crate::delivery::Delivery>, StoreError>;
    /// Records where an endpoint's deliveries stand (no revision entry: the attempts are the
    /// sender's log, not changes). It need not be flushed at once: a position lost in a crash
    /// only sends again what was sent, with the same `webhook-id`. A deleted tenant's go with it.
    async fn put_delivery(
        &self,
        tenant: &TenantId,
        endpoint: &str,
        delivery: &crate::delivery::Delivery,
    ) -> Result<(), StoreError>;

    /// Opens a session of the admin web page, or records its last use. An engine that serves
    /// one process may keep sessions in memory (a restart then signs everyone out); an engine
    /// that several replicas share keeps them where every replica finds them.
    async fn put_session(&self, session: WebSession) -> Result<(), StoreError>;
    /// The session whose id has this digest.
    async fn session(&self, digest: &str) -> Result<Option<WebSession>, StoreError>;
    /// Ends a session.
    async fn delete_session(&self, digest: &str) -> Result<(), StoreError>;
    /// Ends the sessions last used before `seen_before` or opened before `opened_before`, then the
    /// least recently used ones beyond `keep`.
    async fn prune_sessions(
        &self,
        seen_before: OffsetDateTime,
        opened_before: OffsetDateTime,
        keep: usize,
    ) -> Result<(), StoreError>;

    /// The operator's feed after `after`, oldest first, at most `limit`, gap-free.
    async fn operator_revisions(
        &self,
        after: u64,
        limit: usize,
    ) -> Result<Vec<Revision>, StoreError>;

    /// A consistent copy of everything: writes wait while it is taken.
    async fn export(&self) -> Result<Export, StoreError>;
    /// Loads a whole copy into an empty store.
    async fn import(&self, export: Export) -> Result<(), StoreError>;
    /// Checks the engine's own structures (its indexes agree with its records), in every
    /// partition; returns what does not. The core checks the rest ([`crate::integrity`]).
    async fn check(&self) -> Result<Vec<String>, StoreError>;
    /// Makes every committed change durable.
    async fn flush(&self) -> Result<(), StoreError>;

    /// The size of the store's files on disk, in bytes (0 when it does not know).
    fn size_on_disk(&self) -> u64;
    /// The writes this process handed to its commits, and in how many batches, for an engine
    /// that groups concurrent writes into one commit; `None` for an engine that does not.
    fn commit_counts(&self) -> Option<CommitCounts> {
        None
    }
    /// Why the store can no longer write, once a write failed for a storage reason; `None`
    /// while it is healthy.
    fn failure(&self) -> Option<String>;
}

/// Writes handed to the commits since the store opened (those refused because a concurrent
/// change won included), and the batches (each one transaction and one flush) that took them:
/// `writes / batches` is how many writes shared a flush.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CommitCounts {
    pub batches: u64,
    pub writes: u64,
}

/// One tenant's data: records, indexes, memberships and history.
#[async_trait]
pub trait Partition: Send + Sync + 'static {
    async fn get(&self, kind: Kind, id: &str) -> Result<Option<Record>, StoreError>;
    /// The members of a group.
    async fn members(&self, group_id: &str) -> Result<Vec<Member>, StoreError>;
    /// [`Partition::members`] of the group at `version` (of its record, as the caller read it),
    /// shared with a copy the engine keeps, if any (what an answer renders from). An engine that
    /// keeps members keeps them with the version they are at, so that a caller is given the
    /// members its record had, whatever commits meanwhile. The default reads them.
    async fn members_shared(
        &self,
        group_id: &str,
        version: u64,
    ) -> Result<SharedMembers, StoreError> {
        let _ = version;
        Ok(self.members(group_id).await?.into())
    }
    /// Those of `member_ids` that are members of the group, as stored (in no particular order):
    /// what a member PATCH needs to know without reading a large group whole. The default reads
    /// the group whole; an engine that can look a membership up overrides it.
    async fn members_among(
        &self,
        group_id: &str,
        member_ids: &[&str],
    ) -> Result<Vec<Member>, StoreError> {
        let wanted: HashSet<&str> = member_ids.iter().copied().collect();
        Ok(self
            .members(group_id)
            .await?
            .into_iter()
            .filter(|m| wanted.contains(m.value.as_str()))
            .collect())
    }
    /// The ids of the groups a resource is a direct member of.
    async fn groups_of(&self, member_id: &str) -> Result<Vec<String>, StoreError>;
    /// [`Partition::groups_of`] for each of `member_ids` (a page of a list): each id that is a
    /// member of any group maps to those groups' ids, in order. An engine whose every read is a
    /// round trip answers it in one; the default asks for each id in turn.
    async fn groups_of_each(
        &self,
        member_ids: &[String],
    ) -> Result<HashMap<String, Vec<String>>, StoreError> {
        let mut out = HashMap::new();
        for id in member_ids {
            let groups = self.groups_of(id).await?;
            if !groups.is_empty() {
                out.insert(id.clone(), groups);
            }
        }
        Ok(out)
    }
    /// The ids an index entry points to.
    async fn lookup(&self, key: &IndexKey) -> Result<Vec<String>, StoreError>;
    /// Answers a list query.
    async fn query(&self, query: Query) -> Result<Found, StoreError>;
    /// Commits one mutation atomically and durably. The revision's sequence number is the
    /// engine's to assign, at commit or later (it is read back with the feed).
    async fn commit(&self, write: Write) -> Result<(), StoreError>;

    /// The tenant's feed: entries with `seq > after`, oldest first, at most `limit`, gap-free.
    async fn revisions(&self, after: u64, limit: usize) -> Result<Vec<Revision>, StoreError>;
    /// The same entries as [`Partition::revisions`], each without its event (`event` is
    /// `None`): what the audit feed shows. An engine that can leave the events unread does.
    async fn revisions_without_events(
        &self,
        after: u64,
        limit: usize,
    ) -> Result<Vec<Revision>, StoreError> {
        let mut entries = self.revisions(after, limit).await?;
        for entry in &mut entries {
            entry.event = None;
        }
        Ok(entries)
    }
    /// The entries whose [`Revision::targets`] include `target`, oldest first.
    async fn revisions_of(&self, target: &TargetRef) -> Result<Vec<Revision>, StoreError>;
    /// A page of those entries, newest first: `skip` the newest, then at most `take`, with
    /// how many there are in all. Each is read without its event (histories do not show it),
    /// and only the page's entries are read, however long the history.
    async fn history(
        &self,
        target: &TargetRef,
        skip: usize,
        take: usize,
    ) -> Result<HistoryPart, StoreError>;

    /// A consistent copy of the partition, with the tenant's keys.
    async fn export(&self) -> Result<Dump, StoreError>;
    /// Loads a copy into an empty partition (its keys into the tenant), building every index.
    async fn import(&self, dump: Dump) -> Result<(), StoreError>;
}
