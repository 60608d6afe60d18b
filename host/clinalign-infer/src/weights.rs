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
use safetensors::tensor::{Dtype, Metadata, TensorInfo};

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

/// The largest header safetensors accepts.
const MAX_HEADER_LEN: u64 = 100_000_000;

/// The JSON header of a safetensors file, as the format (and the `safetensors` crate) reads it.
#[derive(serde::Deserialize)]
struct Header {
    #[serde(rename = "__metadata__")]
    metadata: Option<HashMap<String, String>>,
    #[serde(flatten)]
    tensors: HashMap<String, TensorInfo>,
}

/// Reads and checks the header of the safetensors file `bytes` (read from `path`): where
/// the data starts, and the tensors. Accepts exactly what `safetensors` accepts (an 8-byte
/// little-endian header length, a JSON header, tensors packed back to back that cover the
/// data exactly, each of the size its shape and dtype give), but checks every length and
/// offset against the file before use, with checked arithmetic, and says which tensor is
/// wrong; `SafeTensors::read_metadata` can overflow adding up offsets that are each in range.
fn read_header(path: &Path, bytes: &[u8]) -> Result<(usize, Metadata)> {
    let fail = |m: String| Error::format(path, m);
    let Some(len_bytes) = bytes.first_chunk::<8>() else {
        return Err(fail(format!(
            "not a safetensors file: {} bytes, too short for the 8-byte header length",
            bytes.len()
        )));
    };
    let n = u64::from_le_bytes(*len_bytes);
    let after = bytes.len() - 8;
    if n > after as u64 {
        return Err(fail(format!(
            "not a safetensors file: the header length {n} (bytes 0..8) runs past the end of the file, which has \
             {after} bytes after it"
        )));
    }
    if n > MAX_HEADER_LEN {
        return Err(fail(format!("header length {n} is above the safetensors limit of {MAX_HEADER_LEN} bytes")));
    }
    let data_start = 8 + n as usize;
    let text = std::str::from_utf8(&bytes[8..data_start])
        .map_err(|e| fail(format!("header (bytes 8..{data_start}) is not valid UTF-8: {e}")))?;
    let header: Header = serde_json::from_str(text)
        .map_err(|e| fail(format!("header (bytes 8..{data_start}) is not a safetensors JSON header: {e}")))?;
    let data_len = bytes.len() - data_start;
    let mut tensors: Vec<(String, TensorInfo)> = header.tensors.into_iter().collect();
    tensors.sort_by_key(|(_, t)| t.data_offsets);
    let mut end = 0usize;
    for (name, t) in &tensors {
        let (a, b) = t.data_offsets;
        if b < a {
            return Err(fail(format!("tensor {name}: data_offsets [{a}, {b}] end before they start")));
        }
        if b > data_len {
            return Err(fail(format!(
                "tensor {name}: data runs past the end of the file (needs {} bytes at offset {}, file has {} bytes)",
                b - a,
                data_start as u128 + a as u128,
                bytes.len()
            )));
        }
        if a != end {
            let how = if a < end { "overlaps the data before it" } else { "leaves a gap after the data before it" };
            return Err(fail(format!(
                "tensor {name}: data_offsets [{a}, {b}] {how}, which ends at {end} (tensors are packed back to back \
                 from offset 0)"
            )));
        }
        let bits =
            t.shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d)).and_then(|n| n.checked_mul(t.dtype.bitsize()));
        let Some(bits) = bits else {
            return Err(fail(format!(
                "tensor {name}: shape {:?} of {} is too large (its size overflows)",
                t.shape, t.dtype
            )));
        };
        if bits % 8 != 0 || bits / 8 != b - a {
            return Err(fail(format!(
                "tensor {name}: shape {:?} of {} takes {bits} bits, but data_offsets [{a}, {b}] hold {} bytes",
                t.shape,
                t.dtype,
                b - a
            )));
        }
        end = b;
    }
    if end != data_len {
        return Err(fail(format!(
            "the tensors cover {end} bytes of data, but the file has {data_len} after the header (bytes {data_start}..{})",
            bytes.len()
        )));
    }
    let meta = Metadata::new(header.metadata, tensors).map_err(|e| fail(format!("not a safetensors file: {e}")))?;
    Ok((data_start, meta))
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
            let mut files = Vec::new();
            for (tensor, file) in map {
                // Shards are files of the model folder: a plain name, never a path elsewhere.
                let name = file.as_str().filter(|f| {
                    let mut parts = Path::new(f).components();
                    matches!(parts.next(), Some(std::path::Component::Normal(_))) && parts.next().is_none()
                });
                let Some(name) = name else {
                    return Err(Error::format(
                        &index_path,
                        format!("weight_map gives {file} for tensor {tensor:?}, not a file name in the model folder"),
                    ));
                };
                files.push(name.to_string());
            }
            if files.is_empty() {
                return Err(Error::format(&index_path, "weight_map lists no files"));
            }
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
            if !file.metadata().map_err(|e| Error::io(&path, e))?.is_file() {
                return Err(Error::format(&path, "not a regular file"));
            }
            // SAFETY: the file is mapped read-only and not modified by this process; a model
            // file changing underneath a running process is outside what we support.
            let map = unsafe { Mmap::map(&file) }.map_err(|e| Error::io(&path, e))?;
            let (data_start, meta) = read_header(&path, &map)?;
            for name in meta.tensors().keys() {
                index.insert(name.clone(), shards.len());
            }
            shards.push(Shard { path, map, data_start, meta });
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
        let outside = || Error::format(&shard.path, format!("tensor {name} lies outside the file"));
        let info = shard.meta.info(name).ok_or_else(outside)?;
        let (a, b) = info.data_offsets;
        let (start, end) = (shard.data_start.checked_add(a), shard.data_start.checked_add(b));
        let bytes = start.zip(end).and_then(|(s, e)| shard.map.get(s..e)).ok_or_else(outside)?;
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
        if proj != Proj::Down && !rows.is_multiple_of(2) {
            return Err(Error::format(
                &self.dir,
                format!("tensor {fused} has shape {shape:?}: {rows} gate and up rows do not split in two halves"),
            ));
        }
        // The safetensors header was checked: `data` holds the product of `shape`.
        let block = &data[e * rows * cols..(e + 1) * rows * cols];
        Ok(Some(match proj {
            Proj::Down => Matrix::f32(rows, cols, block.to_vec()),
            Proj::Gate => Matrix::f32(rows / 2, cols, block[..rows / 2 * cols].to_vec()),
            Proj::Up => Matrix::f32(rows / 2, cols, block[rows / 2 * cols..].to_vec()),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    type Tensors = Vec<(String, Dtype, Vec<usize>, (usize, usize))>;

    fn listed<'a>(tensors: impl IntoIterator<Item = (String, &'a TensorInfo)>) -> Tensors {
        let mut v: Tensors = tensors.into_iter().map(|(n, t)| (n, t.dtype, t.shape.clone(), t.data_offsets)).collect();
        v.sort();
        v
    }

    /// What `safetensors` makes of `bytes`: the data start and tensors, an error, or `None`
    /// where it panics.
    fn reference(bytes: &[u8]) -> Option<std::result::Result<(usize, Tensors), ()>> {
        let r = std::panic::catch_unwind(|| safetensors::SafeTensors::read_metadata(bytes)).ok()?;
        Some(r.map(|(n, m)| (8 + n, listed(m.tensors()))).map_err(|_| ()))
    }

    fn ours(bytes: &[u8]) -> Result<(usize, Tensors)> {
        read_header(Path::new("t.safetensors"), bytes).map(|(start, m)| (start, listed(m.tensors())))
    }

    fn sample() -> Vec<u8> {
        use safetensors::tensor::TensorView;
        let a: Vec<u8> = (0..24).collect();
        let views = vec![
            ("a", TensorView::new(Dtype::F32, vec![2, 3], &a).unwrap()),
            ("b", TensorView::new(Dtype::BF16, vec![4], &a[..8]).unwrap()),
            ("c", TensorView::new(Dtype::U8, vec![0], &[]).unwrap()),
        ];
        safetensors::serialize(views, None).unwrap()
    }

    #[test]
    fn reads_the_fixture_files_as_safetensors_does() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/models");
        let mut n = 0;
        for model in std::fs::read_dir(&dir).unwrap() {
            for f in std::fs::read_dir(model.unwrap().path()).unwrap() {
                let p = f.unwrap().path();
                if p.extension().is_some_and(|e| e == "safetensors") {
                    let b = std::fs::read(&p).unwrap();
                    assert_eq!(ours(&b).ok(), reference(&b).unwrap().ok(), "{}", p.display());
                    n += 1;
                }
            }
        }
        assert!(n >= 5, "{n} fixture files");
        let b = sample();
        assert!(ours(&b).is_ok());
        assert_eq!(ours(&b).ok(), reference(&b).unwrap().ok());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// The checks accept exactly what `safetensors` accepts, and reject what makes it panic.
        #[test]
        fn accepts_what_safetensors_accepts(
            writes in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
            cut in prop::option::of(any::<prop::sample::Index>()),
            header_len in prop::option::of(0..200u64),
        ) {
            let mut b = sample();
            if let Some(n) = header_len {
                b[..8].copy_from_slice(&n.to_le_bytes());
            }
            for (i, v) in &writes {
                let i = i.index(b.len());
                b[i] = *v;
            }
            if let Some(c) = cut {
                b.truncate(c.index(b.len() + 1));
            }
            let got = ours(&b);
            if let Err(e) = &got {
                prop_assert!(e.to_string().starts_with("t.safetensors: "), "{e}");
            }
            match reference(&b) {
                Some(want) => prop_assert_eq!(got.ok(), want.ok()),
                None => prop_assert!(got.is_err()),
            }
        }
    }
}
