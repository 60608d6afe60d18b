//! The WebAssembly side: bindings, the `Principle` trait, the export macro, host functions.

use std::any::Any;
use std::cell::RefCell;

use clinalign_core::{Axis, EmitError, Label, Message, Query, RubricItem};

/// Bindings generated from the crate's own copy of the WIT, `wit/0.2.0/principle.wit`
/// (`clinalign:principle@0.2.0`; the host checks it is byte for byte the repository's
/// `wit/0.2.0`), so the crate builds wherever it is: by path, by git or from a registry.
#[doc(hidden)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "wit/0.2.0",
        world: "principle",
        pub_export_macro: true,
        export_macro_name: "__export_principle_world",
        default_bindings_module: "clinalign_sdk::bindings",
    });
}

use bindings::clinalign::principle::host as wit_host;
use bindings::clinalign::principle::types as wit;

/// What a principle implements. `init` runs once per instance with the manifest's
/// `[config]` table as JSON; `emit` runs for every query the principle applies to.
pub trait Principle: 'static {
    /// Builds the principle from its JSON config; an error keeps it from loading.
    fn init(config: &str) -> Result<Self, String>
    where
        Self: Sized;

    /// The rubric items for `query`; an empty list adds nothing.
    fn emit(&self, query: &Query) -> Result<Vec<RubricItem>, EmitError>;
}

/// Exports a [`Principle`] implementation as the component's `init` and `emit`.
#[macro_export]
macro_rules! export_principle {
    ($ty:ty) => {
        #[doc(hidden)]
        struct __ClinalignGuest;

        impl $crate::bindings::Guest for __ClinalignGuest {
            fn init(config: ::std::string::String) -> ::core::result::Result<(), ::std::string::String> {
                $crate::__rt::init::<$ty>(&config)
            }

            fn emit(
                q: $crate::bindings::Query,
            ) -> ::core::result::Result<::std::vec::Vec<$crate::bindings::RubricItem>, $crate::bindings::EmitError> {
                $crate::__rt::emit::<$ty>(q)
            }
        }

        $crate::bindings::__export_principle_world!(__ClinalignGuest with_types_in $crate::bindings);
    };
}

/// Glue used by [`export_principle!`]; not part of the API.
#[doc(hidden)]
pub mod __rt {
    use super::*;

    thread_local! {
        static INSTANCE: RefCell<Option<Box<dyn Any>>> = const { RefCell::new(None) };
    }

    pub fn init<P: Principle>(config: &str) -> Result<(), String> {
        let p = P::init(config)?;
        INSTANCE.with(|slot| *slot.borrow_mut() = Some(Box::new(p)));
        Ok(())
    }

    pub fn emit<P: Principle>(q: bindings::Query) -> Result<Vec<bindings::RubricItem>, bindings::EmitError> {
        let query = from_wit_query(q);
        INSTANCE.with(|slot| {
            let slot = slot.borrow();
            let p = slot
                .as_ref()
                .and_then(|b| b.downcast_ref::<P>())
                .ok_or_else(|| wit::EmitError::Failed("emit called before init".into()))?;
            p.emit(&query).map(|items| items.into_iter().map(to_wit_item).collect()).map_err(to_wit_error)
        })
    }
}

fn from_wit_query(q: wit::Query) -> Query {
    Query {
        id: q.id,
        conversation: q.conversation.into_iter().map(|m| Message { role: m.role, content: m.content }).collect(),
        scenario: q
            .scenario
            .into_iter()
            .map(|l| Label { dimension: l.dimension, value: l.value, confidence: l.confidence })
            .collect(),
    }
}

fn to_wit_item(i: RubricItem) -> wit::RubricItem {
    let axis = match i.axis {
        Axis::Accuracy => wit::Axis::Accuracy,
        Axis::Completeness => wit::Axis::Completeness,
        Axis::ContextAwareness => wit::Axis::ContextAwareness,
        Axis::CommunicationQuality => wit::Axis::CommunicationQuality,
        Axis::InstructionFollowing => wit::Axis::InstructionFollowing,
    };
    wit::RubricItem { criterion: i.criterion, points: i.points, axis, tags: i.tags }
}

fn to_wit_error(e: EmitError) -> wit::EmitError {
    match e {
        EmitError::InvalidConfig(m) => wit::EmitError::InvalidConfig(m),
        EmitError::Failed(m) => wit::EmitError::Failed(m),
    }
}

/// Severity of a [`log`] message.
pub use wit_host::LogLevel;

/// Writes a message to the host's log, tagged with this principle's id.
pub fn log(level: LogLevel, message: &str) {
    wit_host::log(level, message);
}

/// Generates up to `max_tokens` tokens after `prompt` with the host's model. Needs the
/// "generate" capability in the manifest and a model configured in the host.
pub fn generate(prompt: &str, max_tokens: u32) -> Result<String, String> {
    wit_host::generate(prompt, max_tokens)
}

/// Log-probability of each option as the continuation of `prompt`. Needs the "score"
/// capability in the manifest and a model configured in the host.
pub fn score_options(prompt: &str, options: &[&str]) -> Result<Vec<f32>, String> {
    let options: Vec<String> = options.iter().map(|s| s.to_string()).collect();
    wit_host::score_options(prompt, &options)
}

/// A principle of the pool the current query selected (see [`pool`]).
#[derive(Debug, Clone, PartialEq)]
pub struct PoolPrinciple {
    pub id: String,
    pub version: String,
    pub dimension: String,
    pub title: String,
    pub statement: String,
}

/// The other principles that apply to the query being emitted for (the caller excepted), in
/// set order; empty outside `emit`.
pub fn pool() -> Vec<PoolPrinciple> {
    wit_host::pool()
        .into_iter()
        .map(|p| PoolPrinciple {
            id: p.id,
            version: p.version,
            dimension: p.dimension,
            title: p.title,
            statement: p.statement,
        })
        .collect()
}

/// Like [`generate`], but the completion is a JSON document meant to match `json_schema`
/// (JSON Schema text); the host constrains or checks the output, so the text returned always
/// parses. Needs the "generate" capability.
pub fn generate_json(prompt: &str, json_schema: &str, max_tokens: u32) -> Result<String, String> {
    wit_host::generate_json(prompt, json_schema, max_tokens)
}
