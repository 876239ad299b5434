//! The programme's rules about requests and engagements, as plain functions
//! with no HTTP or SQL in them: what may happen in which state, and the day
//! budgets. The operations beside this module ask them before they change
//! anything, and the GraphQL types ask them for derived fields.

use entity::{
    engagements::EngagementStatus,
    support_requests::{EngagementKind, SupportRequestStatus},
};

/// How far ahead a meeting may be booked or a survey set to close: an
/// engagement's few days are spread over weeks or months and a census runs
/// for some, so two years leaves room; anything later is a mistyped year.
pub fn farthest_ahead() -> chrono::Duration {
    chrono::Duration::days(2 * 366)
}

/// Days a provider may be allocated for one engagement of each kind.
pub fn allowed_days(kind: EngagementKind) -> std::ops::RangeInclusive<i32> {
    match kind {
        EngagementKind::Mentoring => 3..=4,
        EngagementKind::Advice => 2..=7,
    }
}

/// Checks an allocation; the error is a sentence for the person entering it.
pub fn check_days(kind: EngagementKind, days: i32) -> Result<(), String> {
    let range = allowed_days(kind);
    if range.contains(&days) {
        Ok(())
    } else {
        let what = match kind {
            EngagementKind::Mentoring => "Mentoring",
            EngagementKind::Advice => "Advice",
        };
        Err(format!(
            "{what} is allocated {} to {} days.",
            range.start(),
            range.end()
        ))
    }
}

/// A request still open to being matched (and so to being withdrawn, declined
/// or proposed against).
pub fn request_is_open(status: SupportRequestStatus) -> bool {
    matches!(
        status,
        SupportRequestStatus::Submitted | SupportRequestStatus::Matching
    )
}

/// Why a request in `status` cannot take a new action; `None` when it can.
pub fn request_closed_reason(status: SupportRequestStatus) -> Option<&'static str> {
    match status {
        SupportRequestStatus::Submitted | SupportRequestStatus::Matching => None,
        SupportRequestStatus::Matched => Some("This request is already matched."),
        SupportRequestStatus::Closed => Some("This request is closed."),
        SupportRequestStatus::Declined => Some("This request was declined."),
        SupportRequestStatus::Withdrawn => Some("This request was withdrawn."),
    }
}

/// Engagements that count against a provider's capacity and that block a
/// second proposal on the same request.
pub fn engagement_is_current(status: EngagementStatus) -> bool {
    matches!(
        status,
        EngagementStatus::Proposed | EngagementStatus::Active
    )
}

/// A provider who said no to, or walked away from, a request is not offered
/// it again.
pub fn engagement_excludes_provider(status: EngagementStatus) -> bool {
    matches!(
        status,
        EngagementStatus::Declined | EngagementStatus::EndedEarly
    )
}

/// Days are counted in quarter days.
pub const DAY_STEP: f64 = 0.25;

/// Checks the days a held meeting counts against what is left of the
/// allocation; the error is a sentence for the person recording it.
pub fn check_days_counted(allocated: i32, used: f64, counted: f64) -> Result<(), String> {
    if !counted.is_finite() || counted < 0.0 {
        return Err("Count zero or more days.".into());
    }
    if ((counted / DAY_STEP).round() * DAY_STEP - counted).abs() > 1e-9 {
        return Err("Count days in quarters (0.25, 0.5, 0.75, 1, …).".into());
    }
    let left = allocated as f64 - used;
    if counted > left + 1e-9 {
        return Err(format!(
            "That would pass the allocation: {used} of {allocated} days are used, {left} left."
        ));
    }
    Ok(())
}

/// Whether two meetings overlap in time (touching ends do not).
pub fn meetings_overlap(
    a_start: chrono::DateTime<chrono::Utc>,
    a_minutes: i32,
    b_start: chrono::DateTime<chrono::Utc>,
    b_minutes: i32,
) -> bool {
    let a_end = a_start + chrono::Duration::minutes(a_minutes as i64);
    let b_end = b_start + chrono::Duration::minutes(b_minutes as i64);
    a_start < b_end && b_start < a_end
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_budgets_by_kind() {
        assert!(check_days(EngagementKind::Mentoring, 3).is_ok());
        assert!(check_days(EngagementKind::Mentoring, 4).is_ok());
        assert_eq!(
            check_days(EngagementKind::Mentoring, 5).unwrap_err(),
            "Mentoring is allocated 3 to 4 days."
        );
        assert!(check_days(EngagementKind::Advice, 2).is_ok());
        assert!(check_days(EngagementKind::Advice, 7).is_ok());
        assert!(check_days(EngagementKind::Advice, 1).is_err());
        assert!(check_days(EngagementKind::Advice, 8).is_err());
        assert!(check_days(EngagementKind::Advice, -3).is_err());
    }

    #[test]
    fn request_states() {
        assert!(request_is_open(SupportRequestStatus::Submitted));
        assert!(request_is_open(SupportRequestStatus::Matching));
        for closed in [
            SupportRequestStatus::Matched,
            SupportRequestStatus::Closed,
            SupportRequestStatus::Declined,
            SupportRequestStatus::Withdrawn,
        ] {
            assert!(!request_is_open(closed));
            assert!(request_closed_reason(closed).is_some());
        }
    }

    #[test]
    fn engagement_states() {
        assert!(engagement_is_current(EngagementStatus::Proposed));
        assert!(engagement_is_current(EngagementStatus::Active));
        assert!(!engagement_is_current(EngagementStatus::Declined));
        assert!(engagement_excludes_provider(EngagementStatus::Declined));
        assert!(engagement_excludes_provider(EngagementStatus::EndedEarly));
        assert!(!engagement_excludes_provider(EngagementStatus::Expired));
    }

    #[test]
    fn days_counted_in_quarters_within_the_allocation() {
        assert!(check_days_counted(3, 0.0, 1.0).is_ok());
        assert!(check_days_counted(3, 2.5, 0.5).is_ok());
        assert!(
            check_days_counted(3, 2.5, 0.75)
                .unwrap_err()
                .contains("pass the allocation")
        );
        assert!(check_days_counted(3, 0.0, 0.3).is_err());
        assert!(check_days_counted(3, 0.0, -1.0).is_err());
        assert!(check_days_counted(3, 0.0, f64::NAN).is_err());
    }

    #[test]
    fn overlaps() {
        let at = |h: i64| chrono::DateTime::<chrono::Utc>::UNIX_EPOCH + chrono::Duration::hours(h);
        assert!(meetings_overlap(at(10), 120, at(11), 60));
        assert!(
            !meetings_overlap(at(10), 60, at(11), 60),
            "touching ends are fine"
        );
        assert!(!meetings_overlap(at(10), 60, at(12), 60));
    }
}
