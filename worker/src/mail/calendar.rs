//! Meetings as calendar events (RFC 5545, via the `icalendar` crate), for
//! the invitations in meeting emails (RFC 5546) and for each person's
//! calendar feed alike: one stable UID per meeting, SEQUENCE raised on each
//! change so calendars update the entry instead of adding a second, and
//! STATUS:CANCELLED when it is called off.
//!
//! [`MeetingEvent::of`] is the one place a meeting becomes an event, and
//! [`MeetingEvent::vevent`] the one place an event becomes a VEVENT: the
//! emails ([`Invitation::to_ics`]) and the feed ([`feed_ics`]) both go
//! through them, so a calendar that has a meeting from an email and from the
//! feed sees the same UID, SEQUENCE, times, status and words in both.

use chrono::{DateTime, Duration, Utc};
use entity::meetings::{self, MeetingFormat, MeetingStatus};
use icalendar::{Calendar, Component, Event, EventLike, EventStatus, Property};
use serde::{Deserialize, Serialize};

/// Names Hive as the maker of every calendar object it writes (RFC 5545
/// §3.7.3: a globally unique name of the product).
const PRODUCT_ID: &str = "-//Hive//Hive meetings//EN";

/// How a format reads in a sentence.
pub fn format_in_words(format: MeetingFormat) -> &'static str {
    match format {
        MeetingFormat::InPerson => "face to face",
        MeetingFormat::InPersonGroup => "face to face, with a group",
        MeetingFormat::Phone => "by telephone",
        MeetingFormat::Video => "by video call",
        MeetingFormat::Email => "by email",
    }
}

/// A meeting's UID (RFC 5545 §3.8.4.7): the same in every message about it
/// and in every feed, for as long as Hive's public address stays the same.
/// The host of `public_url` makes it unique beyond this Hive.
pub fn meeting_uid(meeting_id: i64, public_url: &str) -> String {
    let host = url::Url::parse(public_url)
        .ok()
        .and_then(|url| url.host_str().map(str::to_string))
        .unwrap_or_else(|| "hive.localhost".into());
    format!("meeting-{meeting_id}@{host}")
}

/// Which side of an engagement an event is written for. Each side is told
/// of the other by role, never by comparing names (a member named like their
/// mentor must not read of a meeting with their own co-op): the provider's
/// event names the co-op, the co-op's members' event names the provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The mentor or adviser.
    Provider,
    /// The co-op's members (or its contact address).
    Client,
}

/// What a calendar says of one meeting, for one side. Kept in an email's
/// context (inside [`Invitation`]) so the message can be rendered again on a
/// retry exactly as it was meant; built afresh for each feed.
///
/// It never holds the meeting's private notes or learning: the feed is a
/// bearer URL that calendar services fetch and keep.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MeetingEvent {
    /// The same for every message about one meeting ([`meeting_uid`]).
    pub uid: String,
    /// The meeting's SEQUENCE: raised by every move and the cancellation, in
    /// the transaction that makes the change.
    pub sequence: u32,
    pub cancelled: bool,
    pub starts_at: DateTime<Utc>,
    pub duration_minutes: i64,
    pub summary: String,
    pub location: Option<String>,
    pub description: String,
}

impl MeetingEvent {
    /// The event of `meeting` for `side`, as it stands: `provider` is the
    /// provider's name, `organisation` the co-op's. A meeting that was
    /// cancelled, or recorded as not held, is CANCELLED.
    pub fn of(
        public_url: &str,
        meeting: &meetings::Model,
        provider: &str,
        organisation: &str,
        side: Side,
    ) -> Self {
        let other_party = match side {
            Side::Provider => organisation,
            Side::Client => provider,
        };
        let what = if meeting.is_final {
            "final meeting"
        } else {
            "meeting"
        };
        MeetingEvent {
            uid: meeting_uid(meeting.id, public_url),
            sequence: u32::try_from(meeting.sequence).unwrap_or(0),
            cancelled: meeting.status == MeetingStatus::Cancelled,
            starts_at: meeting.starts_at,
            duration_minutes: i64::from(meeting.duration_minutes),
            summary: format!("Hive: {what} with {other_party}"),
            location: meeting.location.clone(),
            description: format!(
                "A {what} of the Hive programme with {other_party}, {}.",
                format_in_words(meeting.format)
            ),
        }
    }

    /// The VEVENT. `stamp` is its DTSTAMP (RFC 5545 §3.8.7.2): when the
    /// message was made, in an email (which has a METHOD); when the meeting
    /// was last changed, in the feed (which has none).
    pub fn vevent(&self, stamp: DateTime<Utc>) -> Event {
        let mut event = Event::new();
        event
            .uid(&self.uid)
            .sequence(self.sequence)
            .timestamp(stamp)
            .starts(self.starts_at)
            .ends(self.starts_at + Duration::minutes(self.duration_minutes))
            .summary(&self.summary)
            .description(&self.description)
            .status(if self.cancelled {
                EventStatus::Cancelled
            } else {
                EventStatus::Confirmed
            });
        if let Some(location) = &self.location {
            event.location(location);
        }
        event
    }
}

/// What an email's invitation says: the meeting's event for the recipient's
/// side, and who attends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invitation {
    /// Flattened, so the JSON kept in an email's context has the shape it
    /// had before the event was a type of its own (rows written then still
    /// render).
    #[serde(flatten)]
    pub event: MeetingEvent,
    /// Both parties' addresses.
    pub attendees: Vec<String>,
}

impl Invitation {
    /// `REQUEST` or `CANCEL`: also goes in the MIME type of the part.
    pub fn method(&self) -> &'static str {
        if self.event.cancelled {
            "CANCEL"
        } else {
            "REQUEST"
        }
    }

    /// The `text/calendar` body; `organizer` is Hive's own address.
    pub fn to_ics(&self, organizer: &str) -> String {
        let mut event = self.event.vevent(Utc::now());
        event.append_property(Property::new("ORGANIZER", format!("mailto:{organizer}")));
        for attendee in &self.attendees {
            // Repeated properties go through the multi-property list; the
            // plain one keeps only the last of a name.
            event.append_multi_property(
                Property::new("ATTENDEE", format!("mailto:{attendee}"))
                    .add_parameter("ROLE", "REQ-PARTICIPANT")
                    .done(),
            );
        }
        let mut calendar = calendar();
        calendar
            .append_property(Property::new("METHOD", self.method()))
            .push(event.done());
        calendar.to_string()
    }
}

/// How often a subscribed calendar should fetch the feed again: RFC 7986's
/// REFRESH-INTERVAL, and Outlook's X-PUBLISHED-TTL, which says the same.
/// (Google Calendar keeps its own schedule, several hours apart.)
pub const FEED_REFRESH: &str = "PT1H";

/// A person's calendar feed: a published calendar (RFC 5545) of `events`,
/// each with its DTSTAMP, under the name `name`.
///
/// It has no METHOD. RFC 5545 §3.7.2: without one, "the iCalendar object is
/// merely being used to transport a snapshot of some calendar information;
/// without the intention of conveying a scheduling semantic", which is what
/// a subscription is. METHOD:CANCEL would be wrong here (RFC 5546 §3.2.5: a
/// scheduling message from the organizer, which takes the event out of the
/// calendar), and METHOD:PUBLISH (RFC 5546 §3.2.1) makes the file an iTIP
/// message whose VEVENTs must name an ORGANIZER, whose address a bearer URL
/// has no business carrying. A cancelled meeting therefore stays in the feed
/// with STATUS:CANCELLED and its raised SEQUENCE, as calendars show one.
///
/// Nor do the feed's events name ORGANIZER or ATTENDEEs: they would put the
/// parties' addresses in a file calendar services fetch and keep, and would
/// make some calendars offer to answer an invitation that was never sent.
pub fn feed_ics(name: &str, events: &[(MeetingEvent, DateTime<Utc>)]) -> String {
    let mut calendar = calendar();
    calendar.name(name);
    calendar.append_property(
        Property::new("REFRESH-INTERVAL", FEED_REFRESH)
            .add_parameter("VALUE", "DURATION")
            .done(),
    );
    calendar.append_property(Property::new("X-PUBLISHED-TTL", FEED_REFRESH));
    for (event, stamp) in events {
        calendar.push(event.vevent(*stamp).done());
    }
    let ics = calendar.to_string();
    if !events.is_empty() {
        return ics;
    }
    // RFC 5545 §3.6: a calendar holds at least one component, and a feed of
    // someone with no meeting yet (staff; a mentor who subscribes first)
    // would hold none. A time zone definition is a component that shows
    // nothing in any calendar application.
    match ics.strip_suffix(END_OF_CALENDAR) {
        Some(head) => format!("{head}{UTC_TIME_ZONE}{END_OF_CALENDAR}"),
        None => ics,
    }
}

const END_OF_CALENDAR: &str = "END:VCALENDAR\r\n";

/// The UTC time zone as a VTIMEZONE (RFC 5545 §3.6.5: TZID and one STANDARD
/// with DTSTART and both offsets): the component of an empty feed.
const UTC_TIME_ZONE: &str = "BEGIN:VTIMEZONE\r\nTZID:UTC\r\nBEGIN:STANDARD\r\nDTSTART:19700101T000000\r\nTZOFFSETFROM:+0000\r\nTZOFFSETTO:+0000\r\nTZNAME:UTC\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n";

/// An empty calendar with Hive's product id.
fn calendar() -> Calendar {
    let mut calendar = Calendar::empty();
    calendar
        .append_property(Property::new("VERSION", "2.0"))
        .append_property(Property::new("PRODID", PRODUCT_ID))
        .append_property(Property::new("CALSCALE", "GREGORIAN"));
    calendar
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn meeting() -> meetings::Model {
        let at = Utc.with_ymd_and_hms(2026, 12, 1, 14, 0, 0).unwrap();
        meetings::Model {
            id: 7,
            engagement_id: 3,
            starts_at: at,
            duration_minutes: 90,
            format: MeetingFormat::InPerson,
            location: Some("Hebden Bridge; upstairs".into()),
            is_final: false,
            status: MeetingStatus::Scheduled,
            days_counted: None,
            notes: Some("private notes".into()),
            learning: Some("programme learning".into()),
            sequence: 2,
            scheduled_by_user_id: None,
            created_at: at,
            updated_at: at,
        }
    }

    fn invitation() -> Invitation {
        Invitation {
            event: MeetingEvent::of(
                "https://hive.test",
                &meeting(),
                "Ann",
                "Calder Bakers",
                Side::Client,
            ),
            attendees: vec!["ann@example.coop".into(), "bob@calder.coop".into()],
        }
    }

    #[test]
    fn a_request_carries_uid_sequence_and_times_in_utc() {
        let ics = invitation().to_ics("hive@hive.test");
        assert!(ics.contains("METHOD:REQUEST\r\n"), "{ics}");
        assert!(ics.contains("UID:meeting-7@hive.test\r\n"));
        assert!(ics.contains("SEQUENCE:2\r\n"));
        assert!(ics.contains("STATUS:CONFIRMED\r\n"));
        assert!(ics.contains("DTSTART:20261201T140000Z\r\n"));
        assert!(ics.contains("DTEND:20261201T153000Z\r\n"));
        assert!(ics.contains("ORGANIZER:mailto:hive@hive.test\r\n"));
        assert!(ics.contains("ATTENDEE;ROLE=REQ-PARTICIPANT:mailto:ann@example.coop\r\n"));
        assert!(ics.contains("ATTENDEE;ROLE=REQ-PARTICIPANT:mailto:bob@calder.coop\r\n"));
        assert!(ics.contains(&format!("PRODID:{PRODUCT_ID}\r\n")));
        // A semicolon in text is escaped, not read as a parameter.
        assert!(ics.contains("LOCATION:Hebden Bridge\\; upstairs"));
    }

    #[test]
    fn a_cancellation_says_so() {
        let mut cancelled = invitation();
        cancelled.event.cancelled = true;
        let ics = cancelled.to_ics("hive@hive.test");
        assert!(ics.contains("METHOD:CANCEL\r\n"));
        assert!(ics.contains("STATUS:CANCELLED\r\n"));
        assert_eq!(cancelled.method(), "CANCEL");
    }

    #[test]
    fn each_side_reads_of_the_other_by_role() {
        // Named alike: the words still follow the side, not the names.
        let mut meeting = meeting();
        meeting.is_final = true;
        let provider = MeetingEvent::of("http://h", &meeting, "Sam", "Sam", Side::Provider);
        assert_eq!(provider.summary, "Hive: final meeting with Sam");
        let provider = MeetingEvent::of("http://h", &meeting, "Ann", "Calder", Side::Provider);
        let client = MeetingEvent::of("http://h", &meeting, "Ann", "Calder", Side::Client);
        assert_eq!(provider.summary, "Hive: final meeting with Calder");
        assert_eq!(client.summary, "Hive: final meeting with Ann");
        assert!(client.description.contains("face to face"));
        assert_eq!(provider.uid, client.uid);
        assert_eq!(provider.sequence, client.sequence);
    }

    #[test]
    fn an_invitation_kept_before_the_event_type_still_reads() {
        // The shape of the JSON in emails written by earlier releases.
        let kept = serde_json::json!({
            "uid": "meeting-7@hive.test", "sequence": 1, "cancelled": false,
            "starts_at": "2026-12-01T14:00:00Z", "duration_minutes": 60,
            "summary": "Hive: Ann and Calder Bakers", "location": null,
            "description": "A meeting", "attendees": ["ann@example.coop"],
        });
        let invitation: Invitation = serde_json::from_value(kept.clone()).unwrap();
        assert_eq!(invitation.event.sequence, 1);
        assert_eq!(serde_json::to_value(&invitation).unwrap(), kept);
    }

    #[test]
    fn the_feed_is_a_published_calendar_without_notes_or_addresses() {
        let mut cancelled = meeting();
        cancelled.id = 8;
        cancelled.status = MeetingStatus::Cancelled;
        cancelled.sequence = 3;
        let stamp = Utc.with_ymd_and_hms(2026, 11, 30, 9, 0, 0).unwrap();
        let events = [
            MeetingEvent::of(
                "https://hive.test",
                &meeting(),
                "Ann",
                "Calder",
                Side::Client,
            ),
            MeetingEvent::of(
                "https://hive.test",
                &cancelled,
                "Ann",
                "Calder",
                Side::Client,
            ),
        ]
        .map(|event| (event, stamp));
        let ics = feed_ics("Hive meetings", &events);
        assert!(!ics.contains("METHOD"), "{ics}");
        assert!(ics.contains("X-WR-CALNAME:Hive meetings\r\n"), "{ics}");
        assert!(
            ics.contains("REFRESH-INTERVAL;VALUE=DURATION:PT1H\r\n"),
            "{ics}"
        );
        assert!(ics.contains("X-PUBLISHED-TTL:PT1H\r\n"), "{ics}");
        assert!(ics.contains("DTSTAMP:20261130T090000Z\r\n"), "{ics}");
        assert!(ics.contains("UID:meeting-8@hive.test\r\n"), "{ics}");
        assert!(ics.contains("SEQUENCE:3\r\n"), "{ics}");
        assert!(ics.contains("STATUS:CANCELLED\r\n"), "{ics}");
        assert_eq!(ics.matches("BEGIN:VEVENT").count(), 2);
        for absent in [
            "private notes",
            "programme learning",
            "ORGANIZER",
            "ATTENDEE",
        ] {
            assert!(!ics.contains(absent), "{absent} in {ics}");
        }
        // The same meetings give the same bytes (the feed's ETag).
        assert_eq!(ics, feed_ics("Hive meetings", &events));
        // An empty feed is still a calendar, with a component (RFC 5545 §3.6).
        let empty = feed_ics("Hive meetings", &[]);
        assert!(empty.starts_with("BEGIN:VCALENDAR\r\n") && empty.ends_with("END:VCALENDAR\r\n"));
        assert!(
            empty.contains("\r\nBEGIN:VTIMEZONE\r\nTZID:UTC\r\n"),
            "{empty}"
        );
    }
}
