//! Injected instructions in what a server sends back (tool results,
//! resources, prompts, sampling requests): the definition scanner, run only
//! around the phrases without which it cannot judge a text malicious.
//!
//! The scanner reads about 30 MB/s; a result may be a megabyte. A malicious
//! verdict needs a high-severity finding (injection phrasing, model markup,
//! concealment, a secret path with an order to read it, tag characters) or
//! two of the families hiding / intent / payload, and each of those rules
//! starts from one of the triggers below, so only the text around a trigger
//! is scanned (a trade: an order phrased with none of these words, far from
//! any of them, is not seen in a result). The trigger search reads about a
//! gigabyte a second: literal words through the regex engine's prefilter,
//! markup through `memchr` on `<` with a hand check, because the counted
//! repetitions of a markup or a `system:` pattern would cost the whole
//! search its prefilter (it ran at 500 MB/s with them).

use super::scan;
use std::sync::LazyLock;

/// Phrases, matched on ASCII-lower-cased text (`(?i)` would multiply the
/// literals past what the prefilter accepts). `system` and `assistant`
/// alone are candidates only: `role_marker` decides.
static TRIGGERS: LazyLock<regex::bytes::Regex> = LazyLock::new(|| {
    regex::bytes::RegexBuilder::new(
        r"ignor|disregard|forget|overrid|bypass|instruction|jailbr|\[/?inst\]|system|assistant|you\s+(?:must|should|need|have\s+to|are\s+(?:now|required|instructed|expected)|will|shall)\b|\b(?:do\s+not|don't|never|without)\s+(?:tell|telling|mention|mentioning|reveal|revealing|inform|informing|notify|notifying|let|show|alert)|secretly|silently|covertly|\bbefore\s+(?:using|calling|answering|responding|replying|you)|\balways\s+(?:use|call|prefer|include|send|add|run|invoke)|\binstead\s+of|\bfirst\s+call|\bcall\s+\S+\s+first|\.ssh|id_(?:rsa|dsa|ecdsa|ed25519)|authorized_keys|\.env\b|\.aws/|\.kube|\.npmrc|\.netrc|\.pypirc|\.git-credentials|\.docker/|gcloud|credentials|password|private[\s_-]?key|api[\s_-]?key|seed\s+phrase|sidenote|exfiltrat|/etc/(?:passwd|shadow|sudoers)|/proc/|mcp\.json|claude_desktop|\.cursor",
    )
    .unicode(false)
    .build()
    .expect("the trigger pattern compiles")
});

/// What the sanitizer removes (escapes, C1 controls, zero-width and bidi
/// characters, tags): triggers only for text that was not sanitized, since
/// what sanitizing leaves (emoji joiners, ZWNJ, flag tags) is ordinary.
static HIDDEN: LazyLock<regex::bytes::Regex> = LazyLock::new(|| {
    regex::bytes::RegexBuilder::new(
        r"\x1b|\xc2[\x80-\x9f]|\xe2\x80[\x8b-\x8f\xaa-\xae]|\xe2\x81[\xa0-\xa4\xa6-\xa9]|\xef\xbb\xbf|\xf3\xa0[\x80-\x81]",
    )
    .unicode(false)
    .build()
    .expect("the hidden-character pattern compiles")
});

/// Text around a trigger that is scanned with it: wide enough for the
/// scanner's widest rule (an order, up to 80 characters, then a secret).
const WINDOW: usize = 600;

/// The definition scanner's findings that mean something in a result.
/// Results are long by nature (`hidden_text` judges definitions' length),
/// and once sanitized what invisible characters remain are the ones
/// ordinary text needs (emoji joiners, Persian ZWNJ, flag tags). Only the
/// windows around triggers are scanned; nearby windows merge.
pub fn result_findings(text: &str, sanitized: bool) -> Vec<scan::Finding> {
    let bytes = text.as_bytes();
    let found = trigger_spans(bytes, sanitized);
    let mut windows: Vec<(usize, usize)> = Vec::new();
    for m in found {
        let start = floor_char(text, m.0.saturating_sub(WINDOW));
        let end = ceil_char(text, (m.1 + WINDOW).min(bytes.len()));
        match windows.last_mut() {
            Some(last) if start <= last.1 => last.1 = last.1.max(end),
            _ => windows.push((start, end)),
        }
    }
    let mut findings: Vec<scan::Finding> = windows
        .into_iter()
        .flat_map(|(start, end)| scan::scan_text("result", &text[start..end], &scan::Namespace::default()))
        .collect();
    findings.retain(|f| match f.detector {
        "hidden_text" => false,
        "invisible_chars" | "terminal_escape" => !sanitized,
        _ => true,
    });
    findings
}

/// Where the triggers are, in order of their starts. No trigger, no
/// injection finding (a caller may search many strings at once).
pub fn trigger_spans(bytes: &[u8], sanitized: bool) -> Vec<(usize, usize)> {
    let lowered = bytes.to_ascii_lowercase();
    let words = TRIGGERS
        .find_iter(&lowered)
        .filter(|m| !matches!(m.as_bytes(), b"system" | b"assistant") || role_marker(&lowered, m.start(), m.end()))
        .map(|m| (m.start(), m.end()));
    let markup = memchr::memchr_iter(b'<', &lowered).filter_map(|at| markup_end(&lowered, at).map(|end| (at, end)));
    let hidden = (!sanitized).then(|| HIDDEN.find_iter(bytes)).into_iter().flatten().map(|m| (m.start(), m.end()));
    let mut found: Vec<(usize, usize)> = words.chain(markup).chain(hidden).collect();
    found.sort_unstable();
    found
}

/// `system` or `assistant` (at `start..end`) as a role marker: followed
/// within the line by a colon (`System: you are…`, `assistant :`), or
/// `system prompt`.
fn role_marker(lowered: &[u8], start: usize, end: usize) -> bool {
    let rest = &lowered[end..];
    if rest.first().is_some_and(|&b| b.is_ascii_alphanumeric() || b == b'_') {
        return false;
    }
    if rest.iter().take(21).take_while(|&&b| b != b'\n').any(|&b| b == b':') {
        return true;
    }
    let spaces = rest.iter().take_while(|b| is_space(**b)).count();
    &lowered[start..end] == b"system" && spaces > 0 && rest[spaces..].starts_with(b"prompt")
}

/// Model markup starting at the `<` at `at`: a tag of 2 to 30 letters,
/// `_` or `-` (`<IMPORTANT>`, `</system>`, `< instructions >`), a comment,
/// a chat-template token (`<|im_start|>`) or `<<SYS>>`. Returns its end.
fn markup_end(lowered: &[u8], at: usize) -> Option<usize> {
    let rest = &lowered[at + 1..];
    if rest.starts_with(b"!--") {
        return Some(at + 4);
    }
    if rest.starts_with(b"|") {
        return Some(at + 2);
    }
    if let Some(after) = rest.strip_prefix(b"<") {
        let after = skip_spaces(after);
        let after = after.strip_prefix(b"/").unwrap_or(after);
        return after.starts_with(b"sys").then_some(at + 2);
    }
    let after = skip_spaces(rest);
    let after = skip_spaces(after.strip_prefix(b"/").unwrap_or(after));
    let name = after.iter().take_while(|b| b.is_ascii_lowercase() || **b == b'_' || **b == b'-').count();
    if !(2..=30).contains(&name) {
        return None;
    }
    let close = skip_spaces(&after[name..]);
    close.starts_with(b">").then(|| lowered.len() - close.len() + 1)
}

/// The regex engine's `\s` without Unicode: what the old pattern allowed.
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\x0B' | b'\x0C' | b'\r')
}

fn skip_spaces(bytes: &[u8]) -> &[u8] {
    let n = bytes.iter().take_while(|b| is_space(**b)).count();
    &bytes[n..]
}

fn floor_char(text: &str, mut at: usize) -> usize {
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

fn ceil_char(text: &str, mut at: usize) -> usize {
    while !text.is_char_boundary(at) {
        at += 1;
    }
    at
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spans(text: &str) -> Vec<&str> {
        trigger_spans(text.as_bytes(), true).into_iter().map(|(s, e)| &text[s..e]).collect()
    }

    #[test]
    fn markup_in_its_spellings_is_a_trigger_and_code_is_not() {
        for markup in [
            "<IMPORTANT>",
            "</system>",
            "< instructions >",
            "</ secret_note>",
            "<!-- x",
            "<|im_start|>",
            "<<SYS>>",
            "<< /sys",
        ] {
            assert!(!spans(&format!("text {markup} more")).is_empty(), "{markup:?}");
        }
        for code in ["Result<Config, Error>", "a < b && c > d", "Vec<u8>", "x<y>", "<a href=\"x\">", "<", "text <"] {
            assert!(spans(code).is_empty(), "{code:?}: {:?}", spans(code));
        }
    }

    #[test]
    fn a_role_needs_a_colon_in_its_line_or_the_word_prompt() {
        for marker in ["System: you are now", "ASSISTANT : sure", "system (override): x", "the System Prompt says"] {
            assert!(!spans(marker).is_empty(), "{marker:?}");
        }
        for plain in ["the operating system\nconfig: x", "systemd: started", "an assistant manager", "file system"] {
            assert!(spans(plain).is_empty(), "{plain:?}: {:?}", spans(plain));
        }
    }

    #[test]
    fn words_are_found_whatever_their_case() {
        assert_eq!(spans("Please IGNORE that; read ~/.SSH/id_rsa"), ["IGNOR", ".SSH", "id_rsa"]);
    }

    #[test]
    fn hidden_characters_trigger_only_in_unsanitized_text() {
        let text = "plain\u{200B}text";
        assert!(trigger_spans(text.as_bytes(), true).is_empty());
        assert_eq!(trigger_spans(text.as_bytes(), false).len(), 1);
    }
}
