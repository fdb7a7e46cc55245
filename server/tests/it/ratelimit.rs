//! Rate limits: 429 with `Retry-After` and a SCIM body, per key, and per address for requests
//! that fail authentication.

use crate::support::{Reply, TestServer};

#[tokio::test]
async fn each_key_has_its_own_bucket() {
    let s = TestServer::start_with(|c| {
        // One token a minute: nothing refills while the test runs, however slow the machine.
        c.rate_limit_per_key = 1.0 / 60.0;
        c.rate_limit_burst = 5;
    })
    .await;
    let mut statuses = Vec::new();
    for _ in 0..8 {
        let r = s.get("/Users").await;
        if r.status == 429 {
            r.assert_error(429, None);
            let wait: u64 = r
                .header("retry-after")
                .and_then(|v| v.parse().ok())
                .expect("Retry-After in seconds");
            // The next token is a minute (less the test's own time) away: Retry-After says so,
            // not a token 1.
            assert!((50..=60).contains(&wait), "{wait}");
        }
        statuses.push(r.status.as_u16());
    }
    assert_eq!(&statuses[..5], [200; 5], "the burst");
    assert!(statuses[5..].iter().all(|s| *s == 429), "{statuses:?}");
    let (_, other) = s.mint("other", false).await;
    let r = s
        .client
        .get(s.url("/Users"))
        .bearer_auth(other)
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 200, "another key is not limited by the first");
    let metrics = s.metrics().await;
    assert!(metrics.contains("scim_rate_limited_total 3\n"), "{metrics}");
    assert!(
        metrics.contains("scim_rate_limited_by_key_total{key_label=\"initial key\"} 3\n"),
        "rejections by the label of the key that was refused: {metrics}"
    );
    assert!(
        !metrics.contains("key_label=\"other\""),
        "a key never refused has no series: {metrics}"
    );
}

#[tokio::test]
async fn failed_authentications_are_limited_per_address_before_any_key_check() {
    // Two failures a minute, four at once: nothing refills while the test runs.
    let s = TestServer::start_with(|c| {
        c.rate_limit_unauthenticated = 2.0 / 60.0;
        c.rate_limit_unauthenticated_burst = 4;
    })
    .await;
    let mut statuses = Vec::new();
    for _ in 0..8 {
        let r = Reply::from(
            s.client
                .get(s.url("/Users"))
                .bearer_auth("scim_wrong")
                .send()
                .await
                .expect("request"),
        )
        .await;
        statuses.push(r.status.as_u16());
    }
    assert_eq!(&statuses[..4], [401; 4], "the burst: {statuses:?}");
    assert!(statuses[4..].iter().all(|s| *s == 429), "{statuses:?}");
    // While the address is limited, even a good key waits: the check comes before the lookup.
    assert_eq!(s.get("/Users").await.status, 429);
}

#[tokio::test]
async fn a_tenant_has_one_bucket_for_all_its_keys_and_other_tenants_are_not_limited_by_it() {
    let s = TestServer::start_with(|c| {
        // One token a minute per tenant, four at once: nothing refills while the test runs.
        c.rate_limit_per_tenant = 1.0 / 60.0;
        c.rate_limit_tenant_burst = 4;
    })
    .await;
    let tenant = |id: &str| scim_core::NewTenant {
        id: scim_core::model::TenantId::parse(id).expect("id"),
        name: id.into(),
        default_role: None,
    };
    let operator = scim_core::auth::operator;
    let (acme, _, key1) = s
        .core
        .create_tenant(tenant("acme"), operator())
        .await
        .expect("acme");
    let (_, key2) = s
        .core
        .mint_key(
            "second",
            scim_core::auth::KeyKind::Scim,
            Some(&acme.id),
            operator(),
        )
        .await
        .expect("key");
    let (_, _, beta_key) = s
        .core
        .create_tenant(tenant("beta"), operator())
        .await
        .expect("beta");
    let get = |path: &'static str, key: String| {
        let url = format!("{}{path}", s.origin);
        let client = s.client.clone();
        async move {
            client
                .get(url)
                .bearer_auth(key)
                .send()
                .await
                .expect("request")
                .status()
                .as_u16()
        }
    };
    let mut statuses = Vec::new();
    for i in 0..6 {
        // The two keys of one tenant share its bucket.
        let key = if i % 2 == 0 { &key1 } else { &key2 };
        statuses.push(get("/t/acme/scim/v2/Users", key.clone()).await);
    }
    assert_eq!(statuses, [200, 200, 200, 200, 429, 429]);
    assert_eq!(
        get("/t/beta/scim/v2/Users", beta_key).await,
        200,
        "another tenant has its own bucket"
    );
}
