//! A principle built against a changed copy of the WIT package (`clinalign:principle@0.9.0`,
//! with a host function the host does not have): the loader must refuse it by version.

wit_bindgen::generate!({
    path: "wit",
    world: "principle",
});

use clinalign::principle::host;
use clinalign::principle::types::Axis;

struct Future;

impl Guest for Future {
    fn init(_config: String) -> Result<(), String> {
        Ok(())
    }

    fn emit(q: Query) -> Result<Vec<RubricItem>, EmitError> {
        host::log(host::LogLevel::Info, &q.id);
        let found = host::retrieve("anything").map_err(EmitError::Failed)?;
        Ok(vec![RubricItem { criterion: found.join(" "), points: 1, axis: Axis::Accuracy, tags: vec![] }])
    }
}

export!(Future);
