//! Safeguarding concerns: either party may raise one on an engagement (criminal
//! conduct, harassment, bullying, other); staff are emailed at once — without
//! the details, which stay in Hive — and resolve it with an outcome. A concern
//! is visible to staff and to the person who raised it.

use async_graphql::{Context, Enum, ID, Object};
use chrono::{DateTime, Utc};
use entity::{
    concerns::{self, ConcernStatus},
    engagements,
    users::Role,
};
use hive_worker::jobs::concern_alerts;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder,
};

use super::relay::{NodeType, decode_id_of, global_id};
use crate::{
    access::{Party, party},
    audit,
    auth::{RoleGuard, viewer},
    error::{ApiError, ApiResult},
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
        let user = viewer(ctx).require_user()?;
        let mut select = concerns::Entity::find().order_by_asc(concerns::Column::Id);
        if user.role != Role::Staff {
            select = select.filter(concerns::Column::RaisedByUserId.eq(user.id));
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
        let viewer = viewer(ctx);
        let user = viewer.require_user()?;
        let details = details.trim();
        if details.is_empty() || details.chars().count() > 10_000 {
            return Err(ApiError::bad_input(
                "details",
                "Say what happened, in up to 10,000 characters.",
            ));
        }
        let id = decode_id_of(NodeType::Engagement, &engagement_id)?;
        let txn = hive_worker::db::begin_write(&state.db).await?;
        let engagement = engagements::Entity::find_by_id(id)
            .one(&txn)
            .await?
            .ok_or_else(|| ApiError::not_found("No engagement has that id."))?;
        if !matches!(
            party(&txn, viewer, &engagement).await?,
            Party::Provider | Party::ClientMember
        ) {
            return Err(ApiError::forbidden(
                "Only the two parties raise a concern on an engagement.",
            ));
        }
        let row = concerns::ActiveModel {
            engagement_id: Set(engagement.id),
            raised_by_user_id: Set(user.id),
            category: Set(category.into()),
            details: Set(details.to_string()),
            status: Set(ConcernStatus::Open),
            created_at: Set(Utc::now()),
            ..Default::default()
        }
        .insert(&txn)
        .await?;
        concern_alerts::raised(&txn, &state.settings.public_url, &row, &engagement).await?;
        audit::record(
            &txn,
            viewer,
            "raiseConcern",
            Some(("Concern", row.id)),
            None,
        )
        .await?;
        txn.commit().await?;
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
        let outcome = outcome.trim();
        if outcome.is_empty() || outcome.chars().count() > 10_000 {
            return Err(ApiError::bad_input(
                "outcome",
                "Say how it was resolved, in up to 10,000 characters.",
            ));
        }
        let id = decode_id_of(NodeType::Concern, &concern_id)?;
        let txn = hive_worker::db::begin_write(&state.db).await?;
        let concern = concerns::Entity::find_by_id(id)
            .one(&txn)
            .await?
            .ok_or_else(|| ApiError::not_found("No concern has that id."))?;
        if concern.status == ConcernStatus::Resolved {
            return Err(ApiError::conflict("This concern is already resolved."));
        }
        let mut row: concerns::ActiveModel = concern.into();
        row.status = Set(ConcernStatus::Resolved);
        row.outcome = Set(Some(outcome.to_string()));
        row.resolved_by_user_id = Set(viewer(ctx).user.as_ref().map(|u| u.id));
        row.resolved_at = Set(Some(Utc::now()));
        let row = row.update(&txn).await?;
        audit::record(
            &txn,
            viewer(ctx),
            "resolveConcern",
            Some(("Concern", row.id)),
            None,
        )
        .await?;
        txn.commit().await?;
        Ok(Concern(row))
    }
}
