//! The signed-in person's calendar feed: making, replacing and taking away
//! its secret address (`User.calendarFeedUrl` reads it). The rules are in
//! `programme::calendar_feeds`; the feed itself is served at
//! `/calendar/{token}.ics` (`http::calendar_feed`).

use async_graphql::{Context, Object};

use crate::{
    auth::{RoleGuard, viewer},
    error::ApiResult,
    programme::calendar_feeds,
    state::AppState,
};

#[derive(Default)]
pub struct CalendarFeedMutation;

#[Object]
impl CalendarFeedMutation {
    /// Gives the signed-in person a new calendar feed address and returns it
    /// (as `me { calendarFeedUrl }` then reads it). The previous address, if
    /// any, stops working at once: subscribe again with the new one. Anyone
    /// signed in; staff get an empty calendar, since they attend no meeting.
    #[graphql(guard = "RoleGuard::signed_in()")]
    async fn reset_calendar_feed(&self, ctx: &Context<'_>) -> ApiResult<String> {
        let state = ctx.data_unchecked::<AppState>();
        calendar_feeds::reset(&state.db, &state.settings.public_url, viewer(ctx)).await
    }

    /// Takes the signed-in person's calendar feed away: its address stops
    /// working at once (calendars subscribed to it get 404 and keep what they
    /// had), and `calendarFeedUrl` is null. True if there was one.
    #[graphql(guard = "RoleGuard::signed_in()")]
    async fn revoke_calendar_feed(&self, ctx: &Context<'_>) -> ApiResult<bool> {
        let state = ctx.data_unchecked::<AppState>();
        calendar_feeds::revoke(&state.db, viewer(ctx)).await
    }
}
