//! Compiling the kernels with NVRTC, at run time, for the device's architecture.
//!
//! NVRTC is loaded dynamically (cudarc): one binary runs with or without it. Where it comes
//! from, in order: `$CLINALIGN_NVRTC` (the path of a `libnvrtc.so.*`), the CUDA toolkit the
//! engine fetched into its cache (`clinalign kernels fetch-toolkit`: the PyPI wheels
//! `nvidia-cuda-nvrtc-cu12` and `nvidia-cuda-runtime-cu12`, whose include folder has
//! `cuda_bf16.h`), then the system's library search path. The headers: `$CLINALIGN_CUDA_INCLUDE`,
//! then the fetched toolkit, then `/usr/local/cuda/include`.
//!
//! Every compile yields PTX, a CUBIN for the exact architecture and ptxas's report
//! (registers, spills, shared memory per entry point), and is cached on disk under
//! `<cache>/kernels/<arch>/` by the hash of the program text and options, so a device that
//! has no NVRTC can still load kernels compiled elsewhere for its architecture.

use std::ffi::{CStr, CString};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Instant;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::kernels::KernelFile;
use crate::assets::FetchProgress;
use crate::error::{Error, Result};

/// The PyPI packages of the NVRTC toolkit the engine fetches (no GPU needed to compile).
pub const NVRTC_PACKAGE: &str = "nvidia-cuda-nvrtc-cu12==12.9.86";
/// The package whose include folder has `cuda_bf16.h` and the headers it needs.
pub const HEADERS_PACKAGE: &str = "nvidia-cuda-runtime-cu12==12.9.79";

/// Where NVRTC and the CUDA headers are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Toolkit {
    /// `libnvrtc.so.*` (absolute), or `None`: the system's search path.
    pub library: Option<PathBuf>,
    /// The folder with `cuda_bf16.h`.
    pub include: PathBuf,
}

/// The fetched toolkit's folder: `<cache>/cuda-12.9`.
pub fn fetched_dir() -> PathBuf {
    clinalign_core::default_cache_dir().join("cuda-12.9")
}

fn env_path(var: &str) -> Option<PathBuf> {
    std::env::var_os(var).filter(|v| !v.is_empty()).map(PathBuf::from)
}

impl Toolkit {
    /// The toolkit this machine has, without fetching anything; `None` with the reason.
    pub fn locate() -> std::result::Result<Toolkit, String> {
        let fetched = fetched_dir();
        let library = env_path("CLINALIGN_NVRTC").or_else(|| {
            let lib = fetched.join("lib/libnvrtc.so.12");
            lib.is_file().then_some(lib)
        });
        if let Some(lib) = &library
            && !lib.is_file()
        {
            return Err(format!("{}: no such file ($CLINALIGN_NVRTC)", lib.display()));
        }
        let include = [
            env_path("CLINALIGN_CUDA_INCLUDE"),
            Some(fetched.join("include")),
            Some("/usr/local/cuda/include".into()),
        ]
        .into_iter()
        .flatten()
        .find(|d| d.join("cuda_bf16.h").is_file())
        .ok_or_else(|| {
            "no CUDA headers (cuda_bf16.h): set $CLINALIGN_CUDA_INCLUDE or run `clinalign kernels fetch-toolkit`"
                .to_string()
        })?;
        Ok(Toolkit { library, include })
    }

    /// [`Toolkit::locate`], fetching the PyPI toolkit into the cache when nothing is found.
    pub fn locate_or_fetch(progress: &dyn FetchProgress) -> Result<Toolkit> {
        // One fetch at a time in this process (tests run in parallel).
        static FETCHING: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let _one = FETCHING.lock().unwrap_or_else(|p| p.into_inner());
        if let Ok(t) = Toolkit::locate() {
            return Ok(t);
        }
        fetch(progress)?;
        Toolkit::locate().map_err(Error::Unsupported)
    }

    /// Loads NVRTC (once per process) and says its version. A missing library is an error,
    /// never a panic.
    pub fn load(&self) -> Result<(i32, i32)> {
        static LOADED: OnceLock<std::result::Result<(), String>> = OnceLock::new();
        let lib = self.library.clone();
        LOADED
            .get_or_init(move || {
                if let Some(path) = lib {
                    // Loaded by its full path first, the library is then found by its soname
                    // when cudarc opens `libnvrtc.so.12`; kept for the life of the process.
                    // SAFETY: loading NVRTC runs no initialisers with preconditions of ours.
                    let l = unsafe { libloading::Library::new(&path) }
                        .map_err(|e| format!("{}: cannot load NVRTC: {e}", path.display()))?;
                    std::mem::forget(l);
                }
                // SAFETY: only probes whether the library can be opened.
                if unsafe { cudarc::nvrtc::sys::is_culib_present() } {
                    Ok(())
                } else {
                    Err("NVRTC (libnvrtc.so) is not on this machine: set $CLINALIGN_NVRTC or run \
                         `clinalign kernels fetch-toolkit`"
                        .into())
                }
            })
            .clone()
            .map_err(Error::Unsupported)?;
        let (mut major, mut minor) = (0, 0);
        // SAFETY: the library is loaded; the out-pointers are valid.
        unsafe { cudarc::nvrtc::sys::nvrtcVersion(&mut major, &mut minor) }
            .result()
            .map_err(|e| Error::Unsupported(format!("nvrtcVersion: {e:?}")))?;
        Ok((major, minor))
    }
}

/// Downloads the NVRTC toolkit from PyPI into [`fetched_dir`]: `lib/` (NVRTC and its
/// built-ins) and `include/` (the CUDA runtime headers).
pub fn fetch(progress: &dyn FetchProgress) -> Result<PathBuf> {
    let dir = fetched_dir();
    let lib = dir.join("lib");
    let libs = ["libnvrtc.so.12", "libnvrtc-builtins.so.12.9"];
    let members: Vec<(String, PathBuf)> =
        libs.iter().map(|f| (format!("nvidia/cuda_nvrtc/lib/{f}"), lib.join(f))).collect();
    let files: Vec<(&str, &Path)> = members.iter().map(|(m, d)| (m.as_str(), d.as_path())).collect();
    crate::assets::fetch_wheel_files(NVRTC_PACKAGE, &files, progress)?;
    crate::assets::fetch_wheel_folder(HEADERS_PACKAGE, "nvidia/cuda_runtime/include/", &dir.join("include"), progress)?;
    Ok(dir)
}

/// What ptxas reported for one entry point.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryStats {
    pub name: String,
    pub registers: u32,
    pub spill_stores: u32,
    pub spill_loads: u32,
    pub stack_bytes: u32,
    pub shared_bytes: u32,
}

/// One kernel file compiled for one architecture.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Compiled {
    pub file: String,
    pub arch: String,
    /// The cache key: hash of the program text and options.
    pub key: String,
    pub ptx: String,
    #[serde(skip)]
    pub cubin: Vec<u8>,
    /// NVRTC's log (ptxas's report included).
    pub log: String,
    pub entries: Vec<EntryStats>,
    /// NVRTC's version, `major.minor`.
    pub nvrtc: String,
    /// Milliseconds the compile took (0 when it came from the cache).
    pub compile_ms: f64,
    /// Whether it came from the on-disk cache.
    #[serde(skip)]
    pub cached: bool,
}

impl Compiled {
    /// The log's warnings (any line NVRTC or ptxas marks as a warning).
    pub fn warnings(&self) -> Vec<&str> {
        self.log.lines().filter(|l| l.contains("warning")).collect()
    }
}

/// The options every kernel is compiled with, for `arch` (`sm_80`, `sm_90`).
pub fn options(arch: &str, include: &Path) -> Vec<String> {
    vec![
        format!("-arch={arch}"),
        "--std=c++17".into(),
        format!("-I{}", include.display()),
        "-default-device".into(),
        "--fmad=true".into(),
        "--ptxas-options=-v".into(),
    ]
}

/// The cache key of a program: its text, its options without the machine's paths, the
/// architecture.
pub fn cache_key(kernel: &KernelFile, arch: &str) -> String {
    let mut h = Sha256::new();
    h.update(kernel.program().as_bytes());
    for o in options(arch, Path::new("")) {
        if !o.starts_with("-I") {
            h.update(o.as_bytes());
            h.update([0]);
        }
    }
    hex::encode(&h.finalize()[..12])
}

/// Where compiled kernels are kept: `$CLINALIGN_KERNEL_CACHE`, else `<cache>/kernels`.
pub fn cache_dir() -> PathBuf {
    env_path("CLINALIGN_KERNEL_CACHE").unwrap_or_else(|| clinalign_core::default_cache_dir().join("kernels"))
}

fn cache_paths(dir: &Path, kernel: &KernelFile, arch: &str) -> (PathBuf, PathBuf) {
    let stem = kernel.file.trim_end_matches(".cu");
    let base = dir.join(arch).join(format!("{stem}-{}", cache_key(kernel, arch)));
    (base.with_extension("cubin"), base.with_extension("json"))
}

/// A kernel compiled earlier for `arch`, from the cache folder `dir` (no NVRTC needed).
pub fn cached(dir: &Path, kernel: &KernelFile, arch: &str) -> Option<Compiled> {
    let (cubin_path, meta_path) = cache_paths(dir, kernel, arch);
    let meta = std::fs::read_to_string(&meta_path).ok()?;
    let mut c: Compiled = serde_json::from_str(&meta).ok()?;
    c.cubin = std::fs::read(&cubin_path).ok()?;
    c.cached = true;
    c.compile_ms = 0.0;
    Some(c)
}

/// Compiles `kernel` for `arch`, or takes it from the cache folder `dir` (normally
/// [`cache_dir`]); a fresh compile is written there atomically. Errors name the file, the
/// line and NVRTC's message.
pub fn compile_cached(dir: &Path, kernel: &KernelFile, arch: &str, toolkit: &Toolkit) -> Result<Compiled> {
    if let Some(c) = cached(dir, kernel, arch) {
        return Ok(c);
    }
    let c = compile(kernel, arch, toolkit)?;
    let (cubin_path, meta_path) = cache_paths(dir, kernel, arch);
    let write = |path: &Path, bytes: &[u8]| -> Result<()> {
        let dir = path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| Error::io(dir, e))?;
        std::io::Write::write_all(&mut tmp, bytes).map_err(|e| Error::io(path, e))?;
        tmp.persist(path).map_err(|e| Error::io(path, e.error))?;
        Ok(())
    };
    write(&cubin_path, &c.cubin)?;
    let meta = serde_json::to_vec_pretty(&c).map_err(|e| Error::Invalid(e.to_string()))?;
    write(&meta_path, &meta)?;
    Ok(c)
}

/// Compiles `kernel` for `arch` with NVRTC (no cache).
pub fn compile(kernel: &KernelFile, arch: &str, toolkit: &Toolkit) -> Result<Compiled> {
    use cudarc::nvrtc::{result, sys};
    let (major, minor) = toolkit.load()?;
    let text = CString::new(kernel.program()).map_err(|_| Error::Invalid(format!("{}: NUL byte", kernel.file)))?;
    let name = CString::new(kernel.file).map_err(|_| Error::Invalid("kernel name".into()))?;
    let started = Instant::now();
    let prog = result::create_program(&text, Some(&name))
        .map_err(|e| Error::Unsupported(format!("{}: nvrtcCreateProgram: {e:?}", kernel.file)))?;
    let opts = options(arch, &toolkit.include);
    // SAFETY: `prog` was just created and is destroyed below, once.
    let compiled = unsafe { result::compile_program(prog, &opts) };
    // SAFETY: as above.
    let log = unsafe { result::get_program_log(prog) }.map(|l| c_text(&l)).unwrap_or_default();
    let out = match compiled {
        Err(_) => Err(Error::Invalid(format!("{} did not compile for {arch}:\n{}", kernel.file, log.trim()))),
        Ok(()) => {
            // SAFETY: the program compiled; the buffers are sized by NVRTC's own answers.
            let ptx = unsafe { result::get_ptx(prog) }
                .map(|p| c_text(&p))
                .map_err(|e| Error::Unsupported(format!("nvrtcGetPTX: {e:?}")))?;
            let mut size = 0usize;
            // SAFETY: as above.
            unsafe { sys::nvrtcGetCUBINSize(prog, &mut size) }
                .result()
                .map_err(|e| Error::Unsupported(format!("nvrtcGetCUBINSize: {e:?}")))?;
            let mut cubin = vec![0u8; size];
            if size > 0 {
                // SAFETY: `cubin` holds `size` bytes, as NVRTC asked.
                unsafe { sys::nvrtcGetCUBIN(prog, cubin.as_mut_ptr().cast()) }
                    .result()
                    .map_err(|e| Error::Unsupported(format!("nvrtcGetCUBIN: {e:?}")))?;
            }
            Ok(Compiled {
                file: kernel.file.to_string(),
                arch: arch.to_string(),
                key: cache_key(kernel, arch),
                ptx,
                cubin,
                entries: parse_ptxas(&log),
                log,
                nvrtc: format!("{major}.{minor}"),
                compile_ms: started.elapsed().as_secs_f64() * 1e3,
                cached: false,
            })
        }
    };
    // SAFETY: created above, destroyed once.
    let _ = unsafe { result::destroy_program(prog) };
    out
}

/// A NUL-terminated C buffer as text.
fn c_text(buf: &[std::ffi::c_char]) -> String {
    let bytes: Vec<u8> = buf.iter().map(|c| *c as u8).collect();
    CStr::from_bytes_until_nul(&bytes)
        .map(|c| c.to_string_lossy().into_owned())
        .unwrap_or_else(|_| String::from_utf8_lossy(&bytes).into_owned())
}

/// ptxas's `-v` report, per entry point: "Compiling entry function 'k'", then "N bytes stack
/// frame, S bytes spill stores, L bytes spill loads" and "Used R registers, … B bytes smem".
pub fn parse_ptxas(log: &str) -> Vec<EntryStats> {
    let mut out: Vec<EntryStats> = Vec::new();
    let number_before = |line: &str, what: &str| -> Option<u32> {
        let at = line.find(what)?;
        line[..at].split(|c: char| !c.is_ascii_digit()).rfind(|w| !w.is_empty())?.parse().ok()
    };
    for line in log.lines() {
        if let Some(rest) = line.split("Compiling entry function '").nth(1) {
            let name = rest.split('\'').next().unwrap_or("").to_string();
            out.push(EntryStats { name, ..EntryStats::default() });
            continue;
        }
        let Some(cur) = out.last_mut() else { continue };
        if line.contains("spill stores") {
            cur.stack_bytes = number_before(line, "bytes stack frame").unwrap_or(0);
            cur.spill_stores = number_before(line, "bytes spill stores").unwrap_or(0);
            cur.spill_loads = number_before(line, "bytes spill loads").unwrap_or(0);
        }
        if line.contains("Used ") && line.contains("registers") {
            cur.registers = number_before(line, "registers").unwrap_or(0);
            cur.shared_bytes = number_before(line, "bytes smem").unwrap_or(0);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ptxas_reports_are_read_per_entry_point() {
        let log = "ptxas info    : 0 bytes gmem\n\
            ptxas info    : Compiling entry function 'moe_grouped_gemm_bf16' for 'sm_90'\n\
            ptxas info    : Function properties for moe_grouped_gemm_bf16\n\
            ptxas         .     0 bytes stack frame, 8 bytes spill stores, 4 bytes spill loads\n\
            ptxas info    : Used 71 registers, used 1 barriers, 20480 bytes smem, 424 bytes cmem[0]\n\
            ptxas info    : Compiling entry function 'silu_mul_bf16' for 'sm_90'\n\
            ptxas info    : Function properties for silu_mul_bf16\n\
            ptxas         .     0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads\n\
            ptxas info    : Used 20 registers, used 0 barriers, 376 bytes cmem[0]\n";
        let s = parse_ptxas(log);
        assert_eq!(s.len(), 2);
        assert_eq!(
            s[0],
            EntryStats {
                name: "moe_grouped_gemm_bf16".into(),
                registers: 71,
                spill_stores: 8,
                spill_loads: 4,
                stack_bytes: 0,
                shared_bytes: 20480
            }
        );
        assert_eq!((s[1].registers, s[1].shared_bytes, s[1].spill_stores), (20, 0, 0));
    }

    #[test]
    fn the_cache_key_follows_the_source_and_the_architecture() {
        let k = &super::super::kernels::KERNELS[0];
        assert_eq!(cache_key(k, "sm_90"), cache_key(k, "sm_90"));
        assert_ne!(cache_key(k, "sm_90"), cache_key(k, "sm_80"));
        assert_ne!(cache_key(k, "sm_90"), cache_key(&super::super::kernels::KERNELS[1], "sm_90"));
    }
}
