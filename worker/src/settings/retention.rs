//! How long personal data that a programme only needs for a while is kept
//! (DESIGN.md, "People and their data"): the `HIVE_RETENTION_*` variables.
//! The job that applies them is `jobs::retention`; the README gives each
//! default's reason.

use super::{SettingsError, VARIABLES, invalid};

/// The retention periods, each a positive whole number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Meeting notes and learning are cleared this many months after the
    /// meeting's start (`HIVE_RETENTION_NOTES_MONTHS`).
    pub notes_months: u32,
    /// A concern's details and outcome are cleared this many months after it
    /// was resolved (`HIVE_RETENTION_CONCERNS_MONTHS`); open concerns are kept.
    pub concerns_months: u32,
    /// The body (template context) of an email that has gone (SENT), will not
    /// go (SUPPRESSED) or gave up (DEAD) is cleared this many days after its
    /// last change (`HIVE_RETENTION_EMAIL_DAYS`); the delivery record stays.
    pub email_days: u32,
}

impl Default for Retention {
    fn default() -> Self {
        Self::read(|_| None).expect("the built-in retention periods are valid")
    }
}

impl Retention {
    /// Reads every period through `lookup` (the environment, or a test's
    /// map); an absent variable takes its default.
    pub fn read(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        let number = |name: &str| -> Result<u32, SettingsError> {
            let raw = lookup(name).unwrap_or_else(|| {
                VARIABLES
                    .iter()
                    .find(|(variable, _)| *variable == name)
                    .map(|(_, default)| default.to_string())
                    .unwrap_or_default()
            });
            match raw.trim().parse::<u32>() {
                Ok(n) if n > 0 => Ok(n),
                _ => Err(invalid(
                    name,
                    format!("'{raw}' is not a positive whole number"),
                )),
            }
        };
        Ok(Self {
            notes_months: number("HIVE_RETENTION_NOTES_MONTHS")?,
            concerns_months: number("HIVE_RETENTION_CONCERNS_MONTHS")?,
            email_days: number("HIVE_RETENTION_EMAIL_DAYS")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_are_read_or_refused_by_name() {
        let read =
            Retention::read(|name| (name == "HIVE_RETENTION_EMAIL_DAYS").then(|| "7".into()))
                .unwrap();
        assert_eq!(read.email_days, 7);
        assert_eq!(read.notes_months, Retention::default().notes_months);
        for bad in ["0", "-1", "six", ""] {
            let error = Retention::read(|name| {
                (name == "HIVE_RETENTION_NOTES_MONTHS").then(|| bad.to_string())
            })
            .unwrap_err();
            assert_eq!(error.variable, "HIVE_RETENTION_NOTES_MONTHS", "{bad}");
        }
    }
}
