//! PostgreSQL unreachable for 20 s in the middle of a fan-out (issue 16,
//! item 2): every message arrives exactly once, and the worker's `/readyz`
//! says so within a second meanwhile.
//!
//! The outage is a TCP proxy inside the test between the worker and
//! PostgreSQL, which cuts every connection and refuses new ones for 20 s.
//! From the worker's side that is what a stopped server or a network cut
//! looks like (connections reset, connects failing), and the test owns
//! nothing outside itself: a throw-away PostgreSQL cluster would need
//! `initdb` and `pg_ctl` on the machine, a free port and a data directory
//! per run, and about a second of start-up, for no difference the worker can
//! see. The API's own connection, which writes the fan-out and reads the
//! outcome, goes straight to the server.

use std::{
    net::SocketAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use tokio::{net::TcpListener, task::AbortHandle};

use crate::delivery_faults::{
    WorkerProcess, assert_each_exactly_once, fan_out, free_port, wait_for_distinct,
};
use crate::support::{Backend, TestApp};

/// A loopback TCP proxy that can cut every connection through it and refuse
/// new ones until restored.
struct CuttableProxy {
    port: u16,
    down: Arc<AtomicBool>,
    connections: Arc<Mutex<Vec<AbortHandle>>>,
    accept: AbortHandle,
}

impl CuttableProxy {
    async fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let down = Arc::new(AtomicBool::new(false));
        let connections = Arc::new(Mutex::new(Vec::<AbortHandle>::new()));
        let (is_down, open) = (down.clone(), connections.clone());
        let accept = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if is_down.load(Ordering::SeqCst) {
                    drop(client); // refused: closed at once
                    continue;
                }
                let relay = tokio::spawn(async move {
                    if let Ok(mut server) = tokio::net::TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                open.lock().unwrap().push(relay.abort_handle());
            }
        })
        .abort_handle();
        Self {
            port,
            down,
            connections,
            accept,
        }
    }

    /// Every open connection dropped, new ones closed as they come.
    fn cut(&self) {
        self.down.store(true, Ordering::SeqCst);
        for connection in self.connections.lock().unwrap().drain(..) {
            connection.abort();
        }
    }

    fn restore(&self) {
        self.down.store(false, Ordering::SeqCst);
    }
}

impl Drop for CuttableProxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.cut();
    }
}

/// `url` with its host and port replaced by 127.0.0.1:`port`.
fn through(url: &str, port: u16) -> String {
    let (scheme, rest) = url.split_once("://").unwrap();
    let (authority, path) = rest.split_once('/').unwrap();
    let user = authority
        .rsplit_once('@')
        .map(|(user, _)| format!("{user}@"))
        .unwrap_or_default();
    format!("{scheme}://{user}127.0.0.1:{port}/{path}")
}

/// The database's address in `url` (loopback by name or number).
fn target(url: &str) -> SocketAddr {
    let rest = url.split_once("://").unwrap().1;
    let authority = rest.split('/').next().unwrap();
    let host_port = authority.rsplit('@').next().unwrap();
    let host_port = host_port.replace("localhost", "127.0.0.1");
    if host_port.contains(':') {
        host_port.parse().unwrap()
    } else {
        format!("{host_port}:5432").parse().unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_outage_mid_fan_out_sends_each_message_once_postgres() {
    let Some(app) = TestApp::start_without_worker(Backend::Postgres).await else {
        return;
    };
    let proxy = CuttableProxy::start(target(&app.settings.database_url)).await;
    let ops = format!("127.0.0.1:{}", free_port());
    let logs = tempfile::tempdir().unwrap();
    const COUNT: usize = 1_000;
    fan_out(&app, "outage", COUNT).await;
    // The lease (10 s) runs out during the outage: rows accepted before it
    // and not yet marked SENT must not be handed out again when it ends.
    let mut worker = WorkerProcess::start_with(
        &app,
        logs.path(),
        "outage",
        &[
            (
                "DATABASE_URL",
                &through(&app.settings.database_url, proxy.port),
            ),
            ("HIVE_WORKER_ADDR", &ops),
        ],
    );
    let deadline = Instant::now() + Duration::from_secs(120);
    while app.smtp.distinct_messages() < COUNT / 3 {
        assert!(Instant::now() < deadline, "the fan-out did not start");
        worker.assert_running();
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    proxy.cut();
    let at_cut = app.smtp.distinct_messages();
    assert!(at_cut < COUNT, "cut midway, not at the end");

    // The worker's readiness says so, at once rather than after the pool's
    // 10-second wait.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let asked = Instant::now();
    let ready = app
        .http
        .get(format!("http://{ops}/readyz"))
        .send()
        .await
        .unwrap();
    let answered_in = asked.elapsed();
    assert_eq!(ready.status(), 503);
    let body: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(body["database"], "unreachable");
    assert!(
        answered_in < Duration::from_millis(1_500),
        "/readyz took {answered_in:?} with the database gone"
    );

    tokio::time::sleep(Duration::from_secs(18)).await;
    let during = app.smtp.distinct_messages();
    worker.assert_running();
    proxy.restore();
    wait_for_distinct(&app.smtp, COUNT, Duration::from_secs(120)).await;
    eprintln!("cut after {at_cut} of {COUNT}; {during} arrived by the end of the outage");
    assert_each_exactly_once(&app, &app.smtp, COUNT).await;
    app.stop().await;
}
