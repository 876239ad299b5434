//! What the API and the worker both need to know about a needs survey: who it
//! goes to (its audience) and the link a co-op answers from.

use entity::{organisations, users};
use sea_orm::{
    ColumnTrait, Condition, EntityTrait, ExprTrait, QueryFilter, QuerySelect, Select,
    sea_query::{Expr, Func, Query},
};
use serde::{Deserialize, Serialize};

/// Which organisations a survey goes to. Each list narrows the audience; an
/// empty list does not narrow it (every sector, every region, every stage),
/// so the default is every co-op. Stored as JSON in `surveys.audience`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Audience {
    /// Sector row ids.
    #[serde(default)]
    pub sectors: Vec<i64>,
    /// Region names, compared without regard to case or outer spaces.
    #[serde(default)]
    pub regions: Vec<String>,
    #[serde(default)]
    pub stages: Vec<organisations::OrganisationStage>,
}

impl Audience {
    /// Reads the stored JSON; a missing audience is everyone.
    pub fn from_stored(stored: Option<&str>) -> Self {
        stored
            .and_then(|json| serde_json::from_str(json).ok())
            .unwrap_or_default()
    }

    pub fn to_stored(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".into())
    }

    /// The organisations in this audience that can be written to: with a
    /// contact address or an active member (the ones `notify::organisation`
    /// finds someone for). Co-ops nobody can be written to are not invited,
    /// so they do not count against the response rate.
    pub fn organisations(&self) -> Select<organisations::Entity> {
        let mut select = organisations::Entity::find();
        if !self.sectors.is_empty() {
            select = select.filter(organisations::Column::SectorId.is_in(self.sectors.clone()));
        }
        if !self.regions.is_empty() {
            let regions: Vec<String> = self
                .regions
                .iter()
                .map(|region| region.trim().to_lowercase())
                .collect();
            select = select.filter(
                Expr::expr(Func::lower(Func::cust("TRIM").arg(Expr::col((
                    organisations::Entity,
                    organisations::Column::Region,
                )))))
                .is_in(regions),
            );
        }
        if !self.stages.is_empty() {
            select = select.filter(organisations::Column::Stage.is_in(self.stages.clone()));
        }
        let has_member = Query::select()
            .expr(Expr::val(1))
            .from(users::Entity)
            .and_where(
                Expr::col((users::Entity, users::Column::OrganisationId))
                    .equals((organisations::Entity, organisations::Column::Id)),
            )
            .and_where(Expr::col((users::Entity, users::Column::DeactivatedAt)).is_null())
            .to_owned();
        select.filter(
            Condition::any()
                .add(
                    organisations::Column::ContactEmail
                        .is_not_null()
                        .and(organisations::Column::ContactEmail.ne("")),
                )
                .add(Expr::exists(has_member)),
        )
    }

    /// Just the ids, for counting and batching.
    pub fn organisation_ids(&self) -> sea_orm::Selector<sea_orm::SelectGetableTuple<i64>> {
        self.organisations()
            .select_only()
            .column(organisations::Column::Id)
            .into_tuple()
    }
}

/// The page a co-op answers a survey on.
pub fn answer_link(public_url: &str, token: &str) -> String {
    format!("{public_url}/s/{token}")
}

/// The addresses an invitation was sent to: `survey_invitations.email` holds
/// them joined by ", " (every member of a co-op with accounts, or its
/// contact address).
pub fn invitation_addresses(stored: &str) -> impl Iterator<Item = &str> {
    stored.split(',').map(str::trim).filter(|a| !a.is_empty())
}

/// Whether an invitation went to `address` (any case).
pub fn invited_address(stored: &str, address: &str) -> bool {
    invitation_addresses(stored).any(|a| a.eq_ignore_ascii_case(address.trim()))
}
