//! Email templates: one folder per message under `worker/templates/`, each with
//! `subject.txt.j2`, `body.txt.j2` and `body.html.j2`, rendered with minijinja.
//! They are compiled into the binary so that a process started from any folder
//! finds them.

use minijinja::Environment;
use serde::Serialize;

/// Defines [`MESSAGES`] and the template files compiled in, from one list.
macro_rules! messages {
    ($($name:literal),* $(,)?) => {
        /// The messages Hive knows how to write; an email row names one of these.
        pub const MESSAGES: &[&str] = &[$($name),*];

        const FILES: &[(&str, &str)] = &[$(
            (concat!($name, "/subject.txt.j2"), include_str!(concat!("../../templates/", $name, "/subject.txt.j2"))),
            (concat!($name, "/body.txt.j2"), include_str!(concat!("../../templates/", $name, "/body.txt.j2"))),
            (concat!($name, "/body.html.j2"), include_str!(concat!("../../templates/", $name, "/body.html.j2"))),
        )*];
    };
}

messages![
    "sign_in",
    "welcome",
    "match_proposed",
    "match_accepted",
    "match_declined",
    "match_chaser",
    "match_expired",
    "match_withdrawn",
    "engagement_ended",
    "concern_raised",
    "final_meeting_scheduled",
    "inactivity_nudge",
    "inactivity_alert",
    "meeting_scheduled",
    "meeting_moved",
    "meeting_cancelled",
    "meeting_reminder",
    "staff_digest",
    "review_request",
    "review_reminder",
    "survey_invitation",
    "survey_reminder",
];
const LAYOUT: (&str, &str) = (
    "_layout.html.j2",
    include_str!("../../templates/_layout.html.j2"),
);

/// A message ready to be put in an envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedEmail {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// The template set, parsed once at start-up.
#[derive(Debug)]
pub struct Templates {
    env: Environment<'static>,
}

/// A template that is missing or fails to render: a bug of ours, never the
/// recipient's, so the message is kept and marked failed for staff to see.
#[derive(Debug, thiserror::Error)]
#[error("template {template}: {source}")]
pub struct TemplateError {
    template: String,
    #[source]
    source: minijinja::Error,
}

impl Templates {
    pub fn load() -> Result<Self, TemplateError> {
        let mut env = Environment::new();
        // HTML parts escape every value; plain-text parts do not need to.
        env.set_auto_escape_callback(|name| {
            if name.ends_with(".html.j2") {
                minijinja::AutoEscape::Html
            } else {
                minijinja::AutoEscape::None
            }
        });
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
        for (name, source) in FILES.iter().chain(std::iter::once(&LAYOUT)) {
            env.add_template(name, source)
                .map_err(|source| TemplateError {
                    template: name.to_string(),
                    source,
                })?;
        }
        Ok(Self { env })
    }

    /// The subject line alone, as [`Templates::render`] makes it: for
    /// listing a message sent (a subject access export) without its body,
    /// which may hold a secret link.
    pub fn render_subject(
        &self,
        message: &str,
        context: &impl Serialize,
    ) -> Result<String, TemplateError> {
        let name = format!("{message}/subject.txt.j2");
        self.env
            .get_template(&name)
            .and_then(|template| template.render(context))
            .map(|subject| subject.trim().to_string())
            .map_err(|source| TemplateError {
                template: name,
                source,
            })
    }

    pub fn render(
        &self,
        message: &str,
        context: &impl Serialize,
    ) -> Result<RenderedEmail, TemplateError> {
        let part = |file: &str| {
            let name = format!("{message}/{file}");
            self.env
                .get_template(&name)
                .and_then(|template| template.render(context))
                .map_err(|source| TemplateError {
                    template: name.clone(),
                    source,
                })
        };
        Ok(RenderedEmail {
            subject: part("subject.txt.j2")?.trim().to_string(),
            text: part("body.txt.j2")?,
            html: part("body.html.j2")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_message_renders_and_escapes_html() {
        let templates = Templates::load().unwrap();
        let rendered = templates
            .render(
                "sign_in",
                &serde_json::json!({
                    "name": "Ada <script>",
                    "link": "http://hive.test/sign-in?token=abc",
                    "expires_minutes": 15,
                }),
            )
            .unwrap();
        assert_eq!(rendered.subject, "Your Hive sign-in link");
        assert!(rendered.text.contains("Hello Ada <script>,"));
        assert!(rendered.html.contains("Ada &lt;script&gt;"));
        // minijinja escapes `/` in HTML too; browsers read the entity back.
        assert!(rendered.html.contains("sign-in?token=abc"));
    }

    #[test]
    fn review_emails_address_each_party() {
        let templates = Templates::load().unwrap();
        let context = |party: &str| {
            serde_json::json!({
                "name": "Ada",
                "party": party,
                "provider": "Tom Walsh",
                "organisation": "Pennine Makers",
                "kind": "MENTORING",
                "link": "http://hive.test/r/abc",
                "requested_on": "1 March 2027",
            })
        };
        let provider = templates
            .render("review_request", &context("PROVIDER"))
            .unwrap();
        assert_eq!(provider.subject, "Hive: how did it go with Pennine Makers?");
        assert!(
            provider
                .text
                .contains("Your mentoring with Pennine Makers is complete.")
        );
        assert!(provider.text.contains("http://hive.test/r/abc"));
        let client = templates
            .render("review_request", &context("CLIENT"))
            .unwrap();
        assert_eq!(client.subject, "Hive: how did it go with Tom Walsh?");
        assert!(
            client
                .text
                .contains("The mentoring Pennine Makers had from Tom Walsh is complete.")
        );
        let reminder = templates
            .render("review_reminder", &context("CLIENT"))
            .unwrap();
        assert_eq!(reminder.subject, "Reminder: how did it go with Tom Walsh?");
        assert!(reminder.text.contains("On 1 March 2027"));
        assert!(reminder.html.contains("Give your review"));
    }

    #[test]
    fn a_missing_value_is_an_error_not_a_blank() {
        let templates = Templates::load().unwrap();
        assert!(templates.render("sign_in", &serde_json::json!({})).is_err());
    }
}
