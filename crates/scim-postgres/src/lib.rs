//! The PostgreSQL engine: several stateless replicas of the server on one database. It stores what
//! the core decided and keeps the seam's promises ([`scim_core::store`]) with the database's own
//! means, so that nothing replicas must agree on lives in one replica's memory:
//!
//! - one database transaction per write (record, index columns, membership rows, touched
//!   versions, revision entry), committed before the 2xx (`synchronous_commit` is the
//!   database's, on by default);
//! - uniqueness by unique indexes on the promoted, folded columns (folded by the core, the same
//!   for every engine); a violation is [`StoreError::Taken`];
//! - optimistic concurrency in the database: `UPDATE … WHERE version = $n`;
//! - a gap-free feed: entries are numbered after they commit, in transaction order, only below
//!   the oldest transaction still in flight ([`feed`]);
//! - keys and tenants read from the database, with a cache that a `LISTEN` connection empties on
//!   every change any replica makes, and that is not used while that connection is down
//!   ([`cache`]);
//! - a tenant's deletion and the writes into it exclude each other through advisory locks
//!   ([`write`]).
//!
//! The driver is tokio-postgres with deadpool-postgres: plain SQL strings that read as what the
//! database runs, prepared once per connection, pipelined where statements do not depend on each
//! other, with no compile-time database and no macros (sqlx's offline query checking would need
//! a database, or checked-in query data, for every build).
//!
//! Modules: [`schema`] (embedded migrations), [`write`] (commits), [`read`] (the `Partition`
//! and `Store` implementations), [`query`] (lists), [`feed`] (numbering and reading feeds),
//! [`cache`] (keys and tenants), [`whole`] (export, import, the engine's own checks), [`tls`].

mod cache;
mod feed;
mod filter_sql;
mod query;
mod read;
pub mod schema;
mod tls;
mod whole;
mod write;

#[cfg(test)]
mod tests;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime};
use scim_core::model::{Kind, TenantId};
use scim_core::store::StoreError;
use sha2::{Digest, Sha256};
use tokio_postgres::error::SqlState;

pub use schema::{Migration, MIGRATIONS};

/// How the engine connects.
#[derive(Debug, Clone)]
pub struct PgOptions {
    /// `postgres://user:password@host:port/db?sslmode=require` or key-value form; a Unix socket
    /// with `host=/run/postgresql`.
    pub url: String,
    /// Connections this replica keeps at most.
    pub pool_size: usize,
    /// How long one statement may run before the database cancels it.
    pub statement_timeout: Duration,
    /// How long a request waits for a connection (to be made, or to come free) before it is
    /// answered 503.
    pub connect_timeout: Duration,
    /// Certificate authorities (PEM) to trust for TLS to the database, beside the system's.
    pub ca_file: Option<PathBuf>,
}

impl PgOptions {
    pub fn new(url: impl Into<String>) -> Self {
        PgOptions {
            url: url.into(),
            pool_size: 16,
            statement_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(5),
            ca_file: None,
        }
    }
}

/// The PostgreSQL engine. Cheap to clone: every clone is the same store.
#[derive(Clone)]
pub struct PgStore(Arc<Engine>);

impl std::ops::Deref for PgStore {
    type Target = Engine;
    fn deref(&self) -> &Engine {
        &self.0
    }
}

pub struct Engine {
    pool: Pool,
    cache: Arc<cache::Cache>,
    settler: Arc<feed::Settler>,
    /// The size of the engine's tables, as last measured (bytes).
    size: Arc<AtomicU64>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    /// How long a request's call may take in all: a connection's wait plus a statement's time.
    bound: Duration,
}

impl Drop for Engine {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
        self.pool.close();
    }
}

impl PgStore {
    /// Connects, applies the migrations this binary holds that the database lacks (under an
    /// advisory lock: replicas may start at once), and starts the key and tenant listener and
    /// the feed's sequencer. Fails if the database cannot be reached within the connect timeout.
    pub async fn connect(options: &PgOptions) -> Result<PgStore, StoreError> {
        let config = pg_config(options)?;
        let tls = tls::connector(options.ca_file.as_deref())?;
        {
            let (mut client, connection) =
                tokio::time::timeout(options.connect_timeout, config.connect(tls.clone()))
                    .await
                    .map_err(|_| {
                        StoreError::Unavailable("connecting to the database timed out".into())
                    })?
                    .map_err(db)?;
            let driver = tokio::spawn(connection);
            let applied = schema::migrate(&mut client).await;
            drop(client);
            let _ = driver.await;
            for m in applied? {
                tracing::info!(
                    version = m.version,
                    name = m.name,
                    "applied a schema migration"
                );
            }
        }
        let manager = Manager::from_config(
            config.clone(),
            tls.clone(),
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(options.pool_size.max(2))
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(options.connect_timeout))
            .create_timeout(Some(options.connect_timeout))
            .recycle_timeout(Some(options.connect_timeout))
            .build()
            .map_err(|e| StoreError::Io(format!("database pool: {e}")))?;
        let cache = Arc::new(cache::Cache::default());
        let settler = Arc::new(feed::Settler::default());
        let size = Arc::new(AtomicU64::new(0));
        let tasks = vec![
            tokio::spawn(cache::listen(Arc::clone(&cache), config, tls)),
            tokio::spawn(feed::run(
                pool.clone(),
                Arc::clone(&settler),
                Arc::clone(&size),
            )),
        ];
        Ok(PgStore(Arc::new(Engine {
            pool,
            cache,
            settler,
            size,
            tasks,
            bound: options.connect_timeout + options.statement_timeout,
        })))
    }

    /// The migrations this binary holds that the database has not applied (changing nothing).
    pub async fn pending(options: &PgOptions) -> Result<Vec<&'static Migration>, StoreError> {
        let config = pg_config(options)?;
        let tls = tls::connector(options.ca_file.as_deref())?;
        let (client, connection) =
            tokio::time::timeout(options.connect_timeout, config.connect(tls))
                .await
                .map_err(|_| {
                    StoreError::Unavailable("connecting to the database timed out".into())
                })?
                .map_err(db)?;
        let driver = tokio::spawn(connection);
        let pending = schema::pending(&client).await;
        drop(client);
        let _ = driver.await;
        pending
    }
}

impl Engine {
    /// A connection from the pool (503 when none comes within the connect timeout).
    pub(crate) async fn conn(&self) -> Result<Object, StoreError> {
        self.pool.get().await.map_err(|e| match e {
            deadpool_postgres::PoolError::Backend(e) => db(e),
            other => StoreError::Unavailable(format!("no database connection: {other}")),
        })
    }

    /// Runs a request's call to the database within the engine's bound (a connection's wait plus
    /// a statement's time), answering [`StoreError::Unavailable`] past it. The statement timeout
    /// is the database's to enforce: a database that stops answering without closing anything
    /// (a hung server, a network that drops packets) enforces nothing, and the driver has no
    /// timeout of its own, so without this bound a request would wait as long as the database
    /// does (`a_frozen_database_holds_no_request_beyond_the_timeouts`). A write whose COMMIT was
    /// sent before the bound passed may still commit when the database answers again: the
    /// identity provider's retry then finds it (409 for a create, the same state for a PATCH).
    pub(crate) async fn bounded<T>(
        &self,
        call: impl std::future::Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        match tokio::time::timeout(self.bound, call).await {
            Ok(answer) => answer,
            Err(_) => Err(StoreError::Unavailable(format!(
                "the database did not answer within {:?}",
                self.bound
            ))),
        }
    }

    /// Whether the listener that keeps the key and tenant cache honest is connected.
    pub fn listening(&self) -> bool {
        self.cache.live()
    }

    /// Runs `work` while holding the database-wide lock named `name` (a session advisory lock on
    /// a connection of its own): what replicas starting at once must do one at a time, such as
    /// minting the first keys of an empty database.
    pub async fn exclusive<T>(
        &self,
        name: &str,
        work: impl std::future::Future<Output = T>,
    ) -> Result<T, StoreError> {
        let conn = self.conn().await?;
        let id = lock_id("exclusive", name);
        conn.execute("SELECT pg_advisory_lock($1)", &[&id])
            .await
            .map_err(db)?;
        let out = work.await;
        conn.execute("SELECT pg_advisory_unlock($1)", &[&id])
            .await
            .map_err(db)?;
        Ok(out)
    }

    /// Tries to hold the database-wide lock named `name` for as long as the answer lives (a
    /// session advisory lock on a connection taken out of the pool, so that dropping it ends the
    /// session and frees the lock): None if another session holds it.
    pub async fn try_hold(&self, name: &str) -> Result<Option<Held>, StoreError> {
        let conn = self.conn().await?;
        let id = lock_id("exclusive", name);
        let got: bool = conn
            .query_one("SELECT pg_try_advisory_lock($1)", &[&id])
            .await
            .map_err(db)?
            .get(0);
        Ok(got.then(|| Held(Object::take(conn))))
    }

    /// Numbers every feed's committed entries now (tests; the sequencer does it on its own).
    pub async fn settle_all(&self) -> Result<(), StoreError> {
        let conn = self.conn().await?;
        feed::settle_all(&conn).await
    }
}

/// A lock held by [`PgStore::try_hold`], freed when this is dropped.
pub struct Held(deadpool_postgres::ClientWrapper);

impl Held {
    /// Whether the session that holds the lock still answers (the lock is gone with it).
    pub async fn alive(&self) -> bool {
        !self.0.is_closed() && self.0.simple_query("SELECT 1").await.is_ok()
    }
}

/// The driver's configuration: the URL, with the statement timeout, JIT off and an application
/// name.
fn pg_config(options: &PgOptions) -> Result<tokio_postgres::Config, StoreError> {
    let mut config: tokio_postgres::Config = options.url.parse().map_err(|e| {
        StoreError::Refused(format!(
            "database_url is not a PostgreSQL connection string: {e}"
        ))
    })?;
    let timeout = format!(
        "-c statement_timeout={}",
        options.statement_timeout.as_millis()
    );
    // JIT compiling pays for itself on long analytical queries, not on this engine's: a list
    // that scans 100,000 documents took 280 ms of compiling for 300 ms of running. The URL's
    // own options come after, so that they can turn it on again.
    let joined = match config.get_options() {
        Some(o) if !o.is_empty() => format!("-c jit=off {o} {timeout}"),
        _ => format!("-c jit=off {timeout}"),
    };
    config.options(&joined);
    if config.get_application_name().is_none() {
        config.application_name("scim-server");
    }
    config.connect_timeout(options.connect_timeout);
    Ok(config)
}

/// A database error as the seam words it: a lost or refused connection, a cancelled statement or
/// a database shutting down is [`StoreError::Unavailable`] (nothing changed; try again later).
pub(crate) fn db(e: tokio_postgres::Error) -> StoreError {
    let transient = [
        SqlState::ADMIN_SHUTDOWN,
        SqlState::CRASH_SHUTDOWN,
        SqlState::CANNOT_CONNECT_NOW,
        SqlState::CONNECTION_FAILURE,
        SqlState::CONNECTION_EXCEPTION,
        SqlState::CONNECTION_DOES_NOT_EXIST,
        SqlState::SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION,
        SqlState::QUERY_CANCELED,
        SqlState::TOO_MANY_CONNECTIONS,
        SqlState::READ_ONLY_SQL_TRANSACTION,
    ];
    // Two transactions that waited on each other: one was rolled back, and is computed again.
    let conflict = [
        SqlState::T_R_SERIALIZATION_FAILURE,
        SqlState::T_R_DEADLOCK_DETECTED,
    ];
    let unstorable = [
        SqlState::CHARACTER_NOT_IN_REPERTOIRE,
        SqlState::UNTRANSLATABLE_CHARACTER,
    ];
    // The driver's own text of a database's refusal is only "db error".
    let text = match e.as_db_error() {
        Some(d) => format!("{e}: {}", d.message()),
        None => e.to_string(),
    };
    match e.code() {
        Some(code) if transient.contains(code) => StoreError::Unavailable(text),
        Some(code) if conflict.contains(code) => StoreError::Stale,
        // The one text PostgreSQL refuses: the NUL character (resources and filters refuse it
        // before; a label or a name sent through another way lands here).
        Some(code) if unstorable.contains(code) => {
            StoreError::Refused("text may not contain the NUL character (U+0000)".into())
        }
        Some(_) => StoreError::Io(format!("database: {text}")),
        None => StoreError::Unavailable(format!("database connection: {e}")),
    }
}

/// A stored value that does not decode.
pub(crate) fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

/// A kind as the `kind` column holds it.
pub(crate) fn kind_code(kind: Kind) -> i16 {
    match kind {
        Kind::User => 0,
        Kind::Group => 1,
    }
}

pub(crate) fn kind_of(code: i16) -> Result<Kind, StoreError> {
    match code {
        0 => Ok(Kind::User),
        1 => Ok(Kind::Group),
        other => Err(corrupt(format!("unknown kind {other}"))),
    }
}

/// The feed a tenant's entries are in; the operator's is `''`.
pub(crate) fn feed_name(tenant: Option<&TenantId>) -> &str {
    tenant.map_or("", TenantId::as_str)
}

/// A stable advisory lock number for a name (a collision only makes two names wait on each other).
pub(crate) fn lock_id(space: &str, name: &str) -> i64 {
    let digest = Sha256::digest(format!("scim:{space}:{name}").as_bytes());
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(bytes)
}

/// Nanoseconds since the epoch: how times are stored (exact, and ordered as instants).
pub(crate) fn nanos(t: time::OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos()).unwrap_or(i64::MAX)
}

pub(crate) fn from_nanos(n: i64) -> Result<time::OffsetDateTime, StoreError> {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(n)).map_err(corrupt)
}

impl Engine {
    pub(crate) fn size_now(&self) -> u64 {
        self.size.load(Ordering::Relaxed)
    }
}
