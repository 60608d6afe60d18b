//! Sentence embeddings from a BERT encoder (all-MiniLM-L6-v2 and models of its shape), for
//! matching rubric criteria by meaning: `clinalign eval-rubrics --match embedding`.
//!
//! The encoder is the sentence-transformers recipe: WordPiece tokens (`[CLS] … [SEP]`, cut
//! at [`MAX_TOKENS`]), token + position + segment embeddings and LayerNorm, then per layer
//! bidirectional self-attention and a GELU feed-forward block, each followed by a residual
//! LayerNorm (post-norm), and finally the mean of the token states, scaled to unit length.
//! Cosine similarity of two embeddings is then their dot product.
//!
//! Weights are read from `model.safetensors` (f32), the shape from `config.json`, the
//! tokenizer from `tokenizer.json`. One sentence is encoded at a time (no padding); a list
//! is spread over the threads.

use std::path::Path;

use rayon::prelude::*;
use serde::Deserialize;

use crate::error::{Error, Result};
use crate::ops::matmul_wt;

/// Tokens one sentence is cut to, as sentence-transformers' `max_seq_length` for MiniLM.
pub const MAX_TOKENS: usize = 256;

#[derive(Debug, Deserialize)]
struct Config {
    hidden_size: usize,
    num_hidden_layers: usize,
    num_attention_heads: usize,
    intermediate_size: usize,
    max_position_embeddings: usize,
    #[serde(default = "default_eps")]
    layer_norm_eps: f32,
    #[serde(default = "default_act")]
    hidden_act: String,
}

fn default_eps() -> f32 {
    1e-12
}

fn default_act() -> String {
    "gelu".into()
}

struct Linear {
    w: Vec<f32>,
    b: Vec<f32>,
    out: usize,
}

impl Linear {
    fn forward(&self, x: &[f32], n: usize, k: usize) -> Vec<f32> {
        let mut y = vec![0f32; n * self.out];
        matmul_wt(x, n, k, &self.w, self.out, &mut y);
        for row in y.chunks_mut(self.out) {
            for (v, b) in row.iter_mut().zip(&self.b) {
                *v += b;
            }
        }
        y
    }
}

struct Norm {
    w: Vec<f32>,
    b: Vec<f32>,
}

struct Layer {
    qkv: Linear,
    attn_out: Linear,
    attn_norm: Norm,
    up: Linear,
    down: Linear,
    out_norm: Norm,
}

/// A BERT sentence encoder.
pub struct SentenceEncoder {
    cfg: Config,
    tokenizer: tokenizers::Tokenizer,
    words: Vec<f32>,
    positions: Vec<f32>,
    segment: Vec<f32>,
    embed_norm: Norm,
    layers: Vec<Layer>,
}

/// LayerNorm of each row of `x` (width `w.len()`), in place.
fn layer_norm(x: &mut [f32], n: &Norm, eps: f32) {
    let h = n.w.len();
    for row in x.chunks_mut(h) {
        let mean = row.iter().sum::<f32>() / h as f32;
        let var = row.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / h as f32;
        let inv = 1.0 / (var + eps).sqrt();
        for ((v, w), b) in row.iter_mut().zip(&n.w).zip(&n.b) {
            *v = (*v - mean) * inv * w + b;
        }
    }
}

/// erf, Abramowitz and Stegun 7.1.26 (absolute error below 1.5e-7).
fn erf(x: f32) -> f32 {
    let t = 1.0 / (1.0 + 0.327_591_1 * x.abs());
    let y = 1.0
        - (((((1.061_405_4 * t - 1.453_152_1) * t) + 1.421_413_7) * t - 0.284_496_74) * t + 0.254_829_6)
            * t
            * (-x * x).exp();
    if x >= 0.0 { y } else { -y }
}

/// BERT's GELU, `x·Φ(x)`, with the exact normal CDF.
fn gelu(x: f32) -> f32 {
    0.5 * x * (1.0 + erf(x / std::f32::consts::SQRT_2))
}

impl SentenceEncoder {
    /// Loads the encoder in `dir` (`config.json`, `tokenizer.json`, `model.safetensors`).
    pub fn open(dir: &Path) -> Result<SentenceEncoder> {
        let config_path = dir.join("config.json");
        let text = std::fs::read_to_string(&config_path).map_err(|e| Error::io(&config_path, e))?;
        let cfg: Config = serde_json::from_str(&text).map_err(|e| Error::format(&config_path, e.to_string()))?;
        if cfg.hidden_act != "gelu" {
            return Err(Error::format(
                &config_path,
                format!("hidden_act {:?}: only \"gelu\" is supported", cfg.hidden_act),
            ));
        }
        if cfg.num_attention_heads == 0 || !cfg.hidden_size.is_multiple_of(cfg.num_attention_heads) {
            return Err(Error::format(&config_path, "hidden_size is not a multiple of num_attention_heads"));
        }
        let tok_path = dir.join("tokenizer.json");
        let mut tokenizer = tokenizers::Tokenizer::from_file(&tok_path)
            .map_err(|e| Error::format(&tok_path, format!("not a tokenizer: {e}")))?;
        tokenizer.with_padding(None);
        tokenizer
            .with_truncation(Some(tokenizers::TruncationParams {
                max_length: MAX_TOKENS.min(cfg.max_position_embeddings),
                ..Default::default()
            }))
            .map_err(|e| Error::format(&tok_path, e.to_string()))?;

        let weights_path = dir.join("model.safetensors");
        let bytes = std::fs::read(&weights_path).map_err(|e| Error::io(&weights_path, e))?;
        let st = safetensors::SafeTensors::deserialize(&bytes)
            .map_err(|e| Error::format(&weights_path, format!("not a safetensors file: {e}")))?;
        let prefix = if st.names().iter().any(|n| n.starts_with("bert.")) { "bert." } else { "" };
        let h = cfg.hidden_size;
        let tensor = |name: &str, len: usize| -> Result<Vec<f32>> {
            let full = format!("{prefix}{name}");
            let t = st.tensor(&full).map_err(|_| Error::format(&weights_path, format!("no tensor {full}")))?;
            if t.dtype() != safetensors::Dtype::F32 {
                return Err(Error::format(&weights_path, format!("{full} is {:?}; only f32 is supported", t.dtype())));
            }
            let v: Vec<f32> = t.data().chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
            if v.len() != len {
                return Err(Error::format(&weights_path, format!("{full} has {} values, expected {len}", v.len())));
            }
            Ok(v)
        };
        let linear = |name: &str, out: usize, inp: usize| -> Result<Linear> {
            Ok(Linear {
                w: tensor(&format!("{name}.weight"), out * inp)?,
                b: tensor(&format!("{name}.bias"), out)?,
                out,
            })
        };
        let norm = |name: &str| -> Result<Norm> {
            Ok(Norm { w: tensor(&format!("{name}.weight"), h)?, b: tensor(&format!("{name}.bias"), h)? })
        };
        let vocab = st
            .tensor(&format!("{prefix}embeddings.word_embeddings.weight"))
            .map(|t| t.shape()[0])
            .map_err(|_| Error::format(&weights_path, "no word embeddings"))?;
        let mut layers = Vec::with_capacity(cfg.num_hidden_layers);
        for i in 0..cfg.num_hidden_layers {
            let at = format!("encoder.layer.{i}");
            let (q, k, v) = (
                linear(&format!("{at}.attention.self.query"), h, h)?,
                linear(&format!("{at}.attention.self.key"), h, h)?,
                linear(&format!("{at}.attention.self.value"), h, h)?,
            );
            let qkv = Linear { w: [q.w, k.w, v.w].concat(), b: [q.b, k.b, v.b].concat(), out: 3 * h };
            layers.push(Layer {
                qkv,
                attn_out: linear(&format!("{at}.attention.output.dense"), h, h)?,
                attn_norm: norm(&format!("{at}.attention.output.LayerNorm"))?,
                up: linear(&format!("{at}.intermediate.dense"), cfg.intermediate_size, h)?,
                down: linear(&format!("{at}.output.dense"), h, cfg.intermediate_size)?,
                out_norm: norm(&format!("{at}.output.LayerNorm"))?,
            });
        }
        Ok(SentenceEncoder {
            words: tensor("embeddings.word_embeddings.weight", vocab * h)?,
            positions: tensor("embeddings.position_embeddings.weight", cfg.max_position_embeddings * h)?,
            segment: tensor("embeddings.token_type_embeddings.weight", 2 * h)
                .or_else(|_| tensor("embeddings.token_type_embeddings.weight", h))?,
            embed_norm: norm("embeddings.LayerNorm")?,
            layers,
            tokenizer,
            cfg,
        })
    }

    /// Length of an embedding.
    pub fn dimensions(&self) -> usize {
        self.cfg.hidden_size
    }

    /// The unit-length embedding of `text`.
    pub fn embed(&self, text: &str) -> Result<Vec<f32>> {
        let enc = self.tokenizer.encode(text, true).map_err(|e| Error::Invalid(format!("tokenizing: {e}")))?;
        let ids = enc.get_ids();
        let (n, h) = (ids.len(), self.cfg.hidden_size);
        let vocab = self.words.len() / h;
        let mut x = vec![0f32; n * h];
        for (i, &id) in ids.iter().enumerate() {
            let id = id as usize;
            if id >= vocab {
                return Err(Error::Invalid(format!("token id {id} is outside the vocabulary ({vocab})")));
            }
            let row = &mut x[i * h..(i + 1) * h];
            for (j, v) in row.iter_mut().enumerate() {
                *v = self.words[id * h + j] + self.positions[i * h + j] + self.segment[j];
            }
        }
        let eps = self.cfg.layer_norm_eps;
        layer_norm(&mut x, &self.embed_norm, eps);
        let heads = self.cfg.num_attention_heads;
        let d = h / heads;
        let scale = 1.0 / (d as f32).sqrt();
        let mut scores = vec![0f32; n];
        for layer in &self.layers {
            let qkv = layer.qkv.forward(&x, n, h);
            let mut ctx = vec![0f32; n * h];
            for head in 0..heads {
                let (qo, ko, vo) = (head * d, h + head * d, 2 * h + head * d);
                for i in 0..n {
                    let q = &qkv[i * 3 * h + qo..i * 3 * h + qo + d];
                    for (j, s) in scores.iter_mut().enumerate() {
                        let k = &qkv[j * 3 * h + ko..j * 3 * h + ko + d];
                        *s = q.iter().zip(k).map(|(a, b)| a * b).sum::<f32>() * scale;
                    }
                    crate::ops::softmax(&mut scores);
                    let out = &mut ctx[i * h + head * d..i * h + head * d + d];
                    for (j, p) in scores.iter().enumerate() {
                        let v = &qkv[j * 3 * h + vo..j * 3 * h + vo + d];
                        for (o, vv) in out.iter_mut().zip(v) {
                            *o += p * vv;
                        }
                    }
                }
            }
            let attn = layer.attn_out.forward(&ctx, n, h);
            for (a, b) in x.iter_mut().zip(&attn) {
                *a += b;
            }
            layer_norm(&mut x, &layer.attn_norm, eps);
            let mut up = layer.up.forward(&x, n, h);
            for v in &mut up {
                *v = gelu(*v);
            }
            let down = layer.down.forward(&up, n, self.cfg.intermediate_size);
            for (a, b) in x.iter_mut().zip(&down) {
                *a += b;
            }
            layer_norm(&mut x, &layer.out_norm, eps);
        }
        let mut pooled = vec![0f32; h];
        for row in x.chunks(h) {
            for (p, v) in pooled.iter_mut().zip(row) {
                *p += v / n as f32;
            }
        }
        let norm = pooled.iter().map(|v| v * v).sum::<f32>().sqrt().max(1e-12);
        pooled.iter_mut().for_each(|v| *v /= norm);
        Ok(pooled)
    }

    /// [`SentenceEncoder::embed`] of every text, spread over the threads.
    pub fn embed_all(&self, texts: &[String]) -> Result<Vec<Vec<f32>>> {
        texts.par_iter().map(|t| self.embed(t)).collect()
    }
}

/// Cosine similarity of two unit-length embeddings.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erf_and_gelu_match_known_values() {
        for (x, want) in [(0.0f32, 0.0f32), (0.5, 0.520_499_9), (1.0, 0.842_700_8), (-2.0, -0.995_322_3)] {
            assert!((erf(x) - want).abs() < 2e-6, "erf({x}) = {}", erf(x));
        }
        assert!((gelu(1.0) - 0.841_344_7).abs() < 1e-5);
        assert!(gelu(-10.0).abs() < 1e-6);
    }

    #[test]
    fn minilm_embeds_paraphrases_close_and_unrelated_text_far() {
        let dir = crate::assets::minilm_dir(&crate::assets::Quiet).unwrap();
        let e = SentenceEncoder::open(&dir).unwrap();
        assert_eq!(e.dimensions(), 384);
        let texts: Vec<String> = [
            "Advises calling emergency services immediately for the chest pain.",
            "Tells the user to phone an ambulance right away because of the chest pain.",
            "Recommends a balanced diet rich in vegetables.",
            "Explains how the sandfly transmits leishmaniasis.",
        ]
        .map(String::from)
        .to_vec();
        let v = e.embed_all(&texts).unwrap();
        for x in &v {
            assert!((x.iter().map(|a| a * a).sum::<f32>() - 1.0).abs() < 1e-4, "unit length");
        }
        let same = cosine(&v[0], &v[1]);
        assert!(same > 0.6, "paraphrases: {same}");
        for other in [2, 3] {
            let far = cosine(&v[0], &v[other]);
            assert!(far < same - 0.3, "{}: {far} vs paraphrase {same}", texts[other]);
        }
        // The same text twice, alone and in a batch, gives the same embedding.
        let alone = e.embed(&texts[3]).unwrap();
        assert!(cosine(&alone, &v[3]) > 0.9999);
    }
}
