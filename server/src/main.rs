//! `scim-server`: parses the command line and hands over to the library.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use scim_core::delivery::TestResult;
use scim_core::model::{rfc3339, Revision, Tenant, TenantStatus};
use scim_core::views::{KeyInfo, MintedKey, NewWebhook, WebhookInfo};
use server::config::{Config, LogFormat, Overrides, StoreKind};
use server::control::{self, Command};

/// A self-hostable SCIM 2.0 service provider.
#[derive(Parser)]
#[command(name = "scim-server", version)]
struct Cli {
    /// A TOML configuration file (default: ./scim-server.toml when present).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Where the store lives (default ./data).
    #[arg(long, global = true, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Address and port to listen on (default 127.0.0.1:8080).
    #[arg(long, global = true, value_name = "ADDR:PORT")]
    listen: Option<SocketAddr>,
    #[command(subcommand)]
    command: Option<Cmd>,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the server (the default).
    Serve {
        /// Once listening, write a JSON object (`addr`, `scim_base_url`, `admin_url`, `api_key`)
        /// to this file, for programs that start the server.
        #[arg(long, value_name = "FILE")]
        ready_file: Option<PathBuf>,
    },
    /// Manage API keys (works whether or not the server is running).
    #[command(subcommand)]
    Key(KeyCmd),
    /// Manage a tenant's webhook endpoints (works whether or not the server is running).
    #[command(subcommand)]
    Webhook(WebhookCmd),
    /// Manage tenants: the customer organisations this server holds (works whether or not the
    /// server is running).
    #[command(subcommand)]
    Tenant(TenantCmd),
    /// A user's (or group's) revision history, newest first.
    History {
        id: String,
        /// The tenant (default: `default`).
        #[arg(long, value_name = "TENANT")]
        tenant: Option<String>,
        /// Print JSON instead of lines.
        #[arg(long)]
        json: bool,
    },
    /// Check that records, indexes, memberships and history agree (exit 1 when they do not).
    Check,
    /// Write a consistent copy of one tenant (`--tenant`), or of the whole store, to FILE (works
    /// whether or not the server is running).
    Export {
        file: PathBuf,
        #[arg(long, value_name = "TENANT")]
        tenant: Option<String>,
    },
    /// Load a copy written by `export` (the server must be stopped), then check every invariant:
    /// a whole store's into an empty data folder, one tenant's into that tenant (`--tenant`,
    /// default `default`; made when missing), which must be empty.
    Import {
        file: PathBuf,
        #[arg(long, value_name = "TENANT")]
        tenant: Option<String>,
    },
    /// Apply the PostgreSQL schema's migrations this binary holds (`serve` applies them too),
    /// or with `--check` only list those that would run (exit 1 when any would).
    Migrate {
        #[arg(long)]
        check: bool,
    },
    /// A tenant's revision feed of every change after a sequence number, oldest first (for
    /// export); `--operator` for the operator's (tenants, operator keys).
    Audit {
        #[arg(long, default_value_t = 0)]
        after: u64,
        #[arg(long, default_value_t = 1000)]
        limit: usize,
        #[arg(long, value_name = "TENANT", conflicts_with = "operator")]
        tenant: Option<String>,
        #[arg(long)]
        operator: bool,
        /// Print JSON instead of lines.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum KeyCmd {
    /// Mint a key and print it (once).
    Create {
        #[arg(long)]
        label: String,
        /// An admin key (for the admin API and web page) instead of a SCIM key: the tenant's
        /// with `--tenant`, else the operator's (every tenant).
        #[arg(long)]
        admin: bool,
        /// The tenant the key belongs to (default for a SCIM key: `default`).
        #[arg(long, value_name = "TENANT")]
        tenant: Option<String>,
    },
    /// List keys: id, kind, tenant, created, last used (never the key).
    List {
        /// Only this tenant's keys.
        #[arg(long, value_name = "TENANT")]
        tenant: Option<String>,
    },
    /// Revoke a key: it fails from the next request on.
    Revoke { id: String },
}

#[derive(Subcommand)]
enum WebhookCmd {
    /// Add an endpoint and print its signing secret (once, last).
    Add {
        /// Its `https` URL.
        url: String,
        /// The events it wants: types (`user.suspended`), families (`user.*`) or `*`,
        /// comma-separated or repeated.
        #[arg(long, value_name = "PATTERNS", required = true, value_delimiter = ',')]
        events: Vec<String>,
        /// The tenant (default: `default`).
        #[arg(long, value_name = "TENANT")]
        tenant: Option<String>,
    },
    /// List endpoints: id, status, events, URL (never the secret).
    List {
        #[arg(long, value_name = "TENANT")]
        tenant: Option<String>,
    },
    /// Disable an endpoint.
    Disable {
        id: String,
        #[arg(long, value_name = "TENANT")]
        tenant: Option<String>,
    },
    /// Enable a disabled endpoint again.
    Enable {
        id: String,
        #[arg(long, value_name = "TENANT")]
        tenant: Option<String>,
    },
    /// Give an endpoint a new signing secret and print it (once, last); the previous one still
    /// signs beside it until the grace ends, while its receiver is given the new one.
    RotateSecret {
        id: String,
        #[arg(long, value_name = "TENANT")]
        tenant: Option<String>,
        /// How long the previous secret still signs, in hours: 0 (not at all) to 168 (default
        /// 24).
        #[arg(long, value_name = "N")]
        grace_hours: Option<u32>,
    },
    /// Send a signed test message (`webhook.test`) to an endpoint now and print how its
    /// receiver answered (exit 1 when it was not delivered).
    Test {
        id: String,
        #[arg(long, value_name = "TENANT")]
        tenant: Option<String>,
    },
}

#[derive(Subcommand)]
enum TenantCmd {
    /// Create a tenant; prints its SCIM base URL, then a new SCIM key for it (once, last).
    Create {
        /// Its id: lower-case letters, digits and hyphens (`acme`), in its URLs.
        id: String,
        /// Its display name.
        #[arg(long)]
        name: String,
        /// The role its SCIM users get (default `Everyone`).
        #[arg(long, value_name = "ROLE")]
        default_role: Option<String>,
    },
    /// List tenants.
    List,
    /// Disable a tenant: its keys stop working at once; its data stays.
    Disable { id: String },
    /// Enable a disabled tenant.
    Enable { id: String },
    /// Delete a disabled tenant and all its data (recorded in the operator's feed).
    Delete {
        id: String,
        /// Required: deleting removes every user, group, key and history entry of the tenant.
        #[arg(long)]
        yes_delete_all_data: bool,
    },
}

/// jemalloc, not glibc's malloc: the commit thread allocates what the request threads free, and
/// glibc's arenas make that costly (its allocator was a fifth of a PATCH's CPU in a profile).
/// With jemalloc most phases of `cargo xtask bench` cost 9–20 % less CPU a request (PUT and
/// DELETE about the same) and the workload's peak memory is lower: docs/performance.md, issue
/// 17, twelfth part. Its options are built in from `.cargo/config.toml`
/// (`JEMALLOC_SYS_WITH_MALLOC_CONF`).
#[cfg(target_os = "linux")]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let command = cli.command.unwrap_or(Cmd::Serve { ready_file: None });
    let overrides = Overrides {
        data_dir: cli.data_dir,
        listen: cli.listen,
        ready_file: match &command {
            Cmd::Serve { ready_file } => ready_file.clone(),
            _ => None,
        },
    };
    let config = match Config::load(cli.config.as_deref(), &overrides) {
        Ok(c) => c,
        Err(e) => return fail(&e),
    };
    init_logging(config.log_format);
    match command {
        Cmd::Serve { .. } => {
            let runtime = match tokio::runtime::Runtime::new() {
                Ok(r) => r,
                Err(e) => return fail(&format!("cannot start the runtime: {e}")),
            };
            match runtime.block_on(server::serve(config)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => fail(&e),
            }
        }
        Cmd::Tenant(cmd) => {
            let command = match cmd {
                TenantCmd::Create {
                    id,
                    name,
                    default_role,
                } => Command::TenantCreate {
                    id,
                    name,
                    default_role,
                },
                TenantCmd::List => Command::TenantList,
                TenantCmd::Disable { id } => Command::TenantStatus { id, enabled: false },
                TenantCmd::Enable { id } => Command::TenantStatus { id, enabled: true },
                TenantCmd::Delete {
                    id,
                    yes_delete_all_data,
                } => Command::TenantDelete {
                    id,
                    confirm: yes_delete_all_data,
                },
            };
            match run_tenant_command(&config, &command) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => fail(&e),
            }
        }
        Cmd::Key(cmd) => {
            let command = match cmd {
                KeyCmd::Create {
                    label,
                    admin,
                    tenant,
                } => Command::KeyCreate {
                    label,
                    admin,
                    tenant,
                },
                KeyCmd::List { tenant } => Command::KeyList { tenant },
                KeyCmd::Revoke { id } => Command::KeyRevoke { id },
            };
            match run_key_command(&config, &command) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => fail(&e),
            }
        }
        Cmd::Webhook(cmd) => {
            let command = match cmd {
                WebhookCmd::Add {
                    url,
                    events,
                    tenant,
                } => Command::WebhookAdd {
                    url,
                    events,
                    tenant,
                },
                WebhookCmd::List { tenant } => Command::WebhookList { tenant },
                WebhookCmd::Disable { id, tenant } => Command::WebhookStatus {
                    id,
                    enabled: false,
                    tenant,
                },
                WebhookCmd::Enable { id, tenant } => Command::WebhookStatus {
                    id,
                    enabled: true,
                    tenant,
                },
                WebhookCmd::RotateSecret {
                    id,
                    tenant,
                    grace_hours,
                } => Command::WebhookRotateSecret {
                    id,
                    grace_hours,
                    tenant,
                },
                WebhookCmd::Test { id, tenant } => Command::WebhookTest {
                    id,
                    timeout_secs: Some(config.webhook_timeout_secs),
                    tenant,
                },
            };
            match run_webhook_command(&config, &command) {
                Ok(code) => code,
                Err(e) => fail(&e),
            }
        }
        Cmd::History { id, tenant, json } => {
            report(&config, &Command::History { id, tenant }, json)
        }
        Cmd::Check => match execute(&config, &Command::Check) {
            Ok(serde_json::Value::Array(problems)) if problems.is_empty() => {
                println!(
                    "The store is consistent: records, indexes, memberships and history agree."
                );
                ExitCode::SUCCESS
            }
            Ok(problems) => {
                println!("The store is inconsistent: {problems:#}");
                ExitCode::FAILURE
            }
            Err(e) => fail(&e),
        },
        Cmd::Export { file, tenant } => {
            let path = match std::path::absolute(&file) {
                Ok(p) => p,
                Err(e) => return fail(&e.to_string()),
            };
            match execute(
                &config,
                &Command::Export {
                    path: path.clone(),
                    tenant,
                },
            ) {
                Ok(counts) => {
                    println!("Exported to {}: {counts}", path.display());
                    ExitCode::SUCCESS
                }
                Err(e) => fail(&e),
            }
        }
        Cmd::Import { file, tenant } => {
            let imported = block_on(async {
                let opened = server::open(&config).await.map_err(|e| {
                    if e.is_locked() {
                        "the server is running on this data folder: stop it, or import into \
                         another folder"
                            .to_string()
                    } else {
                        e.to_string()
                    }
                })?;
                let core = server::core(&config, opened.store)?;
                control::import(&core, &file, tenant.as_deref()).await
            });
            match imported {
                Ok(counts) => {
                    let counts = serde_json::to_string(&counts).unwrap_or_default();
                    println!(
                        "Imported {} into {}: {counts}; every invariant holds.",
                        file.display(),
                        store_name(&config)
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => fail(&e),
            }
        }
        Cmd::Migrate { check } => migrate(&config, check),
        Cmd::Audit {
            after,
            limit,
            tenant,
            operator,
            json,
        } => report(
            &config,
            &Command::Audit {
                after,
                limit,
                tenant,
                operator,
            },
            json,
        ),
    }
}

fn fail(message: &str) -> ExitCode {
    eprintln!("scim-server: {message}");
    ExitCode::FAILURE
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("SCIM_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,rocket=error,_=error"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .with_env_filter(filter);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

/// Runs a future of a command to its end, on a runtime of its own.
fn block_on<T>(work: impl std::future::Future<Output = Result<T, String>>) -> Result<T, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?
        .block_on(work)
}

/// Where the configured store is, as people read it (never the database password).
fn store_name(config: &Config) -> String {
    match config.store {
        StoreKind::Sled => config.data_dir.display().to_string(),
        StoreKind::Postgres => format!("{:?}", config.database_url),
    }
}

/// `migrate [--check]`: the PostgreSQL schema's migrations.
fn migrate(config: &Config, check: bool) -> ExitCode {
    if config.store != StoreKind::Postgres {
        println!("The sled store needs no migrations (set store = \"postgres\" for a database).");
        return ExitCode::SUCCESS;
    }
    let options = match config.postgres() {
        Ok(o) => o,
        Err(e) => return fail(&e),
    };
    let result = block_on(async {
        if check {
            scim_postgres::PgStore::pending(&options)
                .await
                .map_err(|e| e.to_string())
        } else {
            let before = scim_postgres::PgStore::pending(&options)
                .await
                .map_err(|e| e.to_string())?;
            scim_postgres::PgStore::connect(&options)
                .await
                .map_err(|e| e.to_string())?;
            Ok(before)
        }
    });
    match result {
        Ok(pending) if pending.is_empty() => {
            println!("The database schema is up to date.");
            ExitCode::SUCCESS
        }
        Ok(pending) => {
            let verb = if check { "Would apply" } else { "Applied" };
            for m in &pending {
                println!("{verb} migration {} ({})", m.version, m.name);
            }
            if check {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(e) => fail(&e),
    }
}

/// Runs a command on the store directly, or through the running server's control socket (a
/// sled folder held by the running server).
fn execute(config: &Config, command: &Command) -> Result<serde_json::Value, String> {
    let direct = block_on(async {
        let opened = match server::open(config).await {
            Ok(o) => o,
            Err(e) if e.is_locked() => return Ok(None),
            Err(e) => return Err(e.to_string()),
        };
        let core = server::core(config, opened.store)?;
        let reach = control::Reach {
            origin: match &config.public_url {
                Some(u) => u.clone(),
                None => format!("http://{}", config.listen),
            },
            base_path: config.base_path.clone(),
        };
        let answer = control::execute(&core, &reach, command).await;
        // Durable before the process ends.
        core.store().flush().await.map_err(|e| e.to_string())?;
        answer.map(Some)
    })?;
    match direct {
        Some(answer) => Ok(answer),
        None => control::request(&config.data_dir, command),
    }
}

/// Prints revision entries, one line each (or as JSON).
fn report(config: &Config, command: &Command, as_json: bool) -> ExitCode {
    let answer = match execute(config, command) {
        Ok(a) => a,
        Err(e) => return fail(&e),
    };
    if as_json {
        println!("{answer:#}");
        return ExitCode::SUCCESS;
    }
    let entries: Vec<Revision> = match serde_json::from_value(answer) {
        Ok(e) => e,
        Err(e) => return fail(&e.to_string()),
    };
    for e in &entries {
        let key = e
            .actor
            .key_label
            .as_deref()
            .map(|l| format!(" (key '{l}')"))
            .unwrap_or_default();
        let changes: Vec<String> = e
            .changes
            .iter()
            .map(|c| {
                let show = |v: &Option<serde_json::Value>| {
                    v.as_ref().map_or("-".to_string(), |v| v.to_string())
                };
                format!("{}: {} -> {}", c.attribute, show(&c.before), show(&c.after))
            })
            .collect();
        println!(
            "#{} {} {}{} {} {} {}  {}",
            e.seq,
            rfc3339(e.time),
            e.actor.name,
            key,
            e.action.as_str(),
            e.target_type.as_str(),
            e.target_id,
            changes.join("; ")
        );
    }
    if entries.is_empty() {
        println!("no entries");
    }
    ExitCode::SUCCESS
}

/// Runs a key command and prints its answer.
fn run_key_command(config: &Config, command: &Command) -> Result<(), String> {
    let answer = execute(config, command)?;
    match command {
        Command::KeyCreate { .. } => {
            let MintedKey { key, info } =
                serde_json::from_value(answer).map_err(|e| e.to_string())?;
            let kind = if info.admin { "admin" } else { "SCIM" };
            println!(
                "Created {kind} key '{}' (id {}). Copy it now: it is not shown again.",
                info.label, info.id
            );
            println!("{key}");
        }
        Command::KeyList { .. } => {
            let keys: Vec<KeyInfo> = serde_json::from_value(answer).map_err(|e| e.to_string())?;
            println!(
                "{:<36}  {:<5}  {:<16}  {:<20}  {:<30}  {:<30}  LABEL",
                "ID", "KIND", "TENANT", "STATUS", "CREATED", "LAST USED"
            );
            for k in keys {
                let status = match k.revoked {
                    Some(t) => format!("revoked {}", t.date()),
                    None => "active".into(),
                };
                let tenant = k
                    .tenant
                    .as_ref()
                    .map_or_else(|| "(operator)".to_string(), |t| t.to_string());
                println!(
                    "{:<36}  {:<5}  {:<16}  {:<20}  {:<30}  {:<30}  {}",
                    k.id,
                    if k.admin { "admin" } else { "scim" },
                    tenant,
                    status,
                    rfc3339(k.created),
                    k.last_used.map_or_else(|| "never".to_string(), rfc3339),
                    k.label
                );
            }
        }
        Command::KeyRevoke { .. } => {
            let info: KeyInfo = serde_json::from_value(answer).map_err(|e| e.to_string())?;
            println!("Revoked key '{}' (id {}).", info.label, info.id);
        }
        _ => println!("{answer:#}"),
    }
    Ok(())
}

/// Runs a webhook command and prints its answer: the secret of a new endpoint (or a new secret
/// of one) once, last; a test message's outcome (failure when it was not delivered).
fn run_webhook_command(config: &Config, command: &Command) -> Result<ExitCode, String> {
    let answer = execute(config, command)?;
    let show = |w: &WebhookInfo| {
        println!(
            "{:<36}  {:<8}  {:<40}  {}",
            w.id,
            if w.enabled { "enabled" } else { "disabled" },
            w.events.join(","),
            w.url
        );
    };
    match command {
        Command::WebhookAdd { .. } => {
            let NewWebhook { webhook, secret } =
                serde_json::from_value(answer).map_err(|e| e.to_string())?;
            println!(
                "Added webhook endpoint {} for {} (events: {}). Its signing secret: copy it now, \
                 it is not shown again.",
                webhook.id,
                webhook.url,
                webhook.events.join(", ")
            );
            println!("{secret}");
        }
        Command::WebhookRotateSecret { .. } => {
            let NewWebhook { webhook, secret } =
                serde_json::from_value(answer).map_err(|e| e.to_string())?;
            let previous = match webhook.previous_secret_until {
                Some(until) => format!("The previous secret still signs until {}.", rfc3339(until)),
                None => "The previous secret no longer signs.".to_string(),
            };
            println!(
                "Rotated the signing secret of webhook endpoint {} for {} (events: {}). \
                 {previous} Its new signing secret: copy it now, it is not shown again.",
                webhook.id,
                webhook.url,
                webhook.events.join(", ")
            );
            println!("{secret}");
        }
        Command::WebhookTest { .. } => {
            let result: TestResult = serde_json::from_value(answer).map_err(|e| e.to_string())?;
            let (ms, id) = (result.millis, &result.id);
            let how = match (&result.status, &result.error) {
                (Some(status), _) => format!("{status} in {ms} ms (webhook-id {id})"),
                (None, Some(error)) => format!("{error} (after {ms} ms, webhook-id {id})"),
                (None, None) => format!("no answer (after {ms} ms, webhook-id {id})"),
            };
            let verdict = if result.delivered {
                "Delivered"
            } else {
                "Not delivered"
            };
            println!("{verdict}: {how}");
            if !result.delivered {
                return Ok(ExitCode::FAILURE);
            }
        }
        Command::WebhookList { .. } => {
            let all: Vec<WebhookInfo> =
                serde_json::from_value(answer).map_err(|e| e.to_string())?;
            println!("{:<36}  {:<8}  {:<40}  URL", "ID", "STATUS", "EVENTS");
            all.iter().for_each(show);
        }
        _ => {
            let w: WebhookInfo = serde_json::from_value(answer).map_err(|e| e.to_string())?;
            show(&w);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs a tenant command and prints its answer.
fn run_tenant_command(config: &Config, command: &Command) -> Result<(), String> {
    let answer = execute(config, command)?;
    let parse = |v: serde_json::Value| -> Result<Tenant, String> {
        serde_json::from_value(v).map_err(|e| e.to_string())
    };
    match command {
        Command::TenantCreate { .. } => {
            let created: control::CreatedTenant =
                serde_json::from_value(answer).map_err(|e| e.to_string())?;
            let t = &created.tenant;
            println!("Created tenant '{}' ({}).", t.id, t.name);
            println!("SCIM base URL: {}", created.scim_base_url);
            println!(
                "Its SCIM key '{}' (id {}): copy it now, it is not shown again.",
                created.key.info.label, created.key.info.id
            );
            println!("{}", created.key.key);
        }
        Command::TenantList => {
            let all: Vec<Tenant> = serde_json::from_value(answer).map_err(|e| e.to_string())?;
            println!(
                "{:<24}  {:<8}  {:<16}  {:<30}  NAME",
                "ID", "STATUS", "ROLE", "CREATED"
            );
            for t in all {
                let status = match t.status {
                    TenantStatus::Active => "active",
                    TenantStatus::Disabled => "disabled",
                };
                println!(
                    "{:<24}  {:<8}  {:<16}  {:<30}  {}",
                    t.id,
                    status,
                    t.default_role,
                    rfc3339(t.created),
                    t.name
                );
            }
        }
        Command::TenantStatus { enabled, .. } => {
            let t = parse(answer)?;
            let now = if *enabled {
                "enabled"
            } else {
                "disabled: its keys no longer work"
            };
            println!("Tenant '{}' is {now}.", t.id);
        }
        Command::TenantDelete { id, .. } => {
            println!("Deleted tenant '{id}' and all its data.");
        }
        _ => println!("{answer:#}"),
    }
    Ok(())
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    /// The binary's allocations go through jemalloc: its count of allocated bytes grows by a
    /// block allocated here (it would not move were glibc's malloc the allocator; other threads
    /// of the test run may free a little meanwhile, hence half the block).
    #[test]
    fn the_server_allocates_through_jemalloc() {
        use tikv_jemalloc_ctl::{epoch, stats};
        const BLOCK: usize = 64 << 20;
        let allocated = || {
            epoch::advance().expect("jemalloc epoch");
            stats::allocated::read().expect("jemalloc stats")
        };
        let before = allocated();
        let block = std::hint::black_box(vec![1u8; BLOCK]);
        let during = allocated();
        drop(block);
        assert!(
            during >= before + BLOCK / 2,
            "jemalloc counted {before} bytes allocated, then {during} with a block of {BLOCK} allocated"
        );
    }

    /// jemalloc was built with the options of `.cargo/config.toml`: sled's 512 KiB log buffers
    /// stay in the threads' caches (by default it keeps blocks of at most 32 KiB there).
    #[test]
    fn jemalloc_keeps_blocks_of_sled_s_log_buffers_in_its_thread_caches() {
        let most = tikv_jemalloc_ctl::opt::tcache_max::read().expect("jemalloc option");
        assert_eq!(most, 1 << 20);
    }
}
