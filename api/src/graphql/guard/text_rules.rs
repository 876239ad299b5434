//! What every text input of the schema accepts: one line or paragraphs, and
//! how long. Every `String` argument and input field is listed (a test walks
//! the schema and fails on one that is missing), so a new field cannot reach
//! storage unchecked; `ID`s and cursors share one rule.
//!
//! Resolvers still check what only they know (an address is an address, a
//! name is not blank); these rules are what storage can hold at all.

use crate::{
    programme::{
        reviews::MAX_COMMENT_CHARS,
        surveys::{MAX_LABEL_CHARS, MAX_PROMPT_CHARS, MAX_TITLE_CHARS},
    },
    text::TextRule,
};

/// Any `ID`: global ids are about 30 characters.
pub const ID_RULE: TextRule = TextRule::line(100);
/// Cursors (`after`, `before`) and the secret tokens of emailed links.
pub const TOKEN_RULE: TextRule = TextRule::line(100);
/// A String the table does not know yet (a test fails until it is listed):
/// one line, so nothing odd is stored meanwhile.
pub const UNLISTED_RULE: TextRule = TextRule::line(200);

/// An email address (also checked by `auth::normalise_email`).
pub const EMAIL_RULE: TextRule = TextRule::line(254);
const EMAIL: TextRule = EMAIL_RULE;
/// A person's name (also checked by `hive-api admin create-user`).
pub const PERSON_NAME: TextRule = TextRule::line(200);
const TERM_NAME: TextRule = TextRule::line(80);
const REGION: TextRule = TextRule::line(100);
const REASON: TextRule = TextRule::prose(2_000);
const LONG_NOTE: TextRule = TextRule::prose(20_000);
const STORED_ANSWER: TextRule = TextRule::prose(20_000);

/// `Type.field` for input object fields, `Type.field(argument)` for arguments.
const RULES: &[(&str, TextRule)] = &[
    // Filters and searches.
    ("AuditFilter.action", TextRule::line(100)),
    ("AuditFilter.subjectType", TextRule::line(100)),
    ("EmailDeliveryFilter.recipient", EMAIL),
    ("OrganisationFilter.region", REGION),
    ("OrganisationFilter.search", TextRule::line(200)),
    ("ProviderFilter.region", REGION),
    // People and co-ops.
    ("CreateUserInput.email", EMAIL),
    ("CreateUserInput.name", PERSON_NAME),
    ("Mutation.inviteMember(email)", EMAIL),
    ("Mutation.inviteMember(name)", PERSON_NAME),
    ("RegisterAdviserInput.email", EMAIL),
    ("RegisterAdviserInput.name", PERSON_NAME),
    ("RegisterAdviserInput.firmName", TextRule::line(200)),
    ("RegisterMentorInput.email", EMAIL),
    ("RegisterMentorInput.name", PERSON_NAME),
    (
        "Mutation.updateProviderProfile(firmName)",
        TextRule::line(200),
    ),
    ("ProviderOfferInput.bio", TextRule::prose(4_000)),
    ("ProviderOfferInput.regions", REGION),
    ("CreateOrganisationInput.name", TextRule::line(200)),
    ("CreateOrganisationInput.legalForm", TextRule::line(120)),
    ("CreateOrganisationInput.region", REGION),
    ("CreateOrganisationInput.contactEmail", EMAIL),
    ("CreateOrganisationInput.contactPhone", TextRule::line(40)),
    (
        "CreateOrganisationInput.financialDetails",
        TextRule::prose(5_000),
    ),
    ("UpdateOrganisationInput.name", TextRule::line(200)),
    ("UpdateOrganisationInput.legalForm", TextRule::line(120)),
    ("UpdateOrganisationInput.region", REGION),
    ("UpdateOrganisationInput.contactEmail", EMAIL),
    ("UpdateOrganisationInput.contactPhone", TextRule::line(40)),
    (
        "UpdateOrganisationInput.financialDetails",
        TextRule::prose(5_000),
    ),
    // People and their data (issue 17).
    ("Mutation.erasePerson(reason)", REASON),
    ("Mutation.eraseOrganisation(reason)", REASON),
    // Vocabularies.
    ("Mutation.createTopic(name)", TERM_NAME),
    ("Mutation.updateTopic(name)", TERM_NAME),
    ("Mutation.createSector(name)", TERM_NAME),
    ("Mutation.updateSector(name)", TERM_NAME),
    // Sign-in and emails.
    ("Mutation.requestSignIn(email)", EMAIL),
    ("Mutation.signIn(token)", TOKEN_RULE),
    ("Mutation.clearBounce(email)", EMAIL),
    // Requests, engagements, meetings, concerns.
    ("SubmitSupportRequestInput.goals", TextRule::prose(4_000)),
    ("Mutation.declineSupportRequest(reason)", REASON),
    ("Mutation.respondToMatch(reason)", REASON),
    ("Mutation.endEngagement(reason)", REASON),
    ("Mutation.agreeGroundRules(text)", TextRule::prose(10_000)),
    ("ScheduleMeetingInput.location", TextRule::prose(500)),
    ("RecordMeetingInput.notes", LONG_NOTE),
    ("RecordMeetingInput.learning", LONG_NOTE),
    ("Mutation.raiseConcern(details)", TextRule::prose(10_000)),
    ("Mutation.resolveConcern(outcome)", TextRule::prose(10_000)),
    // Reviews.
    ("ReviewInput.comments", TextRule::prose(MAX_COMMENT_CHARS)),
    ("Mutation.submitReviewByToken(token)", TOKEN_RULE),
    ("Query.reviewInvitation(token)", TOKEN_RULE),
    // Surveys.
    ("SurveyInput.title", TextRule::line(MAX_TITLE_CHARS)),
    ("SurveyInput.description", TextRule::prose(MAX_PROMPT_CHARS)),
    ("QuestionInput.prompt", TextRule::prose(MAX_PROMPT_CHARS)),
    ("ChoiceInput.label", TextRule::line(MAX_LABEL_CHARS)),
    (
        "Mutation.duplicateSurvey(title)",
        TextRule::line(MAX_TITLE_CHARS),
    ),
    ("SurveyAudienceInput.regions", REGION),
    // Answers are held to 4,000 characters by `survey_answers`, which names
    // the question in its error (`answers.<question id>`); this is what
    // storage takes, for the page and GraphQL alike.
    ("SurveyAnswerInput.text", STORED_ANSWER),
    ("Mutation.submitSurveyResponse(token)", TOKEN_RULE),
    ("Query.surveyInvitation(token)", TOKEN_RULE),
];

/// Where a text value sits in the schema.
#[derive(Debug, Clone, Copy)]
pub enum Place<'a> {
    /// An argument of `type_name.field`.
    Argument {
        type_name: &'a str,
        field: &'a str,
        argument: &'a str,
    },
    /// A field of an input object.
    InputField { input_type: &'a str, field: &'a str },
}

impl Place<'_> {
    fn key(&self) -> String {
        match self {
            Place::Argument {
                type_name,
                field,
                argument,
            } => format!("{type_name}.{field}({argument})"),
            Place::InputField { input_type, field } => format!("{input_type}.{field}"),
        }
    }

    fn is_cursor(&self) -> bool {
        matches!(
            self,
            Place::Argument {
                argument: "after" | "before",
                ..
            }
        )
    }
}

/// The rule for a `String` at `place`, if the table has one.
pub fn listed_rule(place: Place<'_>) -> Option<TextRule> {
    if place.is_cursor() {
        return Some(TOKEN_RULE);
    }
    let key = place.key();
    RULES
        .iter()
        .find(|(listed, _)| *listed == key)
        .map(|(_, rule)| *rule)
}

/// The rule for a value of scalar type `scalar` at `place`; `None` for
/// scalars that are not text (numbers, dates, enums parse themselves).
pub fn rule_for(scalar: &str, place: Place<'_>) -> Option<TextRule> {
    match scalar {
        "ID" => Some(ID_RULE),
        "String" => Some(listed_rule(place).unwrap_or(UNLISTED_RULE)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use async_graphql::parser::{
        parse_schema,
        types::{TypeKind, TypeSystemDefinition},
    };

    use super::*;

    /// Every `String` argument and input field of the schema, as
    /// [`Place`] keys.
    fn string_inputs() -> Vec<String> {
        let sdl = crate::graphql::sdl();
        let document = parse_schema(&sdl).expect("the SDL parses");
        let is_string = |ty: &async_graphql::parser::types::Type| {
            ty.to_string()
                .trim_matches(|c| matches!(c, '[' | ']' | '!'))
                == "String"
        };
        let mut keys = Vec::new();
        for definition in document.definitions {
            let TypeSystemDefinition::Type(ty) = definition else {
                continue;
            };
            let type_name = ty.node.name.node.to_string();
            match ty.node.kind {
                TypeKind::Object(object) => {
                    for field in object.fields {
                        for argument in &field.node.arguments {
                            if is_string(&argument.node.ty.node) {
                                keys.push((
                                    Place::Argument {
                                        type_name: &type_name,
                                        field: &field.node.name.node,
                                        argument: &argument.node.name.node,
                                    }
                                    .is_cursor(),
                                    format!(
                                        "{type_name}.{}({})",
                                        field.node.name.node, argument.node.name.node
                                    ),
                                ));
                            }
                        }
                    }
                }
                TypeKind::InputObject(input) => {
                    for field in input.fields {
                        if is_string(&field.node.ty.node) {
                            keys.push((false, format!("{type_name}.{}", field.node.name.node)));
                        }
                    }
                }
                _ => {}
            }
        }
        keys.into_iter()
            .filter(|(cursor, _)| !cursor)
            .map(|(_, key)| key)
            .collect()
    }

    #[test]
    fn every_text_input_of_the_schema_has_a_rule() {
        let inputs = string_inputs();
        assert!(inputs.len() > 40, "found {}", inputs.len());
        let missing: Vec<&String> = inputs
            .iter()
            .filter(|key| !RULES.iter().any(|(listed, _)| listed == key))
            .collect();
        assert!(missing.is_empty(), "no text rule for {missing:?}");
        let stale: Vec<&str> = RULES
            .iter()
            .map(|(listed, _)| *listed)
            .filter(|listed| !inputs.iter().any(|key| key == listed))
            .collect();
        assert!(
            stale.is_empty(),
            "rules for inputs that are gone: {stale:?}"
        );
    }
}
