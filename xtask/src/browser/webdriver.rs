//! The browser test's WebDriver side: a chromedriver process, and one headless Chromium session
//! through fantoccini with the few commands the test uses (and ChromeDriver's browser log).

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::error::NewSessionError;
use fantoccini::wd::{TimeoutConfiguration, WebDriverCompatibleCommand};
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{json, Value};

use super::{CHROMEDRIVER, CHROMIUM};

/// A chromedriver process on a free loopback port.
pub(super) struct Driver {
    child: Child,
    url: String,
    _profile: tempfile::TempDir,
}

impl Driver {
    pub(super) fn start() -> Result<Driver, String> {
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

    pub(super) fn profile(&self) -> String {
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
pub(super) struct Browser {
    client: Client,
}

impl Browser {
    /// Opens a session, retrying while chromedriver does not listen yet (20 s at most).
    pub(super) async fn open(driver: &Driver) -> Result<Browser, String> {
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

    pub(super) async fn go(&self, url: &str) -> Result<(), String> {
        self.client
            .goto(url)
            .await
            .map_err(|e| format!("go to {url}: {e}"))
    }

    pub(super) async fn url(&self) -> Result<String, String> {
        self.client
            .current_url()
            .await
            .map(String::from)
            .map_err(|e| format!("current URL: {e}"))
    }

    pub(super) async fn source(&self) -> Result<String, String> {
        self.client
            .source()
            .await
            .map_err(|e| format!("page source: {e}"))
    }

    pub(super) async fn find(&self, css: &str) -> Result<Element, String> {
        self.client
            .find(Locator::Css(css))
            .await
            .map_err(|e| format!("find {css:?}: {e}"))
    }

    pub(super) async fn all(&self, css: &str) -> Result<Vec<Element>, String> {
        self.client
            .find_all(Locator::Css(css))
            .await
            .map_err(|e| format!("find all {css:?}: {e}"))
    }

    pub(super) async fn click(&self, css: &str) -> Result<(), String> {
        self.find(css)
            .await?
            .click()
            .await
            .map_err(|e| format!("click {css:?}: {e}"))
    }

    /// Clicks something that loads a new page, and waits until the new page has loaded.
    pub(super) async fn submit(&self, css: &str) -> Result<(), String> {
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

    pub(super) async fn type_into(&self, css: &str, text: &str) -> Result<(), String> {
        let e = self.find(css).await?;
        e.clear().await.map_err(|e| format!("clear {css:?}: {e}"))?;
        e.send_keys(text)
            .await
            .map_err(|e| format!("type into {css:?}: {e}"))
    }

    pub(super) async fn text_of(&self, element: &Element) -> Result<String, String> {
        element.text().await.map_err(|e| format!("text: {e}"))
    }

    pub(super) async fn text(&self, css: &str) -> Result<String, String> {
        let e = self.find(css).await?;
        self.text_of(&e).await
    }

    pub(super) async fn value(&self, css: &str) -> Result<String, String> {
        let e = self.find(css).await?;
        e.prop("value")
            .await
            .map(Option::unwrap_or_default)
            .map_err(|e| format!("value of {css:?}: {e}"))
    }

    pub(super) async fn script(&self, script: &str) -> Result<Value, String> {
        self.client
            .execute(script, Vec::new())
            .await
            .map_err(|e| format!("script: {e}"))
    }

    pub(super) async fn window_size(&self, width: u32, height: u32) -> Result<(), String> {
        self.client
            .set_window_size(width, height)
            .await
            .map_err(|e| format!("window size: {e}"))
    }

    /// The browser console since the last call (errors include CSP violations).
    pub(super) async fn log(&self) -> Result<Vec<Value>, String> {
        let v = self
            .client
            .issue_cmd(BrowserLog)
            .await
            .map_err(|e| format!("browser log: {e}"))?;
        Ok(v.as_array().cloned().unwrap_or_default())
    }

    pub(super) async fn close(self) {
        let _ = self.client.close().await;
    }
}
