//! A self-hostable SCIM 2.0 service provider (RFC 7643, RFC 7644): the server binary's library.
//!
//! This crate is the edge: [`http`] (Rocket: routes, guards, the one error mapping, the admin web
//! page), [`control`] (the command line's socket), [`config`], [`metrics`] and [`ratelimit`].
//! What each operation means is the domain core's (`scim_core`), over a storage engine
//! (`scim_sled`, the embedded default, or `scim_postgres`); the SCIM protocol itself is
//! `scim_proto`.

pub mod app;
pub mod config;
pub mod control;
pub mod http;
pub mod metrics;
pub mod ratelimit;
pub mod webhooks;

use std::sync::Arc;

use scim_core::store::Store;
use scim_core::{Core, Settings};
use scim_postgres::PgStore;
use scim_sled::{SledOptions, SledStore};

use config::{Config, Durability, StoreKind};

/// Opens the sled store of a configuration (with the configured cache and durability).
pub fn open_sled(config: &Config) -> Result<SledStore, scim_sled::OpenError> {
    let options = SledOptions {
        cache_capacity: config.cache_mb.saturating_mul(1024 * 1024),
        flush_every_ms: Some(500),
        durable: config.durability == Durability::PerRequest,
    };
    SledStore::open(&config.data_dir, &options)
}

/// Why the configured store could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error(transparent)]
    Sled(#[from] scim_sled::OpenError),
    #[error("PostgreSQL: {0}")]
    Postgres(String),
}

impl OpenError {
    /// The sled folder is held by a running server (whose control socket then answers).
    pub fn is_locked(&self) -> bool {
        matches!(self, OpenError::Sled(e) if e.is_locked())
    }
}

/// The configured store, opened.
#[derive(Clone)]
pub struct Opened {
    pub store: Arc<dyn Store>,
    postgres: Option<PgStore>,
}

impl Opened {
    /// Runs `work` alone among the replicas that share the store (a database-wide lock with
    /// PostgreSQL; sled has one process by construction).
    pub async fn alone<T>(&self, work: impl std::future::Future<Output = T>) -> Result<T, String> {
        match &self.postgres {
            Some(pg) => pg
                .exclusive("first-start", work)
                .await
                .map_err(|e| e.to_string()),
            None => Ok(work.await),
        }
    }

    pub fn postgres(&self) -> Option<&PgStore> {
        self.postgres.as_ref()
    }
}

/// Opens the store the configuration names: sled in `data_dir`, or PostgreSQL at `database_url`
/// (applying the schema's migrations).
pub async fn open(config: &Config) -> Result<Opened, OpenError> {
    match config.store {
        StoreKind::Sled => Ok(Opened {
            store: Arc::new(open_sled(config)?),
            postgres: None,
        }),
        StoreKind::Postgres => {
            let options = config.postgres().map_err(OpenError::Postgres)?;
            let pg = PgStore::connect(&options)
                .await
                .map_err(|e| OpenError::Postgres(e.to_string()))?;
            Ok(Opened {
                store: Arc::new(pg.clone()),
                postgres: Some(pg),
            })
        }
    }
}

/// The core over a store, with the configuration's settings and secrets key.
pub fn core(config: &Config, store: Arc<dyn Store>) -> Result<Arc<Core>, String> {
    let sealer = config.secrets_key()?;
    Ok(Arc::new(
        Core::new(
            store,
            Settings {
                strict: config.strict,
                webhook_allow_private: config.webhook_allow_private,
            },
        )
        .with_sealer(sealer),
    ))
}

/// Runs the server until SIGINT or SIGTERM: opens the store (refusing a corrupt or locked one),
/// mints and prints a first key if there is none, serves SCIM and the control socket, and on a
/// signal stops accepting, lets requests in flight finish, and flushes the store.
/// What a start does before it serves: the `default` tenant, and a SCIM key and an operator
/// admin key when none is active (each returned, to be shown once). Replicas that start at once
/// on an empty database do it one at a time ([`Opened::alone`]), so they mint one set of keys.
pub async fn first_start(
    opened: &Opened,
    core: &Core,
) -> Result<(Option<String>, Option<String>), String> {
    opened
        .alone(async {
            core.ensure_default_tenant().await?;
            let scim = core
                .ensure_scim_key(&scim_core::model::TenantId::default_tenant())
                .await?;
            let admin = core.ensure_operator_key().await?;
            Ok::<_, scim_core::Error>((scim, admin))
        })
        .await?
        .map_err(|e| e.to_string())
}

pub async fn serve(config: Config) -> Result<(), String> {
    let opened = open(&config).await.map_err(|e| e.to_string())?;
    let store = Arc::clone(&opened.store);
    let core = core(&config, Arc::clone(&store))?;
    let (first_key, first_admin_key) = first_start(&opened, &core).await?;
    let data_dir = config.data_dir.clone();
    let config_ready_file = config.ready_file.clone();
    let config_for_sender = config.clone();
    let app = Arc::new(app::App::new(config, Arc::clone(&core)));
    // Listened to before the server says it is ready (stdout, the ready file): a SIGTERM sent
    // as soon as the ready file appears stops it gracefully instead of killing it.
    let signals = stop_signals();
    let running = http::start(Arc::clone(&app)).await?;
    let base_url = match &app.config.public_url {
        Some(u) => format!("{u}{}", app.config.base_path),
        None => format!("http://{}{}", running.addr, app.config.base_path),
    };
    let app_base_path = app.config.base_path.clone();
    let draining = Arc::downgrade(&app);
    drop(app);
    tracing::info!(addr = %running.addr, data_dir = %data_dir.display(), "listening");
    println!("SCIM base URL: {base_url}");
    let origin = base_url
        .strip_suffix(app_base_path.as_str())
        .unwrap_or(&base_url);
    println!("Admin web page: {origin}/admin");
    if let Some(key) = &first_admin_key {
        println!(
            "No admin key existed, so one was minted: sign in to the admin web page with it (it \
             opens every tenant). Copy it now: it is not shown again."
        );
        println!("Admin key: {key}");
    }
    match &first_key {
        Some(key) => {
            println!(
                "No API key existed, so one was minted: paste it into your identity provider. \
                 Copy it now: it is not shown again."
            );
            println!("API key: {key}");
        }
        None => println!("API keys: already configured (see `scim-server key list`)."),
    }
    if let Some(path) = &config_ready_file {
        let ready = Ready {
            addr: running.addr.to_string(),
            scim_base_url: base_url.clone(),
            admin_url: format!("{origin}/admin"),
            api_key: first_key.clone(),
            admin_key: first_admin_key.clone(),
        };
        write_ready_file(path, &ready)?;
    }
    let reach = control::Reach {
        origin: origin.to_string(),
        base_path: app_base_path.clone(),
    };
    let sender = webhooks::Dispatcher::start(
        &config_for_sender,
        Arc::clone(&core),
        opened.postgres().cloned(),
        origin.to_string(),
    )?;
    let control = tokio::spawn(control::serve(
        data_dir,
        Arc::clone(&core),
        reach,
        running.shutdown_handle(),
    ));
    let stop = running.shutdown_handle();
    tokio::spawn(async move {
        wait_for_signal(signals).await;
        if let Some(app) = draining.upgrade() {
            app.begin_shutdown();
            let drain = app.config.shutdown_drain_secs;
            drop(app);
            if drain > 0 {
                tracing::info!(
                    seconds = drain,
                    "draining: /readyz answers 503, requests are still served"
                );
                tokio::time::sleep(std::time::Duration::from_secs(drain.into())).await;
            }
        }
        tracing::info!("shutting down: finishing requests in flight");
        stop.notify();
    });
    // A write that failed for a storage reason leaves sled unusable in this process: stop, and
    // let the supervisor start the server again once the disk is writable (sled then recovers
    // every write that was acknowledged).
    let watched = Arc::clone(&store);
    let stop = running.shutdown_handle();
    let failure = tokio::spawn(async move {
        loop {
            if let Some(reason) = watched.failure() {
                tracing::error!(%reason, "the store cannot write: stopping");
                stop.notify();
                return Some(reason);
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    });
    let served = running.wait().await;
    failure.abort();
    if let Some(sender) = sender {
        sender.abort();
    }
    if let Some(reason) = store.failure() {
        return Err(format!(
            "stopped: the store cannot write ({reason}); start the server again once the disk is writable"
        ));
    }
    match control.await {
        Ok(Err(e)) => tracing::warn!(error = %e, "control socket"),
        Err(e) => tracing::warn!(error = %e, "control socket task"),
        Ok(Ok(())) => {}
    }
    served?;
    tracing::info!("stopped; store flushed");
    Ok(())
}

/// What `--ready-file` holds: where the server listens, and the key minted at this start.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Ready {
    /// The address it listens on (the real port when 0 was asked for).
    pub addr: String,
    pub scim_base_url: String,
    pub admin_url: String,
    /// The SCIM key minted because none existed, or null.
    pub api_key: Option<String>,
    /// The operator's admin key minted because none existed, or null.
    #[serde(default)]
    pub admin_key: Option<String>,
}

/// Writes the ready file whole (a temporary file in the same folder, mode 0600, synced, renamed),
/// so that a reader never sees half of it.
fn write_ready_file(path: &std::path::Path, ready: &Ready) -> Result<(), String> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt;
    let fail = |e: std::io::Error| format!("cannot write the ready file {}: {e}", path.display());
    let tmp = path.with_extension("partial");
    let mut bytes = serde_json::to_vec(ready).map_err(|e| e.to_string())?;
    bytes.push(b'\n');
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(fail)?;
    f.write_all(&bytes).map_err(fail)?;
    f.sync_all().map_err(fail)?;
    std::fs::rename(&tmp, path).map_err(fail)
}

/// SIGINT and SIGTERM, caught from now on (a signal that arrives before the wait is kept for
/// it); None where they cannot be listened to.
fn stop_signals() -> Option<(tokio::signal::unix::Signal, tokio::signal::unix::Signal)> {
    use tokio::signal::unix::{signal, SignalKind};
    match (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) {
        (Ok(int), Ok(term)) => Some((int, term)),
        _ => None,
    }
}

async fn wait_for_signal(
    signals: Option<(tokio::signal::unix::Signal, tokio::signal::unix::Signal)>,
) {
    match signals {
        Some((mut int, mut term)) => {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
        }
        None => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
