//! Faults: PostgreSQL restarting under load, a replica killed mid-write, a listener that hears
//! nothing, a frozen database.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{json, Value};

use crate::support::*;

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

/// A database that stops answering without closing anything (every PostgreSQL process stopped:
/// as a hung server, or a network that drops packets) must not hold requests beyond the
/// timeouts: each is answered, 503, within a connection's wait plus a statement's time. The
/// statement timeout is the database's, which is stopped, and the driver has no timeout of its
/// own: before the engine bounded each call itself (`Engine::bounded`), a request on a pooled
/// connection waited for as long as the database was frozen (20 s measured).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
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
