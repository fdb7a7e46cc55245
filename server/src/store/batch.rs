//! Commit batching: concurrent writers share one storage transaction instead of paying one each.
//!
//! sled 0.34 pays a fixed price per transaction (it rolls and seals its log buffer before and
//! after reserving the transaction's manifest: two log writes and two syncs), whatever the
//! transaction holds. A writer queues its item; the first writer to find no batch running leads:
//! it takes everything queued (up to a bound), runs it, and hands each writer its own result.
//! Writers that arrive meanwhile form the next batch. Nobody waits for a timer: under no
//! contention a batch is one item, committed at once.

use std::collections::HashMap;
use std::sync::{Condvar, Mutex, MutexGuard};

struct State<T, R> {
    next: u64,
    queued: Vec<(u64, T)>,
    done: HashMap<u64, R>,
    leading: bool,
}

pub struct Batcher<T, R> {
    state: Mutex<State<T, R>>,
    finished: Condvar,
    max: usize,
    /// The result of an item whose batch ended without one (its leader panicked).
    lost: fn() -> R,
}

/// Clears `leading` and answers every item of the batch, even if the leader unwinds.
struct Leading<'b, T, R> {
    batcher: &'b Batcher<T, R>,
    ids: Vec<u64>,
    results: Option<Vec<R>>,
}

impl<T, R> Drop for Leading<'_, T, R> {
    fn drop(&mut self) {
        let mut state = match self.batcher.state.lock() {
            Ok(s) => s,
            Err(poisoned) => poisoned.into_inner(),
        };
        let mut results = self.results.take().unwrap_or_default().into_iter();
        for id in self.ids.drain(..) {
            let r = results.next().unwrap_or_else(self.batcher.lost);
            state.done.insert(id, r);
        }
        state.leading = false;
        self.batcher.finished.notify_all();
    }
}

impl<T, R> Batcher<T, R> {
    pub fn new(max: usize, lost: fn() -> R) -> Self {
        Batcher {
            state: Mutex::new(State {
                next: 0,
                queued: Vec::new(),
                done: HashMap::new(),
                leading: false,
            }),
            finished: Condvar::new(),
            max: max.max(1),
            lost,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<T, R>> {
        match self.state.lock() {
            Ok(s) => s,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Queues `item` and returns its result, once a batch holding it has run through `run`,
    /// which must return one result per item, in order.
    pub fn submit(&self, item: T, run: impl Fn(Vec<T>) -> Vec<R>) -> R {
        let mut state = self.lock();
        let id = state.next;
        state.next += 1;
        state.queued.push((id, item));
        loop {
            if let Some(r) = state.done.remove(&id) {
                return r;
            }
            if state.leading {
                state = match self.finished.wait(state) {
                    Ok(s) => s,
                    Err(poisoned) => poisoned.into_inner(),
                };
                continue;
            }
            state.leading = true;
            let take = state.queued.len().min(self.max);
            let (ids, items): (Vec<u64>, Vec<T>) = state.queued.drain(..take).unzip();
            drop(state);
            let mut leading = Leading {
                batcher: self,
                ids,
                results: None,
            };
            leading.results = Some(run(items));
            drop(leading);
            state = self.lock();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    #[test]
    fn each_writer_gets_its_own_result_and_concurrent_writers_share_batches() {
        let batcher = Arc::new(Batcher::<u64, u64>::new(8, || u64::MAX));
        let batches = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..64u64)
            .map(|i| {
                let (batcher, batches) = (Arc::clone(&batcher), Arc::clone(&batches));
                std::thread::spawn(move || {
                    let r = batcher.submit(i, |items| {
                        assert!(items.len() <= 8, "a batch holds at most max items");
                        batches.fetch_add(1, Ordering::SeqCst);
                        std::thread::sleep(Duration::from_millis(2));
                        items.iter().map(|x| x * 10).collect()
                    });
                    assert_eq!(r, i * 10);
                })
            })
            .collect();
        for t in threads {
            t.join().expect("writer");
        }
        let n = batches.load(Ordering::SeqCst);
        assert!(n < 64, "64 concurrent writers shared batches ({n} batches)");
    }

    #[test]
    fn a_leader_that_panics_answers_its_batch_and_leaves_the_batcher_usable() {
        let batcher = Arc::new(Batcher::<u64, u64>::new(8, || u64::MAX));
        let b = Arc::clone(&batcher);
        let panicked = std::thread::spawn(move || b.submit(1, |_| panic!("leader fails")));
        assert!(panicked.join().is_err());
        assert_eq!(batcher.submit(2, |items| items), 2);
    }
}
