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
    use scim_core::model::{Action, Actor, Revision, TargetType, TenantId};
    let pg = Pg::start();
    let store = pg.store().await;
    let core = scim_core::Core::new(Arc::new(store.clone()), scim_core::Settings::default());
    core.ensure_default_tenant().await.expect("default");
    let part = store
        .partition(&TenantId::default_tenant())
        .expect("partition");
    let entry = |id: &str| Revision {
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
    };
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
