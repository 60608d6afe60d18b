//! The group judge (two-level shared prefix) on the tiny Qwen3 fixture with a character-level
//! tokenizer: it must give what judging each response on its own gives.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use clinalign_core::{Judge as _, Message, RubricEntry};
use clinalign_infer::judge::{LogprobJudge, Verdict};
use clinalign_infer::local::LocalModel;
use serde_json::{Value, json};

/// The tiny random-weight Qwen3 (vocabulary 320) with room for judge-length prompts, and a
/// tokenizer that reads "yes" and "no" as one token each and every other character alone.
fn tiny_judge() -> (LogprobJudge, tempfile::TempDir) {
    let src: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/models/tiny-qwen3");
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(src.join("model.safetensors"), dir.path().join("model.safetensors")).unwrap();
    let mut cfg: Value = serde_json::from_slice(&std::fs::read(src.join("config.json")).unwrap()).unwrap();
    cfg["max_position_embeddings"] = json!(4096);
    std::fs::write(dir.path().join("config.json"), serde_json::to_vec(&cfg).unwrap()).unwrap();
    let mut vocab = serde_json::Map::new();
    for word in ["[UNK]", "yes", "no", "\n"] {
        vocab.insert(word.into(), json!(vocab.len()));
    }
    for c in ' '..='~' {
        vocab.insert(c.to_string(), json!(vocab.len()));
    }
    let tokenizer = json!({
        "version": "1.0", "truncation": null, "padding": null, "added_tokens": [], "normalizer": null,
        "pre_tokenizer": {"type": "Split", "pattern": {"Regex": "yes|no|[\\s\\S]"}, "behavior": "Isolated", "invert": false},
        "post_processor": null, "decoder": null,
        "model": {"type": "WordLevel", "vocab": vocab, "unk_token": "[UNK]"},
    });
    std::fs::write(dir.path().join("tokenizer.json"), serde_json::to_vec(&tokenizer).unwrap()).unwrap();
    let lm = LocalModel::open(dir.path()).unwrap();
    (LogprobJudge::new(Arc::new(lm)).unwrap(), dir)
}

fn items(texts: &[(&str, i32)]) -> Vec<RubricEntry> {
    texts.iter().map(|(t, p)| RubricEntry::new(*t, *p, vec![])).collect()
}

fn conversation() -> Vec<Message> {
    vec![
        Message { role: "user".into(), content: "My father has crushing chest pain and is sweating.".into() },
        Message { role: "assistant".into(), content: "How long has it lasted?".into() },
        Message { role: "user".into(), content: "Twenty minutes. What should we do?".into() },
    ]
}

/// The largest |Δp_met| between two readings of the same criteria.
fn max_diff(a: &[Verdict], b: &[Verdict]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (x.p_met - y.p_met).abs()).fold(0.0, f32::max)
}

#[test]
fn the_group_judge_equals_judging_each_response_alone() {
    let (judge, _dir) = tiny_judge();
    let conversation = conversation();
    let urgent = items(&[
        ("Advises calling emergency services now.", 10),
        ("Suggests waiting to see if it settles.", -8),
        ("Mentions aspirin only if not allergic.", 5),
    ]);
    // More criteria than one suffix batch holds.
    let many: Vec<RubricEntry> =
        (0..19).map(|i| RubricEntry::new(format!("Covers point {i} of the plan clearly."), i - 9, vec![])).collect();
    let short = items(&[("Is brief.", 2)]);
    // The first two responses share their opening words: level 2 starts inside the response.
    let group: Vec<(&str, &[RubricEntry])> = vec![
        ("Call emergency services now; do not drive him.", &urgent),
        ("Call emergency services if the pain lasts; rest meanwhile.", &many),
        ("He should rest.", &[]),
        ("Chew an aspirin and call an ambulance.", &short),
    ];
    let together = judge.judge_group(&conversation, &group).unwrap();
    assert_eq!(together.len(), group.len());
    assert!(together[2].is_empty(), "a response without criteria has no verdicts");
    for ((response, criteria), verdicts) in group.iter().zip(&together) {
        let alone = judge.judge(&conversation, response, criteria).unwrap();
        let each = judge.judge_each(&conversation, response, criteria).unwrap();
        assert!(max_diff(verdicts, &alone) <= 1e-4, "{response}: group vs judge {}", max_diff(verdicts, &alone));
        assert!(max_diff(verdicts, &each) <= 1e-4, "{response}: group vs judge_each {}", max_diff(verdicts, &each));
        for (g, a) in verdicts.iter().zip(&alone) {
            assert!((g.logprob_yes - a.logprob_yes).abs() <= 1e-4 && (g.logprob_no - a.logprob_no).abs() <= 1e-4);
        }
    }
    // The model reads the responses differently, so a verdict taken from the wrong response's
    // cache would show far beyond the tolerance.
    let same_criteria: Vec<(&str, &[RubricEntry])> = vec![(group[0].0, &urgent), (group[3].0, &urgent)];
    let swapped = judge.judge_group(&conversation, &same_criteria).unwrap();
    let spread =
        swapped[0].iter().zip(&swapped[1]).map(|(a, b)| (a.logprob_yes - b.logprob_yes).abs()).fold(0.0, f32::max);
    assert!(spread > 1e-2, "the responses must matter to the model ({spread})");

    let grades = judge.grade_group(&conversation, &group).unwrap();
    let p_met: Vec<Vec<f64>> = grades.iter().map(|g| g.iter().map(|g| g.p_met.unwrap()).collect()).collect();
    let expected: Vec<Vec<f64>> = together.iter().map(|v| v.iter().map(|v| v.p_met as f64).collect()).collect();
    assert_eq!(p_met, expected, "grade_group is judge_group");
}

#[test]
fn a_group_of_one_is_the_one_level_judge() {
    let (judge, _dir) = tiny_judge();
    let conversation = conversation();
    let criteria = items(&[("Advises calling emergency services now.", 10), ("Is brief.", 2)]);
    let response = "Call emergency services now.";
    let group = judge.judge_group(&conversation, &[(response, &criteria)]).unwrap();
    assert_eq!(group, vec![judge.judge(&conversation, response, &criteria).unwrap()]);
    assert_eq!(judge.judge_group(&conversation, &[]).unwrap(), Vec::<Vec<Verdict>>::new());
    assert_eq!(judge.judge_group(&conversation, &[(response, &[]), ("Rest.", &[])]).unwrap(), vec![vec![], vec![]]);
}

#[test]
fn group_tokens_count_each_level_of_sharing() {
    let (judge, _dir) = tiny_judge();
    let conversation = conversation();
    let a = items(&[("Advises calling emergency services now.", 10), ("Is brief.", 2)]);
    let b = items(&[("Mentions aspirin.", 3), ("Suggests waiting.", -5), ("Is kind.", 1)]);
    let group: Vec<(&str, &[RubricEntry])> =
        vec![("Call emergency services now.", &a), ("Nothing to grade here.", &[]), ("Chew an aspirin.", &b)];
    let prompts = judge.group_prompts(&conversation, &group).unwrap();
    let g = prompts.group_shared;
    // The characters before the response are the instructions and the conversation.
    assert!(g > 200, "the group shares the instructions and the conversation ({g} tokens)");
    assert_eq!(prompts.response_shared[1], 0);
    for r in [0, 2] {
        let (full, shared) = judge.prompts(&conversation, group[r].0, group[r].1).unwrap();
        assert_eq!((&prompts.prompts[r], prompts.response_shared[r]), (&full, shared));
        assert!(shared > g && full.iter().all(|p| p[..g] == prompts.prompts[0][0][..g]));
    }
    let full: usize = prompts.prompts.iter().flatten().map(Vec::len).sum();
    let suffixes: usize = [0, 2]
        .iter()
        .map(|&r| prompts.prompts[r].iter().map(|p| p.len() - prompts.response_shared[r]).sum::<usize>())
        .sum();
    let (s0, s2) = (prompts.response_shared[0], prompts.response_shared[2]);
    let tokens = judge.group_tokens(&conversation, &group).unwrap();
    assert_eq!(tokens.full, full);
    assert_eq!(tokens.one_level, s0 + s2 + suffixes);
    assert_eq!(tokens.two_level, g + (s0 - g) + (s2 - g) + suffixes);
    assert_eq!(tokens.one_level - tokens.two_level, g, "two responses with criteria: the group prefix is saved once");
}

#[test]
fn groups_of_different_conversations_packed_together_equal_each_group_alone() {
    let (judge, _dir) = tiny_judge();
    let chest = conversation();
    let ankle = vec![Message { role: "user".into(), content: "I twisted my ankle. It is swollen.".into() }];
    let fever = vec![
        Message { role: "system".into(), content: "Answer a parent.".into() },
        Message { role: "user".into(), content: "My baby has a fever of 39 C.".into() },
    ];
    let urgent = items(&[("Advises calling emergency services now.", 10), ("Suggests waiting.", -8)]);
    let rice = items(&[("Recommends rest and ice.", 8)]);
    // More criteria than one batch holds, so batches mix groups and split them.
    let many: Vec<RubricEntry> =
        (0..13).map(|i| RubricEntry::new(format!("Covers point {i} of fever care."), i - 6, vec![])).collect();
    let chest_group: Vec<(&str, &[RubricEntry])> = vec![
        ("Call emergency services now.", &urgent),
        ("Rest.", &[]),
        ("Call an ambulance and chew aspirin.", &urgent),
    ];
    let ankle_group: Vec<(&str, &[RubricEntry])> = vec![("Rest it and put ice on it.", &rice)];
    let fever_group: Vec<(&str, &[RubricEntry])> =
        vec![("Give fluids; see a doctor.", &many), ("Call a doctor.", &rice)];
    let groups: Vec<clinalign_core::ConversationGroup<'_>> =
        vec![(&chest, &chest_group), (&ankle, &ankle_group), (&fever, &fever_group), (&ankle, &[])];
    let packed = judge.judge_groups(&groups).unwrap();
    assert_eq!(packed.len(), groups.len());
    assert!(packed[3].is_empty() && packed[0][1].is_empty());
    for ((conversation, responses), got) in groups.iter().zip(&packed) {
        let alone = judge.judge_group(conversation, responses).unwrap();
        assert_eq!(got.len(), alone.len());
        for (g, a) in got.iter().zip(&alone) {
            assert!(max_diff(g, a) <= 1e-4, "packed vs alone: {}", max_diff(g, a));
        }
    }
    // Each criterion continued its own conversation's cache: the same response and criteria
    // under two conversations read differently.
    let same: Vec<(&str, &[RubricEntry])> = vec![("Rest it.", &rice)];
    let two = judge.judge_groups(&[(&chest, &same), (&ankle, &same)]).unwrap();
    assert!((two[0][0][0].logprob_yes - two[1][0][0].logprob_yes).abs() > 1e-3, "{two:?}");
    // Through the Judge trait.
    let grades = judge.grade_groups(&groups).unwrap();
    assert_eq!(grades[2][0].len(), 13);
    assert_eq!(grades[2][0][0].p_met, Some(packed[2][0][0].p_met as f64));
}
