//! Building blocks of a programme for tests that need one: topics, co-ops,
//! providers and requests made through GraphQL, as staff would make them.

use entity::users::{self, Role};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

use super::TestApp;

/// Staff's view of a small programme.
pub struct Programme {
    pub staff: String,
    pub topics: Vec<String>,
}

impl Programme {
    /// A staff member and three topics.
    pub async fn new(app: &TestApp) -> Self {
        let (_, staff) = app.user(Role::Staff, "staff@hive.test").await;
        let mut topics = Vec::new();
        for name in ["governance", "finance", "community shares"] {
            let body = ok(app
                .graphql(
                    "mutation($n: String!) { createTopic(name: $n) { id } }",
                    json!({"n": name}),
                    Some(&staff),
                )
                .await);
            topics.push(
                body["data"]["createTopic"]["id"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            );
        }
        Self { staff, topics }
    }

    /// A co-op and a signed-in member of it: (organisation id, member token).
    pub async fn coop(&self, app: &TestApp, name: &str) -> (String, String) {
        let input = json!({"name": name, "stage": "TRADING", "region": "North West", "contactEmail": format!("hello@{}.coop", slug(name)), "contactPhone": "0161 496 0123", "financialDetails": "Reserves £40k"});
        let body = ok(app
            .graphql(
                "mutation($i: CreateOrganisationInput!) { createOrganisation(input: $i) { id } }",
                json!({"i": input}),
                Some(&self.staff),
            )
            .await);
        let id = body["data"]["createOrganisation"]["id"]
            .as_str()
            .unwrap()
            .to_string();
        let number = decode(&id);
        let (_, member) = hive_api::admin::create_user(
            &app.db,
            &format!("member@{}.coop", slug(name)),
            &format!("Member of {name}"),
            Role::Member,
            Some(number),
            chrono::Duration::days(1),
        )
        .await
        .unwrap();
        (id, member.expose().to_string())
    }

    /// A provider: (provider id, session token, email).
    pub async fn provider(
        &self,
        app: &TestApp,
        kind: &str,
        name: &str,
        capacity: i32,
        home: Option<&str>,
    ) -> (String, String, String) {
        let email = format!("{}@providers.test", slug(name));
        let offer = json!({"bio": "", "topicIds": self.topics, "sectorIds": [], "regions": ["North West"], "formats": ["VIDEO"], "capacity": capacity});
        let (mutation, field, input) = if kind == "MENTOR" {
            (
                "mutation($i: RegisterMentorInput!) { registerMentor(input: $i) { id } }",
                "registerMentor",
                json!({"email": email, "name": name, "homeOrganisationId": home, "offer": offer}),
            )
        } else {
            (
                "mutation($i: RegisterAdviserInput!) { registerAdviser(input: $i) { id } }",
                "registerAdviser",
                json!({"email": email, "name": name, "offer": offer}),
            )
        };
        let body = ok(app
            .graphql(mutation, json!({"i": input}), Some(&self.staff))
            .await);
        let id = body["data"][field]["id"].as_str().unwrap().to_string();
        let user = users::Entity::find()
            .filter(users::Column::Email.eq(&email))
            .one(&app.db)
            .await
            .unwrap()
            .unwrap();
        let (token, _) = hive_api::auth::create_session(&app.db, &user, chrono::Duration::days(1))
            .await
            .unwrap();
        (id, token.expose().to_string(), email)
    }

    /// A request from a co-op, submitted by staff: its id.
    pub async fn request(&self, app: &TestApp, organisation: &str, kind: &str) -> String {
        let input = json!({"organisationId": organisation, "kind": kind, "topicIds": [self.topics[0], self.topics[1]], "goals": "Grow our membership.", "preferredFormats": ["VIDEO"]});
        let body = ok(app
            .graphql("mutation($i: SubmitSupportRequestInput!) { submitSupportRequest(input: $i) { id } }", json!({"i": input}), Some(&self.staff))
            .await);
        body["data"]["submitSupportRequest"]["id"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// Proposes; returns the whole body (errors included).
    pub async fn propose(&self, app: &TestApp, request: &str, provider: &str, days: i32) -> Value {
        app.graphql(
            "mutation($r: ID!, $p: ID!, $d: Int!) { proposeMatch(requestId: $r, providerId: $p, daysAllocated: $d, feePence: 5000) { id status rematchOf { id } } }",
            json!({"r": request, "p": provider, "d": days}),
            Some(&self.staff),
        )
        .await
        .1
    }
}

impl Programme {
    /// Proposes and returns the new engagement's id (the proposal must succeed).
    pub async fn proposed(
        &self,
        app: &TestApp,
        request: &str,
        provider: &str,
        days: i32,
    ) -> String {
        let body = self.propose(app, request, provider, days).await;
        body["data"]["proposeMatch"]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("{body}"))
            .to_string()
    }

    /// The provider (by their session) accepts the proposal.
    pub async fn accept(&self, app: &TestApp, engagement: &str, provider_token: &str) {
        ok(app
            .graphql(
                "mutation($e: ID!) { respondToMatch(engagementId: $e, accept: true) { status } }",
                json!({"e": engagement}),
                Some(provider_token),
            )
            .await);
    }
}

/// Moves a meeting's start to `starts_at`, behind the API's back: the API
/// books only future meetings, and a test of what happens after one is held
/// needs it in the past.
pub async fn move_meeting(app: &TestApp, meeting: &str, starts_at: chrono::DateTime<chrono::Utc>) {
    entity::meetings::Entity::update_many()
        .col_expr(
            entity::meetings::Column::StartsAt,
            sea_orm::sea_query::Expr::value(starts_at),
        )
        .filter(entity::meetings::Column::Id.eq(decode(meeting)))
        .exec(&app.db)
        .await
        .unwrap();
}

/// The body, after checking it has no errors.
pub fn ok((status, body): (u16, Value)) -> Value {
    assert!(
        body["errors"].is_null() && status == 200,
        "{status}: {body}"
    );
    body
}

fn slug(name: &str) -> String {
    name.to_lowercase()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect()
}

/// The row number inside a global id.
pub fn decode(id: &str) -> i64 {
    hive_api::graphql::relay::decode_global_id(&async_graphql::ID(id.to_string()))
        .unwrap()
        .1
}

/// Moves a proposal's start into the past, as if `days` had gone by (for the
/// chaser at 3 days and the lapse at 7).
pub async fn age_proposal(app: &TestApp, engagement: &str, days: i64) {
    use sea_orm::sea_query::Expr;
    entity::engagements::Entity::update_many()
        .col_expr(
            entity::engagements::Column::ProposedAt,
            Expr::value(chrono::Utc::now() - chrono::Duration::days(days)),
        )
        .filter(entity::engagements::Column::Id.eq(decode(engagement)))
        .exec(&app.db)
        .await
        .unwrap();
}
