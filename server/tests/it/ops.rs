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

/// The value of the one sample of `metric` with exactly `labels`, in a metrics text.
fn sample(text: &str, metric: &str, labels: &str) -> Option<f64> {
    let head = format!("{metric}{{{labels}}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&head))
        .map(|v| v.parse().expect("a number"))
}

/// Webhook deliveries per endpoint, read from the store at each scrape: the events waiting and
/// the age of the oldest, then the attempts by outcome; labelled by tenant and endpoint id only.
#[tokio::test]
async fn metrics_show_webhook_deliveries_by_outcome_and_what_waits() {
    let s = TestServer::start_with(|c| c.webhook_allow_private = true).await;
    // A port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let url = format!("http://127.0.0.1:{closed}/never-in-metrics");
    let tenant = scim_core::model::TenantId::default_tenant();
    let added = s
        .core
        .add_webhook(
            &tenant,
            &url,
            &["user.*".to_string()],
            scim_core::auth::operator(),
        )
        .await
        .expect("added");
    let id = added.webhook.id;
    let text = s.metrics().await;
    let labels = format!("tenant=\"default\",endpoint=\"{id}\"");
    assert_eq!(
        sample(&text, "scim_webhook_pending_events", &labels),
        Some(0.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, "scim_webhook_oldest_pending_seconds", &labels),
        Some(0.0),
        "none waits: {text}"
    );
    assert!(
        text.contains("scim_webhook_metrics_truncated 0\n"),
        "{text}"
    );

    s.user("hooked.one").await;
    s.user("hooked.two").await;
    let text = s.metrics().await;
    assert!(
        text.contains("# TYPE scim_webhook_deliveries_total counter\n")
            && text.contains("# TYPE scim_webhook_pending_events gauge\n")
            && text.contains("# TYPE scim_webhook_oldest_pending_seconds gauge\n"),
        "{text}"
    );
    assert_eq!(
        sample(&text, "scim_webhook_pending_events", &labels),
        Some(2.0),
        "two user.created events wait: {text}"
    );
    let age = sample(&text, "scim_webhook_oldest_pending_seconds", &labels).expect("an age");
    assert!((0.0..60.0).contains(&age), "{age}: {text}");
    for outcome in ["delivered", "retrying", "given_up", "gone"] {
        assert_eq!(
            sample(
                &text,
                "scim_webhook_deliveries_total",
                &format!("{labels},outcome=\"{outcome}\"")
            ),
            Some(0.0),
            "{outcome}: {text}"
        );
    }
    assert!(
        !text.contains(&url) && !text.contains("hooked.one"),
        "no URL, no data: {text}"
    );

    // The first attempt fails (nothing listens) and, with no time to retry, is given up.
    let sender =
        server::webhooks::HttpSender::new(std::time::Duration::from_secs(5), true).expect("sender");
    let rules = scim_core::delivery::Rules {
        retry_for: time::Duration::ZERO,
        ..Default::default()
    };
    s.core
        .deliver(&tenant, &id, &sender, &rules, &s.base, 0.5)
        .await
        .expect("an attempt");
    let text = s.metrics().await;
    let count = |outcome: &str| {
        sample(
            &text,
            "scim_webhook_deliveries_total",
            &format!("{labels},outcome=\"{outcome}\""),
        )
    };
    assert_eq!(count("given_up"), Some(1.0), "{text}");
    assert_eq!(count("delivered"), Some(0.0), "{text}");
    assert_eq!(count("retrying"), Some(0.0), "{text}");
    assert_eq!(
        sample(&text, "scim_webhook_pending_events", &labels),
        Some(1.0),
        "the second event still waits: {text}"
    );
}

/// A metric without labels, if the text has it.
fn plain_counter(text: &str, metric: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix(metric)?.strip_prefix(' ')?.parse().ok())
}

/// On sled, the commits and the batches they shared: every SCIM write is counted once, in one
/// batch. PostgreSQL commits each write on its own and shows neither.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_commits_and_the_batches_that_held_them() {
    let s = TestServer::start().await;
    let before = s.metrics().await;
    let names: Vec<String> = (0..20).map(|i| format!("batched.{i}")).collect();
    futures_util::future::join_all(names.iter().map(|n| s.user(n))).await;
    let after = s.metrics().await;
    let counts = |text: &str| {
        (
            plain_counter(text, "scim_commit_batches_total"),
            plain_counter(text, "scim_commit_writes_total"),
        )
    };
    match (counts(&before), counts(&after)) {
        ((Some(b0), Some(w0)), (Some(b1), Some(w1))) => {
            assert!(crate::support::postgres().is_none(), "{after}");
            assert_eq!(w1 - w0, 20, "each create is one write\n{after}");
            assert!(
                (1..=20).contains(&(b1 - b0)),
                "20 writes in 1 to 20 batches, not {}\n{after}",
                b1 - b0
            );
        }
        ((None, None), (None, None)) => {
            assert!(
                crate::support::postgres().is_some(),
                "sled counts its commits\n{after}"
            );
        }
        other => panic!("both counters, or neither: {other:?}\n{after}"),
    }
}
