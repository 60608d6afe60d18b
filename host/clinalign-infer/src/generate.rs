//! Text generation: greedy, or temperature + top-p sampling with a seeded generator.

use std::ops::ControlFlow;

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use crate::error::Result;
use crate::model::{KvCache, LogitsFor, Model, Step};

/// How to pick each next token.
#[derive(Debug, Clone, PartialEq)]
pub struct Sampling {
    /// 0 picks the most likely token (greedy).
    pub temperature: f32,
    /// Nucleus sampling: keep the most likely tokens whose probabilities add up to this.
    pub top_p: f32,
    pub seed: u64,
    pub max_tokens: usize,
    /// Generation stops after any of these tokens (e.g. end of turn).
    pub stop: Vec<u32>,
}

impl Default for Sampling {
    fn default() -> Self {
        Sampling { temperature: 0.0, top_p: 1.0, seed: 0, max_tokens: 128, stop: Vec::new() }
    }
}

/// Picks the next token from one logits row.
pub fn pick(logits: &[f32], s: &Sampling, rng: &mut StdRng) -> u32 {
    let argmax = || {
        logits
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1).then(b.0.cmp(&a.0)))
            .map(|(i, _)| i as u32)
            .unwrap_or(0)
    };
    if s.temperature <= 0.0 {
        return argmax();
    }
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut probs: Vec<(u32, f32)> =
        logits.iter().enumerate().map(|(i, l)| (i as u32, ((l - max) / s.temperature).exp())).collect();
    let total: f32 = probs.iter().map(|p| p.1).sum();
    probs.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut kept = 0;
    let mut cum = 0.0;
    for (_, p) in &probs {
        cum += p / total;
        kept += 1;
        if cum >= s.top_p {
            break;
        }
    }
    let kept = &probs[..kept.max(1)];
    let mass: f32 = kept.iter().map(|p| p.1).sum();
    let mut r = rng.random::<f32>() * mass;
    for (id, p) in kept {
        if r < *p {
            return *id;
        }
        r -= p;
    }
    kept[kept.len() - 1].0
}

/// Generates up to `s.max_tokens` tokens after `prompt`; returns the new tokens (a stop token
/// included if one ended the generation).
pub fn generate(model: &Model, prompt: &[u32], s: &Sampling) -> Result<Vec<u32>> {
    generate_with(model, prompt, s, |_, _| Ok(ControlFlow::Continue(())))
}

/// [`generate`], showing each chosen token and the raw logits row it was picked from (before
/// temperature and top-p) to `step` as soon as it is picked; `step` may end the generation
/// after that token (e.g. when the text so far holds a stop string). Returns the new tokens,
/// the last one included whether a stop token, `step` or `s.max_tokens` ended the run.
pub fn generate_with(
    model: &Model,
    prompt: &[u32],
    s: &Sampling,
    mut step: impl FnMut(u32, &[f32]) -> Result<ControlFlow<()>>,
) -> Result<Vec<u32>> {
    let mut rng = StdRng::seed_from_u64(s.seed);
    let mut cache = KvCache::new(&model.cfg);
    let mut out = Vec::new();
    let mut next: Vec<u32> = prompt.to_vec();
    for _ in 0..s.max_tokens {
        let logits = model.forward(&mut [Step { tokens: &next, cache: &mut cache, prefix: None }], LogitsFor::Last)?;
        let row = logits.step(0).last();
        let tok = pick(row, s, &mut rng);
        out.push(tok);
        if step(tok, row)?.is_break() || s.stop.contains(&tok) {
            break;
        }
        next = vec![tok];
    }
    Ok(out)
}

/// Greedy generation of up to `max_tokens` tokens where `mask` may rule tokens out of each
/// step's logits (set them to −∞) and `step` sees each chosen token and may end the run.
/// Returns the new tokens.
pub fn generate_masked(
    model: &Model,
    prompt: &[u32],
    max_tokens: usize,
    mut mask: impl FnMut(&mut [f32]) -> Result<()>,
    mut step: impl FnMut(u32) -> Result<ControlFlow<()>>,
) -> Result<Vec<u32>> {
    let mut cache = KvCache::new(&model.cfg);
    let mut out = Vec::new();
    let mut next: Vec<u32> = prompt.to_vec();
    let mut row = Vec::new();
    for _ in 0..max_tokens {
        let logits = model.forward(&mut [Step { tokens: &next, cache: &mut cache, prefix: None }], LogitsFor::Last)?;
        row.clear();
        row.extend_from_slice(logits.step(0).last());
        mask(&mut row)?;
        let tok = pick(&row, &Sampling::default(), &mut StdRng::seed_from_u64(0));
        out.push(tok);
        if step(tok)?.is_break() {
            break;
        }
        next = vec![tok];
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny_qwen3() -> crate::local::LocalModel {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/models/tiny-qwen3");
        crate::local::LocalModel::open(&dir).unwrap()
    }

    #[test]
    fn generate_with_shows_each_token_with_its_logits_and_can_stop_early() {
        let lm = tiny_qwen3();
        let model = lm.model();
        let prompt = [5u32, 17, 42];
        let s = Sampling { max_tokens: 12, ..Default::default() };
        let plain = generate(model, &prompt, &s).unwrap();
        let mut seen: Vec<(u32, Vec<f32>)> = Vec::new();
        let shown = generate_with(model, &prompt, &s, |t, row| {
            seen.push((t, row.to_vec()));
            Ok(ControlFlow::Continue(()))
        })
        .unwrap();
        assert_eq!(shown, plain, "the same tokens as generate");
        assert_eq!(seen.iter().map(|s| s.0).collect::<Vec<_>>(), plain);
        // Each row is the model's logits after the prompt and the tokens before it.
        let mut all = prompt.to_vec();
        all.extend(&plain[..plain.len() - 1]);
        let mut cache = KvCache::new(&model.cfg);
        let logits =
            model.forward(&mut [Step { tokens: &all, cache: &mut cache, prefix: None }], LogitsFor::All).unwrap();
        for (i, (_, row)) in seen.iter().enumerate() {
            let want = logits.step(0).row(prompt.len() - 1 + i);
            let d = row.iter().zip(want).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
            assert!(d < 1e-4, "step {i}: max |Δlogit| {d}");
        }
        // Breaking after the fourth token ends the run there.
        let mut n = 0;
        let cut = generate_with(model, &prompt, &s, |_, _| {
            n += 1;
            Ok(if n == 4 { ControlFlow::Break(()) } else { ControlFlow::Continue(()) })
        })
        .unwrap();
        assert_eq!(cut, plain[..4]);
        // A stop token ends it too, and is returned.
        let stop = Sampling { stop: vec![plain[2]], ..s.clone() };
        assert_eq!(
            generate(model, &prompt, &stop).unwrap(),
            plain[..=plain.iter().position(|t| *t == plain[2]).unwrap()]
        );
    }

    #[test]
    fn greedy_picks_the_argmax_and_sampling_is_seeded() {
        let logits = [0.1, 3.0, 2.9, -1.0];
        let mut rng = StdRng::seed_from_u64(1);
        assert_eq!(pick(&logits, &Sampling::default(), &mut rng), 1);
        let s = Sampling { temperature: 1.0, top_p: 1.0, seed: 7, ..Default::default() };
        let draw = |seed| {
            let mut rng = StdRng::seed_from_u64(seed);
            (0..50).map(|_| pick(&logits, &s, &mut rng)).collect::<Vec<_>>()
        };
        assert_eq!(draw(3), draw(3), "same seed, same draws");
        assert!(draw(3).contains(&2), "sampling explores");
        // top_p small enough keeps only the most likely token.
        let s = Sampling { temperature: 1.0, top_p: 0.1, ..Default::default() };
        let mut rng = StdRng::seed_from_u64(9);
        assert!((0..50).all(|_| pick(&logits, &s, &mut rng) == 1));
    }
}
