//! Commits: what one [`Write`] does inside a sled transaction, and how concurrent writes share
//! one transaction and one flush.

use std::collections::HashSet;
use std::sync::Arc;

use scim_core::model::{ApiKey, IndexKey, Kind, Record, Revision, StoredKind, WebhookEndpoint};
use scim_core::store::{Expect, StoreError, Write, WriteOp};
use sled::transaction::{ConflictableTransactionError, TransactionError};
use sled::Transactional;

use crate::buckets::TxIndex;
use crate::keys::{membership_key, target_key, webhook_key};
use crate::members::Change;
use crate::record::{decode_record, encode_member, encode_record};
use crate::view::TxView;
use crate::{decode, encode, storage, Feed, Part, SledStore};

/// Each write's result; a write left without one (never, unless a batch's bookkeeping is wrong)
/// is answered an error rather than nothing.
fn answered(results: Vec<Option<Result<u64, StoreError>>>) -> Vec<Result<u64, StoreError>> {
    results
        .into_iter()
        .map(|r| {
            r.unwrap_or(Err(StoreError::Io(
                "a write was left out of its batch".into(),
            )))
        })
        .collect()
}

/// A write sent to the commit thread, with its partition.
pub(crate) struct Job {
    part: Arc<Part>,
    write: Write,
}

#[cfg(test)]
impl Job {
    pub(crate) fn new(part: Arc<Part>, write: Write) -> Self {
        Job { part, write }
    }
}

/// A write in its batch, with its partition and its revision's sequence number.
pub(crate) struct Pending {
    part: Arc<Part>,
    write: Write,
    seq: u64,
}

impl SledStore {
    /// Commits `write` in `part` as part of the next batch (on the commit thread); when the
    /// store is durable, returns once the batch is flushed.
    pub(crate) async fn commit(&self, part: Arc<Part>, write: Write) -> Result<u64, StoreError> {
        match self.committer.get() {
            Some(c) => c.submit(Job { part, write }).await,
            None => Err(StoreError::Io("the commit thread is not running".into())),
        }
    }

    /// [`Self::commit`] for a caller outside the runtime.
    #[cfg(test)]
    pub(crate) fn commit_now(&self, part: &Arc<Part>, write: Write) -> Result<u64, StoreError> {
        match self.committer.get() {
            Some(c) => c.submit_blocking(Job {
                part: Arc::clone(part),
                write,
            }),
            None => Err(StoreError::Io("the commit thread is not running".into())),
        }
    }

    /// A batch, on the commit thread: with writes held (a deletion or an export waits for the
    /// batch, or the batch sees it), each write's partition checked and its sequence number
    /// reserved, then committed; a create or a delete moves its partition's count.
    pub(crate) fn commit_jobs(&self, jobs: Vec<Job>) -> Vec<Result<u64, StoreError>> {
        let _writing = match self.writing() {
            Ok(w) => w,
            Err(e) => return jobs.iter().map(|_| Err(e.clone())).collect(),
        };
        let mut results: Vec<Option<Result<u64, StoreError>>> = jobs.iter().map(|_| None).collect();
        let (mut pending, mut at, mut reserved) = (Vec::new(), Vec::new(), Vec::new());
        for (i, job) in jobs.into_iter().enumerate() {
            if let Err(e) = job.part.live() {
                results[i] = Some(Err(e));
                continue;
            }
            match self.reserve() {
                Ok(r) => {
                    let mut write = job.write;
                    write.revision.seq = r.seq;
                    pending.push(Pending {
                        part: job.part,
                        write,
                        seq: r.seq,
                    });
                    reserved.push(r);
                    at.push(i);
                }
                Err(e) => results[i] = Some(Err(e)),
            }
        }
        // A create or a delete changes the count and every position after it.
        let counts = |p: &Pending| {
            let creates = p.write.expect == Expect::Absent;
            (creates || matches!(p.write.op, WriteOp::Delete { .. })).then_some(creates)
        };
        let changing: Vec<_> = pending
            .iter()
            .filter(|p| counts(p).is_some())
            .map(|p| p.part.census.changing())
            .collect();
        // The groups whose members each write changes are marked written until its outcome is
        // known: the members kept in memory then move with it, in the batch's order.
        for p in &pending {
            for (group, _) in member_writes(&p.write) {
                p.part.kept.begin(group);
            }
        }
        let outcomes = self.commit_batch(&pending);
        for ((p, outcome), i) in pending.iter().zip(outcomes).zip(at) {
            for (group, change) in member_writes(&p.write) {
                p.part.kept.end(group, change.filter(|_| outcome.is_ok()));
            }
            if let (Ok(_), Some(creates)) = (&outcome, counts(p)) {
                p.part.census.adjust(p.write.kind, creates);
            }
            results[i] = Some(outcome);
        }
        drop(changing);
        drop(reserved);
        answered(results)
    }

    /// Commits a batch of writes in one transaction, then, when the store is durable, flushes
    /// it: the commit thread holds the batch open while it flushes, so writers that arrive
    /// meanwhile gather into the next batch (group commit). If any write is refused, the batch
    /// is abandoned (nothing of it is written) and each write is committed on its own, so that
    /// each gets exactly the answer it would have had alone.
    fn commit_batch(&self, batch: &[Pending]) -> Vec<Result<u64, StoreError>> {
        let mut results = self.commit_all(batch);
        if self.durable && results.iter().any(Result::is_ok) {
            if let Err(e) = self.flush_now() {
                for r in results.iter_mut().filter(|r| r.is_ok()) {
                    *r = Err(e.clone());
                }
            }
        }
        results
    }

    /// Commits the writes of each partition in one transaction (a transaction spans one
    /// partition's trees); a refused write sends its partition's writes one by one.
    fn commit_all(&self, batch: &[Pending]) -> Vec<Result<u64, StoreError>> {
        let mut results: Vec<Option<Result<u64, StoreError>>> =
            batch.iter().map(|_| None).collect();
        let mut left: Vec<usize> = (0..batch.len()).collect();
        while let Some(&first) = left.first() {
            let (same, rest): (Vec<usize>, Vec<usize>) = left
                .iter()
                .partition(|&&i| Arc::ptr_eq(&batch[i].part, &batch[first].part));
            left = rest;
            let group: Vec<&Pending> = same.iter().map(|&i| &batch[i]).collect();
            if group.len() > 1 && self.transact(&group).is_ok() {
                for &i in &same {
                    results[i] = Some(Ok(batch[i].seq));
                }
                continue;
            }
            for &i in &same {
                results[i] = Some(self.transact(&[&batch[i]]).map(|()| batch[i].seq));
            }
        }
        answered(results)
    }

    /// Runs writes of one partition in one sled transaction over its trees.
    fn transact(&self, batch: &[&Pending]) -> Result<(), StoreError> {
        let Some(first) = batch.first() else {
            return Ok(());
        };
        let part = &first.part;
        let trees = (
            part.users.tree(),
            part.groups.tree(),
            part.index.view.tree(),
            part.group_members.tree(),
            part.member_groups.tree(),
            part.feed.revisions.tree(),
            part.feed.by_target.tree(),
        );
        trees
            .transaction(
                |(users, groups, index, members, member_of, revisions, by_target)| {
                    let tx = TxPart {
                        users: part.users.tx(users),
                        groups: part.groups.tx(groups),
                        index: part.index.tx(index),
                        group_members: part.group_members.tx(members),
                        member_groups: part.member_groups.tx(member_of),
                        revisions: part.feed.revisions.tx(revisions),
                        by_target: part.feed.by_target.tx(by_target),
                    };
                    for p in batch {
                        apply(&tx, &p.write, p.seq)?;
                    }
                    Ok(())
                },
            )
            .map_err(|e| self.note_failure(tx_error(e)))
    }

    /// The feed of a tenant, or the operator's.
    pub(crate) fn feed_of(
        &self,
        tenant: Option<&scim_core::model::TenantId>,
    ) -> Result<Feed, StoreError> {
        match tenant {
            Some(t) => Ok(self.part(t)?.feed.clone()),
            None => Ok(self.operator.clone()),
        }
    }

    /// Writes one entry of a shared tree (a key, a tenant) with its revision entry in `feed`,
    /// atomically, then flushes.
    pub(crate) fn put_shared(
        &self,
        tree: &sled::Tree,
        id: &str,
        value: &[u8],
        feed: &Feed,
        revision: &Revision,
    ) -> Result<u64, StoreError> {
        let _writing = self.writing()?;
        let reserved = self.reserve()?;
        let seq = reserved.seq;
        (tree, feed.revisions.tree(), feed.by_target.tree())
            .transaction(|(tree, revisions, by_target)| {
                tree.insert(id.as_bytes(), value)?;
                tx_revision(
                    &feed.revisions.tx(revisions),
                    &feed.by_target.tx(by_target),
                    revision,
                    seq,
                )?;
                Ok(())
            })
            .map_err(|e| self.note_failure(tx_error(e)))?;
        drop(reserved);
        self.flush_now()?;
        Ok(seq)
    }

    /// Creates or updates a tenant's webhook endpoint with its revision entry in the tenant's
    /// feed, atomically, then flushes.
    pub(crate) fn put_webhook_now(
        &self,
        tenant: &scim_core::model::TenantId,
        endpoint: &WebhookEndpoint,
        revision: &Revision,
    ) -> Result<u64, StoreError> {
        let feed = self.feed_of(Some(tenant))?;
        let key = webhook_key(tenant.as_str(), &endpoint.id);
        self.put_shared(&self.webhooks, &key, &encode(endpoint)?, &feed, revision)
    }

    /// Creates or updates a key with its revision entry (in its tenant's feed, or the
    /// operator's), atomically, then flushes.
    pub(crate) fn put_key_now(&self, key: &ApiKey, revision: &Revision) -> Result<u64, StoreError> {
        let feed = self.feed_of(key.feed().as_ref())?;
        let seq = self.put_shared(&self.api_keys, &key.id, &encode(key)?, &feed, revision);
        self.keys_changed();
        seq
    }
}

pub(crate) type TxResult<T> = Result<T, ConflictableTransactionError<StoreError>>;

/// The groups whose members or version `write` changes, each with what the change does to them
/// when it commits, as [`apply`] does it (none when what was kept of the group cannot hold after
/// it: the group is created or deleted, or its members and its version do not move together).
fn member_writes(write: &Write) -> Vec<(&str, Option<Change<'_>>)> {
    let created = write.expect == Expect::Absent;
    let mut groups = match &write.op {
        WriteOp::Put { record, members } if write.kind == Kind::Group => {
            let change = match members {
                Some(change) => Change::Moved(change, record.version),
                None => Change::Kept(record.version),
            };
            vec![(write.id.as_str(), (!created).then_some(change))]
        }
        WriteOp::Put { .. } => Vec::new(),
        WriteOp::Delete { member_of, .. } => {
            // A group the deleted resource leaves moves one version if it is touched.
            let mut groups: Vec<_> = member_of
                .iter()
                .map(|g| {
                    let touched = write.touch.iter().any(|(k, t)| *k == Kind::Group && t == g);
                    (
                        g.as_str(),
                        touched.then_some(Change::Left(write.id.as_str())),
                    )
                })
                .collect();
            if write.kind == Kind::Group {
                groups.push((write.id.as_str(), None));
            }
            groups
        }
    };
    // Any other group touched moves a version without a change seen here.
    for (kind, g) in &write.touch {
        if *kind == Kind::Group && !groups.iter().any(|(x, _)| x == g) {
            groups.push((g.as_str(), None));
        }
    }
    groups
}

fn abort<T>(e: StoreError) -> TxResult<T> {
    Err(ConflictableTransactionError::Abort(e))
}

fn tx_decode<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> TxResult<T> {
    decode(bytes).or_else(abort)
}

fn tx_encode<T: serde::Serialize>(value: &T) -> TxResult<Vec<u8>> {
    encode(value).or_else(abort)
}

pub(crate) fn tx_error(e: TransactionError<StoreError>) -> StoreError {
    match e {
        TransactionError::Abort(e) => e,
        TransactionError::Storage(e) => storage(e),
    }
}

/// Reads a member's list of groups inside a transaction.
fn tx_groups_of(member_groups: &TxView, member_id: &str) -> TxResult<Vec<String>> {
    match member_groups.get(member_id.as_bytes())? {
        Some(bytes) => tx_decode(&bytes),
        None => Ok(Vec::new()),
    }
}

fn tx_set_groups_of(member_groups: &TxView, member_id: &str, groups: &[String]) -> TxResult<()> {
    if groups.is_empty() {
        member_groups.remove(member_id.as_bytes())?;
    } else {
        member_groups.insert(member_id.as_bytes(), tx_encode(&groups)?)?;
    }
    Ok(())
}

/// Writes a revision entry with its reserved sequence number, and its per-target keys.
pub(crate) fn tx_revision(
    revisions: &TxView,
    by_target: &TxView,
    revision: &Revision,
    seq: u64,
) -> TxResult<()> {
    // A write's revision is numbered when its batch is made (no copy of its event here).
    let entry = if revision.seq == seq {
        std::borrow::Cow::Borrowed(revision)
    } else {
        let mut numbered = revision.clone();
        numbered.seq = seq;
        std::borrow::Cow::Owned(numbered)
    };
    revisions.insert(seq.to_be_bytes(), tx_encode(&*entry)?)?;
    for target in entry.targets() {
        by_target.insert(target_key(&target, Some(seq)), &[] as &[u8])?;
    }
    Ok(())
}

/// A partition, as its transaction sees it.
struct TxPart<'t> {
    users: TxView<'t>,
    groups: TxView<'t>,
    index: TxIndex<'t>,
    group_members: TxView<'t>,
    member_groups: TxView<'t>,
    revisions: TxView<'t>,
    by_target: TxView<'t>,
}

/// One write inside a transaction: the record, its index entries, its memberships, the records
/// it moves to a new version, and its revision entry. Any refusal (stale, taken, missing member)
/// aborts the whole transaction.
fn apply(part: &TxPart, write: &Write, seq: u64) -> TxResult<()> {
    let TxPart {
        users,
        groups,
        index,
        group_members,
        member_groups,
        revisions,
        by_target,
    } = part;
    let records = |kind: Kind| match kind {
        Kind::User => users,
        Kind::Group => groups,
    };
    let id = write.id.as_str();
    let old: Option<Record> = match records(write.kind).get(id.as_bytes())? {
        Some(bytes) => Some(decode_record(&bytes).or_else(abort)?),
        None => None,
    };
    match (&old, write.expect) {
        (Some(_), Expect::Absent) => return abort(StoreError::Exists),
        (None, Expect::Version(_)) => return abort(StoreError::Missing),
        (Some(old), Expect::Version(v)) if old.version != v => return abort(StoreError::Stale),
        _ => {}
    }
    // An index entry the write keeps is left as it is: most changes keep every one of them.
    // (sled itself skips a set to an unchanged value, so this spares the transaction's reads
    // and bookkeeping, not log writes: docs/performance.md measured no difference.)
    let kept = |key: &IndexKey| match (&old, &write.op) {
        (Some(old), WriteOp::Put { record, .. }) => {
            old.index.contains(key) && record.index.contains(key)
        }
        _ => false,
    };
    if let Some(old) = &old {
        for key in old.index.iter().filter(|k| !kept(k)) {
            index.remove(key, id)?.or_else(abort)?;
        }
    }
    match &write.op {
        WriteOp::Put { record, members } => {
            for key in record.index.iter().filter(|k| !kept(k)) {
                if key.is_unique() {
                    if let Some(owner) = index.owner(key)?.or_else(abort)? {
                        if owner != id {
                            return abort(StoreError::Taken(key.clone()));
                        }
                    }
                }
                index.insert(key, id)?.or_else(abort)?;
            }
            records(write.kind).insert(id.as_bytes(), encode_record(record).or_else(abort)?)?;
            if let Some(change) = members {
                // Only the difference is written: a member that stays costs nothing.
                for m in &change.removed {
                    group_members.remove(membership_key(id, &m.value))?;
                    let mut of = tx_groups_of(member_groups, &m.value)?;
                    of.retain(|g| g != id);
                    tx_set_groups_of(member_groups, &m.value, &of)?;
                }
                // Staying, with a new `type` or `display`.
                for m in &change.updated {
                    group_members.insert(
                        membership_key(id, &m.value),
                        encode_member(m).or_else(abort)?,
                    )?;
                }
                for m in &change.added {
                    let exists = match m.kind {
                        StoredKind::User => users.get(m.value.as_bytes())?.is_some(),
                        StoredKind::Group => groups.get(m.value.as_bytes())?.is_some(),
                    };
                    if !exists {
                        return abort(StoreError::NoSuchMember(m.clone()));
                    }
                    group_members.insert(
                        membership_key(id, &m.value),
                        encode_member(m).or_else(abort)?,
                    )?;
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
            let mut r = decode_record(&bytes).or_else(abort)?;
            r.version += 1;
            r.last_modified = write.revision.time;
            tree.insert(other.as_bytes(), encode_record(&r).or_else(abort)?)?;
        }
    }
    tx_revision(revisions, by_target, &write.revision, seq)
}
