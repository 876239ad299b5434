//! The regions the programme works in. A fixed list, so filters and matching
//! compare like with like; changing it is a code change, deliberately.

pub const UK_REGIONS: &[&str] = &[
    "North East",
    "North West",
    "Yorkshire and the Humber",
    "East Midlands",
    "West Midlands",
    "East of England",
    "London",
    "South East",
    "South West",
    "Wales",
    "Scotland",
    "Northern Ireland",
];

/// The canonical spelling of a region, matched without regard to case.
pub fn canonical_region(input: &str) -> Option<&'static str> {
    let input = input.trim();
    UK_REGIONS
        .iter()
        .copied()
        .find(|region| region.eq_ignore_ascii_case(input))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_are_matched_loosely_and_returned_canonically() {
        assert_eq!(canonical_region(" north west "), Some("North West"));
        assert_eq!(canonical_region("Atlantis"), None);
    }
}
