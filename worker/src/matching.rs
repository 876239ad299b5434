//! Matching: which providers (peer mentors or specialist advisers) to suggest
//! for a co-op's support request, in what order, and why — in words a
//! programme staff member reads. Plain code with no HTTP or SQL: the API loads
//! the request and the candidates and calls [`rank`].
//!
//! Who is left out (DESIGN.md, "Rules that matter"): inactive providers, the
//! wrong kind, a mentor whose home co-op is the requesting co-op, anyone with
//! no place free, and anyone who declined or ended an earlier engagement on
//! the same request.
//!
//! The order is lexicographic: topics covered, then fit (one point each for
//! same sector, same region, and offering at least one preferred format), then
//! the share of places free, then the review average (3.0 when there are no
//! reviews, so newcomers are neither helped nor held back); ties by name
//! (case-insensitive), then provider id. The score shows that order as one
//! number:
//!
//! `score = 1 000 000 × topics covered + 100 000 × fit + 10 × ‰ of places free + review`
//!
//! Every term stays below one unit of the term before it (fit ≤ 3 < 10;
//! 10 × 1000‰ = 10 000 < 100 000; reviews lie in 1–5, a spread of 4 < 10), so
//! a higher term always wins whatever the lower ones say, and the digits read
//! left to right: `3 303 334.6` is 3 topics, 3 fits, 333‰ free, reviews 4.6.
//! The share free is compared in whole per mille, which tells apart every two
//! different shares for capacities up to 31; closer shares count as the same
//! load and reviews decide.
//!
//! Cost: one pass over the candidates with no allocation per candidate (each
//! of their topics is one table look-up), then a partial sort for the best
//! `limit`; reasons are written only for those.

use std::{cmp::Ordering, collections::HashSet};

/// Mentor or adviser: a mentoring request wants a mentor, advice an adviser.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderKind {
    Mentor,
    Adviser,
}

/// How a meeting is held: a request may prefer some, a provider offers some.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MeetingFormat {
    InPerson,
    InPersonGroup,
    Phone,
    Video,
    Email,
}

impl MeetingFormat {
    /// The words used in reasons, as staff say them.
    pub fn words(self) -> &'static str {
        match self {
            MeetingFormat::InPerson => "in person",
            MeetingFormat::InPersonGroup => "in person group",
            MeetingFormat::Phone => "phone",
            MeetingFormat::Video => "video",
            MeetingFormat::Email => "email",
        }
    }

    /// One bit per format, so a set of formats is a byte.
    fn bit(self) -> u8 {
        match self {
            MeetingFormat::InPerson => 1,
            MeetingFormat::InPersonGroup => 1 << 1,
            MeetingFormat::Phone => 1 << 2,
            MeetingFormat::Video => 1 << 3,
            MeetingFormat::Email => 1 << 4,
        }
    }
}

fn format_set(formats: &[MeetingFormat]) -> u8 {
    formats.iter().fold(0, |set, f| set | f.bit())
}

/// A topic or a sector, with its name already resolved by the caller: ids
/// decide matches, names are only for reasons.
#[derive(Debug, Clone, PartialEq)]
pub struct Topic {
    pub id: i64,
    pub name: String,
}

/// Sectors have the same shape as topics.
pub type Sector = Topic;

/// What the request asks for, with what ranking needs of its co-op.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestProfile {
    /// The kind of provider wanted.
    pub kind: ProviderKind,
    /// The requesting co-op: a mentor from it is never suggested.
    pub organisation_id: i64,
    /// In the request's order, which reasons keep; duplicates count once.
    pub topics: Vec<Topic>,
    /// The co-op's sector.
    pub sector: Option<Sector>,
    /// The co-op's region (free text; compared ignoring case and outer spaces).
    pub region: String,
    /// Preferred formats; empty means no preference.
    pub formats: Vec<MeetingFormat>,
    /// Providers who declined or ended an earlier engagement on this request
    /// (and any already proposed or engaged on it).
    pub excluded_provider_ids: Vec<i64>,
}

/// A provider who might be suggested, with their current load and reviews.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub provider_id: i64,
    pub name: String,
    pub kind: ProviderKind,
    /// Inactive providers are never suggested.
    pub active: bool,
    /// A mentor's own co-op, which they cannot mentor.
    pub home_organisation_id: Option<i64>,
    pub topics: Vec<Topic>,
    pub sectors: Vec<Sector>,
    pub regions: Vec<String>,
    pub formats: Vec<MeetingFormat>,
    /// Engagements allowed at once.
    pub capacity: u32,
    /// Engagements now ACTIVE or PROPOSED.
    pub load: u32,
    /// Mean rating 1–5 over past reviews; `None` (or NaN) when there are none.
    pub review_average: Option<f64>,
    pub review_count: u32,
}

/// One suggestion, with the reasons behind its place.
#[derive(Debug, Clone, PartialEq)]
pub struct Suggestion {
    pub provider_id: i64,
    /// 1 for the best.
    pub rank: u32,
    /// Higher is better; never higher than the score of a better rank. See
    /// the module documentation for its make-up.
    pub score: f64,
    /// Short phrases, in a fixed order: topics, sector, region, formats,
    /// places, reviews.
    pub reasons: Vec<String>,
    /// The reasons joined with " · ", for one line in a list.
    pub summary: String,
}

/// A provider with no reviews yet ranks as if rated this: neither helped nor
/// held back by having no history.
const NEUTRAL_REVIEW: f64 = 3.0;

/// Where a candidate stands, compared field by field: this is the order.
#[derive(Debug, Clone, Copy)]
struct Standing {
    /// Distinct request topics the candidate covers.
    covered: u32,
    /// Same sector + same region + offers a preferred format, 0–3.
    fit: u32,
    /// Share of places free, in whole per mille (0–1000).
    free_permille: u32,
    /// Review average clamped to 1–5, or [`NEUTRAL_REVIEW`].
    review: f64,
}

impl Standing {
    fn score(self) -> f64 {
        1_000_000.0 * f64::from(self.covered)
            + 100_000.0 * f64::from(self.fit)
            + 10.0 * f64::from(self.free_permille)
            + self.review
    }

    /// Better first.
    fn better(self, other: Self) -> Ordering {
        other
            .covered
            .cmp(&self.covered)
            .then(other.fit.cmp(&self.fit))
            .then(other.free_permille.cmp(&self.free_permille))
            .then(other.review.total_cmp(&self.review))
    }
}

/// The place of each of the request's distinct topics, found from a topic id.
/// Topic ids come from a small staff-managed vocabulary, so a table indexed
/// by id is the usual case (one load per look-up, where hashing or binary
/// search cost ten times more over 10,000 candidates × tens of topics); ids
/// far apart fall back to binary search.
enum TopicPlaces {
    Table { first: i64, places: Vec<u32> },
    Sorted(Vec<(i64, u32)>),
}

/// The widest id range given a table (256 KiB at most).
const TABLE_SPAN: u64 = 1 << 16;

impl TopicPlaces {
    fn new(wanted: &[&Topic]) -> Self {
        let mut sorted: Vec<(i64, u32)> = (0u32..).zip(wanted).map(|(p, t)| (t.id, p)).collect();
        sorted.sort_unstable();
        let (Some(&(first, _)), Some(&(last, _))) = (sorted.first(), sorted.last()) else {
            return TopicPlaces::Sorted(sorted);
        };
        match Self::offset(first, last) {
            Some(span) if (span as u64) < TABLE_SPAN => {
                // 0 means "not wanted", so places are stored plus one.
                let mut places = vec![0; span + 1];
                for &(id, place) in &sorted {
                    if let Some(at) = Self::offset(first, id) {
                        places[at] = place + 1;
                    }
                }
                TopicPlaces::Table { first, places }
            }
            _ => TopicPlaces::Sorted(sorted),
        }
    }

    /// `id - first` when `id` is not below `first`, without overflow.
    fn offset(first: i64, id: i64) -> Option<usize> {
        id.checked_sub(first).and_then(|d| usize::try_from(d).ok())
    }

    fn place(&self, id: i64) -> Option<usize> {
        match self {
            TopicPlaces::Table { first, places } => {
                let stored = *places.get(Self::offset(*first, id)?)?;
                stored.checked_sub(1).map(|p| p as usize)
            }
            TopicPlaces::Sorted(sorted) => sorted
                .binary_search_by_key(&id, |&(id, _)| id)
                .ok()
                .map(|at| sorted[at].1 as usize),
        }
    }
}

struct Scored<'a> {
    candidate: &'a Candidate,
    standing: Standing,
}

/// The candidate's review average if it is a usable number, kept within 1–5
/// so that reviews can never outweigh a difference in load.
fn review(candidate: &Candidate) -> Option<f64> {
    candidate
        .review_average
        .filter(|r| r.is_finite())
        .map(|r| r.clamp(1.0, 5.0))
}

/// Equal ignoring case and outer spaces; an empty region matches nothing.
fn same_words(a: &str, b: &str) -> bool {
    let (a, b) = (a.trim(), b.trim());
    if a.is_empty() {
        false
    } else if a.is_ascii() && b.is_ascii() {
        a.eq_ignore_ascii_case(b)
    } else {
        a.chars()
            .flat_map(char::to_lowercase)
            .eq(b.chars().flat_map(char::to_lowercase))
    }
}

/// Names ignoring case. The ASCII path gives the same answer as the Unicode
/// one for ASCII names, only without the case tables, so the order is one.
fn by_name(a: &str, b: &str) -> Ordering {
    if a.is_ascii() && b.is_ascii() {
        a.bytes()
            .map(|c| c.to_ascii_lowercase())
            .cmp(b.bytes().map(|c| c.to_ascii_lowercase()))
    } else {
        a.chars()
            .flat_map(char::to_lowercase)
            .cmp(b.chars().flat_map(char::to_lowercase))
    }
}

/// Ranks `candidates` for `request` and returns the best `limit`, each with
/// its rank, score and reasons. Candidates who may not be suggested are
/// simply absent.
pub fn rank(request: &RequestProfile, candidates: &[Candidate], limit: usize) -> Vec<Suggestion> {
    if limit == 0 {
        return Vec::new();
    }
    let excluded: HashSet<i64> = request.excluded_provider_ids.iter().copied().collect();
    // The request's distinct topics, in its order.
    let mut distinct = HashSet::new();
    let wanted: Vec<&Topic> = request
        .topics
        .iter()
        .filter(|t| distinct.insert(t.id))
        .collect();
    let places = TopicPlaces::new(&wanted);
    let preferred = format_set(&request.formats);

    // `seen[place] == stamp` once the current candidate has counted that
    // request topic: duplicates in a candidate's list count once, with no
    // set built per candidate.
    let mut seen = vec![0usize; wanted.len()];
    let mut scored: Vec<Scored<'_>> = Vec::new();
    for (stamp, candidate) in (1..).zip(candidates) {
        let eligible = candidate.active
            && candidate.kind == request.kind
            && candidate.load < candidate.capacity
            && !excluded.contains(&candidate.provider_id)
            && !(candidate.kind == ProviderKind::Mentor
                && candidate.home_organisation_id == Some(request.organisation_id));
        if !eligible {
            continue;
        }
        let mut covered = 0;
        for topic in &candidate.topics {
            if let Some(place) = places.place(topic.id)
                && seen[place] != stamp
            {
                seen[place] = stamp;
                covered += 1;
            }
        }
        let fit = u32::from(same_sector(request, candidate))
            + u32::from(same_region(request, candidate))
            + u32::from(preferred & format_set(&candidate.formats) != 0);
        // load < capacity here, so capacity > 0 and the share is at most 1.
        let free = u64::from(candidate.capacity - candidate.load);
        let free_permille = (free * 1000 / u64::from(candidate.capacity)) as u32;
        scored.push(Scored {
            candidate,
            standing: Standing {
                covered,
                fit,
                free_permille,
                review: review(candidate).unwrap_or(NEUTRAL_REVIEW),
            },
        });
    }

    let order = |a: &Scored<'_>, b: &Scored<'_>| {
        a.standing
            .better(b.standing)
            .then_with(|| by_name(&a.candidate.name, &b.candidate.name))
            .then_with(|| a.candidate.provider_id.cmp(&b.candidate.provider_id))
    };
    if scored.len() > limit {
        scored.select_nth_unstable_by(limit - 1, order);
        scored.truncate(limit);
    }
    scored.sort_unstable_by(order);

    scored
        .into_iter()
        .enumerate()
        .map(|(index, s)| {
            let reasons = reasons(request, &wanted, &places, s.candidate);
            Suggestion {
                provider_id: s.candidate.provider_id,
                rank: u32::try_from(index + 1).unwrap_or(u32::MAX),
                score: s.standing.score(),
                summary: reasons.join(" · "),
                reasons,
            }
        })
        .collect()
}

fn same_sector(request: &RequestProfile, candidate: &Candidate) -> bool {
    request
        .sector
        .as_ref()
        .is_some_and(|sector| candidate.sectors.iter().any(|s| s.id == sector.id))
}

fn same_region(request: &RequestProfile, candidate: &Candidate) -> bool {
    candidate
        .regions
        .iter()
        .any(|region| same_words(region, &request.region))
}

/// The reasons for an eligible candidate, written from the same facts the
/// standing was computed from.
fn reasons(
    request: &RequestProfile,
    wanted: &[&Topic],
    places: &TopicPlaces,
    candidate: &Candidate,
) -> Vec<String> {
    let mut reasons = Vec::with_capacity(6);

    let mut offered = vec![false; wanted.len()];
    for topic in &candidate.topics {
        if let Some(place) = places.place(topic.id) {
            offered[place] = true;
        }
    }
    let covered: Vec<&str> = wanted
        .iter()
        .zip(&offered)
        .filter(|(_, offered)| **offered)
        .map(|(w, _)| w.name.as_str())
        .collect();
    let topics = if wanted.len() == 1 { "topic" } else { "topics" };
    if covered.is_empty() {
        reasons.push(format!("covers 0 of {} {topics}", wanted.len()));
    } else {
        reasons.push(format!(
            "covers {} of {} {topics}: {}",
            covered.len(),
            wanted.len(),
            covered.join(", ")
        ));
    }

    if let Some(sector) = &request.sector
        && same_sector(request, candidate)
    {
        reasons.push(format!("same sector: {}", sector.name));
    }
    if same_region(request, candidate) {
        reasons.push(format!("same region: {}", request.region.trim()));
    }

    // The preferred formats offered, in the request's order, each once.
    let offered = format_set(&candidate.formats);
    let mut said = 0u8;
    let mut formats = Vec::new();
    for format in &request.formats {
        if offered & format.bit() != 0 && said & format.bit() == 0 {
            said |= format.bit();
            formats.push(format.words());
        }
    }
    if !formats.is_empty() {
        reasons.push(format!("offers preferred formats: {}", formats.join(", ")));
    }

    let places = if candidate.capacity == 1 {
        "place"
    } else {
        "places"
    };
    reasons.push(format!(
        "{} of {} {places} free",
        candidate.capacity.saturating_sub(candidate.load),
        candidate.capacity
    ));

    reasons.push(match review(candidate) {
        Some(average) => format!("reviews {average:.1}/5"),
        None => "no reviews yet".to_string(),
    });
    reasons
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAMES: [&str; 8] = [
        "",
        "governance",
        "finance",
        "community shares",
        "marketing",
        "law",
        "conversion",
        "energy",
    ];

    fn topic(id: i64) -> Topic {
        Topic {
            id,
            name: NAMES[id as usize].to_string(),
        }
    }

    fn named_topic(id: i64) -> Topic {
        Topic {
            id,
            name: format!("topic {id}"),
        }
    }

    fn housing() -> Sector {
        Topic {
            id: 10,
            name: "housing".into(),
        }
    }

    /// A mentoring request from co-op 1 in the North West, housing sector,
    /// on four topics, preferring video then phone.
    fn request() -> RequestProfile {
        RequestProfile {
            kind: ProviderKind::Mentor,
            organisation_id: 1,
            topics: vec![topic(1), topic(2), topic(3), topic(4)],
            sector: Some(housing()),
            region: "North West".into(),
            formats: vec![MeetingFormat::Video, MeetingFormat::Phone],
            excluded_provider_ids: vec![],
        }
    }

    /// An active mentor from another co-op, with two places free, no fit and
    /// no reviews: each test changes only what it is about.
    fn candidate(id: i64, name: &str, topics: &[i64]) -> Candidate {
        Candidate {
            provider_id: id,
            name: name.into(),
            kind: ProviderKind::Mentor,
            active: true,
            home_organisation_id: Some(99),
            topics: topics.iter().map(|t| topic(*t)).collect(),
            sectors: vec![],
            regions: vec![],
            formats: vec![],
            capacity: 2,
            load: 0,
            review_average: None,
            review_count: 0,
        }
    }

    fn reviewed(mut c: Candidate, average: f64) -> Candidate {
        c.review_average = Some(average);
        c.review_count = 3;
        c
    }

    fn ids(suggestions: &[Suggestion]) -> Vec<i64> {
        suggestions.iter().map(|s| s.provider_id).collect()
    }

    fn ranked_ids(request: &RequestProfile, candidates: &[Candidate]) -> Vec<i64> {
        ids(&rank(request, candidates, usize::MAX))
    }

    // --- exclusions --------------------------------------------------------

    #[test]
    fn each_exclusion_leaves_the_provider_out_and_only_it() {
        type Change = fn(&mut Candidate, &mut RequestProfile);
        let cases: [(&str, Change); 8] = [
            ("inactive", |c, _| c.active = false),
            ("an adviser for a mentoring request", |c, _| {
                c.kind = ProviderKind::Adviser
            }),
            ("a mentor for an advice request", |_, r| {
                r.kind = ProviderKind::Adviser
            }),
            ("a mentor from the requesting co-op", |c, _| {
                c.home_organisation_id = Some(1)
            }),
            ("at capacity", |c, _| c.load = 2),
            ("over capacity", |c, _| c.load = 5),
            ("no capacity at all", |c, _| c.capacity = 0),
            ("declined or ended before on this request", |c, r| {
                r.excluded_provider_ids = vec![40, c.provider_id, 41]
            }),
        ];
        for (what, change) in cases {
            let mut r = request();
            let mut c = candidate(7, "Subject", &[1, 2, 3]);
            let other = candidate(8, "Other", &[1]);
            // The same two, unchanged, are both suggested.
            assert_eq!(
                ranked_ids(&r, &[c.clone(), other.clone()]),
                [7, 8],
                "{what}"
            );
            change(&mut c, &mut r);
            let mut expected = vec![8];
            if r.kind == ProviderKind::Adviser {
                expected.clear(); // "Other" is a mentor too
            }
            assert_eq!(ranked_ids(&r, &[c, other]), expected, "{what}");
        }
    }

    #[test]
    fn an_adviser_from_the_requesting_co_op_is_not_left_out() {
        let r = RequestProfile {
            kind: ProviderKind::Adviser,
            ..request()
        };
        let mut adviser = candidate(1, "Adviser", &[1]);
        adviser.kind = ProviderKind::Adviser;
        adviser.home_organisation_id = Some(1);
        assert_eq!(ranked_ids(&r, &[adviser]), [1]);
    }

    #[test]
    fn one_place_left_is_still_suggested() {
        let mut c = candidate(1, "Nearly full", &[1]);
        c.capacity = 3;
        c.load = 2;
        let ranked = rank(&request(), &[c], 5);
        assert_eq!(ranked[0].reasons[1], "1 of 3 places free");
    }

    // --- order -------------------------------------------------------------

    #[test]
    fn topic_overlap_beats_everything_else() {
        let mut strong_rest = reviewed(candidate(1, "Aaron", &[1, 2]), 5.0);
        strong_rest.sectors = vec![housing()];
        strong_rest.regions = vec!["North West".into()];
        strong_rest.formats = vec![MeetingFormat::Video, MeetingFormat::Phone];
        strong_rest.capacity = 10;
        let mut more_topics = reviewed(candidate(2, "Zoe", &[1, 2, 3]), 1.0);
        more_topics.capacity = 10;
        more_topics.load = 9;
        let ranked = rank(&request(), &[strong_rest, more_topics], 10);
        assert_eq!(ids(&ranked), [2, 1]);
        assert!(ranked[0].score > ranked[1].score);
    }

    #[test]
    fn sector_region_and_format_fit_each_beat_load_and_reviews() {
        type Fit = fn(&mut Candidate);
        let fits: [(&str, Fit); 3] = [
            ("sector", |c| c.sectors = vec![housing()]),
            ("region", |c| c.regions = vec!["North West".into()]),
            ("format", |c| c.formats = vec![MeetingFormat::Phone]),
        ];
        for (what, fit) in fits {
            let mut fitting = reviewed(candidate(1, "Zed", &[1]), 1.0);
            fitting.capacity = 10;
            fitting.load = 9;
            fit(&mut fitting);
            let free_and_liked = reviewed(candidate(2, "Abe", &[1]), 5.0);
            assert_eq!(
                ranked_ids(&request(), &[free_and_liked, fitting]),
                [1, 2],
                "{what}"
            );
        }
    }

    #[test]
    fn more_fits_beat_fewer() {
        let mut two = candidate(1, "Zed", &[1]);
        two.regions = vec!["North West".into()];
        two.formats = vec![MeetingFormat::Email, MeetingFormat::Video];
        let mut one = reviewed(candidate(2, "Abe", &[1]), 5.0);
        one.sectors = vec![housing()];
        assert_eq!(ranked_ids(&request(), &[one, two]), [1, 2]);
    }

    #[test]
    fn lighter_load_beats_better_reviews_relative_to_capacity() {
        // 1 of 1 free (100%) beats 3 of 10 free (30%), though it has fewer
        // places in absolute terms.
        let mut small = reviewed(candidate(1, "Zed", &[1]), 1.0);
        small.capacity = 1;
        let mut large = reviewed(candidate(2, "Abe", &[1]), 5.0);
        large.capacity = 10;
        large.load = 7;
        assert_eq!(ranked_ids(&request(), &[large, small]), [1, 2]);

        // Close shares still decide before reviews: 1 of 10 (10%) against
        // 1 of 11 (9.1%).
        let mut tenth = reviewed(candidate(3, "Zed", &[1]), 1.0);
        tenth.capacity = 10;
        tenth.load = 9;
        let mut eleventh = reviewed(candidate(4, "Abe", &[1]), 5.0);
        eleventh.capacity = 11;
        eleventh.load = 10;
        assert_eq!(ranked_ids(&request(), &[eleventh, tenth]), [3, 4]);
    }

    #[test]
    fn with_load_equal_better_reviews_rank_higher() {
        let liked = reviewed(candidate(1, "Zed", &[1]), 4.5);
        let ok = reviewed(candidate(2, "Abe", &[1]), 4.4);
        assert_eq!(ranked_ids(&request(), &[ok, liked]), [1, 2]);
    }

    #[test]
    fn no_reviews_ranks_as_neutral_and_nan_or_infinite_count_as_none() {
        let good = reviewed(candidate(1, "Good", &[1]), 3.1);
        let new = candidate(2, "New", &[1]);
        let poor = reviewed(candidate(3, "Poor", &[1]), 2.9);
        let nan = reviewed(candidate(4, "Broken", &[1]), f64::NAN);
        let inf = reviewed(candidate(5, "Infinite", &[1]), f64::INFINITY);
        let exactly_neutral = reviewed(candidate(6, "Middling", &[1]), 3.0);
        let ranked = rank(
            &request(),
            &[poor, new, inf, good, nan, exactly_neutral],
            10,
        );
        // Broken, Infinite, Middling and New all stand at 3.0: by name.
        assert_eq!(ids(&ranked), [1, 4, 5, 6, 2, 3]);
        for s in &ranked[1..5] {
            assert_eq!(s.score, ranked[1].score);
        }
        assert_eq!(ranked[1].reasons.last().unwrap(), "no reviews yet");
        assert_eq!(ranked[2].reasons.last().unwrap(), "no reviews yet");
        assert_eq!(ranked[3].reasons.last().unwrap(), "reviews 3.0/5");
        assert_eq!(ranked[4].reasons.last().unwrap(), "no reviews yet");
    }

    #[test]
    fn ties_break_by_name_ignoring_case_then_id_whatever_the_input_order() {
        let people = [
            candidate(30, "bea", &[1]),
            candidate(10, "Alfie", &[1]),
            candidate(20, "Bea", &[1]),
            candidate(5, "Cal", &[1]),
            candidate(11, "alfie", &[1]),
            candidate(1, "Émile", &[1]),
        ];
        // "é" sorts after every ASCII letter, whatever its case.
        let expected = [10, 11, 20, 30, 5, 1];
        let first = rank(&request(), &people, 10);
        assert_eq!(ids(&first), expected);
        // Every one of the 720 input orders gives the same suggestions.
        let mut order: Vec<usize> = (0..people.len()).collect();
        let mut seen = 0;
        permutations(&mut order, 0, &mut |order| {
            let shuffled: Vec<Candidate> = order.iter().map(|&i| people[i].clone()).collect();
            assert_eq!(rank(&request(), &shuffled, 10), first);
            // The top 3 agree with the full ranking whatever the order too.
            assert_eq!(rank(&request(), &shuffled, 3), first[..3]);
            seen += 1;
        });
        assert_eq!(seen, 720);
    }

    fn permutations(items: &mut [usize], from: usize, each: &mut impl FnMut(&[usize])) {
        if from == items.len() {
            each(items);
            return;
        }
        for i in from..items.len() {
            items.swap(from, i);
            permutations(items, from + 1, each);
            items.swap(from, i);
        }
    }

    #[test]
    fn names_compare_the_same_with_or_without_accents() {
        // The ASCII short cut and the Unicode path agree on ASCII names.
        for (a, b) in [("alfie", "Alfie"), ("Bea", "bEa"), ("Al", "alfie")] {
            assert_eq!(
                by_name(a, b),
                a.to_lowercase().cmp(&b.to_lowercase()),
                "{a} {b}"
            );
        }
        assert_eq!(by_name("ÉMILE", "émile"), Ordering::Equal);
        assert_eq!(by_name("Zoe", "émile"), Ordering::Less);
    }

    // --- reasons -----------------------------------------------------------

    #[test]
    fn the_reasons_read_as_the_design_says() {
        let mut c = reviewed(candidate(7, "Aisha", &[3, 1, 2, 6]), 4.62);
        c.sectors = vec![
            Topic {
                id: 11,
                name: "retail".into(),
            },
            housing(),
        ];
        c.regions = vec!["Wales".into(), "North West".into()];
        c.formats = vec![
            MeetingFormat::Phone,
            MeetingFormat::Email,
            MeetingFormat::Video,
        ];
        c.capacity = 3;
        c.load = 2;
        let ranked = rank(&request(), &[c], 10);
        let s = &ranked[0];
        assert_eq!(
            s.reasons,
            [
                // The request's order, not the provider's.
                "covers 3 of 4 topics: governance, finance, community shares",
                "same sector: housing",
                "same region: North West",
                "offers preferred formats: video, phone",
                "1 of 3 places free",
                "reviews 4.6/5",
            ]
        );
        assert_eq!(
            s.summary,
            "covers 3 of 4 topics: governance, finance, community shares · same sector: housing · \
             same region: North West · offers preferred formats: video, phone · 1 of 3 places \
             free · reviews 4.6/5"
        );
        assert_eq!(s.rank, 1);
        assert_eq!(s.provider_id, 7);
    }

    #[test]
    fn singular_zero_and_omitted_reasons() {
        let mut r = request();
        r.topics = vec![topic(2)];
        r.formats = vec![];
        r.sector = None;
        let mut has_sector = candidate(1, "A", &[2]);
        has_sector.sectors = vec![housing()];
        has_sector.formats = vec![MeetingFormat::Video];
        let ranked = rank(&r, &[has_sector, candidate(2, "B", &[5])], 10);
        // No sector on the co-op, no format preference: neither is mentioned.
        assert_eq!(
            ranked[0].summary,
            "covers 1 of 1 topic: finance · 2 of 2 places free · no reviews yet"
        );
        assert_eq!(
            ranked[1].summary,
            "covers 0 of 1 topic · 2 of 2 places free · no reviews yet"
        );

        let mut one_place = candidate(3, "C", &[2]);
        one_place.capacity = 1;
        assert_eq!(
            rank(&r, &[one_place], 10)[0].reasons[1],
            "1 of 1 place free"
        );

        r.topics = vec![topic(1), topic(2)];
        assert_eq!(
            rank(&r, &[candidate(4, "D", &[5])], 10)[0].reasons[0],
            "covers 0 of 2 topics"
        );
        r.topics = vec![];
        assert_eq!(
            rank(&r, &[candidate(4, "D", &[5])], 10)[0].reasons[0],
            "covers 0 of 0 topics"
        );
    }

    #[test]
    fn formats_are_said_in_the_request_order_once_and_only_when_offered() {
        let mut r = request();
        r.formats = vec![
            MeetingFormat::InPersonGroup,
            MeetingFormat::Email,
            MeetingFormat::InPerson,
            MeetingFormat::Email,
        ];
        let mut c = candidate(1, "A", &[1]);
        c.formats = vec![
            MeetingFormat::InPerson,
            MeetingFormat::Email,
            MeetingFormat::InPersonGroup,
        ];
        assert_eq!(
            rank(&r, std::slice::from_ref(&c), 1)[0].reasons[1],
            "offers preferred formats: in person group, email, in person"
        );
        c.formats = vec![MeetingFormat::Phone];
        assert_eq!(rank(&r, &[c], 1)[0].reasons[1], "2 of 2 places free");
    }

    #[test]
    fn regions_match_ignoring_case_and_outer_spaces() {
        let mut r = request();
        r.region = " North West".into();
        let mut c = candidate(1, "A", &[1]);
        c.regions = vec!["north west  ".into()];
        assert_eq!(
            rank(&r, std::slice::from_ref(&c), 1)[0].reasons[1],
            "same region: North West"
        );
        r.region = "Île-de-France".into();
        c.regions = vec!["ÎLE-DE-FRANCE".into()];
        assert_eq!(
            rank(&r, std::slice::from_ref(&c), 1)[0].reasons[1],
            "same region: Île-de-France"
        );
        // An empty region is not a match, even with an empty one.
        r.region = String::new();
        c.regions = vec![String::new()];
        assert_eq!(rank(&r, &[c], 1)[0].reasons[1], "2 of 2 places free");
    }

    #[test]
    fn duplicate_topics_count_once_on_either_side() {
        let mut r = request();
        r.topics = vec![topic(1), topic(2), topic(1), topic(2)];
        let c = candidate(1, "A", &[2, 2, 2, 5]);
        let s = &rank(&r, &[c], 1)[0];
        assert_eq!(s.reasons[0], "covers 1 of 2 topics: finance");
        assert!(s.score < 2_000_000.0);
    }

    #[test]
    fn topic_ids_far_apart_are_matched_as_well() {
        // Too far apart for a table: the binary-search path.
        let mut r = request();
        r.topics = vec![named_topic(i64::MAX), named_topic(-5), named_topic(1 << 40)];
        let mut c = candidate(1, "A", &[]);
        c.topics = vec![named_topic(1 << 40), named_topic(i64::MIN), named_topic(-5)];
        assert_eq!(
            rank(&r, std::slice::from_ref(&c), 1)[0].reasons[0],
            format!("covers 2 of 3 topics: topic -5, topic {}", 1i64 << 40)
        );
        // Close together: the table, with ids just outside its ends.
        r.topics = vec![named_topic(100), named_topic(102)];
        c.topics = [99, 100, 101, 102, 103, i64::MIN, i64::MAX]
            .map(named_topic)
            .to_vec();
        assert_eq!(
            rank(&r, &[c], 1)[0].reasons[0],
            "covers 2 of 2 topics: topic 100, topic 102"
        );
    }

    // --- score, limit, scale -----------------------------------------------

    #[test]
    fn the_score_reads_topics_fit_share_free_and_reviews() {
        let mut c = reviewed(candidate(1, "A", &[1, 2, 3]), 4.6);
        c.sectors = vec![housing()];
        c.regions = vec!["North West".into()];
        c.formats = vec![MeetingFormat::Video];
        c.capacity = 3;
        c.load = 2;
        let score = rank(&request(), &[c], 1)[0].score;
        assert!((score - 3_303_334.6).abs() < 1e-6, "{score}");
        let new = candidate(2, "B", &[]);
        assert_eq!(rank(&request(), &[new], 1)[0].score, 10_003.0);
    }

    #[test]
    fn limit_caps_and_zero_gives_nothing() {
        let many: Vec<Candidate> = (0..20)
            .map(|i| candidate(i, &format!("P{i:02}"), &[1]))
            .collect();
        assert_eq!(ids(&rank(&request(), &many, 3)), [0, 1, 2]);
        assert!(rank(&request(), &many, 0).is_empty());
        assert_eq!(rank(&request(), &many, 20).len(), 20);
        assert_eq!(rank(&request(), &many, 1000).len(), 20);
        assert!(rank(&request(), &[], 5).is_empty());
        let ranks: Vec<u32> = rank(&request(), &many, 5).iter().map(|s| s.rank).collect();
        assert_eq!(ranks, [1, 2, 3, 4, 5]);
    }

    /// A varied pool: topics, fit, load and reviews all spread, names clashing.
    fn pool(n: i64) -> Vec<Candidate> {
        (0..n)
            .map(|i| {
                let topics: Vec<i64> = (1..=7).filter(|t| (i * 7 + t * 13) % 5 < 2).collect();
                let mut c = candidate(i, &format!("Provider {}", i % 97), &topics);
                if i % 3 == 0 {
                    c.sectors = vec![housing()];
                }
                if i % 4 == 0 {
                    c.regions = vec!["North West".into()];
                }
                if i % 5 == 0 {
                    c.formats = vec![MeetingFormat::Phone];
                }
                c.capacity = (i % 6) as u32;
                c.load = (i % 4) as u32;
                if i % 7 != 0 {
                    c.review_average = Some(1.0 + (i % 41) as f64 / 10.0);
                }
                c.active = i % 50 != 0;
                c
            })
            .collect()
    }

    #[test]
    fn the_top_k_are_the_first_k_of_the_full_ranking_and_scores_never_rise() {
        let candidates = pool(2_000);
        let full = rank(&request(), &candidates, usize::MAX);
        assert!(full.len() > 100);
        assert!(full.windows(2).all(|w| w[0].score >= w[1].score));
        for k in [1, 2, 7, 50, full.len() - 1, full.len()] {
            assert_eq!(rank(&request(), &candidates, k), full[..k], "k = {k}");
        }
    }

    #[test]
    fn ten_thousand_candidates_rank_with_the_best_first() {
        let mut r = request();
        r.topics = (1..=40).map(named_topic).collect();
        let mut many: Vec<Candidate> = (0..10_000)
            .map(|i| {
                let mut c = candidate(i, &format!("Provider {i:05}"), &[]);
                c.topics = (0..30)
                    .map(|k| Topic {
                        id: 1 + (i * 7 + k * 3) % 60,
                        name: String::new(),
                    })
                    .collect();
                c.capacity = 4;
                c.load = (i % 4) as u32;
                c.review_average = Some(5.0);
                c
            })
            .collect();
        // Covers all 40 topics but is nearly full and poorly reviewed.
        many[7_777].topics = r.topics.clone();
        many[7_777].capacity = 4;
        many[7_777].load = 3;
        many[7_777].review_average = Some(1.0);
        let ranked = rank(&r, &many, 20);
        assert_eq!(ranked.len(), 20);
        assert_eq!(ranked[0].provider_id, 7_777);
        assert!(ranked[0].reasons[0].starts_with("covers 40 of 40 topics: topic 1, topic 2,"));
        assert!(ranked.windows(2).all(|w| w[0].score >= w[1].score));
        assert_eq!(ranked[1..], rank(&r, &many, usize::MAX)[1..20]);
    }

    #[test]
    fn odd_input_does_not_panic() {
        let mut r = request();
        r.region = String::new();
        r.topics = vec![topic(1), topic(1)];
        let mut odd = vec![
            reviewed(candidate(1, "", &[]), -3.0),
            reviewed(candidate(2, "É", &[1, 1, 1]), 99.0),
            reviewed(candidate(3, "é", &[1]), f64::NEG_INFINITY),
            candidate(i64::MIN, "Min", &[1]),
            candidate(i64::MAX, "Max", &[1]),
        ];
        odd[0].capacity = u32::MAX;
        odd[0].load = u32::MAX - 1;
        odd[1].capacity = u32::MAX;
        odd[2].load = u32::MAX;
        odd[3].capacity = 0;
        odd[3].load = 0;
        let ranked = rank(&r, &odd, usize::MAX);
        // Out: load over capacity (3), no capacity at all (`i64::MIN`).
        assert_eq!(ids(&ranked), [2, i64::MAX, 1]);
        assert_eq!(ranked[0].reasons.last().unwrap(), "reviews 5.0/5");
        assert_eq!(ranked[2].reasons[1], "1 of 4294967295 places free");
        assert_eq!(ranked[2].reasons.last().unwrap(), "reviews 1.0/5");
        assert!(rank(&r, &[], usize::MAX).is_empty());
    }
}
