//! Rubrics kept for the reward routes, per (conversation, scenario, principle set): a GRPO
//! trainer scores n responses to one prompt, and the rubric is synthesized once for all of
//! them. A reload changes the set's hash, so a stale rubric is never served.

use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};

use clinalign::{Label, Message, Rubric};
use lru::LruCache;

/// A bounded least-recently-used map from conversation key to rubric.
pub struct RubricCache {
    entries: Mutex<LruCache<String, Arc<Rubric>>>,
}

/// The key of a conversation (and the labels it came with): a content hash, also used to
/// group the responses to one conversation for the judge.
pub fn conversation_key(conversation: &[Message], scenario: &[Label]) -> String {
    let mut text = String::new();
    for m in conversation {
        // Lengths keep "ab"+"c" apart from "a"+"bc".
        text.push_str(&format!("{}:{}:{}\n", m.role, m.content.len(), m.content));
    }
    for l in scenario {
        text.push_str(&format!("#{}={}\n", l.dimension, l.value));
    }
    clinalign::files::sha256_hex(text.as_bytes())
}

impl RubricCache {
    pub fn new(capacity: usize) -> RubricCache {
        let cap = NonZeroUsize::new(capacity.max(1)).expect("at least one");
        RubricCache { entries: Mutex::new(LruCache::new(cap)) }
    }

    /// The rubric cached for this conversation under this set.
    pub fn get(&self, key: &str, set: &str) -> Option<Arc<Rubric>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner()).get(&format!("{set}/{key}")).cloned()
    }

    pub fn put(&self, key: &str, set: &str, rubric: Arc<Rubric>) {
        self.entries.lock().unwrap_or_else(|p| p.into_inner()).put(format!("{set}/{key}"), rubric);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(role: &str, content: &str) -> Message {
        Message { role: role.into(), content: content.into() }
    }

    #[test]
    fn keys_separate_turns_and_sets() {
        let a = conversation_key(&[msg("user", "ab"), msg("user", "c")], &[]);
        let b = conversation_key(&[msg("user", "a"), msg("user", "bc")], &[]);
        assert_ne!(a, b);
        let cache = RubricCache::new(1);
        let rubric = Arc::new(Rubric {
            query_id: "q".into(),
            scenario: vec![],
            items: vec![],
            principle_set: "s1".into(),
            calls: vec![],
            curation: Default::default(),
        });
        cache.put(&a, "s1", rubric);
        assert!(cache.get(&a, "s1").is_some());
        assert!(cache.get(&a, "s2").is_none(), "another set, another rubric");
        cache.put(&b, "s1", cache.get(&a, "s1").unwrap());
        assert!(cache.get(&a, "s1").is_none(), "bounded: the oldest entry went");
    }
}
