//! Delivering events to webhook endpoints: the rules, once, for every engine.
//!
//! The outbox is the tenant's feed: every change's event is in its revision entry, written in
//! the change's transaction ([`crate::events`]). Each endpoint has a [`Delivery`]: the feed
//! position up to which everything it wants was delivered (or given up), the event being tried
//! (the head), the events an administrator asked to send again, and its recent attempts.
//!
//! - At least once: the position moves past an event only after the receiver answered 2xx (or
//!   the event was given up), and the position is stored after every attempt. After a crash the
//!   head is sent again with the same `webhook-id` (the event's id).
//! - In order: one event at a time per endpoint, in feed order, so each resource's events arrive
//!   in the order of its changes.
//! - Retries: any answer but 2xx and `410`, a timeout or a refused connection is tried again
//!   after [`Rules::backoff`] (exponential, with jitter), until the event is older than
//!   [`Rules::retry_for`] (three days unless configured); then it is given up, kept among the
//!   endpoint's failed events (which can be sent again), and the next one is tried.
//! - `410 Gone` disables the endpoint (recorded in its history); the head stays, to be sent when
//!   it is enabled again.
//!
//! The HTTP request itself is the edge's ([`Sender`]), and so is the check of where it may go.

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use crate::endpoints::wants;
use crate::error::{quote, Error, Result};
use crate::events::{Event, EventType};
use crate::model::{Actor, TenantId};
use crate::webhook;
use crate::{Context, Core};

/// How many recent attempts an endpoint keeps.
pub const RECENT: usize = 50;
/// How many given-up events an endpoint keeps (the oldest are forgotten past that).
pub const MAX_FAILED: usize = 1000;
/// How many resends may wait at once.
pub const MAX_RESEND: usize = 1000;

/// How deliveries are retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rules {
    /// How long after its change an event is still tried (three days).
    pub retry_for: Duration,
    /// The pause after the first failed attempt; each next one doubles it.
    pub first_pause: Duration,
    /// The longest pause between two attempts.
    pub longest_pause: Duration,
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            retry_for: Duration::days(3),
            first_pause: Duration::seconds(5),
            longest_pause: Duration::hours(1),
        }
    }
}

impl Rules {
    /// The pause after `attempts` failed attempts: `first_pause`·2^(attempts−1), at most
    /// `longest_pause`, of which a random half (`jitter` in 0..1) is taken off so that endpoints
    /// that failed together do not retry together.
    pub fn backoff(&self, attempts: u32, jitter: f64) -> Duration {
        let exp = attempts.saturating_sub(1).min(30);
        let full = (self.first_pause * 2f64.powi(exp as i32)).min(self.longest_pause);
        full * (1.0 - 0.5 * jitter.clamp(0.0, 1.0))
    }
}

/// What an endpoint's deliveries have come to: kept by the store, one per endpoint.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Delivery {
    /// The feed position up to which every entry was delivered, given up or not wanted.
    pub cursor: u64,
    /// The event being tried, once an attempt at it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head: Option<Pending>,
    /// Events asked to be sent again (feed positions), oldest request first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resend: Vec<u64>,
    /// The latest attempts, newest first.
    #[serde(default)]
    pub recent: Vec<Attempt>,
    /// Events given up, oldest first.
    #[serde(default)]
    pub failed: Vec<Attempt>,
    #[serde(default)]
    pub counts: Counts,
}

/// How many attempts ended each way, since the endpoint was added.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub delivered: u64,
    pub retried: u64,
    pub given_up: u64,
    pub gone: u64,
}

/// An event being tried.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pending {
    pub seq: u64,
    pub attempts: u32,
    #[serde(with = "time::serde::rfc3339")]
    pub next_at: OffsetDateTime,
}

/// How an attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Delivered,
    /// Failed; to be tried again.
    Retrying,
    /// Failed, and the event is too old to try again.
    GivenUp,
    /// `410 Gone`: the endpoint was disabled.
    Gone,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Delivered => "delivered",
            Outcome::Retrying => "retrying",
            Outcome::GivenUp => "given_up",
            Outcome::Gone => "gone",
        }
    }
}

/// One attempt to deliver an event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Attempt {
    /// The event's position in its tenant's feed.
    pub seq: u64,
    /// The event's id, which is the `webhook-id` of every attempt at it.
    pub event_id: String,
    #[serde(rename = "type")]
    pub kind: EventType,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub outcome: Outcome,
    /// Which attempt at this event it was (1 for the first).
    pub attempt: u32,
    /// The receiver's status code, if it answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Why it failed, if it did without an answer (timeout, refused, address not allowed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub millis: u64,
}

/// What a receiver did with a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// It answered with this status code.
    Status(u16),
    /// It did not answer: why (timeout, refused connection, an address not allowed, …).
    Failed(String),
}

/// Sends a signed event: the edge's HTTP client, which also decides where a request may go.
#[async_trait::async_trait]
pub trait Sender: Send + Sync {
    async fn post(&self, url: &str, headers: &[(&'static str, String)], body: Vec<u8>) -> Answer;
}

/// What one call of [`Core::deliver`] did, for its caller's schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// An attempt was made (or entries not wanted were passed): call again at once.
    Worked,
    /// Nothing to send before this time (an attempt's pause).
    WaitUntil(OffsetDateTime),
    /// Nothing to send: the feed has no more for this endpoint.
    Idle,
    /// The endpoint is disabled (or gone): nothing is sent.
    Disabled,
}

/// A delivery as the admin views show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryView {
    pub endpoint: String,
    pub cursor: u64,
    /// How many events it wants are in the feed after the cursor, counted up to 10,000.
    pub pending: u64,
    /// When the oldest of them was committed.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub oldest_pending: Option<OffsetDateTime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head: Option<Pending>,
    pub resend: Vec<u64>,
    pub recent: Vec<Attempt>,
    pub failed: Vec<Attempt>,
    pub counts: Counts,
}

/// The largest page the sender reads of a feed at once.
const PAGE: usize = 100;
/// The first page it reads, looking for the next event to send.
const FIRST_PAGE: usize = 4;
/// The page in which pending events are counted.
const COUNT_PAGE: usize = 1000;
/// How far [`Core::delivery`] counts what is pending.
const COUNT_AT_MOST: u64 = 10_000;

impl Core {
    /// Makes at most one attempt for a tenant's endpoint: the next event it wants (a resend
    /// first), if it is due. `base_url` is the tenant's SCIM base URL, for the events' `data`;
    /// `jitter` a random number in 0..1 for the pause after a failure.
    pub async fn deliver(
        &self,
        tenant: &TenantId,
        endpoint_id: &str,
        sender: &dyn Sender,
        rules: &Rules,
        base_url: &str,
        jitter: f64,
    ) -> Result<Step> {
        let endpoint = match self.webhook(tenant, endpoint_id).await {
            Ok(e) => e,
            Err(Error::NotFound(_)) => return Ok(Step::Disabled),
            Err(e) => return Err(e),
        };
        if !endpoint.enabled {
            return Ok(Step::Disabled);
        }
        let dir = self.directory(tenant).await?;
        let ctx = feed_context(base_url);
        let mut state = self
            .store
            .delivery(tenant, endpoint_id)
            .await?
            .unwrap_or_default();
        let now = self.now();
        // The event to try: a resend first, then the head, then the next wanted in the feed.
        let (event, resending) = if let Some(&seq) = state.resend.first() {
            match event_at(&dir, seq, &ctx).await? {
                Some(e) => (e, true),
                None => {
                    state.resend.remove(0);
                    self.store.put_delivery(tenant, endpoint_id, &state).await?;
                    return Ok(Step::Worked);
                }
            }
        } else {
            if let Some(head) = &state.head {
                if head.next_at > now {
                    return Ok(Step::WaitUntil(head.next_at));
                }
            }
            // The next entry it wants, found without rendering what it does not want.
            let (wanted, read_to) = next_wanted(&dir, &endpoint, state.cursor).await?;
            match wanted {
                Some(seq) => match event_at(&dir, seq, &ctx).await? {
                    Some(e) => (e, false),
                    None => return Err(Error::Internal(format!("the feed lost entry {seq}"))),
                },
                None => {
                    if read_to == state.cursor {
                        return Ok(Step::Idle);
                    }
                    // Entries it does not want: passed.
                    state.cursor = read_to;
                    state.head = None;
                    self.store.put_delivery(tenant, endpoint_id, &state).await?;
                    return Ok(Step::Worked);
                }
            }
        };
        let attempt_no = match &state.head {
            Some(h) if !resending && h.seq == event.seq => h.attempts + 1,
            _ => 1,
        };
        let secrets = self.signing_secrets(&endpoint, now)?;
        let body = serde_json::to_vec(&event)
            .map_err(|e| Error::Internal(format!("an event does not encode: {e}")))?;
        let refs: Vec<&webhook::SigningSecret> = secrets.iter().collect();
        let headers = webhook::headers(&refs, &event.id, now.unix_timestamp(), &body)
            .map_err(|e| Error::Internal(format!("signing: {e}")))?;
        let started = std::time::Instant::now();
        let answer = sender.post(&endpoint.url, &headers, body).await;
        let millis = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let (status, error) = match &answer {
            Answer::Status(s) => (Some(*s), None),
            Answer::Failed(why) => (None, Some(why.clone())),
        };
        let outcome = match answer {
            Answer::Status(s) if (200..300).contains(&s) => Outcome::Delivered,
            Answer::Status(410) => Outcome::Gone,
            _ if resending || now - event.timestamp >= rules.retry_for => Outcome::GivenUp,
            _ => Outcome::Retrying,
        };
        let attempt = Attempt {
            seq: event.seq,
            event_id: event.id.clone(),
            kind: event.kind,
            at: now,
            outcome,
            attempt: attempt_no,
            status,
            error,
            millis,
        };
        // The state as it was read, changed by this attempt, written back before anything else.
        state.recent.insert(0, attempt.clone());
        state.recent.truncate(RECENT);
        match outcome {
            Outcome::Delivered => state.counts.delivered += 1,
            Outcome::Retrying => state.counts.retried += 1,
            Outcome::GivenUp => state.counts.given_up += 1,
            Outcome::Gone => state.counts.gone += 1,
        }
        if resending {
            state.resend.remove(0);
            if outcome == Outcome::GivenUp {
                keep_failed(&mut state, attempt);
            }
        } else {
            match outcome {
                Outcome::Delivered => {
                    state.cursor = event.seq;
                    state.head = None;
                }
                Outcome::GivenUp => {
                    state.cursor = event.seq;
                    state.head = None;
                    keep_failed(&mut state, attempt);
                }
                Outcome::Retrying => {
                    state.head = Some(Pending {
                        seq: event.seq,
                        attempts: attempt_no,
                        next_at: now + rules.backoff(attempt_no, jitter),
                    });
                }
                Outcome::Gone => {
                    state.head = Some(Pending {
                        seq: event.seq,
                        attempts: attempt_no,
                        next_at: now,
                    });
                }
            }
        }
        self.store.put_delivery(tenant, endpoint_id, &state).await?;
        if outcome == Outcome::Gone {
            self.disable_gone_webhook(
                tenant,
                endpoint_id,
                &format!(
                    "its receiver answered 410 Gone at {}",
                    crate::model::rfc3339(now)
                ),
            )
            .await?;
            return Ok(Step::Disabled);
        }
        Ok(Step::Worked)
    }

    /// An endpoint's deliveries: its position, what is pending, recent attempts, failed events.
    pub async fn delivery(&self, tenant: &TenantId, endpoint_id: &str) -> Result<DeliveryView> {
        let endpoint = self.webhook(tenant, endpoint_id).await?;
        let dir = self.directory(tenant).await?;
        let state = self
            .store
            .delivery(tenant, endpoint_id)
            .await?
            .unwrap_or_default();
        let (mut after, mut pending, mut oldest) = (state.cursor, 0u64, None);
        while pending < COUNT_AT_MOST {
            let entries = dir.store.revisions(after, COUNT_PAGE).await?;
            let Some(last) = entries.last().filter(|e| e.seq > after) else {
                break;
            };
            after = last.seq;
            let ended = entries.len() < COUNT_PAGE;
            for entry in &entries {
                if let Some(event) = &entry.event {
                    if wants(&endpoint.events, event.kind) && entry.time >= endpoint.created {
                        pending += 1;
                        oldest = oldest.or(Some(entry.time));
                    }
                }
            }
            if ended {
                break;
            }
        }
        Ok(DeliveryView {
            endpoint: endpoint.id,
            cursor: state.cursor,
            pending,
            oldest_pending: oldest,
            head: state.head,
            resend: state.resend,
            recent: state.recent,
            failed: state.failed,
            counts: state.counts,
        })
    }

    /// Asks for an event to be sent to an endpoint again (one given up, or any it was sent):
    /// by its id, which must be an event of the tenant's feed that the endpoint wants.
    /// The request is the sender's log, not a change: no history entry.
    pub async fn resend(
        &self,
        tenant: &TenantId,
        endpoint_id: &str,
        event_id: &str,
    ) -> Result<u64> {
        let endpoint = self.webhook(tenant, endpoint_id).await?;
        let mut state = self
            .store
            .delivery(tenant, endpoint_id)
            .await?
            .unwrap_or_default();
        let known = state
            .failed
            .iter()
            .chain(state.recent.iter())
            .find(|a| a.event_id == event_id)
            .map(|a| (a.seq, a.kind));
        let Some((seq, kind)) = known else {
            return Err(Error::NotFound(format!(
                "no delivery of the event {} to this endpoint to send again",
                quote(event_id)
            )));
        };
        if !wants(&endpoint.events, kind) {
            return Err(Error::invalid_value(
                "the endpoint does not want this event",
            ));
        }
        if state.resend.len() >= MAX_RESEND {
            return Err(Error::invalid_value(format!(
                "at most {MAX_RESEND} events wait to be sent again"
            )));
        }
        if !state.resend.contains(&seq) {
            state.resend.push(seq);
            state.failed.retain(|a| a.seq != seq);
            self.store.put_delivery(tenant, endpoint_id, &state).await?;
        }
        Ok(seq)
    }
}

/// What a test message to an endpoint came to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TestResult {
    /// The test message's `webhook-id`.
    pub id: String,
    pub delivered: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub millis: u64,
}

impl Core {
    /// Sends a signed test message to an endpoint now (enabled or not), and says how its
    /// receiver answered: `{"type": "webhook.test", "timestamp": …, "data": {"endpoint": id}}`.
    /// Nothing is recorded: it is no event of the feed.
    pub async fn test_webhook(
        &self,
        tenant: &TenantId,
        endpoint_id: &str,
        sender: &dyn Sender,
    ) -> Result<TestResult> {
        let endpoint = self.webhook(tenant, endpoint_id).await?;
        let now = self.now();
        let id = format!("msg_test_{}", uuid::Uuid::new_v4().simple());
        let body = serde_json::to_vec(&serde_json::json!({
            "type": "webhook.test",
            "timestamp": crate::model::rfc3339(now),
            "tenant": tenant,
            "data": {"endpoint": endpoint.id, "url": endpoint.url},
        }))
        .map_err(|e| Error::Internal(format!("a test message does not encode: {e}")))?;
        let secrets = self.signing_secrets(&endpoint, now)?;
        let refs: Vec<&webhook::SigningSecret> = secrets.iter().collect();
        let headers = webhook::headers(&refs, &id, now.unix_timestamp(), &body)
            .map_err(|e| Error::Internal(format!("signing: {e}")))?;
        let started = std::time::Instant::now();
        let answer = sender.post(&endpoint.url, &headers, body).await;
        let millis = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        Ok(match answer {
            Answer::Status(s) => TestResult {
                id,
                delivered: (200..300).contains(&s),
                status: Some(s),
                error: None,
                millis,
            },
            Answer::Failed(why) => TestResult {
                id,
                delivered: false,
                status: None,
                error: Some(why),
                millis,
            },
        })
    }
}

fn keep_failed(state: &mut Delivery, attempt: Attempt) {
    state.failed.push(attempt);
    if state.failed.len() > MAX_FAILED {
        let over = state.failed.len() - MAX_FAILED;
        state.failed.drain(..over);
    }
}

fn feed_context(base_url: &str) -> Context {
    Context {
        actor: Actor {
            name: crate::endpoints::SENDER.into(),
            key_id: None,
            key_label: None,
        },
        request_id: None,
        base_url: base_url.to_string(),
    }
}

/// The position of the first entry after `after` whose event `endpoint` wants (read a page at a
/// time, ten pages at most, nothing rendered), and how far the feed was read.
async fn next_wanted(
    dir: &crate::Directory,
    endpoint: &crate::model::WebhookEndpoint,
    mut after: u64,
) -> Result<(Option<u64>, u64)> {
    // A small first page: with a backlog the first entry is usually the one (each entry holds
    // its record, so reading a hundred to send one costs a hundred decodings).
    for page in [
        FIRST_PAGE, PAGE, PAGE, PAGE, PAGE, PAGE, PAGE, PAGE, PAGE, PAGE,
    ] {
        let entries = dir.store.revisions(after, page).await?;
        let Some(last) = entries.last().filter(|e| e.seq > after) else {
            return Ok((None, after));
        };
        let ended = entries.len() < page;
        for entry in &entries {
            if let Some(event) = &entry.event {
                if wants(&endpoint.events, event.kind) && entry.time >= endpoint.created {
                    return Ok((Some(entry.seq), entry.seq));
                }
            }
        }
        after = last.seq;
        if ended {
            break;
        }
    }
    Ok((None, after))
}

/// The event of the feed entry at `seq`, if it has one.
async fn event_at(dir: &crate::Directory, seq: u64, ctx: &Context) -> Result<Option<Event>> {
    let page = dir.events(seq.saturating_sub(1), 1, ctx).await?;
    Ok(page.events.into_iter().find(|e| e.seq == seq))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_double_up_to_the_longest_and_jitter_takes_off_at_most_half() {
        let r = Rules::default();
        assert_eq!(r.backoff(1, 0.0), Duration::seconds(5));
        assert_eq!(r.backoff(2, 0.0), Duration::seconds(10));
        assert_eq!(r.backoff(4, 0.0), Duration::seconds(40));
        assert_eq!(r.backoff(3, 1.0), Duration::seconds(10));
        assert_eq!(r.backoff(20, 0.0), Duration::hours(1));
        assert_eq!(r.backoff(u32::MAX, 0.0), Duration::hours(1));
        for j in [0.0, 0.3, 0.99, 1.0, 7.0, -1.0] {
            let p = r.backoff(3, j);
            assert!(
                p >= Duration::seconds(10) && p <= Duration::seconds(20),
                "{p}"
            );
        }
    }

    #[test]
    fn a_delivery_reads_what_an_older_release_did_not_write() {
        let d: Delivery = serde_json::from_str(r#"{"cursor": 7}"#).expect("decodes");
        assert_eq!(d.cursor, 7);
        assert!(d.head.is_none() && d.recent.is_empty() && d.failed.is_empty());
    }
}
