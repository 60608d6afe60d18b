//! The log-probability judge: does a response meet a rubric criterion?
//!
//! The prompt puts the conversation and the response first and the criterion last, ending
//! in a yes/no question; `p_met = P(yes) / (P(yes) + P(no))` at the first answer token, each
//! side summed over its single-token spellings ("yes", " Yes", …). The prompts of one
//! response's criteria share their leading tokens (everything up to the criterion): those are
//! prefilled once, and the criteria's remaining tokens run as one batch against the cached
//! prefix. The shared part is the longest common prefix of the token sequences, so the result
//! equals judging each criterion on its own.
//!
//! A GRPO group (several responses to one conversation) shares more: the instructions and the
//! conversation. [`LogprobJudge::judge_group`] shares on two levels: the tokens common to every
//! prompt of the group are prefilled once (level 1); each response's own shared tokens
//! continue that cache (level 2); its criteria's suffixes then run against the level-2 cache,
//! which is cut back to level 1 before the next response. [`GroupTokens`] counts what each way
//! of sharing computes.

use std::sync::Arc;

use clinalign_core::{ConversationGroup, Grade, Message, ModelError, RubricEntry};

use crate::error::{Error, Result};
use crate::local::LocalModel;
use crate::model::{KvCache, LogitsFor, Model, Step};

/// Criteria judged against one prefix per forward call, at most.
const SUFFIX_BATCH: usize = 16;

/// The judge's reading of one criterion.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Verdict {
    /// P(yes) / (P(yes) + P(no)).
    pub p_met: f32,
    /// log P(yes), summed over the "yes" spellings.
    pub logprob_yes: f32,
    /// log P(no), likewise.
    pub logprob_no: f32,
}

/// The judge's prompt in two parts: what every criterion of a response shares, and the
/// criterion with the question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromptParts {
    /// Everything before the criterion (the same for every criterion of a response).
    pub prefix: String,
    /// The criterion and the question.
    pub suffix: String,
}

/// The prompts of a group of responses to one conversation, tokenized, with the prefixes the
/// two levels of sharing prefill.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupPrompts {
    /// Per response, its criteria's full prompts (none for a response without criteria).
    pub prompts: Vec<Vec<Vec<u32>>>,
    /// Leading tokens every prompt of the group shares (level 1); each prompt keeps at least
    /// one token of its own. 0 when no response has criteria.
    pub group_shared: usize,
    /// Per response, the leading tokens its criteria share (level 2 ends there); at least
    /// `group_shared`, 0 for a response without criteria.
    pub response_shared: Vec<usize>,
}

/// Prompt tokens a group's judging computes, by how much of the prompts it shares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct GroupTokens {
    /// Each response on its own ([`LogprobJudge::judge`]): its shared prefix once, then each
    /// criterion's suffix.
    pub one_level: usize,
    /// [`LogprobJudge::judge_group`]: the group's shared prefix once, each response's own
    /// shared tokens once, then each criterion's suffix.
    pub two_level: usize,
    /// No sharing ([`LogprobJudge::judge_each`]): every criterion's whole prompt.
    pub full: usize,
}

impl GroupPrompts {
    /// What one-level, two-level and no sharing compute for these prompts.
    pub fn tokens(&self) -> GroupTokens {
        let judged = || self.prompts.iter().zip(&self.response_shared).filter(|(p, _)| !p.is_empty());
        let suffixes: usize = judged().map(|(p, s)| p.iter().map(|t| t.len() - s).sum::<usize>()).sum();
        let response_prefixes: usize = judged().map(|(_, s)| *s).sum();
        let own_prefixes: usize = judged().map(|(_, s)| s - self.group_shared).sum();
        GroupTokens {
            one_level: response_prefixes + suffixes,
            two_level: self.group_shared + own_prefixes + suffixes,
            full: judged().map(|(p, _)| p.iter().map(Vec::len).sum::<usize>()).sum(),
        }
    }
}

/// How many leading tokens all of `prompts` share, leaving each at least one of its own; 0 for
/// no prompts.
fn shared_prefix<'a>(mut prompts: impl Iterator<Item = &'a [u32]>) -> usize {
    let Some(first) = prompts.next() else {
        return 0;
    };
    let mut common = first.len().saturating_sub(1);
    for p in prompts {
        common = common.min(p.len().saturating_sub(1));
        common = common.min(first.iter().zip(p).take_while(|(a, b)| a == b).count());
    }
    common
}

/// Writes the judge prompt for one criterion. Everything that does not depend on the
/// criterion (the instructions included) comes first, so the per-criterion suffix is only the
/// item and a short question ending in "yes or no": those are the tokens every criterion pays
/// for on its own.
pub fn judge_prompt(conversation: &[Message], response: &str, c: &RubricEntry) -> PromptParts {
    let mut prefix = String::from(
        "You are checking one response in a health conversation against one rubric item.\n\nConversation:\n",
    );
    for m in conversation {
        prefix.push_str(&format!("{}: {}\n", m.role, m.content.trim()));
    }
    prefix.push_str(&format!("assistant (the response being graded): {}\n\n", response.trim()));
    prefix.push_str(
        "An item counts as met only if every part of it is met; examples after \"such as\" or \"for example\" are illustrations, not requirements. If the item describes something undesirable, say whether the response did it.\n\n",
    );
    let suffix = format!(
        "Rubric item ({:+} points): {}\n\nDoes the response meet this item? Answer yes or no.",
        c.points,
        c.criterion.trim()
    );
    PromptParts { prefix, suffix }
}

/// Judges rubric items by a local model's log-probabilities of "yes" and "no"; the
/// [`clinalign_core::Judge`] that `grade --judge local:…` uses.
pub struct LogprobJudge {
    lm: Arc<LocalModel>,
    yes: Vec<u32>,
    no: Vec<u32>,
}

impl LogprobJudge {
    /// Prepares a judge; the model's tokenizer must spell "yes" and "no" as single tokens.
    pub fn new(lm: Arc<LocalModel>) -> Result<LogprobJudge> {
        let tok = lm.tokenizer()?;
        let single = |words: &[&str]| -> Result<Vec<u32>> {
            let mut ids = Vec::new();
            for w in words {
                let t = tok.encode(w, false)?;
                if t.len() == 1 && !ids.contains(&t[0]) {
                    ids.push(t[0]);
                }
            }
            Ok(ids)
        };
        let yes = single(&["yes", "Yes", " yes", " Yes", "YES"])?;
        let no = single(&["no", "No", " no", " No", "NO"])?;
        if yes.is_empty() || no.is_empty() {
            return Err(Error::Unsupported(
                "the tokenizer has no single-token \"yes\"/\"no\"; this model cannot be a log-prob judge".into(),
            ));
        }
        Ok(LogprobJudge { lm, yes, no })
    }

    /// The model it judges with.
    pub fn model(&self) -> &LocalModel {
        &self.lm
    }

    /// Token ids of a criterion's full prompt, in the model's chat format.
    fn encode(&self, parts: &PromptParts) -> Result<Vec<u32>> {
        let full_text = self.lm.user_prompt(&format!("{}{}", parts.prefix, parts.suffix))?;
        self.lm.tokenizer()?.encode(&full_text, false)
    }

    /// The criteria's full prompts, and how many leading tokens all of them share (each keeps
    /// at least one token of its own). Sharing is defined on tokens, not text, so it is exact
    /// whatever the tokenizer does at the boundary.
    pub fn prompts(
        &self,
        conversation: &[Message],
        response: &str,
        criteria: &[RubricEntry],
    ) -> Result<(Vec<Vec<u32>>, usize)> {
        let full: Vec<Vec<u32>> =
            criteria.iter().map(|c| self.encode(&judge_prompt(conversation, response, c))).collect::<Result<_>>()?;
        let common = shared_prefix(full.iter().map(Vec::as_slice));
        Ok((full, common))
    }

    /// The prompts of a group of responses to one conversation, and what the two levels of
    /// sharing prefill: the leading tokens of every prompt in the group, and each response's
    /// own. Defined on tokens, as [`LogprobJudge::prompts`].
    pub fn group_prompts(
        &self,
        conversation: &[Message],
        responses: &[(&str, &[RubricEntry])],
    ) -> Result<GroupPrompts> {
        let mut prompts = Vec::with_capacity(responses.len());
        let mut response_shared = Vec::with_capacity(responses.len());
        for (response, criteria) in responses {
            if criteria.is_empty() {
                prompts.push(Vec::new());
                response_shared.push(0);
            } else {
                let (full, shared) = self.prompts(conversation, response, criteria)?;
                prompts.push(full);
                response_shared.push(shared);
            }
        }
        let group_shared = shared_prefix(prompts.iter().flatten().map(Vec::as_slice));
        Ok(GroupPrompts { prompts, group_shared, response_shared })
    }

    /// Prompt tokens a group's judging computes with one level of sharing, two, and none.
    pub fn group_tokens(&self, conversation: &[Message], responses: &[(&str, &[RubricEntry])]) -> Result<GroupTokens> {
        Ok(self.group_prompts(conversation, responses)?.tokens())
    }

    /// The token ids read as "yes" and as "no".
    pub fn answer_tokens(&self) -> (&[u32], &[u32]) {
        (&self.yes, &self.no)
    }

    /// The verdict read from the logits at the answer position.
    pub fn verdict(&self, logits: &[f32]) -> Verdict {
        let lp = Model::log_probs(logits, &[self.yes.clone(), self.no.clone()].concat());
        let (ly, ln) = lp.split_at(self.yes.len());
        let lse = |v: &[f32]| {
            let m = v.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            m + v.iter().map(|x| (x - m).exp()).sum::<f32>().ln()
        };
        let (logprob_yes, logprob_no) = (lse(ly), lse(ln));
        let m = logprob_yes.max(logprob_no);
        let (py, pn) = ((logprob_yes - m).exp(), (logprob_no - m).exp());
        Verdict { p_met: py / (py + pn), logprob_yes, logprob_no }
    }

    /// How many prompt tokens the criteria of one response share: the prefix prefilled once.
    pub fn shared_tokens(&self, conversation: &[Message], response: &str, criteria: &[RubricEntry]) -> Result<usize> {
        if criteria.is_empty() {
            return Ok(0);
        }
        Ok(self.prompts(conversation, response, criteria)?.1)
    }

    /// Judges every criterion with its own full prompt (no sharing): what HealthBench
    /// graders do, one call per criterion.
    pub fn judge_each(
        &self,
        conversation: &[Message],
        response: &str,
        criteria: &[RubricEntry],
    ) -> Result<Vec<Verdict>> {
        let model = self.lm.model();
        criteria
            .iter()
            .map(|c| {
                let full = self.encode(&judge_prompt(conversation, response, c))?;
                let mut cache = KvCache::new(&model.cfg);
                let logits =
                    model.forward(&mut [Step { tokens: &full, cache: &mut cache, prefix: None }], LogitsFor::Last)?;
                Ok(self.verdict(logits.step(0).last()))
            })
            .collect()
    }

    /// Judges every criterion of one response: the shared prefix is prefilled once, the
    /// criteria's suffixes run in batches against it. Equal to [`LogprobJudge::judge_each`] up to
    /// floating-point rounding.
    pub fn judge(&self, conversation: &[Message], response: &str, criteria: &[RubricEntry]) -> Result<Vec<Verdict>> {
        if criteria.is_empty() {
            return Ok(Vec::new());
        }
        let (full, shared) = self.prompts(conversation, response, criteria)?;
        let mut prefix = KvCache::new(&self.lm.model().cfg);
        self.extend(&mut prefix, &full[0][..shared])?;
        self.judge_suffixes(&full, shared, (shared > 0).then_some(&prefix))
    }

    /// Judges a group of responses to one conversation (a GRPO group), sharing on two levels:
    /// the tokens common to the whole group are prefilled once; each response's own shared
    /// tokens continue that cache, its criteria's suffixes run in batches against the result,
    /// and the cache is cut back to the group's tokens for the next response. One
    /// `Vec<Verdict>` per response, in order (empty for a response without criteria); each
    /// equals [`LogprobJudge::judge`] of that response up to floating-point rounding, and a
    /// group of one gives exactly what `judge` gives.
    pub fn judge_group(
        &self,
        conversation: &[Message],
        responses: &[(&str, &[RubricEntry])],
    ) -> Result<Vec<Vec<Verdict>>> {
        let mut one = self.judge_groups(&[(conversation, responses)])?;
        Ok(one.pop().expect("one group in, one out"))
    }

    /// Judges several groups, each a conversation and its responses, packing work of
    /// different conversations into the same forward calls: every group's shared prefix is
    /// prefilled in one call; then, response by response in lockstep, each group's next
    /// response extends its cache (one call for all groups), and the criteria of all those
    /// responses run in batches of [`SUFFIX_BATCH`] that mix groups, each criterion
    /// continuing its own group's cache. The result per group equals
    /// [`LogprobJudge::judge_group`] up to floating-point rounding; one group is exactly it
    /// (`judge_group` is this with one group).
    pub fn judge_groups(&self, groups: &[ConversationGroup<'_>]) -> Result<Vec<Vec<Vec<Verdict>>>> {
        let prepared: Vec<GroupPrompts> =
            groups.iter().map(|(c, r)| self.group_prompts(c, r)).collect::<Result<_>>()?;
        let model = self.lm.model();
        let mut caches: Vec<KvCache> = prepared.iter().map(|_| KvCache::new(&model.cfg)).collect();
        // Level 1: each group's shared tokens, all groups in one call.
        let firsts: Vec<Option<&[u32]>> = prepared
            .iter()
            .map(|g| g.prompts.iter().flatten().next().map(|p| &p[..g.group_shared]).filter(|t| !t.is_empty()))
            .collect();
        self.extend_all(&mut caches, &firsts)?;
        let mut out: Vec<Vec<Vec<Verdict>>> = prepared.iter().map(|g| Vec::with_capacity(g.prompts.len())).collect();
        let rounds = prepared.iter().map(|g| g.prompts.len()).max().unwrap_or(0);
        for k in 0..rounds {
            // Level 2: the k-th response's own shared tokens, for every group that has one.
            let own: Vec<Option<&[u32]>> = prepared
                .iter()
                .map(|g| match g.prompts.get(k) {
                    Some(full) if !full.is_empty() => {
                        Some(&full[0][g.group_shared..g.response_shared[k]]).filter(|t| !t.is_empty())
                    }
                    _ => None,
                })
                .collect();
            self.extend_all(&mut caches, &own)?;
            // The criteria of those responses, in batches across groups.
            let work: Vec<(usize, &[u32])> = prepared
                .iter()
                .enumerate()
                .filter_map(|(gi, g)| g.prompts.get(k).map(|full| (gi, full, g.response_shared[k])))
                .flat_map(|(gi, full, shared)| full.iter().map(move |p| (gi, &p[shared..])))
                .collect();
            let mut verdicts: Vec<Vec<Verdict>> = prepared.iter().map(|_| Vec::new()).collect();
            for chunk in work.chunks(SUFFIX_BATCH) {
                let mut own_caches: Vec<KvCache> = chunk.iter().map(|_| KvCache::new(&model.cfg)).collect();
                let mut steps: Vec<Step<'_>> = chunk
                    .iter()
                    .zip(own_caches.iter_mut())
                    .map(|(&(gi, tokens), cache)| Step {
                        tokens,
                        cache,
                        prefix: (!caches[gi].is_empty()).then_some(&caches[gi]),
                    })
                    .collect();
                let logits = model.forward(&mut steps, LogitsFor::Last)?;
                for (&(gi, _), l) in chunk.iter().zip(logits.steps()) {
                    verdicts[gi].push(self.verdict(l.last()));
                }
            }
            for (gi, g) in prepared.iter().enumerate() {
                if k < g.prompts.len() {
                    out[gi].push(std::mem::take(&mut verdicts[gi]));
                    caches[gi].truncate(g.group_shared);
                }
            }
        }
        Ok(out)
    }

    /// Appends `tokens[i]` (when there are any) to `caches[i]`, all in one forward call.
    fn extend_all(&self, caches: &mut [KvCache], tokens: &[Option<&[u32]>]) -> Result<()> {
        let mut steps: Vec<Step<'_>> = caches
            .iter_mut()
            .zip(tokens)
            .filter_map(|(cache, t)| t.map(|tokens| Step { tokens, cache, prefix: None }))
            .collect();
        if !steps.is_empty() {
            self.lm.model().forward(&mut steps, LogitsFor::None)?;
        }
        Ok(())
    }

    /// Runs `tokens` through the model after what `cache` holds, appending them to it
    /// (nothing to do when `tokens` is empty).
    fn extend(&self, cache: &mut KvCache, tokens: &[u32]) -> Result<()> {
        if !tokens.is_empty() {
            self.lm.model().forward(&mut [Step { tokens, cache, prefix: None }], LogitsFor::None)?;
        }
        Ok(())
    }

    /// Judges the criteria whose full prompts are `full`: their tokens after the first
    /// `shared`, in batches of [`SUFFIX_BATCH`], continuing `prefix` (which holds those
    /// `shared` tokens; `None` when `shared` is 0).
    fn judge_suffixes(&self, full: &[Vec<u32>], shared: usize, prefix: Option<&KvCache>) -> Result<Vec<Verdict>> {
        debug_assert_eq!(prefix.map_or(0, KvCache::len), shared);
        let model = self.lm.model();
        let mut out = Vec::with_capacity(full.len());
        for chunk in full.chunks(SUFFIX_BATCH) {
            let mut caches: Vec<KvCache> = chunk.iter().map(|_| KvCache::new(&model.cfg)).collect();
            let mut steps: Vec<Step<'_>> = chunk
                .iter()
                .zip(caches.iter_mut())
                .map(|(p, cache)| Step { tokens: &p[shared..], cache, prefix })
                .collect();
            let logits = model.forward(&mut steps, LogitsFor::Last)?;
            out.extend(logits.steps().map(|l| self.verdict(l.last())));
        }
        Ok(out)
    }
}

/// The grade a verdict gives: met when p_met ≥ ½.
fn grade_of(v: Verdict) -> Grade {
    Grade { criteria_met: v.p_met >= 0.5, p_met: Some(v.p_met as f64), explanation: None }
}

impl clinalign_core::Judge for LogprobJudge {
    fn name(&self) -> String {
        let path = self.lm.path();
        format!("local:{}", path.file_name().map(|f| f.to_string_lossy().to_string()).unwrap_or_default())
    }

    fn grade(
        &self,
        conversation: &[Message],
        response: &str,
        items: &[RubricEntry],
    ) -> std::result::Result<Vec<Grade>, ModelError> {
        Ok(self.judge(conversation, response, items)?.into_iter().map(grade_of).collect())
    }

    /// [`LogprobJudge::judge_groups`]: different conversations share forward calls.
    fn grade_groups(&self, groups: &[ConversationGroup<'_>]) -> std::result::Result<Vec<Vec<Vec<Grade>>>, ModelError> {
        let verdicts = self.judge_groups(groups)?;
        Ok(verdicts
            .into_iter()
            .map(|g| g.into_iter().map(|vs| vs.into_iter().map(grade_of).collect()).collect())
            .collect())
    }

    /// [`LogprobJudge::judge_group`]: the group's conversation prefilled once.
    fn grade_group(
        &self,
        conversation: &[Message],
        responses: &[(&str, &[RubricEntry])],
    ) -> std::result::Result<Vec<Vec<Grade>>, ModelError> {
        let verdicts = self.judge_group(conversation, responses)?;
        Ok(verdicts.into_iter().map(|vs| vs.into_iter().map(grade_of).collect()).collect())
    }
}
