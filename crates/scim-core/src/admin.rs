//! What the admin operations do: users with their application profiles, an administrator's
//! edit of a display name, groups with their members, revision histories, the audit feed and the
//! change feed of events. Each answers a typed view ([`crate::views`]).

use std::sync::Arc;

use scim_proto::resource::Projection;
use serde_json::Value;

use crate::error::{quote, Error, Result};
use crate::events;
use crate::model::{Action, AttributeChange, Kind, Record, Revision, TargetRef, TargetType};
use crate::query::Matcher;
use crate::render;
use crate::store::{Expect, HistoryPart, Query, Selection, StoreError, Write, WriteOp};
use crate::views::{
    AuditPage, EventPage, GroupDetail, GroupInfo, GroupPage, GroupSummary, HistoryPage, MemberView,
    UserDetail, UserPage, UserSummary,
};
use crate::{policy, retry, Context, Directory};

/// The most entries one page of a list, a history or the audit feed holds.
pub const MAX_PAGE: usize = 1000;

impl Directory {
    /// Users in id order, paged (`start` is 1-based).
    pub async fn admin_users(&self, start: usize, count: usize) -> Result<UserPage> {
        self.user_page(Selection::All, start, count).await
    }

    /// Users whose `userName` or profile display name contains `q` (any case), in id order,
    /// paged like [`Core::admin_users`]. Without `q`, every user.
    pub async fn admin_search_users(
        &self,
        q: &str,
        start: usize,
        count: usize,
    ) -> Result<UserPage> {
        if q.trim().is_empty() {
            return self.admin_users(start, count).await;
        }
        let matcher = Matcher::text(Arc::clone(&self.registry), q);
        let selection = Selection::Matching {
            matcher: Arc::new(matcher),
            probes: None,
        };
        self.user_page(selection, start, count).await
    }

    async fn user_page(
        &self,
        selection: Selection,
        start: usize,
        count: usize,
    ) -> Result<UserPage> {
        let found = self
            .store
            .query(Query {
                kind: Kind::User,
                selection,
                skip: start.saturating_sub(1),
                take: count.min(MAX_PAGE),
            })
            .await?;
        Ok(UserPage {
            total: found.total,
            start_index: start,
            users: found.records.iter().map(UserSummary::from).collect(),
        })
    }

    /// One user: its profile and status, and its SCIM resource.
    pub async fn admin_user(&self, id: &str, ctx: &Context) -> Result<UserDetail> {
        let record = self
            .store
            .get(Kind::User, id)
            .await?
            .ok_or_else(|| Error::not_found(Kind::User, id))?;
        let summary = UserSummary::from(&record);
        let scim = self
            .render(Kind::User, record, ctx, &Projection::default(), None)
            .await?
            .to_value();
        Ok(UserDetail { summary, scim })
    }

    /// An administrator changes a user's display name. The SCIM resource does not change, but
    /// its version moves, so that no concurrent SCIM change computed before it can overwrite it.
    pub async fn admin_set_display_name(
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
        retry::optimistic(|| async move {
            let old = self
                .store
                .get(Kind::User, id)
                .await?
                .ok_or_else(|| Error::not_found(Kind::User, id))?;
            let mut profile = old
                .profile
                .clone()
                .unwrap_or_else(|| policy::initial_profile(&old.doc, &self.tenant.default_role));
            if profile.display_name == name {
                return Ok(Some(UserSummary::from(&old)));
            }
            let before = std::mem::replace(&mut profile.display_name, name.to_string());
            let record = Record {
                profile: Some(profile),
                version: old.version + 1,
                ..old.clone()
            };
            let mut revision = self.revision(
                ctx,
                Action::Profile,
                Kind::User,
                id,
                vec![AttributeChange {
                    attribute: "profile.displayName".into(),
                    before: Some(Value::String(before)),
                    after: Some(Value::String(name.to_string())),
                }],
            );
            events::attach(&mut revision, Some(&record), None);
            let write = Write {
                kind: Kind::User,
                id: id.to_string(),
                expect: Expect::Version(old.version),
                op: WriteOp::Put {
                    record: record.clone(),
                    members: None,
                },
                touch: Vec::new(),
                revision,
            };
            match self.store.commit(write).await {
                Ok(_) => Ok(Some(UserSummary::from(&record))),
                Err(StoreError::Stale) => Ok(None),
                Err(e) => Err(Error::from_store(e, Kind::User, id)),
            }
        })
        .await
    }

    /// The history of a user or group, newest first, paged (`start` is 1-based). It outlives the
    /// resource: a deleted user's history stays readable.
    pub async fn history(
        &self,
        kind: Kind,
        id: &str,
        start: usize,
        count: usize,
    ) -> Result<HistoryPage> {
        let target = TargetRef {
            target_type: TargetType::from(kind),
            target_id: id.to_string(),
        };
        let HistoryPart { total, entries } = self
            .store
            .history(&target, start.saturating_sub(1), count.min(MAX_PAGE))
            .await?;
        if total == 0 && self.store.get(kind, id).await?.is_none() {
            return Err(Error::NotFound(format!(
                "no {} {} and no history of one",
                kind.name(),
                quote(id)
            )));
        }
        // The engine leaves the events out; this makes sure of it.
        let entries = entries.into_iter().map(without_event).collect();
        Ok(HistoryPage {
            total,
            start_index: start,
            entries,
        })
    }

    /// The history of a user, or else of a group, with that id: newest first, whole.
    pub async fn history_of_any(&self, id: &str) -> Result<Vec<crate::model::Revision>> {
        for target_type in [TargetType::User, TargetType::Group] {
            let target = TargetRef {
                target_type,
                target_id: id.to_string(),
            };
            let entries = self.store.revisions_of(&target).await?;
            if !entries.is_empty() {
                return Ok(entries.into_iter().rev().map(without_event).collect());
            }
        }
        Ok(Vec::new())
    }

    /// The whole feed, oldest first: entries after sequence number `after`, at most `limit`,
    /// and the `after` to ask with next.
    pub async fn audit(&self, after: u64, limit: usize) -> Result<AuditPage> {
        let entries: Vec<Revision> = self
            .store
            .revisions_without_events(after, limit.clamp(1, MAX_PAGE))
            .await?
            .into_iter()
            // The engine leaves the events out; this makes sure of it.
            .map(without_event)
            .collect();
        let next = entries.last().map_or(after, |e| e.seq);
        Ok(AuditPage { entries, next })
    }

    /// The change feed: the events of the entries after sequence number `after`, oldest first,
    /// at most `limit` (the entries read, of which those about keys have no event), and the
    /// `after` to ask with next. It reads on past entries without events until it finds one or
    /// the feed ends, so a page is empty only at the end. Gap-free as the feed is. Each event's
    /// `data` is rendered as `ctx` names the tenant's SCIM base URL.
    pub async fn events(&self, after: u64, limit: usize, ctx: &Context) -> Result<EventPage> {
        let limit = limit.clamp(1, MAX_PAGE);
        let (mut next, mut events) = (after, Vec::new());
        loop {
            let entries = self.store.revisions(next, limit).await?;
            // An engine that answered nothing new would hold this loop: the feed ends there.
            let Some(last) = entries.last().filter(|e| e.seq > next) else {
                break;
            };
            next = last.seq;
            let ended = entries.len() < limit;
            for entry in entries {
                let event = events::of_entry(&self.tenant.id, entry, |record| {
                    render::resource(
                        &self.registry,
                        record.kind.into(),
                        record,
                        None,
                        &ctx.base_url,
                        &Projection::default(),
                    )
                });
                events.extend(event);
            }
            if !events.is_empty() || ended {
                break;
            }
        }
        Ok(EventPage { events, next })
    }

    /// Groups in id order, paged (`start` is 1-based), with their member counts.
    pub async fn admin_groups(&self, start: usize, count: usize) -> Result<GroupPage> {
        let found = self
            .store
            .query(Query {
                kind: Kind::Group,
                selection: Selection::All,
                skip: start.saturating_sub(1),
                take: count.min(MAX_PAGE),
            })
            .await?;
        let mut groups = Vec::with_capacity(found.records.len());
        for r in &found.records {
            groups.push(GroupSummary {
                group: GroupInfo::from(r),
                members: self.store.members(&r.id).await?.len(),
            });
        }
        Ok(GroupPage {
            total: found.total,
            start_index: start,
            groups,
        })
    }

    /// One group: its SCIM resource, and its members with their userName and display name.
    pub async fn admin_group(&self, id: &str, ctx: &Context) -> Result<GroupDetail> {
        let record = self
            .store
            .get(Kind::Group, id)
            .await?
            .ok_or_else(|| Error::not_found(Kind::Group, id))?;
        let members_stored = self.store.members(id).await?;
        let mut members = Vec::with_capacity(members_stored.len());
        for m in &members_stored {
            let user = self.store.get(Kind::User, &m.value).await?;
            members.push(match user {
                Some(u) => {
                    let s = UserSummary::from(&u);
                    MemberView::User {
                        id: m.value.clone(),
                        kind: Kind::User.name().to_string(),
                        user_name: s.user_name,
                        display_name: s.display_name,
                    }
                }
                None => MemberView::Other {
                    id: m.value.clone(),
                    kind: Some(Kind::from(m.kind).name().to_string()),
                    display_name: m.display.clone(),
                },
            });
        }
        let group = GroupInfo::from(&record);
        let scim = self
            .render(
                Kind::Group,
                record,
                ctx,
                &Projection::default(),
                Some(members_stored.into()),
            )
            .await?
            .to_value();
        Ok(GroupDetail {
            group,
            members,
            scim,
        })
    }
}

/// An entry as the histories and the audit feed show it: its event is the change feed's.
fn without_event(mut entry: Revision) -> Revision {
    entry.event = None;
    entry
}
