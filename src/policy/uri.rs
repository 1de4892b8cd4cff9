//! The readings of a resource URI or a prompt name: the text as the client
//! sent it, and every other text a common server might turn it into before
//! looking it up (URL parsers' serialization, percent-decoding, NFKC, a
//! dropped fragment, query or trailing slash, collapsed slashes). `access`
//! decides each reading and refuses a name they disagree on; this file only
//! produces them, or says why no server should be handed the name at all.
//!
//! What must stay true: a name is refused outright, whatever the rules say,
//! when some reading holds a dot segment (`..` resolves differently, or not
//! at all, depending on the server), a control, format or invisible
//! character, a backslash, or bytes that are not UTF-8 once decoded; and
//! when a URI is not absolute or carries userinfo, which URL parsers split
//! differently. Readings are bounded in number, so a name cannot make the
//! engine do unbounded work.

use std::sync::LazyLock;

use regex::Regex;
use unicode_normalization::UnicodeNormalization;

use super::decode;

/// Longer URIs are refused: no resource needs more, and every reading of it
/// is matched against every rule.
pub(super) const MAX_URI_BYTES: usize = 8192;
/// Prompt names are identifiers; this is generous.
pub(super) const MAX_PROMPT_NAME_BYTES: usize = 1024;
/// A URI with more distinct readings than this is refused, not read further.
const MAX_READINGS: usize = 64;

/// Invisible characters: format controls (zero-width joiners, bidi
/// overrides, BOM) and the default-ignorable rest, which a server may drop
/// or keep, and which make two different names look alike to a person.
static INVISIBLE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"[\p{Cf}\p{Default_Ignorable_Code_Point}]").expect("the pattern compiles"));

/// One way of reading a name: `how` says which (empty for the name as sent).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Reading {
    pub(super) how: String,
    pub(super) text: String,
}

impl Reading {
    /// How to say this reading in a reason: "as sent", "percent-decoded", ...
    pub(super) fn describe(&self) -> &str {
        if self.how.is_empty() {
            "as sent"
        } else {
            &self.how
        }
    }
}

/// Why a name cannot be handed to any server: a clause completing
/// `resource "..." on server "..." is refused: `.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Unreadable(pub(super) String);

/// Every reading of a resource URI, the URI as sent first.
pub(super) fn resource_readings(raw: &str) -> Result<Vec<Reading>, Unreadable> {
    if raw.is_empty() {
        return Err(Unreadable("the URI is empty".into()));
    }
    if raw.len() > MAX_URI_BYTES {
        return Err(Unreadable(format!("the URI is longer than {MAX_URI_BYTES} bytes")));
    }
    check_characters(raw, "as sent", true)?;
    let parsed = url::Url::parse(raw).map_err(|e| {
        Unreadable(format!("it is not an absolute URI that URL parsers read alike ({e}); a scheme is required"))
    })?;
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(Unreadable("it carries userinfo (`user@`), which URL parsers split differently".into()));
    }
    let mut readings = vec![Reading { how: String::new(), text: raw.to_string() }];
    add(&mut readings, "", "as URL parsers serialize it", parsed.as_str().to_string());

    let mut next = 0;
    while next < readings.len() {
        let Reading { how, text } = readings[next].clone();
        check_characters(&text, readings[next].describe(), false)?;
        check_dot_segments(&text, readings[next].describe())?;
        if has_u_escape(&text) {
            return Err(Unreadable(format!(
                "read {}, it holds a `%u` escape, which some servers decode and others do not",
                readings[next].describe()
            )));
        }
        if text.contains('%') {
            // One round here; the loop decodes the result again, as a server might.
            let stages = decode::stages(&text)
                .map_err(|e| Unreadable(format!("read {}, it {}", readings[next].describe(), e.describe())))?;
            if let Some(once) = stages.get(1) {
                add(&mut readings, &how, "percent-decoded", once.to_string());
            }
        }
        add(&mut readings, &how, "NFKC-normalized", text.nfkc().collect());
        if let Some((before, _)) = text.split_once('#') {
            add(&mut readings, &how, "without its fragment", before.to_string());
        }
        if let Some((before, _)) = text.split_once('?') {
            add(&mut readings, &how, "without its query", before.to_string());
        }
        let trimmed = text.trim_end_matches('/');
        if trimmed.len() < text.len() && !trimmed.ends_with(':') {
            add(&mut readings, &how, "without its trailing slash", trimmed.to_string());
        }
        if let Some(collapsed) = collapse_slashes(&text) {
            add(&mut readings, &how, "with repeated slashes collapsed", collapsed);
        }
        if readings.len() > MAX_READINGS {
            return Err(Unreadable(format!("it can be read in more than {MAX_READINGS} ways")));
        }
        next += 1;
    }
    Ok(readings)
}

/// A resource template (RFC 6570) as the URI shape it stands for: each
/// `{expression}` becomes `*`, so a rule's glob that matches the shape
/// covers every URI the template can produce, whatever the values.
pub(super) fn template_shape(template: &str) -> Result<String, Unreadable> {
    let mut shape = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find(['{', '}']) {
        if rest.as_bytes()[open] == b'}' {
            return Err(Unreadable("the template has a `}` that closes nothing".into()));
        }
        shape.push_str(&rest[..open]);
        let close = rest[open..].find('}').ok_or_else(|| Unreadable("the template has an unclosed `{`".into()))?;
        shape.push('*');
        rest = &rest[open + close + 1..];
    }
    shape.push_str(rest);
    Ok(shape)
}

/// Every reading of a prompt name, the name as sent first. Servers look
/// prompts up by exact name; a name that NFKC or a space at either end
/// would change is still read both ways, or refused.
pub(super) fn prompt_readings(raw: &str) -> Result<Vec<Reading>, Unreadable> {
    if raw.is_empty() {
        return Err(Unreadable("the name is empty".into()));
    }
    if raw.len() > MAX_PROMPT_NAME_BYTES {
        return Err(Unreadable(format!("the name is longer than {MAX_PROMPT_NAME_BYTES} bytes")));
    }
    if raw.trim() != raw {
        return Err(Unreadable("the name begins or ends with white space".into()));
    }
    if let Some(c) = raw.chars().find(|&c| c != ' ' && c.is_whitespace()) {
        return Err(Unreadable(format!("the name holds the white space character U+{:04X}", c as u32)));
    }
    check_characters(raw, "as sent", false)?;
    let mut readings = vec![Reading { how: String::new(), text: raw.to_string() }];
    add(&mut readings, "", "NFKC-normalized", raw.nfkc().collect());
    Ok(readings)
}

/// Appends a reading unless its text is already read some other way.
fn add(readings: &mut Vec<Reading>, how_before: &str, step: &str, text: String) {
    if readings.iter().any(|r| r.text == text) {
        return;
    }
    let how = if how_before.is_empty() { step.to_string() } else { format!("{how_before}, then {step}") };
    readings.push(Reading { how, text });
}

/// Control and invisible characters and backslashes have no place in a URI
/// or a name. `as_sent` also refuses white space, which URL parsers strip,
/// encode or split on; a decoded reading may hold a plain space (`%20`).
fn check_characters(text: &str, how: &str, as_sent: bool) -> Result<(), Unreadable> {
    let bad = text.chars().find(|&c| {
        c.is_control()
            || c == '\\'
            || matches!(c, '\u{2028}' | '\u{2029}')
            || (as_sent && c.is_whitespace())
            || (!c.is_ascii() && INVISIBLE.is_match(c.encode_utf8(&mut [0; 4])))
    });
    match bad {
        None => Ok(()),
        Some('\\') => Err(Unreadable(format!("read {how}, it holds a backslash, which some servers take for `/`"))),
        Some(c) => Err(Unreadable(format!(
            "read {how}, it holds U+{:04X}, a control, white space or invisible character",
            c as u32
        ))),
    }
}

/// `.` and `..` segments (also as `..;param`, which Java servers strip to
/// `..`): one server resolves them, another passes them to a file system.
fn check_dot_segments(text: &str, how: &str) -> Result<(), Unreadable> {
    let dotted = text.split('/').any(|segment| matches!(segment.split(';').next(), Some("." | "..")));
    if dotted {
        return Err(Unreadable(format!("read {how}, it holds a `.` or `..` segment")));
    }
    Ok(())
}

/// `scheme://authority//a///b` with the path's runs of `/` made one.
fn collapse_slashes(text: &str) -> Option<String> {
    let after_scheme = text.find("://").map_or(0, |i| i + 3);
    let path_start = text[after_scheme..].find('/').map(|i| after_scheme + i)?;
    let path = &text[path_start..];
    if !path.contains("//") {
        return None;
    }
    let mut out = String::with_capacity(text.len());
    out.push_str(&text[..path_start]);
    let mut last_slash = false;
    for c in path.chars() {
        if c == '/' && last_slash {
            continue;
        }
        last_slash = c == '/';
        out.push(c);
    }
    Some(out)
}

/// `%uXXXX`, the legacy escape IIS-era servers decode.
fn has_u_escape(text: &str) -> bool {
    text.as_bytes()
        .windows(6)
        .any(|w| w[0] == b'%' && w[1].eq_ignore_ascii_case(&b'u') && w[2..].iter().all(u8::is_ascii_hexdigit))
}
