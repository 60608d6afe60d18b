//! A local model ready to use: weights, tokenizer and chat template, opened from a
//! Hugging Face folder (`config.json`, safetensors, `tokenizer.json`) or a GGUF file.

use std::path::{Path, PathBuf};

use clinalign_core::ModelError;

use crate::chat::{ChatTemplate, Turn};
use crate::config::ModelConfig;
use crate::error::{Error, Result};
use crate::generate::{Sampling, generate};
use crate::gguf::Gguf;
use crate::model::{KvCache, LogitsFor, Model, Step};
use crate::qmatmul::{Q4Matrix, QK};
use crate::quant::GgmlType;
use crate::tokenizer::Tokenizer;
use crate::weights::{Matrix, Proj, SafetensorsSource, WeightSource};

/// How a GGUF model's quantised weights are used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Precision {
    /// 4-bit layers (`Q4_0`, `Q4_1`) stay 4-bit (a quarter of the memory) and run with 8-bit
    /// activations, as llama.cpp does; other types are dequantised to f32. Logits differ
    /// from the f32 reference by the activations' rounding (mean KL 3e-3 on SmolLM2), and
    /// because that rounding is discontinuous, a shared-prefix judge and a full-prompt judge
    /// can differ by a few hundredths of p_met.
    Native,
    /// Every weight dequantised to f32 at load (the default): the reference numerics (what
    /// transformers computes from the same GGUF), deterministic whatever the batching.
    #[default]
    F32,
}

impl std::str::FromStr for Precision {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Precision, String> {
        match s {
            "native" => Ok(Precision::Native),
            "f32" => Ok(Precision::F32),
            other => Err(format!("unknown precision {other:?} (native, f32)")),
        }
    }
}

/// End-of-turn tokens of the common chat formats (ChatML, Llama 3, Phi-3, Gemma).
const END_OF_TURN: [&str; 4] = ["<|im_end|>", "<|eot_id|>", "<|end|>", "<end_of_turn>"];

/// A document from [`LocalModel::json_after`].
#[derive(Debug, Clone, PartialEq)]
pub struct JsonDocument {
    pub text: String,
    /// Tokens generated, the end-of-sequence token included.
    pub generated: usize,
    /// The document is complete (it may be cut short by the token budget or a cancel).
    pub complete: bool,
}

/// A model with its tokenizer and chat template.
pub struct LocalModel {
    name: String,
    path: PathBuf,
    model: Model,
    tokenizer: Option<Tokenizer>,
    template: Option<ChatTemplate>,
    /// The vocabulary prepared for JSON-constrained generation, on first use.
    json: std::sync::OnceLock<std::result::Result<crate::structured::JsonGrammars, String>>,
}

impl LocalModel {
    /// Opens a GGUF file or a Hugging Face model folder, in f32 ([`Precision::F32`]).
    pub fn open(path: &Path) -> Result<LocalModel> {
        Self::open_with(path, Precision::F32)
    }

    /// Opens a model with the given use of quantised weights (safetensors folders are f32
    /// either way).
    pub fn open_with(path: &Path, precision: Precision) -> Result<LocalModel> {
        let name =
            path.file_name().map(|f| f.to_string_lossy().to_string()).unwrap_or_else(|| path.display().to_string());
        let (model, tokenizer) = Self::read_weights(path, precision, |cfg, src, gguf| {
            let model = Model::from_source(cfg.clone(), src)?;
            let tokenizer = match gguf {
                Some(g) => Some(Tokenizer::from_gguf(g)?),
                None => {
                    let tj = path.join("tokenizer.json");
                    if tj.is_file() {
                        let tc = path.join("tokenizer_config.json");
                        Some(Tokenizer::from_files(&tj, tc.is_file().then_some(tc.as_path()))?)
                    } else {
                        None
                    }
                }
            };
            Ok((model, tokenizer))
        })?;
        Self::assemble(name, path, model, tokenizer)
    }

    /// Runs `f` on a model's configuration and weights, read from a GGUF file (dequantised
    /// to f32) or a Hugging Face folder, without building the CPU model: what another
    /// backend loads its own copy from.
    pub fn with_weights<R>(path: &Path, f: impl FnOnce(&ModelConfig, &dyn WeightSource) -> Result<R>) -> Result<R> {
        Self::read_weights(path, Precision::F32, |cfg, src, _| f(cfg, src))
    }

    /// `f` on the configuration and weights of the model at `path`, and on its GGUF file
    /// when it is one (which also holds the tokenizer).
    fn read_weights<R>(
        path: &Path,
        precision: Precision,
        f: impl FnOnce(&ModelConfig, &dyn WeightSource, Option<&Gguf>) -> Result<R>,
    ) -> Result<R> {
        if path.is_dir() {
            let cfg = ModelConfig::from_hf_json(&path.join("config.json"))?;
            f(&cfg, &SafetensorsSource::open(path)?, None)
        } else if path.is_file() {
            let g = Gguf::open(path)?;
            let cfg = ModelConfig::from_gguf(&g, path)?;
            let src = GgufSource { g: &g, cfg: &cfg, path, precision, stacks: Default::default() };
            f(&cfg, &src, Some(&g))
        } else {
            Err(Error::io(path, std::io::Error::new(std::io::ErrorKind::NotFound, "no such model file or folder")))
        }
    }

    fn assemble(name: String, path: &Path, model: Model, tokenizer: Option<Tokenizer>) -> Result<LocalModel> {
        let template = match &tokenizer {
            Some(t) => match t.chat_template() {
                Some(src) => {
                    let token = |id: Option<u32>| id.and_then(|i| t.id_to_token(i)).unwrap_or_default();
                    Some(ChatTemplate::new(src, &token(t.bos_id()), &token(t.eos_id()))?)
                }
                None => None,
            },
            None => None,
        };
        Ok(LocalModel { name, path: path.to_path_buf(), model, tokenizer, template, json: Default::default() })
    }

    /// The model's name: its file or folder name.
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn model(&self) -> &Model {
        &self.model
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The tokenizer; models opened without one cannot take text.
    pub fn tokenizer(&self) -> Result<&Tokenizer> {
        self.tokenizer.as_ref().ok_or_else(|| {
            Error::Invalid(format!("{} has no tokenizer (tokenizer.json or GGUF tokenizer metadata)", self.name))
        })
    }

    /// The model's chat template, when its tokenizer has one.
    pub fn chat_template(&self) -> Option<&ChatTemplate> {
        self.template.as_ref()
    }

    /// `text` as a user turn followed by the assistant's turn, in the model's chat format
    /// (the text as is when the model has no chat template).
    pub fn user_prompt(&self, text: &str) -> Result<String> {
        match &self.template {
            Some(t) => t.render(&[Turn { role: "user", content: text }], true),
            None => Ok(text.to_string()),
        }
    }

    /// A conversation in the model's chat format, ready for the assistant's reply.
    pub fn chat_prompt(&self, turns: &[Turn<'_>]) -> Result<String> {
        self.chat_prompt_with(turns, &serde_json::Map::new())
    }

    /// [`LocalModel::chat_prompt`] with extra variables for the chat template (see
    /// [`ChatTemplate::render_with`]); without a template they are ignored.
    pub fn chat_prompt_with(
        &self,
        turns: &[Turn<'_>],
        template_vars: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<String> {
        match &self.template {
            Some(t) => t.render_with(turns, true, template_vars),
            None => Ok(turns.iter().map(|t| format!("{}: {}\n", t.role, t.content)).collect::<String>() + "assistant:"),
        }
    }

    /// The tokens that end a reply: the tokenizer's end-of-sequence token, and the
    /// end-of-turn tokens of the common chat formats that are special tokens of this
    /// vocabulary (`<|im_end|>`, `<|eot_id|>`, `<|end|>`, `<end_of_turn>`), for models whose
    /// end-of-sequence token is another one.
    pub fn stop_tokens(&self) -> Result<Vec<u32>> {
        let tok = self.tokenizer()?;
        let mut stop: Vec<u32> = tok.eos_id().into_iter().collect();
        for name in END_OF_TURN {
            if let Some(id) = tok.token_to_id(name).filter(|id| tok.is_special(*id) && !stop.contains(id)) {
                stop.push(id);
            }
        }
        Ok(stop)
    }

    /// Generates a reply to a prompt already in chat format; decoding stops at the end of the
    /// turn ([`LocalModel::stop_tokens`]).
    pub fn complete(&self, prompt: &str, sampling: &Sampling) -> Result<String> {
        let tok = self.tokenizer()?;
        let ids = tok.encode(prompt, false)?;
        let mut s = sampling.clone();
        s.stop.extend(self.stop_tokens()?);
        let out = generate(&self.model, &ids, &s)?;
        let body: Vec<u32> = out.into_iter().filter(|t| !s.stop.contains(t)).collect();
        tok.decode(&body, true)
    }

    /// A JSON document matching `schema` (JSON Schema text) after the user turn `prompt`,
    /// greedily generated under llguidance's token mask (see [`crate::structured`]): the
    /// text always parses. Fails when the document is not complete within `max_tokens`.
    pub fn complete_json(&self, prompt: &str, schema: &str, max_tokens: usize) -> Result<String> {
        let tok = self.tokenizer()?;
        let ids = tok.encode(&self.user_prompt(&format!("{prompt}\n\nAnswer in JSON."))?, false)?;
        let doc = self.json_after(&ids, schema, max_tokens, &std::sync::atomic::AtomicBool::new(false))?;
        if !doc.complete {
            return Err(Error::Invalid(format!(
                "the JSON document was not complete within {max_tokens} tokens; allow more tokens or ask for less"
            )));
        }
        Ok(doc.text)
    }

    /// A JSON document matching `schema` after the prompt tokens `ids` (already in the
    /// model's chat format), greedy under llguidance's mask; generation stops at the end of
    /// the document, after `max_tokens`, or once `cancelled` is set (then the text so far).
    pub fn json_after(
        &self,
        ids: &[u32],
        schema: &str,
        max_tokens: usize,
        cancelled: &std::sync::atomic::AtomicBool,
    ) -> Result<JsonDocument> {
        let tok = self.tokenizer()?;
        let grammars = self
            .json
            .get_or_init(|| crate::structured::JsonGrammars::new(tok).map_err(|e| e.to_string()))
            .as_ref()
            .map_err(|e| Error::Unsupported(format!("JSON-constrained generation: {e}")))?;
        let mut matcher = grammars.matcher(schema)?;
        let cell = std::cell::RefCell::new(&mut matcher);
        let out = crate::generate::generate_masked(
            &self.model,
            ids,
            max_tokens,
            |row| crate::structured::mask(&mut cell.borrow_mut(), row),
            |t| {
                if cancelled.load(std::sync::atomic::Ordering::Relaxed) {
                    return Ok(std::ops::ControlFlow::Break(()));
                }
                crate::structured::advance(&mut cell.borrow_mut(), t)
            },
        )?;
        let complete = matcher.is_stopped() || matcher.is_accepting().unwrap_or(false);
        let generated = out.len();
        let body: Vec<u32> = out.into_iter().filter(|t| Some(*t) != tok.eos_id() && !tok.is_special(*t)).collect();
        Ok(JsonDocument { text: tok.decode(&body, true)?, generated, complete })
    }

    /// Sum of log-probabilities of each option's tokens following `prompt`.
    pub fn option_logprobs(&self, prompt: &str, options: &[String]) -> Result<Vec<f32>> {
        let tok = self.tokenizer()?;
        let p = tok.encode(prompt, false)?;
        if p.is_empty() {
            return Err(Error::Invalid("empty prompt".into()));
        }
        let mut prefix = KvCache::new(&self.model.cfg);
        // The prompt's last token is run with each option so its logits predict the option's
        // first token.
        if p.len() > 1 {
            self.model.forward(
                &mut [Step { tokens: &p[..p.len() - 1], cache: &mut prefix, prefix: None }],
                LogitsFor::None,
            )?;
        }
        options
            .iter()
            .map(|o| {
                let ids = tok.encode(o, false)?;
                if ids.is_empty() {
                    return Ok(0.0);
                }
                let mut tokens = vec![p[p.len() - 1]];
                tokens.extend(&ids[..ids.len() - 1]);
                let mut cache = KvCache::new(&self.model.cfg);
                let logits = self.model.forward(
                    &mut [Step { tokens: &tokens, cache: &mut cache, prefix: Some(&prefix) }],
                    LogitsFor::All,
                )?;
                Ok(ids.iter().zip(logits.step(0).rows()).map(|(id, row)| Model::log_probs(row, &[*id])[0]).sum())
            })
            .collect()
    }
}

impl clinalign_core::LanguageModel for LocalModel {
    fn name(&self) -> &str {
        &self.name
    }

    fn generate(&self, prompt: &str, max_tokens: u32) -> std::result::Result<String, ModelError> {
        let p = self.user_prompt(prompt)?;
        Ok(self.complete(&p, &Sampling { max_tokens: max_tokens as usize, ..Default::default() })?)
    }

    fn score_options(&self, prompt: &str, options: &[String]) -> std::result::Result<Vec<f32>, ModelError> {
        Ok(self.option_logprobs(prompt, options)?)
    }

    fn generate_json(
        &self,
        prompt: &str,
        json_schema: &str,
        max_tokens: u32,
    ) -> std::result::Result<String, ModelError> {
        Ok(self.complete_json(prompt, json_schema, max_tokens as usize)?)
    }
}

/// Weights from a GGUF file, under Hugging Face names and layouts.
struct GgufSource<'g> {
    g: &'g Gguf,
    cfg: &'g ModelConfig,
    path: &'g Path,
    precision: Precision,
    /// Dequantized 3-D expert tensors, so each is dequantized once, not once per expert.
    stacks: std::cell::RefCell<std::collections::HashMap<String, std::rc::Rc<Vec<f32>>>>,
}

impl GgufSource<'_> {
    /// A 2-D 4-bit tensor of the expected shape, kept 4-bit when the precision allows.
    fn q4(&self, info: &crate::gguf::TensorInfo, rows: usize, cols: usize) -> Result<Option<Q4Matrix>> {
        if self.precision != Precision::Native
            || !matches!(info.dtype, GgmlType::Q4_0 | GgmlType::Q4_1)
            || !cols.is_multiple_of(2 * QK)
        {
            return Ok(None);
        }
        if info.shape != [cols, rows] {
            return Err(Error::format(
                self.path,
                format!("tensor {} has ggml shape {:?}, expected [{cols}, {rows}]", info.name, info.shape),
            ));
        }
        Q4Matrix::from_ggml(info.dtype, self.g.data(info), rows, cols)
            .map(Some)
            .map_err(|m| Error::format(self.path, format!("{}: {m}", info.name)))
    }
}

/// The GGUF name of a Hugging Face tensor name.
fn gguf_name(hf: &str) -> Option<String> {
    let fixed = match hf {
        "model.embed_tokens.weight" => Some("token_embd.weight"),
        "model.norm.weight" => Some("output_norm.weight"),
        "lm_head.weight" => Some("output.weight"),
        _ => None,
    };
    if let Some(f) = fixed {
        return Some(f.to_string());
    }
    let rest = hf.strip_prefix("model.layers.")?;
    let (layer, tail) = rest.split_once('.')?;
    let mapped = match tail {
        "input_layernorm.weight" => "attn_norm.weight",
        "post_attention_layernorm.weight" => "ffn_norm.weight",
        "self_attn.q_proj.weight" => "attn_q.weight",
        "self_attn.k_proj.weight" => "attn_k.weight",
        "self_attn.v_proj.weight" => "attn_v.weight",
        "self_attn.o_proj.weight" => "attn_output.weight",
        "self_attn.q_proj.bias" => "attn_q.bias",
        "self_attn.k_proj.bias" => "attn_k.bias",
        "self_attn.v_proj.bias" => "attn_v.bias",
        "self_attn.q_norm.weight" => "attn_q_norm.weight",
        "self_attn.k_norm.weight" => "attn_k_norm.weight",
        "mlp.gate_proj.weight" => "ffn_gate.weight",
        "mlp.up_proj.weight" => "ffn_up.weight",
        "mlp.down_proj.weight" => "ffn_down.weight",
        "mlp.gate.weight" => "ffn_gate_inp.weight",
        _ => return None,
    };
    Some(format!("blk.{layer}.{mapped}"))
}

impl WeightSource for GgufSource<'_> {
    fn origin(&self) -> &Path {
        self.path
    }

    fn tensor(&self, name: &str) -> Result<Option<(Vec<usize>, Vec<f32>)>> {
        let Some(gname) = gguf_name(name) else { return Ok(None) };
        let Some(info) = self.g.tensor(&gname) else { return Ok(None) };
        // ggml lists dimensions fastest first; Hugging Face slowest first.
        let shape: Vec<usize> = info.shape.iter().rev().copied().collect();
        Ok(Some((shape, self.g.dequantize(info)?)))
    }

    fn matrix(&self, name: &str, rows: usize, cols: usize) -> Result<Matrix> {
        if let Some(info) = gguf_name(name).and_then(|g| self.g.tensor(&g))
            && let Some(q) = self.q4(info, rows, cols)?
        {
            return Ok(Matrix::q4(q));
        }
        Ok(Matrix::f32(rows, cols, self.require(name, &[rows, cols])?))
    }

    fn expert(&self, layer: usize, e: usize, proj: Proj) -> Result<Option<Matrix>> {
        let kind = match proj {
            Proj::Gate => "gate",
            Proj::Up => "up",
            Proj::Down => "down",
        };
        let name = format!("blk.{layer}.ffn_{kind}_exps.weight");
        let Some(info) = self.g.tensor(&name) else { return Ok(None) };
        if info.shape.len() != 3 || e >= info.shape[2] || self.cfg.moe.is_none() {
            return Err(Error::format(self.path, format!("tensor {name} has shape {:?}; no expert {e}", info.shape)));
        }
        let (cols, rows) = (info.shape[0], info.shape[1]);
        if matches!(info.dtype, GgmlType::Q4_0 | GgmlType::Q4_1)
            && self.precision == Precision::Native
            && cols.is_multiple_of(2 * QK)
        {
            let per = rows * cols / QK * info.dtype.type_size();
            let bytes = &self.g.data(info)[e * per..(e + 1) * per];
            let q = Q4Matrix::from_ggml(info.dtype, bytes, rows, cols)
                .map_err(|m| Error::format(self.path, format!("{name}: {m}")))?;
            return Ok(Some(Matrix::q4(q)));
        }
        let cached = self.stacks.borrow().get(&name).cloned();
        let all = match cached {
            Some(a) => a,
            None => {
                let a = std::rc::Rc::new(self.g.dequantize(info)?);
                self.stacks.borrow_mut().insert(name.clone(), a.clone());
                a
            }
        };
        Ok(Some(Matrix::f32(rows, cols, all[e * rows * cols..(e + 1) * rows * cols].to_vec())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_hugging_face_names_to_gguf_names() {
        assert_eq!(gguf_name("model.embed_tokens.weight").as_deref(), Some("token_embd.weight"));
        assert_eq!(gguf_name("model.layers.7.self_attn.o_proj.weight").as_deref(), Some("blk.7.attn_output.weight"));
        assert_eq!(gguf_name("model.layers.0.mlp.gate.weight").as_deref(), Some("blk.0.ffn_gate_inp.weight"));
        assert_eq!(gguf_name("model.layers.0.self_attn.k_norm.weight").as_deref(), Some("blk.0.attn_k_norm.weight"));
        assert_eq!(gguf_name("model.layers.x"), None);
        assert_eq!(gguf_name("something.else"), None);
    }
}
