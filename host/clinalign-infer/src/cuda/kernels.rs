//! The CUDA kernels, embedded in the binary: every `kernels/*.cu` file of the repository,
//! with the entry points it defines. The host compiles a file as `common.cuh` followed by the
//! file (with `#line` markers, so NVRTC's messages name the right file and line).

/// One kernel source file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KernelFile {
    /// Its name under `kernels/`.
    pub file: &'static str,
    /// What it computes, in a few words.
    pub about: &'static str,
    /// Its source (without the common prelude).
    pub source: &'static str,
    /// The `extern "C" __global__` functions it defines.
    pub entries: &'static [&'static str],
}

/// `kernels/common.cuh`: the helpers every kernel file is compiled with.
pub const COMMON: &str = include_str!("../../../../kernels/common.cuh");

macro_rules! kernel {
    ($file:literal, $about:literal, [$($entry:literal),+ $(,)?]) => {
        KernelFile {
            file: $file,
            about: $about,
            source: include_str!(concat!("../../../../kernels/", $file)),
            entries: &[$($entry),+],
        }
    };
}

/// Every kernel file, in the order of a forward pass.
pub const KERNELS: &[KernelFile] = &[
    kernel!("embedding.cu", "embedding gather", ["embed_gather_bf16"]),
    kernel!("rmsnorm.cu", "fused residual add + RMSNorm", ["add_rmsnorm_bf16"]),
    kernel!("rope.cu", "q/k RMSNorm + RoPE + KV-cache write", ["qk_norm_rope_kv_bf16"]),
    kernel!(
        "attention.cu",
        "attention over per-row KV ranges (causal, shared prefix, GQA) + prefix/suffix merge",
        ["attention_partial_d64", "attention_partial_d128", "attention_partial_any", "merge_attention_bf16"]
    ),
    kernel!("router.cu", "router softmax + top-k (+ renormalise)", ["topk_softmax_f32", "topk_softmax_bf16"]),
    kernel!("moe_align.cu", "expert alignment: count, scan, scatter", ["moe_align_count_scan", "moe_align_scatter"]),
    kernel!("moe_gemm.cu", "grouped expert GEMM on tensor cores (mma.sync)", ["moe_grouped_gemm_bf16"]),
    kernel!("activation.cu", "SiLU-and-mul", ["silu_mul_bf16"]),
    kernel!("combine.cu", "sum of a token's top-k expert outputs", ["moe_combine_bf16"]),
    kernel!("judge.cu", "log-sum-exp + gather of answer token ids", ["logsumexp_gather_f32"]),
];

impl KernelFile {
    /// The text NVRTC compiles: the common prelude, then the file.
    pub fn program(&self) -> String {
        format!("#line 1 \"common.cuh\"\n{COMMON}\n#line 1 \"{}\"\n{}", self.file, self.source)
    }
}

/// The kernel file called `file` (`"router.cu"`).
pub fn by_file(file: &str) -> Option<&'static KernelFile> {
    KERNELS.iter().find(|k| k.file == file)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The list is the folder: a new `.cu` file not listed here (or an entry point not
    /// declared) would never be compiled or checked.
    #[test]
    fn every_kernel_file_and_entry_point_is_listed() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../kernels");
        let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
            .expect("kernels/")
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".cu"))
            .collect();
        on_disk.sort();
        let mut listed: Vec<String> = KERNELS.iter().map(|k| k.file.to_string()).collect();
        listed.sort();
        assert_eq!(on_disk, listed);
        for k in KERNELS {
            let mut source = k.source.to_string();
            while let Some(at) = source.find("__launch_bounds__(") {
                let end = at + source[at..].find(')').expect("closing parenthesis") + 1;
                source.replace_range(at..end, "");
            }
            let defined: Vec<&str> = source
                .split("extern \"C\" __global__")
                .skip(1)
                .filter_map(|rest| {
                    let head = rest.split('(').next()?;
                    head.split_whitespace().last()
                })
                .collect();
            let mut want: Vec<&str> = k.entries.to_vec();
            want.sort_unstable();
            let mut got = defined.clone();
            got.sort_unstable();
            assert_eq!(got, want, "{}: entry points", k.file);
            assert!(!k.source.contains("#include"), "{}: includes come from common.cuh only", k.file);
            assert!(!k.source.contains("cub::") && !k.source.contains("cuda/std"), "{}: no CUB or libcu++", k.file);
        }
    }
}
