//! Relay everywhere (issue 15, item 3): the schema keeps Relay's rules
//! (every object with an id is a `Node`, every list of objects a
//! connection, references are objects), `node(id:)` fetches every Node type
//! under its own read rule for every kind of viewer, on both databases, and
//! the new connections and references answer as a client would use them.

use std::collections::{HashMap, HashSet};

use async_graphql::parser::types::{
    BaseType, FieldDefinition, ObjectType, Type, TypeKind, TypeSystemDefinition,
};
use chrono::{Duration, Utc};
use sea_orm::{ActiveModelTrait, Set};
use serde_json::{Value, json};

use crate::on_both_databases;
use crate::support::{
    TestApp,
    census::survey_input,
    first_error_code,
    programme::{Programme, decode, move_meeting, ok},
};

/// Lists of objects that stay plain lists, each bounded by a rule of the
/// programme (or read whole as a report), with the rule. Everything else
/// that lists objects is a connection.
const BOUNDED_LISTS: &[(&str, &str, &str)] = &[
    (
        "Provider",
        "topics",
        "the topics a provider offers: chosen in a form, at most 200 (MAX_INPUT_LIST_ITEMS)",
    ),
    (
        "Provider",
        "sectors",
        "the sectors a provider knows: at most 200 (MAX_INPUT_LIST_ITEMS)",
    ),
    (
        "SupportRequest",
        "topics",
        "the topics a co-op asks about: at most 200 (MAX_INPUT_LIST_ITEMS)",
    ),
    (
        "Survey",
        "questions",
        "a survey has at most 60 questions (MAX_QUESTIONS)",
    ),
    (
        "SurveyInvitation",
        "questions",
        "a survey has at most 60 questions (MAX_QUESTIONS)",
    ),
    (
        "SurveyInvitation",
        "answers",
        "one answer per question, at most 60",
    ),
    (
        "SurveyResponse",
        "answers",
        "one answer per question, at most 60",
    ),
    (
        "SurveyResponse",
        "needs",
        "the topics of the choices picked: at most 60 questions × 30 choices",
    ),
    (
        "SurveyQuestion",
        "choices",
        "a question has at most 30 choices (MAX_CHOICES)",
    ),
    (
        "SurveyChoice",
        "topics",
        "the topics a choice maps to: at most 200 (MAX_INPUT_LIST_ITEMS)",
    ),
    (
        "SurveyAudience",
        "sectors",
        "the sectors a launch names: at most 200 (MAX_INPUT_LIST_ITEMS)",
    ),
    (
        "SurveyResults",
        "questions",
        "one result per question, at most 60",
    ),
    (
        "SurveyQuestionResult",
        "choices",
        "one result per choice, at most 30",
    ),
    ("SurveyResults", "byStage", "one row per stage: five"),
    (
        "SurveyResults",
        "byRegion",
        "one row per UK region: twelve, and \"No region\"",
    ),
    (
        "SurveyResults",
        "bySector",
        "a report: one row per sector of the staff-kept vocabulary, read whole",
    ),
    (
        "ProgrammeStats",
        "demandByTopic",
        "a report: one row per topic, read whole",
    ),
    (
        "ProgrammeStats",
        "engagements",
        "a report: one row per status and kind (6 × 2)",
    ),
    (
        "ProgrammeStats",
        "reviewScores",
        "a report: one row per provider reviewed, read whole",
    ),
    (
        "ProgrammeStats",
        "reviewScoresByKind",
        "a report: one row per kind of provider",
    ),
    (
        "ProgrammeStats",
        "surveyNeedsByTopic",
        "a report: one row per topic, read whole",
    ),
];

/// Fields that hold an id but are not references an SPA follows, with why.
const ID_FIELDS_KEPT: &[(&str, &str, &str)] = &[
    (
        "SurveyAnswer",
        "questionId",
        "keys an answer to a question listed beside it in the same object (SurveyInvitation.questions); a co-op answering by link cannot read a question by node(id:)",
    ),
    (
        "SurveyAnswer",
        "choiceIds",
        "as questionId; the labels are in `choices`",
    ),
    (
        "SurveyQuestionWaveResult",
        "questionId",
        "the previous wave's question, for staff comparing waves; its figures are here",
    ),
];

/// Object types whose `id` is another object's id, so they are not Nodes
/// of their own.
const NOT_NODES: &[(&str, &str)] = &[
    (
        "SurveyQuestionResult",
        "`id` is the question's (SurveyQuestion) id",
    ),
    (
        "SurveyChoiceResult",
        "`id` is the choice's (SurveyChoice) id",
    ),
];

fn named(ty: &Type) -> &str {
    match &ty.base {
        BaseType::Named(name) => name.as_str(),
        BaseType::List(inner) => named(inner),
    }
}

fn is_list(ty: &Type) -> bool {
    matches!(ty.base, BaseType::List(_))
}

fn deprecated(field: &FieldDefinition) -> bool {
    field
        .directives
        .iter()
        .any(|directive| directive.node.name.node == "deprecated")
}

/// The objects of the schema the server runs, by name.
fn objects() -> HashMap<String, ObjectType> {
    let document =
        async_graphql::parser::parse_schema(hive_api::graphql::sdl()).expect("the SDL parses");
    document
        .definitions
        .into_iter()
        .filter_map(|definition| match definition {
            TypeSystemDefinition::Type(ty) => match ty.node.kind {
                TypeKind::Object(object) => Some((ty.node.name.node.to_string(), object)),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

fn field<'a>(object: &'a ObjectType, name: &str) -> Option<&'a FieldDefinition> {
    object
        .fields
        .iter()
        .map(|field| &field.node)
        .find(|field| field.name.node == name)
}

/// What is wrong with a connection type, if anything: Relay's Cursor
/// Connections spec (edges { cursor node }, pageInfo) and our totalCount.
fn connection_faults(objects: &HashMap<String, ObjectType>, name: &str) -> Vec<String> {
    let mut faults = Vec::new();
    let Some(connection) = objects.get(name) else {
        return vec![format!("{name} is not an object type")];
    };
    let edge_type = field(connection, "edges").map(|edges| named(&edges.ty.node).to_string());
    match edge_type.as_deref().and_then(|edge| objects.get(edge)) {
        Some(edge) => {
            if field(edge, "cursor").map(|f| f.ty.node.to_string()) != Some("String!".into()) {
                faults.push(format!("{name}'s edges have no `cursor: String!`"));
            }
            if field(edge, "node").is_none() {
                faults.push(format!("{name}'s edges have no `node`"));
            }
        }
        None => faults.push(format!("{name} has no `edges` of an edge type")),
    }
    if field(connection, "pageInfo").map(|f| f.ty.node.to_string()) != Some("PageInfo!".into()) {
        faults.push(format!("{name} has no `pageInfo: PageInfo!`"));
    }
    if field(connection, "totalCount").map(|f| f.ty.node.to_string()) != Some("Int!".into()) {
        faults.push(format!("{name} has no `totalCount: Int!`"));
    }
    faults
}

/// The Relay rules, checked on the real schema: every object type with
/// `id: ID!` implements Node; every list of objects not written down as
/// bounded is a connection with Relay's arguments and shape; no field names
/// an object by a bare id but those written down. Deprecated fields are
/// left out: they are kept for clients written before, and say what to use.
#[test]
fn the_schema_keeps_the_relay_rules() {
    let objects = objects();
    let bounded: HashSet<(&str, &str)> = BOUNDED_LISTS.iter().map(|(t, f, _)| (*t, *f)).collect();
    let kept: HashSet<(&str, &str)> = ID_FIELDS_KEPT.iter().map(|(t, f, _)| (*t, *f)).collect();
    let not_nodes: HashSet<&str> = NOT_NODES.iter().map(|(t, _)| *t).collect();
    let mut faults = Vec::new();
    let mut connections = HashSet::new();

    for (type_name, object) in &objects {
        let wrapper = type_name.ends_with("Connection") || type_name.ends_with("Edge");
        let has_id = field(object, "id").is_some_and(|id| id.ty.node.to_string() == "ID!");
        let is_node = object.implements.iter().any(|name| name.node == "Node");
        if has_id && !is_node && !not_nodes.contains(type_name.as_str()) {
            faults.push(format!(
                "{type_name} has `id: ID!` but does not implement Node"
            ));
        }
        for field in object.fields.iter().map(|field| &field.node) {
            let name = field.name.node.as_str();
            let returns = named(&field.ty.node);
            if deprecated(field) || wrapper || type_name == "Mutation" {
                continue;
            }
            if returns.ends_with("Connection") {
                connections.insert(returns.to_string());
                let arguments: HashSet<&str> = field
                    .arguments
                    .iter()
                    .map(|argument| argument.node.name.node.as_str())
                    .collect();
                for wanted in ["first", "after", "last", "before"] {
                    if !arguments.contains(wanted) {
                        faults.push(format!("{type_name}.{name} does not take `{wanted}`"));
                    }
                }
            }
            if is_list(&field.ty.node)
                && objects.contains_key(returns)
                && !bounded.contains(&(type_name.as_str(), name))
            {
                faults.push(format!(
                    "{type_name}.{name} is a list of {returns}, not a connection"
                ));
            }
            if (name.ends_with("Id") || name.ends_with("Ids"))
                && returns == "ID"
                && !kept.contains(&(type_name.as_str(), name))
            {
                faults.push(format!(
                    "{type_name}.{name} is a bare id: give the object instead"
                ));
            }
        }
    }
    for connection in &connections {
        faults.extend(connection_faults(&objects, connection));
    }
    let page_info = &objects["PageInfo"];
    for wanted in ["hasNextPage", "hasPreviousPage", "startCursor", "endCursor"] {
        if field(page_info, wanted).is_none() {
            faults.push(format!("PageInfo has no `{wanted}`"));
        }
    }
    // The written-down exceptions must still exist, or they excuse nothing.
    for (type_name, name, _) in BOUNDED_LISTS.iter().chain(ID_FIELDS_KEPT) {
        if objects
            .get(*type_name)
            .and_then(|o| field(o, name))
            .is_none()
        {
            faults.push(format!("{type_name}.{name} is written down but gone"));
        }
    }
    assert!(
        connections.len() >= 15,
        "the connections were found: {connections:?}"
    );
    faults.sort();
    assert!(
        faults.is_empty(),
        "Relay rules broken:\n{}",
        faults.join("\n")
    );
}

/// The viewers, in this order.
const VIEWERS: [&str; 6] = [
    "staff",
    "the engagement's provider",
    "a member of the co-op",
    "a member of another co-op",
    "a provider not involved",
    "nobody signed in",
];

/// One object of every Node type, made as the programme makes them, and the
/// tokens of the viewers (None for nobody).
struct Fixture {
    /// (type, global id, who may read it: one flag per signed-in viewer).
    objects: Vec<(&'static str, String, [bool; 5])>,
    tokens: Vec<Option<String>>,
    engagement: String,
    rematch: String,
}

fn id_at(body: &Value, path: &[&str]) -> String {
    let mut value = &body["data"];
    for step in path {
        value = match step.parse::<usize>() {
            Ok(index) => &value[index],
            Err(_) => &value[*step],
        };
    }
    value
        .as_str()
        .unwrap_or_else(|| panic!("no id at {path:?} in {body}"))
        .to_string()
}

async fn staff_query(app: &TestApp, staff: &str, query: &str, variables: Value) -> Value {
    ok(app.graphql(query, variables, Some(staff)).await)
}

/// A co-op with an engagement that completed after a held final meeting
/// (so both reviews were asked for), a concern its member raised, an
/// engagement the first provider declined before it (`rematch` links to
/// it), a survey with a response, and the emails and audit entries all that
/// made.
async fn the_programme(app: &TestApp) -> Fixture {
    let p = Programme::new(app).await;
    let staff = p.staff.clone();
    let (coop, member) = p.coop(app, "Wye Housing").await;
    let (other_coop, outsider) = p.coop(app, "Ouse Bakers").await;
    let (provider, provider_token, _) = p.provider(app, "MENTOR", "Engaged Mentor", 3, None).await;
    let (declining, declining_token, _) =
        p.provider(app, "MENTOR", "Declining Mentor", 3, None).await;
    let (_, stranger, _) = p
        .provider(app, "MENTOR", "Stranger Mentor", 3, Some(&other_coop))
        .await;
    let sector = id_at(
        &staff_query(
            app,
            &staff,
            "mutation { createSector(name: \"housing\") { id } }",
            json!({}),
        )
        .await,
        &["createSector", "id"],
    );

    let request = p.request(app, &coop, "MENTORING").await;
    let declined = p.proposed(app, &request, &declining, 3).await;
    ok(app
        .graphql(
            "mutation($e: ID!) { respondToMatch(engagementId: $e, accept: false, reason: \"Too busy\") { status } }",
            json!({"e": declined}),
            Some(&declining_token),
        )
        .await);
    let engagement = p.proposed(app, &request, &provider, 3).await;
    p.accept(app, &engagement, &provider_token).await;
    let concern = id_at(
        &ok(app
            .graphql(
                "mutation($e: ID!) { raiseConcern(engagementId: $e, category: OTHER, details: \"Late twice\") { id } }",
                json!({"e": engagement}),
                Some(&member),
            )
            .await),
        &["raiseConcern", "id"],
    );
    let slot = json!({"engagementId": engagement, "startsAt": (Utc::now() + Duration::hours(5)).to_rfc3339(),
        "durationMinutes": 60, "format": "PHONE", "isFinal": true});
    let meeting = id_at(
        &ok(app
            .graphql(
                "mutation($i: ScheduleMeetingInput!) { scheduleMeeting(input: $i) { id } }",
                json!({"i": slot}),
                Some(&member),
            )
            .await),
        &["scheduleMeeting", "id"],
    );
    move_meeting(app, &meeting, Utc::now() - Duration::hours(2)).await;
    ok(app
        .graphql(
            "mutation($m: ID!) { recordMeeting(input: {meetingId: $m, held: true, daysCounted: 1}) { status } }",
            json!({"m": meeting}),
            Some(&provider_token),
        )
        .await);
    let review = id_at(
        &staff_query(
            app,
            &staff,
            "query($e: ID!) { engagement(id: $e) { reviewsConnection(first: 1) { edges { node { id } } } } }",
            json!({"e": engagement}),
        )
        .await,
        &["engagement", "reviewsConnection", "edges", "0", "node", "id"],
    );

    let survey_body = staff_query(
        app,
        &staff,
        "mutation($i: SurveyInput!) { createSurvey(input: $i) { id questions { id choices { id } } } }",
        json!({"i": survey_input("Census", &p.topics)}),
    )
    .await;
    let survey = id_at(&survey_body, &["createSurvey", "id"]);
    let question = id_at(&survey_body, &["createSurvey", "questions", "0", "id"]);
    let choice = id_at(
        &survey_body,
        &["createSurvey", "questions", "0", "choices", "0", "id"],
    );
    // A response as the survey link stores one (the link itself is tested
    // in surveys.rs).
    let invitation = entity::survey_invitations::ActiveModel {
        survey_id: Set(decode(&survey)),
        organisation_id: Set(decode(&coop)),
        email: Set("hello@wyehousing.coop".into()),
        token_hash: Set("relay-test".into()),
        created_at: Set(Utc::now()),
        responded_at: Set(Some(Utc::now())),
        ..Default::default()
    }
    .insert(&app.db)
    .await
    .unwrap();
    let response = entity::survey_responses::ActiveModel {
        invitation_id: Set(invitation.id),
        submitted_at: Set(Utc::now()),
        updated_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(&app.db)
    .await
    .unwrap();
    let response = hive_worker::ids::global_id("SurveyResponse", response.id);

    let firsts = staff_query(
        app,
        &staff,
        "{ emailDeliveries(first: 1) { nodes { id } } auditLog(first: 1) { nodes { id } } }",
        json!({}),
    )
    .await;
    let delivery = id_at(&firsts, &["emailDeliveries", "nodes", "0", "id"]);
    let entry = id_at(&firsts, &["auditLog", "nodes", "0", "id"]);
    let member_id = id_at(
        &ok(app.graphql("{ me { id } }", json!({}), Some(&member)).await),
        &["me", "id"],
    );

    // [staff, the engagement's provider, the co-op's member, another co-op's
    //  member, a provider not involved]
    const ALL: [bool; 5] = [true; 5];
    const PARTIES: [bool; 5] = [true, true, true, false, false];
    const STAFF: [bool; 5] = [true, false, false, false, false];
    let objects = vec![
        ("User", member_id, [true, false, true, false, false]),
        ("Organisation", coop, PARTIES),
        ("Topic", p.topics[0].clone(), ALL),
        ("Sector", sector, ALL),
        ("Provider", provider, ALL),
        ("SupportRequest", request, PARTIES),
        ("Engagement", engagement.clone(), PARTIES),
        ("Meeting", meeting, PARTIES),
        ("Concern", concern, [true, false, true, false, false]),
        ("Review", review, PARTIES),
        ("EmailDelivery", delivery, STAFF),
        ("Survey", survey, STAFF),
        ("SurveyQuestion", question, STAFF),
        ("SurveyChoice", choice, STAFF),
        ("SurveyResponse", response, STAFF),
        ("AuditEntry", entry, STAFF),
    ];
    let tokens = vec![
        Some(staff),
        Some(provider_token),
        Some(member),
        Some(outsider),
        Some(stranger),
        None,
    ];
    Fixture {
        objects,
        tokens,
        rematch: engagement,
        engagement: declined,
    }
}

const NODE: &str = "query($id: ID!) { node(id: $id) { __typename id } }";

/// The one error of a refused `node(id:)`: its code, with `node` null at
/// its path and nothing of the object in the answer.
fn refusal(body: &Value, id: &str) -> Option<String> {
    let errors = body["errors"].as_array()?;
    let at_node = errors.len() == 1 && errors[0]["path"] == json!(["node"]);
    let hidden =
        body["data"]["node"].is_null() && !body.to_string().contains(&format!("\"id\":\"{id}\""));
    (at_node && hidden).then(|| first_error_code(body).unwrap_or("none").to_string())
}

/// `node(id:)` for every Node type as every viewer: the object for those
/// its own query allows (a round trip: the same id, the right type), and
/// for the others `node` null with FORBIDDEN at its path — the answer
/// `node(id:)` has always given a provider or a co-op the viewer may not
/// see — or UNAUTHENTICATED for nobody; an id of nothing is NOT_FOUND.
async fn node_round_trips(app: TestApp) {
    let fixture = the_programme(&app).await;
    let mut wrong = Vec::new();
    for (type_name, id, allowed) in &fixture.objects {
        for (column, token) in fixture.tokens.iter().enumerate() {
            let (_, body) = app.graphql(NODE, json!({"id": id}), token.as_deref()).await;
            let expected = match (token, allowed.get(column)) {
                (None, _) => "UNAUTHENTICATED",
                (Some(_), Some(true)) => "the object",
                _ => "FORBIDDEN",
            };
            let right = if expected == "the object" {
                body["errors"].is_null()
                    && body["data"]["node"] == json!({"__typename": type_name, "id": id})
            } else {
                refusal(&body, id).as_deref() == Some(expected)
            };
            if !right {
                wrong.push(format!(
                    "{} reading a {type_name}: expected {expected}, got {body}",
                    VIEWERS[column]
                ));
            }
        }
        // An id of nothing: NOT_FOUND for staff, and for the parties of the
        // types they read (the staff-only types refuse others first, as
        // their own queries do).
        let nothing = hive_worker::ids::global_id(type_name, 999_999);
        for column in [0, 2].into_iter().filter(|&c| allowed[c]) {
            let token = fixture.tokens[column].as_deref();
            let (_, body) = app.graphql(NODE, json!({"id": nothing}), token).await;
            if refusal(&body, &nothing).as_deref() != Some("NOT_FOUND") {
                wrong.push(format!(
                    "{} reading a {type_name} that does not exist: expected NOT_FOUND, got {body}",
                    VIEWERS[column]
                ));
            }
        }
    }
    app.stop().await;
    assert!(
        wrong.is_empty(),
        "{} node(id:) reads disagree with the access policy:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

on_both_databases!(node_reads_every_type_for_every_viewer, node_round_trips);

/// The references an SPA follows, as objects, each under its target's own
/// rule: `rematchOf` (null with FORBIDDEN for the provider, who may not
/// see the engagement another provider declined), `endedBy`, an audit
/// entry's `subject`, a meeting's engagement, and the pages of the new
/// connections, cursors and all.
async fn references_and_connections(app: TestApp) {
    let fixture = the_programme(&app).await;
    let staff = fixture.tokens[0].as_deref();
    let provider = fixture.tokens[1].as_deref();
    let member = fixture.tokens[2].as_deref();
    let query = "query($e: ID!) { engagement(id: $e) {
        rematchOf { id status provider { name } }
        meetingsConnection(first: 1) { totalCount edges { cursor node { engagement { id } } } }
        reviewsConnection { totalCount pageInfo { hasNextPage } } } }";

    let (_, body) = app
        .graphql(query, json!({"e": fixture.rematch}), member)
        .await;
    let engagement = &body["data"]["engagement"];
    assert!(body["errors"].is_null(), "{body}");
    assert_eq!(engagement["rematchOf"]["id"], fixture.engagement, "{body}");
    assert_eq!(engagement["rematchOf"]["status"], "DECLINED");
    assert_eq!(
        engagement["rematchOf"]["provider"]["name"],
        "Declining Mentor"
    );
    assert_eq!(engagement["meetingsConnection"]["totalCount"], 1);
    assert_eq!(
        engagement["meetingsConnection"]["edges"][0]["node"]["engagement"]["id"],
        fixture.rematch
    );
    assert_eq!(engagement["reviewsConnection"]["totalCount"], 2);

    // The provider reads their engagement, but not the one it replaced.
    let (_, body) = app
        .graphql(query, json!({"e": fixture.rematch}), provider)
        .await;
    assert!(body["data"]["engagement"]["rematchOf"].is_null(), "{body}");
    assert_eq!(
        body["errors"][0]["path"],
        json!(["engagement", "rematchOf"])
    );
    assert_eq!(first_error_code(&body), Some("FORBIDDEN"));
    assert_eq!(
        body["data"]["engagement"]["reviewsConnection"]["totalCount"],
        2
    );

    // Pages of a loaded list: the first review, then the one after it, and
    // the last from the end.
    let page = "query($e: ID!, $after: String) { engagement(id: $e) {
        reviewsConnection(first: 1, after: $after) { edges { cursor node { id party } }
          pageInfo { hasNextPage hasPreviousPage endCursor } } } }";
    let first = ok(app
        .graphql(page, json!({"e": fixture.rematch}), staff)
        .await);
    let first = &first["data"]["engagement"]["reviewsConnection"];
    assert_eq!(first["pageInfo"]["hasNextPage"], true);
    assert_eq!(first["pageInfo"]["hasPreviousPage"], false);
    let second = ok(app
        .graphql(
            page,
            json!({"e": fixture.rematch, "after": first["pageInfo"]["endCursor"]}),
            staff,
        )
        .await);
    let second = &second["data"]["engagement"]["reviewsConnection"];
    assert_eq!(second["pageInfo"]["hasNextPage"], false);
    assert_eq!(second["pageInfo"]["hasPreviousPage"], true);
    assert_ne!(
        first["edges"][0]["node"]["id"], second["edges"][0]["node"]["id"],
        "the second page goes on from the first"
    );
    // A cursor of another list is refused, saying which argument.
    let (_, body) = app
        .graphql(
            "query($e: ID!, $after: String) { engagement(id: $e) { meetingsConnection(after: $after) { totalCount } } }",
            json!({"e": fixture.rematch, "after": first["pageInfo"]["endCursor"]}),
            staff,
        )
        .await;
    assert_eq!(first_error_code(&body), Some("BAD_USER_INPUT"), "{body}");

    // Root connections and the audit entry's subject.
    let body = ok(app
        .graphql(
            "{ concernsConnection(first: 5) { totalCount edges { node { engagement { id } raisedBy { name } } } }
               auditLog(last: 50, filter: {action: \"proposeMatch\"}) { nodes { subject { __typename id } } } }",
            json!({}),
            staff,
        )
        .await);
    let concerns = &body["data"]["concernsConnection"];
    assert_eq!(concerns["totalCount"], 1);
    assert_eq!(
        concerns["edges"][0]["node"]["engagement"]["id"],
        fixture.rematch
    );
    assert_eq!(
        concerns["edges"][0]["node"]["raisedBy"]["name"],
        "Member of Wye Housing"
    );
    let subjects: Vec<&Value> = body["data"]["auditLog"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| &entry["subject"])
        .collect();
    assert_eq!(
        subjects,
        [
            &json!({"__typename": "Engagement", "id": fixture.engagement}),
            &json!({"__typename": "Engagement", "id": fixture.rematch}),
        ]
    );
    // The member who raised the concern sees it; the provider did not raise it.
    let count = "{ concernsConnection { totalCount } }";
    let body = ok(app.graphql(count, json!({}), member).await);
    assert_eq!(body["data"]["concernsConnection"]["totalCount"], 1);
    let body = ok(app.graphql(count, json!({}), provider).await);
    assert_eq!(body["data"]["concernsConnection"]["totalCount"], 0);

    // Who ended an engagement early: named to staff; a co-op's member is
    // not named to a provider, so the provider gets null and FORBIDDEN.
    let p = Programme {
        staff: staff.unwrap().to_string(),
        topics: Vec::new(),
    };
    let coop = ok(app
        .graphql("query($e: ID!) { engagement(id: $e) { supportRequest { organisation { id } } provider { id } } }",
            json!({"e": fixture.rematch}), staff)
        .await);
    let coop_id = coop["data"]["engagement"]["supportRequest"]["organisation"]["id"]
        .as_str()
        .unwrap();
    let provider_id = coop["data"]["engagement"]["provider"]["id"]
        .as_str()
        .unwrap();
    let topics = ok(app
        .graphql("{ topics(first: 2) { nodes { id } } }", json!({}), staff)
        .await);
    let topic_ids: Vec<&Value> = topics["data"]["topics"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| &t["id"])
        .collect();
    let request = ok(app
        .graphql("mutation($i: SubmitSupportRequestInput!) { submitSupportRequest(input: $i) { id } }",
            json!({"i": {"organisationId": coop_id, "kind": "MENTORING", "topicIds": topic_ids, "goals": "Again."}}), staff)
        .await);
    let request = request["data"]["submitSupportRequest"]["id"]
        .as_str()
        .unwrap();
    let ended = p.proposed(&app, request, provider_id, 3).await;
    p.accept(&app, &ended, provider.unwrap()).await;
    ok(app
        .graphql("mutation($e: ID!) { endEngagement(engagementId: $e, reason: \"We are merging\") { status } }",
            json!({"e": ended}), member)
        .await);
    let who =
        "query($e: ID!) { engagement(id: $e) { status endedBy { name } proposedBy { name } } }";
    let body = ok(app.graphql(who, json!({"e": ended}), staff).await);
    assert_eq!(
        body["data"]["engagement"]["endedBy"]["name"],
        "Member of Wye Housing"
    );
    assert_eq!(
        body["data"]["engagement"]["proposedBy"]["name"],
        "Test Person"
    );
    let (_, body) = app.graphql(who, json!({"e": ended}), provider).await;
    assert_eq!(
        body["data"]["engagement"]["status"], "ENDED_EARLY",
        "{body}"
    );
    assert!(body["data"]["engagement"]["endedBy"].is_null(), "{body}");
    assert_eq!(body["errors"][0]["path"], json!(["engagement", "endedBy"]));
    assert_eq!(first_error_code(&body), Some("FORBIDDEN"));
    app.stop().await;
}

on_both_databases!(
    references_are_objects_and_lists_page,
    references_and_connections
);

/// A small Relay app (`tests/relay/`: a `@refetchable` fragment on every
/// Node type, `@connection` on every paged list, references followed as
/// objects) compiles against the checked-in `api/schema.graphql` with
/// relay-compiler, pinned in `tests/relay/package-lock.json` and installed by
/// `npm ci`; its `check-coverage.js` fails when a Node type or connection has
/// no document. Outside CI, a machine without Node.js skips it loudly; in CI
/// it must run.
#[test]
fn a_relay_app_compiles_against_the_schema() {
    let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("relay");
    let npm = |args: &[&str]| {
        std::process::Command::new("npm")
            .args(args)
            .current_dir(&folder)
            .output()
    };
    let install = match npm(&["ci", "--no-audit", "--no-fund"]) {
        Ok(output) => output,
        Err(error) => {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI needs Node.js and npm for the Relay compile: {error}"
            );
            eprintln!(
                "\n!!! SKIPPED a_relay_app_compiles_against_the_schema: npm could not run \
                 ({error}); install Node.js 18+ to run it\n"
            );
            return;
        }
    };
    assert!(
        install.status.success(),
        "npm ci in tests/relay failed:\n{}",
        String::from_utf8_lossy(&install.stderr)
    );
    let compile = npm(&["test", "--silent"]).expect("npm ran a moment ago");
    let stdout = String::from_utf8_lossy(&compile.stdout);
    assert!(
        compile.status.success() && stdout.starts_with("coverage ok:"),
        "relay-compiler refused the documents or the schema:\n{stdout}\n{}",
        String::from_utf8_lossy(&compile.stderr)
    );
}
