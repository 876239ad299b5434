//! Background jobs, one module each.

pub mod proposal_followups;
pub mod send_email;
