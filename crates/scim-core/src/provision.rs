//! Provisioning: what reading, creating, replacing, patching and deleting a user or group means.
//! Each change is computed from what was read, then committed as one [`Write`] (record, index
//! keys, memberships, revision entry with its event) if nothing moved meanwhile, else recomputed.
//! A change that changes nothing commits nothing, and `meta.version` stays.

use std::collections::HashSet;

use scim_proto::patch;
use scim_proto::resource::{self, EntityTags, Projection};
use serde_json::Value;

use crate::diff::{self, diff, Side};
use crate::error::{no_such_member, quote, Error, Result};
use crate::events;
use crate::model::{
    Action, AttributeChange, Doc, Kind, Member, Record, Revision, StoredKind, TargetRef, TargetType,
};
use crate::query::index_keys;
use crate::render::{self, with_members, MemberList};
use crate::store::{Expect, MemberChange, StoreError, Write, WriteOp};
use crate::{policy, retry, Context, Directory, Rendered};

/// How a request changes a resource: a whole new representation (PUT), or PATCH operations.
#[derive(Debug, Clone, Copy)]
pub enum Change<'b> {
    Replace(&'b Value),
    Patch(&'b Value),
}

impl Change<'_> {
    /// Whether this change takes the member path: a group PATCH made only of member adds and
    /// removals by `members[value eq "…"]` (what identity providers send for memberships), in
    /// tolerant mode. Such a PATCH never reads the group's members unless its answer shows them.
    pub fn is_member_patch(&self, kind: Kind, strict: bool) -> bool {
        match self {
            Change::Patch(body) if kind == Kind::Group && !strict => {
                patch::parse_request(body, strict).is_ok_and(|ops| member_edits(&ops).is_some())
            }
            _ => false,
        }
    }
}

impl Directory {
    pub async fn get(
        &self,
        kind: Kind,
        id: &str,
        ctx: &Context,
        projection: &Projection,
    ) -> Result<Rendered> {
        let record = self
            .store
            .get(kind, id)
            .await?
            .ok_or_else(|| Error::not_found(kind, id))?;
        self.render(kind, record, ctx, projection, None).await
    }

    pub async fn create(
        &self,
        kind: Kind,
        body: &Value,
        ctx: &Context,
        projection: &Projection,
    ) -> Result<Rendered> {
        let doc = resource::from_request(&self.registry, kind, body, self.settings.strict)?;
        let (doc, members) = self.split_members(kind, doc).await?;
        let now = self.now();
        let id = uuid::Uuid::new_v4().to_string();
        let record = Record {
            id: id.clone(),
            kind: kind.into(),
            version: 1,
            created: now,
            last_modified: now,
            index: index_keys(kind, &doc),
            profile: (kind == Kind::User)
                .then(|| policy::initial_profile(&doc, &self.tenant.default_role)),
            doc: doc.into(),
        };
        let after = with_members(&record.doc, members.as_deref());
        let mut revision = self.revision(
            ctx,
            Action::Create,
            kind,
            &id,
            diff::whole(after, Side::After),
        );
        revision.related = members.iter().flatten().map(member_ref).collect();
        let members = members.map(|added| MemberChange {
            added,
            ..MemberChange::default()
        });
        events::attach(&mut revision, Some(&record), members.as_ref());
        let write = Write {
            kind,
            id: id.clone(),
            expect: Expect::Absent,
            op: WriteOp::Put {
                record: record.clone(),
                members,
            },
            touch: Vec::new(),
            revision,
        };
        self.store.commit(write).await.map_err(|e| match e {
            StoreError::Exists => Error::Internal("id collision".into()),
            other => Error::from_store(other, kind, &id),
        })?;
        self.render(kind, record, ctx, projection, None).await
    }

    /// Replaces (PUT) or patches (PATCH) a resource.
    pub async fn change(
        &self,
        kind: Kind,
        id: &str,
        change: Change<'_>,
        if_match: Option<&EntityTags>,
        ctx: &Context,
        projection: &Projection,
    ) -> Result<Rendered> {
        let strict = self.settings.strict;
        match change {
            Change::Replace(body) => {
                let new = resource::from_request(&self.registry, kind, body, strict)?;
                let compute = |current: &Value| -> Result<Value> {
                    resource::check_immutable(&self.registry, kind, current, &new)?;
                    Ok(new.clone())
                };
                self.update(
                    kind,
                    id,
                    if_match,
                    ctx,
                    projection,
                    Action::Replace,
                    &compute,
                )
                .await
            }
            Change::Patch(body) => {
                let ops = patch::parse_request(body, strict)?;
                if kind == Kind::Group && !strict {
                    if let Some(edits) = member_edits(&ops) {
                        return self
                            .edit_members(id, &edits, if_match, ctx, projection)
                            .await;
                    }
                }
                let compute = |current: &Value| -> Result<Value> {
                    let mut doc = current.clone();
                    patch::apply(&mut doc, &ops, &self.registry, kind, strict)?;
                    resource::check_required(&self.registry, kind, &doc)?;
                    Ok(doc)
                };
                self.update(kind, id, if_match, ctx, projection, Action::Patch, &compute)
                    .await
            }
        }
    }

    /// Reads, recomputes with `change`, and commits, again when a concurrent change wins.
    #[allow(clippy::too_many_arguments)]
    async fn update(
        &self,
        kind: Kind,
        id: &str,
        if_match: Option<&EntityTags>,
        ctx: &Context,
        projection: &Projection,
        operation: Action,
        change: &(dyn Fn(&Value) -> Result<Value> + Sync),
    ) -> Result<Rendered> {
        retry::optimistic(|| async move {
            let (old, members_before) = self.current(kind, id, if_match).await?;
            let current = with_members(&old.doc, members_before.as_deref());
            let new = change(&current)?;
            if new == current {
                return self
                    .render(
                        kind,
                        old,
                        ctx,
                        projection,
                        members_before.map(MemberList::from),
                    )
                    .await
                    .map(Some);
            }
            let (doc, members_after) = self.split_members(kind, new).await?;
            let after = with_members(&doc, members_after.as_deref());
            let action = match kind {
                Kind::User => policy::action(operation, &current, &after),
                Kind::Group => operation,
            };
            let changes = diff(&current, &after);
            let members = members_before
                .as_deref()
                .map(|b| MemberChange::between(b, members_after.as_deref().unwrap_or_default()));
            self.commit_change(
                kind,
                id,
                old,
                (Doc::new(doc), members, members_after.map(MemberList::from)),
                (action, changes),
                ctx,
                projection,
            )
            .await
        })
        .await
    }

    /// A group PATCH that only adds members or removes them by `members[value eq "…"]` (what
    /// identity providers send for memberships), applied to the member list itself: the same
    /// outcome as the general engine's (added members are appended in order, a present one is
    /// not added again, an absent one's removal changes nothing; a member's kind is its `type`,
    /// else what the id names), without rendering the group's members into a document, patching
    /// it and comparing the two.
    async fn edit_members(
        &self,
        id: &str,
        edits: &[MemberEdit<'_>],
        if_match: Option<&EntityTags>,
        ctx: &Context,
        projection: &Projection,
    ) -> Result<Rendered> {
        retry::optimistic(|| async move {
            let kind = Kind::Group;
            let old = self.current_record(kind, id, if_match).await?;
            // The members are read whole only when the answer shows them.
            let members_before = if projection.omits(&self.registry, kind, "members") {
                None
            } else {
                Some(self.store.members_shared(id, old.version).await?)
            };
            // Which of the ids the edits name are members now: a lookup of each, not the list.
            let mut named: Vec<&str> = Vec::new();
            for edit in edits {
                match edit {
                    MemberEdit::Add(items) => named.extend(items.iter().map(|i| i.value)),
                    MemberEdit::Remove(value) => named.push(value),
                }
            }
            named.sort_unstable();
            named.dedup();
            let mut stored = self.store.members_among(id, &named).await?;
            stored.sort_by(|a, b| a.value.cmp(&b.value));
            // Which ids are members as the edits go, borrowed from the request.
            let mut present: HashSet<&str> = stored.iter().map(|m| m.value.as_str()).collect();
            let mut added: Vec<Member> = Vec::new();
            for edit in edits {
                match edit {
                    MemberEdit::Add(items) => {
                        for item in items {
                            if !present.insert(item.value) {
                                continue;
                            }
                            let kind = match item.kind {
                                Some(k) => k,
                                None => self.kind_of_member(item.value).await?,
                            };
                            added.push(Member {
                                value: item.value.to_string(),
                                kind,
                                display: item.display.map(str::to_string),
                            });
                        }
                    }
                    MemberEdit::Remove(value) => {
                        if present.remove(*value) {
                            added.retain(|m: &Member| m.value != *value);
                        }
                    }
                }
            }
            // The named members as the edits leave them: those that stay, then those added
            // (again) in order, as a list edited in place would have them.
            let again: HashSet<&str> = added.iter().map(|m| m.value.as_str()).collect();
            let mut named_after: Vec<Member> = stored
                .iter()
                .filter(|m| present.contains(m.value.as_str()) && !again.contains(m.value.as_str()))
                .cloned()
                .collect();
            named_after.extend(added.iter().cloned());
            let change = MemberChange::between(&stored, &named_after);
            if change.is_empty() {
                return self
                    .render(
                        kind,
                        old,
                        ctx,
                        projection,
                        members_before.map(MemberList::new),
                    )
                    .await
                    .map(Some);
            }
            // The answer's members: those that stay where they were, then those added (again),
            // the members read shared, not copied.
            let members_after = members_before.map(|before| {
                let left_out = change
                    .removed
                    .iter()
                    .map(|m| m.value.clone())
                    .chain(again.iter().map(|id| id.to_string()))
                    .collect();
                MemberList::changed(before, left_out, added.clone())
            });
            let changes = vec![members_change(&change)];
            let doc = old.doc.clone();
            self.commit_change(
                kind,
                id,
                old,
                (doc, Some(change), members_after),
                (Action::Patch, changes),
                ctx,
                projection,
            )
            .await
        })
        .await
    }

    /// What a member's id names, for a member given without `type`.
    async fn kind_of_member(&self, value: &str) -> Result<StoredKind> {
        if self.store.get(Kind::User, value).await?.is_some() {
            Ok(StoredKind::User)
        } else if self.store.get(Kind::Group, value).await?.is_some() {
            Ok(StoredKind::Group)
        } else {
            Err(Error::invalid_value(format!(
                "member {} is not an existing User or Group",
                quote(value)
            )))
        }
    }

    /// Commits a change computed from `old`: the new document, what it does to a group's
    /// members and the members it leaves (when the answer shows them), the action and the
    /// attributes changed; renders what it left (None: a concurrent change won, compute again).
    #[allow(clippy::too_many_arguments)]
    async fn commit_change(
        &self,
        kind: Kind,
        id: &str,
        old: Record,
        (doc, members, members_after): (Doc, Option<MemberChange>, Option<MemberList>),
        (action, changes): (Action, Vec<AttributeChange>),
        ctx: &Context,
        projection: &Projection,
    ) -> Result<Option<Rendered>> {
        if let Some(own) = members
            .iter()
            .flat_map(|c| &c.added)
            .find(|m| m.value == id)
        {
            return Err(Error::invalid_value(no_such_member(&own.value, own.kind)));
        }
        let now = self.now();
        let mut revision = self.revision(ctx, action, kind, id, changes);
        // The profile was set at the first sync; later SCIM changes never touch it.
        let profile = match kind {
            Kind::User => old
                .profile
                .clone()
                .or_else(|| Some(policy::initial_profile(&doc, &self.tenant.default_role))),
            Kind::Group => None,
        };
        let record = Record {
            id: id.to_string(),
            kind: kind.into(),
            version: old.version + 1,
            created: old.created,
            last_modified: now,
            index: index_keys(kind, &doc),
            profile,
            doc,
        };
        if let Some(change) = &members {
            revision.related = membership_delta(change);
        }
        events::attach(&mut revision, Some(&record), members.as_ref());
        let write = Write {
            kind,
            id: id.to_string(),
            expect: Expect::Version(old.version),
            op: WriteOp::Put {
                record: record.clone(),
                members,
            },
            touch: Vec::new(),
            revision,
        };
        match self.store.commit(write).await {
            Ok(_) => self
                .render(kind, record, ctx, projection, members_after)
                .await
                .map(Some),
            Err(StoreError::Stale) => Ok(None),
            Err(e) => Err(Error::from_store(e, kind, id)),
        }
    }

    pub async fn delete(
        &self,
        kind: Kind,
        id: &str,
        if_match: Option<&EntityTags>,
        ctx: &Context,
    ) -> Result<()> {
        retry::optimistic(|| async move {
            let (old, members) = self.current(kind, id, if_match).await?;
            let members = members.unwrap_or_default();
            // The groups it leaves: each moves to a new version, and the entry is in their history.
            let member_of = self.store.groups_of(id).await?;
            let version = old.version;
            // The document is the record's own, read for this delete: moved, not copied.
            let before = render::into_with_members(old.doc.into_value(), Some(&members));
            let mut revision = self.revision(
                ctx,
                Action::Delete,
                kind,
                id,
                diff::whole(before, Side::Before),
            );
            revision.related = member_of
                .iter()
                .map(|g| TargetRef {
                    target_type: TargetType::Group,
                    target_id: g.clone(),
                })
                .collect();
            let lost = (kind == Kind::Group).then(|| MemberChange {
                removed: members.clone(),
                ..MemberChange::default()
            });
            events::attach(&mut revision, None, lost.as_ref());
            let write = Write {
                kind,
                id: id.to_string(),
                expect: Expect::Version(version),
                touch: member_of.iter().map(|g| (Kind::Group, g.clone())).collect(),
                op: WriteOp::Delete { members, member_of },
                revision,
            };
            match self.store.commit(write).await {
                Ok(_) => Ok(Some(())),
                Err(StoreError::Stale | StoreError::Missing) => Ok(None),
                Err(e) => Err(Error::from_store(e, kind, id)),
            }
        })
        .await
    }

    /// The record a change starts from, under `If-Match`.
    async fn current_record(
        &self,
        kind: Kind,
        id: &str,
        if_match: Option<&EntityTags>,
    ) -> Result<Record> {
        let old = self
            .store
            .get(kind, id)
            .await?
            .ok_or_else(|| Error::not_found(kind, id))?;
        check_if_match(if_match, old.version)?;
        Ok(old)
    }

    /// A resource as a change starts from: its record, under `If-Match`, and a group's members.
    async fn current(
        &self,
        kind: Kind,
        id: &str,
        if_match: Option<&EntityTags>,
    ) -> Result<(Record, Option<Vec<Member>>)> {
        let old = self.current_record(kind, id, if_match).await?;
        let members = match kind {
            Kind::Group => Some(self.store.members(id).await?),
            Kind::User => None,
        };
        Ok((old, members))
    }

    /// Renders a record with its `groups` (user) or `members` (group), unless the projection
    /// leaves them out. `members` may be passed when already loaded.
    pub(crate) async fn render(
        &self,
        kind: Kind,
        record: Record,
        ctx: &Context,
        projection: &Projection,
        members: Option<MemberList>,
    ) -> Result<Rendered> {
        self.render_with(kind, record, ctx, projection, members, None)
            .await
    }

    /// [`Self::render`], with a user's groups already read (`groups`: a page's, read at once).
    pub(crate) async fn render_with(
        &self,
        kind: Kind,
        record: Record,
        ctx: &Context,
        projection: &Projection,
        members: Option<MemberList>,
        groups: Option<Vec<(String, Option<Value>)>>,
    ) -> Result<Rendered> {
        let base = &ctx.base_url;
        let related = if projection.omits(&self.registry, kind, render::related_name(kind)) {
            None
        } else {
            Some(match kind {
                Kind::User => render::Related::Groups(match groups {
                    Some(groups) => groups,
                    None => {
                        let mut groups = Vec::new();
                        for gid in self.store.groups_of(&record.id).await? {
                            let display = self.group_display(&gid).await?;
                            groups.push((gid, display));
                        }
                        groups
                    }
                }),
                Kind::Group => render::Related::Members(match members {
                    Some(m) => m,
                    None => MemberList::new(
                        self.store
                            .members_shared(&record.id, record.version)
                            .await?,
                    ),
                }),
            })
        };
        let (id, version) = (record.id.clone(), record.version);
        let body = render::resource_text(&self.registry, kind, &record, related, base, projection);
        Ok(Rendered { id, version, body })
    }

    /// A group's display name as a user's `groups` show it (none for a group that is gone).
    pub(crate) async fn group_display(&self, gid: &str) -> Result<Option<Value>> {
        Ok(self
            .store
            .get(Kind::Group, gid)
            .await?
            .and_then(|g| render::group_display(&g)))
    }

    /// Takes `members` out of a group's document and resolves each member's kind.
    async fn split_members(
        &self,
        kind: Kind,
        mut doc: Value,
    ) -> Result<(Value, Option<Vec<Member>>)> {
        if kind != Kind::Group {
            return Ok((doc, None));
        }
        let raw = doc.as_object_mut().and_then(|o| o.remove("members"));
        let mut members: Vec<Member> = Vec::new();
        let mut seen: HashSet<String> = HashSet::new();
        for item in raw.as_ref().and_then(Value::as_array).into_iter().flatten() {
            let value = item
                .get("value")
                .and_then(Value::as_str)
                .filter(|v| !v.is_empty())
                .ok_or_else(|| {
                    Error::invalid_value("every member needs a 'value' (the member's id)")
                })?;
            if !seen.insert(value.to_string()) {
                continue;
            }
            let kind = match item.get("type").and_then(Value::as_str) {
                Some(t) => member_type(t).ok_or_else(|| {
                    Error::invalid_value(format!(
                        "member type must be 'User' or 'Group', not {}",
                        quote(t)
                    ))
                })?,
                None => self.kind_of_member(value).await?,
            };
            let display = item
                .get("display")
                .and_then(Value::as_str)
                .map(str::to_string);
            members.push(Member {
                value: value.to_string(),
                kind,
                display,
            });
        }
        Ok((doc, Some(members)))
    }

    /// A revision entry of a change made now by the context's actor.
    pub(crate) fn revision(
        &self,
        ctx: &Context,
        action: Action,
        kind: impl Into<TargetType>,
        id: &str,
        changes: Vec<AttributeChange>,
    ) -> Revision {
        entry(self.now(), ctx, action, kind.into(), id, changes)
    }
}

/// A revision entry (the engine assigns its sequence number).
pub(crate) fn entry(
    time: time::OffsetDateTime,
    ctx: &Context,
    action: Action,
    target_type: TargetType,
    id: &str,
    changes: Vec<AttributeChange>,
) -> Revision {
    Revision {
        seq: 0,
        time,
        actor: ctx.actor.clone(),
        action,
        target_type,
        target_id: id.to_string(),
        changes,
        request_id: ctx.request_id.clone(),
        related: Vec::new(),
        event: None,
    }
}

/// A member's `type` (RFC 7643 §4.2: `User` or `Group`, any case) as stored.
fn member_type(t: &str) -> Option<StoredKind> {
    if t.eq_ignore_ascii_case("user") {
        Some(StoredKind::User)
    } else if t.eq_ignore_ascii_case("group") {
        Some(StoredKind::Group)
    } else {
        None
    }
}

/// A member a PATCH adds, as sent.
struct NewMember<'a> {
    value: &'a str,
    kind: Option<StoredKind>,
    display: Option<&'a str>,
}

/// One operation of a member-only group PATCH.
enum MemberEdit<'a> {
    Add(Vec<NewMember<'a>>),
    Remove(&'a str),
}

/// The operations of a PATCH as member edits, if every one is `add` to `members` of a list of
/// members (each a `value`, with an optional `type` of User or Group, `display` and `$ref`) or
/// `remove` of `members[value eq "…"]` without a value; None for anything else (the general
/// engine then applies it, with its errors).
fn member_edits(ops: &[patch::Operation]) -> Option<Vec<MemberEdit<'_>>> {
    use scim_proto::filter::{CompareOp, Filter, Literal};
    let members = |p: &scim_proto::path::AttrPath| {
        p.urn.is_none() && p.sub.is_none() && p.name.eq_ignore_ascii_case("members")
    };
    let mut edits = Vec::with_capacity(ops.len());
    for op in ops {
        let path = op.path.as_ref()?;
        if !members(&path.attr) || path.sub.is_some() {
            return None;
        }
        match (op.op, &path.filter, &op.value) {
            (patch::Op::Add, None, Some(Value::Array(items))) if !items.is_empty() => {
                let mut adds = Vec::with_capacity(items.len());
                for item in items {
                    let o = item.as_object()?;
                    if o.keys()
                        .any(|k| !matches!(k.as_str(), "value" | "type" | "display" | "$ref"))
                    {
                        return None;
                    }
                    let value = o.get("value")?.as_str().filter(|v| !v.is_empty())?;
                    let kind = match o.get("type") {
                        None => None,
                        Some(Value::String(t)) => Some(member_type(t)?),
                        Some(_) => return None,
                    };
                    let display = match o.get("display") {
                        None => None,
                        Some(Value::String(d)) => Some(d.as_str()),
                        Some(_) => return None,
                    };
                    if o.get("$ref").is_some_and(|r| !r.is_string()) {
                        return None;
                    }
                    adds.push(NewMember {
                        value,
                        kind,
                        display,
                    });
                }
                edits.push(MemberEdit::Add(adds));
            }
            (
                patch::Op::Remove,
                Some(Filter::Compare {
                    path: inner,
                    op: CompareOp::Eq,
                    value: Literal::String(value),
                }),
                None,
            ) if inner.urn.is_none()
                && inner.sub.is_none()
                && inner.name.eq_ignore_ascii_case("value") =>
            {
                edits.push(MemberEdit::Remove(value.as_str()));
            }
            _ => return None,
        }
    }
    Some(edits)
}

/// The `members` entry of a revision: the ids removed, then those added, as [`diff`] writes it.
fn members_change(change: &MemberChange) -> AttributeChange {
    let (removed, added) = (&change.removed, &change.added);
    let ids = |ms: &Vec<Member>| {
        (!ms.is_empty())
            .then(|| Value::Array(ms.iter().map(|m| Value::String(m.value.clone())).collect()))
    };
    AttributeChange {
        attribute: "members".into(),
        before: ids(removed),
        after: ids(added),
    }
}

fn member_ref(m: &Member) -> TargetRef {
    TargetRef {
        target_type: m.kind.into(),
        target_id: m.value.clone(),
    }
}

/// The members a change removes, then those it adds: the resources whose history the group's
/// entry joins.
fn membership_delta(change: &MemberChange) -> Vec<TargetRef> {
    change
        .removed
        .iter()
        .chain(&change.added)
        .map(member_ref)
        .collect()
}

/// Evaluates `If-Match` (RFC 7232 §3.1): absent, or naming the current version.
fn check_if_match(if_match: Option<&EntityTags>, version: u64) -> Result<()> {
    match if_match {
        Some(tags) if !tags.matches(version) => Err(Error::PreconditionFailed(format!(
            "the resource is at version {}",
            resource::etag(version)
        ))),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_match_uses_weak_comparison_and_star() {
        let tags = |h: &str| EntityTags::parse(h);
        assert!(check_if_match(None, 3).is_ok());
        assert!(check_if_match(Some(&tags("W/\"3\"")), 3).is_ok());
        assert!(check_if_match(Some(&tags("\"3\"")), 3).is_ok());
        assert!(check_if_match(Some(&tags("*")), 3).is_ok());
        assert!(check_if_match(Some(&tags("W/\"1\", W/\"3\"")), 3).is_ok());
        assert!(matches!(
            check_if_match(Some(&tags("W/\"2\"")), 3),
            Err(Error::PreconditionFailed(_))
        ));
    }
}
