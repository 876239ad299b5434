//! Client co-ops: staff keep the register, members keep their own profile,
//! and the confidential fields answer only to those DESIGN.md allows.

use async_graphql::{Context, Enum, ID, InputObject, MaybeUndefined, Object};
use chrono::{DateTime, Datelike, Utc};
use entity::{
    organisations::{self, OrganisationStage},
    users::{self, Role},
};
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::Set,
    ColumnTrait, EntityTrait, ExprTrait, QueryFilter,
    sea_query::{Expr, Func},
};
use tokio::sync::OnceCell;

use super::{
    relay::{HiveConnection, NodeType, PageArgs, decode_id_of, global_id, paginate},
    users::User,
    vocabulary::{Sector, Vocabulary, current_terms},
};
use crate::{
    access::{OrganisationRelationship, organisation_relationship},
    audit,
    auth::{RoleGuard, normalise_email, viewer},
    error::{ApiError, ApiResult},
    regions::canonical_region,
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

/// A client co-operative.
pub struct Organisation {
    pub row: organisations::Model,
    relationship: OnceCell<OrganisationRelationship>,
}

impl Organisation {
    pub fn new(row: organisations::Model) -> Self {
        Self {
            row,
            relationship: OnceCell::new(),
        }
    }

    async fn relationship(&self, ctx: &Context<'_>) -> ApiResult<OrganisationRelationship> {
        let state = ctx.data_unchecked::<AppState>();
        Ok(*self
            .relationship
            .get_or_try_init(|| organisation_relationship(&state.db, viewer(ctx), self.row.id))
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
        let Some(id) = self.row.sector_id else {
            return Ok(None);
        };
        Ok(ctx
            .data_unchecked::<super::loaders::Loaders>()
            .load_one(super::loaders::TermKey(Vocabulary::Sector, id))
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
    async fn financial_details(&self, ctx: &Context<'_>) -> ApiResult<Option<&str>> {
        self.confidential(
            ctx,
            OrganisationRelationship::can_read_financials,
            &self.row.financial_details,
            "financial details",
        )
        .await
    }
    /// The co-op's members with accounts (staff and the members themselves).
    async fn members(&self, ctx: &Context<'_>) -> ApiResult<Vec<User>> {
        if !self.relationship(ctx).await?.can_edit() {
            return Err(ApiError::forbidden(
                "Only staff and the co-op's members see its members.",
            ));
        }
        let state = ctx.data_unchecked::<AppState>();
        Ok(users::Entity::find()
            .filter(users::Column::OrganisationId.eq(self.row.id))
            .all(&state.db)
            .await?
            .into_iter()
            .map(User)
            .collect())
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
    let state = ctx.data_unchecked::<AppState>();
    viewer(ctx).require_user()?;
    let row = organisations::Entity::find_by_id(id)
        .one(&state.db)
        .await?
        .ok_or_else(|| ApiError::not_found("No organisation has that id."))?;
    let organisation = Organisation::new(row);
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

fn text(field: &str, value: &str, max: usize) -> ApiResult<String> {
    let value = value.trim();
    if value.is_empty() || value.chars().count() > max {
        return Err(ApiError::bad_input(
            field,
            format!("Give 1 to {max} characters."),
        ));
    }
    Ok(value.to_string())
}

fn optional_text(field: &str, value: Option<&str>, max: usize) -> ApiResult<Option<String>> {
    match value.map(str::trim) {
        None | Some("") => Ok(None),
        Some(value) => text(field, value, max).map(Some),
    }
}

fn region(value: &str) -> ApiResult<String> {
    canonical_region(value).map(str::to_string).ok_or_else(|| {
        ApiError::bad_input(
            "region",
            format!("\"{value}\" is not one of the programme's regions."),
        )
    })
}

fn members_count(value: Option<i32>) -> ApiResult<Option<i32>> {
    match value {
        Some(n) if !(0..=1_000_000).contains(&n) => Err(ApiError::bad_input(
            "membersCount",
            "Give a number from 0 to 1,000,000.",
        )),
        other => Ok(other),
    }
}

fn founded_year(value: Option<i32>) -> ApiResult<Option<i32>> {
    let this_year = Utc::now().year();
    match value {
        Some(year) if !(1800..=this_year).contains(&year) => Err(ApiError::bad_input(
            "foundedYear",
            format!("Give a year from 1800 to {this_year}."),
        )),
        other => Ok(other),
    }
}

fn contact_email(value: Option<&str>) -> ApiResult<Option<String>> {
    match value.map(str::trim) {
        None | Some("") => Ok(None),
        Some(value) => normalise_email(value)
            .map(Some)
            .ok_or_else(|| ApiError::bad_input("contactEmail", "That is not an email address.")),
    }
}

async fn sector_id(state: &AppState, id: Option<&ID>) -> ApiResult<Option<i64>> {
    match id {
        None => Ok(None),
        Some(id) => Ok(current_terms(
            &state.db,
            Vocabulary::Sector,
            "sectorId",
            std::slice::from_ref(id),
        )
        .await?
        .first()
        .copied()),
    }
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
    ) -> ApiResult<HiveConnection<Organisation>> {
        let state = ctx.data_unchecked::<AppState>();
        let filter = filter.unwrap_or_default();
        let mut select = organisations::Entity::find();
        if let Some(id) = &filter.sector_id {
            let id = decode_id_of(NodeType::Sector, id)
                .map_err(|_| ApiError::bad_input("sectorId", "Not a sector id."))?;
            select = select.filter(organisations::Column::SectorId.eq(id));
        }
        if let Some(value) = &filter.region {
            select = select.filter(organisations::Column::Region.eq(region(value)?));
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
            Organisation::new,
        )
        .await
    }

    /// One co-op, if the viewer may see it.
    #[graphql(guard = "RoleGuard::signed_in()")]
    async fn organisation(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Organisation> {
        load_organisation(ctx, decode_id_of(NodeType::Organisation, &id)?).await
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
        let now = Utc::now();
        let row = organisations::ActiveModel {
            name: Set(text("name", &input.name, 200)?),
            legal_form: Set(optional_text(
                "legalForm",
                input.legal_form.as_deref(),
                120,
            )?),
            stage: Set(input.stage.into()),
            sector_id: Set(sector_id(state, input.sector_id.as_ref()).await?),
            region: Set(region(&input.region)?),
            members_count: Set(members_count(input.members_count)?),
            founded_year: Set(founded_year(input.founded_year)?),
            contact_email: Set(contact_email(input.contact_email.as_deref())?),
            contact_phone: Set(optional_text(
                "contactPhone",
                input.contact_phone.as_deref(),
                40,
            )?),
            financial_details: Set(optional_text(
                "financialDetails",
                input.financial_details.as_deref(),
                5000,
            )?),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        };
        let txn = hive_worker::db::begin_write(&state.db).await?;
        let row = row.insert(&txn).await?;
        audit::record(
            &txn,
            viewer(ctx),
            "createOrganisation",
            Some(("Organisation", row.id)),
            None,
        )
        .await?;
        txn.commit().await?;
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
        let organisation =
            load_organisation(ctx, decode_id_of(NodeType::Organisation, &id)?).await?;
        if !organisation.relationship(ctx).await?.can_edit() {
            return Err(ApiError::forbidden(
                "Only staff and the co-op's members change its profile.",
            ));
        }
        let mut row: organisations::ActiveModel = organisation.row.clone().into();
        let mut changed = Vec::new();
        if let Some(name) = &input.name {
            row.name = Set(text("name", name, 200)?);
            changed.push("name");
        }
        if let Some(stage) = input.stage {
            row.stage = Set(stage.into());
            changed.push("stage");
        }
        if let Some(value) = &input.region {
            row.region = Set(region(value)?);
            changed.push("region");
        }
        macro_rules! nullable {
            ($field:ident, $name:literal, $convert:expr) => {
                match &input.$field {
                    MaybeUndefined::Undefined => {}
                    MaybeUndefined::Null => {
                        row.$field = Set(None);
                        changed.push($name);
                    }
                    MaybeUndefined::Value(value) => {
                        row.$field = Set($convert(value)?);
                        changed.push($name);
                    }
                }
            };
        }
        nullable!(legal_form, "legalForm", |v: &String| optional_text(
            "legalForm",
            Some(v),
            120
        ));
        nullable!(members_count, "membersCount", |v: &i32| members_count(
            Some(*v)
        ));
        nullable!(founded_year, "foundedYear", |v: &i32| founded_year(Some(
            *v
        )));
        nullable!(contact_email, "contactEmail", |v: &String| contact_email(
            Some(v)
        ));
        nullable!(contact_phone, "contactPhone", |v: &String| optional_text(
            "contactPhone",
            Some(v),
            40
        ));
        nullable!(financial_details, "financialDetails", |v: &String| {
            optional_text("financialDetails", Some(v), 5000)
        });
        match &input.sector_id {
            MaybeUndefined::Undefined => {}
            MaybeUndefined::Null => {
                row.sector_id = Set(None);
                changed.push("sectorId");
            }
            MaybeUndefined::Value(id) => {
                row.sector_id = Set(sector_id(state, Some(id)).await?);
                changed.push("sectorId");
            }
        }
        row.updated_at = Set(Utc::now());
        let txn = hive_worker::db::begin_write(&state.db).await?;
        let updated = row.update(&txn).await?;
        // The names of the changed fields only: never their values.
        audit::record(
            &txn,
            viewer(ctx),
            "updateOrganisation",
            Some(("Organisation", updated.id)),
            Some(serde_json::json!({ "fields": changed })),
        )
        .await?;
        txn.commit().await?;
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
        let organisation =
            load_organisation(ctx, decode_id_of(NodeType::Organisation, &organisation_id)?).await?;
        let user = super::users::create_account(
            ctx,
            &email,
            &name,
            Role::Member,
            Some(organisation.row.id),
            "inviteMember",
        )
        .await?;
        Ok(user)
    }
}
