//! Grouped-query causal self-attention: `o(softmax(q·kᵀ/√d)·v)` with
//! `q = rope(norm_q(q_proj(x)))`, `k = rope(norm_k(k_proj(x)))`, `v = v_proj(x)`; the per-head
//! RMSNorms only where configured (Qwen3). Each step's queries attend over its shared
//! prefix's keys, then its own cache's (the new tokens' keys included), causally.

use rayon::prelude::*;

use super::batch::{Layout, Step};
use crate::config::ModelConfig;
use crate::error::Result;
use crate::ops::{MatMut, MatRef, RmsNorm, Rope, matmul_strided, matmul_wt_strided, softmax};
use crate::weights::{Linear, WeightSource};

/// Query rows per block of scores: a block's scores cover only the keys its last row sees.
const BLOCK: usize = 64;

/// One layer's attention.
pub(super) struct Attention {
    /// The layer's index (which cache entries are its own).
    layer: usize,
    q_proj: Linear,
    k_proj: Linear,
    v_proj: Linear,
    o_proj: Linear,
    /// Per-head RMSNorms of queries and keys, before RoPE (Qwen3).
    qk_norm: Option<(RmsNorm, RmsNorm)>,
    num_heads: usize,
    num_kv_heads: usize,
    head_dim: usize,
}

/// Queries, keys and values of every token of a batch, and the attention output before the
/// output projection: allocated once per forward call, reused by every layer.
pub(super) struct AttentionBuffers {
    q: Vec<f32>,
    k: Vec<f32>,
    v: Vec<f32>,
    heads: Vec<f32>,
}

impl AttentionBuffers {
    /// Buffers for `rows` tokens.
    pub fn new(cfg: &ModelConfig, rows: usize) -> AttentionBuffers {
        let (q, kv) = (cfg.num_heads * cfg.head_dim, cfg.num_kv_heads * cfg.head_dim);
        AttentionBuffers {
            q: vec![0f32; rows * q],
            k: vec![0f32; rows * kv],
            v: vec![0f32; rows * kv],
            heads: vec![0f32; rows * q],
        }
    }
}

impl Attention {
    /// Layer `layer`'s attention, `{prefix}.{q,k,v,o}_proj` (and `{q,k}_norm`).
    pub fn load(src: &dyn WeightSource, prefix: &str, layer: usize, cfg: &ModelConfig) -> Result<Attention> {
        let (h, hd, bias) = (cfg.hidden_size, cfg.head_dim, cfg.attention_bias);
        let (q, kv) = (cfg.num_heads * hd, cfg.num_kv_heads * hd);
        let norm = |name: &str| -> Result<RmsNorm> {
            Ok(RmsNorm::new(src.require(&format!("{prefix}.{name}.weight"), &[hd])?, cfg.rms_norm_eps))
        };
        Ok(Attention {
            layer,
            q_proj: src.linear(&format!("{prefix}.q_proj"), q, h, bias)?,
            k_proj: src.linear(&format!("{prefix}.k_proj"), kv, h, bias)?,
            v_proj: src.linear(&format!("{prefix}.v_proj"), kv, h, bias)?,
            o_proj: src.linear(&format!("{prefix}.o_proj"), h, q, false)?,
            qk_norm: if cfg.qk_norm { Some((norm("q_norm")?, norm("k_norm")?)) } else { None },
            num_heads: cfg.num_heads,
            num_kv_heads: cfg.num_kv_heads,
            head_dim: hd,
        })
    }

    /// `out[rows × hidden]`: attention of the batch's tokens `x` (normed), each step over its
    /// prefix and its own cache, to which the new keys and values are appended.
    pub fn forward(
        &self,
        x: &[f32],
        steps: &mut [Step<'_>],
        layout: &Layout,
        rope: &Rope,
        buf: &mut AttentionBuffers,
        out: &mut [f32],
    ) {
        let n = layout.rows;
        let mut acts = None;
        self.q_proj.forward_shared(x, n, &mut buf.q, &mut acts);
        self.k_proj.forward_shared(x, n, &mut buf.k, &mut acts);
        self.v_proj.forward_shared(x, n, &mut buf.v, &mut acts);
        if let Some((q_norm, k_norm)) = &self.qk_norm {
            q_norm.forward_inplace(&mut buf.q);
            k_norm.forward_inplace(&mut buf.k);
        }
        self.rotate(&mut buf.q, &mut buf.k, layout, rope);
        let kv = self.num_kv_heads * self.head_dim;
        for (s, span) in steps.iter_mut().zip(&layout.spans) {
            let rows = span.row * kv..(span.row + span.len) * kv;
            s.cache.append(self.layer, &buf.k[rows.clone()], &buf.v[rows], self.head_dim);
        }
        self.attend(steps, layout, &buf.q, &mut buf.heads);
        self.o_proj.forward(&buf.heads, n, out);
    }

    /// RoPE on every token's queries and keys, at its position in its sequence.
    fn rotate(&self, q: &mut [f32], k: &mut [f32], layout: &Layout, rope: &Rope) {
        let (qs, ks) = (self.num_heads * self.head_dim, self.num_kv_heads * self.head_dim);
        for span in &layout.spans {
            for t in 0..span.len {
                let row = span.row + t;
                rope.apply(&mut q[row * qs..(row + 1) * qs], span.pos + t);
                rope.apply(&mut k[row * ks..(row + 1) * ks], span.pos + t);
            }
        }
    }

    /// Causal attention of each step's new queries over its prefix and its own cache, into
    /// `out` (`[rows, heads · head_dim]`), parallel over (step, head). Queries go in blocks of
    /// [`BLOCK`] rows; a block's scores cover only the keys its last row can see, so the masked
    /// triangle is mostly not computed.
    fn attend(&self, steps: &[Step<'_>], layout: &Layout, q: &[f32], out: &mut [f32]) {
        attend(self.layer, (self.num_heads, self.num_kv_heads, self.head_dim), steps, layout, q, out);
    }
}

/// [`Attention::attend`] of layer `layer`, with its `(heads, kv_heads, head_dim)`.
fn attend(
    layer: usize,
    (nh, nkv, hd): (usize, usize, usize),
    steps: &[Step<'_>],
    layout: &Layout,
    q: &[f32],
    out: &mut [f32],
) {
    let group = nh / nkv;
    let scale = 1.0 / (hd as f32).sqrt();
    let q = MatRef::dense(q, layout.rows, nh * hd);
    let jobs: Vec<(usize, usize)> = (0..steps.len()).flat_map(|s| (0..nh).map(move |hh| (s, hh))).collect();
    let results: Vec<(usize, usize, Vec<f32>)> = jobs
        .into_par_iter()
        .map(|(si, head)| {
            let (s, span) = (&steps[si], layout.spans[si]);
            let tq = span.len;
            let g = head / group;
            let (pk, pv, plen) = match s.prefix {
                Some(p) => (p.keys(layer, g), p.values(layer, g), p.len()),
                None => (&[][..], &[][..], 0),
            };
            let (prefix_k, prefix_v) = (MatRef::dense(pk, plen, hd), MatRef::dense(pv, plen, hd));
            let (ok, ov) = (s.cache.keys(layer, g), s.cache.values(layer, g));
            let olen = ok.len() / hd;
            let (own_k, own_v) = (MatRef::dense(ok, olen, hd), MatRef::dense(ov, olen, hd));
            let seen_before = olen - tq;
            let q_head = q.subcols(head * hd..(head + 1) * hd);
            let mut o = vec![0f32; tq * hd];
            let mut scores = vec![0f32; BLOCK.min(tq) * (plen + olen)];
            for r0 in (0..tq).step_by(BLOCK) {
                let r1 = (r0 + BLOCK).min(tq);
                let rows = r1 - r0;
                // The last row of the block sees the prefix and its own cache up to itself.
                let own = seen_before + r1;
                let width = plen + own;
                let qb = q_head.subrows(span.row + r0..span.row + r1);
                let sc = &mut scores[..rows * width];
                let mut scm = MatMut::dense(sc, rows, width);
                matmul_wt_strided(qb, prefix_k, scm.subcols(0..plen), scale, false);
                matmul_wt_strided(qb, own_k.subrows(0..own), scm.subcols(plen..width), scale, false);
                for (i, row) in sc.chunks_exact_mut(width).enumerate() {
                    let visible = plen + seen_before + r0 + i + 1;
                    softmax(&mut row[..visible]);
                    row[visible..].fill(0.0);
                }
                let sc = MatRef::dense(sc, rows, width);
                let mut ob = MatMut::dense(&mut o[r0 * hd..r1 * hd], rows, hd);
                matmul_strided(sc.subcols(0..plen), prefix_v, ob.rb_mut(), false);
                matmul_strided(sc.subcols(plen..width), own_v.subrows(0..own), ob, plen > 0);
            }
            (si, head, o)
        })
        .collect();
    for (si, head, o) in results {
        let span = layout.spans[si];
        for t in 0..span.len {
            let at = ((span.row + t) * nh + head) * hd;
            out[at..at + hd].copy_from_slice(&o[t * hd..(t + 1) * hd]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::attend;
    use crate::config::ModelConfig;
    use crate::cuda::mirror::{KvSlots, SequenceSlots, attention_partial, judge_ranges, merge_attention};
    use crate::model::batch::{KvCache, Layout, Step};
    use rand::{RngExt, SeedableRng, rngs::StdRng};

    fn random(rng: &mut StdRng, n: usize) -> Vec<f32> {
        (0..n).map(|_| rng.random_range(-1.0f32..1.0)).collect()
    }

    /// The CUDA attention's two passes (the shared prefix unmasked, then each sequence's own
    /// slots causally) merged by their log-sum-exps give what the CPU backend's attention
    /// gives, on a ragged batch: with a prefix, with a prefix and earlier cached tokens,
    /// without a prefix.
    #[test]
    fn the_attention_kernels_mirror_matches_the_cpu_backend() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/models/tiny-qwen3");
        let cfg = ModelConfig::from_hf_json(&dir.join("config.json")).expect("tiny config");
        let (nh, nkv, hd, layer) = (cfg.num_heads, cfg.num_kv_heads, cfg.head_dim, 1);
        let kvw = nkv * hd;
        let mut rng = StdRng::seed_from_u64(11);
        let fill = |cache: &mut KvCache, rng: &mut StdRng, tokens: usize, advance: bool| {
            for l in 0..cfg.num_layers {
                cache.append(l, &random(rng, tokens * kvw), &random(rng, tokens * kvw), hd);
            }
            if advance {
                cache.advance(tokens);
            }
        };
        let mut prefix = KvCache::new(&cfg);
        fill(&mut prefix, &mut rng, 5, true);
        // (cached before, new tokens, with the prefix)
        let shapes = [(0usize, 3usize, true), (2, 2, true), (0, 4, false)];
        let mut caches: Vec<KvCache> = shapes
            .iter()
            .map(|(cached, new, _)| {
                let mut c = KvCache::new(&cfg);
                fill(&mut c, &mut rng, *cached, true);
                fill(&mut c, &mut rng, *new, false);
                c
            })
            .collect();
        let tokens: Vec<Vec<u32>> = shapes.iter().map(|(_, new, _)| vec![0; *new]).collect();
        let mut steps: Vec<Step<'_>> = caches
            .iter_mut()
            .zip(&tokens)
            .zip(&shapes)
            .map(|((cache, t), (_, _, p))| Step { tokens: t, cache, prefix: p.then_some(&prefix) })
            .collect();
        let layout = Layout::new(&steps);
        let q = random(&mut rng, layout.rows * nh * hd);
        let mut cpu = vec![0f32; layout.rows * nh * hd];
        attend(layer, (nh, nkv, hd), &steps, &layout, &q, &mut cpu);

        // The same keys and values as the kernels' slots: the prefix, then each sequence's own.
        let (mut k, mut v) = (Vec::new(), Vec::new());
        let push = |c: &KvCache, k: &mut Vec<f32>, v: &mut Vec<f32>| {
            let n = c.keys(layer, 0).len() / hd;
            for t in 0..n {
                for g in 0..nkv {
                    k.extend_from_slice(&c.keys(layer, g)[t * hd..(t + 1) * hd]);
                    v.extend_from_slice(&c.values(layer, g)[t * hd..(t + 1) * hd]);
                }
            }
            n
        };
        let plen = push(&prefix, &mut k, &mut v);
        let mut sequences = Vec::new();
        for (s, (cached, new, p)) in steps.iter_mut().zip(&shapes) {
            let own_start = k.len() / kvw;
            push(s.cache, &mut k, &mut v);
            sequences.push(SequenceSlots {
                prefix: if *p { 0..plen } else { 0..0 },
                own_start,
                cached: *cached,
                new_tokens: *new,
            });
        }
        let ranges = judge_ranges(&sequences);
        let kv = KvSlots { k: &k, v: &v, kv_heads: nkv, head_dim: hd };
        let scale = 1.0 / (hd as f32).sqrt();
        let a = attention_partial(&q, nh, kv, &ranges.prefix, scale);
        let b = attention_partial(&q, nh, kv, &ranges.own, scale);
        let merged = merge_attention(&a, &b, layout.rows, nh, hd);
        let worst = cpu.iter().zip(&merged).map(|(x, y)| (x - y).abs()).fold(0f32, f32::max);
        assert!(worst < 1e-4, "max |Δ| = {worst}");
    }
}
