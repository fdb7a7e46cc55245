//! How feeds stay gap-free across concurrent transactions and replicas.
//!
//! A sequence number handed out inside a transaction would become visible in the order
//! transactions commit, not the order they were numbered: a reader that saw 11 before 10
//! committed would skip 10 for ever. So a revision row is written with no number, and numbered
//! after it commits by the sequencer ([`settle`]): in a transaction of its own, under the feed's
//! advisory lock, it gives every unnumbered row it can see (so: committed) the next numbers after
//! the feed's largest, in the order the rows were written. A number is only ever given to an entry
//! already visible to every reader, and any entry that commits later gets a larger one: a reader
//! of `seq > n` never misses an entry. Two changes of one resource are numbered in the order they
//! committed (the second waited for the first's row lock, so no snapshot sees it without the
//! first). Another database's transactions, however long, never hold a feed back.
//!
//! Who numbers: each replica's sequencer task after its own commits (coalesced) and once a second
//! for every feed (rows of a replica that died before numbering them), and every reader of a feed
//! before it reads. Numbering is a short transaction of its own.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use deadpool_postgres::{GenericClient, Pool};
use scim_core::model::{Revision, TargetRef};
use scim_core::store::{HistoryPart, StoreError};
use tokio::sync::Notify;

use crate::{corrupt, db, lock_id};

/// The feeds this replica wrote to since its sequencer last ran.
#[derive(Default)]
pub(crate) struct Settler {
    dirty: Mutex<HashSet<String>>,
    wake: Notify,
}

impl Settler {
    /// A commit wrote to `feed`: the sequencer numbers it soon.
    pub(crate) fn wrote(&self, feed: &str) {
        if let Ok(mut d) = self.dirty.lock() {
            if !d.contains(feed) {
                d.insert(feed.to_string());
            }
        }
        self.wake.notify_one();
    }

    fn take(&self) -> Vec<String> {
        self.dirty
            .lock()
            .map(|mut d| d.drain().collect())
            .unwrap_or_default()
    }
}

/// Numbers the committed, unnumbered entries of `feed` below the horizon.
pub(crate) async fn settle(client: &impl GenericClient, feed: &str) -> Result<(), StoreError> {
    let waiting = client
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM scim_revisions WHERE feed = $1 AND seq IS NULL)",
        )
        .await
        .map_err(db)?;
    if !client
        .query_one(&waiting, &[&feed])
        .await
        .map_err(db)?
        .get::<_, bool>(0)
    {
        return Ok(());
    }
    // One message of two statements, which the database runs as one transaction: the lock,
    // then the numbering, a statement of its own after the lock, whose snapshot sees every
    // earlier round's numbers. The lock is released when they end, and a failure rolls both
    // back. Sent as one message, it runs whole even if this request is dropped meanwhile (past
    // its bound), so no connection goes back to the pool inside an open transaction. The feed
    // is a tenant id (`[a-z0-9-]`) or empty; it is quoted all the same.
    let feed_literal = format!("'{}'", feed.replace('\'', "''"));
    client
        .batch_execute(&format!(
            "SELECT pg_advisory_xact_lock({lock});
             WITH base AS (
                 SELECT coalesce(max(seq), 0) AS last FROM scim_revisions WHERE feed = {feed_literal}
             ), due AS (
                 SELECT id, row_number() OVER (ORDER BY id) AS n
                 FROM scim_revisions WHERE feed = {feed_literal} AND seq IS NULL
             )
             UPDATE scim_revisions r SET seq = base.last + due.n
             FROM base, due WHERE r.id = due.id",
            lock = lock_id("feed", feed),
        ))
        .await
        .map_err(db)
}

/// Numbers every feed that has unnumbered entries.
pub(crate) async fn settle_all(client: &impl GenericClient) -> Result<(), StoreError> {
    let feeds: Vec<String> = client
        .query(
            "SELECT DISTINCT feed FROM scim_revisions WHERE seq IS NULL",
            &[],
        )
        .await
        .map_err(db)?
        .iter()
        .map(|r| r.get(0))
        .collect();
    for feed in feeds {
        settle(client, &feed).await?;
    }
    Ok(())
}

/// The sequencer, and the measure of the tables' size: runs for the life of the engine.
pub(crate) async fn run(pool: Pool, settler: Arc<Settler>, size: Arc<AtomicU64>) {
    let mut ticks = 0u64;
    let mut analyzed = std::time::Instant::now();
    loop {
        let woken = tokio::select! {
            _ = settler.wake.notified() => true,
            _ = tokio::time::sleep(Duration::from_secs(1)) => false,
        };
        let Ok(conn) = pool.get().await else {
            continue;
        };
        // Every second or so, also under a steady stream of writes (which wakes the loop first).
        if analyzed.elapsed() >= Duration::from_secs(1) {
            analyzed = std::time::Instant::now();
            if let Err(e) = analyze_unanalyzed(&conn).await {
                tracing::debug!(error = %e, "analyzing the tables failed: it is tried again");
            }
        }
        if woken {
            for feed in settler.take() {
                if let Err(e) = settle(&conn, &feed).await {
                    tracing::debug!(feed, error = %e, "numbering a feed failed: it is tried again");
                    settler.wrote(&feed);
                }
            }
        } else {
            ticks += 1;
            if let Err(e) = settle_all(&conn).await {
                tracing::debug!(error = %e, "numbering the feeds failed: it is tried again");
            }
            if ticks % 10 == 1 {
                if let Ok(row) = conn
                    .query_one(
                        "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)::bigint
                         FROM pg_class c
                         WHERE c.relkind = 'r' AND c.relname LIKE 'scim\\_%'
                           AND c.relnamespace = ANY (current_schemas(false)::regnamespace[])",
                        &[],
                    )
                    .await
                {
                    let bytes: i64 = row.get(0);
                    size.store(u64::try_from(bytes).unwrap_or(0), Ordering::Relaxed);
                }
            }
        }
    }
}

/// Rows written to a table that was never analyzed before its statistics are gathered here.
pub(crate) const ANALYZE_AFTER_ROWS: i64 = 200;

/// Gathers the statistics of the engine's tables that have none yet but have been written to
/// (`ANALYZE`). Without statistics the planner guesses every equality as selective, and for a
/// lookup by `(tenant, kind, id)` it took the smallest index that starts with `(tenant, kind)`
/// (external ids, mostly NULL), filtering every resource of the tenant: GET by id ran at 315/s
/// against 6,000/s once analyzed (`cargo xtask bench --store postgres`, the workload's GET right
/// after its 10,000 creates). Autovacuum gathers them too, but only at its next round (a minute
/// by default); from then on it keeps them fresh, and this does nothing.
/// `a_table_written_before_any_statistics_is_analyzed_within_seconds` tests it.
pub(crate) async fn analyze_unanalyzed(client: &impl GenericClient) -> Result<(), StoreError> {
    let rows = client
        .query(
            "SELECT relname::text FROM pg_stat_user_tables
             WHERE relname LIKE 'scim\\_%' AND schemaname = ANY (current_schemas(false))
               AND last_analyze IS NULL AND last_autoanalyze IS NULL
               AND n_mod_since_analyze >= $1",
            &[&ANALYZE_AFTER_ROWS],
        )
        .await
        .map_err(db)?;
    for row in rows {
        let table: String = row.get(0);
        // The name comes from the catalogue and matches `scim_…`; quoted all the same.
        let quoted = format!("\"{}\"", table.replace('"', "\"\""));
        client
            .batch_execute(&format!("ANALYZE {quoted}"))
            .await
            .map_err(db)?;
        tracing::info!(
            table,
            "gathered the statistics of a table written before any"
        );
    }
    Ok(())
}

fn entry(seq: Option<i64>, value: serde_json::Value) -> Result<Revision, StoreError> {
    let mut r: Revision = serde_json::from_value(value).map_err(corrupt)?;
    r.seq = seq.map_or(0, |s| u64::try_from(s).unwrap_or(0));
    Ok(r)
}

/// A feed after `after`, oldest first, at most `limit`: numbered first, then read.
pub(crate) async fn after(
    client: &impl GenericClient,
    feed: &str,
    after: u64,
    limit: usize,
) -> Result<Vec<Revision>, StoreError> {
    settle(client, feed).await?;
    let after = i64::try_from(after).unwrap_or(i64::MAX);
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let read = client
        .prepare_cached(
            "SELECT seq, entry FROM scim_revisions WHERE feed = $1 AND seq > $2
             ORDER BY seq LIMIT $3",
        )
        .await
        .map_err(db)?;
    client
        .query(&read, &[&feed, &after, &limit])
        .await
        .map_err(db)?
        .into_iter()
        .map(|r| entry(r.get(0), r.get(1)))
        .collect()
}

/// The history key of a target: `User:<id>`.
pub(crate) fn target_key(t: &TargetRef) -> String {
    format!("{}:{}", t.target_type.as_str(), t.target_id)
}

/// One resource's history, oldest first (numbered entries and those still waiting for their
/// number, in the same order).
pub(crate) async fn of(
    client: &impl GenericClient,
    feed: &str,
    target: &TargetRef,
) -> Result<Vec<Revision>, StoreError> {
    settle(client, feed).await?;
    let read = client
        .prepare_cached(
            "SELECT r.seq, r.entry FROM scim_history h
             JOIN scim_revisions r ON r.id = h.revision
             WHERE h.feed = $1 AND h.target = $2
             ORDER BY r.seq NULLS LAST, r.id",
        )
        .await
        .map_err(db)?;
    client
        .query(&read, &[&feed, &target_key(target)])
        .await
        .map_err(db)?
        .into_iter()
        .map(|r| entry(r.get(0), r.get(1)))
        .collect()
}

/// A page of one resource's history, newest first (the reverse of [`of`]'s order), each entry
/// without its event (left out by the database), with how many entries it holds. The caller
/// numbers the feed first ([`settle`]) and runs this in one read-only snapshot, so that the
/// total and the page agree while other changes commit.
pub(crate) async fn history(
    client: &impl GenericClient,
    feed: &str,
    target: &TargetRef,
    skip: usize,
    take: usize,
) -> Result<HistoryPart, StoreError> {
    let target = target_key(target);
    let count = client
        .prepare_cached("SELECT count(*) FROM scim_history WHERE feed = $1 AND target = $2")
        .await
        .map_err(db)?;
    let total: i64 = client
        .query_one(&count, &[&feed, &target])
        .await
        .map_err(db)?
        .get(0);
    let read = client
        .prepare_cached(
            "SELECT r.seq, r.entry - 'event' FROM scim_history h
             JOIN scim_revisions r ON r.id = h.revision
             WHERE h.feed = $1 AND h.target = $2
             ORDER BY r.seq DESC NULLS FIRST, r.id DESC
             OFFSET $3 LIMIT $4",
        )
        .await
        .map_err(db)?;
    let (skip, take) = (
        i64::try_from(skip).unwrap_or(i64::MAX),
        i64::try_from(take).unwrap_or(i64::MAX),
    );
    let entries = client
        .query(&read, &[&feed, &target, &skip, &take])
        .await
        .map_err(db)?
        .into_iter()
        .map(|r| entry(r.get(0), r.get(1)))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(HistoryPart {
        total: usize::try_from(total).unwrap_or(0),
        entries,
    })
}

/// Every entry of a feed, oldest first (a copy: entries still waiting for their number are
/// numbered after the others, in the order the sequencer will number them).
pub(crate) async fn all(
    client: &impl GenericClient,
    feed: &str,
) -> Result<Vec<Revision>, StoreError> {
    let rows = client
        .query(
            "SELECT seq, entry FROM scim_revisions WHERE feed = $1 ORDER BY seq NULLS LAST, id",
            &[&feed],
        )
        .await
        .map_err(db)?;
    let mut out = Vec::with_capacity(rows.len());
    let mut last = 0;
    for r in rows {
        let mut e = entry(r.get(0), r.get(1))?;
        if r.get::<_, Option<i64>>(0).is_none() {
            e.seq = last + 1;
        }
        last = e.seq;
        out.push(e);
    }
    Ok(out)
}

/// The statement that writes a revision entry and its history rows.
const INSERT: &str = "WITH r AS (
         INSERT INTO scim_revisions (feed, seq, entry) VALUES ($1, $2, $3) RETURNING id
     )
     INSERT INTO scim_history (feed, target, revision)
     SELECT DISTINCT $1, t, r.id FROM r, unnest($4::text[]) AS t";

/// [`INSERT`], prepared on this connection.
pub(crate) async fn prepare_insert(
    client: &impl GenericClient,
) -> Result<tokio_postgres::Statement, StoreError> {
    client.prepare_cached(INSERT).await.map_err(db)
}

/// What [`INSERT`] binds for an entry: its history keys and its JSON.
pub(crate) fn insert_values(
    revision: &Revision,
) -> Result<(Vec<String>, serde_json::Value), StoreError> {
    let targets = revision.targets().map(|t| target_key(&t)).collect();
    Ok((targets, serde_json::to_value(revision).map_err(corrupt)?))
}

/// Writes a revision entry and its history rows in the caller's transaction (numbered later),
/// or with its number (an import).
pub(crate) async fn insert(
    client: &impl GenericClient,
    feed: &str,
    revision: &Revision,
    seq: Option<i64>,
) -> Result<(), StoreError> {
    let (targets, value) = insert_values(revision)?;
    let statement = prepare_insert(client).await?;
    client
        .execute(&statement, &[&feed, &seq, &value, &targets])
        .await
        .map_err(db)?;
    Ok(())
}
