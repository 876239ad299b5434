//! Topics and sectors: the programme's two vocabularies, kept by staff. A
//! retired term stays on the records that use it but is no longer offered
//! for new ones.

use chrono::{DateTime, Utc};
use entity::{sectors, topics};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection,
    EntityTrait, QueryFilter,
};

use super::change::Change;
use crate::{
    access,
    auth::Viewer,
    error::{ApiError, ApiResult},
};

/// Which vocabulary an operation is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Vocabulary {
    Topic,
    Sector,
}

impl Vocabulary {
    /// The word for one term, in messages and the audit trail.
    pub fn label(self) -> &'static str {
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

/// Checks that every id names a current (not retired) term; returns the
/// ids once each, in the order given. BAD_USER_INPUT on `field` otherwise.
pub async fn current_terms(
    conn: &impl ConnectionTrait,
    kind: Vocabulary,
    field: &str,
    ids: &[i64],
) -> ApiResult<Vec<i64>> {
    let mut numbers = Vec::with_capacity(ids.len());
    for number in ids {
        if !numbers.contains(number) {
            numbers.push(*number);
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

/// Adds a term (staff); CONFLICT if the name is taken.
pub async fn create(
    db: &DatabaseConnection,
    viewer: &Viewer,
    kind: Vocabulary,
    name: &str,
) -> ApiResult<Term> {
    access::require_staff(viewer)?;
    let name = clean_name(name)?;
    let now = Utc::now();
    let change = Change::begin(db, viewer).await?;
    let term: Term = match kind {
        Vocabulary::Topic => topics::ActiveModel {
            name: Set(name),
            created_at: Set(now),
            retired_at: Set(None),
            ..Default::default()
        }
        .insert(change.db())
        .await
        .map_err(conflict_on_unique(kind))?
        .into(),
        Vocabulary::Sector => sectors::ActiveModel {
            name: Set(name),
            created_at: Set(now),
            retired_at: Set(None),
            ..Default::default()
        }
        .insert(change.db())
        .await
        .map_err(conflict_on_unique(kind))?
        .into(),
    };
    change
        .audit(
            &format!("create_{}", kind.label()),
            Some((kind.label(), term.id)),
            None,
        )
        .await?;
    change.commit().await?;
    Ok(term)
}

/// Renames and/or retires (or brings back) a term (staff); CONFLICT if the
/// new name is taken. The term is locked before it is read.
pub async fn update(
    db: &DatabaseConnection,
    viewer: &Viewer,
    kind: Vocabulary,
    number: i64,
    name: Option<&str>,
    retired: Option<bool>,
) -> ApiResult<Term> {
    access::require_staff(viewer)?;
    let name = name.map(clean_name).transpose()?;
    let change = Change::begin(db, viewer).await?;
    let missing = format!("No {} has that id.", kind.label());
    let current: Term = match kind {
        Vocabulary::Topic => change
            .lock_by_id::<topics::Entity>(number, &missing)
            .await?
            .into(),
        Vocabulary::Sector => change
            .lock_by_id::<sectors::Entity>(number, &missing)
            .await?
            .into(),
    };
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
        .update(change.db())
        .await
        .map_err(conflict_on_unique(kind))?
        .into(),
        Vocabulary::Sector => sectors::ActiveModel {
            id: Set(number),
            name: Set(name),
            retired_at: Set(retired_at),
            ..Default::default()
        }
        .update(change.db())
        .await
        .map_err(conflict_on_unique(kind))?
        .into(),
    };
    change
        .audit(
            &format!("update_{}", kind.label()),
            Some((kind.label(), number)),
            None,
        )
        .await?;
    change.commit().await?;
    Ok(term)
}
