//! From census to support, the GraphQL side: `createSupportRequestFromResponse`,
//! translating to `programme::survey_needs`, where the needs a response
//! shows and the drafting of a request from it are.

use async_graphql::{Context, ID, Object};

use super::{
    relay::{NodeType, decode_id_of},
    support_requests::{Kind, SupportRequest},
};
use crate::{
    auth::{RoleGuard, viewer},
    error::ApiResult,
    programme::survey_needs,
    state::AppState,
};

#[derive(Default)]
pub struct SurveyNeedsMutation;

#[Object]
impl SurveyNeedsMutation {
    /// Turns a survey response into a support request for its co-op, in one
    /// step: its needs become the request's topics and its answers the
    /// start of its goals. SUBMITTED, for staff to edit and match. A
    /// response with no needs is BAD_USER_INPUT; a second request from the
    /// same response is a CONFLICT.
    #[graphql(guard = "RoleGuard::staff()")]
    async fn create_support_request_from_response(
        &self,
        ctx: &Context<'_>,
        response_id: ID,
        kind: Kind,
    ) -> ApiResult<SupportRequest> {
        let state = ctx.data_unchecked::<AppState>();
        let response_id = decode_id_of(NodeType::SurveyResponse, &response_id)?;
        survey_needs::create_request_from_response(&state.db, viewer(ctx), response_id, kind.into())
            .await
            .map(SupportRequest::alone)
    }
}
