//! Provisioning events: what the product learns of each change of a user or group (`user.created`,
//! `user.suspended`, `group.updated`, …), from the change feed or, later, webhooks.
//!
//! The transactional outbox: the core derives an event when it builds a change, and the event rides
//! inside that change's revision entry ([`Revision::event`]), which every engine writes in the
//! change's own transaction and numbers in the tenant's gap-free feed. So a change without its
//! event, or an event without its change, cannot exist, and the event's cursor is its entry's
//! sequence number. What the entry holds already (time, actor, target, attribute changes, request
//! id) is not stored twice: the stored part ([`EventRecord`]) is the event's id and type, the
//! record as the change left it, and a group's membership delta; [`Event`] is the whole event as
//! the feed serves it, put together on reading.
//!
//! Entries written before events existed have none, and the feed passes over them; so does every
//! entry about keys and tenants.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;

use crate::model::{Action, AttributeChange, Record, Revision, TargetType, TenantId};
use crate::policy::{self, Status};
use crate::store::MemberChange;

/// What happened, as a Standard Webhooks `type`: full-stop delimited, resource first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EventType {
    #[serde(rename = "user.created")]
    UserCreated,
    /// A change of the SCIM resource that did not change its status.
    #[serde(rename = "user.updated")]
    UserUpdated,
    /// SCIM `active` turned from true (or absent) to false. A change of the status is named by
    /// it even when it touched other attributes too: `changes` lists them all.
    #[serde(rename = "user.suspended")]
    UserSuspended,
    /// SCIM `active` turned from false back to true.
    #[serde(rename = "user.reactivated")]
    UserReactivated,
    #[serde(rename = "user.deleted")]
    UserDeleted,
    #[serde(rename = "group.created")]
    GroupCreated,
    /// A change of the group, its members included (`members` lists who was added and removed).
    #[serde(rename = "group.updated")]
    GroupUpdated,
    #[serde(rename = "group.deleted")]
    GroupDeleted,
    /// An administrator changed a user's application profile (its display name).
    #[serde(rename = "profile.updated")]
    ProfileUpdated,
}

impl EventType {
    /// Every type, in the order the documentation lists them.
    pub const ALL: [EventType; 9] = [
        EventType::UserCreated,
        EventType::UserUpdated,
        EventType::UserSuspended,
        EventType::UserReactivated,
        EventType::UserDeleted,
        EventType::GroupCreated,
        EventType::GroupUpdated,
        EventType::GroupDeleted,
        EventType::ProfileUpdated,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::UserCreated => "user.created",
            EventType::UserUpdated => "user.updated",
            EventType::UserSuspended => "user.suspended",
            EventType::UserReactivated => "user.reactivated",
            EventType::UserDeleted => "user.deleted",
            EventType::GroupCreated => "group.created",
            EventType::GroupUpdated => "group.updated",
            EventType::GroupDeleted => "group.deleted",
            EventType::ProfileUpdated => "profile.updated",
        }
    }

    /// The event a revision entry's action on its target is, if any (keys and tenants have none).
    pub fn of(action: Action, target: TargetType) -> Option<EventType> {
        Some(match (target, action) {
            (TargetType::User, Action::Create) => EventType::UserCreated,
            (TargetType::User, Action::Replace | Action::Patch) => EventType::UserUpdated,
            (TargetType::User, Action::Suspend) => EventType::UserSuspended,
            (TargetType::User, Action::Reactivate) => EventType::UserReactivated,
            (TargetType::User, Action::Delete) => EventType::UserDeleted,
            (TargetType::User, Action::Profile) => EventType::ProfileUpdated,
            (TargetType::Group, Action::Create) => EventType::GroupCreated,
            (TargetType::Group, Action::Replace | Action::Patch) => EventType::GroupUpdated,
            (TargetType::Group, Action::Delete) => EventType::GroupDeleted,
            _ => return None,
        })
    }
}

/// A member a group gained or lost.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventMember {
    /// The member's id.
    pub value: String,
    /// `User` or `Group`.
    #[serde(rename = "type")]
    pub kind: TargetType,
}

/// The members a change added to a group and those it removed (all of them for a deletion):
/// present, if empty, on every group event.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct MemberDelta {
    #[serde(default)]
    pub added: Vec<EventMember>,
    #[serde(default)]
    pub removed: Vec<EventMember>,
}

/// The part of an event its revision entry does not hold already: stored inside the entry
/// ([`Revision::event`]), in the change's transaction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventRecord {
    /// Unique, and the same on every delivery of the event (`evt_` and 32 hex digits).
    pub id: String,
    #[serde(rename = "type")]
    pub kind: EventType,
    /// The record as the change left it; none for a deletion. A group's record holds no members:
    /// a group of thousands would store them all with every change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record: Option<Record>,
    /// A group's members added and removed by the change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub members: Option<MemberDelta>,
}

/// Who made the change: "Scim System User" with the key's label for SCIM changes, an
/// administrator's key label for theirs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventActor {
    pub name: String,
    pub key_id: Option<String>,
    pub key_label: Option<String>,
}

/// A user's application profile after the change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventProfile {
    pub display_name: String,
    pub role: String,
    pub status: Status,
}

/// An event as the change feed serves it (and a webhook will carry it): the Standard Webhooks
/// payload fields `type`, `timestamp` and `data`, with the rest of what the history shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: EventType,
    /// The entry's sequence number in its tenant's feed: the cursor to read on after it.
    pub seq: u64,
    pub tenant: TenantId,
    /// When the change was made.
    #[serde(with = "time::serde::rfc3339")]
    pub timestamp: OffsetDateTime,
    pub actor: EventActor,
    /// `User` or `Group`.
    pub resource_type: TargetType,
    pub resource_id: String,
    /// The attributes the change touched, from what to what, as the history shows them (for
    /// `members`: the ids removed, then those added).
    pub changes: Vec<AttributeChange>,
    /// A group's members added and removed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub members: Option<MemberDelta>,
    /// A user's profile after the change (none once deleted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<EventProfile>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// The SCIM resource as the change left it (never a password, which is never stored; a
    /// user's without `groups`, a group's without `members`); null once deleted.
    pub data: Option<Value>,
}

/// A fresh event id: `evt_` and 128 random bits in hex.
fn new_id() -> String {
    format!("evt_{}", uuid::Uuid::new_v4().simple())
}

/// Derives the event of a change of a user or group and puts it in its revision entry: `after` is
/// the record as the change leaves it (none for a deletion), `members` what it does to a group's
/// members (a creation adds them all, a deletion removes them all; none for a user).
/// An entry about anything else gets none.
pub fn attach(revision: &mut Revision, after: Option<&Record>, members: Option<&MemberChange>) {
    let Some(kind) = EventType::of(revision.action, revision.target_type) else {
        revision.event = None;
        return;
    };
    revision.event = Some(EventRecord {
        id: new_id(),
        kind,
        record: after.cloned(),
        members: members.map(delta),
    });
}

/// The members removed and those added, each in the order of its list.
fn delta(change: &MemberChange) -> MemberDelta {
    let member = |m: &crate::model::Member| EventMember {
        value: m.value.clone(),
        kind: m.kind.into(),
    };
    MemberDelta {
        added: change.added.iter().map(member).collect(),
        removed: change.removed.iter().map(member).collect(),
    }
}

/// The event of a revision entry of `tenant`, if it has one. `data` renders the record (as
/// the reader's SCIM base URL names it).
pub fn of_entry(
    tenant: &TenantId,
    entry: Revision,
    data: impl FnOnce(Record) -> Value,
) -> Option<Event> {
    let stored = entry.event?;
    let profile = stored
        .record
        .as_ref()
        .filter(|_| entry.target_type == TargetType::User)
        .map(|r| {
            let p = r
                .profile
                .clone()
                .unwrap_or_else(|| policy::initial_profile(&r.doc, policy::DEFAULT_ROLE));
            EventProfile {
                display_name: p.display_name,
                role: p.role,
                status: policy::status(&r.doc),
            }
        });
    Some(Event {
        id: stored.id,
        kind: stored.kind,
        seq: entry.seq,
        tenant: tenant.clone(),
        timestamp: entry.time,
        actor: EventActor {
            name: entry.actor.name,
            key_id: entry.actor.key_id,
            key_label: entry.actor.key_label,
        },
        resource_type: entry.target_type,
        resource_id: entry.target_id,
        changes: entry.changes,
        members: stored.members,
        profile,
        request_id: entry.request_id,
        data: stored.record.map(data),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Actor, Member, StoredKind};
    use serde_json::json;

    fn entry(action: Action, target: TargetType) -> Revision {
        Revision {
            seq: 0,
            time: OffsetDateTime::UNIX_EPOCH,
            actor: Actor {
                name: crate::SCIM_ACTOR.into(),
                key_id: Some("k1".into()),
                key_label: Some("onelogin".into()),
            },
            action,
            target_type: target,
            target_id: "u1".into(),
            changes: Vec::new(),
            request_id: None,
            related: Vec::new(),
            event: None,
        }
    }

    #[test]
    fn each_change_of_a_user_or_group_has_its_type_and_keys_and_tenants_none() {
        use Action::*;
        let cases = [
            (Create, TargetType::User, Some("user.created")),
            (Replace, TargetType::User, Some("user.updated")),
            (Patch, TargetType::User, Some("user.updated")),
            (Suspend, TargetType::User, Some("user.suspended")),
            (Reactivate, TargetType::User, Some("user.reactivated")),
            (Delete, TargetType::User, Some("user.deleted")),
            (Profile, TargetType::User, Some("profile.updated")),
            (Create, TargetType::Group, Some("group.created")),
            (Patch, TargetType::Group, Some("group.updated")),
            (Replace, TargetType::Group, Some("group.updated")),
            (Delete, TargetType::Group, Some("group.deleted")),
            (KeyCreate, TargetType::ApiKey, None),
            (KeyRevoke, TargetType::ApiKey, None),
            (TenantCreate, TargetType::Tenant, None),
            (TenantDelete, TargetType::Tenant, None),
        ];
        for (action, target, want) in cases {
            let got = EventType::of(action, target);
            assert_eq!(got.map(EventType::as_str), want, "{action:?} {target:?}");
            if let Some(t) = got {
                assert_eq!(serde_json::to_value(t).expect("encodes"), json!(t.as_str()));
            }
        }
        let mut key = entry(KeyCreate, TargetType::ApiKey);
        attach(&mut key, None, None);
        assert!(key.event.is_none());
    }

    #[test]
    fn a_group_event_lists_the_members_added_and_removed() {
        let m = |id: &str| Member {
            value: id.into(),
            kind: StoredKind::User,
            display: None,
        };
        let change = MemberChange::between(&[m("a"), m("b")], &[m("b"), m("c")]);
        let mut e = entry(Action::Patch, TargetType::Group);
        attach(&mut e, None, Some(&change));
        let stored = e.event.expect("an event");
        assert_eq!(stored.kind, EventType::GroupUpdated);
        assert!(stored.id.starts_with("evt_") && stored.id.len() == 36);
        assert_eq!(
            serde_json::to_value(stored.members).expect("encodes"),
            json!({"added": [{"value": "c", "type": "User"}],
                   "removed": [{"value": "a", "type": "User"}]})
        );
    }

    #[test]
    fn entries_written_before_events_read_without_one_and_the_feed_passes_them() {
        let old = json!({"seq": 3, "time": "2026-01-02T03:04:05Z",
            "actor": {"name": "Scim System User", "key_id": "k", "key_label": "okta"},
            "action": "create", "target_type": "User", "target_id": "u1"});
        let r: Revision = serde_json::from_value(old.clone()).expect("decodes");
        assert!(r.event.is_none());
        assert_eq!(
            serde_json::to_value(&r).expect("encodes"),
            json!({"seq": 3, "time": "2026-01-02T03:04:05Z",
                "actor": {"name": "Scim System User", "key_id": "k", "key_label": "okta"},
                "action": "create", "target_type": "User", "target_id": "u1", "changes": []}),
            "an entry without an event is stored as before"
        );
        assert!(of_entry(&TenantId::default_tenant(), r, |_| Value::Null).is_none());
    }

    #[test]
    fn an_event_reads_back_whole_from_its_stored_entry() {
        let record = Record {
            id: "u1".into(),
            kind: StoredKind::User,
            version: 2,
            created: OffsetDateTime::UNIX_EPOCH,
            last_modified: OffsetDateTime::UNIX_EPOCH,
            doc: json!({"userName": "ada", "active": false}).into(),
            index: Vec::new(),
            profile: Some(crate::model::Profile {
                display_name: "Ada L".into(),
                role: "Everyone".into(),
            }),
        };
        let mut e = entry(Action::Suspend, TargetType::User);
        e.seq = 9;
        e.changes = vec![AttributeChange {
            attribute: "active".into(),
            before: Some(json!(true)),
            after: Some(json!(false)),
        }];
        attach(&mut e, Some(&record), None);
        let stored: Revision =
            serde_json::from_slice(&serde_json::to_vec(&e).expect("encodes")).expect("decodes");
        assert_eq!(stored, e, "the stored form keeps the event");
        let id = stored.event.as_ref().map(|s| s.id.clone());
        let acme = TenantId::parse("acme").expect("slug");
        let event = of_entry(&acme, stored, |r| json!({"id": r.id})).expect("an event");
        assert_eq!(Some(event.id.clone()), id);
        let body = serde_json::to_value(&event).expect("encodes");
        assert_eq!(
            body,
            json!({"id": event.id, "type": "user.suspended", "seq": 9, "tenant": "acme",
                "timestamp": "1970-01-01T00:00:00Z",
                "actor": {"name": "Scim System User", "keyId": "k1", "keyLabel": "onelogin"},
                "resourceType": "User", "resourceId": "u1",
                "changes": [{"attribute": "active", "before": true, "after": false}],
                "profile": {"displayName": "Ada L", "role": "Everyone", "status": "suspended"},
                "data": {"id": "u1"}})
        );
    }
}
