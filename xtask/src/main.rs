//! `cargo xtask`: developer automation.
//!
//! * `cargo xtask ci`: format check, clippy with warnings denied, the whole test suite, then
//!   `conformance`, `browser`, a short `crash` run, `faults` (where root) and a `bench --quick
//!   --debug` smoke run (what CI runs); then the PostgreSQL pass, on throwaway clusters: the
//!   integration suite with `IT_POSTGRES_URL` (but its sled-only modules), `conformance --store
//!   postgres` and a short `crash --store postgres`.
//! * `cargo xtask browser`: the admin web page in headless Chromium, driven over WebDriver by
//!   Debian's chromedriver, through the fantoccini client (`browser.rs`); fails when either is
//!   missing.
//! * `cargo xtask crash`: SIGKILL at random moments under concurrent writes; nothing acknowledged
//!   may be lost (`crash.rs`; `--store postgres` kills a server on a PostgreSQL database).
//! * `cargo xtask faults`: the disk turns read-only under the running server; nothing
//!   acknowledged may be lost (`docs/faults/read-only-disk.sh`; needs root and loop devices).
//! * `cargo xtask bench`: throughput, latency, memory and start time of the release server
//!   (`bench/`, figures in `docs/performance.md`); `--store postgres` measures sled and then
//!   PostgreSQL, side by side.
//! * `cargo xtask conformance`: builds `scim-server` (debug profile, see below), starts it on a
//!   free port with a fresh store and a freshly minted key, runs the conformance suite, every
//!   onelogin-sim scenario and scim2-tester against it (the `default` tenant, `/scim/v2`); then
//!   creates a tenant on the same running server with `scim-server tenant create` (over its
//!   control socket) and runs the suite and the scenarios again under `/t/conformance/scim/v2`
//!   with the tenant's key; stops the server with SIGTERM (exit 0 expected) and prints a report
//!   for each pass, with the known deviations judged in both. `--url URL --token KEY` runs the
//!   first pass against any other server. `--store postgres` runs our server on a database of a
//!   throwaway PostgreSQL cluster instead of sled (`server.rs`).
//!
//! Every task that runs our server builds, starts and stops it through `server.rs`: it starts
//! `scim-server serve --listen 127.0.0.1:0 --ready-file FILE` and reads the address and the
//! minted key from that JSON file (never from the lines printed for people), keeps the server's
//! log in `server.log` of the task's folder, and stops it with SIGTERM (exit 0 expected) or
//! SIGKILL. The faults script reads the same ready file.
//!
//! The server is built in the debug profile: `cargo test --workspace` has already compiled every
//! dependency in that profile, so the build takes seconds, where a release build recompiles
//! Rocket and sled with optimisations (minutes on two cores). The suite's requests are not
//! measured, so optimisation does not change a verdict; `--release` is there for those who want
//! the shipped binary under test.

mod bench;
mod browser;
mod crash;
mod scenarios;
mod scim2_tester;
mod server;
mod tenants;
mod tidy;

use std::path::PathBuf;
use std::process::{Command, ExitCode};

use clap::{Args, Parser, Subcommand};
use conformance::model::{CheckInfo, Level, Outcome, Report, Totals, Verdict};
use conformance::report::{json, junit, table};
use server::Engine;

/// Failures of our own server that are understood and documented; any other failure fails the
/// task. Each entry says why the server behaves so. Remove an entry as soon as the check passes
/// (the task says so).
const KNOWN_DEVIATIONS: &[(&str, &str)] = &[
    (
        "patch.replace-filter-no-match",
        "by default the server creates the value when an `eq` value filter of an add/replace matches nothing, \
         as Entra expects when it sets `emails[type eq \"work\"].value` on a user without one \
         (crates/scim-proto/src/patch/mod.rs); with `strict = true` it answers 400 noTarget as RFC 7644 §3.5.2.3 says",
    ),
];

#[derive(Debug, Parser)]
#[command(
    name = "cargo xtask",
    about = "Developer tasks",
    arg_required_else_help = true
)]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Debug, Subcommand)]
enum Task {
    /// Format check, clippy -D warnings, tests, then conformance: the CI gate.
    Ci(ConformanceArgs),
    /// Conformance suite, onelogin-sim scenarios and scim2-tester against our server (or --url).
    Conformance(ConformanceArgs),
    /// Kill the server at random moments under concurrent writes; verify nothing acknowledged
    /// is lost and the store stays consistent.
    Crash(CrashArgs),
    /// Builds the release server and measures it: throughput, latency, memory, start time.
    Bench(bench::BenchArgs),
    /// The admin web page in headless Chromium (chromedriver): sign in, keys, users, history.
    Browser(BrowserArgs),
    /// Storage faults on a real file system: the disk turns read-only under the running server
    /// (`docs/faults/read-only-disk.sh`; needs root, loop devices and ext4).
    Faults(BrowserArgs),
}

#[derive(Debug, Args)]
struct BrowserArgs {
    /// Test the release binary instead of the debug one.
    #[arg(long)]
    release: bool,
}

#[derive(Debug, Args)]
struct CrashArgs {
    /// The store: sled in the data folder, or a database of a throwaway PostgreSQL cluster
    /// (the server is killed, never the database).
    #[arg(long, value_enum, default_value_t = Engine::Sled)]
    store: Engine,
    /// Kill-and-restart cycles (the last one stops with SIGTERM instead of SIGKILL).
    #[arg(long, default_value_t = 20)]
    cycles: usize,
    /// Concurrent writing clients.
    #[arg(long, default_value_t = 4)]
    clients: usize,
    /// Replay a run: the seed it printed.
    #[arg(long)]
    seed: Option<u64>,
    /// Test the release binary instead of the debug one.
    #[arg(long)]
    release: bool,
}

#[derive(Debug, Clone, Args)]
struct ConformanceArgs {
    /// The store of our server: sled in a temporary folder (the default), or a database of a
    /// throwaway PostgreSQL cluster. Not for `ci`, which runs both.
    #[arg(long, value_enum, conflicts_with = "url")]
    store: Option<Engine>,
    /// Check this SCIM base URL instead of starting our server.
    #[arg(long, requires = "token")]
    url: Option<String>,
    /// The bearer token for --url.
    #[arg(long, requires = "url")]
    token: Option<String>,
    /// Build and test the release binary instead of the debug one.
    #[arg(long)]
    release: bool,
    /// Write a JUnit XML report (suite, scenarios, scim2-tester) to this file.
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
    /// Write the whole report as JSON to this file.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Print every check, not only the failing ones.
    #[arg(long)]
    full: bool,
    /// Print the full exchanges (headers, bodies) under failures.
    #[arg(short, long)]
    verbose: bool,
    /// Do not run scim2-tester (it needs python3 and, the first time, PyPI).
    #[arg(long)]
    no_scim2_tester: bool,
    /// With --url: fail on any failed check, not only on a MUST.
    #[arg(long)]
    strict: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.task {
        Task::Ci(args) => ci(&args),
        Task::Conformance(args) => conformance_task(&args),
        Task::Crash(args) => crash_task(&args),
        Task::Bench(args) => bench::run(&args),
        Task::Browser(args) => browser_task(&args),
        Task::Faults(args) => faults_task(args.release),
    }
}

/// Whether this machine can run the storage-fault scripts: root, loop devices, ext4 tools.
fn can_run_faults() -> Result<(), String> {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    if !root {
        return Err("needs root (it mounts a loop device)".into());
    }
    for tool in [
        "/dev/loop-control",
        "/sbin/losetup",
        "/sbin/mkfs.ext4",
        "/sbin/e2fsck",
    ] {
        if !std::path::Path::new(tool).exists() {
            return Err(format!("needs {tool}"));
        }
    }
    Ok(())
}

/// What the fault script found.
enum Faults {
    Passed,
    /// The machine could not set the experiment up (the script's exit code 77).
    CannotRunHere(String),
    Failed(String),
}

fn run_faults(release: bool) -> Faults {
    if let Err(why) = can_run_faults() {
        return Faults::CannotRunHere(why);
    }
    let bin = match server::build(release) {
        Ok(bin) => bin,
        Err(e) => return Faults::Failed(e),
    };
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/faults/read-only-disk.sh");
    match Command::new("bash").arg(&script).arg(&bin).status() {
        Ok(s) if s.success() => Faults::Passed,
        Ok(s) if s.code() == Some(77) => {
            Faults::CannotRunHere("no loop device or ext4 error trigger here".into())
        }
        Ok(_) => Faults::Failed(format!("{} failed", script.display())),
        Err(e) => Faults::Failed(format!("{}: {e}", script.display())),
    }
}

fn faults_task(release: bool) -> ExitCode {
    eprintln!("== storage faults: the disk turns read-only under the running server");
    match run_faults(release) {
        Faults::Passed => ExitCode::SUCCESS,
        Faults::CannotRunHere(why) | Faults::Failed(why) => {
            eprintln!("== faults: FAIL: {why}");
            ExitCode::FAILURE
        }
    }
}

fn browser_task(args: &BrowserArgs) -> ExitCode {
    eprintln!("== admin web page in headless Chromium");
    match browser::run(args.release) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("== browser test: FAIL: {e}");
            ExitCode::FAILURE
        }
    }
}

fn crash_task(args: &CrashArgs) -> ExitCode {
    let run = || -> Result<(), String> {
        let bin = server::build(args.release)?;
        crash::run(
            &bin,
            &crash::Options {
                cycles: args.cycles,
                clients: args.clients,
                seed: args.seed,
                store: args.store,
            },
        )
    };
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("== crash test: FAIL: {e}");
            ExitCode::FAILURE
        }
    }
}

fn cargo(args: &[&str]) -> bool {
    cargo_with(args, &[])
}

/// `cargo ARGS` with the variables `env` set.
fn cargo_with(args: &[&str], env: &[(&str, &str)]) -> bool {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let shown: Vec<String> = env.iter().map(|(k, v)| format!("{k}={v} ")).collect();
    eprintln!("== {}cargo {}", shown.concat(), args.join(" "));
    Command::new(cargo)
        .args(args)
        .envs(env.iter().copied())
        .status()
        .is_ok_and(|s| s.success())
}

fn ci(args: &ConformanceArgs) -> ExitCode {
    if args.store.is_some() {
        eprintln!("== ci: --store is not for ci, which runs on sled and then on PostgreSQL");
        return ExitCode::FAILURE;
    }
    let steps: [&[&str]; 3] = [
        &["fmt", "--all", "--check"],
        &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--locked",
            "--",
            "-D",
            "warnings",
        ],
        &["test", "--workspace", "--locked"],
    ];
    for s in steps {
        if !cargo(s) {
            eprintln!("== ci: `cargo {}` failed", s.join(" "));
            return ExitCode::FAILURE;
        }
    }
    if conformance_task(args) != ExitCode::SUCCESS {
        return ExitCode::FAILURE;
    }
    if browser_task(&BrowserArgs {
        release: args.release,
    }) != ExitCode::SUCCESS
    {
        return ExitCode::FAILURE;
    }
    // A short crash test: a few kill-and-restart cycles (`cargo xtask crash` runs more).
    let crash = crash_task(&CrashArgs {
        cycles: 5,
        clients: 4,
        seed: None,
        release: false,
        store: Engine::Sled,
    });
    if crash != ExitCode::SUCCESS {
        return crash;
    }
    // The read-only disk needs root, loop devices and ext4, as on the CI machine; a machine
    // without them says so (and `cargo xtask faults` alone fails there).
    eprintln!("== storage faults: the disk turns read-only under the running server");
    match run_faults(false) {
        Faults::Passed => {}
        Faults::CannotRunHere(why) => {
            eprintln!("== faults: NOT RUN on this machine: {why} (`sudo cargo xtask faults`)")
        }
        Faults::Failed(why) => {
            eprintln!("== faults: FAIL: {why}");
            return ExitCode::FAILURE;
        }
    }
    // A smoke run of the benchmark (debug build, small stores): it prints figures and asserts
    // none; `cargo xtask bench` measures the release build. It runs as its own process, since the
    // bench re-runs its own command line pinned to a CPU.
    let me = match std::env::current_exe() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("== ci: own executable: {e}");
            return ExitCode::FAILURE;
        }
    };
    eprintln!("== xtask bench --quick --debug");
    match Command::new(me)
        .args(["bench", "--quick", "--debug"])
        .status()
    {
        Ok(s) if s.success() => {}
        _ => {
            eprintln!("== ci: the benchmark smoke run failed");
            return ExitCode::FAILURE;
        }
    }
    postgres_pass(args)
}

/// The PostgreSQL pass of `ci`, after everything above ran on sled: the integration suite with
/// each test server on a database of its own (`IT_POSTGRES_URL`), conformance, and a short crash
/// run, each on a throwaway cluster. Each step's time is printed.
fn postgres_pass(args: &ConformanceArgs) -> ExitCode {
    let step = |name: &str, t0: std::time::Instant, ok: bool| {
        eprintln!(
            "== ci, PostgreSQL pass: {name} {} in {:.0} s",
            if ok { "passed" } else { "FAILED" },
            t0.elapsed().as_secs_f64()
        );
        ok
    };
    let t0 = std::time::Instant::now();
    let cluster = match server::Postgres::start() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("== ci: {e}");
            return ExitCode::FAILURE;
        }
    };
    // The modules that test sled itself are skipped: `storage::` (sled's files, flushes and
    // faults), `upgrade::` (sled folders written by earlier releases) and `cli::` (the command
    // line on a sled folder, stopped and running) open or spawn sled whatever the variable says,
    // and already ran in the sled pass of `cargo test --workspace` above.
    let url = cluster.url("postgres");
    let suite = cargo_with(
        &[
            "test",
            "--package",
            "server",
            "--test",
            "it",
            "--locked",
            "--",
            "--skip",
            "storage::",
            "--skip",
            "upgrade::",
            "--skip",
            "cli::",
        ],
        &[("IT_POSTGRES_URL", &url)],
    );
    drop(cluster);
    if !step("the integration suite on PostgreSQL", t0, suite) {
        return ExitCode::FAILURE;
    }
    let t0 = std::time::Instant::now();
    let conformance = conformance_task(&ConformanceArgs {
        store: Some(Engine::Postgres),
        ..args.clone()
    }) == ExitCode::SUCCESS;
    if !step("conformance --store postgres", t0, conformance) {
        return ExitCode::FAILURE;
    }
    let t0 = std::time::Instant::now();
    let crash = crash_task(&CrashArgs {
        cycles: 5,
        clients: 4,
        seed: None,
        release: args.release,
        store: Engine::Postgres,
    }) == ExitCode::SUCCESS;
    if !step("crash --store postgres --cycles 5", t0, crash) {
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

fn conformance_task(args: &ConformanceArgs) -> ExitCode {
    match conformance(args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("== conformance: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The tenant that `cargo xtask conformance` creates on its own server, to run the suite and
/// the scenarios again under `/t/{tenant}/scim/v2`.
const CONFORMANCE_TENANT: &str = "conformance";

/// One pass of the checks against one SCIM base URL: the suite, the onelogin-sim scenarios
/// and (unless skipped) scim2-tester.
struct Pass {
    /// What was checked: `default`, `tenant ID`, or the URL given with --url.
    label: String,
    /// The suite's totals alone.
    suite: Totals,
    /// Every outcome of the pass, with its totals.
    report: Report,
    /// The transcripts of the scenarios that failed.
    transcripts: Vec<String>,
}

impl Pass {
    fn section_totals(&self, prefix: &str) -> Totals {
        Totals::of(
            self.report
                .outcomes
                .iter()
                .filter(|o| o.check.section.starts_with(prefix)),
        )
    }
}

/// Runs the suite, the scenarios and (with `tester`) scim2-tester against `base` with `key`.
fn check_one(
    runtime: &tokio::runtime::Runtime,
    label: &str,
    (base, key): (&str, &str),
    tester: Option<&str>,
) -> Result<Pass, String> {
    let t0 = std::time::Instant::now();
    eprintln!("== conformance suite against {base} ({label})");
    let suite = runtime.block_on(conformance::run(base, key, conformance::Options::default()))?;
    eprintln!("== onelogin-sim scenarios against {base} ({label})");
    let (scenario_outcomes, transcripts) = runtime.block_on(scenarios::run(base, key))?;
    let tester = match tester {
        Some(why) => vec![skipped_tester(why)],
        None => {
            eprintln!("== scim2-tester against {base} ({label})");
            match scim2_tester::ensure_venv().and_then(|py| scim2_tester::run(&py, base, key)) {
                Ok(o) => o,
                Err(e) => vec![failed_tester(&e)],
            }
        }
    };
    eprintln!("== {label}: checked in {:.1} s", t0.elapsed().as_secs_f64());
    let mut outcomes = suite.outcomes.clone();
    outcomes.extend(scenario_outcomes);
    outcomes.extend(tester);
    Ok(Pass {
        label: label.to_string(),
        suite: suite.totals,
        report: Report {
            base_url: suite.base_url.clone(),
            prefix: suite.prefix.clone(),
            totals: Totals::of(&outcomes),
            outcomes,
            leftovers: suite.leftovers.clone(),
        },
        transcripts,
    })
}

/// The passes as one report, for the JSON and JUnit files: the first pass's outcomes as they
/// are, each later pass's under sections named after it (`tenant conformance: RFC 7644 §3.3`).
fn combined(passes: &[Pass]) -> Report {
    let mut outcomes = Vec::new();
    let mut leftovers = Vec::new();
    for (i, p) in passes.iter().enumerate() {
        for o in &p.report.outcomes {
            let mut o = o.clone();
            if i > 0 {
                o.check.section = format!("{}: {}", p.label, o.check.section);
            }
            outcomes.push(o);
        }
        leftovers.extend(
            p.report
                .leftovers
                .iter()
                .map(|l| format!("{} ({})", l, p.label)),
        );
    }
    let first = passes.first().map(|p| &p.report);
    Report {
        base_url: first.map(|r| r.base_url.clone()).unwrap_or_default(),
        prefix: first.map(|r| r.prefix.clone()).unwrap_or_default(),
        totals: Totals::of(&outcomes),
        outcomes,
        leftovers,
    }
}

/// What the known deviations say of the passes: a line for each deviation (the passes where it
/// failed, and why; a line for each pass where it did not fail), and the failures that are not
/// known deviations, with their pass.
fn judge_deviations(passes: &[Pass]) -> (Vec<String>, Vec<(&str, &Outcome)>) {
    let known = |id: &str| KNOWN_DEVIATIONS.iter().any(|(k, _)| *k == id);
    let unexpected = passes
        .iter()
        .flat_map(|p| {
            p.report
                .outcomes
                .iter()
                .filter(|o| o.verdict == Verdict::Fail && !known(&o.check.id))
                .map(|o| (p.label.as_str(), o))
        })
        .collect();
    let mut lines = Vec::new();
    for (id, why) in KNOWN_DEVIATIONS {
        let mut failed = Vec::new();
        for p in passes {
            match p.report.outcome(id).map(|o| o.verdict) {
                Some(Verdict::Fail) => failed.push(p.label.as_str()),
                Some(v) => lines.push(format!(
                    "  {id} ({}): now {v}: remove it from KNOWN_DEVIATIONS in xtask/src/main.rs",
                    p.label
                )),
                None => lines.push(format!("  {id} ({}): did not run", p.label)),
            }
        }
        if !failed.is_empty() {
            lines.push(format!("  {id} ({}): {why}", failed.join(", ")));
        }
    }
    (lines, unexpected)
}

/// Runs everything; Ok(passed).
fn conformance(args: &ConformanceArgs) -> Result<bool, String> {
    let started = std::time::Instant::now();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("runtime: {e}"))?;
    let engine = args.store.unwrap_or_default();
    let own = match (&args.url, &args.token) {
        (Some(_), Some(_)) => None,
        _ => {
            let bin = server::build(args.release)?;
            let storage = match engine {
                Engine::Sled => server::Storage::Sled,
                Engine::Postgres => server::Postgres::start()?.database("conformance")?,
            };
            // The suite checks the protocol, and sends far more requests a second than an IdP
            // does: the rate limits (tested in server/tests/it/ratelimit.rs) are turned off.
            // Its requests come through the front door, as they would on a public address.
            let fresh = server::start_fresh(
                &runtime,
                &bin,
                storage,
                &[
                    ("SCIM_RATE_LIMIT_PER_KEY", "0"),
                    ("SCIM_RATE_LIMIT_UNAUTHENTICATED", "0"),
                    ("SCIM_FRONT_DOOR", "on"),
                ],
            )?;
            Some((bin, fresh))
        }
    };
    let skip_tester = args
        .no_scim2_tester
        .then_some("skipped with --no-scim2-tester");
    let mut passes = Vec::new();
    match (&own, &args.url, &args.token) {
        (Some((_, s)), _, _) => {
            passes.push(check_one(
                &runtime,
                "default",
                (&s.server.base, &s.key),
                skip_tester,
            )?);
            // The same server again, under a tenant the operator creates while it runs (over
            // its control socket): every check and scenario must pass there too.
            eprintln!("== scim-server tenant create {CONFORMANCE_TENANT}");
            let t = tenants::create_with_cli(
                &s.launch,
                &s.server.base,
                CONFORMANCE_TENANT,
                "Conformance tenant",
            )?;
            runtime.block_on(s.server.answers_at(&t.base, &t.key))?;
            passes.push(check_one(
                &runtime,
                &format!("tenant {}", t.id),
                (&t.base, &t.key),
                skip_tester,
            )?);
        }
        (None, Some(u), Some(t)) => passes.push(check_one(&runtime, u, (u, t), skip_tester)?),
        _ => return Err("--url and --token go together".into()),
    }
    let logs = own
        .as_ref()
        .map(|(_, s)| s.server.logs())
        .unwrap_or_default();
    let database = own
        .as_ref()
        .and_then(|(_, s)| s.launch.storage.cluster().cloned());
    let stopped = own.map(|(_, s)| s.stop());

    for p in &passes {
        print!(
            "{}",
            table::render(
                &p.report,
                table::Style {
                    verbose: args.verbose,
                    failures_only: !args.full,
                }
            )
        );
        for t in &p.transcripts {
            println!("\n{t}");
        }
        println!();
    }
    let report = combined(&passes);
    if let Some(p) = &args.junit {
        std::fs::write(p, junit::render(&report)).map_err(|e| format!("{}: {e}", p.display()))?;
    }
    if let Some(p) = &args.json {
        std::fs::write(p, json::render(&report)).map_err(|e| format!("{}: {e}", p.display()))?;
    }

    if args.url.is_none() {
        println!(
            "scim-server's store: {}",
            match engine {
                Engine::Sled => "sled, in a temporary folder",
                Engine::Postgres => "PostgreSQL, a database of a throwaway cluster",
            }
        );
    }
    for p in &passes {
        let (sim, tst) = (
            p.section_totals("onelogin-sim"),
            p.section_totals("scim2-tester"),
        );
        println!("{} ({}):", p.label, p.report.base_url);
        println!(
            "  conformance suite: {} checks, {} pass, {} fail ({} MUST), {} skip",
            p.suite.total(),
            p.suite.pass,
            p.suite.fail,
            p.suite.must_fail,
            p.suite.skip
        );
        println!(
            "  onelogin-sim: {} scenarios, {} pass, {} fail",
            sim.total(),
            sim.pass,
            sim.fail
        );
        println!(
            "  scim2-tester 0.5.2: {} results, {} pass, {} fail, {} skip",
            tst.total(),
            tst.pass,
            tst.fail,
            tst.skip
        );
    }
    let t = report.totals;
    println!(
        "All {} passes: {} results, {} pass, {} fail ({} MUST), {} skip",
        passes.len(),
        t.total(),
        t.pass,
        t.fail,
        t.must_fail,
        t.skip
    );

    let mut passed = true;
    if stopped.is_some() {
        println!(
            "\nKnown deviations of scim-server (allowed, documented in conformance/README.md):"
        );
        let (lines, unexpected) = judge_deviations(&passes);
        for l in lines {
            println!("{l}");
        }
        if !unexpected.is_empty() {
            passed = false;
            println!("\nUnexpected failures on scim-server:");
            for (label, o) in unexpected {
                println!(
                    "  {} ({label}) [{}] {}",
                    o.check.id, o.check.level, o.reason
                );
            }
        }
        match stopped {
            Some(Ok(())) => println!("scim-server stopped on SIGTERM with exit status 0"),
            Some(Err(e)) => {
                passed = false;
                println!("scim-server: {e}");
            }
            None => {}
        }
        if !report.leftovers.is_empty() {
            passed = false;
            println!("the suite left resources behind: {:?}", report.leftovers);
        }
        if !passed {
            let tail: Vec<&str> = logs.lines().rev().take(40).collect();
            println!("\nLast lines of the server log:");
            for l in tail.iter().rev() {
                println!("  {l}");
            }
            if let Some(pg) = &database {
                println!("\n{}", pg.log_tail(20));
            }
        }
    } else {
        let blocking: Vec<&Outcome> = report
            .outcomes
            .iter()
            .filter(|o| o.verdict == Verdict::Fail)
            .filter(|o| {
                args.strict
                    || o.check.level == Level::Must
                    || !o.check.section.starts_with("RFC") && !o.check.section.starts_with("IdP")
            })
            .collect();
        passed = blocking.is_empty();
    }
    println!(
        "\ncargo xtask conformance{}: {} (in {:.0} s)",
        match (&args.url, engine) {
            (None, Engine::Postgres) => " --store postgres",
            _ => "",
        },
        if passed { "PASS" } else { "FAIL" },
        started.elapsed().as_secs_f64()
    );
    Ok(passed)
}

fn tester_info() -> CheckInfo {
    CheckInfo {
        id: "scim2-tester.run".into(),
        section: "scim2-tester 0.5.2".into(),
        level: Level::Must,
        title: "scim2-tester runs against the server".into(),
        tags: vec!["scim2-tester".into()],
    }
}

fn skipped_tester(why: &str) -> Outcome {
    Outcome {
        check: tester_info(),
        verdict: Verdict::Skip,
        reason: why.into(),
        exchanges: Vec::new(),
    }
}

fn failed_tester(why: &str) -> Outcome {
    Outcome {
        check: tester_info(),
        verdict: Verdict::Fail,
        reason: why.into(),
        exchanges: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(id: &str, section: &str, verdict: Verdict) -> Outcome {
        Outcome {
            check: CheckInfo {
                id: id.into(),
                section: section.into(),
                level: Level::Must,
                title: String::new(),
                tags: Vec::new(),
            },
            verdict,
            reason: "why".into(),
            exchanges: Vec::new(),
        }
    }

    fn pass(label: &str, outcomes: Vec<Outcome>) -> Pass {
        Pass {
            label: label.into(),
            suite: Totals::of(&outcomes),
            report: Report {
                base_url: format!("http://x/{label}"),
                prefix: "p".into(),
                totals: Totals::of(&outcomes),
                outcomes,
                leftovers: vec!["Users/1".into()],
            },
            transcripts: Vec::new(),
        }
    }

    #[test]
    fn the_tenant_pass_is_reported_and_judged_like_the_default_one() {
        let known = KNOWN_DEVIATIONS[0].0;
        let passes = [
            pass(
                "default",
                vec![
                    outcome(known, "RFC 7644 §3.5.2", Verdict::Fail),
                    outcome("users.get", "RFC 7644 §3.4.1", Verdict::Pass),
                ],
            ),
            pass(
                "tenant acme",
                vec![
                    outcome(known, "RFC 7644 §3.5.2", Verdict::Pass),
                    outcome("users.get", "RFC 7644 §3.4.1", Verdict::Fail),
                ],
            ),
        ];
        let (lines, unexpected) = judge_deviations(&passes);
        assert!(
            lines.iter().any(|l| l.contains("(default): by default")),
            "{lines:?}"
        );
        assert!(
            lines
                .iter()
                .any(|l| l.contains("(tenant acme): now PASS: remove it")),
            "{lines:?}"
        );
        let unexpected: Vec<(&str, &str)> = unexpected
            .iter()
            .map(|(l, o)| (*l, o.check.id.as_str()))
            .collect();
        assert_eq!(unexpected, [("tenant acme", "users.get")]);

        let both = combined(&passes);
        assert_eq!(both.totals.total(), 4);
        assert_eq!(both.totals.fail, 2);
        assert_eq!(both.base_url, "http://x/default");
        let sections: Vec<&str> = both
            .outcomes
            .iter()
            .map(|o| o.check.section.as_str())
            .collect();
        assert_eq!(
            sections,
            [
                "RFC 7644 §3.5.2",
                "RFC 7644 §3.4.1",
                "tenant acme: RFC 7644 §3.5.2",
                "tenant acme: RFC 7644 §3.4.1"
            ]
        );
        assert_eq!(
            both.leftovers,
            ["Users/1 (default)", "Users/1 (tenant acme)"]
        );
    }

    #[test]
    fn known_deviations_name_real_checks() {
        let ids: Vec<&str> = conformance::checks::all().iter().map(|c| c.id).collect();
        for (id, why) in KNOWN_DEVIATIONS {
            assert!(ids.contains(id), "{id} is not a check id");
            assert!(!why.is_empty());
        }
    }
}
