//! sled's IO threads, as `vendor/sled` changes them: a flush wakes one of the seven waiting
//! threads, not all of them. sled 0.34.7's `threadpool::Queue::send` called `notify_all`, so
//! every flushed write woke seven threads, six of which found the queue empty and slept again
//! (docs/performance.md, thirteenth part). This test runs in its own process because sled's
//! thread pool is global to it.

#![cfg(target_os = "linux")]

use std::time::Duration;

/// The `/proc` folders of this process's threads that are sled's IO threads (`sled-io-N`).
fn io_threads() -> Vec<std::path::PathBuf> {
    std::fs::read_dir("/proc/self/task")
        .expect("/proc/self/task")
        .flatten()
        .map(|task| task.path())
        .filter(|task| {
            std::fs::read_to_string(task.join("comm")).is_ok_and(|c| c.starts_with("sled-io-"))
        })
        .collect()
}

/// Voluntary context switches of sled's IO threads so far, from `/proc`.
fn io_thread_switches() -> u64 {
    io_threads()
        .iter()
        .map(|task| {
            std::fs::read_to_string(task.join("status"))
                .unwrap_or_default()
                .lines()
                .find_map(|l| l.strip_prefix("voluntary_ctxt_switches:"))
                .and_then(|n| n.trim().parse::<u64>().ok())
                .unwrap_or(0)
        })
        .sum()
}

#[test]
fn a_flush_wakes_one_of_sled_s_io_threads_not_all_seven() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let db = sled::Config::new()
        .path(dir.path())
        .open()
        .expect("a sled store");
    let tree = db.open_tree("t").expect("a tree");
    tree.insert(b"warm", b"up".as_slice()).expect("insert");
    db.flush().expect("flush");
    // Let the pool's seven threads start and wait on its queue.
    std::thread::sleep(Duration::from_millis(100));
    let threads = io_threads().len();
    assert!(
        threads >= 7,
        "sled starts seven IO threads; found {threads}"
    );

    const FLUSHES: u64 = 200;
    let before = io_thread_switches();
    for i in 0..FLUSHES {
        tree.insert(i.to_be_bytes(), b"value".as_slice())
            .expect("insert");
        db.flush().expect("flush");
    }
    let woke = io_thread_switches() - before;
    eprintln!("{FLUSHES} flushes woke sled's IO threads {woke} times");
    // One flush hands one log write to the pool: one thread wakes for it, and sleeps again
    // while the disk writes (about two a flush, plus one a second for each idle thread's
    // timeout). With `notify_all`, about seven: all idle threads wake for each.
    assert!(
        woke < FLUSHES * 4,
        "{FLUSHES} flushes woke sled's IO threads {woke} times (notify_all wakes all seven a flush)"
    );
}
