//! Commits: what one [`Write`] does inside a sled transaction, and how concurrent writes share
//! one transaction and one flush.

use std::collections::{HashMap, HashSet};

use scim_core::model::{Kind, Member, Record, Revision, StoredKind};
use scim_core::store::{Expect, StoreError, Write, WriteOp};
use sled::transaction::{ConflictableTransactionError, TransactionError, TransactionalTree};
use sled::Transactional;

use crate::keys::{index_key, membership_key, target_key};
use crate::{decode, encode, storage, SledStore};

/// A write waiting for its batch, with its revision's sequence number.
pub(crate) struct Pending {
    write: Write,
    seq: u64,
    /// Its writer waits for a flush.
    durable: bool,
}

impl SledStore {
    /// Commits `write` as part of the next batch; when the store is durable, returns once the
    /// batch is flushed.
    pub(crate) fn commit_now(&self, write: Write) -> Result<u64, StoreError> {
        let _writing = self.writing()?;
        let reserved = self.reserve()?;
        // A create or a delete changes the count and every position after it.
        let creates = write.expect == Expect::Absent;
        let deletes = matches!(write.op, WriteOp::Delete { .. });
        let _changing = (creates || deletes).then(|| self.census.changing());
        let kind = write.kind;
        let seq = self.batcher.submit(
            Pending {
                write,
                seq: reserved.seq,
                durable: self.durable,
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
    fn commit_batch(&self, batch: &[Pending]) -> Vec<Result<u64, StoreError>> {
        let mut results = self.commit_all(batch);
        if batch.iter().any(|p| p.durable) && results.iter().any(Result::is_ok) {
            if let Err(e) = self.flush_now() {
                for (r, p) in results.iter_mut().zip(batch) {
                    if r.is_ok() && p.durable {
                        *r = Err(e.clone());
                    }
                }
            }
        }
        results
    }

    fn commit_all(&self, batch: &[Pending]) -> Vec<Result<u64, StoreError>> {
        if batch.len() > 1 && self.transact(batch).is_ok() {
            return batch.iter().map(|p| Ok(p.seq)).collect();
        }
        batch
            .iter()
            .map(|one| self.transact(std::slice::from_ref(one)).map(|()| one.seq))
            .collect()
    }

    /// Runs writes in one sled transaction.
    fn transact(&self, batch: &[Pending]) -> Result<(), StoreError> {
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
                    apply(trees, &p.write, p.seq)?;
                }
                Ok(())
            })
            .map_err(|e| self.note_failure(tx_error(e)))
    }

    /// Creates or updates a key with its revision entry, atomically, then flushes.
    pub(crate) fn put_key_now(
        &self,
        key: &scim_core::model::ApiKey,
        revision: &Revision,
    ) -> Result<u64, StoreError> {
        let _writing = self.writing()?;
        let reserved = self.reserve()?;
        let seq = reserved.seq;
        (&self.api_keys, &self.revisions, &self.revisions_by_target)
            .transaction(|(keys, revisions, by_target)| {
                keys.insert(key.id.as_bytes(), tx_encode(key)?)?;
                tx_revision(revisions, by_target, revision, seq)?;
                Ok(())
            })
            .map_err(|e| self.note_failure(tx_error(e)))?;
        self.keys_changed();
        drop(reserved);
        self.flush_now()?;
        Ok(seq)
    }
}

pub(crate) type TxResult<T> = Result<T, ConflictableTransactionError<StoreError>>;

fn abort<T>(e: StoreError) -> TxResult<T> {
    Err(ConflictableTransactionError::Abort(e))
}

fn tx_decode<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> TxResult<T> {
    decode(bytes).or_else(abort)
}

fn tx_encode<T: serde::Serialize>(value: &T) -> TxResult<Vec<u8>> {
    encode(value).or_else(abort)
}

fn tx_error(e: TransactionError<StoreError>) -> StoreError {
    match e {
        TransactionError::Abort(e) => e,
        TransactionError::Storage(e) => storage(e),
    }
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
) -> TxResult<()> {
    let mut entry = revision.clone();
    entry.seq = seq;
    revisions.insert(&seq.to_be_bytes(), tx_encode(&entry)?)?;
    for target in entry.targets() {
        by_target.insert(target_key(&target, Some(seq)), &[] as &[u8])?;
    }
    Ok(())
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

/// One write inside a transaction: the record, its index entries, its memberships, the records
/// it moves to a new version, and its revision entry. Any refusal (stale, taken, missing member)
/// aborts the whole transaction.
fn apply(trees: &Trees, write: &Write, seq: u64) -> TxResult<()> {
    let (users, groups, index, group_members, member_groups, revisions, by_target) = trees;
    let records = |kind: Kind| match kind {
        Kind::User => users,
        Kind::Group => groups,
    };
    let id = write.id.as_str();
    let old: Option<Record> = match records(write.kind).get(id.as_bytes())? {
        Some(bytes) => Some(tx_decode(&bytes)?),
        None => None,
    };
    match (&old, write.expect) {
        (Some(_), Expect::Absent) => return abort(StoreError::Exists),
        (None, Expect::Version(_)) => return abort(StoreError::Missing),
        (Some(old), Expect::Version(v)) if old.version != v => return abort(StoreError::Stale),
        _ => {}
    }
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
                            return abort(StoreError::Taken(key.clone()));
                        }
                    }
                }
                index.insert(k, id.as_bytes())?;
            }
            records(write.kind).insert(id.as_bytes(), tx_encode(record)?)?;
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
                        StoredKind::Group => groups.get(m.value.as_bytes())?.is_some(),
                    };
                    if !exists {
                        return abort(StoreError::NoSuchMember(m.clone()));
                    }
                    group_members.insert(membership_key(id, &m.value), tx_encode(m)?)?;
                    let mut of = tx_groups_of(member_groups, &m.value)?;
                    if !of.iter().any(|g| g == id) {
                        of.push(id.to_string());
                        tx_set_groups_of(member_groups, &m.value, &of)?;
                    }
                }
            }
        }
        WriteOp::Delete { members, member_of } => {
            let current = tx_groups_of(member_groups, id)?;
            let (current, read): (HashSet<&String>, HashSet<&String>) =
                (current.iter().collect(), member_of.iter().collect());
            if current != read {
                return abort(StoreError::Stale);
            }
            records(write.kind).remove(id.as_bytes())?;
            // Its own members (a group).
            for m in members {
                group_members.remove(membership_key(id, &m.value))?;
                let mut of = tx_groups_of(member_groups, &m.value)?;
                of.retain(|g| g != id);
                tx_set_groups_of(member_groups, &m.value, &of)?;
            }
            // Its memberships in groups.
            for gid in member_of {
                group_members.remove(membership_key(gid, id))?;
            }
            member_groups.remove(id.as_bytes())?;
        }
    }
    for (kind, other) in &write.touch {
        let tree = records(*kind);
        if let Some(bytes) = tree.get(other.as_bytes())? {
            let mut r: Record = tx_decode(&bytes)?;
            r.version += 1;
            r.last_modified = write.revision.time;
            tree.insert(other.as_bytes(), tx_encode(&r)?)?;
        }
    }
    tx_revision(revisions, by_target, &write.revision, seq)
}
