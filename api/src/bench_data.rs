//! Synthetic programme data for benchmarks (`hive-api bench-data`): thousands
//! of providers, topics and co-ops, written in bulk. Deterministic, so two
//! runs measure the same thing. Not for real use.

use chrono::Utc;
use entity::{
    meetings::MeetingFormat,
    organisations::{self, OrganisationStage},
    provider_formats, provider_regions, provider_sectors, provider_topics,
    providers::{self, ProviderKind},
    sectors, support_request_formats, support_request_topics,
    support_requests::{self, EngagementKind, SupportRequestStatus},
    topics,
    users::{self, Role},
};
use sea_orm::{
    ActiveValue::Set, DatabaseConnection, EntityTrait, PaginatorTrait, QueryOrder, QuerySelect,
};

use crate::regions::UK_REGIONS;

/// Sizes of the synthetic programme.
#[derive(Debug, Clone, Copy)]
pub struct BenchSize {
    pub providers: usize,
    pub topics: usize,
    pub coops: usize,
}

/// What was made, for the bench script.
#[derive(Debug)]
pub struct BenchData {
    /// Global id of a MENTORING request with four topics.
    pub request_id: String,
}

fn mix(a: usize, b: usize) -> usize {
    a.wrapping_mul(2_654_435_761)
        .wrapping_add(b.wrapping_mul(40_503))
        % 1_000_003
}

const CHUNK: usize = 500;

/// The 24 sectors every synthetic programme has.
async fn insert_sectors(db: &DatabaseConnection) -> anyhow::Result<()> {
    let now = Utc::now();
    insert_chunks(
        db,
        (0..24)
            .map(|i| sectors::ActiveModel {
                name: Set(format!("sector {i:02}")),
                created_at: Set(now),
                ..Default::default()
            })
            .collect(),
    )
    .await
}

async fn insert_chunks<A, E>(db: &DatabaseConnection, rows: Vec<A>) -> anyhow::Result<()>
where
    A: sea_orm::ActiveModelTrait<Entity = E> + Send,
    E: EntityTrait,
{
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<A> = rows.by_ref().take(CHUNK).collect();
        E::insert_many(chunk).exec_without_returning(db).await?;
    }
    Ok(())
}

/// Fills an empty database. Refuses one that already has providers.
pub async fn generate(db: &DatabaseConnection, size: BenchSize) -> anyhow::Result<BenchData> {
    if providers::Entity::find().count(db).await? > 0 {
        anyhow::bail!("bench-data wants an empty database");
    }
    let now = Utc::now();
    insert_chunks(
        db,
        (0..size.topics)
            .map(|i| topics::ActiveModel {
                name: Set(format!("topic {i:04}")),
                created_at: Set(now),
                ..Default::default()
            })
            .collect(),
    )
    .await?;
    insert_sectors(db).await?;
    let topic_ids: Vec<i64> = topics::Entity::find()
        .select_only()
        .column(topics::Column::Id)
        .order_by_asc(topics::Column::Id)
        .into_tuple()
        .all(db)
        .await?;
    let sector_ids: Vec<i64> = sectors::Entity::find()
        .select_only()
        .column(sectors::Column::Id)
        .order_by_asc(sectors::Column::Id)
        .into_tuple()
        .all(db)
        .await?;
    insert_chunks(
        db,
        (0..size.coops)
            .map(|i| organisations::ActiveModel {
                name: Set(format!("Bench Co-op {i:05}")),
                stage: Set(OrganisationStage::Trading),
                sector_id: Set(Some(sector_ids[mix(i, 1) % sector_ids.len()])),
                region: Set(UK_REGIONS[mix(i, 2) % UK_REGIONS.len()].to_string()),
                created_at: Set(now),
                updated_at: Set(now),
                ..Default::default()
            })
            .collect(),
    )
    .await?;
    let organisation_ids: Vec<i64> = organisations::Entity::find()
        .select_only()
        .column(organisations::Column::Id)
        .order_by_asc(organisations::Column::Id)
        .into_tuple()
        .all(db)
        .await?;
    insert_chunks(
        db,
        (0..size.providers)
            .map(|i| users::ActiveModel {
                email: Set(format!("provider{i:05}@bench.hive.example")),
                name: Set(format!("Provider {i:05}")),
                role: Set(if i % 2 == 0 {
                    Role::Mentor
                } else {
                    Role::Adviser
                }),
                created_at: Set(now),
                ..Default::default()
            })
            .collect(),
    )
    .await?;
    let user_ids: Vec<i64> = users::Entity::find()
        .select_only()
        .column(users::Column::Id)
        .order_by_asc(users::Column::Id)
        .into_tuple()
        .all(db)
        .await?;
    insert_chunks(
        db,
        user_ids
            .iter()
            .enumerate()
            .map(|(i, user_id)| providers::ActiveModel {
                user_id: Set(*user_id),
                kind: Set(if i % 2 == 0 {
                    ProviderKind::Mentor
                } else {
                    ProviderKind::Adviser
                }),
                home_organisation_id: Set(
                    (i % 2 == 0).then(|| organisation_ids[mix(i, 3) % organisation_ids.len()])
                ),
                bio: Set(String::new()),
                capacity: Set(1 + (mix(i, 4) % 4) as i32),
                active: Set(!mix(i, 5).is_multiple_of(20)),
                created_at: Set(now),
                updated_at: Set(now),
                ..Default::default()
            })
            .collect(),
    )
    .await?;
    let provider_ids: Vec<i64> = providers::Entity::find()
        .select_only()
        .column(providers::Column::Id)
        .order_by_asc(providers::Column::Id)
        .into_tuple()
        .all(db)
        .await?;
    let formats = [
        MeetingFormat::InPerson,
        MeetingFormat::InPersonGroup,
        MeetingFormat::Phone,
        MeetingFormat::Video,
        MeetingFormat::Email,
    ];
    let mut topic_rows = Vec::new();
    let mut sector_rows = Vec::new();
    let mut region_rows = Vec::new();
    let mut format_rows = Vec::new();
    for (i, provider_id) in provider_ids.iter().enumerate() {
        let mut chosen: Vec<usize> = (0..6).map(|j| mix(i, 10 + j) % topic_ids.len()).collect();
        chosen.sort_unstable();
        chosen.dedup();
        topic_rows.extend(chosen.into_iter().map(|t| provider_topics::ActiveModel {
            provider_id: Set(*provider_id),
            topic_id: Set(topic_ids[t]),
        }));
        let mut chosen: Vec<usize> = (0..2).map(|j| mix(i, 20 + j) % sector_ids.len()).collect();
        chosen.sort_unstable();
        chosen.dedup();
        sector_rows.extend(chosen.into_iter().map(|s| provider_sectors::ActiveModel {
            provider_id: Set(*provider_id),
            sector_id: Set(sector_ids[s]),
        }));
        let mut chosen: Vec<usize> = (0..3).map(|j| mix(i, 30 + j) % UK_REGIONS.len()).collect();
        chosen.sort_unstable();
        chosen.dedup();
        region_rows.extend(chosen.into_iter().map(|r| provider_regions::ActiveModel {
            provider_id: Set(*provider_id),
            region: Set(UK_REGIONS[r].to_string()),
        }));
        let mut chosen: Vec<usize> = (0..2).map(|j| mix(i, 40 + j) % formats.len()).collect();
        chosen.sort_unstable();
        chosen.dedup();
        format_rows.extend(chosen.into_iter().map(|f| provider_formats::ActiveModel {
            provider_id: Set(*provider_id),
            format: Set(formats[f]),
        }));
    }
    insert_chunks(db, topic_rows).await?;
    insert_chunks(db, sector_rows).await?;
    insert_chunks(db, region_rows).await?;
    insert_chunks(db, format_rows).await?;

    // The request the benchmark ranks for: four popular-enough topics.
    let request = support_requests::Entity::insert(support_requests::ActiveModel {
        organisation_id: Set(organisation_ids[0]),
        kind: Set(EngagementKind::Mentoring),
        goals: Set("Benchmark request".into()),
        status: Set(SupportRequestStatus::Matching),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    })
    .exec(db)
    .await?
    .last_insert_id;
    insert_chunks(
        db,
        [3usize, 17, 42, 99]
            .iter()
            .map(|t| support_request_topics::ActiveModel {
                support_request_id: Set(request),
                topic_id: Set(topic_ids[t % topic_ids.len()]),
            })
            .collect(),
    )
    .await?;
    insert_chunks(
        db,
        vec![support_request_formats::ActiveModel {
            support_request_id: Set(request),
            format: Set(MeetingFormat::Video),
        }],
    )
    .await?;
    Ok(BenchData {
        request_id: crate::graphql::relay::global_id(
            crate::graphql::relay::NodeType::SupportRequest,
            request,
        )
        .to_string(),
    })
}

/// Queues `count` welcome-style emails, a thousand per transaction, as a
/// fan-out would: the mail bench's load.
pub async fn enqueue_emails(db: &DatabaseConnection, count: usize) -> anyhow::Result<()> {
    use sea_orm::TransactionTrait;
    for chunk in (0..count).collect::<Vec<_>>().chunks(1_000) {
        let txn = db.begin().await?;
        for n in chunk {
            hive_worker::outbox::enqueue(
                &txn,
                hive_worker::outbox::NewEmail {
                    // Key `bench:{n}`: numbered messages of the mail bench, in
                    // an empty database; nothing withdraws them.
                    idempotency_key: format!("bench:{n}"),
                    category: entity::emails::EmailCategory::Match,
                    template: "welcome",
                    recipient: format!("member{n}@bench.example"),
                    context: serde_json::json!({
                        "name": format!("Member {n}"),
                        "role": "member",
                        "link": format!("https://hive.example/sign-in/{n:043}"),
                        "expires_minutes": 15,
                    }),
                    due: Utc::now(),
                },
            )
            .await?;
        }
        txn.commit().await?;
    }
    Ok(())
}

/// Waits until `count` emails are SENT and returns when the last of them
/// was marked; fails if any is dead or failed, so a bench never reports the
/// speed of losing mail. It looks twice a second and takes the time from the
/// rows, so its own queries barely load the database it measures.
pub async fn wait_until_sent(
    db: &DatabaseConnection,
    count: usize,
) -> anyhow::Result<chrono::DateTime<Utc>> {
    use entity::emails::{self, EmailStatus};
    use sea_orm::{ColumnTrait, QueryFilter, QuerySelect};
    loop {
        let (sent, last): (i64, Option<chrono::DateTime<Utc>>) = emails::Entity::find()
            .select_only()
            .column_as(emails::Column::Id.count(), "sent")
            .column_as(emails::Column::SentAt.max(), "last")
            .filter(emails::Column::Status.eq(EmailStatus::Sent))
            .into_tuple()
            .one(db)
            .await?
            .unwrap_or((0, None));
        if let Some(last) = last
            && sent as usize >= count
        {
            return Ok(last);
        }
        let lost = emails::Entity::find()
            .filter(emails::Column::Status.is_in([EmailStatus::Dead, EmailStatus::Failed]))
            .count(db)
            .await?;
        anyhow::ensure!(lost == 0, "{lost} emails failed; is the SMTP sink running?");
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
}

/// A census-sized programme for `hive-api bench-census`: ten topics, the
/// sectors, and `coops` co-ops with contact addresses, spread over sectors,
/// regions and stages. Returns the topics' global ids, for the survey.
pub async fn census(db: &DatabaseConnection, coops: usize) -> anyhow::Result<Vec<String>> {
    if organisations::Entity::find().count(db).await? > 0 {
        anyhow::bail!("bench-census wants an empty database");
    }
    let now = Utc::now();
    insert_chunks(
        db,
        (0..10)
            .map(|i| topics::ActiveModel {
                name: Set(format!("need {i}")),
                created_at: Set(now),
                ..Default::default()
            })
            .collect(),
    )
    .await?;
    insert_sectors(db).await?;
    let sector_ids: Vec<i64> = sectors::Entity::find()
        .select_only()
        .column(sectors::Column::Id)
        .into_tuple()
        .all(db)
        .await?;
    let stages = [
        OrganisationStage::Idea,
        OrganisationStage::StartUp,
        OrganisationStage::Trading,
        OrganisationStage::Converting,
    ];
    insert_chunks(
        db,
        (0..coops)
            .map(|i| organisations::ActiveModel {
                name: Set(format!("Census Co-op {i:05}")),
                stage: Set(stages[mix(i, 3) % stages.len()]),
                sector_id: Set(Some(sector_ids[mix(i, 1) % sector_ids.len()])),
                region: Set(UK_REGIONS[mix(i, 2) % UK_REGIONS.len()].to_string()),
                contact_email: Set(Some(format!("coop{i:05}@census.bench.example"))),
                created_at: Set(now),
                updated_at: Set(now),
                ..Default::default()
            })
            .collect(),
    )
    .await?;
    Ok(topics::Entity::find()
        .order_by_asc(topics::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(|topic| {
            crate::graphql::relay::global_id(crate::graphql::relay::NodeType::Topic, topic.id).0
        })
        .collect())
}

/// Answers every invitation of a survey, deterministically varied (a
/// choice per choice question, two for multi-choice, numbers in range,
/// some text), written in bulk: the load for the results query.
pub async fn answer_all(db: &DatabaseConnection, survey_id: i64) -> anyhow::Result<usize> {
    use entity::{survey_answers, survey_invitations, survey_responses};
    use sea_orm::{ColumnTrait, QueryFilter};
    let questions = crate::programme::surveys::load_questions(db, survey_id)
        .await
        .map_err(|error| anyhow::anyhow!("{}", error.message()))?;
    let invitations: Vec<i64> = survey_invitations::Entity::find()
        .select_only()
        .column(survey_invitations::Column::Id)
        .filter(survey_invitations::Column::SurveyId.eq(survey_id))
        .into_tuple()
        .all(db)
        .await?;
    let now = Utc::now();
    insert_chunks(
        db,
        invitations
            .iter()
            .map(|id| survey_responses::ActiveModel {
                invitation_id: Set(*id),
                submitted_at: Set(now),
                updated_at: Set(now),
                ..Default::default()
            })
            .collect(),
    )
    .await?;
    survey_invitations::Entity::update_many()
        .col_expr(
            survey_invitations::Column::RespondedAt,
            sea_orm::sea_query::Expr::value(now),
        )
        .filter(survey_invitations::Column::SurveyId.eq(survey_id))
        .exec(db)
        .await?;
    let responses: Vec<i64> = survey_responses::Entity::find()
        .select_only()
        .column(survey_responses::Column::Id)
        .filter(survey_responses::Column::InvitationId.is_in(invitations.clone()))
        .into_tuple()
        .all(db)
        .await?;
    let mut rows = Vec::new();
    for (n, response) in responses.iter().enumerate() {
        for question in &questions {
            let q = &question.question;
            let row = |choice: Option<i64>, number: Option<f64>, text: Option<String>| {
                survey_answers::ActiveModel {
                    response_id: Set(*response),
                    question_id: Set(q.id),
                    choice_id: Set(choice),
                    number_value: Set(number),
                    text_value: Set(text),
                    ..Default::default()
                }
            };
            let choices = &question.choices;
            match q.kind {
                entity::survey_questions::QuestionKind::SingleChoice => rows.push(row(
                    Some(choices[mix(n, q.id as usize) % choices.len()].choice.id),
                    None,
                    None,
                )),
                entity::survey_questions::QuestionKind::MultiChoice => {
                    let first = mix(n, q.id as usize) % choices.len();
                    for c in [first, (first + 1) % choices.len()] {
                        rows.push(row(Some(choices[c].choice.id), None, None));
                    }
                }
                entity::survey_questions::QuestionKind::Scale => {
                    let (min, max) = (q.scale_min.unwrap_or(1), q.scale_max.unwrap_or(5));
                    let value = min + (mix(n, 7) % (max - min + 1) as usize) as i32;
                    rows.push(row(None, Some(f64::from(value)), None));
                }
                entity::survey_questions::QuestionKind::Number => {
                    rows.push(row(None, Some((mix(n, 11) % 200) as f64), None))
                }
                entity::survey_questions::QuestionKind::Text if n % 3 == 0 => rows.push(row(
                    None,
                    None,
                    Some(format!("Answer {n}: more help with money, please.")),
                )),
                entity::survey_questions::QuestionKind::Text => {}
            }
        }
    }
    insert_chunks(db, rows).await?;
    Ok(responses.len())
}
