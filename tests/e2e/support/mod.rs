//! The test harness: a real Hive (server and worker) on a random port, a
//! database of its own per test (a fresh SQLite file, or a fresh PostgreSQL
//! database when `TEST_DATABASE_URL` is set), and a real SMTP server.

pub mod census;
pub mod census_rows;
pub mod programme;
pub mod smtp;

use std::{sync::Arc, time::Duration};

use entity::{
    emails::{self, EmailCategory},
    users::Role,
};
use hive_api::server::{self, RunningHive};
use hive_worker::{
    Settings,
    outbox::{self, NewEmail},
    settings::MailTransportSetting,
};
use sea_orm::{
    ColumnTrait, ConnectionTrait, Database, DatabaseConnection, EntityTrait, QueryFilter,
    TransactionTrait, sea_query::Expr,
};
use serde_json::{Value, json};
use tokio::net::TcpListener;

pub use smtp::MailSink;

/// The variable that points the suite at PostgreSQL (a server URL; each test
/// creates its own database there).
pub const POSTGRES_VARIABLE: &str = "TEST_DATABASE_URL";

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs a test body on SQLite and on PostgreSQL, as two tests.
#[macro_export]
macro_rules! on_both_databases {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let app = $crate::support::TestApp::start($crate::support::Backend::Sqlite)
                    .await
                    .expect("SQLite is always available");
                ($body)(app).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let Some(app) =
                    $crate::support::TestApp::start($crate::support::Backend::Postgres).await
                else {
                    return;
                };
                ($body)(app).await;
            }
        }
    };
}

/// As [`on_both_databases!`], with settings changed from the tests' defaults
/// by `$tune` (an `fn(&mut Settings)`), for tests of a limit made small.
#[macro_export]
macro_rules! on_both_databases_tuned {
    ($name:ident, $tune:expr, $body:expr) => {
        mod $name {
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let app =
                    $crate::support::TestApp::start_tuned($crate::support::Backend::Sqlite, $tune)
                        .await
                        .expect("SQLite is always available");
                ($body)(app).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let Some(app) = $crate::support::TestApp::start_tuned(
                    $crate::support::Backend::Postgres,
                    $tune,
                )
                .await
                else {
                    return;
                };
                ($body)(app).await;
            }
        }
    };
}

/// The PostgreSQL server URL, or `None` with a loud notice. Under `CI=true` a
/// missing or unreachable PostgreSQL fails the test instead of skipping it.
pub async fn postgres_server_url() -> Option<String> {
    let in_ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
    match std::env::var(POSTGRES_VARIABLE) {
        Ok(url) if !url.trim().is_empty() => {
            if let Err(error) = Database::connect(url.clone()).await {
                panic!("{POSTGRES_VARIABLE}={url} is set but PostgreSQL is unreachable: {error}");
            }
            Some(url)
        }
        _ if in_ci => {
            panic!("CI=true but {POSTGRES_VARIABLE} is not set: PostgreSQL tests must run in CI")
        }
        _ => {
            eprintln!(
                "\n*** SKIPPED on PostgreSQL: set {POSTGRES_VARIABLE}=postgres://postgres@127.0.0.1:5432/postgres to run it ***\n"
            );
            None
        }
    }
}

/// A fresh, empty PostgreSQL database; returns its URL.
pub async fn fresh_postgres_database(server_url: &str) -> String {
    let admin = Database::connect(server_url.to_string())
        .await
        .expect("connect to PostgreSQL");
    let name = format!("hive_test_{:016x}", rand::random::<u64>());
    admin
        .execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await
        .expect("create test database");
    admin.close().await.ok();
    with_database_name(server_url, &name)
}

/// Drops a test database made by [`fresh_postgres_database`].
pub async fn drop_postgres_database(server_url: &str, database_url: &str) {
    let Some(name) = database_url
        .rsplit('/')
        .next()
        .map(|n| n.split('?').next().unwrap_or(n))
    else {
        return;
    };
    if let Ok(admin) = Database::connect(server_url.to_string()).await {
        let _ = admin
            .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .await;
        let _ = admin.close().await;
    }
}

fn with_database_name(server_url: &str, name: &str) -> String {
    let (base, query) = match server_url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (server_url, None),
    };
    let authority_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let base = match base[authority_end..].find('/') {
        Some(slash) => &base[..authority_end + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{base}/{name}?{query}"),
        None => format!("{base}/{name}"),
    }
}

/// One running Hive for one test.
pub struct TestApp {
    /// SQL statements run through the app's connection so far.
    pub statements: Arc<std::sync::atomic::AtomicU64>,
    /// The start of each statement's SQL, for explaining a count.
    pub statement_log: Arc<std::sync::Mutex<Vec<String>>>,
    pub base_url: String,
    pub db: DatabaseConnection,
    pub smtp: MailSink,
    pub settings: Arc<Settings>,
    pub http: reqwest::Client,
    running: Option<RunningHive>,
    postgres: Option<(String, String)>,
    _dir: tempfile::TempDir,
}

impl TestApp {
    /// Starts Hive with its worker; `None` only for PostgreSQL when the suite
    /// is not pointed at one (and not in CI).
    pub async fn start(backend: Backend) -> Option<Self> {
        Self::start_with(backend, true, |_| {}).await
    }

    /// As [`TestApp::start`], with some settings changed from the tests'
    /// defaults.
    pub async fn start_tuned(backend: Backend, tune: impl FnOnce(&mut Settings)) -> Option<Self> {
        Self::start_with(backend, true, tune).await
    }

    /// As [`TestApp::start`], with no worker in the process: nothing is sent
    /// until a test calls [`TestApp::spawn_worker`].
    pub async fn start_without_worker(backend: Backend) -> Option<Self> {
        Self::start_with(backend, false, |_| {}).await
    }

    /// As [`TestApp::start_without_worker`], with some settings changed.
    pub async fn start_without_worker_tuned(
        backend: Backend,
        tune: impl FnOnce(&mut Settings),
    ) -> Option<Self> {
        Self::start_with(backend, false, tune).await
    }

    async fn start_with(
        backend: Backend,
        with_worker: bool,
        tune: impl FnOnce(&mut Settings),
    ) -> Option<Self> {
        // Logs go through the test harness, so they show only for failing
        // tests; RUST_LOG widens them.
        let _ = tracing_subscriber::fmt()
            .with_env_filter(
                tracing_subscriber::EnvFilter::try_from_default_env()
                    .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
            )
            .with_test_writer()
            .try_init();
        let dir = tempfile::tempdir().expect("temp dir");
        let (database_url, postgres) = match backend {
            Backend::Sqlite => (
                format!("sqlite://{}", dir.path().join("hive.db").display()),
                None,
            ),
            Backend::Postgres => {
                let server = postgres_server_url().await?;
                let url = fresh_postgres_database(&server).await;
                (url.clone(), Some((server, url)))
            }
        };
        let smtp = MailSink::start();
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind HTTP port");
        let addr = listener.local_addr().unwrap();
        let mut settings = Settings::with_database(database_url);
        settings.addr = addr;
        settings.public_url = format!("http://{addr}");
        settings.mail = MailTransportSetting::Smtp(smtp.url());
        settings.queue_poll = Duration::from_millis(100);
        settings.queue_stall_after = Duration::from_secs(1);
        settings.email_retry_base = Duration::from_millis(200);
        settings.periodic_interval = Duration::from_millis(200);
        settings.candidate_pool_ttl = Duration::ZERO;
        // Debug build, tests in parallel on two cores: a generous window keeps
        // each level of a page in one batch (the N+1 test counts them).
        settings.loader_batch_window = Duration::from_millis(40);
        // Tests send hundreds of anonymous requests from one address within
        // seconds; the test of that allowance sets it back to the default.
        settings.limits.anonymous_requests_per_minute = 1_000_000;
        // Tests that count statements or break the database under a signed-in
        // request must not depend on whether a session is still cached; the
        // tests of the session cache (sign_in.rs) turn it on.
        settings.limits.session_cache = Duration::ZERO;
        // Staff digests read this clock: starting it before any digest is
        // due keeps them out of every test but those that move it on.
        settings.clock.set(next_monday_at(chrono::NaiveTime::MIN));
        tune(&mut settings);
        let settings = Arc::new(settings);
        let mut db = hive_worker::db::connect(&settings).await.expect("connect");
        hive_worker::db::migrate(&db).await.expect("migrate");
        // Every statement this connection runs (server and in-process worker)
        // is counted, for the N+1 tests.
        let statements = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let statement_log = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
        let counter = statements.clone();
        let log = statement_log.clone();
        db.set_metric_callback(move |info| {
            counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            if let Ok(mut log) = log.lock() {
                log.push(info.statement.sql.chars().take(160).collect());
            }
        });
        let running = server::start_with_db(settings.clone(), db.clone(), listener, with_worker)
            .await
            .expect("start Hive");
        Some(Self {
            statements,
            statement_log,
            base_url: format!("http://{addr}"),
            db,
            smtp,
            settings,
            http: reqwest::Client::new(),
            running: Some(running),
            postgres,
            _dir: dir,
        })
    }

    /// Sends a GraphQL request the way the SPA does; returns status and body.
    pub async fn graphql(
        &self,
        query: &str,
        variables: Value,
        token: Option<&str>,
    ) -> (u16, Value) {
        self.graphql_body(json!({"query": query, "variables": variables}), token)
            .await
    }

    /// As [`TestApp::graphql`], with the whole request body given (for
    /// `operationName` and the like).
    pub async fn graphql_body(&self, body: Value, token: Option<&str>) -> (u16, Value) {
        let mut request = self
            .http
            .post(format!("{}/graphql", self.base_url))
            .header("accept", "application/graphql-response+json")
            .json(&body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("request");
        let status = response.status().as_u16();
        let body: Value = response.json().await.expect("JSON body");
        (status, body)
    }

    /// GETs a page as a browser would: status and HTML.
    pub async fn get_page(&self, link: &str) -> (u16, String) {
        let response = self.http.get(link).send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.text().await.unwrap())
    }

    /// POSTs a form as a browser would (fields in order, names may repeat).
    pub async fn post_page(&self, link: &str, form: &[(&str, &str)]) -> (u16, String) {
        let response = self.http.post(link).form(form).send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.text().await.unwrap())
    }

    /// Creates a user through the same code as `hive-api admin create-user`
    /// and returns it with a session token.
    pub async fn user(&self, role: Role, email: &str) -> (entity::users::Model, String) {
        let organisation = if role == Role::Member {
            Some(self.organisation("Test Co-op").await)
        } else {
            None
        };
        let (user, token) = hive_api::admin::create_user(
            &self.db,
            email,
            "Test Person",
            role,
            organisation,
            chrono::Duration::days(1),
        )
        .await
        .expect("create user");
        (user, token.expose().to_string())
    }

    /// Inserts a bare organisation and returns its id.
    pub async fn organisation(&self, name: &str) -> i64 {
        use sea_orm::{ActiveModelTrait, ActiveValue::Set};
        let now = chrono::Utc::now();
        entity::organisations::ActiveModel {
            name: Set(name.to_string()),
            stage: Set(entity::organisations::OrganisationStage::Trading),
            region: Set("North West".into()),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }
        .insert(&self.db)
        .await
        .expect("insert organisation")
        .id
    }

    /// Statements the app runs for one GraphQL request (run it without a
    /// worker, whose polling would be counted too).
    /// Writes an email row as the relay leaves one it has queued (`enqueued_at`
    /// set, its lease ending at `lease_ends`) and returns its id: for tests
    /// that run a send task themselves (`send_email::run`). The `sign_in`
    /// template, whatever the category.
    pub async fn queued_email(
        &self,
        key: &str,
        category: EmailCategory,
        recipient: &str,
        lease_ends: chrono::DateTime<chrono::Utc>,
    ) -> i64 {
        let lease = self.settings.email_lease;
        let txn = self.db.begin().await.unwrap();
        let written = outbox::enqueue(
            &txn,
            NewEmail {
                idempotency_key: key.into(),
                category,
                template: "sign_in",
                recipient: recipient.into(),
                context: json!({"name": key, "link": "http://x/sign-in?token=t", "expires_minutes": 15}),
                due: lease_ends - lease,
            },
        )
        .await
        .unwrap();
        assert!(written, "a new idempotency key: {key}");
        emails::Entity::update_many()
            .col_expr(emails::Column::EnqueuedAt, Expr::value(lease_ends - lease))
            .col_expr(emails::Column::NextAttemptAt, Expr::value(lease_ends))
            .filter(emails::Column::IdempotencyKey.eq(key))
            .exec(&txn)
            .await
            .unwrap();
        txn.commit().await.unwrap();
        emails::Entity::find()
            .filter(emails::Column::IdempotencyKey.eq(key))
            .one(&self.db)
            .await
            .unwrap()
            .expect("the row just written")
            .id
    }

    /// Runs one send task over `email_ids` here and now, as a worker that
    /// picked it from the queue would; returns once every row's outcome is
    /// recorded.
    pub async fn run_send_task(&self, email_ids: Vec<i64>) {
        let ctx = hive_worker::WorkerContext::new(self.db.clone(), self.settings.clone())
            .expect("worker context");
        hive_worker::jobs::send_email::run(
            hive_worker::jobs::send_email::SendEmails { email_ids },
            &ctx,
        )
        .await
        .expect("the send task runs");
    }

    pub async fn statements_for(
        &self,
        query: &str,
        variables: Value,
        token: Option<&str>,
    ) -> (u64, Value) {
        let before = self.statements.load(std::sync::atomic::Ordering::SeqCst);
        self.statement_log.lock().unwrap().clear();
        let (_, body) = self.graphql(query, variables, token).await;
        let after = self.statements.load(std::sync::atomic::Ordering::SeqCst);
        (after - before, body)
    }

    /// Starts a worker of its own on this test's database, as a separate
    /// `hive-worker` process would be; cancel the token to stop it.
    pub async fn spawn_worker(
        &self,
    ) -> (
        tokio_util::sync::CancellationToken,
        tokio::task::JoinHandle<anyhow::Result<()>>,
    ) {
        let db = hive_worker::db::connect(&self.settings)
            .await
            .expect("connect");
        let ctx = hive_worker::WorkerContext::new(db, self.settings.clone()).expect("worker");
        let stop = tokio_util::sync::CancellationToken::new();
        let handle = tokio::spawn(hive_worker::runner::run(ctx, stop.clone()));
        (stop, handle)
    }

    /// Stops Hive and removes its PostgreSQL database.
    pub async fn stop(mut self) {
        if let Some(running) = self.running.take() {
            running.stop().await.expect("clean shutdown");
        }
        self.db.clone().close().await.ok();
        if let Some((server, url)) = self.postgres.take() {
            drop_postgres_database(&server, &url).await;
        }
    }
}

/// The coming Monday (never today) at `time` in London: a moment when a
/// daily and a weekly digest fall due together.
pub fn next_monday_at(time: chrono::NaiveTime) -> chrono::DateTime<chrono::Utc> {
    use chrono::Datelike;
    let today = hive_worker::jobs::staff_digest::london_day(chrono::Utc::now());
    let ahead = 7 - i64::from(today.weekday().num_days_from_monday());
    hive_worker::jobs::staff_digest::london_instant(today + chrono::Duration::days(ahead), time)
}

/// `extensions.code` of the first error, if any.
pub fn first_error_code(body: &Value) -> Option<&str> {
    body["errors"][0]["extensions"]["code"].as_str()
}

/// The paths of the errors in an answer that do not point at a `null`
/// present in `data`. The GraphQL specification's partial results (§6.4.4
/// "Handling Execution Errors", §7.1.2): a field that errors is in `data`
/// as `null`, with its error at its path; only when the field is non-null
/// does the null move up to its parent — so an error whose path leads
/// nowhere in `data` names a field that should be nullable (an SPA's
/// normalised cache cannot answer a query missing a field it asked for).
/// UNAUTHENTICATED errors are left out: a root field refused to anyone not
/// signed in may stay non-null (the README's "Partial results").
pub fn errors_not_on_null_fields(body: &Value) -> Vec<String> {
    let Some(errors) = body["errors"].as_array() else {
        return Vec::new();
    };
    errors
        .iter()
        .filter(|error| error["extensions"]["code"] != "UNAUTHENTICATED")
        .filter_map(|error| error["path"].as_array())
        .filter(|path| {
            let found = path
                .iter()
                .try_fold(&body["data"], |value, step| match step {
                    Value::String(key) => value.as_object()?.get(key),
                    Value::Number(index) => value.as_array()?.get(index.as_u64()? as usize),
                    _ => None,
                });
            found != Some(&Value::Null)
        })
        .map(|path| {
            path.iter()
                .map(|step| step.to_string().trim_matches('"').to_string())
                .collect::<Vec<_>>()
                .join(".")
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_names_replace_the_path_only() {
        assert_eq!(
            with_database_name("postgres://postgres@127.0.0.1:5432/postgres", "x"),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(
            with_database_name("postgres://u@h/db?sslmode=disable", "x"),
            "postgres://u@h/x?sslmode=disable"
        );
        assert_eq!(
            with_database_name("postgres://u@h", "x"),
            "postgres://u@h/x"
        );
    }
}
