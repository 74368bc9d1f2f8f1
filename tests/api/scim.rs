//! SCIM 2.0 at `/scim/v2` (issue 20): discovery, authentication and authority, the request
//! sequences of authentik's SCIM provider, Entra ID and Okta (shared/spec/scim.md §2, §4, §5)
//! as conversations, filters, PATCH paths, errors in SCIM's shape, and what SCIM writes looks
//! like through authentik's and AWX's APIs (and back).

use crate::backend_test;
use crate::common::{Resp, TestServer};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const ERROR: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

async fn scim(srv: &TestServer, method: Method, path: &str, body: Option<Value>) -> Resp {
    let key = srv.token.clone();
    srv.send(
        method,
        &format!("/scim/v2{path}"),
        Some(&key),
        body.as_ref(),
    )
    .await
}

async fn get(srv: &TestServer, path: &str) -> Resp {
    scim(srv, Method::GET, path, None).await
}

fn assert_error(r: &Resp, status: StatusCode, scim_type: Option<&str>) {
    assert_eq!(r.status, status, "{}", r.text);
    assert_eq!(r.body["schemas"], json!([ERROR]), "{}", r.text);
    assert_eq!(r.body["status"], json!(status.as_u16().to_string()));
    if let Some(t) = scim_type {
        assert_eq!(r.body["scimType"], t, "{}", r.text);
    }
    assert!(
        r.header("content-type")
            .is_some_and(|c| c.starts_with("application/scim+json")),
        "{:?}",
        r.header("content-type")
    );
}

async fn create_user(srv: &TestServer, body: Value) -> Value {
    let r = scim(srv, Method::POST, "/Users", Some(body)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    r.body
}

async fn create_group(srv: &TestServer, body: Value) -> Value {
    let r = scim(srv, Method::POST, "/Groups", Some(body)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    r.body
}

/// A plain user with a non-expiring token of `scope`; returns (authentik user, key).
async fn user_with_key(srv: &TestServer, username: &str) -> (Value, String) {
    let r = srv
        .post(
            "/api/v3/core/users/",
            &json!({"username": username, "name": username}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let user = r.body;
    let identifier = format!("{username}-api");
    let r = srv
        .post(
            "/api/v3/core/tokens/",
            &json!({"identifier": identifier, "user": user["pk"], "expiring": false}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let r = srv
        .get(&format!("/api/v3/core/tokens/{identifier}/view_key/"))
        .await;
    (user, r.body["key"].as_str().expect("key").to_string())
}

fn filter_path(path: &str, filter: &str) -> String {
    let encoded: String = form_urlencoded::byte_serialize(filter.as_bytes()).collect();
    format!("{path}?filter={encoded}")
}

backend_test!(discovery_documents, |srv| {
    let r = get(srv, "/ServiceProviderConfig").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(r
        .header("content-type")
        .is_some_and(|c| c.starts_with("application/scim+json")));
    assert_eq!(r.body["patch"]["supported"], true);
    assert_eq!(r.body["bulk"]["supported"], false);
    assert!(r.body["bulk"]["maxOperations"].as_i64().is_some());
    assert_eq!(r.body["filter"]["supported"], true);
    assert_eq!(r.body["sort"]["supported"], false);
    assert_eq!(
        r.body["authenticationSchemes"][0]["type"],
        "oauthbearertoken"
    );
    assert!(r.body["authenticationSchemes"][0]["description"].is_string());

    let r = get(srv, "/ResourceTypes").await;
    assert_eq!(r.body["totalResults"], 2);
    assert_eq!(r.body["Resources"][0]["endpoint"], "/Users");
    assert_eq!(
        r.body["Resources"][0]["schemaExtensions"][0]["schema"],
        ENTERPRISE
    );
    assert_eq!(get(srv, "/ResourceTypes/Group").await.body["schema"], GROUP);
    assert_error(
        &get(srv, "/ResourceTypes/7d7c0a1e-5a4e-4f5e-9d1a-0c6c3a1b2c3d").await,
        StatusCode::NOT_FOUND,
        None,
    );

    let r = get(srv, "/Schemas").await;
    assert_eq!(r.body["totalResults"], 3);
    let r = get(srv, &format!("/Schemas/{USER}")).await;
    let attrs = r.body["attributes"].as_array().expect("attributes");
    let user_name = attrs
        .iter()
        .find(|a| a["name"] == "userName")
        .expect("userName");
    assert_eq!(user_name["required"], true);
    assert_eq!(user_name["uniqueness"], "server");
    let groups = attrs
        .iter()
        .find(|a| a["name"] == "groups")
        .expect("groups");
    assert_eq!(groups["mutability"], "readOnly");
    assert!(attrs.iter().all(|a| a["name"] != "password"));
    assert_error(
        &get(srv, "/Schemas/urn:nope").await,
        StatusCode::NOT_FOUND,
        None,
    );

    for method in [Method::POST, Method::PUT, Method::PATCH, Method::DELETE] {
        let r = scim(
            srv,
            method.clone(),
            "/ServiceProviderConfig",
            Some(json!({})),
        )
        .await;
        assert_error(&r, StatusCode::METHOD_NOT_ALLOWED, None);
    }
    assert_error(&get(srv, "/Nope").await, StatusCode::NOT_FOUND, None);
    let r = scim(srv, Method::POST, "/Bulk", Some(json!({"Operations": []}))).await;
    assert_error(&r, StatusCode::NOT_IMPLEMENTED, None);
});

backend_test!(authentication_and_authority, |srv| {
    let r = srv.send(Method::GET, "/scim/v2/Users", None, None).await;
    assert_error(&r, StatusCode::UNAUTHORIZED, None);
    assert!(r
        .header("www-authenticate")
        .is_some_and(|h| h.starts_with("Bearer")));
    let r = srv
        .send(Method::GET, "/scim/v2/Users", Some("not-a-token"), None)
        .await;
    assert_error(&r, StatusCode::UNAUTHORIZED, None);

    // A plain user's token: known, but not a SCIM client.
    let (user, key) = user_with_key(srv, "scim-client").await;
    let r = srv
        .send(Method::GET, "/scim/v2/Users", Some(&key), None)
        .await;
    assert_error(&r, StatusCode::FORBIDDEN, None);

    // The permission is listed with the others and grantable through a role.
    let r = srv
        .get("/api/v3/rbac/permissions/?codename=provision")
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(r.text.contains("gatehouse_scim"), "{}", r.text);
    let role = srv
        .post("/api/v3/rbac/roles/", &json!({"name": "scim-provisioners"}))
        .await
        .body;
    let r = srv
        .post(
            &format!(
                "/api/v3/rbac/permissions/assigned_by_roles/{}/assign/",
                role["pk"].as_str().expect("pk")
            ),
            &json!({"permissions": ["gatehouse_scim.provision"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = srv
        .patch(
            &format!("/api/v3/core/users/{}/", user["pk"]),
            &json!({"roles": [role["pk"]]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = srv
        .send(Method::GET, "/scim/v2/Users", Some(&key), None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = srv
        .send(
            Method::POST,
            "/scim/v2/Users",
            Some(&key),
            Some(&json!({"schemas": [USER], "userName": "provisioned"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    // The write is audited with the SCIM client as actor.
    let r = srv
        .get("/api/v3/events/events/?action=model_created&ordering=-created")
        .await;
    let event = r.body["results"]
        .as_array()
        .and_then(|events| {
            events
                .iter()
                .find(|e| {
                    e["context"]["model"]["name"] == ""
                        || e["context"]["model"]["model_name"] == "user"
                })
                .cloned()
        })
        .expect("an event");
    assert_eq!(event["user"]["username"], "scim-client", "{event}");

    // externalId is per SCIM client: the admin's is not the provisioner's.
    let shared = create_user(
        srv,
        json!({"userName": "shared", "externalId": "from-admin"}),
    )
    .await;
    let path = format!("/scim/v2/Users/{}", shared["id"].as_str().expect("id"));
    let r = srv.send(Method::GET, &path, Some(&key), None).await;
    assert!(r.body.get("externalId").is_none(), "{}", r.text);
    let r = srv
        .send(
            Method::PATCH,
            &path,
            Some(&key),
            Some(&json!({"Operations": [{"op": "add", "path": "externalId", "value": "from-client"}]})),
        )
        .await;
    assert_eq!(r.body["externalId"], "from-client", "{}", r.text);
    let r = srv
        .send(
            Method::GET,
            &format!(
                "/scim/v2{}",
                filter_path("/Users", "externalId eq \"from-admin\"")
            ),
            Some(&key),
            None,
        )
        .await;
    assert_eq!(r.body["totalResults"], 0);
    assert_eq!(
        get(
            srv,
            &format!("/Users/{}", shared["id"].as_str().expect("id"))
        )
        .await
        .body["externalId"],
        "from-admin"
    );

    // A read-scoped token of the same user reads (search included) and writes nothing.
    let r = srv
        .send(
            Method::POST,
            "/api/v2/tokens/",
            Some(&key),
            Some(&json!({"scope": "read"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let read_key = r.body["token"].as_str().expect("token").to_string();
    let r = srv
        .send(Method::GET, "/scim/v2/Users", Some(&read_key), None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = srv
        .send(
            Method::POST,
            "/scim/v2/Users/.search",
            Some(&read_key),
            Some(&json!({"filter": "userName eq \"provisioned\""})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["totalResults"], 1);
    let r = srv
        .send(
            Method::POST,
            "/scim/v2/Users",
            Some(&read_key),
            Some(&json!({"userName": "nope"})),
        )
        .await;
    assert_error(&r, StatusCode::FORBIDDEN, None);
});

backend_test!(authentik_provider_conversation, |srv| {
    // §2.3: the create body, a nameless user, the 409 lookup, the update PUT with "id".
    let body = json!({"schemas": [USER], "userName": "jdoe",
        "externalId": "a".repeat(64), "active": true, "displayName": "John Doe",
        "name": {"formatted": "John Doe", "givenName": "John", "familyName": "Doe"},
        "emails": [{"value": "jdoe@example.com", "type": "other", "primary": true}]});
    let r = scim(srv, Method::POST, "/Users", Some(body.clone())).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let user = r.body.clone();
    let id = user["id"].as_str().expect("id").to_string();
    assert_eq!(
        r.header("location").as_deref(),
        user["meta"]["location"].as_str()
    );
    for key in [
        "userName",
        "externalId",
        "active",
        "displayName",
        "name",
        "emails",
    ] {
        assert_eq!(user[key], body[key], "{key} echoed as sent");
    }
    assert_eq!(user["meta"]["resourceType"], "User");
    assert!(user["meta"]["created"].is_string() && user["meta"]["lastModified"].is_string());
    assert!(user.get("password").is_none());

    let nameless = create_user(
        srv,
        json!({"schemas": [USER], "userName": "nameless",
        "displayName": "", "emails": [],
        "name": {"formatted": " ", "givenName": "", "familyName": " "}}),
    )
    .await;
    assert_eq!(nameless["displayName"], "");
    assert_eq!(nameless["emails"], json!([]));
    assert_eq!(
        nameless["name"],
        json!({"formatted": " ", "givenName": "", "familyName": " "})
    );

    // A second POST with the same userName (another case) is a 409; the lookup finds it.
    let mut again = body.clone();
    again["userName"] = json!("JDoe");
    let r = scim(srv, Method::POST, "/Users", Some(again)).await;
    assert_error(&r, StatusCode::CONFLICT, Some("uniqueness"));
    let r = get(srv, "/Users?filter=userName+eq+%22JDOE%22").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["totalResults"], 1);
    assert_eq!(r.body["Resources"][0]["id"], id.as_str());

    let mut put = body.clone();
    put["id"] = json!(id);
    put["active"] = json!(false);
    let r = scim(srv, Method::PUT, &format!("/Users/{id}"), Some(put)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["active"], false);
    assert_eq!(r.body["emails"], body["emails"]);
    // Inactive users stay listed.
    let r = get(srv, &filter_path("/Users", "active eq false")).await;
    assert_eq!(r.body["totalResults"], 1);

    // §2.4: group without members, one operation per member, removal by value list, a
    // no-path replace without top-level schemas, then the reconciliation GET.
    let group = create_group(srv, json!({"schemas": [GROUP], "externalId": "f1c4a2d0-0000-4000-8000-000000000001", "displayName": "staff"})).await;
    assert_eq!(group["members"], json!([]));
    let gid = group["id"].as_str().expect("id").to_string();
    let nid = nameless["id"].as_str().expect("id");
    let r = scim(
        srv,
        Method::PATCH,
        &format!("/Groups/{gid}"),
        Some(json!({"schemas": [PATCH_OP],
        "Operations": [{"op": "add", "path": "members", "value": [{"value": id}]},
                       {"op": "add", "path": "members", "value": [{"value": nid}]}]})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["members"].as_array().map(Vec::len), Some(2));
    let r = scim(
        srv,
        Method::PATCH,
        &format!("/Groups/{gid}"),
        Some(json!({"schemas": [PATCH_OP],
        "Operations": [{"op": "remove", "path": "members", "value": [{"value": nid}]}]})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["members"][0]["value"], id.as_str());
    assert_eq!(r.body["members"].as_array().map(Vec::len), Some(1));
    let r = scim(srv, Method::PATCH, &format!("/Groups/{gid}"), Some(json!({"Operations": [{"op": "replace",
        "value": {"id": gid, "schemas": [GROUP], "externalId": "f1c4a2d0-0000-4000-8000-000000000001", "displayName": "staff-renamed"}}]}))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = get(srv, &format!("/Groups/{gid}")).await;
    assert_eq!(r.body["displayName"], "staff-renamed");
    assert_eq!(r.body["externalId"], "f1c4a2d0-0000-4000-8000-000000000001");
    assert_eq!(r.body["members"][0]["type"], "User");
    let r = get(srv, &format!("/Users/{id}")).await;
    assert_eq!(
        r.body["groups"],
        json!([{"value": gid, "$ref": r.body["groups"][0]["$ref"], "display": "staff-renamed", "type": "direct"}])
    );

    // Deleting: 204 without a body, then 404; the group follows the same rule.
    let r = scim(srv, Method::DELETE, &format!("/Users/{id}"), None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert!(r.text.is_empty());
    assert_error(
        &get(srv, &format!("/Users/{id}")).await,
        StatusCode::NOT_FOUND,
        None,
    );
    assert_error(
        &scim(srv, Method::DELETE, &format!("/Users/{id}"), None).await,
        StatusCode::NOT_FOUND,
        None,
    );
    let r = scim(srv, Method::DELETE, &format!("/Groups/{gid}"), None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_error(
        &get(srv, &format!("/Groups/{gid}")).await,
        StatusCode::NOT_FOUND,
        None,
    );
});

backend_test!(entra_conversation, |srv| {
    // Test Connection: a user that does not exist.
    let r = get(
        srv,
        &filter_path(
            "/Users",
            "userName eq \"0b6a8c52-1f0e-4d8b-9c1c-2a4f5e6d7c8b\"",
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["totalResults"], 0);
    assert_eq!(r.body["Resources"], json!([]));

    let created = create_user(srv, json!({"schemas": [USER, ENTERPRISE],
        "externalId": "alice", "userName": "alice@contoso.example", "active": true,
        "emails": [{"primary": true, "type": "work", "value": "alice@contoso.example"}],
        "meta": {"resourceType": "User"}, "name": {"formatted": "Alice Smith", "familyName": "Smith", "givenName": "Alice"},
        "roles": [], "addresses": null, "phoneNumbers": null, "title": null, "manager": null,
        "department": "top-level and unknown",
        ENTERPRISE: {"employeeNumber": "42", "department": "R&D"}})).await;
    let id = created["id"].as_str().expect("id").to_string();
    assert!(
        created.get("department").is_none(),
        "unknown input is not echoed"
    );
    assert_eq!(created[ENTERPRISE]["employeeNumber"], "42");
    assert_eq!(created["schemas"], json!([USER, ENTERPRISE]));
    assert!(created.get("displayName").is_none(), "not sent, not echoed");
    let r = srv
        .get("/api/v3/core/users/?username=alice@contoso.example")
        .await;
    assert_eq!(
        r.body["results"][0]["name"], "Alice Smith",
        "name from name.formatted"
    );

    // Matching by the other configurable attributes.
    for f in [
        "externalId eq \"alice\"",
        "emails[type eq \"work\"].value eq \"ALICE@contoso.example\"",
        "userName eq \"Alice@Contoso.Example\" and active eq true",
    ] {
        let r = get(srv, &filter_path("/Users", f)).await;
        assert_eq!(r.body["totalResults"], 1, "{f}: {}", r.text);
    }

    // Capitalised ops, a filtered path, "False", dotted and URN keys in a no-path value.
    let r = scim(srv, Method::PATCH, &format!("/Users/{id}"), Some(json!({"schemas": [PATCH_OP], "Operations": [
        {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "alice.smith@contoso.example"},
        {"op": "Replace", "path": "name.familyName", "value": "Smith-Jones"},
        {"op": "Add", "path": "manager", "value": [{"$ref": null, "value": "boss-id"}]},
        {"op": "Replace", "value": {"name.givenName": "Alicia", (format!("{ENTERPRISE}:department")): "Research"}},
        {"op": "Replace", "path": "active", "value": "False"}]}))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["emails"][0]["value"], "alice.smith@contoso.example");
    assert_eq!(r.body["name"]["familyName"], "Smith-Jones");
    assert_eq!(r.body["name"]["givenName"], "Alicia");
    assert_eq!(r.body[ENTERPRISE]["department"], "Research");
    assert_eq!(r.body[ENTERPRISE]["manager"]["value"], "boss-id");
    assert_eq!(r.body["active"], false);
    let r = get(srv, &format!("/Users/{id}")).await;
    assert_eq!(r.body["active"], false);
    // A work address where there was none is created.
    let other = create_user(srv, json!({"userName": "bob@contoso.example"})).await;
    let r = scim(srv, Method::PATCH, &format!("/Users/{}", other["id"].as_str().expect("id")), Some(json!({"Operations": [
        {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "bob@contoso.example"}]}))).await;
    assert_eq!(
        r.body["emails"],
        json!([{"type": "work", "value": "bob@contoso.example"}]),
        "{}",
        r.text
    );

    // Groups: lookup without members, create with Entra's extra schema, member add/remove.
    let r = get(
        srv,
        "/Groups?excludedAttributes=members&filter=displayName+eq+%22Sales%22",
    )
    .await;
    assert_eq!(r.body["totalResults"], 0);
    let group = create_group(srv, json!({"schemas": [GROUP, "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
        "externalId": "8aa1a0c0", "displayName": "Sales", "meta": {"resourceType": "Group"}})).await;
    let gid = group["id"].as_str().expect("id").to_string();
    let r = scim(
        srv,
        Method::PATCH,
        &format!("/Groups/{gid}"),
        Some(json!({"schemas": [PATCH_OP], "Operations": [
        {"op": "Add", "path": "members", "value": [{"$ref": null, "value": id}]},
        {"op": "Add", "path": "members", "value": [{"$ref": null, "value": other["id"]}]}]})),
    )
    .await;
    assert_eq!(
        r.body["members"].as_array().map(Vec::len),
        Some(2),
        "{}",
        r.text
    );
    let r = scim(
        srv,
        Method::PATCH,
        &format!("/Groups/{gid}"),
        Some(json!({"schemas": [PATCH_OP], "Operations": [
        {"op": "remove", "path": format!("members[value eq \"{id}\"]")}]})),
    )
    .await;
    assert_eq!(
        r.body["members"].as_array().map(Vec::len),
        Some(1),
        "{}",
        r.text
    );
    let r = get(srv, &format!("/Groups/{gid}?excludedAttributes=members")).await;
    assert!(r.body.get("members").is_none(), "{}", r.text);
    assert_eq!(r.body["displayName"], "Sales");
    let r = get(
        srv,
        &filter_path(
            "/Groups",
            &format!("members eq \"{}\"", other["id"].as_str().expect("id")),
        ),
    )
    .await;
    assert_eq!(r.body["totalResults"], 1, "{}", r.text);
    let r = get(srv, &filter_path("/Groups", "externalId eq \"8aa1a0c0\"")).await;
    assert_eq!(r.body["Resources"][0]["id"], gid.as_str());
});

backend_test!(okta_conversation, |srv| {
    let r = get(
        srv,
        "/Users?filter=userName%20eq%20%22ann@okta.example%22&startIndex=1&count=100",
    )
    .await;
    assert_eq!(r.body["totalResults"], 0);
    let created = create_user(
        srv,
        json!({"schemas": [USER], "userName": "ann@okta.example",
        "name": {"givenName": "Ann", "familyName": "Lee"},
        "emails": [{"primary": true, "value": "ann@okta.example", "type": "work"}],
        "displayName": "Ann Lee", "locale": "en-US", "externalId": "00ujl29u0le5T6Aj10h7",
        "groups": [], "password": "1mz050nq", "active": true}),
    )
    .await;
    let id = created["id"].as_str().expect("id").to_string();
    assert!(created.get("password").is_none());
    assert_eq!(created["locale"], "en-US");

    // GET then PUT of the full object, deactivating.
    let mut full = get(srv, &format!("/Users/{id}")).await.body;
    full["active"] = json!(false);
    full["locale"] = json!("de-DE");
    let r = scim(srv, Method::PUT, &format!("/Users/{id}"), Some(full)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["active"], false);
    assert_eq!(r.body["locale"], "de-DE");
    // OIN reactivation: a no-path replace.
    let r = scim(
        srv,
        Method::PATCH,
        &format!("/Users/{id}"),
        Some(json!({"schemas": [PATCH_OP],
        "Operations": [{"op": "replace", "value": {"active": true}}]})),
    )
    .await;
    assert_eq!(r.body["active"], true, "{}", r.text);

    // Import pages: stable order by creation, integers everywhere.
    for n in 0..4 {
        create_user(srv, json!({"userName": format!("page{n}@okta.example")})).await;
    }
    let first = get(srv, "/Users?startIndex=1&count=2").await.body;
    let second = get(srv, "/Users?startIndex=3&count=2").await.body;
    assert_eq!(first["itemsPerPage"], 2);
    assert_eq!(first["startIndex"], 1);
    assert_eq!(second["startIndex"], 3);
    let total = first["totalResults"].as_i64().expect("total");
    assert_eq!(second["totalResults"], total);
    assert_ne!(first["Resources"][0]["id"], second["Resources"][0]["id"]);
    let none = get(srv, "/Users?count=0").await.body;
    assert_eq!(none["Resources"], json!([]));
    assert_eq!(none["totalResults"], total);

    // Push Groups: create with [], rename with every membership update, replace members.
    let group = create_group(
        srv,
        json!({"schemas": [GROUP], "displayName": "Engineering", "members": []}),
    )
    .await;
    let gid = group["id"].as_str().expect("id").to_string();
    let r = scim(srv, Method::PATCH, &format!("/Groups/{gid}"), Some(json!({"schemas": [PATCH_OP], "Operations": [
        {"op": "replace", "value": {"id": gid, "displayName": "Engineering"}},
        {"op": "add", "path": "members", "value": [{"value": id, "display": "ann@okta.example"}]}]}))).await;
    assert_eq!(
        r.body["members"].as_array().map(Vec::len),
        Some(1),
        "{}",
        r.text
    );
    let p0 = get(
        srv,
        &filter_path("/Users", "userName eq \"page0@okta.example\""),
    )
    .await
    .body["Resources"][0]["id"]
        .clone();
    let r = scim(
        srv,
        Method::PATCH,
        &format!("/Groups/{gid}"),
        Some(json!({"schemas": [PATCH_OP], "Operations": [
        {"op": "replace", "path": "members", "value": [{"value": p0}]}]})),
    )
    .await;
    assert_eq!(
        r.body["members"],
        json!([{"value": p0, "$ref": r.body["members"][0]["$ref"], "type": "User"}])
    );
    let r = scim(
        srv,
        Method::PATCH,
        &format!("/Groups/{gid}"),
        Some(json!({"schemas": [PATCH_OP], "Operations": [
        {"op": "remove", "path": format!("members[value eq \"{}\"]", p0.as_str().expect("id"))}]})),
    )
    .await;
    assert_eq!(r.body["members"], json!([]));
});

backend_test!(filters_paging_and_projection, |srv| {
    for (user, name, active) in [
        ("fa", "Fiona Apple", true),
        ("fb", "Frank Black", false),
        ("gc", "Gina Cole", true),
    ] {
        create_user(
            srv,
            json!({"userName": user, "displayName": name, "active": active,
            "emails": [{"value": format!("{user}@example.org"), "primary": true}]}),
        )
        .await;
    }
    let count = |f: &'static str| async move {
        let r = get(srv, &filter_path("/Users", f)).await;
        assert_eq!(r.status, StatusCode::OK, "{f}: {}", r.text);
        r.body["totalResults"].as_i64().expect("total")
    };
    assert_eq!(count("userName sw \"f\"").await, 2);
    assert_eq!(
        count("userName sw \"F\" and not (active eq false)").await,
        1
    );
    assert_eq!(
        count("(userName eq \"fa\" or userName eq \"gc\") and displayName co \"cole\"").await,
        1
    );
    assert_eq!(
        count("displayName ew \"BLACK\" or emails co \"gc@\"").await,
        2
    );
    assert_eq!(count("userName ne \"fa\" and userName sw \"f\"").await, 1);
    assert_eq!(count("displayName pr and userName sw \"g\"").await, 1);
    assert_eq!(
        count("meta.created gt \"2000-01-01T00:00:00Z\" and userName sw \"f\"").await,
        2
    );
    assert_eq!(
        count("meta.lastModified lt \"2000-01-01T00:00:00Z\"").await,
        0
    );
    assert_eq!(count("USERNAME EQ \"FA\"").await, 1);
    assert_eq!(
        count("urn:ietf:params:scim:schemas:core:2.0:User:userName eq \"gc\"").await,
        1
    );

    let r = get(
        srv,
        &format!(
            "{}&attributes=userName,name.givenName",
            filter_path("/Users", "userName eq \"fa\"")
        ),
    )
    .await;
    let res = &r.body["Resources"][0];
    assert!(
        res.get("displayName").is_none() && res.get("emails").is_none(),
        "{res}"
    );
    assert_eq!(res["userName"], "fa");
    assert!(res["id"].is_string() && res["meta"].is_object());
    let r = get(
        srv,
        &format!(
            "{}&excludedAttributes=emails,meta",
            filter_path("/Users", "userName eq \"fa\"")
        ),
    )
    .await;
    let res = &r.body["Resources"][0];
    assert!(res.get("emails").is_none());
    assert!(res["meta"].is_object(), "meta is always returned");

    let r = scim(srv, Method::POST, "/.search", Some(json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
        "filter": "displayName sw \"F\"", "attributes": ["displayName"], "startIndex": 1, "count": 10}))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["totalResults"], 2);
    create_group(srv, json!({"displayName": "Friends"})).await;
    let r = scim(
        srv,
        Method::POST,
        "/.search",
        Some(json!({"filter": "displayName sw \"F\""})),
    )
    .await;
    assert_eq!(r.body["totalResults"], 3, "{}", r.text);
    let r = scim(
        srv,
        Method::POST,
        "/Groups/.search",
        Some(json!({"filter": "displayName eq \"friends\""})),
    )
    .await;
    assert_eq!(r.body["totalResults"], 1, "{}", r.text);
});

backend_test!(errors_in_scim_shape, |srv| {
    for f in [
        "userName",
        "userName eq",
        "title eq \"x\"",
        "active gt true",
        "userName eq \"a\" and",
        "not userName eq \"a\"",
    ] {
        assert_error(
            &get(srv, &filter_path("/Users", f)).await,
            StatusCode::BAD_REQUEST,
            Some("invalidFilter"),
        );
    }
    assert_error(
        &get(srv, "/Users/nonexistent-id-000000").await,
        StatusCode::NOT_FOUND,
        None,
    );
    assert_error(
        &get(srv, "/Groups/7d7c0a1e-5a4e-4f5e-9d1a-0c6c3a1b2c3d").await,
        StatusCode::NOT_FOUND,
        None,
    );
    assert_error(
        &scim(
            srv,
            Method::POST,
            "/Users",
            Some(json!({"not": "a scim resource"})),
        )
        .await,
        StatusCode::BAD_REQUEST,
        Some("invalidValue"),
    );
    assert_error(
        &scim(
            srv,
            Method::POST,
            "/Users",
            Some(json!({"userName": "has space"})),
        )
        .await,
        StatusCode::BAD_REQUEST,
        Some("invalidValue"),
    );
    assert_error(
        &scim(srv, Method::POST, "/Groups", Some(json!({"members": []}))).await,
        StatusCode::BAD_REQUEST,
        Some("invalidValue"),
    );
    let r = srv
        .send_raw(
            Method::POST,
            "/scim/v2/Users",
            Some("application/scim+json"),
            b"{not json".to_vec(),
        )
        .await;
    assert_error(&r, StatusCode::BAD_REQUEST, Some("invalidSyntax"));
    // application/scim+json in, as clients send it.
    let r = srv
        .send_raw(
            Method::POST,
            "/scim/v2/Users",
            Some("application/scim+json"),
            serde_json::to_vec(&json!({"schemas": [USER], "userName": "raw"})).expect("json"),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let id = r.body["id"].as_str().expect("id").to_string();

    let group = create_group(srv, json!({"displayName": "taken"})).await;
    assert_error(
        &scim(
            srv,
            Method::POST,
            "/Groups",
            Some(json!({"displayName": "taken"})),
        )
        .await,
        StatusCode::CONFLICT,
        Some("uniqueness"),
    );
    let gid = group["id"].as_str().expect("id");
    let path = format!("/Users/{id}");
    let patch = |ops: Value| json!({"schemas": [PATCH_OP], "Operations": ops});
    assert_error(
        &scim(
            srv,
            Method::PATCH,
            &path,
            Some(patch(
                json!([{"op": "replace", "path": "nope", "value": 1}]),
            )),
        )
        .await,
        StatusCode::BAD_REQUEST,
        Some("invalidPath"),
    );
    assert_error(
        &scim(
            srv,
            Method::PATCH,
            &path,
            Some(patch(
                json!([{"op": "replace", "path": "emails[type eq", "value": 1}]),
            )),
        )
        .await,
        StatusCode::BAD_REQUEST,
        Some("invalidPath"),
    );
    assert_error(
        &scim(
            srv,
            Method::PATCH,
            &path,
            Some(patch(json!([{"op": "remove", "path": "userName"}]))),
        )
        .await,
        StatusCode::BAD_REQUEST,
        Some("mutability"),
    );
    assert_error(
        &scim(
            srv,
            Method::PATCH,
            &path,
            Some(patch(
                json!([{"op": "add", "path": "groups", "value": [{"value": gid}]}]),
            )),
        )
        .await,
        StatusCode::BAD_REQUEST,
        Some("mutability"),
    );
    assert_error(
        &scim(
            srv,
            Method::PATCH,
            &path,
            Some(patch(json!([{"op": "remove"}]))),
        )
        .await,
        StatusCode::BAD_REQUEST,
        Some("noTarget"),
    );
    assert_error(
        &scim(
            srv,
            Method::PATCH,
            &path,
            Some(patch(json!([{"op": "replace", "value": {"id": "other"}}]))),
        )
        .await,
        StatusCode::BAD_REQUEST,
        Some("mutability"),
    );
    assert_error(&scim(srv, Method::PATCH, &format!("/Groups/{gid}"), Some(patch(json!([{"op": "replace", "path": "members[value eq \"x\"]", "value": {"value": "y"}}])))).await, StatusCode::BAD_REQUEST, Some("noTarget"));
    assert_error(
        &scim(
            srv,
            Method::PATCH,
            &path,
            Some(patch(json!([{"op": "move", "path": "userName"}]))),
        )
        .await,
        StatusCode::BAD_REQUEST,
        Some("invalidSyntax"),
    );
    // Atomic: a failing operation leaves the earlier ones unapplied.
    let r = scim(srv, Method::PATCH, &path, Some(patch(json!([{"op": "replace", "path": "displayName", "value": "changed"}, {"op": "remove", "path": "userName"}])))).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(get(srv, &path).await.body.get("displayName").is_none());
    // An unknown member id is skipped (scim-sanity's fake-member-id).
    let r = scim(
        srv,
        Method::PATCH,
        &format!("/Groups/{gid}"),
        Some(patch(
            json!([{"op": "add", "path": "members", "value": [{"value": "fake-member-id"}]}]),
        )),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["members"], json!([]));
});

backend_test!(privileged_groups_are_not_scims_to_fill, |srv| {
    let user = create_user(srv, json!({"userName": "climber"})).await;
    let admins = srv
        .post(
            "/api/v3/core/groups/",
            &json!({"name": "scim-admins", "is_superuser": true}),
        )
        .await
        .body;
    let role = srv
        .post("/api/v3/rbac/roles/", &json!({"name": "scim-role"}))
        .await
        .body;
    let with_role = srv
        .post(
            "/api/v3/core/groups/",
            &json!({"name": "scim-role-group", "roles": [role["pk"]]}),
        )
        .await
        .body;
    let child = srv
        .post(
            "/api/v3/core/groups/",
            &json!({"name": "scim-child", "parents": [admins["pk"]]}),
        )
        .await
        .body;
    for g in [&admins, &with_role, &child] {
        let r = scim(
            srv,
            Method::PATCH,
            &format!("/Groups/{}", g["pk"].as_str().expect("pk")),
            Some(json!({"Operations": [
            {"op": "add", "path": "members", "value": [{"value": user["id"]}]}]})),
        )
        .await;
        assert_error(&r, StatusCode::FORBIDDEN, None);
    }
    let r = srv.get("/api/v3/core/users/?username=climber").await;
    assert_eq!(r.body["results"][0]["is_superuser"], false);
    // Renaming such a group without touching members is allowed.
    let r = scim(
        srv,
        Method::PATCH,
        &format!("/Groups/{}", with_role["pk"].as_str().expect("pk")),
        Some(json!({"Operations": [
        {"op": "replace", "path": "displayName", "value": "scim-role-group-2"}]})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
});

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn privileged_groups_can_be_allowed() {
    let srv = TestServer::start_with(crate::common::Backend::Sqlite, |c| {
        c.scim_privileged_groups = true;
    })
    .await;
    let user = create_user(&srv, json!({"userName": "promoted"})).await;
    let admins = srv
        .post(
            "/api/v3/core/groups/",
            &json!({"name": "scim-admins", "is_superuser": true}),
        )
        .await
        .body;
    let r = scim(
        &srv,
        Method::PATCH,
        &format!("/Groups/{}", admins["pk"].as_str().expect("pk")),
        Some(json!({"Operations": [
        {"op": "add", "path": "members", "value": [{"value": user["id"]}]}]})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = srv.get("/api/v3/core/users/?username=promoted").await;
    assert_eq!(r.body["results"][0]["is_superuser"], true);
    srv.finish().await;
}

backend_test!(cross_protocol, |srv| {
    // SCIM → authentik and AWX.
    let created = create_user(srv, json!({"userName": "carol", "displayName": "Carol Danvers",
        "name": {"givenName": "Carol", "familyName": "Danvers"}, "title": "Captain",
        "emails": [{"value": "carol@example.org", "type": "work", "primary": true}], "active": true})).await;
    let id = created["id"].as_str().expect("id").to_string();
    let r = srv.get("/api/v3/core/users/?username=carol").await;
    let core = r.body["results"][0].clone();
    assert_eq!(core["uuid"], id.as_str());
    assert_eq!(core["name"], "Carol Danvers");
    assert_eq!(core["email"], "carol@example.org");
    assert_eq!(core["is_active"], true);
    assert_eq!(
        core["attributes"],
        json!({}),
        "SCIM data stays out of attributes"
    );
    let r = srv.get("/api/v2/users/?username=carol").await;
    assert_eq!(r.body["results"][0]["first_name"], "Carol");
    assert_eq!(r.body["results"][0]["last_name"], "Danvers");

    // authentik and AWX → SCIM: computed values win over the stored document.
    let r = srv
        .patch(
            &format!("/api/v3/core/users/{}/", core["pk"]),
            &json!({"name": "Carol D.", "email": "captain@example.org", "is_active": false}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = srv
        .patch(
            &format!("/api/v2/users/{}/", core["pk"]),
            &json!({"first_name": "Car"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let user = get(srv, &format!("/Users/{id}")).await.body;
    // AWX's first-name change recomputes the display name (AWX mapping).
    let name =
        srv.get("/api/v3/core/users/?username=carol").await.body["results"][0]["name"].clone();
    assert_eq!(name, "Car Danvers");
    assert_eq!(user["displayName"], name);
    assert_eq!(
        user["emails"],
        json!([{"value": "captain@example.org", "type": "work", "primary": true}])
    );
    assert_eq!(user["active"], false);
    assert_eq!(user["name"]["givenName"], "Car");
    assert_eq!(user["title"], "Captain", "unmapped attributes round-trip");

    // Groups: SCIM membership shows in authentik; indirect groups through parents.
    let group = create_group(
        srv,
        json!({"displayName": "avengers", "members": [{"value": id}]}),
    )
    .await;
    let gid = group["id"].as_str().expect("id").to_string();
    let r = srv.get(&format!("/api/v3/core/groups/{gid}/")).await;
    assert_eq!(r.body["users"], json!([core["pk"]]));
    let parent = srv
        .post("/api/v3/core/groups/", &json!({"name": "heroes"}))
        .await
        .body;
    let r = srv
        .patch(
            &format!("/api/v3/core/groups/{gid}/"),
            &json!({"parents": [parent["pk"]]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let groups = get(srv, &format!("/Users/{id}")).await.body["groups"].clone();
    let kinds: Vec<(String, String)> = groups
        .as_array()
        .expect("groups")
        .iter()
        .map(|g| {
            (
                g["display"].as_str().unwrap_or("").to_string(),
                g["type"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    assert!(
        kinds.contains(&("avengers".into(), "direct".into())),
        "{kinds:?}"
    );
    assert!(
        kinds.contains(&("heroes".into(), "indirect".into())),
        "{kinds:?}"
    );
    // Child groups are never SCIM members.
    let r = get(
        srv,
        &format!("/Groups/{}", parent["pk"].as_str().expect("pk")),
    )
    .await;
    assert_eq!(r.body["members"], json!([]));

    // A user deleted through authentik is gone for SCIM, with its SCIM rows.
    let r = srv
        .delete(&format!("/api/v3/core/users/{}/", core["pk"]))
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_error(
        &get(srv, &format!("/Users/{id}")).await,
        StatusCode::NOT_FOUND,
        None,
    );
    let r = get(srv, &format!("/Groups/{gid}")).await;
    assert_eq!(r.body["members"], json!([]));
});

/// A second SCIM client: a superuser (through a superuser group) with its own key.
async fn second_client(srv: &TestServer, username: &str) -> String {
    let (user, key) = user_with_key(srv, username).await;
    let r = srv
        .post(
            "/api/v3/core/groups/",
            &json!({"name": format!("{username}-admins"), "is_superuser": true, "users": [user["pk"]]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    key
}

backend_test!(
    username_is_unique_under_ascii_folding_and_race_safe,
    |srv| {
        // Concurrent creates differing only in case: one 201, one 409 `uniqueness`, every round.
        for round in 0..8 {
            let upper = format!("Bjensen{round}");
            let lower = upper.to_ascii_lowercase();
            let body = |name: &str| Some(json!({"schemas": [USER], "userName": name}));
            let (a, b) = tokio::join!(
                scim(srv, Method::POST, "/Users", body(&upper)),
                scim(srv, Method::POST, "/Users", body(&lower)),
            );
            let mut statuses = [a.status, b.status];
            statuses.sort();
            assert_eq!(
                statuses,
                [StatusCode::CREATED, StatusCode::CONFLICT],
                "{} / {}",
                a.text,
                b.text
            );
            let lost = if a.status == StatusCode::CONFLICT {
                &a
            } else {
                &b
            };
            assert_error(lost, StatusCode::CONFLICT, Some("uniqueness"));
            let r = get(
                srv,
                &filter_path("/Users", &format!("userName eq \"{upper}\"")),
            )
            .await;
            assert_eq!(r.body["totalResults"], 1, "{}", r.text);
        }
        // The same race through authentik's API and SCIM at once.
        let core_body = json!({"username": "RaceCase", "name": "R"});
        let (a, b) = tokio::join!(
            srv.post("/api/v3/core/users/", &core_body),
            scim(
                srv,
                Method::POST,
                "/Users",
                Some(json!({"schemas": [USER], "userName": "racecase"}))
            ),
        );
        let created = usize::from(a.status == StatusCode::CREATED)
            + usize::from(b.status == StatusCode::CREATED);
        assert_eq!(created, 1, "{} / {}", a.text, b.text);
        assert!(
            a.status == StatusCode::BAD_REQUEST || b.status == StatusCode::CONFLICT,
            "{} / {}",
            a.text,
            b.text
        );

        // Every door refuses a username another user holds in another ASCII case.
        create_user(srv, json!({"userName": "JDoe"})).await;
        assert_error(
            &scim(
                srv,
                Method::POST,
                "/Users",
                Some(json!({"userName": "jdoe"})),
            )
            .await,
            StatusCode::CONFLICT,
            Some("uniqueness"),
        );
        let r = srv
            .post(
                "/api/v3/core/users/",
                &json!({"username": "JDOE", "name": "J"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
        assert_eq!(
            r.body,
            json!({"username": ["This field must be unique."]}),
            "{}",
            r.text
        );
        let r = srv
            .post(
                "/api/v2/users/",
                &json!({"username": "jDoe", "password": "a-long-passphrase-1"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
        assert!(r.body.get("username").is_some(), "{}", r.text);
        // A rename into another's folded name is refused too; one's own case may change.
        let other = create_user(srv, json!({"userName": "other"})).await;
        let oid = other["id"].as_str().expect("id");
        let r = scim(
            srv,
            Method::PUT,
            &format!("/Users/{oid}"),
            Some(json!({"userName": "jdOE"})),
        )
        .await;
        assert_error(&r, StatusCode::CONFLICT, Some("uniqueness"));
        let r = scim(
            srv,
            Method::PUT,
            &format!("/Users/{oid}"),
            Some(json!({"userName": "OTHER"})),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);

        // Folding is ASCII only, alike in Rust (the check) and SQL (the index, the filter): `Ä`/`ä`,
        // `ß`/`SS` are different names. Were SQL to fold them, the second create would hit the index
        // after the check passed (409); were Rust to, the check would refuse it.
        for (first, second) in [
            ("Ärger", "ärger"),
            ("straße", "STRASSE"),
            ("Émile", "émile"),
        ] {
            create_user(srv, json!({"userName": first})).await;
            create_user(srv, json!({"userName": second})).await;
            for name in [first, second] {
                let r = get(
                    srv,
                    &filter_path("/Users", &format!("userName eq \"{name}\"")),
                )
                .await;
                assert_eq!(r.body["totalResults"], 1, "{name}: {}", r.text);
                assert_eq!(r.body["Resources"][0]["userName"], name);
            }
        }
        // ASCII letters fold around non-ASCII ones.
        let r = get(srv, &filter_path("/Users", "userName eq \"äRGER\"")).await;
        assert_eq!(r.body["totalResults"], 1, "{}", r.text);
        assert_eq!(r.body["Resources"][0]["userName"], "ärger");

        // sw (the folded-username index), co and ew (the search index), folding ASCII.
        let names = |r: &crate::common::Resp| -> Vec<String> {
            let mut v: Vec<String> = r.body["Resources"]
                .as_array()
                .expect("Resources")
                .iter()
                .map(|u| u["userName"].as_str().unwrap_or("").to_string())
                .collect();
            v.sort();
            v
        };
        let r = get(srv, &filter_path("/Users", "userName sw \"BJENSEN1\"")).await;
        let found = names(&r);
        assert!(
            found.len() == 1 && found[0].eq_ignore_ascii_case("bjensen1"),
            "{}",
            r.text
        );
        let r = get(srv, &filter_path("/Users", "userName sw \"jd\"")).await;
        assert_eq!(names(&r), vec!["JDoe".to_string()], "{}", r.text);
        let r = get(srv, &filter_path("/Users", "userName co \"RGE\"")).await;
        assert_eq!(
            names(&r),
            vec!["Ärger".to_string(), "ärger".to_string()],
            "{}",
            r.text
        );
        let r = get(srv, &filter_path("/Users", "userName ew \"DOE\"")).await;
        assert_eq!(names(&r), vec!["JDoe".to_string()], "{}", r.text);
        let r = get(srv, &filter_path("/Users", "userName sw \"Ä\"")).await;
        assert_eq!(names(&r), vec!["Ärger".to_string()], "{}", r.text);
    }
);

fn cache_hits(srv: &TestServer) -> u64 {
    srv.state()
        .directory
        .stats()
        .caches
        .iter()
        .find(|c| c.0 == "scim_rendered_users")
        .map(|c| c.1)
        .expect("scim_rendered_users cache registered")
}

backend_test!(get_by_id_is_cached_and_follows_every_door, |srv| {
    let created = create_user(
        srv,
        json!({"userName": "cached", "displayName": "Cached One", "active": true,
        "name": {"givenName": "Cached", "familyName": "One"}, "externalId": "ext-1",
        "emails": [{"value": "cached@example.org", "type": "work", "primary": true}]}),
    )
    .await;
    let id = created["id"].as_str().expect("id").to_string();
    let path = format!("/Users/{id}");
    let pk = srv.get("/api/v3/core/users/?username=cached").await.body["results"][0]["pk"].clone();

    let first = get(srv, &path).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    assert!(first
        .header("content-type")
        .is_some_and(|c| c.starts_with("application/scim+json")));
    // A repeated read is a hit (on PostgreSQL the create's own notice may still move the epoch
    // once after the first fill, so allow a few reads).
    let mut hit = false;
    for _ in 0..20 {
        let hits = cache_hits(srv);
        let again = get(srv, &path).await;
        assert_eq!(again.body, first.body);
        if cache_hits(srv) > hits {
            hit = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(hit, "a repeated read is a cache hit");
    // A projection is applied to the cached document.
    let r = get(srv, &format!("{path}?attributes=userName")).await;
    assert_eq!(r.body["userName"], "cached");
    assert!(r.body.get("emails").is_none(), "{}", r.text);
    let r = get(srv, &format!("{path}?excludedAttributes=emails")).await;
    assert!(r.body.get("emails").is_none() && r.body["displayName"] == "Cached One");

    // Through authentik's API.
    let r = srv
        .patch(
            &format!("/api/v3/core/users/{pk}/"),
            &json!({"name": "Renamed", "is_active": false}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = get(srv, &path).await;
    assert_eq!(r.body["displayName"], "Renamed", "{}", r.text);
    assert_eq!(r.body["active"], false);
    // Through AWX's API.
    let r = srv
        .patch(
            &format!("/api/v2/users/{pk}/"),
            &json!({"last_name": "Two", "email": "two@example.org"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = get(srv, &path).await;
    assert_eq!(r.body["name"]["familyName"], "Two", "{}", r.text);
    assert_eq!(r.body["emails"][0]["value"], "two@example.org");
    // A group joined through authentik's API, then renamed.
    let group = srv
        .post(
            "/api/v3/core/groups/",
            &json!({"name": "crew", "users": [pk]}),
        )
        .await
        .body;
    let r = get(srv, &path).await;
    assert_eq!(r.body["groups"][0]["display"], "crew", "{}", r.text);
    let r = srv
        .patch(
            &format!("/api/v3/core/groups/{}/", group["pk"].as_str().expect("pk")),
            &json!({"name": "crew-2"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = get(srv, &path).await;
    assert_eq!(r.body["groups"][0]["display"], "crew-2", "{}", r.text);
    // Through SCIM itself (a change of the shadow document only).
    let r = scim(
        srv,
        Method::PATCH,
        &path,
        Some(json!({"schemas": [PATCH_OP], "Operations": [{"op": "add", "path": "title", "value": "Boss"}]})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(get(srv, &path).await.body["title"], "Boss");

    // Each client sees its own externalId, from the cache too.
    let key = second_client(srv, "cache-client").await;
    for _ in 0..2 {
        let r = srv
            .send(Method::GET, &format!("/scim/v2{path}"), Some(&key), None)
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert!(r.body.get("externalId").is_none(), "{}", r.text);
        assert_eq!(get(srv, &path).await.body["externalId"], "ext-1");
    }
    // The base URL the client reached is part of the document.
    let r = reqwest::Client::new()
        .get(format!("{}/scim/v2{path}", srv.base))
        .bearer_auth(&srv.token)
        .header("Host", "idp.example.org")
        .send()
        .await
        .expect("send");
    let body: Value = r.json().await.expect("json");
    assert_eq!(
        body["meta"]["location"],
        format!("http://idp.example.org/scim/v2{path}")
    );
    assert_eq!(
        get(srv, &path).await.body["meta"]["location"],
        format!("{}/scim/v2{path}", srv.base)
    );

    // Deleted through authentik: 404, not the cached document.
    let r = srv.delete(&format!("/api/v3/core/users/{pk}/")).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_error(&get(srv, &path).await, StatusCode::NOT_FOUND, None);
});

// `userName eq` (the lookup every identity provider makes before creating a user) is answered
// from the caches: the same ListResponse as the general path, any case of the name, following
// renames and deletes, with projections and paging as asked.
backend_test!(
    username_lookup_answers_like_a_list_and_follows_changes,
    |srv| {
        let created = create_user(
        srv,
        json!({"userName": "Lookup.Me", "displayName": "Look Up", "active": true, "externalId": "lk-1",
        "emails": [{"value": "lookup@example.org", "type": "work", "primary": true}]}),
    )
    .await;
        let id = created["id"].as_str().expect("id").to_string();
        let by_id = get(srv, &format!("/Users/{id}")).await.body;
        for _ in 0..3 {
            for name in ["Lookup.Me", "lookup.me", "LOOKUP.ME"] {
                let r = get(
                    srv,
                    &filter_path("/Users", &format!("userName eq \"{name}\"")),
                )
                .await;
                assert_eq!(r.status, StatusCode::OK, "{}", r.text);
                assert!(r
                    .header("content-type")
                    .is_some_and(|c| c.starts_with("application/scim+json")));
                assert_eq!(
                    r.body,
                    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
                       "totalResults": 1, "startIndex": 1, "itemsPerPage": 1,
                       "Resources": [by_id.clone()]}),
                    "{name}"
                );
            }
        }
        // Through .search, with a projection.
        let r = scim(
            srv,
            Method::POST,
            "/Users/.search",
            Some(
                json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
                    "filter": "userName eq \"lookup.me\"", "attributes": ["userName"]}),
            ),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(r.body["totalResults"], 1);
        assert_eq!(r.body["Resources"][0]["userName"], "Lookup.Me");
        assert!(r.body["Resources"][0].get("emails").is_none(), "{}", r.text);
        // count=0 and a later startIndex take the general path: the same total, no resources.
        let r = get(
            srv,
            &format!(
                "{}&count=0",
                filter_path("/Users", "userName eq \"lookup.me\"")
            ),
        )
        .await;
        assert_eq!(r.body["totalResults"], 1, "{}", r.text);
        assert_eq!(r.body["Resources"].as_array().map(Vec::len).unwrap_or(0), 0);
        let r = get(
            srv,
            &format!(
                "{}&startIndex=2",
                filter_path("/Users", "userName eq \"lookup.me\"")
            ),
        )
        .await;
        assert_eq!(r.body["totalResults"], 1, "{}", r.text);
        assert_eq!(r.body["Resources"].as_array().map(Vec::len).unwrap_or(0), 0);
        // Nobody by that name: an empty list.
        let r = get(srv, &filter_path("/Users", "userName eq \"nobody.here\"")).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(r.body["totalResults"], 0);
        assert_eq!(r.body["Resources"], json!([]));

        // Renamed through authentik's API: the old name finds nobody, the new one the user.
        let pk = srv.get("/api/v3/core/users/?username=Lookup.Me").await.body["results"][0]["pk"]
            .clone();
        let r = srv
            .patch(
                &format!("/api/v3/core/users/{pk}/"),
                &json!({"username": "moved.on", "name": "Moved"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let r = get(srv, &filter_path("/Users", "userName eq \"lookup.me\"")).await;
        assert_eq!(r.body["totalResults"], 0, "{}", r.text);
        let r = get(srv, &filter_path("/Users", "userName eq \"Moved.On\"")).await;
        assert_eq!(r.body["totalResults"], 1, "{}", r.text);
        assert_eq!(r.body["Resources"][0]["id"], id.as_str());
        assert_eq!(r.body["Resources"][0]["displayName"], "Moved");
        // A name freed by the rename is taken by someone else: the lookup names the new user.
        let other = create_user(srv, json!({"userName": "lookup.me", "active": true})).await;
        let r = get(srv, &filter_path("/Users", "userName eq \"LOOKUP.me\"")).await;
        assert_eq!(r.body["Resources"][0]["id"], other["id"], "{}", r.text);
        // Deleted through AWX's API: gone.
        let r = srv.delete(&format!("/api/v2/users/{pk}/")).await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
        let r = get(srv, &filter_path("/Users", "userName eq \"moved.on\"")).await;
        assert_eq!(r.body["totalResults"], 0, "{}", r.text);
    }
);

/// Two instances on one PostgreSQL database: a change made through one is never served stale
/// from the other's cache of rendered SCIM users.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn second_instance_never_serves_a_stale_scim_user() {
    if crate::common::postgres_url().is_none() {
        eprintln!("GATEHOUSE_TEST_DATABASE_URL unset: multi-instance test not run");
        return;
    }
    let first = TestServer::start(crate::common::Backend::Postgres).await;
    let second = gatehouse::app::RunningServer::start(first.config())
        .await
        .expect("second instance starts");
    let created = create_user(
        &first,
        json!({"userName": "roaming", "displayName": "Before"}),
    )
    .await;
    let url = format!(
        "http://{}/scim/v2/Users/{}",
        second.addr,
        created["id"].as_str().expect("id")
    );
    let read = || async {
        let r = reqwest::Client::new()
            .get(&url)
            .bearer_auth(&first.token)
            .send()
            .await
            .expect("send");
        r.json::<Value>().await.expect("json")["displayName"].clone()
    };
    // Filled on the second instance.
    assert_eq!(read().await, "Before");
    assert_eq!(read().await, "Before");
    let pk =
        first.get("/api/v3/core/users/?username=roaming").await.body["results"][0]["pk"].clone();
    let r = first
        .patch(
            &format!("/api/v3/core/users/{pk}/"),
            &json!({"name": "After"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    // The change feed reaches the second instance within moments; until then its cache is
    // bypassed or its epoch has moved, so "Before" may not come back once "After" was seen.
    let mut seen_after = false;
    for _ in 0..50 {
        let name = read().await;
        if name == "After" {
            seen_after = true;
        } else {
            assert!(!seen_after, "a stale document after the new one");
        }
        if seen_after {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(
        seen_after,
        "the second instance kept serving the old document"
    );
    second.stop().await;
    first.finish().await;
}
