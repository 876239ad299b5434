//! A person's email preferences, as a settings page shows them, and the
//! staff digest's frequency, which each staff member chooses for themself.

use async_graphql::{Context, Enum, Object};
use entity::{
    email_preferences,
    users::{self, Role},
};

use crate::{
    auth::{RoleGuard, viewer},
    error::ApiResult,
    programme::emails,
    state::AppState,
};

/// How often a staff member gets the digest of what needs attention.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(
    name = "DigestFrequency",
    remote = "entity::email_preferences::DigestFrequency"
)]
pub enum Frequency {
    /// Every day at the configured time (`HIVE_DIGEST_TIME`, London time).
    Daily,
    /// Mondays at that time.
    Weekly,
    /// No digest.
    Never,
}

/// The signed-in person's choices about email. Everything is on until they
/// say otherwise (a person with no stored row has the defaults).
pub struct EmailPreferences {
    user: users::Model,
    row: Option<email_preferences::Model>,
}

/// A person's choices about the email Hive sends them.
#[Object]
impl EmailPreferences {
    /// The address the choices belong to.
    async fn email(&self) -> &str {
        &self.user.email
    }
    /// How often the staff digest comes: NEVER also after an unsubscribe
    /// from digests. Null for everyone but staff, who alone get one.
    async fn digest_frequency(&self) -> Option<Frequency> {
        if self.user.role != Role::Staff {
            return None;
        }
        Some(match &self.row {
            None => Frequency::Daily,
            Some(row) if !row.digests => Frequency::Never,
            Some(row) => row.digest_frequency.into(),
        })
    }
    /// Meeting reminders wanted.
    async fn reminders(&self) -> bool {
        self.row.as_ref().is_none_or(|row| row.reminders)
    }
    /// Needs-survey emails wanted.
    async fn surveys(&self) -> bool {
        self.row.as_ref().is_none_or(|row| row.surveys)
    }
}

#[derive(Default)]
pub struct PreferencesQuery;

#[Object]
impl PreferencesQuery {
    /// The signed-in person's email preferences.
    #[graphql(guard = "RoleGuard::signed_in()")]
    async fn my_email_preferences(&self, ctx: &Context<'_>) -> ApiResult<EmailPreferences> {
        let state = ctx.data_unchecked::<AppState>();
        let user = viewer(ctx).require_user()?.clone();
        let row = emails::preferences_of(&state.db, &user).await?;
        Ok(EmailPreferences { user, row })
    }
}

#[derive(Default)]
pub struct PreferencesMutation;

#[Object]
impl PreferencesMutation {
    /// Sets how often the signed-in staff member gets the digest. Choosing
    /// DAILY or WEEKLY also undoes an earlier unsubscribe from digests: it is
    /// the clearer, later wish. The new choice applies from the next pass of
    /// the worker, so switching to DAILY after today's digest time brings
    /// today's digest (if there is something to say).
    #[graphql(guard = "RoleGuard::staff()")]
    async fn set_digest_frequency(
        &self,
        ctx: &Context<'_>,
        frequency: Frequency,
    ) -> ApiResult<EmailPreferences> {
        let state = ctx.data_unchecked::<AppState>();
        let viewer = viewer(ctx);
        let user = viewer.require_user()?.clone();
        let row = emails::set_digest_frequency(&state.db, viewer, frequency.into()).await?;
        Ok(EmailPreferences { user, row })
    }
}
