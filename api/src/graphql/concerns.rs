//! Safeguarding concerns: either party may raise one on an engagement (criminal
//! conduct, harassment, bullying, other); staff are emailed at once — without
//! the details, which stay in Hive — and resolve it with an outcome. A concern
//! is visible to staff and to the person who raised it.

use async_graphql::{Context, Enum, ID, Object};
use chrono::{DateTime, Utc};
use entity::concerns::{self, ConcernStatus};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

use super::{
    engagements::{Engagement, load_engagement},
    loaders::row,
    loaders::{ConfidentialRead, trace_confidential_read},
    relay::{HiveConnection, NodeType, PageArgs, decode_id_of, global_id, paginate},
    users::{User, load_user},
};
use crate::{
    auth::{RoleGuard, viewer},
    error::{ApiError, ApiResult},
    programme,
    state::AppState,
};

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(name = "ConcernCategory", remote = "entity::concerns::ConcernCategory")]
pub enum Category {
    CriminalConduct,
    Harassment,
    Bullying,
    Other,
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(name = "ConcernStatus", remote = "entity::concerns::ConcernStatus")]
pub enum Status {
    Open,
    Resolved,
}

/// A concern, as staff or the person who raised it see it.
pub struct Concern(pub concerns::Model);

#[Object]
impl Concern {
    pub async fn id(&self) -> ID {
        global_id(NodeType::Concern, self.0.id)
    }
    #[graphql(deprecation = "Use `engagement { id }` instead.")]
    async fn engagement_id(&self) -> ID {
        global_id(NodeType::Engagement, self.0.engagement_id)
    }
    /// The engagement it was raised on: null with FORBIDDEN for a raiser no
    /// longer able to see it (none is, today: only its parties raise one).
    async fn engagement(&self, ctx: &Context<'_>) -> ApiResult<Option<Engagement>> {
        load_engagement(ctx, self.0.engagement_id)
            .await
            .map(|row| Some(Engagement::alone(row)))
    }
    /// Who raised it: staff, or the raiser themself, read it.
    async fn raised_by(&self, ctx: &Context<'_>) -> ApiResult<Option<User>> {
        load_user(ctx, self.0.raised_by_user_id).await.map(Some)
    }
    async fn category(&self) -> Category {
        self.0.category.into()
    }
    /// What happened, as the raiser wrote it. Each staff read is recorded in
    /// `auditLog` (`readConcernDetails`).
    async fn details(&self, ctx: &Context<'_>) -> ApiResult<&str> {
        trace_confidential_read(ctx, ConfidentialRead::ConcernDetails, self.0.id).await?;
        Ok(&self.0.details)
    }
    async fn status(&self) -> Status {
        self.0.status.into()
    }
    async fn outcome(&self) -> Option<&str> {
        self.0.outcome.as_deref()
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn resolved_at(&self) -> Option<DateTime<Utc>> {
        self.0.resolved_at
    }
}

/// Loads a concern for staff and the person who raised it
/// (`access::may_read_concern`, as `concerns` lists them); FORBIDDEN for
/// anyone else.
pub async fn load_concern(ctx: &Context<'_>, id: i64) -> ApiResult<Concern> {
    let concern = row::<concerns::Entity>(ctx, id, "No concern has that id.").await?;
    if !crate::access::may_read_concern(viewer(ctx), concern.raised_by_user_id)? {
        return Err(ApiError::forbidden(
            "A concern is for staff and the person who raised it.",
        ));
    }
    Ok(Concern(concern))
}

/// The concerns a viewer may list (see `access::concerns_raised_by`), of
/// one status if given.
fn visible_concerns(
    viewer: &crate::auth::Viewer,
    status: Option<Status>,
) -> ApiResult<sea_orm::Select<concerns::Entity>> {
    let mut select = concerns::Entity::find();
    if let Some(raiser) = crate::access::concerns_raised_by(viewer)? {
        select = select.filter(concerns::Column::RaisedByUserId.eq(raiser));
    }
    if let Some(status) = status {
        select = select.filter(concerns::Column::Status.eq(ConcernStatus::from(status)));
    }
    Ok(select)
}

#[derive(Default)]
pub struct ConcernQuery;

#[Object]
impl ConcernQuery {
    /// Concerns, oldest first: staff see all; others those they raised.
    #[graphql(
        guard = "RoleGuard::signed_in()",
        deprecation = "Use `concernsConnection`, which pages."
    )]
    async fn concerns(&self, ctx: &Context<'_>, status: Option<Status>) -> ApiResult<Vec<Concern>> {
        let state = ctx.data_unchecked::<AppState>();
        Ok(visible_concerns(viewer(ctx), status)?
            .order_by_asc(concerns::Column::Id)
            .all(&state.db)
            .await?
            .into_iter()
            .map(Concern)
            .collect())
    }

    /// Concerns, oldest first, a page at a time: staff see all; others
    /// those they raised.
    #[graphql(guard = "RoleGuard::signed_in()")]
    async fn concerns_connection(
        &self,
        ctx: &Context<'_>,
        status: Option<Status>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> ApiResult<HiveConnection<Concern>> {
        let state = ctx.data_unchecked::<AppState>();
        paginate(
            &state.db,
            visible_concerns(viewer(ctx), status)?,
            concerns::Column::Id,
            PageArgs {
                after,
                before,
                first,
                last,
            },
            Concern,
        )
        .await
    }
}

#[derive(Default)]
pub struct ConcernMutation;

#[Object]
impl ConcernMutation {
    /// Raises a concern on an engagement (either party); staff are told at once.
    #[graphql(guard = "RoleGuard::signed_in()")]
    async fn raise_concern(
        &self,
        ctx: &Context<'_>,
        engagement_id: ID,
        category: Category,
        details: String,
    ) -> ApiResult<Concern> {
        let state = ctx.data_unchecked::<AppState>();
        let id = decode_id_of(NodeType::Engagement, &engagement_id)?;
        let row = programme::concerns::raise(
            &state.db,
            &state.settings.public_url,
            viewer(ctx),
            id,
            category.into(),
            &details,
        )
        .await?;
        state.outbox_signal.notify_one();
        Ok(Concern(row))
    }

    /// Closes a concern with its outcome (staff).
    #[graphql(guard = "RoleGuard::staff()")]
    async fn resolve_concern(
        &self,
        ctx: &Context<'_>,
        concern_id: ID,
        outcome: String,
    ) -> ApiResult<Concern> {
        let state = ctx.data_unchecked::<AppState>();
        let id = decode_id_of(NodeType::Concern, &concern_id)?;
        programme::concerns::resolve(&state.db, viewer(ctx), id, &outcome)
            .await
            .map(Concern)
    }
}
