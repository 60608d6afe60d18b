//! The transformer: Llama, Qwen2, Qwen3 and Qwen3-MoE in one forward pass.
//!
//! Per layer: `x += o(attn(rope(norm_q(q(n1(x)))), rope(norm_k(k(n1(x)))), v(n1(x))))`, then
//! `x += ffn(n2(x))`, where `ffn` is SiLU-gated (`down(silu(gate) · up)`) or, on sparse
//! layers, a mixture of experts: a router softmax over all experts, the top-k kept (and
//! renormalised when `norm_topk_prob`), each token's output the weighted sum of its experts'.
//!
//! Batching: the tokens of every sequence go through the projections and feed-forward layers
//! as one matrix (variable-length prefill); attention runs per sequence and head, over an
//! optional shared, read-only prefix cache followed by the sequence's own cache.

use rayon::prelude::*;

use crate::config::{ModelConfig, MoeConfig};
use crate::error::{Error, Result};
use crate::ops::{
    Rope, logsumexp, matmul_strided, matmul_wt, matmul_wt_strided, rms_norm, rms_norm_inplace, silu_mul, softmax,
};
use crate::weights::{Linear, Matrix, Proj, WeightSource};

/// Keys and values of every layer for one sequence: per layer and key/value head, a
/// `[len, head_dim]` row-major buffer.
#[derive(Debug, Clone, Default)]
pub struct KvCache {
    k: Vec<Vec<Vec<f32>>>,
    v: Vec<Vec<Vec<f32>>>,
    len: usize,
}

impl KvCache {
    /// An empty cache for `cfg`.
    pub fn new(cfg: &ModelConfig) -> KvCache {
        KvCache {
            k: vec![vec![Vec::new(); cfg.num_kv_heads]; cfg.num_layers],
            v: vec![vec![Vec::new(); cfg.num_kv_heads]; cfg.num_layers],
            len: 0,
        }
    }

    /// Tokens cached.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// One sequence in a forward call: new tokens, its cache, and an optional shared prefix the
/// new tokens follow (the judge runs many criteria after one prefilled conversation).
pub struct Step<'a> {
    pub tokens: &'a [u32],
    pub cache: &'a mut KvCache,
    pub prefix: Option<&'a KvCache>,
}

/// Which positions to compute logits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Logits {
    /// None (prefill only).
    None,
    /// The last new token of each sequence.
    Last,
    /// Every new token.
    All,
}

enum Ffn {
    Dense { gate: Linear, up: Linear, down: Linear },
    Moe { router: Matrix, experts: Vec<[Matrix; 3]>, cfg: MoeConfig },
}

struct Layer {
    attn_norm: Vec<f32>,
    q: Linear,
    k: Linear,
    v: Linear,
    o: Linear,
    q_norm: Option<Vec<f32>>,
    k_norm: Option<Vec<f32>>,
    ffn_norm: Vec<f32>,
    ffn: Ffn,
}

/// A loaded model.
pub struct Model {
    pub cfg: ModelConfig,
    embed: Vec<f32>,
    layers: Vec<Layer>,
    norm: Vec<f32>,
    /// `None`: tied to the embeddings.
    lm_head: Option<Matrix>,
    rope: Rope,
}

impl Model {
    /// Builds the model from a weight source, checking every tensor's shape.
    pub fn from_source(cfg: ModelConfig, src: &dyn WeightSource) -> Result<Model> {
        let (h, hd) = (cfg.hidden_size, cfg.head_dim);
        let embed = src.require("model.embed_tokens.weight", &[cfg.vocab_size, h])?;
        let mut layers = Vec::with_capacity(cfg.num_layers);
        for i in 0..cfg.num_layers {
            let p = format!("model.layers.{i}");
            let bias = cfg.attention_bias;
            let ffn = if cfg.is_moe_layer(i) {
                let m = cfg.moe.clone().expect("moe layer");
                let router = src.matrix(&format!("{p}.mlp.gate.weight"), m.num_experts, h)?;
                let mut experts = Vec::with_capacity(m.num_experts);
                for e in 0..m.num_experts {
                    let get = |proj: Proj, rows: usize, cols: usize| -> Result<Matrix> {
                        let mat = src.expert(i, e, proj)?.ok_or_else(|| {
                            Error::format(src.origin(), format!("missing expert {e} ({proj:?}) of layer {i}"))
                        })?;
                        if (mat.rows, mat.cols) != (rows, cols) {
                            return Err(Error::format(
                                src.origin(),
                                format!(
                                    "expert {e} {proj:?} of layer {i} is {}×{}, expected {rows}×{cols}",
                                    mat.rows, mat.cols
                                ),
                            ));
                        }
                        Ok(mat)
                    };
                    let ei = m.expert_intermediate_size;
                    experts.push([get(Proj::Gate, ei, h)?, get(Proj::Up, ei, h)?, get(Proj::Down, h, ei)?]);
                }
                Ffn::Moe { router, experts, cfg: m }
            } else {
                let im = cfg.intermediate_size;
                Ffn::Dense {
                    gate: src.linear(&format!("{p}.mlp.gate_proj"), im, h, false)?,
                    up: src.linear(&format!("{p}.mlp.up_proj"), im, h, false)?,
                    down: src.linear(&format!("{p}.mlp.down_proj"), h, im, false)?,
                }
            };
            layers.push(Layer {
                attn_norm: src.require(&format!("{p}.input_layernorm.weight"), &[h])?,
                q: src.linear(&format!("{p}.self_attn.q_proj"), cfg.num_heads * hd, h, bias)?,
                k: src.linear(&format!("{p}.self_attn.k_proj"), cfg.num_kv_heads * hd, h, bias)?,
                v: src.linear(&format!("{p}.self_attn.v_proj"), cfg.num_kv_heads * hd, h, bias)?,
                o: src.linear(&format!("{p}.self_attn.o_proj"), h, cfg.num_heads * hd, false)?,
                q_norm: if cfg.qk_norm {
                    Some(src.require(&format!("{p}.self_attn.q_norm.weight"), &[hd])?)
                } else {
                    None
                },
                k_norm: if cfg.qk_norm {
                    Some(src.require(&format!("{p}.self_attn.k_norm.weight"), &[hd])?)
                } else {
                    None
                },
                ffn_norm: src.require(&format!("{p}.post_attention_layernorm.weight"), &[h])?,
                ffn,
            });
        }
        let norm = src.require("model.norm.weight", &[h])?;
        let lm_head = if cfg.tie_word_embeddings {
            None
        } else {
            match src.tensor("lm_head.weight")? {
                Some(_) => Some(src.matrix("lm_head.weight", cfg.vocab_size, h)?),
                None => None,
            }
        };
        let rope = Rope::new(hd, cfg.rope_theta, cfg.max_position_embeddings.max(1), cfg.rope_style);
        Ok(Model { cfg, embed, layers, norm, lm_head, rope })
    }

    /// Runs the new tokens of every step through the model, appending to their caches, and
    /// returns logits (`[vocab]` rows) for the requested positions: per step, one row for
    /// [`Logits::Last`], one per new token for [`Logits::All`], none for [`Logits::None`].
    pub fn forward(&self, steps: &mut [Step<'_>], want: Logits) -> Result<Vec<Vec<Vec<f32>>>> {
        let cfg = &self.cfg;
        let (h, hd, nh, nkv) = (cfg.hidden_size, cfg.head_dim, cfg.num_heads, cfg.num_kv_heads);
        // Token offsets of each step in the batch, and absolute start positions.
        let mut offsets = Vec::with_capacity(steps.len());
        let mut n = 0usize;
        for s in steps.iter() {
            if s.tokens.is_empty() {
                return Err(Error::Invalid("a step has no tokens".into()));
            }
            if let Some(bad) = s.tokens.iter().find(|t| **t as usize >= cfg.vocab_size) {
                return Err(Error::Invalid(format!("token id {bad} is outside the vocabulary of {}", cfg.vocab_size)));
            }
            let start = s.prefix.map_or(0, KvCache::len) + s.cache.len;
            if start + s.tokens.len() > self.rope.max_positions() {
                return Err(Error::Invalid(format!(
                    "{} positions exceed the model's maximum of {}",
                    start + s.tokens.len(),
                    self.rope.max_positions()
                )));
            }
            offsets.push((n, start));
            n += s.tokens.len();
        }

        let mut x = vec![0f32; n * h];
        for (s, (off, _)) in steps.iter().zip(&offsets) {
            for (t, tok) in s.tokens.iter().enumerate() {
                let row = *tok as usize;
                x[(off + t) * h..(off + t + 1) * h].copy_from_slice(&self.embed[row * h..(row + 1) * h]);
            }
        }

        let mut normed = vec![0f32; n * h];
        let mut q = vec![0f32; n * nh * hd];
        let mut k = vec![0f32; n * nkv * hd];
        let mut v = vec![0f32; n * nkv * hd];
        let mut attn = vec![0f32; n * nh * hd];
        let mut proj = vec![0f32; n * h];
        for (li, layer) in self.layers.iter().enumerate() {
            rms_norm(&x, &layer.attn_norm, cfg.rms_norm_eps, &mut normed);
            let mut acts = None;
            layer.q.forward_shared(&normed, n, &mut q, &mut acts);
            layer.k.forward_shared(&normed, n, &mut k, &mut acts);
            layer.v.forward_shared(&normed, n, &mut v, &mut acts);
            if let (Some(qn), Some(kn)) = (&layer.q_norm, &layer.k_norm) {
                rms_norm_inplace(&mut q, qn, cfg.rms_norm_eps);
                rms_norm_inplace(&mut k, kn, cfg.rms_norm_eps);
            }
            for (s, (off, start)) in steps.iter().zip(&offsets) {
                for t in 0..s.tokens.len() {
                    let row = off + t;
                    self.rope.apply(&mut q[row * nh * hd..(row + 1) * nh * hd], start + t);
                    self.rope.apply(&mut k[row * nkv * hd..(row + 1) * nkv * hd], start + t);
                }
            }
            // Append the new keys and values to each sequence's cache.
            for (s, (off, _)) in steps.iter_mut().zip(&offsets) {
                for g in 0..nkv {
                    let (kc, vc) = (&mut s.cache.k[li][g], &mut s.cache.v[li][g]);
                    for t in 0..s.tokens.len() {
                        let at = ((off + t) * nkv + g) * hd;
                        kc.extend_from_slice(&k[at..at + hd]);
                        vc.extend_from_slice(&v[at..at + hd]);
                    }
                }
            }
            self.attention(steps, &offsets, li, &q, &mut attn);
            layer.o.forward(&attn, n, &mut proj);
            for (xi, p) in x.iter_mut().zip(&proj) {
                *xi += p;
            }
            rms_norm(&x, &layer.ffn_norm, cfg.rms_norm_eps, &mut normed);
            self.ffn(&layer.ffn, &normed, n, &mut proj);
            for (xi, p) in x.iter_mut().zip(&proj) {
                *xi += p;
            }
        }
        for s in steps.iter_mut() {
            s.cache.len += s.tokens.len();
        }

        // Final norm and the output projection, for the requested rows only.
        let rows: Vec<Vec<usize>> = steps
            .iter()
            .zip(&offsets)
            .map(|(s, (off, _))| match want {
                Logits::None => Vec::new(),
                Logits::Last => vec![off + s.tokens.len() - 1],
                Logits::All => (*off..off + s.tokens.len()).collect(),
            })
            .collect();
        let flat: Vec<usize> = rows.iter().flatten().copied().collect();
        let mut picked = vec![0f32; flat.len() * h];
        for (i, r) in flat.iter().enumerate() {
            picked[i * h..(i + 1) * h].copy_from_slice(&x[r * h..(r + 1) * h]);
        }
        rms_norm_inplace(&mut picked, &self.norm, cfg.rms_norm_eps);
        let vocab = cfg.vocab_size;
        let mut logits = vec![0f32; flat.len() * vocab];
        match &self.lm_head {
            Some(m) => m.forward(&picked, flat.len(), &mut logits),
            None => matmul_wt(&picked, flat.len(), h, &self.embed, vocab, &mut logits),
        }
        let mut out = Vec::with_capacity(steps.len());
        let mut at = 0;
        for r in rows {
            out.push((0..r.len()).map(|i| logits[(at + i) * vocab..(at + i + 1) * vocab].to_vec()).collect());
            at += r.len();
        }
        Ok(out)
    }

    /// Causal attention of each step's new queries over its prefix and its own cache,
    /// parallel over (step, head). Queries go in blocks of 64 rows; a block's scores cover
    /// only the keys its last row can see, so the masked triangle is mostly not computed.
    fn attention(&self, steps: &[Step<'_>], offsets: &[(usize, usize)], layer: usize, q: &[f32], out: &mut [f32]) {
        const BLOCK: usize = 64;
        let cfg = &self.cfg;
        let (hd, nh, nkv) = (cfg.head_dim, cfg.num_heads, cfg.num_kv_heads);
        let group = nh / nkv;
        let scale = 1.0 / (hd as f32).sqrt();
        let qs = nh * hd;
        let jobs: Vec<(usize, usize)> = (0..steps.len()).flat_map(|s| (0..nh).map(move |hh| (s, hh))).collect();
        let results: Vec<(usize, usize, Vec<f32>)> = jobs
            .into_par_iter()
            .map(|(si, head)| {
                let s = &steps[si];
                let (off, _) = offsets[si];
                let tq = s.tokens.len();
                let g = head / group;
                let (pk, pv, plen) = match s.prefix {
                    Some(p) => (&p.k[layer][g][..], &p.v[layer][g][..], p.len),
                    None => (&[][..], &[][..], 0),
                };
                let (ok, ov) = (&s.cache.k[layer][g], &s.cache.v[layer][g]);
                let olen = ok.len() / hd;
                let seen_before = olen - tq;
                let mut o = vec![0f32; tq * hd];
                let mut scores = vec![0f32; BLOCK.min(tq) * (plen + olen)];
                for r0 in (0..tq).step_by(BLOCK) {
                    let r1 = (r0 + BLOCK).min(tq);
                    let rows = r1 - r0;
                    // The last row of the block sees the prefix and its own cache up to itself.
                    let own = seen_before + r1;
                    let width = plen + own;
                    let sc = &mut scores[..rows * width];
                    let qb = &q[(off + r0) * qs + head * hd..];
                    matmul_wt_strided(qb, qs, rows, hd, pk, plen, sc, width, scale, false);
                    matmul_wt_strided(qb, qs, rows, hd, &ok[..own * hd], own, &mut sc[plen..], width, scale, false);
                    for (i, row) in sc.chunks_exact_mut(width).enumerate() {
                        let visible = plen + seen_before + r0 + i + 1;
                        softmax(&mut row[..visible]);
                        row[visible..].fill(0.0);
                    }
                    let ob = &mut o[r0 * hd..r1 * hd];
                    matmul_strided(sc, width, rows, plen, pv, hd, ob, hd, false);
                    matmul_strided(&sc[plen..], width, rows, own, &ov[..own * hd], hd, ob, hd, plen > 0);
                }
                (si, head, o)
            })
            .collect();
        for (si, head, o) in results {
            let (off, _) = offsets[si];
            for t in 0..steps[si].tokens.len() {
                let at = ((off + t) * nh + head) * hd;
                out[at..at + hd].copy_from_slice(&o[t * hd..(t + 1) * hd]);
            }
        }
    }

    fn ffn(&self, ffn: &Ffn, x: &[f32], n: usize, out: &mut [f32]) {
        match ffn {
            Ffn::Dense { gate, up, down } => {
                let im = gate.out_dim();
                let mut g = vec![0f32; n * im];
                let mut u = vec![0f32; n * im];
                let mut acts = None;
                gate.forward_shared(x, n, &mut g, &mut acts);
                up.forward_shared(x, n, &mut u, &mut acts);
                silu_mul(&mut g, &u);
                down.forward(&g, n, out);
            }
            Ffn::Moe { router, experts, cfg } => self.moe(router, experts, cfg, x, n, out),
        }
    }

    /// Mixture of experts: route, group tokens by expert, run each expert on its tokens,
    /// scatter the weighted outputs back.
    fn moe(&self, router: &Matrix, experts: &[[Matrix; 3]], m: &MoeConfig, x: &[f32], n: usize, out: &mut [f32]) {
        let h = self.cfg.hidden_size;
        let e_count = m.num_experts;
        let mut logits = vec![0f32; n * e_count];
        router.forward(x, n, &mut logits);
        // Per expert: (token, weight).
        let mut assigned: Vec<Vec<(usize, f32)>> = vec![Vec::new(); e_count];
        for t in 0..n {
            let row = &mut logits[t * e_count..(t + 1) * e_count];
            softmax(row);
            let mut idx: Vec<usize> = (0..e_count).collect();
            idx.sort_by(|a, b| row[*b].total_cmp(&row[*a]).then(a.cmp(b)));
            let top = &idx[..m.top_k];
            let sum: f32 = top.iter().map(|e| row[*e]).sum();
            for &e in top {
                let w = if m.norm_topk_prob { row[e] / sum } else { row[e] };
                assigned[e].push((t, w));
            }
        }
        let partials: Vec<(usize, Vec<f32>)> = assigned
            .par_iter()
            .enumerate()
            .filter(|(_, a)| !a.is_empty())
            .map(|(e, a)| {
                let [gate, up, down] = &experts[e];
                let k = a.len();
                let mut xs = vec![0f32; k * h];
                for (i, (t, _)) in a.iter().enumerate() {
                    xs[i * h..(i + 1) * h].copy_from_slice(&x[t * h..(t + 1) * h]);
                }
                let ei = gate.rows;
                let mut g = vec![0f32; k * ei];
                let mut u = vec![0f32; k * ei];
                let mut acts = None;
                gate.forward_shared(&xs, k, &mut g, &mut acts);
                up.forward_shared(&xs, k, &mut u, &mut acts);
                silu_mul(&mut g, &u);
                let mut y = vec![0f32; k * h];
                down.forward(&g, k, &mut y);
                (e, y)
            })
            .collect();
        out.fill(0.0);
        for (e, y) in partials {
            for (i, (t, w)) in assigned[e].iter().enumerate() {
                for (o, v) in out[t * h..(t + 1) * h].iter_mut().zip(&y[i * h..(i + 1) * h]) {
                    *o += w * v;
                }
            }
        }
    }

    /// Log-probabilities of `ids` under one logits row (log-softmax, gathered).
    pub fn log_probs(logits: &[f32], ids: &[u32]) -> Vec<f32> {
        let lse = logsumexp(logits);
        ids.iter().map(|i| logits[*i as usize] - lse).collect()
    }
}
