//! Whole partitions and stores: consistent exports (one repeatable-read snapshot: writes go on
//! meanwhile), imports into an empty tenant or store (one transaction), and the engine's check of
//! what its constraints do not already guarantee.

use std::collections::{HashMap, HashSet};

use deadpool_postgres::{GenericClient, Transaction};
use scim_core::model::{
    ApiKey, Dump, Export, GroupDump, Kind, Record, Revision, Tenant, TenantDump, TenantId,
};
use scim_core::store::StoreError;
use tokio_postgres::IsolationLevel;

use crate::query::member_from;
use crate::write::{hold_tenant, record_from, RECORD_COLUMNS};
use crate::{corrupt, db, feed, kind_code, Engine};

impl Engine {
    /// A consistent copy of one tenant's partition, with its keys.
    pub(crate) async fn export_part(&self, tenant: &TenantId) -> Result<Dump, StoreError> {
        let mut conn = self.conn().await?;
        feed::settle(&conn, tenant.as_str()).await?;
        let tx = snapshot(&mut conn).await?;
        let dump = dump_of(&tx, tenant).await?;
        tx.commit().await.map_err(db)?;
        Ok(dump)
    }

    /// A consistent copy of everything.
    pub(crate) async fn export_all(&self) -> Result<Export, StoreError> {
        let mut conn = self.conn().await?;
        feed::settle_all(&conn).await?;
        let tx = snapshot(&mut conn).await?;
        let tenants: Vec<Tenant> = tx
            .query("SELECT body FROM scim_tenants ORDER BY id", &[])
            .await
            .map_err(db)?
            .into_iter()
            .map(|r| serde_json::from_value(r.get(0)).map_err(corrupt))
            .collect::<Result<_, _>>()?;
        let mut out = Vec::with_capacity(tenants.len());
        for tenant in tenants {
            out.push(TenantDump {
                dump: dump_of(&tx, &tenant.id).await?,
                tenant,
            });
        }
        let keys = all_keys(&tx)
            .await?
            .into_iter()
            .filter(|k| k.feed().is_none())
            .collect();
        let revisions = feed::all(&tx, "").await?;
        tx.commit().await.map_err(db)?;
        Ok(Export {
            format: Export::FORMAT,
            tenants: out,
            keys,
            revisions,
        })
    }

    /// Loads a whole copy into an empty store, in one transaction.
    pub(crate) async fn import_all(&self, export: Export) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await.map_err(db)?;
        unlimited(&tx).await?;
        let used: bool = tx
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM scim_tenants) OR EXISTS (SELECT 1 FROM scim_keys)
                     OR EXISTS (SELECT 1 FROM scim_revisions)",
                &[],
            )
            .await
            .map_err(db)?
            .get(0);
        export.may_load(!used)?;
        for t in &export.tenants {
            let body = serde_json::to_value(&t.tenant).map_err(corrupt)?;
            tx.execute(
                "INSERT INTO scim_tenants (id, body) VALUES ($1, $2)",
                &[&t.tenant.id.as_str(), &body],
            )
            .await
            .map_err(db)?;
            load(&tx, &t.tenant.id, &t.dump).await?;
        }
        load_feed(&tx, "", &export.revisions).await?;
        load_keys(&tx, &export.keys, None).await?;
        crate::write::notify(&tx).await?;
        tx.commit().await.map_err(db)?;
        self.cache.invalidate();
        Ok(())
    }

    /// Loads one tenant's copy into its empty partition (the tenant exists).
    pub(crate) async fn import_part(
        &self,
        tenant: &TenantId,
        dump: Dump,
    ) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await.map_err(db)?;
        unlimited(&tx).await?;
        hold_tenant(&tx, tenant).await?;
        let t = tenant.as_str();
        let used: bool = tx
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM scim_resources WHERE tenant = $1)
                     OR EXISTS (SELECT 1 FROM scim_revisions WHERE feed = $1)",
                &[&t],
            )
            .await
            .map_err(db)?
            .get(0);
        dump.may_load_into(tenant, !used, &all_keys(&tx).await?)?;
        load(&tx, tenant, &dump).await?;
        crate::write::notify(&tx).await?;
        tx.commit().await.map_err(db)?;
        self.cache.invalidate();
        Ok(())
    }

    /// What the constraints do not guarantee: promoted columns agree with the index keys the
    /// core computed, every membership's group exists, every entry is in the history of each of
    /// its targets and no history row names another feed's entry, every key's and every row's
    /// tenant exists.
    pub(crate) async fn check_now(&self) -> Result<Vec<String>, StoreError> {
        let mut conn = self.conn().await?;
        feed::settle_all(&conn).await?;
        let tx = snapshot(&mut conn).await?;
        let mut problems = Vec::new();
        let tenants: HashSet<String> = tx
            .query("SELECT id FROM scim_tenants", &[])
            .await
            .map_err(db)?
            .iter()
            .map(|r| r.get(0))
            .collect();
        for key in all_keys(&tx).await? {
            if let Some(t) = &key.tenant {
                if !tenants.contains(t.as_str()) {
                    problems.push(format!("key {} belongs to no tenant ({t})", key.id));
                }
            }
        }
        for row in tx
            .query(
                "SELECT DISTINCT tenant FROM scim_resources
                 UNION SELECT DISTINCT feed FROM scim_revisions WHERE feed <> ''",
                &[],
            )
            .await
            .map_err(db)?
        {
            let t: String = row.get(0);
            if !tenants.contains(&t) {
                problems.push(format!("rows of a tenant that does not exist ({t})"));
            }
        }
        for row in tx
            .query(
                &format!(
                    "SELECT tenant, name_key, external_id, {RECORD_COLUMNS} FROM scim_resources"
                ),
                &[],
            )
            .await
            .map_err(db)?
        {
            let (t, name, external): (String, Option<String>, Option<String>) =
                (row.get(0), row.get(1), row.get(2));
            let record = match record_from(&row, 3) {
                Ok(r) => r,
                Err(e) => {
                    problems.push(format!("tenant {t}: a record does not decode: {e}"));
                    continue;
                }
            };
            let mut want_name = None;
            let mut want_external = None;
            for key in &record.index {
                if key.is_unique() {
                    want_name = Some(key.text().to_string());
                } else {
                    want_external = Some(key.text().to_string());
                }
            }
            if want_name != name || want_external != external {
                problems.push(format!(
                    "tenant {t}: {} {}: its index columns do not match its index keys",
                    Kind::from(record.kind).name(),
                    record.id
                ));
            }
        }
        for row in tx
            .query(
                "SELECT m.tenant, m.group_id, m.member_id FROM scim_members m
                 WHERE NOT EXISTS (SELECT 1 FROM scim_resources r
                     WHERE r.tenant = m.tenant AND r.kind = 1 AND r.id = m.group_id)",
                &[],
            )
            .await
            .map_err(db)?
        {
            let (t, g, m): (String, String, String) = (row.get(0), row.get(1), row.get(2));
            problems.push(format!(
                "tenant {t}: membership of {m} in missing group {g}"
            ));
        }
        let history: HashSet<(String, String, i64)> = tx
            .query("SELECT feed, target, revision FROM scim_history", &[])
            .await
            .map_err(db)?
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect();
        let mut named: HashSet<(String, String, i64)> = HashSet::new();
        for row in tx
            .query("SELECT id, feed, entry FROM scim_revisions", &[])
            .await
            .map_err(db)?
        {
            let (id, f): (i64, String) = (row.get(0), row.get(1));
            let entry: Revision = match serde_json::from_value(row.get(2)) {
                Ok(e) => e,
                Err(e) => {
                    problems.push(format!("revision {id} does not decode: {e}"));
                    continue;
                }
            };
            for target in entry.targets() {
                let key = (f.clone(), feed::target_key(&target), id);
                if !history.contains(&key) {
                    problems.push(format!(
                        "revision {} is missing from the history of {} {}",
                        entry.seq,
                        target.target_type.as_str(),
                        target.target_id
                    ));
                }
                named.insert(key);
            }
        }
        for (f, target, id) in history.difference(&named) {
            problems.push(format!(
                "a history entry of {target} (feed {f:?}) names revision {id}, which does not name it"
            ));
        }
        tx.commit().await.map_err(db)?;
        Ok(problems)
    }
}

/// A read-only transaction on one snapshot, with no statement timeout (a copy of a large store
/// reads for as long as it takes).
async fn snapshot(conn: &mut deadpool_postgres::Object) -> Result<Transaction<'_>, StoreError> {
    let tx = read_only(conn).await?;
    unlimited(&tx).await?;
    Ok(tx)
}

/// A read-only transaction on one snapshot. Dropped unfinished (a request past its bound), it
/// is rolled back before its connection serves another.
pub(crate) async fn read_only(
    conn: &mut deadpool_postgres::Object,
) -> Result<Transaction<'_>, StoreError> {
    conn.build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await
        .map_err(db)
}

/// Lifts the statement timeout for the rest of a transaction (a copy, an import).
pub(crate) async fn unlimited(tx: &Transaction<'_>) -> Result<(), StoreError> {
    tx.batch_execute("SET LOCAL statement_timeout = 0")
        .await
        .map_err(db)
}

async fn all_keys(client: &impl GenericClient) -> Result<Vec<ApiKey>, StoreError> {
    client
        .query("SELECT body FROM scim_keys ORDER BY id", &[])
        .await
        .map_err(db)?
        .into_iter()
        .map(|r| serde_json::from_value(r.get(0)).map_err(corrupt))
        .collect()
}

/// One tenant's copy, read in the caller's snapshot.
async fn dump_of(client: &impl GenericClient, tenant: &TenantId) -> Result<Dump, StoreError> {
    let t = tenant.as_str();
    let records = |kind: Kind| async move {
        client
            .query(
                &format!(
                    "SELECT {RECORD_COLUMNS} FROM scim_resources WHERE tenant = $1 AND kind = $2
                     ORDER BY id"
                ),
                &[&t, &kind_code(kind)],
            )
            .await
            .map_err(db)?
            .iter()
            .map(|r| record_from(r, 0))
            .collect::<Result<Vec<Record>, StoreError>>()
    };
    let users = records(Kind::User).await?;
    let mut members: HashMap<String, Vec<scim_core::model::Member>> = HashMap::new();
    for row in client
        .query(
            "SELECT group_id, member_id, member_kind, display FROM scim_members
             WHERE tenant = $1 ORDER BY group_id, member_id",
            &[&t],
        )
        .await
        .map_err(db)?
    {
        members
            .entry(row.get(0))
            .or_default()
            .push(member_from(&row, 1)?);
    }
    let groups = records(Kind::Group)
        .await?
        .into_iter()
        .map(|record| GroupDump {
            members: members.remove(&record.id).unwrap_or_default(),
            record,
        })
        .collect();
    let keys = all_keys(client)
        .await?
        .into_iter()
        .filter(|k| k.feed().as_ref() == Some(tenant))
        .collect();
    let webhooks = client
        .query(
            "SELECT body FROM scim_webhooks WHERE tenant = $1 ORDER BY id",
            &[&t],
        )
        .await
        .map_err(db)?
        .into_iter()
        .map(|r| serde_json::from_value(r.get(0)).map_err(corrupt))
        .collect::<Result<Vec<_>, StoreError>>()?;
    Ok(Dump {
        format: Dump::FORMAT,
        users,
        groups,
        keys,
        revisions: feed::all(client, t).await?,
        webhooks,
    })
}

/// Writes a tenant's records, memberships, keys and feed.
async fn load(tx: &Transaction<'_>, tenant: &TenantId, dump: &Dump) -> Result<(), StoreError> {
    let t = tenant.as_str();
    let insert = tx.prepare(crate::write::INSERT_RECORD).await.map_err(db)?;
    for record in dump
        .users
        .iter()
        .chain(dump.groups.iter().map(|g| &g.record))
    {
        let columns = crate::write::Columns::of(record)?;
        let kind = kind_code(record.kind.into());
        let mut params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> =
            vec![&t, &kind, &record.id];
        params.extend(columns.params());
        tx.execute(&insert, &params)
            .await
            .map_err(|e| match e.code() {
                Some(c) if *c == tokio_postgres::error::SqlState::UNIQUE_VIOLATION => {
                    StoreError::Refused(format!(
                        "the copy holds two records with the same id or name ({})",
                        record.id
                    ))
                }
                _ => db(e),
            })?;
    }
    let add = tx
        .prepare(
            "INSERT INTO scim_members (tenant, group_id, member_id, member_kind, display)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .await
        .map_err(db)?;
    for g in &dump.groups {
        for m in &g.members {
            tx.execute(
                &add,
                &[
                    &t,
                    &g.record.id,
                    &m.value,
                    &kind_code(m.kind.into()),
                    &m.display,
                ],
            )
            .await
            .map_err(db)?;
        }
    }
    load_keys(tx, &dump.keys, Some(tenant)).await?;
    for endpoint in &dump.webhooks {
        let body = serde_json::to_value(endpoint).map_err(corrupt)?;
        tx.execute(
            "INSERT INTO scim_webhooks (tenant, id, body) VALUES ($1, $2, $3)",
            &[&t, &endpoint.id, &body],
        )
        .await
        .map_err(db)?;
    }
    load_feed(tx, t, &dump.revisions).await
}

/// Writes keys: the operator's (`tenant` none), or those of a tenant's copy loaded into `tenant`,
/// which owns every key of it; into `default`, a key without a tenant keeps its meaning (the
/// sled engine's rule, the core's test suite checks both).
async fn load_keys(
    tx: &Transaction<'_>,
    keys: &[ApiKey],
    tenant: Option<&TenantId>,
) -> Result<(), StoreError> {
    for key in keys {
        let mut key = key.clone();
        if let Some(t) = tenant {
            if key.tenant.is_some() || !t.is_default() {
                key.tenant = Some(t.clone());
            }
        }
        let body = serde_json::to_value(&key).map_err(corrupt)?;
        tx.execute(
            "INSERT INTO scim_keys (id, tenant, digest, body) VALUES ($1, $2, $3, $4)",
            &[
                &key.id,
                &key.tenant.as_ref().map(TenantId::as_str),
                &key.digest,
                &body,
            ],
        )
        .await
        .map_err(db)?;
    }
    Ok(())
}

/// Writes a feed's entries with their numbers.
async fn load_feed(
    tx: &Transaction<'_>,
    feed_id: &str,
    revisions: &[Revision],
) -> Result<(), StoreError> {
    let mut sorted: Vec<&Revision> = revisions.iter().collect();
    sorted.sort_by_key(|r| r.seq);
    for r in sorted {
        let seq = i64::try_from(r.seq).map_err(corrupt)?;
        feed::insert(tx, feed_id, r, Some(seq)).await?;
    }
    Ok(())
}
