//! Weights: linear layers and where their tensors come from (safetensors or GGUF).
//!
//! Every tensor is asked for by its Hugging Face name (`model.layers.3.self_attn.q_proj.weight`)
//! in Hugging Face layout (`[out_features, in_features]`, row-major); each source maps that to
//! its own files. Experts are asked for separately because checkpoints store them three ways:
//! one tensor per expert (published Qwen3-MoE checkpoints), fused `gate_up_proj`/`down_proj`
//! stacks (transformers 5), or 3-D GGUF tensors.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use memmap2::Mmap;
use safetensors::tensor::{Dtype, Metadata};

use crate::error::{Error, Result};
use crate::ops::matmul_wt;
use crate::qmatmul::{Q4Matrix, QActs};

/// How a matrix's weights are held.
#[derive(Debug, Clone)]
pub enum Store {
    /// Row-major f32 (products through `gemm`).
    F32(Vec<f32>),
    /// 4-bit blocks as stored in GGUF (products with 8-bit activations, see [`crate::qmatmul`]).
    Q4(Q4Matrix),
}

/// A weight matrix `[rows = out_features, cols = in_features]`, row-major.
#[derive(Debug, Clone)]
pub struct Matrix {
    pub rows: usize,
    pub cols: usize,
    pub store: Store,
}

impl Matrix {
    /// An f32 matrix.
    pub fn f32(rows: usize, cols: usize, data: Vec<f32>) -> Matrix {
        debug_assert_eq!(data.len(), rows * cols);
        Matrix { rows, cols, store: Store::F32(data) }
    }

    /// A 4-bit matrix.
    pub fn q4(q: Q4Matrix) -> Matrix {
        Matrix { rows: q.rows, cols: q.cols, store: Store::Q4(q) }
    }

    /// `out[n×rows] = x[n×cols] · selfᵀ`.
    pub fn forward(&self, x: &[f32], n: usize, out: &mut [f32]) {
        self.forward_shared(x, n, out, &mut None);
    }

    /// As [`Matrix::forward`]; a quantised matrix quantises `x` into `acts` the first time
    /// and reuses it after, so projections of the same input quantise it once.
    pub fn forward_shared(&self, x: &[f32], n: usize, out: &mut [f32], acts: &mut Option<QActs>) {
        match &self.store {
            Store::F32(w) => matmul_wt(x, n, self.cols, w, self.rows, out),
            Store::Q4(q) => {
                let a = acts.get_or_insert_with(|| QActs::quantize(x, n, self.cols));
                q.forward_quantized(a, out);
            }
        }
    }
}

/// A linear layer: weight and optional bias.
#[derive(Debug, Clone)]
pub struct Linear {
    pub w: Matrix,
    pub b: Option<Vec<f32>>,
}

impl Linear {
    pub fn out_dim(&self) -> usize {
        self.w.rows
    }

    /// `out[n×out] = x[n×in] · Wᵀ + b`.
    pub fn forward(&self, x: &[f32], n: usize, out: &mut [f32]) {
        self.forward_shared(x, n, out, &mut None);
    }

    /// As [`Linear::forward`], sharing quantised activations (see [`Matrix::forward_shared`]).
    pub fn forward_shared(&self, x: &[f32], n: usize, out: &mut [f32], acts: &mut Option<QActs>) {
        self.w.forward_shared(x, n, out, acts);
        if let Some(b) = &self.b {
            for row in out.chunks_exact_mut(b.len()) {
                for (o, b) in row.iter_mut().zip(b) {
                    *o += b;
                }
            }
        }
    }
}

/// The three projections of an expert (or of a dense feed-forward layer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proj {
    Gate,
    Up,
    Down,
}

impl Proj {
    fn hf(self) -> &'static str {
        match self {
            Proj::Gate => "gate_proj",
            Proj::Up => "up_proj",
            Proj::Down => "down_proj",
        }
    }
}

/// Where a model's tensors come from.
pub trait WeightSource {
    /// The file or folder, for error messages.
    fn origin(&self) -> &Path;

    /// A tensor by Hugging Face name, in f32, with its Hugging Face shape; `None` if absent.
    fn tensor(&self, name: &str) -> Result<Option<(Vec<usize>, Vec<f32>)>>;

    /// Expert `e`'s projection in layer `layer`, Hugging Face shape (`[I, H]` for gate and
    /// up, `[H, I]` for down); `None` if the model has no such expert.
    fn expert(&self, layer: usize, e: usize, proj: Proj) -> Result<Option<Matrix>>;

    /// A tensor that must exist, checked against `shape`.
    fn require(&self, name: &str, shape: &[usize]) -> Result<Vec<f32>> {
        let (got, data) =
            self.tensor(name)?.ok_or_else(|| Error::format(self.origin(), format!("missing tensor {name}")))?;
        if got != shape {
            return Err(Error::format(self.origin(), format!("tensor {name} has shape {got:?}, expected {shape:?}")));
        }
        Ok(data)
    }

    /// A `[rows, cols]` matrix that must exist.
    fn matrix(&self, name: &str, rows: usize, cols: usize) -> Result<Matrix> {
        Ok(Matrix::f32(rows, cols, self.require(name, &[rows, cols])?))
    }

    /// A linear layer `name.weight` (+ `name.bias` when `bias`).
    fn linear(&self, name: &str, rows: usize, cols: usize, bias: bool) -> Result<Linear> {
        let w = self.matrix(&format!("{name}.weight"), rows, cols)?;
        let b = if bias { Some(self.require(&format!("{name}.bias"), &[rows])?) } else { None };
        Ok(Linear { w, b })
    }
}

/// Converts little-endian tensor bytes of `dtype` to f32.
fn to_f32(dtype: Dtype, bytes: &[u8], name: &str, origin: &Path) -> Result<Vec<f32>> {
    Ok(match dtype {
        Dtype::F32 => bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect(),
        Dtype::F16 => bytes.chunks_exact(2).map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32()).collect(),
        Dtype::BF16 => bytes.chunks_exact(2).map(|b| half::bf16::from_le_bytes([b[0], b[1]]).to_f32()).collect(),
        other => {
            return Err(Error::format(
                origin,
                format!("tensor {name} has unsupported dtype {other:?} (F32, F16, BF16)"),
            ));
        }
    })
}

/// One memory-mapped safetensors file with its parsed header.
struct Shard {
    path: PathBuf,
    map: Mmap,
    data_start: usize,
    meta: Metadata,
}

/// A Hugging Face model folder: `model.safetensors`, or shards listed in
/// `model.safetensors.index.json`.
pub struct SafetensorsSource {
    dir: PathBuf,
    shards: Vec<Shard>,
    /// Tensor name → shard index.
    index: HashMap<String, usize>,
}

impl SafetensorsSource {
    pub fn open(dir: &Path) -> Result<SafetensorsSource> {
        let index_path = dir.join("model.safetensors.index.json");
        let files: Vec<PathBuf> = if index_path.is_file() {
            let text = std::fs::read_to_string(&index_path).map_err(|e| Error::io(&index_path, e))?;
            let v: serde_json::Value =
                serde_json::from_str(&text).map_err(|e| Error::format(&index_path, format!("invalid JSON: {e}")))?;
            let map = v
                .get("weight_map")
                .and_then(|m| m.as_object())
                .ok_or_else(|| Error::format(&index_path, "no \"weight_map\" object"))?;
            let mut files: Vec<String> = map.values().filter_map(|f| f.as_str().map(str::to_string)).collect();
            files.sort();
            files.dedup();
            files.into_iter().map(|f| dir.join(f)).collect()
        } else {
            vec![dir.join("model.safetensors")]
        };
        let mut shards = Vec::new();
        let mut index = HashMap::new();
        for path in files {
            let file = std::fs::File::open(&path).map_err(|e| Error::io(&path, e))?;
            // SAFETY: the file is mapped read-only and not modified by this process; a model
            // file changing underneath a running process is outside what we support.
            let map = unsafe { Mmap::map(&file) }.map_err(|e| Error::io(&path, e))?;
            let (header_len, meta) = safetensors::SafeTensors::read_metadata(&map)
                .map_err(|e| Error::format(&path, format!("not a safetensors file: {e}")))?;
            for name in meta.tensors().keys() {
                index.insert(name.clone(), shards.len());
            }
            shards.push(Shard { path, map, data_start: 8 + header_len, meta });
        }
        Ok(SafetensorsSource { dir: dir.to_path_buf(), shards, index })
    }

    /// Every tensor name.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.index.keys().map(String::as_str)
    }
}

impl WeightSource for SafetensorsSource {
    fn origin(&self) -> &Path {
        &self.dir
    }

    fn tensor(&self, name: &str) -> Result<Option<(Vec<usize>, Vec<f32>)>> {
        let Some(&s) = self.index.get(name) else { return Ok(None) };
        let shard = &self.shards[s];
        let info = shard.meta.info(name).expect("indexed");
        let (a, b) = info.data_offsets;
        let bytes = shard
            .map
            .get(shard.data_start + a..shard.data_start + b)
            .ok_or_else(|| Error::format(&shard.path, format!("tensor {name} lies outside the file")))?;
        Ok(Some((info.shape.clone(), to_f32(info.dtype, bytes, name, &shard.path)?)))
    }

    fn expert(&self, layer: usize, e: usize, proj: Proj) -> Result<Option<Matrix>> {
        let per_expert = format!("model.layers.{layer}.mlp.experts.{e}.{}.weight", proj.hf());
        if let Some((shape, data)) = self.tensor(&per_expert)? {
            if shape.len() != 2 {
                return Err(Error::format(&self.dir, format!("tensor {per_expert} has shape {shape:?}, expected 2-D")));
            }
            return Ok(Some(Matrix::f32(shape[0], shape[1], data)));
        }
        // transformers 5: experts.gate_up_proj [E, 2I, H] (gate rows first), experts.down_proj [E, H, I].
        let fused = match proj {
            Proj::Gate | Proj::Up => format!("model.layers.{layer}.mlp.experts.gate_up_proj"),
            Proj::Down => format!("model.layers.{layer}.mlp.experts.down_proj"),
        };
        let Some((shape, data)) = self.tensor(&fused)? else { return Ok(None) };
        if shape.len() != 3 || e >= shape[0] {
            return Err(Error::format(&self.dir, format!("tensor {fused} has shape {shape:?}; no expert {e}")));
        }
        let (rows, cols) = (shape[1], shape[2]);
        let block = &data[e * rows * cols..(e + 1) * rows * cols];
        Ok(Some(match proj {
            Proj::Down => Matrix::f32(rows, cols, block.to_vec()),
            Proj::Gate => Matrix::f32(rows / 2, cols, block[..rows / 2 * cols].to_vec()),
            Proj::Up => Matrix::f32(rows / 2, cols, block[rows / 2 * cols..].to_vec()),
        }))
    }
}
