//! Matching: which providers to suggest for a support request, in what order,
//! and why — in words a programme staff member reads. Plain code with no HTTP
//! or SQL: the API loads the request and the candidates and calls [`rank`].
//!
//! The order follows DESIGN.md: topic overlap first, then sector, region and
//! format fit, then lighter load, then better reviews; ties by name, then id.
//! The score makes that order visible as one number:
//!
//! `1000 × topics covered + 100 × (sector fit + region fit + format fit)
//!  + 10 × share of places free + review average ÷ 5`
//!
//! Each term is bounded below the unit of the one before it (fit ≤ 3 → 300 <
//! 1000; places free ≤ 1 → 10 < 100; reviews ≤ 1 < 10), so a higher term always
//! wins, whatever the lower ones say.

use std::{cmp::Ordering, collections::HashSet};

/// Mentor or adviser: a mentoring request wants a mentor, advice an adviser.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderKind {
    Mentor,
    Adviser,
}

/// How a meeting is held.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MeetingFormat {
    InPerson,
    InPersonGroup,
    Phone,
    Video,
    Email,
}

impl MeetingFormat {
    /// The words used in reasons.
    pub fn words(self) -> &'static str {
        match self {
            MeetingFormat::InPerson => "in person",
            MeetingFormat::InPersonGroup => "in person group",
            MeetingFormat::Phone => "phone",
            MeetingFormat::Video => "video",
            MeetingFormat::Email => "email",
        }
    }
}

/// A topic or a sector, with its name already resolved by the caller.
#[derive(Debug, Clone, PartialEq)]
pub struct Topic {
    pub id: i64,
    pub name: String,
}

/// Sectors have the same shape as topics.
pub type Sector = Topic;

/// What the request asks for.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestProfile {
    pub kind: ProviderKind,
    /// The requesting co-op: a mentor from it is never suggested.
    pub organisation_id: i64,
    /// In the request's order; duplicates count once.
    pub topics: Vec<Topic>,
    /// The co-op's sector.
    pub sector: Option<Sector>,
    /// The co-op's region.
    pub region: String,
    /// Preferred formats; empty means no preference.
    pub formats: Vec<MeetingFormat>,
    /// Providers who declined or ended an earlier engagement on this request
    /// (and any already proposed or engaged on it).
    pub excluded_provider_ids: Vec<i64>,
}

/// A provider who might be suggested.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub provider_id: i64,
    pub name: String,
    pub kind: ProviderKind,
    pub active: bool,
    /// A mentor's own co-op.
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
    /// 1-based.
    pub rank: u32,
    /// Higher is better; see the module documentation for its make-up.
    pub score: f64,
    /// Short phrases, in a fixed order.
    pub reasons: Vec<String>,
    /// The reasons joined with " · ".
    pub summary: String,
}

/// A provider with no reviews yet ranks as if rated this: neither helped nor
/// held back by having no history.
const NEUTRAL_REVIEW: f64 = 3.0;

/// Whether a candidate may be suggested at all.
fn eligible(request: &RequestProfile, excluded: &HashSet<i64>, candidate: &Candidate) -> bool {
    candidate.active
        && candidate.kind == request.kind
        && candidate.load < candidate.capacity
        && !excluded.contains(&candidate.provider_id)
        && !(candidate.kind == ProviderKind::Mentor
            && candidate.home_organisation_id == Some(request.organisation_id))
}

fn review(candidate: &Candidate) -> Option<f64> {
    candidate
        .review_average
        .filter(|r| r.is_finite())
        .map(|r| r.clamp(1.0, 5.0))
}

struct Scored<'a> {
    candidate: &'a Candidate,
    score: f64,
    covered: Vec<&'a str>,
    same_sector: bool,
    same_region: bool,
    formats: Vec<MeetingFormat>,
}

/// Ranks `candidates` for `request` and returns the best `limit`, each with
/// its score and reasons.
pub fn rank(request: &RequestProfile, candidates: &[Candidate], limit: usize) -> Vec<Suggestion> {
    if limit == 0 {
        return Vec::new();
    }
    let excluded: HashSet<i64> = request.excluded_provider_ids.iter().copied().collect();
    // The request's distinct topics, in its order.
    let mut wanted: Vec<&Topic> = Vec::new();
    for topic in &request.topics {
        if !wanted.iter().any(|t| t.id == topic.id) {
            wanted.push(topic);
        }
    }
    let wanted_ids: HashSet<i64> = wanted.iter().map(|t| t.id).collect();

    let mut scored: Vec<Scored<'_>> = candidates
        .iter()
        .filter(|c| eligible(request, &excluded, c))
        .map(|candidate| {
            let offered: HashSet<i64> = candidate
                .topics
                .iter()
                .map(|t| t.id)
                .filter(|id| wanted_ids.contains(id))
                .collect();
            let covered: Vec<&str> = wanted
                .iter()
                .filter(|t| offered.contains(&t.id))
                .map(|t| t.name.as_str())
                .collect();
            let same_sector = request
                .sector
                .as_ref()
                .is_some_and(|sector| candidate.sectors.iter().any(|s| s.id == sector.id));
            let same_region = candidate.regions.contains(&request.region);
            let formats: Vec<MeetingFormat> = request
                .formats
                .iter()
                .copied()
                .filter(|f| candidate.formats.contains(f))
                .fold(Vec::new(), |mut acc, f| {
                    if !acc.contains(&f) {
                        acc.push(f);
                    }
                    acc
                });
            let fit = same_sector as u32 + same_region as u32 + (!formats.is_empty()) as u32;
            let free_share = if candidate.capacity == 0 {
                0.0
            } else {
                (candidate.capacity - candidate.load) as f64 / candidate.capacity as f64
            };
            let score = 1000.0 * covered.len() as f64
                + 100.0 * fit as f64
                + 10.0 * free_share
                + review(candidate).unwrap_or(NEUTRAL_REVIEW) / 5.0;
            Scored {
                candidate,
                score,
                covered,
                same_sector,
                same_region,
                formats,
            }
        })
        .collect();

    let order = |a: &Scored<'_>, b: &Scored<'_>| {
        b.score
            .partial_cmp(&a.score)
            .unwrap_or(Ordering::Equal)
            .then_with(|| {
                a.candidate
                    .name
                    .to_lowercase()
                    .cmp(&b.candidate.name.to_lowercase())
            })
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
            let reasons = reasons(request, &wanted, &s);
            Suggestion {
                provider_id: s.candidate.provider_id,
                rank: index as u32 + 1,
                score: s.score,
                summary: reasons.join(" · "),
                reasons,
            }
        })
        .collect()
}

fn reasons(request: &RequestProfile, wanted: &[&Topic], s: &Scored<'_>) -> Vec<String> {
    let mut reasons = Vec::new();
    let noun = if wanted.len() == 1 { "topic" } else { "topics" };
    if s.covered.is_empty() {
        reasons.push(format!("covers 0 of {} {noun}", wanted.len()));
    } else {
        reasons.push(format!(
            "covers {} of {} {noun}: {}",
            s.covered.len(),
            wanted.len(),
            s.covered.join(", ")
        ));
    }
    if s.same_sector
        && let Some(sector) = &request.sector
    {
        reasons.push(format!("same sector: {}", sector.name));
    }
    if s.same_region {
        reasons.push(format!("same region: {}", request.region));
    }
    if !s.formats.is_empty() {
        let words: Vec<&str> = s.formats.iter().map(|f| f.words()).collect();
        reasons.push(format!("offers preferred formats: {}", words.join(", ")));
    }
    let c = s.candidate;
    let places = if c.capacity == 1 { "place" } else { "places" };
    reasons.push(format!(
        "{} of {} {places} free",
        c.capacity - c.load,
        c.capacity
    ));
    match review(c) {
        Some(average) => reasons.push(format!("reviews {average:.1}/5")),
        None => reasons.push("no reviews yet".to_string()),
    }
    reasons
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topic(id: i64, name: &str) -> Topic {
        Topic {
            id,
            name: name.to_string(),
        }
    }

    fn request() -> RequestProfile {
        RequestProfile {
            kind: ProviderKind::Mentor,
            organisation_id: 1,
            topics: vec![
                topic(1, "governance"),
                topic(2, "finance"),
                topic(3, "community shares"),
                topic(4, "marketing"),
            ],
            sector: Some(topic(10, "housing")),
            region: "North West".into(),
            formats: vec![MeetingFormat::Video, MeetingFormat::Phone],
            excluded_provider_ids: vec![],
        }
    }

    fn candidate(id: i64, name: &str, topics: &[i64]) -> Candidate {
        let names = [
            "",
            "governance",
            "finance",
            "community shares",
            "marketing",
            "law",
        ];
        Candidate {
            provider_id: id,
            name: name.into(),
            kind: ProviderKind::Mentor,
            active: true,
            home_organisation_id: None,
            topics: topics
                .iter()
                .map(|t| topic(*t, names[*t as usize]))
                .collect(),
            sectors: vec![],
            regions: vec![],
            formats: vec![],
            capacity: 2,
            load: 0,
            review_average: None,
            review_count: 0,
        }
    }

    fn ids(suggestions: &[Suggestion]) -> Vec<i64> {
        suggestions.iter().map(|s| s.provider_id).collect()
    }

    #[test]
    fn the_reasons_read_as_the_design_says() {
        let mut c = candidate(7, "Aisha", &[1, 2, 3]);
        c.sectors = vec![topic(10, "housing")];
        c.regions = vec!["North West".into()];
        c.formats = vec![MeetingFormat::Phone, MeetingFormat::Video];
        c.capacity = 3;
        c.load = 2;
        c.review_average = Some(4.62);
        c.review_count = 5;
        let ranked = rank(&request(), &[c], 10);
        assert_eq!(
            ranked[0].summary,
            "covers 3 of 4 topics: governance, finance, community shares · same sector: housing · \
             same region: North West · offers preferred formats: video, phone · 1 of 3 places free · \
             reviews 4.6/5"
        );
        assert_eq!(ranked[0].rank, 1);
        assert_eq!(ranked[0].reasons.len(), 6);
    }

    #[test]
    fn singular_zero_and_no_review_wording() {
        let mut r = request();
        r.topics = vec![topic(2, "finance")];
        r.formats = vec![];
        let ranked = rank(&r, &[candidate(1, "A", &[2]), candidate(2, "B", &[5])], 10);
        assert_eq!(
            ranked[0].summary,
            "covers 1 of 1 topic: finance · 2 of 2 places free · no reviews yet"
        );
        assert_eq!(ranked[1].reasons[0], "covers 0 of 1 topic");
        let mut single = candidate(3, "C", &[2]);
        single.capacity = 1;
        let ranked = rank(&r, &[single], 10);
        assert_eq!(ranked[0].reasons[1], "1 of 1 place free");
        r.topics = vec![
            topic(1, "governance"),
            topic(1, "governance"),
            topic(2, "finance"),
        ];
        let ranked = rank(&r, &[candidate(1, "A", &[5])], 10);
        assert_eq!(
            ranked[0].reasons[0], "covers 0 of 2 topics",
            "duplicates count once"
        );
    }

    #[test]
    fn exclusions() {
        let r = RequestProfile {
            excluded_provider_ids: vec![5],
            ..request()
        };
        let mut inactive = candidate(1, "Inactive", &[1]);
        inactive.active = false;
        let mut adviser = candidate(2, "Adviser", &[1]);
        adviser.kind = ProviderKind::Adviser;
        let mut own_coop = candidate(3, "Own co-op", &[1]);
        own_coop.home_organisation_id = Some(1);
        let mut full = candidate(4, "Full", &[1]);
        full.load = 2;
        let declined = candidate(5, "Declined before", &[1]);
        let mut no_capacity = candidate(6, "No capacity", &[1]);
        no_capacity.capacity = 0;
        let fine = candidate(7, "Fine", &[1]);
        let ranked = rank(
            &r,
            &[
                inactive,
                adviser,
                own_coop,
                full,
                declined,
                no_capacity,
                fine,
            ],
            10,
        );
        assert_eq!(ids(&ranked), [7]);
    }

    #[test]
    fn an_adviser_from_the_same_co_op_is_not_excluded() {
        let mut r = request();
        r.kind = ProviderKind::Adviser;
        let mut adviser = candidate(1, "Adviser", &[1]);
        adviser.kind = ProviderKind::Adviser;
        adviser.home_organisation_id = Some(1);
        assert_eq!(ids(&rank(&r, &[adviser], 10)), [1]);
    }

    #[test]
    fn topic_overlap_beats_everything_else() {
        let mut strong_rest = candidate(1, "Everything but topics", &[1]);
        strong_rest.sectors = vec![topic(10, "housing")];
        strong_rest.regions = vec!["North West".into()];
        strong_rest.formats = vec![MeetingFormat::Video];
        strong_rest.capacity = 10;
        strong_rest.review_average = Some(5.0);
        let mut more_topics = candidate(2, "Two topics", &[1, 2]);
        more_topics.capacity = 5;
        more_topics.load = 4;
        more_topics.review_average = Some(1.0);
        assert_eq!(
            ids(&rank(&request(), &[strong_rest, more_topics], 10)),
            [2, 1]
        );
    }

    #[test]
    fn fit_beats_load_and_load_beats_reviews() {
        let mut fits = candidate(1, "Fits", &[1]);
        fits.regions = vec!["North West".into()];
        fits.capacity = 5;
        fits.load = 4;
        fits.review_average = Some(1.0);
        let mut free = candidate(2, "Free", &[1]);
        free.capacity = 5;
        free.review_average = Some(1.0);
        let mut liked = candidate(3, "Liked", &[1]);
        liked.capacity = 5;
        liked.load = 2;
        liked.review_average = Some(5.0);
        assert_eq!(ids(&rank(&request(), &[liked, free, fits], 10)), [1, 2, 3]);
    }

    #[test]
    fn unreviewed_ranks_as_neutral_and_nan_is_no_review() {
        let mut good = candidate(1, "Good", &[1]);
        good.review_average = Some(4.0);
        let unreviewed = candidate(2, "New", &[1]);
        let mut poor = candidate(3, "Poor", &[1]);
        poor.review_average = Some(2.0);
        let mut broken = candidate(4, "Broken", &[1]);
        broken.review_average = Some(f64::NAN);
        let ranked = rank(&request(), &[poor, unreviewed, good, broken], 10);
        assert_eq!(
            ids(&ranked),
            [1, 4, 2, 3],
            "NaN and none tie at neutral; by name"
        );
        assert_eq!(ranked[1].reasons.last().unwrap(), "no reviews yet");
    }

    #[test]
    fn ties_break_by_name_then_id_whatever_the_input_order() {
        let a = candidate(30, "bea", &[1]);
        let b = candidate(10, "Alfie", &[1]);
        let c = candidate(20, "Bea", &[1]);
        let d = candidate(5, "Cal", &[1]);
        let forwards = rank(
            &request(),
            &[a.clone(), b.clone(), c.clone(), d.clone()],
            10,
        );
        let backwards = rank(&request(), &[d, c, b, a], 10);
        assert_eq!(ids(&forwards), [10, 20, 30, 5]);
        assert_eq!(forwards, backwards);
    }

    #[test]
    fn limit_caps_and_zero_is_empty() {
        let many: Vec<Candidate> = (0..20)
            .map(|i| candidate(i, &format!("P{i:02}"), &[1]))
            .collect();
        assert_eq!(rank(&request(), &many, 3).len(), 3);
        assert_eq!(ids(&rank(&request(), &many, 3)), [0, 1, 2]);
        assert!(rank(&request(), &many, 0).is_empty());
        assert!(rank(&request(), &[], 5).is_empty());
    }

    #[test]
    fn ten_thousand_candidates_rank_with_the_best_first() {
        let mut many: Vec<Candidate> = (0..10_000)
            .map(|i| candidate(i, &format!("Provider {i:05}"), &[1 + (i % 5)]))
            .collect();
        many[7_777].topics = vec![
            topic(1, "governance"),
            topic(2, "finance"),
            topic(3, "community shares"),
        ];
        let ranked = rank(&request(), &many, 10);
        assert_eq!(ranked.len(), 10);
        assert_eq!(ranked[0].provider_id, 7_777);
        assert!(ranked.windows(2).all(|w| w[0].score >= w[1].score));
    }
}
