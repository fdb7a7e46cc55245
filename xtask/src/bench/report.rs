//! Figures: percentiles, the per-phase and per-store rows, the targets of issue 7 with their
//! verdicts, the printed table and the JSON document. Pure functions, tested below.

use serde_json::{json, Value};

use super::proc::ThreadShare;

/// The `p`-th percentile (0 < p ≤ 100) of `sorted` by the nearest-rank method: the smallest value
/// such that at least p % of the values are at or below it. `None` when there are no values.
pub fn percentile(sorted: &[u64], p: f64) -> Option<u64> {
    if sorted.is_empty() {
        return None;
    }
    let n = sorted.len();
    let rank = ((p / 100.0) * n as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, n) - 1])
}

/// Whether a phase is one of its stage's `livez` samples: `livez`, `livez 2`, `livez 3`, … (wrk's
/// with its label, `livez 2 (wrk)`). A run measures `livez` at its start, its middle and its end,
/// so that one slow moment of the machine does not move every ratio of the run.
pub fn is_livez(name: &str) -> bool {
    let name = name.strip_suffix(" (wrk)").unwrap_or(name);
    name == "livez"
        || name
            .strip_prefix("livez ")
            .is_some_and(|n| n.parse::<u32>().is_ok())
}

/// The rate a stage's phases are divided by for their ratios: the median of every `livez`
/// measured in it, its samples (phases of their own) and the probes run around its other phases.
#[derive(Debug, Clone, PartialEq)]
pub struct Floor {
    /// The median rate, requests a second.
    pub rps: f64,
    /// Each sample's rate, in the order they ran.
    pub samples: Vec<f64>,
    /// Each probe's rate, in the order they ran (two a phase).
    pub probes: Vec<f64>,
}

impl Floor {
    /// From the samples and probes of a stage (`None` without a positive one).
    pub fn of(samples: Vec<f64>, probes: Vec<f64>) -> Option<Floor> {
        let mut all: Vec<f64> = samples
            .iter()
            .chain(&probes)
            .copied()
            .filter(|r| *r > 0.0)
            .collect();
        if all.is_empty() {
            return None;
        }
        all.sort_by(f64::total_cmp);
        let n = all.len();
        let rps = if n % 2 == 1 {
            all[n / 2]
        } else {
            (all[n / 2 - 1] + all[n / 2]) / 2.0
        };
        Some(Floor {
            rps,
            samples,
            probes,
        })
    }

    /// The slowest and the fastest measurement.
    pub fn range(&self) -> (f64, f64) {
        self.samples
            .iter()
            .chain(&self.probes)
            .filter(|r| **r > 0.0)
            .fold((f64::MAX, 0.0_f64), |(lo, hi), r| (lo.min(*r), hi.max(*r)))
    }

    /// How far the fastest measurement is above the slowest, in % of the slowest.
    pub fn spread_percent(&self) -> f64 {
        let (lo, hi) = self.range();
        if lo > 0.0 && lo < f64::MAX {
            (hi / lo - 1.0) * 100.0
        } else {
            0.0
        }
    }

    /// `livez 41,200/s, the median of 3 samples and 40 probes (29,000–45,100/s, 56 % apart)`.
    pub fn describe(&self) -> String {
        let (lo, hi) = self.range();
        let what = match (self.samples.len(), self.probes.len()) {
            (1, 0) => "one sample".to_string(),
            (1, p) => format!("the median of one sample and {p} probes"),
            (s, 0) => format!("the median of {s} samples"),
            (s, p) => format!("the median of {s} samples and {p} probes"),
        };
        format!(
            "livez {}/s, {what} ({}–{}/s, {:.0} % apart)",
            thousands(self.rps.round() as u64),
            thousands(lo.round() as u64),
            thousands(hi.round() as u64),
            self.spread_percent()
        )
    }
}

/// One measured phase.
#[derive(Debug, Clone, PartialEq)]
pub struct Phase {
    /// Such as `get`, `filter-hit`.
    pub name: String,
    /// `workload` (the phases on the store the workload fills) or `store` (the read phases on
    /// the preloaded stores).
    pub stage: &'static str,
    /// Users stored while it ran (at its start, for phases that change the count).
    pub users: u64,
    pub requests: u64,
    pub errors: u64,
    pub seconds: f64,
    pub rps: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// The server's CPU time over the phase's wall time (1.0: one core busy all along).
    pub server_cpu: f64,
    /// The database's (every process of the PostgreSQL cluster), likewise; 0 with sled.
    pub database_cpu: f64,
    /// The load generator's, likewise.
    pub load_cpu: f64,
    /// Every other process's, likewise: anything but noise near 0 disturbed the phase.
    pub other_cpu: f64,
    /// CPU time the hypervisor gave to other machines while this one's CPUs wanted to run
    /// (`steal`, over all CPUs), likewise: on a shared virtual machine, slowness from outside.
    pub steal_cpu: f64,
    /// Bytes the server (and the database, with PostgreSQL) wrote to storage, per request.
    pub written_per_request: f64,
    /// The writes the server's commit thread took during the phase per batch it took them in
    /// (each batch one transaction and one flush), from its `/metrics`; `None` when it took
    /// none, or has no such counters (PostgreSQL).
    pub writes_per_batch: Option<f64>,
    /// The server's CPU time and sleeps a request by group of its threads (request workers, the
    /// commit thread, sled's IO threads...), most CPU first: where a phase's CPU goes, and which
    /// threads wait and are woken how often, without a profiler. Threads that ended during the
    /// phase are not in it.
    pub threads: Vec<ThreadShare>,
    /// The rate of a short `livez` probe run just before the phase and of one just after it,
    /// measurements of the run's floor ([`Run::livez_floor`]). `None` for phases run without
    /// probes (livez itself, the stores' and the tenants' stages).
    pub around: Option<(f64, f64)>,
}

impl Phase {
    /// From latencies in nanoseconds (any order) and the rest of what was measured.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        name: &str,
        users: u64,
        mut latencies_ns: Vec<u64>,
        errors: u64,
        seconds: f64,
        [server_cpu, database_cpu, load_cpu, other_cpu]: [f64; 4],
        written: u64,
    ) -> Phase {
        latencies_ns.sort_unstable();
        let ms = |p: f64| percentile(&latencies_ns, p).map_or(0.0, |v| v as f64 / 1e6);
        let requests = latencies_ns.len() as u64;
        Phase {
            name: name.to_string(),
            stage: "workload",
            users,
            requests,
            errors,
            seconds,
            rps: if seconds > 0.0 {
                requests as f64 / seconds
            } else {
                0.0
            },
            p50_ms: ms(50.0),
            p99_ms: ms(99.0),
            max_ms: ms(100.0),
            server_cpu,
            database_cpu,
            load_cpu,
            other_cpu,
            steal_cpu: 0.0,
            written_per_request: if requests > 0 {
                written as f64 / requests as f64
            } else {
                0.0
            },
            writes_per_batch: None,
            threads: Vec::new(),
            around: None,
        }
    }

    /// The same, in another stage.
    pub fn in_stage(self, stage: &'static str) -> Phase {
        Phase { stage, ..self }
    }

    /// The same, with the CPU time stolen from the machine during the phase.
    pub fn with_steal(self, steal_cpu: f64) -> Phase {
        Phase { steal_cpu, ..self }
    }

    /// The same, with the server's CPU time and sleeps a request by group of threads.
    pub fn with_threads(self, threads: Vec<ThreadShare>) -> Phase {
        Phase { threads, ..self }
    }

    /// The line that names where the server's CPU time went and how often each group of its
    /// threads slept, a request (empty when unknown), such as `tokio-rt-worker 85.2 µs 0.41
    /// sleeps, scim-sled-commi 36.0 µs 0.07 sleeps`.
    pub fn threads_line(&self) -> String {
        self.threads
            .iter()
            .map(|t| format!("{} {:.1} µs {:.2} sleeps", t.group, t.cpu_us, t.sleeps))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// [`Phase::threads`]' CPU time as a JSON object: a group of threads, its µs a request.
    pub fn threads_json(&self) -> Value {
        Value::Object(
            self.threads
                .iter()
                .map(|t| (t.group.clone(), json!(round(t.cpu_us, 1))))
                .collect(),
        )
    }

    /// [`Phase::threads`]' sleeps as a JSON object: a group of threads, its sleeps a request.
    pub fn thread_sleeps_json(&self) -> Value {
        Value::Object(
            self.threads
                .iter()
                .map(|t| (t.group.clone(), json!(round(t.sleeps, 3))))
                .collect(),
        )
    }

    /// The same, with the `livez` rates probed just before and just after it.
    pub fn with_around(self, around: Option<(f64, f64)>) -> Phase {
        Phase { around, ..self }
    }

    /// The mean of the `livez` probes just before and just after it: how fast the machine ran
    /// `livez` around this phase. Shown, not divided by: a probe of 0.2 s is a moment, and
    /// ratios to it moved more from run to run than ratios to the run's median (see
    /// docs/performance.md, issue 17's fourteenth part).
    pub fn local_floor(&self) -> Option<f64> {
        let (a, b) = self.around?;
        (a > 0.0 && b > 0.0).then(|| (a + b) / 2.0)
    }

    /// The same, with the writes per commit batch during the phase.
    pub fn with_batches(self, writes_per_batch: Option<f64>) -> Phase {
        Phase {
            writes_per_batch,
            ..self
        }
    }

    fn to_json(&self) -> Value {
        json!({
            "name": self.name,
            "stage": self.stage,
            "users_stored": self.users,
            "requests": self.requests,
            "errors": self.errors,
            "seconds": round(self.seconds, 3),
            "requests_per_second": round(self.rps, 1),
            "p50_ms": round(self.p50_ms, 3),
            "p99_ms": round(self.p99_ms, 3),
            "max_ms": round(self.max_ms, 3),
            "server_cpu": round(self.server_cpu, 3),
            "database_cpu": round(self.database_cpu, 3),
            "load_cpu": round(self.load_cpu, 3),
            "other_cpu": round(self.other_cpu, 3),
            "steal_cpu": round(self.steal_cpu, 3),
            "server_bytes_written_per_request": round(self.written_per_request, 0),
            "server_cpu_us_per_request": round(self.cpu_us_per_request(), 1),
            "writes_per_commit_batch": self.writes_per_batch.map(|b| round(b, 2)),
            "server_threads_cpu_us_per_request": self.threads_json(),
            "server_threads_sleeps_per_request": self.thread_sleeps_json(),
            "livez_around_requests_per_second": self.around.map(|(a, b)| [round(a, 1), round(b, 1)]),
        })
    }

    /// The line printed when a phase ends; `load` names the load generator's CPU column.
    pub fn summary(&self, load: &str) -> String {
        let batches = self
            .writes_per_batch
            .map_or_else(String::new, |b| format!(", {b:.1} writes a commit batch"));
        format!(
            "{:.0}/s, p50 {:.2} ms, p99 {:.2} ms, {} errors, CPU: server {:.0} %, database {:.0} %, {load} {:.0} %, other {:.0} %, stolen {:.0} %{batches}",
            self.rps,
            self.p50_ms,
            self.p99_ms,
            self.errors,
            self.server_cpu * 100.0,
            self.database_cpu * 100.0,
            self.load_cpu * 100.0,
            self.other_cpu * 100.0,
            self.steal_cpu * 100.0
        )
    }

    /// The server's CPU time per request, in microseconds (issue 17's second measure: unlike a
    /// rate, it does not move with how busy the rest of the machine is).
    pub fn cpu_us_per_request(&self) -> f64 {
        if self.requests == 0 {
            return 0.0;
        }
        self.server_cpu * self.seconds / self.requests as f64 * 1e6
    }
}

/// A store the read phases ran on.
#[derive(Debug, Clone, PartialEq)]
pub struct Store {
    pub users: u64,
    /// Time to load it through /Bulk (with `durability = periodic`).
    pub preload_seconds: f64,
    /// From spawning the server on it to the first 200 of `/readyz`.
    pub start_ms: f64,
    /// The measuring server's peak resident set (VmHWM) and its resident set at the end, MiB.
    pub peak_rss_mib: f64,
    pub rss_mib: f64,
    /// `du` of the data folder after a clean stop, MiB.
    pub disk_mib: f64,
}

impl Store {
    fn to_json(&self) -> Value {
        json!({
            "users": self.users,
            "preload_seconds": round(self.preload_seconds, 2),
            "start_to_ready_ms": round(self.start_ms, 1),
            "peak_rss_mib": round(self.peak_rss_mib, 1),
            "rss_mib": round(self.rss_mib, 1),
            "disk_mib": round(self.disk_mib, 1),
        })
    }
}

/// The tenant stage: a store of many tenants, and the phases run in one of them.
#[derive(Debug, Clone, PartialEq)]
pub struct TenantStage {
    pub tenants: u64,
    pub users_per_tenant: u64,
    /// Creating the tenants through the admin API, and loading their users through their
    /// `/Bulk` (with `durability = periodic`).
    pub create_seconds: f64,
    /// The time each tenth of the tenants took to create, in order: whether creating one
    /// costs more as their number grows.
    pub create_tenths_seconds: Vec<f64>,
    /// `du` of the data folder once the tenants are created, before their users, MiB.
    pub empty_disk_mib: f64,
    pub load_seconds: f64,
    /// From spawning the measured server to the first 200 of `/readyz`.
    pub start_ms: f64,
    /// The measured server's resident set once ready, its peak (VmHWM) and its resident set
    /// after the phases, MiB.
    pub ready_rss_mib: f64,
    pub peak_rss_mib: f64,
    pub rss_mib: f64,
    /// `du` of the data folder after a clean stop, MiB.
    pub disk_mib: f64,
}

/// A phase run in one tenant beside the same phase of the single-tenant workload.
#[derive(Debug, Clone, PartialEq)]
pub struct Beside {
    pub name: String,
    pub single: Phase,
    pub tenant: Phase,
}

impl Beside {
    /// The tenant's rate over the single tenant's.
    pub fn ratio(&self) -> f64 {
        if self.single.rps > 0.0 {
            self.tenant.rps / self.single.rps
        } else {
            0.0
        }
    }

    /// Whether the tenant's rate is within 10 % of the single tenant's (shown, not asserted).
    pub fn within_10_percent(&self) -> bool {
        self.ratio() >= 0.9
    }
}

/// The phases the tenant stage runs, in order.
pub const TENANT_PHASES: [&str; 4] = ["get", "filter-hit", "filter-miss", "create"];

/// Everything a run measured.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    /// The store: `sled` or `postgres`.
    pub store: &'static str,
    pub mode: &'static str,
    pub profile: &'static str,
    pub concurrency: usize,
    /// Such as `server on CPU 0, load on CPU 1`, or why not.
    pub pinning: String,
    pub durability: String,
    pub phases: Vec<Phase>,
    /// The workload store of the first phases (peak memory of that server, its size on disk).
    pub workload_peak_rss_mib: f64,
    pub workload_disk_mib: f64,
    pub stores: Vec<Store>,
    pub tenants: Option<TenantStage>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Met,
    Missed,
    NotRun,
}

impl Verdict {
    pub fn text(self) -> &'static str {
        match self {
            Verdict::Met => "met",
            Verdict::Missed => "NOT MET",
            Verdict::NotRun => "not run",
        }
    }
}

/// A target (of issue 7, or a ratio target of issue 17) and how this run did.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub what: &'static str,
    pub target: &'static str,
    pub measured: String,
    pub verdict: Verdict,
}

/// The store size of the scale targets.
pub const MILLION: u64 = 1_000_000;

/// "at 100,000: " before a figure of a store smaller than the scale targets' million.
fn at(s: &Store) -> String {
    if s.users >= MILLION {
        String::new()
    } else {
        format!("at {}: ", thousands(s.users))
    }
}

/// Targets as the JSON report holds them.
fn targets_json(targets: &[Target]) -> Vec<Value> {
    targets
        .iter()
        .map(|t| {
            json!({
                "what": t.what,
                "target": t.target,
                "measured": t.measured,
                "verdict": match t.verdict {
                    Verdict::Met => "met",
                    Verdict::Missed => "not met",
                    Verdict::NotRun => "not run",
                },
            })
        })
        .collect()
}

/// A scale target's verdict: not run without a 1,000,000-user store.
fn scale_verdict(largest: Option<&Store>, ok: bool) -> Verdict {
    match (largest.filter(|s| s.users >= MILLION), ok) {
        (None, _) => Verdict::NotRun,
        (Some(_), true) => Verdict::Met,
        (Some(_), false) => Verdict::Missed,
    }
}

impl Run {
    /// The tenant stage's phases beside the workload's of the same name.
    pub fn beside(&self) -> Vec<Beside> {
        TENANT_PHASES
            .iter()
            .filter_map(|name| {
                let tenant = self
                    .phases
                    .iter()
                    .find(|p| p.stage == "tenants" && p.name == *name)?;
                Some(Beside {
                    name: name.to_string(),
                    single: self.phase(name, None)?.clone(),
                    tenant: tenant.clone(),
                })
            })
            .collect()
    }

    /// The single-tenant store holding as many users as all the tenants together, if one ran.
    fn same_users_in_one(&self) -> Option<&Store> {
        let t = self.tenants.as_ref()?;
        self.stores
            .iter()
            .find(|s| s.users == t.tenants * t.users_per_tenant)
    }

    /// What the stage's rates are divided by: the median rate of every `livez` measured in it,
    /// its samples (see [`is_livez`]) and the probes around its other phases; `None` without a
    /// positive one. One `livez` is a moment of the machine (on a shared virtual machine the
    /// same `livez` has run at 25,000/s and 45,000/s within one minute, with no CPU stolen); the
    /// median of some forty over the run moves far less from run to run.
    pub fn livez_floor(&self, stage: &str) -> Option<Floor> {
        let in_stage = || self.phases.iter().filter(|p| p.stage == stage);
        let samples = in_stage()
            .filter(|p| is_livez(&p.name) && p.rps > 0.0)
            .map(|p| p.rps)
            .collect();
        let probes = in_stage()
            .filter_map(|p| p.around)
            .flat_map(|(a, b)| [a, b])
            .collect();
        Floor::of(samples, probes)
    }

    /// A phase's rate as a ratio to `livez`: to its tool's floor ([`Run::livez_floor`]), wrk's
    /// for wrk's phases, the workload's for the built-in generator's (and the stores' and
    /// tenants' stages, which run no `livez` of their own).
    pub fn ratio(&self, p: &Phase) -> Option<f64> {
        let tool = if p.stage == super::wrk::STAGE {
            super::wrk::STAGE
        } else {
            "workload"
        };
        Some(p.rps / self.livez_floor(tool)?.rps)
    }

    /// The workload's phase of that name, or with `users`, the stores'.
    fn phase(&self, name: &str, users: Option<u64>) -> Option<&Phase> {
        self.phases.iter().find(|p| {
            p.name == name
                && match users {
                    None => p.stage == "workload",
                    Some(u) => p.stage == "store" && p.users == u,
                }
        })
    }

    /// The targets, judged against this run's figures (never asserted anywhere: shown).
    pub fn targets(&self) -> Vec<Target> {
        let mut out = Vec::new();
        let rate = |name: &'static str,
                    what: &'static str,
                    target: &'static str,
                    min_rps: f64,
                    max_p99: Option<f64>| {
            let p = self.phase(name, None);
            Target {
                what,
                target,
                measured: p.map_or_else(
                    || "-".into(),
                    |p| match max_p99 {
                        Some(_) => format!(
                            "{}/s, p99 {:.2} ms",
                            thousands(p.rps.round() as u64),
                            p.p99_ms
                        ),
                        None => format!("{}/s", thousands(p.rps.round() as u64)),
                    },
                ),
                verdict: match p {
                    None => Verdict::NotRun,
                    Some(p) if p.rps >= min_rps && max_p99.is_none_or(|m| p.p99_ms <= m) => {
                        Verdict::Met
                    }
                    Some(_) => Verdict::Missed,
                },
            }
        };
        let read = "≥ 25,000/s, p99 ≤ 5 ms";
        let filter = "≥ 20,000/s, p99 ≤ 5 ms";
        let write = "≥ 5,000/s, p99 ≤ 20 ms";
        out.push(rate("get", "GET by id", read, 25_000.0, Some(5.0)));
        out.push(rate(
            "filter-hit",
            "userName eq, hit",
            filter,
            20_000.0,
            Some(5.0),
        ));
        out.push(rate(
            "filter-miss",
            "userName eq, miss",
            filter,
            20_000.0,
            Some(5.0),
        ));
        out.push(rate(
            "list",
            "list, 100 per page",
            "≥ 1,000 pages/s",
            1_000.0,
            None,
        ));
        out.push(rate("create", "create", write, 5_000.0, Some(20.0)));
        out.push(rate(
            "patch-suspend",
            "PATCH (suspend)",
            write,
            5_000.0,
            Some(20.0),
        ));
        out.push(rate(
            "patch-reactivate",
            "PATCH (reactivate)",
            write,
            5_000.0,
            Some(20.0),
        ));
        out.push(rate("delete", "DELETE", write, 5_000.0, Some(20.0)));
        // A webhook endpoint whose receiver answers after a second, subscribed to every event:
        // PATCH p99 within 10 % of the same phase without it (issue 16): the mean of the two
        // phases with it (`+slow-webhook`, `+slow-webhook (2)`) against the mean of the two
        // without (the plain phase and ` (2)`), run in the order without, with, with, without.
        for (name, what) in [
            ("patch-suspend", "PATCH (suspend), slow webhook subscribed"),
            (
                "patch-reactivate",
                "PATCH (reactivate), slow webhook subscribed",
            ),
        ] {
            let p99s = |names: [String; 2]| -> Vec<f64> {
                names
                    .iter()
                    .filter_map(|n| self.phase(n, None))
                    .map(|p| p.p99_ms)
                    .collect()
            };
            let with = p99s([
                format!("{name}+slow-webhook"),
                format!("{name}+slow-webhook (2)"),
            ]);
            let without = p99s([name.to_string(), format!("{name} (2)")]);
            let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
            let shown = |v: &[f64]| {
                v.iter()
                    .map(|p| format!("{p:.2}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let ran = !with.is_empty() && !without.is_empty();
            let ratio = mean(&with) / mean(&without).max(f64::MIN_POSITIVE);
            out.push(Target {
                what,
                target: "p99 ≤ 1.10 × without it",
                measured: if ran {
                    format!(
                        "p99 {} ms against {} ms ({ratio:.2}× in mean)",
                        shown(&with),
                        shown(&without)
                    )
                } else {
                    "-".into()
                },
                verdict: match (ran, ratio <= 1.10) {
                    (false, _) => Verdict::NotRun,
                    (true, true) => Verdict::Met,
                    (true, false) => Verdict::Missed,
                },
            });
        }

        // The scale targets are for 1,000,000 users; without --million the largest store's
        // figures are shown, and the verdict says "not run".
        let largest = self.largest_store();
        let judged = |ok: bool| scale_verdict(largest, ok);
        // Hit and miss are judged apart: each must keep 0.8 of its rate at the smallest store.
        let ratios = self
            .scale_ratio("filter-hit")
            .zip(self.scale_ratio("filter-miss"))
            .map(|((big, hit), (_, miss))| (big, (hit, miss)));
        out.push(Target {
            what: "filter rate at 1,000,000 users",
            target: "≥ 0.8 × the rate at 1,000",
            measured: ratios.map_or_else(
                || "-".into(),
                |(big, (hit, miss))| format!("{}hit {hit:.2} ×, miss {miss:.2} ×", at(big)),
            ),
            verdict: judged(ratios.is_some_and(|(_, (h, m))| h >= 0.8 && m >= 0.8)),
        });
        out.push(Target {
            what: "memory at 1,000,000 users",
            target: "≤ 300 MiB resident",
            measured: largest.map_or_else(
                || "-".into(),
                |s| format!("{}{:.0} MiB peak", at(s), s.peak_rss_mib),
            ),
            verdict: judged(largest.is_some_and(|s| s.peak_rss_mib <= 300.0)),
        });
        out.push(Target {
            what: "start with 1,000,000 users",
            target: "≤ 3 s to ready",
            measured: largest.map_or_else(
                || "-".into(),
                |s| format!("{}{:.2} s", at(s), s.start_ms / 1000.0),
            ),
            verdict: judged(largest.is_some_and(|s| s.start_ms <= 3000.0)),
        });
        out
    }

    /// The largest store of the scale stage.
    fn largest_store(&self) -> Option<&Store> {
        self.stores.iter().max_by_key(|s| s.users)
    }

    /// A phase's rate at the largest store as a ratio to its rate at the smallest, with the
    /// largest store.
    fn scale_ratio(&self, name: &str) -> Option<(&Store, f64)> {
        let small = self.stores.iter().min_by_key(|s| s.users)?;
        let big = self.largest_store().filter(|big| big.users > small.users)?;
        let a = self.phase(name, Some(small.users))?.rps;
        let b = self.phase(name, Some(big.users))?.rps;
        (a > 0.0).then(|| (big, b / a))
    }

    /// Issue 17's targets, each a rate as a ratio to `livez` of the same run (wrk's ratio beside
    /// it where wrk ran the phase), and the two scale targets; judged, never asserted.
    pub fn ratio_targets(&self) -> Vec<Target> {
        let has_floor = self.livez_floor("workload").is_some();
        let wrk = super::wrk::Comparison::of(self);
        let wrk_ratio = |name: &str| {
            wrk.as_ref()?
                .rows
                .iter()
                .find(|r| r.name == name)
                .and_then(|r| r.wrk_ratio)
        };
        let ratio = |names: &[&'static str],
                     what: &'static str,
                     target: &'static str,
                     min: f64,
                     max_p99: Option<f64>| {
            let found: Vec<(&str, &Phase)> = names
                .iter()
                .filter_map(|n| self.phase(n, None).map(|p| (*n, p)))
                .collect();
            let (true, false) = (has_floor, found.is_empty()) else {
                return Target {
                    what,
                    target,
                    measured: "-".into(),
                    verdict: Verdict::NotRun,
                };
            };
            let mut met = true;
            let shown: Vec<String> = found
                .iter()
                .map(|(name, p)| {
                    let r = self.ratio(p).unwrap_or(0.0);
                    met &= r >= min && max_p99.is_none_or(|m| p.p99_ms <= m);
                    let mut s = if found.len() > 1 {
                        format!("{name} {r:.3} ×")
                    } else {
                        format!("{r:.3} ×")
                    };
                    if let Some(w) = wrk_ratio(name) {
                        s.push_str(&format!(" (wrk {w:.3} ×)"));
                    }
                    if max_p99.is_some() {
                        s.push_str(&format!(", p99 {:.2} ms", p.p99_ms));
                    }
                    s
                })
                .collect();
            Target {
                what,
                target,
                measured: shown.join("; "),
                // A quick run's phases last milliseconds: its ratios are shown, not judged.
                verdict: if self.mode == "quick" {
                    Verdict::NotRun
                } else if met && found.len() == names.len() {
                    Verdict::Met
                } else {
                    Verdict::Missed
                },
            }
        };
        let mut out = vec![
            ratio(&["get"], "GET by id", "≥ 0.65 × livez", 0.65, None),
            ratio(
                &["filter-hit"],
                "userName eq, hit",
                "≥ 0.55 × livez",
                0.55,
                None,
            ),
            ratio(
                &["list"],
                "list, 100 per page",
                "≥ 0.05 × livez",
                0.05,
                None,
            ),
            ratio(
                &["create", "patch-suspend", "patch-reactivate", "delete"],
                "create, PATCH, DELETE, each",
                "≥ 0.20 × livez, p99 ≤ 10 ms",
                0.20,
                Some(10.0),
            ),
            ratio(
                &["group-patch"],
                "group-patch (one member added)",
                "≥ 0.10 × livez",
                0.10,
                None,
            ),
        ];
        let largest = self.largest_store();
        let hit = self.scale_ratio("filter-hit");
        out.push(Target {
            what: "filter hit at 1,000,000 users",
            target: "≥ 0.8 × the rate at 1,000",
            measured: hit.map_or_else(|| "-".into(), |(big, r)| format!("{}{r:.2} ×", at(big))),
            verdict: scale_verdict(largest, hit.is_some_and(|(_, r)| r >= 0.8)),
        });
        out.push(Target {
            what: "memory at 1,000,000 users",
            target: "≤ 256 MiB resident",
            measured: largest.map_or_else(
                || "-".into(),
                |s| format!("{}{:.0} MiB peak", at(s), s.peak_rss_mib),
            ),
            verdict: scale_verdict(largest, largest.is_some_and(|s| s.peak_rss_mib <= 256.0)),
        });
        out
    }

    pub fn to_json(&self) -> Value {
        json!({
            "format": 1,
            "store": self.store,
            "mode": self.mode,
            "profile": self.profile,
            "concurrency": self.concurrency,
            "pinning": self.pinning,
            "durability": self.durability,
            // wrk's phases are under `wrk`, beside the workload's (`wrk.rs`).
            "phases": self
                .phases
                .iter()
                .filter(|p| p.stage != super::wrk::STAGE)
                .map(Phase::to_json)
                .collect::<Vec<_>>(),
            // The floor of the ratios: the median of the workload's livez samples and probes.
            "livez_requests_per_second": self.livez_floor("workload").map(|f| round(f.rps, 1)),
            "livez_samples_requests_per_second": self
                .livez_floor("workload")
                .map(|f| f.samples.iter().map(|r| round(*r, 1)).collect::<Vec<_>>()),
            "workload_server": {
                "peak_rss_mib": round(self.workload_peak_rss_mib, 1),
                "disk_mib": round(self.workload_disk_mib, 1),
            },
            "stores": self.stores.iter().map(Store::to_json).collect::<Vec<_>>(),
            "tenants": self.tenants.as_ref().map(|t| json!({
                "tenants": t.tenants,
                "users_per_tenant": t.users_per_tenant,
                "create_seconds": round(t.create_seconds, 2),
                "create_tenths_seconds": t.create_tenths_seconds.iter().map(|v| round(*v, 2)).collect::<Vec<_>>(),
                "empty_disk_mib": round(t.empty_disk_mib, 1),
                "load_seconds": round(t.load_seconds, 2),
                "start_to_ready_ms": round(t.start_ms, 1),
                "ready_rss_mib": round(t.ready_rss_mib, 1),
                "peak_rss_mib": round(t.peak_rss_mib, 1),
                "rss_mib": round(t.rss_mib, 1),
                "disk_mib": round(t.disk_mib, 1),
                "beside_single_tenant": self.beside().iter().map(|b| json!({
                    "name": b.name,
                    "single_requests_per_second": round(b.single.rps, 1),
                    "tenant_requests_per_second": round(b.tenant.rps, 1),
                    "ratio": round(b.ratio(), 3),
                    "single_p99_ms": round(b.single.p99_ms, 3),
                    "tenant_p99_ms": round(b.tenant.p99_ms, 3),
                })).collect::<Vec<_>>(),
            })),
            "targets": targets_json(&self.targets()),
            "ratio_targets": targets_json(&self.ratio_targets()),
            "wrk": super::wrk::to_json(self),
        })
    }

    /// The printed report: phases, stores, targets.
    pub fn table(&self) -> String {
        let mut s = String::new();
        s.push_str(&format!(
            "cargo xtask bench ({} mode, {} build) on {}: {} connections, {}, durability {}\n\n",
            self.mode, self.profile, self.store, self.concurrency, self.pinning, self.durability
        ));
        let database = self.store != "sled";
        let mut head = vec![
            "phase",
            "users",
            "requests",
            "errors",
            "req/s",
            "p50 ms",
            "p99 ms",
            "max ms",
            "srv CPU",
            "db CPU",
            "load CPU",
            "other CPU",
            "stolen",
            "written/req",
            "× livez",
            "livez around",
            "srv µs/req",
            "writes/batch",
        ];
        if !database {
            head.retain(|h| *h != "db CPU");
        }
        // Rates as a ratio to `livez` of the same run (Rocket, hyper and loopback, no storage):
        // the floor of any request, which moves with the machine as every phase does; the
        // median of its samples (the workload's start, middle and end) and of the probes around
        // each phase.
        let floor = self.livez_floor("workload");
        let rows: Vec<Vec<String>> = self
            .phases
            .iter()
            .filter(|p| p.stage != super::wrk::STAGE)
            .map(|p| {
                vec![
                    if p.stage == "tenants" {
                        format!("{} (tenant)", p.name)
                    } else {
                        p.name.clone()
                    },
                    thousands(p.users),
                    thousands(p.requests),
                    thousands(p.errors),
                    thousands(p.rps.round() as u64),
                    format!("{:.2}", p.p50_ms),
                    format!("{:.2}", p.p99_ms),
                    format!("{:.1}", p.max_ms),
                    format!("{:.0} %", p.server_cpu * 100.0),
                    format!("{:.0} %", p.database_cpu * 100.0),
                    format!("{:.0} %", p.load_cpu * 100.0),
                    format!("{:.0} %", p.other_cpu * 100.0),
                    format!("{:.0} %", p.steal_cpu * 100.0),
                    bytes(p.written_per_request),
                    self.ratio(p)
                        .map_or_else(|| "-".into(), |r| format!("{r:.3}")),
                    p.local_floor()
                        .map_or_else(|| "-".into(), |f| thousands(f.round() as u64)),
                    format!("{:.0}", p.cpu_us_per_request()),
                    p.writes_per_batch
                        .map_or_else(|| "-".into(), |b| format!("{b:.1}")),
                ]
            })
            .map(|mut row: Vec<String>| {
                if !database {
                    row.remove(9);
                }
                row
            })
            .collect();
        s.push_str(&grid(&head, &rows));
        if let Some(f) = &floor {
            s.push_str(&format!(
                "× livez: each rate over {} (livez around: the mean of the two probes \
                 around the phase)\n",
                f.describe()
            ));
        }
        s.push_str(&format!(
            "\nworkload server: peak resident {:.0} MiB, store on disk after the phases {:.1} MiB\n\n",
            self.workload_peak_rss_mib, self.workload_disk_mib
        ));
        let wrk = super::wrk::table(self);
        if !wrk.is_empty() {
            s.push_str(&wrk);
            s.push('\n');
        }
        let head = [
            "store",
            "preload s",
            "start to ready",
            "peak RSS",
            "RSS at end",
            "on disk",
        ];
        let rows: Vec<Vec<String>> = self
            .stores
            .iter()
            .map(|st| {
                vec![
                    format!("{} users", thousands(st.users)),
                    format!("{:.1}", st.preload_seconds),
                    format!("{:.0} ms", st.start_ms),
                    format!("{:.0} MiB", st.peak_rss_mib),
                    format!("{:.0} MiB", st.rss_mib),
                    format!("{:.1} MiB", st.disk_mib),
                ]
            })
            .collect();
        s.push_str(&grid(&head, &rows));
        s.push('\n');
        if let Some(t) = &self.tenants {
            s.push_str(&self.tenant_table(t));
            s.push('\n');
        }
        for (head, targets) in [
            ("target (issue 7)", self.targets()),
            ("target (issue 17)", self.ratio_targets()),
        ] {
            let rows: Vec<Vec<String>> = targets
                .into_iter()
                .map(|t| {
                    vec![
                        t.what.to_string(),
                        t.target.to_string(),
                        t.measured,
                        t.verdict.text().to_string(),
                    ]
                })
                .collect();
            s.push_str(&grid(&[head, "wanted", "measured", "verdict"], &rows));
            s.push('\n');
        }
        s
    }
}

impl Run {
    /// The tenant stage: the store, then each phase in one tenant beside the workload's.
    fn tenant_table(&self, t: &TenantStage) -> String {
        let tenths: Vec<String> = t
            .create_tenths_seconds
            .iter()
            .map(|v| format!("{v:.1}"))
            .collect();
        let mut s = format!(
            "{} tenants of {} users: created in {:.1} s (admin API; each tenth in {} s), {:.1} MiB on disk then;\n\
             users loaded in {:.1} s (each tenant's /Bulk);\n\
             measured server: ready {:.0} ms after spawn, resident {:.0} MiB when ready, peak {:.0} MiB, {:.0} MiB at end; {:.1} MiB on disk\n",
            thousands(t.tenants),
            thousands(t.users_per_tenant),
            t.create_seconds,
            tenths.join(", "),
            t.empty_disk_mib,
            t.load_seconds,
            t.start_ms,
            t.ready_rss_mib,
            t.peak_rss_mib,
            t.rss_mib,
            t.disk_mib,
        );
        if let Some(one) = self.same_users_in_one() {
            s.push_str(&format!(
                "the same {} users in one tenant (the store above): ready {:.0} ms after spawn, peak {:.0} MiB, {:.1} MiB on disk\n",
                thousands(one.users),
                one.start_ms,
                one.peak_rss_mib,
                one.disk_mib
            ));
        }
        s.push('\n');
        let head = [
            "in one tenant",
            "single tenant",
            "p99 ms",
            "in the tenant",
            "p99 ms",
            "ratio",
            "within 10 %",
        ];
        let rows: Vec<Vec<String>> = self
            .beside()
            .iter()
            .map(|b| {
                vec![
                    b.name.clone(),
                    format!("{}/s", thousands(b.single.rps.round() as u64)),
                    format!("{:.2}", b.single.p99_ms),
                    format!("{}/s", thousands(b.tenant.rps.round() as u64)),
                    format!("{:.2}", b.tenant.p99_ms),
                    format!("{:.2}", b.ratio()),
                    if b.within_10_percent() { "yes" } else { "NO" }.to_string(),
                ]
            })
            .collect();
        s.push_str(&grid(&head, &rows));
        s
    }
}

pub fn round(v: f64, places: i32) -> f64 {
    let f = 10f64.powi(places);
    (v * f).round() / f
}

pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn bytes(b: f64) -> String {
    if b >= 1024.0 * 1024.0 {
        format!("{:.1} MiB", b / 1024.0 / 1024.0)
    } else if b >= 1024.0 {
        format!("{:.1} KiB", b / 1024.0)
    } else {
        format!("{b:.0} B")
    }
}

/// A plain-text table: left-aligned first column, right-aligned others.
pub fn grid(head: &[&str], rows: &[Vec<String>]) -> String {
    let mut width: Vec<usize> = head.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            width[i] = width[i].max(c.chars().count());
        }
    }
    let line = |cells: Vec<&str>| -> String {
        let mut l = String::new();
        for (i, c) in cells.iter().enumerate() {
            let pad = width[i] - c.chars().count();
            if i == 0 {
                l.push_str(c);
                l.push_str(&" ".repeat(pad));
            } else {
                l.push_str("  ");
                l.push_str(&" ".repeat(pad));
                l.push_str(c);
            }
        }
        l.trim_end().to_string() + "\n"
    };
    let mut s = line(head.to_vec());
    s.push_str(&line(
        width
            .iter()
            .map(|w| "-".repeat(*w))
            .collect::<Vec<_>>()
            .iter()
            .map(String::as_str)
            .collect(),
    ));
    for r in rows {
        s.push_str(&line(r.iter().map(String::as_str).collect()));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_the_nearest_rank() {
        assert_eq!(percentile(&[], 50.0), None);
        assert_eq!(percentile(&[7], 50.0), Some(7));
        assert_eq!(percentile(&[7], 99.0), Some(7));
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&v, 50.0), Some(50));
        assert_eq!(percentile(&v, 99.0), Some(99));
        assert_eq!(percentile(&v, 100.0), Some(100));
        assert_eq!(percentile(&v, 0.5), Some(1));
        let v: Vec<u64> = (1..=1000).collect();
        assert_eq!(percentile(&v, 99.0), Some(990));
        assert_eq!(percentile(&[1, 2, 3, 4], 50.0), Some(2));
        assert_eq!(percentile(&[1, 2, 3, 4], 51.0), Some(3));
    }

    fn phase(name: &str, users: u64, rps: f64, p99_ms: f64) -> Phase {
        Phase {
            name: name.into(),
            stage: if users == 10_000 || users == 0 {
                "workload"
            } else {
                "store"
            },
            users,
            requests: 1000,
            errors: 0,
            seconds: 1000.0 / rps,
            rps,
            p50_ms: p99_ms / 2.0,
            p99_ms,
            max_ms: p99_ms * 2.0,
            server_cpu: 1.0,
            database_cpu: 0.0,
            load_cpu: 0.4,
            other_cpu: 0.0,
            steal_cpu: 0.0,
            written_per_request: 2048.0,
            writes_per_batch: None,
            threads: vec![
                ThreadShare {
                    group: "tokio-rt-worker".into(),
                    cpu_us: 30.04,
                    sleeps: 0.4126,
                },
                ThreadShare {
                    group: "sled-io".into(),
                    cpu_us: 1.5,
                    sleeps: 0.07,
                },
            ],
            around: None,
        }
    }

    #[test]
    fn a_phase_names_its_threads_cpu_in_its_json_and_on_a_line() {
        let p = phase("get", 10_000, 1000.0, 2.0);
        let json = p.to_json();
        assert_eq!(
            json["server_threads_cpu_us_per_request"],
            serde_json::json!({"tokio-rt-worker": 30.0, "sled-io": 1.5})
        );
        assert_eq!(
            json["server_threads_sleeps_per_request"],
            serde_json::json!({"tokio-rt-worker": 0.413, "sled-io": 0.07})
        );
        assert_eq!(
            p.threads_line(),
            "tokio-rt-worker 30.0 µs 0.41 sleeps, sled-io 1.5 µs 0.07 sleeps"
        );
        let none = Phase {
            threads: Vec::new(),
            ..p
        };
        assert_eq!(none.threads_line(), "");
        assert_eq!(
            none.to_json()["server_threads_cpu_us_per_request"],
            serde_json::json!({})
        );
    }

    fn run() -> Run {
        Run {
            store: "sled",
            mode: "full",
            profile: "release",
            concurrency: 16,
            pinning: "server on CPU 0, load on CPU 1".into(),
            durability: "per-request".into(),
            phases: vec![
                phase("create", 0, 6000.0, 10.0),
                phase("get", 10_000, 30_000.0, 1.0),
                phase("filter-hit", 10_000, 10_000.0, 1.0),
                phase("filter-hit", 1_000, 10_000.0, 1.0),
                phase("filter-miss", 1_000, 12_000.0, 1.0),
                phase("filter-hit", 1_000_000, 9_000.0, 1.0),
                phase("filter-miss", 1_000_000, 9_000.0, 1.0),
            ],
            workload_peak_rss_mib: 80.0,
            workload_disk_mib: 12.5,
            stores: vec![
                Store {
                    users: 1_000,
                    preload_seconds: 0.2,
                    start_ms: 30.0,
                    peak_rss_mib: 40.0,
                    rss_mib: 38.0,
                    disk_mib: 2.0,
                },
                Store {
                    users: 1_000_000,
                    preload_seconds: 200.0,
                    start_ms: 4000.0,
                    peak_rss_mib: 250.0,
                    rss_mib: 200.0,
                    disk_mib: 900.0,
                },
            ],
            tenants: None,
        }
    }

    /// A run with a tenant stage of 10,000 tenants of 100 users (as many users as its
    /// 1,000,000-user store).
    fn run_with_tenants() -> Run {
        let mut r = run();
        for (name, rps) in [
            ("get", 28_000.0),
            ("filter-hit", 8_500.0),
            ("create", 6_100.0),
        ] {
            let mut p = phase(name, 100, rps, 1.5).in_stage("tenants");
            p.users = 100;
            r.phases.push(p);
        }
        r.tenants = Some(TenantStage {
            tenants: 10_000,
            users_per_tenant: 100,
            create_seconds: 12.0,
            create_tenths_seconds: vec![1.0, 1.5],
            empty_disk_mib: 40.0,
            load_seconds: 20.0,
            start_ms: 450.0,
            ready_rss_mib: 70.0,
            peak_rss_mib: 95.0,
            rss_mib: 93.0,
            disk_mib: 300.0,
        });
        r
    }

    #[test]
    fn tenant_phases_are_set_beside_the_single_tenant_ones() {
        let r = run_with_tenants();
        let b = r.beside();
        let names: Vec<&str> = b.iter().map(|b| b.name.as_str()).collect();
        // filter-miss has no workload phase in this run: nothing to set it beside.
        assert_eq!(names, ["get", "filter-hit", "create"]);
        assert!((b[0].ratio() - 28_000.0 / 30_000.0).abs() < 1e-9);
        assert!(b[0].within_10_percent());
        assert!(!b[1].within_10_percent(), "8,500 against 10,000");
        assert!((b[1].ratio() - 0.85).abs() < 1e-9);
        assert!(b[2].within_10_percent());

        let t = r.table();
        for needle in [
            "10,000 tenants of 100 users: created in 12.0 s (admin API; each tenth in 1.0, 1.5 s)",
            "get (tenant)",
            "ratio",
            "0.93",
            "the same 1,000,000 users in one tenant",
            "ready 450 ms after spawn, resident 70 MiB when ready, peak 95 MiB",
        ] {
            assert!(t.contains(needle), "{needle} in\n{t}");
        }
        let j = r.to_json();
        assert_eq!(j["tenants"]["tenants"], 10_000);
        assert_eq!(j["tenants"]["peak_rss_mib"], 95.0);
        let beside = j["tenants"]["beside_single_tenant"]
            .as_array()
            .expect("beside");
        assert_eq!(beside.len(), 3);
        assert_eq!(beside[0]["ratio"], 0.933);
        assert_eq!(run().to_json()["tenants"], Value::Null);
        assert!(!run().table().contains("tenants of"));
    }

    #[test]
    fn phases_compute_rates_and_percentiles() {
        let p = Phase::new(
            "get",
            10,
            (1..=100).rev().map(|ms| ms * 1_000_000).collect(),
            1,
            2.0,
            [0.9, 0.0, 0.3, 0.0],
            1000,
        );
        assert_eq!(p.requests, 100);
        assert!((p.rps - 50.0).abs() < 1e-9);
        assert!((p.p50_ms - 50.0).abs() < 1e-9);
        assert!((p.p99_ms - 99.0).abs() < 1e-9);
        assert!((p.max_ms - 100.0).abs() < 1e-9);
        assert!((p.written_per_request - 10.0).abs() < 1e-9);
    }

    #[test]
    fn targets_are_judged_not_asserted() {
        let t = run().targets();
        let verdict = |what: &str| {
            t.iter()
                .find(|t| t.what == what)
                .map(|t| t.verdict)
                .expect(what)
        };
        assert_eq!(verdict("create"), Verdict::Met);
        assert_eq!(verdict("GET by id"), Verdict::Met);
        assert_eq!(verdict("userName eq, hit"), Verdict::Missed);
        assert_eq!(verdict("userName eq, miss"), Verdict::NotRun);
        assert_eq!(verdict("list, 100 per page"), Verdict::NotRun);
        // Hit 9,000 against 10,000 (0.9), miss 9,000 against 12,000 (0.75).
        assert_eq!(verdict("filter rate at 1,000,000 users"), Verdict::Missed);
        assert_eq!(verdict("memory at 1,000,000 users"), Verdict::Met);
        assert_eq!(verdict("start with 1,000,000 users"), Verdict::Missed);
    }

    #[test]
    fn issue_17_targets_are_ratios_to_livez_of_the_same_run() {
        let mut r = run();
        // Without livez no ratio can be judged.
        assert!(r
            .ratio_targets()
            .iter()
            .take(5)
            .all(|t| t.verdict == Verdict::NotRun));
        r.phases.extend([
            phase("livez", 0, 40_000.0, 0.5),
            phase("list", 10_000, 2_000.0, 20.0),
            phase("patch-suspend", 10_000, 8_000.0, 9.0),
            phase("patch-reactivate", 10_000, 8_000.0, 11.0),
            phase("delete", 10_000, 9_000.0, 5.0),
        ]);
        let t = r.ratio_targets();
        let find = |what: &str| t.iter().find(|t| t.what == what).expect(what);
        // get 30,000 / 40,000 = 0.75; filter hit 10,000 / 40,000 = 0.25.
        assert_eq!(find("GET by id").verdict, Verdict::Met);
        assert_eq!(find("GET by id").measured, "0.750 ×");
        assert_eq!(find("userName eq, hit").verdict, Verdict::Missed);
        // 2,000 / 40,000 = 0.05: met at the bound.
        assert_eq!(find("list, 100 per page").verdict, Verdict::Met);
        // create 0.15 ×: missed, and patch-reactivate's p99 is over 10 ms.
        let writes = find("create, PATCH, DELETE, each");
        assert_eq!(writes.verdict, Verdict::Missed);
        assert!(
            writes.measured.contains("create 0.150 ×, p99 10.00 ms")
                && writes
                    .measured
                    .contains("patch-reactivate 0.200 ×, p99 11.00 ms"),
            "{}",
            writes.measured
        );
        for p in &mut r.phases {
            match p.name.as_str() {
                "create" => p.rps = 8_000.0,
                "patch-reactivate" => p.p99_ms = 10.0,
                _ => {}
            }
        }
        let t = r.ratio_targets();
        let find = |what: &str| t.iter().find(|t| t.what == what).expect(what);
        assert_eq!(find("create, PATCH, DELETE, each").verdict, Verdict::Met);
        // A phase of the row that did not run leaves it missed, never met.
        assert_eq!(
            find("group-patch (one member added)").verdict,
            Verdict::NotRun
        );
        r.phases.retain(|p| p.name != "delete");
        let t = r.ratio_targets();
        let find = |what: &str| t.iter().find(|t| t.what == what).expect(what);
        assert_eq!(find("create, PATCH, DELETE, each").verdict, Verdict::Missed);
        // The scale rows: hit 9,000 against 10,000 is 0.90 ×; 250 MiB is within 256 MiB.
        assert_eq!(find("filter hit at 1,000,000 users").measured, "0.90 ×");
        assert_eq!(find("filter hit at 1,000,000 users").verdict, Verdict::Met);
        assert_eq!(find("memory at 1,000,000 users").verdict, Verdict::Met);
        r.stores[1].peak_rss_mib = 290.0;
        let t = r.ratio_targets();
        assert!(t
            .iter()
            .any(|t| t.what == "memory at 1,000,000 users" && t.verdict == Verdict::Missed));
        let table = r.table();
        assert!(table.contains("target (issue 17)"), "{table}");
        assert!(table.contains("≥ 0.65 × livez"), "{table}");
        assert_eq!(r.to_json()["ratio_targets"][0]["verdict"], "met");
        r.mode = "quick";
        let t = r.ratio_targets();
        assert_eq!(t[0].measured, "0.750 ×", "shown");
        assert!(
            t.iter().take(5).all(|t| t.verdict == Verdict::NotRun),
            "not judged"
        );
    }

    #[test]
    fn livez_samples_are_named_livez_and_a_number() {
        for name in [
            "livez",
            "livez 2",
            "livez 3",
            "livez (wrk)",
            "livez 2 (wrk)",
        ] {
            assert!(is_livez(name), "{name}");
        }
        for name in [
            "get",
            "livez2",
            "livez x",
            "livez (2)",
            "livez-slow",
            "get (wrk)",
        ] {
            assert!(!is_livez(name), "{name}");
        }
    }

    #[test]
    fn ratios_divide_by_the_median_of_the_livez_samples() {
        let mut r = run();
        // The first sample caught the machine slow: alone, it would put GET at 1.5 ×.
        r.phases.extend([
            phase("livez", 0, 20_000.0, 0.5),
            phase("livez 2", 10_000, 40_000.0, 0.5),
            phase("livez 3", 0, 46_000.0, 0.5),
        ]);
        // Another stage's livez is not this stage's sample.
        let mut other = phase("livez", 1_000, 1_000.0, 0.5);
        other.stage = "store";
        r.phases.push(other);
        let f = r.livez_floor("workload").expect("samples");
        assert_eq!(f.rps, 40_000.0);
        assert_eq!(f.samples, [20_000.0, 40_000.0, 46_000.0]);
        assert!(f.probes.is_empty());
        assert!((f.spread_percent() - 130.0).abs() < 1e-9);
        let t = r.ratio_targets();
        let get = t.iter().find(|t| t.what == "GET by id").expect("get");
        // 30,000 / 40,000.
        assert_eq!(get.measured, "0.750 ×");
        let table = r.table();
        assert!(
            table.contains(
                "× livez: each rate over livez 40,000/s, the median of 3 samples \
                 (20,000–46,000/s, 130 % apart)"
            ),
            "{table}"
        );
        let j = r.to_json();
        assert_eq!(j["livez_requests_per_second"], 40_000.0);
        assert_eq!(
            j["livez_samples_requests_per_second"],
            serde_json::json!([20_000.0, 40_000.0, 46_000.0])
        );
        // Two samples: their mean; none positive: no floor.
        r.phases.retain(|p| p.name != "livez 3");
        assert_eq!(r.livez_floor("workload").map(|f| f.rps), Some(30_000.0));
        for p in &mut r.phases {
            if is_livez(&p.name) {
                p.rps = 0.0;
            }
        }
        assert_eq!(r.livez_floor("workload"), None);
    }

    #[test]
    fn the_probes_around_the_phases_count_into_the_floor() {
        let mut r = run();
        r.phases.push(phase("livez", 0, 40_000.0, 0.5));
        for p in &mut r.phases {
            match p.name.as_str() {
                "get" => p.around = Some((20_000.0, 30_000.0)),
                "create" => p.around = Some((36_000.0, 0.0)),
                _ => {}
            }
        }
        // 40,000 (the sample), 20,000 and 30,000 (get's probes), 36,000 (create's; its failed
        // probe, 0, is no measurement): the median is 33,000.
        let f = r.livez_floor("workload").expect("floor");
        assert_eq!(f.rps, 33_000.0);
        assert_eq!(f.samples, [40_000.0]);
        assert_eq!(f.probes, [36_000.0, 0.0, 20_000.0, 30_000.0]);
        let get = r.phase("get", None).expect("get").clone();
        assert_eq!(r.ratio(&get), Some(30_000.0 / 33_000.0));
        assert_eq!(
            r.ratio_targets()
                .iter()
                .find(|t| t.what == "GET by id")
                .expect("get")
                .measured,
            "0.909 ×"
        );
        // Shown beside it: the mean of its own two probes; none for a failed probe.
        assert_eq!(get.local_floor(), Some(25_000.0));
        let create = r.phase("create", None).expect("create").clone();
        assert_eq!(create.local_floor(), None);
        let table = r.table();
        let get_row = table
            .lines()
            .find(|l| l.starts_with("get "))
            .expect("get's row");
        assert!(
            get_row.contains(" 0.909 ") && get_row.contains(" 25,000 "),
            "{get_row}"
        );
        assert!(
            table.contains(
                "livez 33,000/s, the median of one sample and 4 probes (20,000–40,000/s, 100 % \
                 apart)"
            ),
            "{table}"
        );
        assert_eq!(
            r.to_json()["phases"][1]["livez_around_requests_per_second"],
            serde_json::json!([20_000.0, 30_000.0])
        );
    }

    #[test]
    fn without_a_million_the_scale_targets_are_not_run_but_shown() {
        let mut r = run();
        r.stores[1].users = 100_000;
        for p in &mut r.phases {
            if p.users == 1_000_000 {
                p.users = 100_000;
            }
        }
        let t = r.targets();
        let scale: Vec<&Target> = t.iter().rev().take(3).collect();
        assert!(scale.iter().all(|t| t.verdict == Verdict::NotRun));
        assert!(scale.iter().all(|t| t.measured.starts_with("at 100,000: ")));
        assert!(scale[2].measured.contains("hit 0.90 ×, miss 0.75 ×"));
    }

    #[test]
    fn the_slow_webhook_aim_compares_the_means_of_the_pairs_with_and_without() {
        let judged = |with2: f64| {
            let mut r = run();
            r.phases.extend([
                phase("patch-suspend", 10_000, 2_000.0, 10.0),
                phase("patch-suspend+slow-webhook", 10_000, 2_000.0, 10.5),
                phase("patch-suspend+slow-webhook (2)", 10_000, 2_000.0, with2),
                phase("patch-suspend (2)", 10_000, 2_000.0, 12.0),
            ]);
            r.targets()
                .into_iter()
                .find(|t| t.what == "PATCH (suspend), slow webhook subscribed")
                .map(|t| (t.verdict, t.measured))
                .expect("the target")
        };
        // (10.5 + 13.7) / 2 = 12.1 against (10 + 12) / 2 = 11: 1.10 ×.
        let (verdict, measured) = judged(13.7);
        assert_eq!(verdict, Verdict::Met, "{measured}");
        assert!(
            measured.contains("10.50, 13.70 ms against 10.00, 12.00 ms"),
            "{measured}"
        );
        assert_eq!(judged(14.0).0, Verdict::Missed);
        let none = run()
            .targets()
            .into_iter()
            .find(|t| t.what == "PATCH (reactivate), slow webhook subscribed")
            .map(|t| t.verdict);
        assert_eq!(none, Some(Verdict::NotRun));
    }

    #[test]
    fn cpu_per_request_is_the_server_s_cpu_time_over_the_requests() {
        let mut p = Phase::new(
            "x",
            0,
            vec![1_000_000; 1000],
            0,
            2.0,
            [0.5, 0.0, 0.0, 0.0],
            0,
        );
        assert!((p.cpu_us_per_request() - 1000.0).abs() < 1e-6);
        p.requests = 0;
        assert_eq!(p.cpu_us_per_request(), 0.0);
    }

    #[test]
    fn json_has_the_documented_shape() {
        let j = run().to_json();
        assert_eq!(j["format"], 1);
        assert_eq!(j["mode"], "full");
        assert_eq!(j["concurrency"], 16);
        let phases = j["phases"].as_array().expect("phases");
        assert_eq!(phases.len(), 7);
        for key in [
            "name",
            "stage",
            "users_stored",
            "requests",
            "errors",
            "seconds",
            "requests_per_second",
            "p50_ms",
            "p99_ms",
            "max_ms",
            "server_cpu",
            "database_cpu",
            "load_cpu",
            "other_cpu",
            "steal_cpu",
            "server_bytes_written_per_request",
            "server_cpu_us_per_request",
        ] {
            assert!(phases[0].get(key).is_some(), "phase field {key}");
        }
        assert_eq!(phases[1]["requests_per_second"], 30000.0);
        let stores = j["stores"].as_array().expect("stores");
        for key in [
            "users",
            "preload_seconds",
            "start_to_ready_ms",
            "peak_rss_mib",
            "rss_mib",
            "disk_mib",
        ] {
            assert!(stores[1].get(key).is_some(), "store field {key}");
        }
        assert_eq!(j["workload_server"]["peak_rss_mib"], 80.0);
        let targets = j["targets"].as_array().expect("targets");
        assert_eq!(targets.len(), 13);
        assert!(targets
            .iter()
            .all(|t| ["met", "not met", "not run"].contains(&t["verdict"].as_str().unwrap_or(""))));
    }

    #[test]
    fn the_table_names_every_phase_and_target() {
        let t = run().table();
        for needle in [
            "filter-miss",
            "1,000,000 users",
            "NOT MET",
            "30,000",
            "start with 1,000,000 users",
        ] {
            assert!(t.contains(needle), "{needle} in\n{t}");
        }
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1234567), "1,234,567");
    }
}
