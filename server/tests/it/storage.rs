//! Persistence, atomicity under concurrency, and refusing a store that cannot be trusted.

use std::sync::Arc;

use serde_json::json;

use crate::support::{config_for, user_body, TestServer};

#[tokio::test]
async fn everything_survives_a_restart() {
    let s = TestServer::start().await;
    let u = s.user("persist").await;
    let g = s.group("Kept", &[&u]).await;
    let before_user = s.get(&format!("/Users/{u}")).await.text;
    let old_base = s.base.clone();
    let s = s.restart().await;
    let after_user = s.get(&format!("/Users/{u}")).await.text;
    assert_eq!(
        after_user,
        before_user.replace(&old_base, &s.base),
        "the same resource, at the new port"
    );
    assert_eq!(
        s.get(&format!("/Groups/{g}")).await.body["members"][0]["value"],
        u.as_str()
    );
    assert_eq!(
        s.get("/Users?filter=userName+eq+%22PERSIST%22").await.body["totalResults"],
        1
    );
    s.post("/Users", user_body("Persist"))
        .await
        .assert_error(409, Some("uniqueness"));
}

#[tokio::test]
async fn concurrent_creates_of_one_user_name_yield_exactly_one_201() {
    let s = Arc::new(TestServer::start().await);
    let mut tasks = Vec::new();
    for i in 0..64 {
        let s = Arc::clone(&s);
        tasks.push(tokio::spawn(async move {
            let name: String = "race.condition@example.com"
                .chars()
                .enumerate()
                .map(|(j, c)| {
                    if (i >> (j % 6)) & 1 == 1 {
                        c.to_ascii_uppercase()
                    } else {
                        c
                    }
                })
                .collect();
            s.post("/Users", user_body(&name)).await
        }));
    }
    let (mut created, mut conflicts) = (0, 0);
    for t in tasks {
        let r = t.await.expect("task");
        match r.status.as_u16() {
            201 => created += 1,
            409 => {
                r.assert_error(409, Some("uniqueness"));
                conflicts += 1
            }
            other => panic!("unexpected {other}: {}", r.text),
        }
    }
    assert_eq!((created, conflicts), (1, 63));
    assert_eq!(s.get("/Users").await.body["totalResults"], 1);
}

#[tokio::test]
async fn every_committed_change_has_one_revision_entry_with_its_actor() {
    let s = TestServer::start().await;
    let id = s.user("audited").await;
    let mut body = user_body("audited");
    body["title"] = json!("Lead");
    s.put(&format!("/Users/{id}"), body).await;
    s.delete(&format!("/Users/{id}")).await;
    let revs = s.revisions_of(scim_core::model::Kind::User, &id).await;
    let actions: Vec<&str> = revs.iter().map(|r| r.action.as_str()).collect();
    assert_eq!(actions, ["create", "replace", "delete"]);
    for r in &revs {
        assert_eq!(r.actor.name, "Scim System User");
        assert_eq!(r.actor.key_label.as_deref(), Some("initial key"));
        assert!(r.request_id.is_some());
    }
    let title = revs[1]
        .changes
        .iter()
        .find(|c| c.attribute == "title")
        .expect("title change");
    assert_eq!(
        (title.before.clone(), title.after.clone()),
        (None, Some(json!("Lead")))
    );
    // A refused request records nothing.
    let n = s.part.revisions(0, 1000).await.expect("all").len();
    s.post("/Users", json!({"userName": 1})).await;
    assert_eq!(s.part.revisions(0, 1000).await.expect("all").len(), n);
}

#[test]
fn a_folder_with_foreign_files_is_refused() {
    let dir = tempfile::tempdir().expect("dir");
    std::fs::write(dir.path().join("notes.txt"), "hello").expect("write");
    let err = server::open_sled(&config_for(dir.path()))
        .err()
        .expect("refused");
    assert!(err.to_string().contains("no store"), "{err}");
}

#[tokio::test]
async fn a_store_whose_files_are_damaged_does_not_open_empty() {
    let dir = tempfile::tempdir().expect("dir");
    {
        let config = config_for(dir.path());
        let store = std::sync::Arc::new(server::open_sled(&config).expect("store"));
        let core = server::core(&config, store).expect("the core");
        core.ensure_default_tenant().await.expect("default");
        core.ensure_scim_key(&scim_core::model::TenantId::default_tenant())
            .await
            .expect("key");
    }
    // Truncate every file of the store.
    for e in std::fs::read_dir(dir.path()).expect("dir").flatten() {
        if e.path().is_file() {
            std::fs::write(e.path(), b"").expect("truncate");
        }
    }
    let opened = server::open_sled(&config_for(dir.path()));
    assert!(
        opened.is_err(),
        "a damaged store must not open as an empty one"
    );
}

#[test]
fn a_locked_folder_is_reported_as_in_use() {
    let dir = tempfile::tempdir().expect("dir");
    let _first = server::open_sled(&config_for(dir.path())).expect("store");
    let err = server::open_sled(&config_for(dir.path()))
        .err()
        .expect("locked");
    assert!(err.is_locked(), "{err}");
}
