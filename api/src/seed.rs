//! The demo programme for `hive-api seed --demo` and `hive-api --demo`: the
//! vocabularies of DESIGN.md, 50 client co-ops across the UK's regions and
//! stages, 28 peer mentors at established co-ops, 30 specialist advisers, and a
//! handful of support requests. Every row is found-or-created by a natural key,
//! so running it twice changes nothing.

use chrono::Utc;
use entity::meetings::MeetingFormat;
use entity::support_requests::EngagementKind;
use entity::{
    organisations::{self, OrganisationStage},
    provider_formats, provider_regions, provider_sectors, provider_topics,
    providers::{self, ProviderKind},
    sectors, support_request_formats, support_request_topics,
    support_requests::{self, SupportRequestStatus},
    topics,
    users::{self, Role},
};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, DatabaseTransaction,
    EntityTrait, PaginatorTrait, QueryFilter,
};

pub const DEMO_STAFF_EMAIL: &str = "staff@hive.example";
pub const DEMO_STAFF_NAME: &str = "Sam Okafor (programme staff)";

pub const TOPICS: &[&str] = &[
    "governance",
    "finance",
    "community shares",
    "conversion",
    "digital communications",
    "marketing",
    "legal structures",
    "employment and HR",
    "strategy",
    "start-up process",
    "employee ownership",
    "public service spin-out",
    "fundraising",
    "member engagement",
    "IT systems",
];

pub const SECTORS: &[&str] = &[
    "digital communications",
    "retail",
    "housing",
    "energy",
    "food and farming",
    "social care",
    "transport",
    "creative industries",
    "credit and finance",
    "manufacturing",
    "education",
    "hospitality",
];

pub const REGIONS: &[&str] = &[
    "North East",
    "North West",
    "Yorkshire and the Humber",
    "East Midlands",
    "West Midlands",
    "East of England",
    "London",
    "South East",
    "South West",
    "Wales",
    "Scotland",
    "Northern Ireland",
];

const PLACES: &[&str] = &[
    "Calder", "Mersey", "Tyne", "Severn", "Pennine", "Fenland", "Thames", "Wye", "Clyde", "Mourne",
    "Dales", "Trent", "Ouse", "Downs", "Medway", "Solway", "Eden",
];
const VENTURES: &[(&str, usize)] = &[
    ("Web Workers", 0),
    ("Wholefoods", 1),
    ("Housing Co-operative", 2),
    ("Community Energy", 3),
    ("Growers", 4),
    ("Care Co-operative", 5),
    ("Cycle Couriers", 6),
    ("Print and Design", 7),
    ("Credit Union", 8),
    ("Makers", 9),
    ("Learning Co-op", 10),
    ("Community Pub", 11),
];
const LEGAL_FORMS: &[&str] = &[
    "Co-operative Society",
    "Community Benefit Society",
    "Company Limited by Guarantee",
    "Community Interest Company",
    "Company Limited by Shares",
];
const STAGES: &[OrganisationStage] = &[
    OrganisationStage::Idea,
    OrganisationStage::StartUp,
    OrganisationStage::Trading,
    OrganisationStage::Converting,
    OrganisationStage::SpinningOut,
];
const FIRST_NAMES: &[&str] = &[
    "Aisha", "Ben", "Carys", "Dev", "Eilidh", "Femi", "Gwen", "Hamza", "Iona", "Jack", "Kiran",
    "Lowri", "Mo", "Niamh", "Owen", "Priya", "Quinn", "Rhys", "Saoirse", "Tom", "Uma", "Vik",
    "Wren", "Yusuf", "Zara", "Alfie", "Bea", "Cal", "Dina", "Ewan",
];
const LAST_NAMES: &[&str] = &[
    "Ahmed", "Byrne", "Campbell", "Davies", "Evans", "Fraser", "Gill", "Hughes", "Iqbal", "Jones",
    "Kaur", "Lewis", "Murray", "Nolan", "O'Brien", "Patel", "Quigley", "Reid", "Singh", "Thomas",
    "Usman", "Vaughan", "Walsh", "Young",
];
const FIRMS: &[&str] = &[
    "Co-op Law Partnership",
    "Mutual Ventures Advisory",
    "Common Ground Finance",
    "Shareholder Democracy Ltd",
    "Open Book Accounting",
    "Fair Shares Consulting",
];
const FORMATS: &[MeetingFormat] = &[
    MeetingFormat::InPerson,
    MeetingFormat::InPersonGroup,
    MeetingFormat::Phone,
    MeetingFormat::Video,
    MeetingFormat::Email,
];

/// Mixes two numbers into a stable pseudo-random index: the demo must come out
/// the same on every machine and every run.
fn pick(a: usize, b: usize, len: usize) -> usize {
    (a.wrapping_mul(2_654_435_761) ^ b.wrapping_mul(40_503).wrapping_add(b)) % len
}

/// Up to `count` distinct indexes below `len`, stable for (`a`, `salt`).
fn choose(a: usize, salt: usize, count: usize, len: usize) -> Vec<usize> {
    let mut chosen: Vec<usize> = (0..count).map(|j| pick(a, salt + j, len)).collect();
    chosen.sort_unstable();
    chosen.dedup();
    chosen
}

/// What one run did, for the command's output.
#[derive(Debug, Default)]
pub struct SeedSummary {
    pub created: u64,
    pub organisations: u64,
    pub mentors: u64,
    pub advisers: u64,
    pub requests: u64,
}

impl std::fmt::Display for SeedSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "demo programme: {} co-ops, {} mentors, {} advisers, {} support requests ({} rows new this run)",
            self.organisations, self.mentors, self.advisers, self.requests, self.created
        )
    }
}

/// Loads the demo programme in one transaction; running it again changes nothing.
pub async fn demo(db: &DatabaseConnection) -> anyhow::Result<SeedSummary> {
    let txn = hive_worker::db::begin_write(db).await?;
    let mut created = 0;
    let mut topic_ids = Vec::new();
    for name in TOPICS {
        let (id, new) = topic(&txn, name).await?;
        topic_ids.push(id);
        created += new as u64;
    }
    let mut sector_ids = Vec::new();
    for name in SECTORS {
        let (id, new) = sector(&txn, name).await?;
        sector_ids.push(id);
        created += new as u64;
    }

    // 50 client co-ops; the first 28 that are trading also host a mentor.
    let mut organisation_ids = Vec::new();
    for i in 0..50 {
        let (venture, sector_index) = VENTURES[i % VENTURES.len()];
        let name = format!("{} {}", PLACES[pick(i, 1, PLACES.len())], venture);
        let name = if organisation_ids
            .iter()
            .any(|(_, n): &(i64, String)| *n == name)
        {
            format!("{name} ({})", REGIONS[i % REGIONS.len()])
        } else {
            name
        };
        let stage = STAGES[pick(i, 2, STAGES.len())];
        let (id, new) = organisation(&txn, i, &name, stage, sector_ids[sector_index]).await?;
        created += new as u64;
        organisation_ids.push((id, name));
    }

    let now = Utc::now();
    let mut mentor_count = 0;
    for i in 0..28 {
        let home = organisation_ids[(i * 7) % organisation_ids.len()].0;
        let name = format!(
            "{} {}",
            FIRST_NAMES[i % FIRST_NAMES.len()],
            LAST_NAMES[pick(i, 3, LAST_NAMES.len())]
        );
        let email = format!("mentor{:02}@mentors.hive.example", i + 1);
        let bio = format!(
            "Founder member of a trading co-op; has been through {} and {} and is glad to share what worked.",
            TOPICS[pick(i, 4, TOPICS.len())],
            TOPICS[pick(i, 5, TOPICS.len())]
        );
        created += provider(
            &txn,
            ProviderSeed {
                index: i,
                kind: ProviderKind::Mentor,
                email: &email,
                name: &name,
                home_organisation_id: Some(home),
                firm_name: None,
                bio: &bio,
                capacity: 1 + (i % 3) as i32,
            },
            &topic_ids,
            &sector_ids,
        )
        .await?;
        mentor_count += 1;
    }
    let mut adviser_count = 0;
    for i in 0..30 {
        let name = format!(
            "{} {}",
            FIRST_NAMES[(i + 11) % FIRST_NAMES.len()],
            LAST_NAMES[pick(i, 6, LAST_NAMES.len())]
        );
        let email = format!("adviser{:02}@advisers.hive.example", i + 1);
        let firm = FIRMS[i % FIRMS.len()];
        let bio = format!(
            "Specialist in {} for co-operatives and mutuals, with {} years of practice.",
            TOPICS[pick(i, 7, TOPICS.len())],
            5 + i % 20
        );
        created += provider(
            &txn,
            ProviderSeed {
                index: 100 + i,
                kind: ProviderKind::Adviser,
                email: &email,
                name: &name,
                home_organisation_id: None,
                firm_name: Some(firm),
                bio: &bio,
                capacity: 2 + (i % 3) as i32,
            },
            &topic_ids,
            &sector_ids,
        )
        .await?;
        adviser_count += 1;
    }

    // A handful of requests waiting for a match.
    let requests: &[(usize, EngagementKind, &str, &[usize])] = &[
        (
            3,
            EngagementKind::Mentoring,
            "We want to run our first community share offer and learn from a co-op that has done one.",
            &[2, 1],
        ),
        (
            8,
            EngagementKind::Advice,
            "Convert our family firm to employee ownership before the founders retire.",
            &[3, 10, 6],
        ),
        (
            15,
            EngagementKind::Mentoring,
            "Our members' meetings drag on; we want a governance model that keeps everyone involved.",
            &[0, 13],
        ),
        (
            22,
            EngagementKind::Advice,
            "Appraise whether our council service can spin out as a staff mutual.",
            &[11, 8, 1],
        ),
        (
            31,
            EngagementKind::Mentoring,
            "Build an online shop and a newsletter that our members actually read.",
            &[4, 5, 14],
        ),
        (
            40,
            EngagementKind::Advice,
            "Set up as a co-operative society and register with the FCA.",
            &[9, 6],
        ),
    ];
    for (index, kind, goals, wanted) in requests {
        let organisation_id = organisation_ids[*index].0;
        let exists = support_requests::Entity::find()
            .filter(support_requests::Column::OrganisationId.eq(organisation_id))
            .filter(support_requests::Column::Goals.eq(*goals))
            .one(&txn)
            .await?;
        if exists.is_some() {
            continue;
        }
        let request = support_requests::ActiveModel {
            organisation_id: Set(organisation_id),
            kind: Set(*kind),
            goals: Set(goals.to_string()),
            status: Set(SupportRequestStatus::Matching),
            submitted_by_user_id: Set(None),
            decline_reason: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
            closed_at: Set(None),
            ..Default::default()
        }
        .insert(&txn)
        .await?;
        created += 1;
        for topic_index in *wanted {
            support_request_topics::ActiveModel {
                support_request_id: Set(request.id),
                topic_id: Set(topic_ids[*topic_index]),
            }
            .insert(&txn)
            .await?;
        }
        for format in [MeetingFormat::Video, MeetingFormat::InPerson] {
            support_request_formats::ActiveModel {
                support_request_id: Set(request.id),
                format: Set(format),
            }
            .insert(&txn)
            .await?;
        }
    }
    txn.commit().await?;

    Ok(SeedSummary {
        created,
        organisations: organisations::Entity::find().count(db).await?,
        mentors: mentor_count,
        advisers: adviser_count,
        requests: support_requests::Entity::find().count(db).await?,
    })
}

async fn topic(txn: &DatabaseTransaction, name: &str) -> anyhow::Result<(i64, bool)> {
    if let Some(row) = topics::Entity::find()
        .filter(topics::Column::Name.eq(name))
        .one(txn)
        .await?
    {
        return Ok((row.id, false));
    }
    let row = topics::ActiveModel {
        name: Set(name.to_string()),
        created_at: Set(Utc::now()),
        retired_at: Set(None),
        ..Default::default()
    }
    .insert(txn)
    .await?;
    Ok((row.id, true))
}

async fn sector(txn: &DatabaseTransaction, name: &str) -> anyhow::Result<(i64, bool)> {
    if let Some(row) = sectors::Entity::find()
        .filter(sectors::Column::Name.eq(name))
        .one(txn)
        .await?
    {
        return Ok((row.id, false));
    }
    let row = sectors::ActiveModel {
        name: Set(name.to_string()),
        created_at: Set(Utc::now()),
        retired_at: Set(None),
        ..Default::default()
    }
    .insert(txn)
    .await?;
    Ok((row.id, true))
}

async fn organisation(
    txn: &DatabaseTransaction,
    index: usize,
    name: &str,
    stage: OrganisationStage,
    sector_id: i64,
) -> anyhow::Result<(i64, bool)> {
    if let Some(row) = organisations::Entity::find()
        .filter(organisations::Column::Name.eq(name))
        .one(txn)
        .await?
    {
        return Ok((row.id, false));
    }
    let slug: String = name
        .to_lowercase()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect();
    let now = Utc::now();
    let row = organisations::ActiveModel {
        name: Set(name.to_string()),
        legal_form: Set(Some(
            LEGAL_FORMS[pick(index, 8, LEGAL_FORMS.len())].to_string(),
        )),
        stage: Set(stage),
        sector_id: Set(Some(sector_id)),
        region: Set(REGIONS[pick(index, 9, REGIONS.len())].to_string()),
        members_count: Set(Some(3 + (pick(index, 10, 400)) as i32)),
        founded_year: Set(match stage {
            OrganisationStage::Idea => None,
            _ => Some(1975 + pick(index, 11, 50) as i32),
        }),
        contact_email: Set(Some(format!("hello@{slug}.coop.example"))),
        contact_phone: Set(Some(format!("01632 {:06}", 960_000 + index))),
        financial_details: Set(Some(format!(
            "Turnover £{}k; reserves £{}k.",
            20 + pick(index, 12, 900),
            pick(index, 13, 200)
        ))),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(txn)
    .await?;
    Ok((row.id, true))
}

struct ProviderSeed<'a> {
    index: usize,
    kind: ProviderKind,
    email: &'a str,
    name: &'a str,
    home_organisation_id: Option<i64>,
    firm_name: Option<&'a str>,
    bio: &'a str,
    capacity: i32,
}

/// Creates the user and the provider profile with its topics, sectors,
/// regions and formats; returns how many rows were new.
async fn provider(
    txn: &DatabaseTransaction,
    seed: ProviderSeed<'_>,
    topic_ids: &[i64],
    sector_ids: &[i64],
) -> anyhow::Result<u64> {
    if users::Entity::find()
        .filter(users::Column::Email.eq(seed.email))
        .one(txn)
        .await?
        .is_some()
    {
        return Ok(0);
    }
    let now = Utc::now();
    let role = match seed.kind {
        ProviderKind::Mentor => Role::Mentor,
        ProviderKind::Adviser => Role::Adviser,
    };
    let user = users::ActiveModel {
        email: Set(seed.email.to_string()),
        name: Set(seed.name.to_string()),
        role: Set(role),
        organisation_id: Set(None),
        created_at: Set(now),
        deactivated_at: Set(None),
        ..Default::default()
    }
    .insert(txn)
    .await?;
    let provider = providers::ActiveModel {
        user_id: Set(user.id),
        kind: Set(seed.kind),
        home_organisation_id: Set(seed.home_organisation_id),
        firm_name: Set(seed.firm_name.map(str::to_string)),
        bio: Set(seed.bio.to_string()),
        capacity: Set(seed.capacity),
        active: Set(true),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(txn)
    .await?;
    let i = seed.index;
    let topic_choice = choose(i, 20, 4, topic_ids.len());
    for t in &topic_choice {
        provider_topics::ActiveModel {
            provider_id: Set(provider.id),
            topic_id: Set(topic_ids[*t]),
        }
        .insert(txn)
        .await?;
    }
    let sector_choice = choose(i, 30, 2, sector_ids.len());
    for s in &sector_choice {
        provider_sectors::ActiveModel {
            provider_id: Set(provider.id),
            sector_id: Set(sector_ids[*s]),
        }
        .insert(txn)
        .await?;
    }
    let region_choice = choose(i, 40, 3, REGIONS.len());
    for r in &region_choice {
        provider_regions::ActiveModel {
            provider_id: Set(provider.id),
            region: Set(REGIONS[*r].to_string()),
        }
        .insert(txn)
        .await?;
    }
    let format_choice = choose(i, 50, 3, FORMATS.len());
    for f in &format_choice {
        provider_formats::ActiveModel {
            provider_id: Set(provider.id),
            format: Set(FORMATS[*f]),
        }
        .insert(txn)
        .await?;
    }
    Ok(
        2 + (topic_choice.len() + sector_choice.len() + region_choice.len() + format_choice.len())
            as u64,
    )
}
