//! Curation: merging near-duplicate items across principles and capping a rubric at a
//! HealthBench-like size with a balance of rewards and penalties.

use std::collections::HashMap;

use clinalign_core::{Query, RubricEntry, RubricItem};
use serde::{Deserialize, Serialize};

use crate::manifest::{Manifest, WhenEmergent};
use crate::similarity::WordHashes;

/// How rubrics are curated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CurationPolicy {
    /// Most items in one rubric (HealthBench's physician rubrics have about 5–20).
    pub max_items: usize,
    /// Most items taken from one principle, so that one principle cannot crowd out the rest.
    pub max_per_principle: usize,
    /// Same-sign items at least this similar (Dice of content words) are merged; above 1.0
    /// nothing is merged.
    pub merge_similarity: f64,
    /// The share of penalties (negative items) kept between these, when the candidates allow.
    pub min_negative_share: f64,
    pub max_negative_share: f64,
}

impl Default for CurationPolicy {
    fn default() -> Self {
        CurationPolicy {
            max_items: 20,
            max_per_principle: 4,
            merge_similarity: 0.6,
            min_negative_share: 0.2,
            max_negative_share: 0.4,
        }
    }
}

/// An item with what curation ranks it by.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub entry: RubricEntry,
    /// The principle that wrote it.
    pub principle: String,
    /// Whether the principle speaks only when its topic comes up (triggers, or its own code)
    /// rather than for every query of a scenario.
    pub specific: bool,
    /// Confidence of the label that put the principle in the pool (1 when given).
    pub confidence: f32,
    /// Its part in an emergency's rubric (always [`EmergencyRole::Ordinary`] otherwise).
    pub emergency: EmergencyRole,
}

/// A candidate's part when the query is emergent (DESIGN: urgency shapes the rubric).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmergencyRole {
    /// Not an emergency, or ranked as usual in one.
    Ordinary,
    /// An urgency principle's item in an emergency: it leads the rubric and keeps its place
    /// under the cap.
    Lead,
    /// Ranked below the rest (`when_emergent = "demote"`).
    Demoted,
    /// Left out (`when_emergent = "drop"`).
    Dropped,
}

/// How much an emergency multiplies the priority of its leading and demoted items: enough
/// that every escalation item outranks every ordinary one, and every demoted one ranks last.
const LEAD_BOOST: f64 = 100.0;
const DEMOTION: f64 = 0.01;

impl Candidate {
    fn priority(&self) -> f64 {
        let specificity = if self.specific { 1.0 } else { 0.75 };
        let role = match self.emergency {
            EmergencyRole::Lead => LEAD_BOOST,
            EmergencyRole::Demoted => DEMOTION,
            EmergencyRole::Ordinary | EmergencyRole::Dropped => 1.0,
        };
        self.entry.points.unsigned_abs() as f64 * specificity * (0.5 + 0.5 * self.confidence as f64) * role
    }
}

/// A principle's item as a rubric candidate: tagged `axis:*`, `dimension:*` and
/// `principle:<id>@<version>` (before its own tags), and ranked by the principle's
/// specificity and the confidence of the label that put it in the pool.
pub fn candidate(m: &Manifest, item: RubricItem, query: &Query) -> Candidate {
    let mut tags = Vec::with_capacity(item.tags.len() + 3);
    tags.push(item.axis.tag());
    tags.push(format!("dimension:{}", m.dimension));
    tags.push(m.tag());
    tags.extend(m.pack_tag());
    tags.extend(item.tags);
    let emergent = query.label("urgency").is_some_and(|l| l.value == "emergent");
    let emergency = match (emergent, m.dimension.as_str(), m.when_emergent) {
        (false, _, _) => EmergencyRole::Ordinary,
        (true, _, WhenEmergent::Drop) => EmergencyRole::Dropped,
        (true, _, WhenEmergent::Demote) => EmergencyRole::Demoted,
        (true, "urgency", WhenEmergent::Keep) => EmergencyRole::Lead,
        (true, _, WhenEmergent::Keep) => EmergencyRole::Ordinary,
    };
    Candidate {
        entry: RubricEntry::new(item.criterion, item.points, tags),
        principle: m.id.clone(),
        specific: m.is_specific(),
        confidence: query.label(&m.dimension).map(|l| l.confidence).unwrap_or(1.0),
        emergency,
    }
}

/// What curation did to one rubric.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CurationStats {
    /// Items the principles wrote.
    pub candidates: usize,
    /// Items folded into a near-duplicate.
    pub merged: usize,
    /// Items left out by the size cap or the balance.
    pub dropped: usize,
}

/// What curation decided for each candidate, by position in the candidate list.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CurationTrace {
    /// Items folded into a near-duplicate, in the order they were merged.
    pub merged: Vec<Merge>,
    /// Items left out, and why.
    pub dropped: Vec<Dropped>,
    /// The items kept, in rubric order.
    pub kept: Vec<usize>,
}

/// Candidate `item` was folded into candidate `into`, whose wording the rubric keeps.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Merge {
    pub item: usize,
    pub into: usize,
    /// Dice similarity of their content words (see [`crate::similarity`]).
    pub similarity: f64,
}

/// Candidate `item` was left out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Dropped {
    pub item: usize,
    pub reason: DropReason,
}

/// Why curation left an item out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DropReason {
    /// The rubric was full (`max_items`) with higher-priority items.
    Cap,
    /// Its sign's share was full (penalties kept between the policy's shares).
    Balance,
    /// The query is an emergency and the principle's items do not serve one
    /// (`when_emergent = "drop"`).
    NotForEmergency,
}

impl DropReason {
    /// In words, for reports.
    pub fn describe(self, policy: &CurationPolicy) -> String {
        match self {
            DropReason::Cap => format!("the rubric was full ({} items) with higher-priority items", policy.max_items),
            DropReason::Balance => format!(
                "penalties are kept at {:.0}–{:.0}% of the rubric",
                100.0 * policy.min_negative_share,
                100.0 * policy.max_negative_share
            ),
            DropReason::NotForEmergency => {
                "the query is an emergency, and this principle's items do not serve one (when_emergent = \"drop\")"
                    .into()
            }
        }
    }
}

/// Merges near-duplicates and caps the rubric; the kept items stay in their original order.
/// A merged item keeps the higher-priority wording and gains the other principle's
/// `principle:` tag.
pub fn curate(candidates: Vec<Candidate>, policy: &CurationPolicy) -> (Vec<RubricEntry>, CurationStats) {
    let (items, stats, _) = curate_traced(candidates, policy);
    (items, stats)
}

/// [`curate`], saying what it did to each candidate.
pub fn curate_traced(
    candidates: Vec<Candidate>,
    policy: &CurationPolicy,
) -> (Vec<RubricEntry>, CurationStats, CurationTrace) {
    let mut trace = CurationTrace::default();
    let mut stats = CurationStats { candidates: candidates.len(), ..Default::default() };
    let words: Vec<WordHashes> = candidates.iter().map(|c| WordHashes::of(&c.entry.criterion)).collect();

    // Merge: walk in priority order; an item joins the first kept item it duplicates.
    let mut order: Vec<usize> =
        (0..candidates.len()).filter(|&i| candidates[i].emergency != EmergencyRole::Dropped).collect();
    for i in (0..candidates.len()).filter(|&i| candidates[i].emergency == EmergencyRole::Dropped) {
        trace.dropped.push(Dropped { item: i, reason: DropReason::NotForEmergency });
        stats.dropped += 1;
    }
    order.sort_by(|&a, &b| candidates[b].priority().total_cmp(&candidates[a].priority()).then(a.cmp(&b)));
    let mut kept: Vec<usize> = Vec::new();
    let mut extra_tags: HashMap<usize, Vec<String>> = HashMap::new();
    for &i in &order {
        let sign = candidates[i].entry.points.signum();
        let twin = kept.iter().copied().filter(|&k| candidates[k].entry.points.signum() == sign).find_map(|k| {
            let similarity = words[k].dice(&words[i]);
            (similarity >= policy.merge_similarity).then_some((k, similarity))
        });
        match twin {
            Some((k, similarity)) => {
                stats.merged += 1;
                trace.merged.push(Merge { item: i, into: k, similarity });
                let tags = extra_tags.entry(k).or_default();
                for t in candidates[i].entry.tags.iter().filter(|t| t.starts_with("principle:")) {
                    if !candidates[k].entry.tags.contains(t) && !tags.contains(t) {
                        tags.push(t.clone());
                    }
                }
            }
            None => kept.push(i),
        }
    }

    // Cap: best first (`kept` is in priority order). Sign quotas keep penalties between the
    // policy's shares when the candidates allow; pass 0 also keeps the per-principle limit,
    // pass 1 relaxes it to fill the rubric.
    let target = policy.max_items.max(1).min(kept.len());
    let negatives_available = kept.iter().filter(|&&i| candidates[i].entry.points < 0).count();
    let min_negative = ((policy.min_negative_share * target as f64).ceil() as usize).min(negatives_available);
    let max_negative = ((policy.max_negative_share * target as f64).floor() as usize).max(1);
    let max_positive = target - min_negative;
    let mut chosen: Vec<usize> = Vec::new();
    let mut per_principle: HashMap<&str, usize> = HashMap::new();
    let (mut pos, mut neg) = (0usize, 0usize);
    // Why each item not chosen in the last pass was passed over.
    let mut passed_over: HashMap<usize, DropReason> = HashMap::new();
    for pass in 0..2 {
        for &i in &kept {
            let c = &candidates[i];
            let negative = c.entry.points < 0;
            let room = if negative { neg < max_negative } else { pos < max_positive };
            let principle_room =
                pass == 1 || per_principle.get(c.principle.as_str()).copied().unwrap_or(0) < policy.max_per_principle;
            if chosen.contains(&i) {
                continue;
            }
            if chosen.len() >= target || !room || !principle_room {
                if pass == 1 {
                    passed_over.insert(i, if chosen.len() >= target { DropReason::Cap } else { DropReason::Balance });
                }
                continue;
            }
            chosen.push(i);
            *per_principle.entry(c.principle.as_str()).or_default() += 1;
            if negative { neg += 1 } else { pos += 1 }
        }
    }
    // When positives ran short the rubric is smaller than the target; trim the
    // lowest-priority penalties until they are within the share of what was kept
    // (always keeping one). `chosen` is in priority order.
    while neg > 1 && neg as f64 > (policy.max_negative_share * (pos + neg) as f64).floor() {
        let last = chosen.iter().rposition(|&i| candidates[i].entry.points < 0).expect("a penalty");
        passed_over.insert(chosen.remove(last), DropReason::Balance);
        neg -= 1;
    }
    stats.dropped += kept.len() - chosen.len();
    for &i in &kept {
        if !chosen.contains(&i) {
            trace.dropped.push(Dropped { item: i, reason: passed_over.get(&i).copied().unwrap_or(DropReason::Cap) });
        }
    }
    // In an emergency the escalation items lead; otherwise the candidates' own order.
    chosen.sort_unstable_by_key(|&i| (candidates[i].emergency != EmergencyRole::Lead, i));
    trace.kept = chosen.clone();
    let out = chosen
        .into_iter()
        .map(|i| {
            let mut e = candidates[i].entry.clone();
            if let Some(tags) = extra_tags.remove(&i) {
                e.tags.extend(tags);
            }
            e
        })
        .collect();
    (out, stats, trace)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cand(criterion: &str, points: i32, principle: &str, specific: bool) -> Candidate {
        Candidate {
            entry: RubricEntry::new(
                criterion,
                points,
                vec!["axis:accuracy".into(), format!("principle:{principle}@1.0.0")],
            ),
            principle: principle.into(),
            specific,
            confidence: 1.0,
            emergency: EmergencyRole::Ordinary,
        }
    }

    #[test]
    fn in_an_emergency_escalation_leads_and_keeps_its_place_and_routine_items_give_way() {
        let role = |c: Candidate, emergency| Candidate { emergency, ..c };
        let candidates = vec![
            role(
                cand("Gives a weekly exercise plan with minutes of activity.", 9, "task.lifestyle-plan", true),
                EmergencyRole::Dropped,
            ),
            role(
                cand("Asks when the symptoms started and how they changed.", 8, "uncertainty.symptom-timeline", true),
                EmergencyRole::Demoted,
            ),
            cand("Uses plain everyday words a lay reader can follow.", 7, "expertise.plain-language", true),
            role(
                cand("Tells the user to call emergency services now.", 5, "urgency.emergency-first", false),
                EmergencyRole::Lead,
            ),
            role(
                cand("Suggests waiting to see whether it improves.", -5, "urgency.emergency-first", false),
                EmergencyRole::Lead,
            ),
        ];
        let policy = CurationPolicy { max_items: 3, max_negative_share: 0.4, ..Default::default() };
        let (items, stats, trace) = curate_traced(candidates, &policy);
        let texts: Vec<&str> = items.iter().map(|i| i.criterion.as_str()).collect();
        // The escalation items come first and survive a cap their points alone would lose;
        // the demoted item loses to the ordinary one; the dropped one is out with its reason.
        assert_eq!(
            texts,
            [
                "Tells the user to call emergency services now.", "Suggests waiting to see whether it improves.",
                "Uses plain everyday words a lay reader can follow."
            ]
        );
        assert_eq!(stats.dropped, 2);
        assert!(trace.dropped.iter().any(|d| d.item == 0 && d.reason == DropReason::NotForEmergency));
    }

    #[test]
    fn merges_same_sign_near_duplicates_and_keeps_both_principles() {
        let items = vec![
            cand(
                "Suggests waiting to see whether the pain improves at home instead of seeking emergency care.",
                -10,
                "urgency.a",
                true,
            ),
            cand(
                "Suggests waiting at home to see whether the pain improves instead of seeking emergency care now.",
                -8,
                "urgency.b",
                true,
            ),
            cand("Advises seeking emergency care now.", 9, "urgency.a", true),
        ];
        let (out, stats) = curate(items, &CurationPolicy::default());
        assert_eq!(out.len(), 2);
        assert_eq!(stats.merged, 1);
        assert!(out[0].tags.contains(&"principle:urgency.b@1.0.0".to_string()), "{:?}", out[0].tags);
        assert_eq!(out[0].points, -10, "the higher-priority wording wins");
    }

    #[test]
    fn caps_size_per_principle_and_balances_signs() {
        const WORDS: [&str; 40] = [
            "anemia", "bruising", "cough", "dizziness", "eczema", "fatigue", "gout", "headache", "insomnia",
            "jaundice", "kidney", "lupus", "migraine", "nausea", "obesity", "psoriasis", "quinsy", "rickets",
            "sciatica", "tinnitus", "ulcer", "vertigo", "warts", "xerosis", "yaws", "zoster", "acne", "bronchitis",
            "cellulitis", "dermatitis", "epistaxis", "fibroids", "gastritis", "hernia", "impetigo", "keloid",
            "laryngitis", "measles", "neuropathy", "otitis",
        ];
        let mut items = Vec::new();
        for p in 0..10usize {
            for k in 0..4usize {
                let points = if k == 3 { -((p % 5) as i32 + 1) } else { ((k + p) % 10) as i32 + 1 };
                items.push(cand(&format!("Explains {}.", WORDS[p * 4 + k]), points, &format!("task.p{p}"), p % 2 == 0));
            }
        }
        let policy = CurationPolicy::default();
        let (out, stats) = curate(items, &policy);
        assert_eq!(out.len(), 20);
        assert_eq!(stats.dropped, 20);
        let negatives = out.iter().filter(|e| e.points < 0).count();
        assert!((4..=8).contains(&negatives), "negatives {negatives}");
        let mut per: HashMap<String, usize> = HashMap::new();
        for e in &out {
            *per.entry(e.tags[1].clone()).or_default() += 1;
        }
        assert!(per.values().all(|n| *n <= 4));
    }

    #[test]
    fn penalties_stay_within_their_share_when_rewards_run_short() {
        let mut items = vec![cand("Explains anemia.", 5, "a.p", true), cand("Explains gout.", 4, "a.q", true)];
        for (i, w) in ["cough", "eczema", "lupus", "vertigo"].iter().enumerate() {
            items.push(cand(&format!("Dismisses {w}."), -(i as i32) - 5, &format!("a.n{i}"), true));
        }
        let (out, _) = curate(items, &CurationPolicy::default());
        let neg = out.iter().filter(|e| e.points < 0).count();
        assert_eq!(out.len() - neg, 2);
        assert_eq!(neg, 1, "{out:?}");
        assert_eq!(out.iter().find(|e| e.points < 0).unwrap().points, -8, "the strongest penalty stays");
    }

    #[test]
    fn the_trace_says_what_happened_to_each_candidate() {
        let mut items = vec![
            cand(
                "Suggests waiting at home to see whether the pain improves instead of emergency care.",
                -10,
                "u.a",
                true,
            ),
            cand(
                "Suggests waiting at home to see whether the pain improves instead of emergency care now.",
                -8,
                "u.b",
                true,
            ),
        ];
        for (i, w) in ["anemia", "gout", "cough", "eczema"].iter().enumerate() {
            items.push(cand(&format!("Explains {w}."), 9 - i as i32, &format!("u.p{i}"), true));
        }
        let policy = CurationPolicy { max_items: 3, ..Default::default() };
        let (out, stats, trace) = curate_traced(items, &policy);
        assert_eq!(trace.merged.len(), 1);
        assert_eq!((trace.merged[0].item, trace.merged[0].into), (1, 0));
        assert!(trace.merged[0].similarity >= policy.merge_similarity);
        assert_eq!(trace.kept.len(), out.len());
        assert_eq!(trace.dropped.len(), stats.dropped);
        assert_eq!(
            trace.dropped,
            [Dropped { item: 4, reason: DropReason::Cap }, Dropped { item: 5, reason: DropReason::Cap }]
        );
        assert!(DropReason::Balance.describe(&policy).contains("20–40%"));
    }

    #[test]
    fn small_rubrics_pass_through_unchanged() {
        let items =
            vec![cand("Advises rest.", 5, "a.b", false), cand("Recommends antibiotics for a cold.", -6, "a.c", true)];
        let (out, stats) = curate(items.clone(), &CurationPolicy::default());
        assert_eq!(out, items.into_iter().map(|c| c.entry).collect::<Vec<_>>());
        assert_eq!(stats, CurationStats { candidates: 2, merged: 0, dropped: 0 });
    }
}
