//! Text into HTML and SVG: escaping, truncation and number formats. Every string that comes
//! from a row goes through [`escape`] before it reaches the page.

/// Escapes text for an HTML or SVG text node or a quoted attribute value: `&`, `<`, `>`, `"`
/// and `'` become character references, so row text can never open or close an element.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// At most `max` characters of `text` (whitespace runs folded to one space), with `…` when
/// something was cut.
pub fn truncate(text: &str, max: usize) -> String {
    let folded = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if folded.chars().count() <= max {
        return folded;
    }
    let mut cut: String = folded.chars().take(max.saturating_sub(1)).collect();
    cut.truncate(cut.trim_end().len());
    cut.push('…');
    cut
}

/// A number for a `data-*` attribute: the shortest text that reads back as the same `f64`.
pub fn data_number(x: f64) -> String {
    format!("{x}")
}

/// A score for people: three decimals.
pub fn score_text(x: f64) -> String {
    format!("{x:.3}")
}

/// A signed change for people: `+0.052`, `−0.013` (a true minus sign), `0.000`.
pub fn signed_text(x: f64) -> String {
    if x.abs() < 0.0005 {
        "0.000".to_string()
    } else if x > 0.0 {
        format!("+{x:.3}")
    } else {
        format!("\u{2212}{:.3}", -x)
    }
}

/// A share as a percentage for people: `42%`.
pub fn percent_text(x: f64) -> String {
    format!("{:.0}%", x * 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_leaves_no_markup() {
        let e = escape(r#"<script>alert("x")</script></svg> & 'q'"#);
        assert_eq!(e, "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&lt;/svg&gt; &amp; &#39;q&#39;");
    }

    #[test]
    fn truncation_folds_whitespace_and_marks_the_cut() {
        assert_eq!(truncate("a  b\n c", 10), "a b c");
        assert_eq!(truncate("abcdefghij", 5), "abcd…");
        assert_eq!(truncate("ab cd ef", 4), "ab…");
        assert_eq!(truncate("ééééé", 3), "éé…", "cuts on characters, not bytes");
    }

    #[test]
    fn numbers_read_back_and_signs_show() {
        for x in [0.1, 1.0 / 3.0, 0.0, 1e-9] {
            assert_eq!(data_number(x).parse::<f64>().unwrap(), x);
        }
        assert_eq!(signed_text(0.0521), "+0.052");
        assert_eq!(signed_text(-0.0131), "\u{2212}0.013");
        assert_eq!(signed_text(0.0001), "0.000");
        assert_eq!(percent_text(0.426), "43%");
    }
}
