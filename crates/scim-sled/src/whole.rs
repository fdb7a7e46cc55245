//! Whole partitions and stores: consistent exports, imports that build every index, and the
//! engine's check of its own structures (the integrity rules are the core's).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use scim_core::model::{
    ApiKey, Dump, Export, GroupDump, Index, Kind, Record, Revision, Tenant, TenantDump, TenantId,
};
use scim_core::store::StoreError;

use crate::keys::{membership_key, seq_of_target_key, target_key, webhook_key};
use crate::record::{decode_member, decode_record, encode_member, encode_record};
use crate::view::{after_prefix, tenant_prefix, View};
use crate::{decode, encode, storage, Feed, Part, SledStore, SHARED};

impl SledStore {
    /// A consistent copy of one partition, with its tenant's keys.
    pub(crate) fn export_part(&self, part: &Part) -> Result<Dump, StoreError> {
        let _alone = self
            .barrier
            .write()
            .map_err(|_| StoreError::Io("write barrier poisoned".into()))?;
        self.dump_of(part)
    }

    /// One partition's copy; the caller holds writes.
    fn dump_of(&self, part: &Part) -> Result<Dump, StoreError> {
        let all = |tree: &View| -> Result<Vec<Record>, StoreError> {
            tree.iter()
                .values()
                .map(|v| decode_record(&v.map_err(storage)?))
                .collect()
        };
        let users = all(&part.users)?;
        let groups = all(&part.groups)?
            .into_iter()
            .map(|record| {
                Ok(GroupDump {
                    members: part.members_now(&record.id)?,
                    record,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        let keys = self
            .keys_now()?
            .into_iter()
            .filter(|k| k.feed().as_ref() == Some(&part.tenant))
            .collect();
        let webhooks = self
            .webhooks
            .scan_prefix(tenant_prefix(part.tenant.as_str()))
            .values()
            .map(|v| decode(&v.map_err(storage)?))
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(Dump {
            format: Dump::FORMAT,
            users,
            groups,
            keys,
            revisions: part.feed.all()?,
            webhooks,
        })
    }

    /// A consistent copy of everything.
    pub(crate) fn export_all(&self) -> Result<Export, StoreError> {
        let _alone = self
            .barrier
            .write()
            .map_err(|_| StoreError::Io("write barrier poisoned".into()))?;
        let mut tenants: Vec<Tenant> = self.tenants_now()?.values().cloned().collect();
        tenants.sort_by(|a, b| a.id.cmp(&b.id));
        let mut out = Vec::with_capacity(tenants.len());
        for tenant in tenants {
            let part = self.part(&tenant.id)?;
            out.push(TenantDump {
                dump: self.dump_of(&part)?,
                tenant,
            });
        }
        Ok(Export {
            format: Export::FORMAT,
            tenants: out,
            keys: self
                .keys_now()?
                .into_iter()
                .filter(|k| k.feed().is_none())
                .collect(),
            revisions: self.operator.all()?,
        })
    }

    /// Loads a whole copy into an empty store.
    pub(crate) fn import_all(&self, export: &Export) -> Result<(), StoreError> {
        export.may_load(
            self.tenants.is_empty()
                && self.api_keys.is_empty()
                && self.operator.revisions.is_empty(),
        )?;
        let mut last = 0;
        for t in &export.tenants {
            self.tenants
                .insert(t.tenant.id.as_str(), encode(&t.tenant)?)
                .map_err(storage)?;
            let part = self.part(&t.tenant.id)?;
            last = last.max(self.load(&part, &t.dump)?);
        }
        self.tenants_changed();
        last = last.max(self.load_feed(&self.operator, &export.revisions)?);
        self.load_keys(&export.keys, None)?;
        self.continue_after(last)?;
        self.flush_now()
    }

    /// Loads one tenant's copy into its empty partition (the tenant exists).
    pub(crate) fn import_part(&self, part: &Part, dump: &Dump) -> Result<(), StoreError> {
        dump.may_load_into(&part.tenant, part.is_empty(), &self.keys_now()?)?;
        let last = self.load(part, dump)?;
        self.continue_after(last)?;
        self.flush_now()
    }

    /// Writes a partition's records, indexes, memberships, feed and keys; returns the largest
    /// sequence number it holds.
    fn load(&self, part: &Part, dump: &Dump) -> Result<u64, StoreError> {
        let _writing = self.writing()?;
        part.census.reset();
        // Members are written here without a transaction: nothing kept before or during the
        // load holds after it.
        part.kept.forget_all();
        let loaded = self.load_all(part, dump);
        part.kept.forget_all();
        loaded
    }

    fn load_all(&self, part: &Part, dump: &Dump) -> Result<u64, StoreError> {
        let mut member_of: HashMap<&str, Vec<String>> = HashMap::new();
        for record in dump
            .users
            .iter()
            .chain(dump.groups.iter().map(|g| &g.record))
        {
            part.records(record.kind.into())
                .insert(record.id.as_bytes(), encode_record(record)?)
                .map_err(storage)?;
            for key in &record.index {
                part.index.add(key, &record.id)?;
            }
        }
        for g in &dump.groups {
            for m in &g.members {
                part.group_members
                    .insert(membership_key(&g.record.id, &m.value), encode_member(m)?)
                    .map_err(storage)?;
                member_of
                    .entry(m.value.as_str())
                    .or_default()
                    .push(g.record.id.clone());
            }
        }
        for (member, groups) in member_of {
            part.member_groups
                .insert(member.as_bytes(), encode(&groups)?)
                .map_err(storage)?;
        }
        self.load_keys(&dump.keys, Some(&part.tenant))?;
        for endpoint in &dump.webhooks {
            self.webhooks
                .insert(
                    webhook_key(part.tenant.as_str(), &endpoint.id),
                    encode(endpoint)?,
                )
                .map_err(storage)?;
        }
        self.load_feed(&part.feed, &dump.revisions)
    }

    /// Writes keys: the operator's (`tenant` none), or those of a tenant's copy loaded into
    /// `tenant`, which owns every key of it (a copy may be another tenant's, or a whole store's
    /// from before tenants, whose keys name no tenant). Into `default`, a key without a tenant
    /// keeps its meaning, as in a store that upgrades in place (a SCIM key is `default`'s, an
    /// admin key the operator's); into any other tenant it becomes the tenant's own, never the
    /// operator's.
    fn load_keys(&self, keys: &[ApiKey], tenant: Option<&TenantId>) -> Result<(), StoreError> {
        for key in keys {
            let mut key = key.clone();
            if let Some(t) = tenant {
                if key.tenant.is_some() || !t.is_default() {
                    key.tenant = Some(t.clone());
                }
            }
            self.api_keys
                .insert(key.id.as_bytes(), encode(&key)?)
                .map_err(storage)?;
        }
        self.keys_changed();
        Ok(())
    }

    /// Writes a feed; returns its largest sequence number.
    fn load_feed(&self, feed: &Feed, revisions: &[Revision]) -> Result<u64, StoreError> {
        let mut last = 0;
        for r in revisions {
            feed.revisions
                .insert(r.seq.to_be_bytes(), encode(r)?)
                .map_err(storage)?;
            for target in r.targets() {
                feed.by_target
                    .insert(target_key(&target, Some(r.seq)), &[] as &[u8])
                    .map_err(storage)?;
            }
            last = last.max(r.seq);
        }
        feed.forget_counts();
        Ok(last)
    }

    /// New sequence numbers continue after the imported ones.
    fn continue_after(&self, last: u64) -> Result<(), StoreError> {
        let mut sequence = self.sequence()?;
        loop {
            let id = self.db.generate_id().map_err(storage)?;
            sequence.handed = sequence.handed.max(id);
            if id >= last {
                return Ok(());
            }
        }
    }

    /// Checks that the engine's structures agree with its records, in every partition: every
    /// record decodes and its document is JSON (reads copy it out unparsed), every index entry
    /// belongs to a record that owns it and the reverse, memberships are recorded both ways and
    /// name existing records, every history key names an entry and every entry is under each of
    /// its targets; that every key's tenant exists; and that the shared trees hold data of
    /// existing tenants only.
    pub(crate) fn check_now(&self) -> Result<Vec<String>, StoreError> {
        let mut problems = Vec::new();
        let tenants = self.tenants_now()?;
        for key in self.keys_now()? {
            if let Some(t) = &key.tenant {
                if !tenants.contains_key(t) {
                    problems.push(format!("key {} belongs to no tenant ({t})", key.id));
                }
            }
        }
        problems.extend(check_feed(&self.operator)?);
        problems.extend(self.check_shared(&tenants)?);
        let mut ids: Vec<&TenantId> = tenants.keys().collect();
        ids.sort();
        for id in ids {
            let part = self.part(id)?;
            problems.extend(
                check_part(&part)?
                    .into_iter()
                    .map(|p| format!("tenant {id}: {p}")),
            );
        }
        Ok(problems)
    }
}

impl SledStore {
    /// Every key of the shared trees is behind the prefix of a tenant that exists, and no
    /// deletion is unfinished. Reads one key per tenant and tree: it skips from each tenant's
    /// first key to the next tenant's.
    pub(crate) fn check_shared(
        &self,
        tenants: &HashMap<TenantId, Tenant>,
    ) -> Result<Vec<String>, StoreError> {
        let mut problems = Vec::new();
        for marker in self.deleting.iter().keys() {
            let marker = marker.map_err(storage)?;
            problems.push(format!(
                "the deletion of tenant {} is unfinished",
                String::from_utf8_lossy(&marker)
            ));
        }
        for (name, tree) in self.shared.named() {
            let mut from: Vec<u8> = Vec::new();
            while let Some(entry) = tree.range(from.as_slice()..).next() {
                let (key, _) = entry.map_err(storage)?;
                let Some(end) = key.iter().position(|&b| b == 0) else {
                    problems.push(format!("{SHARED}{name}: a key names no tenant"));
                    from = key.to_vec();
                    from.push(0);
                    continue;
                };
                let tenant = String::from_utf8_lossy(&key[..end]);
                if !TenantId::parse(&tenant).is_ok_and(|t| tenants.contains_key(&t)) {
                    problems.push(format!(
                        "{SHARED}{name} holds data of tenant {tenant:?}, which does not exist"
                    ));
                }
                let Some(next) = after_prefix(&key[..=end]) else {
                    break;
                };
                from = next;
            }
        }
        Ok(problems)
    }
}

fn check_part(part: &Arc<Part>) -> Result<Vec<String>, StoreError> {
    let mut problems = Vec::new();
    let mut owned: HashSet<(Index, Vec<u8>, Vec<u8>)> = HashSet::new();
    for kind in [Kind::User, Kind::Group] {
        for v in part.records(kind).iter().values() {
            let record: Record = match decode_record(&v.map_err(storage)?) {
                Ok(r) => r,
                Err(e) => {
                    problems.push(format!("a {} record does not decode: {e}", kind.name()));
                    continue;
                }
            };
            // A read copies the document's text out without parsing it: the check parses it.
            if serde_json::from_str::<serde::de::IgnoredAny>(record.doc.text()).is_err() {
                problems.push(format!(
                    "{} {}: its document is not JSON",
                    kind.name(),
                    record.id
                ));
            }
            for key in &record.index {
                // A bucket that does not decode is a problem to report, not a reason to stop.
                match part.index.ids(key) {
                    Ok(ids) if ids.contains(&record.id) => {}
                    Ok(_) => problems.push(format!(
                        "{} {}: index entry {key:?} missing",
                        kind.name(),
                        record.id
                    )),
                    Err(e) => problems.push(format!(
                        "{} {}: index entry {key:?} unreadable: {e}",
                        kind.name(),
                        record.id
                    )),
                }
                owned.insert((
                    key.index(),
                    key.text().as_bytes().to_vec(),
                    record.id.clone().into_bytes(),
                ));
            }
        }
    }
    for entry in part.index.entries(None) {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                problems.push(format!("the index: {e}"));
                continue;
            }
        };
        if !owned.contains(&(entry.index, entry.text, entry.id.clone())) {
            problems.push(format!(
                "index entry for {} points to no record that owns it",
                String::from_utf8_lossy(&entry.id)
            ));
        }
    }
    for entry in part.group_members.iter() {
        let (k, v) = entry.map_err(storage)?;
        let text = String::from_utf8_lossy(&k).into_owned();
        let Some((g, m)) = text.split_once('\0') else {
            problems.push(format!("malformed membership key {text:?}"));
            continue;
        };
        let member = decode_member(&v)?;
        if part.groups.get(g.as_bytes()).map_err(storage)?.is_none() {
            problems.push(format!("membership of {m} in missing group {g}"));
        }
        if part
            .records(member.kind.into())
            .get(m.as_bytes())
            .map_err(storage)?
            .is_none()
        {
            problems.push(format!("group {g} has missing member {m}"));
        }
        if !part.groups_of_now(m)?.iter().any(|x| x == g) {
            problems.push(format!(
                "{m} is a member of {g}, but its group list does not say so"
            ));
        }
    }
    for entry in part.member_groups.iter() {
        let (m, groups) = entry.map_err(storage)?;
        let m = String::from_utf8_lossy(&m).into_owned();
        for g in decode::<Vec<String>>(&groups)? {
            if part
                .group_members
                .get(membership_key(&g, &m))
                .map_err(storage)?
                .is_none()
            {
                problems.push(format!("{m} lists group {g}, which does not list it"));
            }
        }
    }
    problems.extend(check_feed(&part.feed)?);
    Ok(problems)
}

/// Every history key names an entry, and every entry is under each of its targets.
fn check_feed(feed: &Feed) -> Result<Vec<String>, StoreError> {
    let mut problems = Vec::new();
    for key in feed.by_target.iter().keys() {
        let key = key.map_err(storage)?;
        if feed
            .revisions
            .get(seq_of_target_key(&key))
            .map_err(storage)?
            .is_none()
        {
            problems.push("a history entry points to a missing revision".into());
        }
    }
    for r in feed.all()? {
        for target in r.targets() {
            let k = target_key(&target, Some(r.seq));
            if !feed.by_target.contains_key(k).map_err(storage)? {
                problems.push(format!(
                    "revision {} is missing from the history of {} {}",
                    r.seq,
                    target.target_type.as_str(),
                    target.target_id
                ));
            }
        }
    }
    Ok(problems)
}
