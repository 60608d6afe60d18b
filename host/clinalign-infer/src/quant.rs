//! ggml tensor types and their dequantization to `f32`.
//!
//! Quantized ggml tensors are stored as a sequence of fixed-size *blocks*, each covering
//! [`GgmlType::block_size`] consecutive elements of a row in [`GgmlType::type_size`] bytes.
//! [`dequantize`] expands a whole number of blocks; it is used both at load time and on the
//! fly during inference, so the per-type loops are kept simple and branch-free.
//!
//! Supported for dequantization: F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q8_1, Q2_K,
//! Q3_K, Q4_K, Q5_K, Q6_K, Q8_K. The other ggml types (the IQ*, TQ*, MXFP4… families) are
//! known by id and size, so files that contain them can be read, but not dequantized.

use std::fmt;

use half::{bf16, f16};

/// A ggml tensor element type, with its on-disk id.
#[allow(non_camel_case_types)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum GgmlType {
    F32,
    F16,
    Q4_0,
    Q4_1,
    Q5_0,
    Q5_1,
    Q8_0,
    Q8_1,
    Q2_K,
    Q3_K,
    Q4_K,
    Q5_K,
    Q6_K,
    Q8_K,
    IQ2_XXS,
    IQ2_XS,
    IQ3_XXS,
    IQ1_S,
    IQ4_NL,
    IQ3_S,
    IQ2_S,
    IQ4_XS,
    I8,
    I16,
    I32,
    I64,
    F64,
    IQ1_M,
    BF16,
    TQ1_0,
    TQ2_0,
    MXFP4,
}

/// (type, id, name, elements per block, bytes per block)
const TABLE: &[(GgmlType, u32, &str, usize, usize)] = &[
    (GgmlType::F32, 0, "F32", 1, 4),
    (GgmlType::F16, 1, "F16", 1, 2),
    (GgmlType::Q4_0, 2, "Q4_0", 32, 18),
    (GgmlType::Q4_1, 3, "Q4_1", 32, 20),
    (GgmlType::Q5_0, 6, "Q5_0", 32, 22),
    (GgmlType::Q5_1, 7, "Q5_1", 32, 24),
    (GgmlType::Q8_0, 8, "Q8_0", 32, 34),
    (GgmlType::Q8_1, 9, "Q8_1", 32, 36),
    (GgmlType::Q2_K, 10, "Q2_K", 256, 84),
    (GgmlType::Q3_K, 11, "Q3_K", 256, 110),
    (GgmlType::Q4_K, 12, "Q4_K", 256, 144),
    (GgmlType::Q5_K, 13, "Q5_K", 256, 176),
    (GgmlType::Q6_K, 14, "Q6_K", 256, 210),
    (GgmlType::Q8_K, 15, "Q8_K", 256, 292),
    (GgmlType::IQ2_XXS, 16, "IQ2_XXS", 256, 66),
    (GgmlType::IQ2_XS, 17, "IQ2_XS", 256, 74),
    (GgmlType::IQ3_XXS, 18, "IQ3_XXS", 256, 98),
    (GgmlType::IQ1_S, 19, "IQ1_S", 256, 50),
    (GgmlType::IQ4_NL, 20, "IQ4_NL", 32, 18),
    (GgmlType::IQ3_S, 21, "IQ3_S", 256, 110),
    (GgmlType::IQ2_S, 22, "IQ2_S", 256, 82),
    (GgmlType::IQ4_XS, 23, "IQ4_XS", 256, 136),
    (GgmlType::I8, 24, "I8", 1, 1),
    (GgmlType::I16, 25, "I16", 1, 2),
    (GgmlType::I32, 26, "I32", 1, 4),
    (GgmlType::I64, 27, "I64", 1, 8),
    (GgmlType::F64, 28, "F64", 1, 8),
    (GgmlType::IQ1_M, 29, "IQ1_M", 256, 56),
    (GgmlType::BF16, 30, "BF16", 1, 2),
    (GgmlType::TQ1_0, 34, "TQ1_0", 256, 54),
    (GgmlType::TQ2_0, 35, "TQ2_0", 256, 66),
    (GgmlType::MXFP4, 39, "MXFP4", 32, 17),
];

impl GgmlType {
    /// Every known type, in id order.
    pub fn all() -> impl Iterator<Item = GgmlType> {
        TABLE.iter().map(|e| e.0)
    }

    fn entry(self) -> &'static (GgmlType, u32, &'static str, usize, usize) {
        // The table lists every variant exactly once (checked by a test).
        TABLE.iter().find(|e| e.0 == self).unwrap_or(&TABLE[0])
    }

    /// The type with ggml id `id`, if known.
    pub fn from_id(id: u32) -> Option<GgmlType> {
        TABLE.iter().find(|e| e.1 == id).map(|e| e.0)
    }

    /// The ggml type id (as stored in GGUF tensor infos).
    pub fn id(self) -> u32 {
        self.entry().1
    }

    /// The ggml name ("Q4_K", "F32", ...).
    pub fn name(self) -> &'static str {
        self.entry().2
    }

    /// Elements per block (1 for plain float and integer types).
    pub fn block_size(self) -> usize {
        self.entry().3
    }

    /// Bytes per block.
    pub fn type_size(self) -> usize {
        self.entry().4
    }

    /// Whether the type is block-quantized (block size above 1).
    pub fn is_quantized(self) -> bool {
        self.block_size() > 1
    }

    /// Whether [`dequantize`] supports the type.
    pub fn can_dequantize(self) -> bool {
        use GgmlType::*;
        matches!(
            self,
            F32 | F16 | BF16 | Q4_0 | Q4_1 | Q5_0 | Q5_1 | Q8_0 | Q8_1 | Q2_K | Q3_K | Q4_K | Q5_K | Q6_K | Q8_K
        )
    }
}

impl fmt::Display for GgmlType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Bytes taken by `n_elements` consecutive elements of type `dtype`, or `None` when
/// `n_elements` is not a whole number of blocks or the size overflows `usize`.
pub fn row_bytes(dtype: GgmlType, n_elements: usize) -> Option<usize> {
    let bs = dtype.block_size();
    if !n_elements.is_multiple_of(bs) {
        return None;
    }
    (n_elements / bs).checked_mul(dtype.type_size())
}

/// Expands `bytes`, a whole number of `dtype` blocks, into `out` (one `f32` per element).
///
/// `out.len()` must be a multiple of the block size and `bytes.len()` exactly the size of
/// that many elements; otherwise, or for a type that cannot be dequantized, the error says
/// what is wrong.
pub fn dequantize(dtype: GgmlType, bytes: &[u8], out: &mut [f32]) -> Result<(), String> {
    let Some(expected) = row_bytes(dtype, out.len()) else {
        return Err(format!(
            "{dtype}: {} elements is not a whole number of blocks of {}",
            out.len(),
            dtype.block_size()
        ));
    };
    if bytes.len() != expected {
        return Err(format!(
            "{dtype}: {} bytes given for {} elements, which take {expected} bytes",
            bytes.len(),
            out.len()
        ));
    }
    match dtype {
        GgmlType::F32 => deq_f32(bytes, out),
        GgmlType::F16 => deq_f16(bytes, out),
        GgmlType::BF16 => deq_bf16(bytes, out),
        GgmlType::Q4_0 => deq_q4_0(bytes, out),
        GgmlType::Q4_1 => deq_q4_1(bytes, out),
        GgmlType::Q5_0 => deq_q5_0(bytes, out),
        GgmlType::Q5_1 => deq_q5_1(bytes, out),
        GgmlType::Q8_0 => deq_q8_0(bytes, out),
        GgmlType::Q8_1 => deq_q8_1(bytes, out),
        GgmlType::Q2_K => deq_q2_k(bytes, out),
        GgmlType::Q3_K => deq_q3_k(bytes, out),
        GgmlType::Q4_K => deq_q4_k(bytes, out),
        GgmlType::Q5_K => deq_q5_k(bytes, out),
        GgmlType::Q6_K => deq_q6_k(bytes, out),
        GgmlType::Q8_K => deq_q8_k(bytes, out),
        other => return Err(format!("dequantizing {other} tensors is not supported")),
    }
    Ok(())
}

#[inline(always)]
fn half_at(b: &[u8], i: usize) -> f32 {
    f16::from_bits(u16::from_le_bytes([b[i], b[i + 1]])).to_f32()
}

fn deq_f32(bytes: &[u8], out: &mut [f32]) {
    for (o, b) in out.iter_mut().zip(bytes.chunks_exact(4)) {
        *o = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    }
}

fn deq_f16(bytes: &[u8], out: &mut [f32]) {
    for (o, b) in out.iter_mut().zip(bytes.chunks_exact(2)) {
        *o = f16::from_bits(u16::from_le_bytes([b[0], b[1]])).to_f32();
    }
}

fn deq_bf16(bytes: &[u8], out: &mut [f32]) {
    for (o, b) in out.iter_mut().zip(bytes.chunks_exact(2)) {
        *o = bf16::from_bits(u16::from_le_bytes([b[0], b[1]])).to_f32();
    }
}

/// Q4_0: f16 scale, 16 bytes of nibbles; low nibbles are elements 0..16, high 16..32;
/// value = (q - 8) * d.
fn deq_q4_0(bytes: &[u8], out: &mut [f32]) {
    for (blk, y) in bytes.chunks_exact(18).zip(out.chunks_exact_mut(32)) {
        let d = half_at(blk, 0);
        let qs = &blk[2..18];
        let (lo, hi) = y.split_at_mut(16);
        for ((&q, a), b) in qs.iter().zip(lo).zip(hi) {
            *a = ((q & 0x0F) as i32 - 8) as f32 * d;
            *b = ((q >> 4) as i32 - 8) as f32 * d;
        }
    }
}

/// Q4_1: f16 scale d, f16 minimum m, 16 bytes of nibbles; value = q * d + m.
fn deq_q4_1(bytes: &[u8], out: &mut [f32]) {
    for (blk, y) in bytes.chunks_exact(20).zip(out.chunks_exact_mut(32)) {
        let d = half_at(blk, 0);
        let m = half_at(blk, 2);
        let qs = &blk[4..20];
        let (lo, hi) = y.split_at_mut(16);
        for ((&q, a), b) in qs.iter().zip(lo).zip(hi) {
            *a = (q & 0x0F) as f32 * d + m;
            *b = (q >> 4) as f32 * d + m;
        }
    }
}

/// The 5-bit values of Q5_0/Q5_1 blocks of `block` bytes: 32 high bits (u32 LE at `qh_at`,
/// bit j for element j) over 16 bytes of low nibbles (after the high bits; element j in the
/// low nibble of byte j, element j + 16 in its high nibble). Yields each block with them.
fn q5_blocks(bytes: &[u8], block: usize, qh_at: usize) -> impl Iterator<Item = (&[u8], [u32; 32])> {
    bytes.chunks_exact(block).map(move |blk| {
        let qh = u32::from_le_bytes([blk[qh_at], blk[qh_at + 1], blk[qh_at + 2], blk[qh_at + 3]]);
        let qs = &blk[qh_at + 4..qh_at + 20];
        let q = std::array::from_fn(|e| {
            let (j, nibble) = if e < 16 { (e, qs[e] & 0x0F) } else { (e - 16, qs[e - 16] >> 4) };
            nibble as u32 | (((qh >> (j + 16 * (e / 16))) & 1) << 4)
        });
        (blk, q)
    })
}

/// Q5_0: f16 d, 32 high bits, 16 bytes of low nibbles; value = (q - 16) * d.
fn deq_q5_0(bytes: &[u8], out: &mut [f32]) {
    for ((blk, q), y) in q5_blocks(bytes, 22, 2).zip(out.chunks_exact_mut(32)) {
        let d = half_at(blk, 0);
        for (o, q) in y.iter_mut().zip(q) {
            *o = (q as i32 - 16) as f32 * d;
        }
    }
}

/// Q5_1: f16 d, f16 m, 32 high bits, 16 bytes of low nibbles; value = q * d + m.
fn deq_q5_1(bytes: &[u8], out: &mut [f32]) {
    for ((blk, q), y) in q5_blocks(bytes, 24, 4).zip(out.chunks_exact_mut(32)) {
        let (d, m) = (half_at(blk, 0), half_at(blk, 2));
        for (o, q) in y.iter_mut().zip(q) {
            *o = q as f32 * d + m;
        }
    }
}

/// Q8_0: f16 d, 32 signed bytes; value = q * d.
fn deq_q8_0(bytes: &[u8], out: &mut [f32]) {
    for (blk, y) in bytes.chunks_exact(34).zip(out.chunks_exact_mut(32)) {
        let d = half_at(blk, 0);
        for (o, &q) in y.iter_mut().zip(&blk[2..34]) {
            *o = (q as i8) as f32 * d;
        }
    }
}

/// Q8_1: f16 d, f16 s (d times the sum of the quants, unused here), 32 signed bytes.
fn deq_q8_1(bytes: &[u8], out: &mut [f32]) {
    for (blk, y) in bytes.chunks_exact(36).zip(out.chunks_exact_mut(32)) {
        let d = half_at(blk, 0);
        for (o, &q) in y.iter_mut().zip(&blk[4..36]) {
            *o = (q as i8) as f32 * d;
        }
    }
}

/// Q2_K (84 bytes / 256): 16 bytes of (4-bit scale | 4-bit min << 4) for 16 groups of 16,
/// 64 bytes of 2-bit quants, f16 d, f16 dmin. Quant byte `i` of a 128-element half holds
/// elements `i % 32 + 32 * k` (k = 0..4) in bits `2k..2k+2`; value = d*sc*q - dmin*min.
fn deq_q2_k(bytes: &[u8], out: &mut [f32]) {
    for (blk, y) in bytes.chunks_exact(84).zip(out.chunks_exact_mut(256)) {
        let scales = &blk[0..16];
        let qs = &blk[16..80];
        let d = half_at(blk, 80);
        let dmin = half_at(blk, 82);
        for (half, yh) in y.chunks_exact_mut(128).enumerate() {
            let q = &qs[half * 32..half * 32 + 32];
            for (k, yk) in yh.chunks_exact_mut(32).enumerate() {
                let shift = 2 * k;
                for (g, yg) in yk.chunks_exact_mut(16).enumerate() {
                    let sc = scales[half * 8 + k * 2 + g];
                    let dl = d * (sc & 0x0F) as f32;
                    let ml = dmin * (sc >> 4) as f32;
                    for (o, &b) in yg.iter_mut().zip(&q[g * 16..g * 16 + 16]) {
                        *o = dl * ((b >> shift) & 3) as f32 - ml;
                    }
                }
            }
        }
    }
}

/// The 16 signed 6-bit scales of a Q3_K block, from their 12 packed bytes: the low 4 bits
/// of scale i are nibble (i / 8) of byte i % 8, the high 2 bits are bits 2*(i/4).. of byte
/// 8 + i % 4; the stored value is offset by 32.
fn q3k_scales(p: &[u8]) -> [i8; 16] {
    let mut s = [0i8; 16];
    for (i, v) in s.iter_mut().enumerate() {
        let low = if i < 8 { p[i] & 0x0F } else { p[i - 8] >> 4 };
        let high = (p[8 + i % 4] >> (2 * (i / 4))) & 3;
        *v = ((low | (high << 4)) as i32 - 32) as i8;
    }
    s
}

/// Q3_K (110 bytes / 256): 32 bytes of high-bit masks, 64 bytes of 2-bit quants, 12 bytes
/// of packed 6-bit scales, f16 d. Element `128*h + 32*k + l` takes bits `2k..2k+2` of
/// quant byte `32*h + l` and bit `4*h + k` of mask byte `l`; a clear mask bit subtracts 4.
fn deq_q3_k(bytes: &[u8], out: &mut [f32]) {
    for (blk, y) in bytes.chunks_exact(110).zip(out.chunks_exact_mut(256)) {
        let hmask = &blk[0..32];
        let qs = &blk[32..96];
        let scales = q3k_scales(&blk[96..108]);
        let d = half_at(blk, 108);
        for (half, yh) in y.chunks_exact_mut(128).enumerate() {
            let q = &qs[half * 32..half * 32 + 32];
            for (k, yk) in yh.chunks_exact_mut(32).enumerate() {
                let shift = 2 * k;
                let mbit = 1u8 << (4 * half + k);
                for (g, yg) in yk.chunks_exact_mut(16).enumerate() {
                    let dl = d * scales[half * 8 + k * 2 + g] as f32;
                    let range = g * 16..g * 16 + 16;
                    for ((o, &b), &m) in yg.iter_mut().zip(&q[range.clone()]).zip(&hmask[range]) {
                        let v = ((b >> shift) & 3) as i32 - if m & mbit != 0 { 0 } else { 4 };
                        *o = dl * v as f32;
                    }
                }
            }
        }
    }
}

/// The 8 (scale, min) pairs of a Q4_K/Q5_K block, 6 bits each, packed in 12 bytes:
/// pairs 0..4 are the low 6 bits of bytes 0..4 (scales) and 4..8 (mins); pairs 4..8 take
/// their low 4 bits from the nibbles of bytes 8..12 and their high 2 bits from the top
/// bits of bytes 0..4 (scales) and 4..8 (mins).
#[inline(always)]
fn k_scales(p: &[u8]) -> ([u8; 8], [u8; 8]) {
    let mut sc = [0u8; 8];
    let mut mn = [0u8; 8];
    for j in 0..4 {
        sc[j] = p[j] & 63;
        mn[j] = p[j + 4] & 63;
        sc[j + 4] = (p[j + 8] & 0x0F) | ((p[j] >> 6) << 4);
        mn[j + 4] = (p[j + 8] >> 4) | ((p[j + 4] >> 6) << 4);
    }
    (sc, mn)
}

/// Q4_K (144 bytes / 256): f16 d, f16 dmin, 12 bytes of packed scales/mins, 128 bytes of
/// nibbles. Each 64-element chunk c uses 32 bytes: low nibbles are sub-block 2c, high
/// nibbles sub-block 2c+1; value = d*sc*q - dmin*min.
fn deq_q4_k(bytes: &[u8], out: &mut [f32]) {
    for (blk, y) in bytes.chunks_exact(144).zip(out.chunks_exact_mut(256)) {
        let d = half_at(blk, 0);
        let dmin = half_at(blk, 2);
        let (sc, mn) = k_scales(&blk[4..16]);
        let qs = &blk[16..144];
        for (c, yc) in y.chunks_exact_mut(64).enumerate() {
            let q = &qs[c * 32..c * 32 + 32];
            let d1 = d * sc[2 * c] as f32;
            let m1 = dmin * mn[2 * c] as f32;
            let d2 = d * sc[2 * c + 1] as f32;
            let m2 = dmin * mn[2 * c + 1] as f32;
            let (lo, hi) = yc.split_at_mut(32);
            for ((&b, a), h) in q.iter().zip(lo).zip(hi) {
                *a = d1 * (b & 0x0F) as f32 - m1;
                *h = d2 * (b >> 4) as f32 - m2;
            }
        }
    }
}

/// Q5_K (176 bytes / 256): like Q4_K plus 32 bytes of fifth bits: element `64*c + l`
/// (l < 32) takes bit 2c of byte l, element `64*c + 32 + l` bit 2c+1.
fn deq_q5_k(bytes: &[u8], out: &mut [f32]) {
    for (blk, y) in bytes.chunks_exact(176).zip(out.chunks_exact_mut(256)) {
        let d = half_at(blk, 0);
        let dmin = half_at(blk, 2);
        let (sc, mn) = k_scales(&blk[4..16]);
        let qh = &blk[16..48];
        let qs = &blk[48..176];
        for (c, yc) in y.chunks_exact_mut(64).enumerate() {
            let q = &qs[c * 32..c * 32 + 32];
            let d1 = d * sc[2 * c] as f32;
            let m1 = dmin * mn[2 * c] as f32;
            let d2 = d * sc[2 * c + 1] as f32;
            let m2 = dmin * mn[2 * c + 1] as f32;
            let (lo, hi) = yc.split_at_mut(32);
            for (((&b, &h), a), o) in q.iter().zip(qh).zip(lo).zip(hi) {
                let h0 = ((h >> (2 * c)) & 1) << 4;
                let h1 = ((h >> (2 * c + 1)) & 1) << 4;
                *a = d1 * ((b & 0x0F) | h0) as f32 - m1;
                *o = d2 * ((b >> 4) | h1) as f32 - m2;
            }
        }
    }
}

/// Q6_K (210 bytes / 256): 128 bytes of low nibbles, 64 bytes of high 2-bit pairs,
/// 16 signed 8-bit scales (one per 16 elements), f16 d; value = d * scale * (q - 32).
/// In each 128-element half h, for l < 32: low nibbles of ql[l] / ql[l+32] are elements
/// l / l+32, their high nibbles l+64 / l+96; the 2-bit pairs of qh[l] (bits 0,2,4,6) go to
/// elements l, l+32, l+64, l+96.
fn deq_q6_k(bytes: &[u8], out: &mut [f32]) {
    for (blk, y) in bytes.chunks_exact(210).zip(out.chunks_exact_mut(256)) {
        let d = half_at(blk, 208);
        for (h, yh) in y.chunks_exact_mut(128).enumerate() {
            let ql = &blk[h * 64..h * 64 + 64];
            let qh = &blk[128 + h * 32..128 + h * 32 + 32];
            let sc = &blk[192 + h * 8..192 + h * 8 + 8];
            let (y01, y23) = yh.split_at_mut(64);
            let (y0, y1) = y01.split_at_mut(32);
            let (y2, y3) = y23.split_at_mut(32);
            for l in 0..32 {
                let g = l / 16;
                let hb = qh[l];
                let a = ql[l];
                let b = ql[l + 32];
                let q0 = ((a & 0x0F) | ((hb & 3) << 4)) as i32 - 32;
                let q1 = ((b & 0x0F) | (((hb >> 2) & 3) << 4)) as i32 - 32;
                let q2 = ((a >> 4) | (((hb >> 4) & 3) << 4)) as i32 - 32;
                let q3 = ((b >> 4) | (((hb >> 6) & 3) << 4)) as i32 - 32;
                y0[l] = d * (sc[g] as i8) as f32 * q0 as f32;
                y1[l] = d * (sc[g + 2] as i8) as f32 * q1 as f32;
                y2[l] = d * (sc[g + 4] as i8) as f32 * q2 as f32;
                y3[l] = d * (sc[g + 6] as i8) as f32 * q3 as f32;
            }
        }
    }
}

/// Q8_K (292 bytes / 256): f32 d, 256 signed bytes, 16 i16 group sums (unused here).
fn deq_q8_k(bytes: &[u8], out: &mut [f32]) {
    for (blk, y) in bytes.chunks_exact(292).zip(out.chunks_exact_mut(256)) {
        let d = f32::from_le_bytes([blk[0], blk[1], blk[2], blk[3]]);
        for (o, &q) in y.iter_mut().zip(&blk[4..260]) {
            *o = (q as i8) as f32 * d;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(x: f32) -> [u8; 2] {
        f16::from_f32(x).to_bits().to_le_bytes()
    }

    fn deq(t: GgmlType, bytes: &[u8], n: usize) -> Vec<f32> {
        let mut out = vec![f32::NAN; n];
        dequantize(t, bytes, &mut out).unwrap();
        out
    }

    #[test]
    fn table_is_consistent() {
        let mut ids = std::collections::HashSet::new();
        for t in GgmlType::all() {
            assert!(ids.insert(t.id()), "duplicate id {}", t.id());
            assert_eq!(GgmlType::from_id(t.id()), Some(t));
            assert_eq!(t.entry().0, t);
            assert_eq!(t.to_string(), t.name());
        }
        assert_eq!(ids.len(), TABLE.len());
        let expect = [
            (GgmlType::F32, 0, 1, 4),
            (GgmlType::F16, 1, 1, 2),
            (GgmlType::Q4_0, 2, 32, 18),
            (GgmlType::Q4_1, 3, 32, 20),
            (GgmlType::Q8_0, 8, 32, 34),
            (GgmlType::Q8_1, 9, 32, 36),
            (GgmlType::Q4_K, 12, 256, 144),
            (GgmlType::Q6_K, 14, 256, 210),
            (GgmlType::BF16, 30, 1, 2),
        ];
        for (t, id, bs, ts) in expect {
            assert_eq!((t.id(), t.block_size(), t.type_size()), (id, bs, ts), "{t}");
        }
        for gone in [4, 5, 31, 32, 33, 36, 37, 38, 1000, u32::MAX] {
            assert_eq!(GgmlType::from_id(gone), None);
        }
        assert!(GgmlType::Q4_K.is_quantized() && !GgmlType::F16.is_quantized());
    }

    #[test]
    fn row_bytes_works() {
        assert_eq!(row_bytes(GgmlType::F32, 10), Some(40));
        assert_eq!(row_bytes(GgmlType::Q4_0, 64), Some(36));
        assert_eq!(row_bytes(GgmlType::Q4_0, 48), None);
        assert_eq!(row_bytes(GgmlType::Q6_K, 512), Some(420));
        assert_eq!(row_bytes(GgmlType::Q6_K, 0), Some(0));
        assert_eq!(row_bytes(GgmlType::F64, usize::MAX), None);
    }

    #[test]
    fn length_mismatches_are_errors() {
        let mut out = vec![0f32; 32];
        let e = dequantize(GgmlType::Q4_0, &[0u8; 17], &mut out).unwrap_err();
        assert!(e.contains("Q4_0") && e.contains("17 bytes") && e.contains("18"), "{e}");
        let e = dequantize(GgmlType::Q4_0, &[0u8; 19], &mut out).unwrap_err();
        assert!(e.contains("19 bytes"), "{e}");
        let mut out = vec![0f32; 33];
        let e = dequantize(GgmlType::Q8_0, &[0u8; 34], &mut out).unwrap_err();
        assert!(e.contains("33 elements") && e.contains("32"), "{e}");
        let mut out = vec![0f32; 3];
        let e = dequantize(GgmlType::F32, &[0u8; 8], &mut out).unwrap_err();
        assert!(e.contains("8 bytes") && e.contains("12 bytes"), "{e}");
        let mut out = vec![0f32; 256];
        let e = dequantize(GgmlType::IQ2_XXS, &[0u8; 66], &mut out).unwrap_err();
        assert!(e.contains("not supported"), "{e}");
        assert!(!GgmlType::IQ2_XXS.can_dequantize());
        // empty input is fine
        dequantize(GgmlType::Q6_K, &[], &mut []).unwrap();
    }

    #[test]
    fn float_types() {
        let vals = [1.5f32, -2.25, 0.0, 65504.0, -1e-3];
        let b: Vec<u8> = vals.iter().flat_map(|v| v.to_le_bytes()).collect();
        assert_eq!(deq(GgmlType::F32, &b, 5), vals);
        let b: Vec<u8> = vals.iter().flat_map(|&v| h(v)).collect();
        let got = deq(GgmlType::F16, &b, 5);
        assert_eq!(&got[..4], &vals[..4]);
        assert!((got[4] + 1e-3).abs() < 1e-6);
        // bf16: the top 16 bits of an f32
        let b: Vec<u8> =
            [1.5f32, -2.25, 3.0e38].iter().flat_map(|v| ((v.to_bits() >> 16) as u16).to_le_bytes()).collect();
        let got = deq(GgmlType::BF16, &b, 3);
        assert_eq!(&got[..2], &[1.5, -2.25]);
        assert_eq!(got[2], f32::from_bits(3.0e38f32.to_bits() & 0xFFFF_0000));
        let b = [0x80, 0x3F]; // 0x3F80 = 1.0
        assert_eq!(deq(GgmlType::BF16, &b, 1), [1.0]);
    }

    #[test]
    fn q4_0_known_block() {
        let mut b = h(0.5).to_vec();
        // byte j: low nibble j (element j), high nibble 15-j (element 16+j)
        b.extend((0..16u8).map(|j| j | ((15 - j) << 4)));
        let y = deq(GgmlType::Q4_0, &b, 32);
        for j in 0..16 {
            assert_eq!(y[j], (j as f32 - 8.0) * 0.5);
            assert_eq!(y[16 + j], ((15 - j) as f32 - 8.0) * 0.5);
        }
    }

    #[test]
    fn q4_1_known_block() {
        let mut b = h(0.25).to_vec();
        b.extend(h(-1.0));
        b.extend((0..16u8).map(|j| j | ((15 - j) << 4)));
        let y = deq(GgmlType::Q4_1, &b, 32);
        for j in 0..16 {
            assert_eq!(y[j], j as f32 * 0.25 - 1.0);
            assert_eq!(y[16 + j], (15 - j) as f32 * 0.25 - 1.0);
        }
    }

    #[test]
    fn q8_0_and_q8_1_known_blocks() {
        let mut b = h(2.0).to_vec();
        b.extend((0..32).map(|j| (j as i8 * 4 - 64) as u8));
        let y = deq(GgmlType::Q8_0, &b, 32);
        for (j, v) in y.iter().enumerate() {
            assert_eq!(*v, (j as f32 * 4.0 - 64.0) * 2.0);
        }
        let mut b1 = h(2.0).to_vec();
        b1.extend(h(123.0));
        b1.extend(&b[2..]);
        assert_eq!(deq(GgmlType::Q8_1, &b1, 32), y);
        // two blocks with different scales
        let mut two = b.clone();
        two.extend(h(-1.0));
        two.extend([127u8; 32]);
        let y2 = deq(GgmlType::Q8_0, &two, 64);
        assert_eq!(&y2[..32], &y[..]);
        assert!(y2[32..].iter().all(|&v| v == -127.0));
    }

    #[test]
    fn q5_known_blocks() {
        // Q5_0: element j has low nibble j % 16 and fifth bit set for odd j
        let mut qh = 0u32;
        for j in (1..32).step_by(2) {
            qh |= 1 << j;
        }
        let mut b = h(1.0).to_vec();
        b.extend(qh.to_le_bytes());
        b.extend((0..16u8).map(|j| j | (j << 4)));
        let y = deq(GgmlType::Q5_0, &b, 32);
        for (j, v) in y.iter().enumerate() {
            let q = (j % 16) as i32 + if j % 2 == 1 { 16 } else { 0 };
            assert_eq!(*v, (q - 16) as f32, "element {j}");
        }
        let mut b = h(0.5).to_vec();
        b.extend(h(3.0));
        b.extend(qh.to_le_bytes());
        b.extend((0..16u8).map(|j| j | (j << 4)));
        let y = deq(GgmlType::Q5_1, &b, 32);
        for (j, v) in y.iter().enumerate() {
            let q = (j % 16) as i32 + if j % 2 == 1 { 16 } else { 0 };
            assert_eq!(*v, q as f32 * 0.5 + 3.0, "element {j}");
        }
    }

    /// Packs 8 (scale, min) pairs of 6 bits the way Q4_K/Q5_K store them.
    fn pack_k_scales(sc: [u8; 8], mn: [u8; 8]) -> [u8; 12] {
        let mut p = [0u8; 12];
        for j in 0..4 {
            p[j] = (sc[j] & 63) | ((sc[j + 4] >> 4) << 6);
            p[j + 4] = (mn[j] & 63) | ((mn[j + 4] >> 4) << 6);
            p[j + 8] = (sc[j + 4] & 15) | ((mn[j + 4] & 15) << 4);
        }
        p
    }

    #[test]
    fn k_scales_unpack() {
        let sc = [1, 63, 17, 40, 33, 62, 5, 48];
        let mn = [0, 2, 63, 31, 47, 16, 60, 9];
        assert_eq!(k_scales(&pack_k_scales(sc, mn)), (sc, mn));
    }

    #[test]
    fn q4_k_known_block() {
        let sc = [1, 2, 3, 4, 60, 61, 62, 63];
        let mn = [63, 10, 0, 1, 33, 17, 8, 2];
        let (d, dmin) = (0.5f32, 0.25f32);
        let mut b = h(d).to_vec();
        b.extend(h(dmin));
        b.extend(pack_k_scales(sc, mn));
        // element 64c + l (l<32): low nibble of byte 32c + l; 64c + 32 + l: high nibble
        let q = |e: usize| ((e * 7 + 3) % 16) as u8;
        for c in 0..4 {
            for l in 0..32 {
                b.push(q(64 * c + l) | (q(64 * c + 32 + l) << 4));
            }
        }
        let y = deq(GgmlType::Q4_K, &b, 256);
        for (e, v) in y.iter().enumerate() {
            let s = e / 32;
            let want = d * sc[s] as f32 * q(e) as f32 - dmin * mn[s] as f32;
            assert_eq!(*v, want, "element {e}");
        }
    }

    #[test]
    fn q5_k_known_block() {
        let sc = [9, 2, 3, 4, 60, 61, 62, 63];
        let mn = [1, 10, 0, 1, 33, 17, 8, 2];
        let (d, dmin) = (0.125f32, 1.0f32);
        let q = |e: usize| ((e * 11 + 5) % 32) as u8;
        let mut b = h(d).to_vec();
        b.extend(h(dmin));
        b.extend(pack_k_scales(sc, mn));
        let mut qh = [0u8; 32];
        let mut qs = [0u8; 128];
        for e in 0..256 {
            let (c, r) = (e / 64, e % 64);
            let (l, upper) = (r % 32, r >= 32);
            let bit = 2 * c + upper as usize;
            qh[l] |= (q(e) >> 4) << bit;
            qs[32 * c + l] |= (q(e) & 15) << if upper { 4 } else { 0 };
        }
        b.extend(qh);
        b.extend(qs);
        let y = deq(GgmlType::Q5_K, &b, 256);
        for (e, v) in y.iter().enumerate() {
            let s = e / 32;
            let want = d * sc[s] as f32 * q(e) as f32 - dmin * mn[s] as f32;
            assert_eq!(*v, want, "element {e}");
        }
    }

    #[test]
    fn q6_k_known_block() {
        let d = 0.5f32;
        let scales: [i8; 16] = [1, -2, 3, -4, 5, -6, 7, -8, 127, -128, 0, 10, -10, 20, -20, 33];
        let q = |e: usize| ((e * 13 + 7) % 64) as u8; // stored (unsigned) 6-bit value
        let mut ql = [0u8; 128];
        let mut qh = [0u8; 64];
        for e in 0..256 {
            let (hf, r) = (e / 128, e % 128);
            let (k, l) = (r / 32, r % 32); // k: which of the four 32-element quarters
            let lo = q(e) & 15;
            let hi = q(e) >> 4;
            let byte = hf * 64 + l + if k % 2 == 1 { 32 } else { 0 };
            ql[byte] |= lo << if k >= 2 { 4 } else { 0 };
            qh[hf * 32 + l] |= hi << (2 * k);
        }
        let mut b = ql.to_vec();
        b.extend(qh);
        b.extend(scales.iter().map(|&s| s as u8));
        b.extend(h(d));
        let y = deq(GgmlType::Q6_K, &b, 256);
        for (e, v) in y.iter().enumerate() {
            let want = d * scales[e / 16] as f32 * (q(e) as i32 - 32) as f32;
            assert_eq!(*v, want, "element {e}");
        }
    }

    #[test]
    fn q2_k_known_block() {
        let (d, dmin) = (0.5f32, 0.25f32);
        let sc: Vec<u8> = (0..16u8).map(|i| (i % 16) | (((15 - i) % 16) << 4)).collect();
        let q = |e: usize| ((e * 5 + 1) % 4) as u8;
        let mut qs = [0u8; 64];
        for e in 0..256 {
            let (hf, r) = (e / 128, e % 128);
            let (k, l) = (r / 32, r % 32);
            qs[hf * 32 + l] |= q(e) << (2 * k);
        }
        let mut b = sc.clone();
        b.extend(qs);
        b.extend(h(d));
        b.extend(h(dmin));
        let y = deq(GgmlType::Q2_K, &b, 256);
        for (e, v) in y.iter().enumerate() {
            let s = sc[e / 16];
            let want = d * (s & 15) as f32 * q(e) as f32 - dmin * (s >> 4) as f32;
            assert_eq!(*v, want, "element {e}");
        }
    }

    #[test]
    fn q3_k_known_block() {
        let d = 0.5f32;
        let scales: [i32; 16] = [-32, -1, 0, 1, 31, 5, -7, 9, 12, -20, 3, 30, -31, 2, 8, -5];
        let mut sp = [0u8; 12];
        for (i, &s) in scales.iter().enumerate() {
            let u = (s + 32) as u8;
            if i < 8 {
                sp[i] |= u & 15;
            } else {
                sp[i - 8] |= (u & 15) << 4;
            }
            sp[8 + i % 4] |= (u >> 4) << (2 * (i / 4));
        }
        assert_eq!(q3k_scales(&sp).map(i32::from), scales);
        let q = |e: usize| ((e * 3 + 2) % 8) as i32 - 4; // value in -4..4
        let mut hmask = [0u8; 32];
        let mut qs = [0u8; 64];
        for e in 0..256 {
            let (hf, r) = (e / 128, e % 128);
            let (k, l) = (r / 32, r % 32);
            let v = q(e);
            let (low, high) = if v >= 0 { (v as u8, 1u8) } else { ((v + 4) as u8, 0u8) };
            qs[hf * 32 + l] |= low << (2 * k);
            hmask[l] |= high << (4 * hf + k);
        }
        let mut b = hmask.to_vec();
        b.extend(qs);
        b.extend(sp);
        b.extend(h(d));
        let y = deq(GgmlType::Q3_K, &b, 256);
        for (e, v) in y.iter().enumerate() {
            let want = d * scales[e / 16] as f32 * q(e) as f32;
            assert_eq!(*v, want, "element {e}");
        }
    }

    #[test]
    fn q8_k_known_block() {
        let mut b = 0.75f32.to_le_bytes().to_vec();
        b.extend((0..256).map(|i| ((i % 256) - 128) as i8 as u8));
        b.extend([0u8; 32]);
        let y = deq(GgmlType::Q8_K, &b, 256);
        for (i, v) in y.iter().enumerate() {
            assert_eq!(*v, (i as f32 - 128.0) * 0.75);
        }
    }

    // ---- round trips with simple reference quantizers ----

    fn test_data(n: usize, seed: u64) -> Vec<f32> {
        let mut s = seed;
        (0..n)
            .map(|i| {
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                let u = (s >> 40) as f32 / (1u64 << 24) as f32; // [0, 1)
                let scale = [0.01, 1.0, 30.0][(i / 32) % 3];
                (u * 2.0 - 1.0) * scale + if (i / 32) % 5 == 4 { 0.5 * scale } else { 0.0 }
            })
            .collect()
    }

    fn quantize_q8_0(x: &[f32]) -> Vec<u8> {
        let mut out = Vec::new();
        for blk in x.chunks(32) {
            let amax = blk.iter().fold(0f32, |a, v| a.max(v.abs()));
            let d = f16::from_f32(amax / 127.0).to_f32();
            let id = if d > 0.0 { 1.0 / d } else { 0.0 };
            out.extend(h(d));
            out.extend(blk.iter().map(|v| ((v * id).round().clamp(-127.0, 127.0) as i8) as u8));
        }
        out
    }

    fn quantize_q4_0(x: &[f32]) -> Vec<u8> {
        let mut out = Vec::new();
        for blk in x.chunks(32) {
            // the value of largest magnitude maps to -8
            let max = blk.iter().fold(0f32, |a, &v| if v.abs() > a.abs() { v } else { a });
            let d = f16::from_f32(max / -8.0).to_f32();
            let id = if d != 0.0 { 1.0 / d } else { 0.0 };
            out.extend(h(d));
            let q = |v: f32| ((v * id).round() + 8.0).clamp(0.0, 15.0) as u8;
            out.extend((0..16).map(|j| q(blk[j]) | (q(blk[j + 16]) << 4)));
        }
        out
    }

    fn quantize_q4_1(x: &[f32]) -> Vec<u8> {
        let mut out = Vec::new();
        for blk in x.chunks(32) {
            let min = blk.iter().copied().fold(f32::INFINITY, f32::min);
            let max = blk.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let d = f16::from_f32((max - min) / 15.0).to_f32();
            let m = f16::from_f32(min).to_f32();
            let id = if d > 0.0 { 1.0 / d } else { 0.0 };
            out.extend(h(d));
            out.extend(h(m));
            let q = |v: f32| ((v - m) * id).round().clamp(0.0, 15.0) as u8;
            out.extend((0..16).map(|j| q(blk[j]) | (q(blk[j + 16]) << 4)));
        }
        out
    }

    fn check_round_trip(t: GgmlType, x: &[f32], bytes: &[u8], tol: impl Fn(&[u8], f32) -> f32) {
        let y = deq(t, bytes, x.len());
        let bs = t.type_size();
        for (b, (xs, ys)) in x.chunks(32).zip(y.chunks(32)).enumerate() {
            let blk = &bytes[b * bs..(b + 1) * bs];
            for (i, (a, c)) in xs.iter().zip(ys).enumerate() {
                let tl = tol(blk, *a);
                assert!((a - c).abs() <= tl, "{t} block {b} element {i}: {a} vs {c} (tolerance {tl})");
            }
        }
    }

    #[test]
    fn q8_0_round_trip() {
        let x = test_data(32 * 30, 1);
        let b = quantize_q8_0(&x);
        assert_eq!(b.len(), row_bytes(GgmlType::Q8_0, x.len()).unwrap());
        check_round_trip(GgmlType::Q8_0, &x, &b, |blk, _| half_at(blk, 0).abs() * 0.5 + 1e-6);
    }

    #[test]
    fn q4_0_round_trip() {
        let x = test_data(32 * 30, 2);
        let b = quantize_q4_0(&x);
        // The largest magnitude maps to -8; the other sign only reaches +7, so values beyond
        // +7.5 steps are clamped and may be off by up to one step.
        check_round_trip(GgmlType::Q4_0, &x, &b, |blk, v| {
            let d = half_at(blk, 0);
            if v / d > 7.5 { d.abs() + 1e-6 } else { d.abs() * 0.5 + 1e-6 }
        });
    }

    #[test]
    fn q4_1_round_trip() {
        let x = test_data(32 * 30, 3);
        let b = quantize_q4_1(&x);
        // the minimum is rounded to f16, which can push the top of the range over the edge
        check_round_trip(GgmlType::Q4_1, &x, &b, |blk, _| {
            let d = half_at(blk, 0);
            let m = half_at(blk, 2);
            d * 0.5 + m.abs() * 1e-3 + 1e-6
        });
    }

    #[test]
    fn zero_blocks_are_zero() {
        for t in GgmlType::all().filter(|t| t.can_dequantize()) {
            let n = t.block_size() * 2;
            let bytes = vec![0u8; row_bytes(t, n).unwrap()];
            let y = deq(t, &bytes, n);
            assert!(y.iter().all(|v| *v == 0.0), "{t}");
        }
    }

    /// Random blocks of every supported type dequantized by the Python `gguf` package
    /// (gguf.quants.dequantize, gguf 0.19.0), see tests/data/quant_ref.json.
    #[test]
    fn matches_gguf_py_reference() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/quant_ref.json");
        let text = std::fs::read_to_string(path).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let cases = v["cases"].as_array().unwrap();
        let mut seen = std::collections::BTreeSet::new();
        for c in cases {
            let name = c["type"].as_str().unwrap();
            let t = GgmlType::all().find(|t| t.name() == name).unwrap();
            let hex = c["hex"].as_str().unwrap();
            let bytes: Vec<u8> =
                (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap()).collect();
            let want: Vec<f32> = c["values"].as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect();
            let got = deq(t, &bytes, want.len());
            for (i, (a, b)) in got.iter().zip(&want).enumerate() {
                assert!((a - b).abs() <= 1e-6 * b.abs().max(1.0), "{name} element {i}: {a} vs {b}");
            }
            seen.insert(name.to_string());
        }
        for t in ["F16", "BF16", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K"] {
            assert!(seen.contains(t), "no reference for {t}");
        }
    }
}
