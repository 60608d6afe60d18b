//! A query in the form the guests take, built once per query and shared by every principle
//! call of that query: converted to each WIT version's types on first use, with the pool of
//! principles that apply to it.

use std::sync::{Arc, OnceLock};

use clinalign_core::Query;

use super::bindings::{v0_1_0, v0_2_0};

/// A principle of a query's pool, as `pool()` describes it to a principle.
#[derive(Debug, Clone, PartialEq)]
pub struct PoolEntry {
    pub id: String,
    pub version: String,
    pub dimension: String,
    pub title: String,
    pub statement: String,
}

/// A query converted for the principle interface.
pub struct PreparedQuery<'q> {
    query: &'q Query,
    pool: Arc<[Arc<PoolEntry>]>,
    v0_1_0: OnceLock<v0_1_0::Query>,
    v0_2_0: OnceLock<v0_2_0::Query>,
}

impl PoolEntry {
    /// The entry a manifest describes.
    pub fn of(m: &crate::manifest::Manifest) -> PoolEntry {
        PoolEntry {
            id: m.id.clone(),
            version: m.version.clone(),
            dimension: m.dimension.clone(),
            title: m.title.clone(),
            statement: m.statement.clone(),
        }
    }
}

impl<'q> PreparedQuery<'q> {
    /// Prepares `q`, with no pool.
    pub fn new(q: &'q Query) -> PreparedQuery<'q> {
        PreparedQuery::with_pool(q, Vec::new())
    }

    /// Prepares `q`, whose pool is `pool`.
    pub fn with_pool(q: &'q Query, pool: Vec<Arc<PoolEntry>>) -> PreparedQuery<'q> {
        PreparedQuery { query: q, pool: pool.into(), v0_1_0: OnceLock::new(), v0_2_0: OnceLock::new() }
    }

    /// The principles of the query's pool.
    pub(crate) fn pool(&self) -> &Arc<[Arc<PoolEntry>]> {
        &self.pool
    }

    pub(crate) fn v0_1_0(&self) -> &v0_1_0::Query {
        self.v0_1_0.get_or_init(|| {
            let q = self.query;
            v0_1_0::Query {
                id: q.id.clone(),
                conversation: q
                    .conversation
                    .iter()
                    .map(|m| v0_1_0::Message { role: m.role.clone(), content: m.content.clone() })
                    .collect(),
                scenario: q
                    .scenario
                    .iter()
                    .map(|l| v0_1_0::Label {
                        dimension: l.dimension.clone(),
                        value: l.value.clone(),
                        confidence: l.confidence,
                    })
                    .collect(),
            }
        })
    }

    pub(crate) fn v0_2_0(&self) -> &v0_2_0::Query {
        self.v0_2_0.get_or_init(|| {
            let q = self.query;
            v0_2_0::Query {
                id: q.id.clone(),
                conversation: q
                    .conversation
                    .iter()
                    .map(|m| v0_2_0::Message { role: m.role.clone(), content: m.content.clone() })
                    .collect(),
                scenario: q
                    .scenario
                    .iter()
                    .map(|l| v0_2_0::Label {
                        dimension: l.dimension.clone(),
                        value: l.value.clone(),
                        confidence: l.confidence,
                    })
                    .collect(),
            }
        })
    }
}
