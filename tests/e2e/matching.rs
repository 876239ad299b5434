//! Support requests and proposals, end to end: submit, propose, answer by the
//! emailed link or signed in, decline and re-match, and every refusal.

use std::time::Duration;

use entity::engagements;
use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::json;

use crate::on_both_databases;
use crate::support::{
    TestApp, first_error_code,
    programme::{Programme, ok},
};

const CONTACT: &str =
    "query($id: ID!) { organisation(id: $id) { name contactPhone financialDetails } }";
const REQUEST: &str = "query($id: ID!) { supportRequest(id: $id) { status engagements { status provider { name } declineReason rematchOf { id } } } }";

on_both_databases!(
    a_proposal_accepted_from_the_email,
    |app: TestApp| async move {
        let p = Programme::new(&app).await;
        let (coop, member) = p.coop(&app, "Mersey Housing").await;
        let (mentor, mentor_token, mentor_email) =
            p.provider(&app, "MENTOR", "Aisha Ahmed", 2, None).await;

        // The member asks for help for their own co-op.
        let input = json!({"kind": "MENTORING", "topicIds": [p.topics[0]], "goals": "Run a community share offer."});
        let body = ok(app
        .graphql("mutation($i: SubmitSupportRequestInput!) { submitSupportRequest(input: $i) { id status organisation { name } } }", json!({"i": input}), Some(&member))
        .await);
        assert_eq!(body["data"]["submitSupportRequest"]["status"], "SUBMITTED");
        let request = body["data"]["submitSupportRequest"]["id"]
            .as_str()
            .unwrap()
            .to_string();

        let body = p.propose(&app, &request, &mentor, 3).await;
        assert_eq!(body["data"]["proposeMatch"]["status"], "PROPOSED", "{body}");

        // The mentor gets the proposal with a link; opening it changes nothing.
        let mails = app
            .smtp
            .wait_for(&mentor_email, 2, Duration::from_secs(20))
            .await;
        let proposal = mails
            .iter()
            .find(|m| m.subject().contains("mentor Mersey Housing"))
            .expect("proposal email");
        let link = proposal.link_containing("/m/").unwrap();
        let page = app.http.get(&link).send().await.unwrap();
        assert_eq!(page.status(), 200);
        let html = page.text().await.unwrap();
        assert!(html.contains("Mersey Housing") && html.contains("Run a community share offer."));
        let body = ok(app
            .graphql(REQUEST, json!({"id": request}), Some(&p.staff))
            .await);
        assert_eq!(
            body["data"]["supportRequest"]["engagements"][0]["status"],
            "PROPOSED"
        );
        // While only proposed, the mentor sees the co-op but not its phone.
        let (_, body) = app
            .graphql(CONTACT, json!({"id": coop}), Some(&mentor_token))
            .await;
        assert_eq!(
            body["data"]["organisation"]["name"], "Mersey Housing",
            "{body}"
        );
        assert_eq!(
            body["data"]["organisation"]["contactPhone"],
            serde_json::Value::Null
        );
        assert_eq!(first_error_code(&body), Some("FORBIDDEN"));

        // Accept by the link: matched; both parties told.
        let accepted = app
            .http
            .post(&link)
            .form(&[("answer", "accept"), ("reason", "")])
            .send()
            .await
            .unwrap();
        assert_eq!(accepted.status(), 200);
        assert!(accepted.text().await.unwrap().contains("Accepted"));
        let body = ok(app
            .graphql(REQUEST, json!({"id": request}), Some(&member))
            .await);
        assert_eq!(body["data"]["supportRequest"]["status"], "MATCHED");
        assert_eq!(
            body["data"]["supportRequest"]["engagements"][0]["status"],
            "ACTIVE"
        );
        app.smtp
            .wait_for("member@merseyhousing.coop", 1, Duration::from_secs(20))
            .await;
        app.smtp
            .wait_for(&mentor_email, 3, Duration::from_secs(20))
            .await;

        // The link works once.
        let again = app
            .http
            .post(&link)
            .form(&[("answer", "decline"), ("reason", "")])
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), 404);
        assert!(again.text().await.unwrap().contains("no longer works"));

        // With the engagement ACTIVE, the mentor reads the co-op's phone, and
        // never its financial details.
        let (_, body) = app
            .graphql(CONTACT, json!({"id": coop}), Some(&mentor_token))
            .await;
        assert_eq!(
            body["data"]["organisation"]["contactPhone"], "0161 496 0123",
            "{body}"
        );
        assert_eq!(
            body["data"]["organisation"]["financialDetails"],
            serde_json::Value::Null
        );
        assert_eq!(body["errors"].as_array().unwrap().len(), 1);
        assert_eq!(body["errors"][0]["path"][1], "financialDetails");
        app.stop().await;
    }
);

on_both_databases!(
    a_decline_sends_the_request_back_for_a_rematch,
    |app: TestApp| async move {
        let p = Programme::new(&app).await;
        let (coop, _) = p.coop(&app, "Tyne Web Workers").await;
        let (first, first_token, _) = p.provider(&app, "ADVISER", "Dev Patel", 2, None).await;
        let (second, _, _) = p.provider(&app, "ADVISER", "Gwen Lewis", 2, None).await;
        let request = p.request(&app, &coop, "ADVICE").await;

        let body = p.propose(&app, &request, &first, 5).await;
        let engagement = body["data"]["proposeMatch"]["id"]
            .as_str()
            .unwrap()
            .to_string();
        let respond = "mutation($e: ID!, $a: Boolean!, $r: String) { respondToMatch(engagementId: $e, accept: $a, reason: $r) { status declineReason } }";
        let body = ok(app
            .graphql(
                respond,
                json!({"e": engagement, "a": false, "r": "Fully booked until spring."}),
                Some(&first_token),
            )
            .await);
        assert_eq!(body["data"]["respondToMatch"]["status"], "DECLINED");
        // Answering twice is refused.
        let (_, body) = app
            .graphql(
                respond,
                json!({"e": engagement, "a": true}),
                Some(&first_token),
            )
            .await;
        assert_eq!(first_error_code(&body), Some("CONFLICT"), "{body}");

        let body = ok(app
            .graphql(REQUEST, json!({"id": request}), Some(&p.staff))
            .await);
        assert_eq!(body["data"]["supportRequest"]["status"], "MATCHING");
        // Staff are told.
        let mails = app
            .smtp
            .wait_for("staff@hive.test", 1, Duration::from_secs(20))
            .await;
        assert!(mails[0].text().contains("Fully booked until spring."));

        // The decliner is not proposed again; someone else is, linked to the old one.
        let body = p.propose(&app, &request, &first, 5).await;
        assert_eq!(first_error_code(&body), Some("CONFLICT"), "{body}");
        let body = p.propose(&app, &request, &second, 5).await;
        assert_eq!(
            body["data"]["proposeMatch"]["rematchOf"]["id"], engagement,
            "{body}"
        );
        app.stop().await;
    }
);

on_both_databases!(
    bad_proposals_are_refused_and_change_nothing,
    |app: TestApp| async move {
        let p = Programme::new(&app).await;
        let (coop, member) = p.coop(&app, "Calder Growers").await;
        let (other_coop, other_member) = p.coop(&app, "Severn Makers").await;
        let (mentor, mentor_token, _) = p
            .provider(&app, "MENTOR", "Rhys Evans", 1, Some(&coop))
            .await;
        let (adviser, _, _) = p.provider(&app, "ADVISER", "Iona Reid", 1, None).await;
        let (idle, _, _) = p.provider(&app, "MENTOR", "Owen Hughes", 1, None).await;
        let request = p.request(&app, &coop, "MENTORING").await;
        let other_request = p.request(&app, &other_coop, "MENTORING").await;

        let cases = [
            (
                p.propose(&app, "U3VwcG9ydFJlcXVlc3Q6OTk5", &idle, 3).await,
                "NOT_FOUND",
            ),
            (
                p.propose(&app, &request, "UHJvdmlkZXI6OTk5", 3).await,
                "NOT_FOUND",
            ),
            (
                p.propose(&app, &request, &adviser, 3).await,
                "BAD_USER_INPUT",
            ),
            (p.propose(&app, &request, &idle, 5).await, "BAD_USER_INPUT"),
            (p.propose(&app, &request, &idle, 2).await, "BAD_USER_INPUT"),
            (
                p.propose(&app, &request, &mentor, 3).await,
                "BAD_USER_INPUT",
            ),
        ];
        for (body, code) in &cases {
            assert_eq!(first_error_code(body), Some(*code), "{body}");
        }
        assert_eq!(cases[2].0["errors"][0]["extensions"]["field"], "providerId");
        assert_eq!(
            cases[3].0["errors"][0]["extensions"]["field"],
            "daysAllocated"
        );
        assert!(
            cases[5].0["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("own co-op")
        );

        // A deactivated provider cannot be proposed.
        ok(app
            .graphql(
                "mutation($id: ID!) { deactivateProvider(id: $id) { active } }",
                json!({"id": idle}),
                Some(&p.staff),
            )
            .await);
        let body = p.propose(&app, &request, &idle, 3).await;
        assert_eq!(first_error_code(&body), Some("CONFLICT"), "{body}");

        // A member cannot act on another co-op's request, nor see it.
        let (_, body) = app
            .graphql(
                "mutation($id: ID!) { withdrawSupportRequest(id: $id) { status } }",
                json!({"id": other_request}),
                Some(&member),
            )
            .await;
        assert_eq!(first_error_code(&body), Some("FORBIDDEN"), "{body}");
        let (_, body) = app
            .graphql(REQUEST, json!({"id": request}), Some(&other_member))
            .await;
        assert_eq!(first_error_code(&body), Some("FORBIDDEN"), "{body}");
        // A provider cannot answer a proposal that is not theirs.
        ok(app
            .graphql(
                "mutation($id: ID!) { reactivateProvider(id: $id) { active } }",
                json!({"id": idle}),
                Some(&p.staff),
            )
            .await);
        let body = p.propose(&app, &other_request, &idle, 3).await;
        let engagement = body["data"]["proposeMatch"]["id"]
            .as_str()
            .unwrap()
            .to_string();
        let (_, body) = app
            .graphql(
                "mutation($e: ID!) { respondToMatch(engagementId: $e, accept: true) { status } }",
                json!({"e": engagement}),
                Some(&mentor_token),
            )
            .await;
        assert_eq!(first_error_code(&body), Some("FORBIDDEN"), "{body}");

        // Nothing but the one good proposal was written.
        assert_eq!(engagements::Entity::find().count(&app.db).await.unwrap(), 1);

        // Staff decline a request with a reason; declining again conflicts.
        let decline = "mutation($id: ID!, $r: String!) { declineSupportRequest(id: $id, reason: $r) { status declineReason } }";
        let body = ok(app
            .graphql(
                decline,
                json!({"id": request, "r": "Outside the programme's scope."}),
                Some(&p.staff),
            )
            .await);
        assert_eq!(body["data"]["declineSupportRequest"]["status"], "DECLINED");
        let (_, body) = app
            .graphql(
                decline,
                json!({"id": request, "r": "Again."}),
                Some(&p.staff),
            )
            .await;
        assert_eq!(first_error_code(&body), Some("CONFLICT"));
        app.stop().await;
    }
);

on_both_databases!(
    an_unanswered_proposal_is_chased_then_lapses,
    |app: TestApp| async move {
        let p = Programme::new(&app).await;
        let (coop, _) = p.coop(&app, "Quiet Co-op").await;
        let (mentor, _, mentor_email) = p.provider(&app, "MENTOR", "Slow Replier", 1, None).await;
        let request = p.request(&app, &coop, "MENTORING").await;
        let body = p.propose(&app, &request, &mentor, 3).await;
        let engagement = body["data"]["proposeMatch"]["id"]
            .as_str()
            .unwrap()
            .to_string();
        let first = app
            .smtp
            .wait_for(&mentor_email, 2, Duration::from_secs(20))
            .await;
        let first_link = first.iter().find_map(|m| m.link_containing("/m/")).unwrap();

        // Day 4: chased once, with a fresh link that replaces the first.
        crate::support::programme::age_proposal(&app, &engagement, 4).await;
        let mails = app
            .smtp
            .wait_for(&mentor_email, 3, Duration::from_secs(20))
            .await;
        let chaser = mails
            .iter()
            .find(|m| m.subject().starts_with("Reminder"))
            .expect("a chaser");
        let fresh_link = chaser.link_containing("/m/").unwrap();
        assert_ne!(fresh_link, first_link);
        assert_eq!(
            app.http.get(&first_link).send().await.unwrap().status(),
            404
        );
        assert_eq!(
            app.http.get(&fresh_link).send().await.unwrap().status(),
            200
        );
        tokio::time::sleep(Duration::from_millis(600)).await;
        assert_eq!(
            app.smtp.received_by(&mentor_email).len(),
            3,
            "chased once only"
        );

        // Day 8: lapsed; staff told; the request is back in matching.
        crate::support::programme::age_proposal(&app, &engagement, 8).await;
        let staff_mail = app
            .smtp
            .wait_for("staff@hive.test", 1, Duration::from_secs(20))
            .await;
        assert!(
            staff_mail[0].subject().contains("lapsed"),
            "{}",
            staff_mail[0].subject()
        );
        let body = ok(app
            .graphql(REQUEST, json!({"id": request}), Some(&p.staff))
            .await);
        assert_eq!(body["data"]["supportRequest"]["status"], "MATCHING");
        assert_eq!(
            body["data"]["supportRequest"]["engagements"][0]["status"],
            "EXPIRED"
        );
        assert_eq!(
            app.http.get(&fresh_link).send().await.unwrap().status(),
            404
        );
        // The provider may be proposed again: a lapse is not a refusal.
        let body = p.propose(&app, &request, &mentor, 3).await;
        assert_eq!(body["data"]["proposeMatch"]["status"], "PROPOSED", "{body}");
        app.stop().await;
    }
);
