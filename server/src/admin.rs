//! What the admin API does: users with their application profiles, an administrator's edit of a
//! display name, revision histories and the audit feed, and key management. Like `service.rs`,
//! synchronous and storage-bound; the HTTP layer runs it on the blocking pool.

use serde_json::Value;

use crate::error::{quote, Error, Result};
use crate::keys;
use crate::policy;
use crate::scim::schema::Kind;
use crate::service::{App, Context};
use crate::store::{Actor, ApiKey, AttributeChange, CommitError, Record, Revision, Write, WriteOp};
use crate::views::{
    AuditPage, GroupDetail, GroupInfo, GroupPage, GroupSummary, HistoryPage, KeyInfo, MemberView,
    MintedKey, UserDetail, UserPage, UserSummary,
};

/// The most entries one page of a history or of the audit feed holds.
pub const MAX_PAGE: usize = 1000;

/// The actor recorded for an administrator: the admin key's label.
pub fn admin_actor(key: &ApiKey) -> Actor {
    Actor {
        name: key.label.clone(),
        key_id: Some(key.id.clone()),
        key_label: Some(key.label.clone()),
    }
}

/// A string attribute of a SCIM resource.
fn text(doc: &Value, name: &str) -> Option<String> {
    doc.get(name).and_then(Value::as_str).map(str::to_string)
}

/// A user as the admin API lists it: its profile, status and SCIM userName.
fn summary(record: &Record) -> UserSummary {
    let profile = record
        .profile
        .clone()
        .unwrap_or_else(|| policy::initial_profile(&record.doc));
    UserSummary {
        id: record.id.clone(),
        user_name: text(&record.doc, "userName"),
        display_name: profile.display_name,
        role: profile.role,
        status: policy::status(&record.doc),
        created: record.created.clone(),
        last_modified: record.last_modified.clone(),
    }
}

impl From<&ApiKey> for KeyInfo {
    fn from(k: &ApiKey) -> Self {
        KeyInfo {
            id: k.id.clone(),
            label: k.label.clone(),
            admin: k.admin,
            created: k.created.clone(),
            last_used: k.last_used.clone(),
            revoked: k.revoked.clone(),
        }
    }
}

impl App {
    /// Users in id order, paged (`start` is 1-based).
    pub fn admin_users(&self, start: usize, count: usize) -> Result<UserPage> {
        let total = self.store.count(Kind::User)?;
        let users = self
            .store
            .page(Kind::User, start.saturating_sub(1), count.min(MAX_PAGE))?
            .iter()
            .map(summary)
            .collect();
        Ok(UserPage {
            total,
            start_index: start,
            users,
        })
    }

    /// One user: its profile and status, and its SCIM resource.
    pub fn admin_user(&self, id: &str, ctx: &Context) -> Result<UserDetail> {
        let record = self
            .store
            .get(Kind::User, id)?
            .ok_or_else(|| not_found(id))?;
        let scim = self.get(Kind::User, id, ctx, &Default::default())?;
        Ok(UserDetail {
            summary: summary(&record),
            scim: scim.body,
        })
    }

    /// An administrator changes a user's display name. The SCIM resource does not change, but its
    /// version moves, so that no concurrent SCIM change computed before it can overwrite it.
    pub fn admin_set_display_name(
        &self,
        id: &str,
        name: &str,
        ctx: &Context,
    ) -> Result<UserSummary> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 200 {
            return Err(Error::invalid_value(
                "a display name must have 1 to 200 characters",
            ));
        }
        loop {
            let old = self
                .store
                .get(Kind::User, id)?
                .ok_or_else(|| not_found(id))?;
            let mut profile = old
                .profile
                .clone()
                .unwrap_or_else(|| policy::initial_profile(&old.doc));
            if profile.display_name == name {
                return Ok(summary(&old));
            }
            let before = std::mem::replace(&mut profile.display_name, name.to_string());
            let mut record = old.clone();
            record.profile = Some(profile);
            record.version += 1;
            let revision = Revision {
                seq: 0,
                time: keys::now(),
                actor: ctx.actor.clone(),
                action: "profile".into(),
                target_type: Kind::User.name().into(),
                target_id: id.to_string(),
                changes: vec![AttributeChange {
                    attribute: "profile.displayName".into(),
                    before: Some(Value::String(before)),
                    after: Some(Value::String(name.to_string())),
                }],
                request_id: ctx.request_id.clone(),
                related: Vec::new(),
            };
            let write = Write {
                kind: Kind::User,
                id: id.to_string(),
                expected_version: Some(old.version),
                op: WriteOp::Put {
                    record: record.clone(),
                    members: None,
                },
                revision,
            };
            match self.commit(write) {
                Ok(_) => return Ok(summary(&record)),
                Err(CommitError::Stale) => continue,
                Err(CommitError::Failed(e)) => return Err(e),
            }
        }
    }

    /// The history of a user or group, newest first, paged (`start` is 1-based). It outlives the
    /// resource: a deleted user's history stays readable.
    pub fn history(&self, kind: Kind, id: &str, start: usize, count: usize) -> Result<HistoryPage> {
        let mut entries = self.store.revisions_of(kind.name(), id)?;
        if entries.is_empty() && self.store.get(kind, id)?.is_none() {
            return Err(Error::NotFound(format!(
                "no {} {} and no history of one",
                kind.name(),
                quote(id)
            )));
        }
        entries.reverse();
        let total = entries.len();
        let entries = entries
            .into_iter()
            .skip(start.saturating_sub(1))
            .take(count.min(MAX_PAGE))
            .collect();
        Ok(HistoryPage {
            total,
            start_index: start,
            entries,
        })
    }

    /// The whole feed, oldest first: entries after sequence number `after`, at most `limit`, and
    /// the `after` to ask with next.
    pub fn audit(&self, after: u64, limit: usize) -> Result<AuditPage> {
        let entries = self.store.revisions(after, limit.clamp(1, MAX_PAGE))?;
        let next = entries.last().map_or(after, |e| e.seq);
        Ok(AuditPage { entries, next })
    }

    pub fn admin_keys(&self) -> Result<Vec<KeyInfo>> {
        Ok(self.store.keys()?.iter().map(KeyInfo::from).collect())
    }

    /// Mints a key; the answer holds it, once.
    pub fn admin_create_key(&self, label: &str, admin: bool, ctx: &Context) -> Result<MintedKey> {
        let (entry, key) = keys::create(self.store.as_ref(), label, admin, ctx.actor.clone())?;
        Ok(MintedKey {
            key,
            info: KeyInfo::from(&entry),
        })
    }

    pub fn admin_revoke_key(&self, id: &str, ctx: &Context) -> Result<KeyInfo> {
        Ok(KeyInfo::from(&keys::revoke(
            self.store.as_ref(),
            id,
            ctx.actor.clone(),
        )?))
    }
}

fn not_found(id: &str) -> Error {
    Error::NotFound(format!("User {} not found", quote(id)))
}

/// What every view of a group starts with.
fn group_info(record: &Record) -> GroupInfo {
    GroupInfo {
        id: record.id.clone(),
        display_name: text(&record.doc, "displayName"),
        created: record.created.clone(),
        last_modified: record.last_modified.clone(),
    }
}

impl App {
    /// Users whose `userName` or profile display name contains `q` (case-insensitive), in id
    /// order, paged like [`App::admin_users`]. Without `q`, every user. A search visits every user:
    /// fine for the few thousand accounts of a small team's directory.
    pub fn admin_search_users(&self, q: &str, start: usize, count: usize) -> Result<UserPage> {
        let q = q.trim().to_lowercase();
        if q.is_empty() {
            return self.admin_users(start, count);
        }
        let (skip, take) = (start.saturating_sub(1), count.min(MAX_PAGE));
        let (mut total, mut users) = (0usize, Vec::new());
        self.store.scan(Kind::User, &mut |record| {
            let row = summary(&record);
            let hit = [row.user_name.as_deref(), Some(row.display_name.as_str())]
                .into_iter()
                .flatten()
                .any(|v| v.to_lowercase().contains(&q));
            if hit {
                if total >= skip && users.len() < take {
                    users.push(row);
                }
                total += 1;
            }
            Ok(true)
        })?;
        Ok(UserPage {
            total,
            start_index: start,
            users,
        })
    }

    /// Groups in id order, paged (`start` is 1-based), with their member counts.
    pub fn admin_groups(&self, start: usize, count: usize) -> Result<GroupPage> {
        let total = self.store.count(Kind::Group)?;
        let groups = self
            .store
            .page(Kind::Group, start.saturating_sub(1), count.min(MAX_PAGE))?
            .iter()
            .map(|r| {
                Ok(GroupSummary {
                    group: group_info(r),
                    members: self.store.members(&r.id)?.len(),
                })
            })
            .collect::<Result<_>>()?;
        Ok(GroupPage {
            total,
            start_index: start,
            groups,
        })
    }

    /// One group: its SCIM resource, and its members with their userName and display name.
    pub fn admin_group(&self, id: &str, ctx: &Context) -> Result<GroupDetail> {
        let record = self
            .store
            .get(Kind::Group, id)?
            .ok_or_else(|| Error::NotFound(format!("Group {} not found", quote(id))))?;
        let scim = self.get(Kind::Group, id, ctx, &Default::default())?;
        let mut members = Vec::new();
        if let Some(list) = scim.body.get("members").and_then(Value::as_array) {
            for m in list {
                let value = m.get("value").and_then(Value::as_str).unwrap_or_default();
                let user = self.store.get(Kind::User, value)?;
                members.push(match user {
                    Some(u) => {
                        let s = summary(&u);
                        MemberView::User {
                            id: value.to_string(),
                            kind: Kind::User.name().to_string(),
                            user_name: s.user_name,
                            display_name: s.display_name,
                        }
                    }
                    None => MemberView::Other {
                        id: value.to_string(),
                        kind: text(m, "type"),
                        display_name: text(m, "display"),
                    },
                });
            }
        }
        Ok(GroupDetail {
            group: group_info(&record),
            members,
            scim: scim.body,
        })
    }

    /// The active admin key with this id, if any: a web session stays valid only while the key it
    /// was opened with does.
    /// A page served to the session counts as a use of its key (`lastUsed`).
    pub fn admin_session_key(&self, id: &str) -> Result<Option<ApiKey>> {
        let key = self
            .store
            .keys()?
            .into_iter()
            .find(|k| k.id == id && k.admin && k.revoked.is_none());
        if let Some(key) = &key {
            self.touch(key);
        }
        Ok(key)
    }
}
