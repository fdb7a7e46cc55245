//! The integrity rules of a whole store, written once for every engine: checked over a
//! consistent copy ([`Dump`]). The engine checks its own structures beside them
//! ([`crate::store::Store::check`]).

use std::collections::{HashMap, HashSet};

use crate::model::{Action, Dump, IndexKey, Kind, StoredKind, TargetType};
use crate::query::index_keys;
use crate::Core;

/// What is wrong with a store's contents, in words; empty when every rule holds:
/// - every record is stored as its kind, and owns exactly the index keys its document gives;
/// - no unique index key belongs to two records;
/// - every member of a group exists, as the kind it is recorded as;
/// - the history agrees with the state: a resource that exists was created and its last entry
///   is not a delete; one whose last entry is a delete no longer exists; every resource has a
///   history.
pub fn check(dump: &Dump) -> Vec<String> {
    let mut problems = Vec::new();
    let records = dump
        .users
        .iter()
        .map(|r| (Kind::User, r))
        .chain(dump.groups.iter().map(|g| (Kind::Group, &g.record)));
    let mut exists: HashSet<(StoredKind, &str)> = HashSet::new();
    let mut owners: HashMap<&IndexKey, &str> = HashMap::new();
    for (kind, record) in records {
        if Kind::from(record.kind) != kind {
            problems.push(format!(
                "{} {} is stored as a {:?}",
                kind.name(),
                record.id,
                record.kind
            ));
        }
        exists.insert((kind.into(), record.id.as_str()));
        let wanted = index_keys(kind, &record.doc);
        if wanted != record.index {
            problems.push(format!(
                "{} {} owns index keys {:?}, but its document gives {:?}",
                kind.name(),
                record.id,
                record.index,
                wanted
            ));
        }
        for key in record.index.iter().filter(|k| k.is_unique()) {
            if let Some(other) = owners.insert(key, &record.id) {
                problems.push(format!(
                    "{} and {} share the unique index key {key:?}",
                    other, record.id
                ));
            }
        }
    }
    for g in &dump.groups {
        for m in &g.members {
            if !exists.contains(&(m.kind, m.value.as_str())) {
                problems.push(format!(
                    "group {} has missing member {} ({:?})",
                    g.record.id, m.value, m.kind
                ));
            }
        }
    }
    // The history agrees with the state.
    let mut last: HashMap<(TargetType, &str), (Action, bool)> = HashMap::new();
    for r in &dump.revisions {
        if r.target_type == TargetType::ApiKey {
            continue;
        }
        let entry = last
            .entry((r.target_type, r.target_id.as_str()))
            .or_insert((r.action, false));
        entry.1 |= r.action == Action::Create;
        entry.0 = r.action;
    }
    for ((t, id), (action, created)) in &last {
        let Some(kind) = t.kind() else { continue };
        let present = exists.contains(&(kind.into(), *id));
        if present && (*action == Action::Delete || !created) {
            problems.push(format!(
                "{} {id} exists, but its history ends with '{}' (created: {created})",
                t.as_str(),
                action.as_str()
            ));
        }
        if !present && *action != Action::Delete {
            problems.push(format!(
                "{} {id} is gone, but its history ends with '{}'",
                t.as_str(),
                action.as_str()
            ));
        }
    }
    for (kind, id) in &exists {
        if !last.contains_key(&(TargetType::from(*kind), *id)) {
            problems.push(format!(
                "{} {id} exists without any history",
                Kind::from(*kind).name()
            ));
        }
    }
    problems.sort();
    problems
}

impl Core {
    /// Checks a whole store: the engine's own structures, then every integrity rule over a
    /// consistent copy of each tenant. Returns what does not hold, each prefixed with its tenant.
    pub async fn check(&self) -> crate::Result<Vec<String>> {
        let mut problems = self.store.check().await?;
        let export = self.store.export().await?;
        for t in &export.tenants {
            problems.extend(
                check(&t.dump)
                    .into_iter()
                    .map(|p| format!("tenant {}: {p}", t.tenant.id)),
            );
        }
        for key in &export.keys {
            if key.tenant.is_some() {
                problems.push(format!("operator key {} names a tenant", key.id));
            }
        }
        Ok(problems)
    }
}
