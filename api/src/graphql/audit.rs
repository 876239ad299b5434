//! The audit trail for staff: who changed what, and when.

use async_graphql::{Context, ID, InputObject, Object};
use chrono::{DateTime, Utc};
use entity::audit_log;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use super::{
    loaders::{Loaders, UserKey},
    node::{Node, load_node, unless_gone},
    relay::{HiveConnection, NodeType, PageArgs, decode_id_of, global_id, paginate},
    users::User,
};
use crate::{
    auth::{RoleGuard, viewer},
    error::{ApiError, ApiResult},
    state::AppState,
};

/// One recorded change. `detail` never holds a confidential value.
pub struct AuditEntry(pub audit_log::Model);

#[Object]
impl AuditEntry {
    pub async fn id(&self) -> ID {
        global_id(NodeType::AuditEntry, self.0.id)
    }
    /// What was acted on, when it still exists and is a Node; null with
    /// FORBIDDEN in the rare case the viewer may not read it (staff read
    /// everything but meeting notes, which are a field, not an object).
    async fn subject(&self, ctx: &Context<'_>) -> ApiResult<Option<Node>> {
        let (Some(kind), Some(id)) = (
            // Any case: the vocabularies record `topic` and `sector`.
            self.0.subject_type.as_deref().and_then(|name| {
                NodeType::ALL
                    .into_iter()
                    .find(|kind| kind.name().eq_ignore_ascii_case(name))
            }),
            self.0.subject_id,
        ) else {
            return Ok(None);
        };
        unless_gone(load_node(ctx, kind, id).await)
    }
    /// Who did it; null for the system or someone acting from an emailed link.
    async fn actor(&self, ctx: &Context<'_>) -> ApiResult<Option<User>> {
        let Some(id) = self.0.actor_user_id else {
            return Ok(None);
        };
        Ok(ctx
            .data_unchecked::<Loaders>()
            .load_one(UserKey(id))
            .await?
            .map(User::alone))
    }
    /// The operation, e.g. `proposeMatch`.
    async fn action(&self) -> &str {
        &self.0.action
    }
    /// The kind of thing acted on, e.g. `Engagement`.
    async fn subject_type(&self) -> Option<&str> {
        self.0.subject_type.as_deref()
    }
    /// The subject's row number.
    #[graphql(deprecation = "Use `subject { id }` instead.")]
    async fn subject_id(&self) -> Option<i64> {
        self.0.subject_id
    }
    /// Non-confidential facts as JSON text (ids, counts, changed field names).
    async fn detail(&self) -> Option<&str> {
        self.0.detail.as_deref()
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// Loads one entry for staff (`access::may_read_audit_trail`, checked
/// first, as `auditLog`'s guard does); FORBIDDEN for anyone else.
pub async fn load_entry(ctx: &Context<'_>, id: i64) -> ApiResult<AuditEntry> {
    if !crate::access::may_read_audit_trail(viewer(ctx)) {
        return Err(ApiError::forbidden("The audit trail is for staff."));
    }
    super::loaders::row::<audit_log::Entity>(ctx, id, "No audit entry has that id.")
        .await
        .map(AuditEntry)
}

/// Filters for the audit trail; all given conditions apply.
#[derive(InputObject, Default)]
pub struct AuditFilter {
    pub actor_id: Option<ID>,
    pub action: Option<String>,
    pub subject_type: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
}

#[derive(Default)]
pub struct AuditQuery;

#[Object]
impl AuditQuery {
    /// The audit trail (staff), oldest first; `last: 20` gives the latest.
    #[graphql(guard = "RoleGuard::staff()")]
    async fn audit_log(
        &self,
        ctx: &Context<'_>,
        filter: Option<AuditFilter>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> ApiResult<Option<HiveConnection<AuditEntry>>> {
        let state = ctx.data_unchecked::<AppState>();
        let filter = filter.unwrap_or_default();
        let mut select = audit_log::Entity::find();
        if let Some(id) = &filter.actor_id {
            let id = decode_id_of(NodeType::User, id)
                .map_err(|_| ApiError::bad_input("actorId", "Not a user id."))?;
            select = select.filter(audit_log::Column::ActorUserId.eq(id));
        }
        if let Some(action) = &filter.action {
            select = select.filter(audit_log::Column::Action.eq(action.trim()));
        }
        if let Some(kind) = &filter.subject_type {
            select = select.filter(audit_log::Column::SubjectType.eq(kind.trim()));
        }
        if let Some(since) = filter.since {
            select = select.filter(audit_log::Column::CreatedAt.gte(since));
        }
        if let Some(until) = filter.until {
            select = select.filter(audit_log::Column::CreatedAt.lt(until));
        }
        paginate(
            &state.db,
            select,
            audit_log::Column::Id,
            PageArgs {
                after,
                before,
                first,
                last,
            },
            AuditEntry,
        )
        .await
        .map(Some)
    }
}
