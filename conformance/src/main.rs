//! `conformance --url URL --token KEY`: checks a SCIM 2.0 service provider and prints the
//! verdicts. Exit status: 0 when no MUST failed (with `--strict`: when nothing failed), 1
//! otherwise, 2 for bad arguments.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, ValueEnum};

use conformance::report::{json, junit, table};
use conformance::{Options, Selection};

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Format {
    Table,
    Json,
}

/// Checks a SCIM 2.0 service provider against RFC 7643/7644, over HTTP.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// The SCIM base URL (the prefix of /ServiceProviderConfig), e.g. http://127.0.0.1:8080/scim/v2.
    #[arg(long, env = "SCIM_URL", required_unless_present = "list")]
    url: Option<String>,
    /// The bearer token.
    #[arg(
        long,
        env = "SCIM_TOKEN",
        hide_env_values = true,
        required_unless_present = "list"
    )]
    token: Option<String>,
    /// Output format on stdout.
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
    /// Also write a JUnit XML report to this file.
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
    /// Run only checks with this tag (repeatable): discovery, auth, media, errors, users,
    /// groups, crud, schema, filter, sort, paging, projection, search, patch, etag, bulk, idp,
    /// idp:okta, ...
    #[arg(long = "tag", value_name = "T")]
    tags: Vec<String>,
    /// Run only checks of this RFC section and its subsections (repeatable): 3.5.2, 7643:2.2,
    /// idp.
    #[arg(long = "section", value_name = "S")]
    sections: Vec<String>,
    /// The IdP payload corpus (default: fixtures/idp of this workspace).
    #[arg(long, value_name = "DIR")]
    fixtures: Option<PathBuf>,
    /// Skip the IdP payload corpus.
    #[arg(long)]
    no_fixtures: bool,
    /// Fail (exit 1) when any check fails, not only a MUST.
    #[arg(long)]
    strict: bool,
    /// Show full exchanges (headers, bodies) under failures.
    #[arg(short, long)]
    verbose: bool,
    /// Show only failing checks in the table.
    #[arg(long)]
    failures_only: bool,
    /// Per-request timeout, in seconds.
    #[arg(long, default_value_t = 30)]
    timeout: u64,
    /// List the checks (and the families built from /Schemas and the corpus), then exit.
    #[arg(long)]
    list: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    if args.list {
        let mut s = String::new();
        for c in conformance::checks::all() {
            s.push_str(&format!(
                "{:<44} {:<6} {:<18} {}\n",
                c.id, c.level, c.section, c.title
            ));
        }
        for (id, section, level, title) in conformance::checks::FAMILIES {
            s.push_str(&format!("{id:<44} {level:<6} {section:<18} {title}\n"));
        }
        out(&s);
        return ExitCode::SUCCESS;
    }
    let (Some(url), Some(token)) = (args.url.clone(), args.token.clone()) else {
        eprintln!("--url and --token are required");
        return ExitCode::from(2);
    };
    let options = Options {
        selection: Selection {
            tags: args.tags.clone(),
            sections: args.sections.clone(),
        },
        fixtures: if args.no_fixtures {
            None
        } else {
            args.fixtures
                .clone()
                .or_else(conformance::corpus::default_dir)
        },
        timeout: Duration::from_secs(args.timeout),
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let report = match runtime.block_on(conformance::run(&url, &token, options)) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    match args.format {
        Format::Table => out(&table::render(
            &report,
            table::Style {
                verbose: args.verbose,
                failures_only: args.failures_only,
            },
        )),
        Format::Json => out(&format!("{}\n", json::render(&report))),
    }
    if matches!(args.format, Format::Table) {
        out(&format!(
            "Verdict: {}\n",
            match (report.passed(false), report.passed(true)) {
                (true, true) => "PASS (no check failed)",
                (true, false) => "PASS (no MUST failed; SHOULD/MAY failures above)",
                _ => "FAIL (a MUST failed)",
            }
        ));
    }
    if let Some(path) = &args.junit {
        if let Err(e) = std::fs::write(path, junit::render(&report)) {
            eprintln!("{}: {e}", path.display());
            return ExitCode::from(2);
        }
    }
    if report.passed(args.strict) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Writes to stdout, ignoring a closed pipe (`conformance … | head`).
fn out(s: &str) {
    use std::io::Write;
    let _ = std::io::stdout().lock().write_all(s.as_bytes());
}
