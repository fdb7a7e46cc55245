//! Export and import: a consistent copy under concurrent writes, restored into an empty folder
//! with every invariant checked.

use std::sync::Arc;

use serde_json::json;

use crate::support::{config_for, TestServer};

#[tokio::test]
async fn an_export_taken_under_concurrent_writes_restores_consistently() {
    let s = Arc::new(TestServer::start().await);
    let g = s.group("Writers", &[]).await;
    let mut writers = Vec::new();
    for w in 0..4 {
        let (s, g) = (Arc::clone(&s), g.clone());
        writers.push(tokio::spawn(async move {
            for i in 0..15 {
                let id = s.user(&format!("w{w}.u{i}")).await;
                s.patch(
                    &format!("/Groups/{g}"),
                    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                        "Operations": [{"op": "add", "path": "members", "value": [{"value": id}]}]}),
                )
                .await;
                if i % 3 == 0 {
                    s.delete(&format!("/Users/{id}")).await;
                }
            }
        }));
    }
    let out = tempfile::tempdir().expect("dir");
    let mut dumps = Vec::new();
    for n in 0..5 {
        let path = out.path().join(format!("dump{n}.json"));
        server::control::export(&s.core, &path, None)
            .await
            .expect("export");
        dumps.push(path);
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    for w in writers {
        w.await.expect("writer");
    }
    let last = out.path().join("final.json");
    server::control::export(&s.core, &last, None)
        .await
        .expect("export");
    dumps.push(last.clone());
    for path in &dumps {
        let dir = tempfile::tempdir().expect("dir");
        let restored = restored(dir.path()).await;
        server::control::import(&restored, path, None)
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(restored.check().await.expect("check").is_empty());
    }
    // The final copy holds exactly what the live store holds.
    let live = s.store.export().await.expect("export");
    let dir = tempfile::tempdir().expect("dir");
    let restored = restored(dir.path()).await;
    server::control::import(&restored, &last, None)
        .await
        .expect("import");
    let again = restored.store().export().await.expect("export");
    assert_eq!(again, live);
    assert_eq!(
        live.tenants[0].dump.users.len(),
        40,
        "60 created, 20 deleted"
    );
    assert!(
        s.core.check().await.expect("check").is_empty(),
        "the live store is consistent too"
    );
}

#[tokio::test]
async fn import_refuses_a_store_that_is_not_empty() {
    let dir = tempfile::tempdir().expect("dir");
    let core = restored(dir.path()).await;
    core.ensure_default_tenant().await.expect("default");
    core.ensure_scim_key(&scim_core::model::TenantId::default_tenant())
        .await
        .expect("key");
    let dump = core.store().export().await.expect("export");
    let err = core.store().import(dump).await.expect_err("not empty");
    let err = server::http::error::ApiError::from(scim_core::Error::from(err));
    assert_eq!(err.status(), 400);
}

/// A core over a fresh store in `dir`.
async fn restored(dir: &std::path::Path) -> Arc<scim_core::Core> {
    let config = config_for(dir);
    let store = server::open(&config).await.expect("store").store;
    server::core(&config, store).expect("the core")
}
