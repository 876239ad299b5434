//! Calendar invitations for meeting emails (RFC 5545 / 5546, via the
//! `icalendar` crate): one stable UID per meeting, SEQUENCE raised on each
//! change so calendars update the entry instead of adding a second, and
//! METHOD:CANCEL to take it out.

use chrono::{DateTime, Duration, Utc};
use icalendar::{Calendar, Component, Event, EventLike, EventStatus, Property};
use serde::{Deserialize, Serialize};

/// What an email's invitation says, kept in the email's context so the
/// message can be rendered again on a retry exactly as it was meant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invitation {
    /// The same for every message about one meeting.
    pub uid: String,
    pub sequence: u32,
    pub cancelled: bool,
    pub starts_at: DateTime<Utc>,
    pub duration_minutes: i64,
    pub summary: String,
    pub location: Option<String>,
    pub description: String,
    /// Both parties' addresses.
    pub attendees: Vec<String>,
}

impl Invitation {
    /// `REQUEST` or `CANCEL`: also goes in the MIME type of the part.
    pub fn method(&self) -> &'static str {
        if self.cancelled { "CANCEL" } else { "REQUEST" }
    }

    /// The `text/calendar` body; `organizer` is Hive's own address.
    pub fn to_ics(&self, organizer: &str) -> String {
        let mut event = Event::new();
        event
            .uid(&self.uid)
            .sequence(self.sequence)
            .timestamp(Utc::now())
            .starts(self.starts_at)
            .ends(self.starts_at + Duration::minutes(self.duration_minutes))
            .summary(&self.summary)
            .description(&self.description)
            .append_property(Property::new("ORGANIZER", format!("mailto:{organizer}")));
        if let Some(location) = &self.location {
            event.location(location);
        }
        for attendee in &self.attendees {
            // Repeated properties go through the multi-property list; the
            // plain one keeps only the last of a name.
            event.append_multi_property(
                Property::new("ATTENDEE", format!("mailto:{attendee}"))
                    .add_parameter("ROLE", "REQ-PARTICIPANT")
                    .done(),
            );
        }
        if self.cancelled {
            event.status(EventStatus::Cancelled);
        }
        let mut calendar = Calendar::new();
        calendar
            .append_property(Property::new("METHOD", self.method()))
            .push(event.done());
        calendar.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn invitation() -> Invitation {
        Invitation {
            uid: "meeting-7@hive.test".into(),
            sequence: 2,
            cancelled: false,
            starts_at: Utc.with_ymd_and_hms(2026, 12, 1, 14, 0, 0).unwrap(),
            duration_minutes: 90,
            summary: "Hive: Ann and Calder Bakers".into(),
            location: Some("Hebden Bridge; upstairs".into()),
            description: "Mentoring meeting".into(),
            attendees: vec!["ann@example.coop".into(), "bob@calder.coop".into()],
        }
    }

    #[test]
    fn a_request_carries_uid_sequence_and_times_in_utc() {
        let ics = invitation().to_ics("hive@hive.test");
        assert!(ics.contains("METHOD:REQUEST\r\n"), "{ics}");
        assert!(ics.contains("UID:meeting-7@hive.test\r\n"));
        assert!(ics.contains("SEQUENCE:2\r\n"));
        assert!(ics.contains("DTSTART:20261201T140000Z\r\n"));
        assert!(ics.contains("DTEND:20261201T153000Z\r\n"));
        assert!(ics.contains("ORGANIZER:mailto:hive@hive.test\r\n"));
        assert!(ics.contains("ATTENDEE;ROLE=REQ-PARTICIPANT:mailto:ann@example.coop\r\n"));
        assert!(ics.contains("ATTENDEE;ROLE=REQ-PARTICIPANT:mailto:bob@calder.coop\r\n"));
        // A semicolon in text is escaped, not read as a parameter.
        assert!(ics.contains("LOCATION:Hebden Bridge\\; upstairs"));
    }

    #[test]
    fn a_cancellation_says_so() {
        let mut cancelled = invitation();
        cancelled.cancelled = true;
        let ics = cancelled.to_ics("hive@hive.test");
        assert!(ics.contains("METHOD:CANCEL\r\n"));
        assert!(ics.contains("STATUS:CANCELLED\r\n"));
        assert_eq!(cancelled.method(), "CANCEL");
    }
}
