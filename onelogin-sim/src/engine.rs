//! The simulator: OneLogin's memory (ids it learned, groups it pushed) and
//! the HTTP sequence each event produces.
//!
//! * Enable: filtered GET on a userName that does not exist (row 1).
//! * Assign: filtered GET, then `POST /Users` or, when the user exists,
//!   `PUT /Users/{id}?` (rows 2, 3a, 3b); then, with group provisioning on,
//!   `POST /Groups` for groups OneLogin does not know and one
//!   `PATCH /Groups/{id}?` per group (rows 10, 11).
//! * Update, suspend, unsuspend: full `PUT /Users/{id}?` (rows 4–6).
//! * Remove access / delete user: the deprovision action (rows 7, 8).
//! * Role changes: group PATCHes per rule changes (rows 11, 12).
//! * Refresh entitlements: `GET /Groups` (row 9).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};

use crate::app::{AppConfig, DeprovisionAction, SuspendAction};
use crate::directory::{Directory, Status, User};
use crate::judge::{self, id_of, lookup_outcome, LookupOutcome, Op, Verdict};
use crate::profile::{GroupDialect, PATCH_OP_URN};
use crate::report::{Entry, EntryKind};
use crate::scenario::Step;
use crate::wire::{
    ActiveUpdate, GroupCreateMembers, MemberRemove, RecordedResponse, Style, Target, Wire,
};
use crate::Error;

/// What OneLogin remembers about one user of the app.
#[derive(Debug, Clone, Default)]
struct UserState {
    /// The user has access to the app.
    assigned: bool,
    /// The SCIM id OneLogin uses in paths.
    scim_id: Option<String>,
    /// OneLogin set `active: false` in the app.
    suspended_in_app: bool,
    /// Groups OneLogin pushed the user into.
    groups: BTreeSet<String>,
}

/// Where the entries of one step go.
struct Cx<'a> {
    step: usize,
    label: String,
    out: &'a mut Vec<Entry>,
}

impl Cx<'_> {
    fn note(&mut self, verdict: Verdict, reason: impl Into<String>) {
        self.out
            .push(Entry::note(self.step, &self.label, verdict, reason));
    }
}

/// A simulated OneLogin app connected to one SCIM service provider.
#[derive(Debug, Clone)]
pub struct Simulator {
    app: AppConfig,
    template: String,
    directory: Directory,
    wire: Wire,
    users: HashMap<String, UserState>,
    groups: BTreeMap<String, String>,
    last_known: HashMap<String, String>,
}

impl Simulator {
    /// A simulator for `app` and `directory`, talking to `target`.
    pub fn new(
        app: AppConfig,
        mut directory: Directory,
        target: Target,
        timeout: Duration,
    ) -> Result<Self, Error> {
        directory.assign_ids();
        let headers = app.parsed_custom_headers().map_err(Error::Config)?;
        let wire = Wire::new(target, app.wire.clone(), &headers, timeout)?;
        Ok(Simulator {
            template: app.template_text(),
            app,
            directory,
            wire,
            users: HashMap::new(),
            groups: BTreeMap::new(),
            last_known: HashMap::new(),
        })
    }

    /// The app configuration.
    pub fn app(&self) -> &AppConfig {
        &self.app
    }

    /// The directory as it stands.
    pub fn directory(&self) -> &Directory {
        &self.directory
    }

    /// The last SCIM id OneLogin learned for a username (kept after deletion, for checks).
    pub fn scim_id(&self, username: &str) -> Option<&str> {
        self.last_known.get(username).map(String::as_str)
    }

    /// The SCIM id OneLogin knows for a group.
    pub fn group_id(&self, name: &str) -> Option<&str> {
        self.groups.get(name).map(String::as_str)
    }

    /// Applies step number `step` (1-based) and returns its transcript entries.
    pub async fn apply(&mut self, step: usize, what: &Step) -> Vec<Entry> {
        let mut out = Vec::new();
        let mut cx = Cx {
            step,
            label: what.label(),
            out: &mut out,
        };
        match what {
            Step::Enable => self.enable(&mut cx).await,
            Step::Assign { user } => self.assign(&mut cx, user).await,
            Step::Update { user, set } => self.update(&mut cx, user, set).await,
            Step::Suspend { user } => self.suspend(&mut cx, user, true).await,
            Step::Unsuspend { user } => self.suspend(&mut cx, user, false).await,
            Step::RemoveAccess { user } => self.deprovision(&mut cx, user).await,
            Step::DeleteUser { user } => self.delete_user(&mut cx, user).await,
            Step::AddRole { user, role } => self.change_role(&mut cx, user, role, true).await,
            Step::RemoveRole { user, role } => self.change_role(&mut cx, user, role, false).await,
            Step::RefreshEntitlements => self.refresh_entitlements(&mut cx).await,
            Step::Setup { method, path, body } => {
                self.setup(&mut cx, method, path, body.as_ref()).await
            }
            Step::CheckUser {
                user,
                status,
                attributes,
                absent,
            } => {
                self.check_user(&mut cx, user, *status, attributes, absent)
                    .await
            }
            Step::CheckLookup {
                user_name,
                count,
                same_id_as,
            } => {
                self.check_lookup(&mut cx, user_name, *count, same_id_as.as_deref())
                    .await
            }
            Step::CheckGroup {
                group,
                status,
                members,
            } => {
                self.check_group(&mut cx, group, *status, members.as_deref())
                    .await
            }
        }
        if let Some(user) = what.user() {
            for e in &mut out {
                e.user = Some(user.to_string());
            }
        }
        out
    }

    /// Makes sure OneLogin knows an id for each group, creating the missing
    /// ones with `POST /Groups` (as a rule producing new group values does).
    pub async fn prepare_groups(&mut self, step: usize, names: &[String]) -> Vec<Entry> {
        let mut out = Vec::new();
        let mut cx = Cx {
            step,
            label: "create groups".into(),
            out: &mut out,
        };
        for name in names {
            self.ensure_group(&mut cx, name).await;
        }
        out
    }

    // ----- plumbing -------------------------------------------------------

    /// Sends a OneLogin request, judges it, records it; returns the response
    /// when the verdict is a pass.
    async fn call(
        &self,
        cx: &mut Cx<'_>,
        op: Op,
        method: Method,
        url: &str,
        body: Option<&Value>,
    ) -> Option<RecordedResponse> {
        let exchange = self.wire.send(Style::OneLogin, method, url, body).await;
        let judgement = judge::judge(op, body, &exchange.response);
        let passed = judgement.verdict == Verdict::Pass;
        let response = exchange.response.as_ref().ok().cloned();
        cx.out.push(Entry::exchange(
            cx.step,
            &cx.label,
            EntryKind::Onelogin,
            Some(op),
            exchange,
            judgement,
        ));
        response.filter(|_| passed)
    }

    /// Sends a plain request for a check or setup; the caller judges it.
    async fn plain(
        &self,
        method: Method,
        url: &str,
        body: Option<&Value>,
    ) -> crate::wire::Exchange {
        self.wire.send(Style::Plain, method, url, body).await
    }

    fn user(&self, cx: &mut Cx<'_>, username: &str) -> Option<User> {
        let user = self.directory.user(username).cloned();
        if user.is_none() {
            cx.note(
                Verdict::Fail,
                format!("user {username:?} is not in the directory"),
            );
        }
        user
    }

    fn state(&mut self, username: &str) -> &mut UserState {
        self.users.entry(username.to_string()).or_default()
    }

    fn learn_id(&mut self, username: &str, id: String) {
        self.last_known.insert(username.to_string(), id.clone());
        self.state(username).scim_id = Some(id);
    }

    /// Renders the user body, with `active` set when given.
    fn user_body(&self, user: &User, active: Option<bool>) -> Result<Value, String> {
        let mut body = self
            .app
            .render_user(&self.template, &self.directory, user)
            .map_err(|e| e.to_string())?;
        if let (Some(active), Some(map)) = (active, body.as_object_mut()) {
            let value = match self.app.wire.active_update {
                ActiveUpdate::PutString => Value::String(active.to_string()),
                _ => Value::Bool(active),
            };
            map.insert("active".to_string(), value);
        }
        Ok(body)
    }

    /// `active` for an ordinary PUT: only with `active_in_every_put`.
    fn routine_active(&self, user: &User) -> Option<bool> {
        self.app
            .wire
            .active_in_every_put
            .then_some(user.status == Status::Active)
    }

    // ----- events ---------------------------------------------------------

    async fn enable(&mut self, cx: &mut Cx<'_>) {
        let name = self
            .app
            .wire
            .connection_test_user_name
            .clone()
            .unwrap_or_else(|| {
                format!("onelogin-connection-test-{}", uuid::Uuid::new_v4().simple())
            });
        let url = self.wire.filter_url(&name);
        self.call(cx, Op::ConnectionTest, Method::GET, &url, None)
            .await;
    }

    async fn assign(&mut self, cx: &mut Cx<'_>, username: &str) {
        let Some(user) = self.user(cx, username) else {
            return;
        };
        if self.state(username).assigned {
            cx.note(Verdict::Pass, "already has access to the app: nothing sent");
            return;
        }
        self.state(username).assigned = true;
        if self.upsert(cx, &user).await {
            self.sync_groups(cx, &user, false).await;
        }
    }

    /// Lookup, then create or link. True when the user ends up with an id.
    async fn upsert(&mut self, cx: &mut Cx<'_>, user: &User) -> bool {
        let username = user.username.as_str();
        let reactivate = self.state(username).suspended_in_app;
        let active = if reactivate {
            Some(true)
        } else {
            self.routine_active(user)
        };
        let body = match self.user_body(user, active) {
            Ok(b) => b,
            Err(e) => {
                cx.note(Verdict::Fail, e);
                return false;
            }
        };
        let user_name = body
            .get("userName")
            .and_then(Value::as_str)
            .map(str::to_string)
            .or_else(|| {
                self.app
                    .lookup(&self.directory, user, "parameters.scimusername")
            })
            .unwrap_or_default();
        let url = self.wire.filter_url(&user_name);
        let Some(found) = self.call(cx, Op::LookupUser, Method::GET, &url, None).await else {
            return false;
        };
        match lookup_outcome(&found) {
            Some(LookupOutcome::Found(id)) => {
                self.learn_id(username, id.clone());
                let url = self.wire.user_url(&id, true);
                let ok = self
                    .call(cx, Op::ReplaceUser, Method::PUT, &url, Some(&body))
                    .await
                    .is_some();
                if ok && reactivate {
                    self.state(username).suspended_in_app = false;
                }
                true
            }
            Some(LookupOutcome::NotFound) | None => {
                let url = self.wire.users_url();
                let Some(created) = self
                    .call(cx, Op::CreateUser, Method::POST, &url, Some(&body))
                    .await
                else {
                    return false;
                };
                match created.json().as_ref().and_then(id_of) {
                    Some(id) => {
                        self.learn_id(username, id);
                        self.state(username).suspended_in_app = false;
                        true
                    }
                    None => false,
                }
            }
        }
    }

    async fn update(
        &mut self,
        cx: &mut Cx<'_>,
        username: &str,
        set: &BTreeMap<String, Option<String>>,
    ) {
        let Some(user) = self.directory.user_mut(username) else {
            cx.note(
                Verdict::Fail,
                format!("user {username:?} is not in the directory"),
            );
            return;
        };
        for (field, value) in set {
            if let Err(e) = user.set(field, value.clone()) {
                cx.note(Verdict::Fail, e);
                return;
            }
        }
        let user = user.clone();
        if !self.state(username).assigned {
            cx.note(Verdict::Pass, "no access to the app: nothing sent");
            return;
        }
        self.put_user(cx, &user, self.routine_active(&user)).await;
    }

    /// Full PUT of the user. True on success.
    async fn put_user(&mut self, cx: &mut Cx<'_>, user: &User, active: Option<bool>) -> bool {
        let Some(id) = self.state(&user.username).scim_id.clone() else {
            cx.note(
                Verdict::Fail,
                "OneLogin knows no SCIM id for this user (an earlier step failed)",
            );
            return false;
        };
        let body = match self.user_body(user, active) {
            Ok(b) => b,
            Err(e) => {
                cx.note(Verdict::Fail, e);
                return false;
            }
        };
        let url = self.wire.user_url(&id, true);
        self.call(cx, Op::ReplaceUser, Method::PUT, &url, Some(&body))
            .await
            .is_some()
    }

    /// Suspend (`suspend == true`) or unsuspend in OneLogin.
    async fn suspend(&mut self, cx: &mut Cx<'_>, username: &str, suspend: bool) {
        let Some(user) = self.directory.user_mut(username) else {
            cx.note(
                Verdict::Fail,
                format!("user {username:?} is not in the directory"),
            );
            return;
        };
        user.status = if suspend {
            Status::Suspended
        } else {
            Status::Active
        };
        let user = user.clone();
        if !self.state(username).assigned {
            cx.note(Verdict::Pass, "no access to the app: nothing sent");
            return;
        }
        if self.app.provisioning.suspend_action == SuspendAction::DoNothing {
            cx.note(Verdict::Pass, "suspend action is Do nothing: nothing sent");
            return;
        }
        self.set_active(cx, &user, !suspend).await;
    }

    /// Sends `active` as the `active_update` switch says.
    async fn set_active(&mut self, cx: &mut Cx<'_>, user: &User, active: bool) {
        let ok = match self.app.wire.active_update {
            ActiveUpdate::PutBoolean | ActiveUpdate::PutString => {
                self.put_user(cx, user, Some(active)).await
            }
            ActiveUpdate::PatchReplace => {
                let Some(id) = self.state(&user.username).scim_id.clone() else {
                    cx.note(
                        Verdict::Fail,
                        "OneLogin knows no SCIM id for this user (an earlier step failed)",
                    );
                    return;
                };
                let body = json!({
                    "schemas": [PATCH_OP_URN],
                    "Operations": [{
                        "op": self.app.wire.patch_op_case.apply("replace"),
                        "path": "active",
                        "value": active,
                    }],
                });
                let url = self.wire.user_url(&id, true);
                self.call(cx, Op::PatchUser, Method::PATCH, &url, Some(&body))
                    .await
                    .is_some()
            }
        };
        if ok {
            self.state(&user.username).suspended_in_app = !active;
        }
    }

    /// Remove access: the deprovision action.
    async fn deprovision(&mut self, cx: &mut Cx<'_>, username: &str) {
        let Some(user) = self.user(cx, username) else {
            return;
        };
        if !self.state(username).assigned {
            cx.note(Verdict::Pass, "no access to the app: nothing sent");
            return;
        }
        if self.app.provisioning.groups && self.app.wire.remove_groups_on_deprovision {
            self.leave_groups(cx, &user).await;
        }
        match self.app.provisioning.deprovision_action {
            DeprovisionAction::Delete => match self.state(username).scim_id.clone() {
                Some(id) => {
                    let url = self.wire.user_url(&id, false);
                    if self
                        .call(cx, Op::DeleteUser, Method::DELETE, &url, None)
                        .await
                        .is_some()
                    {
                        let state = self.state(username);
                        state.scim_id = None;
                        state.suspended_in_app = false;
                    }
                }
                None => cx.note(
                    Verdict::Fail,
                    "OneLogin knows no SCIM id for this user (an earlier step failed)",
                ),
            },
            DeprovisionAction::Suspend => self.set_active(cx, &user, false).await,
            DeprovisionAction::DoNothing => cx.note(
                Verdict::Pass,
                "deprovision action is Do nothing: nothing sent",
            ),
        }
        let state = self.state(username);
        state.assigned = false;
        state.groups.clear();
    }

    async fn delete_user(&mut self, cx: &mut Cx<'_>, username: &str) {
        if self.directory.user(username).is_none() {
            cx.note(
                Verdict::Fail,
                format!("user {username:?} is not in the directory"),
            );
            return;
        }
        self.deprovision(cx, username).await;
        self.directory.users.retain(|u| u.username != username);
        self.users.remove(username);
    }

    async fn change_role(&mut self, cx: &mut Cx<'_>, username: &str, role: &str, add: bool) {
        let Some(user) = self.directory.user_mut(username) else {
            cx.note(
                Verdict::Fail,
                format!("user {username:?} is not in the directory"),
            );
            return;
        };
        let had = user.roles.iter().any(|r| r == role);
        if add && !had {
            user.roles.push(role.to_string());
        } else if !add {
            user.roles.retain(|r| r != role);
        }
        let user = user.clone();
        if !self.state(username).assigned {
            cx.note(Verdict::Pass, "no access to the app: nothing sent");
            return;
        }
        if !self.app.provisioning.groups {
            cx.note(Verdict::Pass, "group provisioning is off: nothing sent");
            return;
        }
        if self.app.wire.put_user_on_role_change {
            self.put_user(cx, &user, self.routine_active(&user)).await;
        }
        self.sync_groups(cx, &user, true).await;
    }

    /// Pushes the difference between the groups the rules give the user and
    /// the groups OneLogin already pushed.
    async fn sync_groups(&mut self, cx: &mut Cx<'_>, user: &User, say_if_none: bool) {
        if !self.app.provisioning.groups {
            return;
        }
        let Some(uid) = self.state(&user.username).scim_id.clone() else {
            return;
        };
        let wanted = self.directory.groups_for(user);
        let current = self.state(&user.username).groups.clone();
        let mut sent = false;
        for name in wanted.difference(&current) {
            sent = true;
            let Some(gid) = self.ensure_group(cx, name).await else {
                continue;
            };
            if self.patch_member(cx, &gid, &uid, user, true).await {
                self.state(&user.username).groups.insert(name.clone());
            }
        }
        for name in current.difference(&wanted) {
            sent = true;
            let Some(gid) = self.groups.get(name).cloned() else {
                continue;
            };
            if self.patch_member(cx, &gid, &uid, user, false).await {
                self.state(&user.username).groups.remove(name);
            }
        }
        if !sent && say_if_none {
            cx.note(
                Verdict::Pass,
                "the rules give no group change: nothing sent",
            );
        }
    }

    /// PATCHes the user out of every group OneLogin pushed it into.
    async fn leave_groups(&mut self, cx: &mut Cx<'_>, user: &User) {
        let Some(uid) = self.state(&user.username).scim_id.clone() else {
            return;
        };
        for name in self.state(&user.username).groups.clone() {
            if let Some(gid) = self.groups.get(&name).cloned() {
                if self.patch_member(cx, &gid, &uid, user, false).await {
                    self.state(&user.username).groups.remove(&name);
                }
            }
        }
    }

    /// The id of a group, creating it with `POST /Groups` when unknown.
    async fn ensure_group(&mut self, cx: &mut Cx<'_>, name: &str) -> Option<String> {
        if let Some(id) = self.groups.get(name) {
            return Some(id.clone());
        }
        let mut body = json!({
            "schemas": [self.app.profile.group_schema()],
            "displayName": name,
        });
        if self.app.wire.group_create_members == GroupCreateMembers::Empty {
            if let Some(map) = body.as_object_mut() {
                map.insert("members".into(), json!([]));
            }
        }
        let url = self.wire.groups_url();
        let created = self
            .call(cx, Op::CreateGroup, Method::POST, &url, Some(&body))
            .await?;
        let id = created.json().as_ref().and_then(id_of)?;
        self.groups.insert(name.to_string(), id.clone());
        Some(id)
    }

    /// The membership PATCH body for one user and one group.
    pub fn member_patch_body(&self, user_id: &str, display: &str, add: bool) -> Value {
        let options = &self.app.wire;
        match self.app.profile.group_dialect() {
            GroupDialect::Members11 => json!({
                "members": [{"value": user_id, "operation": if add { "add" } else { "delete" }}]
            }),
            GroupDialect::PatchOp => {
                let mut member = json!({"value": user_id});
                if options.member_display {
                    if let Some(map) = member.as_object_mut() {
                        map.insert("display".into(), Value::String(display.to_string()));
                    }
                }
                let op = if add {
                    json!({"op": options.patch_op_case.apply("add"), "path": "members", "value": [member]})
                } else {
                    match options.member_remove {
                        MemberRemove::ValueArray => json!({
                            "op": options.patch_op_case.apply("remove"),
                            "path": "members",
                            "value": [member],
                        }),
                        MemberRemove::PathFilter => json!({
                            "op": options.patch_op_case.apply("remove"),
                            "path": format!("members[value eq \"{user_id}\"]"),
                        }),
                    }
                };
                json!({"schemas": [PATCH_OP_URN], "Operations": [op]})
            }
        }
    }

    async fn patch_member(
        &mut self,
        cx: &mut Cx<'_>,
        group_id: &str,
        user_id: &str,
        user: &User,
        add: bool,
    ) -> bool {
        let body = self.member_patch_body(user_id, &user.display_name(), add);
        let url = self.wire.group_url(group_id, true);
        self.call(cx, Op::PatchGroup, Method::PATCH, &url, Some(&body))
            .await
            .is_some()
    }

    async fn refresh_entitlements(&mut self, cx: &mut Cx<'_>) {
        if !self.app.provisioning.groups {
            cx.note(
                Verdict::Pass,
                "group provisioning is off: Refresh entitlements is not offered, nothing sent",
            );
            return;
        }
        let url = self.wire.groups_url();
        if let Some(resp) = self.call(cx, Op::ListGroups, Method::GET, &url, None).await {
            for (name, id) in judge::listed_groups(&resp) {
                self.groups.insert(name, id);
            }
        }
    }

    // ----- setup and checks -----------------------------------------------

    async fn setup(&mut self, cx: &mut Cx<'_>, method: &str, path: &str, body: Option<&Value>) {
        let Ok(method) = Method::from_bytes(method.as_bytes()) else {
            cx.note(Verdict::Fail, format!("bad method {method:?}"));
            return;
        };
        let path = match self.expand_ids(path) {
            Ok(p) => p,
            Err(e) => {
                cx.note(Verdict::Fail, e);
                return;
            }
        };
        let url = format!("{}{}", self.wire.target().base_url, path);
        let exchange = self.plain(method, &url, body).await;
        let judgement = match &exchange.response {
            Ok(r) if (200..300).contains(&r.status) => {
                judge::Judgement::pass(format!("{}", r.status))
            }
            Ok(r) => judge::Judgement::fail(format!("setup request answered HTTP {}", r.status)),
            Err(e) => judge::Judgement::fail(format!("no response: {e}")),
        };
        cx.out.push(Entry::exchange(
            cx.step,
            &cx.label,
            EntryKind::Setup,
            None,
            exchange,
            judgement,
        ));
    }

    /// Replaces `{id:USERNAME}` and `{group:NAME}` in a setup path with the
    /// ids OneLogin learned.
    fn expand_ids(&self, path: &str) -> Result<String, String> {
        let mut out = String::new();
        let mut rest = path;
        while let Some(start) = rest.find('{') {
            out.push_str(&rest[..start]);
            let tail = &rest[start..];
            let end = tail
                .find('}')
                .ok_or_else(|| format!("unclosed '{{' in {path:?}"))?;
            let token = &tail[1..end];
            let id = match token.split_once(':') {
                Some(("id", user)) => self.last_known.get(user),
                Some(("group", group)) => self.groups.get(group),
                _ => return Err(format!("unknown placeholder {{{token}}} in {path:?}")),
            };
            let id = id.ok_or_else(|| format!("no id known for {{{token}}}"))?;
            out.push_str(id);
            rest = &tail[end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }

    async fn check_user(
        &mut self,
        cx: &mut Cx<'_>,
        username: &str,
        status: u16,
        attributes: &BTreeMap<String, Value>,
        absent: &[String],
    ) {
        let Some(id) = self.last_known.get(username).cloned() else {
            cx.note(
                Verdict::Fail,
                format!("OneLogin never learned a SCIM id for {username:?}"),
            );
            return;
        };
        let url = self.wire.user_url(&id, false);
        let exchange = self.plain(Method::GET, &url, None).await;
        let judgement = match &exchange.response {
            Err(e) => judge::Judgement::fail(format!("no response: {e}")),
            Ok(r) if r.status != status => {
                judge::Judgement::fail(format!("HTTP {}, expected {status}", r.status))
            }
            Ok(r) if attributes.is_empty() && absent.is_empty() => {
                judge::Judgement::pass(format!("HTTP {}", r.status))
            }
            Ok(r) => match r.json() {
                None => judge::Judgement::fail("response is not JSON"),
                Some(json) => compare_attributes(&json, attributes, absent),
            },
        };
        cx.out.push(Entry::exchange(
            cx.step,
            &cx.label,
            EntryKind::Check,
            None,
            exchange,
            judgement,
        ));
    }

    async fn check_lookup(
        &mut self,
        cx: &mut Cx<'_>,
        user_name: &str,
        count: u64,
        same_id_as: Option<&str>,
    ) {
        let url = self.wire.plain_filter_url(user_name);
        let exchange = self.plain(Method::GET, &url, None).await;
        let expected_id = same_id_as.and_then(|u| self.last_known.get(u).cloned());
        let judgement = match &exchange.response {
            Err(e) => judge::Judgement::fail(format!("no response: {e}")),
            Ok(r) if r.status != 200 => {
                judge::Judgement::fail(format!("HTTP {}, expected 200", r.status))
            }
            Ok(r) => {
                let json = r.json().unwrap_or(Value::Null);
                let total = json.get("totalResults").and_then(Value::as_u64);
                let first_id = json.pointer("/Resources/0").and_then(id_of);
                if total != Some(count) {
                    judge::Judgement::fail(format!("totalResults {total:?}, expected {count}"))
                } else if same_id_as.is_some() && (expected_id.is_none() || first_id != expected_id)
                {
                    judge::Judgement::fail(format!(
                        "match has id {first_id:?}, OneLogin knows {expected_id:?}"
                    ))
                } else {
                    judge::Judgement::pass(format!("totalResults {count}"))
                }
            }
        };
        cx.out.push(Entry::exchange(
            cx.step,
            &cx.label,
            EntryKind::Check,
            None,
            exchange,
            judgement,
        ));
    }

    async fn check_group(
        &mut self,
        cx: &mut Cx<'_>,
        group: &str,
        status: u16,
        members: Option<&[String]>,
    ) {
        let Some(gid) = self.groups.get(group).cloned() else {
            cx.note(
                Verdict::Fail,
                format!("OneLogin never learned an id for group {group:?}"),
            );
            return;
        };
        let mut expected = BTreeSet::new();
        for username in members.unwrap_or_default() {
            match self.last_known.get(username) {
                Some(id) => {
                    expected.insert(id.clone());
                }
                None => {
                    cx.note(
                        Verdict::Fail,
                        format!("OneLogin never learned a SCIM id for {username:?}"),
                    );
                    return;
                }
            }
        }
        let url = self.wire.group_url(&gid, false);
        let exchange = self.plain(Method::GET, &url, None).await;
        let judgement = match &exchange.response {
            Err(e) => judge::Judgement::fail(format!("no response: {e}")),
            Ok(r) if r.status != status => {
                judge::Judgement::fail(format!("HTTP {}, expected {status}", r.status))
            }
            Ok(r) if members.is_none() => judge::Judgement::pass(format!("HTTP {}", r.status)),
            Ok(r) => {
                let json = r.json().unwrap_or(Value::Null);
                let actual: BTreeSet<String> = json
                    .get("members")
                    .and_then(Value::as_array)
                    .map(|m| {
                        m.iter()
                            .filter_map(|v| {
                                v.get("value").and_then(Value::as_str).map(str::to_string)
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                if actual == expected {
                    judge::Judgement::pass(format!("{} member(s) as expected", actual.len()))
                } else {
                    judge::Judgement::fail(format!("members {actual:?}, expected {expected:?}"))
                }
            }
        };
        cx.out.push(Entry::exchange(
            cx.step,
            &cx.label,
            EntryKind::Check,
            None,
            exchange,
            judgement,
        ));
    }
}

/// Compares JSON-pointer expectations with a resource.
fn compare_attributes(
    json: &Value,
    attributes: &BTreeMap<String, Value>,
    absent: &[String],
) -> judge::Judgement {
    let mut problems = Vec::new();
    for (pointer, expected) in attributes {
        match json.pointer(pointer) {
            Some(actual) if actual == expected => {}
            Some(actual) => problems.push(format!("{pointer} is {actual}, expected {expected}")),
            None => problems.push(format!("{pointer} is missing, expected {expected}")),
        }
    }
    for pointer in absent {
        if json.pointer(pointer).is_some_and(|v| !v.is_null()) {
            problems.push(format!("{pointer} is present, expected absent"));
        }
    }
    if problems.is_empty() {
        judge::Judgement::pass(format!(
            "{} attribute(s) as expected",
            attributes.len() + absent.len()
        ))
    } else {
        judge::Judgement::fail(problems.join("; "))
    }
}
