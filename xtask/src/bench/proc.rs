//! What `/proc` and the file system tell about the server under measurement and this process,
//! and whether the two can be pinned to a core each. Starting and stopping the server is
//! `crate::server`'s.

use std::path::Path;
use std::process::{Command, Stdio};

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
