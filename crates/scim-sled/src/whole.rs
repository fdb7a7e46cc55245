//! The whole store at once: a consistent export, an import that builds every index, and the
//! engine's check of its own structures (the integrity rules are the core's).

use std::collections::{HashMap, HashSet};

use scim_core::model::{Dump, GroupDump, Kind, Member, Record, Revision};
use scim_core::store::StoreError;
use sled::Tree;

use crate::keys::{index_key, membership_key, seq_of_target_key, target_key};
use crate::{decode, encode, storage, SledStore};

impl SledStore {
    pub(crate) fn export_now(&self) -> Result<Dump, StoreError> {
        let _alone = self
            .barrier
            .write()
            .map_err(|_| StoreError::Io("write barrier poisoned".into()))?;
        let all = |tree: &Tree| -> Result<Vec<Record>, StoreError> {
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
                    members: self.members_now(&record.id)?,
                    record,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        let revisions = self
            .revisions
            .iter()
            .values()
            .map(|v| decode(&v.map_err(storage)?))
            .collect::<Result<Vec<Revision>, StoreError>>()?;
        let keys = self
            .api_keys
            .iter()
            .values()
            .map(|v| decode(&v.map_err(storage)?))
            .collect::<Result<_, StoreError>>()?;
        Ok(Dump {
            format: Dump::FORMAT,
            users,
            groups,
            keys,
            revisions,
        })
    }

    pub(crate) fn import_now(&self, dump: &Dump) -> Result<(), StoreError> {
        if dump.format != Dump::FORMAT {
            return Err(StoreError::Refused(format!(
                "unknown dump format {}",
                dump.format
            )));
        }
        let empty = [&self.users, &self.groups, &self.api_keys, &self.revisions]
            .iter()
            .all(|t| t.is_empty());
        if !empty {
            return Err(StoreError::Refused("import needs an empty store".into()));
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
            for target in r.targets() {
                self.revisions_by_target
                    .insert(target_key(&target, Some(r.seq)), &[] as &[u8])
                    .map_err(storage)?;
            }
            last = last.max(r.seq);
        }
        self.keys_changed();
        // New sequence numbers continue after the imported ones.
        while self.db.generate_id().map_err(storage)? < last {}
        self.flush_now()
    }

    /// Checks that the engine's structures agree with its records: every index entry belongs to
    /// a record that owns it and the reverse, memberships are recorded both ways and name
    /// existing records, and every history key names an entry (and every entry is under each of
    /// its targets).
    pub(crate) fn check_now(&self) -> Result<Vec<String>, StoreError> {
        let mut problems = Vec::new();
        let mut owned: HashSet<Vec<u8>> = HashSet::new();
        for kind in [Kind::User, Kind::Group] {
            for v in self.records(kind).iter().values() {
                let record: Record = match decode(&v.map_err(storage)?) {
                    Ok(r) => r,
                    Err(e) => {
                        problems.push(format!("a {} record does not decode: {e}", kind.name()));
                        continue;
                    }
                };
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
            if !self.groups_of_now(m)?.iter().any(|x| x == g) {
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
            if self
                .revisions
                .get(seq_of_target_key(&key))
                .map_err(storage)?
                .is_none()
            {
                problems.push("a history entry points to a missing revision".into());
            }
        }
        for v in self.revisions.iter().values() {
            let r: Revision = decode(&v.map_err(storage)?)?;
            for target in r.targets() {
                let k = target_key(&target, Some(r.seq));
                if !self.revisions_by_target.contains_key(k).map_err(storage)? {
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
}
