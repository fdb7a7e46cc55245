//! Webhook endpoints through the admin API: added with a signing secret shown once, listed
//! without it, disabled and enabled, kept in the store, recorded in the history; bad input
//! refused with SCIM errors; tenants apart.

use reqwest::{Method, StatusCode};
use scim_core::model::TenantId;
use scim_core::webhook::SigningSecret;
use serde_json::{json, Value};

use crate::support::{Api, Reply, TestServer};

async fn admin_call(
    s: &TestServer,
    key: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> Reply {
    let url = format!("{}/admin/v1{path}", s.origin);
    s.call(method, &url, Some(key), body.as_ref()).await
}

#[tokio::test]
async fn an_endpoint_is_added_with_its_secret_shown_once_then_listed_and_disabled() {
    let s = TestServer::start().await;
    let (_, admin) = s.mint("Ada (admin)", true).await;
    let r = admin_call(
        &s,
        &admin,
        Method::POST,
        "/webhooks",
        Some(json!({"url": "https://hooks.example.com/scim", "events": ["user.*", "group.updated", "user.*"]})),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.header("content-type"), Some("application/json"));
    let secret = r.body["secret"].as_str().expect("the secret").to_string();
    assert!(secret.starts_with("whsec_"), "{secret}");
    SigningSecret::parse(&secret).expect("a Standard Webhooks secret");
    let hook = r.body["webhook"].clone();
    let id = hook["id"].as_str().expect("id").to_string();
    assert_eq!(hook["url"], "https://hooks.example.com/scim");
    assert_eq!(hook["events"], json!(["user.*", "group.updated"]));
    assert_eq!(hook["enabled"], true);
    // The store keeps the secret sealed under the secrets key; the sender opens it.
    let stored = s
        .store
        .webhooks(&TenantId::default_tenant())
        .await
        .expect("endpoints");
    assert_eq!(stored.len(), 1);
    let body = secret.trim_start_matches("whsec_");
    assert!(
        stored[0].secret.starts_with("sealed.v1."),
        "{}",
        stored[0].secret
    );
    assert!(!stored[0].secret.contains(body));
    let opened = s
        .core
        .signing_secrets(&stored[0], time::OffsetDateTime::now_utc())
        .expect("opens");
    assert_eq!(opened.len(), 1);
    assert_eq!(opened[0].reveal(), secret);
    // Nothing the store wrote to disk holds it in clear.
    s.store.flush().await.expect("flush");
    for file in files_under(s.dir.path()) {
        let bytes = std::fs::read(&file).unwrap_or_default();
        let found = bytes.windows(body.len()).any(|w| w == body.as_bytes());
        assert!(!found, "{} holds the signing secret", file.display());
    }
    // Listed: never the secret.
    let r = admin_call(&s, &admin, Method::GET, "/webhooks", None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body, json!([hook]));
    assert!(!r.text.contains(&secret) && !r.text.contains("whsec_"));
    // Disabled, then enabled again.
    let path = format!("/webhooks/{id}");
    let r = admin_call(
        &s,
        &admin,
        Method::PATCH,
        &path,
        Some(json!({"enabled": false})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["enabled"], false);
    let listed = admin_call(&s, &admin, Method::GET, "/webhooks", None).await;
    assert_eq!(listed.body[0]["enabled"], false, "{}", listed.text);
    let r = admin_call(
        &s,
        &admin,
        Method::PATCH,
        &path,
        Some(json!({"enabled": true})),
    )
    .await;
    assert_eq!(r.body["enabled"], true, "{}", r.text);
    // The history records each change, never the secret.
    let feed = admin_call(&s, &admin, Method::GET, "/audit?limit=1000", None).await;
    let actions: Vec<&str> = feed.body["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter(|e| e["target_type"] == "Webhook")
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert_eq!(
        actions,
        ["webhook.create", "webhook.update", "webhook.update"]
    );
    assert!(!feed.text.contains(&secret));
    // Endpoint changes are no provisioning events.
    let events = admin_call(&s, &admin, Method::GET, "/events", None).await;
    assert_eq!(events.body["events"], json!([]), "{}", events.text);
}

#[tokio::test]
async fn bad_endpoints_are_refused_as_scim_errors_and_change_nothing() {
    let s = TestServer::start().await;
    let (_, admin) = s.mint("Ada (admin)", true).await;
    for body in [
        json!({"url": "http://hooks.example.com/x", "events": ["*"]}),
        json!({"url": "https://user:pw@hooks.example.com/x", "events": ["*"]}),
        json!({"url": "not a url", "events": ["*"]}),
        json!({"url": "https://hooks.example.com/x", "events": []}),
        json!({"url": "https://hooks.example.com/x", "events": ["users.*"]}),
        json!({"url": "https://hooks.example.com/x", "events": ["user.suspend"]}),
        json!({"url": "https://hooks.example.com/x", "events": [7]}),
        json!({"url": "https://hooks.example.com/x"}),
        json!({"events": ["*"]}),
    ] {
        admin_call(&s, &admin, Method::POST, "/webhooks", Some(body))
            .await
            .assert_error(400, Some("invalidValue"));
    }
    let url = format!("{}/admin/v1/webhooks", s.origin);
    let not_json = s
        .client
        .post(&url)
        .bearer_auth(&admin)
        .header("Content-Type", "application/json")
        .body("{")
        .send()
        .await
        .expect("request");
    assert_eq!(Reply::from(not_json).await.status.as_u16(), 400);
    admin_call(
        &s,
        &admin,
        Method::PATCH,
        "/webhooks/no-such-endpoint",
        Some(json!({"enabled": false})),
    )
    .await
    .assert_error(404, None);
    // A SCIM key is no admin key.
    let r = s
        .call(
            Method::POST,
            &url,
            Some(&s.key),
            Some(&json!({"url": "https://hooks.example.com/x", "events": ["*"]})),
        )
        .await;
    r.assert_error(403, None);
    let listed = admin_call(&s, &admin, Method::GET, "/webhooks", None).await;
    assert_eq!(listed.body, json!([]), "{}", listed.text);
    let added = admin_call(
        &s,
        &admin,
        Method::POST,
        "/webhooks",
        Some(json!({"url": "https://hooks.example.com/x", "events": ["*"]})),
    )
    .await;
    let path = format!(
        "/webhooks/{}",
        added.body["webhook"]["id"].as_str().expect("id")
    );
    admin_call(
        &s,
        &admin,
        Method::PATCH,
        &path,
        Some(json!({"enabled": "no"})),
    )
    .await
    .assert_error(400, Some("invalidValue"));
    let listed = admin_call(&s, &admin, Method::GET, "/webhooks", None).await;
    assert_eq!(listed.body[0]["enabled"], true, "{}", listed.text);
}

#[tokio::test]
async fn each_tenant_keeps_its_own_endpoints() {
    let s = TestServer::start().await;
    let acme = s.tenant("acme").await;
    let globex = s.tenant("globex").await;
    let body = json!({"url": "https://acme.example/hooks", "events": ["user.suspended"]});
    let r = s
        .on(&acme, Api::Admin, Method::POST, "/webhooks", Some(&body))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let r = s
        .on(&acme, Api::Admin, Method::GET, "/webhooks", None)
        .await;
    assert_eq!(r.body.as_array().map(Vec::len), Some(1), "{}", r.text);
    let r = s
        .on(&globex, Api::Admin, Method::GET, "/webhooks", None)
        .await;
    assert_eq!(r.body, json!([]), "{}", r.text);
    let (_, operator) = s.mint("operator", true).await;
    let r = admin_call(&s, &operator, Method::GET, "/webhooks", None).await;
    assert_eq!(r.body, json!([]), "default: {}", r.text);
    // acme's administrator cannot reach globex's endpoints.
    let url = format!("{}/webhooks", globex.admin_api);
    s.call(Method::POST, &url, Some(&acme.admin), Some(&body))
        .await
        .assert_error(401, None);
    let r = s
        .on(&globex, Api::Admin, Method::GET, "/webhooks", None)
        .await;
    assert_eq!(r.body, json!([]), "{}", r.text);
}

/// Every file under `dir`, at any depth.
fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                todo.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out
}
