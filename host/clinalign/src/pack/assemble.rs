//! `clinalign pack build`: a source pack's components, built and gathered into its built
//! form (see [`super::distribute`]).

use std::collections::BTreeMap;
use std::path::Path;

use super::distribute::{BuiltPack, Entry, write};
use crate::error::{Error, Result};
use crate::manifest::PluginRef;
use crate::principle_set::{ComponentKey, SetSource, component_bytes};

/// Builds the one pack of `source` (a source whose `packs` holds just that pack, the base
/// directory lending its vocabulary and `template`) into `<out_dir>/<name>-<version>.pack`.
/// Every manifest must load and every component build; the first that does not stops the
/// build with its error. The caller self-tests the result by loading it.
pub fn build(source: &SetSource, out_dir: &Path) -> Result<BuiltPack> {
    let [pack] = source.packs.as_slice() else {
        return Err(Error::Invalid("building a pack: give exactly one pack".into()));
    };
    if pack.is_built() {
        return Err(Error::Invalid(format!("{}: already built (it has a pack.lock)", pack.describe())));
    }
    let source = SetSource { base_principles: false, ..source.clone() };
    let catalog = source.catalog()?;
    if catalog.manifests.is_empty() {
        return Err(Error::Invalid(format!(
            "{}: no principles under {}",
            pack.describe(),
            pack.principles_dir().display()
        )));
    }
    let built = component_bytes(&source, &catalog.manifests);
    let mut names: BTreeMap<String, ComponentKey> = BTreeMap::new();
    let mut entries = Vec::new();
    for (m, (key, bytes)) in catalog.manifests.iter().zip(&built) {
        let bytes = bytes.as_ref().map_err(|e| {
            Error::Invalid(format!("{}: {}: plugin {} failed: {e}", pack.describe(), m.path.display(), m.plugin))
        })?;
        let stem = match &key.1 {
            PluginRef::Crate(c) => c.clone(),
            PluginRef::Wasm(p) | PluginRef::Python(p) => {
                p.file_stem().and_then(|s| s.to_str()).unwrap_or("component").replace('_', "-")
            }
        };
        let mut name = stem.clone();
        let mut n = 1;
        while names.get(&name).is_some_and(|k| k != key) {
            n += 1;
            name = format!("{stem}-{n}");
        }
        names.insert(name.clone(), key.clone());
        entries.push(Entry { manifest: m, component: name, bytes });
    }
    write(pack, &entries, out_dir)
}
