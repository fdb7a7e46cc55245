//! The initial sync of a synthetic directory: N users spread over groups, as
//! OneLogin provisions them when an app with group rules is first enabled
//! (Refresh entitlements, groups created, then per user: lookup, create or
//! link, one PATCH per group), with throughput and latency percentiles.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::ProgressBar;
use serde::Serialize;

use crate::app::{AppConfig, Provisioning};
use crate::directory::{Directory, Rule, User};
use crate::judge::{Op, Verdict};
use crate::profile::Profile;
use crate::report::{failed_provisionings, failed_provisionings_text, Entry, FailedProvisioning};
use crate::scenario::Step;
use crate::wire::{Target, WireOptions};
use crate::{Error, Simulator};

/// Options of a sync run.
#[derive(Debug, Clone)]
pub struct SyncOptions {
    /// Number of users.
    pub users: usize,
    /// Users provisioned at the same time.
    pub concurrency: usize,
    /// Number of groups (0 turns group provisioning off).
    pub groups: usize,
    /// Prefix of usernames and group names.
    pub prefix: String,
    /// Connector profile.
    pub profile: Profile,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Wire switches.
    pub wire: WireOptions,
}

impl Default for SyncOptions {
    fn default() -> Self {
        SyncOptions {
            users: 100,
            concurrency: 4,
            groups: 5,
            prefix: "sync".into(),
            profile: Profile::default(),
            timeout: Duration::from_secs(30),
            wire: WireOptions::default(),
        }
    }
}

const FIRST_NAMES: [&str; 8] = [
    "Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken",
];
const LAST_NAMES: [&str; 8] = [
    "Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson",
];
const DEPARTMENTS: [&str; 4] = ["Engineering", "Sales", "Support", "Finance"];
const TITLES: [&str; 4] = ["Engineer", "Manager", "Analyst", "Director"];

/// Username of synthetic user `i`.
pub fn synthetic_username(prefix: &str, i: usize) -> String {
    format!("{prefix}-user-{i:06}")
}

/// Name of synthetic group `k`.
pub fn synthetic_group(prefix: &str, k: usize) -> String {
    format!("{prefix}-group-{k:02}")
}

/// A directory of `users` users holding roles `{prefix}-group-NN`, with a
/// rule mapping each such role to a group of the same name. Every user holds
/// one role; every fourth user a second one.
pub fn synthetic_directory(users: usize, groups: usize, prefix: &str) -> Directory {
    let roles: Vec<String> = (0..groups).map(|k| synthetic_group(prefix, k)).collect();
    let users = (0..users)
        .map(|i| {
            let mut user_roles = Vec::new();
            if groups > 0 {
                user_roles.push(roles[i % groups].clone());
                let second = &roles[(i / 4 + 1) % groups];
                if i % 4 == 0 && !user_roles.contains(second) {
                    user_roles.push(second.clone());
                }
            }
            User {
                username: synthetic_username(prefix, i),
                firstname: FIRST_NAMES[i % FIRST_NAMES.len()].to_string(),
                lastname: LAST_NAMES[(i / FIRST_NAMES.len()) % LAST_NAMES.len()].to_string(),
                email: format!("{prefix}.user{i:06}@example.test"),
                title: TITLES[i % TITLES.len()].to_string(),
                department: DEPARTMENTS[i % DEPARTMENTS.len()].to_string(),
                roles: user_roles,
                ..User::default()
            }
        })
        .collect();
    Directory {
        users,
        rules: vec![Rule {
            role: format!("{prefix}-group-*"),
            group: None,
        }],
        roles,
    }
}

/// Latency figures of one kind of request, in milliseconds.
#[derive(Debug, Clone, Serialize)]
pub struct OpStats {
    /// Request kind (`lookup_user`, …, or `all`).
    pub op: String,
    /// Requests sent.
    pub count: usize,
    /// Requests that failed.
    pub failed: usize,
    /// Mean.
    pub mean_ms: f64,
    /// Median.
    pub p50_ms: f64,
    /// 90th percentile.
    pub p90_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Maximum.
    pub max_ms: f64,
}

impl OpStats {
    fn from_latencies(op: &str, mut latencies: Vec<f64>, failed: usize) -> Self {
        latencies.sort_by(f64::total_cmp);
        let mean = if latencies.is_empty() {
            0.0
        } else {
            latencies.iter().sum::<f64>() / latencies.len() as f64
        };
        OpStats {
            op: op.to_string(),
            count: latencies.len(),
            failed,
            mean_ms: mean,
            p50_ms: percentile(&latencies, 50.0),
            p90_ms: percentile(&latencies, 90.0),
            p99_ms: percentile(&latencies, 99.0),
            max_ms: latencies.last().copied().unwrap_or(0.0),
        }
    }
}

/// Nearest-rank percentile of sorted values (0 when empty).
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Result of a sync run.
#[derive(Debug, Clone, Serialize)]
pub struct SyncReport {
    /// SCIM base URL.
    pub base_url: String,
    /// Connector profile.
    pub profile: String,
    /// Users in the directory.
    pub users: usize,
    /// Users provisioned without a failed request.
    pub users_ok: usize,
    /// Users with at least one failed request.
    pub users_failed: usize,
    /// Groups in the directory.
    pub groups: usize,
    /// Concurrency used.
    pub concurrency: usize,
    /// Requests sent, those sent again after a `Retry-After` included.
    pub requests: usize,
    /// Requests sent again after waiting as `Retry-After` asked (`honour_retry_after`).
    pub retries: usize,
    /// Seconds spent waiting as `Retry-After` asked, all workers together.
    pub retry_wait_s: u64,
    /// Requests that failed.
    pub failed_requests: usize,
    /// Wall time, seconds.
    pub elapsed_s: f64,
    /// Users per second.
    pub users_per_s: f64,
    /// Requests per second (retries included).
    pub requests_per_s: f64,
    /// All requests together (latency of each request's last attempt).
    pub overall: OpStats,
    /// Per request kind.
    pub ops: Vec<OpStats>,
    /// Every provisioning that failed, as OneLogin would list it.
    pub failed_provisionings: Vec<FailedProvisioning>,
}

impl SyncReport {
    /// True when every request passed.
    pub fn passed(&self) -> bool {
        self.failed_requests == 0
    }

    /// A human-readable summary.
    pub fn to_text(&self) -> String {
        let mut out = format!(
            "synced {} users ({} ok, {} failed) and {} groups to {} [{}] in {:.2} s, concurrency {}\n\
             throughput: {:.1} users/s, {:.1} requests/s ({} requests, {} failed, {} sent again after Retry-After, {} s waited)\n\
             {:<16} {:>7} {:>6} {:>9} {:>9} {:>9} {:>9} {:>9}\n",
            self.users,
            self.users_ok,
            self.users_failed,
            self.groups,
            self.base_url,
            self.profile,
            self.elapsed_s,
            self.concurrency,
            self.users_per_s,
            self.requests_per_s,
            self.requests,
            self.failed_requests,
            self.retries,
            self.retry_wait_s,
            "latency (ms)",
            "count",
            "failed",
            "mean",
            "p50",
            "p90",
            "p99",
            "max"
        );
        for s in self.ops.iter().chain(std::iter::once(&self.overall)) {
            out.push_str(&format!(
                "{:<16} {:>7} {:>6} {:>9.2} {:>9.2} {:>9.2} {:>9.2} {:>9.2}\n",
                s.op, s.count, s.failed, s.mean_ms, s.p50_ms, s.p90_ms, s.p99_ms, s.max_ms
            ));
        }
        out.push_str(&failed_provisionings_text(
            &self.failed_provisionings,
            &self.base_url,
        ));
        out
    }
}

#[derive(Default)]
struct Tally {
    latencies: BTreeMap<Op, Vec<f64>>,
    failed_ops: BTreeMap<Op, usize>,
    users_ok: usize,
    users_failed: usize,
    notes_failed: usize,
    retries: usize,
    retry_wait_s: u64,
    failed: Vec<FailedProvisioning>,
}

impl Tally {
    fn add(&mut self, entries: &[Entry], is_user: bool) {
        let ok = entries.iter().all(Entry::passed);
        self.failed.extend(failed_provisionings(entries));
        for e in entries {
            self.retries += e.retries as usize;
            self.retry_wait_s += e.waited_s;
            match (e.op, e.latency_ms) {
                (Some(op), Some(ms)) => {
                    self.latencies.entry(op).or_default().push(ms);
                    if e.verdict == Verdict::Fail {
                        *self.failed_ops.entry(op).or_default() += 1;
                    }
                }
                _ if !e.passed() => self.notes_failed += 1,
                _ => {}
            }
        }
        if is_user {
            if ok {
                self.users_ok += 1;
            } else {
                self.users_failed += 1;
            }
        }
    }

    fn merge(&mut self, other: Tally) {
        for (op, l) in other.latencies {
            self.latencies.entry(op).or_default().extend(l);
        }
        for (op, n) in other.failed_ops {
            *self.failed_ops.entry(op).or_default() += n;
        }
        self.users_ok += other.users_ok;
        self.users_failed += other.users_failed;
        self.notes_failed += other.notes_failed;
        self.retries += other.retries;
        self.retry_wait_s += other.retry_wait_s;
        self.failed.extend(other.failed);
    }
}

/// Provisions a synthetic directory as an initial sync would. `progress`
/// advances by one per user (pass `ProgressBar::hidden()` for none).
pub async fn run_sync(
    target: &Target,
    options: &SyncOptions,
    progress: &ProgressBar,
) -> Result<SyncReport, Error> {
    let directory = synthetic_directory(options.users, options.groups, &options.prefix);
    let group_names = directory.roles.clone();
    let usernames: Arc<Vec<String>> =
        Arc::new(directory.users.iter().map(|u| u.username.clone()).collect());
    let app = AppConfig {
        profile: options.profile,
        provisioning: Provisioning {
            groups: options.groups > 0,
            ..Provisioning::default()
        },
        wire: options.wire.clone(),
        ..AppConfig::default()
    };
    let mut sim = Simulator::new(app, directory, target.clone(), options.timeout)?;
    let started = Instant::now();
    let mut tally = Tally::default();

    if options.groups > 0 {
        let refreshed = sim.apply(0, &Step::RefreshEntitlements).await;
        tally.add(&refreshed, false);
        let created = sim.prepare_groups(0, &group_names).await;
        tally.add(&created, false);
    }

    let next = Arc::new(AtomicUsize::new(0));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..options.concurrency.max(1) {
        let mut sim = sim.clone();
        let next = Arc::clone(&next);
        let usernames = Arc::clone(&usernames);
        let progress = progress.clone();
        workers.spawn(async move {
            let mut tally = Tally::default();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(user) = usernames.get(i) else {
                    break;
                };
                let entries = sim.apply(i + 1, &Step::Assign { user: user.clone() }).await;
                tally.add(&entries, true);
                progress.inc(1);
            }
            tally
        });
    }
    while let Some(done) = workers.join_next().await {
        match done {
            Ok(t) => tally.merge(t),
            Err(e) => return Err(Error::Config(format!("sync worker failed: {e}"))),
        }
    }
    progress.finish_and_clear();
    let elapsed = started.elapsed().as_secs_f64();

    let all: Vec<f64> = tally.latencies.values().flatten().copied().collect();
    let failed_requests: usize = tally.failed_ops.values().sum();
    let requests = all.len() + tally.retries;
    tally.failed.sort_by_key(|f| f.step);
    let ops = tally
        .latencies
        .iter()
        .map(|(op, l)| {
            OpStats::from_latencies(
                op.name(),
                l.clone(),
                tally.failed_ops.get(op).copied().unwrap_or(0),
            )
        })
        .collect();
    let secs = elapsed.max(f64::EPSILON);
    Ok(SyncReport {
        base_url: target.base_url.clone(),
        profile: options.profile.name().to_string(),
        users: options.users,
        users_ok: tally.users_ok,
        users_failed: tally.users_failed,
        groups: options.groups,
        concurrency: options.concurrency.max(1),
        requests,
        retries: tally.retries,
        retry_wait_s: tally.retry_wait_s,
        failed_requests: failed_requests + tally.notes_failed,
        elapsed_s: elapsed,
        users_per_s: options.users as f64 / secs,
        requests_per_s: requests as f64 / secs,
        overall: OpStats::from_latencies("all", all, failed_requests),
        ops,
        failed_provisionings: tally.failed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 50.0), 50.0);
        assert_eq!(percentile(&v, 99.0), 99.0);
        assert_eq!(percentile(&v, 100.0), 100.0);
        assert_eq!(percentile(&[], 50.0), 0.0);
        assert_eq!(percentile(&[3.0], 90.0), 3.0);
    }

    #[test]
    fn synthetic_directory_shape() {
        let d = synthetic_directory(9, 3, "t");
        assert_eq!(d.users.len(), 9);
        assert_eq!(d.roles, ["t-group-00", "t-group-01", "t-group-02"]);
        assert_eq!(d.users[0].roles, ["t-group-00", "t-group-01"]);
        assert_eq!(d.users[1].roles, ["t-group-01"]);
        let groups = d.groups_for(&d.users[0]);
        assert_eq!(groups.len(), 2);
        let none = synthetic_directory(2, 0, "t");
        assert!(none.users[0].roles.is_empty());
    }
}
