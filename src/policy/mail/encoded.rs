//! RFC 2047 encoded words (`=?charset?q?...?=`, `=?charset?b?...?=`), decoded
//! as leniently as mail libraries decode them: Python's `email` decodes a word
//! glued to other text (`x=?utf-8?q?...?=`), any case of `q`/`b`, a charset
//! with an RFC 2231 language (`utf-8*en`), base64 without its padding, and
//! an unknown charset as ASCII. So this decoder finds every such word and
//! reads its bytes; a word whose charset could hide a line break from a byte
//! scan (UTF-7, UTF-16, unknown names) is not read but refused.

use std::borrow::Cow;
use std::sync::OnceLock;

use regex::Regex;

/// Why a value's encoded words could not be read.
pub(super) const UNREADABLE: &str =
    "has an encoded word (=?...?=) in a character set or encoding the gateway cannot read";

fn encoded_word() -> &'static Regex {
    static WORD: OnceLock<Regex> = OnceLock::new();
    // The pattern Python's `email.header` uses: non-greedy, any text inside.
    WORD.get_or_init(|| Regex::new(r"(?s)=\?([^?]*)\?([qQbB])\?(.*?)\?=").expect("encoded-word pattern compiles"))
}

pub(super) fn has_encoded_word(text: &str) -> bool {
    encoded_word().is_match(text)
}

/// `text` with every encoded word replaced by its decoded text, once.
/// `Ok(None)` when there is none.
pub(super) fn decode_once(text: &str) -> Result<Option<String>, &'static str> {
    if !has_encoded_word(text) {
        return Ok(None);
    }
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for word in encoded_word().captures_iter(text) {
        let whole = word.get(0).expect("a match has a whole");
        out.push_str(&text[last..whole.start()]);
        let bytes = match &word[2] {
            "q" | "Q" => q_bytes(&word[3]),
            _ => b_bytes(&word[3]),
        };
        out.push_str(&in_charset(&word[1], &bytes)?);
        last = whole.end();
    }
    out.push_str(&text[last..]);
    Ok(Some(out))
}

/// The `q` encoding: `_` is a space, `=XX` a byte; a stray `=` stays.
fn q_bytes(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'_' => out.push(b' '),
            b'=' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(high), Some(low)) => {
                    out.push(high << 4 | low);
                    i += 2;
                }
                _ => out.push(b'='),
            },
            b => out.push(b),
        }
        i += 1;
    }
    out
}

/// The `b` encoding, read the lenient way: characters outside the base64
/// alphabet are skipped and missing padding is forgiven.
fn b_bytes(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let mut acc: u32 = 0;
    let mut bits = 0;
    for b in text.bytes() {
        let Some(v) = sextet(b) else { continue };
        acc = acc << 6 | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    out
}

fn sextet(b: u8) -> Option<u8> {
    match b {
        b'A'..=b'Z' => Some(b - b'A'),
        b'a'..=b'z' => Some(b - b'a' + 26),
        b'0'..=b'9' => Some(b - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    }
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// The text an encoded word's bytes stand for, as far as line breaks and
/// controls go. UTF-8 is decoded (lossily, as mail libraries do); the
/// single-byte ISO 8859 family maps 0x80-0x9F to the C1 controls (NEL is
/// 0x85), which is how they are read here; other ASCII-compatible charsets
/// keep every byte below 0x80 as ASCII, which is all the check needs.
fn in_charset<'a>(charset: &str, bytes: &'a [u8]) -> Result<Cow<'a, str>, &'static str> {
    let name = charset.split('*').next().unwrap_or("").trim().to_ascii_lowercase();
    let latin = name.starts_with("iso-8859-") || name.starts_with("iso8859-") || name.starts_with("latin");
    if name == "utf-8" || name == "utf8" {
        return Ok(String::from_utf8_lossy(bytes));
    }
    if latin {
        return Ok(Cow::Owned(bytes.iter().map(|&b| char::from(b)).collect()));
    }
    let ascii_compatible = matches!(
        name.as_str(),
        "us-ascii"
            | "ascii"
            | "koi8-r"
            | "koi8-u"
            | "big5"
            | "gb2312"
            | "gbk"
            | "euc-jp"
            | "euc-kr"
            | "shift_jis"
            | "shift-jis"
            | "sjis"
            | "iso-2022-jp"
            | "iso-2022-kr"
    ) || name.starts_with("windows-125")
        || name.starts_with("cp125");
    if !ascii_compatible {
        return Err(UNREADABLE);
    }
    // Bytes above 0x7F become U+FFFD: none of them is a line break in these
    // charsets, and every ASCII byte keeps its meaning, except ESC in
    // ISO-2022, which only switches character sets.
    let shift = name.starts_with("iso-2022-");
    let read = |b: u8| if b.is_ascii() && !(shift && b == 0x1B) { char::from(b) } else { '\u{FFFD}' };
    Ok(Cow::Owned(bytes.iter().map(|&b| read(b)).collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_encodings_decode_the_way_python_email_does() {
        for (word, text) in [
            ("=?utf-8?q?hi=0D=0ABcc=3A_attacker=40evil.example?=", "hi\r\nBcc: attacker@evil.example"),
            ("=?UTF-8?B?aGkNCkJjYzogYXR0YWNrZXJAZXZpbC5leGFtcGxl?=", "hi\r\nBcc: attacker@evil.example"),
            ("=?utf-8?b?YQpCY2M6IHhAZXZpbC5leGFtcGxl?=", "a\nBcc: x@evil.example"),
            ("x=?utf-8*en?Q?=0a?=y", "x\ny"),
            ("=?iso-8859-1?q?a=85b?=", "a\u{85}b"),
            ("=?utf-8?q?Zo=C3=AB?= =?utf-8?q?_=C3=85?=", "Zoë  Å"),
        ] {
            assert_eq!(decode_once(word).unwrap().as_deref(), Some(text), "{word}");
        }
    }

    #[test]
    fn charsets_that_hide_line_breaks_from_a_byte_scan_are_refused() {
        for word in ["=?utf-7?q?a+AA0ACg-?=", "=?utf-16?b?AGEADQAK?=", "=?x-unknown?q?a?="] {
            assert_eq!(decode_once(word), Err(UNREADABLE), "{word}");
        }
    }

    #[test]
    fn text_without_encoded_words_is_left_alone() {
        assert_eq!(decode_once("Re: =? not a word ?"), Ok(None));
    }
}
