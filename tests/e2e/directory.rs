//! Vocabularies and the register of co-ops, through GraphQL as staff and
//! members use them.

use std::time::Duration;

use entity::users::Role;
use sea_orm::EntityTrait;
use serde_json::{Value, json};

use crate::on_both_databases;
use crate::support::{TestApp, first_error_code};

const CREATE_TOPIC: &str =
    "mutation($name: String!) { createTopic(name: $name) { id name retired } }";
const UPDATE_TOPIC: &str = "mutation($id: ID!, $name: String, $retired: Boolean) { updateTopic(id: $id, name: $name, retired: $retired) { id name retired } }";
const TOPICS: &str = "query($all: Boolean) { topics(includeRetired: $all) { totalCount edges { node { name retired } } } }";

fn names(body: &Value, list: &str) -> Vec<String> {
    body["data"][list]["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("{body}"))
        .iter()
        .map(|edge| edge["node"]["name"].as_str().unwrap().to_string())
        .collect()
}

on_both_databases!(staff_keep_the_vocabularies, |app: TestApp| async move {
    let (_, staff) = app.user(Role::Staff, "staff@example.coop").await;
    let (_, member) = app.user(Role::Member, "member@example.coop").await;

    let (_, body) = app
        .graphql(CREATE_TOPIC, json!({"name": " governance "}), Some(&staff))
        .await;
    assert_eq!(body["data"]["createTopic"]["name"], "governance", "{body}");
    let governance = body["data"]["createTopic"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.graphql(CREATE_TOPIC, json!({"name": "finance"}), Some(&staff))
        .await;

    let (_, body) = app
        .graphql(CREATE_TOPIC, json!({"name": "finance"}), Some(&staff))
        .await;
    assert_eq!(first_error_code(&body), Some("CONFLICT"), "{body}");
    let (_, body) = app
        .graphql(CREATE_TOPIC, json!({"name": "   "}), Some(&staff))
        .await;
    assert_eq!(first_error_code(&body), Some("BAD_USER_INPUT"), "{body}");
    let (_, body) = app
        .graphql(CREATE_TOPIC, json!({"name": "sneaky"}), Some(&member))
        .await;
    assert_eq!(first_error_code(&body), Some("FORBIDDEN"), "{body}");

    let (_, body) = app
        .graphql(
            UPDATE_TOPIC,
            json!({"id": governance, "name": "governance and democracy"}),
            Some(&staff),
        )
        .await;
    assert_eq!(
        body["data"]["updateTopic"]["name"], "governance and democracy",
        "{body}"
    );
    let (_, body) = app
        .graphql(
            UPDATE_TOPIC,
            json!({"id": governance, "retired": true}),
            Some(&staff),
        )
        .await;
    assert_eq!(body["data"]["updateTopic"]["retired"], true);

    let (_, current) = app.graphql(TOPICS, json!({}), Some(&member)).await;
    assert_eq!(names(&current, "topics"), ["finance"]);
    let (_, all) = app
        .graphql(TOPICS, json!({"all": true}), Some(&member))
        .await;
    assert_eq!(
        names(&all, "topics"),
        ["governance and democracy", "finance"]
    );

    // A retired topic is still found by id (it stays on old records).
    let (_, body) = app
        .graphql(
            "query($id: ID!) { node(id: $id) { ... on Topic { name retired } } }",
            json!({"id": governance}),
            Some(&staff),
        )
        .await;
    assert_eq!(body["data"]["node"]["retired"], true, "{body}");
    app.stop().await;
});

const CREATE_ORG: &str = "mutation($input: CreateOrganisationInput!) { createOrganisation(input: $input) { id name stage region sector { name } contactPhone financialDetails } }";
const ORGS: &str = "query($filter: OrganisationFilter) { organisations(filter: $filter) { totalCount edges { node { name } } } }";

on_both_databases!(
    staff_keep_the_register_and_members_their_profile,
    |app: TestApp| async move {
        let (_, staff) = app.user(Role::Staff, "staff@example.coop").await;
        let (_, body) = app
            .graphql(
                "mutation { createSector(name: \"housing\") { id } }",
                json!({}),
                Some(&staff),
            )
            .await;
        let housing = body["data"]["createSector"]["id"]
            .as_str()
            .unwrap()
            .to_string();

        let mut ids = Vec::new();
        for (name, stage, region, sector) in [
            (
                "Mersey Housing Co-op",
                "TRADING",
                "north west",
                Some(&housing),
            ),
            ("Tyne Web Workers", "START_UP", "North East", None),
            (
                "Calder Housing Mutual",
                "SPINNING_OUT",
                "North West",
                Some(&housing),
            ),
        ] {
            let input = json!({
                "name": name, "stage": stage, "region": region, "sectorId": sector,
                "contactPhone": "0161 496 0000", "financialDetails": "Turnover £120k",
                "contactEmail": "Hello@Example.coop",
            });
            let (_, body) = app
                .graphql(CREATE_ORG, json!({"input": input}), Some(&staff))
                .await;
            assert!(body["errors"].is_null(), "{body}");
            ids.push(
                body["data"]["createOrganisation"]["id"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            );
        }
        let (_, body) = app
            .graphql(
                ORGS,
                json!({"filter": {"region": "North West"}}),
                Some(&staff),
            )
            .await;
        assert_eq!(
            names(&body, "organisations"),
            ["Mersey Housing Co-op", "Calder Housing Mutual"]
        );
        let (_, body) = app
            .graphql(
                ORGS,
                json!({"filter": {"search": "HOUSING", "stage": "SPINNING_OUT"}}),
                Some(&staff),
            )
            .await;
        assert_eq!(names(&body, "organisations"), ["Calder Housing Mutual"]);
        let (_, body) = app
            .graphql(ORGS, json!({"filter": {"sectorId": housing}}), Some(&staff))
            .await;
        assert_eq!(body["data"]["organisations"]["totalCount"], 2);

        let bad = json!({"name": "Nowhere Co-op", "stage": "TRADING", "region": "Atlantis"});
        let (_, body) = app
            .graphql(CREATE_ORG, json!({"input": bad}), Some(&staff))
            .await;
        assert_eq!(first_error_code(&body), Some("BAD_USER_INPUT"));
        assert_eq!(body["errors"][0]["extensions"]["field"], "region");

        // Staff invite a member, who gets a welcome link by email.
        let (_, body) = app
        .graphql(
            "mutation($org: ID!) { inviteMember(organisationId: $org, email: \"ann@mersey.coop\", name: \"Ann\") { name role organisationId } }",
            json!({"org": ids[0]}),
            Some(&staff),
        )
        .await;
        assert_eq!(body["data"]["inviteMember"]["role"], "MEMBER", "{body}");
        let mail = app
            .smtp
            .wait_for("ann@mersey.coop", 1, Duration::from_secs(20))
            .await;
        assert_eq!(mail[0].subject(), "Welcome to Hive");
        let link = mail[0].link_containing("/sign-in?token=").unwrap();
        let token = link.split("token=").nth(1).unwrap();
        let (_, body) = app
            .graphql(
                "mutation($t: String!) { signIn(token: $t) { token } }",
                json!({"t": token}),
                None,
            )
            .await;
        let ann = body["data"]["signIn"]["token"]
            .as_str()
            .unwrap()
            .to_string();

        // Ann sees and edits her own co-op, confidential fields included…
        let own = "query($id: ID!) { organisation(id: $id) { name contactPhone contactEmail financialDetails members { name } } }";
        let (_, body) = app.graphql(own, json!({"id": ids[0]}), Some(&ann)).await;
        assert_eq!(
            body["data"]["organisation"]["contactPhone"], "0161 496 0000",
            "{body}"
        );
        assert_eq!(
            body["data"]["organisation"]["contactEmail"],
            "hello@example.coop"
        );
        assert_eq!(
            body["data"]["organisation"]["financialDetails"],
            "Turnover £120k"
        );
        let (_, body) = app
        .graphql(
            "mutation($id: ID!) { updateOrganisation(id: $id, input: {membersCount: 42, legalForm: null}) { membersCount legalForm } }",
            json!({"id": ids[0]}),
            Some(&ann),
        )
        .await;
        assert_eq!(
            body["data"]["updateOrganisation"]["membersCount"], 42,
            "{body}"
        );

        // …but not another co-op, nor the register.
        let (_, body) = app.graphql(own, json!({"id": ids[1]}), Some(&ann)).await;
        assert_eq!(first_error_code(&body), Some("FORBIDDEN"), "{body}");
        let (_, body) = app
        .graphql("mutation($id: ID!) { updateOrganisation(id: $id, input: {membersCount: 1}) { id } }", json!({"id": ids[1]}), Some(&ann))
        .await;
        assert_eq!(first_error_code(&body), Some("FORBIDDEN"), "{body}");
        let (_, body) = app.graphql(ORGS, json!({}), Some(&ann)).await;
        assert_eq!(first_error_code(&body), Some("FORBIDDEN"));

        // A provider with no engagement with the co-op cannot see it.
        let (_, mentor) = app.user(Role::Mentor, "mentor@example.coop").await;
        let (_, body) = app.graphql(own, json!({"id": ids[0]}), Some(&mentor)).await;
        assert_eq!(first_error_code(&body), Some("FORBIDDEN"), "{body}");

        // Staff read the trail through GraphQL, filtered; members may not.
        let (_, body) = app
        .graphql(
            "{ auditLog(filter: {action: \"updateOrganisation\"}) { totalCount edges { node { action subjectType detail actor { name role } } } } }",
            json!({}),
            Some(&staff),
        )
        .await;
        assert_eq!(body["data"]["auditLog"]["totalCount"], 1, "{body}");
        let entry = &body["data"]["auditLog"]["edges"][0]["node"];
        assert_eq!(entry["actor"]["role"], "MEMBER");
        assert_eq!(entry["subjectType"], "Organisation");
        assert!(entry["detail"].as_str().unwrap().contains("membersCount"));
        let (_, body) = app
            .graphql("{ auditLog { totalCount } }", json!({}), Some(&ann))
            .await;
        assert_eq!(first_error_code(&body), Some("FORBIDDEN"));

        // Every change left an audit entry, without confidential values.
        let entries = entity::audit_log::Entity::find()
            .all(&app.db)
            .await
            .unwrap();
        assert!(entries.iter().any(|e| e.action == "updateOrganisation"));
        assert!(
            entries
                .iter()
                .all(|e| !e.detail.clone().unwrap_or_default().contains("0161"))
        );
        app.stop().await;
    }
);
