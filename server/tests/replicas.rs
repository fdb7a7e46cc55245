//! Two replicas of the server on one PostgreSQL database. Each test starts a throwaway cluster of
//! its own (`pg-cluster`), creates a database, starts two real servers on 127.0.0.1 port 0 in this
//! process (each with its own engine: its own pool, key cache and listener, feed sequencer) and
//! talks HTTP to them; one test runs a replica as the real binary, to SIGKILL it.
//!
//! What replicas must agree on lives in the database: a resource made on one is read, changed and
//! deleted on the other; a name is unique across both; `If-Match` holds across both; a key revoked
//! or a tenant disabled on one is refused by the other within a second; concurrent member adds
//! through both all stick; the feed read on one never skips what the other commits late. And the
//! faults: PostgreSQL restarting under load (clean 503s, nothing acknowledged lost, both serve
//! again on their own) and a replica killed mid-write (nothing acknowledged lost).
//!
//! Checks that could pass vacuously have a test of their teeth beside them: the same check run
//! against a database broken on purpose (no unique index, a feed numbered at insert, a revocation
//! no replica is told of) must fail.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{json, Value};
use server::app::App;
use server::config::{Config, DatabaseUrl, FrontDoor, StoreKind};
use tokio::sync::Barrier;

const SCIM: &str = "application/scim+json";

/// `database_connect_timeout_secs` of every replica here: what a request may wait for a
/// connection while the database is away.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// How long a change made on one replica may take to be refused by the other.
const PROPAGATION: Duration = Duration::from_secs(1);

/// How long a committed entry may wait for its number in the feed (while transactions that began
/// before it are still in flight): generous, for a slow machine.
const SETTLE: Duration = Duration::from_secs(10);

/// Whether a feed holds a `create` entry for each of `ids`.
fn creates_all(feed: &[Value], ids: &[&str]) -> bool {
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
struct Reply {
    status: u16,
    headers: reqwest::header::HeaderMap,
    text: String,
    body: Value,
    elapsed: Duration,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn id(&self) -> String {
        self.body["id"]
            .as_str()
            .unwrap_or_else(|| panic!("an id in {}", self.text))
            .to_string()
    }

    fn expect(&self, status: u16, what: &str) -> &Self {
        assert_eq!(self.status, status, "{what}: {}", self.text);
        self
    }

    /// Why this is not a SCIM Error with `status` (content type, schema, status, detail).
    fn scim_error_problem(&self, status: u16) -> Option<String> {
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
        let status_text = status.to_string();
        if self.body["schemas"][0] != "urn:ietf:params:scim:api:messages:2.0:Error"
            || self.body["status"].as_str() != Some(status_text.as_str())
            || self.body["detail"].as_str().is_none_or(str::is_empty)
        {
            return Some(format!("not a SCIM Error body: {}", self.text));
        }
        None
    }

    fn assert_error(&self, status: u16, scim_type: Option<&str>) {
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
struct Api {
    name: &'static str,
    client: reqwest::Client,
    /// `http://127.0.0.1:PORT`
    origin: String,
    /// The default tenant's SCIM key.
    key: String,
    /// The operator's admin key.
    admin: String,
}

impl Api {
    /// A request to `origin + path` with `key` (none: no `Authorization`), a JSON body (as
    /// `application/scim+json` under a SCIM base) and an `If-Match`. A transport failure (the
    /// replica is gone) is `Err`.
    async fn try_call(
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

    async fn call(
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
    async fn scim(&self, method: Method, path: &str, body: Option<Value>) -> Reply {
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
    async fn admin(&self, method: Method, path: &str, body: Option<Value>) -> Reply {
        self.call(
            method,
            &format!("/admin/v1{path}"),
            Some(&self.admin),
            body.as_ref(),
            None,
        )
        .await
    }

    async fn create_user(&self, user_name: &str) -> String {
        self.scim(Method::POST, "/Users", Some(user_body(user_name)))
            .await
            .expect(201, "create")
            .id()
    }

    /// A resource's history through the admin API (newest first): `users` or `groups`.
    async fn history(&self, plural: &str, id: &str) -> Vec<Value> {
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
    async fn settled_history(&self, plural: &str, id: &str) -> Vec<Value> {
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
    async fn feed_holding(&self, what: &str, holds: impl Fn(&[Value]) -> bool) -> Vec<Value> {
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
    async fn feed(&self) -> Vec<Value> {
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

fn user_body(user_name: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": user_name,
        "name": {"givenName": "Given", "familyName": "Family"},
        "emails": [{"value": format!("{user_name}@example.com"), "type": "work", "primary": true}],
        "active": true
    })
}

fn patch_op(ops: Value) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops})
}

/// A replica running in this process.
struct Replica {
    running: Option<server::http::Running>,
    app: Arc<App>,
    pg: scim_postgres::PgStore,
    _dir: tempfile::TempDir,
}

/// A throwaway cluster with one database.
struct Db {
    cluster: Arc<pg_cluster::Cluster>,
    url: String,
}

impl Db {
    async fn start() -> Db {
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
    async fn sql(&self, statements: &str) {
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
    async fn pg_ctl(&self, start: bool) {
        let c = Arc::clone(&self.cluster);
        tokio::task::spawn_blocking(move || if start { c.restart() } else { c.stop() })
            .await
            .expect("pg_ctl task")
            .expect("pg_ctl");
    }
}

fn config_for(url: &str, dir: &Path) -> Config {
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
async fn start_replica(url: &str) -> (Replica, String, Option<String>, Option<String>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = config_for(url, dir.path());
    let opened = server::open(&config).await.expect("the store opens");
    let core = server::core(&config, Arc::clone(&opened.store));
    let (key, admin) = opened
        .alone(async {
            core.ensure_default_tenant().await?;
            let scim = core
                .ensure_scim_key(&scim_core::model::TenantId::default_tenant())
                .await?;
            let admin = core.ensure_operator_key().await?;
            Ok::<_, scim_core::Error>((scim, admin))
        })
        .await
        .expect("the first-start lock")
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

fn client() -> reqwest::Client {
    // A request that hangs fails the test instead of the test hanging.
    reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .expect("client")
}

/// Two replicas, A and B, on one database of a cluster of their own.
struct Pair {
    a: Api,
    b: Api,
    replicas: Vec<Replica>,
    /// Dropped last: the cluster stops once the replicas have.
    db: Db,
}

impl Pair {
    async fn start() -> Pair {
        let db = Db::start().await;
        Pair::on(db).await
    }

    async fn on(db: Db) -> Pair {
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
    async fn wait_listening(&self) {
        wait_until(
            "both replicas' listeners connect",
            Duration::from_secs(30),
            || async { self.replicas.iter().all(|r| r.pg.listening()) },
        )
        .await;
    }

    /// Stops both replicas at once (each flushes its store: numbers its feeds).
    async fn stop(mut self) {
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
async fn wait_until<F, Fut>(what: &str, limit: Duration, mut check: F) -> Duration
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
async fn refused_within<F, Fut>(what: &str, still: u16, refused: u16, mut ask: F) -> Duration
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

fn ids(entries: &[Value], field: &str) -> Vec<String> {
    entries
        .iter()
        .map(|e| e[field].as_str().unwrap_or_default().to_string())
        .collect()
}

// ---------------------------------------------------------------------------------------------
// One resource, two replicas.

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_resource_created_on_one_replica_is_read_changed_and_deleted_on_the_other() {
    let p = Pair::start().await;
    let created =
        p.a.scim(Method::POST, "/Users", Some(user_body("Carol")))
            .await;
    created.expect(201, "create on A");
    let id = created.id();
    let etag = created.header("etag").expect("an ETag").to_string();

    // Read on B: the same resource, the same version.
    let read = p.b.scim(Method::GET, &format!("/Users/{id}"), None).await;
    read.expect(200, "read on B");
    assert_eq!(read.body["userName"], "Carol");
    assert_eq!(read.header("etag"), Some(etag.as_str()));
    let found =
        p.b.scim(Method::GET, "/Users?filter=userName+eq+%22CAROL%22", None)
            .await;
    assert_eq!(found.body["totalResults"], 1, "{}", found.text);
    assert_eq!(found.body["Resources"][0]["id"], id.as_str());

    // PATCH on B under A's ETag; A sees it.
    let patched =
        p.b.call(
            Method::PATCH,
            &format!("/scim/v2/Users/{id}"),
            Some(&p.b.key),
            Some(&patch_op(
                json!([{"op": "replace", "path": "title", "value": "Engineer"}]),
            )),
            Some(&etag),
        )
        .await;
    patched.expect(200, "PATCH on B");
    let seen = p.a.scim(Method::GET, &format!("/Users/{id}"), None).await;
    assert_eq!(seen.body["title"], "Engineer");
    assert_ne!(
        seen.header("etag"),
        Some(etag.as_str()),
        "the version moved"
    );
    assert_eq!(seen.header("etag"), patched.header("etag"));

    // A group made on B with the user; A lists it among the user's groups.
    let group =
        p.b.scim(
            Method::POST,
            "/Groups",
            Some(
                json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                "displayName": "Engineers", "members": [{"value": id}]}),
            ),
        )
        .await;
    group.expect(201, "group on B");
    let gid = group.id();
    let user_on_a = p.a.scim(Method::GET, &format!("/Users/{id}"), None).await;
    assert_eq!(user_on_a.body["groups"][0]["value"], gid.as_str());

    // The histories read the same on both.
    let history_a = p.a.settled_history("users", &id).await;
    assert_eq!(history_a, p.b.history("users", &id).await);
    assert_eq!(
        ids(&history_a, "action"),
        ["create", "patch", "create"],
        "newest first: the group's create, the patch, the user's create"
    );

    // Delete on B: gone on A too, and out of the group.
    p.b.scim(Method::DELETE, &format!("/Users/{id}"), None)
        .await
        .expect(204, "delete on B");
    p.a.scim(Method::GET, &format!("/Users/{id}"), None)
        .await
        .assert_error(404, None);
    let g = p.a.scim(Method::GET, &format!("/Groups/{gid}"), None).await;
    assert!(
        g.body["members"].as_array().is_none_or(Vec::is_empty),
        "{}",
        g.text
    );
    p.a.scim(Method::POST, "/Users", Some(user_body("carol")))
        .await
        .expect(201, "the name is free again, on the other replica");

    // History and feed: the same on both, every change of the user in it, in order.
    let history_b = p.b.settled_history("users", &id).await;
    assert_eq!(history_b, p.a.history("users", &id).await);
    assert_eq!(history_b[0]["action"], "delete");
    let feed_a =
        p.a.feed_holding("delete of the user", |f| {
            f.iter()
                .any(|e| e["target_id"] == id.as_str() && e["action"] == "delete")
        })
        .await;
    assert_eq!(feed_a, p.b.feed().await);
    let seqs: Vec<u64> = feed_a
        .iter()
        .map(|e| e["seq"].as_u64().expect("seq"))
        .collect();
    assert_eq!(
        seqs,
        (1..=seqs.len() as u64).collect::<Vec<_>>(),
        "numbered 1, 2, 3… with no gap"
    );
    let of_user: Vec<&str> = feed_a
        .iter()
        .filter(|e| e["target_id"] == id.as_str())
        .map(|e| e["action"].as_str().expect("action"))
        .collect();
    assert_eq!(of_user, ["create", "patch", "delete"]);
    p.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Uniqueness across replicas.

/// `rounds` races: `Alice{n}` created on A while `alice{n}` is created on B. Each must end in
/// exactly one 201 and one 409 `uniqueness`, and one user of that name.
async fn race_creates(p: &Pair, rounds: usize) -> Result<(), String> {
    for round in 0..rounds {
        let barrier = Arc::new(Barrier::new(2));
        let mut tasks = Vec::new();
        for (api, name) in [
            (p.a.clone(), format!("Alice{round}")),
            (p.b.clone(), format!("alice{round}")),
        ] {
            let barrier = Arc::clone(&barrier);
            tasks.push(tokio::spawn(async move {
                barrier.wait().await;
                api.scim(Method::POST, "/Users", Some(user_body(&name)))
                    .await
            }));
        }
        let mut statuses = Vec::new();
        for t in tasks {
            let r = t.await.expect("task");
            if r.status == 409 {
                r.assert_error(409, Some("uniqueness"));
            }
            statuses.push(r.status);
        }
        statuses.sort_unstable();
        if statuses != [201, 409] {
            return Err(format!(
                "round {round}: {statuses:?}, not one 201 and one 409"
            ));
        }
        for api in [&p.a, &p.b] {
            let found = api
                .scim(
                    Method::GET,
                    &format!("/Users?filter=userName+eq+%22alice{round}%22"),
                    None,
                )
                .await;
            if found.body["totalResults"] != 1 {
                return Err(format!("round {round} on {}: {}", api.name, found.text));
            }
        }
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_creates_of_one_name_on_two_replicas_yield_one_201_and_one_409() {
    let p = Pair::start().await;
    race_creates(&p, 10).await.expect("every round");
    let all = p.b.scim(Method::GET, "/Users", None).await;
    assert_eq!(all.body["totalResults"], 10);
    p.stop().await;
}

/// The race above fails on a database without the unique index on the folded names: the check
/// has teeth (the core has no other guard across replicas).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn teeth_the_create_race_fails_without_the_unique_index() {
    let p = Pair::start().await;
    p.db.sql("DROP INDEX scim_resources_name_key").await;
    match race_creates(&p, 3).await {
        Ok(()) => panic!("two users of one name went unnoticed"),
        Err(why) => eprintln!("without the unique index: {why}"),
    }
    p.stop().await;
}

// ---------------------------------------------------------------------------------------------
// If-Match across replicas.

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_if_match_writes_on_two_replicas_one_200_one_412() {
    let p = Pair::start().await;
    let id = p.a.create_user("dave").await;
    let path = format!("/scim/v2/Users/{id}");
    let rounds = 8;
    for round in 0..rounds {
        let etag =
            p.a.scim(Method::GET, &format!("/Users/{id}"), None)
                .await
                .header("etag")
                .expect("etag")
                .to_string();
        let barrier = Arc::new(Barrier::new(2));
        // A PUT on one replica, a PATCH on the other, swapped every round; each changes the
        // title to a value of its own, so neither is a no-op.
        let mut tasks = Vec::new();
        for (n, api) in [p.a.clone(), p.b.clone()].into_iter().enumerate() {
            let (barrier, etag, path) = (Arc::clone(&barrier), etag.clone(), path.clone());
            let title = format!("{} round {round}", api.name);
            let put = (n + round) % 2 == 0;
            tasks.push(tokio::spawn(async move {
                let (method, body) = if put {
                    let mut body = user_body("dave");
                    body["title"] = json!(title);
                    (Method::PUT, body)
                } else {
                    (
                        Method::PATCH,
                        patch_op(json!([{"op": "replace", "path": "title", "value": title}])),
                    )
                };
                barrier.wait().await;
                let r = api
                    .call(method, &path, Some(&api.key), Some(&body), Some(&etag))
                    .await;
                (title, r)
            }));
        }
        let mut winners = Vec::new();
        let mut refused = 0;
        for t in tasks {
            let (title, r) = t.await.expect("task");
            match r.status {
                200 => winners.push((title, r)),
                412 => {
                    r.assert_error(412, None);
                    refused += 1;
                }
                other => panic!("round {round}: {other}: {}", r.text),
            }
        }
        assert_eq!(
            (winners.len(), refused),
            (1, 1),
            "round {round}: one 200 and one 412"
        );
        let (title, won) = &winners[0];
        for api in [&p.a, &p.b] {
            let now = api.scim(Method::GET, &format!("/Users/{id}"), None).await;
            assert_eq!(
                now.body["title"],
                title.as_str(),
                "the winner's write stands"
            );
            assert_eq!(now.header("etag"), won.header("etag"));
        }
    }
    // One entry per committed write: the create and one per round.
    let history = p.b.settled_history("users", &id).await;
    assert_eq!(history.len(), 1 + rounds, "{history:#?}");
    assert_eq!(history, p.a.history("users", &id).await);
    p.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Keys and tenants: what one replica changes, the other's cache must not hide.

/// Mints a SCIM key of `default` on A and has B accept it (B's key cache now holds it).
async fn key_warm_on_b(p: &Pair, label: &str) -> (String, String) {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_key_revoked_on_one_replica_is_refused_by_the_other_within_a_second() {
    let p = Pair::start().await;
    for round in 0..3 {
        let (key, id) = key_warm_on_b(&p, &format!("rotating {round}")).await;
        p.a.admin(Method::DELETE, &format!("/keys/{id}"), None)
            .await
            .expect(200, "revoke on A");
        // From the moment the revocation is answered.
        refused_within("a key revoked on A, used on B", 200, 401, || {
            p.b.call(Method::GET, "/scim/v2/Users", Some(&key), None, None)
        })
        .await;
        for api in [&p.a, &p.b, &p.b] {
            api.call(Method::GET, "/scim/v2/Users", Some(&key), None, None)
                .await
                .assert_error(401, None);
        }
    }
    // The first key still works on both.
    p.b.scim(Method::GET, "/Users", None)
        .await
        .expect(200, "the first key");
    p.stop().await;
}

/// What the test above measures is the notification: a revocation written to the database
/// without one (as a replica that forgot to notify would) is not seen by B, whose cache holds the
/// key, until a notification arrives. So B does cache, and a missing notification would fail the
/// test above.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn teeth_a_revocation_no_replica_is_told_of_is_not_seen_until_a_notification() {
    let p = Pair::start().await;
    let (key, id) = key_warm_on_b(&p, "silent").await;
    p.db.sql(&format!(
        "UPDATE scim_keys SET body = jsonb_set(body, '{{revoked}}', '\"2020-01-01T00:00:00Z\"')
         WHERE id = '{id}'"
    ))
    .await;
    let started = Instant::now();
    while started.elapsed() < PROPAGATION + Duration::from_millis(500) {
        p.b.call(Method::GET, "/scim/v2/Users", Some(&key), None, None)
            .await
            .expect(200, "B's cache still holds the key");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    p.db.sql("NOTIFY scim_changes").await;
    refused_within("after the notification", 200, 401, || {
        p.b.call(Method::GET, "/scim/v2/Users", Some(&key), None, None)
    })
    .await;
    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_tenant_disabled_on_one_replica_is_refused_by_the_other_within_a_second() {
    let p = Pair::start().await;
    p.wait_listening().await;
    let created =
        p.a.admin(Method::POST, "/tenants", Some(json!({"id": "acme"})))
            .await;
    created.expect(201, "tenant on A");
    let key = created.body["key"].as_str().expect("key").to_string();
    let users = "/t/acme/scim/v2/Users";
    for _ in 0..3 {
        p.b.call(Method::GET, users, Some(&key), None, None)
            .await
            .expect(200, "acme's key on B");
    }
    for round in 0..3 {
        // Disabled on A: refused by B. Enabled on B: served by A.
        p.a.admin(
            Method::PATCH,
            "/tenants/acme",
            Some(json!({"status": "disabled"})),
        )
        .await
        .expect(200, "disable on A");
        refused_within(
            &format!("round {round}: a tenant disabled on A, used on B"),
            200,
            401,
            || p.b.call(Method::GET, users, Some(&key), None, None),
        )
        .await;
        p.b.call(Method::GET, users, Some(&key), None, None)
            .await
            .assert_error(401, None);
        p.b.admin(
            Method::PATCH,
            "/tenants/acme",
            Some(json!({"status": "active"})),
        )
        .await
        .expect(200, "enable on B");
        refused_within(
            &format!("round {round}: a tenant enabled on B, used on A"),
            401,
            200,
            || p.a.call(Method::GET, users, Some(&key), None, None),
        )
        .await;
    }
    p.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Concurrent member adds through both replicas.

/// 64 users and a group; then 64 PATCHes at once, each adding one member, half through A and
/// half through B. A PATCH answered 503 is sent again, as an identity provider does, until it is
/// answered 200 (for up to a minute). Checks that every add stuck (the group has the 64 on both
/// replicas) and that the group's history holds exactly one entry per add, naming its member.
/// Returns how many 503s the first attempts met.
async fn member_adds(p: &Pair) -> usize {
    let mut users = BTreeSet::new();
    for i in 0..64 {
        let api = if i % 2 == 0 { &p.a } else { &p.b };
        users.insert(api.create_user(&format!("member{i}")).await);
    }
    let gid =
        p.a.scim(
            Method::POST,
            "/Groups",
            Some(
                json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                "displayName": "Everyone at once"}),
            ),
        )
        .await
        .id();
    let barrier = Arc::new(Barrier::new(users.len()));
    let mut tasks = Vec::new();
    for (i, uid) in users.iter().enumerate() {
        let api = if i % 2 == 0 { p.a.clone() } else { p.b.clone() };
        let (barrier, uid, gid) = (Arc::clone(&barrier), uid.clone(), gid.clone());
        tasks.push(tokio::spawn(async move {
            let add =
                patch_op(json!([{"op": "add", "path": "members", "value": [{"value": uid}]}]));
            barrier.wait().await;
            let started = Instant::now();
            let mut refused = 0;
            loop {
                let r = api
                    .scim(Method::PATCH, &format!("/Groups/{gid}"), Some(add.clone()))
                    .await;
                match r.status {
                    200 => return refused,
                    503 => {
                        r.assert_error(503, None);
                        refused += 1;
                        assert!(
                            started.elapsed() < Duration::from_secs(60),
                            "an add refused for a minute: {}",
                            r.text
                        );
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                    other => panic!("a member add: {other}: {}", r.text),
                }
            }
        }));
    }
    let mut refused = 0;
    for t in tasks {
        refused += t.await.expect("task");
    }
    for api in [&p.a, &p.b] {
        let g = api.scim(Method::GET, &format!("/Groups/{gid}"), None).await;
        let members: BTreeSet<String> = g.body["members"]
            .as_array()
            .expect("members")
            .iter()
            .map(|m| m["value"].as_str().expect("value").to_string())
            .collect();
        assert_eq!(members, users, "every member on {}", api.name);
    }
    let history = p.a.settled_history("groups", &gid).await;
    assert_eq!(history, p.b.history("groups", &gid).await);
    let adds: Vec<&Value> = history.iter().filter(|e| e["action"] == "patch").collect();
    assert_eq!(adds.len(), 64, "one entry per add");
    let added: BTreeSet<String> = adds
        .iter()
        .flat_map(|e| e["related"].as_array().cloned().unwrap_or_default())
        .map(|r| r["target_id"].as_str().expect("target_id").to_string())
        .collect();
    assert_eq!(added, users, "each add names its member");
    refused
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixty_four_member_adds_split_across_replicas_all_stick() {
    let p = Pair::start().await;
    let refused = member_adds(&p).await;
    eprintln!("64 member adds at once: {refused} answers of 503 before each was answered 200");
    p.stop().await;
}

/// The same adds, each answered 200 the first time, as on sled (where 64 at once on one server
/// all succeed). On PostgreSQL a quarter to a half of them are answered 503 "too many concurrent
/// changes": the core recomputes a change at most 32 times, at once, and 64 writers reading and
/// committing one row through the database keep losing to each other (one wins per round). The
/// fix is a retry policy with backoff (the core's `retry.rs`, which has no timer today), not this
/// engine's.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "known: 64 concurrent changes of one group exhaust the core's 32 immediate retries on PostgreSQL (503)"]
async fn sixty_four_member_adds_at_once_are_each_answered_200_the_first_time() {
    let p = Pair::start().await;
    let refused = member_adds(&p).await;
    assert_eq!(
        refused, 0,
        "adds answered 503 \"too many concurrent changes\""
    );
    p.stop().await;
}

// ---------------------------------------------------------------------------------------------
// The feed under concurrent writes.

/// What a feed reader on A saw while writers on both replicas created users.
struct FeedRun {
    polls: usize,
    entries: usize,
}

/// Writers on B (six) and A (two) create `per_writer` users each while a reader on A polls the
/// audit feed with `after` = the last `next` it was given, until it has seen the create of every
/// acknowledged user (entries join the feed a moment after they commit), or the whole feed holds
/// them all and a poll after that brought nothing new. Fails if the reader was given an entry out
/// of order, or if the whole feed read at the end holds an entry the reader never saw (it was
/// skipped), or differs from what it saw, or lacks an acknowledged create.
async fn feed_under_writes(p: &Pair, per_writer: usize) -> Result<FeedRun, String> {
    // The acknowledged creates, once every writer is done.
    let acked_all: Arc<std::sync::Mutex<Option<Vec<String>>>> = Arc::default();
    let reader = {
        let (api, acked_all) = (p.a.clone(), Arc::clone(&acked_all));
        tokio::spawn(async move {
            let mut seen: Vec<Value> = Vec::new();
            let (mut after, mut polls) = (0u64, 0usize);
            let mut last_look = false;
            let started = Instant::now();
            loop {
                let page = api
                    .admin(Method::GET, &format!("/audit?after={after}&limit=50"), None)
                    .await;
                polls += 1;
                if page.status != 200 {
                    return Err(format!("audit: {}", page.text));
                }
                let entries = page.body["entries"].as_array().cloned().unwrap_or_default();
                for e in &entries {
                    let seq = e["seq"].as_u64().unwrap_or(0);
                    if seq <= after {
                        return Err(format!("seq {seq} given after {after}: out of order"));
                    }
                    after = seq;
                }
                seen.extend(entries);
                let acked = acked_all.lock().expect("lock").clone();
                if let Some(acked) = acked {
                    let ids: Vec<&str> = acked.iter().map(String::as_str).collect();
                    if creates_all(&seen, &ids) || last_look {
                        return Ok((seen, polls));
                    }
                    // The reader lacks some: it is behind, or it skipped them. Once the whole
                    // feed holds them all, one more poll tells which.
                    last_look = creates_all(&api.feed().await, &ids);
                    if started.elapsed() > Duration::from_secs(60) {
                        return Err("the feed never held every acknowledged create".into());
                    }
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        })
    };
    let mut writers = Vec::new();
    for w in 0..8 {
        let api = if w < 6 { p.b.clone() } else { p.a.clone() };
        writers.push(tokio::spawn(async move {
            let mut acked = Vec::new();
            for n in 0..per_writer {
                let r = api
                    .scim(
                        Method::POST,
                        "/Users",
                        Some(user_body(&format!("feed-{}-{w}-{n}", api.name))),
                    )
                    .await;
                r.expect(201, "a create");
                acked.push(r.id());
            }
            acked
        }));
    }
    let mut acked = Vec::new();
    for w in writers {
        acked.extend(w.await.expect("writer"));
    }
    *acked_all.lock().expect("lock") = Some(acked.clone());
    let (seen, polls) = reader.await.expect("reader")?;
    let full = p.a.feed().await;
    if full != p.b.feed().await {
        return Err("A and B read different feeds".into());
    }
    let seen_seqs: BTreeSet<u64> = seen.iter().filter_map(|e| e["seq"].as_u64()).collect();
    let skipped: Vec<u64> = full
        .iter()
        .filter_map(|e| e["seq"].as_u64())
        .filter(|s| !seen_seqs.contains(s))
        .collect();
    if !skipped.is_empty() {
        return Err(format!(
            "the reader skipped {} entries (seq {:?}…) of {}",
            skipped.len(),
            &skipped[..skipped.len().min(10)],
            full.len()
        ));
    }
    if seen != full {
        return Err("what the reader saw differs from the feed".into());
    }
    let created: BTreeSet<&str> = full
        .iter()
        .filter(|e| e["action"] == "create")
        .filter_map(|e| e["target_id"].as_str())
        .collect();
    if let Some(missing) = acked.iter().find(|id| !created.contains(id.as_str())) {
        return Err(format!(
            "no feed entry for the acknowledged create of {missing}"
        ));
    }
    Ok(FeedRun {
        polls,
        entries: full.len(),
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_feed_read_on_one_replica_while_both_write_never_skips_an_entry() {
    let p = Pair::start().await;
    let run = feed_under_writes(&p, 25).await.expect("a gap-free feed");
    eprintln!("feed: {} entries read in {} polls", run.entries, run.polls);
    assert!(run.entries >= 200);
    p.stop().await;
}

/// The check above fails on a feed numbered when its entry is written (a sequence in the
/// writing transaction, with the transaction taking a little while to commit, as under load):
/// the reader is given a later number before an earlier one commits, and skips it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn teeth_the_feed_check_fails_on_a_feed_numbered_at_insert() {
    let p = Pair::start().await;
    p.db.sql(
        "CREATE SEQUENCE teeth_seq START 1000;
         CREATE FUNCTION teeth_number() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN
             NEW.seq := nextval('teeth_seq');
             PERFORM pg_sleep(random() * 0.05);
             RETURN NEW;
         END $$;
         CREATE TRIGGER teeth_number BEFORE INSERT ON scim_revisions
             FOR EACH ROW EXECUTE FUNCTION teeth_number();",
    )
    .await;
    let outcome = feed_under_writes(&p, 25).await;
    match outcome {
        Ok(run) => panic!(
            "a feed numbered at insert went unnoticed ({} entries, {} polls)",
            run.entries, run.polls
        ),
        Err(why) => eprintln!("numbered at insert: {why}"),
    }
    p.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Faults: PostgreSQL restarting under load.

/// One create a writer sent, and what came of it.
struct Sent {
    user_name: String,
    /// The id when the create was acknowledged (201).
    id: Option<String>,
    elapsed: Duration,
    /// Why the answer was neither a 201 nor a clean 503 (a SCIM Error), if it was not.
    problem: Option<String>,
    unavailable: bool,
}

/// Creates users through `api` until `stop`, 10 ms apart; counts acknowledged ones in `acked`.
async fn write_until(
    api: Api,
    tag: String,
    stop: Arc<AtomicBool>,
    acked: Arc<std::sync::atomic::AtomicUsize>,
) -> Vec<Sent> {
    let mut sent = Vec::new();
    let mut n = 0;
    while !stop.load(Ordering::SeqCst) {
        let user_name = format!("{tag}-{n}");
        n += 1;
        let started = Instant::now();
        let answer = api
            .try_call(
                Method::POST,
                "/scim/v2/Users",
                Some(&api.key),
                Some(&user_body(&user_name)),
                None,
            )
            .await;
        let mut s = Sent {
            user_name,
            id: None,
            elapsed: started.elapsed(),
            problem: None,
            unavailable: false,
        };
        match answer {
            Ok(r) if r.status == 201 => {
                s.id = Some(r.id());
                acked.fetch_add(1, Ordering::SeqCst);
            }
            Ok(r) => {
                s.unavailable = r.status == 503;
                s.problem = r.scim_error_problem(503);
            }
            Err(e) => s.problem = Some(format!("no answer: {e}")),
        }
        sent.push(s);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    sent
}

/// A request of the sweep: method, path, key, body, the status it must get.
type Swept<'a> = (Method, String, Option<&'a str>, Option<Value>, u16);

/// Every kind of request while the database is down, on one replica: `(what, answer, expected
/// status)`. Everything that needs the store is a clean 503, authentication included (an unknown
/// key cannot be told from a known one without the database: 503, not 401).
async fn sweep(api: &Api, uid: &str, acme_key: &str) -> Vec<(String, Reply, u16)> {
    let bulk = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
        "Operations": [{"method": "POST", "path": "/Users", "bulkId": "b1",
                        "data": user_body("bulk-down")}]});
    let search = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
        "filter": "userName sw \"s\""});
    let patch = patch_op(json!([{"op": "replace", "path": "title", "value": "x"}]));
    let group = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "displayName": "down"});
    let key = Some(api.key.as_str());
    let admin = Some(api.admin.as_str());
    let user = format!("/scim/v2/Users/{uid}");
    let requests: Vec<Swept> = vec![
        (Method::GET, "/scim/v2/Users".into(), key, None, 503),
        (Method::GET, user.clone(), key, None, 503),
        (
            Method::GET,
            "/scim/v2/Users?filter=userName+eq+%22sweep%22".into(),
            key,
            None,
            503,
        ),
        (
            Method::POST,
            "/scim/v2/Users/.search".into(),
            key,
            Some(search),
            503,
        ),
        (
            Method::POST,
            "/scim/v2/Users".into(),
            key,
            Some(user_body("down")),
            503,
        ),
        (
            Method::PUT,
            user.clone(),
            key,
            Some(user_body("sweep")),
            503,
        ),
        (Method::PATCH, user.clone(), key, Some(patch), 503),
        (Method::DELETE, user.clone(), key, None, 503),
        (Method::GET, "/scim/v2/Groups".into(), key, None, 503),
        (
            Method::POST,
            "/scim/v2/Groups".into(),
            key,
            Some(group),
            503,
        ),
        (Method::POST, "/scim/v2/Bulk".into(), key, Some(bulk), 503),
        (
            Method::GET,
            "/scim/v2/ServiceProviderConfig".into(),
            key,
            None,
            503,
        ),
        (Method::GET, "/scim/v2/Schemas".into(), key, None, 503),
        (Method::GET, "/scim/v2/ResourceTypes".into(), key, None, 503),
        // Authentication itself needs the database.
        (
            Method::GET,
            "/scim/v2/Users".into(),
            Some("not-a-key"),
            None,
            503,
        ),
        (
            Method::GET,
            "/t/acme/scim/v2/Users".into(),
            Some(acme_key),
            None,
            503,
        ),
        (Method::GET, "/admin/v1/users".into(), admin, None, 503),
        (
            Method::GET,
            format!("/admin/v1/users/{uid}"),
            admin,
            None,
            503,
        ),
        (
            Method::GET,
            format!("/admin/v1/users/{uid}/history"),
            admin,
            None,
            503,
        ),
        (Method::GET, "/admin/v1/audit".into(), admin, None, 503),
        (Method::GET, "/admin/v1/keys".into(), admin, None, 503),
        (
            Method::POST,
            "/admin/v1/keys".into(),
            admin,
            Some(json!({"label": "down"})),
            503,
        ),
        (Method::GET, "/admin/v1/tenants".into(), admin, None, 503),
        (
            Method::GET,
            "/admin/v1/tenants/acme".into(),
            admin,
            None,
            503,
        ),
        (
            Method::PATCH,
            "/admin/v1/tenants/acme".into(),
            admin,
            Some(json!({"name": "Acme"})),
            503,
        ),
        (
            Method::GET,
            "/admin/v1/tenants/acme/users".into(),
            admin,
            None,
            503,
        ),
        (
            Method::GET,
            "/admin/v1/operator/audit".into(),
            admin,
            None,
            503,
        ),
        // No key: refused before any lookup.
        (Method::GET, "/scim/v2/Users".into(), None, None, 401),
    ];
    let mut out = Vec::new();
    for (method, path, key, body, expected) in requests {
        let what = format!("{} {method} {path} (key: {})", api.name, key.is_some());
        let r = api.call(method, &path, key, body.as_ref(), None).await;
        out.push((what, r, expected));
    }
    for (path, expected) in [("/readyz", 503), ("/livez", 200), ("/metrics", 200)] {
        let r = api.call(Method::GET, path, None, None, None).await;
        out.push((format!("{} GET {path}", api.name), r, expected));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_restarting_under_load_is_clean_503s_then_both_replicas_serve_again() {
    let p = Pair::start().await;
    let acme =
        p.a.admin(Method::POST, "/tenants", Some(json!({"id": "acme"})))
            .await;
    acme.expect(201, "tenant");
    let acme_key = acme.body["key"].as_str().expect("key").to_string();
    let uid = p.a.create_user("sweep").await;
    p.wait_listening().await;

    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut writers = Vec::new();
    for w in 0..6 {
        let api = if w % 2 == 0 { p.a.clone() } else { p.b.clone() };
        let tag = format!("load-{}-{w}", api.name);
        writers.push(tokio::spawn(write_until(
            api,
            tag,
            Arc::clone(&stop),
            Arc::clone(&acked),
        )));
    }
    wait_until(
        "writes acknowledged before the restart",
        Duration::from_secs(30),
        || async { acked.load(Ordering::SeqCst) >= 30 },
    )
    .await;

    // Down.
    let acked_before = acked.load(Ordering::SeqCst);
    p.db.pg_ctl(false).await;
    let down = Instant::now();
    let mut answers = sweep(&p.a, &uid, &acme_key).await;
    answers.extend(sweep(&p.b, &uid, &acme_key).await);
    // Down for longer than a request may wait for a connection, so that waits time out too.
    let rest = (CONNECT_TIMEOUT * 2).saturating_sub(down.elapsed());
    tokio::time::sleep(rest).await;
    answers.extend(sweep(&p.b, &uid, &acme_key).await);
    let down_for = down.elapsed();

    // Up again: both replicas serve, with no restart of theirs.
    p.db.pg_ctl(true).await;
    let up = Instant::now();
    for api in [&p.a, &p.b] {
        let took = wait_until(
            &format!("{} ready again", api.name),
            Duration::from_secs(30),
            || async {
                api.call(Method::GET, "/readyz", None, None, None)
                    .await
                    .status
                    == 200
                    && api.scim(Method::GET, "/Users?count=1", None).await.status == 200
            },
        )
        .await;
        eprintln!(
            "{} serves again {took:?} after the database is back",
            api.name
        );
    }
    let acked_up = acked.load(Ordering::SeqCst);
    wait_until(
        "writes acknowledged after the restart",
        Duration::from_secs(30),
        || async { acked.load(Ordering::SeqCst) >= acked_up + 30 },
    )
    .await;
    stop.store(true, Ordering::SeqCst);
    let mut sent = Vec::new();
    for w in writers {
        sent.extend(w.await.expect("writer"));
    }
    eprintln!("database down for {down_for:?}, back in {:?}", up.elapsed());

    // Every answer while it was down was what it should be: a clean 503 for everything that
    // needs the store.
    let mut wrong = Vec::new();
    for (what, r, expected) in &answers {
        let problem = if *expected == 503 && !what.ends_with("/readyz") {
            r.scim_error_problem(503)
        } else {
            (r.status != *expected).then(|| format!("status {}: {}", r.status, r.text))
        };
        if let Some(problem) = problem {
            wrong.push(format!("{what}: {problem}"));
        }
    }
    assert!(
        wrong.is_empty(),
        "while the database was down:\n{}",
        wrong.join("\n")
    );
    let slowest = answers
        .iter()
        .map(|(_, r, _)| r.elapsed)
        .max()
        .unwrap_or_default();

    // The writers' creates: each a 201 or a clean 503, none hanging.
    let problems: Vec<String> = sent
        .iter()
        .filter_map(|s| s.problem.as_ref().map(|p| format!("{}: {p}", s.user_name)))
        .collect();
    assert!(problems.is_empty(), "writers met:\n{}", problems.join("\n"));
    let unavailable = sent.iter().filter(|s| s.unavailable).count();
    let slowest_write = sent.iter().map(|s| s.elapsed).max().unwrap_or_default();
    eprintln!(
        "{} creates: {} acknowledged, {unavailable} refused 503 ({} acknowledged from the stop to the start); slowest \
         answer while down {slowest:?}, slowest create {slowest_write:?}",
        sent.len(),
        sent.iter().filter(|s| s.id.is_some()).count(),
        acked_up - acked_before,
    );
    assert!(unavailable > 0, "the writers never met the outage");
    // No request waited for the database longer than a connection may be waited for, with
    // room for a request that asks the pool more than once and for a slow machine.
    let bound = CONNECT_TIMEOUT * 2 + Duration::from_secs(3);
    assert!(
        slowest < bound,
        "an answer took {slowest:?} while the database was down"
    );
    assert!(slowest_write < bound, "a create took {slowest_write:?}");

    // Nothing acknowledged is lost: every 201 is there, on both replicas, with its feed entry.
    let acknowledged: Vec<&Sent> = sent.iter().filter(|s| s.id.is_some()).collect();
    for s in &acknowledged {
        let id = s.id.as_deref().expect("id");
        for api in [&p.a, &p.b] {
            let r = api.scim(Method::GET, &format!("/Users/{id}"), None).await;
            assert_eq!(
                r.status, 200,
                "acknowledged {} on {}: {}",
                s.user_name, api.name, r.text
            );
            assert_eq!(r.body["userName"], s.user_name.as_str());
        }
    }
    let ids: Vec<&str> = acknowledged
        .iter()
        .filter_map(|s| s.id.as_deref())
        .collect();
    p.b.feed_holding("create of every acknowledged user", |f| {
        creates_all(f, &ids)
    })
    .await;
    let problems = p.replicas[0].app.core.store().check().await.expect("check");
    assert!(problems.is_empty(), "{problems:#?}");
    p.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Faults: a replica killed mid-write.

/// A replica running as the real binary (`scim-server serve`), killed when dropped.
struct Spawned {
    child: std::process::Child,
    origin: String,
    _dir: tempfile::TempDir,
}

impl Spawned {
    fn start(url: &str) -> Spawned {
        let dir = tempfile::tempdir().expect("temp dir");
        let ready: PathBuf = dir.path().join("ready.json");
        let log = std::fs::File::create(dir.path().join("server.log")).expect("log");
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_scim-server"))
            .current_dir(dir.path())
            .env("SCIM_STORE", "postgres")
            .env("SCIM_DATABASE_URL", url)
            .env(
                "SCIM_DATABASE_CONNECT_TIMEOUT_SECS",
                CONNECT_TIMEOUT.as_secs().to_string(),
            )
            .env("SCIM_RATE_LIMIT_UNAUTHENTICATED", "0")
            .env("SCIM_LOG", "warn")
            .arg("--data-dir")
            .arg(dir.path())
            .arg("--listen")
            .arg("127.0.0.1:0")
            .arg("serve")
            .arg("--ready-file")
            .arg(&ready)
            .stdin(std::process::Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("scim-server starts");
        let mut spawned = Spawned {
            child,
            origin: String::new(),
            _dir: dir,
        };
        let started = Instant::now();
        let addr = loop {
            if let Ok(text) = std::fs::read_to_string(&ready) {
                let r: server::Ready = serde_json::from_str(&text).expect("the ready file");
                break r.addr;
            }
            if let Ok(Some(status)) = spawned.child.try_wait() {
                panic!("scim-server exited: {status}");
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "scim-server is not ready"
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        spawned.origin = format!("http://{addr}");
        spawned
    }

    /// SIGKILL.
    fn kill(&mut self) {
        self.child.kill().expect("SIGKILL");
        let _ = self.child.wait();
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_replica_killed_under_concurrent_writes_loses_nothing_acknowledged() {
    let db = Db::start().await;
    let url = db.url.clone();
    // B in this process, first (it mints the keys); A is the binary, killed below.
    let (rb, origin_b, key, admin) = start_replica(&url).await;
    let mut spawned = tokio::task::spawn_blocking(move || Spawned::start(&url))
        .await
        .expect("spawn task");
    let client = client();
    let api = |name, origin: &str| Api {
        name,
        client: client.clone(),
        origin: origin.to_string(),
        key: key.clone().expect("key"),
        admin: admin.clone().expect("admin key"),
    };
    let (a, b) = (api("A", &spawned.origin), api("B", &origin_b));
    a.scim(Method::GET, "/Users", None)
        .await
        .expect(200, "A serves");

    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut writers = Vec::new();
    for w in 0..6 {
        let api = if w < 4 { a.clone() } else { b.clone() };
        let tag = format!("kill-{}-{w}", api.name);
        writers.push(tokio::spawn(write_until(
            api,
            tag,
            Arc::clone(&stop),
            Arc::clone(&acked),
        )));
    }
    wait_until(
        "writes acknowledged before the kill",
        Duration::from_secs(30),
        || async { acked.load(Ordering::SeqCst) >= 60 },
    )
    .await;
    spawned.kill();
    let at_kill = acked.load(Ordering::SeqCst);
    wait_until(
        "B writes on after the kill",
        Duration::from_secs(30),
        || async { acked.load(Ordering::SeqCst) >= at_kill + 20 },
    )
    .await;
    stop.store(true, Ordering::SeqCst);
    let mut sent = Vec::new();
    for w in writers {
        sent.extend(w.await.expect("writer"));
    }
    // B's writers met no problem; A's met the kill (no answer), nothing else.
    for s in &sent {
        if let Some(problem) = &s.problem {
            assert!(
                s.user_name.starts_with("kill-A") && problem.starts_with("no answer"),
                "{}: {problem}",
                s.user_name
            );
        }
    }
    let acknowledged: Vec<&Sent> = sent.iter().filter(|s| s.id.is_some()).collect();
    let by_a = acknowledged
        .iter()
        .filter(|s| s.user_name.starts_with("kill-A"))
        .count();
    eprintln!(
        "{} creates acknowledged ({by_a} by A before its SIGKILL), {} unanswered",
        acknowledged.len(),
        sent.iter().filter(|s| s.problem.is_some()).count()
    );
    for s in &acknowledged {
        let id = s.id.as_deref().expect("id");
        let r = b.scim(Method::GET, &format!("/Users/{id}"), None).await;
        assert_eq!(r.status, 200, "acknowledged {}: {}", s.user_name, r.text);
        assert_eq!(r.body["userName"], s.user_name.as_str());
    }
    // The feed, read on B, numbers A's last entries too (left unnumbered when it died): gap-free,
    // one create per acknowledged write.
    let ids: Vec<&str> = acknowledged
        .iter()
        .filter_map(|s| s.id.as_deref())
        .collect();
    let feed = b
        .feed_holding("create of every acknowledged user", |f| {
            creates_all(f, &ids)
        })
        .await;
    let seqs: Vec<u64> = feed
        .iter()
        .map(|e| e["seq"].as_u64().expect("seq"))
        .collect();
    assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>());
    let created: BTreeMap<&str, usize> = feed
        .iter()
        .filter(|e| e["action"] == "create")
        .filter_map(|e| e["target_id"].as_str())
        .fold(BTreeMap::new(), |mut m, id| {
            *m.entry(id).or_default() += 1;
            m
        });
    for s in &acknowledged {
        assert_eq!(
            created.get(s.id.as_deref().expect("id")),
            Some(&1),
            "{}",
            s.user_name
        );
    }
    let problems = rb.app.core.store().check().await.expect("check");
    assert!(problems.is_empty(), "{problems:#?}");
    let mut rb = rb;
    if let Some(running) = rb.running.take() {
        running.stop().await.expect("a clean stop");
    }
    drop(db);
}

// ---------------------------------------------------------------------------------------------
// Faults: a listener that hears nothing.

impl Db {
    /// The process ids of the backends serving the replicas' `LISTEN` connections.
    async fn listener_backends(&self) -> Vec<i32> {
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

/// Backends stopped with SIGSTOP, continued when dropped (else the cluster cannot stop).
struct Frozen(Vec<i32>);

impl Frozen {
    fn signal(pids: &[i32], signal: &str) {
        for pid in pids {
            let status = std::process::Command::new("kill")
                .arg(format!("-{signal}"))
                .arg(pid.to_string())
                .status()
                .expect("kill");
            assert!(status.success(), "kill -{signal} {pid}");
        }
    }

    fn stop(pids: Vec<i32>) -> Frozen {
        Frozen::signal(&pids, "STOP");
        Frozen(pids)
    }
}

impl Drop for Frozen {
    fn drop(&mut self) {
        Frozen::signal(&self.0, "CONT");
    }
}

/// A replica whose listener connection stops delivering without closing (its backend hung, or a
/// network that drops the connection silently) must stop trusting its key cache: here the
/// listeners' backends are stopped (SIGSTOP), so B never hears of a revocation on A. B must
/// still refuse the key within a few seconds (the listener's heartbeat: 1 s, answered within
/// 1 s); before the heartbeat, B accepted it for as long as the backend stayed stopped.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_replica_whose_listener_stops_answering_stops_trusting_its_cache() {
    let p = Pair::start().await;
    let (key, id) = key_warm_on_b(&p, "unheard").await;
    let pids = p.db.listener_backends().await;
    assert_eq!(pids.len(), 2, "one listener per replica");
    let frozen = Frozen::stop(pids);
    p.a.admin(Method::DELETE, &format!("/keys/{id}"), None)
        .await
        .expect(200, "revoke on A");
    let started = Instant::now();
    loop {
        let r =
            p.b.call(Method::GET, "/scim/v2/Users", Some(&key), None, None)
                .await;
        if r.status == 401 {
            eprintln!(
                "unheard revocation refused by B after {:?}",
                started.elapsed()
            );
            break;
        }
        assert_eq!(r.status, 200, "{}", r.text);
        assert!(
            started.elapsed() < Duration::from_secs(6),
            "B still accepts a revoked key after {:?}: it trusts a listener that hears nothing",
            started.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // And B serves on (its listener connected again, to another backend).
    p.b.scim(Method::GET, "/Users", None)
        .await
        .expect(200, "the first key on B");
    drop(frozen);
    p.stop().await;
}

impl Db {
    /// The postmaster and every process it started.
    fn processes(&self) -> Vec<i32> {
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

/// A database that stops answering without closing anything (every PostgreSQL process stopped:
/// as a hung server, or a network that drops packets) must not hold requests beyond the
/// timeouts: each is answered, 503, within a connection's wait plus a statement's time. Today a
/// request on a pooled connection waits for as long as the database does (20 s measured, for
/// the whole freeze): the statement timeout is the server's, which is stopped, and the driver
/// has no timeout of its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "known: a request on a pooled connection waits for a frozen database for as long as it is frozen"]
async fn a_frozen_database_holds_no_request_beyond_the_timeouts() {
    let p = Pair::start().await;
    let uid = p.a.create_user("frozen").await;
    // Connections in both pools.
    for _ in 0..10 {
        for api in [&p.a, &p.b] {
            api.scim(Method::GET, &format!("/Users/{uid}"), None)
                .await
                .expect(200, "a read");
        }
    }
    let frozen = Frozen::stop(p.db.processes());
    let mut tasks = Vec::new();
    for (n, api) in [p.a.clone(), p.b.clone(), p.a.clone(), p.b.clone()]
        .into_iter()
        .enumerate()
    {
        let uid = uid.clone();
        tasks.push(tokio::spawn(async move {
            let r = if n < 2 {
                api.scim(Method::GET, &format!("/Users/{uid}"), None).await
            } else {
                api.scim(
                    Method::POST,
                    "/Users",
                    Some(user_body(&format!("frozen{n}"))),
                )
                .await
            };
            (format!("{} #{n}", api.name), r)
        }));
    }
    // The default statement timeout (10 s), a connection's wait, and room for a slow machine.
    let bound = Duration::from_secs(10) + CONNECT_TIMEOUT + Duration::from_secs(3);
    tokio::time::sleep(bound + Duration::from_secs(5)).await;
    let held = tasks.iter().filter(|t| !t.is_finished()).count();
    drop(frozen);
    let mut answers = Vec::new();
    for t in tasks {
        answers.push(t.await.expect("task"));
    }
    for (what, r) in &answers {
        eprintln!(
            "frozen database: {what}: {} after {:?}",
            r.status, r.elapsed
        );
    }
    assert_eq!(held, 0, "requests still waiting after {bound:?}");
    for (what, r) in &answers {
        assert!(r.elapsed < bound, "{what} took {:?}", r.elapsed);
        if let Some(problem) = r.scim_error_problem(503) {
            panic!("{what}: {problem}");
        }
    }
    p.stop().await;
}

// ---------------------------------------------------------------------------------------------
// The feed and the rest of the cluster.

/// The feed is numbered below the oldest transaction still in flight, and PostgreSQL's
/// transaction ids are the cluster's, not the database's: a write transaction left open in
/// another database of the same cluster (an idle-in-transaction session, a long batch job, a
/// migration) holds back every tenant's feed for as long as it stays open. Measured: a user
/// created on A is in no feed 6 s later (its history shows its entry with `seq` 0), and joins it
/// as soon as the other database's transaction commits. The same holds back the integration
/// suite on PostgreSQL, whose tests share one cluster, a database each: a test that reads the
/// feed right after its writes finds it short now and then.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "known: an open write transaction in any database of the cluster stalls the feed"]
async fn a_transaction_open_in_another_database_does_not_hold_back_the_feed() {
    let p = Pair::start().await;
    let (client, connection) =
        p.db.cluster
            .url("postgres")
            .parse::<tokio_postgres::Config>()
            .expect("url")
            .connect(tokio_postgres::NoTls)
            .await
            .expect("connect");
    let driver = tokio::spawn(connection);
    client
        .batch_execute("BEGIN; CREATE TEMP TABLE elsewhere (x int)")
        .await
        .expect("a write transaction in another database");
    let id = p.a.create_user("held").await;
    let started = Instant::now();
    let mut in_feed = false;
    while !in_feed && started.elapsed() < SETTLE {
        in_feed =
            p.b.feed()
                .await
                .iter()
                .any(|e| e["target_id"] == id.as_str());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    client.batch_execute("COMMIT").await.expect("commit");
    drop(client);
    let _ = driver.await;
    assert!(in_feed, "the create is not in the feed after {SETTLE:?}");
    p.stop().await;
}
