//! Which backend runs the forward pass, chosen at run time: `--device cpu|cuda[:N]|auto`.
//!
//! `auto` takes a CUDA device when one is there and usable, else the CPU, and says why;
//! `cuda` fails with a clear message where there is none (never a panic, never a link error:
//! the driver is loaded dynamically). In this build the engine runs models on the CPU only:
//! the CUDA kernels and a first CUDA forward pass ([`crate::cuda::forward`]) exist and are
//! checked by `clinalign kernels test` / `forward-check` on a GPU, but are not yet wired into
//! the engine, so `auto` runs on the CPU and says so, and `cuda` is refused with that reason.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

use crate::cuda::{Driver, probe};
use crate::error::{Error, Result};

/// What the user asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeviceRequest {
    Cpu,
    /// A CUDA device by ordinal (`cuda` = `cuda:0`).
    Cuda(usize),
    /// The best the machine has.
    #[default]
    Auto,
}

impl FromStr for DeviceRequest {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<DeviceRequest, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "cpu" => Ok(DeviceRequest::Cpu),
            "auto" => Ok(DeviceRequest::Auto),
            "cuda" | "gpu" => Ok(DeviceRequest::Cuda(0)),
            other => match other.strip_prefix("cuda:").map(str::parse::<usize>) {
                Some(Ok(n)) => Ok(DeviceRequest::Cuda(n)),
                _ => Err(format!("unknown device {s:?}: expected cpu, cuda, cuda:N or auto")),
            },
        }
    }
}

impl fmt::Display for DeviceRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeviceRequest::Cpu => write!(f, "cpu"),
            DeviceRequest::Cuda(n) => write!(f, "cuda:{n}"),
            DeviceRequest::Auto => write!(f, "auto"),
        }
    }
}

/// The backend that runs, and why (for `lm info`, `/healthz` and logs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Backend {
    /// `cpu` (or `cuda:N` once the CUDA forward pass exists).
    pub name: String,
    /// Why this one, in a sentence.
    pub why: String,
    /// What the probe found: the driver and its devices (`None`: not probed, with
    /// `--device cpu`).
    pub driver: Option<Driver>,
}

impl Backend {
    /// The CPU, for a caller that chose no device (a library user, a test server).
    pub fn cpu(why: &str) -> Backend {
        Backend { name: "cpu".into(), why: why.into(), driver: None }
    }
}

/// Why the CUDA forward pass is not used even where a device is present.
const CUDA_FORWARD_MISSING: &str = "the engine of this build runs models on the CPU only (the CUDA kernels and a \
     first CUDA forward pass exist, `clinalign kernels test` and `kernels forward-check`, but are not yet wired \
     into the engine)";

/// Resolves `req` against this machine.
pub fn choose(req: DeviceRequest) -> Result<Backend> {
    let cpu = |why: String, driver: Driver| Backend { name: "cpu".into(), why, driver: Some(driver) };
    match req {
        DeviceRequest::Cpu => Ok(Backend::cpu("asked for (--device cpu)")),
        DeviceRequest::Auto => {
            let driver = probe();
            let why = match driver.gpu(0) {
                Err(why) => why,
                Ok(g) => format!("found {}, but {CUDA_FORWARD_MISSING}", g.describe()),
            };
            Ok(cpu(why, driver))
        }
        DeviceRequest::Cuda(n) => {
            let why = match probe().gpu(n) {
                Err(why) => why,
                Ok(g) => format!("found {}, but {CUDA_FORWARD_MISSING}", g.describe()),
            };
            Err(Error::Unsupported(format!("--device cuda:{n}: {why}; use --device cpu or auto")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_names_parse() {
        assert_eq!("cpu".parse(), Ok(DeviceRequest::Cpu));
        assert_eq!("AUTO".parse(), Ok(DeviceRequest::Auto));
        assert_eq!("cuda".parse(), Ok(DeviceRequest::Cuda(0)));
        assert_eq!("cuda:3".parse(), Ok(DeviceRequest::Cuda(3)));
        let err = "tpu".parse::<DeviceRequest>().unwrap_err();
        assert!(err.contains("cpu, cuda, cuda:N or auto"), "{err}");
        assert!("cuda:x".parse::<DeviceRequest>().is_err());
        assert_eq!(DeviceRequest::Cuda(2).to_string(), "cuda:2");
    }

    /// Whatever the machine has, `auto` gives a backend with a reason and `cpu` is the CPU;
    /// without a driver, `cuda` is an error that says so (never a panic).
    #[test]
    fn choosing_never_panics_and_always_explains() {
        let auto = choose(DeviceRequest::Auto).expect("auto always resolves");
        assert_eq!(auto.name, "cpu");
        assert!(!auto.why.is_empty());
        assert_eq!(choose(DeviceRequest::Cpu).unwrap().name, "cpu");
        let err = choose(DeviceRequest::Cuda(0)).unwrap_err().to_string();
        assert!(err.starts_with("--device cuda:0: ") && err.ends_with("use --device cpu or auto"), "{err}");
        if matches!(probe(), Driver::Absent) {
            assert!(err.contains("libcuda.so not found"), "{err}");
            assert!(auto.why.contains("no CUDA driver"), "{}", auto.why);
        }
    }
}
