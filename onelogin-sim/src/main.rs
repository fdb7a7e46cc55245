//! `onelogin-sim`: replay OneLogin's SCIM traffic against a service provider.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use onelogin_sim::sync::{run_sync, SyncOptions};
use onelogin_sim::{
    list_scenarios, run_scenario_with, Profile, RunOptions, Scenario, Target, WireOptions,
};

#[derive(Parser)]
#[command(
    name = "onelogin-sim",
    version,
    about = "Replays the HTTP sequences OneLogin sends to a SCIM 2.0 service provider"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args)]
struct TargetArgs {
    /// SCIM Base URL as typed into OneLogin, e.g. http://127.0.0.1:8080/scim/v2
    #[arg(long, env = "ONELOGIN_SIM_URL")]
    url: String,
    /// SCIM Bearer Token
    #[arg(long, env = "ONELOGIN_SIM_TOKEN", hide_env_values = true)]
    token: String,
    /// Per-request timeout in seconds
    #[arg(long, default_value_t = 30)]
    timeout: u64,
    /// On 429 or 503 with Retry-After, wait that long and send the request again (up to 10
    /// times), as an identity provider that honours the header does. Without it, such an
    /// answer is a failed provisioning, as OneLogin records it
    #[arg(long)]
    honour_retry_after: bool,
}

#[derive(Subcommand)]
enum Command {
    /// Replay a scenario (a name under fixtures/onelogin/ or a path); exits 1 if any step fails
    Run {
        /// Scenario name or JSON file
        scenario: String,
        #[command(flatten)]
        target: TargetArgs,
        /// Override the connector profile (v2-enterprise, v2-core, v1.1-core, v1.1-enterprise)
        #[arg(long)]
        profile: Option<Profile>,
        /// Print the transcript as JSON
        #[arg(long)]
        json: bool,
        /// Show headers and bodies
        #[arg(long, short)]
        verbose: bool,
    },
    /// Provision a synthetic directory as an initial sync would; prints throughput and latency
    Sync {
        #[command(flatten)]
        target: TargetArgs,
        /// Number of users
        #[arg(long, default_value_t = 100)]
        users: usize,
        /// Users provisioned concurrently
        #[arg(long, default_value_t = 4)]
        concurrency: usize,
        /// Number of groups (0: group provisioning off)
        #[arg(long, default_value_t = 5)]
        groups: usize,
        /// Prefix of usernames and group names
        #[arg(long, default_value = "sync")]
        prefix: String,
        /// Connector profile
        #[arg(long, default_value_t = Profile::V2Enterprise)]
        profile: Profile,
        /// Print the report as JSON
        #[arg(long)]
        json: bool,
    },
    /// List the stored scenarios
    List,
    /// Print a connector profile's default SCIM JSON template
    Template {
        /// Connector profile
        #[arg(default_value_t = Profile::V2Enterprise)]
        profile: Profile,
    },
}

fn target(args: &TargetArgs) -> Target {
    Target::new(args.url.clone(), args.token.clone())
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Run {
            scenario,
            target: args,
            profile,
            json,
            verbose,
        } => {
            let scenario = match Scenario::find(&scenario) {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::from(2);
                }
            };
            let options = RunOptions {
                timeout: Duration::from_secs(args.timeout),
                profile,
                honour_retry_after: args.honour_retry_after,
            };
            match run_scenario_with(&scenario, &target(&args), &options).await {
                Ok(t) => {
                    if json {
                        println!("{}", t.to_json());
                    } else {
                        print!("{}", t.to_text(verbose));
                    }
                    if t.passed {
                        ExitCode::SUCCESS
                    } else {
                        ExitCode::FAILURE
                    }
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::from(2)
                }
            }
        }
        Command::Sync {
            target: args,
            users,
            concurrency,
            groups,
            prefix,
            profile,
            json,
        } => {
            let options = SyncOptions {
                users,
                concurrency,
                groups,
                prefix,
                profile,
                timeout: Duration::from_secs(args.timeout),
                wire: WireOptions {
                    honour_retry_after: args.honour_retry_after,
                    ..WireOptions::default()
                },
            };
            let progress = if std::io::stderr().is_terminal() {
                let bar =
                    ProgressBar::with_draw_target(Some(users as u64), ProgressDrawTarget::stderr());
                if let Ok(style) = ProgressStyle::with_template(
                    "{elapsed_precise} [{bar:40}] {pos}/{len} users, eta {eta}",
                ) {
                    bar.set_style(style.progress_chars("=> "));
                }
                bar
            } else {
                ProgressBar::hidden()
            };
            match run_sync(&target(&args), &options, &progress).await {
                Ok(report) => {
                    if json {
                        println!(
                            "{}",
                            serde_json::to_string_pretty(&report).unwrap_or_default()
                        );
                    } else {
                        print!("{}", report.to_text());
                    }
                    if report.passed() {
                        ExitCode::SUCCESS
                    } else {
                        ExitCode::FAILURE
                    }
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::from(2)
                }
            }
        }
        Command::List => match list_scenarios() {
            Ok(files) => {
                for path in files {
                    match Scenario::load(&path) {
                        Ok(s) => println!(
                            "{:<28} {:<16} {}",
                            s.name,
                            s.app.profile.name(),
                            s.description
                        ),
                        Err(e) => println!("{}: {e}", path.display()),
                    }
                }
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(2)
            }
        },
        Command::Template { profile } => {
            println!("{}", profile.default_template());
            ExitCode::SUCCESS
        }
    }
}
