//! Slow and idle clients: time limits on headers, bodies and whole requests,
//! a cap on open connections, and a SIGTERM that stops the server within its
//! grace while a request is still running.

use std::time::{Duration, Instant};

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use serde_json::json;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

use crate::on_both_databases_tuned;
use crate::support::{
    Backend, TestApp, first_error_code, fresh_postgres_database, postgres_server_url,
    programme::{Programme, decode, ok},
};

/// Waits until the server closes `stream` (reading and discarding whatever
/// it sends first); panics if it is still open after `bound`. Returns what
/// was read.
async fn closed_within(stream: &mut TcpStream, bound: Duration) -> String {
    let mut read = Vec::new();
    let mut buffer = [0u8; 4096];
    let outcome = tokio::time::timeout(bound, async {
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(n) => read.extend_from_slice(&buffer[..n]),
            }
        }
    })
    .await;
    assert!(outcome.is_ok(), "still open after {bound:?}");
    String::from_utf8_lossy(&read).into_owned()
}

async fn connect(app: &TestApp) -> TcpStream {
    TcpStream::connect(app.base_url.trim_start_matches("http://"))
        .await
        .unwrap()
}

fn quick_timeouts(settings: &mut hive_worker::Settings) {
    settings.limits.header_timeout = Duration::from_secs(1);
    settings.limits.body_timeout = Duration::from_secs(1);
}

/// Far above the one-second limits, far below "forever".
const BOUND: Duration = Duration::from_secs(10);

on_both_databases_tuned!(
    slow_and_idle_connections_are_closed,
    quick_timeouts,
    |app: TestApp| async move {
        // Silent from the start.
        let mut silent = connect(&app).await;
        closed_within(&mut silent, BOUND).await;

        // Headers trickled a line at a time: the limit is on all of them.
        let mut trickle = connect(&app).await;
        trickle
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: hive\r\n")
            .await
            .unwrap();
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(3) {
            if trickle.write_all(b"X-Slow: yes\r\n").await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        closed_within(&mut trickle, BOUND).await;

        // Idle after an answer (keep-alive): closed in the same time.
        let mut idle = connect(&app).await;
        idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: hive\r\n\r\n")
            .await
            .unwrap();
        let answered = closed_within(&mut idle, BOUND).await;
        assert!(answered.starts_with("HTTP/1.1 200"), "{answered}");

        // A body that stops coming: 408, as JSON for GraphQL...
        let mut body = connect(&app).await;
        body.write_all(
            b"POST /graphql HTTP/1.1\r\nHost: hive\r\nContent-Type: application/json\r\n\
              Content-Length: 100\r\n\r\n{\"query\":",
        )
        .await
        .unwrap();
        let answer = closed_within(&mut body, BOUND).await;
        assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
        assert!(answer.contains("\"BAD_USER_INPUT\""), "{answer}");
        // ...and as a page for a form.
        let mut form = connect(&app).await;
        form.write_all(
            b"POST /r/some-token HTTP/1.1\r\nHost: hive\r\n\
              Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\nusefulness=4",
        )
        .await
        .unwrap();
        let answer = closed_within(&mut form, BOUND).await;
        assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
        assert!(
            answer.contains("<h1>This form could not be read</h1>"),
            "{answer}"
        );

        // Everyone else is served throughout.
        let (status, _) = app.graphql("{ __typename }", json!({}), None).await;
        assert_eq!(status, 200);
        app.stop().await;
    }
);

on_both_databases_tuned!(
    a_request_past_its_deadline_is_stopped,
    |settings: &mut hive_worker::Settings| {
        settings.limits.request_timeout = Duration::from_secs(2)
    },
    |app: TestApp| async move {
        let p = Programme::new(&app).await;
        let (coop, _) = p.coop(&app, "Slow Co-op").await;
        const RENAME: &str = "mutation($id: ID!, $n: String!) { updateOrganisation(id: $id, input: {name: $n}) { name } }";
        // Another writer holds the co-op (SQLite: the database's write lock;
        // PostgreSQL: the row), so the rename waits.
        let holder = hive_worker::db::begin_write(&app.db).await.unwrap();
        holder
            .execute_unprepared(&format!(
                "UPDATE organisations SET members_count = 7 WHERE id = {}",
                decode(&coop)
            ))
            .await
            .unwrap();
        let started = Instant::now();
        let (status, body) = app
            .graphql(RENAME, json!({"id": coop, "n": "Renamed"}), Some(&p.staff))
            .await;
        let took = started.elapsed();
        assert_eq!(status, 503, "{body}");
        assert_eq!(first_error_code(&body), Some("TIMEOUT"), "{body}");
        assert!(body["errors"][0]["extensions"]["requestId"].is_string());
        assert!(took < BOUND, "took {took:?}");
        holder.rollback().await.unwrap();

        // The stopped rename left nothing behind, and the next one works.
        tokio::time::sleep(Duration::from_secs(1)).await;
        let body = ok(app
            .graphql(
                "query($id: ID!) { organisation(id: $id) { name } }",
                json!({"id": coop}),
                Some(&p.staff),
            )
            .await);
        assert_eq!(body["data"]["organisation"]["name"], "Slow Co-op");
        let body = ok(app
            .graphql(RENAME, json!({"id": coop, "n": "Renamed"}), Some(&p.staff))
            .await);
        assert_eq!(body["data"]["updateOrganisation"]["name"], "Renamed");
        app.stop().await;
    }
);

on_both_databases_tuned!(
    connections_past_the_cap_wait_their_turn,
    |settings: &mut hive_worker::Settings| {
        settings.limits.max_connections = 4;
        settings.limits.header_timeout = Duration::from_secs(2);
    },
    |app: TestApp| async move {
        // Four idle connections take every slot...
        let mut idle = Vec::new();
        for _ in 0..4 {
            idle.push(connect(&app).await);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        // ...so a fifth is accepted only when the header limit has closed
        // one of them: served, later.
        let started = Instant::now();
        let response = reqwest::Client::new()
            .get(format!("{}/healthz", app.base_url))
            .send()
            .await
            .unwrap();
        let waited = started.elapsed();
        assert_eq!(response.status(), 200);
        assert!(
            waited >= Duration::from_millis(1_000),
            "served after {waited:?}: the cap did not hold"
        );
        assert!(waited < BOUND, "waited {waited:?}");
        drop(idle);
        app.stop().await;
    }
);

on_both_databases_tuned!(
    one_client_cannot_take_every_slot,
    |settings: &mut hive_worker::Settings| {
        settings.limits.max_connections_per_client = 3;
        settings.limits.header_timeout = Duration::from_secs(30);
    },
    |app: TestApp| async move {
        let mut held = Vec::new();
        for _ in 0..3 {
            held.push(connect(&app).await);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        // A fourth from the same address is closed at once, long before the
        // thirty seconds the header limit would give it.
        let mut fourth = connect(&app).await;
        let _ = fourth
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: hive\r\n\r\n")
            .await;
        let answer = closed_within(&mut fourth, Duration::from_secs(5)).await;
        assert!(answer.is_empty(), "no answer: {answer}");
        // When one of the three goes, the address may connect again.
        held.pop();
        tokio::time::sleep(Duration::from_millis(200)).await;
        let mut again = connect(&app).await;
        again
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: hive\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let answer = closed_within(&mut again, BOUND).await;
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        drop(held);
        app.stop().await;
    }
);

on_both_databases_tuned!(
    a_client_that_stops_reading_is_dropped,
    |settings: &mut hive_worker::Settings| {
        settings.limits.send_timeout = Duration::from_secs(1);
        settings.limits.max_response_bytes = 64 * 1024 * 1024;
    },
    |app: TestApp| async move {
        // An answer far bigger than any socket buffer (Linux lets one grow to
        // 4 MiB): twelve copies of 100 co-ops with 5,000 characters of
        // financial details each, 12 MB.
        let p = Programme::new(&app).await;
        for i in 0..100 {
            let id = app.organisation(&format!("Co-op {i}")).await;
            entity::organisations::Entity::update_many()
                .col_expr(
                    entity::organisations::Column::FinancialDetails,
                    sea_orm::sea_query::Expr::value("£".repeat(5_000)),
                )
                .filter(entity::organisations::Column::Id.eq(id))
                .exec(&app.db)
                .await
                .unwrap();
        }
        let copies: String = (0..12)
            .map(|i| format!("c{i}: organisations(first: 100) {{ nodes {{ financialDetails }} }} "))
            .collect();
        let body = json!({"query": format!("{{ {copies} }}")}).to_string();
        let request = format!(
            "POST /graphql HTTP/1.1\r\nHost: hive\r\nAuthorization: Bearer {}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            p.staff,
            body.len()
        );
        // A reader that takes a little and then nothing.
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(4096).unwrap();
        let mut stalled = socket
            .connect(app.base_url.trim_start_matches("http://").parse().unwrap())
            .await
            .unwrap();
        stalled.write_all(request.as_bytes()).await.unwrap();
        tokio::time::sleep(Duration::from_secs(4)).await;
        // Reading now gets what was already on its way, and then the end: the
        // answer was cut when it stalled for the send limit.
        let answer = closed_within(&mut stalled, BOUND).await;
        let length: usize = answer
            .lines()
            .find_map(|line| line.strip_prefix("content-length: "))
            .and_then(|n| n.trim().parse().ok())
            .expect("the answer started");
        assert!(length > 10_000_000, "a big answer: {length} bytes");
        assert!(
            answer.len() < length,
            "only {} of {length} bytes arrived: the connection was dropped",
            answer.len()
        );

        // A client that keeps reading gets the whole answer.
        let body = ok(app
            .graphql(
                "{ organisations(first: 100) { nodes { financialDetails } } }",
                json!({}),
                Some(&p.staff),
            )
            .await);
        assert_eq!(
            body["data"]["organisations"]["nodes"]
                .as_array()
                .unwrap()
                .len(),
            100
        );
        app.stop().await;
    }
);

/// `hive-api` as an operator runs it, on its own database.
async fn sigterm_while_a_request_runs(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let database_url = match backend {
        Backend::Sqlite => format!("sqlite://{}", dir.path().join("hive.db").display()),
        Backend::Postgres => {
            let Some(server) = postgres_server_url().await else {
                return;
            };
            fresh_postgres_database(&server).await
        }
    };
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_hive-api-under-test"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", &database_url)
        .env("HIVE_ADDR", format!("127.0.0.1:{port}"))
        .env("HIVE_MAIL_DIR", dir.path().join("mail"))
        .env("HIVE_SHUTDOWN_GRACE_SECS", "1")
        .env("HIVE_BODY_TIMEOUT_SECS", "600")
        .env("HIVE_REQUEST_TIMEOUT_SECS", "600")
        .env("RUST_LOG", "warn")
        .spawn()
        .expect("start hive-api");
    let base = format!("http://127.0.0.1:{port}");
    let up = Instant::now();
    while reqwest::get(format!("{base}/healthz")).await.is_err() {
        assert!(
            up.elapsed() < Duration::from_secs(60),
            "hive-api never came up"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // A request that is still running: its body comes a byte at a time.
    let mut slow = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    slow.write_all(
        b"POST /graphql HTTP/1.1\r\nHost: hive\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{",
    )
    .await
    .unwrap();
    let trickle = tokio::spawn(async move {
        for _ in 0..60 {
            if slow.write_all(b" ").await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;

    let stopping = Instant::now();
    let signalled = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(signalled.success());
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if stopping.elapsed() > BOUND {
            let _ = child.kill();
            panic!("hive-api still running {BOUND:?} after SIGTERM");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "{status}");
    trickle.abort();
    if backend == Backend::Postgres
        && let Some(server) = postgres_server_url().await
    {
        crate::support::drop_postgres_database(&server, &database_url).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_within_the_grace_sqlite() {
    sigterm_while_a_request_runs(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_within_the_grace_postgres() {
    sigterm_while_a_request_runs(Backend::Postgres).await;
}
