//! Webhooks with two replicas: one sends at a time (the one holding the sender's database lock),
//! so each event is delivered once although both run a dispatcher; when the sender goes away,
//! the other takes over and nothing is lost.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use scim_core::delivery::Rules;
use scim_core::model::TenantId;
use scim_core::store::Store;
use scim_core::Core;
use server::webhooks::{BaseUrl, Dispatcher, HttpSender, Lease, PgLease};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{wait_until, Pair};

/// Each replica's dispatcher, as `serve` starts it, over that replica's own engine (its own
/// pool and lock session), both with one secrets key as the operator gives them.
fn dispatcher(
    pg: &scim_postgres::PgStore,
    sealer: &scim_core::seal::Sealer,
) -> tokio::task::JoinHandle<()> {
    let store: Arc<dyn Store> = Arc::new(pg.clone());
    let core = Arc::new(
        Core::new(
            store,
            scim_core::Settings {
                webhook_allow_private: true,
                ..Default::default()
            },
        )
        .with_sealer(sealer.clone()),
    );
    let sender = HttpSender::new(Duration::from_secs(5), true).expect("sender");
    let base: BaseUrl = Arc::new(|_: &TenantId| "http://replica/scim/v2".to_string());
    let lease: Arc<dyn Lease> = Arc::new(PgLease::new(pg.clone()));
    tokio::spawn(Dispatcher::new(core, Arc::new(sender), Rules::default(), base, lease).run())
}

/// The `webhook-id`s the receiver got, with how many times each.
async fn arrivals(receiver: &MockServer) -> HashMap<String, usize> {
    let mut seen = HashMap::new();
    for r in receiver.received_requests().await.unwrap_or_default() {
        if let Some(id) = r.headers.get("webhook-id").and_then(|v| v.to_str().ok()) {
            *seen.entry(id.to_string()).or_insert(0) += 1;
        }
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_replica_sends_each_event_and_the_other_takes_over_when_it_goes() {
    let pair = Pair::start().await;
    let receiver = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&receiver)
        .await;
    let (_, sealer) = scim_core::seal::Sealer::generate().expect("a key");
    let adder = Core::new(
        Arc::new(pair.replicas[0].pg.clone()) as Arc<dyn Store>,
        scim_core::Settings {
            webhook_allow_private: true,
            ..Default::default()
        },
    )
    .with_sealer(sealer.clone());
    adder
        .add_webhook(
            &TenantId::default_tenant(),
            &receiver.uri(),
            &["*".to_string()],
            scim_core::auth::operator(),
        )
        .await
        .expect("endpoint");
    let on_a = dispatcher(&pair.replicas[0].pg, &sealer);
    let on_b = dispatcher(&pair.replicas[1].pg, &sealer);
    // Users created through both replicas, while both dispatchers run.
    for i in 0..10 {
        let api = if i % 2 == 0 { &pair.a } else { &pair.b };
        api.create_user(&format!("u{i}")).await;
    }
    wait_until("ten events arrive", Duration::from_secs(30), || async {
        arrivals(&receiver).await.len() >= 10
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let first = arrivals(&receiver).await;
    assert_eq!(first.len(), 10);
    assert!(
        first.values().all(|n| *n == 1),
        "one sender at a time: no event twice {first:?}"
    );
    // Each dispatcher goes in turn (its task, and its lock session with it), the other one
    // running: whichever held the lock, one of the two stops is a handover.
    on_a.abort();
    for i in 10..16 {
        pair.b.create_user(&format!("u{i}")).await;
    }
    wait_until("sent with A gone", Duration::from_secs(30), || async {
        arrivals(&receiver).await.len() >= 16
    })
    .await;
    let on_a = dispatcher(&pair.replicas[0].pg, &sealer);
    on_b.abort();
    for i in 16..22 {
        pair.a.create_user(&format!("u{i}")).await;
    }
    wait_until("sent with B gone", Duration::from_secs(30), || async {
        arrivals(&receiver).await.len() >= 22
    })
    .await;
    on_a.abort();
    let all = arrivals(&receiver).await;
    assert_eq!(all.len(), 22, "every event, whichever replica sent it");
    pair.stop().await;
}
