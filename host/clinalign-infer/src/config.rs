//! Model configuration: read from a Hugging Face `config.json` or from GGUF metadata.
//!
//! Architectures: Llama (and SmolLM2), Qwen2 (q/k/v biases), Qwen3 (per-head q/k RMSNorm
//! before RoPE) and Qwen3-MoE (Qwen3 attention, mixture-of-experts feed-forward on the layers
//! `decoder_sparse_step` and `mlp_only_layers` select).

use std::path::Path;

use serde_json::Value;

use crate::error::{Error, Result};

/// The most layers a configuration may have (real models have up to a few hundred).
/// `Model::from_source` reserves a slot per layer before any tensor confirms the count.
pub const MAX_LAYERS: usize = 4096;
/// The most experts per mixture-of-experts layer (real models have up to a few hundred).
pub const MAX_EXPERTS: usize = 1 << 16;
/// The most entries of each of the two rotary tables (`max_position_embeddings ×
/// head_dim / 2`, one `f32` each): 2^28 is 1 GiB a table, enough for a million positions
/// at `head_dim` 128. No tensor confirms the context length, so it is bounded here.
pub const MAX_ROPE_ENTRIES: usize = 1 << 28;

/// The architectures this crate runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arch {
    Llama,
    Qwen2,
    Qwen3,
    Qwen3Moe,
}

/// How rotary embeddings pair the dimensions of a head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RopeStyle {
    /// Dimension `i` with `i + head_dim/2` (Hugging Face "rotate half"; GGUF "NEOX").
    Half,
    /// Dimension `2i` with `2i + 1` (GGUF Llama: the converter permutes q/k weights for it).
    Interleaved,
}

/// Mixture-of-experts settings (Qwen3-MoE).
#[derive(Debug, Clone, PartialEq)]
pub struct MoeConfig {
    pub num_experts: usize,
    /// Experts each token is routed to.
    pub top_k: usize,
    /// Intermediate size of one expert.
    pub expert_intermediate_size: usize,
    /// Renormalise the top-k router probabilities to sum to 1.
    pub norm_topk_prob: bool,
    /// Layer `i` is sparse when `(i + 1) % decoder_sparse_step == 0` …
    pub decoder_sparse_step: usize,
    /// … and `i` is not listed here.
    pub mlp_only_layers: Vec<usize>,
}

/// Everything the forward pass needs to know about a model.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelConfig {
    pub arch: Arch,
    pub vocab_size: usize,
    pub hidden_size: usize,
    /// Intermediate size of the dense feed-forward layers.
    pub intermediate_size: usize,
    pub num_layers: usize,
    pub num_heads: usize,
    pub num_kv_heads: usize,
    pub head_dim: usize,
    pub rms_norm_eps: f32,
    pub rope_theta: f32,
    pub rope_style: RopeStyle,
    pub max_position_embeddings: usize,
    pub tie_word_embeddings: bool,
    /// q/k/v projections carry biases (Qwen2).
    pub attention_bias: bool,
    /// Per-head RMSNorm on q and k before RoPE (Qwen3, Qwen3-MoE).
    pub qk_norm: bool,
    pub moe: Option<MoeConfig>,
}

impl ModelConfig {
    /// Whether layer `i` uses the mixture of experts.
    pub fn is_moe_layer(&self, i: usize) -> bool {
        self.moe.as_ref().is_some_and(|m| {
            m.num_experts > 0 && !m.mlp_only_layers.contains(&i) && (i + 1).is_multiple_of(m.decoder_sparse_step.max(1))
        })
    }

    /// Floating-point operations (2 per multiply-add) of a forward pass over `new_tokens`
    /// tokens that start at position `start`, with `logits_rows` rows of output logits:
    /// projections, experts actually routed to (top-k), attention scores and mixing, and the
    /// output head. Norms, RoPE and activations are left out (they are a few per cent).
    pub fn forward_flops(&self, new_tokens: usize, start: usize, logits_rows: usize) -> f64 {
        let (h, hd) = (self.hidden_size as f64, self.head_dim as f64);
        let (nh, nkv) = (self.num_heads as f64, self.num_kv_heads as f64);
        let attn_proj = h * hd * (2.0 * nh + 2.0 * nkv);
        let mut per_token = 0.0;
        for i in 0..self.num_layers {
            per_token += attn_proj;
            per_token += match (&self.moe, self.is_moe_layer(i)) {
                (Some(m), true) => {
                    h * m.num_experts as f64 + 3.0 * h * m.expert_intermediate_size as f64 * m.top_k as f64
                }
                _ => 3.0 * h * self.intermediate_size as f64,
            };
        }
        // Token at position p attends to p + 1 keys: q·k and the weighted sum of values.
        let (t, s) = (new_tokens as f64, start as f64);
        let keys = t * s + t * (t + 1.0) / 2.0;
        let attn = self.num_layers as f64 * keys * 2.0 * nh * hd;
        2.0 * (per_token * t + attn + logits_rows as f64 * h * self.vocab_size as f64)
    }

    /// Checks the sizes fit together and stay within what can be allocated (the limits
    /// above; every weight matrix's element count must fit in memory); the error names the
    /// problem.
    pub fn validate(&self, origin: &Path) -> Result<()> {
        let bad = |m: String| Err(Error::format(origin, m));
        // Element counts of f32 buffers the model builds from these sizes.
        let fits = |what: &str, dims: &[(&str, usize)]| -> Result<()> {
            let n = dims.iter().try_fold(1usize, |n, &(_, d)| n.checked_mul(d));
            if n.is_some_and(|n| n <= isize::MAX as usize / 4) {
                return Ok(());
            }
            let dims: Vec<String> = dims.iter().map(|(k, d)| format!("{k} {d}")).collect();
            bad(format!("{what} would be too large: {}", dims.join(" × ")))
        };
        if self.num_heads == 0 || self.num_kv_heads == 0 || !self.num_heads.is_multiple_of(self.num_kv_heads) {
            return bad(format!(
                "{} attention heads cannot share {} key/value heads",
                self.num_heads, self.num_kv_heads
            ));
        }
        if self.head_dim == 0 || !self.head_dim.is_multiple_of(2) {
            return bad(format!("head_dim {} must be even and positive", self.head_dim));
        }
        if self.vocab_size == 0 || self.hidden_size == 0 || self.num_layers == 0 {
            return bad("vocab_size, hidden_size and num_hidden_layers must be positive".into());
        }
        if let Some(m) = &self.moe
            && (m.top_k == 0 || m.top_k > m.num_experts)
        {
            return bad(format!("num_experts_per_tok {} with {} experts", m.top_k, m.num_experts));
        }
        if self.num_layers > MAX_LAYERS {
            return bad(format!(
                "{} layers (num_hidden_layers) is more than the {MAX_LAYERS} supported",
                self.num_layers
            ));
        }
        if let Some(m) = &self.moe
            && m.num_experts > MAX_EXPERTS
        {
            return bad(format!("{} experts is more than the {MAX_EXPERTS} supported", m.num_experts));
        }
        let h = ("hidden_size", self.hidden_size);
        fits("the embedding matrix", &[("vocab_size", self.vocab_size), h])?;
        fits("the query projection", &[("num_attention_heads", self.num_heads), ("head_dim", self.head_dim), h])?;
        fits(
            "the key/value projections",
            &[("num_key_value_heads", self.num_kv_heads), ("head_dim", self.head_dim), h],
        )?;
        fits("the feed-forward projections", &[("intermediate_size", self.intermediate_size), h])?;
        if let Some(m) = &self.moe {
            fits("the router", &[("num_experts", m.num_experts), h])?;
            fits(
                "the experts",
                &[("num_experts", m.num_experts), ("moe_intermediate_size", m.expert_intermediate_size), h, ("3", 3)],
            )?;
        }
        let positions = self.max_position_embeddings.max(1);
        if positions.checked_mul(self.head_dim / 2).is_none_or(|n| n > MAX_ROPE_ENTRIES) {
            return bad(format!(
                "max_position_embeddings {positions} with head_dim {} needs rotary tables of more than the \
                 {MAX_ROPE_ENTRIES} entries supported",
                self.head_dim
            ));
        }
        if !(self.rope_theta.is_finite() && self.rope_theta > 0.0) {
            return bad(format!("rope_theta {} must be a positive finite number", self.rope_theta));
        }
        if !(self.rms_norm_eps.is_finite() && self.rms_norm_eps >= 0.0) {
            return bad(format!("rms_norm_eps {} must be a finite number, zero or more", self.rms_norm_eps));
        }
        Ok(())
    }

    /// Reads a Hugging Face `config.json`. Accepts both spellings transformers uses for the
    /// expert count (`num_experts`, `num_local_experts`) and for the RoPE base (`rope_theta`,
    /// `rope_parameters.rope_theta`).
    pub fn from_hf_json(path: &Path) -> Result<ModelConfig> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let v: Value = serde_json::from_str(&text).map_err(|e| Error::format(path, format!("invalid JSON: {e}")))?;
        if !v.is_object() {
            return Err(Error::format(path, "not a JSON object"));
        }
        let field = |k: &str| v.get(k).filter(|x| !x.is_null());
        let as_usize = |x: &Value| x.as_u64().and_then(|n| usize::try_from(n).ok());
        let usize_of = |k: &str| -> Result<usize> {
            field(k)
                .and_then(as_usize)
                .ok_or_else(|| Error::format(path, format!("missing or invalid \"{k}\" (a whole number)")))
        };
        let f32_or =
            |k: &str, default: f32| -> f32 { field(k).and_then(Value::as_f64).map(|x| x as f32).unwrap_or(default) };
        let model_type = field("model_type").and_then(Value::as_str).unwrap_or("");
        let arch = match model_type {
            "llama" | "mistral" => Arch::Llama,
            "qwen2" => Arch::Qwen2,
            "qwen3" => Arch::Qwen3,
            "qwen3_moe" => Arch::Qwen3Moe,
            other => {
                return Err(Error::format(
                    path,
                    format!("unsupported model_type {other:?} (llama, qwen2, qwen3, qwen3_moe)"),
                ));
            }
        };
        if let Some(scaling) = field("rope_scaling")
            && scaling.get("rope_type").or(scaling.get("type")).and_then(Value::as_str).is_some_and(|t| t != "default")
        {
            return Err(Error::format(path, format!("unsupported rope_scaling {scaling}")));
        }
        let hidden_size = usize_of("hidden_size")?;
        let num_heads = usize_of("num_attention_heads")?;
        let head_dim = match field("head_dim").and_then(as_usize) {
            Some(d) => d,
            None => hidden_size / num_heads.max(1),
        };
        let rope_theta = field("rope_theta")
            .or_else(|| v.get("rope_parameters").and_then(|r| r.get("rope_theta")))
            .and_then(Value::as_f64)
            .unwrap_or(10_000.0) as f32;
        let moe = if arch == Arch::Qwen3Moe {
            let num_experts = field("num_experts")
                .or(field("num_local_experts"))
                .and_then(as_usize)
                .ok_or_else(|| Error::format(path, "missing \"num_experts\" (or \"num_local_experts\")"))?;
            Some(MoeConfig {
                num_experts,
                top_k: usize_of("num_experts_per_tok")?,
                expert_intermediate_size: usize_of("moe_intermediate_size")?,
                norm_topk_prob: field("norm_topk_prob").and_then(Value::as_bool).unwrap_or(false),
                decoder_sparse_step: field("decoder_sparse_step").and_then(as_usize).unwrap_or(1),
                mlp_only_layers: field("mlp_only_layers")
                    .and_then(Value::as_array)
                    .map(|a| a.iter().filter_map(as_usize).collect())
                    .unwrap_or_default(),
            })
        } else {
            None
        };
        let cfg = ModelConfig {
            arch,
            vocab_size: usize_of("vocab_size")?,
            hidden_size,
            intermediate_size: usize_of("intermediate_size")?,
            num_layers: usize_of("num_hidden_layers")?,
            num_heads,
            num_kv_heads: field("num_key_value_heads").and_then(as_usize).unwrap_or(num_heads),
            head_dim,
            rms_norm_eps: f32_or("rms_norm_eps", 1e-6),
            rope_theta,
            rope_style: RopeStyle::Half,
            max_position_embeddings: field("max_position_embeddings").and_then(as_usize).unwrap_or(4096),
            tie_word_embeddings: field("tie_word_embeddings").and_then(Value::as_bool).unwrap_or(false),
            attention_bias: field("attention_bias").and_then(Value::as_bool).unwrap_or(arch == Arch::Qwen2),
            qk_norm: matches!(arch, Arch::Qwen3 | Arch::Qwen3Moe),
            moe,
        };
        cfg.validate(path)?;
        Ok(cfg)
    }

    /// Reads the configuration from GGUF metadata (`<arch>.block_count`, …).
    pub fn from_gguf(g: &crate::gguf::Gguf, path: &Path) -> Result<ModelConfig> {
        let arch_name = g.architecture()?.to_string();
        let arch = match arch_name.as_str() {
            "llama" => Arch::Llama,
            "qwen2" => Arch::Qwen2,
            "qwen3" => Arch::Qwen3,
            "qwen3moe" => Arch::Qwen3Moe,
            other => {
                return Err(Error::format(
                    path,
                    format!("unsupported GGUF architecture {other:?} (llama, qwen2, qwen3, qwen3moe)"),
                ));
            }
        };
        let key = |k: &str| format!("{arch_name}.{k}");
        let u = |k: &str| -> Result<usize> { g.get_u32(&key(k)).map(|n| n as usize) };
        let opt_u = |k: &str| g.get(&key(k)).and_then(|v| v.as_usize());
        let opt_f = |k: &str| g.get(&key(k)).and_then(|v| v.as_f64()).map(|x| x as f32);
        let hidden_size = u("embedding_length")?;
        let num_heads = u("attention.head_count")?;
        let vocab_size = match opt_u("vocab_size") {
            Some(v) => v,
            None => g.get("tokenizer.ggml.tokens").and_then(|v| v.as_array()).map(|a| a.len()).ok_or_else(|| {
                Error::format(path, "no vocabulary size (neither <arch>.vocab_size nor tokenizer.ggml.tokens)")
            })?,
        };
        let tied = g.tensor("output.weight").is_none();
        let moe = if arch == Arch::Qwen3Moe {
            Some(MoeConfig {
                num_experts: u("expert_count")?,
                top_k: u("expert_used_count")?,
                expert_intermediate_size: u("expert_feed_forward_length")?,
                // llama.cpp renormalises Qwen3-MoE's top-k weights.
                norm_topk_prob: true,
                decoder_sparse_step: 1,
                mlp_only_layers: Vec::new(),
            })
        } else {
            None
        };
        let cfg = ModelConfig {
            arch,
            vocab_size,
            hidden_size,
            intermediate_size: opt_u("feed_forward_length").unwrap_or(0),
            num_layers: u("block_count")?,
            num_heads,
            num_kv_heads: opt_u("attention.head_count_kv").unwrap_or(num_heads),
            head_dim: opt_u("attention.key_length").unwrap_or(hidden_size / num_heads.max(1)),
            rms_norm_eps: opt_f("attention.layer_norm_rms_epsilon").unwrap_or(1e-6),
            rope_theta: opt_f("rope.freq_base").unwrap_or(10_000.0),
            // The GGUF converter permutes Llama's q/k weights for adjacent-pair rotation;
            // Qwen models keep the rotate-half layout.
            rope_style: if arch == Arch::Llama { RopeStyle::Interleaved } else { RopeStyle::Half },
            max_position_embeddings: opt_u("context_length").unwrap_or(4096),
            tie_word_embeddings: tied,
            attention_bias: arch == Arch::Qwen2,
            qk_norm: matches!(arch, Arch::Qwen3 | Arch::Qwen3Moe),
            moe,
        };
        cfg.validate(path)?;
        Ok(cfg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(json: &str) -> tempfile::NamedTempFile {
        let f = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(f.path(), json).unwrap();
        f
    }

    #[test]
    fn reads_qwen3_moe_in_both_spellings() {
        let base = r#"{"model_type": "qwen3_moe", "vocab_size": 320, "hidden_size": 64, "intermediate_size": 96,
            "num_hidden_layers": 3, "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 16,
            "rms_norm_eps": 1e-6, "num_experts_per_tok": 2, "moe_intermediate_size": 32,
            "norm_topk_prob": true, "mlp_only_layers": [1], "decoder_sparse_step": 1, EXTRA}"#;
        for extra in [
            r#""num_experts": 8, "rope_theta": 10000"#,
            r#""num_local_experts": 8, "rope_parameters": {"rope_theta": 10000}"#,
        ] {
            let f = write(&base.replace("EXTRA", extra));
            let c = ModelConfig::from_hf_json(f.path()).unwrap();
            assert_eq!(c.arch, Arch::Qwen3Moe);
            assert_eq!(c.moe.as_ref().unwrap().num_experts, 8);
            assert_eq!(c.rope_theta, 10000.0);
            assert!(c.qk_norm);
            assert!(c.is_moe_layer(0) && !c.is_moe_layer(1) && c.is_moe_layer(2));
        }
    }

    #[test]
    fn errors_name_the_problem() {
        let f = write(r#"{"model_type": "gpt2"}"#);
        assert!(
            ModelConfig::from_hf_json(f.path()).unwrap_err().to_string().contains("unsupported model_type \"gpt2\"")
        );
        let f = write(r#"{"model_type": "llama", "vocab_size": 10}"#);
        assert!(ModelConfig::from_hf_json(f.path()).unwrap_err().to_string().contains("\"hidden_size\""));
        let f = write(
            r#"{"model_type": "llama", "vocab_size": 10, "hidden_size": 12, "intermediate_size": 8, "num_hidden_layers": 1, "num_attention_heads": 3, "num_key_value_heads": 2}"#,
        );
        assert!(ModelConfig::from_hf_json(f.path()).unwrap_err().to_string().contains("cannot share"));
        let f = write("{");
        assert!(ModelConfig::from_hf_json(f.path()).unwrap_err().to_string().contains("invalid JSON"));
    }

    #[test]
    fn qwen2_has_attention_biases_and_sparse_steps_work() {
        let f = write(
            r#"{"model_type": "qwen2", "vocab_size": 10, "hidden_size": 8, "intermediate_size": 8, "num_hidden_layers": 4, "num_attention_heads": 2, "num_key_value_heads": 1}"#,
        );
        let c = ModelConfig::from_hf_json(f.path()).unwrap();
        assert!(c.attention_bias && !c.qk_norm && c.moe.is_none());
        assert_eq!(c.head_dim, 4);
        let moe = ModelConfig {
            moe: Some(MoeConfig {
                num_experts: 4,
                top_k: 2,
                expert_intermediate_size: 4,
                norm_topk_prob: false,
                decoder_sparse_step: 2,
                mlp_only_layers: vec![],
            }),
            ..c
        };
        assert_eq!((0..4).map(|i| moe.is_moe_layer(i)).collect::<Vec<_>>(), [false, true, false, true]);
    }
}
