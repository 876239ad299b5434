//! A provider's card: the name, topics, sectors and regions a directory
//! page shows of each mentor or adviser, read for a whole page in one
//! statement (issue 19).
//!
//! Each part comes from its own table (the name from `users`, the lists
//! from the link tables), and one statement a part made a page of the
//! directory five statements where a hand-written handler needs two (the
//! side-by-side bench, `tests/bench/graphql.sh`). The parts a query asks
//! for are read together, a branch of one `UNION ALL` each, and each
//! branch gives one row for the whole page: JSON arrays that the database
//! aggregates (see [`card_statement`]). A part the query does not ask for
//! is no branch at all, so a page of names reads `users` alone.

use std::{collections::HashMap, sync::Arc};

use async_graphql::dataloader::Loader;
use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, QueryResult, Statement};

use super::HiveLoader;
use crate::{
    error::ApiError,
    graphql::vocabulary::{Sector, Topic},
    programme::vocabulary::Term,
};

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
    /// term, each parsed from text, where a directory page asks only the
    /// terms' names. Without this part a term's
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

    /// Whether the nodes of a page of providers ask for nothing that needs
    /// a load other than the card: each field they select is the card's
    /// (`name`, `topics`, `sectors`, `regions`) or the provider's own row's
    /// (`id`, `kind`, `bio`, …). Fragments are followed; a field under
    /// `@skip` or `@include` counts as asked. Fields of the topics and
    /// sectors are the card's too (a term is read whole).
    pub fn only_card_asked_of_page(page: &async_graphql::Lookahead<'_>) -> bool {
        const CARD_OR_ROW: [&str; 13] = [
            "__typename",
            "id",
            "kind",
            "name",
            "bio",
            "firmName",
            "homeOrganisationId",
            "capacity",
            "active",
            "createdAt",
            "topics",
            "sectors",
            "regions",
        ];
        [page.field("edges").field("node"), page.field("nodes")]
            .iter()
            .flat_map(|nodes| nodes.selection_fields())
            .all(|node| {
                node.selection_set()
                    .all(|field| CARD_OR_ROW.contains(&field.name()))
            })
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
///
/// The lists are shared slices, as the provider's fields answer them: a
/// field hands out its list without copying a term's name (a page of 100
/// mentors has about 1,100 of them).
#[derive(Debug, Clone, Default)]
pub struct ProviderCard {
    /// The provider's user's name; `None` when not asked, or (never in a
    /// sound database) when the provider has no user.
    pub name: Option<String>,
    pub topics: Arc<[Topic]>,
    pub sectors: Arc<[Sector]>,
    pub regions: Arc<[String]>,
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

/// The cards of `ids` with `parts`, one statement per 5,000 providers.
async fn provider_cards(
    db: &DatabaseConnection,
    ids: &[i64],
    parts: CardParts,
) -> Result<HashMap<i64, ProviderCard>, ApiError> {
    let mut cards: HashMap<i64, CardLists> = HashMap::with_capacity(ids.len());
    let backend = db.get_database_backend();
    for chunk in ids.chunks(5_000) {
        let Some(statement) = card_statement(backend, parts, chunk) else {
            break;
        };
        for row in db.query_all_raw(statement).await? {
            add_part(&mut cards, &row, parts)?;
        }
    }
    Ok(cards
        .into_iter()
        .map(|(id, lists)| (id, lists.into_card()))
        .collect())
}

/// Which branch of the card statement a row is.
const NAME: i32 = 0;
const TOPIC: i32 = 1;
const SECTOR: i32 = 2;
const REGION: i32 = 3;

/// The statement for `parts` of the providers `ids`: a `UNION ALL` of one
/// branch per part asked, and each branch one row of JSON arrays, in step:
/// `(part, [provider id…], [term id…], [text…])`, then `[created…]` and
/// `[retired…]` with [`CardParts::TERM_DATES`]. The text is a name, a
/// term's name or a region; a part without term ids or times has `[]`
/// there. `None` when no part is asked.
///
/// Four rows for a page, not a row per item (a page of 100 mentors had
/// 1,200, and decoding them was most of the card's cost), and the lists
/// aggregated in the database after a join over the whole page (a
/// subquery per provider cost PostgreSQL more than the rows had cost us).
/// The aggregates of one branch read the same rows in the same order, so
/// the arrays stay in step. The ids are bound once, by number (`$1` on
/// PostgreSQL, `?1` on SQLite), and named in every branch. The JSON
/// aggregate is `json_agg` on PostgreSQL (NULL for no rows) and
/// `json_group_array` on SQLite (`[]`).
fn card_statement(backend: DbBackend, parts: CardParts, ids: &[i64]) -> Option<Statement> {
    let postgres = backend == DbBackend::Postgres;
    let list = |item: &str| {
        if postgres {
            format!("CAST(json_agg({item}) AS TEXT)")
        } else {
            format!("json_group_array({item})")
        }
    };
    let placeholders: Vec<String> = (1..=ids.len())
        .map(|n| {
            if postgres {
                format!("${n}")
            } else {
                format!("?{n}")
            }
        })
        .collect();
    let ids_in = placeholders.join(", ");
    let with_dates = parts.has(CardParts::TERM_DATES);
    let no_dates = if with_dates { ", '[]', '[]'" } else { "" };
    let mut branches = Vec::new();
    if parts.has(CardParts::NAME) {
        // The name by a subquery per provider: joined, PostgreSQL reads
        // the whole of `users` for a page of them.
        branches.push(format!(
            "SELECT {NAME}, {}, '[]', {}{no_dates} FROM providers p WHERE p.id IN ({ids_in})",
            list("p.id"),
            list("(SELECT u.name FROM users u WHERE u.id = p.user_id)"),
        ));
    }
    for (asked, part, link, term_column, terms) in [
        (
            CardParts::TOPICS,
            TOPIC,
            "provider_topics",
            "topic_id",
            "topics",
        ),
        (
            CardParts::SECTORS,
            SECTOR,
            "provider_sectors",
            "sector_id",
            "sectors",
        ),
    ] {
        if parts.has(asked) {
            let dates = if with_dates {
                format!(", {}, {}", list("t.created_at"), list("t.retired_at"))
            } else {
                String::new()
            };
            branches.push(format!(
                "SELECT {part}, {}, {}, {}{dates} FROM {link} l \
                 JOIN {terms} t ON t.id = l.{term_column} WHERE l.provider_id IN ({ids_in})",
                list("l.provider_id"),
                list("t.id"),
                list("t.name"),
            ));
        }
    }
    if parts.has(CardParts::REGIONS) {
        branches.push(format!(
            "SELECT {REGION}, {}, '[]', {}{no_dates} FROM provider_regions r \
             WHERE r.provider_id IN ({ids_in})",
            list("r.provider_id"),
            list("r.region"),
        ));
    }
    if branches.is_empty() {
        return None;
    }
    Some(Statement::from_sql_and_values(
        backend,
        branches.join(" UNION ALL "),
        ids.iter().map(|&id| id.into()),
    ))
}

/// A provider's lists as the rows bring them, before they are sorted.
#[derive(Default)]
struct CardLists {
    name: Option<String>,
    topics: Vec<Term>,
    sectors: Vec<Term>,
    regions: Vec<String>,
}

impl CardLists {
    /// The card: topics and sectors in id order, regions in name order
    /// (sorted here, not by the database's collation, so that both
    /// backends give the same order).
    fn into_card(mut self) -> ProviderCard {
        self.topics.sort_by_key(|term| term.id);
        self.sectors.sort_by_key(|term| term.id);
        self.regions.sort();
        ProviderCard {
            name: self.name,
            topics: self.topics.into_iter().map(Topic).collect(),
            sectors: self.sectors.into_iter().map(Sector).collect(),
            regions: self.regions.into(),
        }
    }
}

/// Adds one row of [`card_statement`] (one part, for every provider that
/// has some) to `cards`.
fn add_part(
    cards: &mut HashMap<i64, CardLists>,
    row: &QueryResult,
    parts: CardParts,
) -> Result<(), ApiError> {
    let part: i32 = row.try_get_by_index(0)?;
    let providers: Vec<i64> = json_column(row, 1)?;
    // A name is null for a provider without a user (never, in a sound
    // database).
    let mut texts = json_column::<Option<String>>(row, 3)?.into_iter();
    if texts.len() != providers.len() {
        return Err(out_of_step());
    }
    if part == NAME || part == REGION {
        for (provider, text) in providers.into_iter().zip(texts) {
            let lists = cards.entry(provider).or_default();
            if part == NAME {
                lists.name = text;
            } else {
                lists.regions.extend(text);
            }
        }
        return Ok(());
    }
    let ids: Vec<i64> = json_column(row, 2)?;
    let (created, retired) = if parts.has(CardParts::TERM_DATES) {
        (
            json_column::<String>(row, 4)?,
            json_column::<Option<String>>(row, 5)?,
        )
    } else {
        (Vec::new(), Vec::new())
    };
    if ids.len() != providers.len()
        || (parts.has(CardParts::TERM_DATES)
            && (created.len() != providers.len() || retired.len() != providers.len()))
    {
        return Err(out_of_step());
    }
    let mut created = created.into_iter();
    let mut retired = retired.into_iter();
    for (provider, id) in providers.into_iter().zip(ids) {
        let term = Term {
            id,
            name: texts.next().flatten().unwrap_or_default(),
            created_at: created
                .next()
                .as_deref()
                .map(timestamp)
                .transpose()?
                .unwrap_or_default(),
            retired_at: retired
                .next()
                .flatten()
                .as_deref()
                .map(timestamp)
                .transpose()?,
        };
        let lists = cards.entry(provider).or_default();
        if part == TOPIC {
            lists.topics.push(term);
        } else {
            lists.sectors.push(term);
        }
    }
    Ok(())
}

/// Column `index` of a card row, a JSON array (NULL, from PostgreSQL's
/// aggregate of no rows, is empty).
fn json_column<T: serde::de::DeserializeOwned>(
    row: &QueryResult,
    index: usize,
) -> Result<Vec<T>, ApiError> {
    let text: Option<String> = row.try_get_by_index(index)?;
    match text {
        None => Ok(Vec::new()),
        Some(text) => serde_json::from_str(&text)
            .map_err(|error| ApiError::internal(format!("provider card: {error}"))),
    }
}

/// Arrays of one card row of different lengths: a fault of the statement,
/// never of the request.
fn out_of_step() -> ApiError {
    ApiError::internal("provider card: the arrays of a row are not in step")
}

/// A timestamp as the database writes it in JSON: RFC 3339 on PostgreSQL
/// (`2026-11-30T15:46:41.123456+00:00`, the session's offset), the text
/// sqlx stored on SQLite (RFC 3339 as well); a time without an offset is
/// read as UTC, as sqlx reads one.
fn timestamp(text: &str) -> Result<DateTime<Utc>, ApiError> {
    if let Ok(time) = text.parse::<DateTime<chrono::FixedOffset>>() {
        return Ok(time.with_timezone(&Utc));
    }
    ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"]
        .into_iter()
        .find_map(|format| chrono::NaiveDateTime::parse_from_str(text, format).ok())
        .map(|time| time.and_utc())
        .ok_or_else(|| ApiError::internal(format!("provider card: not a timestamp: {text}")))
}
