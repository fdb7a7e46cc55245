//! Authentication: bearer keys, checked on every route.

use reqwest::Method;

use crate::support::{Reply, TestServer};

async fn with_header(s: &TestServer, path: &str, value: Option<&str>) -> Reply {
    let mut r = s.client.get(s.url(path));
    if let Some(v) = value {
        r = r.header("Authorization", v);
    }
    Reply::from(r.send().await.expect("request")).await
}

#[tokio::test]
async fn the_auth_matrix() {
    let s = TestServer::start().await;
    let good = s.key.clone();
    for path in [
        "/Users",
        "/Groups",
        "/ServiceProviderConfig",
        "/Schemas",
        "/ResourceTypes",
        "/Users/x",
        "/Nope/a/b",
    ] {
        for bad in [
            None,
            Some("Bearer".to_string()),
            Some("Bearer ".to_string()),
            Some(format!("Basic {good}")),
            Some("Bearer scim_0000".to_string()),
            Some(format!("Bearer {good}x")),
            Some("non-token".to_string()),
        ] {
            let r = with_header(&s, path, bad.as_deref()).await;
            r.assert_error(401, None);
            assert!(
                r.header("www-authenticate")
                    .is_some_and(|h| h.starts_with("Bearer")),
                "{path} {bad:?}"
            );
            assert!(!r.text.contains(&good), "a 401 never echoes the key");
        }
    }
    for scheme in ["Bearer", "bearer", "BEARER"] {
        let r = with_header(&s, "/Users", Some(&format!("{scheme} {good}"))).await;
        assert_eq!(r.status, 200, "{scheme}: {}", r.text);
    }
}

#[tokio::test]
async fn several_keys_work_at_once_and_revocation_applies_to_the_next_request() {
    let s = TestServer::start().await;
    let (second, key2) = s.mint("rotation", false).await;
    for key in [&s.key, &key2] {
        let r = with_header(&s, "/Users", Some(&format!("Bearer {key}"))).await;
        assert_eq!(r.status, 200);
    }
    s.revoke(&second.id).await;
    with_header(&s, "/Users", Some(&format!("Bearer {key2}")))
        .await
        .assert_error(401, None);
    let r = with_header(&s, "/Users", Some(&format!("Bearer {}", s.key))).await;
    assert_eq!(r.status, 200, "the other key still works");
}

#[tokio::test]
async fn with_no_usable_key_every_request_is_refused() {
    let s = TestServer::start().await;
    for k in s.store.keys().await.expect("keys") {
        s.revoke(&k.id).await;
    }
    for (method, path) in [
        (Method::GET, "/Users"),
        (Method::POST, "/Users"),
        (Method::GET, "/ServiceProviderConfig"),
    ] {
        let r = Reply::from(s.req(method, path).send().await.expect("request")).await;
        r.assert_error(401, None);
    }
}

#[tokio::test]
async fn an_admin_key_is_refused_on_scim_routes_with_403() {
    let s = TestServer::start().await;
    let (_, admin) = s.mint("admin", true).await;
    with_header(&s, "/Users", Some(&format!("Bearer {admin}")))
        .await
        .assert_error(403, None);
}

#[tokio::test]
async fn keys_are_stored_only_as_digests_and_last_use_is_recorded() {
    let s = TestServer::start().await;
    let r = s.get("/Users").await;
    assert_eq!(r.status, 200);
    let keys = s.store.keys().await.expect("keys");
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].digest, scim_core::secret::digest(&s.key));
    assert!(keys[0].last_used.is_some(), "last use recorded");
    let key = s.key.clone();
    let dir = tempfile::tempdir().expect("dir");
    s.stop_keeping_data(dir.path()).await;
    let mut found = false;
    for entry in walk(dir.path()) {
        let bytes = std::fs::read(&entry).expect("read");
        found |= bytes.windows(key.len()).any(|w| w == key.as_bytes());
        let hex_tail = &key[key.len() - 16..];
        found |= bytes.windows(16).any(|w| w == hex_tail.as_bytes());
    }
    assert!(!found, "the key, or part of it, appears in the data folder");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).expect("dir").flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}
