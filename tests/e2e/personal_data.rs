//! People and their data (issue 17, items 2 and 3), on both databases with
//! the real worker and SMTP server: the subject access export of a member
//! who took part in a whole programme year, opened and read as a person
//! would; erasure of that member, of a mentor and of the co-op, each with
//! the programme's statistics unchanged and none of the erased values left
//! anywhere — every table of the database (listed from the schema), the API,
//! the survey CSV, the emails and the audit trail; and bad input, each with
//! a clear code and nothing changed.

use std::{collections::BTreeMap, io::Read, time::Duration as StdDuration};

use chrono::{Duration, Utc};
use entity::emails::{self, EmailCategory, EmailStatus};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, Statement, TransactionTrait,
};
use serde_json::{Value, json};

use crate::on_both_databases;
use crate::support::{
    TestApp, census, first_error_code,
    programme::{Programme, decode, move_meeting, ok},
};

const WAIT: StdDuration = StdDuration::from_secs(20);

// The member, her co-op, and what she wrote.
const ANNIKA: &str = "Annika Lindqvist";
const ANNIKA_EMAIL: &str = "annika@ouseburn.coop";
const COOP: &str = "Ouseburn Makers";
const COOP_EMAIL: &str = "hello@ouseburn.coop";
const COOP_PHONE: &str = "0191 498 0777";
const COOP_MONEY: &str = "Reserves of 12,345 pounds at the credit union";
const GOALS: &str = "Launch a community share offer for the Ouseburn bakery";
const GROUND_RULES: &str = "Fortnightly video calls, and we both keep notes";
const LOCATION: &str = "Ouseburn Workshop, upstairs room four";
const ANNIKA_NOTES: &str = "We went through the share offer document line by line";
const CONCERN: &str = "Dismissive about our plans at the second meeting";
const END_REASON: &str = "Not the right fit for our bakery plans, sadly";
const ANNIKA_REVIEW: &str = "Rita knew share offers inside out, thank you";
const SURVEY_TEXT: &str = "We want to raise fifty thousand in community shares";
const ERASURE_REASON: &str = "Annika Lindqvist asked by email on 1 December";

// The mentors, and what they wrote.
const TOM: &str = "Tom Walsh";
const TOM_NOTES: &str = "Tom's notes: the board needs a treasurer first";
const TOM_LEARNING: &str = "Tom's learning: treasurer training is missing sector-wide";
const SAM: &str = "Sam Okafor";
const SAM_DECLINE: &str = "Fully booked until the spring, sorry about that";
const RITA: &str = "Rita Bellweather";
const RITA_EMAIL: &str = "rita@mentors.test";
const RITA_BIO: &str = "Thirty years in housing and bakery co-operatives";
const RITA_NOTES: &str = "Annika Lindqvist kept the minutes; next step the prospectus";
const RITA_LEARNING: &str = "A prospectus template is wanted right across the sector";
const RITA_CONCERN: &str = "Raised by the mentor about a shouting match with the co-op";
const RITA_REVIEW: &str = "A keen and well organised team at the bakery";

// Another co-op, which nothing here may touch or show.
const CALDER: &str = "Calder Bakers";
const CALDER_GOALS: &str = "Open a second shop in Hebden Bridge next year";
const CALDER_TEXT: &str = "Calder Bakers need help with their bookkeeping system";

/// The programme year, as ids and tokens.
struct Year {
    p: Programme,
    coop: String,
    annika: String,
    annika_token: String,
    rita: String,
    rita_user: String,
    rita_token: String,
    calder: String,
    survey: String,
    annika_survey_token: String,
    feed_url: String,
    completed: String,
}

async fn gql(app: &TestApp, token: &str, query: &str, variables: Value) -> Value {
    ok(app.graphql(query, variables, Some(token)).await)
}

async fn session_of(app: &TestApp, email: &str) -> String {
    let user = entity::users::Entity::find()
        .filter(entity::users::Column::Email.eq(email))
        .one(&app.db)
        .await
        .unwrap()
        .expect("the user");
    let (token, _) = hive_api::auth::create_session(&app.db, &user, Duration::days(1))
        .await
        .unwrap();
    token.expose().to_string()
}

async fn mentor(
    app: &TestApp,
    p: &Programme,
    name: &str,
    email: &str,
    bio: &str,
) -> (String, String) {
    let input = json!({"email": email, "name": name, "offer": {"bio": bio, "topicIds": p.topics, "sectorIds": [], "regions": ["North East"], "formats": ["VIDEO", "IN_PERSON"], "capacity": 3}});
    let body = gql(
        app,
        &p.staff,
        "mutation($i: RegisterMentorInput!) { registerMentor(input: $i) { id } }",
        json!({"i": input}),
    )
    .await;
    let id = body["data"]["registerMentor"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    (id, session_of(app, email).await)
}

/// Books a meeting (two hours ahead, too soon for a reminder), moves it
/// `days_ago` into the past and records it held by `recorder`.
#[allow(clippy::too_many_arguments)]
async fn held_meeting(
    app: &TestApp,
    engagement: &str,
    booker: &str,
    recorder: &str,
    location: &str,
    days_ago: i64,
    is_final: bool,
    notes: &str,
    learning: Option<&str>,
) -> String {
    let body = gql(
        app,
        booker,
        "mutation($i: ScheduleMeetingInput!) { scheduleMeeting(input: $i) { id } }",
        json!({"i": {"engagementId": engagement, "startsAt": (Utc::now() + Duration::hours(2)).to_rfc3339(), "durationMinutes": 90, "format": "IN_PERSON", "location": location, "isFinal": is_final}}),
    )
    .await;
    let meeting = body["data"]["scheduleMeeting"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    move_meeting(app, &meeting, Utc::now() - Duration::days(days_ago)).await;
    gql(
        app,
        recorder,
        "mutation($i: RecordMeetingInput!) { recordMeeting(input: $i) { status } }",
        json!({"i": {"meetingId": meeting, "held": true, "daysCounted": 1.0, "notes": notes, "learning": learning}}),
    )
    .await;
    meeting
}

/// A co-op asks, is matched, meets, raises a concern, ends early, is
/// declined by one mentor and matched with another, meets twice more, both
/// sides review, and it answers the needs census; another co-op asks and
/// answers too.
async fn programme_year(app: &TestApp) -> Year {
    let p = Programme::new(app).await;
    let body = gql(
        app,
        &p.staff,
        "mutation($i: CreateOrganisationInput!) { createOrganisation(input: $i) { id } }",
        json!({"i": {"name": COOP, "stage": "START_UP", "region": "North East", "contactEmail": COOP_EMAIL, "contactPhone": COOP_PHONE, "financialDetails": COOP_MONEY}}),
    )
    .await;
    let coop = body["data"]["createOrganisation"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let body = gql(
        app,
        &p.staff,
        "mutation($o: ID!, $e: String!, $n: String!) { inviteMember(organisationId: $o, email: $e, name: $n) { id } }",
        json!({"o": coop, "e": ANNIKA_EMAIL, "n": ANNIKA}),
    )
    .await;
    let annika = body["data"]["inviteMember"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let annika_token = session_of(app, ANNIKA_EMAIL).await;
    let body = gql(
        app,
        &annika_token,
        "mutation { resetCalendarFeed }",
        json!({}),
    )
    .await;
    let feed_url = body["data"]["resetCalendarFeed"]
        .as_str()
        .unwrap()
        .to_string();
    let (tom, tom_token) =
        mentor(app, &p, TOM, "tom@mentors.test", "Worker co-ops since 1990").await;
    let (sam, sam_token) = mentor(app, &p, SAM, "sam@mentors.test", "Housing co-ops").await;
    let (rita, rita_token) = mentor(app, &p, RITA, RITA_EMAIL, RITA_BIO).await;
    let body = gql(app, &rita_token, "{ me { id } }", json!({})).await;
    let rita_user = body["data"]["me"]["id"].as_str().unwrap().to_string();

    // Annika asks; Tom is matched; the rules, a meeting, a concern, an end.
    let body = gql(
        app,
        &annika_token,
        "mutation($i: SubmitSupportRequestInput!) { submitSupportRequest(input: $i) { id } }",
        json!({"i": {"organisationId": coop, "kind": "MENTORING", "topicIds": [p.topics[0], p.topics[2]], "goals": GOALS, "preferredFormats": ["IN_PERSON"]}}),
    )
    .await;
    let request = body["data"]["submitSupportRequest"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let first = p.proposed(app, &request, &tom, 4).await;
    p.accept(app, &first, &tom_token).await;
    gql(
        app,
        &annika_token,
        "mutation($e: ID!, $t: String!) { agreeGroundRules(engagementId: $e, text: $t) { id } }",
        json!({"e": first, "t": GROUND_RULES}),
    )
    .await;
    held_meeting(
        app,
        &first,
        &annika_token,
        &annika_token,
        LOCATION,
        20,
        false,
        ANNIKA_NOTES,
        None,
    )
    .await;
    held_meeting(
        app,
        &first,
        &tom_token,
        &tom_token,
        "Video call",
        18,
        false,
        TOM_NOTES,
        Some(TOM_LEARNING),
    )
    .await;
    let body = gql(
        app,
        &annika_token,
        "mutation($e: ID!, $d: String!) { raiseConcern(engagementId: $e, category: BULLYING, details: $d) { id } }",
        json!({"e": first, "d": CONCERN}),
    )
    .await;
    let concern = body["data"]["raiseConcern"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    gql(
        app,
        &p.staff,
        "mutation($c: ID!) { resolveConcern(concernId: $c, outcome: \"Spoke to both parties.\") { status } }",
        json!({"c": concern}),
    )
    .await;
    gql(
        app,
        &annika_token,
        "mutation($e: ID!, $r: String!) { endEngagement(engagementId: $e, reason: $r) { status } }",
        json!({"e": first, "r": END_REASON}),
    )
    .await;

    // Sam declines; Rita is matched and sees it through.
    let declined = p.proposed(app, &request, &sam, 3).await;
    gql(
        app,
        &sam_token,
        "mutation($e: ID!, $r: String) { respondToMatch(engagementId: $e, accept: false, reason: $r) { status } }",
        json!({"e": declined, "r": SAM_DECLINE}),
    )
    .await;
    let completed = p.proposed(app, &request, &rita, 3).await;
    p.accept(app, &completed, &rita_token).await;
    held_meeting(
        app,
        &completed,
        &rita_token,
        &rita_token,
        "Video call",
        10,
        false,
        RITA_NOTES,
        Some(RITA_LEARNING),
    )
    .await;
    let body = gql(
        app,
        &rita_token,
        "mutation($e: ID!, $d: String!) { raiseConcern(engagementId: $e, category: HARASSMENT, details: $d) { id } }",
        json!({"e": completed, "d": RITA_CONCERN}),
    )
    .await;
    let rita_concern = body["data"]["raiseConcern"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    gql(
        app,
        &p.staff,
        "mutation($c: ID!) { resolveConcern(concernId: $c, outcome: \"Both apologised.\") { status } }",
        json!({"c": rita_concern}),
    )
    .await;
    held_meeting(
        app,
        &completed,
        &rita_token,
        &rita_token,
        "Video call",
        5,
        true,
        "Final session notes",
        None,
    )
    .await;
    for (token, party, comments) in [
        (&rita_token, "PROVIDER", RITA_REVIEW),
        (&annika_token, "CLIENT", ANNIKA_REVIEW),
    ] {
        gql(
            app,
            token,
            "mutation($e: ID!, $p: ReviewParty, $i: ReviewInput!) { submitReview(engagementId: $e, party: $p, input: $i) { id } }",
            json!({"e": completed, "p": party, "i": {"usefulness": 5, "relationship": 4, "wouldRecommend": 5, "comments": comments}}),
        )
        .await;
    }

    // Another co-op asks too.
    let (calder, calder_token) = p.coop(app, CALDER).await;
    gql(
        app,
        &calder_token,
        "mutation($i: SubmitSupportRequestInput!) { submitSupportRequest(input: $i) { id } }",
        json!({"i": {"organisationId": calder, "kind": "ADVICE", "topicIds": [p.topics[1]], "goals": CALDER_GOALS, "preferredFormats": []}}),
    )
    .await;

    // The needs census: both co-ops answer from their emailed links.
    let body = gql(
        app,
        &p.staff,
        "mutation($i: SurveyInput!) { createSurvey(input: $i) { id } }",
        json!({"i": census::survey_input("Needs census 2026", &p.topics)}),
    )
    .await;
    let survey = body["data"]["createSurvey"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    gql(
        app,
        &p.staff,
        "mutation($s: ID!, $c: DateTime!) { launchSurvey(surveyId: $s, closesAt: $c) { status } }",
        json!({"s": survey, "c": (Utc::now() + Duration::days(30)).to_rfc3339()}),
    )
    .await;
    let body = gql(
        app,
        &p.staff,
        "query($s: ID!) { survey(id: $s) { questions { id kind choices { id } } } }",
        json!({"s": survey}),
    )
    .await;
    let questions = body["data"]["survey"]["questions"]
        .as_array()
        .unwrap()
        .clone();
    let mut annika_survey_token = String::new();
    for (address, needs, text) in [
        (ANNIKA_EMAIL, COOP, SURVEY_TEXT),
        ("member@calderbakers.coop", CALDER, CALDER_TEXT),
    ] {
        let mail = app
            .smtp
            .wait_for_subject(address, &format!("tell us what {needs} needs"), WAIT)
            .await;
        let token = census::token_of(&mail.link_containing("/s/").unwrap());
        let answers = json!([
            {"questionId": questions[0]["id"], "choiceIds": [questions[0]["choices"][1]["id"]]},
            {"questionId": questions[2]["id"], "number": 2},
            {"questionId": questions[4]["id"], "text": text},
        ]);
        ok(app
            .graphql(
                "mutation($t: String!, $a: [SurveyAnswerInput!]!) { submitSurveyResponse(token: $t, answers: $a) { answers { text } } }",
                json!({"t": token, "a": answers}),
                None,
            )
            .await);
        if address == ANNIKA_EMAIL {
            annika_survey_token = token;
        }
    }
    Year {
        p,
        coop,
        annika,
        annika_token,
        rita,
        rita_user,
        rita_token,
        calder,
        survey,
        annika_survey_token,
        feed_url,
        completed,
    }
}

/// Every row of every table of the database, as text, by table: the tables
/// listed from the schema itself (Hive's, the job queue's, the migrations'),
/// every column cast to text (binary columns read as text too).
async fn whole_database(app: &TestApp) -> BTreeMap<String, Vec<String>> {
    let db = &app.db;
    let backend = db.get_database_backend();
    let raw = |sql: String| Statement::from_string(backend, sql);
    let mut tables: Vec<(String, Vec<String>)> = Vec::new();
    match backend {
        DbBackend::Sqlite => {
            for row in db
                .query_all_raw(raw(
                    "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name".into(),
                ))
                .await
                .unwrap()
            {
                let table: String = row.try_get_by_index(0).unwrap();
                let columns: Vec<String> = db
                    .query_all_raw(raw(format!("PRAGMA table_info(\"{table}\")")))
                    .await
                    .unwrap()
                    .iter()
                    .map(|c| c.try_get::<String>("", "name").unwrap())
                    .map(|c| format!("COALESCE(CAST(\"{c}\" AS TEXT), '')"))
                    .collect();
                tables.push((format!("\"{table}\""), columns));
            }
        }
        _ => {
            let mut columns: BTreeMap<String, Vec<String>> = BTreeMap::new();
            for row in db
                .query_all_raw(raw(
                    "SELECT table_schema, table_name, column_name, data_type
                     FROM information_schema.columns
                     WHERE table_schema NOT IN ('pg_catalog', 'information_schema')
                     AND (table_schema, table_name) IN (SELECT table_schema, table_name
                          FROM information_schema.tables WHERE table_type = 'BASE TABLE')
                     ORDER BY table_schema, table_name, ordinal_position"
                        .into(),
                ))
                .await
                .unwrap()
            {
                let schema: String = row.try_get_by_index(0).unwrap();
                let table: String = row.try_get_by_index(1).unwrap();
                let column: String = row.try_get_by_index(2).unwrap();
                let kind: String = row.try_get_by_index(3).unwrap();
                let cell = if kind == "bytea" {
                    format!("COALESCE(encode(\"{column}\", 'escape'), '')")
                } else {
                    format!("COALESCE(CAST(\"{column}\" AS TEXT), '')")
                };
                columns
                    .entry(format!("\"{schema}\".\"{table}\""))
                    .or_default()
                    .push(cell);
            }
            tables.extend(columns);
        }
    }
    assert!(
        tables.len() >= 30,
        "every table of the schema: {:?}",
        tables.iter().map(|(t, _)| t).collect::<Vec<_>>()
    );
    let mut all = BTreeMap::new();
    for (table, columns) in tables {
        let row = columns.join(" || '\u{1f}' || ");
        // SQLite keeps a blob's bytes as they are when cast to text (the
        // job queue's payloads need not be UTF-8): read them as bytes.
        let sql = match backend {
            DbBackend::Sqlite => format!("SELECT CAST({row} AS BLOB) FROM {table}"),
            _ => format!("SELECT {row} FROM {table}"),
        };
        let rows = db
            .query_all_raw(raw(sql))
            .await
            .unwrap_or_else(|e| panic!("{table}: {e}"))
            .iter()
            .map(|r| match backend {
                DbBackend::Sqlite => String::from_utf8_lossy(
                    &r.try_get_by_index::<Option<Vec<u8>>>(0)
                        .unwrap()
                        .unwrap_or_default(),
                )
                .into_owned(),
                _ => r.try_get_by_index::<String>(0).unwrap(),
            })
            .collect();
        all.insert(table, rows);
    }
    all
}

/// Where any of `needles` is still held: "table: needle" for each.
fn found_in(database: &BTreeMap<String, Vec<String>>, needles: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    for (table, rows) in database {
        for row in rows {
            for needle in needles {
                if row.contains(needle) {
                    found.push(format!("{table}: {needle:?} in {row:.300}"));
                }
            }
        }
    }
    found
}

/// The programme's figures, names of providers left out (an erased mentor's
/// reads `[erased]`), times rounded (the waiting time grows as the test runs).
async fn stats(app: &TestApp, staff: &str) -> Value {
    let body = gql(
        app,
        staff,
        "{ programmeStats { averageDaysToMatch days { planned delivered } demandByTopic { label count }
           engagements { label count } reviewScores { kind average reviews } reviewScoresByKind { kind average reviews }
           surveyNeedsByTopic { label count } waiting { requests longestDays averageDays } } }",
        json!({}),
    )
    .await;
    let mut stats = body["data"]["programmeStats"].clone();
    for field in ["longestDays", "averageDays"] {
        let days = stats["waiting"][field].as_f64().unwrap();
        stats["waiting"][field] = json!((days * 100.0).round() / 100.0);
    }
    stats
}

/// What staff and the given people see through the API of everything these
/// values could be in.
async fn api_views(app: &TestApp, y: &Year) -> String {
    let staff = gql(
        app,
        &y.p.staff,
        "query($a: ID!, $o: ID!, $c: ID!, $e: ID!) {
           a: node(id: $a) { ... on User { name email organisation { name } } }
           o: organisation(id: $o) { name contactEmail contactPhone financialDetails membersConnection { edges { node { name email } } } }
           c: organisation(id: $c) { name }
           e: engagement(id: $e) { groundRules endReason declineReason endedBy { name }
                supportRequest { goals engagementsConnection { edges { node { groundRules endReason declineReason provider { name bio } } } } }
                meetingsConnection { edges { node { location learning } } } reviewsConnection { edges { node { comments } } } }
           users(first: 100) { edges { node { name email } } }
           concernsConnection(first: 100) { edges { node { details outcome raisedBy { name } } } }
           emailDeliveries(first: 100) { edges { node { recipient lastError template } } }
           auditLog(last: 100) { edges { node { action detail actor { name } } } }
           supportRequests(first: 100) { edges { node { goals declineReason organisation { name } } } }
         }",
        json!({"a": y.annika, "o": y.coop, "c": y.calder, "e": y.completed}),
    )
    .await;
    // Notes are for the two parties: read as the mentor.
    let (_, rita) = app
        .graphql(
            "query($e: ID!) { engagement(id: $e) { meetingsConnection { edges { node { notes location } } }
                supportRequest { goals engagementsConnection { edges { node { meetingsConnection { edges { node { notes } } } } } } } } }",
            json!({"e": y.completed}),
            Some(&y.rita_token),
        )
        .await;
    format!("{staff}\n{rita}")
}

/// The survey's responses CSV, as staff download it.
async fn survey_csv(app: &TestApp, y: &Year) -> String {
    let response = app
        .http
        .get(format!(
            "{}/surveys/{}/responses.csv",
            app.base_url, y.survey
        ))
        .bearer_auth(&y.p.staff)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    response.text().await.unwrap()
}

/// GETs an export's address; status, headers and bytes.
async fn download(
    app: &TestApp,
    url: &str,
    token: Option<&str>,
) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
    let mut request = app.http.get(url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (status, headers, response.bytes().await.unwrap().to_vec())
}

/// An export as a person opening it reads it: every file's text.
struct Opened {
    files: BTreeMap<String, String>,
    json: Value,
}

impl Opened {
    fn open(bytes: &[u8]) -> Self {
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("a zip file");
        let mut files = BTreeMap::new();
        for index in 0..archive.len() {
            let mut file = archive.by_index(index).unwrap();
            let mut text = String::new();
            file.read_to_string(&mut text).expect("UTF-8 text");
            files.insert(file.name().expect("a UTF-8 name").to_string(), text);
        }
        let json = serde_json::from_str(&files["personal-data.json"]).expect("JSON");
        Self { files, json }
    }

    fn rows(&self, table: &str) -> &Vec<Value> {
        self.json["tables"][table]["rows"]
            .as_array()
            .unwrap_or_else(|| panic!("table {table} in {}", self.json["tables"]))
    }

    /// Everything in the file, for searching.
    fn all_text(&self) -> String {
        self.files.values().cloned().collect::<Vec<_>>().join("\n")
    }

    /// Each CSV read back with a CSV reader: its header is the JSON table's
    /// columns and it has as many records as the JSON rows.
    fn check_csvs(&self) {
        let tables = self.json["tables"].as_object().unwrap();
        for (name, table) in tables {
            let text = &self.files[&format!("{name}.csv")];
            let text = text.strip_prefix('\u{feff}').expect("a byte-order mark");
            let mut reader = csv::Reader::from_reader(text.as_bytes());
            let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
            let records: Vec<csv::StringRecord> =
                reader.records().map(|r| r.expect("a CSV record")).collect();
            let rows = table["rows"].as_array().unwrap();
            assert_eq!(records.len(), rows.len(), "{name}.csv");
            if let Some(first) = rows.first() {
                let mut keys: Vec<&String> = first.as_object().unwrap().keys().collect();
                let mut columns: Vec<&String> = header.iter().collect();
                keys.sort();
                columns.sort();
                assert_eq!(keys, columns, "{name}.csv");
            }
        }
    }
}

/// Asks for an export as staff and downloads it.
async fn export(app: &TestApp, staff: &str, field: &str, id: &str) -> Opened {
    let body = gql(
        app,
        staff,
        &format!("mutation($i: ID!) {{ exportPersonalData({field}: $i) {{ url filename maxRowsPerTable }} }}"),
        json!({"i": id}),
    )
    .await;
    let export = &body["data"]["exportPersonalData"];
    let url = export["url"].as_str().unwrap();
    assert!(url.starts_with(&app.base_url), "{url}");
    let (status, headers, bytes) = download(app, url, Some(staff)).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&bytes));
    assert_eq!(headers["content-type"], "application/zip");
    assert_eq!(headers["cache-control"], "no-store");
    let filename = export["filename"].as_str().unwrap();
    assert!(
        headers["content-disposition"]
            .to_str()
            .unwrap()
            .contains(filename),
        "{headers:?}"
    );
    Opened::open(&bytes)
}

/// The audit entries of `action`, as staff see them.
async fn audit_entries(app: &TestApp, staff: &str, action: &str) -> Vec<Value> {
    let body = gql(
        app,
        staff,
        "query($a: String!) { auditLog(filter: {action: $a}, last: 100) { edges { node { actor { id } subject { id } detail } } } }",
        json!({"a": action}),
    )
    .await;
    body["data"]["auditLog"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"].clone())
        .collect()
}

/// Waits until no email is PENDING, so what the worker does with the rows
/// does not race the checks.
async fn emails_settled(app: &TestApp) {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let pending = emails::Entity::find()
            .filter(emails::Column::Status.eq(EmailStatus::Pending))
            .all(&app.db)
            .await
            .unwrap();
        if pending.is_empty() {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "emails still pending: {pending:?}"
        );
        tokio::time::sleep(StdDuration::from_millis(100)).await;
    }
}

on_both_databases!(
    a_members_export_holds_her_year_and_nothing_of_others,
    |app: TestApp| async move {
        let y = programme_year(&app).await;
        emails_settled(&app).await;
        let opened = export(&app, &y.p.staff, "userId", &y.annika).await;

        // The files a person finds: a README, the JSON, a CSV per table.
        assert!(
            opened.files.contains_key("README.txt"),
            "{:?}",
            opened.files.keys()
        );
        let readme = &opened.files["README.txt"];
        assert!(
            readme.contains("Concerns (safeguarding reports) raised by others"),
            "{readme}"
        );
        assert!(readme.contains("at most 5000 rows"), "{readme}");
        opened.check_csvs();
        assert_eq!(opened.json["subject"]["id"], y.annika.as_str());
        assert_eq!(opened.json["maxRowsPerTable"], 5000);

        // Every kind of record of her year is there.
        let profile = &opened.rows("profile")[0];
        assert_eq!(profile["name"], ANNIKA);
        assert_eq!(profile["email"], ANNIKA_EMAIL);
        assert_eq!(opened.rows("memberships")[0]["name"], COOP);
        assert!(!opened.rows("sessions").is_empty());
        assert!(
            !opened.rows("sign_in_links").is_empty(),
            "the welcome email's link"
        );
        assert_eq!(opened.rows("calendar_feed").len(), 1);
        let requests = opened.rows("support_requests");
        assert_eq!(requests.len(), 1, "her co-op's request only");
        assert_eq!(requests[0]["goals"], GOALS);
        assert_eq!(requests[0]["submitted_by_you"], true);
        let engagements = opened.rows("engagements");
        let statuses: Vec<&str> = engagements
            .iter()
            .map(|e| e["status"].as_str().unwrap())
            .collect();
        assert_eq!(
            statuses,
            ["ENDED_EARLY", "DECLINED", "COMPLETED"],
            "{engagements:?}"
        );
        assert_eq!(engagements[0]["ground_rules"], GROUND_RULES);
        assert_eq!(engagements[0]["end_reason"], END_REASON);
        assert_eq!(engagements[0]["ended_by"], ANNIKA);
        assert_eq!(engagements[1]["decline_reason"], SAM_DECLINE);
        assert_eq!(engagements[2]["provider_name"], RITA);
        let meetings = opened.rows("meetings");
        assert_eq!(meetings.len(), 4, "{meetings:?}");
        let notes: Vec<&str> = meetings
            .iter()
            .filter_map(|m| m["notes"].as_str())
            .collect();
        for expected in [ANNIKA_NOTES, TOM_NOTES, RITA_NOTES] {
            assert!(
                notes.contains(&expected),
                "{expected} in {notes:?}: both parties read the notes"
            );
        }
        assert!(meetings.iter().any(|m| m["location"] == LOCATION));
        assert!(
            meetings[0].get("learning").is_none(),
            "a co-op reads no learning column"
        );
        let reviews = opened.rows("reviews");
        let comments: Vec<&str> = reviews
            .iter()
            .filter_map(|r| r["comments"].as_str())
            .collect();
        assert!(
            comments.contains(&ANNIKA_REVIEW) && comments.contains(&RITA_REVIEW),
            "{reviews:?}"
        );
        assert!(
            reviews
                .iter()
                .any(|r| r["written_by_you"] == true && r["comments"] == ANNIKA_REVIEW)
        );
        let concerns = opened.rows("concerns");
        assert_eq!(concerns.len(), 1, "the one she raised: {concerns:?}");
        assert_eq!(concerns[0]["details"], CONCERN);
        let emails = opened.rows("emails");
        let templates: Vec<&str> = emails
            .iter()
            .map(|e| e["template"].as_str().unwrap())
            .collect();
        for expected in ["welcome", "match_accepted", "survey_invitation"] {
            assert!(templates.contains(&expected), "{expected} in {templates:?}");
        }
        assert!(emails.iter().all(|e| e["to"] == ANNIKA_EMAIL));
        assert!(
            emails.iter().any(|e| e["subject"] == "Welcome to Hive"),
            "headers as sent: {emails:?}"
        );
        assert!(
            emails
                .iter()
                .all(|e| e["message_id"].as_str().unwrap().starts_with("<email-"))
        );
        assert_eq!(opened.rows("survey_invitations").len(), 1);
        let answers = opened.rows("survey_answers");
        assert!(
            answers.iter().any(|a| a["answer"] == SURVEY_TEXT),
            "{answers:?}"
        );
        assert!(
            answers.iter().any(|a| a["answer"] == "Money"),
            "choices as labels"
        );
        let audit = opened.rows("audit_entries");
        let actions: Vec<&str> = audit
            .iter()
            .map(|a| a["action"].as_str().unwrap())
            .collect();
        for expected in [
            "inviteMember",
            "submitSupportRequest",
            "agreeGroundRules",
            "raiseConcern",
            "endEngagement",
            "submitReview",
            "resetCalendarFeed",
        ] {
            assert!(actions.contains(&expected), "{expected} in {actions:?}");
        }

        // Nothing of anyone else's private fields, and no secret.
        let everything = opened.all_text();
        for private in [
            TOM_LEARNING,
            RITA_LEARNING,
            RITA_CONCERN,
            CALDER_GOALS,
            CALDER_TEXT,
            CALDER,
        ] {
            assert!(!everything.contains(private), "{private} is not hers");
        }
        for secret in [
            "token=",
            "/r/",
            "/s/",
            "/m/",
            "/u/",
            "/calendar/",
            "tokenHash",
            "token_hash",
        ] {
            assert!(!everything.contains(secret), "{secret} in the export");
        }
        let hashes = whole_database(&app).await;
        for table in [
            "\"sessions\"",
            "\"sign_in_tokens\"",
            "\"reviews\"",
            "\"survey_invitations\"",
            "\"calendar_feeds\"",
        ] {
            let key = hashes.keys().find(|k| k.ends_with(table)).unwrap().clone();
            for row in &hashes[&key] {
                for cell in row
                    .split('\u{1f}')
                    .filter(|c| c.len() >= 40 && !c.contains(' '))
                {
                    assert!(
                        !everything.contains(cell),
                        "a secret of {table} in the export"
                    );
                }
            }
        }

        // The request and the download are in the audit trail.
        let requested = audit_entries(&app, &y.p.staff, "exportPersonalData").await;
        assert_eq!(requested.len(), 1);
        assert_eq!(requested[0]["subject"]["id"], y.annika.as_str());
        let downloads = audit_entries(&app, &y.p.staff, "downloadPersonalData").await;
        assert_eq!(downloads.len(), 1);
        assert_eq!(downloads[0]["subject"]["id"], y.annika.as_str());
        assert!(!downloads[0]["detail"].as_str().unwrap().contains(ANNIKA));

        // A mentor's export holds their learning; the co-op's holds its profile.
        let opened = export(&app, &y.p.staff, "userId", &y.rita_user).await;
        let learning: Vec<&str> = opened
            .rows("meetings")
            .iter()
            .filter_map(|m| m["learning"].as_str())
            .collect();
        assert_eq!(learning, [RITA_LEARNING], "her own engagement's only");
        assert_eq!(opened.rows("provider_profile")[0]["bio"], RITA_BIO);
        assert!(
            !opened.all_text().contains(TOM_NOTES),
            "not Tom's engagement"
        );
        let opened = export(&app, &y.p.staff, "organisationId", &y.coop).await;
        let profile = &opened.rows("profile")[0];
        assert_eq!(profile["financial_details"], COOP_MONEY);
        assert_eq!(profile["contact_phone"], COOP_PHONE);
        assert_eq!(opened.rows("members")[0]["email"], ANNIKA_EMAIL);
        assert_eq!(
            opened.rows("concerns").len(),
            1,
            "raised by its people only"
        );
        assert!(!opened.all_text().contains(RITA_LEARNING) && !opened.all_text().contains(CALDER));
        app.stop().await;
    }
);

on_both_databases!(
    erasure_leaves_the_statistics_and_no_trace,
    |app: TestApp| async move {
        let y = programme_year(&app).await;
        emails_settled(&app).await;
        let staff = y.p.staff.clone();
        let before = stats(&app, &staff).await;

        // Annika.
        let body = gql(
        &app,
        &staff,
        "mutation($u: ID!, $r: String!) { erasePerson(userId: $u, reason: $r) { erasedAt changes subject { id ... on User { name } } } }",
        json!({"u": y.annika, "r": ERASURE_REASON}),
    )
    .await;
        let erasure = &body["data"]["erasePerson"];
        assert_eq!(erasure["subject"]["name"], "[erased]");
        assert!(erasure["changes"].as_i64().unwrap() > 10, "{erasure}");
        assert_eq!(stats(&app, &staff).await, before, "the same figures");
        let annika_values = [
            ANNIKA,
            ANNIKA_EMAIL,
            GOALS,
            GROUND_RULES,
            LOCATION,
            ANNIKA_NOTES,
            CONCERN,
            END_REASON,
            ANNIKA_REVIEW,
            SURVEY_TEXT,
        ];
        let database = whole_database(&app).await;
        assert_eq!(found_in(&database, &annika_values), Vec::<String>::new());
        // What was not hers stays.
        for kept in [
            RITA_LEARNING,
            RITA_CONCERN,
            TOM_NOTES,
            SAM_DECLINE,
            CALDER_TEXT,
            COOP,
        ] {
            assert!(
                !found_in(&database, &[kept]).is_empty(),
                "{kept} is not hers"
            );
        }
        let views = api_views(&app, &y).await;
        for value in annika_values {
            assert!(!views.contains(value), "{value} in the API: {views}");
        }
        assert!(
            views.contains("[erased] kept the minutes"),
            "her name left Rita's notes: {views}"
        );
        let csv = survey_csv(&app, &y).await;
        assert!(
            !csv.contains(SURVEY_TEXT) && csv.contains(CALDER_TEXT),
            "{csv}"
        );

        // Her sessions, feed and links stop; the audit keeps who, when and why.
        let (status, _) = app
            .graphql("{ me { id } }", json!({}), Some(&y.annika_token))
            .await;
        assert_eq!(status, 401);
        let (status, _) = app.get_page(&y.feed_url).await;
        assert_eq!(status, 404);
        let (_, body) = app
            .graphql(
                "query($t: String!) { surveyInvitation(token: $t) { __typename } }",
                json!({"t": y.annika_survey_token}),
                None,
            )
            .await;
        assert_eq!(first_error_code(&body), Some("NOT_FOUND"), "{body}");
        let entries = audit_entries(&app, &staff, "erasePerson").await;
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0]["subject"]["id"], y.annika.as_str());
        assert!(entries[0]["actor"]["id"].is_string());
        let detail = entries[0]["detail"].as_str().unwrap();
        assert!(
            detail.contains("[erased] asked by email on 1 December"),
            "{detail}"
        );

        // No email goes to an erased address: one written now is suppressed.
        let erased = format!("erased-user-{}@erased.invalid", decode(&y.annika));
        let sent_before = app.smtp.received().len();
        let txn = app.db.begin().await.unwrap();
        hive_worker::outbox::enqueue(
        &txn,
        hive_worker::outbox::NewEmail {
            idempotency_key: "test:after-erasure".into(),
            category: EmailCategory::SignIn,
            template: "sign_in",
            recipient: erased.clone(),
            context: json!({"name": "x", "link": "http://x/sign-in?token=t", "expires_minutes": 15}),
            due: Utc::now(),
        },
    )
    .await
    .unwrap();
        txn.commit().await.unwrap();
        emails_settled(&app).await;
        let row = emails::Entity::find()
            .filter(emails::Column::IdempotencyKey.eq("test:after-erasure"))
            .one(&app.db)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(row.status, EmailStatus::Suppressed);
        tokio::time::sleep(StdDuration::from_millis(300)).await;
        assert_eq!(app.smtp.received().len(), sent_before);
        assert!(app.smtp.received().iter().all(|m| {
            !m.header("To")
                .unwrap_or_default()
                .contains("erased.invalid")
        }));
        let hers: Vec<emails::Model> = emails::Entity::find()
            .filter(emails::Column::Recipient.eq(erased.as_str()))
            .all(&app.db)
            .await
            .unwrap();
        assert!(
            hers.len() >= 3
                && hers
                    .iter()
                    .all(|e| e.context == "{}" || e.idempotency_key == "test:after-erasure")
        );

        // Erasing her again: CONFLICT, nothing changed.
        let database = whole_database(&app).await;
        let (_, body) = app
            .graphql(
                "mutation($u: ID!) { erasePerson(userId: $u, reason: \"again\") { erasedAt } }",
                json!({"u": y.annika}),
                Some(&staff),
            )
            .await;
        assert_eq!(first_error_code(&body), Some("CONFLICT"), "{body}");
        assert!(
            body["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("already erased")
        );
        assert_eq!(
            without_sessions(whole_database(&app).await),
            without_sessions(database)
        );

        // Rita, a mentor: her profile, notes, learning, review and concern go;
        // the figures stay (her score now under the marker).
        gql(
        &app,
        &staff,
        "mutation($u: ID!) { erasePerson(userId: $u, reason: \"Asked to be forgotten\") { erasedAt } }",
        json!({"u": y.rita_user}),
    )
    .await;
        assert_eq!(stats(&app, &staff).await, before, "the same figures");
        let rita_values = [
            RITA,
            RITA_EMAIL,
            RITA_BIO,
            RITA_NOTES,
            RITA_LEARNING,
            RITA_CONCERN,
            RITA_REVIEW,
        ];
        let database = whole_database(&app).await;
        assert_eq!(found_in(&database, &rita_values), Vec::<String>::new());
        let (status, _) = app
            .graphql("{ me { id } }", json!({}), Some(&y.rita_token))
            .await;
        assert_eq!(status, 401);
        let body = gql(
            &app,
            &staff,
            "query($p: ID!) { provider(id: $p) { active } }",
            json!({"p": y.rita}),
        )
        .await;
        assert_eq!(body["data"]["provider"]["active"], false, "out of matching");

        // The co-op: its name, contact details and money, and what its
        // records say.
        gql(
        &app,
        &staff,
        "mutation($o: ID!) { eraseOrganisation(organisationId: $o, reason: \"The co-op closed and asked\") { erasedAt } }",
        json!({"o": y.coop}),
    )
    .await;
        assert_eq!(stats(&app, &staff).await, before, "the same figures");
        let coop_values = [
            COOP,
            COOP_EMAIL,
            COOP_PHONE,
            COOP_MONEY,
            TOM_NOTES,
            TOM_LEARNING,
            SAM_DECLINE,
        ];
        let database = whole_database(&app).await;
        assert_eq!(found_in(&database, &coop_values), Vec::<String>::new());
        for kept in [CALDER, CALDER_GOALS, CALDER_TEXT] {
            assert!(!found_in(&database, &[kept]).is_empty(), "{kept} stays");
        }
        let views = api_views(&app, &y).await;
        for value in coop_values.iter().chain(&annika_values).chain(&rita_values) {
            assert!(!views.contains(value), "{value} in the API");
        }
        let csv = survey_csv(&app, &y).await;
        assert!(
            !csv.contains(COOP) && csv.contains("[erased]") && csv.contains(CALDER),
            "{csv}"
        );
        let (_, body) = app
        .graphql(
            "mutation($i: SubmitSupportRequestInput!) { submitSupportRequest(input: $i) { id } }",
            json!({"i": {"organisationId": y.coop, "kind": "ADVICE", "topicIds": [y.p.topics[0]], "goals": "More help", "preferredFormats": []}}),
            Some(&staff),
        )
        .await;
        assert_eq!(
            first_error_code(&body),
            Some("CONFLICT"),
            "an erased co-op asks for nothing: {body}"
        );

        // An export after erasure shows the marker and nothing erased.
        let opened = export(&app, &staff, "organisationId", &y.coop).await;
        assert_eq!(opened.rows("profile")[0]["name"], "[erased]");
        let everything = opened.all_text();
        for value in coop_values.iter().chain(&annika_values).chain(&rita_values) {
            assert!(!everything.contains(value), "{value} in the export");
        }
        app.stop().await;
    }
);

/// The database without what moves by itself: the staff session's
/// `last_seen_at` (a request may move it on) and the job queue's own
/// bookkeeping (its workers' heartbeats).
fn without_sessions(mut database: BTreeMap<String, Vec<String>>) -> BTreeMap<String, Vec<String>> {
    database.retain(|table, _| {
        !table.ends_with("\"sessions\"")
            && !table.contains("apalis")
            && !table.contains("\"Jobs\"")
            && !table.contains("\"Workers\"")
    });
    database
}

on_both_databases!(
    bad_input_is_refused_with_a_code_and_changes_nothing,
    |app: TestApp| async move {
        let p = Programme::new(&app).await;
        let (coop, member) = p.coop(&app, "Wye Housing").await;
        let (provider, provider_token, _) =
            p.provider(&app, "MENTOR", "Engaged Mentor", 2, None).await;
        let request = p.request(&app, &coop, "MENTORING").await;
        let engagement = p.proposed(&app, &request, &provider, 3).await;
        p.accept(&app, &engagement, &provider_token).await;
        let body = gql(&app, &member, "{ me { id } }", json!({})).await;
        let member_id = body["data"]["me"]["id"].as_str().unwrap().to_string();
        let body = gql(&app, &provider_token, "{ me { id } }", json!({})).await;
        let provider_user = body["data"]["me"]["id"].as_str().unwrap().to_string();
        let body = gql(&app, &p.staff, "{ me { id } }", json!({})).await;
        let staff_id = body["data"]["me"]["id"].as_str().unwrap().to_string();
        emails_settled(&app).await;
        let database = whole_database(&app).await;
        let unknown_user = hive_worker::ids::global_id("User", 999_999);
        let unknown_coop = hive_worker::ids::global_id("Organisation", 999_999);

        let erase_person =
            "mutation($u: ID!, $r: String!) { erasePerson(userId: $u, reason: $r) { erasedAt } }";
        let erase_coop = "mutation($o: ID!, $r: String!) { eraseOrganisation(organisationId: $o, reason: $r) { erasedAt } }";
        let export = "mutation($u: ID, $o: ID) { exportPersonalData(userId: $u, organisationId: $o) { url } }";
        let cases: Vec<(&str, &str, Value, &str, &str)> = vec![
            // Erasing anyone party to the ACTIVE engagement, naming it.
            (
                "member during an ACTIVE engagement",
                erase_person,
                json!({"u": member_id, "r": "Asked"}),
                "CONFLICT",
                engagement.as_str(),
            ),
            (
                "provider during an ACTIVE engagement",
                erase_person,
                json!({"u": provider_user, "r": "Asked"}),
                "CONFLICT",
                engagement.as_str(),
            ),
            (
                "co-op during an ACTIVE engagement",
                erase_coop,
                json!({"o": coop, "r": "Asked"}),
                "CONFLICT",
                engagement.as_str(),
            ),
            (
                "no reason",
                erase_person,
                json!({"u": member_id, "r": "   "}),
                "BAD_USER_INPUT",
                "Say why",
            ),
            (
                "staff erasing themself",
                erase_person,
                json!({"u": staff_id, "r": "Asked"}),
                "BAD_USER_INPUT",
                "another member of staff",
            ),
            (
                "unknown person",
                erase_person,
                json!({"u": unknown_user, "r": "Asked"}),
                "NOT_FOUND",
                "No user",
            ),
            (
                "a co-op's id as a person's",
                erase_person,
                json!({"u": coop, "r": "Asked"}),
                "NOT_FOUND",
                "No user",
            ),
            (
                "unknown co-op",
                erase_coop,
                json!({"o": unknown_coop, "r": "Asked"}),
                "NOT_FOUND",
                "No organisation",
            ),
            (
                "export of an unknown person",
                export,
                json!({"u": unknown_user}),
                "NOT_FOUND",
                "No user",
            ),
            (
                "export of an unknown co-op",
                export,
                json!({"o": unknown_coop}),
                "NOT_FOUND",
                "No organisation",
            ),
            (
                "export of both",
                export,
                json!({"u": member_id, "o": coop}),
                "BAD_USER_INPUT",
                "not both",
            ),
            (
                "export of neither",
                export,
                json!({}),
                "BAD_USER_INPUT",
                "userId",
            ),
        ];
        for (what, query, variables, code, says) in &cases {
            let (_, body) = app.graphql(query, variables.clone(), Some(&p.staff)).await;
            assert_eq!(first_error_code(&body), Some(*code), "{what}: {body}");
            let message = body["errors"][0]["message"].as_str().unwrap();
            assert!(message.contains(says), "{what}: {says:?} in {message:?}");
        }
        // Anyone but staff: FORBIDDEN, and nothing signed in: UNAUTHENTICATED.
        for (query, variables) in [
            (export, json!({"u": provider_user})),
            (erase_person, json!({"u": provider_user, "r": "Asked"})),
            (erase_coop, json!({"o": coop, "r": "Asked"})),
        ] {
            for token in [&member, &provider_token] {
                let (_, body) = app.graphql(query, variables.clone(), Some(token)).await;
                assert_eq!(first_error_code(&body), Some("FORBIDDEN"), "{body}");
            }
            let (_, body) = app.graphql(query, variables.clone(), None).await;
            assert_eq!(first_error_code(&body), Some("UNAUTHENTICATED"), "{body}");
        }
        // The download itself: 401 without a token, 403 for a member, 404 for
        // an id that is no person or co-op.
        let url = |id: &str| format!("{}/personal-data/{id}.zip", app.base_url);
        assert_eq!(download(&app, &url(&provider_user), None).await.0, 401);
        assert_eq!(
            download(&app, &url(&provider_user), Some(&member)).await.0,
            403
        );
        assert_eq!(
            download(&app, &url(&unknown_user), Some(&p.staff)).await.0,
            404
        );
        assert_eq!(
            download(&app, &url(&engagement), Some(&p.staff)).await.0,
            404
        );
        assert_eq!(
            download(
                &app,
                &format!("{}/personal-data/x", app.base_url),
                Some(&p.staff)
            )
            .await
            .0,
            404
        );

        // Nothing changed by any of it (the audit trail included).
        assert_eq!(
            without_sessions(whole_database(&app).await),
            without_sessions(database)
        );

        // An OPEN concern refuses too, once the engagement has ended.
        gql(&app, &member, "mutation($e: ID!) { endEngagement(engagementId: $e, reason: \"Moved away\") { status } }", json!({"e": engagement})).await;
        let body = gql(&app, &provider_token, "mutation($e: ID!) { raiseConcern(engagementId: $e, category: OTHER, details: \"Rude emails\") { id } }", json!({"e": engagement})).await;
        let concern = body["data"]["raiseConcern"]["id"]
            .as_str()
            .unwrap()
            .to_string();
        for (query, variables, names) in [
            (
                erase_person,
                json!({"u": member_id, "r": "Asked"}),
                &concern,
            ),
            (
                erase_person,
                json!({"u": provider_user, "r": "Asked"}),
                &concern,
            ),
            // The co-op's request is back in MATCHING: that is named first.
            (erase_coop, json!({"o": coop, "r": "Asked"}), &request),
        ] {
            let (_, body) = app.graphql(query, variables, Some(&p.staff)).await;
            assert_eq!(first_error_code(&body), Some("CONFLICT"), "{body}");
            assert!(
                body["errors"][0]["message"]
                    .as_str()
                    .unwrap()
                    .contains(names.as_str()),
                "{body}"
            );
        }
        // Resolved, the member can be erased, once.
        gql(
            &app,
            &p.staff,
            "mutation($c: ID!) { resolveConcern(concernId: $c, outcome: \"Talked\") { status } }",
            json!({"c": concern}),
        )
        .await;
        gql(
            &app,
            &p.staff,
            erase_person,
            json!({"u": member_id, "r": "Asked"}),
        )
        .await;
        let (_, body) = app
            .graphql(
                erase_person,
                json!({"u": member_id, "r": "Asked"}),
                Some(&p.staff),
            )
            .await;
        assert_eq!(first_error_code(&body), Some("CONFLICT"), "{body}");
        app.stop().await;
    }
);

on_both_databases!(
    an_erasure_racing_proposals_never_leaves_an_erased_provider_with_work,
    |app: TestApp| async move {
        let p = Programme::new(&app).await;
        let (mentor, mentor_token, _) = p.provider(&app, "MENTOR", "Racing Mentor", 20, None).await;
        let body = gql(&app, &mentor_token, "{ me { id } }", json!({})).await;
        let person = body["data"]["me"]["id"].as_str().unwrap().to_string();
        let mut requests = Vec::new();
        for i in 0..20 {
            let (coop, _) = p.coop(&app, &format!("Race Co-op {i}")).await;
            requests.push(p.request(&app, &coop, "MENTORING").await);
        }
        // Twenty proposals to the mentor and their erasure, all at once.
        let erase = async {
            app.graphql(
                "mutation($u: ID!) { erasePerson(userId: $u, reason: \"Asked\") { erasedAt } }",
                json!({"u": person}),
                Some(&p.staff),
            )
            .await
            .1
        };
        let proposals =
            futures::future::join_all(requests.iter().map(|r| p.propose(&app, r, &mentor, 3)));
        let (erased, proposals) = futures::join!(erase, proposals);
        for body in proposals.iter().chain(std::iter::once(&erased)) {
            let code = first_error_code(body);
            assert!(
                code.is_none() || code == Some("CONFLICT"),
                "only CONFLICT may refuse: {body}"
            );
        }
        let proposed = proposals
            .iter()
            .filter(|b| b["data"]["proposeMatch"]["id"].is_string())
            .count();
        let held = entity::engagements::Entity::find()
            .filter(entity::engagements::Column::ProviderId.eq(decode(&mentor)))
            .filter(entity::engagements::Column::Status.is_in([
                entity::engagements::EngagementStatus::Proposed,
                entity::engagements::EngagementStatus::Active,
            ]))
            .all(&app.db)
            .await
            .unwrap()
            .len();
        assert_eq!(held, proposed);
        if erased["data"]["erasePerson"]["erasedAt"].is_string() {
            assert_eq!(held, 0, "an erased mentor was proposed: {proposals:?}");
        } else {
            assert!(held > 0, "refused only for a proposal: {erased}");
            let message = erased["errors"][0]["message"].as_str().unwrap();
            assert!(message.contains("PROPOSED"), "{message}");
        }
        eprintln!(
            "erased: {}, proposals made: {proposed}",
            erased["data"]["erasePerson"].is_object()
        );
        app.stop().await;
    }
);
