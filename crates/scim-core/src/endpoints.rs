//! Webhook endpoints: where each tenant wants its events delivered (an `https` URL), which of
//! them (patterns: `user.suspended`, `user.*`, `*`), whether it is enabled, and the signing secret
//! shown once when the endpoint is added. Adding, enabling and disabling one is recorded in the
//! tenant's history (never the secret). Nothing here delivers: the endpoints are kept for the
//! sender.

use serde_json::Value;

use crate::error::{quote, Error, Result};
use crate::events::EventType;
use crate::model::{Action, Actor, AttributeChange, TargetType, TenantId, WebhookEndpoint};
use crate::provision::entry;
use crate::views::{NewWebhook, WebhookInfo};
use crate::webhook::SigningSecret;
use crate::{Context, Core};

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

/// An endpoint's URL: absolute `https`, with a host, and neither credentials nor a fragment.
/// Whether its address may be reached is the sender's to check, after name resolution.
pub fn check_url(text: &str) -> Result<String> {
    let text = text.trim();
    let refuse = |why: &str| Err(Error::invalid_value(format!("the endpoint's URL {why}")));
    if text.is_empty() || text.len() > MAX_URL {
        return refuse(&format!("has 1 to {MAX_URL} characters"));
    }
    let Ok(url) = url::Url::parse(text) else {
        return refuse("is no absolute URL");
    };
    if url.scheme() != "https" {
        return refuse("must be https");
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
        let url = check_url(url)?;
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
            secret: secret.clone(),
            created: self.now(),
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

    /// Enables or disables a tenant's endpoint (nothing changes, nor is recorded, if it is so).
    pub async fn set_webhook_enabled(
        &self,
        tenant: &TenantId,
        id: &str,
        enabled: bool,
        actor: Actor,
    ) -> Result<WebhookInfo> {
        self.directory(tenant).await?;
        let mut endpoint = self
            .store
            .webhooks(tenant)
            .await?
            .into_iter()
            .find(|e| e.id == id)
            .ok_or_else(|| Error::NotFound(format!("no webhook endpoint {}", quote(id))))?;
        if endpoint.enabled != enabled {
            let changes = vec![change(
                "enabled",
                Some(Value::Bool(endpoint.enabled)),
                Some(Value::Bool(enabled)),
            )];
            endpoint.enabled = enabled;
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
            check_url(" https://hooks.example.com/scim?x=1 ")
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
            assert!(check_url(bad).is_err(), "{bad}");
        }
        assert!(check_url(&format!("https://h.example/{}", "a".repeat(MAX_URL))).is_err());
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
        };
        let shown = format!("{e:?}");
        assert!(!shown.contains("whsec_") && shown.contains("w1"), "{shown}");
    }
}
