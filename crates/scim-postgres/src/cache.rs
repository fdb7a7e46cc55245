//! Keys and tenants, which every request reads, kept in memory only while the database can say
//! when they change. Every write of a key or a tenant, by any replica, sends `NOTIFY
//! scim_changes` in its transaction; a listener connection per replica empties the cache on each
//! notification. While that connection is down (and until it is listening again) the cache is
//! neither used nor filled: every lookup reads the database. So a key revoked or a tenant disabled
//! on one replica is refused by every other as soon as the notification arrives (milliseconds),
//! and never later than a read of the database.
//!
//! A connection can also stop delivering without closing: its backend hung, or the network
//! dropped it silently (TCP keepalive notices after hours). So the listener asks its connection
//! a question every [`HEARTBEAT`]; one not answered within [`HEARTBEAT_TIMEOUT`] counts as a lost
//! connection, and the cache stops being used: a change is refused by every replica within about
//! their sum even when its notification never arrives.
//!
//! A lookup that began before a change and ends after its notification must not put what it read
//! back: entries are kept only if no notification arrived since the lookup began (a generation
//! number).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::RwLock;
use std::time::Duration;

use futures_util::future::poll_fn;
use scim_core::model::{ApiKey, Tenant, TenantId};
use tokio_postgres::AsyncMessage;
use tokio_postgres_rustls::MakeRustlsConnect;

/// The channel every key and tenant write notifies.
pub(crate) const CHANNEL: &str = "scim_changes";

/// Keys by digest and tenants by id, as last read.
#[derive(Default)]
pub(crate) struct Cache {
    live: AtomicBool,
    generation: AtomicU64,
    keys: RwLock<HashMap<String, ApiKey>>,
    tenants: RwLock<HashMap<TenantId, Option<Tenant>>>,
}

/// How often the listener checks that its connection still answers.
pub(crate) const HEARTBEAT: Duration = Duration::from_secs(1);

/// How long the listener waits for that answer before it takes the connection for lost.
pub(crate) const HEARTBEAT_TIMEOUT: Duration = Duration::from_secs(1);

/// At most this many keys are kept (a cache, not a copy of the table).
const MAX_KEYS: usize = 10_000;

impl Cache {
    pub(crate) fn live(&self) -> bool {
        self.live.load(Ordering::SeqCst)
    }

    /// The generation a lookup begins at, or `None` when the cache is not to be used.
    pub(crate) fn begin(&self) -> Option<u64> {
        self.live().then(|| self.generation.load(Ordering::SeqCst))
    }

    /// Forgets everything (a notification, this replica's own write, a lost listener).
    pub(crate) fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        if let Ok(mut k) = self.keys.write() {
            k.clear();
        }
        if let Ok(mut t) = self.tenants.write() {
            t.clear();
        }
    }

    pub(crate) fn key(&self, digest: &str) -> Option<ApiKey> {
        if !self.live() {
            return None;
        }
        self.keys.read().ok()?.get(digest).cloned()
    }

    pub(crate) fn keep_key(&self, began: Option<u64>, key: &ApiKey) {
        let Some(began) = began else { return };
        if let Ok(mut keys) = self.keys.write() {
            // Checked under the lock that `invalidate` takes after bumping the generation.
            if self.generation.load(Ordering::SeqCst) == began && self.live() {
                if keys.len() >= MAX_KEYS {
                    keys.clear();
                }
                keys.insert(key.digest.clone(), key.clone());
            }
        }
    }

    /// A tenant as cached: `Some(None)` when it is known not to exist.
    pub(crate) fn tenant(&self, id: &TenantId) -> Option<Option<Tenant>> {
        if !self.live() {
            return None;
        }
        self.tenants.read().ok()?.get(id).cloned()
    }

    pub(crate) fn keep_tenant(&self, began: Option<u64>, id: &TenantId, tenant: Option<Tenant>) {
        let Some(began) = began else { return };
        if let Ok(mut tenants) = self.tenants.write() {
            if self.generation.load(Ordering::SeqCst) == began && self.live() {
                if tenants.len() >= MAX_KEYS {
                    tenants.clear();
                }
                tenants.insert(id.clone(), tenant);
            }
        }
    }
}

/// Keeps a listener connected for the life of the engine: on every notification, and whenever
/// the connection is lost (or stops answering its heartbeat) or made again, the cache is emptied.
pub(crate) async fn listen(
    cache: std::sync::Arc<Cache>,
    config: tokio_postgres::Config,
    tls: MakeRustlsConnect,
) {
    let mut backoff = Duration::from_millis(100);
    loop {
        match config.connect(tls.clone()).await {
            Ok((client, mut connection)) => {
                let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
                let driver = tokio::spawn(async move {
                    while let Some(message) = poll_fn(|cx| connection.poll_message(cx)).await {
                        match message {
                            Ok(AsyncMessage::Notification(_)) => {
                                if tx.send(()).is_err() {
                                    break;
                                }
                            }
                            Ok(_) => {}
                            Err(_) => break,
                        }
                    }
                });
                if client
                    .batch_execute(&format!("LISTEN {CHANNEL}"))
                    .await
                    .is_ok()
                {
                    // Anything cached before this point may have missed a notification.
                    cache.invalidate();
                    cache.live.store(true, Ordering::SeqCst);
                    backoff = Duration::from_millis(100);
                    let heard = async {
                        while rx.recv().await.is_some() {
                            cache.invalidate();
                        }
                    };
                    let beat = async {
                        loop {
                            tokio::time::sleep(HEARTBEAT).await;
                            let answer = tokio::time::timeout(
                                HEARTBEAT_TIMEOUT,
                                client.batch_execute("SELECT 1"),
                            )
                            .await;
                            if !matches!(answer, Ok(Ok(()))) {
                                return;
                            }
                        }
                    };
                    tokio::select! {
                        () = heard => {}
                        () = beat => tracing::warn!("the database listener stopped answering"),
                    }
                }
                cache.live.store(false, Ordering::SeqCst);
                cache.invalidate();
                driver.abort();
                tracing::warn!("the database listener was disconnected: reading keys and tenants from the database until it is back");
            }
            Err(e) => {
                cache.live.store(false, Ordering::SeqCst);
                tracing::debug!(error = %e, "the database listener cannot connect yet");
            }
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(2));
    }
}
