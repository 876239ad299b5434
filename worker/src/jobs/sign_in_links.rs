//! There are no passwords: a person gets in by the link emailed to them, and
//! a new account's first link is its welcome. The email goes to the user's
//! own address only, and is written on the caller's transaction with the
//! token it carries, so a link is never saved unsent or sent unsaved.

use chrono::Utc;
use entity::{emails::EmailCategory, sign_in_tokens, users};
use sea_orm::{ConnectionTrait, DbErr};

use crate::{
    outbox::{self, NewEmail},
    tokens::SecretToken,
};

/// Why the link is sent; each has its own template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Occasion {
    /// The person asked for a link.
    SignIn,
    /// Staff made the account.
    Welcome,
}

impl Occasion {
    fn template(self) -> &'static str {
        match self {
            Occasion::SignIn => "sign_in",
            Occasion::Welcome => "welcome",
        }
    }
}

/// Emails `user` the link for `token`, whose secret is `secret`: only now,
/// before the secret is forgotten, can the link be written. The lifetime it
/// states is the token's own.
pub async fn send(
    conn: &impl ConnectionTrait,
    public_url: &str,
    user: &users::Model,
    token: &sign_in_tokens::Model,
    secret: &SecretToken,
    occasion: Occasion,
) -> Result<(), DbErr> {
    outbox::enqueue(
        conn,
        NewEmail {
            // Key `sign-in:{token}`: each link is its own token row, so two
            // messages never share it. Nothing withdraws it; an expired link
            // still goes (its page says to ask again).
            idempotency_key: format!("sign-in:{}", token.id),
            category: EmailCategory::SignIn,
            template: occasion.template(),
            recipient: user.email.clone(),
            context: serde_json::json!({
                "name": user.name,
                "link": format!("{public_url}/sign-in?token={}", secret.expose()),
                "expires_minutes": (token.expires_at - token.created_at).num_minutes(),
                "role": format!("{:?}", user.role).to_lowercase(),
            }),
            due: Utc::now(),
        },
    )
    .await?;
    Ok(())
}
