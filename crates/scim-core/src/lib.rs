//! The domain core: what each operation means. Provisioning (create, replace, patch, delete,
//! membership, bulk), list planning, revisions and their diffs, provisioning events (the change
//! feed's outbox), the application's profile policy, API keys and authentication, the admin
//! views, the integrity rules, webhook endpoints and Standard Webhooks signatures, written once,
//! over the storage seam ([`store::Store`]) that every engine implements.
//!
//! The core takes typed values (parsed by the edge) and returns typed values; it knows neither
//! HTTP nor any storage engine. Its one error type is [`error::Error`].

pub mod admin;
pub mod auth;
pub mod bulk;
pub mod clock;
pub mod delivery;
pub mod diff;
pub mod doc;
pub mod endpoints;
pub mod error;
pub mod events;
pub mod integrity;
mod lists;
pub mod model;
pub mod policy;
mod provision;
pub mod query;
pub mod reach;
pub mod render;
mod retry;
pub mod seal;
pub mod secret;
pub mod store;
mod tenants;
#[cfg(feature = "testkit")]
pub mod testkit;
pub mod views;
pub mod webhook;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

pub use scim_proto;
use scim_proto::schema::Registry;
use serde_json::Value;

use clock::{Clock, SystemClock};
pub use error::{Error, Result};
pub use lists::ListPage;
use model::{Actor, Tenant, TenantId};
pub use provision::Change;
use store::{Partition, Store};
pub use tenants::NewTenant;

/// The actor of every change made through SCIM, as the product's revision history shows it.
pub const SCIM_ACTOR: &str = "Scim System User";

/// How the core interprets what clients send.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// Refuse what real identity providers send but the RFC does not allow.
    pub strict: bool,
    /// Let webhook endpoints be plain `http` and reach loopback, private, link-local and
    /// metadata addresses (tests on loopback; never in production).
    pub webhook_allow_private: bool,
}

/// Who is asking, and where the answer will be read.
#[derive(Debug, Clone)]
pub struct Context {
    pub actor: Actor,
    pub request_id: Option<String>,
    /// The SCIM base URL as the client sees it, for `Location` and `meta.location`.
    pub base_url: String,
}

/// A resource as sent to the client.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub id: String,
    pub version: u64,
    /// The resource as JSON text (`render::resource_text`), sent as it is.
    pub body: render::JsonText,
}

impl Rendered {
    /// The resource as a value, for a view that holds it.
    pub fn to_value(&self) -> Value {
        self.body.to_value()
    }
}

/// The core: the schemas, the store, the clock; keys and authentication (`auth`), tenants
/// (`tenants`), and each tenant's [`Directory`].
pub struct Core {
    registry: Arc<Registry>,
    store: Arc<dyn Store>,
    settings: Settings,
    clock: Arc<dyn Clock>,
    /// When each key's last use was last written down (see [`auth`]).
    touched: Mutex<HashMap<String, Instant>>,
    /// The secrets key that seals webhook signing secrets (none: endpoints cannot be added).
    sealer: Option<seal::Sealer>,
}

impl Core {
    pub fn new(store: Arc<dyn Store>, settings: Settings) -> Self {
        Core::with_clock(store, settings, Arc::new(SystemClock))
    }

    pub fn with_clock(store: Arc<dyn Store>, settings: Settings, clock: Arc<dyn Clock>) -> Self {
        Core {
            registry: Arc::new(Registry::builtin()),
            store,
            settings,
            clock,
            touched: Mutex::new(HashMap::new()),
            sealer: None,
        }
    }

    /// The core with the secrets key that seals webhook signing secrets.
    pub fn with_sealer(mut self, sealer: seal::Sealer) -> Self {
        self.sealer = Some(sealer);
        self
    }

    /// The secrets key, or why there is none.
    pub(crate) fn sealer(&self) -> Result<&seal::Sealer> {
        self.sealer
            .as_ref()
            .ok_or_else(|| Error::Internal("this server has no secrets key".into()))
    }

    /// The clock's time.
    pub fn clock_now(&self) -> time::OffsetDateTime {
        self.clock.now()
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The store, for what the core does not interpret: flushing, its size, its health.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    fn now(&self) -> time::OffsetDateTime {
        self.clock.now()
    }

    /// A tenant's directory, if the tenant exists (active or not: whether its keys work is
    /// authentication's business).
    pub async fn directory(&self, tenant: &TenantId) -> Result<Directory> {
        let tenant = self.store.tenant(tenant).await?.ok_or_else(|| {
            Error::NotFound(format!("no tenant {}", error::quote(tenant.as_str())))
        })?;
        Ok(Directory {
            store: self.store.partition(&tenant.id)?,
            registry: Arc::clone(&self.registry),
            settings: self.settings.clone(),
            clock: Arc::clone(&self.clock),
            tenant,
        })
    }
}

/// One tenant's directory: provisioning (`provision`), lists (`lists`), bulk (`bulk`), the
/// admin views and histories (`admin`), over the tenant's partition of the store.
#[derive(Clone)]
pub struct Directory {
    store: Arc<dyn Partition>,
    registry: Arc<Registry>,
    settings: Settings,
    clock: Arc<dyn Clock>,
    tenant: Tenant,
}

impl Directory {
    pub fn tenant(&self) -> &Tenant {
        &self.tenant
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The partition, for what the core does not interpret (its feed, its export).
    pub fn partition(&self) -> &Arc<dyn Partition> {
        &self.store
    }

    fn now(&self) -> time::OffsetDateTime {
        self.clock.now()
    }
}
