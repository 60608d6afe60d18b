//! Quantised matrix products: 4-bit weights (ggml `Q4_0` and `Q4_1` blocks of 32) times
//! activations quantised on the fly to 8 bits per block of 32, with integer dot products.
//!
//! A weight in block `b` of a row is `d_b·q + m_b` (`q` in 0..=15; `Q4_0` is the case
//! `m_b = −8·d_b`); an activation in block `b` of a token is `e_b·a` (`a` in −127..=127,
//! `e_b = max|x| / 127` over the block). So a dot product is
//!
//! ```text
//! Σ_b d_b·e_b·Σ_k q_k·a_k  +  Σ_b m_b·(e_b·Σ_k a_k)
//! ```
//!
//! The second sum is a small `f32` product of `[tokens × blocks]` by `[rows × blocks]`. The
//! first runs on integers, in a layout chosen so the per-block scales cost almost nothing.
//! Blocks go in groups of 8 (or 2, for the last blocks of a row): in a 32-byte vector, each
//! 4-byte lane holds 4 elements of one block of the group. `vpmaddubsw` multiplies
//! unsigned 4-bit weights by signed 8-bit activations and adds pairs into 16-bit lanes. A
//! group's 8 (or 2) vectors add up in 16 bits without overflow (8 · 2 · 15 · 127 < 2¹⁵), one
//! `vpmaddwd` widens the sums, and each 32-bit lane then holds one block's whole integer dot
//! product. A single multiply by the vector of the 8 blocks' `d_b·e_b` scales applies them
//! all. That is about 2.6 vector instructions per 32 multiply-adds, against 4 FMAs in f32.
//! Weights stay packed two per byte (iterations `h` and `h + I/2` of a group share bytes).
//! Rows must have a multiple of 64 elements. Without AVX2 the same arithmetic runs as
//! portable code.

use half::f16;
use rayon::prelude::*;

use crate::ops::matmul_wt;
use crate::quant::GgmlType;

/// Elements per quantisation block.
pub const QK: usize = 32;

/// The groups of a row of `nb` blocks (`nb` even): `(first block, blocks)` with 8 blocks per
/// group, then groups of 2 for the rest.
fn groups(nb: usize) -> Vec<(usize, usize)> {
    let mut g = Vec::new();
    let mut b = 0;
    while b + 8 <= nb {
        g.push((b, 8));
        b += 8;
    }
    while b + 2 <= nb {
        g.push((b, 2));
        b += 2;
    }
    g
}

/// Where element `e` (0..32) of block `l` of a group of `size` blocks goes: (iteration,
/// byte within the iteration's 32-byte vector).
#[inline]
fn place(size: usize, l: usize, e: usize) -> (usize, usize) {
    let lanes = 8 / size; // 4-byte lanes per block
    let lane = l * lanes + (e / 4) % lanes;
    (e / (4 * lanes), 4 * lane + e % 4)
}

/// Where element `e` of block `b` of a row sits: the block's group `(first block, size)` and
/// its place in that group.
fn locate(groups: &[(usize, usize)], b: usize, e: usize) -> (usize, usize, usize, usize) {
    let &(b0, size) = groups.iter().find(|(b0, size)| b < b0 + size).expect("block in a group");
    let (i, byte) = place(size, b - b0, e);
    (b0, size, i, byte)
}

/// A `[rows, cols]` weight matrix of 4-bit blocks in the grouped layout above.
#[derive(Debug, Clone)]
pub struct Q4Matrix {
    pub rows: usize,
    pub cols: usize,
    /// Blocks per row.
    nb: usize,
    groups: Vec<(usize, usize)>,
    /// 16 bytes per block, row-major, grouped and packed (see the module docs).
    qs: Vec<u8>,
    /// Per row and group, the 8 lane scales (`d` of the lane's block), `[rows × groups × 8]`.
    dv: Vec<f32>,
    /// Scale per block in natural order, `[rows × nb]`.
    d: Vec<f32>,
    /// Offset per block, `[rows × nb]`.
    m: Vec<f32>,
}

/// Packs 32-element blocks of nibbles (`vals[b][e]`, 0..=15) of one group into its vectors.
fn pack_group(size: usize, vals: &[[u8; QK]]) -> Vec<u8> {
    let iters = QK * size / 32;
    let mut it = vec![[0u8; 32]; iters];
    for (l, block) in vals.iter().enumerate() {
        for (e, v) in block.iter().enumerate() {
            let (i, byte) = place(size, l, e);
            it[i][byte] = *v;
        }
    }
    let half = iters / 2;
    (0..half).flat_map(|h| (0..32).map(move |j| (h, j))).map(|(h, j)| it[h][j] | (it[h + half][j] << 4)).collect()
}

impl Q4Matrix {
    /// Takes `rows × cols` elements of ggml `Q4_0` or `Q4_1` blocks.
    pub fn from_ggml(dtype: GgmlType, bytes: &[u8], rows: usize, cols: usize) -> Result<Q4Matrix, String> {
        if !cols.is_multiple_of(2 * QK) {
            return Err(format!("{cols} columns are not a multiple of {} (pairs of {QK}-element blocks)", 2 * QK));
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
        let groups = groups(nb);
        let h = |b: &[u8], at: usize| f16::from_le_bytes([b[at], b[at + 1]]).to_f32();
        let mut qs = Vec::with_capacity(rows * nb * 16);
        let mut dv = Vec::with_capacity(rows * groups.len() * 8);
        let mut d = Vec::with_capacity(rows * nb);
        let mut m = Vec::with_capacity(rows * nb);
        for row in bytes.chunks_exact(nb * block) {
            let mut vals = vec![[0u8; QK]; nb];
            for (b, blk) in row.chunks_exact(block).enumerate() {
                let scale = h(blk, 0);
                let (min, q) =
                    if dtype == GgmlType::Q4_0 { (-8.0 * scale, &blk[2..18]) } else { (h(blk, 2), &blk[4..20]) };
                d.push(scale);
                m.push(min);
                for j in 0..16 {
                    vals[b][j] = q[j] & 15;
                    vals[b][j + 16] = q[j] >> 4;
                }
            }
            let row_d = &d[d.len() - nb..];
            for &(b0, size) in &groups {
                qs.extend(pack_group(size, &vals[b0..b0 + size]));
                for lane in 0..8 {
                    dv.push(row_d[b0 + lane * size / 8]);
                }
            }
        }
        Ok(Q4Matrix { rows, cols, nb, groups, qs, dv, d, m })
    }

    /// The 4-bit value of element `e` of block `b` in row `r`.
    fn nibble(&self, r: usize, b: usize, e: usize) -> u8 {
        let (b0, size, i, byte) = locate(&self.groups, b, e);
        let half = QK * size / 64;
        let packed = self.qs[r * self.nb * 16 + b0 * 16 + (i % half) * 32 + byte];
        if i < half { packed & 15 } else { packed >> 4 }
    }

    /// The weights in f32, row-major.
    pub fn dequantize(&self) -> Vec<f32> {
        let mut out = vec![0f32; self.rows * self.cols];
        for r in 0..self.rows {
            for b in 0..self.nb {
                let (d, m) = (self.d[r * self.nb + b], self.m[r * self.nb + b]);
                for e in 0..QK {
                    out[r * self.cols + b * QK + e] = d * self.nibble(r, b, e) as f32 + m;
                }
            }
        }
        out
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
        // Row ranges per task, enough tasks to balance the threads.
        let tasks = (rayon::current_num_threads() * 4).max(1);
        let work = n * rows * self.cols;
        let chunk = if work < (1 << 18) { rows } else { rows.div_ceil(tasks) }.max(1);
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
                for (o, p) in
                    out[t * rows + r0..t * rows + r0 + width].iter_mut().zip(&part[t * width..(t + 1) * width])
                {
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
                    let acc: i32 = (0..QK).map(|e| self.nibble(r, b, e) as i32 * acts.value(t, b, e) as i32).sum();
                    sum += self.d[r * nb + b] * acts.d[t * nb + b] * acc as f32;
                }
                part[t * width + (r - r0)] = sum;
            }
        }
    }
}

/// Activations quantised to 8 bits per block of 32 (`x ≈ d_b·q`), in the grouped layout of
/// the weights.
#[derive(Debug, Clone)]
pub struct QActs {
    pub n: usize,
    nb: usize,
    groups: Vec<(usize, usize)>,
    /// `[n × nb × 32]`, grouped like the weights (unpacked: one byte per element).
    qs: Vec<i8>,
    /// Per token and group, the 8 lane scales, `[n × groups × 8]`.
    dv: Vec<f32>,
    /// Scale per block, `[n × nb]`.
    d: Vec<f32>,
    /// `d_b · Σ q` per block: the weight offsets' multiplier.
    s: Vec<f32>,
}

/// One token's slices while quantising: (((x, quantised values), lane scales), (block
/// scales, block sums)), as the zipped chunk iterators hand them out.
type RowParts<'a> = (((&'a [f32], &'a mut [i8]), &'a mut [f32]), (&'a mut [f32], &'a mut [f32]));

impl QActs {
    /// Quantises `x[n × k]` (`k` a multiple of 64).
    pub fn quantize(x: &[f32], n: usize, k: usize) -> QActs {
        assert!(k.is_multiple_of(2 * QK), "QActs::quantize: {k} is not a multiple of {}", 2 * QK);
        assert_eq!(x.len(), n * k);
        let nb = k / QK;
        let groups = groups(nb);
        let ng = groups.len();
        let mut qs = vec![0i8; n * k];
        let mut dv = vec![0f32; n * ng * 8];
        let mut d = vec![0f32; n * nb];
        let mut s = vec![0f32; n * nb];
        // Byte offsets of a block's 32 elements inside its group, per group size.
        let table = |size: usize, l: usize| -> [usize; QK] {
            std::array::from_fn(|e| place(size, l, e)).map(|(i, byte)| i * 32 + byte)
        };
        let tables: Vec<[usize; QK]> =
            groups.iter().flat_map(|&(_, size)| (0..size).map(move |l| table(size, l))).collect();
        let quantize_row = |(((xr, qr), dvr), (dr, sr)): RowParts<'_>| {
            const ROUND: f32 = 12_582_912.0; // 1.5 · 2²³: adding and subtracting rounds to nearest
            for (gi, &(b0, size)) in groups.iter().enumerate() {
                let gq = &mut qr[b0 * QK..(b0 + size) * QK];
                for l in 0..size {
                    let b = b0 + l;
                    let xb: &[f32; QK] = xr[b * QK..(b + 1) * QK].try_into().expect("a block");
                    let amax = xb.iter().fold(0f32, |a, v| a.max(v.abs()));
                    let scale = amax / 127.0;
                    let inv = if scale > 0.0 { 1.0 / scale } else { 0.0 };
                    let q: [i32; QK] = std::array::from_fn(|e| ((xb[e] * inv + ROUND) - ROUND) as i32);
                    for (e, at) in tables[b].iter().enumerate() {
                        gq[*at] = q[e] as i8;
                    }
                    dr[b] = scale;
                    sr[b] = scale * q.iter().sum::<i32>() as f32;
                }
                for lane in 0..8 {
                    dvr[gi * 8 + lane] = dr[b0 + lane * size / 8];
                }
            }
        };
        let rows =
            x.chunks(k).zip(qs.chunks_mut(k)).zip(dv.chunks_mut(ng * 8)).zip(d.chunks_mut(nb).zip(s.chunks_mut(nb)));
        if n * k >= 1 << 16 {
            x.par_chunks(k)
                .zip(qs.par_chunks_mut(k))
                .zip(dv.par_chunks_mut(ng * 8))
                .zip(d.par_chunks_mut(nb).zip(s.par_chunks_mut(nb)))
                .for_each(quantize_row);
        } else {
            rows.for_each(quantize_row);
        }
        QActs { n, nb, groups, qs, dv, d, s }
    }

    /// The quantised value of element `e` of block `b` of token `t`.
    fn value(&self, t: usize, b: usize, e: usize) -> i8 {
        let (b0, _, i, byte) = locate(&self.groups, b, e);
        self.qs[t * self.nb * QK + b0 * QK + i * 32 + byte]
    }

    /// The quantised values back in f32, natural order (for tests).
    pub fn dequantize(&self) -> Vec<f32> {
        let mut out = Vec::with_capacity(self.n * self.nb * QK);
        for t in 0..self.n {
            for b in 0..self.nb {
                for e in 0..QK {
                    out.push(self.value(t, b, e) as f32 * self.d[t * self.nb + b]);
                }
            }
        }
        out
    }
}

#[cfg(target_arch = "x86_64")]
#[allow(unsafe_op_in_unsafe_fn)]
mod avx2 {
    use std::arch::x86_64::*;

    use super::{Q4Matrix, QActs, QK};

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

    /// One row against `C` tokens starting at `t`: every group's integer dot products in
    /// 16-bit lanes, widened once, scaled by the group's lane scales.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    #[allow(clippy::needless_range_loop, reason = "lane-indexed loops over register arrays, as the kernel was tuned")]
    unsafe fn row<const C: usize>(w: &Q4Matrix, acts: &QActs, r: usize, t: usize) -> [f32; C] {
        let (nb, ng) = (w.nb, w.groups.len());
        let mask = _mm256_set1_epi8(0x0F);
        let ones = _mm256_set1_epi16(1);
        let mut acc = [_mm256_setzero_ps(); C];
        let wrow = w.qs.as_ptr().add(r * nb * 16);
        let wdv = w.dv.as_ptr().add(r * ng * 8);
        let arow = acts.qs.as_ptr() as *const u8;
        for (gi, &(b0, size)) in w.groups.iter().enumerate() {
            let wd = _mm256_loadu_ps(wdv.add(gi * 8));
            let wp = wrow.add(b0 * 16);
            if size == 8 {
                let mut wv = [_mm256_setzero_si256(); 8];
                for h in 0..4 {
                    let p = _mm256_loadu_si256(wp.add(h * 32) as *const __m256i);
                    wv[h] = _mm256_and_si256(p, mask);
                    wv[h + 4] = _mm256_and_si256(_mm256_srli_epi16(p, 4), mask);
                }
                for j in 0..C {
                    let a = arow.add(((t + j) * nb + b0) * QK);
                    let mut s16 = _mm256_maddubs_epi16(wv[0], _mm256_loadu_si256(a as *const __m256i));
                    for i in 1..8 {
                        s16 = _mm256_add_epi16(
                            s16,
                            _mm256_maddubs_epi16(wv[i], _mm256_loadu_si256(a.add(i * 32) as *const __m256i)),
                        );
                    }
                    let ad = _mm256_loadu_ps(acts.dv.as_ptr().add(((t + j) * ng + gi) * 8));
                    let p = _mm256_cvtepi32_ps(_mm256_madd_epi16(s16, ones));
                    acc[j] = _mm256_fmadd_ps(p, _mm256_mul_ps(wd, ad), acc[j]);
                }
            } else {
                let p = _mm256_loadu_si256(wp as *const __m256i);
                let w0 = _mm256_and_si256(p, mask);
                let w1 = _mm256_and_si256(_mm256_srli_epi16(p, 4), mask);
                for j in 0..C {
                    let a = arow.add(((t + j) * nb + b0) * QK);
                    let s16 = _mm256_add_epi16(
                        _mm256_maddubs_epi16(w0, _mm256_loadu_si256(a as *const __m256i)),
                        _mm256_maddubs_epi16(w1, _mm256_loadu_si256(a.add(32) as *const __m256i)),
                    );
                    let ad = _mm256_loadu_ps(acts.dv.as_ptr().add(((t + j) * ng + gi) * 8));
                    let p = _mm256_cvtepi32_ps(_mm256_madd_epi16(s16, ones));
                    acc[j] = _mm256_fmadd_ps(p, _mm256_mul_ps(wd, ad), acc[j]);
                }
            }
        }
        let mut out = [0f32; C];
        for j in 0..C {
            out[j] = hsum(acc[j]);
        }
        out
    }

    /// The integer part of the product for rows `r0..r1`: tokens eight at a time (their
    /// quantised activations stay in L1 while every row of the range passes over them),
    /// the remainder one at a time.
    #[target_feature(enable = "avx2,fma")]
    #[allow(clippy::needless_range_loop, reason = "lane-indexed loops over register arrays, as the kernel was tuned")]
    pub(super) unsafe fn dot_rows(w: &Q4Matrix, acts: &QActs, r0: usize, r1: usize, part: &mut [f32]) {
        let width = r1 - r0;
        let n = acts.n;
        let mut t = 0;
        while t + 8 <= n {
            for r in r0..r1 {
                let v = row::<8>(w, acts, r, t);
                for j in 0..8 {
                    *part.get_unchecked_mut((t + j) * width + r - r0) = v[j];
                }
            }
            t += 8;
        }
        while t < n {
            for r in r0..r1 {
                *part.get_unchecked_mut(t * width + r - r0) = row::<1>(w, acts, r, t)[0];
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
        for (dtype, n, k, rows) in [
            (GgmlType::Q4_1, 1, 64, 1),
            (GgmlType::Q4_1, 7, 320, 5),
            (GgmlType::Q4_0, 9, 64, 3),
            (GgmlType::Q4_1, 37, 576, 203),
            (GgmlType::Q4_1, 17, 1536, 9),
        ] {
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
            let step: Vec<f32> = x
                .chunks(QK)
                .flat_map(|b| {
                    let amax = b.iter().fold(0f32, |a, v| a.max(v.abs()));
                    vec![amax / 254.0 * 1.01; QK]
                })
                .collect();
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
        b.extend(b.clone());
        let q = Q4Matrix::from_ggml(GgmlType::Q4_1, &b, 1, 64).unwrap();
        let v = q.dequantize();
        let mut want = vec![0f32; 64];
        crate::quant::dequantize(GgmlType::Q4_1, &b, &mut want).unwrap();
        assert_eq!(v, want);
        // Q4_0 against the reference decoder too.
        let raw = random_q4(GgmlType::Q4_0, 3, 64, 5);
        let q = Q4Matrix::from_ggml(GgmlType::Q4_0, &raw, 3, 64).unwrap();
        let mut want = vec![0f32; 3 * 64];
        crate::quant::dequantize(GgmlType::Q4_0, &raw, &mut want).unwrap();
        assert_eq!(q.dequantize(), want);
        // Rows taken from a byte sub-range (how one expert of a stacked tensor is read).
        let tail = Q4Matrix::from_ggml(GgmlType::Q4_0, &raw[18 * 2..], 2, 64).unwrap();
        assert_eq!(tail.dequantize(), want[64..].to_vec());
    }

    #[test]
    fn bad_shapes_are_errors() {
        assert!(Q4Matrix::from_ggml(GgmlType::Q4_1, &[0; 20], 1, 32).unwrap_err().contains("multiple of 64"));
        assert!(Q4Matrix::from_ggml(GgmlType::Q4_1, &[0; 39], 1, 64).unwrap_err().contains("needs 40 bytes"));
        assert!(Q4Matrix::from_ggml(GgmlType::Q8_0, &[0; 68], 1, 64).unwrap_err().contains("not a 4-bit"));
    }

    #[test]
    fn zero_activations_give_zero() {
        let q = Q4Matrix::from_ggml(GgmlType::Q4_1, &random_q4(GgmlType::Q4_1, 4, 64, 3), 4, 64).unwrap();
        let mut out = vec![1f32; 2 * 4];
        q.forward(&vec![0f32; 2 * 64], 2, &mut out);
        assert!(out.iter().all(|v| *v == 0.0));
    }
}
