//! Background jobs, one module each.

pub mod send_email;
