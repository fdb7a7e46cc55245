//! The server's state: its configuration, the core, and what only the edge keeps (metrics, rate
//! limits, whether it is stopping). Authentication is the core's; the rate limits around it are
//! the edge's: per key once authenticated, per client address for failures, checked before any
//! key is looked at.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use scim_core::auth::Access;
use scim_core::error::AuthFailure;
use scim_core::model::ApiKey;
use scim_core::Core;

use crate::config::Config;
use crate::http::error::{ApiError, ApiResult};
use crate::metrics::Metrics;
use crate::ratelimit::Limiter;

pub struct App {
    pub config: Config,
    pub core: Arc<Core>,
    pub metrics: Metrics,
    key_limiter: Limiter,
    tenant_limiter: Limiter,
    unauthenticated_limiter: Limiter,
    /// Set when the server begins to stop: `/readyz` then answers 503, so that a load balancer
    /// sends no new work while requests in flight finish.
    shutting_down: AtomicBool,
    /// The HTTP client that test messages to webhook endpoints go out with (built at first use).
    webhook_sender: std::sync::OnceLock<Arc<crate::webhooks::HttpSender>>,
}

impl App {
    pub fn new(config: Config, core: Arc<Core>) -> Self {
        let key_limiter = Limiter::new(config.rate_limit_per_key, config.rate_limit_burst);
        let tenant_limiter =
            Limiter::new(config.rate_limit_per_tenant, config.rate_limit_tenant_burst);
        let unauthenticated_limiter = Limiter::new(
            config.rate_limit_unauthenticated,
            config.rate_limit_unauthenticated_burst,
        );
        App {
            config,
            core,
            metrics: Metrics::default(),
            key_limiter,
            tenant_limiter,
            unauthenticated_limiter,
            shutting_down: AtomicBool::new(false),
            webhook_sender: std::sync::OnceLock::new(),
        }
    }

    /// The client for test messages to webhook endpoints, with the configured timeout and
    /// address rules.
    pub fn webhook_sender(&self) -> ApiResult<Arc<crate::webhooks::HttpSender>> {
        if let Some(s) = self.webhook_sender.get() {
            return Ok(Arc::clone(s));
        }
        let sender = crate::webhooks::HttpSender::new(
            std::time::Duration::from_secs(self.config.webhook_timeout_secs.max(1).into()),
            self.config.webhook_allow_private,
        )
        .map_err(scim_core::Error::Internal)?;
        Ok(Arc::clone(
            self.webhook_sender.get_or_init(|| Arc::new(sender)),
        ))
    }

    /// Marks the server as stopping (readiness turns false).
    pub fn begin_shutdown(&self) {
        self.shutting_down.store(true, Ordering::SeqCst);
    }

    /// Checks a bearer token (or why the request has none) for what the request asks to reach
    /// (`None`: something that cannot exist, such as a malformed tenant id), within the rate
    /// limits: per address for failures, checked first; per key and per tenant once
    /// authenticated.
    pub async fn authenticate(
        &self,
        token: Result<&str, AuthFailure>,
        access: Option<Access<'_>>,
        client: &str,
    ) -> ApiResult<ApiKey> {
        if let Some(wait) = self.unauthenticated_limiter.empty_for(client) {
            return Err(self.too_many(wait, None));
        }
        let checked = match (token, access) {
            (Ok(token), Some(access)) => self.core.authenticate(token, access).await,
            (Ok(_), None) => Err(scim_core::Error::Unauthorized(AuthFailure::Invalid)),
            (Err(why), _) => Err(scim_core::Error::Unauthorized(why)),
        };
        match checked {
            Ok(key) => {
                self.key_limiter
                    .take(&key.id)
                    .map_err(|wait| self.too_many(wait, Some(&key.label)))?;
                if let Some(Access::Scim(t) | Access::Admin(t)) = access {
                    self.tenant_limiter
                        .take(t.as_str())
                        .map_err(|wait| self.too_many(wait, None))?;
                }
                Ok(key)
            }
            Err(e @ (scim_core::Error::Unauthorized(_) | scim_core::Error::Forbidden(_))) => {
                self.unauthenticated_limiter
                    .take(client)
                    .map_err(|wait| self.too_many(wait, None))?;
                Err(e.into())
            }
            Err(e) => Err(e.into()),
        }
    }

    /// A refusal by a rate limit (counted by key label when a key's own limit refused it):
    /// retry when the bucket has a token again.
    fn too_many(&self, wait: Duration, key_label: Option<&str>) -> ApiError {
        self.metrics.rate_limited(key_label);
        ApiError::TooManyRequests(crate::ratelimit::retry_after_secs(wait))
    }

    /// Why the server cannot serve SCIM now, if it cannot: it is stopping, the store cannot
    /// write or does not answer, or no SCIM key is active (every request would be refused).
    pub async fn unready(&self) -> Option<String> {
        if self.shutting_down.load(Ordering::SeqCst) {
            return Some("shutting down: finishing the requests in flight".into());
        }
        if let Some(reason) = self.core.store().failure() {
            return Some(format!("the store cannot write: {reason}"));
        }
        match self.core.keys(None).await {
            Err(e) => Some(format!("store: {e}")),
            Ok(keys) if !keys.iter().any(|k| !k.admin && k.revoked.is_none()) => {
                Some("no active SCIM key: mint one with `scim-server key create`".into())
            }
            Ok(_) => None,
        }
    }
}
