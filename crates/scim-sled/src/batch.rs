//! Commit batching: concurrent writers share one storage transaction instead of paying one each.
//!
//! sled 0.34 pays a fixed price per transaction (it rolls and seals its log buffer before and
//! after reserving the transaction's manifest: two log writes and two syncs), whatever the
//! transaction holds. A writer queues its item; if no batch is running it leads: it takes
//! everything queued (up to a bound), runs it, and hands each writer its own result. Writers that
//! arrive meanwhile wait in the queue; when the batch is done, the first of them is woken to lead
//! the next batch, which holds them all. Nobody waits for a timer: under no contention a batch is
//! one item, committed at once. Each writer has a channel of its own, so it is woken once, for
//! its result or to lead, and never for another writer's batch.

use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Mutex, MutexGuard};

/// Why a waiting writer is woken.
enum Wake<R> {
    /// Its item was in a batch that has run.
    Done(R),
    /// It is first in the queue and leads the next batch.
    Lead,
}

struct State<T, R> {
    queued: Vec<(T, SyncSender<Wake<R>>)>,
    /// A batch is running, or its leader has been woken: the queue waits for it.
    leading: bool,
}

pub struct Batcher<T, R> {
    state: Mutex<State<T, R>>,
    max: usize,
    /// The result of an item whose batch ended without one (its leader panicked).
    lost: fn() -> R,
}

/// Runs one batch; answers every item of it, and hands the lead on, even if `run` unwinds.
struct Leading<'b, T, R> {
    batcher: &'b Batcher<T, R>,
    waiters: Vec<SyncSender<Wake<R>>>,
    results: Option<Vec<R>>,
}

impl<T, R> Drop for Leading<'_, T, R> {
    fn drop(&mut self) {
        let mut results = self.results.take().unwrap_or_default().into_iter();
        for waiter in self.waiters.drain(..) {
            let r = results.next().unwrap_or_else(self.batcher.lost);
            // A waiter that has gone (it cannot, but) simply does not read its result.
            let _ = waiter.send(Wake::Done(r));
        }
        let mut state = self.batcher.lock();
        match state.queued.first() {
            Some((_, next)) => {
                // The next batch's leader; `leading` stays set for it.
                let _ = next.send(Wake::Lead);
            }
            None => state.leading = false,
        }
    }
}

impl<T, R> Batcher<T, R> {
    pub fn new(max: usize, lost: fn() -> R) -> Self {
        Batcher {
            state: Mutex::new(State {
                queued: Vec::new(),
                leading: false,
            }),
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
        // Room for a `Lead` and then the `Done` of the batch this writer leads.
        let (tx, rx) = sync_channel(2);
        let lead_now = {
            let mut state = self.lock();
            state.queued.push((item, tx));
            !std::mem::replace(&mut state.leading, true)
        };
        if !lead_now {
            match self.wait(&rx) {
                Wake::Done(r) => return r,
                Wake::Lead => {}
            }
        }
        self.lead(&run);
        match self.wait(&rx) {
            Wake::Done(r) => r,
            // A leader's own item is in the batch it ran: it cannot be asked to lead again.
            Wake::Lead => (self.lost)(),
        }
    }

    fn wait(&self, rx: &Receiver<Wake<R>>) -> Wake<R> {
        rx.recv().unwrap_or_else(|_| Wake::Done((self.lost)()))
    }

    /// Runs the queued items (at most `max`, in order), then wakes each of their writers.
    fn lead(&self, run: &impl Fn(Vec<T>) -> Vec<R>) {
        let (items, waiters): (Vec<T>, Vec<SyncSender<Wake<R>>>) = {
            let mut state = self.lock();
            let take = state.queued.len().min(self.max);
            state.queued.drain(..take).unzip()
        };
        let mut leading = Leading {
            batcher: self,
            waiters,
            results: None,
        };
        leading.results = Some(run(items));
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

    #[test]
    fn writers_queued_behind_a_panicking_leader_get_a_lost_result_or_their_own() {
        let batcher = Arc::new(Batcher::<u64, u64>::new(1, || u64::MAX));
        let started = Arc::new(std::sync::Barrier::new(2));
        let (b, s) = (Arc::clone(&batcher), Arc::clone(&started));
        let leader = std::thread::spawn(move || {
            b.submit(1, |_| {
                s.wait();
                std::thread::sleep(Duration::from_millis(50));
                panic!("leader fails")
            })
        });
        started.wait();
        // Queued while the leader runs; with max 1 it leads the next batch itself.
        let r = batcher.submit(2, |items| items);
        assert_eq!(r, 2);
        assert!(leader.join().is_err());
    }
}
