//! Webhooks across crashes: every committed change's event reaches its tenant's endpoint at
//! least once, however often the server is killed, and nothing else does.
//!
//! A receiver runs inside xtask (wiremock on 127.0.0.1; the server is started with
//! `SCIM_WEBHOOK_ALLOW_PRIVATE=true` so that it may send there), with an endpoint for every event
//! (`["*"]`) on each tenant the test writes to, added over the admin API after the first start
//! (`/hook/{tenant}`, so that each request says whose endpoint it was sent to). It answers 200 to
//! everything and records each request as it arrives, with whether it verified with that
//! tenant's secret. The verification is the `standardwebhooks` crate's (the specification's own
//! verifier, not the server's code), done at arrival: it also refuses a timestamp more than five
//! minutes off, which a request sent again after a restart must not carry either.
//!
//! After the last restart each tenant's change feed (`GET /admin/v1/tenants/{t}/events`) is read:
//! it holds the events of exactly the committed changes. Once the receiver has every one of them
//! (60 s at most), [`check`] holds what arrived to the promise (see there).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use standardwebhooks::Webhook;

/// One request the receiver got, in the order they arrived.
#[derive(Debug, Clone)]
pub struct Received {
    /// The tenant whose endpoint it was sent to (the last segment of the path).
    pub tenant: String,
    /// Its `webhook-id` header.
    pub id: String,
    pub body: Vec<u8>,
    /// Whether it verified with the tenant's secret when it arrived, or why not.
    pub signed: Result<(), String>,
}

/// A committed change's event, as its tenant's change feed lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct Committed {
    pub id: String,
    pub seq: u64,
    /// `User/{id}` or `Group/{id}`.
    pub resource: String,
}

impl Committed {
    fn of(event: &Value) -> Result<Committed, String> {
        let text = |name: &str| {
            event[name]
                .as_str()
                .map(str::to_string)
                .ok_or_else(|| format!("an event of the feed has no {name}: {event}"))
        };
        Ok(Committed {
            id: text("id")?,
            seq: event["seq"]
                .as_u64()
                .ok_or_else(|| format!("an event of the feed has no seq: {event}"))?,
            resource: format!("{}/{}", text("resourceType")?, text("resourceId")?),
        })
    }
}

/// Each tenant's committed events, in feed order.
pub type Feeds = BTreeMap<String, Vec<Committed>>;

#[derive(Default)]
struct State {
    /// Each tenant's endpoint: its id, and its secret as a verifier.
    endpoints: BTreeMap<String, (String, Webhook)>,
    got: Vec<Received>,
}

/// The receiver: an HTTP server on 127.0.0.1 (its own thread) that answers 200 and records.
pub struct Receiver {
    server: wiremock::MockServer,
    state: Arc<Mutex<State>>,
}

impl Receiver {
    pub async fn start() -> Receiver {
        let server = wiremock::MockServer::builder()
            .disable_request_recording()
            .start()
            .await;
        let state: Arc<Mutex<State>> = Arc::default();
        let record = {
            let state = Arc::clone(&state);
            move |req: &wiremock::Request| {
                let tenant = req.url.path().rsplit('/').next().unwrap_or_default();
                let id = req.headers.get("webhook-id").and_then(|v| v.to_str().ok());
                if let Ok(mut s) = state.lock() {
                    let signed = match s.endpoints.get(tenant) {
                        Some((_, secret)) => secret
                            .verify(&req.body, &req.headers)
                            .map_err(|e| e.to_string()),
                        None => Err(format!("no endpoint of tenant {tenant} was added")),
                    };
                    s.got.push(Received {
                        tenant: tenant.to_string(),
                        id: id.unwrap_or_default().to_string(),
                        body: req.body.clone(),
                        signed,
                    });
                }
                wiremock::ResponseTemplate::new(200)
            }
        };
        server
            .register(wiremock::Mock::given(wiremock::matchers::any()).respond_with(record))
            .await;
        Receiver { server, state }
    }

    /// Adds an endpoint for every event on `tenant` (the admin API of the server at `origin`,
    /// with an operator's admin key), and keeps its id and secret.
    pub async fn subscribe(
        &self,
        http: &reqwest::Client,
        origin: &str,
        admin_key: &str,
        tenant: &str,
    ) -> Result<(), String> {
        let url = format!("{origin}/admin/v1/tenants/{tenant}/webhooks");
        let hook = format!("{}/hook/{tenant}", self.server.uri());
        let r = http
            .post(&url)
            .bearer_auth(admin_key)
            .json(&json!({"url": hook, "events": ["*"]}))
            .send()
            .await
            .map_err(|e| format!("POST {url}: {e}"))?;
        let status = r.status().as_u16();
        let body: Value = r.json().await.unwrap_or(Value::Null);
        let (Some(id), Some(secret), 201) = (
            body["webhook"]["id"].as_str(),
            body["secret"].as_str(),
            status,
        ) else {
            return Err(format!("POST {url} answered {status}: {body}"));
        };
        let verifier =
            Webhook::new(secret).map_err(|e| format!("the secret of {tenant}'s endpoint: {e}"))?;
        self.state
            .lock()
            .map_err(|e| e.to_string())?
            .endpoints
            .insert(tenant.to_string(), (id.to_string(), verifier));
        Ok(())
    }

    /// After the last restart: reads each subscribed tenant's change feed, waits up to `within`
    /// until every event of it has arrived, then [`check`]s what arrived.
    pub async fn settle(
        &self,
        http: &reqwest::Client,
        origin: &str,
        admin_key: &str,
        within: Duration,
    ) -> Result<Summary, String> {
        let tenants: Vec<(String, String)> = {
            let s = self.state.lock().map_err(|e| e.to_string())?;
            s.endpoints
                .iter()
                .map(|(t, (id, _))| (t.clone(), id.clone()))
                .collect()
        };
        let mut feeds = Feeds::new();
        for (tenant, _) in &tenants {
            feeds.insert(tenant.clone(), feed(http, origin, admin_key, tenant).await?);
        }
        let deadline = Instant::now() + within;
        let got = loop {
            let got = self.state.lock().map_err(|e| e.to_string())?.got.clone();
            if missing(&feeds, &got).is_empty() || Instant::now() > deadline {
                break got;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        };
        match check(&feeds, &got) {
            Ok(summary) => Ok(summary),
            Err(mut e) => {
                // Where the deliveries of an endpoint that lacks events stand, to tell why (its
                // cursor, head, failed events and counts; not its recent attempts).
                let lacking: BTreeSet<&str> = missing(&feeds, &got).iter().map(|m| m.0).collect();
                for (tenant, id) in tenants.iter().filter(|t| lacking.contains(t.0.as_str())) {
                    let path = format!("/admin/v1/tenants/{tenant}/webhooks/{id}/deliveries");
                    let (status, mut body) = super::get(http, origin, admin_key, &path).await?;
                    if let Some(b) = body.as_object_mut() {
                        b.remove("recent");
                    }
                    e.push_str(&format!("\n{tenant}'s deliveries ({status}): {body}"));
                }
                Err(e)
            }
        }
    }
}

/// `tenant`'s whole change feed: every event, oldest first, a page at a time.
async fn feed(
    http: &reqwest::Client,
    origin: &str,
    key: &str,
    tenant: &str,
) -> Result<Vec<Committed>, String> {
    let (mut out, mut after) = (Vec::new(), 0u64);
    loop {
        let path = format!("/admin/v1/tenants/{tenant}/events?after={after}&limit=1000");
        let (status, page) = super::get(http, origin, key, &path).await?;
        let (200, Some(events), Some(next)) =
            (status, page["events"].as_array(), page["next"].as_u64())
        else {
            return Err(format!("GET {path} answered {status}: {page}"));
        };
        if events.is_empty() {
            return Ok(out);
        }
        for e in events {
            out.push(Committed::of(e)?);
        }
        after = next;
    }
}

/// The committed events that have not arrived (tenant, event id).
fn missing<'a>(feeds: &'a Feeds, got: &[Received]) -> Vec<(&'a str, &'a str)> {
    let arrived: BTreeSet<(&str, &str)> = got
        .iter()
        .map(|r| (r.tenant.as_str(), r.id.as_str()))
        .collect();
    feeds
        .iter()
        .flat_map(|(t, events)| events.iter().map(move |e| (t.as_str(), e.id.as_str())))
        .filter(|k| !arrived.contains(k))
        .collect()
}

/// What the receiver got, when it passed.
#[derive(Debug, PartialEq)]
pub struct Summary {
    /// Committed events (all arrived).
    pub events: usize,
    pub requests: usize,
    /// Requests of an event that had arrived already.
    pub duplicates: usize,
    /// Of those, the ones whose body differs from the first only in the address of
    /// `data.meta.location` (see [`Same`]).
    pub moved: usize,
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "webhooks: {} events, {} requests, {} duplicates (same webhook-id, same body{}), all \
             signed, none uncommitted, each resource's in feed order",
            self.events,
            self.requests,
            self.duplicates,
            if self.moved > 0 {
                format!(
                    "; {} of them with data.meta.location at another start's address",
                    self.moved
                )
            } else {
                String::new()
            }
        )
    }
}

/// How a duplicate's body compares with the first one of its event.
#[derive(Debug, PartialEq)]
enum Same {
    Bytes,
    /// The same JSON but for the origin (`http://127.0.0.1:PORT`) of `data.meta.location`: the server
    /// renders it with its own address when it sends, and in this test each start listens on
    /// another port (port 0, no public URL), so an event sent again after a restart names
    /// another. Allowed, and counted in [`Summary::moved`].
    ButLocationOrigin,
    Different,
}

fn same(first: &[u8], again: &[u8]) -> Same {
    if first == again {
        return Same::Bytes;
    }
    let without_origin = |body: &[u8]| -> Option<Value> {
        let mut v: Value = serde_json::from_slice(body).ok()?;
        if let Some(location) = v.pointer_mut("/data/meta/location") {
            let url = url::Url::parse(location.as_str()?).ok()?;
            *location = Value::from(&url[url::Position::BeforePath..]);
        }
        Some(v)
    };
    match (without_origin(first), without_origin(again)) {
        (Some(a), Some(b)) if a == b => Same::ButLocationOrigin,
        _ => Same::Different,
    }
}

/// Holds the requests that arrived (`got`, in arrival order) to the promise, against the
/// tenants' change feeds (the committed changes):
/// - every committed change's event arrived, at its own tenant's endpoint (at least once);
/// - every request verified with its tenant's secret (at arrival, [`Received::signed`]), and
///   its body is the event its `webhook-id` names;
/// - an event sent more than once (after a crash) has the same `webhook-id` and the same body
///   each time (but for the origin of its location, [`Same::ButLocationOrigin`]), so that a
///   receiver can drop the duplicate;
/// - every event that arrived is in its tenant's feed: none for a change that was not
///   committed (a write cut short by a kill, which did not survive it), none of another tenant;
/// - each resource's events first arrived in feed order (`seq`), so that a receiver applying
///   them in arrival order ends with the resource as it is.
///
/// The feeds must hold an event at least: a run that made no change tested nothing.
pub fn check(feeds: &Feeds, got: &[Received]) -> Result<Summary, String> {
    let committed: BTreeMap<(&str, &str), &Committed> = feeds
        .iter()
        .flat_map(|(t, events)| events.iter().map(move |e| ((t.as_str(), e.id.as_str()), e)))
        .collect();
    let mut problems = Vec::new();
    if committed.is_empty() {
        problems.push("the change feeds hold no event: nothing was tested".to_string());
    }
    let mut first: BTreeMap<(&str, &str), &Received> = BTreeMap::new();
    let mut moved = 0;
    // The feed position of each resource's latest first arrival.
    let mut latest: BTreeMap<(&str, &str), u64> = BTreeMap::new();
    for r in got {
        let what = format!("{} (to {}'s endpoint)", r.id, r.tenant);
        if let Err(e) = &r.signed {
            problems.push(format!("{what}: does not verify with its secret: {e}"));
        }
        let key = (r.tenant.as_str(), r.id.as_str());
        if let Some(earlier) = first.get(&key) {
            match same(&earlier.body, &r.body) {
                Same::Bytes => {}
                Same::ButLocationOrigin => moved += 1,
                Same::Different => problems.push(format!(
                    "{what}: sent again with another body:\n  {}\n  {}",
                    String::from_utf8_lossy(&earlier.body),
                    String::from_utf8_lossy(&r.body)
                )),
            }
            continue;
        }
        first.insert(key, r);
        let body_id = serde_json::from_slice::<Value>(&r.body)
            .ok()
            .and_then(|b| b["id"].as_str().map(str::to_string));
        if body_id.as_deref() != Some(r.id.as_str()) {
            problems.push(format!("{what}: its body is event {body_id:?}"));
        }
        let Some(c) = committed.get(&key) else {
            problems.push(format!(
                "{what}: arrived, but the tenant's change feed has no such event: an event of a \
                 change that was not committed"
            ));
            continue;
        };
        let at = latest
            .entry((r.tenant.as_str(), c.resource.as_str()))
            .or_insert(0);
        if c.seq < *at {
            problems.push(format!(
                "{what}: {} seq {} first arrived after seq {}: out of feed order",
                c.resource, c.seq, *at
            ));
        }
        *at = (*at).max(c.seq);
    }
    let lost = missing(feeds, got);
    if !lost.is_empty() {
        problems.push(format!(
            "{} committed events never arrived, such as {:?}",
            lost.len(),
            &lost[..lost.len().min(5)]
        ));
    }
    if problems.is_empty() {
        return Ok(Summary {
            events: committed.len(),
            requests: got.len(),
            duplicates: got.len() - first.len(),
            moved,
        });
    }
    let shown = problems.len().min(10);
    Err(format!(
        "webhooks: {} problems{}:\n{}",
        problems.len(),
        if shown < problems.len() {
            format!(" (the first {shown})")
        } else {
            String::new()
        },
        problems[..shown].join("\n")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(id: &str, seq: u64, resource: &str) -> Committed {
        Committed {
            id: id.into(),
            seq,
            resource: resource.into(),
        }
    }

    fn got(tenant: &str, id: &str, extra: &str) -> Received {
        Received {
            tenant: tenant.into(),
            id: id.into(),
            body: format!(r#"{{"id":"{id}"{extra}}}"#).into_bytes(),
            signed: Ok(()),
        }
    }

    fn feeds() -> Feeds {
        Feeds::from([
            (
                "default".to_string(),
                vec![
                    event("e1", 1, "User/a"),
                    event("e2", 2, "User/b"),
                    event("e3", 3, "User/a"),
                ],
            ),
            ("acme".to_string(), vec![event("e4", 1, "User/a")]),
        ])
    }

    #[test]
    fn everything_at_least_once_in_order_passes_and_counts_duplicates() {
        let arrived = [
            got("default", "e1", ""),
            got("acme", "e4", ""),
            got("default", "e2", ""),
            got("default", "e1", ""),
            got("default", "e3", ""),
            got("default", "e3", ""),
        ];
        assert_eq!(
            check(&feeds(), &arrived),
            Ok(Summary {
                events: 4,
                requests: 6,
                duplicates: 2,
                moved: 0
            })
        );
        // Different resources may interleave; a resend of an earlier event is not out of order.
        let arrived = [
            got("default", "e1", ""),
            got("default", "e3", ""),
            got("default", "e2", ""),
            got("default", "e1", ""),
            got("acme", "e4", ""),
        ];
        assert!(check(&feeds(), &arrived).is_ok());
    }

    #[test]
    fn each_broken_promise_is_named() {
        let all = || {
            vec![
                got("default", "e1", ""),
                got("default", "e2", ""),
                got("default", "e3", ""),
                got("acme", "e4", ""),
            ]
        };
        let fails = |arrived: Vec<Received>, what: &str| {
            let e = check(&feeds(), &arrived).expect_err(what);
            assert!(e.contains(what), "{what}: {e}");
        };
        let mut a = all();
        a.remove(1);
        fails(a, "1 committed events never arrived");
        let mut a = all();
        a.push(got("default", "e9", ""));
        fails(a, "e9 (to default's endpoint): arrived, but");
        let mut a = all();
        a.push(got("acme", "e1", ""));
        fails(a, "e1 (to acme's endpoint): arrived, but");
        let mut a = all();
        a[1].signed = Err("signature invalid".into());
        fails(a, "does not verify with its secret: signature invalid");
        let mut a = all();
        a.push(got("default", "e2", r#","x":1"#));
        fails(
            a,
            "e2 (to default's endpoint): sent again with another body",
        );
        let mut a = all();
        a.swap(0, 2);
        fails(a, "User/a seq 1 first arrived after seq 3");
        let mut a = all();
        a[3].body = br#"{"id":"e1"}"#.to_vec();
        fails(a, "its body is event Some(\"e1\")");
        fails(Vec::new(), "4 committed events never arrived");
        let e = check(&Feeds::new(), &[]).expect_err("no events");
        assert!(e.contains("nothing was tested"), "{e}");
    }

    #[test]
    fn a_duplicate_may_differ_only_in_the_origin_of_its_location() {
        let body = |location: &str, title: &str| {
            json!({"id": "e1", "data": {"title": title, "meta": {"location": location}}})
                .to_string()
                .into_bytes()
        };
        let first = body("http://127.0.0.1:4000/t/a/scim/v2/Users/u?x=1", "t");
        assert_eq!(same(&first, &first), Same::Bytes);
        let again = body("http://127.0.0.1:5000/t/a/scim/v2/Users/u?x=1", "t");
        assert_eq!(same(&first, &again), Same::ButLocationOrigin);
        let other_path = body("http://127.0.0.1:5000/t/b/scim/v2/Users/u?x=1", "t");
        assert_eq!(same(&first, &other_path), Same::Different);
        let other_title = body("http://127.0.0.1:5000/t/a/scim/v2/Users/u?x=1", "u");
        assert_eq!(same(&first, &other_title), Same::Different);
        assert_eq!(
            same(b"{}", b"{} "),
            Same::ButLocationOrigin,
            "the same JSON"
        );
        assert_eq!(same(b"x", b"y"), Same::Different);

        let mut a = got("default", "e1", "");
        a.body = first;
        let mut b = a.clone();
        b.body = again;
        let feeds = Feeds::from([("default".to_string(), vec![event("e1", 1, "User/u")])]);
        let summary = check(&feeds, &[a, b]).expect("passes");
        assert_eq!((summary.duplicates, summary.moved), (1, 1));
        assert!(summary
            .to_string()
            .contains("1 of them with data.meta.location"));
    }

    #[test]
    fn missing_lists_what_has_not_arrived_at_its_own_tenant() {
        let arrived = [got("default", "e1", ""), got("default", "e4", "")];
        assert_eq!(
            missing(&feeds(), &arrived),
            [("acme", "e4"), ("default", "e2"), ("default", "e3")]
        );
    }

    #[test]
    fn a_feed_event_is_read_from_its_json() {
        let e = json!({"id": "evt_1", "seq": 7, "type": "user.created", "resourceType": "User",
            "resourceId": "u1"});
        assert_eq!(Committed::of(&e), Ok(event("evt_1", 7, "User/u1")));
        assert!(Committed::of(&json!({"id": "evt_1"})).is_err());
    }
}
