//! SMTP over connections Hive opens itself, with Nagle's algorithm off.
//!
//! lettre 0.11.23 (the newest release) leaves Nagle on for its sockets: the
//! five bytes that end a message (`\r\n.\r\n`) wait for the server's delayed
//! ACK of the body, 40 ms per message on Linux. Down one lettre connection the
//! mail bench's SMTP sink took 23 messages/s; with `TCP_NODELAY` the same
//! exchange is about a millisecond. lettre has merged the fix (PR #1159) but
//! not released it. Until it does, the socket and the pool of open
//! connections are ours; the SMTP conversation (greeting, STARTTLS, AUTH,
//! MAIL/RCPT/DATA) stays lettre's `AsyncSmtpConnection`.
//!
//! `smtps://` (TLS from the first byte) is left to lettre's own transport:
//! lettre offers no way to wrap a socket of ours in TLS before the greeting.

use std::{
    borrow::Cow,
    sync::Mutex,
    time::{Duration, Instant},
};

use lettre::{
    address::Envelope,
    transport::smtp::{
        SMTP_PORT, SUBMISSION_PORT,
        authentication::{Credentials, DEFAULT_MECHANISMS},
        client::{AsyncSmtpConnection, TlsParameters},
        extension::ClientId,
    },
};
use tokio::net::TcpStream;

use super::SendError;

/// Connections kept open between sends. A worker process sends at most
/// `runner::SENDS_IN_FLIGHT_*` messages at once; one more connection than
/// that is never needed.
const MAX_IDLE: usize = 64;

/// A connection unused for longer than this is checked with NOOP before it
/// is used again: servers close idle sessions (Postfix after 300 s). Under
/// load connections are never idle that long, so the check costs nothing
/// then.
const CHECK_AFTER_IDLE: Duration = Duration::from_secs(2);

/// Where and how to talk SMTP, from `SMTP_URL`.
#[derive(Clone)]
pub struct SmtpServer {
    host: String,
    port: u16,
    starttls: StartTls,
    credentials: Option<Credentials>,
    hello: ClientId,
    timeout: Duration,
}

#[derive(Clone)]
enum StartTls {
    Never,
    IfOffered(TlsParameters),
    Required(TlsParameters),
}

impl SmtpServer {
    /// Reads an `smtp://` URL the way lettre's `from_url` does (`?tls=required`
    /// or `?tls=opportunistic` for STARTTLS, user and password for AUTH, a
    /// path for the EHLO name). Returns `None` for `smtps://`, which stays
    /// with lettre's transport.
    pub fn from_url(url: &str, timeout: Duration) -> anyhow::Result<Option<Self>> {
        let url = url::Url::parse(url)?;
        if url.scheme() == "smtps" {
            return Ok(None);
        }
        anyhow::ensure!(
            url.scheme() == "smtp",
            "SMTP_URL must start with smtp:// or smtps://"
        );
        let host = url
            .host_str()
            .ok_or_else(|| anyhow::anyhow!("SMTP_URL has no host"))?
            .to_string();
        let tls = url
            .query_pairs()
            .find(|(key, _)| key == "tls")
            .map(|(_, value)| value.into_owned());
        let parameters = || TlsParameters::new(host.clone());
        let (starttls, default_port) = match tls.as_deref() {
            None => (StartTls::Never, SMTP_PORT),
            Some("required") => (StartTls::Required(parameters()?), SUBMISSION_PORT),
            Some("opportunistic") => (StartTls::IfOffered(parameters()?), SUBMISSION_PORT),
            Some(other) => {
                anyhow::bail!("SMTP_URL: tls={other} is not one of required, opportunistic")
            }
        };
        let decode = |part: &str| -> anyhow::Result<String> {
            Ok(percent_encoding::percent_decode_str(part)
                .decode_utf8()
                .map(Cow::into_owned)?)
        };
        let credentials = match url.password() {
            Some(password) => Some(Credentials::new(decode(url.username())?, decode(password)?)),
            None => None,
        };
        let hello = match url.path().trim_matches('/') {
            "" => ClientId::default(),
            name => ClientId::Domain(name.to_string()),
        };
        Ok(Some(Self {
            port: url.port().unwrap_or(default_port),
            host,
            starttls,
            credentials,
            hello,
            timeout,
        }))
    }
}

/// Open connections to one server, shared by every send of a process.
pub struct SmtpPool {
    server: SmtpServer,
    idle: Mutex<Vec<(AsyncSmtpConnection, Instant)>>,
}

impl SmtpPool {
    pub fn new(server: SmtpServer) -> Self {
        Self {
            server,
            idle: Mutex::new(Vec::new()),
        }
    }

    /// Sends one message down an open connection (or a new one) and returns
    /// the server's reply to it.
    pub async fn send(&self, envelope: &Envelope, message: &[u8]) -> Result<String, SendError> {
        let mut connection = self.checkout().await?;
        let sent = tokio::time::timeout(self.server.timeout, connection.send(envelope, message))
            .await
            .map_err(|_| SendError::Transient("the SMTP server did not answer in time".into()))?;
        match sent {
            Ok(response) => {
                self.give_back(connection);
                Ok(response.message().collect::<Vec<_>>().join(" "))
            }
            // lettre has already ended the session after a failed command.
            Err(error) => Err(classify(error)),
        }
    }

    async fn checkout(&self) -> Result<AsyncSmtpConnection, SendError> {
        loop {
            let idle = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
            let Some((mut connection, since)) = idle else {
                return self.connect().await;
            };
            if since.elapsed() < CHECK_AFTER_IDLE
                || tokio::time::timeout(self.server.timeout, connection.test_connected())
                    .await
                    .unwrap_or(false)
            {
                return Ok(connection);
            }
        }
    }

    fn give_back(&self, connection: AsyncSmtpConnection) {
        if connection.has_broken() {
            return;
        }
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < MAX_IDLE {
            idle.push((connection, Instant::now()));
        }
    }

    async fn connect(&self) -> Result<AsyncSmtpConnection, SendError> {
        let server = &self.server;
        let connect = async {
            let socket = TcpStream::connect((server.host.as_str(), server.port))
                .await
                .map_err(|error| {
                    SendError::Transient(format!(
                        "connecting to {}:{}: {error}",
                        server.host, server.port
                    ))
                })?;
            socket
                .set_nodelay(true)
                .map_err(|error| SendError::Transient(error.to_string()))?;
            let mut connection =
                AsyncSmtpConnection::connect_with_transport(Box::new(socket), &server.hello)
                    .await
                    .map_err(classify)?;
            match &server.starttls {
                StartTls::Required(parameters) => connection
                    .starttls(parameters.clone(), &server.hello)
                    .await
                    .map_err(classify)?,
                StartTls::IfOffered(parameters) if connection.can_starttls() => connection
                    .starttls(parameters.clone(), &server.hello)
                    .await
                    .map_err(classify)?,
                _ => {}
            }
            if let Some(credentials) = &server.credentials {
                connection
                    .auth(DEFAULT_MECHANISMS, credentials)
                    .await
                    .map_err(classify)?;
            }
            Ok(connection)
        };
        tokio::time::timeout(server.timeout, connect)
            .await
            .unwrap_or_else(|_| {
                Err(SendError::Transient(format!(
                    "connecting to {}:{} timed out",
                    server.host, server.port
                )))
            })
    }
}

/// A 5xx reply is final; anything else (4xx, network, TLS) may pass.
pub fn classify(error: lettre::transport::smtp::Error) -> SendError {
    if error.is_permanent() {
        SendError::Permanent(error.to_string())
    } else {
        SendError::Transient(error.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TIMEOUT: Duration = Duration::from_secs(5);

    #[test]
    fn reads_host_port_tls_and_credentials_like_lettre() {
        let server = SmtpServer::from_url("smtp://me%40x.org:p%3Ass@mail.example:2525", TIMEOUT)
            .unwrap()
            .unwrap();
        assert_eq!((server.host.as_str(), server.port), ("mail.example", 2525));
        assert!(matches!(server.starttls, StartTls::Never));
        assert_eq!(
            server.credentials,
            Some(Credentials::new("me@x.org".into(), "p:ss".into()))
        );

        let submission = SmtpServer::from_url("smtp://mail.example?tls=required", TIMEOUT)
            .unwrap()
            .unwrap();
        assert_eq!(submission.port, SUBMISSION_PORT);
        assert!(matches!(submission.starttls, StartTls::Required(_)));
    }

    #[test]
    fn leaves_smtps_to_lettre_and_refuses_what_it_cannot_read() {
        assert!(
            SmtpServer::from_url("smtps://mail.example", TIMEOUT)
                .unwrap()
                .is_none()
        );
        assert!(SmtpServer::from_url("smtp://mail.example?tls=maybe", TIMEOUT).is_err());
        assert!(SmtpServer::from_url("http://mail.example", TIMEOUT).is_err());
    }
}
