//! Safeguarding concerns: either party may raise one on an engagement (criminal
//! conduct, harassment, bullying, other); staff are emailed at once — without
//! the details, which stay in Hive — and resolve it with an outcome. A concern
//! is visible to staff and to the person who raised it.

use async_graphql::{Context, Enum, ID, Object};
use chrono::{DateTime, Utc};
use entity::concerns::{self, ConcernStatus};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

use super::relay::{NodeType, decode_id_of, global_id};
use crate::{
    auth::{RoleGuard, viewer},
    error::ApiResult,
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
    async fn id(&self) -> ID {
        global_id(NodeType::Concern, self.0.id)
    }
    async fn engagement_id(&self) -> ID {
        global_id(NodeType::Engagement, self.0.engagement_id)
    }
    async fn category(&self) -> Category {
        self.0.category.into()
    }
    async fn details(&self) -> &str {
        &self.0.details
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

#[derive(Default)]
pub struct ConcernQuery;

#[Object]
impl ConcernQuery {
    /// Concerns: staff see all (open first); others those they raised.
    #[graphql(guard = "RoleGuard::signed_in()")]
    async fn concerns(&self, ctx: &Context<'_>, status: Option<Status>) -> ApiResult<Vec<Concern>> {
        let state = ctx.data_unchecked::<AppState>();
        let mut select = concerns::Entity::find().order_by_asc(concerns::Column::Id);
        if let Some(raiser) = crate::access::concerns_raised_by(viewer(ctx))? {
            select = select.filter(concerns::Column::RaisedByUserId.eq(raiser));
        }
        if let Some(status) = status {
            select = select.filter(concerns::Column::Status.eq(ConcernStatus::from(status)));
        }
        Ok(select
            .all(&state.db)
            .await?
            .into_iter()
            .map(Concern)
            .collect())
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
