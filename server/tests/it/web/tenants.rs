//! The admin web page with tenants: the operator's tenants page (list, open, create, disable,
//! delete), each tenant's own pages under `/admin/t/{tenant}` (its base URL, links that stay
//! within it), and a tenant's administrator, who sees its own tenant only.

use reqwest::StatusCode;
use scim_core::auth::{operator, KeyKind};
use scim_core::model::TenantId;
use scim_core::NewTenant;

use super::admin_key;
use super::client::{targets, Web};
use crate::support::{user_body, Reply, TestServer, SCIM};

/// A tenant: its first SCIM key, and an admin key of its own.
struct Org {
    id: String,
    scim: String,
    admin: String,
}

async fn org(s: &TestServer, id: &str, name: &str) -> Org {
    let new = NewTenant {
        id: TenantId::parse(id).expect("id"),
        name: name.into(),
        default_role: None,
    };
    let (tenant, _, scim) = s.core.create_tenant(new, operator()).await.expect("tenant");
    let (_, admin) = s
        .core
        .mint_key("Tenant admin", KeyKind::Admin, Some(&tenant.id), operator())
        .await
        .expect("admin key");
    Org {
        id: id.into(),
        scim,
        admin,
    }
}

/// A tenant's SCIM base URL.
fn scim_base(s: &TestServer, tenant: &str) -> String {
    let path = s.base.strip_prefix(&s.origin).expect("base path");
    format!("{}/t/{tenant}{path}", s.origin)
}

/// A SCIM request to a tenant's `/Users` with `key`: its status, and the user's id when created.
async fn scim_users(s: &TestServer, tenant: &str, key: &str, user_name: Option<&str>) -> Reply {
    let url = format!("{}/Users", scim_base(s, tenant));
    let r = match user_name {
        Some(name) => s
            .client
            .post(url)
            .header("Content-Type", SCIM)
            .body(user_body(name).to_string()),
        None => s.client.get(url),
    };
    Reply::from(r.bearer_auth(key).send().await.expect("request")).await
}

async fn user_in(s: &TestServer, org: &Org, user_name: &str) -> String {
    let r = scim_users(s, &org.id, &org.scim, Some(user_name)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    r.id()
}

/// The key a page shows once.
fn shown_key(text: &str) -> String {
    let marker = "id=\"new-key\" type=\"text\" readonly value=\"";
    let at = text.find(marker).expect("the key field") + marker.len();
    text[at..].split('"').next().expect("key").to_string()
}

async fn tenant_ids(s: &TestServer) -> Vec<String> {
    let all = s.core.tenants().await.expect("tenants");
    all.iter().map(|t| t.id.to_string()).collect()
}

#[tokio::test]
async fn an_operator_lists_tenants_and_opens_each_ones_pages() {
    let s = TestServer::start().await;
    let (_, op) = admin_key(&s, "Operator").await;
    let acme = org(&s, "acme", "Acme <Corp>").await;
    let id = user_in(&s, &acme, "acme.person").await;
    s.user("default.person").await;
    let mut web = Web::new(&s);
    web.signed_in(&op).await;

    let home = web.get("/admin").await;
    assert!(home.text.contains("<a href=\"/admin/tenants\">Tenants</a>"));
    assert!(home.text.contains("Tenant: <strong>Default</strong>"));

    let list = web.get("/admin/tenants").await;
    list.assert_html(200);
    assert!(list.text.contains("All tenants"), "about no one tenant");
    for shown in [
        "<code>acme</code>",
        "<a href=\"/admin/t/acme\">Acme &lt;Corp&gt;</a>",
        "<a href=\"/admin/t/default\">Default</a>",
        "Everyone",
        "<span class=\"status active\">active</span>",
    ] {
        assert!(list.text.contains(shown), "{shown}: {}", list.text);
    }
    assert!(list.text.contains(&format!("<code>{}</code>", s.base)));
    let acme_base = scim_base(&s, "acme");
    assert!(list.text.contains(&format!("<code>{acme_base}</code>")));

    // Its home page: its own SCIM base URL, the OneLogin steps, links within it.
    let home = web.get("/admin/t/acme").await;
    home.assert_html(200);
    assert!(home.text.contains(&format!("value=\"{acme_base}\"")));
    assert!(home.text.contains("Enable"), "the OneLogin steps");
    assert!(home
        .text
        .contains("Tenant: <strong>Acme &lt;Corp&gt;</strong>"));
    assert!(home
        .text
        .contains("href=\"/admin/t/acme/keys\">Mint a SCIM key"));
    let users = web.get("/admin/t/acme/users").await;
    assert!(users.text.contains("acme.person"), "{}", users.text);
    assert!(!users.text.contains("default.person"));
    assert!(users
        .text
        .contains(&format!("href=\"/admin/t/acme/users/{id}\"")));
    for path in ["/admin/t/acme", "/admin/t/acme/users", "/admin/t/acme/keys"] {
        let p = web.get(path).await;
        for t in targets(&p.text) {
            assert!(
                t.starts_with("/admin/t/acme")
                    || t.starts_with("/admin/assets/")
                    || t == "/admin/tenants"
                    || t == "/admin/signout"
                    || t == "#main",
                "{path} links to {t}"
            );
        }
    }

    // A scoped tenants page, or an unknown tenant's pages, do not exist.
    web.get("/admin/t/acme/tenants").await.assert_html(404);
    web.get("/admin/t/nobody").await.assert_html(404);
    web.get("/admin/t/Not_Valid/users").await.assert_html(404);
}

#[tokio::test]
async fn an_operator_creates_disables_and_deletes_a_tenant_with_the_forms() {
    let s = TestServer::start().await;
    let (_, op) = admin_key(&s, "Operator").await;
    let mut web = Web::new(&s);
    let csrf = web.signed_in(&op).await;

    // Created through the form: its base URL and first SCIM key, shown once.
    let create = [
        ("csrf", csrf.as_str()),
        ("id", "globex"),
        ("name", "Globex"),
        ("default_role", "Staff"),
    ];
    web.post("/admin/tenants", &create[1..])
        .await
        .assert_html(403);
    assert!(!tenant_ids(&s).await.contains(&"globex".to_string()));
    let p = web.post("/admin/tenants", &create).await;
    p.assert_html(200);
    let base = scim_base(&s, "globex");
    assert!(p.text.contains(&format!("value=\"{base}\"")), "{}", p.text);
    assert!(p.text.contains("Copy SCIM base URL") && p.text.contains("Copy API Key"));
    assert!(p.text.contains("href=\"/admin/t/globex\""));
    let key = shown_key(&p.text);
    assert_eq!(scim_users(&s, "globex", &key, None).await.status, 200);
    assert_eq!(
        scim_users(&s, "globex", &s.key, None).await.status,
        401,
        "default's key is not globex's"
    );
    let list = web.get("/admin/tenants").await;
    assert!(list.text.contains("Globex") && list.text.contains("Staff"));
    assert!(!list.text.contains(&key), "the key is shown once");
    web.post("/admin/tenants", &create).await.assert_html(409);
    let bad = [("csrf", csrf.as_str()), ("id", "Not Valid"), ("name", "x")];
    web.post("/admin/tenants", &bad).await.assert_html(400);

    // Disabled: its keys stop working; deleted only when confirmed.
    let disable = [("csrf", csrf.as_str()), ("action", "disable")];
    let p = web.post("/admin/tenants/globex", &disable).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.text);
    assert_eq!(p.location(), Some("/admin/tenants"));
    assert_eq!(scim_users(&s, "globex", &key, None).await.status, 401);
    let list = web.get("/admin/tenants").await;
    assert!(list
        .text
        .contains("<span class=\"status disabled\">disabled</span>"));
    assert!(list.text.contains("I understand that this deletes Globex"));
    let unconfirmed = [("csrf", csrf.as_str()), ("action", "delete")];
    web.post("/admin/tenants/globex", &unconfirmed)
        .await
        .assert_html(400);
    assert!(tenant_ids(&s).await.contains(&"globex".to_string()));
    let confirmed = [
        ("csrf", csrf.as_str()),
        ("action", "delete"),
        ("confirm", "on"),
    ];
    web.post("/admin/tenants/default", &confirmed)
        .await
        .assert_html(400);
    let p = web.post("/admin/tenants/globex", &confirmed).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.text);
    assert_eq!(tenant_ids(&s).await, ["default"]);
    web.get("/admin/t/globex").await.assert_html(404);
}

#[tokio::test]
async fn a_tenant_admin_sees_its_own_tenant_only_and_its_links_stay_there() {
    let s = TestServer::start().await;
    let acme = org(&s, "acme", "Acme").await;
    let other = org(&s, "other", "Other").await;
    let own = user_in(&s, &acme, "acme.person").await;
    let theirs = user_in(&s, &other, "other.person").await;
    let default_user = s.user("default.person").await;

    let mut web = Web::new(&s);
    let csrf = web.signed_in_at(&acme.admin, "/admin/t/acme").await;
    for path in ["/admin", "/admin/users", "/admin/signin"] {
        let p = web.get(path).await;
        assert_eq!(p.status, StatusCode::SEE_OTHER, "{path}");
        assert_eq!(p.location(), Some("/admin/t/acme"), "{path}");
    }
    let home = web.get("/admin/t/acme").await;
    assert!(home
        .text
        .contains(&format!("value=\"{}\"", scim_base(&s, "acme"))));
    assert!(home.text.contains("Tenant: <strong>Acme</strong>"));
    assert!(!home.text.contains("/admin/tenants"), "no tenants entry");

    let users = web.get("/admin/t/acme/users").await;
    assert!(users.text.contains("acme.person"));
    assert!(!users.text.contains("other.person") && !users.text.contains("default.person"));
    for path in [
        "/admin/t/acme".to_string(),
        "/admin/t/acme/users?q=acme".to_string(),
        format!("/admin/t/acme/users/{own}"),
        "/admin/t/acme/groups".to_string(),
        "/admin/t/acme/keys".to_string(),
    ] {
        let p = web.get(&path).await;
        p.assert_html(200);
        for t in targets(&p.text) {
            assert!(
                t.starts_with("/admin/t/acme")
                    || t.starts_with("/admin/assets/")
                    || t == "/admin/signout"
                    || t == "#main",
                "{path} links to {t}"
            );
        }
    }

    // Another tenant's pages, and the operator's, do not exist for it.
    for path in [
        "/admin/t/other".to_string(),
        "/admin/t/other/users".to_string(),
        format!("/admin/t/other/users/{theirs}"),
        format!("/admin/t/acme/users/{theirs}"),
        format!("/admin/t/acme/users/{default_user}"),
        "/admin/tenants".to_string(),
        "/admin/t/acme/tenants".to_string(),
    ] {
        let p = web.get(&path).await;
        p.assert_html(404);
        assert!(!p.text.contains("other.person"), "{path}");
    }
    let create = [("csrf", csrf.as_str()), ("id", "mine"), ("name", "Mine")];
    web.post("/admin/tenants", &create).await.assert_html(404);
    let disable = [("csrf", csrf.as_str()), ("action", "disable")];
    web.post("/admin/tenants/other", &disable)
        .await
        .assert_html(404);
    assert_eq!(tenant_ids(&s).await, ["acme", "default", "other"]);
    assert_eq!(scim_users(&s, "other", &other.scim, None).await.status, 200);

    // Its forms act on its own tenant, and lead back to its pages.
    let name = [("csrf", csrf.as_str()), ("display_name", "Acme Person")];
    let p = web
        .post(&format!("/admin/t/acme/users/{own}/display-name"), &name)
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.text);
    let back = format!("/admin/t/acme/users/{own}");
    assert_eq!(p.location(), Some(back.as_str()));
    let mint = [("csrf", csrf.as_str()), ("label", "OneLogin")];
    let p = web.post("/admin/t/acme/keys", &mint).await;
    p.assert_html(200);
    assert!(p
        .text
        .contains("href=\"/admin/t/acme/keys\">Back to API keys"));
    let key = shown_key(&p.text);
    assert_eq!(scim_users(&s, "acme", &key, None).await.status, 200);
    assert_eq!(scim_users(&s, "other", &key, None).await.status, 401);

    // Signing out works from its pages too.
    let p = web.post("/admin/signout", &[("csrf", &csrf)]).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.text);
    assert_eq!(p.location(), Some("/admin/signin"));
    let p = web.get("/admin/t/acme").await;
    assert_eq!(p.location(), Some("/admin/signin"));
}

#[tokio::test]
async fn disabling_a_tenant_ends_its_admins_sessions_until_it_is_enabled() {
    let s = TestServer::start().await;
    let (_, op) = admin_key(&s, "Operator").await;
    let acme = org(&s, "acme", "Acme").await;
    let mut tenant_admin = Web::new(&s);
    tenant_admin
        .signed_in_at(&acme.admin, "/admin/t/acme")
        .await;
    let mut operator = Web::new(&s);
    let csrf = operator.signed_in(&op).await;

    let disable = [("csrf", csrf.as_str()), ("action", "disable")];
    let p = operator.post("/admin/tenants/acme", &disable).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.text);
    let p = tenant_admin.get("/admin/t/acme/users").await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    assert_eq!(p.location(), Some("/admin/signin"));
    tenant_admin.sign_in(&acme.admin).await.assert_html(401);
    // The operator still opens it, and sees that it is disabled.
    let page = operator.get("/admin/t/acme").await;
    page.assert_html(200);
    assert!(page.text.contains("(disabled)"));

    let enable = [("csrf", csrf.as_str()), ("action", "enable")];
    let p = operator.post("/admin/tenants/acme", &enable).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.text);
    tenant_admin
        .signed_in_at(&acme.admin, "/admin/t/acme")
        .await;
}
