//! Sign-in by emailed link, end to end through the SMTP server.

use std::time::Duration;

use entity::{sign_in_tokens, users::Role};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
use serde_json::json;

use crate::on_both_databases;
use crate::support::{Backend, TestApp, first_error_code};

const REQUEST: &str = "mutation($email: String!) { requestSignIn(email: $email) { message } }";
const SIGN_IN: &str =
    "mutation($token: String!) { signIn(token: $token) { token expiresAt user { name role } } }";
const ME: &str = "{ me { name email role } }";

fn token_from_link(link: &str) -> String {
    link.split("token=")
        .nth(1)
        .expect("link has a token")
        .to_string()
}

async fn request_link(app: &TestApp, email: &str) -> String {
    let (status, body) = app.graphql(REQUEST, json!({"email": email}), None).await;
    assert_eq!(status, 200, "{body}");
    let mails = app.smtp.wait_for(email, 1, Duration::from_secs(20)).await;
    let mail = mails.last().unwrap();
    assert_eq!(mail.subject(), "Your Hive sign-in link");
    assert!(mail.html().contains("Sign in to Hive"), "HTML part present");
    mail.link_containing("/sign-in?token=")
        .expect("the plain-text part carries the link")
}

on_both_databases!(a_link_signs_in_once, |app: TestApp| async move {
    let (user, _) = app.user(Role::Mentor, "ada@example.coop").await;

    let link = request_link(&app, "Ada@Example.coop").await;
    assert!(
        link.starts_with(&app.base_url),
        "absolute link from HIVE_PUBLIC_URL: {link}"
    );
    let mail = app.smtp.received_by("ada@example.coop").pop().unwrap();
    assert!(
        mail.header("Message-ID")
            .is_some_and(|id| id.contains("email-"))
    );
    let token = token_from_link(&link);

    let (status, body) = app.graphql(SIGN_IN, json!({"token": token}), None).await;
    assert_eq!(status, 200, "{body}");
    let session = body["data"]["signIn"]["token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(body["data"]["signIn"]["user"]["role"], "MENTOR");
    assert_eq!(me_email(&app, &body).await, user.email);

    let (_, me) = app.graphql(ME, json!({}), Some(&session)).await;
    assert_eq!(me["data"]["me"]["role"], "MENTOR");
    assert_eq!(me["data"]["me"]["name"], "Test Person");

    // The same link again is refused, and says why.
    let (status, again) = app.graphql(SIGN_IN, json!({"token": token}), None).await;
    assert_eq!(status, 200, "a field error, not a request error");
    assert_eq!(first_error_code(&again), Some("UNAUTHENTICATED"));
    assert!(
        again["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("already been used")
    );
    assert!(again["data"].is_null());

    // Signing out ends the session.
    let (_, out) = app
        .graphql("mutation { signOut }", json!({}), Some(&session))
        .await;
    assert_eq!(out["data"]["signOut"], true);
    let (status, after) = app.graphql(ME, json!({}), Some(&session)).await;
    assert_eq!(status, 401);
    assert_eq!(first_error_code(&after), Some("UNAUTHENTICATED"));
    app.stop().await;
});

on_both_databases!(
    expired_and_garbage_links_are_refused,
    |app: TestApp| async move {
        app.user(Role::Staff, "grace@example.coop").await;
        let token = token_from_link(&request_link(&app, "grace@example.coop").await);

        // Sixteen minutes later…
        sign_in_tokens::Entity::update_many()
            .col_expr(
                sign_in_tokens::Column::ExpiresAt,
                Expr::value(chrono::Utc::now() - chrono::Duration::minutes(1)),
            )
            .filter(sign_in_tokens::Column::UsedAt.is_null())
            .exec(&app.db)
            .await
            .unwrap();
        let (_, expired) = app.graphql(SIGN_IN, json!({"token": token}), None).await;
        assert_eq!(first_error_code(&expired), Some("UNAUTHENTICATED"));
        assert!(
            expired["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("expired")
        );

        for garbage in ["", "garbage", &"A".repeat(43), &"é".repeat(100)] {
            let (_, body) = app.graphql(SIGN_IN, json!({"token": garbage}), None).await;
            assert_eq!(
                first_error_code(&body),
                Some("UNAUTHENTICATED"),
                "{garbage:.20}: {body}"
            );
            assert!(
                body["errors"][0]["message"]
                    .as_str()
                    .unwrap()
                    .contains("not valid")
            );
        }
        // Longer than any token can be: refused as input, before any lookup.
        let (_, body) = app
            .graphql(SIGN_IN, json!({"token": "é".repeat(5000)}), None)
            .await;
        assert_eq!(
            first_error_code(&body),
            Some("BAD_USER_INPUT"),
            "{body:.300}"
        );
        assert_eq!(body["errors"][0]["extensions"]["field"], "token");
        app.stop().await;
    }
);

on_both_databases!(
    unknown_addresses_get_the_same_answer_and_no_mail,
    |app: TestApp| async move {
        app.user(Role::Staff, "known@example.coop").await;
        let (_, unknown) = app
            .graphql(REQUEST, json!({"email": "stranger@example.coop"}), None)
            .await;
        let (_, known) = app
            .graphql(REQUEST, json!({"email": "known@example.coop"}), None)
            .await;
        assert_eq!(
            unknown, known,
            "the answer never tells whether the address is known"
        );
        app.smtp
            .wait_for("known@example.coop", 1, Duration::from_secs(20))
            .await;
        assert!(app.smtp.received_by("stranger@example.coop").is_empty());
        // Only one email row exists: the stranger's request wrote nothing.
        let rows = entity::emails::Entity::find().all(&app.db).await.unwrap();
        assert_eq!(rows.len(), 1);

        let (_, bad) = app
            .graphql(REQUEST, json!({"email": "not an address"}), None)
            .await;
        assert_eq!(first_error_code(&bad), Some("BAD_USER_INPUT"));
        assert_eq!(bad["errors"][0]["extensions"]["field"], "email");
        app.stop().await;
    }
);

/// The token and its email are written in one transaction, so a process that
/// stops before its worker sends the email loses nothing: the next worker to
/// start on the database delivers it.
async fn survives_a_stop_before_sending(backend: Backend) {
    let Some(app) = TestApp::start_without_worker(backend).await else {
        return;
    };
    let (user, _) = app.user(Role::Adviser, "lin@example.coop").await;
    let (status, _) = app
        .graphql(REQUEST, json!({"email": user.email}), None)
        .await;
    assert_eq!(status, 200);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        app.smtp.received_by(&user.email).is_empty(),
        "nothing is sent without a worker"
    );
    let pending = entity::emails::Entity::find().all(&app.db).await.unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].status, entity::emails::EmailStatus::Pending);

    let (stop, worker) = app.spawn_worker().await;
    let mails = app
        .smtp
        .wait_for(&user.email, 1, Duration::from_secs(20))
        .await;
    assert_eq!(mails.len(), 1);
    stop.cancel();
    worker.await.unwrap().unwrap();

    let sent = entity::emails::Entity::find().all(&app.db).await.unwrap();
    assert_eq!(sent[0].status, entity::emails::EmailStatus::Sent);
    assert!(
        !sent[0].context.contains("token="),
        "the link is not kept once sent"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_before_sending_loses_nothing_sqlite() {
    survives_a_stop_before_sending(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_before_sending_loses_nothing_postgres() {
    survives_a_stop_before_sending(Backend::Postgres).await;
}

/// A worker asked to stop while a sign-in link is on the wire (the urgent
/// lane's send, a task of its own) waits for it, within the shutdown grace:
/// the link arrives once and is marked SENT, so the next worker does not
/// send it again. The SMTP server takes two seconds to accept it; the stop
/// comes while it does.
async fn a_stop_waits_for_a_link_on_the_wire(backend: Backend) {
    let Some(app) = TestApp::start_without_worker(backend).await else {
        return;
    };
    let (user, _) = app.user(Role::Adviser, "lin@example.coop").await;
    app.smtp.slow_down(Duration::from_secs(2));
    let (stop, worker) = app.spawn_worker().await;
    let (status, _) = app
        .graphql(REQUEST, json!({"email": user.email}), None)
        .await;
    assert_eq!(status, 200);
    // Taken by the urgent lane (its claim counts an attempt), then a moment
    // for the send to reach the server's slow reply.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let rows = entity::emails::Entity::find().all(&app.db).await.unwrap();
        if rows.iter().any(|row| row.attempts > 0) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never taken: {rows:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rows = entity::emails::Entity::find().all(&app.db).await.unwrap();
    assert_eq!(
        rows[0].status,
        entity::emails::EmailStatus::Pending,
        "still on the wire when the stop comes"
    );
    stop.cancel();
    worker.await.unwrap().unwrap();

    assert_eq!(app.smtp.received_by(&user.email).len(), 1);
    let rows = entity::emails::Entity::find().all(&app.db).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(
        rows[0].status,
        entity::emails::EmailStatus::Sent,
        "the link the server accepted is marked sent before the worker ends"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_waits_for_a_link_on_the_wire_sqlite() {
    a_stop_waits_for_a_link_on_the_wire(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_waits_for_a_link_on_the_wire_postgres() {
    a_stop_waits_for_a_link_on_the_wire(Backend::Postgres).await;
}

on_both_databases!(
    a_refused_address_is_marked_bouncing,
    |app: TestApp| async move {
        app.smtp.refuse("gone@example.coop");
        app.user(Role::Mentor, "gone@example.coop").await;
        let (status, _) = app
            .graphql(REQUEST, json!({"email": "gone@example.coop"}), None)
            .await;
        assert_eq!(status, 200);
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        // The link is written just after the answer (the answer does not
        // wait for the lookup), then tried by the worker.
        let email = loop {
            let rows = entity::emails::Entity::find().all(&app.db).await.unwrap();
            if let Some(row) = rows.first()
                && row.status != entity::emails::EmailStatus::Pending
            {
                break row.clone();
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the worker never tried"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        assert_eq!(email.status, entity::emails::EmailStatus::Failed);
        assert!(email.last_error.unwrap_or_default().contains("550"));
        let preference = entity::email_preferences::Entity::find()
            .filter(entity::email_preferences::Column::Email.eq("gone@example.coop"))
            .one(&app.db)
            .await
            .unwrap()
            .expect("a preference row marks the address");
        assert!(preference.bounced_at.is_some());
        assert!(app.smtp.received().is_empty());
        app.stop().await;
    }
);

/// The address as the new session sees it (the payload is built before the
/// session exists, so its `user.email` is not readable there).
async fn me_email(app: &TestApp, sign_in: &serde_json::Value) -> String {
    let token = sign_in["data"]["signIn"]["token"].as_str().unwrap();
    let (_, me) = app.graphql(ME, json!({}), Some(token)).await;
    me["data"]["me"]["email"].as_str().unwrap().to_string()
}

on_both_databases!(
    an_expired_session_can_still_sign_in_again,
    |app: TestApp| async move {
        let (user, stale) = app.user(Role::Member, "lapsed@example.coop").await;
        app.graphql("mutation { signOut }", json!({}), Some(&stale))
            .await;

        // The stale token is refused as RFC 6750 says, so a client knows to
        // drop it and sign in again.
        let response = app
            .http
            .post(format!("{}/graphql", app.base_url))
            .header("accept", "application/graphql-response+json")
            .bearer_auth(&stale)
            .json(&json!({"query": ME}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 401);
        assert_eq!(
            response
                .headers()
                .get("www-authenticate")
                .and_then(|v| v.to_str().ok()),
            Some("Bearer error=\"invalid_token\"")
        );

        // But asking for a link and signing in work with it still attached
        // (an SPA that has not yet dropped it).
        let (status, body) = app
            .graphql(REQUEST, json!({"email": user.email}), Some(&stale))
            .await;
        assert_eq!(status, 200, "{body}");
        assert!(
            body["data"]["requestSignIn"]["message"].is_string(),
            "{body}"
        );
        let mails = app
            .smtp
            .wait_for(&user.email, 1, Duration::from_secs(20))
            .await;
        let link = mails
            .last()
            .unwrap()
            .link_containing("/sign-in?token=")
            .unwrap();
        let (status, body) = app
            .graphql(
                SIGN_IN,
                json!({"token": token_from_link(&link)}),
                Some(&stale),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        assert!(body["data"]["signIn"]["token"].is_string(), "{body}");

        // Anything more in the same operation is refused for the token.
        let (status, body) = app
            .graphql(
                "mutation($email: String!) { requestSignIn(email: $email) { message } signOut }",
                json!({"email": user.email}),
                Some(&stale),
            )
            .await;
        assert_eq!(status, 401, "{body}");
        assert_eq!(first_error_code(&body), Some("UNAUTHENTICATED"));
        app.stop().await;
    }
);

/// The session cache's promise (README, `api::sessions`): a session revoked
/// by another process (here: straight in the database, as another
/// `hive-api` would) is still accepted from this process's cache for at most
/// `HIVE_SESSION_CACHE_SECS`, then refused; one signed out in this process
/// is refused at once, cached or not.
fn one_second_session_cache(settings: &mut hive_worker::settings::Settings) {
    settings.limits.session_cache = Duration::from_secs(1);
}

crate::on_both_databases_tuned!(
    a_session_revoked_elsewhere_stops_within_the_cache_lifetime,
    one_second_session_cache,
    |app: TestApp| async move {
        let (user, session) = app.user(Role::Mentor, "ada@providers.test").await;
        let (status, _) = app.graphql(ME, json!({}), Some(&session)).await;
        assert_eq!(status, 200);

        entity::sessions::Entity::update_many()
            .col_expr(
                entity::sessions::Column::RevokedAt,
                Expr::value(chrono::Utc::now()),
            )
            .filter(entity::sessions::Column::UserId.eq(user.id))
            .exec(&app.db)
            .await
            .unwrap();
        let (status, body) = app.graphql(ME, json!({}), Some(&session)).await;
        assert_eq!(
            (status, &body["data"]["me"]["name"]),
            (200, &json!("Test Person")),
            "within the cache's lifetime this process still knows the session: {body}"
        );

        tokio::time::sleep(Duration::from_millis(1_200)).await;
        let (status, body) = app.graphql(ME, json!({}), Some(&session)).await;
        assert_eq!(status, 401, "{body}");
        assert_eq!(first_error_code(&body), Some("UNAUTHENTICATED"));

        let (_, cached) = app.user(Role::Staff, "grace@hive.test").await;
        let (status, _) = app.graphql(ME, json!({}), Some(&cached)).await;
        assert_eq!(status, 200);
        let (_, out) = app
            .graphql("mutation { signOut }", json!({}), Some(&cached))
            .await;
        assert_eq!(out["data"]["signOut"], true, "{out}");
        let (status, body) = app.graphql(ME, json!({}), Some(&cached)).await;
        assert_eq!(status, 401, "signed out here, refused at once: {body}");
        app.stop().await;
    }
);
