//! People: `me`, `node` for users, and the staff list of users.

use async_graphql::{Context, Enum, ID, Object};
use entity::users::{self, Role};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use super::relay::{HiveConnection, NodeType, PageArgs, global_id, paginate};
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

/// A person who can sign in.
pub struct User(pub users::Model);

#[Object]
impl User {
    pub async fn id(&self) -> ID {
        global_id(NodeType::User, self.0.id)
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// Visible to the person themself and to staff.
    async fn email(&self, ctx: &Context<'_>) -> ApiResult<Option<&str>> {
        if crate::access::may_read_email(viewer(ctx), self.0.id) {
            Ok(Some(&self.0.email))
        } else {
            Err(ApiError::forbidden(
                "Only staff and the person themself see an email address.",
            ))
        }
    }
    async fn role(&self) -> RoleGql {
        self.0.role.into()
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
            self.0.id,
        )
        .await
    }
    /// The co-op a MEMBER belongs to.
    #[graphql(deprecation = "Use `organisation { id }` instead.")]
    async fn organisation_id(&self) -> Option<ID> {
        self.0
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
        super::node::follow(self.0.organisation_id, |id| {
            super::organisations::load_organisation(ctx, id)
        })
        .await
    }
    async fn active(&self) -> bool {
        self.0.deactivated_at.is_none()
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
        if viewer.user.as_ref().map(|user| user.id) != Some(self.0.id) {
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
        let party = match self.0.role {
            Role::Staff => crate::access::Party::Staff,
            Role::Member => crate::access::Party::ClientMember,
            Role::Mentor | Role::Adviser => crate::access::Party::Provider,
        };
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
            |row| super::meetings::Meeting { row, party },
        )
        .map(Some)
    }
    async fn created_at(&self) -> chrono::DateTime<chrono::Utc> {
        self.0.created_at
    }
}

#[derive(Default)]
pub struct UserQuery;

#[Object]
impl UserQuery {
    /// The signed-in person, or null when nobody is signed in.
    async fn me(&self, ctx: &Context<'_>) -> Option<User> {
        viewer(ctx).user.clone().map(User)
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
            User,
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
    if !crate::access::may_see_person(viewer, &user) {
        return Err(ApiError::forbidden(
            "A co-op's members are for staff and their co-op.",
        ));
    }
    Ok(User(user))
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
    Ok(User(user))
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
