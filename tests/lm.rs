//! `clinalign lm` end to end: forward logits against transformers' goldens, generation with
//! the real SmolLM2 model, model info, and clear errors for bad model files.

mod common;

use common::{clinalign, repo, run};
use safetensors::SafeTensors;

fn tensor_f32(st: &SafeTensors<'_>, name: &str) -> (Vec<usize>, Vec<f32>) {
    let t = st.tensor(name).unwrap();
    (t.shape().to_vec(), t.data().chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect())
}

#[test]
fn forward_writes_the_logits_transformers_computes() {
    let dir = repo().join("tests/fixtures/models/tiny-qwen3");
    let golden = std::fs::read(dir.join("golden.safetensors")).unwrap();
    let st = SafeTensors::deserialize(&golden).unwrap();
    let (ids_name, logits_name) = if st.names().contains(&"input_ids") {
        ("input_ids".to_string(), "logits".to_string())
    } else {
        ("input_ids.0".to_string(), "logits.0".to_string())
    };
    let ids: Vec<i32> = st
        .tensor(&ids_name)
        .unwrap()
        .data()
        .chunks_exact(4)
        .map(|b| i32::from_le_bytes(b.try_into().unwrap()))
        .collect();
    let (shape, want) = tensor_f32(&st, &logits_name);

    let tmp = tempfile::tempdir().unwrap();
    let ids_path = tmp.path().join("ids.json");
    std::fs::write(&ids_path, serde_json::to_string(&ids).unwrap()).unwrap();
    let out = tmp.path().join("logits.safetensors");
    let o = run(clinalign()
        .args(["lm", "forward", "--model"])
        .arg(&dir)
        .arg("--tokens")
        .arg(&ids_path)
        .arg("--out")
        .arg(&out));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let bytes = std::fs::read(&out).unwrap();
    let got = SafeTensors::deserialize(&bytes).unwrap();
    let (gshape, gdata) = tensor_f32(&got, "logits");
    assert_eq!(gshape, vec![ids.len(), shape[shape.len() - 1]]);
    let d = gdata.iter().zip(&want[want.len() - gdata.len()..]).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
    assert!(d <= 1e-4, "max |Δlogit| {d}");
}

#[test]
fn generate_is_deterministic_greedy_and_seeded() {
    let model = clinalign_infer::assets::smollm2_gguf().unwrap();
    let generate = |extra: &[&str]| {
        let o = run(clinalign()
            .args(["lm", "generate", "--model"])
            .arg(&model)
            .args(["--prompt", "What is a normal resting heart rate for adults?", "--max-tokens", "12"])
            .args(extra));
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8(o.stdout).unwrap()
    };
    let greedy = generate(&[]);
    assert!(greedy.split_whitespace().count() >= 3, "too short: {greedy:?}");
    assert_eq!(greedy, generate(&[]), "greedy decoding must repeat");
    let a = generate(&["--temperature", "0.9", "--top-p", "0.9", "--seed", "7"]);
    assert_eq!(a, generate(&["--temperature", "0.9", "--top-p", "0.9", "--seed", "7"]), "the same seed must repeat");

    let info = run(clinalign().args(["lm", "info", "--model"]).arg(&model));
    let text = String::from_utf8_lossy(&info.stdout);
    assert!(info.status.success() && text.contains("Llama: 30 layers") && text.contains("49152 tokens"), "{text}");
}

#[test]
fn bad_model_files_fail_with_the_file_and_the_reason() {
    let tmp = tempfile::tempdir().unwrap();
    // A GGUF cut short after its header.
    let model = clinalign_infer::assets::smollm2_gguf().unwrap();
    let head = std::fs::read(&model).unwrap()[..4096].to_vec();
    let cut = tmp.path().join("cut.gguf");
    std::fs::write(&cut, head).unwrap();
    // A file that is not a GGUF at all.
    let junk = tmp.path().join("junk.gguf");
    std::fs::write(&junk, b"not a model").unwrap();
    for (path, missing) in [(cut, false), (junk, false), (tmp.path().join("absent.gguf"), true)] {
        let o = run(clinalign().args(["lm", "info", "--model"]).arg(&path));
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{}: {err}", path.display());
        assert!(err.contains(&*path.file_name().unwrap().to_string_lossy()), "error does not name the file: {err}");
        assert!(!err.contains("panicked"), "{err}");
        if missing {
            assert!(err.contains("no such model"), "{err}");
        }
    }
}
