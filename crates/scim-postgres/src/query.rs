//! Lists. Every record of a kind is counted and paged by the database. A filtered list selects
//! its candidates in SQL (the rows the index probes name, else every row of the kind), streams
//! them through the query's matcher (the authority), and pages what matched the way every engine
//! does ([`Collector`]). What a matcher needs of a candidate's groups or members is read for a
//! batch of candidates at once.

use std::collections::HashMap;

use deadpool_postgres::GenericClient;
use futures_util::{pin_mut, TryStreamExt};
use scim_core::model::{Index, Kind, Member, Record, TenantId};
use scim_core::query::{Collector, PageEntry, Probe};
use scim_core::store::{Found, Lookup, Query, Selection, StoreError};
use scim_proto::filter::CompareOp;
use tokio_postgres::types::ToSql;

use crate::write::{record_from, RECORD_COLUMNS};
use crate::{db, kind_code, kind_of};

/// Candidates are tested this many at a time (with their related rows read once per batch).
const BATCH: usize = 500;

type Params = Vec<Box<dyn ToSql + Sync + Send>>;

/// Escapes `%`, `_` and `\` for a `LIKE` pattern (backslash is its escape character).
pub(crate) fn like_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The column an index's text is in.
fn column(index: Index) -> &'static str {
    match index {
        Index::UserName | Index::GroupDisplayName => "name_key",
        Index::UserExternalId | Index::GroupExternalId => "external_id",
    }
}

/// The SQL condition that selects what the probes name (their union), with its parameters after
/// `params`.
fn probe_condition(probes: &[Probe], params: &mut Params) -> String {
    let mut ids: Vec<String> = Vec::new();
    let mut parts = Vec::new();
    let bind = |params: &mut Params, v: String| {
        params.push(Box::new(v));
        format!("${}", params.len())
    };
    for probe in probes {
        match probe {
            Probe::Id(id) => ids.push(id.clone()),
            Probe::Equal(key) => {
                let col = column(key.index());
                let p = bind(params, key.text().to_string());
                parts.push(format!("{col} = {p}"));
            }
            Probe::Matching(index, op, text) => {
                let col = column(*index);
                let cond = match op {
                    CompareOp::Eq => format!("{col} = {}", bind(params, text.clone())),
                    CompareOp::Ne => format!("{col} <> {}", bind(params, text.clone())),
                    CompareOp::Co => format!(
                        "{col} LIKE {}",
                        bind(params, format!("%{}%", like_escape(text)))
                    ),
                    CompareOp::Sw => format!(
                        "{col} LIKE {}",
                        bind(params, format!("{}%", like_escape(text)))
                    ),
                    CompareOp::Ew => format!(
                        "{col} LIKE {}",
                        bind(params, format!("%{}", like_escape(text)))
                    ),
                    CompareOp::Gt => format!("{col} > {}", bind(params, text.clone())),
                    CompareOp::Ge => format!("{col} >= {}", bind(params, text.clone())),
                    CompareOp::Lt => format!("{col} < {}", bind(params, text.clone())),
                    CompareOp::Le => format!("{col} <= {}", bind(params, text.clone())),
                };
                parts.push(cond);
            }
        }
    }
    if !ids.is_empty() {
        params.push(Box::new(ids));
        parts.push(format!("id = ANY(${})", params.len()));
    }
    if parts.is_empty() {
        "false".into()
    } else {
        format!("({})", parts.join(" OR "))
    }
}

/// Answers a list query in one tenant.
pub(crate) async fn run(
    client: &impl GenericClient,
    tenant: &TenantId,
    q: &Query,
) -> Result<Found, StoreError> {
    let t = tenant.as_str();
    let kind = kind_code(q.kind);
    let (matcher, probes) = match &q.selection {
        Selection::All => {
            let skip = i64::try_from(q.skip).unwrap_or(i64::MAX);
            let take = i64::try_from(q.take).unwrap_or(i64::MAX);
            let count = client
                .prepare_cached(
                    "SELECT count(*) FROM scim_resources WHERE tenant = $1 AND kind = $2",
                )
                .await
                .map_err(db)?;
            let page = client
                .prepare_cached(&format!(
                    "SELECT {RECORD_COLUMNS} FROM scim_resources WHERE tenant = $1 AND kind = $2
                     ORDER BY id OFFSET $3 LIMIT $4"
                ))
                .await
                .map_err(db)?;
            let (count_params, page_params): ([&(dyn ToSql + Sync); 2], [&(dyn ToSql + Sync); 4]) =
                ([&t, &kind], [&t, &kind, &skip, &take]);
            let (total, rows) = tokio::join!(
                client.query_one(&count, &count_params),
                client.query(&page, &page_params)
            );
            let total: i64 = total.map_err(db)?.get(0);
            let records = rows
                .map_err(db)?
                .iter()
                .map(|r| record_from(r, 0))
                .collect::<Result<Vec<_>, _>>()?;
            return Ok(Found {
                total: usize::try_from(total).unwrap_or(0),
                records,
            });
        }
        Selection::Matching { matcher, probes } => (matcher, probes),
    };
    let mut params: Params = vec![Box::new(t.to_string()), Box::new(kind)];
    let condition = match probes {
        Some(p) => probe_condition(p, &mut params),
        None => "true".into(),
    };
    let sql = format!(
        "SELECT {RECORD_COLUMNS} FROM scim_resources WHERE tenant = $1 AND kind = $2 AND {condition}
         ORDER BY id"
    );
    let statement = client.prepare_cached(&sql).await.map_err(db)?;
    let refs: Vec<&(dyn ToSql + Sync)> =
        params.iter().map(|p| &**p as &(dyn ToSql + Sync)).collect();
    let rows = client.query_raw(&statement, refs).await.map_err(db)?;
    pin_mut!(rows);
    let mut collector = Collector::new(matcher);
    let mut related = Related::default();
    let mut batch = Vec::with_capacity(BATCH);
    loop {
        let row = rows.try_next().await.map_err(db)?;
        let done = row.is_none();
        if let Some(row) = row {
            batch.push(record_from(&row, 0)?);
        }
        if batch.len() >= BATCH || (done && !batch.is_empty()) {
            if matcher.needs_related() {
                related.read(client, t, q.kind, &batch).await?;
            }
            for record in batch.drain(..) {
                collector.offer(record, &related)?;
            }
        }
        if done {
            break;
        }
    }
    let page = collector.page(q.skip, q.take);
    let missing: Vec<String> = page
        .entries
        .iter()
        .filter_map(|e| match e {
            PageEntry::Read(id) => Some(id.clone()),
            PageEntry::Kept(_) => None,
        })
        .collect();
    let mut read: HashMap<String, Record> = HashMap::new();
    if !missing.is_empty() {
        let again = client
            .prepare_cached(&format!(
                "SELECT {RECORD_COLUMNS} FROM scim_resources
                 WHERE tenant = $1 AND kind = $2 AND id = ANY($3)"
            ))
            .await
            .map_err(db)?;
        for row in client
            .query(&again, &[&t, &kind, &missing])
            .await
            .map_err(db)?
        {
            let r = record_from(&row, 0)?;
            read.insert(r.id.clone(), r);
        }
    }
    let mut records = Vec::with_capacity(page.entries.len());
    for entry in page.entries {
        match entry {
            PageEntry::Kept(r) => records.push(r),
            // A record deleted since it matched is left out.
            PageEntry::Read(id) => records.extend(read.remove(&id)),
        }
    }
    Ok(Found {
        total: page.total,
        records,
    })
}

/// The groups of users, or the members of groups, of the candidates tested, and the groups'
/// records (for their display names): what a matcher reads through [`Lookup`].
#[derive(Default)]
struct Related {
    groups_of: HashMap<String, Vec<String>>,
    members: HashMap<String, Vec<Member>>,
    groups: HashMap<String, Record>,
}

impl Related {
    async fn read(
        &mut self,
        client: &impl GenericClient,
        tenant: &str,
        kind: Kind,
        batch: &[Record],
    ) -> Result<(), StoreError> {
        let ids: Vec<&str> = batch.iter().map(|r| r.id.as_str()).collect();
        // Only this batch's relations are kept (the groups' records stay: few, and shared).
        self.groups_of.clear();
        self.members.clear();
        match kind {
            Kind::User => {
                let rows = client
                    .query(
                        "SELECT member_id, group_id FROM scim_members
                         WHERE tenant = $1 AND member_id = ANY($2) ORDER BY member_id, group_id",
                        &[&tenant, &ids],
                    )
                    .await
                    .map_err(db)?;
                let mut wanted = Vec::new();
                for row in rows {
                    let (m, g): (String, String) = (row.get(0), row.get(1));
                    if !self.groups.contains_key(&g) {
                        wanted.push(g.clone());
                    }
                    self.groups_of.entry(m).or_default().push(g);
                }
                if !wanted.is_empty() {
                    let rows = client
                        .query(
                            &format!(
                                "SELECT {RECORD_COLUMNS} FROM scim_resources
                                 WHERE tenant = $1 AND kind = 1 AND id = ANY($2)"
                            ),
                            &[&tenant, &wanted],
                        )
                        .await
                        .map_err(db)?;
                    for row in rows {
                        let r = record_from(&row, 0)?;
                        self.groups.insert(r.id.clone(), r);
                    }
                }
            }
            Kind::Group => {
                let rows = client
                    .query(
                        "SELECT group_id, member_id, member_kind, display FROM scim_members
                         WHERE tenant = $1 AND group_id = ANY($2) ORDER BY group_id, member_id",
                        &[&tenant, &ids],
                    )
                    .await
                    .map_err(db)?;
                for row in rows {
                    let g: String = row.get(0);
                    let member = member_from(&row, 1)?;
                    self.members.entry(g).or_default().push(member);
                }
            }
        }
        Ok(())
    }
}

/// A member from `member_id, member_kind, display` starting at column `at`.
pub(crate) fn member_from(row: &tokio_postgres::Row, at: usize) -> Result<Member, StoreError> {
    Ok(Member {
        value: row.get(at),
        kind: kind_of(row.get(at + 1))?.into(),
        display: row.get(at + 2),
    })
}

impl Lookup for Related {
    fn record(&self, kind: Kind, id: &str) -> Result<Option<Record>, StoreError> {
        Ok(match kind {
            Kind::Group => self.groups.get(id).cloned(),
            Kind::User => None,
        })
    }
    fn members(&self, group_id: &str) -> Result<Vec<Member>, StoreError> {
        Ok(self.members.get(group_id).cloned().unwrap_or_default())
    }
    fn groups_of(&self, member_id: &str) -> Result<Vec<String>, StoreError> {
        Ok(self.groups_of.get(member_id).cloned().unwrap_or_default())
    }
}
