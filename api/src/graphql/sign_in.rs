//! Passwordless sign-in by emailed link, and sign-out.

use async_graphql::{Context, Object, SimpleObject};

use super::users::User;
use crate::{
    auth::{self, viewer},
    error::{ApiError, ApiResult},
    state::AppState,
};

/// A new session: send `token` as `Authorization: Bearer <token>`.
#[derive(SimpleObject)]
pub struct SignInPayload {
    pub token: String,
    pub expires_at: chrono::DateTime<chrono::Utc>,
    pub user: User,
}

/// The same answer whether or not the address is known, so the form cannot be
/// used to find out who takes part in the programme.
#[derive(SimpleObject)]
pub struct RequestSignInPayload {
    pub message: String,
}

#[derive(Default)]
pub struct SignInMutation;

#[Object]
impl SignInMutation {
    /// Emails a one-time sign-in link (valid 15 minutes) if the address
    /// belongs to someone in the programme. The answer is the same, and as
    /// quick, whether it does or not. One address gets at most a few links in
    /// 15 minutes (later requests answer the same and send nothing), and an
    /// operation may ask once. Only something that is not an email address
    /// is refused (BAD_USER_INPUT).
    async fn request_sign_in(
        &self,
        ctx: &Context<'_>,
        email: String,
    ) -> ApiResult<RequestSignInPayload> {
        // The lookup happens after the answer (`sign_in_queue`), so neither
        // the words nor the time of the answer depend on the address; the
        // allowance is HIVE_SIGN_IN_LINKS_PER_QUARTER_HOUR.
        let state = ctx.data_unchecked::<AppState>();
        let email = auth::normalise_email(&email)
            .ok_or_else(|| ApiError::bad_input("email", "That is not an email address."))?;
        state.sign_in_queue.submit(email).await;
        Ok(RequestSignInPayload {
            message:
                "If that address belongs to someone in the programme, a sign-in link is on its way."
                    .into(),
        })
    }

    /// Exchanges the token from a sign-in link for a session token.
    async fn sign_in(&self, ctx: &Context<'_>, token: String) -> ApiResult<SignInPayload> {
        let state = ctx.data_unchecked::<AppState>();
        let (secret, session, user) =
            auth::redeem_sign_in(&state.db, &token, state.settings.session_lifetime).await?;
        Ok(SignInPayload {
            token: secret.expose().to_string(),
            expires_at: session.expires_at,
            user: User::alone(user),
        })
    }

    /// Ends the current session; its token stops working at once.
    async fn sign_out(&self, ctx: &Context<'_>) -> ApiResult<bool> {
        let state = ctx.data_unchecked::<AppState>();
        let viewer = viewer(ctx);
        viewer.require_user()?;
        let session_id = viewer
            .session_id
            .ok_or_else(|| ApiError::unauthenticated("Sign in to do this."))?;
        auth::revoke_session(&state.db, &state.sessions, session_id).await?;
        Ok(true)
    }
}
