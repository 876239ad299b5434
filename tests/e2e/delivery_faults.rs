//! No message lost or sent twice: through an SMTP outage, with three workers
//! sharing the queue, and across a worker killed with SIGKILL mid-fan-out.
//! Each email row has its own Message-ID (the same on every attempt), so the
//! SMTP server's count per Message-ID says how often each arrived.

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use entity::emails::{self, EmailCategory, EmailStatus};
use hive_worker::{
    jobs::send_email::SENDS_PER_TASK,
    outbox::{self, NewEmail},
    runner::{SENDS_IN_FLIGHT_POSTGRES, SENDS_IN_FLIGHT_SQLITE},
    settings::MailTransportSetting,
};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, TransactionTrait};
use serde_json::json;

use crate::support::{Backend, MailSink, TestApp};

/// Writes `count` messages to the outbox in one transaction, as a fan-out
/// job would.
pub(crate) async fn fan_out(app: &TestApp, prefix: &str, count: usize) {
    let txn = app.db.begin().await.unwrap();
    for n in 0..count {
        let written = outbox::enqueue(
            &txn,
            NewEmail {
                idempotency_key: format!("{prefix}:{n}"),
                category: EmailCategory::Match,
                template: "welcome",
                recipient: format!("{prefix}{n}@coops.test"),
                context: json!({"name": format!("Member {n}"), "role": "member", "link": "http://hive.test/x", "expires_minutes": 15}),
                due: chrono::Utc::now(),
            },
        )
        .await
        .unwrap();
        assert!(written);
    }
    txn.commit().await.unwrap();
}

/// Waits until `sink` holds `count` distinct messages; panics after `timeout`.
pub(crate) async fn wait_for_distinct(sink: &MailSink, count: usize, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    loop {
        let distinct = sink.distinct_messages();
        if distinct >= count {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{distinct} of {count} messages arrived within {timeout:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until every row is SENT, then returns the Message-IDs that arrived
/// more than once (with their counts), after checking that all `count` did.
async fn sent_and_doubled(app: &TestApp, sink: &MailSink, count: usize) -> Vec<(String, usize)> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let sent = emails::Entity::find()
            .filter(emails::Column::Status.eq(EmailStatus::Sent))
            .count(&app.db)
            .await
            .unwrap();
        if sent as usize == count {
            break;
        }
        assert!(Instant::now() < deadline, "{sent} of {count} rows SENT");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Anything late would show now.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let counts = sink.message_id_counts();
    assert_eq!(counts.len(), count, "distinct messages at the SMTP server");
    assert!(
        !counts.contains_key(""),
        "every message carries a Message-ID"
    );
    counts.into_iter().filter(|(_, n)| *n > 1).collect()
}

/// Every row SENT, and each Message-ID received exactly once.
pub(crate) async fn assert_each_exactly_once(app: &TestApp, sink: &MailSink, count: usize) {
    let doubled = sent_and_doubled(app, sink, count).await;
    assert!(doubled.is_empty(), "received more than once: {doubled:?}");
}

/// A loopback port with nothing listening on it.
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn outage(backend: Backend) {
    let port = free_port();
    let Some(app) = TestApp::start_tuned(backend, |settings| {
        settings.mail = MailTransportSetting::Smtp(format!("smtp://127.0.0.1:{port}"));
        settings.email_max_attempts = 30;
    })
    .await
    else {
        return;
    };
    fan_out(&app, "outage", 40).await;
    // The server is down: every message is tried, fails, and waits its turn.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let tried = emails::Entity::find()
            .filter(emails::Column::LastError.is_not_null())
            .count(&app.db)
            .await
            .unwrap();
        if tried == 40 {
            break;
        }
        assert!(Instant::now() < deadline, "{tried} of 40 tried");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let pending = emails::Entity::find()
        .filter(emails::Column::Status.eq(EmailStatus::Pending))
        .count(&app.db)
        .await
        .unwrap();
    assert_eq!(
        pending, 40,
        "a refused connection is not a reason to give up"
    );
    // Back up: all delivered, none twice.
    let sink = MailSink::start_on(port);
    wait_for_distinct(&sink, 40, Duration::from_secs(60)).await;
    assert_each_exactly_once(&app, &sink, 40).await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_smtp_outage_loses_and_doubles_nothing_sqlite() {
    outage(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_smtp_outage_loses_and_doubles_nothing_postgres() {
    outage(Backend::Postgres).await;
}

/// A `hive-worker` process of its own on the test's database. Killed when
/// dropped, so a failing test leaves no process behind; its log goes to a
/// file that a failure prints.
pub(crate) struct WorkerProcess {
    child: Child,
    log: PathBuf,
}

impl WorkerProcess {
    pub(crate) fn start(app: &TestApp, log_dir: &Path, name: &str) -> Self {
        Self::start_with(app, log_dir, name, &[])
    }

    /// As [`WorkerProcess::start`], with more variables (or other values).
    pub(crate) fn start_with(
        app: &TestApp,
        log_dir: &Path,
        name: &str,
        variables: &[(&str, &str)],
    ) -> Self {
        let log = log_dir.join(format!("{name}.log"));
        let child = Command::new(env!("CARGO_BIN_EXE_hive-worker-under-test"))
            .env("DATABASE_URL", &app.settings.database_url)
            .env("SMTP_URL", app.smtp.url())
            // The same host in every process's Message-IDs.
            .env("HIVE_PUBLIC_URL", &app.settings.public_url)
            .env("HIVE_QUEUE_POLL_MS", "100")
            .env("HIVE_TEST_EMAIL_LEASE_SECONDS", "10")
            // Several workers on one machine: each its own free port.
            .env("HIVE_WORKER_ADDR", "127.0.0.1:0")
            .env("RUST_LOG", "warn")
            .envs(variables.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("worker log file"))
            .spawn()
            .expect("start hive-worker");
        Self { child, log }
    }

    /// Panics (printing the log) if the process has ended by itself.
    pub(crate) fn assert_running(&mut self) {
        if let Some(status) = self.child.try_wait().unwrap() {
            let log = std::fs::read_to_string(&self.log).unwrap_or_default();
            panic!("hive-worker ended by itself ({status}):\n{log}");
        }
    }

    /// SIGKILL: no chance to finish what it was doing.
    fn kill(&mut self) {
        self.child.kill().expect("SIGKILL"); // std's kill is SIGKILL on Unix
        self.child.wait().unwrap();
    }
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            let log = std::fs::read_to_string(&self.log).unwrap_or_default();
            eprintln!("--- {} ---\n{log}", self.log.display());
        }
    }
}

async fn three_workers(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else {
        return;
    };
    let logs = tempfile::tempdir().unwrap();
    // The app's own worker and two more hive-worker processes.
    let _b = WorkerProcess::start(&app, logs.path(), "b");
    let _c = WorkerProcess::start(&app, logs.path(), "c");
    fan_out(&app, "three", 600).await;
    wait_for_distinct(&app.smtp, 600, Duration::from_secs(120)).await;
    assert_each_exactly_once(&app, &app.smtp, 600).await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_workers_send_each_message_once_postgres() {
    three_workers(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_workers_send_each_message_once_sqlite() {
    three_workers(Backend::Sqlite).await;
}

/// Kills a worker with SIGKILL a third of the way through 2,000 messages and
/// starts another.
///
/// What "exactly once" can mean across SIGKILL: a message the SMTP server has
/// accepted (its 250 sent) whose SENT mark the killed worker had not yet
/// written cannot be told apart from one that never left, so Hive sends it
/// again when the lease runs out rather than risk losing it — with the same
/// Message-ID, by which mail clients show it once. Only messages in flight at
/// the moment of the kill can arrive twice: at most what one worker process
/// holds on the wire or unmarked (`SENDS_IN_FLIGHT_*`). Everything else
/// arrives exactly once, and nothing is lost.
async fn killed_mid_fan_out(backend: Backend) {
    let Some(app) = TestApp::start_without_worker(backend).await else {
        return;
    };
    let in_flight_at_most = match backend {
        Backend::Sqlite => SENDS_IN_FLIGHT_SQLITE,
        Backend::Postgres => SENDS_IN_FLIGHT_POSTGRES,
    };
    const COUNT: usize = 2_000;
    fan_out(&app, "crash", COUNT).await;
    let logs = tempfile::tempdir().unwrap();
    let mut first = WorkerProcess::start(&app, logs.path(), "first");
    let deadline = Instant::now() + Duration::from_secs(180);
    while app.smtp.distinct_messages() < COUNT / 3 {
        assert!(
            Instant::now() < deadline,
            "the worker sent {} of {COUNT} in {:?}",
            app.smtp.distinct_messages(),
            Duration::from_secs(180)
        );
        first.assert_running();
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    first.kill();
    let at_kill = app.smtp.distinct_messages();
    assert!(at_kill < COUNT, "killed midway, not at the end");
    let _second = WorkerProcess::start(&app, logs.path(), "second");
    wait_for_distinct(&app.smtp, COUNT, Duration::from_secs(300)).await;
    let doubled = sent_and_doubled(&app, &app.smtp, COUNT).await;
    eprintln!(
        "{backend:?}: killed after {at_kill} of {COUNT}; {} arrived twice (in flight at the kill)",
        doubled.len()
    );
    assert!(
        doubled.len() <= in_flight_at_most && doubled.iter().all(|(_, n)| *n == 2),
        "only messages in flight at the kill may arrive again, and only once more: {doubled:?}"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_mid_fan_out_loses_nothing_sqlite() {
    killed_mid_fan_out(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_mid_fan_out_loses_nothing_postgres() {
    killed_mid_fan_out(Backend::Postgres).await;
}

/// A server slow enough that a batch outlasts the email lease: each message
/// takes a second to be accepted, eight at a time per batch of 50, against a
/// lease of six seconds. A worker stops starting sends once half its lease is
/// gone and hands the rest of the batch back, so no row is taken over by a
/// second task while the first still means to send it: every message arrives
/// exactly once.
async fn slow_server(backend: Backend) {
    let Some(app) = TestApp::start_tuned(backend, |settings| {
        settings.email_lease = chrono::Duration::seconds(6);
    })
    .await
    else {
        return;
    };
    app.smtp.slow_down(Duration::from_secs(1));
    const COUNT: usize = 100;
    fan_out(&app, "slow", COUNT).await;
    wait_for_distinct(&app.smtp, COUNT, Duration::from_secs(120)).await;
    assert_each_exactly_once(&app, &app.smtp, COUNT).await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_slower_than_the_lease_doubles_nothing_sqlite() {
    slow_server(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_slower_than_the_lease_doubles_nothing_postgres() {
    slow_server(Backend::Postgres).await;
}

/// An address the server refuses for good (550) is not offered the rest of
/// the batch: once one of its messages bounces, the batch's later messages to
/// it are suppressed, as every later batch's are. Only those already on the
/// wire with it (at most one task's sends in flight) are refused too.
async fn a_bounce_mid_batch_stops_the_rest(backend: Backend) {
    let Some(app) = TestApp::start_without_worker(backend).await else {
        return;
    };
    const COUNT: usize = 30;
    const GONE: &str = "gone@example.coop";
    app.smtp.refuse(GONE);
    let lease_ends = chrono::Utc::now() + app.settings.email_lease;
    let mut email_ids = Vec::new();
    for n in 0..COUNT {
        email_ids.push(
            app.queued_email(
                &format!("test:gone-{n}"),
                EmailCategory::Reminder,
                GONE,
                lease_ends,
            )
            .await,
        );
    }
    app.run_send_task(email_ids).await;

    let count = |status: EmailStatus| {
        emails::Entity::find()
            .filter(emails::Column::Recipient.eq(GONE))
            .filter(emails::Column::Status.eq(status))
            .count(&app.db)
    };
    let failed = count(EmailStatus::Failed).await.unwrap() as usize;
    let suppressed = count(EmailStatus::Suppressed).await.unwrap() as usize;
    assert_eq!(failed + suppressed, COUNT, "every message has its outcome");
    assert_eq!(
        app.smtp.refusals(GONE),
        failed,
        "each FAILED message was offered once, no SUPPRESSED one was"
    );
    assert!(
        (1..=SENDS_PER_TASK).contains(&failed),
        "{failed} of {COUNT} were offered to a refused address in one batch"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bounce_mid_batch_stops_the_rest_sqlite() {
    a_bounce_mid_batch_stops_the_rest(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bounce_mid_batch_stops_the_rest_postgres() {
    a_bounce_mid_batch_stops_the_rest(Backend::Postgres).await;
}
