//! CPU mirrors of the CUDA kernels whose logic is more than arithmetic: expert alignment, the
//! router's top-k, attention over per-row key ranges with its log-sum-exp, the prefix/suffix
//! merge, and the judge's log-sum-exp gather. Each mirror follows its kernel step for step
//! (same contract, same tie rules, same order of operations where it matters), and is tested
//! here against the CPU backend, so that a GPU run only has to check the translation to CUDA.

use std::ops::Range;

/// What `moe_align_count_scan` + `moe_align_scatter` produce (vLLM's `moe_align_block_size`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alignment {
    /// Pair ids `token · k + slot` grouped by expert, each expert's segment padded to a
    /// multiple of the block size with the pad id `numel`; `len` = [`sorted_len`].
    pub sorted_ids: Vec<i32>,
    /// The expert of each M-block (entries past `total_padded / block_m` are 0, never read).
    pub expert_ids: Vec<i32>,
    /// Exclusive scan of the padded counts, `experts + 1` entries.
    pub cumsum: Vec<i32>,
    /// Where the grouped GEMM stops: `cumsum[experts]`.
    pub total_padded: usize,
}

/// The length the caller allocates for `sorted_ids`: room for every pair and the worst-case
/// padding of every expert, rounded up to whole blocks.
pub fn sorted_len(numel: usize, experts: usize, block_m: usize) -> usize {
    (numel + experts * (block_m - 1)).div_ceil(block_m) * block_m
}

/// Expert alignment of the flat top-k ids `[tokens · k]`. Ids outside `0..experts` are
/// skipped, as the kernel skips them. Within an expert, pairs come in ascending id order (the
/// kernel's atomics give any order; rows are independent, so results do not depend on it).
pub fn moe_align(topk_ids: &[i32], experts: usize, block_m: usize) -> Alignment {
    let numel = topk_ids.len();
    let len = sorted_len(numel, experts, block_m);
    let mut counts = vec![0usize; experts];
    for &e in topk_ids {
        if (0..experts as i32).contains(&e) {
            counts[e as usize] += 1;
        }
    }
    let mut cumsum = Vec::with_capacity(experts + 1);
    let mut at = 0usize;
    let mut expert_ids = vec![0i32; len / block_m];
    for (e, c) in counts.iter().enumerate() {
        cumsum.push(at as i32);
        let padded = c.div_ceil(block_m) * block_m;
        expert_ids[at / block_m..(at + padded) / block_m].fill(e as i32);
        at += padded;
    }
    cumsum.push(at as i32);
    let mut cursor: Vec<usize> = cumsum[..experts].iter().map(|c| *c as usize).collect();
    let mut sorted_ids = vec![numel as i32; len];
    for (i, &e) in topk_ids.iter().enumerate() {
        if (0..experts as i32).contains(&e) {
            sorted_ids[cursor[e as usize]] = i as i32;
            cursor[e as usize] += 1;
        }
    }
    Alignment { sorted_ids, expert_ids, cumsum, total_padded: at }
}

/// The router's pick for one token (as `topk_softmax_*`): softmax over all experts in f32,
/// then the `k` most probable, ties to the lower index, in descending order; with
/// `renormalize` the weights are divided by their sum.
pub fn topk_softmax(logits: &[f32], k: usize, renormalize: bool) -> (Vec<f32>, Vec<i32>) {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut p: Vec<f32> = logits.iter().map(|l| (l - max).exp()).collect();
    let inv = 1.0 / p.iter().sum::<f32>();
    for v in &mut p {
        *v *= inv;
    }
    let (mut weights, mut ids) = (Vec::with_capacity(k), Vec::with_capacity(k));
    for _ in 0..k.min(p.len()) {
        // Strictly greater wins, so among equals the lowest index stays.
        let (mut best, mut best_e) = (-1.0f32, usize::MAX);
        for (e, v) in p.iter().enumerate() {
            if *v > best {
                (best, best_e) = (*v, e);
            }
        }
        weights.push(best);
        ids.push(best_e as i32);
        p[best_e] = -1.0;
    }
    let sum: f32 = weights.iter().sum();
    if renormalize && sum > 0.0 {
        for w in &mut weights {
            *w /= sum;
        }
    }
    (weights, ids)
}

/// Keys and values laid out as the kernels read them: `[slots, kv_heads, head_dim]`.
#[derive(Debug, Clone, Copy)]
pub struct KvSlots<'a> {
    pub k: &'a [f32],
    pub v: &'a [f32],
    pub kv_heads: usize,
    pub head_dim: usize,
}

/// One attention pass's result: `o` `[rows, q_heads, head_dim]` and `lse` `[q_heads, rows]`
/// (natural log; −∞ where a row's range is empty, whose output is 0).
#[derive(Debug, Clone)]
pub struct Partial {
    pub o: Vec<f32>,
    pub lse: Vec<f32>,
}

/// `attention_partial_d*`: each query row of `q` `[rows, q_heads, head_dim]` over its own
/// range of slots, with the kernel's online softmax (scaled dot products, one key at a time).
pub fn attention_partial(q: &[f32], q_heads: usize, kv: KvSlots<'_>, ranges: &[Range<usize>], scale: f32) -> Partial {
    let (d, rows) = (kv.head_dim, ranges.len());
    let group = q_heads / kv.kv_heads;
    let mut o = vec![0f32; rows * q_heads * d];
    let mut lse = vec![f32::NEG_INFINITY; q_heads * rows];
    for (row, range) in ranges.iter().enumerate() {
        for h in 0..q_heads {
            let g = h / group;
            let qv: Vec<f32> = q[(row * q_heads + h) * d..][..d].iter().map(|x| x * scale).collect();
            let (mut m, mut s) = (f32::NEG_INFINITY, 0f32);
            let mut acc = vec![0f32; d];
            for slot in range.clone() {
                let at = (slot * kv.kv_heads + g) * d;
                let dot: f32 = qv.iter().zip(&kv.k[at..at + d]).map(|(a, b)| a * b).sum();
                let m_new = m.max(dot);
                let (correction, p) = ((m - m_new).exp(), (dot - m_new).exp());
                s = s * correction + p;
                for (a, v) in acc.iter_mut().zip(&kv.v[at..at + d]) {
                    *a = *a * correction + p * v;
                }
                m = m_new;
            }
            if !range.is_empty() {
                let out = &mut o[(row * q_heads + h) * d..][..d];
                for (x, a) in out.iter_mut().zip(&acc) {
                    *x = a / s;
                }
                lse[h * rows + row] = m + s.ln();
            }
        }
    }
    Partial { o, lse }
}

/// `merge_attention_bf16` before its rounding: the two passes weighted by their
/// log-sum-exps. Both empty gives 0.
pub fn merge_attention(a: &Partial, b: &Partial, rows: usize, q_heads: usize, head_dim: usize) -> Vec<f32> {
    let mut out = vec![0f32; rows * q_heads * head_dim];
    for (idx, x) in out.iter_mut().enumerate() {
        let head = (idx / head_dim) % q_heads;
        let row = idx / (head_dim * q_heads);
        let (la, lb) = (a.lse[head * rows + row], b.lse[head * rows + row]);
        let m = la.max(lb);
        if m == f32::NEG_INFINITY {
            continue;
        }
        let (ea, eb) = ((la - m).exp(), (lb - m).exp());
        *x = (ea * a.o[idx] + eb * b.o[idx]) / (ea + eb);
    }
    out
}

/// A batch laid out for the judge's two attention passes: slot ranges per query row.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JudgeRanges {
    /// Per row, the shared prefix's slots (empty for a sequence without a prefix).
    pub prefix: Vec<Range<usize>>,
    /// Per row, its own sequence's slots up to itself (causal).
    pub own: Vec<Range<usize>>,
}

/// One sequence of a batch: where its prefix's slots are (if any), where its own cache
/// starts, how many tokens it had cached before, and how many new tokens it runs.
#[derive(Debug, Clone)]
pub struct SequenceSlots {
    pub prefix: Range<usize>,
    pub own_start: usize,
    pub cached: usize,
    pub new_tokens: usize,
}

/// The ranges the host passes to the attention kernel: token `i` of a sequence sees its
/// prefix (unmasked) and its own slots `own_start .. own_start + cached + i + 1`.
pub fn judge_ranges(sequences: &[SequenceSlots]) -> JudgeRanges {
    let mut r = JudgeRanges::default();
    for s in sequences {
        for i in 0..s.new_tokens {
            r.prefix.push(s.prefix.clone());
            r.own.push(s.own_start..s.own_start + s.cached + i + 1);
        }
    }
    r
}

/// `logsumexp_gather_f32` for one row: `logit[id] − logsumexp(row)` per id, with the
/// kernel's online (max, sum) state; an id outside the row gives −∞.
pub fn logsumexp_gather(row: &[f32], ids: &[i32]) -> Vec<f32> {
    let (mut m, mut s) = (f32::NEG_INFINITY, 0f32);
    for &x in row {
        if x == f32::NEG_INFINITY {
            continue;
        }
        if x > m {
            s = s * (m - x).exp() + 1.0;
            m = x;
        } else {
            s += (x - m).exp();
        }
    }
    let lse = m + s.ln();
    ids.iter()
        .map(|&id| if (0..row.len() as i32).contains(&id) { row[id as usize] - lse } else { f32::NEG_INFINITY })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn alignment_follows_the_vllm_contract() {
        // 3 tokens × k=2 over 4 experts; expert 2 unused; block 4.
        let ids = [0, 3, 3, 0, 1, 3];
        let a = moe_align(&ids, 4, 4);
        assert_eq!(a.cumsum, vec![0, 4, 8, 8, 12]);
        assert_eq!(a.total_padded, 12);
        // 6 pairs + 4 experts × 3 worst-case pads = 18, in whole blocks: 20.
        assert_eq!(sorted_len(6, 4, 4), 20);
        let mut want = vec![0, 3, 6, 6, 4, 6, 6, 6, 1, 2, 5, 6];
        want.resize(20, 6);
        assert_eq!(a.sorted_ids, want);
        assert_eq!(a.expert_ids, vec![0, 1, 3, 0, 0]);
    }

    #[test]
    fn alignment_edge_cases() {
        // No pairs: nothing to run.
        let a = moe_align(&[], 8, 64);
        assert_eq!(a.total_padded, 0);
        assert!(a.sorted_ids.iter().all(|i| *i == 0), "all pad ids (numel = 0)");
        // One token: one mostly-pad block per used expert.
        let a = moe_align(&[5, 1], 8, 64);
        assert_eq!(a.total_padded, 128);
        assert_eq!(a.expert_ids[..2], [1, 5]);
        assert_eq!(a.sorted_ids[0], 1);
        assert!(a.sorted_ids[1..64].iter().all(|i| *i == 2));
        assert_eq!(a.sorted_ids[64], 0);
        // Every pair on one expert, more than a block; an out-of-range id is skipped.
        let ids: Vec<i32> = (0..70).map(|i| if i == 3 { 99 } else { 7 }).collect();
        let a = moe_align(&ids, 8, 64);
        assert_eq!(a.total_padded, 128);
        assert_eq!(a.expert_ids[..2], [7, 7]);
        assert!(!a.sorted_ids.contains(&3));
        assert_eq!(a.sorted_ids.iter().filter(|i| **i < 70).count(), 69);
    }

    proptest! {
        #[test]
        fn every_pair_lands_once_in_its_experts_segment(
            ids in proptest::collection::vec(0i32..16, 0..300),
            block in prop_oneof![Just(1usize), Just(4), Just(16), Just(64)],
        ) {
            let a = moe_align(&ids, 16, block);
            let numel = ids.len() as i32;
            let mut seen = vec![false; ids.len()];
            for (pos, id) in a.sorted_ids.iter().enumerate() {
                if *id == numel { continue; }
                prop_assert!(!seen[*id as usize]);
                seen[*id as usize] = true;
                let e = ids[*id as usize];
                prop_assert!(pos >= a.cumsum[e as usize] as usize && pos < a.cumsum[e as usize + 1] as usize);
                prop_assert_eq!(a.expert_ids[pos / block], e);
            }
            prop_assert!(seen.iter().all(|s| *s));
            prop_assert!(a.cumsum.windows(2).all(|w| ((w[1] - w[0]) as usize).is_multiple_of(block)));
            prop_assert_eq!(a.total_padded, a.cumsum[16] as usize);
        }
    }

    #[test]
    fn topk_ties_go_to_the_lower_index_in_descending_order() {
        let (w, ids) = topk_softmax(&[1.0, 3.0, 3.0, 0.5, 3.0], 3, false);
        assert_eq!(ids, vec![1, 2, 4]);
        assert!(w.windows(2).all(|p| p[0] >= p[1]));
        let (w, _) = topk_softmax(&[1.0, 3.0, 3.0, 0.5, 3.0], 3, true);
        assert!((w.iter().sum::<f32>() - 1.0).abs() < 1e-6);
    }

    #[test]
    fn logsumexp_gather_matches_the_cpu_log_softmax() {
        let row: Vec<f32> = (0..1000).map(|i| ((i * 37 % 101) as f32 - 50.0) * 0.37).collect();
        let ids = [0, 17, 999, 1000, -1];
        let got = logsumexp_gather(&row, &ids);
        let want = crate::model::Model::log_probs(&row, &[0, 17, 999]);
        for (g, w) in got.iter().zip(&want) {
            assert!((g - w).abs() < 1e-4, "{g} vs {w}");
        }
        assert_eq!(got[3], f32::NEG_INFINITY);
        assert_eq!(got[4], f32::NEG_INFINITY);
    }

    #[test]
    fn judge_ranges_are_prefix_then_causal_own_slots() {
        let r = judge_ranges(&[
            SequenceSlots { prefix: 0..5, own_start: 5, cached: 0, new_tokens: 2 },
            SequenceSlots { prefix: 0..0, own_start: 7, cached: 3, new_tokens: 1 },
        ]);
        assert_eq!(r.prefix, vec![0..5, 0..5, 0..0]);
        assert_eq!(r.own, vec![5..6, 5..7, 7..11]);
    }
}
