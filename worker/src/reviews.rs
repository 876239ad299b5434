//! Who is asked for each final review, and what the request and the reminder
//! say: shared by the API (which asks when the final meeting is held) and the
//! reminder job, so both emails name the same people and link the same way.

use entity::{
    engagements, organisations, providers,
    reviews::ReviewParty,
    support_requests::{self, EngagementKind},
    users,
};
use sea_orm::{ConnectionTrait, DbErr, EntityTrait};

use crate::{notify, tokens::SecretToken};

/// The two parties of an engagement, as review emails name them.
#[derive(Debug, Clone)]
pub struct ReviewParties {
    /// The provider's own account: they answer the PROVIDER review.
    pub provider: users::Model,
    /// The client co-op: its members answer the CLIENT review.
    pub organisation: organisations::Model,
    pub kind: EngagementKind,
}

impl ReviewParties {
    /// Loads both parties of `engagement` (three short queries).
    pub async fn load(
        conn: &impl ConnectionTrait,
        engagement: &engagements::Model,
    ) -> Result<Self, DbErr> {
        let missing = |what: &str| {
            DbErr::RecordNotFound(format!("engagement {} without {what}", engagement.id))
        };
        let provider = providers::Entity::find_by_id(engagement.provider_id)
            .one(conn)
            .await?
            .ok_or_else(|| missing("provider"))?;
        let provider = users::Entity::find_by_id(provider.user_id)
            .one(conn)
            .await?
            .ok_or_else(|| missing("provider user"))?;
        let (request, organisation) =
            support_requests::Entity::find_by_id(engagement.support_request_id)
                .find_also_related(organisations::Entity)
                .one(conn)
                .await?
                .ok_or_else(|| missing("support request"))?;
        Ok(Self {
            provider,
            organisation: organisation.ok_or_else(|| missing("organisation"))?,
            kind: request.kind,
        })
    }

    /// Who is asked for `party`'s review: the provider, or the co-op's members
    /// (its contact address when it has no members with accounts).
    pub async fn recipients(
        &self,
        conn: &impl ConnectionTrait,
        party: ReviewParty,
    ) -> Result<Vec<notify::Recipient>, DbErr> {
        match party {
            ReviewParty::Provider => Ok(vec![self.provider.clone().into()]),
            ReviewParty::Client => notify::organisation(conn, &self.organisation).await,
        }
    }

    /// The template context of a review email for `party`, with its link.
    pub fn email_context(
        &self,
        party: ReviewParty,
        public_url: &str,
        token: &SecretToken,
    ) -> serde_json::Value {
        serde_json::json!({
            "party": party_label(party),
            "provider": self.provider.name,
            "organisation": self.organisation.name,
            "kind": kind_label(self.kind),
            "link": review_link(public_url, token),
        })
    }
}

/// The absolute link of a review page.
pub fn review_link(public_url: &str, token: &SecretToken) -> String {
    format!("{}/r/{}", public_url.trim_end_matches('/'), token.expose())
}

/// `PROVIDER` or `CLIENT`, as templates and the audit trail spell it.
pub fn party_label(party: ReviewParty) -> &'static str {
    match party {
        ReviewParty::Provider => "PROVIDER",
        ReviewParty::Client => "CLIENT",
    }
}

/// `MENTORING` or `ADVICE`, as templates spell it.
pub fn kind_label(kind: EngagementKind) -> &'static str {
    match kind {
        EngagementKind::Mentoring => "MENTORING",
        EngagementKind::Advice => "ADVICE",
    }
}
