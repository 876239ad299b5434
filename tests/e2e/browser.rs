//! A co-op answers the needs survey in a real browser: headless Chromium
//! (Debian's `chromium`, driven through `chromedriver` by WebDriver) opens the
//! link from the invitation email, fills in the form, is told about a
//! missing answer beside its question, fixes it and sends; staff then see the
//! answer in the results; and on a phone 375 pixels wide the form fits. An
//! SPA on another origin reads `me` with a bearer token through the
//! browser's CORS checks, and one on an origin not allowed is refused by the
//! browser. GraphiQL loads with no host but Hive's reachable, fills its
//! editors from a link, takes the token out of the address bar, and runs a
//! query with it. Both databases.
//!
//! Chromium comes from Debian's packages. When `chromedriver` is missing the
//! test installs `chromium` and `chromium-driver` with apt-get (CI runs as
//! root on a Debian machine); when that is impossible outside CI it says so
//! loudly and skips. In CI a missing browser is a failure.

use std::{
    path::Path,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

use crate::on_both_databases;
use crate::support::{
    TestApp,
    census::Census,
    programme::{decode, ok},
};

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";

/// Makes sure Chromium and its driver are installed; false (after saying so)
/// when they cannot be outside CI. The SQLite and PostgreSQL runs of the test
/// ask at once; one install serves both (a second apt-get at the same time
/// fails on dpkg's lock — seen on a fresh machine).
fn browser_available() -> bool {
    static AVAILABLE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *AVAILABLE.get_or_init(install_browser)
}

fn install_browser() -> bool {
    if Path::new(CHROMEDRIVER).exists() && Path::new(CHROMIUM).exists() {
        return true;
    }
    eprintln!("installing Debian's chromium and chromium-driver for the browser test…");
    let apt_get = |args: &[&str]| {
        Command::new("apt-get")
            // Wait for another process's apt (another test run, an unattended
            // upgrade) instead of failing on its lock.
            .args(["-o", "DPkg::Lock::Timeout=600"])
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    };
    // A fresh machine may have no package lists yet.
    let installed = apt_get(&["update", "-q"])
        && apt_get(&["install", "-y", "-q", "chromium", "chromium-driver"])
        && Path::new(CHROMEDRIVER).exists();
    if !installed {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI needs chromium and chromium-driver: apt-get install failed"
        );
        eprintln!(
            "\n*** SKIPPED: the browser test needs {CHROMEDRIVER} and {CHROMIUM} \
             (apt-get install chromium chromium-driver) ***\n"
        );
    }
    installed
}

/// A chromedriver process of the test's own, killed when dropped.
struct Driver {
    child: Child,
    port: u16,
}

impl Driver {
    async fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let deadline = Instant::now() + Duration::from_secs(20);
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Self { child, port }
    }

    /// A headless Chromium with a profile of its own and no calls home (the
    /// machine's network is closed; see the README's test section).
    async fn browser(&self, profile: &Path) -> Client {
        self.browser_with(profile, json!({})).await
    }

    /// The same, as a phone 375 CSS pixels wide (Chromium's device emulation).
    async fn phone(&self, profile: &Path) -> Client {
        self.browser_with(
            profile,
            json!({"mobileEmulation": {"deviceMetrics": {"width": 375, "height": 812, "pixelRatio": 2.0}}}),
        )
        .await
    }

    /// The same, able to reach 127.0.0.1 only: every other host name fails
    /// to resolve, so a page that needs a CDN shows it at once.
    async fn offline(&self, profile: &Path) -> Client {
        self.browser_with(
            profile,
            json!({"args": Self::args(profile, &["--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"])}),
        )
        .await
    }

    fn args(profile: &Path, more: &[&str]) -> Vec<String> {
        [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
        ]
        .iter()
        .chain(more)
        .map(|arg| arg.to_string())
        .chain([format!("--user-data-dir={}", profile.display())])
        .collect()
    }

    async fn browser_with(&self, profile: &Path, more: serde_json::Value) -> Client {
        let mut options = json!({
            "binary": CHROMIUM,
            "args": Self::args(profile, &[]),
        });
        if let (Some(options), Some(more)) = (options.as_object_mut(), more.as_object()) {
            options.extend(more.clone());
        }
        let mut capabilities = serde_json::Map::new();
        capabilities.insert("goog:chromeOptions".into(), options);
        // Plain HTTP to a local chromedriver: no TLS stack needed.
        ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{}", self.port))
            .await
            .expect("a WebDriver session in headless Chromium")
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Clicks the input with this id (a radio button or a box).
async fn tick(browser: &Client, id: &str) {
    browser
        .find(Locator::Id(id))
        .await
        .unwrap_or_else(|error| panic!("no #{id}: {error}"))
        .click()
        .await
        .unwrap();
}

on_both_databases!(
    a_coop_answers_from_the_emailed_link_in_a_real_browser,
    |app: TestApp| async move {
        if !browser_available() {
            return;
        }
        let census = Census::new(&app).await;
        let coop = census
            .coop(&app, "Riverside Housing", Some(0), "North West", "TRADING")
            .await;
        census.launch(&app, &census.survey, json!({})).await;
        let link = app
            .smtp
            .wait_for_subject(&coop.email, "Needs census", Duration::from_secs(20))
            .await
            .link_containing("/s/")
            .expect("a survey link in the email");
        let questions = census.questions(&app, &census.survey).await;
        let q = |n: usize| format!("q{}", decode(&questions[n].0));
        let choice = |n: usize, c: usize| format!("{}-{}", q(n), decode(&questions[n].2[c]));

        let driver = Driver::start().await;
        let profile = tempfile::tempdir().unwrap();
        let browser = driver.browser(profile.path()).await;
        browser.goto(&link).await.unwrap();
        assert_eq!(
            browser
                .find(Locator::Css("h1"))
                .await
                .unwrap()
                .text()
                .await
                .unwrap(),
            "Needs census 2026"
        );

        // "Money", two training boxes, the number and a comment — but not
        // the (required) scale.
        tick(&browser, &choice(0, 1)).await;
        tick(&browser, &choice(1, 0)).await;
        tick(&browser, &choice(1, 1)).await;
        browser
            .find(Locator::Id(&format!("{}-input", q(3))))
            .await
            .unwrap()
            .send_keys("14")
            .await
            .unwrap();
        browser
            .find(Locator::Id(&format!("{}-input", q(4))))
            .await
            .unwrap()
            .send_keys("We would like a share offer this spring.")
            .await
            .unwrap();
        browser
            .find(Locator::Css("button[type=submit]"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();

        // Told beside the question, with the rest kept.
        let error = browser
            .wait()
            .for_element(Locator::Id(&format!("{}-error", q(2))))
            .await
            .expect("the scale's error beside it");
        assert_eq!(error.text().await.unwrap(), "Give a number.");
        assert!(
            browser
                .find(Locator::Id(&choice(1, 1)))
                .await
                .unwrap()
                .is_selected()
                .await
                .unwrap(),
            "ticked boxes stay ticked"
        );
        tick(&browser, &format!("{}-2", q(2))).await;
        browser
            .find(Locator::Css("button[type=submit]"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        browser
            .wait()
            .for_element(Locator::XPath("//h1[text()='Thank you']"))
            .await
            .expect("the thank-you page");
        browser.close().await.unwrap();

        // On a phone, 375 CSS pixels wide, the form fits without scrolling
        // sideways (the comment box used to be 50 columns wide).
        let phone_profile = tempfile::tempdir().unwrap();
        let phone = driver.phone(phone_profile.path()).await;
        phone.goto(&link).await.unwrap();
        phone
            .wait()
            .for_element(Locator::Css("textarea"))
            .await
            .expect("the form, with its comment box");
        let widths = phone
            .execute(
                "return [screen.width, document.documentElement.scrollWidth]",
                vec![],
            )
            .await
            .unwrap();
        // (A page wider than the phone widens the layout viewport with it,
        // so the phone's own width is the screen's.)
        assert_eq!(widths[0], 375, "the phone's width: {widths}");
        assert!(
            widths[1].as_u64().unwrap() <= 375,
            "the page is wider than the phone: {widths}"
        );
        phone.close().await.unwrap();

        // Staff see it in the results.
        let body = ok(app
            .graphql(
                "query($s: ID!) { survey(id: $s) { results { invited responded
                   questions { answered mean choices { label count } } } } }",
                json!({"s": census.survey}),
                Some(&census.programme.staff),
            )
            .await);
        let results = &body["data"]["survey"]["results"];
        assert_eq!(results["invited"], 1);
        assert_eq!(results["responded"], 1);
        let questions = results["questions"].as_array().unwrap();
        assert_eq!(
            questions[0]["choices"][1],
            json!({"label": "Money", "count": 1})
        );
        assert_eq!(questions[1]["choices"][0]["count"], 1);
        assert_eq!(questions[1]["choices"][1]["count"], 1);
        assert_eq!(questions[1]["choices"][2]["count"], 0);
        assert_eq!(questions[2]["mean"], 2.0);
        assert_eq!(questions[3]["mean"], 14.0);
        assert_eq!(questions[4]["answered"], 1);
        app.stop().await;
    }
);

/// Serves `html` to every request on `listener`: a web origin other than
/// Hive's, as a single-page app's would be.
fn serve_page(listener: tokio::net::TcpListener, html: String) -> tokio::task::JoinHandle<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let html = html.clone();
            tokio::spawn(async move {
                let mut request = [0u8; 4096];
                let _ = stream.read(&mut request).await;
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: text/html; charset=utf-8\r\n\
                     content-length: {}\r\nconnection: close\r\n\r\n{html}",
                    html.len()
                );
                let _ = stream.write_all(response.as_bytes()).await;
            });
        }
    })
}

/// A page that calls Hive's `/graphql` with a bearer token, as an SPA does,
/// and writes what came back (or that the browser refused it) into `#out`.
fn spa_page(hive: &str, token: &str) -> String {
    format!(
        "<!doctype html><title>SPA</title><p id=\"out\">waiting</p><script>\
         fetch('{hive}/graphql', {{method: 'POST', headers: {{'authorization': 'Bearer {token}', \
         'content-type': 'application/json', 'accept': 'application/graphql-response+json'}}, \
         body: JSON.stringify({{query: '{{ me {{ name }} }}'}})}})\
         .then(r => r.json())\
         .then(b => {{ document.getElementById('out').textContent = 'me: ' + b.data.me.name; }})\
         .catch(e => {{ document.getElementById('out').textContent = 'refused: ' + e.name; }});\
         </script>"
    )
}

/// An SPA on another origin signs in with a bearer token and reads `me`
/// through the browser's CORS checks (the preflight included: the
/// `authorization` header makes one); a page on an origin not in
/// `HIVE_CORS_ORIGINS` is refused by the browser.
async fn an_spa_on_another_origin(backend: crate::support::Backend) {
    if !browser_available() {
        return;
    }
    let allowed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let other = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let allowed_origin = format!("http://{}", allowed.local_addr().unwrap());
    let other_origin = format!("http://{}", other.local_addr().unwrap());
    let cors = allowed_origin.clone();
    let Some(app) = TestApp::start_tuned(backend, move |settings| {
        settings.cors_origins = vec![cors];
    })
    .await
    else {
        return;
    };
    let (_, token) = app.user(entity::users::Role::Staff, "spa@hive.test").await;
    let pages = [
        serve_page(allowed, spa_page(&app.base_url, &token)),
        serve_page(other, spa_page(&app.base_url, &token)),
    ];

    let driver = Driver::start().await;
    let profile = tempfile::tempdir().unwrap();
    let browser = driver.browser(profile.path()).await;
    for (origin, expected) in [
        (&allowed_origin, "me: Test Person"),
        (&other_origin, "refused: TypeError"),
    ] {
        browser.goto(origin).await.unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let out = browser
                .find(Locator::Id("out"))
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            if out != "waiting" {
                assert_eq!(out, expected, "the page on {origin}");
                break;
            }
            assert!(Instant::now() < deadline, "no answer on {origin}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    browser.close().await.unwrap();
    for page in pages {
        page.abort();
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_spa_on_another_origin_calls_hive_sqlite() {
    an_spa_on_another_origin(crate::support::Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_spa_on_another_origin_calls_hive_postgres() {
    an_spa_on_another_origin(crate::support::Backend::Postgres).await;
}

/// The values of every CodeMirror editor on the page (GraphiQL 4's query,
/// variables, headers and response editors are CodeMirror 5 instances).
const EDITORS: &str = "return Array.from(document.querySelectorAll('.CodeMirror'))\
                       .map(e => e.CodeMirror ? e.CodeMirror.getValue() : '')";

/// Waits until some editor's text satisfies `test`; all editors' texts.
async fn wait_for_editor(browser: &Client, what: &str, test: impl Fn(&str) -> bool) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let editors: Vec<String> = browser
            .execute(EDITORS, vec![])
            .await
            .ok()
            .and_then(|value| serde_json::from_value(value).ok())
            .unwrap_or_default();
        if editors.iter().any(|text| test(text)) {
            return editors;
        }
        assert!(
            Instant::now() < deadline,
            "no editor with {what}: {editors:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// GraphiQL as staff use it from a digest link, in a browser that can reach
/// nothing but Hive: it renders, the link's query is in the editor, the
/// `?token=` is in the headers editor and gone from the address bar, every
/// resource came from Hive, and running the query sends the token.
async fn graphiql_offline(backend: crate::support::Backend) {
    if !browser_available() {
        return;
    }
    let Some(app) = TestApp::start(backend).await else {
        return;
    };
    let (_, token) = app
        .user(entity::users::Role::Staff, "graphiql@hive.test")
        .await;
    let query = "query Me {\n  me {\n    name\n  }\n}";
    let mut address = reqwest::Url::parse(&format!("{}/graphql", app.base_url)).unwrap();
    address
        .query_pairs_mut()
        .append_pair("query", query)
        .append_pair("token", &token);

    let driver = Driver::start().await;
    let profile = tempfile::tempdir().unwrap();
    let browser = driver.offline(profile.path()).await;
    browser.goto(address.as_str()).await.unwrap();
    let editors = wait_for_editor(&browser, "the query", |text| text == query).await;
    assert!(
        editors
            .iter()
            .any(|text| text.contains(&format!("\"Bearer {token}\""))),
        "the token in the headers editor: {editors:?}"
    );
    let location = browser.current_url().await.unwrap();
    assert!(!location.as_str().contains(&token), "{location}");
    assert!(location.as_str().contains("query="), "{location}");

    browser
        .find(Locator::Css(".graphiql-execute-button"))
        .await
        .expect("GraphiQL's run button")
        .click()
        .await
        .unwrap();
    wait_for_editor(&browser, "the answer", |text| {
        text.contains("\"Test Person\"")
    })
    .await;

    let loaded = browser
        .execute(
            "return performance.getEntriesByType('resource').map(e => e.name)",
            vec![],
        )
        .await
        .unwrap();
    let loaded: Vec<String> = serde_json::from_value(loaded).unwrap();
    assert!(loaded.len() >= 6, "{loaded:?}");
    for url in &loaded {
        assert!(
            url.starts_with(&format!("{}/", app.base_url)),
            "{url} is not Hive's"
        );
    }
    browser.close().await.unwrap();
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graphiql_works_offline_sqlite() {
    graphiql_offline(crate::support::Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graphiql_works_offline_postgres() {
    graphiql_offline(crate::support::Backend::Postgres).await;
}
