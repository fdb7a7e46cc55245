//! Configuration: defaults, then an optional TOML file, then `SCIM_`-prefixed environment
//! variables (figment), then command-line overrides.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

/// When a mutation's changes reach the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Durability {
    /// Every mutation is flushed (`fdatasync`) before its 2xx is sent. The default.
    PerRequest,
    /// Mutations are flushed in the background every 500 ms: a crash may lose the last half
    /// second of acknowledged writes.
    Periodic,
}

/// Whether connections come in through the front door (`http::front`), which closes those that
/// are slow to send their headers or sit idle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FrontDoor {
    /// On unless the server listens on a loopback address only, where its clients come through
    /// a local proxy that has its own timeouts (TLS termination needs one). The default.
    Auto,
    On,
    Off,
}

/// What a group PATCH made only of member adds and removals by value (what identity providers
/// send for memberships) answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MemberPatchAnswer {
    /// 200 with the group, its members included (unless `attributes` or `excludedAttributes`
    /// say otherwise). The default.
    Resource,
    /// 204 No Content with the new `ETag` (RFC 7644 §3.5.2), unless the request names
    /// attributes: the group's members are then never read, so its size does not matter.
    NoContent,
}

/// Which storage engine holds the data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StoreKind {
    /// Embedded sled in `data_dir`: one server, nothing else to run. The default.
    Sled,
    /// A PostgreSQL database (`database_url`): several replicas of the server on one database.
    Postgres,
}

/// A database connection string: it may hold a password, so it is never shown whole (its
/// `Debug` names only the host part after `@`, if any).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DatabaseUrl(pub String);

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0.rsplit_once('@') {
            Some((_, host)) => write!(f, "DatabaseUrl(…@{host})"),
            None => f.write_str("DatabaseUrl(…)"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

/// Every setting, with its default. Documented in README.md.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `sled` (the default) or `postgres` (`SCIM_STORE`).
    pub store: StoreKind,
    /// Where the sled store lives, and the control socket with either engine (`SCIM_DATA_DIR`).
    pub data_dir: PathBuf,
    /// The PostgreSQL connection string, for `store = "postgres"` (`SCIM_DATABASE_URL`):
    /// `postgres://user:password@host:5432/scim?sslmode=require`.
    pub database_url: Option<DatabaseUrl>,
    /// A file whose first line is the connection string, for a secret kept out of the
    /// environment (`SCIM_DATABASE_URL_FILE`); used when `database_url` is not set.
    pub database_url_file: Option<PathBuf>,
    /// Connections each replica keeps to the database at most (`SCIM_DATABASE_POOL_SIZE`).
    pub database_pool_size: usize,
    /// Seconds a statement may run before the database cancels it (`SCIM_DATABASE_STATEMENT_TIMEOUT_SECS`).
    pub database_statement_timeout_secs: u32,
    /// Seconds a request waits for a database connection before it is answered 503
    /// (`SCIM_DATABASE_CONNECT_TIMEOUT_SECS`).
    pub database_connect_timeout_secs: u32,
    /// Certificate authorities (PEM) to trust for TLS to the database, beside the system's
    /// (`SCIM_DATABASE_CA_FILE`).
    pub database_ca_file: Option<PathBuf>,
    /// Address and port to listen on (`SCIM_LISTEN`).
    pub listen: SocketAddr,
    /// Path under which the SCIM API is served (`SCIM_BASE_PATH`).
    pub base_path: String,
    /// The externally visible URL of the server (scheme, host, port), used in `Location` and
    /// `meta.location`; by default taken from the request's `Host` header (`SCIM_PUBLIC_URL`).
    pub public_url: Option<String>,
    /// `per-request` or `periodic` (`SCIM_DURABILITY`).
    pub durability: Durability,
    /// Refuse what real identity providers send but the RFC does not allow (`SCIM_STRICT`).
    pub strict: bool,
    /// `resource` (the default) or `no-content`: what a group's member PATCH answers
    /// (`SCIM_MEMBER_PATCH_ANSWER`).
    pub member_patch_answer: MemberPatchAnswer,
    /// The largest page a list returns, advertised as `filter.maxResults` (`SCIM_MAX_RESULTS`).
    pub max_results: usize,
    /// The largest request body accepted, in bytes (`SCIM_MAX_BODY_BYTES`); also the bulk
    /// `maxPayloadSize`.
    pub max_body_bytes: u64,
    /// Seconds a request's body may take to arrive once its headers are in; a slower client
    /// gets 408 (`SCIM_BODY_TIMEOUT_SECS`; 0 waits without limit).
    pub body_timeout_secs: u32,
    /// The most operations one bulk request may carry (`SCIM_BULK_MAX_OPERATIONS`).
    pub bulk_max_operations: usize,
    /// Requests per second each key may make, sustained; 0, the default, turns the limit off
    /// (`SCIM_RATE_LIMIT_PER_KEY`). Off because any limit below what the server sustains can
    /// fail an identity provider's sync, and OneLogin records a 429 as a failed provisioning;
    /// docs/operations.md has the reasoning and the measurements.
    pub rate_limit_per_key: f64,
    /// Requests a key may make at once above the sustained rate (`SCIM_RATE_LIMIT_BURST`);
    /// 0, the default, allows two seconds' worth of the rate.
    pub rate_limit_burst: u32,
    /// Requests per second each tenant may make, over all its keys, sustained; 0 (the default)
    /// turns the limit off (`SCIM_RATE_LIMIT_PER_TENANT`).
    pub rate_limit_per_tenant: f64,
    /// Requests a tenant may make at once above the sustained rate; 0 holds two seconds' worth
    /// (`SCIM_RATE_LIMIT_TENANT_BURST`).
    pub rate_limit_tenant_burst: u32,
    /// Requests per second that fail authentication, per client address; 0 turns it off
    /// (`SCIM_RATE_LIMIT_UNAUTHENTICATED`).
    pub rate_limit_unauthenticated: f64,
    /// Failed authentications an address may make at once (`SCIM_RATE_LIMIT_UNAUTHENTICATED_BURST`).
    pub rate_limit_unauthenticated_burst: u32,
    /// sled's page cache, in MiB (`SCIM_CACHE_MB`).
    pub cache_mb: u64,
    /// `text` or `json` log lines on stderr (`SCIM_LOG_FORMAT`).
    pub log_format: LogFormat,
    /// Seconds that requests in flight get to finish at shutdown (`SCIM_SHUTDOWN_GRACE_SECS`).
    pub shutdown_grace_secs: u32,
    /// Seconds between SIGTERM and the stop during which `/readyz` answers 503 while every
    /// request is still served, for a load balancer to route traffic away first
    /// (`SCIM_SHUTDOWN_DRAIN_SECS`; 0, the default, stops at once).
    pub shutdown_drain_secs: u32,
    /// `auto`, `on` or `off` (`SCIM_FRONT_DOOR`): whether connections come in through a relay
    /// that enforces `header_timeout_secs` and `idle_timeout_secs` (Rocket 0.5.2 enforces
    /// neither). `auto` turns it on unless `listen` is a loopback address.
    pub front_door: FrontDoor,
    /// Seconds from a request's first byte to the end of its headers before the front door
    /// closes the connection (`SCIM_HEADER_TIMEOUT_SECS`).
    pub header_timeout_secs: u32,
    /// Seconds a connection may sit with no byte moving either way before the front door closes
    /// it (`SCIM_IDLE_TIMEOUT_SECS`).
    pub idle_timeout_secs: u32,
    /// Once the server listens, it writes a JSON object to this file (mode 0600): `addr`,
    /// `scim_base_url`, `admin_url` and `api_key` (the key minted at this start, or null), for
    /// programs that start the server and must not scrape its human-readable output
    /// (`SCIM_READY_FILE`, `serve --ready-file`). Written whole or not at all.
    pub ready_file: Option<PathBuf>,
    /// The secrets key (64 hex digits) that seals webhook signing secrets in the store
    /// (`SCIM_SECRETS_KEY_FILE`); by default `secrets.key` in `data_dir`, made (mode 0600) at the
    /// first start. Replicas on one database must all be given the same file.
    pub secrets_key_file: Option<PathBuf>,
    /// Let webhook endpoints use plain `http` and reach loopback, private, link-local and
    /// metadata addresses (`SCIM_WEBHOOK_ALLOW_PRIVATE`): for tests on loopback, never production.
    pub webhook_allow_private: bool,
    /// Hours an event is retried after its change before it is given up (`SCIM_WEBHOOK_RETRY_HOURS`).
    pub webhook_retry_hours: u32,
    /// Seconds a delivery may take, connection included (`SCIM_WEBHOOK_TIMEOUT_SECS`).
    pub webhook_timeout_secs: u32,
    /// Whether this server sends webhooks at all (`SCIM_WEBHOOK_SENDER`); with several replicas
    /// on one database only one sends at a time in any case.
    pub webhook_sender: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            store: StoreKind::Sled,
            data_dir: PathBuf::from("./data"),
            database_url: None,
            database_url_file: None,
            database_pool_size: 16,
            database_statement_timeout_secs: 10,
            database_connect_timeout_secs: 5,
            database_ca_file: None,
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            base_path: "/scim/v2".into(),
            public_url: None,
            durability: Durability::PerRequest,
            strict: false,
            member_patch_answer: MemberPatchAnswer::Resource,
            max_results: 1000,
            max_body_bytes: 1024 * 1024,
            body_timeout_secs: 30,
            bulk_max_operations: 1000,
            rate_limit_per_key: 0.0,
            rate_limit_burst: 0,
            rate_limit_per_tenant: 0.0,
            rate_limit_tenant_burst: 0,
            rate_limit_unauthenticated: 10.0,
            rate_limit_unauthenticated_burst: 20,
            cache_mb: 48,
            log_format: LogFormat::Text,
            shutdown_grace_secs: 5,
            shutdown_drain_secs: 0,
            front_door: FrontDoor::Auto,
            header_timeout_secs: 10,
            idle_timeout_secs: 60,
            ready_file: None,
            secrets_key_file: None,
            webhook_allow_private: false,
            webhook_retry_hours: 72,
            webhook_timeout_secs: 10,
            webhook_sender: true,
        }
    }
}

/// Command-line overrides, applied last.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub data_dir: Option<PathBuf>,
    pub listen: Option<SocketAddr>,
    pub ready_file: Option<PathBuf>,
}

impl Config {
    /// Loads the layers. A named file that does not exist is an error; without `--config`,
    /// `scim-server.toml` in the working directory is read when present.
    pub fn load(file: Option<&Path>, overrides: &Overrides) -> Result<Config, String> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        match file {
            Some(path) => {
                if !path.is_file() {
                    return Err(format!("configuration file {} not found", path.display()));
                }
                figment = figment.merge(Toml::file(path));
            }
            None => figment = figment.merge(Toml::file("scim-server.toml")),
        }
        // `SCIM_LOG` is the log filter (read by `tracing`, not a setting).
        figment = figment.merge(Env::prefixed("SCIM_").ignore(&["log"]).split("__"));
        let mut config: Config = figment
            .extract()
            .map_err(|e| format!("configuration: {e}"))?;
        if let Some(dir) = &overrides.data_dir {
            config.data_dir = dir.clone();
        }
        if let Some(listen) = overrides.listen {
            config.listen = listen;
        }
        if let Some(file) = &overrides.ready_file {
            config.ready_file = Some(file.clone());
        }
        config.validate()?;
        Ok(config)
    }

    /// Checks values that the types alone do not.
    pub fn validate(&mut self) -> Result<(), String> {
        let trimmed = self.base_path.trim_end_matches('/');
        if !trimmed.starts_with('/') {
            return Err(format!(
                "base_path must start with '/': {:?}",
                self.base_path
            ));
        }
        self.base_path = trimmed.to_string();
        if self.max_results == 0 {
            return Err("max_results must be at least 1".into());
        }
        if let Some(url) = &mut self.public_url {
            *url = url.trim_end_matches('/').to_string();
        }
        if self.store == StoreKind::Postgres {
            if self.database_url.is_none() {
                let Some(file) = &self.database_url_file else {
                    return Err(
                        "store = \"postgres\" needs database_url (SCIM_DATABASE_URL) or database_url_file".into(),
                    );
                };
                let text = std::fs::read_to_string(file)
                    .map_err(|e| format!("database_url_file {}: {e}", file.display()))?;
                let url = text.lines().next().unwrap_or_default().trim().to_string();
                if url.is_empty() {
                    return Err(format!("database_url_file {} is empty", file.display()));
                }
                self.database_url = Some(DatabaseUrl(url));
            }
            if self.database_pool_size == 0 {
                return Err("database_pool_size must be at least 1".into());
            }
        }
        Ok(())
    }

    /// The secrets key: read from `secrets_key_file`, or from `data_dir/secrets.key`, which is
    /// made (256 random bits, mode 0600) when it does not exist yet.
    pub fn secrets_key(&self) -> Result<scim_core::seal::Sealer, String> {
        use std::io::Write as _;
        use std::os::unix::fs::OpenOptionsExt;
        let (path, may_make) = match &self.secrets_key_file {
            Some(p) => (p.clone(), false),
            None => (self.data_dir.join("secrets.key"), true),
        };
        let read = |path: &Path| {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("secrets_key_file {}: {e}", path.display()))?;
            scim_core::seal::Sealer::from_text(&text)
                .map_err(|e| format!("secrets_key_file {}: {e}", path.display()))
        };
        if path.exists() || !may_make {
            return read(&path);
        }
        std::fs::create_dir_all(&self.data_dir)
            .map_err(|e| format!("data_dir {}: {e}", self.data_dir.display()))?;
        let (key, _) = scim_core::seal::Sealer::generate().map_err(|e| e.to_string())?;
        let text: String = key.iter().map(|b| format!("{b:02x}")).collect();
        // create_new: two processes starting at once keep the first file written.
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
        {
            Ok(mut f) => {
                f.write_all(format!("{text}\n").as_bytes())
                    .and_then(|()| f.sync_all())
                    .map_err(|e| format!("secrets key {}: {e}", path.display()))?;
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(format!("secrets key {}: {e}", path.display())),
        }
        read(&path)
    }

    /// The PostgreSQL engine's options, for `store = "postgres"`.
    pub fn postgres(&self) -> Result<scim_postgres::PgOptions, String> {
        let url = self
            .database_url
            .as_ref()
            .ok_or("store = \"postgres\" needs database_url (SCIM_DATABASE_URL)")?;
        let mut options = scim_postgres::PgOptions::new(url.0.clone());
        options.pool_size = self.database_pool_size;
        options.statement_timeout =
            std::time::Duration::from_secs(self.database_statement_timeout_secs.max(1).into());
        options.connect_timeout =
            std::time::Duration::from_secs(self.database_connect_timeout_secs.max(1).into());
        options.ca_file = self.database_ca_file.clone();
        Ok(options)
    }
}

#[cfg(test)]
// `figment::Jail` closures return figment's (large) error type.
#[allow(clippy::result_large_err)]
mod tests {
    use super::*;

    #[test]
    fn layers_apply_in_order() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "custom.toml",
                "listen = \"0.0.0.0:9000\"\nmax_results = 50\n",
            )?;
            jail.set_env("SCIM_MAX_RESULTS", "70");
            let c = Config::load(Some(Path::new("custom.toml")), &Overrides::default())
                .map_err(figment::Error::from)?;
            assert_eq!(c.listen.port(), 9000);
            assert_eq!(c.max_results, 70, "environment overrides the file");
            assert_eq!(
                c.data_dir,
                PathBuf::from("./data"),
                "defaults fill the rest"
            );
            let o = Overrides {
                data_dir: Some("/tmp/x".into()),
                ..Overrides::default()
            };
            let c =
                Config::load(Some(Path::new("custom.toml")), &o).map_err(figment::Error::from)?;
            assert_eq!(c.data_dir, PathBuf::from("/tmp/x"), "the command line wins");
            Ok(())
        });
    }

    #[test]
    fn the_secrets_key_is_made_once_private_and_then_read() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("dir");
        let c = Config {
            data_dir: dir.path().join("data"),
            ..Config::default()
        };
        let first = c.secrets_key().expect("made");
        let path = dir.path().join("data/secrets.key");
        let mode = std::fs::metadata(&path).expect("file").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(c.secrets_key().expect("read").id(), first.id());
        // A named file must exist: it is never made.
        let named = Config {
            secrets_key_file: Some(dir.path().join("elsewhere.key")),
            ..c.clone()
        };
        assert!(named.secrets_key().is_err());
        std::fs::write(dir.path().join("elsewhere.key"), "not a key").expect("write");
        assert!(named.secrets_key().is_err());
    }

    #[test]
    fn the_member_patch_answer_is_read_from_the_environment() {
        figment::Jail::expect_with(|jail| {
            let c = Config::load(None, &Overrides::default()).map_err(figment::Error::from)?;
            assert_eq!(c.member_patch_answer, MemberPatchAnswer::Resource);
            jail.set_env("SCIM_MEMBER_PATCH_ANSWER", "no-content");
            let c = Config::load(None, &Overrides::default()).map_err(figment::Error::from)?;
            assert_eq!(c.member_patch_answer, MemberPatchAnswer::NoContent);
            jail.set_env("SCIM_MEMBER_PATCH_ANSWER", "nothing");
            assert!(Config::load(None, &Overrides::default()).is_err());
            Ok(())
        });
    }

    #[test]
    fn the_log_filter_variable_is_not_a_setting() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("SCIM_LOG", "warn");
            jail.set_env("SCIM_MAX_RESULTS", "70");
            let c = Config::load(None, &Overrides::default()).map_err(figment::Error::from)?;
            assert_eq!(c.max_results, 70);
            Ok(())
        });
    }

    #[test]
    fn a_missing_named_file_and_unknown_keys_are_errors() {
        figment::Jail::expect_with(|jail| {
            assert!(Config::load(Some(Path::new("nope.toml")), &Overrides::default()).is_err());
            jail.create_file("bad.toml", "lisen = \"0.0.0.0:9000\"\n")?;
            assert!(Config::load(Some(Path::new("bad.toml")), &Overrides::default()).is_err());
            Ok(())
        });
    }
}
