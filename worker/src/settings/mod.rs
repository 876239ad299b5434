//! Start-up configuration, read once from the environment (and `.env`) so that a
//! fresh clone runs with no file to write and a bad value stops the process with
//! one line that names the variable.

mod limits;
mod retention;

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use lettre::message::Mailbox;
use url::Url;

pub use limits::Limits;
pub use retention::Retention;

/// Every environment variable Hive reads, with its default. The README's
/// configuration table and `docker-compose.yml` are checked against this list
/// by a test, so adding a variable here is the one place to start.
pub const VARIABLES: &[(&str, &str)] = &[
    ("DATABASE_URL", "sqlite://hive.db"),
    ("HIVE_ADDR", "127.0.0.1:8080"),
    ("HIVE_WORKER_ADDR", "127.0.0.1:8081"),
    ("HIVE_PUBLIC_URL", "http://127.0.0.1:8080"),
    ("HIVE_CORS_ORIGINS", ""),
    ("HIVE_APP_URL", ""),
    ("SMTP_URL", ""),
    ("HIVE_MAIL_DIR", "./mail"),
    ("HIVE_MAIL_FROM", "Hive <hive@localhost>"),
    ("HIVE_SESSION_DAYS", "30"),
    ("HIVE_QUEUE_POLL_MS", "500"),
    ("HIVE_EMAIL_MAX_ATTEMPTS", "8"),
    ("HIVE_MEETING_REMINDER_HOURS", "24"),
    ("HIVE_DIGEST_TIME", "07:00"),
    ("RUST_LOG", "info"),
    // Limits (settings/limits.rs).
    ("HIVE_MAX_BODY_BYTES", "262144"),
    ("HIVE_MAX_RESPONSE_BYTES", "4194304"),
    ("HIVE_MAX_QUERY_DEPTH", "15"),
    ("HIVE_MAX_QUERY_FIELDS", "2000"),
    ("HIVE_MAX_QUERY_COST", "50000"),
    ("HIVE_MAX_ROOT_FIELDS", "30"),
    ("HIVE_MAX_ALIASES", "100"),
    ("HIVE_HEADER_TIMEOUT_SECS", "10"),
    ("HIVE_BODY_TIMEOUT_SECS", "15"),
    ("HIVE_REQUEST_TIMEOUT_SECS", "30"),
    ("HIVE_SEND_TIMEOUT_SECS", "15"),
    ("HIVE_MAX_CONNECTIONS", "512"),
    ("HIVE_MAX_CONNECTIONS_PER_CLIENT", "64"),
    ("HIVE_SHUTDOWN_GRACE_SECS", "10"),
    ("HIVE_SIGN_IN_LINKS_PER_QUARTER_HOUR", "3"),
    ("HIVE_ANONYMOUS_REQUESTS_PER_MINUTE", "600"),
    ("HIVE_ANONYMOUS_WRITES_PER_MINUTE", "30"),
    ("HIVE_PERSISTED_QUERY_CACHE_BYTES", "4194304"),
    ("HIVE_TRUST_FORWARDED_FOR", "false"),
    ("HIVE_SESSION_CACHE_SECS", "5"),
    ("HIVE_DATABASE_CONNECTIONS", "20"),
    // Retention (settings/retention.rs).
    ("HIVE_RETENTION_NOTES_MONTHS", "24"),
    ("HIVE_RETENTION_CONCERNS_MONTHS", "72"),
    ("HIVE_RETENTION_EMAIL_DAYS", "90"),
];

/// The raw strings as they come from the environment, before validation.
#[derive(Debug)]
struct RawSettings {
    database_url: String,
    hive_addr: String,
    hive_worker_addr: String,
    hive_public_url: Option<String>,
    hive_cors_origins: Option<String>,
    hive_app_url: Option<String>,
    smtp_url: Option<String>,
    hive_mail_dir: String,
    hive_mail_from: String,
    hive_session_days: String,
    hive_queue_poll_ms: String,
    hive_email_max_attempts: String,
    hive_meeting_reminder_hours: String,
    hive_digest_time: String,
}

impl Default for RawSettings {
    fn default() -> Self {
        let default = |name: &str| {
            VARIABLES
                .iter()
                .find(|(variable, _)| *variable == name)
                .map(|(_, value)| value.to_string())
                .unwrap_or_default()
        };
        Self {
            database_url: default("DATABASE_URL"),
            hive_addr: default("HIVE_ADDR"),
            hive_worker_addr: default("HIVE_WORKER_ADDR"),
            hive_public_url: None,
            hive_cors_origins: None,
            hive_app_url: None,
            smtp_url: None,
            hive_mail_dir: default("HIVE_MAIL_DIR"),
            hive_mail_from: default("HIVE_MAIL_FROM"),
            hive_session_days: default("HIVE_SESSION_DAYS"),
            hive_queue_poll_ms: default("HIVE_QUEUE_POLL_MS"),
            hive_email_max_attempts: default("HIVE_EMAIL_MAX_ATTEMPTS"),
            hive_meeting_reminder_hours: default("HIVE_MEETING_REMINDER_HOURS"),
            hive_digest_time: default("HIVE_DIGEST_TIME"),
        }
    }
}

/// Where outgoing mail goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailTransportSetting {
    /// An SMTP server, as an `smtp://` or `smtps://` URL that lettre understands.
    Smtp(String),
    /// `.eml` files in a folder: the embedded default, so nothing is needed to try Hive.
    Files(PathBuf),
}

/// Validated configuration shared by `hive-api` and `hive-worker`.
#[derive(Debug, Clone)]
pub struct Settings {
    pub database_url: String,
    pub addr: SocketAddr,
    /// Where `hive-worker` serves `/healthz`, `/readyz` and `/metrics`
    /// (`HIVE_WORKER_ADDR`; port 0: any free port, logged at start). Not
    /// used by `hive-api`, whose own address serves them.
    pub worker_addr: SocketAddr,
    /// Base of every link in an email; no trailing slash.
    pub public_url: String,
    /// The web origins (`scheme://host[:port]`) whose pages may call
    /// `/graphql` from a browser (CORS, see `api::http::cors`), from
    /// `HIVE_CORS_ORIGINS`, a comma list; empty: the origin of `public_url`
    /// alone (see [`Settings::allowed_origins`]).
    pub cors_origins: Vec<String>,
    /// The single-page app's route for one object, from `HIVE_APP_URL`: a
    /// URL template where `{type}` stands for the GraphQL type name and
    /// `{id}` for the global id (e.g. `https://app.example/{type}/{id}`).
    /// Staff emails link there when it is set, and to GraphiQL on Hive with
    /// a query for the object when not (see `crate::links`).
    pub app_url: Option<String>,
    pub mail: MailTransportSetting,
    pub mail_from: Mailbox,
    pub session_lifetime: chrono::Duration,
    /// How often the outbox relay looks for mail that is due.
    pub queue_poll: Duration,
    /// After this many failed attempts a message is dead (kept, listed, retryable by staff).
    pub email_max_attempts: i32,
    /// How long before a meeting its parties get a reminder.
    pub meeting_reminder_lead: chrono::Duration,
    /// When staff digests fall due, as a time of day in Europe/London: daily
    /// ones every day, weekly ones on Mondays.
    pub digest_time: chrono::NaiveTime,
    /// The time as the staff digest reads it. Not an environment variable:
    /// tests move it instead of waiting for a Monday morning.
    pub clock: crate::clock::Clock,
    /// How long a queued or claimed email is left to the process that took it
    /// before another may take it over (after a crash): far longer than the
    /// SMTP timeout, so a slow send is not doubled. Not an environment
    /// variable: tests shorten it to see a killed worker's mail recovered.
    pub email_lease: chrono::Duration,
    /// First retry delay of a failed delivery (it doubles each time). Not an
    /// environment variable: tests shorten it.
    pub email_retry_base: Duration,
    /// Due work untouched this long means the queue worker is stalled and is
    /// restarted. Not an environment variable: tests shorten it.
    pub queue_stall_after: Duration,
    /// How often the periodic jobs (proposal chasers and expiry, inactivity
    /// nudges, staff digests) look for work. Not an environment variable: tests shorten it.
    pub periodic_interval: Duration,
    /// How long matching reuses its loaded candidate pool (changes through
    /// this process drop it at once). Not an environment variable: tests set
    /// it to zero so every ranking loads afresh.
    pub candidate_pool_ttl: Duration,
    /// How long a GraphQL DataLoader gathers keys before it queries. A page's
    /// items ask for their keys over a spread of time; a window shorter than
    /// that spread fetches a level in several batches. 2 ms suits a release
    /// build; tests, in a debug build on a busy machine, use more.
    pub loader_batch_window: Duration,
    /// What one request, connection, client or address may take.
    pub limits: Limits,
    /// How long notes, concern details and email bodies are kept.
    pub retention: Retention,
    /// How often each worker process applies [`Retention`] (an hour, the
    /// first time at start); `None`: this process never does. Not an
    /// environment variable: a test that watches other processes clear
    /// turns it off in its own.
    pub retention_interval: Option<Duration>,
}

/// A configuration value that cannot be used; the message names the variable.
#[derive(Debug, thiserror::Error)]
#[error("{variable}: {problem}")]
pub struct SettingsError {
    pub variable: String,
    pub problem: String,
}

fn invalid(variable: &str, problem: impl std::fmt::Display) -> SettingsError {
    SettingsError {
        variable: variable.to_string(),
        problem: problem.to_string(),
    }
}

impl Settings {
    /// Reads `.env` (if present) and the environment.
    pub fn from_env() -> Result<Self, SettingsError> {
        // A missing .env is normal; a malformed one is worth stopping for.
        match dotenvy::dotenv() {
            Ok(_) => {}
            Err(error) if error.not_found() => {}
            Err(error) => return Err(invalid(".env", error)),
        }
        // Plain strings in, typed values out: every variable is parsed below with
        // a message of our own, which a layered-config crate would only obscure.
        let read = |name: &str| -> Result<Option<String>, SettingsError> {
            match std::env::var(name) {
                Ok(value) => Ok(Some(value)),
                Err(std::env::VarError::NotPresent) => Ok(None),
                Err(std::env::VarError::NotUnicode(_)) => Err(invalid(name, "is not valid UTF-8")),
            }
        };
        let defaults = RawSettings::default();
        let raw = RawSettings {
            database_url: read("DATABASE_URL")?.unwrap_or(defaults.database_url),
            hive_addr: read("HIVE_ADDR")?.unwrap_or(defaults.hive_addr),
            hive_worker_addr: read("HIVE_WORKER_ADDR")?.unwrap_or(defaults.hive_worker_addr),
            hive_public_url: read("HIVE_PUBLIC_URL")?,
            hive_cors_origins: read("HIVE_CORS_ORIGINS")?,
            hive_app_url: read("HIVE_APP_URL")?,
            smtp_url: read("SMTP_URL")?,
            hive_mail_dir: read("HIVE_MAIL_DIR")?.unwrap_or(defaults.hive_mail_dir),
            hive_mail_from: read("HIVE_MAIL_FROM")?.unwrap_or(defaults.hive_mail_from),
            hive_session_days: read("HIVE_SESSION_DAYS")?.unwrap_or(defaults.hive_session_days),
            hive_queue_poll_ms: read("HIVE_QUEUE_POLL_MS")?.unwrap_or(defaults.hive_queue_poll_ms),
            hive_email_max_attempts: read("HIVE_EMAIL_MAX_ATTEMPTS")?
                .unwrap_or(defaults.hive_email_max_attempts),
            hive_meeting_reminder_hours: read("HIVE_MEETING_REMINDER_HOURS")?
                .unwrap_or(defaults.hive_meeting_reminder_hours),
            hive_digest_time: read("HIVE_DIGEST_TIME")?.unwrap_or(defaults.hive_digest_time),
        };
        let mut settings = Self::from_raw(raw)?;
        // A value that is not UTF-8 keeps its replacement characters, so it
        // fails to parse with its variable named rather than being ignored.
        settings.limits =
            Limits::read(|name| std::env::var_os(name).map(|v| v.to_string_lossy().into_owned()))?;
        settings.retention = Retention::read(|name| {
            std::env::var_os(name).map(|v| v.to_string_lossy().into_owned())
        })?;
        Ok(settings)
    }

    fn from_raw(raw: RawSettings) -> Result<Self, SettingsError> {
        let addr: SocketAddr = raw.hive_addr.parse().map_err(|_| {
            invalid(
                "HIVE_ADDR",
                format!("'{}' is not an address like 127.0.0.1:8080", raw.hive_addr),
            )
        })?;
        let worker_addr: SocketAddr = raw.hive_worker_addr.parse().map_err(|_| {
            invalid(
                "HIVE_WORKER_ADDR",
                format!(
                    "'{}' is not an address like 127.0.0.1:8081",
                    raw.hive_worker_addr
                ),
            )
        })?;
        let database_url = raw.database_url.trim().to_string();
        if !(database_url.starts_with("sqlite:")
            || database_url.starts_with("postgres://")
            || database_url.starts_with("postgresql://"))
        {
            return Err(invalid(
                "DATABASE_URL",
                format!("'{database_url}' is neither sqlite://FILE nor postgres://…"),
            ));
        }
        let public_url = match raw.hive_public_url.filter(|url| !url.trim().is_empty()) {
            Some(url) => {
                let parsed = Url::parse(url.trim())
                    .map_err(|error| invalid("HIVE_PUBLIC_URL", format!("'{url}': {error}")))?;
                if !matches!(parsed.scheme(), "http" | "https") {
                    return Err(invalid(
                        "HIVE_PUBLIC_URL",
                        "must start with http:// or https://",
                    ));
                }
                parsed.as_str().trim_end_matches('/').to_string()
            }
            None => format!("http://{addr}"),
        };
        let cors_origins = match raw.hive_cors_origins.filter(|list| !list.trim().is_empty()) {
            Some(list) => list
                .split(',')
                .map(str::trim)
                .filter(|origin| !origin.is_empty())
                .map(web_origin)
                .collect::<Result<Vec<_>, _>>()?,
            None => Vec::new(),
        };
        let app_url = raw
            .hive_app_url
            .filter(|template| !template.trim().is_empty())
            .map(|template| app_url_template(template.trim()))
            .transpose()?;
        let mail = match raw.smtp_url.filter(|url| !url.trim().is_empty()) {
            Some(url) => {
                lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::from_url(url.trim())
                    .map_err(|error| invalid("SMTP_URL", format!("'{url}': {error}")))?;
                MailTransportSetting::Smtp(url.trim().to_string())
            }
            None => MailTransportSetting::Files(PathBuf::from(raw.hive_mail_dir)),
        };
        let mail_from: Mailbox = raw.hive_mail_from.parse().map_err(|error| {
            invalid(
                "HIVE_MAIL_FROM",
                format!("'{}': {error}", raw.hive_mail_from),
            )
        })?;
        let session_days: i64 = positive("HIVE_SESSION_DAYS", &raw.hive_session_days)?;
        let poll_ms: u64 = positive("HIVE_QUEUE_POLL_MS", &raw.hive_queue_poll_ms)?;
        let max_attempts: i32 = positive("HIVE_EMAIL_MAX_ATTEMPTS", &raw.hive_email_max_attempts)?;
        let reminder_hours: i64 = positive(
            "HIVE_MEETING_REMINDER_HOURS",
            &raw.hive_meeting_reminder_hours,
        )?;
        let digest_time = time_of_day("HIVE_DIGEST_TIME", &raw.hive_digest_time)?;
        Ok(Self {
            database_url,
            addr,
            worker_addr,
            public_url,
            cors_origins,
            app_url,
            mail,
            mail_from,
            session_lifetime: chrono::Duration::days(session_days),
            queue_poll: Duration::from_millis(poll_ms),
            email_max_attempts: max_attempts,
            meeting_reminder_lead: chrono::Duration::hours(reminder_hours),
            digest_time,
            clock: crate::clock::Clock::default(),
            email_lease: chrono::Duration::minutes(2),
            email_retry_base: Duration::from_secs(30),
            queue_stall_after: Duration::from_secs(20),
            periodic_interval: Duration::from_secs(60),
            candidate_pool_ttl: Duration::from_secs(10),
            loader_batch_window: Duration::from_millis(2),
            limits: Limits::default(),
            retention: Retention::default(),
            retention_interval: Some(Duration::from_secs(3600)),
        })
    }

    /// Settings for a process that talks to `database_url` and otherwise uses the
    /// defaults; tests and commands adjust the fields they care about.
    pub fn with_database(database_url: impl Into<String>) -> Self {
        let mut settings =
            Self::from_raw(RawSettings::default()).expect("the built-in defaults are valid");
        settings.database_url = database_url.into();
        settings
    }

    /// The origins allowed to call `/graphql` from a browser: `cors_origins`,
    /// or the origin of `public_url` when none are given.
    pub fn allowed_origins(&self) -> Vec<String> {
        if self.cors_origins.is_empty() {
            web_origin(&self.public_url).into_iter().collect()
        } else {
            self.cors_origins.clone()
        }
    }

    /// True when the data (and the queue) live in SQLite.
    pub fn is_sqlite(&self) -> bool {
        self.database_url.starts_with("sqlite:")
    }
}

/// A web origin as browsers send it in `Origin` (RFC 6454): `http` or
/// `https`, a host and any port, nothing after it but an optional `/`.
fn web_origin(value: &str) -> Result<String, SettingsError> {
    let variable = "HIVE_CORS_ORIGINS";
    let parsed =
        Url::parse(value).map_err(|error| invalid(variable, format!("'{value}': {error}")))?;
    if !matches!(parsed.scheme(), "http" | "https")
        || parsed.host().is_none()
        || parsed.path() != "/"
        || parsed.query().is_some()
        || parsed.fragment().is_some()
        || !parsed.username().is_empty()
    {
        return Err(invalid(
            variable,
            format!("'{value}' is not an origin like https://app.example.org"),
        ));
    }
    Ok(parsed.origin().ascii_serialization())
}

/// Checks an `HIVE_APP_URL` template: it must name `{id}` (else every link
/// would be the same) and, with sample values in its placeholders, be an
/// `http` or `https` URL (RFC 3986). `{type}` is optional.
fn app_url_template(template: &str) -> Result<String, SettingsError> {
    let variable = "HIVE_APP_URL";
    if !template.contains("{id}") {
        return Err(invalid(
            variable,
            format!(
                "'{template}' has no {{id}}: use a template like https://app.example/{{type}}/{{id}}"
            ),
        ));
    }
    let sample = template
        .replace("{type}", "Engagement")
        .replace("{id}", "RW5nYWdlbWVudDo3");
    match Url::parse(&sample) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => {
            Ok(template.to_string())
        }
        _ => Err(invalid(
            variable,
            format!(
                "'{template}' is not an http(s) URL template like https://app.example/{{type}}/{{id}}"
            ),
        )),
    }
}

fn positive<T>(variable: &str, value: &str) -> Result<T, SettingsError>
where
    T: std::str::FromStr + PartialOrd + Default,
{
    match value.trim().parse::<T>() {
        Ok(number) if number > T::default() => Ok(number),
        _ => Err(invalid(
            variable,
            format!("'{value}' is not a positive whole number"),
        )),
    }
}

/// A 24-hour `HH:MM`, as people write a time of day.
fn time_of_day(variable: &str, value: &str) -> Result<chrono::NaiveTime, SettingsError> {
    let value = value.trim();
    // `%H:%M` alone would take "7:00" and "07:00:30" differently from what the
    // person meant; two digits, a colon, two digits, or an error.
    let shaped = value.len() == 5 && value.as_bytes()[2] == b':';
    match chrono::NaiveTime::parse_from_str(value, "%H:%M") {
        Ok(time) if shaped => Ok(time),
        _ => Err(invalid(
            variable,
            format!("'{value}' is not a time of day like 07:00 (24-hour, Europe/London)"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_work_on_a_fresh_machine() {
        let settings = Settings::from_raw(RawSettings::default()).unwrap();
        assert!(settings.is_sqlite());
        assert_eq!(settings.addr.to_string(), "127.0.0.1:8080");
        assert_eq!(settings.public_url, "http://127.0.0.1:8080");
        assert_eq!(
            settings.mail,
            MailTransportSetting::Files(PathBuf::from("./mail"))
        );
    }

    #[test]
    fn a_bad_value_names_its_variable() {
        let raw = RawSettings {
            hive_addr: "nowhere".into(),
            ..RawSettings::default()
        };
        let error = Settings::from_raw(raw).unwrap_err();
        assert!(error.to_string().starts_with("HIVE_ADDR: "), "{error}");

        let raw = RawSettings {
            smtp_url: Some("ftp://mail".into()),
            ..RawSettings::default()
        };
        let error = Settings::from_raw(raw).unwrap_err();
        assert!(error.to_string().starts_with("SMTP_URL: "), "{error}");

        let raw = RawSettings {
            hive_session_days: "-3".into(),
            ..RawSettings::default()
        };
        let error = Settings::from_raw(raw).unwrap_err();
        assert!(
            error.to_string().starts_with("HIVE_SESSION_DAYS: "),
            "{error}"
        );
    }

    #[test]
    fn the_digest_time_is_a_london_time_of_day() {
        let settings = Settings::from_raw(RawSettings::default()).unwrap();
        assert_eq!(settings.digest_time.to_string(), "07:00:00");
        let raw = RawSettings {
            hive_digest_time: " 18:30 ".into(),
            ..RawSettings::default()
        };
        assert_eq!(
            Settings::from_raw(raw).unwrap().digest_time.to_string(),
            "18:30:00"
        );
        for bad in ["7am", "7:00", "24:00", "07:60", "07:00:30", ""] {
            let raw = RawSettings {
                hive_digest_time: bad.into(),
                ..RawSettings::default()
            };
            let error = Settings::from_raw(raw).unwrap_err().to_string();
            assert!(error.starts_with("HIVE_DIGEST_TIME: "), "{bad}: {error}");
            assert!(!error.contains('\n'), "one line: {error}");
        }
    }

    #[test]
    fn the_app_url_is_a_template_with_an_id() {
        assert_eq!(
            Settings::from_raw(RawSettings::default()).unwrap().app_url,
            None
        );
        let raw = RawSettings {
            hive_app_url: Some(" https://app.example/{type}/{id} ".into()),
            ..RawSettings::default()
        };
        assert_eq!(
            Settings::from_raw(raw).unwrap().app_url.as_deref(),
            Some("https://app.example/{type}/{id}")
        );
        for bad in [
            "https://app.example/{type}",
            "app.example/{id}",
            "ftp://app.example/{id}",
        ] {
            let raw = RawSettings {
                hive_app_url: Some(bad.into()),
                ..RawSettings::default()
            };
            let error = Settings::from_raw(raw).unwrap_err().to_string();
            assert!(error.starts_with("HIVE_APP_URL: "), "{bad}: {error}");
        }
    }

    #[test]
    fn cors_origins_default_to_the_public_url_and_must_be_origins() {
        let raw = RawSettings {
            hive_public_url: Some("https://hive.example.org/".into()),
            ..RawSettings::default()
        };
        assert_eq!(
            Settings::from_raw(raw).unwrap().allowed_origins(),
            ["https://hive.example.org"]
        );
        let raw = RawSettings {
            hive_cors_origins: Some(" https://app.example.org, http://localhost:5173/ ,".into()),
            ..RawSettings::default()
        };
        assert_eq!(
            Settings::from_raw(raw).unwrap().allowed_origins(),
            ["https://app.example.org", "http://localhost:5173"]
        );
        for bad in [
            "app.example.org",
            "https://app.example.org/spa",
            "ftp://x.org",
            "*",
        ] {
            let raw = RawSettings {
                hive_cors_origins: Some(bad.into()),
                ..RawSettings::default()
            };
            let error = Settings::from_raw(raw).unwrap_err().to_string();
            assert!(error.starts_with("HIVE_CORS_ORIGINS: "), "{bad}: {error}");
        }
    }
}
