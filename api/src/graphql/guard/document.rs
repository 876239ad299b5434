//! Measuring a parsed document before anything else looks at it: how many
//! fields it has once every fragment is expanded, what it costs in rows, its
//! aliases and root fields, and whether its text inputs can be stored.
//!
//! async-graphql's recursion check, validation and execution expand a
//! fragment again at each place it is spread, so a document whose fragments
//! spread the next one twice, forty deep, is 2⁴⁰ fields to them (a 2 KB
//! request kept a thread busy for over ten minutes). Here each fragment is
//! counted once and its count reused at every spread, so the walk is linear
//! in the document's length, and a document that would be too big expanded
//! is refused before anything expands it.
//!
//! Cost counts rows, not fields: a field costs one plus what it selects times
//! the rows it may return. A connection or any field with `first`/`last`
//! returns at most that many (capped at the largest page; the default page
//! when absent); its `edges`/`nodes` then cost once per row, not again. Any
//! other list of objects counts the rows the programme's data gives it
//! ([`LIST_ROWS`]). Long texts cost more than one ([`LONG_TEXT_WEIGHTS`]), so
//! the cost also bounds the size of the answer.
//!
//! Introspection is bounded by the schema instead: its lists count once, but
//! a type reached inside one of a type's collections (`fields`,
//! `inputFields`, `interfaces`, `possibleTypes`, `enumValues`) may not open
//! another, and no introspection field may be aliased (with `__schema` once
//! per operation, `guard::ONCE_PER_OPERATION`), so neither
//! `type { fields { type { fields … } } }` chains nor a hundred aliases of
//! `types`, which multiply the answer by the schema's size, get through,
//! while the introspection query of GraphiQL and the code generators passes.

use std::collections::{HashMap, HashSet};

use async_graphql::{
    Name, Positioned, Variables,
    parser::types::{
        Directive, DocumentOperations, ExecutableDocument, Field, FragmentDefinition,
        OperationDefinition, OperationType, Selection, SelectionSet,
    },
    registry::{
        __DirectiveLocation as DirectiveLocation, MetaField, MetaType, MetaTypeName, Registry,
    },
};
use async_graphql_value::{ConstValue, Value};

use super::text_rules::{Place, rule_for};
use crate::{
    graphql::relay::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE},
    programme::surveys::{MAX_CHOICES, MAX_QUESTIONS},
};

/// Output fields that carry long free text, and what one costs: about one
/// per 200 characters of their longest value.
pub const LONG_TEXT_WEIGHTS: &[(&str, &str, u64)] = &[
    ("Provider", "bio", 20),
    ("SupportRequest", "goals", 20),
    ("SupportRequest", "declineReason", 10),
    ("Engagement", "groundRules", 50),
    ("Engagement", "endReason", 10),
    ("Meeting", "notes", 100),
    ("Meeting", "learning", 100),
    ("Meeting", "location", 3),
    ("Concern", "details", 50),
    ("Concern", "outcome", 50),
    ("Review", "comments", 20),
    ("Organisation", "financialDetails", 25),
    ("SurveyAnswer", "text", 20),
    ("Survey", "description", 10),
    ("SurveyQuestion", "prompt", 10),
];

/// Fields that read a whole list whatever page is asked for, and what one
/// costs on its own: the engagement lists sort every engagement the viewer
/// sees (staff: the whole programme) into the home order before taking a
/// page, and `actionItems` reads the digest's snapshot of the programme
/// (once per request: `action_items::StaffSnapshot`). (`Provider.engagements`
/// and `Organisation.engagements` read only their parent's, batched by a
/// loader for a whole page of parents.) Counted as a page of
/// rows they were a few fields each, so thirty aliases of `engagements`
/// passed and held the server for seconds (issue 20's red team: 8.5 s on
/// 5,000 engagements); at this weight ten fill the budget.
pub const WHOLE_LIST_WEIGHTS: &[(&str, &str, u64)] = &[
    ("Query", "engagements", 5_000),
    ("Query", "actionItems", 1_000),
];

/// How many rows a list field that takes no `first`/`last` returns, as far
/// as the programme's rules and real data go (a request has an engagement or
/// two, an engagement a handful of meetings; surveys are capped by their
/// rules). Lists not named here count [`OTHER_LIST_ROWS`]. A connection
/// named here counts the smaller of its page and this.
pub const LIST_ROWS: &[(&str, &str, u64)] = &[
    ("Engagement", "meetings", 10),
    ("Engagement", "meetingsConnection", 10),
    ("Engagement", "reviewsConnection", 2),
    ("Organisation", "membersConnection", 10),
    ("SupportRequest", "engagementsConnection", 3),
    ("Engagement", "reviews", 2),
    ("Organisation", "members", 10),
    ("Provider", "sectors", 5),
    ("Provider", "topics", 5),
    ("SupportRequest", "engagements", 3),
    ("SupportRequest", "topics", 5),
    ("Query", "concerns", MAX_PAGE_SIZE as u64),
    ("ProgrammeStats", "demandByTopic", MAX_PAGE_SIZE as u64),
    ("ProgrammeStats", "engagements", 20),
    ("ProgrammeStats", "reviewScores", MAX_PAGE_SIZE as u64),
    ("ProgrammeStats", "reviewScoresByKind", MAX_PAGE_SIZE as u64),
    ("ProgrammeStats", "surveyNeedsByTopic", MAX_PAGE_SIZE as u64),
    ("Survey", "questions", MAX_QUESTIONS as u64),
    ("SurveyInvitation", "questions", MAX_QUESTIONS as u64),
    ("SurveyInvitation", "answers", MAX_QUESTIONS as u64),
    ("SurveyResponse", "answers", MAX_QUESTIONS as u64),
    ("SurveyResults", "questions", MAX_QUESTIONS as u64),
    ("SurveyQuestion", "choices", MAX_CHOICES as u64),
    ("SurveyQuestionResult", "choices", MAX_CHOICES as u64),
    ("SurveyResults", "byRegion", 12),
    ("SurveyResults", "bySector", 20),
    ("SurveyResults", "byStage", 5),
    ("SurveyAudience", "sectors", 20),
    ("SurveyChoice", "topics", 5),
    ("SurveyResponse", "needs", 10),
];

/// Rows of a list field not in [`LIST_ROWS`].
pub const OTHER_LIST_ROWS: u64 = 10;

/// The most items an input list may hold (ids to filter by, survey answers,
/// questions): far above any real form, far below what a database refuses as
/// too many parameters.
pub const MAX_INPUT_LIST_ITEMS: usize = 200;

/// A type's collections, which may not be opened again inside one another.
const TYPE_COLLECTIONS: &[&str] = &[
    "fields",
    "inputFields",
    "interfaces",
    "possibleTypes",
    "enumValues",
];

/// What a selection adds up to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// Rows × fields, as described in the module documentation.
    pub cost: u64,
    /// Aliased fields once every spread is expanded.
    pub aliases: u64,
}

impl Tally {
    fn add(self, other: Tally) -> Tally {
        Tally {
            cost: self.cost.saturating_add(other.cost),
            aliases: self.aliases.saturating_add(other.aliases),
        }
    }
}

/// The figures of the operation that will run.
#[derive(Debug, Clone)]
pub struct OperationFigures {
    pub kind: OperationType,
    pub tally: Tally,
    /// Root fields, expanded (a fragment spread at the root counts its fields
    /// as often as it is spread).
    pub root_fields: u64,
    /// How many times each root field (by its schema name) is asked for.
    pub root_field_counts: HashMap<String, u64>,
    /// Each root field as (response key, schema name), spreads expanded.
    pub root_field_keys: Vec<(String, String)>,
}

/// Why a document was refused while it was measured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// More fields and fragment spreads, expanded, than the limit: what
    /// async-graphql's own checks would walk. `None` when too many to count.
    TooManySelections { counted: Option<u64>, limit: u64 },
    /// A fragment spreads itself, directly or through others.
    FragmentCycle(String),
    /// Introspection that opens a type's collection inside another's.
    NestedIntrospection(String),
    /// An alias inside introspection, which would repeat a list of the
    /// schema as often as it is aliased (no tool needs one there).
    AliasedIntrospection(String),
    /// A directive the schema does not have, or one used where it does not
    /// apply (async-graphql lets some through, on `__typename` and on
    /// variable definitions).
    UnknownDirective(String),
    /// A text input that cannot be stored; the message names the field.
    Input { field: String, message: String },
}

impl Refusal {
    /// The sentence a client reads.
    pub fn message(&self) -> String {
        match self {
            Refusal::TooManySelections { counted, limit } => format!(
                "The document has {} fields and fragment spreads once its fragments are \
                 expanded; the limit is {limit}.",
                counted.map_or_else(|| "too many".to_string(), |n| n.to_string())
            ),
            Refusal::FragmentCycle(name) => {
                format!("Fragment `{name}` spreads itself; a fragment cannot contain itself.")
            }
            Refusal::NestedIntrospection(field) => format!(
                "Introspection may not ask for `{field}` of a type inside another type's \
                 collection; ask for that type by name with `__type(name:)`."
            ),
            Refusal::AliasedIntrospection(field) => {
                format!("Introspection fields may not be aliased (`{field}`); ask for each once.")
            }
            Refusal::UnknownDirective(name) => {
                format!("Unknown directive `@{name}` here; Hive knows `@include` and `@skip`.")
            }
            Refusal::Input { message, .. } => message.clone(),
        }
    }
}

/// Measures `doc`: first the fields and spreads of every definition (what
/// async-graphql walks, refused over `max_selections` before anything else),
/// then the operation that will run (`operation_name`, or the only one) with
/// its cost, aliases and root fields, checking the text inputs it uses.
/// `None` when the request does not say which of several operations runs
/// (execution then refuses it).
pub fn measure(
    registry: &Registry,
    doc: &ExecutableDocument,
    variables: &Variables,
    operation_name: Option<&str>,
    max_selections: u64,
) -> Result<Option<OperationFigures>, Refusal> {
    let mut counter = SelectionCounter {
        doc,
        counted: HashMap::new(),
        in_progress: HashSet::new(),
    };
    let mut selections = 0u64;
    for (_, operation) in doc.operations.iter() {
        let inside = counter.selection_set(&operation.node.selection_set.node)?;
        selections = selections.saturating_add(inside);
    }
    for name in doc.fragments.keys() {
        selections = selections.saturating_add(counter.fragment(name)?);
    }
    if selections > max_selections {
        return Err(Refusal::TooManySelections {
            counted: (selections < u64::MAX).then_some(selections),
            limit: max_selections,
        });
    }
    check_directives(registry, doc)?;
    check_variable_defaults(registry, doc)?;

    operation_to_run(doc, operation_name)
        .map(|operation| measure_operation(registry, doc, variables, operation))
        .transpose()
}

/// The operation of `doc` that async-graphql runs for `operation_name`: the
/// one named, or with no name the document's only operation (the parser
/// keeps a single named operation, `query Q { … }`, among `Multiple`, and
/// async-graphql runs it when no name is given). `None` when there is no
/// such operation (async-graphql refuses the request).
pub fn operation_to_run<'d>(
    doc: &'d ExecutableDocument,
    operation_name: Option<&str>,
) -> Option<&'d OperationDefinition> {
    match (&doc.operations, operation_name) {
        (DocumentOperations::Single(operation), _) => Some(&operation.node),
        (DocumentOperations::Multiple(operations), Some(name)) => {
            operations.get(name).map(|o| &o.node)
        }
        (DocumentOperations::Multiple(operations), None) if operations.len() == 1 => {
            operations.values().next().map(|o| &o.node)
        }
        (DocumentOperations::Multiple(_), None) => None,
    }
}

fn measure_operation(
    registry: &Registry,
    doc: &ExecutableDocument,
    variables: &Variables,
    operation: &OperationDefinition,
) -> Result<OperationFigures, Refusal> {
    let root_type = match operation.ty {
        OperationType::Query => registry.query_type.as_str(),
        OperationType::Mutation => registry.mutation_type.as_deref().unwrap_or("Mutation"),
        OperationType::Subscription => registry
            .subscription_type
            .as_deref()
            .unwrap_or("Subscription"),
    };
    let mut walk = Walk {
        registry,
        doc,
        variables,
        operation,
        measured: HashMap::new(),
    };
    let tally = walk.selection_set(root_type, &operation.selection_set.node, false)?;
    // Within the selection limit, so expanding the root's spreads is cheap.
    let mut root_field_keys = Vec::new();
    walk.root_fields(&operation.selection_set.node, &mut root_field_keys);
    let mut root_field_counts: HashMap<String, u64> = HashMap::new();
    for (_, name) in &root_field_keys {
        *root_field_counts.entry(name.clone()).or_default() += 1;
    }
    Ok(OperationFigures {
        kind: operation.ty,
        tally,
        root_fields: root_field_keys.len() as u64,
        root_field_counts,
        root_field_keys,
    })
}

/// Checks every variable's default, in every operation of the document, as
/// any input is checked ([`check_input`], the variable named `$name`): the
/// specification validates defaults whether or not they are used (§5.6.1,
/// All Variable Usages Are Allowed and Values of Correct Type), and
/// `query($n: Int = 3000000000)` went through when `n` was sent or the
/// operation did not run.
fn check_variable_defaults(registry: &Registry, doc: &ExecutableDocument) -> Result<(), Refusal> {
    for (_, operation) in doc.operations.iter() {
        for definition in &operation.node.variable_definitions {
            let definition = &definition.node;
            let Some(default) = &definition.default_value else {
                continue;
            };
            let name = format!("${}", definition.name.node);
            let place = Place::Argument {
                type_name: "",
                field: "",
                argument: &name,
            };
            let ty = definition.var_type.node.to_string();
            check_input(registry, &ty, &default.node, &name, place)?;
        }
    }
    Ok(())
}

/// Refuses a directive the schema does not have, or has for other places.
/// Each definition is walked once, spreads not followed.
fn check_directives(registry: &Registry, doc: &ExecutableDocument) -> Result<(), Refusal> {
    fn known(
        registry: &Registry,
        directives: &[Positioned<Directive>],
        location: DirectiveLocation,
    ) -> Result<(), Refusal> {
        for directive in directives {
            let name = directive.node.name.node.as_str();
            let allowed = registry
                .directives
                .get(name)
                .is_some_and(|meta| meta.locations.contains(&location));
            if !allowed {
                return Err(Refusal::UnknownDirective(name.to_string()));
            }
        }
        Ok(())
    }
    fn selection_set(registry: &Registry, set: &SelectionSet) -> Result<(), Refusal> {
        for selection in &set.items {
            match &selection.node {
                Selection::Field(field) => {
                    known(registry, &field.node.directives, DirectiveLocation::FIELD)?;
                    selection_set(registry, &field.node.selection_set.node)?;
                }
                Selection::FragmentSpread(spread) => known(
                    registry,
                    &spread.node.directives,
                    DirectiveLocation::FRAGMENT_SPREAD,
                )?,
                Selection::InlineFragment(inline) => {
                    known(
                        registry,
                        &inline.node.directives,
                        DirectiveLocation::INLINE_FRAGMENT,
                    )?;
                    selection_set(registry, &inline.node.selection_set.node)?;
                }
            }
        }
        Ok(())
    }
    for (_, operation) in doc.operations.iter() {
        let location = match operation.node.ty {
            OperationType::Query => DirectiveLocation::QUERY,
            OperationType::Mutation => DirectiveLocation::MUTATION,
            OperationType::Subscription => DirectiveLocation::SUBSCRIPTION,
        };
        known(registry, &operation.node.directives, location)?;
        for variable in &operation.node.variable_definitions {
            known(
                registry,
                &variable.node.directives,
                DirectiveLocation::VARIABLE_DEFINITION,
            )?;
        }
        selection_set(registry, &operation.node.selection_set.node)?;
    }
    for fragment in doc.fragments.values() {
        known(
            registry,
            &fragment.node.directives,
            DirectiveLocation::FRAGMENT_DEFINITION,
        )?;
        selection_set(registry, &fragment.node.selection_set.node)?;
    }
    Ok(())
}

/// Counts fields, fragment spreads and inline fragments with every spread
/// expanded (a spread of an unknown fragment counts too: walkers visit it),
/// each fragment counted once and remembered. No types needed, so one count
/// serves every operation.
struct SelectionCounter<'a> {
    doc: &'a ExecutableDocument,
    counted: HashMap<&'a str, u64>,
    in_progress: HashSet<&'a str>,
}

impl<'a> SelectionCounter<'a> {
    fn fragment(&mut self, name: &'a Name) -> Result<u64, Refusal> {
        let name = name.as_str();
        if let Some(selections) = self.counted.get(name) {
            return Ok(*selections);
        }
        let Some(fragment) = self.doc.fragments.get(name) else {
            return Ok(0);
        };
        if !self.in_progress.insert(name) {
            return Err(Refusal::FragmentCycle(name.to_string()));
        }
        let selections = self.selection_set(&fragment.node.selection_set.node)?;
        self.in_progress.remove(name);
        self.counted.insert(name, selections);
        Ok(selections)
    }

    fn selection_set(&mut self, set: &'a SelectionSet) -> Result<u64, Refusal> {
        let mut selections = 0u64;
        for selection in &set.items {
            let inside = match &selection.node {
                Selection::Field(field) => self.selection_set(&field.node.selection_set.node)?,
                Selection::FragmentSpread(spread) => {
                    self.fragment(&spread.node.fragment_name.node)?
                }
                Selection::InlineFragment(inline) => {
                    self.selection_set(&inline.node.selection_set.node)?
                }
            };
            selections = selections.saturating_add(inside).saturating_add(1);
        }
        Ok(selections)
    }
}

/// The walk of the operation that runs, with types. A fragment is measured
/// once for each introspection context it appears in (inside a type's
/// collection or not) and remembered; cycles were refused by the counter.
struct Walk<'a> {
    registry: &'a Registry,
    doc: &'a ExecutableDocument,
    variables: &'a Variables,
    operation: &'a OperationDefinition,
    measured: HashMap<(&'a str, bool), Tally>,
}

impl<'a> Walk<'a> {
    fn fragment_definition(&self, name: &str) -> Option<&'a FragmentDefinition> {
        self.doc.fragments.get(name).map(|f| &f.node)
    }

    fn fragment(&mut self, name: &'a Name, in_collection: bool) -> Result<Tally, Refusal> {
        let key = (name.as_str(), in_collection);
        if let Some(tally) = self.measured.get(&key) {
            return Ok(*tally);
        }
        // An unknown fragment is validation's to report; it adds nothing.
        let Some(fragment) = self.fragment_definition(name) else {
            return Ok(Tally::default());
        };
        let on = fragment.type_condition.node.on.node.as_str();
        let tally = self.selection_set(on, &fragment.selection_set.node, in_collection)?;
        self.measured.insert(key, tally);
        Ok(tally)
    }

    fn selection_set(
        &mut self,
        type_name: &str,
        set: &'a SelectionSet,
        in_collection: bool,
    ) -> Result<Tally, Refusal> {
        let mut tally = Tally::default();
        for selection in &set.items {
            let part = match &selection.node {
                Selection::Field(field) => self.field(type_name, &field.node, in_collection)?,
                Selection::FragmentSpread(spread) => {
                    self.fragment(&spread.node.fragment_name.node, in_collection)?
                }
                Selection::InlineFragment(inline) => {
                    let on = match &inline.node.type_condition {
                        Some(condition) => condition.node.on.node.to_string(),
                        None => type_name.to_string(),
                    };
                    self.selection_set(&on, &inline.node.selection_set.node, in_collection)?
                }
            };
            tally = tally.add(part);
        }
        Ok(tally)
    }

    fn field(
        &mut self,
        parent: &str,
        field: &'a Field,
        in_collection: bool,
    ) -> Result<Tally, Refusal> {
        let aliases = u64::from(field.alias.is_some());
        let name = field.name.node.as_str();
        let meta = self
            .registry
            .types
            .get(parent)
            .and_then(|t| t.field_by_name(name));
        let Some(meta) = meta else {
            // `__typename`, or a field validation will refuse.
            let child = self.selection_set(parent, &field.selection_set.node, in_collection)?;
            return Ok(Tally {
                cost: child.cost.saturating_add(1),
                aliases: child.aliases.saturating_add(aliases),
            });
        };
        self.check_arguments(parent, meta, field)?;
        if (parent.starts_with("__") || name.starts_with("__")) && field.alias.is_some() {
            return Err(Refusal::AliasedIntrospection(name.to_string()));
        }
        let opens_collection = parent == "__Type" && TYPE_COLLECTIONS.contains(&name);
        if opens_collection && in_collection {
            return Err(Refusal::NestedIntrospection(name.to_string()));
        }
        let child_type = MetaTypeName::concrete_typename(&meta.ty);
        let child = self.selection_set(
            child_type,
            &field.selection_set.node,
            in_collection || opens_collection,
        )?;
        let own = LONG_TEXT_WEIGHTS
            .iter()
            .chain(WHOLE_LIST_WEIGHTS)
            .find(|(t, f, _)| *t == parent && *f == name)
            .map_or(1, |(_, _, weight)| *weight);
        let rows = if field.selection_set.node.items.is_empty() {
            1
        } else {
            self.rows(parent, meta, field)
        };
        Ok(Tally {
            cost: rows.saturating_mul(child.cost).saturating_add(own),
            aliases: child.aliases.saturating_add(aliases),
        })
    }

    /// How many rows a field with a selection may return.
    fn rows(&self, parent: &str, meta: &MetaField, field: &Field) -> u64 {
        let paged = meta.args.contains_key("first") || meta.args.contains_key("last");
        if paged {
            let asked = ["first", "last"]
                .iter()
                .find_map(|arg| self.argument_int(field, arg));
            let page = asked.map_or(DEFAULT_PAGE_SIZE as u64, |n| {
                n.clamp(0, i64::from(MAX_PAGE_SIZE)) as u64
            });
            // A connection through a list the programme keeps short (an
            // engagement's meetings) returns no more than that list holds.
            return LIST_ROWS
                .iter()
                .find(|(t, f, _)| *t == parent && *f == meta.name)
                .map_or(page, |(_, _, rows)| page.min(*rows));
        }
        // Introspection (bounded by the schema and the nesting rule), single
        // objects, and a connection's edges and nodes (its field counted the
        // page) take one row each.
        if parent.starts_with("__")
            || parent.ends_with("Connection")
            || !MetaTypeName::create(&meta.ty).is_list()
        {
            return 1;
        }
        LIST_ROWS
            .iter()
            .find(|(t, f, _)| *t == parent && *f == meta.name)
            .map_or(OTHER_LIST_ROWS, |(_, _, rows)| *rows)
    }

    fn argument_int(&self, field: &Field, name: &str) -> Option<i64> {
        let (_, value) = field.arguments.iter().find(|(n, _)| n.node == name)?;
        match self.resolve(&value.node) {
            Some(ConstValue::Number(n)) => n.as_i64(),
            _ => None,
        }
    }

    /// An argument's value with variables filled in (given, else their
    /// default, else null).
    fn resolve(&self, value: &Value) -> Option<ConstValue> {
        value
            .clone()
            .into_const_with(|name| Ok::<_, ()>(self.variable(&name)))
            .ok()
    }

    fn variable(&self, name: &Name) -> ConstValue {
        if let Some(value) = self.variables.get(name) {
            return value.clone();
        }
        self.operation
            .variable_definitions
            .iter()
            .find(|d| d.node.name.node == *name)
            .and_then(|d| d.node.default_value.as_ref())
            .map_or(ConstValue::Null, |d| d.node.clone())
    }

    fn check_arguments(
        &self,
        parent: &str,
        meta: &MetaField,
        field: &Field,
    ) -> Result<(), Refusal> {
        for (name, value) in &field.arguments {
            let Some(argument) = meta.args.get(name.node.as_str()) else {
                continue;
            };
            let Some(value) = self.resolve(&value.node) else {
                continue;
            };
            let place = Place::Argument {
                type_name: parent,
                field: &meta.name,
                argument: &argument.name,
            };
            // A form's fields are named without the argument that carries
            // them (`name`, not `input.name`), as the resolvers name them.
            let path = if self.is_input_object(&argument.ty) {
                ""
            } else {
                argument.name.as_str()
            };
            check_input(self.registry, &argument.ty, &value, path, place)?;
        }
        Ok(())
    }

    fn is_input_object(&self, ty: &str) -> bool {
        matches!(
            MetaTypeName::create(ty).unwrap_non_null(),
            MetaTypeName::Named(name)
                if matches!(self.registry.types.get(name), Some(MetaType::InputObject { .. }))
        )
    }

    /// The root fields of an operation as (response key, schema name),
    /// looking through fragments and inline fragments at the root.
    fn root_fields(&self, set: &'a SelectionSet, fields: &mut Vec<(String, String)>) {
        for selection in &set.items {
            match &selection.node {
                Selection::Field(field) => {
                    let name = field.node.name.node.to_string();
                    let key = field
                        .node
                        .alias
                        .as_ref()
                        .map_or_else(|| name.clone(), |alias| alias.node.to_string());
                    fields.push((key, name));
                }
                Selection::FragmentSpread(spread) => {
                    if let Some(fragment) =
                        self.fragment_definition(&spread.node.fragment_name.node)
                    {
                        self.root_fields(&fragment.selection_set.node, fields);
                    }
                }
                Selection::InlineFragment(inline) => {
                    self.root_fields(&inline.node.selection_set.node, fields);
                }
            }
        }
    }
}

/// Checks one input value against its declared type: every text against its
/// rule, every list against [`MAX_INPUT_LIST_ITEMS`]. `path` names the value
/// as a client wrote it (`email`, `answers.2.text`; empty for an input
/// object whose fields are named on their own).
pub fn check_input(
    registry: &Registry,
    ty: &str,
    value: &ConstValue,
    path: &str,
    place: Place<'_>,
) -> Result<(), Refusal> {
    match MetaTypeName::create(ty) {
        MetaTypeName::NonNull(inner) => check_input(registry, inner, value, path, place),
        MetaTypeName::List(inner) => match value {
            ConstValue::List(items) => {
                if items.len() > MAX_INPUT_LIST_ITEMS {
                    return Err(Refusal::Input {
                        field: path.to_string(),
                        message: format!("`{path}` has more than {MAX_INPUT_LIST_ITEMS} items."),
                    });
                }
                for (index, item) in items.iter().enumerate() {
                    check_input(
                        registry,
                        inner,
                        item,
                        &join(path, &index.to_string()),
                        place,
                    )?;
                }
                Ok(())
            }
            single => check_input(registry, inner, single, path, place),
        },
        MetaTypeName::Named(name) => {
            if let ("DateTime", ConstValue::String(text)) = (name, value) {
                return check_date_time(text, path);
            }
            if let ("Int", ConstValue::Number(number)) = (name, value) {
                return check_int(number, path);
            }
            if let (Some(rule), ConstValue::String(text)) = (rule_for(name, place), value) {
                return crate::text::check(rule, text).map_err(|problem| Refusal::Input {
                    field: path.to_string(),
                    message: problem.message(path),
                });
            }
            let (
                Some(MetaType::InputObject {
                    name: input_type,
                    input_fields,
                    ..
                }),
                ConstValue::Object(object),
            ) = (registry.types.get(name), value)
            else {
                return Ok(());
            };
            for (key, item) in object {
                let Some(field) = input_fields.get(key.as_str()) else {
                    continue;
                };
                let place = Place::InputField {
                    input_type,
                    field: &field.name,
                };
                check_input(registry, &field.ty, item, &join(path, key), place)?;
            }
            Ok(())
        }
    }
}

/// The years a `DateTime` input may fall in. chrono reads years up to
/// ±262,143 (`+262142-12-31T23:00:00Z`), where adding an hour panics and
/// SQLite, which keeps times as text, sorts them before this year.
const YEARS: std::ops::RangeInclusive<i32> = 1900..=9999;

/// Refuses a time outside [`YEARS`], and a leap second (`…T10:59:60Z`, which
/// chrono reads but JavaScript and calendars cannot); a string that is not a
/// time at all is left for the scalar to refuse.
fn check_date_time(text: &str, path: &str) -> Result<(), Refusal> {
    use chrono::{Datelike, Timelike};
    match text.parse::<chrono::DateTime<chrono::Utc>>() {
        Ok(time) if time.nanosecond() >= 1_000_000_000 => Err(Refusal::Input {
            field: path.to_string(),
            message: format!("`{path}` has 60 seconds in a minute; give a time up to :59."),
        }),
        Ok(time) if !YEARS.contains(&time.year()) => Err(Refusal::Input {
            field: path.to_string(),
            message: format!(
                "`{path}` must be a time between the years {} and {}.",
                YEARS.start(),
                YEARS.end()
            ),
        }),
        _ => Ok(()),
    }
}

/// Refuses a whole number outside GraphQL's `Int`, a signed 32-bit integer
/// (specification, October 2021, §3.5.1): async-graphql accepts any 64-bit
/// number as an `Int` when it validates and fails only the field that reads
/// it, so `first: 3000000000` answered with the rest of the data and a field
/// error, where the specification makes it a request error (an argument's
/// literal fails validation, §5.6.1; a variable fails coercion, §6.1.2).
/// A number that is not whole is left for the scalar to refuse.
fn check_int(number: &async_graphql::Number, path: &str) -> Result<(), Refusal> {
    let whole = number
        .as_i64()
        .map(i128::from)
        .or_else(|| number.as_u64().map(i128::from));
    match whole {
        Some(whole) if i32::try_from(whole).is_err() => Err(Refusal::Input {
            field: path.to_string(),
            message: format!(
                "`{path}` must be a whole number from {} to {} (GraphQL's Int).",
                i32::MIN,
                i32::MAX
            ),
        }),
        _ => Ok(()),
    }
}

fn join(path: &str, segment: &str) -> String {
    if path.is_empty() {
        segment.to_string()
    } else {
        format!("{path}.{segment}")
    }
}
