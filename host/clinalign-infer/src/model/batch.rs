//! What one forward call runs: sequences ([`Step`]s) with their key/value caches, and where
//! each sequence's new tokens sit among the batch's rows ([`Layout`]).

use crate::config::ModelConfig;

/// Keys and values of every layer for one sequence: per layer and key/value head, a
/// `[len, head_dim]` row-major buffer.
#[derive(Debug, Clone, Default)]
pub struct KvCache {
    k: Vec<Vec<Vec<f32>>>,
    v: Vec<Vec<Vec<f32>>>,
    len: usize,
}

impl KvCache {
    /// An empty cache for `cfg`.
    pub fn new(cfg: &ModelConfig) -> KvCache {
        KvCache {
            k: vec![vec![Vec::new(); cfg.num_kv_heads]; cfg.num_layers],
            v: vec![vec![Vec::new(); cfg.num_kv_heads]; cfg.num_layers],
            len: 0,
        }
    }

    /// Tokens cached.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no token is cached.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Forgets every token after the first `tokens` (none if it holds no more), keeping the
    /// memory for the tokens that come next: the judge runs one response after another on the
    /// conversation they share this way, without copying it.
    pub fn truncate(&mut self, tokens: usize) {
        if tokens >= self.len {
            return;
        }
        for buf in self.k.iter_mut().chain(self.v.iter_mut()).flatten() {
            let per_token = buf.len() / self.len;
            buf.truncate(tokens * per_token);
        }
        self.len = tokens;
    }

    /// Keys of `layer`'s key/value head `head`: `[rows, head_dim]`, the rows appended in this
    /// forward call included.
    pub(super) fn keys(&self, layer: usize, head: usize) -> &[f32] {
        &self.k[layer][head]
    }

    /// Values, as [`KvCache::keys`].
    pub(super) fn values(&self, layer: usize, head: usize) -> &[f32] {
        &self.v[layer][head]
    }

    /// Appends `layer`'s keys and values of new tokens, given as `[tokens, kv_heads · head_dim]`
    /// rows (every head of a token side by side), to each head's buffer.
    pub(super) fn append(&mut self, layer: usize, k: &[f32], v: &[f32], head_dim: usize) {
        let heads = self.k[layer].len();
        let tokens = k.len() / (heads * head_dim);
        for g in 0..heads {
            let (kc, vc) = (&mut self.k[layer][g], &mut self.v[layer][g]);
            for t in 0..tokens {
                let at = (t * heads + g) * head_dim;
                kc.extend_from_slice(&k[at..at + head_dim]);
                vc.extend_from_slice(&v[at..at + head_dim]);
            }
        }
    }

    /// Counts `tokens` more as cached, once every layer has appended them.
    pub(super) fn advance(&mut self, tokens: usize) {
        self.len += tokens;
    }
}

/// One sequence in a forward call: new tokens, its cache, and an optional shared prefix the
/// new tokens follow (the judge runs many criteria after one prefilled conversation).
pub struct Step<'a> {
    /// The tokens to run (at least one).
    pub tokens: &'a [u32],
    /// The sequence's own cache; the new tokens' keys and values are appended to it.
    pub cache: &'a mut KvCache,
    /// A read-only cache the sequence continues (its tokens come before the cache's).
    pub prefix: Option<&'a KvCache>,
}

/// Where one step's new tokens sit: batch rows `row..row + len`, at positions `pos..pos + len`
/// of their sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Span {
    /// The first token's row in the batch.
    pub row: usize,
    /// The first token's position in its sequence (after the prefix and the cache).
    pub pos: usize,
    /// New tokens.
    pub len: usize,
}

/// The batch's rows: every step's new tokens, one step after another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Layout {
    /// Per step, in order.
    pub spans: Vec<Span>,
    /// Rows in all (tokens across the steps).
    pub rows: usize,
}

impl Layout {
    /// Lays out `steps` one after another.
    pub fn new(steps: &[Step<'_>]) -> Layout {
        let mut spans = Vec::with_capacity(steps.len());
        let mut rows = 0;
        for s in steps {
            let pos = s.prefix.map_or(0, KvCache::len) + s.cache.len();
            spans.push(Span { row: rows, pos, len: s.tokens.len() });
            rows += s.tokens.len();
        }
        Layout { spans, rows }
    }
}
