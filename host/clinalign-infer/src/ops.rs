//! The numeric building blocks of the forward pass, on row-major `f32` slices.

use std::ops::Range;

use gemm::Parallelism;
use rayon::prelude::*;

/// Below this many multiply-adds a matmul runs on one thread.
const PARALLEL_WORK: usize = 1 << 18;

fn parallelism(work: usize) -> Parallelism {
    if work >= PARALLEL_WORK { Parallelism::Rayon(rayon::current_num_threads()) } else { Parallelism::None }
}

/// A read-only view of a row-major `f32` matrix: `rows × cols` elements of `data`, row `i`
/// starting at `i · row_stride`. With `row_stride > cols` it is a block of a wider matrix (one
/// head's columns of a projection, the first columns of a score block), read without a copy.
#[derive(Debug, Clone, Copy)]
pub struct MatRef<'a> {
    data: &'a [f32],
    rows: usize,
    cols: usize,
    row_stride: usize,
}

/// A mutable view of a row-major `f32` matrix, laid out as [`MatRef`].
#[derive(Debug)]
pub struct MatMut<'a> {
    data: &'a mut [f32],
    rows: usize,
    cols: usize,
    row_stride: usize,
}

/// Checks that `rows × cols` at `row_stride` fits in `len` elements: every view's invariant,
/// which [`gemm_into`] relies on.
fn check_view(len: usize, rows: usize, cols: usize, row_stride: usize) {
    assert!(row_stride >= cols, "matrix view: row stride {row_stride} is shorter than {cols} columns");
    assert!(
        rows == 0 || len >= (rows - 1) * row_stride + cols,
        "matrix view: {rows}×{cols} at row stride {row_stride} does not fit in {len} elements"
    );
}

/// Where row `r.start` of a view begins (an empty range past the last row stays in bounds).
fn rows_at(len: usize, rows: usize, row_stride: usize, r: &Range<usize>) -> usize {
    assert!(r.start <= r.end && r.end <= rows, "matrix view: rows {r:?} outside 0..{rows}");
    (r.start * row_stride).min(len)
}

impl<'a> MatRef<'a> {
    /// `rows × cols` elements of `data` at `row_stride`; panics if they do not fit.
    pub fn new(data: &'a [f32], rows: usize, cols: usize, row_stride: usize) -> MatRef<'a> {
        check_view(data.len(), rows, cols, row_stride);
        MatRef { data, rows, cols, row_stride }
    }

    /// A contiguous `rows × cols` matrix; panics unless `data` holds exactly that.
    pub fn dense(data: &'a [f32], rows: usize, cols: usize) -> MatRef<'a> {
        assert_eq!(data.len(), rows * cols, "matrix view: {} elements are not {rows}×{cols}", data.len());
        MatRef { data, rows, cols, row_stride: cols }
    }

    /// Rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Columns.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// Elements from the start of one row to the start of the next.
    pub fn row_stride(&self) -> usize {
        self.row_stride
    }

    /// The rows in `r`, every column.
    pub fn subrows(self, r: Range<usize>) -> MatRef<'a> {
        let at = rows_at(self.data.len(), self.rows, self.row_stride, &r);
        MatRef { data: &self.data[at..], rows: r.len(), ..self }
    }

    /// The columns in `c`, every row.
    pub fn subcols(self, c: Range<usize>) -> MatRef<'a> {
        assert!(c.start <= c.end && c.end <= self.cols, "matrix view: columns {c:?} outside 0..{}", self.cols);
        let at = c.start.min(self.data.len());
        MatRef { data: &self.data[at..], cols: c.len(), ..self }
    }
}

impl<'a> MatMut<'a> {
    /// `rows × cols` elements of `data` at `row_stride`; panics if they do not fit.
    pub fn new(data: &'a mut [f32], rows: usize, cols: usize, row_stride: usize) -> MatMut<'a> {
        check_view(data.len(), rows, cols, row_stride);
        MatMut { data, rows, cols, row_stride }
    }

    /// A contiguous `rows × cols` matrix; panics unless `data` holds exactly that.
    pub fn dense(data: &'a mut [f32], rows: usize, cols: usize) -> MatMut<'a> {
        assert_eq!(data.len(), rows * cols, "matrix view: {} elements are not {rows}×{cols}", data.len());
        MatMut { data, rows, cols, row_stride: cols }
    }

    /// Rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Columns.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// Elements from the start of one row to the start of the next.
    pub fn row_stride(&self) -> usize {
        self.row_stride
    }

    /// The same matrix, borrowed again (to write it more than once).
    pub fn rb_mut(&mut self) -> MatMut<'_> {
        MatMut { data: self.data, rows: self.rows, cols: self.cols, row_stride: self.row_stride }
    }

    /// The rows in `r`, every column.
    pub fn subrows(&mut self, r: Range<usize>) -> MatMut<'_> {
        let at = rows_at(self.data.len(), self.rows, self.row_stride, &r);
        MatMut { data: &mut self.data[at..], rows: r.len(), cols: self.cols, row_stride: self.row_stride }
    }

    /// The columns in `c`, every row.
    pub fn subcols(&mut self, c: Range<usize>) -> MatMut<'_> {
        assert!(c.start <= c.end && c.end <= self.cols, "matrix view: columns {c:?} outside 0..{}", self.cols);
        let at = c.start.min(self.data.len());
        MatMut { data: &mut self.data[at..], rows: self.rows, cols: c.len(), row_stride: self.row_stride }
    }
}

/// `out[n×m] = x[n×k] · w[m×k]ᵀ`: `w` is laid out like a linear layer's weight
/// (`[out_features, in_features]`, row-major), so no transpose is materialised.
pub fn matmul_wt(x: &[f32], n: usize, k: usize, w: &[f32], m: usize, out: &mut [f32]) {
    assert_eq!(x.len(), n * k, "matmul_wt: x is not {n}×{k}");
    assert_eq!(w.len(), m * k, "matmul_wt: w is not {m}×{k}");
    assert_eq!(out.len(), n * m, "matmul_wt: out is not {n}×{m}");
    if n == 0 || m == 0 {
        return;
    }
    if k == 0 {
        out.fill(0.0);
        return;
    }
    let w = Rhs::Transposed(MatRef::dense(w, m, k));
    // Many rows: split them across the threads, each running gemm alone (measured faster
    // than gemm's own threading for prefill shapes on small machines).
    let threads = rayon::current_num_threads();
    if threads > 1 && n >= 32 * threads && n * m * k >= PARALLEL_WORK {
        let rows = n.div_ceil(threads);
        x.par_chunks(rows * k).zip(out.par_chunks_mut(rows * m)).for_each(|(xc, oc)| {
            let r = xc.len() / k;
            gemm_into(MatRef::dense(xc, r, k), w, MatMut::dense(oc, r, m), 1.0, false, Parallelism::None)
        });
        return;
    }
    gemm_into(MatRef::dense(x, n, k), w, MatMut::dense(out, n, m), 1.0, false, parallelism(n * m * k));
}

/// The right-hand operand of a product, as [`gemm_into`] reads it.
#[derive(Debug, Clone, Copy)]
enum Rhs<'a> {
    /// `wᵀ` for an `[m × k]` view `w` (a linear layer's weight, keys).
    Transposed(MatRef<'a>),
    /// A `[k × m]` view as it is (values).
    Plain(MatRef<'a>),
}

/// `out (+)= scale · x · rhs`, with `x` `[n × k]`, `rhs` `[k × m]` and `out` `[n × m]`: the one
/// place that calls `gemm`. With `accumulate`, adds to `out`; otherwise overwrites it.
fn gemm_into(x: MatRef<'_>, rhs: Rhs<'_>, out: MatMut<'_>, scale: f32, accumulate: bool, par: Parallelism) {
    let (n, k) = (x.rows, x.cols);
    // The view, its inner and outer dimensions, and its strides: rhs(p, j) = data[j·cs + p·rs].
    let (b, inner, m, cs, rs) = match rhs {
        Rhs::Transposed(w) => (w, w.cols, w.rows, w.row_stride, 1),
        Rhs::Plain(b) => (b, b.rows, b.cols, 1, b.row_stride),
    };
    assert_eq!(inner, k, "gemm: x has {k} columns, rhs {inner} rows");
    assert!(out.rows == n && out.cols == m, "gemm: out is {}×{}, expected {n}×{m}", out.rows, out.cols);
    if n == 0 || m == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            for i in 0..n {
                out.data[i * out.row_stride..i * out.row_stride + m].fill(0.0);
            }
        }
        return;
    }
    // SAFETY: every view's constructor checked that its rows × cols at its row stride lie in
    // its slice, so gemm's indices stay in bounds: dst rows i < n at stride out.row_stride with
    // m columns, lhs rows at stride x.row_stride with k columns, rhs element (p, j) at
    // j·cs + p·rs (inside the m×k or k×m view `b`). `out` borrows its slice mutably, so it
    // aliases neither input.
    unsafe {
        gemm::gemm(
            n,
            m,
            k,
            out.data.as_mut_ptr(),
            1,
            out.row_stride as isize,
            accumulate,
            x.data.as_ptr(),
            1,
            x.row_stride as isize,
            b.data.as_ptr(),
            cs as isize,
            rs as isize,
            1.0,
            scale,
            false,
            false,
            false,
            par,
        )
    }
}

/// RMSNorm of each `dim`-long row of `x` into `out`: `x / sqrt(mean(x²) + eps) * w`.
pub fn rms_norm(x: &[f32], w: &[f32], eps: f32, out: &mut [f32]) {
    let dim = w.len();
    for (row, o) in x.chunks_exact(dim).zip(out.chunks_exact_mut(dim)) {
        let ms = row.iter().map(|v| v * v).sum::<f32>() / dim as f32;
        let scale = 1.0 / (ms + eps).sqrt();
        for ((o, v), w) in o.iter_mut().zip(row).zip(w) {
            *o = v * scale * w;
        }
    }
}

/// RMSNorm in place.
pub fn rms_norm_inplace(x: &mut [f32], w: &[f32], eps: f32) {
    let dim = w.len();
    for row in x.chunks_exact_mut(dim) {
        let ms = row.iter().map(|v| v * v).sum::<f32>() / dim as f32;
        let scale = 1.0 / (ms + eps).sqrt();
        for (v, w) in row.iter_mut().zip(w) {
            *v = *v * scale * w;
        }
    }
}

/// An RMSNorm layer: a weight per feature and the epsilon under the square root.
#[derive(Debug, Clone)]
pub struct RmsNorm {
    weight: Vec<f32>,
    eps: f32,
}

impl RmsNorm {
    /// A norm over `weight.len()` features.
    pub fn new(weight: Vec<f32>, eps: f32) -> RmsNorm {
        RmsNorm { weight, eps }
    }

    /// Normalises every `weight.len()`-long row of `x` into `out` (see [`rms_norm`]).
    pub fn forward(&self, x: &[f32], out: &mut [f32]) {
        rms_norm(x, &self.weight, self.eps, out);
    }

    /// Normalises every row of `x` in place.
    pub fn forward_inplace(&self, x: &mut [f32]) {
        rms_norm_inplace(x, &self.weight, self.eps);
    }
}

/// `gate = silu(gate) * up`, element-wise.
pub fn silu_mul(gate: &mut [f32], up: &[f32]) {
    for (g, u) in gate.iter_mut().zip(up) {
        *g = *g / (1.0 + exp_fast(-*g)) * u;
    }
}

/// `e^x` for `x ≤ 88` (softmax after subtracting the maximum, SiLU), to about 2 ulp, written so
/// the compiler vectorises it on plain SSE2: round-to-nearest by the 1.5·2²³ trick, a
/// degree-6 polynomial on [−ln2/2, ln2/2], and the power of two put into the exponent bits.
#[inline(always)]
fn exp_fast(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_145_75;
    const LN2_LO: f32 = 1.428_606_8e-6;
    const ROUND: f32 = 12_582_912.0; // 1.5 · 2²³
    let x = x.clamp(-87.0, 88.0);
    let shifted = x * LOG2E + ROUND;
    let k = shifted - ROUND;
    // The integer k sits in the low mantissa bits of `shifted` (no float-to-int cast, whose
    // saturation would keep the loop scalar).
    let ki = (shifted.to_bits() as i32).wrapping_sub(ROUND.to_bits() as i32);
    let r = x - k * LN2_HI - k * LN2_LO;
    let p = 1.0 + r * (1.0 + r * (0.5 + r * (1.0 / 6.0 + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r * (1.0 / 720.0))))));
    f32::from_bits((p.to_bits() as i32).wrapping_add(ki << 23) as u32)
}

/// Sum and maximum in eight lanes, so the loops vectorise (the order of additions differs
/// from a left-to-right sum by rounding only).
fn lanes_sum(x: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let chunks = x.chunks_exact(8);
    let rest: f32 = chunks.remainder().iter().sum();
    for c in chunks {
        for i in 0..8 {
            acc[i] += c[i];
        }
    }
    acc.iter().sum::<f32>() + rest
}

fn lanes_max(x: &[f32]) -> f32 {
    let mut acc = [f32::NEG_INFINITY; 8];
    let chunks = x.chunks_exact(8);
    let rest = chunks.remainder().iter().copied().fold(f32::NEG_INFINITY, f32::max);
    for c in chunks {
        for i in 0..8 {
            acc[i] = if c[i] > acc[i] { c[i] } else { acc[i] };
        }
    }
    acc.iter().copied().fold(rest, f32::max)
}

/// Softmax of a row in place.
pub fn softmax(row: &mut [f32]) {
    let max = lanes_max(row);
    for v in row.iter_mut() {
        *v = exp_fast(*v - max);
    }
    let inv = 1.0 / lanes_sum(row);
    for v in row.iter_mut() {
        *v *= inv;
    }
}

/// `out (+)= scale · x · wᵀ`, with `x` `[n × k]`, `w` `[m × k]` (linear-layer layout) and `out`
/// `[n × m]`, any of them blocks of larger matrices; single-threaded. With `accumulate`, adds
/// to `out`.
pub fn matmul_wt_strided(x: MatRef<'_>, w: MatRef<'_>, out: MatMut<'_>, scale: f32, accumulate: bool) {
    gemm_into(x, Rhs::Transposed(w), out, scale, accumulate, Parallelism::None);
}

/// `out (+)= a · b`, with `a` `[n × k]`, `b` `[k × m]` (row-major) and `out` `[n × m]`, any of
/// them blocks of larger matrices; single-threaded. With `accumulate`, adds to `out`.
pub fn matmul_strided(a: MatRef<'_>, b: MatRef<'_>, out: MatMut<'_>, accumulate: bool) {
    gemm_into(a, Rhs::Plain(b), out, 1.0, accumulate, Parallelism::None);
}

/// `log Σ exp(row)`, computed stably in f64.
pub fn logsumexp(row: &[f32]) -> f32 {
    let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let sum: f64 = row.iter().map(|v| ((*v - max) as f64).exp()).sum();
    (max as f64 + sum.ln()) as f32
}

/// Rotary-embedding tables: `cos`/`sin` of `pos · θ^(-2i/head_dim)` for every position and
/// frequency, computed in f32 as transformers does.
#[derive(Debug, Clone)]
pub struct Rope {
    half: usize,
    cos: Vec<f32>,
    sin: Vec<f32>,
    style: crate::config::RopeStyle,
}

impl Rope {
    /// Tables for heads of `head_dim`, base `theta`, positions `0..max_positions`.
    pub fn new(head_dim: usize, theta: f32, max_positions: usize, style: crate::config::RopeStyle) -> Rope {
        let half = head_dim / 2;
        let inv_freq: Vec<f32> = (0..half).map(|i| 1.0 / theta.powf((2 * i) as f32 / head_dim as f32)).collect();
        let mut cos = Vec::with_capacity(max_positions * half);
        let mut sin = Vec::with_capacity(max_positions * half);
        for p in 0..max_positions {
            for f in &inv_freq {
                let angle = p as f32 * f;
                cos.push(angle.cos());
                sin.push(angle.sin());
            }
        }
        Rope { half, cos, sin, style }
    }

    /// The tables as the CUDA rotary kernel reads them: per position, the cos of every
    /// frequency, then their sin (`[max_positions, head_dim]`).
    pub fn cos_sin_rows(&self) -> Vec<f32> {
        let half = self.half;
        let mut out = Vec::with_capacity(self.cos.len() * 2);
        for p in 0..self.max_positions() {
            out.extend_from_slice(&self.cos[p * half..(p + 1) * half]);
            out.extend_from_slice(&self.sin[p * half..(p + 1) * half]);
        }
        out
    }

    /// Positions the tables cover.
    pub fn max_positions(&self) -> usize {
        self.cos.len() / self.half.max(1)
    }

    /// Rotates every head (`head_dim`-long chunk) of `x` (one token's q or k) for `pos`.
    pub fn apply(&self, x: &mut [f32], pos: usize) {
        let half = self.half;
        let cos = &self.cos[pos * half..(pos + 1) * half];
        let sin = &self.sin[pos * half..(pos + 1) * half];
        for head in x.chunks_exact_mut(2 * half) {
            match self.style {
                crate::config::RopeStyle::Half => {
                    let (a, b) = head.split_at_mut(half);
                    for i in 0..half {
                        let (x1, x2) = (a[i], b[i]);
                        a[i] = x1 * cos[i] - x2 * sin[i];
                        b[i] = x2 * cos[i] + x1 * sin[i];
                    }
                }
                crate::config::RopeStyle::Interleaved => {
                    for i in 0..half {
                        let (x1, x2) = (head[2 * i], head[2 * i + 1]);
                        head[2 * i] = x1 * cos[i] - x2 * sin[i];
                        head[2 * i + 1] = x2 * cos[i] + x1 * sin[i];
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::RopeStyle;

    fn naive_wt(x: &[f32], n: usize, k: usize, w: &[f32], m: usize) -> Vec<f32> {
        let mut out = vec![0.0; n * m];
        for i in 0..n {
            for j in 0..m {
                out[i * m + j] = (0..k).map(|t| x[i * k + t] * w[j * k + t]).sum();
            }
        }
        out
    }

    #[test]
    fn matmuls_agree_with_the_definition() {
        let (n, k, m) = (5, 7, 3);
        let x: Vec<f32> = (0..n * k).map(|i| (i as f32 * 0.37).sin()).collect();
        let w: Vec<f32> = (0..m * k).map(|i| (i as f32 * 0.11).cos()).collect();
        let mut out = vec![0.0; n * m];
        matmul_wt(&x, n, k, &w, m, &mut out);
        for (a, b) in out.iter().zip(naive_wt(&x, n, k, &w, m)) {
            assert!((a - b).abs() < 1e-5);
        }
        // The row-major product with b = wᵀ gives the same.
        let mut wt = vec![0.0; k * m];
        for j in 0..m {
            for t in 0..k {
                wt[t * m + j] = w[j * k + t];
            }
        }
        let mut out2 = vec![0.0; n * m];
        matmul_strided(MatRef::dense(&x, n, k), MatRef::dense(&wt, k, m), MatMut::dense(&mut out2, n, m), false);
        for (a, b) in out.iter().zip(&out2) {
            assert!((a - b).abs() < 1e-5);
        }
        // Large enough to go parallel.
        let (n, k, m) = (64, 96, 80);
        let x: Vec<f32> = (0..n * k).map(|i| (i as f32 * 0.013).sin()).collect();
        let w: Vec<f32> = (0..m * k).map(|i| (i as f32 * 0.017).cos()).collect();
        let mut out = vec![0.0; n * m];
        matmul_wt(&x, n, k, &w, m, &mut out);
        for (a, b) in out.iter().zip(naive_wt(&x, n, k, &w, m)) {
            assert!((a - b).abs() < 1e-3);
        }
    }

    #[test]
    fn fast_exp_is_accurate() {
        let mut worst = 0f64;
        // Down to −80 (e^−80 ≈ 1.8e−35, still a normal f32); below, values only need to be tiny.
        for i in 0..=160_000 {
            let x = -(i as f32) * 5e-4;
            let got = exp_fast(x) as f64;
            let want = (x as f64).exp();
            worst = worst.max((got - want).abs() / want.max(1e-38));
        }
        for i in 0..88_000 {
            let x = i as f32 * 1e-3;
            let (got, want) = (exp_fast(x) as f64, (x as f64).exp());
            if (got - want).abs() / want > 1e-6 {
                panic!("x {x}: {got} vs {want}");
            }
        }
        assert!(worst < 1e-6, "relative error {worst}");
        assert_eq!(exp_fast(0.0), 1.0);
        assert!(exp_fast(-1000.0) < 1e-37);
    }

    #[test]
    fn strided_products_write_sub_blocks() {
        // x rows live in a 3×7 buffer (stride 7, first 4 columns used); out in a 3×5 buffer.
        let x: Vec<f32> = (0..21).map(|i| i as f32 * 0.5 - 3.0).collect();
        let w: Vec<f32> = (0..8).map(|i| (i as f32 - 4.0) * 0.25).collect(); // 2×4
        let mut out = vec![9f32; 15];
        matmul_wt_strided(
            MatRef::new(&x, 3, 4, 7),
            MatRef::dense(&w, 2, 4),
            MatMut::new(&mut out, 3, 2, 5),
            2.0,
            false,
        );
        for i in 0..3 {
            for j in 0..2 {
                let want: f32 = 2.0 * (0..4).map(|p| x[i * 7 + p] * w[j * 4 + p]).sum::<f32>();
                assert!((out[i * 5 + j] - want).abs() < 1e-5);
            }
            assert_eq!(out[i * 5 + 2], 9.0, "columns past m untouched");
        }
        let b: Vec<f32> = (0..8).map(|i| i as f32).collect(); // 4×2
        let mut acc = vec![1f32; 15];
        matmul_strided(MatRef::new(&x, 3, 4, 7), MatRef::dense(&b, 4, 2), MatMut::new(&mut acc, 3, 2, 5), true);
        for i in 0..3 {
            for j in 0..2 {
                let want: f32 = 1.0 + (0..4).map(|p| x[i * 7 + p] * b[p * 2 + j]).sum::<f32>();
                assert!((acc[i * 5 + j] - want).abs() < 1e-4);
            }
        }
    }

    #[test]
    fn views_narrow_to_blocks() {
        // A 3×4 matrix; the block of rows 1..3 and columns 1..3 through both narrowings.
        let a: Vec<f32> = (0..12).map(|i| i as f32).collect();
        let v = MatRef::dense(&a, 3, 4).subrows(1..3).subcols(1..3);
        assert_eq!((v.rows(), v.cols(), v.row_stride()), (2, 2, 4));
        let id = [1.0, 0.0, 0.0, 1.0];
        let mut out = vec![0f32; 4];
        matmul_strided(v, MatRef::dense(&id, 2, 2), MatMut::dense(&mut out, 2, 2), false);
        assert_eq!(out, [5.0, 6.0, 9.0, 10.0]);
        // Empty blocks at the edges are allowed.
        assert_eq!(MatRef::dense(&a, 3, 4).subrows(3..3).rows(), 0);
        assert_eq!(MatRef::dense(&a, 3, 4).subcols(4..4).cols(), 0);
        let mut b = vec![0f32; 12];
        let mut m = MatMut::dense(&mut b, 3, 4);
        matmul_strided(v, MatRef::dense(&id, 2, 2), m.subcols(2..4).subrows(0..2), false);
        assert_eq!(b[..8], [0.0, 0.0, 5.0, 6.0, 0.0, 0.0, 9.0, 10.0]);
    }

    #[test]
    #[should_panic(expected = "does not fit")]
    fn views_check_their_bounds() {
        let a = [0f32; 10];
        MatRef::new(&a, 3, 4, 4);
    }

    #[test]
    fn norms_softmax_and_logsumexp() {
        let x = [1.0, 2.0, 3.0, 4.0, -1.0, 0.0, 1.0, 2.0];
        let w = [1.0, 0.5, 1.0, 2.0];
        let mut out = [0.0; 8];
        rms_norm(&x, &w, 0.0, &mut out);
        let rms = (30.0f32 / 4.0).sqrt();
        assert!((out[3] - 4.0 / rms * 2.0).abs() < 1e-6);
        let mut y = x;
        rms_norm_inplace(&mut y, &w, 0.0);
        assert_eq!(y, out);
        let mut r = [1.0, 2.0, 3.0];
        softmax(&mut r);
        assert!((r.iter().sum::<f32>() - 1.0).abs() < 1e-6 && r[2] > r[1]);
        let l = logsumexp(&[1000.0, 1000.0]);
        assert!((l - (1000.0 + 2f32.ln())).abs() < 1e-3);
        let mut g = [0.0, 1.0];
        silu_mul(&mut g, &[3.0, 2.0]);
        assert_eq!(g[0], 0.0);
        assert!((g[1] - 2.0 / (1.0 + (-1f32).exp())).abs() < 1e-6);
    }

    #[test]
    fn rope_styles_rotate_their_pairs() {
        let r = Rope::new(4, 10_000.0, 8, RopeStyle::Half);
        let mut x = [1.0, 0.0, 0.0, 0.0];
        r.apply(&mut x, 0);
        assert_eq!(x, [1.0, 0.0, 0.0, 0.0], "position 0 is the identity");
        r.apply(&mut x, 1);
        assert!((x[0] - 1f32.cos()).abs() < 1e-6 && (x[2] - 1f32.sin()).abs() < 1e-6, "{x:?}");
        let r = Rope::new(4, 10_000.0, 8, RopeStyle::Interleaved);
        let mut x = [1.0, 0.0, 0.0, 0.0];
        r.apply(&mut x, 1);
        assert!((x[0] - 1f32.cos()).abs() < 1e-6 && (x[1] - 1f32.sin()).abs() < 1e-6, "{x:?}");
        // Rotations keep the norm.
        let mut x = [0.3, -1.2, 0.7, 2.0];
        let n0: f32 = x.iter().map(|v| v * v).sum();
        r.apply(&mut x, 5);
        assert!((x.iter().map(|v| v * v).sum::<f32>() - n0).abs() < 1e-5);
    }
}
