//! People: `me`, `node` for users, and the staff list of users.

use async_graphql::{Context, Enum, ID, Object};
use entity::users::{self, Role};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use super::{
    loaders::OrganisationKey,
    relay::{HiveConnection, NodeType, PageArgs, global_id, paginate},
    siblings::Siblings,
};
use crate::{
    auth::{RoleGuard, viewer},
    error::{ApiError, ApiResult},
    state::AppState,
};

/// A person's part in the programme; decides what they may see and do.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(name = "Role")]
pub enum RoleGql {
    Staff,
    Mentor,
    Adviser,
    Member,
}

impl From<Role> for RoleGql {
    fn from(role: Role) -> Self {
        match role {
            Role::Staff => RoleGql::Staff,
            Role::Mentor => RoleGql::Mentor,
            Role::Adviser => RoleGql::Adviser,
            Role::Member => RoleGql::Member,
        }
    }
}

impl From<RoleGql> for Role {
    fn from(role: RoleGql) -> Self {
        match role {
            RoleGql::Staff => Role::Staff,
            RoleGql::Mentor => Role::Mentor,
            RoleGql::Adviser => Role::Adviser,
            RoleGql::Member => Role::Member,
        }
    }
}

/// A person who can sign in, resolved with their siblings (the list they
/// are on), so that what a query follows from them costs one statement for
/// the list.
pub struct User {
    pub row: users::Model,
    siblings: Siblings<users::Model>,
}

impl User {
    /// A person on their own (one object, the viewer, a mutation's result).
    pub fn alone(row: users::Model) -> Self {
        let siblings = Siblings::alone(&row);
        User { row, siblings }
    }

    /// A person who is one of `siblings`.
    pub fn among(row: users::Model, siblings: &Siblings<users::Model>) -> Self {
        let siblings = siblings.clone();
        User { row, siblings }
    }

    /// A person joining `siblings`: a page gathered as it is made.
    pub fn joining(row: users::Model, siblings: &Siblings<users::Model>) -> Self {
        let siblings = siblings.join(&row);
        User { row, siblings }
    }
}

#[Object]
impl User {
    pub async fn id(&self) -> ID {
        global_id(NodeType::User, self.row.id)
    }
    async fn name(&self) -> &str {
        &self.row.name
    }
    /// Visible to the person themself and to staff.
    async fn email(&self, ctx: &Context<'_>) -> ApiResult<Option<&str>> {
        if crate::access::may_read_email(viewer(ctx), self.row.id) {
            Ok(Some(&self.row.email))
        } else {
            Err(ApiError::forbidden(
                "Only staff and the person themself see an email address.",
            ))
        }
    }
    async fn role(&self) -> RoleGql {
        self.row.role.into()
    }
    /// The secret address of the person's calendar feed: an iCalendar
    /// subscription (RFC 5545) of their meetings from 30 days ago onwards,
    /// for Outlook, Google or Apple Calendar. A provider's holds their
    /// engagements' meetings, a co-op member's their co-op's, staff's none.
    /// Null until `resetCalendarFeed` makes one, and after
    /// `revokeCalendarFeed`; reading it never makes one. Only the person
    /// themself reads it (FORBIDDEN for anyone else, staff included): whoever
    /// has the address reads the meetings.
    async fn calendar_feed_url(&self, ctx: &Context<'_>) -> ApiResult<Option<String>> {
        let state = ctx.data_unchecked::<AppState>();
        crate::programme::calendar_feeds::url_of(
            &state.db,
            &state.settings.public_url,
            viewer(ctx),
            self.row.id,
        )
        .await
    }
    /// The co-op a MEMBER belongs to.
    #[graphql(deprecation = "Use `organisation { id }` instead.")]
    async fn organisation_id(&self) -> Option<ID> {
        self.row
            .organisation_id
            .map(|id| global_id(NodeType::Organisation, id))
    }
    /// The co-op a MEMBER belongs to, for whoever may see that co-op (as
    /// `organisation(id:)`); null for other roles, and null with FORBIDDEN
    /// for a viewer who may not see it.
    async fn organisation(
        &self,
        ctx: &Context<'_>,
    ) -> ApiResult<Option<super::organisations::Organisation>> {
        let organisation = |row: &users::Model| row.organisation_id.map(OrganisationKey);
        let Some((organisation, siblings)) = self
            .siblings
            .load_related(ctx, organisation, &self.row)
            .await?
        else {
            return Ok(None);
        };
        let organisation = super::organisations::Organisation::among(organisation, &siblings);
        super::organisations::visible(ctx, organisation)
            .await
            .map(Some)
    }
    async fn active(&self) -> bool {
        self.row.deactivated_at.is_none()
    }
    /// The meetings still to come across the person's engagements — a
    /// mentor's or adviser's own, a member's co-op's — soonest first (one
    /// under way included), each naming the other party (`otherParty`):
    /// for the person themself only (`me { upcomingMeetings }`), null with
    /// FORBIDDEN for anyone else; empty for staff, who attend none.
    async fn upcoming_meetings(
        &self,
        ctx: &Context<'_>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> ApiResult<Option<HiveConnection<super::meetings::Meeting>>> {
        let viewer = viewer(ctx);
        if viewer.user.as_ref().map(|user| user.id) != Some(self.row.id) {
            return Err(ApiError::forbidden(
                "Only the person themself sees their upcoming meetings.",
            ));
        }
        let state = ctx.data_unchecked::<AppState>();
        let rows = crate::programme::engagement_lists::upcoming_meetings(
            &state.db,
            viewer,
            chrono::Utc::now(),
        )
        .await?;
        let party = match self.row.role {
            Role::Staff => crate::access::Party::Staff,
            Role::Member => crate::access::Party::ClientMember,
            Role::Mentor | Role::Adviser => crate::access::Party::Provider,
        };
        let siblings = super::siblings::Siblings::default();
        super::relay::paginate_loaded(
            "meetings",
            rows,
            PageArgs {
                after,
                before,
                first,
                last,
            },
            |row| row.id,
            |row| super::meetings::Meeting::joining(row, party, &siblings),
        )
        .map(Some)
    }
    async fn created_at(&self) -> chrono::DateTime<chrono::Utc> {
        self.row.created_at
    }
}

#[derive(Default)]
pub struct UserQuery;

#[Object]
impl UserQuery {
    /// The signed-in person, or null when nobody is signed in.
    async fn me(&self, ctx: &Context<'_>) -> Option<User> {
        viewer(ctx).user.clone().map(User::alone)
    }

    /// Everyone with an account (staff only), optionally of one role.
    #[graphql(guard = "RoleGuard::staff()")]
    async fn users(
        &self,
        ctx: &Context<'_>,
        role: Option<RoleGql>,
        after: Option<String>,
        before: Option<String>,
        #[graphql(validator(minimum = 0))] first: Option<i32>,
        #[graphql(validator(minimum = 0))] last: Option<i32>,
    ) -> ApiResult<Option<HiveConnection<User>>> {
        let state = ctx.data_unchecked::<AppState>();
        let mut select = users::Entity::find();
        if let Some(role) = role {
            select = select.filter(users::Column::Role.eq(Role::from(role)));
        }
        let siblings = Siblings::default();
        paginate(
            &state.db,
            select,
            users::Column::Id,
            PageArgs {
                after,
                before,
                first,
                last,
            },
            |row| User::joining(row, &siblings),
        )
        .await
        .map(Some)
    }
}

/// Loads a user for `node(id:)`, if the viewer may see that person
/// (`access::may_see_person`); the fields guard themselves.
pub async fn load_user(ctx: &Context<'_>, id: i64) -> ApiResult<User> {
    let viewer = viewer(ctx);
    viewer.require_user()?;
    let user = super::loaders::row::<users::Entity>(ctx, id, "No user has that id.").await?;
    visible_person(ctx, user)
}

/// `user` as the API gives them, if the viewer may see that person
/// (`access::may_see_person`); FORBIDDEN otherwise.
pub fn visible_person(ctx: &Context<'_>, user: users::Model) -> ApiResult<User> {
    if !crate::access::may_see_person(viewer(ctx), &user) {
        return Err(ApiError::forbidden(
            "A co-op's members are for staff and their co-op.",
        ));
    }
    Ok(User::alone(user))
}

/// A new account.
#[derive(async_graphql::InputObject)]
pub struct CreateUserInput {
    pub email: String,
    pub name: String,
    pub role: RoleGql,
    /// Required for MEMBER: the co-op they belong to.
    pub organisation_id: Option<ID>,
}

/// Gives a person an account through `programme::accounts::create` and
/// wakes the outbox for their welcome link.
pub async fn create_account(
    ctx: &Context<'_>,
    email: &str,
    name: &str,
    role: Role,
    organisation_id: Option<i64>,
    action: &str,
) -> ApiResult<User> {
    let state = ctx.data_unchecked::<AppState>();
    let user = crate::programme::accounts::create(
        &state.db,
        &state.settings.public_url,
        viewer(ctx),
        crate::programme::accounts::NewAccount {
            email,
            name,
            role,
            organisation_id,
        },
        action,
    )
    .await?;
    state.outbox_signal.notify_one();
    Ok(User::alone(user))
}

#[derive(Default)]
pub struct UserMutation;

#[Object]
impl UserMutation {
    /// Creates an account (staff) and emails the person a sign-in link.
    #[graphql(guard = "RoleGuard::staff()")]
    async fn create_user(&self, ctx: &Context<'_>, input: CreateUserInput) -> ApiResult<User> {
        let organisation_id = input
            .organisation_id
            .as_ref()
            .map(|id| super::relay::decode_id_of(NodeType::Organisation, id))
            .transpose()?;
        create_account(
            ctx,
            &input.email,
            &input.name,
            input.role.into(),
            organisation_id,
            "createUser",
        )
        .await
    }
}
