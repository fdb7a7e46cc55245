//! The harness: a throwaway cluster with one database, two replicas in this process, and a
//! small HTTP client for each.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{json, Value};
use server::app::App;
use server::config::{Config, DatabaseUrl, FrontDoor, StoreKind};

pub(crate) const SCIM: &str = "application/scim+json";

/// `database_connect_timeout_secs` of every replica here: what a request may wait for a
/// connection while the database is away.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// How long a change made on one replica may take to be refused by the other.
pub(crate) const PROPAGATION: Duration = Duration::from_secs(1);

/// How long a committed entry may wait for its number in the feed (while transactions that began
/// before it are still in flight): generous, for a slow machine.
pub(crate) const SETTLE: Duration = Duration::from_secs(10);

/// Whether a feed holds a `create` entry for each of `ids`.
pub(crate) fn creates_all(feed: &[Value], ids: &[&str]) -> bool {
    let created: BTreeSet<&str> = feed
        .iter()
        .filter(|e| e["action"] == "create")
        .filter_map(|e| e["target_id"].as_str())
        .collect();
    ids.iter().all(|id| created.contains(id))
}

// ---------------------------------------------------------------------------------------------
// The harness.

/// A response, read whole, with how long it took.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) headers: reqwest::header::HeaderMap,
    pub(crate) text: String,
    pub(crate) body: Value,
    pub(crate) elapsed: Duration,
}

impl Reply {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub(crate) fn id(&self) -> String {
        self.body["id"]
            .as_str()
            .unwrap_or_else(|| panic!("an id in {}", self.text))
            .to_string()
    }

    pub(crate) fn expect(&self, status: u16, what: &str) -> &Self {
        assert_eq!(self.status, status, "{what}: {}", self.text);
        self
    }

    /// Why this is not a SCIM Error with `status` (content type, schema, status, detail).
    pub(crate) fn scim_error_problem(&self, status: u16) -> Option<String> {
        if self.status != status {
            return Some(format!(
                "status {} (wanted {status}): {}",
                self.status, self.text
            ));
        }
        if self.header("content-type") != Some(SCIM) {
            return Some(format!(
                "a {status} with content type {:?}: {}",
                self.header("content-type"),
                self.text
            ));
        }
        if status == 503 && self.header("retry-after").is_none() {
            return Some(format!("a 503 without Retry-After: {}", self.text));
        }
        let status_text = status.to_string();
        if self.body["schemas"][0] != "urn:ietf:params:scim:api:messages:2.0:Error"
            || self.body["status"].as_str() != Some(status_text.as_str())
            || self.body["detail"].as_str().is_none_or(str::is_empty)
        {
            return Some(format!("not a SCIM Error body: {}", self.text));
        }
        None
    }

    pub(crate) fn assert_error(&self, status: u16, scim_type: Option<&str>) {
        if let Some(problem) = self.scim_error_problem(status) {
            panic!("{problem}");
        }
        assert_eq!(
            self.body["scimType"].as_str(),
            scim_type,
            "scimType: {}",
            self.text
        );
    }
}

/// One replica as its clients see it: where it listens and the keys to use.
#[derive(Clone)]
pub(crate) struct Api {
    pub(crate) name: &'static str,
    pub(crate) client: reqwest::Client,
    /// `http://127.0.0.1:PORT`
    pub(crate) origin: String,
    /// The default tenant's SCIM key.
    pub(crate) key: String,
    /// The operator's admin key.
    pub(crate) admin: String,
}

impl Api {
    /// A request to `origin + path` with `key` (none: no `Authorization`), a JSON body (as
    /// `application/scim+json` under a SCIM base) and an `If-Match`. A transport failure (the
    /// replica is gone) is `Err`.
    pub(crate) async fn try_call(
        &self,
        method: Method,
        path: &str,
        key: Option<&str>,
        body: Option<&Value>,
        if_match: Option<&str>,
    ) -> Result<Reply, reqwest::Error> {
        let started = Instant::now();
        let mut r = self
            .client
            .request(method, format!("{}{path}", self.origin));
        if let Some(k) = key {
            r = r.bearer_auth(k);
        }
        if let Some(tag) = if_match {
            r = r.header("If-Match", tag);
        }
        if let Some(b) = body {
            let media = if path.contains("/scim/v2") {
                SCIM
            } else {
                "application/json"
            };
            r = r.header("Content-Type", media).body(b.to_string());
        }
        let response = r.send().await?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await?;
        Ok(Reply {
            status,
            headers,
            body: serde_json::from_str(&text).unwrap_or(Value::Null),
            text,
            elapsed: started.elapsed(),
        })
    }

    pub(crate) async fn call(
        &self,
        method: Method,
        path: &str,
        key: Option<&str>,
        body: Option<&Value>,
        if_match: Option<&str>,
    ) -> Reply {
        self.try_call(method.clone(), path, key, body, if_match)
            .await
            .unwrap_or_else(|e| panic!("{} {method} {path}: {e}", self.name))
    }

    /// The default tenant's SCIM API with its key.
    pub(crate) async fn scim(&self, method: Method, path: &str, body: Option<Value>) -> Reply {
        self.call(
            method,
            &format!("/scim/v2{path}"),
            Some(&self.key),
            body.as_ref(),
            None,
        )
        .await
    }

    /// The admin API (`/admin/v1`) with the operator's key.
    pub(crate) async fn admin(&self, method: Method, path: &str, body: Option<Value>) -> Reply {
        self.call(
            method,
            &format!("/admin/v1{path}"),
            Some(&self.admin),
            body.as_ref(),
            None,
        )
        .await
    }

    pub(crate) async fn create_user(&self, user_name: &str) -> String {
        self.scim(Method::POST, "/Users", Some(user_body(user_name)))
            .await
            .expect(201, "create")
            .id()
    }

    /// A resource's history through the admin API (newest first): `users` or `groups`.
    pub(crate) async fn history(&self, plural: &str, id: &str) -> Vec<Value> {
        let r = self
            .admin(
                Method::GET,
                &format!("/{plural}/{id}/history?count=1000"),
                None,
            )
            .await;
        r.expect(200, "history");
        r.body["entries"].as_array().expect("entries").clone()
    }

    /// A resource's history once every entry in it has its number. An entry is numbered once
    /// every transaction that began before its own has ended, in any database of the cluster:
    /// until then the history shows it with `seq` 0 (and the feed not at all).
    pub(crate) async fn settled_history(&self, plural: &str, id: &str) -> Vec<Value> {
        let started = Instant::now();
        loop {
            let h = self.history(plural, id).await;
            if h.iter().all(|e| e["seq"].as_u64().is_some_and(|s| s > 0)) {
                return h;
            }
            assert!(
                started.elapsed() < SETTLE,
                "{}: the history of {id} is not numbered within {SETTLE:?}: {h:#?}",
                self.name
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The whole feed once `holds` holds of it (entries join it a moment after their commit).
    pub(crate) async fn feed_holding(
        &self,
        what: &str,
        holds: impl Fn(&[Value]) -> bool,
    ) -> Vec<Value> {
        let started = Instant::now();
        loop {
            let feed = self.feed().await;
            if holds(&feed) {
                return feed;
            }
            assert!(
                started.elapsed() < SETTLE,
                "{}: the feed holds no {what} within {SETTLE:?}",
                self.name
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The default tenant's whole feed through the admin API, oldest first.
    pub(crate) async fn feed(&self) -> Vec<Value> {
        let mut all = Vec::new();
        let mut after = 0;
        loop {
            let page = self
                .admin(
                    Method::GET,
                    &format!("/audit?after={after}&limit=1000"),
                    None,
                )
                .await;
            page.expect(200, "audit");
            let entries = page.body["entries"].as_array().expect("entries").clone();
            if entries.is_empty() {
                return all;
            }
            after = page.body["next"].as_u64().expect("next");
            all.extend(entries);
        }
    }
}

pub(crate) fn user_body(user_name: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": user_name,
        "name": {"givenName": "Given", "familyName": "Family"},
        "emails": [{"value": format!("{user_name}@example.com"), "type": "work", "primary": true}],
        "active": true
    })
}

pub(crate) fn patch_op(ops: Value) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops})
}

/// A replica running in this process.
pub(crate) struct Replica {
    pub(crate) running: Option<server::http::Running>,
    pub(crate) app: Arc<App>,
    pub(crate) pg: scim_postgres::PgStore,
    pub(crate) _dir: tempfile::TempDir,
}

/// A throwaway cluster with one database.
pub(crate) struct Db {
    pub(crate) cluster: Arc<pg_cluster::Cluster>,
    pub(crate) url: String,
}

impl Db {
    pub(crate) async fn start() -> Db {
        let cluster = tokio::task::spawn_blocking(|| {
            let c = pg_cluster::Cluster::start().expect("a PostgreSQL cluster");
            c.create_database("scim").expect("createdb");
            c
        })
        .await
        .expect("cluster task");
        let url = cluster.url("scim");
        Db {
            cluster: Arc::new(cluster),
            url,
        }
    }

    /// Runs SQL on the database directly (to break it on purpose, or to look).
    pub(crate) async fn sql(&self, statements: &str) {
        let (client, connection) = self
            .url
            .parse::<tokio_postgres::Config>()
            .expect("url")
            .connect(tokio_postgres::NoTls)
            .await
            .expect("connect");
        let driver = tokio::spawn(connection);
        client
            .batch_execute(statements)
            .await
            .unwrap_or_else(|e| panic!("{statements}: {e}"));
        drop(client);
        let _ = driver.await;
    }

    /// `pg_ctl stop` (fast: connections are cut) or `start`, off the async threads.
    pub(crate) async fn pg_ctl(&self, start: bool) {
        let c = Arc::clone(&self.cluster);
        tokio::task::spawn_blocking(move || if start { c.restart() } else { c.stop() })
            .await
            .expect("pg_ctl task")
            .expect("pg_ctl");
    }
}

pub(crate) fn config_for(url: &str, dir: &Path) -> Config {
    Config {
        store: StoreKind::Postgres,
        database_url: Some(DatabaseUrl(url.to_string())),
        database_pool_size: 8,
        database_connect_timeout_secs: CONNECT_TIMEOUT.as_secs() as u32,
        data_dir: dir.to_path_buf(),
        listen: "127.0.0.1:0".parse().expect("address"),
        // Tests send failing requests from one address on purpose.
        rate_limit_unauthenticated: 0.0,
        // As clients of a server on a public address come in.
        front_door: FrontDoor::On,
        // The test's client keeps idle connections open: a stop waits this long for them.
        shutdown_grace_secs: 1,
        ..Config::default()
    }
}

/// Starts a replica on `url` as `serve` does: the first keys minted under the database-wide
/// lock (returned when this replica minted them).
pub(crate) async fn start_replica(url: &str) -> (Replica, String, Option<String>, Option<String>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = config_for(url, dir.path());
    let opened = server::open(&config).await.expect("the store opens");
    let core = server::core(&config, Arc::clone(&opened.store)).expect("the core");
    let (key, admin) = server::first_start(&opened, &core)
        .await
        .expect("first keys");
    let pg = opened.postgres().expect("a PostgreSQL store").clone();
    let app = Arc::new(App::new(config, core));
    let running = server::http::start(Arc::clone(&app))
        .await
        .expect("the server starts");
    let origin = format!("http://{}", running.addr);
    (
        Replica {
            running: Some(running),
            app,
            pg,
            _dir: dir,
        },
        origin,
        key,
        admin,
    )
}

pub(crate) fn client() -> reqwest::Client {
    // A request that hangs fails the test instead of the test hanging.
    reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .expect("client")
}

/// Two replicas, A and B, on one database of a cluster of their own.
pub(crate) struct Pair {
    pub(crate) a: Api,
    pub(crate) b: Api,
    pub(crate) replicas: Vec<Replica>,
    /// Dropped last: the cluster stops once the replicas have.
    pub(crate) db: Db,
}

impl Pair {
    pub(crate) async fn start() -> Pair {
        let db = Db::start().await;
        Pair::on(db).await
    }

    pub(crate) async fn on(db: Db) -> Pair {
        let (ra, origin_a, key, admin) = start_replica(&db.url).await;
        let (rb, origin_b, key_b, admin_b) = start_replica(&db.url).await;
        assert_eq!(
            (key_b, admin_b),
            (None, None),
            "the second replica finds the first one's keys"
        );
        let key = key.expect("a first SCIM key");
        let admin = admin.expect("a first admin key");
        let client = client();
        let api = |name, origin| Api {
            name,
            client: client.clone(),
            origin,
            key: key.clone(),
            admin: admin.clone(),
        };
        Pair {
            a: api("A", origin_a),
            b: api("B", origin_b),
            replicas: vec![ra, rb],
            db,
        }
    }

    /// Both replicas' key and tenant listeners are connected (their caches are in use).
    pub(crate) async fn wait_listening(&self) {
        wait_until(
            "both replicas' listeners connect",
            Duration::from_secs(30),
            || async { self.replicas.iter().all(|r| r.pg.listening()) },
        )
        .await;
    }

    /// Stops both replicas at once (each flushes its store: numbers its feeds).
    pub(crate) async fn stop(mut self) {
        let stops: Vec<_> = self
            .replicas
            .iter_mut()
            .filter_map(|r| r.running.take())
            .map(|running| tokio::spawn(running.stop()))
            .collect();
        for stop in stops {
            stop.await.expect("stop task").expect("a clean stop");
        }
    }
}

/// Polls `check` every 20 ms until it holds; panics after `limit`.
pub(crate) async fn wait_until<F, Fut>(what: &str, limit: Duration, mut check: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    loop {
        if check().await {
            return started.elapsed();
        }
        assert!(started.elapsed() < limit, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The first request after a change that gets `refused`: retried for up to [`PROPAGATION`],
/// each earlier answer `still` (the change not seen yet). Returns how long it took to be refused.
pub(crate) async fn refused_within<F, Fut>(
    what: &str,
    still: u16,
    refused: u16,
    mut ask: F,
) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Reply>,
{
    let started = Instant::now();
    let mut tries = 0;
    loop {
        let r = ask().await;
        tries += 1;
        if r.status == refused {
            let took = started.elapsed();
            eprintln!("{what}: refused after {took:?} ({tries} requests)");
            return took;
        }
        assert_eq!(r.status, still, "{what}: {}", r.text);
        assert!(
            started.elapsed() < PROPAGATION,
            "{what}: still {still} after {:?} ({tries} requests)",
            started.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

pub(crate) fn ids(entries: &[Value], field: &str) -> Vec<String> {
    entries
        .iter()
        .map(|e| e[field].as_str().unwrap_or_default().to_string())
        .collect()
}

impl Db {
    /// The process ids of the backends serving the replicas' `LISTEN` connections.
    pub(crate) async fn listener_backends(&self) -> Vec<i32> {
        let (client, connection) = self
            .url
            .parse::<tokio_postgres::Config>()
            .expect("url")
            .connect(tokio_postgres::NoTls)
            .await
            .expect("connect");
        let driver = tokio::spawn(connection);
        let pids = client
            .query(
                "SELECT pid FROM pg_stat_activity WHERE query ILIKE 'LISTEN %'",
                &[],
            )
            .await
            .expect("pg_stat_activity")
            .iter()
            .map(|r| r.get(0))
            .collect();
        drop(client);
        let _ = driver.await;
        pids
    }
}

impl Db {
    /// The postmaster and every process it started.
    pub(crate) fn processes(&self) -> Vec<i32> {
        let pidfile = self
            .cluster
            .socket_dir()
            .join("data")
            .join("postmaster.pid");
        let text = std::fs::read_to_string(&pidfile).expect("postmaster.pid");
        let postmaster: i32 = text
            .lines()
            .next()
            .and_then(|l| l.trim().parse().ok())
            .expect("the postmaster's pid");
        let children = std::process::Command::new("pgrep")
            .arg("-P")
            .arg(postmaster.to_string())
            .output()
            .expect("pgrep");
        let mut pids: Vec<i32> = String::from_utf8_lossy(&children.stdout)
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect();
        pids.push(postmaster);
        pids
    }
}

/// Mints a SCIM key of `default` on A and has B accept it (B's key cache now holds it).
pub(crate) async fn key_warm_on_b(p: &Pair, label: &str) -> (String, String) {
    p.wait_listening().await;
    let minted =
        p.a.admin(Method::POST, "/keys", Some(json!({"label": label})))
            .await;
    minted.expect(201, "mint");
    let key = minted.body["key"].as_str().expect("key").to_string();
    let id = minted.body["info"]["id"].as_str().expect("id").to_string();
    for _ in 0..3 {
        p.b.call(Method::GET, "/scim/v2/Users", Some(&key), None, None)
            .await
            .expect(200, "the new key on B");
    }
    (key, id)
}
