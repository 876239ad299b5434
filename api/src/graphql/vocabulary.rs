//! The `Topic` and `Sector` types, their lists, and the staff mutations that
//! keep them, translating to and from `programme::vocabulary`.

use async_graphql::{Context, ID, Object};
use chrono::{DateTime, Utc};
use entity::{sectors, topics};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use super::relay::{HiveConnection, NodeType, PageArgs, decode_id_of, global_id, paginate};
pub use crate::programme::vocabulary::{Term, Vocabulary, load_term};
use crate::{
    auth::{RoleGuard, viewer},
    error::{ApiError, ApiResult},
    programme::vocabulary,
    state::AppState,
};

/// A subject a co-op can ask for help with, and a provider can cover.
#[derive(Debug)]
pub struct Topic(pub Term);

// `serial`: every field is the term's own data, with nothing to wait for,
// so the fields resolve one after another without the set of futures
// async-graphql otherwise builds for each object (a page of 100 mentors
// has 800 topics and sectors; issue 19).
#[Object(serial)]
impl Topic {
    pub async fn id(&self) -> ID {
        global_id(NodeType::Topic, self.0.id)
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// Retired topics stay on old records but are not offered for new ones.
    async fn retired(&self) -> bool {
        self.0.retired_at.is_some()
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// A field of trade a co-op works in.
#[derive(Debug)]
pub struct Sector(pub Term);

// `serial`, as `Topic`.
#[Object(serial)]
impl Sector {
    pub async fn id(&self) -> ID {
        global_id(NodeType::Sector, self.0.id)
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// Retired sectors stay on old records but are not offered for new ones.
    async fn retired(&self) -> bool {
        self.0.retired_at.is_some()
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// The `NodeType` of a vocabulary's global ids.
fn node_type(kind: Vocabulary) -> NodeType {
    match kind {
        Vocabulary::Topic => NodeType::Topic,
        Vocabulary::Sector => NodeType::Sector,
    }
}

/// Reads a list of topic or sector ids given as `field`: BAD_USER_INPUT on
/// one that is not of that kind.
pub fn term_ids(kind: Vocabulary, field: &str, ids: &[ID]) -> ApiResult<Vec<i64>> {
    ids.iter()
        .map(|id| {
            decode_id_of(node_type(kind), id).map_err(|_| {
                ApiError::bad_input(field, format!("Not a {} id: {}", kind.label(), id.as_str()))
            })
        })
        .collect()
}

/// Checks that every id given as `field` names a current (not retired)
/// term; returns their numbers (see `programme::vocabulary::current_terms`).
pub async fn current_terms(
    conn: &impl ConnectionTrait,
    kind: Vocabulary,
    field: &str,
    ids: &[ID],
) -> ApiResult<Vec<i64>> {
    vocabulary::current_terms(conn, kind, field, &term_ids(kind, field, ids)?).await
}

#[derive(Default)]
pub struct VocabularyQuery;

#[Object]
impl VocabularyQuery {
    /// Topics in the order they were added; retired ones only when asked.
    #[graphql(guard = "RoleGuard::signed_in()")]
    async fn topics(
        &self,
        ctx: &Context<'_>,
        include_retired: Option<bool>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> ApiResult<HiveConnection<Topic>> {
        let state = ctx.data_unchecked::<AppState>();
        let mut select = topics::Entity::find();
        if include_retired != Some(true) {
            select = select.filter(topics::Column::RetiredAt.is_null());
        }
        paginate(
            &state.db,
            select,
            topics::Column::Id,
            PageArgs {
                after,
                before,
                first,
                last,
            },
            |row| Topic(row.into()),
        )
        .await
    }

    /// Sectors; retired ones only when asked.
    #[graphql(guard = "RoleGuard::signed_in()")]
    async fn sectors(
        &self,
        ctx: &Context<'_>,
        include_retired: Option<bool>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> ApiResult<HiveConnection<Sector>> {
        let state = ctx.data_unchecked::<AppState>();
        let mut select = sectors::Entity::find();
        if include_retired != Some(true) {
            select = select.filter(sectors::Column::RetiredAt.is_null());
        }
        paginate(
            &state.db,
            select,
            sectors::Column::Id,
            PageArgs {
                after,
                before,
                first,
                last,
            },
            |row| Sector(row.into()),
        )
        .await
    }
}

#[derive(Default)]
pub struct VocabularyMutation;

#[Object]
impl VocabularyMutation {
    /// Adds a topic (staff). CONFLICT if the name is taken.
    #[graphql(guard = "RoleGuard::staff()")]
    async fn create_topic(&self, ctx: &Context<'_>, name: String) -> ApiResult<Topic> {
        let state = ctx.data_unchecked::<AppState>();
        vocabulary::create(&state.db, viewer(ctx), Vocabulary::Topic, &name)
            .await
            .map(Topic)
    }

    /// Renames and/or retires (or un-retires) a topic (staff).
    #[graphql(guard = "RoleGuard::staff()")]
    async fn update_topic(
        &self,
        ctx: &Context<'_>,
        id: ID,
        name: Option<String>,
        retired: Option<bool>,
    ) -> ApiResult<Topic> {
        let state = ctx.data_unchecked::<AppState>();
        let number = decode_id_of(NodeType::Topic, &id)?;
        vocabulary::update(
            &state.db,
            viewer(ctx),
            Vocabulary::Topic,
            number,
            name.as_deref(),
            retired,
        )
        .await
        .map(Topic)
    }

    /// Adds a sector (staff). CONFLICT if the name is taken.
    #[graphql(guard = "RoleGuard::staff()")]
    async fn create_sector(&self, ctx: &Context<'_>, name: String) -> ApiResult<Sector> {
        let state = ctx.data_unchecked::<AppState>();
        vocabulary::create(&state.db, viewer(ctx), Vocabulary::Sector, &name)
            .await
            .map(Sector)
    }

    /// Renames and/or retires (or un-retires) a sector (staff).
    #[graphql(guard = "RoleGuard::staff()")]
    async fn update_sector(
        &self,
        ctx: &Context<'_>,
        id: ID,
        name: Option<String>,
        retired: Option<bool>,
    ) -> ApiResult<Sector> {
        let state = ctx.data_unchecked::<AppState>();
        let number = decode_id_of(NodeType::Sector, &id)?;
        vocabulary::update(
            &state.db,
            viewer(ctx),
            Vocabulary::Sector,
            number,
            name.as_deref(),
            retired,
        )
        .await
        .map(Sector)
    }
}
