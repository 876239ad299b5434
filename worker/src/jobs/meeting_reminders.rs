//! Meeting emails. When a meeting is booked or moved, both parties get a
//! calendar invitation at once, and a reminder (with the invitation again) is
//! written to the outbox to fall due `meeting_reminder_lead` before the start.
//! Moving a meeting withdraws its pending reminder and writes one for the new
//! time; cancelling withdraws it and sends the calendar cancellation. Staff
//! are told when a final meeting is booked. Everything is written in the
//! caller's transaction, so a meeting and its messages stand or fall together.

use chrono::Utc;
use entity::{emails::EmailCategory, engagements, meetings};
use sea_orm::{ConnectionTrait, DbErr};
use serde_json::json;

pub use crate::mail::calendar::format_in_words;
use crate::{
    Settings,
    jobs::send_email::INVITATION,
    mail::calendar::{Invitation, MeetingEvent, Side},
    notify, outbox,
};

/// The outbox template of a reminder; its key is
/// `meeting-reminder:{meeting}:{sequence}:{recipient}` (see [`on_change`]).
const REMINDER: &str = "meeting_reminder";

/// What happened to a meeting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Booked,
    Moved,
    Cancelled,
}

/// Writes the emails a change to `meeting` causes.
pub async fn on_change(
    conn: &impl ConnectionTrait,
    settings: &Settings,
    engagement: &engagements::Model,
    meeting: &meetings::Model,
    change: Change,
) -> Result<(), DbErr> {
    if change != Change::Booked {
        withdraw_reminders(
            conn,
            meeting.id,
            match change {
                Change::Cancelled => "the meeting was cancelled",
                _ => "the meeting was moved",
            },
        )
        .await?;
    }
    let (provider_user, organisation) = notify::engagement_parties(conn, engagement).await?;
    let provider = vec![notify::Recipient::from(provider_user.clone())];
    let client = notify::organisation(conn, &organisation).await?;
    // Each side's invitation is the meeting's event for that side, made by
    // the same function as each person's calendar feed, so a calendar that
    // has the meeting from both sees one UID and SEQUENCE. The meeting row
    // already carries this change (a cancellation's status and raised
    // SEQUENCE included).
    let attendees: Vec<String> = provider
        .iter()
        .chain(&client)
        .map(|r| r.email.clone())
        .collect();
    let invitation = |side| Invitation {
        event: MeetingEvent::of(
            &settings.public_url,
            meeting,
            &provider_user.name,
            &organisation.name,
            side,
        ),
        attendees: attendees.clone(),
    };
    let parties = Parties {
        provider: (provider, invitation(Side::Provider)),
        client: (client, invitation(Side::Client)),
    };
    let context = json!({
        "provider": provider_user.name,
        "organisation": organisation.name,
        "starts_at": notify::london_time(meeting.starts_at),
        "duration_minutes": meeting.duration_minutes,
        "format": format_in_words(meeting.format),
        "location": meeting.location,
        "is_final": meeting.is_final,
        "link": format!("{}/graphql", settings.public_url),
    });
    let template = match change {
        Change::Booked => "meeting_scheduled",
        Change::Moved => "meeting_moved",
        Change::Cancelled => "meeting_cancelled",
    };
    // Calendar messages cannot be switched off: they are the meeting itself.
    // Key `{template}:{meeting}:{sequence}:{recipient}`: every booking, move
    // and cancellation raises the meeting's SEQUENCE (RFC 5545 §3.8.7.4) in
    // the same transaction, so two different calendar messages of one
    // meeting never share a key; none of them is ever withdrawn.
    send_to_parties(
        conn,
        &format!("{template}:{}:{}", meeting.id, meeting.sequence),
        EmailCategory::Match,
        template,
        &parties,
        &context,
        Utc::now(),
    )
    .await?;

    if change != Change::Cancelled {
        // A meeting booked at shorter notice than the lead gets no reminder:
        // the invitation has just gone.
        let due = meeting.starts_at - settings.meeting_reminder_lead;
        if due > Utc::now() {
            // Key `meeting-reminder:{meeting}:{sequence}:{recipient}`: one
            // reminder per version of the meeting, carrying that version's
            // SEQUENCE. It used to name the start time, so a meeting moved
            // away and back, or changed only in length, met its own withdrawn
            // reminder's key and got none. A withdrawn reminder also gives
            // its key up (see [`withdraw_reminders`]).
            send_to_parties(
                conn,
                &format!("meeting-reminder:{}:{}", meeting.id, meeting.sequence),
                EmailCategory::Reminder,
                REMINDER,
                &parties,
                &context,
                due,
            )
            .await?;
        }
    }
    if change == Change::Booked && meeting.is_final {
        // The handbook: "when the last session is arranged the team is told",
        // so that staff can arrange the final review of both sides.
        // Staff do not attend: their message carries no invitation.
        let staff = notify::staff(conn).await?;
        // Key `final-meeting-scheduled:{meeting}:{recipient}`: only a
        // booking (never a move) sends it, and a meeting is booked once.
        notify::send(
            conn,
            &format!("final-meeting-scheduled:{}", meeting.id),
            EmailCategory::Match,
            "final_meeting_scheduled",
            &staff,
            context,
        )
        .await?;
    }
    Ok(())
}

/// Takes back a meeting's reminders that have not gone yet: PENDING ones, and
/// FAILED or DEAD ones too, which staff could otherwise retry into a reminder
/// of a meeting that has moved or been cancelled ([`outbox::withdraw_unsent`]).
pub async fn withdraw_reminders(
    conn: &impl ConnectionTrait,
    meeting_id: i64,
    reason: &str,
) -> Result<u64, DbErr> {
    outbox::withdraw_unsent(conn, &format!("meeting-reminder:{meeting_id}:"), reason).await
}

/// The two sides of a meeting, each with its recipients and its invitation,
/// and each told who the other is by role: the provider's messages name the
/// co-op, the co-op's name the provider. (The reminder's subject used to
/// compare the recipient's name with the provider's, so a member named like
/// their mentor was told of a meeting with their own co-op.)
struct Parties {
    provider: (Vec<notify::Recipient>, Invitation),
    client: (Vec<notify::Recipient>, Invitation),
}

/// Writes `template` to both sides, each with `other_party` set to the name of
/// the side it is not on, and with its own side's invitation.
async fn send_to_parties(
    conn: &impl ConnectionTrait,
    event: &str,
    category: EmailCategory,
    template: &'static str,
    parties: &Parties,
    context: &serde_json::Value,
    due: chrono::DateTime<Utc>,
) -> Result<(), DbErr> {
    for ((recipients, invitation), other_party) in [
        (&parties.provider, &context["organisation"]),
        (&parties.client, &context["provider"]),
    ] {
        let mut context = context.clone();
        if let Some(object) = context.as_object_mut() {
            object.insert("other_party".into(), other_party.clone());
            object.insert(INVITATION.into(), json!(invitation));
        }
        notify::send_at(conn, event, category, template, recipients, context, due).await?;
    }
    Ok(())
}
