//! Webhook deliveries to a real HTTP receiver (wiremock on loopback, so the server runs with
//! `webhook_allow_private`), each signature checked with the Standard Webhooks project's own
//! verifier: events arrive signed, in order, at least once; a receiver down for ten minutes (of
//! a clock the test moves) gets the backlog in order; `410 Gone` disables; what is given up can
//! be sent again; rotation keeps both secrets valid; the test message; and the address rules
//! against server-side request forgery, one refused class at a time.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use scim_core::clock::ManualClock;
use scim_core::delivery::{Answer, Rules, Sender, Step};
use scim_core::model::TenantId;
use scim_core::Core;
use serde_json::{json, Value};
use server::webhooks::{Alone, BaseUrl, Dispatcher, HttpSender};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{patch_op, user_body, Reply, TestServer};

async fn admin_call(
    s: &TestServer,
    key: &str,
    m: Method,
    path: &str,
    body: Option<Value>,
) -> Reply {
    let url = format!("{}/admin/v1{path}", s.origin);
    s.call(m, &url, Some(key), body.as_ref()).await
}

/// Adds an endpoint for `url` wanting `events`; its id and secret.
async fn add_endpoint(s: &TestServer, admin: &str, url: &str, events: &[&str]) -> (String, String) {
    let r = admin_call(
        s,
        admin,
        Method::POST,
        "/webhooks",
        Some(json!({"url": url, "events": events})),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    (
        r.body["webhook"]["id"].as_str().expect("id").to_string(),
        r.body["secret"].as_str().expect("secret").to_string(),
    )
}

async fn allowing_private() -> TestServer {
    TestServer::start_with(|c| c.webhook_allow_private = true).await
}

fn base_url(s: &TestServer) -> BaseUrl {
    let base = s.base.clone();
    Arc::new(move |_: &TenantId| base.clone())
}

/// The server's dispatcher, started on `core` (the server's, or one with a clock the test moves).
fn dispatch(s: &TestServer, core: Arc<Core>, rules: Rules) -> tokio::task::JoinHandle<()> {
    let sender = HttpSender::new(Duration::from_secs(5), true).expect("sender");
    let d = Dispatcher::new(core, Arc::new(sender), rules, base_url(s), Arc::new(Alone));
    tokio::spawn(d.run())
}

/// A receiver on loopback that answers every POST with `status`.
async fn receiver_answering(status: u16) -> MockServer {
    let receiver = MockServer::start().await;
    answer(&receiver, status).await;
    receiver
}

/// From now on `receiver` answers every POST with `status` (what it got so far is forgotten).
async fn answer(receiver: &MockServer, status: u16) {
    receiver.reset().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(status))
        .mount(receiver)
        .await;
}

/// A request the receiver got: its `webhook-id` and body.
struct Received {
    id: String,
    body: Value,
    verified: bool,
}

/// What `receiver` got so far, each checked against `secret` with the `standardwebhooks` crate.
async fn received(receiver: &MockServer, secret: &str) -> Vec<Received> {
    let theirs = standardwebhooks::Webhook::new(secret).expect("their secret parse");
    receiver
        .received_requests()
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|r| {
            let mut headers = http::HeaderMap::new();
            for name in ["webhook-id", "webhook-timestamp", "webhook-signature"] {
                if let Some(v) = r.headers.get(name) {
                    headers.insert(name, v.to_str().expect("text").parse().expect("value"));
                }
            }
            Received {
                id: headers
                    .get("webhook-id")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_string(),
                verified: theirs.verify(&r.body, &headers).is_ok(),
                body: serde_json::from_slice(&r.body).unwrap_or(Value::Null),
            }
        })
        .collect()
}

/// Waits (up to 20 s) until `receiver` got at least `n` requests.
async fn wait_for(receiver: &MockServer, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let got = receiver.received_requests().await.unwrap_or_default().len();
        if got >= n {
            return;
        }
        assert!(Instant::now() < deadline, "{got} of {n} requests arrived");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The default tenant's events in the feed, oldest first.
async fn feed(s: &TestServer, admin: &str) -> Vec<Value> {
    let r = admin_call(s, admin, Method::GET, "/events?limit=1000", None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body["events"].as_array().expect("events").clone()
}

fn types(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["type"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[tokio::test]
async fn events_reach_a_receiver_signed_in_order_each_as_the_feed_has_it() {
    let s = allowing_private().await;
    let (_, admin) = s.mint("Ada (admin)", true).await;
    let receiver = receiver_answering(204).await;
    let (_, secret) = add_endpoint(&s, &admin, &format!("{}/hook", receiver.uri()), &["*"]).await;
    let sender = dispatch(&s, Arc::clone(&s.core), Rules::default());
    let id = s.user("alice").await;
    let r = s
        .patch(
            &format!("/Users/{id}"),
            patch_op(json!([{"op": "replace", "path": "active", "value": false}])),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = s
        .patch(
            &format!("/Users/{id}"),
            patch_op(json!([{"op": "replace", "path": "active", "value": true}])),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let group = s.group("Engineering", &[&id]).await;
    assert_eq!(
        s.delete(&format!("/Users/{id}")).await.status,
        StatusCode::NO_CONTENT
    );
    let expected = feed(&s, &admin).await;
    assert_eq!(
        types(&expected),
        [
            "user.created",
            "user.suspended",
            "user.reactivated",
            "group.created",
            // A deleted user leaves its groups without a group.updated: user.deleted says it.
            "user.deleted"
        ]
        .map(String::from)
        .to_vec(),
        "{expected:?}"
    );
    wait_for(&receiver, expected.len()).await;
    let got = received(&receiver, &secret).await;
    sender.abort();
    assert_eq!(got.len(), expected.len(), "each once");
    for (g, e) in got.iter().zip(&expected) {
        assert!(g.verified, "the signature verifies: {}", g.body);
        assert_eq!(
            g.id,
            e["id"].as_str().expect("id"),
            "webhook-id is the event's id"
        );
        // The same body the change feed serves (its data named by the same base URL).
        assert_eq!(&g.body, e);
    }
    assert_eq!(got[3].body["resourceId"], group.as_str());
    assert!(!got.iter().any(|g| g.body.to_string().contains("password")));
}

#[tokio::test]
async fn an_endpoint_gets_only_the_events_it_wants() {
    let s = allowing_private().await;
    let (_, admin) = s.mint("Ada (admin)", true).await;
    let receiver = receiver_answering(200).await;
    let (_, secret) =
        add_endpoint(&s, &admin, &receiver.uri(), &["user.suspended", "group.*"]).await;
    let sender = dispatch(&s, Arc::clone(&s.core), Rules::default());
    let id = s.user("bob").await;
    s.patch(
        &format!("/Users/{id}"),
        patch_op(json!([{"op": "replace", "path": "active", "value": false}])),
    )
    .await;
    s.group("Sales", &[]).await;
    // A last event it wants, after one it does not: once it is in, nothing else will come.
    s.user("carol").await;
    s.group("Support", &[]).await;
    wait_for(&receiver, 3).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    sender.abort();
    let got = received(&receiver, &secret).await;
    let kinds: Vec<&str> = got
        .iter()
        .map(|g| g.body["type"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(kinds, ["user.suspended", "group.created", "group.created"]);
    assert!(got.iter().all(|g| g.verified));
}

/// A receiver down (503) for ten minutes of a clock the test moves, then back: the backlog
/// arrives, in feed order (so each resource's events in the order of its changes), each event
/// retried with the same `webhook-id`, the pauses growing between attempts.
#[tokio::test]
async fn a_receiver_down_for_ten_minutes_gets_the_backlog_in_order() {
    let s = allowing_private().await;
    let (_, admin) = s.mint("Ada (admin)", true).await;
    let receiver = receiver_answering(503).await;
    let (_, secret) = add_endpoint(&s, &admin, &receiver.uri(), &["*"]).await;
    // The dispatcher's core: the server's store and secrets key, and a clock the test moves.
    let start = time::OffsetDateTime::now_utc();
    let clock = Arc::new(ManualClock::new(start));
    let config = crate::support::config_for(s.dir.path());
    let core = Arc::new(
        Core::with_clock(
            Arc::clone(&s.store),
            scim_core::Settings {
                webhook_allow_private: true,
                ..Default::default()
            },
            Arc::clone(&clock) as Arc<dyn scim_core::clock::Clock>,
        )
        .with_sealer(config.secrets_key().expect("the server's secrets key")),
    );
    let sender = dispatch(&s, Arc::clone(&core), Rules::default());
    // Three users, each created, suspended and renamed while the receiver is down.
    let mut ids = Vec::new();
    for name in ["ann", "ben", "cat"] {
        ids.push(s.user(name).await);
    }
    for id in &ids {
        for body in [
            json!([{"op": "replace", "path": "active", "value": false}]),
            json!([{"op": "replace", "path": "name.givenName", "value": "Renamed"}]),
        ] {
            let r = s.patch(&format!("/Users/{id}"), patch_op(body)).await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        }
    }
    let expected = feed(&s, &admin).await;
    assert_eq!(expected.len(), 9);
    // Ten minutes, in steps of ten seconds, each long enough for the dispatcher to act.
    for step in 1..=60 {
        clock.set(start + time::Duration::seconds(10 * step));
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    let down = received(&receiver, &secret).await;
    let first = expected[0]["id"].as_str().expect("id");
    assert!(
        !down.is_empty() && down.iter().all(|r| r.id == first),
        "while down, only the first event is tried: {:?}",
        down.iter().map(|r| &r.id).collect::<Vec<_>>()
    );
    // Backoff: 5 s, 10 s, 20 s, … (less up to half by jitter) gives 6 to 10 tries in ten
    // minutes, not one per ten-second step.
    assert!(
        (5..=11).contains(&down.len()),
        "{} attempts in ten minutes",
        down.len()
    );
    // Back: it answers 200; an hour later (the longest pause) everything is in.
    answer(&receiver, 200).await;
    clock.set(start + time::Duration::minutes(70));
    wait_for(&receiver, expected.len()).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    sender.abort();
    let after: Vec<String> = received(&receiver, &secret)
        .await
        .into_iter()
        .map(|r| r.id)
        .collect();
    let want: Vec<String> = expected
        .iter()
        .map(|e| e["id"].as_str().expect("id").to_string())
        .collect();
    assert_eq!(
        after, want,
        "the backlog arrives whole, in order, each once"
    );
    // Per resource, the types in the order of its changes.
    let mut per: HashMap<String, Vec<String>> = HashMap::new();
    for e in &expected {
        per.entry(e["resourceId"].as_str().expect("id").to_string())
            .or_default()
            .push(e["type"].as_str().expect("type").to_string());
    }
    for (id, kinds) in per {
        assert_eq!(
            kinds,
            ["user.created", "user.suspended", "user.updated"],
            "{id}"
        );
    }
    let view = core
        .delivery(&TenantId::default_tenant(), &add_id(&s, &admin).await)
        .await
        .expect("view");
    assert_eq!((view.pending, view.counts.delivered), (0, 9));
    assert!(view.counts.retried >= 5);
}

/// The id of the default tenant's only endpoint.
async fn add_id(s: &TestServer, admin: &str) -> String {
    let r = admin_call(s, admin, Method::GET, "/webhooks", None).await;
    r.body[0]["id"].as_str().expect("an endpoint").to_string()
}

#[tokio::test]
async fn a_receiver_gone_for_good_disables_its_endpoint_and_given_up_events_can_be_sent_again() {
    let s = allowing_private().await;
    let (_, admin) = s.mint("Ada (admin)", true).await;
    let receiver = receiver_answering(500).await;
    let (hook, secret) = add_endpoint(&s, &admin, &receiver.uri(), &["user.*"]).await;
    let sender = HttpSender::new(Duration::from_secs(5), true).expect("sender");
    let tenant = TenantId::default_tenant();
    s.user("dora").await;
    // Retries for no time: the first failure is given up, kept as failed, and the next is tried.
    let now_only = Rules {
        retry_for: time::Duration::ZERO,
        ..Rules::default()
    };
    let step = s
        .core
        .deliver(&tenant, &hook, &sender, &now_only, &s.base, 0.0)
        .await
        .expect("an attempt");
    assert_eq!(step, Step::Worked);
    let r = admin_call(
        &s,
        &admin,
        Method::GET,
        &format!("/webhooks/{hook}/deliveries"),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["failed"][0]["outcome"], "given_up", "{}", r.text);
    assert_eq!(r.body["failed"][0]["status"], 500);
    assert_eq!(r.body["pending"], 0);
    let event = r.body["failed"][0]["eventId"]
        .as_str()
        .expect("event")
        .to_string();
    // Sent again, once the receiver is back.
    answer(&receiver, 200).await;
    let r = admin_call(
        &s,
        &admin,
        Method::POST,
        &format!("/webhooks/{hook}/resend"),
        Some(json!({"event": event})),
    )
    .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
    let unknown = admin_call(
        &s,
        &admin,
        Method::POST,
        &format!("/webhooks/{hook}/resend"),
        Some(json!({"event": "evt_nope"})),
    )
    .await;
    unknown.assert_error(404, None);
    s.core
        .deliver(&tenant, &hook, &sender, &Rules::default(), &s.base, 0.0)
        .await
        .expect("the resend");
    let got = received(&receiver, &secret).await;
    assert_eq!(got.len(), 1);
    assert!(got[0].verified);
    assert_eq!(got[0].id, event, "the same webhook-id as the first attempt");
    let r = admin_call(
        &s,
        &admin,
        Method::GET,
        &format!("/webhooks/{hook}/deliveries"),
        None,
    )
    .await;
    assert_eq!(r.body["failed"], json!([]), "{}", r.text);
    assert_eq!(r.body["recent"][0]["outcome"], "delivered");
    // 410 Gone: the endpoint is disabled, with why, and its history says so.
    answer(&receiver, 410).await;
    s.user("eve").await;
    let step = s
        .core
        .deliver(&tenant, &hook, &sender, &Rules::default(), &s.base, 0.0)
        .await
        .expect("an attempt");
    assert_eq!(step, Step::Disabled);
    let listed = admin_call(&s, &admin, Method::GET, "/webhooks", None).await;
    assert_eq!(listed.body[0]["enabled"], false, "{}", listed.text);
    assert!(listed.body[0]["disabledBecause"]
        .as_str()
        .or(listed.body[0]["disabled_because"].as_str())
        .is_some_and(|w| w.contains("410")));
    // Nothing more is sent while it is disabled; enabled again, the event is sent.
    let step = s
        .core
        .deliver(&tenant, &hook, &sender, &Rules::default(), &s.base, 0.0)
        .await
        .expect("no attempt");
    assert_eq!(step, Step::Disabled);
    assert_eq!(
        receiver.received_requests().await.unwrap_or_default().len(),
        1
    );
}

#[tokio::test]
async fn a_rotated_secret_signs_beside_the_old_one_until_the_grace_ends() {
    let s = allowing_private().await;
    let (_, admin) = s.mint("Ada (admin)", true).await;
    let receiver = receiver_answering(200).await;
    let (hook, old) = add_endpoint(&s, &admin, &receiver.uri(), &["*"]).await;
    let r = admin_call(
        &s,
        &admin,
        Method::POST,
        &format!("/webhooks/{hook}/rotate-secret"),
        Some(json!({"graceHours": 2})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let new = r.body["secret"]
        .as_str()
        .expect("the new secret")
        .to_string();
    assert_ne!(new, old);
    assert!(
        r.body["webhook"]["previous_secret_until"].is_string()
            || r.body["webhook"]["previousSecretUntil"].is_string(),
        "{}",
        r.text
    );
    // A test message: both the old and the new secret verify it.
    let r = admin_call(
        &s,
        &admin,
        Method::POST,
        &format!("/webhooks/{hook}/test"),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["delivered"], true, "{}", r.text);
    assert_eq!(r.body["status"], 200);
    let by_old = received(&receiver, &old).await;
    let by_new = received(&receiver, &new).await;
    assert!(by_old[0].verified && by_new[0].verified);
    assert_eq!(by_new[0].body["type"], "webhook.test");
    // Past the grace, only the new one signs.
    let endpoint = s
        .core
        .webhook(&TenantId::default_tenant(), &hook)
        .await
        .expect("endpoint");
    let later = time::OffsetDateTime::now_utc() + time::Duration::hours(3);
    assert_eq!(
        s.core
            .signing_secrets(&endpoint, later)
            .expect("secrets")
            .len(),
        1
    );
    let bad = admin_call(
        &s,
        &admin,
        Method::POST,
        &format!("/webhooks/{hook}/rotate-secret"),
        Some(json!({"graceHours": 1000})),
    )
    .await;
    bad.assert_error(400, Some("invalidValue"));
}

/// A slow receiver holds its own endpoint's worker only: SCIM writes are answered meanwhile.
#[tokio::test]
async fn a_slow_receiver_never_holds_a_scim_request() {
    let s = allowing_private().await;
    let (_, admin) = s.mint("Ada (admin)", true).await;
    let receiver = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(3)))
        .mount(&receiver)
        .await;
    add_endpoint(&s, &admin, &receiver.uri(), &["*"]).await;
    let sender = dispatch(&s, Arc::clone(&s.core), Rules::default());
    s.user("first").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    // The first delivery is in flight for three seconds; twenty writes finish long before.
    let started = Instant::now();
    for i in 0..20 {
        let r = s.post("/Users", user_body(&format!("later{i}"))).await;
        assert_eq!(r.status, StatusCode::CREATED);
    }
    let took = started.elapsed();
    let during = receiver.received_requests().await.unwrap_or_default().len();
    sender.abort();
    assert!(during <= 1, "the slow receiver has had {during} requests");
    assert!(
        took < Duration::from_secs(3),
        "writes waited for the receiver: {took:?}"
    );
}

/// The address rules, each refused class on its own, with plain http refused too; the sender
/// connects to none of them (a listener on loopback sees no connection).
#[tokio::test]
async fn each_refused_address_class_is_never_reached() {
    let strict = HttpSender::new(Duration::from_secs(2), false).expect("sender");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("listener");
    let port = listener.local_addr().expect("addr").port();
    let cases = [
        (format!("https://127.0.0.1:{port}/x"), "loopback"),
        (format!("https://localhost:{port}/x"), "loopback"),
        (format!("https://[::1]:{port}/x"), "loopback"),
        ("https://10.1.2.3/x".to_string(), "private"),
        ("https://172.20.0.1/x".to_string(), "private"),
        ("https://192.168.0.10/x".to_string(), "private"),
        ("https://[fd00::1]/x".to_string(), "private"),
        ("https://100.100.100.200/x".to_string(), "shared"),
        ("https://169.254.1.1/x".to_string(), "link-local"),
        ("https://[fe80::1]/x".to_string(), "link-local"),
        (
            "https://169.254.169.254/latest/meta-data/".to_string(),
            "metadata",
        ),
        ("https://[fd00:ec2::254]/".to_string(), "metadata"),
        ("https://[::ffff:169.254.169.254]/".to_string(), "metadata"),
        ("https://0.0.0.0/x".to_string(), "unspecified"),
        ("https://224.0.0.1/x".to_string(), "multicast"),
        ("https://240.0.0.1/x".to_string(), "reserved"),
        (format!("http://example.com:{port}/x"), "scheme http"),
    ];
    for (url, class) in cases {
        let answer = strict.post(&url, &[], b"{}".to_vec()).await;
        match answer {
            Answer::Failed(why) => assert!(
                why.contains(class) || why.contains("not allowed"),
                "{url}: {why}"
            ),
            other => panic!("{url} was reached: {other:?}"),
        }
    }
    let accepted = tokio::time::timeout(Duration::from_millis(200), listener.accept()).await;
    assert!(accepted.is_err(), "a refused address was connected to");
    // The same loopback URL with private addresses allowed is reached: the rule, not the
    // network, refused it.
    let open = HttpSender::new(Duration::from_secs(2), true).expect("sender");
    let reach = tokio::spawn(async move {
        open.post(&format!("http://127.0.0.1:{port}/x"), &[], Vec::new())
            .await
    });
    let accepted = tokio::time::timeout(Duration::from_secs(2), listener.accept()).await;
    assert!(accepted.is_ok(), "allowed, loopback is reached");
    reach.abort();
}

/// A redirect is not followed: the 3xx is the answer (retried as a failure), and its target
/// gets nothing.
#[tokio::test]
async fn a_redirect_is_not_followed() {
    let receiver = MockServer::start().await;
    Mock::given(method("POST"))
        .and(wiremock::matchers::path("/hook"))
        .respond_with(
            ResponseTemplate::new(307)
                .insert_header("location", format!("{}/elsewhere", receiver.uri())),
        )
        .mount(&receiver)
        .await;
    Mock::given(method("POST"))
        .and(wiremock::matchers::path("/elsewhere"))
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .mount(&receiver)
        .await;
    let sender = HttpSender::new(Duration::from_secs(2), true).expect("sender");
    let answer = sender
        .post(&format!("{}/hook", receiver.uri()), &[], b"{}".to_vec())
        .await;
    assert_eq!(answer, Answer::Status(307));
    receiver.verify().await;
}

/// An answer that never ends is cut at the timeout; a huge one is read no further than the cap.
#[tokio::test]
async fn a_delivery_has_a_timeout_and_reads_little_of_the_answer() {
    let receiver = MockServer::start().await;
    Mock::given(method("POST"))
        .and(wiremock::matchers::path("/slow"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(5)))
        .mount(&receiver)
        .await;
    Mock::given(method("POST"))
        .and(wiremock::matchers::path("/big"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(vec![b'x'; 8 * 1024 * 1024]))
        .mount(&receiver)
        .await;
    let sender = HttpSender::new(Duration::from_secs(1), true).expect("sender");
    let started = Instant::now();
    let answer = sender
        .post(&format!("{}/slow", receiver.uri()), &[], Vec::new())
        .await;
    assert!(
        matches!(&answer, Answer::Failed(why) if why.contains("timed out")),
        "{answer:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(3));
    let answer = sender
        .post(&format!("{}/big", receiver.uri()), &[], Vec::new())
        .await;
    assert_eq!(answer, Answer::Status(200));
}

/// Without `webhook_allow_private`, an http or loopback endpoint cannot even be added.
#[tokio::test]
async fn plain_http_endpoints_need_the_private_setting() {
    let s = TestServer::start().await;
    let (_, admin) = s.mint("Ada (admin)", true).await;
    let r = admin_call(
        &s,
        &admin,
        Method::POST,
        "/webhooks",
        Some(json!({"url": "http://127.0.0.1:9/hook", "events": ["*"]})),
    )
    .await;
    r.assert_error(400, Some("invalidValue"));
    assert!(r.text.contains("https"), "{}", r.text);
}

/// Every OneLogin scenario, each on a tenant of its own with an endpoint subscribed to `*`:
/// the events received match the tenant's history one to one (each change of a user or group,
/// its resource and position), every one signed; and together the scenarios produce every kind
/// of change OneLogin makes (create, update, suspend, reactivate, delete, memberships).
#[tokio::test]
async fn onelogin_scenarios_with_a_subscriber_get_one_event_per_change() {
    let s = allowing_private().await;
    let receiver = receiver_answering(200).await;
    let sender = dispatch(&s, Arc::clone(&s.core), Rules::default());
    let scenarios = onelogin_sim::list_scenarios().expect("scenarios");
    let mut tenants = Vec::new();
    for (i, path) in scenarios.iter().enumerate() {
        let t = s.tenant(&format!("ol{i}")).await;
        let r = s
            .call(
                Method::POST,
                &format!("{}/webhooks", t.admin_api),
                Some(&t.admin),
                Some(&json!({"url": receiver.uri(), "events": ["*"]})),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        let secret = r.body["secret"].as_str().expect("secret").to_string();
        let scenario = onelogin_sim::Scenario::load(path).expect("scenario loads");
        let target = onelogin_sim::Target::new(t.base.clone(), t.key.clone());
        let transcript = onelogin_sim::run_scenario(&scenario, &target)
            .await
            .expect("scenario runs");
        assert!(transcript.passed, "{}", transcript.to_text(true));
        tenants.push((t, secret, scenario.name.clone()));
    }
    // What each tenant's history holds: its changes of users and groups.
    let mut changes: HashMap<String, Vec<(u64, String)>> = HashMap::new();
    let mut total = 0;
    for (t, _, _) in &tenants {
        let r = s
            .call(
                Method::GET,
                &format!("{}/audit?limit=1000", t.admin_api),
                Some(&t.admin),
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let mine: Vec<(u64, String)> = r.body["entries"]
            .as_array()
            .expect("entries")
            .iter()
            .filter(|e| matches!(e["target_type"].as_str(), Some("User" | "Group")))
            .map(|e| {
                (
                    e["seq"].as_u64().expect("seq"),
                    e["target_id"].as_str().expect("id").to_string(),
                )
            })
            .collect();
        total += mine.len();
        changes.insert(t.id.to_string(), mine);
    }
    wait_for(&receiver, total).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    sender.abort();
    let mut kinds = std::collections::BTreeSet::new();
    for (t, secret, name) in &tenants {
        let got: Vec<Received> = received(&receiver, secret)
            .await
            .into_iter()
            .filter(|r| r.body["tenant"] == t.id.as_str())
            .collect();
        assert!(got.iter().all(|r| r.verified), "{name}: all signed");
        let seen: Vec<(u64, String)> = got
            .iter()
            .map(|r| {
                (
                    r.body["seq"].as_u64().expect("seq"),
                    r.body["resourceId"].as_str().expect("id").to_string(),
                )
            })
            .collect();
        assert_eq!(
            &seen,
            &changes[t.id.as_str()],
            "{name}: one event per change"
        );
        kinds.extend(
            got.iter()
                .map(|r| r.body["type"].as_str().unwrap_or("").to_string()),
        );
    }
    for kind in [
        "user.created",
        "user.updated",
        "user.suspended",
        "user.reactivated",
        "user.deleted",
        "group.created",
        "group.updated",
    ] {
        assert!(kinds.contains(kind), "no scenario made a {kind}: {kinds:?}");
    }
}
