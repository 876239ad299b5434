//! Capacity and request state are checked and changed atomically: concurrent
//! proposals and acceptances can never overfill a provider or match a request
//! twice.

use chrono::Utc;
use entity::engagements::{self, EngagementStatus};
use futures::future::join_all;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter,
};
use serde_json::{Value, json};

use crate::on_both_databases;
use crate::support::{
    TestApp, first_error_code,
    programme::{Programme, decode},
};

fn successes(bodies: &[Value], field: &str) -> usize {
    for body in bodies {
        let code = first_error_code(body);
        assert!(
            code.is_none() || code == Some("CONFLICT"),
            "only CONFLICT may refuse: {body}"
        );
    }
    bodies
        .iter()
        .filter(|b| b["data"][field]["id"].is_string() || b["data"][field]["status"].is_string())
        .count()
}

async fn current(
    app: &TestApp,
    column: engagements::Column,
    id: i64,
    status: &[EngagementStatus],
) -> u64 {
    engagements::Entity::find()
        .filter(column.eq(id))
        .filter(engagements::Column::Status.is_in(status.to_vec()))
        .count(&app.db)
        .await
        .unwrap()
}

on_both_databases!(
    concurrent_proposals_never_overfill_a_provider,
    |app: TestApp| async move {
        let p = Programme::new(&app).await;
        let (mentor, _, _) = p.provider(&app, "MENTOR", "Busy Mentor", 2, None).await;
        let mut requests = Vec::new();
        for i in 0..8 {
            let (coop, _) = p.coop(&app, &format!("Co-op {i}")).await;
            requests.push(p.request(&app, &coop, "MENTORING").await);
        }
        let bodies = join_all(requests.iter().map(|r| p.propose(&app, r, &mentor, 3))).await;
        assert_eq!(successes(&bodies, "proposeMatch"), 2, "{bodies:?}");
        let held = current(
            &app,
            engagements::Column::ProviderId,
            decode(&mentor),
            &[EngagementStatus::Proposed, EngagementStatus::Active],
        )
        .await;
        assert_eq!(held, 2);
        app.stop().await;
    }
);

on_both_databases!(
    concurrent_proposals_on_one_request_make_one,
    |app: TestApp| async move {
        let p = Programme::new(&app).await;
        let (coop, _) = p.coop(&app, "Popular Co-op").await;
        let request = p.request(&app, &coop, "ADVICE").await;
        let mut advisers = Vec::new();
        for i in 0..6 {
            advisers.push(
                p.provider(&app, "ADVISER", &format!("Adviser {i}"), 3, None)
                    .await
                    .0,
            );
        }
        let bodies = join_all(advisers.iter().map(|a| p.propose(&app, &request, a, 4))).await;
        assert_eq!(successes(&bodies, "proposeMatch"), 1, "{bodies:?}");
        let held = current(
            &app,
            engagements::Column::SupportRequestId,
            decode(&request),
            &[EngagementStatus::Proposed],
        )
        .await;
        assert_eq!(held, 1);
        app.stop().await;
    }
);

on_both_databases!(
    concurrent_acceptances_respect_capacity_and_the_request,
    |app: TestApp| async move {
        let p = Programme::new(&app).await;
        let respond =
            "mutation($e: ID!) { respondToMatch(engagementId: $e, accept: true) { status } }";

        // Three proposals to one mentor, whose capacity then drops to one.
        let (mentor, token, _) = p
            .provider(&app, "MENTOR", "Shrinking Mentor", 3, None)
            .await;
        let mut proposals = Vec::new();
        for i in 0..3 {
            let (coop, _) = p.coop(&app, &format!("Client {i}")).await;
            let request = p.request(&app, &coop, "MENTORING").await;
            let body = p.propose(&app, &request, &mentor, 4).await;
            proposals.push(
                body["data"]["proposeMatch"]["id"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            );
        }
        let provider = entity::providers::Entity::find_by_id(decode(&mentor))
            .one(&app.db)
            .await
            .unwrap()
            .unwrap();
        let mut provider: entity::providers::ActiveModel = provider.into();
        provider.capacity = Set(1);
        provider.update(&app.db).await.unwrap();
        let bodies = join_all(
            proposals
                .iter()
                .map(|e| app.graphql(respond, json!({"e": e}), Some(&token))),
        )
        .await;
        let bodies: Vec<Value> = bodies.into_iter().map(|(_, b)| b).collect();
        assert_eq!(successes(&bodies, "respondToMatch"), 1, "{bodies:?}");
        assert_eq!(
            current(
                &app,
                engagements::Column::ProviderId,
                decode(&mentor),
                &[EngagementStatus::Active]
            )
            .await,
            1
        );

        // Two proposals on one request (the second written behind the API's
        // back), both accepted at once: one match only.
        let (coop, _) = p.coop(&app, "Contested Co-op").await;
        let request = p.request(&app, &coop, "ADVICE").await;
        let (first, first_token, _) = p.provider(&app, "ADVISER", "First Adviser", 2, None).await;
        let (second, second_token, _) =
            p.provider(&app, "ADVISER", "Second Adviser", 2, None).await;
        let body = p.propose(&app, &request, &first, 3).await;
        let first_engagement = body["data"]["proposeMatch"]["id"]
            .as_str()
            .unwrap()
            .to_string();
        let now = Utc::now();
        let sneaked = engagements::ActiveModel {
            support_request_id: Set(decode(&request)),
            provider_id: Set(decode(&second)),
            status: Set(EngagementStatus::Proposed),
            days_allocated: Set(3),
            fee_pence: Set(0),
            proposed_at: Set(now),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }
        .insert(&app.db)
        .await
        .unwrap();
        let second_engagement = hive_api::graphql::relay::global_id(
            hive_api::graphql::relay::NodeType::Engagement,
            sneaked.id,
        );
        let (a, b) = tokio::join!(
            app.graphql(respond, json!({"e": first_engagement}), Some(&first_token)),
            app.graphql(
                respond,
                json!({"e": second_engagement.as_str()}),
                Some(&second_token)
            ),
        );
        assert_eq!(
            successes(&[a.1.clone(), b.1.clone()], "respondToMatch"),
            1,
            "{a:?} {b:?}"
        );
        assert_eq!(
            current(
                &app,
                engagements::Column::SupportRequestId,
                decode(&request),
                &[EngagementStatus::Active]
            )
            .await,
            1
        );
        app.stop().await;
    }
);
