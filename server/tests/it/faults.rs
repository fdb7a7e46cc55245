//! Storage faults: a write that fails for a storage reason (disk full, read-only, I/O) is never
//! acknowledged; from then on the server answers 503 without touching the store, and reports
//! itself unready (the `serve` command then stops, for its supervisor to restart it).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use scim_core::model::Kind;
use scim_core::store::{Query, Selection, Store, StoreError};
use scim_core::testkit::{Intercept, Intercepted};

use crate::support::{user_body, TestServer};

/// Writes fail like a full disk once `full` is set.
struct Filling {
    full: Arc<AtomicBool>,
    failed: Mutex<Option<String>>,
}

impl Intercept for Filling {
    fn storage(&self) -> Result<(), StoreError> {
        if self.full.load(Ordering::SeqCst) {
            let reason = "IO error: No space left on device (os error 28)".to_string();
            *self.failed.lock().expect("lock") = Some(reason.clone());
            return Err(StoreError::Io(reason));
        }
        Ok(())
    }
    fn failure(&self) -> Option<String> {
        self.failed.lock().expect("lock").clone()
    }
}

#[tokio::test]
async fn a_full_disk_is_never_acknowledged_and_turns_the_server_unready() {
    let full = Arc::new(AtomicBool::new(false));
    let switch = Arc::clone(&full);
    let s = TestServer::start_wrapped(move |inner| {
        Arc::new(Intercepted {
            inner,
            intercept: Arc::new(Filling {
                full: switch,
                failed: Mutex::new(None),
            }),
        })
    })
    .await;
    let id = s.user("before.full").await;
    full.store(true, Ordering::SeqCst);
    let r = s.post("/Users", user_body("while.full")).await;
    r.assert_error(500, None);
    assert!(
        !r.text.contains("No space"),
        "internal causes stay in the log: {}",
        r.text
    );
    // From now on: 503, without touching the store, for reads and writes alike.
    s.get(&format!("/Users/{id}")).await.assert_error(503, None);
    s.delete(&format!("/Users/{id}"))
        .await
        .assert_error(503, None);
    let ready = s
        .client
        .get(format!("{}/readyz", s.origin))
        .send()
        .await
        .expect("readyz");
    assert_eq!(ready.status(), 503);
    let body = ready.text().await.expect("body");
    assert!(body.contains("cannot write"), "{body}");
    // Nothing was written after the fault.
    assert!(s.store.failure().is_some());
    let users = s
        .part
        .query(Query {
            kind: Kind::User,
            selection: Selection::All,
            skip: 0,
            take: 0,
        })
        .await
        .expect("count")
        .total;
    assert_eq!(users, 1);
}

/// A handler that panics, mounted beside the real routes.
#[rocket::get("/panic")]
fn panics() -> &'static str {
    panic!("a handler bug")
}

#[tokio::test]
async fn a_panic_in_a_handler_is_a_scim_500_and_the_server_keeps_serving() {
    let dir = tempfile::tempdir().expect("dir");
    let config = crate::support::config_for(dir.path());
    let store: Arc<dyn Store> = server::open(&config).await.expect("store").store;
    let core = server::core(&config, store).expect("the core");
    core.ensure_default_tenant().await.expect("default");
    let key = core
        .ensure_scim_key(&scim_core::model::TenantId::default_tenant())
        .await
        .expect("key")
        .expect("key");
    let app = Arc::new(server::app::App::new(config, core));
    let rocket =
        server::http::build(Arc::clone(&app)).mount("/scim/v2/test", rocket::routes![panics]);
    let running = server::http::launch(app, rocket).await.expect("starts");
    let base = format!("http://{}/scim/v2", running.addr);
    // No idle connection, so that the stop need not wait for one.
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .expect("client");
    for _ in 0..3 {
        let r = crate::support::Reply::from(
            client
                .get(format!("{base}/test/panic"))
                .send()
                .await
                .expect("request"),
        )
        .await;
        r.assert_error(500, None);
    }
    let r = client
        .get(format!("{base}/Users"))
        .bearer_auth(&key)
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 200, "still serving");
    running.stop().await.expect("clean stop");
}

#[tokio::test]
async fn slow_and_idle_clients_do_not_starve_others() {
    use tokio::io::AsyncWriteExt;
    let s = TestServer::start().await;
    let addr = s.origin.trim_start_matches("http://").to_string();
    let mut idle = Vec::new();
    for i in 0..200 {
        let mut c = tokio::net::TcpStream::connect(&addr)
            .await
            .expect("connect");
        if i % 2 == 0 {
            // Half a request line and headers that never end (slowloris).
            c.write_all(b"POST /scim/v2/Users HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n")
                .await
                .expect("write");
        }
        idle.push(c);
    }
    for i in 0..5 {
        s.user(&format!("served.{i}")).await;
    }
    assert_eq!(s.get("/Users").await.body["totalResults"], 5);
    drop(idle);
}

/// A client that sends its headers and then trickles (or stops sending) its body gets a SCIM 408
/// once `body_timeout_secs` has passed, and the server goes on serving others meanwhile. (Rocket
/// itself waits for the first 14 bytes of every body before routing, to look for a `_method`
/// override; the body here goes past them.)
#[tokio::test]
async fn a_body_that_does_not_arrive_in_time_gets_408() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let s = TestServer::start_with(|c| c.body_timeout_secs = 1).await;
    let addr = s.origin.trim_start_matches("http://").to_string();
    let mut c = tokio::net::TcpStream::connect(&addr)
        .await
        .expect("connect");
    let head = format!(
        "POST /scim/v2/Users HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/scim+json\r\nContent-Length: 100\r\n\r\n{{\"userName\": \"slow",
        s.key
    );
    c.write_all(head.as_bytes()).await.expect("write");
    let started = std::time::Instant::now();
    s.user("served.meanwhile").await;
    let mut answer = Vec::new();
    let read = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        let mut buf = [0u8; 4096];
        loop {
            match c.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    answer.extend_from_slice(&buf[..n]);
                    if answer.windows(4).any(|w| w == b"\r\n\r\n") && answer.ends_with(b"}") {
                        break;
                    }
                }
            }
        }
    })
    .await;
    assert!(
        read.is_ok(),
        "no complete answer within 10 s: {}",
        String::from_utf8_lossy(&answer)
    );
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains("application/scim+json"), "{text}");
    assert!(text.contains("\"status\":\"408\""), "{text}");
    assert!(started.elapsed() >= std::time::Duration::from_millis(900));
    assert_eq!(
        s.get("/Users").await.body["totalResults"],
        1,
        "only the other client's user was created"
    );
}

/// Reads until the server closes the connection (or `limit` passes): how long that took, and
/// what was read.
async fn until_closed(
    c: &mut tokio::net::TcpStream,
    limit: std::time::Duration,
) -> (std::time::Duration, Vec<u8>) {
    use tokio::io::AsyncReadExt;
    let started = std::time::Instant::now();
    let mut got = Vec::new();
    let _ = tokio::time::timeout(limit, async {
        let mut buf = [0u8; 4096];
        loop {
            match c.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    (started.elapsed(), got)
}

/// Through the front door, a client that sends its headers too slowly (slowloris), or sits idle,
/// is disconnected after the configured time, while others are served meanwhile.
#[tokio::test]
async fn slow_headers_and_idle_connections_are_closed() {
    use tokio::io::AsyncWriteExt;
    let s = TestServer::start_with(|c| {
        c.header_timeout_secs = 1;
        c.idle_timeout_secs = 2;
    })
    .await;
    let addr = s.origin.trim_start_matches("http://").to_string();
    let connect = || tokio::net::TcpStream::connect(addr.clone());
    let limit = std::time::Duration::from_secs(10);

    // Headers that never end, a byte every 300 ms: the idle timer never fires, the header one does.
    let mut slow = connect().await.expect("connect");
    let trickle = async {
        for b in b"GET /livez HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaa" {
            if slow.write_all(&[*b]).await.is_err() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        }
    };
    let started = std::time::Instant::now();
    let mut idle = connect().await.expect("connect");
    let mut used = connect().await.expect("connect");
    used.write_all(b"GET /livez HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write");
    let ((), (idle_for, idle_got), (used_for, used_got), served) = tokio::join!(
        trickle,
        until_closed(&mut idle, limit),
        until_closed(&mut used, limit),
        async { s.user("served.meanwhile").await },
    );
    assert!(!served.is_empty());
    assert!(idle_got.is_empty());
    assert!(
        (1_900..5_000).contains(&idle_for.as_millis()),
        "an idle connection is closed after idle_timeout_secs: {idle_for:?}"
    );
    let text = String::from_utf8_lossy(&used_got);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(
        (1_900..5_000).contains(&used_for.as_millis()),
        "a kept-alive connection is closed once idle for idle_timeout_secs: {used_for:?}"
    );
    let (_, slow_got) = until_closed(&mut slow, limit).await;
    assert!(
        slow_got.is_empty(),
        "{}",
        String::from_utf8_lossy(&slow_got)
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(6),
        "slow headers are cut at header_timeout_secs, not left to trickle for 15 s ({:?})",
        started.elapsed()
    );
}

/// A client that closes its sending side after its request (as `nc -q` or some HTTP/1.0 clients
/// do) still gets its answer through the front door.
#[tokio::test]
async fn a_half_closed_client_still_gets_its_answer() {
    use tokio::io::AsyncWriteExt;
    let s = TestServer::start().await;
    let addr = s.origin.trim_start_matches("http://").to_string();
    let mut c = tokio::net::TcpStream::connect(&addr)
        .await
        .expect("connect");
    c.write_all(b"GET /livez HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .expect("write");
    c.shutdown().await.expect("half-close");
    let (_, got) = until_closed(&mut c, std::time::Duration::from_secs(10)).await;
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 200"), "{text:?}");
}
