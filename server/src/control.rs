//! Key management while the server runs. sled admits one process per data folder, so the
//! `key` commands open the store themselves when it is free, and otherwise ask the running
//! server over a Unix socket in the data folder (mode 0600: only the folder's owner can ask).

use std::io::{BufRead, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};

use crate::keys;
use crate::store::{Dump, Store};
use crate::views::{KeyInfo, MintedKey};

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

/// Runs a command against a store.
pub fn execute(store: &dyn Store, command: &Command) -> Result<Value, String> {
    let json = |v: serde_json::Result<Value>| v.map_err(|e| e.to_string());
    match command {
        Command::KeyCreate { label, admin } => {
            let (entry, key) =
                keys::create(store, label, *admin, keys::operator()).map_err(|e| e.to_string())?;
            let info = KeyInfo::from(&entry);
            json(serde_json::to_value(MintedKey { key, info }))
        }
        Command::KeyList => {
            let list: Vec<KeyInfo> = store
                .keys()
                .map_err(|e| e.to_string())?
                .iter()
                .map(KeyInfo::from)
                .collect();
            json(serde_json::to_value(list))
        }
        Command::KeyRevoke { id } => {
            let entry = keys::revoke(store, id, keys::operator()).map_err(|e| e.to_string())?;
            json(serde_json::to_value(KeyInfo::from(&entry)))
        }
        Command::History { id } => {
            let mut entries = store.revisions_of("User", id).map_err(|e| e.to_string())?;
            if entries.is_empty() {
                entries = store.revisions_of("Group", id).map_err(|e| e.to_string())?;
            }
            entries.reverse();
            json(serde_json::to_value(entries))
        }
        Command::Audit { after, limit } => {
            let entries = store.revisions(*after, *limit).map_err(|e| e.to_string())?;
            json(serde_json::to_value(entries))
        }
        Command::Export { path } => export(store, path),
        Command::Check => json(serde_json::to_value(
            store.check().map_err(|e| e.to_string())?,
        )),
    }
}

/// Writes a consistent copy of the store to `path` (through a temporary file, fsynced, renamed),
/// and says what it holds.
pub fn export(store: &dyn Store, path: &Path) -> Result<Value, String> {
    let dump = store.export().map_err(|e| e.to_string())?;
    let bytes = serde_json::to_vec(&dump).map_err(|e| e.to_string())?;
    let tmp = path.with_extension("partial");
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    };
    write().map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(summary(&dump))
}

/// Counts of what a dump holds.
pub fn summary(dump: &Dump) -> Value {
    serde_json::json!({
        "users": dump.users.len(),
        "groups": dump.groups.len(),
        "memberships": dump.groups.iter().map(|g| g.members.len()).sum::<usize>(),
        "keys": dump.keys.len(),
        "revisions": dump.revisions.len(),
    })
}

/// Loads a dump file into an empty store, then checks every invariant.
pub fn import(store: &dyn Store, path: &Path) -> Result<Value, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let dump: Dump = serde_json::from_slice(&bytes)
        .map_err(|e| format!("{} is not a dump: {e}", path.display()))?;
    store.import(&dump).map_err(|e| e.to_string())?;
    let problems = store.check().map_err(|e| e.to_string())?;
    if !problems.is_empty() {
        return Err(format!(
            "the imported store is inconsistent: {}",
            problems.join("; ")
        ));
    }
    Ok(summary(&dump))
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
    store: Arc<dyn Store>,
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
                let store = Arc::clone(&store);
                tokio::spawn(async move {
                    let (read, mut write) = stream.into_split();
                    let mut line = String::new();
                    let mut reader = tokio::io::BufReader::new(read).take(64 * 1024);
                    if reader.read_line(&mut line).await.is_err() {
                        return;
                    }
                    let reply = match serde_json::from_str::<Command>(&line) {
                        Ok(command) => {
                            let outcome = tokio::task::spawn_blocking(move || execute(store.as_ref(), &command)).await;
                            match outcome {
                                Ok(Ok(v)) => Reply { ok: Some(v), error: None },
                                Ok(Err(e)) => Reply { ok: None, error: Some(e) },
                                Err(e) => Reply { ok: None, error: Some(e.to_string()) },
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
