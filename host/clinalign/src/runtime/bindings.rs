//! Host bindings per supported version of the `clinalign:principle` WIT package.
//!
//! A published WIT version is never edited. When a new version ships, its bindings get a
//! module of their own here next to the old ones, and the loader picks the module that
//! matches what a component was built against.

/// `clinalign:principle@0.1.0`, the first published version.
pub mod v0_1_0 {
    wasmtime::component::bindgen!({
        path: "../../wit",
        world: "principle",
    });

    pub use self::clinalign::principle::host::{Host, LogLevel};
    pub use self::clinalign::principle::types::{Axis, Label, Message};

    /// The WIT version these bindings implement.
    pub const VERSION: &str = "0.1.0";
}
