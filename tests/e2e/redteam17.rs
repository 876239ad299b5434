//! Red-team tests of issue 17 (people and co-ops leaving, erasure): each
//! shows a gap found by trying the new mutations the way a careless or
//! hurried staff member would.

use std::time::Duration as StdDuration;

use chrono::{Duration, Utc};
use entity::{
    providers, reviews,
    support_requests::{self, SupportRequestStatus},
};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
use serde_json::{Value, json};

use crate::on_both_databases;
use crate::support::{
    TestApp,
    census::{Census, token_of},
    first_error_code,
    programme::{Programme, decode, ok},
};

const WAIT: StdDuration = StdDuration::from_secs(20);
const ARCHIVE: &str =
    "mutation($o: ID!) { archiveOrganisation(organisationId: $o) { archivedAt } }";
const ERASE_PERSON: &str =
    "mutation($u: ID!, $r: String!) { erasePerson(userId: $u, reason: $r) { erasedAt } }";

fn code(body: &Value) -> Option<&str> {
    first_error_code(body)
}

async fn user_id_of(app: &TestApp, email: &str) -> String {
    let user = entity::users::Entity::find()
        .filter(entity::users::Column::Email.eq(email))
        .one(&app.db)
        .await
        .unwrap()
        .expect("the user");
    hive_worker::ids::global_id("User", user.id)
}

async fn requests_of(app: &TestApp, coop: &str) -> Vec<support_requests::Model> {
    support_requests::Entity::find()
        .filter(support_requests::Column::OrganisationId.eq(decode(coop)))
        .all(&app.db)
        .await
        .unwrap()
}

// An erased provider stays out of matching: erasure takes them out, and
// `reactivateProvider` must not put an "[erased]" mentor, whose address is
// never mailed, back in the pool where staff can propose them.
on_both_databases!(
    an_erased_provider_cannot_be_reactivated_and_proposed,
    |app: TestApp| async move {
        let p = Programme::new(&app).await;
        let (coop, _) = p.coop(&app, "Tyne Growers").await;
        let (mentor, _, mentor_email) = p.provider(&app, "MENTOR", "Erin Erased", 2, None).await;
        let user = user_id_of(&app, &mentor_email).await;
        ok(app
            .graphql(
                ERASE_PERSON,
                json!({"u": user, "r": "She asked by letter on 2 December"}),
                Some(&p.staff),
            )
            .await);
        let (_, body) = app
            .graphql(
                "mutation($id: ID!) { reactivateProvider(id: $id) { active } }",
                json!({"id": mentor}),
                Some(&p.staff),
            )
            .await;
        let provider = providers::Entity::find_by_id(decode(&mentor))
            .one(&app.db)
            .await
            .unwrap()
            .unwrap();
        let request = p.request(&app, &coop, "MENTORING").await;
        let proposal = p.propose(&app, &request, &mentor, 3).await;
        assert_eq!(
            (code(&body), provider.active, code(&proposal).is_some()),
            (Some("CONFLICT"), false, true),
            "an erased provider was reactivated ({body}) and then proposed ({proposal})"
        );
        app.stop().await;
    }
);

