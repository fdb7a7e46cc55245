//! A minimal browser for the admin web page's tests: keeps cookies, follows no redirect, reads
//! forms' CSRF tokens.

use std::collections::HashMap;

use reqwest::{Method, StatusCode};

use crate::support::TestServer;

/// A minimal browser: keeps cookies by name, follows no redirect.
pub struct Web<'a> {
    s: &'a TestServer,
    client: reqwest::Client,
    pub cookies: HashMap<String, String>,
}

/// A response, read whole, with its `Set-Cookie` lines.
pub struct Page {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub set_cookies: Vec<String>,
    pub text: String,
}

impl Page {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn location(&self) -> Option<&str> {
        self.header("location")
    }

    /// The `Set-Cookie` line for a cookie.
    pub fn set_cookie(&self, name: &str) -> Option<&str> {
        self.set_cookies
            .iter()
            .find(|c| c.starts_with(&format!("{name}=")))
            .map(String::as_str)
    }

    /// The first form's CSRF token.
    pub fn csrf(&self) -> String {
        let marker = "name=\"csrf\" value=\"";
        let at = self
            .text
            .find(marker)
            .unwrap_or_else(|| panic!("no CSRF field in:\n{}", self.text))
            + marker.len();
        self.text[at..]
            .split('"')
            .next()
            .expect("token")
            .to_string()
    }

    pub fn assert_html(&self, status: u16) {
        assert_eq!(self.status.as_u16(), status, "{}", self.text);
        assert_eq!(
            self.header("content-type"),
            Some("text/html; charset=utf-8")
        );
        assert!(self.text.starts_with("<!DOCTYPE html>"), "{}", self.text);
    }
}

impl<'a> Web<'a> {
    pub fn new(s: &'a TestServer) -> Self {
        Web {
            s,
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            cookies: HashMap::new(),
        }
    }

    pub async fn send(
        &mut self,
        method: Method,
        path: &str,
        form: Option<&[(&str, &str)]>,
    ) -> Page {
        self.send_with(method, path, form, &[]).await
    }

    pub async fn send_with(
        &mut self,
        method: Method,
        path: &str,
        form: Option<&[(&str, &str)]>,
        headers: &[(&str, &str)],
    ) -> Page {
        let mut r = self
            .client
            .request(method, format!("{}{path}", self.s.origin));
        if !self.cookies.is_empty() {
            let jar: Vec<String> = self
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            r = r.header("Cookie", jar.join("; "));
        }
        for (k, v) in headers {
            r = r.header(*k, *v);
        }
        if let Some(fields) = form {
            let body: Vec<String> = fields
                .iter()
                .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
                .collect();
            r = r
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body(body.join("&"));
        }
        let res = r.send().await.expect("request");
        let status = res.status();
        let headers = res.headers().clone();
        let set_cookies: Vec<String> = headers
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_string))
            .collect();
        for c in &set_cookies {
            let pair = c.split(';').next().unwrap_or_default();
            if let Some((k, v)) = pair.split_once('=') {
                if v.is_empty() {
                    self.cookies.remove(k);
                } else {
                    self.cookies.insert(k.to_string(), v.to_string());
                }
            }
        }
        let text = res.text().await.expect("body");
        Page {
            status,
            headers,
            set_cookies,
            text,
        }
    }

    pub async fn get(&mut self, path: &str) -> Page {
        self.send(Method::GET, path, None).await
    }

    pub async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        self.send(Method::POST, path, Some(form)).await
    }

    /// Loads the sign-in form and submits `key`.
    pub async fn sign_in(&mut self, key: &str) -> Page {
        let form = self.get("/admin/signin").await;
        form.assert_html(200);
        let csrf = form.csrf();
        self.post("/admin/signin", &[("csrf", &csrf), ("key", key)])
            .await
    }

    /// Signs in with `key` and returns a CSRF token of the session.
    pub async fn signed_in(&mut self, key: &str) -> String {
        self.signed_in_at(key, "/admin").await
    }

    /// Signs in with `key`, lands on `home`, and returns a CSRF token of the session.
    pub async fn signed_in_at(&mut self, key: &str, home: &str) -> String {
        let p = self.sign_in(key).await;
        assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.text);
        assert_eq!(p.location(), Some(home));
        let page = self.get(home).await;
        page.assert_html(200);
        page.csrf()
    }
}

/// Every link and form target of a page (`href` and `action` values), as written.
pub fn targets(html: &str) -> Vec<String> {
    let mut found = Vec::new();
    for marker in [" href=\"", " action=\""] {
        for (at, _) in html.match_indices(marker) {
            let rest = &html[at + marker.len()..];
            found.push(rest.split('"').next().unwrap_or_default().to_string());
        }
    }
    found
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
