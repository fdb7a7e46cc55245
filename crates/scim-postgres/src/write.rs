//! Commits: what one [`Write`] does in one database transaction, and the writes of keys and
//! tenants.
//!
//! Every write into a tenant first takes the tenant's advisory lock in shared mode and checks that
//! the tenant exists; deleting a tenant takes it exclusively. So a write that began before its
//! tenant was deleted either commits before the deletion (which then removes it) or finds the
//! tenant gone ([`StoreError::Gone`]): nothing reaches a tenant made again with the same id.
//!
//! The statements of a write do not depend on each other's results, so they are sent together
//! (pipelined) and their answers read in order: a refused statement aborts the transaction, and
//! the first refusal is the answer.

use std::collections::HashSet;

use deadpool_postgres::{GenericClient, Transaction};
use scim_core::model::{
    ApiKey, IndexKey, Record, Revision, StoredKind, Tenant, TenantId, WebhookEndpoint,
};
use scim_core::store::{Expect, MemberChange, StoreError, Write, WriteOp};
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;

use crate::cache::CHANNEL;
use crate::{corrupt, db, feed, feed_name, kind_code, lock_id, nanos, Engine};

/// The promoted columns of a record: its unique name key and its externalId, from the index keys
/// the core computed.
fn promoted(record: &Record) -> (Option<&str>, Option<&str>) {
    let mut name = None;
    let mut external = None;
    for key in &record.index {
        match key {
            IndexKey::UserName(t) | IndexKey::GroupDisplayName(t) => name = Some(t.as_str()),
            IndexKey::UserExternalId(t) | IndexKey::GroupExternalId(t) => {
                external = Some(t.as_str())
            }
        }
    }
    (name, external)
}

/// The statement that inserts a record: `$1` tenant, `$2` kind, `$3` id, then its
/// [`Columns`] as `$4`–`$12`.
pub(crate) const INSERT_RECORD: &str =
    "INSERT INTO scim_resources (tenant, kind, id, version, created, modified, name_key,
         external_id, active, doc, index_keys, profile)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)";

/// A record's columns as `scim_resources` holds them, besides tenant, kind and id: what a write
/// and an import store alike.
pub(crate) struct Columns<'a> {
    version: i64,
    created: i64,
    modified: i64,
    name: Option<&'a str>,
    external: Option<&'a str>,
    active: Option<bool>,
    doc: &'a serde_json::Value,
    index: serde_json::Value,
    profile: Option<serde_json::Value>,
}

impl<'a> Columns<'a> {
    pub(crate) fn of(record: &'a Record) -> Result<Columns<'a>, StoreError> {
        let (name, external) = promoted(record);
        Ok(Columns {
            version: i64::try_from(record.version).map_err(corrupt)?,
            created: nanos(record.created),
            modified: nanos(record.last_modified),
            name,
            external,
            active: record
                .doc
                .get("active")
                .and_then(serde_json::Value::as_bool),
            doc: &record.doc,
            index: serde_json::to_value(&record.index).map_err(corrupt)?,
            profile: record
                .profile
                .as_ref()
                .map(serde_json::to_value)
                .transpose()
                .map_err(corrupt)?,
        })
    }

    /// `$4`–`$12` of [`INSERT_RECORD`] (and of the update that replaces a record).
    pub(crate) fn params(&self) -> [&(dyn ToSql + Sync); 9] {
        [
            &self.version,
            &self.created,
            &self.modified,
            &self.name,
            &self.external,
            &self.active,
            self.doc,
            &self.index,
            &self.profile,
        ]
    }
}

fn member_kind(kind: StoredKind) -> i16 {
    kind_code(kind.into())
}

/// What a refused statement means for a write of `record`.
fn refusal(e: tokio_postgres::Error, record: Option<&Record>) -> StoreError {
    match e.code() {
        Some(c) if *c == SqlState::UNIQUE_VIOLATION => {
            let constraint = e
                .as_db_error()
                .and_then(|d| d.constraint())
                .unwrap_or_default()
                .to_string();
            if constraint == "scim_resources_name_key" {
                if let Some(key) = record.and_then(|r| r.index.iter().find(|k| k.is_unique())) {
                    return StoreError::Taken(key.clone());
                }
            }
            if constraint == "scim_resources_pkey" {
                return StoreError::Exists;
            }
            db(e)
        }
        _ => db(e),
    }
}

impl Engine {
    /// Commits one write in `tenant`.
    pub(crate) async fn commit_now(
        &self,
        tenant: &TenantId,
        write: Write,
    ) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await.map_err(db)?;
        match apply(&tx, tenant, &write).await {
            Ok(()) => {
                tx.commit().await.map_err(db)?;
                self.settler.wrote(tenant.as_str());
                Ok(())
            }
            Err(Refusal::Now(e)) => {
                let _ = tx.rollback().await;
                Err(e)
            }
            Err(Refusal::Explain(why)) => {
                let _ = tx.rollback().await;
                Err(explain(&conn, tenant, &write, why).await)
            }
        }
    }

    /// Creates or updates a key with its revision entry, and tells every replica.
    pub(crate) async fn put_key_now(
        &self,
        key: &ApiKey,
        revision: &Revision,
    ) -> Result<(), StoreError> {
        let feed = feed_name(key.feed().as_ref()).to_string();
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await.map_err(db)?;
        if let Some(t) = key.feed() {
            hold_tenant(&tx, &t).await?;
        }
        let body = serde_json::to_value(key).map_err(corrupt)?;
        let tenant = key.tenant.as_ref().map(TenantId::as_str);
        tx.execute(
            "INSERT INTO scim_keys (id, tenant, digest, body) VALUES ($1, $2, $3, $4)
             ON CONFLICT (id) DO UPDATE SET tenant = $2, digest = $3, body = $4",
            &[&key.id, &tenant, &key.digest, &body],
        )
        .await
        .map_err(db)?;
        feed::insert(&tx, &feed, revision, None).await?;
        notify(&tx).await?;
        tx.commit().await.map_err(db)?;
        self.cache.invalidate();
        self.settler.wrote(&feed);
        Ok(())
    }

    /// Creates or updates a tenant's webhook endpoint with its entry in the tenant's feed.
    pub(crate) async fn put_webhook_now(
        &self,
        tenant: &TenantId,
        endpoint: &WebhookEndpoint,
        revision: &Revision,
    ) -> Result<(), StoreError> {
        let feed = feed_name(Some(tenant)).to_string();
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await.map_err(db)?;
        hold_tenant(&tx, tenant).await?;
        let body = serde_json::to_value(endpoint).map_err(corrupt)?;
        tx.execute(
            "INSERT INTO scim_webhooks (tenant, id, body) VALUES ($1, $2, $3)
             ON CONFLICT (tenant, id) DO UPDATE SET body = $3",
            &[&tenant.as_str(), &endpoint.id, &body],
        )
        .await
        .map_err(db)?;
        feed::insert(&tx, &feed, revision, None).await?;
        tx.commit().await.map_err(db)?;
        self.settler.wrote(&feed);
        Ok(())
    }

    /// Records a key's last use (best effort: no revision, no notification).
    pub(crate) async fn touch_key_now(
        &self,
        id: &str,
        when: time::OffsetDateTime,
    ) -> Result<(), StoreError> {
        let conn = self.conn().await?;
        let when = scim_core::model::rfc3339(when);
        conn.execute(
            "UPDATE scim_keys SET body = jsonb_set(body, '{last_used}', to_jsonb($2::text))
             WHERE id = $1",
            &[&id, &when],
        )
        .await
        .map_err(db)?;
        Ok(())
    }

    /// Creates or updates a tenant with its entry in the operator's feed.
    pub(crate) async fn put_tenant_now(
        &self,
        tenant: &Tenant,
        revision: &Revision,
    ) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await.map_err(db)?;
        let body = serde_json::to_value(tenant).map_err(corrupt)?;
        tx.execute(
            "INSERT INTO scim_tenants (id, body) VALUES ($1, $2)
             ON CONFLICT (id) DO UPDATE SET body = $2",
            &[&tenant.id.as_str(), &body],
        )
        .await
        .map_err(db)?;
        feed::insert(&tx, "", revision, None).await?;
        notify(&tx).await?;
        tx.commit().await.map_err(db)?;
        self.cache.invalidate();
        self.settler.wrote("");
        Ok(())
    }

    /// Deletes a tenant with everything of it, once the writes in flight into it have ended.
    pub(crate) async fn delete_tenant_now(
        &self,
        id: &TenantId,
        revision: &Revision,
    ) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await.map_err(db)?;
        crate::whole::unlimited(&tx).await?;
        tx.execute(
            "SELECT pg_advisory_xact_lock($1)",
            &[&lock_id("tenant", id.as_str())],
        )
        .await
        .map_err(db)?;
        let t = id.as_str();
        for sql in [
            "DELETE FROM scim_members WHERE tenant = $1",
            "DELETE FROM scim_resources WHERE tenant = $1",
            "DELETE FROM scim_history WHERE feed = $1",
            "DELETE FROM scim_revisions WHERE feed = $1",
            "DELETE FROM scim_keys WHERE tenant = $1",
            "DELETE FROM scim_webhooks WHERE tenant = $1",
            "DELETE FROM scim_deliveries WHERE tenant = $1",
            "DELETE FROM scim_tenants WHERE id = $1",
        ] {
            tx.execute(sql, &[&t]).await.map_err(db)?;
        }
        feed::insert(&tx, "", revision, None).await?;
        notify(&tx).await?;
        tx.commit().await.map_err(db)?;
        self.cache.invalidate();
        self.settler.wrote("");
        Ok(())
    }
}

/// Tells every replica's listener that keys or tenants changed (delivered at commit).
pub(crate) async fn notify(tx: &Transaction<'_>) -> Result<(), StoreError> {
    tx.execute("SELECT pg_notify($1, '')", &[&CHANNEL])
        .await
        .map_err(db)?;
    Ok(())
}

/// Waits out a deletion of the tenant in flight, and checks it still exists.
pub(crate) async fn hold_tenant(
    tx: &impl GenericClient,
    tenant: &TenantId,
) -> Result<(), StoreError> {
    let (lock, exists) = tenant_statements(tx).await?;
    let id = lock_id("tenant", tenant.as_str());
    // The second statement's snapshot is taken once the first holds the lock.
    let t = tenant.as_str();
    let (lock_params, exists_params): ([&(dyn ToSql + Sync); 1], [&(dyn ToSql + Sync); 1]) =
        ([&id], [&t]);
    let (locked, found) = tokio::join!(
        tx.execute(&lock, &lock_params),
        tx.query_one(&exists, &exists_params)
    );
    held(locked, found)
}

/// The tenant's shared lock and its existence check, prepared.
async fn tenant_statements(
    tx: &impl GenericClient,
) -> Result<(tokio_postgres::Statement, tokio_postgres::Statement), StoreError> {
    let lock = tx
        .prepare_cached("SELECT pg_advisory_xact_lock_shared($1)")
        .await
        .map_err(db)?;
    let exists = tx
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM scim_tenants WHERE id = $1)")
        .await
        .map_err(db)?;
    Ok((lock, exists))
}

/// The answers of [`tenant_statements`]: the tenant is held, or gone.
fn held(
    locked: Result<u64, tokio_postgres::Error>,
    found: Result<tokio_postgres::Row, tokio_postgres::Error>,
) -> Result<(), StoreError> {
    locked.map_err(db)?;
    if !found.map_err(db)?.get::<_, bool>(0) {
        return Err(StoreError::Gone);
    }
    Ok(())
}

/// Why a write did not go through: now known, or to be found out after the rollback.
enum Refusal {
    Now(StoreError),
    Explain(Why),
}

/// What to find out after a rollback.
enum Why {
    /// The record was not at the expected version (or is gone).
    Version,
    /// A member added does not exist (or the race of its deletion).
    Member,
}

impl From<StoreError> for Refusal {
    fn from(e: StoreError) -> Self {
        Refusal::Now(e)
    }
}

/// The statements of one write, in the caller's transaction.
async fn apply(tx: &Transaction<'_>, tenant: &TenantId, write: &Write) -> Result<(), Refusal> {
    let t = tenant.as_str();
    let kind = kind_code(write.kind);
    let id = write.id.as_str();
    match &write.op {
        WriteOp::Put { record, members } => {
            let columns = Columns::of(record)?;
            let expected = match write.expect {
                Expect::Absent => None,
                Expect::Version(v) => Some(i64::try_from(v).map_err(corrupt)?),
            };
            // Every statement is prepared first, so that they go out in this order.
            let (lock, exists) = tenant_statements(tx).await?;
            let put = tx
                .prepare_cached(match expected {
                    None => INSERT_RECORD,
                    Some(_) => {
                        "UPDATE scim_resources SET version = $4, created = $5, modified = $6,
                             name_key = $7, external_id = $8, active = $9, doc = $10,
                             index_keys = $11, profile = $12
                         WHERE tenant = $1 AND kind = $2 AND id = $3 AND version = $13"
                    }
                })
                .await
                .map_err(db)?;
            let entry = feed::prepare_insert(tx).await?;
            let (targets, value) = feed::insert_values(&write.revision)?;
            let lock_key = lock_id("tenant", t);
            let no_seq: Option<i64> = None;
            let mut put_params: Vec<&(dyn ToSql + Sync)> = vec![&t, &kind, &id];
            put_params.extend(columns.params());
            if let Some(v) = &expected {
                put_params.push(v);
            }
            let (lock_params, exists_params): ([&(dyn ToSql + Sync); 1], [&(dyn ToSql + Sync); 1]) =
                ([&lock_key], [&t]);
            let entry_params: [&(dyn ToSql + Sync); 4] = [&t, &no_seq, &value, &targets];
            // Sent together and answered in order: the tenant's lock, its existence (a snapshot
            // taken once the lock is held), the record, and (without member changes) the entry.
            // A refused statement fails the ones after it; the first refusal is the answer.
            let Some(change) = members else {
                let (locked, found, changed, written) = tokio::join!(
                    tx.execute(&lock, &lock_params),
                    tx.query_one(&exists, &exists_params),
                    tx.execute(&put, &put_params),
                    tx.execute(&entry, &entry_params),
                );
                held(locked, found)?;
                if changed.map_err(|e| refusal(e, Some(record)))? != 1 {
                    return Err(Refusal::Explain(Why::Version));
                }
                written.map_err(db)?;
                return Ok(());
            };
            let (locked, found, changed) = tokio::join!(
                tx.execute(&lock, &lock_params),
                tx.query_one(&exists, &exists_params),
                tx.execute(&put, &put_params),
            );
            held(locked, found)?;
            if changed.map_err(|e| refusal(e, Some(record)))? != 1 {
                return Err(Refusal::Explain(Why::Version));
            }
            members_delta(tx, t, id, change).await?;
            tx.execute(&entry, &entry_params).await.map_err(db)?;
            return Ok(());
        }
        WriteOp::Delete { members, member_of } => {
            let Expect::Version(v) = write.expect else {
                return Err(Refusal::Now(StoreError::Missing));
            };
            hold_tenant(tx, tenant).await?;
            // The groups it leaves first, in id order: a change of one of those groups locks the
            // group before its members, and so does this, so the two never wait on each other
            // in a circle.
            touch(tx, t, write).await?;
            let v = i64::try_from(v).map_err(corrupt)?;
            let lock = tx
                .prepare_cached(
                    "SELECT version FROM scim_resources WHERE tenant = $1 AND kind = $2 AND id = $3
                     FOR UPDATE",
                )
                .await
                .map_err(db)?;
            match tx.query_opt(&lock, &[&t, &kind, &id]).await.map_err(db)? {
                Some(row) if row.get::<_, i64>(0) == v => {}
                Some(_) => return Err(Refusal::Now(StoreError::Stale)),
                None => return Err(Refusal::Now(StoreError::Missing)),
            }
            // Its memberships in groups: exactly those it was read with.
            let left: Vec<String> = tx
                .query(
                    "DELETE FROM scim_members WHERE tenant = $1 AND member_id = $2 RETURNING group_id",
                    &[&t, &id],
                )
                .await
                .map_err(db)?
                .iter()
                .map(|r| r.get(0))
                .collect();
            let left: HashSet<&String> = left.iter().collect();
            if left != member_of.iter().collect::<HashSet<_>>() {
                return Err(Refusal::Now(StoreError::Stale));
            }
            // Its own members (a group): exactly those it was read with.
            let had = tx
                .execute(
                    "DELETE FROM scim_members WHERE tenant = $1 AND group_id = $2",
                    &[&t, &id],
                )
                .await
                .map_err(db)?;
            if had != members.len() as u64 {
                return Err(Refusal::Now(StoreError::Stale));
            }
            tx.execute(
                "DELETE FROM scim_resources WHERE tenant = $1 AND kind = $2 AND id = $3",
                &[&t, &kind, &id],
            )
            .await
            .map_err(db)?;
        }
    }
    feed::insert(tx, t, &write.revision, None).await?;
    Ok(())
}

/// Moves the versions of the records a write touches (the groups a deleted member leaves).
async fn touch(tx: &Transaction<'_>, tenant: &str, write: &Write) -> Result<(), StoreError> {
    let mut touched: Vec<&(scim_core::model::Kind, String)> = write.touch.iter().collect();
    touched.sort_by(|a, b| a.1.cmp(&b.1));
    let statement = tx
        .prepare_cached(
            "UPDATE scim_resources SET version = version + 1, modified = $4
             WHERE tenant = $1 AND kind = $2 AND id = $3",
        )
        .await
        .map_err(db)?;
    let when = nanos(write.revision.time);
    for (kind, other) in touched {
        tx.execute(&statement, &[&tenant, &kind_code(*kind), other, &when])
            .await
            .map_err(db)?;
    }
    Ok(())
}

/// A group's membership rows: only the difference is written.
async fn members_delta(
    tx: &Transaction<'_>,
    tenant: &str,
    group: &str,
    change: &MemberChange,
) -> Result<(), Refusal> {
    let removed: Vec<&str> = change.removed.iter().map(|m| m.value.as_str()).collect();
    if !removed.is_empty() {
        let gone = tx
            .execute(
                "DELETE FROM scim_members WHERE tenant = $1 AND group_id = $2 AND member_id = ANY($3)",
                &[&tenant, &group, &removed],
            )
            .await
            .map_err(db)?;
        if gone != removed.len() as u64 {
            return Err(Refusal::Now(StoreError::Stale));
        }
    }
    // Staying, with a new `type` or `display`.
    for m in &change.updated {
        let changed = tx
            .execute(
                "UPDATE scim_members SET display = $4, member_kind = $5
                 WHERE tenant = $1 AND group_id = $2 AND member_id = $3",
                &[&tenant, &group, &m.value, &m.display, &member_kind(m.kind)],
            )
            .await
            .map_err(db)?;
        if changed != 1 {
            return Err(Refusal::Now(StoreError::Stale));
        }
    }
    let added = &change.added;
    if !added.is_empty() {
        let ids: Vec<&str> = added.iter().map(|m| m.value.as_str()).collect();
        let kinds: Vec<i16> = added.iter().map(|m| member_kind(m.kind)).collect();
        let displays: Vec<Option<&str>> = added.iter().map(|m| m.display.as_deref()).collect();
        let insert = tx
            .prepare_cached(
                "INSERT INTO scim_members (tenant, group_id, member_id, member_kind, display)
                 SELECT $1, $2, m, k, d FROM unnest($3::text[], $4::int2[], $5::text[]) AS x(m, k, d)",
            )
            .await
            .map_err(db)?;
        match tx
            .execute(&insert, &[&tenant, &group, &ids, &kinds, &displays])
            .await
        {
            Ok(_) => {}
            Err(e) if e.code() == Some(&SqlState::FOREIGN_KEY_VIOLATION) => {
                return Err(Refusal::Explain(Why::Member))
            }
            Err(e) if e.code() == Some(&SqlState::UNIQUE_VIOLATION) => {
                return Err(Refusal::Now(StoreError::Stale))
            }
            Err(e) => return Err(Refusal::Now(db(e))),
        }
    }
    Ok(())
}

/// After a rollback: which refusal the write met.
async fn explain(
    client: &impl GenericClient,
    tenant: &TenantId,
    write: &Write,
    why: Why,
) -> StoreError {
    let t = tenant.as_str();
    match why {
        Why::Version => {
            let found = client
                .query_opt(
                    "SELECT version FROM scim_resources WHERE tenant = $1 AND kind = $2 AND id = $3",
                    &[&t, &kind_code(write.kind), &write.id],
                )
                .await;
            match found {
                Ok(Some(_)) => StoreError::Stale,
                Ok(None) => StoreError::Missing,
                Err(e) => db(e),
            }
        }
        Why::Member => {
            let WriteOp::Put {
                members: Some(change),
                ..
            } = &write.op
            else {
                return StoreError::Stale;
            };
            for m in &change.added {
                let exists = client
                    .query_opt(
                        "SELECT 1 FROM scim_resources WHERE tenant = $1 AND kind = $2 AND id = $3",
                        &[&t, &member_kind(m.kind), &m.value],
                    )
                    .await;
                match exists {
                    Ok(None) => return StoreError::NoSuchMember(m.clone()),
                    Ok(Some(_)) => {}
                    Err(e) => return db(e),
                }
            }
            // Every member exists now: one was made meanwhile; try again.
            StoreError::Stale
        }
    }
}

/// A record from its row: `tenant, kind, id, version, created, modified, doc, index_keys, profile`
/// starting at column `at`.
pub(crate) fn record_from(row: &tokio_postgres::Row, at: usize) -> Result<Record, StoreError> {
    let kind: i16 = row.get(at);
    let kind = crate::kind_of(kind)?;
    let index: serde_json::Value = row.get(at + 6);
    let profile: Option<serde_json::Value> = row.get(at + 7);
    Ok(Record {
        id: row.get(at + 1),
        kind: kind.into(),
        version: u64::try_from(row.get::<_, i64>(at + 2)).map_err(corrupt)?,
        created: crate::from_nanos(row.get(at + 3))?,
        last_modified: crate::from_nanos(row.get(at + 4))?,
        doc: scim_core::model::Doc::new(row.get(at + 5)),
        index: serde_json::from_value(index).map_err(corrupt)?,
        profile: match profile {
            Some(p) => Some(serde_json::from_value(p).map_err(corrupt)?),
            None => None,
        },
    })
}

/// The columns [`record_from`] reads, in its order.
pub(crate) const RECORD_COLUMNS: &str =
    "kind, id, version, created, modified, doc, index_keys, profile";
