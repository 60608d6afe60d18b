//! What CUDA this machine has: the driver (loaded dynamically; absent is an answer, not a
//! crash) and its devices.

use serde::Serialize;

/// One CUDA device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Gpu {
    pub ordinal: usize,
    pub name: String,
    /// Compute capability `(major, minor)`: `(9, 0)` is an H100/H200.
    pub compute: (i32, i32),
    /// Device memory in bytes.
    pub memory: usize,
}

impl Gpu {
    /// The NVRTC architecture to compile for: `sm_90`.
    pub fn arch(&self) -> String {
        format!("sm_{}{}", self.compute.0, self.compute.1)
    }

    /// In words: "cuda:0 (NVIDIA H200, sm_90, 140 GiB)".
    pub fn describe(&self) -> String {
        format!("cuda:{} ({}, {}, {} GiB)", self.ordinal, self.name, self.arch(), self.memory >> 30)
    }
}

/// The driver's state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "driver", rename_all = "snake_case")]
pub enum Driver {
    /// No `libcuda.so` on the library path.
    Absent,
    /// The library is there but does not work (no device node, a driver/library mismatch…).
    Failed { reason: String },
    /// Working: its CUDA version (`13000` = 13.0) and devices.
    Ready { version: i32, gpus: Vec<Gpu> },
}

impl Driver {
    /// CUDA device `ordinal`, or why there is none to use, in a sentence.
    pub fn gpu(&self, ordinal: usize) -> Result<&Gpu, String> {
        match self {
            Driver::Absent => Err("no CUDA driver on this machine: libcuda.so not found".into()),
            Driver::Failed { reason } => Err(format!("the CUDA driver does not work here: {reason}")),
            Driver::Ready { gpus, .. } if gpus.is_empty() => Err("the CUDA driver reports no device".into()),
            Driver::Ready { gpus, .. } => gpus
                .get(ordinal)
                .ok_or_else(|| format!("there is no CUDA device {ordinal} (the driver reports {})", gpus.len())),
        }
    }
}

/// Looks for the CUDA driver and its devices. Never panics: cudarc's loader panics where a
/// library or symbol is missing, so the probe runs behind `catch_unwind` as well.
pub fn probe() -> Driver {
    // SAFETY: only tries to open the library.
    if !unsafe { cudarc::driver::sys::is_culib_present() } {
        return Driver::Absent;
    }
    match std::panic::catch_unwind(probe_loaded) {
        Ok(Ok(d)) => d,
        Ok(Err(reason)) => Driver::Failed { reason },
        Err(_) => Driver::Failed { reason: "the CUDA driver library lacks a function the engine needs".into() },
    }
}

fn probe_loaded() -> Result<Driver, String> {
    use cudarc::driver::{result, sys};
    result::init().map_err(|e| format!("cuInit failed: {e}"))?;
    let mut version = 0;
    // SAFETY: the driver is initialised; the out-pointer is valid.
    unsafe { sys::cuDriverGetVersion(&mut version) }.result().map_err(|e| format!("cuDriverGetVersion: {e}"))?;
    let count = result::device::get_count().map_err(|e| format!("cuDeviceGetCount: {e}"))?;
    let mut gpus = Vec::new();
    for ordinal in 0..count {
        let dev = result::device::get(ordinal).map_err(|e| format!("cuDeviceGet({ordinal}): {e}"))?;
        let attr = |a| {
            // SAFETY: `dev` is a valid device handle.
            unsafe { result::device::get_attribute(dev, a) }.map_err(|e| format!("cuDeviceGetAttribute: {e}"))
        };
        let major = attr(sys::CUdevice_attribute::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR)?;
        let minor = attr(sys::CUdevice_attribute::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR)?;
        let name = result::device::get_name(dev).map_err(|e| format!("cuDeviceGetName: {e}"))?;
        // SAFETY: as above.
        let memory = unsafe { result::device::total_mem(dev) }.map_err(|e| format!("cuDeviceTotalMem: {e}"))?;
        gpus.push(Gpu { ordinal: ordinal as usize, name, compute: (major, minor), memory });
    }
    Ok(Driver::Ready { version, gpus })
}
