//! Registering mentors and advisers, their own profile edits, and the lists
//! staff match from.

use std::time::Duration;

use entity::users::Role;
use serde_json::{Value, json};

use crate::on_both_databases;
use crate::support::{TestApp, first_error_code};

const REGISTER_MENTOR: &str = "mutation($input: RegisterMentorInput!) { registerMentor(input: $input) { id name kind capacity placesFree topics { name } regions formats homeOrganisationName } }";
const REGISTER_ADVISER: &str = "mutation($input: RegisterAdviserInput!) { registerAdviser(input: $input) { id name kind firmName } }";
const MENTORS: &str = "query($filter: ProviderFilter) { mentors(filter: $filter) { totalCount edges { node { name } } } }";

/// Creates the named topics and returns their ids in order.
pub async fn topics(app: &TestApp, staff: &str, names: &[&str]) -> Vec<String> {
    let mut ids = Vec::new();
    for name in names {
        let (_, body) = app
            .graphql(
                "mutation($n: String!) { createTopic(name: $n) { id } }",
                json!({"n": name}),
                Some(staff),
            )
            .await;
        ids.push(
            body["data"]["createTopic"]["id"]
                .as_str()
                .unwrap_or_else(|| panic!("{body}"))
                .to_string(),
        );
    }
    ids
}

fn names(body: &Value) -> Vec<String> {
    body["data"]["mentors"]["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("{body}"))
        .iter()
        .map(|e| e["node"]["name"].as_str().unwrap().to_string())
        .collect()
}

on_both_databases!(
    staff_register_providers_who_keep_their_profiles,
    |app: TestApp| async move {
        let (_, staff) = app.user(Role::Staff, "staff@example.coop").await;
        let t = topics(&app, &staff, &["governance", "finance", "community shares"]).await;
        let home = app.organisation("Calder Wholefoods").await;
        let home_id = hive_api::graphql::relay::global_id(
            hive_api::graphql::relay::NodeType::Organisation,
            home,
        );

        let offer = |topics: Vec<&String>, regions: Vec<&str>, capacity: i32| json!({"bio": "Been there.", "topicIds": topics, "sectorIds": [], "regions": regions, "formats": ["VIDEO", "PHONE"], "capacity": capacity});
        let input = json!({"email": "rhys@calder.coop", "name": "Rhys", "homeOrganisationId": home_id.as_str(), "offer": offer(vec![&t[0], &t[1]], vec!["north west"], 2)});
        let (_, body) = app
            .graphql(REGISTER_MENTOR, json!({"input": input}), Some(&staff))
            .await;
        let rhys = &body["data"]["registerMentor"];
        assert_eq!(rhys["kind"], "MENTOR", "{body}");
        assert_eq!(rhys["placesFree"], 2);
        assert_eq!(rhys["regions"], json!(["North West"]));
        assert_eq!(rhys["homeOrganisationName"], "Calder Wholefoods");
        let rhys_id = rhys["id"].as_str().unwrap().to_string();
        let welcome = app
            .smtp
            .wait_for("rhys@calder.coop", 1, Duration::from_secs(20))
            .await;
        assert_eq!(welcome[0].subject(), "Welcome to Hive");
        assert!(welcome[0].text().contains("as a peer mentor"));

        let input = json!({"email": "gwen@mersey.coop", "name": "Gwen", "offer": offer(vec![&t[0]], vec!["Wales"], 1)});
        app.graphql(REGISTER_MENTOR, json!({"input": input}), Some(&staff))
            .await;
        let input = json!({"email": "dev@law.example", "name": "Dev", "firmName": "Co-op Law", "offer": offer(vec![&t[2]], vec!["London"], 3)});
        let (_, body) = app
            .graphql(REGISTER_ADVISER, json!({"input": input}), Some(&staff))
            .await;
        assert_eq!(
            body["data"]["registerAdviser"]["firmName"], "Co-op Law",
            "{body}"
        );

        // Filters: all of these topics; a region; a format.
        let (_, body) = app
            .graphql(
                MENTORS,
                json!({"filter": {"topicIds": [t[0], t[1]]}}),
                Some(&staff),
            )
            .await;
        assert_eq!(names(&body), ["Rhys"]);
        let (_, body) = app
            .graphql(
                MENTORS,
                json!({"filter": {"topicIds": [t[0]]}}),
                Some(&staff),
            )
            .await;
        assert_eq!(names(&body), ["Rhys", "Gwen"]);
        let (_, body) = app
            .graphql(
                MENTORS,
                json!({"filter": {"region": "Wales"}}),
                Some(&staff),
            )
            .await;
        assert_eq!(names(&body), ["Gwen"]);
        let (_, body) = app
            .graphql(
                MENTORS,
                json!({"filter": {"format": "IN_PERSON"}}),
                Some(&staff),
            )
            .await;
        assert_eq!(names(&body), Vec::<String>::new());
        let (_, body) = app
            .graphql(
                MENTORS,
                json!({"filter": {"hasSpareCapacity": true}}),
                Some(&staff),
            )
            .await;
        assert_eq!(body["data"]["mentors"]["totalCount"], 2);

        // Bad offers are refused with the field named, and nothing is created.
        for (input, field) in [
            (
                json!({"email": "x@y.coop", "name": "X", "offer": offer(vec![&t[0]], vec!["Wales"], 0)}),
                "capacity",
            ),
            (
                json!({"email": "x@y.coop", "name": "X", "offer": offer(vec![], vec!["Wales"], 1)}),
                "topicIds",
            ),
            (
                json!({"email": "x@y.coop", "name": "X", "offer": offer(vec![&t[0]], vec!["Mars"], 1)}),
                "regions",
            ),
            (
                json!({"email": "rhys@calder.coop", "name": "X", "offer": offer(vec![&t[0]], vec!["Wales"], 1)}),
                "",
            ),
        ] {
            let (_, body) = app
                .graphql(REGISTER_MENTOR, json!({"input": input}), Some(&staff))
                .await;
            if field.is_empty() {
                assert_eq!(first_error_code(&body), Some("CONFLICT"), "{body}");
            } else {
                assert_eq!(first_error_code(&body), Some("BAD_USER_INPUT"), "{body}");
                assert_eq!(body["errors"][0]["extensions"]["field"], field, "{body}");
            }
        }
        assert!(app.smtp.received_by("x@y.coop").is_empty());
        let (_, body) = app.graphql(MENTORS, json!({}), Some(&staff)).await;
        assert_eq!(
            body["data"]["mentors"]["totalCount"], 2,
            "nothing half-created"
        );

        // Rhys edits his own profile; Gwen may not.
        let token = |mail: &crate::support::smtp::ReceivedMail| {
            mail.link_containing("token=")
                .unwrap()
                .split("token=")
                .nth(1)
                .unwrap()
                .to_string()
        };
        let (_, body) = app
            .graphql(
                "mutation($t: String!) { signIn(token: $t) { token } }",
                json!({"t": token(&welcome[0])}),
                None,
            )
            .await;
        let rhys_token = body["data"]["signIn"]["token"]
            .as_str()
            .unwrap()
            .to_string();
        let update = "mutation($id: ID!, $offer: ProviderOfferInput!) { updateProviderProfile(id: $id, offer: $offer) { capacity topics { name } } }";
        let (_, body) = app
            .graphql(
                update,
                json!({"id": rhys_id, "offer": offer(vec![&t[2]], vec!["North West"], 3)}),
                Some(&rhys_token),
            )
            .await;
        assert_eq!(
            body["data"]["updateProviderProfile"]["capacity"], 3,
            "{body}"
        );
        assert_eq!(
            body["data"]["updateProviderProfile"]["topics"],
            json!([{"name": "community shares"}])
        );
        let (_, member) = app.user(Role::Member, "someone@example.coop").await;
        let (_, body) = app
            .graphql(
                update,
                json!({"id": rhys_id, "offer": offer(vec![&t[2]], vec!["North West"], 3)}),
                Some(&member),
            )
            .await;
        assert_eq!(first_error_code(&body), Some("FORBIDDEN"), "{body}");

        // Deactivated providers leave the list (unless asked for) and come back.
        let (_, body) = app
            .graphql(
                "mutation($id: ID!) { deactivateProvider(id: $id) { active } }",
                json!({"id": rhys_id}),
                Some(&staff),
            )
            .await;
        assert_eq!(body["data"]["deactivateProvider"]["active"], false);
        let (_, body) = app.graphql(MENTORS, json!({}), Some(&staff)).await;
        assert_eq!(names(&body), ["Gwen"]);
        let (_, body) = app
            .graphql(
                MENTORS,
                json!({"filter": {"includeInactive": true}}),
                Some(&staff),
            )
            .await;
        assert_eq!(body["data"]["mentors"]["totalCount"], 2);
        app.graphql(
            "mutation($id: ID!) { reactivateProvider(id: $id) { active } }",
            json!({"id": rhys_id}),
            Some(&staff),
        )
        .await;
        let (_, body) = app.graphql(MENTORS, json!({}), Some(&staff)).await;
        assert_eq!(body["data"]["mentors"]["totalCount"], 2);
        app.stop().await;
    }
);

// The card of a directory page (name, topics, sectors, regions) is read
// as JSON the database aggregates (issue 19): text with quotes,
// backslashes, apostrophes and characters outside ASCII comes back as it
// was written, lists come in their order (topics and sectors by id,
// regions by name), a provider with no sector has an empty list, and a term's
// times are the vocabulary's own to the microsecond, whether the page is
// read with its card (a directory page), beside other relations, or a
// provider alone.
on_both_databases!(
    a_card_reads_back_what_was_written,
    |app: TestApp| async move {
        let (_, staff) = app.user(Role::Staff, "staff@example.coop").await;
        let t = topics(
            &app,
            &staff,
            &[r#"Co-op "law" \ basics"#, "Zoë's 🐝 finance", "plain"],
        )
        .await;
        let (_, body) = app
            .graphql(
                "mutation($n: String!) { createSector(name: $n) { id } }",
                json!({"n": "Food & drink <retail>"}),
                Some(&staff),
            )
            .await;
        let sector = body["data"]["createSector"]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("{body}"))
            .to_string();
        let ann = r#"Ann "the 'hammer'" O\Brien ☕"#;
        let offer = json!({"bio": "", "topicIds": [t[2], t[0], t[1]], "sectorIds": [sector], "regions": ["South West", "London", "North East"], "formats": ["VIDEO"], "capacity": 2});
        let input = json!({"email": "ann@example.coop", "name": ann, "offer": offer});
        let (_, body) = app
            .graphql(REGISTER_MENTOR, json!({"input": input}), Some(&staff))
            .await;
        let ann_id = body["data"]["registerMentor"]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("{body}"))
            .to_string();
        // A mentor names one topic at least; Bo names no sector.
        let offer = json!({"bio": "", "topicIds": [t[1]], "sectorIds": [], "regions": ["North West"], "formats": ["VIDEO"], "capacity": 2});
        let input = json!({"email": "bo@example.coop", "name": "Bo", "offer": offer});
        let (_, body) = app
            .graphql(REGISTER_MENTOR, json!({"input": input}), Some(&staff))
            .await;
        assert!(body["data"]["registerMentor"]["id"].is_string(), "{body}");
        // A retired topic stays on the mentor's card.
        let (_, body) = app
            .graphql(
                "mutation($id: ID!) { updateTopic(id: $id, retired: true) { retired } }",
                json!({"id": t[2]}),
                Some(&staff),
            )
            .await;
        assert_eq!(body["data"]["updateTopic"]["retired"], true, "{body}");

        let (_, body) = app
            .graphql(
                "{ topics(includeRetired: true) { nodes { id name createdAt retired } }
               sectors { nodes { id name createdAt retired } } }",
                json!({}),
                Some(&staff),
            )
            .await;
        let vocabulary = |list: &str| -> Vec<Value> {
            body["data"][list]["nodes"]
                .as_array()
                .unwrap_or_else(|| panic!("{body}"))
                .clone()
        };
        // Ann's topics in id order: the order they were made in.
        let all_topics = vocabulary("topics");
        let ann_topics: Vec<Value> = t
            .iter()
            .map(|id| {
                let found = all_topics.iter().find(|topic| topic["id"] == json!(id));
                found.unwrap_or_else(|| panic!("{body}")).clone()
            })
            .collect();
        let ann_sectors: Vec<Value> = vocabulary("sectors")
            .into_iter()
            .filter(|s| s["id"] == json!(sector))
            .collect();
        let names_of = |terms: &[Value]| -> Vec<Value> {
            terms
                .iter()
                .map(|term| json!({"name": term["name"]}))
                .collect()
        };
        let regions = json!(["London", "North East", "South West"]);

        let page = |selection: &str| {
            format!("{{ mentors(first: 10) {{ edges {{ node {{ {selection} }} }} }} }}")
        };
        let nodes = |body: &Value| -> Vec<Value> {
            body["data"]["mentors"]["edges"]
                .as_array()
                .unwrap_or_else(|| panic!("{body}"))
                .iter()
                .map(|edge| edge["node"].clone())
                .collect()
        };
        // A directory page: the card alone, read with the page.
        let (_, body) = app
            .graphql(
                &page("name topics { name } sectors { name } regions"),
                json!({}),
                Some(&staff),
            )
            .await;
        let found = nodes(&body);
        assert_eq!(
            found,
            vec![
                json!({"name": ann, "topics": names_of(&ann_topics), "sectors": names_of(&ann_sectors), "regions": regions}),
                json!({"name": "Bo", "topics": names_of(&ann_topics[1..2]), "sectors": [], "regions": ["North West"]}),
            ],
            "{body}"
        );
        // With the terms' times, beside another relation (formats).
        let (_, body) = app
        .graphql(
            &page("name topics { id name createdAt retired } sectors { id name createdAt retired } regions formats"),
            json!({}),
            Some(&staff),
        )
        .await;
        let found = nodes(&body);
        assert_eq!(found.len(), 2, "{body}");
        assert_eq!(found[0]["name"], ann, "{body}");
        assert_eq!(found[0]["topics"], json!(ann_topics), "{body}");
        assert_eq!(found[0]["topics"][2]["retired"], true, "{body}");
        assert_eq!(found[0]["sectors"], json!(ann_sectors), "{body}");
        assert_eq!(found[0]["regions"], regions, "{body}");
        assert_eq!(found[1]["topics"], json!(ann_topics[1..2]), "{body}");
        assert_eq!(found[1]["sectors"], json!([]), "{body}");
        // A provider alone (through the DataLoader): the same card.
        let (_, body) = app
        .graphql(
            "query($id: ID!) { provider(id: $id) { name topics { id name createdAt retired } sectors { id name createdAt retired } regions } }",
            json!({"id": ann_id}),
            Some(&staff),
        )
        .await;
        assert_eq!(
            body["data"]["provider"],
            json!({"name": ann, "topics": ann_topics, "sectors": ann_sectors, "regions": regions}),
            "{body}"
        );
        app.stop().await;
    }
);
