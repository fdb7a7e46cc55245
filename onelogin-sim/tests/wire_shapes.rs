//! Pins the exact requests each OneLogin event sends (method, path with its
//! quirks, headers, body) to the shapes documented in
//! `shared/onelogin-protocol.md`.

#![allow(clippy::unwrap_used)]

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use onelogin_sim::app::{AppConfig, DeprovisionAction, SuspendAction};
use onelogin_sim::directory::{Directory, Rule, User};
use onelogin_sim::wire::{ActiveUpdate, GroupCreateMembers, MemberRemove, OpCase};
use onelogin_sim::{Profile, Simulator, Step, Target, Verdict, WireOptions};
use serde_json::json;
use support::{Running, Seen};

const V2_BODY: &str = r#"{"schemas":["urn:scim:schemas:core:2.0","urn:scim:schemas:extension:enterprise:2.0"],"userName":"jdoe","name":{"familyName":"Doe","givenName":"Jane"},"emails":[{"value":"jane@example.test","type":"work","primary":true}],"title":"Engineer","urn:scim:schemas:extension:enterprise:2.0":{"department":"R&D","manager":{"value":"10001"}}}"#;

fn directory() -> Directory {
    Directory {
        users: vec![
            User {
                username: "boss".into(),
                firstname: "Big".into(),
                lastname: "Boss".into(),
                email: "boss@example.test".into(),
                ..User::default()
            },
            User {
                username: "jdoe".into(),
                firstname: "Jane".into(),
                lastname: "Doe".into(),
                email: "jane@example.test".into(),
                title: "Engineer".into(),
                department: "R&D".into(),
                manager: Some("boss".into()),
                roles: vec!["Engineering".into()],
                ..User::default()
            },
        ],
        roles: vec![],
        rules: vec![
            Rule {
                role: "Engineering".into(),
                group: None,
            },
            Rule {
                role: "Sales".into(),
                group: None,
            },
        ],
    }
}

fn app() -> AppConfig {
    AppConfig::default()
}

fn with_groups(mut app: AppConfig) -> AppConfig {
    app.provisioning.groups = true;
    app
}

fn simulator(running: &Running, app: AppConfig) -> Simulator {
    Simulator::new(
        app,
        directory(),
        Target::new(running.base(), support::TOKEN),
        Duration::from_secs(10),
    )
    .unwrap()
}

/// Applies steps and asserts every entry passed.
async fn play(sim: &mut Simulator, steps: &[Step]) {
    for (i, step) in steps.iter().enumerate() {
        for e in sim.apply(i + 1, step).await {
            assert_eq!(e.verdict, Verdict::Pass, "{}: {}", e.event, e.reason);
        }
    }
}

fn assign(user: &str) -> Step {
    Step::Assign { user: user.into() }
}

fn header_names(seen: &Seen) -> BTreeSet<&str> {
    seen.headers.keys().map(String::as_str).collect()
}

/// OneLogin's headers on a request without a body.
fn assert_get_headers(seen: &Seen) {
    assert_eq!(seen.header("authorization"), Some("Bearer secret"));
    assert_eq!(
        seen.header("user-agent"),
        Some(""),
        "empty User-Agent (OL6)"
    );
    assert_eq!(seen.header("accept"), Some("application/json"));
    assert_eq!(
        header_names(seen),
        BTreeSet::from(["accept", "authorization", "host", "user-agent"]),
        "{seen:?}"
    );
}

/// OneLogin's headers on a request with a body.
fn assert_body_headers(seen: &Seen) {
    assert_eq!(seen.header("authorization"), Some("Bearer secret"));
    assert_eq!(seen.header("user-agent"), Some(""));
    assert_eq!(seen.header("accept"), Some("application/json"));
    assert_eq!(seen.header("content-type"), Some("application/scim+json"));
    assert_eq!(
        seen.header("content-length")
            .map(|l| l.parse::<usize>().unwrap()),
        Some(seen.body.len())
    );
    assert_eq!(
        header_names(seen),
        BTreeSet::from([
            "accept",
            "authorization",
            "content-length",
            "content-type",
            "host",
            "user-agent"
        ]),
        "{seen:?}"
    );
}

fn lines(seen: &[Seen]) -> Vec<String> {
    seen.iter()
        .map(|s| format!("{} {}", s.method, s.target))
        .collect()
}

#[tokio::test]
async fn enable_sends_the_connection_test() {
    let running = support::start().await;
    let mut app = app();
    app.wire.connection_test_user_name = Some("onelogin-test-user01".into());
    let mut sim = simulator(&running, app);
    play(&mut sim, &[Step::Enable]).await;
    let seen = running.requests().await;
    assert_eq!(
        lines(&seen),
        ["GET /scim/v2/Users?filter=userName+eq+%22onelogin-test-user01%22&"]
    );
    assert_get_headers(&seen[0]);
    assert_eq!(seen[0].body, "");
}

#[tokio::test]
async fn enable_accepts_404_and_rejects_401() {
    use wiremock::{matchers::any, Mock, MockServer, ResponseTemplate};
    for (status, verdict) in [
        (404, Verdict::Pass),
        (401, Verdict::Fail),
        (500, Verdict::Fail),
    ] {
        let server = MockServer::start().await;
        Mock::given(any())
            .respond_with(ResponseTemplate::new(status))
            .mount(&server)
            .await;
        let mut sim = Simulator::new(
            app(),
            directory(),
            Target::new(server.uri(), "t"),
            Duration::from_secs(5),
        )
        .unwrap();
        let entries = sim.apply(1, &Step::Enable).await;
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].verdict, verdict, "HTTP {status}");
    }
}

#[tokio::test]
async fn assign_looks_up_then_creates() {
    let running = support::start().await;
    let mut sim = simulator(&running, app());
    play(&mut sim, &[assign("jdoe")]).await;
    let seen = running.requests().await;
    assert_eq!(
        lines(&seen),
        [
            "GET /scim/v2/Users?filter=userName+eq+%22jdoe%22&",
            "POST /scim/v2/Users"
        ]
    );
    assert_get_headers(&seen[0]);
    assert_body_headers(&seen[1]);
    assert_eq!(seen[1].body, V2_BODY);
    let id = sim.scim_id("jdoe").unwrap();
    assert!(
        running.fake.user(id).is_some(),
        "id remembered from the 201"
    );
}

#[tokio::test]
async fn assign_links_an_existing_user_with_put() {
    let running = support::start().await;
    let id = running
        .fake
        .insert_user(json!({"userName": "jdoe", "name": {"givenName": "J", "familyName": "D"}}));
    let mut sim = simulator(&running, app());
    play(&mut sim, &[assign("jdoe")]).await;
    let seen = running.requests().await;
    assert_eq!(
        lines(&seen),
        [
            "GET /scim/v2/Users?filter=userName+eq+%22jdoe%22&".to_string(),
            format!("PUT /scim/v2/Users/{id}?"),
        ]
    );
    assert_body_headers(&seen[1]);
    assert_eq!(seen[1].body, V2_BODY);
    assert_eq!(sim.scim_id("jdoe"), Some(id.as_str()));
}

#[tokio::test]
async fn update_suspend_and_unsuspend_are_full_puts() {
    let running = support::start().await;
    let mut sim = simulator(&running, app());
    let set = [("title".to_string(), Some("CTO".to_string()))].into();
    play(
        &mut sim,
        &[
            assign("jdoe"),
            Step::Update {
                user: "jdoe".into(),
                set,
            },
            Step::Suspend {
                user: "jdoe".into(),
            },
            Step::Unsuspend {
                user: "jdoe".into(),
            },
        ],
    )
    .await;
    let id = sim.scim_id("jdoe").unwrap().to_string();
    let seen = running.requests().await;
    let put = format!("PUT /scim/v2/Users/{id}?");
    assert_eq!(&lines(&seen)[2..], [put.clone(), put.clone(), put]);
    let updated = V2_BODY.replace("\"Engineer\"", "\"CTO\"");
    let body = |active: &str| format!("{},\"active\":{active}}}", &updated[..updated.len() - 1]);
    assert_eq!(seen[2].body, updated);
    assert_eq!(seen[3].body, body("false"));
    assert_eq!(seen[4].body, body("true"));
    for s in &seen[2..] {
        assert_body_headers(s);
    }
}

#[tokio::test]
async fn deprovision_actions() {
    for action in [
        DeprovisionAction::Delete,
        DeprovisionAction::Suspend,
        DeprovisionAction::DoNothing,
    ] {
        for step in [
            Step::RemoveAccess {
                user: "jdoe".into(),
            },
            Step::DeleteUser {
                user: "jdoe".into(),
            },
        ] {
            let running = support::start().await;
            let mut app = app();
            app.provisioning.deprovision_action = action;
            let mut sim = simulator(&running, app);
            play(&mut sim, &[assign("jdoe"), step.clone()]).await;
            let id = sim.scim_id("jdoe").unwrap().to_string();
            let seen = running.requests().await;
            let after: Vec<String> = lines(&seen)[2..].to_vec();
            match action {
                DeprovisionAction::Delete => {
                    assert_eq!(after, [format!("DELETE /scim/v2/Users/{id}")], "{step:?}");
                    assert_get_headers(&seen[2]);
                    assert_eq!(seen[2].body, "");
                    assert!(running.fake.user(&id).is_none());
                }
                DeprovisionAction::Suspend => {
                    assert_eq!(after, [format!("PUT /scim/v2/Users/{id}?")], "{step:?}");
                    assert!(seen[2].body.ends_with(",\"active\":false}"));
                    assert_eq!(running.fake.user(&id).unwrap()["active"], false);
                }
                DeprovisionAction::DoNothing => {
                    assert!(after.is_empty(), "{after:?}");
                    assert_eq!(running.fake.user(&id).unwrap()["active"], true);
                }
            }
        }
    }
}

#[tokio::test]
async fn suspend_action_do_nothing_sends_nothing() {
    let running = support::start().await;
    let mut app = app();
    app.provisioning.suspend_action = SuspendAction::DoNothing;
    let mut sim = simulator(&running, app);
    play(
        &mut sim,
        &[
            assign("jdoe"),
            Step::Suspend {
                user: "jdoe".into(),
            },
            Step::Unsuspend {
                user: "jdoe".into(),
            },
        ],
    )
    .await;
    assert_eq!(running.requests().await.len(), 2);
}

#[tokio::test]
async fn events_for_users_without_access_send_nothing() {
    let running = support::start().await;
    let mut sim = simulator(&running, with_groups(app()));
    let set = [("title".to_string(), Some("CTO".to_string()))].into();
    play(
        &mut sim,
        &[
            Step::Update {
                user: "jdoe".into(),
                set,
            },
            Step::Suspend {
                user: "jdoe".into(),
            },
            Step::AddRole {
                user: "jdoe".into(),
                role: "Sales".into(),
            },
            Step::RemoveAccess {
                user: "jdoe".into(),
            },
        ],
    )
    .await;
    assert!(running.requests().await.is_empty());
}

#[tokio::test]
async fn groups_v2_one_patch_per_group_in_the_compact_shape() {
    let running = support::start().await;
    let sales = running.fake.insert_group("Sales");
    let mut sim = simulator(&running, with_groups(app()));
    play(
        &mut sim,
        &[
            Step::RefreshEntitlements,
            assign("jdoe"),
            Step::AddRole {
                user: "jdoe".into(),
                role: "Sales".into(),
            },
            Step::RemoveRole {
                user: "jdoe".into(),
                role: "Engineering".into(),
            },
        ],
    )
    .await;
    let uid = sim.scim_id("jdoe").unwrap().to_string();
    let eng = sim.group_id("Engineering").unwrap().to_string();
    assert_eq!(
        sim.group_id("Sales"),
        Some(sales.as_str()),
        "learned from Refresh entitlements"
    );
    let seen = running.requests().await;
    assert_eq!(
        lines(&seen),
        [
            "GET /scim/v2/Groups".to_string(),
            "GET /scim/v2/Users?filter=userName+eq+%22jdoe%22&".to_string(),
            "POST /scim/v2/Users".to_string(),
            "POST /scim/v2/Groups".to_string(),
            format!("PATCH /scim/v2/Groups/{eng}?"),
            format!("PATCH /scim/v2/Groups/{sales}?"),
            format!("PATCH /scim/v2/Groups/{eng}?"),
        ]
    );
    assert_get_headers(&seen[0]);
    assert_eq!(
        seen[3].body,
        r#"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Engineering","members":[]}"#
    );
    let add = format!(
        r#"{{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{{"op":"add","path":"members","value":[{{"value":"{uid}"}}]}}]}}"#
    );
    assert_eq!(seen[4].body, add);
    assert_eq!(seen[5].body, add);
    assert_eq!(uid.len(), 36);
    assert_eq!(seen[4].body.len(), 165, "the traced PATCH is 165 bytes");
    assert_eq!(
        seen[6].body,
        format!(
            r#"{{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{{"op":"remove","path":"members","value":[{{"value":"{uid}"}}]}}]}}"#
        )
    );
    for s in &seen[3..] {
        assert_body_headers(s);
    }
    assert!(running.fake.group_members(&eng).is_empty());
    assert_eq!(running.fake.group_members(&sales), [uid]);
}

#[tokio::test]
async fn groups_v11_use_members_operation() {
    let running = support::start().await;
    let mut app = with_groups(app());
    app.profile = Profile::V11Enterprise;
    let mut sim = simulator(&running, app);
    play(
        &mut sim,
        &[
            assign("jdoe"),
            Step::RemoveRole {
                user: "jdoe".into(),
                role: "Engineering".into(),
            },
        ],
    )
    .await;
    let uid = sim.scim_id("jdoe").unwrap().to_string();
    let seen = running.requests().await;
    assert_eq!(
        seen[1].body,
        r#"{"schemas":["urn:scim:schemas:core:1.0","urn:scim:schemas:extension:enterprise:1.0"],"userName":"jdoe","name":{"familyName":"Doe","givenName":"Jane","formatted":"Jane Doe"},"emails":{"value":"jane@example.test","type":"work","primary":true},"title":"Engineer","urn:scim:schemas:extension:enterprise:1.0":{"department":"R&D","manager":{"managerId":"10001","displayName":"Big Boss"}}}"#
    );
    assert_eq!(
        seen[2].body,
        r#"{"schemas":["urn:scim:schemas:core:1.0"],"displayName":"Engineering","members":[]}"#
    );
    assert_eq!(
        seen[3].body,
        format!(r#"{{"members":[{{"value":"{uid}","operation":"add"}}]}}"#)
    );
    assert_eq!(
        seen[4].body,
        format!(r#"{{"members":[{{"value":"{uid}","operation":"delete"}}]}}"#)
    );
    assert!(seen[3].target.ends_with('?'));
}

#[tokio::test]
async fn v2_core_and_v11_core_bodies() {
    for (profile, body) in [
        (
            Profile::V2Core,
            r#"{"schemas":["urn:scim:schemas:core:2.0"],"userName":"jdoe","name":{"familyName":"Doe","givenName":"Jane"},"emails":[{"value":"jane@example.test","type":"work","primary":true}]}"#,
        ),
        (
            Profile::V11Core,
            r#"{"schemas":["urn:scim:schemas:core:1.0"],"userName":"jdoe","name":{"givenName":"Jane","familyName":"Doe","formatted":"Jane Doe"}}"#,
        ),
    ] {
        let running = support::start().await;
        let mut app = app();
        app.profile = profile;
        let mut sim = simulator(&running, app);
        play(&mut sim, &[assign("jdoe")]).await;
        assert_eq!(running.requests().await[1].body, body, "{profile}");
    }
}

#[tokio::test]
async fn switches_cover_the_open_questions() {
    let running = support::start().await;
    let mut app = with_groups(app());
    app.wire = WireOptions {
        trailing_question_mark: false,
        filter_trailing_ampersand: false,
        user_agent: None,
        accept: None,
        content_type: "application/json".into(),
        content_type_on_get: true,
        active_update: ActiveUpdate::PatchReplace,
        patch_op_case: OpCase::Capitalized,
        member_display: true,
        member_remove: MemberRemove::PathFilter,
        group_create_members: GroupCreateMembers::Omit,
        put_user_on_role_change: true,
        remove_groups_on_deprovision: true,
        ..WireOptions::default()
    };
    let mut sim = simulator(&running, app);
    play(
        &mut sim,
        &[
            assign("jdoe"),
            Step::Suspend {
                user: "jdoe".into(),
            },
            Step::AddRole {
                user: "jdoe".into(),
                role: "Sales".into(),
            },
            Step::RemoveAccess {
                user: "jdoe".into(),
            },
        ],
    )
    .await;
    let uid = sim.scim_id("jdoe").unwrap().to_string();
    let eng = sim.group_id("Engineering").unwrap().to_string();
    let sales = sim.group_id("Sales").unwrap().to_string();
    let seen = running.requests().await;
    assert_eq!(
        lines(&seen),
        [
            "GET /scim/v2/Users?filter=userName+eq+%22jdoe%22".to_string(),
            "POST /scim/v2/Users".to_string(),
            "POST /scim/v2/Groups".to_string(),
            format!("PATCH /scim/v2/Groups/{eng}"),
            format!("PATCH /scim/v2/Users/{uid}"),
            format!("PUT /scim/v2/Users/{uid}"),
            "POST /scim/v2/Groups".to_string(),
            format!("PATCH /scim/v2/Groups/{sales}"),
            format!("PATCH /scim/v2/Groups/{eng}"),
            format!("PATCH /scim/v2/Groups/{sales}"),
            format!("DELETE /scim/v2/Users/{uid}"),
        ]
    );
    assert!(seen.iter().all(|s| s.header("user-agent").is_none()));
    assert!(seen
        .iter()
        .all(|s| s.header("content-type") == Some("application/json")));
    assert_eq!(seen[0].header("accept"), Some("*/*"));
    assert_eq!(
        seen[2].body,
        r#"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Engineering"}"#
    );
    assert_eq!(
        seen[3].body,
        format!(
            r#"{{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{{"op":"Add","path":"members","value":[{{"value":"{uid}","display":"Jane Doe"}}]}}]}}"#
        )
    );
    assert_eq!(
        seen[4].body,
        r#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Replace","path":"active","value":false}]}"#
    );
    assert_eq!(
        seen[8].body,
        format!(
            r#"{{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{{"op":"Remove","path":"members[value eq \"{uid}\"]"}}]}}"#
        )
    );
}

#[tokio::test]
async fn active_as_string_switch() {
    let running = support::start().await;
    let mut app = app();
    app.wire.active_update = ActiveUpdate::PutString;
    let mut sim = simulator(&running, app);
    play(
        &mut sim,
        &[
            assign("jdoe"),
            Step::Suspend {
                user: "jdoe".into(),
            },
        ],
    )
    .await;
    assert!(running.requests().await[2]
        .body
        .ends_with(r#","active":"false"}"#));
}

#[tokio::test]
async fn custom_headers_go_on_every_request() {
    let running = support::start().await;
    let mut app = app();
    app.custom_headers = vec!["User-Agent: OneLogin SCIM".into(), "X-Tenant: acme".into()];
    let mut sim = simulator(&running, app);
    play(&mut sim, &[Step::Enable, assign("jdoe")]).await;
    let seen = running.requests().await;
    assert_eq!(seen.len(), 3);
    for s in &seen {
        assert_eq!(s.header("user-agent"), Some("OneLogin SCIM"));
        assert_eq!(s.header("x-tenant"), Some("acme"));
    }
    assert_eq!(
        seen[2].header("content-type"),
        Some("application/scim+json")
    );
}

#[tokio::test]
async fn a_base_url_with_a_trailing_slash_gives_double_slashes() {
    let running = support::start().await;
    let mut sim = Simulator::new(
        app(),
        directory(),
        Target::new(format!("{}/", running.base()), support::TOKEN),
        Duration::from_secs(5),
    )
    .unwrap();
    play(&mut sim, &[assign("jdoe")]).await;
    assert_eq!(
        lines(&running.requests().await),
        [
            "GET /scim/v2//Users?filter=userName+eq+%22jdoe%22&",
            "POST /scim/v2//Users"
        ]
    );
}

#[tokio::test]
async fn create_without_name_in_the_response_fails() {
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"totalResults": 0, "Resources": []})),
        )
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/Users"))
        .respond_with(
            ResponseTemplate::new(201).set_body_json(json!({"id": "u1", "userName": "jdoe"})),
        )
        .mount(&server)
        .await;
    let mut sim = Simulator::new(
        app(),
        directory(),
        Target::new(server.uri(), "t"),
        Duration::from_secs(5),
    )
    .unwrap();
    let entries = sim.apply(1, &assign("jdoe")).await;
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[1].verdict, Verdict::Fail);
    assert!(
        entries[1].reason.contains("name.givenName"),
        "{}",
        entries[1].reason
    );
}

/// What actually crosses the socket: a raw listener reads the request heads.
#[tokio::test]
async fn raw_request_lines_keep_the_quirks() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let mut heads = Vec::new();
        for _ in 0..2 {
            let (mut sock, _) = listener.accept().await.unwrap();
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = sock.read(&mut chunk).await.unwrap();
                if n == 0 {
                    break;
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            heads.push(String::from_utf8_lossy(&buf).into_owned());
            sock.write_all(
                b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
            )
            .await
            .unwrap();
        }
        heads
    });
    let wire = onelogin_sim::wire::Wire::new(
        Target::new(format!("http://{addr}/scim/v2"), "k"),
        WireOptions::default(),
        &[],
        Duration::from_secs(5),
    )
    .unwrap();
    let style = onelogin_sim::wire::Style::OneLogin;
    wire.send(style, reqwest::Method::GET, &wire.filter_url("a b@c"), None)
        .await;
    wire.send(
        style,
        reqwest::Method::PUT,
        &wire.user_url("e90ef750", true),
        Some(&json!({})),
    )
    .await;
    let heads = server.await.unwrap();
    let first_line = |h: &str| h.lines().next().unwrap_or_default().to_string();
    assert_eq!(
        first_line(&heads[0]),
        "GET /scim/v2/Users?filter=userName+eq+%22a+b%40c%22& HTTP/1.1"
    );
    assert_eq!(
        first_line(&heads[1]),
        "PUT /scim/v2/Users/e90ef750? HTTP/1.1"
    );
    for h in &heads {
        assert!(
            h.lines()
                .any(|l| l.to_ascii_lowercase().trim_end() == "user-agent:"),
            "empty User-Agent header on the wire: {h}"
        );
    }
}
