//! The admin web page's webhooks, over plain HTTP: endpoints added through the form (the signing
//! secret shown once), disabled, enabled and their secret rotated; bad input and forms without
//! the session's token change nothing; an endpoint's deliveries with a failed event sent again;
//! a tenant's endpoints are its own; everything escaped.

use crate::web::client;

use std::time::Duration;

use reqwest::StatusCode;
use scim_core::auth::{operator, KeyKind};
use scim_core::delivery::{Rules, Step};
use scim_core::model::TenantId;
use scim_core::views::WebhookInfo;
use scim_core::NewTenant;

use crate::support::TestServer;
use client::{targets, Page, Web};

async fn signed_in_admin(s: &TestServer) -> (Web<'_>, String) {
    let (_, admin) = s.mint("Ada", true).await;
    let mut web = Web::new(s);
    let csrf = web.signed_in(&admin).await;
    (web, csrf)
}

async fn endpoints(s: &TestServer, tenant: &TenantId) -> Vec<WebhookInfo> {
    s.core.webhooks(tenant).await.expect("endpoints")
}

/// The signing secret on an answer page.
fn secret_on(p: &Page) -> String {
    let marker = "id=\"new-secret\" type=\"text\" readonly value=\"";
    let at = p
        .text
        .find(marker)
        .unwrap_or_else(|| panic!("no secret field in:\n{}", p.text))
        + marker.len();
    p.text[at..].split('"').next().expect("secret").to_string()
}

/// Text as the pages escape it.
fn escaped(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn assert_no_inline_code(p: &Page, what: &str) {
    assert_eq!(p.text.matches("<script").count(), 1, "{what}: {}", p.text);
    assert!(!p.text.contains("style=\""), "{what}: no inline style");
    assert!(!p.text.contains(" onclick"), "{what}");
}

#[tokio::test]
async fn an_endpoint_is_added_through_the_form_with_its_secret_shown_once_then_disabled_enabled_and_rotated(
) {
    let s = TestServer::start().await;
    let default = TenantId::default_tenant();
    let (mut web, csrf) = signed_in_admin(&s).await;

    let home = web.get("/admin").await;
    assert!(
        home.text
            .contains("<a href=\"/admin/webhooks\">Webhooks</a>"),
        "the navigation: {}",
        home.text
    );
    let list = web.get("/admin/webhooks").await;
    list.assert_html(200);
    assert!(list
        .text
        .contains("<a href=\"/admin/webhooks\" aria-current=\"page\">Webhooks</a>"));
    assert!(list.text.contains("No endpoint yet"), "{}", list.text);
    assert!(list.text.contains("action=\"/admin/webhooks\""));
    assert!(
        list.text
            .contains("name=\"events\" type=\"text\" value=\"*\""),
        "every event by default: {}",
        list.text
    );

    let url = "https://hooks.example.com/scim?a=<script>alert(1)</script>&b='c'";
    let p = web
        .post(
            "/admin/webhooks",
            &[
                ("csrf", &csrf),
                ("url", url),
                ("events", "user.*, group.updated  user.*"),
            ],
        )
        .await;
    p.assert_html(200);
    assert_eq!(p.header("cache-control"), Some("no-store"));
    assert!(p.text.contains("Copy signing secret"), "{}", p.text);
    let secret = secret_on(&p);
    assert!(secret.starts_with("whsec_"), "{secret}");
    assert!(!p.text.contains("<script>alert"), "{}", p.text);
    let added = endpoints(&s, &default).await;
    assert_eq!(added.len(), 1);
    let hook = &added[0];
    assert_eq!(hook.events, ["user.*", "group.updated"]);
    assert!(hook.enabled);
    let opened = s
        .core
        .signing_secrets(
            &s.core.webhook(&default, &hook.id).await.expect("endpoint"),
            time::OffsetDateTime::now_utc(),
        )
        .expect("secrets");
    assert_eq!(
        opened[0].reveal(),
        secret,
        "the secret shown is the one that signs"
    );

    // Listed, escaped, never with its secret.
    let list = web.get("/admin/webhooks").await;
    list.assert_html(200);
    assert_no_inline_code(&list, "list");
    assert!(list.text.contains(&escaped(&hook.url)), "{}", list.text);
    assert!(!list.text.contains("<script>alert"), "{}", list.text);
    assert!(!list.text.contains(&secret) && !list.text.contains("whsec_"));
    assert!(list.text.contains("enabled"));
    assert!(list.text.contains("<code>group.updated</code>"));
    let page_of = format!("/admin/webhooks/{}", hook.id);
    assert!(targets(&list.text).contains(&page_of), "{}", list.text);
    for action in ["disable", "rotate"] {
        assert!(
            targets(&list.text).contains(&format!("{page_of}/{action}")),
            "{action}: {}",
            list.text
        );
    }

    // Disabled, then enabled again.
    let p = web
        .post(&format!("{page_of}/disable"), &[("csrf", &csrf)])
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.text);
    assert_eq!(p.location(), Some("/admin/webhooks"));
    assert!(!endpoints(&s, &default).await[0].enabled);
    let list = web.get("/admin/webhooks").await;
    assert!(list.text.contains("status disabled"), "{}", list.text);
    assert!(targets(&list.text).contains(&format!("{page_of}/enable")));
    let p = web
        .post(&format!("{page_of}/enable"), &[("csrf", &csrf)])
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.text);
    assert!(endpoints(&s, &default).await[0].enabled);

    // A new secret, shown once; the previous one still signs for a day.
    let p = web
        .post(&format!("{page_of}/rotate"), &[("csrf", &csrf)])
        .await;
    p.assert_html(200);
    let rotated = secret_on(&p);
    assert!(
        rotated.starts_with("whsec_") && rotated != secret,
        "{rotated}"
    );
    assert!(p.text.contains("for 24 hours"), "{}", p.text);
    let stored = s.core.webhook(&default, &hook.id).await.expect("endpoint");
    let signing = s
        .core
        .signing_secrets(&stored, time::OffsetDateTime::now_utc())
        .expect("secrets");
    let revealed: Vec<String> = signing.iter().map(|k| k.reveal()).collect();
    assert_eq!(revealed, [rotated.clone(), secret.clone()]);
    let page = web.get(&page_of).await;
    page.assert_html(200);
    assert_no_inline_code(&page, "endpoint page");
    assert!(page.text.contains("still signs until"), "{}", page.text);
    assert!(!page.text.contains("<script>alert"));
    for p in [web.get("/admin/webhooks").await, page] {
        assert!(!p.text.contains(&secret) && !p.text.contains(&rotated));
        assert!(!p.text.contains("whsec_"));
    }

    // No events given: every event.
    let p = web
        .post(
            "/admin/webhooks",
            &[
                ("csrf", &csrf),
                ("url", "https://two.example.com/"),
                ("events", " "),
            ],
        )
        .await;
    p.assert_html(200);
    let all = endpoints(&s, &default).await;
    let two = all
        .iter()
        .find(|e| e.url == "https://two.example.com/")
        .expect("added");
    assert_eq!(two.events, ["*"]);
}

#[tokio::test]
async fn bad_input_and_forms_without_the_token_change_nothing() {
    let s = TestServer::start().await;
    let default = TenantId::default_tenant();
    let (mut web, csrf) = signed_in_admin(&s).await;

    // Plain http is refused (this server allows no private addresses): the core's message.
    let p = web
        .post(
            "/admin/webhooks",
            &[
                ("csrf", &csrf),
                ("url", "http://hooks.example.com/x"),
                ("events", "*"),
            ],
        )
        .await;
    p.assert_html(400);
    assert!(p.text.contains("must be https"), "{}", p.text);
    let p = web
        .post(
            "/admin/webhooks",
            &[
                ("csrf", &csrf),
                ("url", "https://hooks.example.com/x"),
                ("events", "<script>alert(1)</script>"),
            ],
        )
        .await;
    p.assert_html(400);
    assert!(!p.text.contains("<script>alert"), "{}", p.text);
    assert!(
        p.text.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{}",
        p.text
    );
    assert!(p.text.contains("is no event type"), "{}", p.text);
    assert!(endpoints(&s, &default).await.is_empty(), "nothing added");

    // Without the session's token.
    let form = [("url", "https://hooks.example.com/x"), ("events", "*")];
    web.post("/admin/webhooks", &form).await.assert_html(403);
    assert!(endpoints(&s, &default).await.is_empty());
    let added = s
        .core
        .add_webhook(
            &default,
            "https://hooks.example.com/x",
            &["*".to_string()],
            operator(),
        )
        .await
        .expect("added");
    let id = added.webhook.id;
    for action in ["disable", "rotate", "resend"] {
        web.post(
            &format!("/admin/webhooks/{id}/{action}"),
            &[("csrf", "0000")],
        )
        .await
        .assert_html(403);
    }
    let after = s.core.webhook(&default, &id).await.expect("endpoint");
    assert!(
        after.enabled && after.previous_secret.is_none(),
        "nothing changed"
    );

    // Unknown endpoints and events are 404 pages.
    web.get("/admin/webhooks/no-such-endpoint")
        .await
        .assert_html(404);
    web.post(
        "/admin/webhooks/no-such-endpoint/disable",
        &[("csrf", &csrf)],
    )
    .await
    .assert_html(404);
    let p = web
        .post(
            &format!("/admin/webhooks/{id}/resend"),
            &[("csrf", &csrf), ("event", "evt_unknown")],
        )
        .await;
    p.assert_html(404);
    web.post(&format!("/admin/webhooks/{id}/resend"), &[("csrf", &csrf)])
        .await
        .assert_html(400);
}

#[tokio::test]
async fn a_failed_delivery_is_listed_and_sent_again() {
    let s = TestServer::start_with(|c| c.webhook_allow_private = true).await;
    let default = TenantId::default_tenant();
    let (mut web, csrf) = signed_in_admin(&s).await;
    // A local port nobody listens on.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let p = web
        .post(
            "/admin/webhooks",
            &[
                ("csrf", &csrf),
                ("url", &format!("http://127.0.0.1:{port}/hook")),
                ("events", "user.created"),
            ],
        )
        .await;
    p.assert_html(200);
    let id = endpoints(&s, &default).await[0].id.clone();
    let page_of = format!("/admin/webhooks/{id}");

    let page = web.get(&page_of).await;
    page.assert_html(200);
    assert!(
        page.text.contains("No event waits to be sent."),
        "{}",
        page.text
    );
    assert!(page.text.contains("No event was given up."));
    assert!(page.text.contains("No delivery was attempted yet."));

    s.user("alice").await;
    let page = web.get(&page_of).await;
    assert!(
        page.text.contains("1 event waits to be sent"),
        "{}",
        page.text
    );

    // One attempt, refused, given up at once.
    let sender = server::webhooks::HttpSender::new(Duration::from_secs(2), true).expect("sender");
    let rules = Rules {
        retry_for: time::Duration::ZERO,
        ..Default::default()
    };
    let deliver = || s.core.deliver(&default, &id, &sender, &rules, &s.base, 0.0);
    for _ in 0..10 {
        if deliver().await.expect("deliver") == Step::Idle {
            break;
        }
    }
    let view = s.core.delivery(&default, &id).await.expect("delivery");
    assert_eq!(view.failed.len(), 1, "{view:?}");
    assert_eq!(view.pending, 0);
    let failed = view.failed[0].clone();
    let error = failed.error.clone().expect("why it failed");
    assert_eq!(failed.status, None);

    let page = web.get(&page_of).await;
    page.assert_html(200);
    assert_no_inline_code(&page, "deliveries");
    assert!(page.text.contains(&failed.event_id), "{}", page.text);
    assert!(page.text.contains("<code>user.created</code>"));
    assert!(
        page.text.contains(&escaped(&error)),
        "{error}: {}",
        page.text
    );
    assert!(page.text.contains("given up"), "{}", page.text);
    assert!(page.text.contains("Send again"));
    assert!(targets(&page.text).contains(&format!("{page_of}/resend")));
    assert!(page.text.contains(&format!(
        "name=\"event\" value=\"{}\"",
        escaped(&failed.event_id)
    )));
    let list = web.get("/admin/webhooks").await;
    assert!(
        list.text.contains("<td>0</td><td>1</td>"),
        "none delivered, one failed: {}",
        list.text
    );

    // Sent again: queued before what is pending, and the page says so.
    let p = web
        .post(
            &format!("{page_of}/resend"),
            &[("csrf", &csrf), ("event", &failed.event_id)],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.text);
    let back = p.location().expect("back to the endpoint").to_string();
    assert_eq!(back, format!("{page_of}?queued={}", failed.event_id));
    let view = s.core.delivery(&default, &id).await.expect("delivery");
    assert_eq!(view.resend, [failed.seq]);
    assert!(view.failed.is_empty(), "no longer among the failed");
    let page = web.get(&back).await;
    page.assert_html(200);
    assert!(
        page.text.contains(&format!(
            "The event {} is queued to be sent again",
            failed.event_id
        )),
        "{}",
        page.text
    );
    assert!(page.text.contains("Queued to be sent again"));
    assert!(page.text.contains("No event was given up."));
    // An unknown event in the query says nothing.
    let page = web.get(&format!("{page_of}?queued=%3Cb%3Eevt")).await;
    assert!(!page.text.contains("is queued to be sent") && !page.text.contains("<b>evt"));

    // Its receiver still refuses: given up again, with a second attempt listed.
    assert_eq!(deliver().await.expect("deliver"), Step::Worked);
    let view = s.core.delivery(&default, &id).await.expect("delivery");
    assert!(view.resend.is_empty());
    assert_eq!(view.failed.len(), 1);
    assert_eq!(view.recent.len(), 2);
    let page = web.get(&back).await;
    assert!(
        page.text
            .contains(&format!("The event {} was sent again", failed.event_id)),
        "{}",
        page.text
    );
}

#[tokio::test]
async fn a_tenants_webhooks_are_its_own() {
    let s = TestServer::start().await;
    let (tenant, _, _) = s
        .core
        .create_tenant(
            NewTenant {
                id: TenantId::parse("acme").expect("id"),
                name: "Acme".into(),
                default_role: None,
            },
            operator(),
        )
        .await
        .expect("tenant");
    let (_, admin) = s
        .core
        .mint_key("Acme admin", KeyKind::Admin, Some(&tenant.id), operator())
        .await
        .expect("admin key");
    let theirs = s
        .core
        .add_webhook(
            &TenantId::default_tenant(),
            "https://default.example.com/",
            &["*".to_string()],
            operator(),
        )
        .await
        .expect("added")
        .webhook
        .id;

    let mut web = Web::new(&s);
    let csrf = web.signed_in_at(&admin, "/admin/t/acme").await;
    let list = web.get("/admin/t/acme/webhooks").await;
    list.assert_html(200);
    assert!(!list.text.contains("default.example.com"));
    assert!(list
        .text
        .contains("<a href=\"/admin/t/acme/webhooks\" aria-current=\"page\">Webhooks</a>"));
    let p = web
        .post(
            "/admin/t/acme/webhooks",
            &[
                ("csrf", &csrf),
                ("url", "https://acme.example.com/"),
                ("events", "group.*"),
            ],
        )
        .await;
    p.assert_html(200);
    let ours = endpoints(&s, &tenant.id).await;
    assert_eq!(ours.len(), 1);
    assert_eq!(ours[0].events, ["group.*"]);
    assert_eq!(endpoints(&s, &TenantId::default_tenant()).await.len(), 1);
    let list = web.get("/admin/t/acme/webhooks").await;
    for target in targets(&list.text) {
        assert!(
            !target.starts_with("/admin/")
                || target.starts_with("/admin/t/acme")
                || target.starts_with("/admin/assets")
                || target == "/admin/signout",
            "{target} leaves the tenant"
        );
    }
    let ours_page = format!("/admin/t/acme/webhooks/{}", ours[0].id);
    assert!(targets(&list.text).contains(&ours_page));
    web.get(&ours_page).await.assert_html(200);

    // Another tenant's endpoint does not exist here.
    web.get(&format!("/admin/t/acme/webhooks/{theirs}"))
        .await
        .assert_html(404);
    web.post(
        &format!("/admin/t/acme/webhooks/{theirs}/disable"),
        &[("csrf", &csrf)],
    )
    .await
    .assert_html(404);
    assert!(endpoints(&s, &TenantId::default_tenant()).await[0].enabled);
    let p = web.get("/admin/t/default/webhooks").await;
    p.assert_html(404);
    let p = web.get("/admin/webhooks").await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    assert_eq!(p.location(), Some("/admin/t/acme"));
}
