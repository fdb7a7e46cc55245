//! The HTTP client: every request and response is kept as an [`Exchange`], with the API key
//! replaced by `<token>`, so that a verdict can show exactly what was sent and what came back.

use std::time::{Duration, Instant};

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::Method;
use serde::Serialize;
use serde_json::Value;

/// `application/scim+json`, the SCIM media type (RFC 7644 §8.1).
pub const SCIM_JSON: &str = "application/scim+json";

/// Response headers worth keeping in a record.
const KEPT_HEADERS: &[&str] = &[
    "content-type",
    "location",
    "etag",
    "www-authenticate",
    "allow",
    "content-location",
];

/// Longest body kept in a record (the parsed JSON is kept whole for the checks).
const BODY_LIMIT: usize = 4000;

/// Which credentials a request carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    /// `Authorization: Bearer <the key>`.
    Key,
    /// No `Authorization` header.
    None,
    /// This exact header value (for the authentication checks).
    Raw(String),
}

/// A request to send, relative to the SCIM base URL.
#[derive(Debug, Clone)]
pub struct Req {
    /// The method.
    pub method: Method,
    /// Appended to the base URL as is (`/Users?filter=…`).
    pub path: String,
    /// Extra headers.
    pub headers: Vec<(String, String)>,
    /// A body, sent as given.
    pub body: Option<String>,
    /// Credentials.
    pub auth: Auth,
}

impl Req {
    /// A request without body.
    pub fn new(method: Method, path: impl Into<String>) -> Req {
        Req {
            method,
            path: path.into(),
            headers: Vec::new(),
            body: None,
            auth: Auth::Key,
        }
    }

    /// GET `path`.
    pub fn get(path: impl Into<String>) -> Req {
        Req::new(Method::GET, path)
    }

    /// DELETE `path`.
    pub fn delete(path: impl Into<String>) -> Req {
        Req::new(Method::DELETE, path)
    }

    /// `method` `path` with a JSON body and `Content-Type: application/scim+json`.
    pub fn json(method: Method, path: impl Into<String>, body: &Value) -> Req {
        Req::new(method, path)
            .header("Content-Type", SCIM_JSON)
            .raw_body(body.to_string())
    }

    /// Adds a header.
    pub fn header(mut self, name: &str, value: &str) -> Req {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// Replaces (or removes) the `Content-Type` header.
    pub fn content_type(mut self, value: Option<&str>) -> Req {
        self.headers
            .retain(|(n, _)| !n.eq_ignore_ascii_case("content-type"));
        if let Some(v) = value {
            self.headers.push(("Content-Type".into(), v.into()));
        }
        self
    }

    /// Sets the body text.
    pub fn raw_body(mut self, body: impl Into<String>) -> Req {
        self.body = Some(body.into());
        self
    }

    /// Sets the credentials.
    pub fn auth(mut self, auth: Auth) -> Req {
        self.auth = auth;
        self
    }
}

/// One request and its response, as recorded.
#[derive(Debug, Clone, Serialize)]
pub struct Exchange {
    /// Request method.
    pub method: String,
    /// Request path, relative to the base URL.
    pub path: String,
    /// Request headers as sent, the key replaced by `<token>`.
    pub request_headers: Vec<(String, String)>,
    /// Request body, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_body: Option<String>,
    /// Response status; 0 when no response came (see `error`).
    pub status: u16,
    /// Selected response headers (content type, location, ETag, WWW-Authenticate, Allow).
    pub response_headers: Vec<(String, String)>,
    /// Response body (cut at 4000 characters).
    pub response_body: String,
    /// The transport error, when there was no response.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Milliseconds until the whole response was read.
    pub millis: u64,
    /// The response body parsed as JSON, when it is JSON.
    #[serde(skip)]
    pub json: Option<Value>,
    /// The whole response body text.
    #[serde(skip)]
    pub text: String,
}

impl Exchange {
    /// A response header (the first one named so, case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.response_headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The response's media type without parameters, lower-cased.
    pub fn media_type(&self) -> Option<String> {
        self.header("content-type").map(|v| {
            v.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        })
    }

    /// The parsed JSON body, or `Null`.
    pub fn body(&self) -> &Value {
        self.json.as_ref().unwrap_or(&Value::Null)
    }

    /// `body[key]` as a string.
    pub fn str(&self, key: &str) -> Option<&str> {
        self.body().get(key).and_then(Value::as_str)
    }

    /// The `id` of the returned resource.
    pub fn id(&self) -> Option<String> {
        self.str("id").map(str::to_string)
    }

    /// One line: `POST /Users → 201 application/scim+json {"id":…}`.
    pub fn summary(&self) -> String {
        let body = one_line(&self.response_body, 300);
        match &self.error {
            Some(e) => format!("{} {} → no response: {e}", self.method, self.path),
            None => format!(
                "{} {} → {} {}{}",
                self.method,
                self.path,
                self.status,
                self.header("content-type").unwrap_or("(no content type)"),
                if body.is_empty() {
                    String::new()
                } else {
                    format!(" {body}")
                }
            ),
        }
    }

    /// Several lines: request line, request body, status, headers and body of the response.
    pub fn detail(&self) -> String {
        let mut s = format!("{} {}", self.method, self.path);
        for (n, v) in &self.request_headers {
            s.push_str(&format!("\n  > {n}: {v}"));
        }
        if let Some(b) = &self.request_body {
            s.push_str(&format!("\n  > {}", one_line(b, 600)));
        }
        match &self.error {
            Some(e) => s.push_str(&format!("\n  < no response: {e}")),
            None => {
                s.push_str(&format!("\n  < {}", self.status));
                for (n, v) in &self.response_headers {
                    s.push_str(&format!("\n  < {n}: {v}"));
                }
                if !self.response_body.is_empty() {
                    s.push_str(&format!("\n  < {}", one_line(&self.response_body, 600)));
                }
            }
        }
        s
    }
}

/// `text` on one line, cut to `max` characters.
pub fn one_line(text: &str, max: usize) -> String {
    let flat: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let flat = flat.trim();
    if flat.chars().count() > max {
        let cut: String = flat.chars().take(max).collect();
        format!("{cut}…")
    } else {
        flat.to_string()
    }
}

/// The client: a base URL, a key, and a reqwest client that does not follow redirects.
#[derive(Debug, Clone)]
pub struct Client {
    base: String,
    token: String,
    http: reqwest::Client,
}

impl Client {
    /// A client for the SCIM base URL `base` (e.g. `http://127.0.0.1:8080/scim/v2`).
    pub fn new(base: &str, token: &str, timeout: Duration) -> Result<Client, String> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("HTTP client: {e}"))?;
        Ok(Client {
            base: base.trim_end_matches('/').to_string(),
            token: token.to_string(),
            http,
        })
    }

    /// The base URL, without a trailing slash.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The key.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// Sends `req` and records the exchange. Never fails: a transport error is recorded with
    /// status 0.
    pub async fn send(&self, req: Req) -> Exchange {
        let url = format!("{}{}", self.base, req.path);
        let mut headers = HeaderMap::new();
        let mut shown = Vec::new();
        let auth_value = match &req.auth {
            Auth::Key => Some(format!("Bearer {}", self.token)),
            Auth::None => None,
            Auth::Raw(v) => Some(v.clone()),
        };
        if let Some(v) = &auth_value {
            shown.push(("Authorization".to_string(), self.redact(v)));
        }
        let mut all = req.headers.clone();
        if let Some(v) = auth_value {
            all.push(("Authorization".to_string(), v));
        }
        let mut bad_header = None;
        for (n, v) in &all {
            match (
                HeaderName::from_bytes(n.as_bytes()),
                HeaderValue::from_str(v),
            ) {
                (Ok(name), Ok(value)) => {
                    headers.append(name, value);
                }
                _ => bad_header = Some(format!("invalid header {n}: {v:?}")),
            }
            if !n.eq_ignore_ascii_case("authorization") {
                shown.push((n.clone(), v.clone()));
            }
        }
        let mut ex = Exchange {
            method: req.method.to_string(),
            path: req.path.clone(),
            request_headers: shown,
            request_body: req.body.as_ref().map(|b| self.redact(b)),
            status: 0,
            response_headers: Vec::new(),
            response_body: String::new(),
            error: None,
            millis: 0,
            json: None,
            text: String::new(),
        };
        if let Some(e) = bad_header {
            ex.error = Some(e);
            return ex;
        }
        let started = Instant::now();
        let mut builder = self.http.request(req.method.clone(), &url).headers(headers);
        if let Some(b) = req.body {
            builder = builder.body(b);
        }
        match builder.send().await {
            Err(e) => ex.error = Some(error_chain(&e)),
            Ok(resp) => {
                ex.status = resp.status().as_u16();
                for (n, v) in resp.headers() {
                    if KEPT_HEADERS.contains(&n.as_str()) {
                        ex.response_headers.push((
                            n.as_str().to_string(),
                            String::from_utf8_lossy(v.as_bytes()).into_owned(),
                        ));
                    }
                }
                match resp.text().await {
                    Ok(t) => {
                        ex.json = serde_json::from_str(&t).ok();
                        ex.response_body = self.redact(&one_cut(&t, BODY_LIMIT));
                        ex.text = t;
                    }
                    Err(e) => ex.error = Some(format!("reading the body: {}", error_chain(&e))),
                }
            }
        }
        ex.millis = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        ex
    }

    fn redact(&self, s: &str) -> String {
        if self.token.is_empty() {
            s.to_string()
        } else {
            s.replace(&self.token, "<token>")
        }
    }
}

fn one_cut(text: &str, max: usize) -> String {
    if text.len() > max {
        let cut: String = text.chars().take(max).collect();
        format!("{cut}…")
    } else {
        text.to_string()
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(&format!(": {c}"));
        cur = c.source();
    }
    s
}

/// Percent-encodes `s` for a query string value (everything but RFC 3986 unreserved
/// characters).
pub fn qs(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_are_encoded() {
        assert_eq!(
            qs("userName eq \"a@b\""),
            "userName%20eq%20%22a%40b%22".to_string()
        );
    }

    #[test]
    fn long_bodies_are_cut_on_one_line() {
        assert_eq!(one_line("a\nb", 10), "a b");
        assert_eq!(one_line("abcdef", 3), "abc…");
    }
}
