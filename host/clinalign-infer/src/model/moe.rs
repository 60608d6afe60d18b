//! The sparse mixture-of-experts block of Qwen3-MoE: a router scores every expert for each
//! token, a softmax over all of them, the top-k kept (renormalised to sum to one when
//! `norm_topk_prob`), and each token's output is the weighted sum of its experts' outputs.
//! Tokens are grouped by expert, so each expert runs once on all the tokens routed to it.

use rayon::prelude::*;

use super::mlp::Mlp;
use crate::config::MoeConfig;
use crate::error::{Error, Result};
use crate::ops::softmax;
use crate::weights::{Matrix, Proj, WeightSource};

/// A mixture of SwiGLU experts with a linear router.
pub(super) struct SparseMoe {
    /// `[experts, hidden]`.
    router: Matrix,
    experts: Vec<Mlp>,
    top_k: usize,
    norm_topk_prob: bool,
}

/// The tokens routed to one expert, with their routing weights.
type Assigned = Vec<(usize, f32)>;

impl SparseMoe {
    /// Layer `layer`'s block: the router `{prefix}.gate.weight` and every expert of `m`.
    pub fn load(src: &dyn WeightSource, prefix: &str, layer: usize, hidden: usize, m: &MoeConfig) -> Result<SparseMoe> {
        let router = src.matrix(&format!("{prefix}.gate.weight"), m.num_experts, hidden)?;
        let ei = m.expert_intermediate_size;
        let experts = (0..m.num_experts)
            .map(|e| {
                let get = |proj: Proj, rows: usize, cols: usize| expert_matrix(src, layer, e, proj, rows, cols);
                Ok(Mlp::new(get(Proj::Gate, ei, hidden)?, get(Proj::Up, ei, hidden)?, get(Proj::Down, hidden, ei)?))
            })
            .collect::<Result<_>>()?;
        Ok(SparseMoe { router, experts, top_k: m.top_k, norm_topk_prob: m.norm_topk_prob })
    }

    /// `out[n × hidden]`: each token of `x` `[n × hidden]` through its top-k experts, weighted.
    pub fn forward(&self, x: &[f32], n: usize, out: &mut [f32]) {
        let assigned = self.route(x, n);
        let h = self.router.cols;
        // Each expert on its tokens, gathered into one matrix.
        let outputs: Vec<(usize, Vec<f32>)> = assigned
            .par_iter()
            .enumerate()
            .filter(|(_, a)| !a.is_empty())
            .map(|(e, a)| {
                let k = a.len();
                let mut xs = vec![0f32; k * h];
                for (i, (t, _)) in a.iter().enumerate() {
                    xs[i * h..(i + 1) * h].copy_from_slice(&x[t * h..(t + 1) * h]);
                }
                let mut y = vec![0f32; k * h];
                self.experts[e].forward(&xs, k, &mut y);
                (e, y)
            })
            .collect();
        // Scattered back, weighted.
        out.fill(0.0);
        for (e, y) in outputs {
            for (i, (t, w)) in assigned[e].iter().enumerate() {
                for (o, v) in out[t * h..(t + 1) * h].iter_mut().zip(&y[i * h..(i + 1) * h]) {
                    *o += w * v;
                }
            }
        }
    }

    /// Per expert, the tokens routed to it (see [`route`]).
    fn route(&self, x: &[f32], n: usize) -> Vec<Assigned> {
        let experts = self.experts.len();
        let mut logits = vec![0f32; n * experts];
        self.router.forward(x, n, &mut logits);
        route(&mut logits, experts, self.top_k, self.norm_topk_prob)
    }
}

/// Per expert, the tokens routed to it, from the router's `logits` `[tokens × experts]`
/// (overwritten with probabilities): the softmax over all experts, the `top_k` largest kept
/// (ties to the lower index), renormalised when `norm_topk_prob`.
fn route(logits: &mut [f32], experts: usize, top_k: usize, norm_topk_prob: bool) -> Vec<Assigned> {
    let mut assigned: Vec<Assigned> = vec![Vec::new(); experts];
    for (t, row) in logits.chunks_exact_mut(experts).enumerate() {
        softmax(row);
        let mut idx: Vec<usize> = (0..experts).collect();
        idx.sort_by(|a, b| row[*b].total_cmp(&row[*a]).then(a.cmp(b)));
        let top = &idx[..top_k];
        let sum: f32 = top.iter().map(|e| row[*e]).sum();
        for &e in top {
            let w = if norm_topk_prob { row[e] / sum } else { row[e] };
            assigned[e].push((t, w));
        }
    }
    assigned
}

/// Expert `e`'s `proj` in layer `layer`, checked to be `rows × cols`.
fn expert_matrix(
    src: &dyn WeightSource,
    layer: usize,
    e: usize,
    proj: Proj,
    rows: usize,
    cols: usize,
) -> Result<Matrix> {
    let mat = src
        .expert(layer, e, proj)?
        .ok_or_else(|| Error::format(src.origin(), format!("missing expert {e} ({proj:?}) of layer {layer}")))?;
    if (mat.rows, mat.cols) != (rows, cols) {
        return Err(Error::format(
            src.origin(),
            format!("expert {e} {proj:?} of layer {layer} is {}×{}, expected {rows}×{cols}", mat.rows, mat.cols),
        ));
    }
    Ok(mat)
}

#[cfg(test)]
mod tests {
    use super::route;
    use crate::cuda::mirror::{moe_align, topk_softmax};
    use rand::{RngExt, SeedableRng, rngs::StdRng};

    /// Router logits `[tokens × experts]`, with some exact ties to exercise the tie rule.
    fn logits(tokens: usize, experts: usize, seed: u64) -> Vec<f32> {
        let mut rng = StdRng::seed_from_u64(seed);
        (0..tokens * experts).map(|i| if i % 7 == 3 { 0.5 } else { rng.random_range(-4.0f32..4.0) }).collect()
    }

    /// The CUDA router's mirror picks the experts, and the weights, the CPU backend routes by.
    #[test]
    fn the_router_kernels_mirror_routes_as_the_cpu_backend() {
        for (experts, k, renorm) in [(8, 2, true), (128, 8, true), (128, 8, false), (60, 4, true)] {
            let tokens = 33;
            let l = logits(tokens, experts, experts as u64);
            let assigned = route(&mut l.clone(), experts, k, renorm);
            for t in 0..tokens {
                let (w, ids) = topk_softmax(&l[t * experts..(t + 1) * experts], k, renorm);
                for (wi, e) in w.iter().zip(&ids) {
                    let (_, cpu_w) = assigned[*e as usize].iter().find(|(tt, _)| *tt == t).expect("same expert");
                    assert!((wi - cpu_w).abs() < 1e-5, "token {t} expert {e}: {wi} vs {cpu_w}");
                }
            }
        }
    }

    /// The alignment's expert segments hold exactly the tokens the CPU backend gives each
    /// expert (pair id / k = token).
    #[test]
    fn the_alignment_kernels_mirror_groups_tokens_as_the_cpu_backend() {
        let (tokens, experts, k) = (50, 16, 4);
        let l = logits(tokens, experts, 7);
        let assigned = route(&mut l.clone(), experts, k, true);
        let topk: Vec<i32> =
            (0..tokens).flat_map(|t| topk_softmax(&l[t * experts..(t + 1) * experts], k, true).1).collect();
        let a = moe_align(&topk, experts, 16);
        for (e, cpu) in assigned.iter().enumerate() {
            let seg = &a.sorted_ids[a.cumsum[e] as usize..a.cumsum[e + 1] as usize];
            let mut got: Vec<usize> =
                seg.iter().filter(|i| (**i as usize) < tokens * k).map(|i| *i as usize / k).collect();
            got.sort_unstable();
            let mut want: Vec<usize> = cpu.iter().map(|(t, _)| *t).collect();
            want.sort_unstable();
            assert_eq!(got, want, "expert {e}");
        }
    }
}
