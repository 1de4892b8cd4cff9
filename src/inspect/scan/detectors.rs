//! The detectors: phrase rules compiled once into one `RegexSet`, and the
//! character checks that a regex cannot express well. Rules read ASCII
//! lower-cased visible text, so byte offsets stay valid for evidence.

use std::sync::LazyLock;

use regex::bytes::{Regex, RegexBuilder, RegexSet, RegexSetBuilder};

use super::chars::{self, Hidden};
use super::rules::{gated_rule_table, rule_table, CONTEXT_DATA, SECRET_WORDS, SENSITIVE};
use super::{Finding, Namespace, Severity};

use Severity::{High, Low, Medium};

/// Evidence longer than this is cut: a report line must stay readable.
const EVIDENCE_MAX: usize = 160;
/// A run of blanks this long pushes what follows out of a viewer's window.
const BLANK_RUN: usize = 40;
/// This many empty lines in a row scroll what follows out of view.
const EMPTY_LINES: usize = 8;
/// Longer descriptions are unusual; far longer ones hide their tail.
const LONG_TEXT: usize = 3000;
const VERY_LONG_TEXT: usize = 10_000;
/// More invisible characters than this is a payload, not a stray paste.
const INVISIBLE_PAYLOAD: usize = 8;

struct Rule {
    detector: &'static str,
    severity: Severity,
    regex: Regex,
}

pub(super) struct Scanner {
    set: RegexSet,
    rules: Vec<Rule>,
    /// Rules run alone, each when one of its words is in the text.
    gated: Vec<(Rule, Vec<Vec<memchr::memmem::Finder<'static>>>)>,
    /// Words without which a parameter name cannot be a request.
    name_cues: Regex,
    url: Regex,
    email: Regex,
    escape: Regex,
    shadow_context: Regex,
    param_asks: Regex,
    context_data: Regex,
    asks_verb: Regex,
    secret_content: Regex,
    base64_run: regex::Regex,
    name_asks: Regex,
    harmful_any: usize,
}

pub(super) static SCANNER: LazyLock<Scanner> = LazyLock::new(Scanner::new);

/// Rules match bytes of ASCII-lower-cased text with Unicode classes off:
/// `\b`, `\s` and `[^.\n]{0,80}` then stay small enough for the lazy DFA
/// to run the whole set in one pass (Unicode classes made it ~20x slower).
fn compile(pattern: &str) -> Regex {
    RegexBuilder::new(pattern).unicode(false).build().expect("scanner pattern compiles")
}

impl Scanner {
    fn new() -> Scanner {
        let table = rule_table();
        let harmful_any = table.iter().position(|(d, _, _)| *d == "harmful_capability").expect("harmful rule");
        let set = RegexSetBuilder::new(table.iter().map(|(_, _, p)| p))
            .unicode(false)
            .dfa_size_limit(16 << 20)
            .build()
            .expect("scanner rules compile");
        let rules =
            table.into_iter().map(|(detector, severity, p)| Rule { detector, severity, regex: compile(&p) }).collect();
        let gated = gated_rule_table()
            .into_iter()
            .map(|(detector, severity, gates, p)| {
                let finders = gates
                    .iter()
                    .map(|group| group.iter().map(|g| memchr::memmem::Finder::new(g.as_bytes())).collect())
                    .collect();
                (Rule { detector, severity, regex: compile(&p) }, finders)
            })
            .collect();
        let re = compile;
        Scanner {
            set,
            rules,
            gated,
            name_cues: RegexBuilder::new(
                "content|paste|text|value|copy|output|llm|model|assistant|history|message|conversation|turn|transcript|instruction|prompt",
            )
            .case_insensitive(true)
            .unicode(false)
            .build()
            .expect("name cues compile"),
            url: re(r#"\b(https?|ftp|wss?)://[^\s'"<>)\]`]+"#),
            email: re(r"\b[a-z0-9._%+-]+@[a-z0-9-]+(\.[a-z0-9-]+)*\.[a-z]{2,}\b"),
            // Sequences that move the cursor, erase or conceal can rewrite what a terminal shows.
            escape: compile(r"\x1b\[[0-9;?]*[ABCDEFGHJKSTfsu]|\x1b\[[0-9;]*8m|\x1b\[[0-9;]*[JK]|\x1b\]|\xc2[\x9b\x9d]"),
            shadow_context: re(
                r"\b(when|whenever|before|after|instead|also|must|always|never|bcc|cc|redirect|replace|override|change|modify|forward|send\s+all|first)\b",
            ),
            param_asks: re(&format!(
                r"({CONTEXT_DATA}|\b(contents?\s+of|full\s+(text|content|path)|file\s+contents?|everything|all\s+(files|data|information|text)|environment\s+variables|what\s+the\s+user\s+(said|asked|wrote)|user'?s?\s+(message|query|request|prompt)s?\b)|\b{SECRET_WORDS})"
            )),
            context_data: re(CONTEXT_DATA),
            asks_verb: re(
                r"\b(include|pass|provide|paste|put|insert|add|append|attach|copy|enter|give|supply|fill|send|forward|summari[sz]e|repeat|describe|record|dump)\b",
            ),
            secret_content: re(&format!(r"\b(contents?|paste|text|value|copy|output)\b[^.\n]{{0,40}}{SENSITIVE}")),
            // What a parameter name may not ask for; unlike descriptions, not
            // "system prompt": tools that drive a model take one as input.
            name_asks: re(
                r"\b(llm|ai\s+model|your\s+model|assistant)\s+(name|identity|version|vendor|provider)\b|\b(conversation|chat|message)\s+history\b|\b(previous|prior|earlier)\s+(messages|conversation|turns)\b|\b(full|entire|whole)\s+(conversation|transcript)\b|\byour\s+(instructions|system\s+(prompt|message))\b",
            ),
            base64_run: regex::Regex::new(r"[A-Za-z0-9+/]{32,}={0,2}").expect("base64 run compiles"),
            harmful_any,
        }
    }
}

/// Who is being scanned: the namespace for shadowing and the tool's own name,
/// which a tool may mention freely.
pub(super) struct Subject<'a> {
    pub namespace: &'a Namespace,
    pub own_name: Option<&'a str>,
    /// The tool's input schema, whose parameter names are read only when a
    /// phrase that might name one matched.
    pub own_schema: Option<&'a serde_json::Value>,
    pub own_params: std::cell::OnceCell<Vec<String>>,
}

impl Subject<'_> {
    fn own_params(&self) -> &[String] {
        self.own_params.get_or_init(|| self.own_schema.map(super::parameter_names).unwrap_or_default())
    }
}

fn finding(detector: &'static str, field: &str, evidence: String, severity: Severity) -> Finding {
    Finding { detector, field: field.to_string(), evidence, severity }
}

fn is_placeholder_address(text: &str) -> bool {
    ["example.", "localhost", "127.0.0.1", "your-", "yourdomain", "@domain.", "domain.com", "company.com", "test.com"]
        .iter()
        .any(|p| text.contains(p))
}

/// Every detector over one string of a definition or a server text.
pub(super) fn scan_field(field: &str, text: &str, subject: &Subject<'_>, out: &mut Vec<Finding>) {
    scan_characters(field, text, out);
    let visible = chars::visible_text(text);
    scan_phrases(field, &visible, "", subject, out);
    let smuggled = chars::decode_tags(text);
    if !smuggled.trim().is_empty() {
        scan_phrases(field, &smuggled, "tag-decoded: ", subject, out);
    }
    scan_base64(field, text, subject, out);
}

/// Prose hidden as base64 is invisible to the person reviewing a definition
/// and plain to a model that decodes it (mcp-scan's evasion examples): such
/// a run is itself hidden text, and what it says is scanned like the rest.
fn scan_base64(field: &str, text: &str, subject: &Subject<'_>, out: &mut Vec<Finding>) {
    use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
    use base64::engine::DecodePaddingMode;
    use base64::Engine;
    const LENIENT: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    if text.len() < 32 {
        return;
    }
    for run in SCANNER.base64_run.find_iter(text) {
        let Ok(bytes) = LENIENT.decode(run.as_str().trim_end_matches('=')) else { continue };
        let Ok(decoded) = String::from_utf8(bytes) else { continue };
        if !reads_as_prose(&decoded) {
            continue;
        }
        let evidence = format!("base64 text: {}", chars::excerpt(&decoded, 0, 0, 120));
        out.push(finding("hidden_text", field, evidence, Medium));
        scan_phrases(field, &chars::visible_text(&decoded), "base64-decoded: ", subject, out);
    }
}

/// Words a model would read, not the bytes of an image or a key.
fn reads_as_prose(decoded: &str) -> bool {
    let total = decoded.chars().count();
    let printable = decoded.chars().filter(|c| !c.is_control() || matches!(c, '\n' | '\t' | '\r')).count();
    let spaces = decoded.chars().filter(|c| *c == ' ').count();
    let letters = decoded.chars().filter(|c| c.is_alphabetic()).count();
    total >= 16 && printable * 100 >= total * 97 && spaces >= 2 && letters * 2 >= total
}

/// A tool's name read for capability words: `exfil_dns_tunnel` as words.
pub(super) fn scan_name_words(field: &str, name: &str, out: &mut Vec<Finding>) {
    let scanner = &*SCANNER;
    let words = name_words(name);
    let rule = &scanner.rules[scanner.harmful_any];
    if let Some(m) = rule.regex.find(words.as_bytes()) {
        out.push(finding(
            rule.detector,
            field,
            chars::excerpt(&words, m.start(), m.end(), EVIDENCE_MAX),
            rule.severity,
        ));
    }
}

/// An identifier read as the words it spells, lower case: `sendEmail_now`
/// is "send email now", and `contents_of_slash_etc_slash_passwd` reads
/// "contents of /etc/passwd", as a model reading the schema would take it.
fn name_words(name: &str) -> String {
    let mut spaced = String::with_capacity(name.len() + 6);
    spaced.push(' ');
    let mut prev_lower = false;
    for c in name.chars() {
        if c.is_ascii_uppercase() && prev_lower {
            spaced.push(' ');
        }
        prev_lower = c.is_ascii_lowercase();
        spaced.push(if c == '_' || c == '-' || c == '.' { ' ' } else { c.to_ascii_lowercase() });
    }
    spaced.push(' ');
    let spelled = [" slash ", " dot ", " tilde "].iter().any(|w| spaced.contains(w));
    let read = if spelled {
        spaced.replace(" slash ", "/").replace("/dot ", "/.").replace(" dot ", " .").replace(" tilde", " ~")
    } else {
        spaced
    };
    read.trim().to_string()
}

fn scan_phrases(field: &str, visible: &str, prefix: &str, subject: &Subject<'_>, out: &mut Vec<Finding>) {
    let scanner = &*SCANNER;
    let lower = visible.to_ascii_lowercase();
    let evidence = |start: usize, end: usize| format!("{prefix}{}", chars::excerpt(visible, start, end, EVIDENCE_MAX));
    let set_rules = scanner.set.matches(lower.as_bytes()).into_iter().map(|index| &scanner.rules[index]);
    let gated_rules = scanner
        .gated
        .iter()
        .filter(|(_, gates)| gates.iter().all(|group| group.iter().any(|g| g.find(lower.as_bytes()).is_some())))
        .map(|(rule, _)| rule);
    for rule in set_rules.chain(gated_rules) {
        let Some(m) = rule.regex.find(lower.as_bytes()) else { continue };
        if rule.detector == "exfiltration" && is_placeholder_address(&String::from_utf8_lossy(m.as_bytes())) {
            continue;
        }
        if rule.detector == "shadowing" && names_only_itself(m.as_bytes(), subject) {
            continue;
        }
        if rule.detector == "instruction" && routes_to_own_parameter(m.as_bytes(), subject) {
            continue;
        }
        out.push(finding(rule.detector, field, evidence(m.start(), m.end()), rule.severity));
    }
    if lower.contains("://") {
        for m in scanner.url.find_iter(lower.as_bytes()) {
            if !is_placeholder_address(&String::from_utf8_lossy(m.as_bytes())) {
                out.push(finding("exfiltration", field, evidence(m.start(), m.end()), Low));
                break;
            }
        }
    }
    if lower.contains('@') {
        for m in scanner.email.find_iter(lower.as_bytes()) {
            if !is_placeholder_address(&String::from_utf8_lossy(m.as_bytes())) {
                out.push(finding("exfiltration", field, evidence(m.start(), m.end()), Low));
                break;
            }
        }
    }
    if let Some(matcher) = &subject.namespace.matcher {
        for m in matcher.find_iter(&lower) {
            if subject.own_name.is_some_and(|own| own.eq_ignore_ascii_case(m.as_str())) {
                continue;
            }
            let from = chars_back(&lower, m.start(), 80);
            let to = chars_forward(&lower, m.end(), 80);
            let severity = if scanner.shadow_context.is_match(&lower.as_bytes()[from..to]) { High } else { Medium };
            out.push(finding("shadowing", field, evidence(m.start(), m.end()), severity));
            break;
        }
    }
}

/// A shadowing phrase whose identifiers are all the tool's own name or its
/// own parameters ("ignored when 'file_path' is used") points at nothing
/// outside the tool.
fn names_only_itself(matched: &[u8], subject: &Subject<'_>) -> bool {
    let mut idents = matched
        .split(|b| !(b.is_ascii_alphanumeric() || *b == b'_' || *b == b'-'))
        .filter(|w| w.iter().any(|b| *b == b'_' || *b == b'-') && w.iter().any(u8::is_ascii_alphanumeric))
        .peekable();
    idents.peek().is_some()
        && idents.all(|w| {
            subject.own_params().iter().any(|p| p.as_bytes() == w)
                || subject.own_name.is_some_and(|own| own.as_bytes().eq_ignore_ascii_case(w))
        })
}

fn chars_back(text: &str, mut i: usize, n: usize) -> usize {
    i = i.saturating_sub(n);
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn chars_forward(text: &str, mut i: usize, n: usize) -> usize {
    i = (i + n).min(text.len());
    while !text.is_char_boundary(i) {
        i += 1;
    }
    i
}

/// Invisible characters, controls, terminal escapes, and blank runs.
fn scan_characters(field: &str, text: &str, out: &mut Vec<Finding>) {
    let length = text.chars().count();
    if length > VERY_LONG_TEXT {
        out.push(finding("hidden_text", field, format!("{length} characters of text"), Medium));
    } else if length > LONG_TEXT {
        out.push(finding("hidden_text", field, format!("{length} characters of text"), Low));
    }
    if text.is_ascii() && !text.bytes().any(|b| b.is_ascii_control() && !matches!(b, b'\t' | b'\n' | b'\r')) {
        scan_blank_runs(field, text, out);
        return;
    }
    let mut tags = 0usize;
    let mut others = 0usize;
    let mut bidi = false;
    let mut first: Option<usize> = None;
    let mut controls = 0usize;
    let mut first_control: Option<usize> = None;
    let mut prev: Option<char> = None;
    let mut iter = text.char_indices().peekable();
    while let Some((i, c)) = iter.next() {
        let next = iter.peek().map(|&(_, n)| n);
        match chars::hidden_kind(c) {
            Some(Hidden::Tag) => {
                tags += 1;
                first.get_or_insert(i);
            }
            Some(kind) if !chars::is_legitimate_joiner(prev, c, next) => {
                others += 1;
                bidi |= kind == Hidden::Bidi;
                first.get_or_insert(i);
            }
            _ => {}
        }
        if chars::is_control(c) {
            controls += 1;
            first_control.get_or_insert(i);
        }
        prev = Some(c);
    }
    if let Some(at) = first {
        let decoded = chars::decode_tags(text);
        let severity = if tags > 0 || others > INVISIBLE_PAYLOAD { High } else { Medium };
        let mut evidence = format!("{} invisible character(s)", tags + others);
        if bidi {
            evidence.push_str(" incl. bidi controls");
        }
        if decoded.trim().is_empty() {
            evidence.push_str(": ");
            evidence.push_str(&chars::excerpt(text, at, at + 1, 120));
        } else {
            evidence.push_str(", tag characters spell: ");
            evidence.push_str(&chars::excerpt(&decoded, 0, 0, 120));
        }
        out.push(finding("invisible_chars", field, evidence, severity));
    }
    if let Some(at) = first_control {
        let escapes = SCANNER.escape.is_match(text.as_bytes());
        let severity = if escapes { High } else { Medium };
        let what = if escapes { "terminal escape sequence" } else { "control character(s)" };
        let evidence = format!("{controls} {what}: {}", chars::excerpt(text, at, at + 1, 120));
        out.push(finding("terminal_escape", field, evidence, severity));
    }
    scan_blank_runs(field, text, out);
}

fn scan_blank_runs(field: &str, text: &str, out: &mut Vec<Finding>) {
    if text.is_ascii() && !text.contains("        ") && !text.contains("\n\n") {
        return;
    }
    let mut blanks = 0usize;
    let mut empty_lines = 0usize;
    let mut line_has_text = false;
    for (i, c) in text.char_indices() {
        if chars::is_blank(c) {
            blanks += 1;
            continue;
        }
        if c == '\n' {
            if !line_has_text {
                empty_lines += 1;
            }
            line_has_text = false;
        } else if c != '\r' {
            line_has_text = true;
            empty_lines = 0;
        }
        if blanks >= BLANK_RUN || empty_lines >= EMPTY_LINES {
            let what = if blanks >= BLANK_RUN {
                format!("{blanks} blank characters in a row, then: ")
            } else {
                format!("{empty_lines} empty lines, then: ")
            };
            let rest = text[i..].trim_start();
            let start = text.len() - rest.len();
            let shown = chars::excerpt(text, start, start, 120);
            out.push(finding("hidden_text", field, format!("{what}{shown}"), Medium));
            return;
        }
        blanks = 0;
    }
}

/// Parameters such as `sidenote` or `context` exist in attacks to carry data
/// out; they give themselves away when they ask for what the tool has no use for.
pub(super) fn scan_parameter(path: &str, name: &str, description: &str, out: &mut Vec<Finding>) {
    let scanner = &*SCANNER;
    let folded: String = name.chars().filter(|c| c.is_ascii_alphanumeric()).collect::<String>().to_ascii_lowercase();
    let channel = is_channel_name(&folded);
    if scan_parameter_name(path, name, out) {
        return;
    }
    let visible = chars::visible_text(description);
    let lower = visible.to_ascii_lowercase();
    let Some(m) = scanner.param_asks.find(lower.as_bytes()) else {
        if channel && folded == "sidenote" {
            out.push(finding("exfiltration", path, format!("parameter `{name}`, a common exfiltration channel"), Low));
        }
        return;
    };
    let secret = scanner.secret_content.is_match(lower.as_bytes());
    let severity = if channel || secret {
        High
    } else if scanner.context_data.is_match(m.as_bytes()) && asks_for(&lower, m.start()) {
        Medium
    } else {
        return;
    };
    let shown = chars::excerpt(&visible, m.start(), m.end(), EVIDENCE_MAX);
    out.push(finding("exfiltration", path, format!("parameter `{name}` asks for: {shown}"), severity));
}

/// Whether the description asks the model for what it names at `at` ("the
/// full conversation", "include the previous messages") rather than telling
/// what the tool does with it ("when omitted, returns all messages").
fn asks_for(lower: &str, at: usize) -> bool {
    let sentence = lower[..at].rfind(['.', '\n', ':', ';']).map_or(0, |i| i + 1);
    let before = lower[sentence..at].trim_start();
    let leading = before.trim_end().trim_start_matches("the ").trim_start_matches("a ");
    leading.is_empty() || leading == "your" || SCANNER.asks_verb.is_match(before.as_bytes())
}

/// Parameter names (alphanumerics, lower-cased) that attacks use to carry
/// data out: a description there that asks for content is a channel.
fn is_channel_name(folded: &str) -> bool {
    matches!(
        folded,
        "sidenote"
            | "note"
            | "notes"
            | "context"
            | "feedback"
            | "extra"
            | "extrainfo"
            | "metadata"
            | "debug"
            | "debuginfo"
            | "comment"
            | "comments"
            | "remarks"
            | "memo"
            | "annotation"
            | "hint"
            | "additionalcontext"
            | "additionalinfo"
            | "additionalnotes"
            | "sessioninfo"
            | "details"
            | "reasoning"
            | "summary"
            | "telemetry"
            | "diagnostics"
            | "analytics"
    )
}

/// "Pass a markdown string as 'content'" documents the tool's own
/// `content` parameter; the same order naming `sidenote`, a parameter the
/// tool does not have, or asking for the conversation or a secret, is how
/// poisoned descriptions route data out.
fn routes_to_own_parameter(matched: &[u8], subject: &Subject<'_>) -> bool {
    let words: Vec<&[u8]> =
        matched.split(|b| !(b.is_ascii_alphanumeric() || *b == b'_' || *b == b'-')).filter(|w| !w.is_empty()).collect();
    let target = match words.as_slice() {
        [.., name, b"parameter" | b"param" | b"argument" | b"arg" | b"field"] => name,
        [.., name] if matched.windows(4).any(|w| w == b" as ") => name,
        _ => return false,
    };
    let folded: String =
        target.iter().filter(|b| b.is_ascii_alphanumeric()).map(|b| b.to_ascii_lowercase() as char).collect();
    !is_channel_name(&folded)
        && subject.own_params().iter().any(|p| p.as_bytes() == *target)
        && !SCANNER.param_asks.is_match(matched)
}

/// A parameter whose name is itself the request: `llm_name`,
/// `conversation_history`, `contents_of_slash_etc_slash_passwd` (full-schema
/// poisoning puts the order where only the model reads it).
fn scan_parameter_name(path: &str, name: &str, out: &mut Vec<Finding>) -> bool {
    let scanner = &*SCANNER;
    // A request takes words; most parameters are one (`path`, `query`).
    let several = name.contains(['_', '-', '.'])
        || name.as_bytes().windows(2).any(|w| w[0].is_ascii_lowercase() && w[1].is_ascii_uppercase());
    if !several || !scanner.name_cues.is_match(name.as_bytes()) {
        return false;
    }
    let words = name_words(name);
    let severity = if scanner.secret_content.is_match(words.as_bytes()) {
        High
    } else if scanner.name_asks.is_match(words.as_bytes()) {
        Medium
    } else {
        return false;
    };
    out.push(finding("exfiltration", path, format!("parameter name asks for: {words}"), severity));
    true
}
