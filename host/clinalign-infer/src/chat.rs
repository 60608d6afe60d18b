//! Chat templates: the model's own Jinja template, rendered with minijinja the way
//! transformers renders it (`trim_blocks`, `lstrip_blocks`, Python string methods).

use minijinja::{Environment, Error as JinjaError, ErrorKind, context};

use crate::error::{Error, Result};

/// A compiled chat template with the special tokens it may refer to.
pub struct ChatTemplate {
    env: Environment<'static>,
    bos_token: String,
    eos_token: String,
}

/// One turn, as templates see it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Turn<'a> {
    pub role: &'a str,
    pub content: &'a str,
}

impl ChatTemplate {
    /// Compiles `source`; the error names the template problem.
    pub fn new(source: &str, bos_token: &str, eos_token: &str) -> Result<ChatTemplate> {
        let mut env = Environment::new();
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        env.add_function("raise_exception", |msg: String| -> std::result::Result<String, JinjaError> {
            Err(JinjaError::new(ErrorKind::InvalidOperation, msg))
        });
        env.add_template_owned("chat", source.to_string())
            .map_err(|e| Error::Invalid(format!("chat template does not compile: {e:#}")))?;
        Ok(ChatTemplate { env, bos_token: bos_token.to_string(), eos_token: eos_token.to_string() })
    }

    /// The end-of-sequence token the template is given.
    pub fn eos_token(&self) -> &str {
        &self.eos_token
    }

    /// Renders a conversation; with `add_generation_prompt` the text ends where the
    /// assistant's reply begins.
    pub fn render(&self, turns: &[Turn<'_>], add_generation_prompt: bool) -> Result<String> {
        self.render_with(turns, add_generation_prompt, &serde_json::Map::new())
    }

    /// [`ChatTemplate::render`] with extra variables for the template (what transformers'
    /// `apply_chat_template(**kwargs)` passes, e.g. Qwen3's `enable_thinking`). They cannot
    /// replace `messages`, `add_generation_prompt`, `bos_token` or `eos_token`.
    pub fn render_with(
        &self,
        turns: &[Turn<'_>],
        add_generation_prompt: bool,
        extra: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<String> {
        let t = self.env.get_template("chat").expect("added in new");
        // The first definition of a name wins: the fixed variables come before the extras.
        t.render(context! {
            messages => turns,
            add_generation_prompt => add_generation_prompt,
            bos_token => self.bos_token,
            eos_token => self.eos_token,
            ..minijinja::Value::from_serialize(extra),
        })
        .map_err(|e| Error::Invalid(format!("chat template failed: {e:#}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHATML: &str = "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\\nBe brief.<|im_end|>\\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

    #[test]
    fn renders_chatml_with_and_without_the_generation_prompt() {
        let t = ChatTemplate::new(CHATML, "", "<|im_end|>").unwrap();
        let turns = [Turn { role: "user", content: "hi" }];
        assert_eq!(
            t.render(&turns, true).unwrap(),
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
        );
        assert!(t.render(&turns, false).unwrap().ends_with("hi<|im_end|>\n"));
    }

    #[test]
    fn python_methods_and_raise_exception_work() {
        let src = "{% if messages[0]['role'] != 'user' %}{{ raise_exception('first must be user') }}{% endif %}{{ messages[0]['content'].strip().upper() }}";
        let t = ChatTemplate::new(src, "<s>", "</s>").unwrap();
        assert_eq!(t.render(&[Turn { role: "user", content: "  hi  " }], false).unwrap(), "HI");
        let e = t.render(&[Turn { role: "system", content: "x" }], false).unwrap_err().to_string();
        assert!(e.contains("first must be user"), "{e}");
        assert!(ChatTemplate::new("{% if %}", "", "").is_err());
    }

    #[test]
    fn extra_variables_reach_the_template_but_cannot_replace_the_fixed_ones() {
        let src = "{% if enable_thinking is defined and not enable_thinking %}<think></think>{% endif %}{{ messages[0].content }}{{ eos_token }}";
        let t = ChatTemplate::new(src, "", "</s>").unwrap();
        let turns = [Turn { role: "user", content: "hi" }];
        let extra = |v: serde_json::Value| v.as_object().unwrap().clone();
        assert_eq!(t.render(&turns, true).unwrap(), "hi</s>");
        assert_eq!(
            t.render_with(&turns, true, &extra(serde_json::json!({"enable_thinking": false}))).unwrap(),
            "<think></think>hi</s>"
        );
        assert_eq!(
            t.render_with(&turns, true, &extra(serde_json::json!({"enable_thinking": true}))).unwrap(),
            "hi</s>"
        );
        let over = extra(serde_json::json!({"eos_token": "X", "messages": [{"role": "user", "content": "other"}]}));
        assert_eq!(t.render_with(&turns, true, &over).unwrap(), "hi</s>");
    }

    #[test]
    fn blocks_are_trimmed_as_transformers_does() {
        // lstrip_blocks drops the indentation before a block tag, trim_blocks the newline
        // after one (expressions keep their whitespace, as in Jinja2).
        let src = "{% for m in messages %}\n    {% if true %}{{ m.content }}{% endif %}\n{% endfor %}";
        let t = ChatTemplate::new(src, "", "").unwrap();
        assert_eq!(
            t.render(&[Turn { role: "user", content: "a" }, Turn { role: "user", content: "b" }], false).unwrap(),
            "ab"
        );
    }
}
