//! `clinalign lm …`: run a model directly (forward pass, generation).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use clinalign_infer::generate::Sampling;
use clinalign_infer::local::{LocalModel, Precision};
use clinalign_infer::model::{KvCache, Logits, Step};

#[derive(Subcommand, Debug)]
pub enum LmCommand {
    /// Logits of every position of a token sequence, written as safetensors
    /// (`logits`: f32 [tokens, vocab]).
    Forward {
        /// A GGUF file or a Hugging Face model folder.
        #[arg(long)]
        model: PathBuf,
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
        #[arg(long)]
        model: PathBuf,
        #[arg(long)]
        prompt: String,
        #[arg(long, default_value_t = 128)]
        max_tokens: usize,
        /// 0 is greedy.
        #[arg(long, default_value_t = 0.0)]
        temperature: f32,
        #[arg(long, default_value_t = 1.0)]
        top_p: f32,
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
        #[arg(long)]
        model: PathBuf,
    },
}

pub fn run(cmd: LmCommand) -> Result<ExitCode> {
    match cmd {
        LmCommand::Forward { model, tokens, out, precision } => {
            let lm =
                LocalModel::open_with(&model, precision).with_context(|| format!("loading {}", model.display()))?;
            let text =
                std::fs::read_to_string(&tokens).with_context(|| format!("{}: cannot read", tokens.display()))?;
            let ids: Vec<u32> = serde_json::from_str(&text)
                .with_context(|| format!("{}: expected a JSON list of token ids", tokens.display()))?;
            if ids.is_empty() {
                bail!("{}: no tokens", tokens.display());
            }
            let m = lm.model();
            let mut cache = KvCache::new(&m.cfg);
            let logits = m.forward(&mut [Step { tokens: &ids, cache: &mut cache, prefix: None }], Logits::All)?;
            let rows = &logits[0];
            let vocab = m.cfg.vocab_size;
            let mut bytes = Vec::with_capacity(rows.len() * vocab * 4);
            for r in rows {
                for v in r {
                    bytes.extend_from_slice(&v.to_le_bytes());
                }
            }
            let view = safetensors::tensor::TensorView::new(safetensors::Dtype::F32, vec![rows.len(), vocab], &bytes)
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let data = safetensors::serialize([("logits", view)], None).map_err(|e| anyhow::anyhow!("{e}"))?;
            clinalign::util::write_atomic(&out, &data)?;
            println!("wrote {} ({} tokens × {} vocabulary)", out.display(), rows.len(), vocab);
        }
        LmCommand::Generate { model, prompt, max_tokens, temperature, top_p, seed, raw, precision } => {
            let lm =
                LocalModel::open_with(&model, precision).with_context(|| format!("loading {}", model.display()))?;
            let text = if raw { prompt } else { lm.user_prompt(&prompt)? };
            let s = Sampling { temperature, top_p, seed, max_tokens, stop: Vec::new() };
            println!("{}", lm.complete(&text, &s)?);
        }
        LmCommand::Info { model } => {
            let lm = LocalModel::open(&model).with_context(|| format!("loading {}", model.display()))?;
            let c = &lm.model().cfg;
            println!(
                "architecture {:?}: {} layers, hidden {}, heads {} (kv {}), head_dim {}, vocab {}",
                c.arch, c.num_layers, c.hidden_size, c.num_heads, c.num_kv_heads, c.head_dim, c.vocab_size
            );
            println!(
                "rope θ {} ({:?}), rms eps {}, tied embeddings {}",
                c.rope_theta, c.rope_style, c.rms_norm_eps, c.tie_word_embeddings
            );
            if let Some(m) = &c.moe {
                println!(
                    "experts {} (top {}), expert size {}, normalised top-k {}",
                    m.num_experts, m.top_k, m.expert_intermediate_size, m.norm_topk_prob
                );
            }
            match lm.tokenizer() {
                Ok(t) => println!(
                    "tokenizer: {} tokens, bos {:?}, eos {:?}, chat template {}",
                    t.vocab_size(),
                    t.bos_id(),
                    t.eos_id(),
                    if t.chat_template().is_some() { "yes" } else { "no" }
                ),
                Err(_) => println!("tokenizer: none"),
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
