//! Host bindings per supported version of the `clinalign:principle` WIT package, and the
//! dispatch from a component to the bindings of the version it was built against.
//!
//! A published WIT version is never edited. When a new version ships, its bindings get a
//! module of their own here next to the old ones (`v0_2_0`, …), a variant in [`PrinciplePre`]
//! and [`Principle`], and an arm in [`Version::of`]; the loader reads the version from the
//! names of the component's `clinalign:principle/…@X.Y.Z` imports and picks the module.

use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{Engine, Store};

use super::host::HostState;
use super::query::PreparedQuery;
use clinalign_core::{Axis, EmitError, RubricItem};

/// `clinalign:principle@0.1.0`, the first published version.
pub mod v0_1_0 {
    wasmtime::component::bindgen!({
        path: "../../wit/0.1.0",
        world: "principle",
    });

    pub use self::clinalign::principle::host::{Host, LogLevel};
    pub use self::clinalign::principle::types::{Axis, Label, Message};

    /// The WIT version these bindings implement.
    pub const VERSION: &str = "0.1.0";
}

/// `clinalign:principle@0.2.0`: 0.1.0 plus `principle-info`, and the host functions `pool`
/// and `generate-json`.
pub mod v0_2_0 {
    wasmtime::component::bindgen!({
        path: "../../wit/0.2.0",
        world: "principle",
    });

    pub use self::clinalign::principle::host::{Host, LogLevel};
    pub use self::clinalign::principle::types::{Axis, Label, Message, PrincipleInfo};

    /// The WIT version these bindings implement.
    pub const VERSION: &str = "0.2.0";
}

/// The WIT package every principle component implements.
pub const PACKAGE: &str = "clinalign:principle";

/// The newest WIT version this host implements (what the principle-set hash names).
pub const WIT_VERSION: &str = v0_2_0::VERSION;

/// Every version this host has bindings for, oldest first.
pub const SUPPORTED_VERSIONS: &[&str] = &[v0_1_0::VERSION, v0_2_0::VERSION];

/// A version of the WIT package this host supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Version {
    V0_1_0,
    V0_2_0,
}

impl Version {
    /// The version a component was built against, read from its imports
    /// (`clinalign:principle/types@0.1.0`, `clinalign:principle/host@0.1.0`). An error
    /// names the version when this host has no bindings for it.
    pub(crate) fn of(component: &Component, engine: &Engine) -> Result<Version, String> {
        let prefix = format!("{PACKAGE}/");
        let mut versions: Vec<String> = component
            .component_type()
            .imports(engine)
            .filter_map(|(name, _)| name.strip_prefix(prefix.as_str()).map(str::to_string))
            .map(|rest| rest.split_once('@').map(|(_, v)| v.to_string()).unwrap_or_default())
            .collect();
        versions.sort();
        versions.dedup();
        let supported = SUPPORTED_VERSIONS.join(", ");
        match versions.as_slice() {
            [] => Err(format!(
                "not a {PACKAGE}@{WIT_VERSION} component: it imports no {PACKAGE} interface (this host supports {supported})"
            )),
            [v] if v == v0_1_0::VERSION => Ok(Version::V0_1_0),
            [v] if v == v0_2_0::VERSION => Ok(Version::V0_2_0),
            [v] if v.is_empty() => {
                Err(format!("built against an unversioned {PACKAGE} package (this host supports {supported})"))
            }
            [v] => Err(format!(
                "built against {PACKAGE}@{v}, which this host does not support (it supports {supported}); rebuild the principle against a supported version of the SDK"
            )),
            many => Err(format!(
                "imports several versions of {PACKAGE} ({}); a component is built against one",
                many.join(", ")
            )),
        }
    }

    /// `0.1.0`, …
    pub(crate) fn name(self) -> &'static str {
        match self {
            Version::V0_1_0 => v0_1_0::VERSION,
            Version::V0_2_0 => v0_2_0::VERSION,
        }
    }
}

/// Adds the host side of every supported version to `linker` (their interface names carry
/// the version, so they never clash).
pub(crate) fn add_to_linker(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    v0_1_0::Principle::add_to_linker::<HostState, HasSelf<HostState>>(linker, |s| s)?;
    v0_2_0::Principle::add_to_linker::<HostState, HasSelf<HostState>>(linker, |s| s)
}

/// A component pre-linked in the bindings of its version, ready to instantiate.
#[derive(Clone)]
pub(crate) enum PrinciplePre {
    V0_1_0(v0_1_0::PrinciplePre<HostState>),
    V0_2_0(v0_2_0::PrinciplePre<HostState>),
}

impl PrinciplePre {
    /// Checks that `component` exports what its version's world requires.
    pub(crate) fn new(
        version: Version,
        pre: wasmtime::component::InstancePre<HostState>,
    ) -> wasmtime::Result<PrinciplePre> {
        match version {
            Version::V0_1_0 => Ok(PrinciplePre::V0_1_0(v0_1_0::PrinciplePre::new(pre)?)),
            Version::V0_2_0 => Ok(PrinciplePre::V0_2_0(v0_2_0::PrinciplePre::new(pre)?)),
        }
    }

    pub(crate) fn instantiate(&self, store: &mut Store<HostState>) -> wasmtime::Result<Principle> {
        match self {
            PrinciplePre::V0_1_0(p) => p.instantiate(store).map(Principle::V0_1_0),
            PrinciplePre::V0_2_0(p) => p.instantiate(store).map(Principle::V0_2_0),
        }
    }
}

/// A live instance, in the bindings of its version.
pub(crate) enum Principle {
    V0_1_0(v0_1_0::Principle),
    V0_2_0(v0_2_0::Principle),
}

impl Principle {
    /// `init(config)`.
    pub(crate) fn call_init(&self, store: &mut Store<HostState>, config: &str) -> wasmtime::Result<Result<(), String>> {
        match self {
            Principle::V0_1_0(p) => p.call_init(store, config),
            Principle::V0_2_0(p) => p.call_init(store, config),
        }
    }

    /// `emit(query)`, with the items and errors in the host's types (unchecked: see
    /// `output::check_items`).
    pub(crate) fn call_emit(
        &self,
        store: &mut Store<HostState>,
        query: &PreparedQuery,
    ) -> wasmtime::Result<Result<Vec<RubricItem>, EmitError>> {
        match self {
            Principle::V0_1_0(p) => Ok(p.call_emit(store, query.v0_1_0())?.map(v0_1_0_items).map_err(v0_1_0_error)),
            Principle::V0_2_0(p) => Ok(p.call_emit(store, query.v0_2_0())?.map(v0_2_0_items).map_err(v0_2_0_error)),
        }
    }
}

fn v0_1_0_items(items: Vec<v0_1_0::RubricItem>) -> Vec<RubricItem> {
    items
        .into_iter()
        .map(|i| RubricItem { criterion: i.criterion, points: i.points, axis: v0_1_0_axis(i.axis), tags: i.tags })
        .collect()
}

fn v0_1_0_axis(a: v0_1_0::Axis) -> Axis {
    match a {
        v0_1_0::Axis::Accuracy => Axis::Accuracy,
        v0_1_0::Axis::Completeness => Axis::Completeness,
        v0_1_0::Axis::ContextAwareness => Axis::ContextAwareness,
        v0_1_0::Axis::CommunicationQuality => Axis::CommunicationQuality,
        v0_1_0::Axis::InstructionFollowing => Axis::InstructionFollowing,
    }
}

fn v0_1_0_error(e: v0_1_0::EmitError) -> EmitError {
    match e {
        v0_1_0::EmitError::InvalidConfig(m) => EmitError::InvalidConfig(m),
        v0_1_0::EmitError::Failed(m) => EmitError::Failed(m),
    }
}

fn v0_2_0_items(items: Vec<v0_2_0::RubricItem>) -> Vec<RubricItem> {
    items
        .into_iter()
        .map(|i| RubricItem { criterion: i.criterion, points: i.points, axis: v0_2_0_axis(i.axis), tags: i.tags })
        .collect()
}

fn v0_2_0_axis(a: v0_2_0::Axis) -> Axis {
    match a {
        v0_2_0::Axis::Accuracy => Axis::Accuracy,
        v0_2_0::Axis::Completeness => Axis::Completeness,
        v0_2_0::Axis::ContextAwareness => Axis::ContextAwareness,
        v0_2_0::Axis::CommunicationQuality => Axis::CommunicationQuality,
        v0_2_0::Axis::InstructionFollowing => Axis::InstructionFollowing,
    }
}

fn v0_2_0_error(e: v0_2_0::EmitError) -> EmitError {
    match e {
        v0_2_0::EmitError::InvalidConfig(m) => EmitError::InvalidConfig(m),
        v0_2_0::EmitError::Failed(m) => EmitError::Failed(m),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The guest SDK builds from its own copy of the WIT (so it builds outside this
    /// repository); that copy must be the published package the host binds.
    #[test]
    fn the_sdk_carries_the_wit_the_host_binds() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let read = |p: &str| std::fs::read_to_string(root.join(p)).unwrap_or_else(|e| panic!("{p}: {e}"));
        let wit = format!("wit/{WIT_VERSION}/principle.wit");
        assert_eq!(read(&format!("plugins/sdk/{wit}")), read(&wit), "plugins/sdk/{wit} differs from {wit}");
        let sdk = read("plugins/sdk/src/lib.rs");
        assert!(sdk.contains(&format!("pub const WIT_VERSION: &str = \"{WIT_VERSION}\";")), "the SDK's WIT_VERSION");
        assert!(SUPPORTED_VERSIONS.contains(&WIT_VERSION));
    }
}
