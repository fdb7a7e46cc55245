//! The engine test suite on PostgreSQL (a throwaway cluster), and what only this engine can be
//! asked directly.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use scim_core::store::Store;
use scim_core::testkit;

use crate::{PgOptions, PgStore};

mod differential;
mod measure;

/// A throwaway cluster of a test's own (stopped and removed when the test ends, however it ends:
/// a cluster shared through a `static` would never be dropped, and would outlive the test
/// process), and fresh databases in it.
pub(crate) struct Pg {
    cluster: pg_cluster::Cluster,
    made: AtomicUsize,
}

impl Pg {
    pub(crate) fn start() -> Pg {
        Pg {
            cluster: pg_cluster::Cluster::start().expect("a PostgreSQL cluster"),
            made: AtomicUsize::new(0),
        }
    }

    /// A fresh, empty database, opened.
    pub(crate) async fn store(&self) -> PgStore {
        let name = format!("t{}", self.made.fetch_add(1, Ordering::SeqCst));
        self.cluster.create_database(&name).expect("database");
        PgStore::connect(&PgOptions::new(self.cluster.url(&name)))
            .await
            .expect("connect")
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_passes_the_engine_suite() {
    let pg = Pg::start();
    let handle = tokio::runtime::Handle::current();
    let outcomes = testkit::run(&|| {
        Arc::new(tokio::task::block_in_place(|| handle.block_on(pg.store()))) as Arc<dyn Store>
    })
    .await;
    assert_eq!(outcomes.len(), testkit::CHECKS.len());
    assert!(
        testkit::failures(&outcomes).is_empty(),
        "{:#?}",
        testkit::failures(&outcomes)
    );
}

/// A sled store copied into PostgreSQL and back (export, import), every invariant checked at
/// each step ([`testkit::copies_between`]).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_sled_store_copies_into_postgresql_and_back() {
    let pg = Pg::start();
    let (from, back) = (tempfile_dir(), tempfile_dir());
    let sled = |dir: &std::path::Path| -> Arc<dyn Store> {
        Arc::new(scim_sled::SledStore::open(dir, &scim_sled::SledOptions::default()).expect("sled"))
    };
    let to: Arc<dyn Store> = Arc::new(pg.store().await);
    testkit::copies_between(sled(from.path()), to, sled(back.path()))
        .await
        .expect("sled → PostgreSQL → sled");
    // And the other way: PostgreSQL → sled → PostgreSQL.
    let other = tempfile_dir();
    let (first, last): (Arc<dyn Store>, Arc<dyn Store>) =
        (Arc::new(pg.store().await), Arc::new(pg.store().await));
    testkit::copies_between(first, sled(other.path()), last)
        .await
        .expect("PostgreSQL → sled → PostgreSQL");
}

fn tempfile_dir() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp dir")
}

/// Two interleaved transactions: the one that began first commits last. A reader polling the
/// feed between the two commits sees the second entry; after the first commits, its entry comes
/// after everything the reader was given, never below it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_entry_that_commits_late_is_numbered_after_what_readers_saw() {
    use scim_core::model::TenantId;
    let pg = Pg::start();
    let store = pg.store().await;
    let core = scim_core::Core::new(Arc::new(store.clone()), scim_core::Settings::default());
    core.ensure_default_tenant().await.expect("default");
    let part = store
        .partition(&TenantId::default_tenant())
        .expect("partition");
    let mut first = store.conn().await.expect("connection");
    let mut second = store.conn().await.expect("connection");
    let t1 = first.transaction().await.expect("begin");
    crate::feed::insert(&t1, "default", &entry("late"), None)
        .await
        .expect("insert");
    let t2 = second.transaction().await.expect("begin");
    crate::feed::insert(&t2, "default", &entry("early"), None)
        .await
        .expect("insert");
    t2.commit().await.expect("commit");

    let seen = part.revisions(0, 100).await.expect("feed");
    assert_eq!(
        seen.iter()
            .map(|r| r.target_id.as_str())
            .collect::<Vec<_>>(),
        ["early"],
        "only the committed entry is in the feed"
    );
    let last = seen.last().map(|r| r.seq).expect("an entry");

    t1.commit().await.expect("commit");
    let next = part.revisions(last, 100).await.expect("feed");
    assert_eq!(
        next.iter()
            .map(|r| r.target_id.as_str())
            .collect::<Vec<_>>(),
        ["late"],
        "the entry that committed late comes after what the reader saw"
    );
    assert!(next[0].seq > last);
    let all = part.revisions(0, 100).await.expect("feed");
    assert_eq!(all.len(), 2);
}

/// A feed entry about a user created, unnumbered.
fn entry(id: &str) -> scim_core::model::Revision {
    use scim_core::model::{Action, Actor, Revision, TargetType};
    Revision {
        seq: 0,
        time: time::OffsetDateTime::now_utc(),
        actor: Actor {
            name: "test".into(),
            key_id: None,
            key_label: None,
        },
        action: Action::Create,
        target_type: TargetType::User,
        target_id: id.into(),
        changes: Vec::new(),
        request_id: None,
        related: Vec::new(),
        event: None,
    }
}

/// Numbering a feed is one message to the database: a request dropped while the numbering waits
/// for the feed's lock (past its bound) leaves its connection outside any transaction once the
/// numbering has run, so the pool never hands out a connection inside one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn numbering_dropped_while_it_waits_leaves_no_transaction_open() {
    let pg = Pg::start();
    let store = pg.store().await;
    let core = scim_core::Core::new(Arc::new(store.clone()), scim_core::Settings::default());
    core.ensure_default_tenant().await.expect("default");
    // Another connection holds the feed's lock; then an entry commits, waiting for its number
    // (the engine's own sequencer waits for the lock too).
    let mut holder = store.conn().await.expect("connection");
    let held = holder.transaction().await.expect("begin");
    held.execute(
        "SELECT pg_advisory_xact_lock($1)",
        &[&crate::lock_id("feed", "default")],
    )
    .await
    .expect("lock");
    let mut writer = store.conn().await.expect("connection");
    let write = writer.transaction().await.expect("begin");
    crate::feed::insert(&write, "default", &entry("waiting"), None)
        .await
        .expect("insert");
    write.commit().await.expect("commit");

    let conn = store.conn().await.expect("connection");
    let pid: i32 = conn
        .query_one("SELECT pg_backend_pid()", &[])
        .await
        .expect("query")
        .get(0);
    let waited = tokio::time::timeout(
        std::time::Duration::from_millis(300),
        crate::feed::settle(&conn, "default"),
    )
    .await;
    assert!(waited.is_err(), "the numbering waited for the lock");
    held.commit().await.expect("the lock released");
    // Seen from another connection: the entry gets its number, and the dropped request's
    // connection goes idle, not "idle in transaction" (holding the feed's lock).
    let (mut numbered, mut state) = (false, String::new());
    for _ in 0..100 {
        let row = holder
            .query_one(
                "SELECT NOT EXISTS (SELECT 1 FROM scim_revisions
                                    WHERE feed = 'default' AND seq IS NULL),
                        (SELECT state FROM pg_stat_activity WHERE pid = $1)",
                &[&pid],
            )
            .await
            .expect("query");
        numbered = row.get(0);
        state = row.get::<_, Option<String>>(1).unwrap_or_default();
        if numbered && state == "idle" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(
        state, "idle",
        "the connection was left inside a transaction"
    );
    assert!(numbered, "the numbering ran whole");
}

/// A table filled before it has statistics is analyzed by the engine within seconds (autovacuum,
/// turned off for it here, would take up to a minute): a lookup by id is then planned on the
/// primary key, not on another index that starts with `(tenant, kind)` (315 GET/s against
/// 6,000/s in `cargo xtask bench --store postgres` before).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_table_written_before_any_statistics_is_analyzed_within_seconds() {
    let pg = Pg::start();
    let store = pg.store().await;
    let conn = store.conn().await.expect("connection");
    conn.batch_execute(&format!(
        r#"ALTER TABLE scim_resources SET (autovacuum_enabled = false);
        INSERT INTO scim_tenants (id, body) VALUES ('plan', '{{}}');
        INSERT INTO scim_resources (tenant, kind, id, version, created, modified, name_key,
            external_id, active, doc, index_keys)
        SELECT 'plan', 0, md5(i::text), 1, 0, 0, 'user' || i, NULL, true,
            jsonb_build_object('userName', 'user' || i), '[]'::jsonb
        FROM generate_series(1, {}) AS i;"#,
        crate::feed::ANALYZE_AFTER_ROWS * 10
    ))
    .await
    .expect("load");
    let plan = || async {
        conn.query(
            "EXPLAIN SELECT doc FROM scim_resources WHERE tenant = 'plan' AND kind = 0 AND id = 'x'",
            &[],
        )
        .await
        .expect("explain")
        .iter()
        .map(|r| r.get::<_, String>(0))
        .collect::<Vec<_>>()
        .join("\n")
    };
    let began = std::time::Instant::now();
    loop {
        let p = plan().await;
        if p.contains("scim_resources_pkey") {
            eprintln!("planned on the primary key after {:?}", began.elapsed());
            break;
        }
        assert!(
            began.elapsed() < std::time::Duration::from_secs(10),
            "still without statistics after {:?}:\n{p}",
            began.elapsed()
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let analyzed: Option<std::time::SystemTime> = conn
        .query_one(
            "SELECT last_analyze::timestamptz FROM pg_stat_user_tables WHERE relname = 'scim_resources'",
            &[],
        )
        .await
        .expect("stats")
        .get(0);
    assert!(analyzed.is_some(), "analyzed by the engine");
}

/// Compiled lists are prepared once per connection and shape, and a connection keeps at most
/// `PREPARED_AT_MOST` of them: a client sending ever new filter shapes cannot grow the
/// database's memory without bound.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compiled_lists_are_prepared_once_per_shape_and_boundedly() {
    use scim_core::model::{Kind, TenantId};
    use scim_core::query::{self, Matcher};
    use scim_core::store::{Query, Selection};
    use scim_proto::filter::parse_filter;
    use scim_proto::schema::Registry;

    let pg = Pg::start();
    let store = pg.store().await;
    let tenant = TenantId::parse("default").expect("tenant");
    let registry = Arc::new(Registry::builtin());
    let conn = store.conn().await.expect("connection");
    let list = |filter: String| {
        let f = parse_filter(&filter).expect("filter");
        let probes = query::probes(&registry, Kind::User, &f);
        let matcher = Arc::new(Matcher::scim(
            Arc::clone(&registry),
            Kind::User,
            Some(f),
            None,
            "https://scim.test/scim/v2",
        ));
        Query {
            kind: Kind::User,
            selection: Selection::Matching { matcher, probes },
            skip: 0,
            take: 10,
        }
    };
    let prepared = || async {
        let n: i64 = conn
            .query_one("SELECT count(*) FROM pg_prepared_statements", &[])
            .await
            .expect("count")
            .get(0);
        n
    };
    // One shape, many values: one statement.
    let before = prepared().await;
    for i in 0..20 {
        crate::query::run(&conn, &tenant, &list(format!(r#"title eq "t{i}""#)))
            .await
            .expect("list");
    }
    assert_eq!(prepared().await, before + 1, "one shape, one statement");
    // Ever new shapes (a chain of `or` one term longer each time): bounded.
    let mut most = 0;
    for n in 1..=crate::query::PREPARED_AT_MOST + 40 {
        let chain = (0..n)
            .map(|i| format!(r#"title eq "t{i}""#))
            .collect::<Vec<_>>()
            .join(" or ");
        crate::query::run(&conn, &tenant, &list(chain))
            .await
            .expect("list");
        most = most.max(prepared().await);
    }
    assert!(
        most <= i64::try_from(crate::query::PREPARED_AT_MOST).expect("small") + before + 1,
        "{most} statements prepared on one connection"
    );
}

/// A certificate authority and a server certificate for `localhost` and 127.0.0.1 it signed,
/// made with `openssl` in `dir`: `(ca.crt, server.crt, server.key)`, readable by the cluster.
fn certificates(
    dir: &std::path::Path,
) -> (std::path::PathBuf, std::path::PathBuf, std::path::PathBuf) {
    let run = |args: &[&str]| {
        let out = std::process::Command::new("openssl")
            .current_dir(dir)
            .args(args)
            .output()
            .expect("openssl");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        "-subj",
        "/CN=scim test CA",
        "-days",
        "2",
    ]);
    run(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=localhost",
    ]);
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
    )
    .expect("extensions");
    run(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.crt",
        "-days",
        "2",
        "-extfile",
        "server.ext",
    ]);
    // The server's key must be the cluster user's own, and private.
    let is_root = std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    if is_root {
        for f in [".", "server.crt", "server.key"] {
            let ok = std::process::Command::new("chown")
                .args(["postgres:", &dir.join(f).to_string_lossy()])
                .status()
                .is_ok_and(|s| s.success());
            assert!(ok, "chown {f}");
        }
    }
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(
        dir.join("server.key"),
        std::fs::Permissions::from_mode(0o600),
    )
    .expect("chmod");
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    (
        dir.join("ca.crt"),
        dir.join("server.crt"),
        dir.join("server.key"),
    )
}

/// TLS to the database: with `sslmode=require` and the operator's certificate authority
/// (`database_ca_file`) the engine connects over TLS (the server says the session is
/// encrypted); without that authority the certificate is not trusted and nothing connects.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_to_the_database_is_used_and_its_certificate_verified() {
    let certs = tempfile::tempdir().expect("folder");
    let (ca, crt, key) = certificates(certs.path());
    let cluster = pg_cluster::Cluster::start_with(&pg_cluster::Options {
        settings: vec![
            ("ssl".into(), "on".into()),
            ("ssl_cert_file".into(), crt.to_string_lossy().into_owned()),
            ("ssl_key_file".into(), key.to_string_lossy().into_owned()),
        ],
        tcp: true,
    })
    .expect("a cluster with TLS");
    let url = cluster.tcp_url("postgres", "sslmode=require");
    let options = PgOptions {
        ca_file: Some(ca.clone()),
        ..PgOptions::new(url.clone())
    };
    let store = PgStore::connect(&options).await.expect("connects over TLS");
    let conn = store.conn().await.expect("connection");
    let ssl: bool = conn
        .query_one(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .await
        .expect("pg_stat_ssl")
        .get(0);
    assert!(ssl, "the session is not encrypted");
    drop(conn);
    drop(store);
    // The same server, its authority unknown: refused, never connected in clear.
    let untrusted = PgStore::connect(&PgOptions::new(url)).await;
    assert!(
        untrusted.is_err(),
        "connected without trusting the certificate"
    );
}
