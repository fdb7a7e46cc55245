//! The webhook sender: the HTTP side of deliveries ([`HttpSender`]: where a request may go, a
//! timeout, a cap on what is read of the answer) and the dispatcher that keeps one worker per
//! enabled endpoint calling [`Core::deliver`], apart from the requests' path: a slow or dead
//! receiver holds its own worker only. What a delivery means (order, retries, giving up, `410`)
//! is the core's ([`scim_core::delivery`]); where it may go is [`scim_core::reach`].

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use scim_core::delivery::{Answer, Rules, Sender, Step};
use scim_core::model::TenantId;
use scim_core::reach;
use scim_core::Core;
use tokio::task::JoinHandle;

/// The longest an idle worker waits before it looks at its feed again (an event committed
/// meanwhile waits that long at most).
pub const IDLE_AT_MOST: Duration = Duration::from_secs(1);
/// How often the endpoints are listed, for workers to start (an endpoint added or enabled
/// starts being served within this).
pub const LIST_EVERY: Duration = Duration::from_secs(2);

/// The most of a receiver's answer that is read (the rest is dropped unread).
pub const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// Sends deliveries over HTTP: `https` only, to public addresses only (checked after name
/// resolution and for literal addresses), following no redirect, within a timeout, reading at
/// most [`MAX_ANSWER_BYTES`] of the answer. With `allow_private`, plain `http` and every
/// address are allowed (tests on loopback).
pub struct HttpSender {
    client: reqwest::Client,
    allow_private: bool,
}

impl HttpSender {
    pub fn new(timeout: Duration, allow_private: bool) -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(timeout)
            .connect_timeout(timeout)
            .dns_resolver(Arc::new(Resolver { allow_private }))
            .user_agent(concat!(
                "scim-server/",
                env!("CARGO_PKG_VERSION"),
                " webhooks"
            ))
            .no_proxy()
            .build()
            .map_err(|e| format!("the webhook client: {e}"))?;
        Ok(HttpSender {
            client,
            allow_private,
        })
    }

    /// Why `url` may not be requested before any name is resolved: its scheme, or a literal
    /// address of a refused class.
    fn refuse_url(&self, url: &str) -> Option<String> {
        let Ok(url) = url::Url::parse(url) else {
            return Some("not a URL".into());
        };
        match url.scheme() {
            "https" => {}
            "http" if self.allow_private => {}
            other => return Some(format!("the scheme {other} is not allowed")),
        }
        if self.allow_private {
            return None;
        }
        let ip: Option<IpAddr> = match url.host() {
            Some(url::Host::Ipv4(v4)) => Some(v4.into()),
            Some(url::Host::Ipv6(v6)) => Some(v6.into()),
            _ => None,
        };
        ip.and_then(reach::refused).map(|class| {
            format!(
                "{} is {}: not allowed",
                url.host_str().unwrap_or(""),
                class.as_str()
            )
        })
    }
}

#[async_trait::async_trait]
impl Sender for HttpSender {
    async fn post(&self, url: &str, headers: &[(&'static str, String)], body: Vec<u8>) -> Answer {
        if let Some(why) = self.refuse_url(url) {
            return Answer::Failed(why);
        }
        let mut request = self
            .client
            .post(url)
            .header("content-type", "application/json")
            .body(body);
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let response = match request.send().await {
            Ok(r) => r,
            Err(e) => return Answer::Failed(describe(&e)),
        };
        let status = response.status().as_u16();
        // The answer is read up to the cap, so that the connection can be reused, and dropped.
        let mut read = 0usize;
        let mut response = response;
        while let Ok(Some(chunk)) = response.chunk().await {
            read += chunk.len();
            if read > MAX_ANSWER_BYTES {
                break;
            }
        }
        Answer::Status(status)
    }
}

/// A request's failure in a few words (its chain of causes, which name the refused address).
fn describe(e: &reqwest::Error) -> String {
    use std::error::Error as _;
    let mut text = if e.is_timeout() {
        "timed out".to_string()
    } else if e.is_connect() {
        "could not connect".to_string()
    } else {
        "failed".to_string()
    };
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text.chars().take(500).collect()
}

/// Resolves names, keeping only the addresses a webhook may reach.
struct Resolver {
    allow_private: bool,
}

impl reqwest::dns::Resolve for Resolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow_private = self.allow_private;
        Box::pin(async move {
            let host = name.as_str().to_string();
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let (allowed, refused): (Vec<SocketAddr>, Vec<SocketAddr>) = found
                .into_iter()
                .partition(|a| allow_private || reach::refused(a.ip()).is_none());
            if allowed.is_empty() {
                let why = match refused.first() {
                    Some(a) => format!(
                        "{host} resolves to {} ({}): not allowed",
                        a.ip(),
                        reach::refused(a.ip()).map_or("refused", |c| c.as_str())
                    ),
                    None => format!("{host} resolves to no address"),
                };
                return Err(why.into());
            }
            let addrs: reqwest::dns::Addrs = Box::new(allowed.into_iter());
            Ok(addrs)
        })
    }
}

/// Whether this process may send now: always with sled (one process); with PostgreSQL, while it
/// holds the sender's lock, so that one replica sends at a time.
#[async_trait::async_trait]
pub trait Lease: Send + Sync {
    /// Tries to hold (or keeps holding) the lease; whether it is held.
    async fn hold(&self) -> bool;
}

/// The lease of a process that is alone on its store.
pub struct Alone;

#[async_trait::async_trait]
impl Lease for Alone {
    async fn hold(&self) -> bool {
        true
    }
}

/// The lease of one replica among several on a PostgreSQL database: a session lock on a
/// connection of its own, given up with that connection.
pub struct PgLease {
    pg: scim_postgres::PgStore,
    held: tokio::sync::Mutex<Option<scim_postgres::Held>>,
}

impl PgLease {
    pub fn new(pg: scim_postgres::PgStore) -> Self {
        PgLease {
            pg,
            held: tokio::sync::Mutex::new(None),
        }
    }
}

#[async_trait::async_trait]
impl Lease for PgLease {
    async fn hold(&self) -> bool {
        let mut held = self.held.lock().await;
        if let Some(h) = held.as_ref() {
            if h.alive().await {
                return true;
            }
            tracing::warn!("the webhook sender's lock was lost with its connection");
            *held = None;
        }
        match self.pg.try_hold("webhook-sender").await {
            Ok(Some(h)) => {
                tracing::info!("this replica sends the webhooks");
                *held = Some(h);
                true
            }
            Ok(None) => false,
            Err(e) => {
                tracing::warn!(error = %e, "the webhook sender's lock");
                false
            }
        }
    }
}

/// Where each tenant's SCIM base URL is, for the events' `data.meta.location`.
pub type BaseUrl = Arc<dyn Fn(&TenantId) -> String + Send + Sync>;

/// Keeps one worker per enabled endpoint of every tenant.
pub struct Dispatcher {
    core: Arc<Core>,
    sender: Arc<dyn Sender>,
    rules: Rules,
    base_url: BaseUrl,
    lease: Arc<dyn Lease>,
    /// How often a worker that just found nothing looks at its feed again; each further time it
    /// finds nothing the pause doubles, up to [`IDLE_AT_MOST`].
    pub tick: Duration,
    workers: Mutex<HashMap<(TenantId, String), JoinHandle<()>>>,
}

impl Dispatcher {
    pub fn new(
        core: Arc<Core>,
        sender: Arc<dyn Sender>,
        rules: Rules,
        base_url: BaseUrl,
        lease: Arc<dyn Lease>,
    ) -> Arc<Self> {
        Arc::new(Dispatcher {
            core,
            sender,
            rules,
            base_url,
            lease,
            tick: Duration::from_millis(200),
            workers: Mutex::new(HashMap::new()),
        })
    }

    /// The dispatcher a configuration asks for (none if `webhook_sender` is off), on `origin`
    /// (the server's external scheme, host and port), started as a task: abort it to stop
    /// every worker.
    pub fn start(
        config: &crate::config::Config,
        core: Arc<Core>,
        postgres: Option<scim_postgres::PgStore>,
        origin: String,
    ) -> Result<Option<JoinHandle<()>>, String> {
        if !config.webhook_sender {
            return Ok(None);
        }
        let sender = HttpSender::new(
            Duration::from_secs(config.webhook_timeout_secs.max(1).into()),
            config.webhook_allow_private,
        )?;
        let rules = Rules {
            retry_for: time::Duration::hours(config.webhook_retry_hours.into()),
            ..Rules::default()
        };
        let base_path = config.base_path.clone();
        let base_url: BaseUrl = Arc::new(move |tenant: &TenantId| {
            crate::http::tenancy::scim_base(&origin, tenant, &base_path)
        });
        let lease: Arc<dyn Lease> = match postgres {
            Some(pg) => Arc::new(PgLease::new(pg)),
            None => Arc::new(Alone),
        };
        let dispatcher = Dispatcher::new(core, Arc::new(sender), rules, base_url, lease);
        Ok(Some(tokio::spawn(dispatcher.run())))
    }

    /// Runs until dropped (its task aborted): checks the lease every second, and while it is
    /// held starts a worker for each enabled endpoint that has none (listed every
    /// [`LIST_EVERY`]); when it is lost, stops them.
    pub async fn run(self: Arc<Self>) {
        let mut listed: Option<std::time::Instant> = None;
        loop {
            if self.lease.hold().await {
                if listed.is_none_or(|at| at.elapsed() >= LIST_EVERY) {
                    if let Err(e) = self.start_workers().await {
                        tracing::warn!(error = %e, "listing webhook endpoints");
                    }
                    listed = Some(std::time::Instant::now());
                }
            } else {
                self.stop_workers();
                listed = None;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }

    async fn start_workers(self: &Arc<Self>) -> Result<(), scim_core::Error> {
        let mut wanted = Vec::new();
        for tenant in self.core.store().tenants().await? {
            for endpoint in self.core.store().webhooks(&tenant.id).await? {
                if endpoint.enabled {
                    wanted.push((tenant.id.clone(), endpoint.id));
                }
            }
        }
        let Ok(mut workers) = self.workers.lock() else {
            return Ok(());
        };
        workers.retain(|_, w| !w.is_finished());
        for key in wanted {
            if workers.contains_key(&key) {
                continue;
            }
            let worker = Worker {
                core: Arc::clone(&self.core),
                sender: Arc::clone(&self.sender),
                rules: self.rules,
                base_url: Arc::clone(&self.base_url),
                tick: self.tick,
            };
            let (tenant, id) = key.clone();
            workers.insert(
                key,
                tokio::spawn(async move { worker.work(tenant, id).await }),
            );
        }
        Ok(())
    }

    fn stop_workers(&self) {
        if let Ok(mut workers) = self.workers.lock() {
            for (_, w) in workers.drain() {
                w.abort();
            }
        }
    }
}

impl Drop for Dispatcher {
    fn drop(&mut self) {
        self.stop_workers();
    }
}

/// What one endpoint's worker needs (never the dispatcher itself, whose drop stops them).
struct Worker {
    core: Arc<Core>,
    sender: Arc<dyn Sender>,
    rules: Rules,
    base_url: BaseUrl,
    tick: Duration,
}

impl Worker {
    /// Delivers until the endpoint is disabled or gone.
    async fn work(&self, tenant: TenantId, id: String) {
        let base_url = (self.base_url)(&tenant);
        let mut idle = self.tick;
        loop {
            let jitter = random_unit();
            let step = self
                .core
                .deliver(
                    &tenant,
                    &id,
                    self.sender.as_ref(),
                    &self.rules,
                    &base_url,
                    jitter,
                )
                .await;
            if !matches!(step, Ok(Step::Idle)) {
                idle = self.tick;
            }
            match step {
                Ok(Step::Worked) => tokio::task::yield_now().await,
                Ok(Step::Idle) => {
                    tokio::time::sleep(idle).await;
                    idle = (idle * 2).min(IDLE_AT_MOST.max(self.tick));
                }
                Ok(Step::WaitUntil(at)) => {
                    let left = at - self.core.clock_now();
                    let left = Duration::try_from(left).unwrap_or_default();
                    tokio::time::sleep(left.min(self.tick)).await;
                }
                Ok(Step::Disabled) => return,
                Err(e) => {
                    tracing::warn!(tenant = %tenant, endpoint = %id, error = %e, "webhook delivery");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }
}

/// A random number in 0..1 from the OS.
fn random_unit() -> f64 {
    let mut b = [0u8; 4];
    let _ = getrandom::getrandom(&mut b);
    f64::from(u32::from_le_bytes(b)) / f64::from(u32::MAX)
}
