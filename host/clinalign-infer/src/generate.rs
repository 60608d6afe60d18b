//! Text generation: greedy, or temperature + top-p sampling with a seeded generator.

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
    let mut rng = StdRng::seed_from_u64(s.seed);
    let mut cache = KvCache::new(&model.cfg);
    let mut out = Vec::new();
    let mut next: Vec<u32> = prompt.to_vec();
    for _ in 0..s.max_tokens {
        let logits = model.forward(&mut [Step { tokens: &next, cache: &mut cache, prefix: None }], LogitsFor::Last)?;
        let tok = pick(logits.step(0).last(), s, &mut rng);
        out.push(tok);
        if s.stop.contains(&tok) {
            break;
        }
        next = vec![tok];
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

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
