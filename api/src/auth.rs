//! Who is asking: bearer sessions, sign-in links, and the role guards that
//! field-level rules are built from.

use async_graphql::{Context, Guard};
use chrono::{Duration, Utc};
use entity::{
    sessions, sign_in_tokens,
    users::{self, Role},
};
use hive_worker::{
    jobs::sign_in_links::{self, Occasion},
    tokens::{SecretToken, hash_token, looks_like_token},
};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection,
    EntityTrait, PaginatorTrait, QueryFilter, QuerySelect, sea_query::Expr,
};

use crate::{
    error::{ApiError, ApiResult},
    sessions::SessionCache,
};

/// A sign-in link works for this long.
pub const SIGN_IN_LINK_LIFETIME: Duration = Duration::minutes(15);

/// The person behind a request, if any; built once per request.
#[derive(Debug, Clone, Default)]
pub struct Viewer {
    pub user: Option<users::Model>,
    pub session_id: Option<i64>,
}

impl Viewer {
    pub fn anonymous() -> Self {
        Self::default()
    }

    /// The signed-in user, or UNAUTHENTICATED.
    pub fn require_user(&self) -> ApiResult<&users::Model> {
        self.user
            .as_ref()
            .ok_or_else(|| ApiError::unauthenticated("Sign in to do this."))
    }

    pub fn role(&self) -> Option<Role> {
        self.user.as_ref().map(|user| user.role)
    }

    pub fn is_staff(&self) -> bool {
        self.role() == Some(Role::Staff)
    }
}

/// Reads the viewer from the GraphQL context (set by the HTTP handler).
pub fn viewer<'a>(ctx: &'a Context<'_>) -> &'a Viewer {
    static ANONYMOUS: std::sync::OnceLock<Viewer> = std::sync::OnceLock::new();
    ctx.data_opt::<Viewer>()
        .unwrap_or_else(|| ANONYMOUS.get_or_init(Viewer::anonymous))
}

/// A guard that admits signed-in users whose role is in the list; an empty
/// list admits anyone signed in.
pub struct RoleGuard {
    roles: &'static [Role],
}

impl RoleGuard {
    pub fn signed_in() -> Self {
        Self { roles: &[] }
    }
    pub fn staff() -> Self {
        Self {
            roles: &[Role::Staff],
        }
    }
    pub fn any_of(roles: &'static [Role]) -> Self {
        Self { roles }
    }
}

impl Guard for RoleGuard {
    async fn check(&self, ctx: &Context<'_>) -> async_graphql::Result<()> {
        Ok(crate::access::require_role(viewer(ctx), self.roles)?)
    }
}

/// Finds the live session for a bearer token: from this process's recent
/// look-ups (`sessions`, for at most `HIVE_SESSION_CACHE_SECS`), else from
/// the database. Unknown, expired or revoked tokens are all UNAUTHENTICATED
/// with the same message: a client cannot tell which, and need not.
pub async fn authenticate(
    db: &DatabaseConnection,
    sessions: &SessionCache,
    bearer: &str,
) -> ApiResult<Viewer> {
    let refused = || ApiError::unauthenticated("Your session is not valid; sign in again.");
    if !looks_like_token(bearer) {
        return Err(refused());
    }
    let token_hash = hash_token(bearer);
    if let Some(viewer) = sessions.get(&token_hash) {
        return Ok(viewer);
    }
    let now = Utc::now();
    let found = sessions::Entity::find()
        .filter(sessions::Column::TokenHash.eq(token_hash.as_str()))
        .filter(sessions::Column::RevokedAt.is_null())
        .filter(sessions::Column::ExpiresAt.gt(now))
        .find_also_related(users::Entity)
        .one(db)
        .await?;
    match found {
        Some((session, Some(user))) if user.deactivated_at.is_none() => {
            // Worth a write only now and then: last_seen_at is for staff
            // looking at stale sessions, not an access log.
            if now - session.last_seen_at > Duration::minutes(5) {
                sessions::Entity::update_many()
                    .col_expr(sessions::Column::LastSeenAt, Expr::value(now))
                    .filter(sessions::Column::Id.eq(session.id))
                    .exec(db)
                    .await?;
            }
            let viewer = Viewer {
                user: Some(user),
                session_id: Some(session.id),
            };
            sessions.keep(token_hash, viewer.clone(), session.expires_at);
            Ok(viewer)
        }
        _ => Err(refused()),
    }
}

/// Starts a session for `user` and returns its bearer token.
pub async fn create_session(
    conn: &impl ConnectionTrait,
    user: &users::Model,
    lifetime: Duration,
) -> Result<(SecretToken, sessions::Model), sea_orm::DbErr> {
    let token = SecretToken::generate();
    let now = Utc::now();
    let session = sessions::ActiveModel {
        user_id: Set(user.id),
        token_hash: Set(token.hash()),
        created_at: Set(now),
        expires_at: Set(now + lifetime),
        last_seen_at: Set(now),
        revoked_at: Set(None),
        ..Default::default()
    }
    .insert(conn)
    .await?;
    Ok((token, session))
}

/// Normalises an address for lookup; `None` when it is not an address at all,
/// or not one mail can be sent to: it must parse as the sender parses it
/// (lettre's `Address`, RFC 5321/5322), its domain must be host names joined
/// by dots (letters, digits and inner hyphens; no address literals), and it
/// may hold no control or invisible characters (`ada\u{2063}@…` would look
/// like `ada@…`).
pub fn normalise_email(email: &str) -> Option<String> {
    let email = email.trim().to_lowercase();
    if email.len() > 254
        || crate::text::check(crate::graphql::guard::text_rules::EMAIL_RULE, &email).is_err()
        || email
            .chars()
            .any(|c| c.is_whitespace() || c == '<' || c == '>')
    {
        return None;
    }
    let address: lettre::Address = email.parse().ok()?;
    let domain = address.domain();
    let labels_ok = domain.split('.').count() >= 2
        && domain.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_alphanumeric() || c == '-')
        });
    let user_ok = !address.user().is_empty()
        && address
            .user()
            .chars()
            .all(|c| c.is_alphanumeric() || "._%+-'!#$&*/=?^`{|}~".contains(c));
    (labels_ok && user_ok).then_some(email)
}

/// What became of a request for a sign-in link (the person who asked is told
/// the same in every case).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignInLinkOutcome {
    /// A link and its email were written.
    Sent,
    /// Nobody active has that address.
    UnknownAddress,
    /// The address already had its allowance of links in the last 15 minutes.
    OverAllowance,
}

/// How far back [`send_sign_in_link_within`] counts the links an address got.
pub const SIGN_IN_ALLOWANCE_WINDOW: Duration = Duration::minutes(15);

/// Writes a one-time sign-in link and its email for the active user with
/// this (normalised) address, in one transaction, unless the address has had
/// `allowance` links (of any occasion: sign-in or welcome) in the last 15
/// minutes. The user's row is locked first (`FOR UPDATE` on PostgreSQL;
/// SQLite's `BEGIN IMMEDIATE` serialises writers), so concurrent requests
/// for one address, in any number of processes, count each other's links.
pub async fn send_sign_in_link_within(
    db: &DatabaseConnection,
    public_url: &str,
    email: &str,
    allowance: u32,
) -> ApiResult<SignInLinkOutcome> {
    let txn = hive_worker::db::begin_write(db).await?;
    let mut find = users::Entity::find()
        .filter(users::Column::Email.eq(email))
        .filter(users::Column::DeactivatedAt.is_null());
    if txn.get_database_backend() == sea_orm::DbBackend::Postgres {
        find = find.lock_exclusive();
    }
    let Some(user) = find.one(&txn).await? else {
        return Ok(SignInLinkOutcome::UnknownAddress);
    };
    let recent = sign_in_tokens::Entity::find()
        .filter(sign_in_tokens::Column::UserId.eq(user.id))
        .filter(sign_in_tokens::Column::CreatedAt.gt(Utc::now() - SIGN_IN_ALLOWANCE_WINDOW))
        .count(&txn)
        .await?;
    if recent >= u64::from(allowance) {
        return Ok(SignInLinkOutcome::OverAllowance);
    }
    queue_sign_in_link(&txn, public_url, &user, Occasion::SignIn).await?;
    txn.commit().await?;
    Ok(SignInLinkOutcome::Sent)
}

/// Writes a sign-in token and its email (a welcome for a new account) on the
/// caller's transaction, so an account and its first link are saved together
/// or not at all.
pub async fn queue_sign_in_link(
    conn: &impl ConnectionTrait,
    public_url: &str,
    user: &users::Model,
    occasion: Occasion,
) -> Result<(), sea_orm::DbErr> {
    let secret = SecretToken::generate();
    let now = Utc::now();
    let token = sign_in_tokens::ActiveModel {
        user_id: Set(user.id),
        token_hash: Set(secret.hash()),
        created_at: Set(now),
        expires_at: Set(now + SIGN_IN_LINK_LIFETIME),
        used_at: Set(None),
        ..Default::default()
    }
    .insert(conn)
    .await?;
    sign_in_links::send(conn, public_url, user, &token, &secret, occasion).await
}

/// Why a sign-in link was refused. Each has its own message, so a person
/// knows whether to ask for a new link; the code is UNAUTHENTICATED for all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignInRefusal {
    Invalid,
    Expired,
    Used,
}

impl SignInRefusal {
    pub fn message(self) -> &'static str {
        match self {
            SignInRefusal::Invalid => "This sign-in link is not valid. Ask for a new one.",
            SignInRefusal::Expired => "This sign-in link has expired. Ask for a new one.",
            SignInRefusal::Used => "This sign-in link has already been used. Ask for a new one.",
        }
    }
}

impl From<SignInRefusal> for ApiError {
    fn from(refusal: SignInRefusal) -> Self {
        ApiError::unauthenticated(refusal.message())
    }
}

/// Exchanges a sign-in token for a session. The token is spent by a
/// conditional update, so two simultaneous uses cannot both succeed.
pub async fn redeem_sign_in(
    db: &DatabaseConnection,
    presented: &str,
    session_lifetime: Duration,
) -> ApiResult<(SecretToken, sessions::Model, users::Model)> {
    if !looks_like_token(presented) {
        return Err(SignInRefusal::Invalid.into());
    }
    let now = Utc::now();
    let found = sign_in_tokens::Entity::find()
        .filter(sign_in_tokens::Column::TokenHash.eq(hash_token(presented)))
        .find_also_related(users::Entity)
        .one(db)
        .await?;
    let Some((token, Some(user))) = found else {
        return Err(SignInRefusal::Invalid.into());
    };
    if token.used_at.is_some() {
        return Err(SignInRefusal::Used.into());
    }
    if token.expires_at <= now {
        return Err(SignInRefusal::Expired.into());
    }
    if user.deactivated_at.is_some() {
        return Err(SignInRefusal::Invalid.into());
    }
    let txn = hive_worker::db::begin_write(db).await?;
    let spent = sign_in_tokens::Entity::update_many()
        .col_expr(sign_in_tokens::Column::UsedAt, Expr::value(now))
        .filter(sign_in_tokens::Column::Id.eq(token.id))
        .filter(sign_in_tokens::Column::UsedAt.is_null())
        .exec(&txn)
        .await?;
    if spent.rows_affected != 1 {
        return Err(SignInRefusal::Used.into());
    }
    let (secret, session) = create_session(&txn, &user, session_lifetime).await?;
    txn.commit().await?;
    Ok((secret, session, user))
}

/// Ends a session (sign out): this process refuses its token at once, others
/// within `HIVE_SESSION_CACHE_SECS` (see `crate::sessions`). Idempotent.
pub async fn revoke_session(
    db: &DatabaseConnection,
    sessions: &SessionCache,
    session_id: i64,
) -> ApiResult<()> {
    sessions.forget_session(session_id);
    sessions::Entity::update_many()
        .col_expr(sessions::Column::RevokedAt, Expr::value(Utc::now()))
        .filter(sessions::Column::Id.eq(session_id))
        .filter(sessions::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_addresses_are_normalised_or_refused() {
        assert_eq!(
            normalise_email("  Ada@Example.COOP "),
            Some("ada@example.coop".into())
        );
        assert_eq!(normalise_email("not an address"), None);
        assert_eq!(normalise_email("a@b"), None);
        assert_eq!(normalise_email("@example.coop"), None);
        assert_eq!(normalise_email("<a@example.coop>"), None);
        assert_eq!(normalise_email("a\u{0}@example.coop"), None);
        assert_eq!(normalise_email("a@example.coop\u{7f}"), None);
        // Addresses no mail could reach, or that look like another.
        for unmailable in [
            "ada\u{2063}@example.org",
            "ada@exa\u{200e}mple.org",
            "a,b@example.org",
            "a;b@example.org",
            "a@b@example.org",
            "a@example..org",
            "a@-example.org",
            "a\\@example.org",
            "a@[127.0.0.1].org",
            "a@[127.0.0.1]",
            ".a@example.org",
            "a.@example.org",
        ] {
            assert_eq!(normalise_email(unmailable), None, "{unmailable}");
        }
        for mailable in [
            "o'brien@example.coop",
            "first.last+hive@sub.example.co.uk",
            "ünïcode@example.coop",
            "x@xn--bcher-kva.example",
        ] {
            assert!(normalise_email(mailable).is_some(), "{mailable}");
        }
    }
}
