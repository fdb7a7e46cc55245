//! The command line's operations on the store (keys, histories, the audit feed, export, the
//! integrity check), run through the core. sled admits one process per data folder, so the
//! commands open the store themselves when it is free, and otherwise ask the running server over
//! a Unix socket in the data folder (mode 0600: only the folder's owner can ask).

use std::io::{BufRead, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};

use scim_core::auth::{self, KeyKind};
use scim_core::model::{Dump, Export, Tenant, TenantId, TenantStatus};
use scim_core::views::MintedKey;
use scim_core::{Core, NewTenant};

pub const SOCKET: &str = "control.sock";

/// How long `webhook test` waits for a receiver when the command names no timeout.
pub const DEFAULT_WEBHOOK_TIMEOUT_SECS: u32 = 10;

/// A command for the store: tenants, keys, histories, the feeds, export, the check. A command
/// about a tenant's data names its tenant (`default` when it names none).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "kebab-case")]
pub enum Command {
    /// A key of a tenant; an admin key without a tenant is the operator's.
    KeyCreate {
        label: String,
        admin: bool,
        #[serde(default)]
        tenant: Option<String>,
    },
    /// The keys of a tenant, or every key.
    KeyList {
        #[serde(default)]
        tenant: Option<String>,
    },
    KeyRevoke {
        id: String,
    },
    /// Adds a webhook endpoint to a tenant (its signing secret is in the answer, once).
    WebhookAdd {
        url: String,
        events: Vec<String>,
        #[serde(default)]
        tenant: Option<String>,
    },
    /// A tenant's webhook endpoints (never their secrets).
    WebhookList {
        #[serde(default)]
        tenant: Option<String>,
    },
    /// Enables or disables a tenant's webhook endpoint.
    WebhookStatus {
        id: String,
        enabled: bool,
        #[serde(default)]
        tenant: Option<String>,
    },
    /// Gives a tenant's webhook endpoint a new signing secret (in the answer, once); the one it
    /// had still signs beside it for `grace_hours` (24 when none is given; 0 to 168).
    WebhookRotateSecret {
        id: String,
        #[serde(default)]
        grace_hours: Option<u32>,
        #[serde(default)]
        tenant: Option<String>,
    },
    /// Sends a signed test message (`webhook.test`) to a tenant's endpoint now, waiting at most
    /// `timeout_secs` (10 when none is given) for its answer, with the address rules of the core
    /// that runs the command (`webhook_allow_private`): how its receiver answered.
    WebhookTest {
        id: String,
        #[serde(default)]
        timeout_secs: Option<u32>,
        #[serde(default)]
        tenant: Option<String>,
    },
    /// A user's (or group's) revision history, newest first.
    History {
        id: String,
        #[serde(default)]
        tenant: Option<String>,
    },
    /// A tenant's revision feed after a sequence number, oldest first; with `operator`, the
    /// operator's feed.
    Audit {
        after: u64,
        limit: usize,
        #[serde(default)]
        tenant: Option<String>,
        #[serde(default)]
        operator: bool,
    },
    /// A consistent copy of one tenant, or of the whole store, written to a file (an absolute
    /// path).
    Export {
        path: PathBuf,
        #[serde(default)]
        tenant: Option<String>,
    },
    /// Check that records, indexes, memberships and history agree.
    Check,
    TenantCreate {
        id: String,
        name: String,
        #[serde(default)]
        default_role: Option<String>,
    },
    TenantList,
    /// Enable or disable a tenant.
    TenantStatus {
        id: String,
        enabled: bool,
    },
    /// Delete a disabled tenant with all its data.
    TenantDelete {
        id: String,
        confirm: bool,
    },
}

/// What a copy holds, counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DumpSummary {
    pub tenants: usize,
    pub users: usize,
    pub groups: usize,
    pub memberships: usize,
    pub keys: usize,
    pub revisions: usize,
}

impl From<&Dump> for DumpSummary {
    fn from(dump: &Dump) -> Self {
        DumpSummary {
            tenants: 1,
            users: dump.users.len(),
            groups: dump.groups.len(),
            memberships: dump.groups.iter().map(|g| g.members.len()).sum(),
            keys: dump.keys.len(),
            revisions: dump.revisions.len(),
        }
    }
}

impl From<&Export> for DumpSummary {
    fn from(export: &Export) -> Self {
        let mut sum = DumpSummary {
            keys: export.keys.len(),
            revisions: export.revisions.len(),
            ..DumpSummary::default()
        };
        for t in &export.tenants {
            let one = DumpSummary::from(&t.dump);
            sum.tenants += 1;
            sum.users += one.users;
            sum.groups += one.groups;
            sum.memberships += one.memberships;
            sum.keys += one.keys;
            sum.revisions += one.revisions;
        }
        sum
    }
}

/// A tenant just created: its SCIM base path and first key (shown once).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CreatedTenant {
    pub tenant: Tenant,
    /// Its SCIM base URL, as the server that created it is reached.
    pub scim_base_url: String,
    pub key: MintedKey,
}

fn json(v: &impl Serialize) -> Result<Value, String> {
    serde_json::to_value(v).map_err(|e| e.to_string())
}

/// A tenant id from the command line (`default` when none is given).
pub fn tenant_id(text: Option<&str>) -> Result<TenantId, String> {
    match text {
        None => Ok(TenantId::default_tenant()),
        Some(t) => TenantId::parse(t),
    }
}

/// Where a server is reached, for the SCIM base URLs a command prints: its public URL, or its
/// listening address.
#[derive(Debug, Clone)]
pub struct Reach {
    pub origin: String,
    pub base_path: String,
}

/// Runs a command through the core; the answer is the typed result, serialised.
pub async fn execute(core: &Core, reach: &Reach, command: &Command) -> Result<Value, String> {
    let text = |e: scim_core::Error| e.to_string();
    match command {
        Command::KeyCreate {
            label,
            admin,
            tenant,
        } => {
            let kind = if *admin {
                KeyKind::Admin
            } else {
                KeyKind::Scim
            };
            // An admin key without a tenant is the operator's; a SCIM key belongs to one.
            let tenant = match (admin, tenant) {
                (true, None) => None,
                (_, t) => Some(tenant_id(t.as_deref())?),
            };
            let (info, key) = core
                .mint_key(label, kind, tenant.as_ref(), auth::operator())
                .await
                .map_err(text)?;
            json(&MintedKey { key, info })
        }
        Command::KeyList { tenant } => {
            let tenant = tenant.as_deref().map(|t| tenant_id(Some(t))).transpose()?;
            json(&core.keys(tenant.as_ref()).await.map_err(text)?)
        }
        Command::KeyRevoke { id } => json(
            &core
                .revoke_key(id, None, auth::operator())
                .await
                .map_err(text)?,
        ),
        Command::WebhookAdd {
            url,
            events,
            tenant,
        } => json(
            &core
                .add_webhook(
                    &tenant_id(tenant.as_deref())?,
                    url,
                    events,
                    auth::operator(),
                )
                .await
                .map_err(text)?,
        ),
        Command::WebhookList { tenant } => json(
            &core
                .webhooks(&tenant_id(tenant.as_deref())?)
                .await
                .map_err(text)?,
        ),
        Command::WebhookStatus {
            id,
            enabled,
            tenant,
        } => json(
            &core
                .set_webhook_enabled(
                    &tenant_id(tenant.as_deref())?,
                    id,
                    *enabled,
                    auth::operator(),
                )
                .await
                .map_err(text)?,
        ),
        Command::WebhookRotateSecret {
            id,
            grace_hours,
            tenant,
        } => {
            let grace = grace_hours.map_or(scim_core::endpoints::DEFAULT_GRACE, |h| {
                time::Duration::hours(h.into())
            });
            json(
                &core
                    .rotate_webhook_secret(
                        &tenant_id(tenant.as_deref())?,
                        id,
                        grace,
                        auth::operator(),
                    )
                    .await
                    .map_err(text)?,
            )
        }
        Command::WebhookTest {
            id,
            timeout_secs,
            tenant,
        } => {
            let timeout = timeout_secs.unwrap_or(DEFAULT_WEBHOOK_TIMEOUT_SECS).max(1);
            let sender = crate::webhooks::HttpSender::new(
                std::time::Duration::from_secs(timeout.into()),
                core.settings().webhook_allow_private,
            )?;
            json(
                &core
                    .test_webhook(&tenant_id(tenant.as_deref())?, id, &sender)
                    .await
                    .map_err(text)?,
            )
        }
        Command::History { id, tenant } => {
            let dir = core
                .directory(&tenant_id(tenant.as_deref())?)
                .await
                .map_err(text)?;
            json(&dir.history_of_any(id).await.map_err(text)?)
        }
        Command::Audit {
            after,
            limit,
            tenant,
            operator,
        } => {
            if *operator {
                return json(
                    &core
                        .operator_audit(*after, *limit)
                        .await
                        .map_err(text)?
                        .entries,
                );
            }
            let dir = core
                .directory(&tenant_id(tenant.as_deref())?)
                .await
                .map_err(text)?;
            let mut entries = dir
                .partition()
                .revisions(*after, *limit)
                .await
                .map_err(|e| e.to_string())?;
            // As the admin API's audit feed: events are the change feed's.
            for e in &mut entries {
                e.event = None;
            }
            json(&entries)
        }
        Command::Export { path, tenant } => json(&export(core, path, tenant.as_deref()).await?),
        Command::Check => json(&core.check().await.map_err(text)?),
        Command::TenantCreate {
            id,
            name,
            default_role,
        } => {
            let new = NewTenant {
                id: TenantId::parse(id)?,
                name: name.clone(),
                default_role: default_role.clone(),
            };
            let (tenant, info, key) = core
                .create_tenant(new, auth::operator())
                .await
                .map_err(text)?;
            json(&CreatedTenant {
                scim_base_url: crate::http::tenancy::scim_base(
                    &reach.origin,
                    &tenant.id,
                    &reach.base_path,
                ),
                tenant,
                key: MintedKey { key, info },
            })
        }
        Command::TenantList => json(&core.tenants().await.map_err(text)?),
        Command::TenantStatus { id, enabled } => {
            let status = if *enabled {
                TenantStatus::Active
            } else {
                TenantStatus::Disabled
            };
            let tenant = core
                .update_tenant(
                    &TenantId::parse(id)?,
                    None,
                    None,
                    Some(status),
                    auth::operator(),
                )
                .await
                .map_err(text)?;
            json(&tenant)
        }
        Command::TenantDelete { id, confirm } => {
            core.delete_tenant(&TenantId::parse(id)?, *confirm, auth::operator())
                .await
                .map_err(text)?;
            Ok(Value::Null)
        }
    }
}

/// Writes a consistent copy of one tenant (`tenant`), or of the whole store, to `path`
/// (through a temporary file, fsynced, renamed), and says what it holds.
pub async fn export(core: &Core, path: &Path, tenant: Option<&str>) -> Result<DumpSummary, String> {
    let (bytes, summary) = match tenant {
        Some(t) => {
            let dir = core
                .directory(&TenantId::parse(t)?)
                .await
                .map_err(|e| e.to_string())?;
            let dump = dir.partition().export().await.map_err(|e| e.to_string())?;
            (serde_json::to_vec(&dump), DumpSummary::from(&dump))
        }
        None => {
            let all = core.store().export().await.map_err(|e| e.to_string())?;
            (serde_json::to_vec(&all), DumpSummary::from(&all))
        }
    };
    let bytes = bytes.map_err(|e| e.to_string())?;
    let tmp = path.with_extension("partial");
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    };
    write().map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(summary)
}

/// Loads a copy: a whole store's (format 2) into an empty store, or one tenant's (format 1,
/// which is also what a whole store was before tenants) into `tenant` (`default` when none is
/// given; created when missing), which must be empty. Then checks every invariant.
pub async fn import(core: &Core, path: &Path, tenant: Option<&str>) -> Result<DumpSummary, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let format = serde_json::from_slice::<FormatOnly>(&bytes)
        .map_err(|e| format!("{} is not a copy of a store: {e}", path.display()))?
        .format;
    let refused = |e: scim_core::store::StoreError| scim_core::Error::from(e).to_string();
    let summary = if format == Export::FORMAT {
        if tenant.is_some() {
            return Err("this is a copy of a whole store: import it without --tenant".into());
        }
        let all: Export = serde_json::from_slice(&bytes)
            .map_err(|e| format!("{} is not a copy of a store: {e}", path.display()))?;
        let summary = DumpSummary::from(&all);
        core.store().import(all).await.map_err(refused)?;
        summary
    } else {
        let dump: Dump = serde_json::from_slice(&bytes)
            .map_err(|e| format!("{} is not a copy of a tenant: {e}", path.display()))?;
        let id = tenant_id(tenant)?;
        let mut made = false;
        let dir = match core.directory(&id).await {
            Ok(d) => d,
            Err(scim_core::Error::NotFound(_)) if id.is_default() => {
                core.ensure_default_tenant()
                    .await
                    .map_err(|e| e.to_string())?;
                core.directory(&id).await.map_err(|e| e.to_string())?
            }
            Err(scim_core::Error::NotFound(_)) => {
                let new = NewTenant {
                    id: id.clone(),
                    name: id.to_string(),
                    default_role: None,
                };
                core.create_tenant_without_key(new, auth::operator())
                    .await
                    .map_err(|e| e.to_string())?;
                made = true;
                core.directory(&id).await.map_err(|e| e.to_string())?
            }
            Err(e) => return Err(e.to_string()),
        };
        let summary = DumpSummary::from(&dump);
        if let Err(e) = dir.partition().import(dump).await {
            // A tenant made for this import and left empty is taken away again.
            if made {
                let disabled = Some(TenantStatus::Disabled);
                let _ = core
                    .update_tenant(&id, None, None, disabled, auth::operator())
                    .await;
                let _ = core.delete_tenant(&id, true, auth::operator()).await;
            }
            return Err(refused(e));
        }
        summary
    };
    let problems = core.check().await.map_err(|e| e.to_string())?;
    if !problems.is_empty() {
        return Err(format!(
            "the imported store is inconsistent: {}",
            problems.join("; ")
        ));
    }
    Ok(summary)
}

/// The one field every copy has.
#[derive(Deserialize)]
struct FormatOnly {
    format: u32,
}

pub fn socket_path(data_dir: &Path) -> PathBuf {
    data_dir.join(SOCKET)
}

/// The server's answer on the socket: `{"ok": ANSWER}` or `{"error": "why"}`. An answer may be
/// null (`tenant delete` answers nothing), which is not the same as no answer.
#[derive(Debug, Serialize, Deserialize)]
struct Reply {
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    ok: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

/// A field that is there, null or not.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

impl Reply {
    /// What a reply line says: the answer, or the server's error.
    fn parse(line: &str) -> Result<Value, String> {
        let reply: Reply =
            serde_json::from_str(line).map_err(|e| format!("bad answer from the server: {e}"))?;
        match (reply.ok, reply.error) {
            (_, Some(e)) => Err(e),
            (Some(v), None) => Ok(v),
            (None, None) => Err("empty answer from the server".into()),
        }
    }
}

/// Sends a command to the server running on `data_dir`.
pub fn request(data_dir: &Path, command: &Command) -> Result<Value, String> {
    let path = socket_path(data_dir);
    let mut stream = std::os::unix::net::UnixStream::connect(&path).map_err(|e| {
        format!(
            "the data folder is in use, but the server's control socket {} does not answer: {e}",
            path.display()
        )
    })?;
    let mut line = serde_json::to_string(command).map_err(|e| e.to_string())?;
    line.push('\n');
    stream
        .write_all(line.as_bytes())
        .map_err(|e| e.to_string())?;
    let mut answer = String::new();
    BufReader::new(stream)
        .read_line(&mut answer)
        .map_err(|e| e.to_string())?;
    Reply::parse(&answer)
}

/// Serves commands on the socket until `stop` resolves, then removes the socket.
pub async fn serve(
    data_dir: PathBuf,
    core: Arc<Core>,
    reach: Reach,
    stop: rocket::Shutdown,
) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    let path = socket_path(&data_dir);
    let _ = std::fs::remove_file(&path);
    let listener = tokio::net::UnixListener::bind(&path)
        .map_err(|e| format!("cannot open the control socket {}: {e}", path.display()))?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| e.to_string())?;
    tokio::pin!(stop);
    loop {
        tokio::select! {
            _ = &mut stop => break,
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let (core, reach) = (Arc::clone(&core), reach.clone());
                tokio::spawn(async move {
                    let (read, mut write) = stream.into_split();
                    let mut line = String::new();
                    let mut reader = tokio::io::BufReader::new(read).take(64 * 1024);
                    if reader.read_line(&mut line).await.is_err() {
                        return;
                    }
                    let reply = match serde_json::from_str::<Command>(&line) {
                        Ok(command) => {
                            match execute(&core, &reach, &command).await {
                                Ok(v) => Reply { ok: Some(v), error: None },
                                Err(e) => Reply { ok: None, error: Some(e) },
                            }
                        }
                        Err(e) => Reply { ok: None, error: Some(format!("unknown command: {e}")) },
                    };
                    if let Ok(mut text) = serde_json::to_string(&reply) {
                        text.push('\n');
                        let _ = write.write_all(text.as_bytes()).await;
                    }
                });
            }
        }
    }
    let _ = std::fs::remove_file(&path);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(reply: &Reply) -> Result<Value, String> {
        Reply::parse(&serde_json::to_string(reply).expect("serialises"))
    }

    #[test]
    fn a_null_answer_is_an_answer_and_an_error_is_an_error() {
        let null = Reply {
            ok: Some(Value::Null),
            error: None,
        };
        assert_eq!(round_trip(&null), Ok(Value::Null));
        let answer = Reply {
            ok: Some(serde_json::json!({"id": "acme"})),
            error: None,
        };
        assert_eq!(round_trip(&answer), Ok(serde_json::json!({"id": "acme"})));
        let error = Reply {
            ok: None,
            error: Some("no tenant 'acme'".into()),
        };
        assert_eq!(round_trip(&error), Err("no tenant 'acme'".into()));
        // What servers before this one sent: both fields, the absent one null.
        assert_eq!(
            Reply::parse(r#"{"ok":null,"error":"no tenant 'acme'"}"#),
            Err("no tenant 'acme'".into())
        );
        assert_eq!(
            Reply::parse("{}"),
            Err("empty answer from the server".into())
        );
    }
}
