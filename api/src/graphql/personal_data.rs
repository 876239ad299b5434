//! People and their data (issue 17): the subject access export and erasure,
//! for staff. The rules are in `programme::personal_data` and
//! `programme::erasure`; the file itself is served by `http::personal_data`.

use async_graphql::{Context, ID, Object, SimpleObject};
use chrono::{DateTime, Utc};

use super::{
    node::{Node, load_node, unless_gone},
    relay::{NodeType, decode_id_of},
};
use crate::{
    auth::{RoleGuard, viewer},
    error::{ApiError, ApiResult},
    programme::{
        erasure::{self, Erased},
        personal_data::{self, MAX_ROWS_PER_TABLE, Subject},
    },
    state::AppState,
};

/// Where staff download a subject access export.
#[derive(SimpleObject)]
pub struct PersonalDataExport {
    /// The file's address: GET it with a staff member's bearer token
    /// (`Authorization: Bearer …`). It is made afresh at each download, and
    /// each download is recorded in the audit trail.
    pub url: String,
    /// The name the file is saved under, e.g.
    /// `hive-personal-data-user-12-2026-12-01.zip`.
    pub filename: String,
    /// Most rows one table of the file holds; its README names any table
    /// cut there.
    pub max_rows_per_table: i32,
}

/// What an erasure did.
pub struct Erasure {
    kind: NodeType,
    id: i64,
    erased: Erased,
}

/// What an erasure did: whom, when, and how much it replaced.
#[Object]
impl Erasure {
    /// The erased person or co-op (its name now reads `[erased]`).
    async fn subject(&self, ctx: &Context<'_>) -> ApiResult<Option<Node>> {
        unless_gone(load_node(ctx, self.kind, self.id).await)
    }
    /// When it happened (the audit trail has who and why).
    async fn erased_at(&self) -> DateTime<Utc> {
        self.erased.erased_at
    }
    /// How many stored values were replaced or removed: names, addresses,
    /// texts and their copies, sessions, links and preferences.
    async fn changes(&self) -> i32 {
        i32::try_from(self.erased.changes).unwrap_or(i32::MAX)
    }
}

#[derive(Default)]
pub struct PersonalDataMutation;

#[Object]
impl PersonalDataMutation {
    /// Answers a subject access request (staff): give exactly one of
    /// `userId` (a person) or `organisationId` (a co-op). Returns where to
    /// download one zip file of everything Hive holds about them — a JSON
    /// document, a CSV per table and a README saying what is not in it
    /// (concerns raised by others about them, which staff handle by hand).
    /// The request is recorded in the audit trail, and so is each download.
    #[graphql(guard = "RoleGuard::staff()")]
    async fn export_personal_data(
        &self,
        ctx: &Context<'_>,
        user_id: Option<ID>,
        organisation_id: Option<ID>,
    ) -> ApiResult<PersonalDataExport> {
        let state = ctx.data_unchecked::<AppState>();
        let subject = match (user_id, organisation_id) {
            (Some(id), None) => Subject::Person(decode_id_of(NodeType::User, &id)?),
            (None, Some(id)) => Subject::Organisation(decode_id_of(NodeType::Organisation, &id)?),
            (Some(_), Some(_)) => {
                return Err(ApiError::bad_input(
                    "organisationId",
                    "Give one of userId and organisationId, not both: one export per person or co-op.",
                ));
            }
            (None, None) => {
                return Err(ApiError::bad_input(
                    "userId",
                    "Give the person's userId or the co-op's organisationId.",
                ));
            }
        };
        personal_data::request_export(&state.db, viewer(ctx), subject).await?;
        Ok(PersonalDataExport {
            url: format!(
                "{}{}",
                state.settings.public_url.trim_end_matches('/'),
                crate::http::personal_data::path_of(subject)
            ),
            filename: subject.filename(Utc::now()),
            max_rows_per_table: MAX_ROWS_PER_TABLE as i32,
        })
    }

    /// Erases a person (staff), for an erasure request: their name, address
    /// and the free text they wrote become `[erased]` (the address a
    /// reserved `erased-user-…@erased.invalid`, never mailed), their
    /// sessions and links stop working, the bodies of their emails are
    /// deleted; ids, statuses, days and ratings stay, so `programmeStats`
    /// gives the same numbers. CONFLICT, naming them, while they are party
    /// to an ACTIVE engagement (a provider also a PROPOSED one) or an OPEN
    /// concern, and when already erased; nothing is changed then. The audit
    /// trail records who erased them and why, and keeps no erased value.
    #[graphql(guard = "RoleGuard::staff()")]
    async fn erase_person(
        &self,
        ctx: &Context<'_>,
        user_id: ID,
        reason: String,
    ) -> ApiResult<Erasure> {
        let state = ctx.data_unchecked::<AppState>();
        let id = decode_id_of(NodeType::User, &user_id)?;
        let erased = erasure::erase_person(&state.db, viewer(ctx), id, &reason).await?;
        forget_sessions(state, &erased);
        Ok(Erasure {
            kind: NodeType::User,
            id,
            erased,
        })
    }

    /// Erases a co-op (staff) and each of its members, as `erasePerson`
    /// does a person: its name, phone, financial details and the texts of
    /// its requests, engagements, meetings, reviews, concerns and survey
    /// answers become `[erased]`, its contact address is cleared. CONFLICT
    /// while it has a request waiting for a match, an engagement PROPOSED or
    /// ACTIVE, or an OPEN concern, and when already erased.
    #[graphql(guard = "RoleGuard::staff()")]
    async fn erase_organisation(
        &self,
        ctx: &Context<'_>,
        organisation_id: ID,
        reason: String,
    ) -> ApiResult<Erasure> {
        let state = ctx.data_unchecked::<AppState>();
        let id = decode_id_of(NodeType::Organisation, &organisation_id)?;
        let erased = erasure::erase_organisation(&state.db, viewer(ctx), id, &reason).await?;
        forget_sessions(state, &erased);
        Ok(Erasure {
            kind: NodeType::Organisation,
            id,
            erased,
        })
    }
}

/// This process stops accepting the revoked sessions at once (others within
/// `HIVE_SESSION_CACHE_SECS`, as after `signOut`).
fn forget_sessions(state: &AppState, erased: &Erased) {
    for session in &erased.revoked_sessions {
        state.sessions.forget_session(*session);
    }
}
