//! Background jobs, one module each.

pub mod proposal_followups;
pub mod review_reminders;
pub mod send_email;
