//! Who is told about what. Every message is written to the outbox on the
//! caller's transaction, with an idempotency key that names the event and the
//! recipient, so a retried request never sends it twice.

use crate::outbox::{self, NewEmail};
use entity::{
    emails::EmailCategory,
    engagements, organisations, providers, support_requests,
    users::{self, Role},
};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter};

/// A person to write to.
#[derive(Debug, Clone)]
pub struct Recipient {
    pub name: String,
    pub email: String,
}

impl From<users::Model> for Recipient {
    fn from(user: users::Model) -> Self {
        Recipient {
            name: user.name,
            email: user.email,
        }
    }
}

/// Every active staff member.
pub async fn staff(conn: &impl ConnectionTrait) -> Result<Vec<Recipient>, DbErr> {
    Ok(users::Entity::find()
        .filter(users::Column::Role.eq(Role::Staff))
        .filter(users::Column::DeactivatedAt.is_null())
        .all(conn)
        .await?
        .into_iter()
        .map(Into::into)
        .collect())
}

/// A co-op's members with accounts, or its contact address when it has none;
/// nobody for a co-op that has left the programme.
pub async fn organisation(
    conn: &impl ConnectionTrait,
    organisation: &organisations::Model,
) -> Result<Vec<Recipient>, DbErr> {
    // A co-op that has left the programme is written to no more, whatever
    // the message (review reminders, meeting reminders…): its members'
    // accounts are closed, and its contact address is not a way round that.
    if organisation.archived_at.is_some() {
        return Ok(Vec::new());
    }
    let members: Vec<Recipient> = users::Entity::find()
        .filter(users::Column::OrganisationId.eq(organisation.id))
        .filter(users::Column::DeactivatedAt.is_null())
        .all(conn)
        .await?
        .into_iter()
        .map(Into::into)
        .collect();
    if !members.is_empty() {
        return Ok(members);
    }
    Ok(organisation
        .contact_email
        .iter()
        .map(|email| Recipient {
            name: organisation.name.clone(),
            email: email.clone(),
        })
        .collect())
}

/// The two sides of an engagement: the provider's user and the client co-op.
pub async fn engagement_parties(
    conn: &impl ConnectionTrait,
    engagement: &engagements::Model,
) -> Result<(users::Model, organisations::Model), DbErr> {
    let missing =
        |what: &str| DbErr::RecordNotFound(format!("engagement {} without {what}", engagement.id));
    let (_, user) = providers::Entity::find_by_id(engagement.provider_id)
        .find_also_related(users::Entity)
        .one(conn)
        .await?
        .ok_or_else(|| missing("provider"))?;
    let user = user.ok_or_else(|| missing("provider user"))?;
    let (_, organisation) = support_requests::Entity::find_by_id(engagement.support_request_id)
        .find_also_related(organisations::Entity)
        .one(conn)
        .await?
        .ok_or_else(|| missing("request"))?;
    let organisation = organisation.ok_or_else(|| missing("organisation"))?;
    Ok((user, organisation))
}

/// Queues `template` to each recipient; `event` identifies the happening (e.g.
/// `match-accepted:12`), the recipient's address completes the key.
pub async fn send(
    conn: &impl ConnectionTrait,
    event: &str,
    category: EmailCategory,
    template: &'static str,
    recipients: &[Recipient],
    context: serde_json::Value,
) -> Result<(), DbErr> {
    send_at(
        conn,
        event,
        category,
        template,
        recipients,
        context,
        chrono::Utc::now(),
    )
    .await
}

/// As [`send`], for messages not to go before `due` (reminders).
pub async fn send_at(
    conn: &impl ConnectionTrait,
    event: &str,
    category: EmailCategory,
    template: &'static str,
    recipients: &[Recipient],
    context: serde_json::Value,
    due: chrono::DateTime<chrono::Utc>,
) -> Result<(), DbErr> {
    for recipient in recipients {
        let mut context = context.clone();
        if let Some(object) = context.as_object_mut() {
            object.insert("name".into(), recipient.name.clone().into());
        }
        outbox::enqueue(
            conn,
            NewEmail {
                // `event` names the happening (each caller says why it never
                // repeats for a different message); the address makes it one
                // message per recipient.
                idempotency_key: format!("{event}:{}", recipient.email),
                category,
                template,
                recipient: recipient.email.clone(),
                context,
                due,
            },
        )
        .await?;
    }
    Ok(())
}

/// Programme times as people in the UK read them: Europe/London, with GMT or
/// BST said, e.g. "Tuesday 1 December 2026, 14:00 GMT". Stored times are UTC.
pub fn london_time(at: chrono::DateTime<chrono::Utc>) -> String {
    at.with_timezone(&chrono_tz::Europe::London)
        .format("%A %-d %B %Y, %H:%M %Z")
        .to_string()
}

/// The day of `at` in Europe/London, e.g. "1 December 2026".
pub fn london_date(at: chrono::DateTime<chrono::Utc>) -> String {
    at.with_timezone(&chrono_tz::Europe::London)
        .format("%-d %B %Y")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    #[test]
    fn london_time_follows_summer_time() {
        let winter = Utc.with_ymd_and_hms(2026, 12, 1, 14, 0, 0).unwrap();
        assert_eq!(london_time(winter), "Tuesday 1 December 2026, 14:00 GMT");
        let summer = Utc.with_ymd_and_hms(2026, 7, 1, 14, 0, 0).unwrap();
        assert_eq!(london_time(summer), "Wednesday 1 July 2026, 15:00 BST");
        // Just after midnight in London is still the day before in UTC.
        let late = Utc.with_ymd_and_hms(2026, 6, 30, 23, 30, 0).unwrap();
        assert_eq!(london_date(late), "1 July 2026");
    }
}
