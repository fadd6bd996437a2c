//! The text cleaning OpenAI's CLIP applies before byte-pair encoding (`basic_clean` in its
//! `simple_tokenizer.py`): ftfy's `fix_text`, then HTML entities unescaped twice. CLIP was trained on text
//! cleaned this way, and a `tokenizer.json` cannot express it (transformers' fast CLIPTokenizer skips it),
//! so the tokenizer runs it first.
//!
//! Of ftfy's fixes, those that change text a person types are done here: HTML entities, Latin ligatures,
//! full-width and half-width forms, and curly quotes. Its mojibake repair (text decoded with the wrong
//! code page) is not: a search box hands over proper UTF-8. NFC and the whitespace runs are done by the
//! tokenizer's own normaliser.

use std::borrow::Cow;

/// `text` as OpenAI's CLIP sees it before its normaliser (see the module docs).
pub fn clean(text: &str) -> Cow<'_, str> {
    if !text.contains(|c: char| c == '&' || needs_fix(c)) {
        return Cow::Borrowed(text);
    }
    // ftfy unescapes HTML while the text holds no `<` (it is not HTML then), round after round until
    // nothing changes; CLIP then unescapes twice more regardless.
    let mut out = text.to_string();
    for _ in 0..16 {
        if out.contains('<') || !out.contains('&') {
            break;
        }
        let next = html_escape::decode_html_entities(&out).into_owned();
        if next == out {
            break;
        }
        out = next;
    }
    for _ in 0..2 {
        if out.contains('&') {
            out = html_escape::decode_html_entities(&out).into_owned();
        }
    }
    let mut fixed = String::with_capacity(out.len());
    for c in out.chars() {
        fix_char(c, &mut fixed);
    }
    Cow::Owned(fixed)
}

fn needs_fix(c: char) -> bool {
    ligature(c).is_some() || is_width_form(c) || quote(c).is_some()
}

/// ftfy's `fix_latin_ligatures`: ligatures of Latin letters spelled out.
fn ligature(c: char) -> Option<&'static str> {
    Some(match c {
        'Ĳ' => "IJ",
        'ĳ' => "ij",
        'ŉ' => "ʼn",
        'Ǳ' => "DZ",
        'ǲ' => "Dz",
        'ǳ' => "dz",
        'Ǆ' => "DŽ",
        'ǅ' => "Dž",
        'ǆ' => "dž",
        'Ǉ' => "LJ",
        'ǈ' => "Lj",
        'ǉ' => "lj",
        'Ǌ' => "NJ",
        'ǋ' => "Nj",
        'ǌ' => "nj",
        'ﬀ' => "ff",
        'ﬁ' => "fi",
        'ﬂ' => "fl",
        'ﬃ' => "ffi",
        'ﬄ' => "ffl",
        'ﬅ' => "ſt",
        'ﬆ' => "st",
        _ => return None,
    })
}

/// ftfy's `fix_character_width` applies NFKC to the ideographic space and the half-width and full-width
/// forms block.
fn is_width_form(c: char) -> bool {
    c == '\u{3000}' || ('\u{ff01}'..='\u{ffef}').contains(&c)
}

/// ftfy's `uncurl_quotes`: curly single quotes (and the modifier apostrophe) to `'`, double to `"`.
fn quote(c: char) -> Option<char> {
    match c {
        '\u{02bc}' | '\u{2018}'..='\u{201b}' => Some('\''),
        '\u{201c}'..='\u{201f}' => Some('"'),
        _ => None,
    }
}

fn fix_char(c: char, out: &mut String) {
    if let Some(s) = ligature(c) {
        out.push_str(s);
    } else if let Some(q) = quote(c) {
        out.push(q);
    } else if is_width_form(c) {
        let mut n = tokenizers::NormalizedString::from(c.to_string());
        n.nfkc();
        out.push_str(n.get());
    } else {
        out.push(c);
    }
}

#[cfg(test)]
mod tests {
    use super::clean;

    #[test]
    fn fixes_what_ftfy_and_html_unescape_fix() {
        assert_eq!(clean("ﬁne ﬂour"), "fine flour");
        assert_eq!(clean("ＡＢＣ　１２３！"), "ABC 123!");
        assert_eq!(clean("ｶﾀｶﾅ"), "カタカナ");
        assert_eq!(clean("“quoted” ‘text’ it’s"), "\"quoted\" 'text' it's");
        assert_eq!(
            clean("fish &amp; chips &lt;3 &eacute;"),
            "fish & chips <3 é"
        );
        // Until nothing changes without `<` (ftfy), then CLIP's two rounds; only those two with `<`.
        assert_eq!(clean("a &amp;amp;amp;amp; b"), "a & b");
        assert_eq!(clean("<b> &amp;amp;amp; </b>"), "<b> &amp; </b>");
        assert!(matches!(clean("plain text"), std::borrow::Cow::Borrowed(_)));
    }
}
