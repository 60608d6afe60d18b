//! Hostile inputs for every model-file reader: GGUF (header, tensors, the configuration and
//! tokenizer in its metadata), safetensors (and `model.safetensors.index.json`),
//! `config.json`, `tokenizer.json` and `tokenizer_config.json`.
//!
//! Each property starts from a small valid input built here, then truncates it, flips bits,
//! overwrites bytes, replaces it with random bytes, sets its length and count fields to
//! extreme values or, for JSON, edits its structure. Every reader must return, never panic,
//! and every error must name the file. Inputs that still load go on to the next step (tensor
//! data, configuration, tokenizer, encoding), which must not panic either. Targeted tests give
//! headers huge counts and lengths that must fail fast, before anything they would size is
//! allocated.

use std::path::{Path, PathBuf};

use clinalign_infer::config::ModelConfig;
use clinalign_infer::gguf::{Gguf, Value, ValueType};
use clinalign_infer::local::LocalModel;
use clinalign_infer::tokenizer::Tokenizer;
use clinalign_infer::weights::{Proj, SafetensorsSource, WeightSource};
use proptest::prelude::*;
use proptest::sample::Index;
use serde_json::{Value as Json, json};

// ---------------------------------------------------------------------------------------
// shared checks and strategies

/// A fresh folder for the files of one case: in memory (`/dev/shm`) where there is one,
/// since creating and removing thousands of small files on some disks takes a few
/// milliseconds each.
fn scratch_dir() -> tempfile::TempDir {
    let shm = Path::new("/dev/shm");
    if shm.is_dir()
        && let Ok(d) = tempfile::tempdir_in(shm)
    {
        return d;
    }
    tempfile::tempdir().unwrap()
}

/// `e` must name `path`.
fn names(e: &clinalign_infer::Error, path: &Path) -> Result<(), TestCaseError> {
    let s = e.to_string();
    prop_assert!(s.contains(&path.display().to_string()), "error does not name {}: {s}", path.display());
    Ok(())
}

/// Applies bit flips (`(position, bit)`) to `b`.
fn flip_bits(b: &mut [u8], flips: &[(Index, u8)]) {
    if b.is_empty() {
        return;
    }
    for (i, bit) in flips {
        let i = i.index(b.len());
        b[i] ^= 1 << (bit % 8);
    }
}

/// Overwrites bytes (`(position, value)`) of `b`.
fn overwrite(b: &mut [u8], writes: &[(Index, u8)]) {
    if b.is_empty() {
        return;
    }
    for (i, v) in writes {
        let i = i.index(b.len());
        b[i] = *v;
    }
}

fn bit_flips() -> impl Strategy<Value = Vec<(Index, u8)>> {
    prop::collection::vec((any::<Index>(), 0..8u8), 1..8)
}

fn byte_writes() -> impl Strategy<Value = Vec<(Index, u8)>> {
    prop::collection::vec(
        (any::<Index>(), prop_oneof![Just(0u8), Just(0xFF), Just(0x7F), Just(0x80), any::<u8>()]),
        1..12,
    )
}

/// Values that break length and count fields: zero, one, powers of two, the extremes, and
/// anything else.
fn extreme_u64() -> impl Strategy<Value = u64> {
    prop_oneof![
        prop::sample::select(vec![
            0u64,
            1,
            2,
            31,
            32,
            33,
            255,
            4096,
            u32::MAX as u64,
            1 << 32,
            1 << 40,
            1 << 60,
            1 << 61,
            1 << 62,
            1 << 63,
            i64::MAX as u64,
            u64::MAX - 1,
            u64::MAX,
        ]),
        0..1u64 << 16,
        any::<u64>(),
    ]
}

/// Keys the readers look for, so structural edits hit them often.
const KEYS: &[&str] = &[
    "model_type", "vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
    "num_key_value_heads", "head_dim", "max_position_embeddings", "rope_theta", "rope_scaling", "rope_parameters",
    "rms_norm_eps", "num_experts", "num_local_experts", "num_experts_per_tok", "moe_intermediate_size",
    "decoder_sparse_step", "mlp_only_layers", "tie_word_embeddings", "dtype", "shape", "data_offsets", "__metadata__",
    "weight_map", "version", "added_tokens", "normalizer", "pre_tokenizer", "post_processor", "decoder", "model",
    "padding", "truncation", "type", "vocab", "merges", "unk_token", "unk_id", "id", "content", "special", "single",
    "pair", "special_tokens", "ids", "tokens", "strategy", "Fixed", "max_length", "stride", "pad_to_multiple_of",
    "bos_token", "eos_token", "pad_token", "chat_template", "name", "template",
];

fn json_leaf() -> impl Strategy<Value = Json> {
    prop_oneof![
        Just(Json::Null),
        any::<bool>().prop_map(Json::Bool),
        prop::sample::select(vec![0i64, 1, -1, 2, 3, 7, 16, 64, 4096, i32::MAX as i64, i64::MAX, i64::MIN])
            .prop_map(|n| json!(n)),
        prop::sample::select(vec![u64::MAX, 1 << 32, 1 << 40, 1 << 53, 1 << 62, 1 << 63]).prop_map(|n| json!(n)),
        any::<i64>().prop_map(|n| json!(n)),
        prop::sample::select(vec![0.0f64, -0.0, 0.5, -1.5, 1e-300, 1e300, -1e300, 3.4e38, 1e10]).prop_map(|x| json!(x)),
        prop::sample::select(vec![
            "", " ", "a", "ab", "Ġ", "Ġab", "<s>", "</s>", "llama", "qwen2", "qwen3", "qwen3_moe", "mistral",
            "default", "linear", "F32", "F16", "BF16", "I64", "F8_E4M3", "BPE", "WordPiece", "Unigram", "WordLevel",
            "ByteLevel", "Sequence", "Split", "Fixed", "BatchLongest", "Left", "../x", "/etc/passwd",
            "model.safetensors", "\u{0}", "🙂", "a b", "{{ x }}", "{% for %}",
        ])
        .prop_map(|s| json!(s)),
        "[ -~]{0,12}".prop_map(Json::String),
    ]
}

fn json_value() -> impl Strategy<Value = Json> {
    json_leaf().prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Json::Array),
            prop::collection::vec((json_key(), inner), 0..4).prop_map(|kv| Json::Object(kv.into_iter().collect())),
        ]
    })
}

fn json_key() -> impl Strategy<Value = String> {
    prop_oneof![prop::sample::select(KEYS).prop_map(str::to_string), "[a-z_]{1,8}"]
}

/// One edit of a JSON document, at a node picked by index among all its nodes.
#[derive(Debug, Clone)]
enum Edit {
    /// Replace the node.
    Set(Index, Json),
    /// Remove the node from its object or array.
    Remove(Index),
    /// Add a member to an object node, or an element to an array node.
    Add(Index, String, Json),
    /// Put a copy of one node in place of another.
    Copy(Index, Index),
}

fn json_edits() -> impl Strategy<Value = Vec<Edit>> {
    let edit = prop_oneof![
        3 => (any::<Index>(), json_value()).prop_map(|(i, v)| Edit::Set(i, v)),
        2 => any::<Index>().prop_map(Edit::Remove),
        2 => (any::<Index>(), json_key(), json_value()).prop_map(|(i, k, v)| Edit::Add(i, k, v)),
        1 => (any::<Index>(), any::<Index>()).prop_map(|(a, b)| Edit::Copy(a, b)),
    ];
    prop::collection::vec(edit, 1..5)
}

/// JSON pointers of every node of `v`, the root first.
fn pointers(v: &Json, at: String, out: &mut Vec<String>) {
    out.push(at.clone());
    match v {
        Json::Object(m) => {
            for (k, x) in m {
                pointers(x, format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")), out);
            }
        }
        Json::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                pointers(x, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

fn apply_edits(v: &mut Json, edits: &[Edit]) {
    for e in edits {
        let mut ptrs = Vec::new();
        pointers(v, String::new(), &mut ptrs);
        let pick = |i: &Index| ptrs[i.index(ptrs.len())].clone();
        match e {
            Edit::Set(i, x) => {
                if let Some(n) = v.pointer_mut(&pick(i)) {
                    *n = x.clone();
                }
            }
            Edit::Remove(i) => {
                let p = pick(i);
                let Some((parent, last)) = p.rsplit_once('/') else { continue };
                let last = last.replace("~1", "/").replace("~0", "~");
                match v.pointer_mut(parent) {
                    Some(Json::Object(m)) => {
                        m.remove(&last);
                    }
                    Some(Json::Array(a)) => {
                        if let Ok(i) = last.parse::<usize>() {
                            a.remove(i);
                        }
                    }
                    _ => {}
                }
            }
            Edit::Add(i, k, x) => match v.pointer_mut(&pick(i)) {
                Some(Json::Object(m)) => {
                    m.insert(k.clone(), x.clone());
                }
                Some(Json::Array(a)) => a.push(x.clone()),
                _ => {}
            },
            Edit::Copy(from, to) => {
                let x = v.pointer(&pick(from)).cloned();
                if let (Some(x), Some(n)) = (x, v.pointer_mut(&pick(to))) {
                    *n = x;
                }
            }
        }
    }
}

/// Runs a tokenizer a little: encoding and decoding must not panic (errors are fine).
fn exercise_tokenizer(t: &Tokenizer) {
    for text in ["", "ab ab", "12 ab\n", "<s>ab</s>", "naïve 東京 🙂", "  \t\r\n"] {
        if let Ok(ids) = t.encode(text, true) {
            let _ = t.decode(&ids, false);
            let _ = t.decode(&ids, true);
        }
    }
    let n = t.vocab_size().min(64) as u32;
    let _ = t.decode(&(0..n).collect::<Vec<_>>(), false);
    for id in 0..n {
        let _ = (t.id_to_token(id), t.is_special(id));
    }
}

// ---------------------------------------------------------------------------------------
// GGUF

/// A GGUF image written here, with the positions of its u64 length and count fields.
struct GgufImage {
    bytes: Vec<u8>,
    fields: Vec<usize>,
}

struct W {
    b: Vec<u8>,
    fields: Vec<usize>,
}

impl W {
    fn u64(&mut self, v: u64) {
        self.fields.push(self.b.len());
        self.b.extend(v.to_le_bytes());
    }

    fn str(&mut self, s: &str) {
        self.u64(s.len() as u64);
        self.b.extend(s.as_bytes());
    }

    fn value(&mut self, v: &Value) {
        match v {
            Value::U8(x) => self.b.push(*x),
            Value::I8(x) => self.b.push(*x as u8),
            Value::U16(x) => self.b.extend(x.to_le_bytes()),
            Value::I16(x) => self.b.extend(x.to_le_bytes()),
            Value::U32(x) => self.b.extend(x.to_le_bytes()),
            Value::I32(x) => self.b.extend(x.to_le_bytes()),
            Value::F32(x) => self.b.extend(x.to_le_bytes()),
            Value::Bool(x) => self.b.push(*x as u8),
            Value::String(s) => self.str(s),
            Value::Array(t, xs) => {
                self.b.extend(t.id().to_le_bytes());
                self.u64(xs.len() as u64);
                for x in xs {
                    self.value(x);
                }
            }
            Value::U64(x) => self.b.extend(x.to_le_bytes()),
            Value::I64(x) => self.b.extend(x.to_le_bytes()),
            Value::F64(x) => self.b.extend(x.to_le_bytes()),
        }
    }
}

/// A GGUF file (version 3, alignment 32) with `kv` and `tensors` (name, ggml shape, ggml
/// type id, data), the data placed one after another.
fn gguf_image(kv: &[(String, Value)], tensors: &[(&str, Vec<u64>, u32, Vec<u8>)]) -> GgufImage {
    let mut w = W { b: b"GGUF".to_vec(), fields: Vec::new() };
    w.b.extend(3u32.to_le_bytes());
    w.u64(tensors.len() as u64);
    w.u64(kv.len() as u64);
    for (k, v) in kv {
        w.str(k);
        w.b.extend(v.value_type().id().to_le_bytes());
        w.value(v);
    }
    let mut offset = 0u64;
    let mut offsets = Vec::new();
    for (name, shape, dtype, data) in tensors {
        w.str(name);
        w.b.extend((shape.len() as u32).to_le_bytes());
        for d in shape {
            w.u64(*d);
        }
        w.b.extend(dtype.to_le_bytes());
        w.u64(offset);
        offsets.push(offset);
        offset = (offset + data.len() as u64).next_multiple_of(32);
    }
    w.b.resize(w.b.len().next_multiple_of(32), 0);
    let base = w.b.len();
    for ((_, _, _, data), off) in tensors.iter().zip(offsets) {
        w.b.resize(base + off as usize, 0);
        w.b.extend(data);
    }
    GgufImage { bytes: w.b, fields: w.fields }
}

fn s(x: &str) -> Value {
    Value::String(x.into())
}

fn strs(x: &[&str]) -> Value {
    Value::Array(ValueType::String, x.iter().map(|v| s(v)).collect())
}

fn i32s(x: &[i32]) -> Value {
    Value::Array(ValueType::I32, x.iter().map(|&v| Value::I32(v)).collect())
}

const TOKENS: &[&str] = &["<s>", "a", "b", "ab", "Ġ", "Ġab", "1", "2", "12", "Ċ"];
const TOKEN_TYPES: &[i32] = &[3, 1, 1, 1, 1, 1, 1, 1, 1, 1];
const MERGES: &[&str] = &["a b", "Ġ ab", "1 2"];

/// Tokenizer metadata of a tiny byte-level BPE vocabulary.
fn tokenizer_kv(pre: &str) -> Vec<(String, Value)> {
    vec![
        ("tokenizer.ggml.model".into(), s("gpt2")),
        ("tokenizer.ggml.pre".into(), s(pre)),
        ("tokenizer.ggml.tokens".into(), strs(TOKENS)),
        ("tokenizer.ggml.token_type".into(), i32s(TOKEN_TYPES)),
        ("tokenizer.ggml.merges".into(), strs(MERGES)),
        ("tokenizer.ggml.bos_token_id".into(), Value::U32(0)),
        ("tokenizer.ggml.eos_token_id".into(), Value::U32(0)),
        ("tokenizer.ggml.add_bos_token".into(), Value::Bool(true)),
        ("tokenizer.chat_template".into(), s("{% for m in messages %}{{ m.content }}{% endfor %}")),
    ]
}

fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// A small valid GGUF model: Llama configuration, tokenizer, and tensors of several types.
fn sample_gguf() -> GgufImage {
    let mut kv: Vec<(String, Value)> = vec![
        ("general.architecture".into(), s("llama")),
        ("general.alignment".into(), Value::U32(32)),
        ("llama.block_count".into(), Value::U32(1)),
        ("llama.embedding_length".into(), Value::U32(8)),
        ("llama.feed_forward_length".into(), Value::U32(16)),
        ("llama.attention.head_count".into(), Value::U32(2)),
        ("llama.attention.head_count_kv".into(), Value::U32(1)),
        ("llama.context_length".into(), Value::U64(64)),
        ("llama.rope.freq_base".into(), Value::F32(10000.0)),
        ("llama.attention.layer_norm_rms_epsilon".into(), Value::F32(1e-5)),
        ("a.nested".into(), Value::Array(ValueType::Array, vec![Value::Array(ValueType::U8, vec![Value::U8(1)])])),
        ("a.f64".into(), Value::F64(0.25)),
        ("a.i64".into(), Value::I64(-3)),
    ];
    kv.extend(tokenizer_kv("gpt2"));
    let mut q8 = half::f16::from_f32(0.5).to_bits().to_le_bytes().to_vec();
    q8.extend((0..32).map(|i| (i as i8 - 16) as u8));
    let f16: Vec<u8> = [-0.25f32, 8.0].iter().flat_map(|&x| half::f16::from_f32(x).to_bits().to_le_bytes()).collect();
    gguf_image(
        &kv,
        &[
            ("token_embd.weight", vec![8, 10], 0, f32_bytes(&[0.5; 80])),
            ("blk.0.attn_q.weight", vec![32, 1], 8, q8),
            ("output_norm.weight", vec![2], 1, f16),
            ("blk.0.attn_k.weight", vec![32], 3 /* Q4_1 */, vec![0x11; 20]),
        ],
    )
}

/// Reads a GGUF image and everything built from it; nothing may panic and every error
/// must name `path`.
fn check_gguf(path: &Path, bytes: Vec<u8>) -> Result<bool, TestCaseError> {
    let g = match Gguf::from_bytes(path, bytes) {
        Ok(g) => g,
        Err(e) => {
            names(&e, path)?;
            return Ok(false);
        }
    };
    for t in g.tensors() {
        let _ = g.data(t);
        if let Err(e) = g.dequantize(t) {
            names(&e, path)?;
        }
    }
    if let Err(e) = ModelConfig::from_gguf(&g, path) {
        names(&e, path)?;
    }
    match Tokenizer::from_gguf(&g) {
        Ok(t) => exercise_tokenizer(&t),
        Err(e) => names(&e, path)?,
    }
    Ok(true)
}

#[test]
fn gguf_sample_is_valid() {
    let img = sample_gguf();
    let path = Path::new("sample.gguf");
    let g = Gguf::from_bytes(path, img.bytes.clone()).unwrap();
    assert_eq!(g.tensors().len(), 4);
    assert_eq!(g.dequantize(g.tensor("token_embd.weight").unwrap()).unwrap(), vec![0.5; 80]);
    assert_eq!(g.dequantize(g.tensor("output_norm.weight").unwrap()).unwrap(), vec![-0.25, 8.0]);
    let cfg = ModelConfig::from_gguf(&g, path).unwrap();
    assert_eq!((cfg.num_layers, cfg.hidden_size, cfg.vocab_size, cfg.head_dim), (1, 8, 10, 4));
    let t = Tokenizer::from_gguf(&g).unwrap();
    assert_eq!(t.encode("ab ab", false).unwrap(), vec![3, 5]);
    assert!(check_gguf(path, img.bytes).unwrap());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn gguf_truncated_anywhere_is_an_error(cut in any::<Index>()) {
        let img = sample_gguf();
        let n = cut.index(img.bytes.len());
        let path = Path::new("dir/truncated.gguf");
        let e = Gguf::from_bytes(path, img.bytes[..n].to_vec()).unwrap_err();
        names(&e, path)?;
    }

    #[test]
    fn gguf_bit_flips(flips in bit_flips()) {
        let mut b = sample_gguf().bytes;
        flip_bits(&mut b, &flips);
        check_gguf(Path::new("flipped.gguf"), b)?;
    }

    #[test]
    fn gguf_byte_overwrites(writes in byte_writes()) {
        let mut b = sample_gguf().bytes;
        overwrite(&mut b, &writes);
        check_gguf(Path::new("overwritten.gguf"), b)?;
    }

    #[test]
    fn gguf_length_and_count_fields_set_to_extremes(
        sets in prop::collection::vec((any::<Index>(), extreme_u64()), 1..4),
    ) {
        let img = sample_gguf();
        let mut b = img.bytes;
        for (i, v) in &sets {
            let at = img.fields[i.index(img.fields.len())];
            b[at..at + 8].copy_from_slice(&v.to_le_bytes());
        }
        check_gguf(Path::new("counts.gguf"), b)?;
    }

    #[test]
    fn gguf_random_bytes(magic in any::<bool>(), tail in prop::collection::vec(any::<u8>(), 0..600)) {
        let mut b = if magic { b"GGUF\x03\0\0\0".to_vec() } else { Vec::new() };
        b.extend(tail);
        check_gguf(Path::new("random.gguf"), b)?;
    }
}

/// A GGUF tokenizer vocabulary of odd tokens, merges, types and special ids.
fn odd_token() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "", " ", "a", "b", "ab", "Ġ", "Ġab", "<s>", "</s>", "1", "12", "Ċ", "é", "🙂", "a b", "\u{0}"
        ])
        .prop_map(str::to_string),
        "[ -~]{0,4}",
        "\\PC{0,3}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn gguf_tokenizer_metadata_with_odd_values(
        tokens in prop::collection::vec(odd_token(), 0..12),
        merges in prop::collection::vec(odd_token(), 0..6),
        types in prop::option::of(prop::collection::vec(
            prop::sample::select(vec![-1i32, 0, 1, 2, 3, 4, 5, 6, i32::MAX, i32::MIN]), 0..12)),
        pre in prop::sample::select(vec!["gpt2", "default", "smollm", "llama-bpe", "qwen2", "falcon", ""]),
        bos in prop::option::of(prop_oneof![0..12u32, Just(u32::MAX)]),
        eos in prop::option::of(prop_oneof![0..12u32, Just(u32::MAX)]),
        add_bos in prop::option::of(any::<bool>()),
        add_eos in prop::option::of(any::<bool>()),
        wrong_types in any::<bool>(),
    ) {
        let mut kv: Vec<(String, Value)> = vec![
            ("tokenizer.ggml.model".into(), s("gpt2")),
            ("tokenizer.ggml.pre".into(), s(pre)),
            ("tokenizer.ggml.tokens".into(), Value::Array(ValueType::String, tokens.iter().map(|t| s(t)).collect())),
            ("tokenizer.ggml.merges".into(), Value::Array(ValueType::String, merges.iter().map(|t| s(t)).collect())),
        ];
        if let Some(types) = types {
            kv.push(("tokenizer.ggml.token_type".into(), i32s(&types)));
        }
        for (k, v) in [("bos_token_id", bos), ("eos_token_id", eos)] {
            if let Some(v) = v {
                let v = if wrong_types { Value::I64(v as i64 - 1) } else { Value::U32(v) };
                kv.push((format!("tokenizer.ggml.{k}"), v));
            }
        }
        for (k, v) in [("add_bos_token", add_bos), ("add_eos_token", add_eos)] {
            if let Some(v) = v {
                kv.push((format!("tokenizer.ggml.{k}"), if wrong_types { Value::U8(v as u8) } else { Value::Bool(v) }));
            }
        }
        let path = Path::new("odd-tokenizer.gguf");
        let g = Gguf::from_bytes(path, gguf_image(&kv, &[]).bytes).unwrap();
        match Tokenizer::from_gguf(&g) {
            Ok(t) => exercise_tokenizer(&t),
            Err(e) => names(&e, path)?,
        }
    }
}

/// The error of reading `bytes` as GGUF, which must come.
fn gguf_err(bytes: Vec<u8>) -> String {
    let path = Path::new("huge.gguf");
    let e = Gguf::from_bytes(path, bytes).expect_err("a hostile header must be rejected");
    let s = e.to_string();
    assert!(s.starts_with("huge.gguf: "), "{s}");
    s
}

/// Position of `needle` in `hay`.
fn find(hay: &[u8], needle: &[u8]) -> usize {
    hay.windows(needle.len()).position(|w| w == needle).unwrap()
}

#[test]
fn gguf_huge_counts_and_lengths_fail_fast() {
    let t0 = std::time::Instant::now();
    let img = sample_gguf();
    let set = |at: usize, v: u64| {
        let mut b = img.bytes.clone();
        b[at..at + 8].copy_from_slice(&v.to_le_bytes());
        b
    };
    // 2^60 metadata entries, 2^40 and u64::MAX tensors
    let e = gguf_err(set(16, 1 << 60));
    assert!(e.contains("1152921504606846976 metadata entries") && e.contains("cannot fit"), "{e}");
    assert!(gguf_err(set(8, 1 << 40)).contains("cannot fit"));
    assert!(gguf_err(set(8, u64::MAX)).contains("cannot fit"));
    // a key 2^40 bytes long, a string value 2^40 bytes long
    let e = gguf_err(set(24, 1 << 40));
    assert!(e.contains("key of metadata entry 0") && e.contains("1099511627776 bytes"), "{e}");
    let at = find(&img.bytes, b"general.architecture") + "general.architecture".len() + 4;
    let e = gguf_err(set(at, 1 << 40));
    assert!(e.contains("metadata general.architecture") && e.contains("too long"), "{e}");
    // an array of 2^61 tokens
    let at = find(&img.bytes, b"tokenizer.ggml.tokens") + "tokenizer.ggml.tokens".len() + 8;
    let e = gguf_err(set(at, 1 << 61));
    assert!(e.contains("element count of metadata tokenizer.ggml.tokens"), "{e}");
    // dimensions of 2^62 × 2^62 and 2^63; a data offset near u64::MAX
    let dim = find(&img.bytes, b"token_embd.weight") + "token_embd.weight".len() + 4;
    let e = gguf_err({
        let mut b = set(dim, 1 << 62);
        b[dim + 8..dim + 16].copy_from_slice(&(1u64 << 62).to_le_bytes());
        b
    });
    assert!(e.contains("tensor token_embd.weight") && e.contains("overflows"), "{e}");
    assert!(gguf_err(set(dim, 1 << 63)).contains("too large"));
    let e = gguf_err(set(dim + 16 + 4, u64::MAX - 31));
    assert!(e.contains("tensor token_embd.weight data out of bounds"), "{e}");
    // a tensor running past the end of the file names it, its size and the file size
    let e = gguf_err(img.bytes[..img.bytes.len() - 40].to_vec());
    assert!(e.contains("tensor ") && e.contains("runs past the end of the file") && e.contains("the file has"), "{e}");
    assert!(t0.elapsed().as_secs_f64() < 1.0, "hostile headers took {:?}", t0.elapsed());
}

/// A sparse file of `len` bytes (taking no disk space) that starts with `head`.
fn sparse_file(dir: &Path, name: &str, head: &[u8], len: u64) -> PathBuf {
    let p = dir.join(name);
    let mut f = std::fs::File::create(&p).unwrap();
    std::io::Write::write_all(&mut f, head).unwrap();
    f.set_len(len).unwrap();
    p
}

/// Counts that the bytes of a huge (sparse, mapped) file could hold, but whose items would
/// take many times the file's size in memory, must fail before anything is reserved for them.
#[test]
fn gguf_counts_that_fit_a_huge_file_fail_fast() {
    let dir = tempfile::tempdir().unwrap();
    let len = 16u64 << 30;
    let t0 = std::time::Instant::now();
    let header = |n_tensors: u64, n_kv: u64| {
        let mut b = b"GGUF".to_vec();
        b.extend(3u32.to_le_bytes());
        b.extend(n_tensors.to_le_bytes());
        b.extend(n_kv.to_le_bytes());
        b
    };
    // one metadata entry: a u8 array of 8 Gi elements (one byte each in the file, 32 in memory)
    let mut b = header(0, 1);
    b.extend(1u64.to_le_bytes());
    b.push(b'k');
    b.extend(ValueType::Array.id().to_le_bytes());
    b.extend(ValueType::U8.id().to_le_bytes());
    b.extend((8u64 << 30).to_le_bytes());
    let p = sparse_file(dir.path(), "array.gguf", &b, len);
    let e = Gguf::open(&p).unwrap_err().to_string();
    assert!(e.contains(&p.display().to_string()) && e.contains("metadata k") && e.contains("limit"), "{e}");
    // 2^28 tensors (each info at least 24 bytes in the file) and 2^28 metadata entries
    let p = sparse_file(dir.path(), "tensors.gguf", &header(1 << 28, 0), len);
    let e = Gguf::open(&p).unwrap_err().to_string();
    assert!(e.contains(&p.display().to_string()) && e.contains("268435456 tensors"), "{e}");
    let p = sparse_file(dir.path(), "kv.gguf", &header(0, 1 << 28), len);
    let e = Gguf::open(&p).unwrap_err().to_string();
    assert!(e.contains(&p.display().to_string()) && e.contains("268435456 metadata entries"), "{e}");
    assert!(t0.elapsed().as_secs_f64() < 2.0, "took {:?}", t0.elapsed());
}

#[test]
fn gguf_files_on_disk_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let img = sample_gguf();
    let p = dir.path().join("model.gguf");
    std::fs::write(&p, &img.bytes[..img.bytes.len() / 2]).unwrap();
    let e = Gguf::open(&p).unwrap_err();
    assert!(e.to_string().starts_with(&format!("{}: ", p.display())), "{e}");
    let e = Gguf::open(dir.path().join("missing.gguf")).unwrap_err();
    assert!(e.to_string().contains("missing.gguf"), "{e}");
    let e = Gguf::open(dir.path()).unwrap_err();
    assert!(e.to_string().contains(&dir.path().display().to_string()), "{e}");
}

// ---------------------------------------------------------------------------------------
// safetensors

/// A small valid safetensors file: F32, F16 and BF16 tensors, a scalar, an empty tensor
/// and file metadata.
fn sample_safetensors() -> Vec<u8> {
    use safetensors::tensor::{Dtype, TensorView};
    let f32s = f32_bytes(&[1.0, -2.0, 0.5, 4.0, 8.0, -0.25]);
    let f16s: Vec<u8> = [1.5f32, -3.0, 0.0].iter().flat_map(|&x| half::f16::from_f32(x).to_le_bytes()).collect();
    let bf16s: Vec<u8> = [2.0f32, 0.125].iter().flat_map(|&x| half::bf16::from_f32(x).to_le_bytes()).collect();
    let scalar = f32_bytes(&[7.0]);
    let views = vec![
        ("model.embed_tokens.weight", TensorView::new(Dtype::F32, vec![2, 3], &f32s).unwrap()),
        ("model.norm.weight", TensorView::new(Dtype::F16, vec![3], &f16s).unwrap()),
        ("lm_head.bias", TensorView::new(Dtype::BF16, vec![2], &bf16s).unwrap()),
        ("scalar", TensorView::new(Dtype::F32, vec![], &scalar).unwrap()),
        ("empty", TensorView::new(Dtype::F32, vec![0, 4], &[]).unwrap()),
    ];
    let meta = std::collections::HashMap::from([("format".to_string(), "pt".to_string())]);
    safetensors::serialize(views, Some(meta)).unwrap()
}

/// Writes `bytes` as `model.safetensors` of a fresh folder and reads every tensor; nothing
/// may panic and every error must name the file.
fn check_safetensors(bytes: &[u8]) -> Result<bool, TestCaseError> {
    let dir = scratch_dir();
    let file = dir.path().join("model.safetensors");
    std::fs::write(&file, bytes).unwrap();
    let src = match SafetensorsSource::open(dir.path()) {
        Ok(s) => s,
        Err(e) => {
            names(&e, &file)?;
            return Ok(false);
        }
    };
    let names_: Vec<String> = src.names().map(str::to_string).collect();
    for n in &names_ {
        if let Err(e) = src.tensor(n) {
            names(&e, &file)?;
        }
    }
    for proj in [Proj::Gate, Proj::Up, Proj::Down] {
        if let Err(e) = src.expert(0, 0, proj) {
            names(&e, dir.path())?;
        }
    }
    Ok(true)
}

/// `bytes` with its header replaced by `header` (the tensor data kept).
fn with_header(bytes: &[u8], header: &Json) -> Vec<u8> {
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let text = serde_json::to_vec(header).unwrap();
    let mut b = (text.len() as u64).to_le_bytes().to_vec();
    b.extend(text);
    b.extend(&bytes[8 + n..]);
    b
}

fn header_of(bytes: &[u8]) -> Json {
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    serde_json::from_slice(&bytes[8..8 + n]).unwrap()
}

#[test]
fn safetensors_sample_is_valid() {
    let b = sample_safetensors();
    assert!(check_safetensors(&b).unwrap());
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("model.safetensors"), &b).unwrap();
    let src = SafetensorsSource::open(dir.path()).unwrap();
    assert_eq!(
        src.tensor("model.embed_tokens.weight").unwrap().unwrap(),
        (vec![2, 3], vec![1.0, -2.0, 0.5, 4.0, 8.0, -0.25])
    );
    assert_eq!(src.tensor("model.norm.weight").unwrap().unwrap(), (vec![3], vec![1.5, -3.0, 0.0]));
    assert_eq!(src.tensor("lm_head.bias").unwrap().unwrap(), (vec![2], vec![2.0, 0.125]));
    assert_eq!(src.tensor("scalar").unwrap().unwrap(), (vec![], vec![7.0]));
    assert_eq!(src.tensor("empty").unwrap().unwrap(), (vec![0, 4], vec![]));
    assert_eq!(src.tensor("nope").unwrap(), None);
    // the header round-trips through the editing helpers
    assert!(check_safetensors(&with_header(&b, &header_of(&b))).unwrap());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn safetensors_truncated_anywhere_is_an_error(cut in any::<Index>()) {
        let b = sample_safetensors();
        let n = cut.index(b.len());
        prop_assert!(!check_safetensors(&b[..n])?, "cut at {n} still opens");
    }

    #[test]
    fn safetensors_bit_flips(flips in bit_flips()) {
        let mut b = sample_safetensors();
        flip_bits(&mut b, &flips);
        check_safetensors(&b)?;
    }

    #[test]
    fn safetensors_byte_overwrites(writes in byte_writes()) {
        let mut b = sample_safetensors();
        overwrite(&mut b, &writes);
        check_safetensors(&b)?;
    }

    #[test]
    fn safetensors_header_length_set_to_extremes(n in extreme_u64()) {
        let mut b = sample_safetensors();
        let ok = u64::from_le_bytes(b[..8].try_into().unwrap());
        b[..8].copy_from_slice(&n.to_le_bytes());
        prop_assert_eq!(check_safetensors(&b)?, n == ok);
    }

    #[test]
    fn safetensors_random_bytes(tail in prop::collection::vec(any::<u8>(), 0..400), small_len in any::<bool>()) {
        let mut b = tail;
        if small_len && b.len() >= 8 {
            let n = (b.len() as u64 - 8) / 2;
            b[..8].copy_from_slice(&n.to_le_bytes());
        }
        check_safetensors(&b)?;
    }

    #[test]
    fn safetensors_header_json_edits(edits in json_edits(), extra_data in 0..3usize) {
        let b = sample_safetensors();
        let mut h = header_of(&b);
        apply_edits(&mut h, &edits);
        let mut b = with_header(&b, &h);
        b.extend(std::iter::repeat_n(0u8, extra_data * 2));
        check_safetensors(&b)?;
    }

    #[test]
    fn safetensors_offsets_and_shapes_set_to_extremes(
        sets in prop::collection::vec((any::<Index>(), any::<bool>(), any::<Index>(), extreme_u64()), 1..4),
    ) {
        let b = sample_safetensors();
        let mut h = header_of(&b);
        let names_: Vec<String> = h.as_object().unwrap().keys().filter(|k| *k != "__metadata__").cloned().collect();
        for (t, offsets, i, v) in &sets {
            let t = &mut h[&names_[t.index(names_.len())]];
            let list = if *offsets { &mut t["data_offsets"] } else { &mut t["shape"] };
            let list = list.as_array_mut().unwrap();
            if !list.is_empty() {
                let i = i.index(list.len());
                list[i] = json!(v);
            }
        }
        check_safetensors(&with_header(&b, &h))?;
    }
}

/// A safetensors file of `tensors` (name, dtype, shape, data_offsets) over `data`.
fn raw_safetensors(tensors: &[(&str, &str, Vec<u64>, [u64; 2])], data: &[u8]) -> Vec<u8> {
    let mut h = serde_json::Map::new();
    for (name, dtype, shape, offsets) in tensors {
        h.insert(name.to_string(), json!({"dtype": dtype, "shape": shape, "data_offsets": offsets}));
    }
    let text = serde_json::to_vec(&h).unwrap();
    let mut b = (text.len() as u64).to_le_bytes().to_vec();
    b.extend(text);
    b.extend(data);
    b
}

fn safetensors_err(bytes: &[u8]) -> String {
    let dir = scratch_dir();
    let file = dir.path().join("model.safetensors");
    std::fs::write(&file, bytes).unwrap();
    let e = match SafetensorsSource::open(dir.path()) {
        Ok(_) => panic!("a hostile safetensors file must be rejected"),
        Err(e) => e.to_string(),
    };
    assert!(e.starts_with(&format!("{}: ", file.display())), "{e}");
    e
}

#[test]
fn safetensors_huge_lengths_and_offsets_fail_fast() {
    let t0 = std::time::Instant::now();
    let b = sample_safetensors();
    for n in [u64::MAX, 1 << 63, 100_000_001, b.len() as u64] {
        let mut b = b.clone();
        b[..8].copy_from_slice(&n.to_le_bytes());
        let e = safetensors_err(&b);
        assert!(e.contains("runs past the end of the file"), "{e}");
    }
    let e = safetensors_err(&[1, 2, 3]);
    assert!(e.contains("too short"), "{e}");
    // eight tensors of 2^61 - 1 bytes each: every offset is a valid usize, their sum is not
    // (`SafeTensors::read_metadata` adds them up unchecked and panics in debug builds)
    let big = (1u64 << 61) - 1;
    let tensors: Vec<(String, [u64; 2])> = (0..8).map(|i| (format!("t{i}"), [i * big, (i + 1) * big])).collect();
    let tensors: Vec<(&str, &str, Vec<u64>, [u64; 2])> =
        tensors.iter().map(|(n, o)| (n.as_str(), "U8", vec![big], *o)).collect();
    let e = safetensors_err(&raw_safetensors(&tensors, &[0; 16]));
    assert!(e.contains("tensor t0: data runs past the end of the file (needs 2305843009213693951 bytes"), "{e}");
    // a shape whose element count overflows, one that does not match its offsets
    let e = safetensors_err(&raw_safetensors(&[("x", "F32", vec![1 << 40, 1 << 40], [0, 16])], &[0; 16]));
    assert!(e.contains("tensor x: shape [1099511627776, 1099511627776] of F32 is too large"), "{e}");
    let e = safetensors_err(&raw_safetensors(&[("x", "F32", vec![3], [0, 16])], &[0; 16]));
    assert!(e.contains("tensor x: shape [3] of F32 takes 96 bits, but data_offsets [0, 16] hold 16 bytes"), "{e}");
    // offsets that overlap, leave a gap, run backwards, or leave data uncovered
    let e =
        safetensors_err(&raw_safetensors(&[("a", "F32", vec![2], [0, 8]), ("b", "F32", vec![2], [4, 12])], &[0; 12]));
    assert!(e.contains("tensor b") && e.contains("overlaps"), "{e}");
    let e = safetensors_err(&raw_safetensors(&[("a", "F32", vec![1], [4, 8])], &[0; 8]));
    assert!(e.contains("tensor a") && e.contains("gap"), "{e}");
    let e = safetensors_err(&raw_safetensors(&[("a", "F32", vec![1], [8, 4])], &[0; 8]));
    assert!(e.contains("end before they start"), "{e}");
    let e = safetensors_err(&raw_safetensors(&[("a", "F32", vec![1], [0, 4])], &[0; 8]));
    assert!(e.contains("cover 4 bytes") && e.contains("has 8"), "{e}");
    // an unsupported dtype is read fine and refused when the tensor is asked for
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("model.safetensors");
    std::fs::write(&file, raw_safetensors(&[("a", "I64", vec![1], [0, 8])], &[0; 8])).unwrap();
    let e = SafetensorsSource::open(dir.path()).unwrap().tensor("a").unwrap_err().to_string();
    assert!(e.contains(&file.display().to_string()) && e.contains("unsupported dtype"), "{e}");
    assert!(t0.elapsed().as_secs_f64() < 1.0, "took {:?}", t0.elapsed());
}

#[test]
fn safetensors_fused_experts_with_odd_rows_are_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let data = f32_bytes(&[1.0; 2 * 3 * 2]);
    let b = raw_safetensors(&[("model.layers.0.mlp.experts.gate_up_proj", "F32", vec![2, 3, 2], [0, 48])], &data);
    std::fs::write(dir.path().join("model.safetensors"), b).unwrap();
    let src = SafetensorsSource::open(dir.path()).unwrap();
    for proj in [Proj::Gate, Proj::Up] {
        let e = src.expert(0, 1, proj).unwrap_err().to_string();
        assert!(e.contains("gate_up_proj") && e.contains("halves"), "{e}");
    }
    let e = src.expert(0, 2, Proj::Gate).unwrap_err().to_string();
    assert!(e.contains("no expert 2"), "{e}");
}

#[test]
fn safetensors_index_json_is_checked() {
    let dir = tempfile::tempdir().unwrap();
    let index = dir.path().join("model.safetensors.index.json");
    std::fs::write(dir.path().join("a.safetensors"), sample_safetensors()).unwrap();
    let open = |json: &str| {
        std::fs::write(&index, json).unwrap();
        SafetensorsSource::open(dir.path()).map(|_| ()).map_err(|e| e.to_string())
    };
    assert_eq!(open(r#"{"weight_map": {"x": "a.safetensors", "y": "a.safetensors"}}"#), Ok(()));
    for (json, want) in [
        (r#"{"weight_map": {"x": "../a.safetensors"}}"#, "not a file name in the model folder"),
        (r#"{"weight_map": {"x": "/etc/passwd"}}"#, "not a file name in the model folder"),
        (r#"{"weight_map": {"x": "sub/a.safetensors"}}"#, "not a file name in the model folder"),
        (r#"{"weight_map": {"x": ""}}"#, "not a file name in the model folder"),
        (r#"{"weight_map": {"x": 3}}"#, "weight_map gives 3 for tensor \"x\""),
        (r#"{"weight_map": {}}"#, "lists no files"),
        (r#"{"weight_map": []}"#, "no \"weight_map\" object"),
        ("[1, 2", "invalid JSON"),
    ] {
        let e = open(json).unwrap_err();
        assert!(e.starts_with(&format!("{}: ", index.display())) && e.contains(want), "{json}: {e}");
    }
    let e = open(r#"{"weight_map": {"x": "b.safetensors"}}"#).unwrap_err();
    assert!(e.contains(&dir.path().join("b.safetensors").display().to_string()), "{e}");
    std::fs::create_dir(dir.path().join("d.safetensors")).unwrap();
    let e = open(r#"{"weight_map": {"x": "d.safetensors"}}"#).unwrap_err();
    assert!(e.contains("d.safetensors"), "{e}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn safetensors_index_json_edits(edits in json_edits()) {
        let dir = scratch_dir();
        std::fs::write(dir.path().join("a.safetensors"), sample_safetensors()).unwrap();
        std::fs::write(dir.path().join("b.safetensors"), raw_safetensors(&[("b", "F32", vec![1], [0, 4])], &[0; 4])).unwrap();
        let mut v = json!({"metadata": {"total_size": 40}, "weight_map": {
            "model.embed_tokens.weight": "a.safetensors", "model.norm.weight": "a.safetensors", "b": "b.safetensors"}});
        apply_edits(&mut v, &edits);
        let index = dir.path().join("model.safetensors.index.json");
        std::fs::write(&index, serde_json::to_vec(&v).unwrap()).unwrap();
        match SafetensorsSource::open(dir.path()) {
            Ok(src) => {
                for n in src.names().map(str::to_string).collect::<Vec<_>>() {
                    let _ = src.tensor(&n);
                }
            }
            Err(e) => names(&e, dir.path())?,
        }
    }
}

// ---------------------------------------------------------------------------------------
// config.json

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/models")
}

/// Valid configurations of every architecture.
fn sample_configs() -> Vec<Json> {
    let qwen3: Json =
        serde_json::from_slice(&std::fs::read(fixtures().join("tiny-qwen3/config.json")).unwrap()).unwrap();
    vec![
        qwen3,
        json!({"model_type": "llama", "vocab_size": 10, "hidden_size": 8, "intermediate_size": 16, "num_hidden_layers": 2,
               "num_attention_heads": 2, "num_key_value_heads": 1, "rms_norm_eps": 1e-5, "rope_theta": 10000.0,
               "max_position_embeddings": 64, "tie_word_embeddings": true, "rope_scaling": null}),
        json!({"model_type": "qwen2", "vocab_size": 10, "hidden_size": 8, "intermediate_size": 8, "num_hidden_layers": 4,
               "num_attention_heads": 2, "num_key_value_heads": 1, "attention_bias": true}),
        json!({"model_type": "qwen3_moe", "vocab_size": 320, "hidden_size": 64, "intermediate_size": 96,
               "num_hidden_layers": 3, "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 16,
               "num_experts": 8, "num_experts_per_tok": 2, "moe_intermediate_size": 32, "norm_topk_prob": true,
               "mlp_only_layers": [1], "decoder_sparse_step": 1, "rope_parameters": {"rope_theta": 10000}}),
    ]
}

/// Reads `text` as `config.json`; an accepted configuration must give sizes the model can
/// multiply and allocate.
fn check_config(text: &[u8]) -> Result<bool, TestCaseError> {
    let dir = scratch_dir();
    let path = dir.path().join("config.json");
    std::fs::write(&path, text).unwrap();
    match ModelConfig::from_hf_json(&path) {
        Err(e) => {
            names(&e, &path)?;
            Ok(false)
        }
        Ok(c) => {
            prop_assert!(c.num_layers <= clinalign_infer::config::MAX_LAYERS);
            for dims in [
                vec![c.vocab_size, c.hidden_size],
                vec![c.num_heads, c.head_dim, c.hidden_size],
                vec![c.num_kv_heads, c.head_dim, c.hidden_size],
                vec![c.intermediate_size, c.hidden_size],
                vec![c.max_position_embeddings.max(1), c.head_dim / 2],
            ] {
                let n = dims.iter().try_fold(1usize, |n, &d| n.checked_mul(d));
                prop_assert!(n.is_some_and(|n| n <= isize::MAX as usize / 4), "{dims:?} of {c:?}");
            }
            let _ = (c.forward_flops(3, 1, 1), (0..c.num_layers).filter(|&i| c.is_moe_layer(i)).count());
            Ok(true)
        }
    }
}

#[test]
fn config_samples_are_valid() {
    for c in sample_configs() {
        assert!(check_config(&serde_json::to_vec(&c).unwrap()).unwrap(), "{c}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn config_json_edits(which in any::<Index>(), edits in json_edits()) {
        let configs = sample_configs();
        let mut c = configs[which.index(configs.len())].clone();
        apply_edits(&mut c, &edits);
        check_config(&serde_json::to_vec(&c).unwrap())?;
    }

    #[test]
    fn config_numbers_set_to_extremes(which in any::<Index>(), sets in prop::collection::vec((any::<Index>(), json_leaf()), 1..4)) {
        let configs = sample_configs();
        let mut c = configs[which.index(configs.len())].clone();
        for (k, v) in &sets {
            let keys: Vec<String> = c.as_object().unwrap().keys().cloned().collect();
            c[&keys[k.index(keys.len())]] = v.clone();
        }
        check_config(&serde_json::to_vec(&c).unwrap())?;
    }

    #[test]
    fn config_truncated_flipped_or_random(
        which in any::<Index>(),
        cut in any::<Index>(),
        flips in prop::collection::vec((any::<Index>(), 0..8u8), 0..4),
        random in prop::option::of(prop::collection::vec(any::<u8>(), 0..200)),
    ) {
        let configs = sample_configs();
        let mut b = match random {
            Some(r) => r,
            None => serde_json::to_vec_pretty(&configs[which.index(configs.len())]).unwrap(),
        };
        flip_bits(&mut b, &flips);
        if !flips.is_empty() {
            b.truncate(cut.index(b.len() + 1));
        }
        check_config(&b)?;
    }
}

#[test]
fn config_huge_sizes_are_rejected() {
    let base = sample_configs()[1].clone();
    for (key, value, want) in [
        ("num_hidden_layers", json!(1u64 << 40), "layers (num_hidden_layers) is more than"),
        ("num_hidden_layers", json!(u64::MAX), "layers (num_hidden_layers) is more than"),
        ("max_position_embeddings", json!(1u64 << 40), "rotary tables"),
        ("vocab_size", json!(1u64 << 62), "the embedding matrix would be too large: vocab_size 4611686018427387904"),
        ("intermediate_size", json!(u64::MAX), "the feed-forward projections would be too large"),
        ("head_dim", json!(1u64 << 62), "the query projection would be too large"),
        ("rope_theta", json!(0.0), "rope_theta 0 must be a positive finite number"),
        ("rope_theta", json!(-1.0), "rope_theta -1 must be"),
        ("rope_theta", json!(1e300), "rope_theta inf must be"),
        ("rms_norm_eps", json!(-1e-5), "rms_norm_eps -0.00001 must be"),
        ("num_hidden_layers", json!(-1), "\"num_hidden_layers\" (a whole number)"),
        ("hidden_size", json!(1.5), "\"hidden_size\" (a whole number)"),
    ] {
        let mut c = base.clone();
        c[key] = value;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        std::fs::write(&path, serde_json::to_vec(&c).unwrap()).unwrap();
        let e = ModelConfig::from_hf_json(&path).unwrap_err().to_string();
        assert!(e.starts_with(&format!("{}: ", path.display())) && e.contains(want), "{key} = {}: {e}", c[key]);
    }
    let moe = sample_configs()[3].clone();
    for (key, value, want) in [
        ("num_experts", json!(1u64 << 40), "experts is more than"),
        ("moe_intermediate_size", json!(1u64 << 60), "the experts would be too large"),
    ] {
        let mut c = moe.clone();
        c[key] = value;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        std::fs::write(&path, serde_json::to_vec(&c).unwrap()).unwrap();
        let e = ModelConfig::from_hf_json(&path).unwrap_err().to_string();
        assert!(e.contains(want), "{key}: {e}");
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.json");
    for text in ["[]", "3", "\"llama\"", "null"] {
        std::fs::write(&path, text).unwrap();
        let e = ModelConfig::from_hf_json(&path).unwrap_err().to_string();
        assert!(e.contains("not a JSON object"), "{text}: {e}");
    }
    std::fs::write(&path, b"{\"model_type\": \"llama\xff\"}").unwrap();
    let e = ModelConfig::from_hf_json(&path).unwrap_err().to_string();
    assert!(e.contains(&path.display().to_string()), "{e}");
}

/// The tiny Qwen3 fixture with a hostile `config.json`: the sizes that are only in the
/// configuration (layer count, context length) and sizes whose products overflow must be
/// errors, not a panic or an abort while the model is built.
#[test]
fn model_folder_with_hostile_config_fails_cleanly() {
    let src = fixtures().join("tiny-qwen3");
    let base: Json = serde_json::from_slice(&std::fs::read(src.join("config.json")).unwrap()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(src.join("model.safetensors"), dir.path().join("model.safetensors")).unwrap();
    let cfg = dir.path().join("config.json");
    for (key, value) in [
        ("num_hidden_layers", json!(1u64 << 40)),
        ("max_position_embeddings", json!(1u64 << 40)),
        ("num_attention_heads", json!(1u64 << 33)),
    ] {
        let mut c = base.clone();
        c[key] = value;
        if key == "num_attention_heads" {
            c["num_key_value_heads"] = json!(1u64 << 33);
            c["head_dim"] = json!(1u64 << 32);
        }
        std::fs::write(&cfg, serde_json::to_vec(&c).unwrap()).unwrap();
        let e = LocalModel::open(dir.path()).err().expect("a hostile config must be rejected").to_string();
        assert!(e.starts_with(&format!("{}: ", cfg.display())), "{key}: {e}");
    }
    std::fs::write(&cfg, serde_json::to_vec(&base).unwrap()).unwrap();
    assert!(LocalModel::open(dir.path()).is_ok());
}

// ---------------------------------------------------------------------------------------
// tokenizer.json and tokenizer_config.json

/// Small valid `tokenizer.json` files: byte-level BPE with added tokens and a template,
/// Unigram with Metaspace, WordPiece with the BERT normaliser.
fn sample_tokenizers() -> Vec<Json> {
    let added = |id: u32, content: &str| {
        json!({"id": id, "content": content, "single_word": false, "lstrip": false, "rstrip": false,
               "normalized": false, "special": true})
    };
    vec![
        json!({
            "version": "1.0", "truncation": null, "padding": null,
            "added_tokens": [added(0, "<s>"), added(1, "</s>")],
            "normalizer": {"type": "NFC"},
            "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true},
            "post_processor": {"type": "TemplateProcessing",
                "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
                "pair": [{"Sequence": {"id": "A", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}}],
                "special_tokens": {"<s>": {"id": "<s>", "ids": [0], "tokens": ["<s>"]}}},
            "decoder": {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true},
            "model": {"type": "BPE", "dropout": null, "unk_token": null, "continuing_subword_prefix": null,
                "end_of_word_suffix": null, "fuse_unk": false, "byte_fallback": false, "ignore_merges": false,
                "vocab": {"<s>": 0, "</s>": 1, "a": 2, "b": 3, "ab": 4, "Ġ": 5, "Ġab": 6, "1": 7, "2": 8, "12": 9, "Ċ": 10},
                "merges": ["a b", "Ġ ab", "1 2"]}
        }),
        json!({
            "version": "1.0", "truncation": {"direction": "Right", "max_length": 16, "strategy": "LongestFirst", "stride": 0},
            "padding": {"strategy": {"Fixed": 8}, "direction": "Right", "pad_to_multiple_of": null, "pad_id": 0,
                "pad_type_id": 0, "pad_token": "<pad>"},
            "added_tokens": [added(0, "<pad>")],
            "normalizer": null,
            "pre_tokenizer": {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always", "split": true},
            "post_processor": null,
            "decoder": {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always", "split": true},
            "model": {"type": "Unigram", "unk_id": 1, "byte_fallback": false,
                "vocab": [["<pad>", 0.0], ["<unk>", 0.0], ["▁a", -1.0], ["b", -2.0], ["▁", -3.0], ["a", -3.0], ["1", -4.0]]}
        }),
        json!({
            "version": "1.0", "truncation": null, "padding": null, "added_tokens": [added(0, "[UNK]")],
            "normalizer": {"type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true,
                "strip_accents": null, "lowercase": true},
            "pre_tokenizer": {"type": "BertPreTokenizer"},
            "post_processor": null,
            "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": true},
            "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                "max_input_chars_per_word": 100, "vocab": {"[UNK]": 0, "a": 1, "##b": 2, "ab": 3, "1": 4, "##2": 5}}
        }),
    ]
}

/// Reads `tokenizer` (and `config`, if any) as `tokenizer.json` and
/// `tokenizer_config.json`; nothing may panic and every error must name a file.
fn check_tokenizer(tokenizer: &[u8], config: Option<&[u8]>) -> Result<bool, TestCaseError> {
    let dir = scratch_dir();
    let tj = dir.path().join("tokenizer.json");
    std::fs::write(&tj, tokenizer).unwrap();
    let tc = dir.path().join("tokenizer_config.json");
    if let Some(c) = config {
        std::fs::write(&tc, c).unwrap();
    }
    match Tokenizer::from_files(&tj, config.map(|_| tc.as_path())) {
        Ok(t) => {
            exercise_tokenizer(&t);
            Ok(true)
        }
        Err(e) => {
            let s = e.to_string();
            prop_assert!(
                s.contains(&tj.display().to_string()) || s.contains(&tc.display().to_string()),
                "error names neither file: {s}"
            );
            Ok(false)
        }
    }
}

fn sample_tokenizer_config() -> Json {
    json!({"bos_token": "<s>", "eos_token": {"content": "</s>", "special": true}, "pad_token": null,
           "chat_template": [{"name": "tool_use", "template": "T"}, {"name": "default", "template": "{{ messages }}"}]})
}

#[test]
fn tokenizer_samples_are_valid() {
    for t in sample_tokenizers() {
        assert!(check_tokenizer(&serde_json::to_vec(&t).unwrap(), None).unwrap(), "{t}");
    }
    let bpe = serde_json::to_vec(&sample_tokenizers()[0]).unwrap();
    assert!(check_tokenizer(&bpe, Some(&serde_json::to_vec(&sample_tokenizer_config()).unwrap())).unwrap());
    let dir = tempfile::tempdir().unwrap();
    let tj = dir.path().join("tokenizer.json");
    std::fs::write(&tj, &bpe).unwrap();
    let t = Tokenizer::from_files(&tj, None).unwrap();
    assert_eq!(t.encode("ab ab", false).unwrap(), vec![4, 6]);
    assert_eq!(t.encode("ab", true).unwrap(), vec![0, 4]);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn tokenizer_json_edits(which in any::<Index>(), edits in json_edits()) {
        let samples = sample_tokenizers();
        let mut t = samples[which.index(samples.len())].clone();
        apply_edits(&mut t, &edits);
        check_tokenizer(&serde_json::to_vec(&t).unwrap(), None)?;
    }

    #[test]
    fn tokenizer_json_truncated_flipped_or_random(
        which in any::<Index>(),
        cut in prop::option::of(any::<Index>()),
        writes in prop::collection::vec((any::<Index>(), any::<u8>()), 0..4),
        random in prop::option::of(prop::collection::vec(any::<u8>(), 0..200)),
    ) {
        let samples = sample_tokenizers();
        let mut b = match random {
            Some(r) => r,
            None => serde_json::to_vec(&samples[which.index(samples.len())]).unwrap(),
        };
        overwrite(&mut b, &writes);
        if let Some(cut) = cut {
            b.truncate(cut.index(b.len() + 1));
        }
        check_tokenizer(&b, None)?;
    }

    #[test]
    fn tokenizer_config_json_edits(edits in json_edits(), cut in prop::option::of(any::<Index>())) {
        let mut c = sample_tokenizer_config();
        apply_edits(&mut c, &edits);
        let mut c = serde_json::to_vec(&c).unwrap();
        if let Some(cut) = cut {
            c.truncate(cut.index(c.len() + 1));
        }
        check_tokenizer(&serde_json::to_vec(&sample_tokenizers()[0]).unwrap(), Some(&c))?;
    }
}

proptest! {
    // The real SmolLM2 tokenizer.json (1.5 MB) takes a while to parse: a few cases only.
    #![proptest_config(ProptestConfig::with_cases(6))]

    #[test]
    fn real_tokenizer_json_truncated_or_flipped(cut in any::<Index>(), writes in byte_writes()) {
        let b = std::fs::read(fixtures().join("smollm2/tokenizer.json")).unwrap();
        let mut t = b.clone();
        t.truncate(cut.index(b.len() - 1)); // at least the final "}\n" goes
        prop_assert!(!check_tokenizer(&t, None)?, "a truncated tokenizer.json loads");
        let mut t = b;
        overwrite(&mut t, &writes);
        check_tokenizer(&t, None)?;
    }
}

#[test]
fn tokenizer_json_huge_padding_is_rejected() {
    for padding in [
        json!({"strategy": {"Fixed": 1u64 << 60}, "direction": "Right", "pad_to_multiple_of": null, "pad_id": 0,
               "pad_type_id": 0, "pad_token": "<s>"}),
        json!({"strategy": "BatchLongest", "direction": "Left", "pad_to_multiple_of": u64::MAX, "pad_id": 0,
               "pad_type_id": 0, "pad_token": "<s>"}),
    ] {
        let mut t = sample_tokenizers()[0].clone();
        t["padding"] = padding;
        let dir = tempfile::tempdir().unwrap();
        let tj = dir.path().join("tokenizer.json");
        std::fs::write(&tj, serde_json::to_vec(&t).unwrap()).unwrap();
        let e = Tokenizer::from_files(&tj, None).expect_err("huge padding must be rejected").to_string();
        assert!(e.starts_with(&format!("{}: ", tj.display())) && e.contains("padding"), "{e}");
    }
}

/// Files on which `tokenizers` itself panics (reading them, or encoding with them) must be
/// errors that name the file.
#[test]
fn tokenizer_json_that_would_panic_tokenizers_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let tj = dir.path().join("tokenizer.json");
    let err = |bytes: &[u8]| {
        std::fs::write(&tj, bytes).unwrap();
        let e = Tokenizer::from_files(&tj, None).expect_err("must be rejected").to_string();
        assert!(e.starts_with(&format!("{}: not a usable tokenizer.json: ", tj.display())), "{e}");
        e
    };
    // cut inside the decoder: `tokenizers` unwraps the decoder's parse error
    let text = serde_json::to_string(&sample_tokenizers()[0]).unwrap();
    let at = text.find("\"decoder\":{").unwrap() + 15;
    err(&text.as_bytes()[..at]);
    // templates that name a special token they do not define, or use sequence B alone
    let mut t = sample_tokenizers()[0].clone();
    t["post_processor"]["special_tokens"] = json!({});
    let e = err(&serde_json::to_vec(&t).unwrap());
    assert!(
        e.contains("post_processor: the single template uses special token \"<s>\", which it does not define"),
        "{e}"
    );
    let mut t = sample_tokenizers()[0].clone();
    t["post_processor"]["single"][1] = json!({"Sequence": {"id": "B", "type_id": 0}});
    assert!(err(&serde_json::to_vec(&t).unwrap()).contains("sequence B"));
    let mut t = sample_tokenizers()[0].clone();
    t["post_processor"]["special_tokens"]["<s>"]["tokens"] = json!([]);
    assert!(err(&serde_json::to_vec(&t).unwrap()).contains("has 1 ids but 0 tokens"));
    // inside a sequence of post-processors too
    let mut t = sample_tokenizers()[0].clone();
    let mut template = t["post_processor"].clone();
    template["special_tokens"] = json!({});
    t["post_processor"] = json!({"type": "Sequence", "processors": [{"type": "ByteLevel", "add_prefix_space": false,
        "trim_offsets": true, "use_regex": true}, template]});
    assert!(err(&serde_json::to_vec(&t).unwrap()).contains("does not define"));
}

/// A BPE decoder (which `tokenizers` cannot run on nothing) and nothing to decode.
#[test]
fn tokenizer_decodes_nothing() {
    let mut t = sample_tokenizers()[0].clone();
    t["decoder"] = json!({"type": "BPEDecoder", "suffix": "</w>"});
    let dir = tempfile::tempdir().unwrap();
    let tj = dir.path().join("tokenizer.json");
    std::fs::write(&tj, serde_json::to_vec(&t).unwrap()).unwrap();
    let t = Tokenizer::from_files(&tj, None).unwrap();
    assert_eq!(t.decode(&[], false).unwrap(), "");
    assert_eq!(t.decode(&[0, 1], true).unwrap(), "");
    assert_eq!(t.decode(&[0, 4], true).unwrap(), "ab");
}

/// A GGUF BOS token spelt like a template variable (`$B`: the second input) must be an
/// error, not a tokenizer whose encoding panics.
#[test]
fn gguf_bos_token_spelt_like_a_template_variable_is_rejected() {
    let mut kv = tokenizer_kv("gpt2");
    kv[2].1 = strs(&["$B", "a", "b", "ab", "Ġ", "Ġab", "1", "2", "12", "Ċ"]);
    let path = Path::new("dollar.gguf");
    let g = Gguf::from_bytes(path, gguf_image(&kv, &[]).bytes).unwrap();
    let e = Tokenizer::from_gguf(&g).unwrap_err().to_string();
    assert!(e.starts_with("dollar.gguf: ") && e.contains("\"$B\" starts with '$'"), "{e}");
}
