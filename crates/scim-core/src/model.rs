//! What the core decides and the engines store: records with their index keys and profiles,
//! memberships, revision entries, API keys, and a whole store's dump. Their serialised forms are
//! the stored forms (and the export file's), so field names and encodings only ever grow.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;

pub use crate::doc::Doc;
use crate::events::EventRecord;
pub use scim_proto::schema::Kind;

/// A tenant's id: a slug (`acme`), 1 to 63 lower-case letters, digits and inner hyphens, as a
/// URL path segment and a DNS label allow. `default` is the tenant an existing store becomes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TenantId(String);

impl TenantId {
    /// The tenant that `/scim/v2` and the unscoped admin routes mean.
    pub const DEFAULT: &'static str = "default";

    pub fn default_tenant() -> Self {
        TenantId(Self::DEFAULT.to_string())
    }

    /// Validates a slug: the reason it is refused, or the id.
    pub fn parse(text: &str) -> Result<Self, String> {
        let ok_char = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-';
        if text.is_empty() || text.len() > 63 {
            return Err("a tenant id has 1 to 63 characters".into());
        }
        if !text.chars().all(ok_char) || text.starts_with('-') || text.ends_with('-') {
            return Err(
                "a tenant id has lower-case letters, digits and inner hyphens only (like acme-eu)"
                    .into(),
            );
        }
        Ok(TenantId(text.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_default(&self) -> bool {
        self.0 == Self::DEFAULT
    }
}

impl std::fmt::Display for TenantId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for TenantId {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        TenantId::parse(&s)
    }
}

impl From<TenantId> for String {
    fn from(t: TenantId) -> String {
        t.0
    }
}

/// Whether a tenant's keys work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TenantStatus {
    Active,
    Disabled,
}

/// A customer organisation: its own directory, keys, history and settings. The admin API shows
/// it as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Tenant {
    pub id: TenantId,
    /// The display name (`Acme Corp`).
    pub name: String,
    pub status: TenantStatus,
    /// The role users provisioned through SCIM get.
    pub default_role: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created: OffsetDateTime,
}

/// A stored resource: its canonical document (without `members` for groups) and its bookkeeping.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub id: String,
    pub kind: StoredKind,
    /// Incremented by every committed change; `meta.version` is `W/"<version>"`.
    pub version: u64,
    #[serde(with = "time::serde::rfc3339")]
    pub created: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub last_modified: OffsetDateTime,
    pub doc: Doc,
    /// The index entries this record owns, as the core computed them from `doc`.
    #[serde(default)]
    pub index: Vec<IndexKey>,
    /// The application's own view of a user, beside the SCIM resource (users only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<Profile>,
}

/// A user's application profile: what the product shows, set from SCIM at the first sync and
/// owned by administrators after that. Its status is not stored: it follows SCIM `active`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    pub display_name: String,
    pub role: String,
}

/// [`Kind`] as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum StoredKind {
    User,
    Group,
}

impl From<Kind> for StoredKind {
    fn from(k: Kind) -> Self {
        match k {
            Kind::User => StoredKind::User,
            Kind::Group => StoredKind::Group,
        }
    }
}

impl From<StoredKind> for Kind {
    fn from(k: StoredKind) -> Self {
        match k {
            StoredKind::User => Kind::User,
            StoredKind::Group => Kind::Group,
        }
    }
}

/// An index entry, its text already in the index's form (the core folds what is
/// case-insensitive). Unique indexes refuse a second record with the same key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum IndexKey {
    /// Folded-case `userName` (unique).
    UserName(String),
    /// `externalId` of a user, case-exact (not unique).
    UserExternalId(String),
    /// Folded-case group `displayName` (unique).
    GroupDisplayName(String),
    /// `externalId` of a group, case-exact (not unique).
    GroupExternalId(String),
}

/// Which index an [`IndexKey`] belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Index {
    UserName,
    UserExternalId,
    GroupDisplayName,
    GroupExternalId,
}

impl Index {
    pub fn is_unique(self) -> bool {
        matches!(self, Index::UserName | Index::GroupDisplayName)
    }

    /// The entry of this index for `text` (already in the index's form).
    pub fn key(self, text: String) -> IndexKey {
        match self {
            Index::UserName => IndexKey::UserName(text),
            Index::UserExternalId => IndexKey::UserExternalId(text),
            Index::GroupDisplayName => IndexKey::GroupDisplayName(text),
            Index::GroupExternalId => IndexKey::GroupExternalId(text),
        }
    }
}

impl IndexKey {
    pub fn index(&self) -> Index {
        match self {
            IndexKey::UserName(_) => Index::UserName,
            IndexKey::UserExternalId(_) => Index::UserExternalId,
            IndexKey::GroupDisplayName(_) => Index::GroupDisplayName,
            IndexKey::GroupExternalId(_) => Index::GroupExternalId,
        }
    }

    pub fn is_unique(&self) -> bool {
        self.index().is_unique()
    }

    /// The entry's text, in the index's form.
    pub fn text(&self) -> &str {
        match self {
            IndexKey::UserName(s)
            | IndexKey::UserExternalId(s)
            | IndexKey::GroupDisplayName(s)
            | IndexKey::GroupExternalId(s) => s,
        }
    }
}

/// A member of a group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    /// The member's `id`.
    pub value: String,
    pub kind: StoredKind,
    /// The `display` the client sent, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display: Option<String>,
}

/// A group's members as an engine read them, in runs that an engine may share with a copy of
/// them it keeps: a read of a large group it keeps copies no member, only the runs' handles.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SharedMembers(Vec<std::sync::Arc<Run>>);

impl SharedMembers {
    /// The members of `runs`, one run after another.
    pub fn from_runs(runs: Vec<std::sync::Arc<Run>>) -> Self {
        SharedMembers(runs)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Member> + Clone {
        self.0.iter().flat_map(|run| run.iter())
    }

    pub fn runs(&self) -> &[std::sync::Arc<Run>] {
        &self.0
    }
}

impl From<Vec<Member>> for SharedMembers {
    fn from(members: Vec<Member>) -> Self {
        SharedMembers(vec![std::sync::Arc::new(Run::new(members))])
    }
}

/// Some of a group's members, in order. A run an engine keeps ([`Run::kept`]) also keeps the
/// text of its members as an answer shows them, once rendered ([`Run::text`]), so that the
/// answers that read it copy that text instead of writing each member again; any change of the
/// run ([`Run::members_mut`]) or copy of it starts without it.
#[derive(Debug, Default)]
pub struct Run {
    members: Vec<Member>,
    /// `None`: a run read once, whose text would not be read again.
    text: Option<std::sync::OnceLock<RunText>>,
}

/// A run's members as text, under the base they were rendered for.
#[derive(Debug)]
pub struct RunText {
    pub base: Box<str>,
    pub text: Box<[u8]>,
    /// Whether the run's ids ascend, so that an id outside its first and last is not in it.
    pub ascending: bool,
}

impl Run {
    /// A run that keeps no text.
    pub fn new(members: Vec<Member>) -> Self {
        Run {
            members,
            text: None,
        }
    }

    /// A run that keeps its text once rendered.
    pub fn kept(members: Vec<Member>) -> Self {
        Run {
            members,
            text: Some(std::sync::OnceLock::new()),
        }
    }

    /// The members, to change: the run's text, if it kept one, is dropped.
    pub fn members_mut(&mut self) -> &mut Vec<Member> {
        if let Some(text) = &mut self.text {
            *text = std::sync::OnceLock::new();
        }
        &mut self.members
    }

    /// The run's text for `base`, made by `render` the first time, if the run keeps its text
    /// and the text it keeps is for `base` (it keeps the first base it is asked for).
    pub fn text(&self, base: &str, render: impl FnOnce(&[Member]) -> RunText) -> Option<&RunText> {
        let text = self.text.as_ref()?.get_or_init(|| render(&self.members));
        (*text.base == *base).then_some(text)
    }
}

impl Clone for Run {
    fn clone(&self) -> Self {
        Run {
            members: self.members.clone(),
            text: self.text.as_ref().map(|_| std::sync::OnceLock::new()),
        }
    }
}

impl PartialEq for Run {
    fn eq(&self, other: &Self) -> bool {
        self.members == other.members
    }
}

impl std::ops::Deref for Run {
    type Target = [Member];

    fn deref(&self) -> &[Member] {
        &self.members
    }
}

/// Who made a change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    /// "Scim System User" for changes made through SCIM.
    pub name: String,
    pub key_id: Option<String>,
    pub key_label: Option<String>,
}

/// One attribute that a change touched, with its values before and after (secrets never appear:
/// the canonical form holds none).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttributeChange {
    pub attribute: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<Value>,
}

/// What a change did, as the history names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Action {
    #[serde(rename = "create")]
    Create,
    #[serde(rename = "replace")]
    Replace,
    #[serde(rename = "patch")]
    Patch,
    /// A change that turned SCIM `active` to false.
    #[serde(rename = "suspend")]
    Suspend,
    /// A change that turned SCIM `active` back to true.
    #[serde(rename = "reactivate")]
    Reactivate,
    #[serde(rename = "delete")]
    Delete,
    /// An administrator's change of the application profile.
    #[serde(rename = "profile")]
    Profile,
    #[serde(rename = "key.create")]
    KeyCreate,
    #[serde(rename = "key.revoke")]
    KeyRevoke,
    #[serde(rename = "tenant.create")]
    TenantCreate,
    /// A tenant's name, status or settings changed.
    #[serde(rename = "tenant.update")]
    TenantUpdate,
    /// A tenant and all its data were deleted.
    #[serde(rename = "tenant.delete")]
    TenantDelete,
    /// A webhook endpoint was added.
    #[serde(rename = "webhook.create")]
    WebhookCreate,
    /// A webhook endpoint was enabled or disabled.
    #[serde(rename = "webhook.update")]
    WebhookUpdate,
}

impl Action {
    /// The name the history shows.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Replace => "replace",
            Action::Patch => "patch",
            Action::Suspend => "suspend",
            Action::Reactivate => "reactivate",
            Action::Delete => "delete",
            Action::Profile => "profile",
            Action::KeyCreate => "key.create",
            Action::KeyRevoke => "key.revoke",
            Action::TenantCreate => "tenant.create",
            Action::TenantUpdate => "tenant.update",
            Action::TenantDelete => "tenant.delete",
            Action::WebhookCreate => "webhook.create",
            Action::WebhookUpdate => "webhook.update",
        }
    }
}

/// What a revision entry is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TargetType {
    User,
    Group,
    ApiKey,
    Tenant,
    Webhook,
}

impl TargetType {
    pub fn as_str(self) -> &'static str {
        match self {
            TargetType::User => "User",
            TargetType::Group => "Group",
            TargetType::ApiKey => "ApiKey",
            TargetType::Tenant => "Tenant",
            TargetType::Webhook => "Webhook",
        }
    }

    /// The resource kind, for users and groups.
    pub fn kind(self) -> Option<Kind> {
        match self {
            TargetType::User => Some(Kind::User),
            TargetType::Group => Some(Kind::Group),
            TargetType::ApiKey | TargetType::Tenant | TargetType::Webhook => None,
        }
    }
}

impl From<Kind> for TargetType {
    fn from(k: Kind) -> Self {
        match k {
            Kind::User => TargetType::User,
            Kind::Group => TargetType::Group,
        }
    }
}

impl From<StoredKind> for TargetType {
    fn from(k: StoredKind) -> Self {
        TargetType::from(Kind::from(k))
    }
}

/// A resource a revision entry concerns.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TargetRef {
    pub target_type: TargetType,
    pub target_id: String,
}

/// One entry of the revision history. The engine assigns `seq` when it commits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Revision {
    #[serde(default)]
    pub seq: u64,
    #[serde(with = "time::serde::rfc3339")]
    pub time: OffsetDateTime,
    pub actor: Actor,
    pub action: Action,
    pub target_type: TargetType,
    pub target_id: String,
    #[serde(default)]
    pub changes: Vec<AttributeChange>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// Other resources the change touched (members added to or removed from a group, the groups
    /// a deleted user left): the entry belongs to their histories too.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub related: Vec<TargetRef>,
    /// The provisioning event of a change of a user or group, stored with its entry so that it
    /// commits in the change's transaction (the outbox, [`crate::events`]). Entries about keys
    /// and tenants, and those written before events existed, have none. The admin API's
    /// histories and audit feed leave it out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<EventRecord>,
}

/// A stored revision entry read without its event: the event's text is skipped as it is read,
/// never built ([`Revision::decode_without_event`]). The fields are [`Revision`]'s; building the
/// entry from them names each, so a field added there must be added here.
#[derive(Deserialize)]
struct WithoutEvent {
    #[serde(default)]
    seq: u64,
    #[serde(with = "time::serde::rfc3339")]
    time: OffsetDateTime,
    actor: Actor,
    action: Action,
    target_type: TargetType,
    target_id: String,
    #[serde(default)]
    changes: Vec<AttributeChange>,
    #[serde(default)]
    request_id: Option<String>,
    #[serde(default)]
    related: Vec<TargetRef>,
}

impl Revision {
    /// An entry from its stored JSON, without its event (`event` is `None`): what a history
    /// page shows ([`crate::store::Partition::history`]), read without decoding the record the
    /// event holds.
    pub fn decode_without_event(json: &[u8]) -> serde_json::Result<Revision> {
        let WithoutEvent {
            seq,
            time,
            actor,
            action,
            target_type,
            target_id,
            changes,
            request_id,
            related,
        } = serde_json::from_slice(json)?;
        Ok(Revision {
            seq,
            time,
            actor,
            action,
            target_type,
            target_id,
            changes,
            request_id,
            related,
            event: None,
        })
    }

    /// Every resource whose history holds this entry: its target, then the related ones.
    pub fn targets(&self) -> impl Iterator<Item = TargetRef> + '_ {
        std::iter::once(TargetRef {
            target_type: self.target_type,
            target_id: self.target_id.clone(),
        })
        .chain(self.related.iter().cloned())
    }
}

/// A stored API key. The key itself is never stored: only its SHA-256 digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKey {
    pub id: String,
    pub label: String,
    /// Lower-case hex SHA-256 of the key.
    pub digest: String,
    /// `true` for an admin key (the admin API), `false` for a SCIM key.
    #[serde(default)]
    pub admin: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub created: OffsetDateTime,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub last_used: Option<OffsetDateTime>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub revoked: Option<OffsetDateTime>,
    /// The tenant it belongs to. A SCIM key without one belongs to `default` (keys minted before
    /// tenants existed); an admin key without one is the operator's, for every tenant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<TenantId>,
}

/// What a key opens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyScope {
    /// The SCIM API of one tenant.
    Scim(TenantId),
    /// The admin API and web page of one tenant.
    TenantAdmin(TenantId),
    /// The admin API and web page of every tenant, and the tenants themselves.
    Operator,
}

impl ApiKey {
    pub fn scope(&self) -> KeyScope {
        match (self.admin, &self.tenant) {
            (false, Some(t)) => KeyScope::Scim(t.clone()),
            (false, None) => KeyScope::Scim(TenantId::default_tenant()),
            (true, Some(t)) => KeyScope::TenantAdmin(t.clone()),
            (true, None) => KeyScope::Operator,
        }
    }

    /// The tenant whose history records this key's minting and revocation (`None`: the
    /// operator's feed).
    pub fn feed(&self) -> Option<TenantId> {
        match self.scope() {
            KeyScope::Scim(t) | KeyScope::TenantAdmin(t) => Some(t),
            KeyScope::Operator => None,
        }
    }
}

/// A tenant's webhook endpoint: where its events are to be delivered, and which of them. The
/// signing secret (`whsec_…`, [`crate::webhook`]) is kept only sealed under the server's secrets
/// key ([`crate::seal`]), and after a rotation the previous one too, until its grace period
/// ends. Neither is ever listed, logged nor written to the history, and this type's `Debug`
/// leaves them out.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookEndpoint {
    pub id: String,
    /// An `https` URL (`http` only where the server allows private addresses).
    pub url: String,
    /// Event type patterns: a type (`user.suspended`), a family (`user.*`) or `*`.
    pub events: Vec<String>,
    pub enabled: bool,
    /// The signing secret, sealed.
    pub secret: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created: OffsetDateTime,
    /// The secret before the last rotation, sealed, and when it stops signing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_secret: Option<RetiredSecret>,
    /// Why the sender disabled it (a `410 Gone`), if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled_because: Option<String>,
}

/// A signing secret replaced by a rotation, still signing until `until`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetiredSecret {
    pub sealed: String,
    #[serde(with = "time::serde::rfc3339")]
    pub until: OffsetDateTime,
}

impl std::fmt::Debug for WebhookEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookEndpoint")
            .field("id", &self.id)
            .field("url", &self.url)
            .field("events", &self.events)
            .field("enabled", &self.enabled)
            .field("secret", &"…")
            .field("created", &self.created)
            .field("disabled_because", &self.disabled_because)
            .finish()
    }
}

/// A session of the admin web page, tied to the admin key it was opened with. Only the digest of
/// its id is stored (the id is the cookie's); the CSRF token its forms carry is its own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebSession {
    /// Lower-case hex SHA-256 of the session id.
    pub digest: String,
    pub key_id: String,
    pub csrf: String,
    #[serde(with = "time::serde::rfc3339")]
    pub opened: OffsetDateTime,
    /// When it was last used (kept to the minute).
    #[serde(with = "time::serde::rfc3339")]
    pub seen: OffsetDateTime,
}

/// A consistent copy of one tenant's data: its records, memberships, keys and history. Format 1
/// is also what a whole store was before tenants: it imports into `default`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Dump {
    /// 1.
    pub format: u32,
    pub users: Vec<Record>,
    pub groups: Vec<GroupDump>,
    pub keys: Vec<ApiKey>,
    pub revisions: Vec<Revision>,
    /// Its webhook endpoints, signing secrets included (a copy is as secret as the store).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub webhooks: Vec<WebhookEndpoint>,
}

/// A group and its members.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupDump {
    pub record: Record,
    pub members: Vec<Member>,
}

impl Dump {
    /// The format of one tenant's dump.
    pub const FORMAT: u32 = 1;

    /// Whether this copy may be loaded into `tenant`, for every engine alike: a format this
    /// release reads, a tenant that holds nothing yet (`tenant_is_empty`: no users, groups or
    /// history; and none of `keys`, the store's keys, is its own), and no key of the copy that
    /// the store holds already (loading it would take it from its tenant).
    pub fn may_load_into(
        &self,
        tenant: &TenantId,
        tenant_is_empty: bool,
        keys: &[ApiKey],
    ) -> Result<(), crate::store::StoreError> {
        use crate::store::StoreError;
        if self.format != Dump::FORMAT {
            return Err(StoreError::Refused(format!(
                "unknown dump format {}",
                self.format
            )));
        }
        let own_keys = keys.iter().any(|k| k.feed().as_ref() == Some(tenant));
        if !tenant_is_empty || own_keys {
            return Err(StoreError::Refused(
                "import needs an empty tenant (no users, groups, history or keys)".into(),
            ));
        }
        if let Some(held) = keys.iter().find(|k| self.keys.iter().any(|d| d.id == k.id)) {
            let owner = held
                .feed()
                .map_or_else(|| "the operator".to_string(), |t| format!("tenant '{t}'"));
            return Err(StoreError::Refused(format!(
                "this copy's key '{}' (id {}) is {owner}'s in this store already: import the copy \
                 into another store, or delete that tenant first",
                held.label, held.id
            )));
        }
        Ok(())
    }
}

/// A consistent copy of a whole store: every tenant, and the operator's keys and feed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Export {
    /// 2.
    pub format: u32,
    pub tenants: Vec<TenantDump>,
    /// The operator's keys.
    pub keys: Vec<ApiKey>,
    /// The operator's feed: tenants created, changed and deleted, operator keys.
    pub revisions: Vec<Revision>,
}

impl Export {
    pub const FORMAT: u32 = 2;

    /// Whether this copy may be loaded into a store, for every engine alike: a format this
    /// release reads, into a store that holds nothing yet (`store_is_empty`: no tenant, key or
    /// operator's feed entry).
    pub fn may_load(&self, store_is_empty: bool) -> Result<(), crate::store::StoreError> {
        use crate::store::StoreError;
        if self.format != Export::FORMAT {
            return Err(StoreError::Refused(format!(
                "unknown export format {}",
                self.format
            )));
        }
        if !store_is_empty {
            return Err(StoreError::Refused("import needs an empty store".into()));
        }
        Ok(())
    }
}

/// One tenant in a whole store's copy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TenantDump {
    pub tenant: Tenant,
    pub dump: Dump,
}

/// RFC 3339, as every time is shown (`meta.created`, histories, key listings).
pub fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// `Record` as it was before its document became a [`Doc`]: what earlier releases wrote.
    #[derive(Serialize, Deserialize)]
    struct RecordBefore {
        id: String,
        kind: StoredKind,
        version: u64,
        #[serde(with = "time::serde::rfc3339")]
        created: OffsetDateTime,
        #[serde(with = "time::serde::rfc3339")]
        last_modified: OffsetDateTime,
        doc: Value,
        #[serde(default)]
        index: Vec<IndexKey>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        profile: Option<Profile>,
    }

    #[test]
    fn records_are_stored_byte_for_byte_as_before_and_read_back_whole() {
        let doc = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "ada", "name": {"givenName": "Ada", "familyName": "Lovelace"},
            "emails": [{"value": "ada@x.test", "primary": true}], "active": true});
        let when = OffsetDateTime::from_unix_timestamp(1_800_000_000).expect("test value");
        let before = RecordBefore {
            id: "u1".into(),
            kind: StoredKind::User,
            version: 3,
            created: when,
            last_modified: when,
            doc: doc.clone(),
            index: vec![IndexKey::UserName("ada".into())],
            profile: Some(Profile {
                display_name: "Ada Lovelace".into(),
                role: "Everyone".into(),
            }),
        };
        let old_bytes = serde_json::to_vec(&before).expect("test value");
        let record = Record {
            id: "u1".into(),
            kind: StoredKind::User,
            version: 3,
            created: when,
            last_modified: when,
            doc: Doc::new(doc.clone()),
            index: vec![IndexKey::UserName("ada".into())],
            profile: before.profile.clone(),
        };
        assert_eq!(
            serde_json::to_vec(&record).expect("test value"),
            old_bytes,
            "written as before"
        );
        let read: Record = serde_json::from_slice(&old_bytes).expect("test value");
        assert_eq!(read, record, "what an earlier release wrote reads whole");
        assert_eq!(
            serde_json::to_vec(&read).expect("test value"),
            old_bytes,
            "and writes back the same"
        );
        let back: RecordBefore =
            serde_json::from_slice(&serde_json::to_vec(&read).expect("test value"))
                .expect("test value");
        assert_eq!(back.doc, doc);
    }

    #[test]
    fn a_copy_loads_only_in_a_format_it_knows_into_an_empty_store_or_tenant() {
        let export = |format| Export {
            format,
            tenants: Vec::new(),
            keys: Vec::new(),
            revisions: Vec::new(),
        };
        assert!(export(Export::FORMAT).may_load(true).is_ok());
        assert!(export(Export::FORMAT).may_load(false).is_err());
        assert!(export(Export::FORMAT + 1).may_load(true).is_err());
        let dump = |format| Dump {
            format,
            users: Vec::new(),
            groups: Vec::new(),
            keys: Vec::new(),
            revisions: Vec::new(),
            webhooks: Vec::new(),
        };
        let acme = TenantId::parse("acme").expect("id");
        assert!(dump(Dump::FORMAT).may_load_into(&acme, true, &[]).is_ok());
        assert!(dump(Dump::FORMAT).may_load_into(&acme, false, &[]).is_err());
        assert!(dump(Dump::FORMAT + 1)
            .may_load_into(&acme, true, &[])
            .is_err());
    }

    #[test]
    fn revisions_read_and_write_the_stored_form() {
        let stored = json!({"seq": 7, "time": "2026-01-02T03:04:05.123456789Z",
            "actor": {"name": "Scim System User", "key_id": "k", "key_label": "okta"},
            "action": "key.create", "target_type": "ApiKey", "target_id": "x",
            "changes": [{"attribute": "label", "after": "okta"}]});
        let r: Revision = serde_json::from_value(stored.clone()).expect("decodes");
        assert_eq!(r.action, Action::KeyCreate);
        assert_eq!(r.target_type, TargetType::ApiKey);
        assert_eq!(rfc3339(r.time), "2026-01-02T03:04:05.123456789Z");
        assert_eq!(serde_json::to_value(&r).expect("encodes"), stored);
        for a in [
            Action::Create,
            Action::Suspend,
            Action::Profile,
            Action::KeyRevoke,
        ] {
            assert_eq!(serde_json::to_value(a).expect("encodes"), json!(a.as_str()));
        }
    }

    #[test]
    fn an_entry_read_without_its_event_is_the_entry_less_its_event() {
        let when = OffsetDateTime::from_unix_timestamp(1_800_000_000).expect("time");
        let record = Record {
            id: "u1".into(),
            kind: StoredKind::User,
            version: 2,
            created: when,
            last_modified: when,
            doc: Doc::new(json!({"userName": "ada", "active": false})),
            index: vec![IndexKey::UserName("ada".into())],
            profile: None,
        };
        let mut entry = Revision {
            seq: 9,
            time: when,
            actor: Actor {
                name: "Scim System User".into(),
                key_id: Some("k".into()),
                key_label: Some("okta".into()),
            },
            action: Action::Suspend,
            target_type: TargetType::User,
            target_id: "u1".into(),
            changes: vec![AttributeChange {
                attribute: "active".into(),
                before: Some(json!(true)),
                after: Some(json!(false)),
            }],
            request_id: Some("r-1".into()),
            related: vec![TargetRef {
                target_type: TargetType::Group,
                target_id: "g1".into(),
            }],
            event: Some(crate::events::EventRecord {
                id: "evt_0123".into(),
                kind: crate::events::EventType::UserSuspended,
                record: Some(record),
                members: None,
            }),
        };
        let stored = serde_json::to_vec(&entry).expect("encodes");
        let read = Revision::decode_without_event(&stored).expect("decodes");
        assert!(read.event.is_none());
        entry.event = None;
        assert_eq!(read, entry, "every field but the event");
        // An entry without an event, and one of an earlier release without `seq`, read the same.
        let plain = serde_json::to_vec(&entry).expect("encodes");
        assert_eq!(
            Revision::decode_without_event(&plain).expect("decodes"),
            entry
        );
        assert!(Revision::decode_without_event(b"{\"seq\": 1}").is_err());
    }

    #[test]
    fn keys_keep_absent_times_absent() {
        let stored = json!({"id": "a", "label": "l", "digest": "d", "admin": false,
            "created": "2026-01-01T00:00:00Z", "last_used": null, "revoked": null});
        let k: ApiKey = serde_json::from_value(stored.clone()).expect("decodes");
        assert_eq!(k.revoked, None);
        assert_eq!(serde_json::to_value(&k).expect("encodes"), stored);
        let old: ApiKey = serde_json::from_value(
            json!({"id": "a", "label": "l", "digest": "d", "created": "2026-01-01T00:00:00Z"}),
        )
        .expect("a key written before last_used existed");
        assert!(!old.admin && old.last_used.is_none());
    }
}
