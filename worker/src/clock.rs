//! The time as the staff digest reads it: the system clock, which tests can
//! move forward to a Monday morning instead of waiting for one.

use std::sync::{
    Arc,
    atomic::{AtomicI64, Ordering},
};

use chrono::{DateTime, Duration, Utc};

/// The system clock plus an offset that starts at zero. Clones share the
/// offset, so a test that moves the clock of its settings moves it for every
/// worker started from those settings. Only the staff digest reads it so far;
/// the other jobs read the system clock.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    offset_ms: Arc<AtomicI64>,
}

impl Clock {
    /// The time now, as this clock has it.
    pub fn now(&self) -> DateTime<Utc> {
        Utc::now() + Duration::milliseconds(self.offset_ms.load(Ordering::SeqCst))
    }

    /// From this moment on [`Clock::now`] reads `at`, and runs on from there
    /// as the system clock does.
    pub fn set(&self, at: DateTime<Utc>) {
        let offset = at - Utc::now();
        self.offset_ms
            .store(offset.num_milliseconds(), Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_set_clock_reads_the_new_time_and_runs_on() {
        let clock = Clock::default();
        let shared = clock.clone();
        let monday = DateTime::parse_from_rfc3339("2026-11-23T07:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        clock.set(monday);
        let read = shared.now();
        assert!(
            read >= monday && read < monday + Duration::seconds(5),
            "{read}"
        );
    }
}
