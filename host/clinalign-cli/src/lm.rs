//! `clinalign lm …`: run a model directly (forward pass, generation).

use std::path::PathBuf;

use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use clinalign_infer::config::RopeStyle;
use clinalign_infer::generate::Sampling;
use clinalign_infer::local::{LocalModel, Precision};
use clinalign_infer::model::{KvCache, LogitsFor, Step};

#[derive(Subcommand, Debug)]
pub enum LmCommand {
    /// Logits of every position of a token sequence, written as safetensors
    /// (`logits`: f32 [tokens, vocab]).
    Forward {
        /// A GGUF file, a Hugging Face model folder, or a known model's name (`smollm2`).
        #[arg(long)]
        model: String,
        /// JSON file with a list of token ids.
        #[arg(long, value_name = "IDS.json")]
        tokens: PathBuf,
        #[arg(long, value_name = "LOGITS.safetensors")]
        out: PathBuf,
        /// `f32`: every weight dequantised (reference numerics); `native`: 4-bit layers stay
        /// 4-bit with 8-bit activations (as llama.cpp).
        #[arg(long, default_value = "f32")]
        precision: Precision,
    },
    /// Generate a reply to a prompt (sent as a user turn in the model's chat format).
    Generate {
        /// A GGUF file, a Hugging Face model folder, or a known model's name (`smollm2`).
        #[arg(long)]
        model: String,
        /// The user's message.
        #[arg(long)]
        prompt: String,
        /// Most tokens to generate.
        #[arg(long, default_value_t = 128)]
        max_tokens: usize,
        /// Sampling temperature; 0 is greedy.
        #[arg(long, default_value_t = 0.0)]
        temperature: f32,
        /// Nucleus sampling: keep the most likely tokens up to this probability mass.
        #[arg(long, default_value_t = 1.0)]
        top_p: f32,
        /// Seed of the sampler (with a temperature above 0).
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Send the prompt as is, without the chat template.
        #[arg(long)]
        raw: bool,
        /// `f32` or `native` (see `lm forward --help`).
        #[arg(long, default_value = "f32")]
        precision: Precision,
    },
    /// Describe a model: architecture, sizes, tokenizer.
    Info {
        /// A GGUF file, a Hugging Face model folder, or a known model's name (`smollm2`).
        #[arg(long)]
        model: String,
    },
}

pub fn run(cmd: LmCommand) -> Result<ExitCode> {
    match cmd {
        LmCommand::Forward { model, tokens, out, precision } => {
            let lm = open(&model, precision)?;
            let text =
                std::fs::read_to_string(&tokens).with_context(|| format!("{}: cannot read", tokens.display()))?;
            let ids: Vec<u32> = serde_json::from_str(&text)
                .with_context(|| format!("{}: expected a JSON list of token ids", tokens.display()))?;
            if ids.is_empty() {
                bail!("{}: no tokens", tokens.display());
            }
            let m = lm.model();
            let mut cache = KvCache::new(&m.cfg);
            let logits = m.forward(&mut [Step { tokens: &ids, cache: &mut cache, prefix: None }], LogitsFor::All)?;
            let rows = logits.step(0);
            let vocab = m.cfg.vocab_size;
            let mut bytes = Vec::with_capacity(rows.len() * vocab * 4);
            for v in rows.as_slice() {
                bytes.extend_from_slice(&v.to_le_bytes());
            }
            let view = safetensors::tensor::TensorView::new(safetensors::Dtype::F32, vec![rows.len(), vocab], &bytes)
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let data = safetensors::serialize([("logits", view)], None).map_err(|e| anyhow::anyhow!("{e}"))?;
            clinalign::files::write_atomic(&out, &data)?;
            println!("wrote {} ({} tokens × {} vocabulary)", out.display(), rows.len(), vocab);
        }
        LmCommand::Generate { model, prompt, max_tokens, temperature, top_p, seed, raw, precision } => {
            let lm = open(&model, precision)?;
            let text = if raw { prompt } else { lm.user_prompt(&prompt)? };
            let s = Sampling { temperature, top_p, seed, max_tokens, stop: Vec::new() };
            println!("{}", lm.complete(&text, &s)?);
        }
        LmCommand::Info { model } => info(&open(&model, Precision::F32)?),
    }
    Ok(ExitCode::SUCCESS)
}

/// Opens a model by path or known name.
fn open(model: &str, precision: Precision) -> Result<LocalModel> {
    let path = crate::models::resolve_local(model)?;
    LocalModel::open_with(&path, precision).with_context(|| format!("loading {}", path.display()))
}

/// `lm info`: what the model is, in words.
fn info(lm: &LocalModel) {
    let c = &lm.model().cfg;
    let yes_no = |b: bool| if b { "yes" } else { "no" };
    println!("model: {}", lm.path().display());
    match crate::device::backend() {
        Ok(b) => println!("backend: {} ({})", b.name, b.why),
        Err(e) => println!("backend: {e}"),
    }
    println!(
        "architecture {:?}: {} layers, hidden size {}, {} attention heads ({} key/value heads), head size {}, vocabulary {}",
        c.arch, c.num_layers, c.hidden_size, c.num_heads, c.num_kv_heads, c.head_dim, c.vocab_size
    );
    println!(
        "rotary embeddings: θ = {} ({} layout); RMSNorm ε = {}; tied input/output embeddings: {}",
        c.rope_theta,
        match c.rope_style {
            RopeStyle::Half => "rotate-half",
            RopeStyle::Interleaved => "interleaved",
        },
        c.rms_norm_eps,
        yes_no(c.tie_word_embeddings)
    );
    if let Some(m) = &c.moe {
        println!(
            "mixture of experts: {} experts, top {} per token, expert size {}, top-k weights renormalised: {}",
            m.num_experts,
            m.top_k,
            m.expert_intermediate_size,
            yes_no(m.norm_topk_prob)
        );
    }
    match lm.tokenizer() {
        Ok(t) => {
            let token = |id: Option<u32>| match id {
                Some(i) => format!("{} (id {i})", t.id_to_token(i).unwrap_or_else(|| "?".into())),
                None => "none".to_string(),
            };
            println!(
                "tokenizer: {} tokens; beginning of text {}; end of text {}; chat template: {}",
                t.vocab_size(),
                token(t.bos_id()),
                token(t.eos_id()),
                yes_no(t.chat_template().is_some())
            );
        }
        Err(_) => println!("tokenizer: none (the model cannot take text)"),
    }
}
