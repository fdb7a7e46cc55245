//! Lists. Every record of a kind is counted and paged by the database. A filtered or sorted list
//! is compiled to SQL ([`crate::filter_sql`]):
//!
//! - when the condition is exact and the sort can be computed in SQL (or there is none: id
//!   order), one statement answers it: the matches' ids and sort keys are selected once, then
//!   counted and paged, and the page's rows read by id ([`page_statement`]); the condition is
//!   evaluated once, and the count and the page come from one snapshot. A sort key that SQL may
//!   order otherwise than Rust (a case-insensitive text holding `Σ`) is found by the same
//!   statement, and the list is then answered as below;
//! - otherwise the compiled condition (a superset, with the index probes when it is not exact)
//!   selects the candidates, which stream through the query's matcher (the authority) and are
//!   sorted and paged the way every engine does ([`Collector`]). What a matcher needs of a
//!   candidate's groups or members is read for a batch of candidates at once.
//!
//! Compiled statements are sent with their parameters' types in one round trip, unnamed and not
//! prepared for later: their text varies with the filter's shape, which clients choose, and a
//! cache of them would grow without bound.

use std::collections::HashMap;

use deadpool_postgres::{Client, GenericClient};
use futures_util::{pin_mut, TryStreamExt};
use scim_core::model::{Index, Kind, Member, Record, TenantId};
use scim_core::query::{Collector, Matcher, PageEntry, Probe};
use scim_core::store::{Found, Lookup, Query, Selection, StoreError};
use scim_proto::filter::CompareOp;
use tokio_postgres::types::ToSql;

use crate::filter_sql::{like_escape, Compiled, Compiler, Param, Params, SortSql};
use crate::write::{record_from, RECORD_COLUMNS};
use crate::{db, kind_code, kind_of};

/// Candidates are tested this many at a time (with their related rows read once per batch).
const BATCH: usize = 500;

/// The column an index's text is in.
fn column(index: Index) -> &'static str {
    match index {
        Index::UserName | Index::GroupDisplayName => "r.name_key",
        Index::UserExternalId | Index::GroupExternalId => "r.external_id",
    }
}

/// The SQL condition that selects what the probes name (their union), its parameters bound in
/// `params`.
fn probe_condition(probes: &[Probe], params: &mut Params) -> String {
    let mut ids: Vec<String> = Vec::new();
    let mut parts = Vec::new();
    for probe in probes {
        match probe {
            Probe::Id(id) => ids.push(id.clone()),
            Probe::Equal(key) => {
                let col = column(key.index());
                let p = params.text(key.text());
                parts.push(format!("{col} = {p}"));
            }
            Probe::Matching(index, op, text) => {
                let col = column(*index);
                let cond = match op {
                    CompareOp::Eq => format!("{col} = {}", params.text(text.as_str())),
                    CompareOp::Ne => format!("{col} <> {}", params.text(text.as_str())),
                    CompareOp::Co => {
                        format!(
                            "{col} LIKE {}",
                            params.text(format!("%{}%", like_escape(text)))
                        )
                    }
                    CompareOp::Sw => {
                        format!(
                            "{col} LIKE {}",
                            params.text(format!("{}%", like_escape(text)))
                        )
                    }
                    CompareOp::Ew => {
                        format!(
                            "{col} LIKE {}",
                            params.text(format!("%{}", like_escape(text)))
                        )
                    }
                    CompareOp::Gt => format!("{col} > {}", params.text(text.as_str())),
                    CompareOp::Ge => format!("{col} >= {}", params.text(text.as_str())),
                    CompareOp::Lt => format!("{col} < {}", params.text(text.as_str())),
                    CompareOp::Le => format!("{col} <= {}", params.text(text.as_str())),
                };
                parts.push(cond);
            }
        }
    }
    if !ids.is_empty() {
        parts.push(format!("r.id = ANY({})", params.texts(ids)));
    }
    if parts.is_empty() {
        "false".into()
    } else {
        format!("({})", parts.join(" OR "))
    }
}

/// Whether a probe's text holds NUL, which no text parameter can.
fn holds_nul(probe: &Probe) -> bool {
    match probe {
        Probe::Id(t) | Probe::Matching(_, _, t) => t.contains('\0'),
        Probe::Equal(key) => key.text().contains('\0'),
    }
}

/// How the database answers a filtered or sorted list.
pub(crate) struct Plan {
    /// The condition on `r`: exact, or a superset the matcher tests.
    pub condition: String,
    pub exact: bool,
    /// The sort in SQL (id order when it has no key); `None`: the matcher's sort, in Rust.
    pub sort: Option<SortSql>,
    pub params: Params,
}

/// Compiles the matcher's filter and sort.
pub(crate) fn plan(tenant: &str, kind: i16, matcher: &Matcher, probes: Option<&[Probe]>) -> Plan {
    let params = Params::new(vec![Param::Text(tenant.to_string()), Param::Small(kind)]);
    let compiler = Compiler::new(
        matcher.registry(),
        matcher.kind(),
        matcher.base_url(),
        params,
    );
    let sort = matcher.sort().map(|(by, order)| (by, *order));
    let Compiled {
        sql,
        mut params,
        exact,
        sort,
    } = if matcher.is_text_search() {
        // The admin search is the matcher's own.
        let mut c = compiler.compile(None, sort);
        c.exact = false;
        c
    } else {
        compiler.compile(matcher.filter(), sort)
    };
    let mut condition = sql;
    if !exact {
        // Probes are a superset too: a cheap one, when the filter's own is not exact.
        // (PostgreSQL's text holds no NUL: a probe for one is left out, no superset needs it.)
        if let Some(p) = probes.filter(|p| !p.iter().any(holds_nul)) {
            condition = format!("{condition} AND {}", probe_condition(p, &mut params));
        }
    }
    Plan {
        condition,
        exact,
        sort,
        params,
    }
}

/// `RECORD_COLUMNS` of the row `alias`.
fn columns_of(alias: &str) -> String {
    RECORD_COLUMNS
        .split(", ")
        .map(|c| format!("{alias}.{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The one statement that answers a list whose filter is exact and whose sort is in SQL: the
/// count (and whether a sort key is in doubt) and the page, in one snapshot, the condition
/// evaluated once (the matches' ids and keys are kept, then counted and paged). Its rows are
/// `total, doubt, RECORD_COLUMNS…, sk`; an empty page is one row, the count's, with NULLs.
pub(crate) fn page_statement(
    plan: &Plan,
    sort: &SortSql,
    skip: usize,
    take: usize,
) -> (String, Params) {
    let mut params = plan.params.clone();
    let skip = params.int(i64::try_from(skip).unwrap_or(i64::MAX));
    let take = params.int(i64::try_from(take).unwrap_or(i64::MAX));
    let join = sort.join.as_deref().unwrap_or("");
    let key = sort.key.as_deref().unwrap_or("NULL::text");
    let doubt = sort.doubt.as_deref().unwrap_or("FALSE");
    let sql = format!(
        "WITH m AS MATERIALIZED (
             SELECT r.id, {key} AS sk, {doubt} AS doubt FROM scim_resources r {join}
             WHERE r.tenant = $1 AND r.kind = $2 AND {condition}),
         t AS (SELECT count(*) AS total, coalesce(bool_or(doubt), false) AS doubt FROM m),
         p AS (SELECT id, sk FROM m ORDER BY {inner} OFFSET {skip} LIMIT {take})
         SELECT t.total, t.doubt, {columns}, p.sk FROM t LEFT JOIN (p JOIN scim_resources r
             ON r.tenant = $1 AND r.kind = $2 AND r.id = p.id) ON TRUE
         ORDER BY {outer}",
        condition = plan.condition,
        columns = columns_of("r"),
        inner = sort.order_by("sk", "id"),
        outer = sort.order_by("p.sk", "p.id"),
    );
    (sql, params)
}

/// Compiled statements a connection keeps prepared at most; past it, its cache is emptied.
pub(crate) const PREPARED_AT_MOST: usize = 256;

/// A compiled statement, prepared once per connection: its text depends only on the filter's
/// and the sort's shape (every value is a parameter), so the few shapes an identity provider
/// sends are parsed once and then only bound and run. Parsing and planning them at each request
/// (unnamed statements) cost the database most of a `userName eq` list's time. A client that
/// sends many shapes cannot fill the database's memory: past [`PREPARED_AT_MOST`] statements
/// the connection's cache (and the statements in the database) are dropped.
async fn prepared(
    client: &Client,
    sql: &str,
    params: &Params,
) -> Result<tokio_postgres::Statement, StoreError> {
    if client.statement_cache.size() >= PREPARED_AT_MOST {
        client.statement_cache.clear();
    }
    client
        .prepare_typed_cached(sql, &params.types())
        .await
        .map_err(db)
}

/// Answers a list with [`page_statement`]; `None` when the sort turned out to need Rust (a key
/// holding `Σ`).
async fn exact_page(
    client: &Client,
    plan: &Plan,
    sort: &SortSql,
    skip: usize,
    take: usize,
) -> Result<Option<Found>, StoreError> {
    let (sql, params) = page_statement(plan, sort, skip, take);
    let statement = prepared(client, &sql, &params).await?;
    let rows = client.query(&statement, &params.refs()).await.map_err(db)?;
    let Some(first) = rows.first() else {
        return Err(StoreError::Io("a count returned no row".into()));
    };
    let total: i64 = first.get(0);
    let doubt: bool = first.get(1);
    if doubt {
        return Ok(None);
    }
    let mut records = Vec::with_capacity(rows.len());
    for row in &rows {
        if row.get::<_, Option<String>>(3).is_some() {
            records.push(record_from(row, 2)?);
        }
    }
    Ok(Some(Found {
        total: usize::try_from(total).unwrap_or(0),
        records,
    }))
}

/// The statement that selects the candidates of a list the database does not answer alone.
pub(crate) fn candidates_statement(plan: &Plan) -> String {
    format!(
        "SELECT {columns} FROM scim_resources r WHERE r.tenant = $1 AND r.kind = $2 AND {}
         ORDER BY r.id",
        plan.condition,
        columns = columns_of("r"),
    )
}

/// Answers a list query in one tenant.
pub(crate) async fn run(
    client: &Client,
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
    let plan = plan(t, kind, matcher, probes.as_deref());
    if let (true, Some(sort)) = (plan.exact, &plan.sort) {
        if let Some(found) = exact_page(client, &plan, sort, q.skip, q.take).await? {
            #[cfg(test)]
            counts::EXACT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            return Ok(found);
        }
        #[cfg(test)]
        counts::DOUBTED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    } else {
        #[cfg(test)]
        if plan.exact {
            counts::RUST_SORT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        } else {
            counts::SUPERSET.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }
    // The superset, tested and sorted by the matcher.
    let sql = candidates_statement(&plan);
    let statement = prepared(client, &sql, &plan.params).await?;
    let rows = client
        .query_raw(&statement, plan.params.refs())
        .await
        .map_err(db)?;
    pin_mut!(rows);
    let mut collector = Collector::probed(matcher, probes.as_deref());
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

/// How lists were answered, for tests to see what they exercised.
#[cfg(test)]
pub(crate) mod counts {
    use std::sync::atomic::AtomicUsize;

    /// By the database alone.
    pub static EXACT: AtomicUsize = AtomicUsize::new(0);
    /// Exact, but a sort key held `Σ`: sorted in Rust.
    pub static DOUBTED: AtomicUsize = AtomicUsize::new(0);
    /// Exact, with a sort only Rust does.
    pub static RUST_SORT: AtomicUsize = AtomicUsize::new(0);
    /// A superset, tested by the matcher.
    pub static SUPERSET: AtomicUsize = AtomicUsize::new(0);
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
