//! What a durable write costs sled 0.34 itself, without HTTP or the core: the floor under the
//! server's write phases (docs/performance.md, "What sled's commit costs on its own").
//!
//!     taskset -c 0 cargo run --release -p scim-sled --example sled_floor
//!
//! Each way of writing updates records of a 3,000-record store, as a PATCH does: the record
//! (about 700 bytes), and, except in `insert`, a revision entry (about 1,100 bytes, under the
//! next sequence number) and its history key. Writes are committed in batches, and every batch
//! is flushed and `fdatasync`ed before the next, as the commit thread does. Printed: the
//! process's CPU time per write (sled's own threads included) and writes per second.

use std::fs::File;
use std::time::Instant;

const RECORDS: usize = 3_000;
const WRITES: usize = 12_000;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let ticks_per_second = 100.0; // USER_HZ on Linux
    println!(
        "{:<34} {:>6} {:>12} {:>10}",
        "way", "batch", "cpu µs/write", "writes/s"
    );
    for way in [Way::Insert, Way::Batch, Way::Tx3, Way::Tx7] {
        for batch in [1, 4, 16] {
            let dir = tempfile::tempdir()?;
            let db = sled::Config::new()
                .path(dir.path())
                .cache_capacity(48 * 1024 * 1024)
                .flush_every_ms(Some(500))
                .open()?;
            let file = File::open(dir.path().join("db"))?;
            let store = Store::open(&db)?;
            store.fill()?;
            db.flush()?;
            let (cpu0, t0) = (cpu_ticks()?, Instant::now());
            let mut seq = 1_000_000u64;
            for start in (0..WRITES).step_by(batch) {
                let ids: Vec<usize> = (start..start + batch)
                    .map(|i| (i * 7919) % RECORDS)
                    .collect();
                store.write(way, &ids, &mut seq)?;
                db.flush()?;
                file.sync_data()?;
            }
            let (cpu, wall) = (cpu_ticks()? - cpu0, t0.elapsed().as_secs_f64());
            println!(
                "{:<34} {:>6} {:>12.0} {:>10.0}",
                way.name(),
                batch,
                cpu as f64 / ticks_per_second * 1e6 / WRITES as f64,
                WRITES as f64 / wall
            );
        }
    }
    Ok(())
}

#[derive(Clone, Copy)]
enum Way {
    /// The record alone, one `insert`.
    Insert,
    /// Record, revision and history key in one tree, one atomic `apply_batch` per batch.
    Batch,
    /// The three in three trees, one transaction per batch reading each record first.
    Tx3,
    /// The same in a transaction over seven trees, as the engine opens them.
    Tx7,
}

impl Way {
    fn name(self) -> &'static str {
        match self {
            Way::Insert => "insert (record only)",
            Way::Batch => "apply_batch, one tree",
            Way::Tx3 => "transaction over 3 trees",
            Way::Tx7 => "transaction over 7 trees",
        }
    }
}

struct Store {
    trees: Vec<sled::Tree>,
}

fn record(i: usize, seq: u64) -> Vec<u8> {
    format!(
        r#"{{"id":"{:032x}","version":{seq},"doc":{{"userName":"user{i:06}@example.test","name":{{"givenName":"Given","familyName":"Family{i}"}},"displayName":"Given Family{i}","emails":[{{"value":"user{i:06}@example.test","type":"work","primary":true}}],"active":{}}},"index":[["userName","user{i:06}@example.test"],["externalId","ext{i}"]],"created":"2026-12-06T15:00:00Z","lastModified":"2026-12-06T15:00:00Z","pad":"{}"}}"#,
        i,
        seq.is_multiple_of(2),
        "x".repeat(180)
    )
    .into_bytes()
}

fn revision(i: usize, seq: u64) -> Vec<u8> {
    let mut r = record(i, seq);
    r.extend_from_slice(&[b' '; 400]);
    r
}

impl Store {
    fn open(db: &sled::Db) -> sled::Result<Store> {
        let trees = (0..7)
            .map(|t| db.open_tree(format!("t{t}")))
            .collect::<sled::Result<_>>()?;
        Ok(Store { trees })
    }

    fn fill(&self) -> sled::Result<()> {
        for i in 0..RECORDS {
            self.trees[0].insert(key(i), record(i, 0))?;
        }
        Ok(())
    }

    fn write(
        &self,
        way: Way,
        ids: &[usize],
        seq: &mut u64,
    ) -> Result<(), Box<dyn std::error::Error>> {
        use sled::Transactional;
        match way {
            Way::Insert => {
                for &i in ids {
                    *seq += 1;
                    self.trees[0].insert(key(i), record(i, *seq))?;
                }
            }
            Way::Batch => {
                let mut batch = sled::Batch::default();
                for &i in ids {
                    *seq += 1;
                    let _old = self.trees[0].get(key(i))?;
                    batch.insert(key(i), record(i, *seq));
                    batch.insert(&revision_key(*seq)[..], revision(i, *seq));
                    batch.insert(history_key(i, *seq), &[] as &[u8]);
                }
                self.trees[0].apply_batch(batch)?;
            }
            Way::Tx3 | Way::Tx7 => {
                let first = *seq;
                let wide = matches!(way, Way::Tx7);
                type Tt = sled::transaction::TransactionalTree;
                let apply = |t: [&Tt; 3]| {
                    let mut s = first;
                    for &i in ids {
                        s += 1;
                        let _old = t[0].get(key(i))?;
                        t[0].insert(key(i), record(i, s))?;
                        t[1].insert(&revision_key(s)[..], revision(i, s))?;
                        t[2].insert(history_key(i, s), &[] as &[u8])?;
                    }
                    Ok::<_, sled::transaction::ConflictableTransactionError<()>>(())
                };
                let tr = &self.trees;
                if wide {
                    (&tr[0], &tr[1], &tr[2], &tr[3], &tr[4], &tr[5], &tr[6])
                        .transaction(|(a, b, c, _, _, _, _)| apply([a, b, c]))
                        .map_err(|e| format!("{e:?}"))?;
                } else {
                    (&tr[0], &tr[1], &tr[2])
                        .transaction(|(a, b, c)| apply([a, b, c]))
                        .map_err(|e| format!("{e:?}"))?;
                }
                *seq += ids.len() as u64;
            }
        }
        Ok(())
    }
}

fn key(i: usize) -> Vec<u8> {
    format!("{i:032x}").into_bytes()
}

fn revision_key(seq: u64) -> [u8; 9] {
    let mut k = [b'r'; 9];
    k[1..].copy_from_slice(&seq.to_be_bytes());
    k
}

fn history_key(i: usize, seq: u64) -> Vec<u8> {
    let mut k = format!("h{i:032x}").into_bytes();
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

/// The process's user and system time so far, in clock ticks (all its threads).
fn cpu_ticks() -> Result<u64, Box<dyn std::error::Error>> {
    let stat = std::fs::read_to_string("/proc/self/stat")?;
    let after = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .ok_or("no ')' in stat")?;
    let fields: Vec<&str> = after.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the command's ')'.
    Ok(fields[11].parse::<u64>()? + fields[12].parse::<u64>()?)
}
