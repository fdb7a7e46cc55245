//! API keys and authentication: keys minted from the OS's random source, stored only as SHA-256
//! digests, compared in constant time. Several keys may be active at once; a revoked key fails
//! on the next request. Minting and revoking are recorded in the revision history.

use std::time::{Duration, Instant};

use crate::error::{quote, AuthFailure, Error, Result};
use crate::model::{
    Action, Actor, ApiKey, AttributeChange, KeyScope, Revision, TargetType, TenantId, TenantStatus,
};
use crate::provision::entry;
use crate::views::KeyInfo;
use crate::{secret, Context, Core, SCIM_ACTOR};

/// The prefix of every key, so that secret scanners can spot leaked keys.
pub const PREFIX: &str = "scim_";

/// How often a key's last use is written down, at most.
const TOUCH_EVERY: Duration = Duration::from_secs(60);

/// Which API a key opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// The SCIM API, for an identity provider.
    Scim,
    /// The admin API and the admin web page.
    Admin,
}

/// What a request asks to reach, for [`Core::authenticate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access<'t> {
    /// A tenant's SCIM API.
    Scim(&'t TenantId),
    /// A tenant's admin API and web page.
    Admin(&'t TenantId),
    /// The operator's routes: every tenant, and the tenants themselves.
    Operator,
    /// Any administrator: the operator, or a tenant's (signing in to the web page, which then
    /// shows the pages it may see).
    AnyAdmin,
}

/// Finds the active key whose digest matches `presented`. Every active key is compared, in
/// constant time, whatever matches: the time taken does not tell how close a guess was.
pub fn find<'k>(keys: &'k [ApiKey], presented: &str) -> Option<&'k ApiKey> {
    let wanted = secret::digest(presented);
    let mut found = None;
    for key in keys.iter().filter(|k| k.revoked.is_none()) {
        if secret::same(&key.digest, &wanted) && found.is_none() {
            found = Some(key);
        }
    }
    found
}

/// The actor recorded for key management done by the operator on the command line.
pub fn operator() -> Actor {
    Actor {
        name: "Operator".into(),
        key_id: None,
        key_label: None,
    }
}

/// The actor of changes made with a key: "Scim System User" for a SCIM key, the key's label
/// for an administrator's.
pub fn actor(key: &ApiKey) -> Actor {
    Actor {
        name: if key.admin {
            key.label.clone()
        } else {
            SCIM_ACTOR.into()
        },
        key_id: Some(key.id.clone()),
        key_label: Some(key.label.clone()),
    }
}

impl Core {
    /// The active key that `token` is, if it opens what the request asks for, refreshing its
    /// last use. A key that belongs to another tenant, or to a disabled one, is refused exactly as
    /// an unknown key is (401), so that no tenant can learn whether another exists; a valid key
    /// of the wrong kind for its own tenant is 403.
    pub async fn authenticate(&self, token: &str, access: Access<'_>) -> Result<ApiKey> {
        if let Some(reason) = self.store.failure() {
            return Err(Error::Unavailable(format!(
                "the store cannot write ({reason}); the server is stopping: restart it once the disk is writable"
            )));
        }
        if token.is_empty() {
            return Err(Error::Unauthorized(AuthFailure::Empty));
        }
        // Looked up by the digest of what was presented: how long the lookup takes depends on
        // that digest, which tells nothing of any stored key; the match is then compared in
        // constant time.
        let wanted = secret::digest(token);
        let key = self
            .store
            .key_by_digest(&wanted)
            .await?
            .filter(|k| k.revoked.is_none() && secret::same(&k.digest, &wanted))
            .ok_or(Error::Unauthorized(AuthFailure::Invalid))?;
        let unknown = Error::Unauthorized(AuthFailure::Invalid);
        // A key of a disabled tenant opens nothing.
        if let Some(t) = key.feed() {
            if !self.active(&t).await? {
                return Err(unknown);
            }
        }
        let wrong_kind = |what: &str| Err(Error::Forbidden(what.to_string()));
        let scim_only = "this is an admin key: the SCIM API takes a SCIM key";
        let admin_only = "this is a SCIM key: the admin API takes an admin key";
        match (key.scope(), access) {
            (KeyScope::Scim(mine), Access::Scim(wanted)) if mine == *wanted => {}
            (KeyScope::TenantAdmin(mine), Access::Admin(wanted)) if mine == *wanted => {}
            (KeyScope::Operator, Access::Admin(_) | Access::Operator | Access::AnyAdmin) => {}
            (KeyScope::TenantAdmin(_), Access::AnyAdmin) => {}
            (KeyScope::Scim(_), Access::AnyAdmin) => return wrong_kind(admin_only),
            // A valid key of the other kind: its holder may know it is valid.
            (KeyScope::TenantAdmin(mine), Access::Scim(wanted)) if mine == *wanted => {
                return wrong_kind(scim_only)
            }
            (KeyScope::Operator, Access::Scim(_)) => return wrong_kind(scim_only),
            (KeyScope::Scim(mine), Access::Admin(wanted)) if mine == *wanted => {
                return wrong_kind(admin_only)
            }
            (KeyScope::Scim(_), Access::Operator) => return wrong_kind(admin_only),
            (KeyScope::TenantAdmin(_), Access::Operator) => {
                return wrong_kind(
                    "this is a tenant's admin key: only the operator's admin key manages tenants",
                )
            }
            // Another tenant's key: as if it did not exist.
            _ => return Err(unknown),
        }
        self.touch(&key).await;
        Ok(key)
    }

    /// Whether a tenant exists and is active.
    async fn active(&self, tenant: &TenantId) -> Result<bool> {
        Ok(self
            .store
            .tenant(tenant)
            .await?
            .is_some_and(|t| t.status == TenantStatus::Active))
    }

    /// The active admin key with this id, if any: a web session stays valid only while the key
    /// it was opened with does (and its tenant, for a tenant's admin key). A page served to the
    /// session counts as a use of its key.
    pub async fn session_key(&self, id: &str) -> Result<Option<ApiKey>> {
        let key = self
            .store
            .keys()
            .await?
            .into_iter()
            .find(|k| k.id == id && k.admin && k.revoked.is_none());
        let Some(key) = key else { return Ok(None) };
        if let KeyScope::TenantAdmin(t) = key.scope() {
            if !self.active(&t).await? {
                return Ok(None);
            }
        }
        self.touch(&key).await;
        Ok(Some(key))
    }

    /// Writes down a key's last use, at most once a minute per key (best effort).
    async fn touch(&self, key: &ApiKey) {
        let now = Instant::now();
        let due = match self.touched.lock() {
            Ok(mut map) => match map.get(&key.id) {
                Some(last) if now.duration_since(*last) < TOUCH_EVERY => false,
                _ => {
                    map.insert(key.id.clone(), now);
                    true
                }
            },
            Err(_) => false,
        };
        if due {
            if let Err(e) = self.store.touch_key(&key.id, self.now()).await {
                tracing::warn!(key_id = %key.id, error = %e, "could not record a key's last use");
            }
        }
    }

    /// Keys as listings show them (never the key, nor its digest): a tenant's (its SCIM and
    /// admin keys), or with `None` every key.
    pub async fn keys(&self, tenant: Option<&TenantId>) -> Result<Vec<KeyInfo>> {
        Ok(self
            .store
            .keys()
            .await?
            .iter()
            .filter(|k| tenant.is_none_or(|t| k.feed().as_ref() == Some(t)))
            .map(KeyInfo::from)
            .collect())
    }

    /// Whether a tenant has an active SCIM key (without one, every SCIM request is refused).
    pub async fn has_active_scim_key(&self, tenant: &TenantId) -> Result<bool> {
        Ok(self
            .store
            .keys()
            .await?
            .iter()
            .any(|k| k.revoked.is_none() && k.scope() == KeyScope::Scim(tenant.clone())))
    }

    /// Mints a key of a tenant (an operator key: an admin key without a tenant) and stores its
    /// digest. Returns its listing and the key, which is shown once.
    pub async fn mint_key(
        &self,
        label: &str,
        kind: KeyKind,
        tenant: Option<&TenantId>,
        actor: Actor,
    ) -> Result<(KeyInfo, String)> {
        let label = label.trim();
        if label.is_empty() || label.chars().count() > 100 {
            return Err(Error::invalid_value(
                "a key's label must have 1 to 100 characters",
            ));
        }
        let tenant = match (kind, tenant) {
            (KeyKind::Scim, None) => Some(TenantId::default_tenant()),
            (_, t) => t.cloned(),
        };
        if let Some(t) = &tenant {
            if self.store.tenant(t).await?.is_none() {
                return Err(Error::NotFound(format!("no tenant {}", quote(t.as_str()))));
            }
        }
        let key = format!("{PREFIX}{}", secret::token()?);
        let entry = ApiKey {
            id: uuid::Uuid::new_v4().to_string(),
            label: label.to_string(),
            digest: secret::digest(&key),
            admin: kind == KeyKind::Admin,
            created: self.now(),
            last_used: None,
            revoked: None,
            tenant,
        };
        let revision = self.key_revision(Action::KeyCreate, &entry, actor);
        self.store.put_key(entry.clone(), revision).await?;
        Ok((KeyInfo::from(&entry), key))
    }

    /// Mints a SCIM key for a tenant that holds no active one, and returns it (to be shown once).
    pub async fn ensure_scim_key(&self, tenant: &TenantId) -> Result<Option<String>> {
        if self.has_active_scim_key(tenant).await? {
            return Ok(None);
        }
        let (_, key) = self
            .mint_key("initial key", KeyKind::Scim, Some(tenant), operator())
            .await?;
        Ok(Some(key))
    }

    /// Mints the operator's admin key when there is no active one (a new store), and returns it
    /// (to be shown once): the key that opens the admin web page and every tenant.
    pub async fn ensure_operator_key(&self) -> Result<Option<String>> {
        let active = self
            .store
            .keys()
            .await?
            .iter()
            .any(|k| k.revoked.is_none() && k.scope() == KeyScope::Operator);
        if active {
            return Ok(None);
        }
        let (_, key) = self
            .mint_key("initial admin key", KeyKind::Admin, None, operator())
            .await?;
        Ok(Some(key))
    }

    /// Revokes a key (of `tenant` only, when one is given: a tenant's administrator revokes its
    /// own tenant's keys); it fails from the next request on.
    pub async fn revoke_key(
        &self,
        id: &str,
        tenant: Option<&TenantId>,
        actor: Actor,
    ) -> Result<KeyInfo> {
        let mut entry = self
            .store
            .keys()
            .await?
            .into_iter()
            .find(|k| k.id == id && tenant.is_none_or(|t| k.feed().as_ref() == Some(t)))
            .ok_or_else(|| Error::NotFound(format!("no key with id {}", quote(id))))?;
        if entry.revoked.is_none() {
            entry.revoked = Some(self.now());
            let revision = self.key_revision(Action::KeyRevoke, &entry, actor);
            self.store.put_key(entry.clone(), revision).await?;
        }
        Ok(KeyInfo::from(&entry))
    }

    fn key_revision(&self, action: Action, key: &ApiKey, actor: Actor) -> Revision {
        let ctx = Context {
            actor,
            request_id: None,
            base_url: String::new(),
        };
        let label = AttributeChange {
            attribute: "label".into(),
            before: None,
            after: Some(serde_json::Value::String(key.label.clone())),
        };
        entry(
            self.now(),
            &ctx,
            action,
            TargetType::ApiKey,
            &key.id,
            vec![label],
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: &str, secret: &str, revoked: bool) -> ApiKey {
        let now = time::OffsetDateTime::now_utc();
        ApiKey {
            id: id.into(),
            label: id.into(),
            digest: secret::digest(secret),
            admin: false,
            created: now,
            last_used: None,
            revoked: revoked.then_some(now),
            tenant: None,
        }
    }

    #[test]
    fn find_matches_only_active_keys() {
        let keys = vec![
            key("a", "one", false),
            key("b", "two", true),
            key("c", "three", false),
        ];
        assert_eq!(find(&keys, "one").map(|k| k.id.as_str()), Some("a"));
        assert_eq!(find(&keys, "three").map(|k| k.id.as_str()), Some("c"));
        assert!(find(&keys, "two").is_none(), "revoked");
        assert!(find(&keys, "four").is_none());
        assert!(find(&[], "one").is_none());
    }
}
