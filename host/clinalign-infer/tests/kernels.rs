//! Every CUDA kernel compiles with NVRTC for sm_80 and sm_90, without a GPU: no error, no
//! warning, no register spill, no stack frame, and ptxas reports every declared entry point.
//! NVRTC and the CUDA headers come from PyPI (`nvidia-cuda-nvrtc-cu12`,
//! `nvidia-cuda-runtime-cu12`), fetched once into the engine's cache.

use clinalign_infer::assets::Quiet;
use clinalign_infer::cuda::kernels::{KERNELS, KernelFile};
use clinalign_infer::cuda::nvrtc::{self, Toolkit};
use clinalign_infer::cuda::{CHECKED_ARCHS, compile_all, problems};

fn toolkit() -> Toolkit {
    Toolkit::locate_or_fetch(&Quiet).expect("the NVRTC toolkit (fetched from PyPI on first use)")
}

#[test]
fn every_kernel_compiles_for_sm80_and_sm90_without_warnings_or_spills() {
    let tk = toolkit();
    let cache = tempfile::tempdir().unwrap();
    let checks = compile_all(&CHECKED_ARCHS, &tk, cache.path()).expect("every kernel compiles");
    let mut all_problems = Vec::new();
    println!("{:<14} {:<6} {:<24} {:>5} {:>7} {:>8} {:>9}", "file", "arch", "entry", "regs", "spills", "smem", "ms");
    for check in &checks {
        for (c, k) in check.compiled.iter().zip(KERNELS) {
            assert!(!c.cached, "a fresh cache folder compiles everything");
            assert!(c.ptx.contains(&format!(".target {}", check.arch)), "{}: PTX for {}", c.file, check.arch);
            assert_eq!(&c.cubin[..4], b"\x7fELF", "{}: a CUBIN for {}", c.file, check.arch);
            for e in &c.entries {
                assert!(e.registers > 0, "{} {}: ptxas reported its registers", c.file, e.name);
                println!(
                    "{:<14} {:<6} {:<24} {:>5} {:>7} {:>8} {:>9.1}",
                    c.file,
                    c.arch,
                    e.name,
                    e.registers,
                    e.spill_stores + e.spill_loads,
                    e.shared_bytes,
                    c.compile_ms
                );
            }
            all_problems.extend(problems(c, k.entries));
        }
    }
    assert!(all_problems.is_empty(), "kernel problems:\n{}", all_problems.join("\n"));

    // The grouped GEMM really uses the tensor-core path: mma.sync, ldmatrix, cp.async.
    let gemm = checks[1].compiled.iter().find(|c| c.file == "moe_gemm.cu").unwrap();
    for op in
        ["mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32", "ldmatrix.sync.aligned", "cp.async.cg.shared.global"]
    {
        assert!(gemm.ptx.contains(op), "moe_gemm.cu's PTX has no {op}");
    }

    // A second pass comes from the cache, with the same report.
    let again = compile_all(&CHECKED_ARCHS, &tk, cache.path()).unwrap();
    for (a, b) in checks.iter().flat_map(|c| &c.compiled).zip(again.iter().flat_map(|c| &c.compiled)) {
        assert!(b.cached, "{} ({}) came from the cache", b.file, b.arch);
        assert_eq!((&a.cubin, &a.entries, &a.key), (&b.cubin, &b.entries, &b.key));
    }
}

/// A kernel that does not compile gives an error naming its file and line, not the prelude's.
#[test]
fn a_broken_kernel_names_its_file_and_line() {
    let tk = toolkit();
    let broken = KernelFile {
        file: "broken.cu",
        about: "a test",
        source: "extern \"C\" __global__ void k(float* x) {\n    x[0] = undefined_name;\n}\n",
        entries: &["k"],
    };
    let err = nvrtc::compile(&broken, "sm_90", &tk).unwrap_err().to_string();
    assert!(err.contains("broken.cu(2)") && err.contains("undefined_name"), "{err}");
}
