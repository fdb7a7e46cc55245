//! `cargo xtask browser`: the admin web page in a real browser. Builds and starts the real
//! server (fresh store, as `conformance` does), mints an admin key with the `scim-server key
//! create --admin` command, starts Debian's `chromedriver` driving headless `chromium`, and walks
//! through what an administrator does: sign in, mint a key and read it once, copy it, find a user
//! provisioned through SCIM, read its history ("Scim System User"), override its display name,
//! look at a group, revoke a key (which SCIM then refuses), create a tenant on the tenants page
//! and open it (its home shows its own SCIM base URL; a key minted there is its own), disable
//! and delete it, sign out. Any JavaScript error or content-security-policy violation in the
//! browser's log fails the run.
//!
//! The WebDriver client is fantoccini, over plain HTTP (chromedriver listens on loopback).

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::error::NewSessionError;
use fantoccini::wd::{TimeoutConfiguration, WebDriverCompatibleCommand};
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{json, Value};

use crate::server;

pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// Installs Debian's chromium and chromium-driver when either is missing and this runs as root
/// with apt-get (as on a fresh CI machine or container), so that `cargo xtask ci` sets up what it
/// needs; elsewhere the caller reports what to install.
fn install_browser_if_missing() {
    let missing = [CHROMIUM, CHROMEDRIVER]
        .iter()
        .any(|p| !Path::new(p).exists());
    let root = std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    if !missing || !root || !Path::new("/usr/bin/apt-get").exists() {
        return;
    }
    eprintln!("== installing chromium and chromium-driver with apt-get");
    let apt = |args: &[&str]| {
        std::process::Command::new("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .is_ok_and(|s| s.success())
    };
    let _ =
        apt(&["update", "-qq"]) && apt(&["install", "-y", "-qq", "chromium", "chromium-driver"]);
}

/// Runs the scenario; Ok when every step passed.
pub fn run(release: bool) -> Result<(), String> {
    install_browser_if_missing();
    for (path, package) in [(CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")] {
        if !Path::new(path).exists() {
            return Err(format!(
                "{path} is missing: install it with `apt-get install -y {package}` \
                 (as root, `cargo xtask browser` and .ci/run do it themselves); the browser test \
                 does not skip"
            ));
        }
    }
    let bin = server::build(release)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("runtime: {e}"))?;
    let s = server::start_fresh(&runtime, &bin, &[])?;
    let admin_key = mint_admin_key(&bin, &s.data_dir)?;
    let driver = Driver::start()?;
    let outcome = runtime.block_on(scenario(&driver, &s, &admin_key));
    drop(driver);
    let logs = s.server.logs();
    let stopped = s.stop();
    match outcome {
        Ok(steps) => {
            for step in &steps {
                eprintln!("   ok  {step}");
            }
            stopped?;
            if logs.contains(&admin_key) {
                return Err("the server log carries the admin key".into());
            }
            eprintln!("== browser: {} steps passed", steps.len());
            Ok(())
        }
        Err(e) => Err(e),
    }
}

/// `scim-server key create --admin` against the running server's data folder (over its
/// control socket); the key is the last line printed.
fn mint_admin_key(bin: &Path, data_dir: &Path) -> Result<String, String> {
    let out = Command::new(bin)
        .args([
            "key",
            "create",
            "--admin",
            "--label",
            "Browser admin",
            "--data-dir",
        ])
        .arg(data_dir)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{}: {e}", bin.display()))?;
    if !out.status.success() {
        return Err(format!(
            "scim-server key create --admin failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .map(|l| l.trim().to_string())
        .filter(|k| k.starts_with("scim_"))
        .ok_or_else(|| "scim-server key create printed no key".to_string())
}

/// A chromedriver process on a free loopback port.
struct Driver {
    child: Child,
    url: String,
    _profile: tempfile::TempDir,
}

impl Driver {
    fn start() -> Result<Driver, String> {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("a free port: {e}"))?
            .port();
        let profile = tempfile::Builder::new()
            .prefix("scim-browser-")
            .tempdir()
            .map_err(|e| format!("temporary folder: {e}"))?;
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("{CHROMEDRIVER}: {e}"))?;
        Ok(Driver {
            child,
            url: format!("http://127.0.0.1:{port}"),
            _profile: profile,
        })
    }

    fn profile(&self) -> String {
        self._profile.path().display().to_string()
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// ChromeDriver's command for the browser's console log (`POST /session/{id}/se/log`), which
/// is not a W3C command, so fantoccini has no method for it.
#[derive(Debug)]
struct BrowserLog;

impl WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(
        &self,
        base: &url::Url,
        session: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base.join(&format!("session/{}/se/log", session.unwrap_or_default()))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (
            http::Method::POST,
            Some(json!({"type": "browser"}).to_string()),
        )
    }
}

/// One WebDriver session: a headless Chromium, through fantoccini.
struct Browser {
    client: Client,
}

impl Browser {
    /// Opens a session, retrying while chromedriver does not listen yet (20 s at most).
    async fn open(driver: &Driver) -> Result<Browser, String> {
        let caps = json!({
            "browserName": "chrome",
            "goog:loggingPrefs": {"browser": "ALL"},
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                         "--disable-dev-shm-usage", "--window-size=1280,900",
                         format!("--user-data-dir={}", driver.profile())]
            }
        });
        let Value::Object(caps) = caps else {
            return Err("capabilities are not an object".into());
        };
        let mut builder = ClientBuilder::new(HttpConnector::new());
        builder.capabilities(caps);
        let deadline = Instant::now() + Duration::from_secs(20);
        let client = loop {
            match builder.connect(&driver.url).await {
                Ok(c) => break c,
                // Not listening yet.
                Err(NewSessionError::Failed(_) | NewSessionError::FailedC(_))
                    if Instant::now() < deadline =>
                {
                    tokio::time::sleep(Duration::from_millis(100)).await
                }
                Err(e) => return Err(format!("chromedriver: no session within 20 s: {e}")),
            }
        };
        let b = Browser { client };
        b.client
            .update_timeouts(TimeoutConfiguration::new(
                Some(Duration::from_secs(10)),
                Some(Duration::from_secs(30)),
                Some(Duration::from_secs(3)),
            ))
            .await
            .map_err(|e| format!("timeouts: {e}"))?;
        Ok(b)
    }

    async fn go(&self, url: &str) -> Result<(), String> {
        self.client
            .goto(url)
            .await
            .map_err(|e| format!("go to {url}: {e}"))
    }

    async fn url(&self) -> Result<String, String> {
        self.client
            .current_url()
            .await
            .map(String::from)
            .map_err(|e| format!("current URL: {e}"))
    }

    async fn source(&self) -> Result<String, String> {
        self.client
            .source()
            .await
            .map_err(|e| format!("page source: {e}"))
    }

    async fn find(&self, css: &str) -> Result<Element, String> {
        self.client
            .find(Locator::Css(css))
            .await
            .map_err(|e| format!("find {css:?}: {e}"))
    }

    async fn all(&self, css: &str) -> Result<Vec<Element>, String> {
        self.client
            .find_all(Locator::Css(css))
            .await
            .map_err(|e| format!("find all {css:?}: {e}"))
    }

    async fn click(&self, css: &str) -> Result<(), String> {
        self.find(css)
            .await?
            .click()
            .await
            .map_err(|e| format!("click {css:?}: {e}"))
    }

    /// Clicks something that loads a new page, and waits until the new page has loaded.
    async fn submit(&self, css: &str) -> Result<(), String> {
        self.script("window.__scimOldPage = true; return true;")
            .await?;
        self.click(css).await?;
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let loaded = self
                .script("return !window.__scimOldPage && document.readyState === 'complete';")
                .await
                .unwrap_or(Value::Bool(false));
            if loaded == true {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!("clicking {css:?} loaded no new page within 15 s"));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn type_into(&self, css: &str, text: &str) -> Result<(), String> {
        let e = self.find(css).await?;
        e.clear().await.map_err(|e| format!("clear {css:?}: {e}"))?;
        e.send_keys(text)
            .await
            .map_err(|e| format!("type into {css:?}: {e}"))
    }

    async fn text_of(&self, element: &Element) -> Result<String, String> {
        element.text().await.map_err(|e| format!("text: {e}"))
    }

    async fn text(&self, css: &str) -> Result<String, String> {
        let e = self.find(css).await?;
        self.text_of(&e).await
    }

    async fn value(&self, css: &str) -> Result<String, String> {
        let e = self.find(css).await?;
        e.prop("value")
            .await
            .map(Option::unwrap_or_default)
            .map_err(|e| format!("value of {css:?}: {e}"))
    }

    async fn script(&self, script: &str) -> Result<Value, String> {
        self.client
            .execute(script, Vec::new())
            .await
            .map_err(|e| format!("script: {e}"))
    }

    async fn window_size(&self, width: u32, height: u32) -> Result<(), String> {
        self.client
            .set_window_size(width, height)
            .await
            .map_err(|e| format!("window size: {e}"))
    }

    /// The browser console since the last call (errors include CSP violations).
    async fn log(&self) -> Result<Vec<Value>, String> {
        let v = self
            .client
            .issue_cmd(BrowserLog)
            .await
            .map_err(|e| format!("browser log: {e}"))?;
        Ok(v.as_array().cloned().unwrap_or_default())
    }

    async fn close(self) {
        let _ = self.client.close().await;
    }
}

fn check(ok: bool, what: &str) -> Result<(), String> {
    if ok {
        Ok(())
    } else {
        Err(what.to_string())
    }
}

async fn scenario(
    driver: &Driver,
    s: &server::Fresh,
    admin_key: &str,
) -> Result<Vec<String>, String> {
    let browser = Browser::open(driver).await?;
    let result = steps(&browser, s, admin_key).await;
    let result = match result {
        Ok(steps) => Ok(steps),
        Err(e) => {
            let url = browser.url().await.unwrap_or_default();
            let source = browser.source().await.unwrap_or_default();
            let tail: String = source.chars().take(4000).collect();
            Err(format!("{e}\n   at {url}\n   page:\n{tail}"))
        }
    };
    browser.close().await;
    result
}

async fn steps(b: &Browser, s: &server::Fresh, admin_key: &str) -> Result<Vec<String>, String> {
    let mut done = Vec::new();
    let base = &s.server.base;
    let origin = s
        .server
        .admin_url
        .strip_suffix("/admin")
        .ok_or_else(|| format!("an admin URL without /admin: {}", s.server.admin_url))?;
    let http = reqwest::Client::new();

    // A user and a group provisioned through SCIM, as OneLogin would.
    let r = http
        .post(format!("{base}/Users"))
        .bearer_auth(&s.key)
        .header("Content-Type", "application/scim+json")
        .body(
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": "jane.browser@example.com",
                "name": {"givenName": "Jane", "familyName": "Browser"},
                "emails": [{"value": "jane.browser@example.com", "primary": true}],
                "active": true})
            .to_string(),
        )
        .send()
        .await
        .map_err(|e| format!("POST /Users: {e}"))?;
    check(r.status() == 201, "POST /Users through SCIM answers 201")?;
    let user: Value = r.json().await.map_err(|e| e.to_string())?;
    let user_id = user["id"].as_str().unwrap_or_default().to_string();
    let r = http
        .post(format!("{base}/Groups"))
        .bearer_auth(&s.key)
        .header("Content-Type", "application/scim+json")
        .body(
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                "displayName": "Browser testers", "members": [{"value": user_id}]})
            .to_string(),
        )
        .send()
        .await
        .map_err(|e| format!("POST /Groups: {e}"))?;
    check(r.status() == 201, "POST /Groups through SCIM answers 201")?;
    done.push("a user and a group provisioned through SCIM".to_string());

    // Signing in.
    b.go(&format!("{origin}/admin")).await?;
    check(
        b.url().await?.ends_with("/admin/signin"),
        "/admin without a session leads to the sign-in page",
    )?;
    b.type_into("#key", &s.key).await?;
    b.submit("form[action='/admin/signin'] button[type=submit]")
        .await?;
    check(
        b.text(".msg.error").await?.contains("SCIM key"),
        "a SCIM key is refused at sign-in with a clear message",
    )?;
    b.type_into("#key", admin_key).await?;
    b.submit("form[action='/admin/signin'] button[type=submit]")
        .await?;
    check(
        b.url().await? == format!("{origin}/admin"),
        "signing in with the admin key opens /admin",
    )?;
    check(!b.url().await?.contains(admin_key), "the key is in no URL")?;
    check(
        b.value("#scim-url").await? == *base,
        "the home page shows the SCIM base URL to paste into OneLogin",
    )?;
    check(
        b.text("ol.howto").await?.contains("Enable"),
        "the home page explains OneLogin's Enable button",
    )?;
    done.push(
        "sign-in: SCIM key refused, admin key accepted; SCIM base URL and how-to shown".into(),
    );

    // Minting a key, shown once, with its copy button.
    b.go(&format!("{origin}/admin/keys")).await?;
    b.type_into("#label", "OneLogin").await?;
    b.submit("form[action='/admin/keys'] button[type=submit]")
        .await?;
    let key = b.value("#new-key").await?;
    check(
        key.starts_with("scim_") && key.len() == 69,
        "the minted key is shown",
    )?;
    b.click("button[data-copy='new-key']").await?;
    let mut copied = String::new();
    for _ in 0..50 {
        copied = b.text("#new-key-status").await?;
        if !copied.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    check(
        copied == "Copied." || copied == "Select the text and copy it.",
        &format!("the Copy API Key button runs (status {copied:?})"),
    )?;
    let r = http
        .get(format!("{base}/Users"))
        .bearer_auth(&key)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    check(r.status() == 200, "the minted key works on SCIM")?;
    b.go(&format!("{origin}/admin/keys")).await?;
    let list = b.source().await?;
    check(
        list.contains("OneLogin") && !list.contains(&key),
        "the key list shows the new key's label, never the key",
    )?;
    done.push(format!(
        "key minted and read back once; Copy API Key button answered {copied:?}; the list no longer shows it"
    ));

    // Finding the SCIM user and reading its history.
    b.go(&format!("{origin}/admin/users")).await?;
    b.type_into("#q", "jane.browser").await?;
    b.submit("form.search button[type=submit]").await?;
    let rows = b.all("main table tbody tr").await?;
    check(rows.len() == 1, "the search finds exactly the SCIM user")?;
    let row = b.text_of(&rows[0]).await?;
    check(
        row.contains("Jane Browser")
            && row.contains("jane.browser@example.com")
            && row.contains("active")
            && row.contains("Everyone"),
        &format!("the row shows display name, userName, status, role: {row:?}"),
    )?;
    b.submit("main table tbody tr a").await?;
    check(
        b.url().await?.ends_with(&format!("/admin/users/{user_id}")),
        "the user's page opens",
    )?;
    let mut actors = Vec::new();
    for cell in b
        .all("section[aria-labelledby=history] tbody td:nth-child(2)")
        .await?
    {
        actors.push(b.text_of(&cell).await?);
    }
    check(
        actors.iter().any(|a| a.starts_with("Scim System User")),
        &format!("the history's actor column shows Scim System User: {actors:?}"),
    )?;
    check(
        b.text("pre.json")
            .await?
            .contains("\"userName\": \"jane.browser@example.com\""),
        "the user's SCIM resource is shown",
    )?;
    done.push("user found by search; its history shows the actor \"Scim System User\"".into());

    // Overriding the display name.
    b.type_into("#display_name", "Jane B. (override)").await?;
    b.submit("form[action$='/display-name'] button[type=submit]")
        .await?;
    check(
        b.text("h1").await? == "Jane B. (override)",
        "the new display name is the page title",
    )?;
    let history = b.text("section[aria-labelledby=history] table").await?;
    check(
        history.contains("profile.displayName")
            && history.contains("Jane Browser")
            && history.contains("Jane B. (override)")
            && history.contains("Browser admin"),
        &format!("the history records the override, from what to what, by the admin: {history}"),
    )?;
    done.push("display name overridden; the history shows the change and the admin actor".into());

    // Groups.
    b.go(&format!("{origin}/admin/groups")).await?;
    b.submit("main table tbody tr a").await?;
    check(
        b.text("section[aria-labelledby=members] table")
            .await?
            .contains("jane.browser@example.com"),
        "the group page lists its member",
    )?;
    done.push("group page lists its members".into());

    // Revoking the key minted above.
    b.go(&format!("{origin}/admin/keys")).await?;
    b.submit("button[aria-label='Revoke key OneLogin']").await?;
    let mut revoked = false;
    for row in b.all("main table tbody tr").await? {
        let text = b.text_of(&row).await?;
        if text.starts_with("OneLogin") {
            revoked = text.contains("revoked");
        }
    }
    check(revoked, "the revoked key is marked revoked")?;
    let r = http
        .get(format!("{base}/Users"))
        .bearer_auth(&key)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    check(r.status() == 401, "the revoked key gets 401 on SCIM")?;
    done.push("key revoked in the page; SCIM answers it 401".into());

    tenants(b, origin, base, &http, &mut done).await?;

    // On a phone-sized window nothing overflows sideways.
    b.window_size(390, 844).await?;
    for page in [format!("/admin/users/{user_id}"), "/admin/tenants".into()] {
        b.go(&format!("{origin}{page}")).await?;
        let fits = b
            .script("return document.documentElement.scrollWidth <= window.innerWidth + 1;")
            .await?;
        check(fits == true, &format!("{page} fits a 390 px wide window"))?;
    }
    done.push("a user's page and the tenants page fit a phone-sized window".into());

    // Signing out.
    b.submit("form.signout button").await?;
    check(
        b.url().await?.ends_with("/admin/signin"),
        "signing out leads to the sign-in page",
    )?;
    b.go(&format!("{origin}/admin/keys")).await?;
    check(
        b.url().await?.ends_with("/admin/signin"),
        "after signing out, pages need a new sign-in",
    )?;
    done.push("signed out; pages need a new sign-in".into());

    let problems: Vec<String> = b
        .log()
        .await?
        .iter()
        .filter(|e| e["level"] == "SEVERE")
        .map(|e| e["message"].as_str().unwrap_or_default().to_string())
        // A page answered 401 or 403 on purpose (the refused SCIM key) is logged as a failed load.
        .filter(|m| !(m.contains("/admin/signin") && m.contains("status of 403")))
        .collect();
    check(
        problems.is_empty(),
        &format!("no JavaScript error or CSP violation in the browser: {problems:?}"),
    )?;
    done.push("no JavaScript error or CSP violation in the browser log".into());
    Ok(done)
}

/// The operator's tenants: creates one on the tenants page (its SCIM base URL and first key
/// shown once), opens it (its home shows its own base URL, its links stay within it), mints a
/// key of its own there, then disables and deletes it.
async fn tenants(
    b: &Browser,
    origin: &str,
    base: &str,
    http: &reqwest::Client,
    done: &mut Vec<String>,
) -> Result<(), String> {
    let status = |url: String, key: String| async move {
        http.get(format!("{url}/Users"))
            .bearer_auth(key)
            .send()
            .await
            .map(|r| r.status().as_u16())
            .map_err(|e| format!("GET {url}/Users: {e}"))
    };
    let tenant_url = base.replacen(origin, &format!("{origin}/t/browser-co"), 1);

    b.go(&format!("{origin}/admin")).await?;
    b.submit("header nav a[href='/admin/tenants']").await?;
    check(
        b.text("main table").await?.contains("default"),
        "the tenants page lists the default tenant",
    )?;
    b.type_into("#tenant-id", "browser-co").await?;
    b.type_into("#tenant-name", "Browser Co").await?;
    b.submit("form[action='/admin/tenants'] button[type=submit]")
        .await?;
    check(
        b.value("#scim-url").await? == tenant_url,
        &format!("the new tenant's SCIM base URL is shown: {tenant_url}"),
    )?;
    let key = b.value("#new-key").await?;
    check(
        key.starts_with("scim_") && key.len() == 69,
        "the new tenant's first SCIM key is shown",
    )?;
    check(
        status(tenant_url.clone(), key.clone()).await? == 200
            && status(base.to_string(), key.clone()).await? == 401,
        "its key works on its own SCIM base URL only",
    )?;
    done.push("tenant created on the tenants page; its base URL and first key shown".into());

    b.submit("main a[href='/admin/t/browser-co']").await?;
    check(
        b.url().await? == format!("{origin}/admin/t/browser-co"),
        "the tenant's home page opens",
    )?;
    check(
        b.value("#scim-url").await? == tenant_url,
        "the tenant's home page shows its own SCIM base URL (/t/browser-co/scim/v2)",
    )?;
    check(
        b.text("header .tenant").await?.contains("Browser Co"),
        "the header names the tenant",
    )?;
    check(
        b.text("ol.howto").await?.contains("Enable"),
        "the tenant's home page has the OneLogin steps",
    )?;
    for link in b.all("header nav a").await? {
        let href = link
            .attr("href")
            .await
            .map_err(|e| format!("href: {e}"))?
            .unwrap_or_default();
        check(
            href.starts_with("/admin/t/browser-co") || href == "/admin/tenants",
            &format!("the tenant's navigation stays within it: {href}"),
        )?;
    }
    b.submit("header nav a[href='/admin/t/browser-co/keys']")
        .await?;
    b.type_into("#label", "Tenant IdP").await?;
    b.submit("form[action='/admin/t/browser-co/keys'] button[type=submit]")
        .await?;
    let tenant_key = b.value("#new-key").await?;
    check(
        status(tenant_url.clone(), tenant_key.clone()).await? == 200
            && status(base.to_string(), tenant_key).await? == 401,
        "a key minted on the tenant's keys page is the tenant's",
    )?;
    done.push("tenant opened: its home shows /t/browser-co/scim/v2; its keys are its own".into());

    b.go(&format!("{origin}/admin/tenants")).await?;
    b.submit("button[aria-label='Disable tenant Browser Co']")
        .await?;
    check(
        status(tenant_url.clone(), key).await? == 401,
        "a disabled tenant's key is refused",
    )?;
    b.click("#confirm-browser-co").await?;
    b.submit("button[aria-label='Delete tenant Browser Co']")
        .await?;
    check(
        !b.text("main table").await?.contains("browser-co"),
        "the deleted tenant is gone from the list",
    )?;
    done.push("tenant disabled (its key refused), then deleted after the confirmation".into());
    Ok(())
}
