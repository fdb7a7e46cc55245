//! The admin web page under `/admin`, over plain HTTP (no browser; `cargo xtask browser` drives
//! a real one): sign-in and its cookie, sessions, CSRF, security headers, escaping, keys shown
//! once, and sessions that end with their key.

pub(crate) mod client;
mod tenants;

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::{user_body, TestServer};
use client::Web;

const CSP: &str = "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; \
                   form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

async fn admin_key(s: &TestServer, label: &str) -> (String, String) {
    let (entry, key) = s.mint(label, true).await;
    (entry.id, key)
}

async fn scim_key(s: &TestServer, label: &str) -> (String, String) {
    let (entry, key) = s.mint(label, false).await;
    (entry.id, key)
}

async fn revoked(s: &TestServer, id: &str) -> bool {
    s.store
        .keys()
        .await
        .expect("keys")
        .iter()
        .any(|k| k.id == id && k.revoked.is_some())
}

#[tokio::test]
async fn sign_in_sets_a_strict_http_only_cookie_and_every_page_needs_it() {
    let s = TestServer::start().await;
    let (_, admin) = admin_key(&s, "Ada").await;
    let mut web = Web::new(&s);
    for path in [
        "/admin",
        "/admin/users",
        "/admin/users/x",
        "/admin/groups",
        "/admin/keys",
    ] {
        let p = web.get(path).await;
        assert_eq!(p.status, StatusCode::SEE_OTHER, "{path}");
        assert_eq!(p.location(), Some("/admin/signin"), "{path}");
        assert_eq!(p.header("content-security-policy"), Some(CSP), "{path}");
    }

    let form = web.get("/admin/signin").await;
    form.assert_html(200);
    assert!(
        form.text.contains("type=\"password\""),
        "the key field is masked"
    );
    assert!(form.text.contains("<label for=\"key\">"), "labelled");
    assert!(form.text.contains("<html lang=\"en\">"));
    assert!(form.text.contains("name=\"viewport\""));
    for (name, value) in [
        ("content-security-policy", CSP),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "no-referrer"),
        ("cache-control", "no-store"),
    ] {
        assert_eq!(form.header(name), Some(value), "{name}");
    }

    let p = web
        .post("/admin/signin", &[("csrf", &form.csrf()), ("key", &admin)])
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.text);
    assert_eq!(p.location(), Some("/admin"));
    let cookie = p
        .set_cookie("scim_admin_session")
        .expect("a session cookie");
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/admin"] {
        assert!(cookie.contains(attr), "{attr} in {cookie}");
    }
    assert!(!cookie.contains("Secure"), "plain HTTP: no Secure");
    assert!(!cookie.contains(&admin), "the cookie is not the key");
    assert!(
        p.location().is_some_and(|l| !l.contains(&admin)),
        "the key is in no URL"
    );

    let home = web.get("/admin").await;
    home.assert_html(200);
    assert!(
        home.text.contains(&format!("value=\"{}\"", s.base)),
        "the SCIM base URL to paste into OneLogin: {}",
        home.text
    );
    assert!(home.text.contains("Enable"), "the OneLogin how-to");
    assert_eq!(home.header("content-security-policy"), Some(CSP));
    assert!(!home.text.contains(&admin), "the key is never shown again");

    // The JSON admin API keeps its own answers and errors.
    let api = web.get("/admin/v1/users").await;
    assert_eq!(api.status, 401, "the cookie does not open the admin API");
    assert_eq!(
        api.header("content-type"),
        Some("application/scim+json"),
        "{}",
        api.text
    );
    assert!(api.header("content-security-policy").is_none());
}

#[tokio::test]
async fn the_cookie_is_secure_when_the_public_url_is_https() {
    let s =
        TestServer::start_with(|c| c.public_url = Some("https://scim.example.com".into())).await;
    let (_, admin) = admin_key(&s, "Ada").await;
    let mut web = Web::new(&s);
    let p = web.sign_in(&admin).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.text);
    let cookie = p.set_cookie("scim_admin_session").expect("cookie");
    assert!(cookie.contains("Secure"), "{cookie}");
}

#[tokio::test]
async fn scim_keys_wrong_keys_and_forms_without_a_token_are_refused() {
    let s = TestServer::start().await;
    let mut web = Web::new(&s);

    let p = web.sign_in(&s.key).await;
    p.assert_html(403);
    assert!(p.text.contains("SCIM key"), "{}", p.text);
    assert!(p.set_cookie("scim_admin_session").is_none());

    let p = web.sign_in("scim_not-a-key").await;
    p.assert_html(401);
    assert!(p.set_cookie("scim_admin_session").is_none());
    assert!(!p.text.contains("scim_not-a-key"), "the key is not echoed");

    let p = web.sign_in("").await;
    p.assert_html(401);

    // Without the sign-in form's token (a cross-site sign-in), the key is not even checked.
    let (_, admin) = admin_key(&s, "Ada").await;
    let p = web
        .post("/admin/signin", &[("csrf", "forged"), ("key", &admin)])
        .await;
    p.assert_html(403);
    assert!(p.set_cookie("scim_admin_session").is_none());
    let mut fresh = Web::new(&s);
    let p = fresh.post("/admin/signin", &[("key", &admin)]).await;
    p.assert_html(403);
}

#[tokio::test]
async fn failed_sign_ins_count_against_the_unauthenticated_rate_limit() {
    let s = TestServer::start_with(|c| {
        c.rate_limit_unauthenticated = 1.0 / 60.0;
        c.rate_limit_unauthenticated_burst = 3;
    })
    .await;
    let mut web = Web::new(&s);
    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses.push(web.sign_in("scim_wrong").await.status.as_u16());
    }
    assert_eq!(statuses[..3], [401, 401, 401], "{statuses:?}");
    assert_eq!(statuses[3..], [429, 429], "{statuses:?}");
    let p = web.sign_in("scim_wrong").await;
    p.assert_html(429);
    assert!(p.header("retry-after").is_some());
}

#[tokio::test]
async fn a_post_without_the_session_token_changes_nothing() {
    let s = TestServer::start().await;
    let (_, admin) = admin_key(&s, "Ada").await;
    let (victim, _) = scim_key(&s, "okta").await;
    let mut web = Web::new(&s);
    let csrf = web.signed_in(&admin).await;
    let path = format!("/admin/keys/{victim}/revoke");

    web.post(&path, &[]).await.assert_html(403);
    web.post(&path, &[("csrf", "0000")]).await.assert_html(403);
    let other = Web::new(&s).sign_in(&admin).await;
    assert_eq!(other.status, StatusCode::SEE_OTHER);
    // A token from the sign-in form is not the session's.
    let signin_form = Web::new(&s).get("/admin/signin").await;
    web.post(&path, &[("csrf", &signin_form.csrf())])
        .await
        .assert_html(403);
    // The right token from another site (the browser says so) is refused too.
    for headers in [
        [("Sec-Fetch-Site", "cross-site")],
        [("Origin", "https://evil.example")],
    ] {
        web.send_with(Method::POST, &path, Some(&[("csrf", &csrf)]), &headers)
            .await
            .assert_html(403);
    }
    assert!(!revoked(&s, &victim).await, "nothing changed");

    let before = s.store.keys().await.expect("keys").len();
    web.post("/admin/keys", &[("label", "sneaky")])
        .await
        .assert_html(403);
    assert_eq!(
        s.store.keys().await.expect("keys").len(),
        before,
        "no key minted"
    );

    let id = s.user("csrf.user").await;
    web.post(
        &format!("/admin/users/{id}/display-name"),
        &[("display_name", "Forged")],
    )
    .await
    .assert_html(403);
    let page = web.get(&format!("/admin/users/{id}")).await;
    assert!(!page.text.contains("Forged"));
    // Under `Referrer-Policy: no-referrer`, browsers send `Origin: null` with their own forms.
    let p = web
        .send_with(
            Method::POST,
            &format!("/admin/users/{id}/display-name"),
            Some(&[("csrf", &csrf), ("display_name", "Own form")]),
            &[("Origin", "null"), ("Sec-Fetch-Site", "same-origin")],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.text);
    assert!(web
        .get(&format!("/admin/users/{id}"))
        .await
        .text
        .contains("<h1>Own form</h1>"));

    // With the token, from this page: revoked.
    let origin = s.origin.clone();
    let p = web
        .send_with(
            Method::POST,
            &path,
            Some(&[("csrf", &csrf)]),
            &[("Origin", &origin), ("Sec-Fetch-Site", "same-origin")],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.text);
    assert_eq!(p.location(), Some("/admin/keys"));
    assert!(revoked(&s, &victim).await);
}

#[tokio::test]
async fn a_minted_key_is_shown_once_and_works() {
    let s = TestServer::start().await;
    let (_, admin) = admin_key(&s, "Ada").await;
    let mut web = Web::new(&s);
    let csrf = web.signed_in(&admin).await;
    let p = web
        .post(
            "/admin/keys",
            &[("csrf", &csrf), ("label", "OneLogin prod")],
        )
        .await;
    p.assert_html(200);
    assert_eq!(p.header("cache-control"), Some("no-store"));
    assert!(p.text.contains("Copy API Key"));
    let marker = "id=\"new-key\" type=\"text\" readonly value=\"";
    let at = p.text.find(marker).expect("the key field") + marker.len();
    let key = p.text[at..].split('"').next().expect("key").to_string();
    assert!(key.starts_with("scim_") && key.len() == 69, "{key}");

    let r = s
        .client
        .get(s.url("/Users"))
        .bearer_auth(&key)
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), 200, "the new SCIM key works");

    let list = web.get("/admin/keys").await;
    list.assert_html(200);
    assert!(list.text.contains("OneLogin prod"));
    assert!(!list.text.contains(&key), "the list never shows a key");
    assert!(!list.text.contains(&key[5..20]), "nor part of it");
    let home = web.get("/admin").await;
    assert!(!home.text.contains(&key));

    // An admin key minted here opens the page.
    let p = web
        .post(
            "/admin/keys",
            &[("csrf", &csrf), ("label", "Grace"), ("admin", "on")],
        )
        .await;
    p.assert_html(200);
    let at = p.text.find(marker).expect("the key field") + marker.len();
    let grace = p.text[at..].split('"').next().expect("key").to_string();
    let mut other = Web::new(&s);
    other.signed_in(&grace).await;

    // A label the store refuses is an HTML error, not a crash.
    let p = web
        .post("/admin/keys", &[("csrf", &csrf), ("label", "  ")])
        .await;
    p.assert_html(400);
}

#[tokio::test]
async fn user_names_are_escaped_and_found_by_search() {
    let s = TestServer::start().await;
    let (_, admin) = admin_key(&s, "Ada").await;
    let evil = "<script>alert(1)</script>@x";
    let mut body = user_body(evil);
    body["emails"] = json!([{"value": "evil@example.com", "primary": true}]);
    body["name"] = json!({"givenName": "\"><img src=x onerror=alert(2)>", "familyName": "O'Brien"});
    let r = s.post("/Users", body).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.id();
    s.user("plain.person").await;

    let mut web = Web::new(&s);
    web.signed_in(&admin).await;
    for path in [
        "/admin/users".to_string(),
        "/admin/users?q=SCRIPT".to_string(),
        format!("/admin/users/{id}"),
    ] {
        let p = web.get(&path).await;
        p.assert_html(200);
        assert!(!p.text.contains("<script>alert"), "{path}: {}", p.text);
        assert!(!p.text.contains("<img src=x"), "{path}");
        assert!(
            p.text.contains("&lt;script&gt;alert(1)&lt;/script&gt;@x"),
            "{path}: {}",
            p.text
        );
        assert!(p.text.contains("O&#39;Brien"), "{path}");
    }
    let found = web.get("/admin/users?q=SCRIPT").await;
    assert!(!found.text.contains("plain.person"), "only matches");
    let found = web.get("/admin/users?q=plain").await;
    assert!(found.text.contains("plain.person"));
    assert!(!found.text.contains("&lt;script"));
    let none = web.get("/admin/users?q=nobody-here").await;
    assert!(none.text.contains("No user matches"));
}

#[tokio::test]
async fn a_user_page_shows_the_history_with_the_scim_actor_and_takes_a_display_name() {
    let s = TestServer::start().await;
    let (_, admin) = admin_key(&s, "Ada").await;
    let id = s.user("jdoe").await;
    let r = s
        .patch(
            &format!("/Users/{id}"),
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                   "Operations": [{"op": "replace", "path": "active", "value": false}]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let g = s.group("Engineers", &[&id]).await;

    let mut web = Web::new(&s);
    let csrf = web.signed_in(&admin).await;
    let list = web.get("/admin/users").await;
    assert!(list.text.contains(&format!("/admin/users/{id}")));
    assert!(list.text.contains("Given Family"), "profile display name");
    assert!(list.text.contains("suspended"));
    assert!(list.text.contains("Everyone"));

    let page = web.get(&format!("/admin/users/{id}")).await;
    page.assert_html(200);
    assert!(page.text.contains("<th scope=\"col\">Actor</th>"));
    assert!(page.text.contains("Scim System User"), "{}", page.text);
    assert!(page.text.contains("<code>active</code>"), "{}", page.text);
    assert!(
        page.text.contains("&quot;userName&quot;: &quot;jdoe&quot;"),
        "SCIM resource"
    );

    let p = web
        .post(
            &format!("/admin/users/{id}/display-name"),
            &[("csrf", &csrf), ("display_name", "Jane Doe")],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.text);
    let page = web.get(&format!("/admin/users/{id}")).await;
    assert!(page.text.contains("<h1>Jane Doe</h1>"), "{}", page.text);
    assert!(page.text.contains("profile.displayName"));
    assert!(page.text.contains("Ada"), "the admin is the actor");

    let p = web
        .post(
            &format!("/admin/users/{id}/display-name"),
            &[("csrf", &csrf), ("display_name", "")],
        )
        .await;
    p.assert_html(400);

    let groups = web.get("/admin/groups").await;
    assert!(groups.text.contains("Engineers"));
    let group = web.get(&format!("/admin/groups/{g}")).await;
    group.assert_html(200);
    assert!(
        group.text.contains(&format!("/admin/users/{id}")),
        "{}",
        group.text
    );
    assert!(group.text.contains("jdoe"));

    // A deleted user's history stays readable; an unknown one is a 404 page.
    assert_eq!(s.delete(&format!("/Users/{id}")).await.status, 204);
    let page = web.get(&format!("/admin/users/{id}")).await;
    page.assert_html(200);
    assert!(page.text.contains("deleted"));
    web.get("/admin/users/no-such-user").await.assert_html(404);
    web.get("/admin/groups/no-such-group")
        .await
        .assert_html(404);
    web.get("/admin/no/such/page").await.assert_html(404);
    let api = web.get("/admin/v1/no/such/page").await;
    assert_eq!(api.header("content-type"), Some("application/scim+json"));
}

#[tokio::test]
async fn a_session_ends_with_its_key_and_at_sign_out() {
    let s = TestServer::start().await;
    let (ada_id, ada) = admin_key(&s, "Ada").await;
    let mut web = Web::new(&s);
    web.signed_in(&ada).await;
    s.revoke(&ada_id).await;
    let p = web.get("/admin").await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    assert_eq!(p.location(), Some("/admin/signin"));
    web.sign_in(&ada).await.assert_html(401);

    // Revoking one's own key on the keys page ends the session too.
    let (grace_id, grace) = admin_key(&s, "Grace").await;
    let mut web = Web::new(&s);
    let csrf = web.signed_in(&grace).await;
    let p = web
        .post(
            &format!("/admin/keys/{grace_id}/revoke"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    assert_eq!(
        web.get("/admin/keys").await.location(),
        Some("/admin/signin")
    );

    // Signing out ends the session, even for a client that kept the cookie.
    let (_, hopper) = admin_key(&s, "Hopper").await;
    let mut web = Web::new(&s);
    let csrf = web.signed_in(&hopper).await;
    let kept = web.cookies.clone();
    web.post("/admin/signout", &[]).await.assert_html(403);
    let p = web.post("/admin/signout", &[("csrf", &csrf)]).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    assert_eq!(p.location(), Some("/admin/signin"));
    web.cookies = kept;
    assert_eq!(web.get("/admin").await.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn assets_are_served_and_the_pages_use_no_inline_script() {
    let s = TestServer::start().await;
    let (_, admin) = admin_key(&s, "Ada").await;
    let mut web = Web::new(&s);
    let css = web.get("/admin/assets/admin.css").await;
    assert_eq!(css.status, 200);
    assert_eq!(css.header("content-type"), Some("text/css; charset=utf-8"));
    let js = web.get("/admin/assets/admin.js").await;
    assert_eq!(js.status, 200);
    assert!(js
        .header("content-type")
        .is_some_and(|c| c.starts_with("text/javascript")));
    assert!(js.text.contains("clipboard"));
    web.signed_in(&admin).await;
    s.user("someone").await;
    for path in [
        "/admin",
        "/admin/users",
        "/admin/groups",
        "/admin/keys",
        "/admin/tenants",
        "/admin/t/default/users",
    ] {
        let p = web.get(path).await;
        p.assert_html(200);
        assert_eq!(p.text.matches("<script").count(), 1, "{path}");
        assert!(p
            .text
            .contains("<script src=\"/admin/assets/admin.js\" defer></script>"));
        assert!(!p.text.contains("style=\""), "{path}: no inline style");
        assert!(!p.text.contains(" onclick"), "{path}");
    }
}
