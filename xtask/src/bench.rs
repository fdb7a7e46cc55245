//! `cargo xtask bench`: builds the release server, starts it on a fresh store in a temporary
//! folder, pinned to one core while the load runs on another, and drives a fixed workload over
//! HTTP on loopback with 16 keep-alive connections. Then the read phases again on stores of
//! 1,000 and 100,000 users (and 1,000,000 with `--million`), loaded through `/Bulk`; then, on a
//! store of 1,000 tenants of 100 users each (`--tenants`, `tenancy.rs`), GET, filter and create in
//! one of them. It prints per phase requests per second, p50 and p99 latency and errors, with the
//! server's peak memory, its start time on each store and the store's size on disk, and the
//! tenant figures beside the single-tenant ones; and writes the same as JSON.
//!
//! Pinning: the parent process builds the server and a load generator of the same profile
//! (release by default: a debug load generator would be slower than the server it measures),
//! then re-executes that load generator under `taskset -c LOAD_CPU`; it starts every server
//! under `taskset -c SERVER_CPU`. The figures are printed, never asserted; the task fails only
//! when it cannot run, or when a request fails (a correctness problem, not a slow one).
//!
//! With `--store postgres` every stage runs twice in the same task, on sled and then on a
//! throwaway PostgreSQL cluster (`server::Postgres`, a database per stage, durable commits), and
//! the PostgreSQL figures are printed beside sled's as ratios, with the engine's aims
//! (`compare.rs`). The cluster's processes are moved to the server's CPU (`--database-cpu
//! server`, the default: the server and its database share a core, as the sled server shares its
//! core with its embedded engine) or to every CPU (`--database-cpu any`); their CPU time is a
//! column of its own. Loaders use asynchronous commit (`synchronous_commit=off`, PostgreSQL's
//! `durability = periodic`), then `VACUUM ANALYZE` and `CHECKPOINT` run before the measured server
//! starts.
//!
//! See `docs/performance.md` for what the phases do and what the figures were.

mod compare;
mod http;
mod load;
mod proc;
mod report;
mod tenancy;
mod wrk;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;
use serde_json::{json, Value};

use crate::server::{self, Engine, Launch, Postgres, Server, Storage};
use http::{Conn, Target};
use load::{Check, MakeOp, Op, Verdict};
use proc::ProcStatus;
use report::{is_livez, Phase, Run, Store};

/// Set in the re-executed, pinned load generator: the CPU the servers go on.
const CHILD_ENV: &str = "XTASK_BENCH_SERVER_CPU";

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// `sled`: measure the sled engine. `postgres`: measure sled, then PostgreSQL (a database of
    /// a throwaway cluster on this machine), with the same phases, and print them side by side.
    #[arg(long, value_enum, default_value_t = Engine::Sled)]
    store: Engine,
    /// With `--store postgres`, the CPUs of the database's processes: `server` (the server's
    /// CPU, which the server and its database then share, as the sled server shares its CPU with
    /// its embedded engine) or `any` (every CPU of the machine, the load's included).
    #[arg(long, value_enum, default_value_t = DatabaseCpu::Server)]
    database_cpu: DatabaseCpu,
    /// Concurrent connections, each keep-alive with one request in flight.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// A smoke run for CI: a few hundred requests a phase, stores of 1,000 and 3,000 users.
    #[arg(long)]
    quick: bool,
    /// Also measure with 1,000,000 users stored (loading them takes minutes).
    #[arg(long)]
    million: bool,
    /// Users created by the workload phases (the targets are for 10,000).
    #[arg(long, value_name = "N")]
    users: Option<usize>,
    /// Skip the stores of 1,000 and 100,000 users.
    #[arg(long)]
    no_scale: bool,
    /// Tenants of the tenant stage, where GET, filter and create run in one of them (1,000; 20
    /// with --quick; 0 skips the stage).
    #[arg(long, value_name = "N")]
    tenants: Option<usize>,
    /// Users in each tenant of the tenant stage (100; 20 with --quick).
    #[arg(long, value_name = "N")]
    tenant_users: Option<usize>,
    /// Write the figures as JSON here [default: target/bench/bench.json].
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Build and measure the debug server, with a debug load generator: figures that mean
    /// nothing, in seconds of build instead of minutes (a CI smoke run with --quick).
    #[arg(long)]
    debug: bool,
    /// Measure this server binary instead of building one.
    #[arg(long, value_name = "PATH")]
    server_bin: Option<PathBuf>,
    /// Do not pin the server and the load to separate CPUs.
    #[arg(long)]
    no_pin: bool,
    /// The measured server's durability: `per-request` (every write flushed before its answer,
    /// the default) or `periodic` (flushed every 500 ms).
    #[arg(long, default_value = "per-request", value_parser = ["per-request", "periodic"])]
    durability: String,
    /// A further setting of the measured server, such as `SCIM_LOG=warn` (repeatable).
    #[arg(long = "server-env", value_name = "KEY=VALUE")]
    server_env: Vec<String>,
    /// Where the temporary stores go [default: target/bench/tmp]. Not a tmpfs: flushes would
    /// cost nothing there.
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// Also drive the workload's server with Debian's `wrk` (docs/perf/scim.lua) for livez,
    /// get, filter-hit and the PATCH phases, and print its rates as ratios to its own livez
    /// beside the built-in load generator's (`bench/wrk.rs`).
    #[arg(long)]
    wrk: bool,
}

/// Where the database's processes run (`--database-cpu`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DatabaseCpu {
    Server,
    Any,
}

/// How much each phase does.
struct Sizes {
    /// Users the workload creates (and then updates, and deletes).
    users: usize,
    /// Requests of each read phase of the workload.
    reads: usize,
    /// Pages of the list phase.
    pages: usize,
    /// Groups the member PATCH phase spreads its users over.
    groups: usize,
    /// Stores the read phases run on again.
    stores: Vec<usize>,
    /// Requests of each read phase on those stores.
    store_reads: usize,
    /// Tenants of the tenant stage (0: no such stage), and users in each.
    tenants: usize,
    tenant_users: usize,
}

impl Sizes {
    fn of(args: &BenchArgs) -> Sizes {
        let mut s = if args.quick {
            Sizes {
                users: 300,
                reads: 500,
                pages: 100,
                groups: 16,
                stores: vec![1_000, 3_000],
                store_reads: 300,
                tenants: 20,
                tenant_users: 20,
            }
        } else {
            Sizes {
                users: 10_000,
                reads: 50_000,
                pages: 3_000,
                groups: 16,
                stores: vec![1_000, 100_000],
                store_reads: 20_000,
                tenants: 1_000,
                tenant_users: 100,
            }
        };
        if args.million {
            s.stores.push(report::MILLION as usize);
        }
        if let Some(u) = args.users {
            s.users = u.max(1);
        }
        if args.no_scale {
            s.stores.clear();
        }
        if let Some(t) = args.tenants {
            s.tenants = t;
        }
        if let Some(u) = args.tenant_users {
            s.tenant_users = u.max(1);
        }
        s
    }
}

pub fn run(args: &BenchArgs) -> ExitCode {
    match bench(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("== bench: {e}");
            ExitCode::FAILURE
        }
    }
}

fn workspace_root() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    here.parent().unwrap_or(here).to_path_buf()
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map_or_else(
            || workspace_root().join("target"),
            |d| workspace_root().join(d),
        )
}

fn bench(args: &BenchArgs) -> Result<ExitCode, String> {
    if let Ok(cpu) = std::env::var(CHILD_ENV) {
        // The pinned load generator.
        let bin = args
            .server_bin
            .clone()
            .ok_or("the load generator needs --server-bin")?;
        let cpu: usize = cpu
            .parse()
            .map_err(|_| format!("{CHILD_ENV}={cpu} is not a CPU number"))?;
        let pinning = format!("server on CPU {cpu}, load on CPU {}", proc::own_cpus());
        return measure(args, &bin, Some(cpu), pinning);
    }
    let server_bin = match &args.server_bin {
        Some(b) => b.clone(),
        None => server::build(!args.debug)?,
    };
    let cpus = parse_cpu_list(&proc::own_cpus());
    let pin = !args.no_pin && proc::can_pin() && cpus.len() >= 2;
    if !pin {
        let why = if args.no_pin {
            "not pinned (--no-pin)"
        } else {
            "not pinned (fewer than 2 CPUs, or no taskset)"
        };
        if !args.debug {
            eprintln!("== note: the load generator runs in this process's (debug) build, unpinned");
        }
        return measure(args, &server_bin, None, why.to_string());
    }
    // Re-execute a load generator of the server's profile, pinned to the second CPU.
    let load_bin = if args.debug {
        std::env::current_exe().map_err(|e| format!("own executable: {e}"))?
    } else {
        server::cargo_build("xtask", "xtask", true)?
    };
    let (server_cpu, load_cpu) = (cpus[0], cpus[1]);
    let mut cmd = Command::new("taskset");
    cmd.arg("-c")
        .arg(load_cpu.to_string())
        .arg(&load_bin)
        .args(std::env::args_os().skip(1))
        .env(CHILD_ENV, server_cpu.to_string());
    if args.server_bin.is_none() {
        cmd.arg("--server-bin").arg(&server_bin);
    }
    eprintln!(
        "== load generator {} on CPU {load_cpu}, servers on CPU {server_cpu}",
        load_bin.display()
    );
    let status = cmd
        .status()
        .map_err(|e| format!("taskset {}: {e}", load_bin.display()))?;
    Ok(match status.code() {
        Some(0) => ExitCode::SUCCESS,
        Some(c) => ExitCode::from(u8::try_from(c).unwrap_or(1)),
        None => ExitCode::FAILURE,
    })
}

/// The CPUs of a list such as `0-3,6`.
fn parse_cpu_list(text: &str) -> Vec<usize> {
    let mut out = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                if let (Ok(a), Ok(b)) = (a.parse::<usize>(), b.parse::<usize>()) {
                    out.extend(a..=b);
                }
            }
            None => out.extend(part.parse::<usize>().ok()),
        }
    }
    out
}

/// What every measured server gets: no rate limits (the bench is one key sending thousands of
/// requests a second), the chosen durability, and the caller's extra settings.
fn server_env(args: &BenchArgs, durability: &str) -> Result<Vec<(String, String)>, String> {
    let mut env = vec![
        ("SCIM_RATE_LIMIT_PER_KEY".to_string(), "0".to_string()),
        (
            "SCIM_RATE_LIMIT_UNAUTHENTICATED".to_string(),
            "0".to_string(),
        ),
        ("SCIM_DURABILITY".to_string(), durability.to_string()),
        // The webhook phases' receiver is on loopback.
        ("SCIM_WEBHOOK_ALLOW_PRIVATE".to_string(), "true".to_string()),
    ];
    for kv in &args.server_env {
        let (k, v) = kv
            .split_once('=')
            .ok_or_else(|| format!("--server-env {kv}: KEY=VALUE expected"))?;
        env.push((k.to_string(), v.to_string()));
    }
    Ok(env)
}

/// Runs every phase against servers started from `bin` (on sled, then on PostgreSQL with
/// `--store postgres`), prints and writes the figures.
fn measure(
    args: &BenchArgs,
    bin: &Path,
    server_cpu: Option<usize>,
    pinning: String,
) -> Result<ExitCode, String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("runtime: {e}"))?;
    let root = args
        .dir
        .clone()
        .unwrap_or_else(|| target_dir().join("bench/tmp"));
    std::fs::create_dir_all(&root).map_err(|e| format!("{}: {e}", root.display()))?;
    let tmp = tempfile::Builder::new()
        .prefix("run-")
        .tempdir_in(&root)
        .map_err(|e| format!("temporary folder in {}: {e}", root.display()))?;
    let ticks = proc::clock_ticks();
    eprintln!(
        "== {pinning}; stores in {} (a folder per engine, with its server.log)",
        tmp.path().display(),
    );
    // Other processes skew every figure: say so before starting.
    let (b0, t0) = (proc::machine_busy_ticks(), Instant::now());
    std::thread::sleep(Duration::from_millis(500));
    let busy = (proc::machine_busy_ticks().saturating_sub(b0)) as f64
        / ticks as f64
        / t0.elapsed().as_secs_f64();
    eprintln!(
        "== CPU used by other processes before the start: {:.0} % of one CPU{}",
        busy * 100.0,
        if busy > 0.1 {
            ": the figures will be lower than this machine can do"
        } else {
            ""
        }
    );
    let engines: &[Engine] = match args.store {
        Engine::Sled => &[Engine::Sled],
        Engine::Postgres => &[Engine::Sled, Engine::Postgres],
    };
    let mut runs = Vec::new();
    for &engine in engines {
        let t0 = Instant::now();
        let run = runtime.block_on(measure_engine(
            args,
            bin,
            server_cpu,
            &pinning,
            &tmp.path().join(engine.name()),
            engine,
        ))?;
        eprintln!(
            "== {} measured in {:.0} s",
            engine.name(),
            t0.elapsed().as_secs_f64()
        );
        runs.push(run);
    }
    for run in &runs {
        println!("{}", run.table());
    }
    let doc = match &runs[..] {
        [sled, pg] => {
            let cpus = parse_cpu_list(&proc::online_cpus()).len();
            println!("{}", compare::table(sled, pg, cpus));
            compare::to_json(sled, pg)
        }
        [one] => one.to_json(),
        _ => return Err("no run".into()),
    };
    let json_path = args
        .json
        .clone()
        .unwrap_or_else(|| target_dir().join("bench/bench.json"));
    if let Some(dir) = json_path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let text = serde_json::to_string_pretty(&doc).map_err(|e| e.to_string())?;
    std::fs::write(&json_path, text + "\n").map_err(|e| format!("{}: {e}", json_path.display()))?;
    println!("figures written to {}", json_path.display());
    let errors: u64 = runs.iter().flat_map(|r| &r.phases).map(|p| p.errors).sum();
    if errors > 0 {
        println!("cargo xtask bench: {errors} requests failed (see above)");
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

/// Every stage on one engine, with its stores and server logs in `dir`: a PostgreSQL cluster of
/// its own with `Engine::Postgres`, a database per stage.
async fn measure_engine(
    args: &BenchArgs,
    bin: &Path,
    server_cpu: Option<usize>,
    pinning: &str,
    dir: &Path,
    engine: Engine,
) -> Result<Run, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    eprintln!("== measuring {}", engine.name());
    let (cluster, pinning) = match engine {
        Engine::Sled => (None, pinning.to_string()),
        Engine::Postgres => {
            let pg = Postgres::start()?;
            let pid = pg
                .postmaster_pid()
                .ok_or("the PostgreSQL cluster has no postmaster pid")?;
            // Started by this (pinned) process, the cluster runs on the load's CPU until moved.
            let pinning = match (server_cpu, args.database_cpu) {
                (Some(cpu), DatabaseCpu::Server) => {
                    proc::pin_tree(pid, &cpu.to_string())?;
                    format!("{pinning}; the database on CPU {cpu} with the server")
                }
                (_, _) => {
                    proc::pin_tree(pid, &proc::online_cpus())?;
                    format!(
                        "{pinning}; the database on any CPU ({})",
                        proc::online_cpus()
                    )
                }
            };
            (Some((pg, pid)), pinning)
        }
    };
    let sizes = Sizes::of(args);
    let mut bench = Bench {
        args,
        bin,
        server_cpu,
        tmp: dir.to_path_buf(),
        ticks: proc::clock_ticks(),
        stage: "workload",
        phases: Vec::new(),
        cluster,
        probe_requests: 0,
    };
    let log = dir.join("server.log");
    let database = bench.cluster.as_ref().map(|(pg, _)| Arc::clone(pg));
    let log_tail = |e: String| {
        let pg = database
            .as_ref()
            .map(|pg| format!("\n{}", pg.log_tail(15)))
            .unwrap_or_default();
        format!("{e}\n{}{pg}", server::log_tail(&log, 15))
    };
    let (workload_peak, workload_disk) = match bench.workload(&sizes).await {
        Ok(v) => v,
        Err(e) => return Err(log_tail(e)),
    };
    bench.stage = "store";
    let stores = match bench.scale(&sizes).await {
        Ok(v) => v,
        Err(e) => return Err(log_tail(e)),
    };
    bench.stage = "tenants";
    let tenants = match bench.tenants(&sizes).await {
        Ok(v) => v,
        Err(e) => return Err(log_tail(e)),
    };
    Ok(Run {
        store: engine.name(),
        mode: if args.quick { "quick" } else { "full" },
        profile: if args.debug { "debug" } else { "release" },
        concurrency: args.concurrency,
        pinning,
        durability: match engine {
            Engine::Sled => args.durability.clone(),
            Engine::Postgres => format!(
                "{} (synchronous_commit {})",
                args.durability,
                if args.durability == "periodic" {
                    "off"
                } else {
                    "on"
                }
            ),
        },
        phases: bench.phases,
        workload_peak_rss_mib: workload_peak,
        workload_disk_mib: workload_disk,
        stores,
        tenants,
    })
}

/// Where a stage's store is: its data folder (the sled store, or the control socket only) and,
/// with PostgreSQL, a database of its own, named after the stage.
struct Site {
    data: PathBuf,
    storage: Storage,
    database: Option<String>,
}

struct Bench<'a> {
    args: &'a BenchArgs,
    bin: &'a Path,
    server_cpu: Option<usize>,
    tmp: PathBuf,
    ticks: u64,
    /// The stage of the phases being run (see [`Phase::stage`]).
    stage: &'static str,
    phases: Vec<Phase>,
    /// With PostgreSQL: the cluster, and its postmaster's pid (the parent of its processes).
    cluster: Option<(Arc<Postgres>, u32)>,
    /// Requests of the `livez` probe run just before and just after each of the workload's
    /// phases (0: none): with the `livez` samples, the measurements whose median is the floor
    /// of the run's ratios (`Run::livez_floor`).
    probe_requests: usize,
}

/// The most requests of a `livez` probe (about 0.2 s on the project's machine).
const PROBE_REQUESTS: usize = 8_000;

const MIB: f64 = 1024.0 * 1024.0;

impl Bench<'_> {
    /// The store of a stage: a folder of the run's, and with PostgreSQL a new database.
    fn site(&self, stage: &str) -> Result<Site, String> {
        let data = self.tmp.join(stage);
        Ok(match &self.cluster {
            None => Site {
                data,
                storage: Storage::Sled,
                database: None,
            },
            Some((pg, _)) => Site {
                data,
                storage: pg.database(stage)?,
                database: Some(stage.to_string()),
            },
        })
    }

    /// The size of a stage's store, MiB: `du` of the sled folder, or the database's size
    /// (`pg_database_size`: its tables and indexes, not the cluster's write-ahead log).
    fn disk_mib(&self, site: &Site) -> Result<f64, String> {
        match (&self.cluster, &site.database) {
            (Some((pg, _)), Some(db)) => {
                let bytes = pg.psql(db, "SELECT pg_database_size(current_database())")?;
                let bytes: f64 = bytes
                    .parse()
                    .map_err(|_| format!("pg_database_size answered {bytes}"))?;
                Ok(bytes / MIB)
            }
            _ => Ok(proc::disk_usage(&site.data) as f64 / MIB),
        }
    }

    /// Starts a server on `site` (its log in `server.log` of the run's folder), pinned to the
    /// server's CPU; a store of a million users takes a while to open.
    fn spawn(&self, site: &Site, durability: &str) -> Result<Server, String> {
        let s = self.launch(site, durability)?.start()?;
        eprintln!("== server pid {} (durability {durability})", s.pid);
        Ok(s)
    }

    /// How every server of the run starts on `site`. With PostgreSQL, `periodic` durability
    /// (the loaders') is the database's asynchronous commit: `synchronous_commit=off` in the
    /// server's sessions, which the database flushes within 200 ms (`wal_writer_delay`).
    fn launch(&self, site: &Site, durability: &str) -> Result<Launch, String> {
        let storage = if durability == "periodic" {
            site.storage
                .with_session_setting("synchronous_commit", "off")
        } else {
            site.storage.clone()
        };
        let mut launch = Launch::new(self.bin, &self.tmp, &site.data).with_storage(storage);
        launch.env = server_env(self.args, durability)?;
        launch.core = self.server_cpu;
        launch.within = Duration::from_secs(600);
        Ok(launch)
    }

    /// After a loader stopped, with PostgreSQL: `VACUUM ANALYZE` (what autovacuum does on its
    /// own within a minute or so of a bulk load, done now so that it does not run during a
    /// measured phase) and `CHECKPOINT` (the loader's writes on disk, as the sled loader's stop
    /// flushes them). Part of the load's time.
    fn after_load(&self, site: &Site) -> Result<(), String> {
        if let (Some((pg, _)), Some(db)) = (&self.cluster, &site.database) {
            pg.psql(db, "VACUUM ANALYZE")?;
            pg.psql(db, "CHECKPOINT")?;
        }
        Ok(())
    }

    /// The database's processes, with PostgreSQL: their CPU time and bytes written so far.
    fn database_status(&self) -> ProcStatus {
        self.cluster
            .as_ref()
            .map_or_else(ProcStatus::default, |(_, pid)| proc::tree(*pid))
    }

    /// Runs one measured phase and records it.
    async fn phase(
        &mut self,
        (server, target): (&Server, &Target),
        name: &str,
        users: usize,
        n: usize,
        make: MakeOp,
        check: Check,
    ) -> Vec<(usize, String)> {
        eprint!("== {name} ({} users stored): {n} requests … ", users);
        let probe = self.stage == "workload" && self.probe_requests > 0 && !is_livez(name);
        let before = if probe {
            self.probe(target).await
        } else {
            None
        };
        let commits0 = http::commit_counts(target).await;
        let threads0 = proc::thread_groups(server.pid);
        let (s0, d0, c0, a0, st0) = (
            ProcStatus::of(server.pid),
            self.database_status(),
            ProcStatus::own(),
            proc::machine_busy_ticks(),
            proc::machine_steal_ticks(),
        );
        let m = load::run(target, n, self.args.concurrency, make, check).await;
        let (s1, d1, c1, a1, st1) = (
            ProcStatus::of(server.pid),
            self.database_status(),
            ProcStatus::own(),
            proc::machine_busy_ticks(),
            proc::machine_steal_ticks(),
        );
        let threads1 = proc::thread_groups(server.pid);
        let commits1 = http::commit_counts(target).await;
        let after = match before {
            Some(_) => self.probe(target).await,
            None => None,
        };
        let (server_ticks, database_ticks, load_ticks) = (
            s1.cpu_ticks.saturating_sub(s0.cpu_ticks),
            d1.cpu_ticks.saturating_sub(d0.cpu_ticks),
            c1.cpu_ticks.saturating_sub(c0.cpu_ticks),
        );
        let other_ticks = a1
            .saturating_sub(a0)
            .saturating_sub(server_ticks + database_ticks + load_ticks);
        let secs = m.elapsed.as_secs_f64();
        let cpu = |ticks: u64| {
            if secs > 0.0 {
                ticks as f64 / self.ticks as f64 / secs
            } else {
                0.0
            }
        };
        let p = Phase::new(
            name,
            users as u64,
            m.latencies_ns,
            m.errors,
            secs,
            [
                cpu(server_ticks),
                cpu(database_ticks),
                cpu(load_ticks),
                cpu(other_ticks),
            ],
            s1.write_bytes.saturating_sub(s0.write_bytes)
                + d1.write_bytes.saturating_sub(d0.write_bytes),
        )
        .in_stage(self.stage)
        .with_steal(cpu(st1.saturating_sub(st0)))
        .with_batches(http::writes_per_batch(commits0, commits1))
        .with_around(before.zip(after));
        let requests = p.requests;
        let p = p.with_threads(proc::thread_groups_per_request(
            &threads0, &threads1, requests,
        ));
        eprintln!("{}", p.summary("load"));
        if !p.threads.is_empty() {
            eprintln!("   server CPU a request by thread: {}", p.threads_line());
        }
        for e in &m.error_samples {
            eprintln!("   error: {e}");
        }
        self.phases.push(p);
        m.kept
    }

    /// The workload on a fresh store: create, read, filter, change, list, group members, delete.
    /// Returns the server's peak resident memory and the store's size on disk, in MiB.
    async fn workload(&mut self, sizes: &Sizes) -> Result<(f64, f64), String> {
        let site = self.site("workload")?;
        let server = self.spawn(&site, &self.args.durability.clone())?;
        let key = server
            .minted_key
            .clone()
            .ok_or("the server minted no key on a fresh store")?;
        let target = Target::from_base_url(&server.base, &key)?;
        ready(&server, &target).await?;
        let n = sizes.users;
        self.probe_requests = sizes.reads.min(PROBE_REQUESTS);

        self.livez(&server, &target, "livez", sizes.reads).await;
        let kept = self
            .phase(
                (&server, &target),
                "create",
                0,
                n,
                Arc::new(|i| Op::with_body("POST", "/Users".into(), &user("bench", i, false))),
                load::keep_id(),
            )
            .await;
        let by_index: Vec<(usize, String)> = kept;
        if by_index.is_empty() {
            return Err("no user was created".into());
        }
        let ids: Arc<Vec<String>> = Arc::new(by_index.iter().map(|(_, id)| id.clone()).collect());
        let names: Arc<Vec<usize>> = Arc::new(by_index.iter().map(|(i, _)| *i).collect());
        let stored = ids.len();
        self.reads(&server, &target, stored, sizes.reads, &ids, &names, "bench")
            .await;

        self.patch_active(&server, &target, stored, &ids, "").await;
        self.livez(&server, &target, "livez 2", sizes.reads).await;
        if self.args.wrk {
            wrk::run(self, (&server, &target), &ids, &names).await?;
        }
        // The same PATCHes again with a webhook endpoint subscribed to every event whose
        // receiver answers after a second: the sender works off the requests' path, so their
        // p99 should stay within 10 % (issue 16). In the order without, with, with, without
        // (the second pair suffixed " (2)"), so that a drift along the workload (a store that
        // grows) weighs on both sides alike.
        match slow_webhook(&server, &ids[0]).await {
            Ok((receiver, admin, hook)) => {
                self.patch_active(&server, &target, stored, &ids, "+slow-webhook")
                    .await;
                self.patch_active(&server, &target, stored, &ids, "+slow-webhook (2)")
                    .await;
                let got = receiver.received_requests().await.unwrap_or_default().len();
                eprintln!("   the slow receiver got {got} deliveries meanwhile");
                match disable_webhook(&server, &admin, &hook).await {
                    Ok(()) => {
                        self.patch_active(&server, &target, stored, &ids, " (2)")
                            .await
                    }
                    Err(e) => eprintln!("   could not disable the webhook endpoint: {e}"),
                }
            }
            Err(e) => eprintln!("== webhook phases skipped: {e}"),
        }
        {
            let (ids, names) = (Arc::clone(&ids), Arc::clone(&names));
            self.phase(
                (&server, &target),
                "put",
                stored,
                stored,
                Arc::new(move |i| {
                    Op::with_body(
                        "PUT",
                        format!("/Users/{}", ids[i]),
                        &user("bench", names[i], true),
                    )
                }),
                load::success_with("\"title\":\"Engineer\""),
            )
            .await;
        }
        self.phase(
            (&server, &target),
            "list",
            stored,
            sizes.pages,
            list_pages(stored),
            load::success_with("\"Resources\""),
        )
        .await;
        let groups = Arc::new(self.groups(&target, sizes.groups).await?);
        // Member adds, answered with the group; then the same adds, each to the next group,
        // answered without the members (as Entra ID reads groups): that PATCH looks up only the
        // id it names.
        for (name, next, query) in [
            ("group-patch", 0, ""),
            ("group-patch-slim", 1, "?excludedAttributes=members"),
        ] {
            let (ids, groups) = (Arc::clone(&ids), Arc::clone(&groups));
            self.phase(
                (&server, &target),
                name,
                stored,
                stored,
                Arc::new(move |i| {
                    Op::with_body(
                        "PATCH",
                        format!("/Groups/{}{query}", groups[(i + next) % groups.len()]),
                        &json!({
                            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                            "Operations": [{"op": "add", "path": "members", "value": [{"value": ids[i]}]}],
                        }),
                    )
                }),
                load::any_2xx(),
            )
            .await;
        }
        // The same pages now that every user is in two groups: each user's `groups` names them,
        // with their display names.
        self.phase(
            (&server, &target),
            "list-in-groups",
            stored,
            sizes.pages,
            list_pages(stored),
            load::success_with("\"groups\""),
        )
        .await;
        // A page of a group's history through the admin API, as the admin page shows it: each
        // group's is some 1,250 entries long by now (its member adds of the two phases above).
        match server.minted_admin_key.as_deref() {
            Some(admin) => {
                let history = Target {
                    base_path: "/admin/v1".into(),
                    key: admin.to_string(),
                    ..target.clone()
                };
                let groups = Arc::clone(&groups);
                self.phase(
                    (&server, &history),
                    "history",
                    stored,
                    sizes.pages,
                    Arc::new(move |i| {
                        Op::get(format!(
                            "/groups/{}/history?startIndex=1&count=20",
                            groups[i % groups.len()]
                        ))
                    }),
                    load::success_with("\"entries\""),
                )
                .await;
            }
            None => eprintln!("== history: skipped, the server minted no admin key"),
        }
        {
            let ids = Arc::clone(&ids);
            self.phase(
                (&server, &target),
                "delete",
                stored,
                stored,
                Arc::new(move |i| Op::new("DELETE", format!("/Users/{}", ids[i]), None)),
                load::any_2xx(),
            )
            .await;
        }
        self.livez(&server, &target, "livez 3", sizes.reads).await;
        let status = ProcStatus::of(server.pid);
        server.stop(STOP_WITHIN)?;
        Ok((status.hwm_kib as f64 / 1024.0, self.disk_mib(&site)?))
    }

    /// The rate of a `livez` probe of [`Bench::probe_requests`], `None` if any request failed
    /// (the floor then has one probe fewer).
    async fn probe(&self, target: &Target) -> Option<f64> {
        let m = load::run(
            target,
            self.probe_requests,
            self.args.concurrency,
            Arc::new(|_| Op {
                absolute: true,
                ..Op::get("/livez".into())
            }),
            load::success_with("live"),
        )
        .await;
        let secs = m.elapsed.as_secs_f64();
        (m.errors == 0 && secs > 0.0).then(|| m.latencies_ns.len() as f64 / secs)
    }

    /// A `livez` sample (`name`: `livez`, `livez 2`, …): the workload measures one at its start,
    /// its middle and its end, and divides its rates by the median of these and of the probes
    /// around its phases (`Run::livez_floor`).
    async fn livez(&mut self, server: &Server, target: &Target, name: &str, n: usize) {
        self.phase(
            (server, target),
            name,
            0,
            n,
            Arc::new(|_| Op {
                absolute: true,
                ..Op::get("/livez".into())
            }),
            load::success_with("live"),
        )
        .await;
    }

    /// `patch-suspend` then `patch-reactivate` (each name followed by `suffix`): every user's
    /// `active` set to false, then back to true.
    async fn patch_active(
        &mut self,
        server: &Server,
        target: &Target,
        stored: usize,
        ids: &Arc<Vec<String>>,
        suffix: &str,
    ) {
        for (name, active) in [("patch-suspend", false), ("patch-reactivate", true)] {
            let (make, check) = patch_active_op(Arc::clone(ids), active);
            self.phase(
                (server, target),
                &format!("{name}{suffix}"),
                stored,
                stored,
                make,
                check,
            )
            .await;
        }
    }

    /// GET by id and `userName eq` (hit, miss): `ids` and the numbers of their userNames.
    #[allow(clippy::too_many_arguments)]
    async fn reads(
        &mut self,
        server: &Server,
        target: &Target,
        stored: usize,
        n: usize,
        ids: &Arc<Vec<String>>,
        names: &Arc<Vec<usize>>,
        prefix: &'static str,
    ) {
        let ids2 = Arc::clone(ids);
        self.phase(
            (server, target),
            "get",
            stored,
            n,
            Arc::new(move |i| {
                Op::get(format!(
                    "/Users/{}",
                    ids2[(mix(0x22, i) as usize) % ids2.len()]
                ))
            }),
            load::success_with("\"userName\""),
        )
        .await;
        let names = Arc::clone(names);
        self.phase(
            (server, target),
            "filter-hit",
            stored,
            n,
            Arc::new(move |i| {
                let who = names[(mix(0x33, i) as usize) % names.len()];
                Op::get(filter_path(&user_name(prefix, who)))
            }),
            load::success_with("\"totalResults\":1,"),
        )
        .await;
        self.phase(
            (server, target),
            "filter-miss",
            stored,
            n,
            Arc::new(move |i| Op::get(filter_path(&format!("nobody{i}@example.com")))),
            load::success_with("\"totalResults\":0,"),
        )
        .await;
    }

    /// Creates the groups of the member PATCH phase (not measured).
    async fn groups(&mut self, target: &Target, n: usize) -> Result<Vec<String>, String> {
        let m = load::run(
            target,
            n,
            1,
            Arc::new(|i| {
                Op::with_body(
                    "POST",
                    "/Groups".into(),
                    &json!({
                        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                        "displayName": format!("bench-group-{i}"),
                    }),
                )
            }),
            load::keep_id(),
        )
        .await;
        if m.errors > 0 || m.kept.len() != n {
            return Err(format!("creating the groups failed: {:?}", m.error_samples));
        }
        Ok(m.kept.into_iter().map(|(_, id)| id).collect())
    }

    /// The read phases again on stores of each size: each loaded through /Bulk by a server with
    /// `durability = periodic`, which then stops; the measured server starts on the same folder.
    async fn scale(&mut self, sizes: &Sizes) -> Result<Vec<Store>, String> {
        let site = self.site("scale")?;
        let mut key: Option<String> = None;
        let mut loaded = 0usize;
        // Ids of the loaded users, one in `stride`, with the numbers of their userNames.
        let total = sizes.stores.iter().copied().max().unwrap_or(0);
        let stride = (total / 200_000).max(1);
        let (mut ids, mut names) = (Vec::new(), Vec::new());
        let mut out = Vec::new();
        for &size in &sizes.stores {
            let t0 = Instant::now();
            let loader = self.spawn(&site, "periodic")?;
            if key.is_none() {
                key = loader.minted_key.clone();
            }
            let k = key
                .clone()
                .ok_or("the server minted no key on a fresh store")?;
            let target = Target::from_base_url(&loader.base, &k)?;
            ready(&loader, &target).await?;
            eprint!("== loading users {loaded}..{size} through /Bulk … ");
            let got = preload(&target, loaded, size).await?;
            for (i, id) in got {
                if i % stride == 0 {
                    ids.push(id);
                    names.push(i);
                }
            }
            loaded = size;
            loader.stop(STOP_WITHIN)?;
            self.after_load(&site)?;
            let preload_seconds = t0.elapsed().as_secs_f64();
            eprintln!("{preload_seconds:.1} s");

            let server = self.spawn(&site, &self.args.durability.clone())?;
            let target = Target::from_base_url(&server.base, &k)?;
            let start = ready(&server, &target).await?;
            eprintln!(
                "== {size} users: ready {:.0} ms after spawn",
                start.as_secs_f64() * 1000.0
            );
            let (ids_a, names_a) = (Arc::new(ids.clone()), Arc::new(names.clone()));
            self.reads(
                &server,
                &target,
                size,
                sizes.store_reads,
                &ids_a,
                &names_a,
                "scale",
            )
            .await;
            let status = ProcStatus::of(server.pid);
            server.stop(STOP_WITHIN)?;
            out.push(Store {
                users: size as u64,
                preload_seconds,
                start_ms: start.as_secs_f64() * 1000.0,
                peak_rss_mib: status.hwm_kib as f64 / 1024.0,
                rss_mib: status.rss_kib as f64 / 1024.0,
                disk_mib: self.disk_mib(&site)?,
            });
        }
        Ok(out)
    }
}

/// Page after page of users, 100 a page, as an admin tool or an IdP's import walks the
/// directory: the workers take consecutive pages, and start again from the first at the end.
fn list_pages(stored: usize) -> MakeOp {
    let pages = (stored / 100).max(1);
    Arc::new(move |i| {
        let start = 1 + (i % pages) * 100;
        Op::get(format!("/Users?startIndex={start}&count=100"))
    })
}

/// How long a measured server may take to stop on SIGTERM (it flushes its store).
const STOP_WITHIN: Duration = Duration::from_secs(120);

/// Polls `GET /readyz` until it answers 200; returns the time since the server was spawned (its
/// start time).
/// The request of the PATCH phases: user `i`'s `active` set to `active` (its answer checked).
fn patch_active_op(ids: Arc<Vec<String>>, active: bool) -> (MakeOp, Check) {
    let body = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "active", "value": active}],
    })
    .to_string();
    let make: MakeOp = Arc::new(move |i| {
        Op::new(
            "PATCH",
            format!("/Users/{}", ids[i]),
            Some(body.clone().into_bytes()),
        )
    });
    let check = load::success_with(if active {
        "\"active\":true"
    } else {
        "\"active\":false"
    });
    (make, check)
}

/// A receiver on loopback that answers every delivery after a second, and an endpoint for it
/// subscribed to every event (the server runs with `SCIM_WEBHOOK_ALLOW_PRIVATE=true`): the
/// receiver, the admin key and the endpoint's id.
async fn slow_webhook(
    server: &Server,
    user: &str,
) -> Result<(wiremock::MockServer, String, String), String> {
    let admin = server
        .minted_admin_key
        .clone()
        .ok_or("the server minted no admin key")?;
    let receiver = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::method("POST"))
        .respond_with(wiremock::ResponseTemplate::new(200).set_delay(Duration::from_secs(1)))
        .mount(&receiver)
        .await;
    let origin = admin_origin(server)?;
    let r = reqwest::Client::new()
        .post(format!("{origin}/admin/v1/webhooks"))
        .bearer_auth(&admin)
        .json(&json!({"url": format!("{}/hook", receiver.uri()), "events": ["*"]}))
        .send()
        .await
        .map_err(|e| format!("adding the endpoint: {e}"))?;
    let status = r.status();
    let body: Value = r.json().await.map_err(|e| e.to_string())?;
    if !status.is_success() {
        return Err(format!("adding the endpoint: {status} {body}"));
    }
    let hook = body["webhook"]["id"]
        .as_str()
        .ok_or("no endpoint id")?
        .to_string();
    // An administrator's edit (a profile.updated event), and the wait until the sender has
    // delivered it: the phases then run with the sender at work.
    let r = reqwest::Client::new()
        .patch(format!("{origin}/admin/v1/users/{user}"))
        .bearer_auth(&admin)
        .json(&json!({"displayName": "Bench Webhook"}))
        .send()
        .await
        .map_err(|e| format!("an admin edit: {e}"))?;
    if !r.status().is_success() {
        return Err(format!("an admin edit: {}", r.status()));
    }
    let deadline = Instant::now() + Duration::from_secs(15);
    while receiver
        .received_requests()
        .await
        .unwrap_or_default()
        .is_empty()
    {
        if Instant::now() > deadline {
            return Err("the sender delivered nothing within 15 s".into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok((receiver, admin, hook))
}

async fn disable_webhook(server: &Server, admin: &str, hook: &str) -> Result<(), String> {
    let origin = admin_origin(server)?;
    let r = reqwest::Client::new()
        .patch(format!("{origin}/admin/v1/webhooks/{hook}"))
        .bearer_auth(admin)
        .json(&json!({"enabled": false}))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if r.status().is_success() {
        Ok(())
    } else {
        Err(r.status().to_string())
    }
}

/// `http://ADDR` of a server, from its admin page's URL.
fn admin_origin(server: &Server) -> Result<String, String> {
    server
        .admin_url
        .strip_suffix("/admin")
        .map(str::to_string)
        .ok_or_else(|| format!("an admin URL without /admin: {}", server.admin_url))
}

async fn ready(server: &Server, target: &Target) -> Result<Duration, String> {
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        if let Ok(mut c) = Conn::connect(target).await {
            if let Ok(r) = c.send("GET", "/readyz", None).await {
                if r.status == 200 {
                    return Ok(server.spawned.elapsed());
                }
            }
        }
        if Instant::now() > deadline {
            return Err("the server is not ready after 600 s".into());
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// Loads users `from..to` through /Bulk, 1,000 a request, two requests in flight; returns their
/// numbers and ids.
async fn preload(target: &Target, from: usize, to: usize) -> Result<Vec<(usize, String)>, String> {
    const PER: usize = 1_000;
    let requests = (to.saturating_sub(from)).div_ceil(PER);
    let m = load::run(
        target,
        requests,
        2,
        Arc::new(move |r| {
            let first = from + r * PER;
            let ops: Vec<Value> = (first..(first + PER).min(to))
                .map(|i| {
                    json!({
                        "method": "POST",
                        "path": "/Users",
                        "bulkId": i.to_string(),
                        "data": user("scale", i, false),
                    })
                })
                .collect();
            Op::with_body(
                "POST",
                "/Bulk".into(),
                &json!({
                    "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
                    "Operations": ops,
                }),
            )
        }),
        Arc::new(|_, status, body| {
            if status != 200 {
                return Verdict::Wrong(format!("status {status}"));
            }
            match bulk_ids(body) {
                // "number id" lines, read back below.
                Ok(lines) => Verdict::Keep(lines),
                Err(e) => Verdict::Wrong(e),
            }
        }),
    )
    .await;
    if m.errors > 0 {
        return Err(format!("the preload failed: {:?}", m.error_samples));
    }
    let mut out = Vec::with_capacity(to - from);
    for (_, lines) in m.kept {
        for line in lines.lines() {
            if let Some((i, id)) = line.split_once(' ') {
                let i: usize = i.parse().map_err(|_| format!("unexpected bulkId {i}"))?;
                out.push((i, id.to_string()));
            }
        }
    }
    if out.len() != to - from {
        return Err(format!(
            "the preload created {} users, not {}",
            out.len(),
            to - from
        ));
    }
    out.sort_unstable_by_key(|(i, _)| *i);
    Ok(out)
}

/// The created users of a BulkResponse, as "bulkId id" lines; an error if one failed.
fn bulk_ids(body: &[u8]) -> Result<String, String> {
    let v: Value = serde_json::from_slice(body).map_err(|e| format!("bulk response: {e}"))?;
    let mut out = String::new();
    for op in v["Operations"].as_array().into_iter().flatten() {
        if op["status"] != "201" {
            return Err(format!("a bulk create failed: {op}"));
        }
        let (Some(bulk_id), Some(location)) = (op["bulkId"].as_str(), op["location"].as_str())
        else {
            return Err(format!("a bulk operation without bulkId or location: {op}"));
        };
        let id = location.rsplit('/').next().unwrap_or_default();
        out.push_str(bulk_id);
        out.push(' ');
        out.push_str(id);
        out.push('\n');
    }
    Ok(out)
}

fn user_name(prefix: &str, i: usize) -> String {
    format!("{prefix}{i:07}@example.com")
}

/// A user as an IdP sends it; `changed` is the PUT's version (new family name, a title).
fn user(prefix: &str, i: usize, changed: bool) -> Value {
    let name = user_name(prefix, i);
    let family = if changed {
        format!("Renamed{i}")
    } else {
        format!("Family{i}")
    };
    let mut u = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": name,
        "externalId": format!("{prefix}-ext-{i}"),
        "name": {"givenName": format!("Given{i}"), "familyName": family},
        "displayName": format!("Given{i} {family}"),
        "emails": [{"value": name, "type": "work", "primary": true}],
        "active": true,
    });
    if changed {
        u["title"] = json!("Engineer");
    }
    u
}

/// `/Users?filter=userName eq "NAME"`, encoded.
fn filter_path(name: &str) -> String {
    format!(
        "/Users?filter=userName%20eq%20%22{}%22",
        name.replace('@', "%40")
    )
}

/// A fixed pseudo-random number for request `i` of a phase (splitmix64), so that runs repeat.
fn mix(seed: u64, i: usize) -> u64 {
    let mut z = (i as u64)
        .wrapping_add(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15))
        .wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists_are_parsed() {
        assert_eq!(parse_cpu_list("0-1"), [0, 1]);
        assert_eq!(parse_cpu_list("0,2-4,7\n"), [0, 2, 3, 4, 7]);
        assert_eq!(parse_cpu_list(""), Vec::<usize>::new());
    }

    #[test]
    fn requests_are_what_an_idp_sends() {
        assert_eq!(
            filter_path("bench0000042@example.com"),
            "/Users?filter=userName%20eq%20%22bench0000042%40example.com%22"
        );
        let u = user("bench", 42, true);
        assert_eq!(u["userName"], "bench0000042@example.com");
        assert_eq!(u["title"], "Engineer");
        assert!(user("bench", 42, false).get("title").is_none());
        assert_ne!(mix(1, 0), mix(1, 1));
        assert_eq!(mix(7, 3), mix(7, 3));
    }

    #[test]
    fn quick_mode_is_small_and_million_is_opt_in() {
        use clap::Parser;
        #[derive(Parser)]
        struct Cli {
            #[command(flatten)]
            bench: BenchArgs,
        }
        let quick = Cli::parse_from(["bench", "--quick"]).bench;
        let s = Sizes::of(&quick);
        assert!(s.users <= 1_000 && s.reads <= 1_000 && s.store_reads <= 1_000);
        assert!(s.stores.iter().all(|&n| n <= 10_000));
        let full = Cli::parse_from(["bench"]).bench;
        assert_eq!(full.concurrency, 16);
        let s = Sizes::of(&full);
        assert_eq!((s.users, s.stores.clone()), (10_000, vec![1_000, 100_000]));
        assert_eq!((s.tenants, s.tenant_users), (1_000, 100));
        let million = Cli::parse_from(["bench", "--million"]).bench;
        assert_eq!(Sizes::of(&million).stores.last(), Some(&1_000_000));
        let s = Sizes::of(&quick);
        assert_eq!((s.tenants, s.tenant_users), (20, 20));
        let s = Sizes::of(&Cli::parse_from(["bench", "--quick", "--tenants", "0"]).bench);
        assert_eq!(s.tenants, 0);
        let s =
            Sizes::of(&Cli::parse_from(["bench", "--tenants", "50", "--tenant-users", "7"]).bench);
        assert_eq!((s.tenants, s.tenant_users), (50, 7));
    }
}
