//! Partial results as the GraphQL specification has them, which async-graphql
//! 7 does not give on its own.
//!
//! The specification (October 2021, §6.4.4 "Handling Field Errors", §7.1.2
//! "Data") says: a field that fails is in `data` as `null`, with its error
//! at its path; when that field is non-null, the `null` moves up to the
//! nearest nullable parent (to `data` itself at the root); and an object's
//! keys come in the order its selection set asked for them (§6.3.2
//! CollectFields). async-graphql instead leaves a failed field out of its
//! object (and makes an object whose every field failed `null`), never moves
//! a null up, and puts keys in the order their resolvers finished — so a
//! field that waits on the database comes after one that does not. An SPA's
//! normalised cache (Apollo, urql's graphcache, Relay) cannot answer a query
//! from an object that lacks a field it asked for, and a client may read
//! keys in order.
//!
//! [`prepare`] readies the document before execution and [`complete`]
//! completes the answer once execution is over, walking the document
//! against the schema: keys in selection order, a
//! failed field present as `null`, a null in a non-null place moved up, one
//! error per field (a field selected twice is resolved twice by
//! async-graphql). Values are moved, not copied; the walk costs one pass over
//! the answer.
//!
//! So that the walk can tell an object from a null, every object selection
//! of the document that runs (after the request guard has measured it) that
//! has a fragment or a directive also asks for `__typename` under an alias
//! the document does not use (see [`type_key_for`]): async-graphql answers an
//! object with nothing selected (all skipped, or every fragment for another
//! type) with `null`, and the walk needs each object's own type for the
//! fragments on interfaces. The walk takes the key out again.

use std::{
    cell::RefCell,
    collections::{HashMap, HashSet},
    rc::Rc,
};

use async_graphql::{
    Name, Positioned, Request, Response, Value, Variables,
    indexmap::IndexMap,
    parser::types::{
        Directive, DocumentOperations, ExecutableDocument, FragmentDefinition, OperationType,
        Selection, SelectionSet,
    },
    registry::{MetaType, MetaTypeName, Registry},
};

/// The response key of the `__typename` added to object selections, when
/// the query's text does not hold it (see [`type_key_for`]).
pub const TYPE_KEY: &str = "_hiveTypename";

/// What the walk after execution needs of the request: the document (as
/// it ran), the variables, and the response key the type was asked under.
pub struct Kept {
    document: ExecutableDocument,
    variables: Variables,
    type_key: String,
}

/// The response key for the added `__typename`: [`TYPE_KEY`], or, when the
/// query's text holds that anywhere (a client's own alias of the name, say),
/// [`TYPE_KEY`] and `1` followed by as many zeros as the most digits the
/// text has after it anywhere (`_hiveTypename1` for a text with
/// `_hiveTypename`, `_hiveTypename10` for one with `_hiveTypename7`): a
/// name with more digits than any in the text cannot be in it. No key of
/// the client's can then be taken for ours and dropped from its answer, as
/// `_hiveTypename: name` was. One pass over the text.
fn type_key_for(query: &str) -> String {
    let most_digits = query
        .match_indices(TYPE_KEY)
        .map(|(at, _)| {
            query[at + TYPE_KEY.len()..]
                .bytes()
                .take_while(u8::is_ascii_digit)
                .count()
        })
        .max();
    match most_digits {
        None => TYPE_KEY.to_string(),
        Some(digits) => format!("{TYPE_KEY}1{}", "0".repeat(digits)),
    }
}

/// Readies `request` for completion, once the request guard has parsed and
/// admitted it (so that it is the document that runs): every object
/// selection that needs it asks for its type under the key
/// [`type_key_for`] chose, and every variable the request leaves out gets
/// its default. `None` for a document that does not parse (async-graphql
/// answers that itself).
///
/// The defaults, because async-graphql 7 reads only the variables sent when
/// it applies `@skip(if: $x)` and `@include(if: $x)`: with `$x: Boolean =
/// true` and no `x` sent it ran a skipped field (and its FORBIDDEN) and
/// left out an included one, where the specification coerces the default
/// first (§6.1.2 CoerceVariableValues) and the walk read it.
pub fn prepare(request: &mut Request) -> Option<Kept> {
    let document = request.parsed_query().ok()?;
    let mut document = document.clone();
    let operation_name = request.operation_name.clone();
    if let Some(operation) =
        super::guard::document::operation_to_run(&document, operation_name.as_deref())
    {
        for definition in &operation.variable_definitions {
            let definition = &definition.node;
            if let Some(default) = &definition.default_value
                && !request.variables.contains_key(&definition.name.node)
            {
                request
                    .variables
                    .insert(definition.name.node.clone(), default.node.clone());
            }
        }
    }
    let variables = request.variables.clone();
    let type_key = type_key_for(&request.query);
    ask_each_object_its_type(&mut document, &type_key);
    request.set_parsed_query(document.clone());
    Some(Kept {
        document,
        variables,
        type_key,
    })
}

/// Adds `type_key: __typename` to every selection set of a field (objects,
/// interfaces and unions) that [`needs_own_type`], in operations and
/// fragments alike.
fn ask_each_object_its_type(document: &mut ExecutableDocument, type_key: &str) {
    fn within(set: &mut SelectionSet, type_key: &str) {
        for selection in &mut set.items {
            match &mut selection.node {
                Selection::Field(field) => {
                    let inner = &mut field.node.selection_set;
                    if !inner.node.items.is_empty() {
                        within(&mut inner.node, type_key);
                        if !needs_own_type(&inner.node) {
                            continue;
                        }
                        let at = inner.pos;
                        inner.node.items.push(Positioned::new(
                            Selection::Field(Positioned::new(
                                async_graphql::parser::types::Field {
                                    alias: Some(Positioned::new(Name::new(type_key), at)),
                                    name: Positioned::new(Name::new("__typename"), at),
                                    arguments: Vec::new(),
                                    directives: Vec::new(),
                                    selection_set: Positioned::new(SelectionSet::default(), at),
                                },
                                at,
                            )),
                            at,
                        ));
                    }
                }
                Selection::InlineFragment(fragment) => {
                    within(&mut fragment.node.selection_set.node, type_key)
                }
                Selection::FragmentSpread(_) => {}
            }
        }
    }
    match &mut document.operations {
        DocumentOperations::Single(operation) => {
            within(&mut operation.node.selection_set.node, type_key)
        }
        DocumentOperations::Multiple(operations) => {
            for operation in operations.values_mut() {
                within(&mut operation.node.selection_set.node, type_key);
            }
        }
    }
    for fragment in document.fragments.values_mut() {
        within(&mut fragment.node.selection_set.node, type_key);
    }
}

/// Whether the walk needs to be told the type of the objects `set` is asked
/// of: when it holds a fragment (whose type condition that type decides) or
/// a directive (`@skip` and `@include` may leave nothing selected, and
/// async-graphql answers an object with nothing selected with null). A set
/// of plain fields needs nothing: its object can only come back null when
/// every field failed, which the errors' paths tell. Most selections are
/// plain, and each key asked is a field more to resolve for every object
/// of a page.
fn needs_own_type(set: &SelectionSet) -> bool {
    set.items.iter().any(|item| match &item.node {
        Selection::Field(field) => !field.node.directives.is_empty(),
        Selection::FragmentSpread(_) | Selection::InlineFragment(_) => true,
    })
}

/// Completes `response.data` for the operation `operation_name` names (see
/// the module's documentation), with what [`prepare`] kept. A response
/// without data (a request error) is left as it is.
pub fn complete(
    registry: &Registry,
    kept: &Kept,
    operation_name: Option<&str>,
    response: &mut Response,
) {
    let Kept {
        document,
        variables,
        type_key,
    } = kept;
    let Some(operation) = super::guard::document::operation_to_run(document, operation_name) else {
        return;
    };
    let root_type = match operation.ty {
        OperationType::Query => registry.query_type.as_str(),
        OperationType::Mutation => match &registry.mutation_type {
            Some(name) => name.as_str(),
            None => return,
        },
        OperationType::Subscription => return,
    };
    one_error_per_field(&mut response.errors);
    let mut failed = HashSet::new();
    let mut under_failure = HashSet::new();
    for error in &response.errors {
        let mut path = String::new();
        for segment in &error.path {
            under_failure.insert(path.clone());
            push_segment(&mut path, segment);
        }
        if !error.path.is_empty() {
            failed.insert(path);
        }
    }
    let request_error = !response.errors.is_empty() && failed.is_empty();
    let root = match std::mem::take(&mut response.data) {
        Value::Object(fields) => fields,
        // Every root field failed, or none was selected.
        Value::Null if !request_error => IndexMap::new(),
        other => {
            response.data = other;
            return;
        }
    };
    let walk = Walk {
        registry,
        fragments: &document.fragments,
        variables,
        type_key,
        tracking: !failed.is_empty() || !under_failure.is_empty(),
        failed,
        under_failure,
        collected: RefCell::default(),
    };
    response.data = walk.object(
        root_type,
        &[&operation.selection_set.node],
        root,
        &mut String::new(),
    );
}

/// The specification (§6.4.4): one error per field. async-graphql resolves a
/// field selected twice (directly and in a fragment, say) twice, and reports
/// each failure; the first stays, with every place it was asked.
fn one_error_per_field(errors: &mut Vec<async_graphql::ServerError>) {
    let mut first_at: HashMap<String, usize> = HashMap::new();
    let mut kept: Vec<async_graphql::ServerError> = Vec::with_capacity(errors.len());
    for error in errors.drain(..) {
        if error.path.is_empty() {
            kept.push(error);
            continue;
        }
        let mut path = String::new();
        for segment in &error.path {
            push_segment(&mut path, segment);
        }
        match first_at.get(&path) {
            Some(&index) => {
                let first = &mut kept[index];
                for location in error.locations {
                    if !first.locations.contains(&location) {
                        first.locations.push(location);
                    }
                }
            }
            None => {
                first_at.insert(path, kept.len());
                kept.push(error);
            }
        }
    }
    *errors = kept;
}

fn push_segment(path: &mut String, segment: &async_graphql::PathSegment) {
    if !path.is_empty() {
        path.push('.');
    }
    match segment {
        async_graphql::PathSegment::Field(name) => path.push_str(name),
        async_graphql::PathSegment::Index(index) => path.push_str(&index.to_string()),
    }
}

fn push_key(path: &mut String, key: &str) {
    if !path.is_empty() {
        path.push('.');
    }
    path.push_str(key);
}

/// One response key of an object, as CollectFields gathers it: the field's
/// name, the type whose selection named it (for a field only some of an
/// interface's types have), and every selection set asked of it.
struct Collected<'a> {
    name: &'a str,
    owner: &'a str,
    sets: Vec<&'a SelectionSet>,
    /// The field's type (see [`Walk::field_type`]), found once per
    /// collection rather than once per object.
    ty: Option<&'a str>,
    /// Whether that type is a scalar or an enum (or a list of them, to any
    /// depth): in an answer without errors such a value is complete as it
    /// stands, and the walk does not visit it.
    leaf: bool,
}

/// The response keys of one type's selection sets, as [`Walk::collect`]
/// gives them.
type CollectedKeys<'a> = Rc<Vec<(&'a str, Collected<'a>)>>;

/// What a collection depends on: the type (by its name's address in the
/// registry or the document) and the selection sets (by address: the first,
/// then the others, none for the usual single set, which so costs no
/// allocation per object).
type CollectionKey = (usize, usize, usize, Vec<usize>);

struct Walk<'a> {
    registry: &'a Registry,
    fragments: &'a HashMap<Name, Positioned<FragmentDefinition>>,
    variables: &'a Variables,
    /// The response key the objects' type was asked under.
    type_key: &'a str,
    /// Paths (`a.0.b`) of the fields that failed.
    failed: HashSet<String>,
    /// Every path above a failed field.
    under_failure: HashSet<String>,
    /// Whether any field failed: only then are paths kept as the walk goes
    /// (an answer without errors, the usual one, needs only its keys put in
    /// order).
    tracking: bool,
    /// Collections made so far: the objects of a list share one.
    collected: RefCell<HashMap<CollectionKey, CollectedKeys<'a>>>,
}

impl<'a> Walk<'a> {
    /// The value of a field of type `ty` completed; `None` when it is null
    /// in a non-null place, for the caller to be null instead.
    fn value(
        &self,
        ty: &'a str,
        value: Option<Value>,
        sets: &[&'a SelectionSet],
        path: &mut String,
    ) -> Option<Value> {
        if self.tracking && self.failed.contains(path.as_str()) {
            return (!ty.ends_with('!')).then_some(Value::Null);
        }
        match MetaTypeName::create(ty) {
            MetaTypeName::NonNull(inner) => match self.value(inner, value, sets, path)? {
                Value::Null => None,
                value => Some(value),
            },
            MetaTypeName::List(item_type) => match value {
                Some(Value::List(items)) => {
                    let mut completed = Vec::with_capacity(items.len());
                    for (index, item) in items.into_iter().enumerate() {
                        let length = path.len();
                        if self.tracking {
                            push_key(path, &index.to_string());
                        }
                        let item = self.value(item_type, Some(item), sets, path);
                        path.truncate(length);
                        match item {
                            Some(item) => completed.push(item),
                            None => return Some(Value::Null),
                        }
                    }
                    Some(Value::List(completed))
                }
                other => Some(other.unwrap_or(Value::Null)),
            },
            MetaTypeName::Named(name) => {
                // Only an object or a null can need completing.
                let composite = matches!(value, Some(Value::Object(_) | Value::Null) | None)
                    && matches!(
                        self.registry.types.get(name),
                        Some(
                            MetaType::Object { .. }
                                | MetaType::Interface { .. }
                                | MetaType::Union { .. }
                        )
                    );
                match value {
                    Some(Value::Object(fields)) if composite => {
                        Some(self.object(name, sets, fields, path))
                    }
                    // Every field of this object failed, so async-graphql
                    // made it null; it is an object of nulls (or null).
                    Some(Value::Null) | None
                        if composite
                            && self.tracking
                            && self.under_failure.contains(path.as_str()) =>
                    {
                        Some(self.object(name, sets, IndexMap::new(), path))
                    }
                    other => Some(other.unwrap_or(Value::Null)),
                }
            }
        }
    }

    /// An object of type `type_name` with its keys in selection order and
    /// its failed fields present; `Value::Null` when a non-null field of it
    /// is null.
    fn object(
        &self,
        type_name: &'a str,
        sets: &[&'a SelectionSet],
        mut fields: IndexMap<Name, Value>,
        path: &mut String,
    ) -> Value {
        // The object's own type, when the document was given the key
        // (looked for only then: most objects of a page were not).
        let asked_type = sets.iter().any(|set| needs_own_type(set));
        let own_type = match asked_type.then(|| fields.swap_remove(self.type_key)) {
            Some(Some(Value::String(name))) => self
                .registry
                .types
                .get_key_value(name.as_str())
                .map(|(name, _)| name.as_str()),
            _ => None,
        };
        let type_name = own_type.unwrap_or(type_name);
        // The answer's own map, its keys moved into selection order in
        // place (async-graphql's order is mostly that already) and each
        // value completed where it stands: no second map per object.
        let mut next = 0;
        for (key, field) in self.collect(type_name, sets).iter() {
            let length = path.len();
            if self.tracking {
                push_key(path, key);
            }
            let value = match key_at(&fields, next, key) {
                Some(at) => {
                    fields.move_index(at, next);
                    if field.leaf && !self.tracking {
                        path.truncate(length);
                        next += 1;
                        continue;
                    }
                    fields
                        .get_index_mut(next)
                        .map(|(_, value)| std::mem::take(value))
                }
                None if self.tracking && self.failed.contains(path.as_str()) => {
                    fields.shift_insert(next, Name::new(key), Value::Null);
                    None
                }
                None => {
                    // Skipped, or selected for another of an interface's types.
                    path.truncate(length);
                    continue;
                }
            };
            let value = match field.ty {
                Some(ty) => self.value(ty, value, &field.sets, path),
                None => Some(value.unwrap_or(Value::Null)),
            };
            path.truncate(length);
            match (value, fields.get_index_mut(next)) {
                (Some(value), Some((_, slot))) => *slot = value,
                _ => return Value::Null,
            }
            next += 1;
        }
        // Whatever the walk did not expect keeps its value, at the end.
        Value::Object(fields)
    }

    /// The type of field `name` of `type_name` (or, for a field only one of
    /// an interface's types has, of the type whose fragment selected it);
    /// `None` for introspection's own fields, which are left as they are.
    fn field_type(&self, type_name: &str, owner: &str, name: &str) -> Option<&'a str> {
        if name == "__typename" {
            return Some("String!");
        }
        [type_name, owner].into_iter().find_map(|ty| {
            let fields = self.registry.types.get(ty)?.fields()?;
            fields.get(name).map(|field| field.ty.as_str())
        })
    }

    /// Whether values of type `ty` (`[Topic!]!` and the like) are scalars or
    /// enums, however deep in lists.
    fn is_leaf(&self, ty: &str) -> bool {
        let named = ty.trim_matches(|c| matches!(c, '[' | ']' | '!'));
        matches!(
            self.registry.types.get(named),
            Some(MetaType::Scalar { .. } | MetaType::Enum { .. })
        )
    }

    /// CollectFields (§6.3.2): the response keys of the selection sets, in
    /// order of first appearance, with `@skip` and `@include` applied and
    /// fragments whose type condition cannot hold for `type_name` left out.
    /// Made once per type and selection sets, and shared by every object
    /// they apply to (the items of a list).
    fn collect(&self, type_name: &'a str, sets: &[&'a SelectionSet]) -> CollectedKeys<'a> {
        let address = |set: &&SelectionSet| std::ptr::from_ref(*set) as usize;
        let key: CollectionKey = (
            type_name.as_ptr() as usize,
            type_name.len(),
            sets.first().map_or(0, address),
            sets.iter().skip(1).map(address).collect(),
        );
        if let Some(collected) = self.collected.borrow().get(&key) {
            return collected.clone();
        }
        let mut collected: Vec<(&'a str, Collected<'a>)> = Vec::new();
        for set in sets {
            self.collect_into(type_name, type_name, set, &mut collected);
        }
        for (_, field) in &mut collected {
            field.ty = self.field_type(type_name, field.owner, field.name);
            field.leaf = field.ty.is_some_and(|ty| self.is_leaf(ty));
        }
        let collected = Rc::new(collected);
        self.collected.borrow_mut().insert(key, collected.clone());
        collected
    }

    fn collect_into(
        &self,
        type_name: &'a str,
        owner: &'a str,
        set: &'a SelectionSet,
        collected: &mut Vec<(&'a str, Collected<'a>)>,
    ) {
        for selection in &set.items {
            match &selection.node {
                Selection::Field(field) => {
                    let field = &field.node;
                    if !self.included(&field.directives) {
                        continue;
                    }
                    let key = field.response_key().node.as_str();
                    let entry = match collected.iter_mut().position(|(k, _)| *k == key) {
                        Some(index) => &mut collected[index].1,
                        None => {
                            collected.push((
                                key,
                                Collected {
                                    name: field.name.node.as_str(),
                                    owner,
                                    sets: Vec::new(),
                                    ty: None,
                                    leaf: false,
                                },
                            ));
                            &mut collected.last_mut().expect("just pushed").1
                        }
                    };
                    entry.sets.push(&field.selection_set.node);
                }
                Selection::FragmentSpread(spread) => {
                    let spread = &spread.node;
                    if !self.included(&spread.directives) {
                        continue;
                    }
                    let Some(fragment) = self.fragments.get(&spread.fragment_name.node) else {
                        continue;
                    };
                    let condition = fragment.node.type_condition.node.on.node.as_str();
                    if self.applies(type_name, condition) {
                        let set = &fragment.node.selection_set.node;
                        self.collect_into(type_name, condition, set, collected);
                    }
                }
                Selection::InlineFragment(fragment) => {
                    let fragment = &fragment.node;
                    if !self.included(&fragment.directives) {
                        continue;
                    }
                    let condition = fragment
                        .type_condition
                        .as_ref()
                        .map_or(owner, |condition| condition.node.on.node.as_str());
                    if self.applies(type_name, condition) {
                        let set = &fragment.selection_set.node;
                        self.collect_into(type_name, condition, set, collected);
                    }
                }
            }
        }
    }

    /// Whether a fragment on `condition` can apply to an object of
    /// `type_name`. For an interface or union (whose object's own type the
    /// answer does not say) every fragment may: keys of the other types are
    /// simply absent.
    fn applies(&self, type_name: &str, condition: &str) -> bool {
        if type_name == condition {
            return true;
        }
        match self.registry.types.get(type_name) {
            Some(MetaType::Object { .. }) => {
                self.registry
                    .implements
                    .get(type_name)
                    .is_some_and(|interfaces| interfaces.contains(condition))
                    || matches!(
                        self.registry.types.get(condition),
                        Some(MetaType::Union { possible_types, .. }) if possible_types.contains(type_name)
                    )
            }
            _ => true,
        }
    }

    /// `@skip(if:)` and `@include(if:)` (§3.13), with variables and their
    /// defaults.
    fn included(&self, directives: &[Positioned<Directive>]) -> bool {
        directives.iter().all(|directive| {
            let condition = directive
                .node
                .get_argument("if")
                .is_some_and(|value| self.is_true(&value.node));
            match directive.node.name.node.as_str() {
                "skip" => !condition,
                "include" => condition,
                _ => true,
            }
        })
    }

    fn is_true(&self, value: &async_graphql_value::Value) -> bool {
        use async_graphql_value::Value as Literal;
        match value {
            Literal::Boolean(value) => *value,
            // The variables hold their defaults already ([`prepare`]).
            Literal::Variable(name) => {
                matches!(self.variables.get(name), Some(Value::Boolean(true)))
            }
            _ => false,
        }
    }
}

/// Where response key `key` is in an object's answer: at `next`, the place
/// the walk has reached, when async-graphql put it in selection order (it
/// mostly does), else looked up. The key at `next` is usually the very
/// `Name` of the document the walk reads (async-graphql keys an answer by
/// the document's names, and [`prepare`] keeps a clone of the document,
/// whose names share their text), so comparing where the texts are comes
/// first: a page of 100 providers has some 1,500 keys, and hashing and
/// comparing each was a twentieth of the request's time.
fn key_at(fields: &IndexMap<Name, Value>, next: usize, key: &str) -> Option<usize> {
    match fields.get_index(next) {
        Some((name, _))
            if (std::ptr::eq(name.as_str().as_ptr(), key.as_ptr()) && name.len() == key.len())
                || name.as_str() == key =>
        {
            Some(next)
        }
        _ => fields.get_index_of(key),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_type_key_is_a_name_the_query_does_not_hold() {
        assert_eq!(type_key_for("{ me { name } }"), TYPE_KEY);
        for (query, key) in [
            ("{ _hiveTypename: __typename }", "_hiveTypename1"),
            (
                "{ a: _hiveTypename1 _hiveTypename99 # _hiveTypename\n }",
                "_hiveTypename100",
            ),
            (
                "_hiveTypename10000000000000000000000",
                "_hiveTypename100000000000000000000000",
            ),
        ] {
            let chosen = type_key_for(query);
            assert_eq!(chosen, key);
            assert!(!query.contains(&chosen), "{chosen} is in {query}");
        }
    }
}
