//! On-disk cache of compiled components, keyed by the component's sha256 and the
//! engine's compatibility hash (wasmtime version and settings), so a cold start
//! deserializes instead of compiling.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::PathBuf;

use wasmtime::Engine;
use wasmtime::component::Component;

use crate::files::write_atomic;

pub(crate) struct ComponentCache {
    dir: Option<PathBuf>,
    engine_key: String,
}

impl ComponentCache {
    pub(crate) fn new(dir: Option<PathBuf>, engine: &Engine) -> ComponentCache {
        let mut h = DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut h);
        ComponentCache { dir: dir.map(|d| d.join("components")), engine_key: format!("{:016x}", h.finish()) }
    }

    /// The compiled component for `bytes`, from the cache or freshly compiled (and then
    /// stored). A cache file that does not deserialize is recompiled and replaced.
    pub(crate) fn load(&self, engine: &Engine, bytes: &[u8], sha256: &str) -> Result<Component, String> {
        let path = self.dir.as_ref().map(|d| d.join(format!("{sha256}-{}.cwasm", self.engine_key)));
        if let Some(path) = &path
            && path.exists()
        {
            // SAFETY: the cache directory holds only files this function wrote with
            // `Component::serialize` for an engine with the same compatibility hash (part
            // of the file name); a corrupt or foreign file fails to deserialize and is
            // recompiled below.
            match unsafe { Component::deserialize_file(engine, path) } {
                Ok(c) => return Ok(c),
                Err(e) => tracing::warn!("ignoring unreadable cached component {}: {e:#}", path.display()),
            }
        }
        let component =
            Component::new(engine, bytes).map_err(|e| format!("not a valid WebAssembly component: {e:#}"))?;
        if let Some(path) = &path {
            match component.serialize() {
                Ok(compiled) => {
                    if let Err(e) = write_atomic(path, &compiled) {
                        tracing::warn!("could not cache compiled component: {e}");
                    }
                }
                Err(e) => tracing::warn!("could not serialize compiled component: {e:#}"),
            }
        }
        Ok(component)
    }
}
