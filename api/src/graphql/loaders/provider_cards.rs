//! A provider's card: the name, topics, sectors and regions a directory
//! page shows of each mentor or adviser, read for a whole page in one
//! statement (issue 19).
//!
//! Each part comes from its own table (the name from `users`, the lists
//! from the link tables), and one statement a part made a page of the
//! directory five statements where a hand-written handler needs two (the
//! side-by-side bench, `tests/bench/graphql.sh`). The parts a query asks
//! for are read together: one `SELECT … UNION ALL SELECT …` with a branch
//! per part, each row `(provider id, part, term id, text)` and the term's
//! `(created, retired)` when they are asked,
//! on SQLite and PostgreSQL alike. A part the query does not ask for is no
//! branch at all, so a page of names reads `users` alone.

use std::{collections::HashMap, sync::Arc};

use async_graphql::dataloader::Loader;
use chrono::{DateTime, Utc};
use entity::{
    provider_regions, provider_sectors, provider_topics, providers, sectors, topics, users,
};
use sea_orm::{
    ConnectionTrait, DatabaseConnection, EntityName, ExprTrait, Iden, IdenStatic,
    sea_query::{Expr, Query, SelectStatement, UnionType},
};

use super::{HiveLoader, gather};
use crate::{error::ApiError, programme::vocabulary::Term};

/// Which parts of a card a query asks for, as bits: [`CardParts::NAME`],
/// [`CardParts::TOPICS`], [`CardParts::SECTORS`], [`CardParts::REGIONS`],
/// and [`CardParts::TERM_DATES`] for the topics' and sectors' times.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CardParts(u8);

impl CardParts {
    /// No part.
    pub const NONE: CardParts = CardParts(0);
    pub const NAME: CardParts = CardParts(1);
    pub const TOPICS: CardParts = CardParts(2);
    pub const SECTORS: CardParts = CardParts(4);
    pub const REGIONS: CardParts = CardParts(8);
    /// The topics' and sectors' `createdAt` and `retired`: two timestamps a
    /// term, most of what decoding a page's card rows cost, and a directory
    /// page asks only their names. Without this part a term's
    /// `created_at` is the epoch and `retired_at` none, and the fields that
    /// show them ask for the part themselves (see `Provider::topics`).
    pub const TERM_DATES: CardParts = CardParts(16);
    /// Every part: for a provider whose selection is not known ahead (one
    /// on its own, the provider of an engagement or a suggestion).
    pub const ALL: CardParts = CardParts(31);

    /// The parts a page of providers asks of its nodes (`edges { node }`
    /// and `nodes`), from async-graphql's look-ahead at the list field,
    /// which follows fragments. `@skip` and `@include` are not read: a
    /// part asked under one is read whether or not it is included. The
    /// name is not a part when the nodes ask for `user` as well: that
    /// reads the whole account, name included, and `name` takes it there.
    pub fn asked_of_page(page: &async_graphql::Lookahead<'_>) -> CardParts {
        let nodes = [page.field("edges").field("node"), page.field("nodes")];
        let asks = |field: &str| nodes.iter().any(|node| node.field(field).exists());
        let parts = [
            ("name", CardParts::NAME),
            ("topics", CardParts::TOPICS),
            ("sectors", CardParts::SECTORS),
            ("regions", CardParts::REGIONS),
        ]
        .into_iter()
        .filter(|(field, part)| asks(field) && !(*part == CardParts::NAME && asks("user")))
        .fold(CardParts::NONE, |parts, (_, part)| parts.with(part));
        let dates_asked = nodes.iter().any(|node| {
            ["topics", "sectors"]
                .into_iter()
                .any(|terms| CardParts::term_dates_asked(&node.field(terms)))
        });
        if dates_asked {
            parts.with(CardParts::TERM_DATES)
        } else {
            parts
        }
    }

    /// Whether a selection of terms (a provider's `topics` or `sectors`)
    /// asks for what [`CardParts::TERM_DATES`] reads.
    pub fn term_dates_asked(terms: &async_graphql::Lookahead<'_>) -> bool {
        terms.field("createdAt").exists() || terms.field("retired").exists()
    }

    /// These parts and `part`.
    pub fn with(self, part: CardParts) -> CardParts {
        CardParts(self.0 | part.0)
    }

    /// Whether `part` is among these.
    pub fn has(self, part: CardParts) -> bool {
        self.0 & part.0 == part.0
    }
}

/// A provider's card, as far as its key's [`CardParts`] asked: the parts
/// not asked are empty. Topics and sectors in id order (retired ones too:
/// they stay on old records), regions in name order.
#[derive(Debug, Clone, Default)]
pub struct ProviderCard {
    /// The provider's user's name; `None` when not asked, or (never in a
    /// sound database) when the provider has no user.
    pub name: Option<String>,
    pub topics: Vec<Term>,
    pub sectors: Vec<Term>,
    pub regions: Vec<String>,
}

/// A provider (by id) and the parts of its card to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ProviderCardKey(pub i64, pub CardParts);

/// Shared (`Arc`): each field of a provider takes its part from the one
/// card, which is not copied whole for each.
impl Loader<ProviderCardKey> for HiveLoader {
    type Value = Arc<ProviderCard>;
    type Error = ApiError;

    async fn load(
        &self,
        keys: &[ProviderCardKey],
    ) -> Result<HashMap<ProviderCardKey, Arc<ProviderCard>>, ApiError> {
        // One statement per distinct set of parts (a request asks one,
        // almost always).
        let mut by_parts: HashMap<CardParts, Vec<i64>> = HashMap::new();
        for key in keys {
            by_parts.entry(key.1).or_default().push(key.0);
        }
        let mut found = HashMap::new();
        for (parts, ids) in by_parts {
            let mut cards = provider_cards(&self.db, &ids, parts).await?;
            for id in ids {
                let card = cards.remove(&id).unwrap_or_default();
                found.insert(ProviderCardKey(id, parts), Arc::new(card));
            }
        }
        Ok(found)
    }
}

/// Which branch a row came from.
const NAME: i32 = 0;
const TOPIC: i32 = 1;
const SECTOR: i32 = 2;
const REGION: i32 = 3;

/// The first columns of a row of the card statement: provider id, part,
/// term id (0 for a name or a region), the text (a name, a term's name, a
/// region). With [`CardParts::TERM_DATES`] the term's creation and
/// retirement follow. No column of these four is ever NULL: sea-orm builds
/// an error message for each NULL it decodes (a formatted string), which
/// was a tenth of the card's cost when every row carried three of them.
type CardRow = (i64, i32, i64, String);

/// The cards of `ids` with `parts`, one statement per 5,000 providers.
async fn provider_cards(
    db: &DatabaseConnection,
    ids: &[i64],
    parts: CardParts,
) -> Result<HashMap<i64, ProviderCard>, ApiError> {
    let rows = gather(ids, |chunk| async move {
        let Some(statement) = card_statement(parts, &chunk) else {
            return Ok(Vec::new());
        };
        let with_dates = parts.has(CardParts::TERM_DATES);
        db.query_all(&statement)
            .await?
            .iter()
            .map(|row| {
                let first: CardRow = row.try_get_many_by_index()?;
                let dates: (Option<DateTime<Utc>>, Option<DateTime<Utc>>) = if with_dates {
                    (row.try_get_by_index(4)?, row.try_get_by_index(5)?)
                } else {
                    (None, None)
                };
                Ok((first.0, (first, dates)))
            })
            .collect()
    })
    .await?;
    let mut cards = HashMap::with_capacity(rows.len());
    for (id, rows) in rows {
        let mut card = ProviderCard::default();
        for ((_, part, term_id, text), (created_at, retired_at)) in rows {
            let term = || Term {
                id: term_id,
                name: text.clone(),
                created_at: created_at.unwrap_or_default(),
                retired_at,
            };
            match part {
                NAME => card.name = Some(text),
                TOPIC => card.topics.push(term()),
                SECTOR => card.sectors.push(term()),
                _ => card.regions.push(text),
            }
        }
        card.topics.sort_by_key(|term| term.id);
        card.sectors.sort_by_key(|term| term.id);
        // In Rust, not by the database's collation: the same order on both.
        card.regions.sort();
        cards.insert(id, card);
    }
    Ok(cards)
}

/// The term id of a row that is not a term's: a 64-bit zero, so that the
/// column is BIGINT on PostgreSQL whichever branches the statement has.
const NO_TERM: &str = "CAST(0 AS BIGINT)";

/// A name's or a region's two NULL times, when the terms' times are read.
fn no_dates(branch: &mut SelectStatement, parts: CardParts) {
    if parts.has(CardParts::TERM_DATES) {
        branch.expr(Expr::cust("NULL")).expr(Expr::cust("NULL"));
    }
}

/// The statement for `parts` of the providers `ids`: a `UNION ALL` of one
/// branch per part; `None` when no part is asked.
fn card_statement(parts: CardParts, ids: &[i64]) -> Option<SelectStatement> {
    let mut branches = Vec::new();
    if parts.has(CardParts::NAME) {
        let mut branch = Query::select();
        branch
            .column((providers::Entity, providers::Column::Id))
            .expr(Expr::cust(NAME.to_string()))
            .expr(Expr::cust(NO_TERM))
            .column((users::Entity, users::Column::Name));
        no_dates(&mut branch, parts);
        branch
            .from(providers::Entity)
            .inner_join(
                users::Entity,
                Expr::col((users::Entity, users::Column::Id))
                    .equals((providers::Entity, providers::Column::UserId)),
            )
            .and_where(Expr::col((providers::Entity, providers::Column::Id)).is_in(ids.to_vec()));
        branches.push(branch);
    }
    if parts.has(CardParts::TOPICS) {
        branches.push(term_branch(
            TOPIC,
            provider_topics::Entity,
            (
                provider_topics::Column::ProviderId,
                provider_topics::Column::TopicId,
            ),
            topics::Entity,
            super::TOPIC_TERM,
            parts.has(CardParts::TERM_DATES),
            ids,
        ));
    }
    if parts.has(CardParts::SECTORS) {
        branches.push(term_branch(
            SECTOR,
            provider_sectors::Entity,
            (
                provider_sectors::Column::ProviderId,
                provider_sectors::Column::SectorId,
            ),
            sectors::Entity,
            [
                sectors::Column::Id,
                sectors::Column::Name,
                sectors::Column::CreatedAt,
                sectors::Column::RetiredAt,
            ],
            parts.has(CardParts::TERM_DATES),
            ids,
        ));
    }
    if parts.has(CardParts::REGIONS) {
        let mut branch = Query::select();
        branch
            .column(provider_regions::Column::ProviderId)
            .expr(Expr::cust(REGION.to_string()))
            .expr(Expr::cust(NO_TERM))
            .column(provider_regions::Column::Region);
        no_dates(&mut branch, parts);
        branch
            .from(provider_regions::Entity)
            .and_where(Expr::col(provider_regions::Column::ProviderId).is_in(ids.to_vec()));
        branches.push(branch);
    }
    let mut branches = branches.into_iter();
    let mut statement = branches.next()?;
    for branch in branches {
        statement.union(UnionType::All, branch);
    }
    Some(statement)
}

/// A branch of terms (topics or sectors) through link table `link`, whose
/// `(provider, term)` columns are given, joined to vocabulary table `terms`
/// by its `[id, name, created_at, retired_at]` columns; the two times only
/// `with_dates` (no such columns otherwise).
fn term_branch<L, T, C>(
    part: i32,
    link: L,
    (provider, term): (C, C),
    terms: T,
    [id, name, created_at, retired_at]: [impl IdenStatic; 4],
    with_dates: bool,
    ids: &[i64],
) -> SelectStatement
where
    L: EntityName + Iden + Copy + 'static,
    T: EntityName + Iden + Copy + 'static,
    C: IdenStatic + Copy,
{
    let mut branch = Query::select();
    branch
        .column((link, provider))
        .expr(Expr::cust(part.to_string()))
        .column((terms, id))
        .column((terms, name));
    if with_dates {
        branch
            .column((terms, created_at))
            .column((terms, retired_at));
    }
    branch
        .from(link)
        .inner_join(terms, Expr::col((terms, id)).equals((link, term)))
        .and_where(Expr::col((link, provider)).is_in(ids.to_vec()));
    branch
}
