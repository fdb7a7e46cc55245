//! Our server as a child process: built with cargo, started on a free port with a fresh store in
//! a temporary folder (so its first start mints a key), stopped with SIGTERM.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Builds `scim-server` and returns the path of the binary.
pub fn build(release: bool) -> Result<PathBuf, String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut args = vec![
        "build",
        "--package",
        "server",
        "--bin",
        "scim-server",
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
        return Err("cargo build of the server failed".into());
    }
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == "scim-server")
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
        .ok_or_else(|| "cargo build did not report the scim-server executable".to_string())
}

/// A running server.
pub struct Running {
    child: Child,
    /// The SCIM base URL it printed.
    pub base: String,
    /// The key it minted.
    pub key: String,
    /// Its stderr (logs), in the temporary folder.
    pub log: PathBuf,
    _dir: tempfile::TempDir,
}

/// Starts `bin` on 127.0.0.1, port 0, in a fresh temporary folder, and waits until it reports its
/// URL and key. `SCIM_*` variables of the caller are not passed on, nor is a `scim-server.toml`
/// of the current folder read.
pub fn start(bin: &Path, extra_env: &[(&str, &str)]) -> Result<Running, String> {
    let dir = tempfile::Builder::new()
        .prefix("scim-conformance-")
        .tempdir()
        .map_err(|e| format!("temporary folder: {e}"))?;
    let log = dir.path().join("server.log");
    let log_file = std::fs::File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
    let mut cmd = Command::new(bin);
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path().join("data"))
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log_file));
    for (k, _) in std::env::vars() {
        if k.starts_with("SCIM_") {
            cmd.env_remove(k);
        }
    }
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().map_err(|e| format!("{}: {e}", bin.display()))?;
    let Some(stdout) = child.stdout.take() else {
        let _ = child.kill();
        return Err("no stdout from the server".into());
    };
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                // Keep draining so that the server never blocks on a full pipe.
                continue;
            }
        }
    });
    let (mut base, mut key) = (None, None);
    let deadline = Instant::now() + Duration::from_secs(60);
    while base.is_none() || key.is_none() {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => {
                if let Some(u) = line.strip_prefix("SCIM base URL: ") {
                    base = Some(u.trim().to_string());
                } else if let Some(k) = line.strip_prefix("API key: ") {
                    key = Some(k.trim().to_string());
                }
            }
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                let logs = std::fs::read_to_string(&log).unwrap_or_default();
                return Err(format!(
                    "the server did not print its URL and key within 60 s\n{logs}"
                ));
            }
        }
    }
    let (Some(base), Some(key)) = (base, key) else {
        return Err("unreachable: no URL or key".into());
    };
    Ok(Running {
        child,
        base,
        key,
        log,
        _dir: dir,
    })
}

impl Running {
    /// Waits until GET /ServiceProviderConfig answers 200.
    pub async fn ready(&self) -> Result<(), String> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| e.to_string())?;
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let r = client
                .get(format!("{}/ServiceProviderConfig", self.base))
                .bearer_auth(&self.key)
                .send()
                .await;
            match r {
                Ok(r) if r.status().as_u16() == 200 => return Ok(()),
                _ if Instant::now() > deadline => {
                    return Err("the server is not ready after 30 s".into())
                }
                _ => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }

    /// Sends SIGTERM and waits up to 20 s: Ok when it exits with status 0.
    pub fn stop(mut self) -> Result<(), String> {
        terminate(&mut self.child, Duration::from_secs(20))
    }

    /// The server's data folder.
    pub fn data_dir(&self) -> PathBuf {
        self._dir.path().join("data")
    }

    /// The server's log so far.
    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// Sends SIGTERM to a server and waits up to `within`: Ok when it exits with status 0 (it
/// flushes its store on the way out); killed, and an error, when it takes longer.
pub fn terminate(child: &mut Child, within: Duration) -> Result<(), String> {
    let pid = child.id().to_string();
    let sent = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .map_err(|e| format!("kill -TERM {pid}: {e}"))?;
    if !sent.success() {
        return Err(format!("kill -TERM {pid} failed"));
    }
    let deadline = Instant::now() + within;
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => return Ok(()),
            Ok(Some(status)) => {
                return Err(format!("the server exited with {status} after SIGTERM"))
            }
            Ok(None) if Instant::now() > deadline => {
                let _ = child.kill();
                let _ = child.wait();
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

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    /// A stand-in for scim-server: prints the two lines, exits 0 on SIGTERM (or `code`).
    fn fake(dir: &Path, code: u8) -> PathBuf {
        let p = dir.join("fake-server");
        let script = format!(
            "#!/bin/sh\necho 'SCIM base URL: http://127.0.0.1:1/scim/v2'\necho 'No API key existed'\necho 'API key: scim_abc'\necho \"$SCIM_STRICT\" >&2\ntrap 'exit {code}' TERM\nwhile true; do sleep 0.05; done\n"
        );
        std::fs::write(&p, script).expect("write");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        p
    }

    #[test]
    fn start_reads_the_url_and_key_and_stop_expects_exit_0() {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = start(&fake(dir.path(), 0), &[]).expect("started");
        assert_eq!(s.base, "http://127.0.0.1:1/scim/v2");
        assert_eq!(s.key, "scim_abc");
        s.stop().expect("exit 0 on SIGTERM");

        let s = start(&fake(dir.path(), 3), &[("SCIM_STRICT", "true")]).expect("started");
        std::thread::sleep(Duration::from_millis(200));
        assert!(s.logs().contains("true"), "extra environment is passed");
        let e = s.stop().expect_err("exit 3 is a failure");
        assert!(e.contains("exit status: 3"), "{e}");
    }
}
