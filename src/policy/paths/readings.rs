//! Every way a server behind the gateway may read a path argument, and the
//! forms no reading may take.
//!
//! What must stay true:
//! - A value is read as written and after each round of percent-decoding
//!   (`decode::stages`), and also in the forms Unicode-aware code turns it
//!   into: NFKC (fullwidth `．．／`, the dot leaders `․` and `‥`, `℅` → `c/o`),
//!   without invisible characters (zero-width spaces and joiners, bidi
//!   controls, variation selectors: Default_Ignorable_Code_Point) and folded
//!   (NFKD, invisible characters and combining marks dropped, then NFKC).
//!   Each new form is percent-decoded in turn (`％２ｅ` is `%2e`, then `.`)
//!   until nothing new appears. The guard checks every reading, so a path
//!   passes only if whichever reading a server picks passes.
//! - Whitespace trimmed off the whole value (`str.strip()`) is not a reading:
//!   a first name of only spaces (` /etc/passwd`) would then be absolute, and
//!   such names are accepted inside the root. `paths::parse` refuses a name
//!   that is `..` once trimmed (` ..`), which is what trimming turns into an
//!   escape otherwise.
//! - Any reading containing a `%uXXXX` escape is refused: IIS and
//!   JavaScript's `unescape` decode it and every other decoder keeps it, so
//!   there is no single reading to check.
//! - Any reading starting with a URI scheme (`file:///etc/passwd`,
//!   `http://...`) is refused: URL-aware code opens what the URL names, and a
//!   one-letter scheme is a Windows drive, which `parse` refuses.
//! - NUL and other control characters, U+2028 and U+2029, and readings over
//!   PATH_MAX are refused; so is a value with more than [`MAX_READINGS`]
//!   distinct readings, rather than checking some of them.

use std::borrow::Cow;

use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

use crate::policy::decode;

/// Longer readings are refused outright (Linux PATH_MAX).
const MAX_PATH_BYTES: usize = 4096;

/// Far more than any real path has (a non-ASCII name that is also
/// percent-encoded has about a dozen); past it the value is refused.
pub(super) const MAX_READINGS: usize = 32;

/// One reading of a path argument.
pub(super) struct Reading<'a> {
    pub(super) text: Cow<'a, str>,
    /// Which Unicode-aware server reads it this way; `None` for the value as
    /// written and its percent-decodings.
    pub(super) how: Option<&'static str>,
}

impl Reading<'_> {
    /// Appended to a refusal, so the operator sees which reading failed.
    pub(super) fn context(&self) -> String {
        context(self.how)
    }
}

fn context(how: Option<&str>) -> String {
    how.map_or_else(String::new, |how| format!(" when read {how}"))
}

const NFKC: &str = "as NFKC-normalised Unicode";
const INVISIBLE: &str = "without its invisible characters";
const FOLDED: &str = "without its invisible characters and combining marks";

/// Every distinct reading of `value`, the value as written first, or why one
/// of them is refused.
pub(super) fn readings(value: &str) -> Result<Vec<Reading<'_>>, String> {
    let mut out = Vec::new();
    for stage in decode::stages(value).map_err(|e| e.describe().to_string())? {
        push(&mut out, stage, None)?;
    }
    // `out` grows while it is walked: forms of forms are read too.
    let mut next = 0;
    while next < out.len() {
        let parent = out[next].how;
        let forms = unicode_forms(&out[next].text);
        next += 1;
        for (form, how) in forms {
            if out.iter().any(|r| r.text == form) {
                continue;
            }
            let stages: Vec<String> = decode::stages(&form)
                .map_err(|e| format!("{}{}", e.describe(), context(Some(how))))?
                .into_iter()
                .map(Cow::into_owned)
                .collect();
            for stage in stages {
                push(&mut out, Cow::Owned(stage), Some(parent.unwrap_or(how)))?;
            }
        }
    }
    Ok(out)
}

/// Adds a reading unless it is already there, refusing the forms no reading may take.
fn push<'a>(out: &mut Vec<Reading<'a>>, text: Cow<'a, str>, how: Option<&'static str>) -> Result<(), String> {
    if out.iter().any(|r| r.text == text) {
        return Ok(());
    }
    let reading = Reading { text, how };
    refuse_forms(&reading.text).map_err(|why| format!("{why}{}", reading.context()))?;
    if out.len() == MAX_READINGS {
        return Err("has too many distinct readings (percent-encodings and Unicode forms) to check".into());
    }
    out.push(reading);
    Ok(())
}

fn refuse_forms(text: &str) -> Result<(), &'static str> {
    if text.len() > MAX_PATH_BYTES {
        return Err("is too long");
    }
    if text.chars().any(|c| c.is_control() || matches!(c, '\u{2028}' | '\u{2029}')) {
        return Err("contains a NUL or control character");
    }
    if has_percent_u_escape(text) {
        return Err("contains a %u escape, which some servers decode and others do not");
    }
    if starts_with_uri_scheme(text) {
        return Err("starts with a URI scheme, which URL-aware servers open as a URL");
    }
    Ok(())
}

/// `%uXXXX` (IIS, JavaScript `unescape`), in either case.
fn has_percent_u_escape(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.windows(6).any(|w| w[0] == b'%' && matches!(w[1], b'u' | b'U') && w[2..].iter().all(u8::is_ascii_hexdigit))
}

/// RFC 3986 `scheme ":"` of two or more characters, after the leading
/// whitespace that WHATWG URL and Python's `urlsplit` skip.
fn starts_with_uri_scheme(text: &str) -> bool {
    let text = text.trim_start_matches(is_trimmed);
    let Some(colon) = text.find(':') else { return false };
    let scheme = &text.as_bytes()[..colon];
    scheme.len() >= 2
        && scheme[0].is_ascii_alphabetic()
        && scheme.iter().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
}

/// What `str.strip()`, `String.prototype.trim()` and URL parsers skip.
pub(super) fn is_trimmed(c: char) -> bool {
    c.is_whitespace() || c == '\u{feff}'
}

/// The forms of one reading that Unicode-aware code produces, each with who
/// reads it that way; only those that differ from `text`. ASCII has none.
fn unicode_forms(text: &str) -> Vec<(String, &'static str)> {
    let mut forms: Vec<(String, &'static str)> = Vec::new();
    if text.is_ascii() {
        return forms;
    }
    let nfkc: String = text.nfkc().collect();
    let visible: String = text.chars().filter(|&c| !is_default_ignorable(c)).collect();
    let folded: String =
        text.nfkd().filter(|&c| !is_default_ignorable(c) && !is_combining_mark(c)).collect::<String>().nfkc().collect();
    for (form, how) in [(nfkc, NFKC), (visible, INVISIBLE), (folded, FOLDED)] {
        if form != text && !forms.iter().any(|(f, _)| *f == form) {
            forms.push((form, how));
        }
    }
    forms
}

/// Unicode's Default_Ignorable_Code_Point: characters that render as nothing,
/// which sanitizers, NFKC_Casefold and IDNA mapping delete.
fn is_default_ignorable(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{034F}'
            | '\u{061C}'
            | '\u{115F}'..='\u{1160}'
            | '\u{17B4}'..='\u{17B5}'
            | '\u{180B}'..='\u{180F}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}'
            | '\u{3164}'
            | '\u{FE00}'..='\u{FE0F}'
            | '\u{FEFF}'
            | '\u{FFA0}'
            | '\u{FFF0}'..='\u{FFF8}'
            | '\u{1BCA0}'..='\u{1BCA3}'
            | '\u{1D173}'..='\u{1D17A}'
            | '\u{E0000}'..='\u{E0FFF}'
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(value: &str) -> Vec<String> {
        readings(value).unwrap().into_iter().map(|r| r.text.into_owned()).collect()
    }

    #[test]
    fn a_plain_ascii_path_has_one_reading_and_allocates_none() {
        let r = readings("src/main.rs").unwrap();
        assert_eq!(r.len(), 1);
        assert!(matches!(r[0].text, Cow::Borrowed(_)));
    }

    #[test]
    fn fullwidth_dots_and_slashes_are_also_read_as_ascii() {
        assert!(texts("．．／．．／etc/passwd").contains(&"../../etc/passwd".to_string()));
        assert!(texts("a／..／..").contains(&"a/../..".to_string()));
        assert!(texts("‥/‥/etc").contains(&"../../etc".to_string()));
        assert!(texts("․․/x").contains(&"../x".to_string()));
    }

    #[test]
    fn a_fullwidth_percent_escape_is_decoded_after_normalising() {
        assert!(texts("％２ｅ％２ｅ/x").contains(&"../x".to_string()));
    }

    #[test]
    fn invisible_characters_and_combining_marks_are_dropped_in_one_reading() {
        assert!(texts("\u{200B}../x").contains(&"../x".to_string()));
        assert!(texts(".\u{2060}./x").contains(&"../x".to_string()));
        assert!(texts(".\u{0301}.\u{0338}/x").contains(&"../x".to_string()));
    }

    #[test]
    fn percent_u_escapes_are_refused_in_every_reading() {
        for value in ["%u002e%u002e/etc", "%U002E", "%25u002e", "％ｕ００２ｅ"] {
            assert!(readings(value).is_err(), "{value}");
        }
        assert!(readings("%use/it").is_ok());
    }

    #[test]
    fn a_value_with_more_readings_than_the_cap_is_refused_not_partly_checked() {
        // Found by search: nested encodings of fullwidth dots and of a
        // zero-width space give 62 distinct readings.
        let value = "%EF%BC%8E%25EF%25BC%258E%25E2%2580%258B\u{301}\u{200b}％２５%E2%80%8B２ｅ";
        let err = readings(value).err().expect("refused");
        assert!(err.contains("too many distinct readings"), "{err}");
    }

    #[test]
    fn a_leading_uri_scheme_is_refused_in_every_reading() {
        for value in
            ["file:///etc/passwd", "FILE:/etc/passwd", "http://x/y", " file:///x", "file%3a///x", "ｆｉｌｅ:///x"]
        {
            assert!(readings(value).is_err(), "{value}");
        }
        for value in ["C:/drive-is-parse's-job", "notes/a:b.txt", "a b:c"] {
            assert!(readings(value).is_ok(), "{value}");
        }
    }
}
