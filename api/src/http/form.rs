//! Reading what a page was sent: the secret token in its path and the fields
//! of its form. Everything the framework would refuse with its own plain text
//! (a body too large or too slow, the wrong content type, a field missing or
//! sent twice, an undecodable path) becomes one of our pages instead, with the
//! right status; and every field value is checked as text (`crate::text`)
//! before a handler sees it, the same rule as GraphQL's inputs.

use axum::{
    extract::{FromRequest, FromRequestParts, Path, Request},
    http::{StatusCode, header, request::Parts},
    response::{IntoResponse, Response},
};
use serde::de::DeserializeOwned;

use super::{
    body,
    page::{Reply, notice},
};
use crate::{
    graphql::guard::text_rules::TOKEN_RULE,
    state::AppState,
    text::{self, TextRule},
};

/// The most fields a page's form may send: the longest form (a survey of 60
/// questions, each with up to 30 boxes to tick) sends under 2,000.
pub const MAX_FORM_FIELDS: usize = 2_000;

/// Any one field of a page's form: the longest a page asks for (a survey's
/// text answer, a review's comments) is 4,000 characters, checked again by
/// the operation it feeds; this is what no field may exceed.
pub const FORM_FIELD_RULE: TextRule = TextRule::prose(20_000);

/// A field's name: Hive's own names are short words (`comments`, `q42`).
const FORM_FIELD_NAME_RULE: TextRule = TextRule::line(100);

/// The page for a link whose token cannot be right (it does not decode, or
/// cannot be a token at all): the same as for an unknown token.
fn not_a_link() -> Reply {
    notice(
        StatusCode::NOT_FOUND,
        "This link is not right",
        "We could not find anything for this link. Check that the whole link was copied \
         from the email; if you were sent a reminder, use the link in the reminder.",
    )
}

/// The secret token at the end of a page's path (`/s/{token}` and the like).
pub struct PageToken(pub String);

impl<S: Send + Sync> FromRequestParts<S> for PageToken {
    type Rejection = Reply;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Path(token) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|_| not_a_link())?;
        text::check(TOKEN_RULE, &token).map_err(|_| not_a_link())?;
        Ok(PageToken(token))
    }
}

/// A page's form, read as `T` (a struct, or `Vec<(String, String)>` for a form
/// whose fields repeat). Carriage returns before line feeds, which browsers
/// send from a text area, are dropped first.
pub struct PageForm<T>(pub T);

fn unreadable(text: &str) -> Response {
    notice(StatusCode::BAD_REQUEST, "This form could not be read", text).into_response()
}

impl<T: DeserializeOwned> FromRequest<AppState> for PageForm<T> {
    type Rejection = Response;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let form_type = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.to_ascii_lowercase()
                    .starts_with("application/x-www-form-urlencoded")
            });
        if !form_type {
            return Err(notice(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "This form could not be read",
                "The form was not sent the way a browser sends it. Open the link from the \
                 email and use the form on the page.",
            )
            .into_response());
        }
        let limits = &state.settings.limits;
        let bytes = body::read(
            request.into_body(),
            limits.max_body_bytes,
            limits.body_timeout,
        )
        .await
        .map_err(|error| {
            notice(
                error.status(),
                "This form could not be read",
                &error.message(),
            )
            .into_response()
        })?;
        let mut pairs: Vec<(String, String)> = Vec::new();
        for (name, value) in form_urlencoded::parse(&bytes) {
            if pairs.len() == MAX_FORM_FIELDS {
                return Err(unreadable(&format!(
                    "The form sent more than {MAX_FORM_FIELDS} fields; no form of Hive's has \
                     that many."
                )));
            }
            if text::check(FORM_FIELD_NAME_RULE, &name).is_err() {
                return Err(unreadable(
                    "The form has a field no page of Hive's sends. Go back and send it again \
                     from the page.",
                ));
            }
            let value = value.replace("\r\n", "\n");
            if let Err(problem) = text::check(FORM_FIELD_RULE, &value) {
                return Err(unreadable(&problem.message(&name)));
            }
            pairs.push((name.into_owned(), value));
        }
        let normalised = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(&pairs)
            .finish();
        serde_urlencoded::from_str(&normalised)
            .map(PageForm)
            .map_err(|_| {
                unreadable(
                    "Part of the form was missing or sent twice. Go back, check the form \
                     and send it again.",
                )
            })
    }
}
