//! The [`Store`] and [`Partition`] implementations: reads, and the seam's calls handed to
//! [`crate::write`], [`crate::query`], [`crate::feed`] and [`crate::whole`].

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use scim_core::model::{
    ApiKey, Dump, Export, IndexKey, Kind, Member, Record, Revision, TargetRef, Tenant, TenantId,
    WebSession, WebhookEndpoint,
};
use scim_core::store::{Found, HistoryPart, Partition, Query, Store, StoreError, Write};
use time::OffsetDateTime;

use crate::query::member_from;
use crate::write::{record_from, RECORD_COLUMNS};
use crate::{corrupt, db, feed, kind_code, nanos, PgStore};

/// One tenant's data: the engine and the tenant's id (every statement names it).
pub struct PgPartition {
    store: PgStore,
    tenant: TenantId,
}

fn column_of(key: &IndexKey) -> &'static str {
    match key {
        IndexKey::UserName(_) | IndexKey::GroupDisplayName(_) => "name_key",
        IndexKey::UserExternalId(_) | IndexKey::GroupExternalId(_) => "external_id",
    }
}

fn kind_of_key(key: &IndexKey) -> Kind {
    match key {
        IndexKey::UserName(_) | IndexKey::UserExternalId(_) => Kind::User,
        IndexKey::GroupDisplayName(_) | IndexKey::GroupExternalId(_) => Kind::Group,
    }
}

/// The seam's calls, each run by the trait's implementation below within the engine's bound
/// ([`crate::Engine::bounded`]).
impl PgPartition {
    async fn commit_unbounded(&self, write: Write) -> Result<(), StoreError> {
        self.store.commit_now(&self.tenant, write).await
    }

    async fn get_unbounded(&self, kind: Kind, id: &str) -> Result<Option<Record>, StoreError> {
        if id.contains('\0') {
            // No id holds it (the server makes ids), and the database would refuse the text.
            return Ok(None);
        }
        let conn = self.store.conn().await?;
        let statement = conn
            .prepare_cached(&format!(
                "SELECT {RECORD_COLUMNS} FROM scim_resources
                 WHERE tenant = $1 AND kind = $2 AND id = $3"
            ))
            .await
            .map_err(db)?;
        conn.query_opt(&statement, &[&self.tenant.as_str(), &kind_code(kind), &id])
            .await
            .map_err(db)?
            .map(|row| record_from(&row, 0))
            .transpose()
    }

    async fn groups_of_unbounded(&self, member_id: &str) -> Result<Vec<String>, StoreError> {
        let conn = self.store.conn().await?;
        let statement = conn
            .prepare_cached(
                "SELECT group_id FROM scim_members WHERE tenant = $1 AND member_id = $2
                 ORDER BY group_id",
            )
            .await
            .map_err(db)?;
        Ok(conn
            .query(&statement, &[&self.tenant.as_str(), &member_id])
            .await
            .map_err(db)?
            .iter()
            .map(|r| r.get(0))
            .collect())
    }

    async fn groups_of_each_unbounded(
        &self,
        member_ids: &[String],
    ) -> Result<HashMap<String, Vec<String>>, StoreError> {
        let ids: Vec<&str> = member_ids
            .iter()
            .map(String::as_str)
            .filter(|id| !id.contains('\0'))
            .collect();
        let conn = self.store.conn().await?;
        let statement = conn
            .prepare_cached(
                "SELECT member_id, group_id FROM scim_members
                 WHERE tenant = $1 AND member_id = ANY($2) ORDER BY member_id, group_id",
            )
            .await
            .map_err(db)?;
        let mut out: HashMap<String, Vec<String>> = HashMap::new();
        for row in conn
            .query(&statement, &[&self.tenant.as_str(), &ids])
            .await
            .map_err(db)?
        {
            out.entry(row.get(0)).or_default().push(row.get(1));
        }
        Ok(out)
    }

    async fn lookup_unbounded(&self, key: &IndexKey) -> Result<Vec<String>, StoreError> {
        let conn = self.store.conn().await?;
        let statement = conn
            .prepare_cached(&format!(
                "SELECT id FROM scim_resources WHERE tenant = $1 AND kind = $2 AND {} = $3
                 ORDER BY id",
                column_of(key)
            ))
            .await
            .map_err(db)?;
        Ok(conn
            .query(
                &statement,
                &[
                    &self.tenant.as_str(),
                    &kind_code(kind_of_key(key)),
                    &key.text(),
                ],
            )
            .await
            .map_err(db)?
            .iter()
            .map(|r| r.get(0))
            .collect())
    }

    async fn members_unbounded(&self, group_id: &str) -> Result<Vec<Member>, StoreError> {
        let conn = self.store.conn().await?;
        let statement = conn
            .prepare_cached(
                "SELECT member_id, member_kind, display FROM scim_members
                 WHERE tenant = $1 AND group_id = $2 ORDER BY member_id",
            )
            .await
            .map_err(db)?;
        conn.query(&statement, &[&self.tenant.as_str(), &group_id])
            .await
            .map_err(db)?
            .iter()
            .map(|row| member_from(row, 0))
            .collect()
    }

    async fn members_among_unbounded(
        &self,
        group_id: &str,
        member_ids: &[&str],
    ) -> Result<Vec<Member>, StoreError> {
        let conn = self.store.conn().await?;
        let statement = conn
            .prepare_cached(
                "SELECT member_id, member_kind, display FROM scim_members
                 WHERE tenant = $1 AND group_id = $2 AND member_id = ANY($3)",
            )
            .await
            .map_err(db)?;
        conn.query(&statement, &[&self.tenant.as_str(), &group_id, &member_ids])
            .await
            .map_err(db)?
            .iter()
            .map(|row| member_from(row, 0))
            .collect()
    }

    async fn query_unbounded(&self, query: Query) -> Result<Found, StoreError> {
        let conn = self.store.conn().await?;
        crate::query::run(&conn, &self.tenant, &query).await
    }

    async fn revisions_unbounded(
        &self,
        after: u64,
        limit: usize,
    ) -> Result<Vec<Revision>, StoreError> {
        let conn = self.store.conn().await?;
        feed::after(&conn, self.tenant.as_str(), after, limit).await
    }

    async fn revisions_of_unbounded(
        &self,
        target: &TargetRef,
    ) -> Result<Vec<Revision>, StoreError> {
        let conn = self.store.conn().await?;
        feed::of(&conn, self.tenant.as_str(), target).await
    }

    async fn history_unbounded(
        &self,
        target: &TargetRef,
        skip: usize,
        take: usize,
    ) -> Result<HistoryPart, StoreError> {
        let mut conn = self.store.conn().await?;
        feed::settle(&conn, self.tenant.as_str()).await?;
        // One snapshot for the count and the page.
        let tx = crate::whole::read_only(&mut conn).await?;
        let page = feed::history(&tx, self.tenant.as_str(), target, skip, take).await?;
        tx.commit().await.map_err(db)?;
        Ok(page)
    }
}

#[async_trait]
impl Partition for PgPartition {
    async fn get(&self, kind: Kind, id: &str) -> Result<Option<Record>, StoreError> {
        self.store.bounded(self.get_unbounded(kind, id)).await
    }

    async fn members(&self, group_id: &str) -> Result<Vec<Member>, StoreError> {
        self.store.bounded(self.members_unbounded(group_id)).await
    }

    async fn members_among(
        &self,
        group_id: &str,
        member_ids: &[&str],
    ) -> Result<Vec<Member>, StoreError> {
        self.store
            .bounded(self.members_among_unbounded(group_id, member_ids))
            .await
    }

    async fn groups_of(&self, member_id: &str) -> Result<Vec<String>, StoreError> {
        self.store
            .bounded(self.groups_of_unbounded(member_id))
            .await
    }

    async fn groups_of_each(
        &self,
        member_ids: &[String],
    ) -> Result<HashMap<String, Vec<String>>, StoreError> {
        self.store
            .bounded(self.groups_of_each_unbounded(member_ids))
            .await
    }

    async fn lookup(&self, key: &IndexKey) -> Result<Vec<String>, StoreError> {
        self.store.bounded(self.lookup_unbounded(key)).await
    }

    async fn query(&self, query: Query) -> Result<Found, StoreError> {
        self.store.bounded(self.query_unbounded(query)).await
    }

    async fn commit(&self, write: Write) -> Result<(), StoreError> {
        self.store.bounded(self.commit_unbounded(write)).await
    }

    async fn revisions(&self, after: u64, limit: usize) -> Result<Vec<Revision>, StoreError> {
        self.store
            .bounded(self.revisions_unbounded(after, limit))
            .await
    }

    async fn revisions_of(&self, target: &TargetRef) -> Result<Vec<Revision>, StoreError> {
        self.store
            .bounded(self.revisions_of_unbounded(target))
            .await
    }

    async fn history(
        &self,
        target: &TargetRef,
        skip: usize,
        take: usize,
    ) -> Result<HistoryPart, StoreError> {
        self.store
            .bounded(self.history_unbounded(target, skip, take))
            .await
    }

    async fn export(&self) -> Result<Dump, StoreError> {
        self.store.export_part(&self.tenant).await
    }

    async fn import(&self, dump: Dump) -> Result<(), StoreError> {
        self.store.import_part(&self.tenant, dump).await
    }
}

/// As for [`PgPartition`]: the calls a request makes, bounded below. A copy, an import, the
/// engine's check and a tenant's deletion are not bounded: they take as long as the data does.
impl PgStore {
    async fn delete_session_unbounded(&self, digest: &str) -> Result<(), StoreError> {
        let conn = self.conn().await?;
        conn.execute("DELETE FROM scim_sessions WHERE digest = $1", &[&digest])
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn flush_unbounded(&self) -> Result<(), StoreError> {
        // Every commit is durable when it returns (synchronous_commit); numbering is not
        // durability, but a caller that flushes expects the feed complete.
        self.settle_all().await
    }

    async fn key_by_digest_unbounded(&self, digest: &str) -> Result<Option<ApiKey>, StoreError> {
        if let Some(key) = self.cache.key(digest) {
            return Ok(Some(key));
        }
        let began = self.cache.begin();
        let conn = self.conn().await?;
        let statement = conn
            .prepare_cached("SELECT body FROM scim_keys WHERE digest = $1")
            .await
            .map_err(db)?;
        let key: Option<ApiKey> = conn
            .query_opt(&statement, &[&digest])
            .await
            .map_err(db)?
            .map(|r| serde_json::from_value(r.get(0)).map_err(corrupt))
            .transpose()?;
        // Unknown digests are not remembered: a stream of wrong keys must not fill memory.
        if let Some(k) = &key {
            self.cache.keep_key(began, k);
        }
        Ok(key)
    }

    async fn keys_unbounded(&self) -> Result<Vec<ApiKey>, StoreError> {
        let conn = self.conn().await?;
        conn.query("SELECT body FROM scim_keys ORDER BY id", &[])
            .await
            .map_err(db)?
            .into_iter()
            .map(|r| serde_json::from_value(r.get(0)).map_err(corrupt))
            .collect()
    }

    async fn operator_revisions_unbounded(
        &self,
        after: u64,
        limit: usize,
    ) -> Result<Vec<Revision>, StoreError> {
        let conn = self.conn().await?;
        feed::after(&conn, "", after, limit).await
    }

    async fn prune_sessions_unbounded(
        &self,
        seen_before: OffsetDateTime,
        opened_before: OffsetDateTime,
        keep: usize,
    ) -> Result<(), StoreError> {
        let conn = self.conn().await?;
        let keep = i64::try_from(keep).unwrap_or(i64::MAX);
        conn.execute(
            "DELETE FROM scim_sessions WHERE seen < $1 OR opened < $2",
            &[&nanos(seen_before), &nanos(opened_before)],
        )
        .await
        .map_err(db)?;
        conn.execute(
            "DELETE FROM scim_sessions WHERE digest IN (
                 SELECT digest FROM scim_sessions ORDER BY seen DESC OFFSET $1)",
            &[&keep],
        )
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn put_key_unbounded(&self, key: ApiKey, revision: Revision) -> Result<(), StoreError> {
        self.put_key_now(&key, &revision).await
    }

    async fn put_session_unbounded(&self, session: WebSession) -> Result<(), StoreError> {
        let conn = self.conn().await?;
        let body = serde_json::to_value(&session).map_err(corrupt)?;
        conn.execute(
            "INSERT INTO scim_sessions (digest, body, opened, seen) VALUES ($1, $2, $3, $4)
             ON CONFLICT (digest) DO UPDATE SET body = $2, opened = $3, seen = $4",
            &[
                &session.digest,
                &body,
                &nanos(session.opened),
                &nanos(session.seen),
            ],
        )
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn put_tenant_unbounded(
        &self,
        tenant: Tenant,
        revision: Revision,
    ) -> Result<(), StoreError> {
        self.put_tenant_now(&tenant, &revision).await
    }

    async fn session_unbounded(&self, digest: &str) -> Result<Option<WebSession>, StoreError> {
        let conn = self.conn().await?;
        conn.query_opt(
            "SELECT body FROM scim_sessions WHERE digest = $1",
            &[&digest],
        )
        .await
        .map_err(db)?
        .map(|r| serde_json::from_value(r.get(0)).map_err(corrupt))
        .transpose()
    }

    async fn tenant_unbounded(&self, id: &TenantId) -> Result<Option<Tenant>, StoreError> {
        if let Some(cached) = self.cache.tenant(id) {
            return Ok(cached);
        }
        let began = self.cache.begin();
        let conn = self.conn().await?;
        let statement = conn
            .prepare_cached("SELECT body FROM scim_tenants WHERE id = $1")
            .await
            .map_err(db)?;
        let tenant: Option<Tenant> = conn
            .query_opt(&statement, &[&id.as_str()])
            .await
            .map_err(db)?
            .map(|r| serde_json::from_value(r.get(0)).map_err(corrupt))
            .transpose()?;
        self.cache.keep_tenant(began, id, tenant.clone());
        Ok(tenant)
    }

    async fn tenants_unbounded(&self) -> Result<Vec<Tenant>, StoreError> {
        let conn = self.conn().await?;
        conn.query("SELECT body FROM scim_tenants ORDER BY id", &[])
            .await
            .map_err(db)?
            .into_iter()
            .map(|r| serde_json::from_value(r.get(0)).map_err(corrupt))
            .collect()
    }

    async fn touch_key_unbounded(&self, id: &str, when: OffsetDateTime) -> Result<(), StoreError> {
        self.touch_key_now(id, when).await
    }

    async fn webhooks_unbounded(
        &self,
        tenant: &TenantId,
    ) -> Result<Vec<WebhookEndpoint>, StoreError> {
        let conn = self.conn().await?;
        conn.query(
            "SELECT body FROM scim_webhooks WHERE tenant = $1 ORDER BY id",
            &[&tenant.as_str()],
        )
        .await
        .map_err(db)?
        .into_iter()
        .map(|r| serde_json::from_value(r.get(0)).map_err(corrupt))
        .collect()
    }

    async fn delivery_unbounded(
        &self,
        tenant: &TenantId,
        endpoint: &str,
    ) -> Result<Option<scim_core::delivery::Delivery>, StoreError> {
        let conn = self.conn().await?;
        conn.query_opt(
            "SELECT body FROM scim_deliveries WHERE tenant = $1 AND endpoint = $2",
            &[&tenant.as_str(), &endpoint],
        )
        .await
        .map_err(db)?
        .map(|r| serde_json::from_value(r.get(0)).map_err(corrupt))
        .transpose()
    }

    async fn put_delivery_unbounded(
        &self,
        tenant: &TenantId,
        endpoint: &str,
        delivery: &scim_core::delivery::Delivery,
    ) -> Result<(), StoreError> {
        let body = serde_json::to_value(delivery).map_err(corrupt)?;
        let conn = self.conn().await?;
        conn.execute(
            "INSERT INTO scim_deliveries (tenant, endpoint, body) VALUES ($1, $2, $3)
             ON CONFLICT (tenant, endpoint) DO UPDATE SET body = EXCLUDED.body",
            &[&tenant.as_str(), &endpoint, &body],
        )
        .await
        .map_err(db)
        .map(drop)
    }
}

#[async_trait]
impl Store for PgStore {
    fn partition(&self, tenant: &TenantId) -> Result<Arc<dyn Partition>, StoreError> {
        Ok(Arc::new(PgPartition {
            store: self.clone(),
            tenant: tenant.clone(),
        }))
    }

    async fn tenants(&self) -> Result<Vec<Tenant>, StoreError> {
        self.bounded(self.tenants_unbounded()).await
    }

    async fn tenant(&self, id: &TenantId) -> Result<Option<Tenant>, StoreError> {
        self.bounded(self.tenant_unbounded(id)).await
    }

    async fn put_tenant(&self, tenant: Tenant, revision: Revision) -> Result<(), StoreError> {
        self.bounded(self.put_tenant_unbounded(tenant, revision))
            .await
    }

    async fn delete_tenant(&self, id: &TenantId, revision: Revision) -> Result<(), StoreError> {
        self.delete_tenant_now(id, &revision).await
    }

    async fn keys(&self) -> Result<Vec<ApiKey>, StoreError> {
        self.bounded(self.keys_unbounded()).await
    }

    async fn key_by_digest(&self, digest: &str) -> Result<Option<ApiKey>, StoreError> {
        self.bounded(self.key_by_digest_unbounded(digest)).await
    }

    async fn put_key(&self, key: ApiKey, revision: Revision) -> Result<(), StoreError> {
        self.bounded(self.put_key_unbounded(key, revision)).await
    }

    async fn touch_key(&self, id: &str, when: OffsetDateTime) -> Result<(), StoreError> {
        self.bounded(self.touch_key_unbounded(id, when)).await
    }

    async fn webhooks(&self, tenant: &TenantId) -> Result<Vec<WebhookEndpoint>, StoreError> {
        self.bounded(self.webhooks_unbounded(tenant)).await
    }

    async fn put_webhook(
        &self,
        tenant: &TenantId,
        endpoint: WebhookEndpoint,
        revision: Revision,
    ) -> Result<(), StoreError> {
        self.bounded(self.put_webhook_now(tenant, &endpoint, &revision))
            .await
    }

    async fn delivery(
        &self,
        tenant: &TenantId,
        endpoint: &str,
    ) -> Result<Option<scim_core::delivery::Delivery>, StoreError> {
        self.bounded(self.delivery_unbounded(tenant, endpoint))
            .await
    }

    async fn put_delivery(
        &self,
        tenant: &TenantId,
        endpoint: &str,
        delivery: &scim_core::delivery::Delivery,
    ) -> Result<(), StoreError> {
        self.bounded(self.put_delivery_unbounded(tenant, endpoint, delivery))
            .await
    }

    async fn put_session(&self, session: WebSession) -> Result<(), StoreError> {
        self.bounded(self.put_session_unbounded(session)).await
    }

    async fn session(&self, digest: &str) -> Result<Option<WebSession>, StoreError> {
        self.bounded(self.session_unbounded(digest)).await
    }

    async fn delete_session(&self, digest: &str) -> Result<(), StoreError> {
        self.bounded(self.delete_session_unbounded(digest)).await
    }

    async fn prune_sessions(
        &self,
        seen_before: OffsetDateTime,
        opened_before: OffsetDateTime,
        keep: usize,
    ) -> Result<(), StoreError> {
        self.bounded(self.prune_sessions_unbounded(seen_before, opened_before, keep))
            .await
    }

    async fn operator_revisions(
        &self,
        after: u64,
        limit: usize,
    ) -> Result<Vec<Revision>, StoreError> {
        self.bounded(self.operator_revisions_unbounded(after, limit))
            .await
    }

    async fn export(&self) -> Result<Export, StoreError> {
        self.export_all().await
    }

    async fn import(&self, export: Export) -> Result<(), StoreError> {
        self.import_all(export).await
    }

    async fn check(&self) -> Result<Vec<String>, StoreError> {
        self.check_now().await
    }

    async fn flush(&self) -> Result<(), StoreError> {
        self.bounded(self.flush_unbounded()).await
    }

    fn size_on_disk(&self) -> u64 {
        self.size_now()
    }

    fn failure(&self) -> Option<String> {
        // A database that is down is not a failure of this process: requests are answered 503
        // while it is, and served again when it returns.
        None
    }
}
