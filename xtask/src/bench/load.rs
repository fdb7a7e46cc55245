//! The closed-loop load generator: `concurrency` workers, each on its own keep-alive connection,
//! take the next request number from a shared counter and send it, until `n` have been sent.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::http::{Conn, Target};

/// One request of a phase.
pub struct Op {
    pub method: &'static str,
    /// Below the SCIM base path, such as `/Users/ID`; from the root with `absolute`.
    pub path: String,
    pub absolute: bool,
    pub body: Option<Vec<u8>>,
}

impl Op {
    pub fn get(path: String) -> Op {
        Op::new("GET", path, None)
    }

    pub fn new(method: &'static str, path: String, body: Option<Vec<u8>>) -> Op {
        Op {
            method,
            path,
            absolute: false,
            body,
        }
    }

    pub fn with_body(method: &'static str, path: String, body: &serde_json::Value) -> Op {
        Op::new(method, path, Some(body.to_string().into_bytes()))
    }
}

/// What the check of a response found.
pub enum Verdict {
    Ok,
    /// A success, with something to keep (such as the id a create returned).
    Keep(String),
    /// Not what was expected: counted as an error.
    Wrong(String),
}

pub type MakeOp = Arc<dyn Fn(usize) -> Op + Send + Sync>;
pub type Check = Arc<dyn Fn(usize, u16, &[u8]) -> Verdict + Send + Sync>;

/// A check that takes any 2xx.
pub fn any_2xx() -> Check {
    Arc::new(|_, status, _| {
        if (200..300).contains(&status) {
            Verdict::Ok
        } else {
            Verdict::Wrong(format!("status {status}"))
        }
    })
}

/// A 2xx whose body holds `needle`.
pub fn success_with(needle: &'static str) -> Check {
    Arc::new(move |_, status, body| {
        if !(200..300).contains(&status) {
            Verdict::Wrong(format!("status {status}"))
        } else if find(body, needle.as_bytes()) {
            Verdict::Ok
        } else {
            Verdict::Wrong(format!("a {status} without {needle}"))
        }
    })
}

/// A 2xx whose JSON body has an `id`: keeps it.
pub fn keep_id() -> Check {
    Arc::new(|_, status, body| {
        if !(200..300).contains(&status) {
            return Verdict::Wrong(format!(
                "status {status}: {}",
                String::from_utf8_lossy(&body[..body.len().min(300)])
            ));
        }
        match serde_json::from_slice::<serde_json::Value>(body) {
            Ok(v) => match v["id"].as_str() {
                Some(id) => Verdict::Keep(id.to_string()),
                None => Verdict::Wrong("no id in the response".into()),
            },
            Err(e) => Verdict::Wrong(format!("response is not JSON: {e}")),
        }
    })
}

fn find(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// What a phase measured.
#[derive(Debug, Default)]
pub struct Measured {
    /// One latency a request, in nanoseconds, in no particular order.
    pub latencies_ns: Vec<u64>,
    pub errors: u64,
    pub elapsed: Duration,
    /// What checks kept, by request number.
    pub kept: Vec<(usize, String)>,
    /// The first few errors, to show.
    pub error_samples: Vec<String>,
}

#[derive(Default)]
struct WorkerOut {
    latencies_ns: Vec<u64>,
    errors: u64,
    kept: Vec<(usize, String)>,
}

/// Sends requests 0..n, `concurrency` at a time, each on a worker's own connection.
pub async fn run(
    target: &Target,
    n: usize,
    concurrency: usize,
    make: MakeOp,
    check: Check,
) -> Measured {
    let next = Arc::new(AtomicUsize::new(0));
    let samples = Arc::new(Mutex::new(Vec::<String>::new()));
    let started = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..concurrency.max(1) {
        let (target, next, make, check, samples) = (
            target.clone(),
            Arc::clone(&next),
            Arc::clone(&make),
            Arc::clone(&check),
            Arc::clone(&samples),
        );
        set.spawn(async move {
            let mut out = WorkerOut {
                latencies_ns: Vec::with_capacity(n / concurrency.max(1) + 16),
                ..WorkerOut::default()
            };
            let note = |e: String| {
                if let Ok(mut s) = samples.lock() {
                    if s.len() < 5 {
                        s.push(e);
                    }
                }
            };
            let mut conn: Option<Conn> = None;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    break;
                }
                let op = make(i);
                let path = if op.absolute {
                    op.path.clone()
                } else {
                    format!("{}{}", target.base_path, op.path)
                };
                if conn.as_ref().is_none_or(|c| c.closed) {
                    conn = match Conn::connect(&target).await {
                        Ok(c) => Some(c),
                        Err(e) => {
                            out.errors += 1;
                            note(format!("connect: {e}"));
                            tokio::time::sleep(Duration::from_millis(10)).await;
                            continue;
                        }
                    };
                }
                let Some(c) = conn.as_mut() else { continue };
                let t0 = Instant::now();
                let r = c.send(op.method, &path, op.body.as_deref()).await;
                out.latencies_ns
                    .push(u64::try_from(t0.elapsed().as_nanos()).unwrap_or(u64::MAX));
                match r {
                    Ok(resp) => match check(i, resp.status, &resp.body) {
                        Verdict::Ok => {}
                        Verdict::Keep(k) => out.kept.push((i, k)),
                        Verdict::Wrong(why) => {
                            out.errors += 1;
                            note(format!("{} {}: {why}", op.method, op.path));
                        }
                    },
                    Err(e) => {
                        out.errors += 1;
                        note(format!("{} {}: {e}", op.method, op.path));
                    }
                }
            }
            out
        });
    }
    let mut m = Measured::default();
    while let Some(done) = set.join_next().await {
        match done {
            Ok(out) => {
                m.latencies_ns.extend(out.latencies_ns);
                m.errors += out.errors;
                m.kept.extend(out.kept);
            }
            Err(e) => {
                m.errors += 1;
                m.error_samples.push(format!("worker failed: {e}"));
            }
        }
    }
    m.elapsed = started.elapsed();
    m.kept.sort_by_key(|(i, _)| *i);
    if let Ok(s) = samples.lock() {
        m.error_samples.extend(s.iter().cloned());
    }
    m
}
