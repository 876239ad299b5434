//! Client co-ops: staff keep the register, members keep their own profile,
//! and the confidential fields answer only to those DESIGN.md allows.

use async_graphql::{Context, Enum, ID, InputObject, MaybeUndefined, Object};
use chrono::{DateTime, Utc};
use entity::{
    organisations::{self, OrganisationStage},
    users,
};
use sea_orm::{
    ColumnTrait, EntityTrait, ExprTrait, QueryFilter,
    sea_query::{Expr, Func},
};
use tokio::sync::OnceCell;

use super::{
    loaders::{
        ConfidentialRead, OrganisationEngagementsKey, OrganisationMembersKey,
        trace_confidential_read,
    },
    relay::{
        HiveConnection, NodeType, PageArgs, decode_id_of, global_id, paginate, paginate_loaded,
    },
    siblings::Siblings,
    users::User,
    vocabulary::{Sector, Vocabulary, term_ids},
};
use crate::{
    access::{OrganisationRelationship, relationship_from},
    auth::{RoleGuard, viewer},
    error::{ApiError, ApiResult},
    programme::organisations::{self as programme, Patch},
    state::AppState,
};

/// Where a co-op is on its journey.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(
    name = "OrganisationStage",
    remote = "entity::organisations::OrganisationStage"
)]
pub enum Stage {
    Idea,
    StartUp,
    Trading,
    Converting,
    SpinningOut,
}

/// A client co-operative, resolved with its siblings (the list it is on),
/// so that each relation a query selects costs one statement for the list.
pub struct Organisation {
    pub row: organisations::Model,
    relationship: OnceCell<OrganisationRelationship>,
    siblings: Siblings<organisations::Model>,
}

impl Organisation {
    /// A co-op on its own (one object, a mutation's result).
    pub fn new(row: organisations::Model) -> Self {
        let siblings = Siblings::alone(&row);
        Self::with(row, siblings)
    }

    /// A co-op joining `siblings`: a page gathered as it is made.
    pub fn joining(row: organisations::Model, siblings: &Siblings<organisations::Model>) -> Self {
        let siblings = siblings.join(&row);
        Self::with(row, siblings)
    }

    /// A co-op that is one of `siblings`.
    pub fn among(row: organisations::Model, siblings: &Siblings<organisations::Model>) -> Self {
        Self::with(row, siblings.clone())
    }

    fn with(row: organisations::Model, siblings: Siblings<organisations::Model>) -> Self {
        Self {
            row,
            relationship: OnceCell::new(),
            siblings,
        }
    }

    /// Its members' accounts, oldest first, loaded for all its siblings at
    /// once, with the members of them all as their siblings.
    async fn member_rows(
        &self,
        ctx: &Context<'_>,
    ) -> ApiResult<(Vec<users::Model>, Siblings<users::Model>)> {
        let members = |row: &organisations::Model| Some(OrganisationMembersKey(row.id));
        self.siblings.load_list(ctx, members, &self.row).await
    }

    async fn relationship(&self, ctx: &Context<'_>) -> ApiResult<OrganisationRelationship> {
        Ok(*self
            .relationship
            .get_or_try_init(|| async {
                let footprint = super::loaders::viewer_footprint(ctx).await?;
                Ok::<_, ApiError>(relationship_from(
                    viewer(ctx),
                    footprint.as_ref(),
                    self.row.id,
                ))
            })
            .await?)
    }

    async fn confidential<'a>(
        &'a self,
        ctx: &Context<'_>,
        allowed: fn(OrganisationRelationship) -> bool,
        value: &'a Option<String>,
        what: &str,
    ) -> ApiResult<Option<&'a str>> {
        if allowed(self.relationship(ctx).await?) {
            Ok(value.as_deref())
        } else {
            Err(ApiError::forbidden(format!(
                "You may not see this co-op's {what}."
            )))
        }
    }
}

#[Object]
impl Organisation {
    pub async fn id(&self) -> ID {
        global_id(NodeType::Organisation, self.row.id)
    }
    async fn name(&self) -> &str {
        &self.row.name
    }
    async fn legal_form(&self) -> Option<&str> {
        self.row.legal_form.as_deref()
    }
    async fn stage(&self) -> Stage {
        self.row.stage.into()
    }
    async fn sector(&self, ctx: &Context<'_>) -> ApiResult<Option<Sector>> {
        let sector = |row: &organisations::Model| {
            row.sector_id
                .map(|id| super::loaders::TermKey(Vocabulary::Sector, id))
        };
        Ok(self
            .siblings
            .load(ctx, sector, &self.row)
            .await?
            .map(Sector))
    }
    async fn region(&self) -> &str {
        &self.row.region
    }
    async fn members_count(&self) -> Option<i32> {
        self.row.members_count
    }
    async fn founded_year(&self) -> Option<i32> {
        self.row.founded_year
    }
    /// Confidential: staff, the co-op's members, and a provider with an ACTIVE engagement with it.
    async fn contact_email(&self, ctx: &Context<'_>) -> ApiResult<Option<&str>> {
        self.confidential(
            ctx,
            OrganisationRelationship::can_read_contact,
            &self.row.contact_email,
            "contact details",
        )
        .await
    }
    /// Confidential: staff, the co-op's members, and a provider with an ACTIVE engagement with it.
    async fn contact_phone(&self, ctx: &Context<'_>) -> ApiResult<Option<&str>> {
        self.confidential(
            ctx,
            OrganisationRelationship::can_read_contact,
            &self.row.contact_phone,
            "contact details",
        )
        .await
    }
    /// Restricted: staff and the co-op's members only, never a provider.
    /// Each staff read is recorded in `auditLog` (`readFinancialDetails`).
    async fn financial_details(&self, ctx: &Context<'_>) -> ApiResult<Option<&str>> {
        let value = self
            .confidential(
                ctx,
                OrganisationRelationship::can_read_financials,
                &self.row.financial_details,
                "financial details",
            )
            .await?;
        // Each object traces its own read: its siblings may include co-ops
        // the query loaded but never gave (filtered out, past the page).
        trace_confidential_read(ctx, ConfidentialRead::FinancialDetails, self.row.id).await?;
        Ok(value)
    }
    /// The co-op's members with accounts (staff and the members themselves;
    /// null with FORBIDDEN for anyone else).
    #[graphql(deprecation = "Use `membersConnection`, which pages.")]
    async fn members(&self, ctx: &Context<'_>) -> ApiResult<Option<Vec<User>>> {
        if !self.relationship(ctx).await?.can_see_members() {
            return Err(ApiError::forbidden(
                "Only staff and the co-op's members see its members.",
            ));
        }
        let (members, siblings) = self.member_rows(ctx).await?;
        let members = members.into_iter();
        Ok(Some(
            members.map(|row| User::among(row, &siblings)).collect(),
        ))
    }
    /// The co-op's members with accounts, oldest account first, a page at a
    /// time: for staff and the co-op's members; null with FORBIDDEN for
    /// anyone else.
    async fn members_connection(
        &self,
        ctx: &Context<'_>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> ApiResult<Option<HiveConnection<User>>> {
        if !self.relationship(ctx).await?.can_see_members() {
            return Err(ApiError::forbidden(
                "Only staff and the co-op's members see its members.",
            ));
        }
        let (members, siblings) = self.member_rows(ctx).await?;
        paginate_loaded(
            "members",
            members,
            PageArgs {
                after,
                before,
                first,
                last,
            },
            |row| row.id,
            |row| User::among(row, &siblings),
        )
        .map(Some)
    }
    /// The engagements on the co-op's requests that the viewer may see
    /// (staff and its members all, a provider their own), of any of
    /// `status` (all when absent), in the home order of the root
    /// `engagements` list, a page at a time.
    async fn engagements(
        &self,
        ctx: &Context<'_>,
        status: Option<Vec<super::engagements::Status>>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> ApiResult<HiveConnection<super::engagements::Engagement>> {
        let engagements = |row: &organisations::Model| Some(OrganisationEngagementsKey(row.id));
        let (rows, siblings) = self.siblings.load_list(ctx, engagements, &self.row).await?;
        super::engagements::home_connection(
            ctx,
            rows,
            &siblings,
            status,
            PageArgs {
                after,
                before,
                first,
                last,
            },
        )
        .await
    }
    /// When the co-op left the programme (`archiveOrganisation`); null while
    /// it takes part.
    async fn archived_at(&self) -> Option<DateTime<Utc>> {
        self.row.archived_at
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.row.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.row.updated_at
    }
}

/// Loads an organisation the viewer may see; NOT_FOUND or FORBIDDEN otherwise.
pub async fn load_organisation(ctx: &Context<'_>, id: i64) -> ApiResult<Organisation> {
    viewer(ctx).require_user()?;
    let row = super::loaders::row::<organisations::Entity>(ctx, id, "No organisation has that id.")
        .await?;
    visible(ctx, Organisation::new(row)).await
}

/// `organisation` if the viewer may see it (as `organisation(id:)`);
/// FORBIDDEN otherwise.
pub async fn visible(ctx: &Context<'_>, organisation: Organisation) -> ApiResult<Organisation> {
    if !organisation.relationship(ctx).await?.can_see() {
        return Err(ApiError::forbidden("You may not see this organisation."));
    }
    Ok(organisation)
}

/// A new co-op on the register.
#[derive(InputObject)]
pub struct CreateOrganisationInput {
    pub name: String,
    pub legal_form: Option<String>,
    pub stage: Stage,
    pub sector_id: Option<ID>,
    /// One of the UK regions (see README).
    pub region: String,
    pub members_count: Option<i32>,
    pub founded_year: Option<i32>,
    pub contact_email: Option<String>,
    pub contact_phone: Option<String>,
    pub financial_details: Option<String>,
}

/// Changes to a co-op; fields left out stay as they are, `null` clears.
#[derive(InputObject)]
pub struct UpdateOrganisationInput {
    pub name: Option<String>,
    pub legal_form: MaybeUndefined<String>,
    pub stage: Option<Stage>,
    pub sector_id: MaybeUndefined<ID>,
    pub region: Option<String>,
    pub members_count: MaybeUndefined<i32>,
    pub founded_year: MaybeUndefined<i32>,
    pub contact_email: MaybeUndefined<String>,
    pub contact_phone: MaybeUndefined<String>,
    pub financial_details: MaybeUndefined<String>,
}

/// Filters for the register.
#[derive(InputObject, Default)]
pub struct OrganisationFilter {
    pub sector_id: Option<ID>,
    pub region: Option<String>,
    pub stage: Option<Stage>,
    /// Part of the name, any case.
    pub search: Option<String>,
}

/// A sector id given as `sectorId`: BAD_USER_INPUT if it is not one.
fn sector_number(id: &ID) -> ApiResult<i64> {
    Ok(term_ids(Vocabulary::Sector, "sectorId", std::slice::from_ref(id))?[0])
}

/// `MaybeUndefined` in the programme's terms.
fn patch<T, U>(
    value: MaybeUndefined<T>,
    convert: impl FnOnce(T) -> ApiResult<U>,
) -> ApiResult<Patch<U>> {
    Ok(match value {
        MaybeUndefined::Undefined => Patch::Keep,
        MaybeUndefined::Null => Patch::Clear,
        MaybeUndefined::Value(value) => Patch::To(convert(value)?),
    })
}

#[derive(Default)]
pub struct OrganisationQuery;

#[Object]
impl OrganisationQuery {
    /// The register of client co-ops (staff), filtered.
    #[graphql(guard = "RoleGuard::staff()")]
    async fn organisations(
        &self,
        ctx: &Context<'_>,
        filter: Option<OrganisationFilter>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> ApiResult<Option<HiveConnection<Organisation>>> {
        let state = ctx.data_unchecked::<AppState>();
        let filter = filter.unwrap_or_default();
        let mut select = organisations::Entity::find();
        if let Some(id) = &filter.sector_id {
            let id = decode_id_of(NodeType::Sector, id)
                .map_err(|_| ApiError::bad_input("sectorId", "Not a sector id."))?;
            select = select.filter(organisations::Column::SectorId.eq(id));
        }
        if let Some(value) = &filter.region {
            select = select.filter(organisations::Column::Region.eq(programme::region(value)?));
        }
        if let Some(stage) = filter.stage {
            select = select.filter(organisations::Column::Stage.eq(OrganisationStage::from(stage)));
        }
        if let Some(search) = filter
            .search
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            let pattern = format!("%{}%", search.to_lowercase().replace(['\\', '%', '_'], ""));
            select = select.filter(
                Expr::expr(Func::lower(Expr::col((
                    organisations::Entity,
                    organisations::Column::Name,
                ))))
                .like(pattern),
            );
        }
        let siblings = Siblings::default();
        paginate(
            &state.db,
            select,
            organisations::Column::Id,
            PageArgs {
                after,
                before,
                first,
                last,
            },
            |row| Organisation::joining(row, &siblings),
        )
        .await
        .map(Some)
    }

    /// One co-op, if the viewer may see it.
    #[graphql(guard = "RoleGuard::signed_in()")]
    async fn organisation(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Option<Organisation>> {
        load_organisation(ctx, decode_id_of(NodeType::Organisation, &id)?)
            .await
            .map(Some)
    }
}

#[derive(Default)]
pub struct OrganisationMutation;

#[Object]
impl OrganisationMutation {
    /// Adds a co-op to the register (staff).
    #[graphql(guard = "RoleGuard::staff()")]
    async fn create_organisation(
        &self,
        ctx: &Context<'_>,
        input: CreateOrganisationInput,
    ) -> ApiResult<Organisation> {
        let state = ctx.data_unchecked::<AppState>();
        let row = programme::create(
            &state.db,
            viewer(ctx),
            programme::NewOrganisation {
                name: input.name,
                legal_form: input.legal_form,
                stage: input.stage.into(),
                sector_id: input.sector_id.as_ref().map(sector_number).transpose()?,
                region: input.region,
                members_count: input.members_count,
                founded_year: input.founded_year,
                contact_email: input.contact_email,
                contact_phone: input.contact_phone,
                financial_details: input.financial_details,
            },
        )
        .await?;
        Ok(Organisation::new(row))
    }

    /// Changes a co-op's profile: staff, or one of its members.
    async fn update_organisation(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateOrganisationInput,
    ) -> ApiResult<Organisation> {
        let state = ctx.data_unchecked::<AppState>();
        let id = decode_id_of(NodeType::Organisation, &id)?;
        let changes = programme::OrganisationChanges {
            name: input.name,
            legal_form: patch(input.legal_form, Ok)?,
            stage: input.stage.map(Into::into),
            sector_id: patch(input.sector_id, |id| sector_number(&id))?,
            region: input.region,
            members_count: patch(input.members_count, Ok)?,
            founded_year: patch(input.founded_year, Ok)?,
            contact_email: patch(input.contact_email, Ok)?,
            contact_phone: patch(input.contact_phone, Ok)?,
            financial_details: patch(input.financial_details, Ok)?,
        };
        let updated = programme::update(&state.db, viewer(ctx), id, changes).await?;
        Ok(Organisation::new(updated))
    }

    /// Gives a person at a co-op an account and emails them a sign-in link (staff).
    #[graphql(guard = "RoleGuard::staff()")]
    async fn invite_member(
        &self,
        ctx: &Context<'_>,
        organisation_id: ID,
        email: String,
        name: String,
    ) -> ApiResult<User> {
        let state = ctx.data_unchecked::<AppState>();
        let organisation_id = decode_id_of(NodeType::Organisation, &organisation_id)?;
        let user = programme::invite_member(
            &state.db,
            &state.settings.public_url,
            viewer(ctx),
            organisation_id,
            &email,
            &name,
        )
        .await?;
        state.outbox_signal.notify_one();
        let user = User::alone(user);
        Ok(user)
    }

    /// Takes a person off their co-op, for someone who has left it (staff):
    /// their account is deactivated (`active: false`; it keeps its co-op for
    /// the record), their sessions, sign-in links and calendar feed stop
    /// working, and messages to them not yet sent are taken back.
    /// BAD_USER_INPUT for someone who is not a co-op member, CONFLICT if
    /// already removed.
    /// A co-op leaves the programme (staff): its open requests are
    /// withdrawn (a proposal on one lapses), its members' accounts are
    /// closed, and no survey goes to it from then on; its history stays and
    /// counts. CONFLICT while one of its engagements is ACTIVE (end it
    /// first), or if already archived.
    #[graphql(guard = "RoleGuard::staff()")]
    async fn archive_organisation(
        &self,
        ctx: &Context<'_>,
        organisation_id: ID,
    ) -> ApiResult<Organisation> {
        let state = ctx.data_unchecked::<AppState>();
        let organisation_id = decode_id_of(NodeType::Organisation, &organisation_id)?;
        let archived = programme::archive(
            &state.db,
            &state.settings.public_url,
            &state.sessions,
            viewer(ctx),
            organisation_id,
        )
        .await?;
        Ok(Organisation::new(archived))
    }

    #[graphql(guard = "RoleGuard::staff()")]
    async fn remove_member(&self, ctx: &Context<'_>, user_id: ID) -> ApiResult<User> {
        let state = ctx.data_unchecked::<AppState>();
        let user_id = decode_id_of(NodeType::User, &user_id)?;
        programme::remove_member(&state.db, &state.sessions, viewer(ctx), user_id)
            .await
            .map(User::alone)
    }
}
