//! The IdP payload corpus replayed (`fixtures/idp`, see [`crate::corpus`]): one check per
//! fixture, `idp.<client>.<case>`, failing at the first step whose status, media type or
//! response differs from what the fixture expects. Fixtures expect an empty server (some list
//! everything), so each one runs only when no User and no Group exists, and deletes what it
//! created.

use std::collections::HashMap;

use reqwest::Method;

use crate::corpus::{fill, fill_str, load_all, subset, Fixture};
use crate::cx::Cx;
use crate::http::{Req, SCIM_JSON};
use crate::judge::{got, Judge};
use crate::model::{CheckInfo, Level};

fn client_label(client: &str) -> &str {
    match client {
        "entra" => "Microsoft Entra ID",
        "entra-flag" => "Microsoft Entra ID (aadOptscim062020)",
        "okta" => "Okta",
        "onelogin" => "OneLogin",
        other => other,
    }
}

fn info(f: &Fixture) -> CheckInfo {
    let case = f.name.split('/').nth(1).unwrap_or(&f.name);
    let title = crate::http::one_line(&f.description, 160);
    CheckInfo {
        id: format!("idp.{}.{case}", f.client),
        section: format!("IdP corpus: {}", client_label(&f.client)),
        level: Level::Should,
        title,
        tags: vec!["idp".into(), format!("idp:{}", f.client)],
    }
}

/// Runs every fixture of the corpus.
pub async fn run(cx: &mut Cx) {
    let probe = CheckInfo {
        id: "idp.x.x".into(),
        section: "IdP corpus: x".into(),
        level: Level::Should,
        title: String::new(),
        tags: vec!["idp".into()],
    };
    let Some(dir) = cx.options.fixtures.clone() else {
        if cx.wants_info(&probe) {
            cx.skip_info(probe, "no fixtures folder (pass --fixtures DIR)");
        }
        return;
    };
    let fixtures = match load_all(&dir) {
        Ok(f) => f,
        Err(e) => {
            let mut j = Judge::new();
            j.fail(format!(
                "the corpus in {} does not load: {e}",
                dir.display()
            ));
            cx.record_info(
                CheckInfo {
                    id: "idp.corpus.load".into(),
                    ..probe
                },
                j,
            );
            return;
        }
    };
    for f in fixtures {
        let inf = info(&f);
        if !cx.wants_info(&inf) {
            continue;
        }
        if let Some(why) = not_empty(cx).await {
            cx.skip_info(inf, why);
            continue;
        }
        let (j, created) = replay(cx, &f).await;
        cx.record_info(inf, j);
        cleanup(cx, created).await;
    }
}

/// Why the server is not empty, if it is not.
async fn not_empty(cx: &Cx) -> Option<String> {
    let mut found = Vec::new();
    for e in [cx.users(), cx.groups()].into_iter().flatten() {
        let ex = cx.get(&format!("{e}?count=0")).await;
        match ex.body()["totalResults"].as_u64() {
            Some(0) => {}
            Some(n) => found.push(format!("{n} in {e}")),
            None => found.push(format!("GET {e}?count=0 answered {}", got(&ex))),
        }
    }
    (!found.is_empty()).then(|| {
        format!(
            "the corpus expects an empty server (it lists everything in places); found {}",
            found.join(", ")
        )
    })
}

/// The endpoint a fixture path addresses (`//Users/x?` → `/Users`), as the server spells it.
fn endpoint_of(cx: &Cx, path: &str) -> Option<String> {
    let seg = path
        .trim_start_matches('/')
        .split(['/', '?'])
        .next()
        .unwrap_or_default();
    [cx.users(), cx.groups()]
        .into_iter()
        .flatten()
        .find(|e| e.trim_start_matches('/').eq_ignore_ascii_case(seg))
}

async fn replay(cx: &Cx, f: &Fixture) -> (Judge, Vec<(String, String)>) {
    let mut j = Judge::new();
    let mut saved: HashMap<String, String> = HashMap::new();
    let mut created = Vec::new();
    for (i, st) in f.steps.iter().enumerate() {
        let at = format!("step {} ({})", i + 1, st.name);
        let path = fill_str(&st.path, &saved);
        if path.contains('{') {
            j.fail(format!("{at}: an unknown placeholder in {path}"));
            break;
        }
        let Ok(method) = Method::from_bytes(st.method.as_bytes()) else {
            j.fail(format!("{at}: bad method {}", st.method));
            break;
        };
        let mut req = Req::new(method.clone(), path.clone());
        let mut has_type = false;
        for (n, v) in &st.headers {
            has_type |= n.eq_ignore_ascii_case("content-type");
            req = req.header(n, v);
        }
        if let Some(b) = &st.body {
            if !has_type {
                req = req.header("Content-Type", SCIM_JSON);
            }
            req = req.raw_body(fill(b, &saved).to_string());
        }
        let mut ex = cx.send(req).await;
        j.see(&ex);
        if ex.status == 201 {
            if let (Some(id), Some(e)) = (ex.id(), endpoint_of(cx, &path)) {
                created.push((e, id));
            }
        }
        // RFC 7644 §3.5.2 lets a PATCH answer 204: the fixture's 200 body is then checked on a GET
        // of the resource, so the end state is still verified.
        if method == Method::PATCH && st.expect_status == 200 && ex.status == 204 {
            let resource = path.split('?').next().unwrap_or(&path).to_string();
            let read = cx.get(&resource).await;
            j.see(&read);
            j.note(format!("{at}: PATCH answered 204 (RFC 7644 §3.5.2 allows it); its expectations were checked on GET {resource}"));
            if read.status != 200 {
                j.fail(format!(
                    "{at}: GET {resource} after a 204 PATCH: expected 200, got {}",
                    got(&read)
                ));
                break;
            }
            ex = read;
        }
        if ex.status != st.expect_status {
            j.fail(format!(
                "{at}: {method} {path}: expected status {}, got {}",
                st.expect_status,
                got(&ex)
            ));
            break;
        }
        if !ex.text.is_empty() && ex.media_type().as_deref() != Some(SCIM_JSON) {
            j.fail(format!(
                "{at}: {method} {path}: expected Content-Type application/scim+json, got {}",
                ex.header("content-type").unwrap_or("none")
            ));
            break;
        }
        if let Some(name) = &st.save {
            match ex.id() {
                Some(id) => {
                    saved.insert(name.clone(), id);
                }
                None => {
                    j.fail(format!(
                        "{at}: {method} {path}: no id to save as {name}: {}",
                        got(&ex)
                    ));
                    break;
                }
            }
        }
        if let Some(want) = &st.expect {
            if let Err(e) = subset(&fill(want, &saved), ex.body(), "") {
                j.fail(format!("{at}: {method} {path}: {e}"));
                break;
            }
        }
        let mut absent_ok = true;
        for a in &st.expect_absent {
            let found = if a.starts_with('/') {
                ex.body().pointer(a)
            } else {
                ex.body().get(a.as_str())
            };
            if found.is_some() {
                j.fail(format!("{at}: {method} {path}: '{a}' is present"));
                absent_ok = false;
            }
        }
        if !absent_ok {
            break;
        }
    }
    if j.ok() {
        j.note(format!("{} steps as expected", f.steps.len()));
    }
    (j, created)
}

async fn cleanup(cx: &mut Cx, created: Vec<(String, String)>) {
    let groups = cx.groups();
    let mut order = created;
    order.reverse();
    order.sort_by_key(|(e, _)| Some(e) != groups.as_ref());
    for (e, id) in order {
        let ex = cx.delete(&e, &id).await;
        if !matches!(ex.status, 200 | 204 | 404) {
            cx.track(&e, &id);
        }
    }
}
