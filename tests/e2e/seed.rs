//! The demo programme loads, is believable, and loading it twice changes nothing.

use entity::{
    organisations, providers, providers::ProviderKind, sectors, support_requests, topics,
};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::json;

use crate::on_both_databases;
use crate::support::TestApp;

async fn counts(app: &TestApp) -> [u64; 6] {
    let db = &app.db;
    [
        organisations::Entity::find().count(db).await.unwrap(),
        providers::Entity::find()
            .filter(providers::Column::Kind.eq(ProviderKind::Mentor))
            .count(db)
            .await
            .unwrap(),
        providers::Entity::find()
            .filter(providers::Column::Kind.eq(ProviderKind::Adviser))
            .count(db)
            .await
            .unwrap(),
        topics::Entity::find().count(db).await.unwrap(),
        sectors::Entity::find().count(db).await.unwrap(),
        support_requests::Entity::find().count(db).await.unwrap(),
    ]
}

on_both_databases!(the_demo_programme_loads_once, |app: TestApp| async move {
    let first = hive_api::seed::demo(&app.db).await.unwrap();
    let after_first = counts(&app).await;
    assert_eq!(after_first[0], 50, "co-ops");
    assert_eq!(after_first[1], 28, "mentors");
    assert_eq!(after_first[2], 30, "advisers");
    assert!(
        after_first[3] >= 10 && after_first[4] >= 8,
        "topics and sectors"
    );
    assert!(after_first[5] >= 5, "a handful of requests");
    assert!(first.created > 0);

    let second = hive_api::seed::demo(&app.db).await.unwrap();
    assert_eq!(second.created, 0, "nothing new the second time");
    assert_eq!(counts(&app).await, after_first);

    // The programme is visible through the API to staff.
    let (_, staff) = app
        .user(entity::users::Role::Staff, "seed-staff@example.coop")
        .await;
    let (_, body) = app
        .graphql(
            "{ users(role: MENTOR) { totalCount } }",
            json!({}),
            Some(&staff),
        )
        .await;
    assert_eq!(body["data"]["users"]["totalCount"], 28, "{body}");
    app.stop().await;
});
