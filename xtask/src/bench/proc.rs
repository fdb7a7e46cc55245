//! The server under measurement as a child process (pinned to a core with `taskset` where it can
//! be), and what `/proc` and the file system tell about it.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::http::{Conn, Target};

/// How to start the server.
pub struct Spawn<'a> {
    pub bin: &'a Path,
    pub data_dir: &'a Path,
    /// Its stderr goes here (appended).
    pub log: &'a Path,
    /// `SCIM_*` settings; the caller's own `SCIM_*` variables are not passed on.
    pub env: Vec<(String, String)>,
    /// Run it under `taskset -c CORE`.
    pub core: Option<usize>,
}

/// A running server.
pub struct Server {
    child: Child,
    pub pid: u32,
    pub base: String,
    /// The key it minted, on a fresh store.
    pub minted_key: Option<String>,
    spawned: Instant,
}

impl Spawn<'_> {
    /// Starts the server and waits until it prints its URL (and its key, on a fresh store).
    pub fn start(&self) -> Result<Server, String> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log)
            .map_err(|e| format!("{}: {e}", self.log.display()))?;
        let mut cmd = match self.core {
            Some(core) => {
                let mut c = Command::new("taskset");
                c.arg("-c").arg(core.to_string()).arg(self.bin);
                c
            }
            None => Command::new(self.bin),
        };
        cmd.args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(self.data_dir)
            .current_dir(self.data_dir.parent().unwrap_or(Path::new("/")))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log));
        for (k, _) in std::env::vars() {
            if k.starts_with("SCIM_") {
                cmd.env_remove(k);
            }
        }
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        let spawned = Instant::now();
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("{}: {e}", self.bin.display()))?;
        let pid = child.id();
        let Some(stdout) = child.stdout.take() else {
            let _ = child.kill();
            return Err("no stdout from the server".into());
        };
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                // Keep draining after the receiver is gone, so that the server never blocks.
                let _ = tx.send(line);
            }
        });
        let (mut base, mut key, mut keys_known) = (None, None, false);
        let deadline = Instant::now() + Duration::from_secs(600);
        while base.is_none() || !(keys_known || key.is_some()) {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => {
                    if let Some(u) = line.strip_prefix("SCIM base URL: ") {
                        base = Some(u.trim().to_string());
                    } else if let Some(k) = line.strip_prefix("API key: ") {
                        key = Some(k.trim().to_string());
                    } else if line.starts_with("API keys: already configured") {
                        keys_known = true;
                    }
                }
                Err(_) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    let logs = std::fs::read_to_string(self.log).unwrap_or_default();
                    let tail: Vec<&str> = logs.lines().rev().take(20).collect();
                    return Err(format!(
                        "the server did not print its URL within 600 s (or exited); its log ends:\n{}",
                        tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                    ));
                }
            }
        }
        let Some(base) = base else {
            return Err("unreachable: no URL".into());
        };
        Ok(Server {
            child,
            pid,
            base,
            minted_key: key,
            spawned,
        })
    }
}

impl Server {
    /// Polls `GET /readyz` until it answers 200; returns the time since the process was spawned.
    pub async fn ready(&self, target: &Target) -> Result<Duration, String> {
        let deadline = Instant::now() + Duration::from_secs(600);
        loop {
            if let Ok(mut c) = Conn::connect(target).await {
                if let Ok(r) = c.send("GET", "/readyz", None).await {
                    if r.status == 200 {
                        return Ok(self.spawned.elapsed());
                    }
                }
            }
            if Instant::now() > deadline {
                return Err("the server is not ready after 600 s".into());
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    /// Sends SIGTERM and waits for a clean exit (the server flushes its store on the way out).
    pub fn stop(mut self) -> Result<(), String> {
        crate::server::terminate(&mut self.child, Duration::from_secs(120))
    }

    pub fn status(&self) -> ProcStatus {
        ProcStatus::of(self.pid)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Figures from `/proc/PID/status`, `/proc/PID/stat` and `/proc/PID/io`.
#[derive(Debug, Default, Clone, Copy)]
pub struct ProcStatus {
    /// Peak resident set (VmHWM), KiB.
    pub hwm_kib: u64,
    /// Resident set now (VmRSS), KiB.
    pub rss_kib: u64,
    /// User plus system CPU time, in clock ticks.
    pub cpu_ticks: u64,
    /// Bytes the process caused to be written to storage.
    pub write_bytes: u64,
}

impl ProcStatus {
    pub fn of(pid: u32) -> ProcStatus {
        Self::read(&format!("/proc/{pid}"))
    }

    pub fn own() -> ProcStatus {
        Self::read("/proc/self")
    }

    fn read(dir: &str) -> ProcStatus {
        let status = std::fs::read_to_string(format!("{dir}/status")).unwrap_or_default();
        let kib = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        let stat = std::fs::read_to_string(format!("{dir}/stat")).unwrap_or_default();
        let io = std::fs::read_to_string(format!("{dir}/io")).unwrap_or_default();
        ProcStatus {
            hwm_kib: kib("VmHWM:"),
            rss_kib: kib("VmRSS:"),
            cpu_ticks: cpu_ticks(&stat),
            write_bytes: io
                .lines()
                .find_map(|l| l.strip_prefix("write_bytes:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0),
        }
    }
}

/// utime + stime from the text of `/proc/PID/stat` (fields 14 and 15; the name, field 2, may
/// hold spaces and parentheses, so fields are counted from the last `)`).
fn cpu_ticks(stat: &str) -> u64 {
    let Some(at) = stat.rfind(')') else { return 0 };
    let fields: Vec<&str> = stat[at + 1..].split_whitespace().collect();
    // After ')': field 3 (state) is at index 0, so field N is at index N - 3.
    let field = |n: usize| -> u64 { fields.get(n - 3).and_then(|v| v.parse().ok()).unwrap_or(0) };
    field(14) + field(15)
}

/// CPU time the whole machine spent in user and system mode (`/proc/stat`), in clock ticks:
/// with the server's and the load generator's taken off, what else ran during a phase.
pub fn machine_busy_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let Some(cpu) = stat.lines().find(|l| l.starts_with("cpu ")) else {
        return 0;
    };
    let f: Vec<u64> = cpu
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    // user, nice, system
    f.iter().take(3).sum()
}

/// Clock ticks a second (`getconf CLK_TCK`, 100 when unknown).
pub fn clock_ticks() -> u64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .filter(|t| *t > 0)
        .unwrap_or(100)
}

/// Disk usage of a folder, as `du` counts it: allocated blocks, links not followed.
pub fn disk_usage(path: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return 0;
    };
    let mut total = meta.blocks() * 512;
    if meta.is_dir() {
        if let Ok(entries) = std::fs::read_dir(path) {
            for e in entries.flatten() {
                total += disk_usage(&e.path());
            }
        }
    }
    total
}

/// Whether the server and the load can each have a core of their own: two cores or more, and
/// `taskset` to pin them.
pub fn can_pin() -> bool {
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    cores >= 2
        && Command::new("taskset")
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
}

/// The CPUs this process may run on (`Cpus_allowed_list` of `/proc/self/status`).
pub fn own_cpus() -> String {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
        .map(|v| v.trim().to_string())
        .unwrap_or_default()
}

/// The path of a built binary, from cargo's JSON messages.
pub fn cargo_build(args: &[&str], target_name: &str) -> Result<PathBuf, String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut all = vec!["build", "--message-format=json-render-diagnostics"];
    all.extend_from_slice(args);
    eprintln!("== cargo {}", all.join(" "));
    let out = Command::new(cargo)
        .args(&all)
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cargo build: {e}"))?;
    if !out.status.success() {
        return Err(format!("cargo build of {target_name} failed"));
    }
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == target_name)
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
        .ok_or_else(|| format!("cargo build did not report the {target_name} executable"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_ticks_are_counted_after_the_name() {
        let stat = "4242 (scim (x) srv) S 1 2 3 4 5 6 7 8 9 10 250 38 0 0 20 0 4";
        assert_eq!(cpu_ticks(stat), 288);
        assert_eq!(cpu_ticks("garbage"), 0);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn own_status_is_readable() {
        let s = ProcStatus::own();
        assert!(s.rss_kib > 0 && s.hwm_kib >= s.rss_kib);
    }
}
