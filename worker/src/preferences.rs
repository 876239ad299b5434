//! Which messages people may switch off, and whether an address has. Meeting
//! reminders, staff digests and needs surveys can be turned off, each on its
//! own; sign-in links, match messages, reviews, concerns and nudges cannot,
//! because the programme cannot run without them.

use entity::{email_preferences, emails::EmailCategory};

/// A kind of message a person may opt out of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptOut {
    Reminders,
    Digests,
    Surveys,
}

impl OptOut {
    /// The opt-out that covers `category`, if it may be switched off.
    pub fn of(category: EmailCategory) -> Option<Self> {
        match category {
            EmailCategory::Reminder => Some(OptOut::Reminders),
            EmailCategory::Digest => Some(OptOut::Digests),
            EmailCategory::Survey => Some(OptOut::Surveys),
            EmailCategory::SignIn
            | EmailCategory::Match
            | EmailCategory::Review
            | EmailCategory::Concern
            | EmailCategory::Nudge => None,
        }
    }

    /// How people read it: "meeting reminders".
    pub fn words(self) -> &'static str {
        match self {
            OptOut::Reminders => "meeting reminders",
            OptOut::Digests => "staff digests",
            OptOut::Surveys => "needs surveys",
        }
    }

    /// Whether `preferences` (none: the defaults) still let these through.
    pub fn allowed_by(self, preferences: Option<&email_preferences::Model>) -> bool {
        preferences.is_none_or(|p| match self {
            OptOut::Reminders => p.reminders,
            OptOut::Digests => p.digests,
            OptOut::Surveys => p.surveys,
        })
    }

    /// The column that holds the choice.
    pub fn column(self) -> email_preferences::Column {
        match self {
            OptOut::Reminders => email_preferences::Column::Reminders,
            OptOut::Digests => email_preferences::Column::Digests,
            OptOut::Surveys => email_preferences::Column::Surveys,
        }
    }
}

/// Sets one opt-out for `address` (lower-cased), creating its preferences
/// row with the defaults when it has none.
pub async fn set(
    conn: &impl sea_orm::ConnectionTrait,
    address: &str,
    opt_out: OptOut,
    wanted: bool,
) -> Result<(), sea_orm::DbErr> {
    use sea_orm::{ActiveValue::Set, EntityTrait, sea_query::OnConflict};

    let now = chrono::Utc::now();
    let mut row = email_preferences::ActiveModel {
        email: Set(address.trim().to_lowercase()),
        updated_at: Set(now),
        ..Default::default()
    };
    match opt_out {
        OptOut::Reminders => row.reminders = Set(wanted),
        OptOut::Digests => row.digests = Set(wanted),
        OptOut::Surveys => row.surveys = Set(wanted),
    }
    email_preferences::Entity::insert(row)
        .on_conflict(
            OnConflict::column(email_preferences::Column::Email)
                .update_columns([opt_out.column(), email_preferences::Column::UpdatedAt])
                .to_owned(),
        )
        .exec_without_returning(conn)
        .await?;
    Ok(())
}
