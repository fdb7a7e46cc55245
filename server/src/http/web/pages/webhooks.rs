//! Webhook endpoints: the list (with what each has delivered and what waits), the form that adds
//! one, the pages that show a signing secret once (a new endpoint's, a rotated one's), and an
//! endpoint's deliveries: what is pending, recent attempts, and the events given up, each with a
//! "Send again" button.

use maud::{html, Markup};
use scim_core::delivery::{Attempt, DeliveryView};
use scim_core::events::EventType;
use scim_core::views::{NewWebhook, WebhookInfo};
use time::{Duration, OffsetDateTime};

use crate::http::web::html::{
    copyable, csrf_field, message, section, segment, table, table_or, time, Text, ABSENT,
};

/// An endpoint with where its deliveries stand, as the list shows it.
pub struct Listed {
    pub info: WebhookInfo,
    pub delivery: DeliveryView,
}

/// How long ago `since` was, roughly: `40 s`, `12 min`, `3 h`, `2 d`.
pub fn age(since: OffsetDateTime, now: OffsetDateTime) -> String {
    let d = (now - since).max(Duration::ZERO);
    if d < Duration::MINUTE {
        format!("{} s", d.whole_seconds())
    } else if d < Duration::HOUR {
        format!("{} min", d.whole_minutes())
    } else if d < Duration::DAY {
        format!("{} h", d.whole_hours())
    } else {
        format!("{} d", d.whole_days())
    }
}

/// The link to an endpoint's deliveries page.
fn href(base: &str, id: &str) -> String {
    format!("{base}/webhooks/{}", segment(id))
}

/// Enabled, or disabled with the sender's reason if it disabled it.
fn status(w: &WebhookInfo) -> Markup {
    html! {
        @if w.enabled {
            span class="status active" { "enabled" }
        } @else {
            span class="status disabled" { "disabled" }
            @if let Some(why) = &w.disabled_because {
                " " small { "(" (Text(why)) ")" }
            }
        }
    }
}

fn events(w: &WebhookInfo) -> Markup {
    html! {
        @for (i, e) in w.events.iter().enumerate() {
            @if i > 0 { ", " }
            code { (Text(e)) }
        }
    }
}

/// How many events wait, and since when.
fn pending(v: &DeliveryView, now: OffsetDateTime) -> Markup {
    html! {
        (v.pending)
        @if let Some(oldest) = v.oldest_pending {
            " " small { "(oldest " time datetime=(Text(&scim_core::model::rfc3339(oldest))) {
                (age(oldest, now)) } " old)" }
        }
        @if !v.resend.is_empty() {
            " " small { "+ " (v.resend.len()) " to send again" }
        }
    }
}

/// A POST button about one endpoint (`{base}/webhooks/{id}/{action}`).
fn button(
    base: &str,
    w: &WebhookInfo,
    csrf: &str,
    action: &str,
    verb: &str,
    danger: bool,
) -> Markup {
    html! {
        form method="post" action={ (href(base, &w.id)) "/" (action) } class="inline" {
            (csrf_field(csrf))
            button type="submit" class=[danger.then_some("danger")]
                aria-label={ (verb) " for " (Text(&w.url)) } { (verb) }
        }
    }
}

/// What may be done with an endpoint: disable or enable it, rotate its secret.
fn actions(base: &str, w: &WebhookInfo, csrf: &str) -> Markup {
    html! {
        @if w.enabled {
            (button(base, w, csrf, "disable", "Disable", true))
        } @else {
            (button(base, w, csrf, "enable", "Enable", false))
        }
        (button(base, w, csrf, "rotate", "Rotate secret", false))
    }
}

fn row(base: &str, l: &Listed, csrf: &str, now: OffsetDateTime) -> Markup {
    let w = &l.info;
    let c = &l.delivery.counts;
    html! {
        tr {
            td { a href=(href(base, &w.id)) { (Text(&w.url)) } }
            td { (events(w)) }
            td { (status(w)) }
            td { (time(Some(w.created))) }
            td { (pending(&l.delivery, now)) }
            td { (c.delivered) }
            td { (c.given_up) }
            td { (actions(base, w, csrf)) }
        }
    }
}

/// The hint under the events field: the patterns there are.
fn patterns_hint() -> Markup {
    html! {
        "Patterns separated by commas or spaces: " code { "*" } " (every event), a family ("
        code { "user.*" } ", " code { "group.*" } ", " code { "profile.*" } ") or a type ("
        @for (i, t) in EventType::ALL.iter().enumerate() {
            @if i > 0 { ", " }
            code { (t.as_str()) }
        }
        ")."
    }
}

/// Every endpoint of the tenant (never a secret), and the form that adds one.
pub fn list(base: &str, endpoints: &[Listed], csrf: &str, now: OffsetDateTime) -> Markup {
    html! {
        p {
            "The server sends each provisioning event (a user created, suspended, a group \
             changed, …) to the endpoints that want it, signed as Standard Webhooks are, and \
             tries again for a while when a receiver fails. Open an endpoint for its deliveries."
        }
        (section("endpoints", "Endpoints", html! {
            (table_or(
                "No endpoint yet: add one below.",
                "Webhook endpoints (their signing secrets are never shown again)",
                &["URL", "Events", "Status", "Created", "Pending", "Delivered", "Failed",
                  "Action"],
                endpoints,
                |l| row(base, l, csrf, now),
            ))
        }))
        (section("add", "Add an endpoint", html! {
            p { "The endpoint's signing secret is shown once." }
            form method="post" action={ (base) "/webhooks" } class="stack" {
                (csrf_field(csrf))
                label for="url" { "URL" }
                small id="url-hint" { "An " code { "https://" } " address that takes a POST." }
                input id="url" name="url" type="url" required maxlength="2048"
                    placeholder="https://hooks.example.com/scim" aria-describedby="url-hint"
                    autocomplete="off" spellcheck="false";
                label for="events" { "Events" }
                small id="events-hint" { (patterns_hint()) }
                input id="events" name="events" type="text" value="*" maxlength="1000"
                    aria-describedby="events-hint" autocomplete="off" spellcheck="false";
                button type="submit" { "Add endpoint" }
            }
        }))
    }
}

/// A signing secret shown this once, with its copy button.
fn secret_once(secret: &str) -> Markup {
    html! {
        (message(
            "ok",
            "Copy this signing secret now: it is not shown again. The receiver checks each \
             delivery's webhook-signature header with it.",
        ))
        (copyable("new-secret", "Signing secret", secret, "Copy signing secret"))
    }
}

fn facts(w: &WebhookInfo) -> Markup {
    html! {
        dl class="facts" {
            dt { "URL" } dd { code { (Text(&w.url)) } }
            dt { "Events" } dd { (events(w)) }
            dt { "Status" } dd { (status(w)) }
            dt { "Created" } dd { (time(Some(w.created))) }
            @if let Some(until) = w.previous_secret_until {
                dt { "Previous secret" } dd { "still signs until " (time(Some(until))) }
            }
            dt { "id" } dd { code { (Text(&w.id)) } }
        }
    }
}

fn back(base: &str, w: &WebhookInfo) -> Markup {
    html! {
        p {
            a href=(href(base, &w.id)) { "Its deliveries" } " · "
            a href={ (base) "/webhooks" } { "Back to webhooks" }
        }
    }
}

/// An endpoint just added, with its signing secret shown this once.
pub fn added(base: &str, new: &NewWebhook) -> Markup {
    html! {
        (secret_once(&new.secret))
        (facts(&new.webhook))
        (back(base, &new.webhook))
    }
}

/// An endpoint whose secret was just rotated: the new one shown this once; the previous one
/// signs beside it for `grace`.
pub fn rotated(base: &str, new: &NewWebhook, grace: Duration) -> Markup {
    html! {
        (secret_once(&new.secret))
        p {
            "The previous secret still signs beside it for " (grace.whole_hours()) " hours"
            @if let Some(until) = new.webhook.previous_secret_until {
                " (until " (time(Some(until))) ")"
            }
            ", so that the receiver can be given the new one without refusing what is in flight."
        }
        (facts(&new.webhook))
        (back(base, &new.webhook))
    }
}

/// The receiver's status code, or why there was none.
fn answer(a: &Attempt) -> Markup {
    html! {
        @match (a.status, &a.error) {
            (Some(s), _) => { "HTTP " (s) }
            (None, Some(e)) => (Text(e)),
            (None, None) => (ABSENT),
        }
    }
}

fn outcome(a: &Attempt) -> Markup {
    let o = a.outcome.as_str();
    html! { span class={ "status " (o) } { (o.replace('_', " ")) } }
}

fn recent_row(a: &Attempt) -> Markup {
    html! {
        tr {
            td { (time(Some(a.at))) }
            td { code { (a.kind.as_str()) } }
            td { code { (Text(&a.event_id)) } }
            td { (a.attempt) }
            td { (outcome(a)) }
            td { (answer(a)) }
            td { (a.millis) }
        }
    }
}

fn failed_row(base: &str, id: &str, a: &Attempt, csrf: &str) -> Markup {
    html! {
        tr {
            td { (time(Some(a.at))) }
            td { code { (a.kind.as_str()) } }
            td { code { (Text(&a.event_id)) } }
            td { (a.attempt) }
            td { (answer(a)) }
            td {
                form method="post" action={ (href(base, id)) "/resend" } class="inline" {
                    (csrf_field(csrf))
                    input type="hidden" name="event" value=(Text(&a.event_id));
                    button type="submit" aria-label={ "Send event " (Text(&a.event_id)) " again" }
                        { "Send again" }
                }
            }
        }
    }
}

/// The event id of a feed position, from the attempts this endpoint keeps.
fn event_of(v: &DeliveryView, seq: u64) -> Option<&str> {
    v.recent
        .iter()
        .chain(v.failed.iter())
        .find(|a| a.seq == seq)
        .map(|a| a.event_id.as_str())
}

/// What a "Send again" just did, by the event's id (`queued` in the page's query): queued, or
/// sent already. Nothing for an event this endpoint does not know.
fn queued_message(v: &DeliveryView, event: &str) -> Option<Markup> {
    let seq = v
        .recent
        .iter()
        .chain(v.failed.iter())
        .find(|a| a.event_id == event)
        .map(|a| a.seq)?;
    let text = if v.resend.contains(&seq) {
        format!("The event {event} is queued to be sent again, before what is pending.")
    } else {
        format!("The event {event} was sent again: its attempt is below.")
    };
    Some(message("ok", &text))
}

/// One endpoint's deliveries: what waits, the events given up (each can be sent again), and the
/// latest attempts. `queued` is the event a "Send again" just queued.
pub fn page(
    base: &str,
    w: &WebhookInfo,
    v: &DeliveryView,
    queued: Option<&str>,
    csrf: &str,
    now: OffsetDateTime,
) -> Markup {
    let failed: Vec<&Attempt> = v.failed.iter().rev().collect();
    html! {
        @if let Some(m) = queued.and_then(|e| queued_message(v, e)) {
            (m)
        }
        (facts(w))
        p class="summary" {
            (v.counts.delivered) " delivered · " (v.counts.retried) " failed attempts retried · "
            (v.counts.given_up) " given up · " (v.counts.gone) " answered 410 Gone"
        }
        (section("pending", "Pending", html! {
            @if !w.enabled {
                (message("notice", "This endpoint is disabled: nothing is sent to it until it is enabled again."))
            }
            @if v.pending == 0 {
                p { "No event waits to be sent." }
            } @else {
                p {
                    (v.pending)
                    @if v.pending == 1 { " event waits to be sent" } @else { " events wait to be sent" }
                    @if let Some(oldest) = v.oldest_pending {
                        ", the oldest from " (time(Some(oldest))) " (" (age(oldest, now)) " old)"
                    }
                    "."
                }
            }
            @if let Some(head) = &v.head {
                p {
                    "Being retried: "
                    @match event_of(v, head.seq) {
                        Some(e) => code { (Text(e)) },
                        None => { "event #" (head.seq) },
                    }
                    ", " (head.attempts) " failed attempts so far; the next at "
                    (time(Some(head.next_at))) "."
                }
            }
            @if !v.resend.is_empty() {
                p { "Queued to be sent again, first:" }
                ul {
                    @for seq in &v.resend {
                        li {
                            @match event_of(v, *seq) {
                                Some(e) => code { (Text(e)) },
                                None => { "event #" (seq) },
                            }
                        }
                    }
                }
            }
        }))
        (section("failed", "Failed events", html! {
            p { "Events given up after their retries, newest first. Send one again to queue it \
                 before what is pending." }
            (table_or(
                "No event was given up.",
                "Events given up",
                &["Given up", "Event type", "Event id", "Attempts", "Status or error", "Action"],
                &failed,
                |a| failed_row(base, &w.id, a, csrf),
            ))
        }))
        (section("recent", "Recent deliveries", html! {
            @if v.recent.is_empty() {
                (message("notice", "No delivery was attempted yet."))
            } @else {
                (table(
                    "The latest attempts, newest first",
                    &["Time", "Event type", "Event id", "Attempt", "Outcome", "Status or error", "ms"],
                    html! { @for a in &v.recent { (recent_row(a)) } },
                ))
            }
        }))
        p { a href={ (base) "/webhooks" } { "Back to webhooks" } }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_are_rough() {
        let now = OffsetDateTime::UNIX_EPOCH + Duration::days(10);
        assert_eq!(age(now - Duration::seconds(40), now), "40 s");
        assert_eq!(age(now - Duration::minutes(12), now), "12 min");
        assert_eq!(age(now - Duration::hours(3), now), "3 h");
        assert_eq!(age(now - Duration::days(2), now), "2 d");
        assert_eq!(age(now + Duration::seconds(5), now), "0 s", "a clock ahead");
    }
}
