//! What the admin operations answer, as typed views: the JSON admin API serialises them, the web
//! page reads their fields, the control socket and the command line pass key views along. No
//! `json!` between the core and any caller. Field names are the admin API's JSON: camelCase for
//! users and groups, snake_case for keys and revisions; times are RFC 3339.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;

use crate::events::Event;
use crate::model::{ApiKey, Record, Revision, TenantId};
use crate::policy;
pub use crate::policy::Status;

/// A user as the admin API lists it: its application profile, status and SCIM `userName`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserSummary {
    pub id: String,
    /// The SCIM `userName`; null when the resource has none.
    pub user_name: Option<String>,
    /// The profile's display name (not SCIM `displayName`).
    pub display_name: String,
    pub role: String,
    pub status: Status,
    #[serde(with = "time::serde::rfc3339")]
    pub created: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub last_modified: OffsetDateTime,
}

/// One user: its summary and its SCIM resource as SCIM returns it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserDetail {
    #[serde(flatten)]
    pub summary: UserSummary,
    pub scim: Value,
}

/// A page of users.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserPage {
    /// Users in the list (all of them, or those a search matched).
    pub total: usize,
    /// 1-based.
    pub start_index: usize,
    pub users: Vec<UserSummary>,
}

/// What every view of a group starts with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupInfo {
    pub id: String,
    /// The SCIM `displayName`; null when the resource has none.
    pub display_name: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub last_modified: OffsetDateTime,
}

/// A group in a list: its member count.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupSummary {
    #[serde(flatten)]
    pub group: GroupInfo,
    /// How many members it has.
    pub members: usize,
}

/// A page of groups.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupPage {
    pub total: usize,
    /// 1-based.
    pub start_index: usize,
    pub groups: Vec<GroupSummary>,
}

/// One group: its members and its SCIM resource.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupDetail {
    #[serde(flatten)]
    pub group: GroupInfo,
    pub members: Vec<MemberView>,
    pub scim: Value,
}

/// A member of a group: a user that exists, with its `userName` and profile display name; or
/// else what the group holds of it (a group, or a user that is gone).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum MemberView {
    #[serde(rename_all = "camelCase")]
    User {
        id: String,
        /// Always `User`.
        #[serde(rename = "type")]
        kind: String,
        /// Present (null when the user has none): what tells this variant apart.
        #[serde(deserialize_with = "Option::deserialize")]
        user_name: Option<String>,
        display_name: String,
    },
    #[serde(rename_all = "camelCase")]
    Other {
        id: String,
        /// The member's `type` as the group holds it.
        #[serde(rename = "type")]
        kind: Option<String>,
        /// The `display` the client sent.
        display_name: Option<String>,
    },
}

/// A page of a resource's history, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryPage {
    pub total: usize,
    /// 1-based.
    pub start_index: usize,
    pub entries: Vec<Revision>,
}

/// A page of the audit feed, oldest first, with the `after` to ask with next.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditPage {
    pub entries: Vec<Revision>,
    pub next: u64,
}

/// A page of the change feed, oldest first, with the `after` to ask with next (the sequence
/// number of the last entry read, which may be past the last event: entries about keys have
/// none).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventPage {
    pub events: Vec<Event>,
    pub next: u64,
}

/// What a key listing shows: never the key, nor its digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyInfo {
    pub id: String,
    pub label: String,
    pub admin: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub created: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_used: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub revoked: Option<OffsetDateTime>,
    /// The tenant it belongs to; none for the operator's admin keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<TenantId>,
}

/// A key just minted: the key itself, shown this once, and what listings show of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MintedKey {
    pub key: String,
    pub info: KeyInfo,
}

/// A webhook endpoint as listed: never its signing secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookInfo {
    pub id: String,
    pub url: String,
    /// The event type patterns it wants (`user.suspended`, `user.*`, `*`).
    pub events: Vec<String>,
    pub enabled: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub created: OffsetDateTime,
    /// Why the sender disabled it (the receiver answered `410 Gone`), if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled_because: Option<String>,
    /// Until when the secret before the last rotation still signs, if it does.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub previous_secret_until: Option<OffsetDateTime>,
}

/// An endpoint just added: what listings show of it, and its signing secret (`whsec_…`), shown
/// this once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewWebhook {
    pub webhook: WebhookInfo,
    pub secret: String,
}

impl From<&Record> for UserSummary {
    fn from(record: &Record) -> Self {
        let profile = record
            .profile
            .clone()
            .unwrap_or_else(|| policy::initial_profile(&record.doc, policy::DEFAULT_ROLE));
        UserSummary {
            id: record.id.clone(),
            user_name: text(&record.doc, "userName"),
            display_name: profile.display_name,
            role: profile.role,
            status: policy::status(&record.doc),
            created: record.created,
            last_modified: record.last_modified,
        }
    }
}

impl From<&Record> for GroupInfo {
    fn from(record: &Record) -> Self {
        GroupInfo {
            id: record.id.clone(),
            display_name: text(&record.doc, "displayName"),
            created: record.created,
            last_modified: record.last_modified,
        }
    }
}

impl From<&ApiKey> for KeyInfo {
    fn from(k: &ApiKey) -> Self {
        KeyInfo {
            id: k.id.clone(),
            label: k.label.clone(),
            admin: k.admin,
            created: k.created,
            last_used: k.last_used,
            revoked: k.revoked,
            tenant: k.feed(),
        }
    }
}

/// A string attribute of a document.
fn text(doc: &Value, name: &str) -> Option<String> {
    doc.get(name).and_then(Value::as_str).map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn at(text: &str) -> OffsetDateTime {
        OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).expect("time")
    }
    const C: &str = "2026-01-01T00:00:00Z";
    const M: &str = "2026-01-02T00:00:00Z";

    fn user() -> UserSummary {
        UserSummary {
            id: "u1".into(),
            user_name: None,
            display_name: "Ada".into(),
            role: "Everyone".into(),
            status: Status::Suspended,
            created: at(C),
            last_modified: at(M),
        }
    }

    fn group() -> GroupInfo {
        GroupInfo {
            id: "g1".into(),
            display_name: Some("Team".into()),
            created: at(C),
            last_modified: at(M),
        }
    }

    /// Serialises a view, checks its JSON text, and reads it back.
    fn round_trip<T>(view: &T, expected: Value)
    where
        T: Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
    {
        let text = serde_json::to_string(view).expect("serialise");
        assert_eq!(text, expected.to_string(), "fields, order and types");
        let back: T = serde_json::from_str(&text).expect("deserialise");
        assert_eq!(&back, view);
    }

    #[test]
    fn users_have_the_admin_api_shape() {
        let summary = json!({"id": "u1", "userName": null, "displayName": "Ada",
            "role": "Everyone", "status": "suspended", "created": C, "lastModified": M});
        round_trip(&user(), summary.clone());
        let mut detail = summary.clone();
        detail["scim"] = json!({"userName": "ada"});
        round_trip(
            &UserDetail {
                summary: user(),
                scim: json!({"userName": "ada"}),
            },
            detail,
        );
        round_trip(
            &UserPage {
                total: 3,
                start_index: 2,
                users: vec![user()],
            },
            json!({"total": 3, "startIndex": 2, "users": [summary]}),
        );
        assert_eq!(Status::Active.as_str(), "active");
        assert_eq!(json!(Status::Active), json!(Status::Active.as_str()));
    }

    #[test]
    fn a_group_list_counts_members_and_a_group_lists_them() {
        let head = json!({"id": "g1", "displayName": "Team", "created": C, "lastModified": M});
        let mut row = head.clone();
        row["members"] = json!(2);
        round_trip(
            &GroupPage {
                total: 1,
                start_index: 1,
                groups: vec![GroupSummary {
                    group: group(),
                    members: 2,
                }],
            },
            json!({"total": 1, "startIndex": 1, "groups": [row]}),
        );
        let members = vec![
            MemberView::User {
                id: "u1".into(),
                kind: "User".into(),
                user_name: None,
                display_name: "Ada".into(),
            },
            MemberView::Other {
                id: "x".into(),
                kind: Some("User".into()),
                display_name: Some("Gone".into()),
            },
            MemberView::Other {
                id: "g2".into(),
                kind: None,
                display_name: None,
            },
        ];
        let mut detail = head;
        detail["members"] = json!([
            {"id": "u1", "type": "User", "userName": null, "displayName": "Ada"},
            {"id": "x", "type": "User", "displayName": "Gone"},
            {"id": "g2", "type": null, "displayName": null},
        ]);
        detail["scim"] = json!({});
        round_trip(
            &GroupDetail {
                group: group(),
                members,
                scim: json!({}),
            },
            detail,
        );
    }

    #[test]
    fn keys_and_feeds_keep_their_snake_case_fields() {
        let info = KeyInfo {
            id: "k".into(),
            label: "okta".into(),
            admin: false,
            created: at(C),
            last_used: None,
            revoked: Some(at(M)),
            tenant: None,
        };
        let info_json = json!({"id": "k", "label": "okta", "admin": false, "created": C,
            "last_used": null, "revoked": M});
        round_trip(
            &MintedKey {
                key: "scim_x".into(),
                info,
            },
            json!({"key": "scim_x", "info": info_json}),
        );
        round_trip(
            &HistoryPage {
                total: 0,
                start_index: 1,
                entries: vec![],
            },
            json!({"total": 0, "startIndex": 1, "entries": []}),
        );
        round_trip(
            &AuditPage {
                entries: vec![],
                next: 7,
            },
            json!({"entries": [], "next": 7}),
        );
    }
}
