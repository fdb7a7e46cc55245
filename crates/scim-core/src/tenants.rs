//! Tenants: the customer organisations one server holds, each with its own directory, keys,
//! history and settings. Creating, changing and deleting them is the operator's, and each is
//! recorded in the operator's feed. `default` always exists: an existing store becomes it, and
//! `/scim/v2` means it.

use serde_json::Value;

use crate::auth::{operator, KeyKind};
use crate::error::{quote, Error, Result};
use crate::model::{
    Action, Actor, AttributeChange, Revision, TargetType, Tenant, TenantId, TenantStatus,
};
use crate::policy::DEFAULT_ROLE;
use crate::provision::entry;
use crate::views::{AuditPage, KeyInfo};
use crate::{admin::MAX_PAGE, Context, Core};

/// What creating a tenant takes.
#[derive(Debug, Clone)]
pub struct NewTenant {
    pub id: TenantId,
    pub name: String,
    /// The role SCIM users get; `Everyone` when absent.
    pub default_role: Option<String>,
}

fn check_text(what: &str, text: &str, max: usize) -> Result<String> {
    let text = text.trim();
    if text.is_empty() || text.chars().count() > max {
        return Err(Error::invalid_value(format!(
            "a tenant's {what} must have 1 to {max} characters"
        )));
    }
    Ok(text.to_string())
}

impl Core {
    /// Every tenant, by id.
    pub async fn tenants(&self) -> Result<Vec<Tenant>> {
        let mut all = self.store.tenants().await?;
        all.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(all)
    }

    /// One tenant (404 when there is none).
    pub async fn tenant(&self, id: &TenantId) -> Result<Tenant> {
        self.store
            .tenant(id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("no tenant {}", quote(id.as_str()))))
    }

    /// Makes sure `default` exists (an existing store becomes it on its first start with
    /// tenants), with the settings it always had.
    pub async fn ensure_default_tenant(&self) -> Result<Tenant> {
        let id = TenantId::default_tenant();
        if let Some(t) = self.store.tenant(&id).await? {
            return Ok(t);
        }
        let tenant = Tenant {
            id: id.clone(),
            name: "Default".into(),
            status: TenantStatus::Active,
            default_role: DEFAULT_ROLE.into(),
            created: self.now(),
        };
        let revision = self.tenant_revision(Action::TenantCreate, &tenant, operator(), Vec::new());
        self.store.put_tenant(tenant.clone(), revision).await?;
        Ok(tenant)
    }

    /// Creates a tenant and its first SCIM key (shown once).
    pub async fn create_tenant(
        &self,
        new: NewTenant,
        actor: Actor,
    ) -> Result<(Tenant, KeyInfo, String)> {
        let tenant = self.create_tenant_without_key(new, actor.clone()).await?;
        let (info, key) = self
            .mint_key("initial key", KeyKind::Scim, Some(&tenant.id), actor)
            .await?;
        Ok((tenant, info, key))
    }

    /// Creates a tenant without keys (to import its copy, which holds its keys).
    pub async fn create_tenant_without_key(&self, new: NewTenant, actor: Actor) -> Result<Tenant> {
        let name = check_text("name", &new.name, 200)?;
        let role = match &new.default_role {
            Some(r) => check_text("default role", r, 100)?,
            None => DEFAULT_ROLE.to_string(),
        };
        if self.store.tenant(&new.id).await?.is_some() {
            return Err(Error::Conflict(format!(
                "tenant {} exists",
                quote(new.id.as_str())
            )));
        }
        let tenant = Tenant {
            id: new.id,
            name,
            status: TenantStatus::Active,
            default_role: role,
            created: self.now(),
        };
        let changes = vec![
            change("name", None, Some(&tenant.name)),
            change("defaultRole", None, Some(&tenant.default_role)),
        ];
        let revision = self.tenant_revision(Action::TenantCreate, &tenant, actor, changes);
        self.store.put_tenant(tenant.clone(), revision).await?;
        Ok(tenant)
    }

    /// Changes a tenant's name, default role or status (a disabled tenant's keys stop working
    /// at once; its data stays).
    pub async fn update_tenant(
        &self,
        id: &TenantId,
        name: Option<&str>,
        default_role: Option<&str>,
        status: Option<TenantStatus>,
        actor: Actor,
    ) -> Result<Tenant> {
        let old = self.tenant(id).await?;
        let mut new = old.clone();
        if let Some(n) = name {
            new.name = check_text("name", n, 200)?;
        }
        if let Some(r) = default_role {
            new.default_role = check_text("default role", r, 100)?;
        }
        if let Some(s) = status {
            new.status = s;
        }
        if new == old {
            return Ok(old);
        }
        let mut changes = Vec::new();
        if new.name != old.name {
            changes.push(change("name", Some(&old.name), Some(&new.name)));
        }
        if new.default_role != old.default_role {
            changes.push(change(
                "defaultRole",
                Some(&old.default_role),
                Some(&new.default_role),
            ));
        }
        if new.status != old.status {
            changes.push(change(
                "status",
                Some(status_name(old.status)),
                Some(status_name(new.status)),
            ));
        }
        let revision = self.tenant_revision(Action::TenantUpdate, &new, actor, changes);
        self.store.put_tenant(new.clone(), revision).await?;
        Ok(new)
    }

    /// Deletes a disabled tenant with all its data and keys, when `confirm` says so; the deletion
    /// is recorded in the operator's feed. `default` cannot be deleted.
    pub async fn delete_tenant(&self, id: &TenantId, confirm: bool, actor: Actor) -> Result<()> {
        let tenant = self.tenant(id).await?;
        if id.is_default() {
            return Err(Error::invalid_value(
                "the default tenant cannot be deleted (disable it instead)",
            ));
        }
        if tenant.status != TenantStatus::Disabled {
            return Err(Error::invalid_value(format!(
                "tenant {} is active: disable it first",
                quote(id.as_str())
            )));
        }
        if !confirm {
            return Err(Error::invalid_value(
                "deleting a tenant removes all its data: confirm it explicitly",
            ));
        }
        let changes = vec![change("name", Some(&tenant.name), None)];
        let revision = self.tenant_revision(Action::TenantDelete, &tenant, actor, changes);
        self.store.delete_tenant(id, revision).await?;
        Ok(())
    }

    /// The operator's feed (tenants and operator keys), oldest first, after `after`.
    pub async fn operator_audit(&self, after: u64, limit: usize) -> Result<AuditPage> {
        let entries = self
            .store
            .operator_revisions(after, limit.clamp(1, MAX_PAGE))
            .await?;
        let next = entries.last().map_or(after, |e| e.seq);
        Ok(AuditPage { entries, next })
    }

    fn tenant_revision(
        &self,
        action: Action,
        tenant: &Tenant,
        actor: Actor,
        changes: Vec<AttributeChange>,
    ) -> Revision {
        let ctx = Context {
            actor,
            request_id: None,
            base_url: String::new(),
        };
        entry(
            self.now(),
            &ctx,
            action,
            TargetType::Tenant,
            tenant.id.as_str(),
            changes,
        )
    }
}

fn status_name(s: TenantStatus) -> &'static str {
    match s {
        TenantStatus::Active => "active",
        TenantStatus::Disabled => "disabled",
    }
}

fn change(attribute: &str, before: Option<&str>, after: Option<&str>) -> AttributeChange {
    AttributeChange {
        attribute: attribute.into(),
        before: before.map(|v| Value::String(v.to_string())),
        after: after.map(|v| Value::String(v.to_string())),
    }
}
