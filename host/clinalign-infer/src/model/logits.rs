//! What a forward call returns: next-token logits for the positions asked for.

use std::ops::Range;

/// Which positions of each step to compute logits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogitsFor {
    /// None (prefill only).
    None,
    /// The last new token of each sequence.
    Last,
    /// Every new token.
    All,
}

/// The logits of one forward call: per step, a `[vocab]` row for each position asked for
/// (none, the last new token, or every new token; see [`LogitsFor`]), in one buffer.
#[derive(Debug, Clone, PartialEq)]
pub struct Logits {
    data: Vec<f32>,
    vocab: usize,
    /// Per step, its rows of `data`.
    steps: Vec<Range<usize>>,
}

impl Logits {
    /// `data` holds `[rows, vocab]`; step `i` owns rows `steps[i]`.
    pub(super) fn new(data: Vec<f32>, vocab: usize, steps: Vec<Range<usize>>) -> Logits {
        debug_assert_eq!(data.len(), steps.last().map_or(0, |r| r.end) * vocab);
        Logits { data, vocab, steps }
    }

    /// Steps of the call.
    pub fn len(&self) -> usize {
        self.steps.len()
    }

    /// Whether the call had no steps.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// The vocabulary size: each row's length.
    pub fn vocab(&self) -> usize {
        self.vocab
    }

    /// Step `i`'s logits (in the order of the call's steps); panics past the last step.
    pub fn step(&self, i: usize) -> StepLogits<'_> {
        let r = &self.steps[i];
        StepLogits { data: &self.data[r.start * self.vocab..r.end * self.vocab], vocab: self.vocab }
    }

    /// Every step's logits, in order.
    pub fn steps(&self) -> impl ExactSizeIterator<Item = StepLogits<'_>> {
        (0..self.steps.len()).map(|i| self.step(i))
    }
}

/// One step's logits: a `[vocab]` row per position asked for, in token order.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepLogits<'a> {
    data: &'a [f32],
    vocab: usize,
}

impl<'a> StepLogits<'a> {
    /// Rows (positions).
    pub fn len(&self) -> usize {
        self.data.len() / self.vocab
    }

    /// Whether no position was asked for ([`LogitsFor::None`]).
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The row of the `i`-th position asked for; panics past the last.
    pub fn row(&self, i: usize) -> &'a [f32] {
        assert!(i < self.len(), "logits row {i} of {}", self.len());
        &self.data[i * self.vocab..(i + 1) * self.vocab]
    }

    /// The last row: with [`LogitsFor::Last`], the only one, predicting the token after the
    /// step. Panics if no position was asked for.
    pub fn last(&self) -> &'a [f32] {
        assert!(!self.is_empty(), "no logits were asked for");
        &self.data[self.data.len() - self.vocab..]
    }

    /// Every row, in order.
    pub fn rows(&self) -> std::slice::ChunksExact<'a, f32> {
        self.data.chunks_exact(self.vocab)
    }

    /// Every row, concatenated: `[len(), vocab]` row-major.
    pub fn as_slice(&self) -> &'a [f32] {
        self.data
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_own_their_rows() {
        // Three steps over a vocabulary of 2: two rows, none, one row.
        let l = Logits::new(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 2, vec![0..2, 2..2, 2..3]);
        assert_eq!((l.len(), l.vocab()), (3, 2));
        let first = l.step(0);
        assert_eq!(first.len(), 2);
        assert_eq!(first.row(1), [3.0, 4.0]);
        assert_eq!(first.last(), [3.0, 4.0]);
        assert_eq!(first.rows().collect::<Vec<_>>(), [&[1.0, 2.0][..], &[3.0, 4.0][..]]);
        assert!(l.step(1).is_empty());
        assert_eq!(l.step(2).as_slice(), [5.0, 6.0]);
        assert_eq!(l.steps().map(|s| s.len()).collect::<Vec<_>>(), [2, 0, 1]);
    }
}
