//! A needs census for tests: sectors, co-ops spread over sectors, regions
//! and stages, and a survey with one question of each kind whose choices map
//! to topics — all made through GraphQL, as staff would.

use serde_json::{Value, json};

use super::{
    TestApp,
    programme::{Programme, ok},
};

/// The survey every census test uses: one question of each kind.
pub fn survey_input(title: &str, topics: &[String]) -> Value {
    json!({
        "title": title,
        "description": "A few minutes on what support your co-op needs this year.",
        "questions": [
            {"kind": "SINGLE_CHOICE", "prompt": "What do you most need help with?", "required": true,
             "choices": [
                {"label": "Governance", "topicIds": [topics[0]]},
                {"label": "Money", "topicIds": [topics[1]]},
                {"label": "Nothing just now"}]},
            {"kind": "MULTI_CHOICE", "prompt": "Which training would you join?",
             "choices": [
                {"label": "Bookkeeping", "topicIds": [topics[1]]},
                {"label": "Share offers", "topicIds": [topics[2]]},
                {"label": "Chairing meetings", "topicIds": [topics[0]]}]},
            {"kind": "SCALE", "prompt": "How confident are you about your finances?", "required": true,
             "scaleMin": 1, "scaleMax": 5},
            {"kind": "NUMBER", "prompt": "How many members do you have?"},
            {"kind": "TEXT", "prompt": "Anything else we should know?"}
        ]
    })
}

/// Staff, topics, two sectors and a survey (DRAFT).
pub struct Census {
    pub programme: Programme,
    /// Housing, food.
    pub sectors: Vec<String>,
    pub survey: String,
}

/// One co-op of the census: its id and where invitations go.
pub struct Coop {
    pub id: String,
    pub email: String,
}

impl Census {
    pub async fn new(app: &TestApp) -> Self {
        let programme = Programme::new(app).await;
        let mut sectors = Vec::new();
        for name in ["housing", "food"] {
            let body = ok(app
                .graphql(
                    "mutation($n: String!) { createSector(name: $n) { id } }",
                    json!({"n": name}),
                    Some(&programme.staff),
                )
                .await);
            sectors.push(
                body["data"]["createSector"]["id"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            );
        }
        let body = ok(app
            .graphql(
                "mutation($i: SurveyInput!) { createSurvey(input: $i) { id status } }",
                json!({"i": survey_input("Needs census 2026", &programme.topics)}),
                Some(&programme.staff),
            )
            .await);
        assert_eq!(body["data"]["createSurvey"]["status"], "DRAFT");
        let survey = body["data"]["createSurvey"]["id"]
            .as_str()
            .unwrap()
            .to_string();
        Self {
            programme,
            sectors,
            survey,
        }
    }

    /// A co-op with a contact address and no member accounts (so its
    /// invitation goes to that address).
    pub async fn coop(
        &self,
        app: &TestApp,
        name: &str,
        sector: Option<usize>,
        region: &str,
        stage: &str,
    ) -> Coop {
        let email = format!(
            "census@{}.coop",
            name.to_lowercase()
                .replace(|c: char| !c.is_ascii_alphanumeric(), "")
        );
        let input = json!({"name": name, "stage": stage, "region": region, "contactEmail": email,
            "sectorId": sector.map(|s| self.sectors[s].clone())});
        let body = ok(app
            .graphql(
                "mutation($i: CreateOrganisationInput!) { createOrganisation(input: $i) { id } }",
                json!({"i": input}),
                Some(&self.programme.staff),
            )
            .await);
        Coop {
            id: body["data"]["createOrganisation"]["id"]
                .as_str()
                .unwrap()
                .to_string(),
            email,
        }
    }

    /// Launches `survey` to `audience`, closing in 30 days, reminding after 7.
    pub async fn launch(&self, app: &TestApp, survey: &str, audience: Value) -> Value {
        let closes = (chrono::Utc::now() + chrono::Duration::days(30)).to_rfc3339();
        let body = ok(app
            .graphql(
                "mutation($s: ID!, $a: SurveyAudienceInput!, $c: DateTime!) {
                   launchSurvey(surveyId: $s, audience: $a, closesAt: $c, reminderAfterDays: 7) {
                     status launchedAt closesAt reminderAfterDays } }",
                json!({"s": survey, "a": audience, "c": closes}),
                Some(&self.programme.staff),
            )
            .await);
        body["data"]["launchSurvey"].clone()
    }

    /// The survey's questions: (id, kind, choice ids).
    pub async fn questions(
        &self,
        app: &TestApp,
        survey: &str,
    ) -> Vec<(String, String, Vec<String>)> {
        let body = ok(app
            .graphql(
                "query($s: ID!) { survey(id: $s) { questions { id kind choices { id } } } }",
                json!({"s": survey}),
                Some(&self.programme.staff),
            )
            .await);
        body["data"]["survey"]["questions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|q| {
                (
                    q["id"].as_str().unwrap().to_string(),
                    q["kind"].as_str().unwrap().to_string(),
                    q["choices"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|c| c["id"].as_str().unwrap().to_string())
                        .collect(),
                )
            })
            .collect()
    }
}

/// The secret token at the end of a survey link.
pub fn token_of(link: &str) -> String {
    link.rsplit('/').next().unwrap().to_string()
}
