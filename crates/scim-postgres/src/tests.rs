//! The engine test suite on PostgreSQL (a throwaway cluster), and what only this engine can be
//! asked directly.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use scim_core::store::Store;
use scim_core::testkit;

use crate::{PgOptions, PgStore};

mod differential;
mod measure;

/// One cluster for the tests of this crate.
fn cluster() -> &'static pg_cluster::Cluster {
    static CLUSTER: OnceLock<pg_cluster::Cluster> = OnceLock::new();
    CLUSTER.get_or_init(|| pg_cluster::Cluster::start().expect("a PostgreSQL cluster"))
}

/// A fresh, empty database.
pub(crate) async fn fresh_store() -> PgStore {
    static N: AtomicUsize = AtomicUsize::new(0);
    let name = format!(
        "t{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    );
    let c = cluster();
    c.create_database(&name).expect("database");
    PgStore::connect(&PgOptions::new(c.url(&name)))
        .await
        .expect("connect")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_passes_the_engine_suite() {
    let handle = tokio::runtime::Handle::current();
    let outcomes = testkit::run(&|| {
        Arc::new(tokio::task::block_in_place(|| {
            handle.block_on(fresh_store())
        })) as Arc<dyn Store>
    })
    .await;
    assert_eq!(outcomes.len(), testkit::CHECKS.len());
    assert!(
        testkit::failures(&outcomes).is_empty(),
        "{:#?}",
        testkit::failures(&outcomes)
    );
}
