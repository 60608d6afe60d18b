//! Generation constrained to a JSON schema, through `llguidance`: at every step the grammar
//! the schema compiles to masks the tokens that cannot continue a valid document, so even a
//! small model's output always parses (and matches the schema's structure).
//!
//! llguidance works on token *bytes*. [`token_bytes`] reads them from the tokenizer's
//! vocabulary: byte-level BPE tokens (GPT-2, Llama 3, Qwen, SmolLM2) through the inverse of
//! the byte-to-character table those tokenizers use, SentencePiece tokens (`▁` for a space,
//! `<0xNN>` for a byte) by their own rules, and special tokens as llguidance's marked
//! names, which the grammar never allows inside JSON.

use std::ops::ControlFlow;
use std::sync::Arc;

use llguidance::api::TopLevelGrammar;
use llguidance::{Matcher, ParserFactory};
use toktrie::{ApproximateTokEnv, TokEnv, TokRxInfo, TokTrie};

use crate::error::{Error, Result};
use crate::tokenizer::Tokenizer;

/// What a tokenizer's vocabulary means to llguidance, built once per model.
pub struct JsonGrammars {
    factory: ParserFactory,
}

/// GPT-2's table: the character each byte is written as in a byte-level BPE vocabulary.
fn byte_chars() -> Vec<(char, u8)> {
    let mut printable: Vec<u32> = (b'!' as u32..=b'~' as u32).chain(0xA1..=0xAC).chain(0xAE..=0xFF).collect();
    let mut out: Vec<(char, u8)> = printable.iter().map(|b| (char::from_u32(*b).unwrap(), *b as u8)).collect();
    let mut n = 0;
    for b in 0u32..256 {
        if !printable.contains(&b) {
            out.push((char::from_u32(256 + n).unwrap(), b as u8));
            printable.push(b);
            n += 1;
        }
    }
    out
}

/// The bytes of every token of `tok`, by id.
pub fn token_bytes(tok: &Tokenizer) -> Vec<Vec<u8>> {
    let table: std::collections::HashMap<char, u8> = byte_chars().into_iter().collect();
    (0..tok.vocab_size() as u32)
        .map(|id| {
            let Some(piece) = tok.id_to_token(id) else { return Vec::new() };
            if tok.is_special(id) {
                let mut b = vec![TokTrie::SPECIAL_TOKEN_MARKER];
                b.extend(piece.as_bytes());
                return b;
            }
            if let Some(hex) = piece.strip_prefix("<0x").and_then(|r| r.strip_suffix('>'))
                && let Ok(byte) = u8::from_str_radix(hex, 16)
            {
                return vec![byte];
            }
            if piece.contains('▁') {
                return piece.replace('▁', " ").into_bytes();
            }
            match piece.chars().map(|c| table.get(&c).copied()).collect::<Option<Vec<u8>>>() {
                Some(bytes) => bytes,
                None => piece.into_bytes(),
            }
        })
        .collect()
}

impl JsonGrammars {
    /// Prepares the vocabulary of `tok` (tens of milliseconds for a 50k vocabulary).
    pub fn new(tok: &Tokenizer) -> Result<JsonGrammars> {
        let eos =
            tok.eos_id().ok_or_else(|| Error::Unsupported("the tokenizer has no end-of-sequence token".into()))?;
        let words = token_bytes(tok);
        let info = TokRxInfo::new(words.len() as u32, eos);
        let env: TokEnv = Arc::new(ApproximateTokEnv::new(TokTrie::from(&info, &words)));
        let factory = ParserFactory::new_simple(&env).map_err(|e| Error::Invalid(format!("llguidance: {e}")))?;
        Ok(JsonGrammars { factory })
    }

    /// A matcher for documents of `schema` (JSON Schema text).
    ///
    /// Whitespace between tokens is fixed (`", "` and `": "`, no newlines): with flexible
    /// whitespace, a small model may spend its whole budget on blank lines. A schema that
    /// carries its own `x-guidance` options keeps them.
    pub fn matcher(&self, schema: &str) -> Result<Matcher> {
        let mut value: serde_json::Value =
            serde_json::from_str(schema).map_err(|e| Error::Invalid(format!("the JSON schema does not parse: {e}")))?;
        if let Some(top) = value.as_object_mut()
            && !top.contains_key("x-guidance")
        {
            top.insert(
                "x-guidance".into(),
                serde_json::json!({"whitespace_flexible": false, "item_separator": ", ", "key_separator": ": "}),
            );
        }
        let parser = self
            .factory
            .create_parser(TopLevelGrammar::from_json_schema(value))
            .map_err(|e| Error::Invalid(format!("the JSON schema cannot be used: {e}")))?;
        Ok(Matcher::new(Ok(parser)))
    }
}

/// Masks `row` (logits) to the tokens `matcher` allows next.
pub fn mask(matcher: &mut Matcher, row: &mut [f32]) -> Result<()> {
    let allowed = matcher.compute_mask_or_eos().map_err(|e| Error::Invalid(format!("llguidance: {e}")))?;
    for (id, v) in row.iter_mut().enumerate() {
        if !allowed.is_allowed(id as u32) {
            *v = f32::NEG_INFINITY;
        }
    }
    Ok(())
}

/// Feeds the chosen token to the matcher; `Break` once the document is complete.
pub fn advance(matcher: &mut Matcher, tok: u32) -> Result<ControlFlow<()>> {
    matcher.consume_token(tok).map_err(|e| Error::Invalid(format!("llguidance: {e}")))?;
    Ok(if matcher.is_stopped() { ControlFlow::Break(()) } else { ControlFlow::Continue(()) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_level_pieces_map_back_to_their_bytes() {
        let table: std::collections::HashMap<char, u8> = byte_chars().into_iter().collect();
        assert_eq!(table.len(), 256);
        assert_eq!(table[&'Ġ'], b' ');
        assert_eq!(table[&'Ċ'], b'\n');
        assert_eq!(table[&'a'], b'a');
    }

    /// A 135M model left to itself rarely writes valid JSON for a schema; under the mask its
    /// output is a document of the schema.
    #[test]
    fn a_small_model_writes_a_document_of_the_schema() {
        let lm = crate::local::LocalModel::open(&crate::assets::smollm2_gguf().unwrap()).unwrap();
        let schema = r#"{"type": "object", "properties": {
            "items": {"type": "array", "maxItems": 2, "items": {"type": "object", "properties": {
                "criterion": {"type": "string", "maxLength": 12},
                "points": {"type": "integer", "minimum": -10, "maximum": 10},
                "axis": {"type": "string", "enum": ["accuracy", "completeness"]}},
                "required": ["criterion", "points", "axis"], "additionalProperties": false}}},
            "required": ["items"], "additionalProperties": false}"#;
        let text = lm.complete_json("Write rubric items.", schema, 200).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text:?}"));
        let items = v["items"].as_array().expect("an items list");
        assert!(items.len() <= 2, "{text}");
        for it in items {
            assert!(it["criterion"].as_str().unwrap().chars().count() <= 12, "{text}");
            assert!((-10..=10).contains(&it["points"].as_i64().unwrap()), "{text}");
            assert!(["accuracy", "completeness"].contains(&it["axis"].as_str().unwrap()), "{text}");
        }
        // Too few tokens for any complete document: a clear error, not half a document.
        let e = lm.complete_json("Write rubric items.", schema, 3).unwrap_err().to_string();
        assert!(e.contains("not complete within 3 tokens"), "{e}");
    }
}
