//! Relay conventions: opaque global ids, `node(id:)`, and the one cursor
//! connection helper every list uses.

use async_graphql::{
    ID, Object, OutputType,
    connection::{Connection, CursorType, Edge},
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use futures::future::BoxFuture;
use sea_orm::{
    ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, Select,
};

use crate::error::{ApiError, ApiResult};

/// Pages are never longer than this, whatever `first` or `last` asks for.
pub const MAX_PAGE_SIZE: i32 = 100;
/// A page when neither `first` nor `last` is given.
pub const DEFAULT_PAGE_SIZE: i32 = 20;

/// The types that have global ids. The name is part of the id, so an id of one
/// type is NOT_FOUND when asked for as another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeType {
    User,
    Organisation,
    Topic,
    Sector,
    Provider,
    SupportRequest,
    Engagement,
    Meeting,
    Concern,
    EmailDelivery,
    Review,
    Survey,
    SurveyQuestion,
    SurveyChoice,
    SurveyResponse,
    AuditEntry,
}

impl NodeType {
    /// Every type with a global id, each once.
    pub const ALL: [NodeType; 16] = [
        NodeType::User,
        NodeType::Organisation,
        NodeType::Topic,
        NodeType::Sector,
        NodeType::Provider,
        NodeType::SupportRequest,
        NodeType::Engagement,
        NodeType::Meeting,
        NodeType::Concern,
        NodeType::EmailDelivery,
        NodeType::Review,
        NodeType::Survey,
        NodeType::SurveyQuestion,
        NodeType::SurveyChoice,
        NodeType::SurveyResponse,
        NodeType::AuditEntry,
    ];

    /// The GraphQL type name, which is also the prefix inside the global id.
    pub fn name(self) -> &'static str {
        match self {
            NodeType::User => "User",
            NodeType::Organisation => "Organisation",
            NodeType::Topic => "Topic",
            NodeType::Sector => "Sector",
            NodeType::Provider => "Provider",
            NodeType::SupportRequest => "SupportRequest",
            NodeType::Engagement => "Engagement",
            NodeType::Meeting => "Meeting",
            NodeType::Concern => "Concern",
            NodeType::EmailDelivery => "EmailDelivery",
            NodeType::Review => "Review",
            NodeType::Survey => "Survey",
            NodeType::SurveyQuestion => "SurveyQuestion",
            NodeType::SurveyChoice => "SurveyChoice",
            NodeType::SurveyResponse => "SurveyResponse",
            NodeType::AuditEntry => "AuditEntry",
        }
    }

    /// The type a name (a global id's prefix, an audit entry's subject type)
    /// stands for; None for a name that is no Node type.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.name() == name)
    }
}

/// Makes the opaque id a client sees for a row.
pub fn global_id(kind: NodeType, id: i64) -> ID {
    ID(hive_worker::ids::global_id(kind.name(), id))
}

/// Reads a global id; anything malformed is NOT_FOUND, as an unknown id is.
pub fn decode_global_id(id: &ID) -> ApiResult<(NodeType, i64)> {
    let not_found = || ApiError::not_found("Nothing has that id.");
    let bytes = URL_SAFE_NO_PAD
        .decode(id.as_str())
        .map_err(|_| not_found())?;
    let text = String::from_utf8(bytes).map_err(|_| not_found())?;
    let (kind, number) = text.split_once(':').ok_or_else(not_found)?;
    let kind = NodeType::from_name(kind).ok_or_else(not_found)?;
    let number: i64 = number.parse().map_err(|_| not_found())?;
    Ok((kind, number))
}

/// Reads a global id that must be of one type.
pub fn decode_id_of(kind: NodeType, id: &ID) -> ApiResult<i64> {
    match decode_global_id(id)? {
        (found, number) if found == kind => Ok(number),
        _ => Err(ApiError::not_found(format!(
            "No {} has that id.",
            kind.name().to_lowercase()
        ))),
    }
}

/// A position in a list. It names the list it pages through, so a cursor
/// from one list is refused by another (`users` and `organisations` ids would
/// otherwise mean nothing to each other).
///
/// A list ordered by row id needs only the id. A list in a computed order
/// (the engagements' home order) also carries the row's sort key as it was
/// when the page was read, so that the next page starts after that *place*
/// even if the row itself has moved since (a meeting booked or called off):
/// with the id alone, the rows it jumped over were never listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdCursor {
    pub list: String,
    pub id: i64,
    /// The row's sort key, for lists in a computed order ([`paginate_ranked`]).
    pub key: Option<SortKey>,
}

/// A row's place in a list in a computed order: compared as a tuple, and
/// unique (its last part decides ties by id).
pub type SortKey = [i64; 3];

impl CursorType for IdCursor {
    type Error = ApiErrorMarker;

    fn decode_cursor(s: &str) -> Result<Self, Self::Error> {
        let bytes = URL_SAFE_NO_PAD.decode(s).map_err(|_| ApiErrorMarker)?;
        let text = String::from_utf8(bytes).map_err(|_| ApiErrorMarker)?;
        let number = |part: &str| part.parse::<i64>().map_err(|_| ApiErrorMarker);
        if let Some(rest) = text.strip_prefix("ranked:") {
            let mut parts = rest.rsplitn(5, ':');
            let id = number(parts.next().ok_or(ApiErrorMarker)?)?;
            let tie = number(parts.next().ok_or(ApiErrorMarker)?)?;
            let time = number(parts.next().ok_or(ApiErrorMarker)?)?;
            let group = number(parts.next().ok_or(ApiErrorMarker)?)?;
            let list = parts.next().ok_or(ApiErrorMarker)?;
            return Ok(IdCursor {
                list: list.to_string(),
                id,
                key: Some([group, time, tie]),
            });
        }
        let (list, id) = text
            .strip_prefix("cursor:")
            .and_then(|rest| rest.rsplit_once(':'))
            .ok_or(ApiErrorMarker)?;
        Ok(IdCursor {
            list: list.to_string(),
            id: number(id)?,
            key: None,
        })
    }

    fn encode_cursor(&self) -> String {
        match self.key {
            None => URL_SAFE_NO_PAD.encode(format!("cursor:{}:{}", self.list, self.id)),
            Some([group, time, tie]) => URL_SAFE_NO_PAD.encode(format!(
                "ranked:{}:{group}:{time}:{tie}:{}",
                self.list, self.id
            )),
        }
    }
}

/// A cursor that does not decode. Kept apart from the decoder's own error so
/// its text never reaches a client.
#[derive(Debug)]
pub struct ApiErrorMarker;

impl std::fmt::Display for ApiErrorMarker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("invalid cursor")
    }
}

/// Extra fields on every connection.
pub struct ConnectionFields {
    total: TotalCount,
}

/// A list's size: known already (a list loaded whole), or counted by the
/// database only if the query asks for `totalCount` (issue 19: every page of
/// a table ran a `SELECT COUNT(*)` whether or not anyone read it).
enum TotalCount {
    Known(u64),
    Deferred(Box<dyn Fn() -> BoxFuture<'static, Result<u64, sea_orm::DbErr>> + Send + Sync>),
}

#[Object]
impl ConnectionFields {
    /// How many items the whole list has, across all pages.
    async fn total_count(&self) -> ApiResult<u64> {
        match &self.total {
            TotalCount::Known(count) => Ok(*count),
            TotalCount::Deferred(count) => Ok(count().await?),
        }
    }
}

/// The usual Relay arguments.
#[derive(Debug, Clone, Default)]
pub struct PageArgs {
    pub after: Option<String>,
    pub before: Option<String>,
    pub first: Option<i32>,
    pub last: Option<i32>,
}

/// A Relay connection of `N`s, with the total count.
pub type HiveConnection<N> = Connection<IdCursor, N, ConnectionFields>;

fn decode_cursor_arg(
    name: &str,
    list: &str,
    value: &Option<String>,
) -> ApiResult<Option<IdCursor>> {
    value
        .as_deref()
        .map(|s| match IdCursor::decode_cursor(s) {
            Ok(cursor) if cursor.list == list => Ok(cursor),
            _ => Err(ApiError::bad_input(
                name,
                format!("`{name}` is not a cursor from this list."),
            )),
        })
        .transpose()
}

fn page_size(name: &str, value: Option<i32>) -> ApiResult<Option<u64>> {
    match value {
        Some(n) if n < 0 => Err(ApiError::bad_input(
            name,
            format!("`{name}` cannot be negative."),
        )),
        Some(n) => Ok(Some(n.min(MAX_PAGE_SIZE) as u64)),
        None => Ok(None),
    }
}

/// The page a client asked for, read and checked: cursors of this list
/// only (BAD_USER_INPUT otherwise), sizes not negative and at most
/// [`MAX_PAGE_SIZE`], `first` or `last` but not both.
struct Window {
    list: &'static str,
    after: Option<IdCursor>,
    before: Option<IdCursor>,
    /// How many items at most.
    size: u64,
    /// `last` was asked for: the page is taken from the end.
    backwards: bool,
}

impl Window {
    fn read(list: &'static str, args: &PageArgs) -> ApiResult<Self> {
        let after = decode_cursor_arg("after", list, &args.after)?;
        let before = decode_cursor_arg("before", list, &args.before)?;
        let first = page_size("first", args.first)?;
        let last = page_size("last", args.last)?;
        if first.is_some() && last.is_some() {
            return Err(ApiError::bad_input(
                "last",
                "Give `first` or `last`, not both.",
            ));
        }
        Ok(Window {
            list,
            after,
            before,
            size: last.or(first).unwrap_or(DEFAULT_PAGE_SIZE as u64),
            backwards: last.is_some(),
        })
    }

    /// The page of a list loaded whole, between `start` and `end` (indices
    /// into `rows`, in list order): its first `size` rows, or its last with
    /// `last`; and whether more rows lay between the two.
    fn slice<T>(&self, rows: Vec<T>, start: usize, end: usize) -> (Vec<T>, bool) {
        let inside = end.saturating_sub(start);
        let size = (self.size as usize).min(inside);
        let from = if self.backwards { end - size } else { start };
        (
            rows.into_iter().skip(from).take(size).collect(),
            inside > size,
        )
    }

    /// The connection of a page: `rows` in list order, `more` when the
    /// window held more than the page (the rows beyond it were cut).
    fn connection<T, N>(
        &self,
        rows: Vec<T>,
        more: bool,
        total: TotalCount,
        cursor_of: impl Fn(&T) -> (i64, Option<SortKey>),
        to_node: impl Fn(T) -> N,
    ) -> HiveConnection<N>
    where
        N: OutputType,
    {
        let (has_previous, has_next) = if self.backwards {
            (more, self.before.is_some())
        } else {
            (self.after.is_some(), more)
        };
        let mut connection =
            Connection::with_additional_fields(has_previous, has_next, ConnectionFields { total });
        connection.edges.extend(rows.into_iter().map(|row| {
            let (id, key) = cursor_of(&row);
            let cursor = IdCursor {
                list: self.list.to_string(),
                id,
                key,
            };
            Edge::new(cursor, to_node(row))
        }));
        connection
    }
}

/// Pages through `select` in id order. Every list read from one table
/// goes through here (lists already loaded go through [`paginate_loaded`]),
/// so page caps and cursor checks hold everywhere.
pub async fn paginate<E, N>(
    db: &DatabaseConnection,
    select: Select<E>,
    id_column: E::Column,
    args: PageArgs,
    to_node: impl Fn(E::Model) -> N,
) -> ApiResult<HiveConnection<N>>
where
    E: EntityTrait,
    E::Model: Sync,
    N: OutputType,
{
    let window = Window::read(E::default().table_name(), &args)?;
    let total = {
        let (db, select) = (db.clone(), select.clone());
        TotalCount::Deferred(Box::new(move || {
            let (db, select) = (db.clone(), select.clone());
            Box::pin(async move { select.count(&db).await })
        }))
    };
    let mut narrowed = select;
    if let Some(after) = &window.after {
        narrowed = narrowed.filter(id_column.gt(after.id));
    }
    if let Some(before) = &window.before {
        narrowed = narrowed.filter(id_column.lt(before.id));
    }
    let ordered = if window.backwards {
        narrowed.order_by_desc(id_column)
    } else {
        narrowed.order_by_asc(id_column)
    };
    let mut rows = ordered.limit(window.size + 1).all(db).await?;
    let more = rows.len() as u64 > window.size;
    rows.truncate(window.size as usize);
    if window.backwards {
        rows.reverse();
    }
    Ok(window.connection(
        rows,
        more,
        total,
        |row| (row_id(row, id_column), None),
        to_node,
    ))
}

/// Pages through a list already loaded whole, in its own order (a
/// DataLoader's rows for one parent, a ranking): the connection of lists
/// that hang off another object, so a page of parents costs one query for
/// all their lists rather than one each. The cursor is the item's id, and
/// `after`/`before` mean after or before that item in the list's order;
/// a cursor whose item has left the list (a provider no longer suggested)
/// is BAD_USER_INPUT, as there is no telling where it stood. `list` names
/// the list in its cursors, so one list's cursor is refused by another.
pub fn paginate_loaded<T, N>(
    list: &'static str,
    rows: Vec<T>,
    args: PageArgs,
    id_of: impl Fn(&T) -> i64,
    to_node: impl Fn(T) -> N,
) -> ApiResult<HiveConnection<N>>
where
    N: OutputType,
{
    let window = Window::read(list, &args)?;
    let total_count = rows.len() as u64;
    let position = |name: &str, id: Option<i64>| -> ApiResult<Option<usize>> {
        id.map(|id| {
            rows.iter().position(|row| id_of(row) == id).ok_or_else(|| {
                ApiError::bad_input(
                    name,
                    format!("`{name}` names an item that is no longer in this list."),
                )
            })
        })
        .transpose()
    };
    let start = position("after", window.after.as_ref().map(|c| c.id))?.map_or(0, |at| at + 1);
    let end = position("before", window.before.as_ref().map(|c| c.id))?.unwrap_or(rows.len());
    let (page, more) = window.slice(rows, start, end);
    Ok(window.connection(
        page,
        more,
        TotalCount::Known(total_count),
        |row| (id_of(row), None),
        to_node,
    ))
}

/// Pages through a list already loaded whole and sorted by each row's
/// [`SortKey`] (`ranked`: row and key, keys ascending), with cursors that
/// carry the key: `after` means after that place in the order, wherever the
/// row named has gone since, so no row that kept its place is skipped or
/// repeated while others move (see [`IdCursor`]). A cursor of this list
/// without a key (from before keys were carried) finds its row by id, as
/// [`paginate_loaded`] does.
pub fn paginate_ranked<T, N>(
    list: &'static str,
    ranked: Vec<(T, SortKey)>,
    args: PageArgs,
    id_of: impl Fn(&T) -> i64,
    to_node: impl Fn(T) -> N,
) -> ApiResult<HiveConnection<N>>
where
    N: OutputType,
{
    let window = Window::read(list, &args)?;
    let total_count = ranked.len() as u64;
    // The index of the first row at or past the cursor's place (`past`:
    // strictly past it).
    let boundary = |name: &str, cursor: &IdCursor, past: bool| -> ApiResult<usize> {
        match cursor.key {
            Some(key) => Ok(ranked.partition_point(|(_, row_key)| {
                if past {
                    *row_key <= key
                } else {
                    *row_key < key
                }
            })),
            None => ranked
                .iter()
                .position(|(row, _)| id_of(row) == cursor.id)
                .map(|at| if past { at + 1 } else { at })
                .ok_or_else(|| {
                    ApiError::bad_input(
                        name,
                        format!("`{name}` names an item that is no longer in this list."),
                    )
                }),
        }
    };
    let start = match &window.after {
        Some(cursor) => boundary("after", cursor, true)?,
        None => 0,
    };
    let end = match &window.before {
        Some(cursor) => boundary("before", cursor, false)?,
        None => ranked.len(),
    };
    let (page, more) = window.slice(ranked, start, end);
    Ok(window.connection(
        page,
        more,
        TotalCount::Known(total_count),
        |(row, key)| (id_of(row), Some(*key)),
        |(row, _)| to_node(row),
    ))
}

/// A row's id, read through its id column (the tables' ids are integers).
pub fn row_id<M: sea_orm::ModelTrait>(
    row: &M,
    id_column: <M::Entity as EntityTrait>::Column,
) -> i64 {
    match row.get(id_column) {
        sea_orm::Value::BigInt(Some(id)) => id,
        sea_orm::Value::Int(Some(id)) => id as i64,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn global_ids_round_trip_and_refuse_garbage() {
        let id = global_id(NodeType::User, 42);
        assert_eq!(decode_global_id(&id).unwrap(), (NodeType::User, 42));
        assert_eq!(decode_id_of(NodeType::User, &id).unwrap(), 42);
        assert!(decode_id_of(NodeType::Organisation, &id).is_err());
        assert!(decode_global_id(&ID("%%%".into())).is_err());
        assert!(decode_global_id(&ID(URL_SAFE_NO_PAD.encode("Spaceship:1"))).is_err());
    }

    #[test]
    fn cursors_round_trip_and_refuse_garbage() {
        let seven = IdCursor {
            list: "users".into(),
            id: 7,
            key: None,
        };
        let cursor = seven.encode_cursor();
        assert_eq!(IdCursor::decode_cursor(&cursor).unwrap(), seven);
        assert_eq!(
            decode_cursor_arg("after", "users", &Some(cursor.clone()))
                .unwrap()
                .map(|c| c.id),
            Some(7)
        );
        let placed = IdCursor {
            list: "engagements".into(),
            id: 9,
            key: Some([3, -1_700_000_000_000_000, -9]),
        };
        assert_eq!(
            IdCursor::decode_cursor(&placed.encode_cursor()).unwrap(),
            placed
        );
        assert!(
            decode_cursor_arg("after", "organisations", &Some(cursor)).is_err(),
            "another list's cursor"
        );
        assert!(IdCursor::decode_cursor("bm9wZQ").is_err());
        assert!(decode_cursor_arg("after", "users", &Some("!!".into())).is_err());
        assert!(page_size("first", Some(-1)).is_err());
        assert_eq!(
            page_size("first", Some(10_000)).unwrap(),
            Some(MAX_PAGE_SIZE as u64)
        );
    }
}
