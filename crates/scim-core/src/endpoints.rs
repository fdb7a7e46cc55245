//! Webhook endpoints: where each tenant wants its events delivered (an `https` URL), which of
//! them (patterns: `user.suspended`, `user.*`, `*`), whether it is enabled, and the signing secret
//! shown once when the endpoint is added (or its secret rotated), kept only sealed
//! ([`crate::seal`]). Adding, enabling, disabling and rotating are recorded in the tenant's
//! history (never a secret). The sender ([`crate::delivery`]) reads them.

use serde_json::Value;

use crate::error::{quote, Error, Result};
use crate::events::EventType;
use crate::model::{
    Action, Actor, AttributeChange, RetiredSecret, TargetType, TenantId, WebhookEndpoint,
};
use crate::provision::entry;
use crate::views::{NewWebhook, WebhookInfo};
use crate::webhook::SigningSecret;
use crate::{Context, Core};
use time::{Duration, OffsetDateTime};

/// The most endpoints a tenant may have.
pub const MAX_ENDPOINTS: usize = 50;
/// The most patterns an endpoint may have.
pub const MAX_PATTERNS: usize = 20;
/// The longest URL an endpoint may have.
pub const MAX_URL: usize = 2048;

/// One pattern of the event types an endpoint wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventPattern {
    /// `*`: every event.
    Any,
    /// `user.*`, `group.*`, `profile.*`: the types that begin so.
    Family(&'static str),
    /// One type.
    Exact(EventType),
}

/// The families a `….*` pattern may name.
const FAMILIES: [&str; 3] = ["user", "group", "profile"];

impl EventPattern {
    /// A pattern as written, or why it is none.
    pub fn parse(text: &str) -> std::result::Result<Self, String> {
        let text = text.trim();
        if text == "*" {
            return Ok(EventPattern::Any);
        }
        if let Some(family) = text.strip_suffix(".*") {
            return FAMILIES
                .into_iter()
                .find(|f| *f == family)
                .map(EventPattern::Family)
                .ok_or_else(|| {
                    format!(
                        "{} names no family of events (user.*, group.*, profile.*)",
                        quote(text)
                    )
                });
        }
        EventType::ALL
            .into_iter()
            .find(|t| t.as_str() == text)
            .map(EventPattern::Exact)
            .ok_or_else(|| {
                let all: Vec<&str> = EventType::ALL.iter().map(|t| t.as_str()).collect();
                format!(
                    "{} is no event type; the types are {}, a family such as user.*, or *",
                    quote(text),
                    all.join(", ")
                )
            })
    }

    pub fn matches(self, event: EventType) -> bool {
        match self {
            EventPattern::Any => true,
            EventPattern::Family(f) => event.as_str().split('.').next() == Some(f),
            EventPattern::Exact(t) => t == event,
        }
    }

    /// The pattern as stored and shown.
    pub fn text(self) -> String {
        match self {
            EventPattern::Any => "*".into(),
            EventPattern::Family(f) => format!("{f}.*"),
            EventPattern::Exact(t) => t.as_str().into(),
        }
    }
}

/// Whether an endpoint with these patterns wants an event of this type.
pub fn wants(patterns: &[String], event: EventType) -> bool {
    patterns
        .iter()
        .filter_map(|p| EventPattern::parse(p).ok())
        .any(|p| p.matches(event))
}

/// The patterns as stored: each checked and written as the core writes it, duplicates dropped.
pub fn check_patterns(patterns: &[String]) -> Result<Vec<String>> {
    if patterns.is_empty() || patterns.len() > MAX_PATTERNS {
        return Err(Error::invalid_value(format!(
            "an endpoint wants 1 to {MAX_PATTERNS} event patterns (user.suspended, user.*, *)"
        )));
    }
    let mut out: Vec<String> = Vec::new();
    for p in patterns {
        let text = EventPattern::parse(p).map_err(Error::invalid_value)?.text();
        if !out.contains(&text) {
            out.push(text);
        }
    }
    Ok(out)
}

/// The actor of what the sender changes (an endpoint disabled by its receiver's `410 Gone`).
pub const SENDER: &str = "Webhook sender";
/// How long a rotated secret still signs, unless told otherwise: a day.
pub const DEFAULT_GRACE: Duration = Duration::hours(24);
/// The longest grace a rotation may give: a week.
pub const MAX_GRACE: Duration = Duration::days(7);

/// An endpoint's URL: absolute `https` (or `http` where `allow_http`: the server allows private
/// addresses), with a host, and neither credentials nor a fragment. Whether its address may be
/// reached is the sender's to check, after name resolution.
pub fn check_url(text: &str, allow_http: bool) -> Result<String> {
    let text = text.trim();
    let refuse = |why: &str| Err(Error::invalid_value(format!("the endpoint's URL {why}")));
    if text.is_empty() || text.len() > MAX_URL {
        return refuse(&format!("has 1 to {MAX_URL} characters"));
    }
    let Ok(url) = url::Url::parse(text) else {
        return refuse("is no absolute URL");
    };
    if url.scheme() != "https" && !(allow_http && url.scheme() == "http") {
        return refuse(if allow_http {
            "must be https or http"
        } else {
            "must be https (plain http only where webhook_allow_private is set)"
        });
    }
    if url.host_str().is_none_or(str::is_empty) {
        return refuse("has no host");
    }
    if !url.username().is_empty() || url.password().is_some() {
        return refuse("may not hold credentials");
    }
    if url.fragment().is_some() {
        return refuse("may not have a fragment (#…)");
    }
    Ok(url.to_string())
}

impl From<&WebhookEndpoint> for WebhookInfo {
    fn from(e: &WebhookEndpoint) -> Self {
        WebhookInfo {
            id: e.id.clone(),
            url: e.url.clone(),
            events: e.events.clone(),
            enabled: e.enabled,
            created: e.created,
            disabled_because: e.disabled_because.clone(),
            previous_secret_until: e.previous_secret.as_ref().map(|p| p.until),
        }
    }
}

/// On `Core`, as keys are: the command line reaches them without a request's directory. Each
/// answers "not found" for a tenant that does not exist.
impl Core {
    /// Adds an endpoint to a tenant: its signing secret is in the answer, this once.
    pub async fn add_webhook(
        &self,
        tenant: &TenantId,
        url: &str,
        events: &[String],
        actor: Actor,
    ) -> Result<NewWebhook> {
        self.directory(tenant).await?;
        let url = check_url(url, self.settings.webhook_allow_private)?;
        let events = check_patterns(events)?;
        if self.store.webhooks(tenant).await?.len() >= MAX_ENDPOINTS {
            return Err(Error::invalid_value(format!(
                "a tenant has at most {MAX_ENDPOINTS} webhook endpoints"
            )));
        }
        let secret = SigningSecret::generate()?.reveal();
        let endpoint = WebhookEndpoint {
            id: uuid::Uuid::new_v4().to_string(),
            url,
            events,
            enabled: true,
            secret: self.sealer()?.seal(&secret)?,
            created: self.now(),
            previous_secret: None,
            disabled_because: None,
        };
        let changes = vec![
            change("url", None, Some(Value::String(endpoint.url.clone()))),
            change("events", None, Some(endpoint.events.clone().into())),
            change("enabled", None, Some(Value::Bool(true))),
        ];
        let revision = self.webhook_revision(Action::WebhookCreate, &endpoint, actor, changes);
        let webhook = WebhookInfo::from(&endpoint);
        self.store.put_webhook(tenant, endpoint, revision).await?;
        Ok(NewWebhook { webhook, secret })
    }

    /// A tenant's endpoints, in id order: never their secrets.
    pub async fn webhooks(&self, tenant: &TenantId) -> Result<Vec<WebhookInfo>> {
        self.directory(tenant).await?;
        Ok(self
            .store
            .webhooks(tenant)
            .await?
            .iter()
            .map(WebhookInfo::from)
            .collect())
    }

    /// A tenant's endpoint, whole (its secrets sealed): for the sender.
    pub async fn webhook(&self, tenant: &TenantId, id: &str) -> Result<WebhookEndpoint> {
        self.directory(tenant).await?;
        self.store
            .webhooks(tenant)
            .await?
            .into_iter()
            .find(|e| e.id == id)
            .ok_or_else(|| Error::NotFound(format!("no webhook endpoint {}", quote(id))))
    }

    /// Enables or disables a tenant's endpoint (nothing changes, nor is recorded, if it is so).
    pub async fn set_webhook_enabled(
        &self,
        tenant: &TenantId,
        id: &str,
        enabled: bool,
        actor: Actor,
    ) -> Result<WebhookInfo> {
        self.change_webhook(tenant, id, actor, |endpoint| {
            if endpoint.enabled == enabled {
                return None;
            }
            let changes = vec![change(
                "enabled",
                Some(Value::Bool(endpoint.enabled)),
                Some(Value::Bool(enabled)),
            )];
            endpoint.enabled = enabled;
            if enabled {
                endpoint.disabled_because = None;
            }
            Some(changes)
        })
        .await
    }

    /// Disables an endpoint because its receiver said it is gone for good (`410 Gone`): the
    /// sender's doing, recorded as the system's.
    pub async fn disable_gone_webhook(
        &self,
        tenant: &TenantId,
        id: &str,
        why: &str,
    ) -> Result<WebhookInfo> {
        let actor = Actor {
            name: SENDER.into(),
            key_id: None,
            key_label: None,
        };
        self.change_webhook(tenant, id, actor, |endpoint| {
            if !endpoint.enabled {
                return None;
            }
            endpoint.enabled = false;
            endpoint.disabled_because = Some(why.to_string());
            Some(vec![change(
                "enabled",
                Some(Value::Bool(true)),
                Some(Value::Bool(false)),
            )])
        })
        .await
    }

    /// Gives an endpoint a new signing secret (in the answer, this once). The one it had still
    /// signs beside it for `grace` (at most [`MAX_GRACE`]), so that a receiver can be given the
    /// new one without refusing what is in flight; a secret from an earlier rotation is dropped.
    pub async fn rotate_webhook_secret(
        &self,
        tenant: &TenantId,
        id: &str,
        grace: Duration,
        actor: Actor,
    ) -> Result<NewWebhook> {
        if grace.is_negative() || grace > MAX_GRACE {
            return Err(Error::invalid_value(format!(
                "a rotation's grace is 0 to {} hours",
                MAX_GRACE.whole_hours()
            )));
        }
        let secret = SigningSecret::generate()?.reveal();
        let sealed = self.sealer()?.seal(&secret)?;
        let until = self.now() + grace;
        let webhook = self
            .change_webhook(tenant, id, actor, |endpoint| {
                let previous = std::mem::replace(&mut endpoint.secret, sealed);
                endpoint.previous_secret = (grace > Duration::ZERO).then_some(RetiredSecret {
                    sealed: previous,
                    until,
                });
                Some(vec![change(
                    "secret",
                    None,
                    Some(Value::String(format!(
                        "rotated; the previous one signs until {}",
                        crate::model::rfc3339(until)
                    ))),
                )])
            })
            .await?;
        Ok(NewWebhook { webhook, secret })
    }

    /// The secrets that sign for an endpoint at `now`: its own, and the one before the last
    /// rotation while its grace lasts.
    pub fn signing_secrets(
        &self,
        endpoint: &WebhookEndpoint,
        now: OffsetDateTime,
    ) -> Result<Vec<SigningSecret>> {
        let sealer = self.sealer()?;
        let open = |sealed: &str| -> Result<SigningSecret> {
            SigningSecret::parse(&sealer.open(sealed)?)
                .map_err(|e| Error::Internal(format!("a stored signing secret: {e}")))
        };
        let mut out = vec![open(&endpoint.secret)?];
        if let Some(previous) = &endpoint.previous_secret {
            if previous.until > now {
                out.push(open(&previous.sealed)?);
            }
        }
        Ok(out)
    }

    /// Changes one endpoint with `edit`, which says what changed (None: nothing, nothing
    /// written), and records it.
    async fn change_webhook(
        &self,
        tenant: &TenantId,
        id: &str,
        actor: Actor,
        edit: impl FnOnce(&mut WebhookEndpoint) -> Option<Vec<AttributeChange>>,
    ) -> Result<WebhookInfo> {
        let mut endpoint = self.webhook(tenant, id).await?;
        if let Some(changes) = edit(&mut endpoint) {
            let revision = self.webhook_revision(Action::WebhookUpdate, &endpoint, actor, changes);
            self.store
                .put_webhook(tenant, endpoint.clone(), revision)
                .await?;
        }
        Ok(WebhookInfo::from(&endpoint))
    }

    fn webhook_revision(
        &self,
        action: Action,
        endpoint: &WebhookEndpoint,
        actor: Actor,
        changes: Vec<AttributeChange>,
    ) -> crate::model::Revision {
        let ctx = Context {
            actor,
            request_id: None,
            base_url: String::new(),
        };
        entry(
            self.now(),
            &ctx,
            action,
            TargetType::Webhook,
            &endpoint.id,
            changes,
        )
    }
}

fn change(attribute: &str, before: Option<Value>, after: Option<Value>) -> AttributeChange {
    AttributeChange {
        attribute: attribute.into(),
        before,
        after,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_name_a_type_a_family_or_everything() {
        let p = |t: &str| EventPattern::parse(t);
        assert!(p("*").is_ok_and(|p| EventType::ALL.iter().all(|t| p.matches(*t))));
        let users = p("user.*").expect("a family");
        assert!(users.matches(EventType::UserSuspended));
        assert!(users.matches(EventType::UserCreated));
        assert!(!users.matches(EventType::GroupUpdated));
        assert!(!users.matches(EventType::ProfileUpdated));
        let one = p(" user.suspended ").expect("a type");
        assert!(one.matches(EventType::UserSuspended));
        assert!(!one.matches(EventType::UserReactivated));
        for bad in [
            "",
            "users.*",
            "user",
            "user.suspend",
            "*.*",
            "user.**",
            "key.*",
        ] {
            assert!(p(bad).is_err(), "{bad}");
        }
        let wanted = ["group.*".to_string(), "user.deleted".to_string()];
        assert!(wants(&wanted, EventType::GroupCreated));
        assert!(wants(&wanted, EventType::UserDeleted));
        assert!(!wants(&wanted, EventType::UserCreated));
        assert_eq!(
            check_patterns(&["user.*".into(), " user.* ".into(), "*".into()]).ok(),
            Some(vec!["user.*".to_string(), "*".to_string()])
        );
        assert!(check_patterns(&[]).is_err());
        assert!(check_patterns(&vec!["*".to_string(); MAX_PATTERNS + 1]).is_err());
    }

    #[test]
    fn endpoint_urls_are_https_with_a_host_and_no_credentials() {
        assert_eq!(
            check_url(" https://hooks.example.com/scim?x=1 ", false)
                .ok()
                .as_deref(),
            Some("https://hooks.example.com/scim?x=1")
        );
        for bad in [
            "",
            "hooks.example.com/x",
            "http://hooks.example.com/x",
            "ftp://hooks.example.com/x",
            "https://user:pw@hooks.example.com/x",
            "https://hooks.example.com/x#frag",
            "https://",
        ] {
            assert!(check_url(bad, false).is_err(), "{bad}");
            if bad != "http://hooks.example.com/x" {
                assert!(check_url(bad, true).is_err(), "{bad}");
            }
        }
        // Plain http only where private addresses are allowed (tests on loopback).
        assert!(check_url("http://127.0.0.1:8080/x", true).is_ok());
        assert!(check_url(&format!("https://h.example/{}", "a".repeat(MAX_URL)), false).is_err());
    }

    #[test]
    fn an_endpoints_debug_never_shows_its_secret() {
        let e = WebhookEndpoint {
            id: "w1".into(),
            url: "https://h.example/".into(),
            events: vec!["*".into()],
            enabled: true,
            secret: "whsec_c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0".into(),
            created: time::OffsetDateTime::UNIX_EPOCH,
            previous_secret: Some(RetiredSecret {
                sealed: "whsec_b2xkb2xkb2xkb2xkb2xkb2xkb2xkb2xk".into(),
                until: time::OffsetDateTime::UNIX_EPOCH,
            }),
            disabled_because: None,
        };
        let shown = format!("{e:?}");
        assert!(!shown.contains("whsec_") && shown.contains("w1"), "{shown}");
    }
}
