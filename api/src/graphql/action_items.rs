//! "Needs me now": `actionItems`, what waits on the viewer, as typed,
//! paginated lists of items, each with the object it concerns (a `Node`)
//! and how long it has waited.
//!
//! Staff's sections are the staff digest's, read from the same function
//! (`hive_worker::jobs::staff_digest::action_items`): the email and the
//! screen never disagree. They are null with FORBIDDEN for anyone else.
//! The personal sections (`programme::action_items`) answer the viewer's
//! own: a provider's proposals, meetings to record and reviews, a member's
//! reviews and surveys; a role they do not apply to gets an empty list.

use async_graphql::{Context, Object};
use chrono::{DateTime, Utc};
use hive_worker::jobs::staff_digest::{self, ActionSection, SectionKind, Subject};
use tokio::sync::OnceCell;

use super::{
    node::{Node, load_node},
    relay::{HiveConnection, NodeType, PageArgs, paginate_loaded},
};
use crate::{
    auth::{RoleGuard, viewer},
    error::{ApiError, ApiResult},
    programme::action_items::{self as personal, Concerning, PersonalItem},
    state::AppState,
};

/// One thing waiting on the viewer.
#[derive(Debug, Clone)]
pub struct ActionItem {
    /// The object's type and row id; None for a bouncing address that is
    /// nobody's.
    subject: Option<(NodeType, i64)>,
    /// The list's cursor: the object's row id (the preferences row for an
    /// address).
    position: i64,
    since: DateTime<Utc>,
    summary: String,
    address: Option<String>,
}

#[Object]
impl ActionItem {
    /// What it is about: a request, an engagement, a meeting, a concern, a
    /// survey, an email delivery, or the person whose address bounces. Null
    /// for an address that is nobody's; null with FORBIDDEN where the viewer
    /// may not read the object itself (a member reads no `Survey`: they
    /// answer from the emailed link).
    async fn subject(&self, ctx: &Context<'_>) -> ApiResult<Option<Node>> {
        match self.subject {
            Some((kind, id)) => load_node(ctx, kind, id).await.map(Some),
            None => Ok(None),
        }
    }
    /// Since when it has waited (UTC): a request's submission, a proposal,
    /// the last meeting (or the match), a meeting's end, a review asked for,
    /// a concern raised, a survey launched or sent, a first bounce, an
    /// email given up on.
    async fn waiting_since(&self) -> DateTime<Utc> {
        self.since
    }
    /// Whole days waited so far (0 in the first day).
    async fn waiting_days(&self) -> i64 {
        (Utc::now() - self.since).num_days().max(0)
    }
    /// One line saying it, as the digest email says it.
    async fn summary(&self) -> &str {
        &self.summary
    }
    /// The address, for an address that bounces; null otherwise.
    async fn address(&self) -> Option<&str> {
        self.address.as_deref()
    }
}

impl ActionItem {
    fn from_staff(item: staff_digest::ActionItem) -> Self {
        let position = item.subject.row_id();
        let (subject, address) = match item.subject {
            Subject::SupportRequest(id) => (Some((NodeType::SupportRequest, id)), None),
            Subject::Engagement(id) => (Some((NodeType::Engagement, id)), None),
            Subject::Concern(id) => (Some((NodeType::Concern, id)), None),
            Subject::Survey(id) => (Some((NodeType::Survey, id)), None),
            Subject::EmailDelivery(id) => (Some((NodeType::EmailDelivery, id)), None),
            Subject::Address { user_id, email, .. } => {
                (user_id.map(|id| (NodeType::User, id)), Some(email))
            }
        };
        ActionItem {
            subject,
            position,
            since: item.since,
            summary: item.text,
            address,
        }
    }

    /// A personal item. A survey to answer has no `subject`: members read
    /// no survey by id (they answer from the emailed link), and a subject
    /// that is null *with* FORBIDDEN made Apollo's default error policy throw
    /// away a member's whole home screen (issue 20's red team).
    fn from_personal(item: PersonalItem) -> Self {
        let (subject, id) = match item.concerning {
            Concerning::Engagement(id) => (Some((NodeType::Engagement, id)), id),
            Concerning::Meeting(id) => (Some((NodeType::Meeting, id)), id),
            Concerning::Survey(id) => (None, id),
        };
        ActionItem {
            subject,
            position: id,
            since: item.since,
            summary: item.text,
            address: None,
        }
    }
}

/// The viewer's action items, section by section. Staff's sections are
/// loaded once per request, on the first one asked.
/// The staff sections, read once per request however many `actionItems`
/// fields (aliases) it has: each read of them is the digest's snapshot of the
/// whole programme (every open request, current engagement, their meetings
/// and reviews…), so twenty aliases used to read it twenty times. Put in
/// each request's data by `http::graphql`.
#[derive(Default)]
pub struct StaffSnapshot(OnceCell<Vec<ActionSection>>);

/// The sections; all state is the request's (`StaffSnapshot`).
pub struct ActionItems;

/// The usual Relay page arguments of every section.
fn page(
    after: Option<String>,
    before: Option<String>,
    first: Option<i32>,
    last: Option<i32>,
) -> PageArgs {
    PageArgs {
        after,
        before,
        first,
        last,
    }
}

fn connection(
    list: &'static str,
    items: Vec<ActionItem>,
    args: PageArgs,
) -> ApiResult<HiveConnection<ActionItem>> {
    paginate_loaded(list, items, args, |item| item.position, |item| item)
}

impl ActionItems {
    /// One of staff's sections (FORBIDDEN to anyone else), as the digest
    /// has it: every item, in the digest's order.
    async fn staff_section(
        &self,
        ctx: &Context<'_>,
        kind: SectionKind,
        args: PageArgs,
    ) -> ApiResult<Option<HiveConnection<ActionItem>>> {
        if !viewer(ctx).is_staff() {
            return Err(ApiError::forbidden(
                "This list is about the whole programme: staff only.",
            ));
        }
        let sections = ctx
            .data_unchecked::<StaffSnapshot>()
            .0
            .get_or_try_init(|| async {
                let state = ctx.data_unchecked::<AppState>();
                let now = Utc::now();
                let snapshot = staff_digest::load(&state.db, now).await?;
                Ok::<_, ApiError>(staff_digest::action_items(&snapshot, now))
            })
            .await?;
        let items = sections
            .iter()
            .find(|section| section.kind == kind)
            .map(|section| {
                section
                    .items
                    .iter()
                    .cloned()
                    .map(ActionItem::from_staff)
                    .collect()
            })
            .unwrap_or_default();
        connection(list_name(kind), items, args).map(Some)
    }
}

/// The cursor name of a staff section's list.
fn list_name(kind: SectionKind) -> &'static str {
    match kind {
        SectionKind::RequestsWaiting => "requestsWaitingForMatch",
        SectionKind::UnansweredProposals => "unansweredProposals",
        SectionKind::UnbookedEngagements => "engagementsWithoutMeeting",
        SectionKind::UnreviewedFinalMeetings => "finalMeetingsWithoutReviews",
        SectionKind::OpenConcerns => "openConcerns",
        SectionKind::SurveyResponseRates => "surveyResponseRates",
        SectionKind::BouncingAddresses => "bouncingAddresses",
        SectionKind::UndeliveredEmails => "undeliveredEmails",
    }
}

/// `ActionItems`' fields: each staff section reads the digest's section of
/// that kind; each personal section runs its `programme::action_items`
/// function with the request's database and viewer (named by the caller, so
/// the call can use them).
macro_rules! action_item_sections {
    (
        staff { $($(#[doc = $doc:literal])* $field:ident => $kind:ident;)* }
        personal ($db:ident, $viewer:ident) {
            $($(#[doc = $pdoc:literal])* $pfield:ident ($list:literal) => $load:expr;)*
        }
    ) => {
        #[Object]
        impl ActionItems {
            $(
                $(#[doc = $doc])*
                async fn $field(
                    &self,
                    ctx: &Context<'_>,
                    after: Option<String>,
                    before: Option<String>,
                    first: Option<i32>,
                    last: Option<i32>,
                ) -> ApiResult<Option<HiveConnection<ActionItem>>> {
                    self.staff_section(ctx, SectionKind::$kind, page(after, before, first, last))
                        .await
                }
            )*
            $(
                $(#[doc = $pdoc])*
                async fn $pfield(
                    &self,
                    ctx: &Context<'_>,
                    after: Option<String>,
                    before: Option<String>,
                    first: Option<i32>,
                    last: Option<i32>,
                ) -> ApiResult<HiveConnection<ActionItem>> {
                    let $db = &ctx.data_unchecked::<AppState>().db;
                    let $viewer = viewer(ctx);
                    let items: Vec<PersonalItem> = $load.await?;
                    personal_connection($list, items, page(after, before, first, last))
                }
            )*
        }
    };
}

fn personal_connection(
    list: &'static str,
    items: Vec<PersonalItem>,
    args: PageArgs,
) -> ApiResult<HiveConnection<ActionItem>> {
    connection(
        list,
        items.into_iter().map(ActionItem::from_personal).collect(),
        args,
    )
}

action_item_sections! {
    staff {
        /// Staff: requests waiting for a match (no proposal out), longest
        /// waiting first.
        requests_waiting_for_match => RequestsWaiting;
        /// Staff: proposals unanswered for over 3 days, oldest first.
        unanswered_proposals => UnansweredProposals;
        /// Staff: ACTIVE engagements with no meeting booked, quiet longest
        /// first.
        engagements_without_meeting => UnbookedEngagements;
        /// Staff: final meetings passed (in the last 60 days) without both
        /// reviews, earliest first.
        final_meetings_without_reviews => UnreviewedFinalMeetings;
        /// Staff: open concerns, oldest first (their details stay behind the
        /// concern itself).
        open_concerns => OpenConcerns;
        /// Staff: open surveys and how many co-ops have answered.
        survey_response_rates => SurveyResponseRates;
        /// Staff: addresses that bounce (no more mail goes to them), newest
        /// first; the subject is the person, when the address is someone's.
        bouncing_addresses => BouncingAddresses;
        /// Staff: emails given up on (staff can retry them), newest first.
        undelivered_emails => UndeliveredEmails;
    }
    personal (db, who) {
        /// A mentor's or adviser's proposals awaiting their answer,
        /// oldest first; empty for other roles.
        proposals_awaiting_answer("proposalsAwaitingAnswer") =>
            personal::proposals_awaiting_answer(db, who);
        /// A mentor's or adviser's meetings whose time has passed and
        /// that are not yet recorded (held or cancelled), earliest
        /// first; empty for other roles.
        meetings_to_record("meetingsToRecord") =>
            personal::meetings_to_record(db, who, Utc::now());
        /// The final reviews the viewer's side still owes (a provider's
        /// own, a member's co-op's), the subject being the engagement,
        /// oldest first; empty for staff.
        reviews_to_give("reviewsToGive") => personal::reviews_to_give(db, who);
        /// A member's co-op's surveys open and not yet answered, the
        /// soonest closing first; answered from the emailed link (the
        /// summary names the address it went to; the `subject` survey is
        /// null with FORBIDDEN, as members read no survey by id). Empty
        /// for other roles.
        surveys_to_answer("surveysToAnswer") => personal::surveys_to_answer(db, who);
    }
}

#[derive(Default)]
pub struct ActionItemsQuery;

#[Object]
impl ActionItemsQuery {
    /// What waits on the viewer now, section by section: staff see the
    /// digest's sections live, a mentor or adviser their proposals,
    /// meetings to record and reviews, a member their co-op's reviews and
    /// surveys. Ask only your role's sections: staff's are FORBIDDEN to
    /// others.
    #[graphql(guard = "RoleGuard::signed_in()")]
    async fn action_items(&self) -> ActionItems {
        ActionItems
    }
}
