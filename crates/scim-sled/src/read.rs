//! The [`Store`] and [`Partition`] implementations: point reads on the caller's task (a few
//! index entries and one small record, from sled's cache, cost less than a hop to the blocking
//! pool), commits on the commit thread (`batch.rs`), everything else that may scan, wait on locks
//! or on the disk on the blocking pool.

use std::collections::{BTreeSet, HashMap};
use std::ops::Bound;
use std::sync::Arc;

use async_trait::async_trait;
use scim_core::model::{
    ApiKey, Dump, Export, IndexKey, Kind, Member, Record, Revision, SharedMembers, TargetRef,
    Tenant, TenantId, WebSession, WebhookEndpoint,
};
use scim_core::query::{self, Collector, Probe};
use scim_core::store::{
    Found, HistoryPart, Lookup, Partition, Query, Selection, Store, StoreError, Write,
};
use time::OffsetDateTime;

use crate::census::STEP;
use crate::keys::{membership_key, seq_of_target_key, target_key};
use crate::members::{into_runs, Kept};
use crate::record::{decode_member, decode_record};
use crate::view::after_prefix;
use crate::{decode, storage, Feed, KeySet, Part, SledPartition, SledStore};

/// A history whose count is kept ([`Feed::history`]) once it holds this many entries: a shorter
/// one is walked each time, at a cost no page notices.
const LONG_HISTORY: usize = 256;

impl Lookup for Part {
    fn record(&self, kind: Kind, id: &str) -> Result<Option<Record>, StoreError> {
        self.get_now(kind, id)
    }
    fn members(&self, group_id: &str) -> Result<Vec<Member>, StoreError> {
        self.members_now(group_id)
    }
    fn groups_of(&self, member_id: &str) -> Result<Vec<String>, StoreError> {
        self.groups_of_now(member_id)
    }
}

impl Feed {
    /// The feed after `after`, read only below `horizon` (the oldest sequence number still in
    /// flight).
    pub(crate) fn after(
        &self,
        after: u64,
        limit: usize,
        horizon: u64,
    ) -> Result<Vec<Revision>, StoreError> {
        self.read_after(after, limit, horizon, decode)
    }

    /// The same entries as [`Feed::after`], each read without its event.
    pub(crate) fn after_without_events(
        &self,
        after: u64,
        limit: usize,
        horizon: u64,
    ) -> Result<Vec<Revision>, StoreError> {
        self.read_after(after, limit, horizon, |v| {
            Revision::decode_without_event(v).map_err(|e| StoreError::Corrupt(e.to_string()))
        })
    }

    fn read_after(
        &self,
        after: u64,
        limit: usize,
        horizon: u64,
        read: impl Fn(&[u8]) -> Result<Revision, StoreError>,
    ) -> Result<Vec<Revision>, StoreError> {
        let first = after.saturating_add(1);
        if first >= horizon {
            return Ok(Vec::new());
        }
        use std::ops::Bound::{Excluded, Included};
        let (start, end) = (first.to_be_bytes(), horizon.to_be_bytes());
        self.revisions
            .range(Included(&start), Excluded(&end))
            .values()
            .take(limit)
            .map(|v| read(&v.map_err(storage)?))
            .collect()
    }

    /// The entries of one resource's history, oldest first.
    pub(crate) fn of(&self, target: &TargetRef) -> Result<Vec<Revision>, StoreError> {
        let mut out = Vec::new();
        for key in self.by_target.scan_prefix(target_key(target, None)).keys() {
            let key = key.map_err(storage)?;
            if let Some(bytes) = self
                .revisions
                .get(seq_of_target_key(&key))
                .map_err(storage)?
            {
                out.push(decode(&bytes)?);
            }
        }
        Ok(out)
    }

    /// A page of one resource's history, newest first, each entry without its event. The
    /// history's keys are read (to count them, keeping the sequence numbers of the newest
    /// `skip + take`); only the page's entries are read and decoded.
    pub(crate) fn history(
        &self,
        target: &TargetRef,
        skip: usize,
        take: usize,
        settled: u64,
    ) -> Result<HistoryPart, StoreError> {
        let prefix = target_key(target, None);
        let seq_of = |key: &sled::IVec| -> Result<u64, StoreError> {
            <[u8; 8]>::try_from(seq_of_target_key(key))
                .map(u64::from_be_bytes)
                .map_err(|_| {
                    StoreError::Corrupt("a history key without its sequence number".into())
                })
        };
        // How many: those counted before, below the sequence number settled then, and the
        // entries from there on.
        let (generation, (before, from)) = self.counted(&prefix)?;
        let (mut total, mut below) = (before, before);
        let tail = self.by_target.range(
            Bound::Included(target_key(target, Some(from)).as_slice()),
            match after_prefix(&prefix) {
                Some(end) => Bound::Excluded(end),
                None => Bound::Unbounded,
            }
            .as_ref()
            .map(Vec::as_slice),
        );
        for key in tail.keys() {
            let seq = seq_of(&key.map_err(storage)?)?;
            total += 1;
            below += usize::from(seq < settled);
        }
        if below >= LONG_HISTORY && settled > from {
            self.count(generation, prefix.clone(), below, settled)?;
        }
        // Which: the newest `skip + take`, read from the end.
        let mut entries = Vec::with_capacity(take.min(total));
        for key in self
            .by_target
            .scan_prefix(&prefix)
            .keys()
            .rev()
            .skip(skip)
            .take(take)
        {
            let seq = seq_of(&key.map_err(storage)?)?;
            if let Some(bytes) = self.revisions.get(seq.to_be_bytes()).map_err(storage)? {
                entries.push(
                    Revision::decode_without_event(&bytes)
                        .map_err(|e| StoreError::Corrupt(e.to_string()))?,
                );
            }
        }
        Ok(HistoryPart { total, entries })
    }

    /// A history's count so far, if it is long: (entries, the sequence number they lie
    /// below); `(0, 0)` when none is kept. With the counts' generation.
    pub(crate) fn counted(&self, prefix: &[u8]) -> Result<(u64, (usize, u64)), StoreError> {
        let counted = self.counts()?;
        Ok((
            counted.generation,
            counted.long.get(prefix).copied().unwrap_or((0, 0)),
        ))
    }

    /// Keeps a long history's count, unless the counts were forgotten since it was read.
    fn count(
        &self,
        generation: u64,
        prefix: Vec<u8>,
        entries: usize,
        below: u64,
    ) -> Result<(), StoreError> {
        let mut counted = self.counts()?;
        if counted.generation == generation {
            counted.long.insert(prefix, (entries, below));
        }
        Ok(())
    }

    /// Forgets every count: entries were written other than by appending (an import).
    pub(crate) fn forget_counts(&self) {
        if let Ok(mut counted) = self.counted.lock() {
            counted.generation += 1;
            counted.long.clear();
        }
    }

    fn counts(&self) -> Result<std::sync::MutexGuard<'_, crate::Counted>, StoreError> {
        self.counted
            .lock()
            .map_err(|_| StoreError::Io("history counts poisoned".into()))
    }

    /// Every entry, oldest first.
    pub(crate) fn all(&self) -> Result<Vec<Revision>, StoreError> {
        self.revisions
            .iter()
            .values()
            .map(|v| decode(&v.map_err(storage)?))
            .collect()
    }
}

impl Part {
    pub(crate) fn get_now(&self, kind: Kind, id: &str) -> Result<Option<Record>, StoreError> {
        match self.records(kind).get(id.as_bytes()).map_err(storage)? {
            Some(bytes) => Ok(Some(decode_record(&bytes)?)),
            None => Ok(None),
        }
    }

    /// A group's members at `version` (of its record, as the reader read it), shared with
    /// those kept in memory for a large group, else a walk of its keys (offered to be kept).
    pub(crate) fn members_shared_now(
        &self,
        group_id: &str,
        version: u64,
    ) -> Result<SharedMembers, StoreError> {
        let ticket = match self.kept.get(group_id, version) {
            Kept::Hit(members) => return Ok(members),
            Kept::Miss(ticket) => ticket,
        };
        let runs = into_runs(self.members_now(group_id)?);
        self.kept.offer(group_id, ticket, version, &runs);
        Ok(SharedMembers::from_runs(runs))
    }

    /// A group's members as `group_members` holds them, walked.
    pub(crate) fn members_now(&self, group_id: &str) -> Result<Vec<Member>, StoreError> {
        let mut prefix = group_id.as_bytes().to_vec();
        prefix.push(0);
        self.group_members
            .scan_prefix(prefix)
            .values()
            .map(|v| decode_member(&v.map_err(storage)?))
            .collect()
    }

    /// The groups of each of `member_ids` (an id in none is left out). A list page in id order
    /// asks for its ids in order, and they sit side by side in `member_groups` too: one walk over
    /// their run costs less than a lookup each. The walk gives way to lookups, for the ids it has
    /// not reached, once it has met more keys nobody asked for than ids were asked for (a page
    /// of a filter, whose users lie far apart).
    pub(crate) fn groups_of_each_now(
        &self,
        member_ids: &[String],
    ) -> Result<HashMap<String, Vec<String>>, StoreError> {
        use std::ops::Bound::Included;
        let mut out = HashMap::new();
        let mut rest = member_ids;
        if let (Some(first), Some(last), true) = (
            member_ids.first(),
            member_ids.last(),
            member_ids.len() > 1 && member_ids.windows(2).all(|w| w[0] < w[1]),
        ) {
            let mut strays = 0;
            let mut whole = true;
            for entry in self
                .member_groups
                .range(Included(first.as_bytes()), Included(last.as_bytes()))
            {
                let (key, value) = entry.map_err(storage)?;
                // The ids before this key are in no group.
                while rest.first().is_some_and(|id| id.as_bytes() < &key[..]) {
                    rest = &rest[1..];
                }
                match rest.first() {
                    Some(id) if id.as_bytes() == &key[..] => {
                        out.insert(id.clone(), decode(&value)?);
                        rest = &rest[1..];
                    }
                    _ => {
                        strays += 1;
                        if strays > member_ids.len() {
                            whole = false;
                            break;
                        }
                    }
                }
            }
            if whole {
                return Ok(out);
            }
        }
        for id in rest {
            let groups = self.groups_of_now(id)?;
            if !groups.is_empty() {
                out.insert(id.clone(), groups);
            }
        }
        Ok(out)
    }

    pub(crate) fn groups_of_now(&self, member_id: &str) -> Result<Vec<String>, StoreError> {
        match self
            .member_groups
            .get(member_id.as_bytes())
            .map_err(storage)?
        {
            Some(bytes) => decode(&bytes),
            None => Ok(Vec::new()),
        }
    }

    /// Whether it holds no record and no revision.
    pub(crate) fn is_empty(&self) -> bool {
        [&self.users, &self.groups, &self.feed.revisions]
            .iter()
            .all(|t| t.is_empty())
    }

    /// The ids an index entry points to.
    pub(crate) fn lookup_now(&self, key: &IndexKey) -> Result<Vec<String>, StoreError> {
        self.index.ids(key)
    }

    /// The ids index probes find, in id order, once each.
    fn probe(&self, probes: &[Probe]) -> Result<BTreeSet<String>, StoreError> {
        let mut ids = BTreeSet::new();
        for probe in probes {
            match probe {
                Probe::Id(id) => {
                    ids.insert(id.clone());
                }
                Probe::Equal(key) => ids.extend(self.lookup_now(key)?),
                Probe::Matching(index, op, value) => {
                    for entry in self.index.entries(Some(*index)) {
                        let entry = entry?;
                        let text = String::from_utf8_lossy(&entry.text);
                        if query::index_text_matches(&text, *op, value) {
                            ids.insert(String::from_utf8_lossy(&entry.id).into_owned());
                        }
                    }
                }
            }
        }
        Ok(ids)
    }

    /// Answers a query: every record of a kind through the census (count and page without
    /// reading the rest), or the candidates of index probes (else a scan) through the matcher.
    fn query_now(&self, store: &SledStore, q: &Query) -> Result<Found, StoreError> {
        let (matcher, probes) = match &q.selection {
            Selection::All => {
                return Ok(Found {
                    total: self.count(store, q.kind)?,
                    records: self.page(q.kind, q.skip, q.take)?,
                })
            }
            Selection::Matching { matcher, probes } => (matcher, probes),
        };
        let mut collector = Collector::probed(matcher, probes.as_deref());
        match probes {
            Some(probes) => {
                for id in self.probe(probes)? {
                    if let Some(record) = self.get_now(q.kind, &id)? {
                        collector.offer(record, self)?;
                    }
                }
            }
            None => {
                for v in self.records(q.kind).iter().values() {
                    collector.offer(decode_record(&v.map_err(storage)?)?, self)?;
                }
            }
        }
        collector.finish(q.skip, q.take, self)
    }

    /// How many records of a kind there are: counted once with writes held (as an export holds
    /// them), then kept by each commit.
    fn count(&self, store: &SledStore, kind: Kind) -> Result<usize, StoreError> {
        if let Some(n) = self.census.count(kind) {
            return Ok(n);
        }
        let _alone = store
            .barrier
            .write()
            .map_err(|_| StoreError::Io("write barrier poisoned".into()))?;
        if let Some(n) = self.census.count(kind) {
            return Ok(n);
        }
        let n = self.records(kind).len();
        self.census.set_count(kind, n);
        Ok(n)
    }

    /// Records of a kind in id order, skipping `skip`, at most `take`: from the nearest remembered
    /// position when nothing was created or deleted since.
    fn page(&self, kind: Kind, skip: usize, take: usize) -> Result<Vec<Record>, StoreError> {
        use std::ops::Bound::{Excluded, Unbounded};
        let tree = self.records(kind);
        let began = self.census.stable();
        let (mut walk, mut at) = match self.census.nearest(kind, skip).filter(|_| skip > 0) {
            Some((at, after)) => (tree.range(Excluded(after.as_slice()), Unbounded), at),
            None => (tree.iter(), 0),
        };
        while at < skip {
            let Some(entry) = walk.next() else { break };
            let (key, _) = entry.map_err(storage)?;
            at += 1;
            // Every STEPth position passed, and this page's start (asked again, it resumes).
            if let (Some(began), true) = (began, at % STEP == 0 || at == skip) {
                self.census.remember(kind, at, began, key.to_vec());
            }
        }
        let mut out = Vec::with_capacity(take.min(1024));
        let mut last = None;
        for entry in walk.by_ref().take(take) {
            let (key, value) = entry.map_err(storage)?;
            out.push(decode_record(&value)?);
            last = Some(key);
        }
        if let (Some(began), Some(last)) = (began, last) {
            self.census
                .remember(kind, skip + out.len(), began, last.to_vec());
        }
        Ok(out)
    }
}

impl SledStore {
    fn sessions_map(
        &self,
    ) -> Result<std::sync::MutexGuard<'_, HashMap<String, WebSession>>, StoreError> {
        self.sessions
            .lock()
            .map_err(|_| StoreError::Io("the session table is poisoned".into()))
    }

    pub(crate) fn keys_now(&self) -> Result<Vec<ApiKey>, StoreError> {
        Ok(self.key_set()?.all.clone())
    }

    pub(crate) fn key_by_digest_now(&self, digest: &str) -> Result<Option<ApiKey>, StoreError> {
        let set = self.key_set()?;
        Ok(set.by_digest.get(digest).map(|&i| set.all[i].clone()))
    }

    /// The keys, from the cache while no key was written since it was filled.
    fn key_set(&self) -> Result<Arc<KeySet>, StoreError> {
        use std::sync::atomic::Ordering;
        let generation = self.keys_generation.load(Ordering::SeqCst);
        if let Ok(cache) = self.keys_cache.lock() {
            if let Some((g, set)) = cache.as_ref() {
                if *g == generation {
                    return Ok(Arc::clone(set));
                }
            }
        }
        let all: Vec<ApiKey> = self
            .api_keys
            .iter()
            .values()
            .map(|v| decode(&v.map_err(storage)?))
            .collect::<Result<_, _>>()?;
        let by_digest = all
            .iter()
            .enumerate()
            .map(|(i, k)| (k.digest.clone(), i))
            .collect();
        let set = Arc::new(KeySet { all, by_digest });
        if let Ok(mut cache) = self.keys_cache.lock() {
            // Kept only if no key was written since this read began.
            if self.keys_generation.load(Ordering::SeqCst) == generation {
                *cache = Some((generation, Arc::clone(&set)));
            }
        }
        Ok(set)
    }

    fn touch_key_now(&self, id: &str, when: OffsetDateTime) -> Result<(), StoreError> {
        let _writing = self.writing()?;
        self.api_keys
            .update_and_fetch(id.as_bytes(), |old| {
                let mut key: ApiKey = serde_json::from_slice(old?).ok()?;
                key.last_used = Some(when);
                serde_json::to_vec(&key).ok()
            })
            .map_err(storage)?;
        self.keys_changed();
        Ok(())
    }

    /// The tenants, decoded and kept until a tenant write.
    pub(crate) fn tenants_now(&self) -> Result<Arc<HashMap<TenantId, Tenant>>, StoreError> {
        if let Ok(cache) = self.tenants_cache.read() {
            if let Some(all) = cache.as_ref() {
                return Ok(Arc::clone(all));
            }
        }
        let mut cache = self
            .tenants_cache
            .write()
            .map_err(|_| StoreError::Io("tenant cache poisoned".into()))?;
        if let Some(all) = cache.as_ref() {
            return Ok(Arc::clone(all));
        }
        let all: HashMap<TenantId, Tenant> = self
            .tenants
            .iter()
            .values()
            .map(|v| decode::<Tenant>(&v.map_err(storage)?).map(|t| (t.id.clone(), t)))
            .collect::<Result<_, _>>()?;
        let all = Arc::new(all);
        *cache = Some(Arc::clone(&all));
        Ok(all)
    }
}

#[async_trait]
impl Partition for SledPartition {
    async fn get(&self, kind: Kind, id: &str) -> Result<Option<Record>, StoreError> {
        self.part.live()?.get_now(kind, id)
    }

    async fn members(&self, group_id: &str) -> Result<Vec<Member>, StoreError> {
        let (part, id) = (Arc::clone(self.part.live()?), group_id.to_string());
        self.store.blocking(move |_| part.members_now(&id)).await
    }

    async fn members_shared(
        &self,
        group_id: &str,
        version: u64,
    ) -> Result<SharedMembers, StoreError> {
        let (part, id) = (Arc::clone(self.part.live()?), group_id.to_string());
        self.store
            .blocking(move |_| part.members_shared_now(&id, version))
            .await
    }

    async fn members_among(
        &self,
        group_id: &str,
        member_ids: &[&str],
    ) -> Result<Vec<Member>, StoreError> {
        let part = self.part.live()?;
        let mut found = Vec::new();
        for member in member_ids {
            if let Some(v) = part
                .group_members
                .get(membership_key(group_id, member))
                .map_err(storage)?
            {
                found.push(decode_member(&v)?);
            }
        }
        Ok(found)
    }

    async fn groups_of(&self, member_id: &str) -> Result<Vec<String>, StoreError> {
        self.part.live()?.groups_of_now(member_id)
    }

    async fn groups_of_each(
        &self,
        member_ids: &[String],
    ) -> Result<HashMap<String, Vec<String>>, StoreError> {
        self.part.live()?.groups_of_each_now(member_ids)
    }

    async fn lookup(&self, key: &IndexKey) -> Result<Vec<String>, StoreError> {
        self.part.live()?.lookup_now(key)
    }

    async fn query(&self, q: Query) -> Result<Found, StoreError> {
        let point = matches!(&q.selection, Selection::Matching { probes: Some(p), matcher }
            if query::is_point(p) && !matcher.needs_related());
        if point {
            self.part.live()?.query_now(&self.store, &q)
        } else {
            let part = Arc::clone(self.part.live()?);
            self.store.blocking(move |s| part.query_now(&s, &q)).await
        }
    }

    async fn commit(&self, write: Write) -> Result<(), StoreError> {
        let part = Arc::clone(self.part.live()?);
        self.store.commit(part, write).await.map(drop)
    }

    async fn revisions(&self, after: u64, limit: usize) -> Result<Vec<Revision>, StoreError> {
        let part = Arc::clone(self.part.live()?);
        self.store
            .blocking(move |s| part.feed.after(after, limit, s.horizon()?))
            .await
    }

    async fn revisions_without_events(
        &self,
        after: u64,
        limit: usize,
    ) -> Result<Vec<Revision>, StoreError> {
        let part = Arc::clone(self.part.live()?);
        self.store
            .blocking(move |s| part.feed.after_without_events(after, limit, s.horizon()?))
            .await
    }

    async fn revisions_of(&self, target: &TargetRef) -> Result<Vec<Revision>, StoreError> {
        let (part, target) = (Arc::clone(self.part.live()?), target.clone());
        self.store.blocking(move |_| part.feed.of(&target)).await
    }

    async fn history(
        &self,
        target: &TargetRef,
        skip: usize,
        take: usize,
    ) -> Result<HistoryPart, StoreError> {
        let (part, target) = (Arc::clone(self.part.live()?), target.clone());
        self.store
            .blocking(move |s| part.feed.history(&target, skip, take, s.settled()?))
            .await
    }

    async fn export(&self) -> Result<Dump, StoreError> {
        let part = Arc::clone(self.part.live()?);
        self.store.blocking(move |s| s.export_part(&part)).await
    }

    async fn import(&self, dump: Dump) -> Result<(), StoreError> {
        let part = Arc::clone(self.part.live()?);
        self.store
            .blocking(move |s| s.import_part(&part, &dump))
            .await
    }
}

#[async_trait]
impl Store for SledStore {
    fn partition(&self, tenant: &TenantId) -> Result<Arc<dyn Partition>, StoreError> {
        Ok(Arc::new(self.partition_of(tenant)?))
    }

    async fn tenants(&self) -> Result<Vec<Tenant>, StoreError> {
        Ok(self.tenants_now()?.values().cloned().collect())
    }

    async fn tenant(&self, id: &TenantId) -> Result<Option<Tenant>, StoreError> {
        Ok(self.tenants_now()?.get(id).cloned())
    }

    async fn put_tenant(&self, tenant: Tenant, revision: Revision) -> Result<(), StoreError> {
        self.blocking(move |s| s.put_tenant_now(&tenant, &revision).map(drop))
            .await
    }

    async fn delete_tenant(&self, id: &TenantId, revision: Revision) -> Result<(), StoreError> {
        let id = id.clone();
        self.blocking(move |s| s.delete_tenant_now(&id, &revision).map(drop))
            .await
    }

    async fn keys(&self) -> Result<Vec<ApiKey>, StoreError> {
        self.keys_now()
    }

    async fn key_by_digest(&self, digest: &str) -> Result<Option<ApiKey>, StoreError> {
        self.key_by_digest_now(digest)
    }

    async fn put_key(&self, key: ApiKey, revision: Revision) -> Result<(), StoreError> {
        self.blocking(move |s| s.put_key_now(&key, &revision).map(drop))
            .await
    }

    async fn touch_key(&self, id: &str, when: OffsetDateTime) -> Result<(), StoreError> {
        self.touch_key_now(id, when)
    }

    async fn webhooks(&self, tenant: &TenantId) -> Result<Vec<WebhookEndpoint>, StoreError> {
        self.webhooks
            .scan_prefix(crate::view::tenant_prefix(tenant.as_str()))
            .values()
            .map(|v| decode(&v.map_err(storage)?))
            .collect()
    }

    async fn put_webhook(
        &self,
        tenant: &TenantId,
        endpoint: WebhookEndpoint,
        revision: Revision,
    ) -> Result<(), StoreError> {
        let tenant = tenant.clone();
        self.blocking(move |s| s.put_webhook_now(&tenant, &endpoint, &revision).map(drop))
            .await
    }

    async fn delivery(
        &self,
        tenant: &TenantId,
        endpoint: &str,
    ) -> Result<Option<scim_core::delivery::Delivery>, StoreError> {
        let key = crate::keys::webhook_key(tenant.as_str(), endpoint);
        match self.deliveries.get(key).map_err(storage)? {
            Some(v) => decode(&v).map(Some),
            None => Ok(None),
        }
    }

    async fn put_delivery(
        &self,
        tenant: &TenantId,
        endpoint: &str,
        delivery: &scim_core::delivery::Delivery,
    ) -> Result<(), StoreError> {
        let key = crate::keys::webhook_key(tenant.as_str(), endpoint);
        let bytes = crate::encode(delivery)?;
        self.deliveries
            .insert(key, bytes)
            .map(drop)
            .map_err(|e| self.note_failure(storage(e)))
    }

    async fn put_session(&self, session: WebSession) -> Result<(), StoreError> {
        self.sessions_map()?.insert(session.digest.clone(), session);
        Ok(())
    }

    async fn session(&self, digest: &str) -> Result<Option<WebSession>, StoreError> {
        Ok(self.sessions_map()?.get(digest).cloned())
    }

    async fn delete_session(&self, digest: &str) -> Result<(), StoreError> {
        self.sessions_map()?.remove(digest);
        Ok(())
    }

    async fn prune_sessions(
        &self,
        seen_before: OffsetDateTime,
        opened_before: OffsetDateTime,
        keep: usize,
    ) -> Result<(), StoreError> {
        let mut map = self.sessions_map()?;
        map.retain(|_, s| s.seen >= seen_before && s.opened >= opened_before);
        while map.len() > keep {
            let Some(oldest) = map
                .values()
                .min_by_key(|s| s.seen)
                .map(|s| s.digest.clone())
            else {
                break;
            };
            map.remove(&oldest);
        }
        Ok(())
    }

    async fn operator_revisions(
        &self,
        after: u64,
        limit: usize,
    ) -> Result<Vec<Revision>, StoreError> {
        self.blocking(move |s| s.operator.after(after, limit, s.horizon()?))
            .await
    }

    async fn export(&self) -> Result<Export, StoreError> {
        self.blocking(|s| s.export_all()).await
    }

    async fn import(&self, export: Export) -> Result<(), StoreError> {
        self.blocking(move |s| s.import_all(&export)).await
    }

    async fn check(&self) -> Result<Vec<String>, StoreError> {
        self.blocking(|s| s.check_now()).await
    }

    async fn flush(&self) -> Result<(), StoreError> {
        self.blocking(|s| s.flush_now()).await
    }

    fn size_on_disk(&self) -> u64 {
        self.db.size_on_disk().unwrap_or(0)
    }

    fn commit_counts(&self) -> Option<scim_core::store::CommitCounts> {
        let (batches, writes) = self.committer.get()?.counts();
        Some(scim_core::store::CommitCounts { batches, writes })
    }

    fn failure(&self) -> Option<String> {
        self.failed.lock().ok().and_then(|f| f.clone())
    }
}
