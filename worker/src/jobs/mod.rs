//! Background jobs, one module each.

pub mod concern_alerts;
pub mod inactivity_nudges;
pub mod match_notifications;
pub mod meeting_reminders;
pub mod proposal_followups;
pub mod retention;
pub mod review_reminders;
pub mod send_email;
pub mod sent_marks;
pub mod sign_in_links;
pub mod staff_digest;
pub mod survey_invitations;
