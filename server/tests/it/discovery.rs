//! Discovery documents (RFC 7644 §4, RFC 7643 §5 to §7).

use crate::support::TestServer;

#[tokio::test]
async fn service_provider_config_tells_the_truth() {
    let s = TestServer::start().await;
    let r = s.get("/ServiceProviderConfig").await;
    assert_eq!(r.status, 200);
    let b = &r.body;
    assert_eq!(
        b["schemas"][0],
        "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
    );
    assert_eq!(b["patch"]["supported"], true);
    assert_eq!(b["filter"]["supported"], true);
    assert_eq!(b["etag"]["supported"], true);
    assert_eq!(b["bulk"]["supported"], true);
    assert_eq!(b["bulk"]["maxOperations"], 1000);
    assert_eq!(b["bulk"]["maxPayloadSize"], 1024 * 1024);
    assert_eq!(b["sort"]["supported"], true);
    assert_eq!(b["authenticationSchemes"][0]["type"], "oauthbearertoken");
    // What is not advertised answers as the RFC says.
    s.get("/Me").await.assert_error(501, None);
}

#[tokio::test]
async fn resource_types_and_schemas_are_served_and_linked() {
    let s = TestServer::start().await;
    let rts = s.get("/ResourceTypes").await;
    assert_eq!(rts.body["totalResults"], 2);
    for rt in rts.body["Resources"].as_array().expect("list") {
        let id = rt["id"].as_str().expect("id");
        let one = s.get(&format!("/ResourceTypes/{id}")).await;
        assert_eq!(one.status, 200);
        let schema = rt["schema"].as_str().expect("schema");
        let sch = s.get(&format!("/Schemas/{schema}")).await;
        assert_eq!(sch.status, 200, "{schema}");
        assert_eq!(sch.body["id"], schema);
        assert!(sch.body["attributes"]
            .as_array()
            .is_some_and(|a| !a.is_empty()));
    }
    let all = s.get("/Schemas").await;
    assert_eq!(all.body["totalResults"], 3);
    s.get("/Schemas/urn:nope").await.assert_error(404, None);
    s.get("/ResourceTypes/Nope").await.assert_error(404, None);
    let user = s
        .get("/Schemas/urn:ietf:params:scim:schemas:core:2.0:User")
        .await;
    let attrs = user.body["attributes"].as_array().expect("attributes");
    let pw = attrs
        .iter()
        .find(|a| a["name"] == "password")
        .expect("password");
    assert_eq!(pw["returned"], "never");
    let un = attrs
        .iter()
        .find(|a| a["name"] == "userName")
        .expect("userName");
    assert_eq!(un["uniqueness"], "server");
    assert_eq!(un["caseExact"], false);
}

#[tokio::test]
async fn discovery_documents_cannot_be_filtered() {
    let s = TestServer::start().await;
    for path in ["/ServiceProviderConfig", "/Schemas", "/ResourceTypes"] {
        s.get(&format!("{path}?filter=id+eq+%22x%22"))
            .await
            .assert_error(403, None);
    }
}
