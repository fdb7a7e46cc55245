//! `onelogin-sim` replays, faithfully, the HTTP sequences OneLogin sends to a
//! SCIM 2.0 service provider, and judges each answer as OneLogin would.
//!
//! The evidence behind every request shape is in `shared/onelogin-protocol.md`
//! (quirks OL1–OL12, open questions Q1–Q10); where it is open, a switch in
//! [`WireOptions`] covers each plausible variant and the default is the
//! best-backed one.
//!
//! Modules:
//! * [`profile`], connector profiles, default templates, schema URNs, group dialect;
//! * [`template`], rendering of `{$user.*}` / `{$parameters.*}` placeholders;
//! * [`app`], the app configuration (template, custom headers, parameters, provisioning);
//! * [`directory`], OneLogin users, roles and role→group rules;
//! * [`wire`], the HTTP client and its quirks;
//! * [`judge`], verdicts on responses;
//! * [`engine`], the event → request sequence logic ([`Simulator`]);
//! * [`scenario`], scenario files and their steps (events, setup, checks);
//! * [`report`], transcripts;
//! * [`sync`], the synthetic initial sync with throughput and latency figures.
//!
//! ```no_run
//! # async fn demo() -> Result<(), onelogin_sim::Error> {
//! use onelogin_sim::{run_scenario, Scenario, Target};
//! let scenario = Scenario::find("user-lifecycle")?;
//! let target = Target::new("http://127.0.0.1:8080/scim/v2", "secret");
//! let transcript = run_scenario(&scenario, &target).await?;
//! assert!(transcript.passed, "{}", transcript.to_text(true));
//! # Ok(()) }
//! ```

pub mod app;
pub mod directory;
pub mod engine;
pub mod judge;
pub mod profile;
pub mod report;
pub mod scenario;
pub mod sync;
pub mod template;
pub mod wire;

use std::path::PathBuf;
use std::time::Duration;

pub use app::{AppConfig, DeprovisionAction, Provisioning, SuspendAction, TemplateSource};
pub use directory::{Directory, Rule, Status, User};
pub use engine::Simulator;
pub use judge::{Op, Verdict};
pub use profile::Profile;
pub use report::{Entry, EntryKind, FailedProvisioning, Transcript};
pub use scenario::{list_scenarios, scenarios_dir, Scenario, Step};
pub use wire::{Target, WireOptions};

/// Errors that stop a run before or outside the traffic (the traffic's own
/// failures are verdicts in the transcript).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// JSON could not be parsed.
    #[error("{context}: {source}")]
    Json {
        /// What was being parsed.
        context: String,
        /// The cause.
        source: serde_json::Error,
    },
    /// A scenario is inconsistent.
    #[error("invalid scenario {name:?}: {}", problems.join("; "))]
    Scenario {
        /// Scenario name.
        name: String,
        /// What is wrong.
        problems: Vec<String>,
    },
    /// Bad configuration (headers, client).
    #[error("{0}")]
    Config(String),
}

/// Options of a scenario run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Per-request timeout.
    pub timeout: Duration,
    /// Replaces the scenario's connector profile (its template too, unless
    /// the scenario sets its own).
    pub profile: Option<Profile>,
    /// Wait and retry on `429` and `503` with `Retry-After`, whatever the
    /// scenario says ([`WireOptions::honour_retry_after`]).
    pub honour_retry_after: bool,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            timeout: Duration::from_secs(30),
            profile: None,
            honour_retry_after: false,
        }
    }
}

/// Replays `scenario` against `target` with default options.
pub async fn run_scenario(scenario: &Scenario, target: &Target) -> Result<Transcript, Error> {
    run_scenario_with(scenario, target, &RunOptions::default()).await
}

/// Replays `scenario` against `target`.
pub async fn run_scenario_with(
    scenario: &Scenario,
    target: &Target,
    options: &RunOptions,
) -> Result<Transcript, Error> {
    scenario.validate()?;
    let mut app = scenario.app.clone();
    if let Some(profile) = options.profile {
        app.profile = profile;
    }
    app.wire.honour_retry_after |= options.honour_retry_after;
    let profile = app.profile;
    let mut sim = Simulator::new(
        app,
        scenario.directory.clone(),
        target.clone(),
        options.timeout,
    )?;
    let mut entries = Vec::new();
    for (i, step) in scenario.steps.iter().enumerate() {
        entries.extend(sim.apply(i + 1, step).await);
    }
    Ok(Transcript::new(
        &scenario.name,
        profile.name(),
        &target.base_url,
        entries,
    ))
}
