//! The transformer: Llama, Qwen2, Qwen3 and Qwen3-MoE in one forward pass.
//!
//! Per layer: `x += attn(norm₁(x))`, then `x += ffn(norm₂(x))`, where `attn` is causal
//! self-attention (`attention.rs`: RoPE, and per-head q/k RMSNorm on Qwen3) and `ffn` is a
//! SwiGLU MLP (`mlp.rs`) or, on sparse layers, a mixture of SwiGLU experts (`moe.rs`). After
//! the last layer, a final RMSNorm and the output head (tied to the embeddings or not) give
//! the logits. The embedding, the layers, the final norm and the logits are the steps of
//! [`Model::forward`].
//!
//! Batching: the tokens of every sequence go through the projections and feed-forward layers
//! as one matrix (variable-length prefill); attention runs per sequence and head, over an
//! optional shared, read-only prefix cache followed by the sequence's own cache.

mod attention;
mod batch;
mod logits;
mod mlp;
mod moe;

use std::ops::Range;

use self::attention::{Attention, AttentionBuffers};
pub use self::batch::{KvCache, Step};
use self::batch::{Layout, Span};
pub use self::logits::{Logits, LogitsFor, StepLogits};
use self::mlp::Mlp;
use self::moe::SparseMoe;
use crate::config::ModelConfig;
use crate::error::{Error, Result};
use crate::ops::{RmsNorm, Rope, logsumexp, matmul_wt};
use crate::weights::{Matrix, WeightSource};

/// A layer's feed-forward block.
enum FeedForward {
    /// One SwiGLU MLP for every token (boxed: three matrices outweigh the router's one).
    Dense(Box<Mlp>),
    /// A mixture of SwiGLU experts, a few per token.
    Sparse(SparseMoe),
}

impl FeedForward {
    /// `out[n × hidden]` from the normed `x` `[n × hidden]`.
    fn forward(&self, x: &[f32], n: usize, out: &mut [f32]) {
        match self {
            FeedForward::Dense(mlp) => mlp.forward(x, n, out),
            FeedForward::Sparse(moe) => moe.forward(x, n, out),
        }
    }
}

/// One transformer block: pre-norm attention, then a pre-norm feed-forward block, each added
/// to the residual stream.
struct DecoderLayer {
    input_norm: RmsNorm,
    attn: Attention,
    post_attention_norm: RmsNorm,
    ffn: FeedForward,
}

impl DecoderLayer {
    /// Layer `i` (`model.layers.{i}.…`).
    fn load(src: &dyn WeightSource, cfg: &ModelConfig, i: usize) -> Result<DecoderLayer> {
        let p = format!("model.layers.{i}");
        let h = cfg.hidden_size;
        let norm = |name: &str| -> Result<RmsNorm> {
            Ok(RmsNorm::new(src.require(&format!("{p}.{name}.weight"), &[h])?, cfg.rms_norm_eps))
        };
        let ffn = if cfg.is_moe_layer(i) {
            let m = cfg.moe.as_ref().expect("moe layer");
            FeedForward::Sparse(SparseMoe::load(src, &format!("{p}.mlp"), i, h, m)?)
        } else {
            FeedForward::Dense(Box::new(Mlp::load(src, &format!("{p}.mlp"), cfg.intermediate_size, h)?))
        };
        Ok(DecoderLayer {
            input_norm: norm("input_layernorm")?,
            attn: Attention::load(src, &format!("{p}.self_attn"), i, cfg)?,
            post_attention_norm: norm("post_attention_layernorm")?,
            ffn,
        })
    }

    /// `x += attn(norm₁(x)); x += ffn(norm₂(x))` over the batch's rows.
    fn forward(&self, x: &mut [f32], steps: &mut [Step<'_>], layout: &Layout, rope: &Rope, buf: &mut Buffers) {
        self.input_norm.forward(x, &mut buf.normed);
        self.attn.forward(&buf.normed, steps, layout, rope, &mut buf.attn, &mut buf.delta);
        add_assign(x, &buf.delta);
        self.post_attention_norm.forward(x, &mut buf.normed);
        self.ffn.forward(&buf.normed, layout.rows, &mut buf.delta);
        add_assign(x, &buf.delta);
    }
}

/// `x += y`, element-wise.
fn add_assign(x: &mut [f32], y: &[f32]) {
    for (xi, yi) in x.iter_mut().zip(y) {
        *xi += yi;
    }
}

/// The buffers of one forward call, sized for its batch once and reused by every layer.
struct Buffers {
    /// The residual stream normed, the input of attention and of the feed-forward block.
    normed: Vec<f32>,
    /// A block's output, before it is added to the residual stream.
    delta: Vec<f32>,
    attn: AttentionBuffers,
}

impl Buffers {
    /// Buffers for `rows` tokens.
    fn new(cfg: &ModelConfig, rows: usize) -> Buffers {
        Buffers {
            normed: vec![0f32; rows * cfg.hidden_size],
            delta: vec![0f32; rows * cfg.hidden_size],
            attn: AttentionBuffers::new(cfg, rows),
        }
    }
}

/// A loaded model.
pub struct Model {
    /// Its configuration.
    pub cfg: ModelConfig,
    /// `[vocab, hidden]`.
    embed: Vec<f32>,
    layers: Vec<DecoderLayer>,
    norm: RmsNorm,
    /// `None`: tied to the embeddings.
    lm_head: Option<Matrix>,
    rope: Rope,
}

impl Model {
    /// Builds the model from a weight source, checking every tensor's shape.
    pub fn from_source(cfg: ModelConfig, src: &dyn WeightSource) -> Result<Model> {
        let h = cfg.hidden_size;
        let embed = src.require("model.embed_tokens.weight", &[cfg.vocab_size, h])?;
        let layers = (0..cfg.num_layers).map(|i| DecoderLayer::load(src, &cfg, i)).collect::<Result<_>>()?;
        let norm = RmsNorm::new(src.require("model.norm.weight", &[h])?, cfg.rms_norm_eps);
        let lm_head = if cfg.tie_word_embeddings {
            None
        } else {
            match src.tensor("lm_head.weight")? {
                Some(_) => Some(src.matrix("lm_head.weight", cfg.vocab_size, h)?),
                None => None,
            }
        };
        let rope = Rope::new(cfg.head_dim, cfg.rope_theta, cfg.max_position_embeddings.max(1), cfg.rope_style);
        Ok(Model { cfg, embed, layers, norm, lm_head, rope })
    }

    /// Runs the new tokens of every step through the model, appending to their caches, and
    /// returns logits for the requested positions: per step, one row for [`LogitsFor::Last`],
    /// one per new token for [`LogitsFor::All`], none for [`LogitsFor::None`].
    pub fn forward(&self, steps: &mut [Step<'_>], want: LogitsFor) -> Result<Logits> {
        self.check(steps)?;
        let layout = Layout::new(steps);
        let mut x = self.embed(steps, &layout);
        let mut buf = Buffers::new(&self.cfg, layout.rows);
        for layer in &self.layers {
            layer.forward(&mut x, steps, &layout, &self.rope, &mut buf);
        }
        for s in steps.iter_mut() {
            s.cache.advance(s.tokens.len());
        }
        Ok(self.logits(&x, &layout, want))
    }

    /// Every step has tokens, in the vocabulary, within the positions RoPE covers.
    fn check(&self, steps: &[Step<'_>]) -> Result<()> {
        let vocab = self.cfg.vocab_size;
        for s in steps {
            if s.tokens.is_empty() {
                return Err(Error::Invalid("a step has no tokens".into()));
            }
            if let Some(bad) = s.tokens.iter().find(|t| **t as usize >= vocab) {
                return Err(Error::Invalid(format!("token id {bad} is outside the vocabulary of {vocab}")));
            }
            let end = s.prefix.map_or(0, KvCache::len) + s.cache.len() + s.tokens.len();
            if end > self.rope.max_positions() {
                return Err(Error::Invalid(format!(
                    "{end} positions exceed the model's maximum of {}",
                    self.rope.max_positions()
                )));
            }
        }
        Ok(())
    }

    /// The residual stream's first value: each token's embedding row, `[rows, hidden]`.
    fn embed(&self, steps: &[Step<'_>], layout: &Layout) -> Vec<f32> {
        let h = self.cfg.hidden_size;
        let mut x = vec![0f32; layout.rows * h];
        for (s, span) in steps.iter().zip(&layout.spans) {
            for (t, tok) in s.tokens.iter().enumerate() {
                let (row, id) = (span.row + t, *tok as usize);
                x[row * h..(row + 1) * h].copy_from_slice(&self.embed[id * h..(id + 1) * h]);
            }
        }
        x
    }

    /// The final norm and the output head, for the requested rows of `x` only.
    fn logits(&self, x: &[f32], layout: &Layout, want: LogitsFor) -> Logits {
        let (h, vocab) = (self.cfg.hidden_size, self.cfg.vocab_size);
        let wanted: Vec<Range<usize>> = layout.spans.iter().map(|s| wanted_rows(s, want)).collect();
        let rows: usize = wanted.iter().map(Range::len).sum();
        let mut picked = Vec::with_capacity(rows * h);
        for r in &wanted {
            picked.extend_from_slice(&x[r.start * h..r.end * h]);
        }
        self.norm.forward_inplace(&mut picked);
        let mut logits = vec![0f32; rows * vocab];
        match &self.lm_head {
            Some(m) => m.forward(&picked, rows, &mut logits),
            None => matmul_wt(&picked, rows, h, &self.embed, vocab, &mut logits),
        }
        // Each step's rows of the output, in order.
        let mut at = 0;
        let steps = wanted
            .iter()
            .map(|r| {
                at += r.len();
                at - r.len()..at
            })
            .collect();
        Logits::new(logits, vocab, steps)
    }

    /// The most positions (prompt and generated tokens) one sequence can hold.
    pub fn max_positions(&self) -> usize {
        self.rope.max_positions()
    }

    /// Log-probabilities of `ids` under one logits row (log-softmax, gathered).
    pub fn log_probs(logits: &[f32], ids: &[u32]) -> Vec<f32> {
        let lse = logsumexp(logits);
        ids.iter().map(|i| logits[*i as usize] - lse).collect()
    }
}

/// The batch rows of `span` that `want` asks logits for.
fn wanted_rows(span: &Span, want: LogitsFor) -> Range<usize> {
    let end = span.row + span.len;
    match want {
        LogitsFor::None => end..end,
        LogitsFor::Last => end - 1..end,
        LogitsFor::All => span.row..end,
    }
}
