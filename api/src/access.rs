//! Who may read and do what: the one access policy, used by the programme's
//! operations, the GraphQL fields and lists, `node(id:)` and the pages alike,
//! as DESIGN.md's roles and "Confidentiality" say. Every read of a programme
//! object needs a signed-in viewer (the resolvers' `RoleGuard::signed_in`,
//! `node(id:)` included); anonymous callers reach only sign-in and the pages
//! behind emailed links, whose secret token is the key.
//!
//! | object, field | staff | the engagement's provider | another provider (declined, or none) | the co-op's member | another co-op's member |
//! | --- | --- | --- | --- | --- | --- |
//! | Topic, Sector, Provider profile | read | read | read | read | read |
//! | a provider's person (User): name | read | read | read | read | read |
//! | a co-op's member (User): name, role | read | — | — | read | — |
//! | User.email | read | own only | own only | own only | own only |
//! | User.calendarFeedUrl (a bearer secret) | own only | own only | own only | own only | own only |
//! | Organisation: name, stage, sector, … | read, change | read | read if ever proposed to it | read, change | — |
//! | Organisation contact email, phone | read | read while ACTIVE | — | read | — |
//! | Organisation financial details | read | — | — | read | — |
//! | Organisation.members | read | — | — | read | — |
//! | SupportRequest (goals, topics, …) | read, decline | read | read if proposed on it | read, withdraw | — |
//! | Engagement (ground rules, fee, end reason, meetings) | read | read, act | — | read, act | — |
//! | Meeting notes | — | read, write | — | read, write | — |
//! | Meeting learning | read | read, write | — | — | — |
//! | Reviews | read | read, give own | — | read, give own | — |
//! | Concerns | read all, resolve | raise, read own | — | raise, read own | — |
//! | Meeting (its other fields) | read | read | — | read | — |
//! | Survey responses (CSV, results) | read | — | — | — | — |
//! | Surveys, their questions and choices | read | — | — | by the invitation's link | — |
//! | Email deliveries, the audit trail | read | — | — | — | — |
//! | Personal data exports, erasure | export, erase | — | — | — | — |
//!
//! "Another provider" includes one who declined the request: they keep the
//! request's public part, never the engagement another provider got on it.
//! The relationship behind a row is looked up once (per organisation per
//! request, or per engagement); the rules themselves are plain functions.

use entity::{
    engagements::{self, EngagementStatus},
    providers, support_requests,
    users::Role,
};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, ExprTrait, JoinType, PaginatorTrait,
    QueryFilter, QuerySelect, RelationTrait, Select,
    sea_query::{Expr, Query},
};

use crate::{auth::Viewer, error::ApiResult};

/// How the viewer stands towards one organisation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OrganisationRelationship {
    pub staff: bool,
    /// A MEMBER of this co-op.
    pub member: bool,
    /// A provider with an ACTIVE engagement with this co-op.
    pub active_provider: bool,
    /// A provider with any engagement (proposed, past, …) with this co-op.
    pub any_provider: bool,
}

impl OrganisationRelationship {
    /// Seeing the organisation at all (name, stage, sector, region…).
    pub fn can_see(self) -> bool {
        self.staff || self.member || self.any_provider
    }
    /// Contact email and phone: staff, members, and a provider while engaged.
    pub fn can_read_contact(self) -> bool {
        self.staff || self.member || self.active_provider
    }
    /// Financial details: staff and members; never a provider.
    pub fn can_read_financials(self) -> bool {
        self.staff || self.member
    }
    /// Changing the profile: staff and members.
    pub fn can_edit(self) -> bool {
        self.staff || self.member
    }
    /// The co-op's people: staff and its members.
    pub fn can_see_members(self) -> bool {
        self.staff || self.member
    }
}

/// A mentor's or adviser's engagements as the access rules need them:
/// (support request, its co-op, the engagement's status), one per
/// engagement. What providers may see follows from it alone.
pub type ProviderFootprint = Vec<(i64, i64, EngagementStatus)>;

/// Reads a provider's footprint (one query), by the user behind them.
pub async fn provider_footprint(
    conn: &impl ConnectionTrait,
    user_id: i64,
) -> Result<ProviderFootprint, DbErr> {
    engagements::Entity::find()
        .select_only()
        .column(engagements::Column::SupportRequestId)
        .column(support_requests::Column::OrganisationId)
        .column(engagements::Column::Status)
        .join(JoinType::InnerJoin, engagements::Relation::Provider.def())
        .join(
            JoinType::InnerJoin,
            engagements::Relation::SupportRequest.def(),
        )
        .filter(providers::Column::UserId.eq(user_id))
        .into_tuple()
        .all(conn)
        .await
}

/// How the viewer stands towards an organisation, for a provider from their
/// footprint (none needed for anyone else).
pub fn relationship_from(
    viewer: &Viewer,
    footprint: Option<&ProviderFootprint>,
    organisation_id: i64,
) -> OrganisationRelationship {
    let Some(user) = viewer.user.as_ref() else {
        return OrganisationRelationship::default();
    };
    let mut relationship = OrganisationRelationship {
        staff: user.role == Role::Staff,
        member: user.role == Role::Member && user.organisation_id == Some(organisation_id),
        ..Default::default()
    };
    if matches!(user.role, Role::Mentor | Role::Adviser) {
        let mut with_it = footprint
            .into_iter()
            .flatten()
            .filter(|(_, organisation, _)| *organisation == organisation_id)
            .peekable();
        relationship.any_provider = with_it.peek().is_some();
        relationship.active_provider =
            with_it.any(|(_, _, status)| *status == EngagementStatus::Active);
    }
    relationship
}

/// Works out the relationship; at most one query (for providers).
pub async fn organisation_relationship(
    conn: &impl ConnectionTrait,
    viewer: &Viewer,
    organisation_id: i64,
) -> Result<OrganisationRelationship, DbErr> {
    let footprint = match viewer.user.as_ref() {
        Some(user) if matches!(user.role, Role::Mentor | Role::Adviser) => {
            Some(provider_footprint(conn, user.id).await?)
        }
        _ => None,
    };
    Ok(relationship_from(
        viewer,
        footprint.as_ref(),
        organisation_id,
    ))
}

/// Whether the viewer may see a request: staff, the co-op's members, and
/// providers proposed on it or engaged on it (for a provider, from their
/// footprint).
pub fn may_see_request_from(
    viewer: &Viewer,
    footprint: Option<&ProviderFootprint>,
    request: &support_requests::Model,
) -> ApiResult<bool> {
    let user = viewer.require_user()?;
    Ok(match user.role {
        Role::Staff => true,
        Role::Member => user.organisation_id == Some(request.organisation_id),
        Role::Mentor | Role::Adviser => footprint
            .into_iter()
            .flatten()
            .any(|(request_id, _, _)| *request_id == request.id),
    })
}

/// Whether the viewer may see a request (see [`may_see_request_from`]); one
/// query for a provider.
pub async fn may_see_request(
    conn: &impl ConnectionTrait,
    viewer: &Viewer,
    request: &support_requests::Model,
) -> ApiResult<bool> {
    let user = viewer.require_user()?;
    let footprint = if matches!(user.role, Role::Mentor | Role::Adviser) {
        Some(provider_footprint(conn, user.id).await?)
    } else {
        None
    };
    may_see_request_from(viewer, footprint.as_ref(), request)
}

/// Refuses anyone whose role is not in `roles`: UNAUTHENTICATED for nobody
/// signed in, FORBIDDEN for another role. The GraphQL guards (`RoleGuard`)
/// ask this before a resolver runs; the operations ask it again, so a page
/// or a job calling them gets the same answer.
pub fn require_role(viewer: &Viewer, roles: &[Role]) -> ApiResult<()> {
    let user = viewer.require_user()?;
    if roles.is_empty() || roles.contains(&user.role) {
        Ok(())
    } else {
        Err(crate::error::ApiError::forbidden(
            "Your role does not allow this.",
        ))
    }
}

/// Refuses anyone but staff (see [`require_role`]).
pub fn require_staff(viewer: &Viewer) -> ApiResult<()> {
    require_role(viewer, &[Role::Staff])
}

/// Whether the viewer may read a person's email address: staff and the
/// person themself.
pub fn may_read_email(viewer: &Viewer, person_id: i64) -> bool {
    viewer
        .user
        .as_ref()
        .is_some_and(|user| user.role == Role::Staff || user.id == person_id)
}

/// Whether the viewer may read a person's calendar feed address: the person
/// themself only, staff included. The address is a bearer secret that opens
/// the person's meetings to whoever holds it; nobody else needs it, and
/// staff who could read it could read a provider's diary as them.
pub fn may_read_calendar_feed(viewer: &Viewer, person_id: i64) -> bool {
    viewer
        .user
        .as_ref()
        .is_some_and(|user| user.id == person_id)
}

/// Whether the viewer reads survey responses (the CSV and the results):
/// staff only, since they name every co-op and hold its answers.
pub fn may_read_survey_responses(viewer: &Viewer) -> bool {
    viewer.is_staff()
}

/// Whether the viewer may read one concern: staff, and the person who
/// raised it, as [`concerns_raised_by`] lists them.
pub fn may_read_concern(viewer: &Viewer, raised_by_user_id: i64) -> ApiResult<bool> {
    Ok(concerns_raised_by(viewer)?.is_none_or(|raiser| raiser == raised_by_user_id))
}

/// Whether the viewer reads surveys, their questions and choices by
/// themselves (drafts included): staff only. A co-op reads its own
/// invitation's questions through the invitation's secret link instead.
pub fn may_read_surveys(viewer: &Viewer) -> bool {
    viewer.is_staff()
}

/// Whether the viewer reads email deliveries: staff only, since each names
/// its recipient's address (staff's to read, see [`may_read_email`]) and
/// what the message was about.
pub fn may_read_email_deliveries(viewer: &Viewer) -> bool {
    viewer.is_staff()
}

/// Whether the viewer may export everything Hive holds about a person or a
/// co-op (a subject access request), or erase it: staff only, since an
/// export holds every confidential field of its subject.
pub fn may_export_personal_data(viewer: &Viewer) -> bool {
    viewer.is_staff()
}

/// Whether the viewer reads the audit trail (who changed what): staff only.
pub fn may_read_audit_trail(viewer: &Viewer) -> bool {
    viewer.is_staff()
}

/// The concerns a viewer may list: all for staff (None), otherwise only
/// those they raised (their user id).
pub fn concerns_raised_by(viewer: &Viewer) -> ApiResult<Option<i64>> {
    let user = viewer.require_user()?;
    Ok((user.role != Role::Staff).then_some(user.id))
}

/// Narrows a list of support requests to those the viewer may see: all for
/// staff, their co-op's for a member, those they were proposed on for a
/// provider (as [`may_see_request`] for one).
pub fn visible_requests(
    viewer: &Viewer,
    select: Select<support_requests::Entity>,
) -> ApiResult<Select<support_requests::Entity>> {
    let user = viewer.require_user()?;
    Ok(match user.role {
        Role::Staff => select,
        Role::Member => select.filter(
            support_requests::Column::OrganisationId.eq(user.organisation_id.unwrap_or(-1)),
        ),
        Role::Mentor | Role::Adviser => select.filter(
            support_requests::Column::Id.in_subquery(
                Query::select()
                    .column((engagements::Entity, engagements::Column::SupportRequestId))
                    .from(engagements::Entity)
                    .inner_join(
                        providers::Entity,
                        Expr::col((providers::Entity, providers::Column::Id))
                            .equals((engagements::Entity, engagements::Column::ProviderId)),
                    )
                    .and_where(
                        Expr::col((providers::Entity, providers::Column::UserId)).eq(user.id),
                    )
                    .to_owned(),
            ),
        ),
    })
}

/// Narrows a list of engagements to those the viewer may see: all for
/// staff, their co-op's for a member, their own for a provider (as
/// [`party`] for one: `Party::may_see_engagement`).
pub fn visible_engagements(
    viewer: &Viewer,
    select: Select<engagements::Entity>,
) -> ApiResult<Select<engagements::Entity>> {
    let user = viewer.require_user()?;
    Ok(match user.role {
        Role::Staff => select,
        Role::Member => select.filter(
            engagements::Column::SupportRequestId.in_subquery(
                Query::select()
                    .column(support_requests::Column::Id)
                    .from(support_requests::Entity)
                    .and_where(
                        support_requests::Column::OrganisationId
                            .eq(user.organisation_id.unwrap_or(-1)),
                    )
                    .to_owned(),
            ),
        ),
        Role::Mentor | Role::Adviser => select.filter(
            engagements::Column::ProviderId.in_subquery(
                Query::select()
                    .column(providers::Column::Id)
                    .from(providers::Entity)
                    .and_where(providers::Column::UserId.eq(user.id))
                    .to_owned(),
            ),
        ),
    })
}

/// Whether the viewer may see a person (name, role, co-op): a co-op's
/// member to staff, themself and their co-op's members; a mentor, an
/// adviser or staff to anyone signed in (the directory names them).
pub fn may_see_person(viewer: &Viewer, person: &entity::users::Model) -> bool {
    let Some(user) = viewer.user.as_ref() else {
        return false;
    };
    match person.role {
        Role::Member => {
            user.role == Role::Staff
                || user.id == person.id
                || (user.role == Role::Member && user.organisation_id == person.organisation_id)
        }
        Role::Mentor | Role::Adviser | Role::Staff => true,
    }
}

/// Whether the viewer may change a provider's profile: the provider
/// themself, or staff.
pub fn may_edit_provider(viewer: &Viewer, provider: &providers::Model) -> bool {
    viewer
        .user
        .as_ref()
        .is_some_and(|user| user.role == Role::Staff || user.id == provider.user_id)
}

/// Whether the viewer may ask for help for a co-op: staff for any, a
/// member for their own.
pub fn may_ask_for(viewer: &Viewer, organisation_id: i64) -> bool {
    viewer.user.as_ref().is_some_and(|user| match user.role {
        Role::Staff => true,
        Role::Member => user.organisation_id == Some(organisation_id),
        Role::Mentor | Role::Adviser => false,
    })
}

/// How many engagements a provider carries now (ACTIVE + PROPOSED): its load
/// against capacity.
pub async fn provider_load(conn: &impl ConnectionTrait, provider_id: i64) -> Result<u64, DbErr> {
    engagements::Entity::find()
        .filter(engagements::Column::ProviderId.eq(provider_id))
        .filter(
            engagements::Column::Status
                .is_in([EngagementStatus::Active, EngagementStatus::Proposed]),
        )
        .count(conn)
        .await
}

/// How the viewer stands towards an engagement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Party {
    Provider,
    ClientMember,
    Staff,
    Outsider,
}

/// The viewer's part in an engagement, from the two facts it turns on: the
/// requesting co-op and the user behind the engagement's provider. A
/// provider is a party to their own engagements only: not to the one another
/// provider got on a request they declined or left.
pub fn party_of(viewer: &Viewer, request_organisation_id: i64, provider_user_id: i64) -> Party {
    let Some(user) = viewer.user.as_ref() else {
        return Party::Outsider;
    };
    match user.role {
        Role::Staff => Party::Staff,
        Role::Member if user.organisation_id == Some(request_organisation_id) => {
            Party::ClientMember
        }
        Role::Mentor | Role::Adviser if user.id == provider_user_id => Party::Provider,
        _ => Party::Outsider,
    }
}

impl Party {
    /// A party to the engagement, or staff: may see it at all.
    pub fn may_see_engagement(self) -> bool {
        self != Party::Outsider
    }
    /// Private meeting notes: the two parties only, not staff.
    pub fn may_read_notes(self) -> bool {
        matches!(self, Party::Provider | Party::ClientMember)
    }
    /// Learning for the programme: the provider and staff.
    pub fn may_read_learning(self) -> bool {
        matches!(self, Party::Provider | Party::Staff)
    }
    /// Final reviews: staff and the two parties.
    pub fn may_read_reviews(self) -> bool {
        self != Party::Outsider
    }
}

/// Works out the viewer's part in an engagement (one query at most).
pub async fn party(
    conn: &impl ConnectionTrait,
    viewer: &Viewer,
    engagement: &engagements::Model,
) -> ApiResult<Party> {
    let Some(user) = viewer.user.as_ref() else {
        return Ok(Party::Outsider);
    };
    Ok(match user.role {
        Role::Staff => Party::Staff,
        Role::Member => {
            let organisation: Option<i64> =
                support_requests::Entity::find_by_id(engagement.support_request_id)
                    .select_only()
                    .column(support_requests::Column::OrganisationId)
                    .into_tuple()
                    .one(conn)
                    .await?;
            if organisation.is_some() && organisation == user.organisation_id {
                Party::ClientMember
            } else {
                Party::Outsider
            }
        }
        Role::Mentor | Role::Adviser => {
            let owner: Option<i64> = providers::Entity::find_by_id(engagement.provider_id)
                .select_only()
                .column(providers::Column::UserId)
                .into_tuple()
                .one(conn)
                .await?;
            if owner == Some(user.id) {
                Party::Provider
            } else {
                Party::Outsider
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_confidentiality_rules() {
        let staff = OrganisationRelationship {
            staff: true,
            ..Default::default()
        };
        let member = OrganisationRelationship {
            member: true,
            ..Default::default()
        };
        let engaged = OrganisationRelationship {
            active_provider: true,
            any_provider: true,
            ..Default::default()
        };
        let past = OrganisationRelationship {
            any_provider: true,
            ..Default::default()
        };
        let stranger = OrganisationRelationship::default();

        assert!(staff.can_read_contact() && staff.can_read_financials());
        assert!(member.can_read_contact() && member.can_read_financials());
        assert!(engaged.can_read_contact() && !engaged.can_read_financials());
        assert!(past.can_see() && !past.can_read_contact() && !past.can_read_financials());
        assert!(!stranger.can_see() && !stranger.can_read_contact());
        assert!(!engaged.can_edit() && member.can_edit());
    }
}
