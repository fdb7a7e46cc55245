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
use scim_core::model::Dump;
use scim_core::views::MintedKey;
use scim_core::Core;

pub const SOCKET: &str = "control.sock";

/// A command for the store: keys, histories, export.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "kebab-case")]
pub enum Command {
    KeyCreate {
        label: String,
        admin: bool,
    },
    KeyList,
    KeyRevoke {
        id: String,
    },
    /// A user's (or group's) revision history, newest first.
    History {
        id: String,
    },
    /// The revision feed after a sequence number, oldest first.
    Audit {
        after: u64,
        limit: usize,
    },
    /// A consistent copy of the store, written to a file (an absolute path).
    Export {
        path: PathBuf,
    },
    /// Check that records, indexes, memberships and history agree.
    Check,
}

/// What a dump holds, counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DumpSummary {
    pub users: usize,
    pub groups: usize,
    pub memberships: usize,
    pub keys: usize,
    pub revisions: usize,
}

impl From<&Dump> for DumpSummary {
    fn from(dump: &Dump) -> Self {
        DumpSummary {
            users: dump.users.len(),
            groups: dump.groups.len(),
            memberships: dump.groups.iter().map(|g| g.members.len()).sum(),
            keys: dump.keys.len(),
            revisions: dump.revisions.len(),
        }
    }
}

fn json(v: &impl Serialize) -> Result<Value, String> {
    serde_json::to_value(v).map_err(|e| e.to_string())
}

/// Runs a command through the core; the answer is the typed result, serialised.
pub async fn execute(core: &Core, command: &Command) -> Result<Value, String> {
    let text = |e: scim_core::Error| e.to_string();
    match command {
        Command::KeyCreate { label, admin } => {
            let kind = if *admin {
                KeyKind::Admin
            } else {
                KeyKind::Scim
            };
            let (info, key) = core
                .mint_key(label, kind, auth::operator())
                .await
                .map_err(text)?;
            json(&MintedKey { key, info })
        }
        Command::KeyList => json(&core.keys().await.map_err(text)?),
        Command::KeyRevoke { id } => {
            json(&core.revoke_key(id, auth::operator()).await.map_err(text)?)
        }
        Command::History { id } => json(&core.history_of_any(id).await.map_err(text)?),
        Command::Audit { after, limit } => {
            let entries = core
                .store()
                .revisions(*after, *limit)
                .await
                .map_err(|e| e.to_string())?;
            json(&entries)
        }
        Command::Export { path } => json(&export(core, path).await?),
        Command::Check => json(&core.check().await.map_err(text)?),
    }
}

/// Writes a consistent copy of the store to `path` (through a temporary file, fsynced, renamed),
/// and says what it holds.
pub async fn export(core: &Core, path: &Path) -> Result<DumpSummary, String> {
    let dump = core.store().export().await.map_err(|e| e.to_string())?;
    let bytes = serde_json::to_vec(&dump).map_err(|e| e.to_string())?;
    let tmp = path.with_extension("partial");
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    };
    write().map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(DumpSummary::from(&dump))
}

/// Loads a dump file into an empty store, then checks every invariant.
pub async fn import(core: &Core, path: &Path) -> Result<DumpSummary, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let dump: Dump = serde_json::from_slice(&bytes)
        .map_err(|e| format!("{} is not a dump: {e}", path.display()))?;
    let summary = DumpSummary::from(&dump);
    core.store()
        .import(dump)
        .await
        .map_err(|e| scim_core::Error::from(e).to_string())?;
    let problems = core.check().await.map_err(|e| e.to_string())?;
    if !problems.is_empty() {
        return Err(format!(
            "the imported store is inconsistent: {}",
            problems.join("; ")
        ));
    }
    Ok(summary)
}

pub fn socket_path(data_dir: &Path) -> PathBuf {
    data_dir.join(SOCKET)
}

#[derive(Serialize, Deserialize)]
struct Reply {
    ok: Option<Value>,
    error: Option<String>,
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
    let reply: Reply =
        serde_json::from_str(&answer).map_err(|e| format!("bad answer from the server: {e}"))?;
    match (reply.ok, reply.error) {
        (Some(v), _) => Ok(v),
        (None, Some(e)) => Err(e),
        (None, None) => Err("empty answer from the server".into()),
    }
}

/// Serves commands on the socket until `stop` resolves, then removes the socket.
pub async fn serve(
    data_dir: PathBuf,
    core: Arc<Core>,
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
                let core = Arc::clone(&core);
                tokio::spawn(async move {
                    let (read, mut write) = stream.into_split();
                    let mut line = String::new();
                    let mut reader = tokio::io::BufReader::new(read).take(64 * 1024);
                    if reader.read_line(&mut line).await.is_err() {
                        return;
                    }
                    let reply = match serde_json::from_str::<Command>(&line) {
                        Ok(command) => {
                            match execute(&core, &command).await {
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
