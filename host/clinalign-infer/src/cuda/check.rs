//! The kernels on a GPU, each against its CPU reference on random inputs: the device half of
//! the kernel tests (`clinalign kernels test`, `scripts/gpu/check.sh`). The references are the
//! [`super::mirror`] functions (tested against the CPU backend) or, for plain arithmetic,
//! f32 loops over the same bf16-rounded inputs. Tolerances are stated per kernel.
//!
//! Kernels load from the CUBIN cache for the device's architecture, compiled here with NVRTC
//! when this machine has it, or compiled elsewhere and carried (the device machine has no
//! Rust toolchain and may have no NVRTC of the right version).

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use cudarc::driver::{
    CudaContext, CudaFunction, CudaModule, CudaSlice, CudaStream, DeviceRepr, LaunchConfig, PushKernelArg,
    ValidAsZeroBits,
};
use half::bf16;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde::Serialize;

use super::kernels::KERNELS;
use super::mirror;
use super::nvrtc::{self, Toolkit};
use crate::error::{Error, Result};

/// One kernel's check.
#[derive(Debug, Clone, Serialize)]
pub struct KernelCheck {
    pub kernel: String,
    /// What was compared, and the shape.
    pub case: String,
    /// Largest |GPU − reference|, or the count of mismatches for exact checks.
    pub max_error: f64,
    /// The bound it must stay within.
    pub tolerance: f64,
    pub passed: bool,
}

/// The device, its stream and every kernel module.
pub struct Device {
    pub ctx: Arc<CudaContext>,
    pub stream: Arc<CudaStream>,
    pub arch: String,
    modules: HashMap<&'static str, Arc<CudaModule>>,
}

pub(crate) fn driver(what: &str) -> impl Fn(cudarc::driver::DriverError) -> Error + '_ {
    move |e| Error::Unsupported(format!("{what}: {e}"))
}

impl Device {
    /// Opens `gpu` (from [`super::probe`]) and loads every kernel for its architecture from
    /// `cache` (compiling with `toolkit` what is missing, when there is one).
    pub fn open(gpu: &super::Gpu, cache: &Path, toolkit: Option<&Toolkit>) -> Result<Device> {
        let arch = gpu.arch();
        let ctx = CudaContext::new(gpu.ordinal).map_err(driver("creating the CUDA context"))?;
        let stream = ctx.default_stream();
        let mut modules = HashMap::new();
        for k in KERNELS {
            let compiled = match (nvrtc::cached(cache, k, &arch), toolkit) {
                (Some(c), _) => c,
                (None, Some(t)) => nvrtc::compile_cached(cache, k, &arch, t)?,
                (None, None) => {
                    return Err(Error::Unsupported(format!(
                        "{} for {arch} is not in {} and there is no NVRTC to compile it",
                        k.file,
                        cache.display()
                    )));
                }
            };
            let module = ctx
                .load_module(cudarc::nvrtc::Ptx::from_binary(compiled.cubin))
                .map_err(|e| Error::Unsupported(format!("loading {} ({arch}): {e}", k.file)))?;
            modules.insert(k.file, module);
        }
        Ok(Device { ctx, stream, arch, modules })
    }

    pub(crate) fn func(&self, file: &str, entry: &str) -> Result<CudaFunction> {
        self.modules[file].load_function(entry).map_err(|e| Error::Unsupported(format!("{file}: {entry}: {e}")))
    }

    pub(crate) fn up<T: DeviceRepr>(&self, v: &[T]) -> Result<CudaSlice<T>> {
        self.stream.clone_htod(v).map_err(driver("copying to the device"))
    }

    pub(crate) fn zeros<T: DeviceRepr + ValidAsZeroBits>(&self, n: usize) -> Result<CudaSlice<T>> {
        self.stream.alloc_zeros(n.max(1)).map_err(driver("allocating on the device"))
    }

    pub(crate) fn down<T: DeviceRepr + Clone + Default>(&self, s: &CudaSlice<T>) -> Result<Vec<T>> {
        let v = self.stream.clone_dtoh(s).map_err(driver("copying from the device"))?;
        self.stream.synchronize().map_err(driver("synchronising"))?;
        Ok(v)
    }
}

/// A null device pointer, for the kernels' optional arguments.
const NULL: u64 = 0;

fn cfg(grid: (u32, u32, u32), block: u32) -> LaunchConfig {
    LaunchConfig { grid_dim: grid, block_dim: (block, 1, 1), shared_mem_bytes: 0 }
}

fn launched<T>(r: std::result::Result<T, cudarc::driver::DriverError>, what: &str) -> Result<()> {
    r.map(|_| ()).map_err(|e| Error::Unsupported(format!("launching {what}: {e}")))
}

fn random_bf16(rng: &mut StdRng, n: usize, scale: f32) -> Vec<bf16> {
    (0..n).map(|_| bf16::from_f32(rng.random_range(-scale..scale))).collect()
}

fn f32s(v: &[bf16]) -> Vec<f32> {
    v.iter().map(|x| x.to_f32()).collect()
}

fn round(x: f32) -> f32 {
    bf16::from_f32(x).to_f32()
}

/// Largest |a − b| relative to the reference's magnitude (at least 1).
fn max_rel(gpu: &[f32], reference: &[f32]) -> f64 {
    let scale = reference.iter().fold(1f32, |m, v| m.max(v.abs())) as f64;
    gpu.iter().zip(reference).map(|(a, b)| ((a - b).abs() as f64) / scale).fold(0.0, f64::max)
}

fn check(kernel: &str, case: String, max_error: f64, tolerance: f64) -> KernelCheck {
    KernelCheck { kernel: kernel.into(), case, max_error, tolerance, passed: max_error <= tolerance }
}

/// Runs every kernel check on `dev`.
pub fn run_all(dev: &Device) -> Result<Vec<KernelCheck>> {
    let mut rng = StdRng::seed_from_u64(2026);
    let mut out = vec![embedding(dev, &mut rng)?, rmsnorm(dev, &mut rng)?];
    for interleaved in [false, true] {
        for d in [16, 128] {
            out.push(rope(dev, &mut rng, interleaved, d)?);
        }
    }
    for d in [16, 64, 128] {
        out.push(attention(dev, &mut rng, d)?);
    }
    out.push(router(dev, &mut rng)?);
    out.extend(moe(dev, &mut rng)?);
    out.push(judge(dev, &mut rng)?);
    Ok(out)
}

fn embedding(dev: &Device, rng: &mut StdRng) -> Result<KernelCheck> {
    let (vocab, hidden, rows) = (300usize, 200usize, 37usize);
    let table = random_bf16(rng, vocab * hidden, 1.0);
    let ids: Vec<u32> =
        (0..rows).map(|i| if i == 5 { vocab as u32 + 3 } else { rng.random_range(0..vocab as u32) }).collect();
    let (t, i) = (dev.up(&table)?, dev.up(&ids)?);
    let mut o = dev.zeros::<bf16>(rows * hidden)?;
    let f = dev.func("embedding.cu", "embed_gather_bf16")?;
    let mut b = dev.stream.launch_builder(&f);
    let arg1 = hidden as i32;
    let arg2 = vocab as u32;
    b.arg(&t).arg(&i).arg(&mut o).arg(&arg1).arg(&arg2);
    // SAFETY: the buffers have the sizes the kernel reads and writes.
    launched(unsafe { b.launch(cfg((rows as u32, 1, 1), 128)) }, "embed_gather_bf16")?;
    let got = dev.down(&o)?;
    let mut wrong = 0usize;
    for (r, id) in ids.iter().enumerate() {
        for h in 0..hidden {
            let want = if (*id as usize) < vocab { table[*id as usize * hidden + h] } else { bf16::ZERO };
            wrong += usize::from(got[r * hidden + h] != want);
        }
    }
    Ok(check(
        "embed_gather_bf16",
        format!("{rows} rows × {hidden} (odd width), an id past the vocabulary: exact"),
        wrong as f64,
        0.0,
    ))
}

fn rmsnorm(dev: &Device, rng: &mut StdRng) -> Result<KernelCheck> {
    let (rows, hidden, eps) = (19usize, 2048usize, 1e-6f32);
    let res = random_bf16(rng, rows * hidden, 2.0);
    let delta = random_bf16(rng, rows * hidden, 1.0);
    let w = random_bf16(rng, hidden, 1.5);
    let (mut r, d, wd) = (dev.up(&res)?, dev.up(&delta)?, dev.up(&w)?);
    let mut o = dev.zeros::<bf16>(rows * hidden)?;
    let f = dev.func("rmsnorm.cu", "add_rmsnorm_bf16")?;
    let mut b = dev.stream.launch_builder(&f);
    let arg3 = hidden as i32;
    b.arg(&mut r).arg(&d).arg(&wd).arg(&mut o).arg(&arg3).arg(&eps);
    // SAFETY: as above.
    launched(unsafe { b.launch(cfg((rows as u32, 1, 1), 256)) }, "add_rmsnorm_bf16")?;
    let (got_o, got_r) = (f32s(&dev.down(&o)?), f32s(&dev.down(&r)?));
    let (mut want_o, mut want_r) = (vec![0f32; rows * hidden], vec![0f32; rows * hidden]);
    for row in 0..rows {
        let at = row * hidden;
        for h in 0..hidden {
            want_r[at + h] = round(res[at + h].to_f32() + delta[at + h].to_f32());
        }
        let ms = want_r[at..at + hidden].iter().map(|x| (x * x) as f64).sum::<f64>() / hidden as f64;
        let inv = 1.0 / (ms as f32 + eps).sqrt();
        for h in 0..hidden {
            want_o[at + h] = round(round(want_r[at + h] * inv) * w[h].to_f32());
        }
    }
    let err = max_rel(&got_o, &want_o).max(max_rel(&got_r, &want_r));
    Ok(check(
        "add_rmsnorm_bf16",
        format!("{rows} rows × {hidden}, residual and output vs f32 + bf16 rounding"),
        err,
        1e-2,
    ))
}

fn rope(dev: &Device, rng: &mut StdRng, interleaved: bool, d: usize) -> Result<KernelCheck> {
    let (rows, qh, kvh, eps, theta) = (7usize, 4usize, 2usize, 1e-6f32, 1e6f32);
    let width = (qh + 2 * kvh) * d;
    let qkv = random_bf16(rng, rows * width, 2.0);
    let (qn, kn) = (random_bf16(rng, d, 1.5), random_bf16(rng, d, 1.5));
    let positions: Vec<i32> = (0..rows as i32).map(|i| i * 3 + 1).collect();
    let max_pos = 64usize;
    let half = d / 2;
    let mut table = vec![0f32; max_pos * d];
    for p in 0..max_pos {
        for i in 0..half {
            let freq = (p as f32) * theta.powf(-2.0 * i as f32 / d as f32);
            table[p * d + i] = freq.cos();
            table[p * d + half + i] = freq.sin();
        }
    }
    let slots: Vec<i32> = (0..rows as i32).rev().collect();
    let (x, qnd, knd, pos, tab, sl) =
        (dev.up(&qkv)?, dev.up(&qn)?, dev.up(&kn)?, dev.up(&positions)?, dev.up(&table)?, dev.up(&slots)?);
    let mut q = dev.zeros::<bf16>(rows * qh * d)?;
    let mut kc = dev.zeros::<bf16>(rows * kvh * d)?;
    let mut vc = dev.zeros::<bf16>(rows * kvh * d)?;
    let f = dev.func("rope.cu", "qk_norm_rope_kv_bf16")?;
    let mut b = dev.stream.launch_builder(&f);
    b.arg(&x).arg(&qnd).arg(&knd).arg(&eps).arg(&pos).arg(&tab).arg(&mut q).arg(&mut kc).arg(&mut vc).arg(&sl);
    let arg4 = qh as i32;
    let arg5 = kvh as i32;
    let arg6 = d as i32;
    let arg7 = i32::from(interleaved);
    b.arg(&arg4).arg(&arg5).arg(&arg6).arg(&arg7);
    // SAFETY: as above.
    launched(unsafe { b.launch(cfg((rows as u32, (qh + kvh) as u32, 1), d.max(32) as u32)) }, "qk_norm_rope_kv_bf16")?;
    let (gq, gk, gv) = (f32s(&dev.down(&q)?), f32s(&dev.down(&kc)?), f32s(&dev.down(&vc)?));
    let (mut wq, mut wk, mut wv) = (vec![0f32; gq.len()], vec![0f32; gk.len()], vec![0f32; gv.len()]);
    for r in 0..rows {
        for h in 0..qh + kvh {
            let src: Vec<f32> = f32s(&qkv[r * width + h * d..r * width + (h + 1) * d]);
            let w = if h < qh { &qn } else { &kn };
            let inv = 1.0 / ((src.iter().map(|v| v * v).sum::<f32>() / d as f32) + eps).sqrt();
            let x: Vec<f32> = src.iter().zip(w).map(|(v, w)| round(round(v * inv) * w.to_f32())).collect();
            let t = &table[positions[r] as usize * d..];
            let rotated: Vec<f32> = (0..d)
                .map(|i| {
                    let (partner, freq, sign) = if interleaved {
                        (i ^ 1, i >> 1, if i & 1 == 1 { 1.0 } else { -1.0 })
                    } else if i < half {
                        (i + half, i, -1.0)
                    } else {
                        (i - half, i - half, 1.0)
                    };
                    let (c, s) = (round(t[freq]), round(t[half + freq]));
                    round(round(x[i] * c) + round(sign * x[partner] * s))
                })
                .collect();
            if h < qh {
                wq[(r * qh + h) * d..][..d].copy_from_slice(&rotated);
            } else {
                let at = (slots[r] as usize * kvh + (h - qh)) * d;
                wk[at..at + d].copy_from_slice(&rotated);
                let v = &qkv[r * width + (qh + kvh + h - qh) * d..][..d];
                wv[at..at + d].copy_from_slice(&f32s(v));
            }
        }
    }
    let err = max_rel(&gq, &wq).max(max_rel(&gk, &wk)).max(max_rel(&gv, &wv));
    let style = if interleaved { "interleaved" } else { "rotate-half" };
    Ok(check(
        "qk_norm_rope_kv_bf16",
        format!("{rows} rows, {qh}/{kvh} heads × {d}, {style}, q/k norm, slots reversed"),
        err,
        2e-2,
    ))
}

fn attention(dev: &Device, rng: &mut StdRng, d: usize) -> Result<KernelCheck> {
    // Two sequences after a shared 40-token prefix (one with 3 cached tokens) and one
    // without: the judge's layout, ragged.
    let (qh, kvh) = (8usize, 2usize);
    let seqs = [
        mirror::SequenceSlots { prefix: 0..40, own_start: 40, cached: 0, new_tokens: 5 },
        mirror::SequenceSlots { prefix: 0..40, own_start: 45, cached: 3, new_tokens: 9 },
        mirror::SequenceSlots { prefix: 0..0, own_start: 57, cached: 0, new_tokens: 6 },
    ];
    let slots = 63usize;
    let ranges = mirror::judge_ranges(&seqs);
    let rows = ranges.own.len();
    let q = random_bf16(rng, rows * qh * d, 1.0);
    let (k, v) = (random_bf16(rng, slots * kvh * d, 1.0), random_bf16(rng, slots * kvh * d, 1.0));
    let scale = 1.0 / (d as f32).sqrt();
    let (qd, kd, vd) = (dev.up(&q)?, dev.up(&k)?, dev.up(&v)?);
    let entry = match d {
        64 => "attention_partial_d64",
        128 => "attention_partial_d128",
        _ => "attention_partial_any",
    };
    let head_dim = d as i32;
    let f = dev.func("attention.cu", entry)?;
    let mut partials = Vec::new();
    for r in [&ranges.prefix, &ranges.own] {
        let start: Vec<i32> = r.iter().map(|x| x.start as i32).collect();
        let len: Vec<i32> = r.iter().map(|x| x.len() as i32).collect();
        let (s, l) = (dev.up(&start)?, dev.up(&len)?);
        let mut o = dev.zeros::<f32>(rows * qh * d)?;
        let mut lse = dev.zeros::<f32>(qh * rows)?;
        let mut b = dev.stream.launch_builder(&f);
        b.arg(&qd).arg(&kd).arg(&vd).arg(&s).arg(&l).arg(&mut o).arg(&mut lse);
        let arg8 = rows as i32;
        let arg9 = qh as i32;
        let arg10 = kvh as i32;
        b.arg(&arg8).arg(&arg9).arg(&arg10).arg(&scale);
        if entry == "attention_partial_any" {
            b.arg(&head_dim);
        }
        // SAFETY: as above.
        launched(unsafe { b.launch(cfg((rows as u32, qh.div_ceil(4) as u32, 1), 128)) }, entry)?;
        partials.push((o, lse));
    }
    let mut out = dev.zeros::<bf16>(rows * qh * d)?;
    let m = dev.func("attention.cu", "merge_attention_bf16")?;
    let total = rows * qh * d;
    let mut b = dev.stream.launch_builder(&m);
    b.arg(&partials[0].0).arg(&partials[0].1).arg(&partials[1].0).arg(&partials[1].1).arg(&mut out);
    let arg11 = rows as i32;
    let arg12 = qh as i32;
    let arg13 = d as i32;
    b.arg(&arg11).arg(&arg12).arg(&arg13);
    // SAFETY: as above.
    launched(unsafe { b.launch(cfg((total.div_ceil(256) as u32, 1, 1), 256)) }, "merge_attention_bf16")?;
    let got = f32s(&dev.down(&out)?);
    let (qf, kf, vf) = (f32s(&q), f32s(&k), f32s(&v));
    let kv = mirror::KvSlots { k: &kf, v: &vf, kv_heads: kvh, head_dim: d };
    let a = mirror::attention_partial(&qf, qh, kv, &ranges.prefix, scale);
    let bb = mirror::attention_partial(&qf, qh, kv, &ranges.own, scale);
    let want = mirror::merge_attention(&a, &bb, rows, qh, d);
    Ok(check(
        entry,
        format!("{rows} rows (3 ragged sequences, 40-token shared prefix), {qh}/{kvh} heads: two passes + merge"),
        max_rel(&got, &want),
        1e-2,
    ))
}

fn router(dev: &Device, rng: &mut StdRng) -> Result<KernelCheck> {
    let (tokens, experts, k) = (77usize, 128usize, 8usize);
    let logits: Vec<f32> = (0..tokens * experts).map(|_| rng.random_range(-3.0f32..3.0)).collect();
    let l = dev.up(&logits)?;
    let mut w = dev.zeros::<f32>(tokens * k)?;
    let mut ids = dev.zeros::<i32>(tokens * k)?;
    let f = dev.func("router.cu", "topk_softmax_f32")?;
    let mut b = dev.stream.launch_builder(&f);
    let arg14 = tokens as i32;
    let arg15 = experts as i32;
    let arg16 = k as i32;
    b.arg(&l).arg(&mut w).arg(&mut ids).arg(&arg14).arg(&arg15).arg(&arg16).arg(&1i32);
    // SAFETY: as above.
    launched(unsafe { b.launch(cfg((tokens.div_ceil(4) as u32, 1, 1), 128)) }, "topk_softmax_f32")?;
    let (gw, gi) = (dev.down(&w)?, dev.down(&ids)?);
    let mut err = 0f64;
    for t in 0..tokens {
        let (ww, wi) = mirror::topk_softmax(&logits[t * experts..(t + 1) * experts], k, true);
        if wi != gi[t * k..(t + 1) * k] {
            err = f64::INFINITY;
        }
        for (a, b) in ww.iter().zip(&gw[t * k..(t + 1) * k]) {
            err = err.max((a - b).abs() as f64);
        }
    }
    Ok(check(
        "topk_softmax_f32",
        format!("{tokens} tokens × {experts} experts, top {k}, renormalised: same ids, weights"),
        err,
        1e-5,
    ))
}

/// Alignment, both grouped GEMMs, SiLU-and-mul and the combine: one small MoE layer.
fn moe(dev: &Device, rng: &mut StdRng) -> Result<Vec<KernelCheck>> {
    let (tokens, experts, k, hidden, inter, block) = (45usize, 16usize, 4usize, 256usize, 128usize, 64usize);
    let numel = tokens * k;
    let topk: Vec<i32> =
        (0..numel).map(|i| if i % 11 == 0 { 3 } else { rng.random_range(0..experts as i32 - 2) }).collect();
    let weights: Vec<f32> = (0..numel).map(|_| rng.random_range(0.0f32..1.0)).collect();
    let len = mirror::sorted_len(numel, experts, block);
    let ids = dev.up(&topk)?;
    let mut sorted = dev.zeros::<i32>(len)?;
    let mut expert_ids = dev.zeros::<i32>(len / block)?;
    let mut cumsum = dev.zeros::<i32>(experts + 1)?;
    let mut cursor = dev.zeros::<i32>(experts)?;
    let mut total = dev.zeros::<i32>(1)?;
    let f = dev.func("moe_align.cu", "moe_align_count_scan")?;
    let mut b = dev.stream.launch_builder(&f);
    let arg17 = numel as i32;
    let arg18 = experts as i32;
    let arg19 = block as i32;
    b.arg(&ids).arg(&arg17).arg(&arg18).arg(&arg19);
    let arg20 = len as i32;
    b.arg(&mut cumsum).arg(&mut cursor).arg(&mut expert_ids).arg(&mut total).arg(&mut sorted).arg(&arg20);
    // SAFETY: as above.
    launched(unsafe { b.launch(cfg((1, 1, 1), 1024)) }, "moe_align_count_scan")?;
    let f = dev.func("moe_align.cu", "moe_align_scatter")?;
    let mut b = dev.stream.launch_builder(&f);
    let arg21 = numel as i32;
    let arg22 = experts as i32;
    b.arg(&ids).arg(&arg21).arg(&arg22).arg(&mut cursor).arg(&mut sorted);
    // SAFETY: as above.
    launched(unsafe { b.launch(cfg((2, 1, 1), 256)) }, "moe_align_scatter")?;
    let want = mirror::moe_align(&topk, experts, block);
    let (g_sorted, g_experts, g_cumsum, g_total) =
        (dev.down(&sorted)?, dev.down(&expert_ids)?, dev.down(&cumsum)?, dev.down(&total)?);
    let mut mismatches = usize::from(g_cumsum != want.cumsum) + usize::from(g_total[0] as usize != want.total_padded);
    mismatches += usize::from(g_experts[..want.total_padded / block] != want.expert_ids[..want.total_padded / block]);
    for e in 0..experts {
        let seg = want.cumsum[e] as usize..want.cumsum[e + 1] as usize;
        let (mut a, mut bb) = (g_sorted[seg.clone()].to_vec(), want.sorted_ids[seg].to_vec());
        a.sort_unstable();
        bb.sort_unstable();
        mismatches += usize::from(a != bb);
    }
    let mut out = vec![check(
        "moe_align",
        format!("{numel} pairs over {experts} experts (2 unused), block {block}: same segments"),
        mismatches as f64,
        0.0,
    )];

    // Gate/up: [tokens, H] × w13[E, 2I, H]ᵀ → [numel, 2I]; down with router weights.
    let x = random_bf16(rng, tokens * hidden, 1.0);
    let w13 = random_bf16(rng, experts * 2 * inter * hidden, 0.1);
    let w2 = random_bf16(rng, experts * hidden * inter, 0.1);
    let (xd, w13d, w2d, wd) = (dev.up(&x)?, dev.up(&w13)?, dev.up(&w2)?, dev.up(&weights)?);
    let mut h13 = dev.zeros::<bf16>(numel * 2 * inter)?;
    let gemm = dev.func("moe_gemm.cu", "moe_grouped_gemm_bf16")?;
    let grid = |n: usize| cfg((n.div_ceil(64) as u32, (len / block) as u32, 1), 128);
    let mut b = dev.stream.launch_builder(&gemm);
    b.arg(&xd).arg(&w13d).arg(&mut h13).arg(&sorted).arg(&expert_ids).arg(&total).arg(&NULL);
    let arg23 = numel as i32;
    let arg24 = k as i32;
    let arg25 = (2 * inter) as i32;
    let arg26 = hidden as i32;
    b.arg(&arg23).arg(&arg24).arg(&arg25).arg(&arg26);
    // SAFETY: as above; K is a multiple of 32 and the buffers are 16-byte aligned allocations.
    launched(unsafe { b.launch(grid(2 * inter)) }, "moe_grouped_gemm_bf16 (gate/up)")?;
    let mut act = dev.zeros::<bf16>(numel * inter)?;
    let silu = dev.func("activation.cu", "silu_mul_bf16")?;
    let mut b = dev.stream.launch_builder(&silu);
    let arg27 = inter as i32;
    b.arg(&h13).arg(&mut act).arg(&arg27);
    // SAFETY: as above.
    launched(unsafe { b.launch(cfg((numel as u32, inter.div_ceil(128) as u32, 1), 128)) }, "silu_mul_bf16")?;
    let mut down = dev.zeros::<bf16>(numel * hidden)?;
    let mut b = dev.stream.launch_builder(&gemm);
    b.arg(&act).arg(&w2d).arg(&mut down).arg(&sorted).arg(&expert_ids).arg(&total).arg(&wd);
    let arg28 = numel as i32;
    let arg29 = hidden as i32;
    let arg30 = inter as i32;
    b.arg(&arg28).arg(&1i32).arg(&arg29).arg(&arg30);
    // SAFETY: as above.
    launched(unsafe { b.launch(grid(hidden)) }, "moe_grouped_gemm_bf16 (down)")?;
    let mut y = dev.zeros::<bf16>(tokens * hidden)?;
    let comb = dev.func("combine.cu", "moe_combine_bf16")?;
    let mut b = dev.stream.launch_builder(&comb);
    let arg31 = k as i32;
    let arg32 = hidden as i32;
    b.arg(&down).arg(&mut y).arg(&arg31).arg(&arg32);
    // SAFETY: as above.
    launched(unsafe { b.launch(cfg((tokens as u32, hidden.div_ceil(128) as u32, 1), 128)) }, "moe_combine_bf16")?;
    let (g13, gact, gdown, gy) =
        (f32s(&dev.down(&h13)?), f32s(&dev.down(&act)?), f32s(&dev.down(&down)?), f32s(&dev.down(&y)?));

    // References, each stage from the GPU's own previous stage (so each kernel is judged alone).
    let (xf, w13f, w2f) = (f32s(&x), f32s(&w13), f32s(&w2));
    let mut r13 = vec![0f32; numel * 2 * inter];
    for i in 0..numel {
        let (t, e) = (i / k, topk[i] as usize);
        for n in 0..2 * inter {
            let row = &w13f[(e * 2 * inter + n) * hidden..][..hidden];
            r13[i * 2 * inter + n] = round(xf[t * hidden..][..hidden].iter().zip(row).map(|(a, b)| a * b).sum());
        }
    }
    out.push(check(
        "moe_grouped_gemm_bf16",
        format!("gate/up: {numel} pairs, N {}, K {hidden}", 2 * inter),
        max_rel(&g13, &r13),
        1e-2,
    ));
    let mut ract = vec![0f32; numel * inter];
    for i in 0..numel {
        for j in 0..inter {
            let (g, u) = (g13[i * 2 * inter + j], g13[i * 2 * inter + inter + j]);
            ract[i * inter + j] = round(round(g / (1.0 + (-g).exp())) * u);
        }
    }
    out.push(check("silu_mul_bf16", format!("{numel} rows × {inter}"), max_rel(&gact, &ract), 1e-2));
    let mut rdown = vec![0f32; numel * hidden];
    for i in 0..numel {
        let e = topk[i] as usize;
        for n in 0..hidden {
            let row = &w2f[(e * hidden + n) * inter..][..inter];
            let dot: f32 = gact[i * inter..][..inter].iter().zip(row).map(|(a, b)| a * b).sum();
            rdown[i * hidden + n] = round(dot * weights[i]);
        }
    }
    out.push(check(
        "moe_grouped_gemm_bf16",
        format!("down, weighted: {numel} pairs, N {hidden}, K {inter}"),
        max_rel(&gdown, &rdown),
        1e-2,
    ));
    let mut ry = vec![0f32; tokens * hidden];
    for t in 0..tokens {
        for h in 0..hidden {
            ry[t * hidden + h] = round((0..k).map(|s| gdown[(t * k + s) * hidden + h]).sum());
        }
    }
    out.push(check("moe_combine_bf16", format!("{tokens} tokens × top {k} × {hidden}"), max_rel(&gy, &ry), 1e-2));
    Ok(out)
}

fn judge(dev: &Device, rng: &mut StdRng) -> Result<KernelCheck> {
    let (rows, vocab) = (6usize, 49_152usize);
    let logits: Vec<f32> = (0..rows * vocab).map(|_| rng.random_range(-20.0f32..20.0)).collect();
    let ids = [9i32, 105, 49_151, 0, 60_000];
    let (l, i) = (dev.up(&logits)?, dev.up(&ids)?);
    let mut o = dev.zeros::<f32>(rows * ids.len())?;
    let f = dev.func("judge.cu", "logsumexp_gather_f32")?;
    let mut b = dev.stream.launch_builder(&f);
    let arg33 = vocab as i32;
    let arg34 = ids.len() as i32;
    b.arg(&l).arg(&arg33).arg(&i).arg(&arg34).arg(&mut o);
    // SAFETY: as above.
    launched(unsafe { b.launch(cfg((rows as u32, 1, 1), 256)) }, "logsumexp_gather_f32")?;
    let got = dev.down(&o)?;
    let mut err = 0f64;
    for r in 0..rows {
        let want = mirror::logsumexp_gather(&logits[r * vocab..(r + 1) * vocab], &ids);
        for (a, b) in want.iter().zip(&got[r * ids.len()..]) {
            err = err.max(if a.is_infinite() && b.is_infinite() { 0.0 } else { (a - b).abs() as f64 });
        }
    }
    Ok(check("logsumexp_gather_f32", format!("{rows} rows × {vocab}, 5 ids (one out of range)"), err, 1e-3))
}
