//! The sled implementation of [`Store`]. The only module that knows sled.
//!
//! Trees:
//! - `users`, `groups`: id → [`Record`] (JSON)
//! - `index`: tag, length-prefixed key [, id] → id (see [`index_key`])
//! - `group_members`: group id, 0, member id → [`Member`] (JSON), one key per membership
//! - `member_groups`: member id → JSON array of group ids (small: a user is in few groups)
//! - `revisions`: sequence number (big-endian) → [`Revision`] (JSON)
//! - `revisions_by_target`: type, ':', id, 0, sequence number → ()
//! - `api_keys`: key id → [`ApiKey`] (JSON)

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::Path;
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard};

use sled::transaction::{
    ConflictableTransactionError, TransactionError, TransactionalTree, UnabortableTransactionError,
};
use sled::{Transactional, Tree};

use super::batch::Batcher;
use super::census::Census;
use super::{
    ApiKey, CommitError, Dump, GroupDump, IndexKey, Member, Record, Revision, Store, StoredKind,
    TargetRef, Write, WriteOp,
};
use crate::error::{Error, Result};
use crate::scim::schema::Kind;

/// How the store is opened.
#[derive(Debug, Clone)]
pub struct SledOptions {
    /// sled's page cache, in bytes.
    pub cache_capacity: u64,
    /// Background flush period; `None` disables it (every write is then flushed by the caller).
    pub flush_every_ms: Option<u64>,
}

impl Default for SledOptions {
    fn default() -> Self {
        SledOptions {
            cache_capacity: 48 * 1024 * 1024,
            flush_every_ms: Some(500),
        }
    }
}

#[derive(Clone)]
pub struct SledStore {
    db: sled::Db,
    users: Tree,
    groups: Tree,
    index: Tree,
    group_members: Tree,
    member_groups: Tree,
    revisions: Tree,
    revisions_by_target: Tree,
    api_keys: Tree,
    /// Sequence numbers handed to revisions whose transaction has not finished yet. The feed is
    /// read only below the smallest, so that an entry that commits late is never skipped by a
    /// reader that asked for "everything after N".
    in_flight: Arc<Mutex<BTreeSet<u64>>>,
    /// Writes hold it shared; an export holds it alone, so that its copy is consistent.
    barrier: Arc<RwLock<()>>,
    /// Set by the first write that fails for a storage reason (disk full, read-only, I/O): sled
    /// does not recover from it in this process, so the server stops serving and exits.
    failed: Arc<Mutex<Option<String>>>,
    /// The keys, decoded, as every request needs them; `keys_generation` moves with each key
    /// write, so that a copy read before a write is never kept after it (revocation is immediate).
    keys_cache: KeysCache,
    keys_generation: Arc<std::sync::atomic::AtomicU64>,
    /// Record counts and page cursors, so that a list page reads only its own records.
    census: Arc<Census>,
    /// sled's log file, synced with `fdatasync` after each flush (see [`SledStore::flush`]).
    log_file: Arc<std::fs::File>,
    /// sled's folder of large values (over about 128 KiB, such as the revision of a group created
    /// with thousands of members), which sled writes without syncing them, and the blob files
    /// already synced.
    blobs: Arc<(std::path::PathBuf, Mutex<HashSet<std::ffi::OsString>>)>,
    /// Concurrent commits share one transaction.
    batcher: Arc<Batcher<Pending, Result<u64, CommitError>>>,
}

/// A write waiting for its batch, with its revision's sequence number.
struct Pending {
    write: Write,
    seq: u64,
    /// Its writer waits for a flush.
    durable: bool,
}

/// The most writes one transaction holds.
const MAX_BATCH: usize = 64;

/// The decoded keys, with the key-write generation they were read at.
type KeysCache = Arc<Mutex<Option<(u64, Vec<ApiKey>)>>>;

/// A sequence number reserved for a revision; released when its transaction is over.
struct Reserved {
    seq: u64,
    in_flight: Arc<Mutex<BTreeSet<u64>>>,
}

impl Drop for Reserved {
    fn drop(&mut self) {
        if let Ok(mut set) = self.in_flight.lock() {
            set.remove(&self.seq);
        }
    }
}

/// Why a data folder could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("the data folder {0} is in use by another process (is scim-server already running?)")]
    Locked(String),
    #[error("the data folder {path} is corrupt or unreadable: {reason}. Restore it from a backup; the server will not start on it")]
    Corrupt { path: String, reason: String },
    #[error("cannot open the data folder {path}: {reason}")]
    Io { path: String, reason: String },
}

impl OpenError {
    pub fn is_locked(&self) -> bool {
        matches!(self, OpenError::Locked(_))
    }
}

const MARKER: &[u8] = b"__scim_server_store__";

impl SledStore {
    /// Opens (or creates) the store in `path`. A folder that holds files but no store of ours, a
    /// corrupt store, or one locked by another process is an error: never a silently empty store.
    pub fn open(path: &Path, options: &SledOptions) -> std::result::Result<Self, OpenError> {
        let shown = path.display().to_string();
        let existed = path.join("db").exists() || path.join("conf").exists();
        if !existed && path.is_dir() {
            let foreign = std::fs::read_dir(path)
                .map_err(|e| OpenError::Io {
                    path: shown.clone(),
                    reason: e.to_string(),
                })?
                .filter_map(|e| e.ok())
                .any(|e| e.file_name() != "control.sock");
            if foreign {
                return Err(OpenError::Corrupt {
                    path: shown,
                    reason: "it holds files but no store (missing 'db' and 'conf')".into(),
                });
            }
        }
        let db = sled::Config::new()
            .path(path)
            .cache_capacity(options.cache_capacity)
            .flush_every_ms(options.flush_every_ms)
            .open()
            .map_err(|e| classify_open_error(&shown, e))?;
        let tree = |name: &str| {
            db.open_tree(name)
                .map_err(|e| classify_open_error(&shown, e))
        };
        // sled makes its writes stable with `sync_file_range`, which writes the data pages but not
        // the file's size or block allocation: an append that the file system's journal has not
        // committed yet is lost if the file system aborts (a disk error turning ext4 read-only) or
        // the power fails, even though sled called it flushed. `fdatasync` on the same file after
        // each flush commits them. The folder is synced once, so that the files' names are stable.
        let io = |e: std::io::Error| OpenError::Io {
            path: shown.clone(),
            reason: e.to_string(),
        };
        let log_file = std::fs::File::open(path.join("db")).map_err(io)?;
        // sled writes its `conf` at open without syncing it (a disk error left it empty).
        if let Ok(conf) = std::fs::File::open(path.join("conf")) {
            conf.sync_all().map_err(io)?;
        }
        for dir in [path.to_path_buf(), path.join("blobs")] {
            if dir.is_dir() {
                std::fs::File::open(&dir)
                    .and_then(|d| d.sync_all())
                    .map_err(io)?;
            }
        }
        // Blobs that exist at open were recovered from disk: nothing of theirs is pending.
        let known_blobs: HashSet<std::ffi::OsString> = std::fs::read_dir(path.join("blobs"))
            .map(|entries| {
                entries
                    .filter_map(|e| e.ok().map(|e| e.file_name()))
                    .collect()
            })
            .unwrap_or_default();
        let store = SledStore {
            users: tree("users")?,
            groups: tree("groups")?,
            index: tree("index")?,
            group_members: tree("group_members")?,
            member_groups: tree("member_groups")?,
            revisions: tree("revisions")?,
            revisions_by_target: tree("revisions_by_target")?,
            api_keys: tree("api_keys")?,
            in_flight: Arc::default(),
            barrier: Arc::default(),
            failed: Arc::default(),
            keys_cache: Arc::default(),
            keys_generation: Arc::default(),
            census: Arc::default(),
            log_file: Arc::new(log_file),
            blobs: Arc::new((path.join("blobs"), Mutex::new(known_blobs))),
            batcher: Arc::new(Batcher::new(MAX_BATCH, || {
                Err(CommitError::Failed(Error::internal(
                    "the commit's batch ended without an answer",
                )))
            })),
            db,
        };
        let marker = store
            .db
            .get(MARKER)
            .map_err(|e| classify_open_error(&shown, e))?;
        match (existed, marker) {
            (_, Some(_)) => {}
            (false, None) => {
                store
                    .db
                    .insert(MARKER, b"1".as_slice())
                    .map_err(|e| classify_open_error(&shown, e))?;
                store
                    .db
                    .flush()
                    .map_err(|e| classify_open_error(&shown, e))?;
            }
            (true, None) => {
                return Err(OpenError::Corrupt {
                    path: shown,
                    reason: "the store opened empty although its files exist".into(),
                })
            }
        }
        Ok(store)
    }

    pub fn was_recovered(&self) -> bool {
        self.db.was_recovered()
    }

    /// Forgets the cached keys after a key write.
    fn keys_changed(&self) {
        self.keys_generation
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        if let Ok(mut cache) = self.keys_cache.lock() {
            *cache = None;
        }
    }

    /// Records a storage failure of a write (the first one wins) and passes the error on.
    fn note_failure(&self, e: Error) -> Error {
        if let Error::Internal(reason) = &e {
            if let Ok(mut failed) = self.failed.lock() {
                failed.get_or_insert_with(|| reason.clone());
            }
        }
        e
    }

    /// Held by every write, shared: an export waits for writes in progress and holds new ones.
    fn writing(&self) -> Result<RwLockReadGuard<'_, ()>> {
        self.barrier
            .read()
            .map_err(|_| Error::internal("write barrier poisoned"))
    }

    /// Reserves the next revision sequence number (monotonic, assigned before the transaction).
    fn reserve(&self) -> Result<Reserved> {
        let seq = self.db.generate_id().map_err(storage)? + 1;
        self.in_flight
            .lock()
            .map_err(|_| Error::internal("revision bookkeeping poisoned"))?
            .insert(seq);
        Ok(Reserved {
            seq,
            in_flight: Arc::clone(&self.in_flight),
        })
    }

    /// Commits `write` as part of the next batch; with `durable`, returns once the batch is
    /// flushed.
    fn commit_with(&self, write: Write, durable: bool) -> Result<u64, CommitError> {
        let _writing = self.writing()?;
        let reserved = self.reserve()?;
        // A create or a delete changes the count and every position after it.
        let creates = write.expected_version.is_none();
        let deletes = matches!(write.op, WriteOp::Delete { .. });
        let _changing = (creates || deletes).then(|| self.census.changing());
        let kind = write.kind;
        let seq = self.batcher.submit(
            Pending {
                write,
                seq: reserved.seq,
                durable,
            },
            |batch| self.commit_batch(&batch),
        )?;
        if creates || deletes {
            self.census.adjust(kind, creates);
        }
        Ok(seq)
    }

    /// Commits a batch of writes in one transaction, then flushes it if any of its writers
    /// asked for durability: the leader holds the batch open while it flushes, so writers that
    /// arrive meanwhile gather into the next batch (group commit). If any write is refused, the
    /// batch is abandoned (nothing of it is written) and each write is committed on its own,
    /// so that each gets exactly the answer it would have had alone.
    fn commit_batch(&self, batch: &[Pending]) -> Vec<Result<u64, CommitError>> {
        let mut results = self.commit_all(batch);
        if batch.iter().any(|p| p.durable) && results.iter().any(Result::is_ok) {
            if let Err(e) = self.flush() {
                for (r, p) in results.iter_mut().zip(batch) {
                    if r.is_ok() && p.durable {
                        *r = Err(CommitError::Failed(e.clone()));
                    }
                }
            }
        }
        results
    }

    fn commit_all(&self, batch: &[Pending]) -> Vec<Result<u64, CommitError>> {
        if batch.len() > 1 && self.transact(batch).is_ok() {
            return batch.iter().map(|p| Ok(p.seq)).collect();
        }
        batch
            .iter()
            .map(|one| self.transact(std::slice::from_ref(one)).map(|()| one.seq))
            .collect()
    }

    /// Runs writes in one sled transaction.
    fn transact(&self, batch: &[Pending]) -> Result<(), CommitError> {
        let trees = (
            &self.users,
            &self.groups,
            &self.index,
            &self.group_members,
            &self.member_groups,
            &self.revisions,
            &self.revisions_by_target,
        );
        trees
            .transaction(|trees| {
                for p in batch {
                    apply_write(trees, &p.write, p.seq)?;
                }
                Ok(())
            })
            .map_err(|e| match map_tx_error(e) {
                CommitError::Failed(e @ Error::Internal(_)) => {
                    CommitError::Failed(self.note_failure(e))
                }
                other => other,
            })
    }

    /// Syncs the blob files sled wrote since the last flush (and their folder). Usually the
    /// folder is empty and this is one directory read.
    fn sync_new_blobs(&self) -> std::io::Result<()> {
        let (dir, synced) = &*self.blobs;
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        let mut synced = synced
            .lock()
            .map_err(|_| std::io::Error::other("blob bookkeeping poisoned"))?;
        let mut present = HashSet::new();
        let mut any = false;
        for entry in entries {
            let entry = entry?;
            let name = entry.file_name();
            if !synced.contains(&name) {
                match std::fs::File::open(entry.path()) {
                    Ok(f) => f.sync_data()?,
                    // Removed by sled meanwhile (a rewritten page frees its old blob).
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(e),
                }
                any = true;
            }
            present.insert(name);
        }
        if any {
            std::fs::File::open(dir)?.sync_all()?;
        }
        *synced = present;
        Ok(())
    }

    fn records(&self, kind: Kind) -> &Tree {
        match kind {
            Kind::User => &self.users,
            Kind::Group => &self.groups,
        }
    }
}

fn classify_open_error(path: &str, e: sled::Error) -> OpenError {
    match e {
        sled::Error::Io(io)
            if io.kind() == std::io::ErrorKind::WouldBlock
                || io.to_string().contains("could not acquire lock") =>
        {
            OpenError::Locked(path.to_string())
        }
        sled::Error::Io(io) => OpenError::Io {
            path: path.to_string(),
            reason: io.to_string(),
        },
        other => OpenError::Corrupt {
            path: path.to_string(),
            reason: other.to_string(),
        },
    }
}

fn storage(e: impl std::fmt::Display) -> Error {
    Error::internal(format!("storage: {e}"))
}

fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|e| storage(format!("undecodable entry: {e}")))
}

fn encode<T: serde::Serialize>(value: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(value).map_err(storage)
}

/// The bytes of an index entry: a tag, the key's length and bytes, and for a non-unique index the
/// id too (so that many ids can share a key).
fn index_key(key: &IndexKey, id: Option<&str>) -> Vec<u8> {
    let (tag, text) = match key {
        IndexKey::UserName(s) => (b'u', s),
        IndexKey::UserExternalId(s) => (b'e', s),
        IndexKey::GroupDisplayName(s) => (b'g', s),
        IndexKey::GroupExternalId(s) => (b'x', s),
    };
    let mut out = Vec::with_capacity(5 + text.len() + id.map_or(0, str::len));
    out.push(tag);
    out.extend_from_slice(&u32::try_from(text.len()).unwrap_or(u32::MAX).to_be_bytes());
    out.extend_from_slice(text.as_bytes());
    if !key.is_unique() {
        if let Some(id) = id {
            out.extend_from_slice(id.as_bytes());
        }
    }
    out
}

/// The text of an index entry's key, and what follows it (the id, in a non-unique index).
fn split_index_key(key: &[u8]) -> Option<(&[u8], &[u8])> {
    let len = u32::from_be_bytes(key.get(1..5)?.try_into().ok()?);
    let end = 5usize.checked_add(usize::try_from(len).ok()?)?;
    Some((key.get(5..end)?, key.get(end..)?))
}

fn membership_key(group_id: &str, member_id: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(group_id.len() + 1 + member_id.len());
    k.extend_from_slice(group_id.as_bytes());
    k.push(0);
    k.extend_from_slice(member_id.as_bytes());
    k
}

fn target_key(target_type: &str, target_id: &str, seq: Option<u64>) -> Vec<u8> {
    let mut k = format!("{target_type}:{target_id}").into_bytes();
    k.push(0);
    if let Some(seq) = seq {
        k.extend_from_slice(&seq.to_be_bytes());
    }
    k
}

type TxResult<T> = std::result::Result<T, ConflictableTransactionError<CommitError>>;

fn abort<T>(e: Error) -> TxResult<T> {
    Err(ConflictableTransactionError::Abort(CommitError::Failed(e)))
}

fn tx_decode<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> TxResult<T> {
    decode(bytes).or_else(abort)
}

fn tx_encode<T: serde::Serialize>(value: &T) -> TxResult<Vec<u8>> {
    encode(value).or_else(abort)
}

/// Reads a member's list of groups inside a transaction.
fn tx_groups_of(member_groups: &TransactionalTree, member_id: &str) -> TxResult<Vec<String>> {
    match member_groups.get(member_id.as_bytes())? {
        Some(bytes) => tx_decode(&bytes),
        None => Ok(Vec::new()),
    }
}

fn tx_set_groups_of(
    member_groups: &TransactionalTree,
    member_id: &str,
    groups: &[String],
) -> TxResult<()> {
    if groups.is_empty() {
        member_groups.remove(member_id.as_bytes())?;
    } else {
        member_groups.insert(member_id.as_bytes(), tx_encode(&groups)?)?;
    }
    Ok(())
}

/// Writes a revision entry with its reserved sequence number, and its per-target keys.
fn tx_revision(
    revisions: &TransactionalTree,
    by_target: &TransactionalTree,
    revision: &Revision,
    seq: u64,
) -> TxResult<u64> {
    let mut entry = revision.clone();
    entry.seq = seq;
    revisions.insert(&seq.to_be_bytes(), tx_encode(&entry)?)?;
    by_target.insert(
        target_key(&entry.target_type, &entry.target_id, Some(seq)),
        &[] as &[u8],
    )?;
    for r in &entry.related {
        by_target.insert(
            target_key(&r.target_type, &r.target_id, Some(seq)),
            &[] as &[u8],
        )?;
    }
    Ok(seq)
}

/// The trees a write's transaction spans, as the transaction sees them.
type Trees = (
    TransactionalTree,
    TransactionalTree,
    TransactionalTree,
    TransactionalTree,
    TransactionalTree,
    TransactionalTree,
    TransactionalTree,
);

/// One write inside a transaction: the record, its index entries, its memberships and its
/// revision entry. Any refusal (stale version, taken name, missing member) aborts the whole
/// transaction.
fn apply_write(trees: &Trees, write: &Write, seq: u64) -> TxResult<u64> {
    let (users, groups, index, group_members, member_groups, revisions, by_target) = trees;
    let records = match write.kind {
        Kind::User => users,
        Kind::Group => groups,
    };
    let id = write.id.as_str();
    let old: Option<Record> = match records.get(id.as_bytes())? {
        Some(bytes) => Some(tx_decode(&bytes)?),
        None => None,
    };
    match (&old, write.expected_version) {
        (Some(_), None) => {
            return abort(Error::Conflict(format!("a resource with id {id} exists")))
        }
        (None, Some(_)) => {
            return abort(Error::NotFound(format!(
                "{} {id} not found",
                write.kind.name()
            )))
        }
        (Some(old), Some(v)) if old.version != v => {
            return Err(ConflictableTransactionError::Abort(CommitError::Stale))
        }
        _ => {}
    }
    let mut related: Vec<TargetRef> = Vec::new();
    let member_ref = |m: &Member| TargetRef {
        target_type: Kind::from(m.kind).name().to_string(),
        target_id: m.value.clone(),
    };
    // Remove the old index entries.
    if let Some(old) = &old {
        for key in &old.index {
            index.remove(index_key(key, Some(id)))?;
        }
    }
    match &write.op {
        WriteOp::Put { record, members } => {
            for key in &record.index {
                let k = index_key(key, Some(id));
                if key.is_unique() {
                    if let Some(owner) = index.get(&k)? {
                        if owner.as_ref() != id.as_bytes() {
                            return abort(Error::Conflict(match key {
                                IndexKey::UserName(_) => "userName is already taken".into(),
                                _ => "displayName is already taken".into(),
                            }));
                        }
                    }
                }
                index.insert(k, id.as_bytes())?;
            }
            records.insert(id.as_bytes(), tx_encode(record)?)?;
            if let Some(change) = members {
                // Only the difference is written: a member that stays costs nothing.
                let before: HashSet<&str> =
                    change.before.iter().map(|m| m.value.as_str()).collect();
                let after: HashSet<&str> = change.after.iter().map(|m| m.value.as_str()).collect();
                for m in change
                    .before
                    .iter()
                    .filter(|m| !after.contains(m.value.as_str()))
                {
                    related.push(member_ref(m));
                    group_members.remove(membership_key(id, &m.value))?;
                    let mut of = tx_groups_of(member_groups, &m.value)?;
                    of.retain(|g| g != id);
                    tx_set_groups_of(member_groups, &m.value, &of)?;
                }
                let old: HashMap<&str, &Member> = change
                    .before
                    .iter()
                    .map(|m| (m.value.as_str(), m))
                    .collect();
                for m in &change.after {
                    // Staying, but its `type` or `display` may have changed.
                    if old.get(m.value.as_str()).is_some_and(|o| *o != m) {
                        group_members.insert(membership_key(id, &m.value), tx_encode(m)?)?;
                    }
                }
                for m in change
                    .after
                    .iter()
                    .filter(|m| !before.contains(m.value.as_str()))
                {
                    let exists = match m.kind {
                        StoredKind::User => users.get(m.value.as_bytes())?.is_some(),
                        StoredKind::Group => {
                            m.value != id && groups.get(m.value.as_bytes())?.is_some()
                        }
                    };
                    if !exists {
                        return abort(Error::invalid_value(format!(
                            "member {} is not an existing {}",
                            crate::error::quote(&m.value),
                            Kind::from(m.kind).name()
                        )));
                    }
                    related.push(member_ref(m));
                    group_members.insert(membership_key(id, &m.value), tx_encode(m)?)?;
                    let mut of = tx_groups_of(member_groups, &m.value)?;
                    if !of.iter().any(|g| g == id) {
                        of.push(id.to_string());
                        tx_set_groups_of(member_groups, &m.value, &of)?;
                    }
                }
            }
        }
        WriteOp::Delete { members_before } => {
            records.remove(id.as_bytes())?;
            // Its own members (a group).
            for m in members_before {
                group_members.remove(membership_key(id, &m.value))?;
                let mut of = tx_groups_of(member_groups, &m.value)?;
                of.retain(|g| g != id);
                tx_set_groups_of(member_groups, &m.value, &of)?;
            }
            // Its memberships in groups: each group loses it and moves to a new version.
            for gid in tx_groups_of(member_groups, id)? {
                related.push(TargetRef {
                    target_type: Kind::Group.name().to_string(),
                    target_id: gid.clone(),
                });
                group_members.remove(membership_key(&gid, id))?;
                if let Some(bytes) = groups.get(gid.as_bytes())? {
                    let mut g: Record = tx_decode(&bytes)?;
                    g.version += 1;
                    g.last_modified = write.revision.time.clone();
                    groups.insert(gid.as_bytes(), tx_encode(&g)?)?;
                }
            }
            member_groups.remove(id.as_bytes())?;
        }
    }
    let mut revision = write.revision.clone();
    revision.related = related;
    tx_revision(revisions, by_target, &revision, seq)
}

fn map_tx_error(e: TransactionError<CommitError>) -> CommitError {
    match e {
        TransactionError::Abort(e) => e,
        TransactionError::Storage(e) => CommitError::Failed(storage(e)),
    }
}

impl Store for SledStore {
    fn get(&self, kind: Kind, id: &str) -> Result<Option<Record>> {
        match self.records(kind).get(id.as_bytes()).map_err(storage)? {
            Some(bytes) => Ok(Some(decode(&bytes)?)),
            None => Ok(None),
        }
    }

    fn count(&self, kind: Kind) -> Result<usize> {
        if let Some(n) = self.census.count(kind) {
            return Ok(n);
        }
        // Counted once, with writes held (as an export holds them), then kept by each commit.
        let _alone = self
            .barrier
            .write()
            .map_err(|_| Error::internal("write barrier poisoned"))?;
        if let Some(n) = self.census.count(kind) {
            return Ok(n);
        }
        let n = self.records(kind).len();
        self.census.set_count(kind, n);
        Ok(n)
    }

    fn page(&self, kind: Kind, skip: usize, take: usize) -> Result<Vec<Record>> {
        use std::ops::Bound::{Excluded, Unbounded};
        let tree = self.records(kind);
        let began = self.census.stable();
        let mut walk = match (skip, self.census.cursor(kind, skip)) {
            (0, _) => tree.iter(),
            (_, Some(after)) => tree.range::<&[u8], _>((Excluded(after.as_slice()), Unbounded)),
            _ => {
                let mut walk = tree.iter();
                for entry in walk.by_ref().take(skip) {
                    entry.map_err(storage)?;
                }
                walk
            }
        };
        let mut out = Vec::with_capacity(take.min(1024));
        let mut last = None;
        for entry in walk.by_ref().take(take) {
            let (key, value) = entry.map_err(storage)?;
            out.push(decode(&value)?);
            last = Some(key);
        }
        if let (Some(began), Some(last)) = (began, last) {
            self.census
                .remember(kind, skip + out.len(), began, last.to_vec());
        }
        Ok(out)
    }

    fn scan(&self, kind: Kind, visit: &mut dyn FnMut(Record) -> Result<bool>) -> Result<()> {
        for v in self.records(kind).iter().values() {
            if !visit(decode(&v.map_err(storage)?)?)? {
                break;
            }
        }
        Ok(())
    }

    fn scan_index(&self, of: &IndexKey, visit: &mut dyn FnMut(&str, &str)) -> Result<()> {
        let tag = index_key(of, None)[0];
        for entry in self.index.scan_prefix([tag]) {
            let (key, value) = entry.map_err(storage)?;
            let Some((text, rest)) = split_index_key(&key) else {
                continue;
            };
            let id = if of.is_unique() { &value[..] } else { rest };
            visit(&String::from_utf8_lossy(text), &String::from_utf8_lossy(id));
        }
        Ok(())
    }

    fn lookup(&self, key: &IndexKey) -> Result<Vec<String>> {
        if key.is_unique() {
            return match self.index.get(index_key(key, None)).map_err(storage)? {
                Some(id) => Ok(vec![String::from_utf8_lossy(&id).into_owned()]),
                None => Ok(Vec::new()),
            };
        }
        self.index
            .scan_prefix(index_key(key, None))
            .values()
            .map(|v| Ok(String::from_utf8_lossy(&v.map_err(storage)?).into_owned()))
            .collect()
    }

    fn members(&self, group_id: &str) -> Result<Vec<Member>> {
        let mut prefix = group_id.as_bytes().to_vec();
        prefix.push(0);
        self.group_members
            .scan_prefix(prefix)
            .values()
            .map(|v| decode(&v.map_err(storage)?))
            .collect()
    }

    fn groups_of(&self, member_id: &str) -> Result<Vec<String>> {
        match self
            .member_groups
            .get(member_id.as_bytes())
            .map_err(storage)?
        {
            Some(bytes) => decode(&bytes),
            None => Ok(Vec::new()),
        }
    }

    fn commit(&self, write: Write) -> Result<u64, CommitError> {
        self.commit_with(write, false)
    }

    fn commit_durable(&self, write: Write) -> Result<u64, CommitError> {
        self.commit_with(write, true)
    }

    fn flush(&self) -> Result<()> {
        // Large values first: the log entries that point at them must not be durable without them.
        self.sync_new_blobs()
            .map_err(|e| self.note_failure(storage(e)))?;
        self.db
            .flush()
            .map(|_| ())
            .map_err(|e| self.note_failure(storage(e)))?;
        self.log_file
            .sync_data()
            .map_err(|e| self.note_failure(storage(e)))
    }

    fn failure(&self) -> Option<String> {
        self.failed.lock().ok().and_then(|f| f.clone())
    }

    fn size_on_disk(&self) -> u64 {
        self.db.size_on_disk().unwrap_or(0)
    }

    fn keys(&self) -> Result<Vec<ApiKey>> {
        use std::sync::atomic::Ordering;
        let generation = self.keys_generation.load(Ordering::SeqCst);
        if let Ok(cache) = self.keys_cache.lock() {
            if let Some((g, keys)) = cache.as_ref() {
                if *g == generation {
                    return Ok(keys.clone());
                }
            }
        }
        let keys: Vec<ApiKey> = self
            .api_keys
            .iter()
            .values()
            .map(|v| decode(&v.map_err(storage)?))
            .collect::<Result<_>>()?;
        if let Ok(mut cache) = self.keys_cache.lock() {
            // Kept only if no key was written since this read began.
            if self.keys_generation.load(Ordering::SeqCst) == generation {
                *cache = Some((generation, keys.clone()));
            }
        }
        Ok(keys)
    }

    fn put_key(&self, key: &ApiKey, revision: Revision) -> Result<()> {
        let _writing = self.writing()?;
        let reserved = self.reserve()?;
        let seq = reserved.seq;
        (&self.api_keys, &self.revisions, &self.revisions_by_target)
            .transaction(|(keys, revisions, by_target)| {
                keys.insert(key.id.as_bytes(), tx_encode(key)?)?;
                tx_revision(revisions, by_target, &revision, seq)?;
                Ok(())
            })
            .map_err(|e| match map_tx_error(e) {
                CommitError::Failed(e) => e,
                CommitError::Stale => storage("unexpected conflict"),
            })?;
        self.keys_changed();
        Ok(())
    }

    fn touch_key(&self, id: &str, when: &str) -> Result<()> {
        let _writing = self.writing()?;
        self.api_keys
            .update_and_fetch(id.as_bytes(), |old| {
                let old = old?;
                let mut key: ApiKey = serde_json::from_slice(old).ok()?;
                key.last_used = Some(when.to_string());
                serde_json::to_vec(&key).ok()
            })
            .map_err(storage)?;
        self.keys_changed();
        Ok(())
    }

    fn revisions(&self, after: u64, limit: usize) -> Result<Vec<Revision>> {
        let horizon = self
            .in_flight
            .lock()
            .map_err(|_| Error::internal("revision bookkeeping poisoned"))?
            .first()
            .copied()
            .unwrap_or(u64::MAX);
        let first = after.saturating_add(1);
        if first >= horizon {
            return Ok(Vec::new());
        }
        let (start, end) = (first.to_be_bytes(), horizon.to_be_bytes());
        self.revisions
            .range(start..end)
            .values()
            .take(limit)
            .map(|v| decode(&v.map_err(storage)?))
            .collect()
    }

    fn revisions_of(&self, target_type: &str, target_id: &str) -> Result<Vec<Revision>> {
        let mut out = Vec::new();
        for key in self
            .revisions_by_target
            .scan_prefix(target_key(target_type, target_id, None))
            .keys()
        {
            let key = key.map_err(storage)?;
            let seq = key
                .len()
                .checked_sub(8)
                .map(|at| &key[at..])
                .unwrap_or_default();
            if let Some(bytes) = self.revisions.get(seq).map_err(storage)? {
                out.push(decode(&bytes)?);
            }
        }
        Ok(out)
    }

    fn export(&self) -> Result<Dump> {
        let _alone = self
            .barrier
            .write()
            .map_err(|_| Error::internal("write barrier poisoned"))?;
        let all = |tree: &Tree| -> Result<Vec<Record>> {
            tree.iter()
                .values()
                .map(|v| decode(&v.map_err(storage)?))
                .collect()
        };
        let users = all(&self.users)?;
        let groups = all(&self.groups)?
            .into_iter()
            .map(|record| {
                Ok(GroupDump {
                    members: self.members(&record.id)?,
                    record,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let revisions = self
            .revisions
            .iter()
            .values()
            .map(|v| decode(&v.map_err(storage)?))
            .collect::<Result<Vec<Revision>>>()?;
        Ok(Dump {
            format: 1,
            users,
            groups,
            keys: self.keys()?,
            revisions,
        })
    }

    fn import(&self, dump: &Dump) -> Result<()> {
        if dump.format != 1 {
            return Err(Error::invalid_value(format!(
                "unknown dump format {}",
                dump.format
            )));
        }
        let empty = [&self.users, &self.groups, &self.api_keys, &self.revisions]
            .iter()
            .all(|t| t.is_empty());
        if !empty {
            return Err(Error::invalid_value("import needs an empty store"));
        }
        let _writing = self.writing()?;
        self.census.reset();
        let mut member_of: HashMap<&str, Vec<String>> = HashMap::new();
        for record in dump
            .users
            .iter()
            .chain(dump.groups.iter().map(|g| &g.record))
        {
            let tree = self.records(record.kind.into());
            tree.insert(record.id.as_bytes(), encode(record)?)
                .map_err(storage)?;
            for key in &record.index {
                self.index
                    .insert(index_key(key, Some(&record.id)), record.id.as_bytes())
                    .map_err(storage)?;
            }
        }
        for g in &dump.groups {
            for m in &g.members {
                self.group_members
                    .insert(membership_key(&g.record.id, &m.value), encode(m)?)
                    .map_err(storage)?;
                member_of
                    .entry(m.value.as_str())
                    .or_default()
                    .push(g.record.id.clone());
            }
        }
        for (member, groups) in member_of {
            self.member_groups
                .insert(member.as_bytes(), encode(&groups)?)
                .map_err(storage)?;
        }
        for key in &dump.keys {
            self.api_keys
                .insert(key.id.as_bytes(), encode(key)?)
                .map_err(storage)?;
        }
        let mut last = 0;
        for r in &dump.revisions {
            self.revisions
                .insert(r.seq.to_be_bytes(), encode(r)?)
                .map_err(storage)?;
            let targets = std::iter::once((r.target_type.as_str(), r.target_id.as_str())).chain(
                r.related
                    .iter()
                    .map(|t| (t.target_type.as_str(), t.target_id.as_str())),
            );
            for (t, id) in targets {
                self.revisions_by_target
                    .insert(target_key(t, id, Some(r.seq)), &[] as &[u8])
                    .map_err(storage)?;
            }
            last = last.max(r.seq);
        }
        self.keys_changed();
        // New sequence numbers continue after the imported ones.
        while self.db.generate_id().map_err(storage)? < last {}
        self.flush()
    }

    fn check(&self) -> Result<Vec<String>> {
        let mut problems = Vec::new();
        let mut owned: HashSet<Vec<u8>> = HashSet::new();
        for kind in [Kind::User, Kind::Group] {
            for v in self.records(kind).iter().values() {
                let record: Record = decode(&v.map_err(storage)?)?;
                if Kind::from(record.kind) != kind {
                    problems.push(format!(
                        "{} {} is stored as a {:?}",
                        kind.name(),
                        record.id,
                        record.kind
                    ));
                }
                for key in &record.index {
                    let k = index_key(key, Some(&record.id));
                    match self.index.get(&k).map_err(storage)? {
                        Some(id) if id.as_ref() == record.id.as_bytes() => {}
                        _ => problems.push(format!(
                            "{} {}: index entry {key:?} missing",
                            kind.name(),
                            record.id
                        )),
                    }
                    owned.insert(k);
                }
            }
        }
        for entry in self.index.iter() {
            let (k, id) = entry.map_err(storage)?;
            if !owned.contains(k.as_ref()) {
                problems.push(format!(
                    "index entry for {} points to no record that owns it",
                    String::from_utf8_lossy(&id)
                ));
            }
        }
        for entry in self.group_members.iter() {
            let (k, v) = entry.map_err(storage)?;
            let text = String::from_utf8_lossy(&k).into_owned();
            let Some((g, m)) = text.split_once('\0') else {
                problems.push(format!("malformed membership key {text:?}"));
                continue;
            };
            let member: Member = decode(&v)?;
            if self.groups.get(g.as_bytes()).map_err(storage)?.is_none() {
                problems.push(format!("membership of {m} in missing group {g}"));
            }
            if self
                .records(member.kind.into())
                .get(m.as_bytes())
                .map_err(storage)?
                .is_none()
            {
                problems.push(format!("group {g} has missing member {m}"));
            }
            if !self.groups_of(m)?.iter().any(|x| x == g) {
                problems.push(format!(
                    "{m} is a member of {g}, but its group list does not say so"
                ));
            }
        }
        for entry in self.member_groups.iter() {
            let (m, groups) = entry.map_err(storage)?;
            let m = String::from_utf8_lossy(&m).into_owned();
            for g in decode::<Vec<String>>(&groups)? {
                if self
                    .group_members
                    .get(membership_key(&g, &m))
                    .map_err(storage)?
                    .is_none()
                {
                    problems.push(format!("{m} lists group {g}, which does not list it"));
                }
            }
        }
        for key in self.revisions_by_target.iter().keys() {
            let key = key.map_err(storage)?;
            let seq = key
                .len()
                .checked_sub(8)
                .map(|at| &key[at..])
                .unwrap_or_default();
            if self.revisions.get(seq).map_err(storage)?.is_none() {
                problems.push("a history entry points to a missing revision".into());
            }
        }
        // The history agrees with the state: a resource that exists was created and its last
        // entry is not a delete; one whose last entry is a delete no longer exists.
        let mut last: HashMap<(String, String), (String, bool)> = HashMap::new();
        for v in self.revisions.iter().values() {
            let r: Revision = decode(&v.map_err(storage)?)?;
            if r.target_type != "User" && r.target_type != "Group" {
                continue;
            }
            let entry = last
                .entry((r.target_type.clone(), r.target_id.clone()))
                .or_insert((String::new(), false));
            entry.1 |= r.action == "create";
            entry.0 = r.action;
        }
        for ((t, id), (action, created)) in &last {
            let kind = if t == "User" { Kind::User } else { Kind::Group };
            let exists = self
                .records(kind)
                .get(id.as_bytes())
                .map_err(storage)?
                .is_some();
            if exists && (action == "delete" || !created) {
                problems.push(format!(
                    "{t} {id} exists, but its history ends with '{action}' (created: {created})"
                ));
            }
            if !exists && action != "delete" {
                problems.push(format!(
                    "{t} {id} is gone, but its history ends with '{action}'"
                ));
            }
        }
        for kind in [Kind::User, Kind::Group] {
            for k in self.records(kind).iter().keys() {
                let id = String::from_utf8_lossy(&k.map_err(storage)?).into_owned();
                if !last.contains_key(&(kind.name().to_string(), id.clone())) {
                    problems.push(format!("{} {id} exists without any history", kind.name()));
                }
            }
        }
        Ok(problems)
    }
}

impl From<UnabortableTransactionError> for CommitError {
    fn from(e: UnabortableTransactionError) -> Self {
        CommitError::Failed(storage(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Actor;

    fn revision(target: &str) -> Revision {
        Revision {
            seq: 0,
            time: "2026-01-01T00:00:00Z".into(),
            actor: Actor {
                name: "test".into(),
                key_id: None,
                key_label: None,
            },
            action: "key.create".into(),
            target_type: "ApiKey".into(),
            target_id: target.into(),
            changes: Vec::new(),
            request_id: None,
            related: Vec::new(),
        }
    }

    fn key(id: &str) -> ApiKey {
        ApiKey {
            id: id.into(),
            label: id.into(),
            digest: String::new(),
            admin: false,
            created: String::new(),
            last_used: None,
            revoked: None,
        }
    }

    #[test]
    fn the_feed_stops_below_a_revision_still_in_flight() {
        let dir = tempfile::tempdir().expect("dir");
        let store = SledStore::open(dir.path(), &SledOptions::default()).expect("store");
        store.put_key(&key("a"), revision("a")).expect("a");
        let slow = store.reserve().expect("reserve"); // a transaction that has not committed yet
        store.put_key(&key("b"), revision("b")).expect("b");
        let seen: Vec<String> = store
            .revisions(0, 10)
            .expect("feed")
            .into_iter()
            .map(|r| r.target_id)
            .collect();
        assert_eq!(
            seen,
            ["a"],
            "b committed after a reservation below it: not shown yet"
        );
        drop(slow);
        let seen: Vec<String> = store
            .revisions(0, 10)
            .expect("feed")
            .into_iter()
            .map(|r| r.target_id)
            .collect();
        assert_eq!(seen, ["a", "b"]);
        let after_a = store.revisions(0, 1).expect("feed")[0].seq;
        assert_eq!(store.revisions(after_a, 10).expect("feed").len(), 1);
        assert!(store.revisions(u64::MAX - 1, 10).expect("feed").is_empty());
    }
}
