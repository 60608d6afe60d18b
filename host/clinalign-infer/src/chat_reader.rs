//! Reading a transcript back into turns with the model's own chat template.
//!
//! An RL trainer decodes prompt and response with their special tokens, in the policy's chat
//! format. Any template can be read back without knowing its syntax in advance: rendering
//! probe conversations whose contents are unique markers shows the exact text the template
//! writes between turns (the opening, system→user, user→assistant, assistant→user, the
//! generation prompt, and what follows a finished assistant turn). A transcript is then cut at
//! those separators. A template that adds a default system prompt shows it in its opening, so
//! the default is not mistaken for the user's own system turn.

use crate::chat::{ChatTemplate, Turn};
use crate::error::{Error, Result};

/// Probe contents: no whitespace, so templates that trim contents keep them whole.
const PROBES: [&str; 4] = ["zqprobe0system", "zqprobe1user", "zqprobe2assistant", "zqprobe3user"];

/// The separators a chat template writes between turns, learned by rendering probes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatReader {
    /// Before the first user turn's content, when the conversation opens with a user turn
    /// (a default system prompt included).
    open_user: String,
    /// Before a system turn's content, and from its end to the first user turn's content;
    /// `None` when the template takes no system turn.
    open_system: Option<(String, String)>,
    /// From a user turn's content to the following assistant turn's content.
    user_to_assistant: String,
    /// From an assistant turn's content to the following user turn's content.
    assistant_to_user: String,
    /// From the last user turn's content to where the reply begins (the generation prompt).
    generation: String,
    /// What the template writes after a final assistant turn (an end-of-turn marker).
    after_reply: String,
    /// The end-of-sequence token, which a generated reply may end with.
    eos: String,
}

/// A transcript's turns: (role, content), the last one the assistant's reply as it stands.
pub type Turns = Vec<(&'static str, String)>;

impl ChatReader {
    /// Learns `template`'s separators. Fails, saying why, when the template drops or rewrites
    /// the probe contents, or writes nothing between two turns (a transcript of it could not
    /// be cut).
    pub fn learn(template: &ChatTemplate) -> Result<ChatReader> {
        let render = |roles: &[(&'static str, usize)], generation: bool| -> Result<Vec<String>> {
            let turns: Vec<Turn<'_>> = roles.iter().map(|&(role, p)| Turn { role, content: PROBES[p] }).collect();
            let text = template.render(&turns, generation)?;
            cut(&text, roles.iter().map(|&(_, p)| PROBES[p]))
        };
        let three = render(&[("user", 1), ("assistant", 2), ("user", 3)], true)?;
        let [open_user, user_to_assistant, assistant_to_user, generation] = <[String; 4]>::try_from(three).unwrap();
        // Templates that refuse system turns (some raise an exception) are read without them.
        let open_system = match render(&[("system", 0), ("user", 1), ("assistant", 2), ("user", 3)], true) {
            Ok(v) => Some((v[0].clone(), v[1].clone())),
            Err(_) => None,
        };
        let closed = render(&[("user", 1), ("assistant", 2)], false)?;
        let after_reply = closed[2].clone();
        let eos = template.eos_token().to_string();
        let reader =
            ChatReader { open_user, open_system, user_to_assistant, assistant_to_user, generation, after_reply, eos };
        for (name, sep) in [
            ("user → assistant", &reader.user_to_assistant),
            ("assistant → user", &reader.assistant_to_user),
            ("the generation prompt", &reader.generation),
        ] {
            if sep.trim().is_empty() {
                return Err(Error::Invalid(format!(
                    "the chat template writes no marker at {name}, so its transcripts cannot be cut into turns"
                )));
            }
        }
        Ok(reader)
    }

    /// The turns of `text`, a transcript in this template's format: system (when the
    /// transcript has one of its own), then alternating user and assistant turns, the last
    /// the reply (empty when the transcript ends at the generation prompt). `None` when
    /// `text` is not in this format.
    pub fn turns(&self, text: &str) -> Option<Turns> {
        let mut turns: Turns = Vec::new();
        // The longer opening first: a default system prompt starts like a system turn.
        let mut openings: Vec<(&str, Option<&str>)> = vec![(&self.open_user, None)];
        if let Some((open, to_user)) = &self.open_system {
            openings.push((open, Some(to_user)));
        }
        openings.sort_by_key(|(open, _)| std::cmp::Reverse(open.len()));
        let mut rest = None;
        for (open, to_user) in openings {
            let Some(after) = text.strip_prefix(open) else { continue };
            match to_user {
                None => rest = Some(after),
                Some(to_user) => {
                    let (system, after) = after.split_once(to_user)?;
                    turns.push(("system", system.to_string()));
                    rest = Some(after);
                }
            }
            break;
        }
        let mut rest = rest?;
        loop {
            // A user turn runs to the next assistant turn or to the generation prompt,
            // whichever comes first (the longer one when both start at the same place).
            let next = [&self.user_to_assistant, &self.generation]
                .into_iter()
                .filter_map(|sep| rest.find(sep.as_str()).map(|i| (i, std::cmp::Reverse(sep.len()), sep)))
                .min()?;
            let (i, _, sep) = next;
            turns.push(("user", rest[..i].to_string()));
            rest = &rest[i + sep.len()..];
            match rest.split_once(self.assistant_to_user.as_str()) {
                Some((assistant, after)) => {
                    turns.push(("assistant", assistant.to_string()));
                    rest = after;
                }
                None => {
                    turns.push(("assistant", self.reply(rest).to_string()));
                    return Some(turns);
                }
            }
        }
    }

    /// A reply without what may follow it: the template's end-of-turn text and the
    /// end-of-sequence token, in any order and with whitespace between.
    fn reply<'a>(&self, text: &'a str) -> &'a str {
        let ends = [self.after_reply.as_str(), self.after_reply.trim(), self.eos.as_str()];
        let mut t = text;
        loop {
            let trimmed = t.trim_end();
            match ends.iter().filter(|e| !e.is_empty()).find_map(|e| trimmed.strip_suffix(e)) {
                Some(shorter) => t = shorter,
                None => return trimmed,
            }
        }
    }
}

/// `text` cut at `probes`, in order: the text before the first, between each two, and after
/// the last.
fn cut<'a>(text: &str, probes: impl Iterator<Item = &'a str>) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut rest = text;
    for p in probes {
        let Some((before, after)) = rest.split_once(p) else {
            return Err(Error::Invalid(
                "the chat template does not write turn contents as given, so its transcripts cannot be read back"
                    .into(),
            ));
        };
        out.push(before.to_string());
        rest = after;
    }
    out.push(rest.to_string());
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reader(src: &str, bos: &str, eos: &str) -> ChatReader {
        ChatReader::learn(&ChatTemplate::new(src, bos, eos).unwrap()).unwrap()
    }

    fn owned(turns: &[(&'static str, &str)]) -> Turns {
        turns.iter().map(|&(r, c)| (r, c.to_string())).collect()
    }

    /// Gemma's format: `model` for the assistant, no system role (the template raises).
    const GEMMA: &str = "{{ bos_token }}{% for message in messages %}{% if message['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}{% set role = 'model' if message['role'] == 'assistant' else message['role'] %}{{ '<start_of_turn>' + role + '\n' + message['content'] | trim + '<end_of_turn>\n' }}{% endfor %}{% if add_generation_prompt %}{{'<start_of_turn>model\n'}}{% endif %}";

    #[test]
    fn reads_a_template_it_has_never_seen() {
        let r = reader(GEMMA, "<bos>", "<eos>");
        assert!(r.open_system.is_none(), "{r:?}");
        let text = "<bos><start_of_turn>user\nMy ankle is swollen.<end_of_turn>\n<start_of_turn>model\nIce it.<end_of_turn>\n<start_of_turn>user\nStill swollen after 3 days.<end_of_turn>\n<start_of_turn>model\nSee a doctor to rule out a fracture.<end_of_turn>\n<eos>";
        assert_eq!(
            r.turns(text).unwrap(),
            owned(&[
                ("user", "My ankle is swollen."),
                ("assistant", "Ice it."),
                ("user", "Still swollen after 3 days."),
                ("assistant", "See a doctor to rule out a fracture."),
            ])
        );
        // Cut at the length limit: the reply as it stands, no end marker.
        let cut = "<bos><start_of_turn>user\nHi<end_of_turn>\n<start_of_turn>model\nHello, I";
        assert_eq!(r.turns(cut).unwrap(), owned(&[("user", "Hi"), ("assistant", "Hello, I")]));
        assert!(r.turns("<|im_start|>user\nHi<|im_end|>").is_none(), "another format is not read");
    }

    #[test]
    fn reads_a_format_without_a_generation_prompt() {
        // Mistral's `[INST]` format: the assistant turn has no header, the reply follows
        // `[/INST]` and ends with the end-of-sequence token.
        let src = "{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token }}{% endif %}{% endfor %}";
        let r = reader(src, "<s>", "</s>");
        let text = "<s>[INST] Fever for two days? [/INST]Drink fluids.</s>[INST] It is 40 C now. [/INST]Go to urgent care today.</s>";
        assert_eq!(
            r.turns(text).unwrap(),
            owned(&[
                ("user", "Fever for two days?"),
                ("assistant", "Drink fluids."),
                ("user", "It is 40 C now."),
                ("assistant", "Go to urgent care today."),
            ])
        );
    }

    #[test]
    fn a_default_system_prompt_is_not_the_users_system_turn() {
        let cases: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(
                std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("../../tests/fixtures/models/smollm2/chat_template_cases.json"),
            )
            .unwrap(),
        )
        .unwrap();
        let s = |k: &str| cases[k].as_str().unwrap();
        let r = reader(s("template"), s("bos_token"), s("eos_token"));
        let default = "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n<|im_start|>user\nFever?<|im_end|>\n<|im_start|>assistant\nFluids.<|im_end|>\n";
        assert_eq!(r.turns(default).unwrap(), owned(&[("user", "Fever?"), ("assistant", "Fluids.")]));
        let own = "<|im_start|>system\nBe careful.<|im_end|>\n<|im_start|>user\nFever?<|im_end|>\n<|im_start|>assistant\nFluids.";
        assert_eq!(
            r.turns(own).unwrap(),
            owned(&[("system", "Be careful."), ("user", "Fever?"), ("assistant", "Fluids.")])
        );
    }

    #[test]
    fn a_generation_prompt_that_differs_from_history_turns() {
        // Qwen3-like: with thinking off, the generation prompt adds an empty think block that
        // turns in the history do not have.
        let src = "{% for m in messages %}{{ '<|im_start|>' + m.role + '\n' + m.content + '<|im_end|>\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n<think>\n\n</think>\n\n' }}{% endif %}";
        let r = reader(src, "", "<|im_end|>");
        let text = "<|im_start|>user\nA<|im_end|>\n<|im_start|>assistant\nB<|im_end|>\n<|im_start|>user\nC<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\nD<|im_end|>";
        let turns = r.turns(text).unwrap();
        assert_eq!(turns, owned(&[("user", "A"), ("assistant", "B"), ("user", "C"), ("assistant", "D")]));
        // A transcript that ends at the generation prompt has an empty reply.
        let prompt_only = "<|im_start|>user\nC<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n";
        assert_eq!(r.turns(prompt_only).unwrap(), owned(&[("user", "C"), ("assistant", "")]));
    }

    #[test]
    fn templates_that_cannot_be_read_back_say_why() {
        let glued = "{% for m in messages %}{{ m.content }}{% endfor %}";
        let e = ChatReader::learn(&ChatTemplate::new(glued, "", "").unwrap()).unwrap_err().to_string();
        assert!(e.contains("no marker"), "{e}");
        let dropped = "{% for m in messages %}[{{ m.role }}]{% endfor %}";
        let e = ChatReader::learn(&ChatTemplate::new(dropped, "", "").unwrap()).unwrap_err().to_string();
        assert!(e.contains("does not write turn contents"), "{e}");
    }
}
