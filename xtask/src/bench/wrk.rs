//! `cargo xtask bench --wrk`: a second load generator, Debian's `wrk` with `docs/perf/scim.lua`,
//! against the workload's server, to confirm the built-in generator's ratios (issue 17).
//!
//! After the workload's PATCH phases (the store then holds the created users, every one active),
//! wrk runs `livez`, `get`, `filter-hit`, `patch-suspend` and `patch-reactivate` for a fixed
//! time each (5 s, 2 s with `--quick`), one thread and the run's connections (16), pinned to the
//! load generator's CPU with `taskset -c`, the ids and userNames in files the bench writes. Its
//! figures are phases of their own stage ([`STAGE`]), with the server's CPU measured as the
//! built-in phases' are; [`Comparison`] sets each beside the built-in phase of the same name, as
//! ratios to each tool's own `livez`, and flags those whose ratios differ by more than
//! [`MAX_DIFFERENCE_PERCENT`]. Printed in the run's table and under `wrk` in its JSON.
//!
//! A PATCH that changes nothing writes nothing (the core answers it as a read), so wrk's PATCH
//! phases alternate the value on each pass over the users (see the script), and the users are
//! set, unmeasured, to what the next phase needs: suspended before `patch-reactivate`, active
//! again at the end.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use serde_json::{json, Value};

use super::http::Target;
use super::load;
use super::proc::{self, ProcStatus};
use super::report::{grid, round, thousands, Phase, Run};
use super::Bench;
use crate::server::Server;

/// The stage of wrk's phases (see [`Phase::stage`]).
pub const STAGE: &str = "wrk";
/// Ratios further apart than this are flagged, to be explained in `docs/performance.md`.
pub const MAX_DIFFERENCE_PERCENT: f64 = 15.0;
/// Other processes' CPU (1.0: one CPU) over which a phase is said to have been disturbed, as
/// `bench.rs` warns before the start.
const BUSY: f64 = 0.1;
/// The script, from the workspace's root.
pub const SCRIPT: &str = "docs/perf/scim.lua";
/// What the task says when there is no `wrk` to run.
const MISSING: &str = "wrk not found: apt-get install wrk";

/// What a phase's requests go through: nothing, the users' ids, or their userNames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum List {
    Nothing,
    Ids,
    Names,
}

/// wrk's phases, in order: each a phase of the workload (its name) and a mode of the script.
/// `livez` runs at the start, in the middle and at the end, and is probed around each other
/// phase: the ratios divide by the median of them all ([`Run::livez_floor`]).
const PHASES: [(&str, &str, List); 7] = [
    ("livez", "livez", List::Nothing),
    ("get", "get", List::Ids),
    ("filter-hit", "filter-hit", List::Names),
    ("livez 2", "livez", List::Nothing),
    ("patch-suspend", "patch-suspend", List::Ids),
    ("patch-reactivate", "patch-reactivate", List::Ids),
    ("livez 3", "livez", List::Nothing),
];

/// A wrk phase's name in the run's phases: `get (wrk)`, apart from the workload's `get` (it
/// shows so in `--store postgres`'s side-by-side table).
fn label(name: &str) -> String {
    format!("{name} ({STAGE})")
}

/// Runs wrk's phases against `server`, whose users are `ids` (active) with the userNames
/// numbered `names`, and adds them to the bench's phases.
pub(super) async fn run(
    bench: &mut Bench<'_>,
    (server, target): (&Server, &Target),
    ids: &[String],
    names: &[usize],
) -> Result<(), String> {
    let version = version("wrk")?;
    let script = super::workspace_root().join(SCRIPT);
    if !script.is_file() {
        return Err(format!("{}: no such file", script.display()));
    }
    // The lists go with the run's stores; wrk's whole output stays after the run, beside the
    // JSON (`target/bench/wrk/ENGINE/PHASE.txt`).
    let lists = bench.tmp.join("wrk");
    let engine = if bench.cluster.is_some() {
        "postgres"
    } else {
        "sled"
    };
    let dir = super::target_dir().join("bench/wrk").join(engine);
    for d in [&lists, &dir] {
        std::fs::create_dir_all(d).map_err(|e| format!("{}: {e}", d.display()))?;
    }
    let ids_file = lists.join("ids.txt");
    let names_file = lists.join("names.txt");
    let write = |path: &Path, lines: Vec<String>| {
        std::fs::write(path, lines.join("\n") + "\n")
            .map_err(|e| format!("{}: {e}", path.display()))
    };
    write(&ids_file, ids.to_vec())?;
    write(
        &names_file,
        names
            .iter()
            .map(|&i| super::user_name("bench", i))
            .collect(),
    )?;
    let seconds = if bench.args.quick { 2 } else { 5 };
    // Pinned like the built-in generator: on this process's CPU (the load's).
    let load_cpus = bench.server_cpu.map(|_| proc::own_cpus());
    eprintln!(
        "== {version}: {seconds} s a phase, 1 thread, {} connections, {}; its output in {}",
        bench.args.concurrency,
        load_cpus
            .as_ref()
            .map_or_else(|| "not pinned".to_string(), |c| format!("on CPU {c}")),
        dir.display()
    );
    for (name, mode, list) in PHASES {
        if name == "patch-reactivate" {
            // Every PATCH must change its user: start with every user suspended.
            set_active(target, ids, false, bench.args.concurrency).await?;
        }
        let file = match list {
            List::Nothing => None,
            List::Ids => Some(ids_file.as_path()),
            List::Names => Some(names_file.as_path()),
        };
        let run = Wrk {
            name,
            mode,
            file,
            seconds,
            connections: bench.args.concurrency,
            load_cpus: load_cpus.as_deref(),
            script: &script,
            url: format!("http://{}{}", target.host, target.base_path),
            key: &target.key,
        };
        let users = if list == List::Nothing { 0 } else { ids.len() };
        let keep = dir.join(format!("{}.txt", name.replace(' ', "-")));
        // livez probed just before and just after each phase: with the samples, the
        // measurements whose median is the floor of wrk's ratios.
        let probe = Wrk {
            name: "livez probe",
            mode: "livez",
            file: None,
            seconds: PROBE_SECONDS,
            url: run.url.clone(),
            ..run
        };
        let before = if list == List::Nothing {
            None
        } else {
            probe_rate(&probe).await
        };
        let phase = measure(bench, server, &run, users, &keep).await?;
        let after = match before {
            Some(_) => probe_rate(&probe).await,
            None => None,
        };
        bench.phases.push(phase.with_around(before.zip(after)));
    }
    // As the workload left them, for its next phases.
    set_active(target, ids, true, bench.args.concurrency).await
}

/// How long each `livez` probe around a phase runs.
const PROBE_SECONDS: u32 = 1;

/// The rate of a `livez` probe run with wrk, `None` if it failed (the floor then has one probe
/// fewer).
async fn probe_rate(run: &Wrk<'_>) -> Option<f64> {
    let mut cmd = run.command();
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .ok()?
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let o = parse(&String::from_utf8_lossy(&out.stdout)).ok()?;
    (o.errors() == 0 && o.rps > 0.0).then_some(o.rps)
}

/// `wrk`'s version line; the task's message when it is not installed.
fn version(program: &str) -> Result<String, String> {
    // `wrk -v` prints its version, then its usage, and exits with 1.
    match Command::new(program).arg("-v").output() {
        Ok(out) => Ok(String::from_utf8_lossy(&out.stdout)
            .lines()
            .next()
            .unwrap_or("wrk")
            .split(" Copyright")
            .next()
            .unwrap_or("wrk")
            .trim()
            .to_string()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(MISSING.to_string()),
        Err(e) => Err(format!("{program}: {e}")),
    }
}

/// One run of wrk.
struct Wrk<'a> {
    /// The phase's name.
    name: &'a str,
    /// The script's mode.
    mode: &'a str,
    file: Option<&'a Path>,
    seconds: u32,
    connections: usize,
    /// `taskset -c` these CPUs.
    load_cpus: Option<&'a str>,
    script: &'a Path,
    /// The SCIM base URL.
    url: String,
    key: &'a str,
}

impl Wrk<'_> {
    fn command(&self) -> Command {
        let mut cmd = match self.load_cpus {
            Some(cpus) => {
                let mut c = Command::new("taskset");
                c.arg("-c").arg(cpus).arg("wrk");
                c
            }
            None => Command::new("wrk"),
        };
        cmd.arg("-t1")
            .arg(format!("-c{}", self.connections.max(1)))
            .arg(format!("-d{}s", self.seconds))
            // Not wrk's 2 s: a slow answer (a debug build's) is a slow answer, not an error.
            .args(["--timeout", "10s", "--latency", "-s"])
            .arg(self.script)
            .arg(&self.url)
            .arg("--")
            .arg(self.mode);
        if let Some(f) = self.file {
            cmd.arg(f);
        }
        // In the environment, not on the command line.
        cmd.env("SCIM_BENCH_KEY", self.key);
        cmd
    }
}

/// Runs wrk once, with the server's, the database's, wrk's and the machine's CPU time around
/// it, as [`Bench::phase`] measures the built-in phases; keeps wrk's output in `keep`.
async fn measure(
    bench: &Bench<'_>,
    server: &Server,
    run: &Wrk<'_>,
    users: usize,
    keep: &Path,
) -> Result<Phase, String> {
    eprint!(
        "== {} ({users} users stored): {} s … ",
        label(run.name),
        run.seconds
    );
    let mut cmd = run.command();
    let threads0 = proc::thread_groups(server.pid);
    let (s0, d0, c0, a0, st0) = (
        ProcStatus::of(server.pid),
        bench.database_status(),
        children_cpu_ticks(),
        proc::machine_busy_ticks(),
        proc::machine_steal_ticks(),
    );
    let t0 = Instant::now();
    // wrk's CPU time is this process's children's once it is waited for (the servers, also
    // children, are waited for only when they stop).
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .map_err(|e| format!("wrk: {e}"))?
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => MISSING.to_string(),
            _ => format!("wrk: {e}"),
        })?;
    let wall = t0.elapsed().as_secs_f64();
    let threads1 = proc::thread_groups(server.pid);
    let (s1, d1, c1, a1, st1) = (
        ProcStatus::of(server.pid),
        bench.database_status(),
        children_cpu_ticks(),
        proc::machine_busy_ticks(),
        proc::machine_steal_ticks(),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let _ = std::fs::write(keep, format!("{stdout}{stderr}"));
    if !out.status.success() {
        eprintln!("failed");
        return Err(format!(
            "wrk -- {}: {}\n{stdout}{stderr}",
            run.mode, out.status
        ));
    }
    let o = parse(&stdout).map_err(|e| format!("wrk -- {}: {e}\n{stdout}", run.mode))?;
    if o.script.is_none() {
        return Err(format!(
            "wrk -- {}: no line of {SCRIPT}'s checks in its output\n{stdout}{stderr}",
            run.mode
        ));
    }
    let (server_ticks, database_ticks, load_ticks) = (
        s1.cpu_ticks.saturating_sub(s0.cpu_ticks),
        d1.cpu_ticks.saturating_sub(d0.cpu_ticks),
        c1.saturating_sub(c0),
    );
    let other_ticks = a1
        .saturating_sub(a0)
        .saturating_sub(server_ticks + database_ticks + load_ticks);
    let cpu = |ticks: u64| {
        if wall > 0.0 {
            ticks as f64 / bench.ticks as f64 / wall
        } else {
            0.0
        }
    };
    let written = s1.write_bytes.saturating_sub(s0.write_bytes)
        + d1.write_bytes.saturating_sub(d0.write_bytes);
    let p = Phase {
        name: label(run.name),
        stage: STAGE,
        users: users as u64,
        requests: o.requests,
        errors: o.errors(),
        seconds: o.seconds,
        rps: o.rps,
        p50_ms: o.p50_ms,
        p99_ms: o.p99_ms,
        max_ms: o.max_ms,
        server_cpu: cpu(server_ticks),
        database_cpu: cpu(database_ticks),
        load_cpu: cpu(load_ticks),
        other_cpu: cpu(other_ticks),
        steal_cpu: cpu(st1.saturating_sub(st0)),
        written_per_request: if o.requests > 0 {
            written as f64 / o.requests as f64
        } else {
            0.0
        },
        writes_per_batch: None,
        threads: proc::thread_groups_per_request(&threads0, &threads1, o.requests),
        around: None,
    };
    eprintln!("{}", p.summary("wrk"));
    if !p.threads.is_empty() {
        eprintln!("   server CPU a request by thread: {}", p.threads_line());
    }
    if p.errors > 0 {
        let s = o.socket_errors;
        let c = o.script.unwrap_or_default();
        eprintln!(
            "   error: socket errors (connect {}, read {}, write {}, timeout {}), {} not 2xx, {} bodies without what was asked for (output in {})",
            s.connect,
            s.read,
            s.write,
            s.timeout,
            c.not_2xx.max(o.status_errors),
            c.unexpected,
            keep.display()
        );
    }
    Ok(p)
}

/// CPU time of this process's children that were waited for (`cutime` and `cstime`, fields 16
/// and 17 of `/proc/self/stat`), in clock ticks.
fn children_cpu_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let Some(at) = stat.rfind(')') else { return 0 };
    // After the name comes field 3: field N is the (N - 3)th.
    let fields: Vec<u64> = stat[at + 1..]
        .split_whitespace()
        .map(|f| f.parse().unwrap_or(0))
        .collect();
    fields.get(13).copied().unwrap_or(0) + fields.get(14).copied().unwrap_or(0)
}

/// PATCHes `active` of every user to `active` (not measured).
async fn set_active(
    target: &Target,
    ids: &[String],
    active: bool,
    concurrency: usize,
) -> Result<(), String> {
    let ids = Arc::new(ids.to_vec());
    let n = ids.len();
    let (make, check) = super::patch_active_op(ids, active);
    let m = load::run(target, n, concurrency, make, check).await;
    if m.errors > 0 {
        return Err(format!(
            "setting active to {active} on every user between wrk's phases: {:?}",
            m.error_samples
        ));
    }
    Ok(())
}

/// wrk's socket errors.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SocketErrors {
    pub connect: u64,
    pub read: u64,
    pub write: u64,
    /// Requests not answered within `--timeout`.
    pub timeout: u64,
}

/// What `scim.lua`'s `done()` counted.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Checked {
    pub responses: u64,
    /// Statuses outside 200–299.
    pub not_2xx: u64,
    /// 2xx answers without what the mode expects.
    pub unexpected: u64,
}

/// What wrk printed (with `--latency`, and `scim.lua`'s line).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Output {
    /// Requests completed, and over how long.
    pub requests: u64,
    pub seconds: f64,
    /// `Requests/sec`.
    pub rps: f64,
    /// The `Latency` line: mean and max.
    pub mean_ms: f64,
    pub max_ms: f64,
    /// The latency distribution.
    pub p50_ms: f64,
    pub p75_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub socket_errors: SocketErrors,
    /// "Non-2xx or 3xx responses" (wrk counts statuses over 399 only).
    pub status_errors: u64,
    /// The script's line, if it printed one.
    pub script: Option<Checked>,
}

impl Output {
    /// Every failed request: socket errors, non-2xx answers, and 2xx answers without what was
    /// asked for.
    pub fn errors(&self) -> u64 {
        let s = self.socket_errors;
        let (status, unexpected) = match self.script {
            Some(c) => (c.not_2xx.max(self.status_errors), c.unexpected),
            None => (self.status_errors, 0),
        };
        s.connect + s.read + s.write + s.timeout + status + unexpected
    }
}

/// A duration as wrk prints it (`245.00us`, `2.37ms`, `1.10s`, `1.00m`, `2.00h`), in ms.
fn duration_ms(text: &str) -> Option<f64> {
    let t = text.trim().trim_end_matches(',');
    let (number, scale) = if let Some(n) = t.strip_suffix("us") {
        (n, 1e-3)
    } else if let Some(n) = t.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = t.strip_suffix('s') {
        (n, 1e3)
    } else if let Some(n) = t.strip_suffix('m') {
        (n, 60e3)
    } else if let Some(n) = t.strip_suffix('h') {
        (n, 3600e3)
    } else {
        return None;
    };
    number.parse::<f64>().ok().map(|v| v * scale)
}

/// Reads wrk's output.
pub fn parse(text: &str) -> Result<Output, String> {
    let mut out = Output::default();
    let (mut rps, mut summary) = (None, None);
    let count = |w: &str| {
        w.trim_end_matches(',')
            .parse::<u64>()
            .map_err(|_| format!("not a count: {w}"))
    };
    let ms = |w: &str| duration_ms(w).ok_or_else(|| format!("not a duration: {w}"));
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["Latency", "Distribution", ..] => {}
            ["Latency", mean, _stdev, max, ..] => {
                out.mean_ms = ms(mean)?;
                out.max_ms = ms(max)?;
            }
            ["50%", v] => out.p50_ms = ms(v)?,
            ["75%", v] => out.p75_ms = ms(v)?,
            ["90%", v] => out.p90_ms = ms(v)?,
            ["99%", v] => out.p99_ms = ms(v)?,
            [n, "requests", "in", secs, ..] => {
                out.requests = count(n)?;
                out.seconds = ms(secs)? / 1e3;
                summary = Some(());
            }
            ["Socket", "errors:", "connect", c, "read", r, "write", w, "timeout", t] => {
                out.socket_errors = SocketErrors {
                    connect: count(c)?,
                    read: count(r)?,
                    write: count(w)?,
                    timeout: count(t)?,
                };
            }
            ["Non-2xx", "or", "3xx", "responses:", n] => out.status_errors = count(n)?,
            ["Requests/sec:", v] => {
                rps = Some(v.parse::<f64>().map_err(|_| format!("not a rate: {v}"))?);
            }
            ["scim.lua:", _mode, r, "responses,", n, "not", "2xx,", u, "unexpected"] => {
                out.script = Some(Checked {
                    responses: count(r)?,
                    not_2xx: count(n)?,
                    unexpected: count(u)?,
                });
            }
            _ => {}
        }
    }
    out.rps = rps.ok_or("no Requests/sec line: not wrk's output")?;
    summary.ok_or("no \"N requests in T\" line: not wrk's output")?;
    Ok(out)
}

/// A wrk phase beside the workload's phase of the same name, each rate as a ratio to the
/// `livez` its own tool measured in the same run.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub name: String,
    pub wrk: Phase,
    pub builtin: Option<Phase>,
    pub wrk_ratio: Option<f64>,
    pub builtin_ratio: Option<f64>,
}

impl Row {
    /// How far wrk's ratio is from the built-in generator's, in % of the latter.
    pub fn difference_percent(&self) -> Option<f64> {
        match (self.wrk_ratio, self.builtin_ratio) {
            (Some(w), Some(b)) if b > 0.0 => Some((w / b - 1.0) * 100.0),
            _ => None,
        }
    }

    /// Whether the two ratios differ by more than [`MAX_DIFFERENCE_PERCENT`].
    pub fn differs(&self) -> bool {
        self.difference_percent()
            .is_some_and(|d| d.abs() > MAX_DIFFERENCE_PERCENT)
    }

    /// How far wrk's rate is from the built-in generator's, in % of the latter.
    pub fn rate_difference_percent(&self) -> Option<f64> {
        let b = self.builtin.as_ref()?;
        (b.rps > 0.0).then(|| (self.wrk.rps / b.rps - 1.0) * 100.0)
    }

    /// How far the server's CPU a request under wrk is from the same under the built-in
    /// generator, in % of the latter.
    pub fn cpu_difference_percent(&self) -> Option<f64> {
        let b = self.builtin.as_ref()?.cpu_us_per_request();
        (b > 0.0).then(|| (self.wrk.cpu_us_per_request() / b - 1.0) * 100.0)
    }

    /// What the run itself tells of why the two ratios differ (None when they do not).
    pub fn cause(&self) -> Option<Cause> {
        if !self.differs() {
            return None;
        }
        let within = |d: Option<f64>| d.is_some_and(|d| d.abs() <= MAX_DIFFERENCE_PERCENT);
        Some(if within(self.rate_difference_percent()) {
            Cause::Livez
        } else if within(self.cpu_difference_percent()) {
            Cause::ServerShare
        } else {
            Cause::Unexplained
        })
    }
}

/// Why a phase's two ratios differ by more than [`MAX_DIFFERENCE_PERCENT`], from the figures of
/// the run: each ratio divides by its own tool's `livez`, measured at another moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// The phase's two rates agree and the two `livez`, run at other moments, do not (on a
    /// virtual machine the same `livez` has cost the server 24 µs and 32 µs in one run).
    Livez,
    /// The rates differ, the server's CPU a request does not: the server did the same work and
    /// had less of its processor, or less load, under one of the tools.
    ServerShare,
    /// The server did different work a request under the two tools: to be explained in
    /// `docs/performance.md`.
    Unexplained,
}

impl Cause {
    pub fn as_str(self) -> &'static str {
        match self {
            Cause::Livez => "livez",
            Cause::ServerShare => "server-share",
            Cause::Unexplained => "unexplained",
        }
    }
}

/// wrk's phases of a run beside the built-in generator's.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    pub rows: Vec<Row>,
    /// Each tool's `livez` rate.
    pub wrk_livez: Option<f64>,
    pub builtin_livez: Option<f64>,
    /// A `--quick` run's.
    pub quick: bool,
}

impl Comparison {
    /// None when the run has no wrk phase (no `--wrk`).
    pub fn of(run: &Run) -> Option<Comparison> {
        let wrk: Vec<(&str, &Phase)> = run
            .phases
            .iter()
            .filter(|p| p.stage == STAGE)
            .map(|p| {
                let name = p
                    .name
                    .strip_suffix(&format!(" ({STAGE})"))
                    .unwrap_or(&p.name);
                (name, p)
            })
            .collect();
        if wrk.is_empty() {
            return None;
        }
        let builtin = |name: &str| {
            run.phases
                .iter()
                .find(|p| p.stage == "workload" && p.name == name)
        };
        let wrk_livez = run.livez_floor(STAGE).map(|f| f.rps);
        let builtin_livez = run.livez_floor("workload").map(|f| f.rps);
        let rows = wrk
            .into_iter()
            .map(|(name, p)| {
                let b = builtin(name).cloned();
                Row {
                    name: name.to_string(),
                    wrk_ratio: run.ratio(p),
                    builtin_ratio: b.as_ref().and_then(|b| run.ratio(b)),
                    wrk: p.clone(),
                    builtin: b,
                }
            })
            .collect();
        Some(Comparison {
            rows,
            wrk_livez,
            builtin_livez,
            quick: run.mode == "quick",
        })
    }

    /// The rows whose ratios differ by more than [`MAX_DIFFERENCE_PERCENT`].
    pub fn differing(&self) -> Vec<&Row> {
        self.rows.iter().filter(|r| r.differs()).collect()
    }

    pub fn table(&self) -> String {
        let mut s = format!(
            "wrk ({SCRIPT}, one thread) beside the built-in load generator, the same server: \
             each rate as a ratio to its own tool's livez (the median of its samples and probes)\n"
        );
        if self.quick {
            s.push_str(
                "(quick mode: the built-in phases last milliseconds, wrk's 2 s; these \
                 differences are noise, not findings)\n",
            );
        }
        s.push('\n');
        let head = [
            "phase",
            "wrk req/s",
            "p50 ms",
            "p99 ms",
            "errors",
            "srv CPU",
            "wrk CPU",
            "other CPU",
            "× livez",
            "built-in req/s",
            "× livez",
            "difference",
            "srv µs/req",
            "built-in",
            "",
        ];
        let opt = |v: Option<f64>, f: &dyn Fn(f64) -> String| v.map_or_else(|| "-".into(), f);
        let rows: Vec<Vec<String>> = self
            .rows
            .iter()
            .map(|r| {
                vec![
                    r.name.clone(),
                    thousands(r.wrk.rps.round() as u64),
                    format!("{:.2}", r.wrk.p50_ms),
                    format!("{:.2}", r.wrk.p99_ms),
                    thousands(r.wrk.errors),
                    format!("{:.0} %", r.wrk.server_cpu * 100.0),
                    format!("{:.0} %", r.wrk.load_cpu * 100.0),
                    format!("{:.0} %", r.wrk.other_cpu * 100.0),
                    opt(r.wrk_ratio, &|v| format!("{v:.3}")),
                    opt(r.builtin.as_ref().map(|b| b.rps), &|v| {
                        thousands(v.round() as u64)
                    }),
                    opt(r.builtin_ratio, &|v| format!("{v:.3}")),
                    opt(r.difference_percent(), &|v| format!("{v:+.1} %")),
                    format!("{:.0}", r.wrk.cpu_us_per_request()),
                    opt(r.builtin.as_ref().map(Phase::cpu_us_per_request), &|v| {
                        format!("{v:.0}")
                    }),
                    if r.differs() {
                        format!("> {MAX_DIFFERENCE_PERCENT:.0} %")
                    } else {
                        String::new()
                    },
                ]
            })
            .collect();
        s.push_str(&grid(&head, &rows));
        if let (Some(w), Some(b)) = (self.wrk_livez, self.builtin_livez) {
            s.push_str(&format!(
                "livez (each tool's median of its samples and probes): wrk {}/s, built-in {}/s ({:.2} ×). srv µs/req: the server's CPU time per request under each tool.\n",
                thousands(w.round() as u64),
                thousands(b.round() as u64),
                w / b
            ));
        }
        let differing = self.differing();
        if differing.is_empty() {
            s.push_str(&format!(
                "every ratio within {MAX_DIFFERENCE_PERCENT:.0} % of the built-in generator's\n"
            ));
        } else {
            s.push_str(&format!(
                "ratios that differ by more than {MAX_DIFFERENCE_PERCENT:.0} %, and why, as far as \
                 this run tells:\n"
            ));
            for r in differing {
                s.push_str(&format!("- {}\n", self.explain(r)));
            }
        }
        let busy: Vec<String> = self
            .rows
            .iter()
            .filter_map(|r| {
                let builtin = r.builtin.as_ref().map_or(0.0, |b| b.other_cpu);
                (r.wrk.other_cpu.max(builtin) > BUSY).then(|| {
                    format!(
                        "{} ({:.0} % · {:.0} %)",
                        r.name,
                        r.wrk.other_cpu * 100.0,
                        builtin * 100.0
                    )
                })
            })
            .collect();
        if !busy.is_empty() {
            s.push_str(&format!(
                "other processes used more than {:.0} % of a CPU (under wrk · under the built-in \
                 generator) during {}: the server may not have had its CPU, and those ratios say \
                 little\n",
                BUSY * 100.0,
                busy.join(", ")
            ));
        }
        s
    }

    /// One differing row, with its cause.
    fn explain(&self, r: &Row) -> String {
        let pct = |v: Option<f64>| v.map_or_else(|| "-".into(), |v| format!("{v:+.1} %"));
        let head = format!("{} ({})", r.name, pct(r.difference_percent()));
        let livez = match (self.wrk_livez, self.builtin_livez) {
            (Some(w), Some(b)) if b > 0.0 => Some((w / b - 1.0) * 100.0),
            _ => None,
        };
        // What a livez cost the server under each tool.
        let livez_cpu =
            self.rows
                .iter()
                .find(|l| l.name == "livez")
                .map_or_else(String::new, |l| {
                    format!(
                    "; a livez took {:.0} µs of the server's CPU under wrk, {} under the built-in \
                     generator",
                    l.wrk.cpu_us_per_request(),
                    l.builtin.as_ref().map_or_else(
                        || "-".into(),
                        |b| format!("{:.0} µs", b.cpu_us_per_request())
                    )
                )
                });
        match r.cause() {
            Some(Cause::Livez) => format!(
                "{head}: its rates agree ({}) and the two livez, run at other moments, do not \
                 ({}{livez_cpu}): compare the rates",
                pct(r.rate_difference_percent()),
                pct(livez)
            ),
            Some(Cause::ServerShare) => format!(
                "{head}: its rates differ ({}), the server's CPU a request does not ({}): the \
                 server was busy {:.0} % of the time under wrk, {:.0} % under the built-in \
                 generator",
                pct(r.rate_difference_percent()),
                pct(r.cpu_difference_percent()),
                r.wrk.server_cpu * 100.0,
                r.builtin.as_ref().map_or(0.0, |b| b.server_cpu * 100.0)
            ),
            _ => format!(
                "{head}: its rates differ ({}) and so does the server's CPU a request ({}): \
                 explain in docs/performance.md",
                pct(r.rate_difference_percent()),
                pct(r.cpu_difference_percent())
            ),
        }
    }

    pub fn to_json(&self) -> Value {
        json!({
            "script": SCRIPT,
            "threads": 1,
            "max_difference_percent": MAX_DIFFERENCE_PERCENT,
            "livez_requests_per_second": self.wrk_livez.map(|v| round(v, 1)),
            "builtin_livez_requests_per_second": self.builtin_livez.map(|v| round(v, 1)),
            "phases": self.rows.iter().map(|r| json!({
                "name": r.name,
                "users_stored": r.wrk.users,
                "requests": r.wrk.requests,
                "errors": r.wrk.errors,
                "seconds": round(r.wrk.seconds, 3),
                "requests_per_second": round(r.wrk.rps, 1),
                "p50_ms": round(r.wrk.p50_ms, 3),
                "p99_ms": round(r.wrk.p99_ms, 3),
                "max_ms": round(r.wrk.max_ms, 3),
                "server_cpu": round(r.wrk.server_cpu, 3),
                "database_cpu": round(r.wrk.database_cpu, 3),
                "load_cpu": round(r.wrk.load_cpu, 3),
                "other_cpu": round(r.wrk.other_cpu, 3),
                "server_bytes_written_per_request": round(r.wrk.written_per_request, 0),
                "server_cpu_us_per_request": round(r.wrk.cpu_us_per_request(), 1),
                "server_threads_cpu_us_per_request": r.wrk.threads_json(),
                "server_threads_sleeps_per_request": r.wrk.thread_sleeps_json(),
                "livez_around_requests_per_second": r.wrk.around.map(|(a, b)| [round(a, 1), round(b, 1)]),
                "ratio_to_livez": r.wrk_ratio.map(|v| round(v, 3)),
                "builtin_requests_per_second": r.builtin.as_ref().map(|b| round(b.rps, 1)),
                "builtin_server_cpu_us_per_request":
                    r.builtin.as_ref().map(|b| round(b.cpu_us_per_request(), 1)),
                "builtin_ratio_to_livez": r.builtin_ratio.map(|v| round(v, 3)),
                "difference_percent": r.difference_percent().map(|v| round(v, 1)),
                "differs": r.differs(),
                "rate_difference_percent": r.rate_difference_percent().map(|v| round(v, 1)),
                "cpu_difference_percent": r.cpu_difference_percent().map(|v| round(v, 1)),
                "cause": r.cause().map(Cause::as_str),
            })).collect::<Vec<_>>(),
        })
    }
}

/// The comparison's table for the run's report (empty without wrk phases).
pub fn table(run: &Run) -> String {
    Comparison::of(run).map_or_else(String::new, |c| c.table())
}

/// The `wrk` value of the run's JSON (null without wrk phases).
pub fn to_json(run: &Run) -> Value {
    Comparison::of(run).map_or(Value::Null, |c| c.to_json())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// wrk 4.1.0 (Debian's) as `cargo xtask bench --wrk` ran it, `filter-hit` against the
    /// release server with 10,000 users (`target/bench/wrk/sled/filter-hit.txt`).
    const FILTER_HIT: &str = "\
Running 5s test @ http://127.0.0.1:44591/scim/v2
  1 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     3.11ms    3.55ms  33.63ms   91.32%
    Req/Sec     6.60k     1.62k   10.21k    66.00%
  Latency Distribution
     50%    1.95ms
     75%    3.34ms
     90%    6.23ms
     99%   20.10ms
  33086 requests in 5.04s, 31.02MB read
Requests/sec:   6559.70
Transfer/sec:      6.15MB
scim.lua: filter-hit: 33086 responses, 0 not 2xx, 0 unexpected
";

    /// The same against a Python server answering 404 to every request.
    const NOT_FOUND: &str = "\
Running 1s test @ http://127.0.0.1:18777/nope
  1 threads and 4 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     3.15ms    2.10ms  15.80ms   76.80%
    Req/Sec     1.30k   151.86     1.58k    54.55%
  Latency Distribution
     50%    2.37ms
     75%    4.44ms
     90%    5.96ms
     99%    9.56ms
  1426 requests in 1.10s, 724.14KB read
  Non-2xx or 3xx responses: 1426
Requests/sec:   1297.60
Transfer/sec:    658.94KB
";

    /// The same against a server answering after 1.5 s, with `--timeout 1s`.
    const TIMEOUTS: &str = "\
Running 3s test @ http://127.0.0.1:18778/slow
  1 threads and 4 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     0.00us    0.00us   0.00us    -nan%
    Req/Sec     2.00      0.00     2.00    100.00%
  Latency Distribution
     50%    0.00us
     75%    0.00us
     90%    0.00us
     99%    0.00us
  4 requests in 3.01s, 0.88KB read
  Socket errors: connect 0, read 0, write 0, timeout 4
Requests/sec:      1.33
Transfer/sec:     300.17B
";

    #[test]
    fn durations_are_read_in_wrk_s_units() {
        assert_eq!(duration_ms("245.00us"), Some(0.245));
        assert_eq!(duration_ms("2.37ms"), Some(2.37));
        assert_eq!(duration_ms("1.10s,"), Some(1100.0));
        assert_eq!(duration_ms("1.00m"), Some(60_000.0));
        assert_eq!(duration_ms("2.00h"), Some(7_200_000.0));
        assert_eq!(duration_ms("fast"), None);
        assert_eq!(duration_ms("12"), None);
    }

    #[test]
    fn a_run_against_the_server_is_read() {
        let o = parse(FILTER_HIT).expect("parsed");
        assert_eq!(o.requests, 33_086);
        assert!((o.seconds - 5.04).abs() < 1e-9);
        assert!((o.rps - 6559.7).abs() < 1e-9);
        assert!((o.mean_ms - 3.11).abs() < 1e-9);
        assert!((o.max_ms - 33.63).abs() < 1e-9);
        assert!((o.p50_ms - 1.95).abs() < 1e-9);
        assert!((o.p75_ms - 3.34).abs() < 1e-9);
        assert!((o.p90_ms - 6.23).abs() < 1e-9);
        assert!((o.p99_ms - 20.1).abs() < 1e-9);
        assert_eq!(o.socket_errors, SocketErrors::default());
        assert_eq!(o.status_errors, 0);
        assert_eq!(
            o.script,
            Some(Checked {
                responses: 33_086,
                not_2xx: 0,
                unexpected: 0
            })
        );
        assert_eq!(o.errors(), 0);
    }

    #[test]
    fn non_2xx_answers_are_errors() {
        let o = parse(NOT_FOUND).expect("parsed");
        assert_eq!(o.requests, 1426);
        assert!((o.seconds - 1.1).abs() < 1e-9);
        assert!((o.rps - 1297.6).abs() < 1e-9);
        assert!((o.mean_ms - 3.15).abs() < 1e-9);
        assert!((o.max_ms - 15.8).abs() < 1e-9);
        assert!((o.p50_ms - 2.37).abs() < 1e-9);
        assert!((o.p75_ms - 4.44).abs() < 1e-9);
        assert!((o.p90_ms - 5.96).abs() < 1e-9);
        assert!((o.p99_ms - 9.56).abs() < 1e-9);
        assert_eq!(o.status_errors, 1426);
        assert_eq!(o.script, None);
        assert_eq!(o.errors(), 1426);
    }

    #[test]
    fn socket_errors_are_errors() {
        let o = parse(TIMEOUTS).expect("parsed");
        assert_eq!(o.requests, 4);
        assert_eq!(
            o.socket_errors,
            SocketErrors {
                connect: 0,
                read: 0,
                write: 0,
                timeout: 4
            }
        );
        assert_eq!(o.p99_ms, 0.0);
        assert_eq!(o.errors(), 4);
    }

    #[test]
    fn the_script_s_counts_are_read_and_added() {
        let text = format!(
            "{NOT_FOUND}scim.lua: filter-hit: 1426 responses, 1430 not 2xx, 3 unexpected\n"
        );
        let o = parse(&text).expect("parsed");
        assert_eq!(
            o.script,
            Some(Checked {
                responses: 1426,
                not_2xx: 1430,
                unexpected: 3
            })
        );
        // wrk's own count (statuses over 399) is within the script's (outside 200–299).
        assert_eq!(o.errors(), 1433);
    }

    #[test]
    fn what_is_not_wrk_s_output_is_refused() {
        assert!(parse("").is_err());
        assert!(parse("unable to connect to 127.0.0.1:1 Connection refused\n").is_err());
        let no_rate = NOT_FOUND.replace("Requests/sec:   1297.60", "");
        assert!(parse(&no_rate)
            .expect_err("no rate")
            .contains("Requests/sec"));
        let bad = NOT_FOUND.replace("2.37ms", "2.37 parsecs");
        assert!(parse(&bad).is_ok(), "a line of another shape is skipped");
        let bad = NOT_FOUND.replace("  1426 requests in 1.10s", "  many requests in 1.10s");
        assert!(parse(&bad).is_err());
    }

    #[test]
    fn a_missing_wrk_says_how_to_install_it() {
        let e = version("wrk-is-not-installed-here").expect_err("not installed");
        assert_eq!(e, "wrk not found: apt-get install wrk");
    }

    #[test]
    fn the_script_has_every_mode() {
        let script = std::fs::read_to_string(super::super::workspace_root().join(SCRIPT))
            .expect("docs/perf/scim.lua");
        for (_, mode, _) in PHASES {
            assert!(
                script.contains(&format!("\"{mode}\"")),
                "{mode} in {SCRIPT}"
            );
        }
        assert!(script.contains("scim.lua: %s: %d responses, %d not 2xx, %d unexpected"));
    }

    fn phase(name: &str, stage: &'static str, rps: f64) -> Phase {
        Phase {
            name: name.into(),
            stage,
            users: 10_000,
            requests: (rps * 5.0) as u64,
            errors: 0,
            seconds: 5.0,
            rps,
            p50_ms: 0.5,
            p99_ms: 1.0,
            max_ms: 3.0,
            server_cpu: 1.0,
            database_cpu: 0.0,
            load_cpu: 0.5,
            other_cpu: 0.0,
            steal_cpu: 0.0,
            written_per_request: 200.0,
            writes_per_batch: None,
            threads: Vec::new(),
            around: None,
        }
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
                phase("livez", "workload", 40_000.0),
                phase("create", "workload", 5_000.0),
                phase("get", "workload", 20_000.0),
                phase("filter-hit", "workload", 16_000.0),
                phase("patch-suspend", "workload", 4_000.0),
                phase("patch-reactivate", "workload", 4_000.0),
                phase("get", "store", 1_000.0),
                phase(&label("livez"), STAGE, 50_000.0),
                phase(&label("get"), STAGE, 26_000.0),
                phase(&label("filter-hit"), STAGE, 16_000.0),
                phase(&label("patch-suspend"), STAGE, 5_500.0),
                phase(&label("patch-reactivate"), STAGE, 5_000.0),
            ],
            workload_peak_rss_mib: 80.0,
            workload_disk_mib: 12.5,
            stores: Vec::new(),
            tenants: None,
        }
    }

    #[test]
    fn ratios_are_to_each_tool_s_own_livez() {
        let c = Comparison::of(&run()).expect("wrk phases");
        assert_eq!(
            (c.wrk_livez, c.builtin_livez),
            (Some(50_000.0), Some(40_000.0))
        );
        let names: Vec<&str> = c.rows.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "livez",
                "get",
                "filter-hit",
                "patch-suspend",
                "patch-reactivate"
            ]
        );
        let row = |n: &str| c.rows.iter().find(|r| r.name == n).expect(n);
        let near = |a: Option<f64>, b: f64| a.is_some_and(|a| (a - b).abs() < 1e-9);
        assert!(near(row("livez").difference_percent(), 0.0));
        // get: 26,000 / 50,000 = 0.52 against 20,000 / 40,000 = 0.5: +4 %.
        assert!(near(row("get").wrk_ratio, 0.52));
        assert!(near(row("get").builtin_ratio, 0.5));
        assert!(near(row("get").difference_percent(), 4.0));
        assert!(!row("get").differs());
        // filter-hit: 0.32 against 0.4: -20 %.
        assert!(near(row("filter-hit").difference_percent(), -20.0));
        assert!(row("filter-hit").differs());
        // patch-suspend: 0.11 against 0.1: +10 %; patch-reactivate 0.1 against 0.1.
        assert!(near(row("patch-suspend").difference_percent(), 10.0));
        assert!(!row("patch-suspend").differs());
        assert!(near(row("patch-reactivate").difference_percent(), 0.0));
        // The workload's phase, not the store's of the same name.
        assert_eq!(row("get").builtin.as_ref().map(|b| b.rps), Some(20_000.0));
        let names: Vec<&str> = c.differing().iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["filter-hit"]);
    }

    #[test]
    fn each_tool_divides_by_the_median_of_its_own_livez_samples() {
        let mut r = run();
        // wrk's first livez caught the machine slow; the built-in's last one did.
        r.phases.extend([
            phase(&label("livez 2"), STAGE, 52_000.0),
            phase(&label("livez 3"), STAGE, 54_000.0),
            phase("livez 2", "workload", 40_000.0),
            phase("livez 3", "workload", 10_000.0),
        ]);
        for p in &mut r.phases {
            if p.name == label("livez") {
                p.rps = 20_000.0;
            }
        }
        let c = Comparison::of(&r).expect("wrk phases");
        assert_eq!(
            (c.wrk_livez, c.builtin_livez),
            (Some(52_000.0), Some(40_000.0))
        );
        let row = |n: &str| c.rows.iter().find(|r| r.name == n).expect(n);
        // get: 26,000 / 52,000 = 0.5 against 20,000 / 40,000 = 0.5.
        assert!(row("get")
            .difference_percent()
            .is_some_and(|d| d.abs() < 1e-9));
        // Probes around wrk's filter-hit.
        for p in &mut r.phases {
            if p.name == label("filter-hit") {
                p.around = Some((30_000.0, 34_000.0));
            }
        }
        let c = Comparison::of(&r).expect("wrk phases");
        // Its probes count into wrk's floor: the median of 20,000, 52,000, 54,000, 30,000 and
        // 34,000 is 34,000.
        assert_eq!(c.wrk_livez, Some(34_000.0));
        let hit = c.rows.iter().find(|r| r.name == "filter-hit").expect("hit");
        assert_eq!(hit.wrk_ratio, Some(16_000.0 / 34_000.0));
        // The built-in floor is not wrk's.
        assert_eq!(c.builtin_livez, Some(40_000.0));
        // Each sample is a row of its own, beside the built-in's of the same name.
        assert_eq!(
            row("livez 3").builtin.as_ref().map(|b| b.rps),
            Some(10_000.0)
        );
    }

    #[test]
    fn a_difference_of_exactly_15_percent_is_not_flagged() {
        let mut r = run();
        for p in &mut r.phases {
            if p.name == label("filter-hit") {
                // 0.46 against 0.4.
                p.rps = 23_000.0;
            }
        }
        let c = Comparison::of(&r).expect("wrk phases");
        let row = c.rows.iter().find(|r| r.name == "filter-hit").expect("row");
        assert!((row.difference_percent().unwrap_or(0.0) - 15.0).abs() < 1e-9);
        assert!(!row.differs());
        assert!(table(&r).contains("every ratio within 15 % of the built-in generator's"));
    }

    #[test]
    fn without_a_livez_there_is_no_ratio() {
        let mut r = run();
        r.phases.retain(|p| p.name != "livez");
        let c = Comparison::of(&r).expect("wrk phases");
        assert!(c.rows.iter().all(|r| r.builtin_ratio.is_none()));
        assert!(c.rows.iter().all(|r| r.difference_percent().is_none()));
        assert!(c.differing().is_empty());
    }

    #[test]
    fn the_table_flags_and_names_what_differs() {
        let t = table(&run());
        for needle in [
            "wrk req/s",
            "built-in req/s",
            "filter-hit",
            "-20.0 %",
            "+4.0 %",
            "> 15 %",
            "livez (each tool's median of its samples and probes): wrk 50,000/s, built-in 40,000/s (1.25 ×)",
            "ratios that differ by more than 15 %, and why, as far as this run tells:\n\
             - filter-hit (-20.0 %): its rates agree (+0.0 %) and the two livez, run at other \
             moments, do not (+25.0 %; a livez took 20 µs of the server's CPU under wrk, 25 µs \
             under the built-in generator): compare the rates\n",
        ] {
            assert!(t.contains(needle), "{needle} in\n{t}");
        }
        assert!(!t.contains("get (wrk)"), "names without the suffix:\n{t}");
        assert!(!t.contains("quick mode"));
        assert!(!t.contains("other processes"));
        let mut busy = run();
        busy.phases[2].other_cpu = 0.5;
        assert!(table(&busy).contains(
            "other processes used more than 10 % of a CPU (under wrk · under the built-in \
             generator) during get (0 % · 50 %)"
        ));
        let mut quick = run();
        quick.mode = "quick";
        assert!(table(&quick).contains("quick mode: the built-in phases last milliseconds"));
    }

    #[test]
    fn a_difference_is_put_down_to_livez_to_the_server_s_share_or_to_nothing() {
        // filter-hit: the same 16,000/s under both tools, over livez of 50,000 and 40,000/s.
        let c = Comparison::of(&run()).expect("wrk phases");
        let row = |c: &Comparison, n: &str| c.rows.iter().find(|r| r.name == n).cloned();
        let hit = row(&c, "filter-hit").expect("row");
        assert_eq!(hit.rate_difference_percent(), Some(0.0));
        assert_eq!(hit.cause(), Some(Cause::Livez));
        // A row within the bound has no cause, whatever its rates.
        assert_eq!(row(&c, "get").and_then(|r| r.cause()), None);

        // Half the rate under wrk with the same CPU a request: the server was busy half the time.
        let mut r = run();
        for p in &mut r.phases {
            if p.name == label("filter-hit") {
                p.rps = 8_000.0;
                p.requests = 40_000;
                p.server_cpu = 0.5;
            }
        }
        let c = Comparison::of(&r).expect("wrk phases");
        let hit = row(&c, "filter-hit").expect("row");
        assert_eq!(hit.rate_difference_percent(), Some(-50.0));
        assert!(hit.cpu_difference_percent().is_some_and(|d| d.abs() < 1e-9));
        assert_eq!(hit.cause(), Some(Cause::ServerShare));
        assert!(c.table().contains(
            "- filter-hit (-60.0 %): its rates differ (-50.0 %), the server's CPU a request does \
             not (+0.0 %): the server was busy 50 % of the time under wrk, 100 % under the \
             built-in generator"
        ));

        // Half the rate and twice the CPU a request: the server's work differs.
        for p in &mut r.phases {
            if p.name == label("filter-hit") {
                p.server_cpu = 1.0;
            }
        }
        let c = Comparison::of(&r).expect("wrk phases");
        let hit = row(&c, "filter-hit").expect("row");
        assert_eq!(hit.cause(), Some(Cause::Unexplained));
        assert!(c.table().contains(
            "- filter-hit (-60.0 %): its rates differ (-50.0 %) and so does the server's CPU a \
             request (+100.0 %): explain in docs/performance.md"
        ));
        assert_eq!(c.to_json()["phases"][2]["cause"], "unexplained");
    }

    #[test]
    fn json_holds_both_tools_figures() {
        let j = to_json(&run());
        assert_eq!(j["script"], SCRIPT);
        assert_eq!(j["livez_requests_per_second"], 50_000.0);
        assert_eq!(j["builtin_livez_requests_per_second"], 40_000.0);
        let phases = j["phases"].as_array().expect("phases");
        assert_eq!(phases.len(), 5);
        let hit = &phases[2];
        assert_eq!(hit["name"], "filter-hit");
        assert_eq!(hit["requests_per_second"], 16_000.0);
        assert_eq!(hit["ratio_to_livez"], 0.32);
        assert_eq!(hit["builtin_ratio_to_livez"], 0.4);
        assert_eq!(hit["difference_percent"], -20.0);
        assert_eq!(hit["differs"], true);
        assert_eq!(hit["rate_difference_percent"], 0.0);
        assert_eq!(hit["cause"], "livez");
        assert_eq!(phases[1]["differs"], false);
        assert_eq!(phases[1]["cause"], Value::Null);
        let mut none = run();
        none.phases.retain(|p| p.stage != STAGE);
        assert_eq!(to_json(&none), Value::Null);
        assert_eq!(table(&none), "");
    }

    #[test]
    fn the_flag_is_off_unless_given() {
        use clap::Parser;
        #[derive(Parser)]
        struct Cli {
            #[command(flatten)]
            bench: super::super::BenchArgs,
        }
        assert!(!Cli::parse_from(["bench"]).bench.wrk);
        assert!(Cli::parse_from(["bench", "--quick", "--wrk"]).bench.wrk);
    }
}
