//! Accounts: staff give a person an account (a co-op's member, a provider,
//! another staff member), and the person is emailed a welcome sign-in link.

use entity::{
    calendar_feeds, organisations, sessions, sign_in_tokens,
    users::{self, Role},
};
use hive_worker::jobs::sign_in_links::Occasion;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr,
    EntityTrait, QueryFilter, QuerySelect, sea_query::Expr,
};

use super::change::Change;
use crate::{
    access,
    auth::Viewer,
    error::{ApiError, ApiResult},
};

/// Checks and inserts an account on the caller's transaction. CONFLICT when
/// the address is taken, also when two requests race for it.
pub async fn insert_account(
    conn: &impl ConnectionTrait,
    email: &str,
    name: &str,
    role: Role,
    organisation_id: Option<i64>,
) -> ApiResult<users::Model> {
    let email = crate::auth::normalise_email(email)
        .ok_or_else(|| ApiError::bad_input("email", "That is not an email address."))?;
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(ApiError::bad_input(
            "name",
            "Give a name of 1 to 200 characters.",
        ));
    }
    if role == Role::Member && organisation_id.is_none() {
        return Err(ApiError::bad_input(
            "organisationId",
            "A member belongs to a co-op: give its id.",
        ));
    }
    if let Some(id) = organisation_id {
        entity::organisations::Entity::find_by_id(id)
            .one(conn)
            .await?
            .ok_or_else(|| ApiError::not_found("No organisation has that id."))?;
    }
    let taken = || ApiError::conflict("Someone already has an account with that address.");
    if users::Entity::find()
        .filter(users::Column::Email.eq(&email))
        .one(conn)
        .await?
        .is_some()
    {
        return Err(taken());
    }
    users::ActiveModel {
        email: Set(email),
        name: Set(name.to_string()),
        role: Set(role),
        organisation_id: Set(organisation_id),
        created_at: Set(chrono::Utc::now()),
        deactivated_at: Set(None),
        ..Default::default()
    }
    .insert(conn)
    .await
    .map_err(|error| match error.sql_err() {
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_)) => taken(),
        _ => error.into(),
    })
}

/// An account to give: who, in what role, and (a MEMBER's) co-op.
#[derive(Debug, Clone, Copy)]
pub struct NewAccount<'a> {
    pub email: &'a str,
    pub name: &'a str,
    pub role: Role,
    /// Required for a MEMBER.
    pub organisation_id: Option<i64>,
}

/// Creates an account (staff), emails a welcome sign-in link and records
/// `action` in the trail, all in one change.
pub async fn create(
    db: &DatabaseConnection,
    public_url: &str,
    viewer: &Viewer,
    account: NewAccount<'_>,
    action: &str,
) -> ApiResult<users::Model> {
    access::require_staff(viewer)?;
    let change = Change::begin(db, viewer).await?;
    if let (Role::Member, Some(organisation_id)) = (account.role, account.organisation_id) {
        // No new member for a co-op that has left or was erased: they would
        // get its mail again.
        let organisation = change
            .lock_shared(
                organisations::Entity::find_by_id(organisation_id),
                "No organisation has that id.",
            )
            .await?;
        super::organisations::still_taking_part(&organisation)?;
    }
    let user = insert_account(
        change.db(),
        account.email,
        account.name,
        account.role,
        account.organisation_id,
    )
    .await?;
    crate::auth::queue_sign_in_link(change.db(), public_url, &user, Occasion::Welcome).await?;
    change.audit(action, Some(("User", user.id)), None).await?;
    change.commit().await?;
    Ok(user)
}

/// What [`shut_out`] ended.
#[derive(Debug, Default)]
pub struct ShutOut {
    /// The sessions it revoked: the caller forgets them from its process's
    /// session cache once its transaction has committed
    /// (`SessionCache::forget_session`; before the commit, a request could
    /// cache one again from the database).
    pub revoked_sessions: Vec<i64>,
    /// Rows changed: sessions revoked, sign-in links and feeds deleted.
    pub changes: u64,
}

/// Ends every way a person had in: their live sessions are revoked, their
/// sign-in links (used or not) and their calendar feed deleted. For someone
/// who has left their co-op (`removeMember`) or is erased (`erasePerson`);
/// run inside the caller's transaction.
pub async fn shut_out(
    conn: &impl ConnectionTrait,
    user_id: i64,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<ShutOut, DbErr> {
    let revoked_sessions: Vec<i64> = sessions::Entity::find()
        .select_only()
        .column(sessions::Column::Id)
        .filter(sessions::Column::UserId.eq(user_id))
        .filter(sessions::Column::RevokedAt.is_null())
        .into_tuple()
        .all(conn)
        .await?;
    if !revoked_sessions.is_empty() {
        sessions::Entity::update_many()
            .col_expr(sessions::Column::RevokedAt, Expr::value(now))
            .filter(sessions::Column::Id.is_in(revoked_sessions.clone()))
            .exec(conn)
            .await?;
    }
    let links = sign_in_tokens::Entity::delete_many()
        .filter(sign_in_tokens::Column::UserId.eq(user_id))
        .exec(conn)
        .await?
        .rows_affected;
    let feeds = calendar_feeds::Entity::delete_many()
        .filter(calendar_feeds::Column::UserId.eq(user_id))
        .exec(conn)
        .await?
        .rows_affected;
    Ok(ShutOut {
        changes: revoked_sessions.len() as u64 + links + feeds,
        revoked_sessions,
    })
}
