//! The access matrix (issue 18, "one access policy"): every Node type and the
//! confidential fields, read by every kind of viewer by every path that
//! reaches them (`node(id:)`, the type's own query, and nested through its
//! parents), against one table of what DESIGN.md allows, on both databases.
//!
//! `confidentiality.rs` holds the field-level matrix for the provider with
//! the ACTIVE engagement; this one adds the object-level rules by every path,
//! the provider who declined the same request, the provider and the member
//! from another co-op, and nobody signed in.

use chrono::{Duration, Utc};
use futures::{StreamExt, stream};
use serde_json::{Value, json};

use crate::on_both_databases;
use crate::support::{
    TestApp,
    programme::{Programme, ok},
};

/// What a viewer should get for one field by one path.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Expect {
    /// The value.
    Shown,
    /// A FORBIDDEN error, and nothing of the value anywhere in the answer.
    Forbidden,
    /// An UNAUTHENTICATED error: nobody is signed in.
    Unauthenticated,
    /// A NOT_FOUND error.
    NotFound,
    /// No error, and not there: the list the path reads is the viewer's and
    /// the object is not in it (or `me` is null).
    Absent,
}

use Expect::{Absent as A, Forbidden as F, NotFound as N, Shown as S, Unauthenticated as U};

/// The table's columns, in order.
const VIEWERS: [&str; 7] = [
    "staff",
    "the engagement's provider",
    "the provider who declined the request",
    "a provider from another co-op",
    "a member of the co-op",
    "a member of another co-op",
    "nobody signed in",
];

/// What a viewer allowed to read a field reads.
#[derive(Debug, Clone, Copy)]
enum Want {
    Text(&'static str),
    Json(&'static str),
    /// The viewer's own address.
    ViewerEmail,
    /// The viewer's own calendar feed address (each viewer made one).
    ViewerFeedUrl,
}

/// One field of one object: what to select, and where its value is inside
/// the object (dot-separated; numbers index a list).
struct Field {
    object: &'static str,
    /// For `node(id:)`'s inline fragment.
    type_name: &'static str,
    select: &'static str,
    at: &'static str,
    value: Want,
}

/// One way to reach an object: a query with `{sel}` where the field's
/// selection goes (and `{type}` for its type), its variables, and where the
/// object is in `data` (dot-separated; `=id` is the list element with that
/// id).
struct Path {
    name: String,
    query: String,
    variables: Value,
    at: String,
    /// `$id` is the viewer's own user id.
    own: bool,
}

/// One line of the table: a field by a path, and what each viewer gets.
struct Row {
    field: &'static Field,
    path: Path,
    expect: [Expect; 7],
}

const fn text(
    object: &'static str,
    type_name: &'static str,
    select: &'static str,
    at: &'static str,
    value: &'static str,
) -> Field {
    Field {
        object,
        type_name,
        select,
        at,
        value: Want::Text(value),
    }
}

// The people.
const MEMBER: &str = "the co-op's member (User)";
const MEMBER_NAME: Field = text(MEMBER, "User", "name", "name", "Member of Wye Housing");
const MEMBER_EMAIL: Field = text(MEMBER, "User", "email", "email", "member@wyehousing.coop");
const PERSON: &str = "the engaged provider's person (User)";
const PERSON_NAME: Field = text(PERSON, "User", "name", "name", "Engaged Mentor");
const PERSON_EMAIL: Field = text(
    PERSON,
    "User",
    "email",
    "email",
    "engagedmentor@providers.test",
);
const OWN_EMAIL: Field = Field {
    object: "the viewer themself (User)",
    type_name: "User",
    select: "email",
    at: "email",
    value: Want::ViewerEmail,
};
/// A person's calendar feed address: a bearer secret, for them alone.
const fn feed_url(object: &'static str) -> Field {
    Field {
        object,
        type_name: "User",
        select: "calendarFeedUrl",
        at: "calendarFeedUrl",
        value: Want::ViewerFeedUrl,
    }
}
const MEMBER_FEED: Field = feed_url(MEMBER);
const PERSON_FEED: Field = feed_url(PERSON);
const OWN_FEED: Field = feed_url("the viewer themself (User)");
// The client co-op.
const COOP: &str = "the co-op (Organisation)";
const COOP_NAME: Field = text(COOP, "Organisation", "name", "name", "Wye Housing");
const COOP_EMAIL: Field = text(
    COOP,
    "Organisation",
    "contactEmail",
    "contactEmail",
    "hello@wyehousing.coop",
);
const COOP_PHONE: Field = text(
    COOP,
    "Organisation",
    "contactPhone",
    "contactPhone",
    "0161 496 0123",
);
const COOP_FINANCES: Field = text(
    COOP,
    "Organisation",
    "financialDetails",
    "financialDetails",
    "Reserves £40k",
);
// The vocabularies and the provider.
const TOPIC: Field = text("a topic (Topic)", "Topic", "name", "name", "governance");
const SECTOR: Field = text("a sector (Sector)", "Sector", "name", "name", "housing");
const PROVIDER: Field = text(
    "the engaged provider (Provider)",
    "Provider",
    "name",
    "name",
    "Engaged Mentor",
);
// The request.
const GOALS: Field = text(
    "the request (SupportRequest)",
    "SupportRequest",
    "goals",
    "goals",
    "Grow our membership.",
);
// The engagement the provider got after the other declined (ACTIVE).
const ACTIVE: &str = "the active engagement (Engagement)";
const GROUND_RULES: Field = text(
    ACTIVE,
    "Engagement",
    "groundRules",
    "groundRules",
    "Fortnightly video calls; both keep notes",
);
const FEE: Field = Field {
    object: ACTIVE,
    type_name: "Engagement",
    select: "feePence",
    at: "feePence",
    value: Want::Json("5000"),
};
const MEETINGS: Field = text(
    ACTIVE,
    "Engagement",
    "meetings { status }",
    "meetings.0.status",
    "HELD",
);
const NOTES: Field = text(
    ACTIVE,
    "Engagement",
    "meetings { notes }",
    "meetings.0.notes",
    "private notes",
);
const LEARNING: Field = text(
    ACTIVE,
    "Engagement",
    "meetings { learning }",
    "meetings.0.learning",
    "programme learning",
);
const REVIEWS: Field = Field {
    object: ACTIVE,
    type_name: "Engagement",
    select: "reviews { id }",
    at: "reviews",
    value: Want::Json("[]"),
};
// The engagement the provider left early, on a second request.
const END_REASON: Field = text(
    "the ended engagement (Engagement)",
    "Engagement",
    "endReason",
    "endReason",
    "Moved away from the area",
);
// The declining provider's own engagement.
const DECLINE_REASON: Field = text(
    "the declined engagement (Engagement)",
    "Engagement",
    "declineReason",
    "declineReason",
    "Too busy this spring",
);
// Ids that name no Node, or nothing at all.
const MEETING_BY_ID: Field = text("a meeting (Meeting)", "Meeting", "status", "status", "HELD");
const NO_ENGAGEMENT: Field = text("an unknown engagement", "Engagement", "id", "id", "");
const NO_REQUEST: Field = text("an unknown request", "SupportRequest", "id", "id", "");
const NO_ORGANISATION: Field = text("an unknown co-op", "Organisation", "id", "id", "");
const NO_PROVIDER: Field = text("an unknown provider", "Provider", "id", "id", "");

impl Path {
    fn new(name: impl Into<String>, query: &str, variables: Value, at: impl Into<String>) -> Self {
        Path {
            name: name.into(),
            query: query.to_string(),
            variables,
            at: at.into(),
            own: false,
        }
    }
}

fn node(id: &str) -> Path {
    Path::new(
        "node(id:)",
        "query($id: ID!) { node(id: $id) { ... on {type} { {sel} } } }",
        json!({"id": id}),
        "node",
    )
}

/// `node(id:)` with the viewer's own user id.
fn own_node() -> Path {
    Path {
        own: true,
        ..Path::new(
            "node(id:) of their own id",
            "query($id: ID!) { node(id: $id) { ... on User { {sel} } } }",
            json!({}),
            "node",
        )
    }
}

fn me() -> Path {
    Path::new("me", "{ me { {sel} } }", json!({}), "me")
}

/// The type's own query, e.g. `engagement(id:)`.
fn root(field: &str, id: &str) -> Path {
    Path::new(
        format!("{field}(id:)"),
        &"query($id: ID!) { FIELD(id: $id) { {sel} } }".replace("FIELD", field),
        json!({"id": id}),
        field,
    )
}

/// A root list, e.g. `topics`, looking for `id` in its first page.
fn listed(field: &str, id: &str) -> Path {
    Path::new(
        format!("{field} list"),
        &"{ FIELD(first: 10) { nodes { id {sel} } } }".replace("FIELD", field),
        json!({}),
        format!("{field}.nodes.={id}"),
    )
}

/// Under a parent read by its id (`$via`); `at` as in [`Path`].
fn under(name: &str, query: &str, via: &str, at: String) -> Path {
    Path::new(name, query, json!({"via": via}), at)
}

/// The objects the matrix reads, made as the programme would make them.
struct Fixture {
    coop: String,
    member: String,
    person: String,
    provider: String,
    topic: String,
    sector: String,
    request: String,
    declined: String,
    active: String,
    meeting: String,
    second_request: String,
    second_declined: String,
    ended: String,
}

/// A viewer: a session (or none), and who it is.
struct Viewer {
    token: Option<String>,
    user_id: String,
    email: String,
    /// Their calendar feed's address (empty for nobody).
    feed_url: String,
}

/// The ways to reach each object, named as a reader would say them.
struct Paths<'a>(&'a Fixture);

impl Paths<'_> {
    fn member(&self) -> Vec<Path> {
        let f = self.0;
        vec![
            node(&f.member),
            under(
                "organisation { members }",
                "query($via: ID!) { organisation(id: $via) { members { id {sel} } } }",
                &f.coop,
                format!("organisation.members.={}", f.member),
            ),
        ]
    }

    fn person(&self) -> Vec<Path> {
        let f = self.0;
        vec![
            node(&f.person),
            under(
                "provider { user }",
                "query($via: ID!) { provider(id: $via) { user { {sel} } } }",
                &f.provider,
                "provider.user".into(),
            ),
            Path::new(
                "mentors { user }",
                "{ mentors(first: 10) { nodes { id user { {sel} } } } }",
                json!({}),
                format!("mentors.nodes.={}.user", f.provider),
            ),
            under(
                "engagement { provider { user } }",
                "query($via: ID!) { engagement(id: $via) { provider { user { {sel} } } } }",
                &f.active,
                "engagement.provider.user".into(),
            ),
        ]
    }

    fn own(&self) -> Vec<Path> {
        vec![me(), own_node()]
    }

    fn coop(&self) -> Vec<Path> {
        let f = self.0;
        vec![
            node(&f.coop),
            root("organisation", &f.coop),
            under(
                "supportRequest { organisation }",
                "query($via: ID!) { supportRequest(id: $via) { organisation { {sel} } } }",
                &f.request,
                "supportRequest.organisation".into(),
            ),
            under(
                "engagement { supportRequest { organisation } }",
                "query($via: ID!) { engagement(id: $via) { supportRequest { organisation { {sel} } } } }",
                &f.active,
                "engagement.supportRequest.organisation".into(),
            ),
        ]
    }

    /// As [`Paths::coop`], and the register.
    fn coop_and_register(&self) -> Vec<Path> {
        let mut paths = self.coop();
        paths.push(listed("organisations", &self.0.coop));
        paths
    }

    fn topic(&self) -> Vec<Path> {
        let f = self.0;
        vec![
            node(&f.topic),
            listed("topics", &f.topic),
            under(
                "supportRequest { topics }",
                "query($via: ID!) { supportRequest(id: $via) { topics { id {sel} } } }",
                &f.request,
                format!("supportRequest.topics.={}", f.topic),
            ),
            under(
                "provider { topics }",
                "query($via: ID!) { provider(id: $via) { topics { id {sel} } } }",
                &f.provider,
                format!("provider.topics.={}", f.topic),
            ),
        ]
    }

    fn sector(&self) -> Vec<Path> {
        let f = self.0;
        vec![
            node(&f.sector),
            listed("sectors", &f.sector),
            under(
                "organisation { sector }",
                "query($via: ID!) { organisation(id: $via) { sector { {sel} } } }",
                &f.coop,
                "organisation.sector".into(),
            ),
        ]
    }

    fn provider(&self) -> Vec<Path> {
        let f = self.0;
        vec![
            node(&f.provider),
            root("provider", &f.provider),
            listed("mentors", &f.provider),
            under(
                "engagement { provider }",
                "query($via: ID!) { engagement(id: $via) { provider { {sel} } } }",
                &f.active,
                "engagement.provider".into(),
            ),
        ]
    }

    fn request(&self) -> Vec<Path> {
        let f = self.0;
        vec![
            node(&f.request),
            root("supportRequest", &f.request),
            listed("supportRequests", &f.request),
            under(
                "engagement(active) { supportRequest }",
                "query($via: ID!) { engagement(id: $via) { supportRequest { {sel} } } }",
                &f.active,
                "engagement.supportRequest".into(),
            ),
            under(
                "engagement(declined) { supportRequest }",
                "query($via: ID!) { engagement(id: $via) { supportRequest { {sel} } } }",
                &f.declined,
                "engagement.supportRequest".into(),
            ),
        ]
    }

    /// An engagement by every path: its own id, its request's list, the
    /// request list's lists, and its request reached from the declining
    /// provider's own engagement on it (`declined`).
    fn engagement(&self, engagement: &str, request: &str, declined: &str) -> Vec<Path> {
        vec![
            node(engagement),
            root("engagement", engagement),
            under(
                "supportRequest { engagements }",
                "query($via: ID!) { supportRequest(id: $via) { engagements { id {sel} } } }",
                request,
                format!("supportRequest.engagements.={engagement}"),
            ),
            Path::new(
                "supportRequests { engagements }",
                "{ supportRequests(first: 10) { nodes { id engagements { id {sel} } } } }",
                json!({}),
                format!("supportRequests.nodes.={request}.engagements.={engagement}"),
            ),
            under(
                "engagement(declined) { supportRequest { engagements } }",
                "query($via: ID!) { engagement(id: $via) { supportRequest { engagements { id {sel} } } } }",
                declined,
                format!("engagement.supportRequest.engagements.={engagement}"),
            ),
        ]
    }

    fn active(&self) -> Vec<Path> {
        let f = self.0;
        self.engagement(&f.active, &f.request, &f.declined)
    }

    fn ended(&self) -> Vec<Path> {
        let f = self.0;
        self.engagement(&f.ended, &f.second_request, &f.second_declined)
    }

    /// The declining provider's own engagement (reaching it through itself
    /// says nothing more).
    fn declined(&self) -> Vec<Path> {
        let f = self.0;
        let mut paths = self.engagement(&f.declined, &f.request, &f.declined);
        paths.pop();
        paths
    }

    fn meeting(&self) -> Vec<Path> {
        vec![node(&self.0.meeting)]
    }

    /// An id of no row, by `node(id:)` and by its type's own query.
    fn unknown(type_name: &str, own_query: &str) -> Vec<Path> {
        let id = hive_worker::ids::global_id(type_name, 999_999);
        vec![node(&id), root(own_query, &id)]
    }
}

/// Puts one field's lines in the table, each with its path; a line names
/// its path, so the table cannot drift from the queries.
fn add(
    rows: &mut Vec<Row>,
    field: &'static Field,
    paths: Vec<Path>,
    lines: &[([Expect; 7], &str)],
) {
    assert_eq!(
        paths.len(),
        lines.len(),
        "{}: a line per path",
        field.select
    );
    for (path, (expect, name)) in paths.into_iter().zip(lines) {
        assert_eq!(
            path.name, *name,
            "{} {}: the lines in the paths' order",
            field.object, field.select
        );
        rows.push(Row {
            field,
            path,
            expect: *expect,
        });
    }
}

/// The policy: a line per field × path, and in each line a column per
/// viewer, in the order of [`VIEWERS`]:
///
/// ```text
/// [staff, the engagement's provider, the provider who declined the request,
///  a provider from another co-op, a member of the co-op,
///  a member of another co-op, nobody signed in]
/// ```
///
/// S: shown, F: FORBIDDEN, U: UNAUTHENTICATED, N: NOT_FOUND, A: absent
/// from the viewer's list (or null) without an error. Kept as a table, so
/// rustfmt leaves it be.
#[rustfmt::skip]
fn the_policy(f: &Fixture) -> Vec<Row> {
    let p = Paths(f);
    let mut rows = Vec::new();

    // A co-op's member: staff, themself and their co-op, by every path. The
    // roles in DESIGN give no one else a co-op's people; `members` says so,
    // and one policy answers `node(id:)` the same.
    for field in [&MEMBER_NAME, &MEMBER_EMAIL] {
        add(&mut rows, field, p.member(), &[
            ([S, F, F, F, S, F, U], "node(id:)"),
            ([S, F, F, F, S, F, U], "organisation { members }"),
        ]);
    }
    // A person's calendar feed address: themself only, staff included.
    add(&mut rows, &MEMBER_FEED, p.member(), &[
        ([F, F, F, F, S, F, U], "node(id:)"),
        ([F, F, F, F, S, F, U], "organisation { members }"),
    ]);
    add(&mut rows, &PERSON_FEED, p.person(), &[
        ([F, S, F, F, F, F, U], "node(id:)"),
        ([F, S, F, F, F, F, U], "provider { user }"),
        ([F, S, F, F, F, F, U], "mentors { user }"),
        ([F, S, F, F, F, F, U], "engagement { provider { user } }"),
    ]);
    add(&mut rows, &OWN_FEED, p.own(), &[
        ([S, S, S, S, S, S, A], "me"),
        ([S, S, S, S, S, S, U], "node(id:) of their own id"),
    ]);
    // A provider's person: their name to anyone signed in (the directory),
    // their address to staff and themself.
    add(&mut rows, &PERSON_NAME, p.person(), &[
        ([S, S, S, S, S, S, U], "node(id:)"),
        ([S, S, S, S, S, S, U], "provider { user }"),
        ([S, S, S, S, S, S, U], "mentors { user }"),
        ([S, S, F, F, S, F, U], "engagement { provider { user } }"),
    ]);
    add(&mut rows, &PERSON_EMAIL, p.person(), &[
        ([S, S, F, F, F, F, U], "node(id:)"),
        ([S, S, F, F, F, F, U], "provider { user }"),
        ([S, S, F, F, F, F, U], "mentors { user }"),
        ([S, S, F, F, F, F, U], "engagement { provider { user } }"),
    ]);
    // Everyone reads themself; `me` is null for nobody.
    add(&mut rows, &OWN_EMAIL, p.own(), &[
        ([S, S, S, S, S, S, A], "me"),
        ([S, S, S, S, S, S, U], "node(id:) of their own id"),
    ]);

    // The co-op: staff, its members and the providers proposed to it (the
    // one who declined keeps the request's public part, the co-op's name
    // among it); its contact details also to a provider while ACTIVE; its
    // finances never to a provider. The register is staff's.
    add(&mut rows, &COOP_NAME, p.coop_and_register(), &[
        ([S, S, S, F, S, F, U], "node(id:)"),
        ([S, S, S, F, S, F, U], "organisation(id:)"),
        ([S, S, S, F, S, F, U], "supportRequest { organisation }"),
        ([S, S, F, F, S, F, U], "engagement { supportRequest { organisation } }"),
        ([S, F, F, F, F, F, U], "organisations list"),
    ]);
    for field in [&COOP_EMAIL, &COOP_PHONE] {
        add(&mut rows, field, p.coop(), &[
            ([S, S, F, F, S, F, U], "node(id:)"),
            ([S, S, F, F, S, F, U], "organisation(id:)"),
            ([S, S, F, F, S, F, U], "supportRequest { organisation }"),
            ([S, S, F, F, S, F, U], "engagement { supportRequest { organisation } }"),
        ]);
    }
    add(&mut rows, &COOP_FINANCES, p.coop(), &[
        ([S, F, F, F, S, F, U], "node(id:)"),
        ([S, F, F, F, S, F, U], "organisation(id:)"),
        ([S, F, F, F, S, F, U], "supportRequest { organisation }"),
        ([S, F, F, F, S, F, U], "engagement { supportRequest { organisation } }"),
    ]);

    // The vocabularies: anyone signed in, and nobody else by any path.
    add(&mut rows, &TOPIC, p.topic(), &[
        ([S, S, S, S, S, S, U], "node(id:)"),
        ([S, S, S, S, S, S, U], "topics list"),
        ([S, S, S, F, S, F, U], "supportRequest { topics }"),
        ([S, S, S, S, S, S, U], "provider { topics }"),
    ]);
    add(&mut rows, &SECTOR, p.sector(), &[
        ([S, S, S, S, S, S, U], "node(id:)"),
        ([S, S, S, S, S, S, U], "sectors list"),
        ([S, S, S, F, S, F, U], "organisation { sector }"),
    ]);

    // A provider's profile: anyone signed in (the directory).
    add(&mut rows, &PROVIDER, p.provider(), &[
        ([S, S, S, S, S, S, U], "node(id:)"),
        ([S, S, S, S, S, S, U], "provider(id:)"),
        ([S, S, S, S, S, S, U], "mentors list"),
        ([S, S, F, F, S, F, U], "engagement { provider }"),
    ]);

    // The request: staff, the co-op, and the providers proposed on it (the
    // one who declined included: its public part).
    add(&mut rows, &GOALS, p.request(), &[
        ([S, S, S, F, S, F, U], "node(id:)"),
        ([S, S, S, F, S, F, U], "supportRequest(id:)"),
        ([S, S, S, A, S, A, U], "supportRequests list"),
        ([S, S, F, F, S, F, U], "engagement(active) { supportRequest }"),
        ([S, F, S, F, S, F, U], "engagement(declined) { supportRequest }"),
    ]);

    // The engagement the provider got: its two parties and staff, by every
    // path; the provider who declined the request reads nothing of it.
    for field in [&GROUND_RULES, &FEE, &MEETINGS, &REVIEWS] {
        add(&mut rows, field, p.active(), &[
            ([S, S, F, F, S, F, U], "node(id:)"),
            ([S, S, F, F, S, F, U], "engagement(id:)"),
            ([S, S, A, F, S, F, U], "supportRequest { engagements }"),
            ([S, S, A, A, S, A, U], "supportRequests { engagements }"),
            ([S, F, A, F, S, F, U], "engagement(declined) { supportRequest { engagements } }"),
        ]);
    }
    // Its meeting notes: the two parties, not staff.
    add(&mut rows, &NOTES, p.active(), &[
        ([F, S, F, F, S, F, U], "node(id:)"),
        ([F, S, F, F, S, F, U], "engagement(id:)"),
        ([F, S, A, F, S, F, U], "supportRequest { engagements }"),
        ([F, S, A, A, S, A, U], "supportRequests { engagements }"),
        ([F, F, A, F, S, F, U], "engagement(declined) { supportRequest { engagements } }"),
    ]);
    // Its learning: the provider and staff.
    add(&mut rows, &LEARNING, p.active(), &[
        ([S, S, F, F, F, F, U], "node(id:)"),
        ([S, S, F, F, F, F, U], "engagement(id:)"),
        ([S, S, A, F, F, F, U], "supportRequest { engagements }"),
        ([S, S, A, A, F, A, U], "supportRequests { engagements }"),
        ([S, F, A, F, F, F, U], "engagement(declined) { supportRequest { engagements } }"),
    ]);

    // The engagement the provider left early, on a second request the other
    // provider had declined first: its end reason as the active one's fields.
    add(&mut rows, &END_REASON, p.ended(), &[
        ([S, S, F, F, S, F, U], "node(id:)"),
        ([S, S, F, F, S, F, U], "engagement(id:)"),
        ([S, S, A, F, S, F, U], "supportRequest { engagements }"),
        ([S, S, A, A, S, A, U], "supportRequests { engagements }"),
        ([S, F, A, F, S, F, U], "engagement(declined) { supportRequest { engagements } }"),
    ]);

    // The declining provider's own engagement: theirs, the co-op's and
    // staff's; not the provider who got the request after them.
    add(&mut rows, &DECLINE_REASON, p.declined(), &[
        ([S, F, S, F, S, F, U], "node(id:)"),
        ([S, F, S, F, S, F, U], "engagement(id:)"),
        ([S, A, S, F, S, F, U], "supportRequest { engagements }"),
        ([S, A, S, A, S, A, U], "supportRequests { engagements }"),
    ]);

    // A meeting by its id: whoever sees its engagement (issue 15: every
    // object with an id is a Node).
    add(&mut rows, &MEETING_BY_ID, p.meeting(), &[
        ([S, S, F, F, S, F, U], "node(id:)"),
    ]);
    // Ids that name nothing: NOT_FOUND for those signed in, and not even
    // that for nobody.
    for (field, type_name, own_query) in [
        (&NO_ENGAGEMENT, "Engagement", "engagement"),
        (&NO_REQUEST, "SupportRequest", "supportRequest"),
        (&NO_ORGANISATION, "Organisation", "organisation"),
        (&NO_PROVIDER, "Provider", "provider"),
    ] {
        add(&mut rows, field, Paths::unknown(type_name, own_query), &[
            ([N, N, N, N, N, N, U], "node(id:)"),
            ([N, N, N, N, N, N, U], &format!("{own_query}(id:)")),
        ]);
    }
    rows
}

/// What came back for one cell.
#[derive(Debug)]
enum Got {
    Value(Value),
    Code(String),
    Absent,
}

impl std::fmt::Display for Got {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Got::Value(value) => write!(f, "the value {value}"),
            Got::Code(code) => write!(f, "{code}"),
            Got::Absent => write!(f, "nothing, without an error"),
        }
    }
}

/// The value at `at` in `data` (see [`Path`]); None when anything on the way
/// is missing or null.
fn locate<'a>(data: &'a Value, at: &str) -> Option<&'a Value> {
    at.split('.').try_fold(data, |value, step| {
        if let Some(id) = step.strip_prefix('=') {
            value.as_array()?.iter().find(|element| element["id"] == id)
        } else if let Ok(index) = step.parse::<usize>() {
            value.as_array()?.get(index)
        } else {
            value.as_object()?.get(step)
        }
    })
}

/// The value if it is there; otherwise the code of the error whose path ends
/// at `leaf`, or of the first error (a parent was refused); otherwise absent.
fn outcome(body: &Value, at: &str, leaf: &str) -> Got {
    if let Some(value) = locate(&body["data"], at).filter(|value| !value.is_null()) {
        return Got::Value(value.clone());
    }
    let errors = body["errors"].as_array().cloned().unwrap_or_default();
    if errors.is_empty() {
        return Got::Absent;
    }
    let code = errors
        .iter()
        .find(|error| {
            error["path"]
                .as_array()
                .is_some_and(|path| path.last().and_then(Value::as_str) == Some(leaf))
        })
        .unwrap_or(&errors[0])["extensions"]["code"]
        .as_str()
        .unwrap_or("NULL");
    Got::Code(code.to_string())
}

/// Reads one cell: the row's field by the row's path, as the viewer.
async fn read(app: &TestApp, row: &Row, viewer: &Viewer) -> Value {
    let query = row
        .path
        .query
        .replace("{type}", row.field.type_name)
        .replace("{sel}", row.field.select);
    let mut variables = row.path.variables.clone();
    if row.path.own {
        variables["id"] = json!(viewer.user_id);
    }
    app.graphql(&query, variables, viewer.token.as_deref())
        .await
        .1
}

/// What is wrong with one cell, if anything.
fn judge(row: &Row, column: usize, viewer: &Viewer, body: &Value) -> Option<String> {
    let field = row.field;
    let leaf = field
        .at
        .rsplit('.')
        .find(|step| step.parse::<usize>().is_err())
        .unwrap_or(field.at);
    let got = outcome(body, &format!("{}.{}", row.path.at, field.at), leaf);
    let want = match field.value {
        Want::Text(text) => json!(text),
        Want::Json(json) => serde_json::from_str(json).unwrap(),
        Want::ViewerEmail => json!(viewer.email),
        Want::ViewerFeedUrl => json!(viewer.feed_url),
    };
    let expect = row.expect[column];
    let right = match (expect, &got) {
        (Expect::Shown, Got::Value(value)) => *value == want,
        (Expect::Forbidden, Got::Code(code)) => code == "FORBIDDEN",
        (Expect::Unauthenticated, Got::Code(code)) => code == "UNAUTHENTICATED",
        (Expect::NotFound, Got::Code(code)) => code == "NOT_FOUND",
        (Expect::Absent, Got::Absent) => true,
        _ => false,
    };
    // A refusal reveals nothing of the value, anywhere in the answer.
    let leaked = match field.value {
        Want::Text(secret) if expect != Expect::Shown && !secret.is_empty() => {
            body.to_string().contains(secret)
        }
        // No feed address but the viewer's own (a list may hold them).
        Want::ViewerFeedUrl if expect != Expect::Shown => {
            let body = body.to_string();
            let others = if viewer.feed_url.is_empty() {
                body
            } else {
                body.replace(&viewer.feed_url, "")
            };
            others.contains("/calendar/")
        }
        _ => false,
    };
    // A refused field is there and null (partial results); its parent is not.
    let misplaced = crate::support::errors_not_on_null_fields(body);
    (!right || leaked || !misplaced.is_empty()).then(|| {
        format!(
            "{} reading {} `{}` by {}: expected {expect:?}, got {got}{}{}",
            VIEWERS[column],
            field.object,
            field.select,
            row.path.name,
            if leaked {
                " (and the value is in the answer)"
            } else {
                ""
            },
            if misplaced.is_empty() {
                String::new()
            } else {
                format!(
                    " (errors at {} but no null there: the null went up to a parent)",
                    misplaced.join(", ")
                )
            },
        )
    })
}

async fn id_of(app: &TestApp, query: &str, variables: Value, token: &str, field: &str) -> String {
    let body = ok(app.graphql(query, variables, Some(token)).await);
    body["data"][field]["id"].as_str().unwrap().to_string()
}

async fn decline(app: &TestApp, engagement: &str, token: &str) {
    ok(app
        .graphql(
            "mutation($e: ID!) { respondToMatch(engagementId: $e, accept: false, reason: \"Too busy this spring\") { status } }",
            json!({"e": engagement}),
            Some(token),
        )
        .await);
}

/// Two requests from one co-op. On each, one mentor is proposed first and
/// declines, then another gets it: on the first the engagement is ACTIVE,
/// with ground rules and a held meeting with notes and learning; on the
/// second the provider ends it early, saying why. A third mentor, from
/// another co-op, has nothing to do with either.
async fn the_programme(app: &TestApp) -> (Fixture, Vec<Viewer>) {
    let p = Programme::new(app).await;
    let (coop, member) = p.coop(app, "Wye Housing").await;
    let (other_coop, outsider) = p.coop(app, "Ouse Bakers").await;
    let sector = id_of(
        app,
        "mutation { createSector(name: \"housing\") { id } }",
        json!({}),
        &p.staff,
        "createSector",
    )
    .await;
    ok(app
        .graphql(
            "mutation($o: ID!, $s: ID!) { updateOrganisation(id: $o, input: {sectorId: $s}) { id } }",
            json!({"o": coop, "s": sector}),
            Some(&p.staff),
        )
        .await);
    let (provider, provider_token, _) = p.provider(app, "MENTOR", "Engaged Mentor", 3, None).await;
    let (declining, declining_token, _) =
        p.provider(app, "MENTOR", "Declining Mentor", 3, None).await;
    let (_, stranger_token, _) = p
        .provider(app, "MENTOR", "Stranger Mentor", 3, Some(&other_coop))
        .await;

    let request = p.request(app, &coop, "MENTORING").await;
    let declined = p.proposed(app, &request, &declining, 3).await;
    decline(app, &declined, &declining_token).await;
    let active = p.proposed(app, &request, &provider, 3).await;
    p.accept(app, &active, &provider_token).await;
    ok(app
        .graphql(
            "mutation($e: ID!) { agreeGroundRules(engagementId: $e, text: \"Fortnightly video calls; both keep notes\") { id } }",
            json!({"e": active}),
            Some(&member),
        )
        .await);
    let slot = json!({"engagementId": active, "startsAt": (Utc::now() + Duration::hours(5)).to_rfc3339(), "durationMinutes": 60, "format": "PHONE"});
    let meeting = id_of(
        app,
        "mutation($i: ScheduleMeetingInput!) { scheduleMeeting(input: $i) { id } }",
        json!({"i": slot}),
        &member,
        "scheduleMeeting",
    )
    .await;
    // Held two hours ago: moved there behind the API, which refuses the past.
    crate::support::programme::move_meeting(app, &meeting, Utc::now() - Duration::hours(2)).await;
    ok(app
        .graphql(
            "mutation($m: ID!) { recordMeeting(input: {meetingId: $m, held: true, daysCounted: 1, notes: \"private notes\", learning: \"programme learning\"}) { status } }",
            json!({"m": meeting}),
            Some(&provider_token),
        )
        .await);

    let second_request = p.request(app, &coop, "MENTORING").await;
    let second_declined = p.proposed(app, &second_request, &declining, 3).await;
    decline(app, &second_declined, &declining_token).await;
    let ended = p.proposed(app, &second_request, &provider, 3).await;
    p.accept(app, &ended, &provider_token).await;
    ok(app
        .graphql(
            "mutation($e: ID!) { endEngagement(engagementId: $e, reason: \"Moved away from the area\") { status } }",
            json!({"e": ended}),
            Some(&provider_token),
        )
        .await);

    let tokens = [
        Some(p.staff.clone()),
        Some(provider_token),
        Some(declining_token),
        Some(stranger_token),
        Some(member),
        Some(outsider),
        None,
    ];
    let mut viewers = Vec::new();
    for token in tokens {
        let me = match &token {
            Some(token) => {
                // Everyone signed in makes a calendar feed, so each has an
                // address to read (or to be refused).
                ok(app
                    .graphql("mutation { resetCalendarFeed }", json!({}), Some(token))
                    .await);
                ok(app
                    .graphql(
                        "{ me { id email calendarFeedUrl } }",
                        json!({}),
                        Some(token),
                    )
                    .await)["data"]["me"]
                    .clone()
            }
            None => json!({"id": "", "email": "", "calendarFeedUrl": ""}),
        };
        viewers.push(Viewer {
            token,
            user_id: me["id"].as_str().unwrap().to_string(),
            email: me["email"].as_str().unwrap().to_string(),
            feed_url: me["calendarFeedUrl"].as_str().unwrap().to_string(),
        });
    }
    // Nobody signed in asks for the member, for want of an id of their own.
    viewers[6].user_id = viewers[4].user_id.clone();
    let provider_body = ok(app
        .graphql(
            "query($p: ID!) { provider(id: $p) { user { id } } }",
            json!({"p": provider}),
            Some(&p.staff),
        )
        .await);
    let fixture = Fixture {
        coop,
        member: viewers[4].user_id.clone(),
        person: provider_body["data"]["provider"]["user"]["id"]
            .as_str()
            .unwrap()
            .to_string(),
        provider,
        topic: p.topics[0].clone(),
        sector,
        request,
        declined,
        active,
        meeting,
        second_request,
        second_declined,
        ended,
    };
    (fixture, viewers)
}

/// Reads every cell (a few at a time, well under the per-client connection
/// limit) and lists every one that disagrees with the policy.
async fn the_matrix(app: TestApp) {
    let (fixture, viewers) = the_programme(&app).await;
    let rows = the_policy(&fixture);
    let cells: Vec<(usize, usize)> = (0..rows.len())
        .flat_map(|r| (0..VIEWERS.len()).map(move |c| (r, c)))
        .collect();
    let bodies: Vec<Value> = stream::iter(
        cells
            .iter()
            .map(|&(r, c)| read(&app, &rows[r], &viewers[c])),
    )
    .buffered(14)
    .collect()
    .await;
    let wrong: Vec<String> = cells
        .iter()
        .zip(&bodies)
        .filter_map(|(&(r, c), body)| judge(&rows[r], c, &viewers[c], body))
        .collect();
    app.stop().await;
    assert!(
        wrong.is_empty(),
        "{} of {} cells ({} rows × {} viewers) disagree with the access policy:\n{}",
        wrong.len(),
        cells.len(),
        rows.len(),
        VIEWERS.len(),
        wrong.join("\n")
    );
}

on_both_databases!(every_object_by_every_path_for_every_viewer, the_matrix);
