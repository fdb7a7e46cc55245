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
        let store = Arc::clone(&s.store);
        let p = path.clone();
        tokio::task::spawn_blocking(move || server::control::export(store.as_ref(), &p))
            .await
            .expect("task")
            .expect("export");
        dumps.push(path);
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    for w in writers {
        w.await.expect("writer");
    }
    let last = out.path().join("final.json");
    server::control::export(s.store.as_ref(), &last).expect("export");
    dumps.push(last.clone());
    for path in &dumps {
        let dir = tempfile::tempdir().expect("dir");
        let restored = server::open_store(&config_for(dir.path())).expect("store");
        server::control::import(&restored, path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(server::store::Store::check(&restored)
            .expect("check")
            .is_empty());
    }
    // The final copy holds exactly what the live store holds.
    let live = s.store.export().expect("export");
    let dir = tempfile::tempdir().expect("dir");
    let restored = server::open_store(&config_for(dir.path())).expect("store");
    server::control::import(&restored, &last).expect("import");
    let again = server::store::Store::export(&restored).expect("export");
    assert_eq!(again, live);
    assert_eq!(live.users.len(), 40, "60 created, 20 deleted");
    assert!(
        s.store.check().expect("check").is_empty(),
        "the live store is consistent too"
    );
}

#[test]
fn import_refuses_a_store_that_is_not_empty() {
    let dir = tempfile::tempdir().expect("dir");
    let store = server::open_store(&config_for(dir.path())).expect("store");
    server::ensure_key(&store).expect("key");
    let dump = server::store::Store::export(&store).expect("export");
    let err = server::store::Store::import(&store, &dump).expect_err("not empty");
    assert_eq!(err.status(), 400);
}
