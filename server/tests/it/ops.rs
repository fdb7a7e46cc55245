//! Operations endpoints: liveness, readiness and metrics, unauthenticated and free of data.

use crate::support::TestServer;

async fn plain(s: &TestServer, path: &str) -> (u16, String, String) {
    let r = s
        .client
        .get(format!("{}{path}", s.origin))
        .send()
        .await
        .expect("request");
    let status = r.status().as_u16();
    let ct = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    (status, ct, r.text().await.expect("body"))
}

#[tokio::test]
async fn liveness_and_readiness() {
    let s = TestServer::start().await;
    assert_eq!(plain(&s, "/livez").await.0, 200);
    let (status, ct, body) = plain(&s, "/readyz").await;
    assert_eq!((status, ct.as_str()), (200, "application/json"), "{body}");
    for k in s.store.keys().await.expect("keys") {
        s.revoke(&k.id).await;
    }
    let (status, _, body) = plain(&s, "/readyz").await;
    assert_eq!(status, 503, "no SCIM key: every SCIM request would fail");
    assert!(body.contains("no active SCIM key"), "{body}");
    assert_eq!(
        plain(&s, "/livez").await.0,
        200,
        "liveness does not depend on the store"
    );
}

#[tokio::test]
async fn metrics_count_requests_by_route_template_without_data() {
    let s = TestServer::start().await;
    let id = s.user("metered.user").await;
    s.get(&format!("/Users/{id}")).await;
    s.get(&format!("/Users/{id}")).await;
    s.get("/Users?filter=userName+eq+%22secret.filter.value%22")
        .await;
    s.get("/Users/nope").await;
    let (status, ct, text) = plain(&s, "/metrics").await;
    assert_eq!(status, 200);
    assert!(ct.starts_with("text/plain"), "{ct}");
    assert!(
        text.contains(
            "scim_requests_total{method=\"GET\",route=\"/scim/v2/<rt>/<id>\",status=\"200\"} 2"
        ),
        "{text}"
    );
    assert!(
        text.contains("route=\"/scim/v2/<rt>/<id>\",status=\"404\"} 1"),
        "{text}"
    );
    assert!(
        text.contains(
            "scim_request_duration_seconds_count{method=\"POST\",route=\"/scim/v2/<rt>\"} 1"
        ),
        "{text}"
    );
    assert!(text.contains("scim_store_size_bytes "));
    for secret in [
        id.as_str(),
        "metered.user",
        "secret.filter.value",
        s.key.as_str(),
    ] {
        assert!(!text.contains(secret), "metrics must not carry {secret}");
    }
}
