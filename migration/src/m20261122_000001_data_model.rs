//! The whole first data model of Hive: every table, foreign key, unique and
//! CHECK constraint and index, built with sea-query so the same migration runs
//! on SQLite and PostgreSQL.
//!
//! Enum columns are short strings with a CHECK listing the allowed values
//! (rather than PostgreSQL enum types) so both databases hold the same thing
//! and adding a value later is an ordinary migration on both. The value lists
//! are written out here, not taken from the entities, because a migration must
//! keep describing the schema as it was when it ran.

use sea_orm_migration::{prelude::*, schema::*};

/// Allowed values of `organisations.stage`.
pub const ORGANISATION_STAGES: &[&str] =
    &["IDEA", "START_UP", "TRADING", "CONVERTING", "SPINNING_OUT"];
/// Allowed values of `users.role`.
pub const ROLES: &[&str] = &["STAFF", "MENTOR", "ADVISER", "MEMBER"];
/// Allowed values of `providers.kind`.
pub const PROVIDER_KINDS: &[&str] = &["MENTOR", "ADVISER"];
/// Allowed values of every meeting-format column.
pub const MEETING_FORMATS: &[&str] = &["IN_PERSON", "IN_PERSON_GROUP", "PHONE", "VIDEO", "EMAIL"];
/// Allowed values of `support_requests.kind`.
pub const ENGAGEMENT_KINDS: &[&str] = &["MENTORING", "ADVICE"];
/// Allowed values of `support_requests.status`.
pub const SUPPORT_REQUEST_STATUSES: &[&str] = &[
    "SUBMITTED",
    "MATCHING",
    "MATCHED",
    "CLOSED",
    "DECLINED",
    "WITHDRAWN",
];
/// Allowed values of `engagements.status`.
pub const ENGAGEMENT_STATUSES: &[&str] = &[
    "PROPOSED",
    "ACTIVE",
    "COMPLETED",
    "DECLINED",
    "EXPIRED",
    "ENDED_EARLY",
];
/// Allowed values of `meetings.status`.
pub const MEETING_STATUSES: &[&str] = &["SCHEDULED", "HELD", "CANCELLED"];
/// Allowed values of `concerns.category`.
pub const CONCERN_CATEGORIES: &[&str] = &["CRIMINAL_CONDUCT", "HARASSMENT", "BULLYING", "OTHER"];
/// Allowed values of `concerns.status`.
pub const CONCERN_STATUSES: &[&str] = &["OPEN", "RESOLVED"];
/// Allowed values of `reviews.party`.
pub const REVIEW_PARTIES: &[&str] = &["PROVIDER", "CLIENT"];
/// Allowed values of `surveys.status`.
pub const SURVEY_STATUSES: &[&str] = &["DRAFT", "OPEN", "CLOSED"];
/// Allowed values of `survey_questions.kind`.
pub const QUESTION_KINDS: &[&str] = &["SINGLE_CHOICE", "MULTI_CHOICE", "SCALE", "NUMBER", "TEXT"];
/// Allowed values of `emails.category`.
pub const EMAIL_CATEGORIES: &[&str] = &[
    "SIGN_IN", "MATCH", "REMINDER", "REVIEW", "SURVEY", "DIGEST", "CONCERN", "NUDGE",
];
/// Allowed values of `emails.status`.
pub const EMAIL_STATUSES: &[&str] = &["PENDING", "SENT", "FAILED", "DEAD", "SUPPRESSED"];
/// Allowed values of `email_preferences.digest_frequency`.
pub const DIGEST_FREQUENCIES: &[&str] = &["DAILY", "WEEKLY", "NEVER"];

/// The partial unique index that lets a support request have at most one
/// ACTIVE engagement, whatever two concurrent acceptances do.
pub const ONE_ACTIVE_ENGAGEMENT_PER_REQUEST: &str = "engagements_one_active_per_request";

/// Every enum column is this wide; the longest value is 16 characters.
const ENUM_LEN: u32 = 24;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in tables() {
            manager.create_table(table.create).await?;
            for index in table.indexes {
                manager.create_index(index).await?;
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Children before parents: a table's indexes go with it.
        for table in tables().into_iter().rev() {
            manager
                .drop_table(Table::drop().table(table.name).to_owned())
                .await?;
        }
        Ok(())
    }

    /// In one transaction on SQLite too (PostgreSQL's default), so a failure
    /// half-way leaves no half-made schema behind.
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }
}

/// One table to create: its statement and the indexes made right after it.
struct NewTable {
    name: DynIden,
    create: TableCreateStatement,
    indexes: Vec<IndexCreateStatement>,
}

/// Every table, parents before the children that refer to them.
fn tables() -> Vec<NewTable> {
    vec![
        sectors(),
        topics(),
        organisations(),
        users(),
        sign_in_tokens(),
        sessions(),
        providers(),
        provider_topics(),
        provider_sectors(),
        provider_regions(),
        provider_formats(),
        support_requests(),
        support_request_topics(),
        support_request_formats(),
        engagements(),
        meetings(),
        concerns(),
        reviews(),
        surveys(),
        survey_questions(),
        survey_choices(),
        survey_choice_topics(),
        survey_invitations(),
        survey_responses(),
        survey_answers(),
        emails(),
        email_preferences(),
        audit_log(),
    ]
}

// ---------------------------------------------------------------------------
// Building blocks. Constraint names follow PostgreSQL's own defaults
// (`<table>_<column>_check`, `_fkey`, `_key`, `_idx`) so error messages name
// the same constraint on both databases.

impl NewTable {
    fn new(name: impl IntoIden) -> Self {
        let name = name.into_iden();
        let mut create = Table::create();
        create.table(name.clone());
        Self {
            name,
            create,
            indexes: Vec::new(),
        }
    }

    /// `id`: a 64-bit auto-increment primary key (`integer PRIMARY KEY
    /// AUTOINCREMENT` on SQLite, an IDENTITY `bigint` on PostgreSQL).
    fn id(mut self) -> Self {
        self.create
            .col(big_integer(Alias::new("id")).auto_increment().primary_key());
        self
    }

    fn col(mut self, column: impl IntoColumnDef) -> Self {
        self.create.col(column);
        self
    }

    /// A column with a CHECK named after it.
    fn checked(mut self, column: impl IntoColumnDef, check: Expr) -> Self {
        let mut column = column.into_column_def();
        let name = format!("{}_{}_check", self.name, column.get_column_name());
        self.create.col(column.check((name, check)));
        self
    }

    /// A not-null enum column: a short string limited to `values`.
    fn enumeration(self, column: impl IntoIden, values: &[&'static str]) -> Self {
        self.enumeration_default(column, values, None)
    }

    /// As [`Self::enumeration`], with a database default.
    fn enumeration_default(
        self,
        column: impl IntoIden,
        values: &[&'static str],
        default: Option<&'static str>,
    ) -> Self {
        let column = column.into_iden();
        let mut def = string_len(column.clone(), ENUM_LEN);
        if let Some(default) = default {
            def.default(default);
        }
        let check = Expr::col(column).is_in(values.iter().copied());
        self.checked(def, check)
    }

    /// A foreign key from `column` to `parent.id`; deleting a parent that is
    /// still referred to is refused.
    fn fk(self, column: impl IntoIden, parent: impl IntoIden) -> Self {
        self.foreign_key(column, parent, None)
    }

    /// A foreign key from `column` to `parent.id`; deleting the parent deletes
    /// this row, which only means something as part of the parent.
    fn fk_cascade(self, column: impl IntoIden, parent: impl IntoIden) -> Self {
        self.foreign_key(column, parent, Some(ForeignKeyAction::Cascade))
    }

    fn foreign_key(
        mut self,
        column: impl IntoIden,
        parent: impl IntoIden,
        on_delete: Option<ForeignKeyAction>,
    ) -> Self {
        let column = column.into_iden();
        let mut fk = ForeignKey::create();
        fk.name(format!("{}_{}_fkey", self.name, column))
            .from(self.name.clone(), column)
            .to(parent, Alias::new("id"));
        if let Some(action) = on_delete {
            fk.on_delete(action);
        }
        self.create.foreign_key(&mut fk);
        self
    }

    /// A composite primary key (join tables).
    fn primary_key<const N: usize>(mut self, columns: [DynIden; N]) -> Self {
        let mut pk = Index::create();
        for column in columns {
            pk.col(column);
        }
        self.create.primary_key(&mut pk);
        self
    }

    /// An index, `<table>_<columns>_idx`.
    fn index<const N: usize>(self, columns: [DynIden; N]) -> Self {
        self.make_index(columns, false, "idx")
    }

    /// A unique index over several columns, `<table>_<columns>_key`.
    fn unique<const N: usize>(self, columns: [DynIden; N]) -> Self {
        self.make_index(columns, true, "key")
    }

    fn make_index<const N: usize>(
        mut self,
        columns: [DynIden; N],
        unique: bool,
        suffix: &str,
    ) -> Self {
        let names: Vec<String> = columns.iter().map(ToString::to_string).collect();
        let mut index = Index::create();
        index
            .name(format!("{}_{}_{suffix}", self.name, names.join("_")))
            .table(self.name.clone());
        if unique {
            index.unique();
        }
        for column in columns {
            index.col(column);
        }
        self.indexes.push(index);
        self
    }

    fn with_index(mut self, index: IndexCreateStatement) -> Self {
        self.indexes.push(index);
        self
    }
}

/// Shorthand for the column lists of keys and indexes.
macro_rules! cols {
    ($($col:expr),+ $(,)?) => { [$($col.into_iden()),+] };
}

fn ts(column: impl IntoIden) -> ColumnDef {
    timestamp_with_time_zone(column)
}

fn ts_null(column: impl IntoIden) -> ColumnDef {
    timestamp_with_time_zone_null(column)
}

// ---------------------------------------------------------------------------
// Vocabularies.

#[derive(DeriveIden)]
enum Sectors {
    Table,
    Name,
    CreatedAt,
    RetiredAt,
}

fn sectors() -> NewTable {
    NewTable::new(Sectors::Table)
        .id()
        .col(string_uniq(Sectors::Name))
        .col(ts(Sectors::CreatedAt))
        .col(ts_null(Sectors::RetiredAt))
}

#[derive(DeriveIden)]
enum Topics {
    Table,
    Name,
    CreatedAt,
    RetiredAt,
}

fn topics() -> NewTable {
    NewTable::new(Topics::Table)
        .id()
        .col(string_uniq(Topics::Name))
        .col(ts(Topics::CreatedAt))
        .col(ts_null(Topics::RetiredAt))
}

// ---------------------------------------------------------------------------
// Organisations and people.

#[derive(DeriveIden)]
enum Organisations {
    Table,
    Name,
    LegalForm,
    Stage,
    SectorId,
    Region,
    MembersCount,
    FoundedYear,
    ContactEmail,
    ContactPhone,
    FinancialDetails,
    CreatedAt,
    UpdatedAt,
}

fn organisations() -> NewTable {
    use Organisations as O;
    NewTable::new(O::Table)
        .id()
        .col(string(O::Name))
        .col(string_null(O::LegalForm))
        .enumeration(O::Stage, ORGANISATION_STAGES)
        .col(big_integer_null(O::SectorId))
        .col(string(O::Region))
        .checked(
            integer_null(O::MembersCount),
            Expr::col(O::MembersCount).gte(0),
        )
        .col(integer_null(O::FoundedYear))
        .col(string_null(O::ContactEmail))
        .col(string_null(O::ContactPhone))
        .col(text_null(O::FinancialDetails))
        .col(ts(O::CreatedAt))
        .col(ts(O::UpdatedAt))
        .fk(O::SectorId, Sectors::Table)
        .index(cols![O::SectorId])
        .index(cols![O::Region])
        .index(cols![O::Stage])
        .index(cols![O::Name])
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Email,
    Name,
    Role,
    OrganisationId,
    CreatedAt,
    DeactivatedAt,
}

fn users() -> NewTable {
    use Users as U;
    NewTable::new(U::Table)
        .id()
        .col(string_uniq(U::Email))
        .col(string(U::Name))
        .enumeration(U::Role, ROLES)
        .col(big_integer_null(U::OrganisationId))
        .col(ts(U::CreatedAt))
        .col(ts_null(U::DeactivatedAt))
        .fk(U::OrganisationId, Organisations::Table)
        .index(cols![U::OrganisationId])
}

#[derive(DeriveIden)]
enum SignInTokens {
    Table,
    UserId,
    TokenHash,
    CreatedAt,
    ExpiresAt,
    UsedAt,
}

fn sign_in_tokens() -> NewTable {
    use SignInTokens as T;
    NewTable::new(T::Table)
        .id()
        .col(big_integer(T::UserId))
        .col(string_uniq(T::TokenHash))
        .col(ts(T::CreatedAt))
        .col(ts(T::ExpiresAt))
        .col(ts_null(T::UsedAt))
        .fk_cascade(T::UserId, Users::Table)
        .index(cols![T::UserId])
}

#[derive(DeriveIden)]
enum Sessions {
    Table,
    UserId,
    TokenHash,
    CreatedAt,
    ExpiresAt,
    LastSeenAt,
    RevokedAt,
}

fn sessions() -> NewTable {
    use Sessions as S;
    NewTable::new(S::Table)
        .id()
        .col(big_integer(S::UserId))
        .col(string_uniq(S::TokenHash))
        .col(ts(S::CreatedAt))
        .col(ts(S::ExpiresAt))
        .col(ts(S::LastSeenAt))
        .col(ts_null(S::RevokedAt))
        .fk_cascade(S::UserId, Users::Table)
        .index(cols![S::UserId])
}

// ---------------------------------------------------------------------------
// Providers (mentors and advisers) and what they offer.

#[derive(DeriveIden)]
enum Providers {
    Table,
    UserId,
    Kind,
    HomeOrganisationId,
    FirmName,
    Bio,
    Capacity,
    Active,
    CreatedAt,
    UpdatedAt,
}

fn providers() -> NewTable {
    use Providers as P;
    NewTable::new(P::Table)
        .id()
        .col(big_integer_uniq(P::UserId))
        .enumeration(P::Kind, PROVIDER_KINDS)
        .col(big_integer_null(P::HomeOrganisationId))
        .col(string_null(P::FirmName))
        .col(text(P::Bio).default(""))
        .checked(integer(P::Capacity), Expr::col(P::Capacity).gte(1))
        .col(boolean(P::Active))
        .col(ts(P::CreatedAt))
        .col(ts(P::UpdatedAt))
        .fk(P::UserId, Users::Table)
        .fk(P::HomeOrganisationId, Organisations::Table)
        .index(cols![P::Kind, P::Active])
        .index(cols![P::HomeOrganisationId])
}

#[derive(DeriveIden)]
enum ProviderTopics {
    Table,
    ProviderId,
    TopicId,
}

fn provider_topics() -> NewTable {
    use ProviderTopics as J;
    NewTable::new(J::Table)
        .col(big_integer(J::ProviderId))
        .col(big_integer(J::TopicId))
        .primary_key(cols![J::ProviderId, J::TopicId])
        .fk_cascade(J::ProviderId, Providers::Table)
        .fk_cascade(J::TopicId, Topics::Table)
        .index(cols![J::TopicId])
}

#[derive(DeriveIden)]
enum ProviderSectors {
    Table,
    ProviderId,
    SectorId,
}

fn provider_sectors() -> NewTable {
    use ProviderSectors as J;
    NewTable::new(J::Table)
        .col(big_integer(J::ProviderId))
        .col(big_integer(J::SectorId))
        .primary_key(cols![J::ProviderId, J::SectorId])
        .fk_cascade(J::ProviderId, Providers::Table)
        .fk_cascade(J::SectorId, Sectors::Table)
        .index(cols![J::SectorId])
}

#[derive(DeriveIden)]
enum ProviderRegions {
    Table,
    ProviderId,
    Region,
}

fn provider_regions() -> NewTable {
    use ProviderRegions as J;
    NewTable::new(J::Table)
        .col(big_integer(J::ProviderId))
        .col(string(J::Region))
        .primary_key(cols![J::ProviderId, J::Region])
        .fk_cascade(J::ProviderId, Providers::Table)
        .index(cols![J::Region])
}

#[derive(DeriveIden)]
enum ProviderFormats {
    Table,
    ProviderId,
    Format,
}

fn provider_formats() -> NewTable {
    use ProviderFormats as J;
    NewTable::new(J::Table)
        .col(big_integer(J::ProviderId))
        .enumeration(J::Format, MEETING_FORMATS)
        .primary_key(cols![J::ProviderId, J::Format])
        .fk_cascade(J::ProviderId, Providers::Table)
        .index(cols![J::Format])
}

// ---------------------------------------------------------------------------
// Requests, engagements and what happens in them.

#[derive(DeriveIden)]
enum SupportRequests {
    Table,
    OrganisationId,
    Kind,
    Goals,
    Status,
    SubmittedByUserId,
    DeclineReason,
    CreatedAt,
    UpdatedAt,
    ClosedAt,
}

fn support_requests() -> NewTable {
    use SupportRequests as R;
    NewTable::new(R::Table)
        .id()
        .col(big_integer(R::OrganisationId))
        .enumeration(R::Kind, ENGAGEMENT_KINDS)
        .col(text(R::Goals))
        .enumeration(R::Status, SUPPORT_REQUEST_STATUSES)
        .col(big_integer_null(R::SubmittedByUserId))
        .col(text_null(R::DeclineReason))
        .col(ts(R::CreatedAt))
        .col(ts(R::UpdatedAt))
        .col(ts_null(R::ClosedAt))
        .fk(R::OrganisationId, Organisations::Table)
        .fk(R::SubmittedByUserId, Users::Table)
        .index(cols![R::Status])
        .index(cols![R::OrganisationId])
}

#[derive(DeriveIden)]
enum SupportRequestTopics {
    Table,
    SupportRequestId,
    TopicId,
}

fn support_request_topics() -> NewTable {
    use SupportRequestTopics as J;
    NewTable::new(J::Table)
        .col(big_integer(J::SupportRequestId))
        .col(big_integer(J::TopicId))
        .primary_key(cols![J::SupportRequestId, J::TopicId])
        .fk_cascade(J::SupportRequestId, SupportRequests::Table)
        .fk_cascade(J::TopicId, Topics::Table)
        .index(cols![J::TopicId])
}

#[derive(DeriveIden)]
enum SupportRequestFormats {
    Table,
    SupportRequestId,
    Format,
}

fn support_request_formats() -> NewTable {
    use SupportRequestFormats as J;
    NewTable::new(J::Table)
        .col(big_integer(J::SupportRequestId))
        .enumeration(J::Format, MEETING_FORMATS)
        .primary_key(cols![J::SupportRequestId, J::Format])
        .fk_cascade(J::SupportRequestId, SupportRequests::Table)
}

#[derive(DeriveIden)]
enum Engagements {
    Table,
    SupportRequestId,
    ProviderId,
    Status,
    DaysAllocated,
    FeePence,
    GroundRules,
    RematchOfId,
    ResponseTokenHash,
    ProposedByUserId,
    ProposedAt,
    RespondedAt,
    DeclineReason,
    EndedAt,
    EndedByUserId,
    EndReason,
    CompletedAt,
    LastChasedAt,
    CreatedAt,
    UpdatedAt,
}

fn engagements() -> NewTable {
    use Engagements as E;
    // The database refuses a second ACTIVE engagement on one request, so two
    // concurrent acceptances cannot both win. Valid on PostgreSQL and SQLite.
    let one_active = Index::create()
        .name(ONE_ACTIVE_ENGAGEMENT_PER_REQUEST)
        .table(E::Table)
        .col(E::SupportRequestId)
        .unique()
        .and_where(Expr::col(E::Status).eq("ACTIVE"))
        .to_owned();
    NewTable::new(E::Table)
        .id()
        .col(big_integer(E::SupportRequestId))
        .col(big_integer(E::ProviderId))
        .enumeration(E::Status, ENGAGEMENT_STATUSES)
        // The widest band of both kinds; the per-kind band is checked in code.
        .checked(
            integer(E::DaysAllocated),
            Expr::col(E::DaysAllocated).between(2, 7),
        )
        .checked(big_integer(E::FeePence), Expr::col(E::FeePence).gte(0))
        .col(text_null(E::GroundRules))
        .col(big_integer_null(E::RematchOfId))
        .col(string_null(E::ResponseTokenHash).unique_key())
        .col(big_integer_null(E::ProposedByUserId))
        .col(ts(E::ProposedAt))
        .col(ts_null(E::RespondedAt))
        .col(text_null(E::DeclineReason))
        .col(ts_null(E::EndedAt))
        .col(big_integer_null(E::EndedByUserId))
        .col(text_null(E::EndReason))
        .col(ts_null(E::CompletedAt))
        .col(ts_null(E::LastChasedAt))
        .col(ts(E::CreatedAt))
        .col(ts(E::UpdatedAt))
        .fk(E::SupportRequestId, SupportRequests::Table)
        .fk(E::ProviderId, Providers::Table)
        .fk(E::RematchOfId, E::Table)
        .fk(E::ProposedByUserId, Users::Table)
        .fk(E::EndedByUserId, Users::Table)
        .index(cols![E::ProviderId, E::Status])
        .index(cols![E::SupportRequestId, E::Status])
        .with_index(one_active)
}

#[derive(DeriveIden)]
enum Meetings {
    Table,
    EngagementId,
    StartsAt,
    DurationMinutes,
    Format,
    Location,
    IsFinal,
    Status,
    DaysCounted,
    Notes,
    Learning,
    Sequence,
    ScheduledByUserId,
    CreatedAt,
    UpdatedAt,
}

fn meetings() -> NewTable {
    use Meetings as M;
    NewTable::new(M::Table)
        .id()
        .col(big_integer(M::EngagementId))
        .col(ts(M::StartsAt))
        .checked(
            integer(M::DurationMinutes),
            Expr::col(M::DurationMinutes).gt(0),
        )
        .enumeration(M::Format, MEETING_FORMATS)
        .col(string_null(M::Location))
        .col(boolean(M::IsFinal))
        .enumeration(M::Status, MEETING_STATUSES)
        .checked(
            double_null(M::DaysCounted),
            Expr::col(M::DaysCounted).gte(0),
        )
        .col(text_null(M::Notes))
        .col(text_null(M::Learning))
        .col(integer(M::Sequence).default(0))
        .col(big_integer_null(M::ScheduledByUserId))
        .col(ts(M::CreatedAt))
        .col(ts(M::UpdatedAt))
        .fk_cascade(M::EngagementId, Engagements::Table)
        .fk(M::ScheduledByUserId, Users::Table)
        .index(cols![M::EngagementId, M::StartsAt])
        .index(cols![M::Status, M::StartsAt])
}

#[derive(DeriveIden)]
enum Concerns {
    Table,
    EngagementId,
    RaisedByUserId,
    Category,
    Details,
    Status,
    Outcome,
    ResolvedByUserId,
    ResolvedAt,
    CreatedAt,
}

fn concerns() -> NewTable {
    use Concerns as C;
    NewTable::new(C::Table)
        .id()
        .col(big_integer(C::EngagementId))
        .col(big_integer(C::RaisedByUserId))
        .enumeration(C::Category, CONCERN_CATEGORIES)
        .col(text(C::Details))
        .enumeration(C::Status, CONCERN_STATUSES)
        .col(text_null(C::Outcome))
        .col(big_integer_null(C::ResolvedByUserId))
        .col(ts_null(C::ResolvedAt))
        .col(ts(C::CreatedAt))
        .fk(C::EngagementId, Engagements::Table)
        .fk(C::RaisedByUserId, Users::Table)
        .fk(C::ResolvedByUserId, Users::Table)
        .index(cols![C::Status])
        .index(cols![C::EngagementId])
}

#[derive(DeriveIden)]
enum Reviews {
    Table,
    EngagementId,
    Party,
    ReviewerUserId,
    TokenHash,
    RequestedAt,
    RemindedAt,
    SubmittedAt,
    Usefulness,
    Relationship,
    WouldRecommend,
    Comments,
}

fn reviews() -> NewTable {
    use Reviews as R;
    NewTable::new(R::Table)
        .id()
        .col(big_integer(R::EngagementId))
        .enumeration(R::Party, REVIEW_PARTIES)
        .col(big_integer_null(R::ReviewerUserId))
        .col(string_null(R::TokenHash).unique_key())
        .col(ts(R::RequestedAt))
        .col(ts_null(R::RemindedAt))
        .col(ts_null(R::SubmittedAt))
        .checked(
            integer_null(R::Usefulness),
            Expr::col(R::Usefulness).between(1, 5),
        )
        .checked(
            integer_null(R::Relationship),
            Expr::col(R::Relationship).between(1, 5),
        )
        .checked(
            integer_null(R::WouldRecommend),
            Expr::col(R::WouldRecommend).between(1, 5),
        )
        .col(text_null(R::Comments))
        .fk(R::EngagementId, Engagements::Table)
        .fk(R::ReviewerUserId, Users::Table)
        .unique(cols![R::EngagementId, R::Party])
}

// ---------------------------------------------------------------------------
// Needs surveys.

#[derive(DeriveIden)]
enum Surveys {
    Table,
    Title,
    Description,
    Status,
    PreviousWaveId,
    Audience,
    ClosesAt,
    ReminderAfterDays,
    LaunchedAt,
    ClosedAt,
    CreatedByUserId,
    CreatedAt,
    UpdatedAt,
}

fn surveys() -> NewTable {
    use Surveys as S;
    NewTable::new(S::Table)
        .id()
        .col(string(S::Title))
        .col(text(S::Description).default(""))
        .enumeration(S::Status, SURVEY_STATUSES)
        .col(big_integer_null(S::PreviousWaveId))
        .col(text_null(S::Audience))
        .col(ts_null(S::ClosesAt))
        .checked(
            integer_null(S::ReminderAfterDays),
            Expr::col(S::ReminderAfterDays).gte(1),
        )
        .col(ts_null(S::LaunchedAt))
        .col(ts_null(S::ClosedAt))
        .col(big_integer_null(S::CreatedByUserId))
        .col(ts(S::CreatedAt))
        .col(ts(S::UpdatedAt))
        .fk(S::PreviousWaveId, S::Table)
        .fk(S::CreatedByUserId, Users::Table)
        .index(cols![S::Status])
}

#[derive(DeriveIden)]
enum SurveyQuestions {
    Table,
    SurveyId,
    Position,
    Kind,
    Prompt,
    Required,
    ScaleMin,
    ScaleMax,
}

fn survey_questions() -> NewTable {
    use SurveyQuestions as Q;
    NewTable::new(Q::Table)
        .id()
        .col(big_integer(Q::SurveyId))
        .col(integer(Q::Position))
        .enumeration(Q::Kind, QUESTION_KINDS)
        .col(text(Q::Prompt))
        .col(boolean(Q::Required))
        .col(integer_null(Q::ScaleMin))
        .col(integer_null(Q::ScaleMax))
        .fk_cascade(Q::SurveyId, Surveys::Table)
        .unique(cols![Q::SurveyId, Q::Position])
}

#[derive(DeriveIden)]
enum SurveyChoices {
    Table,
    QuestionId,
    Position,
    Label,
}

fn survey_choices() -> NewTable {
    use SurveyChoices as C;
    NewTable::new(C::Table)
        .id()
        .col(big_integer(C::QuestionId))
        .col(integer(C::Position))
        .col(string(C::Label))
        .fk_cascade(C::QuestionId, SurveyQuestions::Table)
        .unique(cols![C::QuestionId, C::Position])
}

#[derive(DeriveIden)]
enum SurveyChoiceTopics {
    Table,
    ChoiceId,
    TopicId,
}

fn survey_choice_topics() -> NewTable {
    use SurveyChoiceTopics as J;
    NewTable::new(J::Table)
        .col(big_integer(J::ChoiceId))
        .col(big_integer(J::TopicId))
        .primary_key(cols![J::ChoiceId, J::TopicId])
        .fk_cascade(J::ChoiceId, SurveyChoices::Table)
        .fk_cascade(J::TopicId, Topics::Table)
        .index(cols![J::TopicId])
}

#[derive(DeriveIden)]
enum SurveyInvitations {
    Table,
    SurveyId,
    OrganisationId,
    Email,
    TokenHash,
    CreatedAt,
    SentAt,
    RemindedAt,
    RespondedAt,
}

fn survey_invitations() -> NewTable {
    use SurveyInvitations as I;
    NewTable::new(I::Table)
        .id()
        .col(big_integer(I::SurveyId))
        .col(big_integer(I::OrganisationId))
        .col(string(I::Email))
        .col(string_uniq(I::TokenHash))
        .col(ts(I::CreatedAt))
        .col(ts_null(I::SentAt))
        .col(ts_null(I::RemindedAt))
        .col(ts_null(I::RespondedAt))
        .fk(I::SurveyId, Surveys::Table)
        .fk(I::OrganisationId, Organisations::Table)
        .unique(cols![I::SurveyId, I::OrganisationId])
        .index(cols![I::OrganisationId])
}

#[derive(DeriveIden)]
enum SurveyResponses {
    Table,
    InvitationId,
    SubmittedAt,
    UpdatedAt,
}

fn survey_responses() -> NewTable {
    use SurveyResponses as R;
    NewTable::new(R::Table)
        .id()
        .col(big_integer_uniq(R::InvitationId))
        .col(ts(R::SubmittedAt))
        .col(ts(R::UpdatedAt))
        .fk(R::InvitationId, SurveyInvitations::Table)
}

#[derive(DeriveIden)]
enum SurveyAnswers {
    Table,
    ResponseId,
    QuestionId,
    ChoiceId,
    NumberValue,
    TextValue,
}

fn survey_answers() -> NewTable {
    use SurveyAnswers as A;
    NewTable::new(A::Table)
        .id()
        .col(big_integer(A::ResponseId))
        .col(big_integer(A::QuestionId))
        .col(big_integer_null(A::ChoiceId))
        .col(double_null(A::NumberValue))
        .col(text_null(A::TextValue))
        .fk_cascade(A::ResponseId, SurveyResponses::Table)
        .fk(A::QuestionId, SurveyQuestions::Table)
        .fk(A::ChoiceId, SurveyChoices::Table)
        .index(cols![A::QuestionId])
        .index(cols![A::ResponseId])
}

// ---------------------------------------------------------------------------
// Email and the audit trail.

#[derive(DeriveIden)]
enum Emails {
    Table,
    IdempotencyKey,
    Category,
    Template,
    Recipient,
    Context,
    Status,
    Attempts,
    LastError,
    ProviderMessageId,
    EnqueuedAt,
    NextAttemptAt,
    SentAt,
    CreatedAt,
    UpdatedAt,
}

fn emails() -> NewTable {
    use Emails as E;
    NewTable::new(E::Table)
        .id()
        .col(string_uniq(E::IdempotencyKey))
        .enumeration(E::Category, EMAIL_CATEGORIES)
        .col(string(E::Template))
        .col(string(E::Recipient))
        .col(text(E::Context))
        .enumeration(E::Status, EMAIL_STATUSES)
        .checked(
            integer(E::Attempts).default(0),
            Expr::col(E::Attempts).gte(0),
        )
        .col(text_null(E::LastError))
        .col(string_null(E::ProviderMessageId))
        .col(ts_null(E::EnqueuedAt))
        .col(ts(E::NextAttemptAt))
        .col(ts_null(E::SentAt))
        .col(ts(E::CreatedAt))
        .col(ts(E::UpdatedAt))
        .index(cols![E::Status, E::NextAttemptAt])
        .index(cols![E::EnqueuedAt])
        .index(cols![E::Recipient])
}

#[derive(DeriveIden)]
enum EmailPreferences {
    Table,
    Email,
    UserId,
    Reminders,
    Digests,
    Surveys,
    DigestFrequency,
    UnsubscribeTokenHash,
    BouncedAt,
    BounceReason,
    UpdatedAt,
}

fn email_preferences() -> NewTable {
    use EmailPreferences as P;
    NewTable::new(P::Table)
        .id()
        .col(string_uniq(P::Email))
        .col(big_integer_null(P::UserId))
        .col(boolean(P::Reminders).default(true))
        .col(boolean(P::Digests).default(true))
        .col(boolean(P::Surveys).default(true))
        .enumeration_default(P::DigestFrequency, DIGEST_FREQUENCIES, Some("DAILY"))
        .col(string_null(P::UnsubscribeTokenHash).unique_key())
        .col(ts_null(P::BouncedAt))
        .col(text_null(P::BounceReason))
        .col(ts(P::UpdatedAt))
        .fk(P::UserId, Users::Table)
        .index(cols![P::UserId])
}

#[derive(DeriveIden)]
enum AuditLog {
    Table,
    ActorUserId,
    Action,
    SubjectType,
    SubjectId,
    Detail,
    CreatedAt,
}

fn audit_log() -> NewTable {
    use AuditLog as A;
    NewTable::new(A::Table)
        .id()
        .col(big_integer_null(A::ActorUserId))
        .col(string(A::Action))
        .col(string_null(A::SubjectType))
        .col(big_integer_null(A::SubjectId))
        .col(text_null(A::Detail))
        .col(ts(A::CreatedAt))
        .fk(A::ActorUserId, Users::Table)
        .index(cols![A::CreatedAt])
        .index(cols![A::ActorUserId])
        .index(cols![A::SubjectType, A::SubjectId])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(name: &str) -> NewTable {
        tables()
            .into_iter()
            .find(|t| t.name.to_string() == name)
            .expect("table exists")
    }

    #[test]
    fn ids_are_sqlite_rowid_aliases_and_postgres_identities() {
        let sql = table("users").create.to_string(SqliteQueryBuilder);
        assert!(
            sql.contains(r#""id" integer NOT NULL PRIMARY KEY AUTOINCREMENT"#),
            "{sql}"
        );
        let sql = table("users").create.to_string(PostgresQueryBuilder);
        assert!(
            sql.contains(r#""id" bigint GENERATED BY DEFAULT AS IDENTITY NOT NULL PRIMARY KEY"#),
            "{sql}"
        );
    }

    #[test]
    fn one_active_engagement_index_is_partial_on_both_databases() {
        let expected = r#"CREATE UNIQUE INDEX "engagements_one_active_per_request" ON "engagements" ("support_request_id") WHERE "status" = 'ACTIVE'"#;
        let engagements = table("engagements");
        let index = engagements
            .indexes
            .iter()
            .find(|i| i.get_index_spec().get_name() == Some(ONE_ACTIVE_ENGAGEMENT_PER_REQUEST))
            .expect("index exists");
        assert_eq!(index.to_string(SqliteQueryBuilder), expected);
        assert_eq!(index.to_string(PostgresQueryBuilder), expected);
    }

    /// apalis creates `Jobs` and `Workers` on SQLite, whose names ignore case.
    #[test]
    fn no_table_collides_with_the_job_queue() {
        for t in tables() {
            let name = t.name.to_string().to_lowercase();
            assert!(name != "jobs" && name != "workers", "{name}");
        }
    }

    #[test]
    fn enum_values_fit_their_columns() {
        for values in [
            ORGANISATION_STAGES,
            ROLES,
            PROVIDER_KINDS,
            MEETING_FORMATS,
            ENGAGEMENT_KINDS,
            SUPPORT_REQUEST_STATUSES,
            ENGAGEMENT_STATUSES,
            MEETING_STATUSES,
            CONCERN_CATEGORIES,
            CONCERN_STATUSES,
            REVIEW_PARTIES,
            SURVEY_STATUSES,
            QUESTION_KINDS,
            EMAIL_CATEGORIES,
            EMAIL_STATUSES,
            DIGEST_FREQUENCIES,
        ] {
            for value in values {
                assert!(value.len() <= ENUM_LEN as usize, "{value}");
            }
        }
    }
}
