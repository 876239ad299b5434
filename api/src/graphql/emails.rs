//! Email delivery for staff: every message Hive sent or tried to send, the
//! dead ones to retry, and the addresses that bounce. A message's content is
//! never shown (it may carry a secret link); its template, recipient and
//! outcome are.

use async_graphql::{Context, Enum, ID, InputObject, Object};
use chrono::{DateTime, Utc};
use entity::{
    email_preferences,
    emails::{self, EmailStatus},
};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use super::relay::{HiveConnection, NodeType, PageArgs, decode_id_of, global_id, paginate};
use crate::{
    auth::{RoleGuard, viewer},
    error::{ApiError, ApiResult},
    programme,
    state::AppState,
};

/// Where a message stands.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(name = "EmailStatus", remote = "entity::emails::EmailStatus")]
pub enum Status {
    /// Waiting to be sent, or to be tried again after a temporary failure.
    Pending,
    Sent,
    /// Refused for good by the receiving server; the address is now bouncing.
    Failed,
    /// Gave up after repeated temporary failures; staff may retry it.
    Dead,
    /// Not sent: the recipient opted out of its kind, or the address bounces.
    Suppressed,
}

/// What a message is about; people opt out by category.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(name = "EmailCategory", remote = "entity::emails::EmailCategory")]
pub enum Category {
    SignIn,
    Match,
    Reminder,
    Review,
    Survey,
    Digest,
    Concern,
    Nudge,
}

/// One message and what became of it.
pub struct EmailDelivery(pub emails::Model);

#[Object]
impl EmailDelivery {
    pub async fn id(&self) -> ID {
        global_id(NodeType::EmailDelivery, self.0.id)
    }
    async fn recipient(&self) -> &str {
        &self.0.recipient
    }
    async fn category(&self) -> Category {
        self.0.category.into()
    }
    /// The message, e.g. `match_proposed` (a folder of `worker/templates`).
    async fn template(&self) -> &str {
        &self.0.template
    }
    async fn status(&self) -> Status {
        self.0.status.into()
    }
    /// Tries so far.
    async fn attempts(&self) -> i32 {
        self.0.attempts
    }
    /// What the last failed try said.
    async fn last_error(&self) -> Option<&str> {
        self.0.last_error.as_deref()
    }
    /// When a pending message is next tried (or falls due, for reminders).
    async fn next_attempt_at(&self) -> Option<DateTime<Utc>> {
        (self.0.status == EmailStatus::Pending).then_some(self.0.next_attempt_at)
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn sent_at(&self) -> Option<DateTime<Utc>> {
        self.0.sent_at
    }
}

/// Loads one delivery for staff (`access::may_read_email_deliveries`,
/// checked first, as `emailDeliveries`' guard does); FORBIDDEN for anyone
/// else.
pub async fn load_delivery(ctx: &Context<'_>, id: i64) -> ApiResult<EmailDelivery> {
    if !crate::access::may_read_email_deliveries(viewer(ctx)) {
        return Err(ApiError::forbidden("Email deliveries are for staff."));
    }
    super::loaders::row::<emails::Entity>(ctx, id, "No email delivery has that id.")
        .await
        .map(EmailDelivery)
}

/// An address that bounced permanently: Hive no longer mails it (sign-in
/// links aside) until staff clear it.
pub struct BouncingAddress(pub email_preferences::Model);

#[Object]
impl BouncingAddress {
    async fn email(&self) -> &str {
        &self.0.email
    }
    async fn bounced_at(&self) -> Option<DateTime<Utc>> {
        self.0.bounced_at
    }
    /// What the receiving server said.
    async fn reason(&self) -> Option<&str> {
        self.0.bounce_reason.as_deref()
    }
}

/// Filters for the delivery list; all given conditions apply.
#[derive(InputObject, Default)]
pub struct EmailDeliveryFilter {
    pub status: Option<Status>,
    pub category: Option<Category>,
    /// The exact address (any case).
    pub recipient: Option<String>,
}

#[derive(Default)]
pub struct EmailQuery;

#[Object]
impl EmailQuery {
    /// Every message, oldest first (staff); `last: 20` gives the latest,
    /// `filter: {status: DEAD}` those waiting for a decision.
    #[graphql(guard = "RoleGuard::staff()")]
    async fn email_deliveries(
        &self,
        ctx: &Context<'_>,
        filter: Option<EmailDeliveryFilter>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> ApiResult<Option<HiveConnection<EmailDelivery>>> {
        let state = ctx.data_unchecked::<AppState>();
        let filter = filter.unwrap_or_default();
        let mut select = emails::Entity::find();
        if let Some(status) = filter.status {
            select = select.filter(emails::Column::Status.eq(EmailStatus::from(status)));
        }
        if let Some(category) = filter.category {
            select = select
                .filter(emails::Column::Category.eq(entity::emails::EmailCategory::from(category)));
        }
        if let Some(recipient) = &filter.recipient {
            select = select.filter(emails::Column::Recipient.eq(recipient.trim().to_lowercase()));
        }
        paginate(
            &state.db,
            select,
            emails::Column::Id,
            PageArgs {
                after,
                before,
                first,
                last,
            },
            EmailDelivery,
        )
        .await
        .map(Some)
    }

    /// Addresses that bounce permanently (staff).
    #[graphql(guard = "RoleGuard::staff()")]
    async fn bouncing_addresses(
        &self,
        ctx: &Context<'_>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> ApiResult<Option<HiveConnection<BouncingAddress>>> {
        let state = ctx.data_unchecked::<AppState>();
        paginate(
            &state.db,
            email_preferences::Entity::find()
                .filter(email_preferences::Column::BouncedAt.is_not_null()),
            email_preferences::Column::Id,
            PageArgs {
                after,
                before,
                first,
                last,
            },
            BouncingAddress,
        )
        .await
        .map(Some)
    }
}

#[derive(Default)]
pub struct EmailMutation;

#[Object]
impl EmailMutation {
    /// Sends a DEAD or FAILED message again, from its first attempt (staff).
    /// A message to a bouncing address needs the bounce cleared first.
    #[graphql(guard = "RoleGuard::staff()")]
    async fn retry_email(&self, ctx: &Context<'_>, id: ID) -> ApiResult<EmailDelivery> {
        let state = ctx.data_unchecked::<AppState>();
        let id = decode_id_of(NodeType::EmailDelivery, &id)?;
        let row = programme::emails::retry(&state.db, viewer(ctx), id).await?;
        state.outbox_signal.notify_one();
        Ok(EmailDelivery(row))
    }

    /// Lets mail go to an address again after its owner fixed it (staff).
    #[graphql(guard = "RoleGuard::staff()")]
    async fn clear_bounce(&self, ctx: &Context<'_>, email: String) -> ApiResult<bool> {
        let state = ctx.data_unchecked::<AppState>();
        programme::emails::clear_bounce(&state.db, viewer(ctx), &email).await?;
        Ok(true)
    }
}
