//! Recovering the conversation and the response from a chat-templated transcript, as an RL
//! trainer sends it (OpenRLHF's `query` is the prompt and the response decoded with their
//! special tokens).
//!
//! Templates read: the served model's own (`--model`), whatever its syntax, through
//! [`ChatReader`]; then ChatML (`<|im_start|>role\n…<|im_end|>`: Qwen, SmolLM2 and many
//! others) and Llama 3 (`<|start_header_id|>role<|end_header_id|>\n\n…<|eot_id|>`). A `<think>…</think>`
//! block is taken out of a response: the reward is for the answer. When the trainer also sends
//! the prompt and the transcript starts with it, the response is exactly what follows it.

use clinalign::Message;
use clinalign_infer::chat_reader::ChatReader;

/// Markers that end a turn or the text, in any template read here.
const END_MARKERS: [&str; 6] = ["<|im_end|>", "<|endoftext|>", "<|eot_id|>", "<|end_of_text|>", "<|eom_id|>", "</s>"];

/// A template's turn syntax.
struct Template {
    /// Starts a turn; the role follows.
    start: &'static str,
    /// Ends the role; the content follows.
    role_end: &'static str,
    /// Ends the content.
    end: &'static str,
}

const CHATML: Template = Template { start: "<|im_start|>", role_end: "\n", end: "<|im_end|>" };
const LLAMA3: Template = Template { start: "<|start_header_id|>", role_end: "<|end_header_id|>", end: "<|eot_id|>" };

/// A transcript's turns, each with its role and content; the last turn may be unterminated
/// (the response as generated, cut at the length limit). `None` when no template read here
/// matches: the served model's (`own`) first, then ChatML and Llama 3.
pub fn turns(text: &str, own: Option<&ChatReader>) -> Option<Vec<(String, String)>> {
    if let Some(turns) = own.and_then(|r| r.turns(text)) {
        return Some(
            turns
                .into_iter()
                .map(|(role, content)| (role.to_string(), strip_end_markers(&content).to_string()))
                .collect(),
        );
    }
    let t = [&CHATML, &LLAMA3].into_iter().find(|t| text.contains(t.start))?;
    let mut out = Vec::new();
    for piece in text.split(t.start).skip(1) {
        let (role, rest) = piece.split_once(t.role_end)?;
        let content = match rest.find(t.end) {
            Some(i) => &rest[..i],
            None => rest,
        };
        out.push((role.trim().to_string(), strip_end_markers(content).to_string()));
    }
    Some(out)
}

/// `text` without trailing end-of-turn / end-of-text markers and surrounding whitespace
/// (Llama 3 puts "\n\n" after the header).
fn strip_end_markers(text: &str) -> &str {
    let mut t = text.trim();
    while let Some(m) = END_MARKERS.iter().find(|m| t.ends_with(*m)) {
        t = t[..t.len() - m.len()].trim_end();
    }
    t
}

/// A response without its reasoning block.
fn answer_part(response: &str) -> String {
    let r = strip_end_markers(response);
    match (r.find("<think>"), r.rfind("</think>")) {
        (Some(a), Some(b)) if a <= b => format!("{}{}", &r[..a], &r[b + "</think>".len()..]).trim().to_string(),
        (None, Some(b)) => r[b + "</think>".len()..].trim().to_string(),
        _ => r.to_string(),
    }
}

/// Turns as messages; a role other than system/user/assistant is an error.
fn messages(turns: Vec<(String, String)>) -> Result<Vec<Message>, String> {
    turns
        .into_iter()
        .enumerate()
        .map(|(i, (role, content))| match role.as_str() {
            "system" | "user" | "assistant" => Ok(Message { role, content }),
            "developer" => Ok(Message { role: "system".into(), content }),
            other => Err(format!("turn {i} has role {other:?}; only system, user and assistant turns are graded")),
        })
        .collect()
}

/// The conversation before the response, and the response, from a transcript and (when the
/// trainer sends it) the prompt it started from.
pub fn split(query: &str, prompt: Option<&str>, own: Option<&ChatReader>) -> Result<(Vec<Message>, String), String> {
    if let Some(p) = prompt.filter(|p| !p.is_empty() && query.starts_with(*p)) {
        let response = answer_part(&query[p.len()..]);
        let mut conversation = match turns(p, own) {
            Some(t) => messages(t)?,
            None => vec![Message { role: "user".into(), content: p.trim().to_string() }],
        };
        // The generation prompt leaves an empty assistant turn at the end.
        if conversation.last().is_some_and(|m| m.role == "assistant" && m.content.is_empty()) {
            conversation.pop();
        }
        return finish(conversation, response);
    }
    let Some(t) = turns(query, own) else {
        let templates = if own.is_some() { "the served model's, ChatML or Llama 3" } else { "ChatML or Llama 3" };
        return Err(format!("no chat template found ({templates} turns), and no prompt that the query starts with"));
    };
    let mut conversation = messages(t)?;
    match conversation.pop() {
        Some(last) if last.role == "assistant" => finish(conversation, answer_part(&last.content)),
        _ => Err("the transcript does not end with an assistant turn: there is no response to grade".into()),
    }
}

fn finish(conversation: Vec<Message>, response: String) -> Result<(Vec<Message>, String), String> {
    if !conversation.iter().any(|m| m.role == "user") {
        return Err("no user turn before the response".into());
    }
    if response.is_empty() {
        return Err("the response is empty".into());
    }
    Ok((conversation, response))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chatml_with_a_thinking_block() {
        let q = "<|im_start|>system\nBe careful.<|im_end|>\n<|im_start|>user\nMy ankle hurts.<|im_end|>\n<|im_start|>assistant\n<think>\nsprain?\n</think>\n\nRest and ice it.<|im_end|><|endoftext|>";
        let (c, r) = split(q, None, None).unwrap();
        assert_eq!(c.len(), 2);
        assert_eq!((c[1].role.as_str(), c[1].content.as_str()), ("user", "My ankle hurts."));
        assert_eq!(r, "Rest and ice it.");
    }

    #[test]
    fn llama3_and_the_prompt_prefix() {
        let prompt = "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nI have a fever.<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n";
        let q = format!("{prompt}Drink fluids; see a doctor if it passes 39.5 C.<|eot_id|>");
        let (c, r) = split(&q, Some(prompt), None).unwrap();
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].content, "I have a fever.");
        assert_eq!(r, "Drink fluids; see a doctor if it passes 39.5 C.");
        let (c2, r2) = split(&q, None, None).unwrap();
        assert_eq!((c2, r2), (c, r), "the transcript alone reads the same");
    }

    #[test]
    fn a_plain_prompt_prefix_is_the_user_turn() {
        let (c, r) = split("What helps a headache? Water and rest.", Some("What helps a headache?"), None).unwrap();
        assert_eq!(c[0].content, "What helps a headache?");
        assert_eq!(r, "Water and rest.");
    }

    #[test]
    fn unreadable_transcripts_say_why() {
        assert!(split("just text", None, None).unwrap_err().contains("no chat template"));
        let no_answer = "<|im_start|>user\nhi<|im_end|>\n";
        assert!(split(no_answer, None, None).unwrap_err().contains("does not end with an assistant turn"));
        let tool = "<|im_start|>tool\nx<|im_end|>\n<|im_start|>assistant\ny";
        assert!(split(tool, None, None).unwrap_err().contains("role \"tool\""));
        let empty = "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n<|im_end|>";
        assert!(split(empty, None, None).unwrap_err().contains("empty"));
    }

    #[test]
    fn the_served_models_own_format_comes_first() {
        let gemma = "{{ bos_token }}{% for m in messages %}{% set role = 'model' if m['role'] == 'assistant' else m['role'] %}{{ '<start_of_turn>' + role + '\n' + m['content'] + '<end_of_turn>\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<start_of_turn>model\n' }}{% endif %}";
        let template = clinalign_infer::chat::ChatTemplate::new(gemma, "<bos>", "<eos>").unwrap();
        let own = ChatReader::learn(&template).unwrap();
        let q = "<bos><start_of_turn>user\nMy ankle hurts.<end_of_turn>\n<start_of_turn>model\nRest and ice it.<end_of_turn>\n<eos>";
        assert!(split(q, None, None).unwrap_err().contains("no chat template"));
        let (c, r) = split(q, None, Some(&own)).unwrap();
        assert_eq!((c.len(), c[0].content.as_str(), r.as_str()), (1, "My ankle hurts.", "Rest and ice it."));
        // ChatML is still read when the served model's format does not match.
        let chatml = "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\nhello<|im_end|>";
        assert_eq!(split(chatml, None, Some(&own)).unwrap().1, "hello");
    }
}
