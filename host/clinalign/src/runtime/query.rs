//! A query in the form the guests take, built once per query and shared by every principle
//! call of that query.

use clinalign_core::Query;

use super::bindings::v0_1_0 as wit;

/// A query converted for the principle interface.
pub struct PreparedQuery {
    v0_1_0: wit::Query,
}

impl PreparedQuery {
    /// Converts `q` once.
    pub fn new(q: &Query) -> PreparedQuery {
        let v0_1_0 = wit::Query {
            id: q.id.clone(),
            conversation: q
                .conversation
                .iter()
                .map(|m| wit::Message { role: m.role.clone(), content: m.content.clone() })
                .collect(),
            scenario: q
                .scenario
                .iter()
                .map(|l| wit::Label {
                    dimension: l.dimension.clone(),
                    value: l.value.clone(),
                    confidence: l.confidence,
                })
                .collect(),
        };
        PreparedQuery { v0_1_0 }
    }

    pub(crate) fn v0_1_0(&self) -> &wit::Query {
        &self.v0_1_0
    }
}
