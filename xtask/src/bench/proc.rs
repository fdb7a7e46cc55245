//! What `/proc` and the file system tell about the server under measurement and this process,
//! and whether the two can be pinned to a core each. Starting and stopping the server is
//! `crate::server`'s.

use std::collections::BTreeMap;
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

/// Field `n` (counted from 1, as `proc(5)` does) of the text of `/proc/PID/stat`; the name,
/// field 2, may hold spaces and parentheses, so fields are counted from the last `)`.
fn stat_field(stat: &str, n: usize) -> u64 {
    let Some(at) = stat.rfind(')') else { return 0 };
    // After ')': field 3 (state) comes first, so field N is the (N - 3)th.
    stat[at + 1..]
        .split_whitespace()
        .nth(n.saturating_sub(3))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// utime + stime from the text of `/proc/PID/stat` (fields 14 and 15).
fn cpu_ticks(stat: &str) -> u64 {
    stat_field(stat, 14) + stat_field(stat, 15)
}

/// The processes whose parent is `pid`.
pub fn children(pid: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|child| {
            std::fs::read_to_string(format!("/proc/{child}/stat"))
                .is_ok_and(|stat| stat_field(&stat, 4) == u64::from(pid))
        })
        .collect()
}

/// A process and its children together, such as a PostgreSQL postmaster and its backends: CPU
/// time (with that of the children it has waited for: backends that ended) and bytes written.
pub fn tree(pid: u32) -> ProcStatus {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let mut total = ProcStatus::of(pid);
    // cutime + cstime: children that ended and were waited for.
    total.cpu_ticks += stat_field(&stat, 16) + stat_field(&stat, 17);
    for child in children(pid) {
        let c = ProcStatus::of(child);
        total.cpu_ticks += c.cpu_ticks;
        total.write_bytes += c.write_bytes;
    }
    total
}

/// What a group of threads has done so far: time on a CPU, and how many times its threads went
/// to sleep (voluntary context switches: each is a wait, and the wake that ends it).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ThreadTimes {
    pub on_cpu_ns: u64,
    pub sleeps: u64,
}

/// What each group of a process's threads has done so far: time on a CPU
/// (`/proc/PID/task/TID/schedstat`, its first number) and sleeps (`voluntary_ctxt_switches` of
/// its `status`), threads grouped by name with a trailing number taken off (`sled-io-3` counts
/// as `sled-io`). Threads that ended are not counted.
pub fn thread_groups(pid: u32) -> BTreeMap<String, ThreadTimes> {
    let mut groups: BTreeMap<String, ThreadTimes> = BTreeMap::new();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return groups;
    };
    for task in tasks.flatten() {
        let dir = task.path();
        let (Ok(comm), Ok(schedstat), Ok(status)) = (
            std::fs::read_to_string(dir.join("comm")),
            std::fs::read_to_string(dir.join("schedstat")),
            std::fs::read_to_string(dir.join("status")),
        ) else {
            continue;
        };
        let group = groups.entry(thread_group(&comm)).or_default();
        group.on_cpu_ns += on_cpu_ns(&schedstat);
        group.sleeps += voluntary_switches(&status);
    }
    groups
}

/// The group of a thread named `comm`: the name without a trailing `-N` or `N`.
fn thread_group(comm: &str) -> String {
    let name = comm.trim();
    let stem = name.trim_end_matches(|c: char| c.is_ascii_digit());
    let stem = stem.strip_suffix('-').unwrap_or(stem);
    if stem.is_empty() { name } else { stem }.to_string()
}

/// The first number of a `schedstat` text: nanoseconds on a CPU.
fn on_cpu_ns(schedstat: &str) -> u64 {
    schedstat
        .split_whitespace()
        .next()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// `voluntary_ctxt_switches` of a thread's `status` text (0 if absent).
fn voluntary_switches(status: &str) -> u64 {
    status
        .lines()
        .find_map(|l| l.strip_prefix("voluntary_ctxt_switches:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// A group of threads' share of a phase: microseconds on a CPU and sleeps, each a request.
#[derive(Debug, Clone, PartialEq)]
pub struct ThreadShare {
    pub group: String,
    pub cpu_us: f64,
    pub sleeps: f64,
}

/// What each group of threads did between two readings of [`thread_groups`], a request, most
/// CPU first; groups that spent less than 0.05 µs a request (nothing, as printed) are left out.
pub fn thread_groups_per_request(
    before: &BTreeMap<String, ThreadTimes>,
    after: &BTreeMap<String, ThreadTimes>,
    requests: u64,
) -> Vec<ThreadShare> {
    if requests == 0 {
        return Vec::new();
    }
    let n = requests as f64;
    let mut spent: Vec<ThreadShare> = after
        .iter()
        .map(|(group, now)| {
            let was = before.get(group).copied().unwrap_or_default();
            ThreadShare {
                group: group.clone(),
                cpu_us: now.on_cpu_ns.saturating_sub(was.on_cpu_ns) as f64 / 1e3 / n,
                sleeps: now.sleeps.saturating_sub(was.sleeps) as f64 / n,
            }
        })
        .filter(|t| t.cpu_us >= 0.05)
        .collect();
    spent.sort_by(|a, b| {
        b.cpu_us
            .total_cmp(&a.cpu_us)
            .then_with(|| a.group.cmp(&b.group))
    });
    spent
}

/// Pins a process and its children to `cpus` (a list such as `0` or `0-1`; `taskset -a -p -c
/// CPUS PID` each): children it forks later inherit its affinity.
pub fn pin_tree(pid: u32, cpus: &str) -> Result<(), String> {
    for p in std::iter::once(pid).chain(children(pid)) {
        let out = Command::new("taskset")
            .args(["-a", "-p", "-c", cpus, &p.to_string()])
            .stdout(Stdio::null())
            .output()
            .map_err(|e| format!("taskset: {e}"))?;
        // A child that ended meanwhile cannot be pinned, and needs not be.
        if !out.status.success() && p == pid {
            return Err(format!(
                "taskset -p {pid}: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
    }
    Ok(())
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

/// CPU time the hypervisor ran something else while this machine's CPUs wanted to run
/// (`steal` in `/proc/stat`), in clock ticks, over all CPUs: on a shared virtual machine, the
/// part of a phase's slowness no process here caused.
pub fn machine_steal_ticks() -> u64 {
    steal_of(&std::fs::read_to_string("/proc/stat").unwrap_or_default())
}

/// The `steal` field of the `cpu` line of a `/proc/stat` text (the eighth number; 0 if absent).
fn steal_of(stat: &str) -> u64 {
    stat.lines()
        .find(|l| l.starts_with("cpu "))
        .and_then(|cpu| cpu.split_whitespace().nth(8))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
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

/// The machine's CPUs (`/sys/devices/system/cpu/online`, such as `0-1`).
pub fn online_cpus() -> String {
    std::fs::read_to_string("/sys/devices/system/cpu/online")
        .map(|v| v.trim().to_string())
        .unwrap_or_else(|_| "0".into())
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
        assert_eq!(stat_field(stat, 4), 1, "the parent");
        assert_eq!(stat_field(stat, 16), 0);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_child_is_found_under_its_parent() {
        let mut child = Command::new("sleep").arg("5").spawn().expect("sleep");
        let found = children(std::process::id()).contains(&child.id());
        let _ = child.kill();
        let _ = child.wait();
        assert!(found);
        // Our own time first: the tree, read after, holds it and whatever ran since (the other
        // tests' threads run on; read the other way round, the test failed now and then).
        let own = ProcStatus::own().cpu_ticks;
        assert!(tree(std::process::id()).cpu_ticks >= own);
    }

    #[test]
    fn threads_are_grouped_by_name_without_their_number() {
        assert_eq!(thread_group("sled-io-12\n"), "sled-io");
        assert_eq!(thread_group("tokio-rt-worker\n"), "tokio-rt-worker");
        assert_eq!(thread_group("worker7"), "worker");
        assert_eq!(thread_group("1234"), "1234", "a name of digits only stays");
        assert_eq!(on_cpu_ns("2053843291 82541013 4131\n"), 2_053_843_291);
        assert_eq!(on_cpu_ns(""), 0);
        let status =
            "Name:\tsled-io-0\nvoluntary_ctxt_switches:\t2216\nnonvoluntary_ctxt_switches:\t9\n";
        assert_eq!(voluntary_switches(status), 2216);
        assert_eq!(voluntary_switches(""), 0);
    }

    #[test]
    fn a_group_s_share_is_what_it_did_between_two_readings_per_request() {
        let t = |on_cpu_ns, sleeps| ThreadTimes { on_cpu_ns, sleeps };
        let before = BTreeMap::from([
            ("a".to_string(), t(1_000_000, 10)),
            ("b".to_string(), t(5_000, 3)),
        ]);
        let after = BTreeMap::from([
            ("a".to_string(), t(3_000_000, 510)),
            ("b".to_string(), t(5_000, 3)),
            ("new".to_string(), t(8_000_000, 2000)),
        ]);
        let share = |group: &str, cpu_us, sleeps| ThreadShare {
            group: group.into(),
            cpu_us,
            sleeps,
        };
        assert_eq!(
            thread_groups_per_request(&before, &after, 1000),
            vec![share("new", 8.0, 2.0), share("a", 2.0, 0.5)],
            "most first; a group that spent nothing is left out; one that began counts whole"
        );
        assert!(thread_groups_per_request(&before, &after, 0).is_empty());
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn this_process_s_threads_are_read() {
        let groups = thread_groups(std::process::id());
        assert!(!groups.is_empty());
        assert!(groups.values().any(|t| t.on_cpu_ns > 0), "{groups:?}");
    }

    #[test]
    fn steal_is_the_eighth_number_of_the_cpu_line() {
        let stat = "cpu  4013188 98631 845559 2293318 45240 0 64872 6033 0 0\n\
                    cpu0 2139675 44620 440474 1021221 14042 0 31940 2320 0 0\n";
        assert_eq!(steal_of(stat), 6033);
        assert_eq!(steal_of("cpu  1 2 3\n"), 0, "a kernel without the field");
        assert_eq!(steal_of(""), 0);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn own_status_is_readable() {
        let s = ProcStatus::own();
        assert!(s.rss_kib > 0 && s.hwm_kib >= s.rss_kib);
    }
}
