//! Every error code, as a client meets it, and no internal text ever shown.

use std::time::Duration;

use entity::users::Role;
use sea_orm::ConnectionTrait;
use serde_json::json;

use crate::on_both_databases;
use crate::support::{TestApp, first_error_code};

const CREATE_USER: &str =
    "mutation($input: CreateUserInput!) { createUser(input: $input) { id name role } }";

on_both_databases!(
    each_error_code_reaches_the_client,
    |app: TestApp| async move {
        let (_, staff) = app.user(Role::Staff, "staff@example.coop").await;
        let (_, member) = app.user(Role::Member, "member@example.coop").await;

        // UNAUTHENTICATED: a staff list without signing in.
        let (_, body) = app
            .graphql("{ users { totalCount } }", json!({}), None)
            .await;
        assert_eq!(first_error_code(&body), Some("UNAUTHENTICATED"), "{body}");

        // FORBIDDEN: a member asking for the staff list; the rest of the query answers.
        let (status, body) = app
            .graphql(
                "{ me { role } users { totalCount } }",
                json!({}),
                Some(&member),
            )
            .await;
        assert_eq!(status, 200);
        assert_eq!(first_error_code(&body), Some("FORBIDDEN"), "{body}");
        assert_eq!(body["data"]["me"]["role"], "MEMBER");
        assert_eq!(body["errors"][0]["path"][0], "users");

        // NOT_FOUND: an id that does not exist, and one that is not an id at all.
        for id in ["VXNlcjo5OTk5OTk", "nonsense"] {
            let (_, body) = app
                .graphql(
                    "query($id: ID!) { node(id: $id) { id } }",
                    json!({"id": id}),
                    Some(&staff),
                )
                .await;
            assert_eq!(first_error_code(&body), Some("NOT_FOUND"), "{body}");
        }

        // BAD_USER_INPUT, naming the field.
        let input = json!({"email": "nope", "name": "Nobody", "role": "MENTOR"});
        let (_, body) = app
            .graphql(CREATE_USER, json!({"input": input}), Some(&staff))
            .await;
        assert_eq!(first_error_code(&body), Some("BAD_USER_INPUT"), "{body}");
        assert_eq!(body["errors"][0]["extensions"]["field"], "email");

        // CONFLICT: the same address twice; the first also gets a welcome link.
        let input =
            json!({"email": "new.mentor@example.coop", "name": "New Mentor", "role": "MENTOR"});
        let (_, body) = app
            .graphql(CREATE_USER, json!({"input": input}), Some(&staff))
            .await;
        assert_eq!(body["data"]["createUser"]["role"], "MENTOR", "{body}");
        let (_, body) = app
            .graphql(CREATE_USER, json!({"input": input}), Some(&staff))
            .await;
        assert_eq!(first_error_code(&body), Some("CONFLICT"), "{body}");
        app.smtp
            .wait_for("new.mentor@example.coop", 1, Duration::from_secs(20))
            .await;

        // Validation errors from the engine itself carry a code too.
        let (status, body) = app
            .graphql("{ me { shoeSize } }", json!({}), Some(&staff))
            .await;
        assert_eq!(status, 400);
        assert_eq!(first_error_code(&body), Some("BAD_USER_INPUT"), "{body}");
        assert!(
            body.get("data").is_none(),
            "a request error has no data entry"
        );

        // INTERNAL: the database breaks under the server; the client learns
        // nothing of SQL, tables or drivers.
        app.db
            .execute_unprepared("DROP TABLE sessions")
            .await
            .unwrap();
        let (_, body) = app
            .graphql("{ me { name } }", json!({}), Some(&staff))
            .await;
        let text = body.to_string().to_lowercase();
        for leak in ["sql", "table", "relation", "sessions", "select", "sqlx"] {
            assert!(!text.contains(leak), "leaked {leak}: {body}");
        }
        assert_eq!(first_error_code(&body), Some("INTERNAL"), "{body}");
        app.stop().await;
    }
);
