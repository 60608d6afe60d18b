//! Overlap between principles: items one principle's fixtures emit that nearly duplicate
//! another principle's. Curation merges same-sign items at
//! [`CurationPolicy::merge_similarity`](crate::CurationPolicy) and above; an author adding a
//! principle wants to know about items close to that line too, because they either merge
//! (and the new principle adds nothing) or stay as two near-identical items in one rubric.

use serde::Serialize;

use crate::principle_set::PrincipleSet;
use crate::similarity::WordHashes;

/// Items at least this similar are reported (curation's default merge threshold is 0.6).
pub const WARN_SIMILARITY: f64 = 0.5;

/// An item of `principle` close to an item of `other`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NearDuplicate {
    pub principle: String,
    pub criterion: String,
    pub other: String,
    pub other_criterion: String,
    /// Dice similarity of their content words.
    pub similarity: f64,
}

/// For each principle in `of` (all when `None`), its fixture items that are at least
/// `threshold` similar to a same-sign fixture item of another principle of the set; the
/// closest match per item (a pair once), closest first.
pub fn near_duplicates(set: &PrincipleSet, of: Option<&[String]>, threshold: f64) -> Vec<NearDuplicate> {
    // Every distinct (principle, criterion, sign) the fixtures produced.
    let mut items: Vec<(&str, &str, i32, WordHashes)> = Vec::new();
    for t in set.self_tests() {
        for i in &t.items {
            if !items.iter().any(|(p, c, _, _)| *p == t.principle && *c == i.criterion) {
                items.push((&t.principle, &i.criterion, i.points.signum(), WordHashes::of(&i.criterion)));
            }
        }
    }
    let mut out: Vec<NearDuplicate> = Vec::new();
    for (p, c, sign, words) in &items {
        if of.is_some_and(|ids| !ids.iter().any(|id| id == p)) {
            continue;
        }
        let closest = items
            .iter()
            .filter(|(q, _, s, _)| q != p && s == sign)
            .map(|(q, qc, _, qw)| (q, qc, words.dice(qw)))
            .filter(|(_, _, sim)| *sim >= threshold)
            .max_by(|a, b| a.2.total_cmp(&b.2));
        // A pair found from both sides is reported once.
        let seen = |q: &str, qc: &str| out.iter().any(|n| n.principle == q && n.criterion == qc && n.other == *p);
        if let Some((q, qc, similarity)) = closest.filter(|(q, qc, _)| !seen(q, qc)) {
            out.push(NearDuplicate {
                principle: p.to_string(),
                criterion: c.to_string(),
                other: q.to_string(),
                other_criterion: qc.to_string(),
                similarity,
            });
        }
    }
    out.sort_by(|a, b| b.similarity.total_cmp(&a.similarity).then(a.principle.cmp(&b.principle)));
    out
}
