//! A model's weights in the layout the CUDA kernels read, as bf16, converted at load on the
//! host: from safetensors bf16/f16/f32 and from GGUF by dequantising (both through
//! [`WeightSource`], which yields f32). The layout fuses what the kernels run as one GEMM:
//! - attention: `qkv` `[(q_heads + 2·kv_heads)·head_dim, hidden]`, q rows, then k, then v
//!   (what `qk_norm_rope_kv_bf16` reads);
//! - dense MLP: `gate_up` `[2·inter, hidden]`, gate rows first (what `silu_mul_bf16` reads);
//! - mixture: `w13` `[experts, 2·inter, hidden]` and `w2` `[experts, hidden, inter]` (what
//!   `moe_grouped_gemm_bf16` reads), from per-expert or fused checkpoints alike.

use half::bf16;

use crate::config::ModelConfig;
use crate::error::{Error, Result};
use crate::weights::{Matrix, Proj, Store, WeightSource};

/// A layer's feed-forward weights.
#[derive(Debug, Clone)]
pub enum FeedForward {
    Dense { gate_up: Vec<bf16>, down: Vec<bf16> },
    Sparse { router: Vec<bf16>, w13: Vec<bf16>, w2: Vec<bf16> },
}

/// One decoder layer.
#[derive(Debug, Clone)]
pub struct Layer {
    pub input_norm: Vec<bf16>,
    pub qkv: Vec<bf16>,
    /// Qwen2's q/k/v biases, in `qkv`'s row order.
    pub qkv_bias: Option<Vec<bf16>>,
    /// Qwen3's per-head q and k RMSNorm weights `[head_dim]`.
    pub qk_norm: Option<(Vec<bf16>, Vec<bf16>)>,
    pub o: Vec<bf16>,
    pub post_attention_norm: Vec<bf16>,
    pub ffn: FeedForward,
}

/// Every weight of a model, bf16, in the kernels' layout.
#[derive(Debug, Clone)]
pub struct HostWeights {
    pub embed: Vec<bf16>,
    pub layers: Vec<Layer>,
    pub norm: Vec<bf16>,
    /// `None`: tied to the embeddings.
    pub lm_head: Option<Vec<bf16>>,
}

impl HostWeights {
    /// Bytes on the device.
    pub fn bytes(&self) -> usize {
        let ffn = |f: &FeedForward| match f {
            FeedForward::Dense { gate_up, down } => gate_up.len() + down.len(),
            FeedForward::Sparse { router, w13, w2 } => router.len() + w13.len() + w2.len(),
        };
        let layer = |l: &Layer| {
            l.input_norm.len()
                + l.qkv.len()
                + l.qkv_bias.as_ref().map_or(0, Vec::len)
                + l.qk_norm.as_ref().map_or(0, |(q, k)| q.len() + k.len())
                + l.o.len()
                + l.post_attention_norm.len()
                + ffn(&l.ffn)
        };
        2 * (self.embed.len()
            + self.layers.iter().map(layer).sum::<usize>()
            + self.norm.len()
            + self.lm_head.as_ref().map_or(0, Vec::len))
    }
}

fn to_bf16(v: &[f32]) -> Vec<bf16> {
    v.iter().map(|x| bf16::from_f32(*x)).collect()
}

/// A matrix's values as f32 (4-bit matrices dequantised).
fn matrix_f32(m: &Matrix) -> Vec<f32> {
    match &m.store {
        Store::F32(v) => v.clone(),
        Store::Q4(q) => q.dequantize(),
    }
}

/// Loads `cfg`'s weights from `src`, checking every shape.
pub fn load(cfg: &ModelConfig, src: &dyn WeightSource) -> Result<HostWeights> {
    let h = cfg.hidden_size;
    let embed = to_bf16(&src.require("model.embed_tokens.weight", &[cfg.vocab_size, h])?);
    let layers = (0..cfg.num_layers).map(|i| layer(cfg, src, i)).collect::<Result<_>>()?;
    let norm = to_bf16(&src.require("model.norm.weight", &[h])?);
    let lm_head = if cfg.tie_word_embeddings {
        None
    } else {
        src.tensor("lm_head.weight")?
            .map(|_| src.require("lm_head.weight", &[cfg.vocab_size, h]))
            .transpose()?
            .map(|v| to_bf16(&v))
    };
    Ok(HostWeights { embed, layers, norm, lm_head })
}

fn layer(cfg: &ModelConfig, src: &dyn WeightSource, i: usize) -> Result<Layer> {
    let (h, d) = (cfg.hidden_size, cfg.head_dim);
    let (q, kv) = (cfg.num_heads * d, cfg.num_kv_heads * d);
    let p = format!("model.layers.{i}");
    let get = |name: &str, shape: &[usize]| src.require(&format!("{p}.{name}"), shape);
    let mut qkv = get("self_attn.q_proj.weight", &[q, h])?;
    qkv.extend(get("self_attn.k_proj.weight", &[kv, h])?);
    qkv.extend(get("self_attn.v_proj.weight", &[kv, h])?);
    let qkv_bias = if cfg.attention_bias {
        let mut b = get("self_attn.q_proj.bias", &[q])?;
        b.extend(get("self_attn.k_proj.bias", &[kv])?);
        b.extend(get("self_attn.v_proj.bias", &[kv])?);
        Some(to_bf16(&b))
    } else {
        None
    };
    let qk_norm = if cfg.qk_norm {
        Some((to_bf16(&get("self_attn.q_norm.weight", &[d])?), to_bf16(&get("self_attn.k_norm.weight", &[d])?)))
    } else {
        None
    };
    let ffn = if cfg.is_moe_layer(i) {
        let m = cfg.moe.as_ref().expect("a MoE layer has a MoE config");
        let ei = m.expert_intermediate_size;
        let router = to_bf16(&get("mlp.gate.weight", &[m.num_experts, h])?);
        let (mut w13, mut w2) =
            (Vec::with_capacity(m.num_experts * 2 * ei * h), Vec::with_capacity(m.num_experts * h * ei));
        for e in 0..m.num_experts {
            for (proj, rows, cols) in [(Proj::Gate, ei, h), (Proj::Up, ei, h), (Proj::Down, h, ei)] {
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
                let dst = if proj == Proj::Down { &mut w2 } else { &mut w13 };
                dst.extend(to_bf16(&matrix_f32(&mat)));
            }
        }
        FeedForward::Sparse { router, w13, w2 }
    } else {
        let inter = cfg.intermediate_size;
        let mut gate_up = get("mlp.gate_proj.weight", &[inter, h])?;
        gate_up.extend(get("mlp.up_proj.weight", &[inter, h])?);
        FeedForward::Dense { gate_up: to_bf16(&gate_up), down: to_bf16(&get("mlp.down_proj.weight", &[h, inter])?) }
    };
    Ok(Layer {
        input_norm: to_bf16(&get("input_layernorm.weight", &[h])?),
        qkv: to_bf16(&qkv),
        qkv_bias,
        qk_norm,
        o: to_bf16(&get("self_attn.o_proj.weight", &[h, q])?),
        post_attention_norm: to_bf16(&get("post_attention_layernorm.weight", &[h])?),
        ffn,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::weights::SafetensorsSource;

    fn fixture(name: &str) -> (ModelConfig, SafetensorsSource) {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/models").join(name);
        (ModelConfig::from_hf_json(&dir.join("config.json")).unwrap(), SafetensorsSource::open(&dir).unwrap())
    }

    fn same(a: &[bf16], b: &[f32]) -> bool {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| *x == bf16::from_f32(*y))
    }

    /// The fused layouts hold the checkpoint's tensors where the kernels look for them: q, k,
    /// v rows in order; each expert's gate rows, then up rows, then (in w2) its down matrix.
    #[test]
    fn the_kernels_layout_fuses_the_checkpoints_tensors_in_order() {
        let (cfg, src) = fixture("tiny-qwen3-moe");
        let w = load(&cfg, &src).unwrap();
        let (h, d) = (cfg.hidden_size, cfg.head_dim);
        let m = cfg.moe.clone().unwrap();
        let ei = m.expert_intermediate_size;
        let mut moe_layers = 0;
        for (i, l) in w.layers.iter().enumerate() {
            let t = |n: &str| src.tensor(&format!("model.layers.{i}.{n}")).unwrap().unwrap().1;
            let q = cfg.num_heads * d;
            let kv = cfg.num_kv_heads * d;
            assert!(same(&l.qkv[..q * h], &t("self_attn.q_proj.weight")));
            assert!(same(&l.qkv[q * h..(q + kv) * h], &t("self_attn.k_proj.weight")));
            assert!(same(&l.qkv[(q + kv) * h..], &t("self_attn.v_proj.weight")));
            assert!(l.qk_norm.is_some(), "Qwen3 has q/k norms");
            match &l.ffn {
                FeedForward::Sparse { w13, w2, router } => {
                    moe_layers += 1;
                    assert_eq!(router.len(), m.num_experts * h);
                    for e in [0, m.num_experts - 1] {
                        let f = |p| matrix_f32(&src.expert(i, e, p).unwrap().unwrap());
                        let base = e * 2 * ei * h;
                        assert!(same(&w13[base..base + ei * h], &f(Proj::Gate)), "layer {i} expert {e} gate");
                        assert!(same(&w13[base + ei * h..base + 2 * ei * h], &f(Proj::Up)), "layer {i} expert {e} up");
                        assert!(same(&w2[e * h * ei..(e + 1) * h * ei], &f(Proj::Down)), "layer {i} expert {e} down");
                    }
                }
                FeedForward::Dense { gate_up, down } => {
                    let inter = cfg.intermediate_size;
                    assert!(same(&gate_up[..inter * h], &t("mlp.gate_proj.weight")));
                    assert!(same(&gate_up[inter * h..], &t("mlp.up_proj.weight")));
                    assert!(same(down, &t("mlp.down_proj.weight")));
                }
            }
        }
        assert!(moe_layers > 0 && moe_layers < cfg.num_layers, "the fixture mixes dense and MoE layers");
        assert_eq!(w.lm_head.is_some(), !cfg.tie_word_embeddings);
        assert!(w.bytes() > 2 * w.embed.len());
    }

    /// A 4-bit GGUF model (SmolLM2, Q4_1, tied) dequantised into the layout: each tensor is
    /// the dequantised f32 rounded to bf16 once.
    #[test]
    fn a_gguf_model_is_dequantised_into_the_layout() {
        let path = crate::assets::smollm2_gguf().expect("SmolLM2 (fetched on first use)");
        crate::local::LocalModel::with_weights(&path, |cfg, src| {
            let w = load(cfg, src)?;
            assert_eq!(w.layers.len(), cfg.num_layers);
            assert!(w.lm_head.is_none(), "SmolLM2 ties its output head to the embeddings");
            let q = cfg.num_heads * cfg.head_dim * cfg.hidden_size;
            let wq = src.tensor("model.layers.0.self_attn.q_proj.weight")?.unwrap().1;
            assert!(same(&w.layers[0].qkv[..q], &wq));
            let embed = src.tensor("model.embed_tokens.weight")?.unwrap().1;
            assert!(same(&w.embed, &embed));
            // 135M parameters in bf16: about 270 MB.
            let mb = w.bytes() as f64 / 1e6;
            assert!((250.0..300.0).contains(&mb), "{mb} MB");
            Ok(())
        })
        .unwrap();
    }

    /// A dense model: a fused gate/up per layer; a tied one has no output head of its own.
    #[test]
    fn a_dense_model_loads_with_fused_gate_up() {
        let (mut cfg, src) = fixture("tiny-qwen3");
        let w = load(&cfg, &src).unwrap();
        assert!(w.lm_head.is_some());
        assert!(w.layers.iter().all(|l| matches!(l.ffn, FeedForward::Dense { .. })));
        cfg.tie_word_embeddings = true;
        assert!(load(&cfg, &src).unwrap().lm_head.is_none());
    }
}
