//! The addresses erased people and co-ops are given, and the rule that no
//! email ever goes to one.
//!
//! `users.email` is NOT NULL and unique, so an erased person's address is
//! replaced rather than cleared: `erased-user-<id>@erased.invalid`, one per
//! person so the unique key holds. `.invalid` is reserved by RFC 2606 (and
//! RFC 6761 §6.4) for names that can never resolve, so no message could be
//! delivered there even if one were sent; the worker suppresses every email
//! to the domain before it reaches the SMTP server
//! (`jobs::send_email::prepare`), so none is even tried.

/// The reserved domain of erased addresses.
pub const ERASED_DOMAIN: &str = "erased.invalid";

/// The address an erased person's account is left with.
pub fn erased_user_address(user_id: i64) -> String {
    format!("erased-user-{user_id}@{ERASED_DOMAIN}")
}

/// The address that stands for an erased co-op's contact address where a
/// column needs one (the emails it was sent, its survey invitations).
pub fn erased_organisation_address(organisation_id: i64) -> String {
    format!("erased-organisation-{organisation_id}@{ERASED_DOMAIN}")
}

/// Whether `address` is an erased one (any case): never mailed.
pub fn is_erased_address(address: &str) -> bool {
    address
        .trim()
        .rsplit_once('@')
        .is_some_and(|(_, domain)| domain.eq_ignore_ascii_case(ERASED_DOMAIN))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erased_addresses_are_recognised_and_others_are_not() {
        assert!(is_erased_address(&erased_user_address(7)));
        assert!(is_erased_address(&erased_organisation_address(7)));
        assert!(is_erased_address("Someone@Erased.Invalid"));
        assert!(!is_erased_address("ann@ouseburn.coop"));
        assert!(!is_erased_address("erased.invalid@example.org"));
        assert!(!is_erased_address("x@not-erased.invalid"));
    }
}
