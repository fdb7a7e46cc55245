//! The feed under concurrent writes through both replicas, and the rest of the cluster.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::Value;

use crate::support::*;

// The feed under concurrent writes.

/// What a feed reader on A saw while writers on both replicas created users.
struct FeedRun {
    polls: usize,
    entries: usize,
}

/// Writers on B (six) and A (two) create `per_writer` users each while a reader on A polls the
/// audit feed with `after` = the last `next` it was given, until it has seen the create of every
/// acknowledged user (entries join the feed a moment after they commit), or the whole feed holds
/// them all and a poll after that brought nothing new. Fails if the reader was given an entry out
/// of order, or if the whole feed read at the end holds an entry the reader never saw (it was
/// skipped), or differs from what it saw, or lacks an acknowledged create.
async fn feed_under_writes(p: &Pair, per_writer: usize) -> Result<FeedRun, String> {
    // The acknowledged creates, once every writer is done.
    let acked_all: Arc<std::sync::Mutex<Option<Vec<String>>>> = Arc::default();
    let reader = {
        let (api, acked_all) = (p.a.clone(), Arc::clone(&acked_all));
        tokio::spawn(async move {
            let mut seen: Vec<Value> = Vec::new();
            let (mut after, mut polls) = (0u64, 0usize);
            let mut last_look = false;
            let started = Instant::now();
            loop {
                let page = api
                    .admin(Method::GET, &format!("/audit?after={after}&limit=50"), None)
                    .await;
                polls += 1;
                if page.status != 200 {
                    return Err(format!("audit: {}", page.text));
                }
                let entries = page.body["entries"].as_array().cloned().unwrap_or_default();
                for e in &entries {
                    let seq = e["seq"].as_u64().unwrap_or(0);
                    if seq <= after {
                        return Err(format!("seq {seq} given after {after}: out of order"));
                    }
                    after = seq;
                }
                seen.extend(entries);
                let acked = acked_all.lock().expect("lock").clone();
                if let Some(acked) = acked {
                    let ids: Vec<&str> = acked.iter().map(String::as_str).collect();
                    if creates_all(&seen, &ids) || last_look {
                        return Ok((seen, polls));
                    }
                    // The reader lacks some: it is behind, or it skipped them. Once the whole
                    // feed holds them all, one more poll tells which.
                    last_look = creates_all(&api.feed().await, &ids);
                    if started.elapsed() > Duration::from_secs(60) {
                        return Err("the feed never held every acknowledged create".into());
                    }
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        })
    };
    let mut writers = Vec::new();
    for w in 0..8 {
        let api = if w < 6 { p.b.clone() } else { p.a.clone() };
        writers.push(tokio::spawn(async move {
            let mut acked = Vec::new();
            for n in 0..per_writer {
                let r = api
                    .scim(
                        Method::POST,
                        "/Users",
                        Some(user_body(&format!("feed-{}-{w}-{n}", api.name))),
                    )
                    .await;
                r.expect(201, "a create");
                acked.push(r.id());
            }
            acked
        }));
    }
    let mut acked = Vec::new();
    for w in writers {
        acked.extend(w.await.expect("writer"));
    }
    *acked_all.lock().expect("lock") = Some(acked.clone());
    let (seen, polls) = reader.await.expect("reader")?;
    let full = p.a.feed().await;
    if full != p.b.feed().await {
        return Err("A and B read different feeds".into());
    }
    let seen_seqs: BTreeSet<u64> = seen.iter().filter_map(|e| e["seq"].as_u64()).collect();
    let skipped: Vec<u64> = full
        .iter()
        .filter_map(|e| e["seq"].as_u64())
        .filter(|s| !seen_seqs.contains(s))
        .collect();
    if !skipped.is_empty() {
        return Err(format!(
            "the reader skipped {} entries (seq {:?}…) of {}",
            skipped.len(),
            &skipped[..skipped.len().min(10)],
            full.len()
        ));
    }
    if seen != full {
        return Err("what the reader saw differs from the feed".into());
    }
    let created: BTreeSet<&str> = full
        .iter()
        .filter(|e| e["action"] == "create")
        .filter_map(|e| e["target_id"].as_str())
        .collect();
    if let Some(missing) = acked.iter().find(|id| !created.contains(id.as_str())) {
        return Err(format!(
            "no feed entry for the acknowledged create of {missing}"
        ));
    }
    Ok(FeedRun {
        polls,
        entries: full.len(),
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_feed_read_on_one_replica_while_both_write_never_skips_an_entry() {
    let p = Pair::start().await;
    let run = feed_under_writes(&p, 25).await.expect("a gap-free feed");
    eprintln!("feed: {} entries read in {} polls", run.entries, run.polls);
    assert!(run.entries >= 200);
    p.stop().await;
}

/// The check above fails on a feed numbered when its entry is written (a sequence in the
/// writing transaction, with the transaction taking a little while to commit, as under load):
/// the reader is given a later number before an earlier one commits, and skips it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn teeth_the_feed_check_fails_on_a_feed_numbered_at_insert() {
    let p = Pair::start().await;
    p.db.sql(
        "CREATE SEQUENCE teeth_seq START 1000;
         CREATE FUNCTION teeth_number() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN
             NEW.seq := nextval('teeth_seq');
             PERFORM pg_sleep(random() * 0.05);
             RETURN NEW;
         END $$;
         CREATE TRIGGER teeth_number BEFORE INSERT ON scim_revisions
             FOR EACH ROW EXECUTE FUNCTION teeth_number();",
    )
    .await;
    let outcome = feed_under_writes(&p, 25).await;
    match outcome {
        Ok(run) => panic!(
            "a feed numbered at insert went unnoticed ({} entries, {} polls)",
            run.entries, run.polls
        ),
        Err(why) => eprintln!("numbered at insert: {why}"),
    }
    p.stop().await;
}

// The feed and the rest of the cluster.

/// A write transaction left open in another database of the same cluster (an idle-in-transaction
/// session, a long batch job, a migration) must not hold back any tenant's feed. PostgreSQL's
/// transaction ids are the cluster's: a feed read only below the oldest transaction in flight
/// stalled for as long as it stayed open. The feed is numbered after commit instead, under its
/// own advisory lock (`scim-postgres`'s `feed.rs`), which sees only this database's entries.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_transaction_open_in_another_database_does_not_hold_back_the_feed() {
    let p = Pair::start().await;
    let (client, connection) =
        p.db.cluster
            .url("postgres")
            .parse::<tokio_postgres::Config>()
            .expect("url")
            .connect(tokio_postgres::NoTls)
            .await
            .expect("connect");
    let driver = tokio::spawn(connection);
    client
        .batch_execute("BEGIN; CREATE TEMP TABLE elsewhere (x int)")
        .await
        .expect("a write transaction in another database");
    let id = p.a.create_user("held").await;
    let started = Instant::now();
    let mut in_feed = false;
    while !in_feed && started.elapsed() < SETTLE {
        in_feed =
            p.b.feed()
                .await
                .iter()
                .any(|e| e["target_id"] == id.as_str());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    client.batch_execute("COMMIT").await.expect("commit");
    drop(client);
    let _ = driver.await;
    assert!(in_feed, "the create is not in the feed after {SETTLE:?}");
    p.stop().await;
}
