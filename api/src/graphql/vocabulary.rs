//! Topics and sectors: the programme's two vocabularies, kept by staff. A
//! retired term stays on the records that use it but is no longer offered.

use async_graphql::{Context, ID, Object};
use chrono::{DateTime, Utc};
use entity::{sectors, topics};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
};

use super::relay::{HiveConnection, NodeType, PageArgs, decode_id_of, global_id, paginate};
use crate::{
    audit,
    auth::{RoleGuard, viewer},
    error::{ApiError, ApiResult},
    state::AppState,
};

/// Which vocabulary an operation is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Vocabulary {
    Topic,
    Sector,
}

impl Vocabulary {
    fn node_type(self) -> NodeType {
        match self {
            Vocabulary::Topic => NodeType::Topic,
            Vocabulary::Sector => NodeType::Sector,
        }
    }
    fn label(self) -> &'static str {
        match self {
            Vocabulary::Topic => "topic",
            Vocabulary::Sector => "sector",
        }
    }
}

/// A row of either vocabulary; both tables have the same columns.
#[derive(Debug, Clone)]
pub struct Term {
    pub id: i64,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub retired_at: Option<DateTime<Utc>>,
}

impl From<topics::Model> for Term {
    fn from(row: topics::Model) -> Self {
        Term {
            id: row.id,
            name: row.name,
            created_at: row.created_at,
            retired_at: row.retired_at,
        }
    }
}

impl From<sectors::Model> for Term {
    fn from(row: sectors::Model) -> Self {
        Term {
            id: row.id,
            name: row.name,
            created_at: row.created_at,
            retired_at: row.retired_at,
        }
    }
}

/// A subject a co-op can ask for help with, and a provider can cover.
pub struct Topic(pub Term);

#[Object]
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
pub struct Sector(pub Term);

#[Object]
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

/// Checks a proposed name: 1 to 80 characters once trimmed.
fn clean_name(name: &str) -> ApiResult<String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 80 {
        return Err(ApiError::bad_input(
            "name",
            "Give a name of 1 to 80 characters.",
        ));
    }
    Ok(name.to_string())
}

fn conflict_on_unique(kind: Vocabulary) -> impl Fn(sea_orm::DbErr) -> ApiError {
    move |error| match error.sql_err() {
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_)) => {
            ApiError::conflict(format!("A {} with that name already exists.", kind.label()))
        }
        _ => error.into(),
    }
}

/// Loads one term, NOT_FOUND if absent.
pub async fn load_term(conn: &impl ConnectionTrait, kind: Vocabulary, id: i64) -> ApiResult<Term> {
    let found: Option<Term> = match kind {
        Vocabulary::Topic => topics::Entity::find_by_id(id)
            .one(conn)
            .await?
            .map(Into::into),
        Vocabulary::Sector => sectors::Entity::find_by_id(id)
            .one(conn)
            .await?
            .map(Into::into),
    };
    found.ok_or_else(|| ApiError::not_found(format!("No {} has that id.", kind.label())))
}

/// Checks that every id names a current (not retired) term; returns the ids.
pub async fn current_terms(
    conn: &impl ConnectionTrait,
    kind: Vocabulary,
    field: &str,
    ids: &[ID],
) -> ApiResult<Vec<i64>> {
    let mut numbers = Vec::with_capacity(ids.len());
    for id in ids {
        let number = decode_id_of(kind.node_type(), id).map_err(|_| {
            ApiError::bad_input(field, format!("Not a {} id: {}", kind.label(), id.as_str()))
        })?;
        if !numbers.contains(&number) {
            numbers.push(number);
        }
    }
    let found: Vec<Term> = match kind {
        Vocabulary::Topic => topics::Entity::find()
            .filter(topics::Column::Id.is_in(numbers.clone()))
            .all(conn)
            .await?
            .into_iter()
            .map(Into::into)
            .collect(),
        Vocabulary::Sector => sectors::Entity::find()
            .filter(sectors::Column::Id.is_in(numbers.clone()))
            .all(conn)
            .await?
            .into_iter()
            .map(Into::into)
            .collect(),
    };
    for number in &numbers {
        match found.iter().find(|term| term.id == *number) {
            None => {
                return Err(ApiError::bad_input(
                    field,
                    format!("No {} has the id given.", kind.label()),
                ));
            }
            Some(term) if term.retired_at.is_some() => {
                return Err(ApiError::bad_input(
                    field,
                    format!("The {} \"{}\" is retired.", kind.label(), term.name),
                ));
            }
            Some(_) => {}
        }
    }
    Ok(numbers)
}

async fn create(ctx: &Context<'_>, kind: Vocabulary, name: String) -> ApiResult<Term> {
    let state = ctx.data_unchecked::<AppState>();
    let name = clean_name(&name)?;
    let now = Utc::now();
    let txn = hive_worker::db::begin_write(&state.db).await?;
    let term: Term = match kind {
        Vocabulary::Topic => topics::ActiveModel {
            name: Set(name),
            created_at: Set(now),
            retired_at: Set(None),
            ..Default::default()
        }
        .insert(&txn)
        .await
        .map_err(conflict_on_unique(kind))?
        .into(),
        Vocabulary::Sector => sectors::ActiveModel {
            name: Set(name),
            created_at: Set(now),
            retired_at: Set(None),
            ..Default::default()
        }
        .insert(&txn)
        .await
        .map_err(conflict_on_unique(kind))?
        .into(),
    };
    audit::record(
        &txn,
        viewer(ctx),
        &format!("create_{}", kind.label()),
        Some((kind.label(), term.id)),
        None,
    )
    .await?;
    txn.commit().await?;
    Ok(term)
}

async fn update(
    ctx: &Context<'_>,
    kind: Vocabulary,
    id: &ID,
    name: Option<String>,
    retired: Option<bool>,
) -> ApiResult<Term> {
    let state = ctx.data_unchecked::<AppState>();
    let number = decode_id_of(kind.node_type(), id)?;
    let name = name.map(|n| clean_name(&n)).transpose()?;
    let txn = hive_worker::db::begin_write(&state.db).await?;
    let current = load_term(&txn, kind, number).await?;
    let retired_at = match retired {
        Some(true) => current.retired_at.or(Some(Utc::now())),
        Some(false) => None,
        None => current.retired_at,
    };
    let name = name.unwrap_or(current.name);
    let term: Term = match kind {
        Vocabulary::Topic => topics::ActiveModel {
            id: Set(number),
            name: Set(name),
            retired_at: Set(retired_at),
            ..Default::default()
        }
        .update(&txn)
        .await
        .map_err(conflict_on_unique(kind))?
        .into(),
        Vocabulary::Sector => sectors::ActiveModel {
            id: Set(number),
            name: Set(name),
            retired_at: Set(retired_at),
            ..Default::default()
        }
        .update(&txn)
        .await
        .map_err(conflict_on_unique(kind))?
        .into(),
    };
    audit::record(
        &txn,
        viewer(ctx),
        &format!("update_{}", kind.label()),
        Some((kind.label(), number)),
        None,
    )
    .await?;
    txn.commit().await?;
    Ok(term)
}

#[derive(Default)]
pub struct VocabularyQuery;

#[Object]
impl VocabularyQuery {
    /// Topics in the order they were added; retired ones only when asked.
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
        create(ctx, Vocabulary::Topic, name).await.map(Topic)
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
        update(ctx, Vocabulary::Topic, &id, name, retired)
            .await
            .map(Topic)
    }

    /// Adds a sector (staff). CONFLICT if the name is taken.
    #[graphql(guard = "RoleGuard::staff()")]
    async fn create_sector(&self, ctx: &Context<'_>, name: String) -> ApiResult<Sector> {
        create(ctx, Vocabulary::Sector, name).await.map(Sector)
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
        update(ctx, Vocabulary::Sector, &id, name, retired)
            .await
            .map(Sector)
    }
}
