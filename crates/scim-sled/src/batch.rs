//! Commit batching on a thread of its own: concurrent writers share one storage transaction and
//! one flush instead of paying one each, and a write costs its writer no hop through the
//! blocking pool.
//!
//! sled 0.34 pays a fixed price per transaction (it rolls and seals its log buffer before and
//! after reserving the transaction's manifest: two log writes and two syncs), whatever the
//! transaction holds, and a flush costs the same for one write as for sixty. The commit thread
//! waits for a write; when one comes it takes it and everything queued behind it (up to a
//! bound), gives up the processor while that brings more (see [`gather`]), runs them as one
//! batch, and answers each writer through a channel of its own. Writes that arrive while a batch
//! runs (and flushes) queue for the next one. Nobody waits for a timer: under no contention a
//! batch is one write, committed at once.
//!
//! A writer's task sends its write and awaits its answer: one wake of the commit thread per
//! batch (none while it is busy) and one wake of the writer's task, where a blocking-pool hop
//! and a leader handing batches on cost a thread switch or two per write.
//!
//! The thread holds no strong reference to what it commits into (the engine hands it a
//! closure over a `Weak`): when the engine is dropped, its sender goes, and the thread ends.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::Arc;

use tokio::sync::oneshot;

type Job<T, R> = (T, oneshot::Sender<R>);

/// The sending side of a commit thread: `submit` a write, get its result.
pub struct Committer<T, R> {
    queue: Sender<Job<T, R>>,
    /// The result of a write whose batch ended without one (`run` panicked, or the thread is
    /// gone).
    lost: fn() -> R,
    counts: Arc<Counts>,
}

/// What the thread has taken so far: batches, and the items in them.
#[derive(Default)]
struct Counts {
    batches: AtomicU64,
    items: AtomicU64,
}

impl<T: Send + 'static, R: Send + 'static> Committer<T, R> {
    /// Starts the thread. `run` takes a batch of at most `max` items, in the order they came,
    /// and returns one result per item, in the same order.
    pub fn start(
        name: &str,
        max: usize,
        run: impl FnMut(Vec<T>) -> Vec<R> + Send + 'static,
        lost: fn() -> R,
    ) -> std::io::Result<Self> {
        let (queue, rx) = channel();
        let counts = Arc::new(Counts::default());
        let counted = Arc::clone(&counts);
        std::thread::Builder::new()
            .name(name.to_string())
            .spawn(move || {
                serve(&rx, max.max(1), run, lost, &counted, std::thread::yield_now);
            })?;
        Ok(Committer {
            queue,
            lost,
            counts,
        })
    }

    /// The batches the thread has run so far, and the items they held.
    pub fn counts(&self) -> (u64, u64) {
        (
            self.counts.batches.load(Ordering::Relaxed),
            self.counts.items.load(Ordering::Relaxed),
        )
    }

    /// Queues `item` and waits, without holding a thread, for the batch that holds it.
    pub async fn submit(&self, item: T) -> R {
        let (tx, rx) = oneshot::channel();
        if self.queue.send((item, tx)).is_err() {
            return (self.lost)();
        }
        rx.await.unwrap_or_else(|_| (self.lost)())
    }

    /// [`Self::submit`] for a caller outside the runtime (it blocks its thread).
    #[cfg(test)]
    pub fn submit_blocking(&self, item: T) -> R {
        let (tx, rx) = oneshot::channel();
        if self.queue.send((item, tx)).is_err() {
            return (self.lost)();
        }
        rx.blocking_recv().unwrap_or_else(|_| (self.lost)())
    }
}

/// The commit thread: a batch at a time until every sender is gone.
fn serve<T, R>(
    rx: &Receiver<Job<T, R>>,
    max: usize,
    mut run: impl FnMut(Vec<T>) -> Vec<R>,
    lost: fn() -> R,
    counts: &Counts,
    mut pause: impl FnMut(),
) {
    // Writers are concurrent when the last batch held several writes, or when a write queued
    // while it ran. Only then does a batch pause to let more queue: a lone writer's batches
    // never give the processor away, since on a machine busy with other work a yield can cost
    // a scheduler slice (docs/performance.md, "Issue 17, fourth part").
    let (mut last, mut queued) = (0, None);
    loop {
        let (first, concurrent) = match queued.take() {
            Some(job) => (job, true),
            None => match rx.recv() {
                Ok(job) => (job, last > 1),
                Err(_) => return,
            },
        };
        let batch = gather(
            rx,
            first,
            max,
            concurrent.then_some(&mut pause as &mut dyn FnMut()),
        );
        last = batch.len();
        counts.batches.fetch_add(1, Ordering::Relaxed);
        counts
            .items
            .fetch_add(batch.len() as u64, Ordering::Relaxed);
        let (items, waiters): (Vec<T>, Vec<oneshot::Sender<R>>) = batch.into_iter().unzip();
        // A batch that panics answers each of its writers `lost`, and the thread goes on.
        let results = catch_unwind(AssertUnwindSafe(|| run(items))).unwrap_or_default();
        // Queued before this batch's writers hear back, so by another writer.
        queued = rx.try_recv().ok();
        let mut results = results.into_iter();
        for waiter in waiters {
            // A writer that has gone (its request was dropped) simply does not read its result.
            let _ = waiter.send(results.next().unwrap_or_else(lost));
        }
    }
}

/// A batch: `first`, everything queued behind it, and then, given a `pause` (giving up the
/// processor), for as long as pausing lets more writes queue, those too; at most `max`.
///
/// When the writers' threads share a processor with this one (one core, or more busy threads
/// than cores), the writers still computing their change when this thread wakes would miss the
/// batch and each pay a batch of their own: one pause lets them run until they queue or wait.
/// The pauses end at the first that brings nothing, and no write ever waits for a timer. With
/// 16 writers on one core, batches grew from 3.3 writes to 12.4–15.9, and a write's server CPU
/// fell by 14–30 % (docs/performance.md, "Issue 17, fourth part").
fn gather<J>(rx: &Receiver<J>, first: J, max: usize, pause: Option<&mut dyn FnMut()>) -> Vec<J> {
    let mut batch = vec![first];
    let drain = |batch: &mut Vec<J>| {
        while batch.len() < max {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
    };
    drain(&mut batch);
    let Some(pause) = pause else { return batch };
    while batch.len() < max {
        let before = batch.len();
        pause();
        drain(&mut batch);
        if batch.len() == before {
            break;
        }
    }
    batch
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    #[test]
    fn each_writer_gets_its_own_result_and_concurrent_writers_share_batches() {
        let batches = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&batches);
        let committer = Arc::new(
            Committer::<u64, u64>::start(
                "test-commit",
                8,
                move |items| {
                    assert!(items.len() <= 8, "a batch holds at most max items");
                    counted.fetch_add(1, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(2));
                    items.iter().map(|x| x * 10).collect()
                },
                || u64::MAX,
            )
            .expect("thread"),
        );
        let threads: Vec<_> = (0..64u64)
            .map(|i| {
                let committer = Arc::clone(&committer);
                std::thread::spawn(move || assert_eq!(committer.submit_blocking(i), i * 10))
            })
            .collect();
        for t in threads {
            t.join().expect("writer");
        }
        let n = batches.load(Ordering::SeqCst);
        assert!(n < 64, "64 concurrent writers shared batches ({n} batches)");
        assert_eq!(
            committer.counts(),
            (n as u64, 64),
            "the counts are the batches run and the writes in them"
        );
    }

    #[tokio::test]
    async fn a_batch_that_panics_answers_lost_and_the_thread_goes_on() {
        let committer = Committer::<u64, u64>::start(
            "test-commit",
            8,
            |items| {
                assert!(items != [1], "this batch fails");
                items
            },
            || u64::MAX,
        )
        .expect("thread");
        assert_eq!(committer.submit(1).await, u64::MAX);
        assert_eq!(committer.submit(2).await, 2);
    }

    #[test]
    fn a_batch_takes_in_writes_that_queue_while_it_pauses_until_a_pause_brings_none() {
        let (tx, rx) = channel::<u32>();
        tx.send(2).expect("queued");
        // Writers that queue during the first two pauses (two, then one), none in the third.
        let mut arrivals = vec![vec![], vec![5], vec![3, 4]];
        let mut pauses = 0;
        let mut pause = || {
            pauses += 1;
            for job in arrivals.pop().unwrap_or_default() {
                tx.send(job).expect("queued");
            }
        };
        let batch = gather(&rx, 1, 16, Some(&mut pause));
        assert_eq!(batch, [1, 2, 3, 4, 5]);
        assert_eq!(pauses, 3, "the pause that brought nothing ended the batch");

        // With nothing queued, one pause; without a pause, none.
        let mut pauses = 0;
        assert_eq!(gather(&rx, 9, 16, Some(&mut || pauses += 1)), [9]);
        assert_eq!(pauses, 1);
        tx.send(10).expect("queued");
        assert_eq!(gather(&rx, 9, 16, None), [9, 10]);

        // A full batch does not pause, and what it leaves waits for the next one.
        for job in 10..22 {
            tx.send(job).expect("queued");
        }
        let mut pauses = 0;
        assert_eq!(
            gather(&rx, 0, 4, Some(&mut || pauses += 1)),
            [0, 10, 11, 12]
        );
        assert_eq!(pauses, 0);
        let mut pauses = 0;
        assert_eq!(gather(&rx, 1, 8, Some(&mut || pauses += 1)).len(), 8);
        assert_eq!(pauses, 0);
        assert_eq!(gather(&rx, 2, 8, None), [2, 20, 21]);
    }

    #[test]
    fn only_batches_of_concurrent_writers_pause() {
        let (tx, rx) = channel::<Job<u32, u32>>();
        let pauses = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&pauses);
        // The batch of write 10 says it runs, then runs until the test says go.
        let (go, wait) = channel::<()>();
        let (running, started) = channel::<()>();
        let write = |i: u32| {
            let (answer, answered) = oneshot::channel();
            tx.send((i, answer)).expect("queued");
            answered
        };
        // Three writes queued before the thread starts: its first batch takes them at once.
        let first: Vec<_> = (0..3).map(write).collect();
        let thread = std::thread::spawn(move || {
            let pause = move || {
                counted.fetch_add(1, Ordering::SeqCst);
            };
            let run = move |items: Vec<u32>| {
                if items == [10] {
                    running.send(()).expect("the test waits");
                    wait.recv().expect("go");
                }
                items
            };
            serve(&rx, 8, run, || u32::MAX, &Counts::default(), pause);
        });
        for (i, answered) in (0..3).zip(first) {
            assert_eq!(answered.blocking_recv(), Ok(i));
        }
        assert_eq!(
            pauses.load(Ordering::SeqCst),
            0,
            "no batch before the first"
        );
        // The batch after one of three pauses, once: nothing else comes.
        assert_eq!(write(3).blocking_recv(), Ok(3));
        assert_eq!(pauses.load(Ordering::SeqCst), 1);
        // That batch held one write: lone writes that follow never pause.
        for i in 4..10 {
            assert_eq!(write(i).blocking_recv(), Ok(i));
        }
        assert_eq!(
            pauses.load(Ordering::SeqCst),
            1,
            "a lone writer never pauses"
        );
        // A write that queues while a batch of one runs: the batch that takes it pauses.
        let tenth = write(10);
        started.recv().expect("the batch of write 10 runs");
        let eleventh = write(11);
        go.send(()).expect("the batch waits");
        assert_eq!(tenth.blocking_recv(), Ok(10));
        assert_eq!(eleventh.blocking_recv(), Ok(11));
        assert_eq!(pauses.load(Ordering::SeqCst), 2);
        drop(tx);
        thread.join().expect("the thread ends with its senders");
    }

    #[test]
    fn a_batch_answered_short_answers_the_rest_lost() {
        let committer = Committer::<u64, u64>::start("test-commit", 8, |_| Vec::new(), || u64::MAX)
            .expect("thread");
        assert_eq!(committer.submit_blocking(5), u64::MAX);
    }

    #[test]
    fn the_thread_ends_when_the_committer_is_dropped() {
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let committer = Committer::<u64, u64>::start(
            "test-commit",
            8,
            move |items| {
                let _keep = &tx;
                items
            },
            || u64::MAX,
        )
        .expect("thread");
        assert_eq!(committer.submit_blocking(3), 3);
        drop(committer);
        // The closure (and its sender) is dropped when the thread ends.
        assert_eq!(
            rx.recv_timeout(Duration::from_secs(5)),
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected)
        );
    }
}
