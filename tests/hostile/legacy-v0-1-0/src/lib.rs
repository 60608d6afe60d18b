//! A well-behaved principle built against the first published interface,
//! `clinalign:principle@0.1.0` (`wit/0.1.0`): it must keep loading beside components built
//! against newer versions.

wit_bindgen::generate!({
    path: "../../../wit/0.1.0",
    world: "principle",
});

use clinalign::principle::types::Axis;

struct Legacy;

impl Guest for Legacy {
    fn init(_config: String) -> Result<(), String> {
        Ok(())
    }

    fn emit(q: Query) -> Result<Vec<RubricItem>, EmitError> {
        let turns = q.conversation.len();
        Ok(vec![RubricItem {
            criterion: format!("Answers the question asked in the {turns}-turn conversation."),
            points: 3,
            axis: Axis::InstructionFollowing,
            tags: vec!["cluster:legacy".into()],
        }])
    }
}

export!(Legacy);
