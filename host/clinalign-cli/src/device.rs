//! `--device cpu|cuda[:N]|auto`: where local models run, resolved once per process the
//! first time a local model is opened (commands without a local model never probe).

use std::sync::OnceLock;

use anyhow::{Result, anyhow};
use clinalign_infer::backend::{self, Backend, DeviceRequest};

static REQUEST: OnceLock<DeviceRequest> = OnceLock::new();
static CHOSEN: OnceLock<std::result::Result<Backend, String>> = OnceLock::new();

/// Records the `--device` the command line asked for (before any model is opened).
pub fn request(req: DeviceRequest) {
    let _ = REQUEST.set(req);
}

/// The backend local models run on; an error where `--device` asks for one this machine
/// cannot give.
pub fn backend() -> Result<Backend> {
    CHOSEN
        .get_or_init(|| {
            let req = REQUEST.get().copied().unwrap_or_default();
            let chosen = backend::choose(req).map_err(|e| e.to_string());
            if let Ok(b) = &chosen {
                tracing::info!("inference backend: {} ({})", b.name, b.why);
            }
            chosen
        })
        .clone()
        .map_err(|e| anyhow!(e))
}
