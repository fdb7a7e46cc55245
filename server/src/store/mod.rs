//! Storage: one [`Store`] trait, so that another engine can replace sled, and its sled
//! implementation in [`sled_store`].
//!
//! Every mutation is one [`Write`], committed in one storage transaction: the record, every index
//! entry (folded-case `userName`, `externalId`, folded-case group `displayName`, memberships in both
//! directions) and a revision entry, together. Durability (flushing) is the caller's choice through
//! [`Store::flush`], which the service layer awaits before any 2xx.

mod batch;
mod census;
pub mod sled_store;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::scim::schema::Kind;

pub use sled_store::SledStore;

/// A stored resource: its canonical document (without `members` for groups) and its bookkeeping.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub id: String,
    pub kind: StoredKind,
    /// Incremented by every committed change; `meta.version` is `W/"<version>"`.
    pub version: u64,
    /// RFC 3339.
    pub created: String,
    /// RFC 3339.
    pub last_modified: String,
    pub doc: Value,
    /// The index entries this record owns, so that an update or delete can remove them.
    #[serde(default)]
    pub index: Vec<IndexKey>,
    /// The application's own view of a user, beside the SCIM resource (users only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<Profile>,
}

/// A user's application profile: what the product shows, set from SCIM at the first sync and
/// owned by administrators after that. Its status is not stored: it follows SCIM `active`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    pub display_name: String,
    pub role: String,
}

/// [`Kind`] as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum StoredKind {
    User,
    Group,
}

impl From<Kind> for StoredKind {
    fn from(k: Kind) -> Self {
        match k {
            Kind::User => StoredKind::User,
            Kind::Group => StoredKind::Group,
        }
    }
}

impl From<StoredKind> for Kind {
    fn from(k: StoredKind) -> Self {
        match k {
            StoredKind::User => Kind::User,
            StoredKind::Group => Kind::Group,
        }
    }
}

/// An index entry. Unique indexes refuse a second record with the same key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum IndexKey {
    /// Folded-case `userName` (unique).
    UserName(String),
    /// `externalId` of a user, case-exact (not unique).
    UserExternalId(String),
    /// Folded-case group `displayName` (unique).
    GroupDisplayName(String),
    /// `externalId` of a group, case-exact (not unique).
    GroupExternalId(String),
}

impl IndexKey {
    pub fn is_unique(&self) -> bool {
        matches!(self, IndexKey::UserName(_) | IndexKey::GroupDisplayName(_))
    }
}

/// A member of a group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    /// The member's `id`.
    pub value: String,
    pub kind: StoredKind,
    /// The `display` the client sent, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display: Option<String>,
}

/// Who made a change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    /// "Scim System User" for changes made through SCIM.
    pub name: String,
    pub key_id: Option<String>,
    pub key_label: Option<String>,
}

/// One attribute that a change touched, with its values before and after (secrets never appear:
/// the canonical form holds none).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttributeChange {
    pub attribute: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<Value>,
}

/// What a revision entry records; the store adds the sequence number.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Revision {
    #[serde(default)]
    pub seq: u64,
    /// RFC 3339.
    pub time: String,
    pub actor: Actor,
    /// `create`, `replace`, `patch`, `delete`, `key.create`, `key.revoke`, ...
    pub action: String,
    /// `User`, `Group` or `ApiKey`.
    pub target_type: String,
    pub target_id: String,
    #[serde(default)]
    pub changes: Vec<AttributeChange>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// Other resources the change touched (members added to or removed from a group, the groups
    /// a deleted user left): the entry appears in their histories too. Filled by the store.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub related: Vec<TargetRef>,
}

/// A resource a revision entry concerns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetRef {
    pub target_type: String,
    pub target_id: String,
}

/// A mutation of one resource, committed atomically with its indexes and revision entry.
#[derive(Debug, Clone)]
pub struct Write {
    pub kind: Kind,
    pub id: String,
    /// `None` for a create (the id must be free); otherwise the version the change was computed
    /// from: the commit fails with [`CommitError::Stale`] if the record has moved on.
    pub expected_version: Option<u64>,
    pub op: WriteOp,
    pub revision: Revision,
}

// One `Write` exists per request, briefly: the size of its variants does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum WriteOp {
    /// Create or replace the record. For groups, `members` is the complete new member set, and
    /// `members_before` the set read at `expected_version`.
    Put {
        record: Record,
        members: Option<MemberChange>,
    },
    /// Delete the record, its index entries, its memberships in groups, and (for a group) its
    /// members as read at `expected_version`.
    Delete { members_before: Vec<Member> },
}

#[derive(Debug, Clone, Default)]
pub struct MemberChange {
    pub before: Vec<Member>,
    pub after: Vec<Member>,
}

/// Why a commit did not happen.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CommitError {
    /// The record changed since it was read; recompute and retry (or 412 under `If-Match`).
    #[error("the resource changed concurrently")]
    Stale,
    #[error(transparent)]
    Failed(#[from] Error),
}

/// A stored API key. The key itself is never stored: only its SHA-256 digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKey {
    pub id: String,
    pub label: String,
    /// Lower-case hex SHA-256 of the key.
    pub digest: String,
    /// `true` for an admin key (the admin API), `false` for a SCIM key.
    #[serde(default)]
    pub admin: bool,
    pub created: String,
    #[serde(default)]
    pub last_used: Option<String>,
    #[serde(default)]
    pub revoked: Option<String>,
}

/// A consistent copy of a whole store, as `export` writes it and `import` reads it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Dump {
    /// The dump format; 1 so far.
    pub format: u32,
    pub users: Vec<Record>,
    pub groups: Vec<GroupDump>,
    pub keys: Vec<ApiKey>,
    pub revisions: Vec<Revision>,
}

/// A group and its members.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupDump {
    pub record: Record,
    pub members: Vec<Member>,
}

/// The storage engine.
pub trait Store: Send + Sync + 'static {
    fn get(&self, kind: Kind, id: &str) -> Result<Option<Record>>;
    /// How many records of a kind there are.
    fn count(&self, kind: Kind) -> Result<usize>;
    /// Records of a kind in a stable order (by `id`), skipping `skip`, at most `take`.
    fn page(&self, kind: Kind, skip: usize, take: usize) -> Result<Vec<Record>>;
    /// Visits every record of a kind in `id` order, one at a time (nothing is collected); the
    /// visitor returns `false` to stop.
    fn scan(&self, kind: Kind, visit: &mut dyn FnMut(Record) -> Result<bool>) -> Result<()>;
    /// Visits every entry of the index `of` names (its variant; the text is ignored): the entry's
    /// text, as the index holds it, and the id it points to.
    fn scan_index(&self, of: &IndexKey, visit: &mut dyn FnMut(&str, &str)) -> Result<()>;
    /// The ids an index entry points to.
    fn lookup(&self, key: &IndexKey) -> Result<Vec<String>>;
    /// The members of a group.
    fn members(&self, group_id: &str) -> Result<Vec<Member>>;
    /// The ids of the groups a resource is a direct member of.
    fn groups_of(&self, member_id: &str) -> Result<Vec<String>>;
    /// Commits one mutation atomically. Returns the committed revision's sequence number.
    fn commit(&self, write: Write) -> Result<u64, CommitError>;
    /// Commits one mutation atomically and returns once it is durable: flushed by a flush that
    /// started after the commit. This default flushes once per write; a store may share one
    /// flush between concurrent writers.
    fn commit_durable(&self, write: Write) -> Result<u64, CommitError> {
        let seq = self.commit(write)?;
        self.flush()?;
        Ok(seq)
    }
    /// Makes every committed change durable.
    fn flush(&self) -> Result<()>;
    /// The size of the store's files on disk, in bytes.
    fn size_on_disk(&self) -> u64;
    /// Why the store can no longer write, once a write has failed for a storage reason (disk
    /// full, read-only, I/O error); `None` while it is healthy.
    fn failure(&self) -> Option<String>;

    fn keys(&self) -> Result<Vec<ApiKey>>;
    /// Creates or updates a key, with its revision entry, atomically.
    fn put_key(&self, key: &ApiKey, revision: Revision) -> Result<()>;
    /// Records the last use of a key (not a revision; best effort).
    fn touch_key(&self, id: &str, when: &str) -> Result<()>;

    /// Revision entries with `seq > after`, oldest first, at most `limit`.
    fn revisions(&self, after: u64, limit: usize) -> Result<Vec<Revision>>;
    /// Revision entries of one target (as the target or a related one), oldest first.
    fn revisions_of(&self, target_type: &str, target_id: &str) -> Result<Vec<Revision>>;

    /// A consistent copy of everything: writes wait while it is taken.
    fn export(&self) -> Result<Dump>;
    /// Loads a dump into an empty store, rebuilding every index.
    fn import(&self, dump: &Dump) -> Result<()>;
    /// Checks that records, indexes, memberships and histories agree; returns what does not.
    fn check(&self) -> Result<Vec<String>>;
}
