//! Our server as a child process, for every task that runs it (`conformance`, `browser`, `crash`,
//! `bench`): built with cargo, started with `scim-server serve --listen 127.0.0.1:0 --ready-file
//! FILE`, and ready when FILE appears (the server writes it whole once it listens: its JSON gives
//! the SCIM base URL, the admin page's URL and the key minted at this start; the human-readable
//! lines on stdout are for people and are not read). Each start appends the server's stderr (its
//! log) to `server.log` in the folder it is given; a start that times out, or whose server exits
//! first, reports the end of that log. Stopped with SIGTERM (exit 0 expected: it flushes its
//! store on the way out) or killed with SIGKILL; a server still running when its handle is
//! dropped is killed.
//!
//! Its store is sled in its data folder, or ([`Storage::Postgres`], `--store postgres`) a database
//! of a throwaway PostgreSQL cluster that the task starts with `pg-cluster` ([`Postgres`]), passed
//! as `SCIM_STORE=postgres SCIM_DATABASE_URL=…`; the data folder then holds the control socket
//! only. The server's command line ([`Launch::command`]) gets the same settings, so that `tenant
//! create` or `check` reach the same store (through the control socket with sled, where the
//! running server holds the folder; on the database directly with PostgreSQL).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Builds a binary of the workspace with cargo (`--release` or the debug profile) and returns
/// its path, from cargo's JSON messages.
pub fn cargo_build(package: &str, bin: &str, release: bool) -> Result<PathBuf, String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut args = vec![
        "build",
        "--package",
        package,
        "--bin",
        bin,
        "--message-format=json-render-diagnostics",
    ];
    if release {
        args.push("--release");
    }
    eprintln!("== cargo {}", args.join(" "));
    let out = Command::new(cargo)
        .args(&args)
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cargo build: {e}"))?;
    if !out.status.success() {
        return Err(format!("cargo build of {bin} failed"));
    }
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == bin)
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
        .ok_or_else(|| format!("cargo build did not report the {bin} executable"))
}

/// Builds `scim-server` and returns the path of the binary.
pub fn build(release: bool) -> Result<PathBuf, String> {
    cargo_build("server", "scim-server", release)
}

/// The storage engine of the servers a task starts (`--store`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Engine {
    /// sled in the server's data folder.
    #[default]
    Sled,
    /// A database of a throwaway PostgreSQL cluster started for the task.
    Postgres,
}

impl Engine {
    pub fn name(self) -> &'static str {
        match self {
            Engine::Sled => "sled",
            Engine::Postgres => "postgres",
        }
    }
}

/// A throwaway PostgreSQL cluster for a task's servers (`pg-cluster`: Debian's `initdb` and
/// `pg_ctl`, a Unix socket in a temporary folder, run as `postgres` when root), stopped and
/// removed when the last [`Storage`] on it is dropped. Durability is the database's own and stays
/// on: `fsync` and `synchronous_commit` are set `on` (their defaults) explicitly, so that no
/// setting of the machine's turns them off.
pub struct Postgres {
    cluster: pg_cluster::Cluster,
}

/// The settings of every cluster a task starts: room for several servers' pools (16 connections
/// each by default), and durable commits.
pub const CLUSTER_SETTINGS: [(&str, &str); 3] = [
    ("max_connections", "200"),
    ("fsync", "on"),
    ("synchronous_commit", "on"),
];

impl Postgres {
    /// Starts a cluster; it accepts connections when this returns.
    pub fn start() -> Result<Arc<Postgres>, String> {
        let t0 = Instant::now();
        let cluster = pg_cluster::Cluster::start_with(&pg_cluster::Options {
            settings: CLUSTER_SETTINGS
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            tcp: false,
        })
        .map_err(|e| format!("starting a PostgreSQL cluster: {e}"))?;
        eprintln!(
            "== PostgreSQL cluster on {} (started in {:.1} s)",
            cluster.socket_dir().display(),
            t0.elapsed().as_secs_f64()
        );
        Ok(Arc::new(Postgres { cluster }))
    }

    /// Creates the database `name` and returns the storage of servers on it.
    pub fn database(self: &Arc<Self>, name: &str) -> Result<Storage, String> {
        self.cluster.create_database(name)?;
        Ok(Storage::Postgres {
            url: self.url(name),
            cluster: Arc::clone(self),
        })
    }

    /// The connection URL of database `name` (over the socket, as the `postgres` superuser).
    pub fn url(&self, name: &str) -> String {
        self.cluster.url(name)
    }

    /// The process id of the cluster's postmaster (the first line of its socket's lock file),
    /// the parent of every other process of the cluster.
    pub fn postmaster_pid(&self) -> Option<u32> {
        let lock = self
            .cluster
            .socket_dir()
            .join(format!(".s.PGSQL.{}.lock", self.cluster.port()));
        std::fs::read_to_string(lock)
            .ok()?
            .lines()
            .next()?
            .trim()
            .parse()
            .ok()
    }

    /// The last `n` lines of the cluster's log.
    pub fn log_tail(&self, n: usize) -> String {
        let log = self.cluster.log();
        let mut tail: Vec<&str> = log.lines().rev().take(n).collect();
        tail.reverse();
        format!("the PostgreSQL log ends:\n{}", tail.join("\n"))
    }

    /// Runs `psql` on database `db` as the `postgres` superuser over the socket: what `sql`
    /// prints, unaligned and without headers.
    pub fn psql(&self, db: &str, sql: &str) -> Result<String, String> {
        let psql = pg_cluster::binaries()?.join("psql");
        let out = Command::new(&psql)
            .arg("-h")
            .arg(self.cluster.socket_dir())
            .args(["-p", &self.cluster.port().to_string(), "-U", "postgres"])
            .args([
                "-d",
                db,
                "-X",
                "-A",
                "-t",
                "-v",
                "ON_ERROR_STOP=1",
                "-c",
                sql,
            ])
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("{}: {e}", psql.display()))?;
        if !out.status.success() {
            return Err(format!(
                "psql {sql}: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    }
}

/// Where a started server keeps its data.
#[derive(Clone, Default)]
pub enum Storage {
    /// sled in the server's data folder.
    #[default]
    Sled,
    /// A PostgreSQL database (the cluster kept running while this is held).
    Postgres { url: String, cluster: Arc<Postgres> },
}

impl std::fmt::Debug for Storage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Storage::Sled => f.write_str("Sled"),
            Storage::Postgres { url, .. } => write!(f, "Postgres({url})"),
        }
    }
}

impl Storage {
    pub fn engine(&self) -> Engine {
        match self {
            Storage::Sled => Engine::Sled,
            Storage::Postgres { .. } => Engine::Postgres,
        }
    }

    /// The variables that select it.
    fn env(&self) -> Vec<(String, String)> {
        match self {
            Storage::Sled => vec![("SCIM_STORE".into(), "sled".into())],
            Storage::Postgres { url, .. } => vec![
                ("SCIM_STORE".into(), "postgres".into()),
                ("SCIM_DATABASE_URL".into(), url.clone()),
            ],
        }
    }

    /// The same database, with a setting of the server's sessions on it (`options=-c NAME=VALUE`
    /// in the connection URL), such as `synchronous_commit=off` for a loader whose durability
    /// does not matter. Sled is left as it is.
    pub fn with_session_setting(&self, name: &str, value: &str) -> Storage {
        match self {
            Storage::Sled => Storage::Sled,
            Storage::Postgres { url, cluster } => Storage::Postgres {
                url: with_option(url, name, value),
                cluster: Arc::clone(cluster),
            },
        }
    }

    /// The cluster, with PostgreSQL.
    pub fn cluster(&self) -> Option<&Arc<Postgres>> {
        match self {
            Storage::Sled => None,
            Storage::Postgres { cluster, .. } => Some(cluster),
        }
    }
}

/// `url` with `-c NAME=VALUE` added to its `options` parameter (percent-encoded).
fn with_option(url: &str, name: &str, value: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}options=-c%20{name}%3D{value}")
}

/// Whose settings a started server gets, besides those the task sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settings {
    /// None of the caller's: its `SCIM_*` variables are not passed on, and the server runs in
    /// the task's folder, so that no `scim-server.toml` of the caller's folder is read.
    Clean,
    /// The caller's `SCIM_*` variables and current folder (`SCIM_DURABILITY=periodic cargo xtask
    /// crash` tests the periodic flush).
    Caller,
}

/// How to start the server.
#[derive(Debug, Clone)]
pub struct Launch {
    pub bin: PathBuf,
    /// Holds `server.log` (stderr of every start, appended) and `ready.json`; the server's
    /// current folder with [`Settings::Clean`].
    pub dir: PathBuf,
    pub data_dir: PathBuf,
    /// sled in `data_dir`, or a PostgreSQL database.
    pub storage: Storage,
    /// Variables set for the server, after the caller's are handled as `settings` says.
    pub env: Vec<(String, String)>,
    pub settings: Settings,
    /// Run it under `taskset -c CORE`.
    pub core: Option<usize>,
    /// How long it may take from the spawn to the ready file.
    pub within: Duration,
}

impl Launch {
    /// A clean start of `bin` on `data_dir`, logging into `dir`, given 60 s to be ready.
    pub fn new(bin: &Path, dir: &Path, data_dir: &Path) -> Launch {
        Launch {
            bin: bin.to_path_buf(),
            dir: dir.to_path_buf(),
            data_dir: data_dir.to_path_buf(),
            storage: Storage::Sled,
            env: Vec::new(),
            settings: Settings::Clean,
            core: None,
            within: Duration::from_secs(60),
        }
    }

    /// Adds variables to set for the server.
    pub fn with_env(mut self, env: &[(&str, &str)]) -> Launch {
        self.env
            .extend(env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        self
    }

    /// On `storage`.
    pub fn with_storage(mut self, storage: Storage) -> Launch {
        self.storage = storage;
        self
    }

    /// The environment changes of a start: a variable to set, or (None) one to remove. The
    /// storage's variables come before the task's, and always win over the caller's.
    fn environment(&self, caller: impl Iterator<Item = String>) -> Vec<(String, Option<String>)> {
        let mut out: Vec<(String, Option<String>)> = match self.settings {
            Settings::Clean => caller
                .filter(|k| k.starts_with("SCIM_"))
                .map(|k| (k, None))
                .collect(),
            Settings::Caller => Vec::new(),
        };
        out.extend(self.storage.env().into_iter().map(|(k, v)| (k, Some(v))));
        out.extend(self.env.iter().map(|(k, v)| (k.clone(), Some(v.clone()))));
        out
    }

    /// `scim-server --data-dir DATA` with the settings of a start (the same store), to which the
    /// caller adds a command: with sled it goes through the running server's control socket; with
    /// PostgreSQL it opens the database itself. With [`Settings::Clean`] it runs in `dir`.
    pub fn command(&self) -> Result<Command, String> {
        let abs = |p: &Path| std::path::absolute(p).map_err(|e| format!("{}: {e}", p.display()));
        let mut cmd = Command::new(abs(&self.bin)?);
        cmd.arg("--data-dir").arg(abs(&self.data_dir)?);
        if self.settings == Settings::Clean {
            cmd.current_dir(abs(&self.dir)?);
        }
        for (k, v) in self.environment(std::env::vars().map(|(k, _)| k)) {
            match v {
                Some(v) => cmd.env(k, v),
                None => cmd.env_remove(k),
            };
        }
        Ok(cmd)
    }

    /// Spawns the server, without waiting for it (a stale ready file is removed first).
    pub fn spawn(&self) -> Result<Starting, String> {
        // Absolute paths: with `Settings::Clean` the server runs in another folder.
        let abs = |p: &Path| std::path::absolute(p).map_err(|e| format!("{}: {e}", p.display()));
        let (bin, dir, data_dir) = (abs(&self.bin)?, abs(&self.dir)?, abs(&self.data_dir)?);
        let ready_file = dir.join("ready.json");
        match std::fs::remove_file(&ready_file) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(format!("{}: {e}", ready_file.display())),
        }
        let log = dir.join("server.log");
        let log_file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .map_err(|e| format!("{}: {e}", log.display()))?;
        let mut cmd = match self.core {
            Some(core) => {
                let mut c = Command::new("taskset");
                c.arg("-c").arg(core.to_string()).arg(&bin);
                c
            }
            None => Command::new(&bin),
        };
        cmd.args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(&data_dir)
            .arg("--ready-file")
            .arg(&ready_file)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log_file));
        if self.settings == Settings::Clean {
            cmd.current_dir(&dir);
        }
        for (k, v) in self.environment(std::env::vars().map(|(k, _)| k)) {
            match v {
                Some(v) => cmd.env(k, v),
                None => cmd.env_remove(k),
            };
        }
        let spawned = Instant::now();
        let child = cmd.spawn().map_err(|e| format!("{}: {e}", bin.display()))?;
        Ok(Starting {
            proc: Proc(child),
            ready_file,
            log,
            spawned,
            within: self.within,
        })
    }

    /// Spawns the server and waits until it is ready.
    pub fn start(&self) -> Result<Server, String> {
        self.spawn()?.ready()
    }
}

/// A child process, killed with SIGKILL if it still runs when dropped.
struct Proc(Child);

impl Proc {
    fn kill(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The last `n` lines of a log file, after a line that says where it is.
pub fn log_tail(log: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let mut tail: Vec<&str> = text.lines().rev().take(n).collect();
    tail.reverse();
    format!(
        "the server log ({}) ends:\n{}",
        log.display(),
        tail.join("\n")
    )
}

/// A server spawned but not yet known to be ready.
pub struct Starting {
    proc: Proc,
    ready_file: PathBuf,
    log: PathBuf,
    spawned: Instant,
    within: Duration,
}

impl Starting {
    /// Waits for the ready file; an error (with the end of the log) when the server exits first
    /// or is not ready in time, in which case it is killed.
    pub fn ready(mut self) -> Result<Server, String> {
        let deadline = self.spawned + self.within;
        loop {
            match std::fs::read_to_string(&self.ready_file) {
                Ok(text) => {
                    let ready = parse_ready(&text).map_err(|e| self.failed(&e))?;
                    return Ok(Server {
                        pid: self.proc.0.id(),
                        proc: self.proc,
                        base: ready.scim_base_url,
                        admin_url: ready.admin_url,
                        minted_key: ready.api_key,
                        minted_admin_key: ready.admin_key,
                        log: self.log,
                        spawned: self.spawned,
                    });
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(self.failed(&format!("{}: {e}", self.ready_file.display()))),
            }
            match self.proc.0.try_wait() {
                Ok(Some(status)) => {
                    return Err(self.failed(&format!(
                        "the server exited with {status} before it was ready"
                    )))
                }
                Ok(None) if Instant::now() > deadline => {
                    return Err(self.failed(&format!(
                        "the server wrote no ready file within {} s",
                        self.within.as_secs_f64()
                    )))
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(2)),
                Err(e) => return Err(self.failed(&format!("waiting for the server: {e}"))),
            }
        }
    }

    /// Kills the server (SIGKILL), ready or not.
    pub fn kill(mut self) {
        self.proc.kill();
    }

    fn failed(&mut self, what: &str) -> String {
        self.proc.kill();
        format!("{what}; {}", log_tail(&self.log, 30))
    }
}

/// What the ready file says (the server's `Ready`, read as plain JSON: xtask treats the server
/// as a black box).
#[derive(Debug, PartialEq)]
struct Ready {
    scim_base_url: String,
    admin_url: String,
    api_key: Option<String>,
    admin_key: Option<String>,
}

fn parse_ready(text: &str) -> Result<Ready, String> {
    let v: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("the ready file is not JSON: {e}"))?;
    let field = |name: &str| {
        v[name]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| format!("the ready file has no {name}: {v}"))
    };
    let api_key = match &v["api_key"] {
        serde_json::Value::Null => None,
        serde_json::Value::String(k) => Some(k.clone()),
        other => return Err(format!("the ready file's api_key is {other}")),
    };
    Ok(Ready {
        scim_base_url: field("scim_base_url")?,
        admin_url: field("admin_url")?,
        api_key,
        admin_key: v["admin_key"].as_str().map(str::to_string),
    })
}

/// A running server.
pub struct Server {
    proc: Proc,
    pub pid: u32,
    /// Its SCIM base URL.
    pub base: String,
    /// Its admin web page (`http://ADDR/admin`).
    pub admin_url: String,
    /// The key it minted at this start (on a store without an active key).
    pub minted_key: Option<String>,
    /// The operator's admin key it minted at this start (on a store without one).
    pub minted_admin_key: Option<String>,
    /// Where its stderr goes.
    pub log: PathBuf,
    /// When its process was spawned.
    pub spawned: Instant,
}

impl Server {
    /// Waits until `GET /ServiceProviderConfig` with `key` answers 200 (30 s at most).
    pub async fn answers(&self, key: &str) -> Result<(), String> {
        self.answers_at(&self.base, key).await
    }

    /// The same at another SCIM base URL of this server, such as a tenant's.
    pub async fn answers_at(&self, base: &str, key: &str) -> Result<(), String> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| e.to_string())?;
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let r = client
                .get(format!("{base}/ServiceProviderConfig"))
                .bearer_auth(key)
                .send()
                .await;
            match r {
                Ok(r) if r.status().as_u16() == 200 => return Ok(()),
                _ if Instant::now() > deadline => {
                    return Err(format!(
                        "the server does not answer after 30 s; {}",
                        log_tail(&self.log, 30)
                    ))
                }
                _ => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }

    /// Sends SIGTERM and waits up to `within`: Ok when it exits with status 0; killed, and an
    /// error, when it takes longer.
    pub fn stop(mut self, within: Duration) -> Result<(), String> {
        let pid = self.proc.0.id().to_string();
        let sent = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .map_err(|e| format!("kill -TERM {pid}: {e}"))?;
        if !sent.success() {
            return Err(format!("kill -TERM {pid} failed"));
        }
        let deadline = Instant::now() + within;
        loop {
            match self.proc.0.try_wait() {
                Ok(Some(status)) if status.success() => return Ok(()),
                Ok(Some(status)) => {
                    return Err(format!("the server exited with {status} after SIGTERM"))
                }
                Ok(None) if Instant::now() > deadline => {
                    self.proc.kill();
                    return Err(format!(
                        "the server did not stop within {} s of SIGTERM",
                        within.as_secs()
                    ));
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(20)),
                Err(e) => return Err(format!("waiting for the server: {e}")),
            }
        }
    }

    /// Kills it with SIGKILL and waits for it to be gone.
    pub fn kill(mut self) {
        self.proc.kill();
    }

    /// Its log so far.
    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// A server on a fresh store in a temporary folder of its own (removed once it is stopped),
/// without the caller's settings; its first start minted `key`.
pub struct Fresh {
    pub server: Server,
    pub key: String,
    /// How it was started (its command line reaches the same store).
    pub launch: Launch,
    // Dropped after `server`, which kills a server still running, and after `launch`, which
    // may hold the last reference to a PostgreSQL cluster.
    _dir: tempfile::TempDir,
}

/// Starts `bin` as a [`Fresh`] server on `storage` (a fresh database with PostgreSQL) with the
/// variables `env`, and waits (on `runtime`) until it answers SCIM requests with the key it
/// minted.
pub fn start_fresh(
    runtime: &tokio::runtime::Runtime,
    bin: &Path,
    storage: Storage,
    env: &[(&str, &str)],
) -> Result<Fresh, String> {
    let dir = tempfile::Builder::new()
        .prefix("scim-xtask-")
        .tempdir()
        .map_err(|e| format!("temporary folder: {e}"))?;
    let data_dir = dir.path().join("data");
    eprintln!(
        "== starting {} on a fresh {} store",
        bin.display(),
        storage.engine().name()
    );
    let launch = Launch::new(bin, dir.path(), &data_dir)
        .with_storage(storage)
        .with_env(env);
    let server = launch.start()?;
    let key = server
        .minted_key
        .clone()
        .ok_or("the server minted no key on a fresh store")?;
    runtime.block_on(server.answers(&key))?;
    Ok(Fresh {
        server,
        key,
        launch,
        _dir: dir,
    })
}

impl Fresh {
    /// Sends SIGTERM and waits up to 20 s for exit status 0 (see [`Server::stop`]).
    pub fn stop(self) -> Result<(), String> {
        self.server.stop(Duration::from_secs(20))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;

    const READY: &str = r#"{"addr":"127.0.0.1:1","scim_base_url":"http://127.0.0.1:1/scim/v2","admin_url":"http://127.0.0.1:1/admin","api_key":"scim_abc"}"#;

    /// A stand-in for scim-server: logs `$SCIM_STRICT` and its folder, then writes the ready file
    /// (unless `ready` is false) and exits `code` on SIGTERM (set up before the ready file is
    /// written, as the server does), or exits `code` at once if `stay` is false.
    fn fake(dir: &Path, name: &str, ready: bool, stay: bool, code: u8) -> PathBuf {
        let p = dir.join(name);
        let trap = if stay {
            format!("trap 'exit {code}' TERM\n")
        } else {
            String::new()
        };
        let write = if ready {
            format!("printf '%s\\n' '{READY}' > \"$ready.tmp\" && mv \"$ready.tmp\" \"$ready\"\n")
        } else {
            String::new()
        };
        let end = if stay {
            "while true; do sleep 0.05; done\n".to_string()
        } else {
            format!("exit {code}\n")
        };
        let script = format!(
            "#!/bin/sh\n{trap}while [ $# -gt 0 ]; do [ \"$1\" = --ready-file ] && ready=$2; shift; done\n\
             echo \"strict=$SCIM_STRICT in $(pwd)\" >&2\n{write}{end}"
        );
        // Written by a child process: had this process opened it for writing, a process that
        // another test's thread forked meanwhile could still hold it open when it is run, and
        // the run would fail with "Text file busy" (ETXTBSY).
        let mut writer = std::process::Command::new("sh")
            .arg("-c")
            .arg("cat > \"$0\" && chmod 755 \"$0\"")
            .arg(&p)
            .stdin(std::process::Stdio::piped())
            .spawn()
            .expect("sh");
        writer
            .stdin
            .take()
            .expect("stdin")
            .write_all(script.as_bytes())
            .expect("write");
        assert!(
            writer.wait().expect("wait").success(),
            "wrote {}",
            p.display()
        );
        p
    }

    fn launch(dir: &Path, bin: &Path) -> Launch {
        Launch::new(bin, dir, &dir.join("data"))
    }

    #[test]
    fn start_reads_the_ready_file_and_stop_expects_exit_0() {
        let dir = tempfile::tempdir().expect("tempdir");
        let bin = fake(dir.path(), "ok", true, true, 0);
        let s = launch(dir.path(), &bin).start().expect("started");
        assert_eq!(s.base, "http://127.0.0.1:1/scim/v2");
        assert_eq!(s.admin_url, "http://127.0.0.1:1/admin");
        assert_eq!(s.minted_key.as_deref(), Some("scim_abc"));
        assert!(
            s.logs().contains(&format!("in {}", dir.path().display())),
            "a clean start runs in its folder: {}",
            s.logs()
        );
        s.stop(Duration::from_secs(10)).expect("exit 0 on SIGTERM");

        let bin = fake(dir.path(), "three", true, true, 3);
        let s = launch(dir.path(), &bin)
            .with_env(&[("SCIM_STRICT", "true")])
            .start()
            .expect("started");
        assert!(
            s.logs().contains("strict=true"),
            "extra environment is passed"
        );
        let e = s
            .stop(Duration::from_secs(10))
            .expect_err("exit 3 is a failure");
        assert!(e.contains("exit status: 3"), "{e}");
    }

    #[test]
    fn an_early_exit_or_a_missing_ready_file_reports_the_log() {
        let dir = tempfile::tempdir().expect("tempdir");
        let bin = fake(dir.path(), "dies", false, false, 2);
        let e = launch(dir.path(), &bin)
            .start()
            .err()
            .expect("an early exit is an error");
        assert!(e.contains("exit status: 2") && e.contains("strict="), "{e}");

        // A ready file of an earlier start is not taken for this one's.
        std::fs::write(dir.path().join("ready.json"), READY).expect("stale ready file");
        let bin = fake(dir.path(), "silent", false, true, 0);
        let mut launch = launch(dir.path(), &bin);
        launch.within = Duration::from_millis(500);
        let e = launch.start().err().expect("no ready file is an error");
        assert!(
            e.contains("no ready file within 0.5 s") && e.contains("strict="),
            "{e}"
        );
    }

    #[test]
    fn clean_settings_drop_the_callers_scim_variables_and_caller_settings_keep_them() {
        let caller = || {
            ["PATH", "SCIM_DURABILITY", "HOME"]
                .map(String::from)
                .into_iter()
        };
        let mut launch = Launch::new(Path::new("b"), Path::new("d"), Path::new("d/data"))
            .with_env(&[("SCIM_RATE_LIMIT_PER_KEY", "0")]);
        let set = Some("0".to_string());
        let sled = ("SCIM_STORE".to_string(), Some("sled".to_string()));
        assert_eq!(
            launch.environment(caller()),
            [
                ("SCIM_DURABILITY".to_string(), None),
                sled.clone(),
                ("SCIM_RATE_LIMIT_PER_KEY".to_string(), set.clone())
            ]
        );
        launch.settings = Settings::Caller;
        assert_eq!(
            launch.environment(caller()),
            [sled, ("SCIM_RATE_LIMIT_PER_KEY".to_string(), set)]
        );
    }

    #[test]
    fn a_session_setting_goes_into_the_urls_options() {
        assert_eq!(
            with_option(
                "postgres://postgres@localhost/x?host=/tmp/a&port=5432",
                "synchronous_commit",
                "off"
            ),
            "postgres://postgres@localhost/x?host=/tmp/a&port=5432&options=-c%20synchronous_commit%3Doff"
        );
        assert_eq!(
            with_option("postgres://h/x", "a", "b"),
            "postgres://h/x?options=-c%20a%3Db"
        );
        assert!(matches!(
            Storage::Sled.with_session_setting("a", "b"),
            Storage::Sled
        ));
    }

    #[test]
    fn the_ready_file_is_read_as_json() {
        let r = parse_ready(READY).expect("parsed");
        assert_eq!(r.api_key.as_deref(), Some("scim_abc"));
        let again = READY.replace(r#""scim_abc""#, "null");
        assert_eq!(parse_ready(&again).expect("parsed").api_key, None);
        assert!(parse_ready(r#"{"scim_base_url":"x","api_key":null}"#).is_err());
        assert!(parse_ready("SCIM base URL: x").is_err());
    }
}
