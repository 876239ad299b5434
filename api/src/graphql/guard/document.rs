//! Measuring a parsed document before anything else looks at it: how many
//! fields it has once every fragment is expanded, what it costs in rows, its
//! aliases and root fields, and whether its text inputs can be stored.
//!
//! async-graphql's validation and execution expand a fragment again at each
//! place it is spread, so a document whose fragments spread the next one twice,
//! forty deep, is 2⁴⁰ fields to them (a 2 KB request kept a thread busy for
//! over ten minutes). Here each fragment is measured once and its figures
//! reused at every spread, so the walk is linear in the document's length, and
//! a document that would be too big expanded is refused before validation.
//!
//! Cost counts rows, not fields: a field costs one plus what it selects times
//! the rows it may return. A connection or any field with `first`/`last`
//! returns at most that many (capped at the largest page; the default page
//! when absent); its `edges`/`nodes` then cost once per row, not again. Any
//! other list of objects counts as a default page. Introspection lists count
//! as many entries as this schema has on average, so GraphiQL's full
//! introspection passes while `type { fields { type { fields … } } }`
//! chains do not. Long texts cost more than one ([`LONG_TEXT_WEIGHTS`]), so
//! the cost also bounds the size of the answer.

use std::collections::{HashMap, HashSet};

use async_graphql::{
    Name, Variables,
    parser::types::{
        DocumentOperations, ExecutableDocument, Field, FragmentDefinition, OperationDefinition,
        OperationType, Selection, SelectionSet,
    },
    registry::{MetaField, MetaType, MetaTypeName, Registry},
};
use async_graphql_value::{ConstValue, Value};

use super::text_rules::{Place, rule_for};
use crate::graphql::relay::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE};

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

/// The most items an input list may hold (ids to filter by, survey answers,
/// questions): far above any real form, far below what a database refuses as
/// too many parameters.
pub const MAX_INPUT_LIST_ITEMS: usize = 200;

/// What a selection adds up to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// Fields once every spread is expanded.
    pub fields: u64,
    /// Rows × fields, as described in the module documentation.
    pub cost: u64,
    /// Aliased fields once every spread is expanded.
    pub aliases: u64,
}

impl Tally {
    fn add(self, other: Tally) -> Tally {
        Tally {
            fields: self.fields.saturating_add(other.fields),
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
}

/// The whole document's figures.
#[derive(Debug, Clone, Default)]
pub struct Figures {
    /// Expanded fields of every operation and every fragment definition
    /// together: what validation will walk, whichever operation runs.
    pub document_fields: u64,
    /// The operation that will run; `None` when the request does not say
    /// which of several (execution then refuses it).
    pub operation: Option<OperationFigures>,
}

/// Why a document was refused while it was measured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// A fragment spreads itself, directly or through others.
    FragmentCycle(String),
    /// A text input that cannot be stored; the message names the field.
    Input { field: String, message: String },
}

/// Sizes of this schema's introspection lists, used as their row counts.
#[derive(Debug, Clone, Copy)]
pub struct IntrospectionSizes {
    types: u64,
    directives: u64,
    fields: u64,
    input_fields: u64,
    enum_values: u64,
    possible_types: u64,
    interfaces: u64,
    args: u64,
}

fn average(total: usize, count: usize) -> u64 {
    (total.div_ceil(count.max(1)) as u64).max(1)
}

impl IntrospectionSizes {
    /// Averages over the schema's types (rounded up, at least one).
    pub fn of(registry: &Registry) -> Self {
        let mut fields = (0, 0);
        let mut input_fields = (0, 0);
        let mut enum_values = (0, 0);
        let mut possible = (0, 0);
        let mut interfaces = (0, 0);
        let mut args = (0, 0);
        for ty in registry.types.values() {
            match ty {
                MetaType::Object {
                    fields: f,
                    name,
                    ..
                } => {
                    fields = (fields.0 + f.len(), fields.1 + 1);
                    args = f
                        .values()
                        .fold(args, |(n, c), field| (n + field.args.len(), c + 1));
                    let implemented = registry.implements.get(name).map_or(0, |set| set.len());
                    interfaces = (interfaces.0 + implemented, interfaces.1 + 1);
                }
                MetaType::Interface {
                    fields: f,
                    possible_types,
                    ..
                } => {
                    fields = (fields.0 + f.len(), fields.1 + 1);
                    possible = (possible.0 + possible_types.len(), possible.1 + 1);
                }
                MetaType::Union { possible_types, .. } => {
                    possible = (possible.0 + possible_types.len(), possible.1 + 1);
                }
                MetaType::InputObject {
                    input_fields: f, ..
                } => input_fields = (input_fields.0 + f.len(), input_fields.1 + 1),
                MetaType::Enum {
                    enum_values: values,
                    ..
                } => enum_values = (enum_values.0 + values.len(), enum_values.1 + 1),
                MetaType::Scalar { .. } => {}
            }
        }
        Self {
            types: registry.types.len() as u64,
            directives: registry.directives.len() as u64,
            fields: average(fields.0, fields.1),
            input_fields: average(input_fields.0, input_fields.1),
            enum_values: average(enum_values.0, enum_values.1),
            possible_types: average(possible.0, possible.1),
            interfaces: average(interfaces.0, interfaces.1),
            args: average(args.0, args.1),
        }
    }

    fn rows(&self, parent: &str, field: &str) -> u64 {
        match (parent, field) {
            ("__Schema", "types") => self.types,
            ("__Schema", "directives") => self.directives,
            ("__Type", "fields") => self.fields,
            ("__Type", "inputFields") => self.input_fields,
            ("__Type", "enumValues") => self.enum_values,
            ("__Type", "possibleTypes") => self.possible_types,
            ("__Type", "interfaces") => self.interfaces,
            (_, "args") => self.args,
            _ => DEFAULT_PAGE_SIZE as u64,
        }
    }
}

/// Measures `doc`: the fields of every definition (what validation walks),
/// then the operation that will run (`operation_name`, or the only one) with
/// its cost, aliases and root fields, checking the text inputs it uses. Stops
/// at the first refusal.
pub fn measure(
    registry: &Registry,
    sizes: &IntrospectionSizes,
    doc: &ExecutableDocument,
    variables: &Variables,
    operation_name: Option<&str>,
) -> Result<Figures, Refusal> {
    let mut counter = FieldCounter {
        doc,
        counted: HashMap::new(),
        in_progress: HashSet::new(),
    };
    let mut document_fields = 0u64;
    for (_, operation) in doc.operations.iter() {
        let fields = counter.selection_set(&operation.node.selection_set.node)?;
        document_fields = document_fields.saturating_add(fields);
    }
    for name in doc.fragments.keys() {
        document_fields = document_fields.saturating_add(counter.fragment(name)?);
    }

    let selected = match (&doc.operations, operation_name) {
        (DocumentOperations::Single(operation), _) => Some(&operation.node),
        (DocumentOperations::Multiple(operations), Some(name)) => {
            operations.get(name).map(|o| &o.node)
        }
        (DocumentOperations::Multiple(operations), None) if operations.len() == 1 => {
            operations.values().next().map(|o| &o.node)
        }
        (DocumentOperations::Multiple(_), None) => None,
    };
    let operation = match selected {
        Some(operation) => Some(measure_operation(
            registry, sizes, doc, variables, operation,
        )?),
        None => None,
    };
    Ok(Figures {
        document_fields,
        operation,
    })
}

fn measure_operation(
    registry: &Registry,
    sizes: &IntrospectionSizes,
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
        sizes,
        doc,
        variables,
        operation,
        measured: HashMap::new(),
        in_progress: HashSet::new(),
    };
    let tally = walk.selection_set(root_type, &operation.selection_set.node)?;
    let mut root_field_counts = HashMap::new();
    walk.root_fields_in(
        &operation.selection_set.node,
        &mut root_field_counts,
        &mut HashSet::new(),
        1,
    )?;
    Ok(OperationFigures {
        kind: operation.ty,
        tally,
        root_fields: root_field_counts
            .values()
            .fold(0u64, |sum, n| sum.saturating_add(*n)),
        root_field_counts,
    })
}

/// Counts fields with every spread expanded, each fragment counted once and
/// remembered: no types needed, so one count serves every operation.
struct FieldCounter<'a> {
    doc: &'a ExecutableDocument,
    counted: HashMap<&'a str, u64>,
    in_progress: HashSet<&'a str>,
}

impl<'a> FieldCounter<'a> {
    fn fragment(&mut self, name: &'a Name) -> Result<u64, Refusal> {
        let name = name.as_str();
        if let Some(fields) = self.counted.get(name) {
            return Ok(*fields);
        }
        let Some(fragment) = self.doc.fragments.get(name) else {
            return Ok(0);
        };
        if !self.in_progress.insert(name) {
            return Err(Refusal::FragmentCycle(name.to_string()));
        }
        let fields = self.selection_set(&fragment.node.selection_set.node)?;
        self.in_progress.remove(name);
        self.counted.insert(name, fields);
        Ok(fields)
    }

    fn selection_set(&mut self, set: &'a SelectionSet) -> Result<u64, Refusal> {
        let mut fields = 0u64;
        for selection in &set.items {
            let part = match &selection.node {
                Selection::Field(field) => self
                    .selection_set(&field.node.selection_set.node)?
                    .saturating_add(1),
                Selection::FragmentSpread(spread) => {
                    self.fragment(&spread.node.fragment_name.node)?
                }
                Selection::InlineFragment(inline) => {
                    self.selection_set(&inline.node.selection_set.node)?
                }
            };
            fields = fields.saturating_add(part);
        }
        Ok(fields)
    }
}

/// One operation's walk; fragments are measured once each and remembered.
struct Walk<'a> {
    registry: &'a Registry,
    sizes: &'a IntrospectionSizes,
    doc: &'a ExecutableDocument,
    variables: &'a Variables,
    operation: &'a OperationDefinition,
    measured: HashMap<&'a str, Tally>,
    in_progress: HashSet<&'a str>,
}

impl<'a> Walk<'a> {
    fn fragment_definition(&self, name: &str) -> Option<&'a FragmentDefinition> {
        self.doc.fragments.get(name).map(|f| &f.node)
    }

    fn fragment(&mut self, name: &'a Name) -> Result<Tally, Refusal> {
        let name = name.as_str();
        if let Some(tally) = self.measured.get(name) {
            return Ok(*tally);
        }
        // An unknown fragment is validation's to report; it adds nothing.
        let Some(fragment) = self.fragment_definition(name) else {
            return Ok(Tally::default());
        };
        if !self.in_progress.insert(name) {
            return Err(Refusal::FragmentCycle(name.to_string()));
        }
        let on = fragment.type_condition.node.on.node.as_str();
        let tally = self.selection_set(on, &fragment.selection_set.node)?;
        self.in_progress.remove(name);
        self.measured.insert(name, tally);
        Ok(tally)
    }

    fn selection_set(&mut self, type_name: &str, set: &'a SelectionSet) -> Result<Tally, Refusal> {
        let mut tally = Tally::default();
        for selection in &set.items {
            let part = match &selection.node {
                Selection::Field(field) => self.field(type_name, &field.node)?,
                Selection::FragmentSpread(spread) => {
                    self.fragment(&spread.node.fragment_name.node)?
                }
                Selection::InlineFragment(inline) => {
                    let on = inline
                        .node
                        .type_condition
                        .as_ref()
                        .map_or(type_name, |c| c.node.on.node.as_str());
                    let on = self.registry.types.get(on).map_or(type_name, |t| t.name());
                    self.selection_set(on, &inline.node.selection_set.node)?
                }
            };
            tally = tally.add(part);
        }
        Ok(tally)
    }

    fn field(&mut self, parent: &str, field: &'a Field) -> Result<Tally, Refusal> {
        let aliases = u64::from(field.alias.is_some());
        let name = field.name.node.as_str();
        let meta = self
            .registry
            .types
            .get(parent)
            .and_then(|t| t.field_by_name(name));
        let Some(meta) = meta else {
            // `__typename`, or a field validation will refuse.
            let child = self.selection_set(parent, &field.selection_set.node)?;
            return Ok(Tally {
                fields: 1 + child.fields,
                cost: 1 + child.cost,
                aliases: aliases + child.aliases,
            });
        };
        self.check_arguments(parent, meta, field)?;
        let child_type = MetaTypeName::concrete_typename(&meta.ty);
        let child = self.selection_set(child_type, &field.selection_set.node)?;
        let own = LONG_TEXT_WEIGHTS
            .iter()
            .find(|(t, f, _)| *t == parent && *f == name)
            .map_or(1, |(_, _, weight)| *weight);
        let rows = if field.selection_set.node.items.is_empty() {
            1
        } else {
            self.rows(parent, meta, field)
        };
        Ok(Tally {
            fields: child.fields.saturating_add(1),
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
            return asked.map_or(DEFAULT_PAGE_SIZE as u64, |n| {
                n.clamp(0, i64::from(MAX_PAGE_SIZE)) as u64
            });
        }
        if !MetaTypeName::create(&meta.ty).is_list() {
            return 1;
        }
        if parent.starts_with("__") {
            return self.sizes.rows(parent, &meta.name);
        }
        // A connection's edges and nodes: its field already counted the page.
        if parent.ends_with("Connection") {
            return 1;
        }
        DEFAULT_PAGE_SIZE as u64
    }

    fn argument_int(&self, field: &Field, name: &str) -> Option<i64> {
        let (_, value) = field.arguments.iter().find(|(n, _)| n.node == name)?;
        match self.resolve(&value.node) {
            Some(ConstValue::Number(n)) => n.as_i64(),
            _ => None,
        }
    }

    /// An argument's value with variables filled in (given, else their
    /// default); `None` when a variable has neither.
    fn resolve(&self, value: &Value) -> Option<ConstValue> {
        value
            .clone()
            .into_const_with(|name| self.variable(&name).ok_or(()))
            .ok()
    }

    fn variable(&self, name: &Name) -> Option<ConstValue> {
        if let Some(value) = self.variables.get(name) {
            return Some(value.clone());
        }
        self.operation
            .variable_definitions
            .iter()
            .find(|d| d.node.name.node == *name)
            .and_then(|d| d.node.default_value.as_ref())
            .map(|d| d.node.clone())
            .or(Some(ConstValue::Null))
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
            check_input(self.registry, &argument.ty, &value, &argument.name, place)?;
        }
        Ok(())
    }

    /// Counts the root fields of an operation, looking through fragments and
    /// inline fragments at the root.
    fn root_fields_in(
        &mut self,
        set: &'a SelectionSet,
        counts: &mut HashMap<String, u64>,
        visiting: &mut HashSet<&'a str>,
        times: u64,
    ) -> Result<(), Refusal> {
        // A spread at the root counts its fields as often as it is spread;
        // measured per fragment, then multiplied, so this stays linear.
        let mut spreads: HashMap<&'a str, u64> = HashMap::new();
        for selection in &set.items {
            match &selection.node {
                Selection::Field(field) => {
                    let count = counts.entry(field.node.name.node.to_string()).or_default();
                    *count = count.saturating_add(times);
                }
                Selection::FragmentSpread(spread) => {
                    *spreads
                        .entry(spread.node.fragment_name.node.as_str())
                        .or_default() += 1;
                }
                Selection::InlineFragment(inline) => {
                    self.root_fields_in(
                        &inline.node.selection_set.node,
                        counts,
                        visiting,
                        times,
                    )?;
                }
            }
        }
        for (name, spread_count) in spreads {
            let Some(fragment) = self.fragment_definition(name) else {
                continue;
            };
            if !visiting.insert(name) {
                return Err(Refusal::FragmentCycle(name.to_string()));
            }
            self.root_fields_in(
                &fragment.selection_set.node,
                counts,
                visiting,
                times.saturating_mul(spread_count),
            )?;
            visiting.remove(name);
        }
        Ok(())
    }
}

/// Checks one input value against its declared type: every text against its
/// rule, every list against [`MAX_INPUT_LIST_ITEMS`]. `path` names the value
/// as a client wrote it (`input.name`, `answers.2.text`).
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
                        message: format!(
                            "`{path}` has more than {MAX_INPUT_LIST_ITEMS} items."
                        ),
                    });
                }
                for (index, item) in items.iter().enumerate() {
                    check_input(registry, inner, item, &format!("{path}.{index}"), place)?;
                }
                Ok(())
            }
            single => check_input(registry, inner, single, path, place),
        },
        MetaTypeName::Named(name) => {
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
                check_input(registry, &field.ty, item, &format!("{path}.{key}"), place)?;
            }
            Ok(())
        }
    }
}

impl Refusal {
    /// The sentence a client reads.
    pub fn message(&self) -> String {
        match self {
            Refusal::FragmentCycle(name) => {
                format!("Fragment `{name}` spreads itself; a fragment cannot contain itself.")
            }
            Refusal::Input { message, .. } => message.clone(),
        }
    }
}
