//! Turning an email row into a message on the wire: templates, the envelope and
//! the transport (SMTP, or `.eml` files for the embedded default).

pub mod calendar;
pub mod smtp;
pub mod templates;

use std::{sync::Arc, time::Duration};

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

/// How long one SMTP step (connecting, or sending one message) may take.
const SMTP_TIMEOUT: Duration = Duration::from_secs(20);

/// lettre's pool keeps 10 connections by default; a worker sends more than
/// that at once (see `jobs::send_email`), and every send beyond the pool
/// would open, greet and close a connection of its own.
const SMTPS_CONNECTIONS: u32 = 64;

/// Where messages leave Hive.
#[derive(Clone)]
enum Transport {
    /// `smtp://`: our sockets (see [`smtp`]).
    Smtp(Arc<smtp::SmtpPool>),
    /// `smtps://`: lettre's transport.
    Smtps(AsyncSmtpTransport<Tokio1Executor>),
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
            Transport::Smtps(_) => "smtps",
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
            MailTransportSetting::Smtp(url) => match smtp::SmtpServer::from_url(url, SMTP_TIMEOUT)?
            {
                Some(server) => Transport::Smtp(Arc::new(smtp::SmtpPool::new(server))),
                None => Transport::Smtps(
                    AsyncSmtpTransport::<Tokio1Executor>::from_url(url)?
                        .timeout(Some(SMTP_TIMEOUT))
                        .pool_config(PoolConfig::new().max_size(SMTPS_CONNECTIONS))
                        .build(),
                ),
            },
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
            Transport::Smtp(pool) => pool.send(message.envelope(), &message.formatted()).await,
            Transport::Smtps(smtps) => match smtps.send(message).await {
                Ok(response) => Ok(response.message().collect::<Vec<_>>().join(" ")),
                Err(error) => Err(smtp::classify(error)),
            },
            Transport::Files(files) => files
                .send(message)
                .await
                .map_err(|error| SendError::Transient(error.to_string())),
        }
    }
}
