//! A black-box conformance suite for SCIM 2.0 service providers (RFC 7643, RFC 7644).
//!
//! It talks HTTP to any server and never links to one. Each check has a stable id, the RFC
//! section and requirement level (MUST, SHOULD, MAY) it verifies, and a verdict (pass, fail,
//! skip) with a reason that says what was sent, what came back and what was expected.
//!
//! ```no_run
//! # async fn demo() -> Result<(), String> {
//! let report = conformance::run(
//!     "http://127.0.0.1:8080/scim/v2",
//!     "scim_…",
//!     conformance::Options::default(),
//! )
//! .await?;
//! println!("{}", conformance::report::table::render(&report, Default::default()));
//! assert!(report.passed(false));
//! # Ok(()) }
//! ```
//!
//! Modules:
//! * [`http`]: the client; every request and response is kept as an [`http::Exchange`];
//! * [`discovery`]: the ServiceProviderConfig, ResourceTypes and Schemas, parsed;
//! * [`cx`]: the run context (selection, outcomes, created resources and their cleanup);
//! * [`judge`]: how a check collects evidence and problems;
//! * [`checks`]: the checks, one module per area;
//! * [`corpus`]: the IdP payload corpus (`fixtures/idp`);
//! * [`model`]: checks, verdicts, outcomes, reports;
//! * [`report`]: table, JSON and JUnit renderers.

pub mod checks;
pub mod corpus;
pub mod cx;
pub mod discovery;
pub mod http;
pub mod judge;
pub mod model;
pub mod report;

pub use cx::{Options, Selection};
pub use model::{CheckDef, Level, Outcome, Report, Totals, Verdict};

/// Runs the suite against the SCIM base URL `base` with the bearer token `token`, and deletes
/// what it created. Fails only when the client cannot be built; an unreachable server gives a
/// report of failures.
pub async fn run(base: &str, token: &str, options: Options) -> Result<Report, String> {
    let client = http::Client::new(base, token, options.timeout)?;
    let mut cx = cx::Cx::new(client, options);
    let leftovers = checks::run_all(&mut cx).await;
    let outcomes = cx.take_outcomes();
    Ok(Report {
        base_url: base.trim_end_matches('/').to_string(),
        prefix: cx.prefix.clone(),
        totals: Totals::of(&outcomes),
        outcomes,
        leftovers,
    })
}
