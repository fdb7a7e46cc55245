//! Groups and memberships.

use serde_json::{json, Value};

use crate::support::TestServer;

#[tokio::test]
async fn members_are_kept_and_reflected_in_users_groups() {
    let s = TestServer::start().await;
    let (a, b) = (s.user("a").await, s.user("b").await);
    let g = s.group("Engineering", &[&a, &b]).await;
    let r = s.get(&format!("/Groups/{g}")).await;
    assert_eq!(r.body["displayName"], "Engineering");
    let mut members: Vec<&str> = r.body["members"]
        .as_array()
        .expect("members")
        .iter()
        .filter_map(|m| m["value"].as_str())
        .collect();
    members.sort();
    let mut want = vec![a.as_str(), b.as_str()];
    want.sort();
    assert_eq!(members, want);
    assert_eq!(r.body["members"][0]["type"], "User");
    let u = s.get(&format!("/Users/{a}")).await;
    assert_eq!(
        u.body["groups"],
        json!([{"value": g, "$ref": format!("{}/Groups/{g}", s.base), "display": "Engineering", "type": "direct"}])
    );
    let slim = s
        .get(&format!("/Groups/{g}?excludedAttributes=members"))
        .await;
    assert!(slim.body.get("members").is_none());
    assert_eq!(slim.body["displayName"], "Engineering");
}

#[tokio::test]
async fn deleting_a_user_removes_it_from_every_group() {
    let s = TestServer::start().await;
    let (a, b) = (s.user("a").await, s.user("b").await);
    let g1 = s.group("One", &[&a, &b]).await;
    let g2 = s.group("Two", &[&a]).await;
    let v1 = s.get(&format!("/Groups/{g1}")).await.body["meta"]["version"].clone();
    assert_eq!(s.delete(&format!("/Users/{a}")).await.status, 204);
    let r1 = s.get(&format!("/Groups/{g1}")).await;
    assert_eq!(
        r1.body["members"],
        json!([{"value": b, "$ref": format!("{}/Users/{b}", s.base), "type": "User"}])
    );
    assert_ne!(r1.body["meta"]["version"], v1, "the group's version moves");
    let r2 = s.get(&format!("/Groups/{g2}")).await;
    assert!(r2.body.get("members").is_none());
}

#[tokio::test]
async fn a_member_that_does_not_exist_is_refused() {
    let s = TestServer::start().await;
    let r = s
        .post("/Groups", json!({"displayName": "Ghosts", "members": [{"value": "00000000-0000-0000-0000-000000000000"}]}))
        .await;
    r.assert_error(400, Some("invalidValue"));
    let r = s.get("/Groups").await;
    assert_eq!(r.body["totalResults"], 0, "nothing was created");
}

#[tokio::test]
async fn display_name_is_unique_and_filterable() {
    let s = TestServer::start().await;
    let g = s.group("Sales", &[]).await;
    s.post("/Groups", json!({"displayName": "SALES"}))
        .await
        .assert_error(409, Some("uniqueness"));
    let r = s.get("/Groups?filter=displayName+eq+%22sales%22").await;
    assert_eq!(r.body["totalResults"], 1, "{}", r.text);
    assert_eq!(r.body["Resources"][0]["id"], g.as_str());
}

#[tokio::test]
async fn onelogin_adds_and_removes_members_with_one_patch_per_group() {
    // onelogin-protocol.md §1 rows 11 and 12: the compact v2 body, a trailing '?'.
    let s = TestServer::start().await;
    let u = s.user("member").await;
    let g = s.group("Role", &[]).await;
    let add = json!({"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add","path":"members","value":[{"value": u}]}]});
    let r = s.patch(&format!("/Groups/{g}?"), add).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["members"][0]["value"], u.as_str());
    let rm = json!({"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"remove","path":format!("members[value eq \"{u}\"]")}]});
    let r = s.patch(&format!("/Groups/{g}?"), rm).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.body.get("members").is_none());
    let user = s.get(&format!("/Users/{u}")).await;
    assert!(user.body.get("groups").is_none());
}

#[tokio::test]
async fn put_replaces_the_member_list() {
    let s = TestServer::start().await;
    let (a, b) = (s.user("a").await, s.user("b").await);
    let g = s.group("Team", &[&a]).await;
    let r = s
        .put(
            &format!("/Groups/{g}"),
            json!({"displayName": "Team", "members": [{"value": b}]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["members"].as_array().map(Vec::len), Some(1));
    assert_eq!(r.body["members"][0]["value"], b.as_str());
    assert!(s
        .get(&format!("/Users/{a}"))
        .await
        .body
        .get("groups")
        .is_none());
    assert_eq!(
        s.get(&format!("/Users/{b}")).await.body["groups"][0]["value"],
        g.as_str()
    );
    assert_eq!(s.delete(&format!("/Groups/{g}")).await.status, 204);
    assert!(s
        .get(&format!("/Users/{b}"))
        .await
        .body
        .get("groups")
        .is_none());
}

/// A page reads each group's display name once for all its users: users who share a group
/// each show it, with the name it has now, as a GET of each shows it.
#[tokio::test]
async fn a_page_of_users_sharing_groups_shows_each_user_s_own_groups() {
    let s = TestServer::start().await;
    let (u1, u2, u3) = (s.user("u1").await, s.user("u2").await, s.user("u3").await);
    let a = s.group("Alpha", &[&u1, &u2]).await;
    let b = s.group("Beta", &[&u2, &u3]).await;
    let rename = serde_json::json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "displayName", "value": "Beta Renamed"}]});
    assert!(s
        .patch(&format!("/Groups/{b}"), rename)
        .await
        .status
        .is_success());
    let page = s.get("/Users?count=10").await;
    let resources = page.body["Resources"].as_array().expect("resources");
    assert_eq!(resources.len(), 3, "{}", page.text);
    let shown = |user: &Value| {
        let mut groups: Vec<(String, String)> = user["groups"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|g| {
                (
                    g["value"].as_str().unwrap_or_default().to_string(),
                    g["display"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect();
        groups.sort();
        groups
    };
    let mut wanted = vec![
        (u1.clone(), vec![(a.clone(), "Alpha".to_string())]),
        (
            u2.clone(),
            vec![
                (a.clone(), "Alpha".to_string()),
                (b.clone(), "Beta Renamed".to_string()),
            ],
        ),
        (u3.clone(), vec![(b.clone(), "Beta Renamed".to_string())]),
    ];
    for (_, groups) in &mut wanted {
        groups.sort();
    }
    for user in resources {
        let id = user["id"].as_str().expect("id");
        let (_, groups) = wanted
            .iter()
            .find(|(u, _)| u == id)
            .expect("a user made here");
        assert_eq!(&shown(user), groups, "{id} on the page");
        let alone = s.get(&format!("/Users/{id}")).await;
        assert_eq!(
            shown(&alone.body),
            shown(user),
            "{id}: GET and the page agree"
        );
    }
}

#[tokio::test]
async fn filters_on_memberships_see_them() {
    let s = TestServer::start().await;
    let (a, b) = (s.user("in").await, s.user("out").await);
    let g = s.group("Club", &[&a]).await;
    let r = s
        .get(&format!("/Users?filter=groups.value+eq+%22{g}%22"))
        .await;
    assert_eq!(r.body["totalResults"], 1, "{}", r.text);
    assert_eq!(r.body["Resources"][0]["id"], a.as_str());
    assert_eq!(
        r.body["Resources"][0]["groups"][0]["value"],
        g.as_str(),
        "the page shows memberships"
    );
    let r = s
        .get(&format!("/Groups?filter=members.value+eq+%22{b}%22"))
        .await;
    assert_eq!(r.body["totalResults"], 0);
    let r = s
        .get(&format!(
            "/Groups?filter=members[value+eq+%22{a}%22]&excludedAttributes=members"
        ))
        .await;
    assert_eq!(r.body["totalResults"], 1, "{}", r.text);
    assert!(r.body["Resources"][0].get("members").is_none());
    // A filter on other attributes still returns memberships on the page.
    let r = s.get("/Users?filter=userName+sw+%22in%22").await;
    assert_eq!(r.body["Resources"][0]["groups"][0]["value"], g.as_str());
}

/// Member-only PATCHes (adds, and removals by `members[value eq "…"]`) take a path of their
/// own that never renders the group into a document; the general PATCH engine must agree with
/// it. Two groups get the same pseudo-random sequence of member PATCHes, one of them with a
/// no-op `displayName` operation appended to each, which sends it through the general engine:
/// their answers, members, versions and history entries stay the same throughout.
#[tokio::test]
async fn member_patches_answer_as_the_general_patch_engine_does() {
    member_patches_agree(0).await;
}

/// The same with groups large enough for the store to keep their members in memory (sled keeps
/// groups of 64 or more, moved by each write): every answer, and a GET of each group after
/// every round, shows the members a walk of the store would.
#[tokio::test]
async fn member_patches_of_groups_kept_in_memory_answer_as_the_general_patch_engine_does() {
    member_patches_agree(70).await;
}

/// Both groups start with users `m0`, `m1` and `more` others, then take the same 40 rounds.
async fn member_patches_agree(more: usize) {
    use scim_core::model::Kind;
    let s = TestServer::start().await;
    let mut users = Vec::new();
    for i in 0..8 {
        users.push(s.user(&format!("m{i}")).await);
    }
    let mut base = vec![users[0].clone(), users[1].clone()];
    for i in 0..more {
        base.push(s.user(&format!("base{i}")).await);
    }
    let base: Vec<&str> = base.iter().map(String::as_str).collect();
    let other = s.group("Other", &[]).await;
    let fast = s.group("Fast", &base).await;
    let slow = s.group("Slow", &base).await;
    // A group's members as a set: value and display.
    let members_of = |body: &Value| -> std::collections::BTreeSet<String> {
        body["members"]
            .as_array()
            .map(|ms| {
                ms.iter()
                    .map(|m| format!("{} {}", m["value"], m["display"]))
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut seed: u64 = 0x5eed;
    let mut next = |n: usize| {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((seed >> 33) as usize) % n
    };
    let pick = |i: usize| -> String {
        // Mostly users, sometimes the other group, sometimes an id nothing has.
        match i {
            8 => other.clone(),
            9 => "no-such-id".to_string(),
            _ => users[i].clone(),
        }
    };
    for round in 0..40 {
        let mut ops = Vec::new();
        for _ in 0..1 + next(3) {
            let id = pick(next(10));
            ops.push(match next(5) {
                0 => json!({"op": "remove", "path": format!("members[value eq \"{id}\"]")}),
                1 => json!({"op": "add", "path": "members",
                            "value": [{"value": id, "type": if id == other { "Group" } else { "User" }}]}),
                2 => json!({"op": "add", "path": "members",
                            "value": [{"value": id, "display": "D"}, {"value": pick(next(8))}]}),
                _ => json!({"op": "add", "path": "members", "value": [{"value": id}]}),
            });
        }
        let mut general = ops.clone();
        general.push(json!({"op": "replace", "path": "displayName", "value": "Slow"}));
        let a = s
            .patch(
                &format!("/Groups/{fast}"),
                crate::support::patch_op(json!(ops)),
            )
            .await;
        let b = s
            .patch(
                &format!("/Groups/{slow}"),
                crate::support::patch_op(json!(general)),
            )
            .await;
        assert_eq!(
            a.status, b.status,
            "round {round} {ops:?}: {} / {}",
            a.text, b.text
        );
        if a.status.is_success() {
            assert_eq!(
                a.body["members"], b.body["members"],
                "round {round} {ops:?}"
            );
            assert_eq!(
                a.body["meta"]["version"], b.body["meta"]["version"],
                "round {round} {ops:?}"
            );
            // Read again, as they are now.
            let (ga, gb) = (
                s.get(&format!("/Groups/{fast}")).await,
                s.get(&format!("/Groups/{slow}")).await,
            );
            assert_eq!(members_of(&ga.body), members_of(&a.body), "round {round}");
            assert_eq!(members_of(&gb.body), members_of(&a.body), "round {round}");
            assert_eq!(ga.body["meta"]["version"], a.body["meta"]["version"]);
        } else {
            assert_eq!(a.body["scimType"], b.body["scimType"], "round {round}");
            assert_eq!(
                a.body["detail"].as_str().map(|d| d.replace(&fast, "G")),
                b.body["detail"].as_str().map(|d| d.replace(&slow, "G")),
                "round {round}"
            );
        }
    }
    let (ha, hb) = (
        s.revisions_of(Kind::Group, &fast).await,
        s.revisions_of(Kind::Group, &slow).await,
    );
    assert_eq!(ha.len(), hb.len());
    assert!(ha.len() > 10, "the rounds changed the groups: {}", ha.len());
    // Past the creations (whose displayNames differ), entry by entry.
    for (x, y) in ha
        .iter()
        .zip(&hb)
        .filter(|(x, _)| x.action != scim_core::model::Action::Create)
    {
        assert_eq!(x.changes, y.changes);
        assert_eq!(x.action, y.action);
        let (ex, ey) = (x.event.as_ref(), y.event.as_ref());
        assert_eq!(ex.map(|e| &e.members), ey.map(|e| &e.members));
    }
}

/// A member PATCH whose answer leaves `members` out (`excludedAttributes=members`, as Entra ID
/// reads groups) looks up only the ids it names: the answer has no members, and the change is
/// what a PATCH answered whole makes of it (members, version, history, event).
#[tokio::test]
async fn a_member_patch_answered_without_members_changes_what_a_whole_answer_does() {
    use scim_core::model::Kind;
    let s = TestServer::start().await;
    let (a, b, c) = (s.user("a").await, s.user("b").await, s.user("c").await);
    let slim = s.group("Slim", &[&a, &b]).await;
    let whole = s.group("Whole", &[&a, &b]).await;
    let ops = json!([
        {"op": "add", "path": "members", "value": [{"value": c}, {"value": a}]},
        {"op": "remove", "path": format!("members[value eq \"{b}\"]")},
    ]);
    let r = s
        .patch(
            &format!("/Groups/{slim}?excludedAttributes=members"),
            crate::support::patch_op(ops.clone()),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.body.get("members").is_none(), "{}", r.text);
    assert_eq!(r.body["displayName"], "Slim");
    let w = s
        .patch(
            &format!("/Groups/{whole}"),
            crate::support::patch_op(ops.clone()),
        )
        .await;
    assert_eq!(w.status, 200, "{}", w.text);
    assert_eq!(r.body["meta"]["version"], w.body["meta"]["version"]);
    // The sorted `value`s of a multi-valued attribute (`members`, `groups`).
    let values = |list: &serde_json::Value| {
        let mut v: Vec<String> = list
            .as_array()
            .expect("a list")
            .iter()
            .filter_map(|m| m["value"].as_str().map(str::to_string))
            .collect();
        v.sort();
        v
    };
    let mut want = vec![a.clone(), c.clone()];
    want.sort();
    assert_eq!(values(&w.body["members"]), want);
    assert_eq!(
        values(&s.get(&format!("/Groups/{slim}")).await.body["members"]),
        want
    );
    // `c` joined both groups (listed in an order each engine chooses).
    let mut both = vec![slim.clone(), whole.clone()];
    both.sort();
    assert_eq!(
        values(&s.get(&format!("/Users/{c}")).await.body["groups"]),
        both
    );
    let (hs, hw) = (
        s.revisions_of(Kind::Group, &slim).await,
        s.revisions_of(Kind::Group, &whole).await,
    );
    let (last_s, last_w) = (hs.last().expect("entry"), hw.last().expect("entry"));
    assert_eq!(last_s.changes, last_w.changes);
    assert_eq!(
        last_s.event.as_ref().map(|e| &e.members),
        last_w.event.as_ref().map(|e| &e.members)
    );
    // The same PATCH again changes nothing: no new version, no new entry.
    let again = s
        .patch(
            &format!("/Groups/{slim}?excludedAttributes=members"),
            crate::support::patch_op(ops),
        )
        .await;
    assert_eq!(again.status, 200);
    assert_eq!(again.body["meta"]["version"], r.body["meta"]["version"]);
    assert_eq!(s.revisions_of(Kind::Group, &slim).await.len(), hs.len());
}

/// With `member_patch_answer = "no-content"`, a member PATCH answers 204 with the new `ETag` and
/// changes what it would have changed; a PATCH that names attributes, a PATCH of anything else
/// and a PUT still answer 200 with the group.
#[tokio::test]
async fn member_patches_answer_no_content_when_so_configured() {
    use server::config::MemberPatchAnswer;
    let s = TestServer::start_with(|c| c.member_patch_answer = MemberPatchAnswer::NoContent).await;
    let (a, b) = (s.user("a").await, s.user("b").await);
    let g = s.group("Quiet", &[&a]).await;
    let add = |id: &str| {
        crate::support::patch_op(
            json!([{"op": "add", "path": "members", "value": [{"value": id}]}]),
        )
    };
    let r = s.patch(&format!("/Groups/{g}"), add(&b)).await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert!(r.text.is_empty(), "{}", r.text);
    let now = s.get(&format!("/Groups/{g}")).await;
    assert_eq!(now.body["members"].as_array().map(Vec::len), Some(2));
    assert_eq!(
        r.headers.get("etag").and_then(|v| v.to_str().ok()),
        now.body["meta"]["version"].as_str(),
        "the ETag names the new version"
    );
    assert_eq!(
        s.get(&format!("/Users/{b}")).await.body["groups"][0]["value"],
        g.as_str()
    );
    // A removal by value is a member PATCH too.
    let remove = crate::support::patch_op(
        json!([{"op": "remove", "path": format!("members[value eq \"{b}\"]")}]),
    );
    assert_eq!(s.patch(&format!("/Groups/{g}"), remove).await.status, 204);
    // Asked for attributes: answered with them.
    let r = s
        .patch(&format!("/Groups/{g}?attributes=members"), add(&b))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["members"].as_array().map(Vec::len), Some(2));
    // Not a member PATCH: answered with the group.
    let rename = crate::support::patch_op(
        json!([{"op": "replace", "path": "displayName", "value": "Quieter"}]),
    );
    let r = s.patch(&format!("/Groups/{g}"), rename).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["displayName"], "Quieter");
    // A refused member PATCH is still refused.
    let r = s
        .patch(
            &format!("/Groups/{g}"),
            add("00000000-0000-0000-0000-000000000000"),
        )
        .await;
    r.assert_error(400, Some("invalidValue"));
}

/// In strict mode every PATCH goes through the general engine, so `member_patch_answer =
/// "no-content"` leaves member PATCHes answered 200 with the group.
#[tokio::test]
async fn strict_mode_answers_member_patches_with_the_group_even_when_no_content_is_set() {
    use server::config::MemberPatchAnswer;
    let s = TestServer::start_with(|c| {
        c.member_patch_answer = MemberPatchAnswer::NoContent;
        c.strict = true;
    })
    .await;
    let (a, b) = (s.user("a").await, s.user("b").await);
    let g = s.group("Strict", &[&a]).await;
    let add = crate::support::patch_op(
        json!([{"op": "add", "path": "members", "value": [{"value": b, "type": "User"}]}]),
    );
    let r = s.patch(&format!("/Groups/{g}"), add).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["members"].as_array().map(Vec::len), Some(2));
}
