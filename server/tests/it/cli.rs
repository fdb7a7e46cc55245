//! The `scim-server` binary: zero-configuration start, the ready file, the lines it prints for
//! people, the first key, key commands with and without a running server, and graceful shutdown.

use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use server::Ready;

pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_scim-server");

pub(crate) fn scim_server(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .current_dir(dir)
        .args(args)
        .env_remove("SCIM_LOG")
        .output()
        .expect("run scim-server")
}

/// Starts `scim-server [GLOBAL] serve --listen 127.0.0.1:0 --ready-file ready.json` in `dir`
/// with `SCIM_` settings `env` and stderr appended to `dir/server.log`, and waits for the ready
/// file; panics with the log when the server exits first or is not ready within 30 s.
pub(crate) fn start(
    dir: &Path,
    global: &[&str],
    env: &[(&str, &str)],
    stdout: Stdio,
) -> (Running, Ready) {
    let ready_file = dir.join("ready.json");
    let _ = std::fs::remove_file(&ready_file);
    let log = dir.join("server.log");
    let log_file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)
        .expect("log file");
    let mut child = Command::new(BIN)
        .current_dir(dir)
        .args(global)
        .args(["serve", "--listen", "127.0.0.1:0", "--ready-file"])
        .arg(&ready_file)
        .env_remove("SCIM_LOG")
        .envs(env.iter().copied())
        .stdout(stdout)
        .stderr(Stdio::from(log_file))
        .spawn()
        .expect("spawn");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(text) = std::fs::read_to_string(&ready_file) {
            let ready: Ready = serde_json::from_str(&text).expect("the ready file holds a Ready");
            return (Running(child), ready);
        }
        let exited = child.try_wait().expect("the server's status");
        if exited.is_some() || Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "the server wrote no ready file ({}); its log:\n{}",
                exited.map_or("not within 30 s".to_string(), |s| s.to_string()),
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// A server this test started: killed (SIGKILL) and reaped when dropped if it still runs, so that
/// a test that panics leaves no server behind (before, a failed assertion left its server running
/// after the test binary ended).
pub(crate) struct Running(Child);

impl std::ops::Deref for Running {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.0
    }
}

impl std::ops::DerefMut for Running {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// Starts `scim-server serve` on a free port; returns the child, the base URL and the key minted
/// at this start.
fn serve(dir: &Path) -> (Running, String, Option<String>) {
    serve_with(dir, &[])
}

/// [`serve`] with `SCIM_` settings.
fn serve_with(dir: &Path, env: &[(&str, &str)]) -> (Running, String, Option<String>) {
    let (child, ready) = start(dir, &[], env, Stdio::null());
    (child, ready.scim_base_url, ready.api_key)
}

fn last_word(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .last()
        .unwrap_or_default()
        .to_string()
}

fn get(url: &str, key: &str) -> u16 {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        client()
            .get(url)
            .bearer_auth(key)
            .send()
            .await
            .map(|r| r.status().as_u16())
            .unwrap_or_else(|e| {
                eprintln!("GET {url}: {e:?}");
                0
            })
    })
}

pub(crate) fn sigterm(child: &Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
}

#[test]
fn zero_configuration_start_mints_a_key_then_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().expect("dir");
    let (mut child, base, key) = serve(dir.path());
    let key = key.expect("a key is minted on first start");
    assert!(base.ends_with("/scim/v2"), "{base}");
    assert!(
        dir.path().join("data").is_dir(),
        "data in ./data by default"
    );
    assert_eq!(get(&format!("{base}/Users"), &key), 200);

    // While it runs, key commands go through the server.
    let out = scim_server(dir.path(), &["key", "create", "--label", "okta"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let second = last_word(&out);
    assert!(second.starts_with("scim_"));
    assert_eq!(get(&format!("{base}/Users"), &second), 200);
    let list = scim_server(dir.path(), &["key", "list"]);
    let text = String::from_utf8_lossy(&list.stdout).to_string();
    assert!(
        text.contains("okta") && text.contains("initial key"),
        "{text}"
    );
    assert!(
        !text.contains(&second) && !text.contains(&key),
        "a listing never shows keys"
    );
    let id = text
        .lines()
        .find(|l| l.ends_with("okta"))
        .and_then(|l| l.split_whitespace().next())
        .expect("id")
        .to_string();
    let out = scim_server(dir.path(), &["key", "revoke", &id]);
    assert!(out.status.success());
    assert_eq!(
        get(&format!("{base}/Users"), &second),
        401,
        "revoked at once"
    );

    sigterm(&child);
    let status = wait(&mut child, Duration::from_secs(30)).expect("exits after SIGTERM");
    assert!(status.success(), "exit 0 on SIGTERM: {status:?}");

    // Stopped: key commands open the store themselves; no new key is minted on the next start.
    let out = scim_server(dir.path(), &["key", "create", "--label", "offline"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let offline = last_word(&out);
    let (mut child, base, minted) = serve(dir.path());
    assert!(minted.is_none(), "keys exist, none is minted");
    assert_eq!(get(&format!("{base}/Users"), &offline), 200);
    assert_eq!(get(&format!("{base}/Users"), &key), 200);
    sigterm(&child);
    assert!(wait(&mut child, Duration::from_secs(30)).is_some_and(|s| s.success()));
}

#[test]
fn a_second_server_on_the_same_folder_stops_with_a_clear_message() {
    let dir = tempfile::tempdir().expect("dir");
    let (mut child, _, _) = serve(dir.path());
    let out = scim_server(dir.path(), &["serve", "--listen", "127.0.0.1:0"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("in use"), "{err}");
    sigterm(&child);
    let _ = wait(&mut child, Duration::from_secs(30));
}

#[test]
fn a_bad_configuration_is_refused() {
    let dir = tempfile::tempdir().expect("dir");
    let out = scim_server(dir.path(), &["--config", "missing.toml", "key", "list"]);
    assert!(!out.status.success());
    std::fs::write(
        dir.path().join("scim-server.toml"),
        "max_results = \"many\"\n",
    )
    .expect("write");
    let out = scim_server(dir.path(), &["key", "list"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("max_results"));
}

pub(crate) fn wait(child: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let start = std::time::Instant::now();
    while start.elapsed() < limit {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    None
}

#[test]
fn history_and_audit_from_the_command_line_with_and_without_the_server() {
    let dir = tempfile::tempdir().expect("dir");
    let (mut child, base, key) = serve(dir.path());
    let key = key.expect("key");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let id = rt.block_on(async {
        let r = client()
            .post(format!("{base}/Users"))
            .bearer_auth(&key)
            .header("Content-Type", "application/scim+json")
            .body(r#"{"userName":"cli.history","active":true}"#)
            .send()
            .await
            .expect("create");
        let body: serde_json::Value = r.json().await.expect("json");
        let id = body["id"].as_str().expect("id").to_string();
        client()
            .delete(format!("{base}/Users/{id}"))
            .bearer_auth(&key)
            .send()
            .await
            .expect("delete");
        id
    });
    let out = scim_server(dir.path(), &["history", &id]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(
        lines[0].contains("Scim System User (key 'initial key') delete User"),
        "{text}"
    );
    assert!(
        lines[1].contains("create") && lines[1].contains("userName: - -> \"cli.history\""),
        "{text}"
    );
    sigterm(&child);
    assert!(wait(&mut child, Duration::from_secs(30)).is_some_and(|s| s.success()));
    // Stopped: the command reads the store itself.
    let out = scim_server(dir.path(), &["audit", "--after", "0", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let feed: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let actions: Vec<&str> = feed
        .as_array()
        .expect("entries")
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert_eq!(actions, ["key.create", "create", "delete"]);
}

#[test]
fn export_while_running_then_import_into_a_new_folder_and_serve_it() {
    let dir = tempfile::tempdir().expect("dir");
    let (mut child, base, key) = serve(dir.path());
    let key = key.expect("key");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        client()
            .post(format!("{base}/Users"))
            .bearer_auth(&key)
            .header("Content-Type", "application/scim+json")
            .body(r#"{"userName":"exported.user"}"#)
            .send()
            .await
            .expect("create");
    });
    let out = scim_server(dir.path(), &["export", "backup.json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("\"users\":1"));
    // Import refuses a folder a server holds.
    let out = scim_server(dir.path(), &["import", "backup.json"]);
    assert!(!out.status.success());
    sigterm(&child);
    assert!(wait(&mut child, Duration::from_secs(30)).is_some_and(|s| s.success()));
    let out = scim_server(
        dir.path(),
        &["--data-dir", "restored", "import", "backup.json"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("every invariant holds"));
    let (mut child, ready) = start(dir.path(), &["--data-dir", "restored"], &[], Stdio::null());
    assert_eq!(ready.api_key, None, "the restored store has a key");
    let base = ready.scim_base_url;
    let found = rt.block_on(async {
        client()
            .get(format!(
                "{base}/Users?filter=userName+eq+%22exported.user%22"
            ))
            .bearer_auth(&key)
            .send()
            .await
            .expect("get")
            .json::<serde_json::Value>()
            .await
            .expect("json")
    });
    assert_eq!(
        found["totalResults"], 1,
        "the restored server knows the user and the key: {found}"
    );
    sigterm(&child);
    assert!(wait(&mut child, Duration::from_secs(30)).is_some_and(|s| s.success()));
}

/// A client that keeps no idle connection, so that a stopping server has none to wait for.
pub(crate) fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .expect("client")
}

#[test]
fn logs_never_carry_keys_passwords_filter_values_or_bodies() {
    let dir = tempfile::tempdir().expect("dir");
    let log = dir.path().join("server.log");
    let (mut child, base, key) = serve(dir.path());
    let key = key.expect("key");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let c = client();
        let body = r#"{"userName":"body.marker.user","password":"Password-Marker-7","title":"Title-Marker"}"#;
        for _ in 0..2 {
            c.post(format!("{base}/Users")).bearer_auth(&key).header("Content-Type", "application/scim+json").body(body).send().await.expect("post");
        }
        c.get(format!("{base}/Users?filter=userName+eq+%22Filter-Marker%22")).bearer_auth(&key).send().await.expect("get");
        c.get(format!("{base}/Users?filter=bad+Filter-Marker")).bearer_auth(&key).send().await.expect("get");
        c.get(format!("{base}/Users")).bearer_auth("scim_Wrong-Key-Marker").send().await.expect("get");
        c.post(format!("{base}/Users")).bearer_auth(&key).body("{not json Body-Marker").send().await.expect("post");
    });
    // The admin web page: the admin key goes in a form body, the session in a cookie, the
    // search term in the query string; none of them reaches the log.
    let minted = scim_server(dir.path(), &["key", "create", "--admin", "--label", "web"]);
    assert!(minted.status.success(), "{minted:?}");
    let admin = String::from_utf8_lossy(&minted.stdout)
        .lines()
        .last()
        .expect("the key")
        .trim()
        .to_string();
    let origin = base.trim_end_matches("/scim/v2").to_string();
    let web = rt.block_on(web_session(&origin, &admin));
    // A webhook endpoint's signing secret, in an answer and through the control socket.
    let hook_secret = rt.block_on(async {
        let r = client()
            .post(format!("{origin}/admin/v1/webhooks"))
            .bearer_auth(&admin)
            .header("Content-Type", "application/json")
            .body(r#"{"url": "https://hooks.example.com/x", "events": ["*"]}"#)
            .send()
            .await
            .expect("add");
        let body: serde_json::Value = r.json().await.expect("json");
        body["secret"].as_str().expect("a secret").to_string()
    });
    let added = scim_server(
        dir.path(),
        &[
            "webhook",
            "add",
            "https://hooks.example.com/y",
            "--events",
            "*",
        ],
    );
    assert!(added.status.success(), "{added:?}");
    let cli_secret = last_word_of(&String::from_utf8_lossy(&added.stdout));
    sigterm(&child);
    assert!(wait(&mut child, Duration::from_secs(30)).is_some_and(|s| s.success()));
    let text = std::fs::read_to_string(&log).expect("log");
    assert!(
        text.contains("/admin/signin"),
        "the web requests are logged: {text}"
    );
    for secret in [
        admin.as_str(),
        &web.session,
        &web.csrf,
        &hook_secret,
        &cli_secret,
        "whsec_",
        "Search-Marker",
        "Web-Key-Marker",
    ] {
        assert!(
            !text.contains(secret),
            "the log carries {secret:?}:\n{text}"
        );
    }
    assert!(
        text.contains("request"),
        "the log has request lines: {text}"
    );
    for secret in [
        key.as_str(),
        &key[key.len() - 12..],
        "Password-Marker-7",
        "Title-Marker",
        "body.marker.user",
        "Filter-Marker",
        "Wrong-Key-Marker",
        "Body-Marker",
    ] {
        assert!(
            !text.contains(secret),
            "the log carries {secret:?}:\n{text}"
        );
    }
}

/// What a web sign-in produced: the session cookie's value and the session's CSRF token.
struct WebSession {
    session: String,
    csrf: String,
}

/// Signs in on the admin web page with `admin` (after a failed attempt with a wrong key), and
/// loads a few pages, among them a search.
async fn web_session(origin: &str, admin: &str) -> WebSession {
    let c = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(0)
        .build()
        .expect("client");
    let cookie_of = |r: &reqwest::Response, name: &str| {
        r.headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|v| v.strip_prefix(&format!("{name}=")))
            .and_then(|v| v.split(';').next())
            .map(str::to_string)
            .unwrap_or_default()
    };
    let csrf_of = |html: &str| {
        html.split("name=\"csrf\" value=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .expect("a CSRF token")
            .to_string()
    };
    let form = c
        .get(format!("{origin}/admin/signin"))
        .send()
        .await
        .expect("sign-in form");
    let signin = cookie_of(&form, "scim_admin_signin");
    let token = csrf_of(&form.text().await.expect("body"));
    let mut session = String::new();
    for key in ["scim_Web-Key-Marker", admin] {
        let r = c
            .post(format!("{origin}/admin/signin"))
            .header("Cookie", format!("scim_admin_signin={signin}"))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(format!("csrf={token}&key={key}"))
            .send()
            .await
            .expect("sign in");
        session = cookie_of(&r, "scim_admin_session");
    }
    assert!(!session.is_empty(), "signed in");
    let mut csrf = String::new();
    for path in ["/admin", "/admin/users?q=Search-Marker", "/admin/keys"] {
        let r = c
            .get(format!("{origin}{path}"))
            .header("Cookie", format!("scim_admin_session={session}"))
            .send()
            .await
            .expect("page");
        assert_eq!(r.status(), 200, "{path}");
        csrf = csrf_of(&r.text().await.expect("body"));
    }
    WebSession { session, csrf }
}

/// With `shutdown_drain_secs`, SIGTERM first turns readiness false while requests are still
/// served (a load balancer routes traffic away), then stops cleanly.
#[test]
fn sigterm_with_a_drain_period_turns_readiness_false_while_still_serving() {
    let dir = tempfile::tempdir().expect("dir");
    let (mut child, base, key) = serve_with(dir.path(), &[("SCIM_SHUTDOWN_DRAIN_SECS", "3")]);
    let key = key.expect("a key is minted on first start");
    let origin = base.trim_end_matches("/scim/v2").to_string();
    let readyz = || get(&format!("{origin}/readyz"), "");
    assert_eq!(readyz(), 200);
    sigterm(&child);
    let started = std::time::Instant::now();
    let mut ready = 200;
    while started.elapsed() < Duration::from_secs(2) {
        ready = readyz();
        if ready == 503 {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(ready, 503, "readiness turns false on SIGTERM");
    assert_eq!(
        get(&format!("{base}/Users"), &key),
        200,
        "requests are still served while draining"
    );
    let status = wait(&mut child, Duration::from_secs(30)).expect("exits after the drain");
    assert!(status.success(), "exit 0: {status:?}");
    assert!(
        started.elapsed() >= Duration::from_secs(3),
        "it waited for the drain period"
    );
}

/// The ready file, for programs that start the server: the address and URLs, and the key minted
/// at this start, readable by its owner only; null on a start that minted none.
#[test]
fn the_ready_file_is_private_and_carries_a_working_key_minted_only_once() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("dir");
    let (mut child, ready) = start(dir.path(), &[], &[], Stdio::null());
    let mode = std::fs::metadata(dir.path().join("ready.json"))
        .expect("the ready file")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "mode {mode:o}");
    assert!(!ready.addr.ends_with(":0"), "the real port: {}", ready.addr);
    assert_eq!(
        ready.scim_base_url,
        format!("http://{}/scim/v2", ready.addr)
    );
    assert_eq!(ready.admin_url, format!("http://{}/admin", ready.addr));
    let key = ready.api_key.expect("a fresh store mints a key");
    assert_eq!(get(&format!("{}/Users", ready.scim_base_url), &key), 200);
    sigterm(&child);
    assert!(wait(&mut child, Duration::from_secs(30)).is_some_and(|s| s.success()));

    let (mut child, again) = start(dir.path(), &[], &[], Stdio::null());
    assert_eq!(again.api_key, None, "the store has a key: none is minted");
    assert_eq!(get(&format!("{}/Users", again.scim_base_url), &key), 200);
    sigterm(&child);
    assert!(wait(&mut child, Duration::from_secs(30)).is_some_and(|s| s.success()));
}

/// Once the ready file is there, SIGTERM stops the server gracefully (exit 0), however soon it
/// comes: the server listens for it before it says it is ready.
#[test]
fn sigterm_right_after_the_ready_file_stops_the_server_with_exit_0() {
    let dir = tempfile::tempdir().expect("dir");
    for i in 0..20 {
        let (mut child, _) = start(dir.path(), &[], &[], Stdio::null());
        sigterm(&child);
        let status = wait(&mut child, Duration::from_secs(30)).expect("exits after SIGTERM");
        assert!(status.success(), "start {i}: {status:?}");
    }
}

/// What `serve` prints for people (the README shows it): the base URL, the admin page, and the
/// key on the first start only. Programs read the ready file instead.
#[test]
fn serve_prints_the_urls_and_the_first_key_for_people() {
    let dir = tempfile::tempdir().expect("dir");
    let stdout_of = |mut child: Running| {
        sigterm(&child);
        assert!(wait(&mut child, Duration::from_secs(30)).is_some_and(|s| s.success()));
        let mut out = String::new();
        child
            .stdout
            .take()
            .expect("stdout")
            .read_to_string(&mut out)
            .expect("read stdout");
        out
    };
    let (child, ready) = start(dir.path(), &[], &[], Stdio::piped());
    let out = stdout_of(child);
    let key = ready.api_key.expect("minted");
    let admin = ready.admin_key.expect("an admin key minted");
    let lines: Vec<&str> = out
        .lines()
        .skip_while(|l| !l.starts_with("SCIM base URL"))
        .take(6)
        .collect();
    assert_eq!(
        lines,
        [
            format!("SCIM base URL: {}", ready.scim_base_url),
            format!("Admin web page: {}", ready.admin_url),
            "No admin key existed, so one was minted: sign in to the admin web page with it (it \
             opens every tenant). Copy it now: it is not shown again."
                .into(),
            format!("Admin key: {admin}"),
            "No API key existed, so one was minted: paste it into your identity provider. Copy \
             it now: it is not shown again."
                .into(),
            format!("API key: {key}"),
        ],
        "{out}"
    );
    let (child, ready) = start(dir.path(), &[], &[], Stdio::piped());
    // The admin key opens the admin API (and with it the web page); it is the operator's.
    let tenants = ready.admin_url.replace("/admin", "/admin/v1/tenants");
    assert_eq!(get(&tenants, &admin), 200);
    assert_eq!(ready.admin_key, None, "minted once");
    let out = stdout_of(child);
    assert!(
        out.lines()
            .any(|l| l == format!("SCIM base URL: {}", ready.scim_base_url))
            && out
                .lines()
                .any(|l| l == "API keys: already configured (see `scim-server key list`).")
            && !out.contains("API key:")
            && !out.contains("Admin key:"),
        "{out}"
    );
}

/// Runs a command that must succeed; its stdout.
fn run_ok(dir: &Path, args: &[&str]) -> String {
    let out = scim_server(dir, args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// Runs a command that must fail; its stderr.
fn run_fails(dir: &Path, args: &[&str]) -> String {
    let out = scim_server(dir, args);
    assert!(
        !out.status.success(),
        "{args:?} succeeded: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stderr).to_string()
}

/// The first column of a listing's rows, with the column `n` (after its header line).
fn rows(listing: &str, n: usize) -> Vec<(String, String)> {
    listing
        .lines()
        .skip(1)
        .map(|l| {
            let cols: Vec<&str> = l.split_whitespace().collect();
            (cols[0].to_string(), cols[n].to_string())
        })
        .collect()
}

/// `tenant list`: each tenant's id and status.
fn tenants(dir: &Path) -> Vec<(String, String)> {
    rows(&run_ok(dir, &["tenant", "list"]), 1)
}

/// A feed's actions and targets, from `audit … --json`.
fn feed(dir: &Path, args: &[&str]) -> Vec<String> {
    let text = run_ok(dir, &[&["audit", "--json"], args].concat());
    let entries: Vec<serde_json::Value> = serde_json::from_str(&text).expect("JSON");
    entries
        .iter()
        .map(|e| format!("{} {}", e["action"], e["target_id"]).replace('"', ""))
        .collect()
}

/// `tenant create ID --name NAME` prints the tenant's SCIM base URL, then its key, last.
fn create_tenant(dir: &Path, id: &str, name: &str) -> String {
    let out = run_ok(dir, &["tenant", "create", id, "--name", name]);
    // The address of the running server, or (when none runs) the configured one.
    assert!(
        out.lines()
            .any(|l| l.starts_with("SCIM base URL: http://127.0.0.1:")
                && l.ends_with(&format!("/t/{id}/scim/v2"))),
        "{out}"
    );
    let key = last_word_of(&out);
    assert!(key.starts_with("scim_"), "{out}");
    key
}

fn last_word_of(out: &str) -> String {
    out.split_whitespace()
        .last()
        .unwrap_or_default()
        .to_string()
}

/// POSTs a user to a SCIM base URL; its id.
fn create_user(base: &str, key: &str, user_name: &str) -> String {
    runtime().block_on(async {
        let r = client()
            .post(format!("{base}/Users"))
            .bearer_auth(key)
            .header("Content-Type", "application/scim+json")
            .body(format!(r#"{{"userName":"{user_name}","active":true}}"#))
            .send()
            .await
            .expect("create");
        assert_eq!(r.status(), 201);
        let body: serde_json::Value = r.json().await.expect("json");
        body["id"].as_str().expect("id").to_string()
    })
}

/// A server on a fresh folder: the folder, the child, its base URL and its first key.
fn fresh_server() -> (tempfile::TempDir, Running, String, String) {
    let dir = tempfile::tempdir().expect("dir");
    let (child, base, key) = serve(dir.path());
    (dir, child, base, key.expect("a first key"))
}

/// A runtime for a test's few requests.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

fn stop(mut child: Running) {
    sigterm(&child);
    assert!(wait(&mut child, Duration::from_secs(30)).is_some_and(|s| s.success()));
}

/// Every tenant command, and `--tenant` on keys, history and audit, first through a running
/// server (the control socket), then on the stopped store, then through a server again.
#[test]
fn tenant_commands_with_and_without_a_running_server() {
    let (dir, child, base, default_key) = fresh_server();
    let d = dir.path();
    let origin = base.trim_end_matches("/scim/v2").to_string();
    let acme = format!("{origin}/t/acme/scim/v2");

    // Running: create (its key works on its own base URL only), list, keys, history, audit.
    let key = create_tenant(d, "acme", "Acme Corp");
    assert_eq!(get(&format!("{acme}/Users"), &key), 200);
    assert_eq!(get(&format!("{base}/Users"), &key), 401);
    assert_eq!(get(&format!("{acme}/Users"), &default_key), 401);
    assert!(run_fails(d, &["tenant", "create", "acme", "--name", "Again"]).contains("exists"));
    assert!(run_fails(d, &["tenant", "create", "Not_A_Slug", "--name", "X"]).contains("tenant id"));
    assert_eq!(
        tenants(d),
        [
            ("acme".into(), "active".into()),
            ("default".into(), "active".into())
        ]
    );
    assert!(run_ok(d, &["tenant", "list"]).contains("Acme Corp"));
    let okta = last_word_of(&run_ok(
        d,
        &["key", "create", "--tenant", "acme", "--label", "okta"],
    ));
    assert_eq!(get(&format!("{acme}/Users"), &okta), 200);
    assert_eq!(get(&format!("{base}/Users"), &okta), 401);
    let admin = last_word_of(&run_ok(
        d,
        &[
            "key",
            "create",
            "--tenant",
            "acme",
            "--admin",
            "--label",
            "acme-admin",
        ],
    ));
    assert_eq!(
        get(&format!("{origin}/admin/v1/tenants/acme/users"), &admin),
        200
    );
    assert_eq!(get(&format!("{origin}/admin/v1/users"), &admin), 401);
    assert_eq!(get(&format!("{origin}/admin/v1/tenants"), &admin), 403);
    let keys = rows(&run_ok(d, &["key", "list", "--tenant", "acme"]), 2);
    assert_eq!(keys.len(), 3, "{keys:?}");
    assert!(keys.iter().all(|(_, tenant)| tenant == "acme"), "{keys:?}");
    let user = create_user(&acme, &key, "cli.tenant");
    let history = run_ok(d, &["history", &user, "--tenant", "acme"]);
    assert!(
        history.contains("create User") && history.contains("\"cli.tenant\""),
        "{history}"
    );
    assert_eq!(run_ok(d, &["history", &user]).trim(), "no entries");
    let acme_feed = feed(d, &["--tenant", "acme"]);
    assert_eq!(acme_feed.len(), 4, "{acme_feed:?}");
    assert_eq!(acme_feed[3], format!("create {user}"));
    assert!(
        feed(d, &[]).iter().all(|e| !e.contains(&user)),
        "default's feed"
    );
    assert!(feed(d, &["--operator"]).contains(&"tenant.create acme".to_string()));
    // Disable and enable: the keys stop and start at once.
    assert!(run_ok(d, &["tenant", "disable", "acme"]).contains("disabled"));
    assert_eq!(get(&format!("{acme}/Users"), &key), 401);
    assert_eq!(
        get(&format!("{origin}/admin/v1/tenants/acme/users"), &admin),
        401
    );
    run_ok(d, &["tenant", "enable", "acme"]);
    assert_eq!(get(&format!("{acme}/Users"), &key), 200);
    // An active tenant is not deleted.
    let err = run_fails(d, &["tenant", "delete", "acme", "--yes-delete-all-data"]);
    assert!(err.contains("disable it first"), "{err}");
    stop(child);

    // Stopped: the same commands open the store themselves.
    let bravo_key = create_tenant(d, "bravo", "Bravo");
    let idp = last_word_of(&run_ok(
        d,
        &["key", "create", "--tenant", "bravo", "--label", "idp"],
    ));
    assert_eq!(
        rows(&run_ok(d, &["key", "list", "--tenant", "bravo"]), 2).len(),
        2
    );
    assert_eq!(run_ok(d, &["history", &user, "--tenant", "acme"]), history);
    assert_eq!(feed(d, &["--tenant", "acme"]), acme_feed);
    run_ok(d, &["tenant", "disable", "bravo"]);
    run_ok(d, &["tenant", "enable", "bravo"]);
    run_ok(d, &["tenant", "disable", "acme"]);
    let err = run_fails(d, &["tenant", "delete", "acme"]);
    assert!(err.contains("confirm"), "{err}");
    assert_eq!(tenants(d)[0], ("acme".into(), "disabled".into()));
    run_ok(d, &["tenant", "delete", "acme", "--yes-delete-all-data"]);
    assert_eq!(
        tenants(d),
        [
            ("bravo".into(), "active".into()),
            ("default".into(), "active".into())
        ]
    );
    let operator = feed(d, &["--operator"]);
    assert!(
        operator.ends_with(&["tenant.delete acme".to_string()]),
        "{operator:?}"
    );
    assert!(run_fails(d, &["history", &user, "--tenant", "acme"]).contains("no tenant"));

    // Running again: the deleted tenant's keys are unknown, the other's work; delete it too.
    let (child, base, _) = serve(d);
    let origin = base.trim_end_matches("/scim/v2");
    let bravo = format!("{origin}/t/bravo/scim/v2");
    assert_eq!(get(&format!("{origin}/t/acme/scim/v2/Users"), &key), 401);
    for k in [&bravo_key, &idp] {
        assert_eq!(get(&format!("{bravo}/Users"), k), 200);
    }
    assert_eq!(get(&format!("{base}/Users"), &default_key), 200);
    run_ok(d, &["tenant", "disable", "bravo"]);
    assert_eq!(get(&format!("{bravo}/Users"), &bravo_key), 401);
    run_ok(d, &["tenant", "delete", "bravo", "--yes-delete-all-data"]);
    assert_eq!(tenants(d), [("default".into(), "active".into())]);
    assert_eq!(
        run_ok(d, &["key", "list", "--tenant", "default"])
            .lines()
            .count(),
        2
    );
    stop(child);
    assert!(run_ok(d, &["check"]).contains("consistent"));
}

/// The parts of a tenant's copy that do not move with use (keys' last use does).
fn copy_of(dir: &Path, file: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(dir.join(file)).expect("the copy");
    let mut copy: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    for k in copy["keys"].as_array_mut().expect("keys") {
        k["last_used"] = serde_json::Value::Null;
    }
    copy
}

/// `export --tenant` while the server runs and while it is stopped, then `import --tenant` into
/// a fresh folder: the tenant, its keys and its history come back, nothing of another tenant.
#[test]
fn export_and_import_one_tenant_with_and_without_a_running_server() {
    let (dir, child, base, default_key) = fresh_server();
    let d = dir.path();
    let key = create_tenant(d, "acme", "Acme Corp");
    let acme = base.replace("/scim/v2", "/t/acme/scim/v2");
    let users = [
        create_user(&acme, &key, "export.one"),
        create_user(&acme, &key, "export.two"),
    ];
    create_user(&base, &default_key, "default.only");
    let out = run_ok(d, &["export", "acme.json", "--tenant", "acme"]);
    assert!(out.contains("\"users\":2"), "{out}");
    let err = run_fails(d, &["import", "acme.json", "--tenant", "acme"]);
    assert!(err.contains("running"), "{err}");
    stop(child);
    run_ok(d, &["export", "stopped.json", "--tenant", "acme"]);
    assert_eq!(copy_of(d, "stopped.json"), copy_of(d, "acme.json"));
    let text = std::fs::read_to_string(d.join("acme.json")).expect("copy");
    assert!(!text.contains("default.only"), "another tenant's data");
    // Into another tenant of the same store: refused, acme keeps its key.
    let err = run_fails(d, &["import", "acme.json", "--tenant", "acme-copy"]);
    assert!(err.contains("already"), "{err}");
    let keys = rows(&run_ok(d, &["key", "list", "--tenant", "acme"]), 2);
    assert_eq!(keys.len(), 1, "{keys:?}");

    let import = [
        "--data-dir",
        "fresh",
        "import",
        "acme.json",
        "--tenant",
        "acme",
    ];
    assert!(run_ok(d, &import).contains("every invariant holds"));
    let err = run_fails(d, &import);
    assert!(err.contains("empty"), "a second import is refused: {err}");
    let (child, ready) = start(d, &["--data-dir", "fresh"], &[], Stdio::null());
    let fresh = ready.scim_base_url.replace("/scim/v2", "/t/acme/scim/v2");
    let rt = runtime();
    let listed = |base: String, key: String| {
        rt.block_on(async {
            client()
                .get(format!("{base}/Users"))
                .bearer_auth(key)
                .send()
                .await
                .expect("list")
                .json::<serde_json::Value>()
                .await
                .expect("json")
        })
    };
    // The tenant's own key opens its users; `default` here is a new, empty tenant.
    let list = listed(fresh, key.clone());
    assert_eq!(
        crate::support::each(&list["Resources"], "id"),
        users.iter().cloned().collect(),
        "{list}"
    );
    let fresh_default = ready.api_key.expect("a key for the new default tenant");
    assert_eq!(
        listed(ready.scim_base_url.clone(), fresh_default)["totalResults"],
        0
    );
    assert_eq!(get(&format!("{}/Users", ready.scim_base_url), &key), 401);
    let fresh_dir = ["--data-dir", "fresh"];
    let history = run_ok(
        d,
        &[&fresh_dir[..], &["history", &users[0], "--tenant", "acme"]].concat(),
    );
    assert!(history.contains("\"export.one\""), "{history}");
    stop(child);
    assert!(run_ok(d, &["--data-dir", "fresh", "check"]).contains("consistent"));
}

/// `webhook add`, `list`, `disable` and `enable`, through a running server (the control socket)
/// and on the stopped store: the secret printed once, last; never listed.
#[test]
fn webhook_commands_with_and_without_a_running_server() {
    let (dir, child, _base, _key) = fresh_server();
    let d = dir.path();
    let out = run_ok(
        d,
        &[
            "webhook",
            "add",
            "https://hooks.example.com/scim",
            "--events",
            "user.*,group.updated",
        ],
    );
    let secret = last_word_of(&out);
    assert!(secret.starts_with("whsec_"), "{out}");
    scim_core::webhook::SigningSecret::parse(&secret).expect("a Standard Webhooks secret");
    let listed = run_ok(d, &["webhook", "list"]);
    assert!(
        !listed.contains(&secret) && !listed.contains("whsec_"),
        "{listed}"
    );
    let row = listed
        .lines()
        .find(|l| l.contains("https://hooks.example.com/scim"))
        .unwrap_or_else(|| panic!("{listed}"));
    let id = row.split_whitespace().next().expect("id").to_string();
    assert!(
        row.contains("enabled") && row.contains("user.*,group.updated"),
        "{row}"
    );
    run_ok(d, &["webhook", "disable", &id]);
    stop(child);
    // Stopped: the command reads and writes the store itself.
    let listed = run_ok(d, &["webhook", "list"]);
    assert!(
        listed.contains(&id) && listed.contains("disabled"),
        "{listed}"
    );
    let enabled = run_ok(d, &["webhook", "enable", &id]);
    assert!(enabled.contains("enabled"), "{enabled}");
    for bad in [
        &[
            "webhook",
            "add",
            "http://hooks.example.com/x",
            "--events",
            "*",
        ][..],
        &[
            "webhook",
            "add",
            "https://hooks.example.com/x",
            "--events",
            "users.*",
        ],
        &["webhook", "add", "https://hooks.example.com/x"],
        &["webhook", "list", "--tenant", "nosuch"],
        &["webhook", "disable", "no-such-endpoint"],
    ] {
        run_fails(d, bad);
    }
    let listed = run_ok(d, &["webhook", "list"]);
    assert_eq!(listed.lines().count(), 2, "one endpoint still: {listed}");
}

/// Runs a command with `SCIM_` settings `env`.
fn scim_server_with(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    Command::new(BIN)
        .current_dir(dir)
        .args(args)
        .env_remove("SCIM_LOG")
        .envs(env.iter().copied())
        .output()
        .expect("run scim-server")
}

/// A request a [`receiver`] was sent: its header lines (names lower-cased) and its body.
struct Received {
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Received {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A webhook receiver on 127.0.0.1 that answers every request `204 No Content`: its URL and
/// what it is sent.
fn receiver() -> (String, std::sync::mpsc::Receiver<Received>) {
    use std::io::{BufRead as _, BufReader, Write as _};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            let mut headers = Vec::new();
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 0) && line != "\r\n" {
                if let Some((name, value)) = line.trim_end().split_once(':') {
                    headers.push((name.to_ascii_lowercase(), value.trim().to_string()));
                }
                line.clear();
            }
            let length = headers
                .iter()
                .find(|(n, _)| n == "content-length")
                .and_then(|(_, v)| v.parse().ok())
                .unwrap_or(0usize);
            let mut body = vec![0u8; length];
            if reader.read_exact(&mut body).is_err() {
                continue;
            }
            let _ = stream.write_all(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n");
            let _ = tx.send(Received { headers, body });
        }
    });
    (url, rx)
}

/// The next test message a receiver was sent (deliveries of events are passed over).
fn next_test_message(rx: &std::sync::mpsc::Receiver<Received>) -> Received {
    loop {
        let got = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("a test message within 30 s");
        let body: serde_json::Value = serde_json::from_slice(&got.body).expect("JSON");
        if body["type"] == "webhook.test" {
            return got;
        }
    }
}

/// Whether a message is signed with `secret`.
fn signed_with(message: &Received, secret: &str) -> bool {
    let secret = scim_core::webhook::SigningSecret::parse(secret).expect("a secret");
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    scim_core::webhook::verify(
        &secret,
        message.header("webhook-id"),
        message.header("webhook-timestamp"),
        message.header("webhook-signature"),
        &message.body,
        now,
        300,
    )
    .is_ok()
}

/// A port on 127.0.0.1 that nothing listens on.
fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// `webhook rotate-secret` and `webhook test`, through a running server (the control socket)
/// and on the stopped store: the new secret printed once, last; the previous one signing beside
/// it during the grace; a test message delivered (exit 0) or not (exit 1).
#[test]
fn webhook_rotate_secret_and_test_with_and_without_a_running_server() {
    let dir = tempfile::tempdir().expect("dir");
    let d = dir.path();
    let env = [("SCIM_WEBHOOK_ALLOW_PRIVATE", "true")];
    let (child, _base, _key) = serve_with(d, &env);
    let run = |args: &[&str]| {
        let out = scim_server_with(d, args, &env);
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        (out.status.success(), stdout, stderr)
    };
    let ok = |args: &[&str]| {
        let (success, stdout, stderr) = run(args);
        assert!(success, "{args:?}: {stdout}{stderr}");
        stdout
    };
    let (url, received) = receiver();
    let out = ok(&["webhook", "add", &url, "--events", "user.*"]);
    let first = last_word_of(&out);
    let id = out
        .split_whitespace()
        .nth(3)
        .expect("Added webhook endpoint ID")
        .to_string();

    // Through the running server.
    let out = ok(&["webhook", "rotate-secret", &id]);
    let second = last_word_of(&out);
    assert!(second.starts_with("whsec_") && second != first, "{out}");
    scim_core::webhook::SigningSecret::parse(&second).expect("a Standard Webhooks secret");
    assert!(
        out.contains(&id) && out.contains(&url) && out.contains("(events: user.*)"),
        "what `add` says of the endpoint: {out}"
    );
    assert!(
        out.contains("The previous secret still signs until "),
        "{out}"
    );
    assert!(!ok(&["webhook", "list"]).contains("whsec_"));
    let out = ok(&["webhook", "test", &id]);
    assert!(
        out.starts_with("Delivered: 204 in ") && out.contains("(webhook-id msg_test_"),
        "{out}"
    );
    let message = next_test_message(&received);
    assert!(
        out.contains(message.header("webhook-id").expect("an id")),
        "{out}"
    );
    assert!(
        signed_with(&message, &second) && signed_with(&message, &first),
        "both secrets sign during the grace: {:?}",
        message.headers
    );

    // An endpoint nobody answers: not delivered, exit 1.
    let dead = format!("http://127.0.0.1:{}/hook", closed_port());
    let out = ok(&["webhook", "add", &dead, "--events", "*"]);
    let dead_id = out.split_whitespace().nth(3).expect("id").to_string();
    let (success, out, _) = run(&["webhook", "test", &dead_id]);
    assert!(!success, "{out}");
    assert!(
        out.starts_with("Not delivered: could not connect")
            && out.contains(", webhook-id msg_test_"),
        "{out}"
    );
    stop(child);

    // Stopped: the store holds both secrets, the previous one for the grace only.
    runtime().block_on(async {
        let config = server::config::Config {
            data_dir: d.join("data"),
            ..server::config::Config::default()
        };
        let store = server::open(&config).await.expect("store").store;
        let core = server::core(&config, store).expect("the core");
        let tenant = scim_core::model::TenantId::default_tenant();
        let endpoint = core.webhook(&tenant, &id).await.expect("the endpoint");
        let now = time::OffsetDateTime::now_utc();
        let secrets = |at| {
            core.signing_secrets(&endpoint, at)
                .expect("secrets")
                .iter()
                .map(|s| s.reveal())
                .collect::<Vec<_>>()
        };
        assert_eq!(secrets(now), vec![second.clone(), first.clone()]);
        assert_eq!(
            secrets(now + time::Duration::hours(25)),
            vec![second.clone()]
        );
    });

    // On the stopped store, the command does it itself: without a grace, the new secret alone.
    let out = ok(&["webhook", "rotate-secret", &id, "--grace-hours", "0"]);
    let third = last_word_of(&out);
    assert!(
        third.starts_with("whsec_") && third != second && third != first,
        "{out}"
    );
    assert!(
        out.contains("The previous secret no longer signs."),
        "{out}"
    );
    let out = ok(&["webhook", "test", &id]);
    assert!(out.starts_with("Delivered: 204 in "), "{out}");
    let message = next_test_message(&received);
    assert!(
        signed_with(&message, &third) && !signed_with(&message, &second),
        "{:?}",
        message.headers
    );
    let (success, out, _) = run(&["webhook", "test", &dead_id]);
    assert!(!success && out.starts_with("Not delivered: "), "{out}");
    for bad in [
        &["webhook", "rotate-secret", &id, "--grace-hours", "169"][..],
        &["webhook", "rotate-secret", "no-such-endpoint"],
        &["webhook", "test", "no-such-endpoint"],
        &["webhook", "test", &id, "--tenant", "nosuch"],
    ] {
        let (success, out, err) = run(bad);
        assert!(!success, "{bad:?}: {out}");
        assert!(err.starts_with("scim-server: "), "{bad:?}: {err}");
    }
    // The refused rotation changed nothing: the last secret still signs, alone.
    ok(&["webhook", "test", &id]);
    let message = next_test_message(&received);
    assert!(signed_with(&message, &third), "{:?}", message.headers);
}
