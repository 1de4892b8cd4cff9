//! Characters a reader cannot see or tell apart: finding them, removing them
//! before the phrase rules run, and showing them escaped in evidence.

use unicode_normalization::UnicodeNormalization;

/// Why a character is invisible; the kinds are judged differently.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Hidden {
    /// U+E0000–U+E007F: each one can carry an ASCII character the model reads.
    Tag,
    ZeroWidth,
    Bidi,
    VariationSelector,
}

pub(super) fn hidden_kind(c: char) -> Option<Hidden> {
    match c as u32 {
        0xE0000..=0xE007F => Some(Hidden::Tag),
        0x200B..=0x200D | 0x2060..=0x2064 | 0xFEFF | 0x180E | 0x034F | 0x115F | 0x1160 | 0x3164 | 0xFFA0 | 0x00AD => {
            Some(Hidden::ZeroWidth)
        }
        0x202A..=0x202E | 0x2066..=0x2069 | 0x200E | 0x200F | 0x061C => Some(Hidden::Bidi),
        0xFE00..=0xFE0F | 0xE0100..=0xE01EF => Some(Hidden::VariationSelector),
        _ => None,
    }
}

/// Emoji sequences use ZWJ and VS16 legitimately (⚠️, 👩‍💻), and scripts such
/// as Persian need ZWNJ: between two non-ASCII characters these are text,
/// not smuggling.
pub(super) fn is_legitimate_joiner(prev: Option<char>, c: char, next: Option<char>) -> bool {
    let non_ascii = |o: Option<char>| o.is_some_and(|p| !p.is_ascii() && hidden_kind(p).is_none());
    match c as u32 {
        0xFE0E | 0xFE0F => non_ascii(prev),
        0x200C | 0x200D => non_ascii(prev) && non_ascii(next),
        _ => false,
    }
}

/// A C0/C1 control other than tab and line ends: no place in a description.
pub(super) fn is_control(c: char) -> bool {
    (c.is_control() && !matches!(c, '\t' | '\n' | '\r')) && !matches!(c as u32, 0x85)
}

/// Whitespace that renders as blank space and so can push text out of view.
pub(super) fn is_blank(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\u{00A0}' | '\u{2000}'..='\u{200A}' | '\u{202F}' | '\u{205F}' | '\u{3000}')
}

/// What the characters of the tag block spell, if anything.
pub(super) fn decode_tags(text: &str) -> String {
    text.chars()
        .filter_map(|c| match c as u32 {
            v @ 0xE0020..=0xE007E => char::from_u32(v - 0xE0000),
            _ => None,
        })
        .collect()
}

/// Latin look-alikes from Cyrillic, Greek and other scripts that homoglyph
/// attacks use; NFKC already folds fullwidth and mathematical letters.
pub(super) fn confusable_to_ascii(c: char) -> Option<char> {
    Some(match c {
        'а' | 'α' | 'ɑ' => 'a',
        'А' | 'Α' => 'A',
        'в' | 'В' | 'Β' | 'ʙ' => 'B',
        'с' | 'ϲ' => 'c',
        'С' | 'Ϲ' => 'C',
        'ԁ' => 'd',
        'е' | 'ё' | 'ε' => 'e',
        'Е' | 'Ε' => 'E',
        'ɡ' => 'g',
        'һ' => 'h',
        'Н' | 'Η' => 'H',
        'і' | 'ι' | 'ı' => 'i',
        'І' | 'Ι' | 'Ӏ' => 'I',
        'ј' => 'j',
        'Ј' => 'J',
        'κ' | 'к' => 'k',
        'К' | 'Κ' => 'K',
        'ⅼ' => 'l',
        'М' | 'Μ' => 'M',
        'Ν' => 'N',
        'о' | 'ο' | 'σ' => 'o',
        'О' | 'Ο' => 'O',
        'р' | 'ρ' => 'p',
        'Р' | 'Ρ' => 'P',
        'ԛ' => 'q',
        'ѕ' => 's',
        'Ѕ' => 'S',
        'т' | 'τ' => 't',
        'Т' | 'Τ' => 'T',
        'υ' | 'ս' => 'u',
        'ν' | 'ѵ' => 'v',
        'ԝ' | 'ѡ' => 'w',
        'х' | 'χ' => 'x',
        'Х' | 'Χ' => 'X',
        'у' | 'γ' => 'y',
        'Υ' | 'Ү' => 'Y',
        'Ζ' => 'Z',
        _ => return None,
    })
}

/// The text the phrase rules read: invisible characters dropped (so
/// "ig\u{200B}nore" still reads "ignore"), NFKC applied, look-alikes folded.
/// ASCII text, the common case, is returned without work.
pub(super) fn visible_text(text: &str) -> std::borrow::Cow<'_, str> {
    if text.is_ascii() {
        return std::borrow::Cow::Borrowed(text);
    }
    let kept: String = text.chars().filter(|&c| hidden_kind(c).is_none()).collect();
    // Dashes, curly quotes and emoji are already NFKC: the quick check spares
    // real descriptions the decomposition and reordering.
    if unicode_normalization::is_nfkc_quick(kept.chars()) == unicode_normalization::IsNormalized::Yes {
        return std::borrow::Cow::Owned(kept.chars().map(|c| confusable_to_ascii(c).unwrap_or(c)).collect());
    }
    std::borrow::Cow::Owned(kept.nfkc().map(|c| confusable_to_ascii(c).unwrap_or(c)).collect())
}

/// A name folded to what a reader sees: NFKC, look-alikes to ASCII, lower case,
/// and digits that pass for letters.
pub(super) fn skeleton(name: &str) -> String {
    if name.is_ascii() {
        return name.bytes().map(|b| ascii_skeleton(b.to_ascii_lowercase() as char)).collect();
    }
    name.nfkc()
        .filter(|&c| hidden_kind(c).is_none())
        .map(|c| confusable_to_ascii(c).unwrap_or(c).to_ascii_lowercase())
        .map(ascii_skeleton)
        .collect()
}

fn ascii_skeleton(c: char) -> char {
    match c {
        '0' => 'o',
        '1' => 'l',
        other => other,
    }
}

/// Shows what a reader would not see: invisible and control characters become
/// `[U+XXXX]`.
pub(super) fn escape_invisible(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if hidden_kind(c).is_some() || is_control(c) {
            out.push_str(&format!("[U+{:04X}]", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// Cuts `text` to at most `max` characters around the byte range `start..end`,
/// escaping what is invisible, so evidence stays readable and bounded.
pub(super) fn excerpt(text: &str, start: usize, end: usize, max: usize) -> String {
    let start = floor_boundary(text, start.min(text.len()));
    let end = floor_boundary(text, end.min(text.len()).max(start));
    let matched_chars = text[start..end].chars().count();
    let context = max.saturating_sub(matched_chars.min(max)) / 2;
    let before: Vec<(usize, char)> = text[..start].char_indices().rev().take(context).collect();
    let from = before.last().map_or(start, |&(i, _)| i);
    let mut to = end;
    for (taken, (i, c)) in text[end..].char_indices().enumerate() {
        if taken >= context {
            break;
        }
        to = end + i + c.len_utf8();
    }
    let mut piece: String = text[from..to].chars().take(max).collect();
    piece = piece.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut shown = escape_invisible(&piece);
    // Escapes lengthen the text eight-fold per hidden character: bound again.
    if shown.chars().count() > max {
        shown = shown.chars().take(max).collect();
        shown.push('…');
    }
    if from > 0 {
        shown.insert(0, '…');
    }
    if to < text.len() {
        shown.push('…');
    }
    shown
}

fn floor_boundary(text: &str, mut i: usize) -> usize {
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}
