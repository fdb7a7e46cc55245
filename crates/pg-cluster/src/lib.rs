//! A throwaway PostgreSQL cluster: `initdb` into a temporary folder, `pg_ctl start` listening on
//! a Unix socket only (no TCP), stopped and removed when dropped. The binaries come from
//! Debian's `postgresql` package (`/usr/lib/postgresql/<version>/bin`, or the `PATH`). `initdb`
//! refuses to run as root: as root, every command runs as the `postgres` user (`runuser`), and
//! the folder belongs to it.
//!
//! Used by the PostgreSQL engine's tests, the server's tests and `cargo xtask`; it depends on
//! nothing of theirs.

use std::path::PathBuf;
use std::process::{Command, Stdio};

/// A running cluster.
pub struct Cluster {
    /// Holds the data folder, the socket folder and the log; removed on drop.
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
    /// Run commands as `postgres` (we are root).
    as_postgres: bool,
}

/// Cluster settings beyond the defaults.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// `-c name=value` settings for the server (for example `max_connections=200`).
    pub settings: Vec<(String, String)>,
    /// Also listen on TCP at 127.0.0.1, on a port free when the cluster starts (for TLS, which
    /// a Unix socket never uses): [`Cluster::tcp_url`].
    pub tcp: bool,
}

/// The port, used in the socket's name only (no TCP listener; each cluster has its own socket
/// folder, so they never collide).
const PORT: u16 = 5432;

/// Where Debian's PostgreSQL binaries are: the newest `/usr/lib/postgresql/*/bin` with
/// `initdb`, else the folder of `initdb` on the `PATH`.
pub fn binaries() -> Result<PathBuf, String> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter_map(|e| {
                    let version = e.file_name().to_string_lossy().parse::<u32>().ok()?;
                    let bin = e.path().join("bin");
                    bin.join("initdb").is_file().then_some((version, bin))
                })
                .collect()
        })
        .unwrap_or_default();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Ok(bin);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .find(|dir| dir.join("initdb").is_file())
        .ok_or_else(|| {
            "PostgreSQL is not installed: no initdb (install Debian's `postgresql` package)".into()
        })
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

impl Cluster {
    /// Creates and starts a cluster; returns once it accepts connections.
    pub fn start() -> Result<Cluster, String> {
        Cluster::start_with(&Options::default())
    }

    pub fn start_with(options: &Options) -> Result<Cluster, String> {
        let bin = binaries()?;
        let as_postgres = is_root();
        let dir = tempfile::Builder::new()
            .prefix("pg-cluster-")
            .tempdir()
            .map_err(|e| format!("temporary folder: {e}"))?;
        if as_postgres {
            // The cluster's files belong to `postgres`; the folder must be reachable by it.
            run(Command::new("chown").arg("postgres:").arg(dir.path()))?;
        }
        let port = if options.tcp {
            std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .map_err(|e| format!("a free port: {e}"))?
                .port()
        } else {
            PORT
        };
        let cluster = Cluster {
            dir,
            bin,
            port,
            as_postgres,
        };
        let data = cluster.data_dir();
        cluster.run_pg(
            "initdb",
            &[
                "-D",
                &data.to_string_lossy(),
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
            ],
        )?;
        let mut server_options = format!(
            "-k {} -c listen_addresses='{}' -p {}",
            cluster.socket_dir().display(),
            if options.tcp { "127.0.0.1" } else { "" },
            cluster.port
        );
        for (name, value) in &options.settings {
            server_options.push_str(&format!(" -c {name}={value}"));
        }
        cluster.set_options(&server_options)?;
        cluster.pg_ctl("start")?;
        Ok(cluster)
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// The folder of the server's Unix socket.
    pub fn socket_dir(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    /// A connection URL for `database`, as the `postgres` superuser over the socket.
    pub fn url(&self, database: &str) -> String {
        format!(
            "postgres://postgres@localhost/{database}?host={}&port={}",
            self.socket_dir().display(),
            self.port
        )
    }

    /// A connection URL for `database` over TCP at 127.0.0.1 (a cluster started with `tcp`),
    /// with `query` appended (for example `sslmode=require`).
    pub fn tcp_url(&self, database: &str, query: &str) -> String {
        format!(
            "postgres://postgres@127.0.0.1:{}/{database}?{query}",
            self.port
        )
    }

    /// Creates a database.
    pub fn create_database(&self, name: &str) -> Result<(), String> {
        let socket = self.socket_dir().to_string_lossy().into_owned();
        let port = self.port.to_string();
        self.run_pg(
            "createdb",
            &["-h", &socket, "-p", &port, "-U", "postgres", name],
        )
    }

    /// Stops the server (fast shutdown: connections are cut, as when it goes down).
    pub fn stop(&self) -> Result<(), String> {
        self.pg_ctl("stop")
    }

    /// Starts the server again after [`Cluster::stop`].
    pub fn restart(&self) -> Result<(), String> {
        self.pg_ctl("start")
    }

    /// Writes the server's command-line options into the cluster (`postmaster.opts` is not read
    /// by `pg_ctl start`; `PGOPTIONS` is not for the server): kept in a file `pg_ctl -o` reads.
    fn set_options(&self, options: &str) -> Result<(), String> {
        let path = self.dir.path().join("server.opts");
        std::fs::write(&path, options).map_err(|e| format!("{}: {e}", path.display()))?;
        if self.as_postgres {
            run(Command::new("chown").arg("postgres:").arg(&path))?;
        }
        Ok(())
    }

    fn pg_ctl(&self, action: &str) -> Result<(), String> {
        let options = std::fs::read_to_string(self.dir.path().join("server.opts"))
            .map_err(|e| format!("server options: {e}"))?;
        let data = self.data_dir().to_string_lossy().into_owned();
        let log = self
            .dir
            .path()
            .join("server.log")
            .to_string_lossy()
            .into_owned();
        let mut args = vec!["-D", &data, "-l", &log, "-w", "-t", "60"];
        if action == "start" {
            args.extend(["-o", &options]);
        } else {
            args.extend(["-m", "fast"]);
        }
        args.push(action);
        self.run_pg("pg_ctl", &args)
            .map_err(|e| format!("{e}\n{}", self.log()))
    }

    /// Runs one of the cluster's binaries (as `postgres` when we are root).
    fn run_pg(&self, program: &str, args: &[&str]) -> Result<(), String> {
        let path = self.bin.join(program);
        let mut cmd = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&path);
            c
        } else {
            Command::new(&path)
        };
        cmd.args(args).current_dir(self.dir.path());
        run(&mut cmd)
    }
}

fn run(cmd: &mut Command) -> Result<(), String> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{cmd:?}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{cmd:?} failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let data = self.data_dir();
        if data.join("postmaster.pid").exists() {
            let _ = self.pg_ctl("stop");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cluster_starts_takes_a_database_stops_and_restarts() {
        let cluster = Cluster::start().expect("a cluster starts");
        cluster.create_database("scim").expect("createdb");
        assert!(cluster.url("scim").contains("host="));
        assert!(cluster
            .socket_dir()
            .join(format!(".s.PGSQL.{}", cluster.port()))
            .exists());
        cluster.stop().expect("stops");
        assert!(!cluster
            .socket_dir()
            .join(format!(".s.PGSQL.{}", cluster.port()))
            .exists());
        cluster.restart().expect("starts again");
        assert!(cluster
            .socket_dir()
            .join(format!(".s.PGSQL.{}", cluster.port()))
            .exists());
    }
}
