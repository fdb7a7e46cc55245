//! Group commit: concurrent writers share one flush instead of paying one each, and none is
//! acknowledged before a flush that started after its commit has completed.
//!
//! Each writer takes a ticket after its commit. A flush covers every ticket handed out before it
//! started. A writer whose ticket is not covered yet either starts the next flush (when none is
//! running) or waits for the running one, then looks again.

use std::sync::{Condvar, Mutex};

use crate::error::{Error, Result};

#[derive(Default)]
struct State {
    /// The last ticket handed out.
    issued: u64,
    /// Every ticket up to this one is durable.
    durable: u64,
    /// A flush is under way.
    flushing: bool,
}

#[derive(Default)]
pub struct GroupCommit {
    state: Mutex<State>,
    done: Condvar,
}

impl GroupCommit {
    pub fn new() -> Self {
        Self::default()
    }

    /// Returns once everything committed before the call is durable, running `flush` (which
    /// must make every earlier commit durable) at most as often as needed.
    pub fn wait_durable(&self, flush: impl Fn() -> Result<()>) -> Result<()> {
        let poisoned = |_| Error::internal("group commit state poisoned");
        let mut state = self.state.lock().map_err(poisoned)?;
        state.issued += 1;
        let ticket = state.issued;
        loop {
            if state.durable >= ticket {
                return Ok(());
            }
            if state.flushing {
                state = self.done.wait(state).map_err(poisoned)?;
                continue;
            }
            state.flushing = true;
            let covers = state.issued;
            drop(state);
            let flushed = flush();
            state = self.state.lock().map_err(poisoned)?;
            state.flushing = false;
            if flushed.is_ok() {
                state.durable = state.durable.max(covers);
            }
            self.done.notify_all();
            flushed?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    #[test]
    fn concurrent_writers_share_flushes_and_each_waits_for_one_after_its_commit() {
        let gc = Arc::new(GroupCommit::new());
        let committed = Arc::new(AtomicU64::new(0));
        let flushed_up_to = Arc::new(AtomicU64::new(0));
        let flushes = Arc::new(AtomicU64::new(0));
        let threads: Vec<_> = (0..32)
            .map(|_| {
                let (gc, committed, flushed_up_to, flushes) = (
                    gc.clone(),
                    committed.clone(),
                    flushed_up_to.clone(),
                    flushes.clone(),
                );
                std::thread::spawn(move || {
                    let mine = committed.fetch_add(1, Ordering::SeqCst) + 1;
                    gc.wait_durable(|| {
                        let upto = committed.load(Ordering::SeqCst);
                        std::thread::sleep(Duration::from_millis(5));
                        flushed_up_to.fetch_max(upto, Ordering::SeqCst);
                        flushes.fetch_add(1, Ordering::SeqCst);
                        Ok(())
                    })
                    .expect("durable");
                    assert!(
                        flushed_up_to.load(Ordering::SeqCst) >= mine,
                        "acknowledged before its flush"
                    );
                })
            })
            .collect();
        for t in threads {
            t.join().expect("thread");
        }
        let n = flushes.load(Ordering::SeqCst);
        assert!(n < 32, "flushes were shared: {n} for 32 writers");
    }

    #[test]
    fn a_failed_flush_is_an_error_and_the_next_writer_flushes_again() {
        let gc = GroupCommit::new();
        assert!(gc
            .wait_durable(|| Err(Error::internal("disk full")))
            .is_err());
        assert!(gc.wait_durable(|| Ok(())).is_ok());
    }
}
