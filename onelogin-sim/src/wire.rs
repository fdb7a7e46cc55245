//! The HTTP client that puts OneLogin's requests on the wire, quirks included:
//! the `+`-encoded filter with its trailing `&`, the trailing `?` on PUT and
//! PATCH (OL5), the empty `User-Agent` (OL6), the base URL used verbatim so a
//! trailing `/` gives `//Users` (OL7), and compact JSON bodies.
//!
//! URLs are built as raw strings and handed to `url`, which keeps an empty
//! query (`…/Users/{id}?`) and a dangling `&` as they are; the tests check the
//! request line a raw TCP listener receives.

use std::time::{Duration, Instant};

use reqwest::header::{
    HeaderMap, HeaderName, HeaderValue, AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER,
};
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::Error;

/// Where the simulated OneLogin sends its traffic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    /// The SCIM Base URL exactly as typed into OneLogin, e.g.
    /// `http://127.0.0.1:8080/scim/v2` (OneLogin appends `/Users`, `/Groups`).
    pub base_url: String,
    /// The SCIM Bearer Token.
    pub token: String,
}

impl Target {
    /// A target from a base URL and a token.
    pub fn new(base_url: impl Into<String>, token: impl Into<String>) -> Self {
        Target {
            base_url: base_url.into(),
            token: token.into(),
        }
    }
}

/// How suspend and reactivate are sent (Q2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActiveUpdate {
    /// Full PUT of the rendered template with `"active": false|true` (default, [INFER] from the call list).
    #[default]
    PutBoolean,
    /// Full PUT with `"active": "false"|"true"` as strings (OL3).
    PutString,
    /// `PATCH /Users/{id}` replacing `active` ([UNVERIFIED] Ory guide).
    PatchReplace,
}

/// Case of `op` in v2 PATCH operations (Q3: `add` and `Add` both fit the 165 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OpCase {
    /// `add`, `remove`, `replace` (default).
    #[default]
    Lower,
    /// `Add`, `Remove`, `Replace`.
    Capitalized,
}

impl OpCase {
    /// Applies the case to a lowercase op name.
    pub fn apply(self, op: &str) -> String {
        match self {
            OpCase::Lower => op.to_string(),
            OpCase::Capitalized => {
                let mut chars = op.chars();
                match chars.next() {
                    Some(first) => first.to_uppercase().chain(chars).collect(),
                    None => String::new(),
                }
            }
        }
    }
}

/// Shape of a v2 member removal (Q3, never observed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MemberRemove {
    /// `{"op":"remove","path":"members","value":[{"value":id}]}` (default).
    #[default]
    ValueArray,
    /// `{"op":"remove","path":"members[value eq \"id\"]"}`.
    PathFilter,
}

/// The `members` attribute of a `POST /Groups` body (Q4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupCreateMembers {
    /// `"members": []` (default).
    #[default]
    Empty,
    /// No `members` attribute.
    Omit,
}

/// Switches for the details the evidence leaves open. Defaults are the
/// best-backed choice (see `shared/onelogin-protocol.md` §10).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WireOptions {
    /// Trailing `?` on PUT and PATCH URLs (OL5, [TRACE]).
    pub trailing_question_mark: bool,
    /// Trailing `&` after the filter (OL5, [TRACE]).
    pub filter_trailing_ampersand: bool,
    /// `User-Agent` value: `""` sends an empty header (OL6, [TRACE]); `null` omits it.
    pub user_agent: Option<String>,
    /// `Accept` value (the traced log field reads `application/json` on GET
    /// and PUT lines, [INFER] Accept); `null` leaves the client default `*/*`.
    pub accept: Option<String>,
    /// `Content-Type` of request bodies (`application/scim+json` on the traced PATCH; Q7).
    pub content_type: String,
    /// Also send `Content-Type` on GET and DELETE.
    pub content_type_on_get: bool,
    /// How suspend and reactivate go on the wire (Q2).
    pub active_update: ActiveUpdate,
    /// Put `active` in every user PUT, not only suspend and reactivate.
    pub active_in_every_put: bool,
    /// Case of PATCH `op` values (Q3).
    pub patch_op_case: OpCase,
    /// Add `display` (the user's display name) to member values (Q3).
    pub member_display: bool,
    /// Shape of a v2 member removal (Q3).
    pub member_remove: MemberRemove,
    /// `members` in `POST /Groups` (Q4).
    pub group_create_members: GroupCreateMembers,
    /// Send a full user PUT before the group PATCHes of a role change (Q9).
    pub put_user_on_role_change: bool,
    /// PATCH the user out of its groups before deprovisioning (Q9).
    pub remove_groups_on_deprovision: bool,
    /// userName probed by the Enable connection test (Q1); random when absent.
    pub connection_test_user_name: Option<String>,
    /// On a `429` or `503` with `Retry-After` (whole seconds), wait that long and send the
    /// request again, up to [`MAX_RETRIES`] times (Q6). Off by default: what OneLogin does is
    /// undocumented, and it is known to record failed provisionings that an administrator
    /// retries by hand; on, it models an identity provider that honours the header (Okta,
    /// by its support article).
    pub honour_retry_after: bool,
}

/// The most times one request is sent again with `honour_retry_after`.
pub const MAX_RETRIES: u32 = 10;

impl Default for WireOptions {
    fn default() -> Self {
        WireOptions {
            trailing_question_mark: true,
            filter_trailing_ampersand: true,
            user_agent: Some(String::new()),
            accept: Some("application/json".to_string()),
            content_type: "application/scim+json".to_string(),
            content_type_on_get: false,
            active_update: ActiveUpdate::default(),
            active_in_every_put: false,
            patch_op_case: OpCase::default(),
            member_display: false,
            member_remove: MemberRemove::default(),
            group_create_members: GroupCreateMembers::default(),
            put_user_on_role_change: false,
            remove_groups_on_deprovision: false,
            connection_test_user_name: None,
            honour_retry_after: false,
        }
    }
}

/// Who is speaking: OneLogin, or the simulator itself (checks and setup).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// OneLogin's headers and quirks.
    OneLogin,
    /// Plain, standard SCIM requests for checks and setup.
    Plain,
}

/// A request as sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedRequest {
    /// HTTP method.
    pub method: String,
    /// Full URL, exactly as sent.
    pub url: String,
    /// Headers set by the simulator (the bearer token redacted).
    pub headers: Vec<(String, String)>,
    /// Body text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
}

/// A response as received.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordedResponse {
    /// Status code.
    pub status: u16,
    /// `Content-Type` header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// `Retry-After` header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<String>,
    /// Body text.
    pub body: String,
}

impl RecordedResponse {
    /// The body parsed as JSON, if it is JSON.
    pub fn json(&self) -> Option<Value> {
        serde_json::from_str(&self.body).ok()
    }

    /// How long `Retry-After` asks to wait, when it is in whole seconds (an HTTP date is not
    /// read).
    pub fn retry_after(&self) -> Option<Duration> {
        let secs = self.retry_after.as_deref()?.trim().parse::<u64>().ok()?;
        Some(Duration::from_secs(secs))
    }
}

/// One request/response round trip.
#[derive(Debug, Clone)]
pub struct Exchange {
    /// What was sent.
    pub request: RecordedRequest,
    /// What came back, or why nothing did (to the last attempt).
    pub response: Result<RecordedResponse, String>,
    /// Time from sending to the end of the response body (of the last attempt).
    pub latency: Duration,
    /// Times the request was sent again after a `Retry-After` (`honour_retry_after`).
    pub retries: u32,
    /// Time spent waiting as `Retry-After` asked.
    pub waited: Duration,
}

/// Encodes a query value as `application/x-www-form-urlencoded` does: space
/// as `+`, everything but `A–Z a–z 0–9 * - . _` percent-encoded.
pub fn form_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len() * 3);
    for b in value.bytes() {
        match b {
            b' ' => out.push('+'),
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Encodes a query value with `%20` for spaces (RFC 3986 style), for checks.
pub fn percent_encode(value: &str) -> String {
    form_encode(value).replace('+', "%20")
}

/// The wire client.
#[derive(Debug, Clone)]
pub struct Wire {
    client: reqwest::Client,
    target: Target,
    options: WireOptions,
    onelogin_headers: HeaderMap,
    plain_headers: HeaderMap,
}

fn header_name(name: &str) -> Result<HeaderName, Error> {
    HeaderName::from_bytes(name.as_bytes())
        .map_err(|e| Error::Config(format!("bad header name {name:?}: {e}")))
}

fn header_value(value: &str) -> Result<HeaderValue, Error> {
    HeaderValue::from_str(value)
        .map_err(|e| Error::Config(format!("bad header value {value:?}: {e}")))
}

impl Wire {
    /// Builds a client for `target`. `custom_headers` are the app's Custom
    /// Headers, added to every request (they override the defaults).
    pub fn new(
        target: Target,
        options: WireOptions,
        custom_headers: &[(String, String)],
        timeout: Duration,
    ) -> Result<Self, Error> {
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(timeout)
            .build()
            .map_err(|e| Error::Config(format!("cannot build HTTP client: {e}")))?;
        let bearer = header_value(&format!("Bearer {}", target.token))?;

        let mut onelogin_headers = HeaderMap::new();
        onelogin_headers.insert(AUTHORIZATION, bearer.clone());
        if let Some(ua) = &options.user_agent {
            onelogin_headers.insert(reqwest::header::USER_AGENT, header_value(ua)?);
        }
        if let Some(accept) = &options.accept {
            onelogin_headers.insert(reqwest::header::ACCEPT, header_value(accept)?);
        }
        let mut plain_headers = HeaderMap::new();
        for (name, value) in custom_headers {
            let (name, value) = (header_name(name)?, header_value(value)?);
            onelogin_headers.insert(name.clone(), value.clone());
            plain_headers.insert(name, value);
        }
        plain_headers.insert(AUTHORIZATION, bearer);
        plain_headers.insert(
            reqwest::header::USER_AGENT,
            HeaderValue::from_static("onelogin-sim-check"),
        );
        plain_headers.insert(
            reqwest::header::ACCEPT,
            HeaderValue::from_static("application/scim+json, application/json"),
        );
        header_value(&options.content_type)?;
        Ok(Wire {
            client,
            target,
            options,
            onelogin_headers,
            plain_headers,
        })
    }

    /// The target.
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// The wire options.
    pub fn options(&self) -> &WireOptions {
        &self.options
    }

    /// `{base}/Users`.
    pub fn users_url(&self) -> String {
        format!("{}/Users", self.target.base_url)
    }

    /// `{base}/Groups`.
    pub fn groups_url(&self) -> String {
        format!("{}/Groups", self.target.base_url)
    }

    /// `{base}/Users/{id}`, with the trailing `?` when `quirk` and the option allow.
    pub fn user_url(&self, id: &str, quirk: bool) -> String {
        self.with_question_mark(format!("{}/Users/{}", self.target.base_url, id), quirk)
    }

    /// `{base}/Groups/{id}`, with the trailing `?` when `quirk` and the option allow.
    pub fn group_url(&self, id: &str, quirk: bool) -> String {
        self.with_question_mark(format!("{}/Groups/{}", self.target.base_url, id), quirk)
    }

    fn with_question_mark(&self, mut url: String, quirk: bool) -> String {
        if quirk && self.options.trailing_question_mark {
            url.push('?');
        }
        url
    }

    /// OneLogin's lookup URL: `{base}/Users?filter=userName+eq+%22…%22&`.
    pub fn filter_url(&self, user_name: &str) -> String {
        let filter = format!("userName eq \"{user_name}\"");
        let amp = if self.options.filter_trailing_ampersand {
            "&"
        } else {
            ""
        };
        format!(
            "{}?filter={}{}",
            self.users_url(),
            form_encode(&filter),
            amp
        )
    }

    /// A plain, RFC-style filter URL (`%20` for spaces), used by checks.
    pub fn plain_filter_url(&self, user_name: &str) -> String {
        let filter = format!("userName eq \"{user_name}\"");
        format!("{}?filter={}", self.users_url(), percent_encode(&filter))
    }

    /// Sends one request and records the exchange. Never fails: transport
    /// errors end up in [`Exchange::response`].
    pub async fn send(
        &self,
        style: Style,
        method: Method,
        url: &str,
        body: Option<&Value>,
    ) -> Exchange {
        let body_text = body.map(|b| b.to_string());
        let mut headers = match style {
            Style::OneLogin => self.onelogin_headers.clone(),
            Style::Plain => self.plain_headers.clone(),
        };
        match style {
            Style::OneLogin => {
                let wants = body.is_some() || self.options.content_type_on_get;
                // A Content-Type among the custom headers wins.
                if wants && !headers.contains_key(CONTENT_TYPE) {
                    let ct = HeaderValue::from_str(&self.options.content_type)
                        .unwrap_or_else(|_| HeaderValue::from_static("application/scim+json"));
                    headers.insert(CONTENT_TYPE, ct);
                }
            }
            Style::Plain => {
                if body.is_some() {
                    headers.insert(
                        CONTENT_TYPE,
                        HeaderValue::from_static("application/scim+json"),
                    );
                } else {
                    headers.remove(CONTENT_TYPE);
                }
            }
        }
        let request = RecordedRequest {
            method: method.to_string(),
            url: url.to_string(),
            headers: headers
                .iter()
                .map(|(k, v)| {
                    let value = if k == AUTHORIZATION {
                        "Bearer <redacted>".to_string()
                    } else {
                        String::from_utf8_lossy(v.as_bytes()).into_owned()
                    };
                    (k.to_string(), value)
                })
                .collect(),
            body: body_text.clone(),
        };
        let mut exchange = Exchange {
            request,
            response: Err(String::new()),
            latency: Duration::ZERO,
            retries: 0,
            waited: Duration::ZERO,
        };
        let parsed = match reqwest::Url::parse(url) {
            Ok(u) => u,
            Err(e) => {
                exchange.response = Err(format!("invalid URL {url:?}: {e}"));
                return exchange;
            }
        };
        loop {
            let mut builder = self
                .client
                .request(method.clone(), parsed.clone())
                .headers(headers.clone());
            if let Some(text) = &body_text {
                builder = builder.body(text.clone());
            }
            let started = Instant::now();
            exchange.response = receive(builder).await;
            exchange.latency = started.elapsed();
            match self.wait_asked(&exchange) {
                Some(wait) => {
                    tokio::time::sleep(wait).await;
                    exchange.retries += 1;
                    exchange.waited += wait;
                }
                None => return exchange,
            }
        }
    }

    /// With `honour_retry_after`, how long to wait before sending the request again.
    fn wait_asked(&self, exchange: &Exchange) -> Option<Duration> {
        let response = exchange.response.as_ref().ok()?;
        let retryable = matches!(response.status, 429 | 503);
        (self.options.honour_retry_after && retryable && exchange.retries < MAX_RETRIES)
            .then(|| response.retry_after())
            .flatten()
    }
}

/// Sends a request and reads its whole answer.
async fn receive(builder: reqwest::RequestBuilder) -> Result<RecordedResponse, String> {
    let resp = builder
        .send()
        .await
        .map_err(|e| format!("request failed: {e}"))?;
    let status = resp.status().as_u16();
    let header = |name| {
        resp.headers()
            .get(name)
            .map(|v: &HeaderValue| String::from_utf8_lossy(v.as_bytes()).into_owned())
    };
    let content_type = header(CONTENT_TYPE);
    let retry_after = header(RETRY_AFTER);
    let body = resp
        .text()
        .await
        .map_err(|e| format!("reading the response body failed: {e}"))?;
    Ok(RecordedResponse {
        status,
        content_type,
        retry_after,
        body,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wire(base: &str, options: WireOptions) -> Wire {
        Wire::new(Target::new(base, "t"), options, &[], Duration::from_secs(5)).expect("wire")
    }

    #[test]
    fn form_encoding_matches_the_trace() {
        assert_eq!(
            form_encode("userName eq \"onelogin-test-user01\""),
            "userName+eq+%22onelogin-test-user01%22"
        );
        assert_eq!(form_encode("a@b.c+d/é"), "a%40b.c%2Bd%2F%C3%A9");
    }

    #[test]
    fn urls_keep_their_quirks() {
        let w = wire("http://h/scim/v2", WireOptions::default());
        assert_eq!(
            w.filter_url("onelogin-test-user01"),
            "http://h/scim/v2/Users?filter=userName+eq+%22onelogin-test-user01%22&"
        );
        assert_eq!(w.user_url("abc", true), "http://h/scim/v2/Users/abc?");
        assert_eq!(w.user_url("abc", false), "http://h/scim/v2/Users/abc");
        assert_eq!(w.group_url("g", true), "http://h/scim/v2/Groups/g?");
        let slash = wire("http://h/scim/v2/", WireOptions::default());
        assert_eq!(slash.users_url(), "http://h/scim/v2//Users");
        let plain = wire(
            "http://h",
            WireOptions {
                trailing_question_mark: false,
                filter_trailing_ampersand: false,
                ..WireOptions::default()
            },
        );
        assert_eq!(plain.user_url("abc", true), "http://h/Users/abc");
        assert_eq!(
            plain.filter_url("x y"),
            "http://h/Users?filter=userName+eq+%22x+y%22"
        );
        assert_eq!(
            plain.plain_filter_url("x y"),
            "http://h/Users?filter=userName%20eq%20%22x%20y%22"
        );
    }

    #[test]
    fn url_crate_keeps_raw_query_quirks() {
        for raw in [
            "http://h/scim/v2/Users/abc?",
            "http://h/scim/v2/Users?filter=userName+eq+%22x%40y%22&",
            "http://h/scim/v2//Users",
        ] {
            let url = reqwest::Url::parse(raw).expect("url");
            assert_eq!(url.as_str(), raw);
        }
    }

    #[test]
    fn retry_after_is_read_in_whole_seconds_only() {
        let with = |v: Option<&str>| RecordedResponse {
            status: 429,
            content_type: None,
            retry_after: v.map(str::to_string),
            body: String::new(),
        };
        assert_eq!(with(Some("3")).retry_after(), Some(Duration::from_secs(3)));
        assert_eq!(with(Some(" 0 ")).retry_after(), Some(Duration::ZERO));
        assert_eq!(
            with(Some("Wed, 21 Oct 2015 07:28:00 GMT")).retry_after(),
            None
        );
        assert_eq!(with(None).retry_after(), None);
    }

    #[test]
    fn op_case() {
        assert_eq!(OpCase::Capitalized.apply("remove"), "Remove");
        assert_eq!(OpCase::Lower.apply("add"), "add");
    }

    #[test]
    fn options_deserialize_with_defaults() {
        let o: WireOptions =
            serde_json::from_str(r#"{"patch_op_case":"capitalized","user_agent":null}"#)
                .expect("options");
        assert_eq!(o.patch_op_case, OpCase::Capitalized);
        assert_eq!(o.user_agent, None);
        assert!(o.trailing_question_mark);
        assert!(serde_json::from_str::<WireOptions>(r#"{"nope":1}"#).is_err());
    }
}
