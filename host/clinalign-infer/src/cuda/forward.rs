//! The forward pass on a GPU, from the kernels alone (first version): a batch of whole
//! sequences (each from position 0, no cache kept between calls) through every layer, and the
//! logits of the last or of every position. Dense projections run on the grouped GEMM kernel
//! as one "expert" over the batch's rows in order, so the pass needs the driver and the
//! kernels, not cuBLAS (whose library name differs between CUDA 12 and 13 machines).
//!
//! It is checked against the CPU backend by [`compare_with_cpu`] (`clinalign kernels
//! forward-check`), on the device machine. Not yet: the judge's shared prefix, a KV cache
//! kept across calls (generation), biases (Qwen2), and the engine's use of it (`--device cuda`).

use cudarc::driver::{CudaSlice, LaunchConfig, PushKernelArg};
use half::bf16;
use serde::Serialize;

use super::check::{Device, driver};
use super::weights::{self, FeedForward};
use crate::config::ModelConfig;
use crate::error::{Error, Result};
use crate::ops::Rope;
use crate::weights::WeightSource;

/// Rows per block of the grouped GEMM (`BM` in moe_gemm.cu) and of the alignment.
const BLOCK_M: usize = 64;

enum DevFfn {
    Dense { gate_up: CudaSlice<bf16>, down: CudaSlice<bf16> },
    Sparse { router: CudaSlice<bf16>, w13: CudaSlice<bf16>, w2: CudaSlice<bf16> },
}

struct DevLayer {
    input_norm: CudaSlice<bf16>,
    qkv: CudaSlice<bf16>,
    qk_norm: Option<(CudaSlice<bf16>, CudaSlice<bf16>)>,
    o: CudaSlice<bf16>,
    post_norm: CudaSlice<bf16>,
    ffn: DevFfn,
}

/// A model on the GPU, bf16.
pub struct CudaModel {
    dev: Device,
    pub cfg: ModelConfig,
    embed: CudaSlice<bf16>,
    layers: Vec<DevLayer>,
    norm: CudaSlice<bf16>,
    lm_head: Option<CudaSlice<bf16>>,
    rope: CudaSlice<f32>,
    max_positions: usize,
}

fn unsupported(what: String) -> Error {
    Error::Unsupported(format!("the CUDA forward pass: {what}"))
}

fn grid(x: usize, y: usize, block: usize) -> LaunchConfig {
    LaunchConfig { grid_dim: (x as u32, y as u32, 1), block_dim: (block as u32, 1, 1), shared_mem_bytes: 0 }
}

/// The rows of a batch in order, as the grouped GEMM's "sorted ids" of one expert.
struct RowOrder {
    sorted: CudaSlice<i32>,
    experts: CudaSlice<i32>,
    total: CudaSlice<i32>,
    blocks: usize,
    rows: usize,
}

impl CudaModel {
    /// Loads `cfg`'s weights from `src` onto `dev`, refusing what the kernels cannot run.
    pub fn load(dev: Device, cfg: &ModelConfig, src: &dyn WeightSource) -> Result<CudaModel> {
        let d = cfg.head_dim;
        if cfg.attention_bias {
            return Err(unsupported("attention biases (Qwen2) are not supported yet".into()));
        }
        if d > 256 || !d.is_multiple_of(2) {
            return Err(unsupported(format!("head size {d} (even, at most 256)")));
        }
        let mut ks = vec![("hidden size", cfg.hidden_size), ("heads × head size", cfg.num_heads * d)];
        ks.push(("intermediate size", cfg.intermediate_size));
        if let Some(m) = &cfg.moe {
            ks.push(("expert intermediate size", m.expert_intermediate_size));
            if m.num_experts > 512 {
                return Err(unsupported(format!("{} experts (the router kernel takes at most 512)", m.num_experts)));
            }
        }
        for (what, k) in ks {
            if !k.is_multiple_of(32) {
                return Err(unsupported(format!("{what} {k} is not a multiple of 32 (the GEMM's K tile)")));
            }
        }
        let host = weights::load(cfg, src)?;
        let up = |v: &[bf16]| dev.up(v);
        let mut layers = Vec::with_capacity(host.layers.len());
        for l in &host.layers {
            let ffn = match &l.ffn {
                FeedForward::Dense { gate_up, down } => DevFfn::Dense { gate_up: up(gate_up)?, down: up(down)? },
                FeedForward::Sparse { router, w13, w2 } => {
                    DevFfn::Sparse { router: up(router)?, w13: up(w13)?, w2: up(w2)? }
                }
            };
            let qk_norm = match &l.qk_norm {
                Some((q, k)) => Some((up(q)?, up(k)?)),
                None => None,
            };
            layers.push(DevLayer {
                input_norm: up(&l.input_norm)?,
                qkv: up(&l.qkv)?,
                qk_norm,
                o: up(&l.o)?,
                post_norm: up(&l.post_attention_norm)?,
                ffn,
            });
        }
        let rope = Rope::new(d, cfg.rope_theta, cfg.max_position_embeddings.max(1), cfg.rope_style);
        let max_positions = rope.max_positions();
        let rope = dev.up(&rope.cos_sin_rows())?;
        Ok(CudaModel {
            embed: up(&host.embed)?,
            norm: up(&host.norm)?,
            lm_head: host.lm_head.as_deref().map(up).transpose()?,
            layers,
            rope,
            max_positions,
            cfg: cfg.clone(),
            dev,
        })
    }

    fn row_order(&self, rows: usize) -> Result<RowOrder> {
        let len = rows.div_ceil(BLOCK_M) * BLOCK_M;
        let sorted: Vec<i32> = (0..len as i32).map(|i| if (i as usize) < rows { i } else { rows as i32 }).collect();
        Ok(RowOrder {
            sorted: self.dev.up(&sorted)?,
            experts: self.dev.zeros::<i32>(len / BLOCK_M)?,
            total: self.dev.up(&[len as i32])?,
            blocks: len / BLOCK_M,
            rows,
        })
    }

    /// `out[rows, n] = x[rows, k] · w[n, k]ᵀ` on the grouped GEMM, one expert.
    fn linear(
        &self,
        x: &CudaSlice<bf16>,
        w: &CudaSlice<bf16>,
        n: usize,
        k: usize,
        order: &RowOrder,
        out: &mut CudaSlice<bf16>,
    ) -> Result<()> {
        let f = self.dev.func("moe_gemm.cu", "moe_grouped_gemm_bf16")?;
        let (numel, one, n_i, k_i, null) = (order.rows as i32, 1i32, n as i32, k as i32, 0u64);
        let mut b = self.dev.stream.launch_builder(&f);
        b.arg(x).arg(w).arg(out).arg(&order.sorted).arg(&order.experts).arg(&order.total).arg(&null);
        b.arg(&numel).arg(&one).arg(&n_i).arg(&k_i);
        // SAFETY: x is [rows, k], w is [n, k], out is [rows, n]; k % 32 == 0 (checked at load).
        unsafe { b.launch(grid(n.div_ceil(64), order.blocks, 128)) }.map_err(driver("launching a projection"))?;
        Ok(())
    }

    /// `residual += delta` (when given), then `out = rmsnorm(residual) · w`.
    fn add_norm(
        &self,
        residual: &mut CudaSlice<bf16>,
        delta: Option<&CudaSlice<bf16>>,
        w: &CudaSlice<bf16>,
        out: &mut CudaSlice<bf16>,
        rows: usize,
    ) -> Result<()> {
        let f = self.dev.func("rmsnorm.cu", "add_rmsnorm_bf16")?;
        let (h, eps, null) = (self.cfg.hidden_size as i32, self.cfg.rms_norm_eps, 0u64);
        let mut b = self.dev.stream.launch_builder(&f);
        b.arg(residual);
        match delta {
            Some(d) => b.arg(d),
            None => b.arg(&null),
        };
        b.arg(w).arg(out).arg(&h).arg(&eps);
        // SAFETY: every buffer is [rows, hidden] (w: [hidden]).
        unsafe { b.launch(grid(rows, 1, 256)) }.map_err(driver("launching add_rmsnorm"))?;
        Ok(())
    }

    /// Logits (f32) of each sequence: every position with `all`, else the last one.
    pub fn forward(&self, sequences: &[&[u32]], all: bool) -> Result<Vec<Vec<f32>>> {
        let cfg = &self.cfg;
        let (h, d, qh, kvh) = (cfg.hidden_size, cfg.head_dim, cfg.num_heads, cfg.num_kv_heads);
        let vocab = cfg.vocab_size;
        let mut ids = Vec::new();
        let (mut positions, mut starts, mut lens, mut wanted) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for s in sequences {
            if s.is_empty() || s.len() > self.max_positions {
                return Err(Error::Invalid(format!(
                    "a sequence of {} tokens (1 to {} here)",
                    s.len(),
                    self.max_positions
                )));
            }
            if let Some(bad) = s.iter().find(|t| **t as usize >= vocab) {
                return Err(Error::Invalid(format!("token id {bad} is outside the vocabulary of {vocab}")));
            }
            let start = ids.len();
            for i in 0..s.len() {
                positions.push(i as i32);
                starts.push(start as i32);
                lens.push(i as i32 + 1);
                if all || i + 1 == s.len() {
                    wanted.push((start + i) as u32);
                }
            }
            ids.extend_from_slice(s);
        }
        let rows = ids.len();
        let order = self.row_order(rows)?;
        let (ids_d, pos_d, start_d, len_d) =
            (self.dev.up(&ids)?, self.dev.up(&positions)?, self.dev.up(&starts)?, self.dev.up(&lens)?);
        let slots: Vec<i32> = (0..rows as i32).collect();
        let slots_d = self.dev.up(&slots)?;
        let mut x = self.dev.zeros::<bf16>(rows * h)?;
        let f = self.dev.func("embedding.cu", "embed_gather_bf16")?;
        let (h_i, v_u) = (h as i32, vocab as u32);
        let mut b = self.dev.stream.launch_builder(&f);
        b.arg(&self.embed).arg(&ids_d).arg(&mut x).arg(&h_i).arg(&v_u);
        // SAFETY: ids are checked against the vocabulary; x is [rows, hidden].
        unsafe { b.launch(grid(rows, 1, 128)) }.map_err(driver("launching the embedding"))?;

        let width = (qh + 2 * kvh) * d;
        let mut normed = self.dev.zeros::<bf16>(rows * h)?;
        let mut delta = self.dev.zeros::<bf16>(rows * h)?;
        let mut qkv = self.dev.zeros::<bf16>(rows * width)?;
        let mut q = self.dev.zeros::<bf16>(rows * qh * d)?;
        let mut kc = self.dev.zeros::<bf16>(rows * kvh * d)?;
        let mut vc = self.dev.zeros::<bf16>(rows * kvh * d)?;
        let mut o = self.dev.zeros::<f32>(rows * qh * d)?;
        let mut lse = self.dev.zeros::<f32>(qh * rows)?;
        let mut attn = self.dev.zeros::<bf16>(rows * qh * d)?;
        let mut first = true;
        for layer in &self.layers {
            self.add_norm(&mut x, (!first).then_some(&delta), &layer.input_norm, &mut normed, rows)?;
            first = false;
            self.linear(&normed, &layer.qkv, width, h, &order, &mut qkv)?;
            let f = self.dev.func("rope.cu", "qk_norm_rope_kv_bf16")?;
            let null = 0u64;
            let (eps, qh_i, kvh_i, d_i) = (cfg.rms_norm_eps, qh as i32, kvh as i32, d as i32);
            let interleaved = i32::from(cfg.rope_style == crate::config::RopeStyle::Interleaved);
            let mut b = self.dev.stream.launch_builder(&f);
            b.arg(&qkv);
            match &layer.qk_norm {
                Some((qn, kn)) => b.arg(qn).arg(kn),
                None => b.arg(&null).arg(&null),
            };
            b.arg(&eps).arg(&pos_d).arg(&self.rope).arg(&mut q).arg(&mut kc).arg(&mut vc).arg(&slots_d);
            b.arg(&qh_i).arg(&kvh_i).arg(&d_i).arg(&interleaved);
            // SAFETY: qkv is [rows, width]; the caches have a slot per row; positions < max.
            unsafe { b.launch(grid(rows, qh + kvh, d.max(32))) }.map_err(driver("launching rope"))?;
            let (entry, generic) = match d {
                64 => ("attention_partial_d64", false),
                128 => ("attention_partial_d128", false),
                _ => ("attention_partial_any", true),
            };
            let f = self.dev.func("attention.cu", entry)?;
            let (rows_i, scale) = (rows as i32, 1.0f32 / (d as f32).sqrt());
            let mut b = self.dev.stream.launch_builder(&f);
            b.arg(&q).arg(&kc).arg(&vc).arg(&start_d).arg(&len_d).arg(&mut o).arg(&mut lse);
            b.arg(&rows_i).arg(&qh_i).arg(&kvh_i).arg(&scale);
            if generic {
                b.arg(&d_i);
            }
            // SAFETY: row r sees slots start[r]..start[r]+len[r], all written above.
            unsafe { b.launch(grid(rows, qh.div_ceil(4), 128)) }.map_err(driver("launching attention"))?;
            let f = self.dev.func("attention.cu", "merge_attention_bf16")?;
            let total = rows * qh * d;
            let mut b = self.dev.stream.launch_builder(&f);
            b.arg(&o).arg(&lse).arg(&null).arg(&null).arg(&mut attn).arg(&rows_i).arg(&qh_i).arg(&d_i);
            // SAFETY: one partial; out is [rows, heads, head_dim].
            unsafe { b.launch(grid(total.div_ceil(256), 1, 256)) }.map_err(driver("launching the attention cast"))?;
            self.linear(&attn, &layer.o, h, qh * d, &order, &mut delta)?;
            self.add_norm(&mut x, Some(&delta), &layer.post_norm, &mut normed, rows)?;
            match &layer.ffn {
                DevFfn::Dense { gate_up, down } => {
                    let inter = cfg.intermediate_size;
                    let mut gu = self.dev.zeros::<bf16>(rows * 2 * inter)?;
                    let mut act = self.dev.zeros::<bf16>(rows * inter)?;
                    self.linear(&normed, gate_up, 2 * inter, h, &order, &mut gu)?;
                    self.silu_mul(&gu, &mut act, rows, inter)?;
                    self.linear(&act, down, h, inter, &order, &mut delta)?;
                }
                DevFfn::Sparse { router, w13, w2 } => self.moe(&normed, router, w13, w2, &order, &mut delta)?,
            }
        }
        // The final norm, the wanted rows gathered, the output head.
        self.add_norm(&mut x, Some(&delta), &self.norm, &mut normed, rows)?;
        let picked_rows = wanted.len();
        let wanted_d = self.dev.up(&wanted)?;
        let mut picked = self.dev.zeros::<bf16>(picked_rows * h)?;
        let f = self.dev.func("embedding.cu", "embed_gather_bf16")?;
        let rows_u = rows as u32;
        let mut b = self.dev.stream.launch_builder(&f);
        b.arg(&normed).arg(&wanted_d).arg(&mut picked).arg(&h_i).arg(&rows_u);
        // SAFETY: the wanted rows are rows of `normed`.
        unsafe { b.launch(grid(picked_rows, 1, 128)) }.map_err(driver("launching the row gather"))?;
        let mut logits = self.dev.zeros::<bf16>(picked_rows * vocab)?;
        let head_order = self.row_order(picked_rows)?;
        self.linear(&picked, self.lm_head.as_ref().unwrap_or(&self.embed), vocab, h, &head_order, &mut logits)?;
        let host = self.dev.down(&logits)?;
        let mut out = Vec::with_capacity(sequences.len());
        let mut at = 0;
        for s in sequences {
            let n = if all { s.len() } else { 1 };
            out.push(host[at * vocab..(at + n) * vocab].iter().map(|v| v.to_f32()).collect());
            at += n;
        }
        Ok(out)
    }

    fn silu_mul(&self, gu: &CudaSlice<bf16>, act: &mut CudaSlice<bf16>, rows: usize, inter: usize) -> Result<()> {
        let f = self.dev.func("activation.cu", "silu_mul_bf16")?;
        let inter_i = inter as i32;
        let mut b = self.dev.stream.launch_builder(&f);
        b.arg(gu).arg(act).arg(&inter_i);
        // SAFETY: gu is [rows, 2·inter], act is [rows, inter].
        unsafe { b.launch(grid(rows, inter.div_ceil(128), 128)) }.map_err(driver("launching silu_mul"))?;
        Ok(())
    }

    /// The mixture: router → top-k → alignment → gate/up GEMM → SiLU·mul → weighted down
    /// GEMM → sum over the top k, into `out` `[rows, hidden]`.
    fn moe(
        &self,
        x: &CudaSlice<bf16>,
        router: &CudaSlice<bf16>,
        w13: &CudaSlice<bf16>,
        w2: &CudaSlice<bf16>,
        order: &RowOrder,
        out: &mut CudaSlice<bf16>,
    ) -> Result<()> {
        let m = self.cfg.moe.as_ref().expect("a sparse layer has a MoE config");
        let (rows, h, e, k, ei) =
            (order.rows, self.cfg.hidden_size, m.num_experts, m.top_k, m.expert_intermediate_size);
        let mut logits = self.dev.zeros::<bf16>(rows * e)?;
        self.linear(x, router, e, h, order, &mut logits)?;
        let mut weights = self.dev.zeros::<f32>(rows * k)?;
        let mut ids = self.dev.zeros::<i32>(rows * k)?;
        let f = self.dev.func("router.cu", "topk_softmax_bf16")?;
        let (rows_i, e_i, k_i, renorm) = (rows as i32, e as i32, k as i32, i32::from(m.norm_topk_prob));
        let mut b = self.dev.stream.launch_builder(&f);
        b.arg(&logits).arg(&mut weights).arg(&mut ids).arg(&rows_i).arg(&e_i).arg(&k_i).arg(&renorm);
        // SAFETY: logits [rows, experts]; weights and ids [rows, k].
        unsafe { b.launch(grid(rows.div_ceil(4), 1, 128)) }.map_err(driver("launching the router"))?;

        let numel = rows * k;
        let len = super::mirror::sorted_len(numel, e, BLOCK_M);
        let mut sorted = self.dev.zeros::<i32>(len)?;
        let mut expert_ids = self.dev.zeros::<i32>(len / BLOCK_M)?;
        let mut cumsum = self.dev.zeros::<i32>(e + 1)?;
        let mut cursor = self.dev.zeros::<i32>(e)?;
        let mut total = self.dev.zeros::<i32>(1)?;
        let (numel_i, block_i, len_i) = (numel as i32, BLOCK_M as i32, len as i32);
        let f = self.dev.func("moe_align.cu", "moe_align_count_scan")?;
        let mut b = self.dev.stream.launch_builder(&f);
        b.arg(&ids).arg(&numel_i).arg(&e_i).arg(&block_i).arg(&mut cumsum).arg(&mut cursor);
        b.arg(&mut expert_ids).arg(&mut total).arg(&mut sorted).arg(&len_i);
        // SAFETY: buffers sized by the alignment contract.
        unsafe { b.launch(grid(1, 1, 1024)) }.map_err(driver("launching the alignment"))?;
        let f = self.dev.func("moe_align.cu", "moe_align_scatter")?;
        let mut b = self.dev.stream.launch_builder(&f);
        b.arg(&ids).arg(&numel_i).arg(&e_i).arg(&mut cursor).arg(&mut sorted);
        // SAFETY: as above.
        unsafe { b.launch(grid(numel.div_ceil(256).clamp(1, 1024), 1, 256)) }
            .map_err(driver("launching the scatter"))?;

        let gemm = self.dev.func("moe_gemm.cu", "moe_grouped_gemm_bf16")?;
        let null = 0u64;
        let mut h13 = self.dev.zeros::<bf16>(numel * 2 * ei)?;
        let (n1, k1) = ((2 * ei) as i32, h as i32);
        let mut b = self.dev.stream.launch_builder(&gemm);
        b.arg(x).arg(w13).arg(&mut h13).arg(&sorted).arg(&expert_ids).arg(&total).arg(&null);
        b.arg(&numel_i).arg(&k_i).arg(&n1).arg(&k1);
        // SAFETY: x [rows, H]; w13 [E, 2I, H]; h13 [numel, 2I]; H % 32 == 0.
        unsafe { b.launch(grid((2 * ei).div_ceil(64), len / BLOCK_M, 128)) }.map_err(driver("launching gate/up"))?;
        let mut act = self.dev.zeros::<bf16>(numel * ei)?;
        self.silu_mul(&h13, &mut act, numel, ei)?;
        let mut down = self.dev.zeros::<bf16>(numel * h)?;
        let (one, n2, k2) = (1i32, h as i32, ei as i32);
        let mut b = self.dev.stream.launch_builder(&gemm);
        b.arg(&act).arg(w2).arg(&mut down).arg(&sorted).arg(&expert_ids).arg(&total).arg(&weights);
        b.arg(&numel_i).arg(&one).arg(&n2).arg(&k2);
        // SAFETY: act [numel, I]; w2 [E, H, I]; down [numel, H]; I % 32 == 0.
        unsafe { b.launch(grid(h.div_ceil(64), len / BLOCK_M, 128)) }.map_err(driver("launching down"))?;
        let f = self.dev.func("combine.cu", "moe_combine_bf16")?;
        let h_i = h as i32;
        let mut b = self.dev.stream.launch_builder(&f);
        b.arg(&down).arg(out).arg(&k_i).arg(&h_i);
        // SAFETY: down [rows, k, H]; out [rows, H].
        unsafe { b.launch(grid(rows, h.div_ceil(128), 128)) }.map_err(driver("launching the combine"))?;
        Ok(())
    }
}

/// The CUDA forward pass against the CPU backend on the same sequences.
#[derive(Debug, Clone, Serialize)]
pub struct ForwardComparison {
    pub model: String,
    pub sequences: usize,
    pub positions: usize,
    /// Positions where both backends rank the same token first.
    pub top1_agree: usize,
    pub max_abs_logit_diff: f32,
}

/// Runs `sequences` through `gpu` and through the CPU model `cpu` (logits at every
/// position), and compares.
pub fn compare_with_cpu(
    gpu: &CudaModel,
    cpu: &crate::model::Model,
    sequences: &[Vec<u32>],
    name: &str,
) -> Result<ForwardComparison> {
    use crate::model::{KvCache, LogitsFor, Step};
    let refs: Vec<&[u32]> = sequences.iter().map(Vec::as_slice).collect();
    let got = gpu.forward(&refs, true)?;
    let vocab = cpu.cfg.vocab_size;
    let (mut positions, mut agree, mut worst) = (0usize, 0usize, 0f32);
    let argmax = |row: &[f32]| row.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map(|(i, _)| i).unwrap_or(0);
    for (s, g) in sequences.iter().zip(&got) {
        let mut cache = KvCache::new(&cpu.cfg);
        let want = cpu.forward(&mut [Step { tokens: s, cache: &mut cache, prefix: None }], LogitsFor::All)?;
        let want = want.step(0);
        for (i, w) in want.as_slice().chunks_exact(vocab).enumerate() {
            let gr = &g[i * vocab..(i + 1) * vocab];
            positions += 1;
            agree += usize::from(argmax(gr) == argmax(w));
            worst = gr.iter().zip(w).map(|(a, b)| (a - b).abs()).fold(worst, f32::max);
        }
    }
    Ok(ForwardComparison {
        model: name.into(),
        sequences: sequences.len(),
        positions,
        top1_agree: agree,
        max_abs_logit_diff: worst,
    })
}
