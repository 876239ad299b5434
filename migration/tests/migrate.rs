//! The migration goes up, down and up again on SQLite and (when
//! `TEST_DATABASE_URL` is set) on a fresh PostgreSQL database, and the
//! entities read and write every table it makes, with the database itself
//! refusing what the constraints forbid.

use chrono::Utc;
use entity::prelude::*;
use entity::{
    audit_log, concerns, email_preferences, emails, engagements, meetings, organisations,
    provider_formats, provider_regions, provider_sectors, provider_topics, providers, reviews,
    sectors, sessions, sign_in_tokens, support_request_formats, support_request_topics,
    support_requests, survey_answers, survey_choice_topics, survey_choices, survey_invitations,
    survey_questions, survey_responses, surveys, topics, users,
};
use migration::m20261122_000001_data_model as m;
use migration::{Migrator, MigratorTrait, SchemaManager};
use sea_orm::{
    ActiveEnum, ActiveModelTrait, ActiveValue::Set, ConnectionTrait, Database, DatabaseConnection,
    DbErr, EntityTrait, Iterable, ModelTrait, SqlErr,
};

const ALL_TABLES: &[&str] = &[
    "sectors",
    "topics",
    "organisations",
    "users",
    "sign_in_tokens",
    "sessions",
    "providers",
    "provider_topics",
    "provider_sectors",
    "provider_regions",
    "provider_formats",
    "support_requests",
    "support_request_topics",
    "support_request_formats",
    "engagements",
    "meetings",
    "concerns",
    "reviews",
    "surveys",
    "survey_questions",
    "survey_choices",
    "survey_choice_topics",
    "survey_invitations",
    "survey_responses",
    "survey_answers",
    "emails",
    "email_preferences",
    "audit_log",
];

#[tokio::test]
async fn sqlite() {
    let path = std::env::temp_dir().join(format!("hive_mig_{}.sqlite", unique_suffix()));
    let url = format!("sqlite://{}?mode=rwc", path.display());
    let outcome = tokio::spawn(async move { exercise(&url).await }).await;
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    if let Err(failure) = outcome {
        std::panic::resume_unwind(failure.into_panic());
    }
}

#[tokio::test]
async fn postgres() {
    let Ok(admin_url) = std::env::var("TEST_DATABASE_URL") else {
        // CI must test PostgreSQL; elsewhere a skip is allowed but loud.
        if std::env::var("CI").is_ok_and(|v| v == "true" || v == "1") {
            panic!("CI=true but TEST_DATABASE_URL is not set: PostgreSQL must be tested in CI");
        }
        eprintln!("\n*** SKIPPED on PostgreSQL: TEST_DATABASE_URL is not set ***\n");
        return;
    };
    let name = format!("hive_mig_{}", unique_suffix());
    let admin = Database::connect(&admin_url).await.expect("connect admin");
    admin
        .execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await
        .expect("create database");
    let mut url = url::Url::parse(&admin_url).expect("TEST_DATABASE_URL is a URL");
    url.set_path(&name);
    let url = url.to_string();
    let outcome = tokio::spawn(async move { exercise(&url).await }).await;
    admin
        .execute_unprepared(&format!("DROP DATABASE {name} WITH (FORCE)"))
        .await
        .expect("drop database");
    if let Err(failure) = outcome {
        std::panic::resume_unwind(failure.into_panic());
    }
}

/// The enum value lists frozen in the migration's CHECKs are exactly the
/// entities' enums: a new variant needs a migration.
#[test]
fn entity_enums_match_the_migration_checks() {
    fn values<E: ActiveEnum<Value = String> + Iterable>() -> Vec<String> {
        E::iter().map(|e| e.to_value()).collect()
    }
    fn strings(values: &[&str]) -> Vec<String> {
        values.iter().map(|v| v.to_string()).collect()
    }
    assert_eq!(
        values::<OrganisationStage>(),
        strings(m::ORGANISATION_STAGES)
    );
    assert_eq!(values::<Role>(), strings(m::ROLES));
    assert_eq!(values::<ProviderKind>(), strings(m::PROVIDER_KINDS));
    assert_eq!(values::<MeetingFormat>(), strings(m::MEETING_FORMATS));
    assert_eq!(values::<EngagementKind>(), strings(m::ENGAGEMENT_KINDS));
    assert_eq!(
        values::<SupportRequestStatus>(),
        strings(m::SUPPORT_REQUEST_STATUSES)
    );
    assert_eq!(
        values::<EngagementStatus>(),
        strings(m::ENGAGEMENT_STATUSES)
    );
    assert_eq!(values::<MeetingStatus>(), strings(m::MEETING_STATUSES));
    assert_eq!(values::<ConcernCategory>(), strings(m::CONCERN_CATEGORIES));
    assert_eq!(values::<ConcernStatus>(), strings(m::CONCERN_STATUSES));
    assert_eq!(values::<ReviewParty>(), strings(m::REVIEW_PARTIES));
    assert_eq!(values::<SurveyStatus>(), strings(m::SURVEY_STATUSES));
    assert_eq!(values::<QuestionKind>(), strings(m::QUESTION_KINDS));
    assert_eq!(values::<EmailCategory>(), strings(m::EMAIL_CATEGORIES));
    assert_eq!(values::<EmailStatus>(), strings(m::EMAIL_STATUSES));
    assert_eq!(values::<DigestFrequency>(), strings(m::DIGEST_FREQUENCIES));
}

fn unique_suffix() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_nanos();
    format!("{}_{nanos}", std::process::id())
}

async fn exercise(url: &str) {
    let db = Database::connect(url).await.expect("connect");

    Migrator::up(&db, None).await.expect("first up");
    assert_tables(&db, true).await;
    Migrator::down(&db, None).await.expect("down");
    assert_tables(&db, false).await;
    Migrator::up(&db, None).await.expect("second up");
    assert_tables(&db, true).await;
    assert!(
        Migrator::get_pending_migrations(&db)
            .await
            .unwrap()
            .is_empty()
    );

    round_trip_every_table(&db).await;
    constraints_refuse(&db).await;
    db.close().await.expect("close");
}

async fn assert_tables(db: &DatabaseConnection, present: bool) {
    let manager = SchemaManager::new(db);
    for table in ALL_TABLES {
        assert_eq!(
            manager.has_table(*table).await.unwrap(),
            present,
            "table {table}"
        );
    }
}

/// Inserts a row into every table through its entity and reads it back: the
/// insert's RETURNING and the read decode every column, so a name or type that
/// differs between entity and migration fails here.
async fn round_trip_every_table(db: &DatabaseConnection) {
    let now = Utc::now();

    let sector = sectors::ActiveModel {
        name: Set("Housing".into()),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await
    .unwrap();
    let topic = topics::ActiveModel {
        name: Set("Governance".into()),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await
    .unwrap();
    let organisation = organisations::ActiveModel {
        name: Set("Riverside Housing Co-op".into()),
        legal_form: Set(Some("Co-operative society".into())),
        stage: Set(OrganisationStage::StartUp),
        sector_id: Set(Some(sector.id)),
        region: Set("North West".into()),
        members_count: Set(Some(12)),
        founded_year: Set(Some(2024)),
        contact_email: Set(Some("hello@riverside.coop".into())),
        contact_phone: Set(Some("0161 000 0000".into())),
        financial_details: Set(Some("turnover £40k".into())),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await
    .unwrap();
    assert_eq!(
        Organisations::find_by_id(organisation.id)
            .one(db)
            .await
            .unwrap(),
        Some(organisation.clone())
    );
    let member = users::ActiveModel {
        email: Set("member@riverside.coop".into()),
        name: Set("Ada Member".into()),
        role: Set(Role::Member),
        organisation_id: Set(Some(organisation.id)),
        created_at: Set(now),
        deactivated_at: Set(None),
        ..Default::default()
    }
    .insert(db)
    .await
    .unwrap();
    let mentor_user = users::ActiveModel {
        email: Set("mentor@elsewhere.coop".into()),
        name: Set("Bea Mentor".into()),
        role: Set(Role::Mentor),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await
    .unwrap();
    assert_eq!(
        member.find_related(Organisations).one(db).await.unwrap(),
        Some(organisation.clone())
    );

    sign_in_tokens::ActiveModel {
        user_id: Set(member.id),
        token_hash: Set("aa".repeat(32)),
        created_at: Set(now),
        expires_at: Set(now),
        used_at: Set(None),
        ..Default::default()
    }
    .insert(db)
    .await
    .unwrap();
    sessions::ActiveModel {
        user_id: Set(member.id),
        token_hash: Set("bb".repeat(32)),
        created_at: Set(now),
        expires_at: Set(now),
        last_seen_at: Set(now),
        revoked_at: Set(None),
        ..Default::default()
    }
    .insert(db)
    .await
    .unwrap();

    let provider = providers::ActiveModel {
        user_id: Set(mentor_user.id),
        kind: Set(ProviderKind::Mentor),
        home_organisation_id: Set(None),
        firm_name: Set(None),
        bio: Set("Twenty years in housing co-ops.".into()),
        capacity: Set(2),
        active: Set(true),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await
    .unwrap();
    provider_topics::ActiveModel {
        provider_id: Set(provider.id),
        topic_id: Set(topic.id),
    }
    .insert(db)
    .await
    .unwrap();
    provider_sectors::ActiveModel {
        provider_id: Set(provider.id),
        sector_id: Set(sector.id),
    }
    .insert(db)
    .await
    .unwrap();
    provider_regions::ActiveModel {
        provider_id: Set(provider.id),
        region: Set("North West".into()),
    }
    .insert(db)
    .await
    .unwrap();
    provider_formats::ActiveModel {
        provider_id: Set(provider.id),
        format: Set(MeetingFormat::InPersonGroup),
    }
    .insert(db)
    .await
    .unwrap();
    // The many-to-many through the join table.
    assert_eq!(
        provider.find_related(Topics).all(db).await.unwrap(),
        vec![topic.clone()]
    );
    assert_eq!(
        topic.find_related(Providers).all(db).await.unwrap(),
        vec![provider.clone()]
    );

    let request = support_requests::ActiveModel {
        organisation_id: Set(organisation.id),
        kind: Set(EngagementKind::Mentoring),
        goals: Set("Set up our governance.".into()),
        status: Set(SupportRequestStatus::Matching),
        submitted_by_user_id: Set(Some(member.id)),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await
    .unwrap();
    support_request_topics::ActiveModel {
        support_request_id: Set(request.id),
        topic_id: Set(topic.id),
    }
    .insert(db)
    .await
    .unwrap();
    support_request_formats::ActiveModel {
        support_request_id: Set(request.id),
        format: Set(MeetingFormat::Video),
    }
    .insert(db)
    .await
    .unwrap();
    assert_eq!(
        request.find_related(Topics).all(db).await.unwrap(),
        vec![topic.clone()]
    );

    let engagement = engagement(&request, &provider, EngagementStatus::Active, 4)
        .insert(db)
        .await
        .unwrap();
    assert_eq!(
        Engagements::find_by_id(engagement.id)
            .one(db)
            .await
            .unwrap(),
        Some(engagement.clone())
    );
    let meeting = meetings::ActiveModel {
        engagement_id: Set(engagement.id),
        starts_at: Set(now),
        duration_minutes: Set(90),
        format: Set(MeetingFormat::InPerson),
        location: Set(Some("The co-op's office".into())),
        is_final: Set(false),
        status: Set(MeetingStatus::Held),
        days_counted: Set(Some(0.5)),
        notes: Set(Some("private".into())),
        learning: Set(Some("for the programme".into())),
        sequence: Set(0),
        scheduled_by_user_id: Set(Some(mentor_user.id)),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await
    .unwrap();
    assert_eq!(meeting.days_counted, Some(0.5));
    concerns::ActiveModel {
        engagement_id: Set(engagement.id),
        raised_by_user_id: Set(member.id),
        category: Set(ConcernCategory::Other),
        details: Set("details".into()),
        status: Set(ConcernStatus::Open),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await
    .unwrap();
    reviews::ActiveModel {
        engagement_id: Set(engagement.id),
        party: Set(ReviewParty::Client),
        token_hash: Set(Some("cc".repeat(32))),
        requested_at: Set(now),
        usefulness: Set(Some(5)),
        relationship: Set(Some(4)),
        would_recommend: Set(Some(5)),
        ..Default::default()
    }
    .insert(db)
    .await
    .unwrap();

    let survey = surveys::ActiveModel {
        title: Set("Census 2026".into()),
        description: Set(String::new()),
        status: Set(SurveyStatus::Open),
        audience: Set(Some(r#"{"stages":["START_UP"]}"#.into())),
        reminder_after_days: Set(Some(7)),
        launched_at: Set(Some(now)),
        created_by_user_id: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await
    .unwrap();
    let question = survey_questions::ActiveModel {
        survey_id: Set(survey.id),
        position: Set(1),
        kind: Set(QuestionKind::MultiChoice),
        prompt: Set("What do you need help with?".into()),
        required: Set(true),
        ..Default::default()
    }
    .insert(db)
    .await
    .unwrap();
    let choice = survey_choices::ActiveModel {
        question_id: Set(question.id),
        position: Set(1),
        label: Set("Governance".into()),
        ..Default::default()
    }
    .insert(db)
    .await
    .unwrap();
    survey_choice_topics::ActiveModel {
        choice_id: Set(choice.id),
        topic_id: Set(topic.id),
    }
    .insert(db)
    .await
    .unwrap();
    let invitation = survey_invitations::ActiveModel {
        survey_id: Set(survey.id),
        organisation_id: Set(organisation.id),
        email: Set("hello@riverside.coop".into()),
        token_hash: Set("dd".repeat(32)),
        created_at: Set(now),
        sent_at: Set(Some(now)),
        ..Default::default()
    }
    .insert(db)
    .await
    .unwrap();
    let response = survey_responses::ActiveModel {
        invitation_id: Set(invitation.id),
        submitted_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await
    .unwrap();
    survey_answers::ActiveModel {
        response_id: Set(response.id),
        question_id: Set(question.id),
        choice_id: Set(Some(choice.id)),
        number_value: Set(Some(3.0)),
        text_value: Set(None),
        ..Default::default()
    }
    .insert(db)
    .await
    .unwrap();

    let email = emails::ActiveModel {
        idempotency_key: Set("sign-in:1".into()),
        category: Set(EmailCategory::SignIn),
        template: Set("sign_in".into()),
        recipient: Set("member@riverside.coop".into()),
        context: Set("{}".into()),
        status: Set(EmailStatus::Pending),
        next_attempt_at: Set(now),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await
    .unwrap();
    assert_eq!(email.attempts, 0, "database default");

    // Only the address and time given: the database fills in the defaults.
    let preferences = email_preferences::ActiveModel {
        email: Set("member@riverside.coop".into()),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await
    .unwrap();
    assert!(preferences.reminders && preferences.digests && preferences.surveys);
    assert_eq!(preferences.digest_frequency, DigestFrequency::Daily);

    audit_log::ActiveModel {
        actor_user_id: Set(Some(member.id)),
        action: Set("requestSignIn".into()),
        subject_type: Set(Some("User".into())),
        subject_id: Set(Some(member.id)),
        detail: Set(Some("{}".into())),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await
    .unwrap();
}

fn engagement(
    request: &support_requests::Model,
    provider: &providers::Model,
    status: EngagementStatus,
    days_allocated: i32,
) -> engagements::ActiveModel {
    let now = Utc::now();
    engagements::ActiveModel {
        support_request_id: Set(request.id),
        provider_id: Set(provider.id),
        status: Set(status),
        days_allocated: Set(days_allocated),
        fee_pence: Set(5_000),
        proposed_at: Set(now),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
}

/// What the database refuses on its own, whatever the code above it does.
async fn constraints_refuse(db: &DatabaseConnection) {
    let request = SupportRequests::find().one(db).await.unwrap().unwrap();
    let provider = Providers::find().one(db).await.unwrap().unwrap();

    // Days outside 2–7.
    for days in [1, 8] {
        let err = engagement(&request, &provider, EngagementStatus::Proposed, days)
            .insert(db)
            .await
            .expect_err("days outside 2–7 refused");
        assert_check(&err, "engagements_days_allocated_check");
    }

    // A second ACTIVE engagement on the same request; another PROPOSED is fine.
    let err = engagement(&request, &provider, EngagementStatus::Active, 3)
        .insert(db)
        .await
        .expect_err("second ACTIVE engagement refused");
    assert!(
        matches!(err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))),
        "{err}"
    );
    engagement(&request, &provider, EngagementStatus::Proposed, 3)
        .insert(db)
        .await
        .expect("a PROPOSED engagement beside the ACTIVE one");

    // A value outside the enum, written around the entity.
    let err = db
        .execute_unprepared("UPDATE organisations SET stage = 'BOGUS'")
        .await
        .expect_err("unknown stage refused");
    assert_check(&err, "organisations_stage_check");

    // A rating outside 1–5.
    let err = db
        .execute_unprepared("UPDATE reviews SET usefulness = 6")
        .await
        .expect_err("rating 6 refused");
    assert_check(&err, "reviews_usefulness_check");

    // A dangling foreign key (SQLite enforces them only with the pragma on,
    // which sqlx sets by default).
    let err = users::ActiveModel {
        email: Set("nobody@example.org".into()),
        name: Set("Nobody".into()),
        role: Set(Role::Member),
        organisation_id: Set(Some(999_999)),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(db)
    .await
    .expect_err("unknown organisation refused");
    assert!(
        matches!(
            err.sql_err(),
            Some(SqlErr::ForeignKeyConstraintViolation(_))
        ),
        "{err}"
    );

    // The same email twice.
    let err = users::ActiveModel {
        email: Set("member@riverside.coop".into()),
        name: Set("Twin".into()),
        role: Set(Role::Member),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(db)
    .await
    .expect_err("duplicate email refused");
    assert!(
        matches!(err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))),
        "{err}"
    );
}

/// Both databases name the violated CHECK in their message.
fn assert_check(err: &DbErr, constraint: &str) {
    assert!(err.to_string().contains(constraint), "{err}");
}
