//! # The CUDA side of the inference layer
//!
//! - [`probe`]: the driver and its devices, found at run time (cudarc, dynamic loading), so
//!   one binary runs with or without a GPU;
//! - [`kernels`]: the `kernels/*.cu` sources, embedded in the binary;
//! - [`nvrtc`]: compiling them at run time for the device's architecture, with ptxas's
//!   register/spill report, cached on disk by source hash and architecture;
//! - [`mirror`]: CPU mirrors of the kernels whose logic is more than arithmetic, tested here
//!   against the CPU backend, so that a GPU run checks only the translation to CUDA.
//!
//! - [`weights`]: a model's weights as bf16 in the kernels' fused layouts;
//! - [`check`]: each kernel on a GPU against its CPU reference;
//! - [`forward`]: a first forward pass on the GPU from the kernels alone, compared with the
//!   CPU backend.
//!
//! The engine does not run models on CUDA yet: [`crate::backend`] says so when a GPU is
//! asked for.

pub mod check;
pub mod forward;
pub mod kernels;
pub mod mirror;
pub mod nvrtc;
pub mod probe;
pub mod weights;

pub use probe::{Driver, Gpu, probe};

/// The architectures CI compiles every kernel for: A100 (`sm_80`) and H100/H200 (`sm_90`).
pub const CHECKED_ARCHS: [&str; 2] = ["sm_80", "sm_90"];

/// The result of compiling every kernel file for one architecture.
#[derive(Debug, Clone)]
pub struct ArchCheck {
    pub arch: String,
    pub compiled: Vec<nvrtc::Compiled>,
}

/// What is wrong with a kernel build: a warning, a spill, an entry point ptxas did not
/// report. Each problem names the file and the entry point.
pub fn problems(c: &nvrtc::Compiled, declared: &[&str]) -> Vec<String> {
    let mut out: Vec<String> = c.warnings().iter().map(|w| format!("{} ({}): {}", c.file, c.arch, w.trim())).collect();
    for e in &c.entries {
        if e.spill_stores > 0 || e.spill_loads > 0 {
            out.push(format!(
                "{} ({}): {} spills registers ({} bytes stored, {} loaded)",
                c.file, c.arch, e.name, e.spill_stores, e.spill_loads
            ));
        }
        if e.stack_bytes > 0 {
            out.push(format!("{} ({}): {} uses a {}-byte stack frame", c.file, c.arch, e.name, e.stack_bytes));
        }
    }
    for d in declared {
        if !c.entries.iter().any(|e| e.name == *d) {
            out.push(format!("{} ({}): ptxas reported nothing for entry point {d}", c.file, c.arch));
        }
    }
    out
}

/// Compiles every kernel file for each of `archs` through the cache folder `cache`, in order.
pub fn compile_all(archs: &[&str], toolkit: &nvrtc::Toolkit, cache: &std::path::Path) -> crate::Result<Vec<ArchCheck>> {
    archs
        .iter()
        .map(|arch| {
            let compiled = kernels::KERNELS
                .iter()
                .map(|k| nvrtc::compile_cached(cache, k, arch, toolkit))
                .collect::<crate::Result<Vec<_>>>()?;
            Ok(ArchCheck { arch: arch.to_string(), compiled })
        })
        .collect()
}
