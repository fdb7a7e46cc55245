//! Tenants: creating and deleting them, and moving a store whose tenants had trees of their own
//! into the shared trees.
//!
//! Every tenant but `default` keeps its data in the shared trees (`tenants/users`, …), each key
//! behind its prefix ([`tenant_prefix`]), so that making a tenant makes no tree. (sled 0.34 keeps
//! the names and roots of all trees in one meta page and writes it whole each time a tree is
//! made: with seven trees per tenant, 1,000 tenants took 573 MiB of superseded meta pages and
//! 1,497 blob files that every flush read.)
//!
//! Deleting a tenant removes, in one transaction, the tenant, its keys, and writes the operator's
//! entry and a marker in `tenants/deleting`; then every key behind its prefix, a batch at a time;
//! then the marker. Writes wait meanwhile. A deletion cut short leaves the marker, and the next
//! open finishes it: the markers are all it reads, not the store.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

use scim_core::model::{Revision, Tenant, TenantId};
use scim_core::store::StoreError;
use sled::{Batch, IVec, Transactional, Tree};

use crate::view::tenant_prefix;
use crate::write::{tx_error, tx_revision};
use crate::{encode, storage, SledStore};

/// Keys removed (by a deletion) or copied (by the move into the shared trees) per sled batch.
const BATCH: usize = 1_000;

/// The prefix of the tree names a tenant had before the shared trees: `t/{tenant}/users`, ….
const OWN_TREES: &str = "t/";

impl SledStore {
    /// Creates or updates a tenant, with its entry in the operator's feed.
    pub(crate) fn put_tenant_now(
        &self,
        tenant: &Tenant,
        revision: &Revision,
    ) -> Result<u64, StoreError> {
        // A tenant made again while a deletion of the same id is unfinished (it failed; the
        // store stops writing then, but) must not find the deleted one's data.
        if self
            .deleting
            .contains_key(tenant.id.as_str())
            .map_err(storage)?
        {
            let _alone = self.alone()?;
            self.purge(tenant.id.as_str().as_bytes())?;
        }
        let seq = self.put_shared(
            &self.tenants,
            tenant.id.as_str(),
            &encode(tenant)?,
            &self.operator,
            revision,
        );
        self.tenants_changed();
        seq
    }

    /// Deletes a tenant: first (in one transaction) the tenant, its keys, its webhook endpoints
    /// and the operator's entry, so that its keys stop at once, with a marker that its data is
    /// being removed; then its data, and the marker. Writes wait meanwhile. A deletion cut short after the first step
    /// is finished by the next open.
    pub(crate) fn delete_tenant_now(
        &self,
        id: &TenantId,
        revision: &Revision,
    ) -> Result<u64, StoreError> {
        if id.is_default() {
            return Err(StoreError::Refused(
                "the default tenant cannot be deleted".into(),
            ));
        }
        let _alone = self.alone()?;
        let reserved = self.reserve()?;
        let seq = reserved.seq;
        let keys: Vec<String> = self
            .keys_now()?
            .into_iter()
            .filter(|k| k.tenant.as_ref() == Some(id))
            .map(|k| k.id)
            .collect();
        let webhooks: Vec<sled::IVec> = self
            .webhooks
            .scan_prefix(tenant_prefix(id.as_str()))
            .keys()
            .collect::<Result<_, _>>()
            .map_err(storage)?;
        let op = &self.operator;
        (
            &self.tenants,
            &self.api_keys,
            &self.webhooks,
            &self.deleting,
            op.revisions.tree(),
            op.by_target.tree(),
        )
            .transaction(
                |(tenants, api_keys, hooks, deleting, revisions, by_target)| {
                    tenants.remove(id.as_str())?;
                    for k in &keys {
                        api_keys.remove(k.as_bytes())?;
                    }
                    for w in &webhooks {
                        hooks.remove(w)?;
                    }
                    deleting.insert(id.as_str(), &[] as &[u8])?;
                    tx_revision(
                        &op.revisions.tx(revisions),
                        &op.by_target.tx(by_target),
                        revision,
                        seq,
                    )?;
                    Ok(())
                },
            )
            .map_err(|e| self.note_failure(tx_error(e)))?;
        self.tenants_changed();
        self.keys_changed();
        // Requests that hold the partition learn it is gone, before its data is.
        if let Some(part) = self
            .partitions
            .write()
            .ok()
            .and_then(|mut map| map.remove(id))
        {
            part.gone.store(true, Ordering::SeqCst);
        }
        // Its deliveries' positions: the sender's log, gone with it.
        for key in self
            .deliveries
            .scan_prefix(tenant_prefix(id.as_str()))
            .keys()
        {
            let key = key.map_err(storage)?;
            self.deliveries.remove(key).map_err(storage)?;
        }
        drop(reserved);
        // The tenant's removal and its marker are durable before any of its data goes.
        self.flush_now()?;
        self.purge(id.as_str().as_bytes())?;
        Ok(seq)
    }

    /// Removes every key of a deleted tenant from the shared trees, a batch at a time, then its
    /// marker, durably. The caller holds writes.
    fn purge(&self, tenant: &[u8]) -> Result<(), StoreError> {
        let prefix = tenant_prefix(tenant);
        let failed = |e: sled::Error| self.note_failure(storage(e));
        for (_, tree) in self.shared.named() {
            loop {
                let mut batch = Batch::default();
                let mut n = 0;
                for key in tree.scan_prefix(&prefix).keys().take(BATCH) {
                    batch.remove(key.map_err(failed)?);
                    n += 1;
                }
                if n == 0 {
                    break;
                }
                tree.apply_batch(batch).map_err(failed)?;
            }
        }
        // The marker goes only once the data is durably gone.
        self.flush_now()?;
        self.deleting.remove(tenant).map_err(failed)?;
        self.flush_now()
    }

    /// Finishes the deletions a crash or a failure cut short (at open).
    pub(crate) fn finish_deletions(&self) -> Result<(), StoreError> {
        let marked: Vec<IVec> = self
            .deleting
            .iter()
            .keys()
            .collect::<Result<_, _>>()
            .map_err(storage)?;
        if marked.is_empty() {
            return Ok(());
        }
        let _alone = self.alone()?;
        for tenant in marked {
            self.purge(&tenant)?;
        }
        Ok(())
    }

    /// Moves the data of a store whose tenants had trees of their own (`t/{tenant}/users`, …,
    /// as written before the shared trees) into the shared trees, once, at open: each tree's
    /// entries are copied behind the tenant's prefix, made durable, and then the tree is dropped.
    /// A move cut short is done again from the trees left (copying an entry twice writes the
    /// same). The trees of a tenant that no longer exists (a deletion cut short) are dropped.
    pub(crate) fn move_into_shared_trees(&self) -> Result<(), StoreError> {
        let mut own: BTreeMap<String, Vec<(IVec, String)>> = BTreeMap::new();
        for name in self.db.tree_names() {
            let text = String::from_utf8_lossy(&name).into_owned();
            let Some((tenant, tree)) = text
                .strip_prefix(OWN_TREES)
                .and_then(|rest| rest.split_once('/'))
            else {
                continue;
            };
            own.entry(tenant.to_string())
                .or_default()
                .push((name.clone(), tree.to_string()));
        }
        if own.is_empty() {
            return Ok(());
        }
        // Copied first, all made durable, and only then dropped: a tree is never dropped before
        // its copy is durable.
        let mut done = Vec::new();
        for (tenant, trees) in own {
            let exists = match TenantId::parse(&tenant) {
                Ok(id) => self.tenants.contains_key(id.as_str()).map_err(storage)?,
                Err(_) => false,
            };
            let prefix = tenant_prefix(&tenant);
            for (name, tree) in trees {
                let into = self
                    .shared
                    .named()
                    .into_iter()
                    .find(|(n, _)| *n == tree)
                    .map(|(_, t)| t);
                match (exists, into) {
                    (true, Some(into)) => {
                        let from = self.db.open_tree(&name).map_err(storage)?;
                        copy(&from, into, &prefix)?;
                        done.push(name);
                    }
                    // Not a tree this engine made: left alone.
                    (true, None) => {}
                    (false, _) => done.push(name),
                }
            }
        }
        self.flush_now()?;
        for name in done {
            self.db.drop_tree(&name).map_err(storage)?;
        }
        self.flush_now()
    }
}

/// Copies every entry of `from` into `into`, each key behind `prefix`, a batch at a time.
fn copy(from: &Tree, into: &Tree, prefix: &[u8]) -> Result<(), StoreError> {
    let mut batch = Batch::default();
    let mut n = 0;
    for entry in from.iter() {
        let (key, value) = entry.map_err(storage)?;
        let mut k = Vec::with_capacity(prefix.len() + key.len());
        k.extend_from_slice(prefix);
        k.extend_from_slice(&key);
        batch.insert(k, value);
        n += 1;
        if n == BATCH {
            into.apply_batch(std::mem::take(&mut batch))
                .map_err(storage)?;
            n = 0;
        }
    }
    into.apply_batch(batch).map_err(storage)
}

#[cfg(test)]
mod tests;
