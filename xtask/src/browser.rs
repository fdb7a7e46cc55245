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

mod tenants;
mod webdriver;

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use serde_json::{json, Value};

use crate::server;
use tenants::tenants;
use webdriver::{Browser, Driver};

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
    let s = server::start_fresh(&runtime, &bin, server::Storage::Sled, &[])?;
    let admin_key = mint_admin_key(&s.launch)?;
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

/// `scim-server key create --admin` against the running server's store (over its control
/// socket); the key is the last line printed.
fn mint_admin_key(launch: &server::Launch) -> Result<String, String> {
    let out = launch
        .command()?
        .args(["key", "create", "--admin", "--label", "Browser admin"])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{}: {e}", launch.bin.display()))?;
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
