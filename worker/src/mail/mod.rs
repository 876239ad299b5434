//! Turning an email row into a message on the wire: templates, the envelope and
//! the transport (SMTP, or `.eml` files for the embedded default).

pub mod calendar;
pub mod templates;

use std::time::Duration;

use lettre::{
    AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
    message::{
        Mailbox, MultiPart, SinglePart,
        header::{ContentType, HeaderName, HeaderValue},
    },
    transport::smtp::PoolConfig,
};

use crate::settings::{MailTransportSetting, Settings};
pub use templates::{RenderedEmail, Templates};

/// SMTP connections kept open for reuse. lettre keeps 10 by default; a worker
/// sends more than that at once (see `jobs::send_email`), and every send
/// beyond the pool would open, greet and close a connection of its own.
const SMTP_CONNECTIONS: u32 = 32;

/// Where messages leave Hive.
#[derive(Clone)]
enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Files(AsyncFileTransport<Tokio1Executor>),
}

/// Sends rendered messages; cheap to clone (the SMTP pool is shared).
#[derive(Clone)]
pub struct Mailer {
    transport: Transport,
    from: Mailbox,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.transport {
            Transport::Smtp(_) => "smtp",
            Transport::Files(_) => "files",
        };
        f.debug_struct("Mailer").field("transport", &kind).finish()
    }
}

/// Why a message did not go. The split decides between retrying later and
/// marking the address as bouncing.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The server refused the message for good (5xx): retrying cannot help.
    #[error("permanently rejected: {0}")]
    Permanent(String),
    /// The server was unreachable or said "try later" (4xx, network, timeout).
    #[error("temporary failure: {0}")]
    Transient(String),
    /// We could not build the message (a bad address, say): a bug or bad data.
    #[error("message could not be built: {0}")]
    Invalid(String),
}

/// One message to send.
#[derive(Debug, Clone)]
pub struct Outgoing<'a> {
    pub to: &'a str,
    pub rendered: &'a RenderedEmail,
    /// Stable per idempotency key, so a message sent twice after a crash can be
    /// recognised as one by the receiving side.
    pub message_id: String,
    /// Extra headers such as `List-Unsubscribe`.
    pub headers: Vec<(&'static str, String)>,
    /// A calendar invitation, sent as a third alternative part.
    pub invitation: Option<&'a calendar::Invitation>,
}

impl Mailer {
    pub fn new(settings: &Settings) -> anyhow::Result<Self> {
        let transport = match &settings.mail {
            MailTransportSetting::Smtp(url) => Transport::Smtp(
                AsyncSmtpTransport::<Tokio1Executor>::from_url(url)?
                    .timeout(Some(Duration::from_secs(20)))
                    .pool_config(PoolConfig::new().max_size(SMTP_CONNECTIONS))
                    .build(),
            ),
            MailTransportSetting::Files(dir) => {
                std::fs::create_dir_all(dir)?;
                Transport::Files(AsyncFileTransport::new(dir))
            }
        };
        Ok(Self {
            transport,
            from: settings.mail_from.clone(),
        })
    }

    /// Builds the message on the wire. Apart from [`Mailer::deliver`] so the
    /// CPU work happens before a send is handed to its own task.
    pub fn compose(&self, outgoing: Outgoing<'_>) -> Result<Message, SendError> {
        let to: Mailbox = outgoing
            .to
            .parse()
            .map_err(|error| SendError::Invalid(format!("recipient {}: {error}", outgoing.to)))?;
        let mut builder = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(outgoing.rendered.subject.clone())
            .message_id(Some(outgoing.message_id.clone()));
        for (name, value) in outgoing.headers {
            builder = builder.raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str(name),
                value,
            ));
        }
        let mut body = MultiPart::alternative_plain_html(
            outgoing.rendered.text.clone(),
            outgoing.rendered.html.clone(),
        );
        if let Some(invitation) = outgoing.invitation {
            // Mail clients offer "add to calendar" for a text/calendar part
            // with its method in the MIME type.
            let content_type = ContentType::parse(&format!(
                "text/calendar; method={}; charset=UTF-8",
                invitation.method()
            ))
            .map_err(|error| SendError::Invalid(error.to_string()))?;
            body = body.singlepart(
                SinglePart::builder()
                    .header(content_type)
                    .body(invitation.to_ics(self.from.email.as_ref())),
            );
        }
        builder
            .multipart(body)
            .map_err(|error| SendError::Invalid(error.to_string()))
    }

    /// Sends one message and returns the transport's id for it.
    pub async fn deliver(&self, message: Message) -> Result<String, SendError> {
        match &self.transport {
            Transport::Smtp(smtp) => match smtp.send(message).await {
                Ok(response) => Ok(response.message().collect::<Vec<_>>().join(" ")),
                Err(error) if error.is_permanent() => Err(SendError::Permanent(error.to_string())),
                Err(error) => Err(SendError::Transient(error.to_string())),
            },
            Transport::Files(files) => files
                .send(message)
                .await
                .map_err(|error| SendError::Transient(error.to_string())),
        }
    }
}
