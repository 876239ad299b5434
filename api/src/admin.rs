//! Command-line administration: the first staff account, and accounts for
//! scripts.

use chrono::Utc;
use entity::{
    organisations,
    users::{self, Role},
};
use hive_worker::tokens::SecretToken;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter,
};

use crate::{auth, graphql::guard::text_rules::PERSON_NAME};

/// Why an account could not be created; printed as one line.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("'{0}' is not an email address")]
    BadEmail(String),
    #[error("the name cannot be empty")]
    EmptyName,
    #[error("{0}")]
    BadName(String),
    #[error("a member must belong to an organisation: pass --organisation ID")]
    MemberWithoutOrganisation,
    #[error("no organisation has id {0}")]
    UnknownOrganisation(i64),
    #[error("a user with the address {0} already exists with role {1:?}")]
    RoleMismatch(String, Role),
    #[error(transparent)]
    Database(#[from] sea_orm::DbErr),
}

/// Creates the user (or finds the existing one with the same address and
/// role) and starts a session for it, so scripts can run it twice safely.
pub async fn create_user(
    db: &DatabaseConnection,
    email: &str,
    name: &str,
    role: Role,
    organisation_id: Option<i64>,
    session_lifetime: chrono::Duration,
) -> Result<(users::Model, SecretToken), AdminError> {
    let email = auth::normalise_email(email).ok_or_else(|| AdminError::BadEmail(email.into()))?;
    let name = name.trim();
    if name.is_empty() {
        return Err(AdminError::EmptyName);
    }
    crate::text::check(PERSON_NAME, name)
        .map_err(|problem| AdminError::BadName(problem.message("--name")))?;
    if role == Role::Member && organisation_id.is_none() {
        return Err(AdminError::MemberWithoutOrganisation);
    }
    if let Some(id) = organisation_id
        && organisations::Entity::find_by_id(id)
            .one(db)
            .await?
            .is_none()
    {
        return Err(AdminError::UnknownOrganisation(id));
    }
    let existing = users::Entity::find()
        .filter(users::Column::Email.eq(&email))
        .one(db)
        .await?;
    let user = match existing {
        Some(user) if user.role == role => user,
        Some(user) => return Err(AdminError::RoleMismatch(email, user.role)),
        None => {
            users::ActiveModel {
                email: Set(email),
                name: Set(name.to_string()),
                role: Set(role),
                organisation_id: Set(organisation_id),
                created_at: Set(Utc::now()),
                deactivated_at: Set(None),
                ..Default::default()
            }
            .insert(db)
            .await?
        }
    };
    let (token, _) = auth::create_session(db, &user, session_lifetime).await?;
    Ok((user, token))
}
