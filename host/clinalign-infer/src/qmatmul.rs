//! Quantised matrix products: 4-bit weights kept as they are stored in GGUF (ggml `Q4_0` and
//! `Q4_1` blocks of 32) times activations quantised on the fly to 8 bits per block of 32,
//! with integer dot products.
//!
//! A weight in block `b` of a row is `d_b·q + m_b` (`q` in 0..=15; `Q4_0` is the case
//! `m_b = −8·d_b`); an activation in block `b` of a token is `e_b·a` (`a` in −127..=127,
//! `e_b = max|x| / 127` over the block). So a dot product is
//!
//! ```text
//! Σ_b d_b·e_b·Σ_k q_k·a_k  +  Σ_b m_b·(e_b·Σ_k a_k)
//! ```
//!
//! The first sum runs on integers (`vpmaddubsw`/`vpmaddwd` with AVX2, 32 products per
//! instruction pair), a tile of 2 weight rows × 4 tokens at a time so each unpacked weight
//! block serves four tokens; the second is a small `f32` product of `[tokens × blocks]` by
//! `[rows × blocks]`. This is what llama.cpp does for `Q4_1 × Q8_1`; the only rounding beyond
//! the stored weights is the activations' 8-bit quantisation (relative error about 0.4 % of a
//! block's largest value). Without AVX2 the same arithmetic runs as portable code.

use half::f16;
use rayon::prelude::*;

use crate::ops::matmul_wt;
use crate::quant::GgmlType;

/// Elements per quantisation block.
pub const QK: usize = 32;

/// A `[rows, cols]` weight matrix of 4-bit blocks (row-major, `cols` a multiple of 32).
#[derive(Debug, Clone)]
pub struct Q4Matrix {
    pub rows: usize,
    pub cols: usize,
    /// Blocks per row.
    nb: usize,
    /// 16 bytes per block; byte `j` holds element `j` (low nibble) and `j + 16` (high).
    qs: Vec<u8>,
    /// Scale per block, `[rows × nb]`.
    d: Vec<f32>,
    /// Offset per block, `[rows × nb]`.
    m: Vec<f32>,
}

impl Q4Matrix {
    /// Takes `rows × cols` elements of ggml `Q4_0` or `Q4_1` blocks.
    pub fn from_ggml(dtype: GgmlType, bytes: &[u8], rows: usize, cols: usize) -> Result<Q4Matrix, String> {
        if !cols.is_multiple_of(QK) {
            return Err(format!("{cols} columns are not a whole number of {QK}-element blocks"));
        }
        let nb = cols / QK;
        let block = match dtype {
            GgmlType::Q4_0 => 18,
            GgmlType::Q4_1 => 20,
            other => return Err(format!("{} is not a 4-bit block type (Q4_0, Q4_1)", other.name())),
        };
        let want = rows * nb * block;
        if bytes.len() != want {
            return Err(format!("{rows}×{cols} {} needs {want} bytes, got {}", dtype.name(), bytes.len()));
        }
        let mut qs = Vec::with_capacity(rows * nb * 16);
        let mut d = Vec::with_capacity(rows * nb);
        let mut m = Vec::with_capacity(rows * nb);
        let h = |b: &[u8], at: usize| f16::from_le_bytes([b[at], b[at + 1]]).to_f32();
        for blk in bytes.chunks_exact(block) {
            let scale = h(blk, 0);
            match dtype {
                GgmlType::Q4_0 => {
                    d.push(scale);
                    m.push(-8.0 * scale);
                    qs.extend_from_slice(&blk[2..18]);
                }
                _ => {
                    d.push(scale);
                    m.push(h(blk, 2));
                    qs.extend_from_slice(&blk[4..20]);
                }
            }
        }
        Ok(Q4Matrix { rows, cols, nb, qs, d, m })
    }

    /// Rows `start..end` as their own matrix (one expert of a stacked tensor).
    pub fn rows_slice(&self, start: usize, end: usize) -> Q4Matrix {
        let nb = self.nb;
        Q4Matrix {
            rows: end - start,
            cols: self.cols,
            nb,
            qs: self.qs[start * nb * 16..end * nb * 16].to_vec(),
            d: self.d[start * nb..end * nb].to_vec(),
            m: self.m[start * nb..end * nb].to_vec(),
        }
    }

    /// The weights in f32, row-major.
    pub fn dequantize(&self) -> Vec<f32> {
        let mut out = vec![0f32; self.rows * self.cols];
        for (bi, o) in out.chunks_exact_mut(QK).enumerate() {
            let q = &self.qs[bi * 16..bi * 16 + 16];
            for j in 0..16 {
                o[j] = self.d[bi] * (q[j] & 15) as f32 + self.m[bi];
                o[j + 16] = self.d[bi] * (q[j] >> 4) as f32 + self.m[bi];
            }
        }
        out
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.qs.len() + 4 * (self.d.len() + self.m.len())
    }

    /// `out[n×rows] = x[n×cols] · selfᵀ`, with `x` quantised to 8 bits per block.
    pub fn forward(&self, x: &[f32], n: usize, out: &mut [f32]) {
        assert_eq!(x.len(), n * self.cols, "Q4Matrix::forward: x is not {n}×{}", self.cols);
        assert_eq!(out.len(), n * self.rows, "Q4Matrix::forward: out is not {n}×{}", self.rows);
        let acts = QActs::quantize(x, n, self.cols);
        self.forward_quantized(&acts, out);
    }

    /// As [`Q4Matrix::forward`], with activations already quantised (shared by the
    /// projections that read the same input).
    pub fn forward_quantized(&self, acts: &QActs, out: &mut [f32]) {
        assert_eq!(acts.nb, self.nb, "activations have {} blocks per row, weights {}", acts.nb, self.nb);
        let (n, rows) = (acts.n, self.rows);
        assert_eq!(out.len(), n * rows);
        if n == 0 || rows == 0 {
            return;
        }
        // The offsets' share: Σ_b m_b · s_b, a [n × nb] by [rows × nb] product.
        matmul_wt(&acts.s, n, self.nb, &self.m, rows, out);
        // Row ranges per task: even sizes (2-row tiles), enough tasks to balance the threads.
        let tasks = (rayon::current_num_threads() * 4).max(1);
        let work = n * rows * self.cols;
        let chunk = if work < (1 << 18) { rows } else { (rows.div_ceil(tasks) + 1) & !1 }.max(2);
        let parts: Vec<(usize, Vec<f32>)> = (0..rows.div_ceil(chunk))
            .into_par_iter()
            .map(|c| {
                let (r0, r1) = (c * chunk, ((c + 1) * chunk).min(rows));
                let mut part = vec![0f32; n * (r1 - r0)];
                self.dot_rows(acts, r0, r1, &mut part);
                (r0, part)
            })
            .collect();
        for (r0, part) in parts {
            let width = part.len() / n;
            for t in 0..n {
                for (o, p) in out[t * rows + r0..t * rows + r0 + width].iter_mut().zip(&part[t * width..(t + 1) * width]) {
                    *o += p;
                }
            }
        }
    }

    /// `part[t][r - r0] = Σ_b d_b·e_b·Σ_k q_k·a_k` for rows `r0..r1`, every token.
    fn dot_rows(&self, acts: &QActs, r0: usize, r1: usize, part: &mut [f32]) {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
                // SAFETY: the features the function is compiled for were just detected.
                unsafe { avx2::dot_rows(self, acts, r0, r1, part) };
                return;
            }
        }
        self.dot_rows_portable(acts, r0, r1, part);
    }

    fn dot_rows_portable(&self, acts: &QActs, r0: usize, r1: usize, part: &mut [f32]) {
        let (nb, width) = (self.nb, r1 - r0);
        for t in 0..acts.n {
            for r in r0..r1 {
                let mut sum = 0f32;
                for b in 0..nb {
                    let q = &self.qs[(r * nb + b) * 16..(r * nb + b) * 16 + 16];
                    let a = &acts.qs[(t * nb + b) * QK..(t * nb + b + 1) * QK];
                    let mut acc = 0i32;
                    for j in 0..16 {
                        acc += (q[j] & 15) as i32 * a[j] as i32 + (q[j] >> 4) as i32 * a[j + 16] as i32;
                    }
                    sum += self.d[r * nb + b] * acts.d[t * nb + b] * acc as f32;
                }
                part[t * width + (r - r0)] = sum;
            }
        }
    }
}

/// Activations quantised to 8 bits per block of 32: `x ≈ d_b·q`.
#[derive(Debug, Clone)]
pub struct QActs {
    pub n: usize,
    nb: usize,
    qs: Vec<i8>,
    d: Vec<f32>,
    /// `d_b · Σ q` per block: the weight offsets' multiplier.
    s: Vec<f32>,
}

impl QActs {
    /// Quantises `x[n × k]` (`k` a multiple of 32).
    pub fn quantize(x: &[f32], n: usize, k: usize) -> QActs {
        assert!(k.is_multiple_of(QK), "QActs::quantize: {k} is not a multiple of {QK}");
        assert_eq!(x.len(), n * k);
        let nb = k / QK;
        let mut qs = vec![0i8; n * k];
        let mut d = vec![0f32; n * nb];
        let mut s = vec![0f32; n * nb];
        // One token's blocks; tokens in parallel when there are many.
        let quantize_row = |((xr, qr), (dr, sr)): ((&[f32], &mut [i8]), (&mut [f32], &mut [f32]))| {
            for (((xb, qb), db), sb) in xr.chunks_exact(QK).zip(qr.chunks_exact_mut(QK)).zip(dr.iter_mut()).zip(sr.iter_mut()) {
                let amax = xb.iter().fold(0f32, |a, v| a.max(v.abs()));
                let scale = amax / 127.0;
                let inv = if scale > 0.0 { 1.0 / scale } else { 0.0 };
                let mut sum = 0i32;
                for (q, v) in qb.iter_mut().zip(xb) {
                    let r = (v * inv).round() as i8;
                    *q = r;
                    sum += r as i32;
                }
                *db = scale;
                *sb = scale * sum as f32;
            }
        };
        if n * k >= 1 << 16 {
            x.par_chunks(k).zip(qs.par_chunks_mut(k)).zip(d.par_chunks_mut(nb).zip(s.par_chunks_mut(nb))).for_each(quantize_row);
        } else {
            x.chunks(k).zip(qs.chunks_mut(k)).zip(d.chunks_mut(nb).zip(s.chunks_mut(nb))).for_each(quantize_row);
        }
        QActs { n, nb, qs, d, s }
    }

    /// The quantised values back in f32 (for tests).
    pub fn dequantize(&self) -> Vec<f32> {
        self.qs.iter().enumerate().map(|(i, q)| *q as f32 * self.d[i / QK]).collect()
    }
}

#[cfg(target_arch = "x86_64")]
#[allow(unsafe_op_in_unsafe_fn)]
mod avx2 {
    use std::arch::x86_64::*;

    use super::{QActs, Q4Matrix, QK};

    /// Horizontal sum of eight lanes.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn hsum(v: __m256) -> f32 {
        let lo = _mm256_castps256_ps128(v);
        let hi = _mm256_extractf128_ps(v, 1);
        let s = _mm_add_ps(lo, hi);
        let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
        let s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
        _mm_cvtss_f32(s)
    }

    /// One 16-byte block of nibbles as 32 bytes in element order.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn unpack(p: *const u8, mask: __m256i) -> __m256i {
        let raw = _mm_loadu_si128(p as *const __m128i);
        let hi = _mm_srli_epi16(raw, 4);
        _mm256_and_si256(_mm256_set_m128i(hi, raw), mask)
    }

    /// One row × eight tokens. `sc` holds the eight tokens' activation scales per block
    /// (`[nb × 8]`, block-major), so a block's eight pair scales are one vector product.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn row8(w: &Q4Matrix, acts: &QActs, r: usize, t: usize, sc: &[f32]) -> [f32; 8] {
        let nb = w.nb;
        let mask = _mm256_set1_epi8(0x0F);
        let ones = _mm256_set1_epi16(1);
        let mut acc = [_mm256_setzero_ps(); 8];
        let wq = w.qs.as_ptr().add(r * nb * 16);
        let wd = w.d.as_ptr().add(r * nb);
        let aq = (acts.qs.as_ptr() as *const u8).add(t * nb * QK);
        let mut pair = [0f32; 8];
        for b in 0..nb {
            let wv = unpack(wq.add(b * 16), mask);
            let s = _mm256_mul_ps(_mm256_broadcast_ss(&*wd.add(b)), _mm256_loadu_ps(sc.as_ptr().add(b * 8)));
            _mm256_storeu_ps(pair.as_mut_ptr(), s);
            for j in 0..8 {
                let a = _mm256_loadu_si256(aq.add((j * nb + b) * QK) as *const __m256i);
                let p = _mm256_madd_epi16(_mm256_maddubs_epi16(wv, a), ones);
                acc[j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), _mm256_broadcast_ss(&pair[j]), acc[j]);
            }
        }
        let mut out = [0f32; 8];
        for j in 0..8 {
            out[j] = hsum(acc[j]);
        }
        out
    }

    /// One row × one token.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn row1(w: &Q4Matrix, acts: &QActs, r: usize, t: usize) -> f32 {
        let nb = w.nb;
        let mask = _mm256_set1_epi8(0x0F);
        let ones = _mm256_set1_epi16(1);
        let mut acc = _mm256_setzero_ps();
        let aq = acts.qs.as_ptr() as *const u8;
        for b in 0..nb {
            let wv = unpack(w.qs.as_ptr().add((r * nb + b) * 16), mask);
            let a = _mm256_loadu_si256(aq.add((t * nb + b) * QK) as *const __m256i);
            let p = _mm256_madd_epi16(_mm256_maddubs_epi16(wv, a), ones);
            let s = _mm256_set1_ps(*w.d.get_unchecked(r * nb + b) * *acts.d.get_unchecked(t * nb + b));
            acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), s, acc);
        }
        hsum(acc)
    }

    /// The integer part of the product for rows `r0..r1`: tokens eight at a time (their
    /// quantised blocks, 8 × cols bytes, stay in L1 while every row of the range passes over
    /// them), the remainder one at a time.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn dot_rows(w: &Q4Matrix, acts: &QActs, r0: usize, r1: usize, part: &mut [f32]) {
        let width = r1 - r0;
        let (n, nb) = (acts.n, w.nb);
        let mut sc = vec![0f32; nb * 8];
        let mut t = 0;
        while t + 8 <= n {
            for b in 0..nb {
                for j in 0..8 {
                    sc[b * 8 + j] = acts.d[(t + j) * nb + b];
                }
            }
            for r in r0..r1 {
                let v = row8(w, acts, r, t, &sc);
                for j in 0..8 {
                    *part.get_unchecked_mut((t + j) * width + r - r0) = v[j];
                }
            }
            t += 8;
        }
        while t < n {
            for r in r0..r1 {
                *part.get_unchecked_mut(t * width + r - r0) = row1(w, acts, r, t);
            }
            t += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lcg(seed: u64) -> impl FnMut() -> f32 {
        let mut s = seed;
        move || {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((s >> 33) as f32 / (1u64 << 31) as f32) * 2.0 - 1.0
        }
    }

    /// Random Q4_1 (or Q4_0) bytes for a `rows × cols` matrix.
    fn random_q4(dtype: GgmlType, rows: usize, cols: usize, seed: u64) -> Vec<u8> {
        let mut r = lcg(seed);
        let mut out = Vec::new();
        for _ in 0..rows * cols / QK {
            out.extend(f16::from_f32(0.01 + 0.05 * r().abs()).to_le_bytes());
            if dtype == GgmlType::Q4_1 {
                out.extend(f16::from_f32(-0.4 * r().abs()).to_le_bytes());
            }
            for _ in 0..16 {
                out.push(((r() * 0.5 + 0.5) * 255.0) as u8);
            }
        }
        out
    }

    /// Σ over the exact quantised values, in f64.
    fn reference(w: &[f32], acts: &[f32], n: usize, k: usize, rows: usize) -> Vec<f32> {
        let mut out = vec![0f32; n * rows];
        for t in 0..n {
            for r in 0..rows {
                out[t * rows + r] = (0..k).map(|i| w[r * k + i] as f64 * acts[t * k + i] as f64).sum::<f64>() as f32;
            }
        }
        out
    }

    #[test]
    fn matches_the_exact_product_of_the_quantised_values() {
        // Odd row counts and token counts exercise every tile shape; the large case runs in
        // parallel row ranges.
        for (dtype, n, k, rows) in [(GgmlType::Q4_1, 1, 32, 1), (GgmlType::Q4_1, 7, 96, 5), (GgmlType::Q4_0, 9, 64, 3), (GgmlType::Q4_1, 37, 576, 203)] {
            let q = Q4Matrix::from_ggml(dtype, &random_q4(dtype, rows, k, 7), rows, k).unwrap();
            let mut r = lcg(11);
            let x: Vec<f32> = (0..n * k).map(|_| r() * 3.0).collect();
            let acts = QActs::quantize(&x, n, k);
            let want = reference(&q.dequantize(), &acts.dequantize(), n, k, rows);
            let mut got = vec![0f32; n * rows];
            q.forward_quantized(&acts, &mut got);
            let mut portable = vec![0f32; n * rows];
            q.dot_rows_portable(&acts, 0, rows, &mut portable);
            let mut offsets = vec![0f32; n * rows];
            matmul_wt(&acts.s, n, q.nb, &q.m, rows, &mut offsets);
            for i in 0..n * rows {
                let tol = 1e-4 * (1.0 + want[i].abs());
                assert!((got[i] - want[i]).abs() <= tol, "{dtype:?} {n}×{k}×{rows} [{i}]: {} vs {}", got[i], want[i]);
                assert!((portable[i] + offsets[i] - want[i]).abs() <= tol, "portable [{i}]");
            }
            // And close to the f32 product with unquantised activations.
            // Each activation moves by at most half a step (amax / 254 of its block).
            let wd = q.dequantize();
            let exact = reference(&wd, &x, n, k, rows);
            let wabs: Vec<f32> = wd.iter().map(|v| v.abs()).collect();
            let step: Vec<f32> = x.chunks(QK).flat_map(|b| {
                let amax = b.iter().fold(0f32, |a, v| a.max(v.abs()));
                vec![amax / 254.0 * 1.01; QK]
            }).collect();
            let bound = reference(&wabs, &step, n, k, rows);
            for i in 0..n * rows {
                assert!((got[i] - exact[i]).abs() <= bound[i] + 1e-4, "activation rounding beyond its bound at {i}");
            }
        }
    }

    #[test]
    fn decodes_q4_blocks_like_ggml() {
        // Q4_1: d = 0.25, m = −1, nibbles j | (15 − j) << 4.
        let mut b = f16::from_f32(0.25).to_le_bytes().to_vec();
        b.extend(f16::from_f32(-1.0).to_le_bytes());
        b.extend((0..16u8).map(|j| j | ((15 - j) << 4)));
        let q = Q4Matrix::from_ggml(GgmlType::Q4_1, &b, 1, 32).unwrap();
        let v = q.dequantize();
        let mut want = vec![0f32; 32];
        crate::quant::dequantize(GgmlType::Q4_1, &b, &mut want).unwrap();
        assert_eq!(v, want);
        // Q4_0 against the reference decoder too.
        let raw = random_q4(GgmlType::Q4_0, 3, 64, 5);
        let q = Q4Matrix::from_ggml(GgmlType::Q4_0, &raw, 3, 64).unwrap();
        let mut want = vec![0f32; 3 * 64];
        crate::quant::dequantize(GgmlType::Q4_0, &raw, &mut want).unwrap();
        assert_eq!(q.dequantize(), want);
        assert_eq!(q.rows_slice(1, 3).dequantize(), want[64..].to_vec());
    }

    #[test]
    fn bad_shapes_are_errors() {
        assert!(Q4Matrix::from_ggml(GgmlType::Q4_1, &[0; 20], 1, 33).unwrap_err().contains("blocks"));
        assert!(Q4Matrix::from_ggml(GgmlType::Q4_1, &[0; 19], 1, 32).unwrap_err().contains("needs 20 bytes"));
        assert!(Q4Matrix::from_ggml(GgmlType::Q8_0, &[0; 34], 1, 32).unwrap_err().contains("not a 4-bit"));
    }

    #[test]
    fn zero_activations_give_zero() {
        let q = Q4Matrix::from_ggml(GgmlType::Q4_1, &random_q4(GgmlType::Q4_1, 4, 64, 3), 4, 64).unwrap();
        let mut out = vec![1f32; 2 * 4];
        q.forward(&vec![0f32; 2 * 64], 2, &mut out);
        assert!(out.iter().all(|v| *v == 0.0));
    }
}
